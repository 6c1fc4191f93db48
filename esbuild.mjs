// One build per bundle: CLI (node/cjs), extension host (node/cjs, external vscode), analysis worker (node/cjs),
// host task process (node/cjs: apply, measure, verify off the extension host's thread), webview (browser/iife).
// Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';

const production = process.argv.includes('--production');
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', target: 'node20', metafile: true };
// Native/optional modules stay external: onnxruntime-node loads its .node binary from node_modules.
const nodeExternal = ['vscode', 'onnxruntime-node'];
// Node bundles prefer ES modules: jsonc-parser's "main" is a UMD build whose dynamic require('./impl/format')
// esbuild cannot follow (the extension then fails to activate with "Cannot find module './impl/format'").
const nodeMainFields = ['module', 'main'];

const builds = [
  { ...common, platform: 'node', format: 'cjs', entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' }, external: nodeExternal, mainFields: nodeMainFields },
];
if (existsSync('src/host/extension.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/host/extension.ts'], outfile: 'dist/extension.js', external: nodeExternal, mainFields: nodeMainFields });
if (existsSync('src/worker/analysis.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/worker/analysis.ts'], outfile: 'dist/worker.js', external: nodeExternal, mainFields: nodeMainFields });
if (existsSync('src/worker/hostTasks.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/worker/hostTasks.ts'], outfile: 'dist/hostTasks.js', external: nodeExternal, mainFields: nodeMainFields });
// llama.cpp evaluation process: node-llama-cpp is ESM with native binaries, loaded by dynamic import() at run time.
if (existsSync('src/worker/llamaEval.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/worker/llamaEval.ts'], outfile: 'dist/llamaEval.js', external: [...nodeExternal, 'node-llama-cpp'], mainFields: nodeMainFields });
if (existsSync('webview/main.ts')) builds.push({ ...common, platform: 'browser', format: 'iife', target: 'es2022', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js' });

const results = await Promise.all(builds.map((b) => esbuild.build(b)));
// Which npm packages each bundle contains (from esbuild's metafile): scripts/notices.mjs writes their licenses into
// THIRD_PARTY_NOTICES.md for the .vsix.
const bundled = {};
for (const [i, r] of results.entries()) {
  const names = new Set();
  for (const input of Object.keys(r.metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
    if (m) names.add(m[1]);
  }
  bundled[builds[i].outfile] = [...names].sort();
}
writeFileSync('dist/bundled-packages.json', `${JSON.stringify(bundled, null, 2)}\n`);
// The `bin` entry must be executable: npm links it for `npx precision-lens`, but never chmods the root package's own bin.
chmodSync('dist/cli.js', 0o755);
