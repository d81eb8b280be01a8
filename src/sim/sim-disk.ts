/**
 * A node's disk in the simulator: named spaces of ordered keys, a batch applied atomically; what
 * a crash keeps is exactly what was applied. Unlike MemoryStorage it stores values by reference
 * instead of deep-copying them — the simulator's own overhead dominated by structuredClone
 * otherwise. That is safe because protocol cores treat what they persist as immutable (a Ready
 * batch hands over fresh objects and never changes them afterwards); with `freeze` every value is
 * deep-frozen when persisted, so a core that did mutate one would throw (the tests run that way).
 *
 * A space's sorted key list is kept until a key is added or removed, so a space with a fixed key
 * set (the causal core's 'kv' one) is not sorted again at every restore. A space named in
 * `unordered` is read back in the order its keys were added instead: for a reader that does not
 * depend on key order (the causal core's restore of its 'log' space, whose keys change between
 * any two restores, so each restore sorted all of them).
 */
import type { Snapshot, StorageOp } from '../core/protocol.js';

export function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x as object)) deepFreeze(v);
  }
  return x;
}

interface Space {
  readonly map: Map<string, unknown>;
  /** The keys in order, kept until a key is added or removed (a space of a fixed key set, such as
   * the causal core's 'kv' one, is then sorted once rather than at every restore). */
  sorted: string[] | null;
}

export class SimDisk implements Snapshot {
  readonly #spaces = new Map<string, Space>();
  readonly #freeze: boolean;
  readonly #unordered: ReadonlySet<string>;
  #batches = 0;

  constructor(options: { freeze?: boolean; unordered?: Iterable<string> } = {}) {
    this.#freeze = options.freeze ?? false;
    this.#unordered = new Set(options.unordered);
  }

  applySync(batch: readonly StorageOp[]): void {
    // Batches name a few spaces over and over: the last one looked up is kept at hand.
    const freeze = this.#freeze;
    let name: string | null = null;
    let space: Space | undefined;
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i] as StorageOp;
      if (op.space !== name) {
        name = op.space;
        space = this.#spaces.get(name);
        if (space === undefined) this.#spaces.set(name, (space = { map: new Map(), sorted: null }));
      }
      const sp = space as Space;
      const map = sp.map;
      if (op.kind === 'put') {
        const value = freeze ? deepFreeze(op.value) : op.value;
        if (sp.sorted === null) map.set(op.key, value);
        else {
          const size = map.size;
          map.set(op.key, value);
          if (map.size !== size) sp.sorted = null;
        }
      } else if (map.delete(op.key)) {
        sp.sorted = null;
      }
    }
    this.#batches++;
  }

  get(space: string, key: string): unknown {
    return this.#spaces.get(space)?.map.get(key);
  }

  /** Entries of a space in key order (as a sorted store hands them to restore()); see `unordered`. */
  entries(space: string): Iterable<[string, unknown]> {
    const s = this.#spaces.get(space);
    if (!s) return [];
    if (this.#unordered.has(space)) return [...s.map];
    const keys = (s.sorted ??= [...s.map.keys()].sort());
    const map = s.map;
    const out = new Array<[string, unknown]>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      out[i] = [k, map.get(k)];
    }
    return out;
  }

  size(space: string): number {
    return this.#spaces.get(space)?.map.size ?? 0;
  }

  get batches(): number {
    return this.#batches;
  }
}
