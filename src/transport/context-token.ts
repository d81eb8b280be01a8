import { CausewayError } from '../core/errors.js';
import { isCounter, type VectorClock } from '../clocks/vector.js';

/**
 * The causal context token: a node's vector clock, sent to clients (HTTP header
 * `Causeway-Context`, CoAP query `ctx`) and sent back to ask "serve me only once you have
 * applied everything this names". base64url of compact JSON, so it fits a header and a query.
 */
export const CONTEXT_HEADER = 'causeway-context';
const MAX_TOKEN_CHARS = 4096;

export function encodeContext(clock: VectorClock): string {
  return Buffer.from(JSON.stringify(clock)).toString('base64url');
}

export function decodeContext(token: string): VectorClock {
  if (token.length > MAX_TOKEN_CHARS) throw new CausewayError('bad-request', `context token longer than ${MAX_TOKEN_CHARS} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new CausewayError('bad-request', 'context token is not valid base64url JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CausewayError('bad-request', 'context token must encode an object of node → counter');
  }
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!isCounter(v)) {
      throw new CausewayError('bad-request', `context token entry "${k}" must be a non-negative integer`);
    }
    out[k] = v;
  }
  return out;
}
