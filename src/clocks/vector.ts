/**
 * Vector clocks over named nodes (`{node1: 2, node2: 0}`), with the array form the lab uses
 * (`[a, b]`, one entry per node in a fixed order). Absent entries count as 0. Values are immutable.
 */
export type Ordering = 'before' | 'after' | 'equal' | 'concurrent';
export type VectorClock = Readonly<Record<string, number>>;

export const emptyVector: VectorClock = Object.freeze({});

/**
 * Compare two clocks: before (a < b), after (a > b), equal, or concurrent. Allocation-free: it runs
 * per message. Clocks usually name the same nodes: then one pass over `a` and a count of `b`'s
 * keys settle it, and `b`'s keys are tested against `a` only when `b` may name a node `a` lacks
 * (a membership test per key costs as much as the comparison itself).
 */
export function compare(a: VectorClock, b: VectorClock): Ordering {
  let less = false;
  let greater = false;
  let inA = 0;
  let allInB = true;
  for (const k in a) {
    inA++;
    const x = a[k] ?? 0;
    const bk = b[k];
    if (bk === undefined) allInB = false;
    const y = bk ?? 0;
    if (x < y) less = true;
    else if (x > y) greater = true;
  }
  let inB = 0;
  for (const _ in b) inB++;
  if (!allInB || inB !== inA) {
    for (const k in b) {
      if (k in a) continue;
      if ((b[k] ?? 0) > 0) less = true;
    }
  }
  if (less && greater) return 'concurrent';
  if (less) return 'before';
  if (greater) return 'after';
  return 'equal';
}

/** a <= b component-wise. */
export function dominatedBy(a: VectorClock, b: VectorClock): boolean {
  for (const k of Object.keys(a)) if ((a[k] ?? 0) > (b[k] ?? 0)) return false;
  return true;
}

/** Least upper bound: the entry-wise maximum. */
export function merge(a: VectorClock, b: VectorClock): VectorClock {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) if (v > (out[k] ?? 0)) out[k] = v;
  return out;
}

/** Own entry + 1: the result is strictly after the input. */
export function increment(a: VectorClock, node: string): VectorClock {
  return { ...a, [node]: (a[node] ?? 0) + 1 };
}

/** Whether `v` can be a clock entry (or a Lamport stamp): a non-negative safe integer. */
export function isCounter(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

export function get(a: VectorClock, node: string): number {
  return a[node] ?? 0;
}

/** A clock with an explicit 0 entry for each listed node (the report's `{node1:0,...}` form). */
export function zero(nodes: readonly string[]): VectorClock {
  return Object.fromEntries(nodes.map((n) => [n, 0]));
}

/** Every listed node present (0 when absent), in the listed order, other entries kept after. */
export function normalize(a: VectorClock, nodes: readonly string[]): VectorClock {
  const out: Record<string, number> = {};
  for (const n of nodes) out[n] = a[n] ?? 0;
  for (const [k, v] of Object.entries(a)) if (!(k in out)) out[k] = v;
  return out;
}

/** Sum of entries: the number of writes a clock has seen. */
export function total(a: VectorClock): number {
  let s = 0;
  for (const v of Object.values(a)) s += v;
  return s;
}

/** Array form used by the lab: index i is nodes[i]. */
export function toArray(a: VectorClock, nodes: readonly string[]): number[] {
  return nodes.map((n) => a[n] ?? 0);
}

export function fromArray(values: readonly number[], nodes: readonly string[]): VectorClock {
  if (values.length !== nodes.length) {
    throw new RangeError(`clock has ${values.length} entries, expected ${nodes.length}`);
  }
  return Object.fromEntries(nodes.map((n, i) => [n, values[i] ?? 0]));
}

/** Compare two array-form clocks of equal length (the lab's vc_lt and friends). */
export function compareArrays(a: readonly number[], b: readonly number[]): Ordering {
  if (a.length !== b.length) throw new RangeError(`clock lengths differ: ${a.length} vs ${b.length}`);
  let less = false;
  let greater = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x < y) less = true;
    else if (x > y) greater = true;
  }
  if (less && greater) return 'concurrent';
  if (less) return 'before';
  if (greater) return 'after';
  return 'equal';
}

export function format(a: VectorClock): string {
  return `{${Object.entries(a).map(([k, v]) => `${k}:${v}`).join(',')}}`;
}
