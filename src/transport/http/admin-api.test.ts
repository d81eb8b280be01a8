import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import type { PeerFault } from '../peer/peer-network.js';
import { ADMIN_HEADER, callAdmin, mountAdminApi, signAdminRequest, verifyAdminHeader, type AdminTarget } from './admin-api.js';

const SECRET = 'admin-test-secret-0123456789';
const NOW = 1_700_000_000_000;

/** A node host stand-in that records every chaos call. */
class FakeHost implements AdminTarget {
  readonly nodeId = 'node1';
  readonly nodes = ['node1', 'node2', 'node3'];
  running = true;
  readonly calls: string[] = [];
  readonly links = new Map<string, PeerFault>();
  get network(): { fault(peer: string): PeerFault | null } | null {
    return this.running ? { fault: (p) => this.links.get(p) ?? null } : null;
  }
  setFault(peer: string, fault: PeerFault | null): void {
    this.calls.push(`setFault ${peer} ${JSON.stringify(fault)}`);
    if (fault) this.links.set(peer, fault);
    else this.links.delete(peer);
  }
  healAll(): void {
    this.calls.push('healAll');
    this.links.clear();
  }
  async crash(): Promise<boolean> {
    this.calls.push('crash');
    const changed = this.running;
    this.running = false;
    return changed;
  }
  async restart(): Promise<boolean> {
    this.calls.push('restart');
    const changed = !this.running;
    this.running = true;
    return changed;
  }
}

function setup(now = (): number => NOW): { app: FastifyInstance; host: FakeHost } {
  const app = Fastify();
  const host = new FakeHost();
  mountAdminApi(app, host, { secret: SECRET, now });
  return { app, host };
}

let stamps = 0;
async function signed(app: FastifyInstance, method: 'GET' | 'POST', path: string, body?: unknown, opts: { secret?: string; stamp?: number } = {}) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const header = signAdminRequest(opts.secret ?? SECRET, method, path, text, opts.stamp ?? NOW + (stamps++ % 1000)); // a fresh stamp per call: identical requests are refused as replays
  const res = await app.inject({ method, url: path, headers: { [ADMIN_HEADER]: header, ...(text ? { 'content-type': 'application/json' } : {}) }, ...(text ? { payload: text } : {}) });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

test('verifyAdminHeader: the MAC binds method, path, stamp and body; ±window freshness', () => {
  const h = signAdminRequest(SECRET, 'POST', '/v1/admin/crash', '{}', NOW);
  assert.deepEqual(verifyAdminHeader(SECRET, h, 'POST', '/v1/admin/crash', '{}', NOW, 60_000).ok, true);
  // any change to what was signed breaks the MAC
  for (const [m, p, b, s] of [
    ['GET', '/v1/admin/crash', '{}', SECRET],
    ['POST', '/v1/admin/restart', '{}', SECRET],
    ['POST', '/v1/admin/crash', '{ }', SECRET],
    ['POST', '/v1/admin/crash', '{}', 'another-secret-0123456789'],
  ] as const) {
    const r = verifyAdminHeader(s, h, m, p, b, NOW, 60_000);
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /bad Causeway-Admin signature/);
  }
  assert.equal(verifyAdminHeader(SECRET, h, 'POST', '/v1/admin/crash', '{}', NOW + 60_000, 60_000).ok, true);
  assert.match((verifyAdminHeader(SECRET, h, 'POST', '/v1/admin/crash', '{}', NOW + 60_001, 60_000) as { reason: string }).reason, /stale/);
  assert.match((verifyAdminHeader(SECRET, h, 'POST', '/v1/admin/crash', '{}', NOW - 60_001, 60_000) as { reason: string }).reason, /stale/);
  assert.match((verifyAdminHeader(SECRET, undefined, 'GET', '/', '', NOW, 60_000) as { reason: string }).reason, /missing/);
  assert.match((verifyAdminHeader(SECRET, 'abc.def', 'GET', '/', '', NOW, 60_000) as { reason: string }).reason, /malformed/);
});

test('a refused call answers 401 JSON and changes nothing', async () => {
  const { app, host } = setup();
  const cases: Array<{ headers: Record<string, string>; why: RegExp }> = [
    { headers: {}, why: /missing/ },
    { headers: { [ADMIN_HEADER]: signAdminRequest('wrong-secret-0123456789abc', 'POST', '/v1/admin/crash', '{}', NOW) }, why: /signature/ },
    { headers: { [ADMIN_HEADER]: signAdminRequest(SECRET, 'POST', '/v1/admin/crash', '{}', NOW - 61_000) }, why: /stale/ },
    { headers: { [ADMIN_HEADER]: signAdminRequest(SECRET, 'POST', '/v1/admin/crash', '{"x":1}', NOW) }, why: /signature/ }, // body swapped
  ];
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/admin/crash', headers: { ...c.headers, 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(res.statusCode, 401);
    const body = res.json() as { error: string; detail: string };
    assert.equal(body.error, 'unauthorized');
    assert.match(body.detail, c.why);
  }
  const f = await app.inject({ method: 'POST', url: '/v1/admin/fault', headers: { 'content-type': 'application/json' }, payload: '{"peer":"node2","partition":true}' });
  assert.equal(f.statusCode, 401);
  assert.deepEqual(host.calls, []);
  assert.equal(host.running, true);
  await app.close();
});

test('a captured request cannot be replayed within the window', async () => {
  const { app, host } = setup();
  const header = signAdminRequest(SECRET, 'POST', '/v1/admin/crash', '', NOW);
  const first = await app.inject({ method: 'POST', url: '/v1/admin/crash', headers: { [ADMIN_HEADER]: header } });
  assert.equal(first.statusCode, 200);
  const again = await app.inject({ method: 'POST', url: '/v1/admin/crash', headers: { [ADMIN_HEADER]: header } });
  assert.equal(again.statusCode, 401);
  assert.match((again.json() as { detail: string }).detail, /replayed/);
  assert.deepEqual(host.calls, ['crash']);
  await app.close();
});

test('fault: merged over the link\'s current fault; clearing every field heals; GET /faults lists them', async () => {
  const { app, host } = setup();
  let r = await signed(app, 'POST', '/v1/admin/fault', { peer: 'node2', delayMs: 50 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body['faults'], { node2: { delayMs: 50 } });
  r = await signed(app, 'POST', '/v1/admin/fault', { peer: 'node2', lossRate: 0.1 });
  assert.deepEqual(r.body['faults'], { node2: { delayMs: 50, lossRate: 0.1 } });
  r = await signed(app, 'POST', '/v1/admin/fault', { peer: 'node3', oneway: 'out' });
  assert.deepEqual(r.body['faults'], { node2: { delayMs: 50, lossRate: 0.1 }, node3: { oneway: 'out' } });
  r = await signed(app, 'POST', '/v1/admin/fault', { peer: 'node3', oneway: null, partition: true });
  assert.equal(r.status, 200);
  assert.deepEqual(host.links.get('node3'), { partition: true });
  r = await signed(app, 'POST', '/v1/admin/fault', { peer: 'node2', delayMs: 0, lossRate: 0 });
  assert.equal(r.status, 200);
  assert.equal(host.links.has('node2'), false, 'a fault with nothing left heals the link');
  r = await signed(app, 'GET', '/v1/admin/faults');
  assert.deepEqual(r.body, { node: 'node1', running: true, faults: { node3: { partition: true } } });
  await app.close();
});

test('heal: one link, or every link', async () => {
  const { app, host } = setup();
  await signed(app, 'POST', '/v1/admin/fault', { peer: 'node2', partition: true });
  await signed(app, 'POST', '/v1/admin/fault', { peer: 'node3', partition: true });
  let r = await signed(app, 'POST', '/v1/admin/heal', { peer: 'node2' });
  assert.deepEqual(r.body['faults'], { node3: { partition: true } });
  r = await signed(app, 'POST', '/v1/admin/heal');
  assert.deepEqual(r.body['faults'], {});
  assert.equal(host.calls.at(-1), 'healAll');
  await app.close();
});

test('crash and restart; faults set while crashed are reported from what was set', async () => {
  const { app, host } = setup();
  let r = await signed(app, 'POST', '/v1/admin/crash', {});
  assert.deepEqual([r.status, r.body['running'], r.body['changed']], [200, false, true]);
  r = await signed(app, 'POST', '/v1/admin/crash', {});
  assert.deepEqual([r.status, r.body['changed']], [200, false]);
  r = await signed(app, 'POST', '/v1/admin/fault', { peer: 'node3', partition: true });
  assert.deepEqual(r.body['faults'], { node3: { partition: true } });
  r = await signed(app, 'POST', '/v1/admin/restart');
  assert.deepEqual([r.status, r.body['running'], r.body['changed']], [200, true, true]);
  assert.deepEqual(host.calls, ['crash', 'crash', 'setFault node3 {"partition":true}', 'restart']);
  await app.close();
});

test('bad input: 4xx naming the field, nothing changed', async () => {
  const { app, host } = setup();
  const cases: Array<[unknown, number, RegExp]> = [
    [{ peer: 'node9', partition: true }, 400, /field "peer": unknown node "node9" \(peers: node2, node3\)/],
    [{ peer: 'node1', partition: true }, 400, /field "peer": "node1" is this node itself/],
    [{ partition: true }, 400, /field "peer"/],
    [{ peer: 'node2', lossRate: 1.5 }, 400, /field "lossRate": must be within \[0, 1\]/],
    [{ peer: 'node2', delayMs: -1 }, 400, /field "delayMs": must be >= 0/],
    [{ peer: 'node2', delayMs: '50ms' }, 400, /field "delayMs": must be a number/],
    [{ peer: 'node2', oneway: 'both' }, 400, /field "oneway"/],
    [{ peer: 'node2', partition: 'yes' }, 400, /field "partition": must be true or false/],
    [{ peer: 'node2', drop: true }, 400, /unknown field "drop"/],
    ['{not json', 400, /not valid JSON/],
    [[1, 2], 400, /must be a JSON object/],
  ];
  for (const [body, status, re] of cases) {
    const r = await signed(app, 'POST', '/v1/admin/fault', body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(String(r.body['detail']), re);
  }
  const c = await signed(app, 'POST', '/v1/admin/crash', { now: true });
  assert.equal(c.status, 400);
  assert.deepEqual(host.calls, []);
  await app.close();
});

test('callAdmin signs requests a live server accepts, and reports refusals and unreachable nodes', async () => {
  const { app, host } = setup(() => Date.now());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const ok = await callAdmin(url, 'POST', 'fault', { peer: 'node2', partition: true }, { secret: SECRET });
    assert.equal(ok.ok, true);
    assert.deepEqual(host.links.get('node2'), { partition: true });
    const bad = await callAdmin(url, 'POST', 'crash', {}, { secret: 'not-the-secret-0123456789' });
    assert.deepEqual([bad.ok, bad.status], [false, 401]);
    assert.match((bad as { error: string }).error, /^401 unauthorized: bad Causeway-Admin signature/);
    assert.equal(host.running, true);
  } finally {
    await app.close();
  }
  const gone = await callAdmin(url, 'GET', 'faults', undefined, { secret: SECRET, timeoutMs: 2000 });
  assert.deepEqual([gone.ok, gone.status], [false, null]);
  assert.match((gone as { error: string }).error, /cannot reach/);
});
