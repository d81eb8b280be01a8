// Durability and catch-up (SPEC §2): a write is acknowledged only once it is on disk; after kill -9
// and restart nothing acknowledged is lost, and a node that was down catches up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WriteAheadLog } from '../src/storage/wal.js';
import { eventually, http, MAIN, TestCluster } from './support/cluster.js';

describe('durability', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.create(3);
    await c.startAll();
  });
  after(async () => {
    await c?.stopAll();
  });

  test('kill -9 in the middle of a stream of acknowledged writes loses none of them', async () => {
    const n1 = c.node('node1');
    const acked: string[] = [];
    let stop = false;
    // 8 concurrent writers against node1 until it dies.
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop && i < 5000; i++) {
        const key = `dur-${w}-${i}`;
        try {
          const r = await http('PUT', `${n1.http}/v1/kv/${key}`, { w, i });
          if (r.status === 200) acked.push(key);
        } catch {
          return; // connection refused or reset: the node is gone
        }
      }
    });
    await eventually(async () => acked.length >= 300, 20_000, '300 acknowledged writes');
    await c.stop('node1', 'SIGKILL');
    stop = true;
    await Promise.all(writers);
    assert.ok(acked.length >= 300);
    await c.start('node1');
    // Every acknowledged write is on the restarted node, and on every other node.
    for (const n of c.nodes) {
      await eventually(async () => {
        const st = (await http('GET', `${n.http}/v1/status`)).body;
        return ((st['clock'] as Record<string, number>)['node1'] ?? 0) >= acked.length;
      }, 20_000, `${n.id} has node1's writes`);
      for (const key of acked) {
        const r = await http('GET', `${n.http}/v1/kv/${key}`);
        assert.equal(r.status, 200, `${n.id} lost acknowledged ${key}`);
      }
    }
  });

  test('a node stopped while the others take writes catches up after restart', async () => {
    await c.stop('node3', 'SIGTERM');
    const n1 = c.node('node1');
    const n2 = c.node('node2');
    let last = '';
    for (let i = 0; i < 100; i++) {
      const r = await http('PUT', `${(i % 2 ? n1 : n2).http}/v1/kv/catch-${i % 10}`, i);
      assert.equal(r.status, 200);
      last = r.context ?? last;
    }
    await c.start('node3');
    const n3 = c.node('node3');
    // With the last context token, node3 serves the read only once it has caught up.
    const r = await http('GET', `${n3.http}/v1/kv/catch-9`, undefined, { 'causeway-context': last });
    assert.equal(r.status, 200);
    assert.equal(r.body['value'], 99);
    await eventually(async () => {
      const clocks = await Promise.all(c.nodes.map(async (n) => JSON.stringify((await http('GET', `${n.http}/v1/status`)).body['clock'])));
      return clocks.every((x) => x === clocks[0]);
    }, 20_000, 'equal clocks');
  });

  // Storage: damage in the log that a crash cannot explain (a bad record with intact ones after
  // it in a later segment) stops the node at boot with a message naming it, instead of a restore
  // that silently drops acknowledged writes; its files are left as they were.
  test('a node whose write-ahead log is damaged refuses to start, says why and changes nothing', async () => {
    const n2 = c.node('node2');
    for (let i = 0; i < 20; i++) assert.equal((await http('PUT', `${n2.http}/v1/kv/rot-${i}`, i)).status, 200);
    await c.stop('node2', 'SIGKILL');
    const walDir = join(c.dir, 'data', 'node2', 'wal');
    const { wal } = WriteAheadLog.open(walDir); // a later segment with an intact record in it
    wal.append([{ kind: 'put', space: 'kv', key: 'later', value: 1 }]);
    await wal.close();
    const segs = readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort();
    assert.ok(segs.length >= 2, `segments: ${segs.join(', ')}`);
    const first = join(walDir, segs[0] as string);
    const bytes = readFileSync(first);
    bytes[8 + 2] = (bytes[8 + 2] as number) ^ 0xff; // the first record's payload
    writeFileSync(first, bytes);
    const before = readdirSync(walDir).map((f) => [f, readFileSync(join(walDir, f)).length]);
    await assert.rejects(c.start('node2'), (e: Error) => /exited with 2/.test(e.message) && /cannot start node: write-ahead log .* is damaged/.test(e.message));
    assert.deepEqual(readdirSync(walDir).map((f) => [f, readFileSync(join(walDir, f)).length]), before);
    assert.ok(readFileSync(first).equals(bytes), 'the damaged segment is untouched');
  });

  // One process per data directory: a second node with the same id (started by mistake) used to
  // open the running node's write-ahead log, run recovery on it and add a segment.
  test('a second process for a running node refuses to start and touches nothing', async () => {
    const n3 = c.node('node3');
    for (let i = 0; i < 10; i++) assert.equal((await http('PUT', `${n3.http}/v1/kv/twin-${i}`, i)).status, 200);
    const walDir = join(c.dir, 'data', 'node3', 'wal');
    const listing = (): string[] => readdirSync(walDir).sort();
    const before = listing();
    const twin = spawnSync(process.execPath, [MAIN, 'node', '--id', 'node3', '--config', c.configPath], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(twin.status, 2, twin.stdout + twin.stderr);
    assert.match(twin.stdout + twin.stderr, new RegExp(`cannot start node: data directory .*node3 is in use by process ${n3.proc?.pid}`));
    assert.deepEqual(listing(), before, 'no segment added or removed');
    // The running node is unharmed: it still takes writes, and a restart finds all of them.
    assert.equal((await http('PUT', `${n3.http}/v1/kv/twin-after`, 1)).status, 200);
    await c.stop('node3', 'SIGKILL');
    await c.start('node3'); // the dead owner's lock is stale
    for (let i = 0; i < 10; i++) assert.equal((await http('GET', `${n3.http}/v1/kv/twin-${i}`)).body['value'], i);
    assert.equal((await http('GET', `${n3.http}/v1/kv/twin-after`)).body['value'], 1);
  });
});
