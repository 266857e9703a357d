// What the kernel says about a namespace while an event runs (guest side): `ip -ts -o monitor link
// address route rule` in the namespace (rules only in `raw`, to read), so a scenario can tell the seconds in which something outside
// vrf-host had a path down — a link without carrier or administratively down, main's default route
// withdrawn, an address moving between links — and judge the probe loop's failures outside them.
//
// Each message carries ip's own timestamp (local time, the clock of the probe loop's Date.now()).
// The time a line reaches the scenario is no good: its event loop may be blocked meanwhile
// (networkctl waits for a starting networkd on the bus); ip writes to a file for the same reason.
//
// Presence keys: `link:NAME` (UP and LOWER_UP), `default4:TABLE` (an IPv4 default route via a
// gateway in that table, as ip names it: `main` for the main table), `addr:ADDRESS` (the address on
// any link).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ipJson, sleep, startBackground } from './exec.mjs';

/**
 * @typedef {{t: number, key: string, link: string, present: boolean}} Change  one key on one link
 * @typedef {{from: number, to: number, open?: boolean}} Interval  open: still absent at the end
 */

/** The change an IPv4 address's deletion makes to every `default4:` key held through its link. */
const FLUSH = 'flush4';

/**
 * The time of an `ip -ts` line (`[2026-12-05T03:09:07.541888] …`, local time) in ms, and the rest.
 * @param {string} line
 * @returns {{t: number | null, rest: string}}
 */
export function stamped(line) {
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d*\] (.*)$/.exec(line);
  return m ? { t: new Date(m[1] ?? '').getTime(), rest: m[2] ?? '' } : { t: null, rest: line };
}

/**
 * What one `ip -o monitor` message (without its timestamp) changes: [] for one that concerns no key.
 * @param {string} line
 * @param {number} t
 * @returns {Change[]}
 */
export function parseMonitorLine(line, t) {
  const s = line.trim();
  const deleted = s.startsWith('Deleted ');
  const body = deleted ? s.slice('Deleted '.length) : s;
  const link = /^\d+: ([^:@\s]+)(?:@\S+)?: <([^>]*)>/.exec(body);
  if (link) {
    const [, name = '', flags = ''] = link;
    const f = flags.split(',');
    return [{ t, key: `link:${name}`, link: name, present: !deleted && f.includes('UP') && f.includes('LOWER_UP') }];
  }
  const addr = /^\d+: (\S+)\s+(inet6?) (\S+?)\/\d+/.exec(body);
  if (addr) {
    const [, dev = '', family, local] = addr;
    /** @type {Change[]} */
    const out = [{ t, key: `addr:${local}`, link: dev, present: !deleted }];
    // An IPv4 address going takes the routes through it with it, and the kernel says nothing of
    // them (measured: networkd's reconfigure deletes the address, and main's default route via it
    // goes without a message); the route's next message is its return.
    if (deleted && family === 'inet') out.push({ t, key: FLUSH, link: dev, present: false });
    return out;
  }
  const route = /^default via (\d+\.\d+\.\d+\.\d+) dev (\S+)(.*)$/.exec(body);
  if (route) {
    const table = / table (\S+)/.exec(route[3] ?? '')?.[1] ?? 'main'; // ip names no table for main
    return [{ t, key: `default4:${table}`, link: route[2] ?? '', present: !deleted }];
  }
  return [];
}

/**
 * The intervals within [from, to] in which `key` was absent, given the links that held it at
 * `from` and the changes in order.
 * @param {readonly Change[]} changes
 * @param {string} key
 * @param {ReadonlySet<string>} initial the links holding the key at `from`
 * @param {number} from
 * @param {number} to
 * @returns {Interval[]}
 */
export function absentIntervals(changes, key, initial, from, to) {
  /** @type {Interval[]} */
  const out = [];
  const holders = new Set(initial);
  let since = from;
  for (const c of changes) {
    const applies = c.key === key || (c.key === FLUSH && key.startsWith('default4:') && holders.has(c.link));
    if (!applies || c.t < from || c.t > to) continue;
    const was = holders.size > 0;
    if (c.present) holders.add(c.link);
    else holders.delete(c.link);
    const now = holders.size > 0;
    if (was && !now) since = c.t;
    if (!was && now) out.push({ from: since, to: c.t });
  }
  if (holders.size === 0) out.push({ from: since, to, open: true });
  return out;
}

/**
 * Is t within `margin` ms of one of the intervals that ended (an absence that lasted to the end
 * explains nothing: it is a loss of its own)?
 * @param {readonly Interval[]} intervals
 * @param {number} t
 * @param {number} margin
 */
export function near(intervals, t, margin) {
  return intervals.some((i) => !i.open && t >= i.from - margin && t <= i.to + margin);
}

/**
 * The keys present now, each with the links that hold it.
 * @param {string} ns
 * @returns {Map<string, Set<string>>}
 */
function presentNow(ns) {
  /** @type {Map<string, Set<string>>} */
  const out = new Map();
  /**
   * @param {string} key
   * @param {string} link
   */
  const add = (key, link) => out.set(key, (out.get(key) ?? new Set()).add(link));
  for (const l of ipJson(ns, 'link', 'show'))
    if (l.flags?.includes('UP') && l.flags?.includes('LOWER_UP')) add(`link:${l.ifname}`, l.ifname);
  for (const l of ipJson(ns, 'addr', 'show'))
    for (const a of l.addr_info ?? []) if (a.local) add(`addr:${a.local}`, l.ifname);
  for (const r of ipJson(ns, '-4', 'route', 'show', 'table', 'all'))
    if (r.dst === 'default' && r.dev && r.gateway) add(`default4:${r.table ?? 'main'}`, r.dev);
  return out;
}

/**
 * Watch `ns` until stop(). ip writes to a file, never to a pipe to this process: a pipe is emptied
 * only while this event loop runs, and ip blocked on a full one would stamp what it reads late.
 * @param {string} ns
 */
export async function startHostWatch(ns) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hostwatch-'));
  const file = path.join(dir, 'monitor.log');
  const ip = startBackground(
    ['ip', 'netns', 'exec', ns, 'ip', '-ts', '-o', 'monitor', 'link', 'address', 'route', 'rule'],
    {
      logFile: file,
    },
  );
  /** @type {Change[]} */
  const changes = [];
  /** @type {string[]} every line, `MS rest` */
  const raw = [];
  let stopped = false;
  /** Read what ip wrote so far into `changes` and `raw` (a line without a time gets the one before it). */
  const read = () => {
    if (stopped) return;
    changes.length = 0;
    raw.length = 0;
    let last = startedAt;
    for (const line of ip.output().split('\n')) {
      if (line === '') continue;
      const { t, rest } = stamped(line);
      last = t ?? last;
      raw.push(`${last} ${rest}`);
      changes.push(...parseMonitorLine(rest, last));
    }
  };
  await sleep(300); // ip has subscribed
  const startedAt = Date.now();
  const initial = presentNow(ns);
  return {
    changes,
    raw,
    startedAt,
    /**
     * The seconds in [from, to] in which `key` was absent.
     * @param {string} key
     * @param {number} [from]
     * @param {number} [to]
     */
    absent(key, from = startedAt, to = Date.now()) {
      read();
      return absentIntervals(
        changes.filter((c) => c.t >= startedAt),
        key,
        initial.get(key) ?? new Set(),
        from,
        to,
      );
    },
    /** Stop ip; `changes` and `raw` then hold everything it wrote. */
    async stop() {
      await Promise.race([ip.stop(), sleep(2000)]);
      read();
      stopped = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
