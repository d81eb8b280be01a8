/**
 * CoapServer over real UDP, driven by a raw peer that speaks our codec, so every message type,
 * option and code the RFCs prescribe can be checked byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK, CON, NON, RST, Opt, type CoapMessage, type CoapReply, type CoapRequest, type CoapServerRequestEvent, type HandleInfo, type ResourceDef } from '../src/transport/coap/index.js';
import { getOpt, getUint, opt, path, rawPeer, sleep, startServer } from './coap-helpers.js';

const GET = 1;
const PUT = 3;
const tok = (s: string): Buffer => Buffer.from(s);

function counter(): ResourceDef & { applied: number; last?: CoapRequest } {
  const r = {
    path: 'counter',
    applied: 0,
    last: undefined as CoapRequest | undefined,
    handle(req: CoapRequest): CoapReply {
      r.last = req;
      if (req.method === 'PUT') {
        r.applied++;
        return { code: '2.04', contentFormat: 50, payload: JSON.stringify({ applied: r.applied }) };
      }
      if (req.method === 'GET') return { code: '2.05', contentFormat: 50, payload: JSON.stringify({ applied: r.applied }) };
      return { code: '4.05' };
    },
  };
  return r;
}

// RFC 7252 §5.2.1: a CON request gets a piggybacked response in the ACK, same MID and token
test('piggybacked response: ACK with the same message ID and token; request fields decoded', async () => {
  const c = counter();
  const { server, port } = await startServer([c]);
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: PUT, messageId: 77, token: tok('abcd'), options: [...path('counter'), opt(Opt.CONTENT_FORMAT, 50), opt(Opt.URI_QUERY, 'a=1'), opt(Opt.URI_QUERY, 'b'), opt(Opt.ACCEPT, 50), opt(Opt.URI_HOST, 'example')], payload: tok('{"x":1}') });
  const r = await peer.next();
  assert.equal(r.type, ACK);
  assert.equal(r.messageId, 77);
  assert.deepEqual(r.token, tok('abcd'));
  assert.equal(r.code, 0x44);
  assert.equal(getUint(r, Opt.CONTENT_FORMAT), 50);
  assert.equal(r.payload.toString(), '{"applied":1}');
  assert.deepEqual(c.last!.path, ['counter']);
  assert.deepEqual(c.last!.query, ['a=1', 'b']);
  assert.equal(c.last!.contentFormat, 50);
  assert.equal(c.last!.accept, 50);
  assert.equal(c.last!.payload.toString(), '{"x":1}');
  assert.equal(c.last!.remote.family, 'IPv4');
  assert.equal(c.last!.remote.port, peer.port);
  await peer.close();
  await server.close();
});

// RFC 7252 §5.2.3: a NON request gets a NON response (new MID, same token)
test('NON request: NON response with the same token', async () => {
  const { server, port } = await startServer([counter()]);
  const peer = await rawPeer(port);
  peer.send({ type: NON, code: GET, messageId: 5, token: tok('n1'), options: path('counter') });
  const r = await peer.next();
  assert.equal(r.type, NON);
  assert.deepEqual(r.token, tok('n1'));
  assert.equal(r.code, 0x45);
  await peer.close();
  await server.close();
});

// RFC 7252 §4.3: an empty CON is a ping, answered with RST; §5.8: 4.04, 4.05 for unknown method codes;
// §5.4.1: an unrecognised critical option → 4.02 for CON, rejected (RST) for NON; elective ignored
test('ping, 4.04, unknown method 4.05, unknown critical option 4.02, elective ignored', async () => {
  const { server, port } = await startServer([counter()]);
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: 0, messageId: 9 });
  let r = await peer.next();
  assert.deepEqual([r.type, r.code, r.messageId], [RST, 0, 9]);
  peer.send({ type: CON, code: GET, messageId: 10, token: tok('a'), options: path('nope', 'x') });
  r = await peer.next();
  assert.deepEqual([r.type, r.code, r.messageId], [ACK, 0x84, 10]);
  peer.send({ type: CON, code: 0x1f, messageId: 11, token: tok('b'), options: path('counter') });
  r = await peer.next();
  assert.deepEqual([r.type, r.code], [ACK, 0x85]);
  peer.send({ type: CON, code: GET, messageId: 12, token: tok('c'), options: [...path('counter'), opt(2049, 'x')] });
  r = await peer.next();
  assert.deepEqual([r.type, r.code, r.messageId], [ACK, 0x82, 12]);
  peer.send({ type: CON, code: GET, messageId: 13, token: tok('d'), options: [opt(Opt.IF_MATCH, 'x'), ...path('counter')] });
  r = await peer.next();
  assert.equal(r.code, 0x82);
  peer.send({ type: NON, code: GET, messageId: 14, token: tok('e'), options: [...path('counter'), opt(2049, 'x')] });
  r = await peer.next();
  assert.deepEqual([r.type, r.messageId], [RST, 14]);
  peer.send({ type: CON, code: GET, messageId: 15, token: tok('f'), options: [...path('counter'), opt(2048, 'x'), opt(Opt.NO_RESPONSE, 0)] });
  r = await peer.next();
  assert.equal(r.code, 0x45);
  // Proxy-Uri is critical and unsupported: 4.02 (never 5.xx)
  peer.send({ type: CON, code: GET, messageId: 16, token: tok('g'), options: [opt(Opt.PROXY_URI, 'coap://elsewhere/')] });
  r = await peer.next();
  assert.equal(r.code, 0x82);
  await peer.close();
  await server.close();
});

// RFC 7252 §3.2: Uri-Path and Uri-Query are strings, UTF-8. Bytes that are not would decode to
// U+FFFD, so different paths would name one resource: 4.00 with a diagnostic, CON and NON alike.
test('a Uri-Path or Uri-Query that is not UTF-8 gets 4.00', async () => {
  const { server, port } = await startServer([counter()]);
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, messageId: 20, token: tok('u'), options: [opt(11, Buffer.from([0x63, 0xff]))] });
  let r = await peer.next();
  assert.deepEqual([r.type, r.code, r.messageId, r.payload.toString()], [ACK, 0x80, 20, 'Uri-Path is not valid UTF-8']);
  peer.send({ type: NON, code: GET, messageId: 21, token: tok('v'), options: [...path('counter'), opt(15, Buffer.from([0xed, 0xa0, 0x80]))] });
  r = await peer.next();
  assert.deepEqual([r.type, r.code, r.payload.toString()], [NON, 0x80, 'Uri-Query is not valid UTF-8']);
  peer.send({ type: CON, code: GET, messageId: 22, token: tok('w'), options: path('counter') });
  r = await peer.next();
  assert.equal(r.code, 0x45, 'well-formed requests are still served');
  await peer.close();
  await server.close();
});

// RFC 7252 §4.2: a CON with a message format error is rejected with RST; malformed NON/ACK dropped
test('malformed datagrams: CON → RST, others dropped, server keeps serving', async () => {
  const { server, port } = await startServer([counter()]);
  const peer = await rawPeer(port);
  peer.sendRaw(Buffer.from('4101002a', 'hex')); // CON, TKL 1 but no token byte
  let r = await peer.next();
  assert.deepEqual([r.type, r.messageId], [RST, 42]);
  peer.sendRaw(Buffer.from('4001002bf0', 'hex')); // option delta 15
  r = await peer.next();
  assert.deepEqual([r.type, r.messageId], [RST, 43]);
  peer.sendRaw(Buffer.from('5001002cff', 'hex')); // NON, payload marker with no payload
  peer.sendRaw(Buffer.from('80010001', 'hex')); // version 2
  peer.sendRaw(Buffer.from('40', 'hex'));
  assert.equal(await peer.silent(150), true);
  peer.send({ type: CON, code: GET, messageId: 50, token: tok('z'), options: path('counter') });
  r = await peer.next();
  assert.equal(r.code, 0x45);
  await peer.close();
  await server.close();
});

// RFC 7252 §4.5: a retransmitted CON (same endpoint + MID) is answered from the cache, not re-applied
test('dedup: a retransmitted CON is not applied twice and gets the identical response', async () => {
  const c = counter();
  const { server, port } = await startServer([c]);
  const peer = await rawPeer(port);
  const m = { type: CON, code: PUT, messageId: 300, token: tok('r1'), options: path('counter'), payload: tok('{}') } as const;
  peer.send(m);
  const first = await peer.next();
  peer.send(m);
  peer.send(m);
  const second = await peer.next();
  const third = await peer.next();
  assert.equal(c.applied, 1);
  assert.deepEqual(second, first);
  assert.deepEqual(third, first);
  // the same MID from another endpoint is another request
  const other = await rawPeer(port);
  other.send(m);
  assert.equal((await other.next()).payload.toString(), '{"applied":2}');
  // a NON duplicate is silently ignored (and not applied)
  peer.send({ ...m, type: NON, messageId: 301 });
  await peer.next();
  peer.send({ ...m, type: NON, messageId: 301 });
  assert.equal(await peer.silent(150), true);
  assert.equal(c.applied, 3);
  await peer.close();
  await other.close();
  await server.close();
});

test('dedup cache is bounded in entries and in bytes', async () => {
  const c = counter();
  const { server, port } = await startServer([c, { path: 'big', handle: () => ({ code: '2.05', payload: Buffer.alloc(900, 65) }) }], { dedupMaxEntries: 50, dedupMaxBytes: 20_000 });
  const peer = await rawPeer(port);
  for (let i = 0; i < 120; i++) {
    peer.send({ type: CON, code: PUT, messageId: i, token: tok('t'), options: path('counter') });
    await peer.next();
  }
  assert.equal(server.stats().dedupEntries, 50);
  // the oldest entries were evicted: MID 0 is new again (bounded memory is the trade-off)
  peer.send({ type: CON, code: PUT, messageId: 0, token: tok('t'), options: path('counter') });
  await peer.next();
  assert.equal(c.applied, 121);
  // MID 119 is still remembered
  peer.send({ type: CON, code: PUT, messageId: 119, token: tok('t'), options: path('counter') });
  await peer.next();
  assert.equal(c.applied, 121);
  for (let i = 0; i < 40; i++) {
    peer.send({ type: CON, code: GET, messageId: 1000 + i, token: tok('t'), options: path('big') });
    await peer.next();
  }
  const s = server.stats();
  assert.ok(s.dedupBytes <= 20_000, `dedup bytes ${s.dedupBytes}`);
  assert.ok(s.dedupEntries < 40, `entries ${s.dedupEntries}`);
  await peer.close();
  await server.close();
});

// RFC 7252 §5.2.2: a slow handler → empty ACK first, then the response as a CON, ACKed by the client
test('separate response for a slow handler: empty ACK, then CON response retransmitted until ACKed', async () => {
  let calls = 0;
  const slow: ResourceDef = {
    path: 'slow',
    handle: async () => {
      calls++;
      await sleep(120);
      return { code: '2.05', payload: 'late' };
    },
  };
  const { server, port } = await startServer([slow], { separateResponseAfterMs: 30, ackTimeoutMs: 100 });
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, messageId: 400, token: tok('s1'), options: path('slow') });
  const ack = await peer.next();
  assert.deepEqual([ack.type, ack.code, ack.messageId, ack.token.length], [ACK, 0, 400, 0]);
  // a retransmission of the request meanwhile gets the empty ACK again, and no second call
  peer.send({ type: CON, code: GET, messageId: 400, token: tok('s1'), options: path('slow') });
  const ack2 = await peer.next();
  assert.deepEqual([ack2.type, ack2.code, ack2.messageId], [ACK, 0, 400]);
  const res = await peer.next();
  assert.equal(res.type, CON);
  assert.deepEqual(res.token, tok('s1'));
  assert.equal(res.payload.toString(), 'late');
  // not ACKed: retransmitted with the same MID
  const again = await peer.next(1000);
  assert.equal(again.messageId, res.messageId);
  peer.send({ type: ACK, code: 0, messageId: res.messageId });
  assert.equal(await peer.silent(400), true);
  assert.equal(server.stats().outstandingCon, 0);
  assert.equal(calls, 1);
  // a handler that answers quickly enough is still piggybacked
  const { server: s2, port: p2 } = await startServer([{ path: 'quick', handle: async () => ({ code: '2.05', payload: 'q' }) }]);
  const peer2 = await rawPeer(p2);
  peer2.send({ type: CON, code: GET, messageId: 1, token: tok('q'), options: path('quick') });
  const q = await peer2.next();
  assert.deepEqual([q.type, q.code, q.payload.toString()], [ACK, 0x45, 'q']);
  await peer.close();
  await peer2.close();
  await server.close();
  await s2.close();
});

test('a handler that throws or returns a bad code gets 5.00 and an error event; the server survives', async () => {
  const errors: Error[] = [];
  const { server, port } = await startServer([
    { path: 'boom', handle: () => { throw new Error('boom'); } },
    { path: 'bad', handle: () => ({ code: 'nope' }) },
  ]);
  server.on('error', (e: Error) => errors.push(e));
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, messageId: 1, token: tok('a'), options: path('boom') });
  assert.equal((await peer.next()).code, 0xa0);
  peer.send({ type: CON, code: GET, messageId: 2, token: tok('a'), options: path('bad') });
  assert.equal((await peer.next()).code, 0xa0);
  assert.equal(errors.length, 2);
  await peer.close();
  await server.close();
});

test("wildcard resources: 'kv/*' matches one or more remaining segments", async () => {
  const seen: string[][] = [];
  const { server, port } = await startServer([{ path: 'kv/*', handle: (r) => (seen.push(r.path), { code: '2.05' }) }]);
  const peer = await rawPeer(port);
  for (const [segs, want] of [[['kv', 'a'], 0x45], [['kv', 'a', 'b'], 0x45], [['kv'], 0x84], [['kvx', 'a'], 0x84]] as const) {
    peer.send({ type: CON, code: GET, token: tok('w'), options: path(...segs) });
    assert.equal((await peer.next()).code, want, segs.join('/'));
  }
  assert.deepEqual(seen, [['kv', 'a'], ['kv', 'a', 'b']]);
  await peer.close();
  await server.close();
});

// RFC 6690: /.well-known/core lists the resources with rt, ct, obs, title; filtering by query
test('/.well-known/core lists resources (RFC 6690) and filters by query', async () => {
  const { server, port } = await startServer([
    { path: 'lamport', title: 'Lamport clock', rt: 'causeway.lab.lamport', ct: [50], observable: true, handle: () => ({ code: '2.05' }) },
    { path: 'kv/*', rt: 'causeway.kv', ct: [50, 60], if: 'core.p', handle: () => ({ code: '2.05' }) },
  ]);
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, token: tok('k'), options: path('.well-known', 'core') });
  let r = await peer.next();
  assert.equal(r.code, 0x45);
  assert.equal(getUint(r, Opt.CONTENT_FORMAT), 40);
  assert.equal(r.payload.toString(), '</lamport>;rt="causeway.lab.lamport";ct=50;obs;title="Lamport clock",</kv>;rt="causeway.kv";if="core.p";ct="50 60"');
  peer.send({ type: CON, code: GET, token: tok('k'), options: [...path('.well-known', 'core'), opt(Opt.URI_QUERY, 'rt=causeway.kv')] });
  r = await peer.next();
  assert.equal(r.payload.toString(), '</kv>;rt="causeway.kv";if="core.p";ct="50 60"');
  peer.send({ type: CON, code: PUT, token: tok('k'), options: path('.well-known', 'core') });
  assert.equal((await peer.next()).code, 0x85);
  await peer.close();
  await server.close();
});

// RFC 7959 §2.4: Block2 for a response larger than the block size; the client may ask for smaller blocks
test('Block2: large responses in blocks, with Size2 and an ETag; client-chosen size; beyond the end 4.02', async () => {
  const body = Buffer.from(Array.from({ length: 2500 }, (_, i) => 65 + (i % 26)));
  const { server, port } = await startServer([{ path: 'big', handle: () => ({ code: '2.05', contentFormat: 0, payload: body }) }], { blockSize: 1024 });
  const peer = await rawPeer(port);
  const got: Buffer[] = [];
  let etag: Buffer | undefined;
  for (let num = 0; ; num++) {
    const options = [...path('big')];
    if (num > 0) options.push(opt(Opt.BLOCK2, num * 16 + 6));
    peer.send({ type: CON, code: GET, token: tok('b' + num), options });
    const r = await peer.next();
    assert.equal(r.code, 0x45);
    const b2 = getUint(r, Opt.BLOCK2)!;
    assert.equal(b2 >> 4, num);
    assert.equal(b2 & 7, 6);
    if (num === 0) assert.equal(getUint(r, Opt.SIZE2), 2500);
    const e = getOpt(r, Opt.ETAG);
    assert.ok(e);
    if (etag) assert.deepEqual(e, etag);
    etag = e;
    got.push(r.payload);
    if ((b2 & 8) === 0) break;
  }
  assert.deepEqual(Buffer.concat(got), body);
  // early negotiation: the client asks for 64-byte blocks
  peer.send({ type: CON, code: GET, token: tok('s'), options: [...path('big'), opt(Opt.BLOCK2, 2 * 16 + 2)] });
  let r = await peer.next();
  assert.equal(getUint(r, Opt.BLOCK2), 2 * 16 + 8 + 2);
  assert.deepEqual(r.payload, body.subarray(128, 192));
  // beyond the end
  peer.send({ type: CON, code: GET, token: tok('x'), options: [...path('big'), opt(Opt.BLOCK2, 9 * 16 + 6)] });
  r = await peer.next();
  assert.equal(r.code, 0x82);
  await peer.close();
  await server.close();
});

// RFC 7959 §2.5: Block1 reassembly keyed by endpoint + URI (aiocoap uses a new token per block)
test('Block1: reassembly with a new token per block, 2.31 Continue, final response carries Block1', async () => {
  let got: Buffer | undefined;
  let calls = 0;
  const { server, port } = await startServer([{ path: 'up', handle: (r) => (calls++, (got = r.payload), { code: '2.04', payload: `len ${r.payload.length}` }) }]);
  const peer = await rawPeer(port);
  const body = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
  const szx = 2; // 64 bytes
  for (let num = 0; num * 64 < body.length; num++) {
    const chunk = body.subarray(num * 64, num * 64 + 64);
    const more = (num + 1) * 64 < body.length;
    peer.send({ type: CON, code: PUT, token: tok('t' + num), options: [...path('up'), opt(Opt.BLOCK1, num * 16 + (more ? 8 : 0) + szx)], payload: chunk });
    const r = await peer.next();
    assert.deepEqual(r.token, tok('t' + num));
    assert.equal(getUint(r, Opt.BLOCK1), num * 16 + (more ? 8 : 0) + szx);
    if (more) assert.equal(r.code, 0x5f);
    else {
      assert.equal(r.code, 0x44);
      assert.equal(r.payload.toString(), 'len 200');
    }
  }
  assert.equal(calls, 1);
  assert.deepEqual(got, body);
  assert.equal(server.stats().block1States, 0);
  // out of sequence → 4.08
  peer.send({ type: CON, code: PUT, token: tok('o'), options: [...path('up'), opt(Opt.BLOCK1, 3 * 16 + 8 + szx)], payload: body.subarray(0, 64) });
  assert.equal((await peer.next()).code, 0x88);
  // two endpoints uploading to the same URI do not mix
  const other = await rawPeer(port);
  peer.send({ type: CON, code: PUT, token: tok('p0'), options: [...path('up'), opt(Opt.BLOCK1, 8 + szx)], payload: Buffer.alloc(64, 1) });
  other.send({ type: CON, code: PUT, token: tok('q0'), options: [...path('up'), opt(Opt.BLOCK1, 8 + szx)], payload: Buffer.alloc(64, 2) });
  await peer.next();
  await other.next();
  peer.send({ type: CON, code: PUT, token: tok('p1'), options: [...path('up'), opt(Opt.BLOCK1, 16 + szx)], payload: Buffer.alloc(10, 1) });
  await peer.next();
  assert.deepEqual(got, Buffer.alloc(74, 1));
  other.send({ type: CON, code: PUT, token: tok('q1'), options: [...path('up'), opt(Opt.BLOCK1, 16 + szx)], payload: Buffer.alloc(5, 2) });
  await other.next();
  assert.deepEqual(got, Buffer.alloc(69, 2));
  await peer.close();
  await other.close();
  await server.close();
});

// RFC 7959 §2.9.3: 4.13 with Size1 above the body limit, for Block1 uploads and single datagrams
test('4.13 Request Entity Too Large with Size1: Block1 over the limit, Size1 announced, one big datagram', async () => {
  let calls = 0;
  const { server, port } = await startServer([{ path: 'up', handle: () => (calls++, { code: '2.04' }) }], { maxBodyBytes: 8192 });
  const peer = await rawPeer(port);
  let r;
  // Block1 1024-byte blocks: the 9th block crosses 8192
  for (let num = 0; num < 9; num++) {
    peer.send({ type: CON, code: PUT, token: tok('b'), options: [...path('up'), opt(Opt.BLOCK1, num * 16 + 8 + 6)], payload: Buffer.alloc(1024, 7) });
    r = await peer.next();
    if (num < 8) assert.equal(r.code, 0x5f, `block ${num}`);
  }
  assert.equal(r!.code, 0x8d);
  assert.equal(getUint(r!, Opt.SIZE1), 8192);
  assert.equal(server.stats().block1States, 0);
  // Size1 announces too much up front
  peer.send({ type: CON, code: PUT, token: tok('s'), options: [...path('up'), opt(Opt.BLOCK1, 8 + 6), opt(Opt.SIZE1, 100_000)], payload: Buffer.alloc(1024) });
  r = await peer.next();
  assert.equal(r.code, 0x8d);
  assert.equal(getUint(r, Opt.SIZE1), 8192);
  // one datagram whose payload is over the limit
  peer.send({ type: CON, code: PUT, token: tok('d'), options: path('up'), payload: Buffer.alloc(9000, 1) });
  r = await peer.next();
  assert.equal(r.code, 0x8d);
  assert.equal(getUint(r, Opt.SIZE1), 8192);
  // exactly at the limit is fine
  peer.send({ type: CON, code: PUT, token: tok('e'), options: path('up'), payload: Buffer.alloc(8192, 1) });
  assert.equal((await peer.next()).code, 0x44);
  assert.equal(calls, 1);
  await peer.close();
  await server.close();
});

test('Block1 reassembly state is bounded (oldest uploads dropped)', async () => {
  const { server, port } = await startServer([{ path: 'up/*', handle: () => ({ code: '2.04' }) }], { block1MaxStates: 4 });
  const peer = await rawPeer(port);
  for (let i = 0; i < 10; i++) {
    peer.send({ type: CON, code: PUT, token: tok('t'), options: [...path('up', String(i)), opt(Opt.BLOCK1, 8 + 0)], payload: Buffer.alloc(16) });
    assert.equal((await peer.next()).code, 0x5f);
  }
  assert.equal(server.stats().block1States, 4);
  // upload 0 was evicted: its next block is out of sequence
  peer.send({ type: CON, code: PUT, token: tok('t'), options: [...path('up', '0'), opt(Opt.BLOCK1, 16)], payload: Buffer.alloc(3) });
  assert.equal((await peer.next()).code, 0x88);
  // upload 9 is still there
  peer.send({ type: CON, code: PUT, token: tok('t'), options: [...path('up', '9'), opt(Opt.BLOCK1, 16)], payload: Buffer.alloc(3) });
  assert.equal((await peer.next()).code, 0x44);
  await peer.close();
  await server.close();
});

function observable(): ResourceDef & { value: number; notifications: number } {
  const r = {
    path: 'obs',
    observable: true,
    value: 0,
    notifications: 0,
    handle(req: CoapRequest, info?: HandleInfo): CoapReply {
      if (info?.notification) r.notifications++;
      if (req.method === 'GET') return { code: '2.05', contentFormat: 0, payload: String(r.value) };
      return { code: '4.05' };
    },
  };
  return r;
}

// RFC 7641 §3.1, §4.2: registration, notifications with increasing sequence numbers and the token
test('Observe: register, notifications with increasing Observe numbers, every n-th is CON', async () => {
  const res = observable();
  const { server, port } = await startServer([res], { observeConEvery: 3 });
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, token: tok('ob'), options: [opt(Opt.OBSERVE, 0), ...path('obs')] });
  const first = await peer.next();
  assert.equal(first.code, 0x45);
  let seq = getUint(first, Opt.OBSERVE)!;
  assert.ok(seq !== undefined);
  assert.equal(server.observerCount('obs'), 1);
  const types: number[] = [];
  for (let i = 1; i <= 6; i++) {
    res.value = i;
    server.notifyObservers('obs');
    const n = await peer.next();
    assert.deepEqual(n.token, tok('ob'));
    assert.equal(n.payload.toString(), String(i));
    const s = getUint(n, Opt.OBSERVE)!;
    assert.ok(s > seq, `${s} > ${seq}`);
    seq = s;
    types.push(n.type);
    if (n.type === CON) {
      peer.send({ type: ACK, code: 0, messageId: n.messageId });
      await sleep(30); // until the ACK is in, the next notification would replace the CON in flight (§4.5.2)
    }
  }
  assert.deepEqual(types, [NON, NON, CON, NON, NON, CON]);
  assert.equal(res.notifications, 6); // the handler knows a notification re-run from a request
  // re-registration from the same endpoint replaces the entry (new token)
  peer.send({ type: CON, code: GET, token: tok('o2'), options: [opt(Opt.OBSERVE, 0), ...path('obs')] });
  await peer.next();
  assert.equal(server.observerCount('obs'), 1);
  server.notifyObservers('/obs');
  assert.deepEqual((await peer.next()).token, tok('o2'));
  await peer.close();
  await server.close();
});

// RFC 7641 §3.6: deregistration by GET with Observe=1, and by RST in reply to a notification
test('Observe: deregistration by GET Observe=1 and by RST', async () => {
  const res = observable();
  const { server, port } = await startServer([res]);
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, token: tok('a'), options: [opt(Opt.OBSERVE, 0), ...path('obs')] });
  await peer.next();
  peer.send({ type: CON, code: GET, token: tok('a'), options: [opt(Opt.OBSERVE, 1), ...path('obs')] });
  const r = await peer.next();
  assert.equal(r.code, 0x45);
  assert.equal(getOpt(r, Opt.OBSERVE), undefined);
  assert.equal(server.observerCount('obs'), 0);
  server.notifyObservers('obs');
  assert.equal(await peer.silent(100), true);

  peer.send({ type: CON, code: GET, token: tok('b'), options: [opt(Opt.OBSERVE, 0), ...path('obs')] });
  await peer.next();
  assert.equal(server.observerCount(), 1);
  server.notifyObservers('obs');
  const n = await peer.next();
  peer.send({ type: RST, code: 0, messageId: n.messageId });
  await sleep(50);
  assert.equal(server.observerCount(), 0);
  await peer.close();
  await server.close();
});

// RFC 7641 §4.5: a CON notification that is never acknowledged removes the observer
test('Observe: deregistration when a CON notification times out', async () => {
  const res = observable();
  const { server, port } = await startServer([res], { observeConEvery: 1, ackTimeoutMs: 20, maxRetransmit: 2 });
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, token: tok('c'), options: [opt(Opt.OBSERVE, 0), ...path('obs')] });
  await peer.next();
  server.notifyObservers('obs');
  const n1 = await peer.next();
  assert.equal(n1.type, CON);
  const n2 = await peer.next();
  assert.equal(n2.messageId, n1.messageId); // retransmission
  await peer.next();
  for (let i = 0; i < 50 && server.observerCount() > 0; i++) await sleep(20); // the last timeout runs out
  assert.equal(server.observerCount(), 0);
  assert.equal(server.stats().outstandingCon, 0);
  await peer.close();
  await server.close();
});

test('Observe: a non-2.xx notification ends the observation; non-observable resources do not register', async () => {
  let code = '2.05';
  const { server, port } = await startServer([
    { path: 'o', observable: true, handle: () => ({ code }) },
    { path: 'plain', handle: () => ({ code: '2.05' }) },
  ]);
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, token: tok('p'), options: [opt(Opt.OBSERVE, 0), ...path('plain')] });
  const p = await peer.next();
  assert.equal(getOpt(p, Opt.OBSERVE), undefined);
  peer.send({ type: CON, code: GET, token: tok('o'), options: [opt(Opt.OBSERVE, 0), ...path('o')] });
  await peer.next();
  code = '4.04';
  server.notifyObservers('o');
  const n = await peer.next();
  assert.equal(n.code, 0x84);
  assert.equal(getOpt(n, Opt.OBSERVE), undefined);
  peer.send({ type: ACK, code: 0, messageId: n.messageId });
  assert.equal(server.observerCount(), 0);
  await peer.close();
  await server.close();
});

test('IPv6: server on ::1 answers over udp6', async () => {
  const c = counter();
  const { server, port } = await startServer([c], { host: '::1' });
  const peer = await rawPeer(port, 6);
  peer.send({ type: CON, code: GET, token: tok('6'), options: path('counter') });
  const r = await peer.next();
  assert.equal(r.code, 0x45);
  assert.equal(c.last!.remote.family, 'IPv6');
  assert.equal(c.last!.remote.address, '::1');
  await peer.close();
  await server.close();
});

test("'request' events carry the request, the reply and the time taken", async () => {
  const { server, port } = await startServer([counter()]);
  const events: CoapServerRequestEvent[] = [];
  server.on('request', (e: CoapServerRequestEvent) => events.push(e));
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, token: tok('e'), options: path('counter') });
  await peer.next();
  peer.send({ type: CON, code: GET, token: tok('e'), options: path('missing') });
  await peer.next();
  assert.equal(events.length, 2);
  assert.equal(events[0]!.reply.code, '2.05');
  assert.equal(events[1]!.reply.code, '4.04');
  assert.deepEqual(events[1]!.req.path, ['missing']);
  assert.ok(events[0]!.ms >= 0);
  assert.equal(events[0]!.resource?.path, 'counter');
  assert.equal(events[1]!.resource, null);
  await peer.close();
  await server.close();
});

// RFC 7252 §5.10.4: Accept names the only Content-Format the client takes
test('Accept: a success in another Content-Format becomes 4.06', async () => {
  const { server, port } = await startServer([{ path: 'j', handle: () => ({ code: '2.05', contentFormat: 50, payload: '{}' }) }]);
  const peer = await rawPeer(port);
  peer.send({ type: CON, code: GET, token: tok('a'), options: [...path('j'), opt(Opt.ACCEPT, 50)] });
  assert.equal((await peer.next()).code, 0x45);
  peer.send({ type: CON, code: GET, token: tok('a'), options: [...path('j'), opt(Opt.ACCEPT, 0)] });
  assert.equal((await peer.next()).code, 0x86);
  await peer.close();
  await server.close();
});

test('separate responses: many slow requests share one timer; quick async ones get no stray empty ACK', async () => {
  let n = 0;
  const { server, port } = await startServer(
    [
      { path: 'slow', handle: async () => (await sleep(100), { code: '2.05', payload: 'slow' }) },
      { path: 'fast', handle: async () => ({ code: '2.05', payload: String(++n) }) },
    ],
    { separateResponseAfterMs: 40 },
  );
  const peer = await rawPeer(port);
  for (let i = 0; i < 5; i++) peer.send({ type: CON, code: GET, messageId: 500 + i, token: tok('f' + i), options: path('fast') });
  for (let i = 0; i < 5; i++) {
    const r = await peer.next();
    assert.deepEqual([r.type, r.code], [ACK, 0x45]);
  }
  for (let i = 0; i < 3; i++) peer.send({ type: CON, code: GET, messageId: 600 + i, token: tok('s' + i), options: path('slow') });
  const got: CoapMessage[] = [];
  for (let i = 0; i < 6; i++) got.push(await peer.next());
  for (const m of got) if (m.type === CON) peer.send({ type: ACK, code: 0, messageId: m.messageId });
  const empties = got.filter((m) => m.type === ACK && m.code === 0).map((m) => m.messageId).sort();
  assert.deepEqual(empties, [600, 601, 602]);
  assert.equal(got.filter((m) => m.type === CON && m.payload.toString() === 'slow').length, 3);
  assert.equal(await peer.silent(150), true, 'no empty ACK for the fast ones, no retransmission once ACKed');
  await peer.close();
  await server.close();
});
