/**
 * CoAP client on node:dgram (RFC 7252): confirmable requests with retransmission and exponential
 * back-off, responses matched by token (piggybacked or separate), Observe (RFC 7641), Block2
 * follow and Block1 upload (RFC 7959), IPv4 and IPv6, typed errors.
 */
import dgram from 'node:dgram';
import type { Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { CausewayError } from '../../core/errors.js';
import {
  ACK,
  ACK_RANDOM_FACTOR,
  ACK_TIMEOUT_MS,
  CON,
  MAX_RETRANSMIT,
  NON,
  Opt,
  RST,
  blockFromUint,
  blockSize,
  blockToUint,
  codeToString,
  decode,
  decodeUint,
  emptyMessage,
  encode,
  encodeUint,
  methodCode,
  szxFor,
  type CoapMessage,
  type CoapOption,
  type MessageType,
} from './codec.js';
import type { CoapMethod } from './server.js';
import { parseCoapUri } from './uri.js';

export interface CoapClientOptions {
  /** Local address to bind ('0.0.0.0' / '::' by default, by the target's family). */
  bindAddress?: string;
  /** Local port (default 0: any). */
  port?: number;
  ackTimeoutMs?: number;
  ackRandomFactor?: number;
  maxRetransmit?: number;
  /** Block size for Block1 uploads and the preferred Block2 size (16…1024). 1024. */
  blockSize?: number;
  /** Largest response body assembled from Block2 blocks. 16 MiB. */
  maxResponseBytes?: number;
}

export interface CoapResponse {
  code: string;
  payload: Buffer;
  contentFormat?: number;
  observe?: number;
  etag?: Buffer;
  options: { number: number; value: Buffer }[];
}

export interface CoapRequestInit {
  method: CoapMethod;
  /** coap://host[:port]/path?query; IPv6 as coap://[::1]:5683/ */
  uri: string;
  payload?: Buffer | string;
  contentFormat?: number;
  accept?: number;
  /** Default true. */
  confirmable?: boolean;
  /** Overall deadline for the whole request (all blocks); CoapTimeoutError when it passes. */
  timeoutMs?: number;
  /** Observe option value to send (0 register, 1 deregister). */
  observe?: number;
  /** Further options to send as they are. */
  options?: CoapOption[];
}

/** No response in time (after every retransmission, or past `timeoutMs`). */
export class CoapTimeoutError extends CausewayError {
  constructor(detail: string) {
    super('timeout', detail);
    this.name = 'CoapTimeoutError';
  }
}

/** The peer answered with a Reset: it rejected the message. */
export class CoapResetError extends CausewayError {
  constructor(detail: string) {
    super('unavailable', detail);
    this.name = 'CoapResetError';
  }
}

type ClientSettings = Required<Omit<CoapClientOptions, 'bindAddress'>> & { bindAddress: string | undefined };
const DEFAULTS: Readonly<ClientSettings> = Object.freeze({
  bindAddress: undefined,
  port: 0,
  ackTimeoutMs: ACK_TIMEOUT_MS,
  ackRandomFactor: ACK_RANDOM_FACTOR,
  maxRetransmit: MAX_RETRANSMIT,
  blockSize: 1024,
  maxResponseBytes: 16 * 1024 * 1024,
});

interface Target {
  address: string;
  port: number;
  family: 4 | 6;
}

interface Exchange {
  tokenKey: string;
  token: Buffer;
  mid: number;
  buf: Buffer;
  target: Target;
  confirmable: boolean;
  tries: number;
  timeoutMs: number;
  retransTimer: NodeJS.Timeout | null;
  deadlineTimer: NodeJS.Timeout | null;
  done: boolean;
  resolve(m: CoapMessage): void;
  reject(e: Error): void;
  /** For observations: later responses with this token. */
  onNotify: ((m: CoapMessage) => void) | null;
}

const EMPTY = Buffer.alloc(0);

function toResponse(m: CoapMessage, payload?: Buffer): CoapResponse {
  const r: CoapResponse = { code: codeToString(m.code), payload: payload ?? m.payload, options: m.options };
  for (const o of m.options) {
    if (o.number === Opt.CONTENT_FORMAT) r.contentFormat = decodeUint(o.value);
    else if (o.number === Opt.OBSERVE) r.observe = decodeUint(o.value);
    else if (o.number === Opt.ETAG) r.etag = o.value;
  }
  return r;
}

function optionUint(m: CoapMessage, num: number): number | undefined {
  const o = m.options.find((x) => x.number === num);
  return o === undefined ? undefined : decodeUint(o.value);
}

/** RFC 7641 §3.4: is notification (v2, t2) fresher than (v1, t1)? */
function fresher(v1: number, t1: number, v2: number, t2: number): boolean {
  return (v1 < v2 && v2 - v1 < 2 ** 23) || (v1 > v2 && v1 - v2 > 2 ** 23) || t2 > t1 + 128_000;
}

export class CoapClient {
  readonly #o: ClientSettings;
  #sockets = new Map<4 | 6, Socket>();
  #byToken = new Map<string, Exchange>();
  #byMid = new Map<number, Exchange>();
  #mid = (Math.random() * 0x10000) | 0;
  #token = (Math.random() * 0x100000000) >>> 0;
  #observations = 0;
  #closed = false;
  /** Tokens of finished exchanges, to ACK a retransmitted separate response (bounded). */
  #recent = new Set<string>();

  constructor(options: CoapClientOptions = {}) {
    const o = { ...DEFAULTS };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
    o.blockSize = blockSize(szxFor(o.blockSize));
    this.#o = o;
  }

  // ---- sockets ---------------------------------------------------------------------------------

  async #socket(family: 4 | 6): Promise<Socket> {
    const have = this.#sockets.get(family);
    if (have) return have;
    const bindAddress = this.#o.bindAddress ?? (family === 6 ? '::' : '0.0.0.0');
    if (isIP(bindAddress) !== 0 && isIP(bindAddress) !== family) {
      throw new CausewayError('bad-request', `bind address ${bindAddress} cannot reach an IPv${family} target`);
    }
    const sock = dgram.createSocket(family === 6 ? { type: 'udp6', ipv6Only: false } : { type: 'udp4' });
    this.#sockets.set(family, sock);
    sock.on('message', (msg, rinfo) => {
      try {
        this.#onMessage(msg, { address: rinfo.address, port: rinfo.port, family });
      } catch {
        /* a malformed or unexpected datagram never takes the client down */
      }
    });
    sock.on('error', () => {
      /* ICMP errors etc.: the exchange times out */
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: this.#o.port, address: bindAddress }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    this.#updateRef();
    return sock;
  }

  /** The socket keeps the process alive only while something is pending. */
  #updateRef(): void {
    const busy = this.#byMid.size > 0 || this.#byToken.size > 0 || this.#observations > 0;
    for (const s of this.#sockets.values()) {
      if (busy) s.ref();
      else s.unref();
    }
  }

  /** The local address of the socket for a family (after the first request). */
  localAddress(family: 4 | 6 = 4): { address: string; port: number } | null {
    const s = this.#sockets.get(family);
    if (!s) return null;
    const a = s.address();
    return { address: a.address, port: a.port };
  }

  async #resolve(uri: string): Promise<{ target: Target; path: string[]; query: string[] }> {
    const u = parseCoapUri(uri);
    let address = u.host;
    let family: 4 | 6 = u.ipFamily === 6 ? 6 : 4;
    if (u.ipFamily === 0) {
      const r = await lookup(u.host);
      address = r.address;
      family = r.family === 6 ? 6 : 4;
    }
    return { target: { address, port: u.port, family }, path: u.path, query: u.query };
  }

  // ---- one message exchange --------------------------------------------------------------------

  #nextMid(): number {
    this.#mid = (this.#mid + 1) & 0xffff;
    return this.#mid;
  }

  #newToken(): Buffer {
    this.#token = (this.#token + 1) >>> 0;
    const t = Buffer.allocUnsafe(4);
    t.writeUInt32BE(this.#token, 0);
    return t;
  }

  /**
   * Sends one request message and resolves with the response message (the first one, for an
   * observation; later ones go to `onNotify`).
   */
  async #exchange(
    target: Target,
    code: number,
    options: CoapOption[],
    payload: Buffer,
    opts: { confirmable: boolean; deadline: number; token?: Buffer; onNotify?: (m: CoapMessage) => void },
  ): Promise<CoapMessage> {
    if (this.#closed) throw new CausewayError('unavailable', 'CoapClient is closed');
    const sock = await this.#socket(target.family);
    const token = opts.token ?? this.#newToken();
    const mid = this.#nextMid();
    const type: MessageType = opts.confirmable ? CON : NON;
    const buf = encode({ type, code, messageId: mid, token, options, payload });
    const o = this.#o;
    return new Promise<CoapMessage>((resolve, reject) => {
      const ex: Exchange = {
        tokenKey: token.toString('hex'),
        token,
        mid,
        buf,
        target,
        confirmable: opts.confirmable,
        tries: 0,
        timeoutMs: o.ackTimeoutMs * (1 + Math.random() * (o.ackRandomFactor - 1)),
        retransTimer: null,
        deadlineTimer: null,
        done: false,
        resolve,
        reject,
        onNotify: opts.onNotify ?? null,
      };
      this.#byToken.set(ex.tokenKey, ex);
      this.#byMid.set(mid, ex);
      const remaining = opts.deadline - Date.now();
      ex.deadlineTimer = setTimeout(
        () => this.#fail(ex, new CoapTimeoutError(`no response from ${target.address}:${target.port} in time`)),
        Math.max(0, remaining),
      );
      if (opts.confirmable) this.#armRetransmit(ex);
      this.#updateRef();
      sock.send(buf, target.port, target.address);
    });
  }

  #armRetransmit(ex: Exchange): void {
    ex.retransTimer = setTimeout(() => {
      ex.retransTimer = null;
      if (ex.done) return;
      if (ex.tries >= this.#o.maxRetransmit) {
        this.#fail(ex, new CoapTimeoutError(`no ACK from ${ex.target.address}:${ex.target.port} after ${ex.tries + 1} transmissions`));
        return;
      }
      ex.tries++;
      ex.timeoutMs *= 2;
      this.#sockets.get(ex.target.family)?.send(ex.buf, ex.target.port, ex.target.address);
      this.#armRetransmit(ex);
    }, ex.timeoutMs);
  }

  #stopTimers(ex: Exchange): void {
    if (ex.retransTimer) clearTimeout(ex.retransTimer);
    if (ex.deadlineTimer) clearTimeout(ex.deadlineTimer);
    ex.retransTimer = null;
    ex.deadlineTimer = null;
  }

  #forget(ex: Exchange): void {
    if (this.#byToken.get(ex.tokenKey) === ex) this.#byToken.delete(ex.tokenKey);
    if (this.#byMid.get(ex.mid) === ex) this.#byMid.delete(ex.mid);
    this.#recent.add(ex.tokenKey);
    if (this.#recent.size > 1024) this.#recent.delete(this.#recent.values().next().value!);
    this.#updateRef();
  }

  #fail(ex: Exchange, e: Error): void {
    if (ex.done) return;
    ex.done = true;
    this.#stopTimers(ex);
    this.#forget(ex);
    ex.reject(e);
  }

  #complete(ex: Exchange, m: CoapMessage): void {
    if (ex.done) {
      ex.onNotify?.(m);
      return;
    }
    ex.done = true;
    this.#stopTimers(ex);
    if (this.#byMid.get(ex.mid) === ex) this.#byMid.delete(ex.mid);
    if (ex.onNotify === null) this.#forget(ex);
    ex.resolve(m);
  }

  #onMessage(raw: Buffer, from: Target): void {
    let m: CoapMessage;
    try {
      m = decode(raw);
    } catch {
      return; // a malformed datagram is dropped
    }
    const sock = this.#sockets.get(from.family);
    if (m.type === ACK || m.type === RST) {
      const ex = this.#byMid.get(m.messageId);
      if (!ex || ex.done) return;
      if (m.type === RST) {
        this.#fail(ex, new CoapResetError(`${from.address}:${from.port} reset message ${m.messageId}`));
        return;
      }
      if (m.code === 0) {
        // empty ACK: the response will come separately (§5.2.2); stop retransmitting
        if (ex.retransTimer) clearTimeout(ex.retransTimer);
        ex.retransTimer = null;
        this.#byMid.delete(ex.mid);
        return;
      }
      if (!m.token.equals(ex.token)) return;
      this.#complete(ex, m);
      return;
    }
    // CON or NON: a separate response or a notification
    if (m.code === 0) {
      if (m.type === CON) sock?.send(emptyMessage(RST, m.messageId), from.port, from.address); // ping
      return;
    }
    if (m.code < 64) {
      if (m.type === CON) sock?.send(emptyMessage(RST, m.messageId), from.port, from.address); // we serve nothing
      return;
    }
    const key = m.token.toString('hex');
    const ex = this.#byToken.get(key);
    if (!ex) {
      // unknown token: reject (this also ends a server's observation we no longer want, §3.6)
      if (m.type === CON && this.#recent.has(key)) sock?.send(emptyMessage(ACK, m.messageId), from.port, from.address);
      else sock?.send(emptyMessage(RST, m.messageId), from.port, from.address);
      return;
    }
    if (m.type === CON) sock?.send(emptyMessage(ACK, m.messageId), from.port, from.address);
    this.#complete(ex, m);
  }

  // ---- requests --------------------------------------------------------------------------------

  #deadline(init: { timeoutMs?: number; confirmable?: boolean }): number {
    if (init.timeoutMs !== undefined) return Date.now() + init.timeoutMs;
    // MAX_TRANSMIT_WAIT for the configured parameters (§4.8.2)
    const o = this.#o;
    return Date.now() + o.ackTimeoutMs * (2 ** (o.maxRetransmit + 1) - 1) * o.ackRandomFactor + 50;
  }

  #baseOptions(path: string[], query: string[], init: { contentFormat?: number; accept?: number; observe?: number; options?: CoapOption[] }): CoapOption[] {
    const opts: CoapOption[] = [];
    if (init.observe !== undefined) opts.push({ number: Opt.OBSERVE, value: encodeUint(init.observe) });
    for (const p of path) opts.push({ number: Opt.URI_PATH, value: Buffer.from(p, 'utf8') });
    if (init.contentFormat !== undefined) opts.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(init.contentFormat) });
    for (const q of query) opts.push({ number: Opt.URI_QUERY, value: Buffer.from(q, 'utf8') });
    if (init.accept !== undefined) opts.push({ number: Opt.ACCEPT, value: encodeUint(init.accept) });
    if (init.options) opts.push(...init.options);
    return opts;
  }

  /**
   * One request: Block1 upload when the payload is larger than the block size, Block2 follow when
   * the response comes in blocks. Rejects with CoapTimeoutError or CoapResetError.
   */
  async request(init: CoapRequestInit): Promise<CoapResponse> {
    const { target, path, query } = await this.#resolve(init.uri);
    const deadline = this.#deadline(init);
    const confirmable = init.confirmable ?? true;
    const code = methodCode(init.method);
    const payload = init.payload === undefined ? EMPTY : typeof init.payload === 'string' ? Buffer.from(init.payload, 'utf8') : init.payload;
    const base = this.#baseOptions(path, query, init);
    let res: CoapMessage;
    if (payload.length > this.#o.blockSize) res = await this.#sendBlock1(target, code, base, payload, confirmable, deadline);
    else res = await this.#exchange(target, code, base, payload, { confirmable, deadline });
    return this.#followBlock2(target, code, base, res, confirmable, deadline, payload.length > this.#o.blockSize);
  }

  async #sendBlock1(target: Target, code: number, base: CoapOption[], payload: Buffer, confirmable: boolean, deadline: number): Promise<CoapMessage> {
    let szx = szxFor(this.#o.blockSize);
    let offset = 0;
    for (;;) {
      const size = blockSize(szx);
      const num = Math.floor(offset / size);
      const chunk = payload.subarray(offset, offset + size);
      const more = offset + size < payload.length;
      const opts = [...base, { number: Opt.BLOCK1, value: encodeUint(blockToUint({ num, more, szx })) }];
      if (num === 0) opts.push({ number: Opt.SIZE1, value: encodeUint(payload.length) });
      const res = await this.#exchange(target, code, opts, chunk, { confirmable, deadline });
      if (!more) return res;
      if (res.code !== 0x5f) return res; // not 2.31 Continue: the server's final word (e.g. 4.13)
      const b1 = optionUint(res, Opt.BLOCK1);
      offset += size;
      if (b1 !== undefined) {
        const b = blockFromUint(b1);
        if (b.szx < szx) szx = b.szx; // late negotiation (RFC 7959 §2.5): the server wants smaller blocks
      }
    }
  }

  async #followBlock2(target: Target, code: number, base: CoapOption[], first: CoapMessage, confirmable: boolean, deadline: number, sentBlock1: boolean): Promise<CoapResponse> {
    const b2 = optionUint(first, Opt.BLOCK2);
    if (b2 === undefined || !blockFromUint(b2).more) return toResponse(first);
    let b = blockFromUint(b2);
    const chunks: Buffer[] = [first.payload];
    let total = first.payload.length;
    const etag = first.options.find((o) => o.number === Opt.ETAG)?.value;
    // later block requests: same method and URI, no payload, no Observe, no Block1 (RFC 7959 §2.4, §3.4)
    const opts = base.filter((o) => o.number !== Opt.OBSERVE && o.number !== Opt.CONTENT_FORMAT && o.number !== Opt.BLOCK1 && o.number !== Opt.SIZE1);
    void sentBlock1;
    const method = code;
    while (b.more) {
      const next = { num: Math.floor(total / blockSize(b.szx)), more: false, szx: b.szx };
      const res = await this.#exchange(target, method, [...opts, { number: Opt.BLOCK2, value: encodeUint(blockToUint(next)) }], EMPTY, { confirmable, deadline });
      if (res.code >> 5 !== 2) return toResponse(res);
      const rb = optionUint(res, Opt.BLOCK2);
      if (rb === undefined) return toResponse(res); // the server sent the whole thing after all
      const retag = res.options.find((o) => o.number === Opt.ETAG)?.value;
      if (etag !== undefined && retag !== undefined && !etag.equals(retag)) {
        throw new CausewayError('conflict', 'representation changed during a Block2 transfer (ETag differs)');
      }
      b = blockFromUint(rb);
      chunks.push(res.payload);
      total += res.payload.length;
      if (total > this.#o.maxResponseBytes) throw new CausewayError('too-large', `response larger than ${this.#o.maxResponseBytes} bytes`);
      if (res.payload.length === 0) break;
    }
    return toResponse(first, Buffer.concat(chunks, total));
  }

  /**
   * Registers an observation (GET with Observe=0). `first` is the registration response; every
   * later notification (fresher per RFC 7641 §3.4, Block2 followed) goes to `onNotify`. If the
   * server did not register (no Observe option in `first`), there are no notifications.
   */
  async observe(uri: string, onNotify: (res: CoapResponse) => void): Promise<{ first: CoapResponse; cancel(): Promise<void> }> {
    const { target, path, query } = await this.#resolve(uri);
    const base = this.#baseOptions(path, query, {});
    const token = this.#newToken();
    let lastSeq = -1;
    let lastAt = 0;
    let active = true;
    const ref: { ex?: Exchange } = {};
    const deliver = (m: CoapMessage): void => {
      if (!active) return;
      const seq = optionUint(m, Opt.OBSERVE);
      const now = Date.now();
      if (seq !== undefined && lastSeq >= 0 && !fresher(lastSeq, lastAt, seq, now)) return; // stale, reordered
      if (seq !== undefined) {
        lastSeq = seq;
        lastAt = now;
      } else end(); // a response without Observe ends the observation (§3.2)
      const b2 = optionUint(m, Opt.BLOCK2);
      if (b2 !== undefined && blockFromUint(b2).more) {
        this.#followBlock2(target, 1, base, m, true, this.#deadline({}), false).then(
          (r) => onNotify(r),
          () => {
            /* the rest of a notification could not be fetched: skip it, the next one will come */
          },
        );
      } else onNotify(toResponse(m));
    };
    const end = (): void => {
      if (!active) return;
      active = false;
      this.#observations--;
      if (ref.ex) this.#forget(ref.ex);
    };
    this.#observations++;
    let firstMsg: CoapMessage;
    try {
      firstMsg = await this.#exchange(target, 1, [{ number: Opt.OBSERVE, value: EMPTY }, ...base], EMPTY, {
        confirmable: true,
        deadline: this.#deadline({}),
        token,
        onNotify: deliver,
      });
    } catch (e) {
      active = false;
      this.#observations--;
      this.#updateRef();
      throw e;
    }
    ref.ex = this.#byToken.get(token.toString('hex'));
    const seq = optionUint(firstMsg, Opt.OBSERVE);
    if (seq === undefined) end();
    else {
      lastSeq = seq;
      lastAt = Date.now();
    }
    const first = await this.#followBlock2(target, 1, base, firstMsg, true, this.#deadline({}), false);
    return {
      first,
      cancel: async () => {
        if (!active) return;
        end();
        // RFC 7641 §3.6: GET with Observe=1 and the observation's token deregisters explicitly
        try {
          await this.#exchange(target, 1, [{ number: Opt.OBSERVE, value: encodeUint(1) }, ...base], EMPTY, {
            confirmable: true,
            deadline: Date.now() + Math.min(5000, this.#o.ackTimeoutMs * 3),
            token,
          });
        } catch {
          /* best effort: an unknown-token RST to the next notification also ends it */
        }
      },
    };
  }

  /** Sends a CoAP ping (empty CON) and resolves when the RST arrives. */
  async ping(uri: string, timeoutMs = 5000): Promise<void> {
    const { target } = await this.#resolve(uri);
    const sock = await this.#socket(target.family);
    const mid = this.#nextMid();
    await new Promise<void>((resolve, reject) => {
      const ex: Exchange = {
        tokenKey: `ping-${mid}`,
        token: EMPTY,
        mid,
        buf: emptyMessage(CON, mid),
        target,
        confirmable: true,
        tries: 0,
        timeoutMs,
        retransTimer: null,
        deadlineTimer: null,
        done: false,
        resolve: () => resolve(),
        reject: (e) => (e instanceof CoapResetError ? resolve() : reject(e)),
        onNotify: null,
      };
      this.#byMid.set(mid, ex);
      ex.deadlineTimer = setTimeout(() => this.#fail(ex, new CoapTimeoutError('no reply to ping')), timeoutMs);
      this.#updateRef();
      sock.send(ex.buf, target.port, target.address);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new CausewayError('unavailable', 'CoapClient closed');
    for (const ex of new Set([...this.#byMid.values(), ...this.#byToken.values()])) {
      if (!ex.done) this.#fail(ex, err);
      else this.#forget(ex);
    }
    this.#byMid.clear();
    this.#byToken.clear();
    const socks = [...this.#sockets.values()];
    this.#sockets.clear();
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

