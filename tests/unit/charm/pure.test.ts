/**
 * The charm's pure parts: the status line and its shortening, problem lines,
 * config and override parsing, network-get → bindings, controller addresses,
 * the host environment, and action-set keys for awkward names.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_IN_CHARM, hostFromEnv } from '../../../src/charm/host.js';
import {
  applyOverrides,
  bindingsFromNetworks,
  bindingsInUse,
  controllersFrom,
  parseCharmConfig,
} from '../../../src/charm/inputs.js';
import { keyOf, probeResults, routeText, ruleText } from '../../../src/charm/results.js';
import {
  describeDesired,
  firstProblem,
  heldLine,
  outcomeStatus,
  PROBLEM_MAX,
  problemLine,
  STATUS_MAX,
} from '../../../src/charm/status.js';
import { flattenActionResults } from '../../../src/ops/hookcmds/action.js';
import { parseEngineConfig } from '../../../src/vrf/config.js';
import type { DesiredState, DesiredVrf } from '../../../src/vrf/types.js';

function vrf(name: string, members: string[], v4?: string, v6?: string): DesiredVrf {
  return {
    name,
    binding: name,
    table: 1001,
    tableSource: 'auto',
    members,
    addresses: [],
    gateways: {
      ...(v4 ? { inet: { family: 'inet', address: v4, source: 'config', detail: '' } } : {}),
      ...(v6 ? { inet6: { family: 'inet6', address: v6, source: 'ra', detail: '' } } : {}),
    },
    routes: [],
  };
}
const desired = (vrfs: DesiredVrf[], inMain: DesiredState['inMain'] = []): DesiredState => ({
  vrfs,
  inMain,
  options: { strict: true, moveLocalRule: true, preserveReachability: true, nonlocalBind: true, l3mdevAccept: true },
});

describe('the Active line', () => {
  test("the issue's example, word for word", () => {
    const d = desired(
      [
        vrf('public', ['br-ens4'], '172.16.0.1'),
        vrf('storage', ['bond0'], '10.10.4.1'),
        vrf('storage-cluster', ['ens7.30'], '10.10.5.1'),
      ],
      [{ binding: 'mgmt', reason: 'controller-path', interfaces: ['ens3'] }],
    );
    expect(describeDesired(d)).toBe(
      '3 VRFs: public(br-ens4 via 172.16.0.1) storage(bond0 via 10.10.4.1) storage-cluster(ens7.30 via 10.10.5.1); mgmt' +
        ' in main (controller path)',
    );
  });

  test('roles left in the default space are not listed; excluded bindings are; a VRF without gateway says so', () => {
    const d = desired(
      [vrf('public', ['br-ens4', 'eth9'])],
      [
        { binding: 'admin', reason: 'same-as-default', interfaces: ['ens3'] },
        { binding: 'tenant', reason: 'excluded', interfaces: ['eno1'] },
      ],
    );
    expect(describeDesired(d)).toBe('1 VRF: public(br-ens4+eth9, no gateway); tenant in main (excluded)');
  });

  test('shortened step by step, never longer than the column', () => {
    const many = Array.from({ length: 4 }, (_, i) =>
      vrf(`space-${i}`, [`bond${i}.100${i}`], `10.${i}.0.1`, `2001:db8:${i}::1`),
    );
    const s1 = describeDesired(desired(many));
    expect(s1).toBe('4 VRFs: space-0(bond0.1000) space-1(bond1.1001) space-2(bond2.1002) space-3(bond3.1003)');
    const lots = Array.from({ length: 12 }, (_, i) => vrf(`space-${i}`, [`bond${i}`], `10.${i}.0.1`));
    const s2 = describeDesired(desired(lots, [{ binding: 'mgmt', reason: 'controller-path', interfaces: ['ens3'] }]));
    expect(s2).toBe(
      '12 VRFs: space-0 space-1 space-2 space-3 space-4 space-5 space-6 space-7 space-8 space-9 space-10 space-11; mgmt' +
        ' in main (controller path)',
    );
    const huge = Array.from({ length: 40 }, (_, i) => vrf(`space-${i}`, [`bond${i}`]));
    const s3 = describeDesired(desired(huge, [{ binding: 'mgmt', reason: 'controller-path', interfaces: ['ens3'] }]));
    expect(s3).toBe('40 VRFs, 1 binding in main; see the show-vrfs action');
    for (const s of [s1, s2, s3]) expect(s.length).toBeLessThanOrEqual(STATUS_MAX);
  });

  test('no VRFs: says why and how to get some', () => {
    expect(describeDesired(desired([]))).toBe(
      'no VRFs: no space binding differs from the default binding (bind spaces with juju deploy --bind)',
    );
    expect(describeDesired(desired([], [{ binding: 'mgmt', reason: 'controller-path', interfaces: ['ens3'] }]))).toBe(
      'no VRFs: mgmt in main (controller path)',
    );
  });
});

describe('problem lines', () => {
  test('config problems name the option and entry; kernel problems speak for themselves', () => {
    expect(problemLine({ field: 'vrfs: storacc.table', message: '254 is reserved' })).toBe(
      'vrfs: storacc.table 254 is reserved',
    );
    expect(problemLine({ field: 'gateways', message: 'entry "x" is not KEY=ADDRESS' })).toBe(
      'gateways: entry "x" is not KEY=ADDRESS',
    );
    expect(problemLine({ field: 'kernel', message: 'no vrf kernel module: load it on the host (modprobe vrf)' })).toBe(
      'no vrf kernel module: load it on the host (modprobe vrf)',
    );
  });
  test('the first problem, and how many more', () => {
    expect(
      firstProblem([
        { field: 'strict', message: 'must be true or false' },
        { field: 'table-range', message: 'x' },
      ]),
    ).toBe('strict: must be true or false (+1 more in juju debug-log)');
    expect(outcomeStatus({ kind: 'blocked', problems: [] }).message).toMatch(/debug-log/);
  });
  test('spaces held back for want of a gateway: one is its first warning, several are all named', () => {
    const w = (field: string, subnet: string) => ({
      field,
      message: `no gateway found for ${subnet}; set config gateways`,
    });
    expect(heldLine([w('storage', '10.10.4.0/24'), w('storage', 'fd00:0:2::/64')])).toBe(
      'storage: no gateway found for 10.10.4.0/24; set config gateways (+1 more in juju debug-log)',
    );
    expect(
      heldLine([w('storage', '10.10.4.0/24'), w('storage', 'fd00:0:2::/64'), w('storage-cluster', '10.10.5.0/24')]),
    ).toBe(
      'no gateway found for storage, storage-cluster: nothing applied for them; ' +
        'set config gateways (subnets in juju debug-log)',
    );
  });
  test('a host that kept changing under the applies is Blocked, naming the pending commands', () => {
    const pending = ['ip route replace 0.0.0.0/0 via 10.10.4.1 dev ens5 table 1002', 'ip link set dev ens5 up'].map(
      (command) => ({ command, step: { kind: 'link-up' as const, dev: 'ens5', why: '' } }),
    );
    const unsettled = { rounds: 3, pending };
    const st = outcomeStatus({ kind: 'unsettled', unsettled });
    expect(st).toEqual({
      name: 'blocked',
      message:
        'the host kept changing while vrf-host applied: after 3 apply rounds, 2 changes were still pending: ' +
        '`ip route replace 0.0.0.0/0 via 10.10.4.1 dev ens5 table 1002`, `ip link set dev ens5 up`; ' +
        "another manager of this host's network (e.g. systemd-networkd) undoes them",
    });
    expect(st.message.length).toBeLessThanOrEqual(PROBLEM_MAX);
  });
  test('a waiting outcome is Waiting', () => {
    expect(outcomeStatus({ kind: 'waiting', message: 'waiting for x' })).toEqual({
      name: 'waiting',
      message: 'waiting for x',
    });
  });
});

describe('config', () => {
  test('engine options and the charm-only options validate together', () => {
    const ok = parseCharmConfig({ 'heal-drift': false, 'dry-run': true, strict: false });
    expect(ok.ok && [ok.healDrift, ok.dryRun, ok.engine.options.strict]).toEqual([false, true, false]);
    const bad = parseCharmConfig({ 'heal-drift': 'yes', vrfs: 'x: {binding: storage, table: 0}' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems.map((p) => problemLine(p))).toEqual([
      'vrfs: x.table 0 is reserved',
      'heal-drift: must be true or false',
    ]);
  });

  test('overrides merge over the current config; unknown options are named', () => {
    const known = ['vrfs', 'strict', 'gateways'];
    expect(applyOverrides({ strict: true, gateways: 'a=1.1.1.1' }, '{strict: false}', known)).toEqual({
      ok: true,
      config: { strict: false, gateways: 'a=1.1.1.1' },
    });
    const nested = applyOverrides({}, '{"vrfs": {"a": {"binding": "storage"}}}', known);
    expect(nested.ok && typeof nested.config['vrfs']).toBe('string');
    expect(nested.ok && parseEngineConfig(nested.config)).toMatchObject({
      ok: true,
      config: { vrfs: { a: { binding: 'storage' } } },
    });
    expect(applyOverrides({}, '{a: 1, b: 2}', known)).toEqual({
      ok: false,
      problem: { field: 'config', message: 'unknown options "a", "b" (options: vrfs, strict, gateways)' },
    });
    expect(applyOverrides({}, 'null', known).ok).toBe(false);
    expect(applyOverrides({}, '"text"', known).ok).toBe(false);
  });
});

describe('bindings and controllers', () => {
  test('network-get → canonical bindings; addresses without a subnet are dropped and reported', () => {
    const r = bindingsFromNetworks({
      'juju-info': {
        interfaces: [
          {
            name: 'ens3',
            mac: '52:54:00:00:00:01',
            addresses: [
              { address: '2001:DB8::0010', cidr: '2001:db8::/64' },
              { address: '10.0.0.5', cidr: '' },
            ],
          },
        ],
      },
      storage: { interfaces: [{ name: 'bond0', addresses: [] }] },
    });
    expect(r.bindings['juju-info']).toEqual([
      { name: 'ens3', mac: '52:54:00:00:00:01', addresses: [{ address: '2001:db8::10', cidr: '2001:db8::/64' }] },
    ]);
    expect(r.withoutAddress).toEqual(['storage']);
    expect(r.dropped).toEqual(['juju-info: ens3 10.0.0.5 (no subnet)']);
  });

  test('bindings in use: the default one plus every extra-binding (auto) or the ones vrfs names', () => {
    const auto = parseEngineConfig({});
    const expl = parseEngineConfig({ vrfs: 'a: {binding: storage}' });
    expect(auto.ok && bindingsInUse(auto.config, ['mgmt', 'public'])).toEqual(['juju-info', 'mgmt', 'public']);
    expect(expl.ok && bindingsInUse(expl.config, ['mgmt', 'public'])).toEqual(['juju-info', 'storage']);
  });

  test('controller addresses: canonical IPs, duplicates once, hostnames skipped', () => {
    expect(controllersFrom(['10.0.0.1', '2001:DB8::1', '10.0.0.1', 'controller.maas', 'fe80::1%eth0'])).toEqual({
      controllers: ['10.0.0.1', '2001:db8::1', 'fe80::1'],
      skipped: ['controller.maas'],
    });
  });
});

describe('the host from the environment', () => {
  test('production defaults: the real paths, the CLI from the charm dir', async () => {
    const charm = await mkdtemp(join(tmpdir(), 'charm-'));
    const none = hostFromEnv({}, charm);
    expect(none.engine).toEqual({});
    expect(none.boot).toBe(false);
    expect(none.bootDisabled).toMatch(/vrf-host-cli\.mjs is missing from the charm/);
    await import('node:fs/promises').then((fs) => fs.mkdir(join(charm, 'dist')));
    await writeFile(join(charm, CLI_IN_CHARM), '');
    expect(hostFromEnv({}, charm).boot).toEqual({
      nodeBin: process.execPath,
      cliSource: join(charm, CLI_IN_CHARM),
      copyNode: false,
    });
    // The charm's own bin/node (dispatch runs it): the boot unit runs a copy that outlives the unit.
    expect(hostFromEnv({ VRF_HOST_NODE: join(charm, 'bin/node') }, charm).boot).toEqual({
      nodeBin: join(charm, 'bin/node'),
      cliSource: join(charm, CLI_IN_CHARM),
      copyNode: true,
    });
  });

  test('VRF_HOST_* point the engine elsewhere; relative paths are refused', () => {
    const h = hostFromEnv(
      {
        VRF_HOST_ROOT: '/tmp/r',
        VRF_HOST_PROC: '/tmp/p',
        VRF_HOST_SYS: '/tmp/s',
        VRF_HOST_IP: '/tmp/ip',
        VRF_HOST_LOCK_TIMEOUT: '7',
        VRF_HOST_BOOT: '0',
        VRF_HOST_APPLY_ROUNDS: '0',
      },
      undefined,
    );
    expect(h.engine).toEqual({
      root: '/tmp/r',
      procRoot: '/tmp/p',
      sysRoot: '/tmp/s',
      ipBin: '/tmp/ip',
      lockTimeoutSec: 7,
      rounds: 0,
    });
    expect(h.boot).toBe(false);
    expect(() => hostFromEnv({ VRF_HOST_ROOT: 'relative' }, undefined)).toThrow(
      /VRF_HOST_ROOT must be an absolute path/,
    );
    expect(() => hostFromEnv({ VRF_HOST_LOCK_TIMEOUT: 'soon' }, undefined)).toThrow(/VRF_HOST_LOCK_TIMEOUT/);
    expect(() => hostFromEnv({ VRF_HOST_APPLY_ROUNDS: 'many' }, undefined)).toThrow(
      /VRF_HOST_APPLY_ROUNDS must be a digit/,
    );
  });
});

describe('action results', () => {
  test('names that are not valid action-set keys are never used as keys', () => {
    expect(keyOf('public', 'vrf-0')).toBe('public');
    expect(keyOf('-odd', 'vrf-0')).toBe('vrf-0');
    expect(keyOf('stdout', 'vrf-0')).toBe('vrf-0');
    const results = probeResults([
      {
        vrf: 'x-',
        family: 'inet',
        target: '10.0.0.1',
        kind: 'gateway',
        reachable: false,
        transmitted: null,
        received: null,
        lossPercent: null,
        rttMs: null,
        error: 'ping: not found',
      },
    ]);
    expect(() => flattenActionResults(results)).not.toThrow();
    expect(flattenActionResults(results)).toMatchObject({
      'vrfs.vrf-0.name': 'x-',
      'vrfs.vrf-0.ipv4.error': 'ping: not found',
      reachable: 'false',
    });
  });

  test('routes and rules read like ip prints them', () => {
    expect(
      routeText({
        family: 'inet',
        table: 1001,
        dst: '0.0.0.0/0',
        type: 'unicast',
        gateway: '10.0.0.1',
        dev: 'eth0',
        protocol: 'static',
        scope: 'global',
        metric: null,
        prefsrc: null,
      }),
    ).toBe('default via 10.0.0.1 dev eth0 proto static');
    const v6 = {
      family: 'inet6',
      table: 1001,
      type: 'unicast',
      gateway: 'fe80::1',
      dev: 'eth0',
      protocol: 'ra',
      scope: 'global',
      metric: 1024,
      prefsrc: null,
    } as const;
    expect(routeText({ ...v6, dst: '::/0' })).toBe('default via fe80::1 dev eth0 proto ra metric 1024');
    expect(routeText({ ...v6, dst: '2001:db8::/64' })).toBe('2001:db8::/64 via fe80::1 dev eth0 proto ra metric 1024');
    expect(
      ruleText({
        family: 'inet6',
        priority: 1000,
        src: null,
        dst: null,
        table: null,
        l3mdev: true,
        iif: null,
        oif: null,
        fwmark: null,
        action: 'lookup',
      }),
    ).toBe('-6 1000: from all lookup [l3mdev-table]');
  });
});
