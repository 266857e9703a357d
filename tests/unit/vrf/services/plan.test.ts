import fc from 'fast-check';
import type { ServiceEntry } from '../../../../src/vrf/services/config.js';
import {
  type ObservedService,
  type PlacedService,
  planServices,
  type ServiceStep,
  type ServicesInput,
} from '../../../../src/vrf/services/plan.js';
import { renderServiceDropIn } from '../../../../src/vrf/services/dropin.js';
import type { UnitShow } from '../../../../src/vrf/services/unit-state.js';
import { show } from './fixtures.js';

/** A unit on the model host. */
interface HostUnit {
  readonly loaded: boolean;
  readonly running: boolean;
  readonly user: string;
  readonly execStart: readonly string[];
  readonly dropIn: string | null;
  readonly dirExists: boolean;
  /** The VRF its main process is in ('' the default), undefined when not running. */
  readonly processVrf: string | undefined;
  /** The VRF device's ifindex its process was started with (what the BPF program carries). */
  readonly boundIfindex: number | undefined;
}
type Host = ReadonlyMap<string, HostUnit>;

/** A loaded unit vrf-host has not placed: no drop-in, running in the default VRF unless `o` says otherwise. */
const notPlaced = (execStart: readonly string[], o: Partial<HostUnit> = {}): HostUnit => ({
  loaded: true,
  running: true,
  user: '',
  execStart,
  dropIn: null,
  dirExists: false,
  processVrf: '',
  boundIfindex: undefined,
  ...o,
});

const observe = (h: Host): Map<string, ObservedService> =>
  new Map(
    [...h].map(([unit, u]) => {
      const s: UnitShow = show({
        Id: unit,
        LoadState: u.loaded ? 'loaded' : 'not-found',
        ActiveState: u.running ? 'active' : 'inactive',
        User: u.user,
      });
      return [
        unit,
        { show: s, execStart: u.execStart, dropIn: u.dropIn, dirExists: u.dirExists, processVrf: u.processVrf },
      ];
    }),
  );

const vrfOfDropIn = (content: string | null): string => /ip vrf exec (\S+)/.exec(content ?? '')?.[1] ?? '';

/** What systemd and the kernel do with the steps, in order. */
function execute(h: Host, steps: readonly ServiceStep[], ifindex: ReadonlyMap<string, number>): Host {
  const out = new Map(h);
  for (const s of steps) {
    const u = out.get(s.kind === 'daemon-reload' ? '' : s.unit);
    if (u === undefined) continue;
    if (s.kind === 'write-dropin') out.set(s.unit, { ...u, dropIn: s.content, dirExists: true });
    else if (s.kind === 'remove-dropin')
      out.set(s.unit, { ...u, dropIn: null, dirExists: s.removeDir ? false : u.dirExists });
    else if (s.kind === 'try-restart' && u.running) {
      const vrf = vrfOfDropIn(u.dropIn);
      out.set(s.unit, { ...u, processVrf: vrf, boundIfindex: vrf === '' ? undefined : ifindex.get(vrf) });
    }
  }
  return out;
}

const UNITS = ['a.service', 'b.service', 'c.service', 'd.service'] as const;
const VRFS = ['storage', 'public'] as const;
const IFINDEX = new Map<string, number>([
  ['storage', 10],
  ['public', 11],
]);

const hostUnit = fc.record({
  loaded: fc.boolean(),
  running: fc.boolean(),
  execStart: fc.array(fc.constantFrom('/bin/a', '-/bin/b x', '/bin/c %i'), { minLength: 1, maxLength: 2 }),
  dirExists: fc.boolean(),
});
const hostArb = fc
  .tuple(...UNITS.map(() => hostUnit))
  .map(
    (us): Host =>
      new Map(
        us.map((u, i) => [
          UNITS[i] ?? '',
          { ...u, user: '', dropIn: null, processVrf: u.running ? '' : undefined, boundIfindex: undefined },
        ]),
      ),
  );
const entriesArb = fc
  .subarray([...UNITS])
  .chain((units) =>
    fc
      .tuple(...units.map(() => fc.constantFrom(...VRFS)))
      .map((vrfs) => units.map((unit, i): ServiceEntry => ({ unit, vrf: vrfs[i] ?? 'storage' }))),
  );

const input = (
  h: Host,
  entries: readonly ServiceEntry[],
  records: readonly PlacedService[],
  ifindex = IFINDEX,
): ServicesInput => ({
  entries,
  observed: observe(h),
  records,
  vrfIfindex: ifindex,
});

/** Plan and execute; returns the host and records after. */
function converge(h: Host, entries: readonly ServiceEntry[], records: readonly PlacedService[], ifindex = IFINDEX) {
  const p = planServices(input(h, entries, records, ifindex));
  if (!p.ok) throw new Error(JSON.stringify(p.problems));
  return { host: execute(h, p.steps, ifindex), records: p.records, steps: p.steps };
}

describe('planServices', () => {
  it('places a running unit: writes, one daemon-reload, then restarts it; an inactive one only gets the file', () => {
    const h: Host = new Map([
      ['a.service', notPlaced(['/bin/a'])],
      [
        'b.service',
        {
          loaded: true,
          running: false,
          user: '',
          execStart: ['/bin/b'],
          dropIn: null,
          dirExists: true,
          processVrf: undefined,
          boundIfindex: undefined,
        },
      ],
    ]);
    const p = planServices(
      input(
        h,
        [
          { unit: 'a.service', vrf: 'storage' },
          { unit: 'b.service', vrf: 'public' },
        ],
        [],
      ),
    );
    expect(
      p.ok &&
        p.steps.map((s) =>
          s.kind === 'daemon-reload' ? s.kind : `${s.kind} ${s.unit}${s.kind === 'try-restart' ? ` ${s.reason}` : ''}`,
        ),
    ).toEqual(['write-dropin a.service', 'write-dropin b.service', 'daemon-reload', 'try-restart a.service placed']);
    expect(p.ok && p.records).toEqual([
      {
        unit: 'a.service',
        vrf: 'storage',
        ifindex: 10,
        execStart: ['/bin/a'],
        path: 'etc/systemd/system/a.service.d/50-vrf-host-vrf.conf',
        createdDir: true,
      },
      {
        unit: 'b.service',
        vrf: 'public',
        ifindex: 11,
        execStart: ['/bin/b'],
        path: 'etc/systemd/system/b.service.d/50-vrf-host-vrf.conf',
        createdDir: false,
      },
    ]);
  });

  it('a unit that does not exist: a warning naming it, nothing written, its record kept', () => {
    const h: Host = new Map([
      [
        'a.service',
        {
          loaded: false,
          running: false,
          user: '',
          execStart: [],
          dropIn: null,
          dirExists: false,
          processVrf: undefined,
          boundIfindex: undefined,
        },
      ],
    ]);
    const rec: PlacedService = {
      unit: 'a.service',
      vrf: 'storage',
      ifindex: 10,
      execStart: ['/bin/a'],
      path: 'p',
      createdDir: true,
    };
    const p = planServices(input(h, [{ unit: 'a.service', vrf: 'storage' }], [rec]));
    expect(p).toEqual({
      ok: true,
      steps: [],
      records: [rec],
      warnings: [
        { field: 'services: a.service', message: 'is not a unit on this host (not-found): nothing done for it yet' },
      ],
    });
  });

  it('a listed unit that has failed: a warning naming it and its VRF, no restart (vrf-host never starts one)', () => {
    const entries = [{ unit: 'a.service', vrf: 'storage' }];
    const placed = converge(new Map([['a.service', notPlaced(['/bin/a'])]]), entries, []);
    const observed = observe(placed.host);
    const a = observed.get('a.service')!;
    observed.set('a.service', { ...a, show: { ...a.show, ActiveState: 'failed', MainPID: 0 }, processVrf: undefined });
    const p = planServices({ entries, observed, records: placed.records, vrfIfindex: IFINDEX });
    expect(p).toEqual({
      ok: true,
      steps: [],
      records: placed.records,
      warnings: [{ field: 'services: a.service', message: 'has failed (ActiveState=failed): not running in storage' }],
    });
  });

  it('a trap in one unit blocks every entry: no step at all, the entry named', () => {
    const h: Host = new Map([
      ['a.service', notPlaced(['/bin/a'])],
      ['b.service', notPlaced(['/bin/b'], { user: '_chrony' })],
    ]);
    const p = planServices(
      input(
        h,
        [
          { unit: 'a.service', vrf: 'storage' },
          { unit: 'b.service', vrf: 'storage' },
        ],
        [],
      ),
    );
    expect(p.ok).toBe(false);
    expect(p.ok ? [] : p.problems.map((x) => x.field)).toEqual(['services: b.service']);
    expect(p.ok ? '' : p.problems[0]?.message).toContain('User=_chrony');
  });

  it('a VRF missing from the host is a problem naming the entry', () => {
    const h: Host = new Map([['a.service', notPlaced(['/bin/a'])]]);
    const p = planServices(input(h, [{ unit: 'a.service', vrf: 'storage' }], [], new Map()));
    expect(p.ok ? [] : p.problems).toEqual([
      { field: 'services: a.service', message: 'names storage, which is not on the host' },
    ]);
  });

  it('property: converged means no step; every running placed unit is in its VRF, bound to its current ifindex', () => {
    fc.assert(
      fc.property(hostArb, entriesArb, entriesArb, (h0, first, second) => {
        const a = converge(h0, first, []);
        const b = converge(a.host, second, a.records);
        const again = planServices(input(b.host, second, b.records));
        expect(again.ok && again.steps).toEqual([]);
        for (const e of second) {
          const u = b.host.get(e.unit);
          if (!u?.loaded || !u.running) continue;
          expect(u.processVrf).toBe(e.vrf);
          expect(u.boundIfindex).toBe(IFINDEX.get(e.vrf));
        }
        for (const [unit, u] of b.host) {
          if (!second.some((e) => e.unit === unit) && u.running) expect(u.processVrf).toBe('');
        }
      }),
    );
  });

  it('property: a restart only where the placement changed (placed, moved, released), never for a unit that stays', () => {
    fc.assert(
      fc.property(hostArb, entriesArb, entriesArb, (h0, first, second) => {
        const a = converge(h0, first, []);
        const b = converge(a.host, second, a.records);
        const before = new Map(a.records.map((r) => [r.unit, r.vrf]));
        const after = new Map(b.records.map((r) => [r.unit, r.vrf]));
        for (const s of b.steps) {
          if (s.kind !== 'try-restart') continue;
          expect(before.get(s.unit)).not.toBe(after.get(s.unit));
          expect(a.host.get(s.unit)?.running).toBe(true);
        }
        for (const [unit, vrf] of after) {
          const u = a.host.get(unit);
          if (u?.running && before.get(unit) !== vrf)
            expect(b.steps).toContainEqual({
              kind: 'try-restart',
              unit,
              reason: before.has(unit) ? 'moved' : 'placed',
            });
        }
      }),
    );
  });

  it('property: a VRF recreated (new ifindex) restarts exactly its running units, and rewrites nothing', () => {
    fc.assert(
      fc.property(hostArb, entriesArb, fc.constantFrom(...VRFS), (h0, entries, recreated) => {
        const a = converge(h0, entries, []);
        const renumbered = new Map(IFINDEX);
        renumbered.set(recreated, 99);
        const p = planServices(input(a.host, entries, a.records, renumbered));
        if (!p.ok) throw new Error('blocked');
        const expected = entries
          .filter((e) => e.vrf === recreated && a.host.get(e.unit)?.loaded && a.host.get(e.unit)?.running)
          .map((e): ServiceStep => ({ kind: 'try-restart', unit: e.unit, reason: 'vrf-recreated' }));
        expect(p.steps).toEqual(expected);
        const b = execute(a.host, p.steps, renumbered);
        for (const e of entries)
          if (b.get(e.unit)?.running && b.get(e.unit)?.loaded)
            expect(b.get(e.unit)?.boundIfindex).toBe(renumbered.get(e.vrf));
      }),
    );
  });

  it("property: the unit's own ExecStart changed (a package upgrade) re-renders and restarts it", () => {
    fc.assert(
      fc.property(hostArb, entriesArb, (h0, entries) => {
        const a = converge(h0, entries, []);
        const upgraded = new Map([...a.host].map(([k, u]) => [k, { ...u, execStart: [...u.execStart, '/bin/new'] }]));
        const p = planServices(input(upgraded, entries, a.records));
        if (!p.ok) throw new Error('blocked');
        for (const e of entries) {
          const u = upgraded.get(e.unit);
          if (!u?.loaded) continue;
          const r = renderServiceDropIn({ unit: e.unit, vrf: e.vrf, execStart: u.execStart });
          expect(p.steps).toContainEqual({
            kind: 'write-dropin',
            unit: e.unit,
            path: r.ok ? r.path : '',
            content: r.ok ? r.content : '',
          });
          if (u.running)
            expect(p.steps).toContainEqual({ kind: 'try-restart', unit: e.unit, reason: 'command-changed' });
        }
      }),
    );
  });

  it('property: teardown leaves every unit exactly as before: its files, its directory, its running state, in the default VRF', () => {
    fc.assert(
      fc.property(hostArb, entriesArb, entriesArb, (h0, first, second) => {
        const a = converge(h0, first, []);
        const b = converge(a.host, second, a.records);
        const down = converge(b.host, [], b.records);
        expect(down.records).toEqual([]);
        for (const [unit, u0] of h0) {
          const u = down.host.get(unit);
          expect(u?.dropIn).toBeNull();
          expect(u?.dirExists).toBe(u0.dirExists);
          expect(u?.running).toBe(u0.running);
          expect(u?.processVrf).toBe(u0.processVrf);
        }
        const idle = planServices(input(down.host, [], []));
        expect(idle.ok && idle.steps).toEqual([]);
      }),
    );
  });
});
