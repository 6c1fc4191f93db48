/**
 * The `precision-lens` executable (dist/cli.js, src/cli/launcher.ts) runs the CLI bundle with the V8 code cache the
 * build wrote: this Node accepts that cache, the CLI behaves as before, and a stale, corrupt or missing cache only
 * costs the compile. Needs the build (dist/), which `npm test` runs first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vm from 'node:vm';
import { version } from '../../package.json';
import { COMMAND_SPECS, runGeneral } from '../../src/cli/general';
import { GENERAL_ARGUMENTS } from '../../src/cli/generalArguments';
import type { CliOutput } from '../../src/cli/io';
import { buildSafetensors } from '../fixtures/buildSafetensors';

const DIST = path.resolve(__dirname, '../../dist');

interface Launcher {
  BUNDLE_FILE: string;
  CODE_CACHE_FILE: string;
  INSPECT_BUNDLE_FILE: string;
  COMMAND_BUNDLES: ReadonlyMap<string, string>;
  GENERAL_BUNDLE_FILE: string;
  bundleFor(first: string | undefined): string;
  codeCacheFile(bundle: string, onePass?: boolean): string;
  ONE_PASS_V8_FLAGS: string;
  ONE_PASS_COMMANDS: ReadonlySet<string>;
  ONE_PASS_MIN_FILE_BYTES: number;
  runsOnePass(args: readonly string[], sizeOf: (file: string) => number | undefined): boolean;
  regularFileSize(file: string): number | undefined;
  compileBundle(file: string, cachedData?: Buffer): vm.Script;
  readCodeCache(file: string, name?: string): Buffer | undefined;
}

function launcher(): Launcher {
  assert.ok(existsSync(path.join(DIST, 'cli.js')), 'dist/cli.js is missing: run `npm run build`');
  return require(path.join(DIST, 'cli.js')) as Launcher;
}

/** Runs the CLI from `dir`/cli.js. */
function cli(dir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(dir, 'cli.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the build writes a code cache of the CLI bundle that this Node accepts; the CLI runs through it', () => {
  const l = launcher();
  const bundle = path.join(DIST, l.BUNDLE_FILE);
  const cache = l.readCodeCache(bundle);
  assert.ok(cache && cache.length > 0, `${l.CODE_CACHE_FILE} is missing or older than ${l.BUNDLE_FILE}`);
  assert.equal(l.compileBundle(bundle, cache).cachedDataRejected, false);
  const r = cli(DIST, '--version');
  assert.deepEqual([r.status, r.stdout.trim(), r.stderr], [0, version, '']);
  // Input errors still exit 2 with one line: the bundle's own entry code ran (require.main === module there).
  const bad = cli(DIST, 'inspect', path.join(os.tmpdir(), 'precision-lens-no-such-model.onnx'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no such file/);
});

test('inspect, estimate and help/version/completion run bundles of their own (inspect of a larger model under the one-pass V8 flags, with the cache made under them), with the output of the whole CLI', () => {
  const l = launcher();
  assert.ok(l.ONE_PASS_COMMANDS.has('inspect'));
  assert.equal(l.COMMAND_BUNDLES.get('inspect'), l.INSPECT_BUNDLE_FILE);
  // A one-pass command without a bundle of its own would compile the whole CLI under flags its cache was not made under.
  for (const c of l.ONE_PASS_COMMANDS) assert.ok(l.COMMAND_BUNDLES.has(c), `${c} has no bundle of its own`);
  const bundle = path.join(DIST, l.INSPECT_BUNDLE_FILE);
  assert.equal(l.codeCacheFile(l.INSPECT_BUNDLE_FILE), 'cliInspect.cache');
  assert.equal(l.codeCacheFile(l.INSPECT_BUNDLE_FILE, true), 'cliInspect.onepass.cache');
  for (const onePass of [false, true]) {
    assert.ok(l.readCodeCache(bundle, l.codeCacheFile(l.INSPECT_BUNDLE_FILE, onePass)), `${l.codeCacheFile(l.INSPECT_BUNDLE_FILE, onePass)} is missing or older than ${l.INSPECT_BUNDLE_FILE}`);
  }
  // In a child: the flags are process-wide. Each cache is accepted under the flags it was made under and not under
  // the others (so the flags really differ, and the command gets the cache made for them).
  // One compile per child: a second compile of the same text in a process may be served from V8's own cache.
  const rejected = (flags: boolean, onePassCache: boolean): string => {
    const script = `const l = require(${JSON.stringify(path.join(DIST, 'cli.js'))});
      const b = ${JSON.stringify(bundle)};
      if (${flags}) require('node:v8').setFlagsFromString(l.ONE_PASS_V8_FLAGS);
      console.log(l.compileBundle(b, l.readCodeCache(b, l.codeCacheFile(${JSON.stringify(l.INSPECT_BUNDLE_FILE)}, ${onePassCache}))).cachedDataRejected);`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.deepEqual([rejected(false, false), rejected(false, true), rejected(true, false), rejected(true, true)], ['false', 'true', 'true', 'false']);
  // inspect runs through that path and writes what the whole CLI writes: a model opens (table and JSON), its help,
  // and bad input still exits 2 with one line.
  const mnist = path.resolve(__dirname, '../fixtures/models/mnist-12.onnx');
  const ok = cli(DIST, 'inspect', mnist, '--json');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { layers: unknown[] }).layers.length, 6);
  const viaMain = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    // '_' first: \`node -e … inspect\` would start Node's debugger.
    const m = spawnSync(process.execPath, ['-e', `const b = ${JSON.stringify(path.join(DIST, l.BUNDLE_FILE))}; const m = require(b); m.runCli(process.argv.slice(2)).then((c) => { process.exitCode = c; });`, '_', ...args], { encoding: 'utf8', timeout: 60_000 });
    return { status: m.status, stdout: m.stdout, stderr: m.stderr };
  };
  const missing = path.join(os.tmpdir(), 'precision-lens-no-such-model.onnx');
  for (const args of [['inspect', mnist, '--json'], ['inspect', mnist], ['inspect', '--help'], ['inspect'], ['inspect', mnist, '--nope'], ['inspect', missing]]) {
    assert.deepEqual(cli(DIST, ...args), viaMain(...args), args.join(' '));
  }
  // Help, version and completion: their own bundle (the option tables only), the same output.
  // Every word the launcher sends there is one runGeneral answers (not a command's name, which would get exit 2).
  const quiet: CliOutput = { out: () => undefined, err: () => undefined };
  for (const a of GENERAL_ARGUMENTS) {
    assert.equal(l.bundleFor(a), l.GENERAL_BUNDLE_FILE, a);
    assert.ok(!COMMAND_SPECS.some((s) => s.name === a), a);
    assert.equal(runGeneral(a === 'completion' ? [a, 'bash'] : [a], quiet), 0, a);
  }
  assert.deepEqual([undefined, '--help', 'help', '-V', 'completion', 'inspect', 'estimate', 'plan', 'nope'].map((a) => l.bundleFor(a)), [l.GENERAL_BUNDLE_FILE, l.GENERAL_BUNDLE_FILE, l.GENERAL_BUNDLE_FILE, l.GENERAL_BUNDLE_FILE, l.GENERAL_BUNDLE_FILE, l.INSPECT_BUNDLE_FILE, 'cliEstimate.js', l.BUNDLE_FILE, l.BUNDLE_FILE]);
  for (const args of [[], ['--help'], ['-h'], ['help'], ['help', 'plan'], ['help', 'nope'], ['--version'], ['-V'], ['version'], ['completion', 'bash'], ['completion', 'zsh'], ['completion', 'fish'], ['completion'], ['completion', 'x\u001b'], ['nope']]) {
    assert.deepEqual(cli(DIST, ...args), viaMain(...args), args.join(' ') || '(no arguments)');
  }
  // estimate's own bundle (default flags) likewise.
  assert.equal(l.COMMAND_BUNDLES.get('estimate'), 'cliEstimate.js');
  assert.equal(l.compileBundle(path.join(DIST, 'cliEstimate.js'), l.readCodeCache(path.join(DIST, 'cliEstimate.js'))).cachedDataRejected, false);
  for (const args of [['estimate', mnist, '--target', 'h100', '--json'], ['estimate', mnist, '--target', 'h100,cpu'], ['estimate', '--help'], ['estimate', mnist, '--target', 'nope'], ['estimate', missing, '--target', 'h100']]) {
    assert.deepEqual(cli(DIST, ...args), viaMain(...args), args.join(' '));
  }
});

test('inspect runs under the one-pass flags unless its model is a regular file below ONE_PASS_MIN_FILE_BYTES; other commands never', () => {
  const l = launcher();
  const sizes = new Map([['small.onnx', l.ONE_PASS_MIN_FILE_BYTES - 1], ['large.onnx', l.ONE_PASS_MIN_FILE_BYTES]]);
  const sizeOf = (f: string): number | undefined => sizes.get(f);
  assert.equal(l.runsOnePass(['inspect', 'small.onnx', '--json'], sizeOf), false);
  assert.equal(l.runsOnePass(['inspect', 'large.onnx', '--json'], sizeOf), true);
  // A folder, a missing file, an option first or no model: the flags, as before (the size is not known).
  for (const args of [['inspect', 'folder'], ['inspect', '--json', 'small.onnx'], ['inspect']]) assert.equal(l.runsOnePass(args, sizeOf), true, args.join(' '));
  for (const args of [['estimate', 'large.onnx'], ['sensitivity', 'large.onnx'], ['--help'], []]) assert.equal(l.runsOnePass(args, sizeOf), false, args.join(' '));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-launcher-'));
  try {
    const file = path.join(dir, 'f.bin');
    writeFileSync(file, new Uint8Array(1000));
    assert.deepEqual([l.regularFileSize(file), l.regularFileSize(dir), l.regularFileSize(path.join(dir, 'none'))], [1000, undefined, undefined]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A preload that writes `[beforeExit]` and `[exit]` to stderr as the process emits them: 'beforeExit' comes when the
 * event loop empties (a natural exit), not from process.exit; 'exit' from both.
 */
const EXIT_EVENTS_PRELOAD = "for (const e of ['beforeExit', 'exit']) process.on(e, () => require('node:fs').writeSync(2, `[${e}]`));\n";

test('output is the same written through a pipe the reader leaves full while it is non-blocking (the write falls back to the stream, and the process waits for it)', async () => {
  const l = launcher();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-launcher-'));
  try {
    // 20k layers print ~3 MB of JSON, far more than a pipe holds. Touching process.stdout first (a preload) makes the
    // pipe non-blocking, as another Node process sharing it would; the reader waits before reading, so writes fail
    // with EAGAIN and the rest goes through the stream.
    const file = path.join(dir, 'many.safetensors');
    writeFileSync(file, buildSafetensors(Array.from({ length: 20_000 }, (_, i) => ({ name: `model.layers.${i}.mlp.weight`, dtype: 'F16', shape: [2, 2] }))).bytes);
    const preload = path.join(dir, 'stdout.cjs');
    writeFileSync(preload, `void process.stdout;\n${EXIT_EVENTS_PRELOAD}`);
    const e = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), 'inspect', file, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const expected = { status: e.status, stdout: e.stdout, stderr: e.stderr };
    assert.equal(expected.status, 0, expected.stderr);
    assert.ok(expected.stdout.length > 1_000_000);
    const child = spawn(process.execPath, ['--require', preload, path.join(DIST, 'cli.js'), 'inspect', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.pause();
    child.stdout.on('data', (d: Buffer) => out.push(d));
    setTimeout(() => child.stdout.resume(), 300);
    const status = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    // All of it, and the natural exit (inspect's early one waits for output a stream holds).
    assert.deepEqual({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: err }, { ...expected, stderr: `${expected.stderr}[beforeExit][exit]` });
    // The bundle the command ran: a small file runs without the flags.
    assert.equal(l.runsOnePass(['inspect', file], l.regularFileSize), l.regularFileSize(file)! >= l.ONE_PASS_MIN_FILE_BYTES);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('inspect and estimate exit as soon as their output is written (no return to the event loop); other commands exit naturally', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-launcher-'));
  try {
    const mnist = path.resolve(__dirname, '../fixtures/models/mnist-12.onnx');
    const preload = path.join(dir, 'events.cjs');
    writeFileSync(preload, EXIT_EVENTS_PRELOAD);
    const events = (args: readonly string[]): [number | null, string] => {
      const r = spawnSync(process.execPath, ['--require', preload, path.join(DIST, 'cli.js'), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
      return [r.status, r.stderr.replace(/^[^[]*/, '')];
    };
    assert.deepEqual(events(['inspect', mnist, '--json']), [0, '[exit]']);
    assert.deepEqual(events(['estimate', mnist, '--target', 'h100']), [0, '[exit]']);
    assert.deepEqual(events(['inspect', path.join(dir, 'none.onnx')]), [2, '[exit]']);
    assert.deepEqual(events(['plan', mnist, '--help']), [0, '[beforeExit][exit]']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output to a full disk is a one-line failure naming the stream (exit 2)', { skip: existsSync('/dev/full') ? false : 'no /dev/full' }, () => {
  const mnist = path.resolve(__dirname, '../fixtures/models/mnist-12.onnx');
  const full = openSync('/dev/full', 'w');
  try {
    const r = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), 'inspect', mnist, '--json'], { encoding: 'utf8', stdio: ['ignore', full, 'pipe'] });
    assert.deepEqual([r.status, r.stderr], [2, 'precision-lens: stdout: no space left on the device (ENOSPC).\n']);
  } finally {
    closeSync(full);
  }
});

test('inspect of a small model loads none of Node\'s stream, socket or v8 modules (output by file descriptor, no flags)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-launcher-'));
  try {
    const list = path.join(dir, 'modules.txt');
    const preload = path.join(dir, 'modules.cjs');
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
    const mnist = path.resolve(__dirname, '../fixtures/models/mnist-12.onnx');
    for (const args of [['inspect', mnist, '--json'], ['inspect', mnist], ['--help']]) {
      const r = spawnSync(process.execPath, ['--require', preload, path.join(DIST, 'cli.js'), ...args], { encoding: 'utf8' });
      assert.ok(r.stdout.length + r.stderr.length > 0, args.join(' '));
      const loaded = readFileSync(list, 'utf8').split('\n');
      assert.deepEqual(loaded.filter((m) => /^NativeModule (stream|net|tty|v8|os|internal\/streams\/writable)$/.test(m)), [], args.join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale, corrupt or missing code cache is ignored: the bundle is compiled as usual', () => {
  const l = launcher();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-launcher-'));
  try {
    for (const f of ['cli.js', l.BUNDLE_FILE, l.CODE_CACHE_FILE]) copyFileSync(path.join(DIST, f), path.join(dir, f));
    const bundle = path.join(dir, l.BUNDLE_FILE);
    // A command the whole CLI runs (help, version and inspect have bundles of their own, not copied here).
    const viaWhole = ['targets', '--help'];
    assert.equal(l.bundleFor(viaWhole[0]), l.BUNDLE_FILE);
    const expected = cli(DIST, ...viaWhole);
    assert.equal(expected.status, 0);
    const cacheFile = path.join(dir, l.CODE_CACHE_FILE);
    // Older than the bundle (a bundle rebuilt without its cache): not read.
    utimesSync(cacheFile, new Date(2000, 0, 1), new Date(2000, 0, 1));
    assert.equal(l.readCodeCache(bundle), undefined);
    assert.deepEqual(cli(dir, ...viaWhole), expected);
    // Corrupt: V8 rejects it.
    writeFileSync(cacheFile, readFileSync(cacheFile).subarray(0, 100));
    const corrupt = l.readCodeCache(bundle);
    assert.ok(corrupt);
    assert.equal(l.compileBundle(bundle, corrupt).cachedDataRejected, true);
    assert.deepEqual(cli(dir, ...viaWhole), expected);
    // Missing.
    rmSync(cacheFile);
    assert.equal(l.readCodeCache(bundle), undefined);
    assert.deepEqual(cli(dir, ...viaWhole), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a copy of dist/ elsewhere (an installed package): --debug stack traces name the copy\'s bundles, not the build folder, while their code caches are used', () => {
  const l = launcher();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-launcher-'));
  try {
    // Each cache after its bundle: a cache older than its bundle is not read.
    for (const f of ['cli.js', l.INSPECT_BUNDLE_FILE, l.codeCacheFile(l.INSPECT_BUNDLE_FILE), l.codeCacheFile(l.INSPECT_BUNDLE_FILE, true), l.BUNDLE_FILE, l.CODE_CACHE_FILE]) {
      copyFileSync(path.join(DIST, f), path.join(dir, f));
    }
    for (const b of [l.INSPECT_BUNDLE_FILE, l.BUNDLE_FILE]) {
      const file = path.join(dir, b);
      assert.equal(l.compileBundle(file, l.readCodeCache(file)).cachedDataRejected, false, b);
    }
    const missing = path.join(dir, 'no-such-model.onnx');
    const bad = path.join(dir, 'bad.onnx');
    writeFileSync(bad, 'not a model at all');
    // inspect of a missing file (one-pass flags and cache), of a small file (default cache), and the whole CLI.
    for (const [bundle, args] of [[l.INSPECT_BUNDLE_FILE, ['inspect', missing, '--debug']], [l.INSPECT_BUNDLE_FILE, ['inspect', bad, '--debug']], [l.BUNDLE_FILE, ['plan', missing, '--target', 'h100', '--debug']]] as const) {
      const r = cli(dir, ...args);
      assert.equal(r.status, 2, r.stderr);
      assert.ok(r.stderr.includes(`(${path.join(dir, bundle)}:`), `${args.join(' ')}: ${r.stderr}`);
      assert.ok(!r.stderr.includes(DIST) && !r.stderr.includes('<precision-lens>'), `${args.join(' ')}: ${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI bundles are ASCII text (read into a one-byte string; esbuild.mjs escapes what its comments hold)', () => {
  const l = launcher();
  for (const bundle of ['cli.js', l.BUNDLE_FILE, l.GENERAL_BUNDLE_FILE, ...l.COMMAND_BUNDLES.values()]) {
    const text = readFileSync(path.join(DIST, bundle), 'utf8');
    assert.equal(/[^\0-\x7f]/.exec(text)?.index, undefined, bundle);
  }
});

test('the CLI bundles hold no import(): a vm.Script has no module loader for it', () => {
  const l = launcher();
  for (const bundle of [l.BUNDLE_FILE, ...l.COMMAND_BUNDLES.values()]) {
    const text = readFileSync(path.join(DIST, bundle), 'utf8');
    assert.equal(/\bimport\s*\(/.exec(text)?.[0], undefined, bundle);
  }
});

test('`sensitivity` of a file large enough for workers: the workers the launcher starts early give the inline result', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-launcher-'));
  try {
    // 10 MiB of FP16 weights (above the runner's 8 MiB inline bound, so the launcher starts the pool first).
    const specs = Array.from({ length: 5 }, (_, i) => ({ name: `model.layers.${i}.mlp.down_proj.weight`, dtype: 'F16', shape: [1024, 1024] }));
    const built = buildSafetensors(specs);
    let s = 3;
    const codes = Uint16Array.from({ length: (built.bytes.length - 8 - built.headerLength) / 2 }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16) & 0xbbff);
    built.bytes.set(new Uint8Array(codes.buffer), 8 + built.headerLength);
    const file = path.join(dir, 'model.safetensors');
    writeFileSync(file, built.bytes);
    const strip = (out: string): unknown => ({ ...(JSON.parse(out) as Record<string, unknown>), elapsedMs: 0 });
    const pooled = cli(DIST, 'sensitivity', file, '--json');
    const inline = cli(DIST, 'sensitivity', file, '--json', '--workers', '0');
    assert.equal(pooled.status, 0, pooled.stderr);
    assert.equal(inline.status, 0, inline.stderr);
    assert.deepEqual(strip(pooled.stdout), strip(inline.stdout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
