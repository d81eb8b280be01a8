/** Peer links between real PeerNetworks on 127.0.0.1: connection, FIFO delivery, batching. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeNet, connectAll, inbox, until, closeAll } from './peer-helpers.js';

test('two nodes connect once and exchange messages in FIFO order both ways', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const ra = inbox(a);
    const rb = inbox(b);
    // Plain JS values of every kind survive the msgpack round trip.
    const sample = [{ k: 'x', v: 5, clock: { a: 1, b: 0 } }, [1, 'two', null], 'str', 42, -1.5, null, Buffer.from([1, 2, 3])];
    for (const m of sample) assert.equal(a.send('b', m), true);
    for (let i = 0; i < 50; i++) assert.equal(b.send('a', { seq: i }), true);
    await until(() => (rb.get('a')?.length ?? 0) === sample.length && (ra.get('b')?.length ?? 0) === 50, 'delivery');
    assert.deepEqual(rb.get('a'), sample);
    assert.deepEqual(ra.get('b'), Array.from({ length: 50 }, (_, i) => ({ seq: i })));
    // One persistent connection per pair: the link never came up twice.
    assert.equal(a.stats('b').reconnects, 0);
    assert.equal(b.stats('a').reconnects, 0);
  } finally {
    await closeAll([a, b]);
  }
});

test('three nodes: every pair connects and each ordered stream arrives in order', async () => {
  const nets = ['n1', 'n2', 'n3'].map((id) => makeNet(id));
  try {
    await connectAll(nets);
    const boxes = nets.map((n) => inbox(n));
    for (const from of nets) {
      for (const to of nets) {
        if (from === to) continue;
        for (let i = 0; i < 200; i++) assert.equal(from.send(to.selfId, { from: from.selfId, i }), true);
      }
    }
    await until(() => boxes.every((box) => [...box.values()].reduce((s, l) => s + l.length, 0) === 400), 'all delivered');
    nets.forEach((to, ti) => {
      for (const from of nets) {
        if (from === to) continue;
        // FIFO per link: messages from one sender arrive in the order sent.
        assert.deepEqual(boxes[ti]?.get(from.selfId), Array.from({ length: 200 }, (_, i) => ({ from: from.selfId, i })));
      }
    });
  } finally {
    await closeAll(nets);
  }
});

test('a burst of 100k small messages arrives complete and in order, in far fewer frames', async () => {
  const a = makeNet('a');
  const b = makeNet('b');
  try {
    await connectAll([a, b]);
    const N = 100_000;
    let next = 0;
    let outOfOrder = 0;
    b.on('message', (_from, m) => {
      if ((m as { i: number }).i !== next) outOfOrder++;
      next++;
    });
    for (let i = 0; i < N; i++) assert.equal(a.send('b', { i }), true, `send ${i}`);
    await until(() => next === N, 'burst delivered', 15_000);
    assert.equal(outOfOrder, 0);
    const s = a.stats('b');
    assert.equal(s.sentMessages, N);
    assert.equal(b.stats('a').recvMessages, N);
    // Batching: messages sent in one tick are coalesced into a few DATA frames.
    assert.ok(s.sentFrames * 100 < N, `expected far fewer frames than messages, got ${s.sentFrames}`);
    assert.equal(b.stats('a').recvFrames, s.sentFrames);
  } finally {
    await closeAll([a, b]);
  }
});

test('send to an unknown or unconnected peer returns false', async () => {
  const a = makeNet('a');
  try {
    await a.start();
    a.setPeers([{ id: 'z', host: '127.0.0.1', port: 1 }]);
    assert.equal(a.send('nobody', 1), false);
    assert.equal(a.send('z', 1), false);
    assert.equal(a.isConnected('z'), false);
    assert.equal(a.stats('z').refusedSends, 1);
  } finally {
    await a.close();
  }
});
