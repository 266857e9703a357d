/**
 * A strict model of systemd behind a fake `systemctl`, for the runners and the engine: it answers
 * exactly the three commands vrf-host's runner may run (`show --property=<SHOW_PROPERTIES> -- UNIT…`,
 * `daemon-reload`, `try-restart -- UNIT…`) and throws on anything else, so a test fails loudly on
 * an unexpected call. Its units live under a test root (their fragments under /lib/systemd/system)
 * and a test /proc: a restart gives the unit a new main process whose `/proc/PID/cgroup` is in
 * `<unit>/vrf/<VRF>` when the drop-in systemd loaded at its last daemon-reload runs it under
 * `ip vrf exec`, as systemd and ip do.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Spawn, SpawnResult } from '../../../../src/vrf/ip.js';
import { SHOW_PROPERTIES } from '../../../../src/vrf/services/unit-state.js';

export const SYSTEMCTL = '/fake/bin/systemctl';

export interface FakeUnitSpec {
  readonly name: string;
  /** The fragment's text (written to ROOT/lib/systemd/system/NAME); absent: a unit systemd has no file for. */
  readonly fragment?: string;
  readonly active?: boolean;
  readonly user?: string;
}

interface UnitModel {
  readonly name: string;
  fragment: boolean;
  active: boolean;
  /** Its last start failed (systemd's ActiveState=failed): not running, and try-restart leaves it alone. */
  failed: boolean;
  user: string;
  pid: number;
  /** The drop-ins systemd loaded at the last daemon-reload (absolute paths). */
  dropIns: string[];
  /** What the loaded drop-in of vrf-host said when the unit was last (re)started: its VRF or ''. */
  vrf: string;
  restarts: number;
}

export interface FakeSystemd {
  /** Wraps the spawn every other command goes to (the fake ip); systemctl is answered here. */
  spawn(base: Spawn): Spawn;
  /** Every systemctl argv, in order, and (with `log`) every other command too, as `[file, ...args]`. */
  readonly log: string[][];
  unit(name: string): Readonly<UnitModel>;
  /** Another actor: the unit's fragment rewritten (a package upgrade), not yet reloaded. */
  rewrite(name: string, fragment: string): Promise<void>;
  /** Fails the next `try-restart` with this message; the units it would restart are left failed. */
  failNextRestart(message: string): void;
}

const ok = (stdout = ''): SpawnResult => ({ exitCode: 0, stdout, stderr: '' });

export async function fakeSystemd(
  root: string,
  procRoot: string,
  specs: readonly FakeUnitSpec[],
  /** With a /sys: the unit's cgroup2 directory lists its main process in cgroup.procs, as the kernel does. */
  sysRoot?: string,
): Promise<FakeSystemd> {
  const units = new Map<string, UnitModel>();
  let nextPid = 1000;
  let failRestart: string | null = null;
  const log: string[][] = [];
  const libDir = join(root, 'lib/systemd/system');
  await mkdir(libDir, { recursive: true });

  const writeCgroup = async (u: UnitModel) => {
    await mkdir(join(procRoot, String(u.pid)), { recursive: true });
    const cg = `/system.slice/${u.name}${u.vrf ? `/vrf/${u.vrf}` : ''}`;
    await writeFile(join(procRoot, String(u.pid), 'cgroup'), `0::${cg}\n`);
    if (sysRoot === undefined) return;
    const unitDir = join(sysRoot, 'fs/cgroup/system.slice', u.name);
    await rm(unitDir, { recursive: true, force: true });
    await mkdir(join(sysRoot, 'fs/cgroup', cg), { recursive: true });
    await writeFile(join(sysRoot, 'fs/cgroup', cg, 'cgroup.procs'), `${u.pid}\n`);
  };
  const loadedVrf = async (u: UnitModel): Promise<string> => {
    for (const d of u.dropIns) {
      const text = await readFile(join(root, d), 'utf8').catch(() => '');
      const m = /ip vrf exec (\S+)/.exec(text);
      if (m) return m[1]!;
    }
    return '';
  };
  const start = async (u: UnitModel) => {
    if (u.pid > 0) await rm(join(procRoot, String(u.pid)), { recursive: true, force: true });
    u.pid = nextPid++;
    u.vrf = await loadedVrf(u);
    await writeCgroup(u);
  };
  const reload = async () => {
    for (const u of units.values()) {
      const dir = `/etc/systemd/system/${u.name}.d`;
      const names = await readdir(join(root, dir)).catch(() => [] as string[]);
      u.dropIns = names
        .filter((n) => n.endsWith('.conf'))
        .sort()
        .map((n) => `${dir}/${n}`);
    }
  };

  for (const s of specs) {
    const u: UnitModel = {
      name: s.name,
      fragment: s.fragment !== undefined,
      active: (s.active ?? true) && s.fragment !== undefined,
      failed: false,
      user: s.user ?? '',
      pid: 0,
      dropIns: [],
      vrf: '',
      restarts: 0,
    };
    if (s.fragment !== undefined) await writeFile(join(libDir, s.name), s.fragment);
    units.set(s.name, u);
  }
  await reload();
  for (const u of units.values()) if (u.active) await start(u);

  const showBlock = (name: string): string => {
    const u = units.get(name);
    const loaded = u?.fragment === true;
    const v: Record<(typeof SHOW_PROPERTIES)[number], string> = {
      Id: name,
      LoadState: loaded ? 'loaded' : 'not-found',
      ActiveState: u?.active ? 'active' : u?.failed ? 'failed' : 'inactive',
      MainPID: String(u?.active ? u.pid : 0),
      Type: 'simple',
      FragmentPath: loaded ? `/lib/systemd/system/${name}` : '',
      DropInPaths: (u?.dropIns ?? []).join(' '),
      User: u?.user ?? '',
      DynamicUser: 'no',
      ProtectControlGroups: 'no',
      PrivateNetwork: 'no',
      NetworkNamespacePath: '',
      RootDirectory: '',
      RootImage: '',
      Before: 'multi-user.target shutdown.target',
    };
    return SHOW_PROPERTIES.map((k) => `${k}=${v[k]}\n`).join('');
  };

  const systemctl = async (args: readonly string[]): Promise<SpawnResult> => {
    const [cmd, ...rest] = args;
    if (cmd === 'show') {
      if (rest[0] !== `--property=${SHOW_PROPERTIES.join(',')}` || rest[1] !== '--' || rest.length < 3)
        throw new Error(`fake systemctl: unexpected show argv ${JSON.stringify(args)}`);
      return ok(rest.slice(2).map(showBlock).join('\n'));
    }
    if (cmd === 'daemon-reload' && rest.length === 0) {
      await reload();
      return ok();
    }
    if (cmd === 'try-restart' && rest[0] === '--' && rest.length >= 2) {
      if (failRestart !== null) {
        const m = failRestart;
        failRestart = null;
        // As systemd: the start failed, so the units that ran are now failed, with no process.
        for (const name of rest.slice(1)) {
          const u = units.get(name);
          if (u === undefined || !u.active) continue;
          await rm(join(procRoot, String(u.pid)), { recursive: true, force: true });
          Object.assign(u, { active: false, failed: true, pid: 0 });
        }
        return { exitCode: 1, stdout: '', stderr: m };
      }
      for (const name of rest.slice(1)) {
        const u = units.get(name);
        if (u === undefined) throw new Error(`fake systemctl: try-restart of a unit the test never made: ${name}`);
        if (!u.active) continue;
        u.restarts++;
        await start(u);
      }
      return ok();
    }
    throw new Error(`fake systemctl: unexpected call ${JSON.stringify(args)}`);
  };

  return {
    log,
    spawn: (base) => async (file, args, options) => {
      log.push([file, ...args]);
      if (file === SYSTEMCTL) return systemctl(args);
      if (/systemctl/.test(file)) throw new Error(`fake systemctl: called as ${file}, not ${SYSTEMCTL}`);
      return base(file, args, options);
    },
    unit: (name) => {
      const u = units.get(name);
      if (u === undefined) throw new Error(`no unit ${name}`);
      return u;
    },
    async rewrite(name, fragment) {
      await writeFile(join(libDir, name), fragment);
    },
    failNextRestart(message) {
      failRestart = message;
    },
  };
}
