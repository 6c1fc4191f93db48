import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openModel } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';

const GPT2 = path.resolve(__dirname, '../fixtures/models/tiny-random-gpt2-fp32.onnx');

test('layers sharing a deduplicated weight take their block from graph order (fused GPT-2: 3 norms/biases per block)', async () => {
  const f = await openModelFile(GPT2);
  try {
    const model = await openModel(f.source, { siblings: f.siblings });
    const blockOf = (name: string): number | undefined => model.layers.find((l) => l.name === name)?.block;
    // ORT deduplicated the identical LayerNorm gammas/betas, so every SkipLayerNorm names block 0's tensors.
    assert.equal(blockOf('SkipLayerNorm_AddBias_9'), 4);
    assert.equal(blockOf('SkipLayerNorm_AddBias_2'), 1);
    assert.equal(blockOf('FastGelu_AddBias_3'), 3);
    const perBlock = [0, 1, 2, 3, 4].map((b) => model.layers.filter((l) => l.block === b).length);
    assert.deepEqual(perBlock, [7, 7, 7, 7, 7]);
    assert.equal(model.layers.find((l) => l.role === 'embedding')?.block, undefined);
  } finally {
    await f.close();
  }
});
