// Process helpers for the kernel suite (guest side). argv arrays only, every call has a timeout.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/**
 * @typedef {{ code: number | null, stdout: string, stderr: string, ms: number }} RunResult
 * @typedef {{ input?: string, allowFail?: boolean, timeoutMs?: number, env?: NodeJS.ProcessEnv, cwd?: string }} RunOptions
 */

export class CommandError extends Error {
  /**
   * @param {string} message
   * @param {{ argv?: readonly string[], code?: number | null, stdout?: string, stderr?: string, cause?: unknown }} [details]
   */
  constructor(message, { argv, code, stdout, stderr, cause } = {}) {
    super(message, { cause });
    this.name = 'CommandError';
    this.argv = argv;
    this.code = code;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/**
 * The program and its arguments of a non-empty argv.
 * @param {readonly string[]} argv
 * @returns {[string, string[]]}
 */
function split(argv) {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new CommandError('empty argv', { argv });
  return [cmd, args];
}

/**
 * Run argv synchronously. Throws CommandError on non-zero exit unless allowFail.
 * @param {readonly string[]} argv
 * @param {RunOptions} [options]
 * @returns {RunResult}
 */
export function run(argv, { input, allowFail = false, timeoutMs = 30_000, env, cwd } = {}) {
  const t0 = Date.now();
  const [cmd, args] = split(argv);
  const r = spawnSync(cmd, args, {
    input,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
    env: env ? { ...process.env, ...env } : process.env,
    cwd,
  });
  const res = { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
  if (r.error && !allowFail) {
    throw new CommandError(`${argv.join(' ')}: ${r.error.message}`, { argv, ...res, cause: r.error });
  }
  if (r.status !== 0 && !allowFail) {
    throw new CommandError(
      `${argv.join(' ')} → exit ${r.status ?? r.signal}: ${res.stderr.trim() || res.stdout.trim()}`,
      { argv, ...res },
    );
  }
  return res;
}

/**
 * run() without blocking the event loop (never throws on exit status).
 * @param {readonly string[]} argv
 * @param {Omit<RunOptions, 'allowFail' | 'cwd'>} [options]
 * @returns {Promise<RunResult>}
 */
export function runAsync(argv, { input, timeoutMs = 30_000, env } = {}) {
  const t0 = Date.now();
  const [cmd, args] = split(argv);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: env ? { ...process.env, ...env } : process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = globalThis.setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      globalThis.clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${e.message}`, ms: Date.now() - t0 });
    });
    child.on('close', (code) => {
      globalThis.clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
    child.stdin.end(input ?? '');
  });
}

/**
 * argv prefixed to run inside network namespace `ns` (null/'' = the current namespace).
 * @param {string | null | undefined} ns
 * @param {readonly string[]} argv
 * @returns {string[]}
 */
export function inNs(ns, argv) {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : [...argv];
}

/**
 * run() inside a namespace.
 * @param {string | null | undefined} ns
 * @param {readonly string[]} argv
 * @param {RunOptions} [opts]
 */
export function nsRun(ns, argv, opts) {
  return run(inNs(ns, argv), opts);
}

/**
 * `ip -n NS args…` (or plain `ip` when ns is null).
 * @param {string | null | undefined} ns
 * @param {...string} args
 */
export function ipn(ns, ...args) {
  return run(ns ? ['ip', '-n', ns, ...args] : ['ip', ...args]);
}

/**
 * Many ip commands in one process: `ip -n NS -batch -`. Lines are argv arrays.
 * @param {string | null | undefined} ns
 * @param {readonly (readonly string[])[]} lines
 * @param {{ allowFail?: boolean }} [options]
 */
export function ipBatch(ns, lines, { allowFail = false } = {}) {
  for (const l of lines) {
    for (const w of l) {
      if (/[\s"'\\#]/.test(w) || w === '')
        throw new CommandError(`unsafe ip batch word ${JSON.stringify(w)}`, { argv: l });
    }
  }
  const input = `${lines.map((l) => l.join(' ')).join('\n')}\n`;
  return run(ns ? ['ip', '-n', ns, '-batch', '-'] : ['ip', '-batch', '-'], { input, allowFail });
}

/**
 * ip -json output parsed (inside ns). Its objects are read loosely (any): a scenario checks what it reads.
 * @param {string | null | undefined} ns
 * @param {...string} args
 * @returns {any[]}
 */
export function ipJson(ns, ...args) {
  const out = ipn(ns, '-json', ...args).stdout.trim();
  return out === '' ? [] : JSON.parse(out);
}

/**
 * Write a sysctl inside a namespace (sysctl -qw key=value).
 * @param {string | null | undefined} ns
 * @param {string} key
 * @param {string | number} value
 */
export function setSysctl(ns, key, value) {
  nsRun(ns, ['sysctl', '-qw', `${key}=${value}`]);
}

/**
 * Read sysctls inside a namespace; missing keys read as null.
 * @param {string | null | undefined} ns
 * @param {readonly string[]} keys
 */
export function getSysctls(ns, keys) {
  /** @type {Record<string, string | null>} */
  const out = {};
  for (const k of keys) {
    const r = nsRun(ns, ['sysctl', '-n', k], { allowFail: true });
    out[k] = r.code === 0 ? r.stdout.trim() : null;
  }
  return out;
}

/**
 * Start a long-running process (e.g. a server) and return a handle.
 * @param {readonly string[]} argv
 * @param {{ env?: NodeJS.ProcessEnv, logFile?: string }} [options]
 *   logFile: its stdout and stderr go to this file (created, or emptied), not through a pipe to this
 *     process, and output() reads it. For a process that must never wait on this one: a daemon
 *     writing to a pipe blocks once the pipe is full, and the pipe is emptied only while this event
 *     loop runs, never during a run() (spawnSync). systemd-networkd blocked on its log like that
 *     while networkctl waited for it on the bus (BENCHMARKS.md).
 * @returns {{child: import('node:child_process').ChildProcess, output: () => string, stop: () => Promise<void>}}
 */
export function startBackground(argv, { env, logFile } = {}) {
  const [cmd, args] = split(argv);
  const fd = logFile === undefined ? null : openSync(logFile, 'w');
  /** @type {import('node:child_process').ChildProcess} */
  let child;
  try {
    child = spawn(cmd, args, {
      stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
      env: env ? { ...process.env, ...env } : process.env,
      detached: true,
    });
  } finally {
    if (fd !== null) closeSync(fd); // the child has its own copy
  }
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('close', resolve));
  const output = () => {
    if (logFile === undefined) return out;
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return ''; // removed with its directory
    }
  };
  return {
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM'); // its process group: ip netns exec → socat → children
        } catch {
          /* already gone */
        }
      }
      await exited;
    },
  };
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => globalThis.setTimeout(r, ms));

/**
 * Poll fn until it returns truthy or timeoutMs passes; returns the last value.
 * @template T
 * @param {() => T | Promise<T>} fn
 * @param {{ timeoutMs?: number, intervalMs?: number }} [options]
 * @returns {Promise<T>}
 */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50 } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(intervalMs);
  }
}

/** Is the vrf module loaded in this kernel? (Scenarios that need it unloaded must sort first.) */
export function vrfModuleLoaded() {
  const r = run(['cat', '/proc/modules'], { allowFail: true });
  return /^vrf /m.test(r.stdout);
}
