/** Teardown: undo everything, but only when the last unit of the machine leaves. */
import { rmdir } from 'node:fs/promises';
import { type ApplyFailure, applySteps } from '../apply.js';
import { removeBoot } from '../boot.js';
import { withLock } from '../lock.js';
import {
  atomicWrite,
  type HostState,
  NOT_GUESSING,
  PATHS,
  removeFile,
  removeState,
  under,
  withServices,
  writeState,
} from '../persist.js';
import { readFile } from '../files.js';
import { completeFromKernel, salvageState } from '../salvage.js';
import type { PlacedService, Problem, Warning } from '../types.js';
import { UnitFileReadError } from '../services/read.js';
import { SystemctlError, UnitNameError } from '../systemctl.js';
import { NO_SERVICES, releaseServices, type ServicesReport } from './services.js';
import { depsOf, type EngineOptions, observeHost } from './host.js';
import { networkdRuns } from './managers.js';
import { networkdRemovals, reloadNetworkd } from './networkd.js';
import { appOfUnit, planned, type PlannedStep } from './report.js';
import { loadState } from './converge.js';

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
  /** E.g. `networkctl reload` failed after vrf-host's networkd files were removed. */
  readonly warnings?: readonly Warning[];
  /** The services vrf-host placed in the VRFs, released first (src/vrf/services). */
  readonly services: ServicesReport;
}

export async function teardown(o: TeardownOptions = {}): Promise<TeardownReport> {
  const dryRun = o.dryRun ?? false;
  const run = async (): Promise<TeardownReport> => {
    const deps = depsOf(o);
    const none = { planned: [], applied: [], failure: null, services: NO_SERVICES };
    /** Torn down, with nothing applied (yet): the base of the answers without a state to undo. */
    const gone = { ok: true, tornDown: true, remainingUnits: [], problems: [], ...none };
    /** An apply that stopped at a failed step: nothing more is removed, the next teardown resumes. */
    const failed = (
      steps: readonly PlannedStep[],
      r: { readonly applied: readonly PlannedStep[]; readonly failure: ApplyFailure | null },
      services: ServicesReport = NO_SERVICES,
    ): TeardownReport => ({
      services,
      ok: false,
      tornDown: false,
      remainingUnits: [],
      problems: [],
      planned: steps,
      applied: r.applied,
      failure: r.failure,
    });
    const unit = o.unit ?? null;
    const { state, problem, unread, text: unreadText } = await loadForTeardown(o.root, unit);
    if (problem) return { ok: false, tornDown: false, remainingUnits: [], problems: [problem], ...none };
    const told = unread.length > 0 ? { warnings: unread } : {};
    if (state !== null && unit === null && !o.force && state.units.length > 0) {
      return {
        ok: false,
        tornDown: false,
        remainingUnits: state.units,
        problems: [
          {
            field: 'units',
            message:
              `${state.units.join(', ')} still use this machine's VRFs:` +
              ` remove them through Juju, or name the leaving unit, or force the teardown`,
          },
        ],
        ...none,
      };
    }
    if (state !== null && unit !== null) {
      // A unit that never registered (e.g. refused as a second application) applied nothing: it takes nothing away.
      if (!state.units.includes(unit))
        return { ok: true, tornDown: false, remainingUnits: state.units, problems: [], ...none };
      const remaining = state.units.filter((u) => u !== unit);
      if (remaining.length > 0) {
        if (!dryRun && remaining.length !== state.units.length) {
          // When the owning application's last unit leaves, the remaining units' application owns the machine.
          const owner =
            state.application !== null && remaining.some((u) => appOfUnit(u) === state.application)
              ? state.application
              : appOfUnit(remaining[0]!);
          await writeState(o.root, { ...state, application: owner, units: remaining });
        }
        return { ok: true, tornDown: false, remainingUnits: remaining, problems: [], ...none };
      }
    }
    if (state === null) {
      // Nothing remembered: only our own files can be left (an interrupted teardown removes state.json last).
      const files = await networkdRemovals(o.root, null);
      if (dryRun) return { ...gone, planned: planned(files, deps.renderer) };
      const r = await applySteps(files, { ...o, renderer: deps.renderer });
      const reload = r.ok ? await reloadNetworkd(r.applied, await networkdRuns(o.root), o) : null;
      if (!r.ok) return failed(planned(files, deps.renderer), r);
      await removeAllFiles(o.root);
      return { ...gone, ...(reload ? { warnings: [reload] } : {}) };
    }
    const observed = await observeHost({ ...o, controllers: [] });
    const ledger =
      unread.length > 0
        ? completeFromKernel(
            state.ledger,
            observed,
            await readFile(under(o.root, PATHS.rtTables), 'utf8').catch(() => null),
          )
        : state.ledger;
    // The services first: back in the default VRF before their VRFs go (a VRF deleted under a
    // running service leaves its sockets bound to a device that is gone until it restarts).
    const persist = async (records: readonly PlacedService[], applying: boolean) => {
      await writeState(o.root, { ...state, ledger: withServices(ledger, records), applying });
    };
    let services: ServicesReport;
    try {
      services = await releaseServices(o, ledger.services ?? [], dryRun, persist);
    } catch (e) {
      if (!(e instanceof SystemctlError || e instanceof UnitFileReadError || e instanceof UnitNameError)) throw e;
      return {
        ok: false,
        tornDown: false,
        remainingUnits: [],
        problems: [{ field: 'services', message: `${e.message}: nothing torn down` }],
        ...none,
        ...told,
      };
    }
    if (services.failure !== null) return { ...failed([], { applied: [], failure: null }, services), ...told };
    const p = deps.planTeardown(observed, withServices(ledger, []));
    // The kernel first (the local lookup back at 0 before networkd forgets the moved one), then
    // vrf-host's networkd files and one reload: networkd gives back what it held for vrf-host.
    const all = [...p.steps, ...(await networkdRemovals(o.root, ledger))];
    const steps = planned(all, deps.renderer);
    if (dryRun) return { ...gone, planned: steps, services, ...told };
    // A salvaged state is written back as this version's: the next try reads it whole.
    const rest = withServices(ledger, []);
    await writeState(o.root, { ...state, ledger: rest, applying: true });
    const r = await applySteps(all, { ...o, renderer: deps.renderer });
    if (!r.ok) {
      // Keep the ledger: the next teardown resumes from wherever the host is.
      await writeState(o.root, { ...state, ledger: rest, applying: false });
      return { ...failed(steps, r, services), ...told };
    }
    const reload = await reloadNetworkd(r.applied, await networkdRuns(o.root), o);
    await removeAllFiles(o.root);
    // What could not be read stays for whoever undoes the rest by hand.
    if (unread.length > 0) await atomicWrite(under(o.root, PATHS.unreadState), unreadText, 0o600);
    return {
      ...gone,
      planned: steps,
      applied: r.applied,
      services,
      ...(reload || unread.length > 0 ? { warnings: [...unread, ...(reload ? [reload] : [])] } : {}),
    };
  };
  return dryRun ? run() : withLock(o, run);
}

/**
 * The state for a teardown: any version this vrf-host reads, or, when it reads none (a later
 * version's file, a damaged field), what can be salvaged of it, with each field it could not
 * read named (`unread`, reported as warnings). Only a file that cannot be read at all is a problem.
 */
async function loadForTeardown(
  root: string | undefined,
  unit: string | null,
): Promise<{ state: HostState | null; problem: Problem | null; unread: Warning[]; text: string }> {
  const { state, problem } = await loadState(root);
  if (problem === null) return { state, problem: null, unread: [], text: '' };
  const text = await readFile(under(root, PATHS.state), 'utf8').catch(() => null);
  if (text === null) return { state: null, problem, unread: [], text: '' };
  const s = salvageState(text);
  const unitsUnread = s.unread.some((w) => w.field === 'units');
  return {
    state: unitsUnread && unit !== null ? { ...s.state, units: [unit] } : s.state,
    problem: null,
    text,
    unread: [
      {
        field: 'state',
        message: `${problem.message.replace(`; ${NOT_GUESSING}`, '')}: torn down from what could be read`,
      },
      ...s.unread,
      { field: 'state', message: `its text is kept as /${PATHS.unreadState}` },
    ],
  };
}

export async function removeAllFiles(root: string | undefined): Promise<void> {
  await removeBoot({ root });
  await removeFile(under(root, PATHS.sysctlConf));
  await removeFile(under(root, PATHS.rtTables));
  await removeState(root); // last: an interrupted teardown still finds the ledger
  await rmdir(under(root, PATHS.stateDir)).catch(() => undefined); // only when empty
}
