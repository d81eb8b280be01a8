import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StorageOp } from '../core/protocol.js';
import type { VectorClock } from '../clocks/vector.js';
import { CausalCore, SPACE_KV, SPACE_LOG } from '../protocols/causal/core.js';
import type { CausalMsg } from '../protocols/causal/types.js';
import { DeliveryOracle } from './delivery-oracle.js';

const IDS = ['n1', 'n2', 'n3'];

function logPut(origin: string, clock: VectorClock, key = 'k'): StorageOp {
  const seq = clock[origin] ?? 0;
  return { kind: 'put', space: SPACE_LOG, key: `${origin}/${seq}`, value: { origin, clock, lamport: seq, key, value: 'v', deleted: false } };
}

// SPEC §2 delivery rule, as the oracle checks it on what a node logs: each origin's writes in
// sequence, and every write named by a write's clock applied before it.
test('writes applied in causal order pass; counts follow the batches', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  assert.equal(o.check(1, [logPut('n1', { n1: 1 }), { kind: 'put', space: SPACE_KV, key: 'k', value: {} }]), null);
  assert.equal(o.check(1, [logPut('n3', { n3: 1 }), logPut('n1', { n1: 2, n3: 1 }), { kind: 'del', space: SPACE_LOG, key: 'n1/1' }]), null);
  assert.equal(o.applied(1, 'n1'), 2);
  assert.equal(o.applied(1, 'n3'), 1);
  assert.equal(o.applied(0, 'n1'), 0, 'another node counts on its own');
});

test('a write applied before an earlier write of its origin is caught', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  assert.match(o.check(0, [logPut('n2', { n2: 2 }, 'x')]) ?? '', /^applied n2#2 \(x\) after n2#0: writes of its origin skipped$/);
});

test('a write applied twice is caught', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  assert.equal(o.check(0, [logPut('n2', { n2: 1 })]), null);
  assert.match(o.check(0, [logPut('n2', { n2: 1 })]) ?? '', /after n2#1: applied twice/);
});

test('a write applied before a dependency of another origin is caught, naming it', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  assert.equal(o.check(2, [logPut('n1', { n1: 1 })]), null);
  const why = o.check(2, [logPut('n2', { n1: 2, n2: 1 }, 'y')]);
  assert.equal(why, 'applied n2#1 (y) with clock {n1:2,n2:1} before n1#2 (it had applied n1#1)');
  assert.equal(o.applied(2, 'n2'), 0, 'the offending write is not counted');
});

test('a write from an unknown origin is caught', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  assert.match(o.check(0, [logPut('zz', { zz: 1 })]) ?? '', /outside the cluster/);
});

test('reset: a restarted node continues from the clock it restored', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  o.reset(0, { n1: 4, n3: 2 });
  assert.equal(o.check(0, [logPut('n1', { n1: 5, n3: 2 })]), null);
  assert.match(o.check(0, [logPut('n3', { n3: 4 })]) ?? '', /after n3#2/);
});

test('real cores: a write delivered before its dependency is buffered, and what they log passes', () => {
  const cores = IDS.map((id) => new CausalCore({ id, nodes: IDS }));
  const [a, b, c] = cores as [CausalCore, CausalCore, CausalCore];
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  const sent: { from: string; to: string; msg: CausalMsg }[] = [];
  const drain = (i: number): void => {
    const core = cores[i] as CausalCore;
    const r = core.ready();
    assert.equal(o.check(i, r.persist), null);
    for (const m of r.messages) sent.push({ from: core.id, to: m.to, msg: m.msg });
  };
  a.submit({ kind: 'put', reqId: 1, key: 'x', value: 1 });
  drain(0);
  const toB = sent.filter((s) => s.to === 'n2');
  b.receive('n1', toB[0]?.msg as CausalMsg);
  drain(1);
  b.submit({ kind: 'put', reqId: 2, key: 'x', value: 2 });
  drain(1);
  const fromB = sent.find((s) => s.from === 'n2' && s.to === 'n3' && s.msg.type === 'write');
  const fromA = sent.find((s) => s.from === 'n1' && s.to === 'n3');
  c.receive('n2', fromB?.msg as CausalMsg); // n2#1 depends on n1#1: buffered, nothing logged
  drain(2);
  assert.equal(o.applied(2, 'n2'), 0);
  c.receive('n1', fromA?.msg as CausalMsg); // n1#1, then n2#1 from the buffer
  drain(2);
  assert.equal(o.applied(2, 'n1'), 1);
  assert.equal(o.applied(2, 'n2'), 1);
});

test('one write checked at several nodes: each node is judged on what it applied', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  const dep = logPut('n1', { n1: 1 });
  const w = logPut('n2', { n1: 1, n2: 1 }, 'z');
  assert.equal(o.check(0, [dep, w]), null);
  // the same clock object again, at a node that has not applied n1#1
  assert.equal(o.check(1, [w]), 'applied n2#1 (z) with clock {n1:1,n2:1} before n1#1 (it had applied n1#0)');
  assert.equal(o.check(1, [dep, w]), null);
});

test('a clock naming a node outside the cluster is caught', () => {
  const o = new DeliveryOracle(IDS, SPACE_LOG);
  assert.match(o.check(0, [logPut('n1', { n1: 1, zz: 1 })]) ?? '', /before zz#1 \(it had applied zz#0\)$/);
  assert.equal(o.check(1, [logPut('n1', { n1: 1, zz: 0 })]), null);
});
