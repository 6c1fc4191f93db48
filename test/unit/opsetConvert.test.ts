/**
 * Apply on older models (issue 14): INT8/INT4 storage needs opset 13/21, and models at opsets 9-12 used to be
 * refused ("Softmax uses axis 1, whose meaning changed in opset 13"). The structural rewrites are checked here;
 * test/integration/opsetConversion.test.ts proves equal outputs in onnxruntime over the conformance corpus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertOnnxOpset } from '../../src/node/applyOnnx';
import { decodeMessage, onnxTypes } from '../../src/node/onnxProto';
import { attr, encodeModel, graph, model, node, value } from '../fixtures/buildOnnx';

interface P { graph: { node: { op_type: string; input: string[]; output: string[]; attribute?: { name: string; i?: number }[] }[] }; opset_import: { version: number }[] }

const convert = (nodes: ReturnType<typeof node>[], opset: number, to: number): P =>
  decodeMessage<P>(onnxTypes().Model, convertOnnxOpset(encodeModel(model(graph(nodes, { inputs: [value('X', 'FLOAT', [2, 3, 4])], outputs: [value('Y', 'FLOAT', [2, 3, 4])] }), { opset })), to).bytes);

test('Softmax/LogSoftmax/Hardmax with a non-last axis become Flatten → op(axis -1) → Reshape(Shape)', () => {
  for (const op of ['Softmax', 'LogSoftmax', 'Hardmax']) {
    const p = convert([node(op, ['X'], ['Y'], { attributes: [attr('axis', 'i', 1)] })], 9, 13);
    assert.deepEqual(p.graph.node.map((n) => n.op_type), ['Shape', 'Flatten', op, 'Reshape']);
    assert.equal(p.graph.node[1]!.attribute![0]!.i, 1);
    assert.equal(p.graph.node[2]!.attribute!.find((a) => a.name === 'axis')!.i, -1);
    assert.deepEqual(p.graph.node[3]!.output, ['Y']);
    assert.equal(p.opset_import[0]!.version, 13);
    // Already on the last axis: unchanged.
    assert.deepEqual(convert([node(op, ['X'], ['Y'], { attributes: [attr('axis', 'i', -1)] })], 11, 13).graph.node.map((n) => n.op_type), [op]);
  }
});

test('removed ops with exact successors are renamed; Scan-8 with batch size 2 is refused naming the operator', () => {
  assert.deepEqual(convert([node('Scatter', ['X', 'I', 'U'], ['Y'])], 10, 13).graph.node.map((n) => n.op_type), ['ScatterElements']);
  const up = convert([node('Upsample', ['X', 'S'], ['Y'], { attributes: [attr('mode', 's', 'nearest')] })], 9, 21).graph.node[0]!;
  assert.equal(up.op_type, 'Resize');
  assert.deepEqual(up.input, ['X', '', 'S']);
  const split = convert([node('Split', ['X'], ['A', 'B'])], 13, 21).graph.node[0]!;
  assert.equal(split.attribute!.find((a) => a.name === 'num_outputs')!.i, 2);
  assert.throws(() => convert([node('Scan', ['', 'X'], ['Y'])], 8, 13), /cannot convert the model to opset 13: Scan/);
});
