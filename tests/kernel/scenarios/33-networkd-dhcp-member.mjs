// A space's member on DHCP under systemd-networkd: public's bridge br-ens4 takes its IPv4 address
// and default route from a lease (busybox udhcpd in public's gateway namespace, a static lease of
// the unit's own address). Twice on the same topology: first the anchor (networkd owns the VRFs,
// declared through netplan's `vrfs:`, no vrf-host), then the packed charm on a host whose netplan
// knows no VRF (vrf-host's drop-in gives networkd `VRF=public` on br-ens4's netplan file).
//
// What must hold with vrf-host (asserted): after converging, the lease's routes (proto dhcp)
// through br-ens4 are in the VRF's table and none in main; public answers inbound (from its remote
// rack, through its gateway) and outbound (a client in the VRF reaches the remote rack from the
// public address); and a DHCP renewal, a `networkctl reconfigure` of br-ens4 and a networkd
// restart keep all that, with no hook run: no probe of any target lost outside the seconds
// networkd had that target's link, address or default route away (lib/windows.mjs), br-ens4
// configured and in the VRF, the snapshot equal to the converged one. The anchor goes through the
// same and is measured only (notes): it is networkd's own behaviour, the yardstick.
import { ipJson, setSysctl, sleep } from '../lib/exec.mjs';
import { NetworkdHost, netplanFor } from '../lib/networkd.mjs';
import { startProbeLoop } from '../lib/probeloop.mjs';
import { probeOnce } from '../lib/probes.mjs';
import { deployOnNetworkd } from '../lib/scenario1.mjs';
import { resetUnitFiles, snapshot } from '../lib/snapshot.mjs';
import { MULTI_HOMED, buildTopology, destroyTopology, spaceOf } from '../lib/topology.mjs';
import { pathNeeds, runJudgedEvent } from '../lib/windows.mjs';

export const name = 'networkd-dhcp-member';
export const description =
  "a VRF member on DHCP under networkd (anchor, then vrf-host's drop-ins): the lease's routes in the VRF's table, traffic both ways, through renew, reconfigure and restart";
export const needsCharm = true;
export const timeoutMs = 16 * 60_000;

const SPACE = 'public';
const MEMBER = 'br-ens4';
/** The anchor's VRFs (as scenario 30), and the tables vrf-host picks in automatic mode for the same. */
const VRFS = { public: { table: 100 }, storage: { table: 101 }, 'storage-cluster': { table: 102 } };

/**
 * The routes networkd's DHCP client added through `dev`, as `TABLE DST`.
 * @param {string} ns
 * @param {string} dev
 */
function leaseRoutes(ns, dev) {
  return ipJson(ns, '-4', 'route', 'show', 'table', 'all', 'proto', 'dhcp')
    .filter((r) => r.dev === dev)
    .map((r) => `${r.table ?? 'main'} ${r.dst}`)
    .sort();
}

/**
 * The table of the VRF `dev` is in, by the names ip may give it (its number, and the VRF's name,
 * which vrf-host gives the table in rt_tables.d), or null.
 * @param {string} ns
 * @param {string} dev
 * @returns {{id: string, names: string[]} | null}
 */
function vrfTableOf(ns, dev) {
  const master = ipJson(ns, 'link', 'show', 'dev', dev)[0]?.master;
  if (!master) return null;
  const info = ipJson(ns, '-d', 'link', 'show', 'dev', master)[0]?.linkinfo;
  if (info?.info_kind !== 'vrf') return null;
  const id = String(info.info_data?.table ?? '');
  return { id, names: [id, master] };
}

/**
 * What must hold of the member whenever networkd is done with it: in its VRF, `configured`, the
 * lease's routes (a default among them) all in the VRF's table. Returns the detail for a check.
 * @param {NetworkdHost} host
 * @param {string} ns
 */
function memberState(host, ns) {
  const table = vrfTableOf(ns, MEMBER);
  const setup = host.list().find((l) => l.link === MEMBER)?.setup ?? 'absent';
  const routes = leaseRoutes(ns, MEMBER);
  /** @param {string} r `TABLE DST` */
  const inVrf = (r) => table !== null && table.names.includes(r.split(' ')[0] ?? '');
  const ok = setup === 'configured' && routes.some((r) => inVrf(r) && r.endsWith(' default')) && routes.every(inVrf);
  return {
    ok,
    detail: `${MEMBER} in table ${table?.id ?? 'none'}, ${setup}; lease routes: ${routes.join(', ') || 'none'}`,
  };
}

/**
 * A client in the space's VRF reaches its remote rack, from the space's address.
 * @param {import('../lib/topology.mjs').Topology} topo
 */
async function outbound(topo) {
  const s = spaceOf(topo, SPACE);
  const r = await probeOnce({
    server: { ns: s.remoteNs },
    client: { ns: topo.unit, target: s.remotePeer, vrf: SPACE },
  });
  return { ok: r.ok && r.peerSaw === s.unitAddr, detail: r.ok ? `the peer saw ${r.peerSaw}` : `${r.error}` };
}

/**
 * On a converged host: the member's state and traffic both ways, then the three events under the
 * probe loop, each judged by networkd's windows (lib/windows.mjs). `assert`: checks; otherwise
 * each verdict is a note (the anchor is measured, not asserted: it is networkd's behaviour, the
 * yardstick vrf-host is compared with).
 * @param {import('../lib/context.mjs').Context} t
 * @param {string} who
 * @param {import('../lib/topology.mjs').Topology} topo
 * @param {NetworkdHost} host
 * @param {boolean} assert
 */
async function events(t, who, topo, host, assert) {
  /**
   * @param {string} label
   * @param {unknown} ok
   * @param {unknown} [detail]
   */
  const verdict = (label, ok, detail = '') =>
    assert ? t.check(label, ok, detail) : t.note(`${label}: ${ok ? 'yes' : 'NO'}${detail ? ` — ${detail}` : ''}`);
  const ns = topo.unit;
  const converged = snapshot(ns);
  const st = memberState(host, ns);
  verdict(
    `${who}: after converging, ${MEMBER} is in ${SPACE}'s VRF and the lease's routes are in its table`,
    st.ok,
    st.detail,
  );
  const mainVia = ipJson(ns, '-4', 'route', 'show', 'table', 'main').filter((r) => r.dev === MEMBER);
  verdict(`${who}: no route of main goes through ${MEMBER}`, mainVia.length === 0, JSON.stringify(mainVia));
  const loop = await startProbeLoop(topo);
  try {
    const warm = await loop.allAnswer();
    verdict(`${who}: every space (${SPACE} inbound) and the controller answer`, warm, JSON.stringify(loop.recent()));
    const out = await outbound(topo);
    verdict(`${who}: ${SPACE} outbound: a client in the VRF reaches its remote rack`, out.ok, out.detail);
    const needs = pathNeeds(topo, ipJson(ns, '-4', 'route', 'show', 'table', 'all'));
    /** @type {[string, () => Promise<unknown>][]} */
    const list = [
      [
        `DHCP renew ${MEMBER}`,
        async () => {
          host.renew(MEMBER);
          await sleep(1000);
          return host.waitConfigured();
        },
      ],
      [`networkctl reconfigure ${MEMBER}`, () => host.reconfigure(MEMBER)],
      ['networkd restart', () => host.restartNetworkd()],
    ];
    for (const [label, fn] of list) {
      const r = await runJudgedEvent(t, { loop, ns, label: `${who}: ${label}`, fn, baseline: converged }, needs);
      const over = Object.entries(r.judged).filter(([, x]) => x.failed > 0);
      verdict(
        `${who}: ${label}: no probe lost outside the seconds networkd had a link, address or route of its path away`,
        over.length === 0,
        over.map(([n, x]) => `${n} ${x.failed}/${x.sent}`).join(', ') || 'none outside',
      );
      const after = memberState(host, ns);
      verdict(
        `${who}: ${label}: ${MEMBER} still in the VRF, configured, the lease's routes in its table`,
        after.ok,
        after.detail,
      );
      verdict(
        `${who}: ${label}: the snapshot equals the converged one`,
        r.diff?.length === 0,
        r.diff?.slice(0, 6).join(' | '),
      );
    }
    const back = await outbound(topo);
    verdict(`${who}: after the events ${SPACE} outbound still works`, back.ok, back.detail);
  } finally {
    await loop.stop();
  }
  t.table(`${who}: failed/sent probes per event`, loop.report());
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  resetUnitFiles();
  t.defer(() => resetUnitFiles());
  // The anchor: networkd's own VRFs.
  {
    const topo = buildTopology(MULTI_HOMED, { unitLinks: 'nics' });
    try {
      const host = await NetworkdHost.start({
        topo,
        netplan: netplanFor(topo, { vrfs: VRFS, dhcp: SPACE }),
        dispatcher: false,
        dhcp: SPACE,
      });
      try {
        setSysctl(topo.unit, 'net.ipv4.tcp_l3mdev_accept', '1'); // vrf-host's, not networkd's
        await host.waitSettled(Object.keys(VRFS));
        await events(t, 'anchor', topo, host, false);
      } finally {
        await host.stop();
      }
    } finally {
      destroyTopology(topo);
    }
  }
  // vrf-host: netplan knows no VRF; the charm gives networkd its files.
  const topo = buildTopology(MULTI_HOMED, { unitLinks: 'nics' });
  t.defer(() => destroyTopology(topo));
  const host = await NetworkdHost.start({
    topo,
    netplan: netplanFor(topo, { dhcp: SPACE }),
    dispatcher: false,
    dhcp: SPACE,
  });
  t.defer(() => host.stop());
  t.note(`before vrf-host, the lease's routes: ${leaseRoutes(topo.unit, MEMBER).join(', ') || 'none'}`);
  const unit = await deployOnNetworkd(t, topo, host);
  await host.waitSettled(Object.keys(VRFS));
  const dropIn = Object.entries(host.networkFiles()).find(([f]) =>
    f.endsWith(`10-netplan-${MEMBER}.network.d/50-vrf-host.conf`),
  );
  t.check(
    `vrf-host gave networkd VRF=${SPACE} on ${MEMBER}'s netplan file`,
    dropIn?.[1].includes(`VRF=${SPACE}`),
    dropIn ? dropIn[1].replace(/\n+/g, ' | ') : 'no drop-in',
  );
  await events(t, 'vrf-host', topo, host, true);
  const upd = await unit.hook('update-status');
  t.check(
    'update-status after the events: exit 0, active',
    upd.exitCode === 0 && upd.record.status.status === 'active',
    `exit ${upd.exitCode}, ${upd.record.status.status}: ${upd.record.status.message}`,
  );
}
