/**
 * Runs INSIDE the VM, inside the unit's network namespace (`ip netns exec NS node
 * build/bench/vm-apply.mjs JOB.json`): vrf-host's converge, timed in-process after Node
 * has started, with every process it spawns timed too (the engine's spawn is injectable).
 * Prints one JSON line.
 *
 * JOB.json: { root, mode: 'apply' | 'plan' | 'teardown', config?: raw charm options, bindings?, controllers?,
 *             scale?: { vrfs, members, routes, variant } }  — scale: apply desiredOf(scaleSpec(…)).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseEngineConfig } from '../src/vrf/config.js';
import { converge, teardown } from '../src/vrf/engine.js';
import { execaSpawn, type Spawn } from '../src/vrf/ip.js';
import type { Bindings, EngineInputs } from '../src/vrf/types.js';
import { desiredOf, scaleSpec } from './lib/gen.js';

interface Job {
  readonly root: string;
  readonly mode: 'apply' | 'plan' | 'teardown';
  readonly config?: Record<string, unknown>;
  readonly bindings?: Bindings;
  readonly controllers?: string[];
  readonly scale?: { vrfs: number; members: number; routes: number; variant?: number };
}

const t0 = performance.now();
const job = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Job;
const spawns: { argv: string[]; at: number; ms: number; lines: number }[] = [];
const spawn: Spawn = async (file, args, options) => {
  const s = performance.now();
  const r = await execaSpawn(file, args, options);
  spawns.push({
    argv: [file, ...args],
    at: s - t0,
    ms: performance.now() - s,
    lines: options.input ? options.input.split('\n').length - 1 : 0,
  });
  return r;
};

let inputs: EngineInputs | undefined;
if (!job.scale) {
  const cfg = parseEngineConfig({ ...(job.config ?? {}) });
  if (!cfg.ok) throw new Error(`config: ${cfg.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  inputs = { config: cfg.config, bindings: job.bindings ?? {}, controllers: job.controllers ?? [], netplan: {} };
}
const spec = job.scale ? scaleSpec(job.scale, job.scale.variant ?? 0) : null;
const opts = {
  root: job.root,
  spawn,
  boot: false as const,
  lockTimeoutSec: 30,
  dryRun: job.mode === 'plan',
  unit: 'vrf-host/0',
  ...(spec ? { desired: desiredOf(spec), controllers: [spec.controller] } : { inputs: inputs! }),
};
if (job.mode === 'teardown') {
  const s = performance.now();
  const t = await teardown({ root: job.root, spawn, unit: 'vrf-host/0', lockTimeoutSec: 30 });
  process.stdout.write(
    `${JSON.stringify({ ok: t.ok, problems: t.problems, applyMs: performance.now() - s, spawns })}\n`,
  );
  process.exit(0);
}
const tStart = performance.now();
const r = await converge(opts);
const applyMs = performance.now() - tStart;
const spawnMs = spawns.reduce((a, s) => a + s.ms, 0);
process.stdout.write(
  `${JSON.stringify({
    ok: r.ok,
    problems: r.problems,
    warnings: r.warnings.map((w) => `${w.field}: ${w.message}`),
    failure: r.failure,
    applyMs,
    loadMs: tStart - t0,
    spawnMs,
    spawns,
    steps: r.planned.length,
    commands: job.mode === 'plan' ? r.planned.map((p) => p.command) : undefined,
  })}\n`,
);
