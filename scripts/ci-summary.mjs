#!/usr/bin/env node
// node scripts/ci-summary.mjs LOG: .ci/run's closing count over the output of `npm test`.
// It counts exactly two kinds of line, each the one closing count of its runner:
//   jest's           "Tests:       1 failed, 2 skipped, 40 passed, 43 total" (unit, then e2e)
//   the kernel suite's "kernel: 14 passed, 0 failed, 0 skipped"
// and nothing else: a kernel guest's own "# guest: N passed, N failed" or any test's output that
// happens to look like a count is not a closing line. Prints "total: N passed, N failed, N skipped"
// last, and exits 1 when something failed, when a suite printed no closing line at all (it did
// not run, or crashed before counting), or when the kernel suite skipped scenarios: a CI run that
// proved nothing on the real kernel is not green.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The suites `npm test` runs, in order, each with the closing line it must print. */
export const EXPECTED = [
  { name: 'unit', kind: 'jest' },
  { name: 'e2e', kind: 'jest' },
  { name: 'kernel', kind: 'kernel' },
];

const JEST = /^Tests:\s+(.*\btotal)\s*$/;
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const KERNEL = /^kernel: (\d+) passed, (\d+) failed, (\d+) skipped\s*$/;

/**
 * One jest "Tests:" line's figures (jest writes only the non-zero ones, "todo" counts as skipped).
 * @param {string} body
 */
function jestFigures(body) {
  /** @param {string} word */
  const n = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(body)?.[1] ?? 0);
  return { passed: n('passed'), failed: n('failed'), skipped: n('skipped') + n('todo') };
}

/** @typedef {{kind: string, passed: number, failed: number, skipped: number}} CountLine */

/**
 * @param {string} text the whole output of `npm test`
 * @returns {{passed: number, failed: number, skipped: number, problems: string[], lines: CountLine[]}}
 */
export function summarise(text) {
  /** @type {CountLine[]} */
  const lines = [];
  let kernelSkippedBanner = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(ANSI, '').replace(/\r$/, '');
    const j = JEST.exec(line);
    if (j) lines.push({ kind: 'jest', ...jestFigures(j[1] ?? '') });
    const k = KERNEL.exec(line);
    if (k) lines.push({ kind: 'kernel', passed: Number(k[1]), failed: Number(k[2]), skipped: Number(k[3]) });
    if (/^kernel: SKIPPED\b/.test(line)) kernelSkippedBanner = true;
  }
  /** @param {'passed' | 'failed' | 'skipped'} key */
  const sum = (key) => lines.reduce((a, l) => a + l[key], 0);
  const problems = [];
  for (const kind of ['jest', 'kernel']) {
    const want = EXPECTED.filter((e) => e.kind === kind);
    const got = lines.filter((l) => l.kind === kind).length;
    if (got !== want.length)
      problems.push(
        `${want.map((e) => e.name).join(' and ')}: expected ${want.length} closing count line(s), found ${got} (a suite` +
          ` did not run, stopped before counting, or counted twice)`,
      );
  }
  const kernelSkipped = lines.filter((l) => l.kind === 'kernel').reduce((a, l) => a + l.skipped, 0);
  if (kernelSkipped > 0 || kernelSkippedBanner)
    problems.push(`kernel: SKIPPED (${kernelSkipped} scenario(s)): nothing was proven on the real kernel`);
  if (lines.some((l) => l.kind === 'kernel' && l.passed + l.failed + l.skipped === 0))
    problems.push('kernel: the suite counted no scenario');
  const failed = sum('failed');
  if (failed > 0) problems.push(`${failed} test(s) failed`);
  return { passed: sum('passed'), failed, skipped: sum('skipped'), problems, lines };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node scripts/ci-summary.mjs LOG');
    process.exit(2);
  }
  const s = summarise(readFileSync(file, 'utf8'));
  for (const p of s.problems) console.log(`ci: ${p}`);
  console.log(`total: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  process.exit(s.problems.length === 0 ? 0 : 1);
}
