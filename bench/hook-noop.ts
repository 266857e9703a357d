/**
 * No-op hook: the packed charm's `dispatch` running update-status on a host
 * that is already converged, with every hook tool and `ip` stubbed by a tiny
 * POSIX sh script printing canned output (`exec cat`), so the figure is the
 * charm's own cost. Measured four ways: a memo hit (dispatch answering from
 * its record, src/charm/memo.sh: what nearly every update-status does), the
 * periodic full run (the record aged past its maximum: what one update-status
 * in every cycle does), in full (VRF_HOST_MEMO=0), and a miss (the whole hit,
 * then the full run). Paired rounds against `node -e 0` in the same run; peak RSS
 * through /usr/bin/time; every process the hook starts is counted (the stubs
 * append their argv to a log with shell builtins only, so counting costs no
 * process), and so is every hook-tool call that reaches the controller.
 *
 * With `--before-charm DIR` (the charm of an earlier commit, built by
 * scripts/bench.mjs), the same counted runs on that charm give the
 * before/after table of hook-tool calls per unit per hour.
 *
 * The converged host is the recorded MAAS host (tests/fixtures/ip/maas-host,
 * real iproute2 6.1 output) converged on the planner's kernel model, printed
 * back as `ip -json` (checked by a round trip through parseObserved).
 *
 *   node build/bench/hook-noop.mjs --charm DIR [--before-charm DIR] [--quick] [--rounds N]
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { charmOnlyDefaults } from '../src/charm/inputs.js';
import { MEMO_MAX_AGE_MS } from '../src/charm/memo.js';
import { parseEngineConfig, DEFAULT_CONFIG_RAW } from '../src/vrf/config.js';
import { deriveDesired } from '../src/vrf/derive.js';
import { persistHostFiles } from '../src/vrf/engine.js';
import { simulate } from '../src/vrf/model.js';
import { parseObserved } from '../src/vrf/observe.js';
import { writeState } from '../src/vrf/persist.js';
import { plan } from '../src/vrf/plan.js';
import type { Bindings, DesiredState, ObservedHost, Sysctls } from '../src/vrf/types.js';
import { EMPTY_LEDGER, OWNED_SYSCTLS } from '../src/vrf/types.js';
import { ipJsonOf } from './lib/ipjson.js';
import { median, paired } from './lib/stats.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
const ROUNDS = Number(arg('--rounds') ?? (quick ? 5 : 11));
const charmDir = resolve(arg('--charm') ?? 'build/bench/charm');
const beforeCharmDir = arg('--before-charm') === undefined ? null : resolve(arg('--before-charm')!);
/** How long the earlier charm kept its record (its full runs per hour follow from it). */
const beforeCycleMin = Number(arg('--before-cycle-min') ?? '30');
const REPO = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');
const FIX = join(REPO, 'tests/fixtures/ip/maas-host');
if (!existsSync(join(charmDir, 'dist/vrf-host.cjs')))
  throw new Error(`${charmDir}/dist/vrf-host.cjs is missing: run npm run bench (it builds the charm)`);

const CONTROLLERS = ['10.100.0.5', '2001:db8:100::5'];
const UNIT = 'vrf-host/0';

// ---------------------------------------------------------------------------
// The host: the recorded MAAS host, converged on the model
// ---------------------------------------------------------------------------

const bindingIfaces: Record<string, { dev: string; addrs: [string, string][] }> = {
  'juju-info': {
    dev: 'ens3',
    addrs: [
      ['10.0.0.10', '10.0.0.0/24'],
      ['2001:db8:0:1::10', '2001:db8:0:1::/64'],
    ],
  },
  public: {
    dev: 'br-ens4',
    addrs: [
      ['172.16.0.10', '172.16.0.0/24'],
      ['2001:db8:16::10', '2001:db8:16::/64'],
    ],
  },
  storage: {
    dev: 'bond0',
    addrs: [
      ['10.10.4.10', '10.10.4.0/24'],
      ['2001:db8:4::10', '2001:db8:4::/64'],
    ],
  },
  'storage-cluster': { dev: 'bond0.105', addrs: [['10.10.5.10', '10.10.5.0/24']] },
};
const metadataBindings = ['mgmt', 'public', 'internal', 'admin', 'storage', 'storage-cluster', 'tenant'];
const bindingOf = (b: string) => bindingIfaces[b] ?? bindingIfaces['juju-info']!;

function networkGetJson(b: string): string {
  const i = bindingOf(b);
  return JSON.stringify({
    'bind-addresses': [
      {
        'mac-address': '00:00:00:00:00:00',
        'interface-name': i.dev,
        addresses: i.addrs.map(([address, cidr]) => ({ hostname: '', address, cidr, value: address })),
        macaddress: '00:00:00:00:00:00',
        interfacename: i.dev,
      },
    ],
    'egress-subnets': [`${i.addrs[0]![0]}/32`],
    'ingress-addresses': [i.addrs[0]![0]],
  });
}

const sysctlsBefore: Sysctls = (() => {
  const raw = JSON.parse(readFileSync(join(FIX, 'sysctl.json'), 'utf8')) as Record<string, string>;
  return Object.fromEntries(OWNED_SYSCTLS.map((k) => [k, raw[k] ?? null]));
})();
const before = parseObserved(
  [readFileSync(join(FIX, 'batch.out.txt'), 'utf8'), readFileSync(join(FIX, 'batch6.out.txt'), 'utf8')],
  {
    sysctls: sysctlsBefore,
    vrfModule: true,
    container: false,
    controllers: CONTROLLERS,
  },
);
// The recorded public space has only an RA-like IPv6 default, which is not re-learnt once
// br-ens4 is in its VRF; an operator pins it (the charm says so), and so does the bench.
const CONFIG_RAW: Record<string, string | boolean> = { ...DEFAULT_CONFIG_RAW, gateways: 'public=2001:db8:16::1' };
const cfg = parseEngineConfig({ ...CONFIG_RAW });
if (!cfg.ok) throw new Error('default config does not validate');
const bindings: Bindings = Object.fromEntries(
  ['juju-info', ...metadataBindings].map((b) => [
    b,
    [{ name: bindingOf(b).dev, addresses: bindingOf(b).addrs.map(([address, cidr]) => ({ address, cidr })) }],
  ]),
);
const inputs = { config: cfg.config, bindings, controllers: CONTROLLERS, netplan: {} };
// Converge on the model until derive + plan on the result say nothing (as successive hooks would).
let converged: ObservedHost = before;
let ledger = EMPTY_LEDGER;
let desired: DesiredState | null = null;
for (let round = 0; ; round++) {
  const d = deriveDesired(inputs, converged, ledger);
  if (!d.ok) throw new Error(`derive: ${d.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  if (d.warnings.length > 0 && round > 0)
    throw new Error(`derive warns on the converged host: ${d.warnings.map((w) => w.message).join('; ')}`);
  const p = plan(d.desired, converged, ledger);
  desired = d.desired;
  ledger = p.ledger;
  if (p.steps.length === 0) break;
  if (round >= 3) throw new Error(`the host does not converge on the model: ${p.steps.length} steps in round ${round}`);
  converged = simulate(converged, p.steps);
}
const ipOut = ipJsonOf(converged, CONTROLLERS);
const reparsed = parseObserved([ipOut.main, ipOut.rule6], {
  sysctls: converged.sysctls,
  vrfModule: true,
  container: false,
  controllers: CONTROLLERS,
});
const again = plan(desired, reparsed, ledger);
if (again.steps.length !== 0)
  throw new Error(`the printed converged host is not converged for the planner: ${again.steps.length} steps`);
if (
  !isDeepStrictEqual(
    new Set(reparsed.links.map((l) => JSON.stringify(l))),
    new Set(converged.links.map((l) => JSON.stringify(l))),
  )
) {
  throw new Error('ip-json round trip changed the links');
}

// ---------------------------------------------------------------------------
// The sandbox: root, /proc, /sys, stubs
// ---------------------------------------------------------------------------

const T = mkdtempSync(join(tmpdir(), 'vrf-host-bench-hook-'));
const ROOT = join(T, 'root');
const PROC = join(T, 'proc');
const SYS = join(T, 'sys');
const BIN = join(T, 'bin');
const DATA = join(T, 'data');
const LOG = join(T, 'spawns.log');
for (const d of [ROOT, join(PROC, '1'), join(SYS, 'module', 'vrf'), BIN, DATA]) mkdirSync(d, { recursive: true });
writeFileSync(join(PROC, '1', 'environ'), 'PATH=/usr/bin\0');
for (const [k, v] of Object.entries(converged.sysctls)) {
  if (v === null) continue;
  const p = join(PROC, 'sys', ...k.split('.'));
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, `${v}\n`);
}
await writeState(ROOT, { application: 'vrf-host', units: [UNIT], desired, ledger, applying: false });
await persistHostFiles(ROOT, desired, ledger);

writeFileSync(join(DATA, 'ip-main.out'), ipOut.main);
writeFileSync(join(DATA, 'ip-rule6.out'), ipOut.rule6);
const configDefaults = { ...CONFIG_RAW, ...charmOnlyDefaults() };
writeFileSync(join(DATA, 'config-get.out'), `${JSON.stringify(configDefaults)}\n`);
for (const b of ['juju-info', ...metadataBindings])
  writeFileSync(join(DATA, `network-get.${b}.out`), `${networkGetJson(b)}\n`);
writeFileSync(join(DATA, 'status-get.out'), '{"message":"","status":"active","status-data":{}}\n');

/** A stub: logs its argv with builtins, drains stdin when asked, prints a data file with builtins. */
function stub(name: string, body: string): void {
  const p = join(BIN, name);
  writeFileSync(
    p,
    [
      '#!/bin/sh',
      `printf '%s\\n' "${name} $*" >> "${LOG}"`,
      // emit is always a stub's last word: exec, so cat replaces the shell (no extra process) and the
      // stub does not spend ~1 µs per byte in dash's read builtin (the ip stub's 10 KB took 5–10 ms).
      `emit() { exec cat "$1"; }`,
      `drain() { while IFS= read -r l || [ -n "$l" ]; do :; done; }`,
      body,
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(p, 0o755);
}
stub(
  'ip',
  [
    'case " $* " in',
    `  *" -V "*) echo 'ip utility, iproute2-6.1.0, libbpf 1.1.2' ;;`,
    `  *" -json "*"-batch"*) drain; if [ "$1" = "-6" ]; then emit "${DATA}/ip-rule6.out"; else emit "${DATA}/ip-main.out"; fi ;;`,
    `  *" -batch "*) drain ;;`,
    'esac',
  ].join('\n'),
);
stub('flock', '');
stub('modprobe', '');
stub('config-get', `emit "${DATA}/config-get.out"`);
stub('network-get', `for a in "$@"; do b=$a; done; emit "${DATA}/network-get.$b.out"`);
stub('status-get', `emit "${DATA}/status-get.out"`);
stub('is-leader', `echo true`);
stub('state-get', `echo '{}'`);
stub('state-set', 'drain');
for (const t of ['juju-log', 'status-set', 'application-version-set', 'action-set', 'action-log', 'action-fail'])
  stub(t, '');
stub('action-get', `echo '{}'`);
stub('relation-ids', `echo '[]'`);
stub('relation-list', `echo '[]'`);
stub('relation-get', `echo '{}'`);

/**
 * The hook tools whose every call is a round trip through the unit agent to the controller's API
 * (the agent answers them from the model, or writes to it). juju-log is not one: the agent writes
 * the line to its own log, which it ships to the controller in batches.
 */
const CONTROLLER_BOUND = new Set([
  'config-get',
  'network-get',
  'status-set',
  'status-get',
  'application-version-set',
  'is-leader',
  'leader-get',
  'leader-set',
  'relation-ids',
  'relation-list',
  'relation-get',
  'relation-set',
  'goal-state',
  'state-get',
  'state-set',
  'unit-get',
  'opened-ports',
]);
/** What the host's own programs are (everything else the stubs log is a hook tool). */
const HOST_PROGRAMS = new Set(['ip', 'flock', 'modprobe']);

const cli = join(charmDir, 'dist', 'vrf-host-cli.mjs');
const env: Record<string, string> = {
  PATH: `${BIN}:${dirname(process.execPath)}:/usr/bin:/bin`,
  HOME: T,
  LANG: 'C.UTF-8',
  JUJU_DISPATCH_PATH: 'hooks/update-status',
  JUJU_UNIT_NAME: UNIT,
  JUJU_MODEL_NAME: 'bench',
  JUJU_MODEL_UUID: '00000000-0000-4000-8000-000000000000',
  JUJU_CHARM_DIR: charmDir,
  JUJU_VERSION: '3.5.4',
  JUJU_API_ADDRESSES: '10.100.0.5:17070 [2001:db8:100::5]:17070',
  JUJU_MACHINE_ID: '0',
  JUJU_PRINCIPAL_UNIT: 'ceph-osd/0',
  JUJU_AVAILABILITY_ZONE: 'zone1',
  VRF_HOST_ROOT: ROOT,
  VRF_HOST_PROC: PROC,
  VRF_HOST_SYS: SYS,
  VRF_HOST_IP: join(BIN, 'ip'),
  VRF_HOST_FLOCK: join(BIN, 'flock'),
  VRF_HOST_MODPROBE: join(BIN, 'modprobe'),
  ...(existsSync(cli) ? { VRF_HOST_CLI: cli, VRF_HOST_NODE: process.execPath } : { VRF_HOST_BOOT: '0' }),
};

function run(
  file: string,
  argv: readonly string[],
  extraEnv: Record<string, string> = {},
): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const p = spawn(file, argv, {
      cwd: extraEnv.JUJU_CHARM_DIR ?? charmDir,
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', rej);
    p.on('exit', (code) => res({ ms: performance.now() - t0, code, stderr }));
  });
}

const dispatch = join(charmDir, 'dispatch');
// For reruns by hand: `env -i $(jq -r 'to_entries[]|"\(.key)=\(.value)"' SANDBOX/env.json) DISPATCH`.
writeFileSync(join(T, 'env.json'), `${JSON.stringify(env, null, 1)}\n`);

/** Runs dispatch once with the argv log cleared; returns what the hook spawned. */
async function countedRun(extraEnv: Record<string, string> = {}, dispatchFile = dispatch) {
  rmSync(LOG, { force: true });
  const r = await run(dispatchFile, [], extraEnv);
  if (r.code !== 0) throw new Error(`dispatch update-status exited ${r.code}: ${r.stderr.trim()}`);
  const log = existsSync(LOG) ? readFileSync(LOG, 'utf8').trim().split('\n').filter(Boolean) : [];
  const byTool: Record<string, number> = {};
  for (const l of log) {
    const [tool, ...rest] = l.split(' ');
    const key =
      tool === 'ip'
        ? `ip` +
          ` ${rest.includes('-V') ? '-V' : rest.includes('-json') ? (rest[0] === '-6' ? '-6 -json -batch (read rules)' : '-json -batch (read host)') : '-batch (apply)'}`
        : tool!;
    byTool[key] = (byTool[key] ?? 0) + 1;
  }
  const tools = log.map((l) => l.split(' ')[0]!).filter((t) => !HOST_PROGRAMS.has(t));
  return {
    total: log.length,
    byTool,
    hookTools: tools.length,
    controller: tools.filter((t) => CONTROLLER_BOUND.has(t)).length,
    toolCounts: Object.fromEntries(
      [...new Set(tools)].sort().map((t) => [t, tools.filter((x) => x === t).length] as const),
    ),
    ipReads: log.filter((l) => l.startsWith('ip ') && l.includes('-json')).length,
    ipApplies: log.filter((l) => l.startsWith('ip ') && !l.includes('-json') && !l.includes('-V')).length,
    statusSet: log.filter((l) => l.startsWith('status-set')),
  };
}

// The memo (src/charm/memo.sh): the first update-status runs in full and records; dispatch answers the
// next ones. An earlier charm (--before-charm) may keep a JSON record (src/ops/memo.ts of its time).
const memoOf = (dir: string) =>
  join(
    ROOT,
    'var/lib/vrf-host/memo',
    `${UNIT.replace('/', '-')}.${existsSync(join(dir, 'dist', 'memo.sh')) ? 'sh' : 'json'}`,
  );
let MEMO = memoOf(charmDir);
const full = await countedRun({ VRF_HOST_MEMO: '0' });
rmSync(MEMO, { force: true });
await countedRun();
if (!existsSync(MEMO)) throw new Error(`the full update-status recorded no memo at ${MEMO}`);
const hit = await countedRun();
if (hit.ipReads !== full.ipReads || hit.byTool['juju-log'] !== undefined) {
  throw new Error(
    `the memo replay is not a hit that repeats the full run's ip reads: ${JSON.stringify(hit.byTool)} vs ${JSON.stringify(full.byTool)}`,
  );
}
if (!existsSync(MEMO)) throw new Error('a memo hit removed the record');
const CYCLE_MIN = MEMO_MAX_AGE_MS / 60_000;
/** The record as the periodic full run finds it: older than its maximum age. */
function ageMemo(): void {
  if (MEMO.endsWith('.sh')) {
    const text = readFileSync(MEMO, 'utf8');
    const aged = text.replace(
      /^vrf_memo_rec_up=(\d+)$/m,
      (_, up: string) => `vrf_memo_rec_up=${Number(up) - MEMO_MAX_AGE_MS / 1000 - 60}`,
    );
    if (aged === text) throw new Error('the record has no vrf_memo_rec_up line');
    writeFileSync(MEMO, aged);
    return;
  }
  const rec = JSON.parse(readFileSync(MEMO, 'utf8')) as { created: number };
  rec.created = Date.now() - MEMO_MAX_AGE_MS - 60_000;
  writeFileSync(MEMO, JSON.stringify(rec));
}
ageMemo();
const periodic = await countedRun();
if (!existsSync(MEMO)) throw new Error('the periodic full run did not record the memo again');
if (periodic.byTool['juju-log'] === undefined) throw new Error('an aged record was replayed: the charm never loaded');

/** The same counted runs on the charm of an earlier commit: a hit and the periodic full run. */
async function countsOf(dir: string) {
  const d = join(dir, 'dispatch');
  const e = {
    JUJU_CHARM_DIR: dir,
    ...(existsSync(join(dir, 'dist', 'vrf-host-cli.mjs'))
      ? { VRF_HOST_CLI: join(dir, 'dist', 'vrf-host-cli.mjs') }
      : {}),
  };
  const own = MEMO;
  MEMO = memoOf(dir);
  rmSync(MEMO, { force: true });
  await countedRun(e, d);
  await countedRun(e, d);
  const h = await countedRun(e, d);
  ageMemo();
  const p = await countedRun(e, d);
  rmSync(MEMO, { force: true });
  MEMO = own;
  return { hit: h, periodic: p };
}
const beforeCounts = beforeCharmDir === null ? null : await countsOf(beforeCharmDir);
// Back to this charm's record for the timed rounds.
rmSync(MEMO, { force: true });
await countedRun();
await countedRun();
/** A miss that costs the whole hit: the record claims one value more than its reads give, so everything runs twice. */
function spoilMemo(): void {
  const text = readFileSync(MEMO, 'utf8');
  const spoilt = text.replace(/^vrf_memo_rec_items=(\d+)$/m, (_, n: string) => `vrf_memo_rec_items=${Number(n) + 1}`);
  if (spoilt === text) throw new Error('the record has no vrf_memo_rec_items line');
  writeFileSync(MEMO, spoilt);
}
spoilMemo();
const missRun = await countedRun();
if (!existsSync(MEMO)) throw new Error('a miss did not record the memo again');
// The floor of a hit: dash running the record's ip reads, as a hit does (a fork each, which execs
// ip), and nothing else: no comparison, no files, no normalising.
const FLOOR = join(T, 'floor.sh');
{
  const plan = /^vrf_memo_plan\(\) \{\n[\s\S]*?\n\}$/m.exec(readFileSync(MEMO, 'utf8'))?.[0];
  if (plan === undefined) throw new Error('the record has no plan');
  writeFileSync(
    FLOOR,
    [
      'vrf_memo_ip() { while [ "$1" != -- ]; do export "$1"; shift; done; shift; x=$(exec "$@" 2>&1); }',
      ...['file', 'sysctl', 'kind', 'exists', 'link', 'names'].map((k) => `vrf_memo_${k}() { :; }`),
      plan,
      'vrf_memo_plan',
      '',
    ].join('\n'),
  );
}
const spawns = full.byTool;
const applied = full.ipApplies;
const ipReads = full.ipReads;
const statusLines = full.statusSet;

// Peak RSS: GNU time's %M is the largest resident set of the waited process tree's members.
function peakRssKb(file: string, argv: readonly string[], extraEnv: Record<string, string> = {}): number {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', file, ...argv], {
    cwd: charmDir,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
  });
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  return Number(last);
}
const rssHook: number[] = [];
const rssFull: number[] = [];
const rssNode: number[] = [];
const haveTime = existsSync('/usr/bin/time');
if (haveTime) {
  for (let i = 0; i < 3; i++) {
    rssHook.push(peakRssKb(dispatch, []));
    rssFull.push(peakRssKb(dispatch, [], { VRF_HOST_MEMO: '0' }));
    rssNode.push(peakRssKb(process.execPath, ['-e', '0']));
  }
}

// Decomposition, in the same paired rounds: leader-elected is a hook the charm observes with
// nothing to do, so it costs dispatch + Node + loading the bundle + the framework only.
const stubSh = join(BIN, 'is-leader');
const samples = await paired(
  {
    hook: async () => {
      const r = await run(dispatch, []);
      if (r.code !== 0) throw new Error(`dispatch exited ${r.code}: ${r.stderr}`);
      return r.ms;
    },
    hookFull: async () => {
      const r = await run(dispatch, [], { VRF_HOST_MEMO: '0' });
      if (r.code !== 0) throw new Error(`dispatch (memo off) exited ${r.code}: ${r.stderr}`);
      return r.ms;
    },
    hookPeriodic: async () => {
      ageMemo();
      const r = await run(dispatch, []);
      if (r.code !== 0) throw new Error(`dispatch (periodic full run) exited ${r.code}: ${r.stderr}`);
      return r.ms;
    },
    hookMiss: async () => {
      spoilMemo();
      const r = await run(dispatch, []);
      if (r.code !== 0) throw new Error(`dispatch (memo miss) exited ${r.code}: ${r.stderr}`);
      return r.ms;
    },
    nodeE0: async () => (await run(process.execPath, ['-e', '0'])).ms,
    floor: async () => (await run('sh', [FLOOR])).ms,
    loadOnly: async () => {
      const r = await run(dispatch, [], { JUJU_DISPATCH_PATH: 'hooks/leader-elected', VRF_HOST_MEMO: '0' });
      if (r.code !== 0) throw new Error(`dispatch leader-elected exited ${r.code}: ${r.stderr}`);
      return r.ms;
    },
    stub: async () => (await run(stubSh, [])).ms,
  },
  ROUNDS,
  1,
);

// Where the time goes: one profiled run (NODE_OPTIONS reaches the node that dispatch execs).
/**
 * CPU time (user + system, the whole process tree: sh, node, every stub) per run, from GNU time
 * around a shell loop of `n` runs (its resolution is 10 ms, so many runs). Under load, wall time
 * grows with every context switch of a tree of processes, CPU time much less: the steadier ratio.
 * `before` runs before each run, inside the loop (its own cost is measured the same way and taken off).
 */
function cpuPerRunMs(argv: readonly string[], n: number, extraEnv: Record<string, string> = {}, before = ':'): number {
  const loop = (body: string) => {
    const r = spawnSync(
      '/usr/bin/time',
      ['-f', '%U %S', 'sh', '-c', `i=0; while [ $i -lt ${n} ]; do ${body} || exit 1; i=$((i+1)); done`, 'sh', ...argv],
      { cwd: charmDir, env: { ...env, ...extraEnv }, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`cpu loop of ${argv.join(' ')} failed: ${r.stderr.trim()}`);
    const [u, sys] = (r.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    return (((u ?? NaN) + (sys ?? NaN)) * 1000) / n;
  };
  const own = before === ':' ? 0 : loop(before);
  return loop(`${before}; "$@" >/dev/null 2>&1`) - own;
}
const AGED = join(T, 'aged-memo');
interface Cpu {
  hook: number;
  periodic: number;
  nodeE0: number;
  floor: number;
  before: { hook: number; periodic: number } | null;
}
let cpu: Cpu | null = null;
if (haveTime) {
  interface Side {
    readonly name: 'this' | 'before';
    readonly dispatch: string;
    readonly env: Record<string, string>;
  }
  const sides: Side[] = [
    { name: 'this', dispatch, env: {} },
    ...(beforeCharmDir === null
      ? []
      : [
          {
            name: 'before' as const,
            dispatch: join(beforeCharmDir, 'dispatch'),
            env: {
              JUJU_CHARM_DIR: beforeCharmDir,
              ...(existsSync(join(beforeCharmDir, 'dist', 'vrf-host-cli.mjs'))
                ? { VRF_HOST_CLI: join(beforeCharmDir, 'dist', 'vrf-host-cli.mjs') }
                : {}),
            },
          },
        ]),
  ];
  const FRESH = join(T, 'fresh-memo');
  /**
   * The host as `side`'s full runs leave it (the two charms install different copies of the CLI,
   * which each one's record watches), and its record, fresh (FRESH) and aged (AGED).
   */
  const establish = async (side: Side) => {
    MEMO = memoOf(side.name === 'this' ? charmDir : (beforeCharmDir ?? charmDir));
    rmSync(MEMO, { force: true });
    await countedRun(side.env, side.dispatch);
    await countedRun(side.env, side.dispatch);
    copyFileSync(MEMO, FRESH);
    ageMemo();
    copyFileSync(MEMO, AGED);
  };
  // Rounds, the order alternating; in each, every loop puts its own record in place before each run
  // (the copy is measured by itself and taken off): medians. Under load CPU time is much steadier
  // than wall time.
  const n = quick ? 10 : 20;
  const rounds = quick ? 3 : 5;
  const put = (from: string) => `cp "${from}" "${MEMO}"`;
  // (establish sets MEMO for the side whose loops follow it)
  const got: Record<string, number[]> = {};
  const push = (k: string, v: number) => (got[k] ??= []).push(v);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    push('nodeE0', cpuPerRunMs([process.execPath, '-e', '0'], n));
    for (const side of order) {
      await establish(side);
      push(`${side.name}.hook`, cpuPerRunMs([side.dispatch], n, side.env, put(FRESH)));
      push(`${side.name}.periodic`, cpuPerRunMs([side.dispatch], Math.max(3, n / 5), side.env, put(AGED)));
    }
    push('floor', cpuPerRunMs(['sh', FLOOR], n));
  }
  const m = (k: string) => median(got[k] ?? []);
  cpu = {
    nodeE0: m('nodeE0'),
    floor: m('floor'),
    hook: m('this.hook'),
    periodic: m('this.periodic'),
    before: beforeCharmDir === null ? null : { hook: m('before.hook'), periodic: m('before.periodic') },
  };
  await establish(sides[0]!);
}

const profDir = join(T, 'prof');
mkdirSync(profDir);
await run(process.execPath, [`--cpu-prof`, `--cpu-prof-dir=${profDir}`, join(charmDir, 'dist', 'vrf-host.cjs')]);

const hookMs = median(samples.hook!);
const nodeMs = median(samples.nodeE0!);
const periodicMs = median(samples.hookPeriodic!);
/** update-status every 5 minutes: one run in CYCLE_MIN / 5 finds its record aged and runs in full. */
const runsPerCycle = CYCLE_MIN / 5;
const cycleMs = (hookMs * (runsPerCycle - 1) + periodicMs) / runsPerCycle;
/** The same average had the record been kept 30 minutes (1 run in 6 in full), for comparison. */
const cycle30Ms = (hookMs * 5 + periodicMs) / 6;
type Counted = Awaited<ReturnType<typeof countedRun>>;
/** Hook-tool calls per unit per hour: 12 update-status, of which 60 / CYCLE_MIN run in full. */
const perHour = (h: Counted, p: Counted, cycleMin: number) => {
  const fullRuns = 60 / cycleMin;
  const hits = 12 - fullRuns;
  const tools = new Set([...Object.keys(h.toolCounts), ...Object.keys(p.toolCounts)]);
  return {
    byTool: Object.fromEntries(
      [...tools].sort().map((t) => [t, hits * (h.toolCounts[t] ?? 0) + fullRuns * (p.toolCounts[t] ?? 0)] as const),
    ),
    hookTools: hits * h.hookTools + fullRuns * p.hookTools,
    controller: hits * h.controller + fullRuns * p.controller,
    processes: hits * h.total + fullRuns * p.total,
  };
};
const result = {
  bench: 'hook-noop',
  node: process.version,
  rounds: ROUNDS,
  hookMs,
  nodeE0Ms: nodeMs,
  ratio: hookMs / nodeMs,
  loadOnlyMs: median(samples.loadOnly!),
  hookFullMs: median(samples.hookFull!),
  replayFloorMs: median(samples.floor!),
  hookMissMs: median(samples.hookMiss!),
  hookPeriodicMs: periodicMs,
  cycle: { minutes: CYCLE_MIN, runs: runsPerCycle, ms: cycleMs, ratio: cycleMs / nodeMs, ratio30: cycle30Ms / nodeMs },
  /** The same comparison in CPU time (user + system of the whole process tree), per run. */
  cpu:
    cpu === null
      ? null
      : {
          ...cpu,
          cycleRatio: (cpu.hook * (runsPerCycle - 1) + cpu.periodic) / runsPerCycle / cpu.nodeE0,
          cycleRatio30: (cpu.hook * 5 + cpu.periodic) / 6 / cpu.nodeE0,
          /** The average had every hit cost no more than its floor (Node and the two reads), the full run as measured. */
          floorCycleRatio: (cpu.floor * (runsPerCycle - 1) + cpu.periodic) / runsPerCycle / cpu.nodeE0,
          beforeCycleRatio:
            cpu.before === null
              ? null
              : (cpu.before.hook * (beforeCycleMin / 5 - 1) + cpu.before.periodic) / (beforeCycleMin / 5) / cpu.nodeE0,
        },
  memo: {
    hit: { total: hit.total, byTool: hit.byTool, hookTools: hit.hookTools, controller: hit.controller },
    periodic: {
      total: periodic.total,
      byTool: periodic.byTool,
      hookTools: periodic.hookTools,
      controller: periodic.controller,
    },
    miss: { total: missRun.total, byTool: missRun.byTool },
    maxAgeMin: CYCLE_MIN,
  },
  perHour: {
    after: perHour(hit, periodic, CYCLE_MIN),
    fullRunsPerHour: { after: 60 / CYCLE_MIN, before: 60 / beforeCycleMin },
    before: beforeCounts === null ? null : perHour(beforeCounts.hit, beforeCounts.periodic, beforeCycleMin),
    beforeCharm: beforeCharmDir,
  },
  stubSpawnMs: median(samples.stub!),
  hookSamples: samples.hook,
  nodeSamples: samples.nodeE0,
  peakRssKb: haveTime ? { hook: median(rssHook), full: median(rssFull), nodeE0: median(rssNode) } : null,
  processes: { total: full.total, byTool: spawns, ipReads, ipApplies: applied },
  statusSet: statusLines,
  converged: applied === 0,
  profileDir: profDir,
  sandbox: T,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
