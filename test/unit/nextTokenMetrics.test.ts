import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NextTokenAccumulator, argmax, klDivergenceFull, klDivergenceTopK, topKDistribution } from '../../src/core';

const softmax = (logits: number[]): Float32Array => {
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e, (x) => x / s);
};

test('KL of a distribution with itself is 0 and matches the closed form otherwise', () => {
  const p = softmax([1, 2, 3, 0.5]);
  assert.equal(klDivergenceFull(p, p), 0);
  const q = softmax([1.5, 2, 2.5, 0.5]);
  let expected = 0;
  for (let i = 0; i < 4; i++) expected += p[i]! * Math.log(p[i]! / q[i]!);
  assert.ok(Math.abs(klDivergenceFull(p, q) - expected) < 1e-7);
  assert.ok(expected > 0.01);
});

test('a candidate giving 0 where the reference does not is capped, not infinite', () => {
  const p = Float32Array.from([0.5, 0.5]);
  const q = Float32Array.from([1, 0]);
  const kl = klDivergenceFull(p, q);
  assert.ok(Number.isFinite(kl) && kl > 40 && kl < 50);
});

test('top-k KL is a lower bound of the exact KL and equals it when k covers the vocabulary', () => {
  const logits = Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.3) * 3);
  const p = softmax(logits);
  const q = softmax(logits.map((x, i) => x + Math.cos(i * 0.7) * 0.8));
  const exact = klDivergenceFull(p, q);
  let prev = 0;
  for (const k of [1, 4, 16, 63]) {
    const approx = klDivergenceTopK(topKDistribution(p, k) as Extract<ReturnType<typeof topKDistribution>, { kind: 'topk' }>, q);
    assert.ok(approx <= exact + 1e-9, `k=${k}: ${approx} > ${exact}`);
    assert.ok(approx >= prev - 1e-9, `k=${k}: not monotone`);
    prev = approx;
  }
  const all = klDivergenceTopK(topKDistribution(p, 64) as Extract<ReturnType<typeof topKDistribution>, { kind: 'topk' }>, q);
  assert.ok(Math.abs(all - exact) < 1e-6);
});

test('accumulator: perplexity, mean KL, top-1 agreement and non-finite positions', () => {
  const acc = new NextTokenAccumulator();
  const p1 = softmax([3, 1, 0]);
  const p2 = softmax([0, 3, 1]);
  acc.add({ kind: 'full', probs: p1 }, argmax(p1), p1[0]!, p1, 0);
  const q2 = softmax([3, 0, 1]);
  acc.add({ kind: 'full', probs: p2 }, argmax(p2), p2[1]!, q2, 1);
  acc.add({ kind: 'full', probs: p2 }, argmax(p2), p2[1]!, Float32Array.from([NaN, 0, 0]), 1);
  const r = acc.result();
  assert.equal(r.positions, 2);
  assert.equal(r.nonFinitePositions, 1);
  assert.equal(r.top1Agreement, 0.5);
  assert.equal(r.klBound, 'exact');
  assert.ok(Math.abs(r.klDivergence - klDivergenceFull(p2, q2) / 2) < 1e-9);
  assert.ok(Math.abs(r.perplexity - Math.exp(-(Math.log(p1[0]!) + Math.log(q2[1]!)) / 2)) < 1e-6);
  assert.ok(Math.abs(r.referencePerplexity - Math.exp(-(Math.log(p1[0]!) + Math.log(p2[1]!)) / 2)) < 1e-6);
  assert.ok(r.perplexity > r.referencePerplexity);
  assert.equal(r.klMax, klDivergenceFull(p2, q2));
});
