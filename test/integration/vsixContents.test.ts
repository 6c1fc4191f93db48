/**
 * The .vsix is ready for the Marketplace (issue 11): the file list vsce packages (`vsce ls` with the ignore file and
 * README that scripts/package.mjs passes) holds LICENSE, ThirdPartyNotices.txt, CHANGELOG.md, the icon, the
 * screenshots the Marketplace README shows, and the bundles — and no sources, tests or developer README; llama.cpp
 * (issue 10) with only its linux-x64 CPU binaries (no CUDA, Vulkan or Metal); the manifest names license, icon and
 * repository; the notices are current for what esbuild bundled and what is shipped, with llama.cpp's own licenses.
 * Needs the build (dist/, dist/bundled-packages.json), which `npm test` runs first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LLAMA_CPP_PACKAGE, llamaCppCpuPackage } from '../../src/node/taskClient';

const REPO = path.resolve(__dirname, '../..');
const read = (rel: string): string => readFileSync(path.join(REPO, rel), 'utf8');

interface Packaging {
  MARKETPLACE_README: string;
  llamaCppBinaryPackage(target: string | undefined): string | undefined;
  vscodeignoreFor(target: string | undefined): { text: string; warning?: string };
}
interface Notices {
  NOTICES_FILE: string;
  noticesText(root?: string, options?: { universal?: boolean; target?: string }): string;
  /** `target` null: the universal package. */
  shippedPackages(root?: string, target?: string | null): string[];
  /** Per bundle, the folders of the packages it contains (node_modules/<name>, or nested). */
  bundledPackages(): Record<string, string[]>;
  shippedBundles(root?: string, target?: string | null): string[];
  packageName(dir: string): string;
}
/** The llama.cpp binding's package and its linux-x64 CPU binaries package (named once, in the sources). */
const LLAMA = LLAMA_CPP_PACKAGE;
const LLAMA_BIN = llamaCppCpuPackage('linux-x64')!;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const packaging = (): Promise<Packaging> => import(path.join(REPO, 'scripts/packaging.mjs')) as Promise<Packaging>;
const notices = (): Promise<Notices> => import(path.join(REPO, 'scripts/notices.mjs')) as Promise<Notices>;

/** Images a markdown file shows: `![alt](path)` with a relative path. */
function images(markdown: string): string[] {
  return [...markdown.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((p) => !/^https?:/.test(p));
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file} is a PNG`);
  assert.equal(b.toString('ascii', 12, 16), 'IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

test('manifest: MIT license with its LICENSE text, a 128x128 PNG icon, repository, Marketplace README with screenshots', async () => {
  const pkg = JSON.parse(read('package.json')) as { license: string; icon: string; repository: { url: string }; publisher: string };
  assert.equal(pkg.license, 'MIT');
  assert.match(read('LICENSE'), /^MIT License\n\nCopyright \(c\) \d{4} /);
  assert.deepEqual(pngSize(path.join(REPO, pkg.icon)), { width: 128, height: 128 });
  assert.match(pkg.repository.url, /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/);
  assert.match(read('CHANGELOG.md'), /^# Changelog\n[\s\S]*## \d+\.\d+\.\d+/);
  const { MARKETPLACE_README } = await packaging();
  const readme = read(MARKETPLACE_README);
  const shots = images(readme);
  for (const want of ['inspector', 'plan-lenses']) assert.ok(shots.some((s) => s.includes(want)), `${MARKETPLACE_README} shows a ${want} screenshot`);
  for (const s of shots) assert.ok(pngSize(path.join(REPO, s)).width >= 800, `${s} is a readable screenshot`);
  assert.doesNotMatch(readme, /npm (test|install|run)|\.\.\/shared|test\/unit/, 'the Marketplace README is for users, not developers');
});

test('ThirdPartyNotices.txt is current: every bundled and shipped package with its license text', async () => {
  const n = await notices();
  const text = read(n.NOTICES_FILE);
  assert.equal(text, n.noticesText(), `${n.NOTICES_FILE} is out of date: run \`npm run notices\``);
  const bundled = n.bundledPackages();
  const bundles = n.shippedBundles();
  assert.ok(bundles.includes('dist/extension.js') && bundles.includes('dist/webview.js'), JSON.stringify(bundles));
  assert.ok(bundles.includes('dist/llama-cpp/index.mjs') && bundles.includes('dist/llama-cpp/testBindingBinary.mjs'), 'the linux-x64 package ships llama.cpp');
  const bundledDirs = Object.entries(bundled).filter(([out]) => bundles.includes(out)).flatMap(([, dirs]) => dirs);
  const inVsix = new Set([...bundledDirs.map(n.packageName), ...n.shippedPackages()]);
  assert.equal((await packaging()).llamaCppBinaryPackage('linux-x64'), LLAMA_BIN, 'packaging and the task client name the same CPU package');
  for (const name of ['onnxruntime-node', 'onnxruntime-common', 'chart.js', '@vscode-elements/elements', 'protobufjs', 'jsonc-parser', LLAMA, LLAMA_BIN, 'ipull', 'simple-git']) assert.ok(inVsix.has(name), `${name} is in the .vsix`);
  for (const name of inVsix) assert.match(text, new RegExp(`^${escape(name)} \\d+\\.\\d+\\.\\d+\\S*\\nLicense: \\S+`, 'm'), `${name} has an entry`);
  // A nested copy of another version (e.g. the binding's own chalk or ansi-styles) has its own entry.
  for (const dir of bundledDirs) {
    const pkg = JSON.parse(read(`${dir}/package.json`)) as { name: string; version: string };
    assert.match(text, new RegExp(`^${escape(pkg.name)} ${escape(pkg.version)}\\nLicense: `, 'm'), `${dir} (${pkg.version}) has an entry`);
  }
  // llama.cpp/ggml and the libraries built into the CPU binaries, under the binaries package's entry.
  const start = text.indexOf(`\n${LLAMA_BIN} `);
  assert.ok(start >= 0, `${LLAMA_BIN} has an entry`);
  const binaries = text.slice(start, text.indexOf('\n' + '='.repeat(100), start));
  assert.match(binaries, /^--- llama\.cpp and ggml LICENSE ---\nMIT License\n\nCopyright \(c\) 2023-\d{4} The ggml authors/m);
  assert.match(binaries, /^--- nlohmann\/json LICENSE[^\n]*---\nMIT License\n\nCopyright \(c\) 2013-\d{4} Niels Lohmann/m);
  assert.match(binaries, /^--- cpp-httplib LICENSE[^\n]*---\nThe MIT License \(MIT\)\n\nCopyright \(c\) 2017 yhirose/m);
  assert.match(text, /^--- onnxruntime LICENSE ---\nMIT License\n\nCopyright \(c\) 2018 - present Microsoft Corporation/m);
  assert.match(text, /ThirdPartyNotices\.txt for this version: https:\/\/github\.com\/microsoft\/onnxruntime\/blob\/v\d/);
});

test('the universal package (no node_modules, no llama.cpp) lists no onnxruntime or llama.cpp; its bundles keep their entries', async () => {
  const n = await notices();
  const platform = n.noticesText();
  const universal = n.noticesText(undefined, { universal: true });
  const entries = (text: string): string[] => [...text.matchAll(/^(\S+) \d+\.\d+\.\d+\S*\nLicense: /gm)].map((m) => m[1]!);
  assert.deepEqual(entries(universal).filter((e) => /onnxruntime|llama/.test(e)), []);
  assert.doesNotMatch(universal, new RegExp(`onnxruntime|${escape(LLAMA)}|ggml`, 'i'));
  for (const e of ['onnxruntime-node', 'onnxruntime-common', LLAMA, LLAMA_BIN]) assert.ok(entries(platform).includes(e), e);
  const universalBundles = n.shippedBundles(undefined, null);
  assert.ok(!universalBundles.some((b) => b.startsWith('dist/llama-cpp/')), 'the universal package ships no llama.cpp bundle');
  const expected = [...new Set(Object.entries(n.bundledPackages()).filter(([out]) => universalBundles.includes(out)).flatMap(([, dirs]) => dirs.map((d) => JSON.parse(read(`${d}/package.json`)) as { name: string; version: string }).map((p) => `${p.name} ${p.version}`)))].sort();
  assert.deepEqual([...universal.matchAll(/^(\S+ \d+\.\d+\.\d+\S*)\nLicense: /gm)].map((m) => m[1]!), expected);
  const { vscodeignoreFor } = await packaging();
  assert.match(vscodeignoreFor(undefined).text, /^node_modules\/\*\*$/m, 'the universal package ships no node_modules');
  assert.doesNotMatch(vscodeignoreFor(undefined).text, /^!.*llama/m, 'no llama.cpp file is whitelisted');
});

test('vsce ls (the linux-x64 package): LICENSE, notices, CHANGELOG, icon, screenshots, bundles, one ORT and llama.cpp CPU platform; no sources', async () => {
  const { MARKETPLACE_README, vscodeignoreFor } = await packaging();
  for (const f of ['dist/extension.js', 'dist/webview.js']) assert.ok(existsSync(path.join(REPO, f)), `${f} is missing: run \`npm run build\``);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-vsix-'));
  try {
    const ignoreFile = path.join(dir, 'vscodeignore');
    writeFileSync(ignoreFile, vscodeignoreFor('linux-x64').text);
    const out = execFileSync(process.execPath, [path.join(REPO, 'node_modules/@vscode/vsce/vsce'), 'ls', '--ignoreFile', ignoreFile, '--readme-path', MARKETPLACE_README], { cwd: REPO, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    const files = new Set(out.split('\n').map((l) => l.trim()).filter(Boolean));
    const shots = images(read(MARKETPLACE_README));
    const llamaCpp = ['dist/llamaEval.js', 'dist/llama-cpp/index.mjs', 'dist/llama-cpp/testBindingBinary.mjs', `node_modules/${LLAMA}/package.json`, `node_modules/${LLAMA}/llama/llama.cpp.info.json`, `node_modules/${LLAMA}/llama/binariesGithubRelease.json`, `node_modules/${LLAMA_BIN}/package.json`, `node_modules/${LLAMA_BIN}/dist/index.js`, `node_modules/${LLAMA_BIN}/bins/linux-x64/llama-addon.node`, `node_modules/${LLAMA_BIN}/bins/linux-x64/_nlcBuildMetadata.json`];
    for (const f of ['LICENSE', 'ThirdPartyNotices.txt', 'CHANGELOG.md', 'media/icon.png', 'package.json', 'package.nls.json', 'dist/extension.js', 'dist/worker.js', 'dist/hostTasks.js', 'dist/webview.js', 'schemas/precision-plan.schema.json', 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node', ...llamaCpp, ...shots]) {
      assert.ok(files.has(f), `${f} is packaged`);
    }
    const unwanted = [...files].filter((f) => /^(src|test|webview|scripts|bench|\.ci)\/|^README\.md$|\.map$|\.ts$|napi-v6\/(win32|darwin|linux\/arm64)\//.test(f));
    assert.deepEqual(unwanted, [], 'no sources, tests, source maps, developer README or other platforms\' binaries');
    // llama.cpp: only the CPU build for linux-x64; the binding's own JavaScript, sources and git bundle stay out.
    const scope = LLAMA_BIN.slice(0, LLAMA_BIN.indexOf('/'));
    const otherBuilds = new RegExp(`cuda|vulkan|metal|^node_modules/${escape(scope)}/(?!linux-x64/)`, 'i');
    const bindingFiles = new RegExp(`^node_modules/${escape(LLAMA)}/(?!package\\.json$|LICENSE$|llama/llama\\.cpp\\.info\\.json$|llama/binariesGithubRelease\\.json$)`);
    assert.deepEqual([...files].filter((f) => otherBuilds.test(f) || bindingFiles.test(f)), [], 'no CUDA, Vulkan or Metal binaries, no other platform, nothing of the binding but its data');
    const shippedAsFiles = new RegExp(`^node_modules/(onnxruntime-node|onnxruntime-common|${escape(LLAMA)}|${escape(LLAMA_BIN)})/`);
    assert.deepEqual([...files].filter((f) => f.startsWith('node_modules/') && !shippedAsFiles.test(f)), [], 'no other package shipped as files');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
