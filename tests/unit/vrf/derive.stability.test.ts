/**
 * Derivation is stable across applies: derive → plan → (kernel model) → derive again gives the
 * same VRFs, tables, gateways and gateway sources, although the host no longer shows the main
 * default / MAAS rule the gateway was first found in (they are in the ledger then).
 */
import fc from 'fast-check';
import { parseEngineConfig } from '../../../src/vrf/config.js';
import { deriveDesired } from '../../../src/vrf/derive.js';
import { simulate } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import {
  EMPTY_LEDGER,
  type Bindings,
  type DesiredState,
  type EngineInputs,
  type ObservedHost,
} from '../../../src/vrf/types.js';
import {
  addr,
  connected,
  host,
  iface,
  nic,
  route,
  routeGet,
  rule,
  stockRules,
  sysctl,
  type HostPart,
} from './builders.js';

function inputs(bindings: Bindings, netplan: Record<string, string> = {}): EngineInputs {
  const c = parseEngineConfig({});
  if (!c.ok) throw new Error('config');
  return { config: c.config, bindings, controllers: ['10.0.0.100'], netplan };
}

const summary = (d: DesiredState) =>
  d.vrfs.map((v) => ({ name: v.name, table: v.table, members: v.members, gateways: v.gateways, routes: v.routes }));

function twice(i: EngineInputs, h: ObservedHost) {
  const first = deriveDesired(i, h, EMPTY_LEDGER);
  if (!first.ok) throw new Error(JSON.stringify(first.problems));
  const p = plan(first.desired, h, EMPTY_LEDGER);
  const after = simulate(h, p.steps);
  const second = deriveDesired(i, after, p.ledger);
  if (!second.ok) throw new Error(JSON.stringify(second.problems));
  return { first: first.desired, second: second.desired, ledger: p.ledger, after };
}

const base: HostPart[] = [
  nic('ens3'),
  addr('ens3', '10.0.0.5/24'),
  connected('ens3', '10.0.0.5/24'),
  route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3' }),
  nic('ens4'),
  addr('ens4', '172.16.0.5/24'),
  connected('ens4', '172.16.0.5/24'),
  ...stockRules('inet'),
  ...stockRules('inet6'),
  routeGet('10.0.0.100', 'ens3', '10.0.0.1'),
];
const b: Bindings = { 'juju-info': [iface('ens3', '10.0.0.5/24')], public: [iface('ens4', '172.16.0.5/24')] };

describe('gateway and source survive an apply', () => {
  it.each<[string, HostPart[], Record<string, string>, string]>([
    [
      'main-route',
      [route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 200, protocol: 'dhcp' })],
      {},
      'main-route',
    ],
    [
      'policy-table (MAAS)',
      [
        rule({ priority: 100, src: '172.16.0.0/24', table: 2 }),
        route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: 2 }),
        route({ dst: '172.16.0.0/24', dev: 'ens4', table: 2 }),
      ],
      {},
      'policy-table',
    ],
    [
      'netplan',
      [],
      { '50-cloud-init.yaml': 'network:\n  version: 2\n  ethernets:\n    ens4:\n      gateway4: 172.16.0.1\n' },
      'netplan',
    ],
  ])('%s', (_w, extra, np, source) => {
    const { first, second, after } = twice(inputs(b, np), host(base, extra));
    expect(first.vrfs[0]?.gateways.inet?.source).toBe(source);
    // The apply really happened: ens4 is enslaved and no default via ens4 is left outside the VRF.
    expect(after.links.find((l) => l.name === 'ens4')?.master).toBe('public');
    expect(
      after.routes.filter((r) => r.dst === '0.0.0.0/0' && r.dev === 'ens4' && r.table !== first.vrfs[0]?.table),
    ).toEqual([]);
    expect(after.rules.filter((r) => r.priority === 100)).toEqual([]);
    expect(summary(second)).toEqual(summary(first));
  });
});

describe('property: random gateway sources, same desired state after apply', () => {
  it('holds', () => {
    fc.assert(
      fc.property(
        fc.record({
          main: fc.boolean(),
          policy: fc.boolean(),
          netplan: fc.boolean(),
          metric: fc.integer({ min: 0, max: 1000 }),
          gwHost: fc.integer({ min: 1, max: 254 }),
        }),
        (g) => {
          const gw = g.gwHost === 5 ? '172.16.0.6' : `172.16.0.${g.gwHost}`;
          const extra: HostPart[] = [];
          if (g.main) extra.push(route({ dst: 'default', gateway: gw, dev: 'ens4', metric: g.metric }));
          if (g.policy)
            extra.push(
              rule({ priority: 100, src: '172.16.0.0/24', table: 7 }),
              route({ dst: 'default', gateway: gw, dev: 'ens4', table: 7 }),
            );
          const np = g.netplan ? { '50.yaml': `network:\n  ethernets:\n    ens4:\n      gateway4: ${gw}\n` } : {};
          const { first, second } = twice(inputs(b, np), host(base, extra));
          expect(summary(second)).toEqual(summary(first));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('an IPv6 gateway from router advertisements survives the apply that enslaves its member', () => {
  // Before the first apply main has `default via fe80::1 dev ens4 proto ra metric 1024`; the
  // enslave drops it and the kernel has not yet relearnt it into the VRF table.
  const ra: HostPart[] = [
    addr('ens4', '2001:db8:16::5/64'),
    route({ dst: '::/0', gateway: 'fe80::1', dev: 'ens4', protocol: 'ra', metric: 1024 }),
    // Its IPv4 gateway (a space with a family without one is held back).
    route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 200, protocol: 'dhcp' }),
    // A kernel with the sysctl (the planner sets it first, so the enslave keeps the IPv6 address).
    sysctl('net.ipv6.conf.all.keep_addr_on_down', '0'),
  ];
  const b6: Bindings = { ...b, public: [iface('ens4', '172.16.0.5/24', '2001:db8:16::5/64')] };

  it('derives the same gateway with source ra on the next run, warns of nothing, and plans nothing', () => {
    const i = inputs(b6);
    const { first, second, ledger, after } = twice(i, host(base, ra));
    expect(first.vrfs[0]?.gateways.inet6).toMatchObject({ address: 'fe80::1', source: 'ra' });
    expect(after.routes.filter((r) => r.protocol === 'ra')).toEqual([]); // really gone from the host
    expect(summary(second)).toEqual(summary(first));
    const again = deriveDesired(i, after, ledger);
    expect(again.ok && again.warnings.filter((w) => w.message.includes('2001:db8:16::/64'))).toEqual([]);
    expect(plan(second, after, ledger).steps).toEqual([]);
  });

  it('and once the kernel relearns it into the VRF table, still nothing to do', () => {
    const i = inputs(b6);
    const { second, ledger, after } = twice(i, host(base, ra));
    const table = second.vrfs[0]?.table ?? 0;
    const relearnt: ObservedHost = {
      ...after,
      routes: [
        ...after.routes.filter((r) => !(r.table === table && r.dst === '::/0' && r.type === 'unicast')),
        {
          family: 'inet6',
          table,
          dst: '::/0',
          type: 'unicast',
          gateway: 'fe80::1',
          dev: 'ens4',
          protocol: 'ra',
          scope: 'global',
          metric: 1024,
          prefsrc: null,
        },
      ],
    };
    const third = deriveDesired(i, relearnt, ledger);
    if (!third.ok) throw new Error(JSON.stringify(third.problems));
    expect(summary(third.desired)).toEqual(summary(second));
    expect(plan(third.desired, relearnt, ledger).steps).toEqual([]);
  });
});
