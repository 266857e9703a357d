// Scenario 5: stop + remove leave the unit's host exactly as before install: full ip -json
// link/addr/route/rule snapshots (both families) and the owned sysctls, kernel-assigned fields aside.
// Then the charm is installed again in the same namespace: the kernel adds the l3mdev rule only with
// a namespace's first VRF ever, so vrf-host must add it itself (before its first VRF), and a second
// remove again gives back the host of before.
import { CharmUnit, networksFor } from '../lib/charm.mjs';
import { deployMultiHomed, hookOk, hooksExitOk, snapshotIsBack } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';
import { ipJson } from '../lib/exec.mjs';
import { controllerOf } from '../lib/topology.mjs';

export const name = 'teardown';
export const description = 'stop/remove restore the full ip snapshot and sysctls of before install';
export const needsCharm = true;

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const gateways =
    'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  const before = snapshot(topo.unit);
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const during = diffSnapshots(before, snapshot(topo.unit));
  t.check(
    'the charm changed the host (the comparison is not blind)',
    during.length > 0,
    `${during.length} differences`,
  );
  await hooksExitOk(t, unit, ['stop', 'remove']);
  snapshotIsBack(t, topo.unit, before, 'after stop + remove the snapshot equals the one before install');
  t.check('no VRF is left', ipJson(topo.unit, 'link', 'show', 'type', 'vrf').length === 0);

  // Installed again (a new unit of the application on the same machine).
  const again = new CharmUnit({
    ns: topo.unit,
    state: { config: { gateways }, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
  });
  await hookOk(t, again, 'install');
  const l3 = [
    ...ipJson(topo.unit, '-details', 'rule', 'show'),
    ...ipJson(topo.unit, '-6', '-details', 'rule', 'show'),
  ].filter((r) => 'l3mdev' in r);
  t.check(
    'installed again: one l3mdev rule per family (protocol kernel), although the kernel adds none with this VRF',
    l3.length === 2 && l3.every((r) => r.priority === 1000 && r.protocol === 'kernel'),
    JSON.stringify(l3),
  );
  const r2 = await again.hook('remove');
  t.check(
    'remove again: exit 0',
    r2.exitCode === 0,
    `exit ${r2.exitCode}, ${r2.record.status.status}: ${r2.record.status.message}`,
  );
  snapshotIsBack(t, topo.unit, before, 'after the second remove the snapshot equals the one before the first install');
}
