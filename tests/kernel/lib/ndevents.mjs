// One event of networkd's normal life under the probe loop (guest side): mark the loop, run the
// event, stay `quietMs` longer inside the same window (a heal that takes seconds still counts),
// then read the failed probes of the window and the host's snapshot against the converged one.
import { sleep } from './exec.mjs';
import { diffSnapshots, snapshot } from './snapshot.mjs';

/**
 * @template T
 * @param {{note: (line: string) => void}} t
 * @param {{loop: import('./probeloop.mjs').ProbeLoop, ns: string, label: string, fn: () => Promise<T>,
 *          baseline?: import('./snapshot.mjs').Snapshot|null, quietMs?: number, ignore?: RegExp|null}} o
 *   baseline: the converged snapshot to compare with (null: no comparison)
 *   ignore: snapshot difference lines to leave out (e.g. objects the scenario added on purpose)
 * @returns {Promise<{label: string, failed: Record<string, import('./probeloop.mjs').Tally>,
 *          diff: string[]|null, ms: number, info: T}>}
 */
export async function runEvent(t, { loop, ns, label, fn, baseline = null, quietMs = 3000, ignore = null }) {
  loop.mark(label);
  const t0 = Date.now();
  const info = await fn();
  const ms = Date.now() - t0;
  await sleep(quietMs);
  loop.mark();
  await loop.settle();
  const failed = loop.failed(label);
  let diff = null;
  if (baseline) {
    diff = diffSnapshots(baseline, snapshot(ns)).filter((d) => !ignore || !ignore.test(d));
  }
  const lost = Object.entries(failed)
    .filter(([, x]) => x.failed > 0)
    .map(([n, x]) => `${n} ${x.failed}/${x.sent} (${x.errors.join(',')})`);
  t.note(
    `${label}: ${ms} ms${info ? ` ${JSON.stringify(info)}` : ''}; lost: ${lost.length ? lost.join(', ') : 'none'}${
      diff
        ? `; snapshot vs converged: ${diff.length ? `${diff.length} differences: ${diff.slice(0, 6).join(' | ')}` : 'equal'}`
        : ''
    }`,
  );
  return { label, failed, diff, ms, info };
}

/**
 * Did no target lose a probe (optionally except `except`)?
 * @param {Record<string, import('./probeloop.mjs').Tally>} failed
 * @param {readonly string[]} [except]
 */
export function noneLost(failed, except = []) {
  return Object.entries(failed).every(([n, x]) => except.includes(n) || x.failed === 0);
}
