/**
 * `causeway check FILE --model causal|eventual|sequential|linearizable` (SPEC.md §3): checks a
 * recorded history and explains any violation. Exit 0 valid, 1 invalid, 2 undecided or unreadable.
 */
import { createReadStream } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkHistory } from '../check/index.js';
import { formatOp, parseHistoryChunks, type ParseResult } from '../check/history.js';
import { MODELS, exitCodeOf, type Model, type Verdict } from '../check/verdict.js';

export interface CheckIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly exit: (code: 0 | 1 | 2) => void;
}

const DEFAULT_IO: CheckIo = Object.freeze({
  out: (t: string) => void process.stdout.write(t),
  err: (t: string) => void process.stderr.write(t),
  exit: (code: 0 | 1 | 2) => {
    process.exitCode = code;
  },
});

export interface CheckCommandOptions {
  readonly model: Model;
  readonly maxSteps?: number;
  readonly json?: boolean;
}

/** Reads, parses and checks one history file; returns the exit code and writes the report to io. */
export async function runCheck(file: string, options: CheckCommandOptions, io: Pick<CheckIo, 'out' | 'err'>): Promise<0 | 1 | 2> {
  let parsed: ParseResult;
  try {
    // Read as a stream: only the operations are kept, not the file's text.
    parsed = await parseHistoryChunks(createReadStream(file, { encoding: 'utf8' }));
  } catch (e) {
    io.err(`causeway check: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  if (!parsed.ok) {
    io.err(`causeway check: ${file}:${parsed.line}: ${parsed.reason}\n`);
    return 2;
  }
  const h = parsed.history;
  const verdict = checkHistory(h, options.model, options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps });
  if (options.json) io.out(`${JSON.stringify(verdict, (_k, v: unknown) => (v === Infinity ? null : v))}\n`);
  else io.out(render(verdict, `${h.ops.length} operations (${h.failed.length} failed, ${h.unknownReads} reads of unknown outcome) over ${h.keys.length} keys`));
  return exitCodeOf(verdict);
}

function render(v: Verdict, summary: string): string {
  switch (v.valid) {
    case true:
      return `valid: ${v.model}\n  ${summary}\n${(v.notes ?? []).map((n) => `  note: ${n}\n`).join('')}`;
    case false: {
      const more = (v.violations?.length ?? 1) - 1;
      return (
        `INVALID: ${v.model} — rule ${v.rule}${v.key === undefined ? '' : ` (key "${v.key}")`}\n  ${summary}\n  ${v.explanation}\n` +
        `  operations involved:\n${v.ops.map((op) => `    ${formatOp(op)}\n`).join('')}` +
        (more > 0 ? `  and ${more} more violation(s): ${[...new Set(v.violations?.slice(1).map((x) => x.rule))].join(', ')} (use --json to see them all)\n` : '')
      );
    }
    case 'unknown':
      return `UNKNOWN: ${v.model} — ${v.reason}\n  ${summary}\n`;
  }
}

function positiveInt(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function registerCheck(program: Command, io: CheckIo = DEFAULT_IO): Command {
  return program
    .command('check')
    .description('check a JSON-lines history against a consistency model (exit 0 valid, 1 invalid, 2 undecided or unreadable)')
    .argument('<file>', 'history file, one Jepsen-style event per line')
    .addOption(new Option('--model <model>', 'consistency model').choices([...MODELS]).makeOptionMandatory())
    .option('--max-steps <n>', 'search budget for linearizable/sequential before answering unknown', positiveInt)
    .option('--json', 'print the verdict as JSON')
    .action(async (file: string, opts: { model: Model; maxSteps?: number; json?: boolean }) => {
      io.exit(await runCheck(file, opts, io));
    });
}
