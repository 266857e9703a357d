// Process helpers for the kernel suite (guest side). argv arrays only, every call has a timeout.
import { spawn, spawnSync } from 'node:child_process';

export class CommandError extends Error {
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
 * Run argv synchronously. Throws CommandError on non-zero exit unless allowFail.
 * @returns {{code: number|null, stdout: string, stderr: string, ms: number}}
 */
export function run(argv, { input, allowFail = false, timeoutMs = 30_000, env, cwd } = {}) {
  const t0 = Date.now();
  const r = spawnSync(argv[0], argv.slice(1), {
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

/** run() without blocking the event loop (never throws on exit status). */
export function runAsync(argv, { input, timeoutMs = 30_000, env } = {}) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
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

/** argv prefixed to run inside network namespace `ns` (null/'' = the current namespace). */
export function inNs(ns, argv) {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
}

/** run() inside a namespace. */
export function nsRun(ns, argv, opts) {
  return run(inNs(ns, argv), opts);
}

/** `ip -n NS args…` (or plain `ip` when ns is null). */
export function ipn(ns, ...args) {
  return run(ns ? ['ip', '-n', ns, ...args] : ['ip', ...args]);
}

/** Many ip commands in one process: `ip -n NS -batch -`. Lines are argv arrays. */
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

/** ip -json output parsed (inside ns). */
export function ipJson(ns, ...args) {
  const out = ipn(ns, '-json', ...args).stdout.trim();
  return out === '' ? [] : JSON.parse(out);
}

/** Write a sysctl inside a namespace (sysctl -qw key=value). */
export function setSysctl(ns, key, value) {
  nsRun(ns, ['sysctl', '-qw', `${key}=${value}`]);
}

/** Read sysctls inside a namespace; missing keys read as null. */
export function getSysctls(ns, keys) {
  const out = {};
  for (const k of keys) {
    const r = nsRun(ns, ['sysctl', '-n', k], { allowFail: true });
    out[k] = r.code === 0 ? r.stdout.trim() : null;
  }
  return out;
}

/**
 * Start a long-running process (e.g. a server) and return a handle.
 * @returns {{child: import('node:child_process').ChildProcess, output: () => string, stop: () => Promise<void>}}
 */
export function startBackground(argv, { env } = {}) {
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: env ? { ...process.env, ...env } : process.env,
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('close', resolve));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
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

export const sleep = (ms) => new Promise((r) => globalThis.setTimeout(r, ms));

/** Poll fn until it returns truthy or timeoutMs passes; returns the last value. */
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
