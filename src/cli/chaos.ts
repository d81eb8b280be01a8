import type { Command } from 'commander';
import { assertNever } from '../core/assert.js';
import { CausewayError, isCausewayError } from '../core/errors.js';
import { callAdmin, type AdminCallResult } from '../transport/http/admin-api.js';
import { clusterConfigFromEnv, loadClusterConfig, type ClusterConfig, type NodeSpec } from './node-config.js';

/**
 * `causeway chaos ...`: faults on a running cluster, through each node's authenticated admin API.
 *
 *   partition A B [--oneway]   A's link to B and B's link to A held down (--oneway: only A→B dropped)
 *   heal [A B]                 heal the links between A and B, or every link of every node
 *   delay A B 50ms             hold A's outgoing messages to B (0ms clears)
 *   loss A B 10%               drop A's outgoing messages to B with that probability (0% clears)
 *   crash A / restart A        tear A's engine down (in-memory state lost) / rebuild it from disk
 *   status                     the faults each node has now
 *
 * Exit codes: 0 done; 1 a node refused or could not be reached; 2 bad usage (unknown node, bad
 * duration or percentage, unreadable config).
 */

export interface ChaosIo {
  out(text: string): void;
  err(text: string): void;
  exit(code: 0 | 1 | 2): void;
}

const DEFAULT_IO: ChaosIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  exit: (c) => {
    process.exitCode = c;
  },
};

export interface ChaosOptions {
  /** Path of cluster.json; when absent, CAUSEWAY_* environment variables, then ./data/cluster.json. */
  readonly config?: string;
  readonly oneway?: boolean;
  /** Per-request timeout in ms. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export type ChaosAction =
  | { readonly kind: 'partition'; readonly a: string; readonly b: string; readonly oneway: boolean }
  | { readonly kind: 'heal'; readonly a?: string; readonly b?: string }
  | { readonly kind: 'delay'; readonly a: string; readonly b: string; readonly ms: number }
  | { readonly kind: 'loss'; readonly a: string; readonly b: string; readonly rate: number }
  | { readonly kind: 'crash' | 'restart'; readonly a: string }
  | { readonly kind: 'status' };

const MAX_DELAY_MS = 60_000;
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** "50ms", "1.5s", "0" → milliseconds; at most 60 s. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new CausewayError('bad-request', `bad duration "${text}": expected a number with a unit, e.g. 50ms, 1.5s`);
  const unit = m[2] ?? 'ms';
  if (m[2] === undefined && Number(m[1]) !== 0) throw new CausewayError('bad-request', `bad duration "${text}": give a unit, e.g. ${text}ms`);
  const ms = Number(m[1]) * (UNITS[unit] as number);
  if (ms > MAX_DELAY_MS) throw new CausewayError('bad-request', `bad duration "${text}": at most ${MAX_DELAY_MS / 1000}s`);
  return ms;
}

/** A `--timeout`: a duration of at least 1 ms, in whole milliseconds (rounded up). */
export function parseTimeout(text: string): number {
  const ms = Math.ceil(parseDuration(text));
  if (ms < 1) throw new CausewayError('bad-request', `bad --timeout "${text}": at least 1ms`);
  return ms;
}

/** A loss rate as a percentage, as precise as it was given: 0.1 → "10%", 0.00001 → "0.001%". */
export function formatPercent(rate: number): string {
  return `${Number((rate * 100).toPrecision(6))}%`;
}

/** "10%", "0.5%", or a fraction "0.1" → a probability in [0, 1]. */
export function parsePercent(text: string): number {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  const frac = /^(0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$/.exec(t);
  const p = pct ? Number(pct[1]) / 100 : frac ? Number(frac[1]) : NaN;
  if (!(p >= 0 && p <= 1)) throw new CausewayError('bad-request', `bad loss rate "${text}": expected a percentage from 0% to 100% (e.g. 10%) or a fraction from 0 to 1`);
  return p;
}

function loadConfig(o: ChaosOptions): ClusterConfig {
  if (o.config) return loadClusterConfig(o.config);
  const env = clusterConfigFromEnv(o.env ?? process.env);
  return env ?? loadClusterConfig('./data/cluster.json');
}

function baseUrl(n: NodeSpec): string {
  const host = n.host === '0.0.0.0' ? '127.0.0.1' : n.host === '::' ? '::1' : n.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${n.httpPort}`;
}

interface Call {
  readonly node: string;
  readonly method: 'GET' | 'POST';
  readonly action: string;
  readonly body?: Record<string, unknown>;
  /** What the call does, for the report line. */
  readonly what: string;
}

function plan(action: ChaosAction, config: ClusterConfig): Call[] {
  const ids = config.nodes.map((n) => n.id);
  const need = (id: string | undefined): string => {
    if (id === undefined || !ids.includes(id)) throw new CausewayError('bad-request', `unknown node "${id ?? ''}" (nodes: ${ids.join(', ')})`);
    return id;
  };
  const pair = (a: string, b: string): [string, string] => {
    need(a);
    need(b);
    if (a === b) throw new CausewayError('bad-request', `a link joins two different nodes, got "${a}" twice`);
    return [a, b];
  };
  switch (action.kind) {
    case 'partition': {
      const [a, b] = pair(action.a, action.b);
      if (action.oneway) return [{ node: a, method: 'POST', action: 'fault', body: { peer: b, oneway: 'out' }, what: `${a} → ${b} dropped (one way)` }];
      return [
        { node: a, method: 'POST', action: 'fault', body: { peer: b, partition: true }, what: `link ${a} → ${b} partitioned` },
        { node: b, method: 'POST', action: 'fault', body: { peer: a, partition: true }, what: `link ${b} → ${a} partitioned` },
      ];
    }
    case 'heal': {
      if (action.a === undefined && action.b === undefined) return ids.map((id) => ({ node: id, method: 'POST', action: 'heal', body: {}, what: `every link of ${id} healed` }));
      if (action.a === undefined || action.b === undefined) throw new CausewayError('bad-request', 'heal takes two nodes (heal A B) or none (heal every link)');
      const [a, b] = pair(action.a, action.b);
      return [
        { node: a, method: 'POST', action: 'heal', body: { peer: b }, what: `link ${a} → ${b} healed` },
        { node: b, method: 'POST', action: 'heal', body: { peer: a }, what: `link ${b} → ${a} healed` },
      ];
    }
    case 'delay': {
      const [a, b] = pair(action.a, action.b);
      return [{ node: a, method: 'POST', action: 'fault', body: { peer: b, delayMs: action.ms }, what: action.ms ? `${a} → ${b} delayed ${action.ms} ms` : `${a} → ${b} delay cleared` }];
    }
    case 'loss': {
      const [a, b] = pair(action.a, action.b);
      const pct = formatPercent(action.rate);
      return [{ node: a, method: 'POST', action: 'fault', body: { peer: b, lossRate: action.rate }, what: action.rate ? `${a} → ${b} loses ${pct} of messages` : `${a} → ${b} loss cleared` }];
    }
    case 'crash':
    case 'restart': {
      const a = need(action.a);
      return [{ node: a, method: 'POST', action: action.kind, body: {}, what: action.kind === 'crash' ? `${a} crashed (in-memory state lost)` : `${a} restarted from disk` }];
    }
    case 'status':
      return ids.map((id) => ({ node: id, method: 'GET', action: 'faults', what: id }));
    default:
      return assertNever(action, 'chaos action');
  }
}

function describeFaults(body: Record<string, unknown>): string {
  const faults = (body['faults'] ?? {}) as Record<string, Record<string, unknown>>;
  const parts = Object.entries(faults).map(([peer, f]) => {
    const bits: string[] = [];
    if (f['partition']) bits.push('partitioned');
    if (f['oneway']) bits.push(`one-way drop ${String(f['oneway'])}`);
    if (f['delayMs']) bits.push(`delay ${String(f['delayMs'])} ms`);
    if (f['lossRate']) bits.push(`loss ${formatPercent(Number(f['lossRate']))}`);
    return `${peer}: ${bits.join(', ')}`;
  });
  const state = body['running'] === false ? 'CRASHED' : 'running';
  return `${state}; ${parts.length ? parts.join('; ') : 'no faults'}`;
}

/** Runs one chaos action against the cluster; resolves with the exit code (also passed to io.exit). */
export async function runChaos(action: ChaosAction, options: ChaosOptions = {}, io: ChaosIo = DEFAULT_IO): Promise<0 | 1 | 2> {
  let config: ClusterConfig;
  let calls: Call[];
  try {
    config = loadConfig(options);
    calls = plan(action, config);
  } catch (e) {
    io.err(`causeway chaos: ${isCausewayError(e) ? e.detail : (e as Error).message}\n`);
    io.exit(2);
    return 2;
  }
  const specs = new Map(config.nodes.map((n) => [n.id, n]));
  // Sequential on purpose: "partition A B" sets A's side, then B's; a failure is reported per node.
  let failed = 0;
  for (const c of calls) {
    const spec = specs.get(c.node) as NodeSpec;
    const r: AdminCallResult = await callAdmin(baseUrl(spec), c.method, c.action, c.body, { secret: config.secret, timeoutMs: options.timeoutMs ?? 10_000 });
    if (!r.ok) {
      failed++;
      io.err(`${c.node}: FAILED (${c.what}): ${r.error}\n`);
      continue;
    }
    // crash and restart say when there was nothing to do (the node was crashed, or running, already)
    const unchanged = r.body['changed'] === false ? (action.kind === 'crash' ? 'already crashed: nothing changed' : 'already running: nothing changed') : null;
    io.out(action.kind === 'status' ? `${c.node}: ${describeFaults(r.body)}\n` : `${c.node}: ${unchanged ?? c.what}\n`);
  }
  const code = failed > 0 ? 1 : 0;
  io.exit(code);
  return code;
}

export function registerChaos(program: Command, io: ChaosIo = DEFAULT_IO): void {
  const chaos = program
    .command('chaos')
    .description('break a running cluster and watch it recover: partitions, delay, loss, crash, restart (through each node\'s admin API)');
  const common = (cmd: Command): Command =>
    cmd
      .option('--config <file>', 'cluster config JSON (default: CAUSEWAY_* environment, then ./data/cluster.json)')
      .option('--timeout <duration>', 'per-node request timeout', '10s');
  const run = async (action: () => ChaosAction, opts: { config?: string; timeout: string }): Promise<void> => {
    let a: ChaosAction;
    let timeoutMs: number;
    try {
      a = action();
      timeoutMs = parseTimeout(opts.timeout);
    } catch (e) {
      io.err(`causeway chaos: ${isCausewayError(e) ? e.detail : (e as Error).message}\n`);
      io.exit(2);
      return;
    }
    await runChaos(a, { ...(opts.config ? { config: opts.config } : {}), timeoutMs }, io);
  };
  common(chaos.command('partition').argument('<a>').argument('<b>').description('cut the link between A and B (both ways, or --oneway: only A→B)'))
    .option('--oneway', 'drop only what A sends to B')
    .action((a: string, b: string, o: { config?: string; timeout: string; oneway?: boolean }) => run(() => ({ kind: 'partition', a, b, oneway: o.oneway === true }), o));
  common(chaos.command('heal').argument('[a]').argument('[b]').description('heal the links between A and B, or every link of every node'))
    .action((a: string | undefined, b: string | undefined, o: { config?: string; timeout: string }) => run(() => ({ kind: 'heal', ...(a === undefined ? {} : { a }), ...(b === undefined ? {} : { b }) }), o));
  common(chaos.command('delay').argument('<a>').argument('<b>').argument('<duration>', 'e.g. 50ms, 1s (0ms clears)').description("hold A's messages to B"))
    .action((a: string, b: string, d: string, o: { config?: string; timeout: string }) => run(() => ({ kind: 'delay', a, b, ms: parseDuration(d) }), o));
  common(chaos.command('loss').argument('<a>').argument('<b>').argument('<rate>', 'e.g. 10% (0% clears)').description("drop A's messages to B at random"))
    .action((a: string, b: string, r: string, o: { config?: string; timeout: string }) => run(() => ({ kind: 'loss', a, b, rate: parsePercent(r) }), o));
  common(chaos.command('crash').argument('<a>').description("crash A's engine: in-memory state lost, HTTP/CoAP answer 503"))
    .action((a: string, o: { config?: string; timeout: string }) => run(() => ({ kind: 'crash', a }), o));
  common(chaos.command('restart').argument('<a>').description('restart A from what is on its disk'))
    .action((a: string, o: { config?: string; timeout: string }) => run(() => ({ kind: 'restart', a }), o));
  common(chaos.command('status').description('the faults every node has now'))
    .action((o: { config?: string; timeout: string }) => run(() => ({ kind: 'status' }), o));
}
