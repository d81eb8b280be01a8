/**
 * How much of a simulator run is the protocol's own work: the bound the simulator benchmark's
 * target (issue §6, `bench/sim.ts`) is read against. Runs the benchmark's simulation while
 * recording every input its cores get (ticks, peer messages, client operations, link changes, the
 * Ready batches taken, restores from disk), then feeds the same inputs, in the same order, to fresh
 * cores with nothing else around them (no network, agenda, clients, disk, oracle or history) and
 * times that. The cores are deterministic, so the replay goes through the same states: it must
 * produce the same number of messages, replies and persist operations as the run (checked).
 *
 *   node dist/bench/sim-core.js [--seed 1000] [--ops 100000] [--nodes 5] [--faults all] [--rounds 3]
 *
 * Prints, as medians of the rounds (each: one whole simulation, then one replay of its recording):
 * the run's wall time, the protocol work's, and what the rest would have to fit in for the run to
 * reach the target; and the collector's pauses in each. The replay's collector works harder than
 * the run's (the recording keeps every input alive), so the replay overstates the protocol's time by
 * up to the difference. Writes nothing.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { NodeId, Snapshot } from '../src/core/protocol.js';
import { CausalCore, SPACE_KV, SPACE_LOG, SPACE_META, type CausalInit } from '../src/protocols/causal/core.js';
import type { CausalMsg } from '../src/protocols/causal/types.js';
import type { KvOp } from '../src/protocols/kv-types.js';
import { runSimulation, type FaultKind } from '../src/sim/index.js';
import { SharedLogKeys } from '../src/sim/log-keys.js';
import { benchCli, median, round3, simBenchOptions } from './sim.js';

/** The kinds of input a recording holds (CoreRecording.kind). */
export const INPUT = Object.freeze({ tick: 0, receive: 1, submit: 2, link: 3, ready: 4, create: 5, restore: 6 });
const { tick: TICK, receive: RECEIVE, submit: SUBMIT, link: LINK, ready: READY, create: CREATE, restore: RESTORE } = INPUT;

/** The inputs of every core of one run, in the order they were given. */
export interface CoreRecording {
  readonly slot: number[];
  readonly kind: number[];
  readonly a: unknown[];
  readonly b: unknown[];
  /** What the Ready batches held, summed: the replay must give the same. */
  readonly out: { messages: number; replies: number; persist: number };
}

type Init = Omit<CausalInit, 'logKeys'>;

/**
 * Runs `run` with CausalCore's inputs recorded (its prototype wrapped for the call's duration,
 * then put back as it was).
 */
export function recordCoreInputs(run: () => void): CoreRecording {
  const rec: CoreRecording = { slot: [], kind: [], a: [], b: [], out: { messages: 0, replies: 0, persist: 0 } };
  const slots = new WeakMap<CausalCore, number>();
  let next = 0;
  const initOf = (c: CausalCore): Init => ({ id: c.id, nodes: c.nodes, options: c.options });
  const push = (slot: number, kind: number, a?: unknown, b?: unknown): void => {
    rec.slot.push(slot);
    rec.kind.push(kind);
    rec.a.push(a);
    rec.b.push(b);
  };
  const slotOf = (c: CausalCore): number => {
    let s = slots.get(c);
    if (s === undefined) {
      slots.set(c, (s = next++));
      push(s, CREATE, initOf(c)); // made by `new` before its first input
    }
    return s;
  };
  const proto = CausalCore.prototype;
  const saved = { tick: proto.tick, receive: proto.receive, submit: proto.submit, linkChanged: proto.linkChanged, ready: proto.ready, restore: CausalCore.restore };
  proto.tick = function (this: CausalCore) {
    push(slotOf(this), TICK);
    saved.tick.call(this);
  };
  proto.receive = function (this: CausalCore, from: NodeId, msg: CausalMsg) {
    push(slotOf(this), RECEIVE, from, msg);
    saved.receive.call(this, from, msg);
  };
  proto.submit = function (this: CausalCore, op: KvOp) {
    push(slotOf(this), SUBMIT, op);
    saved.submit.call(this, op);
  };
  proto.linkChanged = function (this: CausalCore, peer: NodeId, up: boolean) {
    push(slotOf(this), LINK, peer, up);
    saved.linkChanged.call(this, peer, up);
  };
  proto.ready = function (this: CausalCore) {
    push(slotOf(this), READY);
    const r = saved.ready.call(this);
    rec.out.messages += r.messages.length;
    rec.out.replies += r.replies.length;
    rec.out.persist += r.persist.length;
    return r;
  };
  CausalCore.restore = (snapshot: Snapshot, init: CausalInit): CausalCore => {
    // the disk as the core found it, for the replay
    const copy = new Map<string, [string, unknown][]>();
    for (const space of [SPACE_META, SPACE_KV, SPACE_LOG]) copy.set(space, [...snapshot.entries(space)]);
    const core = saved.restore.call(CausalCore, snapshot, init);
    const s = next++;
    slots.set(core, s);
    push(s, RESTORE, { entries: (space: string) => copy.get(space) ?? [] } satisfies Snapshot, initOf(core));
    return core;
  };
  try {
    run();
  } finally {
    Object.assign(proto, { tick: saved.tick, receive: saved.receive, submit: saved.submit, linkChanged: saved.linkChanged, ready: saved.ready });
    CausalCore.restore = saved.restore;
  }
  return rec;
}

/** Feeds a recording to fresh cores; returns what their Ready batches held. */
export function replayCoreInputs(rec: CoreRecording): CoreRecording['out'] {
  const cores: CausalCore[] = [];
  const logKeys = new SharedLogKeys(); // as the simulator shares one among its cores
  const out = { messages: 0, replies: 0, persist: 0 };
  const { slot, kind, a, b } = rec;
  for (let i = 0; i < kind.length; i++) {
    const s = slot[i] as number;
    switch (kind[i]) {
      case TICK:
        (cores[s] as CausalCore).tick();
        break;
      case RECEIVE:
        (cores[s] as CausalCore).receive(a[i] as NodeId, b[i] as CausalMsg);
        break;
      case SUBMIT:
        (cores[s] as CausalCore).submit(a[i] as KvOp);
        break;
      case LINK:
        (cores[s] as CausalCore).linkChanged(a[i] as NodeId, b[i] as boolean);
        break;
      case READY: {
        const r = (cores[s] as CausalCore).ready();
        out.messages += r.messages.length;
        out.replies += r.replies.length;
        out.persist += r.persist.length;
        break;
      }
      case CREATE:
        cores[s] = new CausalCore({ ...(a[i] as Init), logKeys: logKeys.key });
        break;
      case RESTORE:
        cores[s] = CausalCore.restore(a[i] as Snapshot, { ...(b[i] as Init), logKeys: logKeys.key });
        break;
      default:
        throw new Error(`unknown input kind ${String(kind[i])}`);
    }
  }
  return out;
}

export interface SimCoreBenchResult {
  readonly messages: number;
  readonly inputs: number;
  readonly runSeconds: number;
  /** The collector's pauses during the run. */
  readonly runGcSeconds: number;
  readonly protocolSeconds: number;
  /**
   * The collector's pauses during the replay: more than in the whole run (the recording keeps every
   * input alive), so protocolSeconds overstates the protocol's share by up to the difference.
   */
  readonly protocolGcSeconds: number;
  /** The run's time less the protocol's: the simulator's own share (network, agenda, clients, disk, oracle, history). */
  readonly restSeconds: number;
}

/** Wall time of fn and the collector's pauses during it (observed once the event loop turns). */
async function timed(fn: () => void): Promise<{ seconds: number; gcSeconds: number }> {
  let gc = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  fn();
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 0));
  obs.disconnect();
  return { seconds, gcSeconds: gc / 1000 };
}

export async function runSimCoreBench(o: { seed?: number; ops?: number; nodes?: number; faults?: readonly FaultKind[]; rounds?: number } = {}): Promise<SimCoreBenchResult> {
  const shape = { ops: o.ops, nodes: o.nodes, faults: o.faults };
  const options = simBenchOptions(o.seed ?? 1000, shape);
  runSimulation(simBenchOptions(900, shape)); // warm-up, as bench/sim.ts
  const runs: { seconds: number; gcSeconds: number }[] = [];
  const replays: { seconds: number; gcSeconds: number }[] = [];
  let messages = 0;
  let inputs = 0;
  for (let round = 0; round < (o.rounds ?? 3); round++) {
    runs.push(
      await timed(() => {
        messages = runSimulation(options).summary.messages.sent;
      }),
    );
    const rec = recordCoreInputs(() => runSimulation(options));
    inputs = rec.kind.length;
    replayCoreInputs(rec); // warm-up of the replay loop
    let out = rec.out;
    replays.push(
      await timed(() => {
        out = replayCoreInputs(rec);
      }),
    );
    for (const k of ['messages', 'replies', 'persist'] as const) {
      if (out[k] !== rec.out[k]) throw new Error(`the replay went another way: ${out[k]} ${k} against ${rec.out[k]} in the run`);
    }
  }
  const runSeconds = median(runs.map((r) => r.seconds));
  const protocolSeconds = median(replays.map((r) => r.seconds));
  return {
    messages,
    inputs,
    runSeconds: round3(runSeconds),
    runGcSeconds: round3(median(runs.map((r) => r.gcSeconds))),
    protocolSeconds: round3(protocolSeconds),
    protocolGcSeconds: round3(median(replays.map((r) => r.gcSeconds))),
    restSeconds: round3(runSeconds - protocolSeconds),
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cli = benchCli('sim-core bench');
  const r = await runSimCoreBench({ seed: cli.num('seed', 1000), ops: cli.num('ops', 100_000), nodes: cli.num('nodes', 5), faults: cli.faults(), rounds: Math.max(1, cli.num('rounds', 3)) });
  const target = 200_000;
  const budget = r.messages / target;
  console.log(`run: ${r.messages} messages in ${r.runSeconds} s (${Math.round(r.messages / r.runSeconds)} msgs/s; collector ${r.runGcSeconds} s); ${r.inputs} core inputs`);
  console.log(
    `protocol work alone (the same inputs replayed into fresh cores): ${r.protocolSeconds} s (collector ${r.protocolGcSeconds} s), ` +
      `${Math.round((100 * r.protocolSeconds) / r.runSeconds)} % of the run; ${Math.round(r.messages / r.protocolSeconds)} msgs/s if nothing else took time`,
  );
  console.log(`the rest (network, agenda, clients, disk, oracle, history): ${r.restSeconds} s; for ${target} msgs/s it would have to fit in ${round3(budget - r.protocolSeconds)} s`);
}
