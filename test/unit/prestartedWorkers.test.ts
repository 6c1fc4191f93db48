/**
 * Analysis workers the CLI launcher starts before the model is opened (src/node/prestartedWorkers.ts): which command
 * lines start them, that a pool adopts live ones of its own script and terminates the rest, and that an analysis
 * run by adopted workers equals the inline one. The launcher itself is run by cliLauncher.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as esbuild from 'esbuild';
import { INLINE_BELOW_BYTES, discardPrestartedWorkers, prestartCount, prestartWorkers, sharedDefaultWorkers, takePrestartedWorkers } from '../../src/node/prestartedWorkers';
import { INLINE_BELOW_BYTES as RUNNER_INLINE_BELOW_BYTES, analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { floatToHalfBits } from '../../src/core';
import { buildSafetensors } from '../fixtures/buildSafetensors';

/** Writes `dir`/model.safetensors: FP16 matrices `specs` of small values from a fixed LCG seeded with `seed`. */
function writeRandomF16Model(dir: string, specs: readonly { name: string; dtype: string; shape: number[] }[], seed: number): string {
  const built = buildSafetensors(specs);
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const t of specs) {
    const n = t.shape[0]! * t.shape[1]!;
    const codes = Uint16Array.from({ length: n }, () => floatToHalfBits((rnd() - 0.5) * 0.05));
    built.bytes.set(new Uint8Array(codes.buffer), 8 + built.headerLength + built.offsets[t.name]![0]);
  }
  const file = path.join(dir, 'model.safetensors');
  writeFileSync(file, built.bytes);
  return file;
}

test('prestartCount: `sensitivity FILE` of a file the runner would give to workers starts the default pool (one worker fewer than the cores: the main thread shares) or --workers N, `plan FILE` the default pool; anything else none', () => {
  const big = INLINE_BELOW_BYTES, small = INLINE_BELOW_BYTES - 1;
  const sizes: Record<string, number> = { 'big.safetensors': big, 'small.safetensors': small };
  const sizeOf = (f: string): number | undefined => sizes[f];
  assert.equal(prestartCount(['sensitivity', 'big.safetensors'], sizeOf, 1), 1);
  assert.equal(RUNNER_INLINE_BELOW_BYTES, INLINE_BELOW_BYTES);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors'], sizeOf, 2), 1);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors', '--json', '--formats', 'int8'], sizeOf, 4), 3);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors', '--workers', '3'], sizeOf, 2), 3);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors', '--workers=1'], sizeOf, 2), 1);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors', '--workers', '0'], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors', '--workers', 'many'], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors', '--workers'], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors', '--help'], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity', 'small.safetensors'], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity', 'missing.safetensors'], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity', '--json', 'big.safetensors'], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity'], sizeOf, 2), 0);
  assert.equal(prestartCount(['inspect', 'big.safetensors'], sizeOf, 2), 0);
  assert.equal(prestartCount([], sizeOf, 2), 0);
  assert.equal(prestartCount(['sensitivity', 'big.safetensors'], sizeOf, 0), 0);
  // plan: the default pool too (its main thread shares); no --workers option of its own.
  assert.equal(prestartCount(['plan', 'big.safetensors', '--target', 'h100', '--avg-bits', '4.5'], sizeOf, 2), 1);
  assert.equal(prestartCount(['plan', 'big.safetensors', '--target', 'h100'], sizeOf, 1), 1);
  assert.equal(prestartCount(['plan', 'big.safetensors', '--workers', '1'], sizeOf, 4), 3);
  assert.equal(prestartCount(['plan', 'big.safetensors', '-h'], sizeOf, 2), 0);
  assert.equal(prestartCount(['plan', 'small.safetensors', '--target', 'h100'], sizeOf, 2), 0);
  assert.equal(prestartCount(['plan', '--target', 'h100', 'big.safetensors'], sizeOf, 2), 0);
});

test('a pool adopts started workers of its own script (alive, ref\'d); workers of another script or beyond the count are terminated', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-prestart-'));
  try {
    const echo = path.join(dir, 'echo.js');
    writeFileSync(echo, "require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m * 2));\n");
    const ask = (w: Worker): Promise<number> => new Promise((resolve) => w.once('message', resolve));
    prestartWorkers(echo, 3);
    const taken = takePrestartedWorkers(echo, 2);
    assert.equal(taken.length, 2);
    for (const [i, w] of taken.entries()) {
      const reply = ask(w);
      w.postMessage(i + 1);
      assert.equal(await reply, 2 * (i + 1));
    }
    await Promise.all(taken.map((w) => w.terminate()));
    assert.deepEqual(takePrestartedWorkers(echo, 2), [], 'the stash is emptied by the first taker');
    // Another script: nothing to adopt, every started worker is stopped.
    prestartWorkers(echo, 2);
    assert.deepEqual(takePrestartedWorkers(path.join(dir, 'other.js'), 2), []);
    prestartWorkers(echo, 1);
    discardPrestartedWorkers();
    assert.deepEqual(takePrestartedWorkers(echo, 1), []);
    // A worker that died before it was adopted is not handed over.
    const dead = path.join(dir, 'dead.js');
    writeFileSync(dead, 'process.exit(3);\n');
    // Wait for that worker's own exit, code 3 (not a fixed time: a loaded machine boots workers slowly). Node
    // announces each new worker on `process` a tick after its constructor, so the stash's exit listener was added
    // first and has run when this promise settles; the echo workers stopped above exit with another code.
    // The started worker is unref'd: a timer keeps the test alive meanwhile (and fails it after 30 s).
    let onWorker: ((w: Worker) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<void>((resolve, reject) => {
      process.on('worker', (onWorker = (w) => w.once('exit', (code) => code === 3 && resolve())));
      timer = setTimeout(() => reject(new Error('the started worker did not exit within 30 s')), 30_000);
    });
    prestartWorkers(dead, 1);
    await exited.finally(() => {
      clearTimeout(timer);
      process.off('worker', onWorker!);
    });
    assert.deepEqual(takePrestartedWorkers(dead, 1), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an analysis run by started workers (adopted by the runner\'s pool) equals the inline one and leaves none behind', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-prestart-'));
  try {
    const specs = [
      { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'F16', shape: [512, 1024] },
      { name: 'model.layers.1.mlp.down_proj.weight', dtype: 'F16', shape: [1024, 512] },
    ];
    const file = writeRandomF16Model(dir, specs, 9);
    const workerFile = path.join(dir, 'worker.js');
    await esbuild.build({ entryPoints: [path.resolve(__dirname, '../../src/worker/analysis.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: workerFile, logLevel: 'warning', external: ['vscode', 'onnxruntime-*'], mainFields: ['module', 'main'] });
    const inline = await analyzeModelSensitivity(file, { workers: 0 });
    prestartWorkers(workerFile, 2);
    const pooled = await analyzeModelSensitivity(file, { workers: 2, workerFile, inlineBelowBytes: 0 });
    assert.deepEqual(takePrestartedWorkers(workerFile, 2), [], 'the pool adopted (or stopped) every started worker');
    assert.deepEqual(pooled.warnings, inline.warnings);
    assert.deepEqual(pooled.layers, inline.layers);
    // Started workers an inline analysis does not need are stopped.
    prestartWorkers(workerFile, 2);
    const again = await analyzeModelSensitivity(file, { workers: 2, workerFile });
    assert.deepEqual(again.layers, inline.layers);
    assert.deepEqual(takePrestartedWorkers(workerFile, 2), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mainThreadShare: the calling thread analyzes chunks too (here: the ones a failing worker does not take), with the same results', { skip: os.availableParallelism() < 2 ? 'one core: no main-thread share' : false }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-share-'));
  try {
    const specs = Array.from({ length: 6 }, (_, i) => ({ name: `model.layers.${i}.mlp.down_proj.weight`, dtype: 'F16', shape: [256, 1024] }));
    const file = writeRandomF16Model(dir, specs, 5);
    // A worker that answers every chunk with an error: whatever is analyzed was analyzed on this thread.
    const failing = path.join(dir, 'failing.js');
    writeFileSync(failing, "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage({ kind: 'sensitivity/error', id: 0, message: 'refused' }));\n");
    const inline = await analyzeModelSensitivity(file, { workers: 0 });
    prestartWorkers(failing, sharedDefaultWorkers(os.availableParallelism()));
    const shared = await analyzeModelSensitivity(file, { mainThreadShare: true, workerFile: failing, inlineBelowBytes: 0 });
    assert.deepEqual(takePrestartedWorkers(failing, 8), [], 'the pool adopted the started workers');
    assert.ok(shared.layers.length >= 1, 'this thread analyzed at least one tensor');
    assert.ok(shared.layers.length < specs.length, 'the worker took (and failed) some');
    for (const l of shared.layers) assert.deepEqual(l, inline.layers.find((x) => x.layer === l.layer));
    assert.equal(shared.warnings.length, specs.length - shared.layers.length);
    assert.match(shared.warnings[0]!, /refused/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
