// Scenario 1, automatic mode: the packed charm with only `gateways` config turns public, storage
// and storage-cluster into VRFs; mgmt (the controller's path and the default binding) stays.
import { existsSync, readdirSync } from 'node:fs';
import { ipJson } from '../lib/exec.mjs';
import { deployMultiHomed, hookOk, trafficChecks } from '../lib/scenario1.mjs';

export const name = 'multi-homed-auto';
export const description = 'scenario 1 in automatic mode (gateways config): install + config-changed, then traffic';
export const needsCharm = true;

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const gateways =
    'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
  const { topo, unit } = await deployMultiHomed(t, { gateways });
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const vrfs = ipJson(topo.unit, '-details', 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    'VRFs public, storage, storage-cluster exist (and no mgmt VRF)',
    JSON.stringify(vrfs) === JSON.stringify(['public', 'storage', 'storage-cluster']),
    vrfs.join(' '),
  );
  for (const s of Object.values(topo.spaces)) {
    const l = ipJson(topo.unit, 'link', 'show', 'dev', s.dev)[0];
    const want = s.name === 'mgmt' ? undefined : s.name;
    t.check(
      `${s.dev} ${want ? `is enslaved to ${want}` : 'is not enslaved'}`,
      l?.master === want,
      `master ${l?.master ?? 'none'}`,
    );
  }
  await trafficChecks(t, topo, (sp) => (sp === 'mgmt' ? undefined : sp));
  // A host without systemd-networkd (nothing manages these links): show-vrfs says so per member,
  // and vrf-host gave networkd no file.
  const res = (await unit.action('show-vrfs')).record.actionResults ?? {};
  for (const s of Object.values(topo.spaces).filter((x) => x.name !== 'mgmt'))
    t.check(
      `show-vrfs: ${s.dev} (${s.name}) is managed by none`,
      res[`vrfs.${s.name}.members.0.name`] === s.dev && res[`vrfs.${s.name}.members.0.managed-by`] === 'none',
      `${res[`vrfs.${s.name}.members.0.name`]}: ${res[`vrfs.${s.name}.members.0.managed-by`]}`,
    );
  const given = existsSync('/etc/systemd/network')
    ? readdirSync('/etc/systemd/network', { recursive: true })
        .map(String)
        .filter((f) => f.includes('vrf-host'))
    : [];
  t.check('no networkd: vrf-host wrote nothing under /etc/systemd/network', given.length === 0, given.join(' '));
}
