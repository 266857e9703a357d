/**
 * Which device carries the unit's traffic to a controller once the VRFs are built. Pure.
 *
 * `ip route get CONTROLLER` says where the main table sends it now. That answer can be a
 * route vrf-host is about to take away: a DHCP lease (or a router advertisement) on a space's
 * member puts a default route in main through that member, and when its metric wins, the
 * kernel picks it. Enslaving the member drops every main-table route through it, and the
 * lookup falls back to the rest. So a route through a device that a VRF takes (or already
 * holds) decides the controller path only when nothing else reaches the controller as
 * specifically; otherwise the path is where the fallback goes, and that is what must stay in
 * main. A member already in vrf-host's VRF is never taken back out for such a route: the
 * route works through the enslaved member as it is, and removing the VRF would cut the space.
 * Only a kernel answer that the main table explains (its best route is through that device)
 * is second-guessed; any other answer (a policy rule, say) is kept as the path.
 */
import { cidrContains } from './addr.js';
import type { ObservedHost, Route } from './types.js';
import { TABLE } from './types.js';

export interface EgressOptions {
  /** Devices a VRF of the desired state takes (L3 members), now or already. */
  readonly moving: (dev: string) => boolean;
  /** Devices already enslaved to a VRF vrf-host owns. */
  readonly enslaved: (dev: string) => boolean;
}

const prefixLen = (r: Route): number => Number(r.dst.split('/')[1] ?? 0);

/** The kernel's pick among routes of one prefix length: lowest metric, then device name. */
function pick(routes: readonly Route[]): Route | undefined {
  return [...routes].sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0) || (a.dev ?? '').localeCompare(b.dev ?? ''))[0];
}

/**
 * The device to protect for controller `ip` (canonical), given the kernel's egress device for
 * it now (`route get`), or null when no device needs protecting.
 */
export function controllerEgress(
  ip: string,
  kernelDev: string | null,
  observed: ObservedHost,
  o: EgressOptions,
): string | null {
  if (kernelDev === null || !o.moving(kernelDev)) return kernelDev;
  const family = ip.includes(':') ? 'inet6' : 'inet';
  const matching = observed.routes.filter(
    (r) =>
      r.table === TABLE.main &&
      r.family === family &&
      r.type === 'unicast' &&
      r.dev !== null &&
      cidrContains(r.dst, ip),
  );
  const best = (rs: readonly Route[]): number => rs.reduce((m, r) => Math.max(m, prefixLen(r)), -1);
  const winner = pick(matching.filter((r) => prefixLen(r) === best(matching)));
  // The kernel's answer comes from somewhere else (a policy rule, a route this read missed): trust it.
  if (winner?.dev !== kernelDev) return kernelDev;
  const through = matching.filter((r) => o.moving(r.dev as string));
  const rest = matching.filter((r) => !o.moving(r.dev as string));
  const fallback = best(rest);
  if (rest.length > 0 && fallback >= best(through)) {
    return pick(rest.filter((r) => prefixLen(r) === fallback))?.dev ?? kernelDev;
  }
  return o.enslaved(kernelDev) ? null : kernelDev;
}
