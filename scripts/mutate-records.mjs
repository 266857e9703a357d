// The mutation results that accumulate across runs and sessions (scripts/mutate.mjs), one record
// per mutated source file, committed under mutation/:
//
//   mutation/src/vrf/plan.ts.json   Stryker's incremental report of that file alone: its source, its
//                                   mutants' results, and the tests of the run that measured them
//                                   (each test file by the sha of its source then)
//   mutation/tests/SHA.txt          the test file sources those records name, once each
//
// Why one record per file, not one report for all: Stryker numbers a run's tests 0, 1, 2…, and a
// mutant names its covering and killing tests by those numbers, so two runs' reports cannot be
// merged into one (the numbers of one run would name other tests of the other). And a file's
// results hold only for the tests as they were when it was measured: its record keeps exactly
// those, so that Stryker's diff of them against today's tests (the incremental mode) re-tests
// every mutant whose killing test changed, or that a new or changed test covers.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Instrumenter } from '@stryker-mutator/instrumenter';

/** @typedef {{ line: number, column: number }} Position */
/** @typedef {{ start: Position, end: Position }} Location */
/**
 * @typedef {{ id: string, status: string, mutatorName: string, replacement?: string, location: Location,
 *   statusReason?: string, killedBy?: string[], coveredBy?: string[], [k: string]: unknown }} MutantResult
 */
/** @typedef {{ id: string, name: string, location?: { start: Position, end?: Position } }} TestDefinition */
/**
 * @typedef {{ schemaVersion: string, thresholds: object, files: Record<string, { language: string, source: string,
 *   mutants: MutantResult[] }>, testFiles?: Record<string, { source?: string, tests: TestDefinition[] }> }} Report
 */
/**
 * @typedef {{ file: string, language: string, source: string, mutants: MutantResult[],
 *   testFiles: Record<string, { sha: string, tests: TestDefinition[] }> }} FileRecord
 */

// A timeout counts as not killed here (Stryker counts it as detected): at nice 19 under load 13,
// mutants that change nothing a test can see (a teardown option no VRF reads) timed out, so a
// timeout says nothing. A record's timeouts are tested again by every run (toStryker).
export const DETECTED = new Set(['Killed']);
export const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);

export const sha = (/** @type {string} */ text) => createHash('sha256').update(text).digest('hex').slice(0, 20);

/**
 * One run's report → a record per mutated file, and the test sources by sha. A reason is cut to its
 * first line (a stack trace per killed mutant is most of a report's size, and no decision reads it).
 * @param {Report} report
 * @returns {{ records: FileRecord[], sources: Map<string, string> }}
 */
export function toRecords(report) {
  /** @type {Map<string, string>} */
  const sources = new Map();
  /** @type {FileRecord['testFiles']} */
  const testFiles = {};
  for (const [name, t] of Object.entries(report.testFiles ?? {})) {
    if (t.source === undefined) continue;
    const s = sha(t.source);
    sources.set(s, t.source);
    testFiles[name] = { sha: s, tests: t.tests };
  }
  const records = Object.entries(report.files).map(([file, f]) => ({
    file,
    language: f.language,
    source: f.source,
    mutants: f.mutants.map((m) =>
      m.statusReason === undefined ? m : { ...m, statusReason: (m.statusReason.split('\n')[0] ?? '').slice(0, 300) },
    ),
    testFiles,
  }));
  return { records, sources };
}

/** A record's file as Stryker reads it, less its timeouts (tested again: see DETECTED). */
const fileOf = (/** @type {FileRecord} */ r) => ({
  language: r.language,
  source: r.source,
  mutants: r.mutants.filter((m) => m.status !== 'Timeout'),
});

/**
 * A record → the incremental report Stryker reads. A test file whose source is not at hand is left
 * out: its tests then count as new, and every mutant they cover is tested again.
 * @param {FileRecord} record @param {(sha: string) => string | undefined} sourceOf
 * @returns {Report}
 */
export function toStryker(record, sourceOf) {
  /** @type {NonNullable<Report['testFiles']>} */
  const testFiles = {};
  for (const [name, t] of Object.entries(record.testFiles)) {
    const source = sourceOf(t.sha);
    if (source !== undefined) testFiles[name] = { source, tests: t.tests };
  }
  return {
    schemaVersion: '1.0',
    thresholds: { high: 80, low: 60, break: null },
    files: { [record.file]: fileOf(record) },
    testFiles,
  };
}

/**
 * Records of several files → one incremental report, for one Stryker run over all of them.
 * Stryker numbers each run's tests 0, 1, 2…, so the records of different runs have their test ids
 * made distinct (`run.id`). A test file that records of different runs hold at different sources
 * is kept at one of them (today's, if one is); the others' tests go under a name no file has, so
 * Stryker takes them for removed tests: a mutant they killed, or one they covered that survived,
 * is tested again, never wrongly reused.
 * @param {FileRecord[]} records @param {(sha: string) => string | undefined} sourceOf
 * @param {(test: string) => string | undefined} [currentSha] the sha of a test file's source now
 * @returns {Report}
 */
export function toStrykerMany(records, sourceOf, currentSha = () => undefined) {
  if (records.length === 0) throw new Error('no record to join');
  const runs = [...new Set(records.map(runOf))];
  /** @type {Report} */
  const report = { schemaVersion: '1.0', thresholds: { high: 80, low: 60, break: null }, files: {}, testFiles: {} };
  const testFiles = /** @type {NonNullable<Report['testFiles']>} */ (report.testFiles);
  /** @type {Map<string, string>} test file → the sha it is kept at */
  const keptAt = new Map();
  for (const r of records) {
    for (const [name, t] of Object.entries(r.testFiles)) {
      const now = currentSha(name);
      if (!keptAt.has(name) || (t.sha === now && keptAt.get(name) !== now)) keptAt.set(name, t.sha);
    }
  }
  for (const [i, run] of runs.entries()) {
    const mine = records.filter((r) => runOf(r) === run);
    const id = (/** @type {string} */ t) => (runs.length === 1 ? t : `${i}.${t}`);
    for (const r of mine) {
      const file = fileOf(r);
      report.files[r.file] = {
        ...file,
        mutants: file.mutants.map((m) => ({
          ...m,
          ...(m.killedBy ? { killedBy: m.killedBy.map(id) } : {}),
          ...(m.coveredBy ? { coveredBy: m.coveredBy.map(id) } : {}),
        })),
      };
    }
    const [first] = mine;
    if (!first) continue;
    for (const [name, t] of Object.entries(first.testFiles)) {
      const source = sourceOf(t.sha);
      if (source === undefined) continue;
      const key = keptAt.get(name) === t.sha ? name : `${name}#${t.sha}`;
      const tests = t.tests.map((test) => ({ ...test, id: id(test.id) }));
      const entry = testFiles[key];
      if (entry) entry.tests.push(...tests);
      else testFiles[key] = { source, tests };
    }
  }
  return report;
}

/** Which run measured a record: the same tests, numbered the same way. */
export const runOf = (/** @type {FileRecord} */ r) => sha(JSON.stringify(r.testFiles));

/** @param {string} root the checkout */
export function recordStore(root) {
  const dir = path.join(root, 'mutation');
  const testsDir = path.join(dir, 'tests');
  const recordPath = (/** @type {string} */ file) => path.join(dir, `${file}.json`);
  /** @param {string} p @param {string} text */
  const atomicWrite = (p, text) => {
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(`${p}.tmp`, text);
    renameSync(`${p}.tmp`, p);
  };
  return {
    dir,
    /** @returns {FileRecord | undefined} */
    read(/** @type {string} */ file) {
      const p = recordPath(file);
      return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined;
    },
    /** @returns {string | undefined} */
    testSource(/** @type {string} */ s) {
      const p = path.join(testsDir, `${s}.txt`);
      return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
    },
    /** @param {FileRecord} record @param {Map<string, string>} sources */
    write(record, sources) {
      for (const t of Object.values(record.testFiles)) {
        const p = path.join(testsDir, `${t.sha}.txt`);
        const text = sources.get(t.sha);
        if (!existsSync(p) && text !== undefined) atomicWrite(p, text);
      }
      atomicWrite(recordPath(record.file), `${JSON.stringify(record, null, 0)}\n`);
    },
    /** Every record (source file names, sorted). */
    files() {
      /** @type {string[]} */
      const out = [];
      const walk = (/** @type {string} */ d) => {
        if (!existsSync(d)) return;
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) {
            if (p !== testsDir) walk(p);
          } else if (e.name.endsWith('.ts.json')) out.push(path.relative(dir, p).slice(0, -'.json'.length));
        }
      };
      walk(dir);
      return out.sort();
    },
    /** Test sources no record names any more. */
    prune() {
      const used = new Set(this.files().flatMap((f) => Object.values(this.read(f)?.testFiles ?? {}).map((t) => t.sha)));
      if (!existsSync(testsDir)) return;
      for (const e of readdirSync(testsDir)) if (!used.has(e.replace(/\.txt$/, ''))) rmSync(path.join(testsDir, e));
    },
  };
}

const quiet = () => {};
const LOGGER = {
  ...Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((k) => [k, quiet])),
  ...Object.fromEntries(
    ['isTraceEnabled', 'isDebugEnabled', 'isInfoEnabled', 'isWarnEnabled', 'isErrorEnabled', 'isFatalEnabled'].map(
      (k) => [k, () => false],
    ),
  ),
};

/**
 * The mutants Stryker makes of each file, by its own instrumenter, with the options Stryker runs
 * it with (no excluded mutations, no ignorers): their locations, lines from 0.
 * @param {{ name: string, content: string, mutate?: boolean | Location[] }[]} files
 * @returns {Promise<Map<string, Location[]>>}
 */
export async function mutantsOf(files) {
  const instrumenter = new Instrumenter(/** @type {any} */ (LOGGER));
  const r = await instrumenter.instrument(
    files.map((f) => ({ mutate: true, ...f })),
    { plugins: null, excludedMutations: [], ignorers: [] },
  );
  /** @type {Map<string, Location[]>} */
  const out = new Map(files.map((f) => [f.name, []]));
  for (const m of r.mutants) out.get(m.fileName)?.push(m.location);
  return out;
}

/**
 * The same mutants with their mutator and replacement: Stryker's identity of each.
 * @param {{ name: string, content: string }[]} files
 * @returns {Promise<{ file: string, location: Location, mutatorName: string, replacement: string }[]>}
 */
export async function mutantListOf(files) {
  const instrumenter = new Instrumenter(/** @type {any} */ (LOGGER));
  const r = await instrumenter.instrument(
    files.map((f) => ({ mutate: true, ...f })),
    { plugins: null, excludedMutations: [], ignorers: [] },
  );
  return r.mutants.map((m) => ({
    file: m.fileName,
    location: m.location,
    mutatorName: m.mutatorName,
    replacement: m.replacement ?? m.mutatorName,
  }));
}

/**
 * Line ranges (from 1, inclusive: Stryker's `FILE:FROM-TO`) of at most about `max` mutants each,
 * cut only between lines no mutant spans: Stryker mutates in a range only what lies wholly inside
 * it, so a mutant across a cut would be in no range. One range is the whole file.
 * @param {Location[]} locations lines from 0 @param {number} lines the file's line count
 * @param {number} max
 * @returns {[number, number][]}
 */
export function splitRanges(locations, lines, max) {
  const spanned = new Array(lines).fill(false);
  const starting = new Array(lines).fill(0);
  for (const l of locations) {
    starting[l.start.line] += 1;
    for (let i = l.start.line; i < l.end.line; i++) spanned[i] = true;
  }
  /** @type {[number, number][]} */
  const ranges = [];
  let from = 0;
  let count = 0;
  for (let i = 0; i < lines - 1; i++) {
    count += starting[i];
    if (count >= max && !spanned[i]) {
      ranges.push([from + 1, i + 1]);
      from = i + 1;
      count = 0;
    }
  }
  count += starting[lines - 1] ?? 0;
  // No mutant after the last cut: the last range runs to the end.
  const last = ranges.at(-1);
  if (count === 0 && last) last[1] = lines;
  else ranges.push([from + 1, lines]);
  return ranges;
}

/**
 * What a record says about the file as it is now.
 * @param {FileRecord | undefined} record @param {string} source the file's source now
 * @param {(test: string) => string | undefined} testSha the sha of a test file's source now
 */
export function recordState(record, source, testSha) {
  if (!record) return { state: 'unmeasured', changedTests: [] };
  if (record.source !== source) return { state: 'source changed', changedTests: [] };
  const changedTests = Object.entries(record.testFiles)
    .filter(([name, t]) => testSha(name) !== t.sha)
    .map(([name]) => name);
  return { state: changedTests.length > 0 ? 'tests changed' : 'current', changedTests };
}

/**
 * The accumulated score: one row per file of src/vrf and src/charm, then a total per directory.
 * A file whose source changed since it was measured counts as unmeasured (its next run re-tests
 * what changed); one whose tests changed since counts, marked (its next run re-tests every mutant
 * a changed or new test covers).
 * @param {{ file: string, total: number, record: FileRecord | undefined, state: string, changedTests: string[] }[]} rows
 */
export function scoreTable(rows) {
  const pct = (/** @type {number} */ d, /** @type {number} */ v) =>
    v === 0 ? 'n/a' : `${((100 * d) / v).toFixed(1)} %`;
  /** @param {MutantResult[]} mutants */
  const count = (mutants) => {
    /** @type {Record<string, number>} */
    const n = {};
    for (const m of mutants) n[m.status] = (n[m.status] ?? 0) + 1;
    return n;
  };
  const line = (/** @type {string[]} */ cells) => `| ${cells.join(' | ')} |`;
  /** @param {Record<string, number>} n */
  const cells = (n) => {
    const valid = [...VALID].reduce((s, k) => s + (n[k] ?? 0), 0);
    const detected = [...DETECTED].reduce((s, k) => s + (n[k] ?? 0), 0);
    return [
      `${n.Killed ?? 0}`,
      `${n.Timeout ?? 0}`,
      `${n.Survived ?? 0}`,
      `${n.NoCoverage ?? 0}`,
      `${(n.RuntimeError ?? 0) + (n.CompileError ?? 0)}`,
      pct(detected, valid),
    ];
  };
  const out = [
    line(['file', 'mutants', 'measured', 'killed', 'timed out', 'survived', 'no coverage', 'errors', 'score', 'state']),
    line(new Array(10).fill('---')),
  ];
  const measured = rows.filter((r) => r.record && r.state !== 'source changed');
  for (const r of rows) {
    if (!r.record) continue;
    const note = r.state === 'tests changed' ? `tests changed since: ${r.changedTests.join(', ')}` : r.state;
    const n = count(r.record.mutants);
    const m =
      r.state === 'source changed' ? `(${r.record.mutants.length} of an older source)` : `${r.record.mutants.length}`;
    out.push(line([r.file, `${r.total}`, m, ...cells(n), note]));
  }
  /** @type {string[]} */
  const totals = [];
  for (const dir of ['src/vrf/', 'src/charm/']) {
    const all = rows.filter((r) => r.file.startsWith(dir));
    if (all.length === 0) continue;
    const mine = measured.filter((r) => r.file.startsWith(dir));
    const n = count(mine.flatMap((r) => r.record?.mutants ?? []));
    const total = all.reduce((s, r) => s + r.total, 0);
    const done = mine.reduce((s, r) => s + (r.record?.mutants.length ?? 0), 0);
    const stale = mine.filter((r) => r.state === 'tests changed').length;
    out.push(
      line([
        `**${dir}** (${mine.length} of ${all.length} files)`,
        `${total}`,
        `${done}`,
        ...cells(n),
        `${total - done} unmeasured (${pct(total - done, total)})` +
          (stale > 0 ? `; ${stale} files' tests changed since` : ''),
      ]),
    );
    totals.push(
      `${dir}: ${done} of ${total} mutants measured (${pct(done, total)}), ${pct(
        [...DETECTED].reduce((s, k) => s + (n[k] ?? 0), 0),
        [...VALID].reduce((s, k) => s + (n[k] ?? 0), 0),
      )} of them killed`,
    );
  }
  return `${out.join('\n')}\n\n${totals.join('\n')}`;
}
