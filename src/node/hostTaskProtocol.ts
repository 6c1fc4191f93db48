/**
 * The contract between the extension host (src/node/taskClient.ts) and its task process (src/worker/hostTasks.ts,
 * bundled to dist/hostTasks.js): the long, model-sized jobs that must not block the extension host's main thread.
 * Carried by the project's RPC helper (src/protocol/rpc.ts) over a forked child's IPC channel with structured-clone
 * ('advanced') serialization, so typed arrays and plain IR objects cross unchanged.
 *
 * - `task/applyPlan`: writes a new ONNX file with a plan applied (src/node/applyOnnx.ts), staged in a folder
 *   beside the output and moved into place only if the task was not cancelled.
 * - `task/measureSensitivity`: measured sensitivity with onnxruntime-node (src/node/measure.ts).
 * - `task/verifyPlan`: measures the solver's plan against baselines and local-search neighbours
 *   (src/node/planVerify.ts) and returns the best.
 * - `task/measureGgufSensitivity`: per-layer KL measured in llama.cpp (src/node/ggufMeasure.ts, cached per user).
 * - `task/verifyGgufPlan`: the solver's plan, uniform ggml types and llama.cpp-like mixes at equal size, run in
 *   llama.cpp (src/node/ggufVerify.ts); returns the delivered plan and the plan file's measurement record.
 * - `task/planFrontier`: the solver's frontier and optimum at a budget for the inspector's chart.
 * - `task/solvePlan`: core's plan workflow (`solvePlan`: budget, solver, estimate, baselines, plan document and its
 *   text) for the editor's Generate / Re-solve Plan, so a 10,000-layer solve never blocks the extension host.
 * Every request carries a `taskId`; `task/progress` (child → host, throttled to about 1/s) and `task/cancel`
 * (host → child) refer to it.
 */
import type { ComputeType, PlanKlMeasurement, PlanMeasurement, PlanSqnrMeasurement, PrecisionPlan, SensitivityReport, SolveModelResult, SolvePlanInput } from '../core';
import type { NotificationType, RequestType } from '../protocol/rpc';
import type { ApplyOnnxResult } from './applyOnnx';
import type { ApplyGgufResult } from './applyGguf';
import type { VerifyPlanResult } from './planVerify';

/** Fields every task request has. */
export interface TaskParamsBase {
  /** Chosen by the client, unique per client; progress and cancel messages name it. */
  readonly taskId: number;
}

/** Params of {@link ApplyPlanTask}. */
export interface ApplyPlanParams extends TaskParamsBase {
  readonly modelPath: string;
  /** Layer → format id ('keep' or missing = as stored). */
  readonly assignment: Readonly<Record<string, string>>;
  readonly outputPath: string;
  /**
   * An empty folder beside `outputPath` (same file system) where the model is written first; the files are
   * renamed into place at the end, so a cancelled or crashed task never leaves a half-written model. The
   * client creates and removes it.
   */
  readonly stagingDir: string;
  readonly externalDataThresholdBytes?: number;
}

/** Params of {@link MeasureSensitivityTask}. */
export interface MeasureSensitivityParams extends TaskParamsBase {
  readonly modelPath: string;
  readonly samples?: number;
  readonly formats?: readonly string[];
  readonly layerBudget?: number;
  /** Cache folder; `false` disables the cache (default: measure.ts's default). */
  readonly cacheDir?: string | false;
}

/** What both verifications (ONNX in onnxruntime, GGUF in llama.cpp) search over: the solver's inputs and its plan. */
export interface PlanSearchParams extends TaskParamsBase {
  readonly modelPath: string;
  /** Static sensitivity of the model (the plan's predictor); harm functions cannot cross a process boundary. */
  readonly report: SensitivityReport;
  readonly weightBudgetBytes: number;
  readonly formats: readonly string[];
  /** The target's natively executed types (baselines and candidates respect them). */
  readonly native: readonly ComputeType[];
  readonly allowEmulated: boolean;
  readonly pinned: Readonly<Record<string, string>>;
  /** The solver's plan. */
  readonly solverAssignment: Readonly<Record<string, string>>;
  readonly maxCandidates?: number;
}

/** Params of {@link VerifyPlanTask}. */
export interface VerifyPlanParams extends PlanSearchParams {
  readonly samples?: number;
}

/** Params of {@link SolvePlanTask}. */
export interface SolvePlanParams extends TaskParamsBase {
  readonly modelPath: string;
  /** Core's plan-workflow input without the harm function (it cannot cross a process boundary: `report` is it). */
  readonly input: Omit<SolvePlanInput, 'harm'>;
  /** Static sensitivity of the model; the harm is `harmFromSensitivity(report)`. */
  readonly report: SensitivityReport;
  /** The plan for this assignment instead of the solver's (a verified candidate that measured better). */
  readonly assignment?: Readonly<Record<string, string>>;
  /** What was measured of that plan (llama.cpp verification), recorded in the plan file. */
  readonly measurement?: PlanMeasurement;
}

/** Result of {@link SolvePlanTask}: the plan document and its file text, and the solver's figures for the summary. */
export interface SolvePlanTaskResult {
  /** Undefined when nothing fits (`shortfallBytes` says by how much). */
  readonly plan: PrecisionPlan | undefined;
  /** `serializePlan(plan)`: the bytes the plan file gets. */
  readonly text: string | undefined;
  readonly assignment: Readonly<Record<string, string>>;
  readonly status: 'optimal' | 'gap' | 'infeasible';
  readonly gap: number;
  readonly weightBytes: number;
  readonly weightBudgetBytes: number;
  readonly shortfallBytes: number;
}

/** Params of {@link PlanFrontierTask}: core's `solveModel` with the report's harm. */
export interface PlanFrontierParams extends TaskParamsBase {
  readonly modelPath: string;
  readonly report: SensitivityReport;
  readonly weightBudgetBytes: number;
  readonly formats: readonly string[];
  readonly native: readonly ComputeType[];
  readonly frontierPoints: number;
}

/** Result of {@link PlanFrontierTask}. */
export interface PlanFrontierTaskResult {
  readonly frontier: SolveModelResult['frontier'];
  /** The solver's optimum at `weightBudgetBytes`. */
  readonly weightBytes: number;
  readonly harm: number;
  readonly weightBudgetBytes: number;
}

/** Writes a new GGUF with a plan's ggml types (src/node/applyGguf.ts: temp file beside the output, renamed into place). */
export interface ApplyGgufPlanParams extends TaskParamsBase {
  readonly modelPath: string;
  /** Layer → format id ('keep' or missing = as stored). */
  readonly assignment: Readonly<Record<string, string>>;
  readonly outputPath: string;
  /** Re-quantize tensors already stored in a low type (otherwise refused with code 'requantize'). */
  readonly force?: boolean;
}

/** Evaluation settings of the llama.cpp tasks. */
export interface GgufEvalSettings {
  /** Calibration text file; default the bundled one. */
  readonly textFile?: string;
  /** Evaluation context in tokens (16 to MAX_EVAL_CONTEXT); default DEFAULT_EVAL_CONTEXT. */
  readonly contextSize?: number;
}

/** Params of {@link MeasureGgufTask}. */
export interface MeasureGgufParams extends TaskParamsBase, GgufEvalSettings {
  readonly modelPath: string;
  readonly formats?: readonly string[];
  readonly layerBudget?: number;
  /** Cache folder; `false` disables the cache (default: the per-user folder). */
  readonly cacheDir?: string | false;
}

/** Params of {@link VerifyGgufTask}; the solver's plan is re-solved on measured KL when `measure`. */
export interface VerifyGgufParams extends PlanSearchParams, GgufEvalSettings {
  /** Measure each layer's KL first and plan with it (as `plan --measure`). */
  readonly measure?: boolean;
}

/** One measured candidate, as the editor shows it. */
export interface GgufCandidateSummary {
  readonly id: string;
  readonly label: string;
  readonly weightBytes: number;
  readonly klDivergence?: number;
  readonly perplexity?: number;
  readonly error?: string;
}

/** Result of {@link VerifyGgufTask}. */
export interface VerifyGgufResult {
  /** The delivered plan (best measured within the budget). */
  readonly best: GgufCandidateSummary & { readonly assignment: Readonly<Record<string, string>> };
  readonly solver: GgufCandidateSummary;
  readonly candidates: readonly GgufCandidateSummary[];
  /** What the plan file records (`measurement`). */
  readonly measurement: PlanKlMeasurement;
  /** Evaluation text, tokens, positions and original perplexity. */
  readonly inputs: string;
  readonly storage: 'ggml' | 'simulated';
  readonly elapsedMs: number;
}

/** Progress of one task (child → host). */
export interface TaskProgress {
  readonly taskId: number;
  readonly done: number;
  readonly total: number;
  readonly message: string;
}

/** Cancel one task (host → child). */
export interface TaskCancelParams {
  readonly taskId: number;
}

/** Writes a new ONNX model with a plan applied. */
export const ApplyPlanTask: RequestType<ApplyPlanParams, ApplyOnnxResult> = { method: 'task/applyPlan' };
/** Writes a new GGUF model with a plan applied. */
export const ApplyGgufPlanTask: RequestType<ApplyGgufPlanParams, ApplyGgufResult> = { method: 'task/applyGgufPlan' };
/** Measured sensitivity of an ONNX model. */
export const MeasureSensitivityTask: RequestType<MeasureSensitivityParams, SensitivityReport> = { method: 'task/measureSensitivity' };
/** Result of {@link VerifyPlanTask}: the verification and what the plan file records of it (output SQNR, dB). */
export type VerifyOnnxResult = VerifyPlanResult & { readonly measurement?: PlanSqnrMeasurement };
/** Plan verification with onnxruntime-node. */
export const VerifyPlanTask: RequestType<VerifyPlanParams, VerifyOnnxResult> = { method: 'task/verifyPlan' };
/** Measured sensitivity of a GGUF model in llama.cpp. */
export const MeasureGgufTask: RequestType<MeasureGgufParams, SensitivityReport> = { method: 'task/measureGgufSensitivity' };
/** Plan verification of a GGUF model in llama.cpp. */
export const VerifyGgufTask: RequestType<VerifyGgufParams, VerifyGgufResult> = { method: 'task/verifyGgufPlan' };
/** The inspector's frontier chart (solver, frontier) off the extension host's main thread. */
export const PlanFrontierTask: RequestType<PlanFrontierParams, PlanFrontierTaskResult> = { method: 'task/planFrontier' };
/** The plan workflow (solve, estimate, baselines, plan document) off the extension host's main thread. */
export const SolvePlanTask: RequestType<SolvePlanParams, SolvePlanTaskResult> = { method: 'task/solvePlan' };
/** Throttled progress of a running task. */
export const TaskProgressNotification: NotificationType<TaskProgress> = { method: 'task/progress' };
/** Asks the task process to stop a task; the task then fails with code 'cancelled'. */
export const TaskCancelNotification: NotificationType<TaskCancelParams> = { method: 'task/cancel' };

/** Error code of a task stopped by its token (the client turns it into core's CancelledError). */
export const TASK_CANCELLED = 'cancelled';

/** Default least time between two progress notifications of one task. */
export const PROGRESS_INTERVAL_MS = 1000;

/**
 * A progress reporter that forwards at most one report per `intervalMs` (the first one at once); reports in
 * between are dropped except that `flush()` sends the latest pending one. `now` is injectable for tests.
 */
export function progressThrottle<T>(emit: (p: T) => void, intervalMs = PROGRESS_INTERVAL_MS, now: () => number = () => performance.now()): { report(p: T): void; flush(): void } {
  let last = -Infinity;
  let pending: { p: T } | undefined;
  return {
    report(p) {
      const t = now();
      if (t - last >= intervalMs) {
        last = t;
        pending = undefined;
        emit(p);
      } else pending = { p };
    },
    flush() {
      if (!pending) return;
      const { p } = pending;
      pending = undefined;
      last = now();
      emit(p);
    },
  };
}
