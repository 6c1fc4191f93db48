/**
 * The .vsix is ready for the Marketplace (issue 11): the file list vsce packages (`vsce ls` with the ignore file and
 * README that scripts/package.mjs passes) holds LICENSE, ThirdPartyNotices.txt, CHANGELOG.md, the icon, the
 * screenshots the Marketplace README shows, and the bundles — and no sources, tests or developer README; the manifest
 * names license, icon and repository; the notices are current for what esbuild bundled and what is shipped.
 * Needs the build (dist/, dist/bundled-packages.json), which `npm test` runs first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../..');
const read = (rel: string): string => readFileSync(path.join(REPO, rel), 'utf8');

interface Packaging {
  MARKETPLACE_README: string;
  vscodeignoreFor(target: string | undefined): { text: string; warning?: string };
}
interface Notices {
  NOTICES_FILE: string;
  noticesText(root?: string, options?: { universal?: boolean }): string;
  shippedPackages(): string[];
  bundledPackages(): Record<string, string[]>;
  shippedBundles(): string[];
}
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
  const inVsix = new Set([...Object.entries(bundled).filter(([out]) => bundles.includes(out)).flatMap(([, names]) => names), ...n.shippedPackages()]);
  for (const name of ['onnxruntime-node', 'onnxruntime-common', 'chart.js', '@vscode-elements/elements', 'protobufjs', 'jsonc-parser']) assert.ok(inVsix.has(name), `${name} is in the .vsix`);
  for (const name of inVsix) assert.match(text, new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\d+\\.\\d+\\.\\d+\\S*\\nLicense: \\S+`, 'm'), `${name} has an entry`);
  assert.match(text, /^--- onnxruntime LICENSE ---\nMIT License\n\nCopyright \(c\) 2018 - present Microsoft Corporation/m);
  assert.match(text, /ThirdPartyNotices\.txt for this version: https:\/\/github\.com\/microsoft\/onnxruntime\/blob\/v\d/);
});

test('the universal package (no node_modules) lists no onnxruntime; every bundled package keeps its entry', async () => {
  const n = await notices();
  const platform = n.noticesText();
  const universal = n.noticesText(undefined, { universal: true });
  const entries = (text: string): string[] => [...text.matchAll(/^(\S+) \d+\.\d+\.\d+\S*\nLicense: /gm)].map((m) => m[1]!);
  assert.deepEqual(entries(universal).filter((e) => /onnxruntime/.test(e)), []);
  assert.doesNotMatch(universal, /onnxruntime/i);
  assert.ok(entries(platform).includes('onnxruntime-node') && entries(platform).includes('onnxruntime-common'));
  const shipped = new Set(n.shippedPackages());
  const bundledOnly = entries(platform).filter((e) => !shipped.has(e));
  assert.deepEqual(entries(universal), bundledOnly);
  const { vscodeignoreFor } = await packaging();
  assert.match(vscodeignoreFor(undefined).text, /^node_modules\/\*\*$/m, 'the universal package ships no node_modules');
});

test('vsce ls (the linux-x64 package): LICENSE, notices, CHANGELOG, icon, screenshots, bundles, one ORT platform; no sources', async () => {
  const { MARKETPLACE_README, vscodeignoreFor } = await packaging();
  for (const f of ['dist/extension.js', 'dist/webview.js']) assert.ok(existsSync(path.join(REPO, f)), `${f} is missing: run \`npm run build\``);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-vsix-'));
  try {
    const ignoreFile = path.join(dir, 'vscodeignore');
    writeFileSync(ignoreFile, vscodeignoreFor('linux-x64').text);
    const out = execFileSync(process.execPath, [path.join(REPO, 'node_modules/@vscode/vsce/vsce'), 'ls', '--ignoreFile', ignoreFile, '--readme-path', MARKETPLACE_README], { cwd: REPO, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    const files = new Set(out.split('\n').map((l) => l.trim()).filter(Boolean));
    const shots = images(read(MARKETPLACE_README));
    for (const f of ['LICENSE', 'ThirdPartyNotices.txt', 'CHANGELOG.md', 'media/icon.png', 'package.json', 'package.nls.json', 'dist/extension.js', 'dist/worker.js', 'dist/hostTasks.js', 'dist/webview.js', 'schemas/precision-plan.schema.json', 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node', ...shots]) {
      assert.ok(files.has(f), `${f} is packaged`);
    }
    const unwanted = [...files].filter((f) => /^(src|test|webview|scripts|bench|\.ci)\/|^README\.md$|\.map$|\.ts$|napi-v6\/(win32|darwin|linux\/arm64)\//.test(f));
    assert.deepEqual(unwanted, [], 'no sources, tests, source maps, developer README or other platforms\' binaries');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
