/**
 * The simulator's agenda: a binary min-heap of events keyed by (time, seq). `seq` is the order of
 * scheduling, so two events at the same virtual instant run in the order they were scheduled —
 * a deterministic tie-break that keeps one seed → one run (ARCHITECTURE.md §4 rule 2).
 */
export interface Scheduled {
  /** Virtual time, integer nanoseconds. */
  readonly at: number;
  /** Set by the queue: scheduling order, the tie-break. */
  seq: number;
}

export class EventQueue<T extends Scheduled> {
  readonly #heap: T[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(item: T): void {
    item.seq = this.#seq++;
    const h = this.#heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as T;
      if (!before(item, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = item;
  }

  peek(): T | undefined {
    return this.#heap[0];
  }

  pop(): T | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    const n = h.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(h[r] as T, h[l] as T)) c = r;
      const child = h[c] as T;
      if (!before(child, last)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
