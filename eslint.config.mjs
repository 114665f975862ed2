// ESLint: correctness rules and the house rules a formatter cannot check (Prettier formats; see .prettierrc.json).
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'reports/', 'native/build/', 'bench/results/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, globals: globals.node },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // Prettier wraps code at 160; comments and long messages are wrapped by hand.
      'max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      'no-var': 'error',
      'prefer-const': 'error',
      eqeqeq: ['error', 'smart'],
      'no-debugger': 'error',
      '@typescript-eslint/no-require-imports': 'error',
    },
  },
  {
    // Library code never prints: it returns values or emits progress events; the CLI, notebooks and benchmarks print.
    files: ['src/**/*.ts'],
    ignores: ['src/cli.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'stdout', message: 'library code never prints (return values or emit progress events)' },
        { object: 'process', property: 'stderr', message: 'library code never prints (return values or emit progress events)' },
      ],
    },
  },
);
