// Client connections are bounded by the file descriptors a node has (fd-limit.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientConnectionLimit, openFilesSoftLimit } from './fd-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 1048576              files
`;

test('the soft open-files limit is read from /proc/self/limits', () => {
  assert.equal(openFilesSoftLimit(LIMITS), 1024);
  assert.equal(openFilesSoftLimit(LIMITS.replace('1024 ', 'unlimited ')), null);
  assert.equal(openFilesSoftLimit('nothing here'), null);
  const own = openFilesSoftLimit();
  assert.ok(own === null || own >= 16, `this process: ${own}`);
});

test('half the descriptors go to client connections, within 16 and 16,384', () => {
  assert.equal(clientConnectionLimit(1024), 512);
  assert.equal(clientConnectionLimit(200), 100);
  assert.equal(clientConnectionLimit(10), 16);
  assert.equal(clientConnectionLimit(1_048_576), 16_384);
  assert.equal(clientConnectionLimit(null), 16_384);
});
