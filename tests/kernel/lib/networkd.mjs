// systemd-networkd managing the unit's links (guest side, as root): Debian 12's real
// systemd-networkd (252), netplan.io (0.106) and networkd-dispatcher (2.2.3), run inside the unit's
// network namespace, in a private mount namespace of their own:
//
//   ip netns exec unit unshare -m --propagation private sleep infinity      (the "holder")
//     /sys                      remounted read-only: networkd then does not wait for udev
//     /run/systemd              ← DIR/root/run/systemd   (netplan's output in network/, networkd's netif/)
//     /run/dbus                 ← DIR/root/run/dbus      (a dbus-daemon --system: networkctl reload/reconfigure need it)
//     /etc/systemd/network      ← DIR/root/etc/systemd/network    (what vrf-host may write for networkd)
//     /etc/systemd/networkd.conf.d ← DIR/root/etc/systemd/networkd.conf.d  (networkd.conf drop-ins)
//     /etc/networkd-dispatcher  ← DIR/root/etc/networkd-dispatcher (vrf-host's dispatcher hooks)
//     /etc/netplan              ← DIR/root/etc/netplan   (the host's netplan YAML, which only the test writes)
//
// Every daemon and every command of this "host" (networkctl, the charm's hooks through CharmUnit's
// `wrap`) runs with `nsenter -t HOLDER -m` (and `-n` when not already in the unit namespace), so
// the charm and networkd see the SAME files; the runner reads and writes them under DIR/root. The
// links come from netplan YAML rendered by the real `netplan generate --root-dir DIR/root`, so the
// file names are netplan's (10-netplan-ens4.network, …). Nothing outside the holder's mount
// namespace changes except DIR and the empty mount points (/run/systemd, /run/dbus, /etc/…).
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { run, sleep, startBackground, waitFor } from './exec.mjs';

export const NETWORKD = '/lib/systemd/systemd-networkd';
export const DISPATCHER = '/usr/bin/networkd-dispatcher';
/** Where netplan's YAML goes (relative to the root): a name Juju/MAAS hosts use. */
export const NETPLAN_FILE = 'etc/netplan/50-cloud-init.yaml';
/** The directories bind-mounted into the holder's mount namespace, relative to the root. */
export const PRIVATE_DIRS = [
  'run/systemd',
  'run/dbus',
  'etc/systemd/network',
  'etc/systemd/networkd.conf.d',
  'etc/networkd-dispatcher',
  'etc/netplan',
];
const DISPATCHER_STATES = [
  'carrier.d',
  'configured.d',
  'configuring.d',
  'degraded.d',
  'dormant.d',
  'no-carrier.d',
  'off.d',
  'routable.d',
];

export class NetworkdError extends Error {
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'NetworkdError';
  }
}

/**
 * What this file writes and reads of netplan's YAML (netplan accepts more).
 * @typedef {{to: string, via: string, table?: number}} NetplanRoute
 * @typedef {{addresses?: string[], dhcp4?: boolean, macaddress?: string, routes?: NetplanRoute[],
 *   'routing-policy'?: {from: string, table: number}[], interfaces?: string[], parameters?: object, id?: number | undefined,
 *   link?: string | undefined, [key: string]: unknown}} NetplanLink
 * @typedef {{version: number, renderer: string, ethernets: Record<string, NetplanLink>,
 *   bridges?: Record<string, NetplanLink>, bonds?: Record<string, NetplanLink>, vlans?: Record<string, NetplanLink>,
 *   vrfs?: Record<string, {table: number, interfaces: string[]}>}} NetplanNetwork
 * @typedef {{network: NetplanNetwork}} NetplanDoc  the netplan YAML
 * @typedef {{table: number, gateway?: boolean, rules?: boolean}} VrfDecl  one VRF declared to networkd
 * @typedef {import('./topology.mjs').Topology} Topology
 * @typedef {import('./topology.mjs').Space} Space
 * @typedef {{ms: number, failed: string[], why: string[]}} Configured  waitConfigured's result
 */

/**
 * The netplan YAML of a topology (lib/topology.mjs describe()): every NIC under `ethernets`, the
 * bridge/bond/VLAN as netplan declares them, each space's addresses (IPv4 and, when the topology
 * has them, IPv6) on its device, the default routes (both families) through the default space.
 * @param {Topology} topo
 * @param {{vrfs?: Record<string, VrfDecl>, dhcp?: string|null}} [o]
 *   vrfs: space → VRF declared to networkd through netplan's own `vrfs:` section (the anchor:
 *         a vrf .netdev, VRF= on the member, the VRF's default routes with Table=, and a
 *         `from ADDRESS lookup TABLE` rule per address); vrf names are the space names.
 *   dhcp: a space (on a NIC) whose IPv4 address comes from DHCP (startDhcpServer) instead.
 * @returns {NetplanDoc}
 */
export function netplanFor(topo, { vrfs = {}, dhcp = null } = {}) {
  /** @type {Record<string, NetplanLink>} */
  const ethernets = {};
  /** @type {Record<string, NetplanLink>} */
  const bridges = {};
  /** @type {Record<string, NetplanLink>} */
  const bonds = {};
  /** @type {Record<string, NetplanLink>} */
  const vlans = {};
  /** @type {NonNullable<NetplanNetwork['vrfs']>} */
  const vrfsOut = {};
  /** @param {Space} s */
  const addrs = (s) => [`${s.unitAddr}/24`, ...(s.unitAddr6 ? [`${s.unitAddr6}/64`] : [])];
  for (const s of Object.values(topo.spaces)) {
    for (const nic of s.nics) ethernets[nic] = {};
    /** @type {NetplanLink & {addresses: string[]}} */
    const cfg = { addresses: addrs(s) };
    if (dhcp === s.name) {
      cfg.addresses = cfg.addresses.filter((a) => a.includes(':'));
      cfg.dhcp4 = true;
      if (s.kind !== 'nic') cfg.macaddress = dhcpMac(s); // the DHCP server's static lease is on it
    }
    if (s.name === topo.defaultSpace) {
      /** @type {NetplanRoute[]} */
      const routes = [];
      if (dhcp !== s.name) routes.push({ to: 'default', via: s.gateway });
      if (s.gateway6) routes.push({ to: 'default', via: s.gateway6 });
      cfg.routes = routes;
    }
    const v = vrfs[s.name];
    if (v) {
      // The VRF's routes and rules go on the member, with the VRF's table: netplan 0.106 renders a
      // `vrfs:` entry's own routes on the vrf device, and networkd 252 then fails the VRF
      // ("Nexthop has invalid gateway or device mismatch": the gateway is not on the vrf device).
      if (v.gateway !== false) {
        cfg.routes = [
          ...(cfg.routes ?? []),
          { to: 'default', via: s.gateway, table: v.table },
          ...(s.gateway6 ? [{ to: 'default', via: s.gateway6, table: v.table }] : []),
        ];
      }
      // With a priority, as vrf-host gives its own: a rule networkd 252 adds without one gets a
      // kernel-chosen priority, and after a restart networkd adds it again at another (32763…).
      if (v.rules !== false)
        cfg['routing-policy'] = [s.unitAddr, ...(s.unitAddr6 ? [s.unitAddr6] : [])].map((a) => ({
          from: a,
          table: v.table,
          priority: 99,
        }));
      vrfsOut[s.name] = { table: v.table, interfaces: [s.dev] };
    }
    if (s.kind === 'nic') ethernets[s.dev] = cfg;
    else if (s.kind === 'bridge')
      bridges[s.dev] = { interfaces: [...s.nics], ...cfg, parameters: { stp: false, 'forward-delay': 0 } };
    else if (s.kind === 'bond')
      bonds[s.dev] = {
        interfaces: [...s.nics],
        ...cfg,
        parameters: { mode: 'active-backup', 'mii-monitor-interval': 100 },
      };
    else if (s.kind === 'vlan') vlans[s.dev] = { id: s.vlanId, link: s.parent, ...cfg };
    else throw new NetworkdError(`space ${s.name}: unknown kind ${s.kind}`);
  }
  /** @type {NetplanNetwork} */
  const network = { version: 2, renderer: 'networkd', ethernets };
  if (Object.keys(bridges).length) network.bridges = bridges;
  if (Object.keys(bonds).length) network.bonds = bonds;
  if (Object.keys(vlans).length) network.vlans = vlans;
  if (Object.keys(vrfsOut).length) network.vrfs = vrfsOut;
  return { network };
}

/**
 * The MAC a space's DHCP lease is for (netplanFor's `dhcp`): a NIC's own (lib/topology.mjs gives
 * the first NIC of space i 52:54:00:00:i:01), else one netplan sets on the device.
 * @param {Space} space
 */
export function dhcpMac(space) {
  const i = space.index.toString(16).padStart(2, '0');
  return `52:54:00:00:${i}:${space.kind === 'nic' ? '01' : 'fe'}`;
}

/**
 * What Juju does to netplan's YAML when it bridges a device for a container: `br-DEV` is a new
 * bridge with DEV as its only port, DEV's addresses, routes and DHCP move to the bridge, DEV keeps
 * only what makes it a link (a VLAN on DEV stays on DEV), and a VRF that listed DEV lists the
 * bridge. Returns a new document (the argument is not changed).
 * @param {NetplanDoc} doc
 * @param {string} dev an ethernet, bond or VLAN of the document
 * @returns {NetplanDoc}
 */
export function rebridge(doc, dev) {
  const out = globalThis.structuredClone(doc);
  const n = out.network;
  const section = /** @type {const} */ (['ethernets', 'bonds', 'vlans']).find((k) => n[k]?.[dev]);
  const cfg = section && n[section]?.[dev];
  if (!cfg) throw new NetworkdError(`rebridge: ${dev} is not an ethernet, bond or VLAN of the netplan YAML`);
  const br = `br-${dev}`;
  /** @type {NetplanLink} */
  const moved = {};
  for (const k of ['addresses', 'routes', 'routing-policy', 'dhcp4', 'dhcp6', 'gateway4', 'gateway6', 'nameservers'])
    if (k in cfg) {
      moved[k] = cfg[k];
      delete cfg[k];
    }
  n.bridges = {
    ...(n.bridges ?? {}),
    [br]: { interfaces: [dev], ...moved, parameters: { stp: false, 'forward-delay': 0 } },
  };
  for (const v of Object.values(n.vrfs ?? {})) v.interfaces = v.interfaces.map((i) => (i === dev ? br : i));
  return out;
}

/**
 * `nsenter` argv into a holder's mount namespace (and network namespace with `net`).
 * @param {number} pid
 * @param {{ net?: boolean, wd?: string }} [options]
 */
function enter(pid, { net = true, wd } = {}) {
  return ['nsenter', '-t', String(pid), '-m', ...(net ? ['-n'] : []), ...(wd ? [`--wd=${wd}`] : []), '--'];
}

/**
 * `networkctl list` as [{idx, link, type, operational, setup}].
 * @param {string} text
 */
export function parseNetworkctlList(text) {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && /^\d+$/.test(f[0] ?? ''))
    .map(([idx, link = '', type = '', operational = '', setup = '']) => ({
      idx: Number(idx),
      link,
      type,
      operational,
      setup,
    }));
}

/**
 * systemd-networkd (with a system D-Bus and, optionally, networkd-dispatcher) managing the links of
 * a topology's unit namespace. Build the topology with `buildTopology(spec, {unitLinks: 'nics'})`,
 * then `await NetworkdHost.start({topo, netplan: netplanFor(topo)})`; `stop()` ends every process
 * it started and removes its directory (register it with t.defer).
 */
export class NetworkdHost {
  /**
   * @param {{topo: Topology, netplan: NetplanDoc, dir?: string, dispatcher?: boolean, dhcp?: string|null,
   *          log?: (line: string) => void, waitMs?: number}} o
   *   dir: the host's files (default /run/vrf-host-networkd/<unit ns>); emptied first
   *   dispatcher: start networkd-dispatcher too (default true)
   *   dhcp: the space whose DHCP server to start in its gateway namespace (netplanFor's `dhcp`)
   * @returns {Promise<NetworkdHost>} once every link of the YAML is configured
   */
  static async start(o) {
    const h = new NetworkdHost(o);
    try {
      await h.#boot(o);
    } catch (e) {
      await h.stop();
      throw e;
    }
    return h;
  }

  /**
   * @private use start()
   * @param {{topo: Topology, netplan: NetplanDoc, dir?: string, log?: (line: string) => void}} o
   */
  constructor({ topo, netplan, dir, log = () => {} }) {
    this.topo = topo;
    this.ns = topo.unit;
    this.dir = dir ?? `/run/vrf-host-networkd/${topo.unit}`;
    this.root = path.join(this.dir, 'root');
    this.log = log;
    /** the netplan document last generated */
    this.netplan = netplan;
    /** @type {Record<string, ReturnType<typeof startBackground>>} */
    this.procs = {};
    /** @type {ReturnType<typeof startBackground> | null} */
    this.holder = null;
    this.pid = 0;
    /** how many processes of each name were started (each one's log is a file of its own) */
    /** @type {Record<string, number>} */
    this.starts = {};
  }

  /**
   * Start a daemon of this host as procs[name], its output going to a file of its own under
   * DIR/log (never through a pipe: a daemon blocked on a full pipe while the runner sits in a
   * spawnSync, networkd first of all, stalls every networkctl waiting for it on the bus).
   * @param {string} name
   * @param {readonly string[]} argv
   * @param {NodeJS.ProcessEnv} [env]
   */
  #daemon(name, argv, env) {
    const n = (this.starts[name] = (this.starts[name] ?? 0) + 1);
    mkdirSync(path.join(this.dir, 'log'), { recursive: true });
    const p = startBackground(argv, {
      ...(env ? { env } : {}),
      logFile: path.join(this.dir, 'log', `${name}.${n}.log`),
    });
    this.procs[name] = p;
    return p;
  }

  /**
   * A path of this host's filesystem (e.g. '/etc/systemd/network') as the runner sees it.
   * @param {string} p
   */
  file(p) {
    return path.join(this.root, p);
  }

  /** @param {{dispatcher?: boolean, dhcp?: string | null, waitMs?: number, keepFiles?: boolean}} o */
  async #boot({ dispatcher = true, dhcp = null, waitMs = 120_000, keepFiles = false }) {
    if (!keepFiles) rmSync(this.dir, { recursive: true, force: true });
    else for (const d of ['run/systemd', 'run/dbus']) rmSync(path.join(this.root, d), { recursive: true, force: true });
    for (const d of PRIVATE_DIRS) {
      mkdirSync(path.join(this.root, d), { recursive: true });
      mkdirSync(path.join('/', d), { recursive: true }); // the mount point
    }
    for (const d of DISPATCHER_STATES)
      mkdirSync(path.join(this.root, 'etc/networkd-dispatcher', d), { recursive: true });
    const holder = startBackground([
      'ip',
      'netns',
      'exec',
      this.ns,
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sleep',
      'infinity',
    ]);
    this.holder = holder;
    // ip netns exec and unshare exec (no fork): the child's pid ends up being sleep's.
    const ok = await waitFor(() => readFileSync(`/proc/${holder.child.pid}/comm`, 'utf8').trim() === 'sleep', {
      timeoutMs: 10_000,
    });
    if (!ok || holder.child.pid === undefined)
      throw new NetworkdError(`the mount-namespace holder did not start: ${holder.output()}`);
    this.pid = holder.child.pid;
    const e = enter(this.pid);
    run([...e, 'mount', '-o', 'remount,bind,ro', '/sys']);
    for (const d of PRIVATE_DIRS) run([...e, 'mount', '--bind', path.join(this.root, d), path.join('/', d)]);
    if (dhcp) await this.startDhcpServer(dhcp);
    this.writeNetplan(this.netplan);
    this.generate();
    const dbus = this.#daemon('dbus', [...e, 'dbus-daemon', '--system', '--nofork', '--nopidfile']);
    if (!(await waitFor(() => existsSync(this.file('run/dbus/system_bus_socket')), { timeoutMs: 15_000 })))
      throw new NetworkdError(`dbus-daemon --system did not start: ${dbus.output()}`);
    await this.startNetworkd({ waitMs });
    if (dispatcher) await this.startDispatcher();
  }

  /**
   * argv that runs `argv` on this host (its mount and network namespace).
   * @param {readonly string[]} argv
   */
  argv(argv) {
    return [...enter(this.pid), ...argv];
  }

  /**
   * For CharmUnit's `wrap` (it already runs `ip netns exec NS`): enter the mount namespace too, in `cwd`
   * (Juju runs dispatch in the charm directory; entering a mount namespace resets the cwd).
   * @param {string} cwd
   */
  wrap(cwd) {
    return enter(this.pid, { net: false, wd: cwd });
  }

  /**
   * Run a command on this host (sync; throws on failure unless allowFail).
   * @param {readonly string[]} argv
   * @param {import('./exec.mjs').RunOptions} [opts]
   */
  exec(argv, opts) {
    return run(this.argv(argv), opts);
  }

  /**
   * Write netplan's YAML (mode 600, as netplan wants).
   * @param {NetplanDoc} doc
   */
  writeNetplan(doc) {
    this.netplan = doc;
    writeFileSync(this.file(NETPLAN_FILE), YAML.stringify(doc), { mode: 0o600 });
  }

  /** `netplan generate --root-dir ROOT`: netplan replaces its 10-netplan-* files in /run/systemd/network. */
  generate() {
    run(['netplan', 'generate', '--root-dir', this.root], { timeoutMs: 180_000 }); // Python: slow under TCG
    return this.networkFiles();
  }

  /** The files networkd reads from /run/systemd/network and /etc/systemd/network, name → text. */
  networkFiles() {
    /** @type {Record<string, string>} */
    const out = {};
    for (const d of ['run/systemd/network', 'etc/systemd/network']) {
      const dir = this.file(d);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir, { recursive: true }).map(String).sort()) {
        const full = path.join(dir, f);
        try {
          out[`/${d}/${f}`] = readFileSync(full, 'utf8');
        } catch {
          /* a directory (drop-in .d) */
        }
      }
    }
    return out;
  }

  /** The links of the netplan YAML (what networkd must configure). */
  netplanLinks() {
    const n = this.netplan.network;
    return /** @type {const} */ (['ethernets', 'bridges', 'bonds', 'vlans', 'vrfs']).flatMap((k) =>
      Object.keys(n[k] ?? {}),
    );
  }

  /**
   * `networkctl ARGS…` on this host.
   * @param {...string} args
   */
  networkctl(...args) {
    return this.exec(['networkctl', '--no-pager', ...args], { timeoutMs: 60_000 });
  }

  /** networkctl list → [{idx, link, type, operational, setup}] */
  list() {
    return parseNetworkctlList(this.networkctl('list', '--no-legend').stdout);
  }

  /**
   * Wait until networkd is done with every link of the netplan YAML: each `configured` or
   * `failed` (a measurement, not an error: networkd 252 fails a link whose route the kernel
   * refuses). Throws only when that does not happen within timeoutMs.
   * @param {{timeoutMs?: number, links?: string[]}} [o]
   * @returns {Promise<Configured>} why: networkd's "Could not …" lines about the failed links
   */
  async waitConfigured({ timeoutMs = 120_000, links = this.netplanLinks() } = {}) {
    const t0 = Date.now();
    /** @type {ReturnType<typeof parseNetworkctlList>} */
    let last = [];
    /** @type {Record<string, string>} */
    let by = {};
    const ok = await waitFor(
      () => {
        const r = run(this.argv(['networkctl', '--no-pager', 'list', '--no-legend']), { allowFail: true });
        if (r.code !== 0) return false;
        last = parseNetworkctlList(r.stdout);
        by = Object.fromEntries(last.map((l) => [l.link, l.setup]));
        return links.every((l) => by[l] === 'configured' || by[l] === 'failed');
      },
      { timeoutMs, intervalMs: 250 },
    );
    if (!ok)
      throw new NetworkdError(
        `networkd did not configure ${links.join(' ')} within ${timeoutMs} ms:` +
          ` ${last.map((l) => `${l.link}=${l.setup}`).join(' ')}; ${this.logTail()}`,
      );
    const failed = links.filter((l) => by[l] === 'failed');
    const log = this.output('networkd').split('\n');
    const why = failed.flatMap((l) => log.filter((x) => x.startsWith(`${l}: Could not`)).slice(-1));
    return { ms: Date.now() - t0, failed, why };
  }

  /**
   * Wait until networkd is done with the YAML's links and with each of `links` it manages (the VRF
   * devices vrf-host gave it files for; one networkd leaves unmanaged is not waited for).
   * @param {readonly string[]} links
   */
  async waitSettled(links) {
    await this.waitConfigured();
    const managed = this.list()
      .filter((l) => links.includes(l.link) && l.setup !== 'unmanaged')
      .map((l) => l.link);
    if (managed.length) await this.waitConfigured({ links: managed });
  }

  /** The last lines networkd (and the dispatcher) printed. */
  logTail(n = 8) {
    /** @param {ReturnType<typeof startBackground> | undefined} p */
    const lines = (p) => (p ? p.output().trim().split('\n').slice(-n).join(' | ') : '');
    return `networkd: ${lines(this.procs.networkd)}${this.procs.dispatcher ? `; dispatcher: ${lines(this.procs.dispatcher)}` : ''}`;
  }

  /** Start systemd-networkd and wait until the YAML's links are configured. */
  async startNetworkd({ waitMs = 120_000 } = {}) {
    if (this.procs.networkd) throw new NetworkdError('systemd-networkd is already running');
    this.#daemon('networkd', this.argv([NETWORKD]), {
      SYSTEMD_LOG_TARGET: 'console',
      SYSTEMD_LOG_COLOR: '0',
      SYSTEMD_LOG_LEVEL: process.env.VRF_HOST_NETWORKD_LOG ?? 'info',
    });
    return this.waitConfigured({ timeoutMs: waitMs });
  }

  /** Stop systemd-networkd (SIGTERM, as systemctl stop does); its links and their configuration stay. */
  async stopNetworkd() {
    const p = this.procs.networkd;
    delete this.procs.networkd;
    if (p) await p.stop();
  }

  /**
   * `systemctl restart systemd-networkd`: stop, start, wait until configured (waitConfigured's result).
   * @param {{waitMs?: number}} [o]
   */
  async restartNetworkd(o) {
    await this.stopNetworkd();
    return this.startNetworkd(o);
  }

  /** networkd-dispatcher (verbose), once it has read the link list (it runs networkctl list at start). */
  async startDispatcher() {
    if (this.procs.dispatcher) throw new NetworkdError('networkd-dispatcher is already running');
    const dispatcher = this.#daemon('dispatcher', this.argv([DISPATCHER, '-v']));
    const ok = await waitFor(() => this.dispatcherRunning(), { timeoutMs: 30_000, intervalMs: 250 });
    if (!ok) throw new NetworkdError(`networkd-dispatcher did not start: ${dispatcher.output()}`);
  }

  /** Stop networkd-dispatcher (a host without it, as Ubuntu 24.04 may be). */
  async stopDispatcher() {
    const p = this.procs.dispatcher;
    delete this.procs.dispatcher;
    if (p) await p.stop();
  }

  /** networkd-dispatcher has subscribed to networkd's signals (it logs "Startup complete" at -v). */
  dispatcherRunning() {
    const p = this.procs.dispatcher;
    return Boolean(p && p.child.exitCode === null && /Startup complete/.test(p.output()));
  }

  /**
   * Until networkd-dispatcher has invoked no script for `forMs` and no vrf-host replay it started
   * still runs (a script queued before a change of the hooks' modes runs after it).
   */
  async dispatcherQuiet({ forMs = 2000, timeoutMs = 60_000 } = {}) {
    const replaying = () =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .some((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--from-state');
          } catch {
            return false;
          }
        });
    let n = -1;
    let since = Date.now();
    const ok = await waitFor(
      () => {
        const m = this.dispatcherInvocations().length;
        if (m !== n || replaying()) {
          n = m;
          since = Date.now();
        }
        return Date.now() - since >= forMs;
      },
      { timeoutMs, intervalMs: 200 },
    );
    if (!ok) throw new NetworkdError(`networkd-dispatcher did not go quiet within ${timeoutMs} ms`);
  }

  /** The scripts networkd-dispatcher ran so far: [{script, iface}] (from its -v log). */
  dispatcherInvocations() {
    return [...this.output('dispatcher').matchAll(/Invoking '([^']+)' for interface (\S+)/g)].map(
      ([, script = '', iface = '']) => ({ script, iface }),
    );
  }

  /**
   * `networkctl reload`, then wait until configured again (waitConfigured's result).
   * @param {{timeoutMs?: number, links?: string[]}} [o]
   */
  async reload(o) {
    this.networkctl('reload');
    return this.waitConfigured(o);
  }

  /**
   * `networkctl reconfigure LINK…`, then wait until configured again (waitConfigured's result).
   * @param {string | string[]} links
   * @param {{timeoutMs?: number, links?: string[]}} [o]
   */
  async reconfigure(links, o) {
    this.networkctl('reconfigure', ...[links].flat());
    await sleep(300); // networkd marks the link configuring asynchronously
    return this.waitConfigured(o);
  }

  /**
   * `networkctl renew LINK` (a DHCP renewal now).
   * @param {string} link
   */
  renew(link) {
    this.networkctl('renew', link);
  }

  /**
   * A carrier flap: the far ends (in the switch namespace) of `nics` go down for `seconds`, then up;
   * waits until networkd has the YAML's links configured again.
   * @param {string | string[]} nics
   * @returns {Promise<{downAt: number, upAt: number, failed: string[], why: string[]}>}
   */
  async carrierFlap(nics, seconds = 2) {
    const fab = this.topo.fab;
    const downAt = Date.now();
    for (const nic of [nics].flat()) run(['ip', '-n', fab, 'link', 'set', `u-${nic}`, 'down']);
    await sleep(seconds * 1000);
    for (const nic of [nics].flat()) run(['ip', '-n', fab, 'link', 'set', `u-${nic}`, 'up']);
    const upAt = Date.now();
    const w = await this.waitConfigured();
    return { downAt, upAt, failed: w.failed, why: w.why };
  }

  /**
   * `netplan apply` of a new YAML, as far as networkd sees it: write it, `netplan generate`,
   * `networkctl reload`, `networkctl reconfigure` of `links`; waits until configured.
   * @param {NetplanDoc} doc
   * @param {readonly string[]} [links]
   * @returns {Promise<Configured>}
   */
  async applyNetplan(doc, links = []) {
    this.writeNetplan(doc);
    this.generate();
    this.networkctl('reload');
    if (links.length) this.networkctl('reconfigure', ...links);
    await sleep(300);
    return this.waitConfigured();
  }

  /**
   * Juju bridging `dev` for a container, as Juju does it: netplan's YAML rewritten (rebridge()),
   * `netplan generate` (the generated file names change: 10-netplan-br-DEV.*), `networkctl reload`,
   * `networkctl reconfigure DEV`; waits until every link but `skip` is configured.
   * @param {string} dev
   * @param {{skip?: string[]}} [options] links not to wait for (a port left `configuring`)
   * @returns {Promise<{added: string[], removed: string[], ms: number, failed: string[], why: string[]}>} the files
   *   netplan added and removed, waitConfigured's failed links
   */
  async jujuRebridge(dev, { skip = [] } = {}) {
    const before = Object.keys(this.networkFiles());
    this.writeNetplan(rebridge(this.netplan, dev));
    const after = Object.keys(this.generate());
    const t0 = Date.now();
    this.networkctl('reload');
    this.networkctl('reconfigure', dev);
    await sleep(300);
    const w = await this.waitConfigured({ links: this.netplanLinks().filter((l) => !skip.includes(l)) });
    const added = after.filter((f) => !before.includes(f));
    const removed = before.filter((f) => !after.includes(f));
    return { added, removed, ms: Date.now() - t0, failed: w.failed, why: w.why };
  }

  /**
   * Let networkd-dispatcher run vrf-host's hook scripts (`50-vrf-host` in its state directories)
   * or not: it runs only files with mode 0755 owned by root, so 0644 keeps a script from running.
   * @param {boolean} enabled
   */
  setVrfHostHooks(enabled) {
    for (const d of DISPATCHER_STATES) {
      const f = this.file(path.join('etc/networkd-dispatcher', d, '50-vrf-host'));
      if (existsSync(f)) chmodSync(f, enabled ? 0o755 : 0o644);
    }
  }

  /**
   * A DHCP server (busybox udhcpd) in `space`'s gateway namespace that leases the unit's own
   * address (a static lease on dhcpMac(space)), the gateway as router, for `leaseS` seconds.
   * @param {string} space
   * @param {{leaseS?: number}} [options]
   */
  async startDhcpServer(space, { leaseS = 120 } = {}) {
    const s = this.topo.spaces[space];
    if (!s) throw new NetworkdError(`DHCP server: no space ${space}`);
    const mac = dhcpMac(s);
    const iface = s.kind === 'vlan' ? 'lan' : 'lan0';
    const dir = path.join(this.dir, `dhcp-${space}`);
    mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'udhcpd.conf');
    writeFileSync(path.join(dir, 'leases'), '');
    writeFileSync(
      conf,
      [
        `start ${s.unitAddr}`,
        `end ${s.unitAddr}`,
        `interface ${iface}`,
        'max_leases 1',
        `lease_file ${dir}/leases`,
        `pidfile ${dir}/udhcpd.pid`,
        `static_lease ${mac} ${s.unitAddr}`,
        'option subnet 255.255.255.0',
        `option router ${s.gateway}`,
        `option lease ${leaseS}`,
        '',
      ].join('\n'),
    );
    const p = this.#daemon(`dhcp-${space}`, ['ip', 'netns', 'exec', s.gwNs, 'busybox', 'udhcpd', '-f', conf]);
    await sleep(200);
    if (p.child.exitCode !== null) throw new NetworkdError(`udhcpd did not start: ${p.output()}`);
  }

  /**
   * Output of a process this host started (networkd, dbus, dispatcher, dhcp-SPACE).
   * @param {string} name
   */
  output(name) {
    return this.procs[name]?.output() ?? '';
  }

  /**
   * A reboot: every process ends (the links stay until `rebuild` replaces them), /run is empty
   * again, /etc keeps what was written there (vrf-host's networkd files and dispatcher hooks,
   * netplan's YAML); `rebuild()` builds the unit's namespace again (buildTopology(…, {unitLinks:
   * 'nics'})) and returns the new topology; then netplan generate, dbus, networkd (and the
   * dispatcher) start as at boot, and this resolves once networkd has configured the links.
   * @param {() => Topology | Promise<Topology>} rebuild
   * @param {{dispatcher?: boolean, dhcp?: string|null}} [o]
   */
  async reboot(rebuild, { dispatcher = true, dhcp = null } = {}) {
    await this.#stopProcesses();
    this.topo = await rebuild();
    this.ns = this.topo.unit;
    await this.#boot({ dispatcher, dhcp, keepFiles: true });
  }

  async #stopProcesses() {
    const names = ['dispatcher', 'networkd', ...Object.keys(this.procs).filter((k) => k.startsWith('dhcp-')), 'dbus'];
    for (const k of names) {
      const p = this.procs[k];
      delete this.procs[k];
      if (p) await p.stop();
    }
    if (this.holder) await this.holder.stop();
    this.holder = null;
  }

  /**
   * A clean shutdown: networkd-dispatcher, networkd, dbus, the DHCP servers and the holder end (the
   * private mounts go with it), and DIR is removed. The links stay as networkd left them.
   */
  async stop() {
    await this.#stopProcesses();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
