/**
 * The inverse of parseObserved, for the benchmarks' `ip` stub: an ObservedHost
 * printed the way `ip -json -details -Numeric -batch -` prints observeBatch's
 * lines (one JSON document per line), plus the separate `ip -6 … rule show`
 * process's output. bench/hook-noop.ts checks the round trip through
 * parseObserved before it uses the text.
 */
import type { ObservedHost, Route, Rule } from '../../src/vrf/types.js';

function routeJson(r: Route): Record<string, unknown> {
  const o: Record<string, unknown> = { type: r.type, dst: r.dst };
  if (r.gateway !== null) o.gateway = r.gateway;
  if (r.dev !== null) o.dev = r.dev;
  o.table = r.table;
  o.protocol = r.protocol;
  o.scope = r.scope;
  if (r.metric !== null) o.metric = r.metric;
  if (r.prefsrc !== null) o.prefsrc = r.prefsrc;
  o.flags = [];
  return o;
}

function ruleJson(r: Rule): Record<string, unknown> {
  const o: Record<string, unknown> = { priority: r.priority };
  if (r.src === null) o.src = 'all';
  else {
    const [a, len] = r.src.split('/');
    o.src = a;
    o.srclen = Number(len);
  }
  if (r.dst !== null) {
    const [a, len] = r.dst.split('/');
    o.dst = a;
    o.dstlen = Number(len);
  }
  if (r.iif !== null) o.iif = r.iif;
  if (r.oif !== null) o.oif = r.oif;
  if (r.fwmark !== null) o.fwmark = r.fwmark;
  if (r.l3mdev) o.l3mdev = null;
  if (r.table !== null) o.table = r.table;
  if (r.action !== 'lookup') o.action = r.action;
  return o;
}

/** stdout of the main batch process and of the `-6 rule show` process. */
export function ipJsonOf(h: ObservedHost, controllers: readonly string[]): { main: string; rule6: string } {
  const links = h.links.map((l) => {
    const o: Record<string, unknown> = {
      ifindex: l.ifindex,
      ifname: l.name,
      flags: l.up ? ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] : ['BROADCAST', 'MULTICAST'],
    };
    if (l.master !== null) o.master = l.master;
    if (l.mac !== null) o.address = l.mac;
    if (l.lower !== null) o.link = l.lower;
    if (l.kind !== null || l.slaveKind !== null) {
      const li: Record<string, unknown> = {};
      if (l.kind !== null) li.info_kind = l.kind;
      if (l.kind === 'vrf' && l.vrfTable !== null) li.info_data = { table: l.vrfTable };
      if (l.slaveKind !== null) li.info_slave_kind = l.slaveKind;
      o.linkinfo = li;
    }
    return o;
  });
  const byDev = new Map<string, Record<string, unknown>[]>();
  for (const a of h.addrs) {
    let list = byDev.get(a.dev);
    if (!list) byDev.set(a.dev, (list = []));
    list.push({ family: a.family, local: a.address, prefixlen: a.prefixlen, scope: a.scope });
  }
  const addrs = h.links.map((l) => ({ ifindex: l.ifindex, ifname: l.name, addr_info: byDev.get(l.name) ?? [] }));
  const gets = controllers.map((c) => {
    const g = h.routeGet[c];
    const o: Record<string, unknown> = { dst: c };
    if (g?.gateway) o.gateway = g.gateway;
    if (g?.dev) o.dev = g.dev;
    return [o];
  });
  const docs = [
    links,
    addrs,
    h.routes.filter((r) => r.family === 'inet').map(routeJson),
    h.routes.filter((r) => r.family === 'inet6').map(routeJson),
    h.rules.filter((r) => r.family === 'inet').map(ruleJson),
    ...gets,
  ];
  return {
    main: docs.map((d) => JSON.stringify(d)).join('\n') + '\n',
    rule6: JSON.stringify(h.rules.filter((r) => r.family === 'inet6').map(ruleJson)) + '\n',
  };
}
