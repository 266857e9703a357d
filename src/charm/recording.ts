/**
 * What the charm tells the hook memo (src/ops/memo.ts) after an update-status:
 * the engine's processes, recorded as they ran, and the files it depends on.
 * A run is recordable only when the engine started nothing but `ip -json`
 * reads and the `flock` of the host lock: no apply, no modprobe. The ip
 * outputs are kept without their self-changing values (bridge timers, address
 * lifetimes), and the launcher compares them the same way.
 */
import { captureFiles, type MemoAllowance, type RecordedRead } from '../ops/index.js';
import { watchedPaths } from '../vrf/engine.js';
import { execaSpawn, SPAWN_ENV, type Spawn, type SpawnResult } from '../vrf/ip.js';
import { stableIpJson } from '../vrf/observe/stable.js';
import type { CharmHost } from './host.js';
import { IP_JSON } from './memo.js';

export interface SpawnCall {
  readonly file: string;
  readonly args: readonly string[];
  readonly input?: string;
  readonly result: SpawnResult;
}

/** The host, with every process the engine starts recorded into `calls`. */
export function recordingHost(host: CharmHost): { host: CharmHost; calls: SpawnCall[] } {
  const calls: SpawnCall[] = [];
  const base: Spawn = host.engine.spawn ?? execaSpawn;
  const spawn: Spawn = async (file, args, options) => {
    const result = await base(file, args, options);
    calls.push({ file, args: [...args], ...(options.input !== undefined ? { input: options.input } : {}), result });
    return result;
  };
  return { host: { ...host, engine: { ...host.engine, spawn } }, calls };
}

export interface WatchedBefore {
  readonly watch: MemoAllowance['watch'];
  readonly files: NonNullable<MemoAllowance['before']>;
}

/**
 * What the memo will watch, and its state before the run: a record is kept
 * only if nothing moved under the run (a new netplan file shows in its
 * directory's listing, which is watched too).
 */
export async function watchedBefore(host: CharmHost): Promise<WatchedBefore> {
  const watch = await watchedPaths(host.engine, host.boot);
  return { watch, files: await captureFiles(watch) };
}

/**
 * The memo allowance for a run whose engine processes were `calls` (the caller
 * has checked that the converge applied nothing: a sysctl step is a file
 * write, not a process), or null when the run started anything but reads.
 */
export function memoAllowance(
  calls: readonly SpawnCall[],
  host: CharmHost,
  before: WatchedBefore,
): MemoAllowance | null {
  const ip = host.engine.ipBin ?? 'ip';
  const flock = host.engine.flockBin ?? 'flock';
  const reads: RecordedRead[] = [];
  for (const c of calls) {
    if (c.file === flock) continue;
    if (c.file !== ip || !c.args.includes('-json')) return null;
    reads.push({
      argv: [c.file, ...c.args],
      ...(c.input !== undefined ? { input: c.input } : {}),
      env: { ...SPAWN_ENV },
      normalize: IP_JSON,
      exitCode: c.result.exitCode,
      stdout: stableIpJson(c.result.stdout),
      stderr: c.result.stderr,
    });
  }
  return { watch: before.watch, reads, before: before.files };
}
