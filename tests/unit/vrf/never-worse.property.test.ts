/**
 * Never leave a host worse than before, on random topologies (arbitraries.ts) run through the
 * kernel model: main keeps a default route that works, and an apply stopped at any line has
 * already turned l3mdev accept on before any member is enslaved.
 */
import fc from 'fast-check';
import { simulate } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import type { Addr, DesiredState, ObservedHost } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER, FAMILIES, SYSCTL, TABLE } from '../../../src/vrf/types.js';
import { freshScenario, scenario, type Scenario } from './arbitraries.js';
import { mkRoute } from './builders.js';
import { leavesVia, lookup } from './lookup.js';

const CONTROLLER = '10.100.0.5';
const OUTSIDE = { inet: '198.51.100.7', inet6: '2001:db8:ffff::7' } as const;

/** The scenario's host plus the unit's controller path: mgmt0 in main, a route to the controller through it. */
function withController(s: Scenario): ObservedHost {
  const o = s.observed;
  const mgmt0 = {
    name: 'mgmt0',
    ifindex: 99,
    kind: null,
    slaveKind: null,
    master: null,
    up: true,
    vrfTable: null,
    lower: null,
    mac: null,
  };
  const a: Addr = { dev: 'mgmt0', family: 'inet', address: '10.250.0.5', prefixlen: 24, scope: 'global' };
  return {
    ...o,
    links: [...o.links, mgmt0],
    addrs: [...o.addrs, a],
    routes: [
      ...o.routes,
      mkRoute({ dst: '10.250.0.0/24', dev: 'mgmt0', protocol: 'kernel', scope: 'link', prefsrc: '10.250.0.5' }),
      mkRoute({ dst: '10.250.0.5/32', dev: 'mgmt0', protocol: 'kernel', type: 'local', table: TABLE.local }),
      mkRoute({ dst: '10.100.0.0/24', gateway: '10.250.0.1', dev: 'mgmt0', protocol: 'static' }),
    ],
  };
}

/** Every family with addresses in a VRF has its gateway (what derive now guarantees: a space without one is held back). */
function gatewaysComplete(d: DesiredState): boolean {
  return d.vrfs.every((v) => v.addresses.every((a) => v.gateways[a.family] !== undefined));
}

describe('property: main keeps a default route that works', () => {
  it('no plan removes main’s last default route unless it moves somewhere it still works', () => {
    let moved = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        fc.pre(gatewaysComplete(s.desired));
        const before = withController(s);
        const after = simulate(before, plan(s.desired, before, EMPTY_LEDGER).steps);
        for (const f of FAMILIES) {
          const had = before.routes.some((r) => r.table === TABLE.main && r.family === f && r.dst.endsWith('/0'));
          if (!had) continue;
          const out = leavesVia(lookup(after, OUTSIDE[f], null));
          expect(out).not.toBeNull();
          if (out !== null && out.table !== TABLE.main) moved++;
        }
      }),
      { numRuns: 400 },
    );
    // Not vacuous: main's default often went through a member that became a VRF.
    expect(moved).toBeGreaterThan(20);
  });
});

describe('property: every prefix of a plan has l3mdev accept on before a member is enslaved', () => {
  it('an apply stopped at any line with a member enslaved has tcp/udp_l3mdev_accept on (when wanted)', () => {
    let enslavedPrefixes = 0;
    fc.assert(
      fc.property(freshScenario, (s) => {
        fc.pre(s.desired.options.l3mdevAccept);
        const before = withController(s);
        const steps = plan(s.desired, before, EMPTY_LEDGER).steps;
        for (let k = 0; k <= steps.length; k++) {
          const h = simulate(before, steps.slice(0, k), { hadVrf: s.hadVrf });
          // The controller path is never touched.
          expect(leavesVia(lookup(h, CONTROLLER, null))?.dev).toBe('mgmt0');
          if (!h.links.some((l) => l.slaveKind === 'vrf')) continue;
          enslavedPrefixes++;
          expect([h.sysctls[SYSCTL.tcpL3mdev], h.sysctls[SYSCTL.udpL3mdev]]).toEqual(['1', '1']);
        }
      }),
      { numRuns: 200 },
    );
    expect(enslavedPrefixes).toBeGreaterThan(100);
  });
});
