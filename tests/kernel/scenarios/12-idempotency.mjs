// Scenario 2: on a converged host, a second config-changed and an update-status change nothing:
// no ip command that changes the kernel is issued (counted by an ip wrapper), and the host
// snapshot is identical.
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { deployMultiHomed, hookOk } from '../lib/scenario1.mjs';
import { diffSnapshots, snapshot } from '../lib/snapshot.mjs';

export const name = 'idempotency';
export const description = 'a second config-changed and update-status issue no changing ip command';
export const needsCharm = true;

export async function run(t) {
  const gateways = 'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  const spy = createIpSpy();
  const env = { VRF_HOST_IP: spy.path };
  await hookOk(t, unit, 'install', { env });
  await hookOk(t, unit, 'config-changed', { env });
  const changedOnInstall = mutatingCalls(spy.calls());
  t.check('the first hooks did change the host (the spy sees the charm\'s ip calls)', changedOnInstall.length > 0, `${changedOnInstall.length} changing ip lines`);
  const before = snapshot(topo.unit);
  for (const hook of ['config-changed', 'update-status']) {
    spy.reset();
    await hookOk(t, unit, hook, { env });
    const calls = spy.calls();
    const changes = mutatingCalls(calls);
    t.check(`second ${hook}: no changing ip command`, changes.length === 0, changes.length ? changes.slice(0, 5).join(' | ') : `${calls.length} ip process(es), read-only`);
    const diff = diffSnapshots(before, snapshot(topo.unit));
    t.check(`second ${hook}: host snapshot unchanged`, diff.length === 0, diff.slice(0, 5).join(' | '));
  }
}
