// Scenario 2: on a converged host, a second config-changed and an update-status change nothing:
// no ip command that changes the kernel is issued (counted by an ip wrapper), and the host
// snapshot is identical. The update-status that changed nothing recorded the hook memo: the next
// one replays it without loading the charm, and (strace) the memo watches every file a full
// no-op update-status reads where vrf-host keeps or reads host state.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { run as exec } from '../lib/exec.mjs';
import { charmPaths } from '../lib/strace.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';

export const name = 'idempotency';
export const description = 'a second config-changed and update-status issue no changing ip command';
export const needsCharm = true;

/**
 * Paths where two `ip -json` outputs (one JSON document per line) differ, with both values.
 * @param {string} a
 * @param {string} b
 */
function jsonDiffs(a, b) {
  /** @type {string[]} */
  const out = [];
  /**
   * @param {any} x
   * @param {any} y
   * @param {string} p
   */
  const walk = (x, y, p) => {
    if (JSON.stringify(x) === JSON.stringify(y)) return;
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], `${p}.${k}`);
    } else out.push(`${p}: ${JSON.stringify(x)} → ${JSON.stringify(y)}`);
  };
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    try {
      walk(JSON.parse(la[i] || 'null'), JSON.parse(lb[i] || 'null'), `line${i + 1}`);
    } catch {
      if (la[i] !== lb[i]) out.push(`line${i + 1}: not JSON`);
    }
  }
  return out;
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const gateways =
    'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  const spy = createIpSpy();
  const env = { VRF_HOST_IP: spy.path };
  await hookOk(t, unit, 'install', { env });
  await hookOk(t, unit, 'config-changed', { env });
  const changedOnInstall = mutatingCalls(spy.calls());
  t.check(
    "the first hooks did change the host (the spy sees the charm's ip calls)",
    changedOnInstall.length > 0,
    `${changedOnInstall.length} changing ip lines`,
  );
  const before = snapshot(topo.unit);
  for (const hook of ['config-changed', 'update-status']) {
    spy.reset();
    await hookOk(t, unit, hook, { env });
    const calls = spy.calls();
    const changes = mutatingCalls(calls);
    t.check(
      `second ${hook}: no changing ip command`,
      changes.length === 0,
      changes.length ? changes.slice(0, 5).join(' | ') : `${calls.length} ip process(es), read-only`,
    );
    const diff = diffSnapshots(before, snapshot(topo.unit));
    t.check(`second ${hook}: host snapshot unchanged`, diff.length === 0, diff.slice(0, 5).join(' | '));
  }

  // The memo (src/ops/memo.ts): the update-status above changed nothing, so the next one replays it.
  const memo = '/var/lib/vrf-host/memo/vrf-host-0.json';
  t.check('the no-op update-status recorded the hook memo', existsSync(memo), memo);
  const full = unit.history.at(-1);
  const recorded = JSON.parse(readFileSync(memo, 'utf8'));
  spy.reset();
  const hit = await unit.hook('update-status', { env });
  const reads = spy.calls();
  t.check(
    'next update-status: replayed from the memo (no juju-log: the charm never loaded), same status',
    hit.exitCode === 0 && hit.record.logs.length === 0 && hit.record.status.message === full?.status.message,
    `exit ${hit.exitCode}, ${hit.record.logs.length} log line(s) ${hit.record.logs
      .slice(0, 1)
      .map((l) => l.message)
      .join('')}; ${hit.ms} ms; ${hit.record.status.status}: ${hit.record.status.message}`,
  );
  if (hit.record.logs.length > 0) {
    // Say what differed between the recorded ip output and the kernel's answer now.
    for (const r of recorded.reads.filter((/** @type {{ argv: string[] }} */ x) => x.argv.includes('-json'))) {
      const now = exec(['ip', 'netns', 'exec', unit.ns, ...r.argv], {
        input: r.input,
        allowFail: true,
        env: r.env,
      }).stdout;
      const diffs = jsonDiffs(r.stdout, now);
      if (diffs.length > 0) t.note(`${r.argv.slice(0, 3).join(' ')}: ${diffs.slice(0, 8).join(' | ')}`);
    }
  }
  t.check(
    'the replay read the kernel with ip -json only',
    reads.length > 0 && reads.every((c) => c.argv.includes('-json')),
    reads.map((c) => c.argv.slice(0, 2).join(' ')).join(' | '),
  );

  const strace = exec(['sh', '-c', 'command -v strace'], { allowFail: true }).stdout.trim();
  // A missing strace is a failed check: the memo would go unchecked against what a full run opens.
  if (!t.check('strace is installed (scripts/vm/packages.txt)', Boolean(strace), 'apt-get install strace')) return;
  rmSync(memo, { force: true });
  const trace = '/run/vrf-host-update-status.strace';
  unit.wrap = [strace, '-f', '-qq', '-s', '4096', '-e', 'trace=%file', '-o', trace];
  try {
    await hookOk(t, unit, 'update-status', { env });
  } finally {
    unit.wrap = [];
  }
  const watched = new Set(
    existsSync(memo)
      ? JSON.parse(readFileSync(memo, 'utf8')).files.map((/** @type {{ path: string }} */ f) => f.path)
      : [],
  );
  // Where vrf-host keeps or reads host state (Node's own reads of /etc, /proc and /sys are not inputs).
  const AREAS = [
    '/etc/sysctl.d/',
    '/etc/iproute2/',
    '/etc/netplan',
    '/etc/systemd/system/vrf-host',
    '/etc/systemd/system/multi-user.target.wants/vrf-host',
    '/etc/systemd/system/network-online.target.wants/vrf-host',
    '/etc/networkd-dispatcher/',
    '/var/lib/vrf-host/',
    '/run/systemd/container',
    '/proc/sys/net/',
    '/proc/1/environ',
    '/sys/module/vrf',
  ];
  const touched = new Set();
  for (const p of charmPaths(readFileSync(trace, 'utf8'), 'dist/launch.cjs')) {
    if (!AREAS.some((a) => p.startsWith(a)) || p.startsWith('/var/lib/vrf-host/memo')) continue;
    if ([...watched].some((w) => w.startsWith(`${p}/`))) continue; // a directory on the way
    touched.add(p);
  }
  const unwatched = [...touched].filter((p) => !watched.has(p));
  if (unwatched.length > 0) {
    const text = readFileSync(trace, 'utf8');
    for (const u of unwatched.slice(0, 2)) {
      const line = text.split('\n').find((l) => l.includes(`"${u}"`)) ?? '';
      const pid = line.split(' ')[0];
      t.note(
        `${line.slice(0, 160)} ← pid ${pid}: ${text
          .split('\n')
          .filter((l) => l.startsWith(`${pid} `) && /execve|clone|fork/.test(l))
          .slice(0, 3)
          .map((l) => l.slice(0, 160))
          .join(' || ')}`,
      );
    }
  }
  t.check(
    'strace: every file a full no-op update-status touches where vrf-host keeps state is in the memo',
    watched.size > 0 && unwatched.length === 0,
    unwatched.length
      ? `unwatched: ${unwatched.join(', ')}`
      : `${touched.size} path(s) touched, ${watched.size} watched`,
  );
  t.check(
    'strace: it did read state.json and the l3mdev sysctl (the trace is not empty)',
    touched.has('/var/lib/vrf-host/state.json') && touched.has('/proc/sys/net/ipv4/tcp_l3mdev_accept'),
    [...touched].slice(0, 6).join(', '),
  );
}
