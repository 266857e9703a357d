// Scenario 1's checks, shared by its automatic-mode and explicit-mode runs: the packed charm's
// install + config-changed on the multi-homed topology, then real traffic.
import { CharmUnit, networksFor } from './charm.mjs';
import { controllerRow, inboundMatrix, outboundMatrix, printable } from './matrix.mjs';
import { probe, startServer } from './probes.mjs';
import { diffSnapshots, resetUnitFiles, snapshot } from './snapshot.mjs';
import { buildTopology, controllerOf, destroyTopology, waitReady } from './topology.mjs';

/**
 * @typedef {import('./context.mjs').Context} Context
 * @typedef {import('./topology.mjs').Topology} Topology
 * @typedef {(space: string) => string | undefined} VrfOf
 */

/**
 * Build the topology, deploy the charm with `config`, return {topo, unit}. `unitOptions` go to
 * CharmUnit (e.g. {fast: true}).
 * @param {Context} t
 * @param {Record<string, string | number | boolean>} config
 * @param {Partial<ConstructorParameters<typeof CharmUnit>[0]>} [unitOptions]
 */
export async function deployMultiHomed(t, config, unitOptions = {}) {
  resetUnitFiles();
  const topo = buildTopology();
  t.defer(() => {
    destroyTopology(topo);
    resetUnitFiles();
  });
  await waitReady(topo);
  const unit = new CharmUnit({
    ns: topo.unit,
    state: { config, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
    ...unitOptions,
  });
  return { topo, unit };
}

/** Scenario 1's gateways as the `gateways` option: every space but mgmt, both families. */
export const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';

/**
 * The packed charm on a host whose links systemd-networkd owns (lib/networkd.mjs): its hooks run in
 * that host's namespaces; install and config-changed must exit 0, active. Returns the unit.
 * @param {Context} t
 * @param {Topology} topo
 * @param {import('./networkd.mjs').NetworkdHost} host
 * @param {Record<string, string | number | boolean>} [config]
 */
export async function deployOnNetworkd(t, topo, host, config = { gateways: GATEWAYS }) {
  const unit = new CharmUnit({
    ns: topo.unit,
    state: { config, networks: networksFor(topo) },
    controller: `${controllerOf(topo).addr}:17070`,
  });
  unit.wrap = host.wrap(unit.charmDir);
  await hookOk(t, unit, 'install');
  await hookOk(t, unit, 'config-changed');
  return unit;
}

/**
 * Run a hook and check it succeeded with an active status.
 * @param {Context} t
 * @param {CharmUnit} unit
 * @param {string} name
 * @param {import('./charm.mjs').DispatchOptions} [opts]
 */
export async function hookOk(t, unit, name, opts) {
  const r = await unit.hook(name, opts);
  const st = r.record.status;
  /** @type {Record<string, number>} */
  const tools = {};
  for (const c of r.record.calls) tools[c.tool] = (tools[c.tool] ?? 0) + 1;
  t.note(
    `${name}: ${r.ms} ms in the unit namespace, ${r.record.calls.length} hook-tool calls ${JSON.stringify(tools)}`,
  );
  t.check(
    `${name}: exit 0, status active`,
    r.exitCode === 0 && st.status === 'active',
    `exit ${r.exitCode}, ${st.status}: ${st.message} (${r.ms}` +
      ` ms)${r.exitCode !== 0 ? ` stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
  );
  return r;
}

/**
 * Runs `hooks` in turn, each checked to exit 0 (stop and remove set no status worth checking).
 * @param {Context} t
 * @param {CharmUnit} unit
 * @param {string[]} hooks
 */
export async function hooksExitOk(t, unit, hooks) {
  for (const hook of hooks) {
    const r = await unit.hook(hook);
    t.check(
      `${hook}: exit 0`,
      r.exitCode === 0,
      `exit ${r.exitCode}, ${r.record.status.status}: ${r.record.status.message}`,
    );
  }
}

/**
 * Checks (as `label`) that namespace `ns` snapshots as `before`; returns the differences.
 * @param {Context} t
 * @param {string} ns
 * @param {import('./snapshot.mjs').Snapshot} before
 * @param {string} label
 */
export function snapshotIsBack(t, ns, before, label) {
  const diff = diffSnapshots(before, snapshot(ns));
  t.check(label, diff.length === 0, diff.slice(0, 8).join(' | '));
  return diff;
}

/**
 * The traffic proofs of scenario 1, with `vrfOf(space)` naming the VRF each space should be in
 * (undefined for the controller's space).
 * @param {Context} t
 * @param {Topology} topo
 * @param {VrfOf} vrfOf
 * @param {{ label?: string }} [options]
 */
export async function trafficChecks(t, topo, vrfOf, { label = '' } = {}) {
  const p = label ? `${label}: ` : '';
  const inbound = await inboundMatrix(topo);
  t.table(`${p}inbound TCP to a 0.0.0.0 service on the unit`, printable(inbound));
  for (const r of inbound)
    t.check(`${p}${r.space} ${r.path} client answered by the unit's ${r.space} address`, r.ok, r.result);
  const inbound6 = await inboundMatrix(topo, { family: 6 });
  for (const r of inbound6.filter((x) => x.path !== 'same L2'))
    t.check(`${p}IPv6: ${r.space} remote client answered`, r.ok, r.result);
  const out = await outboundMatrix(topo, { vrfOf });
  t.table(`${p}outbound from each VRF (ip vrf exec) to its remote peer`, printable(out));
  for (const r of out)
    t.check(`${p}outbound ${r.source} → ${r.destination}, peer sees the space address`, r.ok, r.result);
  const ctl = await controllerRow(topo);
  t.check(`${p}controller reachable from the default VRF`, ctl.ok, ctl.result);
  await noRegression(t, topo, vrfOf, p);
}

/**
 * The three "no regression for the default VRF" proofs of the engine issue.
 * @param {Context} t
 * @param {Topology} topo
 * @param {VrfOf} vrfOf
 * @param {string} [p]
 */
export async function noRegression(t, topo, vrfOf, p = '') {
  for (const s of Object.values(topo.spaces)) {
    if (!vrfOf(s.name)) continue;
    // 1. a default-VRF client reaches a same-subnet peer of every space
    const srv = await startServer({ ns: s.lanNs, name: s.lanNs });
    try {
      const r = probe({ ns: topo.unit, target: s.lanPeer, port: srv.port });
      t.check(
        `${p}default VRF → same-subnet peer of ${s.name} (${s.lanPeer})`,
        r.ok && r.peerSaw === s.unitAddr,
        r.ok ? `peer saw ${r.peerSaw}` : r.error,
      );
    } finally {
      await srv.stop();
    }
    // 2. a service bound to the space address, started after apply, answers a remote client
    const bound = await startServer({ ns: topo.unit, name: `bound-${s.name}`, bind: s.unitAddr }).catch((e) => e);
    if (bound instanceof Error) {
      t.check(`${p}service bound to ${s.unitAddr} starts after apply`, false, bound.message);
    } else {
      try {
        const r = probe({ ns: s.remoteNs, target: s.unitAddr, port: bound.port });
        t.check(
          `${p}service bound to ${s.unitAddr} answers ${s.remoteNs}`,
          r.ok && r.answeredBy === `bound-${s.name}`,
          r.ok ? `saw ${r.peerSaw}` : r.error,
        );
      } finally {
        await bound.stop();
      }
    }
    // 3. a default-VRF client bound to the space address reaches the remote peer via the space's gateway
    const rs = await startServer({ ns: s.remoteNs, name: s.remoteNs });
    try {
      const r = probe({ ns: topo.unit, target: s.remotePeer, port: rs.port, src: s.unitAddr });
      t.check(
        `${p}default-VRF client bound to ${s.unitAddr} → ${s.remotePeer}`,
        r.ok && r.peerSaw === s.unitAddr,
        r.ok ? `peer saw ${r.peerSaw}` : r.error,
      );
    } finally {
      await rs.stop();
    }
  }
}
