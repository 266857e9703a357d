/**
 * The services inside a VRF in the engine: converge runs them after the ip apply (the VRF exists
 * with its final ifindex), a bad entry blocks everything (the ip part too), a dry run prints the
 * steps, and teardown releases them before the ip teardown deletes the VRFs. The host is the
 * recorded maas-host with the kernel model (engine.host.ts) and a strict model of systemd
 * (services/systemd.fake.ts) behind a fake systemctl.
 */
import { jest } from '@jest/globals';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEngineConfig } from '../../../src/vrf/config.js';
import { converge, observeHost, teardown } from '../../../src/vrf/engine.js';
import type { Spawn } from '../../../src/vrf/ip.js';
import { PATHS, readState, under } from '../../../src/vrf/persist.js';
import { maasInputs, modelledHost, testHost } from './engine.host.js';
import { fakeSystemd, type FakeUnitSpec, SYSTEMCTL } from './services/systemd.fake.js';

jest.setTimeout(60_000);

const CHRONY = '[Unit]\nDescription=chrony\n\n[Service]\nType=forking\nExecStart=/usr/sbin/chronyd $DAEMON_OPTS\n';
const DROPIN = 'etc/systemd/system/chrony.service.d/50-vrf-host-vrf.conf';

function inputs(services: string) {
  const r = parseEngineConfig({ services });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return maasInputs(r.config);
}

async function setup(units: readonly FakeUnitSpec[] = [{ name: 'chrony.service', fragment: CHRONY }]) {
  const h = await testHost();
  const m = modelledHost();
  const sd = await fakeSystemd(h.root, h.procRoot, units);
  const opts = { ...h.opts, deps: m.deps, spawn: sd.spawn(m.spawn), systemctlBin: SYSTEMCTL };
  /** The log, as what each call did: `show`, `ip-change` (an apply batch), `daemon-reload`, `try-restart UNIT…`. */
  const kinds = () =>
    sd.log.flatMap((c) => {
      if (c[0] === SYSTEMCTL) return [c[1] === 'try-restart' ? `try-restart ${c.slice(3).join(' ')}` : c[1]!];
      return c.includes('-batch') && !c.includes('-json') ? ['ip-change'] : [];
    });
  const storageIfindex = async () =>
    (await observeHost({ ...opts })).links.find((l) => l.name === 'storage' && l.kind === 'vrf')?.ifindex;
  return { h, m, sd, opts, kinds, storageIfindex };
}

describe('converge with services', () => {
  it('places the unit after the ip apply: show before anything, then the VRFs, then drop-in, reload, restart', async () => {
    const { h, sd, opts, kinds, storageIfindex } = await setup();
    const r = await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    const k = kinds();
    expect(k[0]).toBe('show');
    expect(k.lastIndexOf('ip-change')).toBeGreaterThan(0);
    expect(k.slice(k.lastIndexOf('ip-change') + 1)).toEqual(['daemon-reload', 'try-restart chrony.service']);
    expect(r.services.applied.map((p) => p.command)).toEqual([
      `write /${DROPIN}`,
      'systemctl daemon-reload',
      'systemctl try-restart -- chrony.service  # placed',
    ]);
    const dropIn = await readFile(under(h.root, DROPIN), 'utf8');
    expect(dropIn).toContain('\nExecStart=\nExecStart=/usr/sbin/ip vrf exec storage /usr/sbin/chronyd $DAEMON_OPTS\n');
    // The unit's main process is in storage, started after storage had the ifindex the ledger records.
    expect(sd.unit('chrony.service')).toMatchObject({ vrf: 'storage', restarts: 1 });
    const s = (await readState(h.root))!;
    expect(s.applying).toBe(false);
    expect(s.ledger.services).toEqual([
      {
        unit: 'chrony.service',
        vrf: 'storage',
        ifindex: await storageIfindex(),
        execStart: ['/usr/sbin/chronyd $DAEMON_OPTS'],
        path: DROPIN,
        createdDir: true,
      },
    ]);
    expect(s.ledger.vrfs).toEqual({ public: 1001, storage: 1002, 'storage-cluster': 1003 });
  });

  it('a second run changes nothing and restarts nothing (one systemctl show, no write)', async () => {
    const { h, sd, opts, kinds } = await setup();
    await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    const recorded = (await readState(h.root))!.ledger.services;
    const pid = sd.unit('chrony.service').pid;
    const n = sd.log.length;
    const r = await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(r.planned).toEqual([]);
    expect(r.services.planned).toEqual([]);
    expect(kinds().slice(-1)).toEqual(['show']);
    expect(sd.log.slice(n).filter((c) => c[0] === SYSTEMCTL)).toHaveLength(1);
    expect(sd.unit('chrony.service')).toMatchObject({ pid, restarts: 1 });
    expect((await readState(h.root))!.ledger.services).toEqual(recorded);
  });

  it('a VRF whose ifindex is not the recorded one restarts its unit (vrf-recreated) and records the new one', async () => {
    const { h, sd, opts, storageIfindex } = await setup();
    await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    const now = (await storageIfindex())!;
    const text = await readFile(under(h.root, PATHS.state), 'utf8');
    await writeFile(under(h.root, PATHS.state), text.replace(`"ifindex": ${now}`, `"ifindex": ${now + 50}`));
    const r = await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(r.services.applied.map((p) => p.command)).toEqual([
      'systemctl try-restart -- chrony.service  # vrf-recreated',
    ]);
    expect(sd.unit('chrony.service').restarts).toBe(2);
    expect((await readState(h.root))!.ledger.services?.[0]?.ifindex).toBe(now);
  });

  it("the unit's own ExecStart changed (a package upgrade): the drop-in is rendered again and the unit restarted", async () => {
    const { h, sd, opts } = await setup();
    await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    await sd.rewrite('chrony.service', CHRONY.replace('$DAEMON_OPTS', '-F 1 $DAEMON_OPTS'));
    const r = await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    expect(r.services.applied.map((p) => p.command)).toEqual([
      `write /${DROPIN}`,
      'systemctl daemon-reload',
      'systemctl try-restart -- chrony.service  # command-changed',
    ]);
    expect(await readFile(under(h.root, DROPIN), 'utf8')).toContain(
      'vrf exec storage /usr/sbin/chronyd -F 1 $DAEMON_OPTS\n',
    );
  });

  it('a dry run prints the services steps after the ip steps and changes nothing', async () => {
    const { h, sd, opts, kinds } = await setup();
    const r = await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0', dryRun: true });
    expect(r.ok).toBe(true);
    expect(r.planned.length).toBeGreaterThan(10);
    expect(r.services.planned.map((p) => p.command)).toEqual([
      `write /${DROPIN}`,
      'systemctl daemon-reload',
      'systemctl try-restart -- chrony.service  # placed',
    ]);
    expect(kinds()).toEqual(['show']);
    await expect(stat(under(h.root, 'etc/systemd/system/chrony.service.d'))).rejects.toThrow(/ENOENT/);
    expect(await readState(h.root)).toBeNull();
    expect(sd.unit('chrony.service').restarts).toBe(0);
  });

  it.each([
    ['a unit running as User=nobody', 'web.service: storage', /services: web\.service: runs as User=nobody/],
    [
      'a binding that stays in main',
      'chrony.service: mgmt',
      /services: chrony\.service: names mgmt, which stays in the main table/,
    ],
    [
      'a VRF that is not one of the unit',
      'chrony.service: backup',
      /services: chrony\.service: names backup, which is not a VRF/,
    ],
  ])(
    '%s blocks, naming the entry, and NOTHING is applied (not the ip part either)',
    async (_what, services, message) => {
      const { h, sd, opts, kinds } = await setup([
        { name: 'chrony.service', fragment: CHRONY },
        { name: 'web.service', fragment: '[Service]\nUser=nobody\nExecStart=/usr/bin/web\n', user: 'nobody' },
      ]);
      const r = await converge({ ...opts, inputs: inputs(services), unit: 'vrf-host/0' });
      expect(r.ok).toBe(false);
      expect(r.problems.map((p) => `${p.field}: ${p.message}`).join('\n')).toMatch(message);
      expect(r.applied).toEqual([]);
      expect(kinds().filter((k) => k !== 'show')).toEqual([]);
      expect(await readState(h.root)).toBeNull();
      await expect(stat(under(h.root, 'etc/systemd/system/web.service.d'))).rejects.toThrow(/ENOENT/);
      expect(await h.sysctl('net.ipv4.tcp_l3mdev_accept')).toBe('0');
      expect(sd.unit('chrony.service').restarts).toBe(0);
    },
  );

  it('a unit that is not on the host gets nothing and a warning; the rest converges', async () => {
    const { h, opts } = await setup();
    const r = await converge({ ...opts, inputs: inputs('bacula-fd.service: storage'), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(r.warnings).toContainEqual({
      field: 'services: bacula-fd.service',
      message: expect.stringContaining('is not a unit on this host (not-found)'),
    });
    expect(r.services.planned).toEqual([]);
    expect((await readState(h.root))!.ledger.services).toBeUndefined();
  });

  it('the option emptied: the drop-in and its directory go, one reload, the unit restarted back into the default VRF', async () => {
    const { h, sd, opts } = await setup();
    await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    const r = await converge({ ...opts, inputs: inputs(''), unit: 'vrf-host/0' });
    expect(r.services.applied.map((p) => p.command)).toEqual([
      `remove /${DROPIN} and its directory /etc/systemd/system/chrony.service.d`,
      'systemctl daemon-reload',
      'systemctl try-restart -- chrony.service  # released',
    ]);
    expect(sd.unit('chrony.service').vrf).toBe('');
    await expect(stat(under(h.root, 'etc/systemd/system/chrony.service.d'))).rejects.toThrow(/ENOENT/);
    expect((await readState(h.root))!.ledger.services).toBeUndefined();
  });

  it('a failed restart fails the converge and keeps the record (teardown still finds the drop-in)', async () => {
    const { h, sd, opts } = await setup();
    sd.failNextRestart('Job for chrony.service failed.');
    const r = await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    expect(r.ok).toBe(false);
    expect(r.failure).toBeNull();
    expect(r.services.failure).toMatchObject({ command: 'systemctl try-restart -- chrony.service  # placed' });
    expect((await readState(h.root))!.ledger.services?.map((s) => s.path)).toEqual([DROPIN]);
  });

  it('the records are written ahead: when the drop-in is on disk and systemd is asked to reload, state.json names it', async () => {
    const { h, opts } = await setup();
    const seen: { args: string; applying: boolean | undefined; recorded: string[] | undefined; onDisk: boolean }[] = [];
    const spawn: Spawn = async (file, args, o) => {
      if (file === SYSTEMCTL && args[0] !== 'show') {
        const s = await readState(h.root);
        const onDisk = await stat(under(h.root, DROPIN)).then(
          () => true,
          () => false,
        );
        seen.push({
          args: args.join(' '),
          applying: s?.applying,
          recorded: s?.ledger.services?.map((r) => r.path),
          onDisk,
        });
      }
      return opts.spawn(file, args, o);
    };
    const r = await converge({ ...opts, spawn, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    expect(r.ok).toBe(true);
    expect(seen).toEqual([
      { args: 'daemon-reload', applying: true, recorded: [DROPIN], onDisk: true },
      { args: 'try-restart -- chrony.service', applying: true, recorded: [DROPIN], onDisk: true },
    ]);
    expect((await readState(h.root))!.applying).toBe(false);
  });

  it('a replay (no inputs: the boot unit) keeps the placed units: nothing to do on a converged host', async () => {
    const { sd, opts } = await setup();
    await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    const r = await converge({ ...opts });
    expect(r.ok).toBe(true);
    expect(r.services.planned).toEqual([]);
    expect(sd.unit('chrony.service')).toMatchObject({ vrf: 'storage', restarts: 1 });
  });
});

describe('teardown with services', () => {
  it('releases the services first (drop-in and directory gone, one reload, restarted into the default VRF), then the ip teardown', async () => {
    const { h, sd, opts, kinds } = await setup();
    await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    const fragment = await readFile(join(h.root, 'lib/systemd/system/chrony.service'));
    const n = kinds().length;
    const t = await teardown({ ...opts, unit: 'vrf-host/0' });
    expect(t.ok).toBe(true);
    expect(t.tornDown).toBe(true);
    const after = kinds().slice(n);
    expect(after.slice(0, 4)).toEqual(['show', 'daemon-reload', 'try-restart chrony.service', 'ip-change']);
    expect(after.slice(4).every((k) => k === 'ip-change')).toBe(true);
    expect(t.services.applied.map((p) => p.command)).toEqual([
      `remove /${DROPIN} and its directory /etc/systemd/system/chrony.service.d`,
      'systemctl daemon-reload',
      'systemctl try-restart -- chrony.service  # released',
    ]);
    expect(sd.unit('chrony.service')).toMatchObject({ vrf: '', restarts: 2 });
    await expect(stat(under(h.root, 'etc/systemd/system/chrony.service.d'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(h.root, 'lib/systemd/system/chrony.service'))).toEqual(fragment);
    expect(await readState(h.root)).toBeNull();
  });

  it('a dry run lists the services steps and touches nothing', async () => {
    const { h, sd, opts, kinds } = await setup();
    await converge({ ...opts, inputs: inputs('chrony.service: storage'), unit: 'vrf-host/0' });
    const n = kinds().length;
    const t = await teardown({ ...opts, unit: 'vrf-host/0', dryRun: true });
    expect(t.services.planned.map((p) => p.command)).toEqual([
      `remove /${DROPIN} and its directory /etc/systemd/system/chrony.service.d`,
      'systemctl daemon-reload',
      'systemctl try-restart -- chrony.service  # released',
    ]);
    expect(kinds().slice(n)).toEqual(['show']);
    expect(sd.unit('chrony.service').vrf).toBe('storage');
    expect((await stat(under(h.root, DROPIN))).isFile()).toBe(true);
  });
});
