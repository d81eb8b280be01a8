import type { Snapshot, StorageOp } from '../core/protocol.js';

/**
 * What a node keeps on disk: named spaces of ordered string keys to values. A batch of
 * StorageOps is applied atomically; `apply` resolves only when the batch is durable.
 */
export interface Storage extends Snapshot {
  /** Atomic and durable: resolves once every op of the batch survives a crash. Batches commit in call order. */
  apply(batch: readonly StorageOp[]): Promise<void>;
  /**
   * Atomic; survives a crashed process as soon as it is called, durable only after a later
   * `sync`; resolves once `get` and `entries` show it.
   */
  commit(batch: readonly StorageOp[]): Promise<void>;
  /** Makes every batch whose `commit` was called so far durable. */
  sync(): Promise<void>;
  get(space: string, key: string): unknown;
  entries(space: string): Iterable<[string, unknown]>;
  stats(): StorageStats;
  close(): Promise<void>;
}

export interface StorageStats {
  readonly kind: 'memory' | 'lmdb';
  readonly path?: string;
  readonly entries: Record<string, number>;
  readonly bytesOnDisk?: number;
  readonly batches: number;
  /** false: writes are acknowledged without an fsync (lmdb with `fsync: false`: unsafe). */
  readonly fsync?: boolean;
  /** fsyncs made (lmdb: of the write-ahead log, and of LMDB at checkpoints). */
  readonly syncs?: number;
  /** Checkpoints made since open (lmdb). */
  readonly checkpoints?: number;
  /** Batches replayed from the write-ahead log when the store was opened (lmdb). */
  readonly replayed?: number;
}
