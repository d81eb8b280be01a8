/**
 * CoAP load generator: N confirmable requests in flight over one or a few UDP sockets, for a fixed
 * duration (or count); reports req/s, p50/p90/p99/max latency, retransmissions and timeouts.
 *
 * It is deliberately minimal on the hot path: requests are built by hand (a pre-encoded header and
 * options, then the payload), responses are matched by message ID in a per-socket slot table, and
 * latency goes into a 1-µs histogram. Retransmission (for lost datagrams) is a single 5-ms sweep.
 *
 * Usage (compiled): node dist/bench/coap-load.js --port 5683 --method PUT --path eventual \
 *     --payload eventual --in-flight 16 --duration 10 [--warmup 2] [--sockets 1] [--host 127.0.0.1]
 * Prints one JSON object (LoadResult) on stdout.
 * `--payload eventual` sends {"node":"A","value":1,"timestamp":N} with N increasing per request;
 * any other string is sent as it is; no --payload sends none.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface LoadOptions {
  host: string;
  port: number;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string[];
  /** 'eventual' = the lab's JSON with an increasing timestamp; else a fixed payload; '' none. */
  payload: string;
  contentFormat?: number;
  inFlight: number;
  durationMs: number;
  warmupMs: number;
  sockets: number;
  /** Stop after this many measured responses (0 = by duration). */
  count: number;
  ackTimeoutMs: number;
  maxRetransmit: number;
}

export interface LoadResult {
  method: string;
  path: string;
  inFlight: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  retransmits: number;
  timeouts: number;
  /** Responses whose code was not 2.xx. */
  errors: number;
  /** ICMP errors (port unreachable: the server was not there). */
  icmpErrors: number;
  codes: Record<string, number>;
}

const METHOD_CODE = { GET: 1, POST: 2, PUT: 3, DELETE: 4 } as const;
const HIST_US = 200_000; // 1-µs buckets up to 200 ms, then one overflow bucket

function optHeader(delta: number, len: number): number[] {
  const ext = (v: number): [number, number[]] => (v < 13 ? [v, []] : v < 269 ? [13, [v - 13]] : [14, [(v - 269) >> 8, (v - 269) & 0xff]]);
  const [dn, dx] = ext(delta);
  const [ln, lx] = ext(len);
  return [(dn << 4) | ln, ...dx, ...lx];
}

/** Pre-encodes the options part (Uri-Path, Content-Format) of every request. */
function encodeOptions(path: string[], contentFormat: number | undefined): Buffer {
  const bytes: number[] = [];
  let prev = 0;
  for (const seg of path) {
    const v = Buffer.from(seg, 'utf8');
    bytes.push(...optHeader(11 - prev, v.length), ...v);
    prev = 11;
  }
  if (contentFormat !== undefined) {
    const v = contentFormat === 0 ? [] : contentFormat < 256 ? [contentFormat] : [contentFormat >> 8, contentFormat & 0xff];
    bytes.push(...optHeader(12 - prev, v.length), ...v);
  }
  return Buffer.from(bytes);
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const family = isIP(o.host) === 6 ? 'udp6' : 'udp4';
  const opts = encodeOptions(o.path, o.payload !== '' ? (o.contentFormat ?? (o.payload === 'eventual' ? 50 : 0)) : undefined);
  const code = METHOD_CODE[o.method];
  const fixedPayload = o.payload !== '' && o.payload !== 'eventual' ? Buffer.from(o.payload) : null;
  const hist = new Uint32Array(HIST_US + 1);
  const codes = new Map<number, number>();
  let measuring = false;
  let done = false;
  let measured = 0;
  let retransmits = 0;
  let timeouts = 0;
  let errors = 0;
  let timestamp = Date.now() * 1000; // increasing per request: every PUT /eventual is accepted
  let maxUs = 0;

  const nSock = Math.max(1, Math.min(o.sockets, o.inFlight));
  interface Slot {
    mid: number;
    token: number;
    sent: bigint;
    deadline: number;
    tries: number;
    buf: Buffer;
  }
  const sockets: { sock: dgram.Socket; slots: Map<number, Slot>; mid: number }[] = [];
  const lookup = (address: string, _f: unknown, cb: (e: null, a: string, f: number) => void): void => cb(null, address, isIP(address));
  for (let s = 0; s < nSock; s++) {
    const sock = dgram.createSocket({ type: family, lookup: lookup as unknown as dgram.SocketOptions['lookup'] });
    await new Promise<void>((r) => sock.bind(0, family === 'udp6' ? '::' : '0.0.0.0', () => r()));
    // a connected socket: no per-send address lookup or route resolution, and only the target's replies
    await new Promise<void>((r) => sock.connect(o.port, o.host, () => r()));
    try {
      sock.setRecvBufferSize(4 << 20);
    } catch {
      /* capped by the kernel */
    }
    sockets.push({ sock, slots: new Map(), mid: (Math.random() * 65536) | 0 });
  }

  const build = (mid: number, token: number): Buffer => {
    const payload: Buffer | null = fixedPayload;
    let pstr: string | null = null;
    if (o.payload === 'eventual') pstr = `{"node":"A","value":1,"timestamp":${timestamp++}}`;
    const plen = pstr !== null ? pstr.length : payload !== null ? payload.length : 0;
    const buf = Buffer.allocUnsafe(4 + 4 + opts.length + (plen > 0 ? 1 + plen : 0));
    buf[0] = 0x44; // ver 1, CON, TKL 4
    buf[1] = code;
    buf[2] = mid >> 8;
    buf[3] = mid & 0xff;
    buf.writeUInt32BE(token, 4);
    opts.copy(buf, 8);
    if (plen > 0) {
      const off = 8 + opts.length;
      buf[off] = 0xff;
      if (pstr !== null) buf.write(pstr, off + 1, 'latin1');
      else payload!.copy(buf, off + 1);
    }
    return buf;
  };

  let tokenCounter = 1;
  const sendNew = (si: number): void => {
    const S = sockets[si]!;
    S.mid = (S.mid + 1) & 0xffff;
    const mid = S.mid;
    const token = tokenCounter++ >>> 0;
    const buf = build(mid, token);
    const slot: Slot = { mid, token, sent: process.hrtime.bigint(), deadline: Date.now() + o.ackTimeoutMs, tries: 0, buf };
    S.slots.set(mid, slot);
    S.sock.send(buf);
  };

  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));

  let icmpErrors = 0;
  sockets.forEach((S, si) => {
    // a connected socket reports ICMP port-unreachable as an error: count it, keep going (the
    // request times out and is retransmitted like any lost one)
    S.sock.on('error', () => {
      icmpErrors++;
    });
    S.sock.on('message', (msg) => {
      if (msg.length < 4) return;
      const type = (msg[0]! >> 4) & 3;
      const mid = (msg[2]! << 8) | msg[3]!;
      if (type !== 2) return; // only piggybacked ACKs are counted (a separate response would be slow anyway)
      const slot = S.slots.get(mid);
      if (slot === undefined) return;
      S.slots.delete(mid);
      const rcode = msg[1]!;
      if (measuring) {
        const us = Number(process.hrtime.bigint() - slot.sent) / 1000;
        const b = us < HIST_US ? Math.floor(us) : HIST_US;
        hist[b]!++;
        if (us > maxUs) maxUs = us;
        measured++;
        codes.set(rcode, (codes.get(rcode) ?? 0) + 1);
        if (rcode >> 5 !== 2) errors++;
        if (o.count > 0 && measured >= o.count) {
          done = true;
          finish();
        }
      }
      if (!done) sendNew(si);
    });
  });

  const sweeper = setInterval(() => {
    const now = Date.now();
    sockets.forEach((S, si) => {
      for (const slot of S.slots.values()) {
        if (slot.deadline > now) continue;
        if (slot.tries >= o.maxRetransmit) {
          S.slots.delete(slot.mid);
          if (measuring) timeouts++;
          if (!done) sendNew(si);
          continue;
        }
        slot.tries++;
        if (measuring) retransmits++;
        slot.deadline = now + o.ackTimeoutMs * 2 ** slot.tries;
        S.sock.send(slot.buf);
      }
    });
  }, 5);

  for (let k = 0; k < o.inFlight; k++) sendNew(k % nSock);
  await new Promise((r) => setTimeout(r, o.warmupMs));
  measuring = true;
  const t0 = process.hrtime.bigint();
  const timer = o.count > 0 ? null : setTimeout(() => {
    done = true;
    finish();
  }, o.durationMs);
  await finished;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (timer) clearTimeout(timer);
  clearInterval(sweeper);
  await new Promise((r) => setTimeout(r, 50));
  await Promise.all(sockets.map((S) => new Promise<void>((r) => S.sock.close(() => r()))));

  const pct = (p: number): number => {
    const target = Math.ceil(measured * p);
    let acc = 0;
    for (let i = 0; i <= HIST_US; i++) {
      acc += hist[i]!;
      if (acc >= target) return i + 1; // upper edge of the bucket, in µs
    }
    return HIST_US;
  };
  const codeNames: Record<string, number> = {};
  for (const [c, n] of codes) codeNames[`${c >> 5}.${String(c & 31).padStart(2, '0')}`] = n;
  return {
    method: o.method,
    path: '/' + o.path.join('/'),
    inFlight: o.inFlight,
    seconds: Math.round(seconds * 1000) / 1000,
    requests: measured,
    reqPerSec: Math.round(measured / seconds),
    p50Us: measured ? pct(0.5) : 0,
    p90Us: measured ? pct(0.9) : 0,
    p99Us: measured ? pct(0.99) : 0,
    maxUs: Math.round(maxUs),
    retransmits,
    timeouts,
    errors,
    icmpErrors,
    codes: codeNames,
  };
}

export function parseLoadArgs(argv: string[]): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '5683' },
      method: { type: 'string', default: 'GET' },
      path: { type: 'string', default: 'eventual' },
      payload: { type: 'string', default: '' },
      'content-format': { type: 'string' },
      'in-flight': { type: 'string', default: '16' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      sockets: { type: 'string', default: '1' },
      count: { type: 'string', default: '0' },
      'ack-timeout': { type: 'string', default: '2000' },
      'max-retransmit': { type: 'string', default: '4' },
    },
  });
  const method = values.method!.toUpperCase();
  if (!(method in METHOD_CODE)) throw new Error(`--method: one of ${Object.keys(METHOD_CODE).join(', ')}`);
  const r: LoadOptions = {
    host: values.host!,
    port: Number(values.port),
    method: method as LoadOptions['method'],
    path: values.path!.replace(/^\//, '').split('/').filter((s) => s !== ''),
    payload: values.payload!,
    inFlight: Number(values['in-flight']),
    durationMs: Number(values.duration) * 1000,
    warmupMs: Number(values.warmup) * 1000,
    sockets: Number(values.sockets),
    count: Number(values.count),
    ackTimeoutMs: Number(values['ack-timeout']),
    maxRetransmit: Number(values['max-retransmit']),
  };
  if (values['content-format'] !== undefined) r.contentFormat = Number(values['content-format']);
  return r;
}

// run as a program
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await runLoad(parseLoadArgs(process.argv.slice(2)));
  console.log(JSON.stringify(r));
}
