// Bounded memory under hostile writes (write-budget.ts, kv-input.ts). A write whose causal
// context the node has not reached waits up to 5 s holding its parsed value; the count of waiting
// operations alone let one client fill the heap (5,000 waiting bodies of 64 KiB of `{}` ended a
// node: JavaScript heap out of memory). Now a value has at most 8,192 objects and arrays, and the
// client writes a node holds are bounded in bytes: beyond, 503 at once, and reads still answer.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { encodeContext } from '../src/transport/context-token.js';
import { http, TestCluster } from './support/cluster.js';

let c: TestCluster;
after(async () => {
  await c?.stopAll();
});

const rssMiB = (pid: number): number => Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024;

test('a flood of waiting writes is refused beyond the write budget; the node stays up and keeps answering', { timeout: 90_000 }, async () => {
  c = await TestCluster.create(1);
  await c.start('node1');
  const n1 = c.node('node1');
  const url = `${n1.http}/v1/kv`;

  // A value of more than 8,192 objects and arrays is refused, naming the limit.
  const tooMany = await http('PUT', `${url}/many`, `[${Array(8192).fill('{}').join(',')}]`);
  assert.equal(tooMany.status, 400);
  assert.match(String(tooMany.body['detail']), /more than 8192 objects and arrays/);

  // 1,500 writes of 8,191 empty objects each (24 KiB bodies, about 0.5 MB each once parsed), all
  // waiting for a context the node will not reach: 750 MB if every one were held.
  const body = `[${Array(8190).fill('{}').join(',')}]`;
  const ahead = encodeContext({ node1: 1_000_000_000 });
  const before = rssMiB(n1.proc?.pid ?? 0);
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 1500 }, (_, i) =>
      fetch(`${url}/flood${i}`, { method: 'PUT', body, headers: { 'causeway-context': ahead } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> })),
    ),
  );
  const refused = answers.filter((a) => a.status === 503 && /node is busy: .* waiting for their causal context/.test(String(a.body['detail'])));
  const waited = answers.filter((a) => a.status === 503 && /context/.test(String(a.body['detail'])) && !/node is busy/.test(String(a.body['detail'])));
  assert.equal(refused.length + waited.length, 1500, `every write refused at once or after its wait: ${JSON.stringify(answers.find((a) => a.status !== 503))}`);
  assert.ok(refused.length >= 1000, `most refused at once (${refused.length}; ${waited.length} waited)`);
  assert.ok(waited.length >= 50, `the budget still lets writes wait (${waited.length})`);
  const after = rssMiB(n1.proc?.pid ?? 0);
  assert.ok(after - before < 400, `RSS grew by ${Math.round(after - before)} MiB (from ${Math.round(before)})`);
  assert.ok(Date.now() - started < 60_000);

  // The node is up, nothing of the flood was stored, and ordinary writes and reads go through.
  const st = await http('GET', `${n1.http}/v1/status`);
  const cw = st.body['clientWrites'] as { usedBytes: number; refused: number };
  assert.equal(cw.usedBytes, 0, 'the budget is given back');
  assert.equal(cw.refused, refused.length);
  assert.equal((await http('GET', `${url}/flood0`)).status, 404);
  assert.equal((await http('PUT', `${url}/ok`, { fine: true })).status, 200);
  assert.deepEqual((await http('GET', `${url}/ok`)).body['value'], { fine: true });
});
