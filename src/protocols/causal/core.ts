/**
 * The causal replication protocol as a pure state machine (ARCHITECTURE.md §1, SPEC.md §2
 * "Replication and causality"). No sockets, files, timers or ambient time: the driver feeds
 * submit / receive / linkChanged / tick and executes each Ready batch (persist first, atomically
 * and durably, then send messages and replies).
 *
 * Backpressure is signalled two ways, both synchronous: `pausedPeers()` is the set of peers whose
 * link the driver must stop reading from (check it after every `receive` / `ready()`), and every
 * change is also published as a `backpressure` event (`pause` / `resume`).
 */
import type { NodeId, ProtocolCore, Ready, Snapshot, StorageOp } from '../../core/protocol.js';
import { compare, format, type VectorClock } from '../../clocks/vector.js';
import { assertNever, invariant } from '../../core/assert.js';
import { CausewayError } from '../../core/errors.js';
import type { KvOp, KvReply } from '../kv-types.js';
import { HeldSeqs, heldIn, type HaveRanges } from './have.js';
import { Outbox } from './outbox.js';
import {
  CAUSAL_EVENT_TYPES,
  type BufferedInfo,
  type CausalEvent,
  type CausalEventType,
  type CausalMsg,
  type CausalPeerStatus,
  type CausalStatus,
  type CausalWrite,
  type SyncReason,
  type Version,
  type WriteRef,
} from './types.js';

export interface CausalOptions {
  /** Most writes held in the causal-delivery buffer at once (backpressure beyond). */
  readonly bufferLimit: number;
  /**
   * Most bytes of writes held in the causal-delivery buffer at once, as `writeBytes` estimates them
   * (backpressure beyond, as for bufferLimit). A buffer of 10,000 writes of a megabyte each would
   * otherwise be 10 GB. The first write into an empty buffer is always taken, however large.
   */
  readonly bufferBytesLimit: number;
  /**
   * A write's size in bytes for bufferBytesLimit, asked only of writes that are buffered; null
   * counts every write as 0 bytes (the count alone bounds the buffer).
   */
  readonly writeBytes: ((w: CausalWrite) => number) | null;
  /** Ticks a client operation may wait for its causal context before `context-timeout`. */
  readonly contextWaitTicks: number;
  /** Every this many ticks, tell peers our clock (`ack`) so they can compact their logs; 0: never. */
  readonly ackEveryTicks: number;
  /** A non-empty buffer that made no progress for this many ticks triggers a re-sync; 0: never. */
  readonly resyncAfterTicks: number;
  /** Most writes in one anti-entropy `writes` message. */
  readonly syncBatchSize: number;
  /**
   * Links that come up together (a restart, a healed partition) are synced one peer at a time, as
   * is a stale buffer's re-sync: each peer answers a sync request with everything the requester
   * lacks, third nodes' writes included, so asking them all at once would bring each missing write
   * once per peer. The next peer is asked, with the clock the node then has, when the answer is
   * complete (its last batch is marked `done`), or after this many ticks with no batch of it; 0:
   * ask every peer at once. (A freshly started node took more than 10 ticks to get the first batch
   * of 3,000 writes, and asking the next peer then brought them all again.)
   */
  readonly pullTimeoutTicks: number;
  /** Most client operations waiting for their context at once; beyond, `overloaded`. */
  readonly maxWaitingOps: number;
  /**
   * A peer known to lack writes from our log whose acknowledged clock has not moved for this many
   * ticks is sent them again (a write lost in transit with nothing depending on it is otherwise
   * never noticed by the peer); 0: never.
   */
  readonly repairAfterTicks: number;
  /**
   * Which events this core publishes: 'all' (the default: the runtime's logs, the dashboard and
   * ShiViz need them), or only the listed types — a driver that reads a few event types (the
   * simulator's oracle) skips building the others. Behaviour is the same either way: events are
   * outputs only.
   */
  readonly events: 'all' | readonly CausalEventType[];
}

export const DEFAULT_CAUSAL_OPTIONS: Readonly<CausalOptions> = Object.freeze({
  bufferLimit: 10_000,
  bufferBytesLimit: 64 * 1024 * 1024,
  writeBytes: null,
  contextWaitTicks: 50,
  ackEveryTicks: 10,
  resyncAfterTicks: 20,
  syncBatchSize: 1000,
  pullTimeoutTicks: 50,
  maxWaitingOps: 10_000,
  repairAfterTicks: 30,
  events: 'all',
});

export interface CausalInit {
  readonly id: NodeId;
  readonly nodes: readonly NodeId[];
  readonly options?: Partial<CausalOptions>;
  /**
   * Where the core gets a replication-log key; it must return logKey(origin, seq)'s text. Several
   * cores in one process (the simulator's) may share one memoizing source, so that a write's key
   * is built once rather than by every node. Default: built here.
   */
  readonly logKeys?: (origin: NodeId, seq: number) => string;
}

/** Storage spaces and keys this core writes. */
export const SPACE_LOG = 'log';
export const SPACE_KV = 'kv';
export const SPACE_META = 'meta';
export const META_CLOCK = 'clock';
export const META_LAMPORT = 'lamport';

/** Dirty keys up to this many are deduplicated by scanning their list (most batches change one). */
const DIRTY_SCAN = 8;

/** Zero runs by length, 0..16: padding without building a padded copy per key. */
const ZEROS: readonly string[] = Array.from({ length: 17 }, (_, i) => '0'.repeat(i));

/** Replication-log key: origin, then the zero-padded sequence number, so keys sort by seq. */
export function logKey(origin: NodeId, seq: number): string {
  const digits = String(seq);
  return digits.length >= 16 ? `${origin}/${digits}` : `${origin}/${ZEROS[16 - digits.length] as string}${digits}`;
}

/** Stored value of a key in the 'kv' space. */
export interface StoredKey {
  readonly siblings: readonly Version[];
}

/** A key's state in memory: its versions (winner first), replaced (never mutated) on each write. */
interface KeySlot {
  readonly key: string;
  versions: readonly Version[];
}

interface OriginLog {
  readonly origin: NodeId;
  /** Sequence number just below the first entry held (entries before it were compacted). */
  base: number;
  /** Index in `entries` of the entry with seq base + 1. */
  head: number;
  entries: CausalWrite[];
  /** logKey of each entry (same indexing): compaction deletes by the very strings it put. */
  keys: string[];
  /** clockTotal of each entry's clock (same indexing): the anti-entropy order. */
  totals: number[];
  /** logKey's text before the digits, by digit count: `${origin}/` and the zero padding. */
  readonly prefixes: readonly string[];
}

/** logKey(log.origin, seq), from the log's ready-made prefix for this many digits: one concatenation. */
function keyFrom(log: OriginLog, seq: number): string {
  const digits = String(seq);
  return digits.length >= 16 ? logKey(log.origin, seq) : (log.prefixes[digits.length] as string) + digits;
}

function keyPrefixes(origin: NodeId): string[] {
  return ZEROS.map((_, digits) => `${origin}/${ZEROS[16 - digits] as string}`);
}

interface Buffered {
  readonly write: CausalWrite;
  readonly from: NodeId;
  readonly seq: number;
  /** Its size as options.writeBytes estimates it. */
  readonly bytes: number;
  /** The dependency it is indexed under: [node, seq]. */
  wait: [NodeId, number];
}

interface WaitingOp {
  readonly op: KvOp;
  readonly deadline: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The engine's canonical copy of a node id: the one property keys use (an object literal's keys
 * are interned). Ids are compared, used as clock keys and map keys on every message; an id string
 * built at run time (`node${i}`, a decoded message) is a separate copy, which every keyed load
 * through it first looks up in the engine's string table and every comparison with a clock key
 * compares character by character. Same text, so nothing observable changes.
 */
export function canonicalId(id: NodeId): NodeId {
  for (const k in { [id]: 0 }) return k;
  return id;
}

function seqOf(w: CausalWrite): number {
  return w.clock[w.origin] ?? 0;
}

function writeRef(w: CausalWrite): WriteRef {
  return { origin: w.origin, seq: seqOf(w), clock: w.clock, key: w.key };
}

/** Values by (node, sequence number), without a string key built per lookup. */
class PairIndex<V> {
  readonly #byNode = new Map<NodeId, Map<number, V>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(node: NodeId, seq: number): V | undefined {
    return this.#byNode.get(node)?.get(seq);
  }

  set(node: NodeId, seq: number, v: V): void {
    let m = this.#byNode.get(node);
    if (m === undefined) this.#byNode.set(node, (m = new Map()));
    const before = m.size;
    m.set(seq, v);
    this.#size += m.size - before;
  }

  delete(node: NodeId, seq: number): void {
    if (this.#byNode.get(node)?.delete(seq) === true) this.#size--;
  }

  clear(): void {
    this.#byNode.clear();
    this.#size = 0;
  }
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function clockTotal(c: VectorClock): number {
  let s = 0;
  for (const k in c) s += c[k] ?? 0;
  return s;
}

/** Deterministic winner order: higher Lamport stamp first, then higher origin id. */
export function versionOrder(a: Version, b: Version): number {
  if (a.lamport !== b.lamport) return b.lamport - a.lamport;
  return a.origin < b.origin ? 1 : a.origin > b.origin ? -1 : 0;
}

/**
 * Sorts siblings in place by versionOrder: an insertion sort (stable, as Array.prototype.sort is,
 * so the order is the same), without the work arrays a library sort allocates per call — sibling
 * lists are a handful of versions, sorted on every conflicting write.
 */
function sortVersions(vs: Version[]): void {
  for (let i = 1; i < vs.length; i++) {
    const v = vs[i] as Version;
    let j = i - 1;
    while (j >= 0 && versionOrder(vs[j] as Version, v) > 0) {
      vs[j + 1] = vs[j] as Version;
      j--;
    }
    vs[j + 1] = v;
  }
}

function checkOptions(o: CausalOptions): void {
  const positive = ['bufferLimit', 'syncBatchSize', 'contextWaitTicks', 'maxWaitingOps'] as const;
  for (const k of positive) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new CausewayError('bad-request', `option ${k} must be a positive integer`);
  }
  if (!(o.bufferBytesLimit > 0)) throw new CausewayError('bad-request', 'option bufferBytesLimit must be a positive number');
  if (o.writeBytes !== null && typeof o.writeBytes !== 'function') throw new CausewayError('bad-request', 'option writeBytes must be a function or null');
  for (const k of ['ackEveryTicks', 'resyncAfterTicks', 'repairAfterTicks', 'pullTimeoutTicks'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 0) throw new CausewayError('bad-request', `option ${k} must be a non-negative integer`);
  }
  if (o.events !== 'all') {
    if (!Array.isArray(o.events)) throw new CausewayError('bad-request', `option events must be 'all' or a list of event types`);
    for (const t of o.events) {
      if (!CAUSAL_EVENT_TYPES.includes(t)) throw new CausewayError('bad-request', `option events: unknown event type ${String(t)}`);
    }
  }
}

/** Which event types a core publishes: one flag per type. */
type EventMask = Readonly<Record<CausalEventType, boolean>>;

function eventMask(events: CausalOptions['events']): EventMask {
  const mask = {} as Record<CausalEventType, boolean>;
  for (const t of CAUSAL_EVENT_TYPES) mask[t] = events === 'all' || events.includes(t);
  return Object.freeze(mask);
}

export class CausalCore implements ProtocolCore<KvOp, CausalMsg, KvReply, CausalEvent> {
  readonly id: NodeId;
  readonly nodes: readonly NodeId[];
  readonly options: Readonly<CausalOptions>;
  readonly #peers: readonly NodeId[];

  /** This node's vector clock (mutated in place; handed out as the frozen snapshot below). */
  readonly #clock: Record<NodeId, number>;
  /**
   * Copy-on-write: a copy of #clock, made when first handed out after a change and shared by
   * everything handed out until the next change (events, replies, messages, persisted meta). Like
   * a write's clock (shared by its log entry, stored version, messages and reply), it is never
   * mutated by anyone: handed-out clocks are immutable values (VectorClock is Readonly), and the
   * simulator's freezeMessages mode deep-freezes what cores send and persist to catch a mutation.
   * Object.freeze here would be a runtime call per change, a measurable share of a simulation.
   */
  #snapshot: VectorClock | null = null;
  readonly #want: EventMask;
  readonly #logKeys: ((origin: NodeId, seq: number) => string) | undefined;
  #lamport = 0;
  /** Number of writes applied (sum of the clock): cheap "did the clock change" test. */
  #applied = 0;
  /** Each key's versions, in a slot replaced on write: one map lookup per applied write. */
  readonly #store = new Map<string, KeySlot>();
  readonly #log = new Map<NodeId, OriginLog>();
  /** The same logs in the map's (insertion) order, for loops that visit them all. */
  readonly #logs: OriginLog[] = [];
  #logLength = 0;

  /** Buffered writes in arrival order, and the same by (origin, seq). */
  readonly #buffer = new Set<Buffered>();
  /** The most writes the buffer has held at once since this core started (see bufferPeak). */
  #bufferPeak = 0;
  /** Bytes of the buffered writes, as options.writeBytes estimates them. */
  #bufferBytes = 0;
  readonly #buffered = new HeldSeqs();
  /** Buffered writes indexed by the dependency they wait for (node, seq). */
  readonly #waiting = new PairIndex<Buffered[]>();
  readonly #paused = new Set<NodeId>();
  /** Peers whose writes were turned away while the buffer was full: re-sync them on resume. */
  readonly #resyncNeeded = new Set<NodeId>();
  readonly #down = new Set<NodeId>();
  /** #peers without #down, rebuilt only when #down changes (never mutated once handed out). */
  #live: readonly NodeId[];
  readonly #acked = new Map<NodeId, Record<NodeId, number>>();
  /** The same records in #peers order (they are mutated in place, never replaced). */
  readonly #ackedByPeer: Record<NodeId, number>[] = [];
  /** Per peer, #ackMark() when we last told it our state (an ack or a sync request). */
  readonly #lastAckSent = new Map<NodeId, number>();
  /**
   * What each peer last said its causal-delivery buffer holds (the `have` of its latest ack or sync
   * request; none when its buffer was empty). Repair leaves those writes out. Forgotten when the
   * link comes up again: a restarted peer has lost its buffer.
   */
  readonly #peerHave = new Map<NodeId, HaveRanges>();
  /**
   * Tick at which each peer's acknowledged clock last advanced, or it was last seen up to date, or
   * its link came up, or it was last sent writes by anti-entropy (pushed later for a large answer:
   * see #holdRepair). Repair waits repairAfterTicks from it.
   */
  readonly #ackProgress = new Map<NodeId, number>();

  /** The pull under way (see pullTimeoutTicks): its peer and the tick it was asked or last answered. */
  #pull: { readonly peer: NodeId; readonly since: number } | null = null;
  /** Peers to pull from once the pull under way ends (a link came up, or the buffer is stale), in turn. */
  #pullQueue: { readonly peer: NodeId; readonly reason: SyncReason }[] = [];

  #now = 0;
  #lastProgress = 0;
  #waitingOps: WaitingOp[] = [];

  // the Ready batch under construction
  readonly #persist = new Outbox<StorageOp>();
  readonly #messages = new Outbox<{ to: NodeId; msg: CausalMsg }>();
  readonly #replies = new Outbox<KvReply>();
  readonly #events = new Outbox<CausalEvent>();
  /** Keys changed since the last Ready batch, in the order they changed (their persist order). */
  readonly #dirtyList: KeySlot[] = [];
  /** The same keys as a set, once there are more than DIRTY_SCAN of them (else the list is scanned). */
  readonly #dirtyKeys = new Set<KeySlot>();
  /**
   * The clock and Lamport stamp need persisting in this batch: log entries are being deleted. Every
   * applied write is in the replication log until compaction, so a restore takes the clock and the
   * stamp from the log's entries; only what compaction deletes needs them stored (the 'meta'
   * space holds them as of the last compaction, or older; see #load).
   */
  #metaDirty = false;

  constructor(init: CausalInit) {
    this.id = canonicalId(init.id);
    this.nodes = Object.freeze(init.nodes.map(canonicalId));
    if (!this.nodes.includes(init.id)) throw new CausewayError('bad-request', `node ${init.id} is not in the node list`);
    if (new Set(this.nodes).size !== this.nodes.length) throw new CausewayError('bad-request', 'duplicate node ids');
    const options = { ...DEFAULT_CAUSAL_OPTIONS, ...init.options };
    checkOptions(options);
    this.options = Object.freeze(options);
    this.#want = eventMask(options.events);
    this.#logKeys = init.logKeys;
    this.#peers = Object.freeze(this.nodes.filter((n) => n !== this.id));
    this.#live = this.#peers;
    this.#clock = {};
    for (const n of this.nodes) this.#clock[n] = 0;
    for (const p of this.#peers) {
      const acked: Record<NodeId, number> = {};
      this.#acked.set(p, acked);
      this.#ackedByPeer.push(acked);
    }
  }

  /** Rebuild a core from exactly what it persisted (the 'log', 'kv' and 'meta' spaces). */
  static restore(snapshot: Snapshot, init: CausalInit): CausalCore {
    const core = new CausalCore(init);
    core.#load(snapshot);
    return core;
  }

  #load(snapshot: Snapshot): void {
    for (const [k, v] of snapshot.entries(SPACE_META)) {
      if (k === META_CLOCK) {
        for (const [n, c] of Object.entries(v as VectorClock)) this.#clock[n] = c;
      } else if (k === META_LAMPORT) {
        this.#lamport = v as number;
      }
    }
    const stored: Record<NodeId, number> = { ...this.#clock };
    for (const [k, v] of snapshot.entries(SPACE_KV)) this.#store.set(k, { key: k, versions: (v as StoredKey).siblings });
    // Entries come in any order: a store in key order hands them per origin, by sequence number
    // (keys are zero-padded), but the result does not depend on it. The stored keys are kept as
    // they are (compaction deletes by them); an origin's entries out of seq order are sorted.
    const byOrigin = new Map<NodeId, { writes: CausalWrite[]; keys: string[] }>();
    let run: { writes: CausalWrite[]; keys: string[] } | undefined;
    let runOrigin: NodeId | undefined;
    for (const entry of snapshot.entries(SPACE_LOG)) {
      const w = entry[1] as CausalWrite;
      // entries of one origin come together (key order): one map lookup per origin, not per entry
      if (run === undefined || w.origin !== runOrigin) {
        runOrigin = w.origin;
        run = byOrigin.get(w.origin);
        if (!run) byOrigin.set(w.origin, (run = { writes: [], keys: [] }));
      }
      run.writes.push(w);
      run.keys.push(entry[0]);
    }
    // Origins in the order their keys sort in (`${origin}/...`), whatever order the entries came
    // in: the log list (compaction's delete order) is then the same as from a store in key order.
    const origins = [...byOrigin.keys()];
    if (origins.length > 1) origins.sort((a, b) => byText(`${a}/`, `${b}/`));
    for (const origin of origins) {
      const run = byOrigin.get(origin) as { writes: CausalWrite[]; keys: string[] };
      let list = run.writes;
      let keys = run.keys;
      // The usual log: consecutive sequence numbers in key order (one pass). Otherwise sort it by
      // sequence number and check it is contiguous.
      const start = seqOf(list[0] as CausalWrite);
      let inOrder = true;
      for (let i = 1; i < list.length && inOrder; i++) if (seqOf(list[i] as CausalWrite) !== start + i) inOrder = false;
      let sorted = true;
      if (!inOrder) for (let i = 1; i < list.length && sorted; i++) if (seqOf(list[i] as CausalWrite) < seqOf(list[i - 1] as CausalWrite)) sorted = false;
      if (!sorted) {
        const order = list.map((w, i) => ({ w, k: keys[i] as string }));
        order.sort((a, b) => seqOf(a.w) - seqOf(b.w));
        list = order.map((x) => x.w);
        keys = order.map((x) => x.k);
      }
      const first = inOrder ? start : seqOf(list[0] as CausalWrite);
      if (!inOrder) {
        for (let i = 0; i < list.length; i++) {
          if (seqOf(list[i] as CausalWrite) !== first + i) invariant(false, `replication log of ${origin} is not contiguous`);
        }
      }
      // The stored clock is as of the last compaction (or later): it covers every deleted entry,
      // and the log runs from just after them to the last write applied.
      const last = first + list.length - 1;
      const had = stored[origin] ?? 0;
      invariant(first - 1 <= had && had <= last, `replication log of ${origin} (${first}..${last}) does not meet the stored clock (${had})`);
      this.#clock[origin] = last;
      const totals = new Array<number>(list.length);
      for (let i = 0; i < list.length; i++) {
        const w = list[i] as CausalWrite;
        totals[i] = clockTotal(w.clock);
        if (w.lamport > this.#lamport) this.#lamport = w.lamport;
      }
      this.#addLog({ origin, base: first - 1, head: 0, entries: list, keys, totals, prefixes: keyPrefixes(origin) });
      this.#logLength += list.length;
    }
    this.#snapshot = null;
    this.#applied = clockTotal(this.#clock);
  }

  // ---- inputs ----

  submit(op: KvOp): void {
    if (op.ctx !== undefined && !this.#covers(op.ctx)) {
      if (this.#waitingOps.length >= this.options.maxWaitingOps) {
        this.#replies.push({ reqId: op.reqId, ok: false, reason: 'overloaded', detail: `${this.#waitingOps.length} operations already wait for their causal context` });
        return;
      }
      this.#waitingOps.push({ op, deadline: this.#now + this.options.contextWaitTicks });
      if (this.#want['context-wait']) this.#events.push({ type: 'context-wait', node: this.id, reqId: op.reqId, ctx: op.ctx, nodeClock: this.#clockCopy() });
      return;
    }
    this.#serve(op);
  }

  receive(from: NodeId, msg: CausalMsg): void {
    switch (msg.type) {
      case 'write':
        if (this.#want.receive) this.#events.push({ type: 'receive', node: this.id, peer: from, msg: 'write', count: 1, nodeClock: this.#clockCopy(), write: writeRef(msg.write) });
        this.#onWrite(from, msg.write);
        this.#afterWrites();
        return;
      case 'writes':
        if (this.#want.receive) this.#events.push({ type: 'receive', node: this.id, peer: from, msg: 'writes', count: msg.writes.length, nodeClock: this.#clockCopy() });
        for (const w of msg.writes) this.#onWrite(from, w);
        this.#afterWrites();
        if (this.#pull !== null && this.#pull.peer === from && msg.reason === 'sync') {
          // done: the answer is complete; a batch of it: the pull is making progress
          if (msg.done === true) this.#nextPull();
          else this.#pull = { peer: from, since: this.#now };
        }
        return;
      case 'sync':
        if (this.#want.receive) this.#events.push({ type: 'receive', node: this.id, peer: from, msg: 'sync', count: 0, nodeClock: this.#clockCopy() });
        // A sync request carries the requester's applied (and persisted) clock: it is an ack too.
        this.#onAcked(from, msg.clock, msg.have);
        this.#answerSync(from, msg.clock, true, msg.have);
        return;
      case 'ack':
        if (this.#want.receive) this.#events.push({ type: 'receive', node: this.id, peer: from, msg: 'ack', count: 0, nodeClock: this.#clockCopy() });
        this.#onAcked(from, msg.clock, msg.have);
        return;
      default:
        assertNever(msg, 'causal message');
    }
  }

  linkChanged(peer: NodeId, up: boolean): void {
    if (peer === this.id) return;
    if (up) {
      if (this.#down.delete(peer)) this.#live = this.#peers.filter((p) => !this.#down.has(p));
      this.#lastAckSent.delete(peer);
      this.#peerHave.delete(peer); // a new connection: the peer may have restarted, its buffer lost
      // The peer's sync request (it sees the link come up too) is answered with all it lacks: the
      // repair of a stalled peer would send the same writes again on our next tick (its
      // acknowledgements stalled while the link was down), so its clock starts again from now.
      this.#ackProgress.set(peer, this.#now);
      // Anti-entropy (SPEC §2): both sides send their clock; each answers with what the other lacks.
      this.#queuePull(peer, 'link-up');
      return;
    }
    if (!this.#down.has(peer)) {
      this.#down.add(peer);
      this.#live = this.#peers.filter((p) => !this.#down.has(p));
    }
    if (this.#pullQueue.length > 0) this.#pullQueue = this.#pullQueue.filter((q) => q.peer !== peer);
    if (this.#pull !== null && this.#pull.peer === peer) this.#nextPull();
    this.#resyncNeeded.delete(peer); // the sync on reconnection covers it
    if (this.#paused.delete(peer) && this.#want.backpressure) {
      this.#events.push({ type: 'backpressure', node: this.id, peer, action: 'resume', buffered: this.#buffer.size, detail: 'link down' });
    }
    this.#checkStuck();
  }

  tick(): void {
    this.#now += 1;
    const o = this.options;
    if (this.#waitingOps.length > 0) this.#expireWaitingOps();
    if (this.#pull !== null && this.#now - this.#pull.since >= o.pullTimeoutTicks) this.#nextPull();
    if (o.ackEveryTicks > 0 && this.#now % o.ackEveryTicks === 0) this.#sendAcks();
    if (o.resyncAfterTicks > 0 && this.#buffer.size > 0 && this.#now - this.#lastProgress >= o.resyncAfterTicks) {
      // Liveness: a dependency may have been lost in transit; fetch it again from every peer, one
      // at a time (the first that has it usually brings everything missing). If some links are
      // paused, the missing write may sit unread behind one of them while the unpaused links have
      // nothing to offer: shed and re-sync (see #shed for why that is safe).
      this.#lastProgress = this.#now;
      if (this.#paused.size > 0) this.#shed('no progress while links are paused');
      else for (const p of this.#livePeers()) if (this.#pull === null || this.#pull.peer !== p) this.#queuePull(p, 'stale-buffer');
    }
    if (o.repairAfterTicks > 0) this.#repairStalledPeers();
  }

  /**
   * Sender-side anti-entropy: a live peer that lacks writes we hold (by its acknowledged clock)
   * and whose acknowledgements have not advanced for `repairAfterTicks` gets them again, as if it
   * had asked with a sync request. Duplicates are ignored on arrival, so a slow but healthy peer
   * costs only bandwidth; a lost write is repaired.
   */
  #repairStalledPeers(): void {
    const live = this.#livePeers();
    for (let i = 0; i < live.length; i++) {
      const p = live[i] as NodeId;
      const acked = this.#acked.get(p);
      if (acked === undefined) continue;
      if (this.#lagOf(acked) === 0) {
        // Up to date: a lag that starts later (writes we apply from now on) is given its
        // repairAfterTicks to be acknowledged, counted from now, not from its last acknowledgement.
        this.#ackProgress.set(p, this.#now);
        continue;
      }
      const since = this.#ackProgress.get(p) ?? 0;
      if (this.#now - since < this.options.repairAfterTicks) continue;
      this.#ackProgress.set(p, this.#now);
      // Not what the peer holds in its buffer (as of its last ack): a third node's writes that
      // arrived after a lost one wait there for it, and only the lost one is lacking.
      this.#answerSync(p, { ...acked }, false, this.#peerHave.get(p));
    }
  }

  /**
   * Whether ready() would hand out anything (etcd's HasReady): a driver may skip an empty batch.
   * A fifth of a simulation's steps (most ticks, duplicates) produce none.
   */
  hasReady(): boolean {
    return (
      this.#dirtyList.length > 0 ||
      this.#metaDirty ||
      this.#persist.length > 0 ||
      this.#messages.length > 0 ||
      this.#replies.length > 0 ||
      this.#events.length > 0
    );
  }

  ready(): Ready<CausalMsg, KvReply, CausalEvent> {
    const dirty = this.#dirtyList;
    if (dirty.length > 0) {
      for (let i = 0; i < dirty.length; i++) {
        const slot = dirty[i] as KeySlot;
        const stored: StoredKey = { siblings: slot.versions };
        this.#persist.push({ kind: 'put', space: SPACE_KV, key: slot.key, value: stored });
      }
      if (this.#dirtyKeys.size > 0) this.#dirtyKeys.clear();
      while (dirty.length > 0) dirty.pop(); // (setting .length is a runtime call)
    }
    if (this.#metaDirty) {
      this.#persist.push({ kind: 'put', space: SPACE_META, key: META_CLOCK, value: this.#clockCopy() });
      this.#persist.push({ kind: 'put', space: SPACE_META, key: META_LAMPORT, value: this.#lamport });
      this.#metaDirty = false;
    }
    // Each part is an exact-size copy of what was produced, or the shared frozen empty array (see Outbox).
    return { persist: this.#persist.take(), messages: this.#messages.take(), replies: this.#replies.take(), events: this.#events.take() };
  }

  // ---- read-only views ----

  /** Peers whose link the driver must stop reading from until they leave this set. */
  pausedPeers(): ReadonlySet<NodeId> {
    return this.#paused;
  }

  get clock(): VectorClock {
    return this.#clockCopy();
  }

  get lamport(): number {
    return this.#lamport;
  }

  /** The most writes the buffer has held at once since this core was made or restored. */
  get bufferPeak(): number {
    return this.#bufferPeak;
  }

  status(): CausalStatus {
    const peers: Record<NodeId, CausalPeerStatus> = {};
    for (const p of this.#peers) {
      const acked = this.#acked.get(p) ?? {};
      peers[p] = { acked: { ...acked }, lag: this.#lagOf(acked), linkUp: !this.#down.has(p), paused: this.#paused.has(p) };
    }
    let keys = 0;
    for (const slot of this.#store.values()) {
      const winner = slot.versions[0];
      if (winner !== undefined && !winner.deleted) keys += 1;
    }
    return {
      id: this.id,
      clock: this.#clockCopy(),
      lamport: this.#lamport,
      buffered: this.#buffer.size,
      bufferedBytes: this.#bufferBytes,
      pausedPeers: [...this.#paused].sort(),
      peers,
      logLength: this.#logLength,
      keys,
      waitingOps: this.#waitingOps.length,
    };
  }

  /** Every key's versions (winner first), keys sorted: tombstoned keys included. */
  entries(): [string, readonly Version[]][] {
    const out: [string, readonly Version[]][] = [];
    for (const [k, slot] of this.#store) out.push([k, slot.versions]);
    return out.sort((a, b) => byText(a[0], b[0]));
  }

  /** Every key's versions (winner first) in no particular order, without copying or sorting. */
  *versions(): IterableIterator<[string, readonly Version[]]> {
    for (const [k, slot] of this.#store) yield [k, slot.versions];
  }

  /** The buffered (not yet deliverable) writes, in arrival order. */
  bufferedWrites(): BufferedInfo[] {
    return [...this.#buffer.values()].map((b) => ({
      from: b.from,
      origin: b.write.origin,
      seq: b.seq,
      key: b.write.key,
      clock: b.write.clock,
      waitingFor: { node: b.wait[0], seq: b.wait[1] },
    }));
  }

  /** Replication-log entries held, per origin: [first seq, last seq] (empty when first > last). */
  logRanges(): Record<NodeId, [number, number]> {
    const out: Record<NodeId, [number, number]> = {};
    for (const l of [...this.#logs].sort((a, b) => (a.origin < b.origin ? -1 : 1))) {
      out[l.origin] = [l.base + 1, l.base + l.entries.length - l.head];
    }
    return out;
  }

  // ---- client operations ----

  #serve(op: KvOp): void {
    switch (op.kind) {
      case 'put':
        this.#localWrite(op.reqId, op.key, op.value, false);
        return;
      case 'delete':
        this.#localWrite(op.reqId, op.key, null, true);
        return;
      case 'get':
        this.#replies.push(this.#read(op.reqId, op.key));
        return;
      case 'list':
        this.#replies.push({ reqId: op.reqId, ok: true, kind: 'list', keys: this.#list(op.prefix, op.limit), context: this.#clockCopy() });
        return;
      default:
        assertNever(op, 'kv operation');
    }
  }

  #localWrite(reqId: number, key: string, value: unknown, deleted: boolean): void {
    const seq = (this.#clock[this.id] ?? 0) + 1;
    this.#clock[this.id] = seq;
    this.#snapshot = null;
    this.#lamport += 1;
    const clock: VectorClock = this.#clockCopy();
    const w: CausalWrite = { origin: this.id, clock, lamport: this.#lamport, key, value: deleted ? null : value, deleted };
    this.#apply(w, true, seq);
    // The reply leaves in this Ready batch, after the batch's persist ops are durable.
    this.#replies.push({ reqId, ok: true, kind: deleted ? 'delete' : 'put', key, clock, context: clock });
    const msg: CausalMsg = { type: 'write', write: w };
    const live = this.#livePeers();
    for (let i = 0; i < live.length; i++) this.#send(live[i] as NodeId, msg, 1);
    this.#serveWaitingOps();
  }

  #read(reqId: number, key: string): KvReply {
    const versions = this.#store.get(key)?.versions;
    const context = this.#clockCopy();
    const winner = versions?.[0];
    if (versions === undefined || winner === undefined) {
      return { reqId, ok: true, kind: 'get', key, found: false, value: null, clock: {}, conflict: false, context };
    }
    const reply: Mutable<Extract<KvReply, { kind: 'get' }>> = {
      reqId,
      ok: true,
      kind: 'get',
      key,
      found: !winner.deleted,
      value: winner.deleted ? null : winner.value,
      clock: winner.clock,
      conflict: versions.length > 1,
      context,
    };
    if (versions.length > 1) reply.siblings = versions.map((v) => ({ value: v.value, clock: v.clock, deleted: v.deleted }));
    return reply;
  }

  #list(prefix: string, limit: number): string[] {
    const keys: string[] = [];
    for (const [k, slot] of this.#store) {
      if (!k.startsWith(prefix)) continue;
      const winner = slot.versions[0];
      if (winner !== undefined && !winner.deleted) keys.push(k);
    }
    keys.sort();
    return limit > 0 && keys.length > limit ? keys.slice(0, limit) : keys;
  }

  #covers(ctx: VectorClock): boolean {
    for (const k in ctx) {
      // A client's token may name anything: "constructor" is not one of our entries (own or not).
      const mine = this.#clock[k];
      if ((ctx[k] ?? 0) > (typeof mine === 'number' ? mine : 0)) return false;
    }
    return true;
  }

  #serveWaitingOps(): void {
    const waiting = this.#waitingOps;
    if (waiting.length === 0) return;
    // Usually none is in context yet: find the first that is before building any list.
    let first = 0;
    while (first < waiting.length) {
      const ctx = (waiting[first] as WaitingOp).op.ctx;
      if (ctx === undefined || this.#covers(ctx)) break;
      first++;
    }
    if (first === waiting.length) return;
    const still: WaitingOp[] = waiting.slice(0, first);
    const ready: KvOp[] = [];
    for (let i = first; i < waiting.length; i++) {
      const w = waiting[i] as WaitingOp;
      if (w.op.ctx === undefined || this.#covers(w.op.ctx)) ready.push(w.op);
      else still.push(w);
    }
    this.#waitingOps = still;
    for (const op of ready) this.#serve(op);
  }

  #expireWaitingOps(): void {
    const still: WaitingOp[] = [];
    for (const w of this.#waitingOps) {
      if (w.deadline > this.#now) {
        still.push(w);
        continue;
      }
      const ctx = w.op.ctx ?? {};
      const nodeClock = this.#clockCopy();
      if (this.#want['context-timeout']) this.#events.push({ type: 'context-timeout', node: this.id, reqId: w.op.reqId, ctx, nodeClock });
      this.#replies.push({
        reqId: w.op.reqId,
        ok: false,
        reason: 'context-timeout',
        detail: `causal context ${format(ctx)} not reached within ${this.options.contextWaitTicks} ticks (node clock ${format(nodeClock)})`,
      });
    }
    this.#waitingOps = still;
  }

  // ---- replication ----

  /** First unmet dependency of a write, or null when the delivery rule holds (SPEC §2). */
  #missing(w: CausalWrite, seq: number): [NodeId, number] | null {
    const s = w.origin;
    if (seq !== (this.#clock[s] ?? 0) + 1) return [s, seq - 1];
    const c = w.clock;
    for (const k in c) {
      if (k === s) continue;
      const v = c[k] ?? 0;
      if (v > (this.#clock[k] ?? 0)) return [k, v];
    }
    return null;
  }

  #onWrite(from: NodeId, w: CausalWrite): void {
    const seq = seqOf(w);
    if (seq <= (this.#clock[w.origin] ?? 0)) {
      if (this.#want.duplicate) this.#events.push({ type: 'duplicate', node: this.id, peer: from, origin: w.origin, seq, clock: w.clock, key: w.key, why: 'applied' });
      return;
    }
    // The buffer is usually empty: no key string is built for a write delivered straight away.
    if (this.#buffer.size > 0 && this.#buffered.has(w.origin, seq)) {
      if (this.#want.duplicate) this.#events.push({ type: 'duplicate', node: this.id, peer: from, origin: w.origin, seq, clock: w.clock, key: w.key, why: 'buffered' });
      return;
    }
    const miss = this.#missing(w, seq);
    if (miss === null) {
      this.#deliver(from, w, seq, false);
      this.#cascade(w.origin, seq);
      return;
    }
    if (this.#bufferFull()) {
      // Full: do not grow. This copy is not lost: `from` holds it in its replication log (it only
      // sends what it applied or originated) until we acknowledge it, so a re-sync fetches it again.
      this.#resyncNeeded.add(from);
      if (this.#want.backpressure) {
        this.#events.push({
          type: 'backpressure',
          node: this.id,
          peer: from,
          action: 'overflow',
          buffered: this.#buffer.size,
          detail: `buffer full: ${w.origin}#${seq} turned away, will re-sync from ${from}`,
        });
      }
      this.#pause(from);
      this.#checkStuck();
      return;
    }
    const b: Buffered = { write: w, from, seq, bytes: this.#bytesOf(w), wait: miss };
    this.#buffer.add(b);
    this.#bufferBytes += b.bytes;
    if (this.#buffer.size > this.#bufferPeak) this.#bufferPeak = this.#buffer.size;
    this.#buffered.add(w.origin, seq);
    this.#index(b);
    if (this.#want.buffer) {
      this.#events.push({
        type: 'buffer',
        node: this.id,
        peer: from,
        origin: w.origin,
        seq,
        clock: w.clock,
        key: w.key,
        waitingFor: { node: miss[0], seq: miss[1] },
        buffered: this.#buffer.size,
      });
    }
    if (this.#bufferFull()) {
      this.#pause(from);
      this.#checkStuck();
    }
  }

  /** options.writeBytes's estimate, 0 without one (or for an answer that is not a size). */
  #bytesOf(w: CausalWrite): number {
    const n = this.options.writeBytes === null ? 0 : this.options.writeBytes(w);
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  /** At either bound: writes counted (bufferLimit) or their bytes (bufferBytesLimit). */
  #bufferFull(): boolean {
    return this.#buffer.size >= this.options.bufferLimit || this.#bufferBytes >= this.options.bufferBytesLimit;
  }

  #unbuffer(b: Buffered): void {
    if (this.#buffer.delete(b)) {
      this.#buffered.delete(b.write.origin, b.seq);
      this.#bufferBytes -= b.bytes;
    }
  }

  #index(b: Buffered): void {
    const list = this.#waiting.get(b.wait[0], b.wait[1]);
    if (list) list.push(b);
    else this.#waiting.set(b.wait[0], b.wait[1], [b]);
  }

  /**
   * After write `seq` of `origin` is applied, retry only the buffered writes that waited for it;
   * each either delivers (and wakes its own waiters) or is re-indexed under its next dependency.
   * Each buffered write is looked at once per dependency it had: no scan of the whole buffer.
   */
  #cascade(origin: NodeId, seq: number): void {
    if (this.#waiting.size === 0 || this.#waiting.get(origin, seq) === undefined) return;
    const workNodes: NodeId[] = [origin];
    const workSeqs: number[] = [seq];
    for (let i = 0; i < workNodes.length; i++) {
      const node = workNodes[i] as NodeId;
      const s = workSeqs[i] as number;
      const list = this.#waiting.get(node, s);
      if (list === undefined) continue;
      this.#waiting.delete(node, s);
      for (const b of list) {
        if (b.seq <= (this.#clock[b.write.origin] ?? 0)) {
          this.#unbuffer(b); // applied meanwhile through another copy
          continue;
        }
        const miss = this.#missing(b.write, b.seq);
        if (miss === null) {
          this.#unbuffer(b);
          this.#deliver(b.from, b.write, b.seq, true);
          workNodes.push(b.write.origin);
          workSeqs.push(b.seq);
        } else {
          b.wait = miss;
          this.#index(b);
        }
      }
    }
  }

  #deliver(from: NodeId, w: CausalWrite, seq: number, fromBuffer: boolean): void {
    if (!this.#want.deliver) {
      this.#apply(w, false, seq);
      this.#lastProgress = this.#now;
      return;
    }
    const event: Extract<CausalEvent, { type: 'deliver' }> = {
      type: 'deliver',
      node: this.id,
      peer: from,
      origin: w.origin,
      seq,
      clock: w.clock,
      key: w.key,
      deleted: w.deleted,
      fromBuffer,
      nodeClock: {},
    };
    this.#events.push(event); // before the apply's own events (conflict)
    this.#apply(w, false, seq);
    event.nodeClock = this.#clockCopy();
    this.#lastProgress = this.#now;
  }

  /** Apply a write whose dependencies are all applied: clock, Lamport, log, key state. */
  #apply(w: CausalWrite, local: boolean, seq: number = seqOf(w)): void {
    if (!local) {
      this.#clock[w.origin] = seq; // delivery rule: every other entry is already <=
      this.#snapshot = null;
    }
    this.#applied += 1;
    if (w.lamport > this.#lamport) this.#lamport = w.lamport;

    let log = this.#log.get(w.origin);
    if (!log) this.#addLog((log = { origin: w.origin, base: seq - 1, head: 0, entries: [], keys: [], totals: [], prefixes: keyPrefixes(w.origin) }));
    if (log.base + log.entries.length - log.head + 1 !== seq) invariant(false, `log of ${w.origin} out of sequence at ${seq}`);
    const key = this.#logKeys === undefined ? keyFrom(log, seq) : this.#logKeys(w.origin, seq);
    log.entries.push(w);
    log.keys.push(key);
    log.totals.push(clockTotal(w.clock));
    this.#logLength += 1;
    this.#persist.push({ kind: 'put', space: SPACE_LOG, key, value: w });

    // Siblings: drop versions this write dominates; keep concurrent ones (SPEC §2).
    const slot = this.#store.get(w.key);
    const old = slot?.versions;
    const mine: Version = { origin: w.origin, clock: w.clock, lamport: w.lamport, value: w.value, deleted: w.deleted };
    let next: Version[];
    if (old === undefined || old.length === 0) {
      next = [mine];
    } else if (old.length === 1) {
      // The usual case, as the general one below computes it without its work array.
      const v = old[0] as Version;
      const o = compare(v.clock, w.clock);
      if (o === 'before' || o === 'equal') next = [mine];
      else if (o === 'after') next = [v];
      else {
        next = [v, mine];
        sortVersions(next);
      }
    } else {
      next = [];
      let obsolete = false;
      for (const v of old) {
        const o = compare(v.clock, w.clock);
        if (o === 'before' || o === 'equal') continue;
        if (o === 'after') obsolete = true;
        next.push(v);
      }
      if (!obsolete) next.push(mine);
      if (next.length > 1) sortVersions(next);
    }
    if (slot === undefined) {
      const fresh: KeySlot = { key: w.key, versions: next };
      this.#store.set(w.key, fresh);
      this.#markDirty(fresh);
    } else {
      slot.versions = next;
      this.#markDirty(slot);
    }
    if (this.#want.apply) {
      this.#events.push({
        type: 'apply',
        node: this.id,
        origin: w.origin,
        seq,
        clock: w.clock,
        lamport: w.lamport,
        key: w.key,
        deleted: w.deleted,
        local,
        siblings: next.length,
        nodeClock: this.#clockCopy(),
      });
    }
    if (next.length > 1 && this.#want.conflict) {
      this.#events.push({
        type: 'conflict',
        node: this.id,
        key: w.key,
        siblings: next.map((v) => ({ origin: v.origin, clock: v.clock, lamport: v.lamport, deleted: v.deleted })),
      });
    }
  }

  /** After a batch of incoming writes: release backpressure, serve operations now in context. */
  #afterWrites(): void {
    if (this.#paused.size > 0 && this.#buffer.size <= Math.floor(this.options.bufferLimit / 2) && this.#bufferBytes <= this.options.bufferBytesLimit / 2) {
      for (const p of [...this.#paused].sort()) {
        this.#paused.delete(p);
        if (this.#want.backpressure) this.#events.push({ type: 'backpressure', node: this.id, peer: p, action: 'resume', buffered: this.#buffer.size, detail: 'buffer drained to half' });
      }
      for (const p of [...this.#resyncNeeded].sort()) this.#sendSync(p, 'overflow');
      this.#resyncNeeded.clear();
    }
    if (this.#buffer.size === 0) this.#lastProgress = this.#now;
    this.#serveWaitingOps();
  }

  #pause(peer: NodeId): void {
    if (this.#paused.has(peer)) return;
    this.#paused.add(peer);
    if (this.#want.backpressure) {
      // with sizes counted, the detail says how many bytes the buffer holds
      const detail = this.options.writeBytes === null ? 'buffer full: stop reading this link' : `buffer full at ${this.#bufferBytes} bytes: stop reading this link`;
      this.#events.push({ type: 'backpressure', node: this.id, peer, action: 'pause', buffered: this.#buffer.size, detail });
    }
  }

  /**
   * Liveness under backpressure. If the buffer is full and every live link is paused, nothing can
   * arrive to unblock it (nothing in it is deliverable, or it would have been delivered): waiting
   * would deadlock. Shedding the buffer is safe ONLY because none of it is lost: each buffered write
   * came from a peer that holds it in its replication log (origins log their writes, forwarders
   * only send what they applied and logged), and log entries are compacted only once every peer —
   * this node included — acknowledged them, which we have not (our clock does not cover them).
   * So we drop the buffer, resume every link and ask every live peer for a re-sync; the replies come
   * in causal order, hence deliverable as they arrive. `tick` sheds too when a buffer makes no
   * progress for resyncAfterTicks while some link is paused (the write it needs may be queued
   * behind the paused link).
   */
  #checkStuck(): void {
    if (!this.#bufferFull()) return;
    const live = this.#livePeers();
    if (live.length === 0 || !live.every((p) => this.#paused.has(p))) return;
    this.#shed('every link paused and nothing deliverable');
  }

  #shed(why: string): void {
    const shed = this.#buffer.size;
    this.#buffer.clear();
    this.#bufferBytes = 0;
    this.#buffered.clear();
    this.#waiting.clear();
    if (this.#want.backpressure) {
      this.#events.push({ type: 'backpressure', node: this.id, action: 'shed', buffered: 0, detail: `${why}: shed ${shed} buffered writes, re-syncing` });
      for (const p of [...this.#paused].sort()) {
        this.#events.push({ type: 'backpressure', node: this.id, peer: p, action: 'resume', buffered: 0, detail: 'buffer shed' });
      }
    }
    this.#paused.clear();
    this.#resyncNeeded.clear();
    this.#lastProgress = this.#now;
    for (const p of this.#livePeers()) this.#sendSync(p, 'shed');
  }

  // ---- anti-entropy and compaction ----

  /** Pull from the peer now, or after the pulls under way and queued (see pullTimeoutTicks). */
  #queuePull(peer: NodeId, reason: SyncReason): void {
    if (this.options.pullTimeoutTicks === 0 || this.#pull === null || this.#pull.peer === peer) {
      this.#startPull(peer, reason);
      return;
    }
    if (!this.#pullQueue.some((q) => q.peer === peer)) this.#pullQueue.push({ peer, reason });
  }

  #startPull(peer: NodeId, reason: SyncReason): void {
    if (this.options.pullTimeoutTicks > 0) this.#pull = { peer, since: this.#now };
    this.#sendSync(peer, reason);
  }

  /**
   * The pull under way is complete (or timed out, or its link went down): ask the next peer. A
   * re-sync for a stale buffer is over once the buffer is empty: its other peers are not asked.
   */
  #nextPull(): void {
    this.#pull = null;
    for (;;) {
      const next = this.#pullQueue.shift();
      if (next === undefined) return;
      if (next.reason === 'stale-buffer' && this.#buffer.size === 0) continue;
      this.#startPull(next.peer, next.reason);
      return;
    }
  }

  #sendSync(peer: NodeId, reason: SyncReason): void {
    const clock = this.#clockCopy();
    this.#lastAckSent.set(peer, this.#ackMark()); // a sync request acknowledges our clock too
    if (this.#want.sync) this.#events.push({ type: 'sync', node: this.id, peer, direction: 'request', clock, count: 0, reason });
    this.#send(peer, this.#stateMsg('sync', clock), 0);
  }

  /**
   * Everything in our log the requester's clock does not cover — writes a third node originated
   * included — in causal order: sorted by the sum of the clock's entries (a write's causal
   * predecessors all have strictly smaller sums), then origin, then seq.
   */
  #answerSync(peer: NodeId, theirs: VectorClock, request: boolean, have?: HaveRanges): void {
    // Each origin's log is already in that order when its clock totals never decrease along it
    // (always, for writes made by this protocol: each write's clock dominates the one before it
    // from the same origin): then a merge of the per-origin runs gives the sorted order without
    // sorting. Otherwise, sort.
    const logs = this.#logs;
    const next: number[] = [];
    const end: number[] = [];
    let count = 0;
    let runsSorted = true;
    for (let li = 0; li < logs.length; li++) {
      const log = logs[li] as OriginLog;
      const have = theirs[log.origin] ?? 0;
      const first = log.head + Math.max(have, log.base) - log.base;
      const stop = Math.max(first, log.entries.length);
      next.push(first);
      end.push(stop);
      count += stop - first;
      const totals = log.totals;
      for (let i = first + 1; i < stop && runsSorted; i++) if ((totals[i] as number) < (totals[i - 1] as number)) runsSorted = false;
    }
    let lack = count === 0 ? [] : runsSorted ? this.#mergeRuns(next, end, count) : this.#sortLack(next, end);
    if (have !== undefined && lack.length > 0) {
      lack = lack.filter((w) => !heldIn(have, w.origin, seqOf(w)));
      count = lack.length;
    }
    if (this.#want.sync) this.#events.push({ type: 'sync', node: this.id, peer, direction: 'reply', clock: theirs, count });
    if (count === 0) {
      // a request is answered even when nothing is lacking: the requester's pull is complete
      if (request) this.#send(peer, { type: 'writes', writes: [], reason: 'sync', done: true }, 0);
      return;
    }
    this.#holdRepair(peer, count);
    const size = this.options.syncBatchSize;
    for (let i = 0; i < lack.length; i += size) {
      const writes = lack.length <= size ? lack : lack.slice(i, i + size);
      const msg: CausalMsg = request && i + size >= lack.length ? { type: 'writes', writes, reason: 'sync', done: true } : { type: 'writes', writes, reason: 'sync' };
      this.#send(peer, msg, writes.length);
    }
  }

  /**
   * A peer just sent `count` writes needs the time to apply them before its acknowledgements can
   * show it: no repair (which would send them all again) for repairAfterTicks per batch of
   * syncBatchSize. A node catching up on 3,000 writes took longer than 30 ticks to apply them and
   * acknowledge, and was sent all 3,000 again.
   */
  #holdRepair(peer: NodeId, count: number): void {
    const from = this.#now + (Math.ceil(count / this.options.syncBatchSize) - 1) * this.options.repairAfterTicks;
    if (from > (this.#ackProgress.get(peer) ?? 0)) this.#ackProgress.set(peer, from);
  }

  /** Merges the log runs [next[i], end[i]) by (clock total, origin); each run is in that order. */
  #mergeRuns(next: number[], end: number[], count: number): CausalWrite[] {
    const logs = this.#logs;
    const out: CausalWrite[] = [];
    for (let n = 0; n < count; n++) {
      let best = -1;
      let bestTotal = 0;
      let bestOrigin = '';
      for (let li = 0; li < logs.length; li++) {
        const i = next[li] as number;
        if (i >= (end[li] as number)) continue;
        const log = logs[li] as OriginLog;
        const t = log.totals[i] as number;
        if (best < 0 || t < bestTotal || (t === bestTotal && log.origin < bestOrigin)) {
          best = li;
          bestTotal = t;
          bestOrigin = log.origin;
        }
      }
      const i = next[best] as number;
      out.push((logs[best] as OriginLog).entries[i] as CausalWrite);
      next[best] = i + 1;
    }
    return out;
  }

  /** The same order by sorting: clock total, then origin, then sequence number. */
  #sortLack(next: number[], end: number[]): CausalWrite[] {
    const lack: { w: CausalWrite; total: number; seq: number }[] = [];
    const logs = this.#logs;
    for (let li = 0; li < logs.length; li++) {
      const log = logs[li] as OriginLog;
      for (let i = next[li] as number; i < (end[li] as number); i++) {
        lack.push({ w: log.entries[i] as CausalWrite, total: log.totals[i] as number, seq: log.base + 1 + i - log.head });
      }
    }
    lack.sort((a, b) => a.total - b.total || (a.w.origin < b.w.origin ? -1 : a.w.origin > b.w.origin ? 1 : 0) || a.seq - b.seq);
    return lack.map((x) => x.w);
  }


  /**
   * Changes whenever an ack would say something new: a write applied, or one buffered (an ack
   * carries the buffer's `have`). Both counts only grow, so their sum does too.
   */
  #ackMark(): number {
    return this.#applied + this.#buffered.added;
  }

  /**
   * An ack or a sync request: our clock, and what the buffer holds beyond it (`have`, when it holds
   * anything) for the peer's answers and repairs to leave out.
   */
  #stateMsg(type: 'ack' | 'sync', clock: VectorClock): CausalMsg {
    return this.#buffer.size === 0 ? { type, clock } : { type, clock, have: this.#buffered.ranges() };
  }

  #sendAcks(): void {
    let msg: CausalMsg | undefined;
    const live = this.#livePeers();
    const mark = this.#ackMark();
    for (let i = 0; i < live.length; i++) {
      const p = live[i] as NodeId;
      if (this.#lastAckSent.get(p) === mark) continue;
      msg ??= this.#stateMsg('ack', this.#clockCopy());
      this.#lastAckSent.set(p, mark);
      this.#send(p, msg, 0);
    }
  }

  #onAcked(peer: NodeId, clock: VectorClock, have: HaveRanges | undefined): void {
    const acked = this.#acked.get(peer);
    if (acked === undefined) return; // not a member
    if (have === undefined) this.#peerHave.delete(peer);
    else this.#peerHave.set(peer, have);
    let advanced = false;
    for (const k in clock) {
      const v = clock[k] ?? 0;
      if (v > (acked[k] ?? 0)) {
        acked[k] = v;
        advanced = true;
      }
    }
    if (advanced) this.#ackProgress.set(peer, this.#now);
    this.#compact();
  }

  /** Delete log entries every peer has acknowledged (they can never be asked for again). */
  #compact(): void {
    let removed = 0;
    const upTo: Record<NodeId, number> | null = this.#want.compact ? {} : null;
    const logs = this.#logs;
    const ackedByPeer = this.#ackedByPeer;
    for (let li = 0; li < logs.length; li++) {
      const log = logs[li] as OriginLog;
      const origin = log.origin;
      const last = log.base + log.entries.length - log.head;
      let min = last;
      for (let pi = 0; pi < ackedByPeer.length; pi++) min = Math.min(min, (ackedByPeer[pi] as Record<NodeId, number>)[origin] ?? 0);
      if (upTo !== null) upTo[origin] = log.base;
      if (min <= log.base) continue;
      for (let i = log.head, end = log.head + min - log.base; i < end; i++) {
        this.#persist.push({ kind: 'del', space: SPACE_LOG, key: log.keys[i] as string });
      }
      const n = min - log.base;
      log.head += n;
      log.base = min;
      if (upTo !== null) upTo[origin] = min;
      removed += n;
      if (log.head > 1024 && log.head * 2 > log.entries.length) {
        log.entries = log.entries.slice(log.head);
        log.keys = log.keys.slice(log.head);
        log.totals = log.totals.slice(log.head);
        log.head = 0;
      }
    }
    if (removed === 0) return;
    this.#metaDirty = true; // the deleted entries' writes stay covered by the stored clock
    this.#logLength -= removed;
    if (upTo !== null) this.#events.push({ type: 'compact', node: this.id, removed, upTo, logLength: this.#logLength });
  }

  #lagOf(acked: VectorClock): number {
    let lag = 0;
    for (const log of this.#logs) {
      const last = log.base + log.entries.length - log.head;
      const have = Math.max(acked[log.origin] ?? 0, log.base);
      if (last > have) lag += last - have;
    }
    return lag;
  }

  // ---- helpers ----

  #livePeers(): readonly NodeId[] {
    return this.#live;
  }

  #markDirty(slot: KeySlot): void {
    const list = this.#dirtyList;
    const n = list.length;
    if (n < DIRTY_SCAN) {
      for (let i = 0; i < n; i++) if (list[i] === slot) return;
      list.push(slot);
      return;
    }
    const set = this.#dirtyKeys;
    if (n === DIRTY_SCAN) for (let i = 0; i < n; i++) set.add(list[i] as KeySlot);
    if (set.has(slot)) return;
    set.add(slot);
    list.push(slot);
  }

  #addLog(log: OriginLog): void {
    this.#log.set(log.origin, log);
    this.#logs.push(log);
  }

  #send(to: NodeId, msg: CausalMsg, count: number): void {
    this.#messages.push({ to, msg });
    if (!this.#want.send) return;
    const event: CausalEvent = { type: 'send', node: this.id, peer: to, msg: msg.type, count, nodeClock: this.#clockCopy() };
    if (msg.type === 'write') event.write = writeRef(msg.write);
    this.#events.push(event);
  }

  /** The clock as handed out: the shared snapshot (copy-on-write; see #snapshot). */
  #clockCopy(): VectorClock {
    return (this.#snapshot ??= { ...this.#clock });
  }
}
