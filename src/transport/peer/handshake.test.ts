import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { computeMac, verifyMac, secretBytes, type HandshakeTranscript } from './handshake.js';
import { backoffDelay } from './peer-network.js';

const secret = secretBytes('s3cret');
const t: HandshakeTranscript = {
  dialerId: 'a',
  acceptorId: 'b',
  dialerNonce: randomBytes(32),
  acceptorNonce: randomBytes(32),
};

test('handshake MAC: verifies with the same secret and transcript', () => {
  assert.ok(verifyMac(secret, 'dialer', t, computeMac(secret, 'dialer', t)));
  assert.ok(verifyMac(secret, 'acceptor', t, computeMac(secret, 'acceptor', t)));
});

test('handshake MAC binds the secret, the role, both ids and both nonces', () => {
  const mac = computeMac(secret, 'dialer', t);
  // wrong secret
  assert.equal(verifyMac(secretBytes('other'), 'dialer', t, mac), false);
  // reflection: the dialer's proof is not the acceptor's
  assert.equal(verifyMac(secret, 'acceptor', t, mac), false);
  // ids bound in (and not ambiguous under concatenation: 'a'+'bb' vs 'ab'+'b')
  assert.equal(verifyMac(secret, 'dialer', { ...t, dialerId: 'x' }, mac), false);
  assert.equal(verifyMac(secret, 'dialer', { ...t, acceptorId: 'x' }, mac), false);
  const m1 = computeMac(secret, 'dialer', { ...t, dialerId: 'a', acceptorId: 'bb' });
  assert.equal(verifyMac(secret, 'dialer', { ...t, dialerId: 'ab', acceptorId: 'b' }, m1), false);
  // replay: fresh nonces make old proofs useless
  assert.equal(verifyMac(secret, 'dialer', { ...t, acceptorNonce: randomBytes(32) }, mac), false);
  assert.equal(verifyMac(secret, 'dialer', { ...t, dialerNonce: randomBytes(32) }, mac), false);
  // wrong length never throws
  assert.equal(verifyMac(secret, 'dialer', t, mac.subarray(0, 16)), false);
});

test('backoff: exponential, capped, jitter only shortens', () => {
  const b = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, b, 0)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelay(0, b, 0.999999) > 50, true);
  assert.equal(backoffDelay(2, b, 0.5), 300);
  assert.equal(backoffDelay(1, { ...b, jitter: 0 }, 0.9), 200);
});
