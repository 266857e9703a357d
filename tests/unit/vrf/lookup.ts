/**
 * The kernel's route lookup for a socket of the default VRF, on an observed (or simulated)
 * host: the rules by priority (the l3mdev rule matches only VRF traffic; `iif lo` matches the
 * host's own traffic), each rule's table by longest prefix then lowest metric, and a route
 * through a VRF device continues in that VRF's table (what the VRF driver's xmit does). For
 * the property tests: local delivery, the controller path and main's default route.
 */
import { cidrContains } from '../../../src/vrf/addr.js';
import { effectiveMetric } from '../../../src/vrf/plan/keys.js';
import type { ObservedHost, Route } from '../../../src/vrf/types.js';

export type Lookup =
  | { readonly kind: 'local'; readonly table: number }
  | { readonly kind: 'route'; readonly route: Route }
  | { readonly kind: 'none' };

const len = (dst: string): number => Number(dst.split('/')[1] ?? 0);

function tableLookup(h: ObservedHost, table: number, dst: string): Route | undefined {
  const family = dst.includes(':') ? 'inet6' : 'inet';
  let best: Route | undefined;
  for (const r of h.routes) {
    if (r.table !== table || r.family !== family || !cidrContains(r.dst, dst)) continue;
    if (
      best === undefined ||
      len(r.dst) > len(best.dst) ||
      (len(r.dst) === len(best.dst) && effectiveMetric(r.family, r.metric) < effectiveMetric(best.family, best.metric))
    )
      best = r;
  }
  return best;
}

/** Where the host sends a packet to `dst` from `src` (null: an unbound socket) of the default VRF. */
export function lookup(h: ObservedHost, dst: string, src: string | null): Lookup {
  const family = dst.includes(':') ? 'inet6' : 'inet';
  const rules = h.rules.filter((r) => r.family === family).sort((a, b) => a.priority - b.priority);
  for (const r of rules) {
    if (r.l3mdev || r.oif !== null || r.fwmark !== null) continue;
    if (r.iif !== null && r.iif !== 'lo') continue;
    if (r.src !== null && (src === null || !cidrContains(r.src, src))) continue;
    if (r.dst !== null && !cidrContains(r.dst, dst)) continue;
    if (r.action !== 'lookup' || r.table === null) continue;
    const hit = tableLookup(h, r.table, dst);
    if (hit === undefined) continue;
    return resolve(h, hit, dst, 0);
  }
  return { kind: 'none' };
}

function resolve(h: ObservedHost, r: Route, dst: string, depth: number): Lookup {
  if (r.type === 'local') return { kind: 'local', table: r.table };
  const vrf = r.dev === null ? undefined : h.links.find((l) => l.name === r.dev && l.kind === 'vrf');
  if (vrf !== undefined && vrf.vrfTable !== null && depth === 0 && r.gateway === null) {
    const inner = tableLookup(h, vrf.vrfTable, dst);
    return inner === undefined ? { kind: 'none' } : resolve(h, inner, dst, 1);
  }
  return { kind: 'route', route: r };
}

/** The lookup ends in a route that leaves the host through a next hop (not unreachable, not a VRF device). */
export function leavesVia(l: Lookup): Route | null {
  if (l.kind !== 'route') return null;
  const r = l.route;
  return r.type === 'unicast' && r.gateway !== null ? r : null;
}
