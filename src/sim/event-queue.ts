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
 * The items themselves never move: each sits in a slot of its own from add() to pop(), and the
 * heap moves slot numbers (an Int32Array) beside the keys. Moving the items up and down a JS array
 * cost a write barrier per move (an old array pointing at young items).
 *
 * `add(at, item)` schedules an item that carries no key of its own (the simulator's events: reading
 * `at` from a dozen event shapes was a megamorphic load per push and pop); `time` is the popped
 * item's.
 */
import { grown } from './typed-grow.js';

const INITIAL = 256;

export class EventQueue<T> {
  /** Items by slot; a slot is taken by add() and freed by pop(). */
  #slots: (T | undefined)[] = new Array<T | undefined>(INITIAL).fill(undefined);
  /** Free slot numbers (a stack), and how many slots were ever taken. */
  #free = new Int32Array(INITIAL);
  #freeCount = 0;
  #slotsUsed = 0;
  /** The heap: slot numbers, with their keys at the same index. */
  #heap = new Int32Array(INITIAL);
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
    this.#heap = grown(this.#heap, n);
    this.#free = grown(this.#free, n);
    for (let i = this.#slots.length; i < n; i++) this.#slots.push(undefined);
  }

  /** Time of the item the last pop() returned. */
  get time(): number {
    return this.#time;
  }

  /** Schedules `item` at time `at` (after every item already scheduled at that time). */
  add(at: number, item: T): void {
    const seq = this.#seqNext++;
    if (this.#size === this.#at.length) this.#grow();
    // live items = size < capacity, so a slot is free or never used
    const slot = this.#freeCount > 0 ? (this.#free[--this.#freeCount] as number) : this.#slotsUsed++;
    this.#slots[slot] = item;
    const heap = this.#heap;
    const ats = this.#at;
    const seqs = this.#seq;
    let i = this.#size++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pa = ats[p] as number;
      // seq grows with every push: the new item ties its parent only by time, and then comes after
      if (pa <= at) break;
      heap[i] = heap[p] as number;
      ats[i] = pa;
      seqs[i] = seqs[p] as number;
      i = p;
    }
    heap[i] = slot;
    ats[i] = at;
    seqs[i] = seq;
  }

  pop(): T | undefined {
    if (this.#size === 0) return undefined;
    const heap = this.#heap;
    const topSlot = heap[0] as number;
    const top = this.#slots[topSlot];
    this.#slots[topSlot] = undefined; // no reference kept to a popped item
    this.#free[this.#freeCount++] = topSlot;
    this.#time = this.#at[0] as number;
    const n = --this.#size;
    if (n === 0) return top;
    const ats = this.#at;
    const seqs = this.#seq;
    const lastSlot = heap[n] as number;
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
      heap[i] = heap[c] as number;
      ats[i] = ca;
      seqs[i] = cs;
      i = c;
    }
    heap[i] = lastSlot;
    ats[i] = lastAt;
    seqs[i] = lastSeq;
    return top;
  }
}
