/**
 * The ONLY module in src/ops that starts processes. Hook tools are run with
 * execa, as an argv array (never a shell string). The runner does not judge
 * the outcome; src/ops/backend.ts turns failures into typed errors.
 */
import { execa } from 'execa';

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

export class SpawnError extends Error {
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
      const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : result.code;
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
