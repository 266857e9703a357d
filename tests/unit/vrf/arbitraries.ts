/**
 * Desired-state builders and fast-check arbitraries for the planner, model and
 * teardown tests (observed hosts come from builders.ts).
 */
import fc from 'fast-check';
import { canonicalIp, familyOf, subnetOf } from '../../../src/vrf/addr.js';
import { simulate, withKernelRoutes } from '../../../src/vrf/model.js';
import { unionLedger } from '../../../src/vrf/persist.js';
import { plan } from '../../../src/vrf/plan.js';
import { isKernelRoute } from '../../../src/vrf/plan/keys.js';
import type {
  Addr,
  DerivedGateway,
  DesiredState,
  DesiredVrf,
  Family,
  HostOptions,
  Ledger,
  Link,
  MemberAddress,
  ObservedHost,
  Plan,
  Route,
  RouteSpec,
  Rule,
  Step,
} from '../../../src/vrf/types.js';
import { EMPTY_LEDGER, SYSCTL, withCycle } from '../../../src/vrf/types.js';
import { mkLink, mkRoute, mkRule } from './builders.js';

export function memberAddr(dev: string, cidr: string): MemberAddress {
  const [a, len] = cidr.split('/');
  const address = canonicalIp(a ?? '');
  const prefixlen = Number(len);
  return { dev, family: familyOf(address), address, prefixlen, subnet: subnetOf(address, prefixlen) };
}

export function gw(address: string, source: DerivedGateway['source'] = 'config'): DerivedGateway {
  return { family: familyOf(address), address: canonicalIp(address), source, detail: 'test' };
}

export interface VrfOpts {
  table: number;
  /** dev → its CIDRs. */
  members: Record<string, string[]>;
  gateways?: string[];
  routes?: RouteSpec[];
  binding?: string;
}

export function dvrf(name: string, o: VrfOpts): DesiredVrf {
  const gateways: Partial<Record<Family, DerivedGateway>> = {};
  for (const g of o.gateways ?? []) gateways[familyOf(g)] = gw(g);
  return {
    name,
    binding: o.binding ?? name,
    table: o.table,
    tableSource: 'config',
    members: Object.keys(o.members),
    addresses: Object.entries(o.members).flatMap(([dev, cidrs]) => cidrs.map((c) => memberAddr(dev, c))),
    gateways,
    routes: o.routes ?? [],
  };
}

/** A desired state with every option on, but for those `o` sets. */
export function desired(
  vrfs: DesiredVrf[],
  o: Partial<HostOptions> & Pick<Partial<DesiredState>, 'inMain'> = {},
): DesiredState {
  return {
    vrfs,
    inMain: o.inMain ?? [],
    options: {
      strict: o.strict ?? true,
      moveLocalRule: o.moveLocalRule ?? true,
      preserveReachability: o.preserveReachability ?? true,
      nonlocalBind: o.nonlocalBind ?? true,
      l3mdevAccept: o.l3mdevAccept ?? true,
    },
  };
}

export const FRESH_SYSCTLS: Readonly<Record<string, string>> = {
  [SYSCTL.tcpL3mdev]: '0',
  [SYSCTL.udpL3mdev]: '0',
  [SYSCTL.keepAddrOnDown]: '0',
  [SYSCTL.nonlocalBind4]: '0',
  [SYSCTL.nonlocalBind6]: '0',
};

/** The stock rules as the kernel makes them (`protocol kernel`, as ip -json -details shows them). */
export function stock(): Rule[] {
  return [
    mkRule({ family: 'inet', priority: 0, table: 255, protocol: 'kernel' }),
    mkRule({ family: 'inet', priority: 32766, table: 254, protocol: 'kernel' }),
    mkRule({ family: 'inet', priority: 32767, table: 253, protocol: 'kernel' }),
    mkRule({ family: 'inet6', priority: 0, table: 255, protocol: 'kernel' }),
    mkRule({ family: 'inet6', priority: 32766, table: 254, protocol: 'kernel' }),
  ];
}

/** The l3mdev rules the kernel adds with a namespace's first VRF. */
export function l3mdevRules(): Rule[] {
  return (['inet', 'inet6'] as const).map((family) =>
    mkRule({ family, priority: 1000, l3mdev: true, protocol: 'kernel' }),
  );
}

// ---------------------------------------------------------------------------
// Random topologies
// ---------------------------------------------------------------------------

/** The router that advertises on NICs with `ra` (link-local, as routers' RAs come from). */
export const RA_ROUTER = 'fe80::1';

export interface Scenario {
  readonly observed: ObservedHost;
  readonly desired: DesiredState;
  /**
   * The namespace has had a VRF before (the host shows one, or one came and went): the kernel
   * adds no l3mdev rule with the next VRF. Pass it to simulate() as {hadVrf}.
   */
  readonly hadVrf: boolean;
}

/** A VLAN on a NIC (`ensN.10`): it goes down and up with the NIC (model.ts cycleOf) unless loose-bound. */
interface VlanSpec {
  readonly v4: boolean;
  readonly v6: boolean;
  readonly up: boolean;
  readonly loose: boolean;
  /** A static route in main via the VLAN. */
  readonly staticRoute: boolean;
  /** Index of the VRF it belongs in, or -1. */
  readonly vrf: number;
}

interface NicSpec {
  readonly v4: boolean;
  readonly v6: boolean;
  readonly up: boolean;
  /** A static route in main via this NIC. */
  readonly staticRoute: boolean;
  /** A MAAS-style source rule + policy table for its subnet. */
  readonly maas: boolean;
  /**
   * An IPv6 router advertises on it: `default via fe80::1 proto ra` in main (or, already
   * enslaved, in its VRF's table, where the kernel relearns it).
   */
  readonly ra: boolean;
  /** Index of the VRF it belongs in, or -1 (stays in main). */
  readonly vrf: number;
  /** Already enslaved (to the VRF it belongs in) before planning. */
  readonly pre: boolean;
  /** A VLAN stacked on it, or none. */
  readonly vlan: VlanSpec | null;
}

const vlanSpec = (vrfs: number): fc.Arbitrary<VlanSpec> =>
  fc.record({
    v4: fc.boolean(),
    v6: fc.boolean(),
    up: fc.boolean(),
    loose: fc.boolean(),
    staticRoute: fc.boolean(),
    vrf: fc.integer({ min: -1, max: vrfs - 1 }),
  });

const nicSpec = (vrfs: number): fc.Arbitrary<NicSpec> =>
  fc.record({
    v4: fc.boolean(),
    v6: fc.boolean(),
    up: fc.boolean(),
    staticRoute: fc.boolean(),
    maas: fc.boolean(),
    ra: fc.boolean(),
    vrf: fc.integer({ min: -1, max: vrfs - 1 }),
    pre: fc.boolean(),
    vlan: fc.option(vlanSpec(vrfs), { nil: null, freq: 2 }),
  });

const opts = fc.record({
  strict: fc.boolean(),
  moveLocalRule: fc.boolean(),
  preserveReachability: fc.boolean(),
  nonlocalBind: fc.boolean(),
  l3mdevAccept: fc.boolean(),
  keepAddr: fc.constantFrom('0', '1', '-1'),
  /** Without VRFs now: none ever (false), or one came and went, leaving the l3mdev rules or not. */
  pastVrf: fc.constantFrom('never', 'rules-left', 'rules-deleted'),
  gateways: fc.boolean(),
  extraRoute: fc.boolean(),
  /** The NIC (index) that carries main's IPv4 default route, if it can (IPv4, up, not yet enslaved); -1: none. */
  mainDefault: fc.integer({ min: -1, max: 5 }),
  mainDefaultProto: fc.constantFrom('static', 'dhcp', 'boot'),
});

type Opts = typeof opts extends fc.Arbitrary<infer T> ? T : never;

/** A generated host before any plan, and how to say which of its devices go into which VRF. */
interface Built {
  readonly observed: ObservedHost;
  readonly hadVrf: boolean;
  /** Each device that has addresses, with the VRF index it was generated in (-1: main). */
  readonly devices: ReadonlyArray<{ readonly dev: string; readonly vrf: number }>;
  /** The desired state that puts each device into the VRF `vrfOf` names (-1: none). */
  readonly desiredFor: (vrfOf: (dev: string) => number) => DesiredState;
}

/**
 * A host with NICs ens0..ensN (some with IPv4/IPv6, static routes, MAAS rules, a VLAN stacked on
 * them), and a desired state that puts some of them into up to 3 VRFs. With `pre`, a NIC is
 * already in its VRF (as if an earlier run did part of the job).
 */
function build(nv: number, nics: readonly NicSpec[], o: Opts, allowPre: boolean): Built {
  const links: Link[] = [mkLink('lo', { ifindex: 1 })];
  const addrs: Addr[] = [];
  const routes: Route[] = [];
  const rules: Rule[] = stock();
  const names = Array.from({ length: nv }, (_, i) => `vrf${i}`);
  const cidrsOf = new Map<string, string[]>();
  const devices: Array<{ dev: string; vrf: number }> = [];
  const preVrfs = new Set<number>();
  const raDevs = new Set<string>();
  const addAddrs = (dev: string, cidrs: readonly string[]): void => {
    for (const c of cidrs) {
      const [a, len] = c.split('/');
      addrs.push({ dev, family: familyOf(a!), address: canonicalIp(a!), prefixlen: Number(len), scope: 'global' });
    }
    if (cidrs.length > 0) cidrsOf.set(dev, [...cidrs]);
  };
  nics.forEach((n, i) => {
    const dev = `ens${i}`;
    const inVrf = n.vrf >= 0 && (n.v4 || n.v6);
    const pre = allowPre && inVrf && n.pre;
    if (pre) preVrfs.add(n.vrf);
    links.push({
      name: dev,
      ifindex: i + 2,
      kind: null,
      slaveKind: pre ? 'vrf' : null,
      master: pre ? names[n.vrf]! : null,
      up: n.up,
      vrfTable: null,
      lower: null,
      looseBinding: false,
      mac: null,
    });
    const cidrs: string[] = [];
    if (n.v4) cidrs.push(`10.${i}.0.5/24`);
    if (n.v6) cidrs.push(`2001:db8:${i}::5/64`);
    addAddrs(dev, cidrs);
    if (cidrs.length > 0) devices.push({ dev, vrf: n.vrf });
    if (n.staticRoute && n.v4 && n.up && !pre) {
      routes.push(mkRoute({ dst: `172.${16 + i}.0.0/16`, gateway: `10.${i}.0.254`, dev, protocol: 'static' }));
    }
    if (o.mainDefault === i && n.v4 && n.up && !pre) {
      routes.push(mkRoute({ dst: 'default', gateway: `10.${i}.0.1`, dev, protocol: o.mainDefaultProto, metric: 100 }));
    }
    if (n.maas && n.v4) {
      // As MAAS's `ip rule add` makes them (protocol unspec), or as networkd does (static).
      rules.push(
        mkRule({ priority: 100, src: `10.${i}.0.0/24`, table: 10 + i, protocol: i % 2 === 0 ? 'unspec' : 'static' }),
      );
      if (n.up && !pre)
        routes.push(mkRoute({ dst: 'default', gateway: `10.${i}.0.1`, dev, table: 10 + i, protocol: 'static' }));
    }
    if (n.ra && n.v6 && n.up) {
      routes.push(
        mkRoute({
          dst: '::/0',
          gateway: RA_ROUTER,
          dev,
          protocol: 'ra',
          metric: 1024,
          table: pre ? 1001 + n.vrf : 254,
        }),
      );
      raDevs.add(dev);
    }
    const v = n.vlan;
    if (v !== null) {
      // A VLAN is up only on an up NIC (the kernel refuses to open it otherwise).
      const vdev = `ens${i}.10`;
      const up = v.up && n.up;
      links.push({
        name: vdev,
        ifindex: 50 + i,
        kind: 'vlan',
        slaveKind: null,
        master: null,
        up,
        vrfTable: null,
        lower: dev,
        looseBinding: v.loose,
        mac: null,
      });
      const vc: string[] = [];
      if (v.v4) vc.push(`10.${60 + i}.0.5/24`);
      if (v.v6) vc.push(`2001:db8:${60 + i}::5/64`);
      addAddrs(vdev, vc);
      if (vc.length > 0) devices.push({ dev: vdev, vrf: v.vrf });
      if (v.staticRoute && v.v4 && up)
        routes.push(
          mkRoute({ dst: `172.${40 + i}.0.0/16`, gateway: `10.${60 + i}.0.254`, dev: vdev, protocol: 'static' }),
        );
    }
  });
  names.forEach((name, i) => {
    if (preVrfs.has(i))
      links.push({
        name,
        ifindex: 100 + i,
        kind: 'vrf',
        slaveKind: null,
        master: null,
        up: true,
        vrfTable: 1001 + i,
        lower: null,
        looseBinding: false,
        mac: null,
      });
  });
  // The kernel added the l3mdev rules with the namespace's first VRF (and kept them).
  if (preVrfs.size > 0 || o.pastVrf === 'rules-left') rules.push(...l3mdevRules());
  // As ip lists them: IPv4 then IPv6, each by priority.
  rules.sort((a, b) => Number(a.family === 'inet6') - Number(b.family === 'inet6') || a.priority - b.priority);
  const hadVrf = preVrfs.size > 0 || o.pastVrf !== 'never';
  const sysctls = { ...FRESH_SYSCTLS, [SYSCTL.keepAddrOnDown]: o.keepAddr };
  const observed = withKernelRoutes({
    links,
    addrs,
    routes,
    rules,
    sysctls,
    routeGet: {},
    vrfModule: true,
    container: false,
  });
  const desiredFor = (vrfOf: (dev: string) => number): DesiredState => {
    const members: Record<string, string[]>[] = names.map(() => ({}));
    // Members in device order (NICs, each followed by its VLAN), as the first build listed them.
    for (const { dev } of devices) {
      const i = vrfOf(dev);
      if (i >= 0 && i < nv) members[i]![dev] = cidrsOf.get(dev) ?? [];
    }
    const vrfs = names
      .map((name, i) => {
        const mem = members[i]!;
        if (Object.keys(mem).length === 0) return null;
        const firstDev = Object.keys(mem)[0]!;
        const idx = Number(firstDev.slice(3).split('.')[0]) + (firstDev.includes('.') ? 60 : 0);
        const gws = o.gateways
          ? Object.values(mem)
              .flat()
              .map((c) => (c.includes(':') ? `2001:db8:${c.split(':')[2]}::1` : `10.${c.split('.')[1]}.0.1`))
          : [];
        const uniq = [...new Map(gws.map((g) => [familyOf(g), g])).values()];
        const routesSpec: RouteSpec[] =
          o.extraRoute && mem[firstDev]!.some((c) => !c.includes(':'))
            ? [
                {
                  to: `10.${100 + idx}.0.0/16`,
                  via: `${mem[firstDev]!.find((c) => !c.includes(':'))!
                    .split('.')
                    .slice(0, 3)
                    .join('.')}.254`,
                },
              ]
            : [];
        const v = dvrf(name, { table: 1001 + i, members: mem, gateways: uniq, routes: routesSpec });
        // No configured IPv6 gateway, one member with an RA router: derive's source 5.
        if (
          !o.gateways &&
          Object.keys(mem).length === 1 &&
          raDevs.has(firstDev) &&
          mem[firstDev]!.some((c) => c.includes(':'))
        ) {
          return { ...v, gateways: { ...v.gateways, inet6: gw(RA_ROUTER, 'ra') } };
        }
        return v;
      })
      .filter((v): v is DesiredVrf => v !== null);
    return desired(vrfs, o);
  };
  return { observed, hadVrf, devices, desiredFor };
}

const built = (allowPre: boolean): fc.Arbitrary<Built> =>
  fc
    .integer({ min: 1, max: 3 })
    .chain((nv) => fc.tuple(fc.constant(nv), fc.array(nicSpec(nv), { minLength: 1, maxLength: 6 }), opts))
    .map(([nv, nics, o]) => build(nv, nics, o, allowPre));

function scenarioArb(allowPre: boolean): fc.Arbitrary<Scenario> {
  return built(allowPre).map((b) => {
    const vrfOf = new Map(b.devices.map((d) => [d.dev, d.vrf]));
    return { observed: b.observed, desired: b.desiredFor((dev) => vrfOf.get(dev) ?? -1), hadVrf: b.hadVrf };
  });
}

/** Any topology, some members already enslaved (a partial earlier run). */
export const scenario = scenarioArb(true);
/** A host vrf-host has never touched. */
export const freshScenario = scenarioArb(false);

/** How an evolved host came to be (EvolvedScenario.how). */
export type Evolution = 'converged' | 'partial' | 'drifted';

/**
 * A host that already carries vrf-host's VRFs, and what vrf-host wants of it now. The host is a
 * generated one (NICs, VLANs on them, …) with `prepare` applied (e.g. the unit's controller path),
 * run through a first plan on the kernel model and then: `converged` (all of it ran), `partial`
 * (an apply that stopped after some step, with the ledger written ahead of it, as the engine
 * does) or `drifted` (all of it ran, then some of vrf-host's routes and rules went). The desired
 * state now moves devices between VRFs at random: a VRF gains or loses members, a member moves to
 * another VRF, a VRF goes or a new one comes, or nothing changes.
 */
export interface EvolvedScenario extends Scenario {
  readonly ledger: Ledger;
  readonly how: Evolution;
  /** The first desired state (what the host carries, or was on its way to). */
  readonly was: DesiredState;
}

export function evolvedScenario(prepare: (h: ObservedHost) => ObservedHost = (h) => h): fc.Arbitrary<EvolvedScenario> {
  return fc
    .tuple(
      built(false),
      fc.array(fc.integer({ min: -4, max: 2 }), { minLength: 12, maxLength: 12 }),
      fc.constantFrom<Evolution>('converged', 'partial', 'drifted'),
      fc.nat(),
      fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
    )
    .map(([b, moves, how, cut, drop]) => {
      const first = new Map(b.devices.map((d) => [d.dev, d.vrf]));
      // -4..-2 keep the device where it was (most do), -1 takes it out of every VRF, 0..2 moves it.
      const now = new Map(b.devices.map((d, i) => [d.dev, (moves[i] ?? -2) <= -2 ? d.vrf : moves[i]!]));
      const was = b.desiredFor((dev) => first.get(dev) ?? -1);
      const start = prepare(b.observed);
      const p = plan(was, start, EMPTY_LEDGER);
      const { observed, ledger } = evolveHost(start, p, how, cut, drop, b.hadVrf);
      const hadVrf = b.hadVrf || Object.keys(p.ledger.vrfs).length > 0;
      return { observed, ledger, desired: b.desiredFor((dev) => now.get(dev) ?? -1), hadVrf, how, was };
    });
}

/**
 * A host after a first plan `p` ran on `start`, as `how` says: all of it (`converged`), the steps
 * up to `cut` with the ledger written ahead of them, as the engine does (`partial`), or all of it
 * and then some of vrf-host's routes (in its tables, or through its VRFs) and rules deleted, as
 * `drop` picks them (`drifted`).
 */
export function evolveHost(
  start: ObservedHost,
  p: Plan,
  how: Evolution,
  cut: number,
  drop: readonly boolean[],
  hadVrf: boolean,
): { observed: ObservedHost; ledger: Ledger } {
  if (how === 'partial')
    return {
      observed: simulate(start, p.steps.slice(0, cut % (p.steps.length + 1)), { hadVrf }),
      ledger: unionLedger(EMPTY_LEDGER, p.ledger),
    };
  const after = simulate(start, p.steps, { hadVrf });
  if (how === 'converged') return { observed: after, ledger: p.ledger };
  const tables = new Set(Object.values(p.ledger.vrfs));
  const vrfs = new Set(Object.keys(p.ledger.vrfs));
  let k = 0;
  const keep = (): boolean => !drop[k++ % drop.length];
  return {
    observed: {
      ...after,
      routes: after.routes.filter(
        (r) => isKernelRoute(r) || !(tables.has(r.table) || (r.dev !== null && vrfs.has(r.dev))) || keep(),
      ),
      rules: after.rules.filter((r) => r.priority === 0 || r.priority >= 32766 || r.l3mdev || keep()),
    },
    ledger: p.ledger,
  };
}

/**
 * Where an apply that stops at a failing line can stop: after any step, but not between a cycle
 * and the steps that follow it as part of it (types.ts withCycle).
 */
export function stopAt(steps: readonly Step[], cut: number): number {
  let k = cut % (steps.length + 1);
  while (k < steps.length && withCycle(steps[k]!)) k++;
  return k;
}
