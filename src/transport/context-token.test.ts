// The causal context token (SPEC §2 "Every response carries a causal context token"): what a
// node hands out decodes to the same clock, and a token it could never serve is refused with 4xx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCausewayError } from '../core/errors.js';
import { decodeContext, encodeContext } from './context-token.js';

const NODES = ['node1', 'node2', 'node3'];
const tok = (text: string): string => Buffer.from(text).toString('base64url');

function refused(token: string, pattern: RegExp): void {
  assert.throws(
    () => decodeContext(token, NODES),
    (err: unknown) => isCausewayError(err) && err.code === 'bad-request' && pattern.test(err.detail),
  );
}

test('a token round-trips the clock it was made from, and fits a header', () => {
  const clock = { node1: 3, node2: 0, node3: 12 };
  const t = encodeContext(clock);
  assert.match(t, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeContext(t, NODES), clock);
  assert.deepEqual(decodeContext(tok('{}'), NODES), {});
});

test('malformed tokens are refused, naming the problem', () => {
  refused('!!!', /not valid base64url JSON/);
  refused(tok('[1,2]'), /must encode an object/);
  refused(tok('{"node1": -1}'), /"node1" must be a non-negative integer/);
  refused(tok('{"node1": 1.5}'), /"node1" must be a non-negative integer/);
  refused(tok('{"node1": "3"}'), /"node1" must be a non-negative integer/);
  refused('A'.repeat(5000), /longer than 4096 characters/);
});

test('a token naming a node outside the cluster is refused: no node could ever reach it', () => {
  refused(tok('{"node1": 1, "node9": 2}'), /names node "node9", which is not in this cluster \(node1, node2, node3\)/);
  // Without the member list (a tool reading tokens) any node name decodes.
  assert.deepEqual(decodeContext(tok('{"node9": 2}')), { node9: 2 });
});
