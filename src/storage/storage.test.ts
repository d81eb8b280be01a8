import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MemoryStorage } from './memory-storage.js';
import { LmdbStorage } from './lmdb-storage.js';
import type { Storage } from './storage.js';

const impls: [string, () => { s: Storage; reopen?: () => Storage; done: () => void }][] = [
  ['memory', () => ({ s: new MemoryStorage(), done: () => {} })],
  [
    'lmdb',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'causeway-store-'));
      return { s: new LmdbStorage({ path: dir }), reopen: () => new LmdbStorage({ path: dir }), done: () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];

for (const [name, make] of impls) {
  test(`${name}: a batch spans spaces; entries come back sorted by key`, async () => {
    const { s, done } = make();
    await s.apply([
      { kind: 'put', space: 'kv', key: 'b', value: { v: 2 } },
      { kind: 'put', space: 'kv', key: 'a', value: [1, 'x', null] },
      { kind: 'put', space: 'meta', key: 'clock', value: { node1: 3 } },
    ]);
    assert.deepEqual([...s.entries('kv')], [['a', [1, 'x', null]], ['b', { v: 2 }]]);
    assert.deepEqual(s.get('meta', 'clock'), { node1: 3 });
    await s.apply([{ kind: 'del', space: 'kv', key: 'a' }]);
    assert.deepEqual([...s.entries('kv')].map(([k]) => k), ['b']);
    assert.equal(s.get('kv', 'missing'), undefined);
    assert.deepEqual([...s.entries('never-used')], []);
    await s.close();
    done();
  });
}

test('lmdb: what was applied survives close and reopen', async () => {
  const { s, reopen, done } = impls[1]![1]();
  await s.apply([{ kind: 'put', space: 'log', key: 'node1:0001', value: { key: 'x', value: 5 } }]);
  await s.close();
  const s2 = reopen!();
  assert.deepEqual(s2.get('log', 'node1:0001'), { key: 'x', value: 5 });
  await s2.close();
  done();
});

test('lmdb: batches gathered into one LMDB transaction end with the last op on each key', async () => {
  // several batches inside one apply window: a key rewritten, deleted, rewritten; another deleted last
  const dir = mkdtempSync(join(tmpdir(), 'causeway-store-'));
  const s = new LmdbStorage({ path: dir, applyDelayMs: 50 });
  const batches = [
    [{ kind: 'put', space: 'kv', key: 'a', value: 1 }, { kind: 'put', space: 'meta', key: 'clock', value: { n1: 1 } }],
    [{ kind: 'put', space: 'kv', key: 'b', value: 'x' }, { kind: 'put', space: 'meta', key: 'clock', value: { n1: 2 } }],
    [{ kind: 'del', space: 'kv', key: 'a' }, { kind: 'put', space: 'meta', key: 'clock', value: { n1: 3 } }],
    [{ kind: 'put', space: 'kv', key: 'a', value: 3 }, { kind: 'del', space: 'kv', key: 'b' }],
  ] as const;
  const visible = batches.map((b) => s.commit(b));
  await Promise.all(visible);
  assert.deepEqual([...s.entries('kv')], [['a', 3]]);
  assert.deepEqual(s.get('meta', 'clock'), { n1: 3 });
  await s.close();
  const s2 = new LmdbStorage({ path: dir });
  assert.deepEqual([...s2.entries('kv')], [['a', 3]]);
  assert.deepEqual(s2.get('meta', 'clock'), { n1: 3 });
  await s2.close();
  rmSync(dir, { recursive: true, force: true });
});

async function killMidStream(args: string[]): Promise<{ dir: string; acked: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-kill-'));
  const child = fileURLToPath(new URL('./storage-writer.fixture.js', import.meta.url));
  const proc = spawn(process.execPath, [child, dir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acked = -1;
  let buf = '';
  await new Promise<void>((resolve) => {
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l) acked = Math.max(acked, Number(l));
      if (acked >= 300) {
        proc.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => proc.once('exit', r));
  return { dir, acked };
}

async function assertAllAcked(dir: string, acked: number): Promise<LmdbStorage> {
  const s = new LmdbStorage({ path: dir });
  for (let i = 0; i <= acked; i++) {
    assert.deepEqual(s.get('log', String(i).padStart(8, '0')), { i }, `acknowledged batch ${i} lost`);
    assert.equal(s.get('kv', `k${i % 10}`) !== undefined, true);
  }
  return s;
}

// Durability: a write is acknowledged only after it is on disk; kill -9 loses nothing acknowledged,
// whether it lands between checkpoints or during one (the fixture checkpoints every 16 KiB of log).
test('lmdb: kill -9 in the middle of a stream of acknowledged batches loses none of them', async () => {
  const { dir, acked } = await killMidStream([String(16 * 1024)]);
  const s = await assertAllAcked(dir, acked);
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

// The write-ahead log alone carries acknowledged batches: with LMDB never written before the kill,
// reopening replays every one of them from the log.
test('lmdb: batches acknowledged but never applied to LMDB come back from the log after kill -9', async () => {
  const { dir, acked } = await killMidStream([String(64 * 1024 * 1024), '600000']);
  const s = await assertAllAcked(dir, acked);
  assert.ok((s.stats().replayed ?? 0) > acked / 2, `replayed ${s.stats().replayed} batches for ${acked + 1} acknowledged`);
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

// Without fsync (the cluster's unsafeNoFsync) a batch is acknowledged once the operating system has
// it: a killed process still loses nothing acknowledged, and no fsync was made for it.
test('lmdb with fsync: false: kill -9 loses no acknowledged batch', async () => {
  const { dir, acked } = await killMidStream([String(16 * 1024), '20', 'no-fsync']);
  const s = await assertAllAcked(dir, acked);
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

test('lmdb with fsync: false: sync makes no fsync, and the store says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-nofsync-'));
  const s = new LmdbStorage({ path: dir, fsync: false });
  for (let i = 0; i < 50; i++) {
    await s.commit([{ kind: 'put', space: 'kv', key: `k${i}`, value: i }]);
    await s.sync();
  }
  await s.apply([{ kind: 'put', space: 'kv', key: 'last', value: 50 }]);
  assert.equal(s.stats().fsync, false);
  assert.equal(s.stats().syncs, 0);
  await s.close();
  const again = new LmdbStorage({ path: dir });
  assert.equal(again.stats().fsync, true);
  assert.equal([...again.entries('kv')].length, 51);
  assert.equal(again.get('kv', 'k49'), 49);
  await again.close();
  rmSync(dir, { recursive: true, force: true });
});

// Group fsync: callers that ask for durability while a sync runs share the next one, and a sync
// with nothing committed since the last one costs nothing.
test('lmdb: commits are visible at once; concurrent syncs share fsyncs', async () => {
  const { s, done } = impls[1]![1]();
  const lm = s as LmdbStorage;
  await lm.commit([{ kind: 'put', space: 'kv', key: 'a', value: 1 }]);
  assert.equal(lm.get('kv', 'a'), 1);
  const before = lm.stats().syncs ?? 0;
  await Promise.all(Array.from({ length: 20 }, (_, i) => lm.commit([{ kind: 'put', space: 'kv', key: `k${i}`, value: i }]).then(() => lm.sync())));
  const used = (lm.stats().syncs ?? 0) - before;
  assert.ok(used >= 1 && used < 20, `20 concurrent syncs used ${used} fsyncs`);
  const after = lm.stats().syncs;
  await lm.sync(); // nothing new committed
  assert.equal(lm.stats().syncs, after);
  await lm.close();
  done();
});
