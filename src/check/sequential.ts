/**
 * Sequential consistency (Lamport 1979): one total order of all operations that respects each
 * process's order and in which every read returns the latest write of its key. No real-time
 * constraint.
 *
 * Unlike linearizability it is not compositional: every key can be sequentially consistent on its
 * own while the whole is not. So the checker is sound in both directions:
 *  1. a read of a value never written is a violation;
 *  2. if every key is linearizable the whole history is (locality), hence sequentially consistent;
 *  3. the projection of a valid total order on one key is valid, so a key without one proves the
 *     history invalid;
 *  4. otherwise an exhaustive search over interleavings of the processes, memoized on
 *     (positions, fired info writes, register state), the memo bounded as the linearizable
 *     checker's (MEMO_WORDS). Enabled reads are placed eagerly (a read changes no state, so placing
 *     it as early as allowed loses no order). Budget → 'unknown'.
 * An info write may take effect at any point after its process's earlier operations, or never.
 */
import { canonical, formatOp, type History, type Operation } from './history.js';
import { unwrittenReads } from './common.js';
import { MEMO_WORDS, byKey, linearizeKey } from './linearizable.js';
import { StateSet } from './state-set.js';
import { invalid, type Verdict, type Violation } from './verdict.js';

export interface SequentialOptions {
  /** Search steps allowed (per-key searches and the global one each get this budget). */
  readonly maxSteps: number;
}

export const SEQUENTIAL_DEFAULTS: Readonly<SequentialOptions> = Object.freeze({ maxSteps: 2_000_000 });

/** `memoWords`: words of states the memo held at the end (at most the `memoWords` budget). */
export type SequentialSearchResult =
  | { readonly kind: 'ok'; readonly memoWords: number }
  | { readonly kind: 'fail'; readonly memoWords: number; readonly placed: number; readonly stuck: readonly Operation[]; readonly holds: readonly string[] }
  | { readonly kind: 'budget'; readonly memoWords: number };

interface Frame {
  /** Threads advanced by eager reads on entering this frame (undone on leaving it). */
  readonly forced: number[];
  readonly choices: number[];
  next: number;
  /** The choice currently applied from this frame, and the register value it replaced. */
  applied: number;
  prev: number;
}

/**
 * Searches for a total order of `ops` (ok operations and info writes) that respects process order.
 * Choices are encoded as thread index t (0..T-1) or T + floater index.
 */
export function sequentialSearch(ops: readonly Operation[], maxSteps: number, memoWords = MEMO_WORDS): SequentialSearchResult {
  const keyIdx = new Map<string, number>();
  const valIdx = new Map<string, number>([['null', 0]]);
  const vid = (op: Operation): number => {
    if (op.f === 'delete') return 0;
    const c = canonical(op.value);
    let v = valIdx.get(c);
    if (v === undefined) {
      v = valIdx.size;
      valIdx.set(c, v);
    }
    return v;
  };
  const names = (): string[] => {
    const out: string[] = [];
    for (const [c, v] of valIdx) out[v] = c;
    return out;
  };
  const procIdx = new Map<string, number>();
  const threads: Operation[][] = [];
  const floaters: { op: Operation; thread: number; after: number }[] = [];
  for (const op of ops) {
    if (!keyIdx.has(op.key)) keyIdx.set(op.key, keyIdx.size);
    const pk = `${typeof op.process}:${String(op.process)}`;
    let t = procIdx.get(pk);
    if (t === undefined) {
      t = threads.length;
      procIdx.set(pk, t);
      threads.push([]);
    }
    const thread = threads[t] as Operation[];
    if (op.status === 'ok') thread.push(op);
    else if (op.f !== 'get') floaters.push({ op, thread: t, after: thread.length });
  }
  const T = threads.length;
  const F = floaters.length;
  const K = keyIdx.size;
  const tKey = threads.map((th) => th.map((op) => keyIdx.get(op.key) as number));
  const tVal = threads.map((th) => th.map(vid));
  const tRead = threads.map((th) => th.map((op) => op.f === 'get'));
  const fKey = floaters.map((f) => keyIdx.get(f.op.key) as number);
  const fVal = floaters.map((f) => vid(f.op));
  const callOf = (c: number): number => (c < T ? (threads[c] as Operation[])[pos[c] as number] as Operation : (floaters[c - T] as { op: Operation }).op).call;

  const pos = new Int32Array(T);
  // Fired info writes as a bitset: the memo's states hold F/32 words for them, not F.
  const FW = (F + 31) >>> 5;
  const fired = new Uint32Array(FW);
  const isFired = (f: number): boolean => (((fired[f >>> 5] as number) >>> (f & 31)) & 1) === 1;
  const reg = new Int32Array(K);
  const total = threads.reduce((s, th) => s + th.length, 0);
  let placed = 0;
  const snap = new Int32Array(T + FW + K);
  // The memo only prunes: once it holds `memoWords` words, states are still looked up but no longer
  // added, and the search stays exact (as the linearizable checker's).
  const memo = new StateSet(snap.length, memoWords);
  const seen = (): boolean => {
    snap.set(pos, 0);
    for (let i = 0; i < FW; i++) snap[T + i] = fired[i] as number;
    snap.set(reg, T + FW);
    return memo.visit(snap);
  };

  let best: { placed: number; stuck: Operation[]; holds: string[] } | null = null;
  const frames: Frame[] = [];
  let steps = 0;

  const undoForced = (forced: number[]): void => {
    for (const t of forced) pos[t] = (pos[t] as number) - 1;
    placed -= forced.length;
  };

  /** Places eager reads, then pushes a frame of choices; returns 'done', 'dead' or 'pushed'. */
  const enter = (): 'done' | 'dead' | 'pushed' => {
    const forced: number[] = [];
    let changed = true;
    while (changed) {
      changed = false;
      for (let t = 0; t < T; t++) {
        const th = threads[t] as Operation[];
        let p = pos[t] as number;
        while (p < th.length && (tRead[t] as boolean[])[p] && reg[(tKey[t] as number[])[p] as number] === (tVal[t] as number[])[p]) {
          p++;
          forced.push(t);
          changed = true;
        }
        pos[t] = p;
      }
    }
    placed += forced.length;
    if (placed === total) return 'done';
    if (seen()) {
      undoForced(forced);
      return 'dead';
    }
    const wanted = new Set<number>();
    const choices: number[] = [];
    for (let t = 0; t < T; t++) {
      const p = pos[t] as number;
      if (p >= (threads[t] as Operation[]).length) continue;
      const k = (tKey[t] as number[])[p] as number;
      const v = (tVal[t] as number[])[p] as number;
      if ((tRead[t] as boolean[])[p]) wanted.add(k * 65536 + v);
      else choices.push(t);
    }
    for (let f = 0; f < F; f++) {
      const fl = floaters[f] as { thread: number; after: number };
      if (!isFired(f) && (pos[fl.thread] as number) >= fl.after) choices.push(T + f);
    }
    if (choices.length === 0) {
      if (best === null || placed > best.placed) {
        const stuck: Operation[] = [];
        const holds: string[] = [];
        const nm = names();
        for (let t = 0; t < T; t++) {
          const op = (threads[t] as Operation[])[pos[t] as number];
          if (op) {
            stuck.push(op);
            holds.push(`${op.key} = ${nm[reg[keyIdx.get(op.key) as number] as number] ?? '?'}`);
          }
        }
        best = { placed, stuck, holds };
      }
      undoForced(forced);
      return 'dead';
    }
    const helps = (c: number): boolean =>
      c < T
        ? wanted.has(((tKey[c] as number[])[pos[c] as number] as number) * 65536 + ((tVal[c] as number[])[pos[c] as number] as number))
        : wanted.has((fKey[c - T] as number) * 65536 + (fVal[c - T] as number));
    choices.sort((a, b) => Number(helps(b)) - Number(helps(a)) || callOf(a) - callOf(b) || a - b);
    frames.push({ forced, choices, next: 0, applied: -1, prev: 0 });
    return 'pushed';
  };

  const undoApplied = (fr: Frame): void => {
    const c = fr.applied;
    if (c < 0) return;
    if (c < T) {
      pos[c] = (pos[c] as number) - 1;
      reg[(tKey[c] as number[])[pos[c] as number] as number] = fr.prev;
      placed--;
    } else {
      const f = c - T;
      fired[f >>> 5] = (fired[f >>> 5] as number) & ~(1 << (f & 31));
      reg[fKey[c - T] as number] = fr.prev;
    }
    fr.applied = -1;
  };

  const used = (): number => memo.words;
  const first = enter();
  if (first === 'done') return { kind: 'ok', memoWords: used() };
  while (frames.length > 0) {
    if (++steps > maxSteps) return { kind: 'budget', memoWords: used() };
    const fr = frames[frames.length - 1] as Frame;
    undoApplied(fr);
    if (fr.next >= fr.choices.length) {
      undoForced(fr.forced);
      frames.pop();
      continue;
    }
    const c = fr.choices[fr.next++] as number;
    fr.applied = c;
    if (c < T) {
      const p = pos[c] as number;
      const k = (tKey[c] as number[])[p] as number;
      fr.prev = reg[k] as number;
      reg[k] = (tVal[c] as number[])[p] as number;
      pos[c] = p + 1;
      placed++;
    } else {
      const k = fKey[c - T] as number;
      fr.prev = reg[k] as number;
      reg[k] = fVal[c - T] as number;
      const f = c - T;
      fired[f >>> 5] = (fired[f >>> 5] as number) | (1 << (f & 31));
    }
    const r = enter();
    if (r === 'done') return { kind: 'ok', memoWords: used() };
  }
  const b = best as { placed: number; stuck: Operation[]; holds: string[] } | null;
  return { kind: 'fail', memoWords: used(), placed: b?.placed ?? 0, stuck: b?.stuck ?? [], holds: b?.holds ?? [] };
}

function explain(scope: string, total: number, r: Extract<SequentialSearchResult, { kind: 'fail' }>): Violation {
  const lines = r.stuck.map((op, i) => `    ${formatOp(op)}   (${r.holds[i] ?? ''})`);
  return {
    rule: 'sequential-order',
    explanation:
      `${scope}: no total order of the ${total} operations respects every process's order and register semantics.\n` +
      `  The deepest order found places ${r.placed} operations; there every process is blocked on a read the register cannot satisfy:\n` +
      lines.join('\n'),
    ops: r.stuck,
  };
}

/** Checks a history for sequential consistency. */
export function checkSequential(history: History, options: Partial<SequentialOptions> = {}): Verdict {
  const opts: SequentialOptions = { ...SEQUENTIAL_DEFAULTS, ...options };
  const phantom = unwrittenReads(history);
  if (phantom.length > 0) return invalid('sequential', phantom);
  const keys = byKey(history.ops);
  // Locality of linearizability: all keys linearizable ⇒ the history is linearizable ⇒ sequential.
  let budget = opts.maxSteps;
  let allLinearizable = true;
  for (const list of keys.values()) {
    const r = linearizeKey(list, Math.max(0, budget));
    budget -= r.steps;
    if (r.kind !== 'ok') {
      allLinearizable = false;
      break;
    }
  }
  if (allLinearizable) return { valid: true, model: 'sequential', notes: ['the history is linearizable, hence sequentially consistent'] };

  let unknownKey: string | null = null;
  for (const [key, list] of keys) {
    const r = sequentialSearch(list, opts.maxSteps);
    if (r.kind === 'fail') return invalid('sequential', [explain(`key "${key}"`, list.length, r)], key);
    if (r.kind === 'budget') unknownKey ??= key;
  }
  if (keys.size <= 1 && unknownKey === null) return { valid: true, model: 'sequential' };
  const r = sequentialSearch(history.ops, opts.maxSteps);
  switch (r.kind) {
    case 'ok':
      return { valid: true, model: 'sequential' };
    case 'fail':
      return invalid('sequential', [explain('all keys together (each key alone is fine)', history.ops.length, r)]);
    case 'budget':
      return {
        valid: 'unknown',
        model: 'sequential',
        reason: `search budget of ${opts.maxSteps} steps exhausted${unknownKey === null ? '' : ` (first on key "${unknownKey}")`}; no violation found so far`,
      };
  }
}
