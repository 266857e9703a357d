// The real-kernel harness: run one Node script (a batch of scenarios) either in a qemu VM booted on
// Debian's stock kernel, or directly on this host when its kernel has VRF. The VM is booted ONCE
// per call. The script sees VRF_HOST_RESULTS (a writable directory that comes back to the host).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout, clearTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { ensureHostPackages } from './deps.mjs';
import { ensureInitramfs } from './initramfs.mjs';
import { ensureKernel } from './kernel.mjs';
import { cacheRoot, repoRoot } from './paths.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ENTRY = path.join(here, 'guest-entry.mjs');
const SAFE_PATH = /^\/[A-Za-z0-9._+/-]*$/;

export class VmError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'VmError';
  }
}

/** Does this host's kernel do VRF (and bond, VLAN, bridge, veth) inside a scratch network namespace? */
export function hostKernelHasVrf() {
  const lines = [
    'link add vrfprobe0 type vrf table 4242',
    'link add dummyprobe0 type dummy',
    'link add link dummyprobe0 name vlanprobe0 type vlan id 5',
    'link add bondprobe0 type bond mode active-backup',
    'link add brprobe0 type bridge',
    'link add vethprobe0 type veth peer name vethprobe1',
  ];
  const r = spawnSync('unshare', ['--net', '--', 'ip', '-batch', '-'], {
    input: `${lines.join('\n')}\n`,
    encoding: 'utf8',
  });
  return r.status === 0;
}

/** 'vm' or 'native': VRF_HOST_KERNEL forces one; otherwise native when the host kernel has VRF. */
export function chooseMode() {
  const forced = process.env.VRF_HOST_KERNEL;
  if (forced === 'vm' || forced === 'native') return forced;
  if (forced) throw new VmError(`VRF_HOST_KERNEL must be 'vm' or 'native', got '${forced}'`);
  return hostKernelHasVrf() ? 'native' : 'vm';
}

let shareSeq = 0;

function newShareDir() {
  const base = path.join(cacheRoot(), 'vm-runs');
  mkdirSync(base, { recursive: true });
  // keep the 8 most recent runs for post-mortems
  const old = readdirSync(base)
    .filter((d) => d.startsWith('run-'))
    .sort();
  for (const d of old.slice(0, Math.max(0, old.length - 8)))
    rmSync(path.join(base, d), { recursive: true, force: true });
  // pid + a sequence number: parallel VMs of one suite run never share a directory
  const dir = path.join(base, `run-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${shareSeq++}`);
  mkdirSync(path.join(dir, 'results'), { recursive: true });
  return dir;
}

/**
 * @param {string} shareDir
 * @param {{ script: string, args: readonly (string | number)[], env: Record<string, string>, inVm: boolean }} job
 */
function writeJob(shareDir, { script, args, env, inVm }) {
  const abs = path.resolve(script);
  if (!existsSync(abs)) throw new VmError(`script not found: ${abs}`);
  const job = { argv: [process.execPath, abs, ...args.map(String)], cwd: repoRoot, env, inVm };
  writeFileSync(path.join(shareDir, 'job.json'), JSON.stringify(job, null, 2));
  return job;
}

/**
 * @param {string} shareDir
 * @param {number | null} exitCode
 * @param {string} consoleLog
 * @param {{ bootMs: number | null, totalMs: number }} timings
 * @returns {JobResult}
 */
function finish(shareDir, exitCode, consoleLog, timings) {
  const logFile = path.join(shareDir, 'log');
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  return { exitCode, log, console: consoleLog, resultsDir: path.join(shareDir, 'results'), shareDir, timings };
}

/**
 * What a job left: exitCode null = no exit recorded (timeout/crash).
 * @typedef {{exitCode: number|null, log: string, console: string, resultsDir: string, shareDir: string,
 *   timings: {bootMs: number|null, totalMs: number}}} JobResult
 * @typedef {{script: string, args?: readonly (string | number)[], env?: Record<string, string>, timeoutMs?: number,
 *   stream?: {write: (chunk: Buffer | string) => unknown} | null, log?: (line: string) => void}} JobOptions
 */

/**
 * Boot Debian's kernel under qemu TCG once and run `node script ...args` inside it (cwd = repo root,
 * host root read-only with a tmpfs overlay, /vmshare writable).
 * @param {JobOptions & { memoryMb?: number, smp?: number }} options smp: guest vCPUs (default 2; the suite
 *   runs two 1-vCPU guests side by side)
 * @returns {Promise<JobResult>}
 */
export async function runInVm({
  script,
  args = [],
  env = {},
  timeoutMs = 10 * 60_000,
  stream = null,
  memoryMb = 2048,
  smp = 2,
  log = () => {},
}) {
  if (!Number.isInteger(smp) || smp < 1 || smp > 64) throw new VmError(`smp must be an integer 1..64, got ${smp}`);
  ensureHostPackages({ log });
  const kernel = ensureKernel({ log });
  const initrd = ensureInitramfs(kernel, { log });
  const shareDir = newShareDir();
  writeJob(shareDir, { script, args, env, inVm: true });
  for (const p of [kernel.modulesDir, process.execPath, ENTRY, repoRoot]) {
    if (!SAFE_PATH.test(p)) throw new VmError(`path not usable on the kernel command line: ${p}`);
  }
  const append = [
    'console=ttyS0',
    'quiet',
    'panic=-1',
    'loglevel=3',
    `vrfhost_modules=${kernel.modulesDir}`,
    `vrfhost_node=${process.execPath}`,
    `vrfhost_entry=${ENTRY}`,
    `vrfhost_repo=${repoRoot}`,
  ].join(' ');
  const qemuArgs = [
    '-accel',
    'tcg',
    '-cpu',
    'max',
    '-smp',
    String(smp),
    '-m',
    String(memoryMb),
    '-nographic',
    '-no-reboot',
    '-nic',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-kernel',
    kernel.vmlinuz,
    '-initrd',
    initrd,
    '-append',
    append,
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${shareDir},mount_tag=vmshare,security_model=none,multidevs=remap`,
  ];
  const t0 = Date.now();
  /** @type {number | null} */
  let bootMs = null;
  let consoleLog = '';
  const child = spawn('qemu-system-x86_64', qemuArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  /** @param {Buffer} d */
  const onData = (d) => {
    const s = d.toString('utf8').replace(/\r\n/g, '\n').replace(/\r/g, '');
    consoleLog += s;
    if (bootMs === null && consoleLog.includes('vrfhost-vm: up')) bootMs = Date.now() - t0;
    stream?.write(s);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  /** @type {number | null} */
  const code = await new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new VmError(`cannot start qemu-system-x86_64: ${e.message}`, { cause: e })));
    child.on('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  const exitFile = path.join(shareDir, 'exit-code');
  let exitCode = null;
  if (existsSync(exitFile)) exitCode = Number.parseInt(readFileSync(exitFile, 'utf8').trim(), 10);
  if (timedOut) consoleLog += `\n[harness] VM killed after ${timeoutMs} ms timeout\n`;
  else if (exitCode === null)
    consoleLog += `\n[harness] VM stopped (qemu exit ${code}) without recording an exit code\n`;
  return finish(shareDir, exitCode, consoleLog, { bootMs, totalMs: Date.now() - t0 });
}

/**
 * Run the same job directly on this host (its kernel has VRF). Same contract as runInVm.
 * @param {JobOptions} options
 * @returns {Promise<JobResult>}
 */
export async function runNative({
  script,
  args = [],
  env = {},
  timeoutMs = 10 * 60_000,
  stream = null,
  log = () => {},
}) {
  ensureHostPackages({ needQemu: false, log });
  const shareDir = newShareDir();
  writeJob(shareDir, { script, args, env, inVm: false });
  const t0 = Date.now();
  let out = '';
  const child = spawn(process.execPath, [ENTRY, path.join(shareDir, 'job.json')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @param {Buffer} d */
  const onData = (d) => {
    out += d.toString('utf8');
    stream?.write(d);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  /** @type {number | null} */
  const code = await new Promise((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return finish(shareDir, code, out, { bootMs: 0, totalMs: Date.now() - t0 });
}

/**
 * Run a job on a kernel with VRF: natively when possible, else in the VM.
 * @param {JobOptions & { memoryMb?: number, smp?: number }} opts
 */
export async function runKernelJob(opts) {
  const mode = chooseMode();
  const r = mode === 'native' ? await runNative(opts) : await runInVm(opts);
  return { ...r, mode };
}
