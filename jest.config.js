// ESM all the way: @swc/jest turns TypeScript into ES modules and jest runs them
// with --experimental-vm-modules (see package.json scripts).
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': swc },
  testEnvironment: 'node',
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'],
      // Packs the charm once, before any worker starts (the e2e files only unpack it).
      globalSetup: '<rootDir>/tests/e2e/global-setup.mjs',
    },
  ],
};
