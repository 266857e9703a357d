/** The host: engine options and dependencies, observing the host, pre-flight checks. */
import { exists as pathExists, readdir, readFile } from '../files.js';
import { join } from 'node:path';
import type { Renderer } from '../apply.js';
import { renderCommand, renderStep } from '../render.js';
import { deriveDesired, noVrfModule } from '../derive.js';
import { ipVersion, modprobe, type ProcOptions, runIpJsonBatch } from '../ip.js';
import { OBSERVE_IP_OPTIONS, observeBatch, parseObserved } from '../observe.js';
import { otherRoutingManagers } from '../routing-managers.js';
import { under } from '../persist.js';
import { plan as planFn } from '../plan.js';
import { readSysctls } from '../sysctl.js';
import { planTeardown } from '../teardown.js';
import {
  type DeriveResult,
  type DesiredState,
  type EngineInputs,
  type Ledger,
  type ObservedHost,
  OWNED_SYSCTLS,
  type Plan,
  type Problem,
  SYSCTL,
  type Sysctls,
  type Warning,
} from '../types.js';
import { VrfError } from '../errors.js';

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/** The pure domain functions, injectable for unit tests. */
export interface EngineDeps {
  readonly observeBatch: (controllers: readonly string[]) => string[][];
  readonly parseObserved: (
    stdout: string,
    extras: { sysctls: Sysctls; vrfModule: boolean; container: boolean; controllers: readonly string[] },
  ) => ObservedHost;
  readonly deriveDesired: (
    inputs: EngineInputs,
    observed: ObservedHost,
    ledger: Ledger,
    previous: DesiredState | null,
  ) => DeriveResult;
  readonly plan: (desired: DesiredState, observed: ObservedHost, ledger: Ledger) => Plan;
  readonly planTeardown: (observed: ObservedHost, ledger: Ledger) => Plan;
  readonly renderer: Renderer;
}

export const DEFAULT_DEPS: EngineDeps = {
  observeBatch,
  parseObserved,
  deriveDesired,
  plan: planFn,
  planTeardown,
  renderer: { renderStep, renderCommand },
};

export interface EngineOptions extends ProcOptions {
  /** Root for /etc, /var/lib and /run (default `/`). */
  readonly root?: string;
  /** Default `/proc`. */
  readonly procRoot?: string;
  /** Default `/sys`. */
  readonly sysRoot?: string;
  readonly lockTimeoutSec?: number;
  readonly deps?: Partial<EngineDeps>;
}

export function depsOf(o: EngineOptions): EngineDeps {
  return { ...DEFAULT_DEPS, ...o.deps };
}

export class EngineError extends VrfError {
  override name = 'EngineError';
}

// ---------------------------------------------------------------------------
// Observe and pre-flight
// ---------------------------------------------------------------------------

export async function exists(path: string): Promise<boolean> {
  return pathExists(path);
}

/** In a container: /run/systemd/container exists, or PID 1's environment has `container=`. */
export async function detectContainer(o: EngineOptions = {}): Promise<boolean> {
  if (await exists(under(o.root, 'run/systemd/container'))) return true;
  try {
    const env = await readFile(join(o.procRoot ?? '/proc', '1', 'environ'), 'latin1');
    return env.split('\0').some((kv) => kv.startsWith('container=') && kv.length > 'container='.length);
  } catch {
    return false;
  }
}

export async function vrfModulePresent(o: EngineOptions = {}): Promise<boolean> {
  return exists(join(o.sysRoot ?? '/sys', 'module', 'vrf'));
}

export interface ObserveOptions extends EngineOptions {
  readonly controllers?: readonly string[];
}

/**
 * One `ip -json -details -Numeric -force -batch -` process for link, addr,
 * routes and rules of both families and `route get` per controller (plus the
 * `ip -6` process `-6 rule show` needs), the owned sysctls, /sys/module/vrf and
 * container detection.
 */
export async function observeHost(o: ObserveOptions = {}): Promise<ObservedHost> {
  const deps = depsOf(o);
  const controllers = o.controllers ?? [];
  // `route get` to a controller may fail (no route): that is an observation, not an error.
  const stdout = await runIpJsonBatch(deps.observeBatch(controllers), {
    ...o,
    options: OBSERVE_IP_OPTIONS,
    tolerate: (line) => line[0] === 'route' && line[1] === 'get',
  });
  const [sysctls, vrfModule, container] = await Promise.all([
    readSysctls(OWNED_SYSCTLS, o.procRoot),
    vrfModulePresent(o),
    detectContainer(o),
  ]);
  return deps.parseObserved(stdout, { sysctls, vrfModule, container, controllers });
}

/** iproute2 with `-json` for link/addr/route/rule and `-batch`. */
export const MIN_IPROUTE2 = [4, 18] as const;

/** Parses `ip -V`: "ip utility, iproute2-6.1.0, …", "iproute2-v5.15.0" or the old "iproute2-ss180813". */
export function parseIpVersion(text: string): { major: number; minor: number } | null {
  const m = /iproute2-v?(\d+)\.(\d+)/.exec(text);
  if (m) return { major: Number(m[1]), minor: Number(m[2]) };
  const ss = /iproute2-ss(\d{2})(\d{2})\d{2}/.exec(text);
  if (ss) {
    // Snapshot tags: 4.18 was ss180813; older snapshots predate full JSON support.
    const yymm = Number(ss[1]) * 100 + Number(ss[2]);
    return yymm >= 1808 ? { major: 4, minor: 18 } : { major: 4, minor: 0 };
  }
  return null;
}

export async function kernelRelease(o: EngineOptions): Promise<string> {
  try {
    return (await readFile(join(o.procRoot ?? '/proc', 'sys', 'kernel', 'osrelease'), 'utf8')).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Why `ip` could not read the host, when the reason is its age: iproute2 without
 * -json for routes and rules, or no ip at all. Asked only after observing failed, so a
 * healthy host reads its state with no extra process.
 */
export async function diagnoseIproute2(o: EngineOptions = {}): Promise<Problem | null> {
  let version: string;
  try {
    version = await ipVersion(o);
  } catch (e) {
    return {
      field: 'iproute2',
      message: `cannot run \`ip -V\`: ${(e as Error).message}; install iproute2 ${MIN_IPROUTE2.join('.')} or newer`,
    };
  }
  const v = parseIpVersion(version);
  const [wantMaj, wantMin] = MIN_IPROUTE2;
  if (v !== null && (v.major < wantMaj || (v.major === wantMaj && v.minor < wantMin))) {
    return {
      field: 'iproute2',
      message:
        `iproute2 ${v.major}.${v.minor} lacks -json output for routes and rules:` +
        ` vrf-host needs iproute2 ${wantMaj}.${wantMin} or newer`,
    };
  }
  return null;
}

/** The checks that must pass before anything is observed or applied. `observed` is filled when ip works. */
export async function preflight(
  o: EngineOptions & { readonly loadModules?: boolean } = {},
): Promise<{ problems: Problem[]; warnings: Warning[] }> {
  const problems: Problem[] = [];
  const warnings: Warning[] = [];
  if (!(await vrfModulePresent(o))) {
    const container = await detectContainer(o);
    let loaded = false;
    let why = '';
    if (!container && o.loadModules !== false) {
      const r = await modprobe('vrf', o).catch((e: Error) => ({ ok: false, stderr: e.message }));
      loaded = r.ok && (await vrfModulePresent(o));
      why = r.ok ? '' : ` (modprobe vrf: ${r.stderr || 'failed'})`;
    }
    if (!loaded) {
      problems.push(noVrfModule(container, why));
    }
  }

  problems.push(...(await otherRoutingManagers(o.root)));

  const sysctls = await readSysctls([SYSCTL.tcpL3mdev, SYSCTL.udpL3mdev], o.procRoot);
  const missing = Object.entries(sysctls)
    .filter(([, v]) => v === null)
    .map(([k]) => k);
  if (missing.length > 0) {
    problems.push({
      field: 'kernel',
      message: `kernel ${await kernelRelease(o)} has no ${missing.join(', ')}: VRFs need Linux 4.5 or newer (the l3mdev sysctls)`,
    });
  }
  return { problems, warnings };
}

/** Files under ROOT/etc/netplan (*.yaml, *.yml), name → text, for derivation. */
export async function readNetplan(root?: string): Promise<Record<string, string>> {
  const dir = under(root, 'etc/netplan');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const out: Record<string, string> = {};
  for (const n of names.filter((n) => /\.ya?ml$/.test(n)).sort()) {
    out[`/etc/netplan/${n}`] = await readFile(join(dir, n), 'utf8');
  }
  return out;
}
