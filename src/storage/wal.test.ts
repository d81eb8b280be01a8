import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { StorageOp } from '../core/protocol.js';
import { WalDamagedError, WriteAheadLog, type WalOptions, type WalRecovery } from './wal.js';
import { LmdbStorage } from './lmdb-storage.js';

const put = (key: string, value: unknown, space = 'kv'): StorageOp => ({ kind: 'put', space, key, value });
const del = (key: string, space = 'kv'): StorageOp => ({ kind: 'del', space, key });

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'causeway-wal-'));
}

/** What opening the log in `dir` recovers; the log is closed again. */
async function recover(dir: string, options?: Partial<WalOptions>): Promise<WalRecovery> {
  const { wal, recovery } = WriteAheadLog.open(dir, options);
  await wal.close();
  return recovery;
}

/** Where each record of a segment starts (16-byte header: magic, length, durable mark, checksum). */
function recordStarts(file: string): number[] {
  const buf = readFileSync(file);
  const out: number[] = [];
  for (let at = 0; at + 16 <= buf.length && buf.readUInt32LE(at) !== 0; at += 16 + buf.readUInt32LE(at + 4)) out.push(at);
  return out;
}

/** Flips a byte in the payload of the record that starts at `at`; returns the file's new bytes. */
function damagePayload(file: string, at: number): Buffer {
  const buf = readFileSync(file);
  buf[at + 16 + 2] = (buf[at + 16 + 2] as number) ^ 0xff;
  writeFileSync(file, buf);
  return buf;
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
}

/**
 * A log of three records, a, b (a 50-byte value) and c, closed (synced); a sync also completes
 * after `syncAfter` when given, and `rotate` puts c in a second segment. Returns the first segment.
 */
async function abc(dir: string, opts: { syncAfter?: 'a' | 'b'; rotate?: boolean } = {}): Promise<string> {
  const { wal } = WriteAheadLog.open(dir);
  wal.append([put('a', 1)]);
  if (opts.syncAfter === 'a') await wal.sync();
  wal.append([put('b', 'z'.repeat(50))]);
  if (opts.syncAfter === 'b') await wal.sync();
  if (opts.rotate === true) wal.rotate();
  wal.append([put('c', 3)]);
  await wal.close();
  return join(dir, segments(dir)[0] as string);
}

test('wal: batches come back in append order after reopening, puts and deletes alike', async () => {
  const dir = tmp();
  const { wal, recovery } = WriteAheadLog.open(dir);
  assert.deepEqual(recovery.batches, []);
  const batches = [[put('a', { v: [1, 2] }), put('clock', { node1: 3 }, 'meta')], [del('a')], [put('b', 'x'.repeat(5000))]];
  for (const b of batches) wal.append(b);
  await wal.sync();
  await wal.close();
  const again = await recover(dir);
  assert.deepEqual(again.batches, batches);
  assert.equal(again.truncatedBytes, 0);
  rmSync(dir, { recursive: true, force: true });
});

// A crash in the middle of an append leaves a torn record: it was never acknowledged, so reading
// stops there, the tail is cut off, and records appended after reopening are read back after it.
test('wal: a torn tail is cut off and later appends survive the next reopen', async () => {
  const dir = tmp();
  const { wal } = WriteAheadLog.open(dir);
  wal.append([put('a', 1)]);
  wal.append([put('b', 2)]);
  wal.append([put('c', 'y'.repeat(300))]);
  await wal.close();
  const [seg] = segments(dir);
  const file = join(dir, seg as string);
  truncateSync(file, statSync(file).size - 100);
  const r = WriteAheadLog.open(dir);
  assert.deepEqual(r.recovery.batches, [[put('a', 1)], [put('b', 2)]]);
  assert.ok(r.recovery.truncatedBytes > 0);
  r.wal.append([put('d', 4)]);
  await r.wal.sync();
  await r.wal.close();
  const r2 = await recover(dir);
  assert.deepEqual(r2.batches, [[put('a', 1)], [put('b', 2)], [put('d', 4)]]);
  assert.equal(r2.truncatedBytes, 0);
  rmSync(dir, { recursive: true, force: true });
});

// The checksum catches a record whose bytes changed: nothing from it on is trusted (a, b and c
// went to disk in one fdatasync, so no record says b had been synced before it: a torn tail).
test('wal: a corrupt record ends the log at the record before it', async () => {
  const dir = tmp();
  const file = await abc(dir);
  damagePayload(file, recordStarts(file)[1] as number);
  assert.deepEqual((await recover(dir)).batches, [[put('a', 1)]]);
  rmSync(dir, { recursive: true, force: true });
});

test('wal: rotate starts a new segment; dropBefore deletes the older ones only', async () => {
  const dir = tmp();
  const { wal } = WriteAheadLog.open(dir);
  wal.append([put('a', 1)]);
  const keep = wal.rotate();
  wal.append([put('b', 2)]);
  assert.equal(segments(dir).length, 2);
  await wal.sync();
  await wal.dropBefore(keep);
  assert.equal(segments(dir).length, 1);
  await wal.close();
  assert.deepEqual((await recover(dir)).batches, [[put('b', 2)]]);
  rmSync(dir, { recursive: true, force: true });
});

// Group commit: syncs asked for while one runs share the next; nothing appended costs nothing.
test('wal: concurrent syncs share fdatasyncs', async () => {
  const dir = tmp();
  const { wal } = WriteAheadLog.open(dir);
  await Promise.all(Array.from({ length: 50 }, (_, i) => (wal.append([put(`k${i}`, i)]), wal.sync())));
  const used = wal.syncs;
  assert.ok(used >= 1 && used <= 3, `50 concurrent syncs used ${used} fdatasyncs`);
  await wal.sync();
  assert.equal(wal.syncs, used);
  await wal.close();
  rmSync(dir, { recursive: true, force: true });
});

// Preallocation: the spare is a file of zeros written in the background; the log moves into it,
// and its zero tail reads as a clean end (nothing cut off, nothing lost), across reopens.
test('wal: appends move into a preallocated segment whose zero tail is a clean end', async () => {
  const dir = tmp();
  const { wal } = WriteAheadLog.open(dir, { segmentBytes: 64 * 1024, prepareAfterBytes: 1024 });
  const batches: StorageOp[][] = [];
  const add = (i: number): void => {
    const b = [put(`k${i}`, { i, pad: 'q'.repeat(200) })];
    batches.push(b);
    wal.append(b);
  };
  let i = 0;
  while (!wal.spareReady) {
    add(i++);
    await new Promise((r) => setTimeout(r, 2));
    assert.ok(i < 2000, 'the spare segment was never prepared');
  }
  add(i++); // moves into the spare: a growing first segment hands over as soon as it is ready
  assert.equal(wal.segmentCount, 2);
  const files = segments(dir);
  assert.equal(statSync(join(dir, files[1] as string)).size, 64 * 1024, 'the new segment is preallocated');
  for (let j = 0; j < 20; j++) add(i++);
  await wal.sync();
  await wal.close();
  assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.wal')), [], 'no spare file left behind');
  const r = await recover(dir, { segmentBytes: 64 * 1024, prepareAfterBytes: 1024 });
  assert.deepEqual(r.batches, batches);
  assert.equal(r.truncatedBytes, 0);
  assert.equal(statSync(join(dir, files[1] as string)).size, 64 * 1024, 'a zero tail is not cut off');
  rmSync(dir, { recursive: true, force: true });
});

// A preallocated segment with damage after its last record (a torn append over the zeros) is torn.
test('wal: garbage after the last record of a preallocated segment is cut off as torn', async () => {
  const dir = tmp();
  const { wal } = WriteAheadLog.open(dir);
  wal.append([put('a', 1)]);
  await wal.close();
  const file = join(dir, segments(dir)[0] as string);
  const good = statSync(file).size;
  const buf = Buffer.alloc(good + 4096);
  readFileSync(file).copy(buf);
  buf.writeUInt32LE(50, good); // a header whose payload never made it
  buf[good + 8 + 3] = 0x7f;
  writeFileSync(file, buf);
  const r = await recover(dir);
  assert.deepEqual(r.batches, [[put('a', 1)]]);
  assert.equal(r.truncatedBytes, 4096);
  assert.equal(statSync(file).size, good);
  rmSync(dir, { recursive: true, force: true });
});

// A segment is synced before the next one gets a record (wal.ts header): rotate leaves nothing of
// the finished segment for the next group commit to sync.
test('wal: rotate makes the finished segment durable before the next one is written', async () => {
  const dir = tmp();
  const { wal } = WriteAheadLog.open(dir);
  wal.append([put('a', 1)]);
  wal.rotate();
  const before = wal.syncs;
  await wal.sync();
  assert.equal(wal.syncs, before, 'the finished segment was still dirty after rotate');
  wal.append([put('b', 2)]);
  await wal.sync();
  assert.equal(wal.syncs, before + 1);
  await wal.close();
  rmSync(dir, { recursive: true, force: true });
});

// Within a segment: each record carries how much of the segment was durable when it was
// appended. c, appended after a sync covered b, proves b was acknowledged: b's damage is refused.
test('wal: a bad record that a later record shows had been synced is refused, changing nothing', async () => {
  const dir = tmp();
  const file = await abc(dir, { syncAfter: 'b' });
  const [, b, c] = recordStarts(file);
  const buf = damagePayload(file, b as number);
  assert.throws(
    () => WriteAheadLog.open(dir),
    (e: unknown) => e instanceof WalDamagedError && e.offset === b && e.message.includes(`the intact record at byte ${c} was written after it was on disk`),
  );
  assert.ok(readFileSync(file).equals(buf), 'the segment is untouched');
  assert.equal(segments(dir).length, 1, 'no segment added');
  rmSync(dir, { recursive: true, force: true });
});

// A power cut during a sync may leave a later record on disk and an earlier one torn; neither was
// acknowledged, and the later one says nothing beyond the last completed sync: a torn tail.
test('wal: damage past the last synced byte is a torn tail, even with intact records after it', async () => {
  const dir = tmp();
  const file = await abc(dir, { syncAfter: 'a' });
  const b = recordStarts(file)[1] as number;
  damagePayload(file, b);
  const r = await recover(dir);
  assert.deepEqual(r.batches, [[put('a', 1)]]);
  assert.equal(statSync(file).size, b, 'cut off at the torn record');
  rmSync(dir, { recursive: true, force: true });
});

// Segments written before records carried a durable mark (u32 length, u32 CRC-32, payload) are
// still read, and the log goes on in the current layout after them.
test('wal: segments of the older record layout are read back', async () => {
  const dir = tmp();
  const packr = new Packr({ useRecords: false, moreTypes: false });
  const old = [[put('a', { v: 1 })], [put('b', 'x'.repeat(100)), del('a')]];
  const records = old.map((batch) => {
    const payload = packr.pack(batch.map((op) => (op.kind === 'put' ? [0, op.space, op.key, op.value] : [1, op.space, op.key])));
    const head = Buffer.alloc(8);
    head.writeUInt32LE(payload.length, 0);
    head.writeUInt32LE(crc32(payload), 4);
    return Buffer.concat([head, payload]);
  });
  writeFileSync(join(dir, '000000000001.wal'), Buffer.concat([...records, Buffer.alloc(4096)]));
  const { wal, recovery } = WriteAheadLog.open(dir);
  assert.deepEqual(recovery.batches, old);
  assert.equal(recovery.truncatedBytes, 0);
  wal.append([put('c', 3)]);
  await wal.sync();
  await wal.close();
  assert.deepEqual((await recover(dir)).batches, [...old, [put('c', 3)]]);
  rmSync(dir, { recursive: true, force: true });
});


// Damage followed by an intact record in a later segment cannot be a torn tail: the later record
// was written after the damaged one was synced, so it may have been acknowledged. Refused, and no
// file is touched.
test('wal: a bad record followed by intact ones in a later segment is refused, changing nothing', async () => {
  const dir = tmp();
  const file = await abc(dir, { rotate: true });
  const second = recordStarts(file)[1] as number;
  damagePayload(file, second); // b's
  const before = new Map(segments(dir).map((f) => [f, readFileSync(join(dir, f))]));
  assert.throws(
    () => WriteAheadLog.open(dir),
    (e: unknown) =>
      e instanceof WalDamagedError &&
      e.code === 'WAL_DAMAGED' &&
      e.segment === segments(dir)[0] &&
      e.offset === second &&
      /has a bad record at byte \d+, and 1 later segment holds intact records/.test(e.message),
  );
  assert.deepEqual([...before.keys()], segments(dir), 'no segment added or removed');
  for (const [f, bytes] of before) assert.ok(readFileSync(join(dir, f)).equals(bytes), `${f} unchanged`);
  rmSync(dir, { recursive: true, force: true });
});

test('lmdb: a store whose log is damaged (not torn) refuses to open', async () => {
  const dir = tmp();
  const s = new LmdbStorage({ path: dir });
  await s.apply([put('a', 1)]);
  await s.close();
  const file = await abc(join(dir, 'wal'), { rotate: true });
  damagePayload(file, 0); // a's, the first record
  assert.throws(() => new LmdbStorage({ path: dir }), { name: 'WalDamagedError', code: 'WAL_DAMAGED' });
  rmSync(dir, { recursive: true, force: true });
});

// A crash during the sync that ends a segment tears that segment's tail; the next segment then has
// no intact record yet, and the tail is cut off as in one segment.
test('wal: a torn segment followed only by segments without records is cut off, the rest removed', async () => {
  const dir = tmp();
  const { wal } = WriteAheadLog.open(dir);
  wal.append([put('a', 1)]);
  wal.append([put('b', 'y'.repeat(300))]);
  wal.rotate();
  await wal.close();
  const [first, second] = segments(dir);
  const file = join(dir, first as string);
  truncateSync(file, statSync(file).size - 100);
  const r = await recover(dir);
  assert.deepEqual(r.batches, [[put('a', 1)]]);
  assert.ok(r.truncatedBytes > 0);
  assert.ok(!segments(dir).includes(second as string), 'the empty segment after the tear is gone');
  rmSync(dir, { recursive: true, force: true });
});

// Recovery: batches that reached the log but not LMDB (a crash before LMDB's commit) are replayed
// into LMDB when the store opens.
test('lmdb: batches only in the write-ahead log are replayed on open', async () => {
  const dir = tmp();
  const s = new LmdbStorage({ path: dir });
  await s.apply([put('a', 1), put('n', 0, 'meta')]);
  await s.close();
  const { wal } = WriteAheadLog.open(join(dir, 'wal'));
  wal.append([put('b', 2), put('n', 1, 'meta')]);
  wal.append([del('a'), put('n', 2, 'meta')]);
  await wal.sync();
  await wal.close();
  const s2 = new LmdbStorage({ path: dir });
  assert.equal(s2.stats().replayed, 2);
  assert.deepEqual([...s2.entries('kv')], [['b', 2]]);
  assert.equal(s2.get('meta', 'n'), 2);
  await s2.close();
  rmSync(dir, { recursive: true, force: true });
});

// Checkpoints keep the log bounded: LMDB is synced and old segments dropped, nothing lost.
test('lmdb: checkpoints bound the log and lose nothing', async () => {
  const dir = tmp();
  const s = new LmdbStorage({ path: dir, checkpointBytes: 4096, applyDelayMs: 1 });
  for (let i = 0; i < 400; i++) {
    await s.commit([put(`k${i % 50}`, { i, pad: 'p'.repeat(100) }), put(String(i).padStart(6, '0'), i, 'log')]);
    if (i % 10 === 9) await s.sync();
  }
  await s.sync();
  const st = s.stats();
  assert.ok((st.checkpoints ?? 0) >= 5, `checkpoints: ${st.checkpoints}`);
  assert.ok(segments(join(dir, 'wal')).length <= 3, `segments: ${segments(join(dir, 'wal')).join(',')}`);
  await s.close();
  assert.deepEqual(segments(join(dir, 'wal')), [], 'a clean close leaves the log empty');
  const s2 = new LmdbStorage({ path: dir });
  assert.equal(s2.stats().entries['log'] ?? [...s2.entries('log')].length, 400);
  for (let i = 350; i < 400; i++) assert.deepEqual(s2.get('kv', `k${i % 50}`), { i, pad: 'p'.repeat(100) });
  await s2.close();
  rmSync(dir, { recursive: true, force: true });
});
