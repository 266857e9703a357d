/**
 * The hook memo: a fast path for a hook that, most of the time, only reads and
 * reports (update-status runs every 5 minutes on every unit of a cloud).
 *
 * A full run of a memoizable hook that changed nothing records what it read
 * of the machine: the processes the charm declares as reads (for vrf-host:
 * `ip -json`) with their answers, and the state of every file it read. The
 * next run of that hook replays those processes, all at once, and looks at
 * the files again; when every answer is the same the hook is done, without
 * loading the charm and without a single hook tool: its status is already set
 * (Juju keeps it), and what it read from Juju cannot have changed without Juju
 * dispatching another hook first (config-changed, upgrade-charm, a relation
 * hook: DEVELOPERS.md cites where Juju decides), and any other dispatch
 * deletes the record before it starts. Anything different (a read's output or
 * exit code, a file, the environment, the charm build) or a record older than
 * `maxAgeMs` and the charm runs in full, reading everything from Juju and the
 * machine again, and records again.
 *
 * The record is deleted when any dispatch starts in full, so a run that fails
 * or changes things never leaves one behind. Outputs are kept verbatim, not
 * hashed: comparing strings needs no crypto (3 ms to load) and cannot collide.
 * This module is what the launcher (src/launch.ts) loads besides Node itself,
 * so it uses node:fs only, synchronously (the files are small, and a hit then
 * loads neither fs/promises nor libuv's thread pool), and reads its record
 * with the small parser below instead of zod: evaluating zod/mini alone cost a
 * hit a fifth of `node -e 0` (BENCHMARKS.md). The record is the charm's own
 * file; whatever does not parse is a miss, never an error.
 */
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type BigIntStats,
} from 'node:fs';
import { dirname } from 'node:path';
import type { ProcessCall, RawResult } from './runner.js';

export const MEMO_VERSION = 2;

/**
 * Hook tools a recordable run may have called: reads, its own unit status (kept by Juju, and set
 * only when it changed: src/ops/status-memory.ts) and its log. A run that called any other (a
 * write a replay would have to repeat, e.g. state-set) is not recorded.
 */
export const RECORDABLE_TOOLS: ReadonlySet<string> = new Set([
  'config-get',
  'network-get',
  'status-get',
  'is-leader',
  'leader-get',
  'relation-ids',
  'relation-list',
  'relation-get',
  'goal-state',
  'unit-get',
  'opened-ports',
  'state-get',
  'status-set',
  'juju-log',
]);

/**
 * Environment variables that change with every dispatch, or with how it was
 * started (a shell exports PWD, SHLVL, _), and are no input of the charm's.
 */
export const VOLATILE_ENV: ReadonlySet<string> = new Set([
  'JUJU_CONTEXT_ID',
  'JUJU_HOOK_NAME',
  'JUJU_DISPATCH_PATH',
  'PWD',
  'OLDPWD',
  'SHLVL',
  '_',
]);

/** How a watched path is compared: its content (procfs, sysfs: stat says nothing) or lstat's identity. */
export type WatchHow = 'content' | 'stat';
export interface Watch {
  readonly path: string;
  readonly how: WatchHow;
}

export interface RecordedRead {
  readonly argv: readonly string[];
  readonly input?: string;
  readonly env?: Readonly<Record<string, string>>;
  /**
   * A normalizer the replay applies to stdout before comparing (the recorded
   * stdout is already in that form): for outputs with values that change by
   * themselves (ip's bridge timers, address lifetimes).
   */
  readonly normalize?: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface FileRecord {
  readonly path: string;
  readonly how: WatchHow;
  readonly state: string;
}

export interface MemoRecord {
  readonly version: typeof MEMO_VERSION;
  /** The charm build that recorded it. */
  readonly build: string;
  readonly hook: string;
  /** ms since the epoch. */
  readonly created: number;
  readonly env: Readonly<Record<string, string>>;
  readonly reads: readonly RecordedRead[];
  /** Every file the run read, with its state when it read it. */
  readonly files: readonly FileRecord[];
}

type Fields = { readonly [key: string]: unknown };
const fields = (x: unknown): Fields | null =>
  typeof x === 'object' && x !== null && !Array.isArray(x) ? Object.fromEntries(Object.entries(x)) : null;
const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
/** An optional field: undefined when absent, null when present with another type. */
const optional = <T>(x: unknown, parse: (x: unknown) => T | null): T | null | undefined =>
  x === undefined ? undefined : parse(x);

function list<T>(x: unknown, parse: (x: unknown) => T | null): T[] | null {
  if (!Array.isArray(x)) return null;
  const items: unknown[] = x;
  const out: T[] = [];
  for (const item of items) {
    const v = parse(item);
    if (v === null) return null;
    out.push(v);
  }
  return out;
}

function strings(x: unknown): Record<string, string> | null {
  const f = fields(x);
  if (f === null) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) {
    if (typeof v !== 'string') return null;
    out[k] = v;
  }
  return out;
}

function parseRead(x: unknown): RecordedRead | null {
  const f = fields(x);
  if (f === null) return null;
  const argv = list(f['argv'], str);
  const input = optional(f['input'], str);
  const env = optional(f['env'], strings);
  const normalize = optional(f['normalize'], str);
  const { exitCode, stdout, stderr } = f;
  if (argv === null || input === null || env === null || normalize === null) return null;
  if (typeof exitCode !== 'number' || typeof stdout !== 'string' || typeof stderr !== 'string') return null;
  return {
    argv,
    ...(input !== undefined ? { input } : {}),
    ...(env !== undefined ? { env } : {}),
    ...(normalize !== undefined ? { normalize } : {}),
    exitCode,
    stdout,
    stderr,
  };
}

function parseFile(x: unknown): FileRecord | null {
  const f = fields(x);
  const { path, how, state } = f ?? {};
  if (typeof path !== 'string' || typeof state !== 'string') return null;
  return how === 'content' || how === 'stat' ? { path, how, state } : null;
}

/** A record as writeMemo wrote it, or null for anything else (another version, a truncated or foreign file). */
export function parseMemoRecord(data: unknown): MemoRecord | null {
  const f = fields(data);
  if (f === null || f['version'] !== MEMO_VERSION) return null;
  const env = strings(f['env']);
  const reads = list(f['reads'], parseRead);
  const files = list(f['files'], parseFile);
  const { build, hook, created } = f;
  if (env === null || reads === null || files === null) return null;
  if (typeof build !== 'string' || typeof hook !== 'string' || typeof created !== 'number') return null;
  return { version: MEMO_VERSION, build, hook, created, env, reads, files };
}

/** A hook-tool call as the full run made it. */
export interface ToolCall extends RawResult {
  readonly argv: readonly string[];
  readonly stdin?: string;
}

export function memoEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) {
    const v = env[k];
    if (v !== undefined && !VOLATILE_ENV.has(k)) out[k] = v;
  }
  return out;
}

const errCode = (e: unknown): string => (typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : 'error');

/** A path's state as one comparable string. */
export function fileState(w: Watch): string {
  try {
    if (w.how === 'content') {
      try {
        return `file:${readFileSync(w.path, 'latin1')}`;
      } catch (e) {
        if (errCode(e) !== 'EISDIR') throw e;
        return `dir:${readdirSync(w.path).sort().join('\n')}`;
      }
    }
    const s = lstatSync(w.path, { bigint: true });
    const identity = (x: BigIntStats) => `${x.dev}:${x.ino}:${x.mode}:${x.size}:${x.mtimeNs}:${x.ctimeNs}`;
    const id = identity(s);
    if (s.isSymbolicLink()) {
      // The link, and what a reader following it would find.
      let target: string;
      try {
        target = identity(statSync(w.path, { bigint: true }));
      } catch {
        target = 'dangling';
      }
      return `link:${id}:${readlinkSync(w.path)}:${target}`;
    }
    if (s.isDirectory()) return `dir:${id}:${readdirSync(w.path).sort().join('\n')}`;
    return `file:${id}`;
  } catch (e) {
    const code = errCode(e);
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'absent' : `error:${code}`;
  }
}

export function captureFiles(watch: readonly Watch[]): MemoRecord['files'] {
  const seen = new Set<string>();
  const unique = watch.filter((w) => !seen.has(w.path) && seen.add(w.path));
  return unique.map((w) => ({ path: w.path, how: w.how, state: fileState(w) }));
}

/** Why a run whose hook-tool calls were `calls` cannot be recorded, or null when it can. */
export function unrecordableCall(calls: readonly ToolCall[]): string | null {
  // More than one status means an interim one (e.g. Maintenance while applying): not a read-only run.
  if (calls.filter((c) => c.argv[0] === 'status-set').length > 1) return 'more than one status-set';
  for (const c of calls) {
    const tool = c.argv[0] ?? '';
    if (!RECORDABLE_TOOLS.has(tool)) return `${tool} is neither a read nor the unit's status`;
    if (tool === 'status-set' && c.exitCode !== 0) return 'status-set failed';
  }
  return null;
}

export interface RecordInput {
  readonly build: string;
  readonly hook: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly reads: readonly RecordedRead[];
  /** The files the run read, with their state when it read them. */
  readonly files: MemoRecord['files'];
  readonly now?: number;
}

/**
 * The record, or null when a file the run read is no longer as it was when the run read it
 * (something changed it under the run: the boot unit's CLI, networkd, an operator).
 */
export function makeRecord(r: RecordInput): MemoRecord | null {
  const now = captureFiles(r.files);
  if (now.length !== r.files.length || now.some((f, i) => f.state !== r.files[i]?.state)) return null;
  return {
    version: MEMO_VERSION,
    build: r.build,
    hook: r.hook,
    created: r.now ?? Date.now(),
    env: memoEnv(r.env),
    reads: [...r.reads],
    files: now,
  };
}

/** Atomically, readable by root only (the environment is in it). */
export function writeMemo(path: string, record: MemoRecord): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function removeMemo(path: string): void {
  rmSync(path, { force: true });
}

export type ReplayOutcome = { readonly hit: true } | { readonly hit: false; readonly reason: string };

export interface ReplayOptions {
  readonly build: string;
  readonly hook: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly maxAgeMs: number;
  /** Runs one process to its end (the replay runs them one after the other: fewer CPU cycles than at once). */
  readonly run: (call: ProcessCall) => RawResult & { readonly spawnError?: string };
  /** Which processes the record may name; the rest are refused before anything runs. Default: none. */
  readonly allowRead?: (read: RecordedRead) => boolean;
  /** By name, the normalizers a record's reads may name. */
  readonly normalizers?: Readonly<Record<string, (stdout: string) => string>>;
  readonly now?: number;
}

const miss = (reason: string): ReplayOutcome => ({ hit: false, reason });

function describeRead(r: { argv: readonly string[] }): string {
  return r.argv.join(' ');
}

/** The first difference between two environments, or null. */
function envChange(was: Readonly<Record<string, string>>, now: Readonly<Record<string, string>>): string | null {
  for (const k of new Set([...Object.keys(was), ...Object.keys(now)])) if (was[k] !== now[k]) return k;
  return null;
}

/**
 * Replays the record at `path`: on a hit the hook is done (nothing it depends
 * on changed); a miss says why, and the caller runs the charm in full.
 */
export function replayMemo(path: string, o: ReplayOptions): ReplayOutcome {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return miss(errCode(e) === 'ENOENT' ? 'no record' : `record unreadable (${errCode(e)})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return miss('record is not JSON');
  }
  const rec = parseMemoRecord(data);
  if (rec === null) return miss('record has an unknown shape');
  if (rec.build !== o.build) return miss('the charm changed');
  if (rec.hook !== o.hook) return miss(`record is for ${rec.hook}`);
  const now = o.now ?? Date.now();
  if (now < rec.created || now - rec.created > o.maxAgeMs)
    return miss(`record older than ${Math.round(o.maxAgeMs / 60_000)} min`);
  const changed = envChange(rec.env, memoEnv(o.env));
  if (changed !== null) return miss(`environment changed: ${changed}`);
  // A record names processes run as root: only reads this launcher knows to be reads.
  const foreign = rec.reads.find((r) => o.allowRead?.(r) !== true);
  if (foreign !== undefined) return miss(`record names a process that is not a known read: ${foreign.argv[0] ?? ''}`);
  const unknown = rec.reads.find((r) => r.normalize !== undefined && o.normalizers?.[r.normalize] === undefined);
  if (unknown !== undefined) return miss(`no normalizer ${unknown.normalize ?? ''}`);

  // The files first: they are cheaper than a process, and any difference ends the replay.
  for (const f of rec.files) if (fileState(f) !== f.state) return miss(`${f.path} changed`);
  for (const r of rec.reads) {
    const got = o.run({
      argv: r.argv,
      ...(r.input !== undefined ? { input: r.input } : {}),
      ...(r.env !== undefined ? { env: r.env } : {}),
    });
    const stdout = r.normalize === undefined ? got.stdout : o.normalizers![r.normalize]!(got.stdout);
    if (got.exitCode !== r.exitCode || stdout !== r.stdout || got.stderr !== r.stderr)
      return miss(`${describeRead(r)} answered differently`);
  }
  return { hit: true };
}

/** What a charm says when its run may be recorded: the files its result depends on, and the processes it read with. */
export interface MemoAllowance {
  /** Every file the run read, with its state when it read it (the record is kept only if that still holds at its end). */
  readonly files: MemoRecord['files'];
  /** Processes the charm ran that only read (e.g. `ip -json`), with what they answered. */
  readonly reads: readonly RecordedRead[];
}

/**
 * framework.memo: a charm calls allow() when this run of a memoizable hook
 * changed nothing a replay would have to repeat. Without it nothing is recorded.
 */
export class MemoControl {
  private allowance: MemoAllowance | null = null;
  allow(a: MemoAllowance): void {
    this.allowance = a;
  }
  get allowed(): MemoAllowance | null {
    return this.allowance;
  }
}
