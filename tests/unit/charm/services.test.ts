/**
 * The services option through the charm: config-get → the engine, a bad entry blocks naming it
 * with nothing applied (no ip change, no drop-in, no systemctl beyond the one read), a good entry
 * puts the unit in its VRF, and the status names a listed unit that does not exist or has failed
 * to restart in its VRF, as a warning on the Active line. The host is the recorded maas-host with
 * the kernel model and a model of systemd behind a fake systemctl (vrf/services/systemd.fake.ts).
 */
import { jest } from '@jest/globals';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NestedResults } from '../../../src/ops/testing/fake-juju.js';
import { PATHS } from '../../../src/vrf/persist.js';
import { SYSTEMCTL } from '../vrf/services/systemd.fake.js';
import { fakeHost, type FakeHost } from './fake-host.js';
import { BASE, context, PINNED } from './helpers.js';

jest.setTimeout(60_000);

const CHRONY = '[Unit]\nDescription=chrony\n\n[Service]\nType=forking\nExecStart=/usr/sbin/chronyd $DAEMON_OPTS\n';
const BACULA = '[Service]\nUser=bacula\nExecStart=/usr/sbin/bacula-fd -f\n';
const DROPIN = 'etc/systemd/system/chrony.service.d/50-vrf-host-vrf.conf';

let host: FakeHost | undefined;
afterEach(async () => {
  await host?.cleanup();
  host = undefined;
});

async function withUnits(): Promise<FakeHost> {
  host = await fakeHost({
    units: [
      { name: 'chrony.service', fragment: CHRONY },
      { name: 'bacula-fd.service', fragment: BACULA, user: 'bacula' },
    ],
  });
  return host;
}

const systemctlCalls = (h: FakeHost) => h.systemd!.log.filter((c) => c[0] === SYSTEMCTL).map((c) => c[1]);
const applied = (h: FakeHost) => h.batches();
const exists = (h: FakeHost, path: string) =>
  readFile(join(h.root, path), 'utf8').then(
    () => true,
    () => false,
  );

describe('a bad services entry: Blocked naming it, nothing applied', () => {
  const CASES = [
    {
      name: 'a template without an instance',
      services: 'ntp@.service: storage',
      status: 'services: ntp@.service is a template without an instance (name one, e.g. ntp@mgmt.service)',
      reads: [],
    },
    {
      name: "Juju's agent",
      services: 'jujud-machine-0.service: storage',
      status:
        "services: jujud-machine-0.service is Juju's agent: in a VRF it would lose the unit's path to its controller",
      reads: [],
    },
    {
      name: 'not a mapping',
      services: '- chrony.service',
      status: 'services: must be a mapping of unit name to VRF, not a list',
      reads: [],
    },
    {
      name: 'a binding that stays in main',
      services: 'chrony.service: mgmt',
      status: /^services: chrony\.service names mgmt, which stays in the main table/,
      reads: [],
    },
    {
      name: 'a unit with User= (ip vrf exec cannot work), found by the one systemctl read',
      services: 'bacula-fd.service: storage\nchrony.service: storage',
      status: /^services: bacula-fd\.service .*User=bacula/,
      reads: ['show'],
    },
  ];
  test.each(CASES)('$name', async (c) => {
    const h = await withUnits();
    const ctx = context(h);
    const out = await ctx.run(ctx.on.configChanged(), { ...BASE, config: { ...PINNED, services: c.services } });
    expect(ctx.exitCode).toBe(0);
    expect(out.unitStatus?.name).toBe('blocked');
    if (typeof c.status === 'string') expect(out.unitStatus?.message).toBe(c.status);
    else expect(out.unitStatus?.message).toMatch(c.status);
    // Nothing applied: no ip change (the VRFs included), no drop-in, no reload, no restart.
    expect(applied(h)).toEqual([]);
    expect(systemctlCalls(h)).toEqual(c.reads);
    expect(await exists(h, DROPIN)).toBe(false);
    expect(await exists(h, PATHS.state)).toBe(false);
    expect(h.systemd!.unit('chrony.service').restarts).toBe(0);
  });

  test('on a converged host the last good state stays, the placed unit where it was', async () => {
    const h = await withUnits();
    const ctx = context(h);
    const good = await ctx.run(ctx.on.configChanged(), {
      ...BASE,
      config: { ...PINNED, services: 'chrony.service: storage' },
    });
    expect(good.unitStatus?.name).toBe('active');
    const batches = applied(h).length;
    const state = await readFile(join(h.root, PATHS.state), 'utf8');
    const out = await ctx.run(ctx.on.configChanged(), {
      ...BASE,
      config: { ...PINNED, services: 'chrony.service: storage\nntp@.service: public' },
    });
    expect(out.unitStatus).toEqual({
      name: 'blocked',
      message: 'services: ntp@.service is a template without an instance (name one, e.g. ntp@mgmt.service)',
    });
    expect(applied(h).length).toBe(batches);
    expect(await readFile(join(h.root, PATHS.state), 'utf8')).toBe(state);
    expect(h.systemd!.unit('chrony.service')).toMatchObject({ vrf: 'storage', restarts: 1 });
  });
});

describe('a good entry reaches the engine', () => {
  test('config-changed puts the unit in its VRF; the status is Active, with nothing to say of it', async () => {
    const h = await withUnits();
    const ctx = context(h);
    const out = await ctx.run(ctx.on.configChanged(), {
      ...BASE,
      config: { ...PINNED, services: '{chrony.service: storage}' },
    });
    expect(out.unitStatus?.name).toBe('active');
    expect(out.unitStatus?.message).toMatch(/^3 VRFs: /);
    expect(await readFile(join(h.root, DROPIN), 'utf8')).toContain(
      'ExecStart=/usr/sbin/ip vrf exec storage /usr/sbin/chronyd $DAEMON_OPTS',
    );
    expect(h.systemd!.unit('chrony.service')).toMatchObject({ vrf: 'storage', restarts: 1 });
    expect(ctx.jujuLog.some((l) => l.message.includes('systemctl try-restart -- chrony.service  # placed'))).toBe(true);
  });
});

describe('the status names a listed unit that is not there or has failed', () => {
  test('a unit that does not exist: Active, with a warning naming it; the rest is built', async () => {
    const h = await withUnits();
    const ctx = context(h);
    const out = await ctx.run(ctx.on.configChanged(), {
      ...BASE,
      config: { ...PINNED, services: 'chrony.service: storage\nntp.service: public' },
    });
    expect(out.unitStatus?.name).toBe('active');
    expect(out.unitStatus?.message).toMatch(
      /^services: ntp\.service is not a unit on this host \(not-found\): nothing done for it yet; 3 VRFs: /,
    );
    expect(out.unitStatus!.message.length).toBeLessThanOrEqual(140);
    expect(h.systemd!.unit('chrony.service').vrf).toBe('storage');
  });

  test('a try-restart that failed: named in this hook, and by every later one while the unit stays failed', async () => {
    const h = await withUnits();
    h.systemd!.failNextRestart('Job for chrony.service failed because the control process exited with error code.');
    const ctx = context(h);
    const config = { ...PINNED, services: 'chrony.service: storage' };
    const out = await ctx.run(ctx.on.configChanged(), { ...BASE, config });
    expect(out.unitStatus?.name).toBe('active');
    expect(out.unitStatus?.message).toMatch(
      /^services: `systemctl try-restart -- chrony\.service` failed \(exit 1\): Job for chrony\.service failed/,
    );
    const later = await ctx.run(ctx.on.updateStatus(), { ...BASE, config });
    expect(later.unitStatus?.name).toBe('active');
    expect(later.unitStatus?.message).toMatch(
      /^services: chrony\.service has failed \(ActiveState=failed\): not running in storage; 3 VRFs: public storage/,
    );
    // vrf-host does not start it again.
    expect(systemctlCalls(h).filter((c) => c === 'try-restart')).toHaveLength(1);
  });
});

describe('show-vrfs: per VRF, its placed units, each process and the ifindex', () => {
  type Nested = NestedResults;
  const at = (r: Nested, path: string): string | Nested | undefined =>
    path.split('.').reduce<string | Nested | undefined>((o, k) => (typeof o === 'object' ? o[k] : undefined), r);

  test('in the VRF, then a process outside it, then the VRF recreated under the unit', async () => {
    const h = await withUnits();
    const ctx = context(h);
    const config = { ...PINNED, services: 'chrony.service: storage' };
    const out = await ctx.run(ctx.on.configChanged(), { ...BASE, config });
    expect(out.unitStatus?.name).toBe('active');
    const pid = h.systemd!.unit('chrony.service').pid;
    const ifindex = h.current().links.find((l) => l.name === 'storage')!.ifindex;

    const show = async () => {
      const c = context(h);
      await c.run(c.on.action('show-vrfs'), { ...BASE, config });
      expect(c.actionFailure).toBeUndefined();
      return c.actionResults;
    };
    let r = await show();
    expect(at(r, 'vrfs.storage.services.0')).toEqual({
      unit: 'chrony.service',
      state: 'active',
      'in-vrf': 'true',
      processes: `${pid} storage`,
      'recorded-ifindex': String(ifindex),
      ifindex: String(ifindex),
    });
    expect(at(r, 'vrfs.public.services')).toBeUndefined();
    expect(r['summary']).toContain(
      `chrony.service in storage: active, 1 of 1 processes in storage, ifindex ${ifindex}`,
    );

    // A process of the unit left in its own cgroup (the default VRF): not every process is in the VRF.
    await writeFile(join(h.sys, 'fs/cgroup/system.slice/chrony.service/cgroup.procs'), '4242\n');
    await mkdir(join(h.proc, '4242'), { recursive: true });
    await writeFile(join(h.proc, '4242', 'cgroup'), '0::/system.slice/chrony.service\n');
    r = await show();
    expect(at(r, 'vrfs.storage.services.0.in-vrf')).toBe('false');
    expect(at(r, 'vrfs.storage.services.0.processes')).toBe(`${pid} storage, 4242 (default VRF)`);
    expect(r['summary']).toContain('1 of 2 processes in storage (4242 in the default VRF)');

    // The VRF deleted and created again: a new ifindex, which ip vrf identify cannot see.
    h.mutate((host) => ({
      ...host,
      links: host.links.map((l) => (l.name === 'storage' ? { ...l, ifindex: ifindex + 100 } : l)),
    }));
    r = await show();
    expect(at(r, 'vrfs.storage.services.0.recorded-ifindex')).toBe(String(ifindex));
    expect(at(r, 'vrfs.storage.services.0.ifindex')).toBe(String(ifindex + 100));
    expect(r['summary']).toContain(`ifindex ${ifindex + 100} (started with ${ifindex}`);
  });
});

describe('plan and apply name the services steps', () => {
  test('plan with a nested services mapping in its config: the steps after the ip ones; apply runs them', async () => {
    const h = await withUnits();
    const ctx = context(h);
    await ctx.run(ctx.on.install(), BASE);
    const plan = context(h);
    await plan.run(plan.on.action('plan', { config: { services: { 'chrony.service': 'storage' } } }), BASE);
    expect(plan.actionFailure).toBeUndefined();
    expect(plan.actionResults['summary']).toBe('3 services steps');
    expect(plan.actionResults['services']).toBe(
      [`write /${DROPIN}`, 'systemctl daemon-reload', 'systemctl try-restart -- chrony.service  # placed'].join('\n'),
    );
    expect(h.systemd!.unit('chrony.service').restarts).toBe(0);

    const apply = context(h);
    await apply.run(apply.on.action('apply'), { ...BASE, config: { ...PINNED, services: 'chrony.service: storage' } });
    expect(apply.actionFailure).toBeUndefined();
    expect(apply.actionResults['summary']).toBe('ran 3 services steps');
    expect(apply.actionResults['services']).toBe(plan.actionResults['services']);
    expect(h.systemd!.unit('chrony.service')).toMatchObject({ vrf: 'storage', restarts: 1 });
  });

  test('apply fails naming the services step that failed', async () => {
    const h = await withUnits();
    h.systemd!.failNextRestart('Job for chrony.service failed.');
    const apply = context(h);
    await apply.run(apply.on.action('apply'), { ...BASE, config: { ...PINNED, services: 'chrony.service: storage' } });
    expect(apply.actionFailure).toMatch(
      /^apply: services: step 3 of 3 failed: systemctl try-restart -- chrony\.service {2}# placed: `systemctl try-restart -- chrony\.service` failed \(exit 1\): Job for chrony\.service failed\.$/,
    );
  });
});
