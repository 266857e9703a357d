import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

// The engine reads the host's files only through src/vrf/files.ts, which tells the charm's update-status
// memo what a run read: a reader imported from node:fs elsewhere would be a file the memo never watches.
const FS_READ_NAMES = ['readFile', 'readdir', 'stat', 'lstat', 'access', 'readlink', 'opendir', 'realpath'];
const FS_READERS = [
  {
    name: 'node:fs/promises',
    importNames: FS_READ_NAMES,
    message: 'read host files through src/vrf/files.ts (the update-status memo watches what it reads).',
  },
  {
    name: 'node:fs',
    importNames: [...FS_READ_NAMES, ...FS_READ_NAMES.map((n) => `${n}Sync`), 'existsSync', 'promises'],
    message: 'read host files through src/vrf/files.ts (the update-status memo watches what it reads).',
  },
];

export default tseslint.config(
  {
    ignores: [
      'build/**',
      'node_modules/**',
      'coverage/**',
      'bench/results/**',
      '.cache/**',
      '*.charm',
      '.stryker-tmp/**',
      'reports/**',
    ],
  },
  js.configs.recommended,
  // Type-aware: the rules see the types tsc sees (each .ts file's tsconfig, found by the project service).
  ...tseslint.configs.recommendedTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  // The scripts are type-checked by tsc (tsconfig.scripts.json, checkJs), not by type-aware lint rules.
  { files: ['**/*.{js,mjs,cjs}'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // A switch over a union must handle every member, so a new step kind or status is caught where it is
      // used; a `default:` is an explicit decision about the rest (e.g. zod's issue codes, which zod grows).
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    files: ['tests/**/*.ts'],
    rules: {
      // jest's asymmetric matchers (expect.stringMatching, expect.any, …) are typed `any` by @types/jest.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  // The import boundaries: ops knows nothing of VRFs, the domain knows nothing of Juju.
  {
    files: ['src/ops/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/vrf/**', '**/vrf', '**/charm', '**/charm.js', '**/cli', '**/cli.js'],
              message: 'src/ops must not import the VRF domain or the charm.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/vrf/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/ops/**', '**/ops', '**/charm', '**/charm.js'],
              message: 'src/vrf must not import src/ops or the charm.',
            },
          ],
          paths: FS_READERS,
        },
      ],
    },
  },
  // The engine's one file-access layer is where node:fs is read (the update-status memo watches what goes through it).
  {
    files: ['src/vrf/files.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  // Formatting is prettier's (npm run format); this turns off the style rules that would fight it.
  prettier,
  // prettier never splits a string or a comment: src keeps every line within 140 characters (long messages as
  // concatenated literals), so a review reads it without scrolling.
  {
    files: ['src/**/*.ts'],
    rules: { 'max-len': ['error', { code: 140, ignoreRegExpLiterals: true }] },
  },
);
