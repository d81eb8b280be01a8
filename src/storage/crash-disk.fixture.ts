/**
 * Test support: a model disk for the write-ahead log (WalFs) that remembers which writes an fsync
 * or fdatasync has made durable, and can produce the disk a power cut might leave at any instant:
 * every durable byte, plus any subset of the 512-byte sectors written since, each one whole
 * (sectors are written atomically; nothing else about order is promised). Directory entries
 * (create, rename, unlink) are taken as durable at once: the log syncs its directory after each.
 * An async fdatasync makes durable the writes issued before it was called, then calls back.
 */
import { basename, dirname } from 'node:path';
import type { Callback, WalFs } from './wal-fs.js';

const SECTOR = 512;

interface ModelFile {
  /** What survives a power cut for sure. */
  durable: Buffer;
  /** What reads see (durable plus every pending write). */
  current: Buffer;
  /** Writes since the last sync, in order. */
  pending: { pos: number; data: Buffer }[];
}

function put(target: Buffer, pos: number, data: Buffer): Buffer {
  const out = pos + data.length > target.length ? Buffer.concat([target, Buffer.alloc(pos + data.length - target.length)]) : target;
  data.copy(out, pos);
  return out;
}

function enoent(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: no such file, '${path}'`), { code: 'ENOENT' });
}

export class CrashDisk implements WalFs {
  readonly #files = new Map<string, ModelFile>();
  readonly #dirs = new Set<string>();
  readonly #fds = new Map<number, ModelFile | null>();
  #nextFd = 3;
  /** fdatasyncs and fsyncs of files so far. */
  syncs = 0;

  mkdirSync(dir: string): void {
    this.#dirs.add(dir);
  }

  rmFileSync(path: string): void {
    this.#files.delete(path);
  }

  readdirSync(dir: string): string[] {
    return [...this.#files.keys()].filter((p) => dirname(p) === dir).map((p) => basename(p));
  }

  readFileSync(path: string): Buffer {
    const f = this.#files.get(path);
    if (!f) throw enoent(path);
    return Buffer.from(f.current);
  }

  openSync(path: string, flags: 'r' | 'r+' | 'wx' | 'w+'): number {
    let f: ModelFile | null;
    if (flags === 'r' && this.#dirs.has(path)) f = null;
    else if (flags === 'wx' || flags === 'w+') {
      if (flags === 'wx' && this.#files.has(path)) throw Object.assign(new Error(`EEXIST: '${path}'`), { code: 'EEXIST' });
      f = { durable: Buffer.alloc(0), current: Buffer.alloc(0), pending: [] };
      this.#files.set(path, f);
    } else {
      f = this.#files.get(path) ?? null;
      if (f === null) throw enoent(path);
    }
    const fd = this.#nextFd++;
    this.#fds.set(fd, f);
    return fd;
  }

  open(path: string, flags: 'w+', cb: Callback<number>): void {
    const fd = this.openSync(path, flags);
    setImmediate(() => cb(null, fd));
  }

  #file(fd: number): ModelFile {
    const f = this.#fds.get(fd);
    if (!f) throw Object.assign(new Error(`EBADF: ${fd}`), { code: 'EBADF' });
    return f;
  }

  writeSync(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
    const f = this.#file(fd);
    const data = Buffer.from(buf.subarray(offset, offset + length));
    f.current = put(f.current, position, data);
    f.pending.push({ pos: position, data });
    return length;
  }

  write(fd: number, buf: Buffer, offset: number, length: number, position: number, cb: Callback<number>): void {
    const n = this.writeSync(fd, buf, offset, length, position);
    setImmediate(() => cb(null, n));
  }

  ftruncateSync(fd: number, length: number): void {
    const f = this.#file(fd);
    this.#flush(f, f.pending.length);
    f.current = Buffer.from(f.current.subarray(0, length));
    f.durable = Buffer.from(f.current);
  }

  #flush(f: ModelFile, count: number): void {
    for (const w of f.pending.slice(0, count)) f.durable = put(f.durable, w.pos, w.data);
    f.pending = f.pending.slice(count);
    this.syncs++;
  }

  fsyncSync(fd: number): void {
    const f = this.#fds.get(fd);
    if (f) this.#flush(f, f.pending.length); // a directory: its entries are durable already
  }

  fdatasyncSync(fd: number): void {
    const f = this.#file(fd);
    this.#flush(f, f.pending.length);
  }

  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void {
    const f = this.#file(fd);
    const count = f.pending.length;
    setImmediate(() => {
      this.#flush(f, count);
      cb(null);
    });
  }

  closeSync(fd: number): void {
    this.#fds.delete(fd);
  }

  unlinkSync(path: string): void {
    if (!this.#files.delete(path)) throw enoent(path);
  }

  renameSync(from: string, to: string): void {
    const f = this.#files.get(from);
    if (!f) throw enoent(from);
    this.#files.delete(from);
    this.#files.set(to, f);
  }

  /**
   * The disk after a power cut now: each file's durable bytes plus, for each sector of each
   * pending write (in order), that sector's new bytes or not, as `keep()` decides.
   */
  crash(keep: () => boolean): CrashDisk {
    const after = new CrashDisk();
    for (const d of this.#dirs) after.#dirs.add(d);
    for (const [path, f] of this.#files) {
      let img: Buffer = Buffer.from(f.durable);
      for (const w of f.pending) {
        for (let at = w.pos; at < w.pos + w.data.length; ) {
          const end = Math.min(w.pos + w.data.length, (Math.floor(at / SECTOR) + 1) * SECTOR);
          if (keep()) img = put(img, at, w.data.subarray(at - w.pos, end - w.pos));
          at = end;
        }
      }
      after.#files.set(path, { durable: img, current: Buffer.from(img), pending: [] });
    }
    return after;
  }
}
