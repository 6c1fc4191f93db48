#!/usr/bin/env node
// Writes ThirdPartyNotices.txt: the license of every npm package the .vsix contains, with the license text taken from
// the package in node_modules (LICENSE*/LICENCE*/COPYING*, and NOTICE* where Apache-2.0 asks for it).
//   - packages bundled by esbuild into dist/*.js: from dist/bundled-packages.json, which esbuild.mjs writes from
//     esbuild's metafile (so the list follows the imports, not a hand-kept list);
//   - packages shipped as files: the `!node_modules/<name>/…` lines of .vscodeignore (onnxruntime-node and
//     onnxruntime-common). Their npm packages carry no license file; the text is onnxruntime's LICENSE, kept in
//     scripts/licenses/onnxruntime.LICENSE, and the native library's own third-party notices are referenced.
// Usage: node scripts/notices.mjs [--check] [--universal]
//   --check      exit 1 if the committed file is not what would be written;
//   --universal  the notices of the universal package, which ships no node_modules (so no onnxruntime).
// The committed file is the platform packages' (with onnxruntime). `npm run package` writes the one for the package
// it builds (and restores the committed one after a universal build); test/unit/vsixContents.test.ts runs --check's
// comparison. If scripts/licenses/onnxruntime-<version>.ThirdPartyNotices.txt exists for the installed
// onnxruntime-node version, it is included verbatim (onnxruntime's own notices for its native library).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NOTICES_FILE = 'ThirdPartyNotices.txt';

/** Packages shipped as files (not bundled): the names whitelisted under node_modules/ in .vscodeignore. */
export function shippedPackages(root = repo) {
  const names = new Set();
  for (const line of readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n')) {
    const m = /^!node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line.trim());
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

/** The bundles the .vsix ships: the `!dist/<file>.js` lines of .vscodeignore. */
export function shippedBundles(root = repo) {
  return readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n').map((l) => /^!(dist\/[^*]+\.js)$/.exec(l.trim())?.[1]).filter(Boolean);
}

/** Bundled packages per output file, from dist/bundled-packages.json (written by esbuild.mjs). */
export function bundledPackages(root = repo) {
  const file = path.join(root, 'dist/bundled-packages.json');
  if (!existsSync(file)) throw new Error(`${path.relative(process.cwd(), file)} is missing: run \`npm run build\` first.`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

function licenseTexts(dir) {
  const files = readdirSync(dir).filter((f) => /^(licen[cs]e|copying|notice)([.-].*)?$/i.test(f)).sort();
  return files.map((f) => ({ file: f, text: readFileSync(path.join(dir, f), 'utf8').replace(/\r\n/g, '\n').trim() }));
}

/**
 * The notices text for the bundled and shipped packages. `universal`: the universal package, whose ignore file
 * drops node_modules/** (scripts/packaging.mjs), so no package is shipped as files and only bundled ones are listed.
 */
export function noticesText(root = repo, { universal = false } = {}) {
  const bundled = bundledPackages(root);
  const usedIn = new Map();
  const shipped = new Set(shippedBundles(root));
  for (const [out, names] of Object.entries(bundled)) {
    // Only bundles the .vsix ships (not the CLI's, nor other tools' bundles).
    if (!shipped.has(out)) continue;
    for (const n of names) usedIn.set(n, [...(usedIn.get(n) ?? []), `bundled in ${out}`]);
  }
  if (!universal) for (const n of shippedPackages(root)) usedIn.set(n, [...(usedIn.get(n) ?? []), `shipped in node_modules/${n}`]);
  const sections = [];
  for (const name of [...usedIn.keys()].sort()) {
    const dir = path.join(root, 'node_modules', name);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
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
    if (!texts.length) throw new Error(`${name}@${pkg.version}: no LICENSE/COPYING/NOTICE file in node_modules/${name}; add its text under scripts/licenses/.`);
    sections.push([
      `${name} ${pkg.version}`,
      `License: ${license}`,
      ...(repoUrl ? [`Source: ${repoUrl.replace(/^git\+/, '')}`] : []),
      `Used: ${usedIn.get(name).join('; ')}`,
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
  const text = noticesText(repo, { universal: process.argv.includes('--universal') });
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
