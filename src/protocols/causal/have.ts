import type { NodeId } from '../../core/protocol.js';

/**
 * What a node's causal-delivery buffer holds beyond its clock, as sync requests and acks carry it
 * (`have`): per origin, ascending ranges of sequence numbers as flat pairs [first, last, ...].
 */
export type HaveRanges = Readonly<Record<NodeId, readonly number[]>>;

/** Most ranges a `have` names (beyond, the answer just carries more). */
export const MAX_HAVE_RANGES = 1000;

/** Whether `have` names write `seq` of `origin`. */
export function heldIn(have: HaveRanges, origin: NodeId, seq: number): boolean {
  if (!Object.hasOwn(have, origin)) return false;
  const pairs = have[origin] as readonly number[];
  // binary search for the last range starting at or before seq
  let lo = 0;
  let hi = (pairs.length >> 1) - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((pairs[2 * mid] as number) <= seq) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && seq <= (pairs[2 * found + 1] as number);
}

/**
 * The sequence numbers a buffer holds, per origin, kept sorted, so that its `have` is one pass
 * (acks carry it at every ack tick the buffer changed: building it by iterating and sorting a map
 * per origin each time cost the simulator 2 % of its run), and built once per change of the set
 * (acks to every peer and sync requests share it). Writes usually arrive in sequence order and
 * leave from the oldest: an append and a removal at the front, with a binary search otherwise.
 */
export class HeldSeqs {
  /** Per origin: held numbers ascending from index `head` (removals at the front just move it). */
  readonly #byOrigin = new Map<NodeId, { seqs: number[]; head: number }>();
  #size = 0;
  #added = 0;
  /** ranges(#cachedMax) of the set as it is; null once it changed. Handed out, so never changed. */
  #cached: Record<NodeId, number[]> | null = null;
  #cachedMax = 0;

  get size(): number {
    return this.#size;
  }

  /** Numbers ever added (it only grows): a change to report, with the clock, in the next ack. */
  get added(): number {
    return this.#added;
  }

  has(origin: NodeId, seq: number): boolean {
    const run = this.#byOrigin.get(origin);
    return run !== undefined && search(run.seqs, run.head, seq) >= 0;
  }

  /** Adds `seq` (a number not held yet). */
  add(origin: NodeId, seq: number): void {
    let run = this.#byOrigin.get(origin);
    if (run === undefined) this.#byOrigin.set(origin, (run = { seqs: [], head: 0 }));
    const seqs = run.seqs;
    if (seqs.length === run.head || (seqs[seqs.length - 1] as number) < seq) seqs.push(seq);
    else seqs.splice(-search(seqs, run.head, seq) - 1, 0, seq);
    this.#size++;
    this.#added++;
    this.#cached = null;
  }

  delete(origin: NodeId, seq: number): void {
    const run = this.#byOrigin.get(origin);
    if (run === undefined) return;
    const seqs = run.seqs;
    const at = search(seqs, run.head, seq);
    if (at < 0) return;
    this.#size--;
    this.#cached = null;
    if (at === run.head) {
      run.head++;
      if (run.head === seqs.length) {
        seqs.length = 0;
        run.head = 0;
      } else if (run.head > 64 && run.head * 2 > seqs.length) {
        seqs.splice(0, run.head);
        run.head = 0;
      }
    } else seqs.splice(at, 1);
  }

  clear(): void {
    this.#byOrigin.clear();
    this.#size = 0;
    this.#cached = null;
  }

  /** The numbers held as a `have`: per origin, ascending ranges, at most `max` ranges in all. */
  ranges(max: number = MAX_HAVE_RANGES): Record<NodeId, number[]> {
    if (this.#cached !== null && this.#cachedMax === max) return this.#cached;
    const out: Record<NodeId, number[]> = {};
    let ranges = 0;
    for (const [origin, run] of this.#byOrigin) {
      const seqs = run.seqs;
      if (seqs.length === run.head || ranges >= max) continue;
      const pairs: number[] = [];
      for (let i = run.head; i < seqs.length && ranges < max; ) {
        const first = seqs[i] as number;
        let last = first;
        while (++i < seqs.length && (seqs[i] as number) === last + 1) last++;
        pairs.push(first, last);
        ranges++;
      }
      out[origin] = pairs;
    }
    this.#cachedMax = max;
    return (this.#cached = out);
  }
}

/** Index of `seq` in the ascending seqs[from..], or -(insertion point) - 1 when absent. */
function search(seqs: readonly number[], from: number, seq: number): number {
  let lo = from;
  let hi = seqs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = seqs[mid] as number;
    if (v < seq) lo = mid + 1;
    else if (v > seq) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}
