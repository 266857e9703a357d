/**
 * Small builders for observed hosts, bindings and configs in unit tests.
 * Everything is canonical (as parseObserved would produce it).
 *
 *   const h = host(
 *     nic('ens3'), nic('ens4'),
 *     addr('ens3', '10.0.0.5/24'), addr('ens4', '172.16.0.5/24'),
 *     route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3' }),
 *     routeGet('10.0.0.100', 'ens3'),
 *   );
 */
import { canonicalCidr, canonicalIp, familyOf, subnetOf } from '../../../src/vrf/addr.js';
import type {
  Addr,
  BindingInterface,
  Bindings,
  Family,
  Link,
  ObservedHost,
  Route,
  RouteGet,
  Rule,
} from '../../../src/vrf/types.js';

export type HostPart =
  | { readonly part: 'link'; readonly value: Link }
  | { readonly part: 'addr'; readonly value: Addr }
  | { readonly part: 'route'; readonly value: Route }
  | { readonly part: 'rule'; readonly value: Rule }
  | { readonly part: 'routeGet'; readonly ip: string; readonly value: RouteGet }
  | { readonly part: 'sysctl'; readonly key: string; readonly value: string | null };

let nextIndex = 1;

/** A Link as parseObserved gives it: up, in main, no master, unless `opts` says otherwise. */
export function mkLink(name: string, opts: Partial<Omit<Link, 'name'>> = {}): Link {
  return {
    name,
    ifindex: opts.ifindex ?? nextIndex++,
    kind: opts.kind ?? null,
    slaveKind: opts.slaveKind ?? (opts.master ? 'bridge' : null),
    master: opts.master ?? null,
    up: opts.up ?? true,
    vrfTable: opts.vrfTable ?? null,
    lower: opts.lower ?? null,
    looseBinding: opts.looseBinding ?? false,
    mac: opts.mac ?? null,
  };
}

export function link(name: string, opts: Partial<Omit<Link, 'name'>> = {}): HostPart {
  return { part: 'link', value: mkLink(name, opts) };
}

/** A plain NIC. */
export const nic = (name: string, opts: Partial<Omit<Link, 'name'>> = {}): HostPart => link(name, opts);
export const bridge = (name: string): HostPart => link(name, { kind: 'bridge' });
export const bond = (name: string): HostPart => link(name, { kind: 'bond' });
export const vlan = (name: string, lower: string): HostPart => link(name, { kind: 'vlan', lower });
export const vrf = (name: string, table: number): HostPart => link(name, { kind: 'vrf', vrfTable: table });
/** A port of a bridge or bond (or a member of a VRF). */
export const port = (name: string, master: string, slaveKind: 'bridge' | 'bond' | 'vrf' = 'bridge'): HostPart =>
  link(name, { master, slaveKind });

/** `addr('ens4', '172.16.0.5/24')`. */
export function addr(dev: string, cidr: string, scope = 'global'): HostPart {
  const [a, len] = cidr.split('/');
  const address = canonicalIp(a ?? '');
  const family = familyOf(address);
  return {
    part: 'addr',
    value: { dev, family, address, prefixlen: Number(len ?? (family === 'inet' ? 32 : 128)), scope },
  };
}

export interface RouteOpts {
  dst: string;
  family?: Family;
  table?: number;
  type?: string;
  gateway?: string | null;
  dev?: string | null;
  protocol?: string;
  scope?: string;
  metric?: number | null;
  prefsrc?: string | null;
}

export function mkRoute(o: RouteOpts): Route {
  const family: Family =
    o.family ?? (o.gateway ? familyOf(o.gateway) : o.dst === 'default' ? 'inet' : familyOf(o.dst.split('/')[0] ?? ''));
  return {
    family,
    table: o.table ?? 254,
    dst: canonicalCidr(o.dst, family),
    type: o.type ?? 'unicast',
    gateway: o.gateway ? canonicalIp(o.gateway) : null,
    dev: o.dev ?? null,
    protocol: o.protocol ?? (o.gateway ? 'static' : 'kernel'),
    scope: o.scope ?? (o.gateway ? 'global' : 'link'),
    metric: o.metric ?? null,
    prefsrc: o.prefsrc ?? null,
  };
}

export const route = (o: RouteOpts): HostPart => ({ part: 'route', value: mkRoute(o) });

/** The connected route the kernel adds for an address. */
export function connected(dev: string, cidr: string, table = 254): HostPart {
  const [a, len] = cidr.split('/');
  const net = subnetOf(a ?? '', Number(len));
  return route({ dst: net, dev, protocol: 'kernel', scope: 'link', table, prefsrc: canonicalIp(a ?? '') });
}

export interface RuleOpts {
  priority: number;
  family?: Family;
  src?: string | null;
  dst?: string | null;
  table?: number | null;
  l3mdev?: boolean;
  iif?: string | null;
  oif?: string | null;
  fwmark?: string | null;
  action?: string;
  /** 'kernel', 'unspec', 'static', …; absent: the rule has no protocol (as ip before 4.17 prints it). */
  protocol?: string;
}

export function mkRule(o: RuleOpts): Rule {
  const family: Family = o.family ?? (o.src ? familyOf(o.src.split('/')[0] ?? '') : 'inet');
  return {
    family,
    priority: o.priority,
    src: o.src ? canonicalCidr(o.src) : null,
    dst: o.dst ? canonicalCidr(o.dst) : null,
    table: o.table === undefined ? null : o.table,
    l3mdev: o.l3mdev ?? false,
    iif: o.iif ?? null,
    oif: o.oif ?? null,
    fwmark: o.fwmark ?? null,
    action: o.action ?? 'lookup',
    ...(o.protocol === undefined ? {} : { protocol: o.protocol }),
  };
}

export const rule = (o: RuleOpts): HostPart => ({ part: 'rule', value: mkRule(o) });

/** The stock rules of a fresh host (local 0, main 32766, default 32767), for one family. */
export function stockRules(family: Family = 'inet'): HostPart[] {
  return [
    rule({ family, priority: 0, table: 255 }),
    rule({ family, priority: 32766, table: 254 }),
    ...(family === 'inet' ? [rule({ family, priority: 32767, table: 253 })] : []),
  ];
}

export function routeGet(ip: string, dev: string | null, gateway: string | null = null): HostPart {
  return { part: 'routeGet', ip: canonicalIp(ip), value: { dev, gateway: gateway ? canonicalIp(gateway) : null } };
}

export const sysctl = (key: string, value: string | null): HostPart => ({ part: 'sysctl', key, value });

/** Assemble an observed host; the vrf module is present and we are not in a container unless overridden. */
export function host(...parts: ReadonlyArray<HostPart | readonly HostPart[]>): ObservedHost {
  const links: Link[] = [];
  const addrs: Addr[] = [];
  const routes: Route[] = [];
  const rules: Rule[] = [];
  const rg: Record<string, RouteGet> = {};
  const sysctls: Record<string, string | null> = {};
  for (const p of parts.flat()) {
    switch (p.part) {
      case 'link':
        links.push(p.value);
        break;
      case 'addr':
        addrs.push(p.value);
        break;
      case 'route':
        routes.push(p.value);
        break;
      case 'rule':
        rules.push(p.value);
        break;
      case 'routeGet':
        rg[p.ip] = p.value;
        break;
      case 'sysctl':
        sysctls[p.key] = p.value;
        break;
    }
  }
  return { links, addrs, routes, rules, sysctls, routeGet: rg, vrfModule: true, container: false };
}

/** `iface('ens4', '172.16.0.5/24', '2001:db8::5/64')` as network-get would report it. */
export function iface(name: string, ...cidrs: string[]): BindingInterface {
  return {
    name,
    addresses: cidrs.map((c) => {
      const [a, len] = c.split('/');
      return { address: canonicalIp(a ?? ''), cidr: subnetOf(a ?? '', Number(len)) };
    }),
  };
}

export function bindings(b: Record<string, BindingInterface[]>): Bindings {
  return b;
}
