/**
 * Histories generated from models whose truth is known, for tests and benchmarks. All randomness
 * comes from the seeded Rng passed in.
 */
import type { Rng } from '../core/rng.js';
import type { HistoryEvent, Json, OpKind } from './history.js';

export interface LinearizableGenOptions {
  readonly processes: number;
  readonly ops: number;
  readonly keys: number;
  /** Probabilities of each kind (the rest are gets). */
  readonly putRatio: number;
  readonly deleteRatio: number;
  /** Probability that a write ends with info (applied or not, at random) or fail (not applied). */
  readonly infoRatio: number;
  readonly failRatio: number;
  /** Longest operation duration and gap between a process's operations (ns). */
  readonly maxDuration: number;
  readonly maxGap: number;
  /** When set, process p is served by nodes[p % n], and the history ends with a read of every key on every node. */
  readonly nodes?: readonly string[];
}

export const LINEARIZABLE_GEN_DEFAULTS: Readonly<LinearizableGenOptions> = Object.freeze({
  processes: 4,
  ops: 100,
  keys: 2,
  putRatio: 0.45,
  deleteRatio: 0.05,
  infoRatio: 0,
  failRatio: 0,
  maxDuration: 100,
  maxGap: 30,
});

interface SimOp {
  readonly id: number;
  process: number;
  readonly f: OpKind;
  readonly key: string;
  readonly value: Json;
  readonly call: number;
  readonly ret: number;
  /** Where it takes effect; null when it never does. */
  readonly at: number | null;
  readonly end: 'ok' | 'info' | 'fail';
  readonly node: string | undefined;
  result: Json;
}

export const keyName = (i: number): string => `k${i}`;

/**
 * A linearizable key-value store under concurrent clients: each operation takes effect at a random
 * instant inside its interval (info writes possibly later, or never), reads return the state at
 * that instant. Put values are unique (a counter), so the history is also causal and sequential.
 */
export function generateLinearizableHistory(rng: Rng, options: Partial<LinearizableGenOptions> = {}): HistoryEvent[] {
  const o: LinearizableGenOptions = { ...LINEARIZABLE_GEN_DEFAULTS, ...options };
  const clock = Array.from({ length: o.processes }, () => rng.int(0, o.maxGap));
  const procId = Array.from({ length: o.processes }, (_, p) => p);
  let nextProc = o.processes;
  let counter = 0;
  const ops: SimOp[] = [];
  for (let i = 0; i < o.ops; i++) {
    // the process that is free earliest issues the next operation
    let p = 0;
    for (let q = 1; q < o.processes; q++) if ((clock[q] as number) < (clock[p] as number)) p = q;
    const call = clock[p] as number;
    const ret = call + rng.int(1, o.maxDuration);
    clock[p] = ret + rng.int(1, o.maxGap);
    const x = rng.next();
    const f: OpKind = x < o.putRatio ? 'put' : x < o.putRatio + o.deleteRatio ? 'delete' : 'get';
    const key = keyName(rng.int(0, o.keys - 1));
    const y = rng.next();
    const end = f === 'get' ? 'ok' : y < o.infoRatio ? 'info' : y < o.infoRatio + o.failRatio ? 'fail' : 'ok';
    const at = end === 'fail' ? null : end === 'info' ? (rng.chance(0.5) ? call + rng.int(0, 4 * o.maxDuration) : null) : rng.int(call, ret);
    ops.push({
      id: i,
      process: procId[p] as number,
      f,
      key,
      value: f === 'put' ? ++counter : null,
      call,
      ret,
      at,
      end,
      node: o.nodes ? (o.nodes[p % o.nodes.length] as string) : undefined,
      result: null,
    });
    if (end === 'info') procId[p] = nextProc++; // as Jepsen does: a crashed process comes back under a new id
  }
  const state = new Map<string, Json>();
  const applied = ops.filter((op) => op.at !== null).sort((a, b) => (a.at as number) - (b.at as number) || a.id - b.id);
  for (const op of applied) {
    if (op.f === 'put') state.set(op.key, op.value);
    else if (op.f === 'delete') state.delete(op.key);
    else op.result = state.get(op.key) ?? null;
  }
  const events: { ev: HistoryEvent; order: number }[] = [];
  let seq = 0;
  for (const op of ops) {
    const node = op.node === undefined ? {} : { node: op.node };
    events.push({ ev: { process: op.process, type: 'invoke', f: op.f, key: op.key, value: op.f === 'put' ? op.value : null, time: op.call, ...node }, order: seq++ });
    const value = op.f === 'get' ? op.result : op.f === 'put' ? op.value : null;
    events.push({ ev: { process: op.process, type: op.end, f: op.f, key: op.key, value, time: op.ret, ...node }, order: seq++ });
  }
  if (o.nodes) {
    let t = Math.max(...ops.map((op) => Math.max(op.ret, op.at ?? 0))) + 10;
    o.nodes.forEach((node, n) => {
      const process = nextProc + n;
      for (let k = 0; k < o.keys; k++) {
        const key = keyName(k);
        events.push({ ev: { process, type: 'invoke', f: 'get', key, value: null, time: t, node }, order: seq++ });
        events.push({ ev: { process, type: 'ok', f: 'get', key, value: state.get(key) ?? null, time: t + 5, node }, order: seq++ });
        t += 10;
      }
    });
  }
  events.sort((a, b) => a.ev.time - b.ev.time || a.order - b.order);
  return events.map((e) => e.ev);
}

export interface SequentialGenOptions {
  readonly processes: number;
  readonly opsPerProcess: number;
  readonly keys: number;
}

/**
 * A sequentially consistent execution: a random interleaving of the processes' programs applied to
 * one register per key. Real time then runs the processes one after another (P0 entirely, then P1,
 * ...), so the only linearization is that serial order: `linearizable` says whether it is legal.
 */
export function generateSequentialHistory(
  rng: Rng,
  options: Partial<SequentialGenOptions> = {},
): { events: HistoryEvent[]; linearizable: boolean } {
  const o: SequentialGenOptions = { processes: 3, opsPerProcess: 4, keys: 2, ...options };
  interface P {
    f: OpKind;
    key: string;
    value: Json;
  }
  const programs: P[][] = Array.from({ length: o.processes }, () => []);
  const remaining = Array.from({ length: o.processes }, () => o.opsPerProcess);
  const state = new Map<string, Json>();
  let counter = 0;
  while (remaining.some((r) => r > 0)) {
    const live = remaining.flatMap((r, p) => (r > 0 ? [p] : []));
    const p = rng.pick(live);
    remaining[p] = (remaining[p] as number) - 1;
    const key = keyName(rng.int(0, o.keys - 1));
    const x = rng.next();
    let op: P;
    if (x < 0.45) {
      op = { f: 'put', key, value: ++counter };
      state.set(key, op.value);
    } else if (x < 0.5) {
      op = { f: 'delete', key, value: null };
      state.delete(key);
    } else op = { f: 'get', key, value: state.get(key) ?? null };
    (programs[p] as P[]).push(op);
  }
  const events: HistoryEvent[] = [];
  let t = 0;
  const serial = new Map<string, Json>();
  let legal = true;
  programs.forEach((prog, p) => {
    for (const op of prog) {
      if (op.f === 'put') serial.set(op.key, op.value);
      else if (op.f === 'delete') serial.delete(op.key);
      else if ((serial.get(op.key) ?? null) !== op.value) legal = false;
      events.push({ process: p, type: 'invoke', f: op.f, key: op.key, value: op.f === 'put' ? op.value : null, time: t });
      events.push({ process: p, type: 'ok', f: op.f, key: op.key, value: op.f === 'delete' ? null : op.value, time: t + 5 });
      t += 10;
    }
  });
  return { events, linearizable: legal };
}

/**
 * Turns one read into a stale one that no linearization allows: a read r of key k returning the
 * value of put w1 where another put w2 of k starts after w1 completes and completes before r starts.
 * Returns null when the history has no such triple.
 */
export function makeStaleRead(events: readonly HistoryEvent[], rng: Rng): { events: HistoryEvent[]; line: number } | null {
  interface Iv {
    call: number;
    ret: number;
    value: Json;
    completion: number;
  }
  const open = new Map<string, { ev: HistoryEvent; i: number }>();
  const puts = new Map<string, Iv[]>();
  const reads: (Iv & { key: string })[] = [];
  events.forEach((ev, i) => {
    const pk = `${typeof ev.process}:${String(ev.process)}`;
    if (ev.type === 'invoke') {
      open.set(pk, { ev, i });
      return;
    }
    const inv = open.get(pk);
    open.delete(pk);
    if (!inv || ev.type !== 'ok') return;
    const iv = { call: inv.ev.time, ret: ev.time, value: (inv.ev.f === 'put' ? inv.ev.value : ev.value) ?? null, completion: i };
    if (ev.f === 'put') {
      const l = puts.get(ev.key) ?? [];
      l.push(iv);
      puts.set(ev.key, l);
    } else if (ev.f === 'get') reads.push({ ...iv, key: ev.key });
  });
  const candidates: { read: number; value: Json }[] = [];
  for (const r of reads) {
    const ps = puts.get(r.key) ?? [];
    for (const w1 of ps) {
      if (w1.value === r.value) continue;
      if (ps.some((w2) => w2.call > w1.ret && w2.ret < r.call && w2.value !== w1.value)) candidates.push({ read: r.completion, value: w1.value });
    }
  }
  if (candidates.length === 0) return null;
  const c = rng.pick(candidates);
  const out = events.slice();
  out[c.read] = { ...(out[c.read] as HistoryEvent), value: c.value };
  return { events: out, line: c.read + 1 };
}

/** Replaces one ok read's value by one never written. Returns null without ok reads. */
export function makePhantomRead(events: readonly HistoryEvent[], rng: Rng): { events: HistoryEvent[]; line: number } | null {
  const reads = events.flatMap((ev, i) => (ev.f === 'get' && ev.type === 'ok' ? [i] : []));
  if (reads.length === 0) return null;
  const i = rng.pick(reads);
  const out = events.slice();
  out[i] = { ...(out[i] as HistoryEvent), value: 'never-written' };
  return { events: out, line: i + 1 };
}
