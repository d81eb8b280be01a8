/**
 * The simulator's agenda: a 4-ary min-heap of events keyed by (time, seq). `seq` is the order of
 * scheduling, so two events at the same virtual instant run in the order they were scheduled —
 * a deterministic tie-break that keeps one seed → one run (ARCHITECTURE.md §4 rule 2).
 *
 * The keys live in their own typed arrays beside the items: the items are of many shapes (one per
 * kind of simulator event), and comparing keys read from them would be megamorphic property loads
 * on every step of every sift; reading Float64Arrays is not (nor does the collector scan them).
 * The arrays only grow (doubling), so a steady agenda allocates nothing per push or pop.
 *
 * Four children per node rather than two: half the levels for a pop to sift through, and a node's
 * children side by side in the key arrays (the agenda holds a few hundred events; each step of a
 * simulation pops one).
 *
 * `add(at, item)` schedules an item that carries no key of its own (the simulator's events: they
 * need neither field, and reading `at` from a dozen event shapes was a megamorphic load per push
 * and pop); `push(item)` schedules a Scheduled item at `item.at` and records its seq on it.
 */
import { grown } from './typed-grow.js';
export interface Scheduled {
  /** Virtual time, integer nanoseconds. */
  readonly at: number;
  /** Set by the queue: scheduling order, the tie-break. */
  seq: number;
}

const INITIAL = 256;

export class EventQueue<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(INITIAL).fill(undefined);
  #at = new Float64Array(INITIAL);
  #seq = new Float64Array(INITIAL);
  #size = 0;
  #seqNext = 0;
  #time = 0;

  get size(): number {
    return this.#size;
  }

  #grow(): void {
    const n = this.#at.length * 2;
    this.#at = grown(this.#at, n);
    this.#seq = grown(this.#seq, n);
    for (let i = this.#items.length; i < n; i++) this.#items.push(undefined);
  }

  /** Time of the item the last pop() returned. */
  get time(): number {
    return this.#time;
  }

  push(item: T & Scheduled): void {
    item.seq = this.#seqNext;
    this.add(item.at, item);
  }

  /** Schedules `item` at time `at` (after every item already scheduled at that time). */
  add(at: number, item: T): void {
    const seq = this.#seqNext++;
    if (this.#size === this.#at.length) this.#grow();
    const items = this.#items;
    const ats = this.#at;
    const seqs = this.#seq;
    let i = this.#size++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pa = ats[p] as number;
      // seq grows with every push: the new item ties its parent only by time, and then comes after
      if (pa <= at) break;
      items[i] = items[p];
      ats[i] = pa;
      seqs[i] = seqs[p] as number;
      i = p;
    }
    items[i] = item;
    ats[i] = at;
    seqs[i] = seq;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[0];
  }

  pop(): T | undefined {
    if (this.#size === 0) return undefined;
    const items = this.#items;
    const top = items[0];
    this.#time = this.#at[0] as number;
    const n = --this.#size;
    const last = items[n];
    items[n] = undefined; // no reference kept to a popped item
    if (n === 0) return top;
    const ats = this.#at;
    const seqs = this.#seq;
    const lastAt = ats[n] as number;
    const lastSeq = seqs[n] as number;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      // the smallest of the (up to four) children
      let c = first;
      let ca = ats[first] as number;
      let cs = seqs[first] as number;
      const end = first + 4 < n ? first + 4 : n;
      for (let j = first + 1; j < end; j++) {
        const ja = ats[j] as number;
        if (ja > ca) continue;
        const js = seqs[j] as number;
        if (ja < ca || js < cs) {
          c = j;
          ca = ja;
          cs = js;
        }
      }
      if (!(ca < lastAt || (ca === lastAt && cs < lastSeq))) break;
      items[i] = items[c];
      ats[i] = ca;
      seqs[i] = cs;
      i = c;
    }
    items[i] = last;
    ats[i] = lastAt;
    seqs[i] = lastSeq;
    return top;
  }
}
