import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { StorageOp } from '../core/protocol.js';
import type { Storage, StorageStats } from './storage.js';

export interface LmdbStorageOptions {
  /** Directory holding the environment (created if absent). */
  readonly path: string;
  /** Named spaces opened up front; others open on first use. */
  readonly spaces?: readonly string[];
  /** Map size in bytes (LMDB grows it as needed on Linux, this is the start). */
  readonly mapSize?: number;
}

/**
 * LMDB-backed storage. Each batch runs in one write transaction spanning every space; lmdb-js
 * groups concurrent transactions into one commit on its own writer thread (group commit, off
 * the event loop), and `apply` resolves only after that commit is flushed to disk.
 */
export class LmdbStorage implements Storage {
  readonly #root: RootDatabase;
  readonly #dbs = new Map<string, Database>();
  readonly #path: string;
  #batches = 0;
  #syncs = 0;
  #closed = false;
  /** Commits made since the last sync started: a sync is needed to make them durable. */
  #dirty = false;
  /** The sync in progress, and the one queued behind it (shared by every caller meanwhile). */
  #syncing: Promise<void> | null = null;
  #queued: Promise<void> | null = null;

  constructor(options: LmdbStorageOptions) {
    mkdirSync(options.path, { recursive: true });
    this.#path = options.path;
    this.#root = open({ path: join(options.path, 'causeway.mdb'), maxDbs: 64, mapSize: options.mapSize ?? 256 * 1024 * 1024, overlappingSync: false, noSync: true });
    for (const s of options.spaces ?? []) this.#db(s);
  }

  #db(space: string): Database {
    let db = this.#dbs.get(space);
    if (!db) {
      db = this.#root.openDB({ name: space });
      this.#dbs.set(space, db);
    }
    return db;
  }

  async apply(batch: readonly StorageOp[]): Promise<void> {
    await this.commit(batch);
    await this.sync();
  }

  async commit(batch: readonly StorageOp[]): Promise<void> {
    if (this.#closed) throw new Error('storage is closed');
    if (batch.length === 0) return;
    // Every write issued in one event turn lands in one LMDB transaction (lmdb-js's event-turn
    // batching): the batch is atomic, and it shares its commit with every other batch of the turn
    // (group commit). The writes themselves run on lmdb-js's writer thread, off the event loop.
    // Databases are opened before the first write: opening one may run a synchronous
    // transaction, which would split the turn's batch.
    const dbs = batch.map((op) => this.#db(op.space));
    let last: Promise<boolean> | undefined;
    batch.forEach((op, i) => {
      const db = dbs[i] as Database;
      last = op.kind === 'put' ? db.put(op.key, op.value) : db.remove(op.key);
    });
    await last;
    this.#dirty = true;
    this.#batches++;
  }

  /**
   * Commits are made without fsync (LMDB's NOSYNC: a crashed process loses nothing committed, a
   * crashed machine may lose the last commits but never the database's integrity, as the
   * filesystem keeps write order). `sync` makes every commit so far durable with one fsync on a
   * worker thread; callers that arrive while one runs share the next.
   */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('storage is closed'));
    if (this.#syncing === null) {
      if (!this.#dirty) return Promise.resolve();
      return this.#startSync();
    }
    this.#queued ??= this.#syncing.then(() => {
      this.#queued = null;
      return this.#dirty ? this.#startSync() : undefined;
    });
    return this.#queued;
  }

  #startSync(): Promise<void> {
    this.#dirty = false;
    const p = new Promise<void>((resolve, reject) => {
      // lmdb-js's env sync (mdb_env_sync on a worker thread when given a callback); untyped
      (this.#root as unknown as { sync(cb: (err?: Error) => void): void }).sync((err?: Error) => (err ? reject(err) : resolve()));
    }).finally(() => {
      if (this.#syncing === p) this.#syncing = null;
    });
    this.#syncs++;
    this.#syncing = p;
    return p;
  }

  get(space: string, key: string): unknown {
    return this.#db(space).get(key);
  }

  *entries(space: string): Iterable<[string, unknown]> {
    for (const { key, value } of this.#db(space).getRange()) yield [String(key), value];
  }

  stats(): StorageStats {
    const entries: Record<string, number> = {};
    for (const [name, db] of this.#dbs) entries[name] = db.getCount();
    let bytesOnDisk: number | undefined;
    try {
      bytesOnDisk = statSync(join(this.#path, 'causeway.mdb')).size;
    } catch {
      bytesOnDisk = undefined;
    }
    return { kind: 'lmdb', path: this.#path, entries, bytesOnDisk, batches: this.#batches, syncs: this.#syncs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#dirty || this.#syncing) await this.sync();
    this.#closed = true;
    await this.#root.close();
  }
}
