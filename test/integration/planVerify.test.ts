import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { CancelledError, KEEP_FORMAT, assignmentWeightBytes, getTarget, llamaCppRulesBaseline, q4kmFormats, solveModel, standardBaselines, type HarmFunction } from '../../src/core';
import { planReference, referenceSampleCount, verifyPlan } from '../../src/node/planVerify';
import { loadModel } from './helpers/run';
import { SHARED_MODELS } from './sharedModels';

const MNIST = path.join(SHARED_MODELS, 'onnx/mnist-12.onnx');
const H100 = getTarget('h100')!;
const FORMATS = ['fp16', 'fp8_e4m3', 'int8', 'int4_g32', 'int4'];

const load = loadModel;

/** A deliberately wrong predictor: fewer bits look better, so the solver's plan is poor and verification must catch it. */
const inverted: HarmFunction = (_l, f) => 1e-3 * ((f.bytesPerBlock * 8) / f.blockSize);
/** A plausible predictor: noise power halves per extra bit. */
const plausible: HarmFunction = (_l, f) => 4 ** (-(f.bytesPerBlock * 8) / f.blockSize);

test('referenceSampleCount: enough samples for tiny outputs, bounded', () => {
  const outs = (n: number) => [{ y: { dims: [1, n], data: new Float32Array(n) } }];
  assert.equal(referenceSampleCount(outs(1000), ['y'], 4), 4);
  assert.equal(referenceSampleCount(outs(10), ['y'], 4), 26);
  assert.equal(referenceSampleCount(outs(2), ['y'], 4), 64, 'capped at MAX_REFERENCE_SAMPLES');
  assert.equal(referenceSampleCount(outs(2), ['y'], 4, { maxSamples: 16 }), 16);
  assert.equal(referenceSampleCount(outs(2), ['y'], 4, { minOutputValues: 4 }), 4);
});

test('verifyPlan on mnist-12: the delivered plan fits, respects formats and pins, and measures at least as well as every candidate', async () => {
  const model = await load(MNIST);
  const reference = await planReference(MNIST, model);
  assert.ok(reference.samples.length >= 4);
  assert.equal(reference.compared.length, 1);
  const baselines = standardBaselines(model, { native: H100.native });
  const int8 = baselines.find((b) => b.id === 'uniform-int8')!;
  const budget = assignmentWeightBytes(model, int8.assignment);
  const solver = solveModel(model, { weightBudgetBytes: budget, formats: FORMATS, native: H100.native, harm: inverted });
  const pinned = { Times212: 'int8' };
  const v = await verifyPlan(MNIST, model, { weightBudgetBytes: budget, harm: inverted, alternativeHarms: [{ id: 'plausible', harm: plausible }], formats: FORMATS, native: H100.native, pinned, baselines, reference, maxCandidates: 12 });
  assert.ok(v.candidates.length <= 12);
  assert.equal(v.candidates[0]!.id, 'solver');
  const ids = v.candidates.map((c) => c.id);
  assert.ok(ids.includes('uniform-int8') && ids.includes('uniform-int4'), `baselines that fit are measured: ${ids.join(', ')}`);
  assert.ok(!ids.includes('uniform-fp16'), 'a baseline over the budget is not a candidate');
  for (const c of v.candidates) {
    assert.ok(c.weightBytes <= budget, `${c.id} fits`);
    assert.equal(c.assignment['Times212'], 'int8', `${c.id} keeps the pin`);
    for (const id of Object.values(c.assignment)) assert.ok(id === KEEP_FORMAT || FORMATS.includes(id), `${c.id} uses ${id}`);
    assert.ok(c.measuredSqnrDb !== undefined, `${c.id}: ${c.error}`);
    assert.ok(v.best.measuredSqnrDb! >= c.measuredSqnrDb!, `${c.id} ${c.measuredSqnrDb} > delivered ${v.best.measuredSqnrDb}`);
  }
  // The inverted predictor's plan (everything at 4 bits) is clearly worse than uniform INT8: verification replaces it.
  assert.notDeepEqual(v.best.assignment, solver.assignment);
  assert.ok(v.gainOverSolverDb > 3, `gain ${v.gainOverSolverDb}`);
  assert.ok(v.beats.includes('uniform-int8'));
});

test('verifyPlan stops at the candidate cap and on cancellation', async () => {
  const model = await load(MNIST);
  const reference = await planReference(MNIST, model);
  const budget = assignmentWeightBytes(model, llamaCppRulesBaseline(model, q4kmFormats(model), { native: H100.native })!.assignment);
  const one = await verifyPlan(MNIST, model, { weightBudgetBytes: budget, harm: plausible, formats: FORMATS, native: H100.native, reference, maxCandidates: 1 });
  assert.equal(one.candidates.length, 1);
  assert.equal(one.best.id, 'solver');
  assert.equal(one.stopped, 'cap');
  await assert.rejects(
    verifyPlan(MNIST, model, { weightBudgetBytes: budget, harm: plausible, formats: FORMATS, reference, token: { isCancellationRequested: true } }),
    (e: unknown) => e instanceof CancelledError,
  );
});
