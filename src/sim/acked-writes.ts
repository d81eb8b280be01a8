/**
 * Every acknowledged write (put or delete) of a simulation, for the durability check at the end
 * (SPEC.md §2/§3: after quiescence each one is present, as the value or a sibling, or overwritten).
 * Kept in columns: a clock whose entries are exactly the node ids in order (every clock the causal
 * core hands out) is stored as numbers, so tens of thousands of acknowledged writes keep neither an
 * object each nor their clocks alive for the collector to copy; any other clock is kept as is.
 */
import { dominatedBy, type VectorClock } from '../clocks/vector.js';
import type { NodeId } from '../core/protocol.js';
import { grown } from './typed-grow.js';

export interface AckedWrite {
  readonly key: string;
  readonly clock: VectorClock;
  readonly client: number;
  readonly kind: 'put' | 'delete';
  readonly value: string | null;
  readonly node: number;
}

export class AckedWrites {
  readonly #ids: readonly NodeId[];
  readonly #width: number;
  #length = 0;
  #clocks: Float64Array;
  /** client, node, kind (0 put, 1 delete) per write. */
  #meta: Int32Array;
  readonly #keys: string[] = [];
  readonly #values: (string | null)[] = [];
  /** Clocks not of the ids-in-order form, by write index. */
  readonly #other = new Map<number, VectorClock>();

  constructor(ids: readonly NodeId[]) {
    this.#ids = ids;
    this.#width = ids.length;
    this.#clocks = new Float64Array(1024 * ids.length);
    this.#meta = new Int32Array(1024 * 3);
  }

  get length(): number {
    return this.#length;
  }

  push(w: AckedWrite): void {
    const i = this.#length;
    const width = this.#width;
    if ((i + 1) * 3 > this.#meta.length) {
      this.#meta = grown(this.#meta, this.#meta.length * 2);
      this.#clocks = grown(this.#clocks, this.#clocks.length * 2);
    }
    const ids = this.#ids;
    let j = 0;
    let regular = true;
    for (const k in w.clock) {
      if (j >= width || k !== ids[j]) {
        regular = false;
        break;
      }
      this.#clocks[i * width + j] = w.clock[k] as number;
      j++;
    }
    if (!regular || j !== width) this.#other.set(i, w.clock);
    this.#meta[i * 3] = w.client;
    this.#meta[i * 3 + 1] = w.node;
    this.#meta[i * 3 + 2] = w.kind === 'put' ? 0 : 1;
    this.#keys.push(w.key);
    this.#values.push(w.value);
    this.#length = i + 1;
  }

  key(i: number): string {
    return this.#keys[i] as string;
  }

  /** Write i's clock <= c entry-wise (absent entries count as 0): c covers it. */
  coveredBy(i: number, c: VectorClock): boolean {
    const other = this.#other.size === 0 ? undefined : this.#other.get(i);
    if (other !== undefined) return dominatedBy(other, c);
    const ids = this.#ids;
    const base = i * this.#width;
    for (let j = 0; j < this.#width; j++) if ((this.#clocks[base + j] as number) > (c[ids[j] as NodeId] ?? 0)) return false;
    return true;
  }

  /** Write i as an object (for a failure report). */
  get(i: number): AckedWrite {
    let clock = this.#other.get(i);
    if (clock === undefined) {
      const c: Record<string, number> = {};
      for (let j = 0; j < this.#width; j++) c[this.#ids[j] as NodeId] = this.#clocks[i * this.#width + j] as number;
      clock = c;
    }
    return {
      key: this.#keys[i] as string,
      clock,
      client: this.#meta[i * 3] as number,
      kind: this.#meta[i * 3 + 2] === 0 ? 'put' : 'delete',
      value: this.#values[i] as string | null,
      node: this.#meta[i * 3 + 1] as number,
    };
  }
}
