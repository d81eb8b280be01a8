// Peer messages are checked before the core sees them (src/protocols/causal/check-msg.ts): every
// message a core sends passes; a malformed one is named, so the runtime can drop it and say why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { causalMsgProblem, splitCausalMsg } from './check-msg.js';
import { CausalCore } from './core.js';

test('every message the cores send passes: writes, batches, sync requests and replies, acks', () => {
  const nodes = ['node1', 'node2'];
  const a = new CausalCore({ id: 'node1', nodes, options: { ackEveryTicks: 1 } });
  const b = new CausalCore({ id: 'node2', nodes, options: { ackEveryTicks: 1 } });
  a.submit({ kind: 'put', reqId: 1, key: 'w', value: 1 }); // replicated as a single write
  for (const m of a.ready().messages) {
    assert.equal(m.msg.type, 'write');
    assert.equal(causalMsgProblem(m.msg), null, JSON.stringify(m.msg));
    b.receive('node1', m.msg);
  }
  a.linkChanged('node2', false);
  b.linkChanged('node1', false);
  a.submit({ kind: 'put', reqId: 2, key: 'x', value: { deep: [1, 'two'] } });
  a.submit({ kind: 'delete', reqId: 3, key: 'y' });
  a.ready(); // nothing goes to a peer that is down
  a.linkChanged('node2', true); // each side sends a sync request; node1 answers with the writes node2 lacks
  b.linkChanged('node1', true);
  const types = new Set<string>();
  for (let round = 0; round < 6; round++) {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      from.tick();
      for (const m of from.ready().messages) {
        types.add(m.msg.type);
        assert.equal(causalMsgProblem(m.msg), null, JSON.stringify(m.msg));
        to.receive(from.id, m.msg);
      }
    }
  }
  assert.deepEqual([...types].sort(), ['ack', 'sync', 'writes']);
});

test('malformed messages are named', () => {
  const w = { origin: 'node1', clock: { node1: 1, node2: 0 }, lamport: 1, key: 'x', value: 5, deleted: false };
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    [[1], /not an object/],
    [{ type: 'gossip' }, /unknown message type "gossip"/],
    [{}, /unknown message type undefined/],
    [{ type: 'sync', clock: { node1: -1 } }, /clock\.node1: not a non-negative integer/],
    [{ type: 'ack', clock: 'node1=3' }, /clock: not an object/],
    [{ type: 'write', write: { ...w, origin: 7 } }, /write\.origin: not a node id/],
    [{ type: 'write', write: { ...w, clock: { node1: 0 } } }, /no entry of at least 1 for its origin/],
    [{ type: 'write', write: { ...w, clock: { node1: 1.5 } } }, /write\.clock\.node1: not a non-negative integer/],
    [{ type: 'write', write: { ...w, lamport: '1' } }, /write\.lamport/],
    [{ type: 'write', write: { ...w, key: null } }, /write\.key: not a string/],
    [{ type: 'write', write: { ...w, deleted: 0 } }, /write\.deleted: not a boolean/],
    [{ type: 'write', write: { origin: 'node1', clock: { node1: 1 }, lamport: 1, key: 'x', deleted: false } }, /write\.value: missing/],
    [{ type: 'writes', writes: {}, reason: 'sync' }, /writes: not an array/],
    [{ type: 'writes', writes: [w], reason: 'gossip' }, /reason/],
    [{ type: 'writes', writes: [w, { ...w, key: 3 }], reason: 'batch' }, /writes\[1\]\.key: not a string/],
    [{ type: 'writes', writes: [], reason: 'sync', done: 'yes' }, /done: not a boolean/],
    [{ type: 'sync', clock: {}, have: [1, 2] }, /have: not an object/],
    [{ type: 'sync', clock: {}, have: { node1: [3] } }, /have\.node1: not a list of ranges/],
    [{ type: 'sync', clock: {}, have: { node1: [5, 3] } }, /have\.node1: ranges must be ascending/],
    [{ type: 'sync', clock: {}, have: { node1: [3, 5, 5, 6] } }, /have\.node1: ranges must be ascending, non-overlapping/],
    [{ type: 'sync', clock: {}, have: { node1: [0, 2] } }, /positive integers/],
    [{ type: 'sync', clock: {}, have: { node1: [1.5, 2] } }, /positive integers/],
    [{ type: 'sync', clock: {}, have: { node1: Array.from({ length: 2002 }, (_, i) => 2 * i + 1) } }, /have: more than 1000 ranges/],
    [{ type: 'ack', clock: {}, have: { node1: [5, 3] } }, /have\.node1: ranges must be ascending/],
    [{ type: 'ack', clock: {}, have: 'node1:3' }, /have: not an object/],
  ];
  for (const [msg, want] of cases) assert.match(causalMsgProblem(msg) ?? 'passed', want, JSON.stringify(msg));
  assert.equal(causalMsgProblem({ type: 'write', write: w }), null);
  assert.equal(causalMsgProblem({ type: 'writes', writes: [], reason: 'sync', done: true }), null);
  assert.equal(causalMsgProblem({ type: 'sync', clock: { node1: 2 }, have: { node1: [4, 4, 6, 9], node2: [1, 1] } }), null);
  assert.equal(causalMsgProblem({ type: 'ack', clock: { node1: 2 }, have: { node1: [4, 4] } }), null);
});

test('a batch too large for a frame splits into halves, in order; other messages do not split', () => {
  const w = (i: number): Record<string, unknown> => ({ origin: 'node1', clock: { node1: i }, lamport: i, key: `k${i}`, value: i, deleted: false });
  const batch = { type: 'writes', writes: [1, 2, 3, 4, 5].map(w), reason: 'sync' };
  const parts = splitCausalMsg(batch);
  assert.deepEqual(parts, [
    { type: 'writes', writes: [1, 2, 3].map(w), reason: 'sync' },
    { type: 'writes', writes: [4, 5].map(w), reason: 'sync' },
  ]);
  for (const p of parts ?? []) assert.equal(causalMsgProblem(p), null);
  // the last batch of a sync answer: the `done` mark goes on the second half only
  assert.deepEqual(splitCausalMsg({ ...batch, done: true }), [
    { type: 'writes', writes: [1, 2, 3].map(w), reason: 'sync' },
    { type: 'writes', writes: [4, 5].map(w), reason: 'sync', done: true },
  ]);
  assert.equal(splitCausalMsg({ type: 'writes', writes: [w(1)], reason: 'batch' }), null);
  assert.equal(splitCausalMsg({ type: 'write', write: w(1) }), null);
  assert.equal(splitCausalMsg({ type: 'ack', clock: { node1: 1 } }), null);
});
