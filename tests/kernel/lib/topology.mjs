// Scenario topologies built from network namespaces (guest side, as root).
//
// Layout for each space i (see MULTI_HOMED):
//   unit ── (NIC/bridge/bond/VLAN) ── fab:sw<i> ──┬── gw-<space>:lan  (gateway, forwarding on) ── wan ── rp-<space>
//                                                 │                                                    (remote peer, another rack)
//                                                 └── lan-<space>      (a same-subnet peer)
//   mgmt's gateway also routes to the controller: gw-mgmt:ctl ── ctl (the Juju controller).
// Gateways only know their own subnets (and gw-mgmt the controller's), so a reply that leaves the
// unit through the wrong gateway is dropped, as in a real multi-rack cloud.
import ipaddr from 'ipaddr.js';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { ipBatch, ipJson, ipn, nsRun, runAsync, sleep } from './exec.mjs';

/**
 * A space of a topology spec: the unit's device for it, and the /24 (v4) and /64 (v6) prefixes of
 * its subnet and of the remote subnet behind its gateway.
 * @typedef {object} SpaceSpec
 * @property {string} name
 * @property {'nic' | 'bridge' | 'bond' | 'vlan'} kind
 * @property {string} dev
 * @property {readonly string[]} [nics]
 * @property {string} [parent] a VLAN's parent device
 * @property {number} [vlanId]
 * @property {string} [trunkOf] a VLAN's space whose switch carries it
 * @property {number} index
 * @property {string} v4
 * @property {string} remote4
 * @property {string} v6
 * @property {string} remote6
 *
 * @typedef {object} TopologySpec
 * @property {string} unit
 * @property {readonly SpaceSpec[]} spaces
 * @property {string} defaultSpace
 * @property {{ behind: string, v4: string, v6: string } | null} [controller]
 *
 * A space of a built topology (describe()): its namespaces and addresses. The v6 fields are there
 * when the topology has IPv6.
 * @typedef {object} Space
 * @property {string} name
 * @property {SpaceSpec['kind']} kind
 * @property {string} dev
 * @property {readonly string[]} nics
 * @property {string | undefined} parent
 * @property {number | undefined} vlanId
 * @property {string | undefined} trunkOf
 * @property {number} index
 * @property {string} gwNs
 * @property {string} lanNs
 * @property {string} remoteNs
 * @property {string} cidr
 * @property {string} unitAddr
 * @property {string} gateway
 * @property {string} lanPeer
 * @property {string} remoteCidr
 * @property {string} remoteGateway
 * @property {string} remotePeer
 * @property {string} [cidr6]
 * @property {string} [unitAddr6]
 * @property {string} [gateway6]
 * @property {string} [lanPeer6]
 * @property {string} [remoteCidr6]
 * @property {string} [remoteGateway6]
 * @property {string} [remotePeer6]
 *
 * @typedef {object} Controller
 * @property {string} ns
 * @property {string} behind
 * @property {string} addr
 * @property {string} cidr
 * @property {string} gateway
 * @property {string} [addr6]
 * @property {string} [cidr6]
 * @property {string} [gateway6]
 *
 * @typedef {object} Topology
 * @property {string} unit
 * @property {string} fab
 * @property {Record<string, Space>} spaces
 * @property {string} defaultSpace
 * @property {Controller | null} controller
 * @property {boolean} ipv6
 */

/**
 * Scenario 1: mgmt on a NIC, public on a Juju bridge over a NIC, storage on an active-backup bond,
 * storage-cluster on a VLAN of that bond.
 * @type {Readonly<TopologySpec>}
 */
export const MULTI_HOMED = Object.freeze(
  /** @satisfies {TopologySpec} */ ({
    unit: 'unit',
    spaces: [
      {
        name: 'mgmt',
        kind: 'nic',
        dev: 'ens3',
        nics: ['ens3'],
        index: 0,
        v4: '10.0.0',
        remote4: '10.200.0',
        v6: 'fd00:0:0:0',
        remote6: 'fd00:0:0:1',
      },
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
        name: 'storage-cluster',
        kind: 'vlan',
        dev: 'bond0.105',
        parent: 'bond0',
        vlanId: 105,
        trunkOf: 'storage',
        index: 3,
        v4: '10.10.5',
        remote4: '10.20.5',
        v6: 'fd00:0:3:0',
        remote6: 'fd00:0:3:1',
      },
    ],
    defaultSpace: 'mgmt',
    controller: { behind: 'mgmt', v4: '10.100.0', v6: 'fd00:0:100:0' },
  }),
);

/** @param {string} s */
const L = (s) => s.split(' ');
/** @param {string} a */
const c6 = (a) => ipaddr.parse(a).toString();

/**
 * A space of a topology, by name (throws when the topology has none of that name).
 * @param {Topology} topo
 * @param {string} name
 * @returns {Space}
 */
export function spaceOf(topo, name) {
  const s = topo.spaces[name];
  if (!s) throw new Error(`the topology has no space ${name}`);
  return s;
}

/**
 * A topology's controller (throws when it has none).
 * @param {Topology} topo
 * @returns {Controller}
 */
export function controllerOf(topo) {
  if (!topo.controller) throw new Error('the topology has no controller');
  return topo.controller;
}

/**
 * An address the topology may lack (an IPv6 one of a topology built without IPv6): throws, naming it.
 * @param {string | undefined} value
 * @param {string} what
 * @returns {string}
 */
export function required(value, what) {
  if (value === undefined) throw new Error(`the topology has no ${what}`);
  return value;
}

/**
 * Resolve a spec into the concrete topology description scenarios use.
 * @param {Readonly<TopologySpec>} [spec]
 * @param {{ ipv6?: boolean }} [options]
 * @returns {Topology}
 */
export function describe(spec = MULTI_HOMED, { ipv6 = true } = {}) {
  /** @type {Record<string, Space>} */
  const spaces = {};
  for (const s of spec.spaces) {
    spaces[s.name] = {
      name: s.name,
      kind: s.kind,
      dev: s.dev,
      nics: s.nics ?? [],
      parent: s.parent,
      vlanId: s.vlanId,
      index: s.index,
      gwNs: `gw-${s.name}`,
      lanNs: `lan-${s.name}`,
      remoteNs: `rp-${s.name}`,
      cidr: `${s.v4}.0/24`,
      unitAddr: `${s.v4}.10`,
      gateway: `${s.v4}.1`,
      lanPeer: `${s.v4}.20`,
      remoteCidr: `${s.remote4}.0/24`,
      remoteGateway: `${s.remote4}.1`,
      remotePeer: `${s.remote4}.10`,
      ...(ipv6
        ? {
            cidr6: `${c6(`${s.v6}::`)}/64`,
            unitAddr6: c6(`${s.v6}::10`),
            gateway6: c6(`${s.v6}::1`),
            lanPeer6: c6(`${s.v6}::20`),
            remoteCidr6: `${c6(`${s.remote6}::`)}/64`,
            remoteGateway6: c6(`${s.remote6}::1`),
            remotePeer6: c6(`${s.remote6}::10`),
          }
        : {}),
      trunkOf: s.trunkOf,
    };
  }
  const c = spec.controller;
  const controller = c
    ? {
        ns: 'ctl',
        behind: c.behind,
        addr: `${c.v4}.5`,
        cidr: `${c.v4}.0/24`,
        gateway: `${c.v4}.1`,
        ...(ipv6 ? { addr6: c6(`${c.v6}::5`), cidr6: `${c6(`${c.v6}::`)}/64`, gateway6: c6(`${c.v6}::1`) } : {}),
      }
    : null;
  return { unit: spec.unit, fab: 'fab', spaces, defaultSpace: spec.defaultSpace, controller, ipv6 };
}

/**
 * Every namespace of a topology.
 * @param {Topology} topo
 */
export function namespaces(topo) {
  const out = [topo.unit, topo.fab];
  for (const s of Object.values(topo.spaces)) out.push(s.gwNs, s.lanNs, s.remoteNs);
  if (topo.controller) out.push(topo.controller.ns);
  return out;
}

/**
 * @param {number} i
 * @param {number} j
 */
function mac(i, j) {
  return `52:54:00:00:${i.toString(16).padStart(2, '0')}:${j.toString(16).padStart(2, '0')}`;
}

/**
 * pids of the processes whose network namespace is the named one (read from /proc, no subprocess).
 * @param {string} ns
 */
export function pidsInNs(ns) {
  let ino;
  try {
    ino = statSync(`/run/netns/${ns}`).ino;
  } catch {
    return [];
  }
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/net`) === `net:[${ino}]`) out.push(Number(d));
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return out;
}

/**
 * Kill every process in the namespaces and delete them (idempotent; one ip process).
 * @param {Topology} topo
 */
export function destroyTopology(topo) {
  /** @type {string[][]} */
  const dels = [];
  for (const ns of namespaces(topo)) {
    if (!existsSync(`/run/netns/${ns}`)) continue;
    for (const pid of pidsInNs(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    dels.push(['netns', 'del', ns]);
  }
  if (dels.length) ipBatch(null, dels, { allowFail: true });
}

/**
 * Build the topology (scenario 1 by default). Deletes leftovers of the same names first.
 * `unitLinks: 'nics'` creates only the unit's NICs (the veths, down, no address) and `lo`: a
 * network manager (lib/networkd.mjs) then makes the bridge, bond and VLAN, the addresses and the
 * routes itself, as on a real host.
 * @param {Readonly<TopologySpec>} [spec]
 * @param {{ipv6?: boolean, unitLinks?: 'all'|'nics'}} [options]
 * @returns {Topology}
 */
export function buildTopology(spec = MULTI_HOMED, { ipv6 = true, unitLinks = 'all' } = {}) {
  const topo = describe(spec, { ipv6 });
  destroyTopology(topo);
  ipBatch(
    null,
    namespaces(topo).map((ns) => ['netns', 'add', ns]),
  );
  /** @type {string[][]} */
  const unitLines = [];
  /** @type {string[][]} */
  const fabLines = [];
  /** @type {string[][]} */
  const unitLater = [];
  const spaces = Object.values(topo.spaces);
  /** @param {Space} s */
  const swOf = (s) => `sw${s.trunkOf ? spaceOf(topo, s.trunkOf).index : s.index}`;
  for (const s of spaces)
    if (!s.trunkOf)
      fabLines.push(L(`link add ${swOf(s)} type bridge stp_state 0 forward_delay 0`), L(`link set ${swOf(s)} up`));
  // unit-side devices: veth NICs whose peers sit on the space's switch
  for (const s of spaces) {
    s.nics.forEach((nic, j) => {
      unitLines.push(
        L(`link add ${nic} address ${mac(s.index, j + 1)} type veth peer name u-${nic} netns ${topo.fab}`),
      );
      fabLines.push(L(`link set u-${nic} master ${swOf(s)}`), L(`link set u-${nic} up`));
    });
    if (s.kind === 'bridge') {
      unitLater.push(L(`link add ${s.dev} type bridge stp_state 0 forward_delay 0`));
      for (const nic of s.nics) unitLater.push(L(`link set ${nic} master ${s.dev}`));
    } else if (s.kind === 'bond') {
      unitLater.push(L(`link add ${s.dev} type bond mode active-backup miimon 100`));
      for (const nic of s.nics) unitLater.push(L(`link set ${nic} master ${s.dev}`));
    } else if (s.kind === 'vlan') {
      unitLater.push(L(`link add link ${s.parent} name ${s.dev} type vlan id ${s.vlanId}`));
    }
  }
  for (const s of spaces) for (const nic of s.nics) unitLater.push(L(`link set ${nic} up`));
  for (const s of spaces) {
    if (s.kind !== 'nic') unitLater.push(L(`link set ${s.dev} up`));
    unitLater.push(L(`addr add ${s.unitAddr}/24 dev ${s.dev}`));
    if (topo.ipv6) unitLater.push(L(`addr add ${s.unitAddr6}/64 dev ${s.dev} nodad`));
  }
  unitLater.push(L('link set lo up'));
  const mg = spaceOf(topo, topo.defaultSpace);
  unitLater.push(L(`route add default via ${mg.gateway} dev ${mg.dev}`));
  if (topo.ipv6) unitLater.push(L(`route add default via ${mg.gateway6} dev ${mg.dev}`)); // family from the address
  ipBatch(topo.unit, unitLines);
  // gateways, same-subnet peers, remote peers
  for (const s of spaces) {
    const gwLines = [L('link set lo up')];
    const peerLines = [L('link set lo up')];
    gwLines.push(L(`link add lan0 type veth peer name g-${s.index} netns ${topo.fab}`));
    peerLines.push(L(`link add eth0 type veth peer name l-${s.index} netns ${topo.fab}`));
    fabLines.push(L(`link set g-${s.index} master ${swOf(s)}`), L(`link set g-${s.index} up`));
    fabLines.push(L(`link set l-${s.index} master ${swOf(s)}`), L(`link set l-${s.index} up`));
    let gwDev = 'lan0';
    let peerDev = 'eth0';
    gwLines.push(L('link set lan0 up'));
    peerLines.push(L('link set eth0 up'));
    if (s.kind === 'vlan') {
      gwLines.push(L(`link add link lan0 name lan type vlan id ${s.vlanId}`), L('link set lan up'));
      peerLines.push(
        L(`link add link eth0 name eth0.${s.vlanId} type vlan id ${s.vlanId}`),
        L(`link set eth0.${s.vlanId} up`),
      );
      gwDev = 'lan';
      peerDev = `eth0.${s.vlanId}`;
    }
    gwLines.push(L(`addr add ${s.gateway}/24 dev ${gwDev}`));
    peerLines.push(L(`addr add ${s.lanPeer}/24 dev ${peerDev}`), L(`route add default via ${s.gateway}`));
    gwLines.push(L(`link add wan type veth peer name eth0 netns ${s.remoteNs}`), L('link set wan up'));
    gwLines.push(L(`addr add ${s.remoteGateway}/24 dev wan`));
    if (topo.ipv6) {
      gwLines.push(
        L(`addr add ${s.gateway6}/64 dev ${gwDev} nodad`),
        L(`addr add ${s.remoteGateway6}/64 dev wan nodad`),
      );
      peerLines.push(L(`addr add ${s.lanPeer6}/64 dev ${peerDev} nodad`), L(`route add default via ${s.gateway6}`));
    }
    if (topo.controller && topo.controller.behind === s.name) {
      const c = topo.controller;
      gwLines.push(
        L(`link add ctl type veth peer name eth0 netns ${c.ns}`),
        L('link set ctl up'),
        L(`addr add ${c.gateway}/24 dev ctl`),
      );
      if (topo.ipv6) gwLines.push(L(`addr add ${c.gateway6}/64 dev ctl nodad`));
    }
    ipBatch(s.gwNs, gwLines);
    ipBatch(s.lanNs, peerLines);
    const rpLines = [
      L('link set lo up'),
      L('link set eth0 up'),
      L(`addr add ${s.remotePeer}/24 dev eth0`),
      L(`route add default via ${s.remoteGateway}`),
    ];
    if (topo.ipv6)
      rpLines.push(L(`addr add ${s.remotePeer6}/64 dev eth0 nodad`), L(`route add default via ${s.remoteGateway6}`));
    ipBatch(s.remoteNs, rpLines);
    nsRun(s.gwNs, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', ...(topo.ipv6 ? ['net.ipv6.conf.all.forwarding=1'] : [])]);
  }
  if (topo.controller) {
    const c = topo.controller;
    const lines = [
      L('link set lo up'),
      L('link set eth0 up'),
      L(`addr add ${c.addr}/24 dev eth0`),
      L(`route add default via ${c.gateway}`),
    ];
    if (topo.ipv6) lines.push(L(`addr add ${c.addr6}/64 dev eth0 nodad`), L(`route add default via ${c.gateway6}`));
    ipBatch(c.ns, lines);
  }
  ipBatch(topo.fab, [L('link set lo up'), ...fabLines]);
  ipBatch(topo.unit, unitLinks === 'nics' ? [L('link set lo up')] : unitLater);
  return topo;
}

/**
 * operstate of every link in the unit namespace.
 * @param {Topology} topo
 * @returns {Record<string, string>}
 */
export function linkStates(topo) {
  /** @type {{ ifname: string, operstate: string }[]} */
  const links = JSON.parse(ipn(topo.unit, '-json', 'link', 'show').stdout);
  return Object.fromEntries(links.map((l) => [l.ifname, l.operstate]));
}

/**
 * Wait until every bond has an active slave and every space's gateway and same-subnet peer answer
 * a ping from the unit (carrier, ARP/ND warm), so that the first probe of a scenario is not a
 * timing lottery. Pings run in parallel. Call it before any VRF exists (it pings from the default VRF).
 * @param {Topology} topo
 * @param {{ timeoutMs?: number }} [options]
 */
export async function waitReady(topo, { timeoutMs = 30_000 } = {}) {
  const end = Date.now() + timeoutMs;
  const bonds = Object.values(topo.spaces)
    .filter((s) => s.kind === 'bond')
    .map((s) => s.dev);
  for (const b of bonds) {
    for (;;) {
      const info = ipJson(topo.unit, '-details', 'link', 'show', 'dev', b)[0]?.linkinfo?.info_data;
      if (info?.active_slave) break;
      if (Date.now() > end) throw new Error(`bond ${b} has no active slave after ${timeoutMs} ms`);
      await sleep(100);
    }
  }
  /** @type {Set<string>} */
  const pending = new Set();
  for (const s of Object.values(topo.spaces)) {
    pending.add(s.gateway).add(s.lanPeer);
    if (topo.ipv6 && s.gateway6 && s.lanPeer6) pending.add(s.gateway6).add(s.lanPeer6);
  }
  while (pending.size && Date.now() < end) {
    const tries = [...pending].map(async (t) => {
      const r = await runAsync(['ip', 'netns', 'exec', topo.unit, 'ping', '-n', '-c', '1', '-W', '2', t], {
        timeoutMs: 5000,
      });
      if (r.code === 0) pending.delete(t);
    });
    await Promise.all(tries);
    if (pending.size) await sleep(200);
  }
  if (pending.size)
    throw new Error(`topology not ready after ${timeoutMs} ms: no answer from ${[...pending].join(' ')}`);
}
