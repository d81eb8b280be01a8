import { mkdirSync, writeFileSync } from 'node:fs';
/**
 * Peer-link micro-benchmark: two PeerNetworks in one process over 127.0.0.1.
 *
 *   node dist/bench/peer.js [--messages 200000] [--size 256] [--pings 2000]
 *
 * Reports, for batched links (the default) and for links forced to one message per frame
 * (maxBatchBytes 1: a frame and a socket write per message), the one-way streaming rate in
 * messages/s and payload MB/s with backpressure honoured (the sender waits for 'drain'), the
 * frames used, and the round-trip time of one message at a time (p50/p99).
 * Both ends share one event loop, so the figures are a lower bound for two processes.
 */
import { performance } from 'node:perf_hooks';
import { PeerNetwork, type PeerNetworkOptions } from '../src/transport/peer/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const MESSAGES = arg('messages', 200_000);
const SIZE = arg('size', 256);
const PINGS = arg('pings', 2000);

async function pair(extra: Partial<PeerNetworkOptions>): Promise<[PeerNetwork, PeerNetwork]> {
  const mk = (id: string) =>
    new PeerNetwork({ selfId: id, listenHost: '127.0.0.1', listenPort: 0, peers: [], secret: 'bench-secret', ...extra });
  const a = mk('a');
  const b = mk('b');
  const pa = await a.start();
  const pb = await b.start();
  const specs = [
    { id: 'a', host: '127.0.0.1', port: pa.port },
    { id: 'b', host: '127.0.0.1', port: pb.port },
  ];
  const up = new Promise<void>((r) => a.once('up', () => r()));
  a.setPeers(specs);
  b.setPeers(specs);
  await up;
  return [a, b];
}

interface StreamResult {
  messages: number;
  seconds: number;
  msgsPerSec: number;
  payloadMBPerSec: number;
  wireMBPerSec: number;
  frames: number;
  refusedSends: number;
}

async function stream(a: PeerNetwork, b: PeerNetwork): Promise<StreamResult> {
  const value = 'x'.repeat(SIZE);
  let received = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const onMsg = (): void => {
    if (++received === MESSAGES) resolveDone();
  };
  b.on('message', onMsg);
  const t0 = performance.now();
  let sent = 0;
  while (sent < MESSAGES) {
    // A replication-sized message: key, value, clock.
    if (a.send('b', { t: 'w', key: `k${sent % 10000}`, value, clock: { a: sent, b: 0, c: 0 } })) {
      sent++;
      if (sent % 1000 === 0) await new Promise((r) => setImmediate(r));
    } else {
      await new Promise<void>((r) => a.once('drain', () => r()));
    }
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  b.off('message', onMsg);
  const s = a.stats('b');
  return {
    messages: MESSAGES,
    seconds: round(seconds),
    msgsPerSec: Math.round(MESSAGES / seconds),
    payloadMBPerSec: round((MESSAGES * SIZE) / seconds / 1e6),
    wireMBPerSec: round(s.sentBytes / seconds / 1e6),
    frames: s.sentFrames,
    refusedSends: s.refusedSends,
  };
}

async function pingPong(a: PeerNetwork, b: PeerNetwork): Promise<{ p50Us: number; p99Us: number }> {
  b.on('message', (_from, m) => void b.send('a', m));
  const rtts: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      a.once('message', () => r());
      a.send('b', i);
    });
    rtts.push(performance.now() - t0);
  }
  rtts.sort((x, y) => x - y);
  const q = (p: number) => Math.round((rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))] ?? 0) * 1000);
  return { p50Us: q(0.5), p99Us: q(0.99) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function run(label: string, extra: Partial<PeerNetworkOptions>): Promise<Record<string, unknown>> {
  const [a, b] = await pair(extra);
  try {
    const s = await stream(a, b);
    const rtt = await pingPong(a, b);
    return { label, ...s, rttP50Us: rtt.p50Us, rttP99Us: rtt.p99Us };
  } finally {
    await a.close();
    await b.close();
  }
}

const results = [await run('batched', {}), await run('one-message-per-frame', { maxBatchBytes: 1 })];
for (const r of results) {
  console.log(
    `${String(r.label).padEnd(22)} ${String(r.msgsPerSec).padStart(9)} msg/s  ${String(r.payloadMBPerSec).padStart(7)} MB/s payload  ` +
      `${String(r.wireMBPerSec).padStart(7)} MB/s wire  ${r.frames} frames for ${r.messages} msgs  rtt p50 ${r.rttP50Us} µs p99 ${r.rttP99Us} µs`,
  );
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/peer.json', JSON.stringify({ bench: 'peer', size: SIZE, node: process.version, results }, null, 2) + '\n');
