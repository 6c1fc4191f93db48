/**
 * Facts ONNX layer building notes while it makes the layers (formats/onnx/layers.ts): whether a layer is already an
 * output head (then a `logits` output marks no other), whether a router's model has experts (asked of the reader only
 * then), and which layers share a weight (tests/unit/onnxBlocks.test.ts checks the blocks those take); which rows the walk
 * skips or follows by their op type and domain (read as label ids).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { MemoryByteSource, openModel, type Model } from '../../src/core';
import { setGraphScan } from '../../src/core/formats/onnx/graphScan';
import { attr, encodeModel, f32Bytes, graph, model, node, rawTensor, value } from '../fixtures/buildOnnx';

function weight(name: string, dims: readonly number[]): ReturnType<typeof rawTensor> {
  return rawTensor(name, dims, { raw: f32Bytes(new Array<number>(dims.reduce((a, b) => a * b, 1)).fill(0.5)) });
}

async function read(nodes: Parameters<typeof graph>[0], initializers: ReturnType<typeof rawTensor>[], outputs: string[]): Promise<Model> {
  const g = graph(nodes, { initializers, inputs: [value('x', 'FLOAT', [1, 4])], outputs: outputs.map((o) => value(o, 'FLOAT', [1, 4])) });
  return openModel(new MemoryByteSource('m.onnx', encodeModel(model(g))));
}

function roles(m: Model): Record<string, string> {
  return Object.fromEntries(m.layers.map((l) => [l.name, l.role]));
}

test('a linear layer producing a logits output (through a bias add) becomes the output head when no layer is one', async () => {
  const m = await read(
    [node('MatMul', ['x', 'proj.weight'], ['h'], { name: 'proj' }), node('Add', ['h', 'proj.bias'], ['logits'], { name: 'proj_bias' })],
    [weight('proj.weight', [4, 4]), weight('proj.bias', [4])],
    ['logits'],
  );
  assert.deepEqual(roles(m), { proj: 'output_head', proj_bias: 'bias' });
});

test('a logits output marks no layer when one is already an output head by its weight name', async () => {
  const m = await read(
    [node('MatMul', ['x', 'lm_head.weight'], ['h'], { name: 'head' }), node('MatMul', ['h', 'proj.weight'], ['logits'], { name: 'proj' })],
    [weight('lm_head.weight', [4, 4]), weight('proj.weight', [4, 4])],
    ['logits'],
  );
  assert.deepEqual(roles(m), { head: 'output_head', proj: 'linear' });
});

test('a bare gate weight is a router in a model with experts and an FFN gate otherwise', async () => {
  const gate = node('MatMul', ['x', 'model.layers.0.mlp.gate.weight'], ['g'], { name: 'gate' });
  const dense = await read([gate], [weight('model.layers.0.mlp.gate.weight', [4, 4])], ['g']);
  assert.equal(roles(dense)['gate'], 'ffn_gate');
  const moe = await read(
    [gate, node('MatMul', ['x', 'model.layers.0.mlp.experts.0.up_proj.weight'], ['e'], { name: 'expert' })],
    [weight('model.layers.0.mlp.gate.weight', [4, 4]), weight('model.layers.0.mlp.experts.0.up_proj.weight', [4, 4])],
    ['g', 'e'],
  );
  assert.equal(roles(moe)['gate'], 'router');
  assert.equal(moe.layers.find((l) => l.name === 'expert')?.expert, 0);
});

test('a Constant row is skipped only in the default domain, a weight-path op hands its weight on, scanned or walked', async () => {
  // Op types and domains are label ids in the node table; the row walk decides per op id, and a Constant's domain per
  // row: two Constants of each domain, so an answer kept for the op alone would take the second pair wrongly.
  const nodes = [
    node('Constant', ['w1'], ['k1'], { name: 'const_default' }),
    node('Constant', ['w2'], ['k2'], { name: 'const_custom', domain: 'custom' }),
    node('Constant', ['w3'], ['k3'], { name: 'const_onnx', domain: 'ai.onnx' }),
    node('Constant', ['w4'], ['k4'], { name: 'const_custom2', domain: 'custom' }),
    node('Cast', ['w5'], ['w5c'], { name: 'cast' }),
    node('MatMul', ['x', 'w5c'], ['h'], { name: 'proj' }),
    node('Cast', ['x'], ['xc'], { name: 'cast_x' }),
  ];
  const bytes = encodeModel(model(graph(nodes, { initializers: ['w1', 'w2', 'w3', 'w4', 'w5'].map((n) => weight(n, [4, 4])), inputs: [value('x', 'FLOAT', [1, 4])], outputs: [value('h', 'FLOAT', [1, 4])] })));
  for (const scan of [true, false]) {
    setGraphScan(scan, 0, false);
    try {
      const m = await openModel(new MemoryByteSource('m.onnx', bytes));
      assert.deepEqual(m.layers.map((l) => [l.name, l.op, l.weight]), [['const_custom', 'custom.Constant', 'w2'], ['const_custom2', 'custom.Constant', 'w4'], ['proj', 'MatMul', 'w5']], scan ? 'scanned' : 'walked');
    } finally {
      setGraphScan(true);
    }
  }
});

test('values named as activations are (first character and length): after 512 edges the first filter let through in vain, the second (by name hash) still finds every stored, Constant and traced value', async () => {
  // Every value is `v` + 5 digits, so the first filter (first character, length) lets every edge through: activations
  // v0…, initializers v9…, Constant outputs v8…, Cast outputs (traced weights, made while the rows are walked) v7…
  // Each block reads one of the three after a Relu's input edge (two misses a block): the second filter is made in
  // block ~256; the blocks after it find their Constant and their traced weight through it.
  const id = (prefix: number, i: number): string => `v${prefix}${String(i).padStart(4, '0')}`;
  const nodes: ReturnType<typeof node>[] = [];
  const initializers: ReturnType<typeof rawTensor>[] = [];
  const expected: [string, string][] = [];
  let act = 'x';
  for (let i = 0; i < 1200; i++) {
    const relu = id(0, 2 * i);
    nodes.push(node('Relu', [act], [relu], { name: `relu${i}` }));
    const out = id(0, 2 * i + 1);
    if (i % 3 === 0) {
      initializers.push(weight(id(9, i), [4, 4]));
      nodes.push(node('MatMul', [relu, id(9, i)], [out], { name: `stored${i}` }));
      expected.push([`stored${i}`, id(9, i)]);
    } else if (i % 3 === 1) {
      nodes.push(node('Constant', [], [id(8, i)], { name: `const${i}`, attributes: [attr('value', 't', weight('', [4, 4]))] }));
      nodes.push(node('MatMul', [relu, id(8, i)], [out], { name: `constant${i}` }));
      expected.push([`constant${i}`, id(8, i)]);
    } else {
      initializers.push(weight(id(9, i), [4, 4]));
      nodes.push(node('Cast', [id(9, i)], [id(7, i)], { name: `cast${i}`, attributes: [attr('to', 'i', 1)] }));
      nodes.push(node('MatMul', [relu, id(7, i)], [out], { name: `traced${i}` }));
      expected.push([`traced${i}`, id(9, i)]);
    }
    act = out;
  }
  // A value traced in block 2, before the second filter was made, read again after it.
  nodes.push(node('MatMul', [act, id(7, 2)], ['y'], { name: 'again' }));
  expected.push(['again', id(9, 2)]);
  const bytes = encodeModel(model(graph(nodes, { initializers, inputs: [value('x', 'FLOAT', [1, 4])], outputs: [value('y', 'FLOAT', [1, 4])] })));
  for (const scan of [true, false]) {
    setGraphScan(scan, 0, false);
    try {
      const m = await openModel(new MemoryByteSource('m.onnx', bytes));
      assert.deepEqual(m.layers.map((l) => [l.name, l.weight]), expected, scan ? 'scanned' : 'walked');
    } finally {
      setGraphScan(true);
    }
  }
});
