/** What a plan means for the operator: planned steps with their commands, drift, units and applications. */
import type { Renderer } from '../apply.js';
import type { HostState } from '../persist.js';
import type { DerivedGateway, DesiredState, Ledger, Problem, Step, StepKind } from '../types.js';

// ---------------------------------------------------------------------------
// Drift
// ---------------------------------------------------------------------------

export interface PlannedStep {
  readonly step: Step;
  readonly command: string;
}

/** The host did not hold still: after `rounds` applies, these steps were still pending. */
export interface Unsettled {
  readonly rounds: number;
  readonly pending: readonly PlannedStep[];
}

/**
 * What kept changing, for the unit status and the CLI: the first pending commands, how many
 * more, and the likely cause.
 */
export function unsettledMessage(u: Unsettled, shown = 2): string {
  const n = u.pending.length;
  const cmds = u.pending
    .slice(0, shown)
    .map((p) => `\`${p.command}\``)
    .join(', ');
  const more = n > shown ? ` (+${n - shown} more)` : '';
  return (
    `the host kept changing while vrf-host applied: after ${u.rounds} apply round${u.rounds === 1 ? '' : 's'}, ` +
    `${n} change${n === 1 ? ' was' : 's were'} still pending: ${cmds}${more}; ` +
    `another manager of this host's network (e.g. systemd-networkd) undoes them`
  );
}

export interface DriftSummary {
  readonly inSync: boolean;
  readonly pending: number;
  readonly byKind: Partial<Record<StepKind, number>>;
  /** Pending steps per VRF name; `(host)` for steps that concern no single VRF (sysctls, the local rule). */
  readonly byVrf: Readonly<Record<string, number>>;
}

/** The VRF a step concerns, or null (sysctls, the local rule, …). */
export function stepVrf(
  step: Step,
  vrfs: readonly { name: string; table: number; members: readonly string[] }[],
): string | null {
  const byTable = (t: number) => vrfs.find((v) => v.table === t)?.name ?? null;
  const byDev = (d: string | undefined) =>
    d === undefined ? null : (vrfs.find((v) => v.name === d || v.members.includes(d))?.name ?? null);
  switch (step.kind) {
    case 'vrf-create':
    case 'vrf-replace':
    case 'vrf-delete':
      return step.name;
    case 'enslave':
    case 'release':
      return step.vrf;
    case 'link-up':
    case 'link-down':
      return byDev(step.dev);
    case 'route-add':
    case 'route-del':
      return byTable(step.route.table) ?? byDev(step.route.dev);
    case 'rule-add':
    case 'rule-del':
      return byTable(step.rule.table);
    case 'sysctl':
      return null;
    case 'networkd-write':
    case 'networkd-remove':
      return vrfOfNetworkdPath(step.path, vrfs);
  }
}

/** The VRF a networkd file is about: its own .netdev/.network, or the drop-in of one of its members' files. */
function vrfOfNetworkdPath(path: string, vrfs: readonly { name: string; members: readonly string[] }[]): string | null {
  const own = /\/05-vrf-host-([a-z0-9-]+)\.(?:netdev|network)$/.exec(path);
  if (own) return own[1]!;
  const dropIn = /\/([^/]+)\.network\.d\/[^/]+$/.exec(path);
  if (!dropIn) return null;
  // netplan names a link's file after it (10-netplan-ens4.network): the member whose name ends it.
  const base = dropIn[1]!;
  return vrfs.find((v) => v.members.some((m) => base === m || base.endsWith(`-${m}`)))?.name ?? null;
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

export function planned(steps: readonly Step[], renderer: Renderer): PlannedStep[] {
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

/**
 * What must agree for two applications to share a machine: VRFs, tables, members, gateways, routes
 * and options (not where a gateway was found).
 */
export function desiredKey(d: DesiredState): string {
  const gw = (g: DerivedGateway | undefined) => g?.address ?? null;
  return JSON.stringify({
    vrfs: [...d.vrfs]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((v) => ({
        name: v.name,
        table: v.table,
        members: [...v.members].sort(),
        inet: gw(v.gateways.inet),
        inet6: gw(v.gateways.inet6),
        routes: v.routes,
      })),
    options: d.options,
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
    message:
      `this machine's VRFs belong to vrf-host application "${otherApp}" (${others.join(', ')}),` +
      ` whose desired state differs; remove one of the two applications or give them the same config`,
  };
}
