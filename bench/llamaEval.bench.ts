/**
 * GGUF measurement benchmark (issue 10): time and peak memory of running models in llama.cpp (node-llama-cpp, CPU,
 * child process) on the bundled calibration text, of `apply` writing a candidate in real ggml types, of one
 * measured-sensitivity pass and of plan verification, on stories260K (trained, 64-wide rows: simulated storage) and
 * a generated llama GGUF (512-wide rows, 4 blocks: real ggml types). Peak RSS is reported for this process and for
 * the evaluation process (VmHWM, Linux).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assignmentWeightBytes, harmFromSensitivity, openModel, type Model } from '../src/core';
import { applyPlanToGguf } from '../src/node/applyGguf';
import { openModelFile } from '../src/node/fileByteSource';
import { measureGgufSensitivity, startGgufEvaluation } from '../src/node/ggufMeasure';
import { ggufBaselines, verifyGgufPlan } from '../src/node/ggufVerify';
import { analyzeModelSensitivity } from '../src/node/sensitivityRunner';
import { STORIES260K, generateLlamaGguf } from '../test/integration/llamaModels';

const MB = 1024 * 1024;

async function readModel(file: string): Promise<Model> {
  const opened = await openModelFile(file);
  try {
    return await openModel(opened.source, {});
  } finally {
    await opened.close();
  }
}

async function bench(name: string, file: string, dir: string): Promise<void> {
  const model = await readModel(file);
  const fileMb = (await fs.stat(file)).size / MB;
  let t = performance.now();
  const session = await startGgufEvaluation(file);
  const startMs = performance.now() - t;
  try {
    const r = session.reference;
    t = performance.now();
    const self = await session.evaluator.compare(file);
    const compareMs = performance.now() - t;
    const q4km = ggufBaselines(model).find((b) => b.id === 'q4_k_m')!;
    t = performance.now();
    const applied = await applyPlanToGguf(file, q4km.assignment, path.join(dir, `${name}-q4_k_m.gguf`));
    const applyMs = performance.now() - t;
    const formats = ['q8_0', 'q4_k', 'q2_k'];
    const report = await analyzeModelSensitivity(file, { formats: [...formats, 'q6_k', 'q5_k', 'q4_0', 'q3_k'], workers: 0 });
    t = performance.now();
    // No result cache: every pair is run here (the per-user cache would hold an earlier run's pairs of these same bytes).
    const measured = await measureGgufSensitivity(file, { formats, session, staticReport: report, cacheDir: false });
    const measureMs = performance.now() - t;
    t = performance.now();
    const budget = assignmentWeightBytes(model, q4km.assignment);
    const v = await verifyGgufPlan(file, model, { session, report, weightBudgetBytes: budget, harm: harmFromSensitivity(report), formats: ['q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k'], maxCandidates: 24 });
    const verifyMs = performance.now() - t;
    const evalPeak = await session.evaluator.peakRssBytes();
    console.log(`${name}: ${fileMb.toFixed(2)} MB, ${r.tokens} tokens, ${r.positions} scored positions (context ${session.contextSize}), vocabulary ${r.vocabularySize}`);
    console.log(`  start + reference run: ${(startMs / 1000).toFixed(2)} s (load ${r.loadMs} ms, eval ${r.evalMs} ms)`);
    console.log(`  one candidate compared: ${(compareMs / 1000).toFixed(2)} s (load ${self.loadMs} ms, eval ${self.evalMs} ms; ${(self.evalMs / r.positions).toFixed(2)} ms per position)`);
    console.log(`  apply Q4_K_M-like: ${(applyMs / 1000).toFixed(2)} s → ${(applied.fileBytes / MB).toFixed(2)} MB (${applied.warnings.length} fallback notes)`);
    console.log(`  sensitivity --measure (${formats.join(', ')}): ${measured.measured?.runs} pairs run in ${(measureMs / 1000).toFixed(1)} s (${(measureMs / Math.max(1, measured.measured?.runs ?? 1) / 1000).toFixed(2)} s per pair; ${measured.measured?.notes.at(-1)?.split(':')[0]})`);
    console.log(`  plan --verify: ${v.candidates.length} plans in ${(verifyMs / 1000).toFixed(1)} s (${v.storage} storage)`);
    console.log(`  peak RSS: evaluation process ${evalPeak !== undefined ? `${(evalPeak / MB).toFixed(0)} MB` : 'n/a'}, this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (both incl. the Node baseline)`);
  } finally {
    session.evaluator.dispose();
  }
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'precision-lens-bench-llama-'));
  try {
    await bench('stories260K', STORIES260K, dir);
    const generated = path.join(dir, 'generated-512x4.gguf');
    generateLlamaGguf(generated, { embd: 512, ffn: 1024, blocks: 4, heads: 8, seed: 3 });
    await bench('generated-512x4', generated, dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
