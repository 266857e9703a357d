#!/usr/bin/env node
// npm run test:kernel [-- [--list] [--no-pack] [PATTERN…]]
// The real-kernel suite: packs the charm, boots Debian's kernel under qemu ONCE (or runs natively
// where the host kernel has VRF), runs the selected scenarios (tests/kernel/scenarios/*.mjs; a
// PATTERN selects by file or scenario name substring), prints per-scenario results and
// "N passed, N failed", and exits non-zero on any failure.
// The last line is "kernel: N passed, N failed, N skipped", each selected scenario counted exactly
// once whatever the mode (the guests' own count lines are prefixed and start with '#').
// VRF_HOST_SKIP_KERNEL=1 skips the suite: it prints "kernel: SKIPPED" and counts every selected
// scenario as skipped (.ci/run fails on that). VRF_HOST_KERNEL=vm|native forces the mode.
// VRF_HOST_SCENARIO_DIR replaces tests/kernel/scenarios (the suite's own tests use it).
// In a VM the scenarios are split into VRF_HOST_KERNEL_SHARDS (default 2) guests of one vCPU each,
// booted side by side and balanced by each scenario's last measured time (.cache/kernel-timings.json,
// else tests/kernel/timings.json): the guest workloads are mostly serial, so two 1-vCPU TCG guests
// on two cores run the batch in about half the time of one 2-vCPU guest. Each guest runs its
// scenarios in file-name order, from a fresh boot (a scenario that needs the vrf module unloaded
// sorts first and so runs first in its guest).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HostPrerequisiteError } from './vm/deps.mjs';
import { cacheRoot, repoRoot } from './vm/paths.mjs';
import { chooseMode, runKernelJob } from './vm/run.mjs';
import { buildOldCharm } from '../tests/kernel/lib/old-charm.mjs';

const SCENARIO_DIR = process.env.VRF_HOST_SCENARIO_DIR
  ? path.resolve(process.env.VRF_HOST_SCENARIO_DIR)
  : path.join(repoRoot, 'tests', 'kernel', 'scenarios');
const RUNNER = path.join(repoRoot, 'tests', 'kernel', 'runner.guest.mjs');
const TIMINGS_COMMITTED = path.join(repoRoot, 'tests', 'kernel', 'timings.json');
const TIMINGS_MEASURED = path.join(cacheRoot(), 'kernel-timings.json');
const DEFAULT_ESTIMATE_MS = 120_000;

/**
 * A scenario's result: what runner.guest.mjs writes to results.json (the fields the suite reads),
 * or what the suite records for one that did not run.
 * @typedef {{ name: string, ok: boolean, ms: number, error?: string | null, missing?: boolean }} Outcome
 * @typedef {Awaited<ReturnType<typeof listScenarios>>[number]} Scenario
 */

/**
 * Milliseconds per scenario name, from a timings file (missing or unreadable: none).
 * @param {string} file
 * @returns {Record<string, number>}
 */
function readTimings(file) {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8'));
    return o && typeof o === 'object'
      ? Object.fromEntries(Object.entries(o).filter(([, v]) => Number.isFinite(v) && v > 0))
      : {};
  } catch {
    return {};
  }
}

/**
 * Each scenario's expected duration: last measured on this machine, else the committed estimate.
 * @param {readonly { name: string }[]} scenarios
 */
export function estimates(scenarios) {
  const t = { ...readTimings(TIMINGS_COMMITTED), ...readTimings(TIMINGS_MEASURED) };
  return new Map(scenarios.map((s) => [s.name, t[s.name] ?? DEFAULT_ESTIMATE_MS]));
}

/**
 * Split scenarios into n shards of about equal expected time (longest first onto the lightest
 * shard); each shard keeps file-name order, so a scenario that must run before the vrf module is
 * loaded still runs first in its guest.
 * @template {{name: string, file: string}} S
 * @param {readonly S[]} scenarios
 * @param {number} n
 * @param {Map<string, number>} est expected milliseconds per scenario name
 * @returns {{ms: number, items: S[]}[]}
 */
export function shard(scenarios, n, est) {
  /** @type {{ms: number, items: S[]}[]} */
  const shards = Array.from({ length: Math.max(1, Math.min(n, scenarios.length)) }, () => ({ ms: 0, items: [] }));
  const ms = (/** @type {string} */ name) => est.get(name) ?? 0;
  for (const s of [...scenarios].sort((a, b) => ms(b.name) - ms(a.name) || a.file.localeCompare(b.file))) {
    const lightest = shards.reduce((m, x) => (x.ms < m.ms ? x : m));
    lightest.items.push(s);
    lightest.ms += ms(s.name);
  }
  for (const x of shards) x.items.sort((a, b) => a.file.localeCompare(b.file));
  return shards.filter((x) => x.items.length > 0);
}

/**
 * A stream that prefixes every complete line (two guests print side by side).
 * @param {{ write: (s: string) => unknown }} out
 * @param {string} prefix
 */
function prefixed(out, prefix) {
  let buf = '';
  return {
    /** @param {Buffer | string} s */
    write(s) {
      buf += s;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) out.write(`${prefix}${l}\n`);
      return true;
    },
    flush() {
      if (buf) out.write(`${prefix}${buf}\n`);
      buf = '';
    },
  };
}

/**
 * The scenario files whose file or scenario name contains one of the patterns (all without one).
 * @param {readonly string[]} [patterns]
 */
export async function listScenarios(patterns = []) {
  const files = readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.mjs'))
    .sort();
  const out = [];
  for (const f of files) {
    const file = path.join(SCENARIO_DIR, f);
    const mod = await import(pathToFileURL(file).href);
    const name = mod.name ?? path.basename(f, '.mjs');
    if (patterns.length && !patterns.some((p) => f.includes(p) || name.includes(p))) continue;
    out.push({
      file,
      name,
      description: mod.description ?? '',
      needsCharm: Boolean(mod.needsCharm),
      upgradeFrom: typeof mod.upgradeFrom === 'string' ? mod.upgradeFrom : null,
    });
  }
  return out;
}

/**
 * The suite's one closing count (.ci/run and scripts/ci-summary.mjs read it).
 * @param {{ passed: number, failed: number, skipped: number }} counts
 */
export function summaryLine({ passed, failed, skipped }) {
  return `kernel: ${passed} passed, ${failed} failed, ${skipped} skipped`;
}

/** @param {readonly string[]} lines */
function banner(lines) {
  const w = Math.max(...lines.map((l) => l.length));
  const bar = '*'.repeat(w + 4);
  return [bar, ...lines.map((l) => `* ${l.padEnd(w)} *`), bar].join('\n');
}

/** @param {readonly string[]} argv */
async function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const patterns = argv.filter((a) => !a.startsWith('--'));
  const scenarios = await listScenarios(patterns);
  if (process.env.VRF_HOST_SKIP_KERNEL === '1' && !flags.has('--list')) {
    console.error(
      banner([
        'REAL-KERNEL SUITE SKIPPED (VRF_HOST_SKIP_KERNEL=1).',
        'Nothing that touches the network was proven in this run.',
      ]),
    );
    console.log('kernel: SKIPPED');
    console.log(summaryLine({ passed: 0, failed: 0, skipped: scenarios.length }));
    return 0;
  }
  if (flags.has('--list')) {
    for (const s of scenarios)
      console.log(`${path.basename(s.file)}  ${s.name}${s.needsCharm ? ' [charm]' : ''}  ${s.description}`);
    return 0;
  }
  if (scenarios.length === 0) {
    console.error(`no scenario matches ${patterns.join(' ')}`);
    return 2;
  }
  const t0 = Date.now();
  if (scenarios.some((s) => s.needsCharm) && !flags.has('--no-pack')) {
    if (!existsSync(path.join(repoRoot, 'scripts', 'pack.mjs'))) {
      console.error('scripts/pack.mjs does not exist yet: cannot build the charm the selected scenarios need');
      return 1;
    }
    console.log('# npm run pack');
    // Under the lock the e2e global setup takes: both build the same build/charm tree.
    mkdirSync(path.join(repoRoot, 'build'), { recursive: true });
    const lock = path.join(repoRoot, 'build', '.pack.lock');
    const r = spawnSync(
      'flock',
      [lock, process.execPath, path.join(repoRoot, 'scripts', 'pack.mjs'), '--bundle-node'],
      {
        cwd: repoRoot,
        stdio: 'inherit',
      },
    );
    if (r.status !== 0) {
      console.error(`npm run pack failed (exit ${r.status})`);
      return 1;
    }
  }
  // An upgrade scenario starts from the charm an earlier commit packed (built here, cached).
  for (const commit of new Set(scenarios.map((s) => s.upgradeFrom).filter((c) => c !== null))) {
    try {
      buildOldCharm(commit);
    } catch (e) {
      console.error(
        `cannot pack the charm of ${commit} for the upgrade scenario: ${e instanceof Error ? e.message : e}`,
      );
      return 1;
    }
  }
  console.log(`# ${scenarios.length} scenario(s): ${scenarios.map((s) => s.name).join(', ')}`);
  /** @type {Record<string, string>} */
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (k.startsWith('VRF_HOST_') && k !== 'VRF_HOST_RESULTS' && v !== undefined) env[k] = v;
  let mode;
  try {
    mode = chooseMode();
  } catch (e) {
    console.error(banner([`REAL-KERNEL SUITE CANNOT RUN: ${e instanceof Error ? e.message : e}`]));
    return 1;
  }
  const wantShards = Number(process.env.VRF_HOST_KERNEL_SHARDS ?? 2);
  if (!Number.isInteger(wantShards) || wantShards < 1 || wantShards > 8) {
    console.error(`VRF_HOST_KERNEL_SHARDS must be an integer 1..8, got '${process.env.VRF_HOST_KERNEL_SHARDS}'`);
    return 2;
  }
  // Natively the scenarios share this host's namespace names and files: one batch only.
  /**
   * @param {readonly Scenario[]} list
   * @param {number} nShards
   * @param {string} label
   * @returns {Promise<Map<string, Outcome>>}
   */
  const runBatch = async (list, nShards, label) => {
    const shards = shard(list, mode === 'vm' ? nShards : 1, estimates(list));
    const smp = shards.length > 1 ? 1 : 2;
    for (const [i, x] of shards.entries()) {
      console.log(
        `# ${label}${mode === 'vm' ? `guest ${i + 1}/${shards.length} (-smp ${smp})` : 'native'}:` +
          ` ${x.items.map((s) => s.name).join(', ')} (expected ~${Math.round(x.ms / 1000)} s)`,
      );
    }
    const runs = await Promise.all(
      shards.map((x, i) => {
        // Always prefixed, one guest too: the guest's own "N passed, N failed" must never read as a
        // closing count (the suite's "kernel: …" line below is the only one).
        const stream = prefixed(
          process.stdout,
          `[${label ? 'retry ' : ''}${mode === 'vm' ? `vm${i + 1}` : 'native'}] `,
        );
        return runKernelJob({
          script: RUNNER,
          args: x.items.map((s) => s.file),
          env,
          smp,
          timeoutMs: Number(process.env.VRF_HOST_SUITE_TIMEOUT_MS ?? 40 * 60_000),
          stream,
          log: (s) => console.log(`# ${shards.length > 1 ? `[vm${i + 1}] ` : ''}${s}`),
        }).finally(() => stream.flush?.());
      }),
    );
    /** @type {Map<string, Outcome>} */
    const outcome = new Map();
    console.log('');
    for (const [i, r] of runs.entries()) {
      const resultsFile = path.join(r.resultsDir, 'results.json');
      /** @type {Outcome[]} written by runner.guest.mjs */
      const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')).results : [];
      const byName = new Map(results.map((res) => [res.name, res]));
      const ran = results.reduce((a, x) => a + x.ms, 0);
      console.log(
        `# ${label}real-kernel suite` +
          ` ${shards.length > 1 ? `guest ${i + 1}/${shards.length} ` : ''}` +
          `(${r.mode}${r.mode === 'vm' ? `, -smp ${smp}, boot ${r.timings.bootMs ?? '?'} ms` : ''}` +
          `, scenarios ${ran} ms, guest total ${r.timings.totalMs} ms, exit ${r.exitCode}; artifacts ${r.shareDir})`,
      );
      for (const sc of shards[i]?.items ?? []) {
        const res = byName.get(sc.name);
        outcome.set(
          sc.name,
          res ?? {
            name: sc.name,
            ok: false,
            ms: 0,
            missing: true,
            error: `did not run: guest ${i + 1} exit ${r.exitCode ?? 'none (timeout or crash)'}`,
          },
        );
      }
      // A guest that exits non-zero after reporting every scenario still fails the run.
      if (r.exitCode !== 0 && results.length > 0 && results.every((x) => x.ok))
        outcome.set(`guest ${i + 1}`, { name: `guest ${i + 1}`, ok: false, ms: 0, error: `exit ${r.exitCode}` });
    }
    return outcome;
  };
  let first;
  try {
    first = await runBatch(scenarios, wantShards, '');
  } catch (e) {
    if (e instanceof HostPrerequisiteError) {
      console.error(banner([`REAL-KERNEL SUITE CANNOT RUN: ${e.message}`]));
      return 1;
    }
    throw e;
  }
  // TCG guests on a shared 2-core machine are slow and jittery: a scenario that fails is run once
  // more, alone, in a fresh guest. A pass on that retry is reported loudly as FLAKY, never hidden;
  // VRF_HOST_KERNEL_RETRY=0 turns this off.
  const failedFirst = scenarios.filter((s) => !first.get(s.name)?.ok);
  /** @type {Map<string, Outcome>} */
  let retry = new Map();
  if (failedFirst.length > 0 && process.env.VRF_HOST_KERNEL_RETRY !== '0') {
    console.log(
      `# retrying ${failedFirst.length} failed scenario(s) once, in a fresh guest: ${failedFirst.map((s) => s.name).join(', ')}`,
    );
    retry = await runBatch(failedFirst, 1, 'retry: ');
  }
  console.log(
    `# real-kernel suite total ${Date.now() - t0} ms (${mode}; host loadavg` +
      ` ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
  );
  let passed = 0;
  let failed = 0;
  /** @type {string[]} */
  const flaky = [];
  const measured = readTimings(TIMINGS_MEASURED);
  for (const [name, res0] of first) {
    const again = retry.get(name);
    const res = res0.ok ? res0 : (again ?? res0);
    if (!res0.ok && again?.ok) flaky.push(`${name}: first run: ${res0.error ?? 'checks failed'}`);
    if (res.ok) passed += 1;
    else failed += 1;
    // A failed scenario may have stopped early: it only ever raises its estimate.
    if (!res.missing && (res0.ok || !((measured[name] ?? 0) > res0.ms)))
      measured[name] = Math.max(res0.ms, again?.ms ?? 0);
    console.log(
      `${res.ok ? 'PASS' : 'FAIL'}  ${name}  (${res.ms}` +
        ` ms)${!res0.ok && again?.ok ? '  FLAKY: failed, then passed on retry' : ''}${!res.ok && res.error ? `  ${res.error}` : ''}`,
    );
  }
  if (flaky.length > 0) console.log(banner(['FLAKY SCENARIOS (failed once, passed on retry):', ...flaky]));
  try {
    mkdirSync(path.dirname(TIMINGS_MEASURED), { recursive: true });
    writeFileSync(TIMINGS_MEASURED, `${JSON.stringify(measured, null, 2)}\n`);
  } catch {
    /* only a balancing hint for the next run */
  }
  console.log(summaryLine({ passed, failed, skipped: 0 }));
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e instanceof Error ? e.stack : e);
      process.exit(1);
    },
  );
}
