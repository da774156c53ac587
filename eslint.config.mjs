// typescript-eslint with type information (recommendedTypeChecked): the rules that need types are the ones
// that catch real bugs here (a floating promise, a promise passed where a callback is expected, an unsafe
// `any`). Formatting is Prettier's job (eslint-config-prettier turns off the rules it owns). `npm test`
// runs `npm run lint`, so a finding fails CI.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// The Node.js globals the plain-JS scripts use (listed here rather than adding the `globals` package for them).
const nodeGlobals = Object.fromEntries(
  ['AbortController', 'Buffer', 'URL', 'URLSearchParams', 'clearInterval', 'clearTimeout', 'console', 'fetch', 'process', 'setInterval', 'setTimeout'].map(
    (name) => [name, 'readonly'],
  ),
);
const commonJsGlobals = { __dirname: 'readonly', __filename: 'readonly', module: 'writable', require: 'readonly', exports: 'writable' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'models/**', 'corpus/**'] },
  eslint.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_`-prefixed names are deliberately unused (an ignored parameter of a callback).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // node:test's test()/describe()/it() return promises the runner itself awaits; everything else must be
      // awaited or marked `void`. (Mocha's describe/it in test/e2e return no promise, so need no entry.)
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      // Rejecting with a caught error (typed unknown) passes it on unchanged, as `throw e` may (only-throw-error
      // allows unknown by default); a literal non-Error reason is still refused.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // The build, test-runner and packaging scripts are plain JavaScript: no type information, Node globals.
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  {
    files: ['**/*.cjs', 'bin/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...nodeGlobals, ...commonJsGlobals } },
  },
  prettier,
);
