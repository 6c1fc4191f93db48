/** TFLite reader on the real corpus (../shared/models/tflite): operator mix and lazy reading. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openModel } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { layerWeights } from '../../src/core';
import { SHARED_MODELS } from './sharedModels';

const MODELS = SHARED_MODELS;

test('real models: operator mix and lazy reading (mobilenet reads well under its size)', async () => {
  const f = await openModelFile(path.join(MODELS, 'tflite/mobilenet_v2_quantized_1x3x224x224.tflite'));
  try {
    const m = await openModel(f.source, { siblings: f.siblings });
    const ops: Record<string, number> = {};
    for (const n of m.graphs[0]!.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
    // SOURCES.md: CONV_2D 35, DEPTHWISE_CONV_2D 17, PAD 18, ADD 10, MEAN, FULLY_CONNECTED, TRANSPOSE, RESHAPE.
    assert.deepEqual(ops, { TRANSPOSE: 1, PAD: 18, CONV_2D: 35, DEPTHWISE_CONV_2D: 17, ADD: 10, MEAN: 1, RESHAPE: 1, FULLY_CONNECTED: 1 });
    assert.equal(m.tensors.filter((t) => t.dtype === 'int8').length, 53);
    assert.equal(m.tensors.filter((t) => t.dtype === 'int32').length, 74);
    assert.ok(f.source.bytesRead < f.source.size * 0.6, `read ${f.source.bytesRead} of ${f.source.size}`);
    const conv = m.layers.find((l) => l.op === 'CONV_2D')!;
    assert.equal(conv.role, 'conv');
    assert.equal(m.tensors.find((t) => t.name === layerWeights(conv)[0])!.quant!.scaleCount, conv.shape[0]);
  } finally {
    await f.close();
  }
  const lstm = await openModelFile(path.join(MODELS, 'tflite/trained_lstm.tflite'));
  try {
    const m = await openModel(lstm.source);
    assert.deepEqual(m.graphs[0]!.nodes.map((n) => n.op), ['UNIDIRECTIONAL_SEQUENCE_LSTM', 'RESHAPE', 'FULLY_CONNECTED', 'SOFTMAX']);
    assert.deepEqual(m.layers.map((l) => [l.op, l.role, layerWeights(l).length]), [['UNIDIRECTIONAL_SEQUENCE_LSTM', 'recurrent', 12], ['FULLY_CONNECTED', 'linear', 2]]);
    assert.equal(m.metadata.min_runtime_version, '1.13.1');
  } finally {
    await lstm.close();
  }
});
