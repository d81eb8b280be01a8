/** Shared helpers for the CoAP engine tests: a raw UDP peer speaking our codec, and a test server. */
import dgram from 'node:dgram';
import { CoapServer, decode, encode, type CoapMessage, type CoapOption, type CoapServerOptions, type ResourceDef } from '../src/transport/coap/index.js';

export interface RawPeer {
  send(m: Partial<CoapMessage> & { code: number }, to?: { port: number; address?: string }): void;
  sendRaw(b: Buffer, to?: { port: number; address?: string }): void;
  /** The next datagram (decoded), or rejects after `ms`. */
  next(ms?: number): Promise<CoapMessage>;
  /** Resolves true if nothing arrives within `ms`. */
  silent(ms: number): Promise<boolean>;
  port: number;
  close(): Promise<void>;
}

export async function rawPeer(serverPort: number, family: 4 | 6 = 4): Promise<RawPeer> {
  const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  const host = family === 6 ? '::1' : '127.0.0.1';
  const queue: CoapMessage[] = [];
  const waiters: ((m: CoapMessage) => void)[] = [];
  sock.on('message', (b) => {
    const m = decode(b);
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  let mid = 1000;
  const next = (ms = 2000): Promise<CoapMessage> => {
    const q = queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`no datagram within ${ms} ms`));
      }, ms);
      const w = (m: CoapMessage): void => {
        clearTimeout(t);
        resolve(m);
      };
      waiters.push(w);
    });
  };
  return {
    port: sock.address().port,
    send(m, to) {
      const full: CoapMessage = { type: 0, messageId: mid++, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0), ...m };
      sock.send(encode(full), to?.port ?? serverPort, to?.address ?? host);
    },
    sendRaw(b, to) {
      sock.send(b, to?.port ?? serverPort, to?.address ?? host);
    },
    next,
    silent(ms) {
      return next(ms).then(
        (m) => {
          queue.unshift(m);
          return false;
        },
        () => true,
      );
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

export function opt(number: number, value: string | number | Buffer): CoapOption {
  if (typeof value === 'string') return { number, value: Buffer.from(value) };
  if (typeof value === 'number') {
    const bytes: number[] = [];
    for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    return { number, value: Buffer.from(bytes) };
  }
  return { number, value };
}

export function path(...segs: string[]): CoapOption[] {
  return segs.map((s) => opt(11, s));
}

export function getOpt(m: CoapMessage, num: number): Buffer | undefined {
  return m.options.find((o) => o.number === num)?.value;
}

export function getUint(m: CoapMessage, num: number): number | undefined {
  const v = getOpt(m, num);
  if (v === undefined) return undefined;
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

export async function startServer(resources: ResourceDef[], options: CoapServerOptions = {}): Promise<{ server: CoapServer; port: number }> {
  const server = new CoapServer({ host: '127.0.0.1', port: 0, ...options });
  for (const r of resources) server.addResource(r);
  const { port } = await server.listen();
  return { server, port };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
