import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fc from 'fast-check';
import {
  CoapFormatError,
  blockFromUint,
  blockToUint,
  codeFromString,
  codeToString,
  decode,
  encode,
  encodeReply,
  formatCoapUri,
  parseCoapUri,
  formatLinks,
  parseLinks,
  filterLinks,
  type CoapMessage,
} from '../src/transport/coap/index.js';
import { rawPeer, startServer, path, sleep } from './coap-helpers.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const params = { seed: SEED, numRuns: 500 };
test('fast-check seed', () => {
  console.log(`fast-check seed: ${SEED} (replay with FC_SEED=${SEED})`);
});

// RFC 7252 §3: the header, token, options in delta encoding with 13/14 extensions, payload marker
test('codec: a known message encodes to the RFC 7252 bytes', () => {
  const m: CoapMessage = {
    type: 0,
    code: 1,
    messageId: 0x1234,
    token: Buffer.from([0xab, 0xcd]),
    options: [
      { number: 11, value: Buffer.from('lamport') },
      { number: 12, value: Buffer.from([50]) },
      { number: 60, value: Buffer.from([0x20, 0x00]) },
      { number: 300, value: Buffer.alloc(20, 1) },
    ],
    payload: Buffer.from('hi'),
  };
  const b = encode(m);
  assert.equal(b.subarray(0, 6).toString('hex'), '420112 34abcd'.replace(' ', ''));
  assert.equal(b[6], 0xb7); // delta 11, length 7
  assert.equal(b.subarray(7, 14).toString(), 'lamport');
  assert.equal(b[14], 0x11); // delta 1 (12), length 1
  assert.equal(b[15], 50);
  assert.equal(b[16], 0xd2); // delta 48 → 13 + 35, length 2
  assert.equal(b[17], 35);
  assert.equal(b[20], 0xdd); // delta 240 → 13 + 227, length 20 → 13 + 7
  assert.equal(b[21], 227);
  assert.equal(b[22], 7);
  assert.equal(b[b.length - 3], 0xff);
  assert.deepEqual(decode(b), m);
});

test('codec: format errors are CoapFormatError', () => {
  const bad: [string, string][] = [
    ['', 'empty'],
    ['4001', 'short'],
    ['80010001', 'version 2'],
    ['49010001', 'token length 9'],
    ['42010001ab', 'truncated token'],
    ['40010001ff', 'payload marker without payload'],
    ['40010001f0', 'delta 15'],
    ['400100010f', 'length 15'],
    ['40010001d0', 'truncated delta ext'],
    ['40010001e0ff', 'truncated 2-byte delta ext'],
    ['4001000113', 'option overruns'],
    ['40000001ff61', 'empty message with payload'],
  ];
  for (const [hex, why] of bad) assert.throws(() => decode(Buffer.from(hex, 'hex')), CoapFormatError, why);
});

test('codes and Block values', () => {
  assert.equal(codeToString(69), '2.05');
  assert.equal(codeFromString('4.13'), 0x8d);
  assert.equal(codeFromString('2.5'), undefined);
  assert.equal(codeFromString('9.00'), undefined);
  for (let c = 0; c < 256; c++) assert.equal(codeFromString(codeToString(c)), c);
  assert.deepEqual(blockFromUint(blockToUint({ num: 5, more: true, szx: 2 })), { num: 5, more: true, szx: 2 });
  assert.equal(blockToUint({ num: 0, more: true, szx: 6 }), 0x0e);
});

const optionArb = fc.record({
  number: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 65535 })),
  value: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 260, maxLength: 300 })).map((a) => Buffer.from(a)),
});
const messageArb: fc.Arbitrary<CoapMessage> = fc
  .record({
    type: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
    code: fc.integer({ min: 1, max: 255 }),
    messageId: fc.integer({ min: 0, max: 0xffff }),
    token: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
    options: fc.array(optionArb, { maxLength: 8 }),
    payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  })
  // encode sorts options by number (stable); decode returns them in that order
  .map((m) => ({ ...m, options: m.options.map((o) => ({ number: o.number, value: o.value })).sort((a, b) => a.number - b.number) }));

test('property: random messages round-trip through encode/decode', () => {
  fc.assert(
    fc.property(messageArb, (m) => {
      assert.deepEqual(decode(encode(m)), m);
    }),
    params,
  );
});

test('property: encodeReply (the server hot path) agrees with the general codec', () => {
  fc.assert(
    fc.property(
      fc.record({
        type: fc.constantFrom(0, 1, 2),
        code: fc.integer({ min: 64, max: 191 }),
        mid: fc.integer({ min: 0, max: 0xffff }),
        token: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
        payload: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))),
        cf: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
        etag: fc.option(fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => Buffer.from(a)), { nil: undefined }),
        maxAge: fc.option(fc.nat(), { nil: undefined }),
        observe: fc.integer({ min: -1, max: 0xffffff }),
        block2: fc.integer({ min: -1, max: 0xfffff }),
        block1: fc.integer({ min: -1, max: 0xfffff }),
        size2: fc.integer({ min: -1, max: 100000 }),
        size1: fc.integer({ min: -1, max: 100000 }),
      }),
      (r) => {
        const b = encodeReply(r.type, r.code, r.mid, r.token, 0, r.token.length, r.payload, r.cf, r.etag, r.maxAge, r.observe, r.block2, r.block1, r.size2, r.size1);
        const m = decode(b);
        assert.equal(m.type, r.type);
        assert.equal(m.code, r.code);
        assert.equal(m.messageId, r.mid);
        assert.deepEqual(m.token, r.token);
        const p = r.payload === undefined ? Buffer.alloc(0) : Buffer.from(r.payload);
        assert.deepEqual(m.payload, p);
        const nums = m.options.map((o) => o.number);
        const want = [
          r.etag !== undefined ? 4 : -1,
          r.observe >= 0 ? 6 : -1,
          r.cf !== undefined ? 12 : -1,
          r.maxAge !== undefined ? 14 : -1,
          r.block2 >= 0 ? 23 : -1,
          r.block1 >= 0 ? 27 : -1,
          r.size2 >= 0 ? 28 : -1,
          r.size1 >= 0 ? 60 : -1,
        ].filter((n) => n >= 0);
        assert.deepEqual(nums, want);
      },
    ),
    params,
  );
});

test('property: random bytes never throw anything but CoapFormatError from decode', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (a) => {
      try {
        decode(Buffer.from(a));
      } catch (e) {
        if (!(e instanceof CoapFormatError)) throw e;
      }
    }),
    { ...params, numRuns: 5000 },
  );
  // mostly-valid headers get further into the option parser
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 60 }), (tkl, rest) => {
      try {
        decode(Buffer.concat([Buffer.from([0x40 | tkl, 1, 0, 1]), Buffer.from(rest)]));
      } catch (e) {
        if (!(e instanceof CoapFormatError)) throw e;
      }
    }),
    { ...params, numRuns: 5000 },
  );
});

// RFC 7252 §4.2/§4.3: a malformed CON is rejected with RST, anything else malformed is dropped;
// the server never crashes and keeps serving.
test('property: random datagrams never get past the server boundary', async () => {
  let handled = 0;
  const errors: Error[] = [];
  const { server, port } = await startServer([{ path: 'x', observable: true, handle: () => (handled++, { code: '2.05', payload: 'ok' }) }]);
  server.on('error', (e: Error) => errors.push(e));
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const samples = fc.sample(
    fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 60 })).map(([b0, code, rest]) => Uint8Array.from([0x40 | (b0 & 0x3f), code, 0, 7, ...rest])),
    ),
    { seed: SEED, numRuns: 3000 },
  );
  for (const s of samples) sock.send(Buffer.from(s), port, '127.0.0.1');
  await sleep(200);
  sock.close();
  assert.deepEqual(errors, []);
  const peer = await rawPeer(port);
  peer.send({ type: 0, code: 1, options: path('x'), token: Buffer.from('t') });
  const r = await peer.next();
  assert.equal(r.code, 0x45);
  assert.equal(r.payload.toString(), 'ok');
  await peer.close();
  await server.close();
  assert.ok(handled >= 1);
});

test('uri: parse and format coap:// URIs (RFC 7252 §6.4)', () => {
  assert.deepEqual(parseCoapUri('coap://[::1]:5684/kv/a%20b?ctx=1&x=%26'), { host: '::1', port: 5684, path: ['kv', 'a b'], query: ['ctx=1', 'x=&'], ipFamily: 6 });
  assert.deepEqual(parseCoapUri('coap://localhost'), { host: 'localhost', port: 5683, path: [], query: [], ipFamily: 0 });
  assert.deepEqual(parseCoapUri('coap://127.0.0.1/'), { host: '127.0.0.1', port: 5683, path: [], query: [], ipFamily: 4 });
  assert.throws(() => parseCoapUri('http://x/'), /coap/);
  assert.throws(() => parseCoapUri('coap://x:99999/'), /port/);
  assert.equal(formatCoapUri({ host: '::1', port: 5684, path: ['kv', 'a b'], query: ['x=&'] }), 'coap://[::1]:5684/kv/a%20b?x=%26');
  const u = parseCoapUri(formatCoapUri({ host: 'h', path: ['ü/x', ''], query: ['a=b c'] }));
  assert.deepEqual([u.path, u.query], [['ü/x', ''], ['a=b c']]);
});

test('link-format: serialise, parse, filter (RFC 6690)', () => {
  const links = [
    { href: '/lamport', rt: 'clock lamport', ct: [50], obs: true, title: 'Lamport "L"' },
    { href: '/kv', ct: [50, 60], if: 'core.p' },
  ];
  const doc = formatLinks(links);
  assert.equal(doc, '</lamport>;rt="clock lamport";ct=50;obs;title="Lamport \\"L\\"",</kv>;if="core.p";ct="50 60"');
  const back = parseLinks(doc);
  assert.equal(back[0]!.title, 'Lamport "L"');
  assert.deepEqual(back[1]!.ct, [50, 60]);
  assert.deepEqual(filterLinks(links, ['rt=lamport']).map((l) => l.href), ['/lamport']);
  assert.deepEqual(filterLinks(links, ['rt=cl*']).map((l) => l.href), ['/lamport']);
  assert.deepEqual(filterLinks(links, ['ct=60']).map((l) => l.href), ['/kv']);
  assert.deepEqual(filterLinks(links, ['href=/k*']).map((l) => l.href), ['/kv']);
  assert.deepEqual(filterLinks(links, ['obs']).map((l) => l.href), ['/lamport']);
  assert.deepEqual(filterLinks(links, ['nope=1']), []);
});
