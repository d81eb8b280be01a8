/**
 * The file operations the write-ahead log uses, as one interface: node:fs in a node, and in tests a
 * model disk that can lose what was never synced (crash-disk.fixture.ts), to check recovery against
 * every state a power cut may leave.
 */
import * as fs from 'node:fs';

export type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

export interface WalFs {
  mkdirSync(dir: string): void;
  /** Removes a file if it exists. */
  rmFileSync(path: string): void;
  readdirSync(dir: string): string[];
  readFileSync(path: string): Buffer;
  /** flags: 'r' (a directory, to sync it), 'r+', 'wx' or 'w+'. */
  openSync(path: string, flags: 'r' | 'r+' | 'wx' | 'w+'): number;
  open(path: string, flags: 'w+', cb: Callback<number>): void;
  writeSync(fd: number, buf: Buffer, offset: number, length: number, position: number): number;
  write(fd: number, buf: Buffer, offset: number, length: number, position: number, cb: Callback<number>): void;
  ftruncateSync(fd: number, length: number): void;
  fsyncSync(fd: number): void;
  fdatasyncSync(fd: number): void;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  closeSync(fd: number): void;
  unlinkSync(path: string): void;
  renameSync(from: string, to: string): void;
}

export const nodeWalFs: WalFs = Object.freeze({
  mkdirSync: (dir: string) => void fs.mkdirSync(dir, { recursive: true }),
  rmFileSync: (path: string) => fs.rmSync(path, { force: true }),
  readdirSync: (dir: string) => fs.readdirSync(dir),
  readFileSync: (path: string) => fs.readFileSync(path),
  openSync: (path: string, flags: string) => fs.openSync(path, flags),
  open: (path: string, flags: string, cb: Callback<number>) => fs.open(path, flags, cb),
  writeSync: (fd: number, buf: Buffer, offset: number, length: number, position: number) => fs.writeSync(fd, buf, offset, length, position),
  write: (fd: number, buf: Buffer, offset: number, length: number, position: number, cb: Callback<number>) =>
    fs.write(fd, buf, offset, length, position, (err, written) => cb(err, written)),
  ftruncateSync: (fd: number, length: number) => fs.ftruncateSync(fd, length),
  fsyncSync: (fd: number) => fs.fsyncSync(fd),
  fdatasyncSync: (fd: number) => fs.fdatasyncSync(fd),
  fdatasync: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => fs.fdatasync(fd, cb),
  closeSync: (fd: number) => fs.closeSync(fd),
  unlinkSync: (path: string) => fs.unlinkSync(path),
  renameSync: (from: string, to: string) => fs.renameSync(from, to),
});
