/**
 * The simulator's causal-delivery oracle (SPEC §2: a write is applied only after every write in its
 * causal past), kept apart from the core's own bookkeeping. A causal core logs every write it
 * applies, local or remote, in the order it applies it (a put in its replication-log space); the
 * oracle reads those puts from each persisted batch and keeps its own count of each origin's
 * writes applied per node. A write breaks causal delivery if it is not the next write of its
 * origin at that node, or if its clock names a write of another origin the node has not applied.
 *
 * Reading the persisted log rather than the cores' events costs the cores nothing: no event object
 * and no copy of the node's clock per applied write.
 *
 * Every write is checked at each node that applies it, with the same clock object (cores hand
 * writes on by reference, and never change what they hand out: see SimDisk): its clock is read into
 * numbers by node index once, on first sight, and kept by origin and sequence number with the clock
 * it came from; a later check of the same clock compares numbers, where walking the clock's keys
 * cost a key-by-key lookup at every node. When the numbers show an entry not yet applied, the clock
 * is walked as before, for the message.
 */
import type { NodeId, StorageOp } from '../core/protocol.js';
import type { CausalWrite } from '../protocols/causal/types.js';
import { format, type VectorClock } from '../clocks/vector.js';
import { nodeIndex } from './node-index.js';
import { grown } from './typed-grow.js';

export class DeliveryOracle {
  readonly #ids: readonly NodeId[];
  readonly #space: string;
  /** Per node (row) and origin (column): the last sequence number applied. */
  readonly #applied: Int32Array;
  /** Per origin, by sequence number: the clock last read into #vectors (see the module comment). */
  readonly #clocks: (VectorClock | undefined)[][];
  /** Per origin: row `seq` holds that clock's entries by node index (n numbers). */
  readonly #vectors: Float64Array[];
  /**
   * Per origin: the clocks below this sequence number were let go, every node having applied them
   * (kept, they lived to the end of the run, and the collector copied and marked them).
   */
  readonly #kept: Int32Array;
  /** Per origin: the sequence number at which #release next runs (every 64 writes). */
  readonly #releaseAt: Int32Array;

  /** `space`: the space the cores log applied writes in (the causal core's SPACE_LOG). */
  constructor(ids: readonly NodeId[], space: string) {
    this.#ids = ids;
    this.#space = space;
    this.#applied = new Int32Array(ids.length * ids.length);
    this.#clocks = ids.map(() => []);
    this.#vectors = ids.map(() => new Float64Array(64 * ids.length));
    this.#kept = new Int32Array(ids.length);
    this.#releaseAt = new Int32Array(ids.length).fill(64);
  }

  /** Node `node` (re)starts having applied exactly `clock` (restored from its disk). */
  reset(node: number, clock: VectorClock): void {
    const n = this.#ids.length;
    for (let o = 0; o < n; o++) this.#applied[node * n + o] = clock[this.#ids[o] as NodeId] ?? 0;
  }

  /** The last write of `origin` that `node` applied, as far as the oracle has seen. */
  applied(node: number, origin: NodeId): number {
    const o = nodeIndex(this.#ids, origin);
    return o < 0 ? 0 : (this.#applied[node * this.#ids.length + o] as number);
  }

  /**
   * Checks the writes `node` logs in `batch`, in order, and counts them as applied. Returns null,
   * or what broke the rule (the first offending write, by origin#seq and key).
   */
  check(node: number, batch: readonly StorageOp[]): string | null {
    const n = this.#ids.length;
    const row = node * n;
    const applied = this.#applied;
    const space = this.#space;
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i] as StorageOp;
      if (op.kind !== 'put' || op.space !== space) continue;
      const w = op.value as CausalWrite;
      const c = w.clock;
      const o = nodeIndex(this.#ids, w.origin);
      const seq = c[w.origin] ?? 0;
      if (o < 0) return `applied ${w.origin}#${seq} (${w.key}) from an origin outside the cluster`;
      const had = applied[row + o] as number;
      if (seq !== had + 1) return `applied ${w.origin}#${seq} (${w.key}) after ${w.origin}#${had}: ${seq > had ? 'writes of its origin skipped' : 'applied twice'}`;
      const vector = this.#vector(o, seq, c);
      if (vector === null || !this.#covered(row, o, vector, seq * n)) {
        const broken = this.#missing(row, w);
        if (broken !== null) return broken;
      }
      applied[row + o] = seq;
      if (seq >= (this.#releaseAt[o] as number)) this.#release(o, seq);
    }
    return null;
  }

  /**
   * Lets go of origin o's clocks that every node has applied (a later check of one reads it
   * again). `seq`: the write just checked.
   */
  #release(o: number, seq: number): void {
    this.#releaseAt[o] = seq + 64;
    const n = this.#ids.length;
    let all = this.#applied[o] as number;
    for (let node = 1; node < n; node++) all = Math.min(all, this.#applied[node * n + o] as number);
    const clocks = this.#clocks[o] as (VectorClock | undefined)[];
    for (let s = this.#kept[o] as number; s <= all && s < clocks.length; s++) clocks[s] = undefined;
    if (all + 1 > (this.#kept[o] as number)) this.#kept[o] = all + 1;
  }

  /**
   * The vectors of origin o, with clock c at row seq (read now unless it was the last clock read
   * there); null when c names a node outside the cluster (checked key by key instead).
   */
  #vector(o: number, seq: number, c: VectorClock): Float64Array | null {
    const clocks = this.#clocks[o] as (VectorClock | undefined)[];
    let vectors = this.#vectors[o] as Float64Array;
    if (clocks[seq] === c) return vectors;
    const ids = this.#ids;
    const n = ids.length;
    if ((seq + 1) * n > vectors.length) {
      vectors = grown(vectors, Math.max(vectors.length * 2, (seq + 1) * n));
      this.#vectors[o] = vectors;
    }
    let keys = 0;
    for (const _ in c) keys++;
    for (let j = 0; j < n; j++) {
      const v = c[ids[j] as NodeId];
      if (v !== undefined) keys--;
      vectors[seq * n + j] = v ?? 0;
    }
    // keys left over: c names a node outside the cluster
    clocks[seq] = keys === 0 ? c : undefined;
    return keys === 0 ? vectors : null;
  }

  /** Whether node `row`'s applied writes cover the vector at `at`, its origin o aside. */
  #covered(row: number, o: number, vectors: Float64Array, at: number): boolean {
    const applied = this.#applied;
    const n = this.#ids.length;
    for (let j = 0; j < n; j++) if (j !== o && (vectors[at + j] as number) > (applied[row + j] as number)) return false;
    return true;
  }

  /** The first entry of w's clock (in the clock's key order) that node `row` has not applied, as a message. */
  #missing(row: number, w: CausalWrite): string | null {
    const c = w.clock;
    const seq = c[w.origin] ?? 0;
    for (const k in c) {
      if (k === w.origin) continue;
      const col = nodeIndex(this.#ids, k);
      const have = col < 0 ? 0 : (this.#applied[row + col] as number);
      if ((c[k] ?? 0) > have) return `applied ${w.origin}#${seq} (${w.key}) with clock ${format(c)} before ${k}#${c[k] as number} (it had applied ${k}#${have})`;
    }
    return null;
  }
}
