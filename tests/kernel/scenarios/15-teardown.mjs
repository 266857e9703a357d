// Scenario 5: stop + remove leave the unit's host exactly as before install: full ip -json
// link/addr/route/rule snapshots (both families) and the owned sysctls, kernel-assigned fields aside.
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';
import { ipJson } from '../lib/exec.mjs';

export const name = 'teardown';
export const description = 'stop/remove restore the full ip snapshot and sysctls of before install';
export const needsCharm = true;

export async function run(t) {
  const gateways = 'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  const before = snapshot(topo.unit);
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const during = diffSnapshots(before, snapshot(topo.unit));
  t.check('the charm changed the host (the comparison is not blind)', during.length > 0, `${during.length} differences`);
  for (const hook of ['stop', 'remove']) {
    const r = await unit.hook(hook);
    t.check(`${hook}: exit 0`, r.exitCode === 0, `exit ${r.exitCode}, ${r.record.status.status}: ${r.record.status.message}`);
  }
  const diff = diffSnapshots(before, snapshot(topo.unit));
  t.check('after stop + remove the snapshot equals the one before install', diff.length === 0, diff.slice(0, 8).join(' | '));
  t.check('no VRF is left', ipJson(topo.unit, 'link', 'show', 'type', 'vrf').length === 0);
}
