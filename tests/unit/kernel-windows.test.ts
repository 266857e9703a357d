/**
 * The kernel suite's judge of a probe loop's losses by networkd's own windows
 * (tests/kernel/lib/windows.mjs), on the kernel's messages as `ip -ts -o monitor` prints them
 * (lib/hostwatch.mjs parses them) and on scenario 1's topology.
 */
import fc from 'fast-check';
import { absentIntervals, parseMonitorLine } from '../kernel/lib/hostwatch.mjs';
import { describe as topology } from '../kernel/lib/topology.mjs';
import { judge, pathNeeds, windowsNote } from '../kernel/lib/windows.mjs';

type Attempt = { name: string; t: number; ok: boolean; ms: number; error: string | null };
const attempt = (name: string, t: number, ok: boolean): Attempt => ({
  name,
  t,
  ok,
  ms: 1,
  error: ok ? null : 'ENETUNREACH',
});

/** The changes of monitor lines given as [ms, line]. */
const changesOf = (lines: [number, string][]) => lines.flatMap(([t, l]) => parseMonitorLine(l, t));

const ROUTES = [
  { dst: 'default', gateway: '10.0.0.1', dev: 'ens3' },
  { dst: 'default', gateway: '172.16.0.1', dev: 'br-ens4', table: '100' },
  { dst: 'default', gateway: '10.10.4.1', dev: 'bond0', table: '101' },
  { dst: 'default', gateway: '10.10.5.1', dev: 'bond0.105', table: '102' },
  { dst: '10.10.5.0/24', dev: 'bond0.105', table: '102' },
];

describe('pathNeeds', () => {
  const topo = topology();

  it("gives each target its NICs, its space's address and the default route its replies take", () => {
    expect(pathNeeds(topo, ROUTES)).toEqual({
      controller: ['link:ens3', 'addr:10.0.0.10', 'default4:main'],
      mgmt: ['link:ens3', 'addr:10.0.0.10', 'default4:main'],
      public: ['link:ens4', 'addr:172.16.0.10', 'default4:100'],
      storage: ['link:ens5', 'link:ens6', 'addr:10.10.4.10', 'default4:101'],
      // a VLAN needs the NICs of the bond it is a trunk of
      'storage-cluster': ['link:ens5', 'link:ens6', 'addr:10.10.5.10', 'default4:102'],
    });
  });

  it('names the device whose VRF has no default route', () => {
    const without = ROUTES.filter((r) => r.dev !== 'bond0');
    expect(() => pathNeeds(topo, without)).toThrow(/through bond0 \(space storage\)/);
  });

  it('does not take a default route of main through a member for its VRF', () => {
    const inMain = ROUTES.map((r) => (r.dev === 'br-ens4' ? { dst: r.dst, gateway: '172.16.0.1', dev: r.dev } : r));
    expect(() => pathNeeds(topo, inMain)).toThrow(/through br-ens4/);
  });
});

describe('judge', () => {
  // networkd configures ens3 again: the address goes at +1000 (main's default through it with it,
  // without a message), comes back at +1400, the default route at +1600.
  const changes = changesOf([
    [1000, 'Deleted 2: ens3    inet 10.0.0.10/24 brd 10.0.0.255 scope global ens3'],
    [1400, '2: ens3    inet 10.0.0.10/24 brd 10.0.0.255 scope global ens3'],
    [1600, 'default via 10.0.0.1 dev ens3 proto static'],
  ]);
  const keys = { controller: ['link:ens3', 'addr:10.0.0.10', 'default4:main'], public: ['link:ens4'] };
  const from = 0;
  const to = 5000;
  const absent = (holders: Record<string, string>) => (key: string) =>
    absentIntervals(changes, key, new Set(holders[key] ? [holders[key]] : []), from, to);
  const present = absent({
    'link:ens3': 'ens3',
    'addr:10.0.0.10': 'ens3',
    'default4:main': 'ens3',
    'link:ens4': 'ens4',
  });

  it('excuses a loss within the connect timeout of a window, and nothing else', () => {
    const attempts = [
      attempt('controller', 100, false), // more than the margin before the window: outside
      attempt('controller', 200, true),
      attempt('controller', 1100, false), // inside
      attempt('controller', 2000, false), // within the margin after the default route came back
      attempt('controller', 2700, false), // later: outside
      attempt('public', 1100, false), // its own keys were never away
      attempt('controller', 5000, false), // at `to`: not this event's
    ];
    const j = judge({ attempts, targets: ['controller', 'public'], from, to, keys, absent: present, margin: 500 });
    expect(j.controller).toMatchObject({ sent: 5, lost: 4, failed: 2, errors: ['ENETUNREACH'] });
    expect(j.controller?.outside.map((a) => a.t)).toEqual([100, 2700]);
    expect(j.controller?.windows).toEqual([
      { key: 'addr:10.0.0.10', intervals: [{ from: 1000, to: 1400 }] },
      { key: 'default4:main', intervals: [{ from: 1000, to: 1600 }] },
    ]);
    expect(j.public).toMatchObject({ sent: 1, lost: 1, failed: 1, windows: [] });
    expect(windowsNote(j, from)).toBe(
      'controller: 2 lost inside [addr:10.0.0.10 +1000..+1400; default4:main +1000..+1600], 2 outside | ' +
        'public: 0 lost inside [none], 1 outside',
    );
  });

  it('excuses nothing by an absence that lasts to the end of the event', () => {
    const gone = changesOf([[1000, 'Deleted 2: ens3    inet 10.0.0.10/24 brd 10.0.0.255 scope global ens3']]);
    const j = judge({
      attempts: [attempt('controller', 1200, false), attempt('controller', 4000, false)],
      targets: ['controller'],
      from,
      to,
      keys,
      absent: (key) => absentIntervals(gone, key, new Set(['ens3']), from, to),
      margin: 1000,
    });
    expect(j.controller).toMatchObject({ lost: 2, failed: 2 });
  });

  it('never counts more outside than lost, and a wider margin never counts more', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: -500, max: 5500 }), ok: fc.boolean() }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 2000 }),
        (tries, m1, m2) => {
          const attempts = tries.map((x) => attempt('controller', x.t, x.ok));
          const j = (margin: number) =>
            judge({ attempts, targets: ['controller'], from, to, keys, absent: present, margin }).controller;
          const [narrow, wide] = [j(Math.min(m1, m2)), j(Math.max(m1, m2))];
          expect(narrow?.failed).toBeLessThanOrEqual(narrow?.lost ?? -1);
          expect(wide?.failed).toBeLessThanOrEqual(narrow?.failed ?? -1);
          expect(narrow?.lost).toBe(attempts.filter((a) => !a.ok && a.t >= from && a.t < to).length);
        },
      ),
    );
  });
});
