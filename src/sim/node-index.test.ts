import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeIndex } from './node-index.js';

test('nodeIndex: the position of an id in the list, by text; -1 for an id outside it', () => {
  const ids = ['node1', 'node2', 'node3'];
  assert.equal(nodeIndex(ids, 'node1'), 0);
  assert.equal(nodeIndex(ids, ['node', '3'].join('')), 2); // a separate copy of the same text
  assert.equal(nodeIndex(ids, 'node4'), -1);
  assert.equal(nodeIndex([], 'node1'), -1);
});
