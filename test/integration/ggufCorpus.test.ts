/** GGUF reader on the real corpus (../shared/models/gguf, counts from SOURCES.md) and against @huggingface/gguf. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { gguf } from '@huggingface/gguf';
import { ggmlType, openModel, type Model } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { SHARED_MODELS } from './sharedModels';

const MODELS = path.join(SHARED_MODELS, 'gguf');

async function openFile(file: string): Promise<Model> {
  const { source, siblings, close } = await openModelFile(path.join(MODELS, file));
  try {
    return await openModel(source, { siblings });
  } finally {
    await close();
  }
}

test('stories260K.gguf: v3 llama, 5 blocks, 8/4 heads, 48 F32 tensors, 292800 params, 19 KVs', async () => {
  const m = await openFile('stories260K.gguf');
  assert.equal(m.format, 'gguf');
  assert.equal(m.formatVersion, 3);
  assert.equal(m.tensorCount, 48);
  assert.equal(m.parameterCount, 292800);
  assert.equal(m.nodeCount, 0);
  assert.equal(Object.keys(m.metadata).length, 19);
  assert.ok(m.tensors.every((t) => t.dtype === 'float32'));
  assert.deepEqual(m.hyperparameters, {
    architecture: 'llama', blockCount: 5, embeddingLength: 64, feedForwardLength: 172, headCount: 8, kvHeadCount: 4, headDim: 8,
    contextLength: 2048, vocabSize: 512, source: 'gguf',
  });
  const tokens = m.metadata['tokenizer.ggml.tokens'] as { type: string; itemType: string; length: number; items: string[] };
  assert.equal(tokens.type, 'array');
  assert.equal(tokens.itemType, 'string');
  assert.equal(tokens.length, 512);
  assert.equal(tokens.items.length, 8);
  assert.equal(m.weightBytes, 292800 * 4);
  assert.equal(m.layers.filter((l) => l.block !== undefined).length, 5 * 9);
  assert.equal(m.layers.find((l) => l.name === 'token_embd.weight')!.role, 'embedding');
  assert.deepEqual(m.warnings, []);
});

test('vocab-spm.gguf: 0 tensors, 9 KVs, 32000-token vocabulary', async () => {
  const m = await openFile('vocab-spm.gguf');
  assert.equal(m.tensorCount, 0);
  assert.equal(m.parameterCount, 0);
  assert.equal(Object.keys(m.metadata).length, 9);
  assert.equal(m.hyperparameters.vocabSize, 32000);
  assert.equal((m.metadata['tokenizer.ggml.scores'] as { length: number }).length, 32000);
});

test('agrees with @huggingface/gguf on the corpus: tensor names, types, dims, offsets and KV count', async () => {
  for (const file of ['stories260K.gguf', 'vocab-spm.gguf']) {
    const ours = await openFile(file);
    const theirs = await gguf(path.join(MODELS, file), { allowLocalFile: true });
    assert.equal(Object.keys(ours.metadata).length, Object.keys(theirs.metadata).length - 3, file); // theirs adds version, tensor_count, kv_count
    assert.equal(Number(theirs.metadata.kv_count), Object.keys(ours.metadata).length);
    assert.deepEqual(ours.tensors.map((t) => t.name), theirs.tensorInfos.map((t) => t.name));
    theirs.tensorInfos.forEach((ti, i) => {
      const t = ours.tensors[i]!;
      assert.equal(ggmlType(ti.dtype)?.dtype, t.dtype, ti.name);
      assert.deepEqual([...t.shape].reverse(), ti.shape.map(Number), ti.name);
      assert.equal(t.byteOffset, Number(theirs.tensorDataOffset + ti.offset), ti.name);
    });
  }
});
