/**
 * Properties of plan / model / teardown on random topologies (arbitraries.ts):
 * idempotence after apply, teardown gives the host back, plans only touch what
 * vrf-host owns, and every planned step renders.
 */
import fc from 'fast-check';
import { simulate } from '../../../src/vrf/model.js';
import { targetOfRoute } from '../../../src/vrf/plan/keys.js';
import { plan } from '../../../src/vrf/plan.js';
import { renderStep } from '../../../src/vrf/render.js';
import { planTeardown } from '../../../src/vrf/teardown.js';
import type { DesiredState, ObservedHost, Route, Step } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER, LOCAL_RULE_MOVED_PRIORITY, SOURCE_RULE_PRIORITY, TABLE } from '../../../src/vrf/types.js';
import { freshScenario, scenario, stopAt } from './arbitraries.js';

const canon = (o: object): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
/**
 * What teardown must give back. `relearnt`: devices that were enslaved; the kernel drops their
 * RA routes on enslave and relearns them from the next advertisement (vrf-host never re-adds
 * them), so those are left out; every other route, RA ones via other devices included, must match.
 */
function comparable(h: ObservedHost, relearnt: ReadonlySet<string> = new Set()) {
  return {
    links: h.links.map((l) => `${l.name} ${l.kind ?? '-'} ${l.master ?? '-'} ${l.up}`).sort(),
    addrs: h.addrs.map((a) => `${a.dev} ${a.address}/${a.prefixlen} ${a.scope}`).sort(),
    routes: h.routes
      .filter((r) => !(r.protocol === 'ra' && r.dev !== null && relearnt.has(r.dev)))
      .map(canon)
      .sort(),
    // Every rule, the l3mdev rules (the kernel keeps them after the last VRF: teardown deletes the
    // ones vrf-host brought) and each rule's protocol (a stock rule given back is `protocol kernel`) included.
    rules: h.rules.map(canon).sort(),
    sysctls: h.sysctls,
  };
}

/** vrf-host never makes a `proto ra` route: only the kernel learns those. */
const noRaAdded = (steps: readonly Step[]): boolean =>
  !steps.some((s) => s.kind === 'route-add' && s.route.protocol === 'ra');

/** The kernel relearns the RA default of every member whose router advertises, into its VRF's table. */
function relearnRa(observed: ObservedHost, after: ObservedHost, desired: DesiredState): ObservedHost {
  const tableOf = new Map(desired.vrfs.flatMap((v) => v.members.map((m) => [m, v.table] as const)));
  const learnt: Route[] = [];
  for (const r of observed.routes) {
    if (r.protocol !== 'ra' || r.dev === null) continue;
    const table = tableOf.get(r.dev);
    if (table === undefined || after.links.find((l) => l.name === r.dev)?.up !== true) continue;
    learnt.push({ ...r, table });
  }
  // Through the model: an entry identical to one already there is refused, as the kernel does (EEXIST).
  return simulate({ ...after, routes: [...after.routes, ...learnt] }, []);
}

describe('properties', () => {
  it('plan(desired, simulate(X, plan(desired, X))) is empty and keeps the ledger', () => {
    fc.assert(
      fc.property(scenario, ({ observed, desired }) => {
        const p = plan(desired, observed, EMPTY_LEDGER);
        const after = simulate(observed, p.steps);
        const again = plan(desired, after, p.ledger);
        expect(again.steps).toEqual([]);
        expect(again.ledger).toEqual(p.ledger);
      }),
      { numRuns: 300 },
    );
  });

  it('the kernel relearning RA defaults into the VRF tables changes nothing (no fight over the default)', () => {
    let exercised = 0;
    fc.assert(
      fc.property(scenario, ({ observed, desired }) => {
        const p = plan(desired, observed, EMPTY_LEDGER);
        expect(noRaAdded(p.steps)).toBe(true);
        const after = simulate(observed, p.steps);
        const relearnt = relearnRa(observed, after, desired);
        if (relearnt.routes.length !== after.routes.length) exercised++;
        const again = plan(desired, relearnt, p.ledger);
        expect(again.steps).toEqual([]);
        expect(again.ledger).toEqual(p.ledger);
      }),
      { numRuns: 300 },
    );
    // Not vacuous: some runs really had a kernel RA default next to (or instead of) vrf-host's.
    expect(exercised).toBeGreaterThan(10);
  });

  it('converges from any prefix of an interrupted apply (ip stopped at a failing line)', () => {
    fc.assert(
      fc.property(scenario, fc.nat(), ({ observed, desired }, cut) => {
        const p = plan(desired, observed, EMPTY_LEDGER);
        const partial = simulate(observed, p.steps.slice(0, stopAt(p.steps, cut)));
        // The ledger is only persisted after a successful apply: the next run starts from the old one.
        const p2 = plan(desired, partial, EMPTY_LEDGER);
        const done = simulate(partial, p2.steps);
        expect(plan(desired, done, p2.ledger).steps).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('with the ledger written before apply, an interrupted apply still converges and teardown still gives back X', () => {
    fc.assert(
      fc.property(freshScenario, fc.nat(), ({ observed, desired, hadVrf }, cut) => {
        const members = new Set(desired.vrfs.flatMap((v) => v.members));
        fc.pre(observed.links.every((l) => l.up || !members.has(l.name)));
        const p = plan(desired, observed, EMPTY_LEDGER);
        const partial = simulate(observed, p.steps.slice(0, stopAt(p.steps, cut)), { hadVrf });
        const p2 = plan(desired, partial, p.ledger);
        const done = simulate(partial, p2.steps, { hadVrf: true });
        expect(plan(desired, done, p2.ledger).steps).toEqual([]);
        const td = planTeardown(done, p2.ledger);
        expect(noRaAdded(td.steps)).toBe(true);
        expect(comparable(simulate(done, td.steps), members)).toEqual(comparable(observed, members));
      }),
      { numRuns: 300 },
    );
  });

  it('teardown after apply gives back X on the model', () => {
    let brought = 0;
    fc.assert(
      fc.property(freshScenario, ({ observed, desired, hadVrf }) => {
        // Teardown does not take a member down again that apply had to bring up (the ledger has no field for it).
        const members = new Set(desired.vrfs.flatMap((v) => v.members));
        fc.pre(observed.links.every((l) => l.up || !members.has(l.name)));
        const p = plan(desired, observed, EMPTY_LEDGER);
        const after = simulate(observed, p.steps, { hadVrf });
        // With any VRF, the l3mdev rules are there whether or not the kernel added them.
        if (desired.vrfs.length > 0)
          expect(after.rules.filter((r) => r.l3mdev).map((r) => r.family)).toEqual(['inet', 'inet6']);
        if (p.ledger.l3mdevRuleAdded !== undefined) brought++;
        const td = planTeardown(after, p.ledger);
        expect(td.ledger).toEqual(EMPTY_LEDGER);
        expect(noRaAdded(td.steps)).toBe(true);
        // The model keeps the l3mdev rules after the last VRF goes, as the kernel does.
        expect(comparable(simulate(after, td.steps, { hadVrf: true }), members)).toEqual(comparable(observed, members));
      }),
      { numRuns: 300 },
    );
    // Not vacuous: many runs brought the l3mdev rules (and teardown had to delete them).
    expect(brought).toBeGreaterThan(50);
  });

  it('apply, teardown, apply again in the same namespace (the kernel adds no l3mdev rule the second time), teardown: X again', () => {
    fc.assert(
      fc.property(freshScenario, ({ observed, desired, hadVrf }) => {
        const members = new Set(desired.vrfs.flatMap((v) => v.members));
        fc.pre(desired.vrfs.length > 0 && observed.links.every((l) => l.up || !members.has(l.name)));
        const p1 = plan(desired, observed, EMPTY_LEDGER);
        const after1 = simulate(observed, p1.steps, { hadVrf });
        const back = simulate(after1, planTeardown(after1, p1.ledger).steps, { hadVrf: true });
        expect(comparable(back, members)).toEqual(comparable(observed, members));
        const p2 = plan(desired, back, EMPTY_LEDGER);
        const after2 = simulate(back, p2.steps, { hadVrf: true });
        expect(after2.rules.filter((r) => r.l3mdev).map((r) => r.family)).toEqual(['inet', 'inet6']);
        expect(plan(desired, after2, p2.ledger).steps).toEqual([]);
        // The second apply brought the l3mdev rules too (the RA default it remembers may differ: the kernel relearns those).
        expect(p2.ledger.l3mdevRuleAdded).toEqual(p1.ledger.l3mdevRuleAdded);
        const back2 = simulate(after2, planTeardown(after2, p2.ledger).steps, { hadVrf: true });
        expect(comparable(back2, members)).toEqual(comparable(observed, members));
      }),
      { numRuns: 200 },
    );
  });

  it('changing the desired state (VRFs dropped, tables changed, options flipped) converges, and teardown still gives back X', () => {
    const change = fc.record({
      keep: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      retable: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      strict: fc.boolean(),
      moveLocalRule: fc.boolean(),
      preserveReachability: fc.boolean(),
      nonlocalBind: fc.boolean(),
      l3mdevAccept: fc.boolean(),
    });
    fc.assert(
      fc.property(freshScenario, change, ({ observed, desired: d1, hadVrf }, c) => {
        const members = new Set(d1.vrfs.flatMap((v) => v.members));
        fc.pre(observed.links.every((l) => l.up || !members.has(l.name)));
        const p1 = plan(d1, observed, EMPTY_LEDGER);
        const after1 = simulate(observed, p1.steps, { hadVrf });
        const d2 = {
          ...d1,
          ...c,
          vrfs: d1.vrfs.filter((_, i) => c.keep[i]).map((v, i) => (c.retable[i] ? { ...v, table: v.table + 100 } : v)),
        };
        const p2 = plan(d2, after1, p1.ledger);
        const after2 = simulate(after1, p2.steps, { hadVrf: hadVrf || d1.vrfs.length > 0 });
        expect(plan(d2, after2, p2.ledger).steps).toEqual([]);
        expect(noRaAdded(p2.steps)).toBe(true);
        const td = planTeardown(after2, p2.ledger);
        expect(noRaAdded(td.steps)).toBe(true);
        expect(comparable(simulate(after2, td.steps, { hadVrf: true }), members)).toEqual(
          comparable(observed, members),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('only touches what vrf-host owns or migrates, and every step renders', () => {
    fc.assert(
      fc.property(scenario, ({ observed, desired }) => {
        const p = plan(desired, observed, EMPTY_LEDGER);
        const vrfs = new Set(desired.vrfs.map((v) => v.name));
        const tables = new Set(desired.vrfs.map((v) => v.table));
        const members = new Set(desired.vrfs.flatMap((v) => v.members));
        const migratedRules = new Set(
          p.ledger.migratedRules.map((r) => `${r.family} ${r.priority} ${r.src} ${r.table}`),
        );
        const had = new Set(observed.routes.map((r) => JSON.stringify(targetOfRoute(r))));
        for (const s of p.steps) {
          expect(() => renderStep(s)).not.toThrow();
          switch (s.kind) {
            case 'enslave':
            case 'link-up':
              expect(members.has(s.dev) || vrfs.has(s.dev)).toBe(true);
              break;
            case 'route-add':
            case 'route-del':
              expect(
                tables.has(s.route.table) ||
                  (s.route.table === TABLE.main && s.route.dev !== undefined && vrfs.has(s.route.dev)) ||
                  // A route the host had through a device that went down and up with a member (model.ts cycleOf).
                  (s.kind === 'route-add' && had.has(JSON.stringify(s.route))),
              ).toBe(true);
              break;
            case 'link-down':
              // Only a device that was down, which the kernel brought up with a member.
              expect(observed.links.find((l) => l.name === s.dev)?.up).toBe(false);
              break;
            case 'rule-del': {
              const r = s.rule;
              const local =
                r.table === TABLE.local &&
                r.src === undefined &&
                (r.priority === 0 || r.priority === LOCAL_RULE_MOVED_PRIORITY);
              const ours = r.priority === SOURCE_RULE_PRIORITY && tables.has(r.table);
              expect(local || ours || migratedRules.has(`${r.family} ${r.priority} ${r.src} ${r.table}`)).toBe(true);
              break;
            }
            default:
              break;
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
