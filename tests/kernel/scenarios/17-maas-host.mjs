// Scenario 6, a MAAS-deployed host: MAAS's netplan gives every subnet its own source-routing table
// (table N: a default via the subnet's gateway; `from SUBNET lookup N` at priority 100), and the
// only main-table default goes via mgmt. With no `gateways` config, vrf-host derives each VRF's
// gateway from those tables (show-vrfs names the source `policy-table`), migrates the rules of the
// enslaved subnets away while the VRFs exist (they would route around the VRF), leaves mgmt's, and
// traffic works through every space. stop + remove put the rules back: the full snapshot equals the
// one before install.
// Two more things on the converged host, before stop:
//  - MAAS's rule and table route for storage come back as systemd-networkd re-adds them when it
//    reconfigures the link (`from 10.10.4.0/24 lookup 2 pref 100`, `default via 10.10.4.1 table 2`):
//    storage's same-subnet and remote clients must still be answered with no hook run (vrf-host's
//    `to ADDRESS lookup VRFTABLE` at 98 delivers ahead of it), and the next update-status must
//    take the rule away again with traffic working after it;
//  - another policy-routing manager (charm-advanced-routing's networkd-dispatcher script) appears:
//    config-changed is Blocked naming it and changes nothing; once it is gone, the host converges.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { ipBatch, ipJson, ipn } from '../lib/exec.mjs';
import { CharmUnit, networksFor } from '../lib/charm.mjs';
import { controllerRow, inboundMatrix, outboundMatrix, printable } from '../lib/matrix.mjs';
import { probe, startServer } from '../lib/probes.mjs';
import { hookOk, hooksExitOk, snapshotIsBack } from '../lib/scenario1.mjs';
import { diffSnapshots, resetUnitFiles, snapshot } from '../lib/snapshot.mjs';
import { MULTI_HOMED, buildTopology, controllerOf, destroyTopology, spaceOf, waitReady } from '../lib/topology.mjs';

export const name = 'maas-host';
export const description =
  'MAAS source-routing tables 1..N: gateways derived from them, rules migrated while the VRFs exist, restored on remove';
export const needsCharm = true;
export const timeoutMs = 12 * 60_000;

const VRF_SPACES = ['public', 'storage', 'storage-cluster'];
/** @param {string} sp */
const VRF_OF = (sp) => (VRF_SPACES.includes(sp) ? sp : undefined);

/**
 * MAAS's source routing: table i+1 per space, in the order of the spec (mgmt = table 1).
 * @param {import('../lib/topology.mjs').Topology} topo
 */
function maasTables(topo) {
  return Object.values(topo.spaces).map((s, i) => ({
    space: s.name,
    table: i + 1,
    cidr: s.cidr,
    gateway: s.gateway,
    dev: s.dev,
  }));
}

/**
 * The unit's IPv4 rules at priority 100 as "from CIDR lookup N".
 * @param {string} ns
 * @returns {string[]}
 */
function maasRules(ns) {
  return ipJson(ns, '-4', 'rule', 'show')
    .filter((r) => r.priority === 100)
    .map((r) => `from ${r.src}/${r.srclen ?? 32} lookup ${r.table}`)
    .sort();
}

/**
 * @param {string} ns
 * @param {string | number} table
 */
const tableDefault = (ns, table) => ipJson(ns, '-4', 'route', 'show', 'table', String(table), 'default');

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  resetUnitFiles();
  const topo = buildTopology(MULTI_HOMED, { ipv6: false });
  t.defer(() => {
    destroyTopology(topo);
    resetUnitFiles();
  });
  const tables = maasTables(topo);
  /** @type {string[][]} */
  const lines = [];
  for (const m of tables) {
    lines.push(['route', 'add', 'default', 'via', m.gateway, 'dev', m.dev, 'table', String(m.table)]);
    lines.push(['rule', 'add', 'from', m.cidr, 'lookup', String(m.table), 'priority', '100']);
  }
  ipBatch(topo.unit, lines);
  await waitReady(topo);
  const mainDefaults = ipJson(topo.unit, '-4', 'route', 'show', 'default');
  t.check(
    'before: the only main-table default goes via mgmt',
    mainDefaults.length === 1 && mainDefaults[0].dev === spaceOf(topo, 'mgmt').dev,
    JSON.stringify(mainDefaults),
  );
  const rulesBefore = maasRules(topo.unit);
  t.note(`MAAS rules: ${rulesBefore.join('; ')}`);
  t.check(
    `before: ${tables.length} MAAS rules at priority 100`,
    rulesBefore.length === tables.length,
    rulesBefore.join('; '),
  );
  // MAAS's source routing alone already lets every space answer its own subnet and remote clients;
  // here the same-subnet peer of mgmt (the space that stays in main) as a baseline.
  const base = await startServer({ ns: topo.unit, name: 'unit' });
  try {
    const m = spaceOf(topo, 'mgmt');
    const r = probe({ ns: m.lanNs, target: m.unitAddr, port: base.port });
    t.check(
      `before: ${m.lanNs} (same subnet as mgmt) reaches a 0.0.0.0 service on the unit`,
      r.ok && r.peerSaw === m.lanPeer,
      r.ok ? `saw ${r.peerSaw}` : r.error,
    );
  } finally {
    await base.stop();
  }
  const before = snapshot(topo.unit);

  const unit = new CharmUnit({
    ns: topo.unit,
    state: { config: {}, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
  });
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');

  const vrfs = Object.fromEntries(
    ipJson(topo.unit, '-details', 'link', 'show', 'type', 'vrf').map((l) => [l.ifname, l.linkinfo?.info_data?.table]),
  );
  t.check(
    'VRFs public, storage, storage-cluster exist (no mgmt VRF)',
    JSON.stringify(Object.keys(vrfs).sort()) === JSON.stringify(VRF_SPACES),
    JSON.stringify(vrfs),
  );
  for (const m of tables) {
    if (!VRF_OF(m.space)) continue;
    const table = vrfs[m.space];
    t.check(
      `VRF ${m.space} has its own table, not MAAS's table ${m.table}`,
      table !== undefined && !tables.some((x) => x.table === table),
      `table ${table}`,
    );
    const d = table === undefined ? [] : tableDefault(topo.unit, table);
    t.check(
      `VRF ${m.space} (table ${table}): default via ${m.gateway} (from MAAS table ${m.table})`,
      d.some((r) => r.gateway === m.gateway),
      JSON.stringify(d),
    );
  }

  const show = await unit.action('show-vrfs');
  const res = show.record.actionResults ?? {};
  t.check('show-vrfs: exit 0', show.exitCode === 0, `exit ${show.exitCode} ${show.record.actionFailure ?? ''}`);
  for (const m of tables) {
    if (!VRF_OF(m.space)) continue;
    const src = res[`vrfs.${m.space}.ipv4.source`];
    const gw = res[`vrfs.${m.space}.ipv4.gateway`];
    t.check(
      `show-vrfs: ${m.space}'s IPv4 gateway ${m.gateway} comes from the MAAS table (policy-table)`,
      src === 'policy-table' && gw === m.gateway,
      `${gw} (${src}) ${res[`vrfs.${m.space}.ipv4.detail`] ?? ''}`,
    );
  }

  const rulesDuring = maasRules(topo.unit);
  for (const m of tables) {
    const rule = `from ${m.cidr} lookup ${m.table}`;
    if (VRF_OF(m.space))
      t.check(
        `while the VRFs exist, MAAS's rule "${rule}" (${m.space}) is gone`,
        !rulesDuring.includes(rule),
        rulesDuring.join('; '),
      );
    else t.check(`mgmt (not a VRF) keeps its MAAS rule "${rule}"`, rulesDuring.includes(rule), rulesDuring.join('; '));
  }
  // (Enslaving a device drops the routes via it in every table, MAAS's included: vrf-host keeps
  // them in its ledger and puts them back on removal — the final snapshot comparison proves it.)
  t.note(
    `MAAS tables while the VRFs exist: ${tables
      .map(
        (m) =>
          `${m.table} (${m.space}): ${
            tableDefault(topo.unit, m.table)
              .map((r) => `default via ${r.gateway}`)
              .join(', ') || 'empty'
          }`,
      )
      .join('; ')}`,
  );
  t.note(
    `ip rule while the VRFs exist: ${ipJson(topo.unit, '-4', 'rule', 'show')
      .map(
        (r) =>
          `${r.priority}: from ${r.src}${r.srclen ? `/${r.srclen}` : ''} ${r.l3mdev !== undefined ? 'l3mdev' : `lookup ${r.table}`}`,
      )
      .join('; ')}`,
  );

  const inbound = await inboundMatrix(topo);
  t.table('inbound TCP to a 0.0.0.0 service on the unit', printable(inbound));
  for (const r of inbound)
    t.check(`${r.space} ${r.path} client answered by the unit's ${r.space} address`, r.ok, r.result);
  const outbound = await outboundMatrix(topo, { vrfOf: VRF_OF });
  t.table('outbound from each VRF (ip vrf exec) to its remote peer', printable(outbound));
  for (const r of outbound)
    t.check(`outbound ${r.source} → ${r.destination}, peer sees the space address`, r.ok, r.result);
  const ctl = await controllerRow(topo);
  t.check('controller reachable from the default VRF', ctl.ok, ctl.result);

  // ---- networkd re-adds MAAS's storage rule and route ------------------------------------------
  const st = tables.find((m) => m.space === 'storage');
  if (!st) throw new Error('no MAAS table for storage');
  const srv = await startServer({ ns: topo.unit, name: 'unit' });
  /** @returns {[string, import('../lib/probes.mjs').ProbeResult][]} */
  const storageClients = () => {
    const sp = spaceOf(topo, 'storage');
    return [
      ['same-subnet', probe({ ns: sp.lanNs, target: sp.unitAddr, port: srv.port })],
      ['remote', probe({ ns: sp.remoteNs, target: sp.unitAddr, port: srv.port })],
    ];
  };
  try {
    const re = ipBatch(
      topo.unit,
      [
        ['rule', 'add', 'from', st.cidr, 'lookup', String(st.table), 'priority', '100'],
        ['route', 'add', 'default', 'via', st.gateway, 'dev', st.dev, 'table', String(st.table)],
      ],
      { allowFail: true },
    );
    t.note(`re-adding MAAS's storage rule and route: exit ${re.code} ${re.stderr}`.trim());
    // vrf-host's delivery rule for the unit's storage address sits ahead of it (pref 98): the
    // same-subnet peer (whose packets and ARP requests match MAAS's rule) is still answered.
    const delivery = ipJson(topo.unit, '-4', 'rule', 'show')
      .filter((r) => r.priority === 98)
      .map((r) => `to ${r.dst}/${r.dstlen ?? 32} lookup ${r.table}`);
    t.check(
      "a delivery rule for the unit's storage address sits ahead of MAAS's rule",
      // ip names the table after rt_tables.d (vrf-host names its tables after the VRFs)
      [String(vrfs.storage), 'storage'].some((tb) =>
        delivery.includes(`to ${spaceOf(topo, 'storage').unitAddr}/32 lookup ${tb}`),
      ),
      delivery.join('; ') || 'none',
    );
    ipn(topo.unit, 'neigh', 'flush', 'dev', st.dev); // ARP must resolve through the rules again
    ipn(spaceOf(topo, 'storage').lanNs, 'neigh', 'flush', 'all');
    for (const [path, r] of storageClients())
      t.check(
        `with MAAS's "from ${st.cidr} lookup ${st.table}" re-added at 100 (as networkd does), no hook run: storage ${path} client answered`,
        r.ok,
        r.ok ? `saw ${r.peerSaw}` : r.error,
      );
    const heal = await hookOk(t, unit, 'update-status');
    t.note(`update-status after the re-added rule: ${heal.record.status.message}`);
    t.check(
      "update-status takes MAAS's re-added storage rule away again",
      !maasRules(topo.unit).includes(`from ${st.cidr} lookup ${st.table}`),
      maasRules(topo.unit).join('; '),
    );
    for (const [path, r] of storageClients())
      t.check(`after update-status: storage ${path} client answered`, r.ok, r.ok ? `saw ${r.peerSaw}` : r.error);
  } finally {
    await srv.stop();
  }

  // ---- another policy-routing manager ------------------------------------------------------------
  const other = '/etc/networkd-dispatcher/routable.d/95-juju_routing';
  mkdirSync('/etc/networkd-dispatcher/routable.d', { recursive: true });
  writeFileSync(other, '#!/bin/sh\n');
  t.defer(() => rmSync(other, { force: true }));
  // Work the next hook would do: storage's VRF default route gone.
  ipn(topo.unit, 'route', 'del', 'default', 'table', String(vrfs.storage));
  const drifted = snapshot(topo.unit);
  const blocked = await unit.hook('config-changed');
  const bst = blocked.record.status;
  t.check(
    'with charm-advanced-routing on the host config-changed is Blocked, naming it and its file',
    blocked.exitCode === 0 &&
      bst.status === 'blocked' &&
      bst.message.startsWith(`charm-advanced-routing manages policy routing on this host (${other})`),
    `exit ${blocked.exitCode}, ${bst.status}: ${bst.message}`,
  );
  const unchanged = diffSnapshots(drifted, snapshot(topo.unit));
  t.check(
    'and nothing was applied (the drift is still there)',
    unchanged.length === 0,
    unchanged.slice(0, 4).join(' | '),
  );
  rmSync(other, { force: true });
  await hookOk(t, unit, 'config-changed');
  t.check(
    'once it is gone, config-changed heals storage',
    tableDefault(topo.unit, vrfs.storage).filter((r) => r.gateway !== undefined).length === 1,
    JSON.stringify(tableDefault(topo.unit, vrfs.storage)),
  );

  await hooksExitOk(t, unit, ['stop', 'remove']);
  const rulesAfter = maasRules(topo.unit);
  t.check(
    'after remove the MAAS rules are back exactly',
    JSON.stringify(rulesAfter) === JSON.stringify(rulesBefore),
    rulesAfter.join('; '),
  );
  snapshotIsBack(t, topo.unit, before, 'after stop + remove the snapshot equals the one before install');
}
