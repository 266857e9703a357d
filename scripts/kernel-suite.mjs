#!/usr/bin/env node
// npm run test:kernel [-- [--list] [--no-pack] [PATTERN…]]
// The real-kernel suite: packs the charm, boots Debian's kernel under qemu ONCE (or runs natively
// where the host kernel has VRF), runs the selected scenarios (tests/kernel/scenarios/*.mjs; a
// PATTERN selects by file or scenario name substring), prints per-scenario results and
// "N passed, N failed", and exits non-zero on any failure.
// VRF_HOST_SKIP_KERNEL=1 skips the suite (loudly). VRF_HOST_KERNEL=vm|native forces the mode.
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

const SCENARIO_DIR = path.join(repoRoot, 'tests', 'kernel', 'scenarios');
const RUNNER = path.join(repoRoot, 'tests', 'kernel', 'runner.guest.mjs');
const TIMINGS_COMMITTED = path.join(repoRoot, 'tests', 'kernel', 'timings.json');
const TIMINGS_MEASURED = path.join(cacheRoot(), 'kernel-timings.json');
const DEFAULT_ESTIMATE_MS = 120_000;

function readTimings(file) {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8'));
    return o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).filter(([, v]) => Number.isFinite(v) && v > 0)) : {};
  } catch {
    return {};
  }
}

/** Each scenario's expected duration: last measured on this machine, else the committed estimate. */
export function estimates(scenarios) {
  const t = { ...readTimings(TIMINGS_COMMITTED), ...readTimings(TIMINGS_MEASURED) };
  return new Map(scenarios.map((s) => [s.name, t[s.name] ?? DEFAULT_ESTIMATE_MS]));
}

/**
 * Split scenarios into n shards of about equal expected time (longest first onto the lightest
 * shard); each shard keeps file-name order, so a scenario that must run before the vrf module is
 * loaded still runs first in its guest.
 */
export function shard(scenarios, n, est) {
  const shards = Array.from({ length: Math.max(1, Math.min(n, scenarios.length)) }, () => ({ ms: 0, items: [] }));
  for (const s of [...scenarios].sort((a, b) => est.get(b.name) - est.get(a.name) || a.file.localeCompare(b.file))) {
    const lightest = shards.reduce((m, x) => (x.ms < m.ms ? x : m));
    lightest.items.push(s);
    lightest.ms += est.get(s.name);
  }
  for (const x of shards) x.items.sort((a, b) => a.file.localeCompare(b.file));
  return shards.filter((x) => x.items.length > 0);
}

/** A stream that prefixes every complete line (two guests print side by side). */
function prefixed(out, prefix) {
  let buf = '';
  return {
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

export async function listScenarios(patterns = []) {
  const files = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.mjs')).sort();
  const out = [];
  for (const f of files) {
    const file = path.join(SCENARIO_DIR, f);
    const mod = await import(pathToFileURL(file).href);
    const name = mod.name ?? path.basename(f, '.mjs');
    if (patterns.length && !patterns.some((p) => f.includes(p) || name.includes(p))) continue;
    out.push({ file, name, description: mod.description ?? '', needsCharm: Boolean(mod.needsCharm) });
  }
  return out;
}

function banner(lines) {
  const w = Math.max(...lines.map((l) => l.length));
  const bar = '*'.repeat(w + 4);
  return [bar, ...lines.map((l) => `* ${l.padEnd(w)} *`), bar].join('\n');
}

async function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const patterns = argv.filter((a) => !a.startsWith('--'));
  if (process.env.VRF_HOST_SKIP_KERNEL === '1') {
    console.error(banner(['REAL-KERNEL SUITE SKIPPED (VRF_HOST_SKIP_KERNEL=1).', 'Nothing that touches the network was proven in this run.']));
    return 0;
  }
  const scenarios = await listScenarios(patterns);
  if (flags.has('--list')) {
    for (const s of scenarios) console.log(`${path.basename(s.file)}  ${s.name}${s.needsCharm ? ' [charm]' : ''}  ${s.description}`);
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
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'pack.mjs')], { cwd: repoRoot, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`npm run pack failed (exit ${r.status})`);
      return 1;
    }
  }
  console.log(`# ${scenarios.length} scenario(s): ${scenarios.map((s) => s.name).join(', ')}`);
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('VRF_HOST_') && k !== 'VRF_HOST_RESULTS') env[k] = v;
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
  const est = estimates(scenarios);
  const shards = shard(scenarios, mode === 'vm' ? wantShards : 1, est);
  const smp = shards.length > 1 ? 1 : 2;
  for (const [i, x] of shards.entries()) {
    console.log(`# ${mode === 'vm' ? `guest ${i + 1}/${shards.length} (-smp ${smp})` : 'native'}: ${x.items.map((s) => s.name).join(', ')} (expected ~${Math.round(x.ms / 1000)} s)`);
  }
  let runs;
  try {
    runs = await Promise.all(shards.map((x, i) => {
      const stream = shards.length > 1 ? prefixed(process.stdout, `[vm${i + 1}] `) : process.stdout;
      return runKernelJob({
        script: RUNNER,
        args: x.items.map((s) => s.file),
        env,
        smp,
        timeoutMs: Number(process.env.VRF_HOST_SUITE_TIMEOUT_MS ?? 40 * 60_000),
        stream,
        log: (s) => console.log(`# ${shards.length > 1 ? `[vm${i + 1}] ` : ''}${s}`),
      }).finally(() => stream.flush?.());
    }));
  } catch (e) {
    if (e instanceof HostPrerequisiteError) {
      console.error(banner([`REAL-KERNEL SUITE CANNOT RUN: ${e.message}`]));
      return 1;
    }
    throw e;
  }
  const byName = new Map();
  const exitCodes = [];
  console.log('');
  for (const [i, r] of runs.entries()) {
    const resultsFile = path.join(r.resultsDir, 'results.json');
    const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')).results : [];
    for (const res of results) byName.set(res.name, { ...res, guest: i + 1 });
    exitCodes.push(r.exitCode);
    const ran = results.reduce((a, x) => a + x.ms, 0);
    console.log(`# real-kernel suite ${shards.length > 1 ? `guest ${i + 1}/${shards.length} ` : ''}(${r.mode}${r.mode === 'vm' ? `, -smp ${smp}, boot ${r.timings.bootMs ?? '?'} ms` : ''}, scenarios ${ran} ms, guest total ${r.timings.totalMs} ms, exit ${r.exitCode}; artifacts ${r.shareDir})`);
  }
  console.log(`# real-kernel suite total ${Date.now() - t0} ms (${mode}${shards.length > 1 ? `, ${shards.length} guests in parallel` : ''}; host loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
  let passed = 0;
  let failed = 0;
  const measured = readTimings(TIMINGS_MEASURED);
  for (const [i, x] of shards.entries()) {
    for (const s of x.items) {
      const res = byName.get(s.name);
      if (!res) {
        failed += 1;
        console.log(`FAIL  ${s.name}  (did not run: guest ${i + 1} exit ${runs[i].exitCode ?? 'none (timeout or crash)'})`);
        continue;
      }
      if (res.ok) passed += 1;
      else failed += 1;
      // A failed scenario may have stopped early: it only ever raises its estimate.
      if (res.ok || !(measured[s.name] > res.ms)) measured[s.name] = res.ms;
      console.log(`${res.ok ? 'PASS' : 'FAIL'}  ${res.name}  (${res.ms} ms)${res.error ? `  ${res.error}` : ''}`);
    }
  }
  try {
    mkdirSync(path.dirname(TIMINGS_MEASURED), { recursive: true });
    writeFileSync(TIMINGS_MEASURED, `${JSON.stringify(measured, null, 2)}\n`);
  } catch {
    /* only a balancing hint for the next run */
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && exitCodes.every((c) => c === 0) ? 0 : 1;
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
