// A node whose peers have not come up yet (SPEC §2 "Anti-entropy: when a peer link (re)connects,
// the two nodes compare clocks and send each other what the other lacks"): until a link is up
// the node treats that peer as down — it does not keep re-sending its log into a link that is not
// there — and when the peer comes up, anti-entropy brings it everything.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, http, TestCluster } from './support/cluster.js';

let c: TestCluster;
after(async () => {
  await c?.stopAll();
});

/** /v1/status peers[id]: `connected` is the protocol's view of the link, `link` the transport's. */
interface PeerStatus {
  connected: boolean;
  link: { connected: boolean; refusedSends: number };
}

test('peers that never connected are down: no repair traffic to them; on connection they catch up', async () => {
  c = await TestCluster.create(3);
  await c.start('node1');
  const n1 = c.node('node1');
  for (let i = 0; i < 40; i++) assert.equal((await http('PUT', `${n1.http}/v1/kv/k${i}`, i)).status, 200);
  // Sender-side repair runs every 30 ticks (300 ms) for a live peer that lags: give it 1.5 s.
  await new Promise((r) => setTimeout(r, 1500));
  const peers = (await http('GET', `${n1.http}/v1/status`)).body['peers'] as Record<string, PeerStatus>;
  for (const p of ['node2', 'node3']) {
    assert.equal(peers[p]?.link.connected, false);
    assert.equal(peers[p]?.connected, false, `${p} is down in the protocol's view while its link is`);
    assert.ok((peers[p]?.link.refusedSends ?? 0) <= 1, `no repeated sends into ${p}'s missing link: ${JSON.stringify(peers[p]?.link)}`);
  }
  assert.doesNotMatch(n1.log, /sync reply to node2: 40 writes/, 'no repair rounds aimed at a peer that is not there');
  await c.start('node2');
  await c.start('node3');
  for (const id of ['node2', 'node3']) {
    await eventually(async () => (await http('GET', `${c.node(id).http}/v1/kv/k39`)).status === 200, 15_000, `${id} has the writes made before it came up`);
    for (let i = 0; i < 40; i++) assert.equal((await http('GET', `${c.node(id).http}/v1/kv/k${i}`)).body['value'], i);
  }
  // node1 redials with backoff: its own links come up in time, and the protocol sees them up.
  const peersUp = async (): Promise<boolean> => {
    const up = (await http('GET', `${n1.http}/v1/status`)).body['peers'] as Record<string, PeerStatus>;
    return up['node2']?.connected === true && up['node3']?.connected === true;
  };
  await eventually(peersUp, 15_000, "node1's links to node2 and node3 up in the protocol's view");
});

// Catching up on big values: the anti-entropy reply for 300 writes of 60 KB is about 18 MB, over
// the peer link's 16 MiB frame limit. The reply used to throw in the sender, which took it for a
// storage failure and stopped serving; now it goes in parts.
test('a peer that comes back behind 18 MB of writes catches up; the sender keeps serving', { timeout: 120_000 }, async () => {
  const c2 = await TestCluster.create(2);
  try {
    await c2.start('node1');
    const n1 = c2.node('node1');
    const value = 'v'.repeat(60_000);
    const body = JSON.stringify(value); // the helper sends a string body as it is
    for (let i = 0; i < 300; i++) assert.equal((await http('PUT', `${n1.http}/v1/kv/big${i}`, body)).status, 200);
    await c2.start('node2');
    const n2 = c2.node('node2');
    await eventually(async () => (await http('GET', `${n2.http}/v1/kv/big299`)).status === 200, 60_000, 'node2 has every big write');
    for (const i of [0, 150, 299]) assert.equal((await http('GET', `${n2.http}/v1/kv/big${i}`)).body['value'], value);
    assert.equal((await http('PUT', `${n1.http}/v1/kv/after-big`, 1)).status, 200, 'node1 still serves');
    assert.doesNotMatch(n1.log, /storage failure|could not send/);
  } finally {
    await c2.stopAll();
  }
});
