// Services in a space's VRF (issue 13), the kernel's part: vrf-host's drop-in (rendered by
// src/vrf/services/dropin.ts, bundled here with esbuild) is checked by systemd-analyze verify, and a
// client started exactly as its ExecStart line says (the words of the line, no shell) is in the VRF
// (`ip vrf identify`), reaches the space's remote peer, and the peer sees the space address; the
// unit's own line does not. Then the VRF is deleted and healed by update-status under the running
// client (a new ifindex: what the stale process does is measured), and a restart puts it back.
// Last, a real systemd in a pid/mount/cgroup namespace of the guest is tried (DefaultDependencies=no
// everywhere, so nothing of sysinit runs): when it comes up, `systemctl start` of the unit with the
// drop-in must put its main process in the VRF; when it does not, the scenario says why.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { inNs, ipJson, nsRun, run as sh, sleep, startBackground, waitFor } from '../lib/exec.mjs';
import { probe, startServer } from '../lib/probes.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { spaceOf } from '../lib/topology.mjs';

export const name = 'services-vrf-exec';
export const description =
  "a service's ExecStart wrapped by vrf-host's drop-in runs in the VRF and leaves through its space";
export const needsCharm = true;
export const timeoutMs = 8 * 60_000;

/**
 * The pure renderer, bundled from src (the guest sees the repository).
 * @param {string} dir
 */
async function loadRenderer(dir) {
  const out = path.join(dir, 'services.mjs');
  await build({
    stdin: {
      contents: "export * from './src/vrf/services/dropin.ts'; export * from './src/vrf/services/unit-file.ts';",
      resolveDir: process.cwd(),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile: out,
    logLevel: 'silent',
  });
  return /** @type {typeof import('../../../src/vrf/services/dropin.js') & typeof import('../../../src/vrf/services/unit-file.js')} */ (
    await import(pathToFileURL(out).href)
  );
}

/** `ip vrf identify PID` (empty: the default VRF). @param {number} pid */
const identify = (pid) => sh(['ip', 'vrf', 'identify', String(pid)], { allowFail: true }).stdout.trim();

/** @param {string} log */
const answers = (log) => (existsSync(log) ? readFileSync(log, 'utf8') : '').split('\n').filter((l) => l.length > 0);

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const gateways =
    'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  if ((await hookOk(t, unit, 'install')).record.status.status !== 'active')
    throw new Error('install did not converge: nothing to test');
  const storage = spaceOf(topo, 'storage');
  const server = await startServer({ ns: storage.remoteNs, name: 'rp-storage' });
  t.defer(() => server.stop());

  const dir = mkdtempSync(path.join(tmpdir(), 'vrf-svc-'));
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  const r = await loadRenderer(dir);

  // The "service": a client that connects to the storage space's remote peer once a second and
  // appends what the peer answered (its name and the address it saw) or the failure.
  const client = path.join(dir, 'client.sh');
  writeFileSync(
    client,
    [
      '#!/bin/sh',
      '# client.sh TARGET PORT LOG COUNT',
      'i=0',
      'while [ "$i" -lt "$4" ]; do',
      '  i=$((i + 1))',
      '  out=$(echo hello | /usr/bin/socat -t 2 -T 2 - "TCP4:$1:$2,connect-timeout=2" 2>&1 | tr "\\n" " ")',
      '  echo "$(date +%s.%N) ${out:-no answer}" >> "$3"',
      '  sleep 1',
      'done',
      '',
    ].join('\n'),
  );
  chmodSync(client, 0o755);
  const log = path.join(dir, 'client.log');
  const unitDir = path.join(dir, 'units');
  mkdirSync(unitDir);
  const unitFile = path.join(unitDir, 'storage-client.service');
  const own = `/bin/sh ${client} ${storage.remotePeer} ${server.port} ${log} 1000`;
  writeFileSync(
    unitFile,
    `[Unit]\nDescription=a client that must leave through storage\nDefaultDependencies=no\n\n[Service]\nType=simple\nExecStart=${own}\n`,
  );

  // The drop-in, from the unit's own lines.
  const dropInAbs = `/${r.serviceDropInPath('storage-client.service')}`;
  const execStart = r.ownExecStart([{ path: unitFile, text: readFileSync(unitFile, 'utf8') }], dropInAbs);
  const rendered = r.renderServiceDropIn({ unit: 'storage-client.service', vrf: 'storage', execStart });
  if (!rendered.ok) throw new Error(`render: ${rendered.problem}`);
  t.note(`the drop-in:\n${rendered.content}`);
  const wrapped = execStart.map((l) => r.wrapExecStart(l, 'storage'));
  const line = wrapped[0]?.ok ? wrapped[0].line : '';
  t.check(
    'the drop-in clears ExecStart and re-lists the unit line under ip vrf exec',
    rendered.content.includes('\nExecStart=\n') &&
      rendered.content.includes(`ExecStart=/usr/sbin/ip vrf exec storage ${own}`),
    rendered.content,
  );

  // systemd-analyze verify reads the unit and its drop-in directory (the boot unit the charm
  // installed is on the path: the drop-in wants it).
  mkdirSync(`${unitFile}.d`);
  writeFileSync(path.join(`${unitFile}.d`, '50-vrf-host-vrf.conf'), rendered.content);
  const verifyEnv = { SYSTEMD_UNIT_PATH: `${unitDir}:/etc/systemd/system:` };
  const verify = sh(['systemd-analyze', 'verify', '--man=no', unitFile], { allowFail: true, env: verifyEnv });
  t.check(
    'systemd-analyze verify accepts the unit with the drop-in',
    verify.code === 0,
    `exit ${verify.code}: ${verify.stderr.trim()}`,
  );
  writeFileSync(path.join(`${unitFile}.d`, '50-vrf-host-vrf.conf'), rendered.content.replace('\nExecStart=\n', '\n'));
  const unreset = sh(['systemd-analyze', 'verify', '--man=no', unitFile], { allowFail: true, env: verifyEnv });
  t.check(
    'without the empty ExecStart= systemd refuses it (the reset is what makes it one command)',
    unreset.code !== 0 && /more than one ExecStart/.test(unreset.stderr),
    `exit ${unreset.code}: ${unreset.stderr.trim()}`,
  );
  writeFileSync(path.join(`${unitFile}.d`, '50-vrf-host-vrf.conf'), rendered.content);

  // Started as the drop-in's line says, in the unit's namespace.
  const words = line.split(/\s+/).filter((w) => w.length > 0);
  let proc = startBackground(inNs(topo.unit, words));
  t.defer(() => proc.stop());
  const pid = proc.child.pid ?? 0;
  await waitFor(() => answers(log).length >= 2, { timeoutMs: 20_000 });
  t.check(`ip vrf identify ${pid} says storage`, identify(pid) === 'storage', `"${identify(pid)}"`);
  const first = answers(log);
  t.check(
    'its connections reach the remote peer of storage, which sees the storage address',
    first.some((l) => l.includes(`name=rp-storage peer=${storage.unitAddr}:`)),
    first.slice(0, 3).join(' | '),
  );

  // The unit's own line, as it ran before the drop-in: the default VRF, which has no route to the
  // remote rack of storage through storage's gateway.
  const ownLog = path.join(dir, 'own.log');
  nsRun(topo.unit, ['/bin/sh', client, storage.remotePeer, String(server.port), ownLog, '1'], {
    allowFail: true,
    timeoutMs: 15_000,
  });
  const ownAnswers = answers(ownLog);
  t.check(
    "the unit's own line (no drop-in) does not reach the peer from the storage address",
    !ownAnswers.some((l) => l.includes(`peer=${storage.unitAddr}:`)),
    ownAnswers.join(' | '),
  );

  // The User= trap, measured: ip vrf exec as an unprivileged user (as a unit's User= would run it).
  const asNobody = nsRun(
    topo.unit,
    ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'ip', 'vrf', 'exec', 'storage', '/bin/true'],
    { allowFail: true },
  );
  t.note(`ip vrf exec as uid 65534: exit ${asNobody.code}: ${asNobody.stderr.trim().split('\n').join(' | ')}`);
  t.check('ip vrf exec fails for an unprivileged user (the User= trap)', asNobody.code !== 0, asNobody.stderr.trim());
  await measureLoopback(t, topo.unit);

  // The VRF recreated under the running client (a heal gives it a new ifindex).
  const ifindex = () => ipJson(topo.unit, 'link', 'show', 'dev', 'storage')[0]?.ifindex;
  const before = ifindex();
  nsRun(topo.unit, ['ip', 'link', 'del', 'dev', 'storage']);
  await hookOk(t, unit, 'update-status');
  const after = ifindex();
  t.check(
    'update-status recreated storage with a new ifindex',
    after !== undefined && after !== before,
    `${before} → ${after}`,
  );
  const mark = answers(log).length;
  await sleep(5000);
  const stale = answers(log).slice(mark);
  t.note(
    `the client started before the recreate, ${stale.length} attempts after it: ` +
      `${stale.filter((l) => l.includes('name=rp-storage')).length} answered; ip vrf identify still says "${identify(pid)}"; ` +
      `last: ${stale.at(-1) ?? 'none'}`,
  );
  t.check(
    "after the recreate the running client's new connections fail: its sockets are bound to the old ifindex",
    stale.length > 0 && stale.every((l) => !l.includes('name=rp-storage')),
    stale.join(' | '),
  );
  t.check(
    'ip vrf identify cannot see the recreate (it reads the cgroup name, not the ifindex): vrf-host must record the ifindex',
    identify(pid) === 'storage',
    `"${identify(pid)}"`,
  );
  await proc.stop();
  const restartLog = answers(log).length;
  proc = startBackground(inNs(topo.unit, words));
  await waitFor(() => answers(log).length >= restartLog + 2, { timeoutMs: 20_000 });
  const again = answers(log).slice(restartLog);
  t.check(
    'restarted after the recreate: in storage again, and the peer sees the storage address',
    identify(proc.child.pid ?? 0) === 'storage' && again.some((l) => l.includes(`peer=${storage.unitAddr}:`)),
    `identify "${identify(proc.child.pid ?? 0)}"; ${again.slice(0, 2).join(' | ')}`,
  );
  await proc.stop();

  // Back to the default VRF: the unit's own line, started as before.
  const backLog = path.join(dir, 'back.log');
  const back = startBackground(
    inNs(topo.unit, ['/bin/sh', client, storage.remotePeer, String(server.port), backLog, '3']),
  );
  await sleep(500);
  t.check(
    'teardown: the unit started from its own line is in the default VRF',
    identify(back.child.pid ?? 0) === '',
    `"${identify(back.child.pid ?? 0)}"`,
  );
  await back.stop();

  await tryRealSystemd(t, topo.unit, unitDir, storage, server.port, r);
}

/**
 * A real systemd (the host root's, 252) as PID 1 of a pid, mount and cgroup namespace in the unit's
 * network namespace, with its own /run and /etc/systemd/system. Checks only when it came up.
 * @param {import('../lib/context.mjs').Context} t
 * @param {string} ns
 * @param {string} unitDir
 * @param {import('../lib/topology.mjs').Space} storage
 * @param {number} port
 * @param {Awaited<ReturnType<typeof loadRenderer>>} r
 */
async function tryRealSystemd(t, ns, unitDir, storage, port, r) {
  const sys = mkdtempSync(path.join(tmpdir(), 'vrf-sysd-'));
  const log = path.join(sys, 'client.log');
  const own = `/bin/sh ${path.join(path.dirname(unitDir), 'client.sh')} ${storage.remotePeer} ${port} ${log} 1000`;
  const units = path.join(sys, 'units');
  mkdirSync(path.join(units, 'storage-client.service.d'), { recursive: true });
  writeFileSync(
    path.join(units, 'vrf-test.target'),
    '[Unit]\nDescription=vrf-host test target\nDefaultDependencies=no\n',
  );
  writeFileSync(
    path.join(units, 'storage-client.service'),
    `[Unit]\nDefaultDependencies=no\n\n[Service]\nType=simple\nExecStart=${own}\n`,
  );
  const rendered = r.renderServiceDropIn({ unit: 'storage-client.service', vrf: 'storage', execStart: [own] });
  if (!rendered.ok) throw new Error(rendered.problem);
  // No Wants= of the boot unit here: this systemd sees none of the host's units but its own.
  writeFileSync(
    path.join(units, 'storage-client.service.d', '50-vrf-host-vrf.conf'),
    rendered.content.replace('Wants=vrf-host.service\n', ''),
  );
  const inner = path.join(sys, 'inner.sh');
  writeFileSync(
    inner,
    [
      '#!/bin/sh',
      'set -e',
      'mount --make-rprivate /',
      'mount -t tmpfs tmpfs /run',
      `mount --bind ${units} /etc/systemd/system`,
      'mkdir -p /run/systemd/system',
      'umount -l /sys/fs/cgroup 2>/dev/null || true',
      'mount -t cgroup2 cgroup2 /sys/fs/cgroup',
      'export container=vrf-host-test',
      'exec /lib/systemd/systemd --system --unit=vrf-test.target --log-target=console --log-level=warning --show-status=no',
      '',
    ].join('\n'),
  );
  chmodSync(inner, 0o755);
  // Its own cgroup first (joined in the guest's view of /sys, before `ip netns exec` replaces it;
  // membership is inherited), so that the cgroup namespace's root is not the guest's.
  const cg = '/sys/fs/cgroup/vrf-host-test-systemd';
  mkdirSync(cg, { recursive: true });
  const boot = startBackground([
    'sh',
    '-c',
    `echo $$ > ${cg}/cgroup.procs && exec ${inNs(ns, ['unshare', '-m', '-p', '-f', '-C', '--mount-proc', inner]).join(' ')}`,
  ]);
  /** @type {string} */
  let pid1 = '';
  t.defer(async () => {
    // SIGTERM makes systemd as PID 1 re-execute itself; SIGKILL from outside ends its namespace.
    if (pid1) sh(['kill', '-KILL', pid1], { allowFail: true });
    await boot.stop();
    rmSync(sys, { recursive: true, force: true });
  });
  pid1 = await waitFor(
    () => {
      const p = sh(['pgrep', '-f', '-n', '^/lib/systemd/systemd --system --unit=vrf-test.target'], {
        allowFail: true,
      });
      return p.code === 0 ? p.stdout.trim() : '';
    },
    { timeoutMs: 15_000 },
  );
  /** @param {readonly string[]} argv */
  const inSys = (argv) => sh(['nsenter', '-t', pid1, '-m', '-p', ...argv], { allowFail: true, timeoutMs: 30_000 });
  const up = pid1
    ? await waitFor(() => /running|degraded/.test(inSys(['systemctl', 'is-system-running']).stdout), {
        timeoutMs: 45_000,
      })
    : false;
  if (!up) {
    t.note(
      `real systemd did not come up in the guest (pid ${pid1 || 'none'}): ${boot.output().split('\n').slice(-15).join(' | ')}`,
    );
    return;
  }
  t.note('real systemd 252 runs as PID 1 of a namespace in the guest');
  const start = inSys(['systemctl', 'start', 'storage-client.service']);
  const main = inSys(['systemctl', 'show', '-p', 'MainPID', '--value', 'storage-client.service']).stdout.trim();
  // MainPID is in systemd's pid namespace; the cgroup file is the same process seen from the guest.
  await waitFor(() => answers(log).length >= 2, { timeoutMs: 20_000 });
  const procsFile = `${cg}/system.slice/storage-client.service/vrf/storage/cgroup.procs`;
  const procs = (existsSync(procsFile) ? readFileSync(procsFile, 'utf8') : '').split('\n').filter((l) => l.length > 0);
  t.note(
    `the unit's cgroups: ${sh(['find', `${cg}/system.slice`, '-name', 'cgroup.procs'], { allowFail: true })
      .stdout.trim()
      .split('\n')
      .join(' ')}`,
  );
  t.check(
    'systemctl start: the unit with the drop-in runs in storage (its processes in <unit>/vrf/storage, identify says storage)',
    start.code === 0 && procs.length > 0 && procs.every((p) => identify(Number(p)) === 'storage'),
    `start exit ${start.code} ${start.stderr.trim()}; MainPID ${main}; vrf cgroup procs ${procs.join(',')}`,
  );
  const got = answers(log);
  t.check(
    'systemctl start: the peer sees the storage address',
    got.some((l) => l.includes(`peer=${storage.unitAddr}:`)),
    got.slice(0, 2).join(' | '),
  );
  const stop = inSys(['systemctl', 'stop', 'storage-client.service']);
  t.check(
    'systemctl stop ends every process of the unit, the ones in vrf/storage too',
    stop.code === 0 && inSys(['systemctl', 'is-active', 'storage-client.service']).stdout.trim() === 'inactive',
    stop.stderr,
  );
}

/**
 * Measured, not asserted (vrf-host does not add these addresses yet): what a process in the VRF
 * reaches of the host's loopback services, the 127.0.0.53 resolver stub among them (a listener
 * bound to 127.0.0.53 in the default VRF, tcp/udp_l3mdev_accept on as vrf-host sets them),
 * without and with 127.0.0.1/8 and ::1 on the VRF device (as Cumulus gives every VRF).
 * @param {import('../lib/context.mjs').Context} t
 * @param {string} ns
 */
async function measureLoopback(t, ns) {
  /** @type {{ stop: () => Promise<void> }[]} */
  const servers = [];
  try {
    const stubTcp = await startServer({ ns, name: 'stub-tcp', bind: '127.0.0.53' });
    const stubUdp = await startServer({ ns, name: 'stub-udp', proto: 'udp', bind: '127.0.0.53' });
    servers.push(stubTcp, stubUdp);
    /** @param {string} label */
    const measure = (label) => {
      const tcp = probe({ ns, vrf: 'storage', target: '127.0.0.53', port: stubTcp.port, timeoutMs: 3000, attempts: 1 });
      const udp = probe({
        ns,
        vrf: 'storage',
        target: '127.0.0.53',
        port: stubUdp.port,
        proto: 'udp',
        timeoutMs: 3000,
        attempts: 1,
      });
      t.note(
        `loopback ${label}: in storage → default-VRF 127.0.0.53 tcp ${tcp.ok ? `answered (peer ${tcp.peerSaw})` : `failed: ${tcp.error}`}; ` +
          `udp ${udp.ok ? `answered (peer ${udp.peerSaw})` : `failed: ${udp.error}`}`,
      );
    };
    measure('without 127.0.0.1/8 on the VRF device');
    try {
      servers.push(await startServer({ ns, name: 'vrf-lo-before', bind: '127.0.0.1', vrf: 'storage' }));
      t.note('loopback without 127.0.0.1/8 on storage: a process in storage can listen on 127.0.0.1');
    } catch (e) {
      t.note(
        `loopback without 127.0.0.1/8 on storage: a process in storage cannot listen on 127.0.0.1: ${String(e).split('\n')[0]}`,
      );
    }
    nsRun(ns, ['ip', 'addr', 'add', '127.0.0.1/8', 'dev', 'storage']);
    nsRun(ns, ['ip', '-6', 'addr', 'add', '::1/128', 'dev', 'storage', 'nodad']);
    measure('with 127.0.0.1/8 and ::1 on storage');
    const inVrf = await startServer({ ns, name: 'vrf-lo', bind: '127.0.0.1', vrf: 'storage' });
    servers.push(inVrf);
    const own = probe({ ns, vrf: 'storage', target: '127.0.0.1', port: inVrf.port, timeoutMs: 3000, attempts: 1 });
    const fromMain = probe({ ns, target: '127.0.0.1', port: inVrf.port, timeoutMs: 3000, attempts: 1 });
    t.note(
      `loopback in storage: a listener on 127.0.0.1 in the VRF answers a client in the VRF: ${own.ok ? 'yes' : `no (${own.error})`}; ` +
        `a client of the default VRF: ${fromMain.ok ? `yes, answered by ${fromMain.answeredBy}` : `no (${fromMain.error})`}`,
    );
    t.note(
      `routes of storage's table for 127/8: ${nsRun(ns, ['ip', 'route', 'show', 'vrf', 'storage'], {
        allowFail: true,
      })
        .stdout.split('\n')
        .filter((l) => l.includes('127.'))
        .join(' | ')}`,
    );
  } catch (e) {
    t.note(`loopback measurement failed: ${String(e)}`);
  } finally {
    for (const s of servers) await s.stop();
    nsRun(ns, ['ip', 'addr', 'del', '127.0.0.1/8', 'dev', 'storage'], { allowFail: true });
    nsRun(ns, ['ip', '-6', 'addr', 'del', '::1/128', 'dev', 'storage'], { allowFail: true });
  }
}
