// The CoAP face's watch bookkeeping (SPEC §2 "CoAP API": GET with Observe is a watch on the key):
// a real CoAP server and client over UDP, with a small in-memory key-value service behind them.
// A watch must live while the key is observed, and must not outlive its observers without bound:
// GETs with Observe on keys that do not exist (answered 4.04, never registered) once left one
// watch each, forever.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KvReply } from '../protocols/kv-types.js';
import type { KvRequest, KvService } from '../replica/kv-service.js';
import { CoapClient } from './coap/client.js';
import { CoapServer } from './coap/server.js';
import { mountKvCoap } from './kv-coap.js';

/** The KvService surface the CoAP face uses, over a Map; counts live watches per key. */
class MapService implements KvService {
  readonly nodeId = 'node1';
  readonly model = 'causal';
  readonly nodes = ['node1'];
  readonly data = new Map<string, unknown>();
  readonly watchers = new Map<string, Set<() => void>>();
  submit(op: KvRequest): Promise<KvReply> {
    const clock = { node1: this.data.size };
    if (op.kind === 'put') {
      this.data.set(op.key, op.value);
      for (const f of this.watchers.get(op.key) ?? []) f();
      return Promise.resolve({ reqId: 0, ok: true, kind: 'put', key: op.key, clock, context: clock });
    }
    if (op.kind === 'get') {
      const found = this.data.has(op.key);
      return Promise.resolve({ reqId: 0, ok: true, kind: 'get', key: op.key, found, value: this.data.get(op.key), clock, context: clock, conflict: false });
    }
    return Promise.reject(new Error(`unused here: ${op.kind}`));
  }
  status(): Record<string, unknown> {
    return {};
  }
  store(): { entries: Record<string, unknown>; truncated: boolean } {
    return { entries: {}, truncated: false };
  }
  watch(key: string, onChange: () => void): () => void {
    const ws = this.watchers.get(key) ?? new Set();
    this.watchers.set(key, ws);
    ws.add(onChange);
    return () => {
      ws.delete(onChange);
      if (ws.size === 0) this.watchers.delete(key);
    };
  }
}

const server = new CoapServer({ host: '127.0.0.1', port: 0 });
const client = new CoapClient({ ackTimeoutMs: 500 });
after(async () => {
  await client.close();
  await server.close();
});

test('watches of unobserved keys are swept, observed ones stay and notify', async () => {
  const svc = new MapService();
  const unmount = mountKvCoap(server, svc, { watchGraceMs: 0 });
  const { port } = await server.listen();
  const uri = (key: string): string => `coap://127.0.0.1:${port}/kv/${key}`;

  svc.data.set('kept', 0);
  const seen: unknown[] = [];
  const obs = await client.observe(uri('kept'), (res) => {
    if (res.code === '2.05') seen.push((JSON.parse(res.payload.toString()) as { value: unknown }).value);
  });
  assert.equal(obs.first.code, '2.05');
  assert.equal(svc.watchers.size, 1);

  // 300 keys that do not exist, each probed with Observe: answered 4.04, never registered.
  for (let i = 0; i < 300; i++) {
    const r = await client.request({ method: 'GET', uri: uri(`missing${i}`), observe: 0 });
    assert.equal(r.code, '4.04');
  }
  // Swept whenever watches outgrow twice the observers plus a slack of 64.
  assert.ok(svc.watchers.size <= 2 * 1 + 64 + 1, `watches stay bounded: ${svc.watchers.size}`);
  assert.ok(svc.watchers.has('kept'), 'the observed key keeps its watch through the sweeps');

  // A change to an unobserved key ends its watch; the observed key still notifies.
  const left = [...svc.watchers.keys()].find((k) => k !== 'kept') as string;
  await svc.submit({ kind: 'put', key: left, value: 1 });
  assert.equal(svc.watchers.has(left), false);
  await svc.submit({ kind: 'put', key: 'kept', value: 7 });
  const deadline = Date.now() + 5000;
  while (!seen.includes(7) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(seen.includes(7), `notified: ${JSON.stringify(seen)}`);

  // Cancelled, the last observer's watch goes at the next change.
  await obs.cancel();
  await svc.submit({ kind: 'put', key: 'kept', value: 8 });
  assert.equal(svc.watchers.has('kept'), false);
  unmount();
  assert.equal(svc.watchers.size, 0, 'unmount ends every watch');
});

test('within the grace period a watch stays although its observer has not registered yet', async () => {
  const svc = new MapService();
  const s2 = new CoapServer({ host: '127.0.0.1', port: 0 });
  const unmount = mountKvCoap(s2, svc, { watchGraceMs: 60_000 });
  const { port } = await s2.listen();
  try {
    await client.request({ method: 'GET', uri: `coap://127.0.0.1:${port}/kv/soon`, observe: 0 });
    await svc.submit({ kind: 'put', key: 'soon', value: 1 });
    assert.equal(svc.watchers.has('soon'), true, 'a fresh watch survives a change with no observer yet');
  } finally {
    unmount();
    await s2.close();
  }
});
