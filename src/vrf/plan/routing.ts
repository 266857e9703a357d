/**
 * Route phases: carry migrated static routes into the VRF (or give them back),
 * the default route per family and the extra routes of each VRF, the strict
 * catch-all, and the leaks of each VRF's subnets into main.
 */
import { canonicalIp, cidrContains, defaultCidr } from '../addr.js';
import type { DesiredVrf, Family, RouteTarget } from '../types.js';
import { FAMILIES, STRICT_METRIC, TABLE } from '../types.js';
import type { PlanContext } from './context.js';
import {
  familyOfPrefix,
  isDefaultPrefix,
  isLinkLocal,
  isMainRaDefault,
  isManagedRoute,
  routeMatches,
  slotOfTarget,
  targetOfRoute,
} from './keys.js';

interface Wanted {
  readonly t: RouteTarget;
  readonly why: string;
  /** 3: migrated, 4: default and extra routes, 5: strict. */
  readonly phase: 3 | 4 | 5;
  /** slotOfTarget(t), computed once (the planner looks it up several times per route). */
  readonly key: string;
}

/**
 * The member device a gateway is reached through, when it can be told: the member whose subnet
 * holds it; for an IPv6 link-local gateway, the member derive found it on (DerivedGateway.dev:
 * without a dev the kernel refuses the route), or the VRF's only member.
 */
function devFor(v: DesiredVrf, gateway: string): string | undefined {
  for (const a of v.addresses) if (cidrContains(a.subnet, gateway)) return a.dev;
  if (!isLinkLocal(`${gateway}/128`)) return undefined;
  const gw = v.gateways.inet6;
  if (gw?.dev !== undefined && canonicalIp(gw.address) === canonicalIp(gateway)) return gw.dev;
  return v.members.length === 1 ? v.members[0] : undefined;
}

function unicast(
  family: Family,
  table: number,
  dst: string,
  gateway: string,
  dev: string | undefined,
  metric?: number,
): RouteTarget {
  const t: {
    family: Family;
    table: number;
    dst: string;
    type: 'unicast';
    gateway: string;
    dev?: string;
    metric?: number;
  } = {
    family,
    table,
    dst,
    type: 'unicast',
    gateway,
  };
  if (dev !== undefined) t.dev = dev;
  if (metric !== undefined) t.metric = metric;
  return t;
}

function alreadyThere(ctx: PlanContext, t: RouteTarget, key = slotOfTarget(t)): boolean {
  return ctx.model.slot(key).some((r) => routeMatches(r, t));
}

/** Routes in the VRF tables; first claim on a slot wins (default and extra routes over migrated copies). */
export function vrfRoutes(ctx: PlanContext): void {
  const wanted = new Map<string, Wanted>();
  const byPhase: Record<3 | 4 | 5, Wanted[]> = { 3: [], 4: [], 5: [] };
  const want = (target: RouteTarget, why: string, phase: 3 | 4 | 5): void => {
    const key = slotOfTarget(target);
    if (wanted.has(key)) return;
    const w: Wanted = { t: ctx.own(target), why, phase, key };
    wanted.set(key, w);
    byPhase[phase].push(w);
  };

  for (const v of ctx.desired.vrfs) {
    for (const f of FAMILIES) {
      const gw = v.gateways[f];
      if (!gw) continue;
      want(
        unicast(f, v.table, defaultCidr(f), canonicalIp(gw.address), devFor(v, gw.address)),
        `default route of ${v.name} (${f === 'inet' ? 'IPv4' : 'IPv6'}) via ${gw.address}, from ${gw.source}: ${gw.detail}`,
        4,
      );
    }
    // Thousands of routes share a handful of gateways: resolve each gateway once per VRF.
    const hops = new Map<string, { readonly via: string; readonly dev: string | undefined }>();
    for (const rs of v.routes) {
      const f = familyOfPrefix(rs.to);
      const via = rs.via ?? v.gateways[f]?.address;
      if (via === undefined) continue; // derive warns: no gateway to reach it through
      let hop = hops.get(via);
      if (!hop) hops.set(via, (hop = { via: canonicalIp(via), dev: devFor(v, via) }));
      want(unicast(f, v.table, rs.to, hop.via, hop.dev, rs.metric), `route of ${v.name} to ${rs.to} via ${via}`, 4);
    }
    if (ctx.desired.options.strict) {
      for (const f of FAMILIES) {
        want(
          { family: f, table: v.table, dst: defaultCidr(f), type: 'unreachable', metric: STRICT_METRIC },
          `strict: traffic of ${v.name} with no route must not fall through to the main table`,
          5,
        );
      }
    }
  }

  // Migrated static routes: kept in the VRF while their device is a member, given back otherwise.
  // A remembered RA default is neither: it only feeds derivation while its device is a member,
  // and is forgotten afterwards (the kernel relearns it from the next advertisement; a permanent
  // copy would outlive a router change).
  const restores: RouteTarget[] = [];
  for (const [id, r] of ctx.migratedRoutes) {
    const v = r.dev !== null ? ctx.memberOf.get(r.dev) : undefined;
    const l = r.dev !== null ? ctx.model.link(r.dev) : undefined;
    const ra = isMainRaDefault(r);
    if (v && l?.master === v.name) {
      if (r.table !== TABLE.main || ra) continue; // a policy table's route: only given back on teardown; RA: never copied
      if (isDefaultPrefix(r.dst) && v.gateways[r.family]) continue; // the VRF's own default wins
      const t: RouteTarget = { ...targetOfRoute(r, { table: v.table }) };
      const { protocol: _p, prefsrc: _s, ...copy } = t;
      want(
        copy,
        `the kernel dropped ${r.dst} via ${r.dev} from main when ${r.dev} joined ${v.name}: carried into its table`,
        3,
      );
      continue;
    }
    ctx.migratedRoutes.delete(id);
    if (ra || !l?.up) continue; // RA: relearnt; the device gone or down: the kernel would refuse the route
    const back = targetOfRoute(r);
    if (!alreadyThere(ctx, back)) restores.push(back);
  }
  for (const t of restores) {
    ctx.emit({
      kind: 'route-add',
      route: t,
      why: `${t.dev ?? t.dst} left its VRF: restore ${t.dst} to table ${t.table} as it was`,
    });
  }

  for (const phase of [3, 4, 5] as const) {
    for (const w of byPhase[phase]) {
      ctx.keepRoute(w.t);
      if (alreadyThere(ctx, w.t, w.key)) continue;
      ctx.emit({ kind: 'route-add', route: w.t, why: w.why }, w.key);
    }
  }

  // Anything else vrf-host-made in its tables is stale (old gateway, removed route, strict turned off).
  for (const table of ctx.desiredTables) {
    for (const [key, r] of ctx.model.entriesIn(table)) {
      if (!isManagedRoute(r)) continue;
      const w = wanted.get(key);
      if (w && routeMatches(r, w.t)) continue;
      ctx.emit({ kind: 'route-del', route: targetOfRoute(r), why: `${r.dst} in table ${r.table} is no longer wanted` });
    }
  }
}

/**
 * Main's default route, when the enslaves took main's last one of a family: it went through a
 * member (the host's default left through a space that is now a VRF). It stays in main, through
 * that VRF's device, so the host's own traffic (apt, NTP, DNS) leaves through the same router as
 * before; only when the VRF's table routes it (its own default, or this route carried into it).
 */
function mainDefaults(ctx: PlanContext): Map<string, { t: RouteTarget; why: string; key: string }> {
  const wanted = new Map<string, { t: RouteTarget; why: string; key: string }>();
  for (const f of FAMILIES) {
    const inMain = ctx.model
      .entriesIn(TABLE.main)
      .some(([, r]) => r.family === f && isDefaultPrefix(r.dst) && (r.dev === null || !ctx.vrfNames.has(r.dev)));
    if (inMain) continue;
    const gone = [...ctx.migratedRoutes.values()]
      .filter((r) => r.table === TABLE.main && r.family === f && isDefaultPrefix(r.dst) && r.dev !== null)
      .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0) || (a.dev ?? '').localeCompare(b.dev ?? ''));
    for (const r of gone) {
      const v = ctx.memberOf.get(r.dev ?? '');
      if (v === undefined || ctx.model.link(r.dev ?? '')?.master !== v.name) continue;
      // An RA default is never carried into the VRF's table (the kernel relearns it only when the router speaks).
      if (v.gateways[f] === undefined && isMainRaDefault(r)) continue;
      const t: RouteTarget = ctx.own({
        family: f,
        table: TABLE.main,
        dst: defaultCidr(f),
        type: 'unicast',
        dev: v.name,
        ...(r.metric !== null ? { metric: r.metric } : {}),
      });
      const key = slotOfTarget(t);
      wanted.set(key, {
        t,
        key,
        why:
          `main's default route (${f === 'inet' ? 'IPv4' : 'IPv6'}) went through ${r.dev ?? '?'}, now in ${v.name}: ` +
          `it stays in main through ${v.name}, whose table routes it`,
      });
      break;
    }
  }
  return wanted;
}

/**
 * preserve-reachability: each VRF's subnets and remote prefixes reachable from the default VRF;
 * and, always, main's default where the enslaves took it (mainDefaults).
 */
export function leaks(ctx: PlanContext): void {
  const wanted = new Map<string, { t: RouteTarget; why: string; key: string }>();
  if (ctx.desired.options.preserveReachability) {
    for (const v of ctx.desired.vrfs) {
      const leak = (dst: string, family: Family, what: string): void => {
        if (isLinkLocal(dst) || isDefaultPrefix(dst)) return;
        const t: RouteTarget = ctx.own({ family, table: TABLE.main, dst, type: 'unicast', dev: v.name });
        const k = slotOfTarget(t);
        if (wanted.has(k)) return;
        // Never overwrite a route that is not ours (e.g. the same subnet on a link left in main).
        if (ctx.model.slot(k).some((r) => r.dev === null || !ctx.vrfNames.has(r.dev))) return;
        wanted.set(k, {
          t,
          key: k,
          why: `preserve-reachability: the default VRF still reaches ${what} ${dst} of ${v.name}`,
        });
      };
      for (const a of v.addresses) leak(a.subnet, a.family, 'connected subnet');
      for (const r of v.routes) leak(r.to, familyOfPrefix(r.to), 'remote prefix');
    }
  }
  for (const [key, w] of mainDefaults(ctx)) wanted.set(key, w);
  for (const w of wanted.values()) {
    ctx.keepRoute(w.t);
    if (!alreadyThere(ctx, w.t, w.key)) ctx.emit({ kind: 'route-add', route: w.t, why: w.why }, w.key);
  }
  for (const name of ctx.vrfNames) {
    for (const [key, r] of ctx.model.entriesVia(name)) {
      if (r.table !== TABLE.main || r.type !== 'unicast') continue;
      const w = wanted.get(key);
      if (w && routeMatches(r, w.t)) continue;
      ctx.emit({
        kind: 'route-del',
        route: targetOfRoute(r),
        why: `${isDefaultPrefix(r.dst) ? 'default route' : `leak of ${r.dst}`} into main via ${name} is no longer wanted`,
      });
    }
  }
}
