/**
 * Identity of routes and rules, shared by the planner, the kernel model and
 * teardown. Every comparison goes through these canonical string keys, so the
 * planner works with maps and sets and never scans lists inside loops.
 */
import { cidrWithin, isDefaultCidr } from '../addr.js';
import type { Family, Route, RouteTarget, Rule, RuleTarget } from '../types.js';
import { TABLE } from '../types.js';

/** Route types that the kernel creates by itself (never ours to add or delete). */
const KERNEL_TYPES: ReadonlySet<string> = new Set(['local', 'broadcast', 'multicast', 'anycast', 'nat']);

/** The metric the kernel gives a route added without one. */
export function defaultMetric(family: Family): number {
  return family === 'inet6' ? 1024 : 0;
}

/** The metric a route really has (IPv4 prints none for 0). */
export function effectiveMetric(family: Family, metric: number | null | undefined): number {
  return metric ?? defaultMetric(family);
}

/**
 * The kernel's replace key: what `ip route replace` overwrites and what two
 * routes may not share (family, table, prefix, metric).
 */
export function routeSlot(family: Family, table: number, dst: string, metric: number | null | undefined): string {
  return `${family}|${table}|${dst}|${effectiveMetric(family, metric)}`;
}

export function slotOfRoute(r: Route): string {
  return routeSlot(r.family, r.table, r.dst, r.metric);
}

export function slotOfTarget(t: RouteTarget): string {
  return routeSlot(t.family, t.table, t.dst, t.metric);
}

/** Full identity of a route entry (a slot may hold several entries, e.g. fe80::/64 per device). */
export function routeId(r: Route): string {
  return `${slotOfRoute(r)}|${r.type}|${r.dev ?? ''}|${r.gateway ?? ''}`;
}

/** Does an observed route carry what the target asks for? (protocol, scope and prefsrc are not compared) */
export function routeMatches(r: Route, t: RouteTarget): boolean {
  if (r.family !== t.family || r.table !== t.table || r.dst !== t.dst) return false;
  if (effectiveMetric(r.family, r.metric) !== effectiveMetric(t.family, t.metric)) return false;
  if (r.type !== t.type) return false;
  if (t.type === 'unreachable') return true; // the kernel prints `dev lo` for IPv6 unreachable routes
  if ((t.gateway ?? null) !== r.gateway) return false;
  if (t.dev !== undefined && t.dev !== r.dev) return false;
  return true;
}

/** Routes the kernel made: connected (proto kernel), local/broadcast/multicast entries, RA-learnt ones. */
export function isKernelRoute(r: Route): boolean {
  return r.protocol === 'kernel' || r.protocol === 'ra' || KERNEL_TYPES.has(r.type);
}

/**
 * A default route in main learnt from a router advertisement (`proto ra`, via a next hop).
 * Enslaving its device drops it; the planner remembers it (ledger.migratedRoutes) so the
 * gateway is still derived from it, but never re-adds it: the kernel relearns it.
 */
export function isMainRaDefault(r: Route): boolean {
  return (
    r.protocol === 'ra' &&
    r.table === TABLE.main &&
    r.type === 'unicast' &&
    r.gateway !== null &&
    isDefaultPrefix(r.dst)
  );
}

/**
 * Routes vrf-host may own inside its own VRF tables: what `ip route add` makes (proto
 * boot/static), of a shape it can render back (unreachable, or unicast with a next hop;
 * a hand-made blackhole or multipath route is left alone).
 */
export function isManagedRoute(r: Route): boolean {
  if (isKernelRoute(r) || (r.protocol !== 'boot' && r.protocol !== 'static')) return false;
  return r.type === 'unreachable' || (r.type === 'unicast' && (r.gateway !== null || r.dev !== null));
}

/** A RouteTarget that reproduces an observed route exactly enough to re-add or delete it. */
export function targetOfRoute(r: Route, overrides: Partial<RouteTarget> = {}): RouteTarget {
  const type: 'unicast' | 'unreachable' = r.type === 'unreachable' ? 'unreachable' : 'unicast';
  const t: {
    family: Family;
    table: number;
    dst: string;
    type: 'unicast' | 'unreachable';
    gateway?: string;
    dev?: string;
    metric?: number;
    protocol?: string;
    scope?: string;
    prefsrc?: string;
  } = { family: r.family, table: r.table, dst: r.dst, type };
  if (r.gateway !== null) t.gateway = r.gateway;
  if (r.dev !== null && type === 'unicast') t.dev = r.dev;
  if (r.metric !== null) t.metric = r.metric;
  if (r.protocol !== 'boot') t.protocol = r.protocol;
  if (r.prefsrc !== null) t.prefsrc = r.prefsrc;
  if (r.scope !== 'global' && type === 'unicast') t.scope = r.scope;
  return { ...t, ...overrides };
}

/** Rule identity: what `ip rule del` with the same selectors would match. */
export function ruleKey(
  family: Family,
  priority: number,
  src: string | null,
  table: number | null,
  dst: string | null = null,
): string {
  return `${family}|${priority}|${src ?? 'all'}|${table ?? '-'}${dst === null ? '' : `|to ${dst}`}`;
}

/** A rule made only of `from SRC lookup TABLE` at a priority (what we create and what MAAS writes). */
export function isPlainLookup(r: Rule): boolean {
  return (
    r.action === 'lookup' &&
    !r.l3mdev &&
    r.table !== null &&
    r.dst === null &&
    r.iif === null &&
    r.oif === null &&
    r.fwmark === null
  );
}

export function keyOfRule(r: Rule): string | null {
  return isPlainLookup(r) ? ruleKey(r.family, r.priority, r.src, r.table) : null;
}

export function keyOfRuleTarget(t: RuleTarget): string {
  return ruleKey(t.family, t.priority, t.src ?? null, t.table, t.dst ?? null);
}

/**
 * The identity of a rule of a shape vrf-host adds (`from SRC lookup TABLE`, `to DST lookup TABLE`,
 * the local lookup), as keyOfRuleTarget gives it for what it added; null for any other rule.
 */
export function ownedKeyOfRule(r: Rule): string | null {
  return isPlainLookup(r) || isToLookup(r) ? ruleKey(r.family, r.priority, r.src, r.table, r.dst) : null;
}

/** A rule made only of `to DST lookup TABLE` at a priority (vrf-host's delivery rules). */
export function isToLookup(r: Rule): boolean {
  return (
    r.action === 'lookup' &&
    !r.l3mdev &&
    r.table !== null &&
    r.src === null &&
    r.dst !== null &&
    r.iif === null &&
    r.oif === null &&
    r.fwmark === null
  );
}

/** A RuleTarget that reproduces an observed rule, its protocol included (e.g. a MAAS rule given back as it was). */
export function targetOfRule(r: Rule): RuleTarget {
  if (r.table === null) throw new Error('targetOfRule: a rule without a table');
  const protocol = r.protocol !== undefined && r.protocol !== 'unspec' ? { protocol: r.protocol } : {};
  return {
    family: r.family,
    priority: r.priority,
    ...(r.src === null ? {} : { src: r.src }),
    ...(r.dst === null ? {} : { dst: r.dst }),
    table: r.table,
    ...protocol,
  };
}

export function isLocalLookup(r: Rule): boolean {
  return isPlainLookup(r) && r.src === null && r.table === TABLE.local;
}

/**
 * A link-local prefix (fe80::/10, 169.254.0.0/16): never leaked, never routed between tables.
 * Read off the text (first IPv6 group, first two IPv4 octets, prefix length) rather than
 * parsed: the planner asks this for every prefix of every VRF, and two ipaddr.js
 * cidrWithin calls cost ~20 µs each time (the bulk of plan() at 10k routes). Agrees with
 * cidrWithin on every valid address or prefix (tests/unit/vrf/plan-keys.test.ts).
 */
export function isLinkLocal(cidr: string): boolean {
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const len = slash < 0 ? null : Number(cidr.slice(slash + 1));
  if (addr.includes(':')) {
    const first = addr.slice(0, addr.indexOf(':'));
    if (first.length !== 4) return false; // fe80..febf are 4 hex digits; '' (::…) or shorter is below
    return (Number.parseInt(first, 16) & 0xffc0) === 0xfe80 && (len ?? 128) >= 10 && cidrWithin(cidr, 'fe80::/10');
  }
  return addr.startsWith('169.254.') && (len ?? 32) >= 16 && cidrWithin(cidr, '169.254.0.0/16');
}

/** A default prefix (0.0.0.0/0, ::/0, `default`), parsing only what ends in /0. */
export function isDefaultPrefix(cidr: string): boolean {
  return (
    cidr === '0.0.0.0/0' || cidr === '::/0' || ((cidr === 'default' || cidr.endsWith('/0')) && isDefaultCidr(cidr))
  );
}

/** The family of a validated prefix or address (what derive hands the planner): IPv6 has a colon. */
export function familyOfPrefix(cidr: string): Family {
  return cidr.includes(':') ? 'inet6' : 'inet';
}
