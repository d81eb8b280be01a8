/** Shared fixtures for the peer-link tests: real sockets on 127.0.0.1, port 0, short timers. */
import { EventEmitter } from 'node:events';
import { PeerNetwork, type PeerNetworkOptions, type PeerSpec } from '../src/transport/peer/index.js';
import { Rng } from '../src/core/rng.js';

export const HOST = '127.0.0.1';
export const SECRET = 'test-cluster-secret';

export type NetOptions = Partial<Omit<PeerNetworkOptions, 'selfId'>>;

export function makeNet(selfId: string, opts: NetOptions = {}): PeerNetwork {
  const rng = new Rng(7);
  return new PeerNetwork({
    selfId,
    listenHost: HOST,
    listenPort: 0,
    peers: [],
    secret: SECRET,
    backoff: { initialMs: 20, maxMs: 200, factor: 2, jitter: 0.5 },
    handshakeTimeoutMs: 2000,
    heartbeatMs: 200,
    idleTimeoutMs: 5000,
    random: () => rng.next(),
    ...opts,
  });
}

export interface Started {
  net: PeerNetwork;
  spec: PeerSpec;
}

export async function startAll(nets: PeerNetwork[]): Promise<Started[]> {
  const out: Started[] = [];
  for (const net of nets) {
    const { port } = await net.start();
    out.push({ net, spec: { id: net.selfId, host: HOST, port } });
  }
  return out;
}

/** Resolves when `event` fires with arguments that satisfy `pred`; rejects after `ms`. */
export function waitEvent<A extends unknown[]>(
  em: EventEmitter | PeerNetwork,
  event: string,
  pred: (...args: A) => boolean = () => true,
  ms = 5000,
): Promise<A> {
  const e = em as EventEmitter;
  return new Promise((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      if (!pred(...(args as A))) return;
      clearTimeout(timer);
      e.off(event, onEvent);
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      e.off(event, onEvent);
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
    }, ms);
    e.on(event, onEvent);
  });
}

/** Polls `cond` every 5 ms until true; rejects after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts the nodes, gives each the full peer list, and waits until every pair is up. */
export async function connectAll(nets: PeerNetwork[]): Promise<PeerSpec[]> {
  const started = await startAll(nets);
  const specs = started.map((s) => s.spec);
  const ups = nets.map((net) =>
    until(() => specs.every((s) => s.id === net.selfId || net.isConnected(s.id)), `${net.selfId} fully connected`),
  );
  for (const net of nets) net.setPeers(specs);
  await Promise.all(ups);
  return specs;
}

/** Records every message per sender. */
export function inbox(net: PeerNetwork): Map<string, unknown[]> {
  const m = new Map<string, unknown[]>();
  net.on('message', (from, msg) => {
    let l = m.get(from);
    if (!l) m.set(from, (l = []));
    l.push(msg);
  });
  return m;
}

export async function closeAll(nets: PeerNetwork[]): Promise<void> {
  await Promise.all(nets.map((n) => n.close()));
}
