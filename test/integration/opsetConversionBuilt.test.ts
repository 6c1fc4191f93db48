/**
 * Opset conversion of BatchNormalization < 9 and Scan-8 (issue 14), proven in onnxruntime on builder-made models:
 * the original (where onnxruntime has a kernel for its opset: BatchNormalization 7-8, Scan 8) and the converted
 * model run on the same inputs and must give bit-equal outputs; BatchNormalization at opset 6 (no onnxruntime
 * kernel) is checked against y = scale·(x − mean)/√(var + ε) + B computed here. Forms whose meaning opset 9 cannot
 * keep are refused naming the operator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertOnnxOpset } from '../../src/node/applyOnnx';
import type { CalibrationSample } from '../../src/node/calibration';
import { createSession, releaseSession, runSamples, type RunOutputs } from '../../src/node/ortRunner';
import { attr, encodeModel, f32Bytes, graph, model, node, rawTensor, value } from '../fixtures/buildOnnx';

const C = 3;
const scale = [0.5, -1.25, 2];
const bias = [0.1, 0.2, -0.3];
const mean = [0.05, -0.4, 1.5];
const variance = [1.5, 0.25, 4];
const EPS = 1e-3;

function bnModel(opset: number, attrs: ReturnType<typeof attr>[], outputs = ['Y']): Uint8Array {
  const inits = [rawTensor('scale', [C], { raw: f32Bytes(scale) }), rawTensor('B', [C], { raw: f32Bytes(bias) }), rawTensor('mean', [C], { raw: f32Bytes(mean) }), rawTensor('var', [C], { raw: f32Bytes(variance) })];
  const g = graph([node('BatchNormalization', ['X', 'scale', 'B', 'mean', 'var'], outputs, { name: 'bn', attributes: [attr('epsilon', 'f', EPS), ...attrs] }), node('Relu', ['Y'], ['Z'])], {
    initializers: inits, inputs: [value('X', 'FLOAT', [2, C, 4, 5])], outputs: [value('Z', 'FLOAT', [2, C, 4, 5])],
  });
  return encodeModel(model(g, { opset, irVersion: 3 }));
}

function xSample(): CalibrationSample {
  const data = Float32Array.from({ length: 2 * C * 20 }, (_, i) => Math.sin(i * 0.7) * 3);
  return { X: { name: 'X', dtype: 'float32', dims: [2, C, 4, 5], data } };
}

async function run(bytes: Uint8Array, samples: CalibrationSample[]): Promise<RunOutputs[]> {
  const s = await createSession(bytes);
  try {
    return await runSamples(s, samples);
  } finally {
    await releaseSession(s);
  }
}

function assertBitEqual(a: RunOutputs[], b: RunOutputs[], what: string): void {
  for (let i = 0; i < a.length; i++) {
    for (const k of Object.keys(a[i]!)) {
      assert.deepEqual(b[i]![k]!.dims, a[i]![k]!.dims, `${what}: ${k} dims`);
      assert.deepEqual(Array.from(b[i]![k]!.data), Array.from(a[i]![k]!.data), `${what}: ${k} values`);
    }
  }
}

test('BatchNormalization 7/8 (spatial = 1, is_test dropped) → 13 and 21: outputs bit-equal in onnxruntime', async () => {
  const samples = [xSample()];
  for (const [opset, attrs] of [[7, [attr('spatial', 'i', 1)]], [8, []], [7, [attr('spatial', 'i', 1), attr('momentum', 'f', 0.9)]]] as const) {
    const original = bnModel(opset, [...attrs]);
    const reference = await run(original, samples);
    for (const to of [13, 21]) {
      const conv = convertOnnxOpset(original, to, 'bn.onnx');
      assert.equal(conv.from, opset);
      assertBitEqual(reference, await run(conv.bytes, samples), `BN-${opset} → ${to}`);
    }
  }
});

test('BatchNormalization 6 (is_test = 1) and 1 (consumed_inputs) → 13: the formula, computed here', async () => {
  const samples = [xSample()];
  const x = samples[0]!.X!.data as Float32Array;
  const expected = Array.from(x, (v, i) => {
    const c = Math.floor(i / 20) % C;
    return Math.max(0, Math.fround(scale[c]! * (v - mean[c]!) / Math.sqrt(variance[c]! + EPS) + bias[c]!));
  });
  for (const [opset, attrs] of [[6, [attr('is_test', 'i', 1)]], [1, [attr('is_test', 'i', 1), attr('consumed_inputs', 'ints', [0, 0, 0, 1, 1])]]] as const) {
    const got = (await run(convertOnnxOpset(bnModel(opset, [...attrs]), 13, 'bn.onnx').bytes, samples))[0]!.Z!.data;
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i]! - expected[i]!) <= 1e-5 * Math.max(1, Math.abs(expected[i]!)), `BN-${opset} element ${i}: ${got[i]} vs ${expected[i]}`);
  }
});

test('BatchNormalization forms opset 9 cannot express are refused naming the operator', () => {
  assert.throws(() => convertOnnxOpset(bnModel(7, [attr('spatial', 'i', 0)]), 13, 'bn.onnx'), /^Error: bn\.onnx: cannot convert the model to opset 13: BatchNormalization 'bn' uses spatial = 0|BatchNormalization 'bn' uses spatial = 0/);
  assert.throws(() => convertOnnxOpset(bnModel(6, [attr('is_test', 'i', 0)]), 13, 'bn.onnx'), /BatchNormalization 'bn' is in training mode/);
  assert.throws(() => convertOnnxOpset(bnModel(7, [], ['Y', 'm', 'v']), 13, 'bn.onnx'), /BatchNormalization 'bn' uses its training outputs/);
});

function scanModel(batch: number | string, sequenceLens = false): Uint8Array {
  // Body: running sum of the scanned rows; also emits each partial sum (scan output).
  const body = graph([node('Add', ['sum_in', 'x_t'], ['sum_out']), node('Identity', ['sum_out'], ['y_t'])], {
    name: 'body', inputs: [value('sum_in', 'FLOAT', [2]), value('x_t', 'FLOAT', [2])], outputs: [value('sum_out', 'FLOAT', [2]), value('y_t', 'FLOAT', [2])],
  });
  const g = graph([node('Scan', [sequenceLens ? 'lens' : '', 'init', 'X'], ['final', 'Ys'], { name: 'scan', attributes: [attr('body', 'g', body), attr('num_scan_inputs', 'i', 1), attr('directions', 'ints', [1])] })], {
    inputs: [...(sequenceLens ? [value('lens', 'INT32', [batch])] : []), value('init', 'FLOAT', [batch, 2]), value('X', 'FLOAT', [batch, 4, 2])],
    outputs: [value('final', 'FLOAT', [batch, 2]), value('Ys', 'FLOAT', [batch, 4, 2])],
  });
  return encodeModel(model(g, { opset: 8, irVersion: 3 }));
}

test('Scan-8 with batch size 1 → Squeeze → Scan-9 → Unsqueeze at 13 and 21: outputs bit-equal in onnxruntime (reverse direction)', async () => {
  const samples: CalibrationSample[] = [{
    init: { name: 'init', dtype: 'float32', dims: [1, 2], data: Float32Array.from([0.5, -1]) },
    X: { name: 'X', dtype: 'float32', dims: [1, 4, 2], data: Float32Array.from({ length: 8 }, (_, i) => i * 1.5 - 2) },
  }];
  const original = scanModel(1);
  const reference = await run(original, samples);
  // Reverse scan: the first emitted partial sum is init + the last row.
  assert.deepEqual(Array.from(reference[0]!.Ys!.data.slice(0, 2)), [0.5 + 7, -1 + 8.5]);
  for (const to of [9, 13, 21]) assertBitEqual(reference, await run(convertOnnxOpset(original, to, 'scan.onnx').bytes, samples), `Scan-8 → ${to}`);
});

test('Scan-8 with another or unknown batch size, or with sequence_lens, is refused naming the operator', () => {
  assert.throws(() => convertOnnxOpset(scanModel(3), 13, 'scan.onnx'), /cannot convert the model to opset 13: Scan 'scan' \(opset 8\) input 'init' does not declare batch size 1 \(leading dimension 3\)/);
  assert.throws(() => convertOnnxOpset(scanModel('N'), 13, 'scan.onnx'), /Scan 'scan' \(opset 8\) input 'init' does not declare batch size 1 \(leading dimension -1\)/);
  assert.throws(() => convertOnnxOpset(scanModel(1, true), 13, 'scan.onnx'), /Scan 'scan' \(opset 8\) uses sequence_lens/);
});
