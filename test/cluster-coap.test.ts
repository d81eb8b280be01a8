// The CoAP face of a node (SPEC §2 "CoAP API"): /kv/{key} with GET (+ Observe), PUT, DELETE,
// JSON payloads, the context token as query parameter ctx.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoapClient } from '../src/transport/coap/client.js';
import { http, TestCluster } from './support/cluster.js';

let c: TestCluster;
const client = new CoapClient({ ackTimeoutMs: 500 });
before(async () => {
  c = await TestCluster.create(2);
  await c.startAll();
});
after(async () => {
  await client.close();
  await c?.stopAll();
});

const uri = (node: string, key: string, q = ''): string => `coap://127.0.0.1:${c.node(node).coapPort}/kv/${key}${q}`;
const body = (p: Buffer): Record<string, unknown> => JSON.parse(p.toString()) as Record<string, unknown>;

test('PUT, GET with the ctx token on another node, DELETE', async () => {
  const put = await client.request({ method: 'PUT', uri: uri('node1', 'temp'), payload: '{"c":21.5}', contentFormat: 50 });
  assert.equal(put.code, '2.04');
  const ctx = body(put.payload)['ctx'] as string;
  assert.ok(ctx);
  const get = await client.request({ method: 'GET', uri: uri('node2', 'temp', `?ctx=${ctx}`) });
  assert.equal(get.code, '2.05');
  assert.equal(get.contentFormat, 50);
  assert.deepEqual(body(get.payload)['value'], { c: 21.5 });
  const del = await client.request({ method: 'DELETE', uri: uri('node2', 'temp') });
  assert.equal(del.code, '2.02');
  const gone = await client.request({ method: 'GET', uri: uri('node2', 'temp') });
  assert.equal(gone.code, '4.04');
  // The same data is visible over HTTP.
  assert.equal((await http('GET', `${c.node('node2').http}/v1/kv/temp`)).status, 404);
});

test('bad input: 4.00 for invalid JSON or a bad token, 4.15 for a non-JSON format, 4.05 for POST; nothing changes', async () => {
  const bad = await client.request({ method: 'PUT', uri: uri('node1', 'b'), payload: '{nope' });
  assert.equal(bad.code, '4.00');
  assert.equal(body(bad.payload)['error'], 'invalid-json');
  const cf = await client.request({ method: 'PUT', uri: uri('node1', 'b'), payload: '1', contentFormat: 60 });
  assert.equal(cf.code, '4.15');
  const post = await client.request({ method: 'POST', uri: uri('node1', 'b'), payload: '1' });
  assert.equal(post.code, '4.05');
  const tok = await client.request({ method: 'GET', uri: uri('node1', 'b', '?ctx=***') });
  assert.equal(tok.code, '4.00');
  const pct = await client.request({ method: 'GET', uri: uri('node1', 'b', '?ctx=%25E0%25A4%25A') });
  assert.equal(pct.code, '4.00', pct.payload.toString());
  assert.match(String(body(pct.payload)['detail']), /percent-encoding/);
  // A value nested beyond the limit (the encoder's stack would overflow on it) or one a replica
  // would read differently is refused, naming the problem.
  const deep = await client.request({ method: 'PUT', uri: uri('node1', 'b'), payload: '['.repeat(300) + ']'.repeat(300), contentFormat: 50 });
  assert.equal(deep.code, '4.00');
  assert.match(String(body(deep.payload)['detail']), /nested more than/);
  const lone = await client.request({ method: 'PUT', uri: uri('node1', 'b'), payload: '{"s": "\\ud800"}', contentFormat: 50 });
  assert.equal(lone.code, '4.00');
  assert.match(String(body(lone.payload)['detail']), /unpaired UTF-16 surrogate at \$\.s/);
  assert.equal((await client.request({ method: 'GET', uri: uri('node1', 'b') })).code, '4.04');
});

test('Observe on /kv/{key} notifies writes made through another node', async () => {
  const put = await client.request({ method: 'PUT', uri: uri('node1', 'obs'), payload: '0' });
  const ctx = body(put.payload)['ctx'] as string;
  const seen: unknown[] = [];
  // with node1's context, node2 answers the registration only once it has the key (a 4.04 would
  // end the observation, RFC 7641 §3.2)
  const obs = await client.observe(uri('node2', 'obs', `?ctx=${ctx}`), (res) => {
    if (res.code === '2.05') seen.push(body(res.payload)['value']);
  });
  for (let i = 1; i <= 3; i++) {
    await http('PUT', `${c.node('node1').http}/v1/kv/obs`, i);
    const deadline = Date.now() + 5000;
    while (!seen.includes(i) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  await obs.cancel();
  assert.equal(obs.first.code, '2.05');
  assert.ok([1, 2, 3].every((v) => seen.includes(v)), `notifications seen: ${JSON.stringify(seen)}`);
});
