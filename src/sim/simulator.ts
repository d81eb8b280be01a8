/**
 * The deterministic simulator (ARCHITECTURE.md §1, §4 rule 2, §5 turmoil/VOPR): N protocol cores —
 * the same code the runtime runs — on a virtual network and a virtual clock (integer nanoseconds),
 * every choice derived from one seed through Rng.fork ('network', 'workload', 'faults', 'skew').
 *
 * A run is a safety phase (clients issue operations while faults are injected) followed by a healed
 * liveness phase (faults off, every node up, every link up; ticks run until the cluster is
 * quiescent and every replica holds the same state), then a final read of every key on every node,
 * and the history checkers.
 *
 * The driver follows the runtime's contract for each Ready batch: persist ops are applied to the
 * node's in-memory disk (SimDisk: MemoryStorage's semantics without its deep copies) first, then messages and replies are released. A crash throws the core away;
 * a restart rebuilds it with `CausalCore.restore()` from that storage alone. A crash may also strike
 * right after a batch is persisted and before its messages and replies leave.
 */
import { isDeepStrictEqual } from 'node:util';
import { CausalCore, canonicalId, SPACE_LOG, type CausalOptions } from '../protocols/causal/core.js';
import type { CausalEvent, CausalEventType, CausalMsg, CausalWrite } from '../protocols/causal/types.js';
import type { KvOp, KvReply } from '../protocols/kv-types.js';
import { format, type VectorClock } from '../clocks/vector.js';
import type { NodeId, Ready } from '../core/protocol.js';
import { Rng } from '../core/rng.js';
import { assertNever } from '../core/assert.js';
import { checkCausal, checkEventual, historyFromEvents, type HistoryEvent, type Verdict } from '../check/index.js';
import { EventQueue } from './event-queue.js';
import { AckedWrites } from './acked-writes.js';
import { HistoryLog, KIND_CODE, TYPE_CODE } from './history-log.js';
import { SimDisk, deepFreeze } from './sim-disk.js';
import { SharedLogKeys } from './log-keys.js';
import { DeliveryOracle } from './delivery-oracle.js';
import { nodeIndex } from './node-index.js';
import { VirtualNetwork, type Arrival } from './network.js';
import { ShivizLog, type ShivizClock } from './shiviz.js';
import { replayCommand, simOptions, type FaultKind, type SimOptions } from './options.js';

const MS = 1_000_000;

/** The queue of the simulated disk's log space a log entry goes to: its origin's. */
const logQueue = (value: unknown): string => (value as CausalWrite).origin;

/** The inputs #step feeds a core. */
const TICK = (core: CausalCore): void => core.tick();
const RECEIVE = (core: CausalCore, from: NodeId, msg: CausalMsg): void => core.receive(from, msg);
const SUBMIT = (core: CausalCore, op: KvOp): void => core.submit(op);
const LINK = (core: CausalCore, peer: NodeId, up: boolean): void => core.linkChanged(peer, up);
const US = 1_000;

/**
 * The event types the simulator reads (#observe): the context-timeout count, and with a ShiViz log
 * the applies it shows. The cores skip building the others. (The causal-delivery oracle reads what
 * the cores persist, and the buffer high-water mark is the cores' bufferPeak.)
 */
const SIM_EVENTS: readonly CausalEventType[] = Object.freeze(['context-timeout']);
const SIM_SHIVIZ_EVENTS: readonly CausalEventType[] = Object.freeze(['apply', 'context-timeout']);

/** Workload and fault-schedule constants (virtual time). */
export interface SimTuning {
  /** Mean client think time between operations. */
  readonly thinkMeanNs: number;
  /** One-way client ↔ node latency range. */
  readonly clientLatencyNs: readonly [number, number];
  /** Mean time between two scheduled faults (partition, one-way cut, crash). */
  readonly faultMeanNs: number;
  /** How long a partition or one-way cut lasts. */
  readonly partitionNs: readonly [number, number];
  /** How long a crashed node stays down. */
  readonly downNs: readonly [number, number];
  /** Probability that a crash strikes after a batch is persisted, before it is released. */
  readonly crashAfterPersist: number;
  /** Fraction of operations that are gets / deletes (the rest are puts). */
  readonly getRatio: number;
  readonly deleteRatio: number;
  /** Causal core options for every node. */
  readonly core: Partial<CausalOptions>;
  /** Fail when no client operation completes for this many tick periods in the safety phase. */
  readonly stallTicks: number;
  /** Progress callback every this many completed operations. */
  readonly progressEvery: number;
  /**
   * Skip the causal checker above this many operations: its memory grows with them (500k
   * operations over 10 keys: 12.6 s and 0.9 GB from a file, 2026-11-22).
   */
  readonly causalCheckMaxOps: number;
}

export const DEFAULT_SIM_TUNING: Readonly<SimTuning> = Object.freeze({
  thinkMeanNs: 5 * MS,
  clientLatencyNs: Object.freeze([50 * US, 500 * US]) as readonly [number, number],
  faultMeanNs: 60 * MS,
  partitionNs: Object.freeze([10 * MS, 200 * MS]) as readonly [number, number],
  downNs: Object.freeze([10 * MS, 200 * MS]) as readonly [number, number],
  crashAfterPersist: 0.002,
  getRatio: 0.5,
  deleteRatio: 0.1,
  core: Object.freeze({}),
  stallTicks: 20_000,
  progressEvery: 1_000,
  causalCheckMaxOps: 1_000_000,
});

export type SimFailure =
  | { readonly kind: 'invariant'; readonly message: string; readonly node?: NodeId; readonly at: number }
  | { readonly kind: 'no-convergence'; readonly message: string; readonly at: number }
  | { readonly kind: 'stalled'; readonly message: string; readonly at: number }
  | { readonly kind: 'lost-write'; readonly message: string; readonly at: number }
  | { readonly kind: 'checker'; readonly message: string; readonly verdict: Verdict };

export interface SimSummary {
  readonly seed: number;
  readonly ops: { invoked: number; ok: number; fail: number; info: number; finalReads: number };
  readonly messages: { sent: number; delivered: number; dropped: number; duplicated: number; reordered: number };
  readonly crashes: number;
  readonly crashesAfterPersist: number;
  readonly restarts: number;
  readonly partitions: number;
  readonly onewayCuts: number;
  readonly bufferedMax: number;
  readonly contextTimeouts: number;
  /** Tick periods the liveness phase took to converge (-1 when it did not). */
  readonly convergenceTicks: number;
  readonly virtualTimeNs: number;
  readonly verdicts: { readonly causal?: Verdict; readonly eventual?: Verdict };
  /**
   * The eventual verdict is a real-time lost-write among concurrent writes kept as siblings, set
   * aside: durability was checked by clock instead (a note says so).
   */
  readonly eventualSetAside: boolean;
  readonly notes: readonly string[];
}

export interface SimResult {
  readonly ok: boolean;
  readonly options: SimOptions;
  readonly failure?: SimFailure;
  readonly summary: SimSummary;
  /** Jepsen-style history (SPEC §3); empty when recordHistory is off. */
  readonly history: readonly HistoryEvent[];
  /** The ShiViz log, when asked for. */
  readonly shiviz?: string;
  /** The one-line command that replays this run. */
  readonly replay: string;
}

export interface SimProgress {
  readonly phase: 'safety' | 'liveness' | 'check';
  readonly done: number;
  readonly total: number;
}

/** Crash and restart, with the node's state (canonical JSON of its clock and key versions). */
export type SimTrace =
  | { readonly type: 'crash'; readonly node: NodeId; readonly at: number; readonly why: string; readonly clock: string; readonly state: string }
  | { readonly type: 'restart'; readonly node: NodeId; readonly at: number; readonly clock: string; readonly state: string };

export interface SimHooks {
  readonly onProgress?: (p: SimProgress) => void;
  /** Called at each crash (with the dying core's state) and restart (with the restored core's). */
  readonly onTrace?: (t: SimTrace) => void;
  /**
   * Called with each event a core publishes, as its batch is executed. Cores publish the types
   * `tuning.core.events` names (besides the few the simulator reads itself), so name the ones wanted.
   */
  readonly onEvent?: (node: NodeId, e: CausalEvent) => void;
  readonly tuning?: Partial<SimTuning>;
}

/**
 * Agenda events; the time each is due is kept by the queue (EventQueue.add). An event that carries
 * nothing but its target (a node's tick, a client's wake, the periodic check, the next fault) is
 * one object made up front and scheduled again and again: events are never changed, so one object
 * may be on the agenda more than once.
 */
type Ev =
  | { k: 'tick'; node: number }
  /** A message arrival, scheduled as the network hands it over. */
  | Arrival<CausalMsg>
  | { k: 'wake'; client: number }
  | { k: 'submit'; client: number; node: number; inc: number; op: KvOp }
  | { k: 'reply'; client: number; node: number; reply: KvReply }
  | { k: 'fault' }
  | { k: 'heal'; epoch: number; links: [number, number][]; symmetric: boolean }
  | { k: 'restart'; node: number; inc: number }
  | { k: 'check' }
  | { k: 'liveness' };

const CHECK: Ev = Object.freeze({ k: 'check' });
const FAULT: Ev = Object.freeze({ k: 'fault' });

interface SimNode {
  readonly id: NodeId;
  readonly idx: number;
  readonly tickEv: Ev;
  core: CausalCore | null;
  readonly disk: SimDisk;
  /** Incarnation: bumped at each crash, so requests meant for a dead incarnation are discarded. */
  inc: number;
  readonly tickNs: number;
  /**
   * By client: the reqId of its operation submitted (or on its way) to this incarnation, 0 when
   * none. A client has one operation at a time, so a column per client replaces a reqId-keyed map
   * that gained and lost an entry per operation.
   */
  readonly pending: Float64Array;
  /** Arrivals held back while the core pauses the link they come from (backpressure), per sender. */
  readonly held: Arrival<CausalMsg>[][];
  heldCount: number;
}

interface Client {
  readonly id: number;
  readonly wakeEv: Ev;
  readonly home: number;
  readonly roaming: boolean;
  at: number;
  ctx: VectorClock | undefined;
  puts: number;
  /**
   * The operation in progress: its reqId (0 when the client is idle), node, kind, key and value.
   * Fields of the client rather than an object per operation (one at a time per client).
   */
  busyReq: number;
  busyNode: number;
  busyF: 'put' | 'get' | 'delete';
  busyKey: string;
  busyValue: string | null;
}

class Stop extends Error {
  readonly failure: SimFailure;
  constructor(failure: SimFailure) {
    super(failure.message);
    this.failure = failure;
  }
}

function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** One simulation. Construct, then `run()` once. */
export class Simulation {
  readonly options: SimOptions;
  readonly tuning: SimTuning;
  readonly #hooks: SimHooks;
  readonly #ids: NodeId[];
  readonly #nodes: SimNode[];
  readonly #clients: Client[];
  readonly #queue = new EventQueue<Ev>();
  readonly #net: VirtualNetwork<CausalMsg>;
  readonly #work: Rng;
  readonly #faultRng: Rng;
  readonly #faults: ReadonlySet<FaultKind>;
  readonly #history: HistoryLog;
  readonly #shiviz: ShivizLog | null;
  readonly #arrivals: Arrival<CausalMsg>[] = [];
  /** The ShiViz clock each arrival carries (only when a ShiViz log is built). */
  readonly #carried = new WeakMap<Arrival<CausalMsg>, ShivizClock>();
  /** Whether crash faults are on (read per persisted batch). */
  readonly #crashFaults: boolean;
  /** Key names k0..k{keys-1}, built once: every operation on a key hands the core the same string. */
  readonly #keyNames: readonly string[];
  /** Per unordered pair (i*n+j, i<j): is the peer link up (as both cores were told)? */
  readonly #pairUp: Uint8Array;
  /** Per unordered pair: how many symmetric partitions currently separate it. */
  readonly #symCuts: Int32Array;
  readonly #tickNs: number;
  /** Options for every core: the tuning's, publishing at least the events #observe reads. */
  readonly #coreOptions: Partial<CausalOptions>;
  /** Causal delivery, checked on the replication-log entries each node persists. */
  readonly #oracle: DeliveryOracle;
  /** One string per log key for all the cores (see SharedLogKeys). */
  readonly #logKeys = new SharedLogKeys();
  #now = 0;
  #phase: 'safety' | 'liveness' | 'done' = 'safety';
  #faultEpoch = 0;
  #issued = 0;
  #completed = 0;
  #lastCompletionAt = 0;
  #reqIds = 0;
  #releasing = false;
  /** Nesting of #step: a crash between persist and send strikes only at the top level. */
  #depth = 0;
  #livenessTicks = 0;
  #ran = false;
  // counters
  #ok = 0;
  #fail = 0;
  #info = 0;
  #finalReads = 0;
  #crashes = 0;
  #crashesAfterPersist = 0;
  #restarts = 0;
  #partitions = 0;
  #oneway = 0;
  #bufferedMax = 0;
  #contextTimeouts = 0;
  #convergenceTicks = -1;
  readonly #verdicts: { causal?: Verdict; eventual?: Verdict } = {};
  readonly #notes: string[] = [];
  #eventualSetAside = false;
  /** Every acknowledged write (put or delete): its key, clock and value, for the durability check. */
  readonly #acked: AckedWrites;

  constructor(options: Partial<SimOptions> = {}, hooks: SimHooks = {}) {
    this.options = simOptions(options);
    this.tuning = Object.freeze({ ...DEFAULT_SIM_TUNING, ...hooks.tuning });
    this.#hooks = hooks;
    const o = this.options;
    const root = new Rng(o.seed);
    this.#work = root.fork('workload');
    this.#faultRng = root.fork('faults');
    const skewRng = root.fork('skew');
    this.#faults = new Set(o.faults);
    this.#crashFaults = this.#faults.has('crash');
    const f = this.#faults;
    const netRng = root.fork('network');
    this.#net = new VirtualNetwork<CausalMsg>(o.nodes, netRng, {
      variedLatency: f.has('delay'),
      faults: {
        drop: f.has('drop') ? 0.005 + netRng.next() * 0.05 : 0,
        dup: f.has('dup') ? 0.005 + netRng.next() * 0.05 : 0,
        reorder: f.has('reorder') ? 0.02 + netRng.next() * 0.2 : 0,
      },
    });
    this.#shiviz = o.shiviz ? new ShivizLog() : null;
    this.#tickNs = o.tickMs * MS;
    this.#ids = Array.from({ length: o.nodes }, (_, i) => canonicalId(`node${i + 1}`));
    this.#history = new HistoryLog(this.#ids);
    this.#oracle = new DeliveryOracle(this.#ids, SPACE_LOG);
    this.#acked = new AckedWrites(this.#ids);
    this.#keyNames = Array.from({ length: o.keys }, (_, i) => `k${i}`);
    const wanted = this.tuning.core.events;
    this.#coreOptions = { ...this.tuning.core, events: wanted === 'all' ? 'all' : [...new Set([...(wanted ?? []), ...(o.shiviz ? SIM_SHIVIZ_EVENTS : SIM_EVENTS)])] };
    this.#nodes = this.#ids.map((id, idx) => ({
      id,
      idx,
      tickEv: Object.freeze({ k: 'tick', node: idx }),
      core: new CausalCore({ id, nodes: this.#ids, options: this.#coreOptions, logKeys: this.#logKeys.key }),
      // The core's restore takes its log in any order (tested in core.test.ts): kept as one queue per
      // origin, in which compaction deletes the oldest entries (see SimDisk's `queues`).
      disk: new SimDisk({ freeze: o.freezeMessages, queues: { [SPACE_LOG]: logQueue } }),
      inc: 0,
      // clock skew: each node ticks at its own rate (half to twice the nominal period)
      tickNs: f.has('skew') ? Math.round(this.#tickNs * (0.5 + skewRng.next() * 1.5)) : this.#tickNs,
      pending: new Float64Array(o.clients),
      held: this.#ids.map(() => []),
      heldCount: 0,
    }));
    this.#pairUp = new Uint8Array(o.nodes * o.nodes).fill(1);
    this.#symCuts = new Int32Array(o.nodes * o.nodes);
    this.#clients = Array.from({ length: o.clients }, (_, id) => ({
      id,
      wakeEv: Object.freeze({ k: 'wake', client: id }),
      home: id % o.nodes,
      roaming: this.#work.chance(0.5),
      at: id % o.nodes,
      ctx: undefined,
      puts: 0,
      busyReq: 0,
      busyNode: 0,
      busyF: 'get',
      busyKey: '',
      busyValue: null,
    }));
  }

  /** Runs the simulation to the end (or the first failure). */
  run(): SimResult {
    if (this.#ran) throw new Error('a Simulation runs once');
    this.#ran = true;
    let failure: SimFailure | undefined;
    try {
      this.#start();
      while (this.#loop()) this.#startLiveness();
      failure = this.#finish();
    } catch (e) {
      if (e instanceof Stop) failure = e.failure;
      else failure = { kind: 'invariant', message: e instanceof Error ? (e.stack ?? e.message) : String(e), at: this.#now };
    }
    return this.#result(failure);
  }

  // ---- setup and main loop ----

  #start(): void {
    for (const n of this.#nodes) this.#push(this.#work.int(1, n.tickNs), n.tickEv);
    for (const c of this.#clients) this.#push(this.#think(), c.wakeEv);
    if (this.#faults.has('partition') || this.#faults.has('oneway') || this.#faults.has('crash')) this.#scheduleFault();
    this.#push(this.#tickNs, CHECK);
    if (this.options.ops === 0) this.#startLiveness();
  }

  #push(at: number, ev: Ev): void {
    this.#queue.add(at, ev);
  }

  /**
   * Runs the agenda until it is empty or the run is done (false), or until the safety phase ends
   * (true: the caller starts the liveness phase, then runs the rest). The one 'liveness' event of a
   * run is left to the caller because code that first runs after the loop was optimized (as that
   * event's handling would, inlined here) throws the optimized loop away, and the rest of the run
   * and the start of the next one in the same process then ran unoptimized until it was rebuilt.
   */
  #loop(): boolean {
    const q = this.#queue;
    for (;;) {
      const ev = q.pop();
      if (ev === undefined || this.#phase === 'done') return false;
      this.#now = q.time;
      if (ev.k === 'liveness') return true;
      this.#handle(ev);
    }
  }

  #handle(ev: Exclude<Ev, { k: 'liveness' }>): void {
    switch (ev.k) {
      case 'tick':
        return this.#onTick(ev.node);
      case 'msg':
        return this.#onArrival(ev);
      case 'wake':
        return this.#onWake(ev.client);
      case 'submit':
        return this.#onSubmit(ev.client, ev.node, ev.inc, ev.op);
      case 'reply':
        return this.#onReply(ev.client, ev.node, ev.reply);
      case 'fault':
        return this.#onFault();
      case 'heal':
        return this.#onHeal(ev.epoch, ev.links, ev.symmetric);
      case 'restart':
        if (this.#nodes[ev.node]?.inc === ev.inc && this.#phase === 'safety') this.#restart(ev.node);
        return;
      case 'check':
        return this.#onCheck();
      default:
        assertNever(ev, 'simulator event');
    }
  }

  // ---- nodes ----

  // One input to a live core, then its Ready batch executed (#drain). The input is one of the
  // module-level functions TICK, RECEIVE, SUBMIT, LINK, not a closure: nothing is allocated per step.

  #step<A, B>(n: SimNode, input: (core: CausalCore, a: A, b: B) => void, a: A, b: B): void {
    const core = n.core;
    if (core === null) return;
    this.#depth++;
    try {
      try {
        input(core, a, b);
      } catch (e) {
        throw this.#coreFailure(n, e);
      }
      this.#drain(n, core);
    } finally {
      this.#depth--;
    }
  }

  #coreFailure(n: SimNode, e: unknown): Stop {
    return new Stop({ kind: 'invariant', node: n.id, message: `${n.id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, at: this.#now });
  }

  /** Execute a Ready batch the way the runtime does: persist first, then send and reply. */
  #drain(n: SimNode, core: CausalCore): void {
    // An empty batch (a fifth of all steps) would do nothing below: not asked for.
    if (core.hasReady() && !this.#execute(n, core.ready())) return;
    if (n.heldCount > 0 && !this.#releasing) this.#releaseHeld(n);
  }

  /** Executes one batch; false if the node crashed between persisting it and sending. */
  #execute(n: SimNode, r: Ready<CausalMsg, KvReply, CausalEvent>): boolean {
    if (r.persist.length > 0) {
      n.disk.applySync(r.persist);
      const broken = this.#oracle.check(n.idx, r.persist);
      if (broken !== null) throw new Stop({ kind: 'invariant', node: n.id, message: `${n.id} ${broken}: causal delivery broken`, at: this.#now });
      if (
        this.#phase === 'safety' &&
        this.#depth === 1 &&
        this.#crashFaults &&
        this.#faultRng.chance(this.tuning.crashAfterPersist) &&
        this.#aliveCount() > 1
      ) {
        // The batch is on disk, but its messages and replies never leave.
        this.#crashesAfterPersist++;
        this.#crash(n.idx, 'after persisting, before sending');
        return false;
      }
    }
    const events = r.events;
    for (let i = 0; i < events.length; i++) this.#observe(n, events[i] as CausalEvent);
    const onEvent = this.#hooks.onEvent;
    if (onEvent !== undefined) for (let i = 0; i < events.length; i++) onEvent(n.id, events[i] as CausalEvent);
    const out = this.#arrivals;
    const messages = r.messages;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as (typeof messages)[number];
      const to = nodeIndex(this.#ids, m.to);
      if (to < 0 || to === n.idx) throw new Stop({ kind: 'invariant', node: n.id, message: `${n.id} sent a message to ${m.to}`, at: this.#now });
      if (this.options.freezeMessages) deepFreeze(m.msg);
      const sv = this.#shiviz === null ? null : this.#shiviz.send(n.id, `send ${describe(m.msg)} to ${m.to}`);
      const first = out.length;
      this.#net.send(n.idx, to, m.msg, this.#now, out);
      for (let j = first; j < out.length; j++) {
        const a = out[j] as Arrival<CausalMsg>;
        if (sv !== null) this.#carried.set(a, sv);
        this.#push(a.at, a);
      }
    }
    if (out.length > 0) out.length = 0;
    const replies = r.replies;
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i] as KvReply;
      const client = pendingClient(n.pending, reply.reqId);
      if (client < 0) continue; // a reply for an operation given up on
      n.pending[client] = 0;
      this.#push(this.#now + this.#clientLatency(), { k: 'reply', client, node: n.idx, reply });
    }
    return true;
  }

  #observe(n: SimNode, ev: CausalEvent): void {
    switch (ev.type) {
      case 'context-timeout':
        this.#contextTimeouts++;
        return;
      case 'apply':
        if (this.#shiviz && !ev.local) this.#shiviz.local(n.id, `apply ${ev.origin}#${ev.seq} ${ev.deleted ? 'delete' : 'put'} ${ev.key} clock ${format(ev.clock)}`);
        return;
      default:
        return;
    }
  }

  #onTick(idx: number): void {
    const n = this.#nodes[idx] as SimNode;
    this.#step(n, TICK, undefined, undefined);
    this.#push(this.#now + n.tickNs, n.tickEv);
  }

  #onArrival(a: Arrival<CausalMsg>): void {
    if (!this.#net.arrive(a)) return;
    const n = this.#nodes[a.to] as SimNode;
    if (n.core === null) return; // cannot happen: a crash breaks inbound links
    const paused = n.core.pausedPeers();
    if (n.held[a.from]?.length || (paused.size > 0 && paused.has(this.#ids[a.from] as NodeId))) {
      // Backpressure: the driver stops reading this link; the message waits on the wire.
      (n.held[a.from] as Arrival<CausalMsg>[]).push(a);
      n.heldCount++;
      return;
    }
    this.#deliver(n, a);
  }

  #deliver(n: SimNode, a: Arrival<CausalMsg>): void {
    const from = this.#ids[a.from] as NodeId;
    if (this.#shiviz) {
      const sv = this.#carried.get(a);
      if (sv !== undefined) this.#shiviz.receive(n.id, `receive ${describe(a.payload)} from ${from}`, sv);
    }
    this.#step(n, RECEIVE, from, a.payload);
  }

  /** Deliver held arrivals from every sender the core no longer pauses, in order. */
  #releaseHeld(n: SimNode): void {
    this.#releasing = true;
    try {
      let progress = true;
      while (progress && n.heldCount > 0 && n.core !== null) {
        progress = false;
        for (let from = 0; from < n.held.length; from++) {
          const list = n.held[from] as Arrival<CausalMsg>[];
          while (list.length > 0 && n.core !== null && !n.core.pausedPeers().has(this.#ids[from] as NodeId)) {
            const a = list.shift() as Arrival<CausalMsg>;
            n.heldCount--;
            progress = true;
            this.#deliver(n, a);
          }
        }
      }
    } finally {
      this.#releasing = false;
    }
  }

  #aliveCount(): number {
    let c = 0;
    for (const n of this.#nodes) if (n.core !== null) c++;
    return c;
  }

  // ---- peer links ----

  #pair(i: number, j: number): number {
    return i < j ? i * this.options.nodes + j : j * this.options.nodes + i;
  }

  /** Bring the link between i and j to the state the world implies, telling both cores. */
  #refreshPair(i: number, j: number): void {
    const p = this.#pair(i, j);
    const a = this.#nodes[i] as SimNode;
    const b = this.#nodes[j] as SimNode;
    const want = a.core !== null && b.core !== null && this.#symCuts[p] === 0 ? 1 : 0;
    if (this.#pairUp[p] === want) return;
    this.#pairUp[p] = want;
    // A link going down or coming up is a new connection: whatever was in flight is lost.
    this.#net.breakLink(i, j);
    this.#net.breakLink(j, i);
    this.#dropHeld(a, j);
    this.#dropHeld(b, i);
    const up = want === 1;
    this.#step(a, LINK, b.id, up);
    if (this.#pairUp[p] !== want) return; // the world changed meanwhile (a nested refresh ran)
    this.#step(b, LINK, a.id, up);
  }

  /** A reconnection: the link goes down and comes straight back (anti-entropy runs on link-up). */
  #bounce(i: number, j: number): void {
    const p = this.#pair(i, j);
    if (this.#pairUp[p] !== 1) return;
    this.#symCuts[p] = (this.#symCuts[p] as number) + 1;
    this.#refreshPair(i, j);
    this.#symCuts[p] = (this.#symCuts[p] as number) - 1;
    this.#refreshPair(i, j);
  }

  #dropHeld(n: SimNode, from: number): void {
    const list = n.held[from] as Arrival<CausalMsg>[];
    if (list.length === 0) return;
    this.#net.stats.dropped += list.length;
    n.heldCount -= list.length;
    list.length = 0;
  }

  // ---- faults ----

  #scheduleFault(): void {
    const gap = Math.max(1, Math.floor(-Math.log(1 - this.#faultRng.next()) * this.tuning.faultMeanNs));
    this.#push(this.#now + gap, FAULT);
  }

  #onFault(): void {
    if (this.#phase !== 'safety') return;
    this.#scheduleFault();
    const kinds = (['partition', 'oneway', 'crash'] as const).filter((k) => this.#faults.has(k));
    const kind = this.#faultRng.pick(kinds);
    const n = this.options.nodes;
    if (n < 2) return;
    const rng = this.#faultRng;
    const duration = rng.int(this.tuning.partitionNs[0], this.tuning.partitionNs[1]);
    switch (kind) {
      case 'partition': {
        // A random split into two non-empty sides; every link across is cut both ways.
        const side = this.#ids.map(() => rng.chance(0.5));
        if (side.every((s) => s) || side.every((s) => !s)) side[rng.int(0, n - 1)] = !side[0];
        const links: [number, number][] = [];
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (side[i] !== side[j]) links.push([i, j]);
        this.#partitions++;
        this.#shiviz?.local('world', `partition ${this.#ids.filter((_, i) => side[i]).join(',')} | ${this.#ids.filter((_, i) => !side[i]).join(',')}`);
        for (const [i, j] of links) {
          this.#net.cut(i, j);
          this.#net.cut(j, i);
          const p = this.#pair(i, j);
          this.#symCuts[p] = (this.#symCuts[p] as number) + 1;
          this.#refreshPair(i, j);
        }
        this.#push(this.#now + duration, { k: 'heal', epoch: this.#faultEpoch, links, symmetric: true });
        return;
      }
      case 'oneway': {
        // Messages from one node to another vanish silently; neither end notices until it heals.
        const from = rng.int(0, n - 1);
        let to = rng.int(0, n - 2);
        if (to >= from) to++;
        this.#oneway++;
        this.#shiviz?.local('world', `one-way cut ${this.#ids[from]} -> ${this.#ids[to]}`);
        this.#net.cut(from, to);
        this.#push(this.#now + duration, { k: 'heal', epoch: this.#faultEpoch, links: [[from, to]], symmetric: false });
        return;
      }
      case 'crash': {
        if (this.#aliveCount() <= 1) return;
        const alive = this.#nodes.filter((x) => x.core !== null);
        const victim = rng.pick(alive);
        this.#crash(victim.idx, 'scheduled');
        return;
      }
      default:
        assertNever(kind, 'fault');
    }
  }

  #onHeal(epoch: number, links: readonly [number, number][], symmetric: boolean): void {
    if (epoch !== this.#faultEpoch || this.#phase !== 'safety') return;
    if (symmetric) {
      this.#shiviz?.local('world', `heal partition (${links.length} links)`);
      for (const [i, j] of links) {
        this.#net.uncut(i, j);
        this.#net.uncut(j, i);
        const p = this.#pair(i, j);
        this.#symCuts[p] = (this.#symCuts[p] as number) - 1;
        this.#refreshPair(i, j);
      }
      return;
    }
    for (const [from, to] of links) {
      this.#shiviz?.local('world', `heal one-way cut ${this.#ids[from]} -> ${this.#ids[to]}`);
      // The connection that lost messages re-establishes itself once the path works again.
      if (this.#net.uncut(from, to)) this.#bounce(from, to);
    }
  }

  #crash(idx: number, why: string): void {
    const n = this.#nodes[idx] as SimNode;
    if (n.core === null) return;
    this.#crashes++;
    if (this.#hooks.onTrace) {
      this.#hooks.onTrace({ type: 'crash', node: n.id, at: this.#now, why, clock: canonicalJson(n.core.clock), state: canonicalJson(n.core.entries()) });
    }
    this.#notePeak(n.core);
    n.core = null;
    n.inc++;
    this.#shiviz?.local(n.id, `crash (${why})`);
    for (let j = 0; j < this.options.nodes; j++) {
      if (j === idx) continue;
      this.#net.breakLink(j, idx);
      this.#dropHeld(n, j);
    }
    // Operations in progress on this node: their outcome is unknown.
    const pending: [number, number][] = [];
    for (let c = 0; c < n.pending.length; c++) if (n.pending[c] !== 0) pending.push([n.pending[c] as number, c]);
    n.pending.fill(0);
    for (const [, clientId] of pending.sort((x, y) => x[0] - y[0])) this.#complete(clientId, 'info', null, n.idx);
    for (let j = 0; j < this.options.nodes; j++) if (j !== idx) this.#refreshPair(idx, j);
    if (this.#phase === 'safety') {
      const down = this.#faultRng.int(this.tuning.downNs[0], this.tuning.downNs[1]);
      this.#push(this.#now + down, { k: 'restart', node: idx, inc: n.inc });
    }
  }

  /** The buffer high-water mark: each core's peak, taken when it crashes and at the end. */
  #notePeak(core: CausalCore): void {
    if (core.bufferPeak > this.#bufferedMax) this.#bufferedMax = core.bufferPeak;
  }

  #restart(idx: number): void {
    const n = this.#nodes[idx] as SimNode;
    if (n.core !== null) return;
    this.#restarts++;
    try {
      n.core = CausalCore.restore(n.disk, { id: n.id, nodes: this.#ids, options: this.#coreOptions, logKeys: this.#logKeys.key });
    } catch (e) {
      throw new Stop({ kind: 'invariant', node: n.id, message: `${n.id} restore: ${e instanceof Error ? e.message : String(e)}`, at: this.#now });
    }
    this.#oracle.reset(idx, n.core.clock);
    this.#shiviz?.local(n.id, 'restart from disk');
    if (this.#hooks.onTrace) {
      this.#hooks.onTrace({ type: 'restart', node: n.id, at: this.#now, clock: canonicalJson(n.core.clock), state: canonicalJson(n.core.entries()) });
    }
    // A new core assumes every link up: tell it which are not; bring up the others on both ends.
    for (let j = 0; j < this.options.nodes; j++) {
      if (j === idx) continue;
      const p = this.#pair(idx, j);
      const peer = this.#nodes[j] as SimNode;
      if (peer.core === null || this.#symCuts[p] !== 0) this.#step(n, LINK, peer.id, false);
      else this.#refreshPair(idx, j);
    }
  }

  // ---- clients ----

  #think(): number {
    return this.#now + 1 + Math.floor(-Math.log(1 - this.#work.next()) * this.tuning.thinkMeanNs);
  }

  #clientLatency(): number {
    return this.#work.int(this.tuning.clientLatencyNs[0], this.tuning.clientLatencyNs[1]);
  }

  #onWake(id: number): void {
    const c = this.#clients[id] as Client;
    if (this.#phase !== 'safety' || c.busyReq !== 0 || this.#issued >= this.options.ops) return;
    const w = this.#work;
    // Session: a sticky client stays on its home node; a roaming one moves, carrying its context.
    let node = c.roaming && w.chance(0.5) ? w.int(0, this.options.nodes - 1) : c.roaming ? c.at : c.home;
    if ((this.#nodes[node] as SimNode).core === null) {
      const alive = this.#nodes.filter((x) => x.core !== null);
      node = w.pick(alive).idx;
    }
    c.at = node;
    const key = this.#keyNames[w.int(0, this.options.keys - 1)] as string;
    const roll = w.next();
    const reqId = ++this.#reqIds;
    const ctx = c.ctx;
    let op: KvOp;
    let value: string | null = null;
    // ctx is always a property (undefined when the client has none): two object shapes, not six,
    // for the core's property loads.
    if (roll < this.tuning.getRatio) op = { kind: 'get', reqId, key, ctx };
    else if (roll < this.tuning.getRatio + this.tuning.deleteRatio) op = { kind: 'delete', reqId, key, ctx };
    else {
      value = `c${c.id}-${++c.puts}`;
      op = { kind: 'put', reqId, key, value, ctx };
    }
    const n = this.#nodes[node] as SimNode;
    this.#issued++;
    const f = op.kind as 'put' | 'get' | 'delete';
    c.busyReq = reqId;
    c.busyNode = node;
    c.busyF = f;
    c.busyKey = key;
    c.busyValue = value;
    n.pending[c.id] = reqId;
    this.#record(c.id, TYPE_CODE.invoke, kindCode(f), key, value, this.#now, n.idx);
    this.#shiviz?.local(n.id, `P${c.id} invoke ${f} ${key}${value === null ? '' : ` = ${value}`}`);
    this.#push(this.#now + this.#clientLatency(), { k: 'submit', client: c.id, node, inc: n.inc, op });
  }

  #onSubmit(_client: number, idx: number, inc: number, op: KvOp): void {
    const n = this.#nodes[idx] as SimNode;
    if (n.inc !== inc || n.core === null) return; // the node crashed meanwhile: already recorded as info
    this.#step(n, SUBMIT, op, undefined);
  }

  #onReply(id: number, idx: number, reply: KvReply): void {
    const c = this.#clients[id] as Client;
    if (c.busyReq === 0 || c.busyReq !== reply.reqId) return;
    if (reply.ok) {
      c.ctx = reply.context;
      if (reply.kind === 'put' || reply.kind === 'delete') {
        this.#acked.push({ key: reply.key, clock: reply.clock, client: id, kind: reply.kind, value: c.busyValue, node: idx });
      }
      const value = reply.kind === 'get' ? (reply.found ? reply.value : null) : reply.kind === 'put' ? undefined : null;
      this.#complete(id, 'ok', value === undefined ? null : (value as string | null), idx);
    } else {
      this.#complete(id, 'fail', null, idx, reply.reason);
    }
  }

  #complete(id: number, type: 'ok' | 'fail' | 'info', readValue: string | null, idx: number, reason?: string): void {
    const c = this.#clients[id] as Client;
    if (c.busyReq === 0) return;
    c.busyReq = 0;
    const f = c.busyF;
    const key = c.busyKey;
    const n = this.#nodes[idx] as SimNode;
    const value = f === 'put' ? c.busyValue : readValue;
    this.#record(id, type === 'ok' ? TYPE_CODE.ok : type === 'fail' ? TYPE_CODE.fail : TYPE_CODE.info, kindCode(f), key, value, this.#now, n.idx);
    this.#shiviz?.local(n.id, `P${id} ${type} ${f} ${key}${f === 'get' && type === 'ok' ? ` -> ${JSON.stringify(value)}` : ''}${reason ? ` (${reason})` : ''}`);
    if (type === 'ok') this.#ok++;
    else if (type === 'fail') this.#fail++;
    else this.#info++;
    this.#completed++;
    this.#lastCompletionAt = this.#now;
    if (this.#hooks.onProgress && this.#completed % this.tuning.progressEvery === 0) {
      this.#hooks.onProgress({ phase: 'safety', done: this.#completed, total: this.options.ops });
    }
    if (this.#phase === 'safety') {
      if (this.#issued < this.options.ops) this.#push(this.#think(), c.wakeEv);
      else if (this.#completed >= this.options.ops) this.#push(this.#now, { k: 'liveness' });
    }
  }

  #record(process: number, type: number, f: number, key: string, value: string | null, time: number, node: number): void {
    if (!this.options.recordHistory) return;
    this.#history.push(process, type, f, key, value, time, node);
  }

  // ---- liveness ----

  #startLiveness(): void {
    if (this.#phase !== 'safety') return;
    this.#phase = 'liveness';
    this.#faultEpoch++;
    this.#shiviz?.local('world', 'heal everything: faults off, every node up, every link up');
    this.#net.setFaults(false);
    this.#net.healAll();
    this.#symCuts.fill(0);
    for (const n of this.#nodes) if (n.core === null) this.#restart(n.idx);
    const size = this.options.nodes;
    for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) this.#refreshPair(i, j);
    // Links that lost messages reconnect (a lost message means a broken connection).
    const seen = new Set<number>();
    for (const [i, j] of this.#net.takeLossy()) {
      const p = this.#pair(i, j);
      if (seen.has(p)) continue;
      seen.add(p);
      this.#bounce(i, j);
    }
  }

  #onCheck(): void {
    if (this.#phase === 'safety') {
      if (this.#now - this.#lastCompletionAt > this.tuning.stallTicks * this.#tickNs) {
        const busy = this.#clients.filter((c) => c.busyReq !== 0).map((c) => `P${c.id} ${c.busyF} ${c.busyKey} @${this.#ids[c.busyNode]}`);
        throw new Stop({ kind: 'stalled', message: `no client operation completed for ${this.tuning.stallTicks} tick periods (waiting: ${busy.join('; ') || 'none'})`, at: this.#now });
      }
      this.#push(this.#now + this.#tickNs, CHECK);
      return;
    }
    if (this.#phase !== 'liveness') return;
    this.#livenessTicks++;
    if (this.#converged()) {
      this.#convergenceTicks = this.#livenessTicks;
      this.#phase = 'done';
      return;
    }
    if (this.#livenessTicks >= this.options.maxLivenessTicks) {
      throw new Stop({ kind: 'no-convergence', message: `no convergence after ${this.#livenessTicks} tick periods of the healed liveness phase: ${this.#divergence()}`, at: this.#now });
    }
    if (this.#hooks.onProgress && this.#livenessTicks % 100 === 0) {
      this.#hooks.onProgress({ phase: 'liveness', done: this.#livenessTicks, total: this.options.maxLivenessTicks });
    }
    this.#push(this.#now + this.#tickNs, CHECK);
  }

  #converged(): boolean {
    if (this.#net.inFlight > 0) return false;
    if (this.#clients.some((c) => c.busyReq !== 0)) return false;
    const first = this.#nodes[0]?.core;
    if (!first) return false;
    const clock = first.clock;
    for (const n of this.#nodes) {
      if (n.core === null || n.heldCount > 0) return false;
      if (!isDeepStrictEqual(n.core.clock, clock)) return false;
      if (n.core.status().buffered > 0) return false;
    }
    const state = first.entries();
    return this.#nodes.every((n) => isDeepStrictEqual((n.core as CausalCore).entries(), state));
  }

  #divergence(): string {
    return this.#nodes
      .map((n) => (n.core === null ? `${n.id} down` : `${n.id} clock ${format(n.core.clock)} buffered ${n.core.status().buffered} held ${n.heldCount}`))
      .join('; ') + `; in flight ${this.#net.inFlight}; busy clients ${this.#clients.filter((c) => c.busyReq !== 0).length}`;
  }

  // ---- end of run ----

  /** Final reads of every key on every node, then the checkers. Returns a failure, if any. */
  #finish(): SimFailure | undefined {
    if (this.#phase !== 'done') {
      return { kind: 'no-convergence', message: `the run ended in phase ${this.#phase}: ${this.#divergence()}`, at: this.#now };
    }
    let t = this.#now;
    for (const n of this.#nodes) {
      const process = this.options.clients + n.idx;
      const core = n.core as CausalCore;
      for (let k = 0; k < this.options.keys; k++) {
        const key = this.#keyNames[k] as string;
        const reqId = ++this.#reqIds;
        this.#record(process, TYPE_CODE.invoke, KIND_CODE.get, key, null, ++t, n.idx);
        core.submit({ kind: 'get', reqId, key });
        const r = core.ready();
        const reply = r.replies.find((x) => x.reqId === reqId);
        if (!reply || !reply.ok || reply.kind !== 'get') {
          return { kind: 'invariant', message: `${n.id}: final read of ${key} got no get reply`, at: t };
        }
        this.#finalReads++;
        this.#record(process, TYPE_CODE.ok, KIND_CODE.get, key, reply.found ? (reply.value as string) : null, ++t, n.idx);
      }
    }
    this.#now = t;
    const lost = this.#lostWrites();
    if (lost !== undefined) return lost;
    if (!this.options.recordHistory || !this.options.check) return undefined;
    this.#hooks.onProgress?.({ phase: 'check', done: 0, total: 1 });
    const parsed = historyFromEvents(this.#history.events());
    if (!parsed.ok) return { kind: 'invariant', message: `the recorded history does not parse (line ${parsed.line}): ${parsed.reason}`, at: t };
    const h = parsed.history;
    if (h.ops.length <= this.tuning.causalCheckMaxOps) this.#verdicts.causal = checkCausal(h);
    else this.#notes.push(`causal checker skipped: ${h.ops.length} operations is above its ${this.tuning.causalCheckMaxOps}-operation bound`);
    this.#verdicts.eventual = checkEventual(h);
    for (const v of [this.#verdicts.causal, this.#verdicts.eventual]) {
      if (v !== undefined && v.valid === false && v.model === 'eventual' && v.rule === 'lost-write') {
        // The eventual checker reads "overwritten" in real time (last writer wins). In the causal
        // model two concurrent writes are both kept as siblings and a read shows the deterministic
        // winner, so a write invoked later may legitimately lose the read. Durability is judged
        // instead from the replicas' final state by #lostWrites (clocks, siblings included).
        this.#eventualSetAside = true;
        this.#notes.push(`eventual checker's real-time lost-write rule does not apply to concurrent causal writes (kept as siblings); acknowledged writes were verified present or overwritten by clock: ${v.explanation.split('\n')[0] ?? ''}`);
        continue;
      }
      if (v !== undefined && v.valid === false) {
        return { kind: 'checker', message: `${v.model} checker: ${v.rule}: ${v.explanation}`, verdict: v };
      }
      if (v !== undefined && v.valid === 'unknown') this.#notes.push(`${v.model} checker undecided: ${v.reason}`);
    }
    return undefined;
  }

  /**
   * SPEC §2/§3: after quiescence every acknowledged write is present (as the value or a sibling) or
   * overwritten (a stored version's clock dominates it) — judged on the converged state.
   */
  #lostWrites(): SimFailure | undefined {
    const core = this.#nodes[0]?.core;
    if (!core) return undefined;
    const state = new Map(core.entries());
    const acked = this.#acked;
    for (let i = 0; i < acked.length; i++) {
      const versions = state.get(acked.key(i)) ?? [];
      // before or equal: every entry <= (clock entries are never negative)
      const ok = versions.some((v) => acked.coveredBy(i, v.clock));
      if (!ok) {
        const w = acked.get(i);
        const have = versions.map((v) => format(v.clock)).join(', ') || 'nothing';
        const what = `P${w.client} ${w.kind}(${w.key}${w.value === null ? '' : `, ${w.value}`}) @${this.#ids[w.node] as NodeId}`;
        return { kind: 'lost-write', message: `acknowledged write ${what} with clock ${format(w.clock)} is neither present nor overwritten: key ${w.key} holds ${have}`, at: this.#now };
      }
    }
    return undefined;
  }

  #result(failure: SimFailure | undefined): SimResult {
    for (const n of this.#nodes) if (n.core !== null) this.#notePeak(n.core);
    const s = this.#net.stats;
    const summary: SimSummary = {
      seed: this.options.seed,
      ops: { invoked: this.#issued, ok: this.#ok, fail: this.#fail, info: this.#info, finalReads: this.#finalReads },
      messages: { sent: s.sent, delivered: s.delivered, dropped: s.dropped, duplicated: s.duplicated, reordered: s.reordered },
      crashes: this.#crashes,
      crashesAfterPersist: this.#crashesAfterPersist,
      restarts: this.#restarts,
      partitions: this.#partitions,
      onewayCuts: this.#oneway,
      bufferedMax: this.#bufferedMax,
      contextTimeouts: this.#contextTimeouts,
      convergenceTicks: this.#convergenceTicks,
      virtualTimeNs: this.#now,
      verdicts: { ...this.#verdicts },
      eventualSetAside: this.#eventualSetAside,
      notes: [...this.#notes],
    };
    const log = this.#history;
    const result: SimResult = {
      ok: failure === undefined,
      options: this.options,
      summary,
      // Built from the recorder's columns on first access (see HistoryLog).
      get history(): readonly HistoryEvent[] {
        return log.events();
      },
      replay: replayCommand(this.options),
      ...(failure === undefined ? {} : { failure }),
      ...(this.#shiviz ? { shiviz: this.#shiviz.toString() } : {}),
    };
    return result;
  }
}

/** The client whose pending reqId this is, -1 if none (a loop: TypedArray indexOf is a runtime call). */
function pendingClient(pending: Float64Array, reqId: number): number {
  for (let c = 0; c < pending.length; c++) if (pending[c] === reqId) return c;
  return -1;
}

function kindCode(f: 'put' | 'get' | 'delete'): number {
  return f === 'put' ? KIND_CODE.put : f === 'get' ? KIND_CODE.get : KIND_CODE.delete;
}

function describe(m: CausalMsg): string {
  switch (m.type) {
    case 'write':
      return `write ${m.write.origin}#${m.write.clock[m.write.origin] ?? 0} ${m.write.deleted ? 'delete' : 'put'} ${m.write.key}`;
    case 'writes':
      return `writes (${m.reason}, ${m.writes.length})`;
    case 'sync':
      return `sync ${format(m.clock)}`;
    case 'ack':
      return `ack ${format(m.clock)}`;
    default:
      return assertNever(m, 'causal message');
  }
}

/** Runs one simulation. */
export function runSimulation(options: Partial<SimOptions> = {}, hooks: SimHooks = {}): SimResult {
  return new Simulation(options, hooks).run();
}
