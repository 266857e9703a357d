/**
 * The process runner of src/vrf: with systemctl.ts (its systemd counterpart), the only module in
 * the domain that starts processes. Everything goes as argv arrays through execa (never a shell).
 * `ip -batch` reads its commands from stdin, where whitespace splits words,
 * quotes group them, `#` starts a comment and a trailing backslash continues a
 * line — so every token is checked before the lines are joined.
 *
 * The binaries and the spawn function are injectable, so tests can run a fake
 * `ip` script and a VM suite can run the real one.
 */
import { execa, type Options } from 'execa';
import { VrfError } from './errors.js';

export interface SpawnResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnOptions {
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string;
  /** An open file descriptor of ours that the child inherits as its fd 3. */
  readonly fd3?: number;
  readonly timeoutMs?: number;
  /** The child's whole environment (default: ours, with SPAWN_ENV). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Runs `file` with `args` (no shell); never rejects on a non-zero exit. */
export type Spawn = (file: string, args: readonly string[], options: SpawnOptions) => Promise<SpawnResult>;

export interface ProcOptions {
  /** Path of the `ip` binary (default `ip`, found on PATH). */
  readonly ipBin?: string;
  readonly modprobeBin?: string;
  readonly flockBin?: string;
  readonly pingBin?: string;
  readonly networkctlBin?: string;
  /** Path of `systemctl` (default: found on PATH); src/vrf/systemctl.ts runs it. */
  readonly systemctlBin?: string;
  /** Paths of the packet filter's dump tools (default: found on PATH). */
  readonly netfilterBins?: Partial<Record<NetfilterTool, string>>;
  readonly spawn?: Spawn;
}

export class ProcessError extends VrfError {
  override name = 'ProcessError';
  readonly command: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(
    message: string,
    details: { command: readonly string[]; exitCode: number | null; stderr: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
  }
}

export class UnsafeTokenError extends VrfError {
  override name = 'UnsafeTokenError';
}

/** Added to the environment of every process the domain starts: ip's output must not depend on the locale. */
export const SPAWN_ENV: Readonly<Record<string, string>> = { LC_ALL: 'C' };

/** The default spawn: execa with argv, no shell, no rejection on exit status. */
export const execaSpawn: Spawn = async (file, args, options) => {
  const stdin = options.input === undefined ? 'ignore' : 'pipe';
  // execa passes an integer fd through to child_process (inherit that fd), but
  // its types only list it for fds 0-2.
  const stdio = (options.fd3 !== undefined
    ? [stdin, 'pipe', 'pipe', options.fd3]
    : [stdin, 'pipe', 'pipe']) as unknown as Options['stdio'];
  try {
    const r = await execa(file, [...args], {
      reject: false,
      stdio,
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      stripFinalNewline: false,
      ...(options.env !== undefined
        ? { env: { ...options.env }, extendEnv: false }
        : { env: { ...SPAWN_ENV }, extendEnv: true }),
    });
    if (r.failed && r.exitCode === undefined) {
      // Could not start (ENOENT, EACCES) or killed by a signal/timeout.
      return {
        exitCode: -1,
        stdout: String(r.stdout ?? ''),
        stderr: String(r.stderr ?? '') || (r.shortMessage ?? 'failed to run'),
      };
    }
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  } catch (e) {
    throw new ProcessError(
      `cannot run ${file}: ${(e as Error).message}`,
      { command: [file, ...args], exitCode: null, stderr: '' },
      { cause: e },
    );
  }
};

export function spawnOf(o: ProcOptions): Spawn {
  return o.spawn ?? execaSpawn;
}

/** Why a token cannot go on an `ip -batch` line, or null when it can. */
export function tokenProblem(t: unknown): string | null {
  if (typeof t !== 'string') return 'is not a string';
  if (t.length === 0) return 'is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(t)) return `${JSON.stringify(t)} contains whitespace or a control character`;
  if (/["'#\\]/.test(t)) return `${JSON.stringify(t)} contains a quote, '#' or a backslash`;
  return null;
}

/** Joins the lines for `ip -batch -`, refusing any token ip would split, group or comment out. */
export function batchInput(lines: readonly (readonly string[])[]): string {
  lines.forEach((line, i) => {
    if (line.length === 0) throw new UnsafeTokenError(`ip batch line ${i + 1} is empty`);
    for (const t of line) {
      const p = tokenProblem(t);
      if (p !== null) throw new UnsafeTokenError(`ip batch line ${i + 1}: token ${p}`);
    }
  });
  return lines.map((l) => l.join(' ')).join('\n') + '\n';
}

/** The 1-based line `ip -batch` names in "Command failed -:N", or null. */
export function failedBatchLine(stderr: string): number | null {
  const m = /Command failed -:(\d+)/.exec(stderr);
  return m ? Number(m[1]) : null;
}

export interface JsonBatchOptions extends ProcOptions {
  /** ip options for every process (default `-json -details`). */
  readonly options?: readonly string[];
  /**
   * Lines whose failure is expected (e.g. `route get` to an unreachable
   * controller): the processes run with `-force`, and a failure of such a line
   * is tolerated (it prints nothing). Any other failing line throws.
   */
  readonly tolerate?: (line: readonly string[]) => boolean;
}

/** Splits off a leading family option, which only a whole ip process can take. */
export function splitFamilyOption(line: readonly string[]): { family: '-4' | '-6' | null; line: readonly string[] } {
  return line[0] === '-4' || line[0] === '-6' ? { family: line[0], line: line.slice(1) } : { family: null, line };
}

/** Every "Command failed -:N" ip printed (1-based), in order. */
export function failedBatchLines(stderr: string): number[] {
  return [...stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1]));
}

/**
 * Runs the lines through `ip -json -details -batch -`: ONE process, or one per
 * run of consecutive lines with the same leading family option (`-6 rule show`
 * needs `ip -6`). Returns the processes' stdout concatenated in line order (one
 * JSON document per line that printed). Throws a ProcessError naming the
 * failing command when ip fails on a line that is not tolerated.
 */
export async function runIpJsonBatch(lines: readonly (readonly string[])[], o: JsonBatchOptions = {}): Promise<string> {
  const ip = o.ipBin ?? 'ip';
  const groups: { family: '-4' | '-6' | null; lines: (readonly string[])[]; orig: (readonly string[])[] }[] = [];
  for (const l of lines) {
    const { family, line } = splitFamilyOption(l);
    const last = groups.at(-1);
    if (last && last.family === family) {
      last.lines.push(line);
      last.orig.push(l);
    } else groups.push({ family, lines: [line], orig: [l] });
  }
  // Reads only: the processes (one per family run, e.g. the `-6 rule show` one) run at once.
  const results = await Promise.all(
    groups.map(async (g) => {
      const input = batchInput(g.lines);
      const args = [
        ...(g.family ? [g.family] : []),
        ...(o.options ?? ['-json', '-details']),
        ...(o.tolerate ? ['-force'] : []),
        '-batch',
        '-',
      ];
      return { g, args, r: await spawnOf(o)(ip, args, { input }) };
    }),
  );
  const outs: string[] = [];
  for (const { g, args, r } of results) {
    if (r.exitCode !== 0) {
      const failed = failedBatchLines(r.stderr);
      const fatal =
        failed.length === 0 || !o.tolerate
          ? (failed[0] ?? null)
          : (failed.find((n) => !o.tolerate!(g.lines[n - 1] ?? [])) ?? null);
      if (failed.length === 0 || fatal !== null) {
        const line = fatal !== null ? g.orig[fatal - 1] : undefined;
        const what = line ? `\`ip ${line.join(' ')}\` (batch line ${fatal})` : `\`${ip} ${args.join(' ')}\``;
        throw new ProcessError(`${what} failed (exit ${r.exitCode}): ${r.stderr.trim() || 'no error output'}`, {
          command: line ? ['ip', ...line] : [ip, ...args],
          exitCode: r.exitCode,
          stderr: r.stderr,
        });
      }
    }
    outs.push(r.stdout);
  }
  return outs.map((s) => (s.endsWith('\n') || s === '' ? s : `${s}\n`)).join('');
}

export type BatchResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** 0-based index into the lines; null when ip did not say which line failed. */
      readonly failedLine: number | null;
      readonly exitCode: number;
      readonly stderr: string;
    };

/**
 * Runs the lines through ONE `ip [-4|-6] -batch -` process. Without `-force` ip stops
 * at the first failing line, so every line before it has been applied and none
 * after it.
 */
export async function runIpBatch(
  lines: readonly (readonly string[])[],
  o: ProcOptions & { family?: '-4' | '-6' } = {},
): Promise<BatchResult> {
  if (lines.length === 0) return { ok: true };
  const input = batchInput(lines);
  // A batch line cannot carry options: a family option applies to the whole process.
  const args = o.family !== undefined ? [o.family, '-batch', '-'] : ['-batch', '-'];
  const r = await spawnOf(o)(o.ipBin ?? 'ip', args, { input });
  if (r.exitCode === 0) return { ok: true };
  const n = failedBatchLine(r.stderr);
  const failedLine = n !== null && n >= 1 && n <= lines.length ? n - 1 : null;
  return { ok: false, failedLine, exitCode: r.exitCode, stderr: r.stderr.trim() };
}

/** `ip -V`, e.g. "ip utility, iproute2-6.1.0, libbpf 1.1.2". Throws when ip cannot run. */
export async function ipVersion(o: ProcOptions = {}): Promise<string> {
  const ip = o.ipBin ?? 'ip';
  const r = await spawnOf(o)(ip, ['-V'], {});
  if (r.exitCode !== 0) {
    throw new ProcessError(`\`${ip} -V\` failed (exit ${r.exitCode}): ${r.stderr.trim()}`, {
      command: [ip, '-V'],
      exitCode: r.exitCode,
      stderr: r.stderr,
    });
  }
  return (r.stdout + r.stderr).trim();
}

/** Runs argv inside a VRF: `ip vrf exec VRF argv…` (e.g. ping). Never throws on a non-zero exit. */
export async function ipVrfExec(
  vrf: string,
  argv: readonly string[],
  o: ProcOptions & { timeoutMs?: number } = {},
): Promise<SpawnResult> {
  for (const t of [vrf, ...argv]) {
    const p = tokenProblem(t);
    if (p !== null) throw new UnsafeTokenError(`ip vrf exec: token ${p}`);
  }
  if (argv.length === 0) throw new UnsafeTokenError('ip vrf exec: no command');
  return spawnOf(o)(
    o.ipBin ?? 'ip',
    ['vrf', 'exec', vrf, ...argv],
    o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {},
  );
}

/** `ping ARGV…` (e.g. `-I VRF -c 3 -W 1 ADDR`, bound to a VRF device). Never throws on a non-zero exit. */
export async function runPing(
  argv: readonly string[],
  o: ProcOptions & { pingBin?: string; timeoutMs?: number } = {},
): Promise<SpawnResult> {
  for (const t of argv) {
    const p = tokenProblem(t);
    if (p !== null) throw new UnsafeTokenError(`ping: token ${p}`);
  }
  return spawnOf(o)(o.pingBin ?? 'ping', argv, o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {});
}

/** `modprobe NAME`; returns whether it succeeded and what it said. */
export async function modprobe(name: string, o: ProcOptions = {}): Promise<{ ok: boolean; stderr: string }> {
  if (!/^[a-z0-9_-]+$/.test(name)) throw new UnsafeTokenError(`modprobe: invalid module name ${JSON.stringify(name)}`);
  const r = await spawnOf(o)(o.modprobeBin ?? 'modprobe', [name], {});
  return { ok: r.exitCode === 0, stderr: r.stderr.trim() };
}

/**
 * Takes an exclusive flock on the open file `fd` by running
 * `flock -x -w SECONDS 3` with our fd inherited as its fd 3. The lock belongs
 * to the open file description, so it stays held after flock(1) exits and is
 * released when we close the fd or die. Returns false on timeout.
 */
export async function flockFd(fd: number, timeoutSec: number, o: ProcOptions = {}): Promise<boolean> {
  const bin = o.flockBin ?? 'flock';
  const args = ['-x', '-w', String(timeoutSec), '3'];
  const r = await spawnOf(o)(bin, args, { fd3: fd });
  if (r.exitCode === 0) return true;
  if (r.exitCode === 1 && r.stderr.trim() === '') return false; // flock(1): timeout → exit 1, silent
  throw new ProcessError(`\`${bin} ${args.join(' ')}\` failed (exit ${r.exitCode}): ${r.stderr.trim()}`, {
    command: [bin, ...args],
    exitCode: r.exitCode,
    stderr: r.stderr,
  });
}

/**
 * `networkctl reload`: systemd-networkd re-reads its files, creates new netdevs and
 * reconfigures the links whose .network (or a drop-in of it) changed. Needs the system
 * bus. Never throws on a non-zero exit.
 */
export async function networkctlReload(o: ProcOptions = {}): Promise<{ ok: boolean; stderr: string }> {
  const r = await spawnOf(o)(o.networkctlBin ?? 'networkctl', ['reload'], { timeoutMs: 60_000 });
  return { ok: r.exitCode === 0, stderr: r.stderr.trim() };
}

/** The packet filter's read-only dumps show-vrfs reads (src/vrf/netfilter.ts parses them). */
export const NETFILTER_TOOLS = ['iptables-save', 'ip6tables-save', 'nft'] as const;
export type NetfilterTool = (typeof NETFILTER_TOOLS)[number];
const NETFILTER_ARGS: Readonly<Record<NetfilterTool, readonly string[]>> = {
  'iptables-save': [],
  'ip6tables-save': [],
  nft: ['-j', 'list', 'ruleset'],
};

/**
 * One dump of the host's packet filter (`iptables-save`, `ip6tables-save`, `nft -j list
 * ruleset`): they only read. A tool that is not installed or fails answers ok false with why.
 */
export async function netfilterDump(
  tool: NetfilterTool,
  o: ProcOptions = {},
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const r = await spawnOf(o)(o.netfilterBins?.[tool] ?? tool, NETFILTER_ARGS[tool], { timeoutMs: 30_000 });
  return { ok: r.exitCode === 0, stdout: r.stdout, stderr: r.stderr.trim() };
}
