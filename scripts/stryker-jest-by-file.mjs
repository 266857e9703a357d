// A StrykerJS test runner, "jest-by-file": @stryker-mutator/jest-runner, except that a mutant run
// loads only the test files that hold the tests covering the mutant.
//
// Why: with coverageAnalysis 'perTest' the jest runner filters a mutant's tests by name
// (--testNamePattern), but it still picks the test files with --findRelatedTests, i.e. every unit
// test file that imports the mutated file, even indirectly: for src/vrf/model.ts that is nearly
// all of them. jest loads (and, under --experimental-vm-modules, links) each of those files to
// collect its tests before the name filter leaves most of them empty. The dry run already knows
// which file each test lives in, so here a mutant runs its tests one file at a time and stops
// at the first file that kills it (the bail jest cannot do programmatically). A survivor has run
// every test that covers it, as with the jest runner; a killed mutant names the tests of the file
// that killed it. A static mutant (module-level code: a constant's value, a list's entry) runs
// the test files that executed its code in the dry run, one at a time, the same way: its
// "coverage" is only the test during which some file first imported the module, so a test filter
// would be wrong for it. Which files executed it is measured: the dry run notes, as each test
// file starts, the mutants its predecessor ran outside any test (module load, describe bodies),
// and every test's coverage names its file. A file that never executes the mutated code runs the
// same with the mutant on as off, so leaving it out changes no verdict, only the time.
// In a sample run (MUTATE_SAMPLE_FILE, scripts/mutate.mjs --sample) a mutant that is not in the
// sample is not run: the ignorer cannot leave out a mutant that shares its syntax node with a
// drawn one (`a < b` → `a <= b` beside `a < b` → `true`). It is reported as an error that the
// records leave out (mutate-sample.mjs, NOT_DRAWN).
import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { strykerPlugins as jestPlugins } from '@stryker-mutator/jest-runner';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { mutantKey, NOT_DRAWN, sampleFileOf } from './mutate-sample.mjs';

const jest = jestPlugins.find((p) => p.name === 'jest');
if (!jest || !('factory' in jest)) throw new Error('@stryker-mutator/jest-runner declares no "jest" factory plugin');
const jestFactory = jest.factory;
// The jest runner's state, shared with its jest environment (same module instance: Node's cache).
const require = createRequire(import.meta.url);
const jestRunnerDir = path.dirname(require.resolve('@stryker-mutator/jest-runner/package.json'));
/** @type {{ state: { testFilesWithStrykerEnvironment: Set<string>, instrumenterContext: any } }} */
const messaging = require(path.join(jestRunnerDir, 'dist/src/jest-plugins/messaging.cjs'));
// The map is a file, because the dry run's runner process is not necessarily the one that runs a
// mutant (a pool; a runner is restarted after a timeout). Its path is resolved as this module
// loads, before the runner moves into its sandbox: in the checkout Stryker was started from.
const MAP_FILE = path.resolve('.stryker-jest-by-file.json');
const SAMPLE_FILE = process.env.MUTATE_SAMPLE_FILE;
/** @type {{ files: string[], keys: Set<string> } | undefined} the mutants of a sample run */
const sample = SAMPLE_FILE
  ? (() => {
      const { spans, keys } = JSON.parse(readFileSync(SAMPLE_FILE, 'utf8'));
      return { files: Object.keys(spans), keys: new Set(keys) };
    })()
  : undefined;

/** @typedef {{ outside: boolean, tests: string[] }} Coverage */

class JestByFileRunner {
  /** @param {any} inner the jest runner */
  constructor(inner) {
    this.inner = inner;
    /** @type {Map<string, string>} test id (jest's full name) → test file */
    this.fileOf = new Map();
    /** @type {Map<string, number>} test id → its time in the dry run (ms) */
    this.timeOf = new Map();
    /**
     * mutant id → test file → the tests that ran the mutant's code there, and whether the file
     * also ran it outside any test (`outside`: module load, a describe body, a hook)
     * @type {Map<string, Record<string, Coverage>> | undefined}
     */
    this.filesOf = undefined;
    /** @type {string[] | undefined} the files of the mutant run under way */
    this.files = undefined;
    const adapter = inner.jestTestAdapter;
    inner.jestTestAdapter = {
      /** @param {any} settings */
      run: (settings) => adapter.run(this.files ? { ...settings, testFiles: this.files } : settings),
    };
  }

  init() {
    return this.inner.init();
  }

  capabilities() {
    return this.inner.capabilities();
  }

  /** @param {any} options */
  async dryRun(options) {
    // Each jest environment adds its test file to this set as the file starts (runInBand: one
    // file after another): the static coverage counted since the previous start is that file's.
    const { state } = messaging;
    const started = state.testFilesWithStrykerEnvironment;
    /** @type {Map<string, Set<string>>} test file → mutants it ran outside any test */
    const staticOf = new Map();
    /** @type {string | undefined} */
    let current;
    /** @type {Record<string, number>} */
    let seen = {};
    const note = () => {
      /** @type {Record<string, number>} */
      const now = state.instrumenterContext?.mutantCoverage?.static ?? {};
      if (current !== undefined) {
        const ids = staticOf.get(current) ?? new Set();
        for (const [id, n] of Object.entries(now)) if (n > (seen[id] ?? 0)) ids.add(id);
        staticOf.set(current, ids);
      }
      seen = { ...now };
    };
    const add = started.add;
    started.add = (/** @type {string} */ file) => {
      note();
      current = file;
      return add.call(started, file);
    };
    let result;
    try {
      result = await this.inner.dryRun(options);
    } finally {
      note();
      started.add = add;
    }
    /** @type {Map<string, Record<string, Coverage>>} */
    const filesOf = new Map();
    const at = (/** @type {string} */ id, /** @type {string} */ file) => {
      const files = filesOf.get(id) ?? filesOf.set(id, {}).get(id) ?? {};
      return (files[file] ??= { outside: false, tests: [] });
    };
    if (result.status === 'complete') {
      for (const test of result.tests) {
        if (test.fileName) this.fileOf.set(test.id, test.fileName);
        this.timeOf.set(test.id, test.timeSpentMs);
      }
      for (const [file, ids] of staticOf) for (const id of ids) at(id, file).outside = true;
      for (const [test, hits] of Object.entries(result.mutantCoverage?.perTest ?? {})) {
        const file = this.fileOf.get(test);
        if (file) for (const id of Object.keys(hits)) at(id, file).tests.push(test);
      }
      this.filesOf = filesOf;
    }
    const map = {
      fileOf: Object.fromEntries(this.fileOf),
      timeOf: Object.fromEntries(this.timeOf),
      filesOf: Object.fromEntries(filesOf),
    };
    writeFileSync(MAP_FILE, JSON.stringify(map));
    return result;
  }

  /**
   * The mutant's tests, one test file per jest run, stopping at the first file that detects the
   * mutant: the file named after the mutated source file first, then the others by how many of
   * the mutant's tests they hold per second of their dry-run time (a cheap file that is likely to
   * kill it before an expensive one: engine.test.ts's covering tests can take 30 s under load).
   * @param {any} options
   */
  async mutantRun(options) {
    if (sample) {
      const { fileName, location, mutatorName, replacement } = options.activeMutant;
      const file = sampleFileOf(fileName, sample.files);
      if (file === undefined || !sample.keys.has(mutantKey({ file, location, mutatorName, replacement }))) {
        return { status: 'error', errorMessage: NOT_DRAWN };
      }
    }
    if (this.fileOf.size === 0 && existsSync(MAP_FILE)) {
      const map = JSON.parse(readFileSync(MAP_FILE, 'utf8'));
      this.fileOf = new Map(Object.entries(map.fileOf ?? map));
      this.filesOf = map.filesOf ? new Map(Object.entries(map.filesOf)) : undefined;
      this.timeOf = new Map(Object.entries(map.timeOf ?? {}));
    }
    /** @type {string[] | undefined} */
    const ids = options.testFilter;
    /** @type {Map<string, Coverage>} test file → the mutant's tests there (outside: run the file in full) */
    const byFile = new Map();
    if (ids && ids.every((id) => this.fileOf.has(id))) {
      for (const id of ids) {
        const file = /** @type {string} */ (this.fileOf.get(id));
        const c = byFile.get(file) ?? byFile.set(file, { outside: false, tests: [] }).get(file);
        c?.tests.push(id);
      }
    } else if (!ids && this.fileOf.size > 0) {
      // A static mutant (run when a module loads, so no test can be said to cover it): every
      // test file of the dry run that executed its code, in full where it ran outside any test,
      // else only the tests that ran it. Without that measure: every test file of the dry run.
      const files = this.filesOf?.get(String(options.activeMutant.id));
      if (files) for (const [file, c] of Object.entries(files)) byFile.set(file, c);
      else for (const file of new Set(this.fileOf.values())) byFile.set(file, { outside: true, tests: [] });
    } else {
      // A test the dry run did not place (none should be): the jest runner's own run.
      return this.inner.mutantRun(options);
    }
    /** @type {Map<string, number>} test file → the time of all its tests in the dry run */
    const fileTime = new Map();
    for (const [id, file] of this.fileOf) fileTime.set(file, (fileTime.get(file) ?? 0) + (this.timeOf.get(id) ?? 0));
    const time = (/** @type {string[]} */ tests) => tests.reduce((t, id) => t + (this.timeOf.get(id) ?? 0), 0);
    // 300 ms: a jest run's own cost, so that a file of instant tests is not infinitely cheap.
    const value = (/** @type {string} */ file, /** @type {Coverage} */ c) =>
      (c.tests.length + (c.outside ? 1 : 0)) / (300 + (c.outside ? (fileTime.get(file) ?? 0) : time(c.tests)));
    const own = path.basename(options.activeMutant.fileName).replace(/\.ts$/, '.');
    const rank = (/** @type {string} */ f) => (path.basename(f).startsWith(own) ? 1 : 0);
    const order = [...byFile].sort(([f, a], [g, b]) => rank(g) - rank(f) || value(g, b) - value(f, a));
    let nrOfTests = 0;
    let last;
    for (const [file, c] of order) {
      this.files = [file];
      try {
        last = await this.inner.mutantRun({ ...options, testFilter: c.outside ? undefined : c.tests });
      } finally {
        this.files = undefined;
      }
      if (last.status !== 'survived') return last;
      nrOfTests += last.nrOfTests;
    }
    return { ...last, nrOfTests };
  }

  dispose() {
    return this.inner.dispose?.();
  }
}

/** @param {any} injector */
function jestByFileFactory(injector) {
  return new JestByFileRunner(injector.injectFunction(jestFactory));
}
jestByFileFactory.inject = tokens(commonTokens.injector);

export const strykerPlugins = [declareFactoryPlugin(PluginKind.TestRunner, 'jest-by-file', jestByFileFactory)];
