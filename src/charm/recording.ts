/**
 * What the charm tells the hook memo (src/ops/memo.ts) after an update-status:
 * the engine's processes, recorded as they ran (through the injected spawn),
 * and every file it read, recorded through the engine's one file-access layer
 * (src/vrf/files.ts) with its state at the moment it was read. Nothing is
 * listed by hand: what the memo watches is what the run read. A run is
 * recordable only when the engine started nothing but `ip -json` reads and
 * the `flock` of the host lock: no apply, no modprobe. The ip outputs are kept
 * without their self-changing values (bridge timers, address lifetimes), and
 * the launcher compares them the same way.
 */
import { fileState, type MemoAllowance, type MemoRecord, type RecordedRead, type WatchHow } from '../ops/index.js';
import { observeFileReads } from '../vrf/files.js';
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

/** How a path is compared: procfs and sysfs by content (their stat says nothing), the rest by lstat's identity. */
export function watchHow(path: string, host: Pick<CharmHost, 'engine'>): WatchHow {
  const within = (dir: string) => path === dir || path.startsWith(`${dir.replace(/\/+$/, '')}/`);
  return within(host.engine.procRoot ?? '/proc') || within(host.engine.sysRoot ?? '/sys') ? 'content' : 'stat';
}

/**
 * Runs `run`, recording every file it reads through src/vrf/files.ts with the
 * file's state when it was first read (looked at as the read is made); `files()`
 * gives them, in order.
 */
export async function recordingFiles<T>(
  host: Pick<CharmHost, 'engine'>,
  run: () => Promise<T>,
): Promise<{ result: T; files: () => MemoRecord['files'] }> {
  const seen = new Map<string, MemoRecord['files'][number]>();
  const result = await observeFileReads((r) => {
    if (seen.has(r.path)) return;
    const how = watchHow(r.path, host);
    seen.set(r.path, { path: r.path, how, state: fileState({ path: r.path, how }) });
  }, run);
  return { result, files: () => [...seen.values()] };
}

/**
 * The memo allowance for a run whose engine processes were `calls` and whose
 * file reads were `files` (the caller has checked that the converge applied
 * nothing: a sysctl step is a file write, not a process), or null when the run
 * started anything but reads.
 */
export function memoAllowance(
  calls: readonly SpawnCall[],
  host: CharmHost,
  files: MemoRecord['files'],
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
  return { files, reads };
}
