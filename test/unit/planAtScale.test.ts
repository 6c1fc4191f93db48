/**
 * The plan's memory and time savings at scale (issue 13) keep its results: baselines read from their per-layer
 * column give what their record gives, a knapsack's solves sharing one scratch give what fresh solves give, and the
 * error sums' fast path adds what the element-by-element loop adds, NaN and infinities included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assignmentHarm, assignmentWeightBytes, baselineFormats, baselineHarm, baselineWeightBytes, baselineWithName, getTarget, KEEP_FORMAT,
  llamaCppRulesBaseline, serializePlan, serializePlanChunks, standardBaselines, uniformBaseline, type HarmFunction, type Model,
  type PrecisionPlan,
} from '../../src/core';
import { ErrorAccumulator } from '../../src/core/precision';
import { preparedFrontier, prepareKnapsack, solvePreparedKnapsack, type KnapsackOption } from '../../src/core/plan/knapsack';
import { rng, tinyTransformer } from '../fixtures/planModel';

const H100 = getTarget('h100')!;

function harmFor(model: Model): HarmFunction {
  const r = rng(3);
  const scale = new Map(model.layers.map((l) => [l.name, 0.1 + r()]));
  return (layer, f) => scale.get(layer.name)! * 2 ** (-(f.bytesPerBlock * 8) / f.blockSize);
}

test('baselines: bytes, harm and formats from the per-layer column equal those of the record, fused groups included', () => {
  const model = tinyTransformer(4, 64, 128, { experts: 2, tied: true });
  const harm = harmFor(model);
  const list = [...standardBaselines(model, { native: H100.native }), ...standardBaselines(model, { native: H100.native, fuse: { qkv: true } })];
  assert.ok(list.length >= 8);
  for (const b of list) {
    assert.ok(b.layerFormats, `${b.id} keeps its column (unique layer names)`);
    assert.equal(baselineWeightBytes(model, b), assignmentWeightBytes(model, b.assignment), b.id);
    assert.equal(baselineHarm(model, b, harm), assignmentHarm(model, b.assignment, harm), b.id);
    assert.deepEqual(baselineFormats(b), [...new Set(Object.values(b.assignment))].filter((f) => f !== KEEP_FORMAT), b.id);
    // The column and the record name the same format per layer.
    model.layers.forEach((l, i) => assert.equal(b.layerFormats![i], Object.prototype.hasOwnProperty.call(b.assignment, l.name) ? b.assignment[l.name] : undefined, `${b.id} ${l.name}`));
  }
  // Renamed (llama.cpp mixes): the same assignment under the new id, column kept.
  const mix = llamaCppRulesBaseline(model, { low: 'int4', high: 'int8', head: 'int8' }, { native: H100.native })!;
  const renamed = baselineWithName(mix, 'mix', 'a mix');
  assert.equal(renamed.id, 'mix');
  assert.equal(renamed.layerFormats, mix.layerFormats);
  assert.deepEqual({ ...renamed.assignment }, { ...mix.assignment });
  assert.deepEqual(Object.keys(renamed).sort(), ['assignment', 'formats', 'id', 'label', 'layerFormats']);
});

test('baselines: a model with a repeated layer name keeps the record only, and the helpers read it', () => {
  const base = tinyTransformer(2, 64, 128);
  const model: Model = { ...base, layers: [...base.layers, { ...base.layers.find((l) => l.quantizable)! }] };
  const b = uniformBaseline(model, 'int8', { native: H100.native })!;
  assert.equal(b.layerFormats, undefined);
  assert.equal(baselineWeightBytes(model, b), assignmentWeightBytes(model, b.assignment));
  assert.deepEqual(baselineFormats(b), ['int8', KEEP_FORMAT].filter((f) => Object.values(b.assignment).includes(f) && f !== KEEP_FORMAT));
});

test('knapsack: solves of one prepared problem at many budgets, in any order, equal solves of fresh preparations', () => {
  const r = rng(11);
  const groups: KnapsackOption[][] = [];
  for (let g = 0; g < 400; g++) {
    const k = 2 + Math.floor(r() * 5);
    const opts: KnapsackOption[] = [];
    for (let o = 0; o < k; o++) opts.push({ bytes: 8 + Math.floor(r() * 200), harm: r() * (1 + (g % 7)) });
    groups.push(opts);
  }
  const min = groups.reduce((a, g) => a + Math.min(...g.map((o) => o.bytes)), 0);
  const max = groups.reduce((a, g) => a + Math.max(...g.map((o) => o.bytes)), 0);
  const budgets = [0.05, 0.5, 0.2, 0.9, 0.33, 0.05, 0.7].map((f) => Math.floor(min + (max - min) * f));
  const shared = prepareKnapsack(groups);
  let states = 0;
  for (const budget of budgets) {
    const got = solvePreparedKnapsack(shared, budget, { maxStates: 50_000 });
    const want = solvePreparedKnapsack(prepareKnapsack(groups), budget, { maxStates: 50_000 });
    assert.deepEqual(got, want, `budget ${budget}`);
    states += got.states;
  }
  assert.ok(states > 0, 'the solves ran the DP (the scratch is what they share)');
});

test('error sums: the fast path adds exactly what the element-by-element loop adds (NaN, ±Inf, overflow, −0)', () => {
  const reference = (x: Float32Array, q: Float32Array, acc: { signal: number; noise: number; maxAbsError: number; overflow: number; count: number }): void => {
    let signal = 0, noise = 0, maxErr = acc.maxAbsError, overflow = 0, count = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (Number.isNaN(v) || !Number.isFinite(v)) continue;
      count++;
      signal += v * v;
      let d = v - q[i]!;
      if (!Number.isFinite(d)) {
        overflow++;
        d = v;
      }
      noise += d * d;
      if (Math.abs(d) > maxErr) maxErr = Math.abs(d);
    }
    acc.signal += signal;
    acc.noise += noise;
    acc.maxAbsError = maxErr;
    acc.overflow += overflow;
    acc.count += count;
  };
  const r = rng(5);
  const cases: [string, (x: Float32Array, q: Float32Array) => void][] = [
    ['finite', () => undefined],
    ['NaN input', (x) => { x[7] = NaN; }],
    ['infinite input', (x) => { x[3] = -Infinity; }],
    ['NaN quantized', (_, q) => { q[11] = NaN; }],
    ['overflowing quantized', (_, q) => { q[0] = Infinity; }],
    ['negative zero errors', (x, q) => { x.fill(-0); q.fill(0); }],
  ];
  for (const [name, spoil] of cases) {
    const x = new Float32Array(256).map(() => (r() - 0.5) * 4);
    const q = x.map((v) => Math.round(v * 8) / 8);
    spoil(x, q);
    const got = new ErrorAccumulator().add(x, q).add(x, q).partial();
    const want = { signal: 0, noise: 0, maxAbsError: 0, overflow: 0, count: 0 };
    reference(x, q, want);
    reference(x, q, want);
    assert.deepEqual(got, want, name);
    assert.ok(Object.is(got.maxAbsError, want.maxAbsError), name);
  }
});

test('plan text in pieces: the same bytes as the plan built whole, for 0, 1 and 10,000 entries with pins and notes', () => {
  // The text as the one-string serializer wrote it (an entry per line), built independently here.
  const whole = (plan: PrecisionPlan): string => {
    const { layers, ...rest } = plan;
    const head = JSON.stringify(rest, null, 2);
    const lines = layers.map((e) => `    {${[`"layer": ${JSON.stringify(e.layer)}`, `"format": ${JSON.stringify(e.format)}`, ...(e.pinned ? ['"pinned": true'] : []), ...(e.note !== undefined ? [`"note": ${JSON.stringify(e.note)}`] : [])].join(', ')}}`);
    return `${head.slice(0, -2)},\n  "layers": [${lines.length ? `\n${lines.join(',\n')}\n  ` : ''}]\n}\n`;
  };
  const base: PrecisionPlan = {
    version: 1, model: { file: 'm.gguf', fingerprint: 'pl1:' + '0'.repeat(64) }, target: 'h100', budget: { avgBits: 4.5 }, context: 2048, batch: 1, kvFormat: 'fp16', layers: [],
  } as unknown as PrecisionPlan;
  for (const n of [0, 1, 10_000]) {
    const layers = Array.from({ length: n }, (_, i) => ({ layer: `blk.${i}."q"\\`, format: i % 3 ? 'q4_k' : 'q6_k', ...(i % 997 === 5 ? { pinned: true } : {}), ...(i % 1999 === 7 ? { note: `note ${i} ✓` } : {}) }));
    const plan = { ...base, layers } as PrecisionPlan;
    const chunks = [...serializePlanChunks(plan)];
    assert.equal(chunks.join(''), whole(plan), `${n} entries`);
    assert.equal(serializePlan(plan), whole(plan));
    if (n === 10_000) assert.ok(chunks.length > 3 && chunks.every((c) => c.length < 1_000_000), 'pieces, not one string');
    assert.deepEqual(JSON.parse(chunks.join('')).layers, layers);
  }
});

test('frontier walked without columns: the same points as from every point kept, for any number of points asked', () => {
  // The frontier as it was computed from a column of every point (bytes and harm summed in edge order).
  const reference = (p: ReturnType<typeof prepareKnapsack>, maxPoints: number): { bytes: number; harm: number }[] => {
    const count = p.edgeBytes.length + 1;
    const allBytes = [p.minBytes];
    const allHarm = [p.minHarmAtMin];
    for (let i = 1; i < count; i++) {
      allBytes.push(allBytes[i - 1]! + p.edgeBytes[i - 1]!);
      allHarm.push(allHarm[i - 1]! - p.edgeHarm[i - 1]!);
    }
    const point = (i: number): { bytes: number; harm: number } => ({ bytes: allBytes[i]!, harm: allHarm[i]! });
    if (count <= maxPoints) return allBytes.map((_, i) => point(i));
    const picked: number[] = [];
    const span = allBytes[count - 1]! - allBytes[0]!;
    let j = 0;
    for (let k = 0; k < maxPoints; k++) {
      const level = allBytes[0]! + (span * k) / (maxPoints - 1);
      while (j + 1 < count && allBytes[j + 1]! <= level) j++;
      if (picked[picked.length - 1] !== j) picked.push(j);
    }
    if (picked[picked.length - 1] !== count - 1) picked.push(count - 1);
    return picked.map(point);
  };
  const r = rng(11);
  for (let trial = 0; trial < 40; trial++) {
    const groups: KnapsackOption[][] = Array.from({ length: 1 + Math.floor(r() * 300) }, () =>
      Array.from({ length: 1 + Math.floor(r() * 6) }, () => ({ bytes: Math.floor(r() * 1000) * (r() < 0.5 ? 0.1 : 1), harm: r() * r() })));
    const p = prepareKnapsack(groups);
    for (const maxPoints of [0, 1, 2, 3, 7, 50, 200, 1e9]) assert.deepEqual(preparedFrontier(p, maxPoints), reference(p, maxPoints), `trial ${trial}, ${maxPoints} points`);
  }
});

test('knapsack positions: one byte each up to 256 options a group, four beyond, with the same choices', () => {
  // Group 0 has 300 options (index 299 is the best that fits); the others few. Narrow and wide columns must agree.
  const wide: KnapsackOption[] = Array.from({ length: 300 }, (_, i) => ({ bytes: 10 + i, harm: 1000 - i * 3 }));
  const r = rng(17);
  // The others' harms sum to under 0.04, less than one step of group 0 (3): group 0 always takes its best that fits.
  const rest: KnapsackOption[][] = Array.from({ length: 40 }, () => Array.from({ length: 1 + Math.floor(r() * 5) }, () => ({ bytes: Math.floor(r() * 50), harm: r() * 1e-3 })));
  const narrowP = prepareKnapsack(rest);
  const wideP = prepareKnapsack([...rest, wide]);
  assert.ok(narrowP.effIdx instanceof Uint8Array && wideP.effIdx instanceof Int32Array);
  const alone = solvePreparedKnapsack(prepareKnapsack([wide]), 309);
  assert.deepEqual([alone.choice[0], alone.bytes, alone.harm], [299, 309, 103]);
  for (const budget of [0, 100, 500, 1000, 5000]) {
    const a = solvePreparedKnapsack(narrowP, budget);
    const b = solvePreparedKnapsack(wideP, budget + 309);
    assert.equal(b.choice[40], a.status === 'infeasible' ? b.choice[40] : 299, `budget ${budget}`);
    if (a.status !== 'infeasible') assert.deepEqual(b.choice.slice(0, 40), a.choice, `budget ${budget}`);
  }
});
