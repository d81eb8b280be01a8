// The write budget (write-budget.ts): a bound in bytes on the client writes a node holds at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCausewayError } from '../core/errors.js';
import { CONTAINER_BYTES, WriteBudget, writeCost } from './write-budget.js';

test('writes are taken until the budget is full, then refused with unavailable; releases give it back', () => {
  const b = new WriteBudget(1000);
  const r1 = b.take(600);
  const r2 = b.take(400);
  assert.equal(b.usedBytes, 1000);
  assert.throws(
    () => b.take(1),
    (err: unknown) => isCausewayError(err) && err.code === 'unavailable' && /node is busy: .* in progress or waiting for their causal context \(limit .*\); retry shortly/.test(err.detail),
  );
  assert.deepEqual(b.stats(), { usedBytes: 1000, limitBytes: 1000, refused: 1 });
  r1();
  r1(); // once only
  assert.equal(b.usedBytes, 400);
  b.take(600)();
  r2();
  assert.equal(b.usedBytes, 0);
});

test('a write larger than the whole budget still goes through alone', () => {
  const b = new WriteBudget(100);
  const r = b.take(5000);
  assert.throws(() => b.take(1));
  r();
  assert.equal(b.usedBytes, 0);
});

test('cost: body bytes plus a fixed charge per object or array', () => {
  assert.equal(writeCost(100, 0), 100);
  assert.equal(writeCost(100, 3), 100 + 3 * CONTAINER_BYTES);
  assert.throws(() => new WriteBudget(0), RangeError);
});
