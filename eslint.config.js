// Lint: typescript-eslint's recommended rules over the sources, tests, benchmarks and scripts,
// run by `npm test` (`npm run lint`). Formatting is prettier's (.prettierrc.json,
// `npm run format:check`), not the linter's.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'traces/', 'test/fixtures/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    rules: {
      // `_` names a value deliberately ignored (a destructured field, a loop over a stream).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // The report page's own script runs in the browser: the project's TypeScript has no DOM
    // library, so the DOM and uPlot are typed `any` there (the file's header says why).
    files: ['src/report/html/client.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
