/**
 * A fake machine for the charm's in-process tests: a temporary root (/etc,
 * /var/lib, /run), /proc/sys files for the sysctls vrf-host owns, a /sys with
 * or without the vrf module, and an in-process `ip` whose kernel is the kernel model (src/vrf/model.ts)
 * (src/vrf/model.ts) started from the host recorded on Debian's 6.1 kernel
 * (tests/fixtures/ip/maas-host). Apply lines are mapped back to the steps
 * render.ts made them from and run through the model, so after an apply the
 * engine observes the host the kernel would show (and a converged host plans
 * nothing). Nothing here touches the real machine.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CharmHost } from '../../../src/charm/host.js';
import type { Spawn, SpawnResult } from '../../../src/vrf/ip.js';
import { simulate } from '../../../src/vrf/model.js';
import { parseObserved } from '../../../src/vrf/observe.js';
import { renderCommand, renderStep } from '../../../src/vrf/render.js';
import { readSysctls } from '../../../src/vrf/sysctl.js';
import { OWNED_SYSCTLS, type ObservedHost, type Step } from '../../../src/vrf/types.js';
import { type FakeSystemd, fakeSystemd, type FakeUnitSpec, SYSTEMCTL } from '../vrf/services/systemd.fake.js';

const FIX = join(process.cwd(), 'tests/fixtures/ip');
export const CONTROLLERS = ['10.100.0.5', '2001:db8:100::5'];
/** JUJU_API_ADDRESSES for the recorded host's controllers. */
export const API_ADDRESSES = '10.100.0.5:17070 [2001:db8:100::5]:17070';

/** The recorded MAAS host (mgmt ens3, public br-ens4, storage bond0, storage-cluster bond0.105). */
export function maasHost(): ObservedHost {
  const read = (p: string) => readFileSync(join(FIX, p), 'utf8');
  return parseObserved([read('maas-host/batch.out.txt'), read('maas-host/batch6.out.txt')], {
    sysctls: {},
    vrfModule: true,
    container: false,
    controllers: CONTROLLERS,
  });
}

export interface FakeHost {
  readonly dir: string;
  readonly root: string;
  readonly proc: string;
  readonly sys: string;
  readonly host: CharmHost;
  /** The kernel's state now. */
  current(): ObservedHost;
  /** Change the host behind vrf-host's back (drift, a new bridge). */
  mutate(f: (h: ObservedHost) => ObservedHost): void;
  /** The model of systemd behind the fake systemctl (the services option), when the test gave units. */
  readonly systemd: FakeSystemd | null;
  /** Every ip/flock/modprobe/systemctl call: the binary, args and stdin. */
  readonly calls: { file: string; args: readonly string[]; input?: string }[];
  /** The apply batches (stdin lines) ip ran. */
  batches(): string[][];
  /** Fail the first apply line matching re, as ip does. */
  failOn(re: RegExp | null, message?: string): void;
  /** Another manager of the host's network, undoing part of every apply batch right after it. */
  afterEachApply(f: ((h: ObservedHost) => ObservedHost) | null): void;
  /** `ip vrf exec VRF ping … TARGET` answers. */
  ping(map: Record<string, { stdout?: string; stderr?: string; code?: number }>): void;
  setVrfModule(present: boolean): Promise<void>;
  sysctl(key: string): Promise<string>;
  cleanup(): Promise<void>;
}

export interface FakeHostOptions {
  readonly initial?: ObservedHost;
  readonly vrfModule?: boolean;
  /** Install the boot unit from this (existing) CLI file. */
  readonly cli?: string | false;
  /** Share the kernel and files of another fake host (a second unit on the same machine). */
  readonly shared?: FakeHost;
  /** systemd's units (services/systemd.fake.ts); absent: no systemctl answers. */
  readonly units?: readonly FakeUnitSpec[];
}

export async function fakeHost(o: FakeHostOptions = {}): Promise<FakeHost> {
  if (o.shared) return o.shared;
  const dir = await mkdtemp(join(tmpdir(), 'vrf-host-charm-'));
  const root = join(dir, 'root');
  const proc = join(dir, 'proc');
  const sys = join(dir, 'sys');
  await mkdir(root, { recursive: true });
  await mkdir(sys, { recursive: true });
  const before = JSON.parse(readFileSync(join(FIX, 'maas-host/sysctl.json'), 'utf8')) as Record<string, string>;
  for (const key of OWNED_SYSCTLS) {
    const path = join(proc, 'sys', ...key.split('.'));
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, `${before[key] ?? '0'}\n`);
  }
  const setVrfModule = async (present: boolean) => {
    if (present) await mkdir(join(sys, 'module', 'vrf'), { recursive: true });
    else await rm(join(sys, 'module', 'vrf'), { recursive: true, force: true });
  };
  await setVrfModule(o.vrfModule ?? true);
  let cli: string | false = false;
  if (o.cli !== false) {
    cli = o.cli ?? join(dir, 'vrf-host-cli.mjs');
    if (o.cli === undefined) await writeFile(cli, '// the CLI bundle (stand-in)\n');
  }

  let state = o.initial ?? maasHost();
  const byLine = new Map<string, Step>();
  let fail: { re: RegExp; message: string } | null = null;
  let meddler: ((h: ObservedHost) => ObservedHost) | null = null;
  let pings: Record<string, { stdout?: string; stderr?: string; code?: number }> = {};
  const calls: FakeHost['calls'] = [];
  const ok = (stdout = ''): SpawnResult => ({ exitCode: 0, stdout, stderr: '' });

  const ipSpawn: Spawn = async (file, args, options) => {
    calls.push({ file, args: [...args], ...(options.input !== undefined ? { input: options.input } : {}) });
    if (file === 'fake-flock') return ok();
    if (file === 'fake-modprobe')
      return {
        exitCode: 1,
        stdout: '',
        stderr: 'modprobe: FATAL: Module vrf not found in directory /lib/modules/6.1.0-56-amd64',
      };
    if (file !== 'fake-ip') return { exitCode: -1, stdout: '', stderr: `${file}: not found` };
    if (args[0] === '-V') return ok('ip utility, iproute2-6.1.0, libbpf 1.1.2\n');
    if (args[0] === 'vrf' && args[1] === 'exec') {
      const r = pings[args[args.length - 1] ?? ''] ?? { stderr: 'ping: connect: Network is unreachable', code: 2 };
      return { exitCode: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    }
    if (args.includes('-json')) return ok(); // observe: the model is the answer (see parseObserved below)
    if (args.includes('-batch')) {
      const fam = args[0] === '-6' || args[0] === '-4' ? args[0] : '';
      const lines = (options.input ?? '').split('\n').filter((l) => l !== '');
      // The kernel sees the sysctls apply wrote under /proc (keep_addr_on_down before an enslave).
      state = { ...state, sysctls: await readSysctls(OWNED_SYSCTLS, proc) };
      for (const [i, line] of lines.entries()) {
        const step = byLine.get(`${fam}|${line}`);
        if (fail && fail.re.test(line))
          return { exitCode: 1, stdout: '', stderr: `${fail.message}\nCommand failed -:${i + 1}\n` };
        if (!step)
          return {
            exitCode: 1,
            stdout: '',
            stderr: `fake ip: no step rendered as ${JSON.stringify(line)}\nCommand failed -:${i + 1}\n`,
          };
        try {
          state = simulate(state, [step]);
        } catch (e) {
          return {
            exitCode: 2,
            stdout: '',
            stderr: `RTNETLINK answers: ${(e as Error).message}\nCommand failed -:${i + 1}\n`,
          };
        }
      }
      if (meddler) state = meddler(state);
      return ok();
    }
    return { exitCode: 255, stdout: '', stderr: `fake ip: unsupported ${args.join(' ')}` };
  };

  const systemd = o.units ? await fakeSystemd(root, proc, o.units, sys) : null;
  const spawn = systemd ? systemd.spawn(ipSpawn) : ipSpawn;
  const host: CharmHost = {
    engine: {
      root,
      procRoot: proc,
      sysRoot: sys,
      ipBin: 'fake-ip',
      flockBin: 'fake-flock',
      modprobeBin: 'fake-modprobe',
      ...(systemd ? { systemctlBin: SYSTEMCTL } : {}),
      spawn,
      lockTimeoutSec: 5,
      deps: {
        parseObserved: (_stdout, extras) => ({
          ...state,
          sysctls: extras.sysctls,
          vrfModule: extras.vrfModule,
          container: extras.container,
          routeGet: Object.fromEntries(
            extras.controllers.filter((c) => state.routeGet[c] !== undefined).map((c) => [c, state.routeGet[c]!]),
          ),
        }),
        renderer: {
          renderCommand,
          renderStep: (step) => {
            const r = renderStep(step);
            if (r.kind === 'ip') {
              const fam = r.argv[0] === '-6' || r.argv[0] === '-4' ? r.argv[0] : '';
              byLine.set(`${fam}|${(fam ? r.argv.slice(1) : r.argv).join(' ')}`, step);
            }
            return r;
          },
        },
      },
    },
    boot: cli === false ? false : { nodeBin: process.execPath, cliSource: cli },
    bootDisabled: cli === false ? 'no CLI in this test' : null,
    memoScript: join(process.cwd(), 'src/charm/memo.sh'),
  };

  return {
    dir,
    root,
    proc,
    sys,
    host,
    systemd,
    calls,
    current: () => state,
    mutate(f) {
      state = f(state);
    },
    batches: () =>
      calls
        .filter((c) => c.file === 'fake-ip' && c.args.includes('-batch') && !c.args.includes('-json'))
        .map((c) => (c.input ?? '').split('\n').filter(Boolean)),
    failOn(re, message = 'RTNETLINK answers: Operation not supported') {
      fail = re ? { re, message } : null;
    },
    afterEachApply(f) {
      meddler = f;
    },
    ping(map) {
      pings = map;
    },
    setVrfModule,
    sysctl: async (key) => (await readFile(join(proc, 'sys', ...key.split('.')), 'utf8')).trim(),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
