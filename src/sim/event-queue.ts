/**
 * The simulator's agenda: a binary min-heap of events keyed by (time, seq). `seq` is the order of
 * scheduling, so two events at the same virtual instant run in the order they were scheduled —
 * a deterministic tie-break that keeps one seed → one run (ARCHITECTURE.md §4 rule 2).
 *
 * The keys live in their own arrays beside the items: the items are of many shapes (one per kind
 * of simulator event), and comparing keys read from them would be megamorphic property loads on
 * every step of every sift; reading plain number arrays is not.
 */
export interface Scheduled {
  /** Virtual time, integer nanoseconds. */
  readonly at: number;
  /** Set by the queue: scheduling order, the tie-break. */
  seq: number;
}

export class EventQueue<T extends Scheduled> {
  readonly #items: T[] = [];
  readonly #at: number[] = [];
  readonly #seq: number[] = [];
  #seqNext = 0;

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const seq = this.#seqNext++;
    item.seq = seq;
    const at = item.at;
    const items = this.#items;
    const ats = this.#at;
    const seqs = this.#seq;
    let i = items.length;
    items.push(item);
    ats.push(at);
    seqs.push(seq);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pa = ats[p] as number;
      // seq grows with every push: the new item ties its parent only by time, and then comes after
      if (pa <= at) break;
      items[i] = items[p] as T;
      ats[i] = pa;
      seqs[i] = seqs[p] as number;
      i = p;
    }
    items[i] = item;
    ats[i] = at;
    seqs[i] = seq;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    const ats = this.#at;
    const seqs = this.#seq;
    const last = items.pop() as T;
    const lastAt = ats.pop() as number;
    const lastSeq = seqs.pop() as number;
    const n = items.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let ca = ats[l] as number;
      let cs = seqs[l] as number;
      if (r < n) {
        const ra = ats[r] as number;
        const rs = seqs[r] as number;
        if (ra < ca || (ra === ca && rs < cs)) {
          c = r;
          ca = ra;
          cs = rs;
        }
      }
      if (!(ca < lastAt || (ca === lastAt && cs < lastSeq))) break;
      items[i] = items[c] as T;
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
