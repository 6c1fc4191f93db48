/**
 * `npm run validate:plan` (GGUF half): on stories260K (trained) and a generated llama GGUF (256-wide rows with
 * outlier channels, llamaModels.ts), `plan --verify` is run as a user gets it (static scores, the default GGUF
 * formats, ggufVerify.ts: the solver's plan, the uniform ggml types and the Q4_K_M/Q3_K_M/Q2_K-like mixes, and the
 * solver's plan at each baseline's size, all run in llama.cpp). For each baseline, the plan delivered at that
 * baseline's size (the best measured candidate of equal or smaller size) is compared with it.
 *
 * Selection and scoring use different text: the bundled calibration text is split by paragraphs, the first half
 * selects (verification), the second half scores every delivered plan and baseline (held out), so a plan's
 * advantage is not measured on the text it was chosen with. Exit status 1 when a delivered plan's held-out KL is
 * above its baseline's by more than twice the standard error of the difference (the KLs of both over the same
 * positions; `--tolerance-se N` changes 2), or when any plan cannot be measured.
 * Prints a markdown table (KL and perplexity, both texts) and the run time.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assignmentWeightBytes, defaultCandidateFormats, formatBytes, harmFromSensitivity, openModel, type Model } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { startGgufEvaluation, type GgufEvalSession } from '../../src/node/ggufMeasure';
import { ggufBaselines, measureGgufAssignment, verifyGgufPlan } from '../../src/node/ggufVerify';
import { bundledCalibrationPath } from '../../src/node/llamaEval';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { STORIES260K, generateLlamaGguf } from './llamaModels';

async function readModel(file: string): Promise<Model> {
  const opened = await openModelFile(file);
  try {
    return await openModel(opened.source, {});
  } finally {
    await opened.close();
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const tolerance = args.includes('--tolerance-se') ? Number(args[args.indexOf('--tolerance-se') + 1]) : 2;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'precision-lens-validate-plan-gguf-'));
  const started = performance.now();
  let failed = false;
  try {
    const paragraphs = (await fs.readFile(bundledCalibrationPath(), 'utf8')).split(/\n\s*\n/).filter((p) => p.trim());
    const half = Math.ceil(paragraphs.length / 2);
    const selectText = path.join(dir, 'select.txt');
    const heldText = path.join(dir, 'held-out.txt');
    await fs.writeFile(selectText, paragraphs.slice(0, half).join('\n\n'));
    await fs.writeFile(heldText, paragraphs.slice(half).join('\n\n'));
    const generated = path.join(dir, 'generated-llama.gguf');
    generateLlamaGguf(generated, { seed: 1 });

    console.log('| model | baseline | weights | KL (select) | delivered at that size | weights | KL (select) | KL held-out: baseline → delivered | perplexity held-out: baseline → delivered (original) | |');
    console.log('|---|---|---:|---:|---|---:|---:|---:|---:|---|');
    for (const [name, file] of [['stories260K.gguf', STORIES260K], ['generated-llama.gguf', generated]] as const) {
      const model = await readModel(file);
      const formats = defaultCandidateFormats(model);
      const baselines = ggufBaselines(model);
      const scored = [...new Set([...formats, ...baselines.flatMap((b) => Object.values(b.assignment)).filter((f) => f !== 'keep')])];
      const report = await analyzeModelSensitivity(file, { formats: scored, workers: 0 });
      const harm = harmFromSensitivity(report);
      const budget = Math.max(...baselines.map((b) => assignmentWeightBytes(model, b.assignment)));
      let select: GgufEvalSession | undefined;
      let held: GgufEvalSession | undefined;
      try {
        select = await startGgufEvaluation(file, { textFile: selectText });
        held = await startGgufEvaluation(file, { textFile: heldText });
        const t0 = performance.now();
        const v = await verifyGgufPlan(file, model, { session: select, report, weightBudgetBytes: budget, harm, formats, baselines, maxCandidates: 64 });
        process.stderr.write(`${name}: ${v.candidates.length} plans (${v.storage === 'ggml' ? 'real ggml types' : 'simulated in the stored dtype'}) verified in ${((performance.now() - t0) / 1000).toFixed(1)} s (${select.description})\n`);
        for (const e of v.equalSize) {
          const b = e.baseline, d = e.delivered;
          if (!b.measured || !d.measured) {
            failed = true;
            console.log(`| ${name} | ${b.label} | ${formatBytes(b.weightBytes)} | ${b.error ?? 'n/a'} | ${d.label} | | ${d.error ?? 'n/a'} | | | FAILED |`);
            continue;
          }
          const hb = await measureGgufAssignment(file, model, report, b.assignment, held, v.storage);
          const hd = d.id === b.id ? hb : await measureGgufAssignment(file, model, report, d.assignment, held, v.storage);
          const se = Math.hypot(hb.klStdErr, hd.klStdErr);
          const loses = hd.klDivergence > hb.klDivergence + tolerance * se;
          if (loses) failed = true;
          const verdict = d.id === b.id ? 'baseline kept' : hd.klDivergence === hb.klDivergence ? 'equal (same model)' : hd.klDivergence < hb.klDivergence ? 'plan better' : loses ? '**LOSES**' : 'within noise';
          console.log(`| ${name} | ${b.label.split(' (')[0]} | ${formatBytes(b.weightBytes)} | ${b.measured.klDivergence.toPrecision(3)} | ${d.id === b.id ? '(the baseline)' : d.label} | ${formatBytes(d.weightBytes)} | ${d.measured.klDivergence.toPrecision(3)} | ${hb.klDivergence.toPrecision(3)} → ${hd.klDivergence.toPrecision(3)} | ${hb.perplexity.toFixed(3)} → ${hd.perplexity.toFixed(3)} (${hb.referencePerplexity.toFixed(3)}) | ${verdict} |`);
        }
      } finally {
        select?.evaluator.dispose();
        held?.evaluator.dispose();
      }
    }
    console.log(`\n${((performance.now() - started) / 1000).toFixed(0)} s; goal: no delivered plan loses to a baseline of equal or larger size on the held-out text by more than ${tolerance} standard errors: ${failed ? 'FAILED' : 'passed'}`);
    return failed ? 1 : 0;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(e);
  process.exit(2);
});
