/**
 * The plan workflow, one place for the CLI (`precision-lens plan`) and the editor (Generate / Re-solve Plan):
 *
 *   settings + harm → estimate at the plan's context (KV cache, activations) → {@link budgetFor} → solver
 *   → estimate of the chosen assignment → plan document ({@link planDocument}) → baselines at the same memory.
 *
 * {@link solvePlan} runs it and returns `{ plan, estimate, budget, frontier, baselines }`; a caller that measures
 * candidates (the CLI's --verify, the editor's "Verify with ONNX Runtime") swaps in a better assignment with
 * {@link replacePlanAssignment}, which re-estimates only when the assignment changed. The adapters translate
 * arguments and show results; nothing here reads files or settings.
 */
import { formatBytes } from '../format/numbers';
import { estimate, estimateWith, prepareEstimate, type Estimate, type EstimateOptions, type PreparedEstimate } from '../estimate/memory';
import type { Target } from '../estimate/hardware/catalog';
import { setOwn } from '../model/dict';
import type { Model } from '../model/types';
import { getNumberFormat, type NumberFormat } from '../precision/numberFormats';
import { baselineHarm, baselineWeightBytes, type Baseline } from './baselines';
import { budgetFor as budgetOf, budgetKind, layerBudgetFacts, type BudgetBreakdown } from './budget';
import { buildPlan, type PlanBudget, type PlanLayerEntry, type PrecisionPlan } from './planFile';
import { formatAllowed, solveModel, type FrontierPoint, type SolveAtBytes, type SolveModelOptions, type SolveModelResult } from './solver';

//#region solve for a target
/** Options for {@link planForTarget}. */
export interface PlanForTargetOptions extends Omit<SolveModelOptions, 'weightBudgetBytes' | 'native'> {
  readonly target: Target;
  /** Devices the model is spread over (default 1). */
  readonly devices?: number;
  readonly budget: PlanBudget;
  readonly context?: number;
  readonly batch?: number;
  /** KV-cache format id (default 'fp16'). */
  readonly kvFormat?: string;
  /** Shape constants for the estimator (see `readShapeConstants`). */
  readonly constants?: Readonly<Record<string, readonly number[]>>;
}

/** What would make an infeasible plan fit. */
export interface FitSuggestion {
  readonly kind: 'devices' | 'context' | 'kv-format' | 'allow-emulated' | 'budget';
  /** One sentence with the numbers. */
  readonly message: string;
  /** The suggested value (device count, context, KV format id, bytes). */
  readonly value: number | string | boolean;
}

/** Result of {@link planForTarget}. */
export interface PlanForTargetResult extends SolveModelResult {
  readonly budget: BudgetBreakdown;
  /** The estimator's view of the chosen assignment. */
  readonly estimate: Estimate;
  /** Non-empty when nothing fits. */
  readonly suggestions: readonly FitSuggestion[];
}

/**
 * Computes the layer-weight budget for a target (capacity minus KV cache, activations and overhead, or an
 * explicit budget) and solves. When nothing fits, suggests what would, with numbers: more devices, a smaller
 * context, a lower KV-cache format, emulated formats. `prepared` (of {@link planEstimateOptions}) is made here
 * unless the caller has it: one preparation (shapes, activations, KV cache) serves the budget's estimate and the
 * chosen assignment's.
 */
export function planForTarget(model: Model, options: PlanForTargetOptions, prepared = prepareEstimate(model, options.target, planEstimateOptions(options))): PlanForTargetResult {
  const { target } = options;
  const devices = options.devices ?? 1;
  const base = { ...(options.batch !== undefined ? { batch: options.batch } : {}), ...(options.constants ? { constants: options.constants } : {}) };
  const at = (context: number | undefined, kvFormat: string | undefined): Estimate =>
    estimate(model, target, { ...base, ...(context !== undefined ? { context } : {}), ...(kvFormat !== undefined ? { kvFormat } : {}) });
  // The stored model's estimate sets the budget (KV cache, activations); its per-layer list (an entry per layer) is
  // not kept through the solve.
  const stored: Estimate = { ...estimateWith(prepared), perLayer: [] };
  const kind = budgetKind(options.budget);
  const facts = layerBudgetFacts(model);
  const budgetFor = (e: Estimate, n: number): BudgetBreakdown => budgetOf(model, target, options.budget, n, e, facts);
  const budget = budgetFor(stored, devices);
  const solveOpts = { ...options, native: target.native, weightBudgetBytes: budget.weightBudgetBytes };
  const result = solveModel(model, solveOpts);
  const final = estimateWith(prepared, { assignment: result.assignment });
  const suggestions: FitSuggestion[] = [];
  if (result.status === 'infeasible') {
    const need = result.minWeightBytes;
    const short = need - budget.availableBytes;
    const mib = formatBytes;
    if (kind === 'capacity') {
      for (let n = devices + 1; n <= devices + 4096; n++) {
        if (budgetFor(stored, n).weightBudgetBytes >= need) {
          suggestions.push({ kind: 'devices', value: n, message: `Use ${n} × ${target.id} instead of ${devices}: the smallest allowed weights (${mib(need)}) then fit.` });
          break;
        }
      }
    }
    if (kind === 'capacity' || kind === 'bytes') {
      if (stored.kvCacheBytes > 0) {
        for (let c = Math.floor(stored.context / 2); c >= 1; c = Math.floor(c / 2)) {
          const e = at(c, options.kvFormat);
          if (budgetFor(e, devices).weightBudgetBytes >= need) {
            suggestions.push({ kind: 'context', value: c, message: `Reduce the context from ${stored.context} to ${c} tokens: the KV cache shrinks from ${mib(stored.kvCacheBytes)} to ${mib(e.kvCacheBytes)}.` });
            break;
          }
        }
        const currentKv = getNumberFormat(options.kvFormat ?? 'fp16');
        for (const kv of ['fp8_e4m3', 'int8', 'int4']) {
          const f = getNumberFormat(kv)!;
          if (currentKv && formatBitsPerWeightOf(f) >= formatBitsPerWeightOf(currentKv)) continue;
          const e = at(options.context, kv);
          if (budgetFor(e, devices).weightBudgetBytes >= need) {
            suggestions.push({ kind: 'kv-format', value: kv, message: `Store the KV cache as ${f.label}: it shrinks from ${mib(stored.kvCacheBytes)} to ${mib(e.kvCacheBytes)}.` });
            break;
          }
        }
      }
    }
    if (!options.allowEmulated) {
      const { alsoAtBytes: _alsoAtBytes, ...emuOpts } = solveOpts;
      const emu = solveModel(model, { ...emuOpts, allowEmulated: true });
      if (emu.minWeightBytes <= budget.weightBudgetBytes)
        suggestions.push({ kind: 'allow-emulated', value: true, message: `Allow emulated compute formats: the smallest weights drop to ${mib(emu.minWeightBytes)} (runs at the fallback rate on ${target.id}).` });
    }
    suggestions.push({
      kind: 'budget',
      value: short,
      message: budget.availableBytes < 0
        ? `KV cache (${mib(budget.kvCacheBytes)}), activations (${mib(budget.activationBytes)}) and overhead alone exceed the memory; with the smallest allowed weights (${mib(need)}) the plan is ${mib(short)} short.`
        : `The smallest allowed weights need ${mib(need)} but the budget leaves ${mib(budget.availableBytes)} for them: ${mib(short)} short.`,
    });
  }
  return { ...result, ...(result.status === 'infeasible' ? { shortfallBytes: result.minWeightBytes - budget.availableBytes } : {}), budget, estimate: final, suggestions };
}

/** The estimator settings of a plan: batch, context, KV format and shape constants (no assignment). */
export function planEstimateOptions(options: Pick<PlanForTargetOptions, 'batch' | 'constants' | 'context' | 'kvFormat'>): EstimateOptions {
  return {
    ...(options.batch !== undefined ? { batch: options.batch } : {}),
    ...(options.constants ? { constants: options.constants } : {}),
    ...(options.context !== undefined ? { context: options.context } : {}),
    ...(options.kvFormat !== undefined ? { kvFormat: options.kvFormat } : {}),
  };
}

function formatBitsPerWeightOf(f: NumberFormat): number {
  return (f.bytesPerBlock * 8) / f.blockSize;
}
//#endregion

//#region the plan workflow
/** Candidate format ids: canonical (aliases resolved), unknown ids dropped, each once, and allowed on `target`. */
export function allowedFormats(ids: readonly string[], target: Pick<Target, 'native'>, allowEmulated = false): string[] {
  const formats = ids.map((id) => getNumberFormat(id)).filter((f): f is NumberFormat => f !== undefined);
  return [...new Set(formats.filter((f) => formatAllowed(f, target.native, allowEmulated)).map((f) => f.id))];
}

/** Everything {@link solvePlan} needs: the target settings, the harm, and what the plan document records. */
export interface SolvePlanInput extends Omit<PlanForTargetOptions, 'pinned'> {
  /** The model's fingerprint (`modelFingerprint`), written into the plan. */
  readonly fingerprint: string;
  /** Entries of the plan being replaced: their pins are honoured and kept, their notes kept. */
  readonly previous?: readonly PlanLayerEntry[];
  /** Baselines to compare with the solver at the same memory (none by default). */
  readonly baselines?: readonly Baseline[];
}

/** A baseline at its own memory, and the solver's best at the same memory. */
export interface BaselineComparison {
  readonly id: string;
  readonly label: string;
  readonly weightBytes: number;
  readonly harm: number | null;
  readonly solverHarmAtSameBytes: number | null;
  readonly solverWeightBytes: number;
}

/** Result of {@link solvePlan}. */
export interface SolvedPlan {
  /** The plan document; undefined when nothing fits (see `result.suggestions`). */
  readonly plan: PrecisionPlan | undefined;
  /** The estimate of the plan's assignment. */
  readonly estimate: Estimate;
  readonly budget: BudgetBreakdown;
  readonly frontier: readonly FrontierPoint[];
  readonly baselines: readonly BaselineComparison[];
  /** The solver's result (status, harm, gap, suggestions …) for reports. */
  readonly result: PlanForTargetResult;
  /** Layer → format id of the plan. */
  readonly assignment: Readonly<Record<string, string>>;
  /** The estimator's preparation for these settings, reused when the assignment is replaced. */
  readonly prepared: PreparedEstimate;
}

/** Pins (layer → format) and notes of a previous plan's entries. */
function previousPlanFacts(previous: readonly PlanLayerEntry[]): { pinned: Record<string, string>; notes: Map<string, string> } {
  const pinned: Record<string, string> = {};
  const notes = new Map<string, string>();
  for (const e of previous) {
    if (e.pinned) setOwn(pinned, e.layer, e.format);
    if (e.note !== undefined) notes.set(e.layer, e.note);
  }
  return { pinned, notes };
}

/** The plan document for `assignment` under `input`'s settings: the one plan builder of the CLI and the editor. */
export function planDocument(model: Model, input: SolvePlanInput, assignment: Readonly<Record<string, string>>, context: number): PrecisionPlan {
  const { pinned, notes } = previousPlanFacts(input.previous ?? []);
  return buildPlan({
    model,
    fingerprint: input.fingerprint,
    target: input.target.id,
    ...(input.devices !== undefined ? { devices: input.devices } : {}),
    budget: input.budget,
    context,
    batch: input.batch ?? 1,
    kvFormat: input.kvFormat ?? 'fp16',
    ...(input.allowEmulated ? { allowEmulated: true } : {}),
    assignment,
    pinned: new Set(Object.keys(pinned)),
    notes,
  });
}

/**
 * Each baseline at its own memory, and the solver at that memory: `atBytes` are the solver's results at the
 * baselines' byte counts, computed in the same solve as the plan (same groups, formats, pins and scores).
 */
function compareBaselines(model: Model, input: SolvePlanInput, baselineBytes: readonly number[], atBytes: readonly SolveAtBytes[]): BaselineComparison[] {
  return (input.baselines ?? []).map((b, i) => {
    const h = baselineHarm(model, b, input.harm);
    const same = atBytes[i]!;
    return { id: b.id, label: b.label, weightBytes: baselineBytes[i]!, harm: h ?? null, solverHarmAtSameBytes: same.status === 'infeasible' ? null : same.harm, solverWeightBytes: same.weightBytes };
  });
}

/**
 * The plan workflow: budget, solve, estimate, plan document and baselines for `model` on `input.target`.
 * Pins of `input.previous` are honoured. Throws EstimateError for impossible settings (unknown KV format …).
 */
export function solvePlan(model: Model, input: SolvePlanInput): SolvedPlan {
  const { pinned } = previousPlanFacts(input.previous ?? []);
  const { previous: _previous, baselines: _baselines, fingerprint: _fingerprint, ...options } = input;
  const baselineBytes = (input.baselines ?? []).map((b) => baselineWeightBytes(model, b));
  const prepared = prepareEstimate(model, input.target, planEstimateOptions(input));
  const result = planForTarget(model, { ...options, pinned, alsoAtBytes: baselineBytes }, prepared);
  const feasible = result.status !== 'infeasible';
  return {
    plan: feasible ? planDocument(model, input, result.assignment, result.estimate.context) : undefined,
    estimate: result.estimate,
    budget: result.budget,
    frontier: result.frontier,
    baselines: compareBaselines(model, input, baselineBytes, result.atBytes),
    result,
    assignment: result.assignment,
    prepared,
  };
}

/**
 * `solved` with another assignment (a verified candidate that measured better): the plan document and the
 * estimate follow it; only the assignment's part of the estimate is re-run (over `solved.prepared`), and only when
 * the assignment differs from the solver's.
 */
export function replacePlanAssignment(model: Model, input: SolvePlanInput, solved: SolvedPlan, assignment: Readonly<Record<string, string>>): SolvedPlan {
  if (assignment === solved.assignment) return solved;
  const e = estimateWith(solved.prepared, { assignment });
  return { ...solved, plan: planDocument(model, input, assignment, e.context), estimate: e, assignment };
}
//#endregion
