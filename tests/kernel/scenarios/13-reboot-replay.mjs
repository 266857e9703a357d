// Scenario 3, reboot replay: after a converge, the unit's host "reboots" — its namespace is rebuilt
// from scratch with the same interfaces and addresses (fresh netns, links re-created, no VRF,
// per-netns sysctls back to their defaults) while the files vrf-host wrote under the guest's /etc
// and /var/lib persist — and the boot unit's command, exactly as vrf-host.service's ExecStart has
// it (read from the installed unit file), runs inside the new namespace with systemd's minimal
// environment. The host snapshot equals the one before the reboot, and traffic works. The unit's
// charm directory is deleted first (as when the unit was removed while another vrf-host unit keeps
// the machine's VRFs): the boot command runs from vrf-host's own copies of node and the CLI.
// First, a boot where one member is missing (bond0.105, storage-cluster's VLAN, not there yet):
// the boot command builds public and storage (traffic works), creates storage-cluster without
// its member, names the missing member and exits 1; once the VLAN is back, the next run builds
// the rest and the host equals the converged one.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { ipBatch, ipJson, ipn } from '../lib/exec.mjs';
import { controllerRow, inboundMatrix, outboundMatrix, printable } from '../lib/matrix.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';
import { MULTI_HOMED, buildTopology, destroyTopology, required, spaceOf, waitReady } from '../lib/topology.mjs';

export const name = 'reboot-replay';
export const description =
  "a rebuilt unit namespace (as after a reboot) + vrf-host.service's ExecStart → the same snapshot, traffic works";
export const needsCharm = true;
export const timeoutMs = 10 * 60_000;

const UNIT_FILE = '/etc/systemd/system/vrf-host.service';
const STATE_FILE = '/var/lib/vrf-host/state.json';
const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
/** @param {string} sp */
const VRF_OF = (sp) => (sp === 'mgmt' ? undefined : sp);

/**
 * The [Service] ExecStart of a unit file as argv (systemd splits on whitespace; ours has no quoting).
 * @param {string} unitText
 * @returns {string[]}
 */
export function execStartOf(unitText) {
  let section = '';
  /** @type {string[]} */
  const found = [];
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (/^\[.+\]$/.test(line)) section = line;
    else if (section === '[Service]' && line.startsWith('ExecStart=')) found.push(line.slice('ExecStart='.length));
  }
  if (found.length !== 1) throw new Error(`${UNIT_FILE}: expected one ExecStart in [Service], found ${found.length}`);
  const cmd = (found[0] ?? '').replace(/^[-@:+!]+/, ''); // systemd prefixes (none expected)
  if (/["'\\$%;]/.test(cmd))
    throw new Error(`${UNIT_FILE}: ExecStart needs quoting/expansion this test does not emulate: ${cmd}`);
  return cmd.split(/\s+/).filter(Boolean);
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const { topo, unit } = await deployMultiHomed(t, { gateways: GATEWAYS });
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const before = snapshot(topo.unit);
  const vrfsBefore = ipJson(topo.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    'converged: VRFs public, storage, storage-cluster',
    JSON.stringify(vrfsBefore) === '["public","storage","storage-cluster"]',
    vrfsBefore.join(' '),
  );

  t.check(`${UNIT_FILE} is installed`, existsSync(UNIT_FILE));
  t.check(`${STATE_FILE} exists (the unit's ConditionPathExists)`, existsSync(STATE_FILE));
  const unitText = readFileSync(UNIT_FILE, 'utf8');
  t.check('the unit runs only when the state file exists', unitText.includes(`ConditionPathExists=${STATE_FILE}`));
  const argv = execStartOf(unitText);
  t.note(`ExecStart: ${argv.join(' ')}`);
  t.check('ExecStart runs an absolute binary that exists', argv[0]?.startsWith('/') && existsSync(argv[0]), argv[0]);
  t.check(
    "ExecStart runs vrf-host's copy of the charm's node, not the unit's charm directory",
    argv[0] === '/var/lib/vrf-host/bin/node' && !argv.some((a) => a.startsWith(unit.charmDir)),
    argv.join(' '),
  );
  t.check(
    'ExecStart applies from the saved state',
    argv.includes('apply') && argv.includes('--from-state'),
    argv.join(' '),
  );

  // "Reboot": every namespace of the topology is deleted and built again — the unit's links and
  // addresses come back as networkd would bring them (same names, MACs, addresses, main default),
  // with no VRF and fresh per-netns sysctls. The guest's files (/etc, /var/lib) are untouched.
  destroyTopology(topo);
  const topo2 = buildTopology(MULTI_HOMED);
  await waitReady(topo2);
  const booted = snapshot(topo2.unit);
  const preDiff = diffSnapshots(before, booted);
  t.check(
    'after the reboot the host differs from the converged one (the comparison is not blind)',
    preDiff.length > 0,
    `${preDiff.length} differences`,
  );
  t.check('after the reboot there is no VRF', ipJson(topo2.unit, 'link', 'show', 'type', 'vrf').length === 0);
  t.check(
    'after the reboot tcp_l3mdev_accept is back to 0',
    booted.sysctls['net.ipv4.tcp_l3mdev_accept'] === '0',
    booted.sysctls['net.ipv4.tcp_l3mdev_accept'],
  );

  rmSync(unit.charmDir, { recursive: true, force: true });
  t.check("the unit's charm directory is gone", !existsSync(unit.charmDir), unit.charmDir);
  // systemd runs the command with a minimal environment: no VRF_HOST_*, no Juju variables.
  /** @param {string} label */
  const boot = (label) => {
    const t0 = Date.now();
    const r = spawnSync('ip', ['netns', 'exec', topo2.unit, ...argv], {
      encoding: 'utf8',
      timeout: 180_000,
      cwd: '/',
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
    });
    const ms = Date.now() - t0;
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    t.note(
      `${label}: exit ${r.status ?? r.signal} in ${ms} ms${out ? `: ${out.split('\n').slice(-4).join(' | ')}` : ''}`,
    );
    return { ...r, out };
  };

  // ---- A boot with storage-cluster's VLAN missing ------------------------------------------------
  const cluster = spaceOf(topo2, 'storage-cluster');
  ipn(topo2.unit, 'link', 'del', 'dev', cluster.dev);
  const partial = boot('boot command, bond0.105 missing');
  t.check(
    'with a member missing the boot command exits 1 and names it',
    partial.status === 1 && partial.out.includes(`storage-cluster: member ${cluster.dev} does not exist on this host`),
    `exit ${partial.status}: ${partial.out.split('\n').slice(-2).join(' | ')}`,
  );
  const vrfsNow = ipJson(topo2.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    'the other VRFs are built (and storage-cluster exists, waiting for its member)',
    JSON.stringify(vrfsNow) === JSON.stringify(['public', 'storage', 'storage-cluster']),
    vrfsNow.join(' '),
  );
  const masters = Object.fromEntries(ipJson(topo2.unit, 'link', 'show').map((l) => [l.ifname, l.master ?? null]));
  t.check(
    'public and storage have their members',
    masters['br-ens4'] === 'public' && masters['bond0'] === 'storage',
    JSON.stringify({ 'br-ens4': masters['br-ens4'], bond0: masters['bond0'] }),
  );
  const partialIn = await inboundMatrix(topo2);
  for (const row of partialIn.filter((x) => x.space === 'public' || x.space === 'storage'))
    t.check(`missing member: ${row.space} ${row.path} client answered`, row.ok, row.result);
  const partialCtl = await controllerRow(topo2);
  t.check('missing member: controller reachable from the default VRF', partialCtl.ok, partialCtl.result);
  // The VLAN comes back as networkd would bring it: the next boot-command run builds the rest.
  ipBatch(topo2.unit, [
    [
      'link',
      'add',
      'link',
      required(cluster.parent, 'parent of storage-cluster'),
      'name',
      cluster.dev,
      'type',
      'vlan',
      'id',
      String(cluster.vlanId),
    ],
    ['link', 'set', cluster.dev, 'up'],
    ['addr', 'add', `${cluster.unitAddr}/24`, 'dev', cluster.dev],
    ...(topo2.ipv6 ? [['addr', 'add', `${cluster.unitAddr6}/64`, 'dev', cluster.dev, 'nodad']] : []),
  ]);

  const r = boot('boot command');
  t.check('the boot command exits 0', r.status === 0, `exit ${r.status ?? r.signal ?? r.error?.message}`);

  const after = snapshot(topo2.unit);
  const diff = diffSnapshots(before, after);
  t.check(
    'after the boot command the snapshot equals the one before the reboot',
    diff.length === 0,
    diff.slice(0, 8).join(' | '),
  );

  const inbound = await inboundMatrix(topo2);
  t.table('after replay: inbound TCP to a 0.0.0.0 service on the unit', printable(inbound));
  for (const row of inbound)
    t.check(
      `after replay: ${row.space} ${row.path} client answered by the unit's ${row.space} address`,
      row.ok,
      row.result,
    );
  const outbound = await outboundMatrix(topo2, { vrfOf: VRF_OF });
  for (const row of outbound)
    t.check(
      `after replay: outbound ${row.source} → ${row.destination}, peer sees the space address`,
      row.ok,
      row.result,
    );
  const ctl = await controllerRow(topo2);
  t.check('after replay: controller reachable from the default VRF', ctl.ok, ctl.result);
}
