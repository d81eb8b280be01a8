import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trafficCounter } from './traffic.js';

// The counts read each event type as SPEC §2's anti-entropy means it: a reply ships writes, a
// request asks for them, a duplicate was already held.
test('the traffic counter reads sync replies, requests, writes received and duplicates', () => {
  const { traffic, onEvent } = trafficCounter();
  const clock = { a: 1 };
  onEvent('a', { type: 'sync', node: 'a', peer: 'b', direction: 'reply', clock, count: 3 });
  onEvent('a', { type: 'sync', node: 'a', peer: 'c', direction: 'reply', clock, count: 0 });
  onEvent('b', { type: 'sync', node: 'b', peer: 'a', direction: 'request', clock, count: 0, reason: 'link-up' });
  onEvent('b', { type: 'sync', node: 'b', peer: 'c', direction: 'request', clock, count: 0, reason: 'link-up' });
  onEvent('b', { type: 'receive', node: 'b', peer: 'a', msg: 'writes', count: 3, nodeClock: clock });
  onEvent('b', { type: 'receive', node: 'b', peer: 'a', msg: 'write', count: 1, nodeClock: clock });
  onEvent('b', { type: 'duplicate', node: 'b', peer: 'a', origin: 'a', seq: 1, clock, key: 'x', why: 'applied' });
  assert.deepEqual(traffic, { shipped: 3, answers: 2, received: 3, duplicates: 1, requests: { 'link-up': 2 } });
});
