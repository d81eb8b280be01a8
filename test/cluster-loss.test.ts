// Writes lost on one link are repaired by anti-entropy (SPEC §2), and only those: the writes that
// arrived after a lost one wait in the receiver's buffer, and its acknowledgements say so (`have`),
// so neither the origin nor a third node sends them again. Real node processes on loopback; the
// loss is `causeway chaos loss`, drawn at random, so the bound below is loose.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, http, syncReplied, TestCluster } from './support/cluster.js';
import { runCli } from './support/workload-cluster.js';

let c: TestCluster;
after(async () => {
  await c?.stopAll();
});

interface Status {
  clock: Record<string, number>;
  peers: Record<string, { link: { droppedMessages: number } }>;
}

async function status(url: string): Promise<Status> {
  return (await http('GET', `${url}/v1/status`)).body as unknown as Status;
}

test('under 10 % loss on one link, the lost writes are re-sent, not the ones buffered behind them', { timeout: 90_000 }, async () => {
  c = await TestCluster.create(3);
  await c.startAll();
  const r = await runCli(['chaos', 'loss', 'node1', 'node2', '10%', '--config', c.configPath]);
  assert.equal(r.code, 0, r.stderr);
  const n1 = c.node('node1');
  const n2 = c.node('node2');
  const writes = 1000;
  const put = async (i: number): Promise<void> => {
    assert.equal((await http('PUT', `${n1.http}/v1/kv/k${i}`, i)).status, 200);
  };
  for (let i = 0; i < writes; i += 16) await Promise.all(Array.from({ length: Math.min(16, writes - i) }, (_, j) => put(i + j)));
  await eventually(async () => (await status(n2.http)).clock['node1'] === writes, 30_000, 'node2 applied every write of node1');
  for (const i of [0, 500, writes - 1]) assert.equal((await http('GET', `${n2.http}/v1/kv/k${i}`)).body['value'], i);
  // past a few rounds of repair (30 ticks, 300 ms each): anything still to come has come
  await new Promise((res) => setTimeout(res, 1500));
  const dropped = (await status(n1.http)).peers['node2']?.link.droppedMessages ?? 0;
  assert.ok(dropped > 0, 'the loss dropped messages from node1 to node2');
  const sent = { node1: syncReplied(n1, 'node2'), node3: syncReplied(c.node('node3'), 'node2') };
  const total = sent.node1 + sent.node3;
  assert.ok(total > 0, 'node2 got the lost writes by anti-entropy');
  // About 100 of the 1,000 are lost. Before acknowledgements carried `have`, repairs re-sent what
  // node2 held too: 160 to 1,342 writes in ten runs, over 400 in six of them; now 104 to 258 in
  // twelve. The deterministic check of the rule is the core's test; this one is the whole path.
  assert.ok(total <= 400, `writes re-sent to node2: ${JSON.stringify(sent)}, more than 400 for about 100 lost`);
});
