import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dominatedBy, type VectorClock } from '../clocks/vector.js';
import { AckedWrites, type AckedWrite } from './acked-writes.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

const ids = ['node1', 'node2', 'node3'];

const entry = fc.tuple(fc.constantFrom('node1', 'node2', 'node3', 'other'), fc.integer({ min: 0, max: 4 }));
/** Clocks over the ids in order (what cores hand out) and odd ones: missing, extra or reordered entries. */
const clock: fc.Arbitrary<VectorClock> = fc.oneof(
  fc.tuple(fc.nat(4), fc.nat(4), fc.nat(4)).map(([a, b, c]) => ({ node1: a, node2: b, node3: c })),
  fc.array(entry, { maxLength: 5 }).map((es) => Object.fromEntries(es)),
);

// SPEC §2/§3 durability check: an acknowledged write is present or overwritten when some final
// version's clock covers its clock — the columns must judge exactly as dominatedBy on the clock.
test('coveredBy agrees with dominatedBy and get() gives back the write, whatever the clock', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(clock, clock), { minLength: 1, maxLength: 1500 }), (pairs) => {
      const acked = new AckedWrites(ids);
      const writes: AckedWrite[] = pairs.map(([c], i) => ({ key: `k${i % 7}`, clock: c, client: i % 5, kind: i % 3 === 0 ? 'delete' : 'put', value: i % 3 === 0 ? null : `v${i}`, node: i % 3 }));
      for (const w of writes) acked.push(w);
      assert.equal(acked.length, writes.length);
      pairs.forEach(([, other], i) => {
        const w = writes[i] as AckedWrite;
        assert.equal(acked.coveredBy(i, other), dominatedBy(w.clock, other));
        assert.equal(acked.key(i), w.key);
        const back = acked.get(i);
        assert.deepEqual(back, w);
        assert.deepEqual(Object.keys(back.clock), Object.keys(w.clock)); // the failure report prints them in order
      });
    }),
    { seed: SEED, numRuns: 40 },
  );
});
