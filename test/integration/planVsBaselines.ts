/**
 * `npm run validate:plan`: on every ONNX model of ../shared/models where ONNX Runtime runs it, apply each baseline
 * (uniform FP16 / FP8 / INT8 / INT4, Q4_K_M-like rules) and the solver's plan at the same layer-weight memory,
 * run all with onnxruntime-node on the same generated inputs, and compare the measured output SQNR against the
 * original. Goal: the solver is never worse than a baseline with the same or more memory, and better on most.
 *
 * Two predictors are compared: the static sensitivity scores (`precision-lens plan`'s default) and measured
 * per-layer sensitivity (one ORT run per layer × format, `measureSensitivity`). The solver uses the H100's native
 * formats and the formats `apply` stores for real. Prints a markdown table; `--json FILE` also writes the rows.
 * Exit status 1 when the measured-sensitivity solver loses to a baseline by more than `--tolerance` dB (default 0.5).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  assignmentHarm, assignmentWeightBytes, defaultCandidateFormats, getTarget, harmFromSensitivity, harmToSqnrDb, openModel, solveModel, standardBaselines, type Model,
} from '../../src/core';
import { applyPlanToOnnx, compareWithReference, referenceRun, type ReferenceRun } from '../../src/node/applyOnnx';
import { measureSensitivity } from '../../src/node/measure';
import { openModelFile } from '../../src/node/fileByteSource';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';

const ROOT = path.resolve(__dirname, '../../../shared/models/onnx');

interface Row {
  model: string;
  predictor: 'static' | 'measured';
  baseline: string;
  baselineBytes: number;
  baselineSqnrDb: number;
  solverBytes: number;
  solverSqnrDb: number;
  solverPredictedDb: number;
  baselinePredictedDb: number;
  deltaDb: number;
}

async function listOnnx(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listOnnx(p)));
    else if (e.name.endsWith('.onnx')) out.push(p);
  }
  return out.sort();
}

const fmtDb = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'inf');

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
  const tolerance = args.includes('--tolerance') ? Number(args[args.indexOf('--tolerance') + 1]) : 0.5;
  const target = getTarget('h100')!;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-validate-'));
  const rows: Row[] = [];
  const skipped: string[] = [];
  const t0 = performance.now();
  try {
    for (const file of await listOnnx(ROOT)) {
      const rel = path.relative(ROOT, file);
      const opened = await openModelFile(file);
      let model: Model;
      try {
        model = await openModel(opened.source, { siblings: opened.siblings });
      } catch (e) {
        skipped.push(`${rel}: ${(e as Error).message}`);
        await opened.close();
        continue;
      }
      let ref: ReferenceRun;
      try {
        ref = await referenceRun(file, model, 4);
      } catch (e) {
        skipped.push(`${rel}: ${(e as Error).message.split('\n')[0]}`);
        await opened.close();
        continue;
      }
      const formats = defaultCandidateFormats(model);
      const report = await analyzeModelSensitivity({ model, source: opened.source, siblings: opened.siblings }, { formats, workers: 0 });
      await opened.close();
      const measuredReport = await measureSensitivity(file, { formats, staticReport: report, workers: 0 });
      const predictors = { static: harmFromSensitivity(report), measured: harmFromSensitivity(measuredReport, { prefer: 'measured' }) } as const;
      const baselines = standardBaselines(model, { native: target.native });
      const lowered = baselines.filter((b) => Object.values(b.assignment).some((f) => f !== 'keep'));
      if (lowered.length === 0) {
        skipped.push(`${rel}: no layer can be lowered (weights not stored as FP32/FP16, or none quantizable)`);
        continue;
      }
      const measure = async (name: string, assignment: Readonly<Record<string, string>>): Promise<number | undefined> => {
        const out = path.join(tmp, `${path.basename(file, '.onnx')}-${name}.onnx`);
        const r = await applyPlanToOnnx(file, model, assignment, out);
        // Integer-stored weights (already quantized models) are left as stored by apply: nothing to compare.
        if (!r.layers.some((l) => l.storage !== 'kept')) return undefined;
        const m = await compareWithReference(ref, out);
        await fs.rm(out, { force: true });
        await fs.rm(`${out}.data`, { force: true });
        return m.sqnrDb;
      };
      for (const b of lowered) {
        const bytes = assignmentWeightBytes(model, b.assignment);
        let baselineSqnr: number | undefined;
        try {
          baselineSqnr = await measure(b.id, b.assignment);
        } catch (e) {
          skipped.push(`${rel} ${b.id}: ${(e as Error).message.split('\n')[0]}`);
          continue;
        }
        if (baselineSqnr === undefined) {
          skipped.push(`${rel} ${b.id}: weights are stored as integers; apply leaves them as stored`);
          continue;
        }
        for (const predictor of ['static', 'measured'] as const) {
          const harm = predictors[predictor];
          const solved = solveModel(model, { weightBudgetBytes: bytes, formats, native: target.native, harm, frontierPoints: 2 });
          if (solved.status === 'infeasible') {
            skipped.push(`${rel} ${b.id} (${predictor}): the solver found nothing in ${bytes} bytes`);
            continue;
          }
          const solverSqnr = await measure(`solver-${predictor}-${b.id}`, solved.assignment);
          if (solverSqnr === undefined) continue;
          const bh = assignmentHarm(model, b.assignment, harm);
          rows.push({
            model: rel, predictor, baseline: b.id, baselineBytes: bytes, baselineSqnrDb: baselineSqnr, solverBytes: solved.weightBytes, solverSqnrDb: solverSqnr,
            solverPredictedDb: harmToSqnrDb(solved.harm), baselinePredictedDb: bh === undefined ? NaN : harmToSqnrDb(bh), deltaDb: solverSqnr - baselineSqnr,
          });
          process.stderr.write(`${rel} ${b.id} [${predictor}]: baseline ${fmtDb(baselineSqnr)} dB, solver ${fmtDb(solverSqnr)} dB\n`);
        }
      }
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  const summary = (p: Row['predictor']): string => {
    const rs = rows.filter((r) => r.predictor === p);
    const wins = rs.filter((r) => r.deltaDb > 0.05).length;
    const ties = rs.filter((r) => Math.abs(r.deltaDb) <= 0.05).length;
    const losses = rs.filter((r) => r.deltaDb < -0.05);
    return `${p} sensitivity: ${rs.length} comparisons on ${new Set(rs.map((r) => r.model)).size} models: solver better on ${wins}, equal (±0.05 dB) on ${ties}, worse on ${losses.length}${losses.length ? ` (${losses.map((r) => `${r.model} ${r.baseline} ${fmtDb(r.deltaDb)} dB`).join('; ')})` : ''}; mean Δ ${fmtDb(rs.reduce((a, r) => a + r.deltaDb, 0) / Math.max(1, rs.length))} dB.`;
  };
  const bad = rows.filter((r) => r.predictor === 'measured' && r.deltaDb < -tolerance);
  const lines = [
    '| model | predictor | baseline | weights (B) | baseline SQNR dB | solver weights (B) | solver SQNR dB | Δ dB | predicted baseline / solver dB |',
    '|---|---|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.model} | ${r.predictor} | ${r.baseline} | ${r.baselineBytes} | ${fmtDb(r.baselineSqnrDb)} | ${r.solverBytes} | ${fmtDb(r.solverSqnrDb)} | ${r.deltaDb >= 0 ? '+' : ''}${fmtDb(r.deltaDb)} | ${fmtDb(r.baselinePredictedDb)} / ${fmtDb(r.solverPredictedDb)} |`),
    '',
    summary('static'),
    summary('measured'),
    `${((performance.now() - t0) / 1000).toFixed(1)} s.`,
    ...skipped.map((s) => `skipped: ${s}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (jsonOut) await fs.writeFile(jsonOut, JSON.stringify({ rows, skipped }, null, 2));
  return bad.length ? 1 : 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; },
);
