import { readFileSync } from 'node:fs';

/**
 * The process's soft limit on open files (Linux /proc/self/limits), or null where it cannot be
 * read or is unlimited. A node needs file descriptors for its own files (the log's segments, LMDB,
 * sockets to its peers): client connections must not be able to take them all, or a node that
 * opens its next log segment fails for want of one.
 */
export function openFilesSoftLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Client connections (HTTP) a node accepts at once: half its file descriptors, at most 16,384. */
export function clientConnectionLimit(softLimit: number | null = openFilesSoftLimit()): number {
  if (softLimit === null) return 16_384;
  return Math.max(16, Math.min(16_384, Math.floor(softLimit / 2)));
}
