/**
 * Benchmark: acknowledged durable writes per second on a three-node local cluster at 1, 16 and 64
 * concurrent HTTP clients (PUT /v1/kv/{key}, 10,000 keys, 256-byte values), replication lag
 * (acknowledged at the origin → applied at the last peer, seen through CoAP Observe on the
 * peers) at half the 16-client load, and CoAP PUT /kv on one node — compared in the same run with
 * a three-member etcd (Debian etcd-server, JSON gateway POST /v3/kv/put) when etcd is installed,
 * and with the HTTP ceiling: three fastify servers set up as a node's API that keep values in a
 * Map and do nothing else (bench/http-ceiling-server.ts), the most puts/s the HTTP layer and this
 * load generator allow on the machine. Writes bench/results/cluster.json and prints a Markdown table.
 *
 * Options (environment): BENCH_SECONDS (per measurement, default 10), BENCH_SKIP_ETCD=1,
 * BENCH_PARTS (a subset of `puts,coap,lag`; default all), BENCH_LAG_RATE (puts/s for the lag
 * measurement when the 16-client rate was not measured in this run; default 600),
 * BENCH_UNSAFE_NO_FSYNC=0 (leaves out the puts on a second cluster with `unsafeNoFsync`: what
 * the same nodes do when no write waits for the disk, a bound on what a durable cluster can do).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NODE_PROCESS_FLAGS } from '../src/cli/node-flags.js';
import { CoapClient } from '../src/transport/coap/client.js';
import { freePort } from '../test/support/cluster.js';
import { Worker } from 'node:worker_threads';
import { HttpConn, httpLoad, percentile, type LoadResult } from './http-load.js';
import { runLoad } from './coap-load.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const CEILING = fileURLToPath(new URL('./http-ceiling-server.js', import.meta.url));
const CEILING_NAME = 'HTTP ceiling (fastify, memory only)';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const KEYS = 10_000;
/** Load at the lag rate before the first probe (JIT, first log segment and its spare, heap growth). */
const LAG_WARMUP_MS = 3000;
/** Unmeasured probes in the warm-up's last second. */
const WARM_PROBES = 50;
const PARTS = new Set((process.env['BENCH_PARTS'] ?? 'puts,coap,lag').split(','));
const VALUE = JSON.stringify('v'.repeat(254)); // 256 bytes of JSON
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Target {
  readonly name: string;
  readonly urls: string[];
  readonly put: (n: number) => { method: string; path: string; body: string };
  stop(): Promise<void>;
}

async function waitHttp(url: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer in ${ms} ms`);
}

function killAll(procs: ChildProcess[]): Promise<void> {
  return Promise.all(
    procs.map((p) => (p.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 5000).unref();
    }))),
  ).then(() => undefined);
}

const CAUSEWAY_NAME = 'causeway (causal)';
const UNSAFE_NAME = 'causeway, no fsync (unsafe)';

async function startCauseway(dir: string, unsafeNoFsync = false): Promise<Target & { coap: number[] }> {
  const nodes = [];
  for (let i = 1; i <= 3; i++) nodes.push({ id: `node${i}`, host: '127.0.0.1', httpPort: await freePort(), coapPort: await freePort(), peerPort: await freePort() });
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'cluster.json');
  writeFileSync(config, JSON.stringify({ model: 'causal', secret: 'bench-secret-0123456789abcdef', dataDir: join(dir, 'data'), unsafeNoFsync, nodes }));
  const procs = nodes.map((n) => spawn(process.execPath, [...NODE_PROCESS_FLAGS, MAIN, 'node', '--id', n.id, '--config', config, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] }));
  const urls = nodes.map((n) => `http://127.0.0.1:${n.httpPort}`);
  await Promise.all(urls.map((u) => waitHttp(`${u}/v1/status`)));
  await sleep(1000); // peer links up
  return {
    name: unsafeNoFsync ? UNSAFE_NAME : CAUSEWAY_NAME,
    urls,
    coap: nodes.map((n) => n.coapPort),
    put: (n) => ({ method: 'PUT', path: `/v1/kv/k${n % KEYS}`, body: VALUE }),
    stop: () => killAll(procs),
  };
}

async function startCeiling(): Promise<Target> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = ports.map((p) => spawn(process.execPath, [...NODE_PROCESS_FLAGS, CEILING, String(p)], { stdio: ['ignore', 'inherit', 'inherit'] }));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  await Promise.all(urls.map((u) => waitHttp(`${u}/v1/status`)));
  return {
    name: CEILING_NAME,
    urls,
    put: (n) => ({ method: 'PUT', path: `/v1/kv/k${n % KEYS}`, body: VALUE }),
    stop: () => killAll(procs),
  };
}

const ETCD_NAME = 'etcd 3-member';

function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { encoding: 'utf8' }).status === 0;
}

async function startEtcd(dir: string): Promise<Target> {
  const members = [];
  for (let i = 1; i <= 3; i++) members.push({ name: `e${i}`, client: await freePort(), peer: await freePort() });
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs = members.map((m) =>
    spawn('etcd', [
      '--name', m.name, '--data-dir', join(dir, m.name),
      '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--log-level', 'error',
    ], { stdio: ['ignore', 'ignore', 'ignore'] }),
  );
  const urls = members.map((m) => `http://127.0.0.1:${m.client}`);
  await Promise.all(urls.map((u) => waitHttp(`${u}/health`)));
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const value = b64('v'.repeat(256));
  return {
    name: ETCD_NAME,
    urls,
    put: (n) => ({ method: 'POST', path: '/v3/kv/put', body: JSON.stringify({ key: b64(`k${n % KEYS}`), value }) }),
    stop: () => killAll(procs),
  };
}

/**
 * Replication lag at a fixed rate: a background load (in a worker thread, its own isolate) keeps
 * the cluster at `rate` puts/s, while this thread writes probe keys to node1 one at a time and
 * watches them on node2 and node3 through CoAP Observe. A probe's lag runs from its acknowledgement
 * at node1 to the later of its two notifications, after LAG_WARMUP_MS of load. Both instants are taken on this thread, which
 * does nothing else, so the generator's own collections and queueing stay out of the figure.
 */
async function measureLag(t: Target & { coap: number[] }, rate: number): Promise<{ p50Ms: number; p99Ms: number; samples: number; load: LoadResult }> {
  // 500 probes (one per 20 ms in a 10 s run): their p99 is the 5th-slowest, where 200 made it the
  // 2nd-slowest, which a single stall decides.
  const probes = 500;
  const client = new CoapClient();
  const seen = new Map<string, bigint[]>();
  const cancels: (() => Promise<void>)[] = [];
  const keys = [...Array.from({ length: WARM_PROBES }, (_, j) => `lag-warm-${j}`), ...Array.from({ length: probes }, (_, j) => `lag-${j}`)];
  for (const key of keys) {
    const w = await fetch(`${t.urls[0]}/v1/kv/${key}`, { method: 'PUT', body: '0' });
    const ctx = w.headers.get('causeway-context') ?? '';
    for (const port of t.coap.slice(1)) {
      const obs = await client.observe(`coap://127.0.0.1:${port}/kv/${key}?ctx=${ctx}`, (res) => {
        if (res.code !== '2.05') return;
        const v = JSON.parse(res.payload.toString()) as { value: unknown };
        if (v.value === 1) (seen.get(key) ?? seen.set(key, []).get(key)!).push(process.hrtime.bigint());
      });
      cancels.push(obs.cancel);
    }
  }
  const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
    workerData: { urls: t.urls, concurrency: 16, durationMs: LAG_WARMUP_MS + SECONDS * 1000, rateLimit: rate, keys: KEYS, value: VALUE },
  });
  const loadDone = new Promise<LoadResult>((resolve, reject) => {
    worker.once('message', (r: LoadResult) => resolve(r));
    worker.once('error', reject);
  });
  const acked = new Map<string, bigint>();
  const gapMs = (SECONDS * 1000) / probes;
  const probeUrl = new URL(t.urls[0] as string);
  const conn = new HttpConn(probeUrl.hostname, Number(probeUrl.port));
  // The cluster runs at the rate for a while before the first probe. In its last second, unmeasured
  // probes take the path a measured one takes (a write acknowledged, then notified to observers on
  // every peer) for the first time in these processes, so the code on it is compiled before
  // measured probes use it: otherwise the first probes of a run measure the compiler.
  await sleep(LAG_WARMUP_MS - 1000);
  for (let j = 0; j < WARM_PROBES; j++) {
    await conn.request('PUT', `/v1/kv/lag-warm-${j}`, '1');
    await sleep(1000 / WARM_PROBES);
  }
  for (let j = 0; j < probes; j++) {
    const started = Date.now();
    const res = await conn.request('PUT', `/v1/kv/lag-${j}`, '1');
    if (res.status >= 200 && res.status < 300) acked.set(`lag-${j}`, process.hrtime.bigint());
    await sleep(Math.max(0, gapMs - (Date.now() - started)));
  }
  conn.close();
  const load = await loadDone;
  await worker.terminate();
  await sleep(1000);
  const lags: number[] = [];
  for (const [key, ackNs] of acked) {
    const times = seen.get(key) ?? [];
    if (times.length < 2) continue; // not seen on both peers: counted as missing below
    const last = times.reduce((a, b) => (a > b ? a : b));
    lags.push(Math.max(0, Number(last - ackNs) / 1e6));
  }
  for (const c of cancels) await c().catch(() => undefined);
  await client.close();
  if (lags.length < acked.size) console.error(`replication lag: ${acked.size - lags.length} of ${acked.size} probes not seen on both peers within 1 s`);
  lags.sort((a, b) => a - b);
  return { p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), samples: lags.length, load };
}

export interface ClusterBenchResult {
  readonly seconds: number;
  readonly rows: { target: string; clients: number; putsPerSecond: number; p50Ms: number; p99Ms: number; errors: number }[];
  readonly lag?: { ratePerSecond: number; p50Ms: number; p99Ms: number; samples: number };
  readonly ratioAt16?: number;
  /** The HTTP ceiling's puts/s at 16 clients (see startCeiling). */
  readonly ceilingAt16?: number;
  /** CoAP PUT /kv/{key} on one node (16 confirmable requests in flight). */
  readonly coapPut?: { inFlight: number; perSecond: number; p50Ms: number; p99Ms: number; errors: number; timeouts: number };
}

export async function runClusterBench(outDir = 'bench/results'): Promise<ClusterBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-bench-'));
  const rows: ClusterBenchResult['rows'] = [];
  let lag: ClusterBenchResult['lag'];
  let coapPut: ClusterBenchResult['coapPut'];
  try {
    const targets: (() => Promise<Target>)[] = [() => startCauseway(join(dir, 'cw'))];
    if (process.env['BENCH_UNSAFE_NO_FSYNC'] !== '0' && PARTS.has('puts')) targets.push(() => startCauseway(join(dir, 'cw-unsafe'), true));
    if (!PARTS.has('puts')) console.error('BENCH_PARTS leaves out puts: no etcd comparison');
    else if (process.env['BENCH_SKIP_ETCD'] !== '1' && etcdAvailable()) targets.push(() => startEtcd(join(dir, 'etcd')));
    else console.error('etcd not installed (apt-get install etcd-server): skipping the comparison');
    if (PARTS.has('puts')) targets.push(startCeiling);
    for (const start of targets) {
      const t = await start();
      try {
        await httpLoad({ urls: t.urls, concurrency: 16, durationMs: 2000, make: t.put }); // warm-up
        for (const clients of PARTS.has('puts') ? [1, 16, 64] : []) {
          const r = await httpLoad({ urls: t.urls, concurrency: clients, durationMs: SECONDS * 1000, make: t.put });
          rows.push({ target: t.name, clients, putsPerSecond: Math.round(r.perSecond), p50Ms: round(r.p50Ms), p99Ms: round(r.p99Ms), errors: r.errors });
          console.error(`${t.name} ${clients} clients: ${Math.round(r.perSecond)} puts/s p50 ${round(r.p50Ms)} ms p99 ${round(r.p99Ms)} ms`);
        }
        if (t.name === CAUSEWAY_NAME && PARTS.has('coap')) {
          const cp = await runLoad({
            host: '127.0.0.1', port: (t as Target & { coap: number[] }).coap[0] as number, method: 'PUT', path: ['kv', 'coap-bench'],
            payload: VALUE, contentFormat: 50, inFlight: 16, durationMs: SECONDS * 1000, warmupMs: 1000, sockets: 1, count: 0, ackTimeoutMs: 2000, maxRetransmit: 4,
          });
          coapPut = { inFlight: 16, perSecond: Math.round(cp.reqPerSec), p50Ms: round(cp.p50Us / 1000), p99Ms: round(cp.p99Us / 1000), errors: cp.errors, timeouts: cp.timeouts };
          console.error(`CoAP PUT /kv on node1, 16 in flight: ${coapPut.perSecond}/s p50 ${coapPut.p50Ms} ms p99 ${coapPut.p99Ms} ms`);
        }
        if (t.name === CAUSEWAY_NAME && PARTS.has('lag')) {
          const at16 = rows.find((r) => r.target === t.name && r.clients === 16)?.putsPerSecond ?? 2 * Number(process.env['BENCH_LAG_RATE'] ?? 600);
          const l = await measureLag(t as Target & { coap: number[] }, Math.round(at16 / 2));
          lag = { ratePerSecond: Math.round(at16 / 2), p50Ms: round(l.p50Ms), p99Ms: round(l.p99Ms), samples: l.samples };
          console.error(`replication lag at ${lag.ratePerSecond} puts/s: p50 ${lag.p50Ms} ms p99 ${lag.p99Ms} ms (${lag.samples} samples)`);
        }
      } finally {
        await t.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const cw = at16(rows, CAUSEWAY_NAME);
  const etcd = at16(rows, ETCD_NAME);
  const result: ClusterBenchResult = {
    seconds: SECONDS,
    rows,
    lag,
    coapPut,
    ratioAt16: cw !== undefined && etcd !== undefined ? round(cw / etcd) : undefined,
    ceilingAt16: at16(rows, CEILING_NAME),
  };
  mkdirSync(outDir, { recursive: true });
  // A partial run (BENCH_PARTS) keeps the full run's file and writes its own beside it.
  const file = PARTS.size === 3 && PARTS.has('puts') && PARTS.has('coap') && PARTS.has('lag') ? 'cluster.json' : `cluster.${[...PARTS].sort().join('-')}.json`;
  writeFileSync(join(outDir, file), JSON.stringify(result, null, 2) + '\n');
  return result;
}

/** Puts/s at 16 clients of the target named `name`. */
function at16(rows: ClusterBenchResult['rows'], name: string): number | undefined {
  return rows.find((r) => r.target === name && r.clients === 16)?.putsPerSecond;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function clusterMarkdown(r: ClusterBenchResult): string {
  const lines = ['| target | clients | puts/s | p50 ms | p99 ms | errors |', '|---|---:|---:|---:|---:|---:|'];
  for (const row of r.rows) lines.push(`| ${row.target} | ${row.clients} | ${row.putsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${row.errors} |`);
  if (r.ratioAt16 !== undefined) lines.push('', `Causeway / etcd at 16 clients: ${r.ratioAt16}× (target ≥ 5×)`);
  const cw = at16(r.rows, CAUSEWAY_NAME);
  const etcd = at16(r.rows, ETCD_NAME);
  const unsafe = at16(r.rows, UNSAFE_NAME);
  if (unsafe !== undefined && etcd !== undefined) lines.push('', `Without fsync (unsafe), the same nodes at 16 clients: ${unsafe} puts/s, ${round(unsafe / etcd)}× etcd.`);
  if (r.ceilingAt16 !== undefined && cw !== undefined) {
    const pct = (x: number): string => `${Math.round((100 * x) / (r.ceilingAt16 as number))} %`;
    lines.push(
      '',
      `HTTP ceiling at 16 clients (three fastify servers that keep values in memory and do nothing else): ${r.ceilingAt16} puts/s. ` +
        `Causeway reaches ${pct(cw)} of it` +
        (etcd !== undefined ? `; 5× etcd (${5 * etcd} puts/s) would be ${pct(5 * etcd)} of it.` : '.'),
    );
  }
  if (r.lag) lines.push('', `Replication lag at ${r.lag.ratePerSecond} puts/s (half the 16-client rate): p50 ${r.lag.p50Ms} ms, p99 ${r.lag.p99Ms} ms over ${r.lag.samples} probes (target p99 ≤ 10 ms)`);
  if (r.coapPut) lines.push('', `CoAP PUT /kv on one node, ${r.coapPut.inFlight} in flight: ${r.coapPut.perSecond}/s, p50 ${r.coapPut.p50Ms} ms, p99 ${r.coapPut.p99Ms} ms (errors ${r.coapPut.errors}, timeouts ${r.coapPut.timeouts})`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await runClusterBench();
  console.log(clusterMarkdown(r));
}
