/**
 * The slim IR fields (model/tensorData.ts): a tensor's location flat on it, a layer's weights as `weight` +
 * `moreWeights` (single-tensor layers share one frozen empty array, so 10^5–10^6-tensor models keep no array per layer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  layersFromTensors, layerWeights, MemoryByteSource, NO_MORE_WEIGHTS, openModel, tensorLocation, weightAt, weightCount, weightFields,
  type Layer, type TensorInfo,
} from '../../src/core';
import { buildSafetensors } from '../fixtures/buildSafetensors';

const tensor = (name: string, stored: boolean): TensorInfo => ({
  name, dtype: 'float16', shape: [2, 2], elementCount: 4, byteLength: 8, file: stored ? 'a.bin' : undefined, byteOffset: stored ? 64 : 0, encoding: 'raw', origin: 'entry',
});

test('weightFields / layerWeights / weightCount / weightAt round-trip a weight list', () => {
  for (const names of [[], ['w'], ['w', 'b'], ['w', 's', 'z']]) {
    const f = weightFields(names);
    const layer = { ...f } as unknown as Layer;
    assert.deepEqual(layerWeights(layer), names);
    assert.equal(weightCount(layer), names.length);
    for (let k = 0; k <= names.length; k++) assert.equal(weightAt(layer, k), names[k]);
    if (names.length <= 1) assert.equal(f.moreWeights, NO_MORE_WEIGHTS);
  }
  // layerWeights gives a fresh array: changing it leaves the layer alone.
  const layer = { ...weightFields(['w']) } as unknown as Layer;
  layerWeights(layer).push('x');
  assert.deepEqual(layerWeights(layer), ['w']);
  assert.ok(Object.isFrozen(NO_MORE_WEIGHTS));
});

test('tensorLocation builds the range object from the flat fields, or undefined when nothing is stored', () => {
  assert.deepEqual(tensorLocation(tensor('a', true)), { file: 'a.bin', byteOffset: 64, byteLength: 8, encoding: 'raw' });
  assert.equal(tensorLocation(tensor('b', false)), undefined);
});

test('tensor-only layers share NO_MORE_WEIGHTS; a safetensors read keeps ranges flat on its tensors', async () => {
  const layers = layersFromTensors([tensor('model.layers.0.mlp.up_proj.weight', true), tensor('model.layers.1.mlp.up_proj.weight', true)]);
  for (const l of layers) {
    assert.equal(l.moreWeights, NO_MORE_WEIGHTS);
    assert.equal(l.weight, l.name);
  }
  const built = buildSafetensors([{ name: 'a', dtype: 'F16', shape: [2] }, { name: 'empty', dtype: 'F16', shape: [0] }]);
  const m = await openModel(new MemoryByteSource('x.safetensors', built.bytes));
  const [a, empty] = [m.tensors.find((t) => t.name === 'a')!, m.tensors.find((t) => t.name === 'empty')!];
  assert.equal(a.file, '');
  assert.equal(a.byteOffset, 8 + built.headerLength);
  assert.equal(Object.hasOwn(a, 'location'), false);
  assert.equal(empty.file, undefined);
  assert.equal(m.layers.find((l) => l.name === 'a')!.moreWeights, NO_MORE_WEIGHTS);
});
