/**
 * The systemd runner (src/vrf/systemctl.ts) and the services' reads and steps (services/read.ts,
 * services/apply.ts) against a strict fake: every process is checked against the argv it must
 * have, and any other call fails the test.
 */
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { observeFileReads, type FileRead } from '../../../src/vrf/files.js';
import type { Spawn, SpawnResult } from '../../../src/vrf/ip.js';
import { applyServiceSteps, renderServiceStep } from '../../../src/vrf/services/apply.js';
import type { ServiceStep } from '../../../src/vrf/services/plan.js';
import { readServices } from '../../../src/vrf/services/read.js';
import { SHOW_PROPERTIES } from '../../../src/vrf/services/unit-state.js';
import { daemonReload, SystemctlError, systemctlShow, tryRestart, UnitNameError } from '../../../src/vrf/systemctl.js';
import { CHRONY_SHOW } from './services/fixtures.js';
import { fakeSystemd, SYSTEMCTL } from './services/systemd.fake.js';

const PROPS = `--property=${SHOW_PROPERTIES.join(',')}`;

/** A spawn that expects exactly these calls, in order, and answers each as given. */
function strict(expected: { argv: readonly string[]; result: SpawnResult }[]): { spawn: Spawn; left: () => number } {
  const queue = [...expected];
  return {
    spawn: (file, args) => {
      const next = queue.shift();
      if (next === undefined) throw new Error(`unexpected call: ${file} ${args.join(' ')}`);
      expect([file, ...args]).toEqual([SYSTEMCTL, ...next.argv]);
      return Promise.resolve(next.result);
    },
    left: () => queue.length,
  };
}
const ok = (stdout = ''): SpawnResult => ({ exitCode: 0, stdout, stderr: '' });
const never: Spawn = (file, args) => {
  throw new Error(`no process may start: ${file} ${args.join(' ')}`);
};

const NOT_FOUND = CHRONY_SHOW.replace('Id=chrony.service', 'Id=bacula-fd.service')
  .replace('LoadState=loaded', 'LoadState=not-found')
  .replace('ActiveState=active', 'ActiveState=inactive')
  .replace('MainPID=612', 'MainPID=0')
  .replace(/FragmentPath=.*/, 'FragmentPath=')
  .replace(/DropInPaths=.*/, 'DropInPaths=');

describe('systemctlShow', () => {
  it('runs ONE systemctl show for every unit, after --, and parses one block per unit in the order asked', async () => {
    const f = strict([
      {
        argv: ['show', PROPS, '--', 'chrony.service', 'bacula-fd.service'],
        result: ok(`${CHRONY_SHOW}\n${NOT_FOUND}`),
      },
    ]);
    const r = await systemctlShow(['chrony.service', 'bacula-fd.service', 'chrony.service'], {
      systemctlBin: SYSTEMCTL,
      spawn: f.spawn,
    });
    expect(f.left()).toBe(0);
    expect([...r.keys()]).toEqual(['chrony.service', 'bacula-fd.service']);
    expect(r.get('chrony.service')).toMatchObject({ LoadState: 'loaded', MainPID: 612, Type: 'forking' });
    expect(r.get('bacula-fd.service')).toMatchObject({ LoadState: 'not-found', MainPID: 0, DropInPaths: [] });
  });

  it('starts no process for no units', async () => {
    expect((await systemctlShow([], { systemctlBin: SYSTEMCTL, spawn: never })).size).toBe(0);
  });

  it.each([['-x.service'], ['ntp@.service'], ['jujud-machine-0.service'], ['a b.service'], ['x.socket']])(
    'refuses %j before any process starts',
    async (bad) => {
      await expect(systemctlShow(['chrony.service', bad], { systemctlBin: SYSTEMCTL, spawn: never })).rejects.toThrow(
        UnitNameError,
      );
    },
  );

  it('a failing systemctl is a SystemctlError with its command, exit code and stderr', async () => {
    const f = strict([
      {
        argv: ['show', PROPS, '--', 'chrony.service'],
        result: { exitCode: 1, stdout: '', stderr: 'Failed to connect to bus: No such file or directory\n' },
      },
    ]);
    const e = await systemctlShow(['chrony.service'], { systemctlBin: SYSTEMCTL, spawn: f.spawn }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SystemctlError);
    expect(e).toMatchObject({
      name: 'SystemctlError',
      exitCode: 1,
      command: [SYSTEMCTL, 'show', PROPS, '--', 'chrony.service'],
    });
    expect((e as Error).message).toContain('Failed to connect to bus');
  });

  it('fewer blocks than units, or a block it cannot read, is an error naming the unit', async () => {
    const short = strict([{ argv: ['show', PROPS, '--', 'chrony.service', 'b.service'], result: ok(CHRONY_SHOW) }]);
    await expect(
      systemctlShow(['chrony.service', 'b.service'], { systemctlBin: SYSTEMCTL, spawn: short.spawn }),
    ).rejects.toThrow(/printed 1 unit\(s\) for the 2 asked/);
    const bad = strict([
      {
        argv: ['show', PROPS, '--', 'chrony.service'],
        result: ok(CHRONY_SHOW.replace('DynamicUser=no', 'DynamicUser=maybe')),
      },
    ]);
    await expect(systemctlShow(['chrony.service'], { systemctlBin: SYSTEMCTL, spawn: bad.spawn })).rejects.toThrow(
      /^chrony\.service: systemctl show: DynamicUser/,
    );
  });
});

describe('daemonReload and tryRestart', () => {
  it('daemon-reload is exactly `systemctl daemon-reload`', async () => {
    const f = strict([{ argv: ['daemon-reload'], result: ok() }]);
    await daemonReload({ systemctlBin: SYSTEMCTL, spawn: f.spawn });
    expect(f.left()).toBe(0);
  });

  it('try-restart is one process for all units, after --; none: no process', async () => {
    const f = strict([{ argv: ['try-restart', '--', 'a.service', 'b@x.service'], result: ok() }]);
    await tryRestart(['a.service', 'b@x.service', 'a.service'], { systemctlBin: SYSTEMCTL, spawn: f.spawn });
    expect(f.left()).toBe(0);
    await tryRestart([], { systemctlBin: SYSTEMCTL, spawn: never });
  });

  it('a failed restart throws with what systemctl said', async () => {
    const f = strict([
      {
        argv: ['try-restart', '--', 'a.service'],
        result: { exitCode: 1, stdout: '', stderr: 'Job for a.service failed because the control process exited.' },
      },
    ]);
    await expect(tryRestart(['a.service'], { systemctlBin: SYSTEMCTL, spawn: f.spawn })).rejects.toThrow(
      /`systemctl try-restart -- a.service` failed \(exit 1\): Job for a.service failed/,
    );
  });
});

async function dirs() {
  const base = await mkdtemp(join(tmpdir(), 'vrf-svc-'));
  const root = join(base, 'root');
  const procRoot = join(base, 'proc');
  await mkdir(root, { recursive: true });
  await mkdir(procRoot, { recursive: true });
  return { root, procRoot };
}

describe('readServices', () => {
  it("reads each unit's files and main process's cgroup through files.ts (the memo sees every read), one show for all", async () => {
    const { root, procRoot } = await dirs();
    const sd = await fakeSystemd(root, procRoot, [
      { name: 'chrony.service', fragment: '[Service]\nExecStart=/usr/sbin/chronyd -F 1\n' },
      { name: 'gone.service' },
    ]);
    await mkdir(join(root, 'etc/systemd/system/chrony.service.d'), { recursive: true });
    await writeFile(
      join(root, 'etc/systemd/system/chrony.service.d/10-opts.conf'),
      '[Service]\nExecStart=\nExecStart=/usr/sbin/chronyd -x\n',
    );
    const reads: FileRead[] = [];
    const seen: string[][] = [];
    const spawn = sd.spawn(never);
    // Not reloaded: systemd does not know the drop-in yet, and it is not read.
    const before = await observeFileReads(
      (r) => reads.push(r),
      () =>
        readServices(['chrony.service', 'gone.service'], {
          root,
          procRoot,
          systemctlBin: SYSTEMCTL,
          spawn: async (f, a, o) => {
            seen.push([f, ...a]);
            return spawn(f, a, o);
          },
        }),
    );
    expect(seen).toEqual([[SYSTEMCTL, 'show', PROPS, '--', 'chrony.service', 'gone.service']]);
    expect(before.get('chrony.service')).toMatchObject({
      execStart: ['/usr/sbin/chronyd -F 1'],
      dropIn: null,
      dirExists: true,
      processVrf: '',
    });
    expect(before.get('gone.service')).toMatchObject({ execStart: [], processVrf: undefined });
    const paths = reads.map((r) => r.path.slice(r.path.startsWith(root) ? root.length : procRoot.length));
    expect(paths).toEqual(
      expect.arrayContaining([
        '/lib/systemd/system/chrony.service',
        '/etc/systemd/system/chrony.service.d/50-vrf-host-vrf.conf',
        '/etc/systemd/system/chrony.service.d',
        `/${sd.unit('chrony.service').pid}/cgroup`,
      ]),
    );
    // Reloaded: the drop-in systemd lists is read, and its reset counts.
    await spawn(SYSTEMCTL, ['daemon-reload'], {});
    const after = await readServices(['chrony.service'], { root, procRoot, systemctlBin: SYSTEMCTL, spawn });
    expect(after.get('chrony.service')?.execStart).toEqual(['/usr/sbin/chronyd -x']);
  });
});

describe('applyServiceSteps', () => {
  const write = (unit: string, content: string): ServiceStep => ({
    kind: 'write-dropin',
    unit,
    path: `etc/systemd/system/${unit}.d/50-vrf-host-vrf.conf`,
    content,
  });

  it('writes, reloads once, restarts consecutive units in one process; removes a drop-in and the directory it created', async () => {
    const { root, procRoot } = await dirs();
    const sd = await fakeSystemd(root, procRoot, [
      { name: 'a.service', fragment: '[Service]\nExecStart=/bin/a\n' },
      { name: 'b.service', fragment: '[Service]\nExecStart=/bin/b\n' },
    ]);
    const content = '[Service]\nExecStart=\nExecStart=/usr/sbin/ip vrf exec storage /bin/a\n';
    const steps: ServiceStep[] = [
      write('a.service', content),
      write('b.service', content.replace('/bin/a', '/bin/b')),
      { kind: 'daemon-reload' },
      { kind: 'try-restart', unit: 'a.service', reason: 'placed' },
      { kind: 'try-restart', unit: 'b.service', reason: 'placed' },
    ];
    const o = { root, systemctlBin: SYSTEMCTL, spawn: sd.spawn(never) };
    const r = await applyServiceSteps(steps, o);
    expect(r.failure).toBeNull();
    expect(r.applied.map((p) => p.command)).toEqual(
      [
        '/etc/systemd/system/a.service.d/50-vrf-host-vrf.conf',
        '/etc/systemd/system/b.service.d/50-vrf-host-vrf.conf',
        'systemctl daemon-reload',
        'systemctl try-restart -- a.service  # placed',
        'systemctl try-restart -- b.service  # placed',
      ].map((c, i) => (i < 2 ? `write ${c}` : c)),
    );
    expect(sd.log).toEqual([
      [SYSTEMCTL, 'daemon-reload'],
      [SYSTEMCTL, 'try-restart', '--', 'a.service', 'b.service'],
    ]);
    expect(await readFile(join(root, steps[0]!.kind === 'write-dropin' ? steps[0]!.path : ''), 'utf8')).toBe(content);
    expect(sd.unit('a.service').vrf).toBe('storage');
    expect(sd.unit('b.service').vrf).toBe('storage');

    // Released: a's directory was vrf-host's and goes; b's holds another file and stays.
    await writeFile(join(root, 'etc/systemd/system/b.service.d/20-other.conf'), '[Unit]\n');
    const back = await applyServiceSteps(
      [
        {
          kind: 'remove-dropin',
          unit: 'a.service',
          path: 'etc/systemd/system/a.service.d/50-vrf-host-vrf.conf',
          removeDir: true,
        },
        {
          kind: 'remove-dropin',
          unit: 'b.service',
          path: 'etc/systemd/system/b.service.d/50-vrf-host-vrf.conf',
          removeDir: true,
        },
        { kind: 'daemon-reload' },
        { kind: 'try-restart', unit: 'a.service', reason: 'released' },
      ],
      o,
    );
    expect(back.failure).toBeNull();
    await expect(stat(join(root, 'etc/systemd/system/a.service.d'))).rejects.toThrow(/ENOENT/);
    expect((await stat(join(root, 'etc/systemd/system/b.service.d/20-other.conf'))).isFile()).toBe(true);
    await expect(stat(join(root, 'etc/systemd/system/b.service.d/50-vrf-host-vrf.conf'))).rejects.toThrow(/ENOENT/);
    expect(sd.unit('a.service').vrf).toBe('');
  });

  it('stops at a failed restart: the steps before it ran, none after it, and the failure names the command', async () => {
    const { root, procRoot } = await dirs();
    const sd = await fakeSystemd(root, procRoot, [{ name: 'a.service', fragment: '[Service]\nExecStart=/bin/a\n' }]);
    sd.failNextRestart('Job for a.service failed.');
    const steps: ServiceStep[] = [
      { kind: 'daemon-reload' },
      { kind: 'try-restart', unit: 'a.service', reason: 'vrf-recreated' },
      write('a.service', 'x'),
    ];
    const r = await applyServiceSteps(steps, { root, systemctlBin: SYSTEMCTL, spawn: sd.spawn(never) });
    expect(r.applied.map((p) => p.command)).toEqual(['systemctl daemon-reload']);
    expect(r.failure).toMatchObject({
      index: 1,
      command: 'systemctl try-restart -- a.service  # vrf-recreated',
      error: expect.stringContaining('Job for a.service failed.'),
    });
    await expect(stat(join(root, 'etc/systemd/system/a.service.d'))).rejects.toThrow(/ENOENT/);
  });

  it('renders every kind of step as the command it stands for', () => {
    expect(
      renderServiceStep({
        kind: 'remove-dropin',
        unit: 'a.service',
        path: 'etc/systemd/system/a.service.d/50-vrf-host-vrf.conf',
        removeDir: true,
      }),
    ).toBe(
      'remove /etc/systemd/system/a.service.d/50-vrf-host-vrf.conf and its directory /etc/systemd/system/a.service.d',
    );
    expect(
      renderServiceStep({
        kind: 'remove-dropin',
        unit: 'a.service',
        path: 'etc/systemd/system/a.service.d/50-vrf-host-vrf.conf',
        removeDir: false,
      }),
    ).toBe('remove /etc/systemd/system/a.service.d/50-vrf-host-vrf.conf');
  });
});
