/**
 * The runtime driver of the Lab: the pure `Lab` served on our CoAP engine. One Lab, one or more
 * CoapServer sockets (for host `localhost`: 127.0.0.1 and, when available, ::1 on the same port,
 * since clients may resolve `localhost` to either).
 */
import { CoapServer, type CoapReply, type CoapServerRequestEvent, type HandleInfo } from '../transport/coap/index.js';
import type { CoapRequest } from '../transport/coap/index.js';
import { CONTENT_FORMAT_JSON, LAB_RESOURCES, Lab, type LabResourceName } from '../lab/index.js';

export interface LabServerOptions {
  host: string;
  port: number;
  nodes: number;
  /** receives one line per request (the lab's console lines) */
  log: (line: string) => void;
}

export const DEFAULT_LAB_SERVER_OPTIONS: Readonly<LabServerOptions> = Object.freeze({
  host: 'localhost',
  port: 5683,
  nodes: 2,
  log: () => {},
});

export interface RunningLabServer {
  lab: Lab;
  servers: CoapServer[];
  /** host as given (brackets added for IPv6 literals) and the bound port */
  url: string;
  port: number;
  close(): Promise<void>;
}

const TITLES: Record<LabResourceName, string> = {
  lamport: 'Lamport clock',
  vector: 'vector clock',
  eventual: 'eventual consistency (last writer wins)',
  causal: 'causal consistency (vector clocks)',
  sequential: 'sequential consistency (Lamport order)',
  strong: 'strong consistency (primary-backup)',
};

export async function startLabServer(options: Partial<LabServerOptions> = {}): Promise<RunningLabServer> {
  const o: LabServerOptions = { ...DEFAULT_LAB_SERVER_OPTIONS, ...options };
  const lab = new Lab({ nodes: o.nodes });
  const servers: CoapServer[] = [];
  const handler = (name: LabResourceName) => (req: CoapRequest, info?: HandleInfo): CoapReply => {
    const r = lab.handle(name, req.method, req.payload, req.contentFormat);
    // a notification re-runs the handler with the observer's original GET: no second line
    if (!info?.notification) o.log(r.logLine);
    if (r.changed && servers.some((s) => s.observerCount(name) > 0)) {
      // after this reply has gone out: notify every observer on every socket (RFC 7641 §4.2)
      setImmediate(() => {
        for (const s of servers) s.notifyObservers(name);
      });
    }
    const reply: CoapReply = { code: r.code, payload: r.payload };
    if (r.contentFormat !== undefined) reply.contentFormat = r.contentFormat;
    return reply;
  };

  const make = (host: string, port: number): CoapServer => {
    const s = new CoapServer({ host, port });
    for (const name of LAB_RESOURCES) {
      s.addResource({
        path: name,
        title: TITLES[name],
        rt: `causeway.lab.${name}`,
        ct: [CONTENT_FORMAT_JSON],
        observable: true,
        handle: handler(name),
      });
    }
    s.on('request', (e: CoapServerRequestEvent) => {
      // requests no lab handler ran for (discovery, unknown paths, engine-level 4.xx)
      if (e.resource === null) o.log(`[COAP] ${e.req.method} /${e.req.path.join('/')} -> ${e.reply.code}`);
    });
    s.on('error', (e: Error) => o.log(`[COAP] error: ${e.message}`));
    return s;
  };

  const closeAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.close()));
  };

  const primaryHost = o.host === 'localhost' ? '127.0.0.1' : o.host;
  const primary = make(primaryHost, o.port);
  const info = await primary.listen();
  servers.push(primary);
  if (o.host === 'localhost') {
    const v6 = make('::1', info.port);
    try {
      await v6.listen();
      servers.push(v6);
    } catch {
      // no IPv6 loopback here, or the port is taken on it: IPv4 alone serves
    }
  }
  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  return { lab, servers, url: `coap://${shownHost}:${info.port}`, port: info.port, close: closeAll };
}
