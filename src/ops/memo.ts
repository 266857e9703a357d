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
 * so it uses zod/mini, node:fs and node:child_process only, and node:fs's
 * synchronous calls: the files are small, and a hit then loads neither
 * fs/promises nor libuv's thread pool.
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
import * as z from 'zod/mini';
import type { ProcessCall, RawResult } from './runner.js';

export const MEMO_VERSION = 2;

/** One record, parsed once: zod's JIT (a `new Function` per object schema) would cost more than it saves. */
export function zodJitless(): void {
  z.config({ jitless: true });
}

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

const ReadSchema = z.object({
  argv: z.array(z.string()),
  input: z.optional(z.string()),
  env: z.optional(z.record(z.string(), z.string())),
  /**
   * A normalizer the replay applies to stdout before comparing (the recorded
   * stdout is already in that form): for outputs with values that change by
   * themselves (ip's bridge timers, address lifetimes).
   */
  normalize: z.optional(z.string()),
  exitCode: z.number(),
  stdout: z.string(),
  stderr: z.string(),
});
export type RecordedRead = z.infer<typeof ReadSchema>;

const FileSchema = z.object({ path: z.string(), how: z.enum(['content', 'stat']), state: z.string() });

export const MemoRecordSchema = z.object({
  version: z.literal(MEMO_VERSION),
  /** The charm build that recorded it. */
  build: z.string(),
  hook: z.string(),
  /** ms since the epoch. */
  created: z.number(),
  env: z.record(z.string(), z.string()),
  reads: z.array(ReadSchema),
  /** Every file the run read, with its state when it read it. */
  files: z.array(FileSchema),
});
export type MemoRecord = z.infer<typeof MemoRecordSchema>;

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
  readonly run: (call: ProcessCall) => Promise<RawResult & { readonly spawnError?: string }>;
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
export async function replayMemo(path: string, o: ReplayOptions): Promise<ReplayOutcome> {
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
  const parsed = MemoRecordSchema.safeParse(data);
  if (!parsed.success) return miss('record has an unknown shape');
  const rec = parsed.data;
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

  // The processes first: the files are looked at while they run.
  const running = Promise.all(
    rec.reads.map((r) =>
      o.run({
        argv: r.argv,
        ...(r.input !== undefined ? { input: r.input } : {}),
        ...(r.env !== undefined ? { env: r.env } : {}),
      }),
    ),
  );
  const files = captureFiles(rec.files);
  const results = await running;
  for (const [i, f] of rec.files.entries()) {
    if (files[i]?.state !== f.state) return miss(`${f.path} changed`);
  }
  for (const [i, r] of rec.reads.entries()) {
    const got = results[i];
    const stdout =
      got === undefined || r.normalize === undefined ? got?.stdout : o.normalizers![r.normalize]!(got.stdout);
    if (got === undefined || got.exitCode !== r.exitCode || stdout !== r.stdout || got.stderr !== r.stderr)
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
