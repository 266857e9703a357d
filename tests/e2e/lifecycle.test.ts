/**
 * The whole lifecycle of the PACKED charm, run by its own dispatch under the
 * hook-tool simulator as the Juju agent would: install → config-changed →
 * update-status → show-vrfs → remove. The engine acts on an injected machine
 * (VRF_HOST_ROOT, VRF_HOST_PROC, VRF_HOST_SYS) through a fake `ip`
 * (VRF_HOST_IP, tests/unit/vrf/ip.fake.ts) that answers the observe batch
 * with the output recorded on Debian's 6.1 kernel (tests/fixtures/ip/maas-host)
 * and accepts the apply batches. The real-kernel proof is the kernel suite's.
 */
import { lstat, readlink, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import {
  createSimulator,
  runDispatch,
  unpackCharm,
  type DispatchResult,
  type Simulator,
} from '../../src/ops/testing/simulator/harness.js';
import type { FakeIp } from '../unit/vrf/ip.fake.js';
import { MAAS_NETWORKS, maasHost, recordedResponses } from './fake-host.js';
import { charmPaths, memoWatched } from '../kernel/lib/strace.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHARM_FILE = join(ROOT, 'vrf-host.charm');

const PATHS = {
  state: 'var/lib/vrf-host/state.json',
  rtTables: 'etc/iproute2/rt_tables.d/vrf-host.conf',
  sysctlConf: 'etc/sysctl.d/60-vrf-host.conf',
  unit: 'etc/systemd/system/vrf-host.service',
  wants: 'etc/systemd/system/multi-user.target.wants/vrf-host.service',
  routable: 'etc/networkd-dispatcher/routable.d/50-vrf-host',
  configured: 'etc/networkd-dispatcher/configured.d/50-vrf-host',
  cli: 'var/lib/vrf-host/bin/vrf-host.mjs',
  node: 'var/lib/vrf-host/bin/node',
  memo: 'var/lib/vrf-host/memo',
  stateDir: 'var/lib/vrf-host',
};
const SYSCTLS = [
  'net.ipv4.tcp_l3mdev_accept',
  'net.ipv4.udp_l3mdev_accept',
  'net.ipv6.conf.all.keep_addr_on_down',
  'net.ipv4.ip_nonlocal_bind',
  'net.ipv6.ip_nonlocal_bind',
];

let work: string;
let charmDir: string;
let host: { root: string; proc: string; sys: string };
let ip: FakeIp;
let sim: Simulator;
let env: Record<string, string>;

/** Without following symlinks (the wants links point at /etc/systemd/system on the real root). */
const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );
const sysctl = async (key: string) => (await readFile(join(host.proc, 'sys', ...key.split('.')), 'utf8')).trim();

/** The apply batches (not the observe ones) the fake ip ran since `from`. */
async function applyBatches(from = 0): Promise<string[][]> {
  const calls = (await ip.calls()).slice(from);
  return calls
    .filter((c) => c.argv.includes('-batch') && !c.argv.includes('-json'))
    .map((c) => c.stdin.split('\n').filter(Boolean));
}

async function run(path: string, params?: Record<string, unknown>): Promise<DispatchResult> {
  sim.clearJournal();
  const r = await runDispatch(charmDir, path, sim, { env, ...(params ? { params } : {}), timeout: 90_000 });
  if (r.exitCode !== 0 || r.stderr !== '')
    throw new Error(
      `${path} exited ${r.exitCode}:\n${r.stderr}\n${r.record.logs.map((l) => `${l.level} ${l.message}`).join('\n')}`,
    );
  return r;
}

beforeAll(async () => {
  // tests/e2e/global-setup.mjs packed it once for every e2e file (as it ships, with bin/node).
  work = await mkdtemp(join(tmpdir(), 'vrf-host-lifecycle-'));
  charmDir = join(work, 'charm');
  await unpackCharm(CHARM_FILE, charmDir);

  // The recorded MAAS host; its fake ip answers each observe line with what ip 6.1 printed for it.
  const h = await maasHost(join(work, 'host'));
  host = { root: h.root, proc: h.proc, sys: h.sys };
  ip = h.ip;
  env = h.env;

  sim = await createSimulator({
    dir: await mkdtemp(join(work, 'sim-')),
    state: {
      unit: 'vrf-host/0',
      config: { gateways: 'public=2001:db8:16::1' },
      networks: MAAS_NETWORKS,
      relations: { 'juju-info': [{ id: 1, app: 'ubuntu', units: { 'ubuntu/0': {} } }] },
    },
  });
}, 180_000);

afterAll(async () => {
  await sim?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('the packed charm: install → config-changed → update-status → remove', () => {
  test('install converges: Maintenance while applying, then Active; state, tables, sysctls and the boot unit are written', async () => {
    const r = await run('hooks/install');
    expect(r.record.statusHistory).toEqual([
      { status: 'maintenance', message: expect.stringMatching(/^applying \d+ changes$/) },
      {
        status: 'active',
        message:
          '3 VRFs: public(br-ens4 via 172.16.0.1 2001:db8:16::1) storage(bond0 via 10.10.4.1 2001:db8:4::1)' +
          ' storage-cluster(bond0.105 via 10.10.5.1)',
      },
    ]);
    // Every binding was read with network-get.
    const gets = r.record.calls.filter((c) => c.tool === 'network-get').map((c) => c.argv.at(-1));
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
    // The ip steps go through `ip -batch -` processes: the plan's order is kept, so the
    // IPv6 local rule (an `ip -6` process of its own) splits them in two.
    const batches = await applyBatches();
    expect(batches.length).toBeLessThanOrEqual(3);
    const all = batches.flat();
    expect(all).toContain('link add name public type vrf table 1001');
    expect(all).toContain('link set dev bond0 master storage');
    expect(all).toContain('route replace 0.0.0.0/0 via 10.10.5.1 dev bond0.105 table 1003');
    // The controllers were looked up (ports stripped from JUJU_API_ADDRESSES).
    // The main read (the -6 rule read runs beside it, so either may be recorded first).
    const observe = (await ip.calls()).find((c) => c.argv.includes('-json') && c.argv[0] !== '-6');
    expect(observe?.stdin).toMatch(/^route get 10\.100\.0\.5$/m);
    expect(observe?.stdin).toMatch(/^route get 2001:db8:100::5$/m);

    const state = JSON.parse(await readFile(join(host.root, PATHS.state), 'utf8')) as {
      units: string[];
      application: string;
      desired: { vrfs: { name: string }[] };
    };
    expect(state.units).toEqual(['vrf-host/0']);
    expect(state.application).toBe('vrf-host');
    expect(state.desired.vrfs.map((v) => v.name)).toEqual(['public', 'storage', 'storage-cluster']);
    expect(await readFile(join(host.root, PATHS.rtTables), 'utf8')).toMatch(/^1001\s+public$/m);
    expect(await readFile(join(host.root, PATHS.sysctlConf), 'utf8')).toMatch(
      /^net\.ipv4\.tcp_l3mdev_accept\s*=\s*1$/m,
    );
    for (const key of SYSCTLS) expect(await sysctl(key)).toBe('1');
    // Persistence beyond the agent: the copies of the CLI and of the charm's node that the boot
    // unit and the networkd hook run, so that they outlive this unit's charm directory.
    expect(await readFile(join(host.root, PATHS.unit), 'utf8')).toMatch(
      /^ExecStart=\/var\/lib\/vrf-host\/bin\/node \/var\/lib\/vrf-host\/bin\/vrf-host\.mjs apply --from-state$/m,
    );
    expect((await readFile(join(host.root, PATHS.node))).equals(await readFile(join(charmDir, 'bin/node')))).toBe(true);
    expect(await readlink(join(host.root, PATHS.wants))).toBe('/etc/systemd/system/vrf-host.service');
    expect(await readFile(join(host.root, PATHS.routable), 'utf8')).toMatch(/apply --from-state --quiet/);
    expect(await exists(join(host.root, PATHS.configured))).toBe(true);
    expect(
      (await readFile(join(host.root, PATHS.cli))).equals(await readFile(join(charmDir, 'dist/vrf-host-cli.mjs'))),
    ).toBe(true);
    expect(await exists(join(host.root, 'etc/netplan'))).toBe(false);
  }, 120_000);

  test('the CLI copy the boot unit runs works without the charm: it shows the host from the state file', async () => {
    const r = await execa(
      join(host.root, PATHS.node),
      [
        join(host.root, PATHS.cli),
        'show',
        '--root',
        host.root,
        '--proc-root',
        host.proc,
        '--sys-root',
        host.sys,
        '--ip',
        ip.bin,
      ],
      {
        reject: false,
        cwd: work,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^public\s+1001\s+br-ens4/m);
  }, 60_000);

  test('config-changed re-reads the bindings and converges with the new config', async () => {
    sim.update((s) => ({ ...s, config: { ...s.config, 'nonlocal-bind': false } }));
    const from = (await ip.calls()).length;
    const r = await run('hooks/config-changed');
    expect(r.record.calls.filter((c) => c.tool === 'network-get')).toHaveLength(8);
    expect(r.record.status).toEqual({ status: 'active', message: expect.stringMatching(/^3 VRFs: public\(br-ens4/) });
    // nonlocal-bind off: vrf-host puts the values it found back.
    expect(await sysctl('net.ipv4.ip_nonlocal_bind')).toBe('0');
    expect(await readFile(join(host.root, PATHS.sysctlConf), 'utf8')).not.toMatch(/ip_nonlocal_bind/);
    expect((await ip.calls()).length).toBeGreaterThan(from);
  }, 120_000);

  test('update-status re-reads the bindings, heals the drift it observes and stays Active', async () => {
    // The recorded host never changes, so every hook observes drift: healing it is an apply.
    await writeFile(join(host.proc, 'sys/net/ipv4/tcp_l3mdev_accept'), '0\n');
    const from = (await ip.calls()).length;
    const r = await run('hooks/update-status');
    expect(r.record.calls.filter((c) => c.tool === 'network-get')).toHaveLength(8);
    expect(r.record.statusHistory[0]).toEqual({
      status: 'maintenance',
      message: expect.stringMatching(/^healing drift: \d+ changes?$/),
    });
    expect(r.record.status.status).toBe('active');
    expect(await sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('1');
    expect((await applyBatches(from)).flat()).toContain('link set dev bond0 master storage');
  }, 120_000);

  test('with heal-drift off, update-status only reports the drift', async () => {
    sim.update((s) => ({ ...s, config: { ...s.config, 'heal-drift': false } }));
    const from = (await ip.calls()).length;
    const r = await run('hooks/update-status');
    expect(r.record.status).toEqual({
      status: 'blocked',
      message: expect.stringMatching(/^drift: \d+ changes pending \(.*\); heal-drift is off: run the apply action$/),
    });
    expect(await applyBatches(from)).toEqual([]);
    sim.update((s) => ({ ...s, config: { ...s.config, 'heal-drift': true } }));
  }, 120_000);

  test('an update-status that changed nothing is answered by dispatch from its memo: two ip reads, no hook tool, until the host changes', async () => {
    sim.update((s) => ({ ...s, config: { ...s.config, 'heal-drift': false } }));
    const memo = join(host.root, 'var/lib/vrf-host/memo/vrf-host-0.sh');
    const full = await run('hooks/update-status');
    expect(await exists(memo)).toBe(true);
    const ipFrom = (await ip.calls()).length;
    const replay = await run('hooks/update-status');
    // No hook tool at all: no juju-log (the charm never loaded), no config-get or network-get (Juju
    // dispatches config-changed when they would answer differently), no status-set (it is already set).
    expect(replay.record.calls).toEqual([]);
    expect(replay.record.status).toEqual(full.record.status);
    const reads = (await ip.calls()).slice(ipFrom);
    expect(reads.map((c) => c.argv.includes('-json'))).toEqual([true, true]);
    // The host changes (netplan's directory appears): the next update-status runs in full, says why,
    // and reads Juju again; its status is the same, so it does not set it again.
    await mkdir(join(host.root, 'etc/netplan'), { recursive: true });
    await writeFile(join(host.root, 'etc/netplan/90-new.yaml'), 'network: {version: 2}\n');
    const changed = await run('hooks/update-status');
    expect(changed.record.logs).toContainEqual({
      level: 'DEBUG',
      message: expect.stringMatching(/^emitting event update-status \(in full: .*etc\/netplan.* changed\)$/),
    });
    expect(changed.record.calls.map((c) => c.tool)).toEqual(
      expect.arrayContaining(['config-get', 'network-get', 'juju-log']),
    );
    expect(changed.record.calls.map((c) => c.tool)).not.toContain('status-set');
    await rm(join(host.root, 'etc/netplan'), { recursive: true });
    // A config change comes with its own hook, which removes the record first and reads the new config.
    sim.update((s) => ({ ...s, config: { ...s.config, 'heal-drift': true, 'nonlocal-bind': true } }));
    await run('hooks/config-changed');
    expect(await exists(memo)).toBe(false);
    expect(await sysctl('net.ipv4.ip_nonlocal_bind')).toBe('1');
    sim.update((s) => ({ ...s, config: { ...s.config, 'nonlocal-bind': false } }));
    await run('hooks/config-changed');
    expect(await sysctl('net.ipv4.ip_nonlocal_bind')).toBe('0');
  }, 120_000);

  test('the memo watches every file a no-op update-status reads under the host root, /proc and /sys (strace)', async () => {
    const strace = await execa('sh', ['-c', 'command -v strace'], { reject: false });
    if (strace.exitCode !== 0)
      throw new Error(
        'strace is not installed (.ci/run installs it): cannot check the memo against what the charm really opens',
      );
    // The fake ip never changes its answers, so only a plan-only run (heal-drift off) is a no-op
    // here; the kernel suite (scenario 12) checks the converging update-status the same way.
    sim.update((s) => ({ ...s, config: { ...s.config, 'heal-drift': false } }));
    const memo = join(host.root, 'var/lib/vrf-host/memo/vrf-host-0.sh');
    await rm(memo, { force: true });
    const trace = join(work, 'update-status.strace');
    sim.clearJournal();
    const r = await runDispatch(charmDir, 'hooks/update-status', sim, {
      env,
      timeout: 90_000,
      command: [strace.stdout.trim(), '-f', '-qq', '-s', '4096', '-e', 'trace=%file', '-o', trace],
    });
    expect(r.exitCode).toBe(0);
    const watched = new Set(memoWatched(await readFile(memo, 'utf8')));
    const touched = new Set<string>();
    for (const p of charmPaths(await readFile(trace, 'utf8'), 'dist/launch.cjs')) {
      if (![host.root, host.proc, host.sys].some((d) => p === d || p.startsWith(`${d}/`))) continue;
      // Not inputs: the host lock, the memo itself, and the directories leading to what is watched.
      if (p === join(host.root, 'run/vrf-host.lock') || p.startsWith(join(host.root, 'var/lib/vrf-host/memo')))
        continue;
      if ([...watched].some((w) => w.startsWith(`${p}/`))) continue;
      touched.add(p);
    }
    expect([...touched].filter((p) => !watched.has(p)).sort()).toEqual([]);
    // And the engine did read what the list names (the list is not just everything).
    expect(touched).toContain(join(host.root, 'var/lib/vrf-host/state.json'));
    expect(touched).toContain(join(host.proc, 'sys/net/ipv4/tcp_l3mdev_accept'));
    sim.update((s) => ({ ...s, config: { ...s.config, 'heal-drift': true } }));
  }, 120_000);

  test('show-vrfs and plan answer through action-set with valid keys', async () => {
    const show = await run('actions/show-vrfs', { routes: true });
    expect(show.record.actionFailure).toBeNull();
    expect(show.record.actionResults['vrfs.public.table']).toBe('1001');
    expect(show.record.actionResults['vrfs.storage-cluster.members.0.name']).toBe('bond0.105');
    expect(show.record.actionResults['summary']).toMatch(/^VRF\s+TABLE\s+MEMBERS/);
    const plan = await run('actions/plan', { config: '{vrfs: "x: {binding: storage, table: 254}"}' });
    expect(plan.record.actionFailure).toBe('plan: config: vrfs: x.table 254 is reserved');
  }, 120_000);

  test('bad config blocks with the field and changes nothing', async () => {
    sim.update((s) => ({ ...s, config: { ...s.config, vrfs: 'storacc: {binding: storage, table: 254}' } }));
    const state = await readFile(join(host.root, PATHS.state), 'utf8');
    const from = (await ip.calls()).length;
    const r = await run('hooks/config-changed');
    expect(r.record.status).toEqual({ status: 'blocked', message: 'vrfs: storacc.table 254 is reserved' });
    expect(await applyBatches(from)).toEqual([]);
    expect(await readFile(join(host.root, PATHS.state), 'utf8')).toBe(state);
    sim.update((s) => ({ ...s, config: { ...s.config, vrfs: '' } }));
  }, 120_000);

  test('remove tears down: members released, VRFs deleted, sysctls restored, every file and the boot unit removed', async () => {
    // From here on the fake ip shows the same host converged (recorded on the kernel after
    // building exactly these VRFs), so teardown has something to undo.
    await ip.respond(await recordedResponses('converged'));
    const from = (await ip.calls()).length;
    const r = await run('hooks/remove');
    expect(r.record.status).toEqual({
      status: 'maintenance',
      message: 'leaving; the VRFs are removed and the host is restored',
    });
    const teardown = (await applyBatches(from)).flat();
    expect(teardown).toEqual(
      expect.arrayContaining([
        'link set dev bond0 nomaster',
        'link del dev public',
        'link del dev storage',
        'link del dev storage-cluster',
      ]),
    );
    expect(teardown).toContain('rule add pref 100 from 10.10.4.0/24 lookup 2');
    for (const key of SYSCTLS) expect(await sysctl(key)).toBe('0');
    for (const p of Object.values(PATHS)) expect(await exists(join(host.root, p))).toBe(false);
  }, 120_000);
});
