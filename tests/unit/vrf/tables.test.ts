import { assignTables, foreignTables } from '../../../src/vrf/tables.js';
import { EMPTY_LEDGER, type Ledger } from '../../../src/vrf/types.js';
import { host, mkRoute, mkRule, route, rule, vrf } from './builders.js';

// MAAS source routing: tables 1 and 2 selected by `from SUBNET lookup N` at pref 100.
const maas = host(
  rule({ priority: 0, table: 255 }),
  rule({ priority: 32766, table: 254 }),
  rule({ priority: 32767, table: 253 }),
  rule({ priority: 100, src: '10.0.0.0/24', table: 1 }),
  route({ dst: 'default', gateway: '10.0.0.1', table: 1 }),
  rule({ priority: 100, src: '10.10.4.0/24', table: 2 }),
  route({ dst: 'default', gateway: '10.10.4.1', table: 2 }),
  vrf('public', 1001),
  route({ dst: 'default', gateway: '172.16.0.1', table: 1001 }),
  vrf('blue', 500),
);

describe('foreignTables', () => {
  it('counts tables with routes or rules, and foreign VRFs, but not reserved or ledger-owned ones', () => {
    const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { public: 1001 } };
    expect([...foreignTables(maas, ledger)].sort((a, b) => a - b)).toEqual([1, 2, 500]);
    expect([...foreignTables(maas, EMPTY_LEDGER)].sort((a, b) => a - b)).toEqual([1, 2, 500, 1001]);
  });
  it('a migrated MAAS rule and its migrated route still make their table foreign', () => {
    const ledger: Ledger = {
      ...EMPTY_LEDGER,
      migratedRules: [mkRule({ priority: 100, src: '10.20.0.0/24', table: 7 })],
      migratedRoutes: [mkRoute({ dst: 'default', gateway: '10.20.0.1', table: 8 })],
    };
    expect(foreignTables(host(), ledger)).toEqual(new Set([7, 8]));
  });
});

describe('assignTables', () => {
  const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { public: 1001 } };
  it('config, then persisted, then the lowest free id, skipping reserved and foreign ids', () => {
    const r = assignTables(
      [
        { vrf: 'c', field: 'c' },
        { vrf: 'public', field: 'public' },
        { vrf: 'a', field: 'a' },
        { vrf: 'b', configured: 3, field: 'vrfs: b.table' },
      ],
      { min: 1, max: 2000 },
      maas,
      ledger,
    );
    expect(r.problems).toEqual([]);
    expect(Object.fromEntries(r.tables)).toEqual({
      a: { table: 4, source: 'auto' },
      b: { table: 3, source: 'config' },
      c: { table: 5, source: 'auto' },
      public: { table: 1001, source: 'persisted' },
    });
  });
  it('skips 253-255 inside the range', () => {
    const r = assignTables(
      [
        { vrf: 'a', field: 'a' },
        { vrf: 'b', field: 'b' },
      ],
      { min: 253, max: 260 },
      host(),
      EMPTY_LEDGER,
    );
    expect([...r.tables.values()].map((t) => t.table)).toEqual([256, 257]);
  });
  it.each([
    [254, 'vrfs: x.table 254 is reserved'],
    [0, 'vrfs: x.table 0 is reserved'],
    [2, 'vrfs: x.table 2 is in use on this host by routes or rules that vrf-host does not own'],
    [500, 'vrfs: x.table 500 is in use on this host by routes or rules that vrf-host does not own'],
  ])('configured %i is refused', (t, msg) => {
    const r = assignTables(
      [{ vrf: 'x', configured: t, field: 'vrfs: x.table' }],
      { min: 1001, max: 5000 },
      maas,
      ledger,
    );
    expect(r.problems.map((p) => `${p.field} ${p.message}`)).toEqual([msg]);
  });
  it("a configured id may be the VRF's own ledger table (ours, not foreign)", () => {
    const r = assignTables(
      [{ vrf: 'public', configured: 1001, field: 'vrfs: public.table' }],
      { min: 1, max: 9 },
      maas,
      ledger,
    );
    expect(r.tables.get('public')).toEqual({ table: 1001, source: 'config' });
  });
  it('duplicates are problems', () => {
    const r = assignTables(
      [
        { vrf: 'a', configured: 20, field: 'vrfs: a.table' },
        { vrf: 'b', configured: 20, field: 'vrfs: b.table' },
      ],
      { min: 1001, max: 5000 },
      host(),
      EMPTY_LEDGER,
    );
    expect(r.problems).toEqual([{ field: 'vrfs: b.table', message: '20 is already the table of a' }]);
  });
  it('an exhausted range is a problem naming the VRF', () => {
    const r = assignTables(
      [
        { vrf: 'a', field: 'a' },
        { vrf: 'b', field: 'b' },
      ],
      { min: 1, max: 3 },
      maas,
      EMPTY_LEDGER,
    );
    expect(r.tables.get('a')).toEqual({ table: 3, source: 'auto' });
    expect(r.problems).toEqual([{ field: 'table-range', message: 'no free table in 1-3 for b' }]);
  });
});
