/**
 * Benchmark: time to check a 10,000-operation history over 100 keys for linearizability
 * (target ≤ 1 s). The history comes from a linearizable store under 8 concurrent clients with
 * overlapping operations; the figure is the median of 5 runs. Writes bench/results/check.json (not
 * with --no-write: a trial run).
 *
 * Also the causal checker on a 100,000-operation simulator history (5 nodes, 16 clients, 10 keys,
 * every fault): no target in the issue, measured so that its growth stays in view (a quadratic read
 * test took 50 s on such a history before it looked at one candidate per session).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Rng } from '../src/core/rng.js';
import { generateLinearizableHistory } from '../src/check/generate.js';
import { historyFromEvents } from '../src/check/history.js';
import { checkLinearizable } from '../src/check/linearizable.js';
import { checkCausal } from '../src/check/causal.js';
import type { Verdict } from '../src/check/verdict.js';
import { FAULT_KINDS, runSimulation } from '../src/sim/index.js';

export interface CheckBenchResult {
  readonly name: 'check-linearizable';
  readonly operations: number;
  readonly keys: number;
  readonly processes: number;
  readonly seed: number;
  readonly runs: number;
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  readonly parseMs: number;
  readonly targetMs: 1000;
  readonly verdict: string;
  /** The causal checker on a simulator history (median of `runs`). */
  readonly causal: { readonly operations: number; readonly keys: number; readonly runsMs: readonly number[]; readonly medianMs: number; readonly verdict: string };
}

export interface CheckBenchOptions {
  readonly operations: number;
  readonly keys: number;
  readonly processes: number;
  readonly seed: number;
  readonly runs: number;
  /** Client operations of the simulator history the causal checker is timed on. */
  readonly causalOps: number;
  /** Directory for check.json; null to write nothing. */
  readonly outDir: string | null;
}

export const CHECK_BENCH_DEFAULTS: Readonly<CheckBenchOptions> = Object.freeze({
  operations: 10_000,
  keys: 100,
  processes: 8,
  seed: 42,
  runs: 5,
  causalOps: 100_000,
  outDir: fileURLToPath(new URL('../../bench/results/', import.meta.url)),
});

export function runCheckBench(options: Partial<CheckBenchOptions> = {}): CheckBenchResult {
  const o: CheckBenchOptions = { ...CHECK_BENCH_DEFAULTS, ...options };
  const events = generateLinearizableHistory(new Rng(o.seed), {
    processes: o.processes,
    ops: o.operations,
    keys: o.keys,
    putRatio: 0.5,
    deleteRatio: 0.05,
    infoRatio: 0.01,
    failRatio: 0.01,
    maxDuration: 1_000_000, // up to 1 ms per operation
    maxGap: 200_000,
  });
  const t0 = performance.now();
  const parsed = historyFromEvents(events);
  const parseMs = performance.now() - t0;
  if (!parsed.ok) throw new Error(`generated history is malformed at ${parsed.line}: ${parsed.reason}`);
  const { runsMs, medianMs, verdict } = timeValid(o.runs, () => checkLinearizable(parsed.history), 'a linearizable history');
  const causal = timeCausal(o);
  const result: CheckBenchResult = {
    name: 'check-linearizable',
    operations: parsed.history.ops.length + parsed.history.failed.length + parsed.history.unknownReads,
    keys: o.keys,
    processes: o.processes,
    seed: o.seed,
    runs: o.runs,
    runsMs,
    medianMs,
    parseMs: round2(parseMs),
    targetMs: 1000,
    verdict,
    causal,
  };
  if (o.outDir !== null) {
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(`${o.outDir}/check.json`, `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Times `runs` calls of a check that must find its history valid: each run and the median, in ms (2 decimals). */
function timeValid(runs: number, check: () => Verdict, what: string): { runsMs: number[]; medianMs: number; verdict: string } {
  const runsMs: number[] = [];
  let verdict = '';
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    const v = check();
    runsMs.push(performance.now() - s);
    verdict = String(v.valid);
    if (v.valid !== true) throw new Error(`${what} was judged ${verdict}`);
  }
  const medianMs = [...runsMs].sort((a, b) => a - b)[Math.floor(runsMs.length / 2)] as number;
  return { runsMs: runsMs.map(round2), medianMs: round2(medianMs), verdict };
}

function timeCausal(o: CheckBenchOptions): CheckBenchResult['causal'] {
  const sim = runSimulation({ seed: o.seed, nodes: 5, ops: o.causalOps, clients: 16, keys: 10, faults: [...FAULT_KINDS], check: false, recordHistory: true });
  const parsed = historyFromEvents(sim.history);
  if (!parsed.ok) throw new Error(`simulator history is malformed at ${parsed.line}: ${parsed.reason}`);
  const h = parsed.history;
  return { operations: h.ops.length + h.failed.length + h.unknownReads, keys: h.keys.length, ...timeValid(o.runs, () => checkCausal(h), 'a simulator history (causal checker)') };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // --no-write: a trial run, bench/results left as it is
  const r = runCheckBench(process.argv.includes('--no-write') ? { outDir: null } : {});
  console.log(
    `linearizability check: ${r.operations} operations, ${r.keys} keys, ${r.processes} processes — median ${r.medianMs} ms of ${r.runs} runs ` +
      `(runs ${r.runsMs.join(', ')} ms; target ≤ ${r.targetMs} ms)`,
  );
  console.log(`causal check: ${r.causal.operations} operations of a simulator history, ${r.causal.keys} keys — median ${r.causal.medianMs} ms of ${r.runs} runs (runs ${r.causal.runsMs.join(', ')} ms)`);
}
