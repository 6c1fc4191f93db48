// What goes into the .vsix, shared by scripts/package.mjs and test/integration/vsixContents.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';

/** The Marketplace page (user-facing), passed to vsce as --readme-path; the developer README.md is not shipped. */
export const MARKETPLACE_README = 'README.marketplace.md';

/**
 * node-llama-cpp's prebuilt CPU binaries package per vsce target (the one getLlama({ gpu: false }) loads; no CUDA,
 * Vulkan or Metal package is ever shipped). darwin-arm64 has only a Metal build, so no GGUF runs there.
 */
const LLAMA_CPP_CPU_PACKAGES = new Map([
  ['linux-x64', '@node-llama-cpp/linux-x64'],
  ['linux-arm64', '@node-llama-cpp/linux-arm64'],
  ['linux-armhf', '@node-llama-cpp/linux-armv7l'],
  ['darwin-x64', '@node-llama-cpp/mac-x64'],
  ['win32-x64', '@node-llama-cpp/win-x64'],
  ['win32-arm64', '@node-llama-cpp/win-arm64'],
]);

/** The @node-llama-cpp/<platform> package the platform .vsix for `target` ships, or undefined. */
export function llamaCppBinaryPackage(target) {
  return target === undefined ? undefined : LLAMA_CPP_CPU_PACKAGES.get(target);
}

/**
 * The ignore-file lines that ship llama.cpp for `target`: the evaluation process (dist/llamaEval.js);
 * node-llama-cpp's JavaScript is bundled into
 * dist/llama-cpp/*.mjs (esbuild.mjs), which read node-llama-cpp's package.json and llama/*.json from the package
 * folder; the native binaries are the CPU package's bins/. Empty (with a warning) when that package is not installed.
 */
function llamaCppLines(target) {
  const name = llamaCppBinaryPackage(target);
  if (!name || !existsSync(path.join(repo, 'node_modules', name, 'package.json'))) {
    return { lines: [], warning: `no llama.cpp CPU binary for ${target}${name ? ` (${name} is not installed)` : ''}; GGUF measurement and verification will be unavailable.` };
  }
  return {
    lines: [
      '!dist/llamaEval.js',
      '!dist/llama-cpp/index.mjs',
      '!dist/llama-cpp/testBindingBinary.mjs',
      '!node_modules/node-llama-cpp/package.json',
      '!node_modules/node-llama-cpp/LICENSE',
      '!node_modules/node-llama-cpp/llama/binariesGithubRelease.json',
      '!node_modules/node-llama-cpp/llama/llama.cpp.info.json',
      `!node_modules/${name}/package.json`,
      `!node_modules/${name}/LICENSE`,
      `!node_modules/${name}/dist/*.js`,
      `!node_modules/${name}/bins/**`,
    ],
  };
}

/**
 * The ignore file for one vsce target (e.g. 'linux-x64'), or for the universal package (target undefined): the
 * .vscodeignore whitelist with only that platform's ONNX Runtime and llama.cpp CPU binaries, or none. Returns the
 * text and a warning when onnxruntime-node or node-llama-cpp has no binary for the target.
 */
export function vscodeignoreFor(target) {
  let ignore = readFileSync(path.join(repo, '.vscodeignore'), 'utf8');
  // vsce applies negations regardless of order, so drop the all-platforms line and add back one platform.
  ignore = ignore.replace(`!${ORT_BIN.replace('/napi-v6', '')}/**`, '');
  if (target === undefined) return { text: `${ignore}\nnode_modules/**\n` };
  const [os, arch] = target.split('-');
  const ortOs = os === 'alpine' ? 'linux' : os;
  const warnings = [];
  if (!existsSync(path.join(repo, ORT_BIN, ortOs, arch))) warnings.push(`no ONNX Runtime binary for ${target} in ${ORT_BIN}; measurement will report it missing.`);
  const llama = llamaCppLines(target);
  if (llama.warning) warnings.push(llama.warning);
  const text = `${ignore}\n!${ORT_BIN}/${ortOs}/${arch}/**\n${llama.lines.map((l) => `${l}\n`).join('')}`;
  return { text, ...(warnings.length ? { warning: warnings.join(' ') } : {}) };
}
