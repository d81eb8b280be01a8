/**
 * One error class with a stable code (ARCHITECTURE.md §4 rule 4). Expected outcomes are values;
 * this class is for the edges, where each transport maps `code` to a status in one table.
 */
export const ERROR_CODES = [
  'bad-request', // malformed or ill-typed input
  'invalid-json',
  'not-found',
  'method-not-allowed',
  'too-large',
  'unsupported-content-format',
  'bad-option', // unknown critical CoAP option
  'key-too-long',
  'timeout',
  'unavailable', // e.g. causal context not reached in time
  'not-leader',
  'unauthorized',
  'conflict',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class CausewayError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${code}: ${detail}`, options);
    this.name = 'CausewayError';
    this.code = code;
    this.detail = detail;
  }
}

export function isCausewayError(e: unknown): e is CausewayError {
  return e instanceof CausewayError;
}
