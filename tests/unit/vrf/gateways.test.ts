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
    });
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
