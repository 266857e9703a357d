/** Converge: derive, plan, apply under the host lock, persist, install the boot unit. */
import type { ApplyFailure } from '../apply.js';
import { type BootInstallOptions, installBoot } from '../boot.js';
import { ProcessError } from '../ip.js';
import { withLock } from '../lock.js';
import {
  emptyState,
  type HostState,
  PATHS,
  readState,
  renderRtTables,
  StateFileError,
  under,
  withServices,
  writeIfChanged,
  writeState,
} from '../persist.js';
import { desiredSysctls, renderSysctlConf } from '../sysctl.js';
import {
  type DesiredState,
  EMPTY_LEDGER,
  type EngineInputs,
  type HeldSpace,
  type InMainBinding,
  type Ledger,
  type ObservedHost,
  type PlacedService,
  type Problem,
  type ServiceEntry,
  type Sysctls,
  type Warning,
} from '../types.js';
import { buildable, followedMessage, type LeftOut } from '../replay.js';
import {
  bindingDevices,
  forwardingFindings,
  forwardingProblem,
  forwardingWarning,
  readForwarding,
} from '../forwarding.js';
import { settle, type RoundPlan, type SettleOptions } from './settle.js';
import { planWithNetworkd } from './networkd.js';
import { NetworkdRenderError } from '../networkd/render.js';
import { depsOf, diagnoseIproute2, observeHost, preflight } from './host.js';
import { APPLY_ROUNDS } from './settle.js';
import {
  NO_SERVICES,
  prepareServices,
  type PreparedServices,
  runServices,
  type ServicesReport,
  type ServicesRun,
} from './services.js';
import { resolveServices } from '../services/config.js';
import { plannedServices } from '../services/apply.js';
import { type ServicesReadOptions, UnitFileReadError } from '../services/read.js';
import { SystemctlError, UnitNameError } from '../systemctl.js';
import {
  appOfUnit,
  conflictProblem,
  driftOf,
  type DriftSummary,
  planned,
  type PlannedStep,
  type Unsettled,
} from './report.js';

// ---------------------------------------------------------------------------
// Converge
// ---------------------------------------------------------------------------

export interface ConvergeOptions extends SettleOptions {
  /** Derive the desired state from these inputs… */
  readonly inputs?: EngineInputs;
  /** …or apply this desired state as is; neither given: replay the last desired state from state.json (the boot unit). */
  readonly desired?: DesiredState;
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
  /**
   * The steps the plan holds, in order, with their human commands; after an apply, every round's
   * (a re-observe that found the host changed meanwhile appends the next round's plan).
   */
  readonly planned: readonly PlannedStep[];
  /** The steps that ran (all of `planned` on success; a prefix of it on failure). */
  readonly applied: readonly PlannedStep[];
  readonly failure: ApplyFailure | null;
  /**
   * Not null when the host still differed from the desired state after the last apply round
   * (something else kept changing it): the steps a further round would have run. ok is false.
   */
  readonly unsettled: Unsettled | null;
  /**
   * A replay (no inputs) builds what the host can hold now: the members it had to leave out
   * (src/vrf/replay.ts says why). Not empty: ok is false. Always empty with inputs.
   */
  readonly leftOut: readonly LeftOut[];
  /** Drift before this run: what was pending. */
  readonly drift: DriftSummary;
  readonly units: readonly string[];
  /** The services placed in the VRFs (src/vrf/services): planned, applied, the step that failed. */
  readonly services: ServicesReport;
}

export function blocked(
  problems: Problem[],
  warnings: Warning[],
  dryRun: boolean,
  units: readonly string[],
  desired: DesiredState | null = null,
): ConvergeReport {
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
    unsettled: null,
    leftOut: [],
    drift: driftOf([], null, EMPTY_LEDGER),
    units,
    services: NO_SERVICES,
  };
}

export async function loadState(
  root: string | undefined,
): Promise<{ state: HostState | null; problem: Problem | null }> {
  try {
    return { state: await readState(root), problem: null };
  } catch (e) {
    if (e instanceof StateFileError) return { state: null, problem: { field: 'state', message: e.message } };
    throw e;
  }
}

/**
 * Writes /etc/sysctl.d/60-vrf-host.conf and rt_tables.d/vrf-host.conf for this
 * desired state and ledger. Only keys this kernel has go into sysctl.d (with
 * ipv6.disable=1 there is no net.ipv6; systemd-sysctl would fail on them).
 */
export async function persistHostFiles(
  root: string | undefined,
  desired: DesiredState | null,
  ledger: Ledger,
  present: Sysctls = {},
): Promise<void> {
  const values = desired
    ? Object.fromEntries(Object.entries(desiredSysctls(desired)).filter(([k]) => present[k] !== null))
    : {};
  await writeIfChanged(under(root, PATHS.sysctlConf), renderSysctlConf(values));
  await writeIfChanged(under(root, PATHS.rtTables), renderRtTables(ledger.vrfs));
}

/** How often a converge where networkd runs starts over after a deletion found its object gone. */
const MAX_ATTEMPTS = 3;

/** A route or rule deletion failed because the object is already gone (ENOENT / ESRCH from the kernel). */
function vanishedUnderDelete(f: ApplyFailure): boolean {
  return (
    (f.step.kind === 'rule-del' || f.step.kind === 'route-del') &&
    /No such file or directory|No such process/.test(f.error)
  );
}

export async function converge(o: ConvergeOptions): Promise<ConvergeReport> {
  const dryRun = o.dryRun ?? false;
  const run = async (attempt = 1): Promise<ConvergeReport> => {
    const deps = depsOf(o);
    const { state: loaded, problem: stateProblem } = await loadState(o.root);
    if (stateProblem) return blocked([stateProblem], [], dryRun, []);
    const state = loaded ?? emptyState();
    const unit = o.unit ?? null;
    const units = unit !== null && !state.units.includes(unit) ? [...state.units, unit] : [...state.units];

    let given: DesiredState | null = o.desired ?? null;
    if (!o.inputs && !given) {
      if (state.desired === null) {
        return blocked(
          [{ field: 'state', message: `nothing to replay: ${under(o.root, PATHS.state)} holds no desired state` }],
          [],
          dryRun,
          state.units,
        );
      }
      given = state.desired;
    }

    // A plan-only run has no side effects, loading a kernel module included.
    const pre = await preflight({ ...o, loadModules: !dryRun });
    const warnings: Warning[] = [...pre.warnings];
    if (state.applying) {
      warnings.push({
        field: 'state',
        message: `the previous apply was interrupted (${state.updated}); converging from wherever the host is`,
      });
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
    /** The spaces held back (no gateway yet): a services entry naming one is told so. */
    let held: readonly HeldSpace[] = [];
    // What this run builds: the desired state, or (a replay) the part of it the host can hold now.
    let target: DesiredState;
    let leftOut: readonly LeftOut[] = [];
    if (o.inputs) {
      const d = deps.deriveDesired(o.inputs, observed, state.ledger, state.desired);
      warnings.push(...d.warnings);
      if (!d.ok) return blocked([...d.problems], warnings, dryRun, state.units);
      desired = target = d.desired;
      held = d.held;
      // New input only: a replay (boot, networkd-dispatcher) keeps building what was accepted.
      const fwd =
        desired.vrfs.length > 0
          ? forwardingFindings(observed, await readForwarding(o.procRoot), bindingDevices(desired, o.inputs.bindings))
          : [];
      if (fwd.length > 0) {
        if (!o.inputs.config.allowForwarding)
          return blocked([forwardingProblem(fwd)], warnings, dryRun, state.units, desired);
        warnings.push(forwardingWarning(fwd));
      }
    } else {
      desired = given!;
      const b = buildable(desired, observed);
      ({ desired: target, leftOut } = b);
      if (b.followed.length > 0) warnings.push({ field: 'replay', message: followedMessage(b.followed) });
    }
    if (unit !== null) {
      const c = conflictProblem(state, unit, desired);
      if (c) return blocked([c], warnings, dryRun, state.units, desired);
    }

    // networkd is handed the same routes and rules (src/vrf/networkd): the plan adds them as
    // networkd does, and the files follow the ip steps in the same plan.
    const replan = async (host: ObservedHost, ledger: Ledger): Promise<RoundPlan> => {
      const full = await planWithNetworkd(o.root, deps.plan, target, host, ledger);
      return { steps: full.steps, ledger: full.ledger, networkdRunning: full.networkd.running };
    };
    let p: RoundPlan;
    try {
      const full = await planWithNetworkd(o.root, deps.plan, target, observed, state.ledger);
      warnings.push(...full.networkd.warnings);
      p = { steps: full.steps, ledger: full.ledger, networkdRunning: full.networkd.running };
    } catch (e) {
      if (!(e instanceof NetworkdRenderError)) throw e;
      return blocked([{ field: 'networkd', message: e.message }], warnings, dryRun, state.units, desired);
    }

    // The services in the VRFs: every entry checked, every unit read, before anything is applied.
    const vrfNames = target.vrfs.map((v) => v.name);
    const sv = await servicesBeforeApply(
      o,
      o.inputs?.config.services ?? null,
      state.ledger,
      target,
      held,
      observed,
      vrfNames,
    );
    warnings.push(...sv.warnings);
    if (sv.problems.length > 0) return blocked([...sv.problems], warnings, dryRun, state.units, desired);
    const prepared = sv.prepared;
    const servicesPlanned: ServicesReport = { ...NO_SERVICES, planned: plannedServices(prepared?.steps ?? []) };

    const steps = planned(p.steps, deps.renderer);
    const drift = driftOf(p.steps, desired, state.ledger);
    const base = {
      dryRun,
      problems: [] as Problem[],
      warnings,
      desired,
      inMain: desired.inMain,
      planned: steps,
      drift,
      leftOut,
      services: servicesPlanned,
    };
    const built = leftOut.length === 0;
    if (dryRun) return { ...base, ok: built, applied: [], failure: null, unsettled: null, units: state.units };

    if (p.steps.length === 0) {
      const application = state.application ?? (unit ? appOfUnit(unit) : null);
      const sr = prepared
        ? await runServices(
            o,
            prepared,
            observed,
            vrfNames,
            persistServices(o.root, { application, units, desired }, p.ledger),
          )
        : null;
      warnings.push(...(sr?.problems ?? []));
      const next = {
        application,
        units,
        desired,
        ledger: sr ? withServices(p.ledger, sr.records) : p.ledger,
        applying: false,
      };
      // update-status converges every few minutes: only rewrite state.json when something changed.
      if (
        loaded === null ||
        JSON.stringify({ ...state, updated: '', version: 0 }) !==
          JSON.stringify({ ...state, ...next, updated: '', version: 0 })
      ) {
        await writeState(o.root, next);
      }
      await persistHostFiles(o.root, desired, p.ledger, observed.sysctls);
      if (o.boot) await installBoot({ ...o.boot, root: o.root });
      const services = sr?.report ?? servicesPlanned;
      const servicesOk = services.failure === null && (sr?.problems.length ?? 0) === 0;
      return { ...base, ok: built && servicesOk, applied: [], failure: null, unsettled: null, units, services };
    }

    if (o.beforeApply) await o.beforeApply(steps);
    const application = state.application ?? (unit ? appOfUnit(unit) : null);
    const owner = { application, units, desired };
    const r = await settle({ ...o, controllers }, deps, owner, replan, state.ledger, { observed, plan: p, steps });
    warnings.push(...r.warnings);
    if (r.failure !== null) {
      // networkd drops the rules and routes it held for a VRF link that goes away, racing the
      // ip path's own deletions of them (seen on 252 when explicit mode replaced every VRF):
      // what vanished under a delete is no failure; observe again and converge from there.
      if (p.networkdRunning && attempt < MAX_ATTEMPTS && vanishedUnderDelete(r.failure)) return run(attempt + 1);
      return { ...base, ok: false, planned: r.planned, applied: r.applied, failure: r.failure, unsettled: null, units };
    }
    // After the ip apply: each VRF has the ifindex its units must be started with.
    let ledger = r.ledger;
    let sr: ServicesRun | null = null;
    if (prepared) {
      const after = (o.rounds ?? APPLY_ROUNDS) === 0 ? await observeHost({ ...o, controllers }) : r.observed;
      sr = await runServices(o, prepared, after, vrfNames, persistServices(o.root, owner, r.ledger));
      warnings.push(...sr.problems);
      ledger = withServices(r.ledger, sr.records);
    }
    await persistHostFiles(o.root, desired, ledger, r.observed.sysctls);
    if (o.boot) await installBoot({ ...o.boot, root: o.root });
    const services = sr?.report ?? servicesPlanned;
    return {
      ...base,
      ok: built && r.unsettled === null && services.failure === null && (sr?.problems.length ?? 0) === 0,
      planned: r.planned,
      applied: r.applied,
      failure: r.failure,
      unsettled: r.unsettled,
      units,
      services,
    };
  };
  // A dry run only reads (state.json is replaced atomically), so it does not wait for the lock.
  return dryRun ? run() : withLock(o, () => run());
}

/** Writes the state with these service records over `ledger` (the services run's persist). */
function persistServices(
  root: string | undefined,
  owner: Pick<HostState, 'application' | 'units' | 'desired'>,
  ledger: Ledger,
): (records: readonly PlacedService[], applying: boolean) => Promise<void> {
  return async (records, applying) => {
    await writeState(root, { ...owner, ledger: withServices(ledger, records), applying });
  };
}

/**
 * The services part of a converge, before anything is applied. With new input, the option's
 * entries, each checked against the desired state; a problem blocks. A replay (boot, networkd's
 * hook) keeps the units it placed where they are: their records are its entries, and a problem
 * is only a warning (the VRFs are built all the same; the units stay as they are).
 */
async function servicesBeforeApply(
  o: ServicesReadOptions,
  /** The option's entries; null: a replay. */
  given: readonly ServiceEntry[] | null,
  ledger: Ledger,
  target: DesiredState,
  held: readonly HeldSpace[],
  observed: ObservedHost,
  vrfNames: readonly string[],
): Promise<{ prepared: PreparedServices | null; problems: readonly Problem[]; warnings: readonly Warning[] }> {
  const records = ledger.services ?? [];
  const withInputs = given !== null;
  const listed = given ?? records.map((r) => ({ unit: r.unit, vrf: r.vrf }));
  const fail = (problems: readonly Problem[], warnings: readonly Warning[] = []) =>
    withInputs
      ? { prepared: null, problems, warnings }
      : {
          prepared: null,
          problems: [],
          warnings: [
            ...warnings,
            ...problems.map((p) => ({ field: p.field, message: `${p.message} (left as it is)` })),
          ],
        };
  const resolved = resolveServices(listed, target, held);
  if (!resolved.ok) return fail(resolved.problems);
  try {
    const p = await prepareServices(o, resolved.entries, records, observed, vrfNames);
    return p.ok ? { prepared: p.prepared, problems: [], warnings: p.warnings } : fail(p.problems, p.warnings);
  } catch (e) {
    if (e instanceof SystemctlError || e instanceof UnitFileReadError || e instanceof UnitNameError)
      return fail([{ field: 'services', message: e.message }]);
    throw e;
  }
}
