// npm run mutate: StrykerJS mutation testing of src/vrf and src/charm against the unit tests
// (not in CI: a full run takes hours on 2 shared cores). Jest runs ESM through
// --experimental-vm-modules and @swc/jest, as in npm run test:unit; jest.stryker.config.js is the
// unit project alone (the e2e tests run the packed charm in child processes, where Stryker's
// active mutant is not switched). Incremental: stryker-incremental.json (committed) lets the next
// run re-test only mutants whose code or tests changed. Narrow a run with
//   npm run mutate -- --mutate 'src/vrf/plan/**/*.ts'
// The scores and the triage of survivors are in BENCHMARKS.md ("Mutation testing").
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  jest: { projectType: 'custom', configFile: 'jest.stryker.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  mutate: ['src/vrf/**/*.ts', 'src/charm/**/*.ts', '!src/**/*.d.ts'],
  ignoreStatic: true,
  concurrency: 1,
  timeoutMS: 10_000,
  incremental: true,
  incrementalFile: 'stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
