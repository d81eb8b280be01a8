/**
 * A model-independent conformance suite for key-value protocol cores (ARCHITECTURE.md §4 rule 7),
 * and the tiny deterministic in-memory driver it runs them on. Each model's test file registers
 * `conformanceCases` with its own test runner; a case throws on failure.
 *
 * The driver (`MemoryCluster`) is a faithful, minimal ARCHITECTURE.md §1 driver: for each Ready
 * batch it applies the persist ops to a per-node in-memory disk first, then queues the messages on
 * per-link FIFO queues (deep-copied, as a wire would) and collects the replies. A crash throws the
 * core away and rebuilds it from that disk only.
 */
import type { NodeId, Snapshot, StorageOp } from '../core/protocol.js';
import { Rng } from '../core/rng.js';
import type { KvOp, KvReply } from './kv-types.js';

export type { KvCore } from './kv-types.js';
import type { KvCore } from './kv-types.js';

export interface CoreFactory<Msg, Ev> {
  create(id: NodeId, nodes: readonly NodeId[]): KvCore<Msg, Ev>;
  restore(snapshot: Snapshot, id: NodeId, nodes: readonly NodeId[]): KvCore<Msg, Ev>;
  /** Peers whose link the driver must stop reading from (backpressure); none when absent. */
  pausedPeers?(core: KvCore<Msg, Ev>): ReadonlySet<NodeId>;
}

export interface SentMessage<Msg> {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly msg: Msg;
  /** True when the link was cut or the destination down: the message is lost. */
  readonly dropped: boolean;
}

export interface Output<Msg, Ev> {
  replies: { node: NodeId; reply: KvReply }[];
  events: { node: NodeId; event: Ev }[];
  sent: SentMessage<Msg>[];
  persisted: { node: NodeId; ops: number }[];
}

function emptyOutput<Msg, Ev>(): Output<Msg, Ev> {
  return { replies: [], events: [], sent: [], persisted: [] };
}

type Disk = Map<string, Map<string, unknown>>;

function linkId(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

/** A deterministic in-memory cluster driving one protocol core per node. */
export class MemoryCluster<Msg, Ev> {
  readonly nodes: readonly NodeId[];
  readonly #factory: CoreFactory<Msg, Ev>;
  readonly #cores = new Map<NodeId, KvCore<Msg, Ev> | null>();
  readonly #disks = new Map<NodeId, Disk>();
  readonly #queues = new Map<string, Msg[]>();
  readonly #cut = new Set<string>();

  constructor(factory: CoreFactory<Msg, Ev>, nodes: readonly NodeId[]) {
    this.#factory = factory;
    this.nodes = [...nodes];
    for (const n of nodes) {
      this.#cores.set(n, factory.create(n, this.nodes));
      this.#disks.set(n, new Map());
      for (const m of nodes) if (m !== n) this.#queues.set(linkId(n, m), []);
    }
  }

  static named(count: number): NodeId[] {
    return Array.from({ length: count }, (_, i) => `node${i + 1}`);
  }

  /** The live core of a node (throws when it is crashed). */
  core(id: NodeId): KvCore<Msg, Ev> {
    const c = this.#cores.get(id);
    if (!c) throw new Error(`node ${id} is ${c === null ? 'down' : 'unknown'}`);
    return c;
  }

  isUp(id: NodeId): boolean {
    return Boolean(this.#cores.get(id));
  }

  disk(id: NodeId): Disk {
    const d = this.#disks.get(id);
    if (!d) throw new Error(`unknown node ${id}`);
    return d;
  }

  pending(from: NodeId, to: NodeId): Msg[] {
    const q = this.#queues.get(linkId(from, to));
    if (!q) throw new Error(`no link ${from} -> ${to}`);
    return q;
  }

  isPaused(from: NodeId, to: NodeId): boolean {
    const c = this.#cores.get(to);
    return Boolean(c && this.#factory.pausedPeers?.(c).has(from));
  }

  isCut(a: NodeId, b: NodeId): boolean {
    return this.#cut.has(linkId(a, b));
  }

  /** Drain every live core's Ready batch: persist first, then queue messages, collect replies. */
  flush(out: Output<Msg, Ev> = emptyOutput()): Output<Msg, Ev> {
    for (const n of this.nodes) {
      const core = this.#cores.get(n);
      if (!core) continue;
      const r = core.ready();
      this.#persist(n, r.persist);
      if (r.persist.length > 0) out.persisted.push({ node: n, ops: r.persist.length });
      for (const { to, msg } of r.messages) {
        const dropped = to === n || this.#cut.has(linkId(n, to)) || !this.#cores.get(to);
        if (!dropped) this.pending(n, to).push(structuredClone(msg));
        out.sent.push({ from: n, to, msg, dropped });
      }
      for (const reply of r.replies) out.replies.push({ node: n, reply });
      for (const event of r.events) out.events.push({ node: n, event });
    }
    return out;
  }

  #persist(node: NodeId, ops: readonly StorageOp[]): void {
    const disk = this.disk(node);
    for (const op of ops) {
      let space = disk.get(op.space);
      if (!space) disk.set(op.space, (space = new Map()));
      if (op.kind === 'put') space.set(op.key, structuredClone(op.value));
      else space.delete(op.key);
    }
  }

  submit(node: NodeId, op: KvOp): Output<Msg, Ev> {
    this.core(node).submit(op);
    return this.flush();
  }

  /** Deliver up to `count` pending messages on one link, FIFO (none while the link is paused). */
  deliver(from: NodeId, to: NodeId, count = Infinity): Output<Msg, Ev> {
    const out = emptyOutput<Msg, Ev>();
    const q = this.pending(from, to);
    for (let i = 0; i < count && q.length > 0 && !this.isPaused(from, to); i++) {
      const msg = q.shift() as Msg;
      this.core(to).receive(from, msg);
      this.flush(out);
    }
    return out;
  }

  /** Deliver everything, link by link in a fixed order, until every unpaused queue is empty. */
  deliverAll(maxMessages = 1_000_000): Output<Msg, Ev> {
    const out = emptyOutput<Msg, Ev>();
    let delivered = 0;
    for (;;) {
      let progress = false;
      for (const from of this.nodes) {
        for (const to of this.nodes) {
          if (from === to) continue;
          const q = this.pending(from, to);
          while (q.length > 0 && !this.isPaused(from, to)) {
            if (++delivered > maxMessages) throw new Error(`deliverAll: more than ${maxMessages} messages`);
            this.core(to).receive(from, q.shift() as Msg);
            this.flush(out);
            progress = true;
          }
        }
      }
      if (!progress) return out;
    }
  }

  drop(from: NodeId, to: NodeId, count = Infinity): number {
    const q = this.pending(from, to);
    const n = Math.min(count, q.length);
    q.splice(0, n);
    return n;
  }

  reorder(from: NodeId, to: NodeId): void {
    this.pending(from, to).reverse();
  }

  duplicate(from: NodeId, to: NodeId): void {
    const q = this.pending(from, to);
    q.push(...q.map((m) => structuredClone(m)));
  }

  tick(nodes: readonly NodeId[] = this.nodes, times = 1): Output<Msg, Ev> {
    const out = emptyOutput<Msg, Ev>();
    for (let i = 0; i < times; i++) {
      for (const n of nodes) this.#cores.get(n)?.tick();
      this.flush(out);
    }
    return out;
  }

  /** Tell both ends a link is up (anti-entropy) — also undoes a cut. */
  linkUp(a: NodeId, b: NodeId): Output<Msg, Ev> {
    this.#cut.delete(linkId(a, b));
    this.#cut.delete(linkId(b, a));
    if (this.isUp(a) && this.isUp(b)) {
      this.core(a).linkChanged(b, true);
      this.core(b).linkChanged(a, true);
    }
    return this.flush();
  }

  /** Cut a link both ways: pending messages are lost, both ends are told. */
  linkDown(a: NodeId, b: NodeId): Output<Msg, Ev> {
    this.#cut.add(linkId(a, b));
    this.#cut.add(linkId(b, a));
    this.drop(a, b);
    this.drop(b, a);
    this.#cores.get(a)?.linkChanged(b, false);
    this.#cores.get(b)?.linkChanged(a, false);
    return this.flush();
  }

  partition(groups: readonly (readonly NodeId[])[]): Output<Msg, Ev> {
    const groupOf = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((n) => groupOf.set(n, i)));
    const out = emptyOutput<Msg, Ev>();
    for (const a of this.nodes) {
      for (const b of this.nodes) {
        if (a >= b || groupOf.get(a) === groupOf.get(b) || this.#cut.has(linkId(a, b))) continue;
        const o = this.linkDown(a, b);
        out.replies.push(...o.replies);
        out.events.push(...o.events);
        out.sent.push(...o.sent);
        out.persisted.push(...o.persisted);
      }
    }
    return out;
  }

  /** Restore every cut link between live nodes (each end told: anti-entropy runs). */
  heal(): Output<Msg, Ev> {
    const out = emptyOutput<Msg, Ev>();
    for (const a of this.nodes) {
      for (const b of this.nodes) {
        if (a >= b || !this.#cut.has(linkId(a, b))) continue;
        this.#cut.delete(linkId(a, b));
        this.#cut.delete(linkId(b, a));
        if (this.isUp(a) && this.isUp(b)) {
          this.core(a).linkChanged(b, true);
          this.core(b).linkChanged(a, true);
        }
      }
    }
    return this.flush(out);
  }

  /** Kill a node: its memory and every in-flight message to or from it are lost; the disk stays. */
  crash(id: NodeId): Output<Msg, Ev> {
    this.core(id);
    this.#cores.set(id, null);
    for (const n of this.nodes) {
      if (n === id) continue;
      this.drop(id, n);
      this.drop(n, id);
      this.#cores.get(n)?.linkChanged(id, false);
    }
    return this.flush();
  }

  /** Rebuild a crashed node from its disk; its links (not cut) come up: anti-entropy both ways. */
  restart(id: NodeId): Output<Msg, Ev> {
    if (this.isUp(id)) throw new Error(`node ${id} is already up`);
    const disk = this.disk(id);
    const snapshot: Snapshot = {
      entries: (space) => [...(disk.get(space) ?? new Map<string, unknown>()).entries()].map(([k, v]) => [k, structuredClone(v)] as [string, unknown]),
    };
    const core = this.#factory.restore(snapshot, id, this.nodes);
    this.#cores.set(id, core);
    for (const n of this.nodes) {
      if (n === id || !this.isUp(n) || this.#cut.has(linkId(id, n))) continue;
      core.linkChanged(n, true);
      this.core(n).linkChanged(id, true);
    }
    return this.flush();
  }
}

// ---- the cases ----

class ConformanceFailure extends Error {
  override name = 'ConformanceFailure';
}

function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new ConformanceFailure(message);
}

function replyFor(out: Output<unknown, unknown>, reqId: number): KvReply {
  const r = out.replies.find((x) => x.reply.reqId === reqId);
  expect(r, `no reply to request ${reqId}`);
  return r.reply;
}

function readAt<Msg, Ev>(c: MemoryCluster<Msg, Ev>, node: NodeId, key: string, reqId: number): { found: boolean; value: unknown } {
  const r = replyFor(c.submit(node, { kind: 'get', reqId, key }), reqId);
  expect(r.ok && r.kind === 'get', `get ${key} at ${node} failed: ${JSON.stringify(r)}`);
  return { found: r.found, value: r.value };
}

export interface ConformanceCase {
  readonly name: string;
  /** The rule checked (cited in test output). */
  readonly rule: string;
  run<Msg, Ev>(factory: CoreFactory<Msg, Ev>): void;
}

export const conformanceCases: readonly ConformanceCase[] = [
  {
    name: 'a put is acknowledged and readable locally',
    rule: 'SPEC §2: a write is acknowledged with its clock; read-your-writes at the same node',
    run(factory) {
      const c = new MemoryCluster(factory, MemoryCluster.named(3));
      const out = c.submit('node1', { kind: 'put', reqId: 1, key: 'x', value: 5 });
      const r = replyFor(out, 1);
      expect(r.ok && r.kind === 'put' && r.key === 'x', `put reply: ${JSON.stringify(r)}`);
      expect(out.persisted.some((p) => p.node === 'node1'), 'an acknowledged put must persist something in its batch');
      const got = readAt(c, 'node1', 'x', 2);
      expect(got.found && got.value === 5, `read after put: ${JSON.stringify(got)}`);
    },
  },
  {
    name: 'a delete is acknowledged and the key reads as absent',
    rule: 'SPEC §2 HTTP API: DELETE /v1/kv/{key}, then GET is 404',
    run(factory) {
      const c = new MemoryCluster(factory, MemoryCluster.named(3));
      c.submit('node1', { kind: 'put', reqId: 1, key: 'x', value: 'a' });
      const r = replyFor(c.submit('node1', { kind: 'delete', reqId: 2, key: 'x' }), 2);
      expect(r.ok && r.kind === 'delete', `delete reply: ${JSON.stringify(r)}`);
      const got = readAt(c, 'node1', 'x', 3);
      expect(!got.found, `read after delete: ${JSON.stringify(got)}`);
      c.deliverAll();
      for (const n of c.nodes) expect(!readAt(c, n, 'x', 4).found, `${n} still has x after the delete replicated`);
    },
  },
  {
    name: 'replicas converge once every message is delivered',
    rule: 'SPEC §2: every replica converges to the same state once every write is delivered',
    run(factory) {
      const rng = new Rng(7);
      const c = new MemoryCluster(factory, MemoryCluster.named(3));
      const keys = ['a', 'b', 'c'];
      let reqId = 1;
      for (let i = 0; i < 60; i++) {
        const node = rng.pick(c.nodes);
        const key = rng.pick(keys);
        if (rng.chance(0.15)) c.submit(node, { kind: 'delete', reqId: reqId++, key });
        else c.submit(node, { kind: 'put', reqId: reqId++, key, value: `${node}-${i}` });
        if (rng.chance(0.3)) {
          const from = rng.pick(c.nodes);
          const to = rng.pick(c.nodes.filter((n) => n !== from));
          c.deliver(from, to, rng.int(1, 3));
        }
      }
      c.deliverAll();
      for (const key of keys) {
        const seen = c.nodes.map((n) => JSON.stringify(readAt(c, n, key, reqId++)));
        expect(seen.every((s) => s === seen[0]), `replicas disagree on ${key}: ${seen.join(' / ')}`);
      }
    },
  },
  {
    name: 'a restarted node keeps every acknowledged write and catches up',
    rule: 'SPEC §2 durability: nothing acknowledged is lost across a crash; the node catches up',
    run(factory) {
      const c = new MemoryCluster(factory, MemoryCluster.named(3));
      const acked: [string, number][] = [];
      for (let i = 1; i <= 5; i++) {
        const r = replyFor(c.submit('node1', { kind: 'put', reqId: i, key: `k${i}`, value: i }), i);
        if (r.ok) acked.push([`k${i}`, i]);
      }
      expect(acked.length === 5, 'every put acknowledged');
      c.crash('node1'); // nothing was delivered: node1's disk is the only copy
      c.restart('node1');
      for (const [k, v] of acked) {
        const got = readAt(c, 'node1', k, 100 + v);
        expect(got.found && got.value === v, `node1 lost acknowledged ${k}: ${JSON.stringify(got)}`);
      }
      c.submit('node2', { kind: 'put', reqId: 200, key: 'late', value: 'x' });
      c.crash('node2');
      c.restart('node2');
      c.deliverAll();
      for (const n of c.nodes) {
        for (const [k, v] of acked) expect(readAt(c, n, k, 300).value === v, `${n} never received ${k}`);
        expect(readAt(c, n, 'late', 301).value === 'x', `${n} never received late`);
      }
    },
  },
];
