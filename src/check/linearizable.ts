/**
 * Linearizability of a key-value history (Herlihy & Wing 1990): every operation appears to take
 * effect at one instant between its invoke and its completion, in one order that a register per key
 * allows. Linearizability is local (P-compositional), so each key is checked on its own.
 *
 * Per key: the Wing–Gong search with Lowe's memoization, as Porcupine does — call and return
 * entries in one time-ordered list; linearize a pending call when the register allows it and the
 * (linearized set, state) pair is new, lift it out of the list, and backtrack on reaching the
 * return of an operation not yet linearized. `info` operations may take effect at any time after
 * their invoke, or never: their return sits at +∞, so reaching one means every completed operation
 * has been placed. A step budget turns a search that would run too long into 'unknown'.
 */
import { assertNever } from '../core/assert.js';
import { StateSet } from './state-set.js';
import { Rng } from '../core/rng.js';
import { canonical, formatOp, type History, type Operation } from './history.js';
import { unwrittenReads } from './common.js';
import { invalid, type Verdict, type Violation } from './verdict.js';

export interface LinearizableOptions {
  /** Search steps allowed over the whole history before answering 'unknown'. */
  readonly maxSteps: number;
}

export const LINEARIZABLE_DEFAULTS: Readonly<LinearizableOptions> = Object.freeze({ maxSteps: 10_000_000 });

/**
 * Words of linearized-set bitsets Lowe's memo may hold for one key (32M words: 128 MiB). Each
 * entry copies the whole set, so a key with n operations costs n/32 words per step: 128k
 * operations on one key, even one after another, took 2.3 GB. The memo only prunes repeated
 * configurations; past this budget the search goes on without adding to it, still exact, and the
 * step budget bounds its time.
 */
export const MEMO_WORDS = 32 * 1024 * 1024;

interface Entry {
  readonly call: boolean;
  /** Index into the key's operation list. */
  readonly op: number;
  readonly time: number;
  /** Line in the history file: orders events with equal times, as they were recorded. */
  readonly line: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** `memoWords`: words of bitsets the memo held at the end (at most the `memoWords` budget). */
export type KeyResult =
  | { readonly kind: 'ok'; readonly steps: number; readonly memoWords: number; readonly order: readonly Operation[] }
  | { readonly kind: 'fail'; readonly steps: number; readonly memoWords: number; readonly prefix: readonly Operation[]; readonly blocked: Operation; readonly state: string }
  | { readonly kind: 'budget'; readonly steps: number; readonly memoWords: number };

/** Interns values of one key as small integers; 0 is "absent" (null). */
class ValueTable {
  readonly #ids = new Map<string, number>([['null', 0]]);
  readonly names: string[] = ['null'];
  id(v: Operation['value']): number {
    const c = canonical(v);
    let id = this.#ids.get(c);
    if (id === undefined) {
      id = this.names.length;
      this.#ids.set(c, id);
      this.names.push(c);
    }
    return id;
  }
}

/**
 * Searches for a linearization of the operations on one key (all must share the key). Gets must be
 * ok; puts and deletes may be info.
 */
export function linearizeKey(ops: readonly Operation[], maxSteps: number, memoWords = MEMO_WORDS): KeyResult {
  const n = ops.length;
  const values = new ValueTable();
  // effect[i]: for writes the value id written; for gets the value id that must be read.
  const effect = ops.map((op) => (op.f === 'delete' ? 0 : values.id(op.value)));
  const isRead = ops.map((op) => op.f === 'get');

  const entries: Entry[] = [];
  ops.forEach((op, i) => {
    const c: Entry = { call: true, op: i, time: op.call, line: op.invokeLine, match: null, prev: null, next: null };
    const r: Entry = { call: false, op: i, time: op.ret, line: op.completeLine ?? Infinity, match: null, prev: null, next: null };
    c.match = r;
    entries.push(c, r);
  });
  // Time order; equal times in the order the events were recorded (which keeps each process's order).
  entries.sort((a, b) => a.time - b.time || a.line - b.line || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const head: Entry = { call: false, op: -1, time: -Infinity, line: 0, match: null, prev: null, next: null };
  let last = head;
  for (const e of entries) {
    e.prev = last;
    last.next = e;
    last = e;
  }

  const words = (n + 31) >>> 5;
  // The memo's key: the register state in word 0, the linearized set's bits after it (`lin` is a view).
  const key = new Int32Array(words + 1);
  const lin = new Uint32Array(key.buffer, 4, words);
  const zobrist = new Uint32Array(n);
  const rng = new Rng(0x5eed ^ n);
  for (let i = 0; i < n; i++) zobrist[i] = rng.nextU32();
  let linHash = 0;
  const memo = new StateSet(words + 1, memoWords);
  const seen = (state: number): boolean => {
    key[0] = state;
    return memo.visit(key, linHash ^ Math.imul(state + 1, 0x9e3779b1));
  };

  const calls: { entry: Entry; state: number }[] = [];
  let state = 0;
  let steps = 0;
  let best: { prefix: number[]; blocked: number; state: number } | null = null;
  let entry = head.next;
  while (entry !== null) {
    if (++steps > maxSteps) return { kind: 'budget', steps, memoWords: memo.words };
    const i = entry.op;
    if (entry.call) {
      const e = effect[i] as number;
      const allowed = isRead[i] ? state === e : true;
      const next = isRead[i] ? state : e;
      if (allowed) {
        lin[i >>> 5] = (lin[i >>> 5] as number) | (1 << (i & 31));
        linHash ^= zobrist[i] as number;
        if (!seen(next)) {
          calls.push({ entry, state });
          state = next;
          // lift the call and its return out of the list
          const m = entry.match as Entry;
          (entry.prev as Entry).next = entry.next;
          (entry.next as Entry).prev = entry.prev;
          (m.prev as Entry).next = m.next;
          if (m.next) m.next.prev = m.prev;
          entry = head.next;
          continue;
        }
        lin[i >>> 5] = (lin[i >>> 5] as number) & ~(1 << (i & 31));
        linHash ^= zobrist[i] as number;
      }
      entry = entry.next;
      continue;
    }
    // A return: every completed operation before it is placed once we reach an info op's +∞ return.
    if (entry.time === Infinity) break;
    if (best === null || calls.length > best.prefix.length) {
      best = { prefix: calls.map((c) => c.entry.op), blocked: i, state };
    }
    const top = calls.pop();
    if (!top) {
      const b = best as { prefix: number[]; blocked: number; state: number };
      return {
        kind: 'fail',
        steps,
        memoWords: memo.words,
        prefix: b.prefix.map((k) => ops[k] as Operation),
        blocked: ops[b.blocked] as Operation,
        state: values.names[b.state] as string,
      };
    }
    // unlift
    const c = top.entry;
    const m = c.match as Entry;
    (m.prev as Entry).next = m;
    if (m.next) m.next.prev = m;
    (c.prev as Entry).next = c;
    (c.next as Entry).prev = c;
    state = top.state;
    lin[c.op >>> 5] = (lin[c.op >>> 5] as number) & ~(1 << (c.op & 31));
    linHash ^= zobrist[c.op] as number;
    entry = c.next;
  }
  return { kind: 'ok', steps, memoWords: memo.words, order: calls.map((c) => ops[c.entry.op] as Operation) };
}

/** Groups operations by key, in key order. Gets whose outcome is unknown are already absent. */
export function byKey(ops: readonly Operation[]): Map<string, Operation[]> {
  const m = new Map<string, Operation[]>();
  for (const op of ops) {
    const list = m.get(op.key);
    if (list) list.push(op);
    else m.set(op.key, [op]);
  }
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function explainFailure(key: string, r: Extract<KeyResult, { kind: 'fail' }>): Violation {
  const shown = r.prefix.slice(-10);
  const prefixText =
    r.prefix.length === 0
      ? 'no operation on it can be linearized first'
      : `the longest linearizable prefix has ${r.prefix.length} operation(s)` +
        (r.prefix.length > shown.length ? ` (last ${shown.length} shown)` : '') +
        `:\n${shown.map((op) => `    ${formatOp(op)}`).join('\n')}\n  after which the register holds ${r.state}`;
  const b = r.blocked;
  const why =
    b.f === 'get'
      ? `it read ${JSON.stringify(b.value)}, which no order of the operations concurrent with it can produce before it returned at t=${b.ret}`
      : `it must take effect before it returned at t=${b.ret}, and no order of the operations before it allows that`;
  return {
    rule: 'linearizability',
    explanation:
      `key "${key}": no linearization exists; ${prefixText}\n` +
      `  then this operation cannot be placed: ${formatOp(b)}\n  — ${why}`,
    ops: [b, ...shown],
  };
}

/** Checks a history for linearizability, key by key. */
export function checkLinearizable(history: History, options: Partial<LinearizableOptions> = {}): Verdict {
  const phantom = unwrittenReads(history);
  if (phantom.length > 0) return invalid('linearizable', phantom);
  const opts: LinearizableOptions = { ...LINEARIZABLE_DEFAULTS, ...options };
  let budget = opts.maxSteps;
  let unknown: string | null = null;
  for (const [key, list] of byKey(history.ops)) {
    const r = linearizeKey(list, budget);
    budget -= r.steps;
    switch (r.kind) {
      case 'ok':
        break;
      case 'fail':
        return invalid('linearizable', [explainFailure(key, r)], key);
      case 'budget':
        unknown ??= `search budget of ${opts.maxSteps} steps exhausted on key "${key}" (${list.length} operations); no violation found so far`;
        break;
      default:
        assertNever(r, 'key result');
    }
  }
  if (unknown !== null) return { valid: 'unknown', model: 'linearizable', reason: unknown };
  return { valid: true, model: 'linearizable' };
}
