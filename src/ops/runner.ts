/**
 * The ONLY module in src/ops that starts processes. Hook tools are run with
 * execa, as an argv array (never a shell string). The runner does not judge
 * the outcome; src/ops/backend.ts turns failures into typed errors.
 */
import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { OpsError } from './errors.js';

/** What a hook tool did. `exitCode` is -1 when it was killed by `signal`. */
export interface RawResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly signal?: string;
}

/**
 * Run one hook tool. Resolves with its result, whatever the exit code.
 * Rejects only when the process could not be started; an error whose `code`
 * is 'ENOENT' means the tool is not on PATH.
 */
export type RawRun = (argv: readonly string[], stdin?: string) => Promise<RawResult>;

export class SpawnError extends OpsError {
  override name = 'SpawnError';
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ProcessRunnerOptions {
  /** Environment for the tools (defaults to this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Kill a tool that hangs (ms). Default 5 minutes. */
  readonly timeoutMs?: number;
}

export function processRunner(opts: ProcessRunnerOptions = {}): RawRun {
  return async (argv, stdin) => {
    const [file, ...args] = argv;
    if (file === undefined || file === '') throw new SpawnError('empty argv', undefined);
    const result = await execa(file, args, {
      reject: false,
      stripFinalNewline: false,
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 300_000,
      ...(stdin !== undefined ? { input: stdin } : { stdin: 'ignore' as const }),
      ...(opts.env !== undefined ? { env: opts.env, extendEnv: false } : {}),
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    if (result.exitCode === undefined && result.signal === undefined) {
      const cause = result.cause;
      const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : result.code;
      throw new SpawnError(`could not start ${file}: ${result.shortMessage}`, code, { cause });
    }
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      ...(result.signal !== undefined ? { signal: result.signal } : {}),
    };
  };
}

/** One process to run, as the memo (src/ops/memo.ts) records and replays it. */
export interface ProcessCall {
  readonly argv: readonly string[];
  /** Written to stdin, which is then closed (absent: closed at once). */
  readonly input?: string;
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs a process to its end with node:child_process.spawnSync (argv array, no
 * shell) instead of execa. Only the launcher uses it (the memo replay, and its
 * own messages when Node is too old): execa takes ~25 ms to load in a fresh
 * process, more than a whole replay may cost (BENCHMARKS.md), and the
 * synchronous spawn needs none of the streams an asynchronous one sets up for
 * the child's pipes. Never throws: a process that could not start comes back
 * with exitCode -1 and `spawnError`.
 */
export function syncRun(call: ProcessCall, timeoutMs = 60_000): RawResult & { readonly spawnError?: string } {
  const [file, ...args] = call.argv;
  if (file === undefined || file === '') return { exitCode: -1, stdout: '', stderr: '', spawnError: 'empty argv' };
  const r = spawnSync(file, args, {
    input: call.input ?? '',
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    timeout: timeoutMs,
    ...(call.env !== undefined ? { env: { ...process.env, ...call.env } } : {}),
  });
  const out = { stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (r.error !== undefined) {
    const code = 'code' in r.error ? String(r.error.code) : r.error.message;
    return { exitCode: -1, ...out, spawnError: `${file}: ${code}` };
  }
  if (r.status !== null) return { exitCode: r.status, ...out };
  return { exitCode: -1, ...out, ...(r.signal !== null ? { signal: r.signal } : {}) };
}
