import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'coverage/**', 'bench/results/**', '.cache/**', '*.charm'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
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
        },
      ],
    },
  },
  // Formatting is prettier's (npm run format); this turns off the style rules that would fight it.
  prettier,
);
