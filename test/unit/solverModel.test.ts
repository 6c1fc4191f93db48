import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assignmentHarm, assignmentWeightBytes, getNumberFormat, getTarget, groupLayers, llamaCppRulesBaseline, planForTarget, solveModel, standardBaselines,
  uniformBaseline, useMoreBits, type HarmFunction, type Model, type Target,
} from '../../src/core';
import { buildIrModel, rng, tinyTransformer } from '../fixtures/planModel';

/** Deterministic harm: lower bits → more harm, varying by layer. */
function harmFor(model: Model, seed = 1): HarmFunction {
  const r = rng(seed);
  const scale = new Map(model.layers.map((l) => [l.name, 0.2 + r() * 2]));
  return (layer, f) => scale.get(layer.name)! * 2 ** (-(f.bytesPerBlock * 8) / f.blockSize) * (f.mode === 'compute' ? 0.8 : 1);
}

const H100 = getTarget('h100')!;
const A100 = getTarget('a100')!;

test('constraints: pins, fused gate/up, experts, q/k/v on request, tied tensors, norms and target support', () => {
  const model = tinyTransformer(3, 64, 128, { experts: 4, tied: true });
  const harm = harmFor(model);
  const total = model.layers.reduce((a, l) => a + l.byteLength, 0);
  const r = solveModel(model, { weightBudgetBytes: Math.floor(total * 0.3), native: A100.native, harm, pinned: { 'layers.1.self_attn.o_proj': 'fp16' }, fuse: { qkv: true } });
  assert.notEqual(r.status, 'infeasible');
  const a = r.assignment;
  assert.equal(a['layers.1.self_attn.o_proj'], 'fp16', 'pinned layer keeps its format');
  for (const l of model.layers) if (!l.quantizable) assert.equal(a[l.name], 'keep', `${l.name} must stay stored`);
  for (let b = 0; b < 3; b++) {
    const qkv = ['q_proj', 'k_proj', 'v_proj'].map((n) => a[`layers.${b}.self_attn.${n}`]);
    assert.equal(new Set(qkv).size, 1, `block ${b} q/k/v share one format`);
    for (const proj of ['gate_proj', 'up_proj', 'down_proj']) {
      const ex = [0, 1, 2, 3].map((e) => a[`layers.${b}.mlp.experts.${e}.${proj}`]);
      assert.equal(new Set(ex).size, 1, `block ${b} ${proj} experts share one format`);
    }
  }
  assert.equal(a['lm_head'], a['embed_tokens'], 'tied embedding and head share the tensor');
  for (const id of Object.values(a)) if (id !== 'keep') assert.notEqual(getNumberFormat(id)!.computeAs, 'fp8', 'A100 has no FP8');
  assert.ok(r.weightBytes <= total * 0.3);
  assert.equal(r.weightBytes, assignmentWeightBytes(model, a));
  assert.ok(Math.abs(r.harm - assignmentHarm(model, a, harm)!) < 1e-9);
  // FP8 becomes available on A100 only when emulation is allowed; weight-only formats always are.
  const emu = solveModel(model, { weightBudgetBytes: total, native: A100.native, harm, allowEmulated: true });
  assert.ok(emu.formats.includes('fp8_e4m3'));
  assert.ok(r.formats.includes('int4') && !r.formats.includes('fp8_e4m3'));
  const kinds = new Set(groupLayers(model, { qkv: true }).map((g) => g.reason));
  assert.deepEqual([...kinds].sort(), ['experts', 'qkv', 'shared-tensor', 'single']);
});

test('solveModel equals brute force over the groups of a small model', () => {
  const model = buildIrModel([
    { name: 'a', role: 'linear', shape: [64, 32] },
    { name: 'b', role: 'linear', shape: [32, 96] },
    { name: 'c', role: 'conv', shape: [16, 8, 3, 3] },
    { name: 'n', role: 'norm', shape: [64] },
    { name: 'd', role: 'output_head', shape: [100, 32] },
  ]);
  const harm = harmFor(model, 5);
  const formats = ['fp16', 'int8', 'int4_g32', 'int4'];
  const total = model.layers.reduce((s, l) => s + l.byteLength, 0);
  const layers = model.layers.filter((l) => l.quantizable);
  for (const frac of [0.15, 0.2, 0.3, 0.45, 0.6, 1]) {
    const budget = Math.floor(total * frac);
    let best = Infinity;
    const walk = (i: number, a: Record<string, string>): void => {
      if (i === layers.length) {
        if (assignmentWeightBytes(model, a) <= budget) best = Math.min(best, assignmentHarm(model, a, harm)!);
        return;
      }
      for (const f of ['keep', ...formats]) walk(i + 1, { ...a, [layers[i]!.name]: f });
    };
    walk(0, {});
    const r = solveModel(model, { weightBudgetBytes: budget, formats, harm });
    if (best === Infinity) assert.equal(r.status, 'infeasible');
    else assert.ok(Math.abs(r.harm - best) < 1e-12, `budget ${frac}: ${r.harm} vs ${best}`);
  }
});

test('llama.cpp use_more_bits and the Q4_K_M-like baseline', () => {
  const more = Array.from({ length: 32 }, (_, i) => i).filter((i) => useMoreBits(i, 32));
  assert.deepEqual(more, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
  const model = tinyTransformer(8);
  const b = llamaCppRulesBaseline(model)!;
  const high = [0, 3, 6, 7]; // n = 8: i < 1, i ≥ 7, (i − 1) % 3 == 2
  for (let i = 0; i < 8; i++) {
    assert.equal(b.assignment[`layers.${i}.self_attn.v_proj`], high.includes(i) ? 'int8' : 'int4_g32', `v_proj ${i}`);
    assert.equal(b.assignment[`layers.${i}.mlp.down_proj`], high.includes(i) ? 'int8' : 'int4_g32', `down_proj ${i}`);
    assert.equal(b.assignment[`layers.${i}.self_attn.q_proj`], 'int4_g32');
  }
  assert.equal(b.assignment['lm_head'], 'int8');
  assert.equal(b.assignment['layers.0.input_layernorm'], 'keep');
  assert.equal(uniformBaseline(model, 'fp8_e4m3', { native: A100.native }), undefined, 'A100 cannot run FP8');
  assert.deepEqual(standardBaselines(model, { native: H100.native }).map((x) => x.id), ['uniform-fp16', 'uniform-fp8_e4m3', 'uniform-int8', 'uniform-int4', 'q4_k_m-like']);
});

test('the solver at a baseline\'s memory is never predicted worse than the baseline', () => {
  for (const seed of [1, 2, 3]) {
    const model = tinyTransformer(6, 64, 160, { experts: seed === 3 ? 2 : 0 });
    const harm = harmFor(model, seed);
    for (const b of standardBaselines(model, { native: H100.native })) {
      const bytes = assignmentWeightBytes(model, b.assignment);
      const r = solveModel(model, { weightBudgetBytes: bytes, native: H100.native, harm });
      assert.ok(r.harm <= assignmentHarm(model, b.assignment, harm)! + 1e-12, `${b.id}: ${r.harm}`);
    }
  }
});

function smallTarget(memoryBytes: number): Target {
  return { ...H100, id: 'tiny-gpu', name: 'Tiny GPU', memoryBytes, overhead: { bytes: 1024, fraction: 0.05, note: 'test' } };
}

test('planForTarget: capacity budget minus KV/activations/overhead, avg-bits budgets, and numbers when nothing fits', () => {
  const base = tinyTransformer(4, 64, 128);
  const model: Model = { ...base, hyperparameters: { blockCount: 4, embeddingLength: 64, headCount: 4, kvHeadCount: 4, feedForwardLength: 128, contextLength: 2048, vocabSize: 256 } };
  const harm = harmFor(model);
  const fit = planForTarget(model, { target: smallTarget(2 * 2 ** 20), budget: 'capacity', context: 512, harm });
  assert.notEqual(fit.status, 'infeasible');
  assert.ok(fit.budget.kvCacheBytes > 0 && fit.budget.activationBytes > 0);
  assert.ok(fit.estimate.fits, 'the estimator agrees the plan fits');
  assert.ok(fit.weightBytes <= fit.budget.weightBudgetBytes);

  const bits = planForTarget(model, { target: H100, budget: { avgBits: 5 }, harm });
  const elements = model.layers.reduce((a, l) => a + l.parameterCount, 0);
  assert.ok(bits.weightBytes <= (5 * elements) / 8);
  assert.ok(bits.frontier.length > 3);

  const tight = planForTarget(model, { target: smallTarget(4.5 * 2 ** 20), budget: 'capacity', context: 2048, harm });
  assert.equal(tight.status, 'infeasible');
  assert.ok(tight.shortfallBytes > 0);
  const kinds = tight.suggestions.map((s) => s.kind);
  for (const k of ['devices', 'context', 'kv-format', 'budget']) assert.ok(kinds.includes(k as never), `missing ${k} in ${kinds.join(',')}`);
  const dev = tight.suggestions.find((s) => s.kind === 'devices')!;
  const withDevices = planForTarget(model, { target: smallTarget(4.5 * 2 ** 20), budget: 'capacity', context: 2048, harm, devices: dev.value as number });
  assert.notEqual(withDevices.status, 'infeasible', 'the suggested device count really fits');
  const ctx = tight.suggestions.find((s) => s.kind === 'context')!;
  assert.notEqual(planForTarget(model, { target: smallTarget(4.5 * 2 ** 20), budget: 'capacity', context: ctx.value as number, harm }).status, 'infeasible');
  for (const s of tight.suggestions) assert.match(s.message, /\d/);
});

test('the solver at further budgets (baselines at equal memory) equals a fresh solve at each, from one preparation', () => {
  const model = tinyTransformer(4, 64, 128, { experts: 2 });
  const harm = harmFor(model, 3);
  const total = model.layers.reduce((a, l) => a + l.byteLength, 0);
  // A budget listed twice (two baselines of one size) is solved once, with the same answer at both places.
  const budgets = [0.12, 0.2, 0.27, 0.2, 0.35, 0.6, 0.01].map((f) => Math.floor(total * f));
  const r = solveModel(model, { weightBudgetBytes: Math.floor(total * 0.25), native: H100.native, harm, alsoAtBytes: budgets });
  assert.equal(r.atBytes.length, budgets.length);
  budgets.forEach((b, i) => {
    const fresh = solveModel(model, { weightBudgetBytes: b, native: H100.native, harm });
    const at = r.atBytes[i]!;
    assert.equal(at.weightBudgetBytes, b);
    assert.equal(at.status, fresh.status, `status at ${b}`);
    assert.equal(at.weightBytes, fresh.weightBytes, `bytes at ${b}`);
    assert.ok(Math.abs(at.harm - fresh.harm) <= 1e-12 * Math.max(1, fresh.harm), `harm at ${b}: ${at.harm} vs ${fresh.harm}`);
  });
  assert.equal(r.atBytes[6]!.status, 'infeasible', '1 % of the weights cannot fit');
  assert.deepEqual(r.atBytes[3], r.atBytes[1]);
});

test('a layer pinned to a format without any score keeps its real bytes in the solution (harm 0, with a note)', () => {
  const model = tinyTransformer(2, 64, 128);
  const scored = harmFor(model);
  // No layer has a score for INT4: the pinned layer's option is still sized as INT4.
  const harm: HarmFunction = (l, f) => (f.id === 'int4' ? undefined : scored(l, f));
  const pinnedLayer = 'layers.0.mlp.down_proj';
  const total = model.layers.reduce((a, l) => a + l.byteLength, 0);
  const r = solveModel(model, { weightBudgetBytes: total, harm, formats: ['fp16', 'int8'], pinned: { [pinnedLayer]: 'int4' } });
  assert.equal(r.assignment[pinnedLayer], 'int4');
  assert.ok(r.notes.some((n) => n.includes(pinnedLayer) && n.includes('no score')), r.notes.join(' | '));
  assert.equal(r.weightBytes, assignmentWeightBytes(model, r.assignment), 'the solution counts the pinned layer at its INT4 bytes');
});

test('a baseline\'s distinct formats, when given, are those of Object.values(assignment) in its order', () => {
  const odd = buildIrModel([
    { name: 'w', role: 'linear', shape: [64, 32] },
    { name: '__proto__', role: 'linear', shape: [64, 32] },
    { name: 'n', role: 'norm', shape: [64] },
    { name: 'tiny', role: 'linear', shape: [2, 2] },
    { name: 'h', role: 'output_head', shape: [100, 32] },
  ]);
  const numbered = buildIrModel([{ name: 'x', role: 'linear', shape: [64, 32] }, { name: 'n', role: 'norm', shape: [64] }, { name: '12', role: 'linear', shape: [64, 32] }, { name: '3', role: 'norm', shape: [64] }]);
  const twice = buildIrModel([{ name: 'a', role: 'linear', shape: [64, 32] }, { name: 'n', role: 'norm', shape: [64] }, { name: 'a', role: 'norm', shape: [64, 32], weights: ['a2.weight'], quantizable: false }]);
  let given = 0, left = 0;
  for (const model of [tinyTransformer(3, 64, 128, { experts: 4, tied: true }), odd, numbered, twice]) {
    for (const fuse of [{}, { qkv: true }, { gateUp: false, experts: false }]) {
      const list = [...standardBaselines(model, { fuse }), uniformBaseline(model, 'q4_k', { fuse }), uniformBaseline(model, 'nf4', { fuse })];
      for (const b of list) {
        if (!b) continue;
        if (b.formats === undefined) {
          left++;
          continue;
        }
        given++;
        assert.deepEqual(b.formats, [...new Set(Object.values(b.assignment))], `${b.id}`);
      }
    }
  }
  assert.ok(given > 20 && left > 10, `given ${given}, left to Object.values ${left}`);
});
