/**
 * Every state file an earlier vrf-host wrote is read by this one, converges to nothing to do on
 * the host it describes, and tears that host down exactly (tests/fixtures/state: one file per
 * shape a version wrote). Rule ownership comes from the ledger: rules an earlier version added at
 * priorities this one no longer uses are still found and removed.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulate } from '../../../src/vrf/model.js';
import { parseState, STATE_VERSION } from '../../../src/vrf/persist.js';
import { plan } from '../../../src/vrf/plan.js';
import { ruleKey } from '../../../src/vrf/plan/keys.js';
import { renderCommand } from '../../../src/vrf/render.js';
import { completeFromKernel, salvageState } from '../../../src/vrf/salvage.js';
import { planTeardown } from '../../../src/vrf/teardown.js';
import type { Ledger, ObservedHost, OwnedRule, Rule } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER } from '../../../src/vrf/types.js';
import { V1_PRIORITY } from '../../../src/vrf/upgrade.js';
import { loadRecorded } from './recorded.js';

const DIR = join(process.cwd(), 'tests/fixtures/state');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const read = (f: string) => parseState(readFileSync(join(DIR, f), 'utf8'), f);
const keys = (rs: readonly OwnedRule[]) =>
  rs.map((r) => ruleKey(r.family, r.priority, r.src ?? null, r.table, r.dst ?? null)).sort();
const canon = (o: object): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
const rulesOf = (h: ObservedHost) => h.rules.map(canon).sort();
const routesOf = (h: ObservedHost) =>
  h.routes
    .filter((r) => r.protocol !== 'ra' && !(r.gateway !== null && r.gateway.includes(':') !== (r.family === 'inet6')))
    .map(canon)
    .sort();
const linksOf = (h: ObservedHost) => h.links.map((l) => `${l.name} ${l.kind ?? '-'} ${l.master ?? '-'}`).sort();

/** The recorded MAAS host before vrf-host, and converged by this version with the fixtures' desired state. */
const before = loadRecorded('maas-host');
const current = read('v2-this-version.json');
const converged = simulate(before, plan(current.desired!, before, EMPTY_LEDGER).steps);

/** The host as the version that wrote `ledger` left it: this version's, without the rules it adds and that one did not own. */
function madeBy(ledger: Ledger): ObservedHost {
  const owned = new Set(keys(ledger.ownedRules));
  const now = new Set(keys(current.ledger.ownedRules));
  const notYet = (r: Rule): boolean => {
    const k = ruleKey(r.family, r.priority, r.src, r.table, r.dst);
    return now.has(k) && !owned.has(k) && r.table !== null;
  };
  return { ...converged, rules: converged.rules.filter((r) => !notYet(r)) };
}

describe('state files of every version', () => {
  it('has a fixture per shape: five of version 1 and this version', () => {
    expect(FILES.filter((f) => f.startsWith('v1-'))).toHaveLength(5);
    expect(FILES).toContain(`v${STATE_VERSION}-this-version.json`);
  });

  it.each(FILES)('%s: written before the services option, it parses with no unit placed in a VRF', (f) => {
    expect(read(f).ledger.services).toBeUndefined();
  });

  it.each(FILES)('%s: parses as this version, with the desired state of this version', (f) => {
    const s = read(f);
    expect(s.version).toBe(STATE_VERSION);
    expect(s.units).toEqual(['vrf-host/0']);
    expect(s.desired?.options).toEqual(current.desired!.options);
    expect(s.desired?.vrfs).toEqual(current.desired!.vrfs);
    expect(s.ledger.vrfs).toEqual({ public: 1001, storage: 1002, 'storage-cluster': 1003 });
  });

  it.each(FILES)(
    '%s: owns the rules this version records for the same host, but for the delivery rules it added since',
    (f) => {
      const owned = keys(read(f).ledger.ownedRules);
      const now = keys(current.ledger.ownedRules);
      expect(owned.filter((k) => !now.includes(k))).toEqual([]);
      // Version 1 added `to ADDRESS lookup TABLE` only for a migrated subnet's addresses, and no
      // `from ADDRESS lookup local`: this version adds both for every space address, at 98.
      expect(now.filter((k) => !owned.includes(k)).every((k) => k.split('|')[1] === '98')).toBe(true);
    },
  );

  it.each(FILES)('%s: on the host it describes, an upgrade adds only the delivery rules it lacks', (f) => {
    const s = read(f);
    const made = madeBy(s.ledger);
    const p = plan(s.desired!, made, s.ledger);
    const missing = converged.rules.length - made.rules.length;
    expect(p.steps.map(renderCommand).filter((c) => !/^ip (-6 )?rule add pref 98 /.test(c))).toEqual([]);
    expect(p.steps).toHaveLength(missing);
    expect(keys(p.ledger.ownedRules)).toEqual(keys(current.ledger.ownedRules));
  });

  it.each(FILES)('%s: teardown gives the host of before back', (f) => {
    const s = read(f);
    const made = madeBy(s.ledger);
    const restored = simulate(made, planTeardown(made, s.ledger).steps);
    expect(linksOf(restored)).toEqual(linksOf(before));
    expect(routesOf(restored)).toEqual(routesOf(before));
    expect(restored.sysctls).toEqual(before.sysctls);
    // The first version did not record the l3mdev rules its first VRF brought: they stay (the
    // kernel keeps them after the last VRF); every other rule is as before.
    const l3mdevLeft = s.ledger.l3mdevRuleAdded === undefined ? ['inet', 'inet6'] : [];
    expect(restored.rules.filter((r) => r.l3mdev).map((r) => r.family)).toEqual(l3mdevLeft);
    expect(rulesOf({ ...restored, rules: restored.rules.filter((r) => !r.l3mdev) })).toEqual(rulesOf(before));
  });
});

describe('rule ownership comes from the ledger', () => {
  /** The converged host and its ledger as if the version that made it had used `priority` for its source rules. */
  function madeAt(priority: number): { host: ObservedHost; ledger: Ledger } {
    const moved = (r: Rule): Rule => (r.priority === V1_PRIORITY.source && r.src !== null ? { ...r, priority } : r);
    return {
      host: { ...converged, rules: converged.rules.map(moved) },
      ledger: {
        ...current.ledger,
        ownedRules: current.ledger.ownedRules.map((r) =>
          r.priority === V1_PRIORITY.source && r.src !== undefined ? { ...r, priority } : r,
        ),
      },
    };
  }
  const sourceRules = (h: ObservedHost) =>
    h.rules.filter((r) => r.table !== 255 && (r.src?.endsWith('/32') === true || r.src?.endsWith('/128') === true));

  it('an upgrade moves rules an earlier version put elsewhere: the new one first, then the old one goes', () => {
    const { host, ledger } = madeAt(97);
    const p = plan(current.desired!, host, ledger);
    const c = p.steps.map(renderCommand);
    expect(c).toContain('ip rule add pref 99 from 10.10.4.10/32 lookup 1002');
    expect(c).toContain('ip rule del pref 97 from 10.10.4.10/32 lookup 1002');
    expect(c.indexOf('ip rule add pref 99 from 10.10.4.10/32 lookup 1002')).toBeLessThan(
      c.indexOf('ip rule del pref 97 from 10.10.4.10/32 lookup 1002'),
    );
    // Every family's rules alike: each source rule's replacement is added before it goes (both
    // families have them here), so no address is ever without its source rule.
    const moved = host.rules.filter((r) => r.priority === 97);
    expect(new Set(moved.map((r) => r.family))).toEqual(new Set(['inet', 'inet6']));
    for (const r of moved) {
      const ip = r.family === 'inet6' ? 'ip -6' : 'ip';
      const add = c.indexOf(`${ip} rule add pref 99 from ${r.src} lookup ${r.table}`);
      const del = c.indexOf(`${ip} rule del pref 97 from ${r.src} lookup ${r.table}`);
      expect([r.src, add >= 0, del > add]).toEqual([r.src, true, true]);
    }
    // The plan action says why a rule at a priority this version never uses goes.
    expect(p.steps[c.indexOf('ip rule del pref 97 from 10.10.4.10/32 lookup 1002')]?.why).toBe(
      'vrf-host added this rule (the ledger lists it) and no longer wants it',
    );
    const after = simulate(host, p.steps);
    expect(sourceRules(after).map((r) => r.priority)).toEqual(sourceRules(converged).map(() => 99));
    expect(keys(p.ledger.ownedRules)).toEqual(keys(current.ledger.ownedRules));
    expect(plan(current.desired!, after, p.ledger).steps).toEqual([]);
  });

  it('an upgrade also finds delivery rules (`to ADDRESS lookup TABLE`) an earlier version put elsewhere, by their destination', () => {
    const delivery = (r: { priority: number; dst?: string | null | undefined; table: number | null }) =>
      r.priority === 98 && r.dst !== undefined && r.dst !== null && r.table !== 255;
    const host = { ...converged, rules: converged.rules.map((r) => (delivery(r) ? { ...r, priority: 42 } : r)) };
    const ledger = {
      ...current.ledger,
      ownedRules: current.ledger.ownedRules.map((r) => (delivery(r) ? { ...r, priority: 42 } : r)),
    };
    expect(host.rules.filter((r) => r.priority === 42)).not.toEqual([]);
    const p = plan(current.desired!, host, ledger);
    const after = simulate(host, p.steps);
    expect(after.rules.filter((r) => r.priority === 42)).toEqual([]);
    expect(rulesOf(after)).toEqual(rulesOf(converged));
  });

  it('teardown removes rules at a priority this version never uses, because the ledger lists them', () => {
    const { host, ledger } = madeAt(42);
    const restored = simulate(host, planTeardown(host, ledger).steps);
    expect(sourceRules(restored)).toEqual([]);
    expect(rulesOf(restored)).toEqual(rulesOf(before));
  });

  it('whatever priority an earlier version used, an upgrade moves its rules and teardown removes them', () => {
    const free = fc.integer({ min: 1, max: 32764 }).filter((p) => ![98, 99, 100, 1000].includes(p));
    fc.assert(
      fc.property(free, (priority) => {
        const { host, ledger } = madeAt(priority);
        const up = plan(current.desired!, host, ledger);
        const after = simulate(host, up.steps);
        const restored = simulate(host, planTeardown(host, ledger).steps);
        return (
          rulesOf(after).join() === rulesOf(converged).join() && rulesOf(restored).join() === rulesOf(before).join()
        );
      }),
      { numRuns: 200 },
    );
  });

  it('without the ledger listing them, those rules would be left behind (the check above can fail)', () => {
    const { host, ledger } = madeAt(42);
    const restored = simulate(host, planTeardown(host, { ...ledger, ownedRules: [] }).steps);
    expect(sourceRules(restored).map((r) => r.priority)).toEqual(sourceRules(converged).map(() => 42));
  });

  it('a rule the ledger lists that is not on the host costs nothing, and is forgotten', () => {
    const extra: OwnedRule = { family: 'inet', priority: 97, src: '10.9.9.9/32', table: 1002 };
    const p = plan(current.desired!, converged, {
      ...current.ledger,
      ownedRules: [...current.ledger.ownedRules, extra],
    });
    expect(p.steps).toEqual([]);
    expect(keys(p.ledger.ownedRules)).not.toContain(keys([extra])[0]);
  });
});

describe('teardown of a state file this version cannot read', () => {
  const text = readFileSync(join(DIR, 'v2-this-version.json'), 'utf8');

  it('refuses to converge on it, but salvages every field it can for teardown', () => {
    const newer = text.replace('"version": 2', '"version": 3');
    expect(() => parseState(newer, 'state.json')).toThrow(/has version 3; this vrf-host reads versions 1, 2/);
    const s = salvageState(newer);
    expect(s.unread).toEqual([]);
    expect(s.state.ledger).toEqual(current.ledger);
    const restored = simulate(converged, planTeardown(converged, s.state.ledger).steps);
    expect(rulesOf(restored)).toEqual(rulesOf(before));
  });

  it('names each field it could not read with what is left undone, and finds VRFs and rules through the kernel', () => {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const damaged = JSON.stringify({
      ...raw,
      version: 9,
      ledger: { ...current.ledger, vrfs: 'lost', sysctlsBefore: 7, ownedRules: [{ nonsense: true }] },
    });
    const s = salvageState(damaged);
    expect(s.unread.map((w) => w.field)).toEqual(['ledger.vrfs', 'ledger.sysctlsBefore', 'ledger.ownedRules']);
    expect(s.unread[1]!.message).toMatch(/sysctls stay as they are/);
    const rt = '# Managed by vrf-host\n1001 public\n1002 storage\n1003 storage-cluster\n1999 gone\n';
    const ledger = completeFromKernel(s.state.ledger, converged, rt);
    expect(ledger.vrfs).toEqual({ public: 1001, storage: 1002, 'storage-cluster': 1003 });
    // The moved local lookup is not among them (localRuleMoved says it); the delivery rules from a
    // member's address into the local table are.
    expect(keys(ledger.ownedRules)).toEqual(
      keys(current.ledger.ownedRules.filter((r) => r.table !== 255 || r.src !== undefined)),
    );
    const restored = simulate(converged, planTeardown(converged, ledger).steps);
    expect(linksOf(restored)).toEqual(linksOf(before));
    expect(rulesOf(restored)).toEqual(rulesOf(before));
  });

  it('reads nothing of a file that is not JSON, and says so', () => {
    const s = salvageState('{"version":1,"units":');
    expect(s.unread[0]).toEqual({ field: '(the file)', message: 'not JSON: nothing in it could be read' });
    expect(s.state.ledger).toMatchObject({ vrfs: {}, ownedRules: [], localRuleMoved: true });
  });
});
