import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeStage, mergeTwo } from '../../src/core/plan/knapsack';
import { rng } from '../fixtures/planModel';

/** A Pareto list of `len` states: bytes strictly ascending, harm strictly descending (small integers: many ties). */
function paretoList(r: () => number, len: number, integer: boolean): { w: Float64Array; h: Float64Array } {
  const w = new Float64Array(len);
  const h = new Float64Array(len);
  let bw = integer ? Math.floor(r() * 5) : r();
  let bh = len * 4;
  for (let i = 0; i < len; i++) {
    w[i] = bw;
    h[i] = bh;
    bw += integer ? 1 + Math.floor(r() * 3) : 0.01 + r();
    bh -= integer ? 1 + Math.floor(r() * 3) : 0.01 + r();
  }
  return { w, h };
}

test('DP stage: the two-option merge keeps the same states, parents and picks as the k-way merge (ties, caps, thresholds)', () => {
  const r = rng(5);
  let kept = 0, capped = 0, cut = 0;
  for (let t = 0; t < 3000; t++) {
    const integer = t % 2 === 0;
    const len = 1 + Math.floor(r() * 60);
    const { w, h } = paretoList(r, len, integer);
    // Options: often equal bytes or harm (ties between the two lists), sometimes the same option twice.
    const b0 = integer ? Math.floor(r() * 6) : r() * 3;
    const h0 = integer ? Math.floor(r() * 6) : r() * 3;
    const same = r() < 0.1;
    const b1 = same ? b0 : r() < 0.3 ? b0 : integer ? Math.floor(r() * 6) : r() * 3;
    const h1 = same ? h0 : r() < 0.3 ? h0 : integer ? Math.floor(r() * 6) : r() * 3;
    const maxW = w[len - 1]! + Math.max(b0, b1);
    const capHere = r() < 0.3 ? Infinity : r() * maxW * 1.1;
    const lambda = r() < 0.5 ? 0 : r() * 0.5;
    const base = integer ? -Math.floor(r() * 10) : -r() * 10;
    const restCNext = r();
    const threshold = r() < 0.3 ? Infinity : base + restCNext + r() * len * 4;
    const out = (): [Float64Array, Float64Array, Int32Array, Int32Array] => [new Float64Array(2 * len), new Float64Array(2 * len), new Int32Array(2 * len), new Int32Array(2 * len)];
    const a = out();
    const b = out();
    const freeOpt = new Uint8Array([9, 3, 7]);
    const ca = mergeStage(w, h, len, 2, new Float64Array([b0, b1]), new Float64Array([h0, h1]), new Int32Array(2), capHere, base, lambda, restCNext, threshold, ...a, freeOpt, 1);
    const cb = mergeTwo(w, h, len, b0, h0, b1, h1, capHere, base, lambda, restCNext, threshold, ...b, freeOpt[1]!, freeOpt[2]!);
    assert.equal(cb, ca, `case ${t}: count`);
    for (let k = 0; k < 4; k++) assert.deepEqual(b[k]!.subarray(0, cb), a[k]!.subarray(0, ca), `case ${t}: column ${k}`);
    kept += ca;
    if (capHere < maxW) capped++;
    if (ca < len) cut++;
  }
  assert.ok(kept > 10_000 && capped > 500 && cut > 1000, `too easy: ${kept} states, ${capped} capped, ${cut} cut`);
});
