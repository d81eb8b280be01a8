/**
 * Faults on a live cluster: three real node processes on loopback, broken and healed with
 * `causeway chaos` (run as a child process, as a user would).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_HEADER, callAdmin, signAdminRequest } from '../src/transport/http/admin-api.js';
import {
  NodeProcesses,
  allConnected,
  freePort,
  httpJson,
  readKey,
  runCli,
  sameClocks,
  urlOf,
  waitFor,
  writeClusterConfig,
  type ClusterNodeSpec,
} from './support/workload-cluster.js';

const procs = new NodeProcesses();
const dir = mkdtempSync(join(tmpdir(), 'causeway-chaos-live-'));

after(async () => {
  await procs.killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function put(n: ClusterNodeSpec, key: string, value: unknown): Promise<number> {
  const r = await httpJson(`${urlOf(n)}/v1/kv/${encodeURIComponent(key)}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
  return r?.status ?? 0;
}

test('partition, heal, crash and restart a running 3-node cluster through `causeway chaos`', { timeout: 60_000 }, async () => {
  const secret = randomBytes(18).toString('base64url');
  const nodes: ClusterNodeSpec[] = [];
  for (let i = 1; i <= 3; i++) {
    nodes.push({ id: `node${i}`, host: '127.0.0.1', httpPort: await freePort(), coapPort: 0, peerPort: await freePort() });
  }
  const [n1, n2, n3] = nodes as [ClusterNodeSpec, ClusterNodeSpec, ClusterNodeSpec];
  const config = writeClusterConfig(dir, secret, nodes);
  for (const n of nodes) procs.start(n.id, config);
  const logs = (): string => nodes.map((n) => `--- ${n.id}\n${procs.log(n.id)}`).join('\n');
  await waitFor('every peer link up', () => allConnected(nodes), 20_000, logs);
  const chaos = async (...args: string[]): Promise<string> => {
    const r = await runCli(['chaos', ...args, '--config', config]);
    assert.equal(r.code, 0, `causeway chaos ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  // node3 partitioned away from both others (else node2 would relay: anti-entropy forwards third-party writes)
  await Promise.all([chaos('partition', 'node1', 'node3'), chaos('partition', 'node2', 'node3')]);
  const status = await chaos('status');
  assert.match(status, /node3: running; node1: partitioned; node2: partitioned/);
  for (let i = 0; i < 5; i++) assert.equal(await put(n1, `k${i}`, i), 200);
  // Causal replication: writes reach node2 …
  await waitFor('node2 to apply the writes', async () => (await readKey(n2, 'k4')) === 4, 10_000, logs);
  // … but not node3 while the partition holds (node2 already has them, so they were sent).
  for (let i = 0; i < 5; i++) assert.equal(await readKey(n3, `k${i}`), null, `node3 must not see k${i} during the partition`);

  // Heal → the link comes back, anti-entropy re-syncs, node3 converges.
  await chaos('heal');
  await waitFor('node3 to converge after heal', async () => (await readKey(n3, 'k4')) === 4 && (await sameClocks(nodes)), 15_000, logs);
  for (let i = 0; i < 5; i++) assert.equal(await readKey(n3, `k${i}`), i);

  // Crash node2: its HTTP front stays up but answers 503; writes go on through node1.
  await chaos('crash', 'node2');
  const down = await httpJson(`${urlOf(n2)}/v1/kv/k0`);
  assert.equal(down?.status, 503);
  assert.equal(down?.body['error'], 'unavailable');
  for (let i = 5; i < 10; i++) assert.equal(await put(n1, `k${i}`, i), 200);
  await waitFor('node3 to apply the writes made while node2 is down', async () => (await readKey(n3, 'k9')) === 9, 10_000, logs);

  // Restart node2 from disk: it has what it acknowledged before and catches up with the rest.
  await chaos('restart', 'node2');
  await waitFor('node2 to catch up after restart', async () => (await readKey(n2, 'k9')) === 9 && (await sameClocks(nodes)), 15_000, logs);
  for (let i = 0; i < 10; i++) assert.equal(await readKey(n2, `k${i}`), i);

  // Without the right secret: 401, and nothing changes (node1 keeps running, no fault set).
  const path = '/v1/admin/crash';
  for (const header of [undefined, signAdminRequest('not-the-cluster-secret', 'POST', path, '{}', Date.now())]) {
    const r = await httpJson(`${urlOf(n1)}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(header ? { [ADMIN_HEADER]: header } : {}) }, body: '{}' });
    assert.equal(r?.status, 401);
    assert.equal(r?.body['error'], 'unauthorized');
  }
  const forged = await httpJson(`${urlOf(n1)}/v1/admin/fault`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [ADMIN_HEADER]: signAdminRequest('not-the-cluster-secret', 'POST', '/v1/admin/fault', '{"peer":"node2","partition":true}', Date.now()) },
    body: '{"peer":"node2","partition":true}',
  });
  assert.equal(forged?.status, 401);
  assert.equal(await put(n1, 'after', 'still-up'), 200);
  for (const n of nodes) {
    const f = await callAdmin(urlOf(n), 'GET', 'faults', undefined, { secret });
    assert.deepEqual(f.ok ? [f.body['running'], f.body['faults']] : f.error, [true, {}], `${n.id} unchanged`);
  }
  await waitFor('the post-refusal write to replicate', async () => (await readKey(n2, 'after')) === 'still-up', 10_000, logs);
});

// A crash and a restart that arrive together run one after the other: a restart that overlapped
// the crash opened the store while the crash was still closing it, and the old store's close then
// deleted the new one's lock and log segments (the node failed a few seconds later, and a second
// process could open its directory). A restart that fails (its peer port taken) closes what it
// opened, answers 503 naming the cause, and can be retried.
test('chaos: a crash and a restart sent at once, and failed restarts, leave the node whole', { timeout: 60_000 }, async () => {
  const secret = randomBytes(18).toString('base64url');
  const sub = join(dir, 'race');
  mkdirSync(sub);
  const n: ClusterNodeSpec = { id: 'solo', host: '127.0.0.1', httpPort: await freePort(), coapPort: 0, peerPort: await freePort() };
  const config = writeClusterConfig(sub, secret, [n]);
  const proc = procs.start(n.id, config);
  const logs = (): string => procs.log(n.id);
  await waitFor('solo up', async () => (await httpJson(`${urlOf(n)}/v1/status`))?.status === 200, 20_000, logs);
  for (let i = 0; i < 10; i++) assert.equal(await put(n, `k${i}`, i), 200);
  const admin = (action: 'crash' | 'restart' | 'faults'): ReturnType<typeof callAdmin> =>
    callAdmin(urlOf(n), action === 'faults' ? 'GET' : 'POST', action, action === 'faults' ? undefined : {}, { secret });

  for (let round = 0; round < 3; round++) {
    const [crash, restart] = await Promise.all([admin('crash'), admin('restart')]);
    assert.deepEqual([crash.ok && crash.body['changed'], restart.ok && restart.body['changed']], [true, true], `round ${round}: ${JSON.stringify([crash, restart])}`);
  }
  const lock = join(sub, 'solo', 'LOCK');
  assert.equal(readFileSync(lock, 'utf8').trim(), String(proc.pid), 'the running store holds its lock');
  const twin = await runCli(['node', '--id', 'solo', '--config', config]);
  assert.equal(twin.code, 2);
  assert.match(twin.stdout + twin.stderr, /in use by process/);
  await new Promise((r) => setTimeout(r, 5500)); // past the old stores' close, checkpoint and log housekeeping
  for (let i = 10; i < 20; i++) assert.equal(await put(n, `k${i}`, i), 200, logs());

  // Failed restarts: nothing stays open, and the answer says why.
  assert.equal((await admin('crash')).ok, true);
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(n.peerPort, '127.0.0.1', r));
  for (let i = 0; i < 3; i++) {
    const r = await admin('restart');
    assert.equal(r.ok, false);
    assert.equal(r.status, 503);
    assert.match(r.ok ? '' : r.error, /could not restart: .*EADDRINUSE/);
  }
  const open = readdirSync(`/proc/${proc.pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${proc.pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
  assert.deepEqual(open.filter((f) => f.includes(join(sub, 'solo'))), [], 'a crashed node after failed restarts holds no file of its store');
  assert.equal(existsSync(lock), false, 'nor its lock');
  await new Promise<void>((r) => blocker.close(() => r()));
  const back = await admin('restart');
  assert.equal(back.ok && back.body['changed'], true, JSON.stringify(back));
  for (let i = 0; i < 20; i++) assert.equal(await readKey(n, `k${i}`), i);
});
