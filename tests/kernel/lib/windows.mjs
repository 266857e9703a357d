// Judging the probe loop's losses during an event by what networkd itself had away (guest side).
// A probe that failed while networkd had a link, address or default route of its target's path
// away (lib/hostwatch.mjs: the kernel's own account, `ip -ts monitor`) is excused; every other
// lost probe is unexplained, and a scenario asserts there are none. A count would measure TCG load
// as much as the host's behaviour; the windows say what networkd took away and for how long.
//
// Everything here but `unexplained` and `runJudgedEvent` is pure; `unexplained` only reads the loop
// and the watch and writes notes.
import { near, startHostWatch } from './hostwatch.mjs';
import { runEvent } from './ndevents.mjs';

/**
 * @typedef {import('./probeloop.mjs').Attempt} Attempt
 * @typedef {import('./probeloop.mjs').Tally} Tally
 * @typedef {import('./hostwatch.mjs').Interval} Interval
 * @typedef {import('./topology.mjs').Topology} Topology
 * @typedef {{dst?: string, dev?: string, gateway?: string, table?: string}} RouteRow  `ip -4 -json route show table all`
 * @typedef {{key: string, intervals: Interval[]}} KeyWindows  the seconds one key was absent
 * @typedef {Tally & {lost: number, windows: KeyWindows[], outside: Attempt[]}} Judged
 *   failed: the probes lost outside every window (what a scenario asserts is 0); lost: all lost
 */

/**
 * What each probe target's path needs, as hostwatch keys: the NICs under its device (a VLAN's are
 * those of the space it is a trunk of), the unit's address in its space, and the IPv4 default
 * route its replies take: main's for the default space and the controller, its VRF's table's (the
 * table of the default route through its device, read from `routes`) for every other space.
 * @param {Topology} topo
 * @param {readonly RouteRow[]} routes the host's IPv4 routes of every table, now
 * @returns {Record<string, string[]>} target → keys
 */
export function pathNeeds(topo, routes) {
  /** @param {import('./topology.mjs').Space} s */
  const nics = (s) => {
    const trunk = s.trunkOf ? topo.spaces[s.trunkOf] : undefined;
    return (s.nics.length ? s.nics : (trunk?.nics ?? [])).map((n) => `link:${n}`);
  };
  /** @type {Record<string, string[]>} */
  const out = {};
  for (const s of Object.values(topo.spaces)) {
    let table = 'main';
    if (s.name !== topo.defaultSpace) {
      const r = routes.find((x) => x.dst === 'default' && x.dev === s.dev && x.gateway && x.table);
      if (!r?.table) throw new Error(`no IPv4 default route of a VRF's table through ${s.dev} (space ${s.name})`);
      table = r.table;
    }
    out[s.name] = [...nics(s), `addr:${s.unitAddr}`, `default4:${table}`];
  }
  const mgmt = out[topo.defaultSpace];
  if (topo.controller && mgmt) out.controller = [...mgmt];
  return out;
}

/**
 * Each target's attempts started in [from, to), judged by the seconds its keys were absent, each
 * window widened by `margin` (the probe's connect timeout) on both sides; a window still open at
 * `to` excuses nothing (near()).
 * @param {{attempts: readonly Attempt[], targets: readonly string[], from: number, to: number,
 *   keys: Readonly<Record<string, readonly string[]>>, absent: (key: string) => Interval[], margin: number}} o
 * @returns {Record<string, Judged>}
 */
export function judge({ attempts, targets, from, to, keys, absent, margin }) {
  /** @type {Record<string, Judged>} */
  const out = {};
  for (const n of targets) {
    const windows = (keys[n] ?? []).map((key) => ({ key, intervals: absent(key) })).filter((x) => x.intervals.length);
    const all = windows.flatMap((x) => x.intervals);
    const tries = attempts.filter((a) => a.name === n && a.t >= from && a.t < to);
    const lost = tries.filter((a) => !a.ok);
    const outside = lost.filter((a) => !near(all, a.t, margin));
    out[n] = {
      sent: tries.length,
      failed: outside.length,
      errors: [...new Set(outside.map((a) => a.error ?? 'failed'))],
      lost: lost.length,
      windows,
      outside,
    };
  }
  return out;
}

/**
 * One line per target: how many it lost inside its windows (ms from `from`) and how many outside.
 * @param {Readonly<Record<string, Judged>>} judged
 * @param {number} from
 */
export function windowsNote(judged, from) {
  return Object.entries(judged)
    .map(([n, j]) => {
      const ms = j.windows.map(
        (x) => `${x.key} ${x.intervals.map((i) => `+${i.from - from}..+${i.to - from}`).join(',')}`,
      );
      return `${n}: ${j.lost - j.failed} lost inside [${ms.join('; ') || 'none'}], ${j.failed} outside`;
    })
    .join(' | ');
}

/**
 * The kernel's messages (hostwatch's `raw`, `MS rest`) within `spanMs` of `t`, ms from `from`.
 * @param {readonly string[]} raw
 * @param {number} t
 * @param {number} from
 */
export function kernelAround(raw, t, from, spanMs = 1500, most = 12) {
  return raw
    .filter((l) => Math.abs(Number(l.split(' ')[0]) - t) <= spanMs)
    .map((l) => `+${Number(l.split(' ')[0]) - from} ${l.split(' ').slice(1).join(' ').slice(0, 120)}`)
    .slice(0, most)
    .join(' | ');
}

/**
 * The probes of the event marked `label` that failed outside the seconds in which one of their
 * target's keys was absent, per target; notes the windows, what was lost inside them, and what the
 * kernel said around the first probes lost outside.
 * @param {{note: (line: string) => void}} t
 * @param {import('./probeloop.mjs').ProbeLoop} loop
 * @param {{absent: (key: string, from?: number, to?: number) => Interval[], raw: string[]}} watch  startHostWatch()
 * @param {string} label
 * @param {Readonly<Record<string, readonly string[]>>} keys pathNeeds()
 * @returns {Record<string, Judged>}
 */
export function unexplained(t, loop, watch, label, keys) {
  const m = loop.marks.find((x) => x.name === label);
  if (!m) throw new Error(`no probe-loop mark ${label}`);
  const from = m.from;
  const to = m.to ?? Date.now();
  const judged = judge({
    attempts: loop.attempts(),
    targets: loop.targets,
    from,
    to,
    keys,
    absent: (k) => watch.absent(k, from, to),
    margin: loop.timeoutMs,
  });
  for (const [n, j] of Object.entries(judged))
    for (const a of j.outside.slice(0, 3))
      t.note(
        `${label}: ${n} lost at +${a.t - from} (${a.error}); the kernel within 1.5 s: ${kernelAround(watch.raw, a.t, from)}`,
      );
  t.note(`${label}, ms from the start: ${windowsNote(judged, from)}`);
  return judged;
}

/**
 * One event (runEvent, lib/ndevents.mjs), with the kernel watched meanwhile when `keys` are given:
 * `judged` is then each target's probes lost outside its windows (unexplained()), else every
 * probe it lost.
 * @template T
 * @param {{note: (line: string) => void}} t
 * @param {{loop: import('./probeloop.mjs').ProbeLoop, ns: string, label: string, fn: () => Promise<T>,
 *   baseline?: import('./snapshot.mjs').Snapshot | null, quietMs?: number, ignore?: RegExp | null}} o
 * @param {Readonly<Record<string, readonly string[]>> | null} [keys] pathNeeds()
 */
export async function runJudgedEvent(t, o, keys = null) {
  const watch = keys ? await startHostWatch(o.ns) : null;
  const r = await runEvent(t, o);
  await watch?.stop();
  /** @type {Record<string, Tally>} */
  const judged = watch && keys ? unexplained(t, o.loop, watch, o.label, keys) : r.failed;
  return { ...r, judged };
}
