/** The simulator's virtual network: latency, FIFO links, drop, duplicate, reorder, cuts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import { VirtualNetwork, type Arrival } from '../src/sim/index.js';

const MS = 1_000_000;

function sendMany(net: VirtualNetwork<number>, from: number, to: number, count: number, gapNs = 100_000): Arrival<number>[] {
  const out: Arrival<number>[] = [];
  for (let i = 0; i < count; i++) net.send(from, to, i, i * gapNs, out);
  return out;
}

// A link without reordering behaves as one TCP connection: FIFO, whatever its latency distribution.
test('links are FIFO without the reorder fault, even with varied latency', () => {
  const net = new VirtualNetwork<number>(3, new Rng(7), { variedLatency: true });
  const out = sendMany(net, 0, 1, 500);
  assert.equal(out.length, 500);
  for (let i = 1; i < out.length; i++) assert.ok((out[i] as Arrival<number>).at >= (out[i - 1] as Arrival<number>).at, `message ${i} overtook ${i - 1}`);
  const l = net.latency(0, 1);
  assert.ok(l.minNs >= 200_000 && l.meanNs >= l.minNs, 'latency drawn per link');
  for (const a of out) assert.ok(a.at >= a.payload * 100_000 + l.minNs, 'never faster than the link minimum');
});

test('constant latency without the delay fault', () => {
  const net = new VirtualNetwork<number>(2, new Rng(1), { baseLatencyNs: 2 * MS });
  const out = sendMany(net, 0, 1, 10);
  assert.deepEqual(out.map((a) => a.at - a.payload * 100_000), Array(10).fill(2 * MS));
});

// Reordering: some messages take an extra delay and are overtaken by later ones.
test('the reorder fault lets later messages overtake earlier ones', () => {
  const net = new VirtualNetwork<number>(2, new Rng(3), { faults: { drop: 0, dup: 0, reorder: 0.3 } });
  const out = sendMany(net, 0, 1, 200);
  let inversions = 0;
  const byTime = [...out].sort((a, b) => a.at - b.at);
  for (let i = 1; i < byTime.length; i++) if ((byTime[i] as Arrival<number>).payload < (byTime[i - 1] as Arrival<number>).payload) inversions++;
  assert.ok(inversions > 0, 'some message arrives before an earlier one');
  assert.ok(net.stats.reordered > 0);
});

// Drop: a dropped message never arrives, and the link is reported lossy (it reconnects on heal).
test('drop loses messages for good and marks the link lossy', () => {
  const all = new VirtualNetwork<number>(2, new Rng(1), { faults: { drop: 1, dup: 0, reorder: 0 } });
  assert.equal(sendMany(all, 0, 1, 50).length, 0);
  assert.equal(all.stats.dropped, 50);
  assert.deepEqual(all.takeLossy(), [[0, 1]]);
  assert.deepEqual(all.takeLossy(), [], 'reported once');
  all.setFaults(false);
  assert.equal(sendMany(all, 0, 1, 5).length, 5, 'faults off: nothing dropped');

  const some = new VirtualNetwork<number>(2, new Rng(5), { faults: { drop: 0.2, dup: 0, reorder: 0 } });
  const out = sendMany(some, 0, 1, 1000);
  assert.equal(out.length + some.stats.dropped, 1000);
  assert.ok(some.stats.dropped > 100 && some.stats.dropped < 300, `about 20% dropped (${some.stats.dropped})`);
});

// Duplicate: the copy carries the same payload and arrives no earlier than the original.
test('dup delivers a second copy after the original', () => {
  const net = new VirtualNetwork<number>(2, new Rng(9), { faults: { drop: 0, dup: 1, reorder: 0 } });
  const out = sendMany(net, 0, 1, 20);
  assert.equal(out.length, 40);
  for (let i = 0; i < out.length; i += 2) {
    const [orig, copy] = [out[i] as Arrival<number>, out[i + 1] as Arrival<number>];
    assert.equal(copy.payload, orig.payload);
    assert.ok(copy.duplicate && !orig.duplicate);
    assert.ok(copy.at >= orig.at);
  }
  assert.equal(net.stats.duplicated, 20);
  assert.equal(net.inFlight, 40);
  for (const a of out) assert.equal(net.arrive(a), true);
  assert.equal(net.inFlight, 0);
});

// Partitions: a cut link drops what is sent and what was in flight; one-way cuts one direction.
test('cut, one-way cut and heal', () => {
  const net = new VirtualNetwork<number>(3, new Rng(2));
  const inflight = sendMany(net, 0, 1, 3);
  net.cut(0, 1); // one way: 0 -> 1 only
  for (const a of inflight) assert.equal(net.arrive(a), false, 'in flight when the link was cut: lost');
  assert.equal(sendMany(net, 0, 1, 2).length, 0, 'sent across the cut: dropped');
  const back = sendMany(net, 1, 0, 2);
  assert.equal(back.length, 2, 'the other direction still works');
  for (const a of back) assert.equal(net.arrive(a), true);
  assert.ok(net.isCut(0, 1) && !net.isCut(1, 0));
  net.cut(0, 1); // overlapping partitions compose
  assert.equal(net.uncut(0, 1), false, 'still cut by the other partition');
  assert.equal(net.uncut(0, 1), true, 'whole again');
  const after = sendMany(net, 0, 1, 2);
  for (const a of after) assert.equal(net.arrive(a), true);
  assert.throws(() => net.uncut(0, 1), /not cut/);
});

// A broken connection (receiver crash, reconnection) loses what was in flight on it.
test('breakLink loses in-flight messages only', () => {
  const net = new VirtualNetwork<number>(2, new Rng(4));
  const old = sendMany(net, 0, 1, 3);
  net.breakLink(0, 1);
  const fresh = sendMany(net, 0, 1, 3);
  assert.deepEqual(old.map((a) => net.arrive(a)), [false, false, false]);
  assert.deepEqual(fresh.map((a) => net.arrive(a)), [true, true, true]);
  assert.equal(net.stats.delivered, 3);
  assert.equal(net.stats.dropped, 3);
});

test('same seed, same network decisions', () => {
  const run = (seed: number) => {
    const net = new VirtualNetwork<number>(4, new Rng(seed), { variedLatency: true, faults: { drop: 0.1, dup: 0.1, reorder: 0.1 } });
    return JSON.stringify(sendMany(net, 2, 3, 300));
  };
  assert.equal(run(11), run(11));
  assert.notEqual(run(11), run(12));
});
