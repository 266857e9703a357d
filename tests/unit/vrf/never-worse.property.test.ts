/**
 * Never leave a host worse than before, on random topologies (arbitraries.ts) run through the
 * kernel model: main keeps a default route that works; and every prefix of a plan (an apply or a
 * teardown that stops after any step) keeps the controller path and the host's delivery to its
 * own addresses from each of them that worked before, its end delivers them all, and it has
 * l3mdev accept on from the first enslave.
 */
import fc from 'fast-check';
import { simulate } from '../../../src/vrf/model.js';
import { isKernelRoute, routeId } from '../../../src/vrf/plan/keys.js';
import { plan } from '../../../src/vrf/plan.js';
import { planTeardown } from '../../../src/vrf/teardown.js';
import type { Addr, DesiredState, Ledger, ObservedHost, Route, Step } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER, FAMILIES, SYSCTL, TABLE, withCycle } from '../../../src/vrf/types.js';
import { evolvedScenario, freshScenario, scenario, type EvolvedScenario, type Scenario } from './arbitraries.js';
import { mkLink, mkRoute } from './builders.js';
import { leavesVia, lookup } from './lookup.js';

const CONTROLLER = '10.100.0.5';
const OUTSIDE = { inet: '198.51.100.7', inet6: '2001:db8:ffff::7' } as const;

/** The host plus the unit's controller path: mgmt0 in main, a route to the controller through it. */
function controllerHost(o: ObservedHost): ObservedHost {
  const mgmt0 = mkLink('mgmt0', { ifindex: 99 });
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

const withController = (s: Scenario): ObservedHost => controllerHost(s.observed);

/** Hosts that already carry vrf-host's VRFs (converged, partly applied, drifted), and a new desired state. */
const evolved = evolvedScenario(controllerHost);

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

/** Every (source, own address) pair of the host's global addresses on up devices (a down device delivers nothing). */
function allPairs(h: ObservedHost): Set<string> {
  const up = new Set(h.links.filter((l) => l.up).map((l) => l.name));
  const addrs = h.addrs.filter((a) => a.scope === 'global' && up.has(a.dev)).map((a) => a.address);
  const out = new Set<string>();
  for (const dst of addrs)
    for (const src of [null, ...addrs])
      if (src === null || src.includes(':') === dst.includes(':')) out.add(`${src ?? '-'} → ${dst}`);
  return out;
}

/**
 * Every prefix of `steps` from `before`: the controller path as before, every pair delivered before
 * still delivered; and the end delivers every pair (what a drifted host had lost included).
 */
function checkPrefixes(before: ObservedHost, steps: readonly Step[], hadVrf: boolean): number {
  const ctl = leavesVia(lookup(before, CONTROLLER, null));
  expect(ctl?.dev).toBe('mgmt0');
  const pairs = localPairs(before);
  let enslaved = 0;
  for (let k = 0; k <= steps.length; k++) {
    // A cycle and the steps that put back what it took are judged as one (types.ts withCycle).
    if (k < steps.length && withCycle(steps[k]!)) continue;
    const h = simulate(before, steps.slice(0, k), { hadVrf });
    expect(leavesVia(lookup(h, CONTROLLER, null))).toEqual(ctl);
    const now = localPairs(h);
    expect({ k, step: steps[k - 1], lost: [...pairs].filter((p) => !now.has(p)) }).toEqual({
      k,
      step: steps[k - 1],
      lost: [],
    });
    if (h.links.some((l) => l.slaveKind === 'vrf')) enslaved++;
    if (k === steps.length) expect([...allPairs(h)].filter((p) => !now.has(p))).toEqual([]);
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

// ---------------------------------------------------------------------------
// Hosts that already carry vrf-host's VRFs
// ---------------------------------------------------------------------------

/** The routes vrf-host does not make itself: not the kernel's, not in a table or through a device of vrf-host's. */
function foreignRoutes(h: ObservedHost, ...ledgers: Ledger[]): Route[] {
  const tables = new Set(ledgers.flatMap((l) => Object.values(l.vrfs)));
  const vrfs = new Set(ledgers.flatMap((l) => Object.keys(l.vrfs)));
  return h.routes.filter((r) => !isKernelRoute(r) && !tables.has(r.table) && (r.dev === null || !vrfs.has(r.dev)));
}

/**
 * The kernel relearns a router-advertised default in main once its device is back in main and up
 * (the planner never re-adds one: routing.ts); the model does not advertise.
 */
function relearnRa(h: ObservedHost, ledger: Ledger): ObservedHost {
  const back = ledger.migratedRoutes.filter(
    (r) =>
      r.protocol === 'ra' &&
      r.table === TABLE.main &&
      h.links.some((l) => l.name === r.dev && l.up && l.master === null) &&
      !h.routes.some((x) => routeId(x) === routeId(r)),
  );
  return { ...h, routes: [...h.routes, ...back] };
}

/** A plan for an evolved host: the steps, what it leaves, both ledgers. */
function planEvolved(e: EvolvedScenario): { steps: readonly Step[]; after: ObservedHost; ledger: Ledger } {
  const p = plan(e.desired, e.observed, e.ledger);
  return { steps: p.steps, after: simulate(e.observed, p.steps, { hadVrf: true }), ledger: p.ledger };
}

describe('never worse on hosts that already carry VRFs (converged, partly applied, drifted; members moving)', () => {
  it('plans converge: the next plan is empty', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(evolved, (e) => {
        const { after, ledger } = planEvolved(e);
        expect(plan(e.desired, after, ledger).steps).toEqual([]);
        seen.add(e.how);
      }),
      { numRuns: 300 },
    );
    expect([...seen].sort()).toEqual(['converged', 'drifted', 'partial']);
  });

  it('no plan removes main’s last default route unless it moves somewhere it still works', () => {
    let kept = 0;
    fc.assert(
      fc.property(evolved, (e) => {
        fc.pre(gatewaysComplete(e.desired) && gatewaysComplete(e.was));
        const after = relearnRa(planEvolved(e).after, e.ledger);
        for (const f of FAMILIES) {
          if (leavesVia(lookup(e.observed, OUTSIDE[f], null)) === null) continue;
          expect({ f, out: leavesVia(lookup(after, OUTSIDE[f], null)) }).not.toEqual({ f, out: null });
          kept++;
        }
      }),
      { numRuns: 300 },
    );
    expect(kept).toBeGreaterThan(30);
  });

  it('every prefix keeps the controller path and every (source, own address) pair the host delivered (converged, partly applied or drifted), and the end delivers them all', () => {
    const how = new Set<string>();
    let steps = 0;
    let repaired = 0;
    fc.assert(
      fc.property(evolved, (e) => {
        fc.pre(e.desired.options.preserveReachability && gatewaysComplete(e.desired) && gatewaysComplete(e.was));
        const p = plan(e.desired, e.observed, e.ledger);
        steps += p.steps.length;
        checkPrefixes(e.observed, p.steps, true);
        how.add(e.how);
        if (
          p.steps.some(
            (x) =>
              x.kind === 'rule-add' && x.why.startsWith('the delivery rule') && x.why.includes('missing: back first'),
          )
        )
          repaired++;
      }),
      { numRuns: 300 },
    );
    expect(steps).toBeGreaterThan(500);
    expect([...how].sort()).toEqual(['converged', 'drifted', 'partial']);
    // Not vacuous: drift took delivery rules the plan put back first (59-65 of 300 runs measured).
    expect(repaired).toBeGreaterThan(20);
  });

  it('a route the host keeps is there before every step that is not a route-add (a cycle puts back what it flushed at once)', () => {
    let cycledWithStack = 0;
    fc.assert(
      fc.property(evolved, (e) => {
        const { steps, after } = planEvolved(e);
        const id = (r: Route): string => `${routeId(r)}|${r.protocol}`;
        const end = new Set(after.routes.map(id));
        const stable = e.observed.routes.filter((r) => !isKernelRoute(r) && end.has(id(r)));
        let h = e.observed;
        for (let k = 0; k <= steps.length; k++) {
          if (k > 0) h = simulate(h, [steps[k - 1]!], { hadVrf: true });
          if (k < steps.length && (steps[k]!.kind === 'route-add' || withCycle(steps[k]!))) continue;
          const now = new Set(h.routes.map(id));
          expect({ k, step: steps[k - 1], missing: stable.filter((r) => !now.has(id(r))) }).toEqual({
            k,
            step: steps[k - 1],
            missing: [],
          });
        }
        if (steps.some((s) => s.kind === 'route-add' && withCycle(s))) cycledWithStack++;
      }),
      { numRuns: 400 },
    );
    // Not vacuous: some runs had a cycle flush routes from the devices stacked on the cycled one.
    // About 3 % of runs do (12-13 of 400 measured), so "> 8" failed about one run in six by chance;
    // "> 2" fails by chance about once in 3,000.
    expect(cycledWithStack).toBeGreaterThan(2);
  });

  it('nothing foreign is lost: every route the host had that is not vrf-host’s is there after, or remembered to give back', () => {
    fc.assert(
      fc.property(evolved, (e) => {
        const { after, ledger } = planEvolved(e);
        const there = new Set(after.routes.map(routeId));
        const remembered = new Set([...e.ledger.migratedRoutes, ...ledger.migratedRoutes].map(routeId));
        const lost = foreignRoutes(e.observed, e.ledger, ledger).filter(
          (r) => !there.has(routeId(r)) && !remembered.has(routeId(r)),
        );
        expect(lost).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a teardown from there gives back every foreign route and leaves the controller path as it was', () => {
    fc.assert(
      fc.property(evolved, (e) => {
        const { after, ledger } = planEvolved(e);
        const td = planTeardown(after, ledger).steps;
        checkPrefixes(after, td, true);
        const back = simulate(after, td, { hadVrf: true });
        const there = new Set(back.routes.map(routeId));
        const foreign = foreignRoutes(after, e.ledger, ledger).filter(
          (r) => r.dev === null || back.links.some((l) => l.name === r.dev && l.up),
        );
        expect(foreign.filter((r) => !there.has(routeId(r)))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
