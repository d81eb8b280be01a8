import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WRITE_OVERHEAD_BYTES, estimateWriteBytes } from './write-size.js';
import type { CausalWrite } from './types.js';

const w = (key: string, value: unknown): CausalWrite => ({ origin: 'node1', clock: { node1: 1 }, lamport: 1, key, value, deleted: false });

test('a write counts its key and its value as JSON, two bytes a character, plus the overhead', () => {
  assert.equal(estimateWriteBytes(w('k', 'x'.repeat(1000))), WRITE_OVERHEAD_BYTES + 2 * (1 + 1002));
  assert.equal(estimateWriteBytes(w('key', { a: [1, 2] })), WRITE_OVERHEAD_BYTES + 2 * (3 + '{"a":[1,2]}'.length));
  assert.equal(estimateWriteBytes({ ...w('k', null), deleted: true }), WRITE_OVERHEAD_BYTES + 2 * (1 + 4));
});

test('a value JSON cannot encode counts as the overhead, and does not throw', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  assert.equal(estimateWriteBytes(w('k', 10n)), WRITE_OVERHEAD_BYTES + 2);
  assert.equal(estimateWriteBytes(w('k', cyclic)), WRITE_OVERHEAD_BYTES + 2);
  assert.equal(estimateWriteBytes(w('k', undefined)), WRITE_OVERHEAD_BYTES + 2);
});
