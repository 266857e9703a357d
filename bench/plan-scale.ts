/**
 * Planner scale, in-process, no kernel: plan() on synthetic hosts of
 * V VRFs × M members × R routes, from scratch and on the converged host (what
 * every update-status does). Prints one JSON document on stdout.
 *
 *   node build/bench/plan-scale.mjs [--quick] [--only V,M,R]
 */
import { plan } from '../src/vrf/plan.js';
import { simulate } from '../src/vrf/model.js';
import { EMPTY_LEDGER } from '../src/vrf/types.js';
import { desiredOf, hostObjects, observedBefore, scaleSpec, type ScaleSize } from './lib/gen.js';
import { fitExponent, median, timeFresh } from './lib/stats.js';

export interface PlanCell {
  readonly size: ScaleSize;
  /** Objects of the converged host (links + addrs + routes + rules). */
  readonly objects: number;
  readonly steps: number;
  /** Medians, wall clock. */
  readonly scratchMs: number;
  readonly noopMs: number;
  /** Medians, CPU time of the process (robust against other load on the machine). */
  readonly scratchCpuMs: number;
  readonly noopCpuMs: number;
  readonly noopSteps: number;
  readonly runs: number;
  readonly scratchSamples: readonly number[];
  readonly noopSamples: readonly number[];
}

export interface PlanScaleResult {
  readonly bench: 'plan-scale';
  readonly node: string;
  readonly cells: readonly PlanCell[];
  /** Log-log least-squares exponents of time against size. */
  readonly exponents: {
    readonly scratchVsObjects: number;
    readonly noopVsObjects: number;
    readonly scratchVsRoutes: number;
    readonly scratchVsMembers: number;
    readonly scratchVsVrfs: number;
    readonly noopVsRoutes: number;
  };
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args[args.indexOf('--only') + 1];
const VRFS = quick ? [4, 128] : [4, 32, 128];
const MEMBERS = quick ? [16, 512] : [16, 128, 512];
const ROUTES = quick ? [100, 10_000] : [100, 1_000, 10_000];
const RUNS = quick ? 5 : 7;

const WARMUP = 2;

function cell(size: ScaleSize): PlanCell {
  // Every call gets a host of the same shape with different addresses (see scaleSpec).
  const scratch = timeFresh(
    (i) => {
      const spec = scaleSpec(size, i);
      return { desired: desiredOf(spec), before: observedBefore(spec) };
    },
    (x) => plan(x.desired, x.before, EMPTY_LEDGER),
    RUNS,
    WARMUP,
  );
  const noop = timeFresh(
    (i) => {
      const spec = scaleSpec(size, WARMUP + RUNS + i);
      const desired = desiredOf(spec);
      const before = observedBefore(spec);
      const p = plan(desired, before, EMPTY_LEDGER);
      return { desired, after: simulate(before, p.steps), ledger: p.ledger };
    },
    (x) => plan(x.desired, x.after, x.ledger),
    RUNS,
    WARMUP,
  );
  return {
    size,
    objects: hostObjects(noop.lastInput.after),
    steps: scratch.last.steps.length,
    scratchMs: median(scratch.wall),
    noopMs: median(noop.wall),
    scratchCpuMs: median(scratch.cpu),
    noopCpuMs: median(noop.cpu),
    noopSteps: noop.last.steps.length,
    runs: RUNS,
    scratchSamples: scratch.wall,
    noopSamples: noop.wall,
  };
}

const sizes: ScaleSize[] = [];
if (onlyArg && args.includes('--only')) {
  const [v, m, r] = onlyArg.split(',').map(Number);
  sizes.push({ vrfs: v ?? 4, members: m ?? 16, routes: r ?? 100 });
} else {
  for (const vrfs of VRFS)
    for (const members of MEMBERS) for (const routes of ROUTES) sizes.push({ vrfs, members, routes });
}

const cells: PlanCell[] = [];
for (const s of sizes) {
  const c = cell(s);
  cells.push(c);
  process.stderr.write(
    `plan ${s.vrfs}×${s.members}×${s.routes}: scratch ${c.scratchMs.toFixed(2)} ms wall ${c.scratchCpuMs.toFixed(1)} cpu` +
      ` (${c.steps} steps), no-op ${c.noopMs.toFixed(2)} ms wall ${c.noopCpuMs.toFixed(1)} cpu (${c.noopSteps} steps)\n`,
  );
}

const maxV = Math.max(...VRFS);
const maxM = Math.max(...MEMBERS);
const maxR = Math.max(...ROUTES);
const axis = (pick: (c: PlanCell) => boolean, x: (c: PlanCell) => number, y: (c: PlanCell) => number): number =>
  fitExponent(cells.filter(pick).map((c) => ({ x: x(c), y: y(c) })));

const result: PlanScaleResult = {
  bench: 'plan-scale',
  node: process.version,
  cells,
  exponents: {
    scratchVsObjects: axis(
      () => true,
      (c) => c.objects,
      (c) => c.scratchCpuMs,
    ),
    noopVsObjects: axis(
      () => true,
      (c) => c.objects,
      (c) => c.noopCpuMs,
    ),
    scratchVsRoutes: axis(
      (c) => c.size.vrfs === maxV && c.size.members === maxM,
      (c) => c.size.routes,
      (c) => c.scratchCpuMs,
    ),
    scratchVsMembers: axis(
      (c) => c.size.vrfs === maxV && c.size.routes === maxR,
      (c) => c.size.members,
      (c) => c.scratchCpuMs,
    ),
    scratchVsVrfs: axis(
      (c) => c.size.members === maxM && c.size.routes === maxR,
      (c) => c.size.vrfs,
      (c) => c.scratchCpuMs,
    ),
    noopVsRoutes: axis(
      (c) => c.size.vrfs === maxV && c.size.members === maxM,
      (c) => c.size.routes,
      (c) => c.noopCpuMs,
    ),
  },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
