/**
 * The services inside a VRF (src/vrf/services) in a converge and a teardown.
 *
 * Converge, in two parts around the ip apply:
 * - before it (`prepareServices`): one `systemctl show` for every listed and recorded unit, their
 *   files, the traps, the drop-ins rendered. Any problem blocks the whole converge, so nothing is
 *   applied, the ip part included. A dry run prints this plan.
 * - after it (`runServices`): the same reads planned again with each VRF's ifindex as the apply
 *   left it (a VRF created or recreated by this run has its final one), the records written
 *   ahead, the steps run, the records kept.
 * Teardown (`releaseServices`): every recorded drop-in removed, one daemon-reload, every recorded
 * unit that runs restarted back into the default VRF, before the ip teardown deletes the VRFs.
 *
 * With nothing listed and nothing recorded, none of this starts a process.
 */
import { unionServices } from '../persist.js';
import {
  applyServiceSteps,
  plannedServices,
  type PlannedServiceStep,
  type ServiceApplyFailure,
} from '../services/apply.js';
import { planServices, type ObservedService, type ServiceStep } from '../services/plan.js';
import { readServices, type ServicesReadOptions } from '../services/read.js';
import type { ObservedHost, PlacedService, Problem, ServiceEntry, Warning } from '../types.js';

/** What a converge or teardown planned and did for the services. */
export interface ServicesReport {
  readonly planned: readonly PlannedServiceStep[];
  readonly applied: readonly PlannedServiceStep[];
  readonly failure: ServiceApplyFailure | null;
}

export const NO_SERVICES: ServicesReport = { planned: [], applied: [], failure: null };

export interface PreparedServices {
  readonly entries: readonly ServiceEntry[];
  readonly records: readonly PlacedService[];
  readonly observed: ReadonlyMap<string, ObservedService>;
  /** The plan with the ifindexes before the apply (what a dry run prints). */
  readonly steps: readonly ServiceStep[];
}

export type Prepared =
  | { readonly ok: true; readonly prepared: PreparedServices | null; readonly warnings: readonly Warning[] }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly warnings: readonly Warning[] };

/**
 * Each VRF's ifindex on this host. `pending`: a VRF the apply is still to create counts as 0 (its
 * units restart: it will be new); otherwise it is left out, and the plan says it is not on the host.
 */
export function vrfIfindexes(host: ObservedHost, vrfs: readonly string[], pending: boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of vrfs) {
    const link = host.links.find((l) => l.name === name && l.kind === 'vrf');
    if (link) out.set(name, link.ifindex);
    else if (pending) out.set(name, 0);
  }
  return out;
}

export async function prepareServices(
  o: ServicesReadOptions,
  entries: readonly ServiceEntry[],
  records: readonly PlacedService[],
  host: ObservedHost,
  vrfs: readonly string[],
): Promise<Prepared> {
  if (entries.length === 0 && records.length === 0) return { ok: true, prepared: null, warnings: [] };
  const observed = await readServices([...entries.map((e) => e.unit), ...records.map((r) => r.unit)], o);
  const p = planServices({ entries, observed, records, vrfIfindex: vrfIfindexes(host, vrfs, true) });
  if (!p.ok) return p;
  return { ok: true, prepared: { entries, records, observed, steps: p.steps }, warnings: p.warnings };
}

export interface ServicesRun {
  readonly report: ServicesReport;
  /** The records to keep: the new ones, or (after a failure) both lists, as written ahead. */
  readonly records: readonly PlacedService[];
  readonly problems: readonly Problem[];
}

/**
 * The prepared services planned again against the host after the ip apply, then run. `persist`
 * writes the records into the state (`applying` true: written ahead of the steps).
 */
export async function runServices(
  o: ServicesReadOptions,
  s: PreparedServices,
  after: ObservedHost,
  vrfs: readonly string[],
  persist: (records: readonly PlacedService[], applying: boolean) => Promise<void>,
): Promise<ServicesRun> {
  const p = planServices({
    entries: s.entries,
    observed: s.observed,
    records: s.records,
    vrfIfindex: vrfIfindexes(after, vrfs, false),
  });
  if (!p.ok) return { report: NO_SERVICES, records: s.records, problems: p.problems };
  return { ...(await run(o, p.steps, s.records, p.records, persist)), problems: [] };
}

async function run(
  o: ServicesReadOptions,
  steps: readonly ServiceStep[],
  before: readonly PlacedService[],
  after: readonly PlacedService[],
  persist: (records: readonly PlacedService[], applying: boolean) => Promise<void>,
): Promise<Omit<ServicesRun, 'problems'>> {
  const planned = plannedServices(steps);
  if (steps.length === 0) return { report: { ...NO_SERVICES, planned }, records: after };
  // Write-ahead: a drop-in on disk is always in the ledger, whatever step a crash stops at.
  const ahead = unionServices(before, after);
  await persist(ahead, true);
  const r = await applyServiceSteps(steps, o);
  const records = r.failure === null ? after : ahead;
  await persist(records, false);
  return { report: { planned, applied: r.applied, failure: r.failure }, records };
}

/**
 * Teardown's part: every recorded unit released (its drop-in removed, with the directory vrf-host
 * created; one daemon-reload; a try-restart of each that runs). Planned only, in a dry run.
 */
export async function releaseServices(
  o: ServicesReadOptions,
  records: readonly PlacedService[],
  dryRun: boolean,
  persist: (records: readonly PlacedService[], applying: boolean) => Promise<void>,
): Promise<ServicesReport> {
  if (records.length === 0) return NO_SERVICES;
  const observed = await readServices(
    records.map((r) => r.unit),
    o,
  );
  const p = planServices({ entries: [], observed, records, vrfIfindex: new Map() });
  // With no entries there is nothing to refuse: a plan without entries is always one.
  const steps = p.ok ? p.steps : [];
  if (dryRun) return { ...NO_SERVICES, planned: plannedServices(steps) };
  return (await run(o, steps, records, [], persist)).report;
}
