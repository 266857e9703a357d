// npm run mutate -- --sample N: an estimate of the mutation score of all of src/vrf and src/charm
// from a uniform random sample of their mutants, when measuring every one is out of reach (11-12k
// mutants; about a minute each at nice 19 on two shared cores). Pure parts; scripts/mutate.mjs runs
// them.
//
// The draw: every mutant Stryker makes of the files today, ranked by sha(seed, its identity); the
// sample of size N is the first N by that rank. That is a uniform sample without replacement (the
// sha acts as a random permutation), and a larger N with the same seed extends the same sample, so
// a later `--sample 400` reuses what a `--sample 200` measured (through the records) and measures
// only the next 200. A mutant's identity is Stryker's own: file, location, mutator, replacement.
//
// The estimate uses the draw alone: a drawn mutant's status is looked up in its file's record
// (measured against today's source and tests) or measured now; what was measured before and not
// drawn does not enter the estimate. The records are not a random sample (whole files were chosen
// by risk), so mixing them in would bias it; their only role is to spare a drawn mutant's run.
// Mutants run in order of rank, in batches, so a run cut short has measured a prefix of the draw,
// itself a uniform sample: the estimate uses the longest prefix whose every mutant has a status.
// As in Stryker's score, a mutant that breaks the test run (RuntimeError, CompileError) counts
// neither way; killed ÷ (killed + survived + no coverage + timed out) per directory, with a 95 %
// Wilson interval (the binomial one: without the finite-population correction, so slightly wide).
import { createHash } from 'node:crypto';
import { DETECTED, VALID } from './mutate-records.mjs';

/** @typedef {{ line: number, column: number }} Position */
/** @typedef {{ start: Position, end: Position }} Location */
/** @typedef {{ file: string, location: Location, mutatorName: string, replacement: string }} Mutant */

/**
 * Stryker's identity of a mutant (its incremental differ's key), locations from 0 as its
 * instrumenter gives them.
 * @param {Mutant} m
 */
export const mutantKey = (m) =>
  `${m.file}@${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column}\n` +
  `${m.mutatorName}: ${m.replacement}`;

/**
 * A record's mutant (a Stryker report: lines and columns from 1) → the instrumenter's form.
 * @param {string} file @param {{ location: Location, mutatorName: string, replacement?: string }} m
 * @returns {Mutant}
 */
export const fromRecord = (file, m) => ({
  file,
  mutatorName: m.mutatorName,
  replacement: m.replacement ?? m.mutatorName,
  location: {
    start: { line: m.location.start.line - 1, column: m.location.start.column - 1 },
    end: { line: m.location.end.line - 1, column: m.location.end.column - 1 },
  },
});

/**
 * The first `n` mutants by sha(seed, identity): a uniform random sample without replacement,
 * in its rank order (a prefix of it is a smaller uniform sample).
 * @template {Mutant} M @param {M[]} mutants @param {number} n @param {string} seed
 * @returns {M[]}
 */
export function drawSample(mutants, n, seed) {
  const rank = (/** @type {M} */ m) =>
    createHash('sha256')
      .update(`${seed}\n${mutantKey(m)}`)
      .digest('hex');
  return mutants
    .map((m) => ({ m, r: rank(m) }))
    .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
    .slice(0, n)
    .map(({ m }) => m);
}

/**
 * The Wilson score interval of a binomial proportion k/n (95 % with z = 1.96).
 * @param {number} k @param {number} n @param {number} [z]
 * @returns {{ low: number, high: number }}
 */
export function wilson(k, n, z = 1.96) {
  if (n === 0) return { low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * The estimate per directory from the draw (rank order) and what is known of each drawn mutant.
 * Only the longest prefix of the draw whose every mutant has a status counts.
 * @param {Mutant[]} drawn @param {(m: Mutant) => string | undefined} statusOf
 * @param {string[]} dirs
 */
export function estimate(drawn, statusOf, dirs) {
  const statuses = drawn.map(statusOf);
  const missing = statuses.findIndex((s) => s === undefined);
  const prefix = missing === -1 ? drawn.length : missing;
  const rows = dirs.map((dir) => {
    const inDir = drawn.slice(0, prefix).map((m, i) => ({ m, s: statuses[i] ?? '' }));
    const mine = inDir.filter(({ m }) => m.file.startsWith(dir));
    const valid = mine.filter(({ s }) => VALID.has(s)).length;
    const killed = mine.filter(({ s }) => DETECTED.has(s)).length;
    return {
      dir,
      drawn: drawn.filter((m) => m.file.startsWith(dir)).length,
      counted: mine.length,
      valid,
      killed,
      errors: mine.length - valid,
      survivors: mine.filter(({ s }) => VALID.has(s) && !DETECTED.has(s)).map(({ m, s }) => ({ ...m, status: s })),
      score: valid === 0 ? undefined : killed / valid,
      interval: wilson(killed, valid),
    };
  });
  return { drawn: drawn.length, prefix, rows };
}

/** @param {ReturnType<typeof estimate>} e @param {string} seed */
export function estimateText(e, seed) {
  const pct = (/** @type {number} */ x) => `${(100 * x).toFixed(1)} %`;
  const lines = [
    `sample (seed ${seed}): ${e.prefix} of ${e.drawn} drawn mutants counted` +
      (e.prefix < e.drawn ? ` (the prefix of the draw measured so far)` : ''),
  ];
  for (const r of e.rows) {
    const score =
      r.score === undefined
        ? 'n/a'
        : `${pct(r.score)} killed, 95 % Wilson interval ${pct(r.interval.low)}–${pct(r.interval.high)}`;
    lines.push(
      `${r.dir}: ${r.killed} killed of ${r.valid} valid (${r.errors} errors) among ${r.counted} counted of ${r.drawn} drawn: ${score}`,
    );
  }
  return lines.join('\n');
}

/**
 * Stryker `--mutate` patterns (line from 1, column from 0: its `FILE:L:C-L:C`) for exactly the
 * given mutants' spans, one per distinct span.
 * @param {Mutant[]} mutants
 */
export function mutatePatterns(mutants) {
  const out = new Set(
    mutants.map(
      ({ file, location: { start, end } }) => `${file}:${start.line + 1}:${start.column}-${end.line + 1}:${end.column}`,
    ),
  );
  return [...out];
}

/**
 * The sample ignorer's rule: a syntax node (a Babel location: lines from 1, columns from 0) is
 * ignored, with every node inside it, when no wanted mutant lies within it. Stryker mutates every
 * node inside a `--mutate` span, so without it a drawn block's mutants would bring every mutant
 * inside the block.
 * @param {Location} node @param {Location[]} wanted locations from 0
 */
export function keepsNode(node, wanted) {
  const before = (/** @type {Position} */ a, /** @type {Position} */ b) =>
    a.line < b.line || (a.line === b.line && a.column <= b.column);
  const start = { line: node.start.line - 1, column: node.start.column };
  const end = { line: node.end.line - 1, column: node.end.column };
  return wanted.some((w) => before(start, w.start) && before(w.end, end));
}

/** A mutant of a sample run that is not in the sample: the ignorer's reason, the runner's error. */
export const NOT_DRAWN = 'not in the sample';

/**
 * Which of the sample's files an absolute path (the checkout's or Stryker's sandbox's) is.
 * @param {string} fileName @param {string[]} files paths relative to the checkout
 */
export function sampleFileOf(fileName, files) {
  const name = fileName.replaceAll('\\', '/');
  return files.find((f) => name === f || name.endsWith(`/${f}`));
}

/**
 * What a record keeps of a sample run's result: not the mutants left out of the sample.
 * @param {{ status: string, statusReason?: string }} m
 */
export const measuredInSample = (m) =>
  m.status !== 'Ignored' && !(m.status === 'RuntimeError' && m.statusReason === NOT_DRAWN);
