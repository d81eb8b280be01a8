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
