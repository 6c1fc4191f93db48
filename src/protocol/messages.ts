/**
 * The whole host ⇄ webview wire contract of the model inspector: method descriptors and DTOs, in one file
 * (like markdown-language-features `types/previewMessaging.d.ts`; descriptors like vscode-messenger
 * `RequestType<P, R>`). Everything here is plain JSON-safe data: no Map, no class instance, no bigint.
 *
 * Handshake (pull-based): the webview sends {@link Ready}; the host answers with settings, localized strings,
 * the model summary and the layer rows (structure only, so the first paint needs no analysis). The webview
 * then asks for an estimate of the selected target ({@link GetEstimate}); long work (sensitivity) streams
 * {@link AnalysisProgress} (≈1/s) and {@link SensitivityUpdate}; {@link CancelAnalysis} stops it.
 *
 * Inbound params are validated by the host with the parsers of `./validate.ts` (the webview is untrusted).
 */
import type { FormatId, Hyperparameters, LayerRole } from '../core';
import type { LayerColumns, SensitivityBatch } from './codec';
import type { NotificationType, RequestType } from './rpc';

//#region DTOs

/** Analysis settings that shape every estimate (from `precisionLens.*` settings). */
export interface InspectorSettings {
  readonly targetId: string;
  readonly batch: number;
  /** Context length in tokens; null = the model's own (capped by the estimator). */
  readonly contextTokens: number | null;
  /** Number format id of the KV cache (e.g. 'fp16', 'fp8_e4m3'). */
  readonly kvFormat: string;
  /** Sensitivity starts automatically after the first paint when true. */
  readonly autoSensitivity: boolean;
}

/** Stored bytes of one dtype. */
export interface DtypeShare {
  readonly dtype: string;
  readonly label: string;
  readonly bytes: number;
  readonly tensorCount: number;
}

/** The summary card. */
export interface ModelSummary {
  readonly fileName: string;
  readonly format: FormatId;
  readonly formatVersion: number | null;
  readonly producer: string | null;
  readonly architecture: string | null;
  readonly parameterCount: number;
  /**
   * Text parameters active per token (MoE: all but routed experts, plus `expertUsedCount` experts; MTP layers and
   * encoder towers excluded); null for a dense text-only model (equal to `parameterCount`).
   */
  readonly activeParameterCount: number | null;
  /** Parameters of multi-token-prediction layers and of vision/audio encoder towers (0 when absent). */
  readonly mtpParameterCount: number;
  readonly visionParameterCount: number;
  readonly audioParameterCount: number;
  /** Attention/cache summary ('MLA full', '36× GQA chunked 8192, 12× GQA full'); null without transformer hyperparameters. */
  readonly attention: string | null;
  /** K + V bytes per token at FP16 over all layers; null when `attention` is null. */
  readonly kvBytesPerToken: number | null;
  /** Cache label per block index ('GQA sliding 1024', 'recurrent'); empty without a description. */
  readonly blockAttention: readonly string[];
  readonly totalFileBytes: number;
  readonly weightBytes: number;
  readonly fileCount: number;
  readonly tensorCount: number;
  readonly nodeCount: number;
  readonly layerCount: number;
  readonly dtypeMix: readonly DtypeShare[];
  readonly hyperparameters: Hyperparameters;
  readonly warnings: readonly string[];
}

/** One layer-table row (structure only). `index` is the row's key everywhere else (estimates, sensitivity). */
export interface LayerRow {
  readonly index: number;
  readonly name: string;
  readonly op: string;
  readonly role: LayerRole;
  readonly block: number | null;
  readonly expert: number | null;
  readonly shape: readonly number[];
  readonly parameterCount: number;
  readonly byteLength: number;
  readonly dtype: string;
  readonly dtypeLabel: string;
  readonly quantizable: boolean;
}

/** One entry of the target picker. */
export interface TargetOption {
  readonly id: string;
  readonly label: string;
  readonly vendor: string;
  readonly memoryBytes: number;
  /** From the user's custom targets file rather than the built-in catalog. */
  readonly userDefined: boolean;
  /** Number format ids the target runs natively. */
  readonly nativeFormats: readonly string[];
}

/** A number format that can be assigned (column headers, legends). */
export interface FormatOption {
  readonly id: string;
  readonly label: string;
}

/** One allocation of the runtime (llama.cpp's model/KV/compute/output buffers, vLLM's budget parts …). */
export interface MemoryComponent {
  readonly id: string;
  readonly kind: 'weights' | 'kv' | 'compute' | 'output' | 'overhead';
  readonly label: string;
  readonly bytes: number;
}

/** The runtime the memory figures are for. */
export interface RuntimeSummary {
  /** 'llama.cpp', 'ort' or 'vllm'. */
  readonly id: string;
  /** False when the runtime's model is not checked against the real runtime (vLLM). */
  readonly measured: boolean;
  /** How the runtime runs attention ('flash attention', 'paged KV, block 16' …). */
  readonly attention: string;
  /** Attention/cache kinds of the model ('GQA full', 'MLA full' …); null without a KV cache. */
  readonly cacheKind: string | null;
  readonly kvBytesPerToken: number;
  readonly components: readonly MemoryComponent[];
}

/** Memory needed by component, against one device's capacity. */
export interface MemoryBreakdown {
  readonly weightBytes: number;
  readonly kvCacheBytes: number;
  readonly activationBytes: number;
  readonly overheadBytes: number;
  readonly totalBytes: number;
  /** Capacity of one device. */
  readonly capacityBytes: number;
  readonly runtime: RuntimeSummary;
}

/** Bytes of the weights assigned to one format. */
export interface FormatBytes {
  readonly format: string;
  readonly label: string;
  readonly bytes: number;
  readonly layerCount: number;
}

/** What fits where: the banner, the memory chart and the bytes-by-format chart. */
export interface TargetEstimate {
  readonly targetId: string;
  readonly targetLabel: string;
  readonly fits: boolean;
  readonly memory: MemoryBreakdown;
  readonly devicesNeeded: number;
  readonly decodeTokensPerSecond: number | null;
  /**
   * A generative decoder (tokens/s describe it); otherwise one inference per batch: {@link inferenceSeconds}.
   * Optional for older hosts: absent reads as a decoder.
   */
  readonly generative?: boolean;
  /** Roofline seconds per inference of the batch (non-generative models); null when unknown. */
  readonly inferenceSeconds?: number | null;
  /** Compute types whose rate the target does not publish: speeds that need them are "not published". */
  readonly unpublishedRates?: readonly string[];
  readonly bytesByFormat: readonly FormatBytes[];
  /** Assigned format id per layer (by `LayerRow.index`). */
  readonly layerFormats: readonly string[];
  /** Bytes at the assigned format per layer. */
  readonly layerBytes: readonly number[];
  /** Where the assignment came from: the stored dtypes, a plan file, or the solver. */
  readonly assignmentSource: 'stored' | 'plan' | 'solver';
  readonly notes: readonly string[];
}

/** A row of the side-by-side comparison (an estimate without per-layer arrays). */
export type TargetComparison = Omit<TargetEstimate, 'layerFormats' | 'layerBytes'>;

/** Sensitivity of one layer at one candidate format. */
export interface SensitivityCell {
  /** 0 (harmless) … 1 (most harmful) for the heat colour. */
  readonly heat: number;
  /** Short text in the cell, e.g. '−4.2 dB' or 'high'. */
  readonly label: string;
  /** Why, shown on hover, e.g. 'outliers: max/rms 183'. */
  readonly reason: string;
}

/** Sensitivity results as the webview uses them (decoded from a {@link SensitivityBatch}); `cells[i]` matches `formats[i]`, null when not analysed. */
export interface SensitivityUpdate {
  readonly formats: readonly FormatOption[];
  readonly rows: readonly { readonly index: number; readonly cells: readonly (SensitivityCell | null)[] }[];
  /** 'weights' = from weight statistics; 'measured' = from running the model (ONNX). */
  readonly method: 'weights' | 'measured';
}

/** One solution on the Pareto frontier. */
export interface FrontierPoint {
  readonly memoryBytes: number;
  readonly harm: number;
  readonly label: string;
}

/** The planner's memory-vs-harm frontier for a target, with the current plan marked. */
export interface PlanFrontier {
  readonly targetId: string;
  readonly harmUnit: string;
  readonly points: readonly FrontierPoint[];
  readonly current: FrontierPoint | null;
  readonly budgetBytes: number;
}

/** One layer in one format: what the static score predicts beside what running the model measured. */
export interface MeasuredPoint {
  /** `LayerRow.index`. */
  readonly index: number;
  readonly format: string;
  /** Predicted value in `unit` (static score × the median measured/static ratio of the points); null without a static score. */
  readonly predicted: number | null;
  readonly measured: number;
}

/** Predicted vs measured for the inspector's measured column and scatter (from the plan file's `measurement` record). */
export interface MeasuredComparison {
  /**
   * What the figures are: 'kl' = KL divergence of the next-token distributions vs the original (nats, GGUF in
   * llama.cpp); 'output-sqnr-db' = SNR of the model's outputs vs the original on the same inputs (dB, higher is
   * better, ONNX in onnxruntime-node). Never labelled KL unless it is KL.
   */
  readonly unit: 'kl' | 'output-sqnr-db';
  /** Plan file, runtime, text or inputs, when (from the record). */
  readonly source: string;
  /** The runtime that measured, as the record names it. */
  readonly runtime: string;
  /** How the predicted side was obtained (e.g. the static score scaled by the median measured/static ratio). */
  readonly predictedFrom: string;
  readonly points: readonly MeasuredPoint[];
  /** The whole plan as measured (null when the record has no plan figures); perplexities and standard error for 'kl' only. */
  readonly plan: { readonly predicted: number | null; readonly predictedFrom: string | null; readonly measured: number; readonly stdErr: number | null; readonly perplexity: number | null; readonly referencePerplexity: number | null } | null;
  /** Spearman rank correlation of predicted vs measured over the points (null below 3 points). */
  readonly spearman: number | null;
}

/** Long-running analysis kinds. */
export type AnalysisTask = 'estimate' | 'sensitivity' | 'plan' | 'compare';

/** Throttled progress of a long task. */
export interface AnalysisProgressParams {
  readonly task: AnalysisTask;
  readonly done: number;
  readonly total: number;
  readonly message: string;
}

/** A task changed state. */
export interface AnalysisStateParams {
  readonly task: AnalysisTask;
  readonly state: 'running' | 'done' | 'cancelled' | 'error';
  readonly message: string;
}

//#endregion

//#region Requests and notifications

/** Params of {@link Ready}. */
export interface ReadyParams {
  /** Webview bundle protocol version, so a stale webview is refused with a clear message. */
  readonly protocolVersion: number;
}

/** Answer to {@link Ready}: everything the first paint needs. */
export interface ReadyResult {
  readonly settings: InspectorSettings;
  readonly strings: Readonly<Record<string, string>>;
  readonly summary: ModelSummary;
  /** Layer rows in columnar form (see ./codec.ts `decodeLayers`). */
  readonly layers: LayerColumns;
  readonly targets: readonly TargetOption[];
  readonly formats: readonly FormatOption[];
  /** True when the workspace is trusted and the model is ONNX (running it to measure sensitivity is allowed). */
  readonly canMeasure: boolean;
}

/** Bumped whenever a DTO changes shape. */
export const PROTOCOL_VERSION = 3;

/** Params of {@link GetEstimate}. */
export interface GetEstimateParams {
  readonly targetId: string;
}

/** Params of {@link GetFrontier}. */
export interface GetFrontierParams {
  readonly targetId: string;
}

/** Params of {@link CompareTargets}. */
export interface CompareTargetsParams {
  readonly targetIds: readonly string[];
}

/** Params of {@link StartSensitivity}. */
export interface StartSensitivityParams {
  readonly method: 'weights' | 'measured';
}

/** User actions forwarded to `precisionLens.*` commands. */
export type InspectorAction = 'generatePlan' | 'openPlan' | 'measureSensitivity' | 'exportPlan' | 'applyPlan' | 'selectTarget' | 'compareTargets' | 'addCustomTarget';

/** All actions, for validation and the toolbar. */
export const INSPECTOR_ACTIONS: readonly InspectorAction[] = ['generatePlan', 'openPlan', 'measureSensitivity', 'exportPlan', 'applyPlan', 'selectTarget', 'compareTargets', 'addCustomTarget'];

/** Params of {@link RunAction}. */
export interface RunActionParams {
  readonly action: InspectorAction;
  readonly targetId: string;
}

/** Result of {@link RunAction}. */
export interface RunActionResult {
  readonly ok: boolean;
  readonly message: string;
}

/** Params of {@link GetMeasured} (none). */
export type GetMeasuredParams = Readonly<Record<string, never>>;

/** Params of {@link CancelAnalysis}. */
export interface CancelAnalysisParams {
  readonly task: AnalysisTask;
}

/** Webview → host: first message; answered with the first-paint data. */
export const Ready: RequestType<ReadyParams, ReadyResult> = { method: 'webview/ready' };
/** Webview → host: estimate for a target with the current settings. */
export const GetEstimate: RequestType<GetEstimateParams, TargetEstimate> = { method: 'estimate/get' };
/** Webview → host: the planner's Pareto frontier for a target. */
export const GetFrontier: RequestType<GetFrontierParams, PlanFrontier> = { method: 'plan/frontier' };
/** Webview → host: side-by-side estimates for several targets. */
export const CompareTargets: RequestType<CompareTargetsParams, readonly TargetComparison[]> = { method: 'targets/compare' };
/** Webview → host: (re)start sensitivity analysis; results stream as {@link SensitivityUpdate}. */
export const StartSensitivity: RequestType<StartSensitivityParams, { readonly started: boolean }> = { method: 'sensitivity/start' };
/** Webview → host: run a `precisionLens.*` command for this model. */
export const RunAction: RequestType<RunActionParams, RunActionResult> = { method: 'action/run' };
/** Webview → host: predicted vs measured per layer (null when nothing was measured). */
export const GetMeasured: RequestType<GetMeasuredParams, MeasuredComparison | null> = { method: 'measured/get' };
/** Webview → host: stop a running task. */
export const CancelAnalysis: NotificationType<CancelAnalysisParams> = { method: 'analysis/cancel' };

/** Host → webview: progress of a long task (throttled to about 1/s). */
export const AnalysisProgress: NotificationType<AnalysisProgressParams> = { method: 'analysis/progress' };
/** Host → webview: a task started, finished, was cancelled or failed. */
export const AnalysisState: NotificationType<AnalysisStateParams> = { method: 'analysis/state' };
/** Host → webview: a batch of sensitivity rows (decode with ./codec.ts `decodeSensitivity`). */
export const SensitivityUpdateNotification: NotificationType<SensitivityBatch> = { method: 'sensitivity/update' };
/** Host → webview: settings changed (the webview re-requests what it shows). */
export const SettingsChanged: NotificationType<InspectorSettings> = { method: 'settings/changed' };
/** Host → webview: the target list changed (custom targets file edited). */
export const TargetsChanged: NotificationType<readonly TargetOption[]> = { method: 'targets/changed' };

//#endregion
