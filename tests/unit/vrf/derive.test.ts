import { parseEngineConfig, formatProblem } from '../../../src/vrf/config.js';
import { deriveDesired } from '../../../src/vrf/derive.js';
import { simulate } from '../../../src/vrf/model.js';
import { plan } from '../../../src/vrf/plan.js';
import { renderCommand } from '../../../src/vrf/render.js';
import {
  EMPTY_LEDGER,
  type Bindings,
  type DeriveResult,
  type DesiredState,
  type EngineInputs,
  type Ledger,
  type ObservedHost,
} from '../../../src/vrf/types.js';
import {
  addr,
  bond,
  bridge,
  connected,
  host,
  iface,
  link,
  mkRoute,
  mkRule,
  nic,
  port,
  route,
  routeGet,
  rule,
  stockRules,
  vlan,
  vrf,
  type HostPart,
} from './builders.js';

// A MAAS-deployed node: mgmt on ens3 (the default binding), public on a Juju bridge
// br-ens4, storage on bond0 (MAAS source routing, table 2), storage-cluster on a VLAN.
const maasParts: HostPart[] = [
  nic('ens3'),
  addr('ens3', '10.0.0.5/24'),
  connected('ens3', '10.0.0.5/24'),
  route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', protocol: 'static' }),
  bridge('br-ens4'),
  port('ens4', 'br-ens4'),
  addr('br-ens4', '172.16.0.5/24'),
  connected('br-ens4', '172.16.0.5/24'),
  route({ dst: 'default', gateway: '172.16.0.1', dev: 'br-ens4', metric: 200, protocol: 'dhcp' }),
  bond('bond0'),
  port('ens5', 'bond0', 'bond'),
  port('ens6', 'bond0', 'bond'),
  addr('bond0', '10.10.4.23/24'),
  connected('bond0', '10.10.4.23/24'),
  rule({ priority: 100, src: '10.10.4.0/24', table: 2 }),
  route({ dst: 'default', gateway: '10.10.4.1', dev: 'bond0', table: 2 }),
  route({ dst: '10.10.4.0/24', dev: 'bond0', table: 2 }),
  nic('ens7'),
  vlan('ens7.30', 'ens7'),
  addr('ens7.30', '10.10.5.23/24'),
  addr('ens7.30', '2001:db8:5::23/64'),
  addr('ens7.30', 'fe80::5054:ff:fe00:1/64', 'link'),
  connected('ens7.30', '10.10.5.23/24'),
  route({ dst: 'default', family: 'inet6', gateway: 'fe80::1', dev: 'ens7.30', protocol: 'ra', metric: 1024 }),
  ...stockRules('inet'),
  ...stockRules('inet6'),
  routeGet('10.0.0.100', 'ens3', '10.0.0.1'),
];

const maasBindings: Bindings = {
  'juju-info': [iface('ens3', '10.0.0.5/24')],
  mgmt: [iface('ens3', '10.0.0.5/24')],
  public: [iface('br-ens4', '172.16.0.5/24')],
  storage: [iface('bond0', '10.10.4.23/24')],
  'storage-cluster': [iface('ens7.30', '10.10.5.23/24')],
};

// storage-cluster's IPv4 gateway: only netplan knows it (its IPv6 one comes from router advertisements).
const maasNetplan = {
  '50-cloud-init.yaml':
    'network:\n  version: 2\n  vlans:\n    ens7.30:\n      id: 30\n      link: ens7\n      gateway4: 10.10.5.1\n',
};

function inputs(raw: Record<string, unknown> = {}, over: Partial<EngineInputs> = {}): EngineInputs {
  const c = parseEngineConfig(raw);
  if (!c.ok) throw new Error(c.problems.map(formatProblem).join('; '));
  return { config: c.config, bindings: maasBindings, controllers: ['10.0.0.100'], netplan: maasNetplan, ...over };
}

function desired(r: DeriveResult): DesiredState {
  if (!r.ok) throw new Error(`expected ok: ${r.problems.map(formatProblem).join('; ')}`);
  return r.desired;
}
function problems(r: DeriveResult): string[] {
  if (r.ok) throw new Error('expected problems');
  return r.problems.map(formatProblem);
}
const warnings = (r: DeriveResult): string[] => r.warnings.map(formatProblem);
const vrfOf = (d: DesiredState, name: string) => {
  const v = d.vrfs.find((x) => x.name === name);
  if (!v) throw new Error(`no VRF ${name} in ${d.vrfs.map((x) => x.name).join(',')}`);
  return v;
};

describe('automatic mode on a MAAS node', () => {
  const r = deriveDesired(inputs(), host(maasParts), EMPTY_LEDGER);
  const d = desired(r);

  it('builds one VRF per extra-binding that differs from the default binding', () => {
    expect(d.vrfs.map((v) => [v.name, v.binding, v.members, v.table, v.tableSource])).toEqual([
      ['public', 'public', ['br-ens4'], 1001, 'auto'],
      ['storage', 'storage', ['bond0'], 1002, 'auto'],
      ['storage-cluster', 'storage-cluster', ['ens7.30'], 1003, 'auto'],
    ]);
    expect(d.inMain).toEqual([{ binding: 'mgmt', reason: 'same-as-default', interfaces: ['ens3'] }]);
  });
  it('enslaves the L3 device, never a bridge port or bond slave', () => {
    const all = d.vrfs.flatMap((v) => v.members);
    for (const p of ['ens4', 'ens5', 'ens6', 'ens7']) expect(all).not.toContain(p);
  });
  it('collects every global address of the members (not link-local)', () => {
    expect(vrfOf(d, 'storage-cluster').addresses).toEqual([
      { dev: 'ens7.30', family: 'inet', address: '10.10.5.23', prefixlen: 24, subnet: '10.10.5.0/24' },
      { dev: 'ens7.30', family: 'inet6', address: '2001:db8:5::23', prefixlen: 64, subnet: '2001:db8:5::/64' },
    ]);
  });
  it('derives each gateway with its source', () => {
    expect(vrfOf(d, 'public').gateways).toEqual({
      inet: {
        family: 'inet',
        address: '172.16.0.1',
        source: 'main-route',
        detail: 'main table default via 172.16.0.1 dev br-ens4',
      },
    });
    expect(vrfOf(d, 'storage').gateways).toEqual({
      inet: {
        family: 'inet',
        address: '10.10.4.1',
        source: 'policy-table',
        detail: 'table 2 default via 10.10.4.1 (rule from 10.10.4.0/24 lookup 2 pref 100)',
      },
    });
    expect(vrfOf(d, 'storage-cluster').gateways).toEqual({
      inet: {
        family: 'inet',
        address: '10.10.5.1',
        source: 'netplan',
        detail: '/etc/netplan/50-cloud-init.yaml: vlans.ens7.30.gateway4',
      },
      // A link-local gateway names no link: derive says which member it was learnt on.
      inet6: {
        family: 'inet6',
        address: 'fe80::1',
        source: 'ra',
        detail: 'router advertisement on ens7.30',
        dev: 'ens7.30',
      },
    });
  });
  it('warns of nothing when every family of every space has a gateway', () => {
    expect(warnings(r)).toEqual([]);
  });
  it('a space with a family whose gateway is unknown: warned, naming VRF, subnet and remedy, and left in main', () => {
    const held = deriveDesired(inputs({}, { netplan: {} }), host(maasParts), EMPTY_LEDGER);
    expect(warnings(held)).toEqual(['storage-cluster: no gateway found for 10.10.5.0/24; set config gateways']);
    const hd = desired(held);
    expect(hd.vrfs.map((v) => v.name)).toEqual(['public', 'storage']);
    expect(hd.inMain).toContainEqual({ binding: 'storage-cluster', reason: 'no-gateway', interfaces: ['ens7.30'] });
  });
  it('a space built before whose gateway is now unknown stays exactly as the last apply left it', () => {
    const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { public: 1001, storage: 1002, 'storage-cluster': 1003 } };
    const held = deriveDesired(inputs({}, { netplan: {} }), host(maasParts), ledger, d);
    expect(desired(held).vrfs.find((v) => v.name === 'storage-cluster')).toEqual(vrfOf(d, 'storage-cluster'));
    expect(warnings(held)).toEqual(['storage-cluster: no gateway found for 10.10.5.0/24; set config gateways']);
  });
  it('a space built before whose gateway is now unknown is not kept when another space binds its member now', () => {
    const h = host([...maasParts, nic('ens8'), addr('ens8', '10.10.8.23/24')]);
    const first = plan(d, h, EMPTY_LEDGER);
    const built = simulate(h, first.steps);
    // storage-cluster moved to ens8 (no gateway known there); tenant is bound to ens7.30 now.
    const moved = {
      ...maasBindings,
      'storage-cluster': [iface('ens8', '10.10.8.23/24')],
      tenant: [iface('ens7.30', '10.10.5.23/24')],
    };
    const r = deriveDesired(inputs({}, { bindings: moved }), built, first.ledger, d);
    const now = desired(r);
    // Kept as before, it would hold ens7.30 in storage-cluster while tenant wants it: a member of two
    // VRFs, which the planner refuses, so nothing at all could be applied.
    expect(now.vrfs.map((v) => [v.name, v.members])).toEqual([
      ['public', ['br-ens4']],
      ['storage', ['bond0']],
      ['tenant', ['ens7.30']],
    ]);
    expect(now.inMain).toContainEqual({ binding: 'storage-cluster', reason: 'no-gateway', interfaces: ['ens8'] });
    expect(r.ok && r.held.map((x) => [x.vrf, x.keptAsBefore])).toEqual([['storage-cluster', false]]);
    expect(warnings(r)).toEqual([
      'storage-cluster: no gateway found for 10.10.8.0/24; set config gateways',
      'storage-cluster: the VRF built for storage-cluster is not kept: another space binds ens7.30 (tenant) now',
    ]);
    // ens7.30 goes straight to tenant; storage-cluster's VRF, no longer wanted, goes; ens8 is not touched.
    const c = plan(now, built, first.ledger).steps.map(renderCommand);
    expect(c).toContain('ip link set dev ens7.30 master tenant');
    expect(c).toContain('ip link del dev storage-cluster');
    expect(c.filter((x) => x.includes('ens8') || x.includes('10.10.8.'))).toEqual([]);
  });
  it('carries the switches through', () => {
    expect([
      d.options.strict,
      d.options.moveLocalRule,
      d.options.preserveReachability,
      d.options.nonlocalBind,
      d.options.l3mdevAccept,
    ]).toEqual([true, true, true, true, true]);
  });
  it('is deterministic: shuffled host and bindings give the same result', () => {
    const reversed = host([...maasParts].reverse());
    const b = Object.fromEntries(Object.entries(maasBindings).reverse());
    expect(deriveDesired(inputs({}, { bindings: b }), reversed, EMPTY_LEDGER)).toEqual(r);
  });
});

describe('members', () => {
  it('is the device that holds the address, even when network-get names a port', () => {
    const d = desired(
      deriveDesired(
        inputs({}, { bindings: { ...maasBindings, public: [iface('ens4', '172.16.0.5/24')] } }),
        host(maasParts),
        EMPTY_LEDGER,
      ),
    );
    expect(vrfOf(d, 'public').members).toEqual(['br-ens4']);
  });
  it('falls back to the named link (walked up to its master) when the address is not on the host', () => {
    const b = { ...maasBindings, public: [iface('ens4', '172.16.9.5/24')] };
    const r = deriveDesired(inputs({}, { bindings: b }), host(maasParts), EMPTY_LEDGER);
    expect(vrfOf(desired(r), 'public').members).toEqual(['br-ens4']);
    // Only the addresses the host really has; the stale one is reported.
    expect(vrfOf(desired(r), 'public').addresses.map((a) => a.address)).toEqual(['172.16.0.5']);
    expect(warnings(r)).toContain(
      'public: binding public: address 172.16.9.5 (ens4) is not on this machine; using the addresses the host has',
    );
  });
  it.each<[string, HostPart[], Bindings, string]>([
    [
      'a binding with no interface on this machine',
      [],
      { ...maasBindings, public: [iface('ens9', '172.30.0.5/24')] },
      'public: binding public has no interface on this machine (network-get reports ens9 (172.30.0.5))',
    ],
    [
      'an address held by a bridge port',
      [addr('ens4', '192.168.7.5/24')],
      { ...maasBindings, public: [iface('ens4', '192.168.7.5/24')] },
      'public: ens4 holds an address of binding public but is a port of br-ens4 (bridge); a port is never enslaved',
    ],
    [
      'a member already in a foreign VRF',
      [vrf('blue', 77), port('ens8', 'blue', 'vrf'), addr('ens8', '192.168.8.5/24')],
      { ...maasBindings, tenant: [iface('ens8', '192.168.8.5/24')] },
      'tenant: ens8 is already in VRF blue, which vrf-host did not create',
    ],
    [
      'the same interface in two VRFs (overlapping, not identical, bindings)',
      [],
      { ...maasBindings, 'storage-cluster': [iface('bond0', '10.10.4.23/24'), iface('ens7.30', '10.10.5.23/24')] },
      'storage-cluster: bond0 would be in both storage and storage-cluster; an interface belongs to at most one VRF (set' +
        ' vrfs to choose one)',
    ],
    [
      'an address on the loopback device',
      [nic('lo'), addr('lo', '192.168.9.9/32')],
      { ...maasBindings, tenant: [iface('lo', '192.168.9.9/32')] },
      'tenant: lo is the loopback device and cannot be a member of tenant',
    ],
    [
      'an address held by two devices',
      [nic('ens8'), addr('ens8', '10.10.4.23/24')],
      maasBindings,
      'storage: address 10.10.4.23 of binding storage is on several devices (bond0, ens8); cannot tell which one to enslave',
    ],
    [
      'a member whose name cannot safely reach ip',
      [nic('eth#1'), addr('eth#1', '192.168.9.9/24')],
      { ...maasBindings, tenant: [iface('eth#1', '192.168.9.9/24')] },
      'tenant: cannot manage interface "eth#1": "eth#1" contains a control character, \'#\', a quote or a backslash',
    ],
  ])('%s is a problem', (_what, extra, b, msg) => {
    const r = deriveDesired(inputs({}, { bindings: b }), host(maasParts, extra), EMPTY_LEDGER);
    expect(problems(r)).toContain(msg);
  });
  it('two roles bound to the same space share one VRF, named after the first role', () => {
    const b = { ...maasBindings, 'storage-cluster': [iface('bond0', '10.10.4.23/24')] };
    const r = deriveDesired(inputs({}, { bindings: b }), host(maasParts), EMPTY_LEDGER);
    expect(desired(r).vrfs.map((v) => [v.name, v.members])).toEqual([
      ['public', ['br-ens4']],
      ['storage', ['bond0']],
    ]);
    expect(warnings(r)).toContain(
      'storage-cluster: binding storage-cluster is on the same interfaces as storage (bond0); it shares the VRF storage',
    );
  });
  it("the second role's gateways entry counts for the shared VRF: honoured, or a problem when it differs, never 'unused'", () => {
    const b = { ...maasBindings, 'storage-cluster': [iface('bond0', '10.10.4.23/24')] };
    const same = deriveDesired(
      inputs({ gateways: 'storage-cluster=10.10.4.1' }, { bindings: b }),
      host(maasParts),
      EMPTY_LEDGER,
    );
    expect(same.ok).toBe(true);
    expect(warnings(same).filter((w) => /unused|matches no/.test(w))).toEqual([]);
    const differs = deriveDesired(
      inputs({ gateways: 'storage=10.10.4.1 storage-cluster=10.10.4.254' }, { bindings: b }),
      host(maasParts),
      EMPTY_LEDGER,
    );
    expect(problems(differs)).toEqual([
      'gateways: entry "storage-cluster=10.10.4.254": binding storage-cluster is on the same interfaces as storage and' +
        ' shares the VRF storage, whose IPv4 gateway is 10.10.4.1 (config gateways: storage=10.10.4.1); give both the same gateway',
    ]);
  });
  it('a partly missing binding is a warning', () => {
    const b = { ...maasBindings, public: [iface('br-ens4', '172.16.0.5/24'), iface('ens9', '172.30.0.5/24')] };
    const r = deriveDesired(inputs({}, { bindings: b }), host(maasParts), EMPTY_LEDGER);
    expect(desired(r).vrfs.map((v) => v.name)).toContain('public');
    expect(warnings(r)).toContain('public: binding public: ens9 (172.30.0.5) not on this machine; ignored');
  });
});

describe('exclude-interfaces', () => {
  it('leaves an excluded member in main and reports it', () => {
    const d = desired(deriveDesired(inputs({ 'exclude-interfaces': 'br-ens4' }), host(maasParts), EMPTY_LEDGER));
    expect(d.vrfs.map((v) => v.name)).toEqual(['storage', 'storage-cluster']);
    expect(d.inMain).toContainEqual({ binding: 'public', reason: 'excluded', interfaces: ['br-ens4'] });
  });
  it('an excluded interface that does not exist is a warning only', () => {
    const r = deriveDesired(inputs({ 'exclude-interfaces': 'ens9' }), host(maasParts), EMPTY_LEDGER);
    expect(desired(r).vrfs).toHaveLength(3);
    expect(warnings(r)).toContain('exclude-interfaces: ens9 does not exist on this machine');
  });
});

describe('the controller path is never enslaved', () => {
  it.each<[string, HostPart[], string, string]>([
    ['via the member itself', [routeGet('10.0.0.100', 'bond0', '10.10.4.1')], 'storage', 'bond0'],
    ['via a port of the member bridge', [routeGet('10.0.0.100', 'ens4', '172.16.0.1')], 'public', 'br-ens4'],
    ['via a VLAN whose lower device is the member', [routeGet('10.0.0.100', 'ens7.30')], 'tenant', 'ens7'],
  ])('%s', (_w, extra, binding, member) => {
    const b = { ...maasBindings, tenant: [iface('ens7', '192.168.70.5/24')] };
    const parts = [...maasParts.filter((p) => p.part !== 'routeGet'), addr('ens7', '192.168.70.5/24'), ...extra];
    const d = desired(deriveDesired(inputs({}, { bindings: b }), host(parts), EMPTY_LEDGER));
    expect(d.vrfs.flatMap((v) => v.members)).not.toContain(member);
    expect(d.inMain).toContainEqual({ binding, reason: 'controller-path', interfaces: [member] });
  });
  it('via a VRF: its members stay out', () => {
    const parts = [
      ...maasParts.filter((p) => p.part !== 'routeGet' && !(p.part === 'link' && p.value.name === 'bond0')),
      link_vrf_member(),
      vrf('storage', 1002),
      routeGet('10.0.0.100', 'storage'),
    ];
    const d = desired(deriveDesired(inputs(), host(parts), { ...EMPTY_LEDGER, vrfs: { storage: 1002 } }));
    expect(d.vrfs.map((v) => v.name)).toEqual(['public', 'storage-cluster']);
    expect(d.inMain).toContainEqual({ binding: 'storage', reason: 'controller-path', interfaces: ['bond0'] });
  });
  it('in explicit mode too: reported and warned, not applied', () => {
    const r = deriveDesired(
      inputs({ vrfs: 'stor: {binding: storage}\npub: {binding: public}' }),
      host(
        maasParts.filter((p) => p.part !== 'routeGet'),
        routeGet('10.0.0.100', 'bond0', '10.10.4.1'),
      ),
      EMPTY_LEDGER,
    );
    const d = desired(r);
    expect(d.vrfs.map((v) => v.name)).toEqual(['pub']);
    expect(d.inMain).toEqual([{ binding: 'storage', reason: 'controller-path', interfaces: ['bond0'] }]);
    expect(warnings(r)).toContain(
      'vrfs: stor: binding storage carries the path to the controller (bond0 → 10.0.0.100); left in the main table',
    );
  });
  it('a controller without an observed route lookup is a problem (fail safe)', () => {
    const r = deriveDesired(inputs({}, { controllers: ['10.0.0.100', '10.0.0.101'] }), host(maasParts), EMPTY_LEDGER);
    expect(problems(r)).toEqual([
      'controllers: no route lookup was observed for 10.0.0.101; the controller path cannot be protected',
    ]);
  });
  it('a controller ip route get finds no route to: nothing is applied, and the problem says why', () => {
    const parts = [...maasParts.filter((p) => p.part !== 'routeGet'), routeGet('10.0.0.100', null)];
    expect(problems(deriveDesired(inputs(), host(parts), EMPTY_LEDGER))).toEqual([
      'controllers: ip route get 10.0.0.100 found no route to the controller; the controller path cannot be protected, so nothing is applied until it can',
    ]);
  });
  it('through a bridge over a VLAN of a bond: the bond under it stays in main (never cycled)', () => {
    // mgmt on br-mgmt over bond0.105, storage untagged on bond0 (the host).
    const parts: HostPart[] = [
      nic('ens3'),
      bond('bond0'),
      port('ens3', 'bond0', 'bond'),
      link('bond0.105', { kind: 'vlan', lower: 'bond0', master: 'br-mgmt', slaveKind: 'bridge' }),
      bridge('br-mgmt'),
      addr('br-mgmt', '10.0.0.5/24'),
      addr('bond0', '10.10.4.23/24'),
      route({ dst: 'default', gateway: '10.10.4.1', dev: 'bond0' }),
      routeGet('10.0.0.100', 'br-mgmt', '10.0.0.1'),
    ];
    const b: Bindings = { 'juju-info': [iface('br-mgmt', '10.0.0.5/24')], storage: [iface('bond0', '10.10.4.23/24')] };
    const d = desired(deriveDesired(inputs({}, { bindings: b, netplan: {} }), host(parts), EMPTY_LEDGER));
    expect(d.vrfs).toEqual([]);
    expect(d.inMain).toEqual([{ binding: 'storage', reason: 'controller-path', interfaces: ['bond0'] }]);
  });
});

function link_vrf_member(): HostPart {
  return link('bond0', { ifindex: 900, kind: 'bond', slaveKind: 'vrf', master: 'storage' });
}

describe('explicit mode', () => {
  it('builds the configured VRFs with configured tables and gateways', () => {
    const raw = {
      vrfs:
        'storacc: {binding: storage, table: 20, gateway: 10.10.4.254}\nstorrepl:\n  binding: storage-cluster\n ' +
        ' gateway: [10.10.5.1, 2001:db8:5::1]\n  routes: [{to: 10.30.0.0/16, via: 10.10.5.254, metric: 100}, {to: 10.31.0.0/16}]',
    };
    const r = deriveDesired(inputs(raw), host(maasParts), EMPTY_LEDGER);
    const d = desired(r);
    expect(d.vrfs.map((v) => [v.name, v.binding, v.table, v.tableSource])).toEqual([
      ['storacc', 'storage', 20, 'config'],
      ['storrepl', 'storage-cluster', 1001, 'auto'],
    ]);
    expect(vrfOf(d, 'storacc').gateways.inet).toEqual({
      family: 'inet',
      address: '10.10.4.254',
      source: 'config',
      detail: 'config vrfs: storacc.gateway',
    });
    expect(vrfOf(d, 'storrepl').gateways.inet6?.address).toBe('2001:db8:5::1');
    expect(vrfOf(d, 'storrepl').routes).toEqual([
      { to: '10.30.0.0/16', via: '10.10.5.254', metric: 100 },
      { to: '10.31.0.0/16', via: '10.10.5.1' },
    ]);
    expect(r.warnings).toEqual([]);
  });
  it.each<[string, Record<string, unknown>, HostPart[], string]>([
    [
      'an unknown binding',
      { vrfs: 'x: {binding: nosuch}' },
      [],
      'vrfs: x.binding "nosuch" is not a binding of this unit (bindings: juju-info, mgmt, public, storage, storage-cluster)',
    ],
    [
      'a name colliding with a link that is not a VRF',
      { vrfs: 'ens3x: {binding: public}' },
      [nic('ens3x')],
      'vrfs: ens3x: a link named ens3x already exists and is a network interface, not a VRF',
    ],
    [
      'a name colliding with a bridge',
      { vrfs: 'br0: {binding: public}' },
      [bridge('br0')],
      'vrfs: br0: a link named br0 already exists and is a bridge device, not a VRF',
    ],
    [
      'a name of a VRF vrf-host did not create',
      { vrfs: 'blue: {binding: public}' },
      [vrf('blue', 77)],
      'vrfs: blue: a VRF named blue already exists that vrf-host did not create; remove it or choose another name',
    ],
    [
      'a foreign-owned table (MAAS table 2)',
      { vrfs: 'stor: {binding: storage, table: 2}' },
      [],
      'vrfs: stor.table 2 is in use on this host by routes or rules that vrf-host does not own',
    ],
    [
      'a gateway outside the member subnets',
      { vrfs: 'stor: {binding: storage, gateway: 10.10.9.1}' },
      [],
      "vrfs: stor.gateway 10.10.9.1 is outside stor's subnets (10.10.4.0/24)",
    ],
    [
      'a gateway of the wrong family',
      { vrfs: 'stor: {binding: storage, gateway: "2001:db8::1"}' },
      [],
      'vrfs: stor.gateway 2001:db8::1 is IPv6 but stor has no IPv6 address',
    ],
    [
      'a gateways entry outside the subnets',
      { gateways: 'public=172.17.0.1' },
      [],
      'gateways: entry "public=172.17.0.1": 172.17.0.1 is outside public\'s subnets (172.16.0.0/24)',
    ],
    [
      'a gateways entry of the wrong family',
      { gateways: 'public=2001:db8::1' },
      [],
      'gateways: entry "public=2001:db8::1": 2001:db8::1 is IPv6 but public has no IPv6 address',
    ],
    [
      'a route with no via and no gateway',
      { vrfs: 'sc: {binding: storage-cluster, routes: [{to: 10.40.0.0/16}]}' },
      [],
      'vrfs: sc.routes[0] 10.40.0.0/16 has no via and sc has no IPv4 gateway',
    ],
    [
      'a route via outside the subnets',
      { 'space-routes': 'storage=10.40.0.0/16@10.99.0.1' },
      [],
      'space-routes: entry "storage=10.40.0.0/16@10.99.0.1": via 10.99.0.1 is outside storage\'s subnets (10.10.4.0/24)',
    ],
    [
      'a route into a connected subnet',
      { 'space-routes': 'storage=10.10.4.128/25' },
      [],
      'space-routes: entry "storage=10.10.4.128/25": 10.10.4.128/25 lies within storage\'s connected subnet' +
        ' 10.10.4.0/24; only remote prefixes can be routed',
    ],
    [
      'a space-route with no gateway',
      { 'space-routes': 'storage-cluster=10.40.0.0/16' },
      [],
      'space-routes: entry "storage-cluster=10.40.0.0/16": 10.40.0.0/16 has no via and storage-cluster has no IPv4 gateway',
    ],
    [
      'one prefix routed twice, via two next hops',
      {
        vrfs: 'st: {binding: storage, routes: [{to: 10.40.0.0/16, via: 10.10.4.1}]}',
        'space-routes': 'storage=10.40.0.0/16@10.10.4.2',
      },
      [],
      'space-routes: entry "storage=10.40.0.0/16@10.10.4.2": 10.40.0.0/16 is already routed for st via 10.10.4.1',
    ],
  ])('%s is a problem', (_w, raw, extra, msg) => {
    const i = inputs(raw, { netplan: {} }); // storage-cluster without an IPv4 gateway
    expect(problems(deriveDesired(i, host(maasParts, extra), EMPTY_LEDGER))).toContain(msg);
  });

  it('a link-local next hop on a VRF with one member and no IPv6 gateway is kept', () => {
    const d = desired(
      deriveDesired(
        inputs({ vrfs: 'st: {binding: storage, routes: [{to: "2001:db8:99::/48", via: "fe80::1"}]}' }),
        host(maasParts),
        EMPTY_LEDGER,
      ),
    );
    expect(vrfOf(d, 'st').gateways.inet6).toBeUndefined();
    expect(vrfOf(d, 'st').routes).toEqual([{ to: '2001:db8:99::/48', via: 'fe80::1' }]);
  });

  it('the same interface in two explicit VRFs is a problem naming both', () => {
    const b = { ...maasBindings, 'storage-cluster': [iface('bond0', '10.10.4.23/24')] };
    const r = deriveDesired(
      inputs({ vrfs: 'a: {binding: storage}\nb: {binding: storage-cluster}' }, { bindings: b }),
      host(maasParts),
      EMPTY_LEDGER,
    );
    expect(problems(r)).toEqual(['vrfs: b: bond0 would be in both a and b; an interface belongs to at most one VRF']);
  });
  it('a vrf-host VRF with the same name is ours (no collision)', () => {
    const d = desired(
      deriveDesired(inputs(), host(maasParts, vrf('public', 1001)), { ...EMPTY_LEDGER, vrfs: { public: 1001 } }),
    );
    expect(vrfOf(d, 'public').tableSource).toBe('persisted');
  });
});

describe('tables', () => {
  it('auto ids skip tables used by foreign routes and rules (MAAS 1..N)', () => {
    const extra = [
      rule({ priority: 100, src: '10.10.9.0/24', table: 1 }),
      route({ dst: 'default', gateway: '10.10.9.1', table: 3 }),
    ];
    const d = desired(deriveDesired(inputs({ 'table-range': '1-10' }), host(maasParts, extra), EMPTY_LEDGER));
    expect(d.vrfs.map((v) => [v.name, v.table])).toEqual([
      ['public', 4],
      ['storage', 5],
      ['storage-cluster', 6],
    ]);
  });
  it('persisted ids are kept, never renumbered, and others fill around them', () => {
    const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { storage: 1001 } };
    const d = desired(deriveDesired(inputs(), host(maasParts, vrf('storage', 1001)), ledger));
    expect(d.vrfs.map((v) => [v.name, v.table, v.tableSource])).toEqual([
      ['public', 1002, 'auto'],
      ['storage', 1001, 'persisted'],
      ['storage-cluster', 1003, 'auto'],
    ]);
  });
  it('a table held in the ledger by a VRF no longer desired is not reused automatically', () => {
    const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { old: 1001 } };
    const d = desired(deriveDesired(inputs(), host(maasParts), ledger));
    expect(d.vrfs.map((v) => v.table)).toEqual([1002, 1003, 1004]);
  });
  it("a configured table equal to another VRF's persisted table is a duplicate", () => {
    const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { pub: 1001 } };
    const r = deriveDesired(
      inputs({ vrfs: 'pub: {binding: public}\nstor: {binding: storage, table: 1001}' }),
      host(maasParts, vrf('pub', 1001)),
      ledger,
    );
    expect(problems(r)).toEqual(['vrfs: pub.table 1001 is already the table of stor']);
  });
  it('an exhausted range is a problem', () => {
    expect(problems(deriveDesired(inputs({ 'table-range': '1001-1002' }), host(maasParts), EMPTY_LEDGER))).toEqual([
      'table-range: no free table in 1001-1002 for storage-cluster',
    ]);
  });
});

describe('gateway derivation', () => {
  // A small host: public on ens4 (172.16.0.0/24 and 2001:db8:16::/64), mgmt on ens3.
  const base: HostPart[] = [
    nic('ens3'),
    addr('ens3', '10.0.0.5/24'),
    route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3' }),
    nic('ens4'),
    addr('ens4', '172.16.0.5/24'),
    addr('ens4', '2001:db8:16::5/64'),
    routeGet('10.0.0.100', 'ens3', '10.0.0.1'),
  ];
  const b: Bindings = { 'juju-info': [iface('ens3', '10.0.0.5/24')], public: [iface('ens4', '172.16.0.5/24')] };
  const run = (
    raw: Record<string, unknown>,
    extra: HostPart[] = [],
    netplan: Record<string, string> = {},
    ledger: Ledger = EMPTY_LEDGER,
    parts = base,
  ) => deriveDesired(inputs(raw, { bindings: b, netplan }), host(parts, extra), ledger);
  // A space with a family that has no gateway is held back (not built): what was found is in `held`.
  const gw = (r: DeriveResult, fam: 'inet' | 'inet6' = 'inet') => {
    const d = desired(r);
    const held = r.ok ? r.held.find((h) => h.vrf === 'public' || h.vrf === 'pub') : undefined;
    const g = (held ?? vrfOf(d, 'public')).gateways[fam];
    return g ? [g.address, g.source, g.detail] : null;
  };

  it.each<[string, Record<string, unknown>, string]>([
    ['binding name', { gateways: 'public=172.16.0.254' }, 'config gateways: public=172.16.0.254'],
    [
      'CIDR of a member subnet',
      { gateways: '172.16.0.0/24=172.16.0.254' },
      'config gateways: 172.16.0.0/24=172.16.0.254',
    ],
    [
      'VRF name (explicit mode)',
      { vrfs: 'pub: {binding: public}', gateways: 'pub=172.16.0.254' },
      'config gateways: pub=172.16.0.254',
    ],
  ])('config override by %s wins over the host', (_w, raw, detail) => {
    const r = run(raw, [route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 100 })]);
    const name = raw.vrfs ? 'pub' : 'public';
    const held = r.ok ? r.held.find((h) => h.vrf === name) : undefined; // its IPv6 subnet has no gateway
    expect(held?.gateways.inet).toEqual({ family: 'inet', address: '172.16.0.254', source: 'config', detail });
  });
  it('the vrfs entry gateway wins over gateways, which is then warned as ignored', () => {
    const r = run({ vrfs: 'pub: {binding: public, gateway: 172.16.0.253}', gateways: 'public=172.16.0.254' });
    expect(gw(r)?.[0]).toBe('172.16.0.253');
    expect(warnings(r)).toContain(
      'gateways: entry "public=172.16.0.254" ignored: pub already has 172.16.0.253 from config vrfs: pub.gateway',
    );
  });
  it('main-route: a main default via the member', () => {
    expect(gw(run({}, [route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 100 })]))).toEqual([
      '172.16.0.1',
      'main-route',
      'main table default via 172.16.0.1 dev ens4',
    ]);
  });
  it('main-route: a main default whose gateway lies in a member subnet (no dev)', () => {
    expect(gw(run({}, [route({ dst: 'default', gateway: '172.16.0.1', metric: 100 })]))).toEqual([
      '172.16.0.1',
      'main-route',
      'main table default via 172.16.0.1',
    ]);
  });
  it('main-route: prefers the route through the member, then the lowest metric', () => {
    const extra = [
      route({ dst: 'default', gateway: '172.16.0.3', dev: 'ens4', metric: 300 }),
      route({ dst: 'default', gateway: '172.16.0.2', dev: 'ens4', metric: 200 }),
    ];
    expect(gw(run({}, extra))?.[0]).toBe('172.16.0.2');
  });
  it('main-route ignores the default through another network', () => {
    expect(gw(run({}))).toBeNull();
  });
  it('policy-table: the MAAS layout (from SUBNET lookup N, table N default)', () => {
    const extra = [
      rule({ priority: 100, src: '10.0.0.0/24', table: 1 }),
      route({ dst: 'default', gateway: '10.0.0.1', dev: 'ens3', table: 1 }),
      rule({ priority: 100, src: '172.16.0.0/24', table: 2 }),
      route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: 2 }),
      route({ dst: '172.16.0.0/24', dev: 'ens4', table: 2 }),
    ];
    expect(gw(run({}, extra))).toEqual([
      '172.16.0.1',
      'policy-table',
      'table 2 default via 172.16.0.1 (rule from 172.16.0.0/24 lookup 2 pref 100)',
    ]);
  });
  it('policy-table: a per-address rule counts too', () => {
    const extra = [
      rule({ priority: 100, src: '172.16.0.5/32', table: 7 }),
      route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: 7 }),
    ];
    expect(gw(run({}, extra))?.[1]).toBe('policy-table');
  });
  it('policy-table: rules narrowed by dst, fwmark or iif are not a space default', () => {
    const extra = [
      rule({ priority: 100, src: '172.16.0.0/24', dst: '10.9.0.0/16', table: 2 }),
      rule({ priority: 101, src: '172.16.0.0/24', fwmark: '0x1', table: 3 }),
      rule({ priority: 102, src: '172.16.0.0/24', iif: 'ens3', table: 4 }),
      ...[2, 3, 4].map((t) => route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: t })),
    ];
    expect(gw(run({}, extra))).toBeNull();
  });
  it('policy-table: a rule whose table has no default is skipped', () => {
    const extra = [
      rule({ priority: 100, src: '172.16.0.0/24', table: 2 }),
      route({ dst: '172.16.0.0/24', dev: 'ens4', table: 2 }),
    ];
    expect(gw(run({}, extra))).toBeNull();
  });

  const cloudInit = `# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
network:
    ethernets:
        ens3:
            addresses:
            - 10.0.0.5/24
            match:
                macaddress: 52:54:00:12:34:56
            mtu: 1500
            nameservers:
                addresses:
                - 10.0.0.2
                search:
                - maas
            set-name: ens3
        ens4:
            addresses:
            - 172.16.0.5/24
            - 2001:db8:16::5/64
            match:
                macaddress: 52:54:00:12:34:57
            mtu: 1500
            routes:
            -   to: default
                via: 172.16.0.1
                metric: 200
            -   to: ::/0
                via: 2001:db8:16::1
            set-name: ens4
    version: 2
`;
  it('netplan: cloud-init routes to default and ::/0', () => {
    const r = run({}, [], { '50-cloud-init.yaml': cloudInit });
    expect(gw(r)).toEqual(['172.16.0.1', 'netplan', '/etc/netplan/50-cloud-init.yaml: ethernets.ens4.routes[0]']);
    expect(gw(r, 'inet6')).toEqual([
      '2001:db8:16::1',
      'netplan',
      '/etc/netplan/50-cloud-init.yaml: ethernets.ens4.routes[1]',
    ]);
  });

  const maasNetplan = `network:
    bonds:
        bond0:
            addresses:
            - 10.10.4.23/24
            gateway4: 10.10.4.1
            interfaces:
            - ens5
            - ens6
            macaddress: 52:54:00:aa:bb:01
            mtu: 9000
            parameters:
                mode: 802.3ad
                lacp-rate: fast
                mii-monitor-interval: 100
                transmit-hash-policy: layer3+4
    ethernets:
        ens5:
            match:
                macaddress: 52:54:00:aa:bb:01
            mtu: 9000
            set-name: ens5
        ens6:
            match:
                macaddress: 52:54:00:aa:bb:02
            mtu: 9000
            set-name: ens6
        ens7:
            match:
                macaddress: 52:54:00:aa:bb:03
            mtu: 1500
            set-name: ens7
    version: 2
    vlans:
        ens7.30:
            addresses:
            - 10.10.5.23/24
            - 2001:db8:5::23/64
            gateway6: 2001:db8:5::1
            id: 30
            link: ens7
            mtu: 1500
            routes:
            -   table: 3
                to: 0.0.0.0/0
                via: 10.10.5.1
            routing-policy:
            -   from: 10.10.5.0/24
                table: 3
`;
  it('netplan: MAAS-written bonds/vlans with gateway4, gateway6 and table routes', () => {
    const r = deriveDesired(
      inputs({}, { netplan: { '/etc/netplan/50-cloud-init.yaml': maasNetplan } }),
      host(
        maasParts.filter(
          (p) =>
            !(p.part === 'rule' && p.value.table === 2) &&
            !(p.part === 'route' && (p.value.table === 2 || p.value.protocol === 'ra')),
        ),
      ),
      EMPTY_LEDGER,
    );
    const d = desired(r);
    expect(vrfOf(d, 'storage').gateways.inet).toEqual({
      family: 'inet',
      address: '10.10.4.1',
      source: 'netplan',
      detail: '/etc/netplan/50-cloud-init.yaml: bonds.bond0.gateway4',
    });
    expect(vrfOf(d, 'storage-cluster').gateways).toEqual({
      inet: {
        family: 'inet',
        address: '10.10.5.1',
        source: 'netplan',
        detail: '/etc/netplan/50-cloud-init.yaml: vlans.ens7.30.routes[0]',
      },
      inet6: {
        family: 'inet6',
        address: '2001:db8:5::1',
        source: 'netplan',
        detail: '/etc/netplan/50-cloud-init.yaml: vlans.ens7.30.gateway6',
      },
    });
    expect(r.warnings).toEqual([]);
  });
  it('netplan: a later file overrides an earlier one; bad files are warnings', () => {
    const early = 'network:\n  version: 2\n  ethernets:\n    ens4:\n      gateway4: 172.16.0.1\n';
    const late = 'network:\n  version: 2\n  ethernets:\n    ens4:\n      gateway4: 172.16.0.9\n';
    const r = run({}, [], { '50-cloud-init.yaml': early, '90-override.yaml': late, '99-broken.yaml': 'network: [' });
    expect(gw(r)).toEqual(['172.16.0.9', 'netplan', '/etc/netplan/90-override.yaml: ethernets.ens4.gateway4']);
    expect(warnings(r)).toContain(
      'netplan: /etc/netplan/99-broken.yaml: invalid YAML at line 1; file ignored for gateways',
    );
  });
  it('netplan: a gateway outside the member subnets is ignored with a warning', () => {
    const r = run({}, [], { '50.yaml': 'network:\n  ethernets:\n    ens4:\n      gateway4: 192.168.1.1\n' });
    expect(gw(r)).toBeNull();
    expect(warnings(r)).toContain(
      "netplan: /etc/netplan/50.yaml: ethernets.ens4.gateway4: 192.168.1.1 is outside public's subnets (172.16.0.0/24); ignored",
    );
  });
  it('ra: a proto ra default on the member (IPv6 only)', () => {
    const r = run({}, [route({ dst: '::/0', gateway: 'fe80::1', dev: 'ens4', protocol: 'ra', metric: 1024 })]);
    expect(gw(r, 'inet6')).toEqual(['fe80::1', 'ra', 'router advertisement on ens4']);
  });
  it('order: main-route beats policy-table beats netplan beats ra', () => {
    const all = [
      route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 100 }),
      rule({ priority: 100, src: '172.16.0.0/24', table: 2 }),
      route({ dst: 'default', gateway: '172.16.0.2', dev: 'ens4', table: 2 }),
    ];
    const np = { 'a.yaml': 'network:\n  ethernets:\n    ens4:\n      gateway4: 172.16.0.3\n' };
    expect(gw(run({}, all, np))?.[1]).toBe('main-route');
    expect(gw(run({}, all.slice(1), np))?.[1]).toBe('policy-table');
    expect(gw(run({}, [], np))?.[1]).toBe('netplan');
  });
  it('none: a warning naming the VRF, subnets and remedy, per family', () => {
    const r = run({});
    expect(warnings(r)).toEqual([
      'public: no gateway found for 172.16.0.0/24; set config gateways',
      'public: no gateway found for 2001:db8:16::/64; set config gateways',
    ]);
    expect(desired(r).vrfs).toEqual([]);
    expect(r.ok && r.held).toEqual([
      {
        vrf: 'public',
        binding: 'public',
        members: ['ens4'],
        gateways: {},
        missing: ['inet', 'inet6'],
        keptAsBefore: false,
      },
    ]);
  });
  it('none, explicit mode: names the binding too', () => {
    expect(warnings(run({ vrfs: 'pub: {binding: public}' }))[0]).toBe(
      'pub: no gateway found for 172.16.0.0/24 (binding public); set config gateways',
    );
  });

  describe('stable after apply: same gateway and same source on every later run', () => {
    // What the host looks like once vrf-host applied: ens4 in VRF public (table 1001); the kernel
    // flushed routes via ens4 when it was enslaved; the planner put the default into 1001 and
    // recorded what it removed in the ledger.
    const applied = (extra: HostPart[]): HostPart[] => [
      ...base.filter((p) => !(p.part === 'link' && p.value.name === 'ens4')),
      vrf('public', 1001),
      port('ens4', 'public', 'vrf'),
      route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: 1001, protocol: 'boot' }),
      ...extra,
    ];
    it('main-route', () => {
      const before = gw(run({}, [route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 100 })]));
      const ledger: Ledger = {
        ...EMPTY_LEDGER,
        vrfs: { public: 1001 },
        migratedRoutes: [mkRoute({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', metric: 100 })],
      };
      expect(gw(run({}, [], {}, ledger, applied([])))).toEqual(before);
    });
    it('policy-table (the MAAS rule and its table route were migrated)', () => {
      const maas = [mkRule({ priority: 100, src: '172.16.0.0/24', table: 2 })];
      const maasRoute = mkRoute({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: 2 });
      const before = gw(
        run({}, [
          rule({ priority: 100, src: '172.16.0.0/24', table: 2 }),
          route({ dst: 'default', gateway: '172.16.0.1', dev: 'ens4', table: 2 }),
        ]),
      );
      const ledger: Ledger = {
        ...EMPTY_LEDGER,
        vrfs: { public: 1001 },
        migratedRules: maas,
        migratedRoutes: [maasRoute],
      };
      // Our own per-address source rule must not be mistaken for a policy table.
      const ours = rule({ priority: 99, src: '172.16.0.5/32', table: 1001 });
      expect(gw(run({}, [], {}, ledger, applied([ours])))).toEqual(before);
      expect(before?.[1]).toBe('policy-table');
    });
    it('ra (the kernel now installs RA defaults into the VRF table)', () => {
      const before = gw(run({}, [route({ dst: '::/0', gateway: 'fe80::1', dev: 'ens4', protocol: 'ra' })]), 'inet6');
      const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { public: 1001 } };
      const after = gw(
        run(
          {},
          [],
          {},
          ledger,
          applied([route({ dst: '::/0', gateway: 'fe80::1', dev: 'ens4', protocol: 'ra', table: 1001 })]),
        ),
        'inet6',
      );
      expect(after).toEqual(before);
    });
    it("ra remembered in the ledger (the enslave dropped it from main; vrf-host's own default is in the table): still source ra", () => {
      const ra = { dst: '::/0', gateway: 'fe80::1', dev: 'ens4', protocol: 'ra', metric: 1024 };
      const before = gw(run({}, [route(ra)]), 'inet6');
      expect(before).toEqual(['fe80::1', 'ra', 'router advertisement on ens4']);
      const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { public: 1001 }, migratedRoutes: [mkRoute(ra)] };
      const ours = route({ dst: '::/0', gateway: 'fe80::1', dev: 'ens4', table: 1001, protocol: 'boot', metric: 1024 });
      const r = run({}, [], {}, ledger, applied([ours]));
      expect(gw(r, 'inet6')).toEqual(before);
      expect(warnings(r).filter((w) => w.includes('2001:db8:16::/64'))).toEqual([]);
    });
    it("ra: after a router change, the kernel's RA default in the VRF table wins over the remembered one", () => {
      const ledger: Ledger = {
        ...EMPTY_LEDGER,
        vrfs: { public: 1001 },
        migratedRoutes: [mkRoute({ dst: '::/0', gateway: 'fe80::1', dev: 'ens4', protocol: 'ra', metric: 1024 })],
      };
      const now = route({ dst: '::/0', gateway: 'fe80::2', dev: 'ens4', protocol: 'ra', metric: 1024, table: 1001 });
      expect(gw(run({}, [], {}, ledger, applied([now])), 'inet6')).toEqual([
        'fe80::2',
        'ra',
        'router advertisement on ens4',
      ]);
    });
    it('a default vrf-host installed itself is not read back (a removed override does not stick)', () => {
      const ledger: Ledger = { ...EMPTY_LEDGER, vrfs: { public: 1001 } };
      expect(gw(run({}, [], {}, ledger, applied([])))).toBeNull();
    });
  });
});

describe('routes', () => {
  it('space-routes take the VRF gateway of their family unless @VIA is given; keyed by binding or VRF', () => {
    const d = desired(
      deriveDesired(
        inputs({
          'space-routes': 'public=10.50.0.0/16 storage=10.60.0.0/16@10.10.4.254 public=10.51.0.0/16@172.16.0.254',
        }),
        host(maasParts),
        EMPTY_LEDGER,
      ),
    );
    expect(vrfOf(d, 'public').routes).toEqual([
      { to: '10.50.0.0/16', via: '172.16.0.1' },
      { to: '10.51.0.0/16', via: '172.16.0.254' },
    ]);
    expect(vrfOf(d, 'storage').routes).toEqual([{ to: '10.60.0.0/16', via: '10.10.4.254' }]);
  });
  it('keys that match nothing are warned, never silently dropped', () => {
    const r = deriveDesired(
      inputs({ 'space-routes': 'pubic=10.50.0.0/16', gateways: 'mgmt=10.0.0.1 10.99.0.0/24=10.99.0.1' }),
      host(maasParts),
      EMPTY_LEDGER,
    );
    expect(warnings(r)).toEqual(
      expect.arrayContaining([
        'space-routes: entry "pubic=10.50.0.0/16" matches no VRF or binding',
        'gateways: entry "mgmt=10.0.0.1" is unused: mgmt stays in the main table (same-as-default)',
        'gateways: entry "10.99.0.0/24=10.99.0.1" matches no member subnet of any VRF',
      ]),
    );
    const r2 = deriveDesired(inputs({ 'space-routes': 'juju-info=10.50.0.0/16' }), host(maasParts), EMPTY_LEDGER);
    expect(warnings(r2)).toContain('space-routes: entry "juju-info=10.50.0.0/16" is unused: juju-info is not a VRF');
  });
});

describe('kernel prerequisites', () => {
  it('a container without the vrf module is a problem that says to load it on the host', () => {
    const h: ObservedHost = { ...host(maasParts), vrfModule: false, container: true };
    expect(problems(deriveDesired(inputs(), h, EMPTY_LEDGER))).toEqual([
      'kernel: no vrf kernel module: load it on the host (modprobe vrf); a container cannot load modules',
    ]);
  });
  it('a kernel without l3mdev sysctls is a problem naming the version', () => {
    const h = host(maasParts, { part: 'sysctl', key: 'net.ipv4.tcp_l3mdev_accept', value: null });
    expect(problems(deriveDesired(inputs(), h, EMPTY_LEDGER))).toEqual([
      'kernel: net.ipv4.tcp_l3mdev_accept is missing: VRF sockets need Linux 4.5 or newer',
    ]);
  });
  it('nothing to build: no kernel problem', () => {
    const h: ObservedHost = { ...host(maasParts), vrfModule: false, container: true };
    const b = { 'juju-info': maasBindings['juju-info'] ?? [], mgmt: maasBindings.mgmt ?? [] };
    expect(desired(deriveDesired(inputs({}, { bindings: b }), h, EMPTY_LEDGER)).vrfs).toEqual([]);
  });
});
