// Connectivity matrices for scenario 1 (and the lab): per space, inbound to a 0.0.0.0 service on
// the unit from the remote peer and from the same-subnet peer, and outbound from the unit.
import { probe, startServer } from './probes.mjs';

/**
 * Inbound matrix: a TCP server on the unit listening on 0.0.0.0 (default VRF), probed from every
 * space's remote peer and same-subnet peer.
 * @returns {Promise<Array<{space: string, source: string, destination: string, path: string, result: string, ok: boolean, peerSaw: string|null}>>}
 */
export async function inboundMatrix(topo, { family = 4 } = {}) {
  const srv = await startServer({ ns: topo.unit, name: 'unit', bind: family === 6 ? '::' : '0.0.0.0', family });
  try {
    const rows = [];
    for (const s of Object.values(topo.spaces)) {
      const dst = family === 6 ? s.unitAddr6 : s.unitAddr;
      for (const [who, ns, src] of [
        ['remote', s.remoteNs, family === 6 ? s.remotePeer6 : s.remotePeer],
        ['same-subnet', s.lanNs, family === 6 ? s.lanPeer6 : s.lanPeer],
      ]) {
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
 */
export async function outboundMatrix(topo, { vrfOf = () => undefined, family = 4, bindSrc = false } = {}) {
  const rows = [];
  for (const s of Object.values(topo.spaces)) {
    const target = family === 6 ? s.remotePeer6 : s.remotePeer;
    const expectSrc = family === 6 ? s.unitAddr6 : s.unitAddr;
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

/** The controller probe from the unit's default VRF. */
export async function controllerRow(topo, { family = 4 } = {}) {
  const c = topo.controller;
  const target = family === 6 ? c.addr6 : c.addr;
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

/** Rows without the helper fields, for printing. */
export const printable = (rows) => rows.map(({ ok, peerSaw: _p, ...r }) => ({ ...r, ok: ok ? 'yes' : 'NO' }));
