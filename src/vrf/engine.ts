/**
 * The orchestration the charm and the CLI share: observe the host, derive the
 * desired state, plan, apply under the host lock, persist, install the boot
 * unit; tear down when the last unit leaves; show; check gateways.
 *
 * Nothing here is jest-specific: a plain node script can import it and run it
 * against the real `ip` (the kernel suite does). Every path is under an
 * injectable root, /proc and /sys are injectable, and so are the `ip` binary,
 * the spawn function and the pure domain functions (for unit tests).
 */
import { access, readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { applySteps, type ApplyFailure, type Renderer } from './apply.js';
import { renderCommand, renderStep } from './render.js';
import { installBoot, removeBoot, type BootInstallOptions } from './boot.js';
import { deriveDesired } from './derive.js';
import { ProcessError, ipVersion, ipVrfExec, modprobe, runIpJsonBatch, runPing, type ProcOptions } from './ip.js';
import { withLock } from './lock.js';
import { OBSERVE_IP_OPTIONS, observeBatch, parseObserved } from './observe.js';
import {
  PATHS,
  StateFileError,
  atomicWrite,
  emptyState,
  readState,
  removeFile,
  removeState,
  renderRtTables,
  under,
  unionLedger,
  writeState,
  type HostState,
} from './persist.js';
import { plan as planFn } from './plan.js';
import { desiredSysctls, readSysctls, renderSysctlConf } from './sysctl.js';
import { planTeardown } from './teardown.js';
import {
  EMPTY_LEDGER,
  OWNED_SYSCTLS,
  SYSCTL,
  type DerivedGateway,
  type DeriveResult,
  type DesiredState,
  type EngineInputs,
  type Family,
  type InMainBinding,
  type Ledger,
  type ObservedHost,
  type Plan,
  type Problem,
  type Route,
  type Rule,
  type Step,
  type StepKind,
  type Sysctls,
  type Warning,
} from './types.js';
import { parseIp } from './addr.js';
import { validVrfName } from './names.js';

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
  readonly deriveDesired: (inputs: EngineInputs, observed: ObservedHost, ledger: Ledger) => DeriveResult;
  readonly plan: (desired: DesiredState, observed: ObservedHost, ledger: Ledger) => Plan;
  readonly planTeardown: (observed: ObservedHost, ledger: Ledger) => Plan;
  readonly renderer: Renderer;
}

export const DEFAULT_DEPS: EngineDeps = { observeBatch, parseObserved, deriveDesired, plan: planFn, planTeardown, renderer: { renderStep, renderCommand } };

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

function depsOf(o: EngineOptions): EngineDeps {
  return { ...DEFAULT_DEPS, ...o.deps };
}

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------
// Observe and pre-flight
// ---------------------------------------------------------------------------

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
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
  const [sysctls, vrfModule, container] = await Promise.all([readSysctls(OWNED_SYSCTLS, o.procRoot), vrfModulePresent(o), detectContainer(o)]);
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

async function kernelRelease(o: EngineOptions): Promise<string> {
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
    return { field: 'iproute2', message: `cannot run \`ip -V\`: ${(e as Error).message}; install iproute2 ${MIN_IPROUTE2.join('.')} or newer` };
  }
  const v = parseIpVersion(version);
  const [wantMaj, wantMin] = MIN_IPROUTE2;
  if (v !== null && (v.major < wantMaj || (v.major === wantMaj && v.minor < wantMin))) {
    return { field: 'iproute2', message: `iproute2 ${v.major}.${v.minor} lacks -json output for routes and rules: vrf-host needs iproute2 ${wantMaj}.${wantMin} or newer` };
  }
  return null;
}

/** The checks that must pass before anything is observed or applied. `observed` is filled when ip works. */
export async function preflight(o: EngineOptions & { readonly loadModules?: boolean } = {}): Promise<{ problems: Problem[]; warnings: Warning[] }> {
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
      problems.push({
        field: 'kernel',
        message: container
          ? 'no vrf kernel module: load it on the host (modprobe vrf); a container cannot load modules'
          : `no vrf kernel module: load it on the host (modprobe vrf)${why}`,
      });
    }
  }

  const sysctls = await readSysctls([SYSCTL.tcpL3mdev, SYSCTL.udpL3mdev], o.procRoot);
  const missing = Object.entries(sysctls).filter(([, v]) => v === null).map(([k]) => k);
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

// ---------------------------------------------------------------------------
// Drift
// ---------------------------------------------------------------------------

export interface PlannedStep {
  readonly step: Step;
  readonly command: string;
}

export interface DriftSummary {
  readonly inSync: boolean;
  readonly pending: number;
  readonly byKind: Partial<Record<StepKind, number>>;
  /** Pending steps per VRF name; `(host)` for steps that concern no single VRF (sysctls, the local rule). */
  readonly byVrf: Readonly<Record<string, number>>;
}

/** The VRF a step concerns, or null (sysctls, the local rule, …). */
export function stepVrf(step: Step, vrfs: readonly { name: string; table: number; members: readonly string[] }[]): string | null {
  const byTable = (t: number) => vrfs.find((v) => v.table === t)?.name ?? null;
  const byDev = (d: string | undefined) => (d === undefined ? null : (vrfs.find((v) => v.name === d || v.members.includes(d))?.name ?? null));
  switch (step.kind) {
    case 'vrf-create':
    case 'vrf-replace':
    case 'vrf-delete':
      return step.name;
    case 'enslave':
    case 'release':
      return step.vrf;
    case 'link-up':
      return byDev(step.dev);
    case 'route-add':
    case 'route-del':
      return byTable(step.route.table) ?? byDev(step.route.dev);
    case 'rule-add':
    case 'rule-del':
      return byTable(step.rule.table);
    case 'sysctl':
      return null;
  }
}

export function driftOf(steps: readonly Step[], desired: DesiredState | null, ledger: Ledger): DriftSummary {
  const vrfs = [
    ...(desired?.vrfs ?? []),
    ...Object.entries(ledger.vrfs).map(([name, table]) => ({ name, table, members: [] as string[] })),
  ];
  const byKind: Partial<Record<StepKind, number>> = {};
  const byVrf: Record<string, number> = {};
  for (const s of steps) {
    byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
    const v = stepVrf(s, vrfs) ?? '(host)';
    byVrf[v] = (byVrf[v] ?? 0) + 1;
  }
  return { inSync: steps.length === 0, pending: steps.length, byKind, byVrf };
}

function planned(steps: readonly Step[], renderer: Renderer): PlannedStep[] {
  return steps.map((step) => {
    let command: string;
    try {
      command = renderer.renderCommand(step);
    } catch (e) {
      command = `(${step.kind}: ${(e as Error).message})`;
    }
    return { step, command };
  });
}

// ---------------------------------------------------------------------------
// Units and applications
// ---------------------------------------------------------------------------

/** `vrf-host/0` → `vrf-host`. */
export function appOfUnit(unit: string): string {
  const i = unit.lastIndexOf('/');
  return i > 0 ? unit.slice(0, i) : unit;
}

/** What must agree for two applications to share a machine: VRFs, tables, members, gateways, routes and flags (not where a gateway was found). */
export function desiredKey(d: DesiredState): string {
  const gw = (g: DerivedGateway | undefined) => g?.address ?? null;
  return JSON.stringify({
    vrfs: [...d.vrfs]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((v) => ({ name: v.name, table: v.table, members: [...v.members].sort(), inet: gw(v.gateways.inet), inet6: gw(v.gateways.inet6), routes: v.routes })),
    strict: d.strict,
    moveLocalRule: d.moveLocalRule,
    preserveReachability: d.preserveReachability,
    nonlocalBind: d.nonlocalBind,
    l3mdevAccept: d.l3mdevAccept,
  });
}

/** A problem when another application's units own this machine with a different desired state. */
export function conflictProblem(state: HostState, unit: string, desired: DesiredState): Problem | null {
  const app = appOfUnit(unit);
  const others = state.units.filter((u) => appOfUnit(u) !== app);
  if (others.length === 0 || state.desired === null) return null;
  if (desiredKey(state.desired) === desiredKey(desired)) return null;
  const otherApp = appOfUnit(others[0]!);
  return {
    field: 'application',
    message: `this machine's VRFs belong to vrf-host application "${otherApp}" (${others.join(', ')}), whose desired state differs; remove one of the two applications or give them the same config`,
  };
}

// ---------------------------------------------------------------------------
// Converge
// ---------------------------------------------------------------------------

export interface ConvergeOptions extends EngineOptions {
  /** Derive the desired state from these inputs… */
  readonly inputs?: EngineInputs;
  /** …or apply this desired state as is… */
  readonly desired?: DesiredState;
  /** …or (neither given) replay the last desired state from state.json (the boot unit). */
  /** The Juju unit (`app/N`) asking; null/absent for a replay that does not change the unit list. */
  readonly unit?: string | null;
  /** Only plan: nothing is applied and nothing is written. */
  readonly dryRun?: boolean;
  /** After a successful apply, install the boot unit and hook with these paths; false/absent: leave them alone. */
  readonly boot?: BootInstallOptions | false;
  /** Controller addresses for `ip route get` when no inputs are given (replay). Default: none. */
  readonly controllers?: readonly string[];
  /** Called once, after planning and before anything is applied, when there is something to apply. */
  readonly beforeApply?: (steps: readonly PlannedStep[]) => Promise<void>;
}

export interface ConvergeReport {
  /** No problem and no failure (a dry run with pending steps is ok). */
  readonly ok: boolean;
  readonly dryRun: boolean;
  /** Blocking: nothing was applied. */
  readonly problems: readonly Problem[];
  readonly warnings: readonly Warning[];
  readonly desired: DesiredState | null;
  readonly inMain: readonly InMainBinding[];
  /** The steps the plan holds, in order, with their human commands. */
  readonly planned: readonly PlannedStep[];
  /** The steps that ran (all of `planned` on success; a prefix of it on failure). */
  readonly applied: readonly PlannedStep[];
  readonly failure: ApplyFailure | null;
  /** Drift before this run: what was pending. */
  readonly drift: DriftSummary;
  readonly units: readonly string[];
}

function blocked(problems: Problem[], warnings: Warning[], dryRun: boolean, units: readonly string[], desired: DesiredState | null = null): ConvergeReport {
  return {
    ok: false,
    dryRun,
    problems,
    warnings,
    desired,
    inMain: desired?.inMain ?? [],
    planned: [],
    applied: [],
    failure: null,
    drift: driftOf([], null, EMPTY_LEDGER),
    units,
  };
}

async function loadState(root: string | undefined): Promise<{ state: HostState | null; problem: Problem | null }> {
  try {
    return { state: await readState(root), problem: null };
  } catch (e) {
    if (e instanceof StateFileError) return { state: null, problem: { field: 'state', message: e.message } };
    throw e;
  }
}

async function writeIfChanged(path: string, content: string | null): Promise<void> {
  if (content === null) {
    await removeFile(path);
    return;
  }
  const old = await readFile(path, 'utf8').catch(() => null);
  if (old !== content) await atomicWrite(path, content);
}

/**
 * Writes /etc/sysctl.d/60-vrf-host.conf and rt_tables.d/vrf-host.conf for this
 * desired state and ledger. Only keys this kernel has go into sysctl.d (with
 * ipv6.disable=1 there is no net.ipv6; systemd-sysctl would fail on them).
 */
export async function persistHostFiles(root: string | undefined, desired: DesiredState | null, ledger: Ledger, present: Sysctls = {}): Promise<void> {
  const values = desired ? Object.fromEntries(Object.entries(desiredSysctls(desired)).filter(([k]) => present[k] !== null)) : {};
  await writeIfChanged(under(root, PATHS.sysctlConf), renderSysctlConf(values));
  await writeIfChanged(under(root, PATHS.rtTables), renderRtTables(ledger.vrfs));
}

export async function converge(o: ConvergeOptions): Promise<ConvergeReport> {
  const dryRun = o.dryRun ?? false;
  const run = async (): Promise<ConvergeReport> => {
    const deps = depsOf(o);
    const { state: loaded, problem: stateProblem } = await loadState(o.root);
    if (stateProblem) return blocked([stateProblem], [], dryRun, []);
    const state = loaded ?? emptyState();
    const unit = o.unit ?? null;
    const units = unit !== null && !state.units.includes(unit) ? [...state.units, unit] : [...state.units];

    let given: DesiredState | null = o.desired ?? null;
    if (!o.inputs && !given) {
      if (state.desired === null) {
        return blocked([{ field: 'state', message: `nothing to replay: ${under(o.root, PATHS.state)} holds no desired state` }], [], dryRun, state.units);
      }
      given = state.desired;
    }

    // A plan-only run has no side effects, loading a kernel module included.
    const pre = await preflight({ ...o, loadModules: !dryRun });
    const warnings: Warning[] = [...pre.warnings];
    if (state.applying) {
      warnings.push({ field: 'state', message: `the previous apply was interrupted (${state.updated}); converging from wherever the host is` });
    }
    if (pre.problems.length > 0) return blocked(pre.problems, warnings, dryRun, state.units);

    const controllers = o.inputs?.controllers ?? o.controllers ?? [];
    let observed: ObservedHost;
    try {
      observed = await observeHost({ ...o, controllers });
    } catch (e) {
      const old = e instanceof ProcessError ? await diagnoseIproute2(o) : null;
      if (old) return blocked([old], warnings, dryRun, state.units);
      throw e;
    }

    let desired: DesiredState;
    if (o.inputs) {
      const d = deps.deriveDesired(o.inputs, observed, state.ledger);
      warnings.push(...d.warnings);
      if (!d.ok) return blocked([...d.problems], warnings, dryRun, state.units);
      desired = d.desired;
    } else {
      desired = given!;
    }
    if (unit !== null) {
      const c = conflictProblem(state, unit, desired);
      if (c) return blocked([c], warnings, dryRun, state.units, desired);
    }

    const p = deps.plan(desired, observed, state.ledger);
    const steps = planned(p.steps, deps.renderer);
    const drift = driftOf(p.steps, desired, state.ledger);
    const base = { dryRun, problems: [] as Problem[], warnings, desired, inMain: desired.inMain, planned: steps, drift };
    if (dryRun) return { ...base, ok: true, applied: [], failure: null, units: state.units };

    if (p.steps.length === 0) {
      const next = { application: state.application ?? (unit ? appOfUnit(unit) : null), units, desired, ledger: p.ledger, applying: false };
      // update-status converges every few minutes: only rewrite state.json when something changed.
      if (loaded === null || JSON.stringify({ ...state, updated: '', version: 0 }) !== JSON.stringify({ ...state, ...next, updated: '', version: 0 })) {
        await writeState(o.root, next);
      }
      await persistHostFiles(o.root, desired, p.ledger, observed.sysctls);
      if (o.boot) await installBoot({ ...o.boot, root: o.root });
      return { ...base, ok: true, applied: [], failure: null, units };
    }

    if (o.beforeApply) await o.beforeApply(steps);
    // Write-ahead: remember everything either ledger owns before touching the host.
    const application = state.application ?? (unit ? appOfUnit(unit) : null);
    const ahead = unionLedger(state.ledger, p.ledger);
    await writeState(o.root, { application, units, desired, ledger: ahead, applying: true });
    const r = await applySteps(p.steps, { ...o, renderer: deps.renderer });
    if (!r.ok) {
      await writeState(o.root, { application, units, desired, ledger: ahead, applying: false });
      return { ...base, ok: false, applied: r.applied, failure: r.failure, units };
    }
    await writeState(o.root, { application, units, desired, ledger: p.ledger, applying: false });
    await persistHostFiles(o.root, desired, p.ledger, observed.sysctls);
    if (o.boot) await installBoot({ ...o.boot, root: o.root });
    return { ...base, ok: true, applied: r.applied, failure: null, units };
  };
  // A dry run only reads (state.json is replaced atomically), so it does not wait for the lock.
  return dryRun ? run() : withLock(o, run);
}

// ---------------------------------------------------------------------------
// Teardown
// ---------------------------------------------------------------------------

export interface TeardownOptions extends EngineOptions {
  /** The unit leaving. Only the last unit tears down. */
  readonly unit?: string | null;
  /** Without a unit: tear down even though units are registered (the CLI's --force). */
  readonly force?: boolean;
  readonly dryRun?: boolean;
}

export interface TeardownReport {
  readonly ok: boolean;
  /** True when the host was (or, in a dry run, would be) torn down. */
  readonly tornDown: boolean;
  /** Units still on the machine (nothing was torn down when non-empty). */
  readonly remainingUnits: readonly string[];
  readonly problems: readonly Problem[];
  readonly planned: readonly PlannedStep[];
  readonly applied: readonly PlannedStep[];
  readonly failure: ApplyFailure | null;
}

export async function teardown(o: TeardownOptions = {}): Promise<TeardownReport> {
  const dryRun = o.dryRun ?? false;
  const run = async (): Promise<TeardownReport> => {
    const deps = depsOf(o);
    const none = { planned: [], applied: [], failure: null };
    const { state, problem } = await loadState(o.root);
    if (problem) return { ok: false, tornDown: false, remainingUnits: [], problems: [problem], ...none };
    const unit = o.unit ?? null;
    if (state !== null && unit === null && !o.force && state.units.length > 0) {
      return {
        ok: false,
        tornDown: false,
        remainingUnits: state.units,
        problems: [{ field: 'units', message: `${state.units.join(', ')} still use this machine's VRFs: remove them through Juju, or name the leaving unit, or force the teardown` }],
        ...none,
      };
    }
    if (state !== null && unit !== null) {
      // A unit that never registered (e.g. refused as a second application) applied nothing: it takes nothing away.
      if (!state.units.includes(unit)) return { ok: true, tornDown: false, remainingUnits: state.units, problems: [], ...none };
      const remaining = state.units.filter((u) => u !== unit);
      if (remaining.length > 0) {
        if (!dryRun && remaining.length !== state.units.length) {
          // When the owning application's last unit leaves, the remaining units' application owns the machine.
          const owner = state.application !== null && remaining.some((u) => appOfUnit(u) === state.application) ? state.application : appOfUnit(remaining[0]!);
          await writeState(o.root, { ...state, application: owner, units: remaining });
        }
        return { ok: true, tornDown: false, remainingUnits: remaining, problems: [], ...none };
      }
    }
    if (state === null) {
      // Nothing remembered: only our own files can be left (an interrupted teardown removes state.json last).
      if (!dryRun) await removeAllFiles(o.root);
      return { ok: true, tornDown: true, remainingUnits: [], problems: [], ...none };
    }
    const observed = await observeHost({ ...o, controllers: [] });
    const p = deps.planTeardown(observed, state.ledger);
    const steps = planned(p.steps, deps.renderer);
    if (dryRun) return { ok: true, tornDown: true, remainingUnits: [], problems: [], planned: steps, applied: [], failure: null };
    await writeState(o.root, { ...state, applying: true });
    const r = await applySteps(p.steps, { ...o, renderer: deps.renderer });
    if (!r.ok) {
      // Keep the ledger: the next teardown resumes from wherever the host is.
      await writeState(o.root, { ...state, applying: false });
      return { ok: false, tornDown: false, remainingUnits: [], problems: [], planned: steps, applied: r.applied, failure: r.failure };
    }
    await removeAllFiles(o.root);
    return { ok: true, tornDown: true, remainingUnits: [], problems: [], planned: steps, applied: r.applied, failure: null };
  };
  return dryRun ? run() : withLock(o, run);
}

async function removeAllFiles(root: string | undefined): Promise<void> {
  await removeBoot({ root });
  await removeFile(under(root, PATHS.sysctlConf));
  await removeFile(under(root, PATHS.rtTables));
  await removeState(root); // last: an interrupted teardown still finds the ledger
  await rmdir(under(root, PATHS.stateDir)).catch(() => undefined); // only when empty
}

// ---------------------------------------------------------------------------
// Show
// ---------------------------------------------------------------------------

export interface MemberShow {
  readonly dev: string;
  readonly present: boolean;
  readonly up: boolean;
  /** The VRF it is enslaved to now (null: none). */
  readonly master: string | null;
  readonly addresses: readonly string[];
}

export interface DefaultRouteShow {
  /** From the desired state. */
  readonly gateway: string | null;
  readonly source: DerivedGateway['source'] | null;
  readonly detail: string | null;
  /** The default route found in the VRF's table now (the lowest metric, ignoring the strict catch-all). */
  readonly installed: { readonly gateway: string | null; readonly dev: string | null; readonly metric: number | null } | null;
}

export interface VrfShow {
  readonly name: string;
  readonly binding: string;
  readonly table: number;
  /** The VRF device exists with that table. */
  readonly present: boolean;
  readonly members: readonly MemberShow[];
  readonly defaultRoutes: Readonly<Partial<Record<Family, DefaultRouteShow>>>;
  readonly rules: readonly Rule[];
  readonly inSync: boolean;
  /** Pending commands for this VRF. */
  readonly pending: readonly string[];
  /** The VRF's table (with `routes: true`). */
  readonly routes?: readonly Route[];
}

export interface ShowReport {
  readonly application: string | null;
  readonly units: readonly string[];
  readonly vrfs: readonly VrfShow[];
  readonly inMain: readonly InMainBinding[];
  readonly inSync: boolean;
  readonly drift: DriftSummary;
  /** Pending commands that concern no single VRF. */
  readonly hostPending: readonly string[];
  /** VRFs vrf-host created that are no longer desired (the next apply deletes them): name → table. */
  readonly leftover: Readonly<Record<string, number>>;
  readonly problems: readonly Problem[];
  readonly warnings: readonly Warning[];
  /** A human table. */
  readonly summary: string;
}

export interface ShowOptions extends EngineOptions {
  /** Compare against these inputs instead of the last applied desired state. */
  readonly inputs?: EngineInputs;
  readonly desired?: DesiredState;
  readonly routes?: boolean;
}

const STRICT_METRIC_FLOOR = 4278198272;

export async function show(o: ShowOptions = {}): Promise<ShowReport> {
  const deps = depsOf(o);
  const { state: loaded, problem } = await loadState(o.root);
  const state = loaded ?? emptyState();
  const problems: Problem[] = problem ? [problem] : [];
  const warnings: Warning[] = [];
  const controllers = o.inputs?.controllers ?? [];
  const observed = await observeHost({ ...o, controllers });
  let desired: DesiredState | null = o.desired ?? state.desired;
  if (o.inputs) {
    const d = deps.deriveDesired(o.inputs, observed, state.ledger);
    warnings.push(...d.warnings);
    if (d.ok) desired = d.desired;
    else problems.push(...d.problems);
  }
  const steps = desired ? deps.plan(desired, observed, state.ledger).steps : [];
  const drift = driftOf(steps, desired, state.ledger);
  const pend = planned(steps, deps.renderer);
  const vrfList = desired?.vrfs ?? [];
  const vrfs: VrfShow[] = vrfList.map((v) => {
    const link = observed.links.find((l) => l.name === v.name);
    const mine = pend.filter((p) => stepVrf(p.step, vrfList) === v.name).map((p) => p.command);
    const members: MemberShow[] = v.members.map((dev) => {
      const l = observed.links.find((x) => x.name === dev);
      return {
        dev,
        present: l !== undefined,
        up: l?.up ?? false,
        master: l?.master ?? null,
        addresses: observed.addrs.filter((a) => a.dev === dev && a.scope === 'global').map((a) => `${a.address}/${a.prefixlen}`),
      };
    });
    const defaultRoutes: Partial<Record<Family, DefaultRouteShow>> = {};
    for (const fam of ['inet', 'inet6'] as const) {
      const g = v.gateways[fam];
      const dflt = fam === 'inet' ? '0.0.0.0/0' : '::/0';
      const inst = observed.routes
        .filter((r) => r.family === fam && r.table === v.table && r.dst === dflt && r.type === 'unicast' && (r.metric ?? 0) < STRICT_METRIC_FLOOR)
        .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
      if (!g && !inst) continue;
      defaultRoutes[fam] = {
        gateway: g?.address ?? null,
        source: g?.source ?? null,
        detail: g?.detail ?? null,
        installed: inst ? { gateway: inst.gateway, dev: inst.dev, metric: inst.metric } : null,
      };
    }
    const addrs = new Set(v.addresses.map((a) => a.address));
    const rules = observed.rules.filter((r) => r.table === v.table || (r.src !== null && addrs.has(r.src.replace(/\/\d+$/, ''))));
    return {
      name: v.name,
      binding: v.binding,
      table: v.table,
      present: link !== undefined && link.kind === 'vrf' && link.vrfTable === v.table,
      members,
      defaultRoutes,
      rules,
      inSync: mine.length === 0,
      pending: mine,
      ...(o.routes ? { routes: observed.routes.filter((r) => r.table === v.table) } : {}),
    };
  });
  const hostPending = pend.filter((p) => stepVrf(p.step, vrfList) === null).map((p) => p.command);
  const leftover = Object.fromEntries(Object.entries(state.ledger.vrfs).filter(([n]) => !vrfList.some((v) => v.name === n)));
  const report = {
    leftover,
    application: state.application,
    units: state.units,
    vrfs,
    inMain: desired?.inMain ?? [],
    inSync: drift.inSync,
    drift,
    hostPending,
    problems,
    warnings,
  };
  return { ...report, summary: formatShow(report) };
}

/** A human table of a show report. */
export function formatShow(r: Omit<ShowReport, 'summary'>): string {
  const rows: string[][] = [['VRF', 'TABLE', 'MEMBERS', 'IPV4 GATEWAY', 'IPV6 GATEWAY', 'STATE']];
  const gw = (d: DefaultRouteShow | undefined) => (d?.gateway ? `${d.gateway} (${d.source})` : d?.installed?.gateway ? `${d.installed.gateway} (installed)` : '-');
  for (const v of r.vrfs) {
    rows.push([
      v.name,
      String(v.table),
      v.members.map((m) => `${m.dev}${m.addresses.length ? ` ${m.addresses.join(',')}` : ''}`).join('; ') || '-',
      gw(v.defaultRoutes.inet),
      gw(v.defaultRoutes.inet6),
      v.inSync ? 'in sync' : `drift (${v.pending.length} pending)`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  if (r.vrfs.length === 0) lines.push('(no VRFs)');
  for (const m of r.inMain) lines.push(`${m.binding} in main (${m.reason}): ${m.interfaces.join(', ') || '-'}`);
  for (const [n, t] of Object.entries(r.leftover)) lines.push(`${n} (table ${t}) is no longer desired: the next apply deletes it`);
  if (r.hostPending.length > 0) lines.push(`host: ${r.hostPending.length} pending change(s)`);
  for (const p of r.problems) lines.push(`problem: ${p.field}: ${p.message}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Gateway checks
// ---------------------------------------------------------------------------

export interface ProbeResult {
  readonly vrf: string;
  readonly family: Family;
  readonly target: string;
  readonly kind: 'gateway' | 'target';
  readonly reachable: boolean;
  readonly transmitted: number | null;
  readonly received: number | null;
  readonly lossPercent: number | null;
  readonly rttMs: { readonly min: number; readonly avg: number; readonly max: number } | null;
  /** Set when ping could not run or said nothing parseable (the probe still "succeeds"). */
  readonly error: string | null;
}

/** Parses ping's summary lines (iputils and busybox). */
export function parsePing(stdout: string): Pick<ProbeResult, 'transmitted' | 'received' | 'lossPercent' | 'rttMs'> | null {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+\d+ (?:errors|duplicates))*, ([\d.]+)% packet loss/.exec(stdout);
  if (!m) return null;
  const rtt = /(?:rtt|round-trip) min\/avg\/max(?:\/(?:mdev|stddev))? = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(stdout);
  return {
    transmitted: Number(m[1]),
    received: Number(m[2]),
    lossPercent: Number(m[3]),
    rttMs: rtt ? { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) } : null,
  };
}

export interface CheckGatewaysOptions extends EngineOptions {
  /** Default: the last applied desired state. */
  readonly desired?: DesiredState;
  /** Only this VRF (and where `target` is probed). */
  readonly vrf?: string;
  /** A further address to probe from `vrf`. */
  readonly target?: string;
  readonly count?: number;
}

export async function checkGateways(o: CheckGatewaysOptions = {}): Promise<ProbeResult[]> {
  let desired = o.desired ?? null;
  if (desired === null) {
    const { state, problem } = await loadState(o.root);
    if (problem) throw new EngineError(problem.message);
    desired = state?.desired ?? null;
  }
  const vrfs = desired?.vrfs ?? [];
  if (o.vrf !== undefined && !vrfs.some((v) => v.name === o.vrf)) {
    throw new EngineError(`vrf: ${JSON.stringify(o.vrf)} is not one of vrf-host's VRFs (${vrfs.map((v) => v.name).join(', ') || 'none'})`);
  }
  if (o.target !== undefined && o.vrf === undefined) throw new EngineError('target: needs vrf (the VRF to probe from)');
  const targets: { vrf: string; family: Family; target: string; kind: ProbeResult['kind'] }[] = [];
  for (const v of vrfs) {
    if (o.vrf !== undefined && v.name !== o.vrf) continue;
    for (const fam of ['inet', 'inet6'] as const) {
      const g = v.gateways[fam];
      if (g) targets.push({ vrf: v.name, family: fam, target: g.address, kind: 'gateway' });
    }
  }
  if (o.target !== undefined) {
    const ip = parseIp(o.target);
    if (ip === null) throw new EngineError(`target: ${JSON.stringify(o.target)} is not an IP address`);
    targets.push({ vrf: o.vrf!, family: ip.kind() === 'ipv4' ? 'inet' : 'inet6', target: ip.toString(), kind: 'target' });
  }
  const count = String(o.count ?? 3);
  const results: ProbeResult[] = [];
  for (const t of targets) {
    if (!validVrfName(t.vrf) || parseIp(t.target) === null) {
      results.push({ ...t, reachable: false, transmitted: null, received: null, lossPercent: null, rttMs: null, error: 'invalid VRF name or address' });
      continue;
    }
    const pingArgs = [...(t.family === 'inet6' ? ['-6'] : []), '-c', count, '-W', '1', t.target];
    const timeoutMs = (Number(count) + 5) * 1000;
    const r = await ipVrfExec(t.vrf, ['ping', ...pingArgs], { ...o, timeoutMs });
    let parsed = parsePing(r.stdout);
    let error = r.stderr.trim() || `ip vrf exec: exited ${r.exitCode}`;
    if (parsed === null) {
      // `ip vrf exec` needs cgroup2 and BPF, which containers often refuse: bind ping to the VRF device instead.
      const r2 = await runPing(['-I', t.vrf, ...pingArgs], { ...o, timeoutMs });
      parsed = parsePing(r2.stdout);
      error = `${error}; ping -I ${t.vrf}: ${r2.stderr.trim() || `exited ${r2.exitCode}`}`;
    }
    if (parsed === null) {
      results.push({ ...t, reachable: false, transmitted: null, received: null, lossPercent: null, rttMs: null, error });
    } else {
      results.push({ ...t, ...parsed, reachable: (parsed.received ?? 0) > 0, error: null });
    }
  }
  return results;
}
