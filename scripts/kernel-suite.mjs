#!/usr/bin/env node
// npm run test:kernel [-- [--list] [--no-pack] [PATTERN…]]
// The real-kernel suite: packs the charm, boots Debian's kernel under qemu ONCE (or runs natively
// where the host kernel has VRF), runs the selected scenarios (tests/kernel/scenarios/*.mjs; a
// PATTERN selects by file or scenario name substring), prints per-scenario results and
// "N passed, N failed", and exits non-zero on any failure.
// VRF_HOST_SKIP_KERNEL=1 skips the suite (loudly). VRF_HOST_KERNEL=vm|native forces the mode.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HostPrerequisiteError } from './vm/deps.mjs';
import { repoRoot } from './vm/paths.mjs';
import { runKernelJob } from './vm/run.mjs';

const SCENARIO_DIR = path.join(repoRoot, 'tests', 'kernel', 'scenarios');
const RUNNER = path.join(repoRoot, 'tests', 'kernel', 'runner.guest.mjs');

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
  let r;
  try {
    r = await runKernelJob({
      script: RUNNER,
      args: scenarios.map((s) => s.file),
      env,
      timeoutMs: Number(process.env.VRF_HOST_SUITE_TIMEOUT_MS ?? 40 * 60_000),
      stream: process.stdout,
      log: (s) => console.log(`# ${s}`),
    });
  } catch (e) {
    if (e instanceof HostPrerequisiteError) {
      console.error(banner([`REAL-KERNEL SUITE CANNOT RUN: ${e.message}`]));
      return 1;
    }
    throw e;
  }
  const resultsFile = path.join(r.resultsDir, 'results.json');
  const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')).results : [];
  console.log('');
  console.log(`# real-kernel suite (${r.mode}${r.mode === 'vm' ? `, boot ${r.timings.bootMs ?? '?'} ms` : ''}, total ${Date.now() - t0} ms; artifacts ${r.shareDir})`);
  for (const res of results) console.log(`${res.ok ? 'PASS' : 'FAIL'}  ${res.name}  (${res.ms} ms)${res.error ? `  ${res.error}` : ''}`);
  const ran = new Set(results.map((x) => x.name));
  const missing = scenarios.filter((s) => !ran.has(s.name));
  for (const s of missing) console.log(`FAIL  ${s.name}  (did not run: guest exit ${r.exitCode})`);
  const passed = results.filter((x) => x.ok).length;
  const failed = results.length - passed + missing.length;
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && r.exitCode === 0 ? 0 : 1;
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
