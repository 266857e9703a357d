/**
 * The host-wide lock that serialises applies (the boot unit, the networkd hook,
 * and the hooks of every vrf-host unit on the machine): an exclusive flock on
 * `/run/vrf-host.lock` under the injected root. The flock itself is taken by
 * ip.ts (the process module) on an fd we keep open; closing it, or dying,
 * releases it — so a kill -9 never leaves the host locked.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { flockFd, type ProcOptions } from './ip.js';
import { VrfError } from './errors.js';

export const LOCK_PATH = 'run/vrf-host.lock';
export const DEFAULT_LOCK_TIMEOUT_SEC = 120;

export class LockTimeoutError extends VrfError {
  override name = 'LockTimeoutError';
}

export interface LockOptions extends ProcOptions {
  readonly root?: string;
  /** Seconds to wait for another holder (default 120). */
  readonly lockTimeoutSec?: number;
}

export interface HeldLock {
  readonly path: string;
  release(): Promise<void>;
}

export function lockPath(root = '/'): string {
  return join(root, LOCK_PATH);
}

export async function acquireLock(o: LockOptions = {}): Promise<HeldLock> {
  const path = lockPath(o.root);
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a', 0o600);
  const timeout = o.lockTimeoutSec ?? DEFAULT_LOCK_TIMEOUT_SEC;
  let got: boolean;
  try {
    got = await flockFd(handle.fd, timeout, o);
  } catch (e) {
    await handle.close();
    throw e;
  }
  if (!got) {
    await handle.close();
    throw new LockTimeoutError(`another vrf-host run holds ${path}; gave up after ${timeout}s`);
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      await handle.close();
    },
  };
}

/** Runs fn while holding the lock; always releases it. */
export async function withLock<T>(o: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(o);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
