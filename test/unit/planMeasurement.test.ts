import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlan, serializePlan, type PrecisionPlan } from '../../src/core';

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
