// Test support: a real cluster of `causeway node` processes on loopback, with free ports and a
// temporary data directory. Every test that uses it must call `stopAll()` in a finally/after hook.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerNetwork } from '../../src/transport/peer/peer-network.js';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Binds TCP `port` on 127.0.0.1 (0: any free one) and releases it: the port, or null if taken. */
function tcpPort(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : null));
    });
  });
}

/** True when UDP `port` on 127.0.0.1 can be bound right now. */
function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

/*
 * Ports for test nodes come from below the kernel's ephemeral range (32768-60999 on Linux), where
 * any outgoing connection (a fetch, a peer link dialing) may take a port between our check and the
 * node's bind: that race made a node of a test fail with EADDRINUSE now and then. Each test process
 * walks its own window of ports, so test files running side by side do not pick the same ones.
 */
const PORT_LOW = 10_000;
const PORT_WINDOW = 1000;
const PORT_WINDOWS = 22; // 10000-31999
const windowStart = PORT_LOW + (process.pid % PORT_WINDOWS) * PORT_WINDOW;
let portCursor = Math.floor(Math.random() * PORT_WINDOW);

function nextPortCandidate(): number {
  portCursor = (portCursor + 1) % PORT_WINDOW;
  return windowStart + portCursor;
}

/** A port free for both TCP and UDP right now. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = nextPortCandidate();
    if (await portFree(port)) return port;
  }
}

/** True when `port` can be bound on 127.0.0.1 for both TCP and UDP right now. */
async function portFree(port: number): Promise<boolean> {
  return (await tcpPort(port)) !== null && (await udpFree(port));
}

/** The first of `n` consecutive ports, each free for TCP and UDP right now (for commands that number ports from a base). */
export async function freePortRange(n: number): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + n > windowStart + PORT_WINDOW) continue;
    let ok = true;
    for (let i = 1; i < n && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
}

export interface TestNode {
  readonly id: string;
  readonly http: string;
  readonly coapPort: number;
  readonly peerPort: number;
  proc: ChildProcess | null;
  log: string;
}

export class TestCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly secret = 'test-cluster-secret-0123456789';
  readonly nodes: TestNode[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.configPath = join(dir, 'cluster.json');
  }

  static async create(n: number): Promise<TestCluster> {
    const c = new TestCluster(mkdtempSync(join(tmpdir(), 'causeway-cluster-')));
    const specs = [];
    for (let i = 1; i <= n; i++) {
      const [httpPort, coapPort, peerPort] = [await freePort(), await freePort(), await freePort()];
      specs.push({ id: `node${i}`, host: '127.0.0.1', httpPort, coapPort, peerPort });
      c.nodes.push({ id: `node${i}`, http: `http://127.0.0.1:${httpPort}`, coapPort, peerPort, proc: null, log: '' });
    }
    writeFileSync(c.configPath, JSON.stringify({ model: 'causal', secret: c.secret, dataDir: join(c.dir, 'data'), nodes: specs }));
    return c;
  }

  node(id: string): TestNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Starts a node process and waits until its HTTP API answers. */
  async start(id: string): Promise<void> {
    const n = this.node(id);
    const proc = spawn(process.execPath, [MAIN, 'node', '--id', id, '--config', this.configPath, '--log-format', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    n.proc = proc;
    proc.stdout?.on('data', (d: Buffer) => (n.log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (n.log += d.toString()));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`${id} exited with ${proc.exitCode}:\n${n.log}`);
      try {
        const r = await fetch(`${n.http}/v1/status`);
        if (r.ok) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${id} did not come up in 15 s:\n${n.log}`);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.start(n.id)));
  }

  /** SIGKILL (crash) or SIGTERM (clean stop); waits for the exit. */
  async stop(id: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    const n = this.node(id);
    const p = n.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    n.proc = null;
  }

  /**
   * Plays node `id` in this process, with the cluster secret, for the running node `peer`, which
   * dials it. Resolves once the link is up; the caller closes it.
   */
  async twin(id: string, peer: string): Promise<PeerNetwork> {
    const p = this.node(peer);
    const twin = new PeerNetwork({
      selfId: id,
      listenHost: '127.0.0.1',
      listenPort: this.node(id).peerPort,
      peers: [{ id: peer, host: '127.0.0.1', port: p.peerPort }],
      secret: this.secret,
      backoff: { initialMs: 50, maxMs: 200 },
    });
    const up = new Promise((r) => twin.once('up', r));
    try {
      await twin.start();
      await up;
    } catch (e) {
      await twin.close();
      throw e;
    }
    return twin;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stop(n.id, 'SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The `msg` of each JSON line a node has logged (--log-format json), in order. */
export function logMessages(n: TestNode): string[] {
  return n.log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => String((JSON.parse(l) as { msg?: unknown }).msg));
}

/**
 * The writes node `n`'s log says it sent by anti-entropy ("sync reply to X: N writes it lacks", for
 * an answer to a sync request and for a repair alike), to peer `to` (a regular expression) or to any.
 */
export function syncReplied(n: TestNode, to = '\\w+'): number {
  const line = new RegExp(`sync reply to ${to}: (\\d+) writes it lacks`);
  let sum = 0;
  for (const m of logMessages(n)) {
    const hit = line.exec(m);
    if (hit) sum += Number(hit[1]);
  }
  return sum;
}

export interface HttpResult {
  status: number;
  body: Record<string, unknown>;
  context: string | null;
}

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const r = await fetch(url, init);
  const text = await r.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: r.status, body: parsed, context: r.headers.get('causeway-context') };
}

/** Polls `probe` until it returns true or the time runs out; `detail` adds context (e.g. logs) to the failure. */
export async function eventually(probe: () => Promise<boolean>, ms = 15_000, what = 'condition', detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}\n${detail()}`);
}
