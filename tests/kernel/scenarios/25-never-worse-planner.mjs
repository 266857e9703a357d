// Scenario 25: what the planner promises beyond the VRFs themselves, with real traffic before
// install, after install and after stop + remove.
//  - Local delivery from every address: a default-VRF socket bound to a space address reaches a
//    service on another of the host's addresses (the mgmt address, another space's), and the
//    reverse, in both families. The per-address source rules at 99 sit ahead of the moved local
//    lookup; vrf-host's delivery rules at 98 (`from ADDRESS lookup local`, `to ADDRESS lookup
//    VRFTABLE`) keep the host delivering to itself.
import { ipJson, ipn } from '../lib/exec.mjs';
import { probe, startServer } from '../lib/probes.mjs';
import { deployMultiHomed, hookOk, hooksExitOk, snapshotIsBack } from '../lib/scenario1.mjs';
import { snapshot } from '../lib/snapshot.mjs';
import { required, spaceOf } from '../lib/topology.mjs';

export const name = 'never-worse-planner';
export const description =
  'local delivery from every space address to the host (both families), before install, after install, after teardown';
export const needsCharm = true;
export const timeoutMs = 20 * 60_000;

const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';

/**
 * The (source, destination) pairs of the host's own addresses: a space address to mgmt's and to
 * another space's, mgmt's to a space's, and an unbound socket to a space address.
 * @param {import('../lib/topology.mjs').Topology} topo
 * @returns {Array<[string | undefined, string]>}
 */
function pairs(topo) {
  const [mgmt, pub, st, sc] = ['mgmt', 'public', 'storage', 'storage-cluster'].map((n) => spaceOf(topo, n));
  if (!mgmt || !pub || !st || !sc) throw new Error('unreachable: spaceOf throws');
  const v6 = (/** @type {import('../lib/topology.mjs').Space} */ s) =>
    required(s.unitAddr6, `${s.name}'s IPv6 address`);
  return [
    [st.unitAddr, mgmt.unitAddr],
    [mgmt.unitAddr, st.unitAddr],
    [st.unitAddr, sc.unitAddr],
    [pub.unitAddr, mgmt.unitAddr],
    [undefined, st.unitAddr],
    [v6(st), v6(mgmt)],
    [v6(mgmt), v6(st)],
    [v6(st), v6(sc)],
  ];
}

/**
 * TCP from each source to a service of the default VRF on each destination, in the unit's namespace.
 * @param {import('../lib/context.mjs').Context} t
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {string} label
 */
async function localDelivery(t, topo, label) {
  const s4 = await startServer({ ns: topo.unit, name: 'unit4', family: 4 });
  const s6 = await startServer({ ns: topo.unit, name: 'unit6', family: 6 });
  try {
    for (const [src, dst] of pairs(topo)) {
      const v6 = dst.includes(':');
      const r = probe({ ns: topo.unit, target: dst, port: (v6 ? s6 : s4).port, src, timeoutMs: 3000, attempts: 1 });
      const get = ipn(topo.unit, ...(v6 ? ['-6'] : []), 'route', 'get', dst, ...(src ? ['from', src] : [])).stdout;
      t.check(
        `${label}: ${src ?? 'unbound'} → ${dst}: the host's own service answers (delivered locally)`,
        r.ok && r.peerSaw === (src ?? r.peerSaw),
        `${r.ok ? `answered, peer ${r.peerSaw}` : r.error}; route get: ${get.trim()}`,
      );
    }
  } finally {
    await s4.stop();
    await s6.stop();
  }
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const { topo, unit } = await deployMultiHomed(t, { gateways: GATEWAYS }, { fast: true });
  const before = snapshot(topo.unit);
  await localDelivery(t, topo, 'before install');

  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const rules98 = [...ipJson(topo.unit, 'rule', 'show'), ...ipJson(topo.unit, '-6', 'rule', 'show')].filter(
    (r) => r.priority === 98,
  );
  t.note(`delivery rules at 98: ${rules98.map((r) => `${r.src ?? 'all'}→${r.dst ?? 'all'} ${r.table}`).join('; ')}`);
  await localDelivery(t, topo, 'after install');
  // Everything else from a space address still leaves through its space's gateway.
  const st = spaceOf(topo, 'storage');
  const out = ipn(topo.unit, 'route', 'get', st.remotePeer, 'from', st.unitAddr).stdout;
  t.check(
    `after install: ${st.unitAddr} → ${st.remotePeer} (another rack) leaves through storage's gateway`,
    new RegExp(`via ${st.gateway.replaceAll('.', '\\.')} dev ${st.dev}\\b`).test(out),
    out.trim(),
  );

  await hooksExitOk(t, unit, ['stop', 'remove']);
  snapshotIsBack(t, topo.unit, before, 'after stop + remove the snapshot equals the one before install');
  await localDelivery(t, topo, 'after teardown');
}
