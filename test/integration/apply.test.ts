import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryByteSource, fakeQuantize, getNumberFormat, halfToFloatTable, floatToHalfBits, openModel, transpose2d, type Model } from '../../src/core';
import { applyPlanToOnnx, compareWithReference, referenceRun } from '../../src/node/applyOnnx';
import { openModelFile } from '../../src/node/fileByteSource';
import { createSession, releaseSession } from '../../src/node/ortRunner';
import { buildMatMulModel, weightsFor, type MatMulModelSpec } from '../fixtures/planOnnx';
import { SHARED_MODELS } from './sharedModels';

const MODELS = path.join(SHARED_MODELS, 'onnx');

async function tmpDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'pl-apply-'));
}

async function writeModel(dir: string, spec: MatMulModelSpec, name = 'm.onnx'): Promise<{ file: string; model: Model }> {
  const bytes = buildMatMulModel(spec);
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return { file, model: await openModel(new MemoryByteSource(name, bytes)) };
}

/**
 * Runs a model on X = identity [k, k] and returns its only output. Graph optimizations are off: with them ORT
 * fuses DequantizeLinear → MatMul into integer kernels (MatMulNBits, dynamic int8) that change the arithmetic.
 */
async function runIdentity(file: string, k: number, fp16 = false): Promise<Float32Array> {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  try {
    const eye = new Float32Array(k * k);
    for (let i = 0; i < k; i++) eye[i * k + i] = 1;
    const x = fp16 ? new ort.Tensor('float16', Uint16Array.from(eye, (v) => floatToHalfBits(v)), [k, k]) : new ort.Tensor('float32', eye, [k, k]);
    const out = await s.run({ X: x });
    const t = out[s.outputNames[0]!]!;
    if (t.type === 'float16') {
      const tab = halfToFloatTable();
      return Float32Array.from(t.data as Uint16Array, (h) => tab[h]!);
    }
    return Float32Array.from(t.data as Float32Array);
  } finally {
    await releaseSession(s);
  }
}

/** What core's fakeQuantize gives for the MatMul weight [k, n] (transposed to [n, k] like the sensitivity analysis). */
function expected(spec: MatMulModelSpec, formatId: string): Float32Array {
  const w = weightsFor(spec, 'w');
  const f = getNumberFormat(formatId)!;
  const t = transpose2d(w, spec.k, spec.n);
  return transpose2d(fakeQuantize(t, [spec.n, spec.k], f), spec.n, spec.k);
}

for (const constant of [false, true]) {
  test(`apply writes ${constant ? 'Constant-node' : 'initializer'} weights whose values equal fakeQuantize exactly (int8, int4 g32/g128, fp8, fp16, bf16)`, async () => {
    const dir = await tmpDir();
    try {
      const spec: MatMulModelSpec = { k: 160, n: 48, constant, opset: 13, seed: 3 };
      const { file, model } = await writeModel(dir, spec);
      assert.equal(model.layers.length, 1);
      const layer = model.layers[0]!.name;
      for (const f of ['int8', 'int8_tensor', 'int4_g32', 'int4', 'fp8_e4m3', 'fp16', 'bf16']) {
        const out = path.join(dir, `out-${f}.onnx`);
        const r = await applyPlanToOnnx(file, model, { [layer]: f }, out);
        assert.equal(r.layers[0]!.storage, f.startsWith('int8') ? 'int8' : f.startsWith('int4') ? 'int4' : f === 'fp8_e4m3' ? 'fp8' : f);
        const got = await runIdentity(out, spec.k);
        const want = expected(spec, f);
        let mismatches = 0;
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
        assert.equal(mismatches, 0, `${f}: ${mismatches} of ${want.length} values differ from fakeQuantize`);
        // Stored bytes match the format's size (block scales included) within the per-row block rounding.
        const bytes = r.layers[0]!.bytes;
        const fmt = getNumberFormat(f)!;
        const formatBytes = Math.ceil((spec.k * spec.n) / fmt.blockSize) * fmt.bytesPerBlock;
        assert.ok(bytes >= formatBytes && bytes <= formatBytes * 1.1 + 200, `${f}: stored ${bytes} bytes vs format size ${formatBytes}`);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
}

test('apply on an FP16 model keeps FP16 interfaces (Casts at the boundaries) and runs', async () => {
  const dir = await tmpDir();
  try {
    const spec: MatMulModelSpec = { k: 64, n: 32, fp16: true, opset: 13, gemmOut: 16 };
    const { file, model } = await writeModel(dir, spec);
    const assignment = Object.fromEntries(model.layers.map((l, i) => [l.name, i === 0 ? 'int4_g32' : 'int8']));
    const out = path.join(dir, 'out.onnx');
    const r = await applyPlanToOnnx(file, model, assignment, out);
    assert.equal(r.opsetAfter, 21);
    const ref = await referenceRun(file, model, 2);
    const m = await compareWithReference(ref, out);
    assert.ok(m.sqnrDb > 10 && m.sqnrDb < 60, `SQNR ${m.sqnrDb}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('apply converts an opset-11 model (Unsqueeze axes attribute → input) when INT4 needs opset 21', async () => {
  const dir = await tmpDir();
  try {
    const spec: MatMulModelSpec = { k: 32, n: 64, opset: 11, unsqueeze: true };
    const { file, model } = await writeModel(dir, spec);
    const out = path.join(dir, 'out.onnx');
    const r = await applyPlanToOnnx(file, model, { [model.layers[0]!.name]: 'int4_g32' }, out);
    assert.equal(r.opsetBefore, 11);
    assert.equal(r.opsetAfter, 21);
    // Unsqueeze's `axes` attribute became a constant input (opset 13): the conversion says how many it added.
    assert.ok(r.warnings.some((w) => /opset raised from 11 to 21 \(\d+ constant input/.test(w)), r.warnings.join(' | '));
    const got = await runIdentity(out, spec.k);
    const want = expected(spec, 'int4_g32');
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.ok(got[i] === want[i], `value ${i}: ${got[i]} vs ${want[i]}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('apply writes external data above the threshold and the model still loads and gives the same outputs', async () => {
  const dir = await tmpDir();
  try {
    const spec: MatMulModelSpec = { k: 64, n: 64, opset: 13, gemmOut: 32 };
    const { file, model } = await writeModel(dir, spec);
    const assignment = { [model.layers[0]!.name]: 'int8' };
    const inline = await applyPlanToOnnx(file, model, assignment, path.join(dir, 'inline.onnx'));
    const ext = await applyPlanToOnnx(file, model, assignment, path.join(dir, 'ext.onnx'), { externalDataThresholdBytes: 1024 });
    assert.equal(inline.externalDataPath, undefined);
    assert.ok(ext.externalDataPath && ext.externalDataBytes > 4096);
    assert.ok(ext.fileBytes < inline.fileBytes / 2, `${ext.fileBytes} vs ${inline.fileBytes}`);
    const ref = await referenceRun(path.join(dir, 'inline.onnx'), model, 2);
    const same = await compareWithReference(ref, path.join(dir, 'ext.onnx'));
    assert.equal(same.sqnrDb, 300); // identical outputs hit the SQNR cap
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('apply refuses to overwrite the input model', async () => {
  const dir = await tmpDir();
  try {
    const { file, model } = await writeModel(dir, { k: 8, n: 8 });
    await assert.rejects(applyPlanToOnnx(file, model, {}, file), /refusing to overwrite/);
    await assert.rejects(applyPlanToOnnx(file, model, {}, path.join(dir, '.', 'm.onnx')), /refusing to overwrite/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('apply on mnist-12: every appliable format loads in ORT, runs, and shrinks the file as expected', async () => {
  const src = path.join(MODELS, 'mnist-12.onnx');
  const opened = await openModelFile(src);
  const model = await openModel(opened.source, { siblings: opened.siblings });
  await opened.close();
  const dir = await tmpDir();
  try {
    const ref = await referenceRun(src, model, 2);
    const results: Record<string, { sqnr: number; bytes: number }> = {};
    for (const f of ['fp16', 'int8', 'int4_g32', 'fp8_e4m3', 'nf4']) {
      const assignment = Object.fromEntries(model.layers.filter((l) => l.quantizable).map((l) => [l.name, f]));
      const out = path.join(dir, `mnist-${f}.onnx`);
      const r = await applyPlanToOnnx(src, model, assignment, out);
      const m = await compareWithReference(ref, out);
      results[f] = { sqnr: m.sqnrDb, bytes: r.fileBytes };
      const s = await createSession(out); // loads
      await releaseSession(s);
    }
    assert.ok(results['fp16']!.sqnr > 50, `fp16 ${results['fp16']!.sqnr}`);
    assert.ok(results['int8']!.sqnr > 25 && results['int8']!.sqnr < results['fp16']!.sqnr);
    assert.ok(results['int4_g32']!.sqnr > 3 && results['int4_g32']!.sqnr < results['int8']!.sqnr);
    assert.ok(results['fp16']!.bytes < 26143 * 0.6);
    assert.ok(results['int4_g32']!.bytes < results['int8']!.bytes && results['int8']!.bytes < results['fp16']!.bytes);
    assert.ok(results['nf4']!.bytes > 26143 * 0.9, 'simulated formats keep the original size');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('apply on silero_vad (weights in Constant nodes inside If branches) loads and runs', async () => {
  const src = path.join(MODELS, 'silero_vad.onnx');
  const opened = await openModelFile(src);
  const model = await openModel(opened.source, { siblings: opened.siblings });
  await opened.close();
  const dir = await tmpDir();
  try {
    const assignment = Object.fromEntries(model.layers.filter((l) => l.quantizable).map((l, i) => [l.name, i % 2 ? 'int8' : 'fp16']));
    const out = path.join(dir, 'silero.onnx');
    const r = await applyPlanToOnnx(src, model, assignment, out);
    assert.ok(r.layers.length > 10, `${r.layers.length} layers rewritten`);
    assert.ok(r.fileBytes < 2327524 * 0.7, `${r.fileBytes} bytes`);
    const ref = await referenceRun(src, model, 2);
    const m = await compareWithReference(ref, out);
    assert.ok(m.sqnrDb > 15, `SQNR ${m.sqnrDb}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
