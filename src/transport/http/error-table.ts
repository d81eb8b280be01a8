import type { ErrorCode } from '../../core/errors.js';

/** Stable error code → HTTP status: the one table for this transport (ARCHITECTURE.md §4 rule 4). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  'bad-request': 400,
  'invalid-json': 400,
  'not-found': 404,
  'method-not-allowed': 405,
  'too-large': 413,
  'unsupported-content-format': 415,
  'bad-option': 400,
  'key-too-long': 400,
  timeout: 504,
  unavailable: 503,
  'not-leader': 421,
  unauthorized: 401,
  conflict: 409,
  internal: 500,
});
