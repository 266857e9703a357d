/**
 * Desired state: (bindings, config, controllers, netplan) × observed host × ledger
 * → the VRFs to build, or the precise problems that stop us. Pure and
 * deterministic (every list is sorted).
 */
import { cidrContains, cidrWithin, compareIp, subnetOf, tryCanonicalIp } from './addr.js';
import { controllerEgress, type EgressOptions } from './controller.js';
import { deriveGateways, prepareGatewayEnv, type GatewayEnv } from './gateways.js';
import { ifNameProblem, vrfNameProblem } from './names.js';
import { parseNetplanGateways } from './netplan.js';
import { assignTables, type TableRequest } from './tables.js';
import {
  familyName,
  DEFAULT_BINDING,
  SPACE_ROLES,
  SYSCTL,
  type BindingInterface,
  type DeriveResult,
  type DesiredState,
  type DesiredVrf,
  type EngineConfig,
  type EngineInputs,
  type Family,
  type HeldSpace,
  type InMainBinding,
  type Ledger,
  type Link,
  type MemberAddress,
  type ObservedHost,
  type Problem,
  type RouteSpec,
  type SpaceRoute,
  type VrfConfigEntry,
  type Warning,
} from './types.js';

/** Kinds whose ports are never enslaved; the L3 device is the master. */
const AGGREGATE_KINDS: ReadonlySet<string> = new Set(['bridge', 'bond', 'team']);

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
interface Candidate {
  readonly vrf: string;
  readonly binding: string;
  /** Where problems about this VRF are reported: `vrfs: NAME` (explicit) or NAME (automatic). */
  readonly field: string;
  readonly entry?: VrfConfigEntry;
}

interface Resolved extends Candidate {
  readonly members: string[];
  readonly addresses: MemberAddress[];
  /** Bindings on the same interfaces (automatic mode), which share this VRF: their gateways entries count. */
  readonly aliases: string[];
}

class LinkIndex {
  private readonly byName: Map<string, Link>;
  constructor(links: readonly Link[]) {
    this.byName = new Map(links.map((l) => [l.name, l]));
  }
  get(name: string): Link | undefined {
    return this.byName.get(name);
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
  portsOf(master: string): string[] {
    return [...this.byName.values()]
      .filter((l) => l.master === master)
      .map((l) => l.name)
      .sort(cmp);
  }
  /** Walk up from a bridge/bond port to the device that carries L3. */
  l3Of(name: string): string {
    let cur = name;
    for (let i = 0; i < 16; i++) {
      const l = this.byName.get(cur);
      if (!l || l.master === null) return cur;
      const m = this.byName.get(l.master);
      if (!m || !AGGREGATE_KINDS.has(m.kind ?? '')) return cur;
      cur = m.name;
    }
    return cur;
  }
}

function describeKind(l: Link): string {
  return l.kind === null ? 'a network interface' : `a ${l.kind} device`;
}

// ---------------------------------------------------------------------------
// Controller path
// ---------------------------------------------------------------------------

/**
 * Every device whose enslaving would disturb the route to a controller: the
 * egress device of `ip route get` (a VRF's members when it is a VRF; the
 * master when it is a bridge/bond port; the ports when it is a bridge or bond)
 * and, recursively, the lower devices of a VLAN (cycling a lower device takes
 * its VLANs down and flushes their routes): mgmt on br-mgmt over bond0.105
 * protects bond0.105 and bond0. A controller `ip route get` finds no route to
 * is a problem: nothing is applied.
 */
export function controllerPath(
  controllers: readonly string[],
  observed: ObservedHost,
  problems: Problem[],
  egress?: EgressOptions,
): Map<string, string> {
  const links = new LinkIndex(observed.links);
  const out = new Map<string, string>();
  const visit = (dev: string, ip: string, depth: number): void => {
    if (depth > 16 || out.has(dev)) return;
    out.set(dev, ip);
    const l = links.get(dev);
    if (!l) return;
    // Under a VRF, a bridge or a bond: its ports (a VLAN port's lower device in turn), whose
    // enslaving would cycle them and so the device above them.
    if (l.kind === 'vrf' || AGGREGATE_KINDS.has(l.kind ?? ''))
      for (const p of links.portsOf(dev)) visit(p, ip, depth + 1);
    const l3 = links.l3Of(dev);
    if (l3 !== dev) visit(l3, ip, depth + 1);
    if (l.lower !== null) visit(l.lower, ip, depth + 1);
  };
  for (const raw of [...controllers].sort(cmp)) {
    const ip = tryCanonicalIp(raw);
    if (ip === null) {
      problems.push({ field: 'controllers', message: `"${raw}" is not an IP address` });
      continue;
    }
    const rg = observed.routeGet[ip];
    if (rg === undefined) {
      problems.push({
        field: 'controllers',
        message: `no route lookup was observed for ${ip}; the controller path cannot be protected`,
      });
      continue;
    }
    if (rg.dev === null) {
      // Fail safe: without the path, nothing can be kept off it.
      problems.push({
        field: 'controllers',
        message:
          `ip route get ${ip} found no route to the controller; ` +
          'the controller path cannot be protected, so nothing is applied until it can',
      });
      continue;
    }
    // The device after the VRFs are built (a lease's default through a member does not count): controller.ts.
    const dev = egress ? controllerEgress(ip, rg.dev, observed, egress) : rg.dev;
    if (dev !== null) visit(dev, ip, 0);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------

const holderIndex = new WeakMap<ObservedHost, Map<string, string[]>>();

/** The devices that hold `ip` (canonical), sorted; indexed once per observed host. */
function holdersOf(observed: ObservedHost, ip: string): string[] {
  let idx = holderIndex.get(observed);
  if (!idx) {
    idx = new Map();
    for (const a of observed.addrs) {
      const devs = idx.get(a.address) ?? [];
      if (!devs.includes(a.dev)) devs.push(a.dev);
      idx.set(a.address, devs);
    }
    for (const devs of idx.values()) devs.sort(cmp);
    holderIndex.set(observed, idx);
  }
  return idx.get(ip) ?? [];
}

interface MemberResult {
  members: string[];
  addresses: MemberAddress[];
  /** Binding interfaces that are not on this machine. */
  missing: string[];
  /** Binding addresses not on the host although their link is. */
  stale: string[];
}

function resolveMembers(
  c: Candidate,
  ifs: readonly BindingInterface[],
  observed: ObservedHost,
  ledger: Ledger,
  links: LinkIndex,
  problems: Problem[],
): MemberResult {
  const members = new Set<string>();
  const stale: string[] = [];
  const missing: string[] = [];
  for (const bi of [...ifs].sort((a, b) => cmp(a.name, b.name))) {
    let found = false;
    for (const ba of bi.addresses) {
      const ip = tryCanonicalIp(ba.address);
      const holders = ip === null ? [] : holdersOf(observed, ip);
      if (holders.length > 1) {
        problems.push({
          field: c.field,
          message:
            `address ${ip ?? ba.address} of binding ${c.binding} is on several devices (${holders.join(', ')});` +
            ` cannot tell which one to enslave`,
        });
        found = true;
        continue;
      }
      if (holders[0] !== undefined) {
        members.add(holders[0]);
        found = true;
      }
    }
    if (found) continue;
    if (links.has(bi.name)) {
      // network-get names a link here but none of its addresses is on it (yet): enslave
      // what it names, take only the addresses the host really has.
      const dev = links.l3Of(bi.name);
      members.add(dev);
      if (bi.addresses.length > 0) {
        stale.push(`${bi.addresses.map((a) => a.address).join(', ')} (${bi.name})`);
      }
      continue;
    }
    missing.push(`${bi.name}${bi.addresses.length ? ` (${bi.addresses.map((a) => a.address).join(', ')})` : ''}`);
  }
  // A member must be an L3 device we may enslave.
  for (const dev of [...members].sort(cmp)) {
    const l = links.get(dev);
    const bad = ifNameProblem(dev);
    if (bad !== null) {
      problems.push({ field: c.field, message: `cannot manage interface ${JSON.stringify(dev)}: ${bad}` });
      members.delete(dev);
      continue;
    }
    if (!l) {
      problems.push({
        field: c.field,
        message: `${dev} holds an address of binding ${c.binding} but is not among the host's links`,
      });
      members.delete(dev);
      continue;
    }
    if (dev === 'lo' || l.kind === 'vrf') {
      problems.push({
        field: c.field,
        message: `${dev} is ${dev === 'lo' ? 'the loopback device' : 'a VRF device'} and cannot be a member of ${c.vrf}`,
      });
      members.delete(dev);
      continue;
    }
    if (l.master !== null) {
      const m = links.get(l.master);
      if (m?.kind === 'vrf') {
        if (m.name !== c.vrf && ledger.vrfs[m.name] === undefined) {
          problems.push({
            field: c.field,
            message: `${dev} is already in VRF ${m.name}, which vrf-host did not create`,
          });
          members.delete(dev);
        }
        continue;
      }
      problems.push({
        field: c.field,
        message:
          `${dev} holds an address of binding ${c.binding} but is a port of ${l.master}${m?.kind ? ` (${m.kind})` : ''};` +
          ` a port is never enslaved`,
      });
      members.delete(dev);
    }
  }
  const memberList = [...members].sort(cmp);
  const addresses: MemberAddress[] = [];
  const seen = new Set<string>();
  for (const a of observed.addrs) {
    if (!members.has(a.dev) || a.scope !== 'global') continue;
    const key = `${a.dev}|${a.address}`;
    if (seen.has(key)) continue;
    seen.add(key);
    addresses.push({
      dev: a.dev,
      family: a.family,
      address: a.address,
      prefixlen: a.prefixlen,
      subnet: subnetOf(a.address, a.prefixlen),
    });
  }
  addresses.sort((a, b) => cmp(a.dev, b.dev) || cmp(a.family, b.family) || compareIp(a.address, b.address));
  return { members: memberList, addresses, missing, stale };
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

function resolveRoutes(
  v: Resolved,
  gateways: DesiredVrf['gateways'],
  inputs: EngineInputs,
  problems: Problem[],
): RouteSpec[] {
  const out = new Map<string, RouteSpec>();
  const subnetsText = (f: Family): string =>
    [...new Set(v.addresses.filter((a) => a.family === f).map((a) => a.subnet))].sort().join(', ') || 'none';
  const add = (field: string, to: string, via: string | undefined, metric: number | undefined): void => {
    const family: Family = to.includes(':') ? 'inet6' : 'inet';
    const onLink = v.addresses.find((a) => cidrWithin(to, a.subnet));
    if (onLink) {
      problems.push({
        field,
        message: `${to} lies within ${v.vrf}'s connected subnet ${onLink.subnet}; only remote prefixes can be routed`,
      });
      return;
    }
    let hop = via;
    if (hop === undefined) {
      const gw = gateways[family];
      if (!gw) {
        problems.push({ field, message: `${to} has no via and ${v.vrf} has no ${familyName(family)} gateway` });
        return;
      }
      hop = gw.address;
    } else if (
      !v.addresses.some((a) => a.family === family && cidrContains(a.subnet, hop as string)) &&
      !cidrContains('fe80::/10', hop)
    ) {
      problems.push({ field, message: `via ${hop} is outside ${v.vrf}'s subnets (${subnetsText(family)})` });
      return;
    } else if (cidrContains('fe80::/10', hop) && hop !== gateways.inet6?.address && v.members.length > 1) {
      // A link-local address names no link: with several members the route would have no dev.
      problems.push({
        field,
        message: `via ${hop} is link-local and ${v.vrf} has several members (${v.members.join(', ')}); give a global next hop`,
      });
      return;
    }
    const spec: RouteSpec = { to, via: hop, ...(metric !== undefined ? { metric } : {}) };
    const prev = out.get(to);
    if (prev && (prev.via !== spec.via || prev.metric !== spec.metric)) {
      problems.push({ field, message: `${to} is already routed for ${v.vrf} via ${prev.via ?? '?'}` });
      return;
    }
    out.set(to, spec);
  };
  (v.entry?.routes ?? []).forEach((r, i) => add(`vrfs: ${v.vrf}.routes[${i}]`, r.to, r.via, r.metric));
  for (const sr of inputs.config.spaceRoutes) {
    if (sr.key !== v.vrf && sr.key !== v.binding) continue;
    add(`space-routes: entry "${spaceRouteText(sr)}"`, sr.to, sr.via, undefined);
  }
  return [...out.values()].sort((a, b) => cmp(a.to, b.to));
}

// ---------------------------------------------------------------------------

/** The L3 devices a binding's interfaces stand for: the holder of an address, else the named link's L3 device. */
function l3Names(ifs: readonly BindingInterface[], observed: ObservedHost, links: LinkIndex): string[] {
  const out = new Set<string>();
  for (const bi of ifs) {
    const held = bi.addresses
      .map((ba) => tryCanonicalIp(ba.address))
      .flatMap((ip) => (ip === null ? [] : holdersOf(observed, ip)));
    if (held.length > 0) held.forEach((d) => out.add(d));
    else out.add(links.has(bi.name) ? links.l3Of(bi.name) : bi.name);
  }
  return [...out].sort(cmp);
}

const sameList = (x: readonly string[], y: readonly string[]): boolean =>
  x.length === y.length && x.every((n, i) => n === y[i]);

/** What every phase of deriveDesired reads, and the problems, warnings and in-main bindings they report. */
interface Derivation {
  readonly inputs: EngineInputs;
  /** The desired state of the last apply (state.json), if any: what a space held back keeps. */
  readonly previous: DesiredState | null;
  readonly config: EngineConfig;
  readonly observed: ObservedHost;
  readonly ledger: Ledger;
  readonly links: LinkIndex;
  /** `vrfs` is set: the operator names every VRF. */
  readonly explicit: boolean;
  readonly problems: Problem[];
  readonly warnings: Warning[];
  readonly inMain: InMainBinding[];
  readonly held: HeldSpace[];
}

/**
 * Derive the desired state, or every problem that forbids applying anything. The phases run in
 * order, each reading what the one before produced, all reporting into the same problem list.
 */
export function deriveDesired(
  inputs: EngineInputs,
  observed: ObservedHost,
  ledger: Ledger,
  previous: DesiredState | null = null,
): DeriveResult {
  const d: Derivation = {
    inputs,
    previous,
    config: inputs.config,
    observed,
    ledger,
    links: new LinkIndex(observed.links),
    explicit: inputs.config.vrfs !== null,
    problems: [],
    warnings: [],
    inMain: [],
    held: [],
  };
  const candidates = d.explicit ? configuredCandidates(d) : automaticCandidates(d);
  warnMissingExclusions(d);
  const resolved = resolveCandidates(d, candidates);
  checkOwnership(d, resolved);
  const vrfs = withTablesAndGateways(d, resolved);
  warnUnmatchedKeys(d, resolved);
  if (vrfs.length > 0) checkKernel(d);

  const warnings = dedupe(d.warnings);
  if (d.problems.length > 0) return { ok: false, problems: dedupe(d.problems), warnings };
  return {
    ok: true,
    desired: {
      vrfs: vrfs.sort((a, b) => cmp(a.name, b.name)),
      inMain: d.inMain.sort((a, b) => cmp(a.binding, b.binding) || cmp(a.reason, b.reason)),
      options: d.config.options,
    },
    warnings,
    held: d.held,
  };
}

/** Automatic mode: one candidate per space role, unless it is on the default binding's devices. */
function automaticCandidates(d: Derivation): Candidate[] {
  const { bindings } = d.inputs;
  const defaultBinding = bindings[DEFAULT_BINDING];
  const defaultDevs = defaultBinding === undefined ? null : l3Names(defaultBinding, d.observed, d.links);
  const out: Candidate[] = [];
  for (const role of [...SPACE_ROLES].sort(cmp)) {
    const ifs = bindings[role];
    if (ifs === undefined) continue;
    const devs = l3Names(ifs, d.observed, d.links);
    if (defaultDevs !== null && sameList(devs, defaultDevs)) {
      d.inMain.push({ binding: role, reason: 'same-as-default', interfaces: devs });
      continue;
    }
    out.push({ vrf: role, binding: role, field: role });
  }
  return out;
}

/** Explicit mode: one candidate per `vrfs` entry whose binding the unit has. */
function configuredCandidates(d: Derivation): Candidate[] {
  const { bindings } = d.inputs;
  const known = Object.keys(bindings).sort(cmp).join(', ') || 'none';
  const out: Candidate[] = [];
  for (const [name, entry] of Object.entries(d.config.vrfs ?? {}).sort(([a], [b]) => cmp(a, b))) {
    if (bindings[entry.binding] === undefined) {
      d.problems.push({
        field: `vrfs: ${name}.binding`,
        message: `"${entry.binding}" is not a binding of this unit (bindings: ${known})`,
      });
      continue;
    }
    out.push({ vrf: name, binding: entry.binding, field: `vrfs: ${name}`, entry });
  }
  return out;
}

/** Excluded interfaces that do not exist: a warning only. */
function warnMissingExclusions(d: Derivation): void {
  for (const name of d.config.excludeInterfaces) {
    if (!d.links.has(name)) {
      d.warnings.push({ field: 'exclude-interfaces', message: `${name} does not exist on this machine` });
    }
  }
}

/** Each candidate's members, minus those on the controller path, excluded, or shared with an earlier twin. */
function resolveCandidates(d: Derivation, candidates: readonly Candidate[]): Resolved[] {
  const { links, ledger } = d;
  const moving = new Set(candidates.flatMap((c) => l3Names(d.inputs.bindings[c.binding] ?? [], d.observed, links)));
  const path = controllerPath(d.inputs.controllers, d.observed, d.problems, {
    moving: (dev) => moving.has(links.l3Of(dev)),
    enslaved: (dev) => {
      const master = links.get(dev)?.master ?? null;
      return master !== null && ledger.vrfs[master] !== undefined && links.get(master)?.kind === 'vrf';
    },
  });
  const resolved: Resolved[] = [];
  for (const candidate of candidates) {
    const nameProblem = vrfNameProblem(candidate.vrf);
    if (nameProblem !== null) {
      d.problems.push({ field: candidate.field, message: `is not a valid VRF name: ${nameProblem}` });
      continue;
    }
    const ifs = d.inputs.bindings[candidate.binding] ?? [];
    const found = resolveMembers(candidate, ifs, d.observed, d.ledger, d.links, d.problems);
    if (!reportMembers(d, candidate, ifs, found)) continue;
    const onPath = found.members.filter((m) => path.has(m));
    if (onPath.length > 0) {
      d.inMain.push({ binding: candidate.binding, reason: 'controller-path', interfaces: found.members });
      if (d.explicit) {
        const via = onPath.map((m) => `${m} → ${path.get(m) ?? '?'}`).join(', ');
        d.warnings.push({
          field: candidate.field,
          message: `binding ${candidate.binding} carries the path to the controller (${via}); left in the main table`,
        });
      }
      continue;
    }
    const excluded = found.members.filter((m) => isExcluded(d, m, ifs));
    if (excluded.length > 0) d.inMain.push({ binding: candidate.binding, reason: 'excluded', interfaces: excluded });
    const members = found.members.filter((m) => !excluded.includes(m));
    if (members.length === 0) continue;
    // Automatic mode: two roles bound to the same space (the same L3 devices) share one VRF,
    // named after the first role; Juju lets an operator bind several endpoints to one space.
    const twin = d.explicit ? undefined : resolved.find((v) => sameList(v.members, members));
    if (twin !== undefined) {
      twin.aliases.push(candidate.binding);
      d.warnings.push({
        field: candidate.field,
        message:
          `binding ${candidate.binding} is on the same interfaces as ${twin.binding} (${members.join(', ')});` +
          ` it shares the VRF ${twin.vrf}`,
      });
      continue;
    }
    resolved.push({
      ...candidate,
      members,
      addresses: found.addresses.filter((a) => members.includes(a.dev)),
      aliases: [],
    });
  }
  return resolved;
}

/** Reports missing and stale binding interfaces; false when the candidate has no member at all. */
function reportMembers(
  d: Derivation,
  candidate: Candidate,
  ifs: readonly BindingInterface[],
  found: MemberResult,
): boolean {
  const { field, binding } = candidate;
  if (found.members.length === 0) {
    if (found.missing.length > 0 || ifs.length === 0) {
      const what = found.missing.length ? ` (network-get reports ${found.missing.join(', ')})` : '';
      d.problems.push({ field, message: `binding ${binding} has no interface on this machine${what}` });
    }
    return false;
  }
  if (found.missing.length > 0) {
    d.warnings.push({ field, message: `binding ${binding}: ${found.missing.join(', ')} not on this machine; ignored` });
  }
  if (found.stale.length > 0) {
    d.warnings.push({
      field,
      message: `binding ${binding}: address ${found.stale.join(', ')} is not on this machine; using the addresses the host has`,
    });
  }
  return true;
}

/** exclude-interfaces names the member itself, or a binding interface (a bridge or bond port) whose L3 device it is. */
function isExcluded(d: Derivation, member: string, ifs: readonly BindingInterface[]): boolean {
  const excludes = d.config.excludeInterfaces;
  if (excludes.includes(member)) return true;
  return ifs.some(
    (bi) =>
      bi.name !== member && excludes.includes(bi.name) && d.links.has(bi.name) && d.links.l3Of(bi.name) === member,
  );
}

/** An interface belongs to at most one VRF; a VRF's name must not be another link's, or a VRF vrf-host did not make. */
function checkOwnership(d: Derivation, resolved: readonly Resolved[]): void {
  const owner = new Map<string, string>();
  for (const vrf of resolved) {
    for (const member of vrf.members) {
      const other = owner.get(member);
      if (other !== undefined) {
        d.problems.push({
          field: vrf.field,
          message:
            `${member} would be in both ${other} and ${vrf.vrf};` +
            ` an interface belongs to at most one VRF${d.explicit ? '' : ' (set vrfs to choose one)'}`,
        });
      } else owner.set(member, vrf.vrf);
    }
    const link = d.links.get(vrf.vrf);
    if (link && link.kind !== 'vrf') {
      d.problems.push({
        field: vrf.field,
        message: `a link named ${vrf.vrf} already exists and is ${describeKind(link)}, not a VRF`,
      });
    } else if (link && d.ledger.vrfs[vrf.vrf] === undefined) {
      d.problems.push({
        field: vrf.field,
        message: `a VRF named ${vrf.vrf} already exists that vrf-host did not create; remove it or choose another name`,
      });
    }
  }
}

/** Each VRF's table, gateways and routes: the desired VRFs (those whose table could be assigned). */
function withTablesAndGateways(d: Derivation, resolved: readonly Resolved[]): DesiredVrf[] {
  const requests: TableRequest[] = resolved.map((vrf) => ({
    vrf: vrf.vrf,
    field: d.explicit ? `vrfs: ${vrf.vrf}.table` : `${vrf.vrf}.table`,
    ...(vrf.entry?.table !== undefined ? { configured: vrf.entry.table } : {}),
  }));
  const tables = assignTables(requests, d.config.tableRange, d.observed, d.ledger);
  d.problems.push(...tables.problems);

  const netplan = parseNetplanGateways(d.inputs.netplan);
  d.warnings.push(...netplan.warnings);
  const env: GatewayEnv = prepareGatewayEnv({
    observed: d.observed,
    ledger: d.ledger,
    config: d.config,
    netplan: netplan.gateways,
  });
  const vrfs: DesiredVrf[] = [];
  for (const vrf of resolved) {
    const { vrf: name, binding, members, addresses, entry, aliases } = vrf;
    const found = deriveGateways({ vrf: name, binding, members, addresses, aliases, ...(entry ? { entry } : {}) }, env);
    d.problems.push(...found.problems);
    d.warnings.push(...found.warnings);
    const routes = resolveRoutes(vrf, found.gateways, d.inputs, d.problems);
    const table = tables.tables.get(name);
    if (!table) continue;
    if (found.missing.length > 0) {
      const kept = holdBack(d, vrf, found.gateways, found.missing, resolved);
      if (kept !== null) vrfs.push(kept);
      continue;
    }
    vrfs.push({
      name,
      binding,
      table: table.table,
      tableSource: table.source,
      members,
      addresses,
      gateways: found.gateways,
      routes,
    });
  }
  return vrfs;
}

/**
 * A space with a family that has addresses but no known gateway: enslaving it would send that
 * family's replies into a table with no way out, so nothing is applied for it (the warning
 * makes the status Blocked). A VRF vrf-host built for it before stays exactly as the last
 * apply left it; otherwise the space stays in the main table, as it was. Unless another space
 * binds one of that VRF's members now (a binding moved): the VRF as it was is then no longer
 * this space's to keep (keeping it would hold the device another space names, or put it in two
 * VRFs at once); the space is held in main like one never built, and the VRF, no longer
 * wanted, goes as an unbound space's does.
 */
function holdBack(
  d: Derivation,
  vrf: Resolved,
  gateways: DesiredVrf['gateways'],
  missing: readonly Family[],
  resolved: readonly Resolved[],
): DesiredVrf | null {
  const before = d.previous?.vrfs.find((v) => v.name === vrf.vrf);
  const claimed = (before?.members ?? []).flatMap((m) =>
    resolved.filter((o) => o.vrf !== vrf.vrf && o.members.includes(m)).map((o) => `${m} (${o.binding})`),
  );
  if (claimed.length > 0)
    d.warnings.push({
      field: vrf.vrf,
      message: `the VRF built for ${vrf.binding} is not kept: another space binds ${claimed.join(', ')} now`,
    });
  const keptAsBefore = before !== undefined && d.ledger.vrfs[vrf.vrf] === before.table && claimed.length === 0;
  d.held.push({ vrf: vrf.vrf, binding: vrf.binding, members: vrf.members, gateways, missing, keptAsBefore });
  if (keptAsBefore) return before;
  d.inMain.push({ binding: vrf.binding, reason: 'no-gateway', interfaces: vrf.members });
  return null;
}

/** gateways and space-routes entries that match no VRF: a typo must not pass silently. */
function warnUnmatchedKeys(d: Derivation, resolved: readonly Resolved[]): void {
  const { config } = d;
  const vrfNames = new Set(resolved.map((v) => v.vrf));
  const vrfBindings = new Set(resolved.flatMap((v) => [v.binding, ...v.aliases]));
  const matches = (key: string): boolean => vrfNames.has(key) || vrfBindings.has(key);
  const mainReason = new Map(d.inMain.map((m) => [m.binding, m.reason]));
  const explicitNames = new Set(Object.keys(config.vrfs ?? {}));
  const unmatched = (option: string, entry: string, key: string): void => {
    const binding = explicitNames.has(key) ? (config.vrfs?.[key]?.binding ?? key) : key;
    const reason = mainReason.get(binding);
    const field = `${option}: entry "${entry}"`;
    if (reason !== undefined)
      d.warnings.push({ field, message: `is unused: ${binding} stays in the main table (${reason})` });
    else if (explicitNames.has(key) || d.inputs.bindings[key] !== undefined)
      d.warnings.push({ field, message: `is unused: ${key} is not a VRF` });
    else d.warnings.push({ field, message: 'matches no VRF or binding' });
  };
  const subnets = new Set(resolved.flatMap((v) => v.addresses.map((a) => a.subnet)));
  for (const gateway of config.gateways) {
    const entry = `${gateway.key}=${gateway.address}`;
    if (gateway.keyKind === 'cidr') {
      if (!subnets.has(gateway.key))
        d.warnings.push({ field: `gateways: entry "${entry}"`, message: 'matches no member subnet of any VRF' });
    } else if (!matches(gateway.key)) unmatched('gateways', entry, gateway.key);
  }
  for (const route of config.spaceRoutes) {
    if (!matches(route.key)) unmatched('space-routes', spaceRouteText(route), route.key);
  }
}

/** `KEY=CIDR[@VIA]`, as the operator wrote the space-routes entry. */
function spaceRouteText(route: SpaceRoute): string {
  return `${route.key}=${route.to}${route.via ? `@${route.via}` : ''}`;
}

/** What the kernel must offer before anything is built (checked only when there is something to build). */
function checkKernel(d: Derivation): void {
  if (!d.observed.vrfModule && d.observed.container) d.problems.push(noVrfModule(true));
  if (!d.config.options.l3mdevAccept) return;
  for (const [key, version] of [
    [SYSCTL.tcpL3mdev, '4.5'],
    [SYSCTL.udpL3mdev, '4.11'],
  ] as const) {
    if (d.observed.sysctls[key] === null) {
      d.problems.push({ field: 'kernel', message: `${key} is missing: VRF sockets need Linux ${version} or newer` });
    }
  }
}

/** The problem of a host without the vrf module; `detail` says why loading it failed. */
export function noVrfModule(container: boolean, detail = ''): Problem {
  const where = 'no vrf kernel module: load it on the host (modprobe vrf)';
  return { field: 'kernel', message: container ? `${where}; a container cannot load modules` : `${where}${detail}` };
}

function dedupe<T extends { field: string; message: string }>(xs: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const x of xs) {
    const k = `${x.field}\u0000${x.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(x);
  }
  return out;
}

/** Canonical controller IPs (ports already stripped by the caller); invalid ones are dropped. */
export function canonicalControllers(addrs: readonly string[]): string[] {
  return [...new Set(addrs.map((a) => tryCanonicalIp(a)).filter((a): a is string => a !== null))].sort(compareIp);
}
