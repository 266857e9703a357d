#!/usr/bin/env node
// npm run bench [-- --quick] [-- --only plan,hook,vm] [-- --profile] [-- --before REF|none]
//
// Builds the benchmarks (bench/*.ts, bundled with esbuild into build/bench/) and a private copy
// of the charm laid out exactly as `npm run build` lays it out (build/bench/charm/, so a bench
// never rewrites the build/charm/ others may be testing), runs each benchmark in its own Node
// process, prints markdown tables and writes JSON under bench/results/.
//
// Timings are medians of paired rounds against a baseline measured in the same run; nothing
// here asserts a timing. See BENCHMARKS.md for what each comparison means.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCharm, bundleTools } from './build.mjs';

/**
 * What the formatters read of each part's JSON. A merged latest.json may hold a part written by an
 * older version of its bench, so the fields added later are optional.
 * @typedef {import('../bench/plan-scale.js').PlanScaleResult} PlanResult
 * @typedef {{ total: number, byTool: Record<string, number>, hookTools?: number, controller?: number }} ToolCount
 * @typedef {{ byTool: Record<string, number>, hookTools: number, controller: number, processes: number }} PerHour
 * @typedef {object} HookResult
 * @property {number} hookMs
 * @property {number} nodeE0Ms
 * @property {number} ratio
 * @property {number} loadOnlyMs
 * @property {number} stubSpawnMs
 * @property {number} rounds
 * @property {number} [hookFullMs]
 * @property {number} [replayFloorMs]
 * @property {number} [hookMissMs]
 * @property {number} [hookPeriodicMs]
 * @property {{ minutes: number, runs: number, ms: number, ratio: number, ratio30?: number }} [cycle]
 * @property {{ hook: number, periodic: number, nodeE0: number, cycleRatio: number, cycleRatio30: number,
 *   floor?: number, floorCycleRatio?: number, before?: { hook: number, periodic: number } | null,
 *   beforeCycleRatio?: number | null } | null} [cpu]
 * @property {{ hit: ToolCount, miss: ToolCount, periodic?: ToolCount, maxAgeMin: number } | null} [memo]
 * @property {{ after: PerHour, before: PerHour | null, fullRunsPerHour?: { after: number, before: number },
 *   beforeRef?: string }} [perHour]
 * @property {{ hook: number, full?: number, nodeE0: number } | null} [peakRssKb]
 * @property {ToolCount & { ipReads: number, ipApplies: number }} processes
 * @property {boolean} converged
 * @typedef {{ floor: number, apply: number, noop: number, read: number }} ScaleMedians
 * @typedef {object} VmResult
 * @property {string} mode
 * @property {{ kernel: string, cores: number, iproute2: string }} machine
 * @property {{ medians: { floor?: number, nodeE0: number, apply: number, applyProcess: number, hook: number,
 *   ifupdown2?: number }, plan: { floorProcesses?: number, floorLines: number, steps: number, sysctlSteps: number },
 *   rounds: number, checks: Record<string, string[]>, notes: string[], skipped?: boolean }} scenario
 * @property {{ size: { vrfs: number, members: number, routes: number }, steps: number, medians: ScaleMedians }[]} scale
 * @property {{ skipped: boolean, rounds: number, steps: { plain?: number, networkd?: number },
 *   spawns?: { plain?: { argv: string, ms: number }[], networkd?: { argv: string, ms: number }[] },
 *   untimed?: { teardown: number, configured: number }, checks?: Record<string, string[]>,
 *   medians?: { plain: number, networkd: number, hookPlain: number, hookNetworkd: number } }} [networkd]
 * @typedef {ReturnType<typeof machine>} Machine
 * @typedef {{ machine?: Machine, machines?: Partial<Record<'plan' | 'hook' | 'vm', Machine>>, quick?: boolean,
 *   plan?: PlanResult, hook?: HookResult, vm?: VmResult }} Results
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'build', 'bench');
const RESULTS = join(ROOT, 'bench', 'results');

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
// --minify: bundle the bench's charm copy minified (to measure what minifying the bundle would save).
const minify = argv.includes('--minify');
const profile = argv.includes('--profile');
const onlyIdx = argv.indexOf('--only');
const only = onlyIdx >= 0 ? new Set((argv[onlyIdx + 1] ?? '').split(',')) : null;
/** @param {string} name */
const want = (name) => only === null || only.has(name);
// The charm the hook bench counts hook-tool calls of for its before/after table: by default the
// last commit before update-status stopped asking Juju on a memo hit.
const beforeIdx = argv.indexOf('--before');
const beforeRef = beforeIdx >= 0 ? (argv[beforeIdx + 1] ?? 'none') : '8e6fcc1';

class BenchError extends Error {
  /** @override */
  name = 'BenchError';
  /**
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(message, options) {
    super(message, options);
  }
}

async function buildAll() {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const entries = (await readdir(join(ROOT, 'bench'))).filter((f) => f.endsWith('.ts') && !f.startsWith('_'));
  // The charm exactly as `npm run build` lays it out (minified with --minify), in a private directory.
  const charm = join(OUT, 'charm');
  await buildCharm(charm, { minify });
  await bundleTools(
    entries.map((f) => ({ in: join(ROOT, 'bench', f), out: f.replace(/\.ts$/, '') })),
    OUT,
  );
  return entries.map((f) => f.replace(/\.ts$/, ''));
}

/**
 * The charm as `ref` built it (`git archive`, this checkout's node_modules linked in, that commit's
 * own scripts/build.mjs), kept in .cache/bench-before/REF (a commit's charm never changes).
 * @param {string} ref
 * @returns {string} the built charm directory
 */
function buildBeforeCharm(ref) {
  const sha = spawnSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8' });
  if (sha.status !== 0) throw new BenchError(`--before ${ref}: not a commit of this repository`);
  const dir = join(ROOT, '.cache', 'bench-before', sha.stdout.trim());
  const charm = join(dir, 'build', 'charm');
  if (existsSync(join(charm, 'dispatch'))) return charm;
  spawnSync('rm', ['-rf', dir]);
  /**
   * @param {string[]} args
   * @param {{ cwd?: string }} [opts]
   */
  const sh = (args, opts = {}) => {
    const r = spawnSync(args[0] ?? '', args.slice(1), { encoding: 'utf8', ...opts });
    if (r.status !== 0)
      throw new BenchError(`${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  };
  sh(['mkdir', '-p', dir]);
  sh(['sh', '-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', ROOT, sha.stdout.trim(), dir]);
  sh(['ln', '-s', join(ROOT, 'node_modules'), join(dir, 'node_modules')]);
  sh([process.execPath, join(dir, 'scripts', 'build.mjs')], { cwd: dir });
  return charm;
}

/**
 * The hook bench's arguments for the earlier charm: where it is, and how long its record was kept (from its source).
 * @param {string} charm
 * @returns {string[]}
 */
function beforeArgs(charm) {
  const src = readFileSync(join(charm, '..', '..', 'src', 'charm', 'memo.ts'), 'utf8');
  const m = /MEMO_MAX_AGE_MS = ([\d_ *]+);/.exec(src);
  if (!m?.[1]) throw new BenchError(`cannot find MEMO_MAX_AGE_MS in the earlier charm's src/charm/memo.ts`);
  const ms = m[1].split('*').reduce((a, x) => a * Number(x.trim().replace(/_/g, '')), 1);
  return ['--before-charm', charm, '--before-cycle-min', String(ms / 60_000)];
}

/**
 * Runs one bench in its own process; its stdout is one JSON document, its stderr is progress.
 * @param {string} name
 * @param {readonly string[]} args
 * @param {readonly string[]} [nodeArgs]
 * @returns {Promise<any>} the bench's own JSON (bench/*.ts)
 */
function runBench(name, args, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...nodeArgs, join(OUT, `${name}.mjs`), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new BenchError(`bench ${name} exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? ''));
      } catch (e) {
        reject(new BenchError(`bench ${name} printed no JSON result`, { cause: e }));
      }
    });
  });
}

function machine() {
  const kernel = os.release();
  let virt = 'native';
  try {
    if (/hypervisor/.test(readFileSync('/proc/cpuinfo', 'utf8'))) virt = 'virtual machine';
  } catch {
    /* not Linux */
  }
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel,
    virt,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    node: process.version,
    date: new Date().toISOString(),
    commit: gitCommit(),
  };
}

/** The commit the figures belong to, and whether the working tree had changes in src/. */
function gitCommit() {
  const head =
    spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const dirty =
    (spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout ?? '').trim() !==
    '';
  return dirty ? `${head}+uncommitted src changes` : head;
}

/** @param {number | undefined} x */
const f2 = (x) =>
  x !== undefined && Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–';
/** @param {number | undefined} x */
const rx = (x) => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
/**
 * @param {readonly string[]} head
 * @param {readonly (readonly (string | number)[])[]} rows
 */
const table = (head, rows) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );

/** @param {PlanResult} r */
export function formatPlan(r) {
  const rows = r.cells.map((c) => [
    `${c.size.vrfs} × ${c.size.members} × ${c.size.routes}`,
    c.objects,
    c.steps,
    f2(c.scratchCpuMs),
    f2(c.scratchMs),
    f2(c.noopCpuMs),
    f2(c.noopMs),
    c.noopSteps,
  ]);
  const e = r.exponents;
  return [
    '### Planner scale (in-process, no kernel)',
    '',
    table(
      [
        'VRFs × members × routes',
        'host objects',
        'steps (from scratch)',
        'from scratch, CPU ms',
        'wall ms',
        'converged (no-op), CPU ms',
        'wall ms',
        'no-op steps',
      ],
      rows,
    ),
    '',
    `Fitted exponent (log-log least squares, CPU time): from scratch vs host objects` +
      ` **${e.scratchVsObjects.toFixed(2)}**, no-op vs host objects **${e.noopVsObjects.toFixed(2)}**; ` +
      `along one axis at the largest other two: routes ${e.scratchVsRoutes.toFixed(2)}, members` +
      ` ${e.scratchVsMembers.toFixed(2)}, VRFs ${e.scratchVsVrfs.toFixed(2)} (no-op vs routes ${e.noopVsRoutes.toFixed(2)}).`,
  ].join('\n');
}

/** @param {HookResult} r */
export function formatHook(r) {
  /** @param {number} kb */
  const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
  const rss = r.peakRssKb
    ? `${mb(r.peakRssKb.hook)} replayed, ${mb(r.peakRssKb.full ?? r.peakRssKb.hook)} in full (node -e 0: ${mb(r.peakRssKb.nodeE0)})`
    : 'n/a (no /usr/bin/time)';
  /** @param {Record<string, number>} byTool */
  const list = (byTool) =>
    Object.entries(byTool)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ');
  const memo = r.memo
    ? ` Replayed (memo hit): **${r.memo.hit.total}** — ${list(r.memo.hit.byTool)}. A miss: ${r.memo.miss.total} (the` +
      ` replay's reads, then the full run's).`
    : '';
  return [
    '### No-op hook (update-status on a converged host, hook tools and ip stubbed)',
    '',
    table(
      ['what', 'median ms', 'ratio to node -e 0', 'goal'],
      [
        ...(r.cycle
          ? [
              [
                `**no-op update-status averaged over the ${r.cycle.minutes}-minute memo cycle** (${r.cycle.runs - 1}` +
                  ` hits + 1 periodic full run, update-status every 5 min)`,
                f2(r.cycle.ms),
                rx(r.cycle.ratio),
                '≤ 1.5×',
              ],
              ...(r.cycle.minutes !== 30 && r.cycle.ratio30 !== undefined
                ? [
                    [
                      'the same average, had the record been kept 30 minutes (5 hits + 1 full run)',
                      '',
                      rx(r.cycle.ratio30),
                      '',
                    ],
                  ]
                : []),
              ...(r.cpu
                ? [
                    [
                      `the same average in **CPU time** (user + system of the whole process tree; hit ${f2(r.cpu.hook)} ms, periodic ${f2(r.cpu.periodic)} ms, node -e 0 ${f2(r.cpu.nodeE0)} ms)`,
                      f2(r.cpu.cycleRatio * r.cpu.nodeE0),
                      rx(r.cpu.cycleRatio),
                      '≤ 1.5×',
                    ],
                    ['the same in CPU time, had the record been kept 30 minutes', '', rx(r.cpu.cycleRatio30), ''],
                  ]
                : []),
            ]
          : []),
        ['`dispatch` update-status (memo hit: what nearly every update-status costs)', f2(r.hookMs), rx(r.ratio), ''],
        ...(r.hookPeriodicMs
          ? [
              [
                `\`dispatch\` update-status, periodic full run (the record older than ${r.cycle?.minutes ?? 30} min:` +
                  ` reads Juju and the host again)`,
                f2(r.hookPeriodicMs),
                rx(r.hookPeriodicMs / r.nodeE0Ms),
                '',
              ],
            ]
          : []),
        ...(r.replayFloorMs
          ? [
              [
                'floor of a hit: `dash` running the same two reads (a fork each, as a hit does) from a minimal script, nothing else',
                f2(r.replayFloorMs),
                rx(r.replayFloorMs / r.nodeE0Ms),
                `(memo hit ÷ floor: ${rx(r.hookMs / r.replayFloorMs)})`,
              ],
            ]
          : []),
        ...(r.hookFullMs
          ? [
              [
                '`dispatch` update-status in full (memo off: `VRF_HOST_MEMO=0`)',
                f2(r.hookFullMs),
                rx(r.hookFullMs / r.nodeE0Ms),
                '',
              ],
            ]
          : []),
        ...(r.hookMissMs
          ? [
              [
                '`dispatch` update-status, memo miss (a read changed: replay, then in full)',
                f2(r.hookMissMs),
                rx(r.hookMissMs / r.nodeE0Ms),
                '',
              ],
            ]
          : []),
        [
          '`dispatch` leader-elected (the charm loads, has nothing to do)',
          f2(r.loadOnlyMs),
          rx(r.loadOnlyMs / r.nodeE0Ms),
          '',
        ],
        ['`node -e 0`', f2(r.nodeE0Ms), '1.00×', ''],
        ['one stub process (sh), spawned from Node', f2(r.stubSpawnMs), rx(r.stubSpawnMs / r.nodeE0Ms), ''],
      ],
    ),
    '',
    ...(r.memo?.periodic ? [formatQuiet(r.memo.hit, r.memo.periodic, r.memo.maxAgeMin, r.perHour), ''] : []),
    ...(r.cpu?.floor !== undefined ? [formatCpu(r), ''] : []),
    `Paired rounds: ${r.rounds}. Peak RSS: ${rss} (goal ≤ 80 MB). Processes the full hook started:` +
      ` **${r.processes.total}** — ${list(r.processes.byTool)}.${memo} ` +
      `ip processes reading the host: **${r.processes.ipReads}** (goal 1); ip processes applying:` +
      ` ${r.processes.ipApplies}` +
      `${r.converged ? ' (a no-op, as it should be)' : ' (NOT a no-op: the host is not converged in the charm’s eyes)'}.` +
      (r.memo && !r.cycle
        ? ` With a ${r.memo.maxAgeMin}-minute record and update-status every 5 minutes, 1 run in ${r.memo.maxAgeMin / 5}` +
          ` is in full: ${f2((r.hookMs * (r.memo.maxAgeMin / 5 - 1) + (r.hookFullMs ?? r.hookMs)) / (r.memo.maxAgeMin / 5))} ms on average.`
        : ''),
  ].join('\n');
}

/**
 * The no-op update-status in CPU time (user + system of the whole process tree), the earlier charm's beside it.
 * @param {HookResult} r
 */
function formatCpu(r) {
  const c = r.cpu;
  if (!c || c.floor === undefined || c.floorCycleRatio === undefined) return '';
  const cycle = r.cycle?.minutes ?? 120;
  const runs = cycle / 5;
  const b = c.before ?? null;
  const beforeRuns = r.perHour?.fullRunsPerHour ? 12 / r.perHour.fullRunsPerHour.before : runs;
  /** @param {number} ms */
  const cell = (ms) => `${f2(ms)} ms = ${rx(ms / c.nodeE0)}`;
  return [
    `CPU time per run (user + system of the whole process tree; rounds of loops, the order alternating, medians)` +
      (b ? `; before: the charm of ${r.perHour?.beforeRef ?? 'the earlier commit'}, in the same rounds:` : ':'),
    '',
    table(
      ['CPU time', ...(b ? ['before'] : []), 'now', 'goal'],
      [
        ['`node -e 0`', ...(b ? [cell(c.nodeE0)] : []), cell(c.nodeE0), ''],
        ['memo hit', ...(b ? [cell(b.hook)] : []), cell(c.hook), ''],
        ['periodic full run', ...(b ? [cell(b.periodic)] : []), cell(c.periodic), ''],
        [
          `**average over the memo cycle** (${runs - 1} hits + 1 full run${b ? `; before: ${beforeRuns - 1} + 1` : ''})`,
          ...(b && c.beforeCycleRatio ? [`**${rx(c.beforeCycleRatio)}**`] : []),
          `**${rx(c.cycleRatio)}**`,
          '≤ 1.5×',
        ],
        [
          "floor of a hit: `dash` running the hit's two ip reads (a fork each) from a minimal script, nothing else",
          ...(b ? [''] : []),
          cell(c.floor),
          '',
        ],
        [
          'the cycle average had every hit cost only its floor (the full run as measured)',
          ...(b ? [''] : []),
          rx(c.floorCycleRatio),
          '',
        ],
      ],
    ),
  ].join('\n');
}

/**
 * The quiet update-status: processes and controller round trips per no-op run, and per unit per hour before and after.
 * @param {ToolCount} h the memo hit's counts
 * @param {ToolCount} p the periodic full run's
 * @param {number} maxAgeMin
 * @param {HookResult['perHour']} ph
 */
function formatQuiet(h, p, maxAgeMin, ph) {
  const out = [
    table(
      ['per no-op update-status', 'memo hit', 'periodic full run', 'goal (hit)'],
      [
        ['processes started', String(h.total), String(p.total), '≤ 2'],
        ['hook-tool calls', String(h.hookTools), String(p.hookTools), ''],
        ['controller-bound hook-tool calls', String(h.controller), String(p.controller), '0'],
      ],
    ),
  ];
  const before = ph?.before;
  if (ph && before) {
    const tools = [...new Set([...Object.keys(before.byTool), ...Object.keys(ph.after.byTool)])].sort();
    out.push(
      '',
      `Hook-tool calls per unit per hour on a converged unit (12 update-status; in full: ${ph.fullRunsPerHour?.before ?? '?'}` +
        ` before, ${ph.fullRunsPerHour?.after ?? 60 / maxAgeMin} after), counted from the runs above; before: the charm` +
        ` of ${ph.beforeRef ?? 'the earlier commit'}, built and run in the same sandbox:`,
      '',
      table(
        ['per unit per hour', 'before', 'after'],
        [
          ...tools.map((t) => [t, String(before.byTool[t] ?? 0), String(ph.after.byTool[t] ?? 0)]),
          ['**all hook tools**', String(before.hookTools), String(ph.after.hookTools)],
          ['**controller-bound**', String(before.controller), String(ph.after.controller)],
          ['processes started', String(before.processes), String(ph.after.processes)],
        ],
      ),
    );
  }
  return out.join('\n');
}

/**
 * The real-kernel part: the VM harness (scripts/vm) boots Debian's kernel under qemu (or runs natively) ONCE.
 * @param {readonly string[]} args
 * @returns {Promise<VmResult>}
 */
async function runVm(args) {
  // The harness keeps only the newest 8 run directories under its cache and prunes the rest when a
  // run starts; a 15–25 minute bench beside a busy kernel suite lost its share directory that way.
  // So the bench uses a cache root of its own, with the kernel and initramfs hard-linked in.
  if (!process.env.VRF_HOST_CACHE) {
    const shared = join(ROOT, '.cache');
    const own = join(shared, 'bench');
    await mkdir(own, { recursive: true });
    for (const d of ['kernel', 'initramfs']) {
      if (existsSync(join(shared, d)) && !existsSync(join(own, d))) {
        const r = spawnSync('cp', ['-al', join(shared, d), join(own, d)], { encoding: 'utf8' });
        if (r.status !== 0) throw new BenchError(`cannot hard-link ${d} into ${own}: ${r.stderr}`);
      }
    }
    process.env.VRF_HOST_CACHE = own;
  }
  const { runKernelJob } = await import('./vm/run.mjs');
  const r = await runKernelJob({
    script: join(ROOT, 'bench', 'vm', 'converge.guest.mjs'),
    args,
    timeoutMs: 45 * 60_000,
    log: (s) => process.stderr.write(`${s}\n`),
    stream: process.stderr,
  });
  const file = join(r.resultsDir, 'vm-converge.json');
  if (r.exitCode !== 0 || !existsSync(file)) {
    throw new BenchError(
      `the VM job failed (exit ${r.exitCode}); its log:\n${(r.log ?? '').split('\n').slice(-30).join('\n')}`,
    );
  }
  const out = JSON.parse(readFileSync(file, 'utf8'));
  return { ...out, mode: r.mode, bootMs: r.timings?.bootMs ?? null };
}

/** @param {VmResult} v */
export function formatVm(v) {
  const parts = [];
  if (!v.scenario.skipped && v.scenario.medians.floor !== undefined) parts.push(formatScenario(v));
  if (v.scale.length) parts.push(formatScale(v));
  if (v.networkd && !v.networkd.skipped && v.networkd.medians) parts.push(formatNetworkd(v.networkd));
  return parts.join('\n\n');
}

/** @param {VmResult} v */
function formatScenario(v) {
  const m = v.scenario.medians;
  const floor = m.floor ?? NaN;
  const floorPlusNode = floor + m.nodeE0;
  const rows = [
    [
      `floor: the same changes as ${v.scenario.plan.floorProcesses ?? 1} process(es) (sysctl -qw, ip -batch, ip -6` +
        ` -batch; ${v.scenario.plan.floorLines} ip lines)`,
      f2(floor),
      '1.00×',
      '',
    ],
    ['vrf-host apply, in-process (after Node started)', f2(m.apply), rx(m.apply / floor), '≤ 1.2× floor'],
    ['vrf-host apply process (node + bundle + apply)', f2(m.applyProcess), rx(m.applyProcess / floor), ''],
    [
      'whole config-changed hook (dispatch, stub hook tools, real ip)',
      f2(m.hook),
      `${rx(m.hook / floorPlusNode)} of node -e 0 + floor`,
      '≤ 1.2×',
    ],
    ['`node -e 0` (same namespace)', f2(m.nodeE0), '', ''],
  ];
  if (m.ifupdown2 !== undefined)
    rows.push(
      ['ifupdown2 `ifup -a -i FILE`', f2(m.ifupdown2), rx(m.ifupdown2 / floor), ''],
      ['vrf-host apply ÷ ifupdown2', '', rx(m.apply / m.ifupdown2), '≤ 0.25×'],
      ['whole hook ÷ ifupdown2', '', rx(m.hook / m.ifupdown2), ''],
    );
  return [
    `### Converge scenario 1 from scratch, real kernel (${v.mode === 'vm' ? 'qemu TCG' : 'native'}: ${v.machine.kernel},` +
      ` ${v.machine.cores} vCPUs, ${v.machine.iproute2})`,
    '',
    table(['what', 'median ms', 'ratio', 'goal'], rows),
    '',
    `Paired rounds: ${v.scenario.rounds} (order alternating), each method on a freshly built topology. Plan:` +
      ` ${v.scenario.plan.steps} steps (${v.scenario.plan.floorLines} ip lines + ${v.scenario.plan.sysctlSteps} sysctls). ` +
      `Warm-up checks (VRFs, members, per-VRF IPv4 default): ${Object.entries(v.scenario.checks)
        .map(([k, p]) => `${k} ${p.length === 0 ? 'ok' : `FAILED (${p.join('; ')})`}`)
        .join(', ')}.` +
      (v.scenario.notes.length ? ` Notes: ${v.scenario.notes.join(' ')}` : ''),
  ].join('\n');
}

/** @param {VmResult} v */
function formatScale(v) {
  const scaleRows = v.scale.map((s) => [
    `${s.size.vrfs} × ${s.size.members} × ${s.size.routes}`,
    s.steps,
    f2(s.medians.floor),
    f2(s.medians.apply),
    rx(s.medians.apply / s.medians.floor),
    f2(s.medians.noop),
    f2(s.medians.read),
    rx(s.medians.noop / s.medians.read),
  ]);
  return [
    '### Scale on the real kernel (dummy members, static routes)',
    '',
    table(
      [
        'VRFs × members × routes',
        'steps',
        'floor ms',
        'apply ms (in-process)',
        'apply ÷ floor',
        'no-op reconcile ms (in-process)',
        'raw ip -json read ms',
        'no-op ÷ read',
      ],
      scaleRows,
    ),
  ].join('\n');
}

/** @param {NonNullable<VmResult['networkd']>} nd */
export function formatNetworkd(nd) {
  const m = nd.medians;
  if (!m) return '';
  const spawns = (/** @type {'plain' | 'networkd'} */ k) =>
    (nd.spawns?.[k] ?? []).map((s) => `${s.argv.split(' ').slice(0, 2).join(' ')} ${s.ms}`).join(', ');
  return [
    '### The networkd apply path (scenario 1 under the real systemd-networkd 252, from scratch)',
    '',
    table(
      ['what', 'steps', 'median ms', 'ratio'],
      [
        [
          'plain ip path: vrf-host apply, in-process, not seeing networkd (what a host without networkd gets)',
          nd.steps.plain ?? '–',
          f2(m.plain),
          '1.00×',
        ],
        [
          'networkd path: the same apply seeing networkd (ip path + its files + `networkctl reload` + re-observe)',
          nd.steps.networkd ?? '–',
          f2(m.networkd),
          `**${rx(m.networkd / m.plain)}**`,
        ],
        ['whole config-changed hook, not seeing networkd', '', f2(m.hookPlain), '1.00×'],
        ['whole config-changed hook under networkd', '', f2(m.hookNetworkd), `**${rx(m.hookNetworkd / m.hookPlain)}**`],
      ],
    ),
    '',
    `Paired rounds: ${nd.rounds} (order alternating), each on links networkd has just configured again after` +
      ` vrf-host's teardown of the previous one (untimed: teardown median ${f2(nd.untimed?.teardown)} ms,` +
      ` networkd configured again ${f2(nd.untimed?.configured)} ms).` +
      ` Warm-up checks: ${Object.entries(nd.checks ?? {})
        .map(([k, p]) => `${k} ${p.length === 0 ? 'ok' : `FAILED (${p.join('; ')})`}`)
        .join(', ')}.` +
      ` Processes of the last round (ms): plain ${spawns('plain')}; networkd ${spawns('networkd')}.`,
  ].join('\n');
}

/**
 * Markdown for a (merged) results document: each part with the machine and commit it came from.
 * @param {Results} r
 */
export function renderAll(r) {
  /** @type {string[]} */
  const out = [];
  /** @param {'plan' | 'hook' | 'vm'} k */
  const where = (k) => {
    const mm = r.machines?.[k] ?? r.machine;
    return mm
      ? `_Measured ${mm.date} on ${mm.cores} cores (${mm.cpu}), kernel ${mm.kernel}, ${mm.virt}, Node ${mm.node}, load` +
          ` average ${mm.loadavg.join(' ')}, commit ${mm.commit}._`
      : '';
  };
  if (r.plan) out.push(formatPlan(r.plan), '', where('plan'), '');
  if (r.hook) out.push(formatHook(r.hook), '', where('hook'), '');
  if (r.vm) out.push(formatVm(r.vm), '', where('vm'), '');
  return out.join('\n');
}

async function main() {
  const started = Date.now();
  const names = await buildAll();
  const m = machine();
  /** @type {Results} */
  const results = { machine: m, quick };
  const sections = [
    `## vrf-host benchmarks — ${m.date}`,
    '',
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memGiB} GiB, kernel ${m.kernel}, ${m.virt}, Node ${m.node}, load average` +
      ` at start ${m.loadavg.join(' ')}; commit ${m.commit}.`,
  ];
  /** @param {string} n */
  const nodeArgs = (n) => (profile ? [`--cpu-prof`, `--cpu-prof-dir=${join(OUT, 'profiles', n)}`] : []);
  const q = quick ? ['--quick'] : [];
  if (want('plan') && names.includes('plan-scale')) {
    const plan = await runBench('plan-scale', q, ['--expose-gc', ...nodeArgs('plan')]);
    results.plan = plan;
    sections.push('', formatPlan(plan));
  }
  if (want('hook') && names.includes('hook-noop')) {
    const before = beforeRef === 'none' ? [] : beforeArgs(buildBeforeCharm(beforeRef));
    /** @type {HookResult} */
    const hook = await runBench('hook-noop', [...q, '--charm', join(OUT, 'charm'), ...before], nodeArgs('hook'));
    if (beforeRef !== 'none' && hook.perHour) hook.perHour.beforeRef = beforeRef;
    results.hook = hook;
    sections.push('', formatHook(hook));
  }
  if (want('vm')) {
    results.vm = await runVm([
      ...q,
      ...argv.filter(
        (a) =>
          a === '--scale-only' ||
          a === '--scenario-only' ||
          a === '--networkd-only' ||
          a === '--networkd-debug' ||
          a.startsWith('--nd-rounds='),
      ),
    ]);
    sections.push('', formatVm(results.vm));
  }
  const text = sections.join('\n');
  console.log(text);
  await mkdir(RESULTS, { recursive: true });
  const stamp = m.date.replace(/[:.]/g, '-');
  await writeFile(join(RESULTS, `${stamp}${quick ? '-quick' : ''}.json`), `${JSON.stringify(results, null, 2)}\n`);
  // latest.json keeps the newest result of each part (a run with --only replaces only its parts).
  const latestJson = join(RESULTS, `latest${quick ? '-quick' : ''}.json`);
  /** @type {Results} (written by an earlier run of this script) */
  const prev = existsSync(latestJson) ? JSON.parse(readFileSync(latestJson, 'utf8')) : {};
  const merged = {
    ...prev,
    ...results,
    machines: {
      ...(prev.machines ?? {}),
      ...Object.fromEntries(/** @type {const} */ (['plan', 'hook', 'vm']).filter((k) => results[k]).map((k) => [k, m])),
    },
  };
  await writeFile(latestJson, `${JSON.stringify(merged, null, 2)}\n`);
  await writeFile(join(RESULTS, `latest${quick ? '-quick' : ''}.md`), `${renderAll(merged)}\n`);
  console.error(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s; results in bench/results/`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(`bench failed: ${err instanceof BenchError ? err.message : (err?.stack ?? err)}`);
    process.exitCode = 1;
  });
}
