// `causeway demo kv` replays the report's scenario against a running cluster (SPEC §2).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MAIN, TestCluster } from './support/cluster.js';

let c: TestCluster;
before(async () => {
  c = await TestCluster.create(3);
  await c.startAll();
});
after(async () => {
  await c?.stopAll();
});

test('demo kv prints every step with its clocks and ends with x=10 everywhere', () => {
  const r = spawnSync(process.execPath, [MAIN, 'demo', 'kv', '--nodes', c.nodes.map((n) => n.http).join(',')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const out = r.stdout;
  assert.match(out, /"status":"written","clock":\{"node1":1,"node2":0,"node3":0\}/);
  assert.match(out, /\{"key":"x","value":5,"clock":\{"node1":1,"node2":0,"node3":0\}\}/);
  assert.match(out, /"clock":\{"node1":1,"node2":0,"node3":1\}/);
  for (const n of ['node1', 'node2', 'node3']) assert.match(out, new RegExp(`${n}: \\{"key":"x","value":10,"clock":\\{"node1":1,"node2":0,"node3":1\\}\\}`));
});

test('demo kv against nothing fails with a clear message and exit 1', async () => {
  await c.stopAll();
  const r = spawnSync(process.execPath, [MAIN, 'demo', 'kv', '--nodes', c.nodes.map((n) => n.http).join(',')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /demo kv failed: .*is the cluster running\?/);
});
