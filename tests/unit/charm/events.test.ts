/**
 * The charm's hooks through the in-process Context harness, on a fh.host machine
 * whose kernel is the model started from the recorded MAAS host.
 */
import { memoWatched } from '../../kernel/lib/strace.mjs';
import { existsSync } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { State } from '../../../src/ops/testing/index.js';
import { BOOT_PATHS } from '../../../src/vrf/boot.js';
import { PATHS } from '../../../src/vrf/persist.js';
import { simulate } from '../../../src/vrf/model.js';
import type { Route } from '../../../src/vrf/types.js';
import { mkLink } from '../vrf/builders.js';
import { BASE, context, freshFakeHost, PINNED, net, NETWORKS } from './helpers.js';

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

const fh = freshFakeHost();

const link = (name: string) => fh.host.current().links.find((l) => l.name === name);

async function installed(): Promise<State> {
  const ctx = context(fh.host);
  const out = await ctx.run(ctx.on.install(), BASE);
  expect(ctx.exitCode).toBe(0);
  return { ...out, config: PINNED, networks: NETWORKS };
}

describe('install', () => {
  test('converges the host: VRFs, members, sysctls, files, boot unit; Maintenance while applying, then Active saying what is true', async () => {
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), BASE);
    expect(ctx.exitCode).toBe(0);
    expect(ctx.statusHistory[0]).toEqual({
      name: 'maintenance',
      message: expect.stringMatching(/^applying \d+ changes$/),
    });
    expect(out.unitStatus).toEqual({
      name: 'active',
      message:
        '3 VRFs: public(br-ens4 via 172.16.0.1 2001:db8:16::1) storage(bond0 via 10.10.4.1 2001:db8:4::1)' +
        ' storage-cluster(bond0.105 via 10.10.5.1)',
    });
    // The kernel (model) now has the VRFs with their members.
    expect(link('public')).toMatchObject({ kind: 'vrf', vrfTable: 1001 });
    expect(link('br-ens4')?.master).toBe('public');
    expect(link('bond0')?.master).toBe('storage');
    expect(link('bond0.105')?.master).toBe('storage-cluster');
    expect(link('ens3')?.master).toBeNull(); // the controller path stays in main
    // One ip -batch process per apply run (plus the -6 one for the local rule).
    expect(fh.host.batches().length).toBeLessThanOrEqual(3);
    expect(await fh.host.sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('1');
    // Persistence beyond the agent.
    const state = JSON.parse(await readFile(join(fh.host.root, PATHS.state), 'utf8')) as {
      units: string[];
      application: string;
    };
    expect(state.units).toEqual(['vrf-host/0']);
    expect(state.application).toBe('vrf-host');
    expect(await readFile(join(fh.host.root, PATHS.rtTables), 'utf8')).toMatch(/1001\s+public/);
    expect(await readFile(join(fh.host.root, PATHS.sysctlConf), 'utf8')).toMatch(
      /net\.ipv4\.tcp_l3mdev_accept\s*=\s*1/,
    );
    expect(await readFile(join(fh.host.root, BOOT_PATHS.unit), 'utf8')).toMatch(
      /ExecStart=\S+ \/var\/lib\/vrf-host\/bin\/vrf-host\.mjs apply --from-state/,
    );
    for (const h of BOOT_PATHS.hooks) expect(await exists(join(fh.host.root, h))).toBe(true);
    expect(await exists(join(fh.host.root, 'etc/netplan'))).toBe(false);
  });

  test('every binding is re-read with network-get: juju-info and each extra-binding', async () => {
    const ctx = context(fh.host);
    await ctx.run(ctx.on.install(), BASE);
    const gets = ctx.calls.filter((c) => c[0] === 'network-get').map((c) => c.slice(1).find((a) => !a.startsWith('-')));
    expect(gets.sort()).toEqual([
      'admin',
      'internal',
      'juju-info',
      'mgmt',
      'public',
      'storage',
      'storage-cluster',
      'tenant',
    ]);
  });

  test('controller addresses come from JUJU_API_ADDRESSES without ports; the binding carrying them stays in main', async () => {
    // juju-info on the public bridge, mgmt on ens3, which carries the route to the controllers.
    const pub = NETWORKS['public']!;
    const networks = {
      ...NETWORKS,
      'juju-info': pub,
      admin: pub,
      internal: pub,
      tenant: pub,
      mgmt: net('ens3', ['10.0.0.10', '10.0.0.0/24']),
    };
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), { config: PINNED, networks });
    expect(out.unitStatus?.message).toBe(
      '2 VRFs: storage(bond0 via 10.10.4.1 2001:db8:4::1) storage-cluster(bond0.105 via 10.10.5.1); mgmt in main (controller path)',
    );
    expect(link('ens3')?.master).toBeNull();
    const observe = fh.host.calls.find((c) => c.args.includes('-json'));
    expect(observe?.input).toMatch(/^route get 10\.100\.0\.5$/m);
    expect(observe?.input).toMatch(/^route get 2001:db8:100::5$/m);
  });
});

describe('config-changed, start, upgrade-charm, juju-info relation events', () => {
  test.each([['config-changed'], ['start'], ['upgrade-charm']])(
    '%s on a converged host changes nothing and stays Active',
    async (hook) => {
      const state = await installed();
      const before = fh.host.batches().length;
      const ctx = context(fh.host);
      const out = await ctx.run(ctx.on.hook(hook), state);
      expect(ctx.exitCode).toBe(0);
      expect(fh.host.batches().length).toBe(before);
      expect(ctx.statusHistory.map((s) => s.name)).toEqual(['active']);
      expect(out.unitStatus?.message).toMatch(/^3 VRFs: public\(br-ens4/);
    },
  );

  test("upgrade-charm refreshes the boot unit's copy of the CLI from the new charm", async () => {
    const state = await installed();
    const cli = fh.host.host.boot === false ? '' : fh.host.host.boot.cliSource;
    await writeFile(cli, '// the CLI of the upgraded charm\n');
    const ctx = context(fh.host);
    await ctx.run(ctx.on.upgradeCharm(), state);
    expect(await readFile(join(fh.host.root, BOOT_PATHS.cli), 'utf8')).toBe('// the CLI of the upgraded charm\n');
  });

  test('config-changed applies a changed option (strict off removes the unreachable defaults)', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.configChanged(), { ...state, config: { ...PINNED, strict: false } });
    expect(out.unitStatus?.name).toBe('active');
    expect(ctx.statusHistory[0]?.name).toBe('maintenance');
    expect(fh.host.current().routes.filter((r) => r.type === 'unreachable' && r.table >= 1001)).toEqual([]);
  });

  test('config-changed after juju bind: a binding that moved to the default space leaves its VRF', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.configChanged(), {
      ...state,
      networks: { ...NETWORKS, 'storage-cluster': NETWORKS['juju-info']! },
    });
    expect(out.unitStatus?.message).toMatch(/^2 VRFs: public\(.*\) storage\(/);
    expect(link('storage-cluster')).toBeUndefined();
    expect(link('bond0.105')?.master).toBeNull();
  });

  test('config-changed with exclude-interfaces releases an enslaved interface and reports the binding in main', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.configChanged(), {
      ...state,
      config: { ...PINNED, 'exclude-interfaces': 'bond0' },
    });
    expect(link('bond0')?.master).toBeNull();
    expect(link('storage')).toBeUndefined();
    expect(out.unitStatus?.message).toMatch(
      /^2 VRFs: public\(.*\) storage-cluster\(.*\); storage in main \(excluded\)$/,
    );
  });

  test.each([['joined'], ['changed'], ['departed'], ['created']] as const)(
    'juju-info-relation-%s refreshes the state',
    async (kind) => {
      const state = await installed();
      fh.host.mutate((h) => simulate(h, [{ kind: 'release', dev: 'bond0', vrf: 'storage' }]));
      const ctx = context(fh.host);
      const rel = { endpoint: 'juju-info', id: 1, remoteApp: 'ubuntu', remoteUnitsData: { 'ubuntu/0': {} } };
      const out = await ctx.run(ctx.on.relation(kind, rel, { remoteUnit: 'ubuntu/0' }), { ...state, relations: [rel] });
      expect(ctx.exitCode).toBe(0);
      expect(link('bond0')?.master).toBe('storage');
      expect(out.unitStatus?.name).toBe('active');
    },
  );

  test('leader-elected does nothing: no host access, no status change', async () => {
    const state = await installed();
    const calls = fh.host.calls.length;
    const ctx = context(fh.host);
    await ctx.run(ctx.on.leaderElected(), { ...state, leader: true });
    expect(ctx.exitCode).toBe(0);
    expect(fh.host.calls.length).toBe(calls);
    expect(ctx.statusHistory).toEqual([]);
    expect(ctx.calls.filter((c) => c[0] === 'network-get')).toEqual([]);
  });
});

describe('update-status', () => {
  test('in sync: no change, no Maintenance, Active', async () => {
    const state = await installed();
    const before = fh.host.batches().length;
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.updateStatus(), state);
    expect(fh.host.batches().length).toBe(before);
    expect(ctx.statusHistory).toEqual([{ name: 'active', message: expect.stringMatching(/^3 VRFs/) }]);
    expect(out.unitStatus?.name).toBe('active');
  });

  test('an IPv6 gateway learnt from router advertisements, no gateways config: still Active naming it, nothing changes', async () => {
    // The recorded host has `default via fe80::1 dev br-ens4 proto ra metric 1024` in main; enslaving
    // br-ens4 drops it. Derivation must keep finding it (remembered by the planner), not flip-flop.
    const state: State = { networks: NETWORKS };
    const message =
      '3 VRFs: public(br-ens4 via 172.16.0.1 fe80::1) storage(bond0 via 10.10.4.1 2001:db8:4::1) storage-cluster(bond0.105 via 10.10.5.1)';
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), state);
    expect(ctx.exitCode).toBe(0);
    expect(out.unitStatus).toEqual({ name: 'active', message });
    const isV6Default = (r: Route) => r.table === 1001 && r.dst === '::/0' && r.type === 'unicast';
    const v6default = () => fh.host.current().routes.filter(isV6Default);
    expect(v6default()).toEqual([expect.objectContaining({ gateway: 'fe80::1', dev: 'br-ens4' })]);
    // The RA route is really gone from main, as on the kernel.
    expect(fh.host.current().routes.filter((r) => r.protocol === 'ra')).toEqual([]);
    const before = fh.host.batches().length;

    for (let run = 0; run < 2; run++) {
      const u = context(fh.host);
      const again = await u.run(u.on.updateStatus(), { ...out, ...state });
      expect(u.exitCode).toBe(0);
      expect(fh.host.batches().length).toBe(before);
      expect(u.statusHistory).toEqual([{ name: 'active', message }]);
      expect(again.unitStatus).toEqual({ name: 'active', message });
      expect(v6default()).toHaveLength(1);
    }

    // The next advertisement: the kernel puts its own RA default into the VRF table (here in
    // place of vrf-host's, as after a reboot before the boot unit ran). Still nothing to do.
    fh.host.mutate((h) => ({ ...h, routes: h.routes.map((r) => (isV6Default(r) ? { ...r, protocol: 'ra' } : r)) }));
    const u = context(fh.host);
    const again = await u.run(u.on.updateStatus(), { ...out, ...state });
    expect(fh.host.batches().length).toBe(before);
    expect(again.unitStatus).toEqual({ name: 'active', message });
    expect(v6default()).toEqual([expect.objectContaining({ gateway: 'fe80::1', protocol: 'ra' })]);
  });

  test('a host whose other network manager undoes every apply: Blocked, naming what stayed pending; not Active', async () => {
    const state = await installed();
    fh.host.mutate((h) => ({ ...h, routes: h.routes.filter((r) => !(r.table === 1001 && r.dst === '0.0.0.0/0')) }));
    // After each apply batch, public's IPv4 default goes again (as a network manager that owns the table would).
    fh.host.afterEachApply((h) => ({
      ...h,
      routes: h.routes.filter((r) => !(r.table === 1001 && r.dst === '0.0.0.0/0' && r.type === 'unicast')),
    }));
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.updateStatus(), state);
    expect(out.unitStatus).toEqual({
      name: 'blocked',
      message: expect.stringMatching(
        /^the host kept changing while vrf-host applied: after 3 apply rounds, 1 change was still pending: `ip route replace 0\.0\.0\.0\/0 via 172\.16\.0\.1 dev br-ens4 table 1001`; another manager/,
      ),
    });
  });

  test('heals drift (a released member, a deleted route, a flipped sysctl) with heal-drift on (the default)', async () => {
    const state = await installed();
    fh.host.mutate((h) =>
      simulate(h, [
        { kind: 'release', dev: 'bond0', vrf: 'storage' },
        {
          kind: 'route-del',
          route: {
            family: 'inet',
            table: 1001,
            dst: '0.0.0.0/0',
            type: 'unicast',
            gateway: '172.16.0.1',
            dev: 'br-ens4',
          },
          why: 'drift',
        },
      ]),
    );
    await writeFile(join(fh.host.proc, 'sys/net/ipv4/tcp_l3mdev_accept'), '0\n');
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.updateStatus(), state);
    // Three kinds of drift, so several changes: the plural (one change is 'healing drift: 1 change').
    expect(ctx.statusHistory[0]).toEqual({
      name: 'maintenance',
      message: expect.stringMatching(/^healing drift: ([2-9]|[1-9]\d+) changes$/),
    });
    expect(await fh.host.sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('1');
    expect(out.unitStatus?.name).toBe('active');
    expect(link('bond0')?.master).toBe('storage');
    expect(
      fh.host.current().routes.some((r) => r.table === 1001 && r.dst === '0.0.0.0/0' && r.gateway === '172.16.0.1'),
    ).toBe(true);
  });

  test('the memo: a no-op update-status is recorded; one that heals, even a sysctl only (a file write, no process), is not', async () => {
    const state = await installed();
    const path = join(fh.host.dir, 'memo.sh');
    const memo = { path, hooks: ['update-status'] };
    const run = async () => {
      const ctx = context(fh.host, { memo });
      const out = await ctx.run(ctx.on.updateStatus(), state);
      expect(ctx.exitCode).toBe(0);
      return { ctx, out, recorded: existsSync(path) };
    };
    await run();
    const noop = await run();
    expect(noop.recorded).toBe(true);
    const rec = await readFile(path, 'utf8');
    // What the engine read: both ip processes, and the files it depends on.
    const ip = fh.host.host.engine.ipBin ?? 'ip';
    expect(rec.match(/^ {2}vrf_memo_ip .*$/gm)?.map((l) => l.split(' -- ')[1]?.split(' ')[0])).toEqual([
      `'${ip}'`,
      `'${ip}'`,
    ]);
    const watched = memoWatched(rec);
    expect(watched).toContain(join(fh.host.proc, 'sys/net/ipv4/tcp_l3mdev_accept'));
    expect(watched).toContain(join(fh.host.root, 'var/lib/vrf-host/state.json'));
    // Nothing from Juju: every probe is an ip read or a look at a file.
    expect(rec.match(/^ {2}vrf_memo_\w+/gm)?.every((l) => /_(ip|file|sysctl|kind|exists|link|names)$/.test(l))).toBe(
      true,
    );

    await writeFile(join(fh.host.proc, 'sys/net/ipv4/tcp_l3mdev_accept'), '0\n');
    const healed = await run();
    expect(healed.ctx.statusHistory[0]).toEqual({ name: 'maintenance', message: 'healing drift: 1 change' });
    expect(await fh.host.sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('1');
    expect(healed.recorded).toBe(false);
    // The next one finds nothing to do again, and records.
    expect((await run()).recorded).toBe(true);
  });

  test('with heal-drift off, drift is reported (Blocked with the count per VRF) and nothing is applied', async () => {
    const state = await installed();
    fh.host.mutate((h) => simulate(h, [{ kind: 'release', dev: 'bond0', vrf: 'storage' }]));
    const before = fh.host.batches().length;
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.updateStatus(), { ...state, config: { ...PINNED, 'heal-drift': false } });
    expect(fh.host.batches().length).toBe(before);
    expect(link('bond0')?.master).toBeNull();
    expect(out.unitStatus).toEqual({
      name: 'blocked',
      message: expect.stringMatching(
        /^drift: \d+ changes? pending \(storage: \d+.*\); heal-drift is off: run the apply action$/,
      ),
    });
  });

  test('sees a new Juju br-* bridge because the bindings are re-read', async () => {
    const state = await installed();
    // Juju put a container on the machine: bond0.105 is now under br-bond0.105's cousin, br-stc.
    fh.host.mutate((h) =>
      simulate(
        {
          ...h,
          links: [...h.links, mkLink('br-stc', { ifindex: 99, kind: 'bridge', mac: '52:54:00:aa:bb:cc' })],
          addrs: [...h.addrs, { dev: 'br-stc', family: 'inet', address: '10.10.6.10', prefixlen: 24, scope: 'global' }],
          routes: [
            ...h.routes,
            {
              family: 'inet',
              table: 254,
              dst: '10.10.6.0/24',
              type: 'unicast',
              gateway: null,
              dev: 'br-stc',
              protocol: 'kernel',
              scope: 'link',
              metric: null,
              prefsrc: '10.10.6.10',
            },
          ],
        },
        [],
      ),
    );
    const networks = { ...NETWORKS, tenant: net('br-stc', ['10.10.6.10', '10.10.6.0/24']) };
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.updateStatus(), {
      ...state,
      config: { gateways: `${PINNED.gateways} tenant=10.10.6.1` },
      networks,
    });
    expect(ctx.exitCode).toBe(0);
    expect(link('br-stc')?.master).toBe('tenant');
    // Four VRFs with both families' gateways are too long for the status column: shortened.
    expect(out.unitStatus?.message).toBe(
      '4 VRFs: public(br-ens4) storage(bond0) storage-cluster(bond0.105) tenant(br-stc)',
    );
    expect(
      fh.host
        .current()
        .routes.some((r) => r.table === link('tenant')?.vrfTable && r.dst === '0.0.0.0/0' && r.gateway === '10.10.6.1'),
    ).toBe(true);
  });

  test('with dry-run, only plans: the status shows the pending changes and the host is untouched', async () => {
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), { ...BASE, config: { ...PINNED, 'dry-run': true } });
    expect(fh.host.batches()).toEqual([]);
    expect(await fh.host.sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('0');
    expect(await exists(join(fh.host.root, PATHS.state))).toBe(false);
    expect(out.unitStatus).toEqual({
      name: 'active',
      message: expect.stringMatching(/^dry-run: \d{2} changes pending \(see the plan action\); 3 VRFs: /),
    });
    expect(ctx.statusHistory.map((s) => s.name)).toEqual(['active']);
  });
});

describe('Waiting', () => {
  test('network-get has no address for juju-info yet: Waiting, nothing applied', async () => {
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), {
      ...BASE,
      networks: { ...NETWORKS, 'juju-info': { interfaces: [], ingressAddresses: [], egressSubnets: [] } },
    });
    expect(out.unitStatus).toEqual({
      name: 'waiting',
      message: 'waiting for network-get to report an address for juju-info',
    });
    expect(fh.host.calls).toEqual([]);
  });

  test('network-get failing (the agent has no network config yet): Waiting, logged, nothing applied', async () => {
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.install(), {
      ...BASE,
      faults: {
        'network-get': { kind: 'exit', code: 1, stderr: 'ERROR no network config found for binding "juju-info"\n' },
      },
    });
    expect(ctx.exitCode).toBe(0);
    expect(out.unitStatus).toEqual({
      name: 'waiting',
      message: 'waiting for network-get to report an address for juju-info',
    });
    expect(
      ctx.jujuLog.some(
        (l) => l.level === 'WARNING' && /^network-get juju-info failed: .*no network config found/.test(l.message),
      ),
    ).toBe(true);
    expect(fh.host.calls).toEqual([]);
  });

  test('explicit vrfs naming a binding with no address yet: Waiting', async () => {
    const ctx = context(fh.host);
    const out = await ctx.run(ctx.on.configChanged(), {
      config: { ...PINNED, vrfs: 'storacc: {binding: storage}' },
      networks: {
        ...NETWORKS,
        storage: { interfaces: [{ name: 'bond0', addresses: [] }], ingressAddresses: [], egressSubnets: [] },
      },
    });
    expect(out.unitStatus).toEqual({
      name: 'waiting',
      message: 'waiting for network-get to report an address for storage',
    });
    expect(fh.host.batches()).toEqual([]);
  });
});

describe('stop and remove', () => {
  test('remove tears down exactly: VRFs gone, members released, sysctls and files restored, boot unit removed', async () => {
    const state = await installed();
    const ctx = context(fh.host);
    const stopped = await ctx.run(ctx.on.stop(), state);
    expect(ctx.exitCode).toBe(0);
    expect(stopped.unitStatus).toEqual({
      name: 'maintenance',
      message: 'leaving; the VRFs are removed and the host is restored',
    });
    expect(link('public')).toBeUndefined();
    expect(link('bond0')?.master).toBeNull();
    expect(await fh.host.sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('0');
    for (const p of [
      PATHS.state,
      PATHS.rtTables,
      PATHS.sysctlConf,
      BOOT_PATHS.unit,
      BOOT_PATHS.cli,
      ...BOOT_PATHS.hooks,
      ...BOOT_PATHS.wants,
    ]) {
      expect(await exists(join(fh.host.root, p))).toBe(false);
    }
    // The MAAS rules vrf-host removed are back.
    expect(fh.host.current().rules.some((r) => r.priority === 100 && r.src === '10.10.4.0/24' && r.table === 2)).toBe(
      true,
    );
    const removed = await ctx.run(ctx.on.remove(), { ...stopped, config: PINNED, networks: NETWORKS });
    expect(ctx.exitCode).toBe(0);
    expect(removed.unitStatus?.name).toBe('maintenance');
  });

  test('a failing teardown step fails the hook (Juju retries it), naming the step; the retry finishes', async () => {
    const state = await installed();
    fh.host.failOn(/nomaster/, 'RTNETLINK answers: Device or resource busy');
    const ctx = context(fh.host);
    await ctx.run(ctx.on.remove(), state);
    expect(ctx.exitCode).toBe(1);
    expect(ctx.jujuLog.map((l) => l.message).join('\n')).toMatch(
      /teardown step \d+ of \d+ failed: ip link set dev \S+ nomaster: RTNETLINK answers: Device or resource busy/,
    );
    expect(await exists(join(fh.host.root, PATHS.state))).toBe(true);
    fh.host.failOn(null);
    await ctx.run(ctx.on.remove(), state);
    expect(ctx.exitCode).toBe(0);
    expect(link('public')).toBeUndefined();
    expect(await exists(join(fh.host.root, PATHS.state))).toBe(false);
  });
});

describe('several units on one machine', () => {
  test('two units of one application share the VRFs; only the last one to leave tears down', async () => {
    const a = context(fh.host, { unitName: 'vrf-host/0' });
    const b = context(fh.host, { unitName: 'vrf-host/1' });
    const sa = await a.run(a.on.install(), BASE);
    const sb = await b.run(b.on.install(), BASE);
    expect(sb.unitStatus?.name).toBe('active');
    const state = JSON.parse(await readFile(join(fh.host.root, PATHS.state), 'utf8')) as { units: string[] };
    expect(state.units).toEqual(['vrf-host/0', 'vrf-host/1']);

    const out = await a.run(a.on.remove(), { ...sa, ...BASE });
    expect(out.unitStatus).toEqual({ name: 'maintenance', message: 'leaving; the VRFs stay for vrf-host/1' });
    expect(link('public')?.kind).toBe('vrf');

    await b.run(b.on.remove(), { ...sb, ...BASE });
    expect(link('public')).toBeUndefined();
    expect(await exists(join(fh.host.root, PATHS.state))).toBe(false);
  });

  test('a second application with a different desired state is blocked, naming the first; neither changes the host', async () => {
    await installed();
    const batches = fh.host.batches().length;
    const other = context(fh.host, { unitName: 'vrf-host-b/0' });
    const out = await other.run(other.on.install(), { ...BASE, config: { ...PINNED, strict: false } });
    expect(out.unitStatus?.name).toBe('blocked');
    expect(out.unitStatus?.message).toMatch(
      /^this machine's VRFs belong to vrf-host application "vrf-host" \(vrf-host\/0\)/,
    );
    expect(fh.host.batches().length).toBe(batches);
    // The first application's update-status still finds its host in sync.
    const first = context(fh.host);
    const again = await first.run(first.on.updateStatus(), BASE);
    expect(again.unitStatus?.name).toBe('active');
    expect(fh.host.batches().length).toBe(batches);
  });
});
