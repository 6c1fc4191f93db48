// What goes into the .vsix, shared by scripts/package.mjs and test/unit/vsixContents.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';

/** The Marketplace page (user-facing), passed to vsce as --readme-path; the developer README.md is not shipped. */
export const MARKETPLACE_README = 'README.marketplace.md';

/**
 * The ignore file for one vsce target (e.g. 'linux-x64'), or for the universal package (target undefined): the
 * .vscodeignore whitelist with only that platform's ONNX Runtime binaries, or none. Returns the text and a warning
 * when onnxruntime-node has no binary for the target.
 */
export function vscodeignoreFor(target) {
  let ignore = readFileSync(path.join(repo, '.vscodeignore'), 'utf8');
  // vsce applies negations regardless of order, so drop the all-platforms line and add back one platform.
  ignore = ignore.replace(`!${ORT_BIN.replace('/napi-v6', '')}/**`, '');
  if (target === undefined) return { text: `${ignore}\nnode_modules/**\n` };
  const [os, arch] = target.split('-');
  const ortOs = os === 'alpine' ? 'linux' : os;
  const warning = existsSync(path.join(repo, ORT_BIN, ortOs, arch)) ? undefined : `no ONNX Runtime binary for ${target} in ${ORT_BIN}; measurement will report it missing.`;
  return { text: `${ignore}\n!${ORT_BIN}/${ortOs}/${arch}/**\n`, ...(warning ? { warning } : {}) };
}
