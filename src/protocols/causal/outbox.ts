/**
 * One part of a Ready batch under construction (persist ops, messages, replies or events).
 *
 * A Ready part used to be a fresh array per batch: its first push allocated a 17-slot backing
 * store, mostly for one to a dozen items, on every batch a core produced. An outbox keeps one
 * working array for the life of the core and hands out an exact-size copy per batch, so a batch
 * of n items costs one allocation of n slots, and an empty part none (one shared frozen empty
 * array: a Ready batch is read-only). Nothing here refers to what take() returns afterwards; the
 * working array's slots are cleared, so it keeps nothing alive.
 */
const NONE: readonly never[] = Object.freeze([]);

export class Outbox<T> {
  readonly #items: (T | undefined)[] = [];
  #count = 0;

  get length(): number {
    return this.#count;
  }

  push(item: T): void {
    const items = this.#items;
    if (this.#count < items.length) items[this.#count] = item;
    else items.push(item);
    this.#count++;
  }

  /** The items pushed since the last take(), in order (a new array, or the shared empty one); the outbox is then empty. */
  take(): readonly T[] {
    const n = this.#count;
    if (n === 0) return NONE;
    const items = this.#items;
    let out: T[];
    if (n <= 16) {
      // copied by hand: half the cost of slice() for the one to a few items of most batches
      out = new Array<T>(n);
      for (let i = 0; i < n; i++) {
        out[i] = items[i] as T;
        items[i] = undefined;
      }
    } else {
      out = items.slice(0, n) as T[];
      for (let i = 0; i < n; i++) items[i] = undefined;
    }
    this.#count = 0;
    return out;
  }
}
