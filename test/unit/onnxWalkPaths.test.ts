/**
 * The ONNX walker's two paths give the same model: small nodes and value infos are read whole and walked
 * synchronously (value_info only checked, decoded when `Graph.valueInfo` is first read; small initializers too),
 * large ones (here padded with a 70 KB doc_string) stream through the generator walk. Same nodes, values, tensors,
 * order, layers and errors.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { MemoryByteSource, ModelFormatError, openModel, type Model } from '../../src/core';
import { attr, encodeModel, graph, model, node, rawTensor, value } from '../fixtures/buildOnnx';

type Proto = Record<string, unknown>;

const PAD = 'd'.repeat(70_000);

/** A graph mixing every kind of entry; `pad` pads the chosen nodes and values past the whole-message size. */
function build(pad: (i: number) => boolean): Uint8Array {
  const padded = (p: Proto, i: number): Proto => (pad(i) ? { ...p, doc_string: PAD } : p);
  const nodes: Proto[] = [];
  const infos: Proto[] = [];
  for (let i = 0; i < 8; i++) {
    const attributes = i === 3 ? [attr('alpha', 'f', 0.5), attr('axes', 'ints', [0, 1])] : [];
    nodes.push(padded(node(i % 2 ? 'Add' : 'MatMul', [i === 0 ? 'x' : `h${i - 1}`, `w${i}`], [`h${i}`], { name: `/blk.${i}/op`, attributes }), i));
    // Entry 5 has a name long enough that its message is decoded at once, not kept for later.
    infos.push(padded(value(i === 5 ? `h${i}`.padEnd(300, '_') : `h${i}`, 'FLOAT', ['batch', i + 1, null]), i + 1));
  }
  const inits = Array.from({ length: 8 }, (_, i) => padded(rawTensor(`w${i}`, [4, 4]), i));
  inits.push(padded({ name: 'ints', dims: [3], data_type: 7, int64_data: [1, 300, -2] }, 3), padded({ name: 'strs', dims: [2], data_type: 8, string_data: [new Uint8Array([97]), new Uint8Array([98, 99])] }, 4));
  const g = graph(nodes, { initializers: inits, inputs: [padded(value('x', 'FLOAT', ['batch', 4]), 0)], outputs: [value('h7', 'FLOAT', ['batch', 4])] });
  (g as Proto)['value_info'] = infos;
  return encodeModel(model(g));
}

function read(bytes: Uint8Array): Promise<Model> {
  return openModel(new MemoryByteSource('m.onnx', bytes));
}

test('walk paths: buffered, streamed and mixed reads give the same graph, value_info order and layers', async () => {
  const plain = await read(build(() => false));
  const padded = await read(build(() => true));
  const mixed = await read(build((i) => i % 2 === 0));
  for (const m of [plain, padded, mixed]) {
    assert.deepEqual(JSON.parse(JSON.stringify(m.graphs)), JSON.parse(JSON.stringify(plain.graphs)));
    assert.deepEqual(m.layers, plain.layers);
    assert.deepEqual(m.tensors, plain.tensors.map((t) => ({ ...t, byteOffset: m.tensors.find((u) => u.name === t.name)!.byteOffset })));
  }
  const g = plain.graphs[0]!;
  assert.deepEqual(g.valueInfo.map((v) => v.name.slice(0, 3)), ['h0', 'h1', 'h2', 'h3', 'h4', 'h5_', 'h6', 'h7']);
  assert.deepEqual(g.valueInfo[2], { name: 'h2', dtype: 'float32', shape: ['batch', 3, null] });
  assert.deepEqual(g.nodes[3]!.attributes, { alpha: 0.5, axes: [0, 1] });
  assert.equal(g.nodes[2]!.attributes, g.nodes[4]!.attributes, 'nodes without attributes share one empty record');
  assert.ok(Object.isFrozen(g.nodes[2]!.attributes));
});

test('walk paths: nodes and value_info are made on first read, then plain data properties', async () => {
  const m = await read(build(() => false));
  const g = m.graphs[0]!;
  assert.equal(m.nodeCount, 8);
  assert.equal(m.layers.length, 8, 'layers are built from the node table without making the nodes');
  assert.equal(typeof Object.getOwnPropertyDescriptor(g, 'nodes')!.get, 'function');
  const nodes = g.nodes;
  assert.equal(Object.getOwnPropertyDescriptor(g, 'nodes')!.value, nodes);
  assert.deepEqual(nodes.map((n) => [n.name, n.op, n.inputs, n.outputs]), Array.from({ length: 8 }, (_, i) => [`/blk.${i}/op`, i % 2 ? 'Add' : 'MatMul', [i === 0 ? 'x' : `h${i - 1}`, `w${i}`], [`h${i}`]]));
  assert.deepEqual(m.layers.map((l) => [l.name, l.inputs, l.outputs]), nodes.map((n) => [n.name, n.inputs, n.outputs]));
  assert.equal(typeof Object.getOwnPropertyDescriptor(g, 'valueInfo')!.get, 'function');
  const first = g.valueInfo;
  const d = Object.getOwnPropertyDescriptor(g, 'valueInfo')!;
  assert.equal(d.get, undefined);
  assert.equal(d.value, first);
  assert.equal(g.valueInfo, first);
  assert.deepEqual(Object.keys(g), ['name', 'nodes', 'inputs', 'outputs', 'valueInfo', 'initializers']);
  // structuredClone (a worker's postMessage) sees the decoded list.
  assert.deepEqual(structuredClone((await read(build(() => false))).graphs[0]!).valueInfo, first);
});

test('walk paths: a bad value_info is refused when the file is read, with the same message on both paths', async () => {
  const rank17 = Array.from({ length: 17 }, () => 1);
  const bad = (docString: boolean): Uint8Array => {
    const g = graph([node('Relu', ['x'], ['y'])], { inputs: [value('x', 'FLOAT', [1])], outputs: [value('y', 'FLOAT', [1])] });
    const v = value('y0', 'FLOAT', rank17);
    (g as Proto)['value_info'] = [docString ? { ...v, doc_string: PAD } : v];
    return encodeModel(model(g));
  };
  const messages: string[] = [];
  for (const docString of [false, true]) {
    await assert.rejects(read(bad(docString)), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError);
      assert.equal(e.code, 'limit-exceeded');
      messages.push(e.message.replace(/offset \d+/, 'offset N'));
      return true;
    });
  }
  assert.equal(messages[0], "m.onnx: a value's shape at offset N has more than 16 dimensions.");
  assert.equal(messages[1], messages[0]);
});
