#!/usr/bin/env node
// npm run mutate [-- FILE…]: StrykerJS over src/vrf and src/charm (or the files named), in chunks
// of a few files, one `stryker run` each, so that a run cut short keeps every finished chunk.
//
// All chunks share one incremental report, stryker-incremental.json (committed, so that the next
// run, in any checkout, re-tests only mutants whose code or covering tests changed): before a
// chunk it is Stryker's --incrementalFile; after it, the chunk's files are merged back in
// (Stryker writes only the files it mutated). The per-file scores of every file measured so far
// are printed last and written to .cache/stryker/scores.md.
//   MUTATE_CHUNK=N         files per stryker run (default 4)
//   MUTATE_CONCURRENCY=N   stryker's test runner processes (default 1: two shared cores)
//   node scripts/mutate.mjs --scores   only print the scores of what was measured
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const DIR = '.cache/stryker';
const UNION = 'stryker-incremental.json';
const CHUNK_FILE = path.join(DIR, 'chunk.json');
mkdirSync(DIR, { recursive: true });

/** @typedef {{ line: number, column: number }} Position */
/** @typedef {{ status: string, mutatorName: string, replacement?: string, location: { start: Position, end: Position } }} MutantResult */
/** @typedef {{ files: Record<string, { source: string, mutants: MutantResult[] }>, testFiles?: Record<string, unknown> }} Report */

/** @returns {Report | null} */
const readReport = (/** @type {string} */ f) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null);

/** Every file Stryker mutates by default: src/vrf and src/charm, no declarations. */
function defaultFiles() {
  const out = execFileSync('git', ['ls-files', 'src/vrf', 'src/charm'], { encoding: 'utf8' });
  return out.split('\n').filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
}

const DETECTED = new Set(['Killed', 'Timeout']);
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);

/** @param {Report} report */
export function scores(report) {
  const rows = Object.entries(report.files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([file, { mutants }]) => {
      /** @type {Record<string, number>} */
      const n = {};
      for (const m of mutants) n[m.status] = (n[m.status] ?? 0) + 1;
      const valid = mutants.filter((m) => VALID.has(m.status)).length;
      const detected = mutants.filter((m) => DETECTED.has(m.status)).length;
      return { file, n, valid, detected };
    });
  const pct = (/** @type {number} */ d, /** @type {number} */ v) =>
    v === 0 ? 'n/a' : `${((100 * d) / v).toFixed(1)} %`;
  const line = (
    /** @type {string} */ f,
    /** @type {Record<string, number>} */ n,
    /** @type {number} */ d,
    /** @type {number} */ v,
  ) =>
    `| ${f} | ${v} | ${n.Killed ?? 0} | ${n.Timeout ?? 0} | ${n.Survived ?? 0} | ${n.NoCoverage ?? 0} |` +
    ` ${(n.RuntimeError ?? 0) + (n.CompileError ?? 0)} | ${n.Ignored ?? 0} | ${pct(d, v)} |`;
  const lines = [
    '| file | valid mutants | killed | timed out | survived | no coverage | errors | ignored | score |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => line(r.file, r.n, r.detected, r.valid)),
  ];
  for (const dir of ['src/vrf/', 'src/charm/']) {
    const mine = rows.filter((r) => r.file.startsWith(dir));
    if (mine.length === 0) continue;
    /** @type {Record<string, number>} */
    const n = {};
    for (const r of mine) for (const [k, v] of Object.entries(r.n)) n[k] = (n[k] ?? 0) + v;
    const v = mine.reduce((s, r) => s + r.valid, 0);
    const d = mine.reduce((s, r) => s + r.detected, 0);
    lines.push(line(`**${dir} (${mine.length} files measured)**`, n, d, v));
  }
  return lines.join('\n');
}

/** @param {MutantResult} m */
const mutantKey = (m) =>
  `${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column} ${m.mutatorName} ${m.replacement}`;

/**
 * The chunk's files replace the union's, except where the chunk measured a line range of a file
 * whose source is unchanged: there the union keeps its results for the rest of the file.
 * @param {Report} union @param {Report} chunk
 */
function merge(union, chunk) {
  const files = { ...union.files };
  for (const [name, file] of Object.entries(chunk.files)) {
    const old = union.files[name];
    if (!old || old.source !== file.source) {
      files[name] = file;
      continue;
    }
    const mutants = new Map(old.mutants.map((m) => [mutantKey(m), m]));
    for (const m of file.mutants) mutants.set(mutantKey(m), m);
    files[name] = { ...file, mutants: [...mutants.values()] };
  }
  return { ...chunk, files, testFiles: { ...union.testFiles, ...chunk.testFiles } };
}

function printScores() {
  const union = readReport(UNION);
  if (!union) return console.log('nothing measured yet');
  const table = scores(union);
  writeFileSync(path.join(DIR, 'scores.md'), `${table}\n`);
  console.log(table);
}

const args = process.argv.slice(2);
if (args[0] === '--scores') {
  printScores();
} else {
  const files = args.length > 0 ? args : defaultFiles();
  const size = Number(process.env.MUTATE_CHUNK ?? 4);
  const concurrency = process.env.MUTATE_CONCURRENCY ?? '1';
  for (let i = 0; i < files.length; i += size) {
    const chunk = files.slice(i, i + size);
    console.log(`# mutate: ${chunk.join(' ')} (${i + chunk.length}/${files.length})`);
    if (existsSync(UNION)) copyFileSync(UNION, CHUNK_FILE);
    const argv = ['stryker', 'run', '--incrementalFile', CHUNK_FILE, '--concurrency', concurrency];
    argv.push('--mutate', chunk.join(','));
    const r = spawnSync('npx', argv, { stdio: 'inherit' });
    if (r.signal !== null) {
      console.error(`# mutate: stryker ended by ${r.signal} on ${chunk.join(' ')}; stopping here`);
      break;
    }
    const report = readReport(CHUNK_FILE);
    if (r.status !== 0 || !report) {
      console.error(`# mutate: stryker failed on ${chunk.join(' ')} (exit ${r.status}); its files are not counted`);
      continue;
    }
    const union = readReport(UNION);
    writeFileSync(UNION, JSON.stringify(union ? merge(union, report) : report));
  }
  printScores();
}
