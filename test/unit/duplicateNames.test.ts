/**
 * Quadratic work on duplicates (issue 14): 20,000 initializers sharing one name took 22-50 s because every repeat
 * probed `name#2`, `name#3`, … from 2. model/uniqueNames.ts remembers the next suffix per name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryByteSource, UniqueNames, openModel } from '../../src/core';
import { encodeModel, f32Bytes, graph, model, node, rawTensor, value } from '../fixtures/buildOnnx';

test('UniqueNames gives the same names as probing from 2, in linear time', () => {
  const u = new UniqueNames();
  u.add('a#3');
  assert.deepEqual(['a', 'a', 'a', 'a', 'b', 'a#2'].map((n) => u.claim(n)), ['a', 'a#2', 'a#4', 'a#5', 'b', 'a#2#2']);
  const big = new UniqueNames();
  const t0 = performance.now();
  for (let i = 0; i < 200_000; i++) big.claim('x');
  assert.ok(performance.now() - t0 < 2000, 'claiming 200,000 duplicates must be linear');
  assert.equal(big.claim('x'), 'x#200001');
});

test('an ONNX model with 10,000 initializers and 10,000 nodes sharing one name reads in seconds', async () => {
  const n = 10_000;
  const inits = Array.from({ length: n }, () => rawTensor('w', [2, 2], { raw: f32Bytes([1, 2, 3, 4]) }));
  const nodes = Array.from({ length: n }, (_, i) => node('MatMul', [i === 0 ? 'X' : `y${i - 1}`, 'w'], [`y${i}`], { name: 'mm' }));
  const bytes = encodeModel(model(graph(nodes, { initializers: inits, inputs: [value('X', 'FLOAT', [2, 2])], outputs: [value(`y${n - 1}`, 'FLOAT', [2, 2])] }), { opset: 13 }));
  const t0 = performance.now();
  const m = await openModel(new MemoryByteSource('dups.onnx', bytes));
  const ms = performance.now() - t0;
  assert.equal(m.tensors.length, n);
  assert.equal(new Set(m.tensors.map((t) => t.name)).size, n, 'tensor names are unique');
  assert.equal(new Set(m.layers.map((l) => l.name)).size, m.layers.length, 'layer names are unique');
  assert.ok(ms < 5000, `reading took ${ms.toFixed(0)} ms (was ~12 s before linear de-duplication)`);
});
