import fc from 'fast-check';
import { defaultEngineConfig } from '../../../src/vrf/config.js';
import {
  deriveGateways,
  hostRoutes,
  hostRules,
  prepareGatewayEnv,
  type GatewayEnv,
  type GatewayTarget,
} from '../../../src/vrf/gateways.js';
import { EMPTY_LEDGER, type Ledger } from '../../../src/vrf/types.js';
import { host, mkRoute, mkRule, type HostPart } from './builders.js';

const target: GatewayTarget = {
  vrf: 'public',
  binding: 'public',
  members: ['ens4'],
  addresses: [
    { dev: 'ens4', family: 'inet', address: '172.16.0.5', prefixlen: 24, subnet: '172.16.0.0/24' },
    { dev: 'ens4', family: 'inet6', address: '2001:db8:16::5', prefixlen: 64, subnet: '2001:db8:16::/64' },
  ],
};

describe('hostRoutes / hostRules', () => {
  it("read migrated routes and rules as the host's own, once", () => {
    const r = mkRoute({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4' });
    const q = mkRule({ priority: 100, src: '172.16.0.0/24', table: 2 });
    const ledger: Ledger = { ...EMPTY_LEDGER, migratedRoutes: [r], migratedRules: [q] };
    const h = host({ part: 'route', value: r });
    expect(hostRoutes(h, ledger)).toEqual([r]);
    expect(hostRoutes(host(), ledger)).toEqual([r]);
    expect(hostRules(h, ledger)).toEqual([q]);
  });
});

describe('deriveGateways', () => {
  it('an IPv6 link-local config gateway is accepted without a subnet check', () => {
    const config = {
      ...defaultEngineConfig(),
      gateways: [{ key: 'public', keyKind: 'name' as const, family: 'inet6' as const, address: 'fe80::1' }],
    };
    const g = deriveGateways(target, { observed: host(), ledger: EMPTY_LEDGER, config, netplan: [] });
    expect(g.problems).toEqual([]);
    expect(g.gateways.inet6).toEqual({
      family: 'inet6',
      address: 'fe80::1',
      source: 'config',
      detail: 'config gateways: public=fe80::1',
      dev: 'ens4',
    });
  });

  const twoMembers: GatewayTarget = {
    vrf: 'storage',
    binding: 'storage',
    members: ['bond0', 'bond0.105'],
    addresses: [
      { dev: 'bond0', family: 'inet', address: '10.10.4.10', prefixlen: 24, subnet: '10.10.4.0/24' },
      { dev: 'bond0', family: 'inet6', address: 'fd00:0:2::10', prefixlen: 64, subnet: 'fd00:0:2::/64' },
      { dev: 'bond0.105', family: 'inet', address: '10.10.4.11', prefixlen: 24, subnet: '10.10.4.0/24' },
      { dev: 'bond0.105', family: 'inet6', address: 'fd00:0:3::10', prefixlen: 64, subnet: 'fd00:0:3::/64' },
    ],
  };
  const gwConfig = (...pairs: Array<[string, 'inet' | 'inet6', string]>) => ({
    ...defaultEngineConfig(),
    gateways: pairs.map(([key, family, address]) => ({ key, keyKind: 'name' as const, family, address })),
  });

  it('an IPv6 link-local config gateway with IPv6 addresses on several members: a problem naming the entry, no gateway', () => {
    const config = gwConfig(['storage', 'inet', '10.10.4.1'], ['storage', 'inet6', 'fe80::1']);
    const g = deriveGateways(twoMembers, { observed: host(), ledger: EMPTY_LEDGER, config, netplan: [] });
    expect(g.problems).toEqual([
      {
        field: 'gateways: entry "storage=fe80::1"',
        message:
          'fe80::1 is link-local and storage has IPv6 addresses on several members (bond0, bond0.105): a link-local' +
          " address names no link, so vrf-host cannot tell which one reaches it; give the router's global address",
      },
    ]);
    expect(g.gateways.inet6).toBeUndefined();
  });

  it('an IPv6 link-local gateway learnt from router advertisements keeps the member it was learnt on', () => {
    const one = { ...twoMembers, addresses: twoMembers.addresses.filter((a) => a.subnet !== 'fd00:0:3::/64') };
    const ra = mkRoute({ dst: 'default', gateway: 'fe80::1', dev: 'bond0', protocol: 'ra', metric: 1024 });
    const config = gwConfig(['storage', 'inet', '10.10.4.1']);
    const g = deriveGateways(one, {
      observed: host({ part: 'route', value: ra }),
      ledger: EMPTY_LEDGER,
      config,
      netplan: [],
    });
    expect(g.problems).toEqual([]);
    expect(g.gateways.inet6).toMatchObject({ address: 'fe80::1', source: 'ra', dev: 'bond0' });
  });

  it('a subnet that does not hold the VRF’s gateway: a problem naming the subnet (one default route per family)', () => {
    const sub = {
      ...twoMembers,
      members: ['bond0'],
      addresses: [
        { dev: 'bond0', family: 'inet' as const, address: '10.10.4.10', prefixlen: 24, subnet: '10.10.4.0/24' },
        { dev: 'bond0', family: 'inet' as const, address: '10.10.6.10', prefixlen: 24, subnet: '10.10.6.0/24' },
      ],
    };
    const g = deriveGateways(sub, {
      observed: host(),
      ledger: EMPTY_LEDGER,
      config: gwConfig(['storage', 'inet', '10.10.4.1']),
      netplan: [],
    });
    expect(g.problems).toEqual([
      {
        field: 'storage',
        message:
          'subnet 10.10.6.0/24 (10.10.6.10 on bond0) has no gateway of its own here: its replies would leave through' +
          " 10.10.4.1, storage's only IPv4 gateway (config gateways: storage=10.10.4.1); bind that subnet to a space of its own",
      },
    ]);
    // IPv6 on one member with a link-local router: every subnet on that member is served by it.
    const six = {
      ...sub,
      addresses: [
        { dev: 'bond0', family: 'inet6' as const, address: 'fd00:0:2::10', prefixlen: 64, subnet: 'fd00:0:2::/64' },
        { dev: 'bond0', family: 'inet6' as const, address: 'fd00:0:9::10', prefixlen: 64, subnet: 'fd00:0:9::/64' },
      ],
    };
    const g6 = deriveGateways(six, {
      observed: host(),
      ledger: EMPTY_LEDGER,
      config: gwConfig(['storage', 'inet6', 'fe80::1']),
      netplan: [],
    });
    expect(g6.problems).toEqual([]);
  });

  it('a second binding on the same interfaces: its gateways entry is honoured, or rejected when it differs', () => {
    const shared = { ...target, addresses: target.addresses.filter((a) => a.family === 'inet'), aliases: ['admin'] };
    const env = (config: ReturnType<typeof gwConfig>) => ({
      observed: host(),
      ledger: EMPTY_LEDGER,
      config,
      netplan: [],
    });
    const only = deriveGateways(shared, env(gwConfig(['admin', 'inet', '172.16.0.1'])));
    expect(only.problems).toEqual([]);
    expect(only.gateways.inet).toMatchObject({ address: '172.16.0.1', detail: 'config gateways: admin=172.16.0.1' });
    const same = deriveGateways(
      shared,
      env(gwConfig(['public', 'inet', '172.16.0.1'], ['admin', 'inet', '172.16.0.1'])),
    );
    expect([same.problems, same.warnings]).toEqual([[], []]);
    const differs = deriveGateways(
      shared,
      env(gwConfig(['public', 'inet', '172.16.0.1'], ['admin', 'inet', '172.16.0.9'])),
    );
    expect(differs.problems).toEqual([
      {
        field: 'gateways: entry "admin=172.16.0.9"',
        message:
          'binding admin is on the same interfaces as public and shares the VRF public, whose IPv4 gateway is' +
          ' 172.16.0.1 (config gateways: public=172.16.0.1); give both the same gateway',
      },
    ]);
  });

  it('property: the prepared (indexed) environment gives the same answer as the plain one', () => {
    const gwArb = fc.oneof(
      fc.constant('172.16.0.1'),
      fc.constant('172.16.0.9'),
      fc.constant('10.0.0.1'),
      fc.constant('2001:db8:16::1'),
      fc.constant('fe80::1'),
    );
    const routeArb = fc.record({
      gw: gwArb,
      dev: fc.constantFrom('ens3', 'ens4', null),
      table: fc.constantFrom(254, 2, 7, 1001),
      protocol: fc.constantFrom('static', 'dhcp', 'ra', 'boot'),
      metric: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: null }),
      remote: fc.boolean(),
    });
    const ruleArb = fc.record({
      src: fc.constantFrom('172.16.0.0/24', '172.16.0.5/32', '10.0.0.0/24'),
      table: fc.constantFrom(2, 7, 1001),
      priority: fc.integer({ min: 0, max: 200 }),
    });
    fc.assert(
      fc.property(
        fc.array(routeArb, { maxLength: 8 }),
        fc.array(ruleArb, { maxLength: 3 }),
        fc.boolean(),
        (routes, rules, owned) => {
          const parts: HostPart[] = [
            ...routes.map((r): HostPart => ({
              part: 'route',
              value: mkRoute({
                dst: !r.remote ? 'default' : r.gw.includes(':') ? '2001:db8:99::/48' : '10.9.0.0/16',
                family: r.gw.includes(':') ? 'inet6' : 'inet',
                gateway: r.gw,
                dev: r.dev,
                table: r.table,
                protocol: r.protocol,
                metric: r.metric,
              }),
            })),
            ...rules.map((q): HostPart => ({ part: 'rule', value: mkRule(q) })),
          ];
          const env: GatewayEnv = {
            observed: host(parts),
            ledger: owned ? { ...EMPTY_LEDGER, vrfs: { public: 1001 } } : EMPTY_LEDGER,
            config: defaultEngineConfig(),
            netplan: [],
          };
          expect(deriveGateways(target, prepareGatewayEnv(env))).toEqual(deriveGateways(target, env));
        },
      ),
      { numRuns: 300 },
    );
  });
});
