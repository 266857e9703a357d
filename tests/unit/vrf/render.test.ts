import { batchFamilyOption, RenderError, renderCommand, renderStep } from '../../../src/vrf/render.js';
import type { Step } from '../../../src/vrf/types.js';

const argv = (s: Step) => {
  const r = renderStep(s);
  if (r.kind !== 'ip') throw new Error('not ip');
  return r.argv;
};

describe('renderStep', () => {
  it.each<[Step, string[]]>([
    [
      { kind: 'vrf-create', name: 'public', table: 1001 },
      ['link', 'add', 'name', 'public', 'type', 'vrf', 'table', '1001'],
    ],
    [{ kind: 'vrf-replace', name: 'public', fromTable: 1001, toTable: 1002 }, ['link', 'del', 'dev', 'public']],
    [{ kind: 'vrf-delete', name: 'storage-cluster' }, ['link', 'del', 'dev', 'storage-cluster']],
    [{ kind: 'link-up', dev: 'bond0.105' }, ['link', 'set', 'dev', 'bond0.105', 'up']],
    [{ kind: 'enslave', dev: 'br-ens4', vrf: 'public' }, ['link', 'set', 'dev', 'br-ens4', 'master', 'public']],
    [{ kind: 'release', dev: 'bond0', vrf: 'storage' }, ['link', 'set', 'dev', 'bond0', 'nomaster']],
    [
      {
        kind: 'route-add',
        route: { family: 'inet', table: 1001, dst: '0.0.0.0/0', type: 'unicast', gateway: '10.0.0.1', dev: 'ens4' },
        why: 'x',
      },
      ['route', 'replace', '0.0.0.0/0', 'via', '10.0.0.1', 'dev', 'ens4', 'table', '1001'],
    ],
    [
      {
        kind: 'route-add',
        route: { family: 'inet6', table: 1001, dst: '::/0', type: 'unreachable', metric: 4278198272 },
        why: 'x',
      },
      ['route', 'replace', 'unreachable', '::/0', 'metric', '4278198272', 'table', '1001'],
    ],
    [
      {
        kind: 'route-add',
        route: {
          family: 'inet',
          table: 254,
          dst: '10.30.0.0/16',
          type: 'unicast',
          gateway: '10.10.5.254',
          dev: 'bond0.105',
          metric: 100,
          protocol: 'static',
          prefsrc: '10.10.5.10',
        },
        why: 'x',
      },
      [
        'route',
        'replace',
        '10.30.0.0/16',
        'via',
        '10.10.5.254',
        'dev',
        'bond0.105',
        'metric',
        '100',
        'proto',
        'static',
        'src',
        '10.10.5.10',
        'table',
        '254',
      ],
    ],
    [
      {
        kind: 'route-del',
        route: {
          family: 'inet6',
          table: 254,
          dst: '2001:db8:4::/64',
          type: 'unicast',
          dev: 'storage',
          metric: 1024,
          protocol: 'boot',
        },
        why: 'x',
      },
      ['route', 'del', '2001:db8:4::/64', 'dev', 'storage', 'metric', '1024', 'table', '254'],
    ],
    [
      { kind: 'rule-add', rule: { family: 'inet', priority: 99, src: '10.0.0.5/32', table: 1001 }, why: 'x' },
      ['rule', 'add', 'pref', '99', 'from', '10.0.0.5/32', 'lookup', '1001'],
    ],
    [
      { kind: 'rule-del', rule: { family: 'inet6', priority: 100, src: '2001:db8:4::/64', table: 2 }, why: 'x' },
      ['-6', 'rule', 'del', 'pref', '100', 'from', '2001:db8:4::/64', 'lookup', '2'],
    ],
    [
      { kind: 'rule-add', rule: { family: 'inet', priority: 32765, table: 255 }, why: 'x' },
      ['rule', 'add', 'pref', '32765', 'lookup', '255'],
    ],
    [
      { kind: 'rule-del', rule: { family: 'inet6', priority: 0, table: 255 }, why: 'x' },
      ['-6', 'rule', 'del', 'pref', '0', 'lookup', '255'],
    ],
    [
      { kind: 'rule-add', rule: { family: 'inet', priority: 1000, table: 0, l3mdev: true }, why: 'x' },
      ['rule', 'add', 'pref', '1000', 'l3mdev'],
    ],
    [
      { kind: 'rule-add', rule: { family: 'inet6', priority: 1000, table: 0, l3mdev: true }, why: 'x' },
      ['-6', 'rule', 'add', 'pref', '1000', 'l3mdev'],
    ],
    // `protocol` on add only (a stock rule given back as the kernel made it); unspec is what a plain add gives.
    [
      {
        kind: 'rule-add',
        rule: { family: 'inet', priority: 1000, table: 0, l3mdev: true, protocol: 'kernel' },
        why: 'x',
      },
      ['rule', 'add', 'pref', '1000', 'l3mdev', 'protocol', 'kernel'],
    ],
    [
      { kind: 'rule-add', rule: { family: 'inet6', priority: 0, table: 255, protocol: 'kernel' }, why: 'x' },
      ['-6', 'rule', 'add', 'pref', '0', 'lookup', '255', 'protocol', 'kernel'],
    ],
    [
      {
        kind: 'rule-add',
        rule: { family: 'inet', priority: 100, src: '10.10.4.0/24', table: 2, protocol: 'unspec' },
        why: 'x',
      },
      ['rule', 'add', 'pref', '100', 'from', '10.10.4.0/24', 'lookup', '2'],
    ],
    [
      {
        kind: 'rule-del',
        rule: { family: 'inet6', priority: 1000, table: 0, l3mdev: true, protocol: 'kernel' },
        why: 'x',
      },
      ['-6', 'rule', 'del', 'pref', '1000', 'l3mdev'],
    ],
  ])('%j', (step, expected) => {
    expect(argv(step)).toEqual(expected);
  });

  it('renders sysctls as writes, and the human command as sysctl -w', () => {
    const s: Step = { kind: 'sysctl', key: 'net.ipv4.tcp_l3mdev_accept', value: '1', why: 'x' };
    expect(renderStep(s)).toEqual({ kind: 'sysctl', key: 'net.ipv4.tcp_l3mdev_accept', value: '1' });
    expect(renderCommand(s)).toBe('sysctl -w net.ipv4.tcp_l3mdev_accept=1');
  });

  it('says which process option a line needs', () => {
    expect(batchFamilyOption(['-6', 'rule', 'show'])).toEqual({ option: '-6', line: ['rule', 'show'] });
    expect(batchFamilyOption(['rule', 'show'])).toEqual({ option: null, line: ['rule', 'show'] });
  });
});

describe('renderStep refuses what ip -batch would misread', () => {
  const route = (over: object): Step => ({
    kind: 'route-add',
    route: { family: 'inet', table: 1001, dst: '10.0.0.0/24', type: 'unicast', dev: 'ens4', ...over },
    why: 'x',
  });
  it.each<[string, Step]>([
    ['a VRF name with a space', { kind: 'vrf-create', name: 'pub lic', table: 1001 }],
    ['a VRF name with #', { kind: 'vrf-create', name: 'pub#', table: 1001 }],
    ['a reserved VRF name', { kind: 'vrf-create', name: 'main', table: 1001 }],
    ['a reserved table for a VRF', { kind: 'vrf-create', name: 'public', table: 254 }],
    ['table 0', { kind: 'vrf-create', name: 'public', table: 0 }],
    ['an interface name with a quote', { kind: 'enslave', dev: "ens4'", vrf: 'public' }],
    ['an interface name too long', { kind: 'link-up', dev: 'a-very-long-interface' }],
    ['an interface starting with -', { kind: 'link-up', dev: '-6' }],
    ['a non-canonical prefix', route({ dst: '10.0.0.1/24' })],
    ['a prefix of the wrong family', route({ dst: '2001:db8::/64' })],
    ['a gateway of the wrong family', route({ gateway: '2001:db8::1' })],
    ['a gateway with a newline', route({ gateway: '10.0.0.1\nlink del ens3' })],
    ['a protocol with a space', route({ protocol: 'static x' })],
    [
      'a rule protocol with a newline',
      {
        kind: 'rule-add',
        rule: { family: 'inet', priority: 0, table: 255, protocol: 'kernel\nlink del ens3' },
        why: 'x',
      },
    ],
    ['a unicast route to nowhere', route({ dev: undefined })],
    ['a fractional metric', route({ metric: 1.5 })],
    ['a sysctl vrf-host does not own', { kind: 'sysctl', key: 'kernel.panic', value: '1', why: 'x' }],
    ['a sysctl value with a newline', { kind: 'sysctl', key: 'net.ipv4.tcp_l3mdev_accept', value: '1\n0', why: 'x' }],
  ])('%s', (_what, step) => {
    expect(() => renderStep(step)).toThrow(RenderError);
  });

  it('emits only tokens that are safe on a batch line', () => {
    const steps: Step[] = [
      { kind: 'vrf-create', name: 'storage-cluster', table: 4294967295 },
      {
        kind: 'route-add',
        route: {
          family: 'inet6',
          table: 1,
          dst: 'fe80::/64',
          type: 'unicast',
          gateway: 'fe80::1',
          dev: 'br-ens4',
          scope: 'link',
        },
        why: 'x',
      },
    ];
    for (const s of steps) for (const t of argv(s)) expect(t).toMatch(/^[A-Za-z0-9.:/_-]+$/);
  });
});
