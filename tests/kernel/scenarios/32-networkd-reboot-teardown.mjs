// vrf-host under systemd-networkd, reboot and teardown. The charm converges on a host whose links
// networkd owns (netplan's files, networkd-dispatcher running). Reboot: every process ends, the
// unit's namespace is built again with bare NICs, /run is empty, /etc keeps what was written
// there; netplan generate, dbus, networkd (and the dispatcher) start as at boot, then
// vrf-host.service's ExecStart runs in the host with systemd's minimal environment. The host
// must converge to the snapshot of before the reboot, and traffic flows. Teardown (stop, remove):
// every file vrf-host gave networkd is gone, the links and networkd's view of them (networkctl
// list and status) are as before install, networkd was reloaded (a reconfigure, which reads no
// file, puts nothing back), and a networkd restart afterwards brings nothing of vrf-host back.
import { readFileSync } from 'node:fs';
import { ipJson } from '../lib/exec.mjs';
import { NetworkdHost, netplanFor } from '../lib/networkd.mjs';
import { startProbeLoop } from '../lib/probeloop.mjs';
import { deployOnNetworkd } from '../lib/scenario1.mjs';
import { diffSnapshots, resetUnitFiles, snapshot } from '../lib/snapshot.mjs';
import { MULTI_HOMED, buildTopology, destroyTopology } from '../lib/topology.mjs';
import { execStartOf } from './13-reboot-replay.mjs';

export const name = 'networkd-reboot-teardown';
export const description =
  'vrf-host under systemd-networkd: reboot (networkd first, then the boot unit) converges; teardown leaves networkd as before install';
export const needsCharm = true;
export const timeoutMs = 10 * 60_000;

const UNIT_FILE = '/etc/systemd/system/vrf-host.service';
/**
 * Every target of the probe loop answered for `ms` in a row (within `timeoutMs`).
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {{ spaces?: string[], ms?: number, timeoutMs?: number }} [options]
 */
async function allAnswer(topo, { spaces = Object.keys(topo.spaces), ms = 1000, timeoutMs = 20_000 } = {}) {
  const loop = await startProbeLoop(topo, { spaces });
  try {
    const ok = await loop.allAnswer({ forMs: ms, timeoutMs });
    return { ok, window: loop.recent(ms) };
  } finally {
    await loop.stop();
  }
}

/**
 * networkd done with netplan's links and with the VRF devices it manages (vrf-host's files).
 * @param {NetworkdHost} host
 */
const settled = (host) => host.waitSettled(['public', 'storage', 'storage-cluster']);

/**
 * networkd's own view of each link (`networkctl status LINK`): its state and the .network file it applies.
 * @param {NetworkdHost} host
 */
const statusRows = (host) =>
  host.list().map(({ link }) => {
    const text = host.networkctl('status', '-n0', link).stdout;
    /** @param {string} key */
    const pick = (key) => new RegExp(`^\\s*${key}: (.*)$`, 'm').exec(text)?.[1]?.trim() ?? '-';
    return `${link}: ${pick('State')}; ${pick('Network File')}`;
  });

/** @param {NetworkdHost} host */
const listRows = (host) =>
  host.list().map(({ link, type, operational, setup }) => `${link} ${type} ${operational} ${setup}`);

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  resetUnitFiles();
  let topo = buildTopology(MULTI_HOMED, { unitLinks: 'nics' });
  t.defer(() => {
    destroyTopology(topo);
    resetUnitFiles();
  });
  const netplan = netplanFor(topo);
  const host = await NetworkdHost.start({ topo, netplan });
  t.defer(() => host.stop());
  const pristine = snapshot(topo.unit);
  const filesPristine = host.networkFiles();
  const listPristine = listRows(host);
  const statusPristine = statusRows(host);

  const unit = await deployOnNetworkd(t, topo, host);
  await settled(host);
  const converged = snapshot(topo.unit);
  const filesConverged = host.networkFiles();
  t.note(`files networkd reads after install: ${Object.keys(filesConverged).join(' ')}`);

  // Reboot: networkd first, then the boot path.
  const argv = execStartOf(readFileSync(UNIT_FILE, 'utf8'));
  await host.reboot(() => {
    destroyTopology(topo);
    topo = buildTopology(MULTI_HOMED, { unitLinks: 'nics' });
    return topo;
  });
  unit.wrap = host.wrap(unit.charmDir); // a new mount-namespace holder
  await settled(host);
  const booted = snapshot(topo.unit);
  t.note(
    `after the reboot, before the boot unit: ${diffSnapshots(converged, booted).length} differences from the converged host`,
  );
  const r = host.exec(argv, {
    allowFail: true,
    timeoutMs: 180_000,
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
  });
  t.check(
    'the boot command exits 0',
    r.code === 0,
    `exit ${r.code}: ${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-3).join(' | ')}`,
  );
  await settled(host);
  const diff = diffSnapshots(converged, snapshot(topo.unit));
  t.check(
    'after networkd and the boot command the snapshot equals the converged one',
    diff.length === 0,
    diff.slice(0, 8).join(' | '),
  );
  const traffic = await allAnswer(topo);
  t.check('after the reboot every space and the controller answer', traffic.ok, JSON.stringify(traffic.window));

  // Teardown under networkd.
  for (const hook of ['stop', 'remove']) {
    const h = await unit.hook(hook);
    t.check(
      `${hook}: exit 0`,
      h.exitCode === 0,
      `exit ${h.exitCode}, ${h.record.status.status}:` +
        ` ${h.record.status.message}${h.exitCode ? ` stderr: ${h.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
    );
  }
  const files = host.networkFiles();
  t.check(
    'after remove the files networkd reads are the ones of before install',
    JSON.stringify(files) === JSON.stringify(filesPristine),
    `${Object.keys(filesPristine).join(' ')} → ${Object.keys(files).join(' ')}`,
  );
  await host.waitConfigured();
  const td = diffSnapshots(pristine, snapshot(topo.unit));
  t.check('after remove the snapshot equals the one before install', td.length === 0, td.slice(0, 8).join(' | '));
  const list = listRows(host);
  t.check(
    'after remove networkctl list is as before install',
    JSON.stringify(list) === JSON.stringify(listPristine),
    `${listPristine.join(', ')} → ${list.join(', ')}`,
  );
  const status = statusRows(host);
  t.check(
    'after remove networkctl status (state, network file) of every link is as before install',
    JSON.stringify(status) === JSON.stringify(statusPristine),
    `${statusPristine.join(', ')} → ${status.join(', ')}`,
  );
  // networkd was told (teardown's reload): a reconfigure reads no file, it applies what networkd
  // loaded last; had networkd still held vrf-host's drop-ins (VRF=, the VRF's routes), the former
  // members would be put back into VRFs that are gone, and fail.
  await host.reconfigure(['br-ens4', 'bond0', 'bond0.105']);
  const rc = diffSnapshots(pristine, snapshot(topo.unit));
  const rcList = listRows(host);
  t.check(
    'after remove a reconfigure of the former members (no reload) leaves them as before install',
    rc.length === 0 && JSON.stringify(rcList) === JSON.stringify(listPristine),
    `${rc.slice(0, 6).join(' | ') || 'snapshot equal'}; ${rcList.join(', ')}`,
  );
  await host.restartNetworkd();
  const tr = diffSnapshots(pristine, snapshot(topo.unit));
  t.check(
    'a networkd restart after remove brings nothing of vrf-host back',
    tr.length === 0 && ipJson(topo.unit, 'link', 'show', 'type', 'vrf').length === 0,
    tr.slice(0, 8).join(' | '),
  );
  // Without VRFs a remote peer's answer leaves through mgmt's gateway and is dropped: only mgmt.
  const after = await allAnswer(topo, { spaces: ['mgmt'] });
  t.check('after teardown mgmt and the controller answer', after.ok, JSON.stringify(after.window));
}
