// One build per bundle: CLI (node/cjs), extension host (node/cjs, external vscode), analysis worker (node/cjs),
// host task process (node/cjs: apply, measure, verify off the extension host's thread), webview (browser/iife).
// Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';

const production = process.argv.includes('--production');
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', target: 'node20', metafile: true };
// Native/optional modules stay external: onnxruntime-node loads its .node binary from node_modules.
const nodeExternal = ['vscode', 'onnxruntime-node'];
// Node bundles prefer ES modules: jsonc-parser's "main" is a UMD build whose dynamic require('./impl/format')
// esbuild cannot follow (the extension then fails to activate with "Cannot find module './impl/format'").
const nodeMainFields = ['module', 'main'];

/** In dist/llamaEval.js, import('node-llama-cpp') loads the bundle dist/llama-cpp/index.mjs beside it. */
const llamaCppAsBundle = {
  name: 'llama-cpp-as-bundle',
  setup(build) {
    build.onResolve({ filter: /^node-llama-cpp$/ }, () => ({ path: './llama-cpp/index.mjs', external: true }));
  },
};

/**
 * node-llama-cpp finds its package.json (its version, which must equal the binaries package's) and llama/*.json by
 * paths relative to each of its files' import.meta.url. In the bundle every file's URL becomes the bundle's, so each
 * one is pointed back at where that file sits in the package folder beside dist/, ../../node_modules/node-llama-cpp/
 * (the package itself in a checkout; package.json, LICENSE and llama/*.json in the .vsix). testBindingBinary.js is
 * pointed at its own bundle, which node-llama-cpp forks.
 */
function llamaCppFileUrls(packageDir) {
  return {
    name: 'llama-cpp-file-urls',
    setup(build) {
      build.onLoad({ filter: /[\\/]node-llama-cpp[\\/]dist[\\/].*\.js$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rel = path.relative(packageDir, args.path).split(path.sep).join('/');
        if (rel.startsWith('..')) return undefined;
        const url = rel === 'dist/bindings/utils/testBindingBinary.js' ? './testBindingBinary.mjs' : `../../node_modules/node-llama-cpp/${rel}`;
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(url)}, import.meta.url).href`), loader: 'js' };
      });
    },
  };
}

/**
 * The CLI bundles take the project's own modules (src/) as free of side effects when imported (what a package.json
 * `"sideEffects": false` says of a package's files): a module none of whose exports a bundle uses is left out, even
 * when its top level calls functions, which esbuild otherwise keeps because it cannot tell they are pure. Without
 * this, `inspect`'s bundle held (and evaluated at every start) the hardware catalog (its targets are built by calls,
 * ~1.3 ms), the quantizers and number formats, and jsonc-parser, all reached only through the src/core/index.ts facade.
 * No module in src/ is imported for its side effects alone (no `import './x'`).
 */
function ownModulesWithoutSideEffects() {
  const src = path.resolve('src') + path.sep;
  const probe = Symbol('own-modules-probe');
  return {
    name: 'own-modules-without-side-effects',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData === probe) return undefined;
        const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: probe });
        if (r.errors.length > 0 || !r.path.startsWith(src)) return undefined;
        return { path: r.path, sideEffects: false };
      });
    },
  };
}

// The CLI: dist/cli.js (src/cli/launcher.ts) runs the bundle dist/cliMain.js (every command), or the bundle of
// `inspect` or `estimate` alone for those, or of help/version/completion, with the V8 code cache written below.
const cli = { ...common, platform: 'node', format: 'cjs', external: nodeExternal, mainFields: nodeMainFields, plugins: [ownModulesWithoutSideEffects()] };
const builds = [
  { ...cli, entryPoints: ['src/cli/launcher.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { ...cli, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cliMain.js' },
  { ...cli, entryPoints: ['src/cli/inspectMain.ts'], outfile: 'dist/cliInspect.js' },
  { ...cli, entryPoints: ['src/cli/estimateMain.ts'], outfile: 'dist/cliEstimate.js' },
  { ...cli, entryPoints: ['src/cli/generalMain.ts'], outfile: 'dist/cliGeneral.js' },
];
if (existsSync('src/host/extension.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/host/extension.ts'], outfile: 'dist/extension.js', external: nodeExternal, mainFields: nodeMainFields });
if (existsSync('src/worker/analysis.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/worker/analysis.ts'], outfile: 'dist/worker.js', external: nodeExternal, mainFields: nodeMainFields });
if (existsSync('src/worker/hostTasks.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/worker/hostTasks.ts'], outfile: 'dist/hostTasks.js', external: nodeExternal, mainFields: nodeMainFields });
// llama.cpp evaluation process. Its dynamic import('node-llama-cpp') loads dist/llama-cpp/index.mjs (below).
if (existsSync('src/worker/llamaEval.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/worker/llamaEval.ts'], outfile: 'dist/llamaEval.js', external: nodeExternal, mainFields: nodeMainFields, plugins: [llamaCppAsBundle] });
// node-llama-cpp's JavaScript and its dependencies in two ES-module bundles (the package uses top-level await), so the
// .vsix ships them without node-llama-cpp's 118-package dependency tree: index.mjs (what llamaEval uses) and
// testBindingBinary.mjs, the script node-llama-cpp forks to try its native binary before loading it (it refuses to
// fork from a bundle whose file name is not its own, and then loads the binary untested). The native binaries stay
// in @node-llama-cpp/<platform> (external; shipped as files by the platform .vsix, scripts/packaging.mjs).
const llamaCppDir = existsSync('node_modules/node-llama-cpp/package.json') ? realpathSync('node_modules/node-llama-cpp') : undefined;
if (llamaCppDir && existsSync('src/worker/llamaEval.ts')) {
  const llamaCpp = {
    ...common,
    platform: 'node',
    format: 'esm',
    // Never loaded: downloads (ipull's copy-on-write helper) and Electron's utility processes.
    external: ['@node-llama-cpp/*', '@reflink/*', 'electron'],
    // Bundled CommonJS dependencies call require() for Node's built-ins; an ES module has no require of its own.
    banner: { js: "import { createRequire as __plCreateRequire } from 'node:module'; const require = __plCreateRequire(import.meta.url);" },
    plugins: [llamaCppFileUrls(llamaCppDir)],
  };
  builds.push({ ...llamaCpp, stdin: { contents: "export { getLlama, LlamaLogLevel } from 'node-llama-cpp';", resolveDir: '.', sourcefile: 'llama-cpp-entry.js', loader: 'js' }, outfile: 'dist/llama-cpp/index.mjs' });
  builds.push({ ...llamaCpp, entryPoints: [path.join(llamaCppDir, 'dist/bindings/utils/testBindingBinary.js')], outfile: 'dist/llama-cpp/testBindingBinary.mjs' });
}
if (existsSync('webview/main.ts')) builds.push({ ...common, platform: 'browser', format: 'iife', target: 'es2022', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js' });

const results = await Promise.all(builds.map((b) => esbuild.build(b)));
// Which npm packages each bundle contains (from esbuild's metafile): scripts/notices.mjs writes their licenses into
// ThirdPartyNotices.txt for the .vsix.
// Each package is named by its folder under node_modules (e.g. node_modules/node-llama-cpp/node_modules/chalk), so a
// nested copy of another version is listed with its own version and license.
const bundled = {};
const repoDir = realpathSync('.');
for (const [i, r] of results.entries()) {
  const dirs = new Set();
  for (const input of Object.keys(r.metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
    if (!m) continue;
    // Inputs outside the repository (node_modules is a symlink in worktrees) are named from the repository's node_modules.
    const abs = path.resolve(m[1]);
    const rel = path.relative(repoDir, abs);
    dirs.add((rel.startsWith('..') ? rel.slice(rel.indexOf('node_modules/')) : rel).split(path.sep).join('/'));
  }
  bundled[builds[i].outfile] = [...dirs].sort();
}
writeFileSync('dist/bundled-packages.json', `${JSON.stringify(bundled, null, 2)}\n`);
// The CLI bundles as ASCII text: esbuild escapes every other character in strings, regular expressions and names
// (its default charset), but keeps the comments it keeps as written, and one such character makes Node read the whole
// bundle into a two-byte string. In ASCII, `inspect`'s 400 KB bundle is read ~0.5 ms and compiled from its cache
// ~0.7 ms sooner. Each other UTF-16 unit becomes its \uXXXX escape, which means the same character anywhere outside a
// comment too; lines stay where they were for the source map (only columns after it on its line move).
for (const b of builds) {
  if (b.entryPoints?.[0]?.startsWith('src/cli/')) {
    const text = readFileSync(b.outfile, 'utf8');
    if (/[^\0-\x7f]/.test(text)) writeFileSync(b.outfile, text.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  }
}
// The `bin` entry must be executable: npm links it for `npx precision-lens`, but never chmods the root package's own bin.
chmodSync('dist/cli.js', 0o755);
// V8's code caches of the CLI bundles, made from the same script text the launcher compiles (its compileBundle), so a
// command starts without compiling its bundle. Written after the bundles: the launcher ignores a cache older than its
// bundle. Node of another version rejects them and compiles the bundle as usual.
await warmCodeCaches(createRequire(import.meta.url)(path.resolve('dist/cli.js')));

/**
 * Makes each bundle's code cache warm: after running the bundle in this process, so the cache also holds the functions
 * that run compiles lazily (~7 ms of CPU per `sensitivity` start). Commands a run does not cover compile the rest as
 * usual. The whole CLI: `sensitivity` of a 16 MiB FP16 safetensors (the worker pool and the main thread's share of the
 * chunks). `inspect`'s bundle: `inspect --json` of test/fixtures/models/mnist-12.onnx, once under the launcher's one-pass
 * V8 flags (its cache for larger models; a cache made under other flags is rejected) and once under the default flags
 * (its cache for small models, run without flags): `inspect --json` of it then took ~7 % less CPU. Warmed more
 * widely (also the text table, the safetensors above, or a 578 KB ONNX graph), the cache made `inspect --json` of the
 * bench's 45,000-node ONNX 6–9 % slower (median of 21–31 alternating runs, load 5–8), so it is not.
 */
async function warmCodeCaches(launcher) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-build-warm-'));
  try {
    const rows = 2048, cols = 4096;
    let head = JSON.stringify({ 'model.layers.0.mlp.down_proj.weight': { dtype: 'F16', shape: [rows, cols], data_offsets: [0, rows * cols * 2] } });
    head += ' '.repeat((8 - (head.length % 8)) % 8);
    const bytes = new Uint8Array(8 + head.length + rows * cols * 2);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(head.length), true);
    bytes.set(new TextEncoder().encode(head), 8);
    // Finite FP16 codes of both signs from a fixed LCG (weights of magnitude ~2^-10 … 2^-4).
    const codes = new Uint16Array(bytes.buffer, 8 + head.length, rows * cols);
    for (let i = 0, x = 1; i < codes.length; i++) codes[i] = ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 31) << 15 | (0x1400 + ((x >>> 8) % 0x1800));
    const model = path.join(dir, 'warm.safetensors');
    writeFileSync(model, bytes);
    await warmCodeCache(launcher, launcher.BUNDLE_FILE, [['sensitivity', model, '--json']]);
    const mnist = path.resolve('test/fixtures/models/mnist-12.onnx');
    v8.setFlagsFromString(launcher.ONE_PASS_V8_FLAGS);
    await warmCodeCache(launcher, launcher.INSPECT_BUNDLE_FILE, existsSync(mnist) ? [['inspect', mnist, '--json']] : [], true);
    v8.setFlagsFromString(launcher.DEFAULT_V8_FLAGS);
    await warmCodeCache(launcher, launcher.INSPECT_BUNDLE_FILE, existsSync(mnist) ? [['inspect', mnist, '--json']] : []);
    await warmCodeCache(launcher, launcher.ESTIMATE_BUNDLE_FILE, existsSync(mnist) ? [['estimate', mnist, '--target', 'h100', '--json']] : []);
    await warmCodeCache(launcher, launcher.GENERAL_BUNDLE_FILE, [['--help']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the bundle `name` (in dist/) in this process with each argument list in `runs`, then writes its code cache (the
 * one for the one-pass flags when `onePass`: the caller sets them first).
 */
async function warmCodeCache(launcher, name, runs, onePass = false) {
  const bundle = path.resolve('dist', name);
  // Named as no path (launcher.cachedScriptName): V8 keeps this name for every later compile with the cache, so a
  // stack trace of an installed copy would name this build's folder (the CLI's --debug report names its own instead).
  const script = launcher.compileBundle(bundle, undefined, launcher.cachedScriptName(name));
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, path.dirname(bundle));
  for (const argv of runs) {
    const code = await mod.exports.runCli(argv, { out() {}, err(t) { process.stderr.write(`${t}\n`); } });
    if (code !== 0) throw new Error(`warming the code cache of ${name}: ${argv[0]} exited ${code}`);
  }
  writeFileSync(path.resolve('dist', launcher.codeCacheFile(name, onePass)), script.createCachedData());
}
