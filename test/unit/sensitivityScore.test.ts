import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveRole, isOffsetVector, layerContexts, scoreLayer, type Layer, type LayerRole, type WeightStats } from '../../src/core';

const STATS: WeightStats = { count: 1000, maxAbs: 3, mean: 0, std: 1, maxOverStd: 3, kurtosis: 0, beyondFp16: 0, zeros: 0, nonFinite: 0 };
const err = (relMse: number) => ({ relMse, sqnrDb: -10 * Math.log10(relMse), maxAbsError: 0, overflowCount: 0, count: 1000 });

type L = Pick<Layer, 'name' | 'role' | 'block' | 'shape' | 'op'>;
const layer = (name: string, role: LayerRole, op: string, shape: number[]): L => ({ name, role, op, shape, block: undefined });

test('isOffsetVector: vectors added to a signal, not vector-shaped maps or scales', () => {
  assert.equal(isOffsetVector({ op: 'Add', shape: [32] }), true);
  assert.equal(isOffsetVector({ op: 'Add', shape: [1, 64, 1, 1] }), true);
  assert.equal(isOffsetVector({ op: 'Slice', shape: [512] }), true);
  assert.equal(isOffsetVector({ op: 'Add', shape: [1, 2, 22, 22] }), false, 'a 2-D constant grid is not an offset vector');
  assert.equal(isOffsetVector({ op: 'Gemm', shape: [1, 32] }), false, 'a 1-output linear head multiplies the signal');
  assert.equal(isOffsetVector({ op: 'Mul', shape: [64] }), false, 'a per-channel scale passes its relative error 1:1');
  assert.equal(isOffsetVector({ op: 'Conv', shape: [32, 1, 3] }), false);
  assert.equal(isOffsetVector({ op: 'Add', shape: [] }), false);
});

test('effectiveRole + scoreLayer: an offset vector scores as a bias, below the matrices, and says why', () => {
  assert.equal(effectiveRole(layer('b', 'recurrent', 'Slice', [512])), 'bias');
  assert.equal(effectiveRole(layer('w', 'recurrent', 'Slice', [512, 128])), 'recurrent');
  assert.equal(effectiveRole(layer('n', 'norm', 'LayerNormalization', [32])), 'norm', 'norm scales keep their role');
  assert.equal(effectiveRole({ role: 'conv' }), 'conv', 'no shape → declared role');
  const layers = [layer('conv', 'conv', 'Conv', [64, 32, 3, 3]), layer('w_ih', 'recurrent', 'Slice', [512, 128]), layer('b_ih', 'recurrent', 'Slice', [512]), layer('head', 'linear', 'Conv', [1, 64, 1])];
  const ctx = layerContexts(layers);
  // The bias-like slice is not a weight layer for positions: 3 weight layers remain, head is last.
  assert.equal(ctx.get('head')!.count, 3);
  assert.equal(ctx.get('head')!.index, 2);
  const score = (l: L) => scoreLayer(l, undefined, { stats: STATS, errors: { int8: err(1e-4) }, position: ctx.get(l.name)! }).int8!;
  const w = score(layers[1]!), b = score(layers[2]!);
  assert.ok(b.staticScore < w.staticScore / 5, `bias slice ${b.staticScore} vs weight slice ${w.staticScore}`);
  assert.ok(Number.isFinite(b.staticScore) && b.staticScore > 0);
  assert.match(b.reason, /offset vector/);
  assert.doesNotMatch(w.reason, /offset vector/);
  // Same relMse, same role: the score stays additive NSR (linear in relMse).
  const b2 = scoreLayer(layers[2]!, undefined, { stats: STATS, errors: { int8: err(2e-4) }, position: ctx.get('b_ih')! }).int8!;
  assert.ok(Math.abs(b2.staticScore / b.staticScore - 2) < 1e-9);
});

