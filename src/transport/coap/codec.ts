/**
 * CoAP message codec (RFC 7252 §3), our own, on plain Buffers.
 *
 * Two layers:
 * - a general `decode` / `encode` of whole messages (type, code, message ID, token, options,
 *   payload) used by the client, the tests and the tools;
 * - small helpers (uint options, Block values, code tables) that the server's hot path uses while it
 *   parses requests in one pass without building option objects (see server.ts).
 *
 * `decode` throws only `CoapFormatError`; random bytes never throw anything else (property-tested).
 */
import { CausewayError } from '../../core/errors.js';

/** Message types (RFC 7252 §3). */
export const CON = 0;
export const NON = 1;
export const ACK = 2;
export const RST = 3;
export type MessageType = 0 | 1 | 2 | 3;
export const TYPE_NAMES = ['CON', 'NON', 'ACK', 'RST'] as const;

/** Option numbers (RFC 7252 §5.10, RFC 7641, RFC 7959, RFC 8613, RFC 9175, RFC 8768). */
export const Opt = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  LOCATION_PATH: 8,
  OSCORE: 9,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  HOP_LIMIT: 16,
  ACCEPT: 17,
  LOCATION_QUERY: 20,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  ECHO: 252,
  NO_RESPONSE: 258,
  REQUEST_TAG: 292,
} as const;

/** Content-Format numbers used by Causeway. */
export const ContentFormat = { TEXT: 0, LINK_FORMAT: 40, XML: 41, OCTET_STREAM: 42, JSON: 50, CBOR: 60 } as const;

/** Method codes 0.01–0.07 (RFC 7252 §12.1.1, RFC 8132). Index = code detail. */
export const METHOD_NAMES = [undefined, 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'] as const;
export type MethodName = NonNullable<(typeof METHOD_NAMES)[number]>;
export function methodCode(m: MethodName): number {
  const i = METHOD_NAMES.indexOf(m);
  if (i <= 0) throw new CausewayError('bad-request', `unknown CoAP method ${String(m)}`);
  return i;
}

/** Transmission parameters (RFC 7252 §4.8). */
export const ACK_TIMEOUT_MS = 2000;
export const ACK_RANDOM_FACTOR = 1.5;
export const MAX_RETRANSMIT = 4;
/** EXCHANGE_LIFETIME (§4.8.2) with the default parameters: 247 s. */
export const EXCHANGE_LIFETIME_MS = 247_000;
/** MAX_TRANSMIT_WAIT (§4.8.2): 93 s. */
export const MAX_TRANSMIT_WAIT_MS = 93_000;

/** Thrown by `decode` for a datagram that is not a well-formed CoAP message. */
export class CoapFormatError extends CausewayError {
  constructor(detail: string) {
    super('bad-request', detail);
    this.name = 'CoapFormatError';
  }
}

// ---- codes -------------------------------------------------------------------------------------

const CODE_STRINGS: string[] = [];
const CODE_NUMBERS = new Map<string, number>();
for (let c = 0; c < 256; c++) {
  const s = `${c >> 5}.${String(c & 31).padStart(2, '0')}`;
  CODE_STRINGS.push(s);
  CODE_NUMBERS.set(s, c);
}
/** 69 → '2.05'. */
export function codeToString(code: number): string {
  return CODE_STRINGS[code & 0xff]!;
}
/** '2.05' → 69; undefined when the string is not a dotted code c.dd with c ≤ 7, dd ≤ 31. */
export function codeFromString(s: string): number | undefined {
  return CODE_NUMBERS.get(s);
}
export function codeClass(code: number): number {
  return code >> 5;
}
/** Named response codes (RFC 7252 §12.1.2, RFC 7959 §2.9). */
export const Code = {
  EMPTY: 0x00,
  CREATED: 0x41, // 2.01
  DELETED: 0x42,
  VALID: 0x43,
  CHANGED: 0x44,
  CONTENT: 0x45,
  CONTINUE: 0x5f, // 2.31
  BAD_REQUEST: 0x80, // 4.00
  UNAUTHORIZED: 0x81,
  BAD_OPTION: 0x82,
  FORBIDDEN: 0x83,
  NOT_FOUND: 0x84,
  METHOD_NOT_ALLOWED: 0x85,
  NOT_ACCEPTABLE: 0x86,
  REQUEST_ENTITY_INCOMPLETE: 0x88, // 4.08
  PRECONDITION_FAILED: 0x8c,
  REQUEST_ENTITY_TOO_LARGE: 0x8d, // 4.13
  UNSUPPORTED_CONTENT_FORMAT: 0x8f, // 4.15
  INTERNAL_SERVER_ERROR: 0xa0, // 5.00
  SERVICE_UNAVAILABLE: 0xa3,
} as const;

// ---- option values -----------------------------------------------------------------------------

/** Bytes needed for a uint option value (RFC 7252 §3.2: leading zero bytes are omitted). */
export function uintLength(v: number): number {
  return v === 0 ? 0 : v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x1000000 ? 3 : 4;
}
/** Reads an unsigned big-endian integer of `len` (≤ 4) bytes at `off`. */
export function readUint(buf: Buffer, off: number, len: number): number {
  let v = 0;
  for (let i = 0; i < len; i++) v = v * 256 + buf[off + i]!;
  return v;
}
/** Writes `v` in uintLength(v) bytes at `off`; returns the new offset. */
export function writeUint(buf: Buffer, off: number, v: number): number {
  const n = uintLength(v);
  for (let i = n - 1; i >= 0; i--) {
    buf[off + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  return off + n;
}
export function encodeUint(v: number): Buffer {
  const b = Buffer.allocUnsafe(uintLength(v));
  writeUint(b, 0, v);
  return b;
}
export function decodeUint(b: Buffer): number {
  return readUint(b, 0, Math.min(b.length, 4));
}

/** Block1/Block2 option value (RFC 7959 §2.2). */
export interface BlockValue {
  num: number;
  more: boolean;
  szx: number; // block size = 2^(szx+4), 0..6 over UDP (7 is reserved for BERT)
}
export function blockToUint(b: BlockValue): number {
  return b.num * 16 + (b.more ? 8 : 0) + (b.szx & 7);
}
export function blockFromUint(v: number): BlockValue {
  return { num: Math.floor(v / 16), more: (v & 8) !== 0, szx: v & 7 };
}
export function blockSize(szx: number): number {
  return 1 << (szx + 4);
}
/** The SZX for a block size (16…1024, a power of two); the largest SZX whose size ≤ `size`. */
export function szxFor(size: number): number {
  let szx = 0;
  while (szx < 6 && blockSize(szx + 1) <= size) szx++;
  return szx;
}

// ---- whole messages ----------------------------------------------------------------------------

export interface CoapOption {
  number: number;
  value: Buffer;
}
export interface CoapMessage {
  type: MessageType;
  code: number;
  messageId: number;
  token: Buffer;
  options: CoapOption[];
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Parses one datagram. Throws `CoapFormatError` for anything RFC 7252 §3 calls a format error. */
export function decode(buf: Buffer): CoapMessage {
  const len = buf.length;
  if (len < 4) throw new CoapFormatError('shorter than the 4-byte header');
  const b0 = buf[0]!;
  if (b0 >> 6 !== 1) throw new CoapFormatError(`version ${b0 >> 6}`);
  const type = ((b0 >> 4) & 3) as MessageType;
  const tkl = b0 & 15;
  if (tkl > 8) throw new CoapFormatError(`token length ${tkl}`);
  const code = buf[1]!;
  const messageId = (buf[2]! << 8) | buf[3]!;
  if (4 + tkl > len) throw new CoapFormatError('truncated token');
  const token = Buffer.from(buf.subarray(4, 4 + tkl));
  const options: CoapOption[] = [];
  let i = 4 + tkl;
  let num = 0;
  let payload = EMPTY;
  while (i < len) {
    const b = buf[i++]!;
    if (b === 0xff) {
      if (i >= len) throw new CoapFormatError('payload marker without payload');
      payload = Buffer.from(buf.subarray(i));
      break;
    }
    let delta = b >> 4;
    let olen = b & 15;
    if (delta === 13) {
      if (i >= len) throw new CoapFormatError('truncated option delta');
      delta = buf[i++]! + 13;
    } else if (delta === 14) {
      if (i + 1 >= len) throw new CoapFormatError('truncated option delta');
      delta = ((buf[i]! << 8) | buf[i + 1]!) + 269;
      i += 2;
    } else if (delta === 15) throw new CoapFormatError('option delta 15 without payload marker');
    if (olen === 13) {
      if (i >= len) throw new CoapFormatError('truncated option length');
      olen = buf[i++]! + 13;
    } else if (olen === 14) {
      if (i + 1 >= len) throw new CoapFormatError('truncated option length');
      olen = ((buf[i]! << 8) | buf[i + 1]!) + 269;
      i += 2;
    } else if (olen === 15) throw new CoapFormatError('option length 15');
    num += delta;
    if (i + olen > len) throw new CoapFormatError(`option ${num} overruns the datagram`);
    options.push({ number: num, value: Buffer.from(buf.subarray(i, i + olen)) });
    i += olen;
  }
  if (code === 0 && (tkl !== 0 || options.length > 0 || payload.length > 0)) {
    throw new CoapFormatError('empty message (code 0.00) with token, options or payload');
  }
  return { type, code, messageId, token, options, payload };
}

function extLen(v: number): number {
  return v < 13 ? 0 : v < 269 ? 1 : 2;
}
function nibble(v: number): number {
  return v < 13 ? v : v < 269 ? 13 : 14;
}
function writeExt(buf: Buffer, off: number, v: number): number {
  if (v >= 269) {
    buf.writeUInt16BE(v - 269, off);
    return off + 2;
  }
  if (v >= 13) {
    buf[off] = v - 13;
    return off + 1;
  }
  return off;
}

/** Encodes one message. Options are written in ascending number order (stable for repeats). */
export function encode(msg: CoapMessage): Buffer {
  if (msg.token.length > 8) throw new CausewayError('bad-request', 'token longer than 8 bytes');
  const opts = msg.options.length > 1 ? [...msg.options].sort((a, b) => a.number - b.number) : msg.options;
  let size = 4 + msg.token.length;
  let prev = 0;
  for (const o of opts) {
    const d = o.number - prev;
    if (d < 0 || o.number > 0xffff) throw new CausewayError('bad-request', `bad option number ${o.number}`);
    if (o.value.length > 0xffff + 269) throw new CausewayError('bad-request', `option ${o.number} too long`);
    size += 1 + extLen(d) + extLen(o.value.length) + o.value.length;
    prev = o.number;
  }
  if (msg.payload.length > 0) size += 1 + msg.payload.length;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 0x40 | ((msg.type & 3) << 4) | msg.token.length;
  buf[1] = msg.code & 0xff;
  buf[2] = (msg.messageId >> 8) & 0xff;
  buf[3] = msg.messageId & 0xff;
  let off = 4 + msg.token.copy(buf, 4);
  prev = 0;
  for (const o of opts) {
    const d = o.number - prev;
    const l = o.value.length;
    buf[off++] = (nibble(d) << 4) | nibble(l);
    off = writeExt(buf, off, d);
    off = writeExt(buf, off, l);
    off += o.value.copy(buf, off);
    prev = o.number;
  }
  if (msg.payload.length > 0) {
    buf[off++] = 0xff;
    msg.payload.copy(buf, off);
  }
  return buf;
}

/** An empty ACK or RST (4 bytes) for a message ID. */
export function emptyMessage(type: MessageType, messageId: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = 0x40 | (type << 4);
  b[1] = 0;
  b[2] = (messageId >> 8) & 0xff;
  b[3] = messageId & 0xff;
  return b;
}

/** Incremental writer for hand-built messages on hot paths: size it first, then write in order. */
export class OptionWriter {
  buf: Buffer;
  off: number;
  #prev = 0;
  constructor(buf: Buffer, off: number) {
    this.buf = buf;
    this.off = off;
  }
  /** Bytes an option takes after `prev`. */
  static size(prev: number, num: number, valueLen: number): number {
    return 1 + extLen(num - prev) + extLen(valueLen) + valueLen;
  }
  #head(num: number, l: number): void {
    const d = num - this.#prev;
    const buf = this.buf;
    buf[this.off++] = (nibble(d) << 4) | nibble(l);
    this.off = writeExt(buf, this.off, d);
    this.off = writeExt(buf, this.off, l);
    this.#prev = num;
  }
  uint(num: number, v: number): void {
    this.#head(num, uintLength(v));
    this.off = writeUint(this.buf, this.off, v);
  }
  bytes(num: number, v: Buffer): void {
    this.#head(num, v.length);
    this.off += v.copy(this.buf, this.off);
  }
  string(num: number, v: string, byteLen: number): void {
    this.#head(num, byteLen);
    this.off += this.buf.write(v, this.off, 'utf8');
  }
}

/** Option numbers whose lowest bit is set are critical (RFC 7252 §5.4.1). */
export function isCritical(num: number): boolean {
  return (num & 1) === 1;
}

/** Readable one-line form for logs and tests: `CON 0.03 mid=12 tok=ab01 [11:"x"] 5 B`. */
export function describe(msg: CoapMessage): string {
  const opts = msg.options.map((o) => `${o.number}:${o.value.toString('hex')}`).join(',');
  return `${TYPE_NAMES[msg.type]} ${codeToString(msg.code)} mid=${msg.messageId} tok=${msg.token.toString('hex')} [${opts}] ${msg.payload.length} B`;
}
