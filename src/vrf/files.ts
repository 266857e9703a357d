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

/** What a read looked at: a file's content, a directory's names, or only the path's metadata. */
export type FileReadKind = 'content' | 'names' | 'meta';
export interface FileRead {
  readonly path: string;
  readonly kind: FileReadKind;
}
export type FileReadObserver = (read: FileRead) => void;

const observers = new AsyncLocalStorage<FileReadObserver>();

/** Runs `run`, telling `onRead` about every read it makes through this module. */
export function observeFileReads<T>(onRead: FileReadObserver, run: () => Promise<T>): Promise<T> {
  return observers.run(onRead, run);
}

function note(path: string, kind: FileReadKind): void {
  observers.getStore()?.({ path, kind });
}

export function readFile(path: string, encoding: 'utf8' | 'latin1'): Promise<string>;
export function readFile(path: string): Promise<Buffer>;
export function readFile(path: string, encoding?: 'utf8' | 'latin1'): Promise<string | Buffer> {
  note(path, 'content');
  return encoding === undefined ? fsp.readFile(path) : fsp.readFile(path, encoding);
}

export function readdir(path: string): Promise<string[]> {
  note(path, 'names');
  return fsp.readdir(path);
}

export function stat(path: string): ReturnType<typeof fsp.stat> {
  note(path, 'meta');
  return fsp.stat(path);
}

export function readlink(path: string): Promise<string> {
  note(path, 'meta');
  return fsp.readlink(path);
}

/** Whether the path exists (following symlinks), as access(2) sees it. */
export async function exists(path: string): Promise<boolean> {
  note(path, 'meta');
  return fsp.access(path).then(
    () => true,
    () => false,
  );
}
