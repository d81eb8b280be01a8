import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logKey } from '../protocols/causal/core.js';
import { SharedLogKeys } from './log-keys.js';

// CausalInit.logKeys contract: the shared source returns logKey(origin, seq)'s text, whatever the
// order of the requests (sequence numbers out of order, gaps, 16 digits and more, several origins).
test('shared log keys have the text of logKey', () => {
  const keys = new SharedLogKeys();
  const asked: [string, number][] = [['node1', 1], ['node2', 1], ['node1', 7], ['node1', 3], ['node1', 1], ['n/x', 12_345], ['node2', 10 ** 17]];
  for (const [origin, seq] of asked) assert.equal(keys.key(origin, seq), logKey(origin, seq));
});
