// The anchor: what systemd-networkd itself does when it owns the VRFs. The seed host's links are
// rendered by netplan (mgmt ens3 by DHCP, public on br-ens4, storage on bond0, storage-cluster on
// bond0.105) and the VRFs are declared to networkd through netplan's own `vrfs:` section (a vrf
// .netdev, VRF= on the member, the VRF's default routes with Table=, `from ADDRESS` rules); no
// vrf-host at all. Under a probe loop (a TCP connect every 200 ms per space, inbound through its
// gateway, and to the controller) every event of networkd's normal life runs, and the failed
// probes per event are reported and bounded (the Juju re-bridge, which takes every link's address
// away, by networkd's own windows: lib/windows.mjs). After each event the host's snapshot must equal
// the converged one. A few foreign objects (rules and routes networkd did not make, with and without
// a routing protocol of their own) show what networkd 252 does to other managers' state.
import { ipBatch, ipJson, ipn, setSysctl, sleep } from '../lib/exec.mjs';
import { NetworkdHost, netplanFor, rebridge } from '../lib/networkd.mjs';
import { startProbeLoop } from '../lib/probeloop.mjs';
import { snapshot } from '../lib/snapshot.mjs';
import { MULTI_HOMED, buildTopology, destroyTopology } from '../lib/topology.mjs';
import { pathNeeds, runJudgedEvent } from '../lib/windows.mjs';

export const name = 'networkd-anchor';
export const description =
  'networkd owns the VRFs (netplan vrfs:): failed probes per networkd event (reconfigure, reload, restart, flap, DHCP' +
  ' renew, Juju re-bridge)';
export const timeoutMs = 10 * 60_000;

export const VRFS = { public: { table: 100 }, storage: { table: 101 }, 'storage-cluster': { table: 102 } };
const QUIET_MS = 3000;
/** At the end mgmt takes its IPv4 address by DHCP from its gateway, for the renewal. */
const DHCP_SPACE = 'mgmt';

/** Foreign state networkd did not make: rules and routes with the default protocol, `static`, and a private number. */
const FOREIGN = [
  ['rule', 'add', 'pref', '150', 'from', '192.0.2.1', 'lookup', '250'],
  ['rule', 'add', 'pref', '151', 'from', '192.0.2.2', 'lookup', '250', 'protocol', 'static'],
  ['rule', 'add', 'pref', '152', 'from', '192.0.2.3', 'lookup', '250', 'protocol', '250'],
  ['route', 'add', '198.51.100.1/32', 'via', '10.10.4.1', 'dev', 'bond0', 'table', '101'],
  ['route', 'add', '198.51.100.2/32', 'via', '10.10.4.1', 'dev', 'bond0', 'table', '101', 'protocol', 'static'],
  ['route', 'add', '198.51.100.3/32', 'via', '10.10.4.1', 'dev', 'bond0', 'table', '101', 'protocol', '250'],
  ['route', 'add', '198.51.100.4/32', 'via', '10.0.0.1', 'dev', 'ens3', 'table', 'main', 'protocol', '250'],
  ['route', 'add', '198.51.100.5/32', 'via', '10.0.0.1', 'dev', 'ens3', 'table', 'main'],
];

/**
 * Which FOREIGN objects exist now: label → present.
 * @param {string} ns
 */
function foreignPresent(ns) {
  const rules = ipJson(ns, '-4', 'rule', 'show');
  const routes = [
    ...ipJson(ns, '-4', 'route', 'show', 'table', '101'),
    ...ipJson(ns, '-4', 'route', 'show', 'table', 'main'),
  ];
  /** @type {Record<string, boolean>} */
  const out = {};
  for (const l of FOREIGN) {
    const proto = l.includes('protocol') ? l[l.indexOf('protocol') + 1] : 'default';
    if (l[0] === 'rule') {
      const src = l[l.indexOf('from') + 1];
      out[`rule from ${src} (proto ${proto})`] = rules.some((r) => r.src === src);
    } else {
      const dst = (l[2] ?? '').replace('/32', '');
      out[`route ${dst} table ${l[l.indexOf('table') + 1]} (proto ${proto})`] = routes.some((r) => r.dst === dst);
    }
  }
  return out;
}

/** @param {import('../lib/context.mjs').Context} t */
export async function run(t) {
  const topo = buildTopology(MULTI_HOMED, { unitLinks: 'nics' });
  t.defer(() => destroyTopology(topo));
  const doc = netplanFor(topo, { vrfs: VRFS });
  const t0 = Date.now();
  const host = await NetworkdHost.start({ topo, netplan: doc, dispatcher: false });
  t.defer(() => host.stop());
  t.note(`networkd configured the host in ${Date.now() - t0} ms; files: ${Object.keys(host.networkFiles()).join(' ')}`);
  // vrf-host sets it; without it a 0.0.0.0 listener of the default VRF answers no VRF.
  setSysctl(topo.unit, 'net.ipv4.tcp_l3mdev_accept', '1');
  const vrfs = ipJson(topo.unit, 'link', 'show', 'type', 'vrf')
    .map((l) => l.ifname)
    .sort();
  t.check(
    'networkd made the VRFs public, storage, storage-cluster',
    vrfs.join(' ') === 'public storage storage-cluster',
    vrfs.join(' '),
  );

  const loop = await startProbeLoop(topo);
  t.defer(() => loop.stop());
  // warm: every target answered for a whole second
  const warm = await loop.allAnswer();
  t.check('before any event every space and the controller answer the probe loop', warm, JSON.stringify(loop.recent()));
  if (!warm) {
    t.note(`rules: ${ipn(topo.unit, 'rule', 'show').stdout.trim().split('\n').join(' | ')}`);
    for (const v of Object.values(VRFS))
      t.note(
        `table ${v.table}: ${ipn(topo.unit, 'route', 'show', 'table', String(v.table)).stdout.trim().split('\n').join(' | ')}`,
      );
    t.note(host.logTail(20));
  }
  ipBatch(topo.unit, FOREIGN);
  const converged = snapshot(topo.unit);
  // What each target's probes need (lib/windows.mjs), read on the converged host.
  const needs = pathNeeds(topo, ipJson(topo.unit, '-4', 'route', 'show', 'table', 'all'));
  const foreignRows = [{ event: 'added', ...foreignPresent(topo.unit) }];

  const ignore = /192\.0\.2\.|198\.51\.100\./;
  /** @type {Record<string, Record<string, import('../lib/probeloop.mjs').Tally>>} */
  const results = {};
  /**
   * @template T
   * @param {string} key
   * @param {string} label
   * @param {() => Promise<T>} fn
   * @param {{ baseline?: null, outside?: Record<string, string[]> }} [o]
   *   outside: count, per target, only the probes lost outside the seconds in which networkd had one
   *     of its keys away (lib/windows.mjs)
   */
  const ev = async (key, label, fn, { outside, ...o } = {}) => {
    const r = await runJudgedEvent(
      t,
      { loop, ns: topo.unit, label, fn, baseline: converged, ignore, quietMs: QUIET_MS, ...o },
      outside,
    );
    foreignRows.push({ event: label, ...foreignPresent(topo.unit) });
    results[key] = r.judged;
    if (r.diff !== null)
      t.check(`${label}: the snapshot equals the converged one`, r.diff.length === 0, r.diff.slice(0, 6).join(' | '));
    return r;
  };
  for (const link of ['ens3', 'br-ens4', 'bond0', 'bond0.105'])
    await ev(`reconfigure ${link}`, `reconfigure ${link}`, () => host.reconfigure(link), { outside: needs });
  await ev('reload', 'networkctl reload', () => host.reload());
  await ev('restart', 'networkd restart', () => host.restartNetworkd());
  const flap = await ev('flap', 'carrier flap ens4 2 s', () => host.carrierFlap(['ens4'], 2));
  const flapMark = loop.marks.find((m) => m.name === 'carrier flap ens4 2 s');
  /**
   * One target's tally of a window.
   * @param {Record<string, import('../lib/probeloop.mjs').Tally>} w
   * @param {string} n
   */
  const tally = (w, n) => {
    const x = w[n];
    if (!x) throw new Error(`the probe loop has no target ${n}`);
    return x;
  };
  const afterFlap = tally(loop.window(flap.info.upAt + 1000, flapMark?.to ?? Date.now()), 'public');
  t.note(
    `carrier flap: down for ${flap.info.upAt - flap.info.downAt} ms; public lost` +
      ` ${tally(loop.window(flap.info.downAt, flap.info.upAt + 1000), 'public').failed}` +
      ` probes while down (+1 s), ${afterFlap.failed} after`,
  );
  await ev('rebridge', 'Juju re-bridge bond0', () => host.jujuRebridge('bond0'), { baseline: null, outside: needs });
  // mgmt's IPv4 from DHCP from now on (netplan apply of the new YAML: reload + reconfigure ens3),
  // then a renewal.
  await host.startDhcpServer(DHCP_SPACE);
  const dhcpDoc = rebridge(netplanFor(topo, { vrfs: VRFS, dhcp: DHCP_SPACE }), 'bond0');
  await ev('to-dhcp', 'mgmt to DHCP (netplan apply)', () => host.applyNetplan(dhcpDoc, ['ens3']), { baseline: null });
  await ev(
    'renew',
    'DHCP renew ens3',
    async () => {
      host.renew('ens3');
      await sleep(1000);
    },
    { baseline: null },
  );
  await loop.stop();
  t.table('failed/sent probes per event (anchor: networkd owns the VRFs)', loop.report());
  t.table('foreign objects present after each event', foreignRows);
  t.note(`udhcpd: ${host.output(`dhcp-${DHCP_SPACE}`).trim().split('\n').slice(-3).join(' | ')}`);

  // What the anchor does on Debian's networkd 252 under TCG (tests/kernel/README.md has the
  // numbers): a reconfigure costs at most a probe or two of the reconfigured space (a 1 s connect
  // timeout under TCG), reload nothing, a restart re-enslaves the bond's ports (storage and its
  // VLAN lose a few), a carrier loss only its own space and nothing once the carrier is back.
  /** @param {string} k */
  const got = (k) => {
    const r = results[k];
    if (!r) throw new Error(`no event ${k} was run`);
    return r;
  };
  /**
   * @param {string} k
   * @param {string} n
   */
  const lost = (k, n) => tally(got(k), n).failed;
  /**
   * @param {string} k
   * @param {readonly string[]} mine
   */
  const others = (k, mine) => Object.keys(got(k)).filter((n) => !mine.includes(n));
  /** @param {string} k */
  const outsideDetail = (k) =>
    Object.entries(got(k))
      .map(([n, x]) => `${n} ${x.failed} of ${x.sent} outside`)
      .join(', ');
  const own = {
    'reconfigure ens3': ['mgmt', 'controller'],
    'reconfigure br-ens4': ['public'],
    'reconfigure bond0': ['storage', 'storage-cluster'],
    'reconfigure bond0.105': ['storage-cluster'],
  };
  for (const [k, mine] of Object.entries(own)) {
    const all = loop.failed(k);
    t.check(
      `${k}: the other spaces and the controller lose nothing`,
      Object.keys(all)
        .filter((n) => !mine.includes(n))
        .every((n) => tally(all, n).failed === 0),
      JSON.stringify(all),
    );
    // networkd deletes and re-adds the link's address and the routes through it: 0–3 probes of
    // its own space, more as the load grows; none may be lost outside those seconds.
    t.check(
      `${k}: its own space loses no probe outside the seconds networkd had its path away`,
      mine.every((n) => lost(k, n) === 0),
      outsideDetail(k),
    );
  }
  t.check(
    'reload: no probe lost',
    Object.keys(got('reload')).every((n) => lost('reload', n) === 0),
    JSON.stringify(got('reload')),
  );
  t.check(
    'restart: mgmt, public and the controller lose nothing',
    ['controller', 'mgmt', 'public'].every((n) => lost('restart', n) === 0),
    JSON.stringify(got('restart')),
  );
  t.check(
    'restart: storage and storage-cluster lose at most 10 probes (the bond re-enslaves its ports)',
    ['storage', 'storage-cluster'].every((n) => lost('restart', n) <= 10),
    JSON.stringify(got('restart')),
  );
  t.check(
    'carrier flap: only public loses probes',
    others('flap', ['public']).every((n) => lost('flap', n) === 0),
    JSON.stringify(got('flap')),
  );
  t.check(
    'carrier flap: nothing lost from 1 s after the carrier is back',
    afterFlap.failed === 0,
    JSON.stringify(afterFlap),
  );
  t.check(
    'DHCP renew: no probe lost',
    Object.keys(got('renew')).every((n) => lost('renew', n) === 0),
    JSON.stringify(got('renew')),
  );
  // netplan generate rewrites every file, so the reload after it reconfigures every link: networkd
  // deletes and re-adds each link's address (the routes through it go and come back with it:
  // ENETUNREACH meanwhile), and storage's address moves from bond0 to br-bond0. How many probes
  // fall in those seconds depends on the load; none may fall outside them.
  t.check(
    'Juju re-bridge: no target loses a probe outside the seconds networkd had its path away (the controller included)',
    Object.keys(got('rebridge')).every((n) => lost('rebridge', n) === 0),
    outsideDetail('rebridge'),
  );
}
