// The lab (guest side): scenario 1's multi-homed host, a before matrix, the packed charm deployed
// through install + config-changed, an after matrix, and the show-vrfs action. Exit 0 only when
// the after matrix is fully green. Writes $VRF_HOST_RESULTS/lab.json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CharmUnit, networksFor } from './lib/charm.mjs';
import { createContext } from './lib/context.mjs';
import { controllerRow, inboundMatrix, outboundMatrix, printable } from './lib/matrix.mjs';
import { resetUnitFiles } from './lib/snapshot.mjs';
import { buildTopology, controllerOf, destroyTopology, waitReady } from './lib/topology.mjs';

const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
const t = createContext('lab');
/**
 * @type {{ before: import('./lib/matrix.mjs').MatrixRow[], after: import('./lib/matrix.mjs').MatrixRow[],
 *   showVrfs: { exitCode: number, results: Readonly<Record<string, string>>, failure: string | null } | null,
 *   hooks: { hook: string, exitCode: number, status: { status: string, message: string }, ms: number }[] }}
 */
const out = { before: [], after: [], showVrfs: null, hooks: [] };
let green = false;
resetUnitFiles();
const topo = buildTopology();
try {
  await waitReady(topo);
  t.note(
    'topology: mgmt on ens3 (NIC), public on br-ens4 (bridge over ens4), storage on bond0 (active-backup ens5+ens6),' +
      ' storage-cluster on bond0.105 (VLAN); controller 10.100.0.5 behind the mgmt gateway',
  );
  out.before = [...(await inboundMatrix(topo)), await controllerRow(topo)];
  t.table('BEFORE vrf-host: TCP to a service on 0.0.0.0 of the unit', printable(out.before));
  const unit = new CharmUnit({
    ns: topo.unit,
    state: { config: { gateways: GATEWAYS }, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
  });
  t.note(`juju config vrf-host gateways="${GATEWAYS}"`);
  for (const hook of ['install', 'config-changed']) {
    const r = await unit.hook(hook);
    out.hooks.push({ hook, exitCode: r.exitCode, status: r.record.status, ms: r.ms });
    t.note(`hook ${hook}: exit ${r.exitCode}, ${r.record.status.status}: ${r.record.status.message} (${r.ms} ms)`);
  }
  /** @param {string} sp */
  const vrfOf = (sp) => (sp === topo.defaultSpace ? undefined : sp);
  out.after = [
    ...(await inboundMatrix(topo)),
    ...(await inboundMatrix(topo, { family: 6 })),
    ...(await outboundMatrix(topo, { vrfOf })),
    await controllerRow(topo),
  ];
  t.table('AFTER vrf-host: inbound (IPv4, IPv6), outbound from each VRF, controller', printable(out.after));
  const show = await unit.action('show-vrfs', {});
  out.showVrfs = { exitCode: show.exitCode, results: show.record.actionResults, failure: show.record.actionFailure };
  t.note(
    `show-vrfs: exit ${show.exitCode}${show.record.actionFailure ? `, failed: ${show.record.actionFailure}` : ''}`,
  );
  const results = Object.entries(show.record.actionResults);
  if (results.length === 0) t.note('  (show-vrfs set no results)');
  for (const [k, v] of results) t.note(`  ${k}: ${v.split('\n').join('\n#     ')}`);
  green = out.after.length > 0 && out.after.every((r) => r.ok);
} finally {
  destroyTopology(topo);
  resetUnitFiles();
  writeFileSync(
    path.join(process.env.VRF_HOST_RESULTS ?? '/tmp', 'lab.json'),
    `${JSON.stringify({ ...out, green }, null, 2)}\n`,
  );
}
console.log(
  green
    ? 'LAB: after matrix fully green'
    : `LAB: after matrix NOT green (${out.after.filter((r) => !r.ok).length} of ${out.after.length} rows failed)`,
);
process.exit(green ? 0 : 1);
