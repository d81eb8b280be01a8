/**
 * A node's disk in the simulator: named spaces of ordered keys, a batch applied atomically; what
 * a crash keeps is exactly what was applied. Unlike MemoryStorage it stores values by reference
 * instead of deep-copying them — the simulator's own overhead dominated by structuredClone
 * otherwise. That is safe because protocol cores treat what they persist as immutable (a Ready
 * batch hands over fresh objects and never changes them afterwards); with `freeze` every value is
 * deep-frozen when persisted, so a core that did mutate one would throw (the tests run that way).
 *
 * A space's sorted key list is kept until a key is added or removed, so a space with a fixed key
 * set (the causal core's 'kv' one) is not sorted again at every restore.
 *
 * A space named in `queues` is kept as a set of queues instead of a map, for a replication log:
 * each put appends to the queue its value names (`queues[space](value)`, the causal core's log
 * entry's origin), and a delete that takes a queue's oldest entry (compaction, which deletes each
 * origin's entries from the oldest) is a pointer comparison, where a string-keyed map paid a hash
 * table insert and delete per entry (the disk's largest cost). Contract: a key is put at most once
 * until it is deleted (one log entry per write). A delete of any other entry still works (found by
 * a scan). Read back queue by queue, each in put order, for a reader that does not depend on key
 * order (the causal core's restore of its log).
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
  /** For a space named in `queues`: its queues (the map is then unused). */
  readonly queues: Queues | null;
}

interface Queue {
  readonly name: string;
  keys: (string | undefined)[];
  values: unknown[];
  /** Index of the oldest live entry. */
  head: number;
}

class Queues {
  readonly #queueOf: (value: unknown) => string;
  readonly #list: Queue[] = [];
  /** Index in #list of the queue whose head the last delete took. */
  #lastDeleted = 0;
  size = 0;

  constructor(queueOf: (value: unknown) => string) {
    this.#queueOf = queueOf;
  }

  put(key: string, value: unknown): void {
    const name = this.#queueOf(value);
    const list = this.#list;
    let q: Queue | undefined;
    for (let i = 0; i < list.length; i++) {
      if ((list[i] as Queue).name === name) {
        q = list[i];
        break;
      }
    }
    if (q === undefined) list.push((q = { name, keys: [], values: [], head: 0 }));
    q.keys.push(key);
    q.values.push(value);
    this.size++;
  }

  delete(key: string): boolean {
    const list = this.#list;
    // Compaction deletes a run of one origin's entries: the queue that took the last delete is
    // tried first. A key that is not a queue's head costs a string comparison by content (log keys
    // are not interned), the key that is costs a pointer comparison.
    const last = this.#lastDeleted;
    if (last < list.length && Queues.#takeHead(list[last] as Queue, key)) {
      this.size--;
      return true;
    }
    for (let i = 0; i < list.length; i++) {
      if (i === last || !Queues.#takeHead(list[i] as Queue, key)) continue;
      this.#lastDeleted = i;
      this.size--;
      return true;
    }
    // not the oldest entry of any queue: look further in
    for (const q of list) {
      for (let j = q.head; j < q.keys.length; j++) {
        if (q.keys[j] !== key) continue;
        q.keys.splice(j, 1);
        q.values.splice(j, 1);
        this.size--;
        return true;
      }
    }
    return false;
  }

  /** Removes q's oldest entry if its key is `key`. */
  static #takeHead(q: Queue, key: string): boolean {
    if (q.head >= q.keys.length || q.keys[q.head] !== key) return false;
    q.keys[q.head] = undefined;
    q.values[q.head] = undefined;
    q.head++;
    if (q.head > 1024 && q.head * 2 > q.keys.length) {
      q.keys = q.keys.slice(q.head);
      q.values = q.values.slice(q.head);
      q.head = 0;
    }
    return true;
  }

  get(key: string): unknown {
    for (const q of this.#list) for (let j = q.head; j < q.keys.length; j++) if (q.keys[j] === key) return q.values[j];
    return undefined;
  }

  entries(): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const q of this.#list) for (let j = q.head; j < q.keys.length; j++) out.push([q.keys[j] as string, q.values[j]]);
    return out;
  }
}

export class SimDisk implements Snapshot {
  readonly #spaces = new Map<string, Space>();
  readonly #freeze: boolean;
  readonly #queues: Readonly<Record<string, (value: unknown) => string>>;
  #batches = 0;

  constructor(options: { freeze?: boolean; queues?: Readonly<Record<string, (value: unknown) => string>> } = {}) {
    this.#freeze = options.freeze ?? false;
    this.#queues = options.queues ?? {};
  }

  #space(name: string): Space {
    let space = this.#spaces.get(name);
    if (space === undefined) {
      const queueOf = Object.hasOwn(this.#queues, name) ? this.#queues[name] : undefined;
      this.#spaces.set(name, (space = { map: new Map(), sorted: null, queues: queueOf === undefined ? null : new Queues(queueOf) }));
    }
    return space;
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
        space = this.#space(name);
      }
      const sp = space as Space;
      const queues = sp.queues;
      if (queues !== null) {
        if (op.kind === 'put') queues.put(op.key, freeze ? deepFreeze(op.value) : op.value);
        else queues.delete(op.key);
        continue;
      }
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
    const s = this.#spaces.get(space);
    return s?.queues ? s.queues.get(key) : s?.map.get(key);
  }

  /** Entries of a space in key order (as a sorted store hands them to restore()); see `queues`. */
  entries(space: string): Iterable<[string, unknown]> {
    const s = this.#spaces.get(space);
    if (!s) return [];
    if (s.queues !== null) return s.queues.entries();
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
    const s = this.#spaces.get(space);
    return s?.queues ? s.queues.size : (s?.map.size ?? 0);
  }

  get batches(): number {
    return this.#batches;
  }
}
