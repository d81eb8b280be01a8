/**
 * A set of search states, each a fixed number of 32-bit integers, kept in flat typed arrays: no
 * object per state, so a memo of millions of states costs its words and little else (one typed
 * array per state cost some 300 bytes of objects besides its words). Bounded by a word budget:
 * once full, `visit` still finds the states it holds but adds none.
 */
export class StateSet {
  readonly width: number;
  /** Most states it will hold: the budget over the words each costs (its own, hash, chain, table). */
  readonly maxStates: number;
  #states: Int32Array;
  #hashes: Int32Array;
  #next: Int32Array;
  #table: Int32Array;
  #count = 0;

  constructor(width: number, budgetWords: number) {
    this.width = width;
    this.maxStates = Math.max(0, Math.floor(budgetWords / (width + StateSet.OVERHEAD_WORDS)));
    const cap = Math.min(1024, this.maxStates);
    this.#states = new Int32Array(cap * width);
    this.#hashes = new Int32Array(cap);
    this.#next = new Int32Array(cap);
    this.#table = new Int32Array(Math.max(2, 2 * cap)).fill(-1);
  }

  /** Words a state costs besides its own: its hash, its chain link, and two table slots at most. */
  static readonly OVERHEAD_WORDS = 4;

  get size(): number {
    return this.#count;
  }

  /** Words the states held take, as the budget counts them. */
  get words(): number {
    return this.#count * (this.width + StateSet.OVERHEAD_WORDS);
  }

  /** A hash of a state's `width` integers (FNV-1a over the words). */
  hash(state: Int32Array): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.width; i++) h = Math.imul(h ^ (state[i] as number), 0x01000193);
    return h | 0;
  }

  /**
   * Whether `state` (of `width` integers) was seen before; if not, remembers it when the budget
   * allows. `h` may be given when the caller keeps a hash of its own (one equal for equal states).
   */
  visit(state: Int32Array, h: number = this.hash(state)): boolean {
    h |= 0;
    const w = this.width;
    const mask = this.#table.length - 1;
    const states = this.#states;
    for (let s = this.#table[h & mask] as number; s >= 0; s = this.#next[s] as number) {
      if (this.#hashes[s] !== h) continue;
      const base = s * w;
      let i = 0;
      while (i < w && states[base + i] === state[i]) i++;
      if (i === w) return true;
    }
    if (this.#count >= this.maxStates) return false;
    if (this.#count === this.#hashes.length) this.#grow();
    const s = this.#count++;
    this.#states.set(state.subarray(0, w), s * w);
    this.#hashes[s] = h;
    if (this.#count * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    else this.#link(s);
    return false;
  }

  #grow(): void {
    const cap = Math.min(this.maxStates, Math.max(1024, this.#hashes.length * 2));
    const states = new Int32Array(cap * this.width);
    states.set(this.#states);
    this.#states = states;
    const hashes = new Int32Array(cap);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    const next = new Int32Array(cap);
    next.set(this.#next);
    this.#next = next;
  }

  #link(s: number): void {
    const slot = (this.#hashes[s] as number) & (this.#table.length - 1);
    this.#next[s] = this.#table[slot] as number;
    this.#table[slot] = s;
  }

  #rehash(size: number): void {
    this.#table = new Int32Array(size).fill(-1);
    for (let s = 0; s < this.#count; s++) this.#link(s);
  }
}
