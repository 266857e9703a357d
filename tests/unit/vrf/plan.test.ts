import { plan, PlanError } from '../../../src/vrf/plan.js';
import { simulate, withKernelRoutes } from '../../../src/vrf/model.js';
import { renderCommand } from '../../../src/vrf/render.js';
import { planTeardown } from '../../../src/vrf/teardown.js';
import type { DesiredState, Ledger, ObservedHost, Plan, Route, Step } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER, NOTHING_KEPT, SYSCTL } from '../../../src/vrf/types.js';
import { addr, host, link, mkLink, mkRoute, mkRule, nic, route, rule, sysctl, vrf, bridge, port } from './builders.js';
import type { HostPart } from './builders.js';
import { desired, dvrf, FRESH_SYSCTLS, gw, stock } from './arbitraries.js';
import { lookup } from './lookup.js';

const cmds = (p: Plan): string[] => p.steps.map(renderCommand);
const kinds = (p: Plan): string[] => p.steps.map((s) => s.kind);
const sysctls = Object.entries(FRESH_SYSCTLS).map(([k, v]) => sysctl(k, v));
const rulesOf = () => stock().map((r) => ({ part: 'rule' as const, value: r }));

/** A host with mgmt on ens3 (main default) and storage on ens4 (+ a static route and a MAAS rule). */
function maasish(): ObservedHost {
  return withKernelRoutes(
    host(
      nic('ens3'),
      nic('ens4'),
      addr('ens3', '10.0.0.5/24'),
      addr('ens4', '10.10.4.23/24'),
      addr('ens4', '2001:db8:4::23/64'),
      route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
      route({ dst: '10.30.0.0/16', gateway: '10.10.4.254', dev: 'ens4', protocol: 'static', metric: 100 }),
      route({ dst: 'default', gateway: '10.10.4.1', dev: 'ens4', table: 2, protocol: 'static' }),
      rule({ priority: 100, src: '10.10.4.0/24', table: 2 }),
      rulesOf(),
      sysctls,
    ),
  );
}

const storage = (o: Partial<Parameters<typeof dvrf>[1]> = {}) =>
  dvrf('storage', {
    table: 1001,
    members: { ens4: ['10.10.4.23/24', '2001:db8:4::23/64'] },
    gateways: ['10.10.4.1', '2001:db8:4::1'],
    ...o,
  });

/** Plans, applies on the model, plans again: the second plan must be empty. */
function converge(d: DesiredState, h: ObservedHost, l: Ledger = EMPTY_LEDGER): { p: Plan; after: ObservedHost } {
  const p = plan(d, h, l);
  const after = simulate(h, p.steps);
  const again = plan(d, after, p.ledger);
  expect(cmds(again)).toEqual([]);
  expect(again.ledger).toEqual(p.ledger);
  return { p, after };
}

describe('plan: a first run on a MAAS-style host, every rule in order', () => {
  const { p, after } = converge(
    desired([storage({ routes: [{ to: '10.40.0.0/16', via: '10.10.4.254' }] })]),
    maasish(),
  );

  it('emits the steps in the documented order', () => {
    expect(cmds(p)).toEqual([
      'sysctl -w net.ipv4.tcp_l3mdev_accept=1',
      'sysctl -w net.ipv4.udp_l3mdev_accept=1',
      'sysctl -w net.ipv6.conf.all.keep_addr_on_down=1',
      // The delivery rules before the enslave, so no prefix loses local delivery; the IPv6 ones
      // with the l3mdev rule before the first VRF (IPv6 first: it needs its own ip -6 process).
      'ip -6 rule add pref 98 to 2001:db8:4::23/128 lookup 1001',
      'ip -6 rule add pref 98 from 2001:db8:4::23/128 lookup 255',
      'ip -6 rule add pref 1000 l3mdev protocol kernel',
      'ip rule add pref 1000 l3mdev protocol kernel',
      'ip link add name storage type vrf table 1001',
      'ip link set dev storage up',
      'ip rule add pref 98 to 10.10.4.23/32 lookup 1001',
      'ip rule add pref 98 from 10.10.4.23/32 lookup 255',
      'ip link set dev ens4 master storage',
      'ip route replace 10.30.0.0/16 via 10.10.4.254 dev ens4 metric 100 table 1001',
      'ip route replace 0.0.0.0/0 via 10.10.4.1 dev ens4 table 1001',
      'ip route replace ::/0 via 2001:db8:4::1 dev ens4 table 1001',
      'ip route replace 10.40.0.0/16 via 10.10.4.254 dev ens4 table 1001',
      'ip route replace unreachable 0.0.0.0/0 metric 4278198272 table 1001',
      'ip route replace unreachable ::/0 metric 4278198272 table 1001',
      // IPv4 rules, leaks and IPv4 source rules, then every IPv6 rule (one `ip -6` process).
      'ip rule add pref 32765 lookup 255',
      'ip rule del pref 0 lookup 255',
      'ip rule del pref 100 from 10.10.4.0/24 lookup 2',
      'ip route replace 10.10.4.0/24 dev storage table 254',
      'ip route replace 2001:db8:4::/64 dev storage table 254',
      'ip route replace 10.40.0.0/16 dev storage table 254',
      'ip rule add pref 99 from 10.10.4.23/32 lookup 1001',
      'ip -6 rule add pref 32765 lookup 255',
      'ip -6 rule del pref 0 lookup 255',
      'ip -6 rule add pref 99 from 2001:db8:4::23/128 lookup 1001',
      'sysctl -w net.ipv4.ip_nonlocal_bind=1',
      'sysctl -w net.ipv6.ip_nonlocal_bind=1',
    ]);
  });

  it('keeps every IPv6 rule line together: ip -6 for the l3mdev rule before the first VRF, then once for the rule phase', () => {
    const runsOf = (q: Plan): boolean[] =>
      cmds(q)
        .filter((x) => x.startsWith('ip '))
        .map((x) => x.startsWith('ip -6 '))
        .filter((six, i, a) => i === 0 || six !== a[i - 1]);
    expect(runsOf(p)).toEqual([true, false, true]);
    // Once the namespace has its l3mdev rules, one ip -6 process (e.g. move-local-rule turned off).
    const p2 = plan(
      desired([storage({ routes: [{ to: '10.40.0.0/16', via: '10.10.4.254' }] })], { moveLocalRule: false }),
      after,
      p.ledger,
    );
    expect(runsOf(p2)).toEqual([false, true]);
  });

  it('gives every step a reason', () => {
    expect(p.steps.every((s) => typeof s.why === 'string' && s.why.length > 10)).toBe(true);
  });

  it('records what it created and migrated in the ledger', () => {
    expect(p.ledger.vrfs).toEqual({ storage: 1001 });
    expect(p.ledger.migratedRoutes.map((r) => `${r.table} ${r.dst} via ${r.gateway}`).sort()).toEqual([
      '2 0.0.0.0/0 via 10.10.4.1',
      '254 10.30.0.0/16 via 10.10.4.254',
    ]);
    expect(p.ledger.migratedRules).toEqual([mkRule({ priority: 100, src: '10.10.4.0/24', table: 2 })]);
    expect(p.ledger.localRuleMoved).toBe(true);
    expect(p.ledger.sysctlsBefore).toEqual(FRESH_SYSCTLS);
  });

  it('leaves the main default and the mgmt interface alone', () => {
    expect(after.routes).toContainEqual(
      mkRoute({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
    );
    expect(after.links.find((l) => l.name === 'ens3')?.master).toBeNull();
    expect(p.steps.some((s) => JSON.stringify(s).includes('ens3'))).toBe(false);
  });

  it('keeps the IPv6 address across the enslave (keep_addr_on_down first)', () => {
    expect(after.addrs.some((a) => a.dev === 'ens4' && a.address === '2001:db8:4::23')).toBe(true);
  });
});

describe('plan: a converged host gives an empty plan', () => {
  it('on the model after a first run, with every option on or off', () => {
    for (const strict of [true, false]) {
      for (const preserveReachability of [true, false]) {
        converge(
          desired([storage()], {
            strict,
            preserveReachability,
            moveLocalRule: !strict,
            nonlocalBind: strict,
            l3mdevAccept: !strict,
          }),
          maasish(),
        );
      }
    }
  });

  it('when nothing is desired and nothing is owned', () => {
    expect(plan(desired([]), maasish(), EMPTY_LEDGER)).toEqual({ steps: [], ledger: EMPTY_LEDGER, kept: NOTHING_KEPT });
  });
});

describe('plan: VRF devices', () => {
  it('brings up an existing VRF that is down', () => {
    const h = withKernelRoutes(
      host(vrf('storage', 1001), port('ens4', 'storage', 'vrf'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls),
    );
    const links = h.links.map((l) => (l.name === 'storage' ? { ...l, up: false } : l));
    const p = plan(
      desired([storage({ gateways: [] })], { strict: false, preserveReachability: false }),
      { ...h, links },
      { ...EMPTY_LEDGER, vrfs: { storage: 1001 } },
    );
    expect(cmds(p)).toContain('ip link set dev storage up');
    expect(kinds(p)).not.toContain('vrf-create');
  });

  it('replaces an owned VRF whose table changed: clear the old table, delete, create, re-enslave', () => {
    const first = converge(desired([storage()]), maasish());
    const d2 = desired([storage({ table: 1005 })]);
    const { p } = converge(d2, first.after, first.p.ledger);
    // The IPv6 delivery rule for the new table goes first (with the other IPv6 rule lines before the VRFs).
    expect(kinds(p).slice(0, 9)).toEqual([
      'rule-add',
      'route-del',
      'route-del',
      'route-del',
      'route-del',
      'route-del',
      'vrf-replace',
      'vrf-create',
      'link-up',
    ]);
    expect(p.steps.find((s) => s.kind === 'vrf-replace')).toMatchObject({ fromTable: 1001, toTable: 1005 });
    expect(cmds(p)).toContain('ip link set dev ens4 master storage');
    expect(cmds(p)).toContain('ip route replace 10.30.0.0/16 via 10.10.4.254 dev ens4 metric 100 table 1005');
    expect(cmds(p)).toContain('ip rule add pref 99 from 10.10.4.23/32 lookup 1005');
    expect(cmds(p)).toContain('ip rule del pref 99 from 10.10.4.23/32 lookup 1001');
    expect(p.ledger.vrfs).toEqual({ storage: 1005 });
  });

  it('refuses to replace a VRF it did not create', () => {
    const h = withKernelRoutes(host(vrf('storage', 7), nic('ens4'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls));
    expect(() => plan(desired([storage()]), h, EMPTY_LEDGER)).toThrow(PlanError);
  });

  it('refuses a name taken by a link that is not a VRF', () => {
    const h = withKernelRoutes(host(nic('storage'), nic('ens4'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls));
    expect(() => plan(desired([storage()]), h, EMPTY_LEDGER)).toThrow(/not a VRF/);
  });

  it('adopts a VRF with the desired name and table (e.g. state.json was lost)', () => {
    const h = withKernelRoutes(
      host(vrf('storage', 1001), port('ens4', 'storage', 'vrf'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls),
    );
    const p = plan(
      desired([storage({ gateways: [] })], { strict: false, preserveReachability: false, moveLocalRule: false }),
      h,
      EMPTY_LEDGER,
    );
    expect(kinds(p)).not.toContain('vrf-create');
    expect(kinds(p)).not.toContain('enslave');
    expect(p.ledger.vrfs).toEqual({ storage: 1001 });
  });
});

describe('plan: members', () => {
  it('brings a down member up after enslaving it', () => {
    const h = withKernelRoutes(host(nic('ens4', { up: false }), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls));
    const p = plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: [] })]), h, EMPTY_LEDGER);
    const i = cmds(p).indexOf('ip link set dev ens4 master storage');
    expect(cmds(p)[i + 1]).toBe('ip link set dev ens4 up');
  });

  it('releases bond0 once it became a port of br-bond0, and enslaves the bridge', () => {
    // Juju moved the address to br-bond0: bond0 must leave the VRF before it can be a bridge port.
    const h = withKernelRoutes(
      host(
        vrf('storage', 1001),
        port('bond0', 'storage', 'vrf'),
        bridge('br-bond0'),
        addr('br-bond0', '10.10.4.23/24'),
        rulesOf(),
        sysctls,
      ),
    );
    const d = desired([dvrf('storage', { table: 1001, members: { 'br-bond0': ['10.10.4.23/24'] } })], {
      strict: false,
      preserveReachability: false,
      moveLocalRule: false,
    });
    const { p } = converge(d, h, { ...EMPTY_LEDGER, vrfs: { storage: 1001 } });
    expect(cmds(p).filter((c) => c.startsWith('ip link'))).toEqual([
      'ip link set dev bond0 nomaster',
      'ip link set dev br-bond0 master storage',
    ]);
    expect(p.steps.find((s) => s.kind === 'release')?.why).toBe(
      'bond0 is no longer a member of storage (e.g. it became a bridge or bond port, or its binding moved)',
    );
  });

  it('moves a member from one owned VRF to another directly', () => {
    const h = withKernelRoutes(
      host(vrf('a', 1001), vrf('b', 1002), port('ens4', 'a', 'vrf'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls),
    );
    const d = desired(
      [dvrf('a', { table: 1001, members: {} }), dvrf('b', { table: 1002, members: { ens4: ['10.10.4.23/24'] } })],
      { strict: false, preserveReachability: false, moveLocalRule: false },
    );
    const { p } = converge(d, h, { ...EMPTY_LEDGER, vrfs: { a: 1001, b: 1002 } });
    expect(cmds(p).filter((c) => c.startsWith('ip link'))).toEqual(['ip link set dev ens4 master b']);
  });

  it('never carries an IPv4 route via an IPv6 next hop into the VRF (ip cannot render it back); the kernel drops it on enslave', () => {
    const h = maasish();
    const rfc5549 = mkRoute({
      family: 'inet',
      dst: '10.60.0.0/16',
      gateway: 'fe80::1',
      dev: 'ens4',
      protocol: 'static',
    });
    const withIt = { ...h, routes: [...h.routes, rfc5549] };
    const { p, after } = converge(desired([storage()]), withIt);
    expect(cmds(p).filter((c) => c.includes('10.60.0.0/16') || c.includes('fe80::1'))).toEqual([]);
    expect(JSON.stringify(p.ledger)).not.toContain('fe80::1');
    // Drift: the member released and the route back on it; re-enslaving still leaves it to the kernel.
    const released = {
      ...after,
      links: after.links.map((l) => (l.name === 'ens4' ? { ...l, master: null } : l)),
      routes: [...after.routes, rfc5549],
    };
    const healed = plan(desired([storage()]), released, p.ledger);
    expect(cmds(healed)).toContain('ip link set dev ens4 master storage');
    expect(cmds(healed).filter((c) => c.includes('fe80::1'))).toEqual([]);
    expect(JSON.stringify(healed.ledger)).not.toContain('fe80::1');
  });

  it('carries the static routes of main and of foreign tables via a new member, never one of table local or of a table it owns', () => {
    const h = maasish();
    const via = (dst: string, table: number) =>
      mkRoute({ family: 'inet', dst, gateway: '10.10.4.254', dev: 'ens4', protocol: 'static', table });
    // A leftover of a VRF table vrf-host owns (1001, the desired one; 1002, only in the ledger), and
    // a unicast route someone put into table local: none is the member's route to carry or give back.
    const stray = [via('10.51.0.0/16', 1001), via('10.52.0.0/16', 1002), via('10.53.0.0/16', 255)];
    const p = plan(
      desired([storage()]),
      { ...h, routes: [...h.routes, ...stray] },
      {
        ...EMPTY_LEDGER,
        vrfs: { old: 1002 },
      },
    );
    expect(kinds(p)).toContain('enslave');
    const migrated = p.ledger.migratedRoutes.map((r) => `${r.dst} table ${r.table}`);
    expect(migrated).toEqual(expect.arrayContaining(['10.30.0.0/16 table 254', '0.0.0.0/0 table 2']));
    expect(migrated.filter((m) => /^10\.5[123]\./.test(m))).toEqual([]);
  });

  it('carries a static route with no gateway (dev only) via a new member into the VRF, as it carries one via a next hop', () => {
    const h = maasish();
    const onLink = mkRoute({ family: 'inet', dst: '10.70.0.0/16', gateway: null, dev: 'ens4', protocol: 'static' });
    const { p } = converge(desired([storage()]), { ...h, routes: [...h.routes, onLink] });
    expect(p.ledger.migratedRoutes.filter((r) => r.dst === '10.70.0.0/16')).toEqual([onLink]);
    expect(cmds(p).filter((c) => c.includes('10.70.0.0/16'))).toEqual([
      'ip route replace 10.70.0.0/16 dev ens4 scope link table 1001',
    ]);
  });

  it('says why of each structural step, as the plan action shows it to the operator', () => {
    // old: owned, no longer wanted, with a member; storage: owned with the wrong table and down;
    // ens4: down, not yet a member.
    const h = withKernelRoutes(
      host(
        link('old', { kind: 'vrf', vrfTable: 1009 }),
        port('ens5', 'old', 'vrf'),
        link('storage', { kind: 'vrf', vrfTable: 1007, up: false }),
        nic('ens4', { up: false }),
        addr('ens4', '10.10.4.23/24'),
        rulesOf(),
        sysctls,
      ),
    );
    const d = desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: [] })], {
      strict: false,
      preserveReachability: false,
      moveLocalRule: false,
    });
    const p = plan(d, h, { ...EMPTY_LEDGER, vrfs: { old: 1009, storage: 1007 } });
    const why = (kind: string) => p.steps.filter((s) => s.kind === kind).map((s) => s.why);
    expect(why('release')).toEqual(['VRF old is no longer wanted: give ens5 back to the main table']);
    expect(why('vrf-delete')).toEqual(['VRF old is no longer wanted (vrf-host created it)']);
    expect(why('vrf-replace')).toEqual([
      "the kernel cannot change a VRF's table: storage is deleted and created again with table 1001",
    ]);
    expect(why('vrf-create')).toEqual(['VRF storage again, now with table 1001']);
    expect(why('enslave')).toEqual(['ens4 carries binding storage: its traffic belongs to VRF storage']);
    expect(why('link-up')).toEqual(['a VRF routes nothing until it is up', 'member ens4 of storage is down']);
    const fresh = plan(d, withKernelRoutes(host(vrf('storage', 1001), nic('ens4'), rulesOf(), sysctls)), {
      ...EMPTY_LEDGER,
      vrfs: { storage: 1001 },
    });
    expect(fresh.steps.filter((s) => s.kind === 'link-up').map((s) => s.why)).toEqual([]);
    const down = withKernelRoutes(
      host(
        link('storage', { kind: 'vrf', vrfTable: 1001, up: false }),
        port('ens4', 'storage', 'vrf'),
        rulesOf(),
        sysctls,
      ),
    );
    expect(plan(d, down, { ...EMPTY_LEDGER, vrfs: { storage: 1001 } }).steps.map((s) => s.why)).toContain(
      'VRF storage is down',
    );
    const created = plan(d, withKernelRoutes(host(nic('ens4'), rulesOf(), sysctls)), EMPTY_LEDGER);
    expect(created.steps.filter((s) => s.kind === 'vrf-create').map((s) => s.why)).toEqual([
      'VRF for binding storage with its own routing table 1001',
    ]);
  });

  it("says why it clears a table: its VRF is gone, or the VRF's table changes", () => {
    const h = withKernelRoutes(
      host(
        link('storage', { kind: 'vrf', vrfTable: 1007 }),
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        route({ dst: 'default', type: 'unreachable', table: 1007, protocol: 'boot', metric: 4278198272 }),
        route({ dst: 'default', type: 'unreachable', table: 1011, protocol: 'boot', metric: 4278198272 }),
        rulesOf(),
        sysctls,
      ),
    );
    const d = desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: [] })], {
      strict: false,
      preserveReachability: false,
      moveLocalRule: false,
    });
    // gone: in the ledger, its device deleted by hand, its unreachable default still in table 1011.
    const p = plan(d, h, { ...EMPTY_LEDGER, vrfs: { gone: 1011, storage: 1007 } });
    expect(p.steps.filter((s) => s.kind === 'route-del').map((s) => s.why)).toEqual([
      'VRF gone is gone: remove 0.0.0.0/0 from table 1011 of gone',
      'table of storage changes from 1007 to 1001: remove 0.0.0.0/0 from table 1007 of storage',
    ]);
  });

  it('leaves alone a device that took the name of a VRF it no longer wants (a bridge now), clearing only its old table', () => {
    const h = withKernelRoutes(
      host(
        bridge('old'),
        port('ens5', 'old'),
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        route({ dst: 'default', type: 'unreachable', table: 1009, protocol: 'boot', metric: 4278198272 }),
        rulesOf(),
        sysctls,
      ),
    );
    const d = desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: [] })]);
    const p = plan(d, h, { ...EMPTY_LEDGER, vrfs: { old: 1009 } });
    const onOld = p.steps.filter((s) => JSON.stringify(s).includes('"old"') || (s.why ?? '').includes(' old'));
    expect(onOld.map((s) => s.why)).toEqual(['VRF old is gone: remove 0.0.0.0/0 from table 1009 of old']);
  });

  it("clears the table a VRF it no longer wants has now, when that differs from the ledger's (it was recreated by hand)", () => {
    const h = withKernelRoutes(
      host(
        vrf('old', 1012),
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        route({ dst: 'default', type: 'unreachable', table: 1012, protocol: 'boot', metric: 4278198272 }),
        rulesOf(),
        sysctls,
      ),
    );
    const d = desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: [] })]);
    const p = plan(d, h, { ...EMPTY_LEDGER, vrfs: { old: 1009 } });
    expect(p.steps.filter((s) => s.kind === 'route-del' || s.kind === 'vrf-delete').map((s) => s.why)).toEqual([
      'VRF old is no longer wanted: remove 0.0.0.0/0 from table 1012 of old',
      'VRF old is no longer wanted (vrf-host created it)',
    ]);
  });

  it('refuses a VRF name that another device holds, or a VRF vrf-host did not create, saying what is there', () => {
    const d = desired([storage({ members: { ens4: ['10.10.4.23/24'] } })]);
    const on = (part: HostPart) =>
      withKernelRoutes(host(nic('ens4'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls, part));
    expect(() => plan(d, on(link('storage', { kind: 'bridge' })), EMPTY_LEDGER)).toThrow(
      new PlanError('storage exists and is not a VRF (kind bridge); choose another VRF name'),
    );
    expect(() => plan(d, on(nic('storage')), EMPTY_LEDGER)).toThrow(
      new PlanError('storage exists and is not a VRF (kind nic); choose another VRF name'),
    );
    expect(() => plan(d, on(vrf('storage', 1007)), EMPTY_LEDGER)).toThrow(
      new PlanError('VRF storage exists with table 1007 and was not created by vrf-host; it will not be replaced'),
    );
    expect(() => plan(d, on(link('storage', { kind: 'vrf' })), EMPTY_LEDGER)).toThrow(
      new PlanError('VRF storage exists with table ? and was not created by vrf-host; it will not be replaced'),
    );
  });

  it('adopts a desired VRF already there at its table when the ledger is lost, and still removes its stale leaks', () => {
    // The state file is gone; storage and its member are as the last apply left them, plus a
    // leak into main via storage that nothing wants any more.
    const h = withKernelRoutes(
      host(
        vrf('storage', 1001),
        port('ens4', 'storage', 'vrf'),
        addr('ens4', '10.10.4.23/24'),
        route({ dst: '10.77.0.0/16', dev: 'storage', protocol: 'boot', scope: 'link' }),
        rulesOf(),
        sysctls,
      ),
    );
    const p = plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: [] })]), h, EMPTY_LEDGER);
    expect(kinds(p)).not.toContain('vrf-create');
    expect(p.steps.filter((s) => s.kind === 'route-del').map((s) => s.why)).toEqual([
      'leak of 10.77.0.0/16 into main via storage is no longer wanted',
    ]);
    expect(p.ledger.vrfs).toEqual({ storage: 1001 });
  });

  it('refuses to enslave a bridge port', () => {
    const h = withKernelRoutes(
      host(bridge('br0'), port('ens4', 'br0'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls),
    );
    expect(() => plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] } })]), h, EMPTY_LEDGER)).toThrow(
      /port of br0/,
    );
  });

  it('never releases the port of a VRF it does not own', () => {
    const h = withKernelRoutes(
      host(
        vrf('theirs', 7),
        port('ens5', 'theirs', 'vrf'),
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        rulesOf(),
        sysctls,
      ),
    );
    const p = plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] } })]), h, EMPTY_LEDGER);
    expect(kinds(p)).toContain('enslave');
    expect(p.steps.filter((s) => JSON.stringify(s).includes('ens5') || JSON.stringify(s).includes('theirs'))).toEqual(
      [],
    );
  });

  it('refuses to take a member out of a VRF it does not own', () => {
    const h = withKernelRoutes(
      host(vrf('theirs', 7), port('ens4', 'theirs', 'vrf'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls),
    );
    expect(() => plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] } })]), h, EMPTY_LEDGER)).toThrow(
      /VRF theirs, which vrf-host did not create/,
    );
  });

  it('refuses a member that does not exist', () => {
    expect(() => plan(desired([storage()]), withKernelRoutes(host(rulesOf(), sysctls)), EMPTY_LEDGER)).toThrow(
      /does not exist/,
    );
  });
});

describe('plan: routes', () => {
  it('does not carry a main default via the member into the VRF when the VRF has its own default', () => {
    const h = withKernelRoutes(
      host(
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        route({ dst: 'default', gateway: '10.10.4.254', dev: 'ens4', metric: 200 }),
        rulesOf(),
        sysctls,
      ),
    );
    const { p } = converge(desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: ['10.10.4.1'] })]), h);
    expect(cmds(p)).not.toContain('ip route replace 0.0.0.0/0 via 10.10.4.254 dev ens4 metric 200 table 1001');
    expect(p.ledger.migratedRoutes).toHaveLength(1); // still given back on teardown
  });

  it('changes the gateway in place (replace), and deletes a gateway that is no longer derived', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const p2 = plan(desired([storage({ gateways: ['10.10.4.2'] })]), after, p1.ledger);
    expect(cmds(p2)).toEqual([
      'ip route replace 0.0.0.0/0 via 10.10.4.2 dev ens4 table 1001',
      'ip route del ::/0 via 2001:db8:4::1 dev ens4 metric 1024 table 1001',
    ]);
  });

  it('removes the strict catch-all when strict is turned off', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const p2 = plan(desired([storage()], { strict: false }), after, p1.ledger);
    expect(cmds(p2)).toEqual([
      'ip route del unreachable 0.0.0.0/0 metric 4278198272 table 1001',
      'ip route del unreachable ::/0 metric 4278198272 table 1001',
    ]);
  });

  it('re-adds routes that were lost (drift) and nothing else', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const drifted = {
      ...after,
      routes: after.routes.filter((r) => !(r.table === 1001 && r.dst === '0.0.0.0/0' && r.type === 'unicast')),
    };
    expect(cmds(plan(desired([storage()]), drifted, p1.ledger))).toEqual([
      'ip route replace 0.0.0.0/0 via 10.10.4.1 dev ens4 table 1001',
    ]);
  });

  it('leaves hand-made routes it could not render back alone in its tables (blackhole, multipath)', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const odd = {
      ...after,
      routes: [
        ...after.routes,
        mkRoute({ dst: '10.99.0.0/16', table: 1001, type: 'blackhole', protocol: 'boot', scope: 'global' }),
        mkRoute({ dst: '10.98.0.0/16', table: 1001, protocol: 'boot', scope: 'global' }),
      ],
    };
    expect(plan(desired([storage()]), odd, p1.ledger).steps).toEqual([]);
  });

  it('skips an extra route it has no gateway for', () => {
    const p = plan(
      desired([storage({ gateways: [], routes: [{ to: '10.50.0.0/16' }] })], { preserveReachability: false }),
      maasish(),
      EMPTY_LEDGER,
    );
    expect(cmds(p).some((c) => c.includes('10.50.0.0/16'))).toBe(false);
  });
});

describe('plan: sysctls', () => {
  const hostWith = (values: Record<string, string>) =>
    withKernelRoutes(
      host(
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        rulesOf(),
        Object.entries(values).map(([k, v]) => sysctl(k, v)),
      ),
    );
  const d = () => desired([storage({ members: { ens4: ['10.10.4.23/24'] }, gateways: [] })]);

  it('says why it sets each sysctl, as the plan action shows it', () => {
    const p = plan(d(), hostWith(FRESH_SYSCTLS), EMPTY_LEDGER);
    const whyOf = Object.fromEntries(p.steps.flatMap((s) => (s.kind === 'sysctl' ? [[s.key, s.why]] : [])));
    expect(whyOf[SYSCTL.tcpL3mdev]).toBe(
      'l3mdev-accept: services listening in the default VRF answer TCP in every VRF',
    );
    expect(whyOf[SYSCTL.keepAddrOnDown]).toBe(
      'enslaving cycles the device: without keep_addr_on_down its global IPv6 addresses are lost',
    );
  });

  it('never writes a sysctl the host did not show, and records none of it', () => {
    const { [SYSCTL.keepAddrOnDown]: _gone, ...rest } = FRESH_SYSCTLS;
    const p = plan(d(), hostWith(rest), EMPTY_LEDGER);
    expect(p.steps.filter((s) => s.kind === 'sysctl' && s.key === SYSCTL.keepAddrOnDown)).toEqual([]);
    expect(p.ledger.sysctlsBefore).not.toHaveProperty(SYSCTL.keepAddrOnDown);
  });

  it('keeps the value from before its first change, when someone changed the sysctl since', () => {
    // The ledger remembers 0 from before vrf-host; someone set 2 by hand; vrf-host sets 1 again.
    const h = hostWith({ ...FRESH_SYSCTLS, [SYSCTL.tcpL3mdev]: '2' });
    const p = plan(d(), h, { ...EMPTY_LEDGER, sysctlsBefore: { [SYSCTL.tcpL3mdev]: '0' } });
    expect(cmds(p)).toContain(`sysctl -w ${SYSCTL.tcpL3mdev}=1`);
    expect(p.ledger.sysctlsBefore[SYSCTL.tcpL3mdev]).toBe('0');
  });

  describe('once no VRF is wanted, it puts back the value from before vrf-host, and only that', () => {
    // vrf-host set tcp_l3mdev_accept 0 → 1 and nonlocal_bind 0 → 1 (the ledger says so).
    const before = { [SYSCTL.tcpL3mdev]: '0', [SYSCTL.nonlocalBind4]: '0' };
    const tearDown = (shown: Record<string, string | null>, sysctlsBefore: Record<string, string | null>) =>
      plan(desired([]), { ...hostWith({}), sysctls: shown }, { ...EMPTY_LEDGER, sysctlsBefore });
    const now = { ...FRESH_SYSCTLS, [SYSCTL.tcpL3mdev]: '1', [SYSCTL.nonlocalBind4]: '1' };

    it('restores each sysctl it changed, says why, and forgets it', () => {
      const p = tearDown(now, before);
      expect(p.steps).toEqual([
        {
          kind: 'sysctl',
          key: SYSCTL.tcpL3mdev,
          value: '0',
          why: `vrf-host no longer needs ${SYSCTL.tcpL3mdev}: restore 0`,
        },
        {
          kind: 'sysctl',
          key: SYSCTL.nonlocalBind4,
          value: '0',
          why: `vrf-host no longer needs ${SYSCTL.nonlocalBind4}: restore 0`,
        },
      ]);
      expect(p.ledger.sysctlsBefore).toEqual({});
    });

    it('leaves alone a sysctl back at its value from before (someone put it back)', () => {
      const p = tearDown({ ...now, [SYSCTL.tcpL3mdev]: '0' }, before);
      expect(cmds(p)).toEqual([`sysctl -w ${SYSCTL.nonlocalBind4}=0`]);
      expect(p.ledger.sysctlsBefore).toEqual({});
    });

    it('writes nothing for a sysctl the kernel no longer has, or the host did not show', () => {
      const { [SYSCTL.nonlocalBind4]: _notShown, ...rest } = now;
      const p = tearDown({ ...rest, [SYSCTL.tcpL3mdev]: null }, before);
      expect(p.steps).toEqual([]);
      expect(p.ledger.sysctlsBefore).toEqual({});
    });

    it('writes nothing for a value the ledger does not know (null: a state file that could not tell)', () => {
      const p = tearDown(now, { [SYSCTL.tcpL3mdev]: null, [SYSCTL.nonlocalBind4]: '0' });
      expect(cmds(p)).toEqual([`sysctl -w ${SYSCTL.nonlocalBind4}=0`]);
      expect(p.ledger.sysctlsBefore).toEqual({});
    });
  });
});

describe('plan: rules', () => {
  it('puts back a missing l3mdev rule (the kernel adds it only with the first VRF of a namespace)', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const gone = { ...after, rules: after.rules.filter((r) => !r.l3mdev) };
    const { p } = converge(desired([storage()]), gone, p1.ledger);
    expect(cmds(p)).toEqual([
      'ip rule add pref 1000 l3mdev protocol kernel',
      'ip -6 rule add pref 1000 l3mdev protocol kernel',
    ]);
    expect(p.ledger).toEqual(p1.ledger);
  });

  it('adds a missing l3mdev rule before the first VRF (a namespace that had a VRF gets none from the kernel) and records it', () => {
    const h = maasish();
    const p = plan(desired([storage()]), h, EMPTY_LEDGER);
    const c = cmds(p);
    expect(c.indexOf('ip -6 rule add pref 1000 l3mdev protocol kernel')).toBeLessThan(
      c.indexOf('ip link add name storage type vrf table 1001'),
    );
    expect(c.indexOf('ip rule add pref 1000 l3mdev protocol kernel')).toBeLessThan(
      c.indexOf('ip link add name storage type vrf table 1001'),
    );
    expect(p.ledger.l3mdevRuleAdded).toEqual(['inet', 'inet6']);
    // The kernel does not add it again in a namespace that had a VRF: the host still ends with one rule per family.
    for (const hadVrf of [false, true]) {
      const after = simulate(h, p.steps, { hadVrf });
      expect(after.rules.filter((r) => r.l3mdev).map((r) => `${r.family} ${r.priority} ${r.protocol}`)).toEqual([
        'inet 1000 kernel',
        'inet6 1000 kernel',
      ]);
      expect(plan(desired([storage()]), after, p.ledger).steps).toEqual([]);
    }
  });

  it('claims only the family whose l3mdev rule it added: the IPv6 one was there already, and stays on teardown', () => {
    const h = maasish();
    const v6 = mkRule({ family: 'inet6', priority: 1000, l3mdev: true, protocol: 'kernel' });
    const { p, after } = converge(desired([storage()]), { ...h, rules: [...h.rules, v6] });
    expect(cmds(p).filter((c) => c.includes(' l3mdev'))).toEqual(['ip rule add pref 1000 l3mdev protocol kernel']);
    expect(p.ledger.l3mdevRuleAdded).toEqual(['inet']);
    const { p: down } = converge(desired([]), after, p.ledger);
    expect(cmds(down).filter((c) => c.includes(' l3mdev'))).toEqual(['ip rule del pref 1000 l3mdev']);
  });

  it('lists each rule it keeps in the ledger once, with the protocol it added it with (static where networkd runs)', () => {
    for (const networkdRuns of [false, true]) {
      const { p } = converge(desired([storage()]), { ...maasish(), networkdRuns });
      const owned = p.ledger.ownedRules.map(
        (r) => `${r.family} ${r.priority} ${r.src ?? '-'} ${r.dst ?? '-'} ${r.table} ${r.protocol ?? '-'}`,
      );
      const proto = networkdRuns ? 'static' : '-';
      expect(owned).toEqual([
        `inet 32765 - - 255 ${proto}`,
        `inet 98 - 10.10.4.23/32 1001 ${proto}`,
        `inet 98 10.10.4.23/32 - 255 ${proto}`,
        `inet 99 10.10.4.23/32 - 1001 ${proto}`,
        `inet6 32765 - - 255 ${proto}`,
        `inet6 98 - 2001:db8:4::23/128 1001 ${proto}`,
        `inet6 98 2001:db8:4::23/128 - 255 ${proto}`,
        `inet6 99 2001:db8:4::23/128 - 1001 ${proto}`,
      ]);
    }
  });

  it('does not claim an l3mdev rule that was there before (a namespace that had a VRF)', () => {
    const h = maasish();
    const l3 = ['inet', 'inet6'].map((family) => ({
      part: 'rule' as const,
      value: mkRule({ family: family as 'inet' | 'inet6', priority: 1000, l3mdev: true, protocol: 'kernel' }),
    }));
    const before = { ...h, rules: [...h.rules, ...l3.map((x) => x.value)] };
    const { p, after } = converge(desired([storage()]), before);
    expect(cmds(p).some((c) => c.includes(' l3mdev'))).toBe(false);
    expect(p.ledger).not.toHaveProperty('l3mdevRuleAdded');
    const { p: down } = converge(desired([]), after, p.ledger);
    expect(cmds(down).some((c) => c.includes(' l3mdev'))).toBe(false);
  });

  it('deletes the l3mdev rule it brought once it has no VRF left, unless another VRF still needs it', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const { p } = converge(desired([]), after, p1.ledger);
    expect(cmds(p)).toContain('ip rule del pref 1000 l3mdev');
    expect(cmds(p)).toContain('ip -6 rule del pref 1000 l3mdev');
    expect(p.ledger).toEqual(EMPTY_LEDGER);
    // A VRF vrf-host did not create is still there: the rule stays, and vrf-host still remembers it brought it.
    const foreign = {
      ...after,
      links: [...after.links, mkLink('other', { ifindex: 99, kind: 'vrf', vrfTable: 3000 })],
    };
    const kept = plan(desired([]), foreign, p1.ledger);
    expect(cmds(kept).some((c) => c.includes(' l3mdev'))).toBe(false);
    expect(kept.ledger.l3mdevRuleAdded).toEqual(['inet', 'inet6']);
  });

  it('leaves the l3mdev rule alone with a ledger from before l3mdevRuleAdded existed', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    expect(p1.ledger.l3mdevRuleAdded).toEqual(['inet', 'inet6']);
    const old: Ledger = {
      vrfs: p1.ledger.vrfs,
      migratedRoutes: p1.ledger.migratedRoutes,
      migratedRules: p1.ledger.migratedRules,
      localRuleMoved: p1.ledger.localRuleMoved,
      sysctlsBefore: p1.ledger.sysctlsBefore,
      ownedRules: p1.ledger.ownedRules,
    };
    const p = plan(desired([]), after, old);
    expect(cmds(p).some((c) => c.includes(' l3mdev'))).toBe(false);
  });

  it('leaves the local rule alone when move-local-rule is off', () => {
    const p = plan(desired([storage()], { moveLocalRule: false }), maasish(), EMPTY_LEDGER);
    expect(cmds(p).some((c) => c.includes('lookup 255'))).toBe(false);
    expect(p.ledger.localRuleMoved).toBe(false);
  });

  it('moves the local rule back when move-local-rule is turned off', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const p2 = plan(desired([storage()], { moveLocalRule: false }), after, p1.ledger);
    // Given back as the kernel made it (`protocol kernel`), not as a plain `ip rule add` (`protocol unspec`).
    expect(cmds(p2)).toEqual([
      'ip rule add pref 0 lookup 255 protocol kernel',
      'ip rule del pref 32765 lookup 255',
      // With the local lookup back at 0, the delivery rules from the space address are not needed.
      'ip rule del pref 98 from 10.10.4.23/32 lookup 255',
      'ip -6 rule add pref 0 lookup 255 protocol kernel',
      'ip -6 rule del pref 32765 lookup 255',
      'ip -6 rule del pref 98 from 2001:db8:4::23/128 lookup 255',
    ]);
    const back = simulate(after, p2.steps);
    expect(back.rules.filter((r) => r.priority === 0).map((r) => `${r.family} ${r.table} ${r.protocol}`)).toEqual([
      'inet 255 kernel',
      'inet6 255 kernel',
    ]);
    expect(p2.ledger.localRuleMoved).toBe(false);
  });

  it('keeps the local lookup at 0 behind a foreign rule that only looks like its own delivery rule (a fwmark on it)', () => {
    const h = withKernelRoutes(
      host(
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        rulesOf(),
        sysctls,
        rule({ priority: 98, src: '10.10.4.23/32', table: 255, fwmark: '0x1' }),
      ),
    );
    const p = plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] } })]), h, EMPTY_LEDGER);
    expect(p.ledger.localRuleMoved).toBe(false);
    expect(cmds(p).filter((c) => c.includes('pref 32765'))).toEqual([]);
  });

  it('keeps the local lookup at 0 while a foreign rule for a subnet left in main sits ahead of 32765 (MAAS mgmt rule)', () => {
    // Behind `from 10.0.0.0/24 lookup 1` at 100, packets (ARP too) from mgmt's subnet to the
    // host's own address would be routed out through table 1: the controller path would break.
    const h = withKernelRoutes(
      host(
        nic('ens3'),
        nic('ens4'),
        addr('ens3', '10.0.0.5/24'),
        addr('ens4', '10.10.4.23/24'),
        addr('ens4', '2001:db8:4::23/64'),
        route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', table: 1, protocol: 'static' }),
        rule({ priority: 100, src: '10.0.0.0/24', table: 1 }),
        route({ dst: 'default', gateway: '10.10.4.1', dev: 'ens4', table: 2, protocol: 'static' }),
        rule({ priority: 100, src: '10.10.4.0/24', table: 2 }),
        rulesOf(),
        sysctls,
      ),
    );
    const { p, after } = converge(desired([storage()]), h);
    expect(cmds(p).some((c) => c.includes('lookup 255'))).toBe(false);
    expect(cmds(p)).toContain('ip rule del pref 100 from 10.10.4.0/24 lookup 2');
    expect(p.ledger.localRuleMoved).toBe(false);
    expect(after.rules.filter((r) => r.table === 255).map((r) => `${r.family} ${r.priority}`)).toEqual([
      'inet 0',
      'inet6 0',
    ]);
  });

  it('moves the local lookup back to 0 in the same plan that gives back a migrated rule', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    expect(p1.ledger.localRuleMoved).toBe(true);
    const other = dvrf('public', { table: 1002, members: {} });
    const { p: p2, after: after2 } = converge(desired([other]), after, p1.ledger);
    expect(cmds(p2)).toContain('ip rule add pref 100 from 10.10.4.0/24 lookup 2');
    expect(p2.ledger.localRuleMoved).toBe(false);
    expect(after2.rules.filter((r) => r.table === 255).map((r) => `${r.family} ${r.priority}`)).toEqual([
      'inet 0',
      'inet6 0',
    ]);
  });

  it.each([
    ['IPv4', ['inet']],
    ['IPv6', ['inet6']],
    ['both families', ['inet', 'inet6']],
  ])('puts back the moved local rule when it was deleted (%s): without it nothing local is delivered', (_, fams) => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    expect(p1.ledger.localRuleMoved).toBe(true);
    const gone = {
      ...after,
      rules: after.rules.filter((r) => !(r.priority === 32765 && r.table === 255 && fams.includes(r.family))),
    };
    expect(gone.rules.length).toBe(after.rules.length - fams.length);
    const { p } = converge(desired([storage()]), gone, p1.ledger);
    expect(cmds(p)).toEqual(
      fams.map((f) => (f === 'inet' ? 'ip rule add pref 32765 lookup 255' : 'ip -6 rule add pref 32765 lookup 255')),
    );
    expect(p.ledger.localRuleMoved).toBe(true);
  });

  it("puts back its moved local rule when only someone else's local lookup is left (at another priority)", () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    expect(p1.ledger.localRuleMoved).toBe(true);
    // Someone moved the IPv4 local lookup from 32765 to 500: the host still delivers to itself,
    // but not behind the l3mdev rule where vrf-host keeps it.
    const elsewhere = {
      ...after,
      rules: after.rules.map((r) =>
        r.priority === 32765 && r.table === 255 && r.family === 'inet' ? { ...r, priority: 500 } : r,
      ),
    };
    const { p } = converge(desired([storage()]), elsewhere, p1.ledger);
    expect(cmds(p)).toContain('ip rule add pref 32765 lookup 255');
    expect(p.ledger.localRuleMoved).toBe(true);
  });

  it('does not claim a local rule someone else moved', () => {
    const h = maasish();
    const moved = { ...h, rules: h.rules.map((r) => (r.priority === 0 ? { ...r, priority: 32765 } : r)) };
    const p = plan(desired([storage()]), moved, EMPTY_LEDGER);
    expect(cmds(p).some((c) => c.includes('lookup 255') && !c.includes('pref 98 from'))).toBe(false);
    expect(p.ledger.localRuleMoved).toBe(false);
    // That lookup is behind the source rules all the same: the space address still reaches the host's others.
    expect(cmds(p)).toContain('ip rule add pref 98 from 10.10.4.23/32 lookup 255');
  });

  it('never migrates rules it cannot reproduce, rules above the l3mdev rule, or rules of other subnets', () => {
    const h = withKernelRoutes(
      host(
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        rulesOf(),
        sysctls,
        rule({ priority: 100, src: '10.10.4.0/24', table: 2, fwmark: '0x1' }),
        rule({ priority: 2000, src: '10.10.4.0/24', table: 3 }),
        rule({ priority: 100, src: '10.10.0.0/16', table: 4 }),
        rule({ priority: 100, src: '10.10.4.23/32', table: 5 }),
        // A selector vrf-host does not model (observe marks it in the action: `tos 0x10`).
        rule({ priority: 100, src: '10.10.4.0/24', table: 6, action: 'lookup+tos' }),
      ),
    );
    const p = plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] } })]), h, EMPTY_LEDGER);
    expect(cmds(p).filter((c) => c.startsWith('ip rule del pref 100'))).toEqual([
      'ip rule del pref 100 from 10.10.4.23/32 lookup 5',
    ]);
    // Without preserve-reachability, only a migrated rule (one the network manager re-adds ahead
    // of the l3mdev rule) calls for delivery rules; the rules it leaves alone do not.
    const kept = withKernelRoutes(
      host(
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        rulesOf(),
        sysctls,
        rule({ priority: 100, src: '10.10.4.0/24', table: 2, fwmark: '0x1' }),
        rule({ priority: 2000, src: '10.10.4.0/24', table: 3 }),
      ),
    );
    const off = plan(
      desired([storage({ members: { ens4: ['10.10.4.23/24'] } })], { preserveReachability: false }),
      kept,
      EMPTY_LEDGER,
    );
    expect(cmds(off).filter((c) => c.includes('pref 98'))).toEqual([]);
  });

  it("says which rule each delivery rule is ahead of: the migrated foreign rule, or (preserve-reachability) vrf-host's own source rule", () => {
    const maas = withKernelRoutes(
      host(
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        rulesOf(),
        sysctls,
        rule({ priority: 100, src: '10.10.4.0/24', table: 2 }),
      ),
    );
    const whys = (p: Plan): string[] =>
      p.steps.flatMap((s) => (s.kind === 'rule-add' && s.rule.priority === 98 ? [s.why] : []));
    const one = (o: Parameters<typeof desired>[1]) =>
      whys(plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] } })], o), maas, EMPTY_LEDGER));
    const off = one({ preserveReachability: false });
    expect(off).toHaveLength(2);
    for (const w of off)
      expect(w).toMatch(
        /, ahead of "from 10\.10\.4\.0\/24 lookup 2" \(priority 100\) when the network manager re-adds it$/,
      );
    const on = one({ preserveReachability: true });
    expect(on).toHaveLength(2);
    for (const w of on) expect(w).toMatch(/, ahead of vrf-host's source rule for 10\.10\.4\.23 \(priority 99\)$/);
  });
});

describe('plan: preserve-reachability', () => {
  it('does not leak a subnet that is also on a link left in main', () => {
    const h = withKernelRoutes(
      host(nic('ens3'), nic('ens4'), addr('ens3', '10.10.4.99/24'), addr('ens4', '10.10.4.23/24'), rulesOf(), sysctls),
    );
    const p = plan(desired([storage({ members: { ens4: ['10.10.4.23/24'] } })]), h, EMPTY_LEDGER);
    expect(cmds(p).some((c) => c.includes('10.10.4.0/24 dev storage'))).toBe(false);
  });

  it('never leaks link-local or default prefixes', () => {
    const d = desired([
      storage({
        members: { ens4: ['10.10.4.23/24', '169.254.7.1/16', 'fe80::1/64'] },
        routes: [{ to: '0.0.0.0/0', via: '10.10.4.254' }],
      }),
    ]);
    const h = withKernelRoutes(
      host(
        nic('ens4'),
        addr('ens4', '10.10.4.23/24'),
        addr('ens4', '169.254.7.1/16', 'link'),
        addr('ens4', 'fe80::1/64', 'link'),
        rulesOf(),
        sysctls,
      ),
    );
    const leaks = cmds(plan(d, h, EMPTY_LEDGER)).filter((c) => c.includes('dev storage table 254'));
    expect(leaks).toEqual(['ip route replace 10.10.4.0/24 dev storage table 254']);
  });

  it('removes leaks and source rules when turned off', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const p2 = plan(desired([storage()], { preserveReachability: false }), after, p1.ledger);
    // The IPv4 delivery rules stay: MAAS's source rule for 10.10.4.0/24 was migrated and may come back.
    expect(cmds(p2).sort()).toEqual([
      'ip -6 rule del pref 98 from 2001:db8:4::23/128 lookup 255',
      'ip -6 rule del pref 98 to 2001:db8:4::23/128 lookup 1001',
      'ip -6 rule del pref 99 from 2001:db8:4::23/128 lookup 1001',
      'ip route del 10.10.4.0/24 dev storage table 254',
      'ip route del 2001:db8:4::/64 dev storage metric 1024 table 254',
      'ip rule del pref 99 from 10.10.4.23/32 lookup 1001',
    ]);
  });
});

describe('plan: sysctls', () => {
  it('records only the value before the first change, and restores what is no longer wanted', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const p2 = plan(desired([storage()], { nonlocalBind: false }), after, p1.ledger);
    expect(cmds(p2)).toEqual(['sysctl -w net.ipv4.ip_nonlocal_bind=0', 'sysctl -w net.ipv6.ip_nonlocal_bind=0']);
    expect(p2.ledger.sysctlsBefore).not.toHaveProperty(SYSCTL.nonlocalBind4);
    expect(p2.ledger.sysctlsBefore[SYSCTL.tcpL3mdev]).toBe('0');
  });

  it('never writes a sysctl this kernel does not have', () => {
    const h = maasish();
    const p = plan(
      desired([storage()]),
      { ...h, sysctls: { ...h.sysctls, [SYSCTL.nonlocalBind6]: null } },
      EMPTY_LEDGER,
    );
    expect(cmds(p)).not.toContain('sysctl -w net.ipv6.ip_nonlocal_bind=1');
  });

  it('does not touch sysctls when no VRF is wanted', () => {
    expect(plan(desired([]), maasish(), EMPTY_LEDGER).steps).toEqual([]);
  });
});

describe('plan: local delivery from every address (the source rules at 99 sit ahead of the moved local lookup)', () => {
  const withMgmt6 = (): ObservedHost => {
    const h = maasish();
    const six = withKernelRoutes(host(nic('ens3'), addr('ens3', '2001:db8:1::5/64')));
    return withKernelRoutes({ ...h, addrs: [...h.addrs, ...six.addrs] });
  };
  const where = (h: ObservedHost, dst: string, src: string | null) => {
    const l = lookup(h, dst, src);
    return l.kind === 'local'
      ? 'local'
      : l.kind === 'route'
        ? `via ${l.route.gateway ?? '-'} table ${l.route.table}`
        : 'none';
  };

  it("the host's mgmt address from its storage address, and the reverse, each family, delivered", () => {
    const { p, after } = converge(desired([storage()]), withMgmt6());
    expect(after.rules.some((r) => r.priority === 32765 && r.table === 255)).toBe(true);
    expect(where(after, '10.0.0.5', '10.10.4.23')).toBe('local');
    expect(where(after, '10.10.4.23', '10.0.0.5')).toBe('local');
    expect(where(after, '10.10.4.23', null)).toBe('local');
    expect(where(after, '10.10.4.23', '10.10.4.23')).toBe('local');
    expect(where(after, '2001:db8:1::5', '2001:db8:4::23')).toBe('local');
    expect(where(after, '2001:db8:4::23', '2001:db8:1::5')).toBe('local');
    // Everything else from the storage address still leaves through storage's gateway.
    expect(where(after, '192.0.2.9', '10.10.4.23')).toBe('via 10.10.4.1 table 1001');
    // The `from ADDRESS lookup local` rules are in the ledger (their table is the kernel's), and go on teardown.
    expect(p.ledger.ownedRules.filter((r) => r.table === 255 && r.priority === 98)).toEqual([
      { family: 'inet', priority: 98, src: '10.10.4.23/32', table: 255 },
      { family: 'inet6', priority: 98, src: '2001:db8:4::23/128', table: 255 },
    ]);
    const gone = simulate(after, planTeardown(after, p.ledger).steps);
    expect(gone.rules.filter((r) => r.priority === 98)).toEqual([]);
  });

  it('without the rules at 98 it was not: the storage address reached mgmt through storage’s gateway', () => {
    const { after } = converge(desired([storage()]), withMgmt6());
    const without = { ...after, rules: after.rules.filter((r) => r.priority !== 98) };
    expect(where(without, '10.0.0.5', '10.10.4.23')).toBe('via 10.10.4.1 table 1001');
  });

  it('deletes the delivery rules of both families once no source rule needs them, and says so', () => {
    const h = maasish();
    // Without MAAS's rule at 100 only vrf-host's own source rules (preserve-reachability) need them.
    const { p, after } = converge(desired([storage()]), { ...h, rules: h.rules.filter((r) => r.priority !== 100) });
    const off = plan(desired([storage()], { preserveReachability: false }), after, p.ledger);
    const whys = off.steps.flatMap((s) => (s.kind === 'rule-del' && s.rule.priority === 98 ? [s.why] : []));
    expect(whys.sort()).toEqual(
      [
        'delivery rule to 10.10.4.23/32 lookup 1001 is no longer wanted',
        'delivery rule from 10.10.4.23/32 lookup local is no longer wanted',
        'delivery rule to 2001:db8:4::23/128 lookup 1001 is no longer wanted',
        'delivery rule from 2001:db8:4::23/128 lookup local is no longer wanted',
      ].sort(),
    );
  });

  describe('on a host whose delivery rules were partly deleted by hand', () => {
    // storage (ens4) and public (ens5) are VRFs; then public goes, and ens5 back to main.
    const two = (): ObservedHost =>
      withKernelRoutes(
        host(
          nic('ens3'),
          nic('ens4'),
          nic('ens5'),
          addr('ens3', '10.0.0.5/24'),
          addr('ens4', '10.10.4.23/24'),
          addr('ens5', '172.16.0.5/24'),
          rulesOf(),
          sysctls,
        ),
      );
    const pub = dvrf('public', { table: 1002, members: { ens5: ['172.16.0.5/24'] }, gateways: ['172.16.0.1'] });
    const only = dvrf('storage', { table: 1001, members: { ens4: ['10.10.4.23/24'] }, gateways: ['10.10.4.1'] });
    const drifted = (): { h: ObservedHost; ledger: Ledger } => {
      const { p, after } = converge(desired([only, pub]), two());
      // By hand: `ip rule del pref 98 from 10.10.4.23/32 lookup local`.
      const h = { ...after, rules: after.rules.filter((r) => !(r.priority === 98 && r.src === '10.10.4.23/32')) };
      return { h, ledger: p.ledger };
    };

    it('storage’s address still reached public’s only through public’s `to` rule; releasing ens5 ends that', () => {
      const { h, ledger } = drifted();
      expect(where(h, '172.16.0.5', '10.10.4.23')).toBe('local');
      // The plan without its first step is what it was before: public's table emptied and ens5
      // released before anything put the deleted rule back; from then on storage's source rule at
      // 99 sent the packet to storage's gateway.
      const rest = plan(desired([only]), h, ledger).steps.slice(1);
      const release = rest.findIndex((s) => s.kind === 'release');
      const released = simulate(h, rest.slice(0, release + 1), { hadVrf: true });
      expect(where(released, '172.16.0.5', '10.10.4.23')).toBe('via 10.10.4.1 table 1001');
    });

    it('puts the deleted delivery rule back first, and every prefix delivers what the host delivered', () => {
      const { h, ledger } = drifted();
      const p = plan(desired([only]), h, ledger);
      expect(cmds(p)[0]).toBe('ip rule add pref 98 from 10.10.4.23/32 lookup 255');
      expect(p.steps[0]).toMatchObject({
        why: "the delivery rule from 10.10.4.23/32 lookup local is missing: back first, so 10.10.4.23/32 reaches the host's other addresses at every step",
      });
      for (let k = 0; k <= p.steps.length; k++) {
        const at = simulate(h, p.steps.slice(0, k), { hadVrf: true });
        expect({ k, to: where(at, '172.16.0.5', '10.10.4.23') }).toEqual({ k, to: 'local' });
        // The drift broke storage's address → mgmt's: mended by the first step, and kept.
        const mgmt = k === 0 ? 'via 10.10.4.1 table 1001' : 'local';
        expect({ k, to: where(at, '10.0.0.5', '10.10.4.23') }).toEqual({ k, to: mgmt });
      }
    });

    it('a deleted `to` rule into a table that holds its address comes back first too; none for an address its VRF no longer holds', () => {
      const { p, after } = converge(desired([only, pub]), two());
      const h = { ...after, rules: after.rules.filter((r) => !(r.priority === 98 && r.dst !== null)) };
      const next = plan(desired([only]), h, p.ledger);
      expect(cmds(next).slice(0, 2)).toEqual([
        'ip rule add pref 98 to 10.10.4.23/32 lookup 1001',
        'ip rule add pref 98 to 172.16.0.5/32 lookup 1002',
      ]);
      // Once ens5 is released its address is in no VRF: its `to` rule is not put back again.
      const released = simulate(h, [{ kind: 'release', dev: 'ens5', vrf: 'public' }], { hadVrf: true });
      expect(cmds(plan(desired([only]), released, p.ledger)).filter((c) => c.includes('to 172.16.0.5'))).toEqual([]);
    });
  });

  it('leaves a `from ADDRESS lookup local` rule that is not in the ledger alone', () => {
    const { p, after } = converge(desired([storage()]), withMgmt6());
    const foreign = mkRule({ priority: 98, src: '10.10.4.99/32', table: 255 });
    const h = { ...after, rules: [...after.rules, foreign] };
    // Someone else's rule ahead of 32765: the local lookup goes back to 0, as for any such rule.
    const p2 = plan(desired([storage()]), h, p.ledger);
    expect(cmds(p2)).toContain('ip rule add pref 0 lookup 255 protocol kernel');
    expect(cmds(p2).filter((c) => c.includes('10.10.4.99'))).toEqual([]);
    const td = planTeardown(h, p.ledger);
    expect(simulate(h, td.steps).rules.filter((r) => r.priority === 98)).toEqual([foreign]);
  });
});

describe('plan: an IPv6 link-local gateway on a VRF with several members', () => {
  it('its default route goes through the member derive found it on (a link-local next hop needs a dev)', () => {
    const h = withKernelRoutes(
      host(
        nic('ens4'),
        nic('ens5'),
        addr('ens4', '10.10.4.23/24'),
        addr('ens4', '2001:db8:4::23/64'),
        addr('ens5', '10.10.4.24/24'),
        rulesOf(),
        sysctls,
      ),
    );
    const v = dvrf('storage', {
      table: 1001,
      members: { ens4: ['10.10.4.23/24', '2001:db8:4::23/64'], ens5: ['10.10.4.24/24'] },
      gateways: ['10.10.4.1'],
    });
    const d = desired([{ ...v, gateways: { ...v.gateways, inet6: { ...gw('fe80::1', 'ra'), dev: 'ens4' } } }]);
    const { p } = converge(d, h);
    expect(cmds(p)).toContain('ip route replace ::/0 via fe80::1 dev ens4 table 1001');
  });
});

describe('plan: removing a VRF that is no longer desired', () => {
  it('clears its table, releases members, gives back migrated routes and rules, deletes the VRF', () => {
    const { p: p1, after } = converge(desired([storage()]), maasish());
    const { p } = converge(desired([]), after, p1.ledger);
    const c = cmds(p);
    // The table first: the delivery rule into it stays until the rules phase, and must not meet
    // the strict catch-all once the release has moved the address's local route out.
    const release = c.indexOf('ip link set dev ens4 nomaster');
    expect(c.slice(0, release)).toEqual([
      'ip route del 10.30.0.0/16 via 10.10.4.254 dev ens4 metric 100 table 1001',
      'ip route del 0.0.0.0/0 via 10.10.4.1 dev ens4 table 1001',
      'ip route del ::/0 via 2001:db8:4::1 dev ens4 metric 1024 table 1001',
      'ip route del unreachable 0.0.0.0/0 metric 4278198272 table 1001',
      'ip route del unreachable ::/0 metric 4278198272 table 1001',
    ]);
    // The delivery rule into the emptied table goes once the release has taken the address's local
    // route out of it: from then on it could only pass the lookup on (or send it away).
    expect(c.indexOf('ip rule del pref 98 to 10.10.4.23/32 lookup 1001')).toBeGreaterThan(release);
    expect(c).toContain('ip link del dev storage');
    expect(c).toContain('ip route replace 10.30.0.0/16 via 10.10.4.254 dev ens4 metric 100 proto static table 254');
    expect(c).toContain('ip route replace 0.0.0.0/0 via 10.10.4.1 dev ens4 proto static table 2');
    expect(c).toContain('ip rule add pref 100 from 10.10.4.0/24 lookup 2');
    expect(c).toContain('ip rule add pref 0 lookup 255 protocol kernel');
    expect(p.ledger).toEqual(EMPTY_LEDGER);
  });
});

describe('plan: steps are typed and carry what render needs', () => {
  it('every step renders', () => {
    const { p } = converge(desired([storage()]), maasish());
    const steps: readonly Step[] = p.steps;
    expect(() => steps.map(renderCommand)).not.toThrow();
  });
});

describe('plan: an IPv6 gateway learnt from router advertisements', () => {
  // public on ens4; main has the RA default via fe80::1 that derive turned into source 'ra'.
  const RA = mkRoute({ dst: '::/0', gateway: 'fe80::1', dev: 'ens4', protocol: 'ra', metric: 1024 });
  const raHost = (): ObservedHost =>
    withKernelRoutes(
      host(
        nic('ens3'),
        nic('ens4'),
        addr('ens3', '10.0.0.5/24'),
        addr('ens4', '172.16.0.5/24'),
        addr('ens4', '2001:db8:16::5/64'),
        route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
        { part: 'route', value: RA },
        rulesOf(),
        sysctls,
      ),
    );
  const pub = (
    gateways: DesiredState['vrfs'][number]['gateways'] = { inet: gw('172.16.0.1'), inet6: gw('fe80::1', 'ra') },
  ) => ({
    ...dvrf('public', { table: 1001, members: { ens4: ['172.16.0.5/24', '2001:db8:16::5/64'] } }),
    gateways,
  });
  const isRa = (r: { protocol: string; dst: string }) => r.protocol === 'ra' && r.dst === '::/0';

  it('remembers the RA default the enslave drops, installs its own default, and converges', () => {
    const { p, after } = converge(desired([pub()]), raHost());
    expect(p.ledger.migratedRoutes).toEqual([RA]);
    expect(cmds(p)).toContain('ip route replace ::/0 via fe80::1 dev ens4 table 1001');
    // Nothing re-adds the RA route itself, anywhere: only the kernel makes proto ra routes.
    expect(cmds(p).some((c) => c.includes('proto ra'))).toBe(false);
    expect(after.routes.filter(isRa)).toEqual([]);
  });

  it('does not copy a remembered RA default into the VRF when the VRF has no IPv6 gateway', () => {
    const { p } = converge(desired([pub({ inet: gw('172.16.0.1') })]), raHost());
    expect(p.ledger.migratedRoutes).toEqual([RA]);
    expect(cmds(p).some((c) => c.startsWith('ip route replace ::/0 via'))).toBe(false);
  });

  it('a kernel RA default in the VRF table with the same gateway counts as converged (ours gone or still there)', () => {
    const { p, after } = converge(desired([pub()]), raHost());
    const kernelRa: Route = { ...RA, table: 1001 };
    const ours = (r: Route) => r.table === 1001 && r.dst === '::/0' && r.type === 'unicast';
    // The kernel relearnt the default (e.g. after a reboot, before vrf-host ran): only its copy is there.
    const relearnt: ObservedHost = { ...after, routes: [...after.routes.filter((r) => !ours(r)), kernelRa] };
    expect(plan(desired([pub()]), relearnt, p.ledger)).toEqual({ steps: [], ledger: p.ledger, kept: p.kept });
    // Both: ours and a kernel entry for the same router (the model de-duplicates the slot as the kernel refuses it).
    expect(plan(desired([pub()]), { ...after, routes: [...after.routes, kernelRa] }, p.ledger).steps).toEqual([]);
  });

  it('a kernel RA default via another router than the derived gateway is left alone, ours stays', () => {
    const { p, after } = converge(desired([pub()]), raHost());
    const other: Route = { ...RA, table: 1001, gateway: 'fe80::2' };
    const h: ObservedHost = { ...after, routes: [...after.routes, other] };
    expect(plan(desired([pub()]), h, p.ledger).steps).toEqual([]);
  });

  it('removing the VRF forgets the remembered RA default without re-adding it (the kernel relearns it)', () => {
    const { p: p1, after } = converge(desired([pub()]), raHost());
    const { p } = converge(desired([]), after, p1.ledger);
    expect(kinds(p)).toContain('release');
    expect(p.ledger).toEqual(EMPTY_LEDGER);
    expect(p.steps.some((s) => s.kind === 'route-add' && s.route.protocol === 'ra')).toBe(false);
    expect(simulate(after, p.steps).routes.filter(isRa)).toEqual([]);
  });
});

describe('plan: delivery rules ahead of a migrated source rule', () => {
  // Without preserve-reachability: only the migrated source rule puts a rule ahead of the moved local lookup.
  it('delivers to the address whatever re-adds the source rule, and goes when the VRF does', () => {
    const d = desired([storage()], { preserveReachability: false });
    const { p, after } = converge(d, maasish());
    const delivery = (h: ObservedHost) =>
      h.rules
        .filter((r) => r.priority === 98)
        .map((r) => `${r.src ?? 'all'} → ${r.dst ?? 'all'} ${r.table ?? '-'}`)
        .sort();
    expect(delivery(after)).toEqual(['10.10.4.23/32 → all 255', 'all → 10.10.4.23/32 1001']);
    expect(p.ledger.ownedRules.filter((r) => r.table === 255 && r.priority === 98)).toEqual([
      { family: 'inet', priority: 98, src: '10.10.4.23/32', table: 255 },
    ]);
    // networkd re-adds MAAS's rule: the planner migrates it again and keeps the delivery rule.
    const readded = { ...after, rules: [...after.rules, ...maasish().rules.filter((r) => r.priority === 100)] };
    const again = plan(d, readded, p.ledger);
    expect(cmds(again)).toEqual(['ip rule del pref 100 from 10.10.4.0/24 lookup 2']);
    // Teardown: the delivery rule goes with the VRF, MAAS's rule comes back.
    const gone = simulate(after, plan(desired([]), after, p.ledger).steps);
    expect(delivery(gone)).toEqual([]);
    expect(gone.rules.some((r) => r.priority === 100 && r.src === '10.10.4.0/24')).toBe(true);
  });

  it("a foreign rule at 98 with vrf-host's source and table but another selector (a fwmark) is never taken for its own", () => {
    const d = desired([storage()], { preserveReachability: false });
    const { p, after } = converge(d, maasish());
    const marked = mkRule({ priority: 98, src: '10.10.4.23/32', table: 255, fwmark: '0x1' });
    const withMarked = { ...after, rules: [...after.rules, marked] };
    // Converged: the foreign rule is not vrf-host's, so no step touches it (it sits ahead of
    // 32765, so the local lookup goes back to 0, as for any rule vrf-host does not manage).
    const next = plan(d, withMarked, p.ledger);
    expect(cmds(next).filter((c) => c.includes('fwmark'))).toEqual([]);
    expect(simulate(withMarked, next.steps).rules).toContainEqual(marked);
    // Teardown: vrf-host's own delivery rule goes, the foreign one stays as it was.
    const gone = simulate(withMarked, plan(desired([]), withMarked, p.ledger).steps);
    expect(gone.rules.filter((r) => r.priority === 98)).toEqual([marked]);
  });

  it('none where no source rule was migrated', () => {
    const h = maasish();
    const plain = { ...h, rules: h.rules.filter((r) => r.priority !== 100) };
    const { after } = converge(desired([storage()], { preserveReachability: false }), plain);
    expect(after.rules.some((r) => r.priority === 98)).toBe(false);
  });
});

describe("plan: main's default route leaves through a space that becomes a VRF", () => {
  // The controller is reached by a more specific route through mgmt (ens3); the host's only
  // default goes through storage's member ens4.
  const h = (): ObservedHost =>
    withKernelRoutes(
      host(
        nic('ens3'),
        nic('ens4'),
        addr('ens3', '10.0.0.5/24'),
        addr('ens4', '10.10.4.23/24'),
        route({ dst: '10.100.0.0/24', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
        route({ dst: 'default', gateway: '10.10.4.1', dev: 'ens4', protocol: 'dhcp', metric: 100 }),
        rulesOf(),
        sysctls,
      ),
    );
  const d = desired([dvrf('storage', { table: 1001, members: { ens4: ['10.10.4.23/24'] }, gateways: ['10.10.4.1'] })]);

  it('keeps main’s default in main, through the VRF device (its table routes it), with its metric; converged, then torn down as before', () => {
    const { p, after } = converge(d, h());
    expect(cmds(p)).toContain('ip route replace 0.0.0.0/0 dev storage metric 100 table 254');
    const defaults = after.routes.filter((r) => r.table === 254 && r.dst === '0.0.0.0/0');
    expect(defaults.map((r) => [r.dev, r.metric])).toEqual([['storage', 100]]);
    expect(after.routes.some((r) => r.table === 1001 && r.dst === '0.0.0.0/0' && r.gateway === '10.10.4.1')).toBe(true);
    // Each step says why, naming the family.
    const vrfDefault = p.steps.find(
      (st) => st.kind === 'route-add' && st.route.table === 1001 && st.route.dst === '0.0.0.0/0',
    );
    expect(vrfDefault?.why).toMatch(/^default route of storage \(IPv4\) via 10\.10\.4\.1, from /);
    // Teardown: the VRF goes (and the route through it), the lease's default comes back as it was.
    const back = simulate(after, planTeardown(after, p.ledger).steps, { hadVrf: true });
    expect(back.routes.filter((r) => r.table === 254 && r.dst === '0.0.0.0/0')).toEqual(
      h().routes.filter((r) => r.table === 254 && r.dst === '0.0.0.0/0'),
    );
  });

  it.each([
    { where: 'on the second space', m4: 200, m5: 100 },
    { where: 'on the first space', m4: 100, m5: 200 },
  ])(
    'with two such defaults (two spaces become VRFs), keeps the one the kernel preferred, the lower metric ($where)',
    ({ m4, m5 }) => {
      const two = withKernelRoutes(
        host(
          nic('ens3'),
          nic('ens4'),
          nic('ens5'),
          addr('ens3', '10.0.0.5/24'),
          addr('ens4', '10.10.4.23/24'),
          addr('ens5', '172.16.0.5/24'),
          route({ dst: '10.100.0.0/24', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
          route({ dst: 'default', gateway: '10.10.4.1', dev: 'ens4', protocol: 'dhcp', metric: m4 }),
          route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens5', protocol: 'dhcp', metric: m5 }),
          rulesOf(),
          sysctls,
        ),
      );
      const both = desired([
        dvrf('storage', { table: 1001, members: { ens4: ['10.10.4.23/24'] }, gateways: ['10.10.4.1'] }),
        dvrf('public', { table: 1002, members: { ens5: ['172.16.0.5/24'] }, gateways: ['172.16.0.1'] }),
      ]);
      const { p } = converge(both, two);
      const low = m4 < m5 ? `dev storage metric ${m4}` : `dev public metric ${m5}`;
      expect(cmds(p).filter((c) => c.startsWith('ip route replace 0.0.0.0/0') && c.endsWith('table 254'))).toEqual([
        `ip route replace 0.0.0.0/0 ${low} table 254`,
      ]);
    },
  );

  it('adds nothing while main still has a default of its own (mgmt’s)', () => {
    const withMgmt = withKernelRoutes({
      ...h(),
      routes: [...h().routes, mkRoute({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' })],
    });
    const { after } = converge(d, withMgmt);
    expect(after.routes.filter((r) => r.table === 254 && r.dst === '0.0.0.0/0').map((r) => r.dev)).toEqual(['ens3']);
  });
});
