/**
 * Mutual challenge–response authentication for peer links (SPEC §2: "authenticated with a shared
 * cluster secret"). Both sides contribute a fresh 32-byte nonce; each proves knowledge of the
 * secret with an HMAC-SHA256 over both nonces and both node ids, under a role label, so that
 *
 *  - a recorded exchange cannot be replayed (the other side's nonce is fresh each time),
 *  - one side's proof cannot be reflected back as the other's (distinct role labels),
 *  - a proof made for one pair of ids is useless for another (both ids are bound into the MAC).
 *
 * Exchange (dialer D, acceptor A):
 *   D → A  hello      { v, from: D, to: A, nonce: nD }
 *   A → D  challenge  { from: A, nonce: nA, mac: HMAC(k, "acceptor" | D | A | nD | nA) }
 *   D → A  auth       { mac: HMAC(k, "dialer" | D | A | nD | nA) }
 *   A → D  welcome    {}                                  (or reject { reason } and close)
 * D checks A's MAC before it reveals its own; A checks D's before it accepts any data frame.
 * Authentication covers the identity of the endpoints, not the confidentiality or integrity of
 * later traffic (no TLS): run the cluster on a network you trust against active tampering.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const HANDSHAKE_VERSION = 1;
export const NONCE_BYTES = 32;
export const MAC_BYTES = 32;
/** Frames before authentication are tiny; anything bigger is refused without buffering it. */
export const HANDSHAKE_FRAME_LIMIT = 1024;
/** Node ids in the handshake: printable, bounded. */
export const MAX_ID_LENGTH = 256;

const nodeId = z.string().min(1).max(MAX_ID_LENGTH);
const bytes = (n: number) =>
  z.instanceof(Uint8Array).refine((b) => b.length === n, { message: `must be ${n} bytes` });

export const HelloBody = z.object({
  v: z.number().int(),
  from: nodeId,
  to: nodeId,
  nonce: bytes(NONCE_BYTES),
});
export type HelloBody = z.infer<typeof HelloBody>;

export const ChallengeBody = z.object({
  from: nodeId,
  nonce: bytes(NONCE_BYTES),
  mac: bytes(MAC_BYTES),
});
export type ChallengeBody = z.infer<typeof ChallengeBody>;

export const AuthBody = z.object({ mac: bytes(MAC_BYTES) });
export type AuthBody = z.infer<typeof AuthBody>;

export const RejectBody = z.object({ reason: z.string().max(64) });
export type RejectBody = z.infer<typeof RejectBody>;

export type Role = 'dialer' | 'acceptor';

export interface HandshakeTranscript {
  readonly dialerId: string;
  readonly acceptorId: string;
  readonly dialerNonce: Uint8Array;
  readonly acceptorNonce: Uint8Array;
}

function lengthPrefixed(h: ReturnType<typeof createHmac>, part: Uint8Array | string): void {
  const b = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(b.length, 0);
  h.update(len);
  h.update(b);
}

/** The proof that `role` knows the secret, for this transcript. */
export function computeMac(secret: Buffer, role: Role, t: HandshakeTranscript): Buffer {
  const h = createHmac('sha256', secret);
  lengthPrefixed(h, `causeway/peer/v${HANDSHAKE_VERSION}/${role}`);
  lengthPrefixed(h, t.dialerId);
  lengthPrefixed(h, t.acceptorId);
  lengthPrefixed(h, t.dialerNonce);
  lengthPrefixed(h, t.acceptorNonce);
  return h.digest();
}

/** Constant-time check of a received proof. */
export function verifyMac(secret: Buffer, role: Role, t: HandshakeTranscript, mac: Uint8Array): boolean {
  const expected = computeMac(secret, role, t);
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}

export function secretBytes(secret: string | Buffer): Buffer {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
}
