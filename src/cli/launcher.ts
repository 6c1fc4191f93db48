/**
 * The `precision-lens` executable (dist/cli.js): runs a CLI bundle compiled with the V8 code cache that the build
 * writes beside it (esbuild.mjs), so that a command does not first parse and compile its code. `inspect` and
 * `estimate` run bundles of their own ({@link COMMAND_BUNDLES}: dist/cliInspect.js from ./inspectMain.ts, a third of the
 * code; dist/cliEstimate.js from ./estimateMain.ts, half), help, version and completion another
 * (dist/cliGeneral.js from ./generalMain.ts: the option tables only), every other command the whole CLI
 * (dist/cliMain.js, from ./main.ts). A bundle's cache is `<bundle>.cache` ({@link codeCacheFile}). The cache is
 * only an optimization: one V8 rejects (another Node or V8 version, other V8 flags), one older than the bundle (a
 * bundle rebuilt without it) or a missing one is ignored, and the bundle is compiled as usual. The build makes each
 * cache after running its bundle in its own process (`sensitivity` for the whole CLI, `inspect` for its bundle), so
 * it also holds the functions that run compiles lazily. Nothing is written at run time. For `sensitivity FILE` or
 * `plan FILE` of a file large enough for the worker pool, it first starts the analysis workers
 * (src/node/prestartedWorkers.ts), so their boot overlaps loading the bundle. It loads only the built-in modules Node itself has loaded at start, and
 * vm: node:os and node:v8 when asked for (node:v8 loads Node's stream modules, which a small command never needs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { PRESTART_COMMANDS, prestartCount, prestartWorkers } from '../node/prestartedWorkers';
import { GENERAL_ARGUMENTS } from './generalArguments';

export { cachedScriptName } from './cachedScriptName';

/** The CLI bundle of every command, beside this file. */
export const BUNDLE_FILE = 'cliMain.js';
/** The bundle of `inspect` alone (./inspectMain.ts), beside this file. */
export const INSPECT_BUNDLE_FILE = 'cliInspect.js';
/** The bundle of `estimate` alone (./estimateMain.ts), beside this file. */
export const ESTIMATE_BUNDLE_FILE = 'cliEstimate.js';
/** Commands that run a bundle of their own instead of {@link BUNDLE_FILE}. */
export const COMMAND_BUNDLES: ReadonlyMap<string, string> = new Map([['inspect', INSPECT_BUNDLE_FILE], ['estimate', ESTIMATE_BUNDLE_FILE]]);
/** The bundle of help, version and completion (./generalMain.ts), beside this file. */
export const GENERAL_BUNDLE_FILE = 'cliGeneral.js';

/**
 * The bundle (a file name beside this file) that runs the command line whose first argument is `first`: no argument
 * or one of ./generalArguments.ts's GENERAL_ARGUMENTS, {@link GENERAL_BUNDLE_FILE}.
 */
export function bundleFor(first: string | undefined): string {
  if (first === undefined || GENERAL_ARGUMENTS.has(first)) return GENERAL_BUNDLE_FILE;
  return COMMAND_BUNDLES.get(first) ?? BUNDLE_FILE;
}

/**
 * The name of the code cache of the bundle `bundle` (a file name): `cliMain.js` → `cliMain.cache`; of the one made
 * under {@link ONE_PASS_V8_FLAGS} (`onePass`): `cliInspect.js` → `cliInspect.onepass.cache`.
 */
export function codeCacheFile(bundle: string, onePass = false): string {
  return `${bundle.replace(/\.js$/, '')}${onePass ? '.onepass' : ''}.cache`;
}

/** The code cache of {@link BUNDLE_FILE}, beside it (written by esbuild.mjs with {@link compileBundle}). */
export const CODE_CACHE_FILE = codeCacheFile(BUNDLE_FILE);

/**
 * The bundle at `file` as a script that evaluates to its CommonJS module function (the wrapper Node's own loader
 * uses), with `cachedData` when given. The build makes the cache from this same script text, so V8 accepts it, named
 * `scriptName` (./cachedScriptName.ts: V8 keeps the name a cache was made under, whatever `filename` a later compile
 * with the cache gives).
 */
export function compileBundle(file: string, cachedData?: Buffer, scriptName = file): vm.Script {
  const text = fs.readFileSync(file, 'utf8');
  // A `#!` line is a comment to Node's loader; inside the wrapper it must be one.
  const source = text.startsWith('#!') ? `//${text.slice(2)}` : text;
  // No import() may be left in the bundle: a vm.Script has no module loader for it (Node 20's option for one is
  // experimental and warns on stderr). esbuild turns the CLI's imports into require(); test/unit/cliLauncher.test.ts checks.
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n});`, { filename: scriptName, ...(cachedData ? { cachedData } : {}) });
}

/**
 * Commands that walk one model once (`inspect`) run with TurboFan's inlining off. Their hot loops sit in large
 * functions (the graph walk, layer building, role inference) that inline dozens of helpers, and TurboFan spent more
 * time compiling them than the optimized code then saved: `inspect --json` of the bench's 45,000-node ONNX took
 * 475 → 430 ms of CPU (median of 11 alternating runs). Numeric commands keep the default: `sensitivity` of a 64 MB
 * FP16 file took 10 % more CPU without inlining. Nor do they replace a running loop with optimized code (on-stack
 * replacement): their long loops are cut into calls of a bounded number of items each (layers.ts `rows`, inspectJson.ts
 * `writeRows`…), which are optimized as calls, and the loops run once per model (tensor sums, name checks) were
 * compiled a second time for the stack while they ran: `inspect --json` of that ONNX, CPU with `--no-use-osr` vs
 * without, 0.967 and 0.962 (21 and 31 same-run pairs, load ~6). TurboFan's escape analysis and loop peeling are off
 * too (compile time spent on code that then runs briefly): CPU 0.962 and 0.973 with vs without them off (21 and 25
 * pairs, load ~6 and ~4.5). Set before the bundle is compiled; each of these commands has a bundle of its own ({@link COMMAND_BUNDLES}) whose code cache the build makes under the same flags
 * (V8 rejects a cache made under other flags).
 */
export const ONE_PASS_COMMANDS: ReadonlySet<string> = new Set(['inspect']);
/** The V8 flags of {@link ONE_PASS_COMMANDS}. */
export const ONE_PASS_V8_FLAGS = '--no-turbo-inlining --no-use-osr --no-turbo-escape --no-turbo-loop-peeling';
/** The V8 flags that undo {@link ONE_PASS_V8_FLAGS} (the build makes every cache in one process). */
export const DEFAULT_V8_FLAGS = '--turbo-inlining --use-osr --turbo-escape --turbo-loop-peeling';
/**
 * A one-pass command whose model (the first argument after the command) is a file smaller than this keeps the default
 * flags, and its bundle's code cache made under them: its walk is too short for TurboFan's compile time to matter,
 * and setting flags needs node:v8, whose loading (it loads Node's stream modules) was ~1.5 ms of a ~25 ms
 * `inspect --json` of a tiny model. Any other command line (a larger file, a folder, an option first) gets
 * {@link ONE_PASS_V8_FLAGS}. `inspect --json` CPU with the flags vs without (same-run pairs, load ~7): 578 KB ONNX
 * 1.07, 756 KB 1.02, 2.3 MB 0.975, the bench's 4.4 MB 0.87.
 */
export const ONE_PASS_MIN_FILE_BYTES = 1024 * 1024;

/**
 * Whether the command line `args` (after `node cli.js`) runs under {@link ONE_PASS_V8_FLAGS}: a one-pass command unless
 * its first argument after the command is a regular file smaller than {@link ONE_PASS_MIN_FILE_BYTES} (`sizeOf`, the
 * size of a regular file, undefined for anything else).
 */
export function runsOnePass(args: readonly string[], sizeOf: (file: string) => number | undefined): boolean {
  const [command, file] = args;
  if (command === undefined || !ONE_PASS_COMMANDS.has(command)) return false;
  const size = file === undefined || file.startsWith('-') ? undefined : sizeOf(file);
  return size === undefined || size >= ONE_PASS_MIN_FILE_BYTES;
}

/** The code cache of the bundle at `file` (`name` beside it), unless it is missing or older than the bundle. */
export function readCodeCache(file: string, name = codeCacheFile(path.basename(file))): Buffer | undefined {
  try {
    const cache = path.join(path.dirname(file), name);
    if (fs.statSync(cache).mtimeMs < fs.statSync(file).mtimeMs) return undefined;
    return fs.readFileSync(cache);
  } catch {
    return undefined;
  }
}

/** The size of a regular file (undefined for anything else or when it cannot be read). */
export function regularFileSize(file: string): number | undefined {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** The number of cores this process may use (node:os is loaded only when asked). */
function parallelism(): number {
  const os = require('node:os') as typeof import('node:os');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const command = args[0];
  // `sensitivity` or `plan` of a large file: its analysis workers boot now, while the bundle loads and the header is parsed
  // (src/node/prestartedWorkers.ts; the runner's pool adopts them).
  if (command !== undefined && PRESTART_COMMANDS.has(command)) {
    const workers = prestartCount(args, regularFileSize, parallelism());
    const workerFile = path.join(__dirname, 'worker.js');
    if (workers > 0 && fs.existsSync(workerFile)) prestartWorkers(workerFile, workers);
  }
  const file = path.join(__dirname, bundleFor(command));
  // node:v8 only when flags are set: it loads Node's stream modules, which nothing else in a small command needs.
  const onePass = runsOnePass(args, regularFileSize);
  if (onePass) (require('node:v8') as typeof import('node:v8')).setFlagsFromString(ONE_PASS_V8_FLAGS);
  const moduleFunction = compileBundle(file, readCodeCache(file, codeCacheFile(path.basename(file), onePass))).runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;
  // This module stands for the bundle's: `require.main === module` holds inside it, as when Node runs it directly.
  moduleFunction.call(module.exports, module.exports, require, module, file, __dirname);
}
