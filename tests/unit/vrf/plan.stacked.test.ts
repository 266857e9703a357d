/**
 * Stacked devices cycle with their lower device. Enslaving or releasing bond0 takes down every
 * VLAN on it (and a VLAN of that VLAN), but not a loose-binding VLAN, a bridge whose port is such a
 * VLAN, or a macvlan. The kernel drops every route through what went down, in every table and in
 * both families. When bond0 comes back up, every VLAN on it comes up, even one that was down.
 * Measured on Debian's 6.1 kernel (DEVELOPERS.md, "Stacked devices cycle with their lower
 * device"). The model must know it, and the plan must put back, in the same apply, what the kernel
 * does not: storage-cluster's default route when only storage's VRF comes or goes.
 */
import { cycleOf, simulate, withKernelRoutes } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import { renderCommand } from '../../../src/vrf/render.js';
import { planTeardown } from '../../../src/vrf/teardown.js';
import type { DesiredState, Ledger, ObservedHost, Plan } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER, SYSCTL } from '../../../src/vrf/types.js';
import { desired, dvrf, FRESH_SYSCTLS, stock } from './arbitraries.js';
import { addr, bond, bridge, host, link, nic, port, route, sysctl, vlan } from './builders.js';

const cmds = (p: Plan): string[] => p.steps.map(renderCommand);

/**
 * The seed host's stack: storage on bond0, storage-cluster on bond0.105 (a VLAN on bond0), and
 * beside them on bond0: a VLAN of bond0.105 (qinq), a VLAN that is down (bond0.106), a
 * loose-binding VLAN (bond0.107), a bridge over a VLAN (br1 on bond0.108) and a macvlan (mv0),
 * each with a static route through it in main (the down one has none: it has no address).
 */
function stackedHost(): ObservedHost {
  return withKernelRoutes(
    host(
      nic('ens3'),
      bond('bond0'),
      vlan('bond0.105', 'bond0'),
      vlan('qinq', 'bond0.105'),
      link('bond0.106', { kind: 'vlan', lower: 'bond0', up: false }),
      link('bond0.107', { kind: 'vlan', lower: 'bond0', looseBinding: true }),
      vlan('bond0.108', 'bond0'),
      port('bond0.108', 'br1'),
      bridge('br1'),
      link('mv0', { kind: 'macvlan' }),
      addr('ens3', '10.0.0.5/24'),
      addr('bond0', '10.10.4.10/24'),
      addr('bond0', '2001:db8:4::10/64'),
      addr('bond0.105', '10.10.5.10/24'),
      addr('bond0.105', '2001:db8:5::10/64'),
      addr('qinq', '10.10.10.10/24'),
      addr('bond0.107', '10.10.7.10/24'),
      addr('br1', '10.10.8.10/24'),
      addr('mv0', '10.10.9.10/24'),
      route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
      route({ dst: '10.50.0.0/16', gateway: '10.10.10.1', dev: 'qinq', protocol: 'static' }),
      route({ dst: '10.57.0.0/16', gateway: '10.10.7.1', dev: 'bond0.107', protocol: 'static' }),
      route({ dst: '10.58.0.0/16', gateway: '10.10.8.1', dev: 'br1', protocol: 'static' }),
      route({ dst: '10.59.0.0/16', gateway: '10.10.9.1', dev: 'mv0', protocol: 'static' }),
      stock().map((r) => ({ part: 'rule' as const, value: r })),
      Object.entries(FRESH_SYSCTLS).map(([k, v]) => sysctl(k, v)),
    ),
  );
}

// The builder lists bond0.108 twice (a VLAN, then a port of br1): keep one link with both.
function hostOf(h: ObservedHost): ObservedHost {
  const byName = new Map<string, ObservedHost['links'][number]>();
  for (const l of h.links) {
    const had = byName.get(l.name);
    byName.set(l.name, had ? { ...had, master: l.master, slaveKind: l.slaveKind } : l);
  }
  return { ...h, links: [...byName.values()] };
}

const storage = dvrf('storage', {
  table: 1002,
  members: { bond0: ['10.10.4.10/24', '2001:db8:4::10/64'] },
  gateways: ['10.10.4.1', '2001:db8:4::1'],
});
const storageCluster = dvrf('storage-cluster', {
  table: 1003,
  members: { 'bond0.105': ['10.10.5.10/24', '2001:db8:5::10/64'] },
  gateways: ['10.10.5.1', '2001:db8:5::1'],
});

/** Plans and applies on the model; the next plan must be empty. */
function converge(d: DesiredState, h: ObservedHost, l: Ledger): { p: Plan; after: ObservedHost } {
  const p = plan(d, h, l);
  const after = simulate(h, p.steps);
  expect(cmds(plan(d, after, p.ledger))).toEqual([]);
  return { p, after };
}

const defaults = (h: ObservedHost, table: number): string[] =>
  h.routes
    .filter((r) => r.table === table && r.type === 'unicast' && r.dst.endsWith('/0'))
    .map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev ?? '-'}`)
    .sort();

describe('model: what a cycle of a device takes down (cycleOf)', () => {
  const h = hostOf(stackedHost());

  it('its VLANs, and a VLAN of a VLAN; not a loose-binding VLAN, a bridge over a VLAN or a macvlan', () => {
    expect(cycleOf(h.links, 'bond0')).toEqual({
      down: ['bond0', 'bond0.105', 'bond0.108', 'qinq'],
      up: ['bond0', 'bond0.105', 'bond0.106', 'bond0.108', 'qinq'],
    });
    expect(cycleOf(h.links, 'bond0.105')).toEqual({ down: ['bond0.105', 'qinq'], up: ['bond0.105', 'qinq'] });
    expect(cycleOf(h.links, 'ens3')).toEqual({ down: ['ens3'], up: ['ens3'] });
    // A device that is down is not cycled (the driver only cycles a running device).
    expect(cycleOf(h.links, 'bond0.106')).toEqual({ down: [], up: [] });
  });

  it('enslaving bond0 drops the routes through bond0.105 and qinq in every table, both families; the rest stays', () => {
    const vrf = { kind: 'vrf-create' as const, name: 'storage', table: 1002 };
    const after = simulate(h, [
      vrf,
      { kind: 'link-up', dev: 'storage' },
      { kind: 'enslave', dev: 'bond0', vrf: 'storage' },
    ]);
    const statics = (x: ObservedHost) =>
      x.routes
        .filter((r) => r.protocol === 'static')
        .map((r) => `${r.dst} ${r.dev ?? '-'}`)
        .sort();
    expect(statics(after)).toEqual([
      '0.0.0.0/0 ens3',
      '10.57.0.0/16 bond0.107',
      '10.58.0.0/16 br1',
      '10.59.0.0/16 mv0',
    ]);
    // Connected routes come back from the addresses; the VLAN that was down is up.
    expect(after.routes.some((r) => r.dst === '10.10.5.0/24' && r.dev === 'bond0.105')).toBe(true);
    expect(after.links.find((l) => l.name === 'bond0.106')?.up).toBe(true);
    // keep_addr_on_down is 0 here: the cycled VLANs lose their global IPv6 addresses too (measured).
    expect(after.addrs.filter((a) => a.dev === 'bond0.105').map((a) => a.address)).toEqual(['10.10.5.10']);
  });
});

describe('plan: a cycle of a lower device puts back what it took from the devices stacked on it', () => {
  const h = hostOf(stackedHost());
  const both = converge(desired([storage, storageCluster]), h, EMPTY_LEDGER);

  it('the first apply puts back the routes through qinq and bond0.106 down, right after the enslave of bond0', () => {
    const c = cmds(both.p);
    const at = c.indexOf('ip link set dev bond0 master storage');
    expect(c.slice(at, at + 3)).toEqual([
      'ip link set dev bond0 master storage',
      'ip link set dev bond0.106 down',
      'ip route replace 10.50.0.0/16 via 10.10.10.1 dev qinq proto static table 254',
    ]);
    for (const dst of ['10.50.0.0/16', '10.57.0.0/16', '10.58.0.0/16', '10.59.0.0/16'])
      expect(both.after.routes.filter((r) => r.dst === dst && r.table === 254)).toHaveLength(1);
    expect(both.after.links.find((l) => l.name === 'bond0.106')?.up).toBe(false);
  });

  it('puts back a route through a stacked device that has no gateway, and leaves an IPv4 route via an IPv6 next hop to its owner', () => {
    const extra = withKernelRoutes({
      ...h,
      routes: [
        ...h.routes,
        ...host(
          route({ dst: '10.51.0.0/16', dev: 'qinq', protocol: 'static' }),
          route({ family: 'inet', dst: '10.52.0.0/16', gateway: 'fe80::1', dev: 'qinq', protocol: 'static' }),
        ).routes,
      ],
    });
    const c = cmds(plan(desired([storage, storageCluster]), extra, EMPTY_LEDGER));
    expect(c).toContain('ip route replace 10.51.0.0/16 dev qinq proto static scope link table 254');
    expect(c.filter((x) => x.includes('10.52.0.0/16'))).toEqual([]);
  });

  it('dropping only storage keeps storage-cluster’s default routes: put back in the same apply, right after the release', () => {
    const before = defaults(both.after, 1003);
    expect(before).toEqual(['0.0.0.0/0 via 10.10.5.1 dev bond0.105', '::/0 via 2001:db8:5::1 dev bond0.105']);
    const { p, after } = converge(desired([storageCluster]), both.after, both.p.ledger);
    const c = cmds(p);
    const at = c.indexOf('ip link set dev bond0 nomaster');
    expect(at).toBeGreaterThan(0);
    expect(c.slice(at + 1, at + 5)).toEqual([
      'ip link set dev bond0.106 down',
      'ip route replace 0.0.0.0/0 via 10.10.5.1 dev bond0.105 table 1003',
      'ip route replace ::/0 via 2001:db8:5::1 dev bond0.105 metric 1024 table 1003',
      'ip route replace 10.50.0.0/16 via 10.10.10.1 dev qinq proto static table 254',
    ]);
    // Every prefix from the one after those lines on still has them.
    for (let k = at + 4; k <= p.steps.length; k++)
      expect(defaults(simulate(both.after, p.steps.slice(0, k)), 1003)).toEqual(before);
    expect(defaults(after, 1003)).toEqual(before);
  });

  it('adding storage back (bond0 enslaved under storage-cluster) keeps them too', () => {
    const only = converge(desired([storageCluster]), h, EMPTY_LEDGER);
    const { p, after } = converge(desired([storage, storageCluster]), only.after, only.p.ledger);
    const c = cmds(p);
    const at = c.indexOf('ip link set dev bond0 master storage');
    expect(c.slice(at + 1, at + 4)).toEqual([
      'ip link set dev bond0.106 down',
      'ip route replace 0.0.0.0/0 via 10.10.5.1 dev bond0.105 table 1003',
      'ip route replace ::/0 via 2001:db8:5::1 dev bond0.105 metric 1024 table 1003',
    ]);
    expect(defaults(after, 1003)).toEqual(defaults(only.after, 1003));
  });

  it('a teardown gives the host back as it was, the routes through the stacked devices included', () => {
    const td = planTeardown(both.after, both.p.ledger);
    const back = simulate(both.after, td.steps);
    const key = (x: ObservedHost) =>
      x.routes
        .map((r) => `${r.table} ${r.dst} ${r.gateway ?? '-'} ${r.dev ?? '-'} ${r.type}`)
        .sort()
        .join('\n');
    expect(key(back)).toEqual(
      key(simulate(h, [{ kind: 'sysctl', key: SYSCTL.keepAddrOnDown, value: '1', why: 'as the teardown leaves it' }])),
    );
    expect(back.links.find((l) => l.name === 'bond0.106')?.up).toBe(false);
  });
});
