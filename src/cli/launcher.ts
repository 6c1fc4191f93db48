/**
 * The `precision-lens` executable (dist/cli.js): runs the CLI bundle (dist/cliMain.js, from ./main.ts) compiled
 * with the V8 code cache that the build writes beside it (dist/cliMain.cache, esbuild.mjs), so that a command does
 * not first parse and compile the 1.2 MB bundle (~15 ms of CPU on every start: `--version` 83 → 68 ms, node alone
 * 50 ms). The cache is only an optimization: one V8 rejects (another Node or V8 version, other V8 flags), one older
 * than the bundle (a bundle rebuilt without it) or a missing one is ignored, and the bundle is compiled as usual.
 * Nothing is written at run time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';

/** The CLI bundle, beside this file. */
export const BUNDLE_FILE = 'cliMain.js';
/** Its code cache, beside it (written by esbuild.mjs with {@link compileBundle}). */
export const CODE_CACHE_FILE = 'cliMain.cache';

/**
 * The bundle at `file` as a script that evaluates to its CommonJS module function (the wrapper Node's own loader
 * uses), with `cachedData` when given. The build makes the cache from this same script text, so V8 accepts it.
 */
export function compileBundle(file: string, cachedData?: Buffer): vm.Script {
  const text = fs.readFileSync(file, 'utf8');
  // A `#!` line is a comment to Node's loader; inside the wrapper it must be one.
  const source = text.startsWith('#!') ? `//${text.slice(2)}` : text;
  // No import() may be left in the bundle: a vm.Script has no module loader for it (Node 20's option for one is
  // experimental and warns on stderr). esbuild turns the CLI's imports into require(); test/unit/cliLauncher.test.ts checks.
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n});`, { filename: file, ...(cachedData ? { cachedData } : {}) });
}

/** The code cache of the bundle at `file`, unless it is missing or older than the bundle. */
export function readCodeCache(file: string): Buffer | undefined {
  try {
    const cache = path.join(path.dirname(file), CODE_CACHE_FILE);
    if (fs.statSync(cache).mtimeMs < fs.statSync(file).mtimeMs) return undefined;
    return fs.readFileSync(cache);
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  const file = path.join(__dirname, BUNDLE_FILE);
  const moduleFunction = compileBundle(file, readCodeCache(file)).runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;
  // This module stands for the bundle's: `require.main === module` holds inside it, as when Node runs it directly.
  moduleFunction.call(module.exports, module.exports, require, module, file, __dirname);
}
