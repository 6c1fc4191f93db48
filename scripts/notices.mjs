#!/usr/bin/env node
// Writes ThirdPartyNotices.txt: the license of every npm package the .vsix contains, with the license text taken from
// the package in node_modules (LICENSE*/LICENCE*/COPYING*, and NOTICE* where Apache-2.0 asks for it).
//   - packages bundled by esbuild into dist/*.js and dist/llama-cpp/*.mjs: from dist/bundled-packages.json, which
//     esbuild.mjs writes from esbuild's metafile (so the list follows the imports, not a hand-kept list), one entry
//     per package name and version (a nested copy of another version gets its own entry);
//   - packages shipped as files: the `!node_modules/<name>/…` lines of the package's ignore file (.vscodeignore plus
//     what scripts/packaging.mjs adds per target): onnxruntime-node and onnxruntime-common, whose npm packages carry
//     no license file (the text is onnxruntime's LICENSE, kept in scripts/licenses/onnxruntime.LICENSE, and the
//     native library's own third-party notices are referenced), node-llama-cpp's package data and its CPU binaries
//     package @node-llama-cpp/<platform>, whose entry adds the licenses of llama.cpp/ggml, nlohmann/json and
//     cpp-httplib built into those binaries (scripts/licenses/llama.cpp*.LICENSE, from the llama.cpp source that
//     node-llama-cpp ships in llama/gitRelease.bundle).
// Usage: node scripts/notices.mjs [--check] [--universal | --target T]
//   --check      exit 1 if the committed file is not what would be written;
//   --universal  the notices of the universal package, which ships no node_modules and no llama.cpp (so no
//                onnxruntime and no node-llama-cpp);
//   --target T   the notices of the platform package for vsce target T (default linux-x64, the committed file).
// The committed file is the linux-x64 platform package's. `npm run package` writes the one for the package it builds
// (and restores the committed one after any other build); test/integration/vsixContents.test.ts runs --check's
// comparison. If scripts/licenses/onnxruntime-<version>.ThirdPartyNotices.txt exists for the installed
// onnxruntime-node version, it is included verbatim (onnxruntime's own notices for its native library).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { llamaCppBinaryPackage, vscodeignoreFor } from './packaging.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NOTICES_FILE = 'ThirdPartyNotices.txt';
/** The target whose notices are committed (the platform package CI builds and tests). */
export const NOTICES_TARGET = 'linux-x64';

/** The ignore-file lines of the package for `target` (null: the universal package). */
function ignoreLines(target) {
  return vscodeignoreFor(target ?? undefined).text.split('\n').map((l) => l.trim());
}

/** Packages shipped as files (not bundled): the names whitelisted under node_modules/ for `target`; none if universal (null). */
export function shippedPackages(root = repo, target = NOTICES_TARGET) {
  if (target === null) return [];
  const names = new Set();
  for (const line of ignoreLines(target)) {
    const m = /^!node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

/** The bundles the .vsix for `target` ships: its `!dist/<file>.js` / `.mjs` lines (null: universal). */
export function shippedBundles(root = repo, target = NOTICES_TARGET) {
  return ignoreLines(target).map((l) => /^!(dist\/[^*]+\.m?js)$/.exec(l)?.[1]).filter(Boolean);
}

/**
 * Bundled packages per output file, from dist/bundled-packages.json (written by esbuild.mjs): each package as its
 * folder relative to the repository, e.g. node_modules/chart.js or node_modules/ipull/node_modules/chalk.
 */
export function bundledPackages(root = repo) {
  const file = path.join(root, 'dist/bundled-packages.json');
  if (!existsSync(file)) throw new Error(`${path.relative(process.cwd(), file)} is missing: run \`npm run build\` first.`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The npm package name of a folder under node_modules (the part after the last node_modules/). */
export function packageName(dir) {
  return dir.slice(dir.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

/** License texts kept under scripts/licenses/ for packages whose npm package has no license file (MIT per package.json). */
const KEPT_LICENSES = new Map([
  ['simple-git', { file: 'simple-git.LICENSE', source: 'https://github.com/steveukx/git-js' }],
  ['@simple-git/argv-parser', { file: 'simple-git.LICENSE', source: 'https://github.com/steveukx/git-js' }],
]);

/** The license texts kept under scripts/licenses/ for llama.cpp and the libraries built into its binaries. */
function llamaCppTexts(root, binaryDir) {
  const info = JSON.parse(readFileSync(path.join(repo, 'node_modules/node-llama-cpp/llama/llama.cpp.info.json'), 'utf8'));
  const lib = (file, title) => ({ file: title, text: readFileSync(path.join(repo, 'scripts/licenses', file), 'utf8').replace(/\r\n/g, '\n').trim() });
  return {
    extra: [
      `Its native binaries (${path.relative(root, binaryDir).split(path.sep).join('/')}/bins/…: llama-addon.node, libllama, libllama-common, libggml*) are built from llama.cpp release ${info.tag ?? '(unknown)'} (https://github.com/${info.llamaCppGithubRepo ?? 'ggml-org/llama.cpp'}), which includes ggml; libllama-common also contains nlohmann/json and cpp-httplib. Their license texts follow the package's own (from the llama.cpp source node-llama-cpp ships in llama/gitRelease.bundle).`,
    ],
    texts: [
      lib('llama.cpp.LICENSE', 'llama.cpp and ggml LICENSE'),
      lib('llama.cpp.nlohmann-json.LICENSE', 'nlohmann/json LICENSE (llama.cpp licenses/LICENSE-jsonhpp)'),
      lib('llama.cpp.cpp-httplib.LICENSE', 'cpp-httplib LICENSE (llama.cpp vendor/cpp-httplib/LICENSE)'),
    ],
  };
}

function licenseTexts(dir) {
  const files = readdirSync(dir).filter((f) => /^(licen[cs]e|copying|notice)([.-].*)?$/i.test(f)).sort();
  return files.map((f) => ({ file: f, text: readFileSync(path.join(dir, f), 'utf8').replace(/\r\n/g, '\n').trim() }));
}

/**
 * The notices text for the bundled and shipped packages of the package for `target` (default: the committed file's,
 * linux-x64). `universal`: the universal package, whose ignore file drops node_modules/** and the llama.cpp bundles
 * (scripts/packaging.mjs), so only packages bundled into its bundles are listed.
 */
export function noticesText(root = repo, { universal = false, target = NOTICES_TARGET } = {}) {
  const forTarget = universal ? null : target;
  const bundled = bundledPackages(root);
  // One entry per package name and version; a package folder may be bundled into several files.
  const entries = new Map();
  const use = (dir, how) => {
    const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
    const key = `${pkg.name} ${pkg.version}`;
    const entry = entries.get(key) ?? { name: pkg.name, dir, pkg, used: [] };
    if (!entry.used.includes(how)) entry.used.push(how);
    entries.set(key, entry);
  };
  const shipped = new Set(shippedBundles(root, forTarget));
  for (const [out, dirs] of Object.entries(bundled)) {
    // Only bundles the .vsix ships (not the CLI's, nor other tools' bundles).
    if (!shipped.has(out)) continue;
    for (const dir of dirs) use(dir, `bundled in ${out}`);
  }
  for (const n of shippedPackages(root, forTarget)) use(`node_modules/${n}`, `shipped in node_modules/${n}`);
  const llamaBinary = llamaCppBinaryPackage(forTarget ?? undefined);
  const sections = [];
  const order = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, { name, dir: rel, pkg, used }] of order) {
    const dir = path.join(root, rel);
    const license = typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? 'see text');
    const repoUrl = typeof pkg.repository === 'string' ? pkg.repository : (pkg.repository?.url ?? pkg.homepage ?? '');
    let texts = licenseTexts(dir);
    const extra = [];
    if (!texts.length && name.startsWith('onnxruntime-')) {
      texts = [{ file: 'onnxruntime LICENSE', text: readFileSync(path.join(repo, 'scripts/licenses/onnxruntime.LICENSE'), 'utf8').trim() }];
      extra.push(`The npm package has no license file; the text below is onnxruntime's LICENSE (package.json: ${license}).`);
      if (name === 'onnxruntime-node') {
        extra.push(`Its native library (bin/napi-v6/…/libonnxruntime, onnxruntime.dll …) incorporates third-party components; their notices are onnxruntime's ThirdPartyNotices.txt for this version: https://github.com/microsoft/onnxruntime/blob/v${pkg.version}/ThirdPartyNotices.txt`);
        const ortNotices = path.join(repo, `scripts/licenses/onnxruntime-${pkg.version}.ThirdPartyNotices.txt`);
        if (existsSync(ortNotices)) texts.push({ file: `onnxruntime ThirdPartyNotices.txt (v${pkg.version})`, text: readFileSync(ortNotices, 'utf8').replace(/\r\n/g, '\n').trim() });
      }
    }
    const kept = KEPT_LICENSES.get(name);
    if (!texts.length && kept) {
      texts = [{ file: `${kept.source} LICENSE`, text: readFileSync(path.join(repo, 'scripts/licenses', kept.file), 'utf8').trim() }];
      extra.push(`The npm package has no license file; the text below is the LICENSE of its source repository, ${kept.source} (package.json: ${license}).`);
    }
    if (name === llamaBinary) {
      const l = llamaCppTexts(root, dir);
      extra.push(...l.extra);
      texts = [...texts, ...l.texts];
    }
    if (!texts.length) throw new Error(`${key}: no LICENSE/COPYING/NOTICE file in ${rel}; add its text under scripts/licenses/.`);
    sections.push([
      key,
      `License: ${license}`,
      ...(repoUrl ? [`Source: ${repoUrl.replace(/^git\+/, '')}`] : []),
      `Used: ${used.join('; ')}`,
      ...extra,
      '',
      ...texts.flatMap((t) => [`--- ${t.file} ---`, t.text, '']),
    ].join('\n'));
  }
  return [
    'THIRD-PARTY SOFTWARE NOTICES',
    '',
    'Precision Lens (MIT, see LICENSE) includes the following third-party software in its .vsix. Each entry names the',
    'package, its version and license, where it is used, and the license text from the package as installed by npm.',
    'Generated by scripts/notices.mjs; do not edit.',
    '',
    ...sections.map((s) => `${'='.repeat(100)}\n${s}`),
  ].join('\n').trimEnd() + '\n';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const targetArg = process.argv.indexOf('--target');
  const target = targetArg >= 0 ? process.argv[targetArg + 1] : NOTICES_TARGET;
  const text = noticesText(repo, { universal: process.argv.includes('--universal'), target });
  const file = path.join(repo, NOTICES_FILE);
  if (process.argv.includes('--check')) {
    const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (current !== text) {
      console.error(`${NOTICES_FILE} is out of date: run \`npm run notices\`.`);
      process.exit(1);
    }
  } else {
    writeFileSync(file, text);
    console.log(`notices: ${NOTICES_FILE} (${text.split('\n=').length - 1} packages)`);
  }
}
