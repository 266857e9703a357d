/**
 * The planner against hosts recorded on Debian's 6.1 kernel (tests/fixtures/ip):
 * the MAAS host before vrf-host, and the same host converged by hand.
 */
import { plan } from '../../../src/vrf/plan.js';
import { simulate } from '../../../src/vrf/model.js';
import { renderCommand } from '../../../src/vrf/render.js';
import type { Ledger, ObservedHost } from '../../../src/vrf/types.js';
import { EMPTY_LEDGER } from '../../../src/vrf/types.js';
import { desired } from './arbitraries.js';
import { loadRecorded, recordedVrfs } from './recorded.js';

const load = (state: string): ObservedHost => loadRecorded(state, ['10.100.0.5', '2001:db8:100::5']);

const D = desired(recordedVrfs('policy-table'));

describe('plan on the recorded MAAS host', () => {
  const h = load('maas-host');
  const p = plan(D, h, EMPTY_LEDGER);
  const c = p.steps.map(renderCommand);

  it('never touches the controller path (ens3)', () => {
    expect(h.routeGet['10.100.0.5']?.dev).toBe('ens3');
    expect(c.some((x) => /\bens3\b/.test(x))).toBe(false);
  });

  it('does what was done by hand to converge it, in a safe order', () => {
    const must = [
      'sysctl -w net.ipv6.conf.all.keep_addr_on_down=1',
      'ip link add name public type vrf table 1001',
      'ip link set dev br-ens4 master public',
      'ip link set dev bond0.105 master storage-cluster',
      'ip route replace ::/0 via fe80::1 dev br-ens4 table 1001',
      // storage-cluster's own route to 10.30.0.0/16 (config) takes the slot of the migrated static route
      'ip route replace 10.30.0.0/16 via 10.10.5.254 dev bond0.105 metric 100 table 1003',
      'ip route replace unreachable ::/0 metric 4278198272 table 1003',
      'ip rule del pref 100 from 172.16.0.0/24 lookup 1',
      'ip route replace 10.30.0.0/16 dev storage-cluster table 254',
      'ip rule add pref 99 from 172.16.0.10/32 lookup 1001',
      'ip -6 rule add pref 32765 lookup 255',
      'ip -6 rule del pref 100 from 2001:db8:4::/64 lookup 2',
      'ip -6 rule add pref 99 from 2001:db8:16::10/128 lookup 1001',
      'sysctl -w net.ipv6.ip_nonlocal_bind=1',
    ];
    const idx = must.map((m) => c.indexOf(m));
    expect(idx.every((i) => i >= 0)).toBe(true);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
  });

  it('remembers the MAAS rules and the policy-table defaults for teardown, and the RA default for derivation', () => {
    expect(p.ledger.migratedRules.map((r) => `${r.family} ${r.src} ${r.table}`).sort()).toEqual([
      'inet 10.10.4.0/24 2',
      'inet 10.10.5.0/24 3',
      'inet 172.16.0.0/24 1',
      'inet6 2001:db8:4::/64 2',
    ]);
    expect(p.ledger.migratedRoutes.map((r) => `${r.table} ${r.dst} ${r.dev}`).sort()).toEqual([
      '1 0.0.0.0/0 br-ens4',
      '2 0.0.0.0/0 bond0',
      '2 ::/0 bond0',
      '254 10.30.0.0/16 bond0.105',
      '254 ::/0 br-ens4',
      '3 0.0.0.0/0 bond0.105',
    ]);
    expect(p.ledger.migratedRoutes.find((r) => r.dev === 'br-ens4' && r.table === 254)).toMatchObject({
      gateway: 'fe80::1',
      protocol: 'ra',
    });
  });

  it('converges on the model', () => {
    const after = simulate(h, p.steps);
    expect(plan(D, after, p.ledger).steps).toEqual([]);
  });
});

describe('plan on the recorded host converged by hand', () => {
  const h = load('converged');
  const ledger: Ledger = {
    ...EMPTY_LEDGER,
    vrfs: { public: 1001, storage: 1002, 'storage-cluster': 1003 },
    localRuleMoved: true,
  };

  it("only adds the per-address rules at vrf-host's priority (the hand-made ones sit at 90)", () => {
    expect(plan(D, h, ledger).steps.map(renderCommand)).toEqual([
      // The delivery rules ahead of them: the local lookup was moved behind the source rules.
      'ip -6 rule add pref 98 to 2001:db8:16::10/128 lookup 1001',
      'ip -6 rule add pref 98 from 2001:db8:16::10/128 lookup 255',
      'ip -6 rule add pref 98 to 2001:db8:4::10/128 lookup 1002',
      'ip -6 rule add pref 98 from 2001:db8:4::10/128 lookup 255',
      'ip rule add pref 98 to 172.16.0.10/32 lookup 1001',
      'ip rule add pref 98 from 172.16.0.10/32 lookup 255',
      'ip rule add pref 98 to 10.10.4.10/32 lookup 1002',
      'ip rule add pref 98 from 10.10.4.10/32 lookup 255',
      'ip rule add pref 98 to 10.10.5.10/32 lookup 1003',
      'ip rule add pref 98 from 10.10.5.10/32 lookup 255',
      'ip rule add pref 99 from 172.16.0.10/32 lookup 1001',
      'ip rule add pref 99 from 10.10.4.10/32 lookup 1002',
      'ip rule add pref 99 from 10.10.5.10/32 lookup 1003',
      'ip -6 rule add pref 99 from 2001:db8:16::10/128 lookup 1001',
      'ip -6 rule add pref 99 from 2001:db8:4::10/128 lookup 1002',
    ]);
  });
});
