/** safetensors reader on the real corpus (../shared/models/safetensors, counts from SOURCES.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openModel, type Model } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { SHARED_MODELS } from './sharedModels';

const MODELS = path.join(SHARED_MODELS, 'safetensors');

async function openFile(file: string): Promise<{ model: Model; bytesRead: number; size: number }> {
  const { source, siblings, close } = await openModelFile(path.join(MODELS, file));
  try {
    const model = await openModel(source, { siblings });
    return { model, bytesRead: source.bytesRead + (await siblings.bytesRead()), size: source.size };
  } finally {
    await close();
  }
}

test('silero_vad_16k.safetensors: 15 F32 tensors, 309633 params, 1208-byte header, no metadata; reads only the header', async () => {
  const { model, bytesRead } = await openFile('silero_vad_16k.safetensors');
  assert.equal(model.format, 'safetensors');
  assert.equal(model.tensorCount, 15);
  assert.equal(model.parameterCount, 309633);
  assert.equal(model.nodeCount, 0);
  assert.ok(model.tensors.every((t) => t.dtype === 'float32'));
  assert.deepEqual(model.metadata, {});
  assert.equal(Math.min(...model.tensors.map((t) => t.byteOffset)), 8 + 1208);
  assert.equal(bytesRead, 16 + 8 + 1208, 'the 16-byte format sniff, the length field and the JSON header, nothing else');
  assert.equal(model.weightBytes, 309633 * 4);
  assert.equal(model.layers.length, 15);
  assert.deepEqual(model.warnings, []);
  assert.equal(model.files[0]!.byteLength, 1239748);
});

test('sd15 LoRA: 256 F32 tensors, 797184 params, metadata {format: pt}, 38592-byte header', async () => {
  const { model, bytesRead } = await openFile('sd15_lora_pytorch_lora_weights.safetensors');
  assert.equal(model.tensorCount, 256);
  assert.equal(model.parameterCount, 797184);
  assert.deepEqual(model.metadata, { format: 'pt' });
  assert.equal(bytesRead, 16 + 8 + 38592);
  assert.ok(model.tensors.every((t) => t.dtype === 'float32'));
  assert.ok(model.layers.every((l) => l.role.startsWith('attention_')), 'LoRA factors of to_q/to_k/to_v/to_out');
});

test('cellogpt: 188 F32 tensors, 23573 params, no metadata (__metadata__ null)', async () => {
  const { model } = await openFile('cellogpt_weights_s2s.safetensors');
  assert.equal(model.tensorCount, 188);
  assert.equal(model.parameterCount, 23573);
  assert.deepEqual(model.metadata, {});
  assert.deepEqual(model.warnings, []);
  assert.equal(model.hyperparameters.blockCount, 3);
});
