// Never leave a host worse than before (issue 11), with real traffic before install, after it, and
// after stop + remove.
//
// Part A, the seed host with main's default route through public (br-ens4) and the controller
// reached by a more specific route via mgmt (ens3):
//   case 1: main's default leaves through a space that becomes a VRF: main keeps `default dev public`
//           with the old metric, the unit still reaches an outside address behind public's gateway
//           (from public's address: source selection and the reply path), teardown gives the
//           original default back;
//   case 2: only public's gateway configured: storage and storage-cluster get nothing applied (no
//           VRF, no ip command naming their devices, their traffic as before), the status is
//           Blocked naming both, public converges; then their gateways are configured;
//   case 5: UDP to a wildcard service (0.0.0.0, and :: IPv6-only) of the default VRF from a remote
//           client of a VRF space: a plain socket (recvfrom/sendto) against one that answers through
//           IP_PKTINFO (IPv4) or IPV6_RECVPKTINFO/IPV6_PKTINFO (IPv6).
// Part B, case 3: mgmt on br-mgmt over bond0.105, storage untagged on bond0. With no route to the
//   controller nothing is applied and the status says why; then the first apply, under `ip monitor
//   link` and a controller probe every 200 ms: bond0.105 and br-mgmt never go down, no probe is lost.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipBatch, ipJson, startBackground, waitFor } from '../lib/exec.mjs';
import { createIpSpy, mutatingCalls } from '../lib/ipspy.mjs';
import { inboundMatrix, printable } from '../lib/matrix.mjs';
import { startProbeLoop } from '../lib/probeloop.mjs';
import { freshPort, ping, probe, startServer } from '../lib/probes.mjs';
import { CharmUnit, networksFor } from '../lib/charm.mjs';
import { deployMultiHomed, hooksExitOk, snapshotIsBack } from '../lib/scenario1.mjs';
import { resetUnitFiles, snapshot } from '../lib/snapshot.mjs';
import { buildTopology, controllerOf, destroyTopology, required, spaceOf, waitReady } from '../lib/topology.mjs';

export const name = 'never-worse';
export const description =
  "main's default through a VRF space, a space without a gateway, mgmt over the storage bond, UDP: before, after, torn down";
export const needsCharm = true;
export const timeoutMs = 30 * 60_000;

const UDP_ECHO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'bin', 'udp-echo');
const PUBLIC_ONLY = 'public=172.16.0.1 public=fd00:0:1::1';
const ALL = `${PUBLIC_ONLY} storage=10.10.4.1 storage-cluster=10.10.5.1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1`;
/** The metrics of main's default routes through public (not the kernel's defaults, so that a kept metric shows). */
const METRIC = { 4: 100, 6: 512 };
const HELD = /\b(bond0|bond0\.105|ens5|ens6|storage|storage-cluster)\b/;

/**
 * @typedef {import('../lib/context.mjs').Context} Context
 * @typedef {import('../lib/topology.mjs').Topology} Topology
 */

/**
 * The host of case 1: main's defaults through public's gateway, the controller by a /24 via mgmt.
 * @param {Topology} topo
 */
function defaultThroughPublic(topo) {
  const m = spaceOf(topo, 'mgmt');
  const p = spaceOf(topo, 'public');
  const c = controllerOf(topo);
  ipBatch(topo.unit, [
    ['route', 'del', 'default', 'via', m.gateway, 'dev', m.dev],
    ['route', 'del', 'default', 'via', required(m.gateway6, 'mgmt gateway6'), 'dev', m.dev],
    ['route', 'add', c.cidr, 'via', m.gateway, 'dev', m.dev],
    ['route', 'add', required(c.cidr6, 'controller cidr6'), 'via', required(m.gateway6, 'mgmt gateway6'), 'dev', m.dev],
    ['route', 'add', 'default', 'via', p.gateway, 'dev', p.dev, 'metric', String(METRIC[4])],
    [
      'route',
      'add',
      'default',
      'via',
      required(p.gateway6, 'public gateway6'),
      'dev',
      p.dev,
      'metric',
      String(METRIC[6]),
    ],
  ]);
}

/**
 * Main's default routes of both families, as comparable lines.
 * @param {string} ns
 */
function mainDefaults(ns) {
  return ['-4', '-6'].flatMap((f) =>
    ipJson(ns, f, 'route', 'show', 'table', 'main', 'default').map(
      (r) => `${f} default${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev} metric ${r.metric ?? 0}`,
    ),
  );
}

/**
 * The unit (default VRF, nothing bound) connects to public's remote peer, an address only public's
 * gateway routes to: reached only through main's default. Both families.
 * @param {Topology} topo
 */
async function outside(topo) {
  const p = spaceOf(topo, 'public');
  const rows = [];
  for (const family of /** @type {const} */ ([4, 6])) {
    const target = family === 4 ? p.remotePeer : required(p.remotePeer6, 'public remotePeer6');
    const want = family === 4 ? p.unitAddr : required(p.unitAddr6, 'public unitAddr6');
    const srv = await startServer({ ns: p.remoteNs, name: p.remoteNs, family });
    try {
      // (a connection that brings no answer is retried: under a loaded TCG guest a forked answer can be slow)
      const r = probe({ ns: topo.unit, target, port: srv.port, attempts: 3 });
      const rg = ipJson(topo.unit, 'route', 'get', target)[0];
      // When it fails, what ICMP and the server say tells a broken path from a slow guest.
      const why = r.ok
        ? ''
        : `; ${ping({ ns: topo.unit, target }) ? 'ping answered' : 'no ping answer'}; server: ${srv.output().trim().slice(-200)}`;
      rows.push({
        family: `IPv${family}`,
        target,
        'ip route get': `dev ${rg?.dev ?? '?'}${rg?.prefsrc ? ` src ${rg.prefsrc}` : ''}`,
        result: r.ok ? `answered, peer saw ${r.peerSaw}` : `FAIL ${r.error} (${r.tries} tries${why})`,
        ok: r.ok && r.peerSaw === want,
      });
    } finally {
      await srv.stop();
    }
  }
  return rows;
}

/**
 * A UDP echo (lib/bin/udp-echo) on the unit's wildcard address (0.0.0.0, or :: IPv6-only), in the default VRF.
 * @param {string} ns
 * @param {'plain' | 'pktinfo'} mode
 * @param {4 | 6} family
 */
async function startUdpEcho(ns, mode, family) {
  const port = freshPort();
  const h = startBackground([
    'ip',
    'netns',
    'exec',
    ns,
    '/usr/bin/python3',
    UDP_ECHO,
    `udp${family}-${mode}`,
    String(port),
    mode,
    String(family),
  ]);
  const up = await waitFor(() => /READY/.test(h.output()), { timeoutMs: 15_000, intervalMs: 100 });
  if (!up) {
    await h.stop();
    throw new Error(`udp-echo ${mode} IPv${family} did not start in ${ns}: ${h.output()}`);
  }
  return { ...h, port, mode, family };
}

/**
 * Case 5's rows, both families: each UDP echo (plain, IP_PKTINFO / IPV6_RECVPKTINFO) asked by
 * storage's remote and same-subnet clients and public's remote one. Keys: `IPv4 plain NS`.
 * @param {Topology} topo
 */
async function udpRows(topo) {
  const s = spaceOf(topo, 'storage');
  const p = spaceOf(topo, 'public');
  /** @type {{server: string, client: string, key: string, result: string, ok: boolean, local: string | null}[]} */
  const rows = [];
  for (const family of /** @type {const} */ ([4, 6])) {
    const servers = [await startUdpEcho(topo.unit, 'plain', family), await startUdpEcho(topo.unit, 'pktinfo', family)];
    try {
      /** @type {[string, string, string][]} */
      const clients =
        family === 4
          ? [
              [s.remoteNs, s.remotePeer, s.unitAddr],
              [s.lanNs, s.lanPeer, s.unitAddr],
              [p.remoteNs, p.remotePeer, p.unitAddr],
            ]
          : [
              [s.remoteNs, required(s.remotePeer6, 'storage remotePeer6'), required(s.unitAddr6, 'storage unitAddr6')],
              [s.lanNs, required(s.lanPeer6, 'storage lanPeer6'), required(s.unitAddr6, 'storage unitAddr6')],
              [p.remoteNs, required(p.remotePeer6, 'public remotePeer6'), required(p.unitAddr6, 'public unitAddr6')],
            ];
      for (const srv of servers) {
        for (const [ns, from, target] of clients) {
          const r = probe({ ns, target, port: srv.port, proto: 'udp', timeoutMs: 3000, attempts: 1 });
          rows.push({
            server: `IPv${family} ${srv.mode}`,
            client: `${ns} ${from} → ${target}`,
            key: `IPv${family} ${srv.mode} ${ns}`,
            result: r.ok ? `answered from ${r.local}, saw ${r.peerSaw}` : 'no answer',
            ok: r.ok && r.peerSaw === from,
            local: r.local,
          });
        }
      }
    } finally {
      for (const srv of servers) await srv.stop();
    }
  }
  return rows;
}

/**
 * @param {{key: string, ok: boolean}[]} from
 * @param {string} key
 */
const okOf = (from, key) => from.find((r) => r.key === key)?.ok;

/**
 * Inbound rows (remote and same-subnet clients to a 0.0.0.0 TCP service) of the given spaces, as
 * `space path: result` lines (what "their traffic as before" compares).
 * @param {import('../lib/matrix.mjs').MatrixRow[]} rows
 * @param {string[]} spaces
 */
const inboundOf = (rows, spaces) =>
  rows
    .filter((r) => spaces.includes(r.space))
    .map((r) => `${r.space} ${r.path}: ${r.ok ? 'answered' : 'not answered'}`);

/** @param {Context} t */
async function defaultThroughASpace(t) {
  const { topo, unit } = await deployMultiHomed(t, { gateways: PUBLIC_ONLY });
  defaultThroughPublic(topo);
  const p = spaceOf(topo, 'public');

  // Before install.
  const before = snapshot(topo.unit);
  const defaultsBefore = mainDefaults(topo.unit);
  t.note(`main's defaults before install: ${defaultsBefore.join(' | ')}`);
  const outBefore = await outside(topo);
  t.table('before install: the unit to an outside address (public remote peer), default VRF', outBefore);
  for (const r of outBefore)
    t.check(`before install: ${r.family} outside reached from ${p.name}'s address`, r.ok, r.result);
  const inBefore = await inboundMatrix(topo);
  t.table('before install: inbound TCP to a 0.0.0.0 service', printable(inBefore));
  const udpBefore = await udpRows(topo);
  t.table(
    'before install: UDP echo on 0.0.0.0 and :: (default VRF)',
    udpBefore.map(({ key: _k, local: _l, ...r }) => r),
  );

  // Case 2 (and case 1): only public's gateway is known.
  const spy = createIpSpy();
  const inst = await unit.hook('install', { env: { VRF_HOST_IP: spy.path } });
  const st = inst.record.status;
  t.check(
    'install (public gateway only): exit 0, Blocked naming storage and storage-cluster',
    inst.exitCode === 0 &&
      st.status === 'blocked' &&
      /\bstorage\b/.test(st.message) &&
      /\bstorage-cluster\b/.test(st.message),
    `exit ${inst.exitCode}, ${st.status}: ${st.message}`,
  );
  const vrfs = ipJson(topo.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check('held back: public is the only VRF', vrfs.join(' ') === 'public', vrfs.join(' '));
  for (const dev of ['bond0', 'bond0.105']) {
    const l = ipJson(topo.unit, 'link', 'show', 'dev', dev)[0];
    t.check(`held back: ${dev} is not enslaved`, l && l.master === undefined, `master ${l?.master ?? 'none'}`);
  }
  const touching = mutatingCalls(spy.calls()).filter((l) => HELD.test(l));
  t.check(
    'held back: no ip command changed a storage or storage-cluster device',
    touching.length === 0,
    touching.slice(0, 4).join(' | '),
  );
  const inHeld = await inboundMatrix(topo);
  t.table('public gateway only: inbound TCP to a 0.0.0.0 service', printable(inHeld));
  const held = ['storage', 'storage-cluster'];
  t.check(
    "held back: storage's and storage-cluster's inbound traffic as before install",
    JSON.stringify(inboundOf(inHeld, held)) === JSON.stringify(inboundOf(inBefore, held)),
    `before ${inboundOf(inBefore, held).join(', ')}; now ${inboundOf(inHeld, held).join(', ')}`,
  );
  for (const r of inHeld.filter((x) => x.space === 'public'))
    t.check(`public converges: ${r.path} client answered`, r.ok, r.result);

  // Case 1: main's default stays, through the public VRF, with the old metric.
  const defaultsAfter = mainDefaults(topo.unit);
  const want = [`-4 default dev public metric ${METRIC[4]}`, `-6 default dev public metric ${METRIC[6]}`];
  t.check(
    'main keeps its default routes through the public VRF, with their metrics',
    JSON.stringify(defaultsAfter) === JSON.stringify(want),
    defaultsAfter.join(' | '),
  );
  const why = inst.record.logs
    .flatMap((l) => l.message.split('\n'))
    .find((m) => /main's default route \(IPv4\) went through br-ens4/.test(m));
  t.check("the install log says why main's default now goes through public", why !== undefined, why ?? '');
  const outHeld = await outside(topo);
  t.table('public gateway only: the unit to the outside address', outHeld);
  for (const r of outHeld)
    t.check(`VRF public: ${r.family} outside still reached, from public's address`, r.ok, r.result);

  // Case 1 with every space converged (Active), and case 5.
  unit.config({ gateways: ALL });
  const cc = await unit.hook('config-changed');
  t.check(
    'config-changed (all gateways): exit 0, Active with 3 VRFs',
    cc.exitCode === 0 && cc.record.status.status === 'active' && /^3 VRFs/.test(cc.record.status.message),
    `exit ${cc.exitCode}, ${cc.record.status.status}: ${cc.record.status.message}`,
  );
  t.check(
    "3 VRFs: main's defaults still through public",
    JSON.stringify(mainDefaults(topo.unit)) === JSON.stringify(want),
    mainDefaults(topo.unit).join(' | '),
  );
  const outAll = await outside(topo);
  t.table('3 VRFs: the unit to the outside address', outAll);
  for (const r of outAll) t.check(`3 VRFs: ${r.family} outside still reached, from public's address`, r.ok, r.result);
  const udpAfter = await udpRows(topo);
  t.table(
    '3 VRFs: UDP echo on 0.0.0.0 and :: (default VRF)',
    udpAfter.map(({ key: _k, local: _l, ...r }) => r),
  );
  const s = spaceOf(topo, 'storage');
  for (const family of /** @type {const} */ ([4, 6])) {
    const v = `IPv${family}`;
    const home = family === 4 ? s.unitAddr : s.unitAddr6;
    const pk = udpAfter.find((r) => r.key === `${v} pktinfo ${s.remoteNs}`);
    t.check(
      `UDP ${v}: the pktinfo echo answers storage's remote client, from storage's address`,
      pk?.ok && pk.local === home,
      pk?.result,
    );
    // The plain echo's reply is routed in main: it reaches a client only where main's routes lead into
    // the client's space (preserve-reachability's subnet route, main's default kept through public).
    /** @type {[string, boolean, string][]} */
    const udpWant = [
      [`${v} plain ${s.remoteNs}`, false, "the plain echo does not answer storage's remote client"],
      [
        `${v} plain ${s.lanNs}`,
        true,
        "the plain echo answers storage's same-subnet client (main's route to the subnet)",
      ],
      [
        `${v} plain ${p.remoteNs}`,
        true,
        "the plain echo answers public's remote client (main's default through public)",
      ],
      [`${v} pktinfo ${s.lanNs}`, true, "the pktinfo echo answers storage's same-subnet client"],
      [`${v} pktinfo ${p.remoteNs}`, true, "the pktinfo echo answers public's remote client"],
    ];
    for (const [key, ok, label] of udpWant)
      t.check(`UDP ${v}: ${label}`, okOf(udpAfter, key) === ok, udpAfter.find((r) => r.key === key)?.result);
  }
  const inAll = await inboundMatrix(topo);
  // (mgmt's remote clients are not answered before install either: main's default goes through public)
  for (const r of inAll.filter((x) => x.path !== 'same L2' && x.space !== 'mgmt'))
    t.check(`3 VRFs: TCP ${r.space} remote client answered`, r.ok, r.result);

  // Stop + remove: the host as before, traffic as before.
  await hooksExitOk(t, unit, ['stop', 'remove']);
  snapshotIsBack(t, topo.unit, before, 'torn down: the unit namespace snapshots as before install');
  const defaultsBack = mainDefaults(topo.unit);
  t.check(
    "torn down: main's defaults exactly as before",
    JSON.stringify(defaultsBack) === JSON.stringify(defaultsBefore),
    defaultsBack.join(' | '),
  );
  const outBack = await outside(topo);
  for (const r of outBack) t.check(`torn down: ${r.family} outside reached`, r.ok, r.result);
  const inBack = await inboundMatrix(topo);
  const all = Object.keys(topo.spaces);
  t.check(
    'torn down: inbound TCP as before install',
    JSON.stringify(inboundOf(inBack, all)) === JSON.stringify(inboundOf(inBefore, all)),
    inboundOf(inBack, all).join(', '),
  );
  const udpBack = await udpRows(topo);
  const udpText = (/** @type {typeof udpBefore} */ rows) => rows.map((r) => `${r.key}: ${r.ok}`).join(', ');
  t.check('torn down: UDP as before install', udpText(udpBack) === udpText(udpBefore), udpText(udpBack));
}

/**
 * Part B's topology: public on br-ens4, storage on bond0, mgmt on VLAN 105 of bond0 (the controller behind it).
 * @type {import('../lib/topology.mjs').TopologySpec}
 */
const MGMT_ON_BOND = {
  unit: 'unit',
  spaces: [
    {
      name: 'public',
      kind: 'bridge',
      dev: 'br-ens4',
      nics: ['ens4'],
      index: 1,
      v4: '172.16.0',
      remote4: '172.17.0',
      v6: 'fd00:0:1:0',
      remote6: 'fd00:0:1:1',
    },
    {
      name: 'storage',
      kind: 'bond',
      dev: 'bond0',
      nics: ['ens5', 'ens6'],
      index: 2,
      v4: '10.10.4',
      remote4: '10.20.4',
      v6: 'fd00:0:2:0',
      remote6: 'fd00:0:2:1',
    },
    {
      name: 'mgmt',
      kind: 'vlan',
      dev: 'bond0.105',
      parent: 'bond0',
      vlanId: 105,
      trunkOf: 'storage',
      index: 0,
      v4: '10.0.0',
      remote4: '10.200.0',
      v6: 'fd00:0:0:0',
      remote6: 'fd00:0:0:1',
    },
  ],
  defaultSpace: 'mgmt',
  controller: { behind: 'mgmt', v4: '10.100.0', v6: 'fd00:0:100:0' },
};

/**
 * What Juju does for a container on mgmt: br-mgmt over bond0.105, the addresses and defaults moved to it.
 * @param {Topology} topo
 */
function bridgeMgmt(topo) {
  const m = spaceOf(topo, 'mgmt');
  const a6 = required(m.unitAddr6, 'mgmt unitAddr6');
  ipBatch(topo.unit, [
    ['link', 'add', 'br-mgmt', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'],
    ['route', 'del', 'default', 'via', m.gateway, 'dev', 'bond0.105'],
    ['route', 'del', 'default', 'via', required(m.gateway6, 'mgmt gateway6'), 'dev', 'bond0.105'],
    ['link', 'set', 'bond0.105', 'master', 'br-mgmt'],
    ['addr', 'del', `${m.unitAddr}/24`, 'dev', 'bond0.105'],
    ['addr', 'del', `${a6}/64`, 'dev', 'bond0.105'],
    ['link', 'set', 'br-mgmt', 'up'],
    ['addr', 'add', `${m.unitAddr}/24`, 'dev', 'br-mgmt'],
    ['addr', 'add', `${a6}/64`, 'dev', 'br-mgmt', 'nodad'],
    ['route', 'add', 'default', 'via', m.gateway, 'dev', 'br-mgmt'],
    ['route', 'add', 'default', 'via', required(m.gateway6, 'mgmt gateway6'), 'dev', 'br-mgmt'],
  ]);
  m.dev = 'br-mgmt';
}

/**
 * `ip monitor link` lines that show one of `devs` not up (down, lower layer down, no carrier) or deleted.
 * @param {string} out
 * @param {string[]} devs
 */
function downLines(out, devs) {
  return out.split('\n').filter((l) => {
    const m = /^(Deleted )?\d+: ([^:@\s]+)[@:]/.exec(l);
    if (!m || !devs.includes(m[2] ?? '')) return false;
    const flags = /<([^>]*)>/.exec(l)?.[1]?.split(',') ?? [];
    return (
      Boolean(m[1]) ||
      /state (DOWN|LOWERLAYERDOWN)/.test(l) ||
      flags.includes('NO-CARRIER') ||
      flags.includes('M-DOWN') ||
      (flags.length > 0 && !flags.includes('UP'))
    );
  });
}

/** @param {Context} t */
async function controllerOverTheStorageBond(t) {
  resetUnitFiles();
  const topo = buildTopology(MGMT_ON_BOND);
  t.defer(() => {
    destroyTopology(topo);
    resetUnitFiles();
  });
  bridgeMgmt(topo);
  await waitReady(topo);
  const ctl = controllerOf(topo);
  const unit = new CharmUnit({
    ns: topo.unit,
    state: {
      config: { gateways: 'public=172.16.0.1 storage=10.10.4.1 public=fd00:0:1::1 storage=fd00:0:2::1' },
      networks: networksFor(topo),
    },
    controller: `${ctl.addr}:17070`,
  });

  // No route to the controller: nothing is applied, the status says why.
  const m = spaceOf(topo, 'mgmt');
  ipBatch(topo.unit, [['route', 'del', 'default', 'via', m.gateway, 'dev', 'br-mgmt']]);
  const noRoute = snapshot(topo.unit);
  const spy = createIpSpy();
  const r0 = await unit.hook('install', { env: { VRF_HOST_IP: spy.path } });
  t.check(
    'install without a route to the controller: Blocked, saying ip route get found no route',
    r0.exitCode === 0 &&
      r0.record.status.status === 'blocked' &&
      /ip route get 10\.100\.0\.5 found no route to the controller/.test(r0.record.status.message),
    `exit ${r0.exitCode}, ${r0.record.status.status}: ${r0.record.status.message}`,
  );
  const changed = mutatingCalls(spy.calls());
  t.check(
    'without a route to the controller: no ip command changed anything',
    changed.length === 0,
    changed.slice(0, 4).join(' | '),
  );
  snapshotIsBack(t, topo.unit, noRoute, 'without a route to the controller: the host unchanged');
  ipBatch(topo.unit, [['route', 'add', 'default', 'via', m.gateway, 'dev', 'br-mgmt']]);

  // The first apply, watched.
  const before = snapshot(topo.unit);
  const loop = await startProbeLoop(topo, { spaces: ['mgmt'] });
  let loopStopped = false;
  t.defer(async () => {
    if (!loopStopped) await loop.stop();
  });
  const mon = startBackground(['ip', 'netns', 'exec', topo.unit, 'ip', '-o', 'monitor', 'link']);
  t.defer(() => mon.stop());
  t.check('probes answer before the apply', await loop.allAnswer());
  loop.mark('first apply (config-changed)');
  const r1 = await unit.hook('config-changed');
  loop.mark();
  await loop.settle();
  await mon.stop();
  const tally = loop.failed('first apply (config-changed)');
  t.table('probes during the first apply (failed/sent, a connect every 200 ms)', loop.report());
  loopStopped = true;
  await loop.stop();
  t.check(
    'first apply: exit 0, Active; storage in main (controller path)',
    r1.exitCode === 0 &&
      r1.record.status.status === 'active' &&
      /\bstorage\b[^;]* in main \(controller path\)/.test(r1.record.status.message),
    `exit ${r1.exitCode}, ${r1.record.status.status}: ${r1.record.status.message}`,
  );
  const vrfs = ipJson(topo.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    'first apply: public is the only VRF (bond0 carries the controller path)',
    vrfs.join(' ') === 'public',
    vrfs.join(' '),
  );
  const bond = ipJson(topo.unit, 'link', 'show', 'dev', 'bond0')[0];
  t.check('first apply: bond0 is not enslaved', bond && bond.master === undefined, `master ${bond?.master ?? 'none'}`);
  const monOut = mon.output();
  t.check(
    'ip monitor link saw the apply (br-ens4 joining public)',
    /br-ens4.*master public/.test(monOut),
    monOut.split('\n').length + ' lines',
  );
  const down = downLines(monOut, ['bond0', 'bond0.105', 'br-mgmt']);
  t.check(
    'ip monitor link: bond0, bond0.105 and br-mgmt never down during the apply',
    down.length === 0,
    down.slice(0, 4).join(' | '),
  );
  const c = tally.controller;
  t.check(
    'no controller probe lost during the apply',
    c !== undefined && c.sent >= 5 && c.failed === 0,
    c ? `${c.failed}/${c.sent} failed ${c.errors.join('; ')}` : 'no tally',
  );

  await hooksExitOk(t, unit, ['stop', 'remove']);
  snapshotIsBack(t, topo.unit, before, 'torn down: the unit namespace snapshots as before the apply');
  const ctlProbe = await startServer({ ns: ctl.ns, name: 'controller' });
  try {
    const r = probe({ ns: topo.unit, target: ctl.addr, port: ctlProbe.port });
    t.check('torn down: controller reached', r.ok && r.peerSaw === m.unitAddr, r.ok ? `saw ${r.peerSaw}` : r.error);
  } finally {
    await ctlProbe.stop();
  }
}

/** @param {Context} t */
export async function run(t) {
  await defaultThroughASpace(t);
  await controllerOverTheStorageBond(t);
}
