/**
 * npm run mutate -- --sample N (scripts/mutate-sample.mjs): the draw is a uniform random sample
 * that a larger N extends, the estimate counts only a measured prefix of it with a Wilson interval
 * that covers, and the spans plus the ignorer rule make Stryker mutate the drawn mutants and not
 * the others inside their spans.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Instrumenter } from '@stryker-mutator/instrumenter';
import { mutantListOf } from '../../scripts/mutate-records.mjs';
import {
  drawSample,
  estimate,
  fromRecord,
  keepsNode,
  mutantKey,
  mutatePatterns,
  wilson,
  type Location,
  type Mutant,
} from '../../scripts/mutate-sample.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const at = (file: string, line: number, mutatorName = 'ConditionalExpression', replacement = 'true'): Mutant => ({
  file,
  mutatorName,
  replacement,
  location: { start: { line, column: 2 }, end: { line, column: 9 } },
});
/** `n` mutants in each of the files. */
const population = (files: string[], n: number) => files.flatMap((f) => Array.from({ length: n }, (_, i) => at(f, i)));

describe('mutate --sample: the draw', () => {
  const all = population(['src/vrf/a.ts', 'src/vrf/b.ts', 'src/charm/c.ts', 'src/charm/d.ts'], 500);

  it('draws n distinct mutants, the same for the same seed whatever the order of the population', () => {
    const d = drawSample(all, 150, 'x');
    expect(d).toHaveLength(150);
    expect(new Set(d.map(mutantKey)).size).toBe(150);
    expect(drawSample([...all].reverse(), 150, 'x').map(mutantKey)).toEqual(d.map(mutantKey));
    expect(drawSample(all, 150, 'y').map(mutantKey)).not.toEqual(d.map(mutantKey));
  });

  it('a larger sample with the same seed extends the smaller one (what was measured is reused)', () => {
    const small = drawSample(all, 60, 's').map(mutantKey);
    expect(drawSample(all, 200, 's').map(mutantKey).slice(0, 60)).toEqual(small);
  });

  it('is uniform: over 40 seeds each file gets its share, and each position within a file too', () => {
    const perFile = new Map<string, number>();
    const perHalf = [0, 0];
    for (let s = 0; s < 40; s++) {
      for (const m of drawSample(all, 100, `seed ${s}`)) {
        perFile.set(m.file, (perFile.get(m.file) ?? 0) + 1);
        perHalf[m.location.start.line < 250 ? 0 : 1]! += 1;
      }
    }
    // 4000 draws: each file 1000 expected, sd ~27 (less without replacement); 5 sd either way.
    for (const n of perFile.values()) expect(Math.abs(n - 1000)).toBeLessThan(140);
    expect(Math.abs(perHalf[0]! - 2000)).toBeLessThan(160);
  });
});

describe('mutate --sample: the estimate', () => {
  it("matches the Wilson interval's known values", () => {
    const w = wilson(95, 100);
    expect(w.low).toBeCloseTo(0.8883, 3);
    expect(w.high).toBeCloseTo(0.9785, 3);
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(0, 10).high).toBeCloseTo(0.2775, 3);
    expect(wilson(10, 10).low).toBeCloseTo(0.7225, 3);
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
  });

  it('covers the true proportion in about 95 % of samples (exact binomial sum)', () => {
    const coverage = (p: number, n: number) => {
      let logC = 0;
      let covered = 0;
      for (let k = 0; k <= n; k++) {
        if (k > 0) logC += Math.log((n - k + 1) / k);
        const pk = Math.exp(logC + k * Math.log(p) + (n - k) * Math.log(1 - p));
        const w = wilson(k, n);
        if (w.low <= p && p <= w.high) covered += pk;
      }
      return covered;
    };
    for (const [p, n] of [
      [0.9, 150],
      [0.95, 200],
      [0.8, 60],
    ] as const) {
      expect(coverage(p, n)).toBeGreaterThan(0.92);
      expect(coverage(p, n)).toBeLessThan(0.99);
    }
  });

  it('counts only the prefix of the draw that has a status, per directory, errors counting neither way', () => {
    const drawn = [
      at('src/vrf/a.ts', 1),
      at('src/charm/c.ts', 2),
      at('src/vrf/a.ts', 3),
      at('src/vrf/b.ts', 4),
      at('src/charm/d.ts', 5),
      at('src/vrf/a.ts', 6),
    ];
    const status: Record<number, string | undefined> = {
      1: 'Killed',
      2: 'Survived',
      3: 'RuntimeError',
      4: 'NoCoverage',
      5: undefined,
      6: 'Killed',
    };
    const e = estimate(drawn, (m) => status[m.location.start.line], ['src/vrf/', 'src/charm/']);
    expect(e.prefix).toBe(4);
    const [vrf, charm] = e.rows;
    expect(vrf).toMatchObject({ drawn: 4, counted: 3, valid: 2, killed: 1, errors: 1, score: 0.5 });
    expect(vrf?.survivors.map((m) => [m.location.start.line, m.status])).toEqual([[4, 'NoCoverage']]);
    expect(charm).toMatchObject({ drawn: 2, counted: 1, valid: 1, killed: 0, errors: 0, score: 0 });
    expect(vrf?.interval).toEqual(wilson(1, 2));
    const timeout = estimate([at('src/vrf/a.ts', 1)], () => 'Timeout', ['src/vrf/']);
    expect(timeout.rows[0]).toMatchObject({ valid: 1, killed: 0 });
  });

  it("reads a record's mutant (lines and columns from 1) as the instrumenter's (from 0)", () => {
    const m = at('src/vrf/a.ts', 7);
    const inRecord = {
      mutatorName: m.mutatorName,
      replacement: m.replacement,
      location: { start: { line: 8, column: 3 }, end: { line: 8, column: 10 } },
    };
    expect(mutantKey(fromRecord('src/vrf/a.ts', inRecord))).toBe(mutantKey(m));
  });
});

describe('mutate --sample: Stryker mutates the drawn mutants, not everything inside their spans', () => {
  const quiet = () => {};
  const logger = {
    ...Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((k) => [k, quiet])),
    ...Object.fromEntries(
      ['isTraceEnabled', 'isDebugEnabled', 'isInfoEnabled', 'isWarnEnabled', 'isErrorEnabled', 'isFatalEnabled'].map(
        (k) => [k, () => false],
      ),
    ),
  };
  const inside = (outer: Location, inner: Location) =>
    (outer.start.line < inner.start.line ||
      (outer.start.line === inner.start.line && outer.start.column <= inner.start.column)) &&
    (inner.end.line < outer.end.line || (inner.end.line === outer.end.line && inner.end.column <= outer.end.column));
  const same = (a: Location, b: Location) => inside(a, b) && inside(b, a);

  it.each(['src/vrf/gateways.ts', 'src/charm/status.ts'])('%s', async (file) => {
    const content = readFileSync(`${ROOT}/${file}`, 'utf8');
    const all = await mutantListOf([{ name: file, content }]);
    // Drawn so that blocks are among them: a block's span holds many other mutants.
    const drawn = drawSample(all, 25, 'spans');
    const blocks = drawn.filter((d) => all.filter((m) => inside(d.location, m.location)).length > 5);
    expect(blocks.length).toBeGreaterThan(0);
    // Stryker's `FILE:L:C-L:C`: the line from 1, the column as it is (project-reader.js).
    const ranges = mutatePatterns(drawn).map((p) => {
      const [, l1, c1, l2, c2] = /:(\d+):(\d+)-(\d+):(\d+)$/.exec(p)!.map(Number);
      return { start: { line: l1! - 1, column: c1! }, end: { line: l2! - 1, column: c2! } };
    });
    const wanted = drawn.map((d) => d.location);
    const ignorer = {
      shouldIgnore: (p: { node: { loc?: Location } }) =>
        p.node.loc && !keepsNode(p.node.loc, wanted) ? 'not in the sample' : undefined,
    };
    const r = await new Instrumenter(logger as never).instrument([{ name: file, content, mutate: ranges }], {
      plugins: null,
      excludedMutations: [],
      ignorers: [ignorer],
    });
    const made = r.mutants.filter((m) => m.status !== 'Ignored');
    const key = (m: { location: Location; mutatorName: string; replacement?: string }) =>
      mutantKey({ file, location: m.location, mutatorName: m.mutatorName, replacement: m.replacement ?? '' });
    const madeKeys = new Set(made.map(key));
    for (const d of drawn) expect(madeKeys).toContain(mutantKey(d));
    // The others made share a drawn mutant's span, or hold one and lie inside another.
    const drawnKeys = new Set(drawn.map(mutantKey));
    for (const m of made.filter((x) => !drawnKeys.has(key(x)))) {
      const shares = wanted.some((w) => same(w, m.location));
      const between =
        wanted.some((w) => inside(m.location, w)) && wanted.some((w) => inside(w, m.location) && !same(w, m.location));
      expect({ m: key(m), ok: shares || between }).toEqual({ m: key(m), ok: true });
    }
    // Without the ignorer the same spans make far more.
    const plain = await new Instrumenter(logger as never).instrument([{ name: file, content, mutate: ranges }], {
      plugins: null,
      excludedMutations: [],
      ignorers: [],
    });
    expect(plain.mutants.length).toBeGreaterThan(made.length + 5);
  });
});
