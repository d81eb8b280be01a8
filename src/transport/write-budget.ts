import { CausewayError } from '../core/errors.js';

/**
 * A bound, in bytes, on the client writes a node holds at once: from the moment a value is parsed
 * until its answer goes out. A write usually leaves within milliseconds, but one that carries a
 * causal context the node has not reached waits up to the context timeout, holding its parsed
 * value, and the count of waiting operations alone (the protocol's bound) lets one client fill the
 * heap: 5,000 waiting 64 KiB bodies of empty objects are some 6 GB once parsed. Beyond the
 * budget a write is refused at once with `unavailable` (HTTP 503, CoAP 5.03), and nothing changes.
 *
 * A write's cost estimates what it holds in memory: its body's bytes, plus {@link CONTAINER_BYTES}
 * for each object or array in the value (parsed, an empty object takes more memory than its two
 * characters; see kv-input.ts, which also bounds how many a value may have).
 */
export const CONTAINER_BYTES = 64;
export const DEFAULT_WRITE_BUDGET_BYTES = 64 * 1024 * 1024;

export function writeCost(bodyBytes: number, containers: number): number {
  return bodyBytes + CONTAINER_BYTES * containers;
}

const mib = (n: number): string => `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;

export class WriteBudget {
  readonly limitBytes: number;
  #used = 0;
  #refused = 0;

  constructor(limitBytes = DEFAULT_WRITE_BUDGET_BYTES) {
    if (!(limitBytes > 0)) throw new RangeError(`write budget must be positive, got ${limitBytes}`);
    this.limitBytes = limitBytes;
  }

  /** Estimated bytes of client writes held now. */
  get usedBytes(): number {
    return this.#used;
  }

  /** Writes refused so far for want of budget. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Reserves `cost` and returns the function that gives it back (once; later calls do nothing), or
   * throws `unavailable` when the budget cannot take it. A write alone always fits.
   */
  take(cost: number): () => void {
    if (this.#used > 0 && this.#used + cost > this.limitBytes) {
      this.#refused++;
      throw new CausewayError(
        'unavailable',
        `node is busy: ${mib(this.#used)} of client writes are in progress or waiting for their causal context (limit ${mib(this.limitBytes)}); retry shortly`,
      );
    }
    this.#used += cost;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#used -= cost;
    };
  }

  /** Runs `write` with `cost` reserved (see `take`), giving it back however `write` ends. */
  async run<T>(cost: number, write: () => Promise<T>): Promise<T> {
    const release = this.take(cost);
    try {
      return await write();
    } finally {
      release();
    }
  }

  stats(): { usedBytes: number; limitBytes: number; refused: number } {
    return { usedBytes: this.#used, limitBytes: this.limitBytes, refused: this.#refused };
  }
}
