/**
 * npm run mutate's accumulated results (scripts/mutate-records.mjs): a file's record round-trips
 * into the incremental report Stryker reads, keeps the tests it was measured against, and says when
 * its source or tests changed since; large files split into ranges that lose no mutant; the score
 * counts only what was measured on today's source.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  mutantsOf,
  recordState,
  recordStore,
  scoreTable,
  sha,
  splitRanges,
  toRecords,
  toStryker,
  toStrykerMany,
} from '../../scripts/mutate-records.mjs';

type FileRecordLike = { testFiles: Record<string, { tests: { id: string; name: string }[] }> };
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const loc = (line: number, column: number, endLine = line, endColumn = column + 1) => ({
  start: { line, column },
  end: { line: endLine, column: endColumn },
});

/** A run's report as Stryker writes it: two tests of one file, two mutants of one source. */
function report(source = 'export const f = (a: number) => a + 1;\n', testSource = "it('adds', () => {});\n") {
  return {
    schemaVersion: '1.0',
    thresholds: { high: 80, low: 60, break: null },
    files: {
      'src/vrf/f.ts': {
        language: 'typescript',
        source,
        mutants: [
          {
            id: '1',
            mutatorName: 'ArithmeticOperator',
            replacement: 'a - 1',
            status: 'Killed',
            statusReason: 'Error: expected 2\n    at a stack trace\n    at more of it',
            killedBy: ['0'],
            coveredBy: ['0', '1'],
            location: loc(1, 33, 1, 38),
          },
          {
            id: '2',
            mutatorName: 'ArrowFunction',
            replacement: '() => undefined',
            status: 'Survived',
            location: loc(1, 18, 1, 38),
          },
        ],
      },
    },
    testFiles: {
      'tests/unit/f.test.ts': {
        source: testSource,
        tests: [
          { id: '0', name: 'adds', location: { start: { line: 1, column: 1 } } },
          { id: '1', name: 'adds again', location: { start: { line: 2, column: 1 } } },
        ],
      },
    },
  };
}

describe('mutate records: one per file, with the tests it was measured against', () => {
  it('turns a run into a record per file and back into the same incremental report (reasons cut to a line)', () => {
    const r = report();
    const { records, sources } = toRecords(r);
    expect(records.map((x) => x.file)).toEqual(['src/vrf/f.ts']);
    const [rec] = records;
    expect(rec?.testFiles['tests/unit/f.test.ts']?.sha).toBe(sha("it('adds', () => {});\n"));
    const back = toStryker(rec!, (s) => sources.get(s));
    const expected = structuredClone(r);
    expected.files['src/vrf/f.ts'].mutants[0]!.statusReason = 'Error: expected 2';
    expect(back).toEqual(expected);
  });

  it('leaves out a timeout, so that the next run tests it again', () => {
    const r = report();
    r.files['src/vrf/f.ts'].mutants[1]!.status = 'Timeout';
    const { records } = toRecords(r);
    expect(toStryker(records[0]!, () => undefined).files['src/vrf/f.ts']?.mutants.map((m) => m.id)).toEqual(['1']);
  });

  it('leaves out a test file whose source it does not have: its tests count as new, so what they cover is re-tested', () => {
    const { records } = toRecords(report());
    expect(toStryker(records[0]!, () => undefined).testFiles).toEqual({});
  });

  it('joins the records of files one run measured into one report, as that run numbered its tests', () => {
    const r = report();
    const files: Record<string, (typeof r.files)['src/vrf/f.ts']> = r.files;
    files['src/vrf/g.ts'] = { ...r.files['src/vrf/f.ts'], source: 'export const g = 1;\n' };
    const { records, sources } = toRecords(r);
    expect(records.map((x) => x.file)).toEqual(['src/vrf/f.ts', 'src/vrf/g.ts']);
    const joined = toStrykerMany(records, (s) => sources.get(s));
    expect(Object.keys(joined.files)).toEqual(['src/vrf/f.ts', 'src/vrf/g.ts']);
    expect(joined.testFiles).toEqual(toStryker(records[0]!, (s) => sources.get(s)).testFiles);
    expect(joined.files['src/vrf/g.ts']?.mutants).toEqual(
      toStryker(records[1]!, (s) => sources.get(s)).files['src/vrf/g.ts']?.mutants,
    );
  });

  it('joins records of different runs: no test id names a test of another run, nor a test at another source', () => {
    // g.ts measured in one run, f.ts in another whose test file had another source; in both runs
    // the test ids are 0 and 1, naming different tests.
    const oldTests = "it('adds', () => {});\n";
    const newTests = "it('adds', () => { expect(2).toBe(2); });\n";
    const a = report(undefined, oldTests);
    const g = { ...a.files['src/vrf/f.ts'], source: 'export const g = 1;\n' };
    const runA = toRecords({ ...a, files: { 'src/vrf/g.ts': g } });
    const b = report(undefined, newTests);
    b.testFiles['tests/unit/f.test.ts'].tests.reverse();
    b.testFiles['tests/unit/f.test.ts'].tests.forEach((t, i) => (t.id = String(i)));
    const runB = toRecords(b);
    const sources = new Map([...runA.sources, ...runB.sources]);
    const records = [runA.records[0]!, runB.records[0]!];
    const named = (rec: FileRecordLike, id: string) =>
      Object.values(rec.testFiles)
        .flatMap((t) => t.tests)
        .find((t) => t.id === id)?.name;
    for (const now of [sha(newTests), sha(oldTests)]) {
      const joined = toStrykerMany(
        records,
        (s) => sources.get(s),
        () => now,
      );
      const byId = new Map(
        Object.entries(joined.testFiles ?? {}).flatMap(([file, t]) =>
          t.tests.map((x) => [x.id, { file, source: t.source, name: x.name }]),
        ),
      );
      expect(byId.size).toBe(4);
      // The test file is kept under its name at today's source; the other run's under a name no
      // file has (Stryker then takes its tests for removed ones, and re-tests what they killed).
      expect(joined.testFiles?.['tests/unit/f.test.ts']?.source).toBe(sources.get(now));
      for (const rec of records) {
        const before = sources.get(Object.values(rec.testFiles)[0]!.sha);
        for (const m of joined.files[rec.file]!.mutants) {
          for (const id of [...(m.killedBy ?? []), ...(m.coveredBy ?? [])]) {
            const t = byId.get(id);
            const original = rec.mutants.find((x) => x.id === m.id);
            const was = [...(original?.killedBy ?? []), ...(original?.coveredBy ?? [])];
            expect(was.some((w) => named(rec, w) === t?.name)).toBe(true);
            expect(t?.source).toBe(before);
            expect(t?.file === 'tests/unit/f.test.ts').toBe(before === sources.get(now));
          }
        }
      }
    }
  });

  it('says whether the source or a test changed since the file was measured', () => {
    const { records } = toRecords(report());
    const rec = records[0]!;
    const testSha = (t: string) => (t === 'tests/unit/f.test.ts' ? sha("it('adds', () => {});\n") : undefined);
    expect(recordState(undefined, rec.source, testSha).state).toBe('unmeasured');
    expect(recordState(rec, rec.source, testSha)).toEqual({ state: 'current', changedTests: [] });
    expect(recordState(rec, rec.source.replace('+', '-'), testSha).state).toBe('source changed');
    expect(recordState(rec, rec.source, () => sha('changed'))).toEqual({
      state: 'tests changed',
      changedTests: ['tests/unit/f.test.ts'],
    });
  });

  it('stores each test source once, by its sha, and forgets those no record names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mutate-records-'));
    try {
      const store = recordStore(dir);
      const first = toRecords(report());
      store.write(first.records[0]!, first.sources);
      const second = toRecords(report(undefined, "it('adds', () => { expect(1).toBe(1); });\n"));
      store.write(second.records[0]!, second.sources);
      expect(store.files()).toEqual(['src/vrf/f.ts']);
      const rec = store.read('src/vrf/f.ts')!;
      const s = rec.testFiles['tests/unit/f.test.ts']!.sha;
      expect(store.testSource(s)).toBe("it('adds', () => { expect(1).toBe(1); });\n");
      expect(store.testSource(first.records[0]!.testFiles['tests/unit/f.test.ts']!.sha)).toBeDefined();
      store.prune();
      expect(store.testSource(first.records[0]!.testFiles['tests/unit/f.test.ts']!.sha)).toBeUndefined();
      expect(store.testSource(s)).toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('mutate: a large file measured in line ranges', () => {
  it('cuts only between lines no mutant spans, and the ranges hold every mutant of the file once', async () => {
    const name = 'src/vrf/gateways.ts';
    const content = await readFile(join(ROOT, name), 'utf8');
    const all = (await mutantsOf([{ name, content }])).get(name)!;
    const ranges = splitRanges(all, content.split('\n').length, 80);
    expect(ranges.length).toBeGreaterThan(3);
    const counts = [];
    for (const [a, b] of ranges) {
      // Stryker's FILE:A-B: lines A-1 to B-1 from 0, whole lines.
      const mutate = [{ start: { line: a - 1, column: 0 }, end: { line: b - 1, column: Number.MAX_SAFE_INTEGER } }];
      counts.push((await mutantsOf([{ name, content, mutate }])).get(name)!.length);
    }
    expect(counts.reduce((s, n) => s + n, 0)).toBe(all.length);
    expect(counts.every((n) => n > 0)).toBe(true);
    expect(ranges[0]![0]).toBe(1);
    expect(ranges.at(-1)![1]).toBe(content.split('\n').length);
  });

  it('one range for a file under the limit', () => {
    expect(splitRanges([loc(0, 1), loc(3, 1, 5, 1)], 9, 80)).toEqual([[1, 9]]);
  });

  it('never cuts inside a mutant that spans lines', () => {
    // Two mutants on line 0, one spanning 1–4: the first cut after 2 mutants can only come after line 4.
    expect(splitRanges([loc(0, 1), loc(0, 5), loc(1, 0, 4, 1), loc(6, 1)], 8, 2)).toEqual([
      [1, 1],
      [2, 8],
    ]);
    expect(splitRanges([loc(0, 1), loc(1, 0, 4, 1), loc(1, 3), loc(6, 1)], 8, 2)).toEqual([
      [1, 5],
      [6, 8],
    ]);
  });
});

describe('mutate: the accumulated score', () => {
  const { records } = toRecords(report());
  const rec = records[0]!;
  const row = (file: string, total: number, state: string, r = rec) => ({
    file,
    total,
    record: state === 'unmeasured' ? undefined : { ...r, file },
    state,
    changedTests: state === 'tests changed' ? ['tests/unit/f.test.ts'] : [],
  });

  it('counts measured of all mutants per directory, and a file whose source changed since as unmeasured', () => {
    const table = scoreTable([
      row('src/charm/a.ts', 10, 'unmeasured'),
      row('src/vrf/f.ts', 2, 'current'),
      row('src/vrf/g.ts', 5, 'source changed'),
      row('src/vrf/h.ts', 4, 'tests changed'),
    ]);
    expect(table).toContain('| src/vrf/f.ts | 2 | 2 | 1 | 0 | 1 | 0 | 0 | 50.0 % | current |');
    // A timeout is not counted as killed.
    const timedOut = { ...rec, mutants: rec.mutants.map((m) => ({ ...m, status: 'Timeout' })) };
    expect(scoreTable([row('src/vrf/t.ts', 2, 'current', timedOut)])).toContain(
      '| src/vrf/t.ts | 2 | 2 | 0 | 2 | 0 | 0 | 0 | 0.0 % | current |',
    );
    expect(table).toContain('| src/vrf/g.ts | 5 | (2 of an older source) |');
    expect(table).toContain('tests changed since: tests/unit/f.test.ts |');
    expect(table).toContain(
      '| **src/vrf/** (2 of 3 files) | 11 | 4 | 2 | 0 | 2 | 0 | 0 | 50.0 % | 7 unmeasured (63.6 %)',
    );
    expect(table).toContain('src/vrf/: 4 of 11 mutants measured (36.4 %), 50.0 % of them killed');
    expect(table).toContain('src/charm/: 0 of 10 mutants measured (0.0 %), n/a of them killed');
  });
});
