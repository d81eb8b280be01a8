import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Outbox } from './outbox.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

// ARCHITECTURE.md §1: ready() drains everything produced since the last call — each take() returns
// exactly the items pushed since the previous one, in order, in an array the caller owns.
test('take() returns the items pushed since the last take, in order, and never reuses an array it handed out', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.integer(), { maxLength: 40 }), { maxLength: 30 }), (rounds) => {
      const box = new Outbox<number>();
      const taken: (readonly number[])[] = [];
      for (const round of rounds) {
        for (const x of round) box.push(x);
        assert.equal(box.length, round.length);
        const out = box.take();
        assert.deepEqual(out, round);
        assert.equal(box.length, 0);
        taken.push(out);
      }
      // Arrays handed out earlier are untouched by later rounds.
      assert.deepEqual(taken, rounds);
    }),
    { seed: SEED, numRuns: 200 },
  );
});

test('an empty take() is the one shared empty array, frozen: a caller cannot change a batch', () => {
  const box = new Outbox<number>();
  const a = box.take();
  box.push(1);
  assert.deepEqual(box.take(), [1]);
  const b = box.take();
  assert.equal(a, b);
  assert.equal(a.length, 0);
  assert.ok(Object.isFrozen(a));
  assert.throws(() => (a as number[]).push(2), TypeError);
});
