/**
 * Measured sensitivity and plan verification for GGUF in llama.cpp: a generated llama GGUF (256-wide rows: every
 * candidate written in real ggml types by apply) and stories260K (64-wide rows: simulated storage), and the CLI's
 * `plan --verify` writing a plan that records its measurement.
 * Run: node --import tsx --test test/integration/ggufMeasure.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assignmentWeightBytes, harmFromSensitivity, openModel, parsePlan, type Model } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { ggufStorageFor, measureGgufSensitivity, startGgufEvaluation } from '../../src/node/ggufMeasure';
import { betterCandidate, ggufBaselines, verifyGgufPlan } from '../../src/node/ggufVerify';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { runCli } from '../../src/cli/main';
import { STORIES260K, generateLlamaGguf } from './llamaModels';

async function readModel(file: string): Promise<Model> {
  const opened = await openModelFile(file);
  try {
    return await openModel(opened.source, {});
  } finally {
    await opened.close();
  }
}

test('storage: real ggml types when every row holds every block, simulated for stories260K (64- and 172-wide rows)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gguf-measure-test-'));
  try {
    const generated = path.join(dir, 'g.gguf');
    generateLlamaGguf(generated, { seed: 2 });
    assert.equal(ggufStorageFor(await readModel(generated), ['q8_0', 'q4_k', 'q2_k']), 'ggml');
    assert.equal(ggufStorageFor(await readModel(STORIES260K), ['q8_0', 'q4_k']), 'simulated');
    // stories260K's ffn_down rows are 172 wide: not even Q8_0's 32-blocks fit; F16/BF16 (block 1) always do.
    assert.equal(ggufStorageFor(await readModel(STORIES260K), ['q8_0']), 'simulated');
    assert.equal(ggufStorageFor(await readModel(STORIES260K), ['fp16', 'bf16']), 'ggml');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('generated GGUF: measured KL per layer (real ggml types), a stated sample, and verification that never delivers worse than a fitting baseline', { timeout: 300_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gguf-measure-test-'));
  const file = path.join(dir, 'generated.gguf');
  generateLlamaGguf(file, { seed: 2 });
  const model = await readModel(file);
  const session = await startGgufEvaluation(file);
  try {
    const report = await measureGgufSensitivity(file, { formats: ['q8_0', 'q2_k'], layerBudget: 8, session, cacheDir: false });
    const measured = report.layers.flatMap((l) => Object.entries(l.formats).filter(([, s]) => s.klDivergence !== undefined).map(([f, s]) => ({ layer: l.layer, f, kl: s.klDivergence!, se: s.klStdErr! })));
    assert.equal(measured.length, 8 + 2, `4 sampled groups × 2 formats (gate+up count twice): ${measured.length}`);
    assert.match(report.measured!.notes.join(' '), /sample: 4 of 14 layer groups/);
    assert.match(report.measured!.notes.join(' '), /real ggml type/);
    for (const m of measured) assert.ok(m.kl > 0 && m.se >= 0, `${m.layer} ${m.f}`);
    const mean = (f: string): number => measured.filter((m) => m.f === f).reduce((a, m) => a + m.kl, 0) / measured.filter((m) => m.f === f).length;
    assert.ok(mean('q2_k') > 10 * mean('q8_0'), `q2_k ${mean('q2_k')} vs q8_0 ${mean('q8_0')}`);

    const staticReport = await analyzeModelSensitivity(file, { formats: ['q8_0', 'q6_k', 'q5_k', 'q4_k', 'q4_0', 'q3_k', 'q2_k'], workers: 0 });
    const q4km = ggufBaselines(model).find((b) => b.id === 'q4_k_m')!;
    const budget = assignmentWeightBytes(model, q4km.assignment);
    const v = await verifyGgufPlan(file, model, { session, report: staticReport, weightBudgetBytes: budget, harm: harmFromSensitivity(staticReport), formats: ['q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k'], maxCandidates: 30 });
    assert.equal(v.storage, 'ggml');
    assert.ok(v.best.measured && v.best.weightBytes <= budget);
    for (const c of v.candidates) if (c.weightBytes <= budget && c.measured) assert.ok(!betterCandidate(c, v.best), `${c.id} beats the delivered ${v.best.id}`);
    for (const e of v.equalSize) {
      assert.ok(e.delivered.weightBytes <= e.baseline.weightBytes);
      assert.ok(e.delivered.measured!.klDivergence <= e.baseline.measured!.klDivergence, `${e.baseline.id}`);
    }
  } finally {
    session.evaluator.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('CLI: plan --verify on a GGUF writes a plan that records what was measured', { timeout: 300_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gguf-plan-cli-'));
  try {
    const file = path.join(dir, 'stories260K.gguf');
    await fs.copyFile(STORIES260K, file);
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['plan', file, '--target', 'cpu', '--avg-bits', '8', '--verify', '--eval-context', '96', '--max-candidates', '12'], { out: (s: string) => out.push(s), err: (s: string) => err.push(s) });
    assert.equal(code, 0, err.join('\n'));
    const text = out.join('\n');
    assert.match(text, /verified in llama\.cpp on tinyTales\.txt/);
    assert.match(text, /Q4_K_M-like/);
    // The solver and the baselines name llama-quantize's fallback types for stories260K's narrow rows, so every
    // candidate is a real file of the types it names.
    assert.match(text, /every plan was written in its real ggml types/);
    const parsed = parsePlan(await fs.readFile(`${file}.precision.json`, 'utf8'), 'p.precision.json');
    const m = parsed.plan?.measurement;
    assert.ok(m && m.metric === 'kl', parsed.diagnostics.map((d) => d.message).join('\n'));
    assert.match(m.runtime, /llama\.cpp/);
    assert.match(m.text, /context 96;/, 'the evaluation context of --eval-context is recorded');
    assert.ok(m.plan.klDivergence > 0 && m.plan.perplexity > 1 && m.plan.top1Agreement > 0.5);
    assert.ok((m.baselines ?? []).some((b) => b.id === 'q4_k_m'));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('measurement cache: a second run reads every pair back; another context, text or model measures again; planted symlinks are not followed', { timeout: 300_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gguf-measure-cache-'));
  try {
    const file = path.join(dir, 'generated.gguf');
    generateLlamaGguf(file, { seed: 3, blocks: 1 });
    const cacheDir = path.join(dir, 'cache');
    const opts = { formats: ['q8_0', 'q4_k'], layerBudget: 4, cacheDir, maxTokens: 200 } as const;
    const first = await measureGgufSensitivity(file, opts);
    assert.ok(first.measured!.runs > 0 && first.measured!.cached === false);
    const kl = (r: typeof first): number[] => r.layers.flatMap((l) => Object.values(l.formats).map((s) => s.klDivergence ?? -1));
    const second = await measureGgufSensitivity(file, opts);
    assert.equal(second.measured!.runs, 0, 'every pair from the cache');
    assert.equal(second.measured!.cached, true);
    assert.deepEqual(kl(second), kl(first));
    assert.match(second.measured!.notes.join(' '), /from the measurement cache/);
    assert.equal(second.measured!.inputs, first.measured!.inputs);
    const other = await measureGgufSensitivity(file, { ...opts, contextSize: 64 });
    assert.ok(other.measured!.runs > 0, 'another context is measured again');
    // Tampered: an entry replaced by a symlink to a file with the right name elsewhere is ignored (O_NOFOLLOW).
    const [entry] = (await fs.readdir(cacheDir)).filter((n) => n.startsWith('gguf-measure-'));
    assert.ok(entry);
    const planted = path.join(dir, 'planted.json');
    await fs.copyFile(path.join(cacheDir, entry), planted);
    for (const name of await fs.readdir(cacheDir)) await fs.rm(path.join(cacheDir, name));
    await fs.symlink(planted, path.join(cacheDir, entry));
    const third = await measureGgufSensitivity(file, { ...opts, cacheDir });
    const thirdOrOther = third.measured!.runs;
    assert.ok(thirdOrOther > 0, 'a symlinked entry is not read');
    // The model's bytes are part of the key: one changed weight byte measures again.
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 1;
    await fs.writeFile(file, bytes);
    const changed = await measureGgufSensitivity(file, opts);
    assert.ok(changed.measured!.runs > 0, 'a changed model is measured again');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('local search: when a baseline beats the plan it was given, anchored re-solves step from it and are measured', { timeout: 300_000 }, async () => {
  const model = await readModel(STORIES260K);
  const session = await startGgufEvaluation(STORIES260K, { contextSize: 64 });
  try {
    const formats = ['fp16', 'q8_0', 'q5_0', 'q4_0'];
    const staticReport = await analyzeModelSensitivity(STORIES260K, { formats, workers: 0 });
    const q8 = ggufBaselines(model).find((b) => b.id === 'uniform-q8_0')!;
    const q4 = ggufBaselines(model).find((b) => b.id === 'uniform-q4_0')!;
    const budget = Math.floor(assignmentWeightBytes(model, q8.assignment) * 1.3);
    // A deliberately poor "solver plan" (all Q4_0 where it fits): the Q8_0 baseline measures better, so the search
    // starts from it towards the static optimum at the budget.
    const v = await verifyGgufPlan(STORIES260K, model, { session, report: staticReport, weightBudgetBytes: budget, harm: harmFromSensitivity(staticReport), formats, solverAssignment: q4.assignment, baselines: [q8], equalSize: false, maxCandidates: 8 });
    const local = v.candidates.filter((c) => c.origin === 'local');
    assert.ok(local.length > 0, v.candidates.map((c) => `${c.id} ${c.measured?.klDivergence}`).join('; '));
    for (const c of local) assert.ok(c.weightBytes <= budget);
    for (const c of v.candidates) if (c.weightBytes <= budget && c.measured) assert.ok(!betterCandidate(c, v.best), `${c.id} beats the delivered ${v.best.id}`);
    assert.notEqual(v.best.id, 'solver');
  } finally {
    session.evaluator.dispose();
  }
});
