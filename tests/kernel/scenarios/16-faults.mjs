// Scenario 9, faults, on one multi-homed host (scenario 1's topology, automatic mode):
//  (a) an ip step fails mid-apply (an ip wrapper given as VRF_HOST_IP makes the kernel refuse the
//      storage VRF's default route inside the apply's `ip -batch -`): the unit status names the
//      failing step, the steps after it did not run, and the next hook without the wrapper
//      converges with scenario 1's traffic working;
//  (b) kill -9 during an apply (the wrapper feeds half of the batch to ip, then sleeps): the whole
//      hook process tree is SIGKILLed; the next hook converges to the same host as before;
//  (c) two `vrf-host apply --from-state` runs started together (the first one's batch sleeps 5 s):
//      the flock serialises them (their ip calls, timed by the wrapper, do not interleave; the
//      second finds nothing left to do) and the host ends converged;
//  (d) something else changes the host while a hook applies (the wrapper deletes the storage VRF's
//      default route right after the batch that added it, as systemd-networkd does when it answers
//      an enslave's down/up by configuring the link again): once, the same hook reads the host
//      again, re-adds the route and ends Active on a converged host; every time, the hook stops
//      after its last apply round, Blocked, naming the route that kept going.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HARNESS } from '../lib/charm.mjs';
import { ipJson, ipn, run as exec, sleep, waitFor } from '../lib/exec.mjs';
import { deployMultiHomed, hookOk, trafficChecks } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';

export const name = 'faults';
export const description =
  'a failing ip step, kill -9 mid-apply, two applies at once: reported, serialised, and the next run converges';
export const needsCharm = true;
export const timeoutMs = 15 * 60_000;

const here = path.dirname(fileURLToPath(import.meta.url));
const DISPATCH_CHILD = path.join(here, '..', 'lib', 'dispatch-in-ns.guest.mjs');
const STATE_FILE = '/var/lib/vrf-host/state.json';
/** @param {string} space */
const vrfOf = (space) => (space === 'mgmt' ? undefined : space);

// The fault wrapper: records every call (argv, parent pid, start and end in ns, the lines of a
// changing `-batch -`), then runs the real ip. `$dir/mode` says what it does to a changing batch
// (a `-batch` without -json): pass; fail (the storage VRF's default route gets an off-link next
// hop, which the kernel refuses: ip stops there with "Command failed -:N"); sleep (feed the first
// half of a batch of 4+ lines to ip, touch $dir/sleeping, sleep); slow (sleep 5 s, then the batch).
const WRAPPER = `#!/bin/sh
dir=\${0%/*}
real="$dir/real-ip"
id=$(date +%s%N)-$$
printf '%s\\0' "$@" > "$dir/calls/$id.argv"
echo "$PPID" > "$dir/calls/$id.ppid"
changing=0
case " $* " in
  *" -batch "*|*" -b "*) case " $* " in *" -json "*|*" -j "*) ;; *) changing=1 ;; esac ;;
esac
if [ "$changing" = 1 ]; then
  in="$dir/calls/$id.stdin"
  cat > "$in"
  mode=$(cat "$dir/mode" 2>/dev/null || echo pass)
  lines=$(wc -l < "$in")
  case "$mode" in
    fail)
      sed -e 's|^route replace 0.0.0.0/0 via 10.10.4.1 |route replace 0.0.0.0/0 via 192.0.2.1 |' "$in" | "$real" "$@"
      rc=$? ;;
    sleep)
      if [ "$lines" -ge 4 ]; then
        half=$((lines / 2))
        head -n "$half" "$in" | "$real" "$@"
        touch "$dir/sleeping"
        sleep 600
        tail -n "+$((half + 1))" "$in" | "$real" "$@"
        rc=$?
      else
        "$real" "$@" < "$in"
        rc=$?
      fi ;;
    slow)
      sleep 5
      "$real" "$@" < "$in"
      rc=$? ;;
    *)
      "$real" "$@" < "$in"
      rc=$? ;;
  esac
  # Another actor on the host: while $dir/meddle-count > 0, run the ip command in $dir/meddle
  # after each changing batch; a run that succeeds counts one down.
  n=$(cat "$dir/meddle-count" 2>/dev/null || echo 0)
  if [ "$n" -gt 0 ] && "$real" $(cat "$dir/meddle") 2>/dev/null; then
    echo $((n - 1)) > "$dir/meddle-count"
    echo x >> "$dir/meddled"
  fi
else
  "$real" "$@"
  rc=$?
fi
date +%s%N > "$dir/calls/$id.end"
exit $rc
`;

/**
 * @typedef {{ argv: string[], ppid: number, start: bigint, end: bigint | null, lines: string[], changing: boolean }} FaultCall
 * @typedef {ReturnType<typeof createFaultIp>} FaultIp
 */

function createFaultIp(dir = '/run/faultip') {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'calls'), { recursive: true });
  const real = exec(['sh', '-c', 'command -v ip']).stdout.trim();
  if (!real.startsWith('/')) throw new Error(`cannot find the real ip (got ${real})`);
  exec(['ln', '-s', real, path.join(dir, 'real-ip')]);
  writeFileSync(path.join(dir, 'ip'), WRAPPER);
  chmodSync(path.join(dir, 'ip'), 0o755);
  const callsDir = path.join(dir, 'calls');
  /** @param {string} f */
  const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : null);
  return {
    path: path.join(dir, 'ip'),
    dir,
    /** @param {'pass' | 'fail' | 'sleep' | 'slow'} m */
    mode(m) {
      writeFileSync(path.join(dir, 'mode'), `${m}\n`);
      rmSync(path.join(dir, 'sleeping'), { force: true });
    },
    sleeping: () => existsSync(path.join(dir, 'sleeping')),
    /**
     * After changing batches, run `ip ...argv` until it has succeeded `times` times.
     * @param {readonly string[]} argv
     * @param {number} times
     */
    meddle(argv, times) {
      writeFileSync(path.join(dir, 'meddle'), argv.join(' '));
      writeFileSync(path.join(dir, 'meddle-count'), `${times}\n`);
      rmSync(path.join(dir, 'meddled'), { force: true });
    },
    meddled: () => (read(path.join(dir, 'meddled')) ?? '').split('\n').filter(Boolean).length,
    reset() {
      rmSync(callsDir, { recursive: true, force: true });
      mkdirSync(callsDir, { recursive: true });
    },
    /**
     * Every call in start order: {argv, ppid, start, end (null: never finished), lines, changing}.
     * @returns {FaultCall[]}
     */
    calls() {
      return readdirSync(callsDir)
        .filter((f) => f.endsWith('.argv'))
        .sort()
        .map((f) => {
          const id = f.slice(0, -'.argv'.length);
          const [startNs = '0'] = id.split('-');
          const argv = readFileSync(path.join(callsDir, f), 'utf8').split('\0').slice(0, -1);
          const stdin = read(path.join(callsDir, `${id}.stdin`));
          const end = read(path.join(callsDir, `${id}.end`));
          return {
            argv,
            ppid: Number(read(path.join(callsDir, `${id}.ppid`))),
            start: BigInt(startNs),
            end: end === null ? null : BigInt(end.trim()),
            lines: stdin === null ? [] : stdin.split('\n').filter((l) => l.trim() !== ''),
            changing: stdin !== null,
          };
        });
    },
  };
}

/**
 * The hook, started like CharmUnit.dispatch runs it, but without waiting (so that it can be killed).
 * @param {import('../lib/charm.mjs').CharmUnit} unit
 * @param {string} hookName
 * @param {Record<string, string>} env
 */
function startHook(unit, hookName, env) {
  const req = {
    harness: HARNESS,
    charmDir: unit.charmDir,
    simDir: unit.simDir,
    state: unit.state,
    dispatchPath: `hooks/${hookName}`,
    env: { ...unit.env, ...env },
    timeoutMs: 600_000,
    fast: unit.fast,
  };
  const child = spawn(
    'ip',
    ['netns', 'exec', unit.ns, ...unit.wrap, process.execPath, DISPATCH_CHILD, JSON.stringify(req)],
    { stdio: 'ignore' },
  );
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

/**
 * pid and every descendant of it (from /proc/PID/stat's ppid field).
 * @param {number} root
 */
function processTree(root) {
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = (() => {
      try {
        return readFileSync(`/proc/${e}/stat`, 'utf8');
      } catch {
        return null;
      }
    })();
    if (stat === null) continue;
    // pid (comm) state ppid …: comm may hold spaces and parentheses; the last ')' ends it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parent.set(Number(e), Number(rest[1]));
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++)
    for (const [pid, pp] of parent) if (pp === tree[i] && !tree.includes(pid)) tree.push(pid);
  return tree.filter((p) => parent.has(p));
}

/** @param {number} pid */
function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/**
 * Still running (a zombie waiting for its reaper does not count).
 * @param {number} pid
 */
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const readState = () => JSON.parse(readFileSync(STATE_FILE, 'utf8'));

/**
 * An update-status through the recording wrapper issues no changing ip line, and the host equals `converged`.
 * @param {import('../lib/context.mjs').Context} t
 * @param {import('../lib/charm.mjs').CharmUnit} unit
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {FaultIp} fip
 * @param {import('../lib/snapshot.mjs').Snapshot} converged
 * @param {string} label
 */
async function checkConverged(t, unit, topo, fip, converged, label) {
  fip.mode('pass');
  fip.reset();
  await hookOk(t, unit, 'update-status', { env: { VRF_HOST_IP: fip.path } });
  const changing = fip
    .calls()
    .filter((c) => c.changing)
    .flatMap((c) => c.lines);
  t.check(
    `${label}: a following update-status changes nothing (empty plan)`,
    changing.length === 0,
    changing.slice(0, 4).join(' | ') || `${fip.calls().length} read-only ip call(s)`,
  );
  const diff = diffSnapshots(converged, snapshot(topo.unit));
  t.check(`${label}: the host equals the converged host of before`, diff.length === 0, diff.slice(0, 6).join(' | '));
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const gateways =
    'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  const fip = createFaultIp();
  t.defer(() => rmSync(fip.dir, { recursive: true, force: true }));

  // ---- (a) an ip step fails mid-apply ---------------------------------------------------------
  fip.mode('fail');
  const a = await unit.hook('install', { env: { VRF_HOST_IP: fip.path } });
  const st = a.record.status;
  t.note(`install with the failing ip: exit ${a.exitCode}, ${st.status}: ${st.message} (${a.ms} ms)`);
  const batch = fip
    .calls()
    .find((c) => c.changing && c.lines.some((l) => l.startsWith('route replace 0.0.0.0/0 via 10.10.4.1 ')));
  t.check(
    '(a) the apply ran an ip -batch holding the storage default route',
    batch !== undefined,
    `${fip.calls().length} ip call(s)`,
  );
  const lineNo = batch ? batch.lines.findIndex((l) => l.startsWith('route replace 0.0.0.0/0 via 10.10.4.1 ')) : -1;
  t.check(
    '(a) the failing step is mid-apply (lines before and after it in its batch)',
    batch !== undefined && lineNo > 0 && lineNo < batch.lines.length - 1,
    batch ? `line ${lineNo + 1} of ${batch.lines.length}` : 'no batch',
  );
  t.check(
    "(a) the status is blocked and names the failing step and the kernel's error",
    st.status === 'blocked' &&
      /apply failed at step \d+\/\d+ `ip route replace 0\.0\.0\.0\/0 via 10\.10\.4\.1 dev bond0 table \d+`/.test(
        st.message,
      ) &&
      /gateway|nexthop/i.test(st.message),
    `${st.status}: ${st.message}`,
  );
  const storageTable = ipJson(topo.unit, '-details', 'link', 'show', 'dev', 'storage')[0]?.linkinfo?.info_data?.table;
  const storageDefault = storageTable
    ? ipJson(topo.unit, 'route', 'show', 'table', String(storageTable), 'default')
    : [];
  t.check(
    '(a) the host is as far as the step before: the storage VRF exists, its default route does not',
    storageTable !== undefined && storageDefault.length === 0,
    `table ${storageTable}, ${JSON.stringify(storageDefault)}`,
  );
  const later = batch ? batch.lines.slice(lineNo + 1) : [];
  const ruleLater = later.find((l) => /^rule add pref 99 from /.test(l));
  const srcRules = ipJson(topo.unit, 'rule', 'show').filter((r) => r.priority === 99);
  t.check(
    '(a) no step after it ran (the per-address source rules planned later are absent)',
    ruleLater !== undefined && srcRules.length === 0,
    `${later.length} later line(s); pref 99 rules now: ${srcRules.length}`,
  );
  t.check(
    '(a) state.json says the apply did not finish (applying false, the write-ahead ledger kept)',
    existsSync(STATE_FILE) && Object.keys(readState().ledger.vrfs).length === 3,
    existsSync(STATE_FILE) ? JSON.stringify(readState().ledger.vrfs) : 'no state file',
  );

  // The wrapper goes away (VRF_HOST_IP unset: the real ip): the next hook converges.
  await hookOk(t, unit, 'config-changed');
  fip.mode('pass');
  fip.reset();
  await hookOk(t, unit, 'update-status', { env: { VRF_HOST_IP: fip.path } });
  const changingA = fip
    .calls()
    .filter((c) => c.changing)
    .flatMap((c) => c.lines);
  t.check(
    '(a) converged: a following update-status changes nothing',
    changingA.length === 0,
    changingA.slice(0, 4).join(' | '),
  );
  await trafficChecks(t, topo, vrfOf, { label: '(a) after the failed apply and the next hook' });
  const converged = snapshot(topo.unit);

  // ---- (b) kill -9 during an apply --------------------------------------------------------------
  // Work for the next hook: all three VRFs deleted by hand (members released, routes gone).
  for (const v of ['public', 'storage', 'storage-cluster']) ipn(topo.unit, 'link', 'del', 'dev', v);
  fip.mode('sleep');
  fip.reset();
  const h = startHook(unit, 'config-changed', { VRF_HOST_IP: fip.path });
  const slept = await waitFor(() => fip.sleeping() || h.child.exitCode !== null, {
    timeoutMs: 240_000,
    intervalMs: 200,
  });
  const inBatch = fip.sleeping();
  t.check(
    '(b) the hook reached the middle of its ip -batch',
    Boolean(slept) && inBatch,
    inBatch ? '' : `hook ended first (exit ${h.child.exitCode})`,
  );
  const tree = h.child.pid === undefined ? [] : processTree(h.child.pid);
  t.note(`(b) SIGKILL to the hook's process tree: ${tree.map((p) => `${p} ${commOf(p)}`).join(', ')}`);
  for (const p of tree) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const ended = await h.exited;
  await sleep(500);
  const left = tree.filter(alive);
  t.check(
    '(b) the hook was killed (SIGKILL) and none of its processes is left',
    ended.signal === 'SIGKILL' && left.length === 0,
    `${JSON.stringify(ended)}; left: ${left.join(' ')}`,
  );
  const halfDone = ipJson(topo.unit, 'link', 'show', 'type', 'vrf').map((l) => l.ifname);
  const sleptBatch = fip.calls().find((c) => c.changing && c.end === null);
  t.check(
    '(b) it died mid-apply: the batch never finished, state.json says applying',
    sleptBatch !== undefined && readState().applying === true,
    `${halfDone.length} VRF(s) so far: ${halfDone.join(' ')}; applying ${readState().applying}`,
  );
  t.note(
    `(b) the killed batch had ${sleptBatch?.lines.length ?? 0} lines; VRFs when killed: ${halfDone.join(' ') || 'none'}`,
  );
  const next = await hookOk(t, unit, 'config-changed');
  t.note(`(b) the next hook: ${next.record.status.message}`);
  await checkConverged(t, unit, topo, fip, converged, '(b) after kill -9 and the next hook');
  t.check('(b) state.json: the apply finished', readState().applying === false);

  // ---- (c) two applies at once --------------------------------------------------------------
  ipn(topo.unit, 'link', 'del', 'dev', 'storage-cluster');
  fip.mode('slow');
  fip.reset();
  const cli = path.join(unit.charmDir, 'dist', 'vrf-host-cli.mjs');
  const runs = await Promise.all(
    [0, 1].map(async (i) => {
      const child = spawn(
        'ip',
        ['netns', 'exec', topo.unit, process.execPath, cli, 'apply', '--from-state', '--ip', fip.path, '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      const t0 = Date.now();
      const code = await new Promise((resolve) => child.on('close', resolve));
      return { i, pid: child.pid, code, out, ms: Date.now() - t0 };
    }),
  );
  for (const r of runs) t.note(`(c) CLI run ${r.i} (pid ${r.pid}): exit ${r.code} in ${r.ms} ms`);
  t.check(
    '(c) both CLI applies exit 0',
    runs.every((r) => r.code === 0),
    runs.map((r) => `exit ${r.code}: ${r.out.trim().split('\n').slice(-2).join(' ')}`).join(' || '),
  );
  const calls = fip.calls();
  /** @type {Map<number, FaultCall[]>} */
  const byRun = new Map();
  for (const c of calls) byRun.set(c.ppid, [...(byRun.get(c.ppid) ?? []), c]);
  const spans = [...byRun.entries()]
    .map(([ppid, cs]) => ({
      ppid,
      start: cs.reduce((m, c) => (c.start < m ? c.start : m), cs[0]?.start ?? 0n),
      end: cs.reduce((m, c) => (c.end !== null && c.end > m ? c.end : m), 0n),
      n: cs.length,
      changing: cs.filter((c) => c.changing).flatMap((c) => c.lines),
    }))
    .sort((x, y) => (x.start < y.start ? -1 : 1));
  /** @param {bigint} ns */
  const ms = (ns) => Number(ns / 1_000_000n) % 100_000;
  t.table(
    "(c) ip calls per CLI run (by the wrapper's parent pid; ms, mod 100 s)",
    spans.map((s) => ({
      ppid: s.ppid,
      calls: s.n,
      first: ms(s.start),
      last_end: ms(s.end),
      changing_lines: s.changing.length,
    })),
  );
  t.check(
    '(c) the ip calls came from two processes (the two CLI runs)',
    spans.length === 2 && calls.every((c) => c.end !== null),
    `${spans.length} caller(s), ${calls.length} call(s)`,
  );
  const [first, second] = spans;
  if (spans.length === 2 && first && second) {
    t.check(
      "(c) serialised: every ip call of the second run started after the first run's last one ended",
      second.start > first.end,
      `first ends ${ms(first.end)}, second starts ${ms(second.start)}`,
    );
    t.check(
      '(c) the first run did the work (re-created storage-cluster, through the 5 s batch)',
      first.changing.some((l) => /^link add name storage-cluster type vrf/.test(l)),
      first.changing.slice(0, 3).join(' | '),
    );
    t.check(
      '(c) the second observed the host after it and found nothing to do',
      second.changing.length === 0,
      second.changing.slice(0, 3).join(' | '),
    );
  }
  await checkConverged(t, unit, topo, fip, converged, '(c) after two applies at once');
  const vrfs = ipJson(topo.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    '(c) the three VRFs are there once each',
    JSON.stringify(vrfs) === JSON.stringify(['public', 'storage', 'storage-cluster']),
    vrfs.join(' '),
  );

  // ---- (d) the host changes under an apply ------------------------------------------------------
  const table = ipJson(topo.unit, '-details', 'link', 'show', 'dev', 'storage')[0]?.linkinfo?.info_data?.table;
  const routeLine = `ip route replace 0.0.0.0/0 via 10.10.4.1 dev bond0 table ${table}`;
  // The unicast default (the strict catch-all is a default too).
  const defaultOf = () =>
    ipJson(topo.unit, 'route', 'show', 'table', String(table), 'default').filter((r) => r.gateway === '10.10.4.1');
  // Work for the next hook: the storage member released by hand (as networkd does on restart).
  ipn(topo.unit, 'link', 'set', 'dev', 'bond0', 'nomaster');
  fip.mode('pass');
  fip.reset();
  fip.meddle(['route', 'del', '0.0.0.0/0', 'via', '10.10.4.1', 'table', String(table)], 1);
  const once = await hookOk(t, unit, 'update-status', { env: { VRF_HOST_IP: fip.path } });
  const rounds = fip.calls().filter((c) => c.changing && c.lines.length > 0);
  t.note(`(d) once: ${once.record.status.message}; ${rounds.length} changing batch(es), meddled ${fip.meddled()}×`);
  t.check('(d) once: the route was deleted after the apply that added it', fip.meddled() === 1);
  t.check(
    '(d) once: the same hook read the host again and re-added exactly that route',
    rounds.length >= 2 && rounds.at(-1)?.lines.join('|') === routeLine.slice('ip '.length),
    rounds.map((c) => c.lines.join('; ')).join(' || '),
  );
  t.check('(d) once: the storage VRF has its default route', defaultOf().length === 1, JSON.stringify(defaultOf()));
  await checkConverged(t, unit, topo, fip, converged, '(d) once');

  ipn(topo.unit, 'link', 'set', 'dev', 'bond0', 'nomaster');
  fip.reset();
  fip.meddle(['route', 'del', '0.0.0.0/0', 'via', '10.10.4.1', 'table', String(table)], 100);
  const always = await unit.hook('update-status', { env: { VRF_HOST_IP: fip.path } });
  const st2 = always.record.status;
  t.note(`(d) always: exit ${always.exitCode}, ${st2.status}: ${st2.message}; meddled ${fip.meddled()}×`);
  t.check(
    '(d) always: Blocked after 3 apply rounds, naming the route that kept going',
    always.exitCode === 0 &&
      st2.status === 'blocked' &&
      st2.message.startsWith(
        'the host kept changing while vrf-host applied: after 3 apply rounds, 1 change was still pending: ',
      ) &&
      st2.message.includes(`\`${routeLine}\``),
    `exit ${always.exitCode}, ${st2.status}: ${st2.message}`,
  );
  t.check('(d) always: three applies met the meddler', fip.meddled() === 3, `${fip.meddled()}`);
  fip.meddle(['true'], 0);
  // The last apply met the meddler too: the next hook heals the route, the one after has nothing to do.
  await hookOk(t, unit, 'update-status');
  await checkConverged(t, unit, topo, fip, converged, '(d) always, then a hook with the host left alone');
}
