// Lint every folder; enforce the import boundaries of ../shared/STYLE.md §2:
// webview → protocol → core/model (type-only); host → core, protocol; core imports nothing else.
// Outside core, the only way in is the facade src/core/index.ts: a deep path ('../core/plan/solver') is an error.
import tseslint from 'typescript-eslint';

const deepCore = { group: ['**/core/**'], message: 'import core only through its facade (src/core/index.ts), never a file inside it.' };

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'util', 'stream', 'zlib', 'url'];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.tools/**', '.tmp/**', 'src/core/formats/onnx/gen/**', 'test/e2e/workspace/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['vscode', ...nodeBuiltins.filter((n) => !n.includes('*'))],
        patterns: [
          { group: ['node:*'], message: 'core is pure: no node:* imports (STYLE.md §2).' },
          { group: ['**/host/**', '**/node/**', '**/cli/**', '**/worker/**', '**/protocol/**', '**/webview/**'], message: 'core imports nothing outside core.' },
        ],
      }],
    },
  },
  {
    // The shared number formatter is imported by the webview too: it must stay a leaf.
    files: ['src/core/format/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['*', '!./*'], message: 'src/core/format is a leaf shared with the webview: it imports nothing.' }] }],
    },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['vscode'],
        patterns: [{ group: ['**/host/**', '**/node/**', '**/cli/**', '**/worker/**', '**/webview/**', 'node:*'], message: 'protocol depends on core/model types only.' }, deepCore],
      }],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['vscode'],
        patterns: [
          { group: ['**/src/host/**', '**/src/node/**', '**/src/cli/**', '**/src/worker/**', 'node:*'], message: 'the webview talks to the host only through src/protocol.' },
          // Core's facade as types only; the one value import is the shared number formatter, a leaf module (it imports
          // nothing), so the browser bundle gets one small file rather than core's readers and analysis.
          { regex: '(^|/)core/(?!format/numbers$)', message: 'import core only through its facade (src/core/index.ts), never a file inside it (except src/core/format/numbers, the shared formatter).' },
          { regex: '(^|/)src/core$', allowTypeImports: true, message: 'the webview imports core types only (values: src/core/format/numbers, the shared formatter).' },
        ],
      }],
    },
  },
  {
    files: ['src/host/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [deepCore] }],
    },
  },
  {
    files: ['src/node/**/*.ts', 'src/cli/**/*.ts', 'src/worker/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ['vscode'], patterns: [{ group: ['**/host/**', '**/webview/**'], message: 'only src/host may use vscode.' }, deepCore] }],
    },
  },
);
