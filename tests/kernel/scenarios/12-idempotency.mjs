// Scenario 2: on a converged host, a second config-changed and an update-status change nothing:
// no ip command that changes the kernel is issued (counted by an ip wrapper), and the host
// snapshot is identical. The update-status that changed nothing recorded the hook memo: dispatch
// answers the next one by itself (strace: at most two processes, both ip reads, no Node, no hook
// tool), and (strace) the memo watches every file a full no-op update-status reads where
// vrf-host keeps or reads host state.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { run as exec } from '../lib/exec.mjs';
import { charmPaths, memoWatched } from '../lib/strace.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';

export const name = 'idempotency';
export const description = 'a second config-changed and update-status issue no changing ip command';
export const needsCharm = true;

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
  /** @type {string[]} */
  let lastLogs = [];
  for (const hook of ['config-changed', 'update-status']) {
    spy.reset();
    lastLogs = (await hookOk(t, unit, hook, { env })).record.logs.map(
      (/** @type {{ message: string }} */ l) => l.message,
    );
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

  // The memo (src/charm/memo.sh): the update-status above changed nothing, so dispatch answers the next one.
  const memo = '/var/lib/vrf-host/memo/vrf-host-0.sh';
  t.check(
    'the no-op update-status recorded the hook memo',
    existsSync(memo),
    `${memo}: ${lastLogs.filter((l) => l.startsWith('no hook memo')).join(' | ') || 'no reason logged'}`,
  );
  const full = unit.history.at(-1);
  spy.reset();
  const hit = await unit.hook('update-status', { env });
  const reads = spy.calls();
  t.check(
    'next update-status: answered by dispatch from the memo (no hook tool: no juju-log, no status-set), same status',
    hit.exitCode === 0 && hit.record.calls.length === 0 && hit.record.status.message === full?.status.message,
    `exit ${hit.exitCode}, ${hit.record.calls.length} hook-tool call(s) ${hit.record.logs
      .slice(0, 1)
      .map((l) => l.message)
      .join('')}; ${hit.ms} ms; ${hit.record.status.status}: ${hit.record.status.message}`,
  );
  t.check(
    'the hit read the kernel with ip -json only',
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
  const watched = new Set(existsSync(memo) ? memoWatched(readFileSync(memo, 'utf8')) : []);
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

  // The hit itself, traced: dispatch is the whole hit. It starts at most two processes (its two ip
  // reads; a fork each, which execs ip) and no hook tool (hook tools are processes too).
  const procTrace = '/run/vrf-host-hit.strace';
  unit.wrap = [strace, '-f', '-qq', '-e', 'trace=execve,clone,clone3,fork,vfork', '-o', procTrace];
  let traced;
  try {
    traced = await unit.hook('update-status', { env });
  } finally {
    unit.wrap = [];
  }
  const lines = readFileSync(procTrace, 'utf8').split('\n');
  const dispatchPid = /^(\d+)\s+execve\(/.exec(lines[0] ?? '')?.[1] ?? '';
  // (strace -f splits a call that another process interrupts: "clone(… <unfinished ...>", then
  // "<... clone resumed>…) = PID"; the line with the result is the one that counts.)
  const children = lines
    .filter((l) => l.startsWith(`${dispatchPid} `) && /\b(clone3?|v?fork)\(|<\.\.\. (clone3?|v?fork) resumed>/.test(l))
    .map((l) => /= (\d+)$/.exec(l)?.[1])
    .filter((pid) => pid !== undefined);
  const execs = children.map((pid) => {
    // PATH lookup tries several paths: the last execve of the child is the one that ran.
    const e = lines.filter((l) => l.startsWith(`${pid} `) && /execve\(/.test(l)).at(-1) ?? '';
    return /execve\("([^"]*)", \[(.*?)\]/.exec(e)?.slice(1, 3).join(' ') ?? `(pid ${pid} exec'd nothing)`;
  });
  t.check(
    'strace: a hit starts at most 2 processes, all of them ip -json reads, and no hook tool; Node never starts',
    traced.exitCode === 0 &&
      traced.record.calls.length === 0 &&
      dispatchPid !== '' &&
      children.length <= 2 &&
      execs.every((e) => e.includes('"-json"')) &&
      !lines.some((l) => /execve\([^)]*node/.test(l) && /= 0$/.test(l)),
    `${children.length} process(es) started by dispatch (pid ${dispatchPid}): ${execs.map((e) => e.slice(0, 120)).join(' | ')}`,
  );
}
