/**
 * What a replay of the recorded desired state can build on the host as it is now. Pure.
 *
 * The rule, in one place: a converge from new input (the charm's hooks, `vrf-host apply
 * --file`) is all or nothing — derivation refuses bad input, and nothing is applied. A
 * replay of the last applied desired state (`vrf-host apply --from-state`: the boot unit,
 * the networkd-dispatcher hook) brings no new input: a member that is not on the host (a
 * NIC that did not come up, a bond not built yet, an interface Juju is re-bridging, now a
 * port of its bridge) is odd host state, not bad input. So a replay builds every VRF with
 * the members that are there and reports each member it left out; the command then exits
 * non-zero. A VRF whose member is missing is still created (or kept, never deleted), with
 * the routes its remaining members can carry; the recorded desired state is not changed,
 * so the next replay builds the rest once the member is back.
 */
import { cidrContains } from './addr.js';
import type { DerivedGateway, DesiredState, DesiredVrf, Family, ObservedHost } from './types.js';
import { FAMILIES } from './types.js';

/** A member a replay could not enslave, and why. */
export interface LeftOut {
  readonly vrf: string;
  readonly dev: string;
  /** `does not exist on this host`, `is a port of br-ens5`. */
  readonly reason: string;
}

export interface Buildable {
  /** The desired state without the members left out (and what only they could route). */
  readonly desired: DesiredState;
  readonly leftOut: readonly LeftOut[];
}

function withoutMissing(v: DesiredVrf, present: ReadonlySet<string>): DesiredVrf {
  const members = v.members.filter((m) => present.has(m));
  const addresses = v.addresses.filter((a) => present.has(a.dev));
  // A next hop is reachable only on a remaining member's subnet (a link-local one only through a sole member).
  const onLink = (hop: string): boolean =>
    addresses.some((a) => cidrContains(a.subnet, hop)) ||
    (cidrContains('fe80::/10', hop) && members.length === 1 && v.members.length === 1);
  const gateways: Partial<Record<Family, DerivedGateway>> = {};
  for (const f of FAMILIES) {
    const g = v.gateways[f];
    if (g && onLink(g.address)) gateways[f] = g;
  }
  const routes = v.routes.filter((r) => r.via === undefined || onLink(r.via));
  return { ...v, members, addresses, gateways, routes };
}

export function buildable(desired: DesiredState, observed: ObservedHost): Buildable {
  const links = new Map(observed.links.map((l) => [l.name, l]));
  const leftOut: LeftOut[] = [];
  const present = new Set<string>();
  for (const v of desired.vrfs) {
    for (const dev of v.members) {
      const l = links.get(dev);
      const master = l?.master ? links.get(l.master) : undefined;
      if (!l) leftOut.push({ vrf: v.name, dev, reason: 'does not exist on this host' });
      else if (l.master !== null && master?.kind !== 'vrf')
        leftOut.push({ vrf: v.name, dev, reason: `is a port of ${l.master}` });
      else present.add(dev);
    }
  }
  if (leftOut.length === 0) return { desired, leftOut };
  const touched = new Set(leftOut.map((x) => x.vrf));
  const vrfs = desired.vrfs.map((v) => (touched.has(v.name) ? withoutMissing(v, present) : v));
  return { desired: { ...desired, vrfs }, leftOut };
}

/** `storage: bond0 does not exist on this host; public: ens4 is a port of br-ens4` */
export function leftOutMessage(leftOut: readonly LeftOut[]): string {
  return leftOut.map((x) => `${x.vrf}: member ${x.dev} ${x.reason}`).join('; ');
}
