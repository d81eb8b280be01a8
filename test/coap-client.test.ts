/** CoapClient against our server and against scripted raw peers (loss, silence, resets). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { CoapClient, CoapResetError, CoapTimeoutError, decode, encode, Opt, type CoapResponse, type CoapRequest, type CoapMessage } from '../src/transport/coap/index.js';
import { CausewayError } from '../src/core/errors.js';
import { sleep, startServer } from './coap-helpers.js';

/** A scripted UDP peer: `onRequest` returns the datagrams to send back (or none). */
async function scripted(onRequest: (m: CoapMessage, n: number) => Buffer[]): Promise<{ port: number; received: CoapMessage[]; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  const received: CoapMessage[] = [];
  sock.on('message', (b, r) => {
    const m = decode(b);
    received.push(m);
    for (const out of onRequest(m, received.length)) sock.send(out, r.port, r.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { port: sock.address().port, received, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

const ack = (m: CoapMessage, code: number, payload = ''): Buffer =>
  encode({ type: 2, code, messageId: m.messageId, token: m.token, options: [], payload: Buffer.from(payload) });

test('client: GET and PUT with Content-Format, query and a JSON body', async () => {
  let last: CoapRequest | undefined;
  const { server, port } = await startServer([
    { path: 'kv/*', handle: (r) => ((last = r), r.method === 'PUT' ? { code: '2.04', contentFormat: 50, payload: '{"ok":true}' } : { code: '2.05', contentFormat: 50, payload: '{"v":1}', etag: Buffer.from([1, 2]) }) },
  ]);
  const c = new CoapClient();
  const r = await c.request({ method: 'PUT', uri: `coap://127.0.0.1:${port}/kv/a%2Fb?ctx=x%20y`, payload: '{"v":1}', contentFormat: 50, accept: 50 });
  assert.equal(r.code, '2.04');
  assert.equal(r.contentFormat, 50);
  assert.equal(r.payload.toString(), '{"ok":true}');
  assert.deepEqual(last!.path, ['kv', 'a/b']);
  assert.deepEqual(last!.query, ['ctx=x y']);
  assert.equal(last!.accept, 50);
  const g = await c.request({ method: 'GET', uri: `coap://localhost:${port}/kv/a` });
  assert.equal(g.code, '2.05');
  assert.deepEqual(g.etag, Buffer.from([1, 2]));
  assert.ok(g.options.some((o) => o.number === Opt.CONTENT_FORMAT));
  const n = await c.request({ method: 'GET', uri: `coap://127.0.0.1:${port}/kv/a`, confirmable: false });
  assert.equal(n.code, '2.05');
  assert.equal((await c.request({ method: 'DELETE', uri: `coap://127.0.0.1:${port}/nothing` })).code, '4.04');
  await c.close();
  await server.close();
});

// RFC 7252 §4.2: CON retransmitted with exponential back-off until an ACK arrives
test('client: retransmits a CON (same MID) until answered', async () => {
  const peer = await scripted((m, n) => (n < 3 ? [] : [ack(m, 0x45, 'third time')]));
  const c = new CoapClient({ ackTimeoutMs: 40, ackRandomFactor: 1 });
  const t0 = Date.now();
  const r = await c.request({ method: 'GET', uri: `coap://127.0.0.1:${peer.port}/x` });
  const dt = Date.now() - t0;
  assert.equal(r.payload.toString(), 'third time');
  assert.equal(peer.received.length, 3);
  assert.equal(new Set(peer.received.map((m) => m.messageId)).size, 1);
  assert.ok(dt >= 40 + 80 - 5, `back-off doubles: ${dt} ms`);
  await c.close();
  await peer.close();
});

test('client: CoapTimeoutError after MAX_RETRANSMIT retransmissions, and at timeoutMs', async () => {
  const peer = await scripted(() => []);
  const c = new CoapClient({ ackTimeoutMs: 20, ackRandomFactor: 1, maxRetransmit: 3 });
  await assert.rejects(c.request({ method: 'GET', uri: `coap://127.0.0.1:${peer.port}/x` }), (e: unknown) => {
    assert.ok(e instanceof CoapTimeoutError);
    assert.ok(e instanceof CausewayError);
    assert.equal(e.code, 'timeout');
    return true;
  });
  assert.equal(peer.received.length, 4); // 1 + 3 retransmissions
  const c2 = new CoapClient();
  const t0 = Date.now();
  await assert.rejects(c2.request({ method: 'GET', uri: `coap://127.0.0.1:${peer.port}/x`, timeoutMs: 150 }), CoapTimeoutError);
  assert.ok(Date.now() - t0 < 1000);
  await c.close();
  await c2.close();
  await peer.close();
});

test('client: an RST rejects with CoapResetError', async () => {
  const peer = await scripted((m) => [encode({ type: 3, code: 0, messageId: m.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) })]);
  const c = new CoapClient();
  await assert.rejects(c.request({ method: 'GET', uri: `coap://127.0.0.1:${peer.port}/x` }), CoapResetError);
  await c.close();
  await peer.close();
});

// RFC 7252 §5.2.2: empty ACK, then the response as a CON with the same token, which the client ACKs
test('client: separate response (empty ACK, later CON response) is matched by token and ACKed', async () => {
  const peerSock = dgram.createSocket('udp4');
  let lastPort = 0;
  const peer = await scripted((m) => {
    if (m.type !== 0 || m.code === 0) return [];
    const later = encode({ type: 0, code: 0x45, messageId: 999, token: m.token, options: [], payload: Buffer.from('separate') });
    setTimeout(() => peerSock.send(later, lastPort, '127.0.0.1'), 60);
    return [encode({ type: 2, code: 0, messageId: m.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) })];
  });
  const acks: CoapMessage[] = [];
  peerSock.on('message', (b) => acks.push(decode(b)));
  await new Promise<void>((r) => peerSock.bind(0, '127.0.0.1', () => r()));
  const c = new CoapClient({ ackTimeoutMs: 30, ackRandomFactor: 1 });
  const p = c.request({ method: 'GET', uri: `coap://127.0.0.1:${peer.port}/x` });
  await sleep(20);
  lastPort = c.localAddress(4)!.port;
  const r = await p;
  assert.equal(r.payload.toString(), 'separate');
  await sleep(30);
  assert.equal(peer.received.length, 1, 'no retransmission after the empty ACK');
  assert.deepEqual(acks.map((a) => [a.type, a.code, a.messageId]), [[2, 0, 999]]);
  await c.close();
  await peer.close();
  peerSock.close();
  // and against our own server's slow handler
  const { server, port } = await startServer([{ path: 'slow', handle: async () => (await sleep(80), { code: '2.05', payload: 'slow' }) }], { separateResponseAfterMs: 20 });
  const c2 = new CoapClient();
  assert.equal((await c2.request({ method: 'GET', uri: `coap://127.0.0.1:${port}/slow` })).payload.toString(), 'slow');
  await sleep(50);
  assert.equal(server.stats().outstandingCon, 0, 'the client ACKed the separate response');
  await c2.close();
  await server.close();
});

// RFC 7959: Block2 follow and Block1 upload, end to end with our server
test('client: follows Block2 and sends Block1; 4.13 from the server is returned as is', async () => {
  const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));
  let got: Buffer | undefined;
  const { server, port } = await startServer([
    { path: 'big', handle: () => ({ code: '2.05', payload: big }) },
    { path: 'up', handle: (r) => ((got = r.payload), { code: '2.04', payload: Buffer.alloc(3000, 9) }) },
  ]);
  const c = new CoapClient({ blockSize: 256 });
  const r = await c.request({ method: 'GET', uri: `coap://127.0.0.1:${port}/big` });
  assert.deepEqual(r.payload, big);
  const up = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
  const u = await c.request({ method: 'PUT', uri: `coap://127.0.0.1:${port}/up`, payload: up });
  assert.equal(u.code, '2.04');
  assert.deepEqual(got, up);
  assert.deepEqual(u.payload, Buffer.alloc(3000, 9)); // the response to the last block came in Block2
  const tooBig = await c.request({ method: 'PUT', uri: `coap://127.0.0.1:${port}/up`, payload: Buffer.alloc(9000) });
  assert.equal(tooBig.code, '4.13');
  assert.ok(tooBig.options.some((o) => o.number === Opt.SIZE1));
  await c.close();
  await server.close();
});

// RFC 7641: observe, notifications in order, explicit cancel deregisters on the server
test('client: observe delivers notifications; cancel deregisters', async () => {
  let v = 0;
  const { server, port } = await startServer([{ path: 'o', observable: true, handle: () => ({ code: '2.05', payload: String(v) }) }]);
  const c = new CoapClient();
  const seen: CoapResponse[] = [];
  const { first, cancel } = await c.observe(`coap://127.0.0.1:${port}/o`, (r) => seen.push(r));
  assert.equal(first.payload.toString(), '0');
  assert.ok(first.observe !== undefined);
  for (v = 1; v <= 3; v++) {
    server.notifyObservers('o');
    await sleep(20);
  }
  assert.deepEqual(seen.map((r) => r.payload.toString()), ['1', '2', '3']);
  assert.ok(seen[0]!.observe! < seen[2]!.observe!);
  await cancel();
  assert.equal(server.observerCount(), 0);
  server.notifyObservers('o');
  await sleep(20);
  assert.equal(seen.length, 3);
  // a large notification is completed with Block2
  const big = await startServer([{ path: 'b', observable: true, handle: () => ({ code: '2.05', payload: 'x'.repeat(2000 + v) }) }]);
  const seenBig: number[] = [];
  const ob = await c.observe(`coap://127.0.0.1:${big.port}/b`, (r) => seenBig.push(r.payload.length));
  assert.equal(ob.first.payload.length, 2004);
  v = 10;
  big.server.notifyObservers('b');
  await sleep(100);
  assert.deepEqual(seenBig, [2010]);
  await ob.cancel();
  await c.close();
  await server.close();
  await big.server.close();
});

test('client: IPv6 literal URIs use udp6', async () => {
  const { server, port } = await startServer([{ path: 'x', handle: (r) => ({ code: '2.05', payload: r.remote.family }) }], { host: '::1' });
  const c = new CoapClient();
  const r = await c.request({ method: 'GET', uri: `coap://[::1]:${port}/x` });
  assert.equal(r.payload.toString(), 'IPv6');
  await c.close();
  await server.close();
});

test('client: close rejects what is pending', async () => {
  const peer = await scripted(() => []);
  const c = new CoapClient();
  const p = c.request({ method: 'GET', uri: `coap://127.0.0.1:${peer.port}/x` });
  await sleep(20);
  await c.close();
  await assert.rejects(p, /closed/);
  await peer.close();
});
