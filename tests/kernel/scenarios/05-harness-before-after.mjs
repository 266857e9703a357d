// Proves the harness end to end without the charm: on scenario 1's topology, clients behind the
// public/storage/storage-cluster gateways cannot reach a 0.0.0.0 service on the unit (replies leave
// through mgmt); after a hand-made VRF setup (plain ip commands) they can.
import { ipBatch, setSysctl } from '../lib/exec.mjs';
import { controllerRow, inboundMatrix, outboundMatrix, printable } from '../lib/matrix.mjs';
import { buildTopology, destroyTopology, required, spaceOf, waitReady } from '../lib/topology.mjs';

export const name = 'harness-before-after';
export const description = 'without VRFs only mgmt answers remote clients; a manual VRF setup fixes it';

const TABLES = { public: 1001, storage: 1002, 'storage-cluster': 1003 };

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const topo = buildTopology();
  t.defer(() => destroyTopology(topo));
  const tr = Date.now();
  await waitReady(topo);
  t.note(`topology built and ready (${Date.now() - tr} ms waiting)`);

  const before = await inboundMatrix(topo);
  t.table('before (no VRF): inbound TCP to 0.0.0.0 on the unit', printable(before));
  for (const r of before) {
    const expectOk = r.path === 'same L2' || r.space === topo.defaultSpace;
    t.check(`before: ${r.space} ${r.path} ${expectOk ? 'answers' : 'does NOT answer'}`, r.ok === expectOk, r.result);
  }
  const ctl0 = await controllerRow(topo);
  t.check('before: controller reachable', ctl0.ok, ctl0.result);

  // The stand-in for vrf-host: plain ip commands.
  setSysctl(topo.unit, 'net.ipv6.conf.all.keep_addr_on_down', 1);
  setSysctl(topo.unit, 'net.ipv4.tcp_l3mdev_accept', 1);
  setSysctl(topo.unit, 'net.ipv4.udp_l3mdev_accept', 1);
  /** @type {string[][]} */
  const lines = [];
  for (const [vrf, table] of Object.entries(TABLES)) {
    lines.push(['link', 'add', vrf, 'type', 'vrf', 'table', String(table)], ['link', 'set', vrf, 'up']);
  }
  for (const [vrf, table] of Object.entries(TABLES)) {
    const s = spaceOf(topo, vrf);
    const gateway6 = required(s.gateway6, `IPv6 gateway of ${s.name}`);
    lines.push(['link', 'set', s.dev, 'master', vrf]);
    lines.push(['route', 'add', 'default', 'via', s.gateway, 'dev', s.dev, 'table', String(table)]);
    lines.push(['route', 'add', 'default', 'via', gateway6, 'dev', s.dev, 'table', String(table)]);
  }
  ipBatch(topo.unit, lines);

  const after = await inboundMatrix(topo);
  t.table('after manual VRFs: inbound TCP to 0.0.0.0 on the unit', printable(after));
  for (const r of after.filter((x) => x.path !== 'same L2')) {
    t.check(`after: ${r.space} remote client answered by the unit's ${r.space} address`, r.ok, r.result);
  }
  const out = await outboundMatrix(topo, { vrfOf: (sp) => (sp in TABLES ? sp : undefined) });
  t.table('after: outbound from each VRF to its remote peer', printable(out));
  for (const r of out)
    t.check(`after: outbound ${r.source} reaches ${r.destination} with the space address`, r.ok, r.result);
  const ctl1 = await controllerRow(topo);
  t.check('after: controller reachable from the default VRF', ctl1.ok, ctl1.result);
  const after6 = await inboundMatrix(topo, { family: 6 });
  t.table('after: inbound TCP over IPv6 to :: on the unit', printable(after6));
  for (const r of after6.filter((x) => x.path !== 'same L2'))
    t.check(`after (IPv6): ${r.space} remote client answered`, r.ok, r.result);
}
