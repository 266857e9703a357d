import { KernelModel, KernelModelError, simulate, withKernelRoutes } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import type { ObservedHost, Route, Step } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER, SYSCTL } from '../../../src/vrf/types.js';
import { addr, host, mkRoute, nic, route, sysctl } from './builders.js';
import { desired, stock } from './arbitraries.js';
import { loadRecorded, recordedVrfs } from './recorded.js';

const rules = () => stock().map((r) => ({ part: 'rule' as const, value: r }));
const base = (keep = '1') =>
  withKernelRoutes(
    host(
      nic('ens4'),
      addr('ens4', '10.10.4.23/24'),
      addr('ens4', '2001:db8:4::23/64'),
      addr('ens4', 'fe80::4/64', 'link'),
      route({ dst: '10.30.0.0/16', gateway: '10.10.4.254', dev: 'ens4', protocol: 'static' }),
      route({ dst: 'default', gateway: '10.10.4.1', dev: 'ens4', table: 2, protocol: 'static' }),
      rules(),
      sysctl(SYSCTL.keepAddrOnDown, keep),
    ),
  );
const inTable = (h: ObservedHost, t: number) => h.routes.filter((r) => r.table === t);
const sig = (r: Route) => `${r.type} ${r.dst} ${r.dev ?? ''}`;
const create: Step = { kind: 'vrf-create', name: 'storage', table: 1001 };
const up: Step = { kind: 'link-up', dev: 'storage' };
const enslave: Step = { kind: 'enslave', dev: 'ens4', vrf: 'storage' };

describe('simulate: enslave and release (vrf.rst)', () => {
  it('moves connected and local routes into the VRF table and drops every other route via the device', () => {
    const h = simulate(base(), [create, up, enslave]);
    expect(inTable(h, 1001).map(sig).sort()).toEqual([
      'broadcast 10.10.4.255/32 ens4',
      'local 10.10.4.23/32 ens4',
      'local 2001:db8:4::23/128 ens4',
      'local fe80::4/128 ens4',
      'multicast ff00::/8 ens4',
      'unicast 10.10.4.0/24 ens4',
      'unicast 2001:db8:4::/64 ens4',
      'unicast fe80::/64 ens4',
    ]);
    expect(h.routes.filter((r) => r.dev === 'ens4' && r.table !== 1001)).toEqual([]);
    expect(h.links.find((l) => l.name === 'ens4')).toMatchObject({ master: 'storage', slaveKind: 'vrf' });
  });

  it('loses global IPv6 addresses on enslave unless keep_addr_on_down=1', () => {
    const lost = simulate(base('0'), [create, up, enslave]);
    expect(lost.addrs.filter((a) => a.dev === 'ens4').map((a) => a.address)).toEqual(['10.10.4.23', 'fe80::4']);
    const kept = simulate(base('1'), [create, up, enslave]);
    expect(kept.addrs.filter((a) => a.dev === 'ens4')).toHaveLength(3);
  });

  it('release puts connected routes back in main and local ones in local, but not dropped static routes', () => {
    const h = simulate(base(), [create, up, enslave, { kind: 'release', dev: 'ens4', vrf: 'storage' }]);
    expect(inTable(h, 1001)).toEqual([]);
    expect(h.routes).toContainEqual(
      expect.objectContaining({ table: 254, dst: '10.10.4.0/24', dev: 'ens4', protocol: 'kernel' }),
    );
    expect(h.routes).toContainEqual(expect.objectContaining({ table: 255, dst: '10.10.4.23/32', type: 'local' }));
    expect(h.routes.some((r) => r.dst === '10.30.0.0/16')).toBe(false);
  });

  it('adds the l3mdev rule for both families with the first VRF only', () => {
    const h = simulate(base(), [create, { kind: 'vrf-create', name: 'other', table: 1002 }]);
    expect(h.rules.filter((r) => r.l3mdev).map((r) => `${r.family} ${r.priority} ${r.protocol}`)).toEqual([
      'inet 1000 kernel',
      'inet6 1000 kernel',
    ]);
  });

  // Each of these was seen on Debian's 6.1 kernel (iproute2 6.1) in the VM.
  it('keeps the l3mdev rule after the last VRF is deleted, and adds none with the next VRF once it was deleted', () => {
    const m = new KernelModel(base());
    m.apply(create);
    m.apply({ kind: 'vrf-delete', name: 'storage' });
    expect(m.allRules().filter((r) => r.l3mdev)).toHaveLength(2);
    for (const family of ['inet', 'inet6'] as const)
      m.apply({ kind: 'rule-del', rule: { family, priority: 1000, table: 0, l3mdev: true }, why: '' });
    m.apply({ kind: 'vrf-create', name: 'other', table: 1002 });
    expect(m.allRules().some((r) => r.l3mdev)).toBe(false);
    // A fresh model of that host cannot know the namespace had a VRF: say so.
    const again = simulate(m.snapshot(), [create], { hadVrf: true });
    expect(again.rules.some((r) => r.l3mdev)).toBe(false);
  });

  it('the first VRF finds an identical l3mdev rule already there (EEXIST is ignored), but keeps one that differs in protocol', () => {
    const same = simulate(base(), [
      {
        kind: 'rule-add',
        rule: { family: 'inet', priority: 1000, table: 0, l3mdev: true, protocol: 'kernel' },
        why: '',
      },
      create,
    ]);
    expect(same.rules.filter((r) => r.l3mdev).map((r) => `${r.family} ${r.protocol}`)).toEqual([
      'inet kernel',
      'inet6 kernel',
    ]);
    const other = simulate(base(), [
      { kind: 'rule-add', rule: { family: 'inet', priority: 1000, table: 0, l3mdev: true }, why: '' },
      create,
    ]);
    expect(other.rules.filter((r) => r.l3mdev).map((r) => `${r.family} ${r.protocol}`)).toEqual([
      'inet unspec',
      'inet kernel',
      'inet6 kernel',
    ]);
  });

  it('a rule added without protocol is unspec; one that differs only in protocol is another rule', () => {
    const m = new KernelModel(base());
    m.apply({ kind: 'rule-add', rule: { family: 'inet', priority: 0, table: 255 }, why: '' });
    expect(
      m
        .allRules()
        .filter((r) => r.family === 'inet' && r.priority === 0)
        .map((r) => r.protocol),
    ).toEqual(['kernel', 'unspec']);
  });

  it('deleting a VRF releases its members and drops routes via it, but keeps the rest of its table', () => {
    const h = simulate(base(), [
      create,
      up,
      enslave,
      {
        kind: 'route-add',
        route: { family: 'inet', table: 1001, dst: '0.0.0.0/0', type: 'unreachable', metric: 4278198272 },
        why: '',
      },
      {
        kind: 'route-add',
        route: { family: 'inet', table: 254, dst: '10.10.4.0/24', type: 'unicast', dev: 'storage' },
        why: '',
      },
      { kind: 'vrf-delete', name: 'storage' },
    ]);
    expect(h.links.map((l) => l.name)).toEqual(['ens4']);
    expect(h.routes.filter((r) => r.dev === 'storage')).toEqual([]);
    expect(inTable(h, 1001).map(sig)).toEqual(['unreachable 0.0.0.0/0 ']);
    expect(h.routes).toContainEqual(expect.objectContaining({ table: 254, dst: '10.10.4.0/24', dev: 'ens4' }));
  });
});

describe('simulate: routes, rules, sysctls', () => {
  it('route replace overwrites the entry with the same table, prefix and metric', () => {
    const t = { family: 'inet' as const, table: 1001, dst: '0.0.0.0/0', type: 'unicast' as const, dev: 'ens4' };
    const h = simulate(base(), [
      { kind: 'route-add', route: { ...t, gateway: '10.10.4.1' }, why: '' },
      { kind: 'route-add', route: { ...t, gateway: '10.10.4.2' }, why: '' },
      { kind: 'route-add', route: { ...t, gateway: '10.10.4.3', metric: 5 }, why: '' },
    ]);
    expect(
      inTable(h, 1001)
        .map((r) => `${r.gateway} ${r.metric}`)
        .sort(),
    ).toEqual(['10.10.4.2 null', '10.10.4.3 5']);
  });

  it('IPv6 routes get metric 1024 and unreachable ones dev lo, as the kernel prints them', () => {
    const h = simulate(base(), [
      { kind: 'route-add', route: { family: 'inet6', table: 9, dst: '::/0', type: 'unreachable', metric: 7 }, why: '' },
    ]);
    expect(inTable(h, 9)).toEqual([
      mkRoute({
        family: 'inet6',
        table: 9,
        dst: '::/0',
        type: 'unreachable',
        dev: 'lo',
        protocol: 'boot',
        scope: 'global',
        metric: 7,
      }),
    ]);
  });

  it('fails where ip would fail', () => {
    const m = new KernelModel(base());
    expect(() =>
      m.apply({
        kind: 'route-del',
        route: { family: 'inet', table: 7, dst: '10.0.0.0/8', type: 'unicast', dev: 'ens4' },
        why: '',
      }),
    ).toThrow(KernelModelError);
    expect(() =>
      m.apply({ kind: 'rule-add', rule: { family: 'inet', priority: 0, table: 255, protocol: 'kernel' }, why: '' }),
    ).toThrow(/File exists/);
    expect(() => m.apply({ kind: 'rule-del', rule: { family: 'inet', priority: 5, table: 255 }, why: '' })).toThrow(
      /No such file/,
    );
    expect(() => m.apply(enslave)).toThrow(/not a VRF/);
    const down = new KernelModel(withKernelRoutes(host(nic('ens9', { up: false }))));
    expect(() =>
      down.apply({
        kind: 'route-add',
        route: { family: 'inet', table: 254, dst: '10.9.0.0/16', type: 'unicast', dev: 'ens9' },
        why: '',
      }),
    ).toThrow(/not up/);
    m.apply(create);
    expect(() => m.apply(create)).toThrow(/File exists/);
    // `ip route del unreachable …` names the type, and the kernel matches it (fib_table_delete):
    // a unicast route at the same table, prefix and metric is not the one deleted.
    const uni = { family: 'inet' as const, table: 7, dst: '10.0.0.0/8', type: 'unicast' as const, dev: 'ens4' };
    m.apply({ kind: 'route-add', route: uni, why: '' });
    expect(() =>
      m.apply({
        kind: 'route-del',
        route: { family: 'inet', table: 7, dst: '10.0.0.0/8', type: 'unreachable' },
        why: '',
      }),
    ).toThrow(KernelModelError);
    expect(
      m
        .snapshot()
        .routes.filter((r) => r.table === 7)
        .map((r) => r.type),
    ).toEqual(['unicast']);
  });

  it('adds and deletes the l3mdev rule like ip does', () => {
    const m = new KernelModel(base());
    m.apply({ kind: 'rule-add', rule: { family: 'inet6', priority: 1000, table: 0, l3mdev: true }, why: '' });
    expect(m.allRules().filter((r) => r.l3mdev)).toEqual([
      expect.objectContaining({ family: 'inet6', priority: 1000, table: null, action: 'lookup' }),
    ]);
    expect(() =>
      m.apply({ kind: 'rule-add', rule: { family: 'inet6', priority: 1000, table: 0, l3mdev: true }, why: '' }),
    ).toThrow(/File exists/);
    m.apply({ kind: 'rule-del', rule: { family: 'inet6', priority: 1000, table: 0, l3mdev: true }, why: '' });
    expect(m.allRules().some((r) => r.l3mdev)).toBe(false);
  });

  it('keeps rules ordered by priority and sets sysctls', () => {
    const h = simulate(base(), [
      { kind: 'rule-add', rule: { family: 'inet', priority: 99, src: '10.10.4.23/32', table: 1001 }, why: '' },
      { kind: 'sysctl', key: SYSCTL.tcpL3mdev, value: '1', why: '' },
    ]);
    const prios = h.rules.filter((r) => r.family === 'inet').map((r) => r.priority);
    expect(prios).toEqual([0, 99, 32766, 32767]);
    expect(h.sysctls[SYSCTL.tcpL3mdev]).toBe('1');
  });
});

describe('simulate against the real kernel (recorded on Debian 6.1)', () => {
  const load = (state: string): ObservedHost => loadRecorded(state);

  it('the plan for the MAAS host, run on the model, gives the routes and addresses the kernel showed after the same changes by hand', () => {
    const D = desired(recordedVrfs());
    const m = load('maas-host');
    const after = simulate(m, plan(D, m, EMPTY_LEDGER).steps);
    const real = load('converged');
    // The hand-made copy of 10.30.0.0/16 kept `proto static`; vrf-host adds it as `proto boot`.
    const k = (r: Route) =>
      `${r.family} ${r.table} ${r.type} ${r.dst} ${r.dev} ${r.gateway} ${r.metric} ${r.scope} ${r.prefsrc}` +
      ` ${r.dst === '10.30.0.0/16' ? '' : r.protocol}`;
    expect(after.routes.map(k).sort()).toEqual(real.routes.map(k).sort());
    const a = (h: ObservedHost) => h.addrs.map((x) => `${x.dev} ${x.address}/${x.prefixlen}`).sort();
    expect(a(after)).toEqual(a(real));
    const masters = (h: ObservedHost) => h.links.map((l) => `${l.name} ${l.master ?? '-'} ${l.vrfTable ?? '-'}`).sort();
    expect(masters(after)).toEqual(masters(real));
  });
});
