import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// Pure cores may import only from core/ (ARCHITECTURE.md §2) and never touch ambient time,
// randomness or I/O (§4 rule 1).
const pureCore = {
  files: ['src/clocks/**/*.ts', 'src/protocols/**/*.ts', 'src/lab/**/*.ts'],
  ignores: ['**/*.test.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { group: ['node:*', 'fs', 'dgram', 'net', 'http', 'child_process'], message: 'pure cores do no I/O' },
        { group: ['**/transport/**', '**/replica/**', '**/storage/**', '**/sim/**', '**/cli/**', '**/check/**', '**/dashboard/**'], message: 'imports point downward only' },
      ],
    }],
    'no-restricted-properties': ['error',
      { object: 'Date', property: 'now', message: 'pass a clock in' },
      { object: 'Math', property: 'random', message: 'pass a seeded rng in' },
      { object: 'performance', property: 'now', message: 'pass a clock in' },
    ],
    'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate'],
  },
};

export default tseslint.config(
  { ignores: ['dist*/**', 'node_modules/**', 'data/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'error',
    },
  },
  { languageOptions: { globals: { ...globals.node } } },
  { files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'scripts/**', '**/*.test.ts'], rules: { 'no-console': 'off' } },
  pureCore,
);
