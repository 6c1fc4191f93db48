/**
 * `npm run validate:plan`: on every ONNX model of ../shared/models where ONNX Runtime runs it, apply each baseline
 * (uniform FP16 / FP8 / INT8 / INT4, Q4_K_M-like rules) and the planner's plan at the same or less layer-weight
 * memory (the plan's bytes are never above the baseline's), run all with onnxruntime-node on the same inputs, and
 * compare the measured output SQNR. Goal: the delivered plan is never worse than a baseline with the same or more
 * memory, and better on most.
 *
 * Plans compared, as a user gets them (same options as `precision-lens plan`: H100 native formats, the formats
 * `apply` stores for real, budget = the baseline's layer-weight bytes):
 * - `static`: the default (`plan`), the solver on static sensitivity scores;
 * - `measured`: the solver on measured per-layer sensitivity, unverified (for reference);
 * - `verified`: `plan --measure` — measured per-layer sensitivity, then plan verification (planVerify.ts: the
 *   solver's plan, the static optimum, the baselines that fit and local-search steps, applied and run; the best
 *   measured is delivered);
 * - `static+verify`: `plan --verify` — static scores, then the same verification.
 *
 * Verification and measured sensitivity use calibration inputs with seed 1 (4 samples, more for models whose
 * compared outputs have fewer than 256 values, as `plan --measure` does); every plan and baseline is then scored
 * on HELD-OUT inputs (seed 2, twice as many samples, same input sizes), so a verified plan's advantage is not
 * measured on the inputs it was selected with. `--in-sample` scores on the selection inputs instead.
 * SQNR uses measured sensitivity's output selection (all numeric outputs, weighted equally, when the first output
 * has fewer than 16 values per run, e.g. Silero VAD's probability and its state).
 *
 * Prints a markdown table and a summary per plan kind; `--json FILE` also writes the rows. `--only NAME` restricts
 * to models whose path contains NAME; `--candidates N` sets the verification cap (default 16).
 * Exit status 1 when the verified plan loses to a baseline by more than `--tolerance` dB (default 0.5).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  assignmentHarm, assignmentWeightBytes, defaultCandidateFormats, getTarget, harmFromSensitivity, harmToSqnrDb, openModel, solveModel, standardBaselines, type Model,
} from '../../src/core';
import { measureSensitivity } from '../../src/node/measure';
import { openModelFile } from '../../src/node/fileByteSource';
import { measureAssignment, planReference, verifyPlan, type PlanReference } from '../../src/node/planVerify';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { SHARED_MODELS } from './sharedModels';

const ROOT = path.join(SHARED_MODELS, 'onnx');
const KINDS = ['static', 'measured', 'verified', 'static+verify'] as const;
type Kind = (typeof KINDS)[number];

interface Row {
  model: string;
  kind: Kind;
  baseline: string;
  baselineBytes: number;
  baselineSqnrDb: number;
  planBytes: number;
  planSqnrDb: number;
  deltaDb: number;
  /** Verification only: which candidate was delivered and how many were measured. */
  delivered?: string;
  candidates?: number;
  verifyMs?: number;
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
const arg = (args: string[], flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const jsonOut = arg(args, '--json');
  const only = arg(args, '--only');
  const tolerance = Number(arg(args, '--tolerance') ?? 0.5);
  const maxCandidates = Number(arg(args, '--candidates') ?? 16);
  const inSample = args.includes('--in-sample');
  const target = getTarget('h100')!;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-validate-'));
  const rows: Row[] = [];
  const skipped: string[] = [];
  const t0 = performance.now();
  try {
    for (const file of await listOnnx(ROOT)) {
      const rel = path.relative(ROOT, file);
      if (only && !rel.includes(only)) continue;
      const opened = await openModelFile(file);
      let model: Model;
      try {
        model = await openModel(opened.source, { siblings: opened.siblings });
      } catch (e) {
        skipped.push(`${rel}: ${(e as Error).message}`);
        await opened.close();
        continue;
      }
      let selection: PlanReference;
      let evaluation: PlanReference;
      try {
        selection = await planReference(file, model, { seed: 1 });
        evaluation = inSample ? selection : await planReference(file, model, { samples: 2 * selection.samples.length, maxSamples: 2 * selection.samples.length, seed: 2, variant: selection.variant });
      } catch (e) {
        skipped.push(`${rel}: ${(e as Error).message.split('\n')[0]}`);
        await opened.close();
        continue;
      }
      const formats = defaultCandidateFormats(model);
      const report = await analyzeModelSensitivity({ model, source: opened.source, siblings: opened.siblings }, { formats, workers: 0 });
      await opened.close();
      const measuredReport = await measureSensitivity(file, { formats, staticReport: report, workers: 0, samples: selection.samples.length });
      const staticHarm = harmFromSensitivity(report);
      const measuredHarm = harmFromSensitivity(measuredReport, { prefer: 'measured' });
      const baselines = standardBaselines(model, { native: target.native });
      const lowered = baselines.filter((b) => Object.values(b.assignment).some((f) => f !== 'keep'));
      if (lowered.length === 0) {
        skipped.push(`${rel}: no layer can be lowered (weights not stored as FP32/FP16, or none quantizable)`);
        continue;
      }
      const evalCache = new Map<string, number | undefined>();
      const score = async (name: string, assignment: Readonly<Record<string, string>>): Promise<number | undefined> => {
        const key = JSON.stringify(Object.entries(assignment).sort());
        if (!evalCache.has(key)) {
          const m = await measureAssignment(file, model, evaluation, assignment, tmp, `${path.basename(file, '.onnx')}-${name}`);
          // Integer-stored weights (already quantized models) are left as stored by apply: nothing to compare.
          evalCache.set(key, m.loweredLayers === 0 ? undefined : m.sqnrDb);
        }
        return evalCache.get(key);
      };
      const verifyCaches = { static: new Map<string, number | Error>(), measured: new Map<string, number | Error>() };
      for (const b of lowered) {
        const bytes = assignmentWeightBytes(model, b.assignment);
        let baselineSqnr: number | undefined;
        try {
          baselineSqnr = await score(b.id, b.assignment);
        } catch (e) {
          skipped.push(`${rel} ${b.id}: ${(e as Error).message.split('\n')[0]}`);
          continue;
        }
        if (baselineSqnr === undefined) {
          skipped.push(`${rel} ${b.id}: weights are stored as integers; apply leaves them as stored`);
          continue;
        }
        const common = { weightBudgetBytes: bytes, formats, native: target.native, frontierPoints: 2 };
        const plans: Partial<Record<Kind, { assignment: Readonly<Record<string, string>>; delivered?: string; candidates?: number; ms?: number }>> = {};
        const st = solveModel(model, { ...common, harm: staticHarm });
        const me = solveModel(model, { ...common, harm: measuredHarm });
        if (st.status !== 'infeasible') plans.static = { assignment: st.assignment };
        if (me.status !== 'infeasible') plans.measured = { assignment: me.assignment };
        if (me.status !== 'infeasible') {
          const v = await verifyPlan(file, model, { weightBudgetBytes: bytes, harm: measuredHarm, alternativeHarms: [{ id: 'static', harm: staticHarm }], formats, native: target.native, solverAssignment: me.assignment, baselines, reference: selection, cache: verifyCaches.measured, maxCandidates });
          plans.verified = { assignment: v.best.assignment, delivered: v.best.id, candidates: v.candidates.length, ms: v.elapsedMs };
        }
        if (st.status !== 'infeasible') {
          const v = await verifyPlan(file, model, { weightBudgetBytes: bytes, harm: staticHarm, formats, native: target.native, solverAssignment: st.assignment, baselines, reference: selection, cache: verifyCaches.static, maxCandidates });
          plans['static+verify'] = { assignment: v.best.assignment, delivered: v.best.id, candidates: v.candidates.length, ms: v.elapsedMs };
        }
        for (const kind of KINDS) {
          const p = plans[kind];
          if (!p) {
            skipped.push(`${rel} ${b.id} (${kind}): nothing fits ${bytes} bytes`);
            continue;
          }
          const planBytes = assignmentWeightBytes(model, p.assignment);
          if (planBytes > bytes) throw new Error(`${rel} ${b.id} (${kind}): the plan takes ${planBytes} bytes, more than the baseline's ${bytes}.`);
          const planSqnr = await score(`${kind}-${b.id}`, p.assignment);
          if (planSqnr === undefined) continue;
          rows.push({
            model: rel, kind, baseline: b.id, baselineBytes: bytes, baselineSqnrDb: baselineSqnr, planBytes, planSqnrDb: planSqnr, deltaDb: planSqnr - baselineSqnr,
            ...(p.delivered !== undefined ? { delivered: p.delivered, candidates: p.candidates!, verifyMs: p.ms! } : {}),
          });
          process.stderr.write(`${rel} ${b.id} [${kind}]: baseline ${fmtDb(baselineSqnr)} dB, plan ${fmtDb(planSqnr)} dB${p.delivered ? ` (delivered ${p.delivered} of ${p.candidates}, ${p.ms} ms)` : ''}\n`);
        }
        // Predicted harms, for the table's last column.
        const bh = assignmentHarm(model, b.assignment, measuredHarm);
        if (bh !== undefined) process.stderr.write(`  predicted (measured per-layer): baseline ${fmtDb(harmToSqnrDb(bh))} dB, solver ${fmtDb(harmToSqnrDb(me.harm))} dB\n`);
      }
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  const dif = (x: number): number => (Number.isFinite(x) ? x : 100);
  const summary = (k: Kind): string => {
    const rs = rows.filter((r) => r.kind === k);
    const wins = rs.filter((r) => r.deltaDb > 0.05).length;
    const ties = rs.filter((r) => Math.abs(r.deltaDb) <= 0.05 || (!Number.isFinite(r.planSqnrDb) && !Number.isFinite(r.baselineSqnrDb))).length;
    const losses = rs.filter((r) => r.deltaDb < -0.05);
    const mean = rs.reduce((a, r) => a + (Number.isNaN(r.deltaDb) ? 0 : dif(r.planSqnrDb) - dif(r.baselineSqnrDb)), 0) / Math.max(1, rs.length);
    return `${k}: ${rs.length} comparisons on ${new Set(rs.map((r) => r.model)).size} models: better on ${wins}, equal (±0.05 dB) on ${ties}, worse on ${losses.length}${losses.length ? ` (${losses.map((r) => `${r.model} ${r.baseline} ${fmtDb(r.deltaDb)} dB`).join('; ')})` : ''}; mean Δ ${fmtDb(mean)} dB.`;
  };
  const bad = rows.filter((r) => r.kind === 'verified' && r.deltaDb < -tolerance);
  const lines = [
    `SQNR on ${inSample ? 'the selection inputs (in-sample)' : 'held-out inputs (seed 2, twice the selection samples)'}; verification selected on seed 1, at most ${maxCandidates} candidates.`,
    '',
    '| model | plan | baseline | baseline bytes | baseline SQNR dB | plan bytes | plan SQNR dB | Δ dB | delivered (candidates) |',
    '|---|---|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.model} | ${r.kind} | ${r.baseline} | ${r.baselineBytes} | ${fmtDb(r.baselineSqnrDb)} | ${r.planBytes} | ${fmtDb(r.planSqnrDb)} | ${r.deltaDb >= 0 ? '+' : ''}${fmtDb(r.deltaDb)} | ${r.delivered ? `${r.delivered} (${r.candidates})` : ''} |`),
    '',
    ...KINDS.map(summary),
    `${((performance.now() - t0) / 1000).toFixed(1)} s.`,
    ...skipped.map((s) => `skipped: ${s}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (jsonOut) await fs.writeFile(jsonOut, JSON.stringify({ rows, skipped, inSample, maxCandidates }, null, 2));
  return bad.length ? 1 : 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; },
);
