// A node that cannot start says why and exits 2 (the guide: a clear error, never a half-started
// process). Its HTTP port taken by another process: the peer links had already started, and they
// kept a node running that no client could reach, until this exit.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { MAIN, TestCluster } from './support/cluster.js';

let c: TestCluster | undefined;
after(() => {
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

test('a node whose HTTP port is taken exits 2 with the reason', { timeout: 30_000 }, async () => {
  c = await TestCluster.create(2);
  const n1 = c.node('node1');
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(Number(new URL(n1.http).port), '127.0.0.1', r));
  try {
    const p = spawn(process.execPath, [MAIN, 'node', '--id', 'node1', '--config', c.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((r) => p.once('exit', r));
    clearTimeout(timer);
    assert.equal(code, 2, out);
    assert.match(out, /cannot start node: listen EADDRINUSE/);
  } finally {
    squatter.close();
  }
});
