/**
 * The editor's half of Generate / Re-solve Plan without VS Code: what the user asked for (or the plan being
 * re-solved says) → core's `SolvePlanInput`. planCommands.ts adds the UI (pickers, progress, the undoable
 * write); test/unit/planWorkflow.test.ts runs this against the CLI and asserts byte-identical plan files.
 */
import { allowedFormats, defaultCandidateFormats, getNumberFormat, harmFromSensitivity, type Model, type PlanBudget, type PlanLayerEntry, type SensitivityReport, type SolvePlanInput, type Target } from '../core';
import type { LoadedModel } from './modelCache';

/** What the editor asks for (Generate) or reads from the plan it re-solves (Re-solve). */
export interface PlanRequest {
  readonly target: Target;
  readonly budget: PlanBudget;
  readonly devices?: number;
  /** Tokens of context; undefined: the estimator's default for the model. */
  readonly context?: number;
  readonly batch: number;
  readonly kvFormat: string;
  readonly allowEmulated: boolean;
  /** Entries of the plan being replaced (pins and notes are kept). */
  readonly previous: readonly PlanLayerEntry[];
}

/** Formats whose sensitivity a plan needs: those it names plus the solver's candidates for the model. */
export function sensitivityFormats(model: Model, named: readonly string[]): string[] {
  const ids = [...defaultCandidateFormats(model), 'int8', ...named].map((id) => getNumberFormat(id)?.id).filter((id): id is string => !!id);
  return [...new Set(ids)];
}

/** The candidate formats of a request: the sensitivity formats the target runs. */
export function requestFormats(model: Model, request: PlanRequest): string[] {
  return allowedFormats(sensitivityFormats(model, request.previous.map((e) => e.format)), request.target, request.allowEmulated);
}

/** Core's plan-workflow input for a request, with the static sensitivity `report` as the harm. */
export function editorPlanInput(loaded: LoadedModel, request: PlanRequest, report: SensitivityReport, formats: readonly string[]): SolvePlanInput {
  return {
    target: request.target,
    budget: request.budget,
    batch: request.batch,
    kvFormat: request.kvFormat,
    allowEmulated: request.allowEmulated,
    harm: harmFromSensitivity(report),
    formats,
    constants: loaded.constants,
    fingerprint: loaded.fingerprint,
    previous: request.previous,
    ...(request.devices !== undefined ? { devices: request.devices } : {}),
    ...(request.context !== undefined ? { context: request.context } : {}),
  };
}
