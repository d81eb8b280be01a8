/**
 * Bench-only CoAP servers, so the engine can be measured on its own:
 * - `engine` (default): our CoapServer with an /eventual resource equivalent to the lab's (JSON
 *   parse, field checks, last-writer-wins on `timestamp`, JSON reply) plus /example_data and /time;
 * - `bare`: a bare node:dgram loop that answers every CON with a fixed piggybacked 2.04 — the floor
 *   any Node server pays for one datagram in and one out.
 *
 * Usage: node dist/bench/coap-bench-server.js [--mode engine|bare] [--port 5683] [--host 127.0.0.1]
 * Prints "listening <port>" when ready; exits on SIGTERM/SIGINT.
 */
import dgram from 'node:dgram';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CoapServer, type CoapReply, type CoapRequest } from '../src/transport/coap/index.js';


/** An /eventual handler equivalent to the lab's (JSON, field checks, last-writer-wins, JSON reply). */
export function eventualResource(): (req: CoapRequest) => CoapReply {
  let value: unknown = null;
  let ts = -1;
  const state = (status?: string): string =>
    JSON.stringify(status === undefined ? { model: 'eventual', server_value: value, server_timestamp: ts } : { model: 'eventual', status, server_value: value, server_timestamp: ts });
  return (req) => {
    if (req.method === 'GET') return { code: '2.05', contentFormat: 50, payload: state() };
    if (req.method !== 'PUT') return { code: '4.05' };
    if (req.contentFormat !== undefined && req.contentFormat !== 50) return { code: '4.15' };
    let body: unknown;
    try {
      body = JSON.parse(req.payload.toString('utf8'));
    } catch {
      return { code: '4.00', payload: 'Invalid JSON' };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { code: '4.00', payload: 'body must be a JSON object' };
    const b = body as Record<string, unknown>;
    if (typeof b.node !== 'string' || b.node === '') return { code: '4.00', payload: 'node: expected a non-empty string' };
    if (!('value' in b)) return { code: '4.00', payload: 'value: required' };
    if (typeof b.timestamp !== 'number' || !Number.isSafeInteger(b.timestamp) || b.timestamp < 0) return { code: '4.00', payload: 'timestamp: expected a non-negative integer' };
    let status: string;
    if (b.timestamp >= ts) {
      ts = b.timestamp;
      value = b.value;
      status = 'accepted';
    } else status = 'ignored-older';
    return { code: '2.04', contentFormat: 50, payload: state(status) };
  };
}

/** A bare node:dgram loop: every datagram gets a piggybacked 2.04 with its MID and token. */
function bare(host: string, port: number): void {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, r) => {
    if (msg.length < 4) return;
    const tkl = msg[0]! & 15;
    const out = Buffer.allocUnsafe(4 + tkl);
    out[0] = 0x60 | tkl; // ACK
    out[1] = 0x44; // 2.04
    out[2] = msg[2]!;
    out[3] = msg[3]!;
    msg.copy(out, 4, 4, 4 + tkl);
    sock.send(out, r.port, r.address);
  });
  sock.bind(port, host, () => {
    console.log(`listening ${sock.address().port}`);
  });
  const stop = (): void => {
    sock.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** Our engine with /eventual (as the lab's), /example_data (a stored blob) and /time. */
async function engine(host: string, port: number): Promise<void> {
  const dedup = process.env.COAP_DEDUP_ENTRIES; // for A/B runs of the duplicate cache's cost
  const server = new CoapServer({ host, port, ...(dedup ? { dedupMaxEntries: Number(dedup) } : {}) });
  server.addResource({ path: 'eventual', observable: true, ct: [50], handle: eventualResource() });
  let data: Buffer = Buffer.from('hello');
  server.addResource({
    path: 'example_data',
    handle: (req) => {
      if (req.method === 'GET') return { code: '2.05', payload: data };
      if (req.method === 'PUT') {
        data = Buffer.from(req.payload);
        return { code: '2.04' };
      }
      return { code: '4.05' };
    },
  });
  server.addResource({ path: 'time', handle: () => ({ code: '2.05', payload: new Date().toISOString() }) });
  const a = await server.listen();
  console.log(`listening ${a.port}`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'engine' },
      port: { type: 'string', default: '5683' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  });
  if (values.mode === 'bare') bare(values.host!, Number(values.port));
  else await engine(values.host!, Number(values.port));
}
