// Connectivity matrices for scenario 1 (and the lab): per space, inbound to a 0.0.0.0 service on
// the unit from the remote peer and from the same-subnet peer, and outbound from the unit.
import { probe, startServer } from './probes.mjs';

/**
 * @typedef {import('./topology.mjs').Topology} Topology
 * @typedef {import('./topology.mjs').Space} Space
 * @typedef {{space: string, source: string, destination: string, path: string, result: string, ok: boolean,
 *   peerSaw: string|null}} MatrixRow
 */

/**
 * A space's addresses of one family (IPv6 only in a topology built with it).
 * @param {Space} s
 * @param {4 | 6} family
 */
function addressesOf(s, family) {
  if (family === 4) return { unit: s.unitAddr, remotePeer: s.remotePeer, lanPeer: s.lanPeer };
  if (!s.unitAddr6 || !s.remotePeer6 || !s.lanPeer6) throw new Error(`space ${s.name} has no IPv6 addresses`);
  return { unit: s.unitAddr6, remotePeer: s.remotePeer6, lanPeer: s.lanPeer6 };
}

/**
 * Inbound matrix: a TCP server on the unit listening on 0.0.0.0 (default VRF), probed from every
 * space's remote peer and same-subnet peer.
 * @param {Topology} topo
 * @param {{ family?: 4 | 6 }} [options]
 * @returns {Promise<MatrixRow[]>}
 */
export async function inboundMatrix(topo, { family = 4 } = {}) {
  const srv = await startServer({ ns: topo.unit, name: 'unit', bind: family === 6 ? '::' : '0.0.0.0', family });
  try {
    /** @type {MatrixRow[]} */
    const rows = [];
    for (const s of Object.values(topo.spaces)) {
      const a = addressesOf(s, family);
      const dst = a.unit;
      /** @type {[string, string, string][]} */
      const clients = [
        ['remote', s.remoteNs, a.remotePeer],
        ['same-subnet', s.lanNs, a.lanPeer],
      ];
      for (const [who, ns, src] of clients) {
        const r = probe({ ns, target: dst, port: srv.port });
        rows.push({
          space: s.name,
          source: `${ns} ${src}`,
          destination: `unit ${dst}:${srv.port} (${family === 6 ? '::' : '0.0.0.0'})`,
          path: who === 'remote' ? `via ${s.gwNs}` : 'same L2',
          result: r.ok ? `answered, saw ${r.peerSaw}` : `FAIL ${r.error}`,
          ok: r.ok && r.peerSaw === src && r.local === dst,
          peerSaw: r.peerSaw,
        });
      }
    }
    return rows;
  } finally {
    await srv.stop();
  }
}

/**
 * Outbound matrix: from the unit (inside `vrfOf(space)` when given, else the default VRF) to each
 * space's remote peer; the peer reports the source address it saw.
 * @param {Topology} topo
 * @param {{ vrfOf?: (space: string) => string | undefined, family?: 4 | 6, bindSrc?: boolean }} [options]
 * @returns {Promise<MatrixRow[]>}
 */
export async function outboundMatrix(topo, { vrfOf = () => undefined, family = 4, bindSrc = false } = {}) {
  /** @type {MatrixRow[]} */
  const rows = [];
  for (const s of Object.values(topo.spaces)) {
    const a = addressesOf(s, family);
    const target = a.remotePeer;
    const expectSrc = a.unit;
    const srv = await startServer({ ns: s.remoteNs, name: s.remoteNs, family });
    try {
      const vrf = vrfOf(s.name);
      const r = probe({ ns: topo.unit, vrf, target, port: srv.port, src: bindSrc ? expectSrc : undefined });
      rows.push({
        space: s.name,
        source: `unit${vrf ? ` (vrf ${vrf})` : ''}${bindSrc ? ` bound ${expectSrc}` : ''}`,
        destination: `${s.remoteNs} ${target}:${srv.port}`,
        path: `via ${s.gwNs}`,
        result: r.ok ? `answered, peer saw ${r.peerSaw}` : `FAIL ${r.error}`,
        ok: r.ok && r.peerSaw === expectSrc,
        peerSaw: r.peerSaw,
      });
    } finally {
      await srv.stop();
    }
  }
  return rows;
}

/**
 * The controller probe from the unit's default VRF.
 * @param {Topology} topo
 * @param {{ family?: 4 | 6 }} [options]
 * @returns {Promise<MatrixRow>}
 */
export async function controllerRow(topo, { family = 4 } = {}) {
  const c = topo.controller;
  if (!c) throw new Error('the topology has no controller');
  const target = family === 6 ? c.addr6 : c.addr;
  if (!target) throw new Error('the topology has no IPv6 controller address');
  const srv = await startServer({ ns: c.ns, name: 'controller', family });
  try {
    const r = probe({ ns: topo.unit, target, port: srv.port });
    return {
      space: c.behind,
      source: 'unit (default VRF)',
      destination: `controller ${target}:${srv.port}`,
      path: `via gw-${c.behind}`,
      result: r.ok ? `answered, saw ${r.peerSaw}` : `FAIL ${r.error}`,
      ok: r.ok,
      peerSaw: r.peerSaw,
    };
  } finally {
    await srv.stop();
  }
}

/**
 * Rows without the helper fields, for printing.
 * @param {readonly MatrixRow[]} rows
 */
export const printable = (rows) => rows.map(({ ok, peerSaw: _p, ...r }) => ({ ...r, ok: ok ? 'yes' : 'NO' }));
