import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignmentHarm, assignmentWeightBytes, getTarget, solveModel, standardBaselines, type HarmFunction, type Model } from '../../src/core';
import { buildIrModel, rng, tinyTransformer } from '../fixtures/planModel';

function harmFor(model: Model, seed = 1): HarmFunction {
  const r = rng(seed);
  const scale = new Map(model.layers.map((l) => [l.name, 0.2 + r() * 2]));
  return (layer, f) => scale.get(layer.name)! * 2 ** (-(f.bytesPerBlock * 8) / f.blockSize);
}

const H100 = getTarget('h100')!;

test('anchored solve: penalty 0 is the plain optimum, a large penalty returns the anchor, harm excludes the penalty', () => {
  const model = tinyTransformer(4, 64, 160);
  const harm = harmFor(model, 7);
  for (const b of standardBaselines(model, { native: H100.native })) {
    const bytes = assignmentWeightBytes(model, b.assignment);
    const plain = solveModel(model, { weightBudgetBytes: bytes, native: H100.native, harm });
    const zero = solveModel(model, { weightBudgetBytes: bytes, native: H100.native, harm, anchor: { assignment: b.assignment, penalty: 0 } });
    assert.deepEqual(zero.assignment, plain.assignment, b.id);
    const far = solveModel(model, { weightBudgetBytes: bytes, native: H100.native, harm, anchor: { assignment: b.assignment, penalty: 1e6 } });
    for (const [layer, id] of Object.entries(b.assignment)) assert.equal(far.assignment[layer], id, `${b.id}: ${layer}`);
    assert.ok(Math.abs(far.harm - assignmentHarm(model, far.assignment, harm)!) < 1e-9, 'reported harm is the predicted harm, without the penalty');
    assert.ok(far.harm >= plain.harm - 1e-12);
  }
});

test('anchored solve equals brute force of harm + penalty × changed layers, and moves monotonically towards the optimum', () => {
  const model = buildIrModel([
    { name: 'a', role: 'linear', shape: [64, 32] },
    { name: 'b', role: 'linear', shape: [32, 96] },
    { name: 'c', role: 'conv', shape: [16, 8, 3, 3] },
    { name: 'd', role: 'output_head', shape: [100, 32] },
  ]);
  const harm = harmFor(model, 3);
  const formats = ['fp16', 'int8', 'int4_g32', 'int4'];
  const layers = model.layers.filter((l) => l.quantizable);
  const anchor = Object.fromEntries(layers.map((l) => [l.name, 'int8']));
  const budget = assignmentWeightBytes(model, anchor);
  let lastChanges = Infinity;
  for (const penalty of [0, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 1, 10]) {
    let best = Infinity;
    const walk = (i: number, a: Record<string, string>, changes: number): void => {
      if (i === layers.length) {
        if (assignmentWeightBytes(model, a) <= budget) best = Math.min(best, assignmentHarm(model, a, harm)! + penalty * changes);
        return;
      }
      for (const f of ['keep', ...formats]) walk(i + 1, { ...a, [layers[i]!.name]: f }, changes + (f === anchor[layers[i]!.name] ? 0 : 1));
    };
    walk(0, {}, 0);
    const r = solveModel(model, { weightBudgetBytes: budget, formats, harm, anchor: { assignment: anchor, penalty } });
    const changes = layers.filter((l) => r.assignment[l.name] !== anchor[l.name]).length;
    assert.ok(Math.abs(r.harm + penalty * changes - best) < 1e-12, `penalty ${penalty}: ${r.harm + penalty * changes} vs ${best}`);
    assert.ok(changes <= lastChanges || penalty === 0, `penalty ${penalty}: ${changes} changes after ${lastChanges}`);
    lastChanges = changes;
    assert.ok(r.weightBytes <= budget);
  }
  assert.equal(lastChanges, 0, 'a large penalty keeps the anchor');
});
