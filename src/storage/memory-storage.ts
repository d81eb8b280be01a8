import type { StorageOp } from '../core/protocol.js';
import type { Storage, StorageStats } from './storage.js';

/**
 * In-memory storage for the simulator and tests. `apply` is atomic and "durable" at once;
 * what a crash loses is what was never handed to `apply`. `clone()` gives the disk image a
 * restarted node sees.
 */
export class MemoryStorage implements Storage {
  readonly #spaces = new Map<string, Map<string, unknown>>();
  #batches = 0;

  #space(name: string): Map<string, unknown> {
    let s = this.#spaces.get(name);
    if (!s) {
      s = new Map();
      this.#spaces.set(name, s);
    }
    return s;
  }

  applySync(batch: readonly StorageOp[]): void {
    for (const op of batch) {
      if (op.kind === 'put') this.#space(op.space).set(op.key, structuredClone(op.value));
      else this.#space(op.space).delete(op.key);
    }
    this.#batches++;
  }

  apply(batch: readonly StorageOp[]): Promise<void> {
    this.applySync(batch);
    return Promise.resolve();
  }

  commit(batch: readonly StorageOp[]): Promise<void> {
    return this.apply(batch);
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  get(space: string, key: string): unknown {
    return this.#spaces.get(space)?.get(key);
  }

  *entries(space: string): Iterable<[string, unknown]> {
    const s = this.#spaces.get(space);
    if (!s) return;
    for (const k of [...s.keys()].sort()) yield [k, s.get(k)];
  }

  clone(): MemoryStorage {
    const c = new MemoryStorage();
    for (const [name, s] of this.#spaces) for (const [k, v] of s) c.#space(name).set(k, structuredClone(v));
    return c;
  }

  stats(): StorageStats {
    const entries: Record<string, number> = {};
    for (const [name, s] of this.#spaces) entries[name] = s.size;
    return { kind: 'memory', entries, batches: this.#batches };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
