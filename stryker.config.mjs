// StrykerJS mutation testing of src/vrf and src/charm against the unit tests. Not in CI: run it
// with `npm run mutate` (scripts/mutate.mjs: one file or line range a run, results kept per file
// in mutation/, the scores per file) or `npx stryker run --mutate FILE[:LINES]`. Jest runs ESM
// through --experimental-vm-modules and @swc/jest, as in npm run test:unit; jest.stryker.config.js
// is the unit project alone (the e2e tests run the packed charm in child processes, where
// Stryker's active mutant is not switched).
// The test runner is scripts/stryker-jest-by-file.mjs: the jest runner, one test file at a time,
// stopping at the first file that kills the mutant. Incremental: scripts/mutate.mjs feeds each run
// the mutated file's own record from mutation/ (committed) and stores the result back there, so the
// next run re-tests only mutants whose code or tests changed (a bare `npx stryker run` starts from
// .cache/stryker/incremental.json instead, and records nothing).
// The scores and the triage of survivors are in BENCHMARKS.md ("Mutation testing").
export default {
  packageManager: 'npm',
  testRunner: 'jest-by-file',
  plugins: [
    '@stryker-mutator/jest-runner',
    './scripts/stryker-jest-by-file.mjs',
    './scripts/stryker-mutant-log.mjs',
    './scripts/stryker-sample-ignorer.mjs',
  ],
  // `npm run mutate -- --sample N` names the drawn mutants' spans; the "sample" ignorer leaves out
  // the other mutants inside them (scripts/stryker-sample-ignorer.mjs).
  ignorers: process.env.MUTATE_SAMPLE_FILE ? ['sample'] : [],
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: { projectType: 'custom', configFile: 'jest.stryker.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  mutate: ['src/vrf/**/*.ts', 'src/charm/**/*.ts', '!src/**/*.d.ts'],
  // Static mutants (module-level code) are run, against every related test file: see
  // scripts/stryker-jest-by-file.mjs (with ignoreStatic their per-test coverage is misleading).
  ignoreStatic: false,
  // Not copied into the sandbox: the kernel cache (hundreds of MB), packed charms, builds, reports,
  // the mutation records.
  ignorePatterns: ['/.cache', '/build', '/bench/results', '/reports', '/mutation', '*.charm', '*.tmp'],
  concurrency: 1,
  // A fresh test runner process every 30 mutants: jest's module registries of past runs stay in
  // the process (1.8 GB after 100 mutants of the planner, growing 1 MB a second), and the
  // collector's cost grows with them.
  maxTestRunnerReuse: 30,
  // A mutant run's time limit: Stryker's estimate from the dry run × 3 + 60 s. With 1.5 × + 10 s
  // (the defaults), at nice 19 under load 13, mutants no test could see timed out.
  timeoutFactor: 3,
  // The dry run of a planner file's related tests takes 2-3 minutes at load 8, and passed the
  // default limit of 5 under a lint and test run beside it (apply.ts's first range was lost).
  dryRunTimeoutMinutes: 20,
  timeoutMS: 60_000,
  incremental: true,
  incrementalFile: '.cache/stryker/incremental.json',
  // mutant-log: each survivor as it is found, in .cache/stryker/undetected.log.
  reporters: ['clear-text', 'progress', 'json', 'mutant-log'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
