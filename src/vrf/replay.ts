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
 *
 * One member that is a port of a bridge is not left out but followed: when Juju bridges a
 * member for a container (`br-<member>`, the member its only port), the member's addresses move
 * to the bridge, and until the next hook derives the bridge from network-get the replay puts the
 * bridge in the VRF instead — only a bridge that holds every address recorded for the member, is
 * no other VRF's member, and is in no other VRF. networkd does the same from vrf-host's drop-in
 * on the bridge's file (networkd/state.ts jujuBridgeFile); the replay must agree with it, or it
 * would take the gateway routes away from the bridge that networkd just put in the VRF.
 */
import { cidrContains } from './addr.js';
import type { DerivedGateway, DesiredState, DesiredVrf, Family, MemberAddress, ObservedHost } from './types.js';
import { FAMILIES } from './types.js';

/** A member a replay could not enslave, and why. */
export interface LeftOut {
  readonly vrf: string;
  readonly dev: string;
  /** `does not exist on this host`, `is a port of br-ens5`. */
  readonly reason: string;
}

/** A member a replay followed to the bridge that now holds its addresses. */
export interface Followed {
  readonly vrf: string;
  readonly dev: string;
  readonly bridge: string;
}

export interface Buildable {
  /** The desired state without the members left out (and what only they could route). */
  readonly desired: DesiredState;
  readonly leftOut: readonly LeftOut[];
  readonly followed: readonly Followed[];
}

/** The bridge `dev` is a port of, when the VRF can follow `dev` there (see above), else null. */
function bridgeToFollow(v: DesiredVrf, dev: string, desired: DesiredState, observed: ObservedHost): string | null {
  const links = new Map(observed.links.map((l) => [l.name, l]));
  const br = links.get(links.get(dev)?.master ?? '');
  if (br?.kind !== 'bridge') return null;
  if (br.master !== null && br.master !== v.name) return null;
  if (desired.vrfs.some((x) => x.members.includes(br.name))) return null;
  const recorded = v.addresses.filter((a) => a.dev === dev);
  const held = (a: MemberAddress): boolean =>
    observed.addrs.some((x) => x.dev === br.name && x.family === a.family && x.address === a.address);
  return recorded.length > 0 && recorded.every(held) ? br.name : null;
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

/** The VRF with `dev` replaced by the bridge that holds its addresses. */
function followTo(v: DesiredVrf, dev: string, bridge: string): DesiredVrf {
  return {
    ...v,
    members: v.members.map((m) => (m === dev ? bridge : m)),
    addresses: v.addresses.map((a) => (a.dev === dev ? { ...a, dev: bridge } : a)),
  };
}

export function buildable(desired: DesiredState, observed: ObservedHost): Buildable {
  const links = new Map(observed.links.map((l) => [l.name, l]));
  const leftOut: LeftOut[] = [];
  const followed: Followed[] = [];
  const present = new Set<string>();
  for (const v of desired.vrfs) {
    for (const dev of v.members) {
      const l = links.get(dev);
      const master = l?.master ? links.get(l.master) : undefined;
      if (!l) leftOut.push({ vrf: v.name, dev, reason: 'does not exist on this host' });
      else if (l.master !== null && master?.kind !== 'vrf') {
        const bridge = bridgeToFollow(v, dev, desired, observed);
        if (bridge !== null) {
          followed.push({ vrf: v.name, dev, bridge });
          present.add(bridge);
        } else leftOut.push({ vrf: v.name, dev, reason: `is a port of ${l.master}` });
      } else present.add(dev);
    }
  }
  if (leftOut.length === 0 && followed.length === 0) return { desired, leftOut, followed };
  const touched = new Set(leftOut.map((x) => x.vrf));
  const vrfs = desired.vrfs.map((v) => {
    const f = followed.filter((x) => x.vrf === v.name).reduce((acc, x) => followTo(acc, x.dev, x.bridge), v);
    return touched.has(v.name) ? withoutMissing(f, present) : f;
  });
  return { desired: { ...desired, vrfs }, leftOut, followed };
}

/** `storage: member bond0 is followed to br-bond0, which holds its addresses` */
export function followedMessage(followed: readonly Followed[]): string {
  return followed
    .map(
      (x) =>
        `${x.vrf}: member ${x.dev} is a port of ${x.bridge}, which holds its addresses: ${x.bridge} takes its place`,
    )
    .join('; ');
}

/** `storage: bond0 does not exist on this host; public: ens4 is a port of br-ens4` */
export function leftOutMessage(leftOut: readonly LeftOut[]): string {
  return leftOut.map((x) => `${x.vrf}: member ${x.dev} ${x.reason}`).join('; ');
}
