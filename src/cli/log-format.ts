import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'node', 'pid', 'hostname']);

/** One pino JSON record → one readable line: `12:00:01.234 INFO message key=value ...`. */
export function formatLogRecord(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof rec['time'] === 'string' ? rec['time'].slice(11, 23) : '';
  const level = LEVELS[Number(rec['level'])] ?? String(rec['level']);
  const extras = Object.entries(rec)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [time, level.padEnd(5), String(rec['msg'] ?? ''), ...extras].filter((s) => s !== '').join(' ');
}

/** A pino destination writing readable lines to stdout. */
export function prettyDestination(out: NodeJS.WritableStream = process.stdout): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l) out.write(formatLogRecord(l) + '\n');
      done();
    },
  });
}
