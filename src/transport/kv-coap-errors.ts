import type { ErrorCode } from '../core/errors.js';

/** Stable error code → CoAP response code for the /kv API: the one table for this transport. */
export const COAP_CODE: Readonly<Record<ErrorCode, string>> = Object.freeze({
  'bad-request': '4.00',
  'invalid-json': '4.00',
  'not-found': '4.04',
  'method-not-allowed': '4.05',
  'too-large': '4.13',
  'unsupported-content-format': '4.15',
  'bad-option': '4.02',
  'key-too-long': '4.00',
  timeout: '5.04',
  unavailable: '5.03',
  'not-leader': '5.03',
  unauthorized: '4.01',
  conflict: '4.09',
  internal: '5.00',
});
