#!/usr/bin/env node
// npm run mutate:selftest: proves on a small project (tests/fixtures/mutate) that npm run mutate's
// accumulated results are re-measured where they must be, with real Stryker runs (about a minute):
//   1. a first run measures every mutant; `x * 2` → `x / 2` is killed by the test 'doubles';
//   2. nothing changed: the file is not run at all;
//   3. the test 'doubles' is weakened: the mutant it killed is tested again, and now survives;
//   4. a line of the source changes: exactly the mutants over that line are tested again, the
//      rest reused (Stryker's "N of M mutant result(s) are reused").
//   0. (before them) `--sample 3` with a seed whose draw holds a function's body: the 3 drawn
//      mutants are measured and recorded, and no other (none of the mutants inside the body's
//      span: the sample ignorer and runner), and the estimate counts all 3.
// Each step fails the script if it does not hold. Run it under `nice -n 19`.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutantListOf, mutantsOf, recordStore } from './mutate-records.mjs';
import { drawSample, fromRecord, mutantKey } from './mutate-sample.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Under the repo, so that the copy finds the repo's node_modules.
const WORK = path.join(ROOT, '.cache/mutate-selftest');
const FILE = 'src/clamp.ts';
const TEST = 'tests/clamp.test.ts';

rmSync(WORK, { recursive: true, force: true });
cpSync(path.join(ROOT, 'tests/fixtures/mutate'), WORK, { recursive: true });
const store = recordStore(WORK);

let failed = 0;
const check = (/** @type {boolean} */ ok, /** @type {string} */ what) => {
  console.log(`${ok ? 'ok' : 'FAILED'}: ${what}`);
  if (!ok) failed++;
};

/** One `npm run mutate -- src/clamp.ts` (or the arguments given) in the copy; its output. */
function mutate(args = [FILE]) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/mutate.mjs'), ...args], {
    cwd: WORK,
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`mutate failed (exit ${r.status}):\n${out}`);
  return out;
}
const statusOf = (/** @type {string} */ mutator, /** @type {string} */ replacement) =>
  store.read(FILE)?.mutants.find((m) => m.mutatorName === mutator && m.replacement === replacement)?.status;
const reused = (/** @type {string} */ out) => {
  const m = /Result:\s+(\d+) of (\d+) mutant result\(s\) are reused/.exec(out);
  return m ? { reused: Number(m[1]), of: Number(m[2]) } : undefined;
};
const edit = (/** @type {string} */ f, /** @type {string} */ from, /** @type {string} */ to) => {
  const p = path.join(WORK, f);
  const text = readFileSync(p, 'utf8');
  if (!text.includes(from)) throw new Error(`${f} has no ${JSON.stringify(from)}`);
  writeFileSync(p, text.replace(from, to));
};

const source = () => readFileSync(path.join(WORK, FILE), 'utf8');
const total = async () => (await mutantsOf([{ name: FILE, content: source() }])).get(FILE)?.length ?? 0;

// 0. A sample of 3.
/** @param {import('./mutate-sample.mjs').Location} a @param {import('./mutate-sample.mjs').Location} b */
const inside = (a, b) =>
  (a.start.line < b.start.line || (a.start.line === b.start.line && a.start.column <= b.start.column)) &&
  (b.end.line < a.end.line || (b.end.line === a.end.line && b.end.column <= a.end.column));
const population = await mutantListOf([{ name: FILE, content: source() }]);
const holds = (/** @type {import('./mutate-sample.mjs').Mutant} */ d) =>
  population.filter((m) => inside(d.location, m.location)).length;
let seed = 0;
while (!drawSample(population, 3, String(seed)).some((d) => holds(d) > 3)) seed++;
const drawn = drawSample(population, 3, String(seed));
let out = mutate(['--sample', '3', '--seed', String(seed), FILE]);
const sampled = store.read(FILE)?.mutants.map((m) => fromRecord(FILE, m)) ?? [];
const sampledKeys = new Set(sampled.map(mutantKey));
check(
  drawn.every((d) => sampledKeys.has(mutantKey(d))),
  `sample: the 3 drawn mutants measured (one holds ${Math.max(...drawn.map(holds))} of the ${population.length} in its span)`,
);
check(
  sampled.length === drawn.length,
  `sample: no other mutant measured, not even one inside their spans (${sampled.length} recorded)`,
);
check(/: 3 of 3 drawn mutants counted/.test(out), 'sample: the estimate counts all 3');
rmSync(store.dir, { recursive: true, force: true });

// 1. A first run measures every mutant.
out = mutate();
check(
  store.read(FILE)?.mutants.length === (await total()),
  `first run: every one of the ${await total()} mutants measured`,
);
check(statusOf('ArithmeticOperator', 'x / 2') === 'Killed', "first run: 'x * 2' → 'x / 2' killed");

// 2. Nothing changed: no Stryker run.
out = mutate();
check(
  /every mutant measured, source and tests unchanged since/.test(out) && !/Result:/.test(out),
  'unchanged: not run again',
);

// 3. The killing test weakened: its mutant is tested again, and survives.
edit(TEST, 'expect(double(3)).toBe(6)', "expect(typeof double(3)).toBe('number')");
out = mutate();
check(statusOf('ArithmeticOperator', 'x / 2') === 'Survived', "test changed: 'x / 2' tested again, survives now");

// 4. One line of the source changes (same length: the mutant of the function's body, `{}`, keeps
// its place and replacement, so only the diff can tell it changed): every mutant that covers the
// changed line is tested again, every other one reused.
const before = source();
const line = before.split('\n').findIndex((l) => l.includes('return x * 2;'));
edit(FILE, 'return x * 2;', 'return x + x;');
const all = (await mutantsOf([{ name: FILE, content: source() }])).get(FILE) ?? [];
const covering = all.filter((l) => l.start.line <= line && l.end.line >= line).length;
out = mutate();
const r = reused(out);
check(
  r !== undefined && r.of === all.length && r.reused === all.length - covering && covering > 1,
  `source changed: the ${covering} mutants over the changed line tested again, the other ${all.length - covering} reused` +
    ` (Stryker: ${r ? `${r.reused} of ${r.of} reused` : 'no incremental report'})`,
);
check(store.read(FILE)?.source === source(), 'source changed: the record holds the new source');

if (failed > 0) {
  console.error(`mutate self-test: ${failed} check(s) failed; the last output:\n${out}`);
  process.exit(1);
}
rmSync(WORK, { recursive: true, force: true });
console.log('mutate self-test: every check held');
