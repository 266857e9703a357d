/**
 * Engine reports → action results. Juju's action-set keys are dotted segments
 * of `[a-z0-9]` with inner hyphens, so names that may not fit (interfaces such
 * as `bond0.105`, odd VRF names) are never used as keys: members, rules and
 * routes are numbered, and a VRF whose name is not a valid key gets `vrf-N`.
 * Every value is a string, so `juju run` prints it as is.
 */
import { type ActionResults, isActionKeySegment } from '../ops/index.js';
import {
  managerText,
  unsettledMessage,
  type ConvergeReport,
  type PlannedStep,
  type ProbeResult,
  type ServiceShow,
  type ShowReport,
  type TeardownReport,
  type VrfShow,
  firewallLines,
  forwardingLines,
} from '../vrf/engine.js';
import type { InMainBinding, Route, Rule } from '../vrf/types.js';
import { problemLine } from './status.js';

/** `name` when it is a valid action-set key segment, else `fallback`. */
export function keyOf(name: string, fallback: string): string {
  return isActionKeySegment(name) ? name : fallback;
}

/** A list as a numbered map: `{'0': …, '1': …}` (juju prints it in order). */
function numbered<T>(items: readonly T[], f: (t: T) => string | ActionResults): ActionResults {
  return Object.fromEntries(items.map((t, i) => [String(i), f(t)]));
}

export function routeText(r: Route): string {
  const parts = [r.type === 'unicast' ? '' : r.type, r.dst === '0.0.0.0/0' || r.dst === '::/0' ? 'default' : r.dst];
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  if (r.protocol && r.protocol !== 'boot' && r.protocol !== 'unspec') parts.push(`proto ${r.protocol}`);
  if (r.scope && r.scope !== 'global') parts.push(`scope ${r.scope}`);
  if (r.prefsrc) parts.push(`src ${r.prefsrc}`);
  if (r.metric !== null && r.metric !== 0) parts.push(`metric ${r.metric}`);
  return parts.filter(Boolean).join(' ');
}

export function ruleText(r: Rule): string {
  const parts = [`${r.priority}:`, `from ${r.src ?? 'all'}`];
  if (r.dst) parts.push(`to ${r.dst}`);
  if (r.iif) parts.push(`iif ${r.iif}`);
  if (r.oif) parts.push(`oif ${r.oif}`);
  if (r.fwmark) parts.push(`fwmark ${r.fwmark}`);
  if (r.l3mdev) parts.push('lookup [l3mdev-table]');
  else if (r.table !== null) parts.push(`${r.action === 'lookup' ? 'lookup' : r.action} ${r.table}`);
  else parts.push(r.action);
  if (r.family === 'inet6') parts.unshift('-6');
  return parts.join(' ');
}

function vrfResults(v: VrfShow, withRoutes: boolean): ActionResults {
  const out: Record<string, string | ActionResults> = {
    name: v.name,
    binding: v.binding,
    table: String(v.table),
    present: String(v.present),
    'in-sync': String(v.inSync),
    members: numbered(v.members, (m) => ({
      name: m.dev,
      present: String(m.present),
      up: String(m.up),
      master: m.master ?? '-',
      addresses: m.addresses.join(', ') || '-',
      'managed-by': managerText(m.manager),
    })),
  };
  for (const [fam, key] of [
    ['inet', 'ipv4'],
    ['inet6', 'ipv6'],
  ] as const) {
    const d = v.defaultRoutes[fam];
    if (!d) continue;
    out[key] = {
      gateway: d.gateway ?? '-',
      source: d.source ?? '-',
      detail: d.detail ?? '-',
      installed: d.installed
        ? `${d.installed.gateway ?? '-'} dev ${d.installed.dev ?? '-'} metric ${d.installed.metric ?? 0}`
        : 'none',
    };
  }
  if (v.rules.length > 0) out['rules'] = numbered(v.rules, ruleText);
  if (v.pending.length > 0) out['pending'] = v.pending.join('\n');
  if (withRoutes) out['routes'] = v.routes && v.routes.length > 0 ? numbered(v.routes, routeText) : 'none';
  if (v.services.length > 0) out['services'] = numbered(v.services, serviceResults);
  return out;
}

/** One placed unit: its state, each process with the VRF it is in, the ifindex recorded and now. */
function serviceResults(s: ServiceShow): ActionResults {
  return {
    unit: s.unit,
    state: s.state,
    'in-vrf': String(s.inVrf),
    processes: s.processes.map((p) => `${p.pid} ${p.vrf || '(default VRF)'}`).join(', ') || 'none',
    'recorded-ifindex': String(s.recordedIfindex),
    ifindex: s.ifindex === null ? 'none' : String(s.ifindex),
  };
}

function inMainResults(inMain: readonly InMainBinding[]): ActionResults {
  return Object.fromEntries(
    inMain.map((m, i) => [
      keyOf(m.binding, `binding-${i}`),
      { binding: m.binding, reason: m.reason, interfaces: m.interfaces.join(', ') || '-' },
    ]),
  );
}

/** show-vrfs: one entry per VRF, the bindings left in main, drift, and the human `summary`. */
export function showResults(r: ShowReport, withRoutes: boolean): ActionResults {
  const vrfs = Object.fromEntries(r.vrfs.map((v, i) => [keyOf(v.name, `vrf-${i}`), vrfResults(v, withRoutes)]));
  return {
    summary: r.summary,
    'in-sync': String(r.inSync),
    pending: String(r.drift.pending),
    ...(r.vrfs.length > 0 ? { vrfs } : {}),
    ...(r.inMain.length > 0 ? { 'in-main': inMainResults(r.inMain) } : {}),
    ...(r.hostPending.length > 0 ? { 'host-pending': r.hostPending.join('\n') } : {}),
    ...(r.units.length > 0 ? { units: r.units.join(', ') } : {}),
    ...(r.problems.length > 0 ? { problems: r.problems.map(problemLine).join('\n') } : {}),
    ...(r.warnings.length > 0 ? { warnings: r.warnings.map(problemLine).join('\n') } : {}),
    ...hostFilterResults(r.hostFilter),
  };
}

/** forwarding: what forwards to local containers or pods; firewall: packet-filter rules that name a member. */
function hostFilterResults(h: ShowReport['hostFilter']): ActionResults {
  const forwarding = forwardingLines(h).join('\n');
  const firewall = firewallLines(h).join('\n');
  return { ...(forwarding ? { forwarding } : {}), ...(firewall ? { firewall } : {}) };
}

/** `12 changes: 3 vrf-create, 3 enslave, …` */
export function planSummary(planned: readonly PlannedStep[]): string {
  if (planned.length === 0) return 'nothing to do: the host matches the desired state';
  const byKind = new Map<string, number>();
  for (const p of planned) byKind.set(p.step.kind, (byKind.get(p.step.kind) ?? 0) + 1);
  return `${planned.length} change${planned.length === 1 ? '' : 's'}: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}`;
}

/** The services steps (drop-ins, daemon-reload, try-restart), after the ip steps: `services` only when there are any. */
function servicesText(steps: readonly { readonly command: string }[]): ActionResults {
  return steps.length > 0 ? { services: steps.map((p) => p.command).join('\n') } : {};
}

/** The ip steps' summary, then the services steps': `12 changes: …; then 3 services steps`. */
function withServicesSummary(ip: readonly PlannedStep[], services: readonly unknown[]): string {
  const n = services.length;
  const svc = `${n} services step${n === 1 ? '' : 's'}`;
  if (n === 0) return planSummary(ip);
  return ip.length === 0 ? svc : `${planSummary(ip)}; then ${svc}`;
}

/** plan: the exact commands, numbered and as one text, and a summary. */
export function planResults(r: ConvergeReport): ActionResults {
  return {
    summary: withServicesSummary(r.planned, r.services.planned),
    count: String(r.planned.length),
    commands: r.planned.length > 0 ? r.planned.map((p) => p.command).join('\n') : '(none)',
    ...(r.planned.length > 0
      ? { steps: numbered(r.planned, (p) => ({ command: p.command, why: p.step.why ?? '-' })) }
      : {}),
    ...servicesText(r.services.planned),
    ...(r.warnings.length > 0 ? { warnings: r.warnings.map(problemLine).join('\n') } : {}),
  };
}

/** apply: the steps that ran. */
export function applyResults(r: ConvergeReport): ActionResults {
  return {
    summary:
      r.applied.length === 0 && r.services.applied.length === 0 && r.ok
        ? 'nothing to do: the host already matched the desired state'
        : `ran ${withServicesSummary(r.applied, r.services.applied)}`,
    count: String(r.applied.length),
    applied: r.applied.length > 0 ? r.applied.map((p) => p.command).join('\n') : '(none)',
    ...servicesText(r.services.applied),
    ...(r.warnings.length > 0 ? { warnings: r.warnings.map(problemLine).join('\n') } : {}),
  };
}

/** The action-fail line for a failed apply: which step, its command, the error. */
export function failureLine(r: ConvergeReport | TeardownReport): string {
  const f = r.failure;
  if (!f) return 'failed';
  return `step ${f.index + 1} of ${r.planned.length} failed: ${f.command}: ${f.error}`;
}

/** The action-fail line of an apply that did not converge the host, or null when it did. */
export function applyFailure(r: ConvergeReport): string | null {
  if (r.failure) return failureLine(r);
  if (r.unsettled) return unsettledMessage(r.unsettled);
  const s = r.services.failure;
  if (s) return `services: step ${s.index + 1} of ${r.services.planned.length} failed: ${s.command}: ${s.error}`;
  return null;
}

function probeText(p: ProbeResult): string {
  if (p.error !== null) return `${p.target}: unreachable (${p.error})`;
  const rtt = p.rttMs ? `, rtt ${p.rttMs.min}/${p.rttMs.avg}/${p.rttMs.max} ms` : '';
  return `${p.target}: ${p.reachable ? 'reachable' : 'unreachable'}, ${p.lossPercent ?? '?'}% loss${rtt}`;
}

/** check-gateways: per VRF, per family (and the extra target), and a summary. */
export function probeResults(probes: readonly ProbeResult[]): ActionResults {
  const byVrf = new Map<string, ProbeResult[]>();
  for (const p of probes) byVrf.set(p.vrf, [...(byVrf.get(p.vrf) ?? []), p]);
  const vrfs: Record<string, ActionResults> = {};
  [...byVrf].forEach(([vrf, ps], i) => {
    const entry: Record<string, ActionResults | string> = { name: vrf };
    for (const p of ps) {
      const key = p.kind === 'target' ? 'target' : p.family === 'inet' ? 'ipv4' : 'ipv6';
      entry[key] = {
        address: p.target,
        reachable: String(p.reachable),
        loss: p.lossPercent === null ? 'unknown' : `${p.lossPercent}%`,
        rtt: p.rttMs ? `${p.rttMs.avg} ms (min ${p.rttMs.min}, max ${p.rttMs.max})` : '-',
        ...(p.error !== null ? { error: p.error } : {}),
      };
    }
    vrfs[keyOf(vrf, `vrf-${i}`)] = entry;
  });
  const down = probes.filter((p) => !p.reachable);
  const summary =
    probes.length === 0
      ? 'no gateways to probe: no VRF has a gateway'
      : [
          down.length === 0
            ? `all ${probes.length} probes reachable`
            : `${down.length} of ${probes.length} probes unreachable`,
          ...probes.map(
            (p) => `${p.vrf} ${p.kind === 'target' ? 'target' : p.family === 'inet' ? 'ipv4' : 'ipv6'} ${probeText(p)}`,
          ),
        ].join('\n');
  return {
    summary,
    reachable: String(down.length === 0),
    unreachable: String(down.length),
    ...(probes.length > 0 ? { vrfs } : {}),
  };
}
