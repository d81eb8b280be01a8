import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/cluster.js';

const SERVER = fileURLToPath(new URL('./http-ceiling-server.js', import.meta.url));

// The ceiling stands in for a node's HTTP API under the same load: it must answer the same
// request (PUT /v1/kv/{key} with a JSON body) with a JSON reply and a context header, and parse
// the body as the node does (invalid JSON is refused), or it would measure less work than a node's.
test('the HTTP ceiling server answers PUT /v1/kv/{key} like a node, from memory', async () => {
  const port = await freePort();
  const proc = spawn(process.execPath, [SERVER, String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/v1/status`)).ok) break;
      } catch {
        if (i > 100) throw new Error('ceiling server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const put = await fetch(`${base}/v1/kv/a/b`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify('v') });
    assert.equal(put.status, 200);
    assert.equal(put.headers.get('causeway-context'), 'node1:1');
    assert.deepEqual(await put.json(), { ok: true, key: 'a/b', clock: { node1: 1 } });
    const bad = await fetch(`${base}/v1/kv/a`, { method: 'PUT', body: '{nope' });
    assert.equal(bad.status, 400);
    assert.deepEqual(await (await fetch(`${base}/v1/status`)).json(), { ok: true, keys: 1 });
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
});

test('the HTTP ceiling server refuses a missing or bad port with exit code 2', async () => {
  const proc = spawn(process.execPath, [SERVER, 'x'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((r) => proc.once('exit', r));
  assert.equal(code, 2);
  assert.match(err, /usage: http-ceiling-server PORT/);
});
