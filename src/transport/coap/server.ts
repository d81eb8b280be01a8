/**
 * CoAP server on node:dgram (RFC 7252), with Observe (RFC 7641), block-wise transfer (RFC 7959) and
 * `/.well-known/core` (RFC 6690).
 *
 * The hot path (one datagram in, one datagram out) is written for speed:
 * - the header and options are parsed in one pass over the Buffer into locals (no option objects);
 * - a handler that returns a plain value is dispatched synchronously (no promise, no timer);
 * - the reply is encoded into one exactly-sized Buffer and sent with `socket.send(buf, port, addr)`
 *   on a socket whose address lookup answers IP literals synchronously (no DNS, no nextTick);
 * - the duplicate cache (dedup.ts) lives in typed arrays allocated once — no per-request objects
 *   that survive into the old generation — bounded in entries and bytes, FIFO, expiring after
 *   EXCHANGE_LIFETIME. Bounded memory is a trade-off: at 100k requests/s the default 65,536 entries
 *   remember ~0.65 s, at 1k/s over a minute; a retransmission older than that is applied again.
 *
 * Slow (Promise-returning) handlers get a separate response: an empty ACK after
 * `separateResponseAfterMs` (one shared timer), then the response as a CON of its own,
 * retransmitted until ACKed.
 *
 * Measured on the 2-core benchmark machine (bench/coap.ts, bench/coap-engine-micro.ts): the engine
 * costs ~1 µs of CPU per request beyond a bare dgram reply loop; the rest is the kernel's
 * recvmsg/sendmsg (~15–20 µs per request on that VM) and the handler.
 *
 * Deviation, on purpose: Proxy-Uri/Proxy-Scheme and other unsupported critical options get 4.02
 * (Bad Option) rather than 5.05, so that no request input makes the server answer 5.xx.
 */
import dgram from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { isUtf8 } from 'node:buffer';
import {
  ACK,
  ACK_RANDOM_FACTOR,
  ACK_TIMEOUT_MS,
  CON,
  Code,
  EXCHANGE_LIFETIME_MS,
  MAX_RETRANSMIT,
  NON,
  Opt,
  OptionWriter,
  RST,
  codeFromString,
  emptyMessage,
  szxFor,
  uintLength,
} from './codec.js';
import { DedupCache, ipv4ToUint } from './dedup.js';
import { filterLinks, formatLinks, type LinkDescription } from './link-format.js';

export type CoapMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';

export interface CoapRequest {
  method: CoapMethod;
  /** Decoded Uri-Path segments, e.g. ['kv', 'x']. */
  path: string[];
  /** Decoded Uri-Query items, e.g. ['ctx=abc']. */
  query: string[];
  /** The whole body (after Block1 reassembly). */
  payload: Buffer;
  contentFormat?: number;
  accept?: number;
  /** Observe option value on the request, if present. */
  observe?: number;
  remote: { address: string; port: number; family: 'IPv4' | 'IPv6' };
}

export interface CoapReply {
  /** Dotted form: '2.05', '2.04', '4.00', ... */
  code: string;
  /** Strings are sent as UTF-8. */
  payload?: Buffer | string;
  contentFormat?: number;
  etag?: Buffer;
  maxAge?: number;
}

export interface ResourceDef {
  /** 'lamport', or 'kv/*' where a trailing '*' matches one or more remaining segments. */
  path: string;
  title?: string;
  rt?: string;
  if?: string;
  ct?: number[];
  observable?: boolean;
  /** Gets every method; returns '4.05' itself for methods it refuses. */
  handle(req: CoapRequest, info?: HandleInfo): CoapReply | Promise<CoapReply>;
}

/** Extra context for a handler call; absent for an ordinary request. */
export interface HandleInfo {
  /** True when notifyObservers re-runs the handler with an observer's original GET. */
  notification: boolean;
}
const NOTIFICATION: HandleInfo = Object.freeze({ notification: true });

export interface CoapServerOptions {
  /** Bind address; an IPv6 literal (e.g. '::') makes a udp6 socket. Default '0.0.0.0'. */
  host?: string;
  /** Default 5683; 0 picks a free port. */
  port?: number;
  /** Largest request body (single datagram or Block1-reassembled); above it 4.13 with Size1. 8192. */
  maxBodyBytes?: number;
  /** Block size for Block2 responses (16…1024, power of two). 1024. */
  blockSize?: number;
  /** Duplicate-detection cache: most entries kept. 65536. */
  dedupMaxEntries?: number;
  /** Duplicate-detection cache: most response bytes kept. 8 MiB. */
  dedupMaxBytes?: number;
  /** Duplicate-detection cache: entry lifetime, EXCHANGE_LIFETIME (247 s). */
  dedupLifetimeMs?: number;
  /** Block1 reassembly: most uploads in progress. 256. */
  block1MaxStates?: number;
  /** Block1 reassembly: most bytes held over all uploads in progress. 4 MiB. */
  block1MaxBytes?: number;
  /** Block1 reassembly: an upload idle this long is dropped. 60 s. */
  block1LifetimeMs?: number;
  /** Every n-th notification to an observer is confirmable. 20. */
  observeConEvery?: number;
  /** A notification is confirmable when the last CON one to that observer is older than this. 24 h. */
  observeConIntervalMs?: number;
  /** Most observers over all resources; further registrations get a plain response. 10000. */
  maxObservers?: number;
  /** A handler still running after this long gets an empty ACK and later a separate response. 500 ms. */
  separateResponseAfterMs?: number;
  /** Retransmission of our own CON messages (separate responses, CON notifications). */
  ackTimeoutMs?: number;
  ackRandomFactor?: number;
  maxRetransmit?: number;
  /** For host '::': accept only IPv6 (default false: dual-stack). */
  ipv6Only?: boolean;
  /** Kernel receive buffer size to request (bytes). 4 MiB; failures are ignored. */
  recvBufferSize?: number;
  /**
   * Sends datagrams somewhere else than the UDP socket (a simulator, a benchmark of the engine
   * alone). Incoming datagrams are then fed with `receive()`; `listen()` is not needed.
   */
  send?: ((buf: Buffer, port: number, address: string) => void) | null;
}

const DEFAULTS: Readonly<Required<CoapServerOptions>> = Object.freeze({
  host: '0.0.0.0',
  port: 5683,
  maxBodyBytes: 8192,
  blockSize: 1024,
  dedupMaxEntries: 65536,
  dedupMaxBytes: 8 * 1024 * 1024,
  dedupLifetimeMs: EXCHANGE_LIFETIME_MS,
  block1MaxStates: 256,
  block1MaxBytes: 4 * 1024 * 1024,
  block1LifetimeMs: 60_000,
  observeConEvery: 20,
  observeConIntervalMs: 24 * 3600 * 1000,
  maxObservers: 10_000,
  separateResponseAfterMs: 500,
  ackTimeoutMs: ACK_TIMEOUT_MS,
  ackRandomFactor: ACK_RANDOM_FACTOR,
  maxRetransmit: MAX_RETRANSMIT,
  ipv6Only: false,
  recvBufferSize: 4 * 1024 * 1024,
  send: null,
});
type Settings = Required<CoapServerOptions>;

const METHODS: (CoapMethod | undefined)[] = [undefined, 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'];
const EMPTY = Buffer.alloc(0);
const NOT_FOUND: CoapReply = Object.freeze({ code: '4.04' });
const WELL_KNOWN = '.well-known/core';

/** Synchronous lookup for IP literals (the only addresses we ever send to): no DNS, no nextTick. */
function fastLookup(
  address: string,
  family: unknown,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  // hostnames never contain ':'; dotted quads are parsed without a regex (this runs per send)
  const f = address.includes(':') ? 6 : ipv4ToUint(address) >= 0 ? 4 : 0;
  if (f !== 0) {
    cb(null, address, f);
    return;
  }
  void import('node:dns').then((dns) => {
    const opts = typeof family === 'number' ? { family } : ((family ?? {}) as { family?: number });
    dns.lookup(address, { family: opts.family ?? 0 }, (err, a, fam) => cb(err, a, fam));
  });
}

// ---- duplicate detection -------------------------------------------------------------------------

// A request whose handler is still running (async) is not in the DedupCache yet but in
// #pending, keyed 'address|port|mid'; its state:
const ST_PENDING = 1; // nothing sent yet
const ST_PENDING_ACKED = 2; // empty ACK sent: the response goes out as a separate CON
const ST_ANSWERED = 3; // the handler's reply has gone out

// ---- per-request state ---------------------------------------------------------------------------

/** The request object handlers receive; its extra fields are read-only context. */
class IncomingRequest implements CoapRequest {
  method: CoapMethod;
  path: string[];
  query: string[];
  payload: Buffer;
  contentFormat?: number;
  accept?: number;
  observe?: number;
  remote: { address: string; port: number; family: 'IPv4' | 'IPv6' };
  /** CON (0) or NON (1). */
  readonly type: number;
  readonly messageId: number;
  /** The datagram, for the token (bytes 4 … 4+tkl). */
  readonly raw: Buffer;
  readonly tkl: number;
  constructor(method: CoapMethod, path: string[], query: string[], payload: Buffer, remote: RemoteInfo, type: number, mid: number, raw: Buffer, tkl: number) {
    this.method = method;
    this.path = path;
    this.query = query;
    this.payload = payload;
    this.remote = remote as CoapRequest['remote'];
    this.type = type;
    this.messageId = mid;
    this.raw = raw;
    this.tkl = tkl;
  }
  get token(): Buffer {
    return Buffer.from(this.raw.subarray(4, 4 + this.tkl));
  }
}

interface Ctx {
  req: IncomingRequest;
  /** ST_PENDING / ST_PENDING_ACKED while an async handler runs; 0 on the synchronous path. */
  state: number;
  pathKey: string;
  block1: number; // -1 when absent
  block2: number;
  size1: number;
  size2: number;
  started: bigint;
  res: ResourceDef | null;
  /** Whether the resource's handler ran for this request. */
  ran: boolean;
  /** For a CON whose handler is still running: when it gets an empty ACK (ms, Date.now clock). */
  ackAt: number;
}

// ---- Observe ---------------------------------------------------------------------------------------

interface Observer {
  key: string; // endpoint + query, unique within one path
  pathKey: string;
  address: string;
  port: number;
  token: Buffer;
  req: CoapRequest;
  res: ResourceDef;
  count: number;
  lastConAt: number;
  pending: OutCon | null; // a CON notification in flight
  alive: boolean;
}

/** One CON message of ours awaiting its ACK. */
interface OutCon {
  key: string;
  buf: Buffer;
  address: string;
  port: number;
  tries: number;
  timeoutMs: number;
  timer: NodeJS.Timeout | null;
  obs: Observer | null;
}

interface Block1State {
  key: string;
  chunks: Buffer[];
  received: number;
  expires: number;
}

function isThenable(v: unknown): v is Promise<CoapReply> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** FNV-1a over a representation: an ETag for block-wise bodies whose handler set none. */
function fnvEtag(b: Buffer): Buffer {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  const e = Buffer.allocUnsafe(4);
  e.writeUInt32BE(h >>> 0, 0);
  return e;
}

function endpointKey(address: string, port: number): string {
  return address + '|' + port;
}

/** The 'request' event: every request answered (not notifications, not duplicates). */
export interface CoapServerRequestEvent {
  req: CoapRequest;
  reply: CoapReply;
  ms: number;
  /** The resource whose handler ran, or null (unknown path, discovery, or an engine-level answer such as 4.02, 4.13, 2.31). */
  resource: ResourceDef | null;
}

export class CoapServer extends EventEmitter {
  readonly #o: Settings;
  #socket: Socket | null = null;
  #exact = new Map<string, ResourceDef>();
  #prefix: { segs: string[]; def: ResourceDef }[] = [];
  #wellKnownDoc: string | null = null;
  #wellKnown: ResourceDef;
  #mid = (Math.random() * 0x10000) | 0;
  #now = Date.now();
  #clock: NodeJS.Timeout | null = null;

  // duplicate cache
  #dedup: DedupCache;
  #pending = new Map<string, Ctx>();
  // CON requests with a running handler, in the order their empty ACK falls due (one timer for all)
  #ackQueue: Ctx[] = [];
  #ackHead = 0;
  #ackTimer: NodeJS.Timeout | null = null;

  // Block1 reassembly
  #block1 = new Map<string, Block1State>();
  #block1Bytes = 0;

  // representations of responses to unsafe requests that go out in Block2 blocks
  #b2kept = new Map<string, CoapReply & { expires: number }>();

  // Observe
  #observers = new Map<string, Map<string, Observer>>();
  #observerCount = 0;
  #obsSeq = 1;
  #nonNotifyMids = new Map<string, Observer>();

  // our CON messages in flight, by endpoint|mid
  #outCons = new Map<string, OutCon>();

  constructor(options: CoapServerOptions = {}) {
    super();
    const o: Settings = { ...DEFAULTS };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
    o.blockSize = 16 << szxFor(o.blockSize);
    this.#o = o;
    this.#dedup = new DedupCache({ maxEntries: o.dedupMaxEntries, maxBytes: o.dedupMaxBytes, lifetimeMs: o.dedupLifetimeMs });
    this.#wellKnown = {
      path: WELL_KNOWN,
      handle: (req) => {
        if (req.method !== 'GET') return { code: '4.05' };
        if (req.query.length === 0) {
          this.#wellKnownDoc ??= formatLinks(this.#links());
          return { code: '2.05', contentFormat: 40, payload: this.#wellKnownDoc };
        }
        return { code: '2.05', contentFormat: 40, payload: formatLinks(filterLinks(this.#links(), req.query)) };
      },
    };
    if (o.send) this.#startClock();
  }

  /** The settings in force (defaults merged with the constructor's options). */
  get settings(): Readonly<Settings> {
    return this.#o;
  }

  addResource(def: ResourceDef): void {
    const p = def.path.replace(/^\/+/, '');
    if (p.endsWith('*')) {
      const segs = p.slice(0, -1).replace(/\/$/, '');
      this.#prefix.push({ segs: segs === '' ? [] : segs.split('/'), def });
      this.#prefix.sort((a, b) => b.segs.length - a.segs.length);
    } else {
      this.#exact.set(p, def);
    }
    this.#wellKnownDoc = null;
  }

  #links(): LinkDescription[] {
    const out: LinkDescription[] = [];
    const add = (href: string, d: ResourceDef): void => {
      const l: LinkDescription = { href };
      if (d.rt !== undefined) l.rt = d.rt;
      if (d.if !== undefined) l.if = d.if;
      if (d.ct !== undefined) l.ct = d.ct;
      if (d.observable) l.obs = true;
      if (d.title !== undefined) l.title = d.title;
      out.push(l);
    };
    for (const [p, d] of this.#exact) add('/' + p, d);
    for (const { segs, def } of this.#prefix) add('/' + segs.join('/'), def);
    return out;
  }

  listen(): Promise<{ address: string; port: number; family: string }> {
    if (this.#socket) return Promise.reject(new Error('CoapServer: already listening'));
    const o = this.#o;
    const v6 = isIP(o.host) === 6;
    const sock = dgram.createSocket({
      type: v6 ? 'udp6' : 'udp4',
      ipv6Only: v6 ? o.ipv6Only : false,
      lookup: fastLookup as unknown as dgram.SocketOptions['lookup'],
    });
    this.#socket = sock;
    sock.on('message', this.#onMessage);
    return new Promise((resolve, reject) => {
      const onErr = (e: Error): void => {
        this.#socket = null;
        reject(e);
      };
      sock.once('error', onErr);
      sock.bind({ port: o.port, address: o.host }, () => {
        sock.off('error', onErr);
        sock.on('error', (e) => this.#emitError(e));
        try {
          sock.setRecvBufferSize(o.recvBufferSize);
          sock.setSendBufferSize(o.recvBufferSize);
        } catch {
          /* the kernel may cap it; not fatal */
        }
        this.#startClock();
        const a = sock.address();
        const info = { address: a.address, port: a.port, family: a.family };
        this.emit('listening', info);
        resolve(info);
      });
    });
  }

  /** The bound address (after listen). */
  address(): { address: string; port: number; family: string } | null {
    if (!this.#socket) return null;
    const a = this.#socket.address();
    return { address: a.address, port: a.port, family: a.family };
  }

  close(): Promise<void> {
    const sock = this.#socket;
    this.#socket = null;
    if (this.#clock) clearInterval(this.#clock);
    this.#clock = null;
    for (const c of this.#outCons.values()) if (c.timer) clearTimeout(c.timer);
    this.#outCons.clear();
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    this.#ackQueue = [];
    this.#ackHead = 0;
    this.#pending.clear();
    this.#observers.clear();
    this.#observerCount = 0;
    this.#nonNotifyMids.clear();
    this.#block1.clear();
    this.#block1Bytes = 0;
    this.#b2kept.clear();
    this.#dedup.clear();
    if (!sock) return Promise.resolve();
    return new Promise((resolve) => sock.close(() => resolve()));
  }

  /** Counters for tests, benchmarks and the dashboard. */
  stats(): { dedupEntries: number; dedupBytes: number; block1States: number; block1Bytes: number; observers: number; outstandingCon: number } {
    return {
      dedupEntries: this.#dedup.size,
      dedupBytes: this.#dedup.bytes,
      block1States: this.#block1.size,
      block1Bytes: this.#block1Bytes,
      observers: this.#observerCount,
      outstandingCon: this.#outCons.size,
    };
  }

  #startClock(): void {
    if (this.#clock) return;
    this.#clock = setInterval(() => this.#tick(), 250);
    this.#clock.unref();
  }

  #tick(): void {
    this.#now = Date.now();
    this.#dedup.expire(this.#now);
    // expire idle Block1 uploads (insertion order ≈ age; refreshed states are re-inserted)
    for (const st of this.#block1.values()) {
      if (st.expires > this.#now) break;
      this.#dropBlock1(st);
    }
    for (const [k, v] of this.#b2kept) {
      if (v.expires > this.#now) break;
      this.#b2kept.delete(k);
    }
  }

  #emitError(e: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', e instanceof Error ? e : new Error(String(e)));
  }

  #nextMid(): number {
    this.#mid = (this.#mid + 1) & 0xffff;
    return this.#mid;
  }

  #send(buf: Buffer, port: number, address: string): void {
    const s = this.#socket;
    if (s) s.send(buf, port, address);
    else if (this.#o.send) this.#o.send(buf, port, address);
  }

  /** Feeds one datagram as if it had arrived on the socket (for `send`-option use: simulation, benchmarks). */
  receive(msg: Buffer, remote: { address: string; port: number; family: 'IPv4' | 'IPv6' }): void {
    this.#onMessage(msg, { address: remote.address, port: remote.port, family: remote.family, size: msg.length });
  }

  // ---- datagram in ---------------------------------------------------------------------------------

  #onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    try {
      this.#handle(msg, rinfo);
    } catch (e) {
      // never past this boundary: a bug in here must not take the socket down
      this.#emitError(e);
    }
  };

  #rst(mid: number, rinfo: RemoteInfo): void {
    this.#send(emptyMessage(RST, mid), rinfo.port, rinfo.address);
  }

  #handle(msg: Buffer, rinfo: RemoteInfo): void {
    const len = msg.length;
    if (len < 4) return; // too short to answer
    const b0 = msg[0]!;
    if ((b0 & 0xc0) !== 0x40) return; // unknown version: silently ignore (§3)
    const type = (b0 >> 4) & 3;
    const tkl = b0 & 15;
    const code = msg[1]!;
    const mid = (msg[2]! << 8) | msg[3]!;
    if (tkl > 8 || 4 + tkl > len) {
      if (type === CON) this.#rst(mid, rinfo); // message format error (§4.2)
      return;
    }
    if (code === 0) {
      // empty message: ping, or the ACK/RST of one of our CON/NON messages
      if (len !== 4) {
        if (type === CON) this.#rst(mid, rinfo);
        return;
      }
      if (type === CON) this.#rst(mid, rinfo); // CoAP ping (§4.3)
      else if (type === ACK) this.#onPeerAck(mid, rinfo);
      else if (type === RST) this.#onPeerRst(mid, rinfo);
      return;
    }
    if (type >= ACK) {
      if (type === RST) this.#onPeerRst(mid, rinfo); // a non-empty RST is malformed; treat as a reject
      return; // a response to something we sent? we only send CON notifications and separate responses
    }
    if (code >= 32) {
      // a response (or reserved class) arriving as CON/NON: we asked for nothing
      if (type === CON) this.#rst(mid, rinfo);
      return;
    }

    // ---- one pass over the options ----
    let i = 4 + tkl;
    let num = 0;
    const path: string[] = [];
    const query: string[] = [];
    let pathKey = '';
    let contentFormat = -1;
    let accept = -1;
    let observe = -1;
    let block1 = -1;
    let block2 = -1;
    let size1 = -1;
    let size2 = -1;
    let badOption = 0;
    /** A Uri-Path or Uri-Query option that is not UTF-8 (RFC 7252 §3.2 strings), named for 4.00. */
    let badString: string | null = null;
    let payloadStart = len;
    while (i < len) {
      const b = msg[i++]!;
      if (b === 0xff) {
        if (i >= len) return this.#formatError(type, mid, rinfo);
        payloadStart = i;
        break;
      }
      let delta = b >> 4;
      let olen = b & 15;
      if (delta >= 13) {
        if (delta === 13) {
          if (i >= len) return this.#formatError(type, mid, rinfo);
          delta = msg[i++]! + 13;
        } else if (delta === 14) {
          if (i + 1 >= len) return this.#formatError(type, mid, rinfo);
          delta = ((msg[i]! << 8) | msg[i + 1]!) + 269;
          i += 2;
        } else return this.#formatError(type, mid, rinfo);
      }
      if (olen >= 13) {
        if (olen === 13) {
          if (i >= len) return this.#formatError(type, mid, rinfo);
          olen = msg[i++]! + 13;
        } else if (olen === 14) {
          if (i + 1 >= len) return this.#formatError(type, mid, rinfo);
          olen = ((msg[i]! << 8) | msg[i + 1]!) + 269;
          i += 2;
        } else return this.#formatError(type, mid, rinfo);
      }
      num += delta;
      const vs = i;
      i += olen;
      if (i > len) return this.#formatError(type, mid, rinfo);
      switch (num) {
        case 11: {
          // Uri-Path
          if (badString === null && !isUtf8(msg.subarray(vs, i))) badString = 'Uri-Path';
          const seg = msg.toString('utf8', vs, i);
          pathKey = path.length === 0 ? seg : pathKey + '/' + seg;
          path.push(seg);
          break;
        }
        case 15: // Uri-Query
          if (badString === null && !isUtf8(msg.subarray(vs, i))) badString = 'Uri-Query';
          query.push(msg.toString('utf8', vs, i));
          break;
        case 12: // Content-Format (elective: a bad length is ignored)
          if (olen <= 2) contentFormat = olen === 0 ? 0 : olen === 1 ? msg[vs]! : (msg[vs]! << 8) | msg[vs + 1]!;
          break;
        case 17: // Accept (critical)
          if (olen <= 2) accept = olen === 0 ? 0 : olen === 1 ? msg[vs]! : (msg[vs]! << 8) | msg[vs + 1]!;
          else if (badOption === 0) badOption = num;
          break;
        case 6: // Observe
          if (olen <= 3) observe = uintAt(msg, vs, olen);
          break;
        case 23: // Block2
          if (olen <= 3) block2 = uintAt(msg, vs, olen);
          else if (badOption === 0) badOption = num;
          break;
        case 27: // Block1
          if (olen <= 3) block1 = uintAt(msg, vs, olen);
          else if (badOption === 0) badOption = num;
          break;
        case 60: // Size1
          if (olen <= 4) size1 = uintAt(msg, vs, olen);
          break;
        case 28: // Size2
          if (olen <= 4) size2 = uintAt(msg, vs, olen);
          break;
        case 3: // Uri-Host: recognised; no virtual hosting
        case 7: // Uri-Port
          break;
        default:
          if ((num & 1) === 1 && badOption === 0) badOption = num; // unrecognised critical option
      }
    }

    // ---- duplicate detection (§4.5): same endpoint + message ID → answer from the cache ----
    const slot = this.#dedup.find(rinfo.address, rinfo.port, mid);
    if (slot >= 0) {
      if (type === CON) {
        const r = this.#dedup.reply(slot);
        if (r !== null) this.#send(r, rinfo.port, rinfo.address);
      }
      return; // a duplicate NON is silently ignored (§4.5)
    }
    if (this.#pending.size > 0) {
      const p = this.#pending.get(rinfo.address + '|' + rinfo.port + '|' + mid);
      if (p !== undefined) {
        if (type === CON) {
          // the client is retransmitting while a slow handler runs: ACK now, respond separately
          p.state = ST_PENDING_ACKED;
          this.#send(emptyMessage(ACK, mid), rinfo.port, rinfo.address);
        }
        return;
      }
    }

    if (badOption !== 0) {
      if (type === CON) this.#finishRaw(msg, tkl, type, mid, rinfo, Code.BAD_OPTION, `unsupported critical option ${badOption}`);
      else {
        this.#dedup.add(rinfo.address, rinfo.port, mid, null, this.#now);
        this.#rst(mid, rinfo); // a NON with an unrecognised critical option is rejected (§5.4.1)
      }
      return;
    }
    if (badString !== null) {
      // Decoding would turn each bad byte into U+FFFD: different paths would name one resource.
      this.#finishRaw(msg, tkl, type, mid, rinfo, Code.BAD_REQUEST, `${badString} is not valid UTF-8`);
      return;
    }
    const method = METHODS[code];
    if (method === undefined) {
      this.#finishRaw(msg, tkl, type, mid, rinfo, Code.METHOD_NOT_ALLOWED, undefined);
      return;
    }
    const payload = payloadStart < len ? msg.subarray(payloadStart) : EMPTY;
    const req = new IncomingRequest(method, path, query, payload, rinfo, type, mid, msg, tkl);
    if (contentFormat >= 0) req.contentFormat = contentFormat;
    if (accept >= 0) req.accept = accept;
    if (observe >= 0) req.observe = observe;
    const ctx: Ctx = { req, state: 0, pathKey, block1, block2, size1, size2, started: 0n, res: null, ran: false, ackAt: 0 };
    if (this.listenerCount('request') > 0) ctx.started = process.hrtime.bigint();

    // ---- routing ----
    let res = this.#exact.get(pathKey);
    if (res === undefined) {
      if (pathKey === WELL_KNOWN) res = this.#wellKnown;
      else res = this.#matchPrefix(path);
      if (res === undefined) return this.#finish(ctx, NOT_FOUND);
    }
    ctx.res = res;

    // ---- body limits and Block1 reassembly (RFC 7959 §2.5) ----
    const maxBody = this.#o.maxBodyBytes;
    if (payload.length > maxBody || size1 > maxBody) return this.#tooLarge(ctx);
    if (block1 >= 0 && !this.#block1Step(ctx)) return;
    if (block2 >= 16 && code !== 1 && code !== 5 && res !== this.#wellKnown) {
      // a later block of the response to an unsafe request (RFC 7959 §2.5, Figure 8): served from
      // the representation kept when block 0 went out — never by running the handler again
      const kept = this.#b2kept.get(this.#b2key(ctx));
      return this.#finish(ctx, kept ?? { code: '4.08', payload: 'no response representation to continue' });
    }

    let reply: CoapReply | Promise<CoapReply>;
    ctx.ran = res !== this.#wellKnown;
    try {
      reply = res.handle(req);
    } catch (e) {
      this.#emitError(e);
      reply = { code: '5.00', payload: 'Internal Server Error' };
    }
    if (isThenable(reply)) this.#awaitReply(ctx, reply);
    else this.#finish(ctx, reply);
  }

  #formatError(type: number, mid: number, rinfo: RemoteInfo): void {
    if (type === CON) this.#rst(mid, rinfo); // a CON with a format error is rejected (§4.2)
  }

  #matchPrefix(path: string[]): ResourceDef | undefined {
    outer: for (const p of this.#prefix) {
      const n = p.segs.length;
      if (path.length <= n) continue;
      for (let k = 0; k < n; k++) if (path[k] !== p.segs[k]) continue outer;
      return p.def;
    }
    return undefined;
  }

  // ---- Block1 ---------------------------------------------------------------------------------------

  #dropBlock1(st: Block1State): void {
    if (this.#block1.get(st.key) === st) {
      this.#block1.delete(st.key);
      this.#block1Bytes -= st.received;
    }
  }

  /** One Block1 request. Returns true when the body is complete and the handler should run. */
  #block1Step(ctx: Ctx): boolean {
    const { req, block1 } = ctx;
    const num = Math.floor(block1 / 16);
    const more = (block1 & 8) !== 0;
    const szx = block1 & 7;
    if (szx === 7) {
      this.#finish(ctx, { code: '4.02', payload: 'BERT (SZX 7) is for reliable transports' });
      return false;
    }
    const size = 16 << szx;
    if (more && req.payload.length !== size) {
      this.#finish(ctx, { code: '4.00', payload: 'Block1 with M=1 must carry exactly one block' });
      return false;
    }
    // keyed by endpoint + method + URI, not token: some clients (aiocoap) use a new token per block
    const key = req.remote.address + '|' + req.remote.port + '|' + req.method + '|' + ctx.pathKey + '?' + req.query.join('&');
    let st = this.#block1.get(key);
    const offset = num * size;
    if (num === 0) {
      if (st) this.#dropBlock1(st);
      st = { key, chunks: [], received: 0, expires: 0 };
    } else if (st === undefined || st.received !== offset) {
      if (st && more && st.received === offset + size) {
        // the same block again under a new message ID (client timed out and re-sent): idempotent
        this.#finish(ctx, { code: '2.31' }, block1);
        return false;
      }
      if (st) this.#dropBlock1(st);
      this.#finish(ctx, { code: '4.08', payload: 'Block1 out of sequence' });
      return false;
    } else {
      this.#block1.delete(key); // re-inserted below: Map order stays oldest-first
      this.#block1Bytes -= st.received;
    }
    if (offset + req.payload.length > this.#o.maxBodyBytes) {
      this.#tooLarge(ctx);
      return false;
    }
    st.chunks.push(Buffer.from(req.payload));
    st.received += req.payload.length;
    if (!more) {
      req.payload = st.chunks.length === 1 ? st.chunks[0]! : Buffer.concat(st.chunks, st.received);
      return true;
    }
    st.expires = this.#now + this.#o.block1LifetimeMs;
    this.#block1.set(key, st);
    this.#block1Bytes += st.received;
    // bounded state: evict the oldest uploads
    for (const old of this.#block1.values()) {
      if (this.#block1.size <= this.#o.block1MaxStates && this.#block1Bytes <= this.#o.block1MaxBytes) break;
      if (old === st) break;
      this.#dropBlock1(old);
    }
    this.#finish(ctx, { code: '2.31' }, block1);
    return false;
  }

  #b2key(ctx: Ctx): string {
    const r = ctx.req;
    return r.remote.address + '|' + r.remote.port + '|' + r.method + '|' + ctx.pathKey + '?' + r.query.join('&');
  }

  #keepBlock2(ctx: Ctx, reply: CoapReply): void {
    const key = this.#b2key(ctx);
    this.#b2kept.delete(key);
    this.#b2kept.set(key, { ...reply, expires: this.#now + this.#o.block1LifetimeMs });
    // bounded like Block1 state: oldest first
    while (this.#b2kept.size > this.#o.block1MaxStates) this.#b2kept.delete(this.#b2kept.keys().next().value!);
  }

  #tooLarge(ctx: Ctx): void {
    this.#finish(ctx, { code: '4.13', payload: `Request body larger than ${this.#o.maxBodyBytes} bytes` }, -1, this.#o.maxBodyBytes);
  }

  // ---- replies ----------------------------------------------------------------------------------------

  #pendingKey(ctx: Ctx): string {
    return ctx.req.remote.address + '|' + ctx.req.remote.port + '|' + ctx.req.messageId;
  }

  #awaitReply(ctx: Ctx, p: Promise<CoapReply>): void {
    ctx.state = ST_PENDING;
    this.#pending.set(this.#pendingKey(ctx), ctx);
    if (ctx.req.type === CON) {
      // no timer per request: the delay is the same for all, so the queue is in due order
      ctx.ackAt = Date.now() + this.#o.separateResponseAfterMs;
      this.#ackQueue.push(ctx);
      if (this.#ackTimer === null) this.#armAckTimer();
    }
    p.then(
      (r) => this.#afterAsync(ctx, r),
      (e: unknown) => {
        this.#emitError(e);
        this.#afterAsync(ctx, { code: '5.00', payload: 'Internal Server Error' });
      },
    );
  }

  #armAckTimer(): void {
    const q = this.#ackQueue;
    while (this.#ackHead < q.length && q[this.#ackHead]!.state !== ST_PENDING) this.#ackHead++; // answered already
    if (this.#ackHead >= q.length) {
      this.#ackQueue = [];
      this.#ackHead = 0;
      this.#ackTimer = null;
      return;
    }
    const delay = Math.max(0, q[this.#ackHead]!.ackAt - Date.now());
    this.#ackTimer = setTimeout(() => this.#sendDueAcks(), delay);
  }

  /** Empty ACKs for slow handlers (§5.2.2): the response will follow as a separate CON. */
  #sendDueAcks(): void {
    const now = Date.now();
    const q = this.#ackQueue;
    while (this.#ackHead < q.length && q[this.#ackHead]!.ackAt <= now) {
      const ctx = q[this.#ackHead++]!;
      if (ctx.state === ST_PENDING) {
        ctx.state = ST_PENDING_ACKED;
        this.#send(emptyMessage(ACK, ctx.req.messageId), ctx.req.remote.port, ctx.req.remote.address);
      }
    }
    if (this.#ackHead > 1024 && this.#ackHead * 2 > q.length) {
      this.#ackQueue = q.slice(this.#ackHead);
      this.#ackHead = 0;
    }
    this.#armAckTimer();
  }

  #afterAsync(ctx: Ctx, reply: CoapReply): void {
    if (!this.#pending.delete(this.#pendingKey(ctx))) return; // closed meanwhile
    try {
      this.#finish(ctx, reply);
    } catch (e) {
      this.#emitError(e);
    }
    ctx.state = ST_ANSWERED;
  }

  /**
   * Sends the reply to a request: Observe registration, Block2 slicing, encoding, the duplicate
   * cache, and the 'request' event. `block1Echo`/`size1` add those options (≥ 0).
   */
  #finish(ctx: Ctx, reply: CoapReply, block1Echo = -1, size1 = -1): void {
    const req = ctx.req;
    let code = codeFromString(reply.code);
    if (code === undefined || code < 64) {
      this.#emitError(new Error(`CoapServer: handler for /${ctx.pathKey} returned bad code ${String(reply.code)}`));
      code = Code.INTERNAL_SERVER_ERROR;
      reply = { code: '5.00' };
    }
    if (ctx.block1 >= 0 && block1Echo < 0 && reply.code !== '4.13' && reply.code !== '4.08') block1Echo = ctx.block1 & ~8; // final block: M=0
    // RFC 7252 §5.10.4: a success in another Content-Format than the one the client will Accept → 4.06
    if (req.accept !== undefined && reply.contentFormat !== undefined && reply.contentFormat !== req.accept && code >> 5 === 2) {
      reply = { code: '4.06', payload: `Not Acceptable: the representation is in Content-Format ${reply.contentFormat}` };
      code = Code.NOT_ACCEPTABLE;
    }
    let payload: Buffer | string | undefined = reply.payload;
    let etag = reply.etag;

    // Observe (RFC 7641 §4.1): GET with Observe=0 registers, Observe=1 deregisters
    let observeSeq = -1;
    if (req.method === 'GET' && req.observe !== undefined && ctx.res !== null) {
      if (req.observe === 0) {
        if (ctx.res.observable && code >> 5 === 2 && ctx.block2 < 16 && this.#register(ctx)) observeSeq = this.#nextSeq();
      } else if (req.observe === 1) this.#deregister(ctx.pathKey, endpointKey(req.remote.address, req.remote.port) + '?' + req.query.join('&'));
    }

    // Block2 (RFC 7959 §2.4)
    let block2 = -1;
    let size2 = -1;
    const plen = payload === undefined ? 0 : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    let bs = this.#o.blockSize;
    if (ctx.block2 >= 0) {
      const reqSize = 16 << Math.min(ctx.block2 & 7, 6);
      const offset = Math.floor(ctx.block2 / 16) * reqSize;
      if (reqSize < bs) bs = reqSize;
      if (offset > 0 && offset >= plen && code >> 5 === 2) {
        reply = { code: '4.02', payload: 'Block2 beyond the end of the representation' };
        code = Code.BAD_OPTION;
        payload = reply.payload;
        etag = undefined;
        observeSeq = -1;
      } else {
        const bnum = Math.floor(offset / bs);
        const buf = typeof payload === 'string' ? Buffer.from(payload) : (payload ?? EMPTY);
        const end = Math.min(plen, (bnum + 1) * bs);
        payload = buf.subarray(bnum * bs, end);
        block2 = bnum * 16 + (end < plen ? 8 : 0) + szxFor(bs);
        if (plen > bs && etag === undefined) etag = fnvEtag(buf);
        if (bnum === 0 && (plen > bs || ctx.size2 >= 0)) size2 = plen;
      }
    } else if (plen > bs) {
      const buf = typeof payload === 'string' ? Buffer.from(payload) : payload!;
      payload = buf.subarray(0, bs);
      block2 = 8 + szxFor(bs);
      size2 = plen;
      if (etag === undefined) etag = fnvEtag(buf);
      if (req.method !== 'GET' && req.method !== 'FETCH') this.#keepBlock2(ctx, { ...reply, payload: buf, etag });
    }

    const confirmable = req.type === CON;
    const addr = req.remote.address;
    const port = req.remote.port;
    if (confirmable && ctx.state === ST_PENDING_ACKED) {
      // separate response (§5.2.2): a CON of its own, retransmitted until ACKed; a duplicate of the
      // request gets the empty ACK again
      const out = encodeReply(CON, code, this.#nextMid(), req.raw, 4, req.tkl, payload, reply.contentFormat, etag, reply.maxAge, observeSeq, block2, block1Echo, size2, size1);
      this.#dedup.add(addr, port, req.messageId, emptyMessage(ACK, req.messageId), this.#now, true);
      this.#sendCon(out, addr, port, null);
    } else {
      const out = encodeReply(confirmable ? ACK : NON, code, confirmable ? req.messageId : this.#nextMid(), req.raw, 4, req.tkl, payload, reply.contentFormat, etag, reply.maxAge, observeSeq, block2, block1Echo, size2, size1);
      // synchronous path: the key of this request's dedup lookup is still current
      this.#dedup.add(addr, port, req.messageId, confirmable ? out : null, this.#now, ctx.state !== 0);
      this.#send(out, port, addr);
    }
    if (ctx.started !== 0n) {
      const ms = Number(process.hrtime.bigint() - ctx.started) / 1e6;
      this.emit('request', { req, reply, ms, resource: ctx.ran ? ctx.res : null } satisfies CoapServerRequestEvent);
    }
  }

  /** A reply built before any request object exists (bad option, unknown method). */
  #finishRaw(msg: Buffer, tkl: number, type: number, mid: number, rinfo: RemoteInfo, code: number, text: string | undefined): void {
    const confirmable = type === CON;
    const out = encodeReply(confirmable ? ACK : NON, code, confirmable ? mid : this.#nextMid(), msg, 4, tkl, text, text === undefined ? undefined : 0, undefined, undefined, -1, -1, -1, -1, -1);
    this.#dedup.add(rinfo.address, rinfo.port, mid, confirmable ? out : null, this.#now);
    this.#send(out, rinfo.port, rinfo.address);
  }

  // ---- our own CON messages ---------------------------------------------------------------------------

  #sendCon(buf: Buffer, address: string, port: number, obs: Observer | null): OutCon {
    const mid = (buf[2]! << 8) | buf[3]!;
    const o = this.#o;
    const c: OutCon = {
      key: endpointKey(address, port) + '|' + mid,
      buf,
      address,
      port,
      tries: 0,
      timeoutMs: o.ackTimeoutMs * (1 + Math.random() * (o.ackRandomFactor - 1)),
      timer: null,
      obs,
    };
    this.#outCons.set(c.key, c);
    this.#armCon(c);
    this.#send(buf, port, address);
    return c;
  }

  #armCon(c: OutCon): void {
    c.timer = setTimeout(() => {
      c.timer = null;
      if (this.#outCons.get(c.key) !== c) return;
      if (c.tries >= this.#o.maxRetransmit) {
        this.#outCons.delete(c.key);
        if (c.obs) {
          c.obs.pending = null;
          this.#removeObserver(c.obs); // RFC 7641 §4.5: an unacknowledged CON notification ends it
        }
        return;
      }
      c.tries++;
      c.timeoutMs *= 2;
      this.#send(c.buf, c.port, c.address);
      this.#armCon(c);
    }, c.timeoutMs);
    c.timer.unref();
  }

  #onPeerAck(mid: number, rinfo: RemoteInfo): void {
    const key = endpointKey(rinfo.address, rinfo.port) + '|' + mid;
    const c = this.#outCons.get(key);
    if (!c) return;
    this.#outCons.delete(key);
    if (c.timer) clearTimeout(c.timer);
    if (c.obs) {
      c.obs.pending = null;
      c.obs.lastConAt = this.#now;
    }
  }

  #onPeerRst(mid: number, rinfo: RemoteInfo): void {
    const key = endpointKey(rinfo.address, rinfo.port) + '|' + mid;
    const c = this.#outCons.get(key);
    if (c) {
      this.#outCons.delete(key);
      if (c.timer) clearTimeout(c.timer);
      if (c.obs) {
        c.obs.pending = null;
        this.#removeObserver(c.obs); // RFC 7641 §3.6: RST in reply to a notification deregisters
      }
      return;
    }
    const o = this.#nonNotifyMids.get(key);
    if (o) {
      this.#nonNotifyMids.delete(key);
      this.#removeObserver(o);
    }
  }

  // ---- Observe -----------------------------------------------------------------------------------------

  #nextSeq(): number {
    const s = this.#obsSeq;
    this.#obsSeq = (this.#obsSeq + 1) & 0xffffff;
    return s;
  }

  #register(ctx: Ctx): boolean {
    const req = ctx.req;
    const key = endpointKey(req.remote.address, req.remote.port) + '?' + req.query.join('&');
    let byPath = this.#observers.get(ctx.pathKey);
    const existing = byPath?.get(key);
    if (existing) {
      // §4.1: the same endpoint re-registering replaces its entry (the token may differ)
      existing.token = req.token;
      existing.req = req;
      return true;
    }
    if (this.#observerCount >= this.#o.maxObservers) return false;
    if (!byPath) {
      byPath = new Map();
      this.#observers.set(ctx.pathKey, byPath);
    }
    byPath.set(key, {
      key,
      pathKey: ctx.pathKey,
      address: req.remote.address,
      port: req.remote.port,
      token: req.token,
      req, // the original GET: notifications re-run the handler with it
      res: ctx.res!,
      count: 0,
      lastConAt: this.#now,
      pending: null,
      alive: true,
    });
    this.#observerCount++;
    return true;
  }

  #deregister(pathKey: string, key: string): void {
    const o = this.#observers.get(pathKey)?.get(key);
    if (o) this.#removeObserver(o);
  }

  #removeObserver(o: Observer): void {
    if (!o.alive) return;
    o.alive = false;
    const byPath = this.#observers.get(o.pathKey);
    if (byPath?.get(o.key) === o) {
      byPath.delete(o.key);
      this.#observerCount--;
      if (byPath.size === 0) this.#observers.delete(o.pathKey);
    }
    if (o.pending) {
      if (o.pending.timer) clearTimeout(o.pending.timer);
      this.#outCons.delete(o.pending.key);
      o.pending = null;
    }
  }

  /** Number of observers of a path (exact path, e.g. 'lamport' or 'kv/x'). */
  observerCount(path?: string): number {
    if (path === undefined) return this.#observerCount;
    return this.#observers.get(path.replace(/^\/+/, ''))?.size ?? 0;
  }

  /**
   * Re-runs the resource's handler with each observer's original GET and sends the result as a
   * notification (RFC 7641 §4.2) with a fresh sequence number. `path` is exact ('kv/x') or ends in
   * '*' ('kv/*') to notify every observed path under the prefix.
   */
  notifyObservers(path: string): void {
    if (this.#observerCount === 0) return;
    const p = path.replace(/^\/+/, '');
    if (p.endsWith('*')) {
      const prefix = p.slice(0, -1);
      for (const [k, m] of this.#observers) if (k.startsWith(prefix)) this.#notifyAll(m);
      return;
    }
    const m = this.#observers.get(p);
    if (m) this.#notifyAll(m);
  }

  #notifyAll(m: Map<string, Observer>): void {
    for (const o of [...m.values()]) {
      let r: CoapReply | Promise<CoapReply>;
      try {
        r = o.res.handle(o.req, NOTIFICATION);
      } catch (e) {
        this.#emitError(e);
        r = { code: '5.00', payload: 'Internal Server Error' };
      }
      if (isThenable(r)) {
        r.then(
          (x) => this.#sendNotification(o, x),
          (e: unknown) => {
            this.#emitError(e);
            this.#sendNotification(o, { code: '5.00' });
          },
        );
      } else this.#sendNotification(o, r);
    }
  }

  #sendNotification(o: Observer, reply: CoapReply): void {
    if (!o.alive || (!this.#socket && !this.#o.send)) return;
    let code = codeFromString(reply.code) ?? Code.INTERNAL_SERVER_ERROR;
    if (code < 64) code = Code.INTERNAL_SERVER_ERROR;
    const ok = code >> 5 === 2;
    o.count++;
    const con = o.pending !== null || !ok || o.count % this.#o.observeConEvery === 0 || this.#now - o.lastConAt >= this.#o.observeConIntervalMs;
    let payload = reply.payload;
    let etag = reply.etag;
    let block2 = -1;
    let size2 = -1;
    const bs = this.#o.blockSize;
    const plen = payload === undefined ? 0 : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (plen > bs) {
      const buf = typeof payload === 'string' ? Buffer.from(payload) : payload!;
      payload = buf.subarray(0, bs);
      block2 = 8 + szxFor(bs);
      size2 = plen;
      if (etag === undefined) etag = fnvEtag(buf);
    }
    const mid = this.#nextMid();
    const out = encodeReply(con ? CON : NON, code, mid, o.token, 0, o.token.length, payload, reply.contentFormat, etag, reply.maxAge, ok ? this.#nextSeq() : -1, block2, -1, size2, -1);
    if (!ok) this.#removeObserver(o); // §3.2: a non-2.xx notification ends the observation
    if (con) {
      if (o.pending && ok) {
        // §4.5.2: a newer notification replaces the one in flight; retransmission state continues
        const c = o.pending;
        this.#outCons.delete(c.key);
        c.buf = out;
        c.key = endpointKey(o.address, o.port) + '|' + mid;
        this.#outCons.set(c.key, c);
        this.#send(out, o.port, o.address);
      } else if (ok) {
        o.pending = this.#sendCon(out, o.address, o.port, o);
        o.lastConAt = this.#now;
      } else this.#sendCon(out, o.address, o.port, null);
    } else {
      const key = endpointKey(o.address, o.port) + '|' + mid;
      this.#nonNotifyMids.set(key, o);
      if (this.#nonNotifyMids.size > 4 * this.#o.maxObservers + 64) {
        const first = this.#nonNotifyMids.keys().next().value;
        if (first !== undefined) this.#nonNotifyMids.delete(first);
      }
      this.#send(out, o.port, o.address);
    }
  }
}

function uintAt(b: Buffer, off: number, len: number): number {
  let v = 0;
  for (let k = 0; k < len; k++) v = v * 256 + b[off + k]!;
  return v;
}

/**
 * Encodes a response in one exactly-sized allocation. Numeric options are omitted when < 0
 * (or undefined). Options go out in number order: ETag 4, Observe 6, Content-Format 12,
 * Max-Age 14, Block2 23, Block1 27, Size2 28, Size1 60.
 */
export function encodeReply(
  type: number,
  code: number,
  mid: number,
  tokenSrc: Buffer,
  tokenStart: number,
  tkl: number,
  payload: Buffer | string | undefined,
  contentFormat: number | undefined,
  etag: Buffer | undefined,
  maxAge: number | undefined,
  observe: number,
  block2: number,
  block1: number,
  size2: number,
  size1: number,
): Buffer {
  const isStr = typeof payload === 'string';
  const plen = payload === undefined ? 0 : isStr ? Buffer.byteLength(payload) : payload.length;
  let size = 4 + tkl;
  let prev = 0;
  if (etag !== undefined) {
    size += OptionWriter.size(prev, 4, etag.length);
    prev = 4;
  }
  if (observe >= 0) {
    size += OptionWriter.size(prev, 6, uintLength(observe));
    prev = 6;
  }
  if (contentFormat !== undefined) {
    size += OptionWriter.size(prev, 12, uintLength(contentFormat));
    prev = 12;
  }
  if (maxAge !== undefined) {
    size += OptionWriter.size(prev, 14, uintLength(maxAge));
    prev = 14;
  }
  if (block2 >= 0) {
    size += OptionWriter.size(prev, 23, uintLength(block2));
    prev = 23;
  }
  if (block1 >= 0) {
    size += OptionWriter.size(prev, 27, uintLength(block1));
    prev = 27;
  }
  if (size2 >= 0) {
    size += OptionWriter.size(prev, 28, uintLength(size2));
    prev = 28;
  }
  if (size1 >= 0) size += OptionWriter.size(prev, 60, uintLength(size1));
  if (plen > 0) size += 1 + plen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 0x40 | (type << 4) | tkl;
  buf[1] = code;
  buf[2] = mid >> 8;
  buf[3] = mid & 0xff;
  if (tkl > 0) tokenSrc.copy(buf, 4, tokenStart, tokenStart + tkl);
  const w = new OptionWriter(buf, 4 + tkl);
  if (etag !== undefined) w.bytes(Opt.ETAG, etag);
  if (observe >= 0) w.uint(Opt.OBSERVE, observe);
  if (contentFormat !== undefined) w.uint(Opt.CONTENT_FORMAT, contentFormat);
  if (maxAge !== undefined) w.uint(Opt.MAX_AGE, maxAge);
  if (block2 >= 0) w.uint(Opt.BLOCK2, block2);
  if (block1 >= 0) w.uint(Opt.BLOCK1, block1);
  if (size2 >= 0) w.uint(Opt.SIZE2, size2);
  if (size1 >= 0) w.uint(Opt.SIZE1, size1);
  if (plen > 0) {
    buf[w.off] = 0xff;
    if (isStr) buf.write(payload, w.off + 1, 'utf8');
    else payload!.copy(buf, w.off + 1);
  }
  return buf;
}
