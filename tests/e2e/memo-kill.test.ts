/**
 * kill -9 safety of the hook memo and of the unit's status memory, on the PACKED charm run by its
 * own dispatch (as in lifecycle.test.ts): a hook killed at any point never leaves a record that a
 * later update-status replays into a wrong result, nor a status memory that skips a needed
 * status-set.
 *
 * The kill points are the process boundaries: every process the hook starts (hook tools, `ip`,
 * `flock`) goes through a wrapper that counts it and, at the K-th one, kills the hook's Node
 * (SIGKILL) as soon as that process ended. K runs over every process a whole run starts, so the
 * hook dies after each hook-tool call (a status-set Juju has taken among them), after each `ip`
 * read, and, past the last one, while it writes its records. After each kill the hooks Juju could
 * run next must end with the status a clean run gives, and the next update-status replays nothing
 * recorded before the change.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  createSimulator,
  HOOK_TOOLS,
  runDispatch,
  unpackCharm,
  type Simulator,
} from '../../src/ops/testing/simulator/harness.js';
import { MAAS_NETWORKS, maasHost } from './fake-host.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHARM_FILE = join(ROOT, 'vrf-host.charm');

let work: string;
let charmDir: string;
let sim: Simulator;
let env: Record<string, string>;
let kill: string;
let proc: string;
let memo: string;
let flock: string;

const GOOD = { gateways: 'public=2001:db8:16::1', 'heal-drift': false, vrfs: '' };
const BAD = { ...GOOD, vrfs: 'storacc: {binding: storage, table: 254}' };
const DRIFT = /^blocked: drift: \d+ changes pending \(.*\); heal-drift is off: run the apply action$/;

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A wrapper that counts the process and kills the hook (its parent) after the K-th one. */
function wrapper(real: string): string {
  return [
    '#!/bin/sh',
    `d=${shQuote(kill)}`,
    'exec 9>>"$d/lock"',
    `${shQuote(flock)} 9`,
    'n=$(( $(cat "$d/n" 2>/dev/null || echo 0) + 1 ))',
    'echo "$n" > "$d/n"',
    `${shQuote(flock)} -u 9`,
    'exec 9>&-',
    `${shQuote(real)} "$@"`,
    'rc=$?',
    '[ "$n" = "$(cat "$d/at" 2>/dev/null)" ] && kill -9 "$PPID"',
    'exit $rc',
    '',
  ].join('\n');
}

/** The unit's status as Juju keeps it: the last status-set Juju took, in any run since clearJournal. */
function jujuStatus(): string {
  const s = sim.read().status;
  return `${s.status}: ${s.message}`;
}

// One mark for every hook of this file, not one per run: the memo compares the environment, so a
// mark that changed between runs would turn every replay into a miss.
const RUN_MARK = 'VRF_HOST_TEST_HOOK_RUN';
const RUN = `memo-kill-${process.pid}`;

/** Resolves once no process on the machine has `RUN_MARK=RUN` in its environment. */
async function untilGone(path: string): Promise<void> {
  const mark = `${RUN_MARK}=${RUN}`;
  const marked = async (pid: string): Promise<boolean> => {
    try {
      return (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').includes(mark);
    } catch {
      return false; // gone meanwhile, or not ours to read
    }
  };
  for (let i = 0; ; i++) {
    const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
    if (!(await Promise.all(pids.map(marked))).some(Boolean)) return;
    if (i > 3000) throw new Error(`${path}: its processes did not end`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs a hook with every process it starts counted; killed after the `at`-th when `at` is given. */
async function hook(path: string, at?: number): Promise<{ exitCode: number; processes: number }> {
  await writeFile(join(kill, 'n'), '0');
  await writeFile(join(kill, 'at'), at === undefined ? '' : String(at));
  const r = await runDispatch(charmDir, path, sim, {
    env: { ...env, [RUN_MARK]: RUN },
    // A killed hook's processes run on (as they would under Juju), and one the hook started just
    // before it died may not have reached its wrapper yet: wait for every process that carries
    // this file's mark in its environment before the simulator reads their records.
    afterExit: () => untilGone(path),
    timeout: 120_000,
    // The wrappers first on PATH (runDispatch puts the simulator's tools first; this sh puts these
    // before them), and an exit code for a killed hook (128 + 9) rather than a signal.
    command: [
      'sh',
      '-c',
      'PATH="$1"; export PATH; shift; "$@"; rc=$?; exit $rc',
      'sh',
      [join(kill, 'bin'), sim.binDir, process.env['PATH'] ?? '/usr/bin:/bin'].join(delimiter),
    ],
  });
  const processes = Number((await readFile(join(kill, 'n'), 'utf8')).trim());
  if (at === undefined && r.exitCode !== 0) throw new Error(`${path} exited ${r.exitCode}: ${r.stderr}`);
  return { exitCode: r.exitCode, processes };
}

/** A converged-as-it-gets unit (heal-drift off: update-status is a no-op) with a record and a status memory. */
async function settle(): Promise<void> {
  sim.update((s) => ({ ...s, config: { ...s.config, ...GOOD } }));
  await hook('hooks/config-changed');
  await hook('hooks/update-status');
  expect(existsSync(memo)).toBe(true);
  const { status, message } = sim.read().status;
  expect(`${status}: ${message}`).toMatch(DRIFT);
  sim.clearJournal();
  // Juju keeps the status: the simulator answers status-get with it, and jujuStatus() starts from it.
  sim.update((s) => ({ ...s, status: { status, message, data: {} } }));
  expect(jujuStatus()).toMatch(DRIFT);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vrf-host-memo-kill-'));
  charmDir = join(work, 'charm');
  await unpackCharm(CHARM_FILE, charmDir);
  const h = await maasHost(join(work, 'host'));
  proc = h.proc;
  flock = h.env['VRF_HOST_FLOCK'] ?? 'flock';
  memo = join(h.root, 'var/lib/vrf-host/memo/vrf-host-0.sh');
  sim = await createSimulator({
    dir: await mkdtemp(join(work, 'sim-')),
    fast: true,
    state: {
      unit: 'vrf-host/0',
      config: GOOD,
      networks: MAAS_NETWORKS,
      relations: { 'juju-info': [{ id: 1, app: 'ubuntu', units: { 'ubuntu/0': {} } }] },
    },
  });
  kill = join(work, 'kill');
  await mkdir(join(kill, 'bin'), { recursive: true });
  for (const tool of HOOK_TOOLS) {
    await writeFile(join(kill, 'bin', tool), wrapper(join(sim.binDir, tool)));
    await chmod(join(kill, 'bin', tool), 0o755);
  }
  for (const [name, real] of [
    ['ip', h.env['VRF_HOST_IP'] ?? 'ip'],
    ['flock', flock],
  ] as const) {
    await writeFile(join(kill, 'bin', name), wrapper(real));
    await chmod(join(kill, 'bin', name), 0o755);
  }
  env = { ...h.env, VRF_HOST_IP: join(kill, 'bin', 'ip'), VRF_HOST_FLOCK: join(kill, 'bin', 'flock') };
  await hook('hooks/install');
}, 180_000);

afterAll(async () => {
  await sim?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('kill -9 at every process boundary', () => {
  test('config-changed to a bad config, killed anywhere: no later hook shows the old status or replays the old record', async () => {
    await settle();
    sim.update((s) => ({ ...s, config: { ...s.config, ...BAD } }));
    const whole = await hook('hooks/config-changed');
    const bad = jujuStatus();
    expect(bad).toBe('blocked: vrfs: storacc.table 254 is reserved');
    for (let at = 1; at <= whole.processes + 1; at++) {
      await settle();
      const good = jujuStatus();
      sim.update((s) => ({ ...s, config: { ...s.config, ...BAD } }));
      const killed = await hook('hooks/config-changed', at);
      const where = `killed after process ${at} of ${whole.processes} (exit ${killed.exitCode})`;
      // Were the killed hook resolved without a retry, the next update-status must not replay the
      // record of the good config: it reads Juju again and blocks.
      await hook('hooks/update-status');
      expect({ where, status: jujuStatus() }).toEqual({ where, status: bad });
      // Juju's retry, then the config back: the good status is set again (a memory left saying
      // "good" would skip that status-set, and the unit would keep showing the bad one).
      await hook('hooks/config-changed');
      sim.update((s) => ({ ...s, config: { ...s.config, ...GOOD } }));
      await hook('hooks/config-changed');
      // (config-changed applies, whatever heal-drift says; the fake host never changes, so the
      // update-status after it finds the drift again.)
      expect({ where, status: jujuStatus() }).toEqual({ where, status: expect.stringMatching(/^active: 3 VRFs: /) });
      await hook('hooks/update-status');
      await hook('hooks/update-status');
      expect({ where, status: jujuStatus() }).toEqual({ where, status: good });
    }
  }, 900_000);

  test('update-status after a host change, killed anywhere: the next one still sees the change', async () => {
    const sysctl = join(proc, 'sys/net/ipv4/tcp_l3mdev_accept');
    await settle();
    // As the last config-changed left it.
    const was = await readFile(sysctl, 'utf8');
    const changed = was.trim() === '1' ? '0\n' : '1\n';
    const before = jujuStatus();
    await writeFile(sysctl, changed);
    const whole = await hook('hooks/update-status');
    const after = jujuStatus();
    expect(after).toMatch(DRIFT);
    expect(after).not.toBe(before);
    await writeFile(sysctl, was);
    for (let at = 1; at <= whole.processes + 1; at++) {
      await settle();
      await writeFile(sysctl, changed);
      const killed = await hook('hooks/update-status', at);
      const where = `killed after process ${at} of ${whole.processes} (exit ${killed.exitCode})`;
      // The host back as it was: the status it had is set again (the killed run may have set the
      // other one already; a memory still saying the old one would skip setting it back).
      await writeFile(sysctl, was);
      await hook('hooks/update-status');
      expect({ where, status: jujuStatus() }).toEqual({ where, status: before });
      // And changed again: seen again, whatever the killed run left behind.
      await writeFile(sysctl, changed);
      await hook('hooks/update-status');
      expect({ where, status: jujuStatus() }).toEqual({ where, status: after });
      await hook('hooks/update-status');
      expect({ where, status: jujuStatus() }).toEqual({ where, status: after });
      await writeFile(sysctl, was);
    }
  }, 900_000);

  test('a hit (dispatch alone, two ip reads) killed after either read leaves the record as it was; a host change is still seen', async () => {
    const sysctl = join(proc, 'sys/net/ipv4/tcp_l3mdev_accept');
    await settle();
    const good = jujuStatus();
    // A hit: the two ip reads and nothing else (every hook tool goes through a counting wrapper too).
    expect(await hook('hooks/update-status')).toEqual({ exitCode: 0, processes: 2 });
    for (const at of [1, 2]) {
      const record = await readFile(memo, 'utf8');
      const killed = await hook('hooks/update-status', at);
      const where = `hit killed after process ${at} (exit ${killed.exitCode})`;
      expect({ where, killed: killed.exitCode !== 0, record: await readFile(memo, 'utf8') }).toEqual({
        where,
        killed: true,
        record,
      });
      expect({ where, next: await hook('hooks/update-status'), status: jujuStatus() }).toEqual({
        where,
        next: { exitCode: 0, processes: 2 },
        status: good,
      });
      // The host changes while a hit is killed: the next update-status runs in full and sees it.
      const was = await readFile(sysctl, 'utf8');
      await writeFile(sysctl, was.trim() === '1' ? '0\n' : '1\n');
      await hook('hooks/update-status', at);
      const seen = await hook('hooks/update-status');
      expect({ where, full: seen.processes > 2, status: jujuStatus() }).toEqual({
        where,
        full: true,
        status: expect.not.stringMatching(new RegExp(`^${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)),
      });
      await writeFile(sysctl, was);
      await settle();
    }
  }, 900_000);
});
