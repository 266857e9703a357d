import fc from 'fast-check';
import { plan } from '../../../../src/vrf/plan.js';
import { simulate, withKernelRoutes } from '../../../../src/vrf/model.js';
import {
  dropInPath,
  networkdPathProblem,
  NetworkdRenderError,
  renderNetworkd,
} from '../../../../src/vrf/networkd/render.js';
import { renderCommand } from '../../../../src/vrf/render.js';
import type { ObservedHost } from '../../../../src/vrf/types.js';
import { EMPTY_LEDGER, NOTHING_KEPT } from '../../../../src/vrf/types.js';
import { desired, dvrf, FRESH_SYSCTLS, stock } from '../arbitraries.js';
import { addr, host, nic, route, sysctl } from '../builders.js';

const sysctls = Object.entries(FRESH_SYSCTLS).map(([k, v]) => sysctl(k, v));

/** mgmt on ens3 (main default), storage on ens4, public on br-ens5; networkd runs. */
function networkdHost(): ObservedHost {
  return {
    ...withKernelRoutes(
      host(
        nic('ens3'),
        nic('ens4'),
        nic('br-ens5', { kind: 'bridge' }),
        addr('ens3', '10.0.0.10/24'),
        addr('ens4', '10.10.4.10/24'),
        addr('ens4', '2001:db8:4::10/64'),
        addr('br-ens5', '172.16.0.10/24'),
        route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
        stock().map((r) => ({ part: 'rule' as const, value: r })),
        sysctls,
      ),
    ),
    networkdRuns: true,
  };
}

const storage = dvrf('storage', {
  table: 1001,
  members: { ens4: ['10.10.4.10/24', '2001:db8:4::10/64'] },
  gateways: ['10.10.4.1', '2001:db8:4::1'],
  routes: [{ to: '10.30.0.0/16', via: '10.10.4.254', metric: 100 }],
});
const pub = dvrf('public', { table: 1002, members: { 'br-ens5': ['172.16.0.10/24'] }, gateways: ['172.16.0.1'] });

const memberFiles = {
  ens4: '/run/systemd/network/10-netplan-ens4.network',
  'br-ens5': '/run/systemd/network/10-netplan-br-ens5.network',
};
/** ens4 may be bridged by Juju (br-ens5 is a bridge already). */
const bridgeFiles = { ens4: '/run/systemd/network/10-netplan-br-ens4.network' };

describe('renderNetworkd: what networkd is handed is what the planner keeps', () => {
  const d = desired([storage, pub], { strict: false });
  const p = plan(d, networkdHost(), EMPTY_LEDGER);
  const files = renderNetworkd({ desired: d, routes: p.kept.routes, rules: p.kept.rules, memberFiles, bridgeFiles });
  const byPath = Object.fromEntries(files.map((f) => [f.path, f.content]));

  it('one .netdev and one .network per VRF, one drop-in per member, sorted by path', () => {
    expect(files.map((f) => f.path)).toEqual([
      'etc/systemd/network/05-vrf-host-public.netdev',
      'etc/systemd/network/05-vrf-host-public.network',
      'etc/systemd/network/05-vrf-host-storage.netdev',
      'etc/systemd/network/05-vrf-host-storage.network',
      'etc/systemd/network/10-netplan-br-ens4.network.d/50-vrf-host.conf',
      'etc/systemd/network/10-netplan-br-ens5.network.d/50-vrf-host.conf',
      'etc/systemd/network/10-netplan-ens4.network.d/50-vrf-host.conf',
    ]);
  });

  it("the file of the bridge Juju would make of a member gets the member's drop-in, ahead of time", () => {
    expect(byPath['etc/systemd/network/10-netplan-br-ens4.network.d/50-vrf-host.conf']).toBe(
      byPath['etc/systemd/network/10-netplan-ens4.network.d/50-vrf-host.conf'],
    );
  });

  it('the .netdev creates the VRF with its table', () => {
    expect(byPath['etc/systemd/network/05-vrf-host-storage.netdev']).toBe(
      `# Managed by vrf-host; removed when vrf-host is removed. Do not edit: vrf-host rewrites it.

[NetDev]
Name=storage
Kind=vrf

[VRF]
Table=1001
`,
    );
  });

  it("the VRF's .network: every VRF's rules and the moved local lookup, its leaks into main", () => {
    expect(byPath['etc/systemd/network/05-vrf-host-storage.network']).toBe(
      `# Managed by vrf-host; removed when vrf-host is removed. Do not edit: vrf-host rewrites it.

[Match]
Name=storage

[Link]
RequiredForOnline=no

[Network]
IPv6AcceptRA=no
ConfigureWithoutCarrier=yes

[RoutingPolicyRule]
Family=ipv4
Table=local
Priority=32765

[RoutingPolicyRule]
Family=ipv4
To=10.10.4.10/32
Table=1001
Priority=98

[RoutingPolicyRule]
Family=ipv4
From=10.10.4.10/32
Table=local
Priority=98

[RoutingPolicyRule]
Family=ipv4
To=172.16.0.10/32
Table=1002
Priority=98

[RoutingPolicyRule]
Family=ipv4
From=172.16.0.10/32
Table=local
Priority=98

[RoutingPolicyRule]
Family=ipv4
From=10.10.4.10/32
Table=1001
Priority=99

[RoutingPolicyRule]
Family=ipv4
From=172.16.0.10/32
Table=1002
Priority=99

[RoutingPolicyRule]
Family=ipv6
Table=local
Priority=32765

[RoutingPolicyRule]
Family=ipv6
To=2001:db8:4::10/128
Table=1001
Priority=98

[RoutingPolicyRule]
Family=ipv6
From=2001:db8:4::10/128
Table=local
Priority=98

[RoutingPolicyRule]
Family=ipv6
From=2001:db8:4::10/128
Table=1001
Priority=99

[Route]
Destination=10.10.4.0/24
Scope=link
Table=main

[Route]
Destination=2001:db8:4::/64
Table=main

[Route]
Destination=10.30.0.0/16
Scope=link
Table=main
`,
    );
    // The same rules in the other VRF's file: networkd keeps a rule while any link asks for it.
    const rulesOf = (t: string) => t.split('\n\n').filter((s) => s.startsWith('[RoutingPolicyRule]'));
    expect(rulesOf(byPath['etc/systemd/network/05-vrf-host-public.network']!)).toEqual(
      rulesOf(byPath['etc/systemd/network/05-vrf-host-storage.network']!),
    );
  });

  it("a member's drop-in: VRF= and the routes of the VRF's table through it", () => {
    expect(byPath['etc/systemd/network/10-netplan-ens4.network.d/50-vrf-host.conf']).toBe(
      `# Managed by vrf-host; removed when vrf-host is removed. Do not edit: vrf-host rewrites it.

[Network]
VRF=storage

[Route]
Gateway=10.10.4.1
Table=1001

[Route]
Gateway=2001:db8:4::1
Table=1001

[Route]
Destination=10.30.0.0/16
Gateway=10.10.4.254
Metric=100
Table=1001
`,
    );
  });

  it('the ip path adds the same routes and rules as networkd makes them (protocol static)', () => {
    const c = p.steps.map(renderCommand);
    expect(c).toContain('ip route replace 0.0.0.0/0 via 10.10.4.1 dev ens4 proto static table 1001');
    expect(c).toContain('ip rule add pref 99 from 10.10.4.10/32 lookup 1001 protocol static');
    expect(c).toContain('ip rule add pref 32765 lookup 255 protocol static');
    // Without networkd, as before: ip's own defaults.
    const plain = plan(d, { ...networkdHost(), networkdRuns: false }, EMPTY_LEDGER).steps.map(renderCommand);
    expect(plain).toContain('ip route replace 0.0.0.0/0 via 10.10.4.1 dev ens4 table 1001');
    expect(plain).toContain('ip rule add pref 99 from 10.10.4.10/32 lookup 1001');
  });

  it('a converged host keeps the same set (the files do not flap between runs)', () => {
    const after = { ...simulate(networkdHost(), p.steps), networkdRuns: true };
    const again = plan(d, after, p.ledger);
    expect(again.steps).toEqual([]);
    expect(
      renderNetworkd({ desired: d, routes: again.kept.routes, rules: again.kept.rules, memberFiles, bridgeFiles }),
    ).toEqual(files);
  });

  it('strict: the unreachable catch-all goes on the VRF device', () => {
    const ds = desired([pub], { strict: true });
    const ps = plan(ds, networkdHost(), EMPTY_LEDGER);
    const f = renderNetworkd({
      desired: ds,
      routes: ps.kept.routes,
      rules: ps.kept.rules,
      memberFiles,
      bridgeFiles: {},
    });
    expect(f.find((x) => x.path.endsWith('05-vrf-host-public.network'))!.content).toContain(
      '[Route]\nType=unreachable\nDestination=0.0.0.0/0\nMetric=4278198272\nTable=1002\n',
    );
  });
});

describe('renderNetworkd: members networkd does not manage, nothing kept', () => {
  it('a member without a usable network file gets no drop-in; the VRF still gets its files', () => {
    const d = desired([storage], { preserveReachability: false, moveLocalRule: false, strict: false });
    const files = renderNetworkd({ desired: d, ...NOTHING_KEPT, memberFiles: {}, bridgeFiles: {} });
    expect(files.map((f) => f.path)).toEqual([
      'etc/systemd/network/05-vrf-host-storage.netdev',
      'etc/systemd/network/05-vrf-host-storage.network',
    ]);
    expect(files[1]!.content).not.toContain('[RoutingPolicyRule]');
  });

  it('no VRF, no file', () => {
    expect(renderNetworkd({ desired: desired([]), ...NOTHING_KEPT, memberFiles, bridgeFiles })).toEqual([]);
  });
});

describe('networkd paths are validated', () => {
  it('drop-ins go next to plain .network file names only', () => {
    expect(dropInPath('/run/systemd/network/10-netplan-bond0.105.network')).toBe(
      'etc/systemd/network/10-netplan-bond0.105.network.d/50-vrf-host.conf',
    );
    for (const bad of [
      'relative.network',
      '/run/systemd/network/x.netdev',
      '/run/systemd/network/a b.network',
      '/run/systemd/network/-x.network',
      '/etc/systemd/network/05-vrf-host-storage.network',
    ]) {
      expect(() => dropInPath(bad)).toThrow(NetworkdRenderError);
    }
  });

  it('only vrf-host networkd paths pass the step renderer', () => {
    expect(networkdPathProblem('etc/systemd/network/05-vrf-host-storage.netdev')).toBeNull();
    expect(networkdPathProblem('etc/systemd/network/10-netplan-ens4.network.d/50-vrf-host.conf')).toBeNull();
    for (const bad of [
      'etc/netplan/50-cloud-init.yaml',
      'etc/systemd/network/../../passwd',
      'etc/systemd/network/10-netplan-ens4.network.d/99-other.conf',
      'etc/systemd/network/05-vrf-host-Main.netdev',
      '/etc/systemd/network/05-vrf-host-storage.netdev',
    ]) {
      expect(networkdPathProblem(bad)).not.toBeNull();
    }
  });

  it('any VRF name or member the renderer accepts gives only paths the step renderer accepts', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/),
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,30}$/),
        (name, base) => {
          let files;
          try {
            files = renderNetworkd({
              desired: desired([dvrf(name, { table: 1001, members: { ens4: ['10.10.4.10/24'] } })]),
              ...NOTHING_KEPT,
              memberFiles: { ens4: `/run/systemd/network/${base}.network` },
              bridgeFiles: { ens4: `/run/systemd/network/${base}-br.network` },
            });
          } catch (e) {
            expect(e).toBeInstanceOf(NetworkdRenderError);
            return;
          }
          for (const f of files) expect(networkdPathProblem(f.path)).toBeNull();
        },
      ),
    );
  });
});

describe('renderNetworkd: delivery rules', () => {
  it('a `to ADDRESS lookup TABLE` rule is a [RoutingPolicyRule] with To=', () => {
    const d = desired([storage], { preserveReachability: false, moveLocalRule: false, strict: false });
    const files = renderNetworkd({
      desired: d,
      routes: [],
      rules: [{ family: 'inet', priority: 98, dst: '10.10.4.10/32', table: 1001 }],
      memberFiles: {},
      bridgeFiles: {},
    });
    expect(files.find((f) => f.path.endsWith('05-vrf-host-storage.network'))!.content).toContain(
      '[RoutingPolicyRule]\nFamily=ipv4\nTo=10.10.4.10/32\nTable=1001\nPriority=98\n',
    );
  });
});
