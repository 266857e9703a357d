// Scenario 25: what the planner promises beyond the VRFs themselves, with real traffic before
// install, after install and after stop + remove.
//  - Local delivery from every address: a default-VRF socket bound to a space address reaches a
//    service on another of the host's addresses (the mgmt address, another space's), and the
//    reverse, in both families. The per-address source rules at 99 sit ahead of the moved local
//    lookup; vrf-host's delivery rules at 98 (`from ADDRESS lookup local`, `to ADDRESS lookup
//    VRFTABLE`) keep the host delivering to itself.
//  - A space with several subnets (a second address on bond0, 10.10.6.10/24): the VRF would have
//    one default route per family, so the second subnet's replies would leave through the
//    first's gateway. Blocked before anything is applied, the status naming the subnet.
//  - An IPv6 link-local gateway (gateways storage=fe80::1) on a VRF whose IPv6 addresses sit on
//    two members (storage bound to bond0 and bond0.105): the route would have no dev and fail
//    halfway through the apply. Blocked before anything is applied, naming the entry.
//  Each blocked host is checked to be exactly as before (snapshot) and to deliver as before, and
//  stays so after stop + remove.
import { CharmUnit, networksFor } from '../lib/charm.mjs';
import { ipJson, ipn } from '../lib/exec.mjs';
import { canonical, probe, startServer } from '../lib/probes.mjs';
import { deployMultiHomed, hookOk, snapshotIsBack } from '../lib/scenario1.mjs';
import { snapshot } from '../lib/snapshot.mjs';
import { controllerOf, required, spaceOf } from '../lib/topology.mjs';

export const name = 'never-worse-planner';
export const description =
  'local delivery from every space address (both families) before/after install and teardown; several subnets and a link-local gateway on several members blocked, nothing applied';
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
      const bind = src && v6 ? `[${src}]` : src; // socat's bind= takes an IPv6 address in brackets
      const r = probe({
        ns: topo.unit,
        target: dst,
        port: (v6 ? s6 : s4).port,
        src: bind,
        timeoutMs: 3000,
        attempts: 1,
      });
      const get = ipn(topo.unit, ...(v6 ? ['-6'] : []), 'route', 'get', dst, ...(src ? ['from', src] : [])).stdout;
      t.check(
        `${label}: ${src ?? 'unbound'} → ${dst}: the host's own service answers (delivered locally)`,
        r.ok && r.peerSaw === canonical(src ?? r.peerSaw ?? ''),
        `${r.ok ? `answered, peer ${r.peerSaw}` : r.error}; route get: ${get.trim()}`,
      );
    }
  } finally {
    await s4.stop();
    await s6.stop();
  }
}

/**
 * stop, then remove, each checked to exit 0 (with the charm's errors when not).
 * @param {import('../lib/context.mjs').Context} t
 * @param {CharmUnit} unit
 * @param {string} label
 */
async function stopRemove(t, unit, label) {
  for (const hook of ['stop', 'remove']) {
    const r = await unit.hook(hook);
    const errors = r.record.logs.filter((l) => l.level === 'ERROR').map((l) => l.message);
    t.check(`${label}: ${hook}: exit 0`, r.exitCode === 0, `exit ${r.exitCode}; ${errors.join(' | ')}`);
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

  await stopRemove(t, unit, 'teardown');
  snapshotIsBack(t, topo.unit, before, 'after stop + remove the snapshot equals the one before install');
  await localDelivery(t, topo, 'after teardown');

  await blockedCases(t, topo);
}

/**
 * A new unit of the charm on the same host, with these networks and config: install must block
 * with a problem matching `expect`, apply nothing (the snapshot is unchanged, the host delivers as
 * before), and stop + remove leave it so.
 * @param {import('../lib/context.mjs').Context} t
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {string} label
 * @param {{ networks: Record<string, unknown>, config: Record<string, string>, expect: RegExp }} o
 */
async function blockedAsBefore(t, topo, label, { networks, config, expect }) {
  const before = snapshot(topo.unit);
  const unit = new CharmUnit({
    ns: topo.unit,
    state: { config, networks },
    controller: `${controllerOf(topo).addr}:17070`,
    fast: true,
  });
  const r = await unit.hook('install');
  const st = r.record.status;
  const errors = r.record.logs.filter((l) => l.level === 'ERROR').map((l) => l.message);
  t.check(
    `${label}: install blocks, naming the problem`,
    r.exitCode === 0 && st.status === 'blocked' && errors.some((m) => expect.test(m)),
    `exit ${r.exitCode}, ${st.status}: ${st.message}; errors: ${errors.join(' | ')}`,
  );
  snapshotIsBack(t, topo.unit, before, `${label}: nothing was applied (the snapshot equals the one before install)`);
  t.check(`${label}: no VRF exists`, ipJson(topo.unit, 'link', 'show', 'type', 'vrf').length === 0);
  await localDelivery(t, topo, `${label}, blocked`);
  await stopRemove(t, unit, label);
  snapshotIsBack(t, topo.unit, before, `${label}: after stop + remove the snapshot is still the one before install`);
}

/**
 * network-get's answer with one more address on a binding's first interface, or one more interface.
 * @param {Record<string, any>} nets
 * @param {string} binding
 * @param {(bindAddresses: any[]) => void} change
 */
function patchBinding(nets, binding, change) {
  const copy = JSON.parse(JSON.stringify(nets[binding]));
  change(copy['bind-addresses']);
  nets[binding] = copy;
}

/** @param {import('../lib/context.mjs').Context} t */
export async function blockedCases(t, /** @type {import('../lib/topology.mjs').Topology} */ topo) {
  const st = spaceOf(topo, 'storage');
  const sc = spaceOf(topo, 'storage-cluster');

  // Several subnets on one member: a second address on bond0, reported by network-get.
  ipn(topo.unit, 'addr', 'add', '10.10.6.10/24', 'dev', st.dev);
  const several = networksFor(topo);
  patchBinding(several, 'storage', (ba) =>
    ba[0].addresses.push({ hostname: '', address: '10.10.6.10', cidr: '10.10.6.0/24', value: '10.10.6.10' }),
  );
  await blockedAsBefore(t, topo, 'several subnets', {
    networks: several,
    config: { gateways: GATEWAYS },
    expect: /^storage: subnet 10\.10\.6\.0\/24 \(10\.10\.6\.10 on bond0\) has no gateway of its own/,
  });
  ipn(topo.unit, 'addr', 'del', '10.10.6.10/24', 'dev', st.dev);

  // A link-local gateway for a VRF with IPv6 on two members: storage bound to bond0 and bond0.105
  // (storage-cluster follows the default binding, so bond0.105 is storage's alone).
  const two = networksFor(topo, { public: 'public', storage: 'storage' });
  const scIface = /** @type {any} */ (networksFor(topo)['storage-cluster'])['bind-addresses'][0];
  patchBinding(two, 'storage', (ba) => ba.push(scIface));
  await blockedAsBefore(t, topo, 'link-local gateway, two members', {
    networks: two,
    config: { gateways: `public=172.16.0.1 public=fd00:0:1::1 storage=10.10.4.1 storage=fe80::1` },
    expect: new RegExp(
      `^gateways: entry "storage=fe80::1": fe80::1 is link-local and storage has IPv6 addresses on several members \\(${st.dev}, ${sc.dev.replaceAll('.', '\\.')}\\)`,
    ),
  });
}
