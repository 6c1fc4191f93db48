/**
 * Plan lenses, diagnostics and quick fixes (src/core/editor/planLenses.ts + planFixes.ts) on a real model
 * (stories260K.gguf from ../shared/models) with its real static sensitivity: each fix is applied to the text and
 * the plan re-analysed, so a fix must actually remove its diagnostic.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { TARGETS } from '../../src/core/estimate/hardware/catalog';
import { parsePlan, serializePlan, type PrecisionPlan } from '../../src/core/plan/planFile';
import { analyzePlan, sensitivityLookup, type PlanContext, type SensitivityLookup } from '../../src/core/editor/planLenses';
import { fixAllEdits, planFixes, type TextEditData } from '../../src/core/editor/planFixes';
import { loadModel, type LoadedModel } from '../../src/host/modelCache';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { SHARED_MODELS } from './sharedModels';

const MODEL = path.join(SHARED_MODELS, 'gguf/stories260K.gguf');
let loaded: LoadedModel;
let sensitivity: SensitivityLookup;

before(async () => {
  loaded = await loadModel(MODEL);
  sensitivity = sensitivityLookup(await analyzeModelSensitivity(MODEL, { formats: ['fp16', 'bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k', 'int8'], workers: 0 }));
});

function planText(over: Partial<PrecisionPlan> = {}): string {
  return serializePlan({
    version: 1,
    model: { file: 'stories260K.gguf', fingerprint: loaded.fingerprint },
    target: 'h100',
    budget: 'capacity',
    context: 2048,
    batch: 1,
    kvFormat: 'fp16',
    defaultFormat: 'keep',
    layers: [
      { layer: 'blk.0.attn_q.weight', format: 'nvfp4' },
      { layer: 'blk.0.attn_k.weight', format: 'q4_k' },
      { layer: 'blk.9.attn_q.weight', format: 'q4_k' },
    ],
    ...over,
  });
}

function ctxFor(text: string, withSensitivity = true): PlanContext {
  return { parsed: parsePlan(text, 'p.precision.json'), fileName: 'p.precision.json', model: loaded.model, fingerprint: loaded.fingerprint, targets: TARGETS, minOutputSqnrDb: 20, ...(withSensitivity ? { sensitivity } : {}) };
}

function apply(text: string, edits: readonly TextEditData[]): string {
  return [...edits].sort((a, b) => b.offset - a.offset).reduce((t, e) => t.slice(0, e.offset) + e.newText + t.slice(e.offset + e.length), text);
}

const codes = (text: string): string[] => analyzePlan(ctxFor(text)).diagnostics.map((d) => d.code);

test('header and entry lenses show target, memory, fit, speed, format, bytes and predicted SQNR', () => {
  const view = analyzePlan(ctxFor(planText()));
  assert.match(view.header!.title, /^H100 SXM5 80GB · [\d.]+ [KMG]iB \/ 80\.0 GiB · fits · (llama\.cpp|ort|vllm) · [\d.]+[kM]? tok\/s$/);
  assert.match(view.header!.tooltip, /^(llama\.cpp|ort|vllm)( \(not measured here\))?: .*compute buffer [\d.]+ [KMG]?i?B/);
  assert.equal(view.entries.length, 3);
  // blk.0.attn_k.weight is 32×64 FP32: Q4_K stores 2048 elements in 8 blocks of 144 bytes = 1152 B.
  assert.match(view.entries[1]!.title, /^Q4_K · 1\.13 KiB · sensitivity (low|medium|high)( \(.*\))? · predicted \d+\.\d dB$/);
  assert.equal(view.entries[2]!.title, 'unknown layer');
  assert.deepEqual(view.diagnostics.map((d) => [d.code, d.entry]).sort(), [['not-native', 0], ['unknown-layer', 2]]);
  assert.match(view.entries[0]!.hover, /\| Q4_K \| \d+\.\d dB/);
});

test('without sensitivity the entry lens says so and no harm warning is made', () => {
  const view = analyzePlan(ctxFor(planText({ layers: [{ layer: 'token_embd.weight', format: 'q2_k' }] }), false));
  assert.match(view.entries[0]!.title, /sensitivity pending/);
  assert.ok(!view.diagnostics.some((d) => d.code === 'low-sqnr'));
});

test('not-native → nearest native format (NVFP4 → Q4_K, both 4.5 bits on a GGUF model); the diagnostic goes away', () => {
  const text = planText();
  const view = analyzePlan(ctxFor(text));
  const d = view.diagnostics.find((x) => x.code === 'not-native')!;
  const fixes = planFixes(ctxFor(text), view, d);
  assert.match(fixes[0]!.title, /^Use Q4_K \(nearest format NVIDIA H100 SXM5 80GB runs natively\)$/);
  assert.ok(fixes[0]!.preferred);
  assert.ok(fixes.some((f) => f.title.startsWith("Accept the solver's choice for this layer")), fixes.map((f) => f.title).join('; '));
  const fixed = apply(text, fixes[0]!.edits);
  assert.ok(fixed.includes('{"layer": "blk.0.attn_q.weight", "format": "q4_k"}'), fixed);
  assert.ok(!codes(fixed).includes('not-native'));
});

test('unknown-layer → closest name or remove; removing keeps valid JSON', () => {
  const text = planText();
  const view = analyzePlan(ctxFor(text));
  const d = view.diagnostics.find((x) => x.code === 'unknown-layer')!;
  const fixes = planFixes(ctxFor(text), view, d);
  assert.deepEqual(fixes.map((f) => f.title), ["Replace with 'blk.0.attn_q.weight'", 'Remove this entry']);
  const removed = apply(text, fixes[1]!.edits);
  const after = analyzePlan(ctxFor(removed));
  assert.equal(after.plan!.layers.length, 2);
  assert.ok(!after.diagnostics.some((x) => x.code === 'unknown-layer' || x.code === 'syntax'));
});

test('low-sqnr → raise to the safest format that fits', () => {
  const text = planText({ layers: [{ layer: 'output.weight', format: 'q2_k' }] });
  const view = analyzePlan(ctxFor(text));
  const d = view.diagnostics.find((x) => x.code === 'low-sqnr')!;
  assert.ok(d, view.diagnostics.map((x) => x.code).join());
  const fix = planFixes(ctxFor(text), view, d)[0]!;
  assert.match(fix.title, /^Raise to .* \(safest format that fits\)$/);
  assert.ok(!codes(apply(text, fix.edits)).includes('low-sqnr'));
});

test('over-budget → lower the least sensitive layers until it fits, then it fits', () => {
  const text = planText({ budget: { weightBytes: 600 * 1024 }, layers: [] });
  const view = analyzePlan(ctxFor(text));
  assert.equal(view.budget!.fits, false);
  const d = view.diagnostics.find((x) => x.code === 'over-budget')!;
  const fix = planFixes(ctxFor(text), view, d)[0]!;
  assert.match(fix.title, /^Lower the \d+ least sensitive layers? until it fits \(saves [\d.]+ [KM]iB\)$/);
  const after = analyzePlan(ctxFor(apply(text, fix.edits)));
  assert.equal(after.budget!.fits, true);
  assert.ok(after.budget!.weightBytes <= 600 * 1024);
  assert.ok(!after.diagnostics.some((x) => x.code === 'over-budget' || x.code === 'syntax'));
});

test('stale fingerprint → update; unknown target → near ids; fix-all of one code', () => {
  const stale = planText().replace(loaded.fingerprint, `pl1:${'0'.repeat(64)}`);
  const view = analyzePlan(ctxFor(stale));
  const d = view.diagnostics.find((x) => x.code === 'stale-fingerprint')!;
  assert.ok(!codes(apply(stale, planFixes(ctxFor(stale), view, d)[0]!.edits)).includes('stale-fingerprint'));

  const badTarget = planText({ target: 'h10' });
  const v2 = analyzePlan(ctxFor(badTarget));
  const titles = planFixes(ctxFor(badTarget), v2, v2.diagnostics.find((x) => x.code === 'unknown-target')!).map((f) => f.title);
  assert.ok(titles.includes("Use target 'h100'"), titles.join());

  const two = planText({ layers: [{ layer: 'blk.0.attn_q.weight', format: 'nvfp4' }, { layer: 'blk.1.attn_q.weight', format: 'mxfp4' }] });
  const v3 = analyzePlan(ctxFor(two));
  const all = fixAllEdits(ctxFor(two), v3, 'not-native');
  assert.equal(all.count, 2);
  assert.ok(!codes(apply(two, all.edits)).includes('not-native'));
});

test('the plan document keeps the pins and notes of the plan it replaces; budgets parse as typed', async () => {
  const { planDocument, parseBudgetInput } = await import('../../src/core/plan');
  const assignment: Record<string, string> = {};
  for (const l of loaded.model.layers) assignment[l.name] = l.quantizable ? 'q8_0' : 'keep';
  assignment['output.weight'] = 'q6_k';
  assignment['token_embd.weight'] = 'fp16';
  const previous = [{ layer: 'token_embd.weight', format: 'fp16', pinned: true }, { layer: 'output.weight', format: 'q4_k', note: 'the head' }];
  const input = { target: TARGETS.find((t) => t.id === 'h100')!, budget: 'capacity' as const, batch: 1, kvFormat: 'fp16', harm: () => 0, fingerprint: loaded.fingerprint, previous };
  const plan = planDocument(loaded.model, input, assignment, 2048);
  assert.deepEqual(plan.layers.find((e) => e.layer === 'token_embd.weight'), { layer: 'token_embd.weight', format: 'fp16', pinned: true });
  assert.deepEqual(plan.layers.find((e) => e.layer === 'output.weight'), { layer: 'output.weight', format: 'q6_k', note: 'the head' });
  assert.equal(plan.defaultFormat, 'keep');
  assert.equal(plan.model.fingerprint, loaded.fingerprint);
  const text = serializePlan(plan);
  assert.deepEqual(analyzePlan(ctxFor(text)).diagnostics, []);
  assert.deepEqual(['capacity', '24GB', '512 MiB', 'weights 1.5GB', '4.5 bits', '3bpw', 'lots'].map(parseBudgetInput), [
    'capacity', { bytes: 24e9 }, { bytes: 512 * 2 ** 20 }, { weightBytes: 1.5e9 }, { avgBits: 4.5 }, { avgBits: 3 }, undefined,
  ]);
});

test('a recorded measurement shows predicted beside measured KL on the header and layer lenses, without rerunning', () => {
  const measurement: NonNullable<PrecisionPlan['measurement']> = {
    runtime: 'llama.cpp (node-llama-cpp 3.21.1, CPU)', text: 'tinyTales.txt (bundled; 1421 tokens)', measuredAt: '2026-12-03T14:00:00.000Z', delivered: 'solver',
    plan: { predictedKl: 0.021, klDivergence: 0.019, klStdErr: 0.001, perplexity: 8.057, referencePerplexity: 7.812, top1Agreement: 0.86 },
    layers: [{ layer: 'blk.0.attn_k.weight', format: 'q4_k', measuredKl: 0.00116 }],
  };
  const view = analyzePlan(ctxFor(planText({ measurement })));
  assert.match(view.header!.title, /predicted KL 0\.021 · measured 0\.019 · perplexity 8\.06 \(original 7\.81\)$/);
  const k = view.entries.find((e) => e.entry === 1)!;
  assert.match(k.title, /measured KL alone 0\.0012/);
  assert.doesNotMatch(view.entries.find((e) => e.entry === 0)!.title, /measured KL/);
});
