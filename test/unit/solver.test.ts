import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harmFromScores, knapsackFrontier, solveMultipleChoiceKnapsack, type KnapsackOption } from '../../src/core/plan/solver';
import { getNumberFormat } from '../../src/core/precision/numberFormats';
import type { Layer } from '../../src/core/model/types';
import { rankByRateDescending, sortByRateDescending } from '../../src/core/plan/knapsack';
import { rng } from '../fixtures/planModel';

/** Exhaustive optimum: least harm with bytes ≤ budget (undefined when nothing fits). */
function bruteForce(groups: KnapsackOption[][], budget: number): { harm: number; bytes: number } | undefined {
  let best: { harm: number; bytes: number } | undefined;
  const walk = (g: number, bytes: number, harm: number): void => {
    if (bytes > budget) return;
    if (g === groups.length) {
      if (!best || harm < best.harm - 1e-12) best = { harm, bytes };
      return;
    }
    for (const o of groups[g]!) walk(g + 1, bytes + o.bytes, harm + o.harm);
  };
  walk(0, 0, 0);
  return best;
}

function randomInstance(r: () => number, integerHarm: boolean): KnapsackOption[][] {
  const n = 1 + Math.floor(r() * 7);
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + Math.floor(r() * 5) }, () => ({ bytes: 1 + Math.floor(r() * 100), harm: integerHarm ? Math.floor(r() * 6) : r() * 10 })),
  );
}

test('solver matches brute force on 600 random small instances (incl. ties and infeasible budgets)', () => {
  const r = rng(42);
  let infeasible = 0;
  let dpUsed = 0;
  for (let i = 0; i < 600; i++) {
    const groups = randomInstance(r, i % 2 === 0);
    const total = groups.reduce((a, g) => a + Math.max(...g.map((o) => o.bytes)), 0);
    const budget = Math.floor(r() * total * 1.1);
    const exact = bruteForce(groups, budget);
    const got = solveMultipleChoiceKnapsack(groups, budget);
    if (!exact) {
      infeasible++;
      assert.equal(got.status, 'infeasible', `instance ${i}`);
      assert.ok(got.minBytes > budget);
      continue;
    }
    assert.equal(got.status, 'optimal', `instance ${i}`);
    assert.ok(Math.abs(got.harm - exact.harm) < 1e-9, `instance ${i}: harm ${got.harm} vs optimum ${exact.harm}`);
    assert.ok(got.bytes <= budget, `instance ${i}: ${got.bytes} bytes over budget ${budget}`);
    assert.ok(got.lowerBound <= exact.harm + 1e-9, `instance ${i}: lower bound above optimum`);
    // The chosen indices really add up to the reported totals.
    const bytes = got.choice.reduce((a, c, g) => a + groups[g]![c]!.bytes, 0);
    const harm = got.choice.reduce((a, c, g) => a + groups[g]![c]!.harm, 0);
    assert.equal(bytes, got.bytes);
    assert.ok(Math.abs(harm - got.harm) < 1e-9);
    if (got.freeGroups > 0) dpUsed++;
  }
  assert.ok(infeasible > 10, `only ${infeasible} infeasible instances exercised`);
  assert.ok(dpUsed > 10, `the exact DP phase ran on only ${dpUsed} instances`);
});

test('when the DP is cut short (states per stage or in total) the result reports a valid gap', () => {
  const r = rng(7);
  let gaps = 0;
  for (let i = 0; i < 200; i++) {
    const groups = randomInstance(r, false);
    const total = groups.reduce((a, g) => a + Math.max(...g.map((o) => o.bytes)), 0);
    const budget = Math.floor(total * 0.6);
    const exact = bruteForce(groups, budget);
    if (!exact) continue;
    const got = solveMultipleChoiceKnapsack(groups, budget, i % 2 ? { maxStates: 1 } : { maxTotalStates: 3 });
    assert.ok(got.bytes <= budget);
    assert.ok(got.harm >= exact.harm - 1e-9);
    if (got.status === 'gap') {
      gaps++;
      assert.ok(got.lowerBound <= exact.harm + 1e-9);
      assert.ok(Math.abs(got.gap - (got.harm - got.lowerBound)) < 1e-9);
    } else assert.ok(Math.abs(got.harm - exact.harm) < 1e-9);
  }
  assert.ok(gaps > 0, 'no instance hit the state cap');
});

test('frontier is monotone and every point is the exact optimum at its bytes', () => {
  const r = rng(3);
  for (let i = 0; i < 100; i++) {
    const groups = randomInstance(r, i % 3 === 0);
    const f = knapsackFrontier(groups);
    for (let k = 1; k < f.length; k++) {
      assert.ok(f[k]!.bytes > f[k - 1]!.bytes, 'bytes must increase');
      assert.ok(f[k]!.harm < f[k - 1]!.harm, 'harm must decrease');
    }
    for (const p of f) assert.ok(Math.abs(bruteForce(groups, p.bytes)!.harm - p.harm) < 1e-9, `instance ${i}: frontier point not optimal`);
  }
});

test('frontier is downsampled to maxPoints with both ends kept', () => {
  const r = rng(9);
  const groups = Array.from({ length: 300 }, () => Array.from({ length: 5 }, () => ({ bytes: 1 + Math.floor(r() * 1000), harm: r() })));
  const full = knapsackFrontier(groups, 1e9);
  const small = knapsackFrontier(groups, 50);
  assert.ok(full.length > 100);
  assert.ok(small.length <= 50 && small.length >= 40, `got ${small.length} points`);
  assert.deepEqual(small[0], full[0]);
  assert.deepEqual(small[small.length - 1], full[full.length - 1]);
});

test('10,000 groups × 8 options solve quickly and are proven optimal or within a tiny gap', () => {
  const r = rng(11);
  const groups = Array.from({ length: 10_000 }, () => {
    const params = 1024 * (1 + Math.floor(r() * 64));
    const s = r() * 3;
    // fp16, fp8, int8, int4 g32/g64/g128, mxfp6, mxfp4-like sizes with harm falling as bits rise.
    return [16, 8.25, 8, 6.25, 4.5, 4.25, 4.125, 2.5].map((bits) => ({ bytes: Math.ceil((params * bits) / 8), harm: s * params * 2 ** (-bits) * (0.8 + 0.4 * r()) }));
  });
  const total = groups.reduce((a, g) => a + g[0]!.bytes, 0);
  const t0 = performance.now();
  const got = solveMultipleChoiceKnapsack(groups, Math.floor(total * 0.3));
  const ms = performance.now() - t0;
  assert.ok(got.bytes <= total * 0.3);
  assert.ok(got.status === 'optimal' || got.gap / got.harm < 1e-6, `status ${got.status}, relative gap ${got.gap / got.harm}`);
  assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
  process.stdout.write(`# 10k×8 solve: ${ms.toFixed(0)} ms, status ${got.status}, free groups ${got.freeGroups}, DP states ${got.states}\n`);
});

/** Optimum by a dense DP over integer byte counts (a reference for instances too large for brute force). */
function denseOptimum(groups: KnapsackOption[][], budget: number): number {
  let best = new Float64Array(budget + 1).fill(Infinity);
  best[0] = 0;
  for (const g of groups) {
    const next = new Float64Array(budget + 1).fill(Infinity);
    for (let b = 0; b <= budget; b++) {
      if (best[b] === Infinity) continue;
      for (const o of g) if (b + o.bytes <= budget && best[b]! + o.harm < next[b + o.bytes]!) next[b + o.bytes] = best[b]! + o.harm;
    }
    best = next;
  }
  return Math.min(...best);
}

test('long DPs (thousands of states per stage, scratch lists grown and swapped) stay exact', () => {
  const r = rng(11);
  let big = 0;
  for (let i = 0; i < 12; i++) {
    // Many groups with near-equal rates: the reduction fixes few of them and the Pareto lists grow long.
    const groups = Array.from({ length: 300 + Math.floor(r() * 200) }, () => {
      const base = 0.5 + r() * 0.01;
      return Array.from({ length: 3 + Math.floor(r() * 3) }, (_, j) => ({ bytes: 7 + j * 13 + Math.floor(r() * 5), harm: Math.max(0, 40 - j * 13 * base + r() * 2) }));
    });
    const total = groups.reduce((a, g) => a + Math.max(...g.map((o) => o.bytes)), 0);
    const budget = Math.floor(total * (0.4 + 0.3 * r()));
    const got = solveMultipleChoiceKnapsack(groups, budget);
    assert.equal(got.status, 'optimal', `instance ${i}`);
    const exact = denseOptimum(groups, budget);
    assert.ok(Math.abs(got.harm - exact) < 1e-9 * Math.max(1, exact), `instance ${i}: ${got.harm} vs optimum ${exact}`);
    if (got.states > 20_000) big++;
  }
  assert.ok(big >= 3, `only ${big} instances had long Pareto lists`);
});

test('edge order: the radix sort of rates equals the comparator sort (rate descending, index ascending on ties)', () => {
  const r = rng(5);
  for (const n of [10, 3000, 20_000]) {
    // Few distinct values (many ties), values across many binades, and exact powers of two.
    const rates = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 2 ** Math.floor(r() * 80 - 40) : i % 3 === 1 ? Math.floor(r() * 7) + 1 : r() * 10 ** Math.floor(r() * 30 - 15)));
    const want = Array.from({ length: n }, (_, i) => i).sort((a, b) => rates[b]! - rates[a]! || a - b);
    assert.deepEqual([...sortByRateDescending(rates)], want, `n = ${n}`);
    // The ranks are the inverse: rate i's place in that order.
    const rank = rankByRateDescending(rates);
    assert.deepEqual(want.map((i) => rank[i]), Array.from({ length: n }, (_, i) => i), `ranks, n = ${n}`);
  }
  // Zero or negative rates fall back to the comparator sort.
  const mixed = Float64Array.from({ length: 4000 }, (_, i) => (i % 5) - 1);
  assert.deepEqual([...sortByRateDescending(mixed)], Array.from({ length: 4000 }, (_, i) => i).sort((a, b) => mixed[b]! - mixed[a]! || a - b));
  const mixedOrder = [...sortByRateDescending(mixed)];
  const mixedRank = rankByRateDescending(mixed);
  assert.deepEqual(mixedOrder.map((i) => mixedRank[i]), Array.from({ length: 4000 }, (_, i) => i));
});

test('harmFromScores: a layer\'s score by name (the last entry of a repeated name), whatever order the layers are asked in', () => {
  const r = rng(11);
  const formats = ['int8', 'int4', 'q4_k'].map((id) => getNumberFormat(id)!);
  for (const repeated of [false, true]) {
    const names = Array.from({ length: 400 }, (_, i) => (repeated && i % 37 === 5 ? `layer.${i - 3}` : `layer.${i}`));
    const staticScores = formats.map(() => Float64Array.from(names, () => r()));
    const harm = harmFromScores({ layers: names, formats: [...formats.map((f) => f.id)], staticScores });
    const last = new Map(names.map((n, i) => [n, i]));
    // Model order (the solver's), with layers the scores do not list and layers skipped; then reversed and shuffled.
    const asked = [...names.map((n) => `${n}`), 'other', ...names.slice(0, 50)].filter((_, i) => i % 11 !== 3);
    const orders = [asked, [...asked].reverse(), [...asked].sort(() => r() - 0.5)];
    for (const order of orders) {
      for (const name of order) {
        const layer = { name } as Layer;
        formats.forEach((f, k) => {
          const i = last.get(name);
          assert.equal(harm(layer, f), i === undefined ? undefined : staticScores[k]![i], `${name} ${f.id} (repeated names: ${repeated})`);
        });
      }
    }
  }
});
