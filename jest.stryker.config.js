// The unit project, for StrykerJS (stryker.config.mjs): same transform and ESM setup, less the
// tests that cover no src/vrf or src/charm code in-process (the kernel suite's counting, which
// runs scripts/) and the fast-check property tests (thousands of runs each: seconds per mutant;
// they are a second net, so a mutant only they kill counts as survived here).
import config from './jest.config.js';

const unit = config.projects.find((p) => p.displayName === 'unit');
if (!unit) throw new Error('jest.config.js has no unit project');
const { displayName: _name, ...rest } = unit;
export default {
  ...rest,
  rootDir: '.',
  // Mutation runs go at nice 19 on two shared cores: a unit test that takes 1 s at ease took over
  // jest's 5 s there and failed a dry run (the whole chunk is then lost). A mutant that makes a
  // test hang is still caught: Stryker times each run out on its own (timeoutMS).
  testTimeout: 60_000,
  testPathIgnorePatterns: [
    '/node_modules/',
    '<rootDir>/tests/unit/ci-summary.test.ts',
    '\\.property\\.test\\.ts$',
    '<rootDir>/tests/unit/vrf/properties.test.ts',
    '<rootDir>/tests/unit/vrf/derive.stability.test.ts',
    '<rootDir>/tests/unit/vrf/plan-keys.test.ts',
  ],
};
