import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Snapshot, StorageOp } from '../../core/protocol.js';
import { isCausewayError } from '../../core/errors.js';
import { CausalCore, canonicalId, logKey, SPACE_KV, SPACE_LOG, SPACE_META } from './core.js';
import type { CausalMsg, CausalWrite } from './types.js';

const nodes = ['node1', 'node2', 'node3'];

function disk(): { apply(ops: readonly StorageOp[]): void; snapshot: Snapshot; spaces: Map<string, Map<string, unknown>> } {
  const spaces = new Map<string, Map<string, unknown>>();
  return {
    spaces,
    apply(ops) {
      for (const op of ops) {
        let s = spaces.get(op.space);
        if (!s) spaces.set(op.space, (s = new Map()));
        if (op.kind === 'put') s.set(op.key, structuredClone(op.value));
        else s.delete(op.key);
      }
    },
    snapshot: { entries: (space) => [...(spaces.get(space) ?? new Map<string, unknown>()).entries()] },
  };
}

function write(origin: string, clock: Record<string, number>, key: string, value: unknown, lamport = 1): CausalMsg {
  const w: CausalWrite = { origin, clock, lamport, key, value, deleted: false };
  return { type: 'write', write: w };
}

/** The peers the core's next Ready batch sends messages of `type` to, in order. */
function sentTo(c: CausalCore, type: CausalMsg['type']): string[] {
  return c
    .ready()
    .messages.filter((m) => m.msg.type === type)
    .map((m) => m.to);
}

test('a local put: log entry and key state persist in the same batch as the reply; the clock comes back from the log', () => {
  // SPEC §2 durability: acknowledged only after it is on disk — the reply leaves with its persist ops
  const c = new CausalCore({ id: 'node1', nodes });
  c.submit({ kind: 'put', reqId: 1, key: 'x', value: 5 });
  const r = c.ready();
  assert.deepEqual(r.replies, [{ reqId: 1, ok: true, kind: 'put', key: 'x', clock: { node1: 1, node2: 0, node3: 0 }, context: { node1: 1, node2: 0, node3: 0 } }]);
  const spaces = r.persist.map((op) => `${op.kind}:${op.space}:${op.key}`).sort();
  assert.deepEqual(spaces, [`put:${SPACE_KV}:x`, `put:${SPACE_LOG}:${logKey('node1', 1)}`]);
  assert.deepEqual(r.messages.map((m) => m.to), ['node2', 'node3']);
  // what this batch persisted is enough to rebuild the clock and the Lamport stamp
  const d = disk();
  d.apply(r.persist);
  const back = CausalCore.restore(d.snapshot, { id: 'node1', nodes });
  assert.deepEqual(back.clock, { node1: 1, node2: 0, node3: 0 });
  assert.equal(back.lamport, 1);
  // reads persist nothing
  c.submit({ kind: 'get', reqId: 2, key: 'x' });
  assert.deepEqual(c.ready().persist, []);
  // an idle core hands back an empty batch
  const idle = c.ready();
  assert.equal(idle.persist.length + idle.messages.length + idle.replies.length + idle.events.length, 0);
});

test('compaction persists the clock and Lamport stamp with the deletes: a restore after it keeps them', () => {
  // SPEC §2: the log is compacted once every peer has an entry; what it covered must not be forgotten.
  const d = disk();
  const c = new CausalCore({ id: 'node1', nodes });
  c.receive('node3', write('node3', { node3: 1 }, 'y', 'q', 9));
  c.submit({ kind: 'put', reqId: 1, key: 'x', value: 5 });
  d.apply(c.ready().persist);
  const all = { node1: 1, node2: 0, node3: 1 };
  c.receive('node2', { type: 'ack', clock: all });
  c.receive('node3', { type: 'ack', clock: all });
  const batch = c.ready().persist;
  const ops = batch.map((op) => `${op.kind}:${op.space}:${op.key}`).sort();
  assert.deepEqual(ops, [`del:${SPACE_LOG}:${logKey('node1', 1)}`, `del:${SPACE_LOG}:${logKey('node3', 1)}`, `put:${SPACE_META}:clock`, `put:${SPACE_META}:lamport`]);
  d.apply(batch);
  assert.equal(d.spaces.get(SPACE_LOG)?.size, 0);
  const back = CausalCore.restore(d.snapshot, { id: 'node1', nodes });
  assert.deepEqual(back.clock, all);
  assert.equal(back.lamport, 10);
  assert.deepEqual(back.logRanges(), {});
  // a later write: the stored clock is older than the log's end, and the log wins
  back.receive('node2', write('node2', { node2: 1 }, 'z', 'w', 3));
  d.apply(back.ready().persist);
  const again = CausalCore.restore(d.snapshot, { id: 'node1', nodes });
  assert.deepEqual(again.clock, { node1: 1, node2: 1, node3: 1 });
  assert.equal(again.lamport, 10);
  // a log that ends before the stored clock (applied writes missing from it) is refused
  d.apply([{ kind: 'put', space: SPACE_META, key: 'clock', value: { node1: 1, node2: 5, node3: 1 } }]);
  assert.throws(() => CausalCore.restore(d.snapshot, { id: 'node1', nodes }), /replication log of node2 \(1\.\.1\) does not meet the stored clock \(5\)/);
});

test('log keys sort by sequence number', () => {
  assert.ok(logKey('node1', 9) < logKey('node1', 10));
  assert.ok(logKey('node1', 99999) < logKey('node1', 100000));
});

test('restore rebuilds clock, Lamport stamp, store and log from exactly what was persisted', () => {
  const d = disk();
  const c = new CausalCore({ id: 'node2', nodes });
  c.receive('node1', write('node1', { node1: 1 }, 'x', 'a', 1));
  c.submit({ kind: 'put', reqId: 1, key: 'y', value: 'b' });
  c.receive('node3', write('node3', { node3: 1 }, 'y', 'c', 7)); // concurrent with node2's y
  c.receive('node3', write('node3', { node1: 5, node3: 2 }, 'z', 'never')); // buffered: not persisted
  d.apply(c.ready().persist);
  const r = CausalCore.restore(d.snapshot, { id: 'node2', nodes });
  assert.deepEqual(r.clock, c.clock);
  assert.equal(r.lamport, 7);
  assert.deepEqual(r.entries(), c.entries());
  assert.deepEqual(r.logRanges(), { node1: [1, 1], node2: [1, 1], node3: [1, 1] });
  assert.equal(r.status().buffered, 0); // buffered writes are re-fetched by anti-entropy
  assert.equal(c.status().buffered, 1);
  // a restored node keeps writing with the next sequence number
  r.submit({ kind: 'put', reqId: 2, key: 'x', value: 'd' });
  const reply = r.ready().replies[0];
  assert.ok(reply?.ok && reply.kind === 'put');
  assert.equal(reply.clock.node2, 2);
});

test('get of a conflicted key: deterministic winner (higher Lamport, then higher node id), siblings listed', () => {
  // SPEC §2 siblings: one deterministic winner and a conflict flag
  const c = new CausalCore({ id: 'node1', nodes });
  c.receive('node2', write('node2', { node2: 1 }, 'k', 'from2', 3));
  c.receive('node3', write('node3', { node3: 1 }, 'k', 'from3', 3));
  c.submit({ kind: 'get', reqId: 1, key: 'k' });
  const r = c.ready().replies[0];
  assert.ok(r?.ok && r.kind === 'get');
  assert.equal(r.value, 'from3'); // equal stamps: higher node id wins
  assert.equal(r.conflict, true);
  assert.deepEqual(r.siblings?.map((s) => s.value), ['from3', 'from2']);
  // a local write has seen both siblings: it dominates them
  c.submit({ kind: 'put', reqId: 2, key: 'k', value: 'mine' });
  c.submit({ kind: 'get', reqId: 3, key: 'k' });
  const after = c.ready().replies[1];
  assert.ok(after?.ok && after.kind === 'get');
  assert.equal(after.conflict, false);
  assert.equal(after.siblings, undefined);
  assert.equal(after.value, 'mine');
});

test('list: prefix, sorted, limit, tombstones excluded', () => {
  const c = new CausalCore({ id: 'node1', nodes });
  for (const k of ['b/2', 'a/1', 'b/1', 'b/3']) c.submit({ kind: 'put', reqId: 1, key: k, value: 1 });
  c.submit({ kind: 'delete', reqId: 2, key: 'b/2' });
  c.submit({ kind: 'list', reqId: 3, prefix: 'b/', limit: 0 });
  c.submit({ kind: 'list', reqId: 4, prefix: '', limit: 2 });
  const lists = c.ready().replies.filter((r) => r.ok && r.kind === 'list');
  assert.deepEqual(lists.map((r) => (r.ok && r.kind === 'list' ? r.keys : [])), [['b/1', 'b/3'], ['a/1', 'b/1']]);
  assert.equal(c.status().keys, 3);
});

test('status: clock, buffered, per-peer acknowledged clock and lag, log length', () => {
  const c = new CausalCore({ id: 'node1', nodes, options: { ackEveryTicks: 1 } });
  c.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  c.submit({ kind: 'put', reqId: 2, key: 'y', value: 2 });
  c.receive('node2', { type: 'ack', clock: { node1: 2 } });
  c.receive('node3', { type: 'ack', clock: { node1: 1 } });
  const s = c.status();
  assert.equal(s.logLength, 1); // node1#1 acknowledged by every peer: compacted
  assert.equal(s.peers.node2?.lag, 0);
  assert.equal(s.peers.node3?.lag, 1);
  assert.deepEqual(s.peers.node3?.acked, { node1: 1 });
  const r = c.ready();
  assert.ok(r.persist.some((op) => op.kind === 'del' && op.space === SPACE_LOG && op.key === logKey('node1', 1)));
  assert.ok(r.events.some((e) => e.type === 'compact' && e.removed === 1));
});

test('a sync request is answered with what the requester lacks, third-party writes included, in causal order', () => {
  // SPEC §2 anti-entropy: writes a third node originated are forwarded, in causal order
  const c = new CausalCore({ id: 'node2', nodes });
  c.receive('node1', write('node1', { node1: 1 }, 'a', 1, 1));
  c.submit({ kind: 'put', reqId: 1, key: 'b', value: 2 });
  c.receive('node1', write('node1', { node1: 2, node2: 1 }, 'c', 3, 3));
  c.ready();
  c.receive('node3', { type: 'sync', clock: {} });
  const out = c.ready().messages;
  assert.equal(out.length, 1);
  const m = out[0]?.msg;
  assert.ok(m?.type === 'writes' && m.reason === 'sync');
  assert.deepEqual(m.writes.map((w) => `${w.origin}#${w.clock[w.origin]}`), ['node1#1', 'node2#1', 'node1#2']);
});

test('options are validated and node ids checked', () => {
  const bad = (f: () => unknown): void => assert.throws(f, (e: unknown) => isCausewayError(e) && e.code === 'bad-request');
  bad(() => new CausalCore({ id: 'nodeX', nodes }));
  bad(() => new CausalCore({ id: 'node1', nodes: ['node1', 'node1'] }));
  bad(() => new CausalCore({ id: 'node1', nodes, options: { bufferLimit: 0 } }));
  bad(() => new CausalCore({ id: 'node1', nodes, options: { ackEveryTicks: -1 } }));
  bad(() => new CausalCore({ id: 'node1', nodes, options: { bufferBytesLimit: 0 } }));
  bad(() => new CausalCore({ id: 'node1', nodes, options: { bufferBytesLimit: Number.NaN } }));
  bad(() => new CausalCore({ id: 'node1', nodes, options: { writeBytes: 5 as never } }));
});

test('too many operations waiting for their context: overloaded', () => {
  const c = new CausalCore({ id: 'node1', nodes, options: { maxWaitingOps: 1 } });
  c.submit({ kind: 'get', reqId: 1, key: 'x', ctx: { node2: 1 } });
  c.submit({ kind: 'get', reqId: 2, key: 'x', ctx: { node2: 1 } });
  assert.deepEqual(c.ready().replies.map((r) => (r.ok ? 'ok' : r.reason)), ['overloaded']);
  c.receive('node2', write('node2', { node2: 1 }, 'x', 9));
  const served = c.ready().replies[0];
  assert.ok(served?.ok && served.kind === 'get' && served.value === 9);
});

// A context names entries the node must have applied first. A name the node has no entry for, even
// one every object answers ("constructor", "toString"), is an entry at 0: the operation waits.
test('a context naming "constructor" or "toString" waits like any unknown node', () => {
  const c = new CausalCore({ id: 'node1', nodes });
  c.submit({ kind: 'get', reqId: 1, key: 'x', ctx: { constructor: 5 } });
  c.submit({ kind: 'get', reqId: 2, key: 'x', ctx: { toString: 1 } });
  c.submit({ kind: 'get', reqId: 3, key: 'x', ctx: { node1: 0 } });
  assert.deepEqual(c.ready().replies.map((r) => r.reqId), [3], 'only the context already covered is served');
});

// Sender-side repair: a write lost in transit with nothing depending on it is noticed by its
// sender (the peer's acknowledged clock stays behind for repairAfterTicks) and sent again.
test('a lost write with no dependants is re-sent once the peer stays behind', () => {
  const a = new CausalCore({ id: 'a', nodes: ['a', 'b'], options: { repairAfterTicks: 5, ackEveryTicks: 2 } });
  const b = new CausalCore({ id: 'b', nodes: ['a', 'b'], options: { repairAfterTicks: 5, ackEveryTicks: 2 } });
  a.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  const lost = a.ready().messages;
  assert.equal(lost.length, 1); // the write to b: dropped on the floor
  const resent: CausalMsg[] = [];
  for (let i = 0; i < 10; i++) {
    a.tick();
    b.tick();
    for (const m of b.ready().messages) a.receive('b', m.msg);
    for (const m of a.ready().messages) resent.push(m.msg);
  }
  const writes = resent.filter((m) => m.type === 'writes' || m.type === 'write');
  assert.ok(writes.length >= 1, 'the write was sent again');
  for (const m of writes) b.receive('a', m);
  b.ready();
  assert.deepEqual(b.clock, { a: 1, b: 0 });
  // Once b acknowledges, a stops re-sending.
  for (let i = 0; i < 3; i++) {
    b.tick();
    for (const m of b.ready().messages) a.receive('b', m.msg);
  }
  a.ready();
  let again = 0;
  for (let i = 0; i < 20; i++) {
    a.tick();
    again += sentTo(a, 'writes').length;
  }
  assert.equal(again, 0);
});

// A link coming back up is anti-entropy's moment (SPEC §2): the peer's sync request is answered with
// all it lacks. The repair of a stalled peer must not send the same writes again on the next tick
// because the peer's acknowledgements stalled while the link was down.
test('a peer back on a link gets what it lacks once, from its sync request, not again from repair', () => {
  const options = { repairAfterTicks: 5, ackEveryTicks: 2, resyncAfterTicks: 0 };
  const a = new CausalCore({ id: 'a', nodes: ['a', 'b'], options });
  const b = new CausalCore({ id: 'b', nodes: ['a', 'b'], options });
  a.linkChanged('b', false);
  b.linkChanged('a', false);
  a.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  a.submit({ kind: 'put', reqId: 2, key: 'y', value: 2 });
  assert.equal(a.ready().messages.length, 0, 'nothing sent on a down link');
  for (let i = 0; i < 20; i++) a.tick(); // far past repairAfterTicks
  a.ready();
  a.linkChanged('b', true);
  b.linkChanged('a', true);
  const shipped: number[] = [];
  const countWrites = (ms: readonly { msg: CausalMsg }[]): void => {
    for (const m of ms) if (m.msg.type === 'writes') shipped.push(m.msg.writes.length);
  };
  for (const m of b.ready().messages) a.receive('b', m.msg); // b's link-up sync request
  countWrites(a.ready().messages);
  assert.deepEqual(shipped, [2], 'the sync reply carries both writes');
  for (let i = 0; i < 4; i++) {
    a.tick(); // within repairAfterTicks of the link coming up, while the reply is in flight
    countWrites(a.ready().messages);
  }
  assert.deepEqual(shipped, [2], 'no repair of the writes the sync reply carries');
});

// Links that come up together are synced one peer at a time (pullTimeoutTicks): the next peer is
// asked when the answer is complete (done), after the timeout, or when the pulled peer's link
// goes down; a done from a peer not being pulled moves nothing.
test('link-up pulls go one peer at a time: on done, on timeout, on the link going down', () => {
  const ns = ['a', 'b', 'c', 'd'];
  const a = new CausalCore({ id: 'a', nodes: ns, options: { pullTimeoutTicks: 3, ackEveryTicks: 0, repairAfterTicks: 0, resyncAfterTicks: 0 } });
  for (const p of ['b', 'c', 'd']) a.linkChanged(p, false);
  a.ready();
  for (const p of ['b', 'c', 'd']) a.linkChanged(p, true);
  assert.deepEqual(sentTo(a, 'sync'), ['b'], 'only the first peer is asked');
  a.receive('c', { type: 'writes', writes: [], reason: 'sync', done: true });
  assert.deepEqual(sentTo(a, 'sync'), [], "a done from a peer not being pulled moves nothing");
  const bw: CausalWrite = { origin: 'b', clock: { b: 1 }, lamport: 1, key: 'x', value: 1, deleted: false };
  a.receive('b', { type: 'writes', writes: [bw], reason: 'sync', done: true });
  const next = a.ready().messages.filter((m) => m.msg.type === 'sync');
  assert.deepEqual(next.map((m) => m.to), ['c'], "b's answer is complete: c is asked");
  assert.deepEqual(next[0]?.msg.type === 'sync' && next[0].msg.clock, { a: 0, b: 1, c: 0, d: 0 }, 'with the clock b brought');
  for (let i = 0; i < 2; i++) a.tick();
  assert.deepEqual(sentTo(a, 'sync'), [], 'c has the timeout to answer');
  a.tick();
  assert.deepEqual(sentTo(a, 'sync'), ['d'], 'no answer from c in 3 ticks: d is asked');
  a.linkChanged('c', true); // c's link flaps while d is pulled: c waits its turn again
  for (let i = 0; i < 2; i++) a.tick();
  const dw: CausalWrite = { origin: 'd', clock: { d: 1 }, lamport: 1, key: 'y', value: 1, deleted: false };
  a.receive('d', { type: 'writes', writes: [dw], reason: 'sync' }); // a batch, not the last
  for (let i = 0; i < 2; i++) a.tick();
  assert.deepEqual(sentTo(a, 'sync'), [], "a batch of d's answer restarts its time: c still waits");
  a.linkChanged('d', false);
  assert.deepEqual(sentTo(a, 'sync'), ['c'], "d's link went down: the next peer is asked");
  a.receive('c', { type: 'writes', writes: [], reason: 'sync', done: true });
  assert.deepEqual(sentTo(a, 'sync'), [], 'nobody left to ask');
});

// Repair is for a write lost in transit: a peer that lags and whose acknowledgements have not
// moved for repairAfterTicks. A write made after a quiet spell leaves the peer lagging for the
// first time since: it gets repairAfterTicks to acknowledge it. Counting from its last
// acknowledgement sent every write after a quiet spell twice (message, then repair a tick later).
test('a write after a quiet spell is not repaired before the peer had repairAfterTicks to acknowledge it', () => {
  const options = { repairAfterTicks: 5, ackEveryTicks: 2, resyncAfterTicks: 0 };
  const a = new CausalCore({ id: 'a', nodes: ['a', 'b'], options });
  const b = new CausalCore({ id: 'b', nodes: ['a', 'b'], options });
  for (let i = 0; i < 50; i++) a.tick(); // quiet: b lags by nothing
  a.ready();
  a.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  const sent = a.ready().messages.map((m) => m.msg);
  assert.deepEqual(sent.map((m) => m.type), ['write']);
  for (const m of sent) b.receive('a', m);
  b.ready();
  let repairs = 0;
  for (let i = 0; i < 4; i++) {
    a.tick();
    b.tick();
    repairs += sentTo(a, 'writes').length;
    for (const m of b.ready().messages) a.receive('b', m.msg); // b's acknowledgement, within 2 ticks
  }
  assert.equal(repairs, 0, 'the write was delivered and acknowledged: nothing to repair');
  // the same write lost: repaired once repairAfterTicks have passed since b was last up to date
  a.submit({ kind: 'put', reqId: 2, key: 'y', value: 2 });
  a.ready();
  const at: number[] = [];
  for (let i = 1; i <= 12; i++) {
    a.tick();
    if (sentTo(a, 'writes').length > 0) at.push(i);
  }
  assert.deepEqual(at, [5, 10], 'repaired 5 ticks after the write, then every 5 while b stays behind');
});

// Repair sends a stalled peer what it lacks again. A peer just sent a large answer needs time to
// apply it before its acknowledgements show it: repairAfterTicks per batch of syncBatchSize.
test('a peer sent a large anti-entropy answer is not repaired before it had the time to apply it', () => {
  const a = new CausalCore({ id: 'a', nodes: ['a', 'b'], options: { repairAfterTicks: 4, syncBatchSize: 2, ackEveryTicks: 0, resyncAfterTicks: 0 } });
  for (let i = 1; i <= 5; i++) a.submit({ kind: 'put', reqId: i, key: 'x', value: i });
  a.ready(); // the five writes to b: lost
  a.receive('b', { type: 'sync', clock: {} });
  const batches = (): number => sentTo(a, 'writes').length;
  assert.equal(batches(), 3, 'five writes in batches of two');
  let ticks = 0;
  while (ticks < 100) {
    a.tick();
    ticks++;
    if (batches() > 0) break;
  }
  assert.equal(ticks, 12, 'repaired after 3 batches x 4 ticks, not after 4');
});

// A buffer that makes no progress for resyncAfterTicks re-syncs from every peer (liveness), one at
// a time as link-up pulls do: the first that has the missing write usually brings all of it.
test('a stale buffer re-syncs from one peer at a time', () => {
  const ns = ['a', 'b', 'c', 'd'];
  const a = new CausalCore({ id: 'a', nodes: ns, options: { resyncAfterTicks: 2, pullTimeoutTicks: 5, ackEveryTicks: 0, repairAfterTicks: 0 } });
  // b#2 arrives without b#1 (lost in transit): buffered
  a.receive('b', { type: 'write', write: { origin: 'b', clock: { b: 2 }, lamport: 2, key: 'x', value: 2, deleted: false } });
  a.ready();
  a.tick();
  assert.deepEqual(sentTo(a, 'sync'), []);
  a.tick();
  assert.deepEqual(sentTo(a, 'sync'), ['b'], 'no progress for 2 ticks: the first peer is asked');
  a.receive('b', { type: 'writes', writes: [], reason: 'sync', done: true });
  assert.deepEqual(sentTo(a, 'sync'), ['c'], 'b had nothing: the next peer is asked in turn');
  a.receive('c', { type: 'writes', writes: [{ origin: 'b', clock: { b: 1 }, lamport: 1, key: 'x', value: 1, deleted: false }], reason: 'sync', done: true });
  assert.deepEqual(sentTo(a, 'sync'), [], 'c brought b#1 and the buffer is empty: d is not asked');
  assert.deepEqual(a.clock, { a: 0, b: 2, c: 0, d: 0 }, 'b#1 came, b#2 left the buffer');
});

// A sync request names what the requester's buffer already holds beyond its clock (have): the
// answer leaves those writes out, so a re-sync after a lost write brings the gap, not again
// everything buffered behind it.
test("a sync request names the buffer's writes, and the answer leaves them out", () => {
  const b = new CausalCore({ id: 'b', nodes: ['a', 'b'], options: { resyncAfterTicks: 2, ackEveryTicks: 0, repairAfterTicks: 0 } });
  const aw = (seq: number): CausalWrite => ({ origin: 'a', clock: { a: seq }, lamport: seq, key: `k${seq}`, value: seq, deleted: false });
  for (const seq of [3, 4, 6]) b.receive('a', { type: 'write', write: aw(seq) }); // a#1, a#2, a#5 lost
  b.ready();
  b.tick();
  b.tick();
  const req = b.ready().messages.find((m) => m.msg.type === 'sync')?.msg;
  assert.deepEqual(req, { type: 'sync', clock: { a: 0, b: 0 }, have: { a: [3, 4, 6, 6] } }, 'have: a#3-4 and a#6');
  const a = new CausalCore({ id: 'a', nodes: ['a', 'b'] });
  for (let i = 1; i <= 7; i++) a.submit({ kind: 'put', reqId: i, key: `k${i}`, value: i });
  a.ready();
  a.receive('b', req as CausalMsg);
  const answer = a.ready().messages.flatMap((m) => (m.msg.type === 'writes' ? m.msg.writes.map((w) => w.clock['a']) : []));
  assert.deepEqual(answer, [1, 2, 5, 7], 'the writes b lacks and does not hold');
  a.receive('b', { type: 'sync', clock: { a: 0, b: 0 } });
  const all = a.ready().messages.flatMap((m) => (m.msg.type === 'writes' ? m.msg.writes.map((w) => w.clock['a']) : []));
  assert.deepEqual(all, [1, 2, 3, 4, 5, 6, 7], 'without have: everything above the clock');
});

// An ack carries the buffer's `have` as a sync request does, and is sent again when only the buffer
// changed. A third node repairing the peer then sends the lost writes, not again everything
// buffered behind them: under 10 % loss on one link of a 3-node cluster, the third node re-sent
// hundreds of buffered writes for about a hundred lost ones.
test("an ack names the buffer's writes, and a third node's repair leaves them out", () => {
  const ns = ['a', 'b', 'c'];
  const aw = (seq: number): CausalWrite => ({ origin: 'a', clock: { a: seq }, lamport: seq, key: `k${seq}`, value: seq, deleted: false });
  const b = new CausalCore({ id: 'b', nodes: ns, options: { ackEveryTicks: 1, resyncAfterTicks: 0, repairAfterTicks: 0 } });
  for (const seq of [3, 4, 6]) b.receive('a', { type: 'write', write: aw(seq) }); // a#1, a#2, a#5 lost on a -> b
  b.ready();
  b.tick();
  const acks = b.ready().messages.filter((m) => m.msg.type === 'ack');
  assert.deepEqual(
    acks.map((m) => [m.to, m.msg]),
    [
      ['a', { type: 'ack', clock: { a: 0, b: 0, c: 0 }, have: { a: [3, 4, 6, 6] } }],
      ['c', { type: 'ack', clock: { a: 0, b: 0, c: 0 }, have: { a: [3, 4, 6, 6] } }],
    ],
  );
  b.tick();
  assert.deepEqual(sentTo(b, 'ack'), [], 'nothing new: no ack');
  b.receive('a', { type: 'write', write: aw(8) });
  b.ready();
  b.tick();
  const again = b.ready().messages.find((m) => m.to === 'c')?.msg;
  assert.deepEqual(again, { type: 'ack', clock: { a: 0, b: 0, c: 0 }, have: { a: [3, 4, 6, 6, 8, 8] } }, 'the buffer grew (the clock did not): acked again');

  // c has all of a's writes; b's repair by c: the writes b lacks and does not hold
  const c = new CausalCore({ id: 'c', nodes: ns, options: { repairAfterTicks: 2, ackEveryTicks: 0, resyncAfterTicks: 0 } });
  for (let seq = 1; seq <= 8; seq++) c.receive('a', { type: 'write', write: aw(seq) });
  c.ready();
  const repair = (): (number | undefined)[] => {
    for (let i = 0; i < 2; i++) c.tick();
    return c.ready().messages.flatMap((m) => (m.to === 'b' && m.msg.type === 'writes' ? m.msg.writes.map((w) => w.clock['a']) : []));
  };
  c.receive('b', again as CausalMsg);
  assert.deepEqual(repair(), [1, 2, 5, 7], 'repair leaves out a#3, a#4, a#6, a#8');
  c.receive('b', { type: 'ack', clock: { a: 0, b: 0, c: 0 } });
  assert.deepEqual(repair(), [1, 2, 3, 4, 5, 6, 7, 8], 'an ack without have: the buffer is empty, b lacks everything');
  c.receive('b', again as CausalMsg);
  c.linkChanged('b', false);
  c.linkChanged('b', true);
  c.ready(); // the link-up's own sync request
  assert.deepEqual(repair(), [1, 2, 3, 4, 5, 6, 7, 8], 'a new connection forgets what b held: b may have restarted');
});

// pullTimeoutTicks 0: every peer whose link comes up is asked at once.
test('with pullTimeoutTicks 0, every link that comes up is synced at once', () => {
  const ns = ['a', 'b', 'c'];
  const a = new CausalCore({ id: 'a', nodes: ns, options: { pullTimeoutTicks: 0 } });
  a.linkChanged('b', true);
  a.linkChanged('c', true);
  assert.deepEqual(sentTo(a, 'sync'), ['b', 'c']);
});

// A sync request is always answered, with done on the last batch: an empty batch when nothing is
// lacking, so the requester knows its pull is complete either way.
test('a sync request is answered with done on the last batch, or an empty done batch', () => {
  const a = new CausalCore({ id: 'a', nodes: ['a', 'b'], options: { syncBatchSize: 2 } });
  a.receive('b', { type: 'sync', clock: {} });
  assert.deepEqual(a.ready().messages.map((m) => m.msg), [{ type: 'writes', writes: [], reason: 'sync', done: true }]);
  for (let i = 1; i <= 3; i++) a.submit({ kind: 'put', reqId: i, key: 'x', value: i });
  a.ready();
  a.receive('b', { type: 'sync', clock: {} });
  const answer = a.ready().messages.map((m) => (m.msg.type === 'writes' ? `${m.msg.writes.length}${m.msg.done === true ? ' done' : ''}` : m.msg.type));
  assert.deepEqual(answer, ['2', '1 done']);
});

/** Drives a core through buffering, duplicates, conflicts, anti-entropy, acks, compaction, backpressure. */
function script(c: CausalCore): ReturnType<CausalCore['ready']>[] {
  const out: ReturnType<CausalCore['ready']>[] = [];
  const step = (fn: () => void): void => {
    fn();
    out.push(c.ready());
  };
  step(() => c.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 }));
  step(() => c.receive('node3', write('node3', { node3: 2 }, 'y', 'later'))); // buffered: needs node3#1
  step(() => c.receive('node3', write('node3', { node3: 2 }, 'y', 'later'))); // duplicate of a buffered write
  step(() => c.receive('node3', write('node3', { node3: 1 }, 'x', 'concurrent', 1))); // delivers both, conflict on x
  step(() => c.receive('node3', write('node3', { node3: 1 }, 'x', 'concurrent', 1))); // duplicate of an applied write
  step(() => c.submit({ kind: 'get', reqId: 2, key: 'x', ctx: { node2: 1 } })); // waits for its context
  step(() => c.receive('node2', { type: 'sync', clock: {} })); // anti-entropy request: answered with our log
  step(() => c.receive('node2', { type: 'ack', clock: { node1: 1, node3: 2 } }));
  step(() => c.receive('node3', { type: 'ack', clock: { node1: 1, node3: 2 } })); // compaction
  step(() => c.receive('node2', write('node2', { node2: 3 }, 'z', 'far'))); // fills the buffer (limit 1): pause
  step(() => c.receive('node3', write('node3', { node2: 5, node3: 3 }, 'z', 'full'))); // overflow
  step(() => c.linkChanged('node2', false));
  step(() => c.linkChanged('node2', true));
  for (let i = 0; i < 60; i++) step(() => c.tick()); // acks, context timeout, re-sync, repair
  step(() => c.submit({ kind: 'list', reqId: 3, prefix: '', limit: 0 }));
  return out;
}

test('the events option selects which events are built; everything else the core does is unchanged', () => {
  // ARCHITECTURE §4 rule 6: events are outputs only — publishing fewer changes no persist op, message or reply
  const options = { bufferLimit: 1, contextWaitTicks: 5, ackEveryTicks: 3, resyncAfterTicks: 4, repairAfterTicks: 6 };
  const full = script(new CausalCore({ id: 'node1', nodes, options }));
  const wanted = ['apply', 'buffer', 'context-timeout'] as const;
  const some = script(new CausalCore({ id: 'node1', nodes, options: { ...options, events: wanted } }));
  const none = script(new CausalCore({ id: 'node1', nodes, options: { ...options, events: [] } }));
  const seen = new Set(full.flatMap((r) => r.events.map((e) => e.type)));
  for (const t of ['send', 'receive', 'buffer', 'deliver', 'apply', 'duplicate', 'conflict', 'sync', 'compact', 'backpressure', 'context-wait', 'context-timeout']) {
    assert.ok(seen.has(t as never), `the script exercises ${t} events`);
  }
  assert.equal(some.length, full.length);
  for (let i = 0; i < full.length; i++) {
    const f = full[i] as (typeof full)[number];
    for (const r of [some[i], none[i]]) {
      assert.ok(r);
      assert.deepEqual(r.persist, f.persist, `persist ops of step ${i}`);
      assert.deepEqual(r.messages, f.messages, `messages of step ${i}`);
      assert.deepEqual(r.replies, f.replies, `replies of step ${i}`);
    }
    assert.deepEqual(some[i]?.events, f.events.filter((e) => (wanted as readonly string[]).includes(e.type)), `events of step ${i}`);
    assert.deepEqual(none[i]?.events, []);
  }
});

test('the events option rejects an unknown event type', () => {
  assert.throws(
    () => new CausalCore({ id: 'node1', nodes, options: { events: ['apply', 'nope' as never] } }),
    (e: unknown) => isCausewayError(e) && e.code === 'bad-request',
  );
});

test('a clock handed out keeps its value when the node clock moves on (copy-on-write)', () => {
  // vector clocks are values (SPEC §2): a reply's context must not change under the client
  const c = new CausalCore({ id: 'node1', nodes });
  const before = c.clock;
  c.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  const r1 = c.ready();
  const reply = r1.replies[0];
  assert.ok(reply?.ok && reply.kind === 'put');
  const sendClock = r1.events.find((e) => e.type === 'send');
  assert.ok(sendClock?.type === 'send');
  c.receive('node2', write('node2', { node2: 1 }, 'y', 2));
  c.submit({ kind: 'put', reqId: 2, key: 'x', value: 3 });
  const r2 = c.ready();
  assert.deepEqual(before, { node1: 0, node2: 0, node3: 0 });
  assert.deepEqual(reply.context, { node1: 1, node2: 0, node3: 0 });
  assert.deepEqual(sendClock.nodeClock, { node1: 1, node2: 0, node3: 0 });
  assert.deepEqual(c.clock, { node1: 2, node2: 1, node3: 0 });
  const applies = r2.events.filter((e) => e.type === 'apply').map((e) => (e.type === 'apply' ? e.nodeClock : null));
  assert.deepEqual(applies, [{ node1: 1, node2: 1, node3: 0 }, { node1: 2, node2: 1, node3: 0 }]);
});

test('a sync reply lists what the requester lacks by clock total, then origin, then sequence number', () => {
  // SPEC §2 anti-entropy: the reply comes in causal order (a write's causal past has smaller clock sums)
  const byTotal = (ws: readonly CausalWrite[]): CausalWrite[] => {
    const total = (w: CausalWrite): number => Object.values(w.clock).reduce((a, b) => a + b, 0);
    const seq = (w: CausalWrite): number => w.clock[w.origin] ?? 0;
    return [...ws].sort((a, b) => total(a) - total(b) || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0) || seq(a) - seq(b));
  };
  const syncReply = (c: CausalCore, clock: Record<string, number>): CausalWrite[] => {
    c.ready();
    c.receive('node3', { type: 'sync', clock });
    return c.ready().messages.flatMap((m) => (m.msg.type === 'writes' ? [...m.msg.writes] : []));
  };
  // logs as this protocol makes them: interleaved local and remote writes
  const a = new CausalCore({ id: 'node1', nodes, options: { syncBatchSize: 3 } });
  a.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  a.receive('node2', write('node2', { node2: 1 }, 'y', 1));
  a.receive('node2', write('node2', { node1: 1, node2: 2 }, 'y', 2));
  a.submit({ kind: 'put', reqId: 2, key: 'x', value: 2 });
  a.receive('node3', write('node3', { node3: 1 }, 'z', 1));
  a.submit({ kind: 'put', reqId: 3, key: 'z', value: 2 });
  const all = syncReply(a, {});
  assert.equal(all.length, 6);
  assert.deepEqual(all, byTotal(all));
  assert.deepEqual(all.map((w) => `${w.origin}#${w.clock[w.origin]}`), ['node1#1', 'node2#1', 'node3#1', 'node2#2', 'node1#2', 'node1#3']);
  assert.deepEqual(syncReply(a, { node1: 2, node2: 1 }).map((w) => `${w.origin}#${w.clock[w.origin]}`), ['node3#1', 'node2#2', 'node1#3']);
  // a log whose clock totals go down along it (a peer that forgot part of its clock): still sorted
  const b = new CausalCore({ id: 'node1', nodes });
  for (let i = 1; i <= 3; i++) b.receive('node3', write('node3', { node3: i }, 'k', i));
  b.receive('node2', write('node2', { node2: 1, node3: 3 }, 'k', 'big'));
  b.receive('node2', write('node2', { node2: 2 }, 'k', 'small'));
  const odd = syncReply(b, {});
  assert.equal(odd.length, 5);
  assert.deepEqual(odd, byTotal(odd));
  assert.deepEqual(odd.map((w) => `${w.origin}#${w.clock[w.origin]}`), ['node3#1', 'node2#2', 'node3#2', 'node3#3', 'node2#1']);
});

test('a batch persists each changed key once, in the order the keys first changed, however many change', () => {
  // SPEC §2 durability: every applied write's key state is in the batch that acknowledges it —
  // exactly once per key, for a handful of keys (scanned) and for many (a set past DIRTY_SCAN)
  const c = new CausalCore({ id: 'node2', nodes });
  const order = ['a', 'b', 'a', 'c', 'd', 'e', 'f', 'g', 'h', 'b', 'i', 'j', 'a', 'k'];
  const writes: CausalWrite[] = order.map((key, i) => ({ origin: 'node1', clock: { node1: i + 1 }, lamport: i + 1, key, value: i, deleted: false }));
  c.receive('node1', { type: 'writes', writes, reason: 'batch' });
  const kvKeys = (ops: readonly StorageOp[]): string[] => ops.filter((op) => op.space === SPACE_KV).map((op) => op.key);
  assert.deepEqual(kvKeys(c.ready().persist), [...new Set(order)]);
  // the next batches start afresh: a key changed again is persisted again, a key not changed is not
  // eight keys then a repeat (the set is built at the ninth change), then eight others and an
  // earlier batch's key: it must not be taken for one already in this batch
  const eight = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'a'];
  const others = ['p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'a'];
  for (const few of [['c'], ['a', 'z', 'a'], order, eight, others, eight]) {
    const base = c.clock['node1'] ?? 0;
    const more: CausalWrite[] = few.map((key, i) => ({ origin: 'node1', clock: { node1: base + i + 1 }, lamport: 100 + base + i, key, value: i, deleted: false }));
    c.receive('node1', { type: 'writes', writes: more, reason: 'batch' });
    assert.deepEqual(kvKeys(c.ready().persist), [...new Set(few)]);
  }
});

// Node ids are opaque text (SPEC §2): the core's canonical copy of an id is the same text, for
// any id, numeric-looking and empty ones included, and a core reports the ids it was given.
test('canonicalId keeps the text of any id; a core built from run-time ids reports them unchanged', () => {
  for (const id of ['node1', `node${String(2)}`, '7', '', 'n/ä', '__proto__']) assert.equal(canonicalId(id), id);
  const ids = [1, 2, 3].map((i) => `node${String(i)}`);
  const core = new CausalCore({ id: ids[1] as string, nodes: ids });
  assert.equal(core.id, 'node2');
  assert.deepEqual(core.nodes, ['node1', 'node2', 'node3']);
});

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

// ARCHITECTURE.md §1 (etcd's HasReady): hasReady() is true exactly when ready() would hand out a
// non-empty batch, whatever the inputs were: a driver that skips a batch it says is empty loses nothing.
test('hasReady() says whether the next Ready batch has anything in it', () => {
  const step = fc.oneof(
    fc.record({ t: fc.constant('put' as const), node: fc.nat(2), key: fc.nat(2) }),
    fc.record({ t: fc.constant('get' as const), node: fc.nat(2), key: fc.nat(2) }),
    fc.record({ t: fc.constant('deliver' as const), to: fc.nat(2), pick: fc.nat() }),
    fc.record({ t: fc.constant('tick' as const), node: fc.nat(2), n: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ t: fc.constant('link' as const), node: fc.nat(2), peer: fc.nat(2), up: fc.boolean() }),
    fc.record({ t: fc.constant('ready' as const), node: fc.nat(2) }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const cores = nodes.map((id) => new CausalCore({ id, nodes, options: { ackEveryTicks: 3, resyncAfterTicks: 4, repairAfterTicks: 5 } }));
      const wire: { to: number; from: string; msg: CausalMsg }[] = [];
      let reqId = 0;
      const drain = (i: number): void => {
        const core = cores[i] as CausalCore;
        const want = core.hasReady();
        const r = core.ready();
        assert.equal(want, r.persist.length + r.messages.length + r.replies.length + r.events.length > 0);
        assert.equal(core.hasReady(), false);
        for (const m of r.messages) wire.push({ to: nodes.indexOf(m.to), from: core.id, msg: m.msg });
      };
      for (const s of steps) {
        if (s.t === 'put') (cores[s.node] as CausalCore).submit({ kind: 'put', reqId: ++reqId, key: `k${s.key}`, value: reqId });
        else if (s.t === 'get') (cores[s.node] as CausalCore).submit({ kind: 'get', reqId: ++reqId, key: `k${s.key}` });
        else if (s.t === 'tick') for (let k = 0; k < s.n; k++) (cores[s.node] as CausalCore).tick();
        else if (s.t === 'link') (cores[s.node] as CausalCore).linkChanged(nodes[s.peer] as string, s.up);
        else if (s.t === 'deliver') {
          const i = wire.findIndex((m, j) => m.to === s.to && j >= s.pick % Math.max(1, wire.length));
          if (i >= 0) {
            const [m] = wire.splice(i, 1);
            if (m !== undefined) (cores[m.to] as CausalCore).receive(m.from, m.msg);
          }
        }
        // inputs pile up between batches too: only some steps are followed by one
        if (s.t === 'ready' || s.t === 'deliver') drain(s.t === 'ready' ? s.node : s.to);
      }
      for (let i = 0; i < cores.length; i++) drain(i);
    }),
    { seed: SEED, numRuns: 200 },
  );
});

// Restore (ARCHITECTURE.md §1: a core is rebuilt from exactly what it persisted) does not depend on
// the order a store hands the log back in: from a key-ordered and a shuffled log, the restored
// cores are the same and react to the same inputs with the same batches (compaction's deletes in
// the same order, anti-entropy replies in the same order).
test('restore takes the replication log in any order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ node: fc.nat(2), key: fc.nat(3) }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.double({ noNaN: true }), { minLength: 90, maxLength: 90 }),
      fc.nat(6),
      (puts, shuffle, ackAt) => {
        const cores = nodes.map((id) => new CausalCore({ id, nodes }));
        const d = disk();
        const run = (i: number, input: (c: CausalCore) => void): void => {
          const c = cores[i] as CausalCore;
          input(c);
          const r = c.ready();
          if (i === 0) d.apply(r.persist);
          for (const m of r.messages) run(nodes.indexOf(m.to), (t) => t.receive(c.id, m.msg));
        };
        puts.forEach((p, n) => run(p.node, (c) => c.submit({ kind: 'put', reqId: n + 1, key: `k${p.key}`, value: n })));
        const inKeyOrder = (space: string): [string, unknown][] => [...(d.spaces.get(space) ?? new Map<string, unknown>())].sort((a, b) => (a[0] < b[0] ? -1 : 1));
        const log = inKeyOrder(SPACE_LOG);
        const shuffled = log.map((e, i) => ({ e, r: shuffle[i] ?? 0 })).sort((a, b) => a.r - b.r).map((x) => x.e);
        const restored = [log, shuffled].map((entries) =>
          CausalCore.restore({ entries: (space) => (space === SPACE_LOG ? entries : inKeyOrder(space)) }, { id: 'node1', nodes }),
        );
        const [a, b] = restored as [CausalCore, CausalCore];
        assert.deepEqual(b.status(), a.status());
        assert.deepEqual(b.logRanges(), a.logRanges());
        assert.deepEqual(b.entries(), a.entries());
        const ack: CausalMsg = { type: 'ack', clock: { node1: ackAt, node2: ackAt, node3: ackAt } };
        for (const input of [(c: CausalCore) => c.receive('node2', ack), (c: CausalCore) => c.receive('node3', ack), (c: CausalCore) => c.receive('node2', { type: 'sync', clock: {} })]) {
          input(a);
          input(b);
          assert.deepEqual(b.ready(), a.ready());
        }
      },
    ),
    { seed: SEED, numRuns: 100 },
  );
});

// CausalInit.logKeys: a core given a key source persists its log under the keys it returns, and
// compaction deletes by those same keys (what a shared source hands out is what the store holds).
test('a core persists and compacts its log under the keys its logKeys source returns', () => {
  const calls: string[] = [];
  const logKeys = (origin: string, seq: number): string => {
    calls.push(`${origin}#${seq}`);
    return logKey(origin, seq);
  };
  const c = new CausalCore({ id: 'node1', nodes, logKeys });
  c.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  c.receive('node2', write('node2', { node1: 0, node2: 1, node3: 0 }, 'y', 2));
  const put = c.ready().persist.filter((op) => op.space === SPACE_LOG).map((op) => op.key);
  assert.deepEqual(put, [logKey('node1', 1), logKey('node2', 1)]);
  assert.deepEqual(calls, ['node1#1', 'node2#1']);
  const ack: CausalMsg = { type: 'ack', clock: { node1: 1, node2: 1, node3: 0 } };
  c.receive('node2', ack);
  c.receive('node3', ack);
  const del = c.ready().persist.filter((op) => op.kind === 'del').map((op) => op.key);
  assert.deepEqual(del, [logKey('node1', 1), logKey('node2', 1)]);
});

test('bufferPeak: the most writes buffered at once, kept after the buffer drains; a restored core starts at 0', () => {
  const d = disk();
  const c = new CausalCore({ id: 'node2', nodes });
  assert.equal(c.bufferPeak, 0);
  c.receive('node1', write('node1', { node1: 2 }, 'x', 'b')); // needs node1#1
  c.receive('node1', write('node1', { node1: 3 }, 'x', 'c')); // needs node1#2
  assert.equal(c.status().buffered, 2);
  assert.equal(c.bufferPeak, 2);
  c.receive('node1', write('node1', { node1: 1 }, 'x', 'a')); // delivers all three
  assert.equal(c.status().buffered, 0);
  assert.equal(c.bufferPeak, 2);
  c.receive('node3', write('node3', { node3: 2 }, 'y', 'q'));
  assert.equal(c.bufferPeak, 2, 'one buffered write does not raise a peak of two');
  d.apply(c.ready().persist);
  assert.equal(CausalCore.restore(d.snapshot, { id: 'node2', nodes }).bufferPeak, 0);
});

// bufferBytesLimit counts what options.writeBytes says of each buffered write, and takes it back
// when the write leaves the buffer; an answer that is not a size counts as 0.
test('buffered bytes: counted in, counted out, and never NaN', () => {
  const sizes: Record<string, number> = { big: 700, small: 100, odd: Number.NaN, neg: -5 };
  const c = new CausalCore({ id: 'node2', nodes, options: { bufferBytesLimit: 1000, writeBytes: (w) => sizes[String(w.value)] ?? 1 } });
  c.receive('node3', write('node3', { node1: 1, node3: 1 }, 'a', 'big')); // needs node1#1
  c.receive('node3', write('node3', { node1: 1, node3: 2 }, 'b', 'odd'));
  c.receive('node3', write('node3', { node1: 1, node3: 3 }, 'c', 'neg'));
  assert.deepEqual([c.status().buffered, c.status().bufferedBytes, c.pausedPeers().size], [3, 700, 0]);
  c.receive('node3', write('node3', { node1: 1, node3: 4 }, 'd', 'small'));
  assert.deepEqual([c.status().buffered, c.status().bufferedBytes, [...c.pausedPeers()]], [4, 800, []]);
  c.receive('node3', write('node3', { node1: 1, node3: 5 }, 'e', 'big')); // 1500 bytes: pause
  assert.deepEqual([c.status().buffered, c.status().bufferedBytes, [...c.pausedPeers()]], [5, 1500, ['node3']]);
  c.receive('node1', write('node1', { node1: 1 }, 'x', 'first')); // delivers all five
  assert.deepEqual([c.status().buffered, c.status().bufferedBytes, [...c.pausedPeers()]], [0, 0, []]);
});
