// A node that rejoins a cluster catches up by anti-entropy (SPEC §2): each peer answers a sync
// request with every write the requester lacks, third nodes' writes included. Its links come up
// together, so it asks one peer at a time (pullTimeoutTicks), each with the clock it has by then:
// the writes it missed come once, not once per peer. A peer that answered with many writes waits
// for the node to apply them before it repairs (#holdRepair). Real node processes on loopback.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, http, logMessages, TestCluster } from './support/cluster.js';

let c: TestCluster;
after(async () => {
  await c?.stopAll();
});

/** The writes `n`'s log says it sent `to` in answer to sync requests ("sync reply to X: N writes it lacks"). */
function syncReplied(log: string[], to: string): number {
  let sum = 0;
  for (const m of log) {
    const hit = new RegExp(`sync reply to ${to}: (\\d+) writes it lacks`).exec(m);
    if (hit) sum += Number(hit[1]);
  }
  return sum;
}

test('a node back from a crash in a five-node cluster gets each missed write about once, not once per peer', { timeout: 90_000 }, async () => {
  c = await TestCluster.create(5);
  await c.startAll();
  await c.stop('node5', 'SIGKILL');
  const n1 = c.node('node1');
  // Enough writes that applying them takes the rejoining node longer than the repair delay
  // (30 ticks): a peer that did not wait for its acknowledgements sent them all again.
  const writes = 3000;
  const put = async (i: number): Promise<void> => {
    assert.equal((await http('PUT', `${n1.http}/v1/kv/k${i}`, i)).status, 200);
  };
  for (let i = 0; i < writes; i += 16) await Promise.all(Array.from({ length: Math.min(16, writes - i) }, (_, j) => put(i + j)));
  for (const id of ['node2', 'node3', 'node4']) {
    await eventually(async () => (await http('GET', `${c.node(id).http}/v1/kv/k${writes - 1}`)).status === 200, 15_000, `${id} has every write`);
  }
  const peers = ['node1', 'node2', 'node3', 'node4'];
  const before = peers.map((id) => syncReplied(logMessages(c.node(id)), 'node5'));
  await c.start('node5');
  const n5 = c.node('node5');
  await eventually(async () => (await http('GET', `${n5.http}/v1/kv/k${writes - 1}`)).status === 200, 15_000, 'node5 caught up');
  for (const i of [0, 99, writes - 1]) assert.equal((await http('GET', `${n5.http}/v1/kv/k${i}`)).body['value'], i);
  // Past every pull's timeout (4 x 100 ms) and the repairs' delay (3 batches x 300 ms).
  await new Promise((r) => setTimeout(r, 2000));
  const sent = peers.map((id, i) => syncReplied(logMessages(c.node(id)), 'node5') - (before[i] as number));
  const total = sent.reduce((a, b) => a + b, 0);
  assert.ok(total >= writes, `node5 was sent the ${writes} writes it missed (${sent.join(' + ')})`);
  // Asking the four peers at once would bring every missed write four times; a repair before the
  // node could acknowledge them, twice.
  assert.ok(total < 2 * writes, `node5 was sent ${total} writes by anti-entropy (${sent.join(' + ')} from ${peers.join(', ')}), not about ${writes}`);
});
