// One process per data directory (src/storage/dir-lock.ts): a second owner is refused with a
// message naming the directory, the owner and the remedy; a lock left by a dead process, an empty
// lock, or our own pid is taken over; release removes only our own lock.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCausewayError } from '../core/errors.js';
import { LOCK_FILE, lockDir } from './dir-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'causeway-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const lockFile = join(dir, LOCK_FILE);

test('the lock holds our pid and is released on unlock', () => {
  const unlock = lockDir(dir);
  assert.equal(readFileSync(lockFile, 'utf8').trim(), String(process.pid));
  unlock();
  assert.equal(existsSync(lockFile), false);
  unlock(); // twice is harmless
});

test('a directory locked by a running process is refused, naming the process and the remedy', async () => {
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    writeFileSync(lockFile, `${other.pid}\n`);
    assert.throws(
      () => lockDir(dir),
      (err: unknown) =>
        isCausewayError(err) && err.code === 'conflict' && err.detail.includes(`in use by process ${other.pid}`) && err.detail.includes(`delete ${lockFile}`),
    );
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(other.pid), 'the owner keeps its lock');
  } finally {
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
  }
  // The owner is gone (as after kill -9): the lock is stale and taken over.
  const unlock = lockDir(dir);
  assert.equal(readFileSync(lockFile, 'utf8').trim(), String(process.pid));
  unlock();
});

test('an empty lock, or one naming our own pid, is stale', () => {
  for (const text of ['', `${process.pid}\n`, 'garbage']) {
    writeFileSync(lockFile, text);
    const unlock = lockDir(dir);
    assert.equal(readFileSync(lockFile, 'utf8').trim(), String(process.pid));
    unlock();
  }
});

// The chaos crash/restart race: a store opened again in this process before the last one closed
// would take over its own pid's lock, and the old one's release would then remove the new lock.
test('one process cannot lock a directory twice, and an old release never frees a newer lock', () => {
  const first = lockDir(dir);
  assert.throws(
    () => lockDir(dir),
    (err: unknown) => isCausewayError(err) && err.code === 'conflict' && err.detail.includes('already open in this process'),
  );
  assert.throws(() => lockDir(join(dir, '.')), (err: unknown) => isCausewayError(err) && err.code === 'conflict');
  first();
  const second = lockDir(dir);
  first(); // released before: changes nothing
  assert.equal(readFileSync(lockFile, 'utf8').trim(), String(process.pid));
  second();
  assert.equal(existsSync(lockFile), false);
});

test('unlock leaves a lock another process has since taken', () => {
  const unlock = lockDir(dir);
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  writeFileSync(lockFile, dead.stdout); // as if our lock had been taken over
  unlock();
  assert.equal(readFileSync(lockFile, 'utf8'), dead.stdout);
  rmSync(lockFile);
});
