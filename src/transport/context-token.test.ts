// The causal context token (SPEC §2 "Every response carries a causal context token"): what a
// node hands out decodes to the same clock, and a token it could never serve is refused with 4xx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCausewayError } from '../core/errors.js';
import { decodeContext, encodeContext } from './context-token.js';

const tok = (text: string): string => Buffer.from(text).toString('base64url');

function refused(token: string, pattern: RegExp): void {
  assert.throws(
    () => decodeContext(token),
    (err: unknown) => isCausewayError(err) && err.code === 'bad-request' && pattern.test(err.detail),
  );
}

test('a token round-trips the clock it was made from, and fits a header', () => {
  const clock = { node1: 3, node2: 0, node3: 12 };
  const t = encodeContext(clock);
  assert.match(t, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeContext(t), clock);
  assert.deepEqual(decodeContext(tok('{}')), {});
});

test('malformed tokens are refused, naming the problem', () => {
  refused('!!!', /not valid base64url JSON/);
  refused(tok('[1,2]'), /must encode an object/);
  refused(tok('{"node1": -1}'), /"node1" must be a non-negative integer/);
  refused(tok('{"node1": 1.5}'), /"node1" must be a non-negative integer/);
  refused(tok('{"node1": "3"}'), /"node1" must be a non-negative integer/);
  refused('A'.repeat(5000), /longer than 4096 characters/);
});

// A token may name a node that is not (or no longer) in the cluster's config: after a cluster is
// shrunk, the nodes' clocks still hold the removed node's entry, and its writes can still arrive
// by anti-entropy. So such a token is decoded, and waits like any other.
test('a token naming a node outside the config decodes: a shrunk cluster hands such tokens out', () => {
  assert.deepEqual(decodeContext(tok('{"node1": 1, "node9": 2}')), { node1: 1, node9: 2 });
});
