/**
 * The engine end to end on the real domain modules (derive, observe, plan,
 * render, teardown), against recorded ip output (tests/fixtures/ip) served by a
 * fake ip, with /proc, /sys and the root in temp dirs.
 */
import { jest } from '@jest/globals';
import { chmod, mkdir, readFile, writeFile, lstat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseEngineConfig } from '../../../src/vrf/config.js';
import { existsSync } from 'node:fs';
import {
  APPLY_ROUNDS,
  checkGateways,
  converge,
  observeHost,
  parseIpVersion,
  parsePing,
  show,
  teardown,
  unsettledMessage,
} from '../../../src/vrf/engine.js';
import type { Spawn } from '../../../src/vrf/ip.js';
import { PATHS, readState, under } from '../../../src/vrf/persist.js';
import { BOOT_PATHS } from '../../../src/vrf/boot.js';
import { NOTHING_KEPT, SYSCTL, type ObservedHost } from '../../../src/vrf/types.js';
import { maasInputs, modelledHost, testHost, type TestHost } from './engine.host.js';

// Every fake ip call is a node process: generous timeouts on a shared 2-core machine.
jest.setTimeout(60_000);

const batches = async (h: TestHost) =>
  (await h.ip.calls()).filter((c) => !c.argv.includes('-json') && c.argv.includes('-batch'));
const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

function config(raw: Record<string, unknown>) {
  const r = parseEngineConfig(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

describe('converge', () => {
  it('a dry run plans from one observe and changes nothing', async () => {
    const h = await testHost();
    const r = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0', dryRun: true });
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.planned.length).toBeGreaterThan(10);
    expect(r.planned.map((p) => p.command)).toContain('ip link set dev bond0 master storage');
    expect(r.applied).toEqual([]);
    expect(r.drift).toMatchObject({ inSync: false, pending: r.planned.length });
    expect(r.drift.byVrf['storage']).toBeGreaterThan(0);
    expect(r.inMain).toEqual([{ binding: 'mgmt', reason: 'same-as-default', interfaces: ['ens3'] }]);
    // The two reads run at once: the fake ip's call log may hold either first.
    const calls = (await h.ip.calls()).sort((a, b) => a.argv.length - b.argv.length);
    expect(calls.map((c) => c.argv)).toEqual([
      ['-json', '-details', '-Numeric', '-force', '-batch', '-'],
      ['-6', '-json', '-details', '-Numeric', '-force', '-batch', '-'],
    ]);
    expect(calls[0]!.stdin).toContain('route get 10.100.0.5\n');
    expect(await readState(h.root)).toBeNull();
    expect(await h.sysctl(SYSCTL.tcpL3mdev)).toBe('0');
  });

  it('applies: ip batches in plan order, sysctls, state.json, sysctl.d, rt_tables.d and the boot unit', async () => {
    const h = await testHost();
    const cli = join(h.root, '..', 'vrf-host.mjs');
    await writeFile(cli, '// cli\n');
    const m = modelledHost();
    const r = await converge({
      ...h.opts,
      deps: m.deps,
      spawn: m.spawn,
      inputs: maasInputs(),
      unit: 'vrf-host/0',
      boot: { nodeBin: '/usr/bin/node', cliSource: cli },
    });
    expect(r.ok).toBe(true);
    expect(r.failure).toBeNull();
    expect(r.unsettled).toBeNull();
    expect(r.applied.map((a) => a.command)).toEqual(r.planned.map((p) => p.command));
    // The ip steps went through ip -batch processes: -6 for the IPv6 rules that must precede the first VRF
    // and its enslaves (the delivery rules and the l3mdev rule), main, then -6 for every other IPv6 rule
    // (the planner keeps them together).
    const b = await batches(h);
    expect(b.map((c) => c.argv)).toEqual([
      ['-6', '-batch', '-'],
      ['-batch', '-'],
      ['-6', '-batch', '-'],
    ]);
    expect(b[0]!.stdin.split('\n').filter(Boolean)).toEqual([
      'rule add pref 98 to 2001:db8:16::10/128 lookup 1001',
      'rule add pref 98 from 2001:db8:16::10/128 lookup 255',
      'rule add pref 98 to 2001:db8:4::10/128 lookup 1002',
      'rule add pref 98 from 2001:db8:4::10/128 lookup 255',
      'rule add pref 1000 l3mdev protocol kernel',
    ]);
    const ipLines = b.flatMap((c) => c.stdin.split('\n').filter(Boolean));
    expect(ipLines).toHaveLength(r.planned.filter((p) => p.step.kind !== 'sysctl').length);
    for (const k of [
      SYSCTL.keepAddrOnDown,
      SYSCTL.tcpL3mdev,
      SYSCTL.udpL3mdev,
      SYSCTL.nonlocalBind4,
      SYSCTL.nonlocalBind6,
    ]) {
      expect(await h.sysctl(k)).toBe('1');
    }
    const s = (await readState(h.root))!;
    expect(s).toMatchObject({ application: 'vrf-host', units: ['vrf-host/0'], applying: false });
    expect(s.ledger.vrfs).toEqual({ public: 1001, storage: 1002, 'storage-cluster': 1003 });
    expect(s.ledger.migratedRules).toHaveLength(4);
    expect(s.ledger.sysctlsBefore[SYSCTL.tcpL3mdev]).toBe('0');
    expect(s.desired!.vrfs.map((v) => v.name)).toEqual(['public', 'storage', 'storage-cluster']);
    expect(await readFile(under(h.root, PATHS.rtTables), 'utf8')).toMatch(
      /^1001 public\n1002 storage\n1003 storage-cluster\n$/m,
    );
    const conf = await readFile(under(h.root, PATHS.sysctlConf), 'utf8');
    expect(conf).toContain('net.ipv6.conf.all.keep_addr_on_down = 1');
    expect(conf).toContain('net.ipv4.tcp_l3mdev_accept = 1');
    expect(conf).not.toContain('ip_forward');
    expect(await exists(under(h.root, BOOT_PATHS.unit))).toBe(true);
    expect(await exists(under(h.root, BOOT_PATHS.hooks[0]))).toBe(true);
    expect(await exists(under(h.root, 'etc/netplan'))).toBe(false);
  });

  it('on a kernel without net.ipv6 sysctls (ipv6.disable=1) neither sets nor persists them', async () => {
    const h = await testHost('maas-host', { ipv6Sysctls: false });
    const m = modelledHost();
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(r.applied.map((a) => a.command).filter((c) => c.includes('net.ipv6'))).toEqual([]);
    const conf = await readFile(under(h.root, PATHS.sysctlConf), 'utf8');
    expect(conf).toContain('net.ipv4.tcp_l3mdev_accept = 1');
    expect(conf).not.toContain('net.ipv6');
  });

  it('persists the union ledger BEFORE applying (write-ahead), marked applying', async () => {
    const h = await testHost();
    const seen: unknown[] = [];
    const m = modelledHost();
    const spawn: Spawn = async (file, args, o) => {
      if (args.includes('-batch') && !args.includes('-json')) seen.push(await readState(h.root));
      return m.spawn(file, args, o);
    };
    const r = await converge({ ...h.opts, deps: m.deps, spawn, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    const first = seen[0] as Awaited<ReturnType<typeof readState>>;
    expect(first).toMatchObject({ applying: true, units: ['vrf-host/0'] });
    expect(first!.ledger.vrfs).toEqual({ public: 1001, storage: 1002, 'storage-cluster': 1003 });
    expect(first!.ledger.migratedRules).toHaveLength(4);
  });

  it('stops at the failing step, reports it, and keeps the write-ahead ledger', async () => {
    const h = await testHost();
    await h.ip.failOn('master storage$', 'Error: argument "storage" is wrong: Device does not exist');
    const r = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({
      command: 'ip link set dev bond0 master storage',
      error: 'Error: argument "storage" is wrong: Device does not exist',
      step: { kind: 'enslave', dev: 'bond0', vrf: 'storage' },
    });
    expect(r.applied.at(-1)!.command).toBe('ip link set dev br-ens4 master public');
    expect(r.applied.length).toBe(r.failure!.index);
    expect(await h.sysctl(SYSCTL.keepAddrOnDown)).toBe('1'); // ran before the batch
    // Before the first enslave: a default-VRF service already answers on the member that was enslaved.
    expect(await h.sysctl(SYSCTL.tcpL3mdev)).toBe('1');
    const s = (await readState(h.root))!;
    expect(s.applying).toBe(false);
    expect(s.ledger.vrfs).toEqual({ public: 1001, storage: 1002, 'storage-cluster': 1003 });
    expect(s.ledger.migratedRules).toHaveLength(4);
    expect(await exists(under(h.root, PATHS.sysctlConf))).toBe(false);
  });

  it('refuses bad config with the derivation problem and touches nothing', async () => {
    const h = await testHost();
    const inputs = { ...maasInputs(config({ vrfs: 'storacc: {binding: nosuch}' })) };
    const r = await converge({ ...h.opts, inputs, unit: 'vrf-host/0' });
    expect(r.ok).toBe(false);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(r.problems)).toContain('nosuch');
    expect(await batches(h)).toEqual([]);
    expect(await readState(h.root)).toBeNull();
  });

  it('replays the last desired state from state.json (the boot unit), and says when there is none', async () => {
    const h = await testHost();
    const none = await converge({ ...h.opts });
    expect(none.problems[0]!.message).toMatch(/nothing to replay: .*state\.json holds no desired state/);
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0', rounds: 1 });
    // The recorded host did not change: the replay applies the same plan again.
    const before = (await batches(h)).length;
    const m = modelledHost();
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn });
    expect(r.ok).toBe(true);
    expect(r.desired!.vrfs.map((v) => v.name)).toEqual(['public', 'storage', 'storage-cluster']);
    expect((await batches(h)).length).toBeGreaterThan(before);
    expect((await readState(h.root))!.units).toEqual(['vrf-host/0']);
  });

  it('a corrupt state file blocks with a precise message and is left as it is', async () => {
    const h = await testHost();
    const path = under(h.root, PATHS.state);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, '{"version":1,"units":');
    const r = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([
      { field: 'state', message: expect.stringMatching(/state\.json is corrupt \(not JSON/) },
    ]);
    expect(await readFile(path, 'utf8')).toBe('{"version":1,"units":');
    // Teardown does not block on it: it does what it can (here nothing: no VRF is on the host),
    // names what it could not read, and keeps the text.
    const t = await teardown({ ...h.opts, unit: 'vrf-host/0' });
    expect(t).toMatchObject({ ok: true, tornDown: true, problems: [] });
    expect(t.warnings?.map((w) => w.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/state\.json is corrupt \(not JSON.*: torn down from what could be read$/),
        'not JSON: nothing in it could be read',
      ]),
    );
    expect(await batches(h)).toEqual([]);
    expect(existsSync(path)).toBe(false);
    expect(await readFile(under(h.root, PATHS.unreadState), 'utf8')).toBe('{"version":1,"units":');
  });
});

describe('converge: apply until the host holds still', () => {
  const STORAGE_DEFAULT = 'ip route replace 0.0.0.0/0 via 10.10.4.1 dev bond0 table 1002';
  /** What systemd-networkd did to a member after an enslave: the VRF's default route via it is gone. */
  const flushStorageDefault = (host: ObservedHost): ObservedHost => ({
    ...host,
    routes: host.routes.filter((r) => !(r.table === 1002 && r.dst === '0.0.0.0/0' && r.type === 'unicast')),
  });
  const storageInputs = () => maasInputs(config({ gateways: 'storage=10.10.4.1' }));

  it('reads the host again after applying, and re-applies what something else undid meanwhile', async () => {
    const h = await testHost();
    const m = modelledHost((host, n) => (n === 1 ? flushStorageDefault(host) : host));
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: storageInputs(), unit: 'vrf-host/0' });
    expect(r).toMatchObject({ ok: true, failure: null, unsettled: null });
    expect(m.applies()).toBe(2);
    const first = r.planned.length - 1;
    expect(r.planned.map((p) => p.command)).toContain(STORAGE_DEFAULT);
    // The second round is exactly the route the meddler removed.
    expect(r.planned.slice(first).map((p) => p.command)).toEqual([STORAGE_DEFAULT]);
    expect(r.applied.map((p) => p.command)).toEqual(r.planned.map((p) => p.command));
    expect((await readState(h.root))!.applying).toBe(false);
  });

  it('gives up after APPLY_ROUNDS applies and names what kept changing; not ok, files still persisted', async () => {
    const h = await testHost();
    const m = modelledHost(flushStorageDefault);
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: storageInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(false);
    expect(r.failure).toBeNull();
    expect(m.applies()).toBe(APPLY_ROUNDS);
    expect(r.unsettled).toMatchObject({ rounds: APPLY_ROUNDS, pending: [{ command: STORAGE_DEFAULT }] });
    expect(r.unsettled!.pending).toHaveLength(1);
    expect(unsettledMessage(r.unsettled!)).toBe(
      `the host kept changing while vrf-host applied: after 3 apply rounds, 1 change was still pending:` +
        ` \`${STORAGE_DEFAULT}\`; another manager of this host's network (e.g. systemd-networkd) undoes them`,
    );
    expect((await readState(h.root))!.applying).toBe(false);
    expect(await exists(under(h.root, PATHS.rtTables))).toBe(true);
  });

  it('rounds: 1 applies once and reports a host that moved as unsettled', async () => {
    const h = await testHost();
    const m = modelledHost(flushStorageDefault);
    const r = await converge({
      ...h.opts,
      deps: m.deps,
      spawn: m.spawn,
      inputs: storageInputs(),
      unit: 'vrf-host/0',
      rounds: 1,
    });
    expect(m.applies()).toBe(1);
    expect(r.unsettled).toMatchObject({ rounds: 1, pending: [{ command: STORAGE_DEFAULT }] });
  });

  it('rounds: 0 applies once and does not read the host again (a fake host that never changes)', async () => {
    const h = await testHost();
    const r = await converge({ ...h.opts, inputs: storageInputs(), unit: 'vrf-host/0', rounds: 0 });
    expect(r).toMatchObject({ ok: true, unsettled: null });
    expect((await h.ip.calls()).filter((c) => c.argv.includes('-json')).length).toBe(2);
  });

  it('an empty first plan reads the host once: no re-observe, no pause', async () => {
    const h = await testHost();
    const m = modelledHost();
    await converge({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: storageInputs(), unit: 'vrf-host/0' });
    const n = (await h.ip.calls()).length;
    const r = await converge({
      ...h.opts,
      deps: m.deps,
      spawn: m.spawn,
      inputs: storageInputs(),
      unit: 'vrf-host/0',
      settleMs: 60_000,
    });
    expect(r).toMatchObject({ ok: true, planned: [], applied: [], unsettled: null });
    // One observe: the main -json batch and the -6 rule batch (they run at once: either order).
    expect(
      (await h.ip.calls())
        .slice(n)
        .map((c) => c.argv.slice(0, 2).join(' '))
        .sort(),
    ).toEqual(['-6 -json', '-json -details']);
  });
});

describe('converge: a replay builds what the host can hold', () => {
  /** The recorded host without bond0 (the storage member): e.g. a bond that did not come up at boot. */
  const noBond0 = (host: ObservedHost): ObservedHost => ({
    ...host,
    links: host.links.filter((l) => l.name !== 'bond0'),
    addrs: host.addrs.filter((a) => a.dev !== 'bond0'),
    routes: host.routes.filter((r) => r.dev !== 'bond0'),
  });

  it('builds the other VRFs, creates the one whose member is missing without its routes, and reports it', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0', rounds: 0 });
    const recorded = (await readState(h.root))!.desired!;
    const m = modelledHost(undefined, noBond0);
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn });
    expect(r.ok).toBe(false);
    expect(r.failure).toBeNull();
    expect(r.unsettled).toBeNull();
    expect(r.leftOut).toEqual([{ vrf: 'storage', dev: 'bond0', reason: 'does not exist on this host' }]);
    const cmds = r.applied.map((a) => a.command);
    expect(cmds).toContain('ip link set dev br-ens4 master public');
    expect(cmds).toContain('ip link set dev bond0.105 master storage-cluster');
    expect(cmds).toContain('ip link add name storage type vrf table 1002');
    expect(cmds.filter((c) => / table 1002$/.test(c) && c.includes(' via '))).toEqual([]);
    expect(cmds.filter((c) => c.includes('bond0 '))).toEqual([]);
    // The recorded desired state is kept whole: the next replay builds storage once bond0 is back.
    expect((await readState(h.root))!.desired).toEqual(recorded);
    const back = modelledHost();
    const again = await converge({ ...h.opts, deps: back.deps, spawn: back.spawn });
    expect(again).toMatchObject({ ok: true, leftOut: [] });
    expect(again.applied.map((a) => a.command)).toContain('ip link set dev bond0 master storage');
  });

  it('a member that became a port of a bridge is left out too, naming the bridge', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0', rounds: 0 });
    const bridged = (host: ObservedHost): ObservedHost => ({
      ...host,
      links: host.links.map((l) => (l.name === 'bond0.105' ? { ...l, master: 'br-ens4', slaveKind: 'bridge' } : l)),
    });
    const m = modelledHost(undefined, bridged);
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn });
    expect(r.leftOut).toEqual([{ vrf: 'storage-cluster', dev: 'bond0.105', reason: 'is a port of br-ens4' }]);
    expect(r.applied.map((a) => a.command)).toContain('ip link set dev bond0 master storage');
  });

  it('a converge from inputs stays all-or-nothing: a missing member blocks it, nothing is applied', async () => {
    const h = await testHost();
    const m = modelledHost(undefined, noBond0);
    const r = await converge({ ...h.opts, deps: m.deps, spawn: m.spawn, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r).toMatchObject({ ok: false, leftOut: [], applied: [] });
    expect(r.problems).toEqual([
      {
        field: 'storage',
        message:
          'binding storage has no interface on this machine (network-get reports bond0 (10.10.4.10, 2001:db8:4::10))',
      },
    ]);
    expect(await batches(h)).toEqual([]);
  });
});

describe('pre-flight', () => {
  it.each([
    ['charm-advanced-routing', 'etc/networkd-dispatcher/routable.d/95-juju_routing'],
    ['charm-advanced-routing', 'etc/iproute2/rt_tables.d/juju-managed.conf'],
    ['charm-policy-routing', 'etc/systemd/system/charm-pre-install-policy-routing.service'],
  ])('another policy-routing manager (%s: %s) blocks, named; nothing is read or applied', async (name, file) => {
    const h = await testHost();
    await mkdir(join(h.root, file, '..'), { recursive: true });
    await writeFile(join(h.root, file), '#!/bin/sh\n');
    const r = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      {
        field: 'host',
        message: `${name} manages policy routing on this host (/${file}); it and vrf-host would undo each other's rules and routes: remove ${name} from this machine first; nothing was applied`,
      },
    ]);
    expect(await h.ip.calls()).toEqual([]);
    expect(await readState(h.root)).toBeNull();
  });

  it("advanced-routing's leftovers after its removal are no sign of it (no false positive)", async () => {
    const h = await testHost();
    for (const f of [
      'usr/lib/systemd/networkd.conf.d/95-juju-networkd.conf',
      'usr/local/lib/juju-charm-advanced-routing/if-up/.keep',
    ]) {
      await mkdir(join(h.root, f, '..'), { recursive: true });
      await writeFile(join(h.root, f), '');
    }
    const r = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0', dryRun: true });
    expect(r.problems).toEqual([]);
  });

  it('in a container without the vrf module: load it on the host; no modprobe, nothing applied', async () => {
    const h = await testHost('maas-host', { vrfModule: false, container: true });
    const mp = join(h.ip.dir, 'modprobe');
    await writeFile(mp, `#!/bin/sh\necho called >> ${join(h.ip.dir, 'modprobe.log')}\nexit 1\n`);
    await chmod(mp, 0o755);
    const r = await converge({ ...h.opts, modprobeBin: mp, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([
      {
        field: 'kernel',
        message: 'no vrf kernel module: load it on the host (modprobe vrf); a container cannot load modules',
      },
    ]);
    expect(await exists(join(h.ip.dir, 'modprobe.log'))).toBe(false);
    expect(await batches(h)).toEqual([]);
  });

  it('on a host without the vrf module: tries modprobe vrf once, then blocks with its message', async () => {
    const h = await testHost('maas-host', { vrfModule: false });
    const mp = join(h.ip.dir, 'modprobe');
    await writeFile(
      mp,
      `#!/bin/sh\necho "$@" >> ${join(h.ip.dir, 'modprobe.log')}\necho "modprobe: FATAL: Module vrf not found in` +
        ` directory /lib/modules/6.1.0" >&2\nexit 1\n`,
    );
    await chmod(mp, 0o755);
    const r = await converge({ ...h.opts, modprobeBin: mp, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([
      {
        field: 'kernel',
        message:
          'no vrf kernel module: load it on the host (modprobe vrf) (modprobe vrf: modprobe: FATAL: Module vrf not found' +
          ' in directory /lib/modules/6.1.0)',
      },
    ]);
    expect(await readFile(join(h.ip.dir, 'modprobe.log'), 'utf8')).toBe('vrf\n');
  });

  it('a modprobe that works clears the problem', async () => {
    const h = await testHost('maas-host', { vrfModule: false });
    const mp = join(h.ip.dir, 'modprobe');
    await writeFile(mp, `#!/bin/sh\nmkdir -p ${join(h.sysRoot, 'module/vrf')}\n`);
    await chmod(mp, 0o755);
    const r = await converge({ ...h.opts, modprobeBin: mp, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([]);
  });

  it('a dry run loads no module: it reports the missing module without calling modprobe', async () => {
    const h = await testHost('maas-host', { vrfModule: false });
    const mp = join(h.ip.dir, 'modprobe');
    await writeFile(
      mp,
      `#!/bin/sh\necho called >> ${join(h.ip.dir, 'modprobe.log')}\nmkdir -p ${join(h.sysRoot, 'module/vrf')}\n`,
    );
    await chmod(mp, 0o755);
    const r = await converge({ ...h.opts, modprobeBin: mp, inputs: maasInputs(), unit: 'vrf-host/0', dryRun: true });
    expect(r.problems).toEqual([
      { field: 'kernel', message: 'no vrf kernel module: load it on the host (modprobe vrf)' },
    ]);
    expect(await exists(join(h.ip.dir, 'modprobe.log'))).toBe(false);
    expect(await batches(h)).toEqual([]);
  });

  it('a kernel without the l3mdev sysctls names the version needed', async () => {
    const h = await testHost('maas-host', { l3mdev: false });
    const r = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([
      {
        field: 'kernel',
        message:
          'kernel 6.1.0-56-amd64 has no net.ipv4.tcp_l3mdev_accept, net.ipv4.udp_l3mdev_accept: VRFs need Linux 4.5 or' +
          ' newer (the l3mdev sysctls)',
      },
    ]);
  });

  it('an old iproute2 that cannot read the host names the version needed; nothing is applied', async () => {
    const h = await testHost();
    await h.ip.version('ip utility, iproute2-ss161212');
    await h.ip.failOn('.', 'Option "-json" is unknown, try "ip -help".');
    const r = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([
      {
        field: 'iproute2',
        message: 'iproute2 4.0 lacks -json output for routes and rules: vrf-host needs iproute2 4.18 or newer',
      },
    ]);
    expect((await h.ip.calls()).map((c) => c.argv).at(-1)).toEqual(['-V']);
    expect(await batches(h)).toEqual([]);
  });

  it('a healthy host is read without asking ip for its version', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0', dryRun: true });
    expect((await h.ip.calls()).map((c) => c.argv)).not.toContainEqual(['-V']);
  });

  it('parses ip -V of every era', () => {
    expect(parseIpVersion('ip utility, iproute2-6.1.0, libbpf 1.1.2')).toEqual({ major: 6, minor: 1 });
    expect(parseIpVersion('ip utility, iproute2-v5.15.0')).toEqual({ major: 5, minor: 15 });
    expect(parseIpVersion('ip utility, iproute2-ss180813')).toEqual({ major: 4, minor: 18 });
    expect(parseIpVersion('ip utility, iproute2-ss161212')).toEqual({ major: 4, minor: 0 });
    expect(parseIpVersion('something')).toBeNull();
  });
});

describe('several units on one machine', () => {
  it('tracks the units; only the last one to leave tears down', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/1' });
    expect((await readState(h.root))!.units).toEqual(['vrf-host/0', 'vrf-host/1']);
    const n = (await batches(h)).length;

    const t0 = await teardown({ ...h.opts, unit: 'vrf-host/0' });
    expect(t0).toMatchObject({ ok: true, tornDown: false, remainingUnits: ['vrf-host/1'] });
    expect((await batches(h)).length).toBe(n);
    expect((await readState(h.root))!.units).toEqual(['vrf-host/1']);

    await h.serve('converged');
    const t1 = await teardown({ ...h.opts, unit: 'vrf-host/1' });
    expect(t1.ok).toBe(true);
    expect(t1.tornDown).toBe(true);
    const cmds = t1.applied.map((a) => a.command);
    expect(cmds).toContain('ip link set dev bond0 nomaster');
    expect(cmds).toContain('ip link del dev storage');
    expect(cmds).toContain('ip rule add pref 100 from 10.10.4.0/24 lookup 2');
    expect(await h.sysctl(SYSCTL.tcpL3mdev)).toBe('0');
    for (const p of [
      PATHS.state,
      PATHS.stateDir,
      PATHS.sysctlConf,
      PATHS.rtTables,
      BOOT_PATHS.unit,
      ...BOOT_PATHS.hooks,
      ...BOOT_PATHS.wants,
    ]) {
      expect(await exists(under(h.root, p))).toBe(false);
    }
    // Idempotent: nothing remembered, nothing to do.
    expect(await teardown({ ...h.opts, unit: 'vrf-host/1' })).toMatchObject({ ok: true, tornDown: true, applied: [] });
  });

  it('a second application with a different desired state is refused, naming the first', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    const other = maasInputs(config({ strict: false }));
    const r = await converge({ ...h.opts, inputs: other, unit: 'vrf-other/0' });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      {
        field: 'application',
        message: expect.stringContaining('this machine\'s VRFs belong to vrf-host application "vrf-host" (vrf-host/0)'),
      },
    ]);
    expect((await readState(h.root))!.units).toEqual(['vrf-host/0']);
    // Removing the refused unit takes nothing away.
    const n = (await batches(h)).length;
    expect(await teardown({ ...h.opts, unit: 'vrf-other/0' })).toMatchObject({
      ok: true,
      tornDown: false,
      remainingUnits: ['vrf-host/0'],
    });
    expect((await batches(h)).length).toBe(n);
    // The same desired state is no conflict.
    const same = await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-other/0', dryRun: true });
    expect(same.problems).toEqual([]);
  });

  it("when the owning application's last unit leaves, the other application owns the machine", async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-other/0' });
    expect(await readState(h.root)).toMatchObject({ application: 'vrf-host', units: ['vrf-host/0', 'vrf-other/0'] });
    await teardown({ ...h.opts, unit: 'vrf-host/0' });
    expect(await readState(h.root)).toMatchObject({ application: 'vrf-other', units: ['vrf-other/0'] });
  });

  it('a converged host (empty plan) does not rewrite state.json', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    const before = (await readState(h.root))!;
    const deps = { plan: () => ({ steps: [], ledger: before.ledger, kept: NOTHING_KEPT }) };
    // (The first re-derive may differ: auto tables are now 'persisted'.)
    await converge({ ...h.opts, deps, inputs: maasInputs(), unit: 'vrf-host/0' });
    const settled = (await readState(h.root))!;
    const r = await converge({ ...h.opts, deps, inputs: maasInputs(), unit: 'vrf-host/0' });
    expect(r).toMatchObject({ ok: true, planned: [], applied: [], drift: { inSync: true, pending: 0 } });
    expect((await readState(h.root))!.updated).toBe(settled.updated);
    // A new unit is a change.
    await converge({ ...h.opts, deps, inputs: maasInputs(), unit: 'vrf-host/1' });
    expect((await readState(h.root))!.units).toEqual(['vrf-host/0', 'vrf-host/1']);
  });

  it('a teardown dry run lists the steps and changes nothing', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await h.serve('converged');
    const n = (await batches(h)).length;
    const refused = await teardown({ ...h.opts, dryRun: true });
    expect(refused).toMatchObject({ ok: false, tornDown: false, remainingUnits: ['vrf-host/0'] });
    expect(refused.problems[0]!.message).toMatch(/^vrf-host\/0 still use this machine's VRFs/);
    const t = await teardown({ ...h.opts, dryRun: true, force: true });
    expect(t.planned.length).toBeGreaterThan(5);
    expect(t.applied).toEqual([]);
    expect((await batches(h)).length).toBe(n);
    expect(await readState(h.root)).not.toBeNull();
  });
});

describe('show', () => {
  it('reports each VRF: table, members and addresses, default routes with their source, rules, drift', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await h.serve('converged');
    const r = await show({ ...h.opts, routes: true });
    expect(r.units).toEqual(['vrf-host/0']);
    const storage = r.vrfs.find((v) => v.name === 'storage')!;
    expect(storage).toMatchObject({ table: 1002, binding: 'storage', present: true });
    expect(storage.members).toEqual([
      {
        dev: 'bond0',
        present: true,
        up: true,
        master: 'storage',
        addresses: ['10.10.4.10/24', '2001:db8:4::10/64'],
        manager: { name: 'none' },
      },
    ]);
    expect(storage.defaultRoutes.inet).toMatchObject({
      gateway: '10.10.4.1',
      source: 'policy-table',
      installed: { gateway: '10.10.4.1', dev: 'bond0' },
    });
    expect(storage.rules.some((x) => x.table === 1002)).toBe(true);
    expect(storage.routes!.every((x) => x.table === 1002)).toBe(true);
    expect(typeof storage.inSync).toBe('boolean');
    expect(r.summary.split('\n')[0]).toMatch(/^VRF\s+TABLE\s+MEMBERS/);
    expect(r.summary).toMatch(/storage\s+1002\s+bond0 10\.10\.4\.10\/24/);
    expect(r.summary).toContain('mgmt in main (same-as-default): ens3');
  });

  it("names each member's manager from the files the managers publish (no process)", async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await h.serve('converged');
    // bond0 (ifindex 7): networkd; br-ens4 (6): NetworkManager; bond0.105: ifupdown's shared state file.
    const put = async (rel: string, text: string) => {
      await mkdir(dirname(join(h.root, rel)), { recursive: true });
      await writeFile(join(h.root, rel), text);
    };
    await put(
      'run/systemd/netif/links/7',
      'ADMIN_STATE=configured\nOPER_STATE=routable\nNETWORK_FILE=/run/systemd/network/10-netplan-bond0.network\n',
    );
    await put('run/NetworkManager/devices/6', '[device]\nmanaged=true\n');
    await put('run/network/ifstate', 'bond0.105=bond0.105\n');
    const r = await show(h.opts);
    const managerOf = (dev: string) => r.vrfs.flatMap((v) => v.members).find((m) => m.dev === dev)!.manager;
    expect(managerOf('bond0')).toEqual({
      name: 'systemd-networkd',
      adminState: 'configured',
      networkFile: '/run/systemd/network/10-netplan-bond0.network',
    });
    expect(managerOf('br-ens4')).toEqual({ name: 'NetworkManager' });
    expect(managerOf('bond0.105')).toEqual({ name: 'ifupdown' });
    expect(r.summary).toMatch(/storage\s+1002\s+bond0 \S+\s+systemd-networkd\s/);
    // networkd stops managing it: the next look says so.
    await put('run/systemd/netif/links/7', 'ADMIN_STATE=unmanaged\n');
    expect((await show(h.opts)).vrfs.flatMap((v) => v.members).find((m) => m.dev === 'bond0')!.manager).toEqual({
      name: 'none',
    });
  });

  it('names VRFs the ledger owns that are no longer desired', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    const fewer = maasInputs(config({ vrfs: 'storage: {binding: storage}' }));
    const r = await show({ ...h.opts, inputs: fewer });
    expect(r.vrfs.map((v) => v.name)).toEqual(['storage']);
    expect(r.leftover).toEqual({ public: 1001, 'storage-cluster': 1003 });
    expect(r.summary).toContain('public (table 1001) is no longer desired: the next apply deletes it');
  });

  it('with no state shows no VRFs', async () => {
    const h = await testHost();
    const r = await show(h.opts);
    expect(r.vrfs).toEqual([]);
    expect(r.summary).toContain('(no VRFs)');
  });
});

async function fakePing(h: TestHost, body: string): Promise<string> {
  const p = join(h.ip.dir, 'fake-ping');
  await writeFile(p, `#!/bin/sh\n${body}\n`);
  await chmod(p, 0o755);
  return p;
}

describe('check-gateways', () => {
  const OK = `PING 10.10.4.1 (10.10.4.1) 56(84) bytes of data.
64 bytes from 10.10.4.1: icmp_seq=1 ttl=64 time=0.061 ms

--- 10.10.4.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 2040ms
rtt min/avg/max/mdev = 0.045/0.052/0.061/0.006 ms
`;
  const LOST = `PING 10.10.5.1 (10.10.5.1) 56(84) bytes of data.

--- 10.10.5.1 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 2049ms
`;

  it('parses ping summaries', () => {
    expect(parsePing(OK)).toEqual({
      transmitted: 3,
      received: 3,
      lossPercent: 0,
      rttMs: { min: 0.045, avg: 0.052, max: 0.061 },
    });
    expect(parsePing(LOST)).toEqual({ transmitted: 3, received: 0, lossPercent: 100, rttMs: null });
    expect(parsePing('3 packets transmitted, 2 received, +1 errors, 33.3333% packet loss, time 2003ms')).toMatchObject({
      received: 2,
      lossPercent: 33.3333,
    });
    expect(parsePing('')).toBeNull();
  });

  it('pings each gateway from inside its VRF; unreachable is a result, not an error', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await h.ip.ping({ '10.10.4.1': { stdout: OK }, '10.10.5.1': { stdout: LOST, code: 1 } });
    const pingBin = await fakePing(h, 'echo "ping: SO_BINDTODEVICE: No such device" >&2; exit 2');
    const r = await checkGateways({ ...h.opts, pingBin, vrf: 'storage-cluster', target: '10.30.1.1' });
    expect(r).toEqual([
      {
        vrf: 'storage-cluster',
        family: 'inet',
        target: '10.10.5.1',
        kind: 'gateway',
        reachable: false,
        transmitted: 3,
        received: 0,
        lossPercent: 100,
        rttMs: null,
        error: null,
      },
      {
        vrf: 'storage-cluster',
        family: 'inet',
        target: '10.30.1.1',
        kind: 'target',
        reachable: false,
        transmitted: null,
        received: null,
        lossPercent: null,
        rttMs: null,
        error: 'ping: connect: Network is unreachable; ping -I storage-cluster: ping: SO_BINDTODEVICE: No such device',
      },
    ]);
    const all = await checkGateways({ ...h.opts, pingBin });
    const storage4 = all.find((p) => p.vrf === 'storage' && p.family === 'inet')!;
    expect(storage4).toMatchObject({ reachable: true, rttMs: { avg: 0.052 } });
    const v6 = (await h.ip.calls()).find((c) => c.argv.includes('2001:db8:4::1'))!;
    expect(v6.argv).toEqual(['vrf', 'exec', 'storage', 'ping', '-6', '-c', '3', '-W', '1', '2001:db8:4::1']);
  });

  it('falls back to ping -I VRF when ip vrf exec is refused (containers without cgroup2/BPF)', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await h.ip.ping({ '10.10.4.1': { stderr: 'Failed to mount cgroup2: Operation not permitted', code: 1 } });
    const log = join(h.ip.dir, 'ping.log');
    const out = join(h.ip.dir, 'ping.out');
    await writeFile(out, OK);
    const pingBin = await fakePing(h, `echo "$@" >> ${log}; cat ${out}`);
    const r = await checkGateways({ ...h.opts, pingBin, vrf: 'storage' });
    expect(r[0]).toMatchObject({
      vrf: 'storage',
      family: 'inet',
      target: '10.10.4.1',
      reachable: true,
      lossPercent: 0,
      error: null,
    });
    expect((await readFile(log, 'utf8')).split('\n')[0]).toBe('-I storage -c 3 -W 1 10.10.4.1');
  });

  it('refuses an unknown VRF or a target that is not an address', async () => {
    const h = await testHost();
    await converge({ ...h.opts, inputs: maasInputs(), unit: 'vrf-host/0' });
    await expect(checkGateways({ ...h.opts, vrf: 'nope' })).rejects.toThrow(
      /vrf: "nope" is not one of vrf-host's VRFs \(public, storage, storage-cluster\)/,
    );
    await expect(checkGateways({ ...h.opts, vrf: 'storage', target: '10.0.0.1;reboot' })).rejects.toThrow(
      /target: .* is not an IP address/,
    );
    await expect(checkGateways({ ...h.opts, target: '10.0.0.1' })).rejects.toThrow(/target: needs vrf/);
  });
});

const realIp = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
(realIp ? describe : describe.skip)('observeHost on this machine (real ip, read-only)', () => {
  it('reads links, addresses, routes, rules of both families and route get per controller', async () => {
    const h = await observeHost({ ipBin: realIp!, controllers: ['127.0.0.1', '::1'] });
    expect(h.links.some((l) => l.name === 'lo')).toBe(true);
    expect(h.addrs.some((a) => a.dev === 'lo' && a.address === '127.0.0.1')).toBe(true);
    expect(h.rules.some((r) => r.family === 'inet' && r.priority === 32766 && r.table === 254)).toBe(true);
    expect(h.rules.some((r) => r.family === 'inet6' && r.table === 254)).toBe(true);
    expect(h.routes.some((r) => r.table === 255 && r.dst === '127.0.0.1/32')).toBe(true);
    expect(h.routeGet['127.0.0.1']).toEqual({ dev: 'lo', gateway: null });
    expect(Object.keys(h.sysctls).sort()).toEqual(Object.values(SYSCTL).sort());
  });
});
