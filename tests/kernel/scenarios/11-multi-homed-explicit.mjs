// Scenario 1, explicit mode: `vrfs` names the VRFs (not after the bindings), one fixed table.
import YAML from 'yaml';
import { ipJson } from '../lib/exec.mjs';
import { deployMultiHomed, hookOk, trafficChecks } from '../lib/scenario1.mjs';
import { spaceOf } from '../lib/topology.mjs';

export const name = 'multi-homed-explicit';
export const description = 'scenario 1 in explicit vrfs mode: install + config-changed, then traffic';
export const needsCharm = true;

const VRFS = {
  pub: { binding: 'public', gateway: ['172.16.0.1', 'fd00:0:1::1'] },
  stor: { binding: 'storage', table: 20, gateway: ['10.10.4.1', 'fd00:0:2::1'] },
  storrepl: { binding: 'storage-cluster', gateway: ['10.10.5.1', 'fd00:0:3::1'] },
};
/** @type {Record<string, string>} */
const VRF_OF = { public: 'pub', storage: 'stor', 'storage-cluster': 'storrepl' };

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const { topo, unit } = await deployMultiHomed(t, { vrfs: YAML.stringify(VRFS) });
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const links = ipJson(topo.unit, '-details', 'link', 'show', 'type', 'vrf');
  const got = Object.fromEntries(links.map((l) => [l.ifname, l.linkinfo?.info_data?.table]));
  t.check(
    'VRFs pub, stor (table 20), storrepl exist',
    Object.keys(got).sort().join(' ') === 'pub stor storrepl' && got.stor === 20,
    JSON.stringify(got),
  );
  for (const [space, vrf] of Object.entries(VRF_OF)) {
    const dev = spaceOf(topo, space).dev;
    const l = ipJson(topo.unit, 'link', 'show', 'dev', dev)[0];
    t.check(`${dev} is enslaved to ${vrf}`, l?.master === vrf, `master ${l?.master ?? 'none'}`);
  }
  await trafficChecks(t, topo, (sp) => VRF_OF[sp]);
}
