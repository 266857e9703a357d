// Scenario 8: IPv6 dual-stack. public and storage-cluster get their IPv6 gateway from config;
// storage gets its IPv6 gateway from router advertisements: Debian's radvd (scripts/vm/packages.txt:
// .ci/run and the suite's dependency step install it on the host, whose root the guest mounts) runs
// in gw-storage. Without radvd the scenario fails: nothing stands in for real router
// advertisements. The IPv6 addresses survive enslavement, the storage VRF's IPv6 default
// goes via the router's link-local address (source "ra"), traffic flows over IPv6 through every
// space both ways, and update-status stays idempotent while RAs keep arriving.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inNs, ipJson, sleep, startBackground, waitFor } from '../lib/exec.mjs';
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { inboundMatrix, outboundMatrix, printable } from '../lib/matrix.mjs';
import { deployMultiHomed, hookOk, noRegression } from '../lib/scenario1.mjs';
import { required, spaceOf } from '../lib/topology.mjs';

export const name = 'ipv6';
export const description =
  'dual-stack: IPv6 gateways from config and from router advertisements (radvd); addresses survive enslave; IPv6 traffic per space';
export const needsCharm = true;
export const timeoutMs = 20 * 60_000;

const GATEWAYS =
  'public=172.16.0.1 public=fd00:0:1::1 storage=10.10.4.1 storage-cluster=10.10.5.1 storage-cluster=fd00:0:3::1';
const SCRATCH = '/run/kernel-ipv6';
const RADVD = ['/usr/sbin/radvd', '/usr/bin/radvd'].find((p) => existsSync(p));
/** @param {string} sp */
const VRF_OF = (sp) => (sp === 'mgmt' ? undefined : sp);

/**
 * @param {string} ns
 * @param {string} dev
 * @returns {string | undefined}
 */
function linkLocal(ns, dev) {
  return ipJson(ns, '-6', 'addr', 'show', 'dev', dev, 'scope', 'link')[0]?.addr_info?.find(
    (/** @type {{ family: string }} */ a) => a.family === 'inet6',
  )?.local;
}

/**
 * Router advertisements on gw-storage's LAN from radvd (a missing radvd fails the scenario).
 * @param {import('../lib/context.mjs').Context} t
 * @param {import('../lib/topology.mjs').Topology} topo
 */
async function startRouterAdvertisements(t, topo) {
  const s = spaceOf(topo, 'storage');
  const routerLl = linkLocal(s.gwNs, 'lan0');
  const installed = t.check('radvd is installed (scripts/vm/packages.txt)', Boolean(RADVD), 'apt-get install radvd');
  if (!installed || !RADVD) return null;
  mkdirSync(SCRATCH, { recursive: true });
  const conf = path.join(SCRATCH, 'radvd.conf');
  writeFileSync(
    conf,
    [
      'interface lan0 {',
      '  AdvSendAdvert on;',
      '  MinRtrAdvInterval 3;',
      '  MaxRtrAdvInterval 5;',
      '  AdvDefaultLifetime 600;',
      `  prefix ${s.cidr6} { AdvOnLink on; AdvAutonomous off; };`,
      '};',
      '',
    ].join('\n'),
  );
  const h = startBackground(
    inNs(s.gwNs, [RADVD, '-C', conf, '-p', path.join(SCRATCH, 'radvd.pid'), '-n', '-m', 'stderr']),
  );
  t.defer(async () => {
    await h.stop();
    rmSync(SCRATCH, { recursive: true, force: true });
  });
  t.note(`radvd: ${RADVD} in ${s.gwNs} (router ${routerLl})`);
  return { kind: 'radvd', routerLl, output: () => h.output() };
}

/**
 * @param {string} ns
 * @param {string | number} table
 * @returns {any[]}
 */
function defaults6(ns, table) {
  return ipJson(ns, '-6', 'route', 'show', 'default', 'table', String(table)).filter(
    (r) => r.type === undefined || r.type === 'unicast',
  );
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const { topo, unit } = await deployMultiHomed(t, { gateways: GATEWAYS }, { fast: true });
  const s = spaceOf(topo, 'storage');
  const ra = await startRouterAdvertisements(t, topo);
  if (!ra) return;
  const got = await waitFor(() => defaults6(topo.unit, 'main').find((r) => r.dev === s.dev && r.protocol === 'ra'), {
    timeoutMs: 30_000,
    intervalMs: 500,
  });
  if (
    !t.check(
      `before: the unit learnt an RA default on ${s.dev} (${ra.kind})`,
      got?.gateway === ra.routerLl,
      got ? JSON.stringify(got) : `none; radvd said: ${ra.output().slice(-300)}`,
    )
  )
    return;

  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');

  // The IPv6 addresses survive enslavement.
  for (const sp of Object.values(topo.spaces)) {
    const a = ipJson(topo.unit, '-6', 'addr', 'show', 'dev', sp.dev)[0];
    /** @type {string[]} */
    const have = (a?.addr_info ?? []).map((/** @type {{ local: string }} */ i) => i.local);
    t.check(
      `${sp.dev} (${a?.master ? `in ${a.master}` : 'main'}) still holds ${sp.unitAddr6}`,
      have.includes(required(sp.unitAddr6, `IPv6 address of ${sp.name}`)),
      have.join(' '),
    );
  }
  const vrfs = Object.fromEntries(
    ipJson(topo.unit, '-details', 'link', 'show', 'type', 'vrf').map((l) => [l.ifname, l.linkinfo.info_data.table]),
  );
  const want = {
    public: spaceOf(topo, 'public').gateway6,
    'storage-cluster': spaceOf(topo, 'storage-cluster').gateway6,
    storage: ra.routerLl,
  };
  for (const [vrf, gw] of Object.entries(want)) {
    const d = defaults6(topo.unit, vrfs[vrf]);
    t.check(
      `VRF ${vrf} (table ${vrfs[vrf]}) has an IPv6 default via ${gw}`,
      d.some((r) => r.gateway === gw),
      JSON.stringify(d),
    );
  }
  const show = await unit.action('show-vrfs');
  const res = show.record.actionResults;
  t.check(
    "show-vrfs: storage's IPv6 gateway comes from router advertisements",
    res['vrfs.storage.ipv6.source'] === 'ra' && res['vrfs.storage.ipv6.gateway'] === ra.routerLl,
    `${res['vrfs.storage.ipv6.gateway']} (${res['vrfs.storage.ipv6.source']}) ${res['vrfs.storage.ipv6.detail'] ?? ''}`,
  );
  t.check(
    "show-vrfs: public's IPv6 gateway comes from config",
    res['vrfs.public.ipv6.source'] === 'config' && res['vrfs.public.ipv6.gateway'] === spaceOf(topo, 'public').gateway6,
    `${res['vrfs.public.ipv6.gateway']} (${res['vrfs.public.ipv6.source']})`,
  );

  // Traffic over IPv6 through every space, both ways.
  const in6 = await inboundMatrix(topo, { family: 6 });
  t.table('inbound TCP over IPv6 to a :: service on the unit', printable(in6));
  for (const r of in6)
    t.check(`IPv6 inbound: ${r.space} ${r.path} client answered by the unit's ${r.space} address`, r.ok, r.result);
  const out6 = await outboundMatrix(topo, { vrfOf: VRF_OF, family: 6 });
  t.table('outbound over IPv6 from each VRF (ip vrf exec) to its remote peer', printable(out6));
  for (const r of out6)
    t.check(`IPv6 outbound: ${r.source} → ${r.destination}, peer sees the space address`, r.ok, r.result);
  const in4 = await inboundMatrix(topo);
  for (const r of in4.filter((x) => x.path !== 'same L2'))
    t.check(`IPv4 inbound (dual-stack): ${r.space} remote client answered`, r.ok, r.result);
  await noRegression(t, topo, VRF_OF, 'IPv4 ');

  // RAs keep arriving (radvd every 3-5 s): update-status must not flip-flop.
  await sleep(6000);
  const spy = createIpSpy();
  for (let i = 1; i <= 2; i++) {
    spy.reset();
    await hookOk(t, unit, 'update-status', { env: { VRF_HOST_IP: spy.path } });
    const ch = mutatingCalls(spy.calls());
    t.check(
      `update-status #${i} with RAs arriving: no changing ip command`,
      ch.length === 0,
      ch.slice(0, 5).join(' | '),
    );
  }
  const after = await outboundMatrix(topo, { vrfOf: VRF_OF, family: 6 });
  const st = after.find((r) => r.space === 'storage');
  t.check(
    'IPv6 outbound from the storage VRF (RA gateway) still works after the update-status runs',
    st?.ok,
    st?.result,
  );
}
