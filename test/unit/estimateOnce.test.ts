/**
 * Issue 12: the planner prepares the estimate once. `prepareEstimate` holds everything that does not depend on the
 * layers' formats (shape inference, activations, KV cache, FLOPs); `estimateWith` adds an assignment. The split
 * gives exactly `estimate`'s result, a preparation can be reused for several assignments without leaking state,
 * and `solvePlan` + `replacePlanAssignment` prepare once (before the split: two full estimates per solve, a third
 * per replaced assignment).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryByteSource, estimate, estimateWith, getTarget, openModel, prepareEstimate, replacePlanAssignment, solvePlan, type Model } from '../../src/core';
import { estimatePreparations } from '../../src/core/estimate';
import { tinyTransformer } from '../fixtures/planModel';
import { buildMatMulModel } from '../fixtures/planOnnx';

const H100 = getTarget('h100')!;
const CPU = getTarget('cpu')!;

function assignmentOf(model: Model, formats: readonly string[]): Record<string, string> {
  return Object.fromEntries(model.layers.filter((l) => l.quantizable).map((l, i) => [l.name, formats[i % formats.length]!]));
}

test('estimateWith over one preparation equals estimate, for several assignments in turn', async () => {
  const onnx = await openModel(new MemoryByteSource('m.onnx', buildMatMulModel({ k: 64, n: 32, gemmOut: 16 })));
  for (const model of [tinyTransformer(3, 64, 128, { experts: 4 }), onnx]) {
    for (const target of [H100, CPU]) {
      const options = { context: 512, kvFormat: 'int8', batch: 2 };
      const prepared = prepareEstimate(model, target, options);
      for (const choice of [{}, { assignment: assignmentOf(model, ['int4', 'fp16', 'keep']) }, { defaultFormat: 'int8' }, { assignment: assignmentOf(model, ['nvfp4']) }]) {
        assert.deepEqual(estimateWith(prepared, choice), estimate(model, target, { ...options, ...choice }), `${model.fileName} on ${target.id}`);
      }
    }
  }
});

test('solvePlan prepares the estimate once; replacing the assignment re-runs only its own part', () => {
  const model = tinyTransformer(4, 64, 128);
  const input = { target: H100, budget: { avgBits: 6 }, harm: () => 1e-4, formats: ['fp16', 'int8', 'int4'], fingerprint: `pl1:${'0'.repeat(64)}`, context: 1024 };
  const before = estimatePreparations.count;
  const solved = solvePlan(model, input);
  assert.equal(estimatePreparations.count - before, 1, 'one preparation for the budget and the chosen assignment');
  const other = assignmentOf(model, ['int8']);
  const replaced = replacePlanAssignment(model, input, solved, other);
  assert.equal(estimatePreparations.count - before, 1, 'no new preparation for a replaced assignment');
  assert.deepEqual(solved.estimate, estimate(model, H100, { context: 1024, assignment: solved.assignment }));
  assert.deepEqual(replaced.estimate, estimate(model, H100, { context: 1024, assignment: other }));
});

test('perLayer false leaves only the per-layer list out: of estimateWith, solvePlan and a replaced assignment', () => {
  const model = tinyTransformer(4, 64, 128, { experts: 4 });
  for (const target of [H100, CPU]) {
    const prepared = prepareEstimate(model, target, { context: 512 });
    for (const choice of [{}, { assignment: assignmentOf(model, ['int4', 'fp16', 'nvfp4']) }, { defaultFormat: 'int8' }]) {
      const full = estimateWith(prepared, choice);
      assert.ok(full.perLayer.length > 0);
      assert.deepEqual(estimateWith(prepared, { ...choice, perLayer: false }), { ...full, perLayer: [] }, target.id);
      assert.deepEqual(estimateWith(prepared, { ...choice, perLayer: true }), full);
    }
  }
  const input = { target: H100, budget: { avgBits: 6 }, harm: () => 1e-4, formats: ['fp16', 'int8', 'int4'], fingerprint: `pl1:${'0'.repeat(64)}`, context: 1024 };
  const solved = solvePlan(model, input);
  const lean = solvePlan(model, { ...input, perLayer: false });
  assert.ok(solved.estimate.perLayer.length > 0);
  assert.deepEqual(lean.assignment, solved.assignment);
  assert.deepEqual(lean.plan, solved.plan);
  assert.deepEqual(lean.estimate, { ...solved.estimate, perLayer: [] });
  const other = assignmentOf(model, ['int8']);
  const replaced = replacePlanAssignment(model, { ...input, perLayer: false }, lean, other);
  assert.deepEqual(replaced.estimate, { ...estimate(model, H100, { context: 1024, assignment: other }), perLayer: [] });
});
