// ESLint (flat config) with typescript-eslint's type-aware rules. `npm run lint` runs it together
// with the Prettier check (.prettierrc.json). Type information comes from the nearest tsconfig of
// each file (projectService): packages/*/tsconfig.json for sources, */test/tsconfig.json for tests.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    '**/dist/',
    '**/node_modules/',
    'coverage/',
    'tools/',
    'bench/results/',
    'bench/.reference/',
    'test/.readme-blocks/',
    'test/install/fixtures/',
    'test/reliability/results/',
  ]),
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The two rules this setup is for: a promise nobody awaits or handles, and a promise handed
      // to something that expects a plain value or a void callback (an event listener, a timer).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `_name` marks a parameter or binding that is deliberately unused.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Off: here an `async` function without `await` is deliberate. It implements a contract that
      // returns a promise (connect(), openConsumer(), checkHealth(), a MessageHandler, a kafkajs
      // eachMessage), and `async` turns a synchronous throw into a rejection, which is what callers
      // of such a contract handle. Rewriting each as `return Promise.resolve(…)` would change that.
      '@typescript-eslint/require-await': 'off',
      // A caught value (`unknown`) passed on as a rejection is fine: msgport hands on whatever a
      // handler threw, by design (C5, describeFailure). Rejecting with a literal is still an error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // Compiled with experimentalDecorators: its own tsconfig (the test tsconfig excludes it).
    files: ['packages/core/test/**/*.experimental.test.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './packages/core/test/tsconfig.experimental.json' },
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
);
