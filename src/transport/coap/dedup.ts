/**
 * The server's duplicate-detection cache (RFC 7252 §4.5): endpoint + message ID → the response that
 * was sent, so a retransmitted request is answered again and never applied twice.
 *
 * Bounded in entries and in bytes, expired after a lifetime (EXCHANGE_LIFETIME), evicted FIFO — and
 * free of per-entry JS objects. At 100k requests/s a cache of JS objects keeps ~65k live objects that
 * survive young-generation collections, so every scavenge copies them and old-space collections
 * pause for milliseconds (measured: 5–10 ms pauses, which ruin a 1 ms p99). Here everything lives in
 * typed arrays allocated once:
 * - a ring of entry slots (FIFO by insertion): key, expiry, where the response bytes are;
 * - an open-addressing hash table (linear probing, backward-shift deletion) from key to slot,
 *   with the key stored in the table so that a probe touches one cache line;
 * - a byte slab with one fixed-size cell per slot for responses up to `inlineBytes`; larger
 *   responses (rare) are kept as Buffers on the side, their total bounded too.
 * IPv4 addresses are keyed as 32-bit numbers; other addresses (IPv6) by a hash, with the string kept
 * to confirm a match.
 */

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** '192.0.2.1' → 0xc0000201; -1 when the string is not a dotted quad. */
export function ipv4ToUint(s: string): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function mix(a: number, b: number, v6: number): number {
  let h = Math.imul(a ^ Math.imul(b + v6, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export interface DedupOptions {
  maxEntries: number;
  maxBytes: number;
  lifetimeMs: number;
  /** Cell size per slot for inline responses; default: maxBytes / 2 / maxEntries, clamped to 16…256. */
  inlineBytes?: number;
}

export class DedupCache {
  readonly maxEntries: number;
  readonly lifetimeMs: number;
  readonly inlineBytes: number;
  readonly sideLimit: number;
  // slots, in ring (insertion) order
  #pos: Int32Array; // the slot's position in the index
  #exp: Float64Array;
  #len: Int32Array; // -1 no response kept (NON), ≥ 0 inline length, -2 on the side
  #str: (string | undefined)[]; // non-IPv4 addresses
  #side: (Buffer | undefined)[];
  #slab: Buffer;
  #head = 0;
  #count = 0;
  #inlineUsed = 0;
  #sideBytes = 0;
  /**
   * The index: open addressing, linear probing, 4 ints per position so one probe touches one
   * cache line: [tag, a, b, hash] with tag = (slot + 1) · 2 + (non-IPv4 ? 1 : 0), 0 = empty.
   */
  #table: Int32Array;
  #mask: number;

  constructor(o: DedupOptions) {
    const n = Math.max(1, Math.floor(o.maxEntries));
    this.maxEntries = n;
    this.lifetimeMs = o.lifetimeMs;
    this.inlineBytes = o.inlineBytes ?? Math.max(16, Math.min(256, Math.floor(o.maxBytes / 2 / n)));
    this.sideLimit = Math.max(0, o.maxBytes - this.inlineBytes * n);
    this.#pos = new Int32Array(n);
    this.#exp = new Float64Array(n);
    this.#len = new Int32Array(n);
    this.#str = new Array<string | undefined>(n);
    this.#side = new Array<Buffer | undefined>(n);
    this.#slab = Buffer.allocUnsafeSlow(this.inlineBytes * n); // pages are touched (and count in RSS) only as they fill
    const t = nextPow2(n * 2);
    this.#table = new Int32Array(t * 4);
    this.#mask = t - 1;
  }

  get size(): number {
    return this.#count;
  }
  /** Response bytes held (inline and on the side). */
  get bytes(): number {
    return this.#inlineUsed + this.#sideBytes;
  }

  // key of the last lookup, reused by add() right after a miss
  #l6 = 0; // 1 for a non-IPv4 address
  #la = 0;
  #lb = 0;
  #lh = 0;
  #ls: string | undefined;

  #key(address: string, port: number, mid: number): void {
    const v4 = ipv4ToUint(address);
    if (v4 >= 0) {
      this.#l6 = 0;
      this.#la = v4 | 0;
      this.#ls = undefined;
    } else {
      this.#l6 = 1;
      this.#la = strHash(address) | 0;
      this.#ls = address;
    }
    this.#lb = (port * 65536 + mid) | 0;
    this.#lh = mix(this.#la, this.#lb, this.#l6);
  }

  /** The slot holding (address, port, mid), or -1. */
  find(address: string, port: number, mid: number): number {
    this.#key(address, port, mid);
    const a = this.#la;
    const b = this.#lb;
    const v6 = this.#l6;
    const table = this.#table;
    const mask = this.#mask;
    for (let i = this.#lh & mask; ; i = (i + 1) & mask) {
      const j = i * 4;
      const tag = table[j]!;
      if (tag === 0) return -1;
      if (table[j + 1] === a && table[j + 2] === b && (tag & 1) === v6) {
        const s = (tag >>> 1) - 1;
        if (v6 === 0 || this.#str[s] === address) return s;
      }
    }
  }

  /** A copy of the response kept for a slot, or null when none was kept. */
  reply(slot: number): Buffer | null {
    const len = this.#len[slot]!;
    if (len === -1) return null;
    if (len === -2) return this.#side[slot] ?? null;
    const off = slot * this.inlineBytes;
    return Buffer.from(this.#slab.subarray(off, off + len));
  }

  /**
   * Remembers a request (and the response sent, or null). Without `fresh` it reuses the key of the
   * last `find`, which must have been for the same (address, port, mid) with nothing in between.
   */
  add(address: string, port: number, mid: number, reply: Buffer | null, now: number, fresh = false): void {
    if (fresh) this.#key(address, port, mid);
    if (this.#count === this.maxEntries) this.#evictHead();
    const n = this.maxEntries;
    let s = this.#head + this.#count;
    if (s >= n) s -= n;
    this.#count++;
    this.#str[s] = this.#ls;
    this.#exp[s] = now + this.lifetimeMs;
    if (reply === null) this.#len[s] = -1;
    else if (reply.length <= this.inlineBytes) {
      reply.copy(this.#slab, s * this.inlineBytes);
      this.#len[s] = reply.length;
      this.#inlineUsed += reply.length;
    } else {
      this.#len[s] = -2;
      this.#side[s] = reply;
      this.#sideBytes += reply.length;
    }
    const table = this.#table;
    const mask = this.#mask;
    let i = this.#lh & mask;
    while (table[i * 4] !== 0) i = (i + 1) & mask;
    const j = i * 4;
    table[j] = (s + 1) * 2 + this.#l6;
    table[j + 1] = this.#la;
    table[j + 2] = this.#lb;
    table[j + 3] = this.#lh;
    this.#pos[s] = i;
    while (this.#sideBytes > this.sideLimit && this.#count > 1) this.#evictHead();
  }

  /** Drops entries older than their lifetime. */
  expire(now: number): void {
    while (this.#count > 0 && this.#exp[this.#head]! <= now) this.#evictHead();
  }

  clear(): void {
    while (this.#count > 0) this.#evictHead();
  }

  #evictHead(): void {
    const s = this.#head;
    this.#head = s + 1 === this.maxEntries ? 0 : s + 1;
    this.#count--;
    const len = this.#len[s]!;
    if (len >= 0) this.#inlineUsed -= len;
    else if (len === -2) {
      this.#sideBytes -= this.#side[s]!.length;
      this.#side[s] = undefined;
    }
    this.#str[s] = undefined;
    // remove from the index (backward-shift deletion): later members of the probe cluster whose
    // home position is not cyclically in (p, q] move back into the hole
    const table = this.#table;
    const mask = this.#mask;
    let p = this.#pos[s]!;
    let q = p;
    for (;;) {
      q = (q + 1) & mask;
      const qj = q * 4;
      const tag = table[qj]!;
      if (tag === 0) break;
      const home = table[qj + 3]! & mask;
      const inRange = p <= q ? home > p && home <= q : home > p || home <= q;
      if (!inRange) {
        const pj = p * 4;
        table[pj] = tag;
        table[pj + 1] = table[qj + 1]!;
        table[pj + 2] = table[qj + 2]!;
        table[pj + 3] = table[qj + 3]!;
        this.#pos[(tag >>> 1) - 1] = p;
        p = q;
      }
    }
    table[p * 4] = 0;
  }
}
