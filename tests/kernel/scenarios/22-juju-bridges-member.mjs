// Scenario 12: Juju bridges a member later. When a container is placed on a machine in the storage
// space, Juju creates br-bond0, makes bond0 its port and moves bond0's addresses to the bridge;
// network-get then reports br-bond0. After the next hook (config-changed, and separately
// update-status alone) br-bond0 is the storage VRF's member, bond0 only a bridge port, the VRF's
// routes are the same with br-bond0 in place of bond0, and scenario 1's traffic checks pass again.
import { networkGetFor } from '../lib/charm.mjs';
import { ipBatch, ipJson } from '../lib/exec.mjs';
import { deployMultiHomed, hookOk, trafficChecks } from '../lib/scenario1.mjs';
import { spaceOf } from '../lib/topology.mjs';

export const name = 'juju-bridges-member';
export const description =
  'Juju moves bond0 under a new br-bond0: the next config-changed / update-status makes br-bond0 the member';
export const needsCharm = true;
export const timeoutMs = 25 * 60_000;

const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
/** @param {string} sp */
const VRF_OF = (sp) => (sp === 'mgmt' ? undefined : sp);

/**
 * What Juju does: a bridge over bond0 (same MAC), bond0 its port, the addresses moved over.
 * @param {import('../lib/topology.mjs').Topology} topo
 */
function jujuBridgesBond(topo) {
  const s = spaceOf(topo, 'storage');
  ipBatch(topo.unit, [
    ['link', 'add', 'br-bond0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'],
    ['link', 'set', 'bond0', 'master', 'br-bond0'],
    ['addr', 'del', `${s.unitAddr}/24`, 'dev', 'bond0'],
    ['addr', 'del', `${s.unitAddr6}/64`, 'dev', 'bond0'],
    ['addr', 'add', `${s.unitAddr}/24`, 'dev', 'br-bond0'],
    ['addr', 'add', `${s.unitAddr6}/64`, 'dev', 'br-bond0', 'nodad'],
    ['link', 'set', 'br-bond0', 'up'],
  ]);
}

/**
 * A table's routes as comparable lines (bond0 written as br-bond0; link-local and multicast left out).
 * @param {string} ns
 * @param {string | number} table
 */
function routeLines(ns, table, rename = false) {
  /** @type {string[]} */
  const out = [];
  for (const fam of ['-4', '-6']) {
    for (const r of ipJson(ns, fam, 'route', 'show', 'table', String(table))) {
      if (/^(fe80|ff00)/.test(r.dst ?? '')) continue;
      const dev = rename && r.dev === 'bond0' ? 'br-bond0' : r.dev;
      out.push(
        `${r.type ?? 'unicast'} ${r.dst} via ${r.gateway ?? '-'} dev ${dev ?? '-'} proto ${r.protocol ?? '-'} metric` +
          ` ${r.metric ?? 0} scope ${r.scope ?? '-'}`,
      );
    }
  }
  return out.sort();
}

/** @param {string} ns */
function rulesOf(ns) {
  return [...ipJson(ns, '-4', 'rule', 'show'), ...ipJson(ns, '-6', 'rule', 'show')]
    .map((r) => JSON.stringify(r))
    .sort();
}

/**
 * @param {readonly string[]} a
 * @param {readonly string[]} b
 */
function setDiff(a, b) {
  const sb = new Set(b);
  const sa = new Set(a);
  return [
    ...a.filter((x) => !sb.has(x)).map((x) => `missing ${x}`),
    ...b.filter((x) => !sa.has(x)).map((x) => `extra ${x}`),
  ];
}

/**
 * @param {import('../lib/context.mjs').Context} t
 * @param {string} hook
 */
async function variant(t, hook) {
  const p = `[via ${hook}]`;
  const { topo, unit } = await deployMultiHomed(t, { gateways: GATEWAYS }, { fast: true });
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  const table = ipJson(topo.unit, '-details', 'link', 'show', 'dev', 'storage')[0]?.linkinfo?.info_data?.table;
  if (
    !t.check(
      `${p} storage VRF exists with bond0 as its member`,
      table !== undefined && ipJson(topo.unit, 'link', 'show', 'dev', 'bond0')[0]?.master === 'storage',
      `table ${table}`,
    )
  )
    return;
  const before = {
    vrf: routeLines(topo.unit, table, true),
    main: routeLines(topo.unit, 'main', true),
    rules: rulesOf(topo.unit),
  };

  jujuBridgesBond(topo);
  const bond = ipJson(topo.unit, 'link', 'show', 'dev', 'bond0')[0];
  t.check(
    `${p} Juju's change took: bond0 is a port of br-bond0, the storage VRF lost its default route`,
    bond?.master === 'br-bond0' && !routeLines(topo.unit, table).some((l) => / default via 10\.10\.4\.1 /.test(l)),
    `bond0 master ${bond?.master}`,
  );
  // network-get now reports the bridge.
  const storage = spaceOf(topo, 'storage');
  const bridged = { ...storage, dev: 'br-bond0' };
  unit.update((s) => ({ ...s, networks: { ...s.networks, storage: networkGetFor(bridged, { ipv6: topo.ipv6 }) } }));
  storage.dev = 'br-bond0';

  const r = await hookOk(t, unit, hook);
  t.note(`${p} status: ${r.record.status.message}`);
  const links = Object.fromEntries(ipJson(topo.unit, '-details', 'link', 'show').map((l) => [l.ifname, l]));
  t.check(
    `${p} br-bond0 is the storage VRF's member`,
    links['br-bond0']?.master === 'storage',
    `br-bond0 master ${links['br-bond0']?.master ?? 'none'}`,
  );
  t.check(
    `${p} bond0 is only a bridge port (master br-bond0), no longer a VRF member`,
    links.bond0?.master === 'br-bond0' && links.bond0?.linkinfo?.info_slave_kind === 'bridge',
    `bond0 master ${links.bond0?.master}, slave kind ${links.bond0?.linkinfo?.info_slave_kind}`,
  );
  t.check(
    `${p} bond0.105 is still storage-cluster's member`,
    links['bond0.105']?.master === 'storage-cluster',
    `master ${links['bond0.105']?.master}`,
  );
  t.check(
    `${p} the storage VRF keeps its table`,
    links.storage?.linkinfo?.info_data?.table === table,
    `table ${links.storage?.linkinfo?.info_data?.table}`,
  );
  const addrs =
    ipJson(topo.unit, 'addr', 'show', 'dev', 'br-bond0')[0]?.addr_info?.map(
      (/** @type {{ local: string }} */ a) => a.local,
    ) ?? [];
  t.check(
    `${p} br-bond0 holds the storage addresses (IPv4 and IPv6)`,
    addrs.includes(storage.unitAddr) && addrs.includes(storage.unitAddr6),
    addrs.join(' '),
  );
  const dVrf = setDiff(before.vrf, routeLines(topo.unit, table));
  t.check(
    `${p} the storage VRF's routes (gateway, connected, strict) are intact, via br-bond0`,
    dVrf.length === 0,
    dVrf.slice(0, 6).join(' | '),
  );
  const dMain = setDiff(before.main, routeLines(topo.unit, 'main'));
  t.check(`${p} the main table (leaks, default) is intact`, dMain.length === 0, dMain.slice(0, 6).join(' | '));
  const dRules = setDiff(before.rules, rulesOf(topo.unit));
  t.check(`${p} the rules are intact`, dRules.length === 0, dRules.slice(0, 6).join(' | '));
  await trafficChecks(t, topo, VRF_OF, { label: p });
  // And the hook after that has nothing left to do.
  const again = await hookOk(t, unit, 'update-status');
  t.check(
    `${p} the next update-status applies nothing`,
    !again.record.statusHistory.some((s) => s.status === 'maintenance'),
    again.record.statusHistory.map((s) => `${s.status}: ${s.message}`).join(' | '),
  );
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  for (const hook of ['config-changed', 'update-status']) {
    const c = t.checks.length;
    await variant(t, hook); // the next deployMultiHomed rebuilds the topology from scratch
    t.note(`variant ${hook}: ${t.checks.slice(c).filter((x) => !x.ok).length} failed check(s)`);
  }
}
