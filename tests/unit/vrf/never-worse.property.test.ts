/**
 * Never leave a host worse than before, on random topologies (arbitraries.ts) run through the
 * kernel model: main keeps a default route that works; and every prefix of a plan (an apply or a
 * teardown that stops after any step) keeps the controller path and the host's delivery to its
 * own addresses from each of them, and has l3mdev accept on from the first enslave.
 */
import fc from 'fast-check';
import { simulate } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import { planTeardown } from '../../../src/vrf/teardown.js';
import type { Addr, DesiredState, ObservedHost, Step } from '../../../src/vrf/types.js';
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
    looseBinding: false,
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

/**
 * The (source, destination) pairs of the host's own global addresses that the host delivers to
 * itself, for a socket of the default VRF: unbound (`-`), or bound to each address of the same family.
 */
function localPairs(h: ObservedHost): Set<string> {
  const addrs = h.addrs.filter((a) => a.scope === 'global').map((a) => a.address);
  const out = new Set<string>();
  for (const dst of addrs) {
    for (const src of [null, ...addrs]) {
      if (src !== null && src.includes(':') !== dst.includes(':')) continue;
      if (lookup(h, dst, src).kind === 'local') out.add(`${src ?? '-'} → ${dst}`);
    }
  }
  return out;
}

/** Every prefix of `steps` from `before`: the controller path as before, every pair delivered before still delivered. */
function checkPrefixes(before: ObservedHost, steps: readonly Step[], hadVrf: boolean): number {
  const ctl = leavesVia(lookup(before, CONTROLLER, null));
  expect(ctl?.dev).toBe('mgmt0');
  const pairs = localPairs(before);
  let enslaved = 0;
  for (let k = 0; k <= steps.length; k++) {
    const h = simulate(before, steps.slice(0, k), { hadVrf });
    expect(leavesVia(lookup(h, CONTROLLER, null))).toEqual(ctl);
    const now = localPairs(h);
    expect({ k, step: steps[k - 1], lost: [...pairs].filter((p) => !now.has(p)) }).toEqual({
      k,
      step: steps[k - 1],
      lost: [],
    });
    if (h.links.some((l) => l.slaveKind === 'vrf')) enslaved++;
  }
  return enslaved;
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

describe('property: every prefix of a plan keeps the controller path and local delivery', () => {
  it('an apply stopped after any step reaches the controller as before, and delivers every (source, own address) pair it did', () => {
    let enslavedPrefixes = 0;
    let pairsChecked = 0;
    fc.assert(
      fc.property(freshScenario, (s) => {
        // Without preserve-reachability the default VRF is not promised the spaces' addresses.
        fc.pre(s.desired.options.preserveReachability && gatewaysComplete(s.desired));
        const before = withController(s);
        pairsChecked += localPairs(before).size;
        enslavedPrefixes += checkPrefixes(before, plan(s.desired, before, EMPTY_LEDGER).steps, s.hadVrf);
      }),
      { numRuns: 300 },
    );
    // Not vacuous: many prefixes had a member enslaved, and the hosts had addresses to deliver to.
    expect(enslavedPrefixes).toBeGreaterThan(100);
    expect(pairsChecked).toBeGreaterThan(1000);
  });

  it('so does a teardown stopped after any step (from the converged host)', () => {
    let steps = 0;
    fc.assert(
      fc.property(freshScenario, (s) => {
        fc.pre(s.desired.options.preserveReachability && gatewaysComplete(s.desired));
        const before = withController(s);
        const p = plan(s.desired, before, EMPTY_LEDGER);
        const after = simulate(before, p.steps, { hadVrf: s.hadVrf });
        const td = planTeardown(after, p.ledger).steps;
        steps += td.length;
        checkPrefixes(after, td, true);
      }),
      { numRuns: 200 },
    );
    expect(steps).toBeGreaterThan(1000);
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
