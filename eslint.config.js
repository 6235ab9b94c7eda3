// ESLint (flat config): a modest set of correctness rules and the layering rules of
// docs/architecture.md ("Layers and the linter"). Untyped on purpose, so it stays fast:
// `tsc --noEmit` already runs the type checks in `npm test`.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

// ---- layering -----------------------------------------------------------------------------------

/** Matches a relative specifier that reaches the top-level directory `dir` of src/, from any depth. */
const reaches = (dir) => `^(\\.\\./)+${dir}(/|$)`;

/** Modules that do I/O (files, sockets, processes, databases, servers): never in src/core. */
const IO_MODULES = [
  ...[
    'fs',
    'fs/promises',
    'net',
    'http',
    'https',
    'http2',
    'tls',
    'dgram',
    'dns',
    'dns/promises',
    'child_process',
    'cluster',
    'worker_threads',
    'os',
    'process',
    'readline',
    'stream',
    'timers',
    'timers/promises',
    'perf_hooks',
    'vm',
  ].flatMap((m) => [m, `node:${m}`]),
  'pg',
  'better-sqlite3',
  'mysql2',
  'mysql2/promise',
  'ioredis',
  'kysely',
  'fastify',
  '@fastify/rate-limit',
  'pino',
  'prom-client',
];
const IO_MESSAGE = 'src/core does no I/O: it computes from its arguments (node:crypto for hashing is allowed); do the I/O in an adapter behind a port.';

const CLOCK_MESSAGE = 'core and app never read the clock: take `now` from the Clock port (a manual clock in tests).';
const RANDOM_MESSAGE = 'core and app take randomness through a port (an option wired by the composition root), so tests can pin it.';

/**
 * The rules of one layer. `forbid` maps a src/ directory to why this layer may not depend on it;
 * static imports, re-exports, `import type`, `import()` and `import('...').T` all count.
 */
function layer({ forbid, io = false, pure = false }) {
  const entries = Object.entries(forbid);
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: io ? IO_MODULES.map((name) => ({ name, message: IO_MESSAGE })) : [],
        patterns: entries.map(([dir, message]) => ({ regex: reaches(dir), message })),
      },
    ],
    'no-restricted-syntax': [
      'error',
      ...entries.flatMap(([dir, message]) => [
        { selector: `ImportExpression[source.value=/${reaches(dir).replaceAll('/', '\\/')}/]`, message },
        { selector: `TSImportType[source.value=/${reaches(dir).replaceAll('/', '\\/')}/]`, message },
      ]),
      ...(pure
        ? [
            { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: CLOCK_MESSAGE },
            { selector: "CallExpression[callee.name='Date']", message: CLOCK_MESSAGE },
          ]
        : []),
    ],
    ...(pure
      ? {
          'no-restricted-properties': [
            'error',
            { object: 'Date', property: 'now', message: CLOCK_MESSAGE },
            { object: 'performance', property: 'now', message: CLOCK_MESSAGE },
            { object: 'Math', property: 'random', message: RANDOM_MESSAGE },
          ],
        }
      : {}),
  };
}

const CORE = 'src/core is the pure domain and depends on no other layer';
const EDGE = 'adapters are reached through the ports in src/app/ports.ts and wired by the composition root';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'coverage/', '.test-results/', '.hourglass/', 'bench/results/', 'web/dist/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Off: the existing code would need mass edits for no correctness gain. `any` at untyped
      // edges (driver rows, parsed JSON) and `!` after a check are deliberate there.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Off: control characters are matched on purpose (to refuse or strip them), and literal
      // runs of spaces in test regexes mirror the YAML indentation they match.
      'no-control-regex': 'off',
      'no-regex-spaces': 'off',
      // `_`-prefixed names are kept on purpose (interface shapes, rest omits).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // Plain JavaScript runs on Node.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly' },
    },
  },
  {
    // The web UI runs in the browser; its pages hold hooks whose rules React checks here.
    files: ['web/src/**'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+src/', allowTypeImports: true, message: 'the UI speaks the public API only: import types of the server, never its code' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/core/**'],
    rules: layer({
      forbid: {
        app: `${CORE}: use cases call it, never the reverse.`,
        adapters: `${CORE}: ${EDGE}.`,
        http: `${CORE}: the HTTP shell calls it, never the reverse.`,
        cli: `${CORE}: the CLI calls it, never the reverse.`,
        config: `${CORE}: configuration reaches it as plain values passed in, not by importing src/config.`,
      },
      io: true,
      pure: true,
    }),
  },
  {
    files: ['src/app/**'],
    rules: layer({
      forbid: {
        adapters: `src/app holds the use cases: ${EDGE}.`,
        http: 'src/app holds the use cases: the HTTP shell calls them, never the reverse.',
        cli: 'src/app holds the use cases: the CLI calls them, never the reverse.',
      },
      pure: true,
    }),
  },
  {
    files: ['src/http/**'],
    rules: layer({
      forbid: {
        adapters: `src/http is a thin shell that calls use cases: ${EDGE} (shared types belong in src/app/ports.ts).`,
        cli: 'src/http is a thin shell: the CLI starts it, never the reverse.',
      },
    }),
  },
  {
    files: ['src/config/**'],
    rules: layer({
      forbid: {
        adapters: 'src/config imports no adapters: the composition root hands connector factories to validation.',
        http: 'src/config is read by the HTTP shell, never the reverse.',
        cli: 'src/config is read by the CLI, never the reverse.',
        app: 'src/config is read by the use cases, so it may not import src/app.',
      },
    }),
  },
);
