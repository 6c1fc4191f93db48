/**
 * A plan checked against its model, fingerprint and target before anything acts on it: the one gate for the
 * CLI's apply, export and estimate --plan, the editor's Apply and Export, and the plan lenses. Parse errors,
 * a stale fingerprint (the plan was made for another version of the model), unknown layers, unknown formats and
 * compute formats the target cannot run are errors; fused layers with mixed formats and the rest are warnings.
 */
import { mergeTargets, nearestTargetIds, TARGETS, type Target } from '../estimate/hardware/catalog';
import type { Model } from '../model/types';
import { getNumberFormat, KEEP_FORMAT } from '../precision/numberFormats';
import { checkPlan, hasPlanErrors, resolvePlanAssignment, type ParsedPlan, type PlanDiagnostic, type PrecisionPlan } from './planFile';
import { groupLayers } from './solver';

/** What {@link checkedAssignment} checks the plan against; without a model only the target is checked. */
export interface PlanCheckInput {
  readonly parsed: ParsedPlan;
  /** The plan's file name, for messages. */
  readonly fileName: string;
  readonly model?: Model;
  /** The model's current fingerprint (`modelFingerprint`); a different one in the plan is an error. */
  readonly fingerprint?: string;
  /** Catalog plus user targets (`mergeTargets`); the plan's `target` is looked up here. Default: the catalog. */
  readonly targets?: readonly Target[];
}

/** Result of {@link checkedAssignment}. */
export interface CheckedAssignment {
  /** The plan, when it parsed. */
  readonly plan: PrecisionPlan | undefined;
  /** The plan's target, when known. */
  readonly target: Target | undefined;
  /** Layer → canonical format id for every layer with weights (unknown ids count as 'keep'); empty without a model. */
  readonly assignment: Record<string, string>;
  /** Parse and check diagnostics, in that order. */
  readonly diagnostics: readonly PlanDiagnostic[];
  /** True when a diagnostic is an error: apply, export and estimate refuse such a plan. */
  readonly hasErrors: boolean;
}

/** Layer → canonical format id for every layer with weights; unknown format ids count as 'keep' (diagnosed separately). */
export function planAssignment(plan: PrecisionPlan, model: Model): Record<string, string> {
  const out = resolvePlanAssignment(plan, model);
  for (const [k, v] of Object.entries(out)) if (v !== KEEP_FORMAT && !getNumberFormat(v)) out[k] = KEEP_FORMAT;
  return out;
}

/** Layer name → fused-group key for layers that must share one format (groups of two or more). */
function fusedGroups(model: Model): Map<string, string> {
  const groups = new Map<string, string>();
  for (const g of groupLayers(model)) if (g.layers.length > 1) for (const l of g.layers) groups.set(l.name, g.key);
  return groups;
}

/** Checks a parsed plan against its model, fingerprint and target and resolves its assignment. Never throws. */
export function checkedAssignment(input: PlanCheckInput): CheckedAssignment {
  const { parsed, model } = input;
  const plan = parsed.plan;
  const targets = input.targets ?? mergeTargets(TARGETS, []);
  const target = plan ? targets.find((t) => t.id === plan.target.trim().toLowerCase()) : undefined;
  const diagnostics = checkPlan(parsed, {
    ...(model ? { model, groups: fusedGroups(model) } : {}),
    ...(input.fingerprint ? { fingerprint: input.fingerprint } : {}),
    ...(target ? { target: { id: target.id, native: target.native } } : {}),
    targetKnown: target !== undefined,
    targetIds: plan ? nearestTargetIds(plan.target, targets, 5) : [],
    fileName: input.fileName,
  });
  return { plan, target, assignment: plan && model ? planAssignment(plan, model) : {}, diagnostics, hasErrors: hasPlanErrors(diagnostics) };
}
