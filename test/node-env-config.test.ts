// The Docker way (Dockerfile, docker-compose.yml): every node configured only by CAUSEWAY_*
// environment variables, each on its own host with the same ports — here 127.0.0.1-3.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort, http, MAIN } from './support/cluster.js';

const procs: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'causeway-env-'));
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('three nodes configured from the environment replicate a write', async () => {
  const [httpPort, coapPort, peerPort] = [await freePort(), await freePort(), await freePort()];
  const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const logs: string[] = ['', '', ''];
  hosts.forEach((host, i) => {
    const p = spawn(process.execPath, [MAIN, 'node'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CAUSEWAY_ID: `node${i + 1}`,
        CAUSEWAY_NODES: hosts.map((h, j) => `node${j + 1}=${h}`).join(','),
        CAUSEWAY_SECRET: 'environment-secret-0123456789',
        CAUSEWAY_DATA: join(dir, 'data'),
        CAUSEWAY_BIND: host,
        CAUSEWAY_HTTP_PORT: String(httpPort),
        CAUSEWAY_COAP_PORT: String(coapPort),
        CAUSEWAY_PEER_PORT: String(peerPort),
      },
    });
    p.stdout?.on('data', (d: Buffer) => (logs[i] += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (logs[i] += d.toString()));
    procs.push(p);
  });
  const url = (i: number): string => `http://${hosts[i]}:${httpPort}`;
  await eventually(async () => {
    try {
      return (await Promise.all(hosts.map((_, i) => fetch(`${url(i)}/v1/status`)))).every((r) => r.ok);
    } catch {
      return false;
    }
  }, 15_000, `all nodes up:\n${logs.join('\n')}`);
  const w = await http('POST', `${url(0)}/write`, { key: 'x', value: 5 });
  assert.equal(w.status, 200);
  const r = await http('GET', `${url(2)}/read?key=x`, undefined, { 'causeway-context': w.context! });
  assert.deepEqual(r.body, { key: 'x', value: 5, clock: { node1: 1, node2: 0, node3: 0 } });
  // Durable by default: the acknowledged write waited for an fsync of node1's log.
  const st = await http('GET', `${url(0)}/v1/status`);
  const storage = (st.body as { storage: { fsync: boolean; syncs: number } }).storage;
  assert.equal(storage.fsync, true);
  assert.ok(storage.syncs > 0, `syncs ${storage.syncs}`);
});

// unsafeNoFsync (as etcd's --unsafe-no-fsync): writes acknowledged without waiting for the disk,
// said at startup and in /v1/status; the process keeps them across a restart.
test('CAUSEWAY_UNSAFE_NO_FSYNC=1 acknowledges writes without an fsync, and says so', async () => {
  const [httpPort, coapPort, peerPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    CAUSEWAY_ID: 'solo',
    CAUSEWAY_NODES: 'solo=127.0.0.1',
    CAUSEWAY_SECRET: 'environment-secret-0123456789',
    CAUSEWAY_DATA: join(dir, 'unsafe'),
    CAUSEWAY_BIND: '127.0.0.1',
    CAUSEWAY_HTTP_PORT: String(httpPort),
    CAUSEWAY_COAP_PORT: String(coapPort),
    CAUSEWAY_PEER_PORT: String(peerPort),
    CAUSEWAY_UNSAFE_NO_FSYNC: '1',
  };
  const url = `http://127.0.0.1:${httpPort}`;
  const start = async (): Promise<{ p: ChildProcess; log: () => string }> => {
    let out = '';
    const p = spawn(process.execPath, [MAIN, 'node'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    procs.push(p);
    await eventually(async () => {
      try {
        return (await fetch(`${url}/v1/status`)).ok;
      } catch {
        return false;
      }
    }, 15_000, 'node up');
    return { p, log: () => out };
  };
  const first = await start();
  assert.match(first.log(), /unsafeNoFsync: writes are acknowledged without an fsync/);
  for (let i = 0; i < 20; i++) assert.equal((await http('PUT', `${url}/v1/kv/k${i}`, i)).status, 200);
  const st = (await http('GET', `${url}/v1/status`)).body as { storage: { fsync: boolean; syncs: number; batches: number } };
  assert.equal(st.storage.fsync, false);
  assert.equal(st.storage.syncs, 0);
  assert.ok(st.storage.batches >= 20);
  // A killed process loses nothing: every write reached the operating system before its answer.
  first.p.kill('SIGKILL');
  await new Promise((r) => first.p.once('exit', r));
  await start();
  for (let i = 0; i < 20; i++) assert.equal((await http('GET', `${url}/v1/kv/k${i}`)).body.value, i, `k${i} after kill -9`);
});

test('a bad CAUSEWAY_UNSAFE_NO_FSYNC is refused with a clear message', async () => {
  const p = spawn(process.execPath, [MAIN, 'node'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CAUSEWAY_ID: 'node1', CAUSEWAY_NODES: 'node1=127.0.0.1', CAUSEWAY_SECRET: 'environment-secret-0123456789', CAUSEWAY_UNSAFE_NO_FSYNC: 'yes' },
  });
  let out = '';
  p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((res) => p.once('exit', res));
  assert.equal(code, 2);
  assert.match(out, /CAUSEWAY_UNSAFE_NO_FSYNC must be 1, true, 0 or false, got "yes"/);
});

test('a node without a secret refuses to start with a clear message', async () => {
  const p = spawn(process.execPath, [MAIN, 'node'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CAUSEWAY_ID: 'node1', CAUSEWAY_NODES: 'node1=127.0.0.1' },
  });
  let out = '';
  p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((res) => p.once('exit', res));
  assert.equal(code, 2);
  assert.match(out, /secret: .*16 characters/);
});
