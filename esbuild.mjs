// One build per bundle: CLI (node/cjs), extension host (node/cjs, external vscode), analysis worker (node/cjs),
// webview (browser/iife). Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', target: 'node20' };
// Native/optional modules stay external: onnxruntime-node loads its .node binary from node_modules.
const nodeExternal = ['vscode', 'onnxruntime-node'];

const builds = [
  { ...common, platform: 'node', format: 'cjs', entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' }, external: nodeExternal },
];
if (existsSync('src/host/extension.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/host/extension.ts'], outfile: 'dist/extension.js', external: nodeExternal });
if (existsSync('src/worker/analysis.ts')) builds.push({ ...common, platform: 'node', format: 'cjs', entryPoints: ['src/worker/analysis.ts'], outfile: 'dist/worker.js', external: nodeExternal });
if (existsSync('webview/main.ts')) builds.push({ ...common, platform: 'browser', format: 'iife', target: 'es2022', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js' });

await Promise.all(builds.map((b) => esbuild.build(b)));
