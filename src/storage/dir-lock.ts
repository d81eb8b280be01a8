import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CausewayError } from '../core/errors.js';

/**
 * One process per data directory. Two nodes started with the same id and data directory (a
 * second `causeway node` by mistake, two containers on one volume) would both open the
 * write-ahead log: the second's recovery cuts the first's segment at whatever record is being
 * written and removes its spare segment, and acknowledged writes can be lost. So a store takes
 * this lock before it opens anything.
 *
 * The lock is a file holding the owner's pid, created exclusively. A lock whose process no longer
 * runs (kill -9, a power cut, a container whose pid is ours again) is stale and taken over. One
 * process may not hold a directory twice either (a store opened again before the last one
 * closed): this process's own locks are kept in `held`, so a lock naming our pid is stale only
 * when it is not one of them, and releasing an old lock never removes a newer one's file. Node
 * has no flock(2); this is the portable equivalent, and its one gap (a dead owner's pid reused by
 * an unrelated process) ends in a refusal that says how to clear it, never in two owners.
 */
export const LOCK_FILE = 'LOCK';

/** Whether process `pid` exists (signal 0 checks without sending anything). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** The live owner a lock file's text names: a running process other than this one, or null. */
function liveOwner(text: string): number | null {
  const owner = Number(text.trim());
  return Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && running(owner) ? owner : null;
}

/**
 * The pid of the running process other than this one that holds `dir`'s lock, or null (no lock,
 * a stale one, or ours). For a caller that must not touch a directory in use, before it does.
 */
export function lockOwner(dir: string): number | null {
  try {
    return liveOwner(readFileSync(join(dir, LOCK_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/** Directories this process holds locked (resolved paths). */
const held = new Set<string>();

/** Takes the lock on `dir` (which must exist); returns the function that releases it. */
export function lockDir(dir: string): () => void {
  const file = join(dir, LOCK_FILE);
  const key = resolve(dir);
  if (held.has(key)) throw new CausewayError('conflict', `data directory ${dir} is already open in this process (process ${process.pid}); close it first`);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        // removed meanwhile: try again
      }
      // An empty or unreadable lock is a crash between create and write: stale as well.
      const owner = liveOwner(text);
      if (owner !== null) {
        throw new CausewayError(
          'conflict',
          `data directory ${dir} is in use by process ${owner} (a node with this id already running?). Stop that process first; if it is not a Causeway node, delete ${file}`,
        );
      }
      rmSync(file, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    held.add(key);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.delete(key);
      try {
        if (Number(readFileSync(file, 'utf8').trim()) === process.pid) rmSync(file, { force: true });
      } catch {
        // already gone
      }
    };
  }
  throw new CausewayError('conflict', `could not take the lock ${file}: another process keeps taking it`);
}
