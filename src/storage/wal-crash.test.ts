// Power cuts, on a model disk (crash-disk.fixture.ts): whatever a cut leaves of the writes no sync
// covered, reopening the log must give back a prefix of what was appended that holds every batch
// a completed sync acknowledged, and must never mistake the cut for damage (WalDamagedError).
// This is the recovery rule of wal.ts's header, checked against every kind of disk state the
// model can produce: random appends, syncs and rotations, a cut at a random instant, and each
// unsynced sector kept or lost at random.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StorageOp } from '../core/protocol.js';
import { Rng } from '../core/rng.js';
import { CrashDisk } from './crash-disk.fixture.js';
import { WriteAheadLog, type WalOptions } from './wal.js';

const DIR = '/wal';
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** One seed: a run of appends and syncs, a cut, and the checks; returns what the cut kept. */
async function run(seed: number): Promise<{ appended: number; acked: number; recovered: number }> {
  const rng = new Rng(seed);
  const disk = new CrashDisk();
  // Segments of a few KiB: runs rotate often, into preallocated spares and into growing files.
  const opts: Partial<WalOptions> = { segmentBytes: rng.int(1, 4) * 1024, prepareAfterBytes: 512, fs: disk };
  const { wal } = WriteAheadLog.open(DIR, opts);
  const appended: StorageOp[][] = [];
  let acked = 0;
  const steps = rng.int(1, 80);
  for (let i = 0; i < steps; i++) {
    const r = rng.next();
    if (r < 0.55) {
      const batch: StorageOp[] = [{ kind: 'put', space: 'kv', key: `k${appended.length}`, value: 'v'.repeat(rng.int(0, 400)) }];
      wal.append(batch);
      appended.push(batch);
    } else if (r < 0.8) {
      const covered = appended.length;
      void wal.sync().then(() => (acked = Math.max(acked, covered)));
    } else {
      await turn(); // syncs complete, spares get prepared
    }
  }
  for (let i = rng.int(0, 3); i > 0; i--) await turn();
  const keepP = rng.next();
  const after = disk.crash(() => rng.chance(keepP));
  let recovery;
  try {
    recovery = WriteAheadLog.open(DIR, { ...opts, fs: after });
  } catch (e) {
    assert.fail(`seed ${seed}: a power cut was taken for damage: ${(e as Error).message}`);
  }
  const got = recovery.recovery.batches;
  assert.deepEqual(got, appended.slice(0, got.length), `seed ${seed}: not a prefix of what was appended`);
  assert.ok(got.length >= acked, `seed ${seed}: ${acked} batches acknowledged, ${got.length} recovered`);
  // The recovered log goes on: a new batch, synced, comes back after the kept ones.
  const extra: StorageOp[] = [{ kind: 'put', space: 'kv', key: 'after', value: seed }];
  recovery.wal.append(extra);
  await recovery.wal.sync();
  const again = WriteAheadLog.open(DIR, { ...opts, fs: after.crash(() => false) });
  assert.deepEqual(again.recovery.batches, [...got, extra], `seed ${seed}: the log did not go on after recovery`);
  return { appended: appended.length, acked, recovered: got.length };
}

test('wal: after a power cut at any instant, recovery keeps every acknowledged batch, in order, and sees no damage', async () => {
  let acked = 0;
  let lost = 0;
  let cut = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = await run(seed);
    acked += r.acked;
    lost += r.appended - r.recovered;
    if (r.recovered < r.appended) cut++;
  }
  // The runs must exercise the rule: acknowledged batches, and unacknowledged ones the cut lost.
  assert.ok(acked > 1000, `only ${acked} acknowledged batches in all runs`);
  assert.ok(cut > 50 && lost > 200, `cuts lost unacknowledged batches in only ${cut} runs (${lost} batches)`);
});
