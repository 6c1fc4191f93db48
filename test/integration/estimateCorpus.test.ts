/** Estimator on the real corpus (../shared/models): KV cache and stored bytes of real files, weights built from shapes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import { estimate, getTarget, openModel, peakActivationBytes, readShapeConstants, type Estimate, type Target } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { SHARED_MODELS } from './sharedModels';

const MODELS = SHARED_MODELS;
const target = (id: string): Target => getTarget(id)!;

function assertFinite(e: Estimate, what: string): void {
  for (const [k, v] of Object.entries(e)) if (typeof v === 'number') assert.ok(Number.isFinite(v) && v >= 0, `${what}: ${k} = ${v}`);
  for (const l of e.perLayer) assert.ok(Number.isFinite(l.bytes) && Number.isFinite(l.flopsPerToken), what);
}

test('KV cache of stories260K.gguf from its own hyperparameters (5 blocks, 4 KV heads, head dim 8, context 2048)', async () => {
  const opened = await openModelFile(path.join(MODELS, 'gguf/stories260K.gguf'));
  try {
    const m = await openModel(opened.source, { siblings: opened.siblings });
    const e = estimate(m, target('cpu'));
    assert.equal(e.context, 2048);
    assert.equal(e.kvCacheBytes, 2 * 5 * 4 * 8 * 2048 * 2);
    assert.equal(e.weightBytes, 1185376 - 14176); // file minus header/metadata
  } finally {
    await opened.close();
  }
});

test('weight bytes as stored equal the sum of stored tensor bytes for every corpus model', async () => {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(onnx|gguf|safetensors|tflite)$/.test(f)) files.push(p);
    }
  };
  walk(MODELS);
  assert.ok(files.length >= 21, `corpus has ${files.length} models`);
  for (const f of files) {
    const opened = await openModelFile(f);
    try {
      const m = await openModel(opened.source, { siblings: opened.siblings });
      const constants = await readShapeConstants(m, opened.source, opened.siblings);
      const sum = m.tensors.reduce((s, t) => s + t.byteLength, 0);
      for (const id of ['cpu', 'h100', 'groq-lpu']) {
        const e = estimate(m, target(id), { constants });
        assert.equal(e.weightBytes, sum, `${f} on ${id}`);
        assert.equal(e.weightBytes, m.weightBytes, f);
        assertFinite(e, f);
      }
    } finally {
      await opened.close();
    }
  }
});

test('weights generated from stored shapes (light_resnet50 ConstantOfShape) are found and reported', async () => {
  const opened = await openModelFile(path.join(MODELS, 'onnx/light_resnet50.onnx'));
  try {
    const m = await openModel(opened.source, { siblings: opened.siblings });
    const constants = await readShapeConstants(m, opened.source, opened.siblings);
    const p = peakActivationBytes(m, { batch: 1, context: 1 }, { constants });
    // ResNet-50 has ~25.6M FP32 parameters; the file stores only their shapes.
    assert.ok(p.generatedConstantBytes > 25.5e6 * 4 && p.generatedConstantBytes < 25.7e6 * 4, String(p.generatedConstantBytes));
    assert.deepEqual(p.unknownValues, []);
    assert.match(estimate(m, target('cpu'), { constants }).warnings[0]!, /generated at run time from stored shapes/);
  } finally {
    await opened.close();
  }
});
