/**
 * Plan verification (GGUF): the solver's plan, the uniform ggml types and llama.cpp's own mixes (Q4_K_M-, Q3_K_M-
 * and Q2_K-like rules, baselines.ts `llamaCppRulesBaseline`) are each applied to a copy of the model and run in
 * llama.cpp on the calibration text (llamaEval.ts); the score is the mean KL divergence of the next-token
 * distributions against the original (lower is better; ties go to the smaller file).
 *
 * Equal size: for every baseline, the solver is also run with that baseline's weight bytes as its budget, so each
 * rule or uniform type is compared with the solver's plan of the same (or smaller) size — the comparison the
 * acceptance asks for, and what `npm run validate:plan` checks. The plan delivered for the user's budget is the best
 * measured candidate that fits it: the solver's plan, a baseline, or the solver's plan for a smaller baseline's size.
 * It is therefore never worse, on the calibration text, than any baseline of equal or smaller size that was measured.
 *
 * How a candidate is applied (ggufMeasure.ts GgufCandidateRunner): written by `apply` in the real ggml types when
 * every candidate names the types apply writes (the solver and the baselines do: llama-quantize's shape fallbacks
 * are part of their options, ggufFallback.ts), else (a pin on a type the rows cannot hold) simulated in the stored
 * dtype; sizes are the plan's ggml sizes
 * (`assignmentWeightBytes`) either way, so a simulated candidate is judged at the size it names.
 *
 * Local search: when another candidate measured better than the solver's plan within the budget, anchored
 * re-solves around it step towards the solver's optimum (as ONNX's planVerify.ts does), while a round improves.
 *
 * Cost: one tensor rewrite + one llama.cpp evaluation per candidate, at most `maxCandidates`.
 */
import {
  KEEP_FORMAT,
  baselineFormats,
  baselineWithName,
  assignmentHarm,
  assignmentWeightBytes,
  ggufAssignmentWritten,
  groupLayers,
  llamaCppRulesBaseline,
  solveModel,
  throwIfCancelled,
  uniformBaseline,
  type Baseline,
  type CancellationToken,
  type ComputeType,
  type HarmFunction,
  type Model,
  type PlanKlMeasurement,
  type SensitivityReport,
} from '../core';
import { GgufCandidateRunner, type GgufEvalSession, type GgufStorage } from './ggufMeasure';
import { LLAMA_EVAL_RUNTIME, type LlamaCompareResult } from './llamaEval';

/** Default cap on measured candidates. */
export const DEFAULT_GGUF_VERIFY_CANDIDATES = 24;

/** Uniform ggml types and llama.cpp-like mixes for a GGUF model (those whose formats are allowed). */
export function ggufBaselines(model: Model, options: { readonly native?: readonly ComputeType[]; readonly allowEmulated?: boolean } = {}): Baseline[] {
  const out: Baseline[] = [];
  for (const id of ['q8_0', 'q6_k', 'q5_k', 'q4_k', 'q4_0', 'q3_k', 'q2_k']) {
    const b = uniformBaseline(model, id, options);
    if (b) out.push(b);
  }
  // llama.cpp llama-quant.cpp `llama_tensor_get_type`: the mixes' main type, the type for attn_v / ffn_down in
  // the layers use_more_bits picks, and Q6_K for the output head.
  const mixes = [
    { id: 'q4_k_m', label: 'Q4_K_M-like (q4_k; q6_k for attn v/ffn down, q6_k head)', formats: { low: 'q4_k', high: 'q6_k', head: 'q6_k' } },
    { id: 'q3_k_m', label: 'Q3_K_M-like (q3_k; q4_k for attn v/ffn down, q6_k head)', formats: { low: 'q3_k', high: 'q4_k', head: 'q6_k' } },
    { id: 'q2_k', label: 'Q2_K-like (q2_k; q3_k for attn v/ffn down, q6_k head)', formats: { low: 'q2_k', high: 'q3_k', head: 'q6_k' } },
  ];
  for (const m of mixes) {
    const b = llamaCppRulesBaseline(model, m.formats, options);
    if (b) out.push(baselineWithName(b, m.id, m.label));
  }
  return out;
}

/** One plan measured. */
export interface GgufCandidate {
  /** 'solver', 'solver@<baseline id>', or a baseline id. */
  readonly id: string;
  readonly label: string;
  readonly origin: 'solver' | 'solver-at-baseline' | 'baseline' | 'local';
  readonly assignment: Readonly<Record<string, string>>;
  readonly weightBytes: number;
  /** Σ per-layer harm under the predictor (KL units when measured per layer). */
  readonly predictedHarm: number | undefined;
  readonly measured: LlamaCompareResult | undefined;
  readonly error?: string;
}

/** Options of {@link verifyGgufPlan}. */
export interface GgufVerifyOptions {
  readonly session: GgufEvalSession;
  /** Static (or measured) report: the tensors of each layer come from it. */
  readonly report: SensitivityReport;
  readonly weightBudgetBytes: number;
  readonly harm: HarmFunction;
  readonly formats: readonly string[];
  readonly pinned?: Readonly<Record<string, string>>;
  readonly native?: readonly ComputeType[];
  readonly allowEmulated?: boolean;
  readonly solverAssignment?: Readonly<Record<string, string>>;
  readonly baselines?: readonly Baseline[];
  /** Also solve and measure the solver's plan at each baseline's size (default true). */
  readonly equalSize?: boolean;
  readonly maxCandidates?: number;
  /** How candidates are stored (default ggufStorageFor the formats and baselines). */
  readonly storage?: GgufStorage;
  readonly token?: CancellationToken;
  readonly onProgress?: (p: { readonly done: number; readonly total: number; readonly message: string }) => void;
}

/** Result of {@link verifyGgufPlan}. */
export interface GgufVerifyResult {
  /** Best measured candidate that fits the budget (the solver's plan unless another measured better). */
  readonly best: GgufCandidate;
  readonly solver: GgufCandidate;
  readonly candidates: readonly GgufCandidate[];
  /** Pairs (baseline, solver plan at its size) with both measured. */
  readonly equalSize: readonly { readonly baseline: GgufCandidate; readonly solver: GgufCandidate; readonly delivered: GgufCandidate }[];
  readonly inputs: string;
  /** How candidates were stored: real ggml types, or simulated in the stored dtype (ggufMeasure.ts GgufStorage). */
  readonly storage: GgufStorage;
  readonly elapsedMs: number;
}

/** Lower is better; ties go to the smaller plan; unmeasured candidates lose. */
export function betterCandidate(a: GgufCandidate, b: GgufCandidate | undefined): boolean {
  if (!a.measured) return false;
  if (!b?.measured) return true;
  if (a.measured.klDivergence !== b.measured.klDivergence) return a.measured.klDivergence < b.measured.klDivergence;
  return a.weightBytes < b.weightBytes;
}

/** Measures the solver's plan and the baselines (and the solver at each baseline's size); see the module comment. */
export async function verifyGgufPlan(modelPath: string, model: Model, options: GgufVerifyOptions): Promise<GgufVerifyResult> {
  const started = performance.now();
  const cap = Math.max(1, Math.floor(options.maxCandidates ?? DEFAULT_GGUF_VERIFY_CANDIDATES));
  const solveBase = {
    formats: options.formats,
    ...(options.native ? { native: options.native } : {}),
    ...(options.allowEmulated ? { allowEmulated: true } : {}),
    ...(options.pinned ? { pinned: options.pinned } : {}),
    harm: options.harm,
    frontierPoints: 2,
  };
  const baselines = options.baselines ?? ggufBaselines(model, { ...(options.native ? { native: options.native } : {}), ...(options.allowEmulated ? { allowEmulated: true } : {}) });

  // The solver and the baselines name the type apply writes (ggufFallback.ts), so candidates are written in their
  // real ggml types unless a pin names a type the rows cannot hold.
  const solverAssignment = options.solverAssignment ?? solveModel(model, { ...solveBase, weightBudgetBytes: options.weightBudgetBytes }).assignment;
  const written = [solverAssignment, options.pinned ?? {}, ...baselines.map((b) => b.assignment)].every((a) => ggufAssignmentWritten(model, a));
  const runner = await GgufCandidateRunner.open(modelPath, model, options.session, options.report, [...new Set([...options.formats, ...baselines.flatMap(baselineFormats)])], options.storage ?? (written ? 'ggml' : undefined));
  const byKey = new Map<string, GgufCandidate>();
  const measured: GgufCandidate[] = [];
  const keyOf = (a: Readonly<Record<string, string>>): string => model.layers.map((l) => a[l.name] ?? KEEP_FORMAT).join(',');
  const totalPlanned = Math.min(cap, 1 + baselines.length * 2 + 5);

  const measure = async (id: string, label: string, origin: GgufCandidate['origin'], assignment: Readonly<Record<string, string>>): Promise<GgufCandidate> => {
    const key = keyOf(assignment);
    const seen = byKey.get(key);
    if (seen) return { ...seen, id, label, origin };
    const base = { id, label, origin, assignment, weightBytes: assignmentWeightBytes(model, assignment), predictedHarm: assignmentHarm(model, assignment, options.harm) };
    if (measured.length >= cap) return { ...base, measured: undefined, error: 'not measured: candidate cap reached' };
    throwIfCancelled(options.token);
    options.onProgress?.({ done: measured.length, total: totalPlanned, message: `measuring ${label}` });
    const c: GgufCandidate = await runner.run(assignment).then(
      (measured) => ({ ...base, measured }),
      (e: Error) => ({ ...base, measured: undefined, error: e.message.split('\n')[0]! }),
    );
    byKey.set(key, c);
    measured.push(c);
    return c;
  };

  try {
    const solver = await measure('solver', 'solver plan', 'solver', solverAssignment);
    const all: GgufCandidate[] = [solver];
    const equal: { baseline: GgufCandidate; solver: GgufCandidate; delivered: GgufCandidate }[] = [];
    for (const b of baselines) {
      const withPins = { ...b.assignment };
      for (const [layer, id] of Object.entries(options.pinned ?? {})) if (withPins[layer] !== undefined) withPins[layer] = id;
      const bc = await measure(b.id, b.label, 'baseline', withPins);
      all.push(bc);
      if (options.equalSize === false) continue;
      const r = solveModel(model, { ...solveBase, weightBudgetBytes: bc.weightBytes });
      if (r.status === 'infeasible') continue;
      const sc = await measure(`solver@${b.id}`, `solver plan at ${b.id}'s size`, 'solver-at-baseline', r.assignment);
      all.push(sc);
      equal.push({ baseline: bc, solver: sc, delivered: sc });
    }
    // What is delivered at a size: the best measured candidate that fits it (at a baseline's size that includes the
    // baseline itself and every smaller candidate).
    const bestWithin = (bytes: number, fallback: GgufCandidate): GgufCandidate => all.filter((c) => c.weightBytes <= bytes).reduce((acc, c) => (betterCandidate(c, acc) ? c : acc), fallback);
    // Local search (as ONNX's planVerify.ts): when a candidate other than the solver's plan measured best within the
    // budget, anchored re-solves around it ({@link SolveAnchor}, a ladder of penalties) step towards the predictor's
    // optimum at the budget; repeated while a round improves the best and the candidate cap allows.
    let best = bestWithin(options.weightBudgetBytes, solver);
    const groups = groupLayers(model);
    let localCount = 0;
    // The predictor's optimum at the budget (the solver's plan unless the caller passed another assignment).
    const optimum = best === solver ? solverAssignment : solveModel(model, { ...solveBase, weightBudgetBytes: options.weightBudgetBytes }).assignment;
    while (measured.length < cap) {
      const before = best;
      const anchorHarm = assignmentHarm(model, best.assignment, options.harm);
      const optimumHarm = assignmentHarm(model, optimum, options.harm);
      const differing = groups.filter((g) => g.layers.some((l) => (best.assignment[l.name] ?? KEEP_FORMAT) !== (optimum[l.name] ?? KEEP_FORMAT))).length;
      if (differing === 0 || anchorHarm === undefined || optimumHarm === undefined) break;
      const unit = Math.max(Math.abs(anchorHarm - optimumHarm), 1e-12) / differing;
      let proposed = 0;
      for (const factor of [4, 2, 1, 0.5, 0.25]) {
        if (measured.length >= cap) break;
        const r = solveModel(model, { ...solveBase, weightBudgetBytes: options.weightBudgetBytes, anchor: { assignment: best.assignment, penalty: unit * factor } });
        if (r.status === 'infeasible') continue;
        const n = measured.length;
        const c = await measure(`local:${localCount + 1}`, `local step ${localCount + 1} (penalty ×${factor} from ${best.id})`, 'local', r.assignment);
        if (measured.length === n) continue; // already measured (same plan) or cap reached
        localCount++;
        proposed++;
        all.push(c);
        if (c.weightBytes <= options.weightBudgetBytes && betterCandidate(c, best)) best = c;
      }
      if (best === before || proposed === 0) break;
    }
    best = bestWithin(options.weightBudgetBytes, solver);
    return {
      best,
      solver,
      candidates: measured,
      equalSize: equal.map((e) => ({ ...e, delivered: bestWithin(e.baseline.weightBytes, e.solver) })),
      inputs: options.session.description,
      storage: runner.storage,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await runner.close();
  }
}

/**
 * Applies `assignment` to a temporary copy of the model (as {@link verifyGgufPlan} does) and evaluates it with
 * `session`; for scoring plans on another text than the one they were selected with.
 */
export async function measureGgufAssignment(modelPath: string, model: Model, report: SensitivityReport, assignment: Readonly<Record<string, string>>, session: GgufEvalSession, storage?: GgufStorage): Promise<LlamaCompareResult> {
  const formats = [...new Set(Object.values(assignment).filter((f) => f !== KEEP_FORMAT))];
  const runner = await GgufCandidateRunner.open(modelPath, model, session, report, formats, storage ?? (ggufAssignmentWritten(model, assignment) ? 'ggml' : undefined));
  try {
    return await runner.run(assignment);
  } finally {
    await runner.close();
  }
}

/**
 * The plan file's record of a GGUF verification (and, with a measured report, each layer's KL alone in its
 * format); `harmUnit` 'kl' when the predictor was in KL units (then the predicted KL is recorded too).
 */
export function ggufPlanRecord(v: GgufVerifyResult, measuredReport: SensitivityReport | undefined, harmUnit: 'kl' | 'static', measuredAt = new Date()): PlanKlMeasurement {
  const b = v.best;
  const r = b.measured!;
  const byLayer = new Map((measuredReport?.layers ?? []).map((l) => [l.layer, l]));
  const layers = Object.entries(b.assignment).flatMap(([layer, format]) => {
    if (format === KEEP_FORMAT) return [];
    const s = byLayer.get(layer)?.formats[format];
    if (!s || s.klDivergence === undefined) return [];
    return [{ layer, format, measuredKl: s.klDivergence }];
  });
  return {
    metric: 'kl',
    runtime: LLAMA_EVAL_RUNTIME,
    text: v.inputs,
    measuredAt: measuredAt.toISOString(),
    delivered: b.id,
    plan: {
      ...(harmUnit === 'kl' && b.predictedHarm !== undefined ? { predictedKl: b.predictedHarm } : {}),
      klDivergence: r.klDivergence,
      klStdErr: r.klStdErr,
      perplexity: r.perplexity,
      referencePerplexity: r.referencePerplexity,
      top1Agreement: r.top1Agreement,
    },
    ...(layers.length ? { layers } : {}),
    baselines: v.equalSize.filter((e) => e.baseline.measured).map((e) => ({
      id: e.baseline.id,
      label: e.baseline.label,
      weightBytes: e.baseline.weightBytes,
      klDivergence: e.baseline.measured!.klDivergence,
      perplexity: e.baseline.measured!.perplexity,
      ...(e.delivered.measured ? { solverKlDivergence: e.delivered.measured.klDivergence, solverWeightBytes: e.delivered.weightBytes } : {}),
    })),
  };
}
