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
 */
import type { NodeId, StorageOp } from '../core/protocol.js';
import type { CausalWrite } from '../protocols/causal/types.js';
import { format, type VectorClock } from '../clocks/vector.js';
import { nodeIndex } from './node-index.js';

export class DeliveryOracle {
  readonly #ids: readonly NodeId[];
  readonly #space: string;
  /** Per node (row) and origin (column): the last sequence number applied. */
  readonly #applied: Int32Array;

  /** `space`: the space the cores log applied writes in (the causal core's SPACE_LOG). */
  constructor(ids: readonly NodeId[], space: string) {
    this.#ids = ids;
    this.#space = space;
    this.#applied = new Int32Array(ids.length * ids.length);
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
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i] as StorageOp;
      if (op.kind !== 'put' || op.space !== this.#space) continue;
      const w = op.value as CausalWrite;
      const c = w.clock;
      const o = nodeIndex(this.#ids, w.origin);
      const seq = c[w.origin] ?? 0;
      if (o < 0) return `applied ${w.origin}#${seq} (${w.key}) from an origin outside the cluster`;
      const had = applied[row + o] as number;
      if (seq !== had + 1) return `applied ${w.origin}#${seq} (${w.key}) after ${w.origin}#${had}: ${seq > had ? 'writes of its origin skipped' : 'applied twice'}`;
      for (const k in c) {
        if (k === w.origin) continue;
        const col = nodeIndex(this.#ids, k);
        const have = col < 0 ? 0 : (applied[row + col] as number);
        if ((c[k] ?? 0) > have) return `applied ${w.origin}#${seq} (${w.key}) with clock ${format(c)} before ${k}#${c[k] as number} (it had applied ${k}#${have})`;
      }
      applied[row + o] = seq;
    }
    return null;
  }
}
