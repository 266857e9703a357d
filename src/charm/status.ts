/**
 * What the unit status says, from what a hook found out (an Outcome). Pure:
 * the charm's single collect-status step turns the hook's Outcome into one
 * Status with these functions.
 */
import { formatProblem } from '../vrf/config.js';
import { unsettledMessage, type ConvergeReport, type TeardownReport, type Unsettled } from '../vrf/engine.js';
import type { DesiredState, DesiredVrf, InMainBinding, Problem, Warning } from '../vrf/types.js';

/** An Active line longer than this is shortened (the full detail is in show-vrfs). */
export const STATUS_MAX = 140;
/** Blocked lines may be longer: cutting off the fix would not help (Juju stores the whole message). */
export const PROBLEM_MAX = 300;

export type Outcome =
  /** network-get has no address yet. */
  | { readonly kind: 'waiting'; readonly message: string }
  /** Invalid input or a failed pre-flight check: nothing was applied. */
  | { readonly kind: 'blocked'; readonly problems: readonly Problem[] }
  /** The host matches the desired state (after applying, or already). */
  | { readonly kind: 'converged'; readonly report: ConvergeReport }
  /** dry-run: planned only. */
  | { readonly kind: 'dry-run'; readonly report: ConvergeReport }
  /** update-status found drift and heal-drift is off. */
  | { readonly kind: 'drift'; readonly report: ConvergeReport }
  /** A step failed; the host is as far as the step before it. */
  | { readonly kind: 'failed'; readonly report: ConvergeReport }
  /** Every step ran, but something else kept changing the host: still not converged after the last round. */
  | { readonly kind: 'unsettled'; readonly unsettled: Unsettled }
  | { readonly kind: 'torn-down'; readonly report: TeardownReport };

export type StatusLine = { readonly name: 'active' | 'blocked' | 'maintenance' | 'waiting'; readonly message: string };

/** Problems whose message already says everything (no `field:` prefix in the status). */
const SELF_EXPLAINING = new Set(['kernel', 'iproute2', 'application', 'state', 'host']);

/** One problem as a status line: `vrfs: storacc.table 254 is reserved`, `no vrf kernel module: load it on the host (modprobe vrf)`. */
export function problemLine(p: Problem | Warning): string {
  return SELF_EXPLAINING.has(p.field) ? p.message : formatProblem(p);
}

/** The first problem, and how many more there are (all of them go to the log). */
export function firstProblem(problems: readonly Problem[]): string {
  const first = problems[0];
  if (first === undefined) return 'blocked for an unknown reason; see juju debug-log';
  const more = problems.length > 1 ? ` (+${problems.length - 1} more in juju debug-log)` : '';
  return clip(problemLine(first), PROBLEM_MAX - more.length) + more;
}

/** Warnings that need the operator: a VRF without a gateway. */
export function gatewayWarnings(warnings: readonly Warning[]): Warning[] {
  return warnings.filter((w) => /^no gateway found for /.test(w.message));
}

/**
 * The Blocked line for spaces held back for want of a gateway. One space: its first warning, as
 * any problem. Several: every one of them named (the subnets are in the log), so that no held
 * space hides behind `(+N more)`:
 *   no gateway found for storage, storage-cluster: nothing applied for them; set config gateways (subnets in juju debug-log)
 */
export function heldLine(gw: readonly Warning[]): string {
  const names = [...new Set(gw.map((w) => w.field))];
  if (names.length <= 1) return firstProblem(gw);
  return clip(
    `no gateway found for ${names.join(', ')}: nothing applied for them; set config gateways (subnets in juju debug-log)`,
    PROBLEM_MAX,
  );
}

/**
 * What the Active line says of the services option (src/vrf/services), worst first: the services
 * step that failed in this run (a `systemctl try-restart` whose start in the VRF failed), then the
 * planner's warnings for listed units (one that does not exist yet, one that has failed since).
 * Warnings, not a block: the VRFs are built, and a package installed later is picked up.
 */
export function servicesLines(r: ConvergeReport): string[] {
  const f = r.services.failure;
  // The error names what failed (`systemctl try-restart -- UNIT` failed (exit 1): Job for UNIT failed …).
  const failed = f ? [`services: ${f.error.split('\n')[0] ?? ''}`] : [];
  return [...failed, ...r.warnings.filter((w) => w.field.startsWith('services')).map(problemLine)];
}

/** `LINE (+N more in juju debug-log); REST`, with REST (the VRFs) shortened to fit. */
function withNotes(notes: readonly string[], rest: (max: number) => string): string {
  const first = notes[0];
  if (first === undefined) return rest(STATUS_MAX);
  const more = notes.length > 1 ? ` (+${notes.length - 1} more in juju debug-log)` : '';
  // The VRFs keep about 40 characters (`3 VRFs: public storage storage-cluster`).
  const note = clip(first, STATUS_MAX - 40 - more.length) + more;
  return clip(`${note}; ${rest(STATUS_MAX - note.length - 2)}`, STATUS_MAX);
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

const REASON: Record<InMainBinding['reason'], string> = {
  'controller-path': 'controller path',
  'same-as-default': 'same as default',
  excluded: 'excluded',
  'no-gateway': 'no gateway',
};

function gatewaysOf(v: DesiredVrf): string[] {
  return [v.gateways.inet?.address, v.gateways.inet6?.address].filter((g): g is string => g !== undefined);
}

/** `mgmt in main (controller path)`, `internal, admin in main (same as default)`. */
function inMainText(inMain: readonly InMainBinding[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const m of inMain) byReason.set(REASON[m.reason], [...(byReason.get(REASON[m.reason]) ?? []), m.binding]);
  return [...byReason].map(([reason, bindings]) => `${bindings.join(', ')} in main (${reason})`);
}

/**
 * The Active line, shortened step by step to fit STATUS_MAX:
 *   3 VRFs: public(br-ens4 via 172.16.0.1) storage(bond0 via 10.10.4.1); mgmt in main (controller path)
 *   3 VRFs: public(br-ens4) storage(bond0); mgmt in main (controller path)
 *   3 VRFs: public storage; mgmt in main
 *   12 VRFs, 2 bindings in main; see show-vrfs
 */
export function describeDesired(d: DesiredState, max = STATUS_MAX): string {
  const n = d.vrfs.length;
  const head = n === 0 ? 'no VRFs' : `${n} VRF${n === 1 ? '' : 's'}`;
  // Roles left in the default space are not news; a binding kept in main for a reason is.
  const notable = d.inMain.filter((m) => m.reason !== 'same-as-default');
  const main = inMainText(notable);
  if (n === 0) {
    const why =
      notable.length > 0
        ? main.join('; ')
        : 'no space binding differs from the default binding (bind spaces with juju deploy --bind)';
    return clip(`${head}: ${why}`, max);
  }
  const full = d.vrfs.map((v) => {
    const gws = gatewaysOf(v);
    return `${v.name}(${v.members.join('+')}${gws.length > 0 ? ` via ${gws.join(' ')}` : ', no gateway'})`;
  });
  const members = d.vrfs.map((v) => `${v.name}(${v.members.join('+')})`);
  const names = d.vrfs.map((v) => v.name);
  const mainShort = notable.length > 0 ? [`${notable.map((m) => m.binding).join(', ')} in main`] : [];
  const candidates = [
    [`${head}: ${full.join(' ')}`, ...main],
    [`${head}: ${members.join(' ')}`, ...main],
    [`${head}: ${names.join(' ')}`, ...main],
    [`${head}: ${names.join(' ')}`, ...mainShort],
  ].map((parts) => parts.join('; '));
  const fit = candidates.find((c) => c.length <= max);
  if (fit !== undefined) return fit;
  const m = notable.length;
  return clip(`${head}${m > 0 ? `, ${m} binding${m === 1 ? '' : 's'} in main` : ''}; see the show-vrfs action`, max);
}

/** `storage: 2, host: 1` */
function byVrfText(byVrf: Readonly<Record<string, number>>): string {
  return Object.entries(byVrf)
    .map(([k, v]) => `${k === '(host)' ? 'host' : k}: ${v}`)
    .join(', ');
}

function changes(n: number): string {
  return `${n} change${n === 1 ? '' : 's'}`;
}

/** The one status for a hook's outcome. */
export function outcomeStatus(o: Outcome): StatusLine {
  switch (o.kind) {
    case 'waiting':
      return { name: 'waiting', message: o.message };
    case 'blocked':
      return { name: 'blocked', message: firstProblem(o.problems) };
    case 'failed': {
      const f = o.report.failure;
      const total = o.report.planned.length;
      const msg = f
        ? `apply failed at step ${f.index + 1}/${total} \`${f.command}\`: ${f.error.split('\n')[0] ?? ''}; fix it and run the apply action`
        : 'apply failed; see juju debug-log';
      return { name: 'blocked', message: clip(msg, PROBLEM_MAX) };
    }
    case 'unsettled':
      return { name: 'blocked', message: clip(unsettledMessage(o.unsettled), PROBLEM_MAX) };
    case 'drift': {
      const d = o.report.drift;
      const msg = `drift: ${changes(d.pending)} pending (${byVrfText(d.byVrf)}); heal-drift is off: run the apply action`;
      return { name: 'blocked', message: clip(msg, PROBLEM_MAX) };
    }
    case 'dry-run': {
      const d = o.report.drift;
      const what = o.report.desired ? describeDesired(o.report.desired, STATUS_MAX - 60) : '';
      const head =
        d.pending === 0 ? 'dry-run: in sync' : `dry-run: ${changes(d.pending)} pending (see the plan action)`;
      return { name: 'active', message: clip(what ? `${head}; ${what}` : head, STATUS_MAX) };
    }
    case 'converged': {
      const gw = gatewayWarnings(o.report.warnings);
      if (gw[0] !== undefined) return { name: 'blocked', message: heldLine(gw) };
      const d = o.report.desired;
      return {
        name: 'active',
        message: withNotes(servicesLines(o.report), (max) => (d ? describeDesired(d, max) : 'no VRFs')),
      };
    }
    case 'torn-down': {
      const r = o.report;
      if (!r.tornDown && r.remainingUnits.length > 0) {
        return {
          name: 'maintenance',
          message: clip(`leaving; the VRFs stay for ${r.remainingUnits.join(', ')}`, STATUS_MAX),
        };
      }
      return { name: 'maintenance', message: 'leaving; the VRFs are removed and the host is restored' };
    }
  }
}
