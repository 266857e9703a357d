// Runs INSIDE the VM (the VM harness: scripts/vm/run.mjs runKernelJob), as root, cwd = repo root.
// Converges scenario 1's multi-homed unit from scratch three ways, in paired rounds:
//   floor      one `ip -n unit -batch FILE` of the same changes vrf-host makes (its own plan,
//              rendered; the `-6 … lookup local` lines written `from ::/0` so ONE process does all)
//   apply      vrf-host's converge(), timed in-process after Node started (bench/vm-apply.ts)
//   hook       the whole config-changed hook: `dispatch` with stub hook tools, real ip
//   ifupdown2  `ifup -a -i FILE` of the equivalent interfaces file (vrf, vrf-table, gateway,
//              post-up for the leaks, source rules and sysctls), Debian's package extracted
//   node -e 0  the baseline for the hook
// and then a scale grid (dummy members, static routes) in a namespace of its own: apply and
// no-op reconcile against the ip -batch floor of the same changes (and a raw ip -json read);
// and then the networkd apply path: scenario 1's unit with its links owned by the real
// systemd-networkd, vrf-host's apply and the whole hook seeing networkd or not (see below).
// Writes $VRF_HOST_RESULTS/vm-converge.json.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { networkGetFor, EXTRA_BINDINGS } from '../../tests/kernel/lib/charm.mjs';
import {
  buildTopology,
  controllerOf,
  destroyTopology,
  spaceOf as spaceOfTopology,
} from '../../tests/kernel/lib/topology.mjs';

const REPO = process.cwd();
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--scale-only')
  ? 'scale'
  : args.includes('--scenario-only')
    ? 'scenario'
    : args.includes('--networkd-only')
      ? 'networkd'
      : null;
const ROUNDS = 5;
const SCALE_ROUNDS = quick ? 2 : 3;
const ndRoundsArg = args.find((a) => a.startsWith('--nd-rounds='));
const ND_ROUNDS = ndRoundsArg ? Number(ndRoundsArg.split('=')[1]) : quick ? 2 : 5;
/** networkd and networkctl log at debug level with timestamps; their logs go to RESULTS. */
const ND_DEBUG = args.includes('--networkd-debug');
const GRID = quick
  ? [
      { vrfs: 4, members: 16, routes: 100 },
      { vrfs: 32, members: 128, routes: 1000 },
    ]
  : [
      { vrfs: 4, members: 16, routes: 100 },
      { vrfs: 32, members: 128, routes: 1000 },
      { vrfs: 128, members: 512, routes: 4000 },
    ];
const RESULTS = process.env.VRF_HOST_RESULTS ?? '/tmp';
const B = path.join(REPO, 'build', 'bench');
const APPLY = path.join(B, 'vm-apply.mjs');
const CHARM = path.join(B, 'charm');
const IFU = path.join(REPO, '.cache', 'ifupdown2', 'root');
const W = '/tmp/bench-vm';
/** @param {string} s */
const log = (s) => console.log(`[bench-vm ${(performance.now() / 1000).toFixed(1)}s] ${s}`);

/**
 * @param {[string, ...string[]]} argv
 * @param {{ input?: string, env?: NodeJS.ProcessEnv, allowFail?: boolean }} [options]
 */
function sh(argv, { input, env, allowFail = false } = {}) {
  const t = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), {
    input,
    env: env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    timeout: 600_000,
  });
  const ms = performance.now() - t;
  if (!allowFail && (r.status !== 0 || r.error))
    throw new Error(`${argv.join(' ')} → ${r.status ?? r.error}: ${(r.stderr ?? '').trim().slice(0, 2000)}`);
  return { ms, code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
/**
 * `sh` without blocking the event loop, for everything that runs while systemd-networkd does:
 * NetworkdHost reads networkd's log through a pipe on this event loop, so a spawnSync that
 * waits on networkd (a converge's `networkctl reload`, a `networkctl list`) let the pipe fill;
 * networkd then blocked writing its log, and the call waited out D-Bus's 25 s timeout (twice
 * for `networkctl reload`: its namespace query, then Reload) — the ~54 s first measured here.
 * @param {[string, ...string[]]} argv
 * @param {{ env?: NodeJS.ProcessEnv }} [options]
 * @returns {Promise<{ ms: number, code: number | null, stdout: string, stderr: string }>}
 */
function shAsync(argv, { env } = {}) {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0], argv.slice(1), { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => {
      const ms = performance.now() - t;
      if (code !== 0) reject(new Error(`${argv.join(' ')} → ${code}: ${stderr.trim().slice(0, 2000)}`));
      else resolve({ ms, code, stdout, stderr });
    });
  });
}
/** @param {readonly number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
};
/** @param {readonly number[]} xs */
const last = (xs) => xs.at(-1) ?? NaN;

/**
 * What bench/vm-apply.ts prints (its last line), plus the process's own time.
 * @typedef {{ argv: string[], at?: number, ms: number, lines?: number }} Spawn
 * @typedef {{ ok: boolean, problems: unknown, failure: unknown, applyMs: number, loadMs: number, spawnMs: number,
 *   spawns: Spawn[], steps: number, commands: string[], processMs: number }} ApplyOut
 */

rmSync(W, { recursive: true, force: true });
mkdirSync(W, { recursive: true });
// A dry run (the plan job) never loads modules; on a real host the first VRF would.
for (const m of ['vrf', 'bonding', '8021q', 'dummy']) sh(['modprobe', m], { allowFail: true });
if (!existsSync('/sys/module/vrf')) throw new Error('modprobe vrf did not load the vrf module in the VM');

// ---------------------------------------------------------------------------------------------
// Scenario 1 inputs, as the kernel suite's automatic-mode run gives them
// ---------------------------------------------------------------------------------------------
const GATEWAYS =
  'public=172.16.0.1 storage=10.10.4.1 storage-cluster=10.10.5.1 public=fd00:0:1::1 storage=fd00:0:2::1 storage-cluster=fd00:0:3::1';
// The charm's defaults (preserve-reachability on: leaks into main and per-address source rules).
// `--no-preserve` measures without them (before b24616c, vrf-host's IPv6 source rules failed on
// iproute2 6.1: `ip rule add from fd00::10/128` without -6 is sent as AF_INET).
const PRESERVE = !args.includes('--no-preserve');
const CONFIG = { gateways: GATEWAYS, 'preserve-reachability': PRESERVE };
let topo = buildTopology();
/**
 * The space a binding is bound to (an extra binding named after a space: that space; else the default).
 * @param {string} b
 */
const spaceOf = (b) => {
  const s = EXTRA_BINDINGS.includes(b) ? topo.spaces[b] : undefined;
  return s ?? spaceOfTopology(topo, topo.defaultSpace);
};
const bindings = Object.fromEntries(
  ['juju-info', ...EXTRA_BINDINGS].map((b) => {
    const s = spaceOf(b);
    const addresses = [
      { address: s.unitAddr, cidr: s.cidr },
      ...(s.unitAddr6 ? [{ address: s.unitAddr6, cidr: s.cidr6 }] : []),
    ];
    return [b, [{ name: s.dev, addresses }]];
  }),
);
const controllers = [controllerOf(topo).addr];

/**
 * @param {string} name
 * @param {object} extra
 */
function applyJob(name, extra) {
  const root = path.join(W, `root-${name}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const file = path.join(W, `job-${name}.json`);
  writeFileSync(file, JSON.stringify({ root, ...extra }));
  return file;
}
/**
 * @param {string} ns
 * @param {string} job
 * @returns {ApplyOut}
 */
function runApply(ns, job) {
  const r = sh(['ip', 'netns', 'exec', ns, process.execPath, APPLY, job]);
  /** @type {Omit<ApplyOut, 'processMs'>} printed by bench/vm-apply.ts */
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  if (!out.ok)
    throw new Error(
      `vrf-host converge in ${ns} failed:` +
        ` ${JSON.stringify({ problems: out.problems, failure: out.failure, spawns: out.spawns?.map((x) => x.argv.join(' ')) })}`,
    );
  return { ...out, processMs: r.ms };
}

/**
 * vrf-host's plan as the fewest ip processes: one `ip -batch` of every line, then one `ip -6 -batch`
 * of the lines that need it (`ip rule` takes its family only from -6, never from the address; the
 * IPv6 rule lines commute with the rest, so they can all go last). Sysctl steps are not ip.
 * @param {readonly string[]} commands
 */
function floorOf(commands) {
  /** @type {string[]} */
  const lines = [];
  /** @type {string[]} */
  const lines6 = [];
  /** @type {string[]} */
  const sysctlArgs = [];
  for (const c of commands) {
    if (c.startsWith('sysctl ')) {
      sysctlArgs.push(c.replace(/^sysctl -w /, ''));
      continue;
    }
    const l = c.replace(/^ip /, '');
    if (l.startsWith('-6 ')) lines6.push(l.slice(3));
    else lines.push(l);
  }
  return {
    text: `${lines.join('\n')}\n`,
    text6: lines6.length ? `${lines6.join('\n')}\n` : null,
    sysctlArgs,
    lines: lines.length + lines6.length,
    processes: (lines6.length ? 2 : 1) + (sysctlArgs.length ? 1 : 0),
    sysctls: sysctlArgs.length,
  };
}
/**
 * The floor: ONE `sysctl -qw` first (keep_addr_on_down must precede the enslaves), then the IPv6
 * rule lines (the l3mdev rule must be there before the first VRF, which would add it itself; the
 * rest are rules, which need no device), then everything else.
 * @param {string} ns
 * @param {ReturnType<typeof floorOf>} f
 * @param {string} file
 */
function runFloor(ns, f, file) {
  writeFileSync(file, f.text);
  let ms = 0;
  if (f.sysctlArgs.length) ms += sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', ...f.sysctlArgs]).ms;
  if (f.text6) {
    writeFileSync(`${file}6`, f.text6);
    ms += sh(['ip', '-n', ns, '-6', '-batch', `${file}6`]).ms;
  }
  ms += sh(['ip', '-n', ns, '-batch', file]).ms;
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Check: what each method leaves behind (VRFs, members, per-VRF defaults)
// ---------------------------------------------------------------------------------------------
/** @param {string} ns */
function checkConverged(ns) {
  /** @type {any[]} ip's JSON, read loosely */
  const links = JSON.parse(sh(['ip', '-n', ns, '-json', '-details', 'link', 'show']).stdout);
  const byName = new Map(links.map((l) => [l.ifname, l]));
  const want = { public: 'br-ens4', storage: 'bond0', 'storage-cluster': 'bond0.105' };
  /** @type {string[]} */
  const problems = [];
  for (const [vrf, member] of Object.entries(want)) {
    const l = byName.get(vrf);
    if (!l || l.linkinfo?.info_kind !== 'vrf') problems.push(`no VRF ${vrf}`);
    if (byName.get(member)?.master !== vrf) problems.push(`${member} not in ${vrf}`);
    const table = l?.linkinfo?.info_data?.table;
    if (table !== undefined) {
      /** @type {{ gateway?: string }[]} */
      const r4 = JSON.parse(sh(['ip', '-n', ns, '-json', 'route', 'show', 'table', String(table), 'default']).stdout);
      if (!r4.some((r) => r.gateway)) problems.push(`no IPv4 default via a gateway in table ${table}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// ifupdown2, extracted (never installed on the host: this is the VM's throwaway overlay)
// ---------------------------------------------------------------------------------------------
const haveIfu = existsSync(path.join(IFU, 'usr/share/ifupdown2/__main__.py'));
const IFUP = path.join(W, 'ifu-bin', 'ifup');
function setupIfupdown2() {
  mkdirSync(path.dirname(IFUP), { recursive: true });
  symlinkSync(path.join(IFU, 'usr/share/ifupdown2/__main__.py'), IFUP);
  mkdirSync('/etc/network', { recursive: true });
  cpSync(path.join(IFU, 'etc/network/ifupdown2'), '/etc/network/ifupdown2', { recursive: true });
  mkdirSync('/var/lib/ifupdown2', { recursive: true });
}
function interfacesFile() {
  /** @param {string} name */
  const s = (name) => spaceOfTopology(topo, name);
  /** @type {[string, number][]} */
  const vrfs = [
    ['public', 1001],
    ['storage', 1002],
    ['storage-cluster', 1003],
  ];
  const out = ['# scenario 1 converged the way vrf-host converges it, as ifupdown2 stanzas', ''];
  for (const [name, table] of vrfs) {
    const sp = s(name);
    out.push(`auto ${name}`, `iface ${name}`, `    vrf-table ${table}`);
    if (PRESERVE) {
      // what ifupdown2 has no keyword for: vrf-host's preserve-reachability leaks and source rules
      out.push(`    post-up ip route replace ${sp.cidr} dev ${name} table main`);
      if (sp.cidr6) out.push(`    post-up ip -6 route replace ${sp.cidr6} dev ${name} table main`);
      out.push(`    post-up ip rule add pref 99 from ${sp.unitAddr} lookup ${table}`);
      if (sp.unitAddr6) out.push(`    post-up ip -6 rule add pref 99 from ${sp.unitAddr6} lookup ${table}`);
    }
    out.push('');
  }
  /**
   * @param {import('../../tests/kernel/lib/topology.mjs').Space} sp
   * @param {string} vrf
   * @param {readonly string[]} extra
   */
  const member = (sp, vrf, extra) => {
    out.push(`auto ${sp.dev}`, `iface ${sp.dev}`, ...extra.map((e) => `    ${e}`));
    out.push(`    address ${sp.unitAddr}/24`);
    if (sp.unitAddr6) out.push(`    address ${sp.unitAddr6}/64`);
    out.push(`    vrf ${vrf}`, `    gateway ${sp.gateway}`);
    if (sp.gateway6) out.push(`    gateway ${sp.gateway6}`);
    out.push('');
  };
  member(s('public'), 'public', ['bridge-ports ens4', 'bridge-stp off', 'bridge-fd 0']);
  member(s('storage'), 'storage', ['bond-slaves ens5 ens6', 'bond-mode active-backup', 'bond-miimon 100']);
  member(s('storage-cluster'), 'storage-cluster', ['vlan-raw-device bond0', 'vlan-id 105']);
  out.push(
    'auto lo',
    'iface lo inet loopback',
    '    post-up sysctl -qw net.ipv4.tcp_l3mdev_accept=1 net.ipv4.udp_l3mdev_accept=1' +
      ' net.ipv6.conf.all.keep_addr_on_down=1 net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1',
    '',
  );
  return `${out.join('\n')}\n`;
}
/**
 * @param {string} ns
 * @param {string} file
 */
function runIfupdown2(ns, file) {
  rmSync('/run/network', { recursive: true, force: true });
  rmSync('/var/lib/ifupdown2', { recursive: true, force: true });
  mkdirSync('/run/network', { recursive: true });
  mkdirSync('/var/lib/ifupdown2', { recursive: true });
  const env = { ...process.env, PYTHONPATH: path.join(IFU, 'usr/share') };
  return sh(['ip', 'netns', 'exec', ns, '/usr/bin/python3', IFUP, '-a', '-i', file], { env, allowFail: true });
}

// ---------------------------------------------------------------------------------------------
// The whole hook: dispatch config-changed with stub hook tools (sh, canned output), real ip
// ---------------------------------------------------------------------------------------------
const STUBS = path.join(W, 'stubs');
const DATA = path.join(W, 'stub-data');
function setupStubs() {
  mkdirSync(STUBS, { recursive: true });
  mkdirSync(DATA, { recursive: true });
  writeFileSync(
    path.join(DATA, 'config-get.out'),
    `${JSON.stringify({ vrfs: '', gateways: GATEWAYS, 'table-range': '1001-5000', strict: true, 'move-local-rule': true, 'exclude-interfaces': '', 'preserve-reachability': PRESERVE, 'nonlocal-bind': true, 'space-routes': '', 'l3mdev-accept': true, 'heal-drift': true, 'dry-run': false })}\n`,
  );
  for (const b of ['juju-info', ...EXTRA_BINDINGS])
    writeFileSync(
      path.join(DATA, `network-get.${b}.out`),
      `${JSON.stringify(networkGetFor(spaceOf(b), { ipv6: topo.ipv6 }))}\n`,
    );
  /**
   * @param {string} name
   * @param {string} body
   */
  const stub = (name, body) => {
    const p = path.join(STUBS, name);
    writeFileSync(
      p,
      [
        '#!/bin/sh',
        `emit() { while IFS= read -r l || [ -n "$l" ]; do printf '%s\\n' "$l"; done < "$1"; }`,
        'drain() { while IFS= read -r l || [ -n "$l" ]; do :; done; }',
        body,
        'exit 0',
        '',
      ].join('\n'),
    );
    chmodSync(p, 0o755);
  };
  stub('config-get', `emit "${DATA}/config-get.out"`);
  stub('network-get', `for a in "$@"; do b=$a; done; emit "${DATA}/network-get.$b.out"`);
  stub('status-get', `echo '{"message":"","status":"maintenance","status-data":{}}'`);
  stub('is-leader', 'echo true');
  stub('state-get', "echo '{}'");
  stub('state-set', 'drain');
  for (const t of ['juju-log', 'status-set', 'application-version-set']) stub(t, '');
}
/**
 * The command of the whole config-changed hook (argv and environment), vrf-host's files under `root`.
 * @param {string} ns
 * @param {string} root emptied here, unless `wrap` is given (the caller prepares it then)
 * @param {string[] | null} [wrap] argv that enters the host instead of `ip netns exec NS`
 */
function hookCommand(ns, root, wrap = null) {
  if (!wrap) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
  }
  const env = {
    PATH: `${STUBS}:${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: W,
    JUJU_DISPATCH_PATH: 'hooks/config-changed',
    JUJU_UNIT_NAME: 'vrf-host/0',
    JUJU_MODEL_NAME: 'bench',
    JUJU_MODEL_UUID: '00000000-0000-4000-8000-000000000000',
    JUJU_CHARM_DIR: CHARM,
    JUJU_VERSION: '3.5.4',
    JUJU_API_ADDRESSES: `${controllerOf(topo).addr}:17070`,
    JUJU_MACHINE_ID: '0',
    VRF_HOST_ROOT: root,
    VRF_HOST_BOOT: '0',
  };
  const [cmd = 'ip', ...rest] = [...(wrap ?? ['ip', 'netns', 'exec', ns]), path.join(CHARM, 'dispatch')];
  return { argv: /** @type {[string, ...string[]]} */ ([cmd, ...rest]), env };
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: paired rounds
// ---------------------------------------------------------------------------------------------
/** @typedef {'floor' | 'apply' | 'hook' | 'ifupdown2'} Method */
/**
 * @type {{ skipped: boolean, rounds: number,
 *   samples: Record<Method | 'applyProcess' | 'nodeE0', number[]>, checks: Partial<Record<Method, string[]>>,
 *   notes: string[], plan?: object, lastApply?: object, medians?: Record<string, number> }}
 */
const scenario = {
  skipped: only === 'scale' || only === 'networkd',
  rounds: ROUNDS,
  samples: { floor: [], apply: [], applyProcess: [], hook: [], nodeE0: [], ifupdown2: [] },
  checks: {},
  notes: [],
};
let ifaceText = '';
if (only === null || only === 'scenario') {
  log('scenario 1: planning');
  const planOut = runApply(topo.unit, applyJob('plan', { mode: 'plan', config: CONFIG, bindings, controllers }));
  const floor = floorOf(planOut.commands);
  const FLOOR = path.join(W, 'scenario1.batch');
  writeFileSync(
    path.join(RESULTS, 'scenario1.floor.batch'),
    `# sysctl -qw ${floor.sysctlArgs.join(' ')}\n${floor.text6 ? `# ip -6 -batch:\n${floor.text6}# ip -batch:\n` : ''}${floor.text}`,
  );
  const IFACES = path.join(W, 'interfaces');
  if (haveIfu) {
    setupIfupdown2();
    ifaceText = interfacesFile();
    writeFileSync(IFACES, ifaceText);
    writeFileSync(path.join(RESULTS, 'scenario1.interfaces'), ifaceText);
  } else scenario.notes.push(`ifupdown2 not extracted at ${IFU}: skipped`);
  setupStubs();
  scenario.plan = {
    steps: planOut.steps,
    floorLines: floor.lines,
    floorProcesses: floor.processes,
    sysctlSteps: floor.sysctls,
    preserveReachability: PRESERVE,
    commands: planOut.commands,
  };

  /** @type {Record<Method, () => void>} */
  const methods = {
    floor: () => {
      scenario.samples.floor.push(runFloor(topo.unit, floor, FLOOR));
    },
    apply: () => {
      const r = runApply(topo.unit, applyJob('apply', { mode: 'apply', config: CONFIG, bindings, controllers }));
      scenario.samples.apply.push(r.applyMs);
      scenario.samples.applyProcess.push(r.processMs);
      scenario.lastApply = {
        spawns: r.spawns.map((/** @type {Spawn} */ s) => ({
          argv: s.argv.slice(0, 8).join(' '),
          ms: Math.round(s.ms),
          lines: s.lines,
        })),
        spawnMs: r.spawnMs,
        applyMs: r.applyMs,
        loadMs: r.loadMs,
        steps: r.steps,
      };
    },
    hook: () => {
      const h = hookCommand(topo.unit, path.join(W, 'root-hook'));
      scenario.samples.hook.push(sh(h.argv, { env: h.env }).ms);
    },
    ifupdown2: () => {
      const r = runIfupdown2(topo.unit, IFACES);
      scenario.samples.ifupdown2.push(r.ms);
      if (r.code !== 0)
        scenario.notes.push(`ifupdown2 exit ${r.code}: ${r.stderr.trim().split('\n').slice(-4).join(' | ')}`);
    },
  };
  const names = /** @type {const} */ (['floor', 'apply', 'hook', 'ifupdown2']).filter(
    (m) => m !== 'ifupdown2' || haveIfu,
  );
  for (let round = -1; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const m of order) {
      topo = buildTopology(); // from scratch every time (untimed)
      const before = {
        floor: scenario.samples.floor.length,
        apply: scenario.samples.apply.length,
        hook: scenario.samples.hook.length,
        ifupdown2: scenario.samples.ifupdown2.length,
      };
      methods[m]();
      if (round < 0) {
        // warm-up round: not counted, but checked
        scenario.samples[m].splice(before[m]);
        if (m === 'apply') scenario.samples.applyProcess.splice(before.apply);
        const problems = checkConverged(topo.unit);
        scenario.checks[m] = problems;
        log(`warm-up ${m}: ${problems.length === 0 ? 'converged' : problems.join('; ')}`);
      }
      // node -e 0 in the same namespace, next to every method run (the hook's baseline)
      if (m === 'hook' && round >= 0)
        scenario.samples.nodeE0.push(sh(['ip', 'netns', 'exec', topo.unit, process.execPath, '-e', '0']).ms);
    }
    if (round >= 0)
      log(
        `round ${round + 1}/${ROUNDS}: ${names.map((m) => `${m} ${Math.round(last(scenario.samples[m]))} ms`).join(', ')}`,
      );
  }
}
destroyTopology(topo);
scenario.medians = Object.fromEntries(
  Object.entries(scenario.samples)
    .filter(([, v]) => v.length)
    .map(([k, v]) => [k, median(v)]),
);

// ---------------------------------------------------------------------------------------------
// Scale grid: dummy members + static routes in a namespace of their own
// ---------------------------------------------------------------------------------------------
/** @type {typeof import('../vm-scale-lines.js')} (bundled into build/bench by npm run bench) */
const { scaleSetup } = await import(path.join(B, 'vm-scale-lines.mjs'));
const NS = 'benchscale';
/** @param {{ vrfs: number, members: number, routes: number }} size */
function freshScaleNs(size) {
  sh(['ip', 'netns', 'del', NS], { allowFail: true });
  sh(['ip', 'netns', 'add', NS]);
  const setup = path.join(W, 'scale-setup.batch');
  writeFileSync(setup, scaleSetup(size).setup);
  sh(['ip', '-n', NS, '-batch', setup]);
}
/** @type {object[]} */
const scale = [];
for (const size of only === null || only === 'scale' ? GRID : []) {
  const label = `${size.vrfs}×${size.members}×${size.routes}`;
  log(`scale ${label}: planning`);
  freshScaleNs(size);
  const p = runApply(NS, applyJob('scale-plan', { mode: 'plan', scale: size }));
  const f = floorOf(p.commands);
  const floorFile = path.join(W, 'scale.batch');
  const readFile = path.join(W, 'scale-read.batch');
  writeFileSync(readFile, scaleSetup(size).read);
  /**
   * @type {{ size: typeof size, steps: number, lastApply?: object, lastNoop?: object, medians?: Record<string, number> }
   *   & Record<'floor' | 'apply' | 'applyProcess' | 'noop' | 'noopProcess' | 'read' | 'noopSteps' | 'spawnMs', number[]>}
   */
  const s = {
    size,
    steps: p.steps,
    floor: [],
    apply: [],
    applyProcess: [],
    noop: [],
    noopProcess: [],
    read: [],
    noopSteps: [],
    spawnMs: [],
  };
  for (let round = 0; round < SCALE_ROUNDS; round++) {
    const order = round % 2 === 0 ? ['floor', 'apply'] : ['apply', 'floor'];
    for (const m of order) {
      freshScaleNs(size);
      if (m === 'floor') {
        s.floor.push(runFloor(NS, f, floorFile));
      } else {
        const a = runApply(NS, applyJob('scale', { mode: 'apply', scale: size }));
        s.apply.push(a.applyMs);
        s.applyProcess.push(a.processMs);
        s.spawnMs.push(a.spawnMs);
        // a second hook on the converged host: the no-op reconcile, and the raw read it needs
        const n = runApply(NS, applyJob('scale-noop', { mode: 'apply', scale: size }));
        s.noop.push(n.applyMs);
        s.noopProcess.push(n.processMs);
        s.noopSteps.push(n.steps);
        /** @param {ApplyOut} x */
        const brief = (x) => ({
          applyMs: Math.round(x.applyMs),
          loadMs: Math.round(x.loadMs),
          spawnMs: Math.round(x.spawnMs),
          spawns: x.spawns.map((sp) => ({
            argv: sp.argv.slice(0, 7).join(' '),
            ms: Math.round(sp.ms),
            lines: sp.lines,
          })),
        });
        s.lastApply = brief(a);
        s.lastNoop = brief(n);
        s.read.push(sh(['ip', '-n', NS, '-json', '-details', '-Numeric', '-batch', readFile]).ms);
      }
    }
    log(
      `scale ${label} round ${round + 1}: floor ${Math.round(last(s.floor))} ms, apply ${Math.round(last(s.apply))} ms,` +
        ` no-op ${Math.round(last(s.noop))} ms (${s.noopSteps.at(-1)} steps), raw read ${Math.round(last(s.read))} ms`,
    );
  }
  s.medians = {
    floor: median(s.floor),
    apply: median(s.apply),
    applyProcess: median(s.applyProcess),
    noop: median(s.noop),
    noopProcess: median(s.noopProcess),
    read: median(s.read),
    spawnMs: median(s.spawnMs),
  };
  scale.push(s);
}
sh(['ip', 'netns', 'del', NS], { allowFail: true });

// ---------------------------------------------------------------------------------------------
// The networkd apply path: scenario 1's unit with its links owned by the real systemd-networkd
// (netplan's files, tests/kernel/lib/networkd.mjs: its own mount namespace, /sys read-only, a
// dbus-daemon --system, as kernel scenario 31 runs it), converged from scratch four ways in
// paired rounds:
//   plain         vrf-host's converge (bench/vm-apply.ts, in-process) with a root that has no
//                 run/systemd/netif/state, so it does not see networkd: the ip path alone, what
//                 vrf-host does on a host without networkd
//   networkd      the same converge seeing networkd: the ip path with proto static, the files under
//                 /etc/systemd/network, one `networkctl reload`, and the re-observe while networkd
//                 reacts
//   hookPlain     the whole config-changed hook (dispatch, stub hook tools), not seeing networkd
//   hookNetworkd  the same hook seeing networkd
// Between two converges (untimed): vrf-host's teardown with the same root, and a wait until
// networkd has configured every link again.
// ---------------------------------------------------------------------------------------------
/** @typedef {'plain' | 'networkd' | 'hookPlain' | 'hookNetworkd'} NdMethod */
/** @type {readonly NdMethod[]} */
const ND_METHODS = ['plain', 'networkd', 'hookPlain', 'hookNetworkd'];
/**
 * @type {{ skipped: boolean, rounds: number, samples: Record<NdMethod, number[]>,
 *   steps: Partial<Record<'plain' | 'networkd', number>>,
 *   spawns: Partial<Record<'plain' | 'networkd', { argv: string, ms: number, lines: number | undefined }[]>>,
 *   teardownMs: number[], configuredMs: number[], checks: Partial<Record<NdMethod, string[]>>,
 *   medians?: Record<NdMethod, number>, untimed?: { teardown: number, configured: number } }}
 */
const networkd = {
  skipped: !(only === null || only === 'networkd'),
  rounds: ND_ROUNDS,
  samples: { plain: [], networkd: [], hookPlain: [], hookNetworkd: [] },
  steps: {},
  spawns: {},
  teardownMs: [],
  configuredMs: [],
  checks: {},
};
if (!networkd.skipped) {
  const { NetworkdHost, netplanFor } = await import('../../tests/kernel/lib/networkd.mjs');
  const { MULTI_HOMED } = await import('../../tests/kernel/lib/topology.mjs');
  topo = buildTopology(MULTI_HOMED, { unitLinks: 'nics' });
  setupStubs(); // the hook's network-get answers: the spaces of this topology
  if (ND_DEBUG) {
    process.env.SYSTEMD_LOG_TIME = '1';
    process.env.VRF_HOST_NETWORKD_LOG = 'debug';
    // networkd's and dbus-daemon's output, written before the host stops (a failed start stops it too)
    const stop = NetworkdHost.prototype.stop;
    NetworkdHost.prototype.stop = function () {
      writeFileSync(path.join(RESULTS, 'networkd.log'), this.output('networkd'));
      writeFileSync(path.join(RESULTS, 'dbus.log'), this.output('dbus'));
      return stop.call(this);
    };
  }
  log('networkd: starting systemd-networkd on the unit namespace');
  const host = await NetworkdHost.start({ topo, netplan: netplanFor(topo), dispatcher: false });
  /** @param {NdMethod} m */
  const seesNetworkd = (m) => m === 'networkd' || m === 'hookNetworkd';
  /** @param {Spawn[]} spawns */
  const spawnText = (spawns) =>
    spawns.map((s) => `${s.argv.slice(0, 4).join(' ')} @${Math.round(s.at ?? 0)}+${Math.round(s.ms)}`).join(', ');
  try {
    /** @param {NdMethod} m */
    const fresh = (m) => {
      const root = path.join(W, `root-nd-${m}`);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      if (seesNetworkd(m)) {
        // networkd's state and the directory vrf-host writes, as the holder's mount namespace has them
        mkdirSync(path.join(root, 'run'), { recursive: true });
        mkdirSync(path.join(root, 'etc/systemd'), { recursive: true });
        symlinkSync(host.file('run/systemd'), path.join(root, 'run/systemd'));
        symlinkSync(host.file('etc/systemd/network'), path.join(root, 'etc/systemd/network'));
      }
      return root;
    };
    /**
     * @param {string} root
     * @param {'apply' | 'teardown'} mode
     */
    const job = (root, mode) => {
      const file = path.join(W, `job-nd-${mode}.json`);
      writeFileSync(file, JSON.stringify({ root, mode, config: CONFIG, bindings, controllers }));
      return file;
    };
    /**
     * bench/vm-apply.ts on the host (its mount and network namespace).
     * @param {string} file
     * @returns {Promise<ApplyOut & { warnings: string[] }>}
     */
    const inHost = async (file) => {
      const [cmd = 'nsenter', ...rest] = host.argv([process.execPath, APPLY, file]);
      const r = await shAsync([cmd, ...rest], ND_DEBUG ? { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'debug' } } : {});
      return { ...JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}'), processMs: r.ms };
    };
    // nsenter resets the working directory: Juju runs dispatch in the charm directory
    const hookWrap = ['nsenter', '-t', String(host.pid), '-m', '-n', `--wd=${CHARM}`, '--'];
    /** vrf-host's files networkd has now (the hook's own view of what it gave networkd). */
    const given = () => readdirSync(host.file('etc/systemd/network')).filter((f) => f.startsWith('05-vrf-host-'));
    /**
     * @param {NdMethod} m
     * @param {boolean} warm
     */
    const runOnce = async (m, warm) => {
      const root = fresh(m);
      if (ND_DEBUG) log(`networkd ${m}: converging at ${new Date().toISOString()}`);
      if (m === 'plain' || m === 'networkd') {
        const a = await inHost(job(root, 'apply'));
        if (!a.ok)
          throw new Error(
            `networkd bench: ${m} converge failed: ${JSON.stringify({ problems: a.problems, failure: a.failure })}`,
          );
        // A networkctl reload that failed (e.g. timed out on the bus) is not the path to measure.
        if (a.warnings.length) throw new Error(`networkd bench: ${m} converge warned: ${a.warnings.join('; ')}`);
        if (!warm) networkd.samples[m].push(a.applyMs);
        networkd.steps[m] = a.steps;
        networkd.spawns[m] = a.spawns.map((s) => ({
          argv: s.argv.slice(0, 8).join(' '),
          ms: Math.round(s.ms),
          lines: s.lines,
        }));
        log(`networkd ${m}: ${Math.round(a.applyMs)} ms, ${a.steps} steps; spawns: ${spawnText(a.spawns)}`);
      } else {
        const h = hookCommand(topo.unit, root, hookWrap);
        const r = await shAsync(h.argv, { env: h.env });
        if (!warm) networkd.samples[m].push(r.ms);
        log(`networkd ${m}: ${Math.round(r.ms)} ms`);
      }
      if (warm) {
        const problems = checkConverged(topo.unit);
        const files = given();
        if (seesNetworkd(m) && files.length === 0) problems.push('no file given to networkd');
        if (!seesNetworkd(m) && files.length > 0) problems.push(`files given to networkd: ${files.join(' ')}`);
        networkd.checks[m] = problems;
        log(`networkd warm-up ${m}: ${problems.length === 0 ? 'converged' : problems.join('; ')}`);
      }
      const t0 = performance.now();
      if (ND_DEBUG) log(`networkd ${m}: tearing down at ${new Date().toISOString()}`);
      const td = await inHost(job(root, 'teardown'));
      if (!td.ok) throw new Error(`networkd bench: ${m} teardown failed: ${JSON.stringify(td.problems)}`);
      return { teardownMs: performance.now() - t0, spawns: td.spawns };
    };
    for (let round = -1; round < ND_ROUNDS; round++) {
      const order = round % 2 === 0 ? ND_METHODS : [...ND_METHODS].reverse();
      for (const m of order) {
        const td = await runOnce(m, round < 0);
        const t1 = performance.now();
        const w = await host.waitConfigured();
        const configuredMs = performance.now() - t1;
        networkd.teardownMs.push(td.teardownMs);
        networkd.configuredMs.push(configuredMs);
        log(
          `networkd ${m} teardown ${Math.round(td.teardownMs)} ms (${spawnText(td.spawns)}); ` +
            `configured again in ${Math.round(configuredMs)} ms (failed: ${w.failed.join(' ') || 'none'})`,
        );
      }
      if (round >= 0)
        log(
          `networkd round ${round + 1}/${ND_ROUNDS}: ` +
            ND_METHODS.map((m) => `${m} ${Math.round(last(networkd.samples[m]))} ms`).join(', '),
        );
    }
  } finally {
    await host.stop();
    destroyTopology(topo);
  }
  networkd.medians = {
    plain: median(networkd.samples.plain),
    networkd: median(networkd.samples.networkd),
    hookPlain: median(networkd.samples.hookPlain),
    hookNetworkd: median(networkd.samples.hookNetworkd),
  };
  networkd.untimed = { teardown: median(networkd.teardownMs), configured: median(networkd.configuredMs) };
}

const out = {
  machine: {
    cores: os.cpus().length,
    kernel: os.release(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    iproute2: sh(['ip', '-V']).stdout.trim(),
  },
  scenario,
  ifupdown2: haveIfu ? { interfaces: ifaceText } : null,
  scale,
  networkd,
};
writeFileSync(path.join(RESULTS, 'vm-converge.json'), JSON.stringify(out, null, 2));
log('done');
