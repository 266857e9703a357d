// Scenario 7: the unit is an LXD container. Its namespace has eth0 (mgmt, the controller's path)
// and eth1 (storage), veth peers on the "host" bridges, and its hooks run in a private mount
// namespace where /run/systemd/container says "lxc" (lib/as-container.guest.mjs), which is what
// vrf-host's container detection reads. First the vrf module is NOT loaded (this file sorts before
// every scenario that creates a VRF: the VM boots with it unloaded, and any `type vrf` link
// autoloads it): the unit is blocked with "no vrf kernel module: load it on the host …", nothing is
// changed (no changing ip command, snapshot and files untouched) and the module is still not
// loaded (a container cannot modprobe; the charm must not try). Then the host loads it, and the
// next update-status converges and traffic flows through the storage VRF.
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CharmUnit, networksFor } from '../lib/charm.mjs';
import { inNs, ipJson, run as runCmd, sleep, vrfModuleLoaded } from '../lib/exec.mjs';
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { hookOk, trafficChecks } from '../lib/scenario1.mjs';
import { diffSnapshots, resetUnitFiles, snapshot } from '../lib/snapshot.mjs';
import { buildTopology, controllerOf, destroyTopology, waitReady } from '../lib/topology.mjs';

export const name = 'lxd-container';
export const description =
  'the unit is an LXD container: blocked without touching anything while the vrf module is not loaded; converges once the host loads it';
export const needsCharm = true;
export const timeoutMs = 15 * 60_000;

const AS_CONTAINER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'as-container.guest.mjs');
const LXD = Object.freeze(
  /** @satisfies {import('../lib/topology.mjs').TopologySpec} */ ({
    unit: 'lxd0',
    spaces: [
      {
        name: 'mgmt',
        kind: 'nic',
        dev: 'eth0',
        nics: ['eth0'],
        index: 0,
        v4: '10.0.0',
        remote4: '10.200.0',
        v6: 'fd00:0:0:0',
        remote6: 'fd00:0:0:1',
      },
      {
        name: 'storage',
        kind: 'nic',
        dev: 'eth1',
        nics: ['eth1'],
        index: 1,
        v4: '10.10.4',
        remote4: '10.20.4',
        v6: 'fd00:0:2:0',
        remote6: 'fd00:0:2:1',
      },
    ],
    defaultSpace: 'mgmt',
    controller: { behind: 'mgmt', v4: '10.100.0', v6: 'fd00:0:100:0' },
  }),
);
const FILES = [
  '/var/lib/vrf-host/state.json',
  '/etc/iproute2/rt_tables.d/vrf-host.conf',
  '/etc/sysctl.d/60-vrf-host.conf',
];
/** @param {string} sp */
const VRF_OF = (sp) => (sp === 'storage' ? 'storage' : undefined);

/** Unload vrf when an earlier scenario of this boot loaded it (possible once no VRF device is left). */
/** @param {import('../lib/context.mjs').Context} t */
async function ensureVrfUnloaded(t) {
  if (!vrfModuleLoaded()) return true;
  for (let i = 0; i < 20 && vrfModuleLoaded(); i++) {
    runCmd(['modprobe', '-r', 'vrf'], { allowFail: true });
    if (vrfModuleLoaded()) await sleep(500); // deleted namespaces release their VRFs asynchronously
  }
  const ok = !vrfModuleLoaded();
  t.note(
    `the vrf module was loaded by an earlier scenario; modprobe -r vrf ${ok ? 'unloaded it' : 'could not unload it'}`,
  );
  return ok;
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const unloaded = await ensureVrfUnloaded(t);
  const madeRunSystemd = !existsSync('/run/systemd');
  if (madeRunSystemd) mkdirSync('/run/systemd');
  resetUnitFiles();
  const topo = buildTopology(LXD);
  t.defer(() => {
    destroyTopology(topo);
    resetUnitFiles();
    if (madeRunSystemd) rmdirSync('/run/systemd');
  });
  await waitReady(topo);
  const wrap = ['unshare', '-m', '--propagation', 'private', process.execPath, AS_CONTAINER, 'lxc'];
  const seen = runCmd(inNs(topo.unit, [...wrap, 'cat', '/run/systemd/container']), { allowFail: true });
  t.check(
    "the unit's hooks see /run/systemd/container = lxc; the VM itself does not",
    seen.stdout.trim() === 'lxc' && !existsSync('/run/systemd/container'),
    `inside: ${JSON.stringify(seen.stdout.trim())} ${seen.stderr.trim()}`,
  );
  const unit = new CharmUnit({
    ns: topo.unit,
    state: { config: { gateways: 'storage=10.10.4.1 storage=fd00:0:2::1' }, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
    fast: true,
    wrap,
  });
  const spy = createIpSpy();
  const env = { VRF_HOST_IP: spy.path };

  // 1. No vrf module.
  if (t.check('the vrf module is not loaded', unloaded && !vrfModuleLoaded())) {
    const before = snapshot(topo.unit);
    for (const hook of ['install', 'config-changed', 'update-status']) {
      spy.reset();
      const r = await unit.hook(hook, { env });
      const st = r.record.status;
      t.check(
        `no module, ${hook}: blocked "no vrf kernel module: load it on the host …"`,
        r.exitCode === 0 &&
          st.status === 'blocked' &&
          /^no vrf kernel module: load it on the host \(modprobe vrf\); a container cannot load modules/.test(
            st.message,
          ),
        `exit ${r.exitCode}, ${st.status}: ${st.message} (${r.ms} ms)`,
      );
      const ch = mutatingCalls(spy.calls());
      t.check(`no module, ${hook}: no changing ip command`, ch.length === 0, ch.slice(0, 4).join(' | '));
      const diff = diffSnapshots(before, snapshot(topo.unit));
      t.check(`no module, ${hook}: the unit's snapshot is untouched`, diff.length === 0, diff.slice(0, 5).join(' | '));
      t.check(`no module, ${hook}: the charm did not load the module (a container cannot)`, !vrfModuleLoaded());
      const files = FILES.filter((f) => existsSync(f));
      t.check(`no module, ${hook}: vrf-host wrote no file`, files.length === 0, files.join(' '));
    }
  }

  // 2. The host loads the module; the next update-status converges.
  runCmd(['modprobe', 'vrf']);
  t.check('the host loaded the vrf module', vrfModuleLoaded());
  const r = await hookOk(t, unit, 'update-status');
  t.note(`status: ${r.record.status.message}`);
  const vrfs = ipJson(topo.unit, 'link', 'show', 'type', 'vrf').map((l) => l.ifname);
  t.check('VRF storage exists (and no mgmt VRF)', vrfs.join(' ') === 'storage', vrfs.join(' '));
  t.check(
    'eth1 is enslaved to storage, eth0 is not',
    ipJson(topo.unit, 'link', 'show', 'dev', 'eth1')[0]?.master === 'storage' &&
      ipJson(topo.unit, 'link', 'show', 'dev', 'eth0')[0]?.master === undefined,
  );
  await trafficChecks(t, topo, VRF_OF);
  spy.reset();
  await hookOk(t, unit, 'update-status', { env });
  const ch = mutatingCalls(spy.calls());
  t.check('a second update-status changes nothing', ch.length === 0, ch.slice(0, 4).join(' | '));
}
