import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { StorageOp } from '../core/protocol.js';
import type { Storage, StorageStats } from './storage.js';
import { lockDir } from './dir-lock.js';
import { WAL_DEFAULTS, WriteAheadLog } from './wal.js';

const ignore = (): void => undefined;

/**
 * lmdb-js rejects a failed commit with "Commit failed (see commitError for details)", whose
 * `commitError` is a second promise, rejected with the cause (ENOSPC, ...). Handles that one and
 * returns an error naming the cause (or the first error, if the cause is not in within a second).
 */
async function commitCause(err: unknown): Promise<Error> {
  const first = err instanceof Error ? err : new Error(String(err));
  const pending = (err as { commitError?: unknown } | null)?.commitError;
  if (!(pending instanceof Promise)) return first;
  let timer: NodeJS.Timeout | undefined;
  const cause = await Promise.race([
    pending.then(() => null, (c: unknown) => c),
    new Promise<null>((r) => (timer = setTimeout(() => r(null), 1000))),
  ]);
  clearTimeout(timer);
  if (cause === null) return first;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new Error(`LMDB commit failed: ${why}`, { cause });
}

export interface LmdbStorageOptions {
  /** Directory holding the environment (created if absent). */
  readonly path: string;
  /** Named spaces opened up front; others open on first use. */
  readonly spaces?: readonly string[];
  /** Map size in bytes (LMDB grows it as needed on Linux, this is the start). */
  readonly mapSize?: number;
  /** Size of a write-ahead log segment; a checkpoint (LMDB synced, old segments dropped) follows each. */
  readonly checkpointBytes?: number;
  /** How long committed batches gather before LMDB gets them in one transaction. */
  readonly applyDelayMs?: number;
  /**
   * false: `sync` and `apply` do not wait for an fsync, and LMDB runs with MDB_NOSYNC (the
   * cluster's `unsafeNoFsync`). Batches still reach the operating system at `commit`, so a killed
   * process loses nothing; a power cut or an OS crash can lose what was acknowledged. Default true.
   */
  readonly fsync?: boolean;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers may drop it (the runtime waits on `sync` only); a failure is recorded apart.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * LMDB-backed storage with a write-ahead log for durability.
 *
 * `commit` appends the batch to the log (one `write`: from then on a crashed process loses
 * nothing of it) and queues it for LMDB, which gets every batch of the last `applyDelayMs` in one
 * transaction, committed on lmdb-js's writer thread, off the event loop. LMDB runs with
 * MDB_NOMETASYNC: each commit flushes its data pages (one fdatasync of the LMDB file per
 * transaction, every `applyDelayMs` at most) and leaves the meta page to the next flush. So a power
 * cut may undo LMDB's last transaction (the log still has it) but never leaves a meta page pointing
 * at pages that were not written, which MDB_NOSYNC allows: a database that no replay can repair.
 * Measured beside MDB_NOSYNC (three alternating rounds on the cluster benchmark): puts/s at 16
 * and 64 clients within run-to-run noise. `sync`
 * makes every batch committed so far durable with one fdatasync of the log, shared by every caller
 * meanwhile (group commit): a log append dirties one or two blocks where a synced LMDB commit
 * rewrites several B-tree pages and its meta page.
 *
 * Whenever the log has moved on to a new segment (each holds `checkpointBytes`; see wal.ts for
 * their preallocation), a checkpoint waits for LMDB to commit everything written before, syncs
 * LMDB (one mdb_env_sync on a worker thread) and deletes the old segments. Opening replays
 * whatever the log still holds into LMDB: replaying a batch LMDB already has rewrites the same
 * values, so replay from any earlier point ends in the same state. A clean `close` checkpoints and
 * leaves the log empty.
 *
 * With `fsync: false` (unsafe) nothing waits for the disk: `sync` returns at once and LMDB runs
 * with MDB_NOSYNC. Every batch is still written to the log at `commit`, so the operating system
 * holds it and a killed process loses nothing; a power cut or an OS crash can.
 */
export class LmdbStorage implements Storage {
  readonly #root: RootDatabase;
  readonly #dbs = new Map<string, Database>();
  readonly #path: string;
  readonly #wal: WriteAheadLog;
  #batches = 0;
  #lmdbSyncs = 0;
  #checkpoints = 0;
  #replayed = 0;
  #closed = false;
  /** The last LMDB write issued: LMDB commits in order, so once it lands every earlier one has. */
  #lastWrite: Promise<unknown> = Promise.resolve();
  readonly #applyDelayMs: number;
  readonly #fsync: boolean;
  /** Batches in the log, not yet handed to LMDB, and the promise their commits return. */
  #pending: (readonly StorageOp[])[] = [];
  #visible: Deferred | null = null;
  #applyTimer: NodeJS.Timeout | undefined;
  #checkpointing: Promise<void> | null = null;
  /** A failed LMDB commit or checkpoint: nothing may be acknowledged after it. */
  #failure: Error | null = null;
  readonly #unlock: () => void;

  constructor(options: LmdbStorageOptions) {
    mkdirSync(options.path, { recursive: true });
    this.#unlock = lockDir(options.path); // one process per data directory (see dir-lock.ts)
    this.#path = options.path;
    this.#applyDelayMs = options.applyDelayMs ?? 20;
    this.#fsync = options.fsync ?? true;
    const segmentBytes = options.checkpointBytes ?? WAL_DEFAULTS.segmentBytes;
    let root: RootDatabase | undefined;
    let opened: ReturnType<typeof WriteAheadLog.open>;
    try {
      root = open({ path: join(options.path, 'causeway.mdb'), maxDbs: 64, mapSize: options.mapSize ?? 256 * 1024 * 1024, overlappingSync: false, eventTurnBatching: false, ...(this.#fsync ? { noMetaSync: true } : { noSync: true }) }); // see the class comment
      this.#root = root;
      for (const s of options.spaces ?? []) this.#db(s);
      opened = WriteAheadLog.open(join(options.path, 'wal'), {
        segmentBytes,
        prepareAfterBytes: Math.min(WAL_DEFAULTS.prepareAfterBytes, segmentBytes / 4),
      });
    } catch (err) {
      // LMDB would not open, or the log is damaged (WalDamagedError): the store does not open,
      // and the directory is free again.
      void root?.close();
      this.#unlock();
      throw err;
    }
    const { wal, recovery } = opened;
    this.#wal = wal;
    if (recovery.batches.length > 0) {
      for (const batch of recovery.batches) for (const op of batch) this.#db(op.space);
      this.#root.transactionSync(() => {
        for (const batch of recovery.batches) {
          for (const op of batch) {
            if (op.kind === 'put') this.#db(op.space).putSync(op.key, op.value);
            else this.#db(op.space).removeSync(op.key);
          }
        }
      });
      this.#replayed = recovery.batches.length;
    }
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
    const visible = this.commit(batch);
    await this.sync();
    await visible;
  }

  /**
   * Appends to the log (safe from a crashed process at once); resolves once LMDB shows the batch.
   * LMDB gets the batches of `applyDelayMs` in one transaction: the log already made them durable
   * and atomic, so LMDB is written tens of times a second rather than once per batch.
   */
  commit(batch: readonly StorageOp[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('storage is closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    if (batch.length === 0) return Promise.resolve();
    try {
      this.#wal.append(batch);
    } catch (err) {
      this.#fail(err);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.#pending.push(batch);
    this.#batches++;
    const visible = (this.#visible ??= deferred());
    this.#applyTimer ??= setTimeout(() => this.#applyPending(), this.#applyDelayMs);
    if (this.#checkpointing === null && this.#wal.segmentCount > 1) {
      this.#checkpointing = this.#checkpoint().finally(() => (this.#checkpointing = null));
    }
    return visible.promise;
  }

  /** Writes every pending batch to LMDB in one transaction (committed off the event loop). */
  #applyPending(): void {
    clearTimeout(this.#applyTimer);
    this.#applyTimer = undefined;
    const batches = this.#pending;
    const visible = this.#visible;
    this.#pending = [];
    this.#visible = null;
    if (batches.length === 0 || visible === null) return;
    for (const b of batches) for (const op of b) this.#db(op.space);
    const written = this.#root.transaction(() => {
      // A write can hand back lmdb-js's promise for its commit (shared by the writes of one
      // commit); `written` reports the outcome, so these must not surface as unhandled rejections
      // when a commit fails (a full disk), which would end the process.
      let seen: unknown = undefined;
      for (const b of batches) {
        for (const op of b) {
          const r: unknown = op.kind === 'put' ? this.#db(op.space).put(op.key, op.value) : this.#db(op.space).remove(op.key);
          if (r !== seen && r instanceof Promise) {
            seen = r;
            r.catch(ignore);
          }
        }
      }
    });
    this.#lastWrite = written.then(
      () => visible.resolve(),
      async (err: unknown) => {
        const e = await commitCause(err);
        this.#fail(e);
        visible.reject(e);
      },
    );
  }

  /** Makes every batch committed so far durable (one shared fdatasync of the log; none without fsync). */
  async sync(): Promise<void> {
    if (this.#closed) throw new Error('storage is closed');
    if (this.#failure) throw this.#failure;
    if (!this.#fsync) return;
    await this.#wal.sync();
    if (this.#failure) throw this.#failure;
  }

  #fail(err: unknown): void {
    this.#failure ??= err instanceof Error ? err : new Error(String(err));
  }

  async #checkpoint(): Promise<void> {
    try {
      // Every batch in a segment before the current one was committed before this line.
      const keepFrom = this.#wal.currentSegment;
      this.#applyPending();
      await this.#lastWrite;
      await this.#syncLmdb();
      await this.#wal.dropBefore(keepFrom);
      this.#checkpoints++;
    } catch (err) {
      this.#fail(err);
    }
  }

  #syncLmdb(): Promise<void> {
    if (!this.#fsync) return Promise.resolve();
    this.#lmdbSyncs++;
    return new Promise<void>((resolve, reject) => {
      // lmdb-js's env sync (mdb_env_sync on a worker thread when given a callback); untyped
      (this.#root as unknown as { sync(cb: (err?: Error) => void): void }).sync((err?: Error) => (err ? reject(err) : resolve()));
    });
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
    return {
      kind: 'lmdb',
      path: this.#path,
      entries,
      bytesOnDisk,
      fsync: this.#fsync,
      batches: this.#batches,
      syncs: this.#wal.syncs + this.#lmdbSyncs,
      checkpoints: this.#checkpoints,
      replayed: this.#replayed,
    };
  }

  /** Checkpoints (LMDB synced, the log emptied) and closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#checkpointing) await this.#checkpointing;
    this.#applyPending();
    await this.#lastWrite;
    if (this.#failure === null) {
      await this.#syncLmdb();
      await this.#wal.dropBefore(Number.MAX_SAFE_INTEGER);
    }
    await this.#wal.close();
    await this.#root.close();
    this.#unlock();
  }
}
