import { EventEmitter } from 'node:events';
import { isCausewayError } from '../core/errors.js';
import type { NodeId, Ready } from '../core/protocol.js';
import type { KvCore, KvOp, KvReply } from '../protocols/kv-types.js';
import type { Storage } from '../storage/storage.js';
import type { KvRequest } from './kv-service.js';

/** The slice of the peer network the runtime drives (src/transport/peer implements it). */
export interface PeerTransport {
  /** The peers this node links to. */
  peerIds(): readonly NodeId[];
  isConnected(peer: NodeId): boolean;
  send(peer: NodeId, msg: unknown): boolean;
  pause(peer: NodeId): void;
  resume(peer: NodeId): void;
  on(event: 'message', listener: (from: NodeId, msg: unknown) => void): unknown;
  on(event: 'up' | 'down', listener: (peer: NodeId) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

export type { KvCore } from '../protocols/kv-types.js';

export interface ReplicaOptions {
  /** Milliseconds of real time per protocol tick. */
  readonly tickMs: number;
  /** Most milliseconds peer input waits to share a commit with other input (0: next turn). */
  readonly peerBatchMs: number;
  /** What is wrong with a peer message (null: nothing); such a message is dropped, not fed to the core. */
  readonly checkMessage?: (msg: unknown) => string | null;
  /** Parts of an outgoing message too large for one peer frame, in order (null: it cannot be split). */
  readonly splitMessage?: (msg: unknown) => unknown[] | null;
}

export const REPLICA_DEFAULTS: ReplicaOptions = Object.freeze({ tickMs: 10, peerBatchMs: 0 });

export interface ReplicaEvents<Event> {
  event: [Event];
  persisted: [{ ops: number; ms: number }];
  error: [Error];
  /** A peer message dropped by `checkMessage`. */
  rejected: [{ peer: NodeId; problem: string }];
  /** An outgoing message that could not be sent (and could not be split). */
  dropped: [{ peer: NodeId; problem: string }];
}

/**
 * The runtime driver (ARCHITECTURE.md §1): feeds client operations, peer messages, link changes
 * and ticks to a pure protocol core, and executes each Ready batch — persist first, durably,
 * then send and reply. Inputs that arrive in the same event-loop turn share one batch, so one
 * disk commit acknowledges many writes (group commit). Batches are committed and released in
 * order; the storage pipelines their commits.
 */
export class Replica<Msg, Event> extends EventEmitter<ReplicaEvents<Event>> {
  readonly #core: KvCore<Msg, Event>;
  readonly #storage: Storage;
  readonly #net: PeerTransport;
  readonly #opts: ReplicaOptions;
  readonly #pending = new Map<number, (r: KvReply) => void>();
  #nextReq = 1;
  #scheduled = false;
  #peerTimer: NodeJS.Timeout | undefined;
  #release: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  readonly #paused = new Set<NodeId>();
  #stopped = false;
  /** Why the node stopped serving, after a storage failure (null: it has not failed). */
  #failure: string | null = null;
  readonly #onMessage = (from: NodeId, msg: unknown): void => {
    const problem = this.#opts.checkMessage?.(msg) ?? null;
    if (problem !== null) {
      this.emit('rejected', { peer: from, problem });
      return;
    }
    this.#core.receive(from, msg as Msg);
    this.#schedulePeer();
  };
  readonly #onUp = (peer: NodeId): void => {
    this.#core.linkChanged(peer, true);
    this.#schedule();
  };
  readonly #onDown = (peer: NodeId): void => {
    this.#core.linkChanged(peer, false);
    this.#schedule();
  };

  constructor(core: KvCore<Msg, Event>, storage: Storage, net: PeerTransport, options: Partial<ReplicaOptions> = {}) {
    super();
    this.#core = core;
    this.#storage = storage;
    this.#net = net;
    this.#opts = { ...REPLICA_DEFAULTS, ...options };
  }

  get core(): KvCore<Msg, Event> {
    return this.#core;
  }

  start(): void {
    this.#net.on('message', this.#onMessage);
    this.#net.on('up', this.#onUp);
    this.#net.on('down', this.#onDown);
    // A core starts with every link up (as the simulator's nodes do). Here a peer not connected
    // yet is down until its 'up': otherwise the core would keep re-sending everything that peer
    // lacks to a link that is not there (sender-side repair, every repairAfterTicks) for as long
    // as the peer stays away.
    for (const p of this.#net.peerIds()) if (!this.#net.isConnected(p)) this.#core.linkChanged(p, false);
    this.#timer = setInterval(() => {
      this.#core.tick();
      this.#schedule();
    }, this.#opts.tickMs);
    this.#timer.unref();
  }

  /** Submits a client operation; resolves with the protocol's reply once it is durable. */
  submit(op: KvRequest): Promise<KvReply> {
    if (this.#stopped) return Promise.resolve({ reqId: 0, ok: false, reason: 'overloaded', detail: this.#failure ?? 'node is shutting down' });
    const reqId = this.#nextReq++;
    return new Promise<KvReply>((resolve) => {
      this.#pending.set(reqId, resolve);
      this.#core.submit({ ...op, reqId } as KvOp);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    if (this.#peerTimer) {
      clearTimeout(this.#peerTimer);
      this.#peerTimer = undefined;
    }
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /**
   * Peer input waits up to `peerBatchMs` for company: replicated writes then share a disk commit
   * with client writes or with each other, instead of costing a commit (an fsync) each turn.
   */
  #schedulePeer(): void {
    if (this.#opts.peerBatchMs <= 0) return this.#schedule();
    if (this.#scheduled || this.#peerTimer || this.#stopped) return;
    this.#peerTimer = setTimeout(() => {
      this.#peerTimer = undefined;
      this.#schedule();
    }, this.#opts.peerBatchMs);
  }

  #flush(): void {
    const ready = this.#core.ready();
    this.#applyBackpressure();
    if (ready.persist.length === 0 && ready.messages.length === 0 && ready.replies.length === 0 && ready.events.length === 0) return;
    const started = performance.now();
    // Commit now (in the write-ahead log at once: safe from a crashed process); fsync only when this
    // batch lets out a claim on what was committed: a write's acknowledgement, or a peer message
    // (acks drive compaction elsewhere). Read replies need none: every local write they can see was
    // made durable before its own acknowledgement left, which is before them (batches are released
    // in order), and a replicated write is durable at its origin. Replicated writes share a later
    // fsync. Nothing waits for LMDB itself: the log is what makes a batch survive.
    if (ready.persist.length > 0) this.#storage.commit(ready.persist).catch((err: unknown) => this.#fatal(err));
    const releases = ready.messages.length > 0 || ready.replies.some((r) => r.ok && (r.kind === 'put' || r.kind === 'delete'));
    // Release in order: this batch goes out after every earlier one and after its own sync.
    const previous = this.#release;
    this.#release = (releases ? Promise.all([previous, this.#storage.sync()]) : previous).then(
      () => this.#execute(ready, started),
      (err: unknown) => this.#fatal(err),
    );
  }

  #execute(ready: Ready<Msg, KvReply, Event>, started: number): void {
    if (ready.persist.length > 0) this.emit('persisted', { ops: ready.persist.length, ms: performance.now() - started });
    for (const m of ready.messages) this.#send(m.to, m.msg);
    for (const r of ready.replies) {
      const resolve = this.#pending.get(r.reqId);
      if (resolve) {
        this.#pending.delete(r.reqId);
        resolve(r);
      }
    }
    for (const e of ready.events) this.emit('event', e);
  }

  /**
   * Sends one message. One too large for a peer frame (an anti-entropy reply of many big values)
   * goes as the parts `splitMessage` makes of it, in order; a message that still cannot go is
   * dropped and reported, as a lost message is: the protocol's repair sends it again. A send
   * never stops the node.
   */
  #send(to: NodeId, msg: Msg): void {
    try {
      this.#net.send(to, msg);
    } catch (err) {
      const parts = isCausewayError(err) && err.code === 'too-large' ? (this.#opts.splitMessage?.(msg) as Msg[] | null | undefined) : null;
      if (parts) for (const part of parts) this.#send(to, part);
      else this.emit('dropped', { peer: to, problem: err instanceof Error ? err.message : String(err) });
    }
  }

  #applyBackpressure(): void {
    const want = this.#core.pausedPeers?.();
    if (!want) return;
    for (const p of want) {
      if (this.#paused.has(p)) continue;
      this.#paused.add(p);
      this.#net.pause(p);
    }
    if (this.#paused.size === want.size) return; // the common case: nothing to resume
    for (const p of this.#paused) {
      if (want.has(p)) continue;
      this.#paused.delete(p);
      this.#net.resume(p);
    }
  }

  #fatal(err: unknown): void {
    // A failed commit means acknowledged state cannot be guaranteed: stop acknowledging.
    if (this.#failure !== null) return;
    this.#stopped = true;
    const e = err instanceof Error ? err : new Error(String(err));
    // Reads are refused too: the state in memory may hold writes that never reached the disk.
    this.#failure = `storage failure (${e.message}): this node no longer serves requests; restart it once its disk is fixed`;
    this.emit('error', e);
    for (const [, resolve] of this.#pending) resolve({ reqId: 0, ok: false, reason: 'overloaded', detail: this.#failure });
    this.#pending.clear();
  }

  /** Stops ticking and accepting input, and waits for every batch in flight to be released. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#peerTimer) clearTimeout(this.#peerTimer);
    this.#net.off('message', this.#onMessage);
    this.#net.off('up', this.#onUp);
    this.#net.off('down', this.#onDown);
    if (this.#scheduled) {
      this.#scheduled = false;
      this.#flush();
    }
    this.#stopped = true;
    await this.#release;
  }
}
