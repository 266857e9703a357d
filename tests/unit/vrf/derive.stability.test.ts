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
import { EMPTY_LEDGER, type Bindings, type DesiredState, type EngineInputs, type ObservedHost } from '../../../src/vrf/types.js';
import { addr, connected, host, iface, nic, route, routeGet, rule, stockRules, type HostPart } from './builders.js';

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
  nic('ens3'), addr('ens3', '10.0.0.5/24'), connected('ens3', '10.0.0.5/24'),
  route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3' }),
  nic('ens4'), addr('ens4', '172.16.0.5/24'), connected('ens4', '172.16.0.5/24'),
  ...stockRules('inet'), ...stockRules('inet6'),
  routeGet('10.0.0.100', 'ens3', '10.0.0.1'),
];
const b: Bindings = { 'juju-info': [iface('ens3', '10.0.0.5/24')], public: [iface('ens4', '172.16.0.5/24')] };

describe('gateway and source survive an apply', () => {
  it.each<[string, HostPart[], Record<string, string>, string]>([
    ['main-route', [route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 200, protocol: 'dhcp' })], {}, 'main-route'],
    [
      'policy-table (MAAS)',
      [rule({ priority: 100, src: '172.16.0.0/24', table: 2 }), route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: 2 }), route({ dst: '172.16.0.0/24', dev: 'ens4', table: 2 })],
      {},
      'policy-table',
    ],
    ['netplan', [], { '50-cloud-init.yaml': 'network:\n  version: 2\n  ethernets:\n    ens4:\n      gateway4: 172.16.0.1\n' }, 'netplan'],
  ])('%s', (_w, extra, np, source) => {
    const { first, second, after } = twice(inputs(b, np), host(base, extra));
    expect(first.vrfs[0]?.gateways.inet?.source).toBe(source);
    // The apply really happened: ens4 is enslaved and no default via ens4 is left outside the VRF.
    expect(after.links.find((l) => l.name === 'ens4')?.master).toBe('public');
    expect(after.routes.filter((r) => r.dst === '0.0.0.0/0' && r.dev === 'ens4' && r.table !== first.vrfs[0]?.table)).toEqual([]);
    expect(after.rules.filter((r) => r.priority === 100)).toEqual([]);
    expect(summary(second)).toEqual(summary(first));
  });
});

describe('property: random gateway sources, same desired state after apply', () => {
  it('holds', () => {
    fc.assert(
      fc.property(
        fc.record({ main: fc.boolean(), policy: fc.boolean(), netplan: fc.boolean(), metric: fc.integer({ min: 0, max: 1000 }), gwHost: fc.integer({ min: 1, max: 254 }) }),
        (g) => {
          const gw = g.gwHost === 5 ? '172.16.0.6' : `172.16.0.${g.gwHost}`;
          const extra: HostPart[] = [];
          if (g.main) extra.push(route({ dst: 'default', gateway: gw, dev: 'ens4', metric: g.metric }));
          if (g.policy) extra.push(rule({ priority: 100, src: '172.16.0.0/24', table: 7 }), route({ dst: 'default', gateway: gw, dev: 'ens4', table: 7 }));
          const np = g.netplan ? { '50.yaml': `network:\n  ethernets:\n    ens4:\n      gateway4: ${gw}\n` } : {};
          const { first, second } = twice(inputs(b, np), host(base, extra));
          expect(summary(second)).toEqual(summary(first));
        },
      ),
      { numRuns: 60 },
    );
  });
});
