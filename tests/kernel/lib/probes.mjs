// Traffic probes with socat: who answered, and which address the other side saw.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { inNs, run, startBackground, waitFor } from './exec.mjs';

const ANSWER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin', 'answer');
let nextPort = 20000;
/** A fresh port per server, so that leftovers never answer for a later probe. */
export function freshPort() {
  nextPort += 1;
  return nextPort;
}

/**
 * RFC 5952 / dotted-quad form, so that addresses compare as strings.
 * @param {string} a
 */
export function canonical(a) {
  return ipaddr.isValid(a) ? ipaddr.parse(a).toString() : a;
}

/** @param {string} a */
const fmtAddr = (a) => (a.includes(':') ? `[${a}]` : a);

/**
 * argv that runs `argv` inside namespace ns, and inside VRF `vrf` there (ip vrf exec) when given.
 * @param {string | null | undefined} ns
 * @param {string | null | undefined} vrf
 * @param {readonly string[]} argv
 */
export function withVrf(ns, vrf, argv) {
  return inNs(ns, vrf ? ['ip', 'vrf', 'exec', vrf, ...argv] : argv);
}

/**
 * @typedef {{ns: string, name?: string, proto?: 'tcp'|'udp', bind?: string | undefined, port?: number,
 *   vrf?: string | null | undefined, family?: 4|6}} ServerOptions
 * @typedef {{ns: string, target: string, port: number, proto?: 'tcp'|'udp', vrf?: string | null | undefined,
 *   src?: string | undefined, timeoutMs?: number, attempts?: number}} ProbeOptions
 * @typedef {{ok: boolean, answeredBy: string|null, peerSaw: string|null, local: string|null, ms: number,
 *   tries: number, error: string|null}} ProbeResult
 */

/**
 * Start a socat server in `ns` that answers each connection with its name and the peer it saw.
 * @param {ServerOptions} o
 */
export async function startServer({ ns, name = ns, proto = 'tcp', bind, port = freshPort(), vrf, family = 4 }) {
  const fam = family === 6 ? '6' : '4';
  const opts = ['reuseaddr', 'fork'];
  if (bind) opts.push(`bind=${bind}`);
  const addr =
    proto === 'tcp' ? `TCP${fam}-LISTEN:${port},${opts.join(',')}` : `UDP${fam}-RECVFROM:${port},${opts.join(',')}`;
  const argv = withVrf(ns, vrf, ['socat', addr, `EXEC:${ANSWER} ${name}`]);
  const h = startBackground(argv);
  const ssFlag = proto === 'tcp' ? '-Hltn' : '-Hlun';
  const listening = await waitFor(
    () => {
      const r = run(inNs(ns, ['ss', ssFlag, `sport = :${port}`]), { allowFail: true });
      return r.code === 0 && r.stdout.trim() !== '';
    },
    { timeoutMs: 10_000 },
  );
  if (!listening) {
    await h.stop();
    throw new Error(`server ${name} in ${ns} did not listen on ${proto}/${port}: ${h.output()}`);
  }
  return { ...h, ns, name, proto, port, bind, vrf };
}

/**
 * Connect from `ns` (optionally in VRF `vrf`, optionally bound to `src`) to target:port.
 * @param {ProbeOptions} o
 * @returns {ProbeResult} answeredBy = the server's name; peerSaw = the client address the server saw (no port);
 *   local = the server's address.
 */
export function probe({ ns, target, port, proto = 'tcp', vrf, src, timeoutMs = 4000, attempts = 2 }) {
  const fam = target.includes(':') ? '6' : '4';
  /** @type {string[]} */
  const opts = [];
  if (proto === 'tcp') opts.push(`connect-timeout=${Math.max(1, Math.floor(timeoutMs / 1000) - 1)}`);
  if (src) opts.push(`bind=${src}`);
  const addr = `${proto.toUpperCase()}${fam}:${fmtAddr(target)}:${port}${opts.length ? `,${opts.join(',')}` : ''}`;
  const secs = String(Math.max(1, Math.floor(timeoutMs / 1000)));
  // -t: after our hello is sent (stdin EOF), wait this long for the answer; -T: idle timeout.
  const argv = withVrf(ns, vrf, ['socat', '-t', String(Number(secs) * 2), '-T', String(Number(secs) * 2), '-', addr]);
  /** @type {import('./exec.mjs').RunResult} */
  let r;
  let tries = 0;
  for (;;) {
    tries += 1;
    r = run(argv, { input: 'hello\n', allowFail: true, timeoutMs: timeoutMs * 2 + 3000 });
    // A connection that was made but brought no answer is a slow guest, not a routing verdict: retry
    // it. A refused or timed-out connect is a verdict.
    if (/ANSWER /.test(r.stdout) || r.code !== 0 || tries >= attempts) break;
  }
  const m = /ANSWER name=(\S+) peer=(\S+) local=(\S+)/.exec(r.stdout);
  if (!m) {
    return {
      ok: false,
      answeredBy: null,
      peerSaw: null,
      local: null,
      ms: r.ms,
      tries,
      error: (r.stderr.trim() || `exit ${r.code}, no answer`).split('\n').at(-1) ?? null,
    };
  }
  /** @param {string} s */
  const stripPort = (s) => canonical(s.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''));
  const [, name = '', peer = '', local = ''] = m;
  return {
    ok: true,
    answeredBy: name,
    peerSaw: stripPort(peer),
    local: stripPort(local),
    ms: r.ms,
    tries,
    error: null,
  };
}

/**
 * Start a server, probe it once, stop it.
 * @param {{ server: ServerOptions, client: Omit<ProbeOptions, 'port' | 'proto'> }} o
 */
export async function probeOnce({ server, client }) {
  const srv = await startServer(server);
  try {
    return probe({ ...client, port: srv.port, proto: srv.proto });
  } finally {
    await srv.stop();
  }
}

/**
 * ping -c1 from ns (optionally in a VRF).
 * @param {{ ns: string, target: string, vrf?: string | null, timeoutS?: number }} o
 */
export function ping({ ns, target, vrf, timeoutS = 2 }) {
  const argv = withVrf(ns, vrf, ['ping', '-n', '-c', '1', '-W', String(timeoutS), target]);
  return run(argv, { allowFail: true, timeoutMs: (timeoutS + 3) * 1000 }).code === 0;
}

/**
 * tx/rx packet counters of a device in a namespace.
 * @param {string} ns
 * @param {string} dev
 * @returns {{ rx: number, tx: number }}
 */
export function counters(ns, dev) {
  const r = run(['ip', '-n', ns, '-json', '-s', 'link', 'show', 'dev', dev]);
  /** @type {{ stats64: { rx: { packets: number }, tx: { packets: number } } }} */
  const l = JSON.parse(r.stdout)[0];
  return { rx: l.stats64.rx.packets, tx: l.stats64.tx.packets };
}
