// Host snapshots (ip -json link/addr/route/rule + owned sysctls) and comparison that ignores
// kernel-assigned fields (ifindex, timers, counters, lifetimes, VRF MACs of the same device…).
import { getSysctls, ipn, run } from './exec.mjs';

/** The sysctls vrf-host owns. */
export const OWNED_SYSCTLS = [
  'net.ipv4.tcp_l3mdev_accept',
  'net.ipv4.udp_l3mdev_accept',
  'net.ipv6.conf.all.keep_addr_on_down',
  'net.ipv6.conf.default.keep_addr_on_down',
  'net.ipv4.ip_nonlocal_bind',
  'net.ipv6.ip_nonlocal_bind',
];

/** Keys whose values the kernel assigns or that change with time. */
export const IGNORED_KEYS = new Set([
  'ifindex',
  'link_index',
  'link_netnsid',
  'stats',
  'stats64',
  'expires',
  'used',
  'cacheinfo',
  'cache',
  'preferred_life_time',
  'valid_life_time',
  'gc_timer',
  'hello_timer',
  'tcn_timer',
  'topology_change_timer',
  'ageing_timer',
  'forwarding_timer',
  'hold_timer',
  'message_age_timer',
  'num_peer_notif',
  // a bond port's count of link failures: networkd's restart re-enslaves the ports (+1 each)
  'link_failure_count',
]);

/**
 * A namespace's network state: ip's JSON objects (read loosely) and the owned sysctls.
 * @typedef {{links: any[], addrs: any[], routes4: any[], routes6: any[], rules4: any[], rules6: any[],
 *   sysctls: Record<string, string | null>}} Snapshot
 */

/**
 * @param {string | null} ns
 * @param {...string} args
 * @returns {any[]}
 */
const json = (ns, ...args) => {
  const out = ipn(ns, '-json', '-details', ...args).stdout.trim();
  return out ? JSON.parse(out) : [];
};

/**
 * Snapshot a namespace's network state.
 * @param {string | null} ns
 * @param {{ sysctls?: readonly string[], settleMs?: number }} [options]
 * @returns {Snapshot}
 */
export function snapshot(ns, { sysctls = OWNED_SYSCTLS, settleMs = 5000 } = {}) {
  settle(ns, settleMs);
  return {
    links: json(ns, 'link', 'show'),
    addrs: json(ns, 'addr', 'show'),
    routes4: json(ns, '-4', 'route', 'show', 'table', 'all'),
    routes6: json(ns, '-6', 'route', 'show', 'table', 'all'),
    rules4: json(ns, '-4', 'rule', 'show'),
    rules6: json(ns, '-6', 'rule', 'show'),
    sysctls: getSysctls(ns, sysctls),
  };
}

/**
 * Wait (up to settleMs) until no IPv6 address is tentative: a device re-enslaved or re-created
 * moments ago has its link-local address in DAD (flag `tentative`, and no `local` route yet for
 * about a second). Snapshots compare settled states; an address that stays tentative (DAD
 * failed) shows up in the comparison once the time is up.
 * @param {string | null} ns
 * @param {number} settleMs
 */
function settle(ns, settleMs) {
  const end = Date.now() + settleMs;
  while (ipn(ns, '-6', 'addr', 'show', 'tentative').stdout.trim() !== '' && Date.now() < end) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

/**
 * A JSON value without the ignored keys, its keys and its lists of objects sorted.
 * @param {any} v
 * @returns {any}
 */
function stable(v) {
  if (Array.isArray(v)) {
    /** @type {unknown[]} */
    const items = v.map(stable);
    return items.every((x) => x && typeof x === 'object')
      ? items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
      : items;
  }
  if (v && typeof v === 'object') {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const k of Object.keys(v).sort()) if (!IGNORED_KEYS.has(k)) out[k] = stable(v[k]);
    return out;
  }
  return v;
}

/**
 * A snapshot with kernel-assigned fields dropped and lists in a stable order. A VRF device's MAC
 * (random at creation) and its link-local IPv6 address are kernel-assigned too: a VRF deleted and
 * re-created (drift healing) is the same VRF.
 * @param {Partial<Snapshot>} snap
 * @returns {Partial<Snapshot>}
 */
export function normalise(snap) {
  const vrfs = new Set((snap.links ?? []).filter((l) => l.linkinfo?.info_kind === 'vrf').map((l) => l.ifname));
  const links = (snap.links ?? []).map((l) =>
    vrfs.has(l.ifname) ? { ...l, address: undefined, broadcast: undefined } : l,
  );
  const addrs = (snap.addrs ?? []).map((a) =>
    vrfs.has(a.ifname)
      ? {
          ...a,
          address: undefined,
          broadcast: undefined,
          addr_info: (a.addr_info ?? []).filter((/** @type {any} */ i) => i.scope !== 'link'),
        }
      : a,
  );
  const routes6 = (snap.routes6 ?? []).filter(
    (r) => !(vrfs.has(r.dev) && r.table === 'local' && /^fe80:/.test(r.dst ?? '')),
  );
  return stable({ ...snap, links, addrs, routes6 });
}

/**
 * Differences between two snapshots, ignoring kernel-assigned fields. Empty = equal.
 * Links and addrs are keyed by ifname; routes and rules compared as sets.
 * @param {Partial<Snapshot>} a
 * @param {Partial<Snapshot>} b
 * @returns {string[]} human lines like "routes4: missing {…}" / "links.ens3.mtu: 1500 → 9000"
 */
export function diffSnapshots(a, b) {
  const A = normalise(a);
  const B = normalise(b);
  /** @type {string[]} */
  const out = [];
  for (const part of /** @type {const} */ (['links', 'addrs'])) {
    const ma = new Map((A[part] ?? []).map((x) => [x.ifname, x]));
    const mb = new Map((B[part] ?? []).map((x) => [x.ifname, x]));
    for (const [k, va] of ma) {
      if (!mb.has(k)) out.push(`${part}: ${k} gone`);
      else diffObj(`${part}.${k}`, va, mb.get(k), out);
    }
    for (const k of mb.keys()) if (!ma.has(k)) out.push(`${part}: ${k} appeared`);
  }
  for (const part of /** @type {const} */ (['routes4', 'routes6', 'rules4', 'rules6'])) {
    const sa = new Set((A[part] ?? []).map((x) => JSON.stringify(x)));
    const sb = new Set((B[part] ?? []).map((x) => JSON.stringify(x)));
    for (const x of sa) if (!sb.has(x)) out.push(`${part}: missing ${x}`);
    for (const x of sb) if (!sa.has(x)) out.push(`${part}: extra ${x}`);
  }
  diffObj('sysctls', A.sysctls ?? {}, B.sysctls ?? {}, out);
  return out;
}

/**
 * @param {string} prefix
 * @param {any} a
 * @param {any} b
 * @param {string[]} out
 */
function diffObj(prefix, a, b, out) {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diffObj(`${prefix}.${k}`, a[k], b[k], out);
    return;
  }
  out.push(`${prefix}: ${JSON.stringify(a)} → ${JSON.stringify(b)}`);
}

/** Remove the files vrf-host writes on the (shared) guest filesystem, between scenarios. */
export function resetUnitFiles() {
  run([
    'rm',
    '-rf',
    '/etc/iproute2/rt_tables.d/vrf-host.conf',
    '/var/lib/vrf-host',
    '/etc/sysctl.d/60-vrf-host.conf',
    '/run/vrf-host.lock',
  ]);
}
