import { simulate } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import { renderCommand } from '../../../src/vrf/render.js';
import { planTeardown } from '../../../src/vrf/teardown.js';
import type { ObservedHost } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER } from '../../../src/vrf/types.js';
import { desired } from './arbitraries.js';
import { loadRecorded, recordedVrfs } from './recorded.js';

const load = (state: string): ObservedHost => loadRecorded(state);

const canon = (o: object): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** An IPv4 route via an IPv6 next hop (RFC 5549): ip cannot render it back, the enslave drops it. */
const crossFamily = (r: ObservedHost['routes'][number]) =>
  r.gateway !== null && r.gateway.includes(':') !== (r.family === 'inet6');

/**
 * What teardown must give back: everything but the RA routes the kernel re-learns and the
 * cross-family routes the enslave dropped for good (rules with their protocol, l3mdev included).
 */
function comparable(h: ObservedHost) {
  return {
    links: h.links.map((l) => `${l.name} ${l.kind ?? '-'} ${l.master ?? '-'} ${l.up}`).sort(),
    addrs: h.addrs.map((a) => `${a.dev} ${a.address}/${a.prefixlen} ${a.scope}`).sort(),
    routes: h.routes
      .filter((r) => r.protocol !== 'ra' && !crossFamily(r))
      .map(canon)
      .sort(),
    rules: h.rules.map(canon).sort(),
    sysctls: h.sysctls,
  };
}

const D = desired(recordedVrfs());
describe('planTeardown', () => {
  const before = load('maas-host');
  const applied = plan(D, before, EMPTY_LEDGER);
  const after = simulate(before, applied.steps);
  const td = planTeardown(after, applied.ledger);
  const restored = simulate(after, td.steps);

  it('gives back the recorded MAAS host on the model', () => {
    expect(comparable(restored)).toEqual(comparable(before));
    // The recorded host has one (10.60.0.0/16 via inet6 fe80::1 dev bond0): gone after the enslave,
    // never carried into the VRF, so not given back either.
    expect(before.routes.filter(crossFamily).map((r) => r.dst)).toEqual(['10.60.0.0/16']);
    expect(after.routes.some(crossFamily)).toBe(false);
  });

  it('does not re-add the remembered RA default as a permanent route, and forgets it (the kernel relearns it)', () => {
    // The enslave dropped main's `default via fe80::1 dev br-ens4 proto ra`; the ledger kept it for derivation.
    expect(applied.ledger.migratedRoutes).toContainEqual(
      expect.objectContaining({ table: 254, dst: '::/0', gateway: 'fe80::1', dev: 'br-ens4', protocol: 'ra' }),
    );
    expect(
      td.steps.filter(
        (s) =>
          s.kind === 'route-add' &&
          (s.route.protocol === 'ra' || (s.route.dst === '::/0' && s.route.dev === 'br-ens4')),
      ),
    ).toEqual([]);
    expect(td.steps.map(renderCommand).join('\n')).not.toMatch(/proto ra/);
    expect(restored.routes.filter((r) => r.protocol === 'ra' || (r.dev === 'br-ens4' && r.dst === '::/0'))).toEqual([]);
    // The static routes of the same ledger are given back.
    expect(td.steps.map(renderCommand)).toContain(
      'ip route replace 0.0.0.0/0 via 10.10.4.1 dev bond0 proto static table 2',
    );
  });

  it('returns the empty ledger, and a second teardown does nothing', () => {
    expect(td.ledger).toEqual(EMPTY_LEDGER);
    expect(planTeardown(restored, EMPTY_LEDGER).steps).toEqual([]);
  });

  it('releases members before it deletes their VRF, restores the local rule (add before delete) and sysctls last', () => {
    const c = td.steps.map(renderCommand);
    expect(c.indexOf('ip link set dev bond0 nomaster')).toBeLessThan(c.indexOf('ip link del dev storage'));
    expect(c.indexOf('ip rule add pref 0 lookup 255')).toBeLessThan(c.indexOf('ip rule del pref 32765 lookup 255'));
    expect(c.indexOf('ip -6 rule add pref 0 lookup 255')).toBeLessThan(
      c.indexOf('ip -6 rule del pref 32765 lookup 255'),
    );
    expect(td.steps.at(-1)?.kind).toBe('sysctl');
    expect(c).toContain('sysctl -w net.ipv6.conf.all.keep_addr_on_down=0');
  });

  it('touches nothing it does not own', () => {
    const c = td.steps.map(renderCommand).join('\n');
    expect(c).not.toMatch(/\bens3\b/);
    expect(c).not.toMatch(/pref 90\b/);
  });

  it('deletes the l3mdev rules its first VRF brought (the recorded host had none; the kernel keeps them after the last VRF)', () => {
    expect(before.rules.some((r) => r.l3mdev)).toBe(false);
    expect(applied.ledger.l3mdevRuleAdded).toEqual(['inet', 'inet6']);
    const c = td.steps.map(renderCommand);
    expect(c).toContain('ip rule del pref 1000 l3mdev');
    expect(c).toContain('ip -6 rule del pref 1000 l3mdev');
    // After every VRF is gone (the rule must outlive no VRF that needs it).
    expect(c.indexOf('ip rule del pref 1000 l3mdev')).toBeGreaterThan(c.lastIndexOf('ip link del dev storage-cluster'));
    expect(restored.rules.some((r) => r.l3mdev)).toBe(false);
  });

  it('gives back the local rule at priority 0 as the kernel made it (protocol kernel, as ip -json -details showed it)', () => {
    expect(before.rules.filter((r) => r.priority === 0).map((r) => `${r.family} ${r.protocol}`)).toEqual([
      'inet kernel',
      'inet6 kernel',
    ]);
    const c = td.steps.map(renderCommand);
    expect(c).toContain('ip rule add pref 0 lookup 255 protocol kernel');
    expect(c).toContain('ip -6 rule add pref 0 lookup 255 protocol kernel');
    expect(restored.rules.filter((r) => r.priority === 0).map((r) => `${r.family} ${r.protocol}`)).toEqual([
      'inet kernel',
      'inet6 kernel',
    ]);
  });

  it('leaves an l3mdev rule that was there before vrf-host alone', () => {
    const l3 = after.rules.filter((r) => r.l3mdev);
    const had = { ...before, rules: [...before.rules, ...l3] };
    const p = plan(D, had, EMPTY_LEDGER);
    expect(p.ledger).not.toHaveProperty('l3mdevRuleAdded');
    const a = simulate(had, p.steps);
    const t = planTeardown(a, p.ledger);
    expect(t.steps.map(renderCommand).join('\n')).not.toMatch(/ l3mdev\b/);
    expect(comparable(simulate(a, t.steps))).toEqual(comparable(had));
  });

  it('keeps IPv6 addresses while releasing even if keep_addr_on_down was reset since, and puts the old value back', () => {
    const reset = { ...after, sysctls: { ...after.sysctls, 'net.ipv6.conf.all.keep_addr_on_down': '0' } };
    const t = planTeardown(reset, applied.ledger);
    const c = t.steps.map(renderCommand);
    expect(c[0]).toBe('sysctl -w net.ipv6.conf.all.keep_addr_on_down=1');
    expect(c.lastIndexOf('sysctl -w net.ipv6.conf.all.keep_addr_on_down=0')).toBeGreaterThan(
      c.lastIndexOf('ip link del dev storage-cluster'),
    );
    const back = simulate(reset, t.steps);
    expect(back.addrs.filter((a) => a.address === '2001:db8:4::10')).toHaveLength(1);
    expect(back.sysctls['net.ipv6.conf.all.keep_addr_on_down']).toBe('0');
  });

  it('does not try to give back a route through a member that is down (the kernel would refuse it)', () => {
    const down = { ...after, links: after.links.map((l) => (l.name === 'bond0.105' ? { ...l, up: false } : l)) };
    const t = planTeardown(down, applied.ledger);
    const c = t.steps.map(renderCommand);
    expect(c.some((x) => x.startsWith('ip route replace 10.30.0.0/16 via'))).toBe(false);
    expect(c).toContain('ip route replace 0.0.0.0/0 via 10.10.4.1 dev bond0 proto static table 2');
    expect(() => simulate(down, t.steps)).not.toThrow();
  });

  it('clears the routes a VRF deleted by hand left in its table', () => {
    const gone = {
      ...after,
      links: after.links
        .filter((l) => l.name !== 'storage')
        .map((l) => (l.master === 'storage' ? { ...l, master: null, slaveKind: null } : l)),
    };
    const c = planTeardown(gone, applied.ledger).steps.map(renderCommand);
    expect(c).toContain('ip route del unreachable 0.0.0.0/0 metric 4278198272 table 1002');
  });
});
