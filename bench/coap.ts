/**
 * CoAP benchmark (`npm run bench`, not a test): our server against libcoap's C server, in one run.
 *
 * Servers run pinned to core 0 (`taskset -c 0`), the load generator (bench/coap-load.ts) pinned to
 * core 1, one generator run at a time. Targets:
 * - `causeway`: `node bin/causeway.js lab serve --port P` — PUT /eventual with a valid JSON body
 *   {"node":"A","value":1,"timestamp":N} (N increasing, so every PUT is accepted) and GET /eventual
 *   (`--server engine` uses bench/coap-bench-server.ts instead: the engine with an equivalent handler);
 * - `libcoap`: `coap-server-notls -A 127.0.0.1 -p P` — PUT and GET /example_data;
 * - `bare` (with --bare): a bare node:dgram reply loop, the floor for any Node server.
 * Each (method, in-flight) scenario is measured `--rounds` times, the targets interleaved within a
 * round so that they share the machine's conditions; the medians are reported. The server's CPU
 * time per request (from /proc/PID/stat) is reported too: it does not depend on the generator.
 * Then a soak: `--soak` seconds of PUT at 16 in flight against our server, RSS sampled throughout.
 *
 * Usage: node dist/bench/coap.js [--duration 5] [--warmup 1] [--rounds 3] [--in-flight 1,16,64]
 *          [--soak 60] [--server lab|engine] [--bare] [--out bench/results/coap.json]
 * Writes JSON to --out and prints a Markdown table.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { LoadResult } from './coap-load.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // <dist>/bench
const DIST = resolve(HERE, '..');
const ROOT = resolve(DIST, '..');
const CLK_TCK = 100;
let stopping = false;

export interface CoapBenchOptions {
  durationS: number;
  warmupS: number;
  rounds: number;
  inFlight: number[];
  soakS: number;
  server: 'lab' | 'engine';
  bare: boolean;
  out: string;
}

interface Target {
  name: string;
  port: number;
  proc: ChildProcess;
  putPath: string;
  getPath: string;
  description: string;
}

interface Row {
  target: string;
  method: string;
  path: string;
  inFlight: number;
  reqPerSec: number;
  p50Us: number;
  p99Us: number;
  serverCpuUsPerReq: number;
  retransmits: number;
  timeouts: number;
  errors: number;
  runs: number[];
}

interface Measurement extends LoadResult {
  target: string;
  /** Server CPU time per request, µs (user + system). */
  serverCpuUsPerReq: number;
}

function haveTaskset(): boolean {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}
const TASKSET = haveTaskset() && cpus().length >= 2;

function pinned(core: number, cmd: string, args: string[]): [string, string[]] {
  return TASKSET ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : NaN;
  } catch {
    return NaN;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Runs the generator (pinned to core 1) once and returns its result. */
function generate(port: number, method: 'GET' | 'PUT', path: string, inFlight: number, o: CoapBenchOptions, durationS = o.durationS): Promise<LoadResult> {
  const args = [join(HERE, 'coap-load.js'), '--port', String(port), '--method', method, '--path', path, '--in-flight', String(inFlight), '--duration', String(durationS), '--warmup', String(o.warmupS)];
  if (method === 'PUT') args.push('--payload', 'eventual');
  const [cmd, argv] = pinned(1, process.execPath, args);
  return new Promise((resolvePromise, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`load generator exited ${code}`));
      else resolvePromise(JSON.parse(out.trim().split('\n').pop()!) as LoadResult);
    });
  });
}

/** Waits until a CoAP GET to the port is answered (the server is up). */
async function waitUp(port: number, path: string, proc: ChildProcess): Promise<void> {
  const { CoapClient } = await import('../src/transport/coap/index.js');
  const c = new CoapClient({ ackTimeoutMs: 200, maxRetransmit: 1 });
  try {
    for (let i = 0; i < 50; i++) {
      if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
      try {
        await c.request({ method: 'GET', uri: `coap://127.0.0.1:${port}/${path}`, timeoutMs: 500 });
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`server on port ${port} did not come up`);
  } finally {
    await c.close();
  }
}

async function startTarget(name: string, o: CoapBenchOptions): Promise<Target> {
  const port = await freePort();
  let cmd: string;
  let args: string[];
  let putPath = 'eventual';
  let getPath = 'eventual';
  let description: string;
  if (name === 'causeway' && o.server === 'lab') {
    cmd = process.execPath;
    args = [join(DIST, 'src/cli/main.js'), 'lab', 'serve', '--host', '127.0.0.1', '--port', String(port)];
    description = `node bin/causeway.js lab serve --port ${port}`;
  } else if (name === 'causeway') {
    cmd = process.execPath;
    args = [join(HERE, 'coap-bench-server.js'), '--port', String(port)];
    description = 'bench/coap-bench-server (engine + equivalent /eventual)';
  } else if (name === 'bare') {
    cmd = process.execPath;
    args = [join(HERE, 'coap-bench-server.js'), '--mode', 'bare', '--port', String(port)];
    description = 'bare node:dgram reply loop';
  } else {
    cmd = 'coap-server-notls';
    args = ['-A', '127.0.0.1', '-p', String(port)];
    putPath = getPath = 'example_data';
    description = `coap-server-notls -p ${port}`;
  }
  const [c, a] = pinned(0, cmd, args);
  // stdout (the lab's one line per request) goes nowhere; stderr is kept to explain a crash
  const proc = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  proc.on('exit', (code, signal) => {
    if (!stopping) console.error(`server ${name} exited (${code ?? signal}) during the benchmark:\n${stderr}`);
  });
  await waitUp(port, name === 'bare' ? 'x' : getPath, proc);
  return { name, port, proc, putPath, getPath, description };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

async function measure(t: Target, method: 'GET' | 'PUT', inFlight: number, o: CoapBenchOptions): Promise<Measurement> {
  const pid = t.proc.pid!;
  const c0 = cpuTicks(pid);
  const r = await generate(t.port, method, method === 'PUT' ? t.putPath : t.getPath, inFlight, o);
  const c1 = cpuTicks(pid);
  // CPU ticks cover warm-up + measurement; scale by the measured share of the run
  const share = r.seconds / (r.seconds + o.warmupS);
  const cpuUs = ((c1 - c0) / CLK_TCK) * 1e6 * share;
  return { ...r, target: t.name, serverCpuUsPerReq: r.requests > 0 ? Math.round((cpuUs / r.requests) * 100) / 100 : NaN };
}

export async function runCoapBench(o: CoapBenchOptions): Promise<unknown> {
  const haveLibcoap = (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, 'coap-server-notls')));
  const names = ['causeway', ...(haveLibcoap ? ['libcoap'] : []), ...(o.bare ? ['bare'] : [])];
  if (!haveLibcoap) console.error('coap-server-notls not found (Debian libcoap3-bin): no ratio this run');
  if (!TASKSET) console.error('taskset unavailable or fewer than 2 cores: processes are not pinned');
  if (o.server === 'lab' && !existsSync(join(DIST, 'src/cli/main.js'))) throw new Error(`no ${join(DIST, 'src/cli/main.js')}: build first`);
  const targets: Target[] = [];
  const stopAll = (): void => {
    stopping = true;
    for (const t of targets) t.proc.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  try {
    for (const n of names) targets.push(await startTarget(n, o));
    const scenarios: { method: 'GET' | 'PUT'; inFlight: number }[] = [];
    for (const f of o.inFlight) for (const m of ['PUT', 'GET'] as const) scenarios.push({ method: m, inFlight: f });
    const runs: Measurement[] = [];
    for (let round = 0; round < o.rounds; round++) {
      for (const s of scenarios) {
        // alternate the order within a round so neither target always goes first
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) {
          const m = await measure(t, s.method, s.inFlight, o);
          runs.push(m);
          console.error(`round ${round + 1}/${o.rounds} ${t.name.padEnd(8)} ${s.method} x${s.inFlight}: ${m.reqPerSec} req/s p50 ${m.p50Us} µs p99 ${m.p99Us} µs cpu ${m.serverCpuUsPerReq} µs/req${m.timeouts ? ` timeouts ${m.timeouts}` : ''}`);
        }
      }
    }
    // medians per target × scenario
    const rows: Row[] = [];
    for (const s of scenarios) {
      for (const t of targets) {
        const ms = runs.filter((r) => r.target === t.name && r.method === s.method && r.inFlight === s.inFlight);
        rows.push({
          target: t.name,
          method: s.method,
          path: ms[0]!.path,
          inFlight: s.inFlight,
          reqPerSec: Math.round(median(ms.map((m) => m.reqPerSec))),
          p50Us: median(ms.map((m) => m.p50Us)),
          p99Us: median(ms.map((m) => m.p99Us)),
          serverCpuUsPerReq: median(ms.map((m) => m.serverCpuUsPerReq)),
          retransmits: ms.reduce((n, m) => n + m.retransmits, 0),
          timeouts: ms.reduce((n, m) => n + m.timeouts, 0),
          errors: ms.reduce((n, m) => n + m.errors, 0),
          runs: ms.map((m) => m.reqPerSec),
        });
      }
    }
    const row = (t: string, m: string, f: number) => rows.find((r) => r.target === t && r.method === m && r.inFlight === f);
    const ratios: Record<string, number> = {};
    for (const s of scenarios) {
      const a = row('causeway', s.method, s.inFlight);
      const b = row('libcoap', s.method, s.inFlight);
      if (a && b && b.reqPerSec > 0) ratios[`${s.method}x${s.inFlight}`] = Math.round((a.reqPerSec / b.reqPerSec) * 100) / 100;
    }

    // soak: full load on our server, RSS sampled
    let soak: { seconds: number; reqPerSec: number; p99Us: number; rssStartMiB: number; rssMaxMiB: number; rssEndMiB: number; samples: number[] } | null = null;
    const ours = targets.find((t) => t.name === 'causeway')!;
    if (o.soakS > 0) {
      const pid = ours.proc.pid!;
      const rssStart = rssMiB(pid);
      const samples: number[] = [];
      const timer = setInterval(() => samples.push(rssMiB(pid)), 1000);
      const r = await generate(ours.port, 'PUT', ours.putPath, 16, { ...o, warmupS: 0 }, o.soakS);
      clearInterval(timer);
      const end = rssMiB(pid);
      samples.push(end);
      soak = { seconds: r.seconds, reqPerSec: r.reqPerSec, p99Us: r.p99Us, rssStartMiB: rssStart, rssMaxMiB: Math.max(...samples), rssEndMiB: end, samples };
      console.error(`soak ${o.soakS} s PUT x16: ${r.reqPerSec} req/s, RSS ${rssStart} → ${end} MiB (max ${soak.rssMaxMiB})`);
    }

    const put16 = row('causeway', 'PUT', 16);
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, pinned: TASKSET },
      options: o,
      servers: Object.fromEntries(targets.map((t) => [t.name, t.description])),
      results: rows,
      ratios,
      soak,
      targets: {
        'PUT/s x16 >= 0.9 x libcoap': ratios['PUTx16'] === undefined ? null : ratios['PUTx16'] >= 0.9,
        'p99 x16 <= 1 ms': put16 ? put16.p99Us <= 1000 : null,
        'RSS after soak <= 150 MB': soak ? soak.rssEndMiB * 1.048576 <= 150 : null,
      },
    };
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n');
    console.log(markdown(result));
    return result;
  } finally {
    stopAll();
  }
}

function markdown(r: {
  results: Row[];
  ratios: Record<string, number>;
  soak: { seconds: number; reqPerSec: number; rssStartMiB: number; rssMaxMiB: number; rssEndMiB: number } | null;
  servers: Record<string, string>;
  targets: Record<string, boolean | null>;
}): string {
  const lines = [
    '| server | request | in flight | req/s | p50 µs | p99 µs | server CPU µs/req | ratio to libcoap |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of r.results) {
    const ratio = x.target === 'causeway' ? (r.ratios[`${x.method}x${x.inFlight}`]?.toFixed(2) ?? '') : '';
    lines.push(`| ${x.target} | ${x.method} ${x.path} | ${x.inFlight} | ${x.reqPerSec} | ${x.p50Us} | ${x.p99Us} | ${x.serverCpuUsPerReq} | ${ratio} |`);
  }
  lines.push('');
  for (const [k, v] of Object.entries(r.servers)) lines.push(`- ${k}: \`${v}\``);
  if (r.soak) lines.push(`- soak: ${r.soak.seconds} s of PUT at 16 in flight, ${r.soak.reqPerSec} req/s; RSS ${r.soak.rssStartMiB} → ${r.soak.rssEndMiB} MiB (max ${r.soak.rssMaxMiB} MiB)`);
  for (const [k, v] of Object.entries(r.targets)) lines.push(`- target ${k}: ${v === null ? 'not measured' : v ? 'met' : 'NOT met'}`);
  return lines.join('\n');
}

export function parseCoapBenchArgs(argv: string[]): CoapBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      'in-flight': { type: 'string', default: '1,16,64' },
      soak: { type: 'string', default: '60' },
      server: { type: 'string', default: 'lab' },
      bare: { type: 'boolean', default: false },
      out: { type: 'string', default: join(ROOT, 'bench/results/coap.json') },
    },
  });
  const server = values.server === 'engine' ? 'engine' : 'lab';
  return {
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    rounds: Math.max(1, Number(values.rounds)),
    inFlight: values['in-flight']!.split(',').map(Number).filter((n) => n > 0),
    soakS: Number(values.soak),
    server,
    bare: values.bare!,
    out: resolve(values.out!),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCoapBench(parseCoapBenchArgs(process.argv.slice(2)));
}
