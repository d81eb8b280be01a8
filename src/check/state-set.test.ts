import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StateSet } from './state-set.js';
import { propertySeed } from './fixtures.fixture.js';

// The sequential checker's memo: it must answer exactly as a set of the states' contents would,
// through growth and rehashing, and stop adding (never forget) at its budget.
test('StateSet answers as a set of state contents, through growth, up to its budget', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 6, maxLength: 6 }), { maxLength: 3000 }), fc.integer({ min: 0, max: 40_000 }), (width, visits, budget) => {
      const set = new StateSet(width, budget);
      const model = new Set<string>();
      for (const v of visits) {
        const state = Int32Array.from(v); // wider than `width`: only the first `width` count
        const key = v.slice(0, width).join(',');
        const seen = set.visit(state);
        assert.equal(seen, model.has(key), `state ${key}`);
        if (!seen && model.size < set.maxStates) model.add(key);
        assert.equal(set.size, model.size);
      }
      assert.ok(set.words <= budget, `${set.words} words held, budget ${budget}`);
    }),
    { seed: propertySeed(), numRuns: 200 },
  );
});

test('a StateSet with no budget holds nothing and finds nothing', () => {
  const set = new StateSet(3, 0);
  const s = Int32Array.of(1, 2, 3);
  assert.equal(set.visit(s), false);
  assert.equal(set.visit(s), false);
  assert.equal(set.size, 0);
});

test('many states: all found again after the table has grown many times', () => {
  const set = new StateSet(2, 10_000_000);
  const s = new Int32Array(2);
  for (let i = 0; i < 100_000; i++) {
    s[0] = i;
    s[1] = i * 7;
    assert.equal(set.visit(s), false);
  }
  for (let i = 0; i < 100_000; i += 997) {
    s[0] = i;
    s[1] = i * 7;
    assert.equal(set.visit(s), true, `state ${i}`);
  }
  s[1] = -1;
  assert.equal(set.visit(s), false);
});
