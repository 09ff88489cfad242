// ESLint (flat config): typescript-eslint's recommended rules, type-aware where they are cheap, over every package's
// TypeScript and the repository's JavaScript; and `warden/import-boundaries`, which enforces who may import whom
// (scripts/eslint/boundaries.js, from shared/DESIGN.md §2). `npm run lint` runs it; `npm test` runs it too.
'use strict';
const js = require('@eslint/js');
const { defineConfig, globalIgnores } = require('eslint/config');
const globals = require('globals');
const tseslint = require('typescript-eslint');
const warden = require('./scripts/eslint/plugin');
const { BOUNDARIES, PLUGIN_EXAMPLES } = require('./scripts/eslint/boundaries');

/** One block per package: its `src/` imports what BOUNDARIES allows; its tests, bins and examples also itself. */
const boundaries = Object.entries(BOUNDARIES).flatMap(([name, allow]) => [
  {
    files: [`packages/${name}/**/*.{ts,js,mjs,cjs}`],
    rules: { 'warden/import-boundaries': ['error', { from: `@warden/${name} (outside src/)`, allow: [...allow, name] }] },
  },
  {
    files: [`packages/${name}/src/**/*.{ts,js,mjs,cjs}`],
    rules: { 'warden/import-boundaries': ['error', { from: `@warden/${name}`, allow }] },
  },
]);

module.exports = defineConfig(
  globalIgnores([
    '**/node_modules/',
    '**/dist/',
    'packages/shm-transport/build/',
    '**/prebuilds/',
    'bench/results/',
    'coverage/',
    'scripts/eslint/test/fixtures/', // files that break the rules on purpose
  ]),
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter kept for its position (overrides of node's APIs); `catch (err)` may ignore err.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `ok && next()` and `cond ? a() : b()` are statements here.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // `import http = require('http')` is the typed CommonJS import unit-http needs (it re-exports node:http).
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    rules: {
      // The type-aware rules that find bugs at little cost: a promise nobody awaits or handles, a promise where a
      // callback's result is ignored, an await on a non-promise.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/no-implied-eval': 'error',
      // A request listener or event handler may be async: node ignores what it returns.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      // Functions installed on node's objects (server.address, a fake socket's methods) need their own `this` and
      // the enclosing instance's, which they reach through a named alias.
      '@typescript-eslint/no-this-alias': 'off',
    },
  },
  {
    // Tests read parsed JSON answers (control API, /status, manifests) as `any`; the sources have none.
    files: ['**/test/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: {
      // CommonJS files load modules with require(); `const { performance } = require('perf_hooks')` is fine.
      '@typescript-eslint/no-require-imports': 'off',
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  {
    files: ['**/test/**/*.js', 'bench/test/**/*.js'],
    languageOptions: { globals: { ...globals.jest } },
  },
  { plugins: { warden } },
  ...boundaries,
  {
    files: ['examples/plugins/**/*.{ts,js,mjs,cjs}'],
    rules: { 'warden/import-boundaries': ['error', { from: 'a plugin (examples/plugins)', allow: PLUGIN_EXAMPLES }] },
  },
);
