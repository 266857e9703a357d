#!/usr/bin/env node
// npm run mutate [-- FILE[:FROM-TO]…]: StrykerJS over src/vrf and src/charm (or the files named),
// results accumulated across runs and sessions in mutation/ (scripts/mutate-records.mjs).
//
// One `stryker run` per line range of about MUTATE_MAX mutants of a large file, or per group of
// small files, fed their records as its incremental report: Stryker tests only the mutants whose
// code, or whose covering or killing tests, changed since, and reuses the rest. The records are
// rewritten as soon as the run ends, so a run cut short loses at most one chunk. A file whose
// source and tests are as they were when every one of its mutants was measured is not started.
// The accumulated score (per file, per directory: measured of all mutants, % killed) is printed
// last and written to .cache/stryker/scores.md.
//   MUTATE_MAX=N           mutants per stryker run (default 100: 5-20 minutes at load 8)
//   MUTATE_CONCURRENCY=N   stryker's test runner processes (default 1: two shared cores)
//   node scripts/mutate.mjs --scores   only print the scores
//   npm run mutate -- --sample N [--seed S] [FILES…]   a uniform random sample of N mutants of all of
//                          src/vrf and src/charm, measured (in batches of MUTATE_MAX, one Stryker
//                          run each) and recorded the same way; prints the estimated score per
//                          directory with its 95 % interval (scripts/mutate-sample.mjs says how)
// Run it under `nice -n 19`: it takes every core it is given, for hours.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  mutantListOf,
  mutantsOf,
  recordState,
  recordStore,
  runOf,
  scoreTable,
  sha,
  splitRanges,
  toRecords,
  toStrykerMany,
} from './mutate-records.mjs';
import {
  drawSample,
  estimate,
  estimateText,
  fromRecord,
  measuredInSample,
  mutantKey,
  mutatePatterns,
} from './mutate-sample.mjs';

const DIR = '.cache/stryker';
const CHUNK_FILE = path.join(DIR, 'chunk.json');
mkdirSync(DIR, { recursive: true });
const store = recordStore('.');

/** Every file Stryker mutates by default: src/vrf and src/charm, no declarations. */
function allFiles() {
  const out = execFileSync('git', ['ls-files', 'src/vrf', 'src/charm'], { encoding: 'utf8' });
  return out.split('\n').filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
}

// The order of a whole run: where a surviving bug hurts most first.
const FIRST = [
  'src/vrf/plan',
  'src/vrf/apply.ts',
  'src/vrf/teardown.ts',
  'src/vrf/engine/teardown.ts',
  'src/vrf/observe',
  'src/vrf/gateways.ts',
  'src/vrf/derive.ts',
  'src/vrf/persist.ts',
  'src/vrf/',
];
const rank = (/** @type {string} */ f) => {
  const i = FIRST.findIndex((p) => f.startsWith(p));
  return i === -1 ? FIRST.length : i;
};

/** @type {Map<string, string | undefined>} */
const testShas = new Map();
const testSha = (/** @type {string} */ name) => {
  if (!testShas.has(name)) testShas.set(name, existsSync(name) ? sha(readFileSync(name, 'utf8')) : undefined);
  return testShas.get(name);
};

async function printScores() {
  const files = allFiles();
  const located = await mutantsOf(files.map((name) => ({ name, content: readFileSync(name, 'utf8') })));
  const rows = files.sort().map((file) => {
    const record = store.read(file);
    return {
      file,
      total: located.get(file)?.length ?? 0,
      record,
      ...recordState(record, readFileSync(file, 'utf8'), testSha),
    };
  });
  const table = scoreTable(rows);
  writeFileSync(path.join(DIR, 'scores.md'), `${table}\n`);
  console.log(table);
}

/**
 * Runs Stryker once over a chunk (one range of a large file, or several small files), fed their
 * records; writes each file's record back.
 * @param {{ files: string[], targets: string[] }} chunk @param {NodeJS.ProcessEnv} [env]
 */
function measure(chunk, env = process.env) {
  const records = chunk.files.map((f) => store.read(f)).filter((r) => r !== undefined);
  rmSync(CHUNK_FILE, { force: true });
  if (records.length > 0) {
    writeFileSync(CHUNK_FILE, JSON.stringify(toStrykerMany(records, (s) => store.testSource(s), testSha)));
  }
  const concurrency = process.env.MUTATE_CONCURRENCY ?? '1';
  const argv = ['stryker', 'run', '--incrementalFile', CHUNK_FILE, '--concurrency', concurrency];
  const r = spawnSync('npx', [...argv, '--mutate', chunk.targets.join(',')], { stdio: 'inherit', env });
  if (r.signal !== null) return `stryker ended by ${r.signal}`;
  if (r.status !== 0 || !existsSync(CHUNK_FILE)) return `stryker failed (exit ${r.status}); nothing recorded`;
  const { records: measured, sources } = toRecords(JSON.parse(readFileSync(CHUNK_FILE, 'utf8')));
  for (const rec of measured) {
    // Mutants a sample run left out were not measured.
    const mutants = rec.mutants.filter(measuredInSample);
    if (chunk.files.includes(rec.file)) store.write({ ...rec, mutants }, sources);
  }
  store.prune();
  return null;
}

/**
 * The chunks of a run: each range of a large file alone; small files together up to MUTATE_MAX
 * mutants (one dry run of the related tests for all of them), when their records, if any, come
 * from one run. What is measured already, against today's source and tests, is left out.
 * @param {string[]} targets
 */
async function chunksOf(targets) {
  const max = Number(process.env.MUTATE_MAX ?? 100);
  /** @type {{ files: string[], targets: string[], mutants: number, run: string | undefined, join: boolean }[]} */
  const chunks = [];
  for (const target of targets) {
    const [file = '', range] = target.split(':');
    const source = readFileSync(file, 'utf8');
    const located = (await mutantsOf([{ name: file, content: source }])).get(file) ?? [];
    const record = store.read(file);
    const { state } = recordState(record, source, testSha);
    const run = record ? runOf(record) : undefined;
    if (!range && located.length <= max) {
      if (state === 'current' && record?.mutants.length === located.length) {
        console.log(`# mutate: ${file}: every mutant measured, source and tests unchanged since`);
        continue;
      }
      const last = chunks.at(-1);
      if (last?.join && last.mutants + located.length <= max && (!run || !last.run || run === last.run)) {
        last.files.push(file);
        last.targets.push(file);
        last.mutants += located.length;
        last.run ??= run;
      } else chunks.push({ files: [file], targets: [file], mutants: located.length, run, join: true });
      continue;
    }
    const ranges = range ? [range] : splitRanges(located, source.split('\n').length, max).map(([a, b]) => `${a}-${b}`);
    for (const r of ranges) {
      // A range whose every mutant the record holds, measured against these tests, is done.
      const [from = 0, to = 0] = r.split('-').map(Number);
      const inside = (/** @type {number} */ line) => line >= from && line <= to;
      const want = located.filter((l) => inside(l.start.line + 1) && inside(l.end.line + 1)).length;
      const have = record?.mutants.filter((m) => inside(m.location.start.line) && inside(m.location.end.line)).length;
      if (state === 'current' && have === want) {
        console.log(`# mutate: ${file}:${r}: every mutant measured, source and tests unchanged since`);
        continue;
      }
      chunks.push({ files: [file], targets: [`${file}:${r}`], mutants: want, run, join: false });
    }
  }
  return chunks;
}

async function run(/** @type {string[]} */ args) {
  const targets = args.length > 0 ? args : allFiles().sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  const chunks = await chunksOf(targets);
  for (const [i, chunk] of chunks.entries()) {
    const what = chunk.targets.join(' ');
    console.log(`# mutate: ${what} (${chunk.mutants} mutants; run ${i + 1} of ${chunks.length})`);
    const failed = measure(chunk);
    if (failed === null) continue;
    console.error(`# mutate: ${what}: ${failed}`);
    if (failed.includes('ended by')) return;
  }
}

/**
 * --sample N [--seed S]: draws N of all mutants of src/vrf and src/charm (scripts/mutate-sample.mjs),
 * measures in rank order, MUTATE_MAX at a time, those whose status no current record holds, and
 * prints the estimate. One Stryker run a batch, over exactly the drawn mutants' spans (and, in a
 * file with a record of today's source, the record's mutants, which Stryker re-checks against
 * today's tests and mostly reuses, so that nothing in a record is carried over unchecked).
 * @param {number} n @param {string} seed @param {string[]} [only] the population's files (default: all)
 */
async function sample(n, seed, only = /** @type {string[]} */ ([])) {
  const max = Number(process.env.MUTATE_MAX ?? 50);
  const files = only.length > 0 ? only : allFiles();
  /** @type {Map<string, string>} */
  const sources = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
  const all = await mutantListOf(files.map((name) => ({ name, content: sources.get(name) ?? '' })));
  const drawn = drawSample(all, n, seed);
  const known = () => {
    testShas.clear();
    /** @type {Map<string, string>} */
    const status = new Map();
    for (const file of new Set(drawn.map((m) => m.file))) {
      const record = store.read(file);
      if (recordState(record, sources.get(file) ?? '', testSha).state !== 'current') continue;
      for (const m of record?.mutants ?? []) status.set(mutantKey(fromRecord(file, m)), m.status);
    }
    return (/** @type {import('./mutate-sample.mjs').Mutant} */ m) => status.get(mutantKey(m));
  };
  // One estimate per directory under src (src/vrf/, src/charm/).
  const dirs = [
    ...new Set(
      files.map(
        (f) =>
          `${f
            .split('/')
            .slice(0, f.split('/').length > 2 ? 2 : 1)
            .join('/')}/`,
      ),
    ),
  ];
  for (let round = 1; ; round++) {
    const statusOf = known();
    const todo = drawn.filter((m) => statusOf(m) === undefined);
    console.log(`# mutate --sample ${n} --seed ${seed}: ${drawn.length - todo.length} of ${drawn.length} drawn known`);
    if (todo.length === 0) break;
    const batch = todo.slice(0, max);
    const batchFiles = [...new Set(batch.map((m) => m.file))].sort();
    /** @type {Record<string, import('./mutate-sample.mjs').Location[]>} */
    const wanted = {};
    /** @type {import('./mutate-sample.mjs').Mutant[]} */
    const spans = [...batch];
    for (const file of batchFiles) {
      const record = store.read(file);
      if (record && record.source === sources.get(file)) {
        for (const m of record.mutants) spans.push(fromRecord(file, m));
      }
      wanted[file] = spans.filter((m) => m.file === file).map((m) => m.location);
    }
    const wantedFile = path.resolve(DIR, 'sample-wanted.json');
    writeFileSync(wantedFile, JSON.stringify({ spans: wanted, keys: spans.map(mutantKey) }));
    console.log(
      `# mutate --sample: batch ${round}: ${batch.length} drawn mutants in ${batchFiles.length} files` +
        ` (${spans.length - batch.length} recorded mutants of those files re-checked)`,
    );
    const failed = measure(
      { files: batchFiles, targets: mutatePatterns(spans) },
      { ...process.env, MUTATE_SAMPLE_FILE: wantedFile },
    );
    if (failed !== null) {
      console.error(`# mutate --sample: batch ${round}: ${failed}`);
      break;
    }
    const after = known();
    const lost = batch.filter((m) => after(m) === undefined);
    if (lost.length > 0) {
      console.error(`# mutate --sample: batch ${round} measured no status for ${lost.length} drawn mutants, first:`);
      console.error(mutantKey(/** @type {import('./mutate-sample.mjs').Mutant} */ (lost[0])));
      break;
    }
    console.log(estimateText(estimate(drawn, after, dirs), seed));
  }
  const e = estimate(drawn, known(), dirs);
  const text = estimateText(e, seed);
  const survivors = e.rows.flatMap((r) => r.survivors);
  const list = survivors.map(
    (m) =>
      `${m.file}:${m.location.start.line + 1}:${m.location.start.column + 1} ${m.status} ${m.mutatorName} => ${JSON.stringify(m.replacement)}`,
  );
  writeFileSync(path.join(DIR, 'sample.md'), `${text}\n\nnot killed:\n${list.join('\n')}\n`);
  console.log(`${text}\n\nnot killed (${survivors.length}):\n${list.join('\n')}`);
}

const argv = process.argv.slice(2);
const flag = (/** @type {string} */ name) => {
  const i = argv.indexOf(name);
  if (i === -1) return undefined;
  const [value] = argv.splice(i, 2).slice(1);
  if (value === undefined) throw new Error(`${name} needs a value`);
  return value;
};
const sampleSize = flag('--sample');
const seed = flag('--seed') ?? '1';
if (argv[0] === '--scores') await printScores();
else if (sampleSize !== undefined) {
  const n = Number(sampleSize);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--sample: not a positive whole number: ${sampleSize}`);
  await sample(n, seed, argv);
} else {
  await run(argv);
  await printScores();
}
