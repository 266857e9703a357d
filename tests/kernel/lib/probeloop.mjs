// A background probe loop (guest side): a TCP connect every 200 ms per space — inbound, from the
// space's remote peer `rp-<space>` to the unit's space address, i.e. through that space's gateway
// and the unit's VRF — and to the controller (from the unit's default VRF to `ctl`). Each attempt
// is timestamped, so a scenario can mark events and ask "how many probes failed per target during
// event X" (`loop.mark(name)` … `loop.mark()`; `loop.report()` → rows for t.table).
//
// One small Node process per source namespace (lib/probeloop.guest.mjs) does the connects, so
// 25 connects a second cost no process start each (an `ip netns exec … socat` costs 0.2–1 s under
// TCG). The unit's listener (0.0.0.0, the default VRF: answered from every VRF only with
// net.ipv4.tcp_l3mdev_accept=1, which vrf-host sets) and the controller's run in the same way.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, waitFor } from './exec.mjs';
import { controllerOf, spaceOf } from './topology.mjs';

const GUEST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'probeloop.guest.mjs');
export const PROBE_PORT = 17071;
export const CONTROLLER_PORT = 17070;

/**
 * @typedef {{name: string, t: number, ok: boolean, ms: number, error: string|null}} Attempt
 * @typedef {{name: string, from: number, to: number|null}} Mark
 * @typedef {{sent: number, failed: number, errors: string[]}} Tally
 * @typedef {ReturnType<typeof startProc>} Proc
 */

/**
 * @param {string} ns
 * @param {{ listen?: number[], probes?: { name: string, target: string, port: number }[], everyMs?: number,
 *   timeoutMs?: number }} job what probeloop.guest.mjs reads
 */
function startProc(ns, job) {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, GUEST, JSON.stringify(job)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('close', resolve));
  const p = { ns, child, exited, ready: false, buf: '', err: '', attempts: /** @type {Attempt[]} */ ([]) };
  child.stdout.on('data', (d) => {
    p.buf += d;
    let i;
    while ((i = p.buf.indexOf('\n')) >= 0) {
      const line = p.buf.slice(0, i);
      p.buf = p.buf.slice(i + 1);
      if (line === 'READY') p.ready = true;
      const m = /^P (\S+) (\d+) (ok|fail) (\d+)(?: (.*))?$/.exec(line);
      if (m) {
        const [, name = '', t, outcome, ms, error] = m;
        p.attempts.push({ name, t: Number(t), ok: outcome === 'ok', ms: Number(ms), error: error ?? null });
      }
    }
  });
  child.stderr.on('data', (d) => {
    p.err += d;
  });
  return p;
}

/**
 * Start the loop on a topology (lib/topology.mjs): targets `<space>` (inbound from rp-<space>) for
 * every space in `spaces` (default all) and `controller`.
 * @param {import('./topology.mjs').Topology} topo
 * @param {{spaces?: string[], everyMs?: number, timeoutMs?: number}} [o]
 *   timeoutMs: a connect not answered within it counts as failed (default 1000)
 */
export async function startProbeLoop(
  topo,
  { spaces = Object.keys(topo.spaces), everyMs = 200, timeoutMs = 1000 } = {},
) {
  /** @type {Proc[]} */
  const procs = [];
  const ctl = controllerOf(topo);
  procs.push(startProc(ctl.ns, { listen: [CONTROLLER_PORT] }));
  procs.push(
    startProc(topo.unit, {
      listen: [PROBE_PORT],
      probes: [{ name: 'controller', target: ctl.addr, port: CONTROLLER_PORT }],
      everyMs,
      timeoutMs,
    }),
  );
  for (const sp of spaces) {
    const s = spaceOf(topo, sp);
    procs.push(
      startProc(s.remoteNs, { probes: [{ name: sp, target: s.unitAddr, port: PROBE_PORT }], everyMs, timeoutMs }),
    );
  }
  const ok = await waitFor(() => procs.every((p) => p.ready || p.child.exitCode !== null), {
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  const dead = procs.filter((p) => !p.ready);
  if (!ok || dead.length) {
    for (const p of procs) p.child.kill('SIGKILL');
    throw new Error(`probe loop did not start in ${dead.map((p) => `${p.ns}: ${p.err.trim()}`).join('; ')}`);
  }
  return new ProbeLoop(procs, ['controller', ...spaces], everyMs, timeoutMs);
}

export class ProbeLoop {
  /**
   * @param {Proc[]} procs
   * @param {string[]} targets
   * @param {number} everyMs
   * @param {number} timeoutMs
   */
  constructor(procs, targets, everyMs, timeoutMs) {
    this.timeoutMs = timeoutMs;
    this.procs = procs;
    /** target names: 'controller' and the spaces */
    this.targets = targets;
    this.everyMs = everyMs;
    /** @type {Mark[]} */
    this.marks = [];
    this.startedAt = Date.now();
  }

  /** Every attempt so far, in start order. @returns {Attempt[]} */
  attempts() {
    return this.procs.flatMap((p) => p.attempts).sort((a, b) => a.t - b.t);
  }

  /**
   * Start an event window named `name` (ends the previous one; none: only ends it).
   * @param {string} [name]
   */
  mark(name) {
    const now = Date.now();
    const open = this.marks.at(-1);
    if (open && open.to === null) open.to = now;
    if (name) this.marks.push({ name, from: now, to: null });
  }

  /** Wait until every prober has reported the attempts started before now (+ its timeout). */
  async settle() {
    await sleep(this.timeoutMs + 300);
  }

  /**
   * Attempts started in [from, to) per target.
   * @param {number} from
   * @param {number} [to]
   * @returns {Record<string, Tally>}
   */
  window(from, to = Date.now()) {
    /** @type {Record<string, Tally>} */
    const out = Object.fromEntries(this.targets.map((n) => [n, { sent: 0, failed: 0, errors: [] }]));
    for (const a of this.attempts()) {
      const tally = out[a.name];
      if (a.t < from || a.t >= to || !tally) continue;
      tally.sent += 1;
      if (!a.ok) {
        tally.failed += 1;
        const error = a.error ?? 'failed';
        if (!tally.errors.includes(error)) tally.errors.push(error);
      }
    }
    return out;
  }

  /** The attempts of the last `ms` whose outcome must be known by now (started over timeoutMs ago). */
  recent(ms = 1000) {
    const end = Date.now() - this.timeoutMs - 200;
    return this.window(end - ms, end);
  }

  /**
   * Wait until every target answered every attempt for `forMs` in a row.
   * @returns {Promise<boolean>} false if that did not happen within timeoutMs
   */
  async allAnswer({ forMs = 1000, timeoutMs = 30_000 } = {}) {
    const ok = await waitFor(() => Object.values(this.recent(forMs)).every((x) => x.sent > 0 && x.failed === 0), {
      timeoutMs,
      intervalMs: 250,
    });
    return Boolean(ok);
  }

  /**
   * Failed probes per target for the mark named `name`.
   * @param {string} name
   */
  failed(name) {
    const m = this.marks.find((x) => x.name === name);
    if (!m) throw new Error(`no probe-loop mark ${name}`);
    return this.window(m.from, m.to ?? Date.now());
  }

  /**
   * One row per mark: event, seconds, then `failed/sent` per target (for t.table).
   * @returns {Array<Record<string, string>>}
   */
  report() {
    return this.marks.map((m) => {
      const w = this.window(m.from, m.to ?? Date.now());
      /** @type {Record<string, string>} */
      const row = { event: m.name, s: (((m.to ?? Date.now()) - m.from) / 1000).toFixed(1) };
      for (const n of this.targets) row[n] = `${w[n]?.failed}/${w[n]?.sent}`;
      return row;
    });
  }

  /** Stop every prober and listener. */
  async stop() {
    this.mark();
    for (const p of this.procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(this.procs.map((p) => p.exited)), sleep(5000)]);
    for (const p of this.procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
}
