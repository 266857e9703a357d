/**
 * Synthetic multi-VRF hosts for the scale benchmarks: V VRFs, M dummy members
 * (round-robin over the VRFs, one IPv4 /24 each) and R static routes (round-robin
 * over the VRFs that have a member, each via that VRF's gateway). The same spec
 * gives the observed host before convergence (for the in-process planner), the
 * desired state, and the ip lines that build the members on a real kernel.
 */
import { withKernelRoutes } from '../../src/vrf/model.js';
import type { DesiredState, DesiredVrf, Link, ObservedHost, Rule } from '../../src/vrf/types.js';
import { SYSCTL } from '../../src/vrf/types.js';

export interface ScaleSize {
  readonly vrfs: number;
  readonly members: number;
  readonly routes: number;
}

export interface ScaleMember {
  readonly name: string;
  readonly vrf: number;
  /** e.g. 10.1.7.5 */
  readonly address: string;
  readonly subnet: string;
  readonly gateway: string;
}

export interface ScaleSpec {
  readonly size: ScaleSize;
  readonly members: readonly ScaleMember[];
  /** VRF index → the prefixes routed through it. */
  readonly routes: ReadonlyMap<number, readonly string[]>;
  readonly mgmt: {
    readonly dev: string;
    readonly address: string;
    readonly prefixlen: number;
    readonly gateway: string;
  };
  readonly controller: string;
}

export const vrfName = (j: number): string => `vrf${j}`;
export const vrfTable = (j: number): number => 1001 + j;
export const memberName = (i: number): string => `m${i}`;

/**
 * `variant` shifts every address and prefix: same shape, different strings, so that a run
 * never profits from what an earlier run left in a process-wide cache (addr.ts memoises
 * parsing; a hook plans once per process, cold).
 */
export function scaleSpec(size: ScaleSize, variant = 0): ScaleSpec {
  const memberBlocks = Math.ceil(size.members / 250);
  if ((variant + 1) * memberBlocks > 250) throw new Error('too many members × variants for the address plan');
  if ((variant + 1) * size.routes > 100 * 16384) throw new Error('too many routes × variants for the address plan');
  const members: ScaleMember[] = [];
  for (let i = 0; i < size.members; i++) {
    const o2 = 1 + variant * memberBlocks + Math.floor(i / 250);
    const o3 = i % 250;
    members.push({
      name: memberName(i),
      vrf: i % size.vrfs,
      address: `10.${o2}.${o3}.5`,
      subnet: `10.${o2}.${o3}.0/24`,
      gateway: `10.${o2}.${o3}.1`,
    });
  }
  const withMember = [...new Set(members.map((m) => m.vrf))].sort((a, b) => a - b);
  const routes = new Map<number, string[]>();
  for (let k = 0; k < size.routes && withMember.length > 0; k++) {
    const j = withMember[k % withMember.length]!;
    // 100.64.0.0/10, 101.64.0.0/10, …: distinct /24s, never overlapping a member subnet.
    const g = variant * size.routes + k;
    const cidr = `${100 + Math.floor(g / 16384)}.${64 + Math.floor((g % 16384) / 256)}.${g % 256}.0/24`;
    let list = routes.get(j);
    if (!list) routes.set(j, (list = []));
    list.push(cidr);
  }
  return {
    size,
    members,
    routes,
    mgmt: { dev: 'eth0', address: '192.168.0.5', prefixlen: 16, gateway: '192.168.0.1' },
    controller: '192.168.0.100',
  };
}

function link(name: string, ifindex: number, kind: string | null, up = true): Link {
  return {
    name,
    ifindex,
    kind,
    slaveKind: null,
    master: null,
    up,
    vrfTable: null,
    lower: null,
    looseBinding: false,
    mac: null,
  };
}

function stockRules(): Rule[] {
  const r = (family: 'inet' | 'inet6', priority: number, table: number): Rule => ({
    family,
    priority,
    src: null,
    dst: null,
    table,
    l3mdev: false,
    iif: null,
    oif: null,
    fwmark: null,
    action: 'lookup',
  });
  return [r('inet', 0, 255), r('inet', 32766, 254), r('inet', 32767, 253), r('inet6', 0, 255), r('inet6', 32766, 254)];
}

/** The host before vrf-host ran: members in the main table, the mgmt NIC with the default route. */
export function observedBefore(spec: ScaleSpec): ObservedHost {
  const links: Link[] = [link('lo', 1, null), link(spec.mgmt.dev, 2, null)];
  spec.members.forEach((m, i) => links.push(link(m.name, 3 + i, 'dummy')));
  const addrs = [
    { dev: 'lo', family: 'inet' as const, address: '127.0.0.1', prefixlen: 8, scope: 'host' },
    {
      dev: spec.mgmt.dev,
      family: 'inet' as const,
      address: spec.mgmt.address,
      prefixlen: spec.mgmt.prefixlen,
      scope: 'global',
    },
    ...spec.members.map((m) => ({
      dev: m.name,
      family: 'inet' as const,
      address: m.address,
      prefixlen: 24,
      scope: 'global',
    })),
  ];
  const host: ObservedHost = {
    links,
    addrs,
    routes: [
      {
        family: 'inet',
        table: 254,
        dst: '0.0.0.0/0',
        type: 'unicast',
        gateway: spec.mgmt.gateway,
        dev: spec.mgmt.dev,
        protocol: 'static',
        scope: 'global',
        metric: null,
        prefsrc: null,
      },
    ],
    rules: stockRules(),
    sysctls: {
      [SYSCTL.tcpL3mdev]: '0',
      [SYSCTL.udpL3mdev]: '0',
      [SYSCTL.keepAddrOnDown]: '0',
      [SYSCTL.nonlocalBind4]: '0',
      [SYSCTL.nonlocalBind6]: '0',
    },
    routeGet: { [spec.controller]: { dev: spec.mgmt.dev, gateway: null } },
    vrfModule: true,
    container: false,
  };
  return withKernelRoutes(host);
}

/** The desired state deriveDesired would give for the spec with the charm's defaults. */
export function desiredOf(spec: ScaleSpec): DesiredState {
  const vrfs: DesiredVrf[] = [];
  for (let j = 0; j < spec.size.vrfs; j++) {
    const mine = spec.members.filter((m) => m.vrf === j);
    const gw = mine[0];
    vrfs.push({
      name: vrfName(j),
      binding: `space${j}`,
      table: vrfTable(j),
      tableSource: 'auto',
      members: mine.map((m) => m.name),
      addresses: mine.map((m) => ({
        dev: m.name,
        family: 'inet',
        address: m.address,
        prefixlen: 24,
        subnet: m.subnet,
      })),
      gateways: gw ? { inet: { family: 'inet', address: gw.gateway, source: 'config', detail: 'bench' } } : {},
      routes: (spec.routes.get(j) ?? []).map((to) => ({ to })),
    });
  }
  return {
    vrfs,
    inMain: [{ binding: 'juju-info', reason: 'controller-path', interfaces: [spec.mgmt.dev] }],
    options: { strict: true, moveLocalRule: true, preserveReachability: true, nonlocalBind: true, l3mdevAccept: true },
  };
}

/** `ip -batch` lines (argv without the leading `ip`) that build the unconverged host's members. */
export function setupLines(spec: ScaleSpec): string[][] {
  const out: string[][] = [];
  for (const m of spec.members) {
    out.push(['link', 'add', m.name, 'type', 'dummy']);
    out.push(['address', 'add', `${m.address}/24`, 'dev', m.name]);
    out.push(['link', 'set', m.name, 'up']);
  }
  return out;
}

/** Number of objects in a host (the size the planner and the observer walk). */
export function hostObjects(h: ObservedHost): number {
  return h.links.length + h.addrs.length + h.routes.length + h.rules.length;
}
