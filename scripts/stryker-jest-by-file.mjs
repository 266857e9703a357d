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
// every test file of the dry run, one at a time, the same way: its "coverage" is only the test
// during which some file first imported the module, so a test filter would be wrong for it.
import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { strykerPlugins as jestPlugins } from '@stryker-mutator/jest-runner';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const jest = jestPlugins.find((p) => p.name === 'jest');
if (!jest || !('factory' in jest)) throw new Error('@stryker-mutator/jest-runner declares no "jest" factory plugin');
const jestFactory = jest.factory;
// The map lives in the sandbox (each runner's cwd): the dry run's runner process is not
// necessarily the one that runs a mutant (a pool; a runner is restarted after a timeout).
const MAP_FILE = path.resolve('.stryker-jest-by-file.json');

class JestByFileRunner {
  /** @param {any} inner the jest runner */
  constructor(inner) {
    this.inner = inner;
    /** @type {Map<string, string>} test id (jest's full name) → test file */
    this.fileOf = new Map();
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
    const result = await this.inner.dryRun(options);
    if (result.status === 'complete')
      for (const test of result.tests) if (test.fileName) this.fileOf.set(test.id, test.fileName);
    writeFileSync(MAP_FILE, JSON.stringify(Object.fromEntries(this.fileOf)));
    return result;
  }

  /**
   * The mutant's tests, one test file per jest run, the file named after the mutated source file
   * first, then the file with the most of them: stop at the first that detects the mutant.
   * @param {any} options
   */
  async mutantRun(options) {
    if (this.fileOf.size === 0 && existsSync(MAP_FILE))
      this.fileOf = new Map(Object.entries(JSON.parse(readFileSync(MAP_FILE, 'utf8'))));
    /** @type {string[] | undefined} */
    const ids = options.testFilter;
    /** @type {Map<string, string[] | undefined>} test file → the tests to run there (undefined: all) */
    const byFile = new Map();
    if (ids && ids.every((id) => this.fileOf.has(id))) {
      for (const id of ids) {
        const file = /** @type {string} */ (this.fileOf.get(id));
        byFile.set(file, [...(byFile.get(file) ?? []), id]);
      }
    } else if (!ids && this.fileOf.size > 0) {
      // A static mutant (run when a module loads, so no test can be said to cover it): every
      // test file of the dry run (the files related to the mutated ones), each in full.
      for (const file of new Set(this.fileOf.values())) byFile.set(file, undefined);
    } else {
      // A test the dry run did not place (none should be): the jest runner's own run.
      return this.inner.mutantRun(options);
    }
    const own = path.basename(options.activeMutant.fileName).replace(/\.ts$/, '.');
    const rank = (/** @type {string} */ f) => (path.basename(f).startsWith(own) ? 1 : 0);
    const size = (/** @type {string[] | undefined} */ t) => t?.length ?? 0;
    const order = [...byFile].sort(([f, a], [g, b]) => rank(g) - rank(f) || size(b) - size(a));
    let nrOfTests = 0;
    let last;
    for (const [file, testFilter] of order) {
      this.files = [file];
      try {
        last = await this.inner.mutantRun({ ...options, testFilter });
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
