/**
 * Small statistics for the benchmarks: medians, paired rounds and the log-log
 * least-squares exponent. Timing goals are never asserted anywhere: the
 * benchmarks print ratios against a baseline measured in the same run.
 */
import { performance } from 'node:perf_hooks';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Times `fn` (synchronous) `runs` times after `warmup` untimed calls; milliseconds. */
export function timeSync<T>(fn: () => T, runs: number, warmup = 1): { samples: number[]; last: T } {
  let last = fn();
  for (let i = 1; i < warmup; i++) last = fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = fn();
    samples.push(performance.now() - t0);
  }
  return { samples, last };
}

/**
 * Times `fn` on a fresh input per call (made untimed by `make(i)`): `warmup` untimed calls,
 * then `runs` timed ones. Wall and CPU (user+system of this process) milliseconds.
 */
export function timeFresh<I, T>(
  make: (i: number) => I,
  fn: (input: I) => T,
  runs: number,
  warmup = 1,
): { wall: number[]; cpu: number[]; last: T; lastInput: I } {
  let lastInput = make(0);
  let last = fn(lastInput);
  for (let i = 1; i < warmup; i++) last = fn(make(i));
  const wall: number[] = [];
  const cpu: number[] = [];
  // With --expose-gc: collect the garbage of earlier runs and of make() first, so that a run
  // pays only for its own allocations (a hook plans once, in a fresh process).
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < runs; i++) {
    lastInput = make(warmup + i);
    gc?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    last = fn(lastInput);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall, cpu, last, lastInput };
}

/**
 * Paired rounds A, B, A, B, … (the order alternates every round so neither side always runs
 * first); one untimed warm-up of each first. Returns the samples of each side, milliseconds.
 */
export async function paired(
  sides: Readonly<Record<string, () => Promise<number>>>,
  rounds: number,
  warmup = 1,
): Promise<Record<string, number[]>> {
  const names = Object.keys(sides);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let w = 0; w < warmup; w++) for (const n of names) await sides[n]!();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const n of order) out[n]!.push(await sides[n]!());
  }
  return out;
}

/** Least-squares slope of log(y) against log(x): y ∝ x^k. */
export function fitExponent(points: readonly { x: number; y: number }[]): number {
  const ps = points.filter((p) => p.x > 0 && p.y > 0);
  if (ps.length < 2) return Number.NaN;
  const lx = ps.map((p) => Math.log(p.x));
  const ly = ps.map((p) => Math.log(p.y));
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length;
  const my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i]! - mx) * (ly[i]! - my);
    den += (lx[i]! - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

export function ms(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

export function ratio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : '–';
}

export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}
