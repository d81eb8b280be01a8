// An HTTP load generator: C concurrent keep-alive clients issuing requests for a fixed time,
// reporting requests/s and latency percentiles. Used by bench/cluster.ts against Causeway and etcd.
//
// Each client owns one TCP connection and speaks just enough HTTP/1.1 (a request written in one
// piece, a response read by Content-Length or chunked encoding): node:http's client costs about
// 200 µs of CPU per request on this 2-core machine, where the servers under test share the cores.
import { connect, type Socket } from 'node:net';

export interface HttpLoadOptions {
  /** Target base URLs; client i uses urls[i % urls.length]. */
  readonly urls: readonly string[];
  readonly concurrency: number;
  readonly durationMs: number;
  /** Builds request n: method, path and body. */
  readonly make: (n: number) => { method: string; path: string; body: string };
  /** Most requests per second over all clients (0: as fast as possible). */
  readonly rateLimit?: number;
  /** Called with the request number and its completion time (hrtime ns) after each 2xx. */
  readonly onOk?: (n: number, doneNs: bigint, responseBody: string) => void;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export interface Response {
  readonly status: number;
  readonly body: Buffer;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Parses one complete response at the start of `buf`: the response and its length, or null. */
export function parseResponse(buf: Buffer): { res: Response; length: number } | null {
  const headEnd = buf.indexOf(CRLF2);
  if (headEnd < 0) return null;
  const head = buf.toString('latin1', 0, headEnd);
  const lines = head.split('\r\n');
  const status = Number((lines[0] ?? '').split(' ')[1]);
  let contentLength = -1;
  let chunked = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') contentLength = Number(value);
    else if (name === 'transfer-encoding' && value.toLowerCase().includes('chunked')) chunked = true;
  }
  let at = headEnd + 4;
  if (!chunked) {
    const len = contentLength < 0 ? 0 : contentLength;
    if (buf.length < at + len) return null;
    return { res: { status, body: buf.subarray(at, at + len) }, length: at + len };
  }
  const parts: Buffer[] = [];
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error('malformed chunk size');
    const dataStart = lineEnd + 2;
    if (size === 0) {
      // Trailers (none expected) end with an empty line.
      const end = buf.indexOf('\r\n', dataStart);
      if (end < 0) return null;
      return { res: { status, body: Buffer.concat(parts) }, length: end + 2 };
    }
    if (buf.length < dataStart + size + 2) return null;
    parts.push(buf.subarray(dataStart, dataStart + size));
    at = dataStart + size + 2;
  }
}

/** One keep-alive connection that sends a request and resolves with its response. */
export class HttpConn {
  readonly #host: string;
  readonly #port: number;
  #socket: Socket | null = null;
  #buf: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (r: Response) => void; reject: (e: Error) => void } | null = null;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  #open(): Socket {
    const s = connect({ host: this.#host, port: this.#port, noDelay: true });
    s.on('data', (d: Buffer) => {
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      const w = this.#waiting;
      if (w === null) return;
      let parsed: ReturnType<typeof parseResponse>;
      try {
        parsed = parseResponse(this.#buf);
      } catch (err) {
        this.#fail(err as Error);
        return;
      }
      if (parsed === null) return;
      this.#buf = this.#buf.subarray(parsed.length);
      this.#waiting = null;
      w.resolve(parsed.res);
    });
    const drop = (err?: Error): void => {
      if (this.#socket === s) this.#socket = null;
      this.#fail(err ?? new Error('connection closed'));
    };
    s.on('error', drop);
    s.on('close', () => drop());
    return s;
  }

  #fail(err: Error): void {
    const w = this.#waiting;
    this.#waiting = null;
    this.#buf = Buffer.alloc(0);
    this.#socket?.destroy();
    this.#socket = null;
    w?.reject(err);
  }

  request(method: string, path: string, body: string): Promise<Response> {
    this.#socket ??= this.#open();
    const len = Buffer.byteLength(body);
    const msg = `${method} ${path} HTTP/1.1\r\nHost: ${this.#host}:${this.#port}\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n${body}`;
    return new Promise<Response>((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket?.write(msg);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = null;
  }
}

export async function httpLoad(o: HttpLoadOptions): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(o.durationMs) * 1_000_000n;
  const interval = o.rateLimit ? (1e9 * o.concurrency) / o.rateLimit : 0;
  const conns = Array.from({ length: o.concurrency }, (_, client) => {
    const u = new URL(o.urls[client % o.urls.length] as string);
    return new HttpConn(u.hostname, Number(u.port));
  });

  const one = async (client: number): Promise<void> => {
    const id = n++;
    const req = o.make(id);
    const t0 = process.hrtime.bigint();
    try {
      const res = await (conns[client] as HttpConn).request(req.method, req.path, req.body);
      const t1 = process.hrtime.bigint();
      if (res.status >= 200 && res.status < 300) {
        lat.push(Number(t1 - t0) / 1e6);
        o.onOk?.(id, t1, res.body.toString());
      } else errors++;
    } catch {
      errors++;
      await new Promise((r) => setTimeout(r, 10)); // a refused connection must not spin
    }
  };

  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, client) => {
      let next = Number(start);
      while (process.hrtime.bigint() < end) {
        if (interval > 0) {
          next += interval;
          const wait = (next - Number(process.hrtime.bigint())) / 1e6;
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        await one(client);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  for (const c of conns) c.close();
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    errors,
    seconds,
    perSecond: lat.length / seconds,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat[lat.length - 1] ?? NaN,
  };
}
