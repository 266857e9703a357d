/** show-vrfs: the VRFs as the host has them, with drift. */
import { emptyState } from '../persist.js';
import {
  type DerivedGateway,
  type DesiredState,
  type EngineInputs,
  type Family,
  type InMainBinding,
  type Problem,
  type Route,
  type Rule,
  type Step,
  STRICT_METRIC,
  type Warning,
} from '../types.js';
import { depsOf, type EngineOptions, observeHost } from './host.js';
import { driftOf, type DriftSummary, planned, stepVrf } from './report.js';
import { loadState } from './converge.js';
import { linkManager, networkdDispatcherRuns } from './managers.js';
import { planWithNetworkd } from './networkd.js';
import { NetworkdRenderError } from '../networkd/render.js';
import type { LinkManager } from '../networkd/state.js';
import { hostFilter, hostFilterLines, type HostFilterShow } from './hostfilter.js';
import { forwardingProblem, forwardingWarning } from '../forwarding.js';
import { showServices, type ServiceShow } from '../services/show.js';
import { UnitFileReadError } from '../services/read.js';
import { SystemctlError, UnitNameError } from '../systemctl.js';

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
  /** Who configures the link: systemd-networkd (with its .network file), NetworkManager, ifupdown, or none. */
  readonly manager: LinkManager;
}

/** `systemd-networkd (configured, /run/systemd/network/10-netplan-ens4.network)`, `NetworkManager`, … */
export function managerText(m: LinkManager): string {
  return m.name === 'systemd-networkd' ? `${m.name} (${m.adminState}, ${m.networkFile ?? 'no .network file'})` : m.name;
}

export interface DefaultRouteShow {
  /** From the desired state. */
  readonly gateway: string | null;
  readonly source: DerivedGateway['source'] | null;
  readonly detail: string | null;
  /** The default route found in the VRF's table now (the lowest metric, ignoring the strict catch-all). */
  readonly installed: {
    readonly gateway: string | null;
    readonly dev: string | null;
    readonly metric: number | null;
  } | null;
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
  /** The systemd units vrf-host runs in this VRF (the services option), as the host has them. */
  readonly services: readonly ServiceShow[];
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
  /** Forwarding to local containers or pods, NAT rules, and packet-filter rules that name a member. */
  readonly hostFilter: HostFilterShow;
  /** A human table. */
  readonly summary: string;
}

export interface ShowOptions extends EngineOptions {
  /** Compare against these inputs instead of the last applied desired state. */
  readonly inputs?: EngineInputs;
  readonly desired?: DesiredState;
  readonly routes?: boolean;
  /** Also read the packet filter (iptables-save, ip6tables-save, nft): three more processes. */
  readonly netfilter?: boolean;
}

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
    const d = deps.deriveDesired(o.inputs, observed, state.ledger, state.desired);
    warnings.push(...d.warnings);
    if (d.ok) desired = d.desired;
    else problems.push(...d.problems);
  }
  let steps: readonly Step[] = [];
  if (desired) {
    try {
      const full = await planWithNetworkd(o.root, deps.plan, desired, observed, state.ledger);
      steps = full.steps;
      warnings.push(...full.networkd.warnings);
      if (full.networkd.running && !(await networkdDispatcherRuns(o.procRoot))) {
        warnings.push({
          field: 'networkd-dispatcher',
          message:
            'systemd-networkd runs without networkd-dispatcher: networkd keeps the VRFs it was given itself' +
            ', but a member without a drop-in waits for the next update-status after networkd reconfigures it',
        });
      }
    } catch (e) {
      if (!(e instanceof NetworkdRenderError)) throw e;
      problems.push({ field: 'networkd', message: e.message });
    }
  }
  const drift = driftOf(steps, desired, state.ledger);
  const pend = planned(steps, deps.renderer);
  const vrfList = desired?.vrfs ?? [];
  const managers = new Map<string, LinkManager>();
  for (const dev of vrfList.flatMap((v) => v.members)) {
    const l = observed.links.find((x) => x.name === dev);
    managers.set(dev, l ? await linkManager(o.root, l) : { name: 'none' });
  }
  let services: readonly ServiceShow[] = [];
  try {
    services = await showServices(state.ledger.services ?? [], observed, o);
  } catch (e) {
    if (!(e instanceof SystemctlError || e instanceof UnitFileReadError || e instanceof UnitNameError)) throw e;
    warnings.push({ field: 'services', message: `cannot read the placed units: ${e.message}` });
  }
  const vrfs: VrfShow[] = vrfList.map((v) => {
    const link = observed.links.find((l) => l.name === v.name);
    const mine = pend.filter((p) => stepVrf(p.step, vrfList) === v.name).map((p) => p.command);
    const members: MemberShow[] = v.members.map((dev) => {
      const l = observed.links.find((x) => x.name === dev);
      return {
        manager: managers.get(dev) ?? { name: 'none' },
        dev,
        present: l !== undefined,
        up: l?.up ?? false,
        master: l?.master ?? null,
        addresses: observed.addrs
          .filter((a) => a.dev === dev && a.scope === 'global')
          .map((a) => `${a.address}/${a.prefixlen}`),
      };
    });
    const defaultRoutes: Partial<Record<Family, DefaultRouteShow>> = {};
    for (const fam of ['inet', 'inet6'] as const) {
      const g = v.gateways[fam];
      const dflt = fam === 'inet' ? '0.0.0.0/0' : '::/0';
      const inst = observed.routes
        .filter(
          (r) =>
            r.family === fam &&
            r.table === v.table &&
            r.dst === dflt &&
            r.type === 'unicast' &&
            (r.metric ?? 0) < STRICT_METRIC,
        )
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
    const rules = observed.rules.filter(
      (r) => r.table === v.table || (r.src !== null && addrs.has(r.src.replace(/\/\d+$/, ''))),
    );
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
      services: services.filter((s) => s.vrf === v.name),
    };
  });
  const hostPending = pend.filter((p) => stepVrf(p.step, vrfList) === null).map((p) => p.command);
  const leftover = Object.fromEntries(
    Object.entries(state.ledger.vrfs).filter(([n]) => !vrfList.some((v) => v.name === n)),
  );
  const filter = await hostFilter(o, observed, desired, o.inputs?.bindings, o.netfilter ?? false);
  if (filter.forwarding.length > 0 && desired !== null && desired.vrfs.length > 0) {
    // As a converge with these inputs would decide (without inputs: the last accepted state was built).
    if (o.inputs && !o.inputs.config.allowForwarding) problems.push(forwardingProblem(filter.forwarding));
    else warnings.push(forwardingWarning(filter.forwarding));
  }
  const report = {
    hostFilter: filter,
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

/**
 * `chrony.service in storage: active, 2 of 2 processes in storage, ifindex 7`;
 * `… 1 of 2 processes in storage (4242 in the default VRF), ifindex 9 (started with 7: the next converge restarts it if it runs)`.
 */
export function serviceLine(s: ServiceShow): string {
  const outside = s.processes.filter((p) => p.vrf !== s.vrf).map((p) => `${p.pid} in ${p.vrf || 'the default VRF'}`);
  const procs =
    s.processes.length === 0
      ? 'no process'
      : `${s.processes.length - outside.length} of ${s.processes.length} processes in ${s.vrf}` +
        (outside.length > 0 ? ` (${outside.join(', ')})` : '');
  const idx =
    s.ifindex === null
      ? `the VRF is not on the host (started with ifindex ${s.recordedIfindex})`
      : s.ifindex === s.recordedIfindex
        ? `ifindex ${s.ifindex}`
        : `ifindex ${s.ifindex} (started with ${s.recordedIfindex}: the next converge restarts it if it runs)`;
  return `${s.unit} in ${s.vrf}: ${s.state}, ${procs}, ${idx}`;
}

/** A human table of a show report. */
export function formatShow(r: Omit<ShowReport, 'summary'>): string {
  const rows: string[][] = [['VRF', 'TABLE', 'MEMBERS', 'MANAGED BY', 'IPV4 GATEWAY', 'IPV6 GATEWAY', 'STATE']];
  const gw = (d: DefaultRouteShow | undefined) =>
    d?.gateway ? `${d.gateway} (${d.source})` : d?.installed?.gateway ? `${d.installed.gateway} (installed)` : '-';
  for (const v of r.vrfs) {
    rows.push([
      v.name,
      String(v.table),
      v.members.map((m) => `${m.dev}${m.addresses.length ? ` ${m.addresses.join(',')}` : ''}`).join('; ') || '-',
      [...new Set(v.members.map((m) => m.manager.name))].join(', ') || '-',
      gw(v.defaultRoutes.inet),
      gw(v.defaultRoutes.inet6),
      v.inSync ? 'in sync' : `drift (${v.pending.length} pending)`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) =>
    row
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  if (r.vrfs.length === 0) lines.push('(no VRFs)');
  for (const s of r.vrfs.flatMap((v) => v.services)) lines.push(serviceLine(s));
  for (const m of r.inMain) lines.push(`${m.binding} in main (${m.reason}): ${m.interfaces.join(', ') || '-'}`);
  for (const [n, t] of Object.entries(r.leftover))
    lines.push(`${n} (table ${t}) is no longer desired: the next apply deletes it`);
  if (r.hostPending.length > 0) lines.push(`host: ${r.hostPending.length} pending change(s)`);
  lines.push(...hostFilterLines(r.hostFilter));
  for (const p of r.problems) lines.push(`problem: ${p.field}: ${p.message}`);
  return lines.join('\n');
}
