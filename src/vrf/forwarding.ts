/**
 * Does this host forward traffic to local containers, pods or NAT targets? Such traffic (Docker
 * `-p`, Kubernetes NodePorts, Calico or MetalLB routes to local pods, LXD's NAT bridge) that
 * enters a space's interface is looked up, once the interface is a VRF member, in that VRF's
 * table, which has no route to the local bridge or veth it was going to: it is dropped.
 *
 * What is read, without a process: IPv4/IPv6 forwarding (procfs, through files.ts, so the
 * update-status memo watches them) and the main table's routes from the `ip -json` read every run
 * makes. A family counts when forwarding is on and a main-table route leads to a local bridge or
 * veth that no binding of the unit uses (a space's own bridge, e.g. Juju's `br-ens4`, is not a
 * forwarding target: it is the space). NAT rules need iptables/nft and are only shown by show-vrfs
 * (src/vrf/netfilter.ts), never read on a hook's path.
 */
import { join } from 'node:path';
import { readFile } from './files.js';
import { isLinkLocal } from './plan/keys.js';
import type { Bindings, DesiredState, Family, ObservedHost, Problem, Warning } from './types.js';
import { familyName, TABLE } from './types.js';

/** The forwarding switch of each family. */
export const FORWARDING_SYSCTLS: Readonly<Record<Family, string>> = {
  inet: 'net.ipv4.ip_forward',
  inet6: 'net.ipv6.conf.all.forwarding',
};

/** Link kinds a route to which, with forwarding on, means local forwarding targets. */
const TARGET_KINDS: ReadonlySet<string> = new Set(['bridge', 'veth']);

export interface ForwardingRoute {
  readonly dst: string;
  readonly dev: string;
  readonly kind: string;
}

export interface ForwardingFinding {
  readonly family: Family;
  /** The sysctl that is on (`net.ipv4.ip_forward`). */
  readonly sysctl: string;
  readonly routes: readonly ForwardingRoute[];
}

/** Which families forward (a missing key, e.g. IPv6 disabled, does not). */
export async function readForwarding(procRoot = '/proc'): Promise<Record<Family, boolean>> {
  const on = async (key: string): Promise<boolean> => {
    try {
      return (await readFile(join(procRoot, 'sys', ...key.split('.')), 'utf8')).trim() === '1';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  };
  return { inet: await on(FORWARDING_SYSCTLS.inet), inet6: await on(FORWARDING_SYSCTLS.inet6) };
}

/**
 * The interfaces the unit's bindings use (every binding's, when the inputs are at hand; else the
 * desired state's members and the bindings it left in main): a space's own device is never a
 * forwarding target.
 */
export function bindingDevices(desired: DesiredState | null, bindings?: Bindings): Set<string> {
  const out = new Set<string>();
  for (const v of desired?.vrfs ?? []) for (const m of v.members) out.add(m);
  for (const m of desired?.inMain ?? []) for (const i of m.interfaces) out.add(i);
  for (const ifaces of Object.values(bindings ?? {})) for (const i of ifaces) out.add(i.name);
  return out;
}

/** Per forwarding family, the main-table routes to local bridges and veths no binding uses. */
export function forwardingFindings(
  observed: ObservedHost,
  forwarding: Readonly<Record<Family, boolean>>,
  own: ReadonlySet<string>,
): ForwardingFinding[] {
  const kindOf = new Map(observed.links.map((l) => [l.name, l]));
  const out: ForwardingFinding[] = [];
  for (const family of ['inet', 'inet6'] as const) {
    if (!forwarding[family]) continue;
    const routes: ForwardingRoute[] = [];
    for (const r of observed.routes) {
      if (r.family !== family || r.table !== TABLE.main || r.type !== 'unicast' || r.dev === null) continue;
      if (isLinkLocal(r.dst) || own.has(r.dev)) continue;
      const link = kindOf.get(r.dev);
      if (link?.kind == null || !TARGET_KINDS.has(link.kind) || link.slaveKind === 'vrf') continue;
      routes.push({ dst: r.dst, dev: r.dev, kind: link.kind });
    }
    if (routes.length > 0) out.push({ family, sysctl: FORWARDING_SYSCTLS[family], routes });
  }
  return out;
}

export function forwardingText(f: ForwardingFinding): string {
  const routes = f.routes.map((r) => `${r.dst} dev ${r.dev} (${r.kind})`).join(', ');
  return `${familyName(f.family)} forwarding on (${f.sysctl}=1), routes to local bridges or veths: ${routes}`;
}

/** Blocked unless allow-forwarding: nothing is applied. */
export function forwardingProblem(fs: readonly ForwardingFinding[]): Problem {
  return {
    field: 'allow-forwarding',
    // The remedy before the findings: a long status line is clipped at its end.
    message:
      `this host forwards to local containers or pods, and a space's VRF would drop what arrives on its interface:` +
      ` nothing applied; set allow-forwarding=true to build the VRFs anyway (${fs.map(forwardingText).join('; ')})`,
  };
}

/** With allow-forwarding: built anyway, and said so. */
export function forwardingWarning(fs: readonly ForwardingFinding[]): Warning {
  return {
    field: 'allow-forwarding',
    message:
      `${fs.map(forwardingText).join('; ')}: forwarded traffic entering a VRF member is dropped` +
      ` (allow-forwarding is true)`,
  };
}
