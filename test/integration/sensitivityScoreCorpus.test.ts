/** Sensitivity score on a real model of ../shared/models: Silero VAD's LSTM slices. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { effectiveRole, openModel } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { layerWeights } from '../../src/core';
import { SHARED_MODELS } from './sharedModels';

const MODELS = path.join(SHARED_MODELS, 'onnx');

test('real model (Silero VAD): LSTM bias slices are offset vectors, weight slices and convs are not', async () => {
  const file = path.join(MODELS, 'silero_vad.onnx');
  const opened = await openModelFile(file);
  const model = await openModel(opened.source, { siblings: opened.siblings });
  await opened.close();
  const rnn = model.layers.filter((l) => l.role === 'recurrent');
  const biases = rnn.filter((l) => layerWeights(l)[0]!.includes('bias'));
  const weights = rnn.filter((l) => layerWeights(l)[0]!.includes('weight'));
  assert.ok(biases.length >= 6 && weights.length >= 6, `${biases.length} bias / ${weights.length} weight slices`);
  for (const l of biases) assert.equal(effectiveRole(l), 'bias', l.name);
  for (const l of weights) assert.equal(effectiveRole(l), 'recurrent', l.name);
  for (const l of model.layers.filter((x) => x.op === 'Conv')) assert.notEqual(effectiveRole(l), 'bias', l.name);
});
