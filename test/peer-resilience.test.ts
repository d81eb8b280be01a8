/**
 * Peer links under trouble: reconnection with backoff, backpressure with pause/resume, fault
 * hooks (issue 4 §3 chaos: partition, one-way, loss, delay), oversize frames, idle links.
 * Real sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/core/rng.js';
import type { DownReason } from '../src/transport/peer/index.js';
import { makeNet, connectAll, inbox, until, waitEvent, closeAll } from './peer-helpers.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('a dropped connection goes down, reconnects, and comes up again', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const got = inbox(b);
    const downs: [string, DownReason][] = [];
    a.on('down', (p, r) => downs.push([p, r]));
    b.on('down', (p, r) => downs.push([p, r]));
    const upA = waitEvent(a, 'up');
    const upB = waitEvent(b, 'up');
    b.disconnect('a'); // the acceptor drops it: the dialer must notice and redial
    await Promise.all([upA, upB]);
    assert.deepEqual(downs.map((d) => d[0]).sort(), ['a', 'b']);
    assert.equal(a.stats('b').reconnects, 1);
    assert.equal(b.stats('a').reconnects, 1);
    assert.equal(a.send('b', 'after'), true);
    await until(() => got.get('a')?.length === 1, 'delivery after reconnect');
  } finally {
    await closeAll([a, b]);
  }
});

test('a killed node is redialed with backoff and the link comes back when it restarts', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  let b2 = b;
  try {
    const specs = await connectAll([a, b]);
    const down = waitEvent(a, 'down');
    await b.close();
    await down;
    const attemptsBefore = a.stats('b').dialAttempts;
    await tick(400); // b is gone: a keeps trying, refused, backing off (20 ms doubling to 200 ms)
    const attempts = a.stats('b').dialAttempts - attemptsBefore;
    assert.ok(attempts >= 1, 'the dialer retries');
    // Without backoff 20 ms retries would make ~20 attempts in 400 ms; doubling makes at most ~8.
    assert.ok(attempts <= 10, `backoff limits redials, got ${attempts}`);
    b2 = makeNet('b', { listenPort: specs[1]!.port });
    const up = waitEvent(a, 'up');
    await b2.start();
    b2.setPeers(specs);
    await up;
    assert.equal(a.stats('b').reconnects, 1);
    const got = inbox(b2);
    a.send('b', { after: 'restart' });
    await until(() => got.get('a')?.length === 1, 'delivery to the restarted node');
  } finally {
    await closeAll([a, b, b2]);
  }
});

test('pause stops delivery, the sender stays bounded, resume delivers everything in order', async () => {
  const maxQueueBytes = 256 * 1024;
  const a = makeNet('a', { maxQueueBytes });
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const got = inbox(b);
    b.pause('a');
    const payload = Buffer.alloc(1024, 7);
    let accepted = 0;
    let refused = false;
    // Send in turns of the event loop so the socket really fills; stop at the first refusal.
    for (let round = 0; round < 2000 && !refused; round++) {
      for (let i = 0; i < 64; i++) {
        if (!a.send('b', { i: accepted, payload })) {
          refused = true;
          break;
        }
        accepted++;
      }
      await tick();
    }
    assert.ok(refused, 'send returns false once the per-peer bound is reached');
    assert.ok(a.stats('b').queuedBytes <= maxQueueBytes + 2048, `queued ${a.stats('b').queuedBytes}`);
    await tick(50);
    assert.equal(got.size, 0, 'nothing is delivered while paused');
    assert.equal(a.send('b', { i: -1, payload }), false, 'still full while the reader is paused');
    const drained = waitEvent(a, 'drain');
    b.resume('a');
    await drained;
    await until(() => got.get('a')?.length === accepted, 'all accepted messages delivered', 10_000);
    const seq = (got.get('a') as { i: number }[]).map((m) => m.i);
    assert.deepEqual(seq, Array.from({ length: accepted }, (_, i) => i));
    assert.equal(a.send('b', { i: accepted, payload }), true, 'accepting again after drain');
  } finally {
    await closeAll([a, b]);
  }
});

test('pause from inside a message handler stops the rest of a batch until resume', async () => {
  // SPEC §2: a full causal buffer stops reading from the link that feeds it, dropping nothing
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const seen: number[] = [];
    b.on('message', (_from, m) => {
      seen.push(m as number);
      if (seen.length === 10) b.pause('a');
    });
    for (let i = 0; i < 100; i++) a.send('b', i); // one tick: one batch frame
    await until(() => seen.length === 10, 'first ten');
    await tick(50);
    assert.equal(seen.length, 10, 'nothing more while paused');
    assert.equal(a.stats('b').sentFrames, 1);
    b.resume('a');
    await until(() => seen.length === 100, 'the rest after resume');
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i));
  } finally {
    await closeAll([a, b]);
  }
});

test('partition holds the link down (both ways) and heal brings it back up', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const gotA = inbox(a);
    const gotB = inbox(b);
    const fails: unknown[] = [];
    a.on('auth-failed', (f) => fails.push(f));
    b.on('auth-failed', (f) => fails.push(f));
    // Partition set on the acceptor only: it refuses the dialer's attempts.
    const downA = waitEvent(a, 'down');
    b.setFault('a', { partition: true });
    await downA;
    assert.equal(b.send('a', 'lost'), false);
    assert.equal(a.send('b', 'lost'), false);
    const before = a.stats('b').dialAttempts;
    await until(() => a.stats('b').dialAttempts >= before + 2, 'refused redials');
    assert.equal(a.isConnected('b'), false);
    assert.deepEqual(fails, [], 'a partition is not an authentication failure');
    const up = waitEvent(a, 'up');
    b.setFault('a', null);
    await up;
    a.send('b', 'healed-ab');
    b.send('a', 'healed-ba');
    await until(() => gotA.size === 1 && gotB.size === 1, 'delivery after heal');
    assert.deepEqual(gotB.get('a'), ['healed-ab']);
    assert.deepEqual(gotA.get('b'), ['healed-ba']);
    // Partition on the dialer: it stops dialing; heal redials at once.
    const downB = waitEvent(b, 'down');
    a.setFault('b', { partition: true });
    await downB;
    const attempts = a.stats('b').dialAttempts;
    await tick(100);
    assert.equal(a.stats('b').dialAttempts, attempts, 'no dialing while partitioned');
    const up2 = waitEvent(b, 'up');
    a.setFault('b', null);
    await up2;
  } finally {
    await closeAll([a, b]);
  }
});

test('one-way faults drop one direction only; the link stays up', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const gotA = inbox(a);
    const gotB = inbox(b);
    a.setFault('b', { oneway: 'out' }); // a → b dropped at a
    b.setFault('a', { oneway: 'in' }); // and a → b dropped at b as well, for the 'in' side
    assert.equal(a.send('b', 'dropped-1'), true);
    a.setFault('b', null);
    assert.equal(a.send('b', 'dropped-2'), true); // dropped on arrival at b
    assert.equal(b.send('a', 'b-to-a'), true);
    await until(() => gotA.get('b')?.length === 1 && b.stats('a').droppedMessages === 1, 'b → a delivered, a → b dropped');
    assert.equal(a.stats('b').droppedMessages, 1);
    assert.equal(gotB.size, 0);
    b.setFault('a', null);
    a.send('b', 'after-heal');
    await until(() => gotB.get('a')?.length === 1, 'a → b after heal');
    assert.deepEqual(gotB.get('a'), ['after-heal']);
    assert.ok(a.isConnected('b'));
  } finally {
    await closeAll([a, b]);
  }
});

test('loss drops a seeded share of messages; survivors stay in order', async () => {
  const rng = new Rng(1234);
  const a = makeNet('a', { random: () => rng.next() });
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const got = inbox(b);
    a.setFault('b', { lossRate: 0.3 });
    for (let i = 0; i < 1000; i++) assert.equal(a.send('b', i), true);
    const dropped = a.stats('b').droppedMessages;
    assert.ok(dropped > 200 && dropped < 400, `dropped ${dropped} of 1000 at rate 0.3`);
    await until(() => b.stats('a').recvMessages === 1000 - dropped, 'survivors');
    const seq = got.get('a') as number[];
    assert.ok(seq.every((v, i) => i === 0 || v > (seq[i - 1] as number)), 'in order');
  } finally {
    await closeAll([a, b]);
  }
});

test('delay holds outgoing messages and keeps their order', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const got = inbox(b);
    a.setFault('b', { delayMs: 80 });
    for (let i = 0; i < 10; i++) a.send('b', i);
    await tick(20);
    assert.equal(got.size, 0, 'nothing before the delay has passed');
    for (let i = 10; i < 20; i++) a.send('b', i);
    a.setFault('b', { delayMs: 1 }); // a shorter delay never overtakes earlier messages
    for (let i = 20; i < 30; i++) a.send('b', i);
    await until(() => got.get('a')?.length === 30, 'delayed delivery');
    assert.deepEqual(got.get('a'), Array.from({ length: 30 }, (_, i) => i));
  } finally {
    await closeAll([a, b]);
  }
});

test('an oversize frame on an open link closes it as a protocol error; the link recovers', async () => {
  const a = makeNet('a', { maxBatchBytes: 8 * 1024 });
  const b = makeNet('b', { maxFrameBytes: 64 * 1024 });
  try {
    await connectAll([a, b]);
    const got = inbox(b);
    const down = waitEvent<[string, DownReason, string]>(b, 'down');
    const up = waitEvent(a, 'up');
    a.send('b', Buffer.alloc(100 * 1024));
    const [, reason] = await down;
    assert.equal(reason, 'protocol-error');
    await up;
    a.send('b', 'small');
    await until(() => got.get('a')?.length === 1, 'delivery after recovery');
    assert.deepEqual(got.get('a'), ['small']);
    assert.throws(() => a.send('b', Buffer.alloc(17 * 1024 * 1024)), /too-large/);
  } finally {
    await closeAll([a, b]);
  }
});

test('a silent peer is detected by the idle timeout', async () => {
  const a = makeNet('a', { heartbeatMs: 60_000, idleTimeoutMs: 120_000 });
  const b = makeNet('b', { heartbeatMs: 50, idleTimeoutMs: 200 });
  try {
    await connectAll([a, b]);
    const [, reason] = await waitEvent<[string, DownReason, string]>(b, 'down');
    assert.equal(reason, 'idle-timeout');
  } finally {
    await closeAll([a, b]);
  }
});

test('setPeers removes a peer (down, no redial) and rejects bad faults', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    const specs = await connectAll([a, b]);
    const down = waitEvent<[string, DownReason, string]>(a, 'down');
    const downB = waitEvent(b, 'down');
    a.setPeers([specs[0]!]);
    const [, reason] = await down;
    await downB;
    assert.equal(reason, 'removed');
    assert.deepEqual(a.peerIds(), []);
    assert.throws(() => a.stats('b'), /not-found/);
    assert.throws(() => b.setFault('a', { lossRate: 2 }), /bad-request/);
    assert.throws(() => b.setFault('a', { delayMs: -1 }), /bad-request/);
    assert.equal(b.isConnected('a'), false);
  } finally {
    await closeAll([a, b]);
  }
});
