import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measurementMetric, parsePlan, serializePlan, type PlanSqnrMeasurement, type PrecisionPlan } from '../../src/core';
import { MAX_MEASUREMENT_TEXT_BYTES } from '../../src/core/plan/planFile';
import { measuredText } from '../../src/core/editor/planLenses';

const base: PrecisionPlan = {
  version: 1, model: { file: 'm.gguf', fingerprint: `pl1:${'0'.repeat(64)}` }, target: 'cpu', budget: { avgBits: 5 }, context: 2048, batch: 1, kvFormat: 'fp16', defaultFormat: 'keep',
  layers: [{ layer: 'blk.0.attn_q.weight', format: 'q4_k' }],
};
const measurement: NonNullable<PrecisionPlan['measurement']> = {
  runtime: 'llama.cpp (CPU)', text: 'tinyTales.txt (bundled)', measuredAt: '2026-12-03T14:00:00.000Z', delivered: 'solver@q4_k_m',
  plan: { predictedKl: 0.021, klDivergence: 0.019, klStdErr: 0.001, perplexity: 8.06, referencePerplexity: 7.81, top1Agreement: 0.86 },
  layers: [{ layer: 'blk.0.attn_q.weight', format: 'q4_k', measuredKl: 0.0005 }],
  baselines: [{ id: 'q4_k_m', label: 'Q4_K_M-like', weightBytes: 1000, klDivergence: 0.062, perplexity: 8.16, solverKlDivergence: 0.053, solverWeightBytes: 990 }],
};

test('a plan with a measurement record round-trips through serialize and parse', () => {
  const parsed = parsePlan(serializePlan({ ...base, measurement }), 'm.precision.json');
  assert.deepEqual(parsed.diagnostics, []);
  assert.deepEqual(parsed.plan?.measurement, measurement);
});

test('a malformed measurement record is ignored with a warning, the plan still loads', () => {
  const text = serializePlan({ ...base, measurement: { ...measurement, plan: { ...measurement.plan, klDivergence: 'x' as unknown as number } } });
  const parsed = parsePlan(text, 'm.precision.json');
  assert.ok(parsed.plan);
  assert.equal(parsed.plan.measurement, undefined);
  assert.deepEqual(parsed.diagnostics.map((d) => [d.severity, /'measurement' is not a valid measurement record/.test(d.message)]), [['warning', true]]);
});

// ONNX (ONNX Runtime node): output SQNR in dB, its own record shape.
const onnxMeasurement: PlanSqnrMeasurement = {
  metric: 'output-sqnr-db', runtime: 'ONNX Runtime node 1.30.0 (CPU)', text: 'generated (26 samples, seed 1): Input3[1×1×28×28] uniform [0,1]; compared output Plus214_Output_0',
  measuredAt: '2026-12-03T19:50:40.160Z', delivered: 'solver',
  plan: { predictedSqnrDb: 14.88, predictor: 'measured-layers', measuredSqnrDb: 14.66 },
  layers: [{ layer: 'Convolution110', format: 'int4_g64', predictedSqnrDb: 19.09, measuredSqnrDb: 17.41 }, { layer: 'Times212', format: 'int4_g32', measuredSqnrDb: -3.5 }],
  baselines: [{ id: 'uniform-int4', label: 'all INT4 (weight-only, g128)', weightBytes: 3238, measuredSqnrDb: 9.72 }],
};
const onnxBase: PrecisionPlan = { ...base, model: { file: 'm.onnx', fingerprint: base.model.fingerprint }, layers: [{ layer: 'Convolution110', format: 'int4_g64' }] };
const invalid = (d: readonly { severity: string; message: string }[]): string[][] => d.map((x) => [x.severity, String(/'measurement' is not a valid measurement record/.test(x.message))]);

/** The plan text with `record` as its measurement, written by hand (numbers and keys a writer would never emit). */
function withRecordText(record: string): string {
  return serializePlan(onnxBase).replace(/,\n {2}"layers": \[/, `,\n  "measurement": ${record},\n  "layers": [`);
}

test('an ONNX record (output SQNR in dB) round-trips, with or without the whole plan; its metric is named', () => {
  const parsed = parsePlan(serializePlan({ ...onnxBase, measurement: onnxMeasurement }), 'm.onnx.precision.json');
  assert.deepEqual(parsed.diagnostics, []);
  assert.deepEqual(parsed.plan?.measurement, onnxMeasurement);
  assert.equal(measurementMetric(parsed.plan!.measurement!), 'output-sqnr-db');
  const { plan: _plan, ...layersOnly } = onnxMeasurement;
  assert.deepEqual(parsePlan(serializePlan({ ...onnxBase, measurement: layersOnly }), 'x').plan?.measurement, layersOnly);
  // A GGUF record without `metric` is KL; with `metric: "kl"` it is kept as written.
  assert.equal(measurementMetric(parsePlan(serializePlan({ ...base, measurement }), 'x').plan!.measurement!), 'kl');
  assert.deepEqual(parsePlan(serializePlan({ ...base, measurement: { ...measurement, metric: 'kl' } }), 'x').plan?.measurement, { ...measurement, metric: 'kl' });
});

test('untrusted records: unknown metric, missing figures, non-finite numbers, long strings, too many entries, __proto__ keys', () => {
  const rec = (over: Record<string, unknown>): string => JSON.stringify({ ...onnxMeasurement, ...over });
  // The whole record is refused (a warning; the plan still loads).
  for (const bad of [
    rec({ metric: 'perplexity' }),
    rec({ metric: 7 }),
    rec({ plan: { predictedSqnrDb: 3 } }),
    rec({ plan: undefined, layers: [] }),
    rec({ runtime: 'x'.repeat(4097) }),
    rec({ delivered: undefined }),
    rec({ plan: { measuredSqnrDb: 'NaN' } }),
    rec({ plan: 'x' }),
    rec({ metric: undefined }), // then it is a KL record, and it has no KL figures
    rec({ plan: { measuredSqnrDb: 1 } }).replace('"measuredSqnrDb":1}', '"measuredSqnrDb":1e999}'), // Infinity after JSON parsing
  ]) {
    const parsed = parsePlan(withRecordText(bad), 'm.onnx.precision.json');
    assert.ok(parsed.plan, bad.slice(0, 80));
    assert.equal(parsed.plan.measurement, undefined, bad.slice(0, 200));
    assert.deepEqual(invalid(parsed.diagnostics), [['warning', 'true']], bad.slice(0, 200));
  }
  // Bad entries are dropped one by one; the rest of the record stays.
  const layers = [
    { layer: 'ok', format: 'int8', measuredSqnrDb: 30 },
    { layer: 'inf', format: 'int8', measuredSqnrDb: 1 },
    { layer: 'x'.repeat(4097), format: 'int8', measuredSqnrDb: 30 },
    { layer: 'no-figure', format: 'int8' },
    { layer: 'string-figure', format: 'int8', measuredSqnrDb: '30' },
    { layer: 'bad-prediction', format: 'int8', measuredSqnrDb: 20, predictedSqnrDb: 1 },
    7, null, [],
  ];
  const baselines = Array.from({ length: 100 }, (_, i) => ({ id: `b${i}`, label: 'uniform', weightBytes: i, measuredSqnrDb: i }));
  const text = withRecordText(rec({ layers, baselines, plan: { measuredSqnrDb: 12, predictor: 'guess' } }).replace('"measuredSqnrDb":1}', '"measuredSqnrDb":-1e999}').replace('"predictedSqnrDb":1}', '"predictedSqnrDb":1e400}'));
  const m = parsePlan(text, 'x').plan?.measurement;
  assert.ok(m && m.metric === 'output-sqnr-db');
  assert.deepEqual(m.layers, [{ layer: 'ok', format: 'int8', measuredSqnrDb: 30 }, { layer: 'bad-prediction', format: 'int8', measuredSqnrDb: 20 }]);
  assert.deepEqual(m.plan, { measuredSqnrDb: 12 }, 'an unknown predictor is dropped, not kept');
  assert.equal(m.baselines?.length, 64, 'at most 64 baselines');
  // Keys are read from the syntax tree: "__proto__" neither sets a prototype nor supplies a missing field.
  const proto = parsePlan(withRecordText(`{"__proto__": {"runtime": "from the prototype"}, ${rec({ runtime: undefined }).slice(1)}`), 'x');
  assert.equal(proto.plan?.measurement, undefined);
  const protoLayer = parsePlan(withRecordText(rec({ layers: [JSON.parse('{"__proto__": {"measuredSqnrDb": 5}, "layer": "p", "format": "int8"}')] }).replace('"layers":[{"layer"', '"layers":[{"__proto__":{"measuredSqnrDb":5},"layer"')), 'x').plan?.measurement;
  assert.ok(protoLayer && protoLayer.metric === 'output-sqnr-db' && protoLayer.layers === undefined, JSON.stringify(protoLayer));
  // A record above MAX_MEASUREMENT_TEXT_BYTES is refused whole, without decoding it.
  const huge = parsePlan(withRecordText(rec({ text: 'x'.repeat(MAX_MEASUREMENT_TEXT_BYTES) })), 'x');
  assert.ok(huge.plan);
  assert.equal(huge.plan.measurement, undefined);
});

test('lens text names the metric: output SQNR in dB for ONNX (never KL), KL and perplexity for llama.cpp', () => {
  assert.equal(measuredText(onnxMeasurement), 'predicted output SQNR 14.9 dB (layers measured alone, added) · measured 14.7 dB');
  assert.equal(measuredText({ ...onnxMeasurement, plan: { predictedSqnrDb: 20.04, predictor: 'static' as const, measuredSqnrDb: 18 } }), 'predicted output SQNR 20.0 dB · measured 18.0 dB');
  assert.equal(measuredText({ ...onnxMeasurement, plan: { measuredSqnrDb: 18 } }), 'measured output SQNR 18.0 dB');
  const { plan: _plan, ...layersOnly } = onnxMeasurement;
  assert.equal(measuredText(layersOnly), 'measured output SQNR of 2 layer(s) alone');
  for (const m of [onnxMeasurement, layersOnly]) assert.doesNotMatch(measuredText(m), /KL|perplexity/);
  assert.equal(measuredText(measurement), 'predicted KL 0.021 · measured 0.019 · perplexity 8.06 (original 7.81)');
});
