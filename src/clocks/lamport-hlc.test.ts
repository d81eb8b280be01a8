import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LamportClock, lamportReceive } from './lamport.js';
import { compareHlc, hlcReceive, hlcTick, HybridClock, type Hlc } from './hlc.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const params = { seed: SEED, numRuns: 300 };

test('lamport: L = max(L, received) + 1, tick moves by one', () => {
  const c = new LamportClock();
  assert.equal(c.tick(), 1);
  assert.equal(c.receive(10), 11);
  assert.equal(c.receive(3), 12);
  fc.assert(fc.property(fc.nat(), fc.nat(), (l, r) => lamportReceive(l, r) > l && lamportReceive(l, r) > r), params);
});

const hlcArb: fc.Arbitrary<Hlc> = fc.record({ wall: fc.nat(1000), logical: fc.nat(5) });

test('hlc: tick and receive move strictly after their inputs', () => {
  console.log(`fast-check seed: ${SEED}`);
  fc.assert(fc.property(hlcArb, fc.nat(1000), (h, now) => compareHlc(h, hlcTick(h, now)) === -1), params);
  fc.assert(
    fc.property(hlcArb, hlcArb, fc.nat(1000), (h, r, now) => {
      const x = hlcReceive(h, r, now);
      return compareHlc(h, x) === -1 && compareHlc(r, x) === -1 && x.wall >= now;
    }),
    params,
  );
});

test('hlc: follows physical time when it advances, counts when it stalls', () => {
  let now = 100;
  const c = new HybridClock(() => now);
  assert.deepEqual(c.tick(), { wall: 100, logical: 0 });
  assert.deepEqual(c.tick(), { wall: 100, logical: 1 });
  now = 90; // clock went backwards: still monotonic
  assert.deepEqual(c.tick(), { wall: 100, logical: 2 });
  assert.deepEqual(c.receive({ wall: 150, logical: 4 }), { wall: 150, logical: 5 });
  now = 200;
  assert.deepEqual(c.tick(), { wall: 200, logical: 0 });
});
