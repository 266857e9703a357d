/**
 * A model of what the kernel does with our steps, after
 * Documentation/networking/vrf.rst and net/ipv4, net/ipv6 behaviour:
 *
 * - creating the first VRF of a namespace adds the l3mdev rule (pref 1000, protocol kernel)
 *   for both families, unless an identical rule is there (EEXIST is ignored); the kernel does
 *   this once per namespace: the rule stays after the last VRF is deleted, and a VRF created
 *   after someone deleted it does not bring it back (Debian 6.1, tests/kernel);
 * - a rule added without `protocol` is `protocol unspec`; two rules that differ only in their
 *   protocol are both kept;
 * - enslaving (and releasing) cycles the device down and up, and with it every
 *   device stacked on it that follows it down (cycleOf: its VLANs): every route via
 *   a device that goes down, in every table and both families, is dropped; the
 *   connected and local routes come back in the table of each device's master (the
 *   VRF's table, or main/local); without net.ipv6.conf.all.keep_addr_on_down=1 the
 *   cycle also drops those devices' global IPv6 addresses;
 * - deleting a VRF releases its members and drops the routes via the VRF device;
 *   the other entries of its table (e.g. an unreachable default) stay;
 * - `route replace` overwrites the entry with the same (table, prefix, metric);
 *   `route del` removes the first entry that matches; rules and sysctls are
 *   added, deleted and set as asked.
 *
 * It is used by the planner (to know what the host looks like after the
 * structural steps) and by the property tests. Everything is indexed by
 * canonical keys so that large hosts stay fast.
 */
import ipaddr from 'ipaddr.js';
import { subnetOf } from './addr.js';
import { effectiveMetric, routeId, slotOfRoute } from './plan/keys.js';
import type {
  Addr,
  Family,
  Link,
  ObservedHost,
  Route,
  RouteTarget,
  Rule,
  RuleTarget,
  Step,
  StepKind,
} from './types.js';
import { FAMILIES, L3MDEV_PRIORITY, SYSCTL, TABLE } from './types.js';
import { VrfError } from './errors.js';

export class KernelModelError extends VrfError {
  override name = 'KernelModelError';
}

/** The routes the kernel keeps for one address of an up device (connected, local, broadcast). */
export function kernelRoutesFor(a: Addr, mainTable: number, localTable: number): Route[] {
  type Varying = Pick<Route, 'table' | 'dst' | 'type' | 'scope' | 'metric' | 'prefsrc'>;
  const kernelRoute = ({ table, dst, type, scope, metric, prefsrc }: Varying): Route => ({
    family: a.family,
    gateway: null,
    dev: a.dev,
    table,
    dst,
    type,
    protocol: 'kernel',
    scope,
    metric,
    prefsrc,
  });
  const subnet = subnetOf(a.address, a.prefixlen);
  const out: Route[] = [];
  if (a.family === 'inet') {
    const v4 = { metric: null, prefsrc: a.address };
    if (a.prefixlen < 32)
      out.push(kernelRoute({ ...v4, table: mainTable, dst: subnet, type: 'unicast', scope: 'link' }));
    out.push(kernelRoute({ ...v4, table: localTable, dst: `${a.address}/32`, type: 'local', scope: 'host' }));
    if (a.prefixlen < 31) {
      const bcast = ipaddr.IPv4.broadcastAddressFromCIDR(`${a.address}/${a.prefixlen}`).toString();
      out.push(kernelRoute({ ...v4, table: localTable, dst: `${bcast}/32`, type: 'broadcast', scope: 'link' }));
    }
  } else {
    const v6 = { scope: 'global', prefsrc: null };
    if (a.prefixlen < 128)
      out.push(kernelRoute({ ...v6, table: mainTable, dst: subnet, type: 'unicast', metric: 256 }));
    out.push(kernelRoute({ ...v6, table: localTable, dst: `${a.address}/128`, type: 'local', metric: 0 }));
    // One per IPv6 device (entries are de-duplicated by their identity).
    out.push(kernelRoute({ ...v6, table: localTable, dst: 'ff00::/8', type: 'multicast', metric: 256 }));
  }
  return out;
}

/** A route as the kernel stores it after `ip route replace` of a target. */
export function routeOfTarget(t: RouteTarget): Route {
  const unreachable = t.type === 'unreachable';
  return {
    family: t.family,
    table: t.table,
    dst: t.dst,
    type: t.type,
    gateway: t.gateway ?? null,
    dev: unreachable ? (t.family === 'inet6' ? 'lo' : null) : (t.dev ?? null),
    protocol: t.protocol ?? 'boot',
    scope:
      t.scope ??
      (t.family === 'inet' && !unreachable && t.gateway === undefined && t.dev !== undefined ? 'link' : 'global'),
    metric: t.family === 'inet6' ? effectiveMetric('inet6', t.metric) : (t.metric ?? null),
    prefsrc: t.prefsrc ?? null,
  };
}

export function ruleOfTarget(t: RuleTarget): Rule {
  const protocol = t.protocol ?? 'unspec';
  if (t.l3mdev === true) return l3mdevRule(t.family, t.priority, protocol);
  return {
    family: t.family,
    priority: t.priority,
    src: t.src ?? null,
    dst: t.dst ?? null,
    table: t.table,
    l3mdev: false,
    iif: null,
    oif: null,
    fwmark: null,
    action: 'lookup',
    protocol,
  };
}

function l3mdevRule(family: Family, priority: number = L3MDEV_PRIORITY, protocol = 'kernel'): Rule {
  return {
    family,
    priority,
    src: null,
    dst: null,
    table: null,
    l3mdev: true,
    iif: null,
    oif: null,
    fwmark: null,
    action: 'lookup',
    protocol,
  };
}

/** Same protocol, where both rules say (a rule observed without one matches any). */
function sameProtocol(a: Rule, b: Rule): boolean {
  return a.protocol === undefined || b.protocol === undefined || a.protocol === b.protocol;
}

/** What a down/up cycle of one device does to the host's links (cycleOf). */
export interface Cycle {
  /** The devices that go down, the cycled one first (empty when it is down: nothing happens). */
  readonly down: readonly string[];
  /** The devices that are up afterwards: those of `down`, and every VLAN that comes up with its lower device. */
  readonly up: readonly string[];
}

/**
 * What a down/up cycle of `dev` takes down: the one rule the model and the planner use. The VRF
 * driver cycles a device it enslaves or releases (drivers/net/vrf.c, cycle_netdev: only a running
 * device). Its NETDEV_DOWN closes every VLAN on it, so a VLAN of that VLAN too, unless the VLAN has
 * loose_binding (net/8021q/vlan.c, vlan_device_event); its NETDEV_UP opens every such VLAN again,
 * one that was down before included. A bridge whose port is such a VLAN, a macvlan or an ipvlan
 * only lose their carrier for the moment: they stay up, and their routes stay. Measured on
 * Debian's 6.1 (DEVELOPERS.md, "Stacked devices cycle with their lower device"). Read from the
 * observed links (`lower`, `looseBinding`), never from names.
 */
export function cycleOf(links: Iterable<Link>, dev: string): Cycle {
  const vlansOf = new Map<string, Link[]>();
  let self: Link | undefined;
  for (const l of links) {
    if (l.name === dev) self = l;
    if (l.kind !== 'vlan' || l.lower === null || l.looseBinding) continue;
    const on = vlansOf.get(l.lower);
    if (on) on.push(l);
    else vlansOf.set(l.lower, [l]);
  }
  if (self === undefined || !self.up) return { down: [], up: [] };
  const walk = (keep: (l: Link) => boolean): string[] => {
    const out = [dev];
    for (let i = 0; i < out.length; i++)
      for (const v of vlansOf.get(out[i]!) ?? []) if (keep(v) && !out.includes(v.name)) out.push(v.name);
    return out;
  };
  return { down: walk((v) => v.up), up: walk(() => true) };
}

export interface ModelOptions {
  /**
   * The namespace has had a VRF before (the kernel's once-per-namespace l3mdev rules are done):
   * creating a VRF adds no l3mdev rule. Default: the host has a VRF now.
   */
  readonly hadVrf?: boolean;
}

/** A mutable, indexed copy of a host that steps can be applied to. */
export class KernelModel {
  private readonly links = new Map<string, Link>();
  private linkOrder: string[] = [];
  private readonly addrsByDev = new Map<string, Addr[]>();
  /** slot → entries in that slot. */
  private readonly slots = new Map<string, Route[]>();
  /** dev → slots that held an entry via dev (may be stale; entries are re-checked). */
  private readonly slotsByDev = new Map<string, Set<string>>();
  /** table → slots that held an entry in it (may be stale). */
  private readonly slotsByTable = new Map<number, Set<string>>();
  private rules: Rule[];
  private readonly sysctls: Record<string, string | null>;
  private nextIfindex = 1;
  /** The kernel's per-namespace "l3mdev rules added" (drivers/net/vrf.c add_fib_rules, inverted). */
  private l3mdevRulesDone: boolean;

  constructor(
    private readonly base: ObservedHost,
    opts: ModelOptions = {},
  ) {
    this.l3mdevRulesDone = opts.hadVrf ?? base.links.some((l) => l.kind === 'vrf');
    for (const l of base.links) {
      this.links.set(l.name, l);
      this.linkOrder.push(l.name);
      if (l.ifindex >= this.nextIfindex) this.nextIfindex = l.ifindex + 1;
    }
    for (const a of base.addrs) this.addrList(a.dev).push(a);
    for (const r of base.routes) this.insert(r, false);
    this.rules = [...base.rules];
    this.sysctls = { ...base.sysctls };
  }

  // -- queries ---------------------------------------------------------------

  link(name: string): Link | undefined {
    return this.links.get(name);
  }

  allLinks(): Link[] {
    return this.linkOrder.map((n) => this.links.get(n)).filter((l): l is Link => l !== undefined);
  }

  addrsOf(dev: string): readonly Addr[] {
    return this.addrsByDev.get(dev) ?? [];
  }

  slot(key: string): readonly Route[] {
    return this.slots.get(key) ?? [];
  }

  /** Every route entry whose dev is `dev`. */
  routesVia(dev: string): Route[] {
    return this.entriesVia(dev).map(([, r]) => r);
  }

  /** Every route entry whose dev is `dev`, with its slot key. */
  entriesVia(dev: string): [string, Route][] {
    const out: [string, Route][] = [];
    for (const k of this.slotsByDev.get(dev) ?? [])
      for (const r of this.slots.get(k) ?? []) if (r.dev === dev) out.push([k, r]);
    return out;
  }

  /** Every route entry of a table, with its slot key. */
  entriesIn(table: number): [string, Route][] {
    const out: [string, Route][] = [];
    for (const k of this.slotsByTable.get(table) ?? []) for (const r of this.slots.get(k) ?? []) out.push([k, r]);
    return out;
  }

  allRoutes(): Route[] {
    const out: Route[] = [];
    for (const s of this.slots.values()) out.push(...s);
    return out;
  }

  allRules(): readonly Rule[] {
    return this.rules;
  }

  sysctl(key: string): string | null | undefined {
    return this.sysctls[key];
  }

  /** The table a device's connected routes live in. */
  tableOf(dev: string): { main: number; local: number } {
    const l = this.links.get(dev);
    const m = l?.master ? this.links.get(l.master) : undefined;
    if (m && m.kind === 'vrf' && m.vrfTable !== null) return { main: m.vrfTable, local: m.vrfTable };
    return { main: TABLE.main, local: TABLE.local };
  }

  snapshot(): ObservedHost {
    const addrs: Addr[] = [];
    for (const n of this.linkOrder) addrs.push(...(this.addrsByDev.get(n) ?? []));
    // Addresses of devices the host does not list as links (kept as they were).
    for (const [dev, list] of this.addrsByDev) if (!this.links.has(dev)) addrs.push(...list);
    return {
      ...this.base,
      links: this.allLinks(),
      addrs,
      routes: this.allRoutes(),
      rules: [...this.rules],
      sysctls: { ...this.sysctls },
    };
  }

  // -- primitive mutations ----------------------------------------------------

  private addrList(dev: string): Addr[] {
    let l = this.addrsByDev.get(dev);
    if (!l) {
      l = [];
      this.addrsByDev.set(dev, l);
    }
    return l;
  }

  /** Adds an entry; with `replace`, it takes the place of every entry in its slot. `slot`: slotOfRoute(r), when known. */
  insert(r: Route, replace: boolean, slot?: string): void {
    const k = slot ?? slotOfRoute(r);
    const cur = this.slots.get(k);
    if (replace || !cur) {
      this.slots.set(k, [r]);
    } else {
      const id = routeId(r);
      if (!cur.some((x) => routeId(x) === id)) cur.push(r);
    }
    let byTable = this.slotsByTable.get(r.table);
    if (!byTable) {
      byTable = new Set();
      this.slotsByTable.set(r.table, byTable);
    }
    byTable.add(k);
    if (r.dev !== null) {
      let s = this.slotsByDev.get(r.dev);
      if (!s) {
        s = new Set();
        this.slotsByDev.set(r.dev, s);
      }
      s.add(k);
    }
  }

  /** `ip route del`: the first entry of the slot that matches the given attributes. */
  deleteRoute(t: RouteTarget): boolean {
    const k = `${t.family}|${t.table}|${t.dst}|${effectiveMetric(t.family, t.metric)}`;
    const cur = this.slots.get(k);
    if (!cur) return false;
    const i = cur.findIndex(
      (r) =>
        r.type === t.type &&
        (t.gateway === undefined || r.gateway === t.gateway) &&
        (t.dev === undefined || t.type === 'unreachable' || r.dev === t.dev),
    );
    if (i < 0) return false;
    cur.splice(i, 1);
    if (cur.length === 0) this.slots.delete(k);
    return true;
  }

  /** Drops every route via `dev` (a device going down, or deleted). */
  dropRoutesVia(dev: string): void {
    const ks = this.slotsByDev.get(dev);
    if (!ks) return;
    for (const k of ks) {
      const cur = this.slots.get(k);
      if (!cur) continue;
      const rest = cur.filter((r) => r.dev !== dev);
      if (rest.length === 0) this.slots.delete(k);
      else this.slots.set(k, rest);
    }
    this.slotsByDev.delete(dev);
  }

  private addKernelRoutes(dev: string): void {
    const l = this.links.get(dev);
    if (!l || !l.up) return;
    const t = this.tableOf(dev);
    for (const a of this.addrsOf(dev)) for (const r of kernelRoutesFor(a, t.main, t.local)) this.insert(r, false);
  }

  /** The down/up cycle the VRF driver does on (un)enslave, with the devices stacked on `dev` (cycleOf). */
  private cycle(dev: string, change: () => void): void {
    if (!this.links.has(dev)) throw new KernelModelError(`no such device ${dev}`);
    const { up } = this.takeDown(dev);
    change();
    for (const d of up) {
      const l = this.links.get(d);
      if (l && !l.up) this.setLink({ ...l, up: true });
      this.addKernelRoutes(d);
    }
  }

  private setLink(l: Link): void {
    if (!this.links.has(l.name)) this.linkOrder.push(l.name);
    this.links.set(l.name, l);
  }

  private createVrf(name: string, table: number): void {
    if (this.links.has(name)) throw new KernelModelError(`RTNETLINK answers: File exists (${name})`);
    this.setLink({
      name,
      ifindex: this.nextIfindex++,
      kind: 'vrf',
      slaveKind: null,
      master: null,
      up: false,
      vrfTable: table,
      lower: null,
      looseBinding: false,
      mac: null,
    });
    if (this.l3mdevRulesDone) return;
    this.l3mdevRulesDone = true;
    for (const f of FAMILIES) {
      const r = l3mdevRule(f);
      if (!this.rules.some((x) => x.family === f && x.l3mdev && x.priority === r.priority && sameProtocol(x, r)))
        this.rules.push(r);
    }
    this.sortRules();
  }

  /** As ip lists them: IPv4 then IPv6, each by priority (stable for equal priorities). */
  private sortRules(): void {
    const fam = (f: Family): number => (f === 'inet' ? 0 : 1);
    this.rules.sort((a, b) => fam(a.family) - fam(b.family) || a.priority - b.priority);
  }

  private deleteVrf(name: string): void {
    const l = this.links.get(name);
    if (!l) throw new KernelModelError(`Cannot find device "${name}"`);
    for (const m of this.allLinks()) if (m.master === name) this.release(m.name);
    this.dropRoutesVia(name);
    this.links.delete(name);
    this.linkOrder = this.linkOrder.filter((n) => n !== name);
    this.addrsByDev.delete(name);
  }

  private enslave(dev: string, vrf: string): void {
    const m = this.links.get(vrf);
    if (!m || m.kind !== 'vrf') throw new KernelModelError(`${vrf} is not a VRF`);
    this.cycle(dev, () => {
      const l = this.links.get(dev)!;
      this.setLink({ ...l, master: vrf, slaveKind: 'vrf' });
    });
  }

  private release(dev: string): void {
    this.cycle(dev, () => {
      const l = this.links.get(dev)!;
      this.setLink({ ...l, master: null, slaveKind: null });
    });
  }

  private linkUp(dev: string): void {
    const l = this.links.get(dev);
    if (!l) throw new KernelModelError(`Cannot find device "${dev}"`);
    if (l.up) return;
    this.setLink({ ...l, up: true });
    this.addKernelRoutes(dev);
  }

  /** `ip link set DEV down`: it goes down with the VLANs on it (cycleOf), and stays down; the VLANs too. */
  private linkDown(dev: string): void {
    if (!this.links.has(dev)) throw new KernelModelError(`Cannot find device "${dev}"`);
    for (const d of this.takeDown(dev).down) {
      const l = this.links.get(d);
      if (l) this.setLink({ ...l, up: false });
    }
  }

  /**
   * `dev` and the devices stacked on it that follow it down (cycleOf) lose every route through them
   * and, without keep_addr_on_down, their global IPv6 addresses.
   */
  private takeDown(dev: string): Cycle {
    const { down, up } = cycleOf(this.allLinks(), dev);
    for (const d of down) {
      this.dropRoutesVia(d);
      if (this.sysctls[SYSCTL.keepAddrOnDown] !== '1') {
        const kept = this.addrsOf(d).filter((a) => a.family !== 'inet6' || a.scope !== 'global');
        this.addrsByDev.set(d, kept);
      }
    }
    return { down, up };
  }

  private ruleDel(t: RuleTarget): void {
    const i = this.rules.findIndex((r) =>
      t.l3mdev === true
        ? r.family === t.family && r.priority === t.priority && r.l3mdev
        : r.family === t.family &&
          r.priority === t.priority &&
          r.table === t.table &&
          r.src === (t.src ?? null) &&
          r.dst === (t.dst ?? null) &&
          !r.l3mdev,
    );
    if (i < 0) throw new KernelModelError(`RTNETLINK answers: No such file or directory (rule ${t.priority})`);
    this.rules.splice(i, 1);
  }

  private ruleAdd(t: RuleTarget): void {
    const r = ruleOfTarget(t);
    const same = (x: Rule): boolean =>
      x.family === r.family &&
      x.priority === r.priority &&
      x.l3mdev === r.l3mdev &&
      sameProtocol(x, r) &&
      (r.l3mdev || (x.table === r.table && x.src === r.src && x.dst === r.dst && x.action === 'lookup'));
    if (this.rules.some(same)) {
      throw new KernelModelError(`RTNETLINK answers: File exists (rule ${t.priority})`);
    }
    // The kernel keeps rules ordered by priority; a new rule goes after those of equal priority
    // (upper bound by binary search: plans add a rule per member address).
    const rank = (x: Rule): number => (x.family === 'inet' ? 0 : 1) * 2 ** 33 + x.priority;
    const key = rank(r);
    let lo = 0;
    let hi = this.rules.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rank(this.rules[mid]!) <= key) lo = mid + 1;
      else hi = mid;
    }
    this.rules.splice(lo, 0, r);
  }

  /** Runs a step; `slot` may carry slotOfTarget(step.route) of a route-add the caller already computed. */
  apply(step: Step, slot?: string): void {
    this.run(step.kind, step, slot);
  }

  private run<K extends StepKind>(kind: K, step: StepOf[K], slot: string | undefined): void {
    KernelModel.HANDLERS[kind](this, step, slot);
  }

  /** What each step kind does; keyed by every kind, so a new kind does not compile until it has a handler. */
  private static readonly HANDLERS: { readonly [K in StepKind]: StepHandler<K> } = {
    'vrf-create': (m, s) => m.createVrf(s.name, s.table),
    // The table of a VRF cannot change: ip deletes the device here; a vrf-create follows.
    'vrf-replace': (m, s) => m.deleteVrf(s.name),
    'vrf-delete': (m, s) => m.deleteVrf(s.name),
    'link-up': (m, s) => m.linkUp(s.dev),
    'link-down': (m, s) => m.linkDown(s.dev),
    enslave: (m, s) => m.enslave(s.dev, s.vrf),
    release: (m, s) => m.release(s.dev),
    'route-add': (m, s, slot) => m.routeAdd(s.route, slot),
    'route-del': (m, s) => {
      if (!m.deleteRoute(s.route))
        throw new KernelModelError(`RTNETLINK answers: No such process (route ${s.route.dst} table ${s.route.table})`);
    },
    'rule-add': (m, s) => m.ruleAdd(s.rule),
    'rule-del': (m, s) => m.ruleDel(s.rule),
    sysctl: (m, s) => {
      m.sysctls[s.key] = s.value;
    },
    // A file: the kernel sees nothing until networkd acts on it.
    'networkd-write': () => undefined,
    'networkd-remove': () => undefined,
  };

  private routeAdd(t: RouteTarget, slot: string | undefined): void {
    if (t.dev !== undefined && t.type === 'unicast' && this.links.get(t.dev)?.up === false) {
      throw new KernelModelError(`Error: Nexthop device is not up (${t.dev})`);
    }
    this.insert(routeOfTarget(t), true, slot);
  }
}

/** Each step kind → its step type. */
type StepOf = { readonly [K in StepKind]: Extract<Step, { readonly kind: K }> };
type StepHandler<K extends StepKind> = (m: KernelModel, step: StepOf[K], slot: string | undefined) => void;

/** The host as the kernel would show it after the steps (throws KernelModelError where ip would fail). */
export function simulate(observed: ObservedHost, steps: readonly Step[], opts: ModelOptions = {}): ObservedHost {
  const m = new KernelModel(observed, opts);
  for (const s of steps) m.apply(s);
  return m.snapshot();
}

/**
 * A host whose kernel-made routes agree with its links and addresses (for tests
 * and the benchmark): connected/local/broadcast routes for every up device, in
 * the table of its master.
 */
export function withKernelRoutes(h: ObservedHost): ObservedHost {
  const byName = new Map(h.links.map((l) => [l.name, l]));
  const routes: Route[] = [...h.routes];
  for (const a of h.addrs) {
    const l = byName.get(a.dev);
    if (!l || !l.up) continue;
    const m = l.master ? byName.get(l.master) : undefined;
    const t = m && m.kind === 'vrf' && m.vrfTable !== null ? m.vrfTable : null;
    routes.push(...kernelRoutesFor(a, t ?? TABLE.main, t ?? TABLE.local));
  }
  const seen = new Set<string>();
  return { ...h, routes: routes.filter((r) => (seen.has(routeId(r)) ? false : (seen.add(routeId(r)), true))) };
}
