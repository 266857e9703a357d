/**
 * The engine's one way of reading the host's files. Every read of a file,
 * a directory listing, a stat or an existence check goes through here (lint
 * forbids node:fs's readers elsewhere in src/vrf), so a caller can learn
 * exactly which paths a run depended on: `observeFileReads(onRead, run)`
 * reports each read made inside `run`, across every await it makes (Node's
 * AsyncLocalStorage), and nothing made outside it. The charm's update-status
 * memo watches what a no-op converge read this way, the way it records the
 * `ip` processes through the injected spawn: the list is never kept by hand.
 *
 * Writes, the host lock and removals are not reads and stay where they are.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fsp from 'node:fs/promises';

/**
 * A read and what it found, as the caller of the read saw it: a file's bytes, a directory's
 * names, a path's type (stat), a symlink's target, or whether a path exists. `null`: the read
 * failed with `error` (an errno code such as ENOENT).
 */
export type FileRead =
  | { readonly kind: 'content'; readonly path: string; readonly bytes: Buffer | null; readonly error?: string }
  | { readonly kind: 'names'; readonly path: string; readonly names: readonly string[] | null; readonly error?: string }
  | { readonly kind: 'stat'; readonly path: string; readonly type: PathType | null; readonly error?: string }
  | { readonly kind: 'link'; readonly path: string; readonly target: string | null; readonly error?: string }
  | { readonly kind: 'exists'; readonly path: string; readonly exists: boolean };
export type FileReadKind = FileRead['kind'];
/** What stat found: a directory, a regular file (non-empty or empty), or something else. */
export type PathType = 'dir' | 'file' | 'empty' | 'other';
export type FileReadObserver = (read: FileRead) => void;

const observers = new AsyncLocalStorage<FileReadObserver>();

/** Runs `run`, telling `onRead` about every read it makes through this module, once it has its answer. */
export function observeFileReads<T>(onRead: FileReadObserver, run: () => Promise<T>): Promise<T> {
  return observers.run(onRead, run);
}

const errno = (e: unknown): string =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : 'error';

/** Runs `read`, then tells the observer (if any) what it found or how it failed. */
async function observed<T>(read: () => Promise<T>, tell: (r: T | null, error?: string) => FileRead): Promise<T> {
  const observer = observers.getStore();
  if (observer === undefined) return read();
  try {
    const r = await read();
    observer(tell(r));
    return r;
  } catch (e) {
    observer(tell(null, errno(e)));
    throw e;
  }
}

const failed = (error: string | undefined) => (error === undefined ? {} : { error });

export function readFile(path: string, encoding: 'utf8' | 'latin1'): Promise<string>;
export function readFile(path: string): Promise<Buffer>;
export async function readFile(path: string, encoding?: 'utf8' | 'latin1'): Promise<string | Buffer> {
  const bytes = await observed(
    () => fsp.readFile(path),
    (b, error) => ({ kind: 'content', path, bytes: b, ...failed(error) }),
  );
  return encoding === undefined ? bytes : bytes.toString(encoding);
}

export function readdir(path: string): Promise<string[]> {
  return observed(
    () => fsp.readdir(path),
    (names, error) => ({ kind: 'names', path, names, ...failed(error) }),
  );
}

export function stat(path: string): ReturnType<typeof fsp.stat> {
  return observed(
    () => fsp.stat(path),
    (s, error) => ({ kind: 'stat', path, type: s === null ? null : pathType(s), ...failed(error) }),
  );
}

function pathType(s: Awaited<ReturnType<typeof fsp.stat>>): PathType {
  if (s.isDirectory()) return 'dir';
  if (s.isFile()) return s.size > 0 ? 'file' : 'empty';
  return 'other';
}

export function readlink(path: string): Promise<string> {
  return observed(
    () => fsp.readlink(path),
    (target, error) => ({ kind: 'link', path, target, ...failed(error) }),
  );
}

/** Whether the path exists (following symlinks), as access(2) sees it. */
export async function exists(path: string): Promise<boolean> {
  const yes = await fsp.access(path).then(
    () => true,
    () => false,
  );
  observers.getStore()?.({ kind: 'exists', path, exists: yes });
  return yes;
}
