// Test fixture: writes numbered batches as fast as it can, printing each number once durable.
import { LmdbStorage } from './lmdb-storage.js';

// A small checkpoint size (argv[3]) makes checkpoints run while the process is killed; a long
// apply delay (argv[4]) keeps every batch out of LMDB, so only the write-ahead log has them;
// argv[5] `no-fsync` acknowledges without fsyncs (unsafeNoFsync).
const s = new LmdbStorage({
  path: process.argv[2] as string,
  checkpointBytes: Number(process.argv[3] ?? 64 * 1024 * 1024),
  applyDelayMs: Number(process.argv[4] ?? 20),
  fsync: process.argv[5] !== 'no-fsync',
});
let i = 0;
// Bounded: stops by itself after 200,000 batches or 60 s, whichever comes first.
const deadline = Date.now() + 60_000;
while (i < 200_000 && Date.now() < deadline) {
  const n = i++;
  // Several batches in flight at once, acknowledged once durable, as the runtime does (group commit).
  s.commit([
    { kind: 'put', space: 'log', key: String(n).padStart(8, '0'), value: { i: n } },
    { kind: 'put', space: 'kv', key: `k${n % 10}`, value: n },
  ]).catch(() => process.exit(3));
  void s.sync().then(() => process.stdout.write(`${n}\n`));
  if (n % 8 === 7) await new Promise((r) => setImmediate(r));
}
