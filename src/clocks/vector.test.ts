import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compare, compareArrays, fromArray, increment, merge, toArray, type VectorClock } from './vector.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const params = { seed: SEED, numRuns: 300 };
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

const nodes = ['a', 'b', 'c'];
const clockArb: fc.Arbitrary<VectorClock> = fc
  .tuple(fc.nat(4), fc.nat(4), fc.nat(4))
  .map((xs) => fromArray(xs, nodes));

test('compare: table of cases', () => {
  assert.equal(compare({ a: 1 }, { a: 1, b: 0 }), 'equal'); // absent entries count as 0
  assert.equal(compare({ a: 1 }, { a: 2 }), 'before');
  assert.equal(compare({ a: 2 }, { a: 1 }), 'after');
  assert.equal(compare({ a: 1, b: 0 }, { a: 0, b: 1 }), 'concurrent');
  assert.equal(compareArrays([1, 0], [1, 1]), 'before');
  assert.equal(compareArrays([1, 1], [1, 1]), 'equal');
  assert.throws(() => compareArrays([1], [1, 1]), RangeError);
  assert.throws(() => fromArray([1], nodes), /expected 3/);
});

test('compare is a partial order: reflexive, antisymmetric, transitive', () => {
  fc.assert(fc.property(clockArb, (a) => compare(a, a) === 'equal'), params);
  fc.assert(
    fc.property(clockArb, clockArb, (a, b) => {
      const ab = compare(a, b);
      const ba = compare(b, a);
      const mirror = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const;
      return ba === mirror[ab];
    }),
    params,
  );
  fc.assert(
    fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
      const le = (x: VectorClock, y: VectorClock) => ['before', 'equal'].includes(compare(x, y));
      return !(le(a, b) && le(b, c)) || le(a, c);
    }),
    params,
  );
});

// Absent entries count as 0: whichever nodes two clocks name (the same ones, a subset, other
// ones, in any key order), compare() agrees with the entry-wise definition over the union.
test('compare agrees with the entry-wise definition for clocks naming any nodes, in any order', () => {
  const partial: fc.Arbitrary<VectorClock> = fc
    .array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.nat(3)), { maxLength: 6 })
    .map((entries) => Object.fromEntries(entries));
  fc.assert(
    fc.property(partial, partial, (a, b) => {
      let less = false;
      let greater = false;
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const x = a[k] ?? 0;
        const y = b[k] ?? 0;
        if (x < y) less = true;
        if (x > y) greater = true;
      }
      const want = less && greater ? 'concurrent' : less ? 'before' : greater ? 'after' : 'equal';
      assert.equal(compare(a, b), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }),
    { ...params, numRuns: 2000 },
  );
  // same number of keys, different keys: the count alone must not settle it
  assert.equal(compare({ a: 1, b: 0 }, { a: 1, c: 2 }), 'before');
  assert.equal(compare({ a: 1, c: 0 }, { a: 1, b: 0 }), 'equal');
  assert.equal(compare({ a: 0, b: 3 }, { a: 1, c: 0 }), 'concurrent');
});

test('merge is the least upper bound: commutative, associative, idempotent, an upper bound', () => {
  const eq = (x: VectorClock, y: VectorClock) => compare(x, y) === 'equal';
  fc.assert(fc.property(clockArb, clockArb, (a, b) => eq(merge(a, b), merge(b, a))), params);
  fc.assert(fc.property(clockArb, clockArb, clockArb, (a, b, c) => eq(merge(merge(a, b), c), merge(a, merge(b, c)))), params);
  fc.assert(fc.property(clockArb, (a) => eq(merge(a, a), a)), params);
  fc.assert(
    fc.property(clockArb, clockArb, clockArb, (a, b, u) => {
      const m = merge(a, b);
      const up = (x: VectorClock, y: VectorClock) => ['before', 'equal'].includes(compare(x, y));
      // an upper bound, and below every other upper bound u
      return up(a, m) && up(b, m) && (!(up(a, u) && up(b, u)) || up(m, u));
    }),
    params,
  );
});

test('increment moves strictly after', () => {
  fc.assert(fc.property(clockArb, fc.constantFrom(...nodes), (a, n) => compare(a, increment(a, n)) === 'before'), params);
});

test('array form round-trips', () => {
  fc.assert(fc.property(clockArb, (a) => compare(fromArray(toArray(a, nodes), nodes), a) === 'equal'), params);
});
