/**
 * One plan workflow (core/plan/workflow.ts) behind both adapters: the CLI's `precision-lens plan` and the editor's
 * Generate / Re-solve Plan (src/host/editorPlan.ts, the VS Code-free half of planCommands.ts) write byte-identical
 * plan files for the same model, target, budget, formats and previous plan. Also: the lenses, the solver and the
 * inspector share one weight budget, and apply/estimate/editor share one plan check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { analyzePlan, budgetFor, checkedAssignment, estimate, getTarget, parsePlan, seededRandom, serializePlan, solvePlan, type PlanBudget } from '../../src/core';
import { layerBudgetFacts } from '../../src/core/plan/budget';
import { editorPlanInput, requestFormats, type PlanRequest } from '../../src/host/editorPlan';
import { loadModel } from '../../src/host/modelCache';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { llamaGguf } from '../fixtures/buildGguf';
import { tinyTransformer } from '../fixtures/planModel';

const H100 = getTarget('h100')!;

/** A small llama-style GGUF (F32) with seeded Gaussian-ish weights, written to a temp dir. */
async function writeModel(dir: string): Promise<string> {
  const built = llamaGguf({ blocks: 2, embd: 64, ffn: 128, vocab: 64 });
  const bytes = built.bytes.slice();
  const random = seededRandom(7);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = built.dataOffset; o + 4 <= bytes.length; o += 4) view.setFloat32(o, (random() + random() + random() - 1.5) * 0.05 * (o % 4096 === 0 ? 40 : 1), true);
  const file = path.join(dir, 'tiny-llama.gguf');
  await fs.writeFile(file, bytes);
  return file;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

/** The plan text the editor writes for `request` (what planCommands.ts does between its pickers and its write). */
async function editorPlanText(modelPath: string, request: PlanRequest): Promise<string> {
  const loaded = await loadModel(modelPath);
  const formats = requestFormats(loaded.model, request);
  const report = await analyzeModelSensitivity(modelPath, { formats, workers: 0 });
  const solved = solvePlan(loaded.model, editorPlanInput(loaded, request, report, formats));
  assert.ok(solved.plan, 'the editor found a plan');
  return serializePlan(solved.plan);
}

test('the CLI and the editor write byte-identical plans (Generate, then Re-solve with a pin and a note)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-workflow-'));
  try {
    const model = await writeModel(dir);
    const planFile = `${model}.precision.json`;
    const request: PlanRequest = { target: H100, budget: { avgBits: 6 }, batch: 1, kvFormat: 'fp16', allowEmulated: false, previous: [] };
    const formats = requestFormats((await loadModel(model)).model, request);
    const generated = await cli('plan', model, '--target', 'h100', '--avg-bits', '6', '--formats', formats.join(','), '--no-verify', '--json');
    assert.equal(generated.code, 0, generated.err);
    const cliText = await fs.readFile(planFile, 'utf8');
    assert.equal(cliText, await editorPlanText(model, request));
    const plan = parsePlan(cliText).plan!;
    assert.ok(new Set(plan.layers.map((e) => e.format)).size > 1, `a mixed plan: ${cliText}`);

    // Re-solve: the user pinned a layer and wrote a note; both adapters keep them and agree again.
    const pinned = plan.layers.map((e, i) => (i === 1 ? { ...e, format: 'q8_0', pinned: true } : i === 2 ? { ...e, note: 'checked by hand' } : e));
    await fs.writeFile(planFile, serializePlan({ ...plan, layers: pinned }));
    const resolved = await cli('plan', model, '--target', 'h100', '--avg-bits', '6', '--formats', formats.join(','), '--no-verify', '--json');
    assert.equal(resolved.code, 0, resolved.err);
    const cliResolved = await fs.readFile(planFile, 'utf8');
    const editorResolved = await editorPlanText(model, { ...request, context: plan.context, previous: pinned });
    assert.equal(cliResolved, editorResolved);
    const layers = parsePlan(cliResolved).plan!.layers;
    assert.deepEqual(layers[1], { layer: pinned[1]!.layer, format: 'q8_0', pinned: true });
    assert.equal(layers[2]!.note, 'checked by hand');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('one weight budget: the plan lenses judge a solved plan by the budget the solver had', () => {
  const model = tinyTransformer(4, 64, 128);
  const harm = (): number => 1e-4;
  for (const budget of ['capacity', { weightBytes: 200_000 }, { avgBits: 5 }, { bytes: 2 ** 30 }] as PlanBudget[]) {
    const solved = solvePlan(model, { target: H100, budget, harm, formats: ['fp16', 'int8', 'int4'], fingerprint: `pl1:${'0'.repeat(64)}` });
    const lens = budgetFor(model, H100, budget, 1, solved.estimate, layerBudgetFacts(model));
    assert.deepEqual(lens, solved.budget, JSON.stringify(budget));
    if (!solved.plan) continue;
    const view = analyzePlan({ parsed: parsePlan(serializePlan(solved.plan)), fileName: 'p.json', model, targets: [H100], minOutputSqnrDb: 0 });
    assert.equal(view.budget?.weightBudgetBytes, solved.budget.weightBudgetBytes, JSON.stringify(budget));
    assert.equal(view.budget?.fits, true, JSON.stringify(budget));
  }
  // The bytes outside any layer count against an explicit weight budget for the lenses too.
  const facts = layerBudgetFacts(model);
  const e = estimate(model, H100, {});
  assert.equal(budgetFor(model, H100, { weightBytes: 1_000_000 }, 1, e, facts).weightBudgetBytes, 1_000_000 - facts.outsideBytes);
});

test('one plan check: a stale fingerprint, an unknown layer or a format the target cannot run is an error', () => {
  const model = tinyTransformer(2, 64, 128);
  const fingerprint = `pl1:${'a'.repeat(64)}`;
  const solved = solvePlan(model, { target: H100, budget: { avgBits: 12 }, harm: () => 1e-4, formats: ['fp16', 'int8'], fingerprint });
  const text = serializePlan(solved.plan!);
  const check = (t: string, fp = fingerprint) => checkedAssignment({ parsed: parsePlan(t), fileName: 'p.json', model, fingerprint: fp });
  const ok = check(text);
  assert.equal(ok.hasErrors, false, JSON.stringify(ok.diagnostics));
  assert.deepEqual(ok.assignment, solved.assignment);
  assert.deepEqual(check(text, `pl1:${'b'.repeat(64)}`).diagnostics.map((d) => d.code), ['stale-fingerprint']);
  const layer = solved.plan!.layers[0]!.layer;
  assert.ok(check(text.replace(JSON.stringify(layer), '"no.such.layer"')).diagnostics.some((d) => d.code === 'unknown-layer' && d.severity === 'error'));
  assert.ok(check(text.replace('"target": "h100"', '"target": "cpu"').replace(/"format": "[a-z0-9_]+"/, '"format": "fp8_e4m3"')).diagnostics.some((d) => d.code === 'not-native'));
});

test('estimate knows one spelling of "as stored": keep', () => {
  const model = tinyTransformer(1, 64, 128);
  const layer = model.layers.find((l) => l.quantizable)!.name;
  assert.equal(estimate(model, H100, { assignment: { [layer]: 'KEEP' } }).weightBytes, estimate(model, H100, {}).weightBytes);
  for (const other of ['stored', 'as-stored', 'none']) assert.throws(() => estimate(model, H100, { assignment: { [layer]: other } }), /unknown format/);
});
