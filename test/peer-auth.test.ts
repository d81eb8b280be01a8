/**
 * Peer-link authentication (SPEC §2: "authenticated with a shared cluster secret (a process
 * without it cannot inject writes)"; issue 3 §3: a connection that fails is closed and logged,
 * and nothing it sent is applied). Real sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Packr, unpack } from 'msgpackr';
import { FrameDecoder, computeMac, encodeFrame, type Frame, type AuthFailure, type PeerNetwork } from '../src/transport/peer/index.js';
import { makeNet, connectAll, startAll, inbox, until, waitEvent, closeAll, HOST, SECRET } from './peer-helpers.js';

const packr = new Packr({ useRecords: false });

/** A hand-driven TCP client that speaks (or abuses) the wire format. */
class RawClient {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  closed = false;
  #decoder = new FrameDecoder(1 << 20);
  constructor(port: number) {
    this.socket = connect({ host: HOST, port });
    this.socket.on('data', (c: Buffer) => {
      this.#decoder.push(c);
      this.frames.push(...this.#decoder.drain().frames);
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
  }
  ready(): Promise<void> {
    return new Promise((r) => this.socket.once('connect', () => r()));
  }
  write(b: Buffer): void {
    this.socket.write(b);
  }
  destroy(): void {
    this.socket.destroy();
  }
}

function hello(from: string, to: string): Buffer {
  return encodeFrame('hello', packr.pack({ v: 1, from, to, nonce: randomBytes(32) }));
}

function collectFailures(net: PeerNetwork): AuthFailure[] {
  const out: AuthFailure[] = [];
  net.on('auth-failed', (f) => out.push(f));
  return out;
}

for (const wrongId of ['a', 'b']) {
  test(`a peer with a wrong secret (as ${wrongId === 'a' ? 'dialer' : 'acceptor'}) is refused and delivers nothing`, async () => {
    const a = makeNet('a', wrongId === 'a' ? { secret: 'not-the-secret' } : {});
    const b = makeNet('b', wrongId === 'b' ? { secret: 'not-the-secret' } : {});
    const good = wrongId === 'a' ? b : a;
    const bad = wrongId === 'a' ? a : b;
    try {
      const [sa, sb] = await startAll([a, b]);
      const fa = collectFailures(a);
      const fb = collectFailures(b);
      const got = [inbox(a), inbox(b)];
      let ups = 0;
      a.on('up', () => ups++);
      b.on('up', () => ups++);
      const specs = [sa!.spec, sb!.spec];
      a.setPeers(specs);
      b.setPeers(specs);
      // The dialer retries with backoff; wait for several refused attempts on both ends.
      await until(() => fa.length >= 3 && fb.length >= 3, 'repeated auth failures');
      // Mutual authentication: the dialer checks the acceptor's proof before revealing its own.
      assert.ok(fa.every((f) => f.role === 'dialer' && f.peer === 'b'));
      assert.ok(fa.some((f) => f.reason === 'bad-mac'), JSON.stringify(fa[0]));
      assert.ok(fb.every((f) => f.role === 'acceptor'));
      assert.equal(ups, 0);
      assert.equal(bad.send(good.selfId, { key: 'x', value: 'injected' }), false);
      assert.equal(good.isConnected(bad.selfId), false);
      assert.deepEqual(got.map((m) => m.size), [0, 0]);
    } finally {
      await closeAll([a, b]);
    }
  });
}

test('forged, garbage and oversize connections are refused; the server keeps working', async () => {
  const a = makeNet('a');
  const b = makeNet('b', { handshakeTimeoutMs: 300 });
  try {
    const specs = await connectAll([a, b]);
    const port = specs[1]!.port;
    const got = inbox(b);
    const fails = collectFailures(b);
    let downs = 0;
    b.on('down', () => downs++);
    const expectFailure = async (reason: AuthFailure['reason'], act: (c: RawClient) => void | Promise<void>) => {
      const before = fails.length;
      const c = new RawClient(port);
      await c.ready();
      await act(c);
      await until(() => fails.length > before && c.closed, `failure ${reason} and close`);
      assert.equal(fails[fails.length - 1]?.reason, reason);
      c.destroy();
      return c;
    };
    // Garbage: an HTTP request reads as a huge length; an unknown frame type; a hello whose body
    // is not msgpack; a hello that decodes but has the wrong shape.
    await expectFailure('oversize', (c) => c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
    await expectFailure('malformed', (c) => c.write(Buffer.from([0, 0, 0, 3, 0xee, 1, 2])));
    await expectFailure('malformed', (c) => c.write(encodeFrame('hello', Buffer.from([0xd4, 0x50, 1]))));
    await expectFailure('malformed', (c) => c.write(encodeFrame('hello', packr.pack({ v: 1, from: 'a', to: 'b', nonce: 'short' }))));
    // A length far beyond the handshake limit: refused as soon as the header is read.
    await expectFailure('oversize', (c) => c.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 6])));
    // A data frame before any handshake.
    await expectFailure('unexpected-frame', (c) => c.write(encodeFrame('data', packr.pack({ key: 'x', value: 1 }))));
    // Skipping the proof: hello, then data at once.
    await expectFailure('unexpected-frame', (c) => c.write(Buffer.concat([hello('a', 'b'), encodeFrame('data', packr.pack({ evil: 1 }))])));
    // A forged proof: hello, wait for the challenge, answer with a made-up MAC, then data.
    const forged = await expectFailure('bad-mac', async (c) => {
      c.write(hello('a', 'b'));
      await until(() => c.frames.length > 0, 'challenge');
      assert.equal(c.frames[0]?.type, 'challenge');
      c.write(Buffer.concat([encodeFrame('auth', packr.pack({ mac: randomBytes(32) })), encodeFrame('data', packr.pack({ evil: 2 }))]));
    });
    assert.equal(forged.frames[1]?.type, 'reject');
    // An id the acceptor does not know, and an id that must be dialed rather than dial.
    const unknown = await expectFailure('unknown-peer', (c) => c.write(hello('mallory', 'b')));
    assert.equal(unknown.frames[0]?.type, 'reject');
    await expectFailure('wrong-target', (c) => c.write(hello('a', 'zed')));
    // A client that connects and says nothing is dropped after the handshake timeout.
    await expectFailure('timeout', () => {});
    // None of it was delivered, and the real link to 'a' never went down and still works.
    assert.equal(got.size, 0);
    assert.equal(downs, 0);
    assert.ok(b.isConnected('a'));
    assert.equal(a.send('b', { ok: true }), true);
    await waitEvent(b, 'message');
    assert.deepEqual(got.get('a'), [{ ok: true }]);
  } finally {
    await closeAll([a, b]);
  }
});

test('a larger id dialing a smaller one is refused (exactly one connection per pair)', async () => {
  const b = makeNet('b');
  try {
    const [sb] = await startAll([b]);
    b.setPeers([sb!.spec, { id: 'c', host: HOST, port: 1 }]);
    const fails = collectFailures(b);
    const c = new RawClient(sb!.spec.port);
    await c.ready();
    c.write(hello('c', 'b'));
    await until(() => fails.length === 1 && c.closed, 'refusal');
    assert.equal(fails[0]?.reason, 'wrong-direction');
    c.destroy();
  } finally {
    await b.close();
  }
});

test('a hand-made client that knows the secret is accepted and replaces a stale link (positive control)', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    const specs = await connectAll([a, b]);
    const got = inbox(b);
    const downs: string[] = [];
    b.on('down', (_p, reason) => downs.push(reason));
    const c = new RawClient(specs[1]!.port);
    await c.ready();
    const nonce = randomBytes(32);
    c.write(encodeFrame('hello', packr.pack({ v: 1, from: 'a', to: 'b', nonce })));
    await until(() => c.frames.length > 0, 'challenge');
    const ch = unpack(c.frames[0]!.body) as { nonce: Buffer; mac: Buffer };
    const t = { dialerId: 'a', acceptorId: 'b', dialerNonce: nonce, acceptorNonce: ch.nonce };
    assert.deepEqual(Buffer.from(ch.mac), computeMac(Buffer.from(SECRET), 'acceptor', t));
    c.write(encodeFrame('auth', packr.pack({ mac: computeMac(Buffer.from(SECRET), 'dialer', t) })));
    await until(() => c.frames.some((f) => f.type === 'welcome'), 'welcome');
    // A valid data frame on the authenticated connection is delivered.
    c.write(encodeFrame('data', Buffer.concat([packr.pack({ n: 1 }), packr.pack({ n: 2 })])));
    await until(() => got.get('a')?.length === 2, 'delivery');
    assert.deepEqual(got.get('a'), [{ n: 1 }, { n: 2 }]);
    // The newer authenticated connection replaced the old one (one connection per pair).
    assert.deepEqual(downs, ['replaced']);
    c.destroy();
  } finally {
    await closeAll([a, b]);
  }
});

// Holding connections open without authenticating needs no secret. With every handshake slot
// taken that way, a newcomer closes the oldest pending connection once it has had its chance
// (a real peer authenticates within milliseconds), so the real peer still gets in; and the
// warning about full slots comes once a second at most, not once per connection.
test('idle connections holding every handshake slot do not keep a real peer out; one warning a second at most', async () => {
  const a = makeNet('a');
  const b = makeNet('b', { maxPendingHandshakes: 4, handshakeTimeoutMs: 5000 });
  const socks = new Set<Socket>();
  let stop = false;
  try {
    const [sa, sb] = await startAll([a, b]);
    const failures = collectFailures(b);
    const started = Date.now();
    // The attacker: 8 idle connections to b, each reopened 5 ms after b closes it.
    const open = (): void => {
      if (stop) return;
      const s = connect({ host: HOST, port: sb!.spec.port });
      socks.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        socks.delete(s);
        setTimeout(open, 5);
      });
    };
    for (let i = 0; i < 8; i++) open();
    await new Promise((r) => setTimeout(r, 600));
    a.setPeers([sa!.spec, sb!.spec]);
    b.setPeers([sa!.spec, sb!.spec]);
    await until(() => a.isConnected('b') && b.isConnected('a'), 'a and b linked while the idle connections go on', 5000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(b.isConnected('a'), 'an open link is never evicted');
    const warnings = failures.filter((f) => f.reason === 'too-many-pending');
    const seconds = (Date.now() - started) / 1000;
    assert.ok(warnings.length >= 1, 'full slots are reported');
    assert.ok(warnings.length <= Math.ceil(seconds) + 1, `${warnings.length} warnings in ${seconds} s`);
    assert.match(warnings[0]!.detail, /handshake slots full \(4\): \d+ connections refused and \d+ unauthenticated ones closed, oldest first/);
  } finally {
    stop = true;
    for (const s of socks) s.destroy();
    await closeAll([a, b]);
  }
});
