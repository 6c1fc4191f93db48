/**
 * Parsers for every message the host receives from the webview. The webview is untrusted (it renders
 * model-provided strings), so each parser checks types, lengths and enumerations and returns a fresh object
 * holding only the known fields; anything else throws an `invalid-params` RpcError.
 */
import {
  CancelAnalysis,
  CompareTargets,
  GetEstimate,
  GetFrontier,
  GetMeasured,
  INSPECTOR_ACTIONS,
  Ready,
  RunAction,
  StartSensitivity,
  type AnalysisTask,
  type CancelAnalysisParams,
  type CompareTargetsParams,
  type GetEstimateParams,
  type GetFrontierParams,
  type GetMeasuredParams,
  type InspectorAction,
  type ReadyParams,
  type RunActionParams,
  type StartSensitivityParams,
} from './messages';
import { invalidParams } from './rpc';

/** Longest target id accepted (catalog ids are short; user ids are bounded by the same rule). */
export const MAX_TARGET_ID_LENGTH = 100;
/** Most targets in one comparison (each costs an estimate). */
export const MAX_COMPARE_TARGETS = 16;

const TASKS: readonly AnalysisTask[] = ['estimate', 'sensitivity', 'plan', 'compare'];

function record(method: string, raw: unknown): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidParams(method, 'expected an object');
  return raw as Record<string, unknown>;
}

function targetId(method: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TARGET_ID_LENGTH) throw invalidParams(method, `targetId must be a string of 1..${MAX_TARGET_ID_LENGTH} characters`);
  return v;
}

function oneOf<T extends string>(method: string, field: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalidParams(method, `${field} must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** Validates {@link Ready} params. */
export function parseReady(raw: unknown): ReadyParams {
  const r = record(Ready.method, raw);
  if (typeof r.protocolVersion !== 'number' || !Number.isSafeInteger(r.protocolVersion)) throw invalidParams(Ready.method, 'protocolVersion must be an integer');
  return { protocolVersion: r.protocolVersion };
}

/** Validates {@link GetEstimate} params. */
export function parseGetEstimate(raw: unknown): GetEstimateParams {
  return { targetId: targetId(GetEstimate.method, record(GetEstimate.method, raw).targetId) };
}

/** Validates {@link GetFrontier} params. */
export function parseGetFrontier(raw: unknown): GetFrontierParams {
  return { targetId: targetId(GetFrontier.method, record(GetFrontier.method, raw).targetId) };
}

/** Validates {@link GetMeasured} params (an empty object). */
export function parseGetMeasured(raw: unknown): GetMeasuredParams {
  record(GetMeasured.method, raw);
  return {};
}

/** Validates {@link CompareTargets} params. */
export function parseCompareTargets(raw: unknown): CompareTargetsParams {
  const ids = record(CompareTargets.method, raw).targetIds;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_COMPARE_TARGETS) throw invalidParams(CompareTargets.method, `targetIds must list 1..${MAX_COMPARE_TARGETS} targets`);
  return { targetIds: [...new Set(ids.map((id) => targetId(CompareTargets.method, id)))] };
}

/** Validates {@link StartSensitivity} params. */
export function parseStartSensitivity(raw: unknown): StartSensitivityParams {
  return { method: oneOf(StartSensitivity.method, 'method', record(StartSensitivity.method, raw).method, ['weights', 'measured'] as const) };
}

/** Validates {@link RunAction} params. */
export function parseRunAction(raw: unknown): RunActionParams {
  const r = record(RunAction.method, raw);
  return { action: oneOf<InspectorAction>(RunAction.method, 'action', r.action, INSPECTOR_ACTIONS), targetId: targetId(RunAction.method, r.targetId) };
}

/** Validates {@link CancelAnalysis} params. */
export function parseCancelAnalysis(raw: unknown): CancelAnalysisParams {
  return { task: oneOf(CancelAnalysis.method, 'task', record(CancelAnalysis.method, raw).task, TASKS) };
}
