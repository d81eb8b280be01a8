/**
 * Peer links: one persistent, authenticated, batched TCP connection per pair of nodes
 * (SPEC §2 "Peer links are persistent, batched, authenticated with a shared cluster secret, and
 * reconnect with backoff"; ARCHITECTURE.md §2 transport/peer).
 *
 * Rules this module keeps:
 *  - One connection per pair: the node whose id is smaller (JS string order) dials, the other
 *    accepts. An acceptor refuses a dial from a larger id ('wrong-direction'). If an authenticated
 *    connection arrives while an old one to the same peer is still open (the old one is half-open:
 *    the dialer only dials when it has no link), the new one replaces the old.
 *  - Authentication: mutual HMAC-SHA256 challenge–response over both sides' nonces with both ids
 *    bound in (see handshake.ts). Before it succeeds only tiny handshake frames are accepted; any
 *    failure closes the connection, emits 'auth-failed', and nothing the connection sent is ever
 *    delivered as a 'message'.
 *  - Batching: `send` encodes at once (msgpackr) and queues; the queue is flushed on setImmediate,
 *    so every message sent in one turn of the event loop leaves in as few DATA frames as fit
 *    `maxBatchBytes` each, one socket write per frame.
 *  - Backpressure: a per-peer bound in bytes (queued + in the socket's buffer). Past it `send`
 *    returns false and drops the message; 'drain' fires once the backlog is at most half the bound.
 *    When `socket.write` returns false, writing stops until the socket's 'drain'.
 *    `pause(peer)` stops reading that peer's socket (TCP then pushes back on the sender).
 *  - Loss of a link: 'down' fires, and every message still queued for it, delayed by a fault, or
 *    received but not yet delivered (paused) is discarded: the protocol re-syncs on the next
 *    'up' (anti-entropy), so the transport never replays across connections. The dialing side
 *    reconnects with exponential backoff and jitter; the counter resets after a successful 'up'.
 *  - Liveness: a PING frame goes out when a link has been quiet for `heartbeatMs`; a link that
 *    has received nothing for `idleTimeoutMs` (while not paused) is closed as 'idle-timeout'.
 *  - Faults (chaos hooks, issue 4 §3): `partition` takes the link down and keeps it down (no dial,
 *    incoming dials refused) until healed, so healing brings an 'up' and with it a re-sync;
 *    `oneway: 'out' | 'in'` silently drops that direction's messages while the link stays up;
 *    `lossRate` drops outgoing messages with that probability (drawn from the injected `random`);
 *    `delayMs` holds outgoing messages that long, keeping their order.
 *  - Garbage never crashes the process: a malformed or oversize frame closes that connection with
 *    an event. 'error' is emitted only if someone listens for it.
 *  - Unauthenticated connections hold at most `maxPendingHandshakes` slots; when they are full,
 *    a pending one makes room for a newcomer: the oldest that has sent nothing, else the oldest
 *    that has had 250 ms. So connections held open by someone without the secret cannot keep a
 *    real peer out, which says hello at once. Full slots are reported as
 *    one 'auth-failed' event a second at most.
 */
import { EventEmitter } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Packr, Unpackr } from 'msgpackr';
import { CausewayError } from '../../core/errors.js';
import { assertNever } from '../../core/assert.js';
import { FrameDecoder, FRAME_HEADER_BYTES, encodeFrame, frameHeader, type Frame, type DecodeError } from './frame.js';
import {
  AuthBody,
  ChallengeBody,
  HANDSHAKE_FRAME_LIMIT,
  HANDSHAKE_VERSION,
  HelloBody,
  NONCE_BYTES,
  RejectBody,
  computeMac,
  secretBytes,
  verifyMac,
  type HandshakeTranscript,
  type Role,
} from './handshake.js';

export interface PeerSpec {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** 0..1: each delay is multiplied by a uniform factor in [1 - jitter, 1]. */
  readonly jitter: number;
}

export interface PeerFault {
  /** Link held down both ways until healed (healing brings 'up', hence a re-sync). */
  readonly partition?: boolean;
  /** Drop this direction's messages silently; the link stays up. */
  readonly oneway?: 'out' | 'in';
  /** Hold each outgoing message this long (order kept). */
  readonly delayMs?: number;
  /** Drop each outgoing message with this probability (0..1). */
  readonly lossRate?: number;
}

export interface PeerNetworkOptions {
  readonly selfId: string;
  readonly listenHost: string;
  /** 0 picks a free port; `start()` resolves with the real one. */
  readonly listenPort: number;
  readonly peers: readonly PeerSpec[];
  readonly secret: string | Buffer;
  /** Per-peer bound on queued outbound bytes (ours + the socket's buffer). */
  readonly maxQueueBytes?: number;
  /** Largest frame accepted or sent (type byte + body). */
  readonly maxFrameBytes?: number;
  /** Target body size of one DATA frame when coalescing. */
  readonly maxBatchBytes?: number;
  readonly backoff?: Partial<BackoffOptions>;
  readonly handshakeTimeoutMs?: number;
  readonly heartbeatMs?: number;
  readonly idleTimeoutMs?: number;
  /** Connections still in their handshake beyond this many are closed at once. */
  readonly maxPendingHandshakes?: number;
  /** Uniform [0,1) source for loss faults and backoff jitter (inject a seeded one in tests). */
  readonly random?: () => number;
}

export const PEER_NETWORK_DEFAULTS = Object.freeze({
  maxQueueBytes: 8 * 1024 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
  maxBatchBytes: 256 * 1024,
  backoff: Object.freeze({ initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 }),
  handshakeTimeoutMs: 5000,
  heartbeatMs: 1000,
  idleTimeoutMs: 10_000,
  maxPendingHandshakes: 64,
});

export type DownReason =
  | 'closed' // the socket closed or errored
  | 'partitioned' // a partition fault was set
  | 'replaced' // a newer authenticated connection from the same peer took over
  | 'idle-timeout'
  | 'protocol-error' // malformed or oversize frame, undecodable batch
  | 'removed' // setPeers dropped the peer
  | 'closing'; // close() was called

export type AuthFailReason =
  | 'bad-mac' // the other side does not know the secret
  | 'unknown-peer' // hello names an id not in our peer list
  | 'wrong-direction' // a larger id dialed us (the smaller id dials)
  | 'wrong-target' // hello was meant for another node
  | 'wrong-peer' // the acceptor we dialed is not the id we expected
  | 'bad-version'
  | 'malformed' // a handshake body that does not parse
  | 'oversize' // a frame larger than the handshake allows
  | 'unexpected-frame' // e.g. data before authentication
  | 'timeout'
  | 'closed' // the other side hung up mid-handshake
  | 'rejected' // the acceptor refused us (detail: its reason)
  | 'too-many-pending';

export interface AuthFailure {
  /** "address:port" of the other end. */
  readonly remote: string;
  /** The id the other end claimed or was expected to have, when known. */
  readonly peer: string | null;
  /** Our role on that connection. */
  readonly role: Role;
  readonly reason: AuthFailReason;
  readonly detail: string;
}

export interface PeerStats {
  readonly connected: boolean;
  readonly paused: boolean;
  /** Outbound bytes not yet handed to the kernel: our queue, delayed messages, socket buffer. */
  readonly queuedBytes: number;
  readonly sentFrames: number;
  readonly recvFrames: number;
  readonly sentMessages: number;
  readonly recvMessages: number;
  readonly sentBytes: number;
  readonly recvBytes: number;
  /** Times the link came up again after its first 'up'. */
  readonly reconnects: number;
  /** Connection attempts made by this side (the dialer), successful or not. */
  readonly dialAttempts: number;
  /** `send` calls refused (not connected or over the bound). */
  readonly refusedSends: number;
  /** Messages dropped by faults (loss, one-way), either direction. */
  readonly droppedMessages: number;
}

export type PeerNetworkEvents = {
  message: [from: string, msg: unknown];
  up: [peer: string];
  down: [peer: string, reason: DownReason, detail: string];
  drain: [peer: string];
  'auth-failed': [failure: AuthFailure];
  error: [err: Error];
};

type LinkState = 'await-hello' | 'await-challenge' | 'await-auth' | 'await-welcome' | 'open' | 'closed';

/** A pending connection this old may be closed to make room for a new one (see #onAccept). */
const EVICT_AFTER_MS = 250;

interface Link {
  readonly socket: Socket;
  readonly role: Role;
  readonly remote: string;
  readonly decoder: FrameDecoder;
  readonly nonce: Buffer;
  state: LinkState;
  peerId: string | null;
  remoteNonce: Buffer | null;
  handshakeTimer: NodeJS.Timeout | null;
  heartbeatTimer: NodeJS.Timeout | null;
  lastRecv: number;
  lastSent: number;
  /** When the connection was made (performance.now()). */
  readonly since: number;
}

interface Delayed {
  readonly due: number;
  readonly buf: Buffer;
}

interface Peer {
  spec: PeerSpec;
  link: Link | null;
  dialing: Link | null;
  retryTimer: NodeJS.Timeout | null;
  attempt: number;
  everUp: boolean;
  fault: PeerFault | null;
  // outbound
  queue: Buffer[];
  queueHead: number;
  queueBytes: number;
  delayed: Delayed[];
  delayedHead: number;
  delayedBytes: number;
  delayTimer: NodeJS.Timeout | null;
  flushScheduled: boolean;
  waitingSocketDrain: boolean;
  owesDrain: boolean;
  // inbound
  paused: boolean;
  inbox: unknown[];
  inboxHead: number;
  delivering: boolean;
  // counters
  sentFrames: number;
  recvFrames: number;
  sentMessages: number;
  recvMessages: number;
  sentBytes: number;
  recvBytes: number;
  reconnects: number;
  dialAttempts: number;
  refusedSends: number;
  droppedMessages: number;
}

/**
 * Delay before reconnection attempt number `attempt` (0-based): exponential, capped, and shortened
 * by up to `jitter` of itself so that nodes restarted together do not redial in lockstep.
 * `r` is a uniform draw in [0, 1).
 */
export function backoffDelay(attempt: number, b: BackoffOptions, r: number): number {
  const base = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, attempt));
  return Math.max(0, base * (1 - b.jitter * r));
}

/** A function, so that TypeScript does not carry a narrowing across calls that may close. */
function isClosed(link: Link): boolean {
  return link.state === 'closed';
}

function describeDecodeError(e: DecodeError): string {
  switch (e.kind) {
    case 'oversize':
      return `frame of ${e.length} bytes exceeds limit ${e.limit}`;
    case 'empty-frame':
      return 'frame of length 0';
    case 'unknown-type':
      return `unknown frame type ${e.code}`;
    default:
      return assertNever(e, 'decode error');
  }
}

export class PeerNetwork extends EventEmitter<PeerNetworkEvents> {
  readonly selfId: string;
  #opts: Required<Omit<PeerNetworkOptions, 'peers' | 'secret' | 'backoff' | 'selfId'>> & { backoff: BackoffOptions };
  #secret: Buffer;
  #peers = new Map<string, Peer>();
  #links = new Set<Link>();
  #pendingHandshakes = 0;
  /** Connections turned away or evicted while handshake slots were full, not yet reported. */
  #slotPressure = { refused: 0, evicted: 0, reportedAt: -Infinity };
  #server: Server | null = null;
  #started = false;
  #closing = false;
  #packr = new Packr({ useRecords: false });
  #unpackr = new Unpackr({ useRecords: false, copyBuffers: true });
  #handshakePackr = new Packr({ useRecords: false });

  constructor(options: PeerNetworkOptions) {
    super();
    if (typeof options.selfId !== 'string' || options.selfId.length === 0) {
      throw new CausewayError('bad-request', 'selfId must be a non-empty string');
    }
    this.selfId = options.selfId;
    this.#secret = secretBytes(options.secret);
    if (this.#secret.length === 0) throw new CausewayError('bad-request', 'the cluster secret must not be empty');
    const d = PEER_NETWORK_DEFAULTS;
    this.#opts = {
      listenHost: options.listenHost,
      listenPort: options.listenPort,
      maxQueueBytes: options.maxQueueBytes ?? d.maxQueueBytes,
      maxFrameBytes: options.maxFrameBytes ?? d.maxFrameBytes,
      maxBatchBytes: options.maxBatchBytes ?? d.maxBatchBytes,
      backoff: { ...d.backoff, ...options.backoff },
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? d.handshakeTimeoutMs,
      heartbeatMs: options.heartbeatMs ?? d.heartbeatMs,
      idleTimeoutMs: options.idleTimeoutMs ?? d.idleTimeoutMs,
      maxPendingHandshakes: options.maxPendingHandshakes ?? d.maxPendingHandshakes,
      random: options.random ?? Math.random,
    };
    if (this.#opts.maxFrameBytes < HANDSHAKE_FRAME_LIMIT) {
      throw new CausewayError('bad-request', `maxFrameBytes must be at least ${HANDSHAKE_FRAME_LIMIT}`);
    }
    this.#setPeerSpecs(options.peers);
  }

  // ---------------------------------------------------------------- public API

  /** Listens, then dials every peer this node is responsible for dialing. */
  async start(): Promise<{ port: number }> {
    if (this.#started) throw new CausewayError('conflict', 'PeerNetwork already started');
    this.#started = true;
    const server = createServer({ noDelay: true }, (socket) => this.#onAccept(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(this.#opts.listenPort, this.#opts.listenHost, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.#emitError(err));
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : this.#opts.listenPort;
    for (const p of this.#peers.values()) this.#dial(p);
    return { port };
  }

  /** Replaces the peer list. Removed peers lose their link; changed addresses are dialed anew. */
  setPeers(peers: readonly PeerSpec[]): void {
    this.#setPeerSpecs(peers);
    if (this.#started && !this.#closing) for (const p of this.#peers.values()) this.#dial(p);
  }

  peerIds(): string[] {
    return [...this.#peers.keys()];
  }

  /**
   * Queues `msg` for `peer`. False when the peer is unknown or not connected (the message is
   * dropped: the protocol re-syncs on 'up'), or when the peer's backlog would pass
   * `maxQueueBytes` (dropped; wait for 'drain'). True when queued — or silently dropped by a
   * loss / one-way fault, as a lossy network would. Throws 'too-large' for a message that can
   * never fit a frame.
   */
  send(peer: string, msg: unknown): boolean {
    const p = this.#peers.get(peer);
    if (p === undefined || p.link === null || this.#closing) {
      if (p) p.refusedSends++;
      return false;
    }
    const buf = this.#packr.pack(msg);
    if (buf.length + 1 > this.#opts.maxFrameBytes) {
      throw new CausewayError('too-large', `message of ${buf.length} bytes exceeds maxFrameBytes`);
    }
    const backlog = this.#backlog(p);
    if (backlog > 0 && backlog + buf.length > this.#opts.maxQueueBytes) {
      p.refusedSends++;
      if (!p.owesDrain) {
        p.owesDrain = true;
        if (!p.flushScheduled && !p.waitingSocketDrain) {
          p.flushScheduled = true;
          setImmediate(() => this.#flush(p));
        }
      }
      return false;
    }
    const fault = p.fault;
    if (fault !== null) {
      if (fault.oneway === 'out' || (fault.lossRate !== undefined && fault.lossRate > 0 && this.#opts.random() < fault.lossRate)) {
        p.droppedMessages++;
        return true;
      }
      if (fault.delayMs !== undefined && fault.delayMs > 0) {
        const last = p.delayed.length > p.delayedHead ? (p.delayed[p.delayed.length - 1] as Delayed).due : 0;
        const due = Math.max(performance.now() + fault.delayMs, last);
        p.delayed.push({ due, buf });
        p.delayedBytes += buf.length;
        this.#armDelayTimer(p);
        return true;
      }
    }
    this.#enqueue(p, buf);
    return true;
  }

  /** Stops reading from `peer`'s link (and delivering what was already read) until resume. */
  pause(peer: string): void {
    const p = this.#require(peer);
    p.paused = true;
    p.link?.socket.pause();
  }

  resume(peer: string): void {
    const p = this.#require(peer);
    if (!p.paused) return;
    p.paused = false;
    const link = p.link;
    if (link) {
      link.lastRecv = performance.now();
      link.socket.resume();
    }
    setImmediate(() => this.#deliver(p));
  }

  /** Drops the current link to `peer` (as if the connection broke): 'down', then reconnection. */
  disconnect(peer: string): void {
    const p = this.#require(peer);
    if (p.link) this.#closeLink(p.link, 'closed', 'disconnect() called');
  }

  isConnected(peer: string): boolean {
    return this.#peers.get(peer)?.link != null;
  }

  stats(peer: string): PeerStats {
    const p = this.#require(peer);
    return {
      connected: p.link !== null,
      paused: p.paused,
      queuedBytes: this.#backlog(p),
      sentFrames: p.sentFrames,
      recvFrames: p.recvFrames,
      sentMessages: p.sentMessages,
      recvMessages: p.recvMessages,
      sentBytes: p.sentBytes,
      recvBytes: p.recvBytes,
      reconnects: p.reconnects,
      dialAttempts: p.dialAttempts,
      refusedSends: p.refusedSends,
      droppedMessages: p.droppedMessages,
    };
  }

  fault(peer: string): PeerFault | null {
    return this.#require(peer).fault;
  }

  /** Sets (or with null, heals) a fault on the link to `peer`. See the module comment. */
  setFault(peer: string, fault: PeerFault | null): void {
    const p = this.#require(peer);
    if (fault !== null) {
      if (fault.lossRate !== undefined && !(fault.lossRate >= 0 && fault.lossRate <= 1)) {
        throw new CausewayError('bad-request', 'lossRate must be within [0, 1]');
      }
      if (fault.delayMs !== undefined && !(fault.delayMs >= 0 && Number.isFinite(fault.delayMs))) {
        throw new CausewayError('bad-request', 'delayMs must be a finite number >= 0');
      }
      if (fault.oneway !== undefined && fault.oneway !== 'in' && fault.oneway !== 'out') {
        throw new CausewayError('bad-request', "oneway must be 'in' or 'out'");
      }
    }
    const wasPartitioned = p.fault?.partition === true;
    const empty = fault === null || (!fault.partition && fault.oneway === undefined && !fault.delayMs && !fault.lossRate);
    p.fault = empty ? null : { ...fault };
    if (p.fault?.partition) {
      this.#clearRetry(p);
      if (p.dialing) this.#closeLink(p.dialing, 'partitioned', 'fault set');
      if (p.link) this.#closeLink(p.link, 'partitioned', 'fault set');
    } else {
      if (!p.fault?.delayMs) this.#releaseDelayed(p, Infinity);
      if (wasPartitioned) {
        p.attempt = 0;
        this.#clearRetry(p);
        this.#dial(p);
      }
    }
  }

  /** Closes every link and the listener; queued messages are discarded. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const p of this.#peers.values()) {
      this.#clearRetry(p);
      if (p.delayTimer) clearTimeout(p.delayTimer);
      p.delayTimer = null;
    }
    for (const link of [...this.#links]) this.#closeLink(link, 'closing', 'close() called');
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- peers

  #setPeerSpecs(specs: readonly PeerSpec[]): void {
    const next = new Map<string, PeerSpec>();
    for (const s of specs) {
      if (s.id === this.selfId) continue;
      if (typeof s.id !== 'string' || s.id.length === 0) throw new CausewayError('bad-request', 'peer id must be a non-empty string');
      next.set(s.id, { id: s.id, host: s.host, port: s.port });
    }
    for (const [id, p] of this.#peers) {
      if (next.has(id)) continue;
      if (p.dialing) this.#closeLink(p.dialing, 'removed', 'peer removed');
      if (p.link) this.#closeLink(p.link, 'removed', 'peer removed');
      this.#clearRetry(p);
      if (p.delayTimer) clearTimeout(p.delayTimer);
      this.#peers.delete(id);
    }
    for (const [id, spec] of next) {
      const p = this.#peers.get(id);
      if (p === undefined) {
        this.#peers.set(id, this.#newPeer(spec));
      } else if (p.spec.host !== spec.host || p.spec.port !== spec.port) {
        p.spec = spec;
        p.attempt = 0;
        this.#clearRetry(p); // dial the new address now
      }
    }
  }

  #newPeer(spec: PeerSpec): Peer {
    return {
      spec,
      link: null,
      dialing: null,
      retryTimer: null,
      attempt: 0,
      everUp: false,
      fault: null,
      queue: [],
      queueHead: 0,
      queueBytes: 0,
      delayed: [],
      delayedHead: 0,
      delayedBytes: 0,
      delayTimer: null,
      flushScheduled: false,
      waitingSocketDrain: false,
      owesDrain: false,
      paused: false,
      inbox: [],
      inboxHead: 0,
      delivering: false,
      sentFrames: 0,
      recvFrames: 0,
      sentMessages: 0,
      recvMessages: 0,
      sentBytes: 0,
      recvBytes: 0,
      reconnects: 0,
      dialAttempts: 0,
      refusedSends: 0,
      droppedMessages: 0,
    };
  }

  #require(peer: string): Peer {
    const p = this.#peers.get(peer);
    if (p === undefined) throw new CausewayError('not-found', `unknown peer ${peer}`);
    return p;
  }

  #isDialer(p: Peer): boolean {
    return this.selfId < p.spec.id;
  }

  // ---------------------------------------------------------------- dialing and accepting

  #dial(p: Peer): void {
    if (!this.#started || this.#closing || !this.#isDialer(p)) return;
    if (p.link || p.dialing || p.retryTimer || p.fault?.partition) return;
    if (this.#peers.get(p.spec.id) !== p) return;
    p.dialAttempts++;
    const socket = connect({ host: p.spec.host, port: p.spec.port, noDelay: true });
    const link = this.#newLink(socket, 'dialer', `${p.spec.host}:${p.spec.port}`);
    link.peerId = p.spec.id;
    link.state = 'await-challenge';
    p.dialing = link;
    socket.once('connect', () => {
      if (link.state === 'closed') return;
      this.#writeHandshake(link, 'hello', { v: HANDSHAKE_VERSION, from: this.selfId, to: p.spec.id, nonce: link.nonce });
    });
  }

  #scheduleRetry(p: Peer): void {
    if (this.#closing || !this.#isDialer(p) || p.retryTimer || p.fault?.partition) return;
    if (this.#peers.get(p.spec.id) !== p) return;
    const delay = backoffDelay(p.attempt, this.#opts.backoff, this.#opts.random());
    p.attempt++;
    p.retryTimer = setTimeout(() => {
      p.retryTimer = null;
      this.#dial(p);
    }, delay);
  }

  #clearRetry(p: Peer): void {
    if (p.retryTimer) clearTimeout(p.retryTimer);
    p.retryTimer = null;
  }

  #onAccept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    if (this.#pendingHandshakes >= this.#opts.maxPendingHandshakes) {
      // Slots full: someone may be holding connections open without authenticating (no secret
      // needed for that). A real peer sends its hello at once and authenticates within
      // milliseconds, so a pending connection makes room for the newcomer: the oldest that has
      // sent nothing at all, else the oldest that has had EVICT_AFTER_MS. A newcomer is turned
      // away only when every slot is younger than that and has spoken.
      const victim = this.#evictable(performance.now());
      const evict = victim !== null;
      if (victim !== null) {
        this.#slotPressure.evicted++;
        this.#closeLink(victim, 'closed', 'evicted: handshake slots full');
      } else {
        this.#slotPressure.refused++;
        socket.destroy();
      }
      this.#reportSlotPressure(remote);
      if (!evict) return;
    }
    const link = this.#newLink(socket, 'acceptor', remote);
    link.state = 'await-hello';
  }

  /** The pending accepted connection to close for a newcomer (see #onAccept), or null. */
  #evictable(now: number): Link | null {
    let oldest: Link | null = null;
    for (const l of this.#links) {
      // a Set keeps insertion order: the first found is the oldest
      if (l.role !== 'acceptor' || l.state === 'open' || l.state === 'closed') continue;
      if (l.lastRecv === l.since) return l; // silent since it connected
      oldest ??= l;
    }
    return oldest !== null && now - oldest.since >= EVICT_AFTER_MS ? oldest : null;
  }

  /** One 'auth-failed' event a second at most while slots are full (each one would be a log line). */
  #reportSlotPressure(remote: string): void {
    const now = performance.now();
    const sp = this.#slotPressure;
    if (now - sp.reportedAt < 1000) return;
    const detail = `handshake slots full (${this.#opts.maxPendingHandshakes}): ${sp.refused} connections refused and ${sp.evicted} unauthenticated ones closed, oldest first, since the last report`;
    sp.reportedAt = now;
    sp.refused = 0;
    sp.evicted = 0;
    this.emit('auth-failed', { remote, peer: null, role: 'acceptor', reason: 'too-many-pending', detail });
  }

  #newLink(socket: Socket, role: Role, remote: string): Link {
    const now = performance.now();
    const link: Link = {
      socket,
      role,
      remote,
      decoder: new FrameDecoder(HANDSHAKE_FRAME_LIMIT),
      nonce: randomBytes(NONCE_BYTES),
      state: 'await-hello',
      peerId: null,
      remoteNonce: null,
      handshakeTimer: null,
      heartbeatTimer: null,
      lastRecv: now,
      lastSent: now,
      since: now,
    };
    this.#links.add(link);
    this.#pendingHandshakes++;
    link.handshakeTimer = setTimeout(() => {
      link.handshakeTimer = null;
      const ms = this.#opts.handshakeTimeoutMs;
      // An unreachable peer is a connection failure, not an authentication one.
      if (socket.connecting) this.#closeLink(link, 'closed', `connect timed out after ${ms} ms`);
      else this.#failHandshake(link, 'timeout', `no authentication within ${ms} ms`);
    }, this.#opts.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(link, chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.#onSocketGone(link, err.code ?? err.message));
    socket.on('close', () => this.#onSocketGone(link, 'socket closed'));
    return link;
  }

  #onSocketGone(link: Link, detail: string): void {
    if (link.state === 'closed') return;
    if (link.state === 'open') {
      this.#closeLink(link, 'closed', detail);
    } else if (link.role === 'acceptor' && link.state === 'await-auth') {
      // A peer that got our challenge and hung up: most likely it found our MAC wrong.
      this.#failHandshake(link, 'closed', detail);
    } else {
      // Refused dials, scanners that connect and leave: not an authentication verdict.
      this.#closeLink(link, 'closed', detail);
    }
  }

  // ---------------------------------------------------------------- reading

  #onData(link: Link, chunk: Buffer): void {
    if (link.state === 'closed') return;
    link.lastRecv = performance.now();
    link.decoder.push(chunk);
    while (!isClosed(link)) {
      const step = link.decoder.next();
      if (!step.ok) {
        const detail = describeDecodeError(step.error);
        if (link.state === 'open') this.#closeLink(link, 'protocol-error', detail);
        else this.#failHandshake(link, step.error.kind === 'oversize' ? 'oversize' : 'malformed', detail);
        return;
      }
      if (step.frame === null) return;
      this.#onFrame(link, step.frame);
    }
  }

  #onFrame(link: Link, frame: Frame): void {
    switch (link.state) {
      case 'open':
        return this.#onOpenFrame(link, frame);
      case 'await-hello':
        return frame.type === 'hello' ? this.#onHello(link, frame.body) : this.#unexpected(link, frame);
      case 'await-auth':
        return frame.type === 'auth' ? this.#onAuth(link, frame.body) : this.#unexpected(link, frame);
      case 'await-challenge':
        if (frame.type === 'challenge') return this.#onChallenge(link, frame.body);
        if (frame.type === 'reject') return this.#onReject(link, frame.body);
        return this.#unexpected(link, frame);
      case 'await-welcome':
        if (frame.type === 'welcome') return this.#open(link);
        if (frame.type === 'reject') return this.#onReject(link, frame.body);
        return this.#unexpected(link, frame);
      case 'closed':
        return;
      default:
        return assertNever(link.state, 'link state');
    }
  }

  #unexpected(link: Link, frame: Frame): void {
    this.#failHandshake(link, 'unexpected-frame', `${frame.type} frame in state ${link.state}`);
  }

  #decodeHandshake(link: Link, body: Buffer): unknown {
    try {
      return this.#unpackr.unpack(body);
    } catch (err) {
      this.#failHandshake(link, 'malformed', `undecodable handshake body: ${(err as Error).message}`);
      return undefined;
    }
  }

  #onHello(link: Link, body: Buffer): void {
    const raw = this.#decodeHandshake(link, body);
    if (link.state === 'closed') return;
    const parsed = HelloBody.safeParse(raw);
    if (!parsed.success) return this.#failHandshake(link, 'malformed', 'bad hello');
    const hello = parsed.data;
    link.peerId = hello.from;
    if (hello.v !== HANDSHAKE_VERSION) return this.#reject(link, 'bad-version', `version ${hello.v}`);
    if (hello.to !== this.selfId) return this.#reject(link, 'wrong-target', `hello for ${hello.to}`);
    const p = this.#peers.get(hello.from);
    if (p === undefined) return this.#reject(link, 'unknown-peer', `unknown id ${hello.from}`);
    if (!(hello.from < this.selfId)) return this.#reject(link, 'wrong-direction', `${hello.from} must be dialed by us`);
    if (p.fault?.partition) {
      // Not an authentication verdict: refuse quietly, the dialer retries with backoff.
      this.#writeHandshake(link, 'reject', { reason: 'partitioned' });
      return this.#closeLink(link, 'partitioned', 'partition fault');
    }
    link.remoteNonce = Buffer.from(hello.nonce);
    const mac = computeMac(this.#secret, 'acceptor', this.#transcript(link));
    this.#writeHandshake(link, 'challenge', { from: this.selfId, nonce: link.nonce, mac });
    link.state = 'await-auth';
  }

  #onAuth(link: Link, body: Buffer): void {
    const raw = this.#decodeHandshake(link, body);
    if (link.state === 'closed') return;
    const parsed = AuthBody.safeParse(raw);
    if (!parsed.success) return this.#failHandshake(link, 'malformed', 'bad auth');
    if (!verifyMac(this.#secret, 'dialer', this.#transcript(link), parsed.data.mac)) {
      return this.#reject(link, 'bad-mac', 'dialer proof does not match the cluster secret');
    }
    this.#writeHandshake(link, 'welcome', {});
    this.#open(link);
  }

  #onChallenge(link: Link, body: Buffer): void {
    const raw = this.#decodeHandshake(link, body);
    if (link.state === 'closed') return;
    const parsed = ChallengeBody.safeParse(raw);
    if (!parsed.success) return this.#failHandshake(link, 'malformed', 'bad challenge');
    const ch = parsed.data;
    if (ch.from !== link.peerId) return this.#failHandshake(link, 'wrong-peer', `expected ${link.peerId}, got ${ch.from}`);
    link.remoteNonce = Buffer.from(ch.nonce);
    const t = this.#transcript(link);
    if (!verifyMac(this.#secret, 'acceptor', t, ch.mac)) {
      return this.#failHandshake(link, 'bad-mac', 'acceptor proof does not match the cluster secret');
    }
    this.#writeHandshake(link, 'auth', { mac: computeMac(this.#secret, 'dialer', t) });
    link.state = 'await-welcome';
  }

  #onReject(link: Link, body: Buffer): void {
    const parsed = RejectBody.safeParse(this.#decodeHandshake(link, body));
    if (link.state === 'closed') return;
    const reason = parsed.success ? parsed.data.reason : 'unreadable';
    if (reason === 'partitioned') return this.#closeLink(link, 'partitioned', 'refused by a partition fault');
    this.#failHandshake(link, 'rejected', reason);
  }

  #transcript(link: Link): HandshakeTranscript {
    const peerId = link.peerId as string;
    const remoteNonce = link.remoteNonce as Buffer;
    return link.role === 'dialer'
      ? { dialerId: this.selfId, acceptorId: peerId, dialerNonce: link.nonce, acceptorNonce: remoteNonce }
      : { dialerId: peerId, acceptorId: this.selfId, dialerNonce: remoteNonce, acceptorNonce: link.nonce };
  }

  /** Acceptor-side refusal: tell the dialer why, then fail. */
  #reject(link: Link, reason: AuthFailReason, detail: string): void {
    this.#writeHandshake(link, 'reject', { reason });
    this.#failHandshake(link, reason, detail);
  }

  #failHandshake(link: Link, reason: AuthFailReason, detail: string): void {
    if (link.state === 'closed') return;
    const wasOpen = link.state === 'open';
    const failure: AuthFailure = { remote: link.remote, peer: link.peerId, role: link.role, reason, detail };
    this.#closeLink(link, wasOpen ? 'protocol-error' : 'closed', detail);
    if (!wasOpen) this.emit('auth-failed', failure);
  }

  #writeHandshake(link: Link, type: 'hello' | 'challenge' | 'auth' | 'welcome' | 'reject', body: object): void {
    if (link.socket.destroyed) return;
    link.socket.write(encodeFrame(type, this.#handshakePackr.pack(body)));
  }

  // ---------------------------------------------------------------- open links

  #open(link: Link): void {
    const p = link.peerId === null ? undefined : this.#peers.get(link.peerId);
    if (p === undefined || this.#closing) {
      this.#closeLink(link, 'removed', 'peer no longer known');
      return;
    }
    if (link.handshakeTimer) clearTimeout(link.handshakeTimer);
    link.handshakeTimer = null;
    this.#pendingHandshakes--;
    link.state = 'open';
    link.decoder.setLimit(this.#opts.maxFrameBytes);
    if (p.dialing === link) p.dialing = null;
    if (p.link) this.#closeLink(p.link, 'replaced', 'a newer authenticated connection took over');
    p.link = link;
    p.attempt = 0;
    this.#clearRetry(p);
    if (p.everUp) p.reconnects++;
    p.everUp = true;
    const now = performance.now();
    link.lastRecv = now;
    link.lastSent = now;
    const tick = Math.max(1, Math.min(this.#opts.heartbeatMs, this.#opts.idleTimeoutMs / 2));
    link.heartbeatTimer = setInterval(() => this.#heartbeat(p, link), tick);
    if (p.paused) link.socket.pause();
    this.emit('up', p.spec.id);
  }

  #heartbeat(p: Peer, link: Link): void {
    if (link.state !== 'open') return;
    const now = performance.now();
    if (!p.paused && now - link.lastRecv > this.#opts.idleTimeoutMs) {
      this.#closeLink(link, 'idle-timeout', `nothing received for ${this.#opts.idleTimeoutMs} ms`);
      return;
    }
    if (now - link.lastSent >= this.#opts.heartbeatMs && !p.waitingSocketDrain) {
      link.socket.write(frameHeader('ping', 0));
      link.lastSent = now;
    }
  }

  #onOpenFrame(link: Link, frame: Frame): void {
    const p = this.#peers.get(link.peerId as string);
    if (p === undefined || p.link !== link) return;
    switch (frame.type) {
      case 'ping':
        return;
      case 'data': {
        let msgs: unknown[];
        try {
          msgs = this.#unpackr.unpackMultiple(frame.body) as unknown[];
        } catch (err) {
          this.#closeLink(link, 'protocol-error', `undecodable batch: ${(err as Error).message}`);
          return;
        }
        p.recvFrames++;
        p.recvBytes += frame.body.length + FRAME_HEADER_BYTES;
        if (p.fault?.oneway === 'in') {
          p.droppedMessages += msgs.length;
          return;
        }
        for (const m of msgs) p.inbox.push(m);
        this.#deliver(p);
        return;
      }
      case 'hello':
      case 'challenge':
      case 'auth':
      case 'welcome':
      case 'reject':
        this.#closeLink(link, 'protocol-error', `${frame.type} frame on an open link`);
        return;
      default:
        return assertNever(frame.type, 'frame type');
    }
  }

  #deliver(p: Peer): void {
    if (p.delivering) return;
    p.delivering = true;
    try {
      const link = p.link;
      while (!p.paused && p.link === link && p.inboxHead < p.inbox.length && this.#peers.get(p.spec.id) === p) {
        const msg = p.inbox[p.inboxHead];
        p.inbox[p.inboxHead] = undefined;
        p.inboxHead++;
        p.recvMessages++;
        this.emit('message', p.spec.id, msg);
      }
      if (p.inboxHead >= p.inbox.length) {
        p.inbox = [];
        p.inboxHead = 0;
      } else if (p.inboxHead > 1024 && p.inboxHead * 2 > p.inbox.length) {
        p.inbox = p.inbox.slice(p.inboxHead);
        p.inboxHead = 0;
      }
    } finally {
      p.delivering = false;
    }
  }

  // ---------------------------------------------------------------- writing

  #backlog(p: Peer): number {
    return p.queueBytes + p.delayedBytes + (p.link ? p.link.socket.writableLength : 0);
  }

  #enqueue(p: Peer, buf: Buffer): void {
    p.queue.push(buf);
    p.queueBytes += buf.length;
    if (!p.flushScheduled) {
      p.flushScheduled = true;
      setImmediate(() => this.#flush(p));
    }
  }

  #flush(p: Peer): void {
    p.flushScheduled = false;
    const link = p.link;
    if (link === null || link.state !== 'open' || p.waitingSocketDrain) return;
    const budget = Math.min(this.#opts.maxBatchBytes, this.#opts.maxFrameBytes - 1);
    while (p.queueHead < p.queue.length) {
      const parts: Buffer[] = [];
      let bytes = 0;
      while (p.queueHead < p.queue.length) {
        const next = p.queue[p.queueHead] as Buffer;
        if (parts.length > 0 && bytes + next.length > budget) break;
        parts.push(next);
        bytes += next.length;
        p.queueHead++;
      }
      p.queueBytes -= bytes;
      const frame = Buffer.concat([frameHeader('data', bytes), ...parts], bytes + FRAME_HEADER_BYTES);
      p.sentFrames++;
      p.sentMessages += parts.length;
      p.sentBytes += frame.length;
      link.lastSent = performance.now();
      if (!link.socket.write(frame)) {
        p.waitingSocketDrain = true;
        link.socket.once('drain', () => {
          p.waitingSocketDrain = false;
          if (p.link === link) this.#flush(p);
        });
        break;
      }
    }
    if (p.queueHead >= p.queue.length) {
      p.queue = [];
      p.queueHead = 0;
    } else if (p.queueHead > 1024 && p.queueHead * 2 > p.queue.length) {
      p.queue = p.queue.slice(p.queueHead);
      p.queueHead = 0;
    }
    this.#maybeDrain(p);
  }

  #maybeDrain(p: Peer): void {
    const link = p.link;
    if (!p.owesDrain || link === null) return;
    if (this.#backlog(p) <= this.#opts.maxQueueBytes / 2) {
      p.owesDrain = false;
      this.emit('drain', p.spec.id);
    } else if (!p.waitingSocketDrain && p.queueHead >= p.queue.length) {
      // Only the socket's own buffer is left: check again once it empties.
      link.socket.once('drain', () => {
        if (p.link === link) this.#maybeDrain(p);
      });
    }
  }

  #armDelayTimer(p: Peer): void {
    if (p.delayTimer || p.delayedHead >= p.delayed.length) return;
    const head = p.delayed[p.delayedHead] as Delayed;
    p.delayTimer = setTimeout(() => {
      p.delayTimer = null;
      this.#releaseDelayed(p, performance.now());
      this.#armDelayTimer(p);
    }, Math.max(0, head.due - performance.now()));
  }

  /** Moves delayed messages due by `now` into the send queue, in order. */
  #releaseDelayed(p: Peer, now: number): void {
    while (p.delayedHead < p.delayed.length) {
      const d = p.delayed[p.delayedHead] as Delayed;
      if (d.due > now) break;
      p.delayedHead++;
      p.delayedBytes -= d.buf.length;
      if (p.link) this.#enqueue(p, d.buf);
    }
    if (p.delayedHead >= p.delayed.length) {
      p.delayed = [];
      p.delayedHead = 0;
      if (p.delayTimer) clearTimeout(p.delayTimer);
      p.delayTimer = null;
    }
  }

  // ---------------------------------------------------------------- closing

  #closeLink(link: Link, reason: DownReason, detail: string): void {
    if (link.state === 'closed') return;
    const wasOpen = link.state === 'open';
    link.state = 'closed';
    this.#links.delete(link);
    if (!wasOpen) this.#pendingHandshakes--;
    if (link.handshakeTimer) clearTimeout(link.handshakeTimer);
    if (link.heartbeatTimer) clearInterval(link.heartbeatTimer);
    link.handshakeTimer = null;
    link.heartbeatTimer = null;
    if (wasOpen || reason === 'closing') {
      link.socket.destroy();
    } else {
      // Let a final reject frame leave before the socket goes; whatever the other end sends now
      // is ignored (the link is closed), and the socket is destroyed soon in any case.
      link.socket.end();
      setTimeout(() => link.socket.destroy(), 1000).unref();
    }
    const p = link.peerId === null ? undefined : this.#peers.get(link.peerId);
    if (p === undefined) return;
    if (p.dialing === link) {
      p.dialing = null;
      this.#scheduleRetry(p);
    }
    if (p.link === link) {
      p.link = null;
      this.#discardOutbound(p);
      p.inbox = [];
      p.inboxHead = 0;
      this.emit('down', p.spec.id, reason, detail);
      this.#scheduleRetry(p);
    }
  }

  #discardOutbound(p: Peer): void {
    p.queue = [];
    p.queueHead = 0;
    p.queueBytes = 0;
    p.delayed = [];
    p.delayedHead = 0;
    p.delayedBytes = 0;
    if (p.delayTimer) clearTimeout(p.delayTimer);
    p.delayTimer = null;
    p.waitingSocketDrain = false;
    p.owesDrain = false;
  }

  #emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
