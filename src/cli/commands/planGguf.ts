/**
 * `plan model.gguf --verify` / `--measure`: the GGUF half of plan verification. `--measure` measures each layer's
 * KL in llama.cpp (ggufMeasure.ts) and plans with it; `--verify` (implied by `--measure` unless `--no-verify`)
 * measures the solver's plan, the uniform ggml types and the llama.cpp-like mixes at equal size (ggufVerify.ts) and
 * delivers the best measured plan within the budget. One evaluation process serves both.
 */
import {
  KEEP_FORMAT,
  formatBytes,
  harmFromSensitivity,
  type ComputeType,
  type HarmFunction,
  type Model,
  type PlanKlMeasurement,
  type SensitivityReport,
} from '../../core';
import { harmFromMeasuredKl, measureGgufSensitivity, startGgufEvaluation, type GgufEvalSession } from '../../node/ggufMeasure';
import { LLAMA_EVAL_RUNTIME } from '../../node/llamaEval';
import { ggufBaselines, ggufPlanRecord, verifyGgufPlan, type GgufCandidate, type GgufVerifyResult } from '../../node/ggufVerify';
import { renderTable } from '../io';
import type { Progress } from '../progress';

/** What `--measure` / `--verify` produced for a GGUF plan. */
export interface GgufPlanMeasurement {
  readonly session: GgufEvalSession;
  readonly measured: SensitivityReport | undefined;
  /** Harm the solver plans with: measured KL per layer (static scaled where not measured), else the static score. */
  readonly harm: HarmFunction;
  readonly harmUnit: 'kl' | 'static';
}

/** Starts llama.cpp on the model and, with `measure`, measures per-layer KL. Dispose `session.evaluator` when done. */
export async function measureGgufForPlan(modelPath: string, report: SensitivityReport, options: { readonly measure: boolean; readonly formats: readonly string[]; readonly textFile?: string; readonly contextSize?: number; readonly progress: Progress }): Promise<GgufPlanMeasurement> {
  const { progress } = options;
  const session = await progress.around('running the original model in llama.cpp', () => startGgufEvaluation(modelPath, { ...(options.textFile !== undefined ? { textFile: options.textFile } : {}), ...(options.contextSize !== undefined ? { contextSize: options.contextSize } : {}) }));
  try {
    const measured = options.measure ? await measureGgufSensitivity(modelPath, { session, staticReport: report, formats: options.formats, onProgress: (p) => progress.update('measuring in llama.cpp', p.pairsDone, p.pairsTotal, `${p.pairsDone}/${p.pairsTotal} layer × format pairs, ${p.message}`) }) : undefined;
    const kl = measured ? harmFromMeasuredKl(measured) : undefined;
    return { session, measured, harm: kl ?? harmFromSensitivity(report), harmUnit: kl ? 'kl' : 'static' };
  } catch (e) {
    session.evaluator.dispose();
    throw e;
  }
}

/** Runs verification with the session of {@link measureGgufForPlan}. */
export function verifyGgufForPlan(modelPath: string, model: Model, m: GgufPlanMeasurement, report: SensitivityReport, options: { readonly weightBudgetBytes: number; readonly formats: readonly string[]; readonly pinned: Readonly<Record<string, string>>; readonly native?: readonly ComputeType[]; readonly allowEmulated: boolean; readonly solverAssignment: Readonly<Record<string, string>>; readonly maxCandidates: number; readonly progress: Progress }): Promise<GgufVerifyResult> {
  return verifyGgufPlan(modelPath, model, {
    session: m.session,
    report: m.measured ?? report,
    weightBudgetBytes: options.weightBudgetBytes,
    harm: m.harm,
    formats: options.formats,
    pinned: options.pinned,
    ...(options.native ? { native: options.native } : {}),
    allowEmulated: options.allowEmulated,
    solverAssignment: options.solverAssignment,
    baselines: ggufBaselines(model, { ...(options.native ? { native: options.native } : {}), allowEmulated: options.allowEmulated }),
    maxCandidates: options.maxCandidates,
    onProgress: (p) => options.progress.update('verifying in llama.cpp', p.done, p.total, `${p.done}/${p.total} plans, ${p.message}`),
  });
}

const kl = (c: GgufCandidate): string => (c.measured ? c.measured.klDivergence.toPrecision(3) : 'n/a');

/** Predicted beside measured: '0.021 · 0.019' (predicted KL only when the harm is in KL units). */
export function predictedMeasured(c: GgufCandidate, unit: GgufPlanMeasurement['harmUnit']): string {
  const pred = unit === 'kl' && c.predictedHarm !== undefined ? c.predictedHarm.toPrecision(2) : '–';
  return `${pred} · ${kl(c)}`;
}

/** Text report: delivered plan, then every baseline beside the solver's plan of the same size. */
export function ggufVerificationLines(v: GgufVerifyResult, unit: GgufPlanMeasurement['harmUnit'], counts: ReadonlyMap<string, number>): string[] {
  const lines: string[] = [];
  const b = v.best;
  lines.push(`verified in llama.cpp on ${v.inputs}: ${v.candidates.length} plans measured in ${(v.elapsedMs / 1000).toFixed(1)} s`);
  lines.push(`delivered: ${b.label} · ${formatBytes(b.weightBytes)} of layer weights · KL ${kl(b)}${b.measured ? ` ± ${b.measured.klStdErr.toPrecision(2)} · perplexity ${b.measured.perplexity.toFixed(3)} (original ${b.measured.referencePerplexity.toFixed(3)}) · top-1 ${(100 * b.measured.top1Agreement).toFixed(1)}%` : ''}${b.id === 'solver' ? '' : ` (the solver's plan measured KL ${kl(v.solver)})`} · ${[...counts].sort((x, y) => y[1] - x[1]).map(([id, n]) => `${id === KEEP_FORMAT ? 'as stored' : id} ×${n}`).join(', ')}`);
  lines.push('');
  const head = ['plan', 'weights', `KL ${unit === 'kl' ? 'predicted · measured' : 'measured'}`, 'perplexity', 'top-1', 'solver at same size: KL', 'perplexity ', 'delivered at that size'];
  const rows = v.equalSize.map((e) => [
    e.baseline.label,
    formatBytes(e.baseline.weightBytes),
    unit === 'kl' ? predictedMeasured(e.baseline, unit) : kl(e.baseline),
    e.baseline.measured ? e.baseline.measured.perplexity.toFixed(3) : (e.baseline.error ?? 'n/a'),
    e.baseline.measured ? `${(100 * e.baseline.measured.top1Agreement).toFixed(1)}%` : '',
    `${unit === 'kl' ? predictedMeasured(e.solver, unit) : kl(e.solver)} in ${formatBytes(e.solver.weightBytes)}`,
    e.solver.measured ? e.solver.measured.perplexity.toFixed(3) : (e.solver.error ?? 'n/a'),
    e.delivered.id === e.solver.id ? 'solver' : e.delivered.label.split(' (')[0]!,
  ]);
  lines.push(renderTable(head, rows, [1, 2, 3, 4, 5, 6]));
  const failed = v.candidates.filter((c) => c.error !== undefined);
  if (failed.length) lines.push(`note: ${failed.length} plan(s) could not be measured: ${failed[0]!.id}: ${failed[0]!.error}`);
  lines.push(v.storage === 'ggml' ? 'note: every plan was written in its real ggml types (apply) and run by llama.cpp\'s kernels.' : 'note: some rows are not a multiple of a format\'s block (apply would store llama-quantize\'s fallback type), so lowered layers were simulated in the stored dtype; sizes are those of the planned ggml types.');
  return lines;
}

/** JSON view of a GGUF verification. */
export function ggufVerificationJson(v: GgufVerifyResult): unknown {
  const c = (x: GgufCandidate): unknown => ({ id: x.id, label: x.label, origin: x.origin, weightBytes: x.weightBytes, predictedHarm: x.predictedHarm ?? null, measured: x.measured ?? null, ...(x.error !== undefined ? { error: x.error } : {}) });
  return { delivered: v.best.id, inputs: v.inputs, storage: v.storage, elapsedMs: v.elapsedMs, candidates: v.candidates.map(c), equalSize: v.equalSize.map((e) => ({ baseline: e.baseline.id, solver: e.solver.id, delivered: e.delivered.id })) };
}

/** The runtime recorded in plan files. */
export const LLAMA_RUNTIME = LLAMA_EVAL_RUNTIME;

/** The plan file's record of a GGUF verification (see {@link ggufPlanRecord}). */
export function ggufMeasurementRecord(v: GgufVerifyResult, m: GgufPlanMeasurement, measuredAt = new Date()): PlanKlMeasurement {
  return ggufPlanRecord(v, m.measured, m.harmUnit, measuredAt);
}
