/**
 * Gateway derivation, per VRF and per family. The first hit wins:
 *   1. config      — vrfs entry `gateway`, then `gateways` keyed by VRF name,
 *                    binding name, or a CIDR equal to one of the member subnets;
 *   2. main-route  — a main-table default via a member, or whose gateway lies in
 *                    a member subnet (not `proto ra`: that is source 5);
 *   3. policy-table— a `from SUBNET lookup N` rule selecting a member address,
 *                    whose table N holds a default (MAAS source routing);
 *   4. netplan     — gateway4/gateway6 or a default route in /etc/netplan;
 *   5. ra          — a `proto ra` default on a member.
 *
 * Stability: once vrf-host has applied, the main-table default via the member
 * and the MAAS rule are gone from the host (moved into the VRF / removed), and
 * sit in ledger.migratedRoutes / ledger.migratedRules; so does the main-table
 * `proto ra` default the enslave dropped. They are read as the host's own, so
 * every later run derives the same gateway from the same source (a remembered
 * RA default still counts as source 5, not 2). A VRF's own table is read only
 * for `proto ra` defaults (the kernel installs RA routes there once the member
 * is enslaved); defaults vrf-host put there itself are never read back, so a
 * removed override cannot perpetuate itself.
 */
import { cidrContains, compareIp, isDefaultCidr, PrefixSet } from './addr.js';
import { netplanGatewayFor, type NetplanGateway } from './netplan.js';
import {
  familyName,
  FAMILIES,
  RESERVED_TABLES,
  TABLE,
  type DerivedGateway,
  type EngineConfig,
  type Family,
  type Ledger,
  type MemberAddress,
  type ObservedHost,
  type Problem,
  type Route,
  type Rule,
  type VrfConfigEntry,
  type Warning,
} from './types.js';

export interface GatewayTarget {
  readonly vrf: string;
  readonly binding: string;
  readonly members: readonly string[];
  readonly addresses: readonly MemberAddress[];
  /** The vrfs entry in explicit mode. */
  readonly entry?: VrfConfigEntry;
  /** Other bindings on the same interfaces, sharing this VRF (automatic mode): their gateways entries count. */
  readonly aliases?: readonly string[];
}

export interface GatewayEnv {
  readonly observed: ObservedHost;
  readonly ledger: Ledger;
  readonly config: EngineConfig;
  readonly netplan: readonly NetplanGateway[];
  /** Precomputed by prepareGatewayEnv: the host's default routes incl. migrated ones. */
  readonly defaults?: readonly Route[];
  /** Precomputed by prepareGatewayEnv: the host's source rules incl. migrated ones. */
  readonly sourceRules?: readonly Rule[];
}

/** Index the host once for many VRFs: only default routes and plain source rules matter here. */
export function prepareGatewayEnv(env: GatewayEnv): GatewayEnv {
  return {
    ...env,
    defaults: hostRoutes(env.observed, env.ledger, (r) => r.gateway !== null && isDefaultCidr(r.dst)),
    sourceRules: hostRules(env.observed, env.ledger).filter(
      (r) =>
        r.src !== null &&
        r.dst === null &&
        r.iif === null &&
        r.oif === null &&
        r.fwmark === null &&
        r.action === 'lookup',
    ),
  };
}

export interface GatewayResult {
  readonly gateways: Partial<Record<Family, DerivedGateway>>;
  /** Families with member addresses and no gateway found (a problem of the family aside). */
  readonly missing: readonly Family[];
  readonly problems: Problem[];
  readonly warnings: Warning[];
}

function isLinkLocal6(ip: string): boolean {
  return cidrContains('fe80::/10', ip);
}

function subnetsOf(t: GatewayTarget, family: Family): string[] {
  return [...new Set(t.addresses.filter((a) => a.family === family).map((a) => a.subnet))].sort();
}

const prefixSets = new WeakMap<GatewayTarget, Record<Family, PrefixSet>>();

function inSubnets(t: GatewayTarget, family: Family, ip: string): boolean {
  let sets = prefixSets.get(t);
  if (!sets) {
    sets = { inet: new PrefixSet(subnetsOf(t, 'inet')), inet6: new PrefixSet(subnetsOf(t, 'inet6')) };
    prefixSets.set(t, sets);
  }
  return sets[family].contains(ip);
}

/** The members that carry the VRF's IPv6 addresses (sorted). */
function ipv6Members(t: GatewayTarget): string[] {
  return [...new Set(t.addresses.filter((a) => a.family === 'inet6').map((a) => a.dev))].sort();
}

/** The one member an IPv6 link-local gateway can be on: the VRF's only member, or the only one with IPv6 addresses. */
function soleIpv6Member(t: GatewayTarget): string | undefined {
  if (t.members.length === 1) return t.members[0];
  const devs = ipv6Members(t);
  return devs.length === 1 ? devs[0] : undefined;
}

/** `dev` for a gateway learnt through a route: only an IPv6 link-local one needs it. */
function linkLocalDev(gw: string, dev: string | null): { dev?: string } {
  return isLinkLocal6(gw) && dev !== null ? { dev } : {};
}

/** A gateway usable for this VRF: in a member subnet, or an IPv6 link-local router on a member. */
function usable(t: GatewayTarget, family: Family, gw: string, dev: string | null): boolean {
  if (inSubnets(t, family, gw)) return true;
  return family === 'inet6' && isLinkLocal6(gw) && dev !== null && t.members.includes(dev);
}

const byMetricThenGateway = (a: Route, b: Route): number =>
  (a.metric ?? 0) - (b.metric ?? 0) ||
  compareIp(a.gateway ?? '', b.gateway ?? '') ||
  (a.dev ?? '').localeCompare(b.dev ?? '');

/** A default route through a gateway. */
type DefaultVia = Route & { readonly gateway: string };

function isDefaultVia(r: Route, family: Family): r is DefaultVia {
  return r.family === family && r.type === 'unicast' && r.gateway !== null && isDefaultCidr(r.dst);
}

/** Observed routes plus those vrf-host migrated away (deduplicated). */
export function hostRoutes(observed: ObservedHost, ledger: Ledger, keep: (r: Route) => boolean = () => true): Route[] {
  const seen = new Set<string>();
  const out: Route[] = [];
  for (const r of [...observed.routes, ...ledger.migratedRoutes]) {
    if (!keep(r)) continue;
    const k = JSON.stringify([r.family, r.table, r.dst, r.type, r.gateway, r.dev, r.metric]);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(r);
  }
  return out;
}

/** Observed rules plus those vrf-host migrated away. */
export function hostRules(observed: ObservedHost, ledger: Ledger): Rule[] {
  const seen = new Set<string>();
  const out: Rule[] = [];
  for (const r of [...observed.rules, ...ledger.migratedRules]) {
    const k = JSON.stringify([r.family, r.priority, r.src, r.dst, r.table, r.action, r.iif, r.oif, r.fwmark]);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(r);
  }
  return out;
}

interface ConfigCandidate {
  readonly address: string;
  readonly field: string;
  readonly detail: string;
  /** Keyed by a binding that shares the VRF of another (ConfigCandidate of an alias). */
  readonly alias?: string;
}

function configCandidates(t: GatewayTarget, family: Family, config: EngineConfig): ConfigCandidate[] {
  const out: ConfigCandidate[] = [];
  const fromEntry = t.entry?.gateways[family];
  if (fromEntry !== undefined) {
    out.push({ address: fromEntry, field: `vrfs: ${t.vrf}.gateway`, detail: `config vrfs: ${t.vrf}.gateway` });
  }
  const subnets = subnetsOf(t, family);
  const keyed = (key: string, kind: 'name' | 'cidr', alias?: string): void => {
    for (const g of config.gateways) {
      if (g.keyKind === kind && g.key === key && g.family === family) {
        const text = `${g.key}=${g.address}`;
        const c = { address: g.address, field: `gateways: entry "${text}"`, detail: `config gateways: ${text}` };
        out.push(alias === undefined ? c : { ...c, alias });
      }
    }
  };
  keyed(t.vrf, 'name');
  if (t.binding !== t.vrf) keyed(t.binding, 'name');
  for (const a of t.aliases ?? []) if (a !== t.vrf && a !== t.binding) keyed(a, 'name', a);
  for (const s of subnets) keyed(s, 'cidr');
  return out;
}

/** Config gateways of a family the VRF has no address of (wrong family). */
function wrongFamily(t: GatewayTarget, config: EngineConfig): Problem[] {
  const problems: Problem[] = [];
  for (const family of FAMILIES) {
    if (subnetsOf(t, family).length > 0) continue;
    for (const c of configCandidates(t, family, config)) {
      problems.push({
        field: c.field,
        message: `${c.address} is ${familyName(family)} but ${t.vrf} has no ${familyName(family)} address`,
      });
    }
  }
  return problems;
}

function fromConfig(
  t: GatewayTarget,
  family: Family,
  config: EngineConfig,
  problems: Problem[],
  warnings: Warning[],
): DerivedGateway | null {
  const cands = configCandidates(t, family, config);
  let won: DerivedGateway | null = null;
  for (const c of cands) {
    if (!inSubnets(t, family, c.address) && !isLinkLocal6(c.address)) {
      problems.push({
        field: c.field,
        message: `${c.address} is outside ${t.vrf}'s subnets (${subnetsOf(t, family).join(', ')})`,
      });
      continue;
    }
    let dev: string | undefined;
    if (isLinkLocal6(c.address)) {
      dev = soleIpv6Member(t);
      if (dev === undefined) {
        problems.push({
          field: c.field,
          message:
            `${c.address} is link-local and ${t.vrf} has IPv6 addresses on several members` +
            ` (${ipv6Members(t).join(', ')}): a link-local address names no link, so vrf-host cannot tell` +
            ` which one reaches it; give the router's global address`,
        });
        continue;
      }
    }
    if (won === null) won = { family, address: c.address, source: 'config', detail: c.detail, ...(dev ? { dev } : {}) };
    else if (won.address !== c.address && c.alias !== undefined) {
      // Never silently unused: the binding shares the VRF, and a VRF has one gateway per family.
      problems.push({
        field: c.field,
        message:
          `binding ${c.alias} is on the same interfaces as ${t.binding} and shares the VRF ${t.vrf},` +
          ` whose ${familyName(family)} gateway is ${won.address} (${won.detail}); give both the same gateway`,
      });
    } else if (won.address !== c.address) {
      warnings.push({ field: c.field, message: `ignored: ${t.vrf} already has ${won.address} from ${won.detail}` });
    }
  }
  return won;
}

function fromMainRoute(t: GatewayTarget, family: Family, routes: readonly Route[]): DerivedGateway | null {
  const cands = routes
    .filter((r): r is DefaultVia => isDefaultVia(r, family) && r.table === TABLE.main && r.protocol !== 'ra')
    .filter((r) => (r.dev !== null && t.members.includes(r.dev)) || inSubnets(t, family, r.gateway))
    .filter((r) => usable(t, family, r.gateway, r.dev))
    .sort((a, b) => {
      const da = a.dev !== null && t.members.includes(a.dev) ? 0 : 1;
      const db = b.dev !== null && t.members.includes(b.dev) ? 0 : 1;
      return da - db || byMetricThenGateway(a, b);
    });
  const r = cands[0];
  if (!r || r.gateway === null) return null;
  return {
    family,
    address: r.gateway,
    source: 'main-route',
    detail: `main table default via ${r.gateway}${r.dev ? ` dev ${r.dev}` : ''}`,
    ...linkLocalDev(r.gateway, r.dev),
  };
}

function fromPolicyTable(
  t: GatewayTarget,
  family: Family,
  routes: readonly Route[],
  rules: readonly Rule[],
  owned: ReadonlySet<number>,
): DerivedGateway | null {
  const addrs = t.addresses.filter((a) => a.family === family).map((a) => a.address);
  const selecting = rules
    .filter(
      (r) =>
        r.family === family &&
        r.action === 'lookup' &&
        r.table !== null &&
        !RESERVED_TABLES.includes(r.table) &&
        !owned.has(r.table) &&
        r.src !== null &&
        !isDefaultCidr(r.src) &&
        r.dst === null &&
        r.iif === null &&
        r.oif === null &&
        r.fwmark === null &&
        addrs.some((a) => cidrContains(r.src as string, a)),
    )
    .sort(
      (a, b) => a.priority - b.priority || (a.table ?? 0) - (b.table ?? 0) || (a.src ?? '').localeCompare(b.src ?? ''),
    );
  for (const rule of selecting) {
    const def = routes
      .filter((r) => r.table === rule.table && isDefaultVia(r, family) && usable(t, family, r.gateway, r.dev))
      .sort(byMetricThenGateway)[0];
    if (def && def.gateway !== null) {
      return {
        family,
        address: def.gateway,
        source: 'policy-table',
        detail: `table ${rule.table} default via ${def.gateway} (rule from ${rule.src} lookup ${rule.table} pref ${rule.priority})`,
        ...linkLocalDev(def.gateway, def.dev),
      };
    }
  }
  return null;
}

function fromNetplan(
  t: GatewayTarget,
  family: Family,
  netplan: readonly NetplanGateway[],
  warnings: Warning[],
): DerivedGateway | null {
  for (const g of netplanGatewayFor(netplan, t.members, family)) {
    const dev = t.members.includes(g.id) ? g.id : g.setName;
    if (usable(t, family, g.address, dev)) {
      return {
        family,
        address: g.address,
        source: 'netplan',
        detail: `${g.file}: ${g.where}`,
        ...linkLocalDev(g.address, dev),
      };
    }
    warnings.push({
      field: 'netplan',
      message: `${g.file}: ${g.where}: ${g.address} is outside ${t.vrf}'s subnets (${subnetsOf(t, family).join(', ')}); ignored`,
    });
  }
  return null;
}

function fromRa(
  t: GatewayTarget,
  family: Family,
  routes: readonly Route[],
  ownTable: number | null,
): DerivedGateway | null {
  if (family !== 'inet6') return null;
  const r = routes
    .filter(
      (r) =>
        (r.table === TABLE.main || (ownTable !== null && r.table === ownTable)) &&
        isDefaultVia(r, family) &&
        r.protocol === 'ra' &&
        r.dev !== null &&
        t.members.includes(r.dev),
    )
    // What the kernel learns now (its VRF table) before what was learnt before the enslave
    // (remembered in ledger.migratedRoutes): after a router change, the new router wins.
    .sort(
      (a, b) => (a.table === TABLE.main ? 1 : 0) - (b.table === TABLE.main ? 1 : 0) || byMetricThenGateway(a, b),
    )[0];
  if (!r || r.gateway === null) return null;
  return {
    family,
    address: r.gateway,
    source: 'ra',
    detail: `router advertisement on ${r.dev ?? '?'}`,
    ...linkLocalDev(r.gateway, r.dev),
  };
}

/**
 * A VRF has one default route per family: every subnet of its addresses must hold that gateway
 * (or, for an IPv6 link-local one, be on the member it is reached through). A subnet that does
 * not would send its replies through another subnet's router, where MAAS's source routing sent
 * them through its own: nothing is applied, and the problem names the subnet.
 */
function subnetsWithoutTheirGateway(t: GatewayTarget, family: Family, g: DerivedGateway): Problem[] {
  const out: Problem[] = [];
  for (const subnet of subnetsOf(t, family)) {
    const on = t.addresses.filter((a) => a.family === family && a.subnet === subnet);
    const served = isLinkLocal6(g.address) ? on.every((a) => a.dev === g.dev) : cidrContains(subnet, g.address);
    if (served) continue;
    out.push({
      field: t.vrf,
      message:
        `subnet ${subnet} (${on.map((a) => `${a.address} on ${a.dev}`).join(', ')}) has no gateway of its own here:` +
        ` its replies would leave through ${g.address}${g.dev ? ` on ${g.dev}` : ''}, ${t.vrf}'s only` +
        ` ${familyName(family)} gateway (${g.detail}); bind that subnet to a space of its own`,
    });
  }
  return out;
}

/** Derive the gateways of one VRF, both families. */
export function deriveGateways(t: GatewayTarget, env: GatewayEnv): GatewayResult {
  const problems: Problem[] = wrongFamily(t, env.config);
  const warnings: Warning[] = [];
  const gateways: Partial<Record<Family, DerivedGateway>> = {};
  const missing: Family[] = [];
  const routes = env.defaults ?? hostRoutes(env.observed, env.ledger);
  const rules = env.sourceRules ?? hostRules(env.observed, env.ledger);
  const owned = new Set(Object.values(env.ledger.vrfs));
  const ownTable = env.ledger.vrfs[t.vrf] ?? null;
  for (const family of FAMILIES) {
    const subnets = subnetsOf(t, family);
    if (subnets.length === 0) continue;
    const before = problems.length;
    const g =
      fromConfig(t, family, env.config, problems, warnings) ??
      fromMainRoute(t, family, routes) ??
      fromPolicyTable(t, family, routes, rules, owned) ??
      fromNetplan(t, family, env.netplan, warnings) ??
      fromRa(t, family, routes, ownTable);
    if (problems.length > before) continue;
    if (g) {
      problems.push(...subnetsWithoutTheirGateway(t, family, g));
      gateways[family] = g;
    } else {
      const b = t.binding !== t.vrf ? ` (binding ${t.binding})` : '';
      missing.push(family);
      warnings.push({ field: t.vrf, message: `no gateway found for ${subnets.join(', ')}${b}; set config gateways` });
    }
  }
  return { gateways, missing, problems, warnings };
}
