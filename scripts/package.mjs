#!/usr/bin/env node
// Builds the production bundles and packages the extension as a .vsix with @vscode/vsce.
//
// Usage: npm run package [-- --target linux-x64 | --universal] [--out file.vsix]
//   default      a platform-specific package for this machine (e.g. precision-lens-linux-x64-0.1.0.vsix) that ships
//                onnxruntime-node's binaries for that platform only (~20 MB instead of ~290 MB for all five) and
//                llama.cpp: node-llama-cpp bundled into dist/llama-cpp/ and its CPU binaries for that platform
//                (@node-llama-cpp/<platform>; ~11 MB);
//   --target T   the same for another vsce target (win32-x64, darwin-arm64, linux-arm64 …);
//   --universal  no ONNX Runtime and no llama.cpp at all: viewing, estimates and plans work; Measure Sensitivity
//                and Apply Plan say that the runtime is missing.
// vsce runs on the Node that runs this script (@vscode/vsce 3.9 declares Node >= 20; checked on Node 20.20).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MARKETPLACE_README, vscodeignoreFor } from './packaging.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const universal = args.includes('--universal');
const hostTarget = `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`;
const target = universal ? undefined : (opt('--target') ?? hostTarget);
const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));
const out = path.resolve(opt('--out') ?? path.join(repo, `${pkg.name}-${target ?? 'universal'}-${pkg.version}.vsix`));

const run = (cmd, argv, extra = {}) => {
  const r = spawnSync(cmd, argv, { cwd: repo, stdio: 'inherit', ...extra });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run(process.execPath, ['esbuild.mjs', '--production']);
// ThirdPartyNotices.txt from the packages the production bundles contain (esbuild's metafile) and those shipped;
// the universal package ships no node_modules and no llama.cpp, so its notices list neither. The committed file is
// the linux-x64 package's; any other package's is restored after packaging.
const committedNotices = !universal && target === 'linux-x64';
run(process.execPath, ['scripts/notices.mjs', ...(universal ? ['--universal'] : ['--target', target])]);

// The ignore file: .vscodeignore plus, per target, the ONNX Runtime folders of every other platform.
const { text: ignore, warning } = vscodeignoreFor(target);
if (warning) console.warn(`package: ${warning}`);
mkdirSync(path.join(repo, '.tmp'), { recursive: true });
const ignoreFile = path.join(repo, '.tmp', `vscodeignore-${target ?? 'universal'}`);
writeFileSync(ignoreFile, ignore);

// The Marketplace page is README.marketplace.md (user-facing); vsce rewrites its relative image links to the
// repository's raw URLs.
const vsceArgs = [path.join(repo, 'node_modules/@vscode/vsce/vsce'), 'package', '--ignoreFile', ignoreFile, '--out', out, '--readme-path', MARKETPLACE_README];
if (target) vsceArgs.push('--target', target);
const vsce = spawnSync(process.execPath, vsceArgs, { cwd: repo, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'inherit', 'inherit'] });
if (!committedNotices) run(process.execPath, ['scripts/notices.mjs']);
if (vsce.status !== 0) process.exit(vsce.status ?? 1);
console.log(`package: ${path.relative(process.cwd(), out)}`);
