/**
 * Core results → inspector DTOs (src/protocol/messages.ts). Pure functions, no `vscode`, unit-tested in
 * plain Node. The host is glue: every number here comes from core (reader, estimator, sensitivity, solver);
 * this file only reshapes it into plain, index-keyed arrays for the webview.
 */
import {
  describeCache,
  dtypeLabel,
  getNumberFormat,
  layerCacheLabel,
  parameterBreakdown,
  type Estimate,
  type Model,
  type SensitivityReport,
  type SolveModelResult,
  type Target,
} from '../core';
import type {
  DtypeShare,
  FormatBytes,
  FormatOption,
  LayerRow,
  ModelSummary,
  PlanFrontier,
  SensitivityUpdate,
  TargetComparison,
  TargetEstimate,
  TargetOption,
} from '../protocol/messages';
import { encodeSensitivity, type SensitivityBatch, type SensitivityFact } from '../protocol/codec';

/** Rows per {@link SensitivityUpdate} notification (keeps each postMessage small). */
export const SENSITIVITY_BATCH_ROWS = 2000;

/** The summary card. */
export function buildSummary(model: Model): ModelSummary {
  const mix = new Map<string, { bytes: number; count: number }>();
  for (const t of model.tensors) {
    const m = mix.get(t.dtype) ?? { bytes: 0, count: 0 };
    m.bytes += t.byteLength;
    m.count++;
    mix.set(t.dtype, m);
  }
  const dtypeMix: DtypeShare[] = [...mix.entries()]
    .map(([dtype, m]) => ({ dtype, label: dtypeLabel(dtype), bytes: m.bytes, tensorCount: m.count }))
    .sort((a, b) => b.bytes - a.bytes);
  const breakdown = parameterBreakdown(model);
  const cache = describeCache(model.hyperparameters);
  return {
    fileName: model.fileName,
    format: model.format,
    formatVersion: model.formatVersion ?? null,
    producer: model.producer ?? null,
    architecture: model.hyperparameters.architecture ?? null,
    parameterCount: model.parameterCount,
    activeParameterCount: breakdown.activeText === breakdown.total ? null : breakdown.activeText,
    mtpParameterCount: breakdown.mtp,
    visionParameterCount: breakdown.vision,
    audioParameterCount: breakdown.audio,
    attention: cache?.summary ?? null,
    kvBytesPerToken: cache ? cache.elementsPerToken * 2 : null,
    blockAttention: cache ? cache.layers.map(layerCacheLabel) : [],
    totalFileBytes: model.totalFileBytes,
    weightBytes: model.weightBytes,
    fileCount: model.files.length,
    tensorCount: model.tensorCount,
    nodeCount: model.nodeCount,
    layerCount: model.layers.length,
    dtypeMix,
    hyperparameters: model.hyperparameters,
    warnings: model.warnings,
  };
}

/** Layer rows, index = position in `model.layers`. */
export function buildLayerRows(model: Model): LayerRow[] {
  return model.layers.map((l, index) => ({
    index,
    name: l.name,
    op: l.op,
    role: l.role,
    block: l.block ?? null,
    expert: l.expert ?? null,
    shape: [...l.shape],
    parameterCount: l.parameterCount,
    byteLength: l.byteLength,
    dtype: l.dtype,
    dtypeLabel: dtypeLabel(l.dtype),
    quantizable: l.quantizable,
  }));
}

/** Target picker entries. */
export function buildTargetOptions(targets: readonly Target[], userIds: ReadonlySet<string>): TargetOption[] {
  return targets.map((t) => ({ id: t.id, label: t.name, vendor: t.vendor, memoryBytes: t.memoryBytes, userDefined: userIds.has(t.id), nativeFormats: [...t.native] }));
}

/** Label of a format id (number format or dtype). */
export function formatLabel(id: string): string {
  return getNumberFormat(id)?.label ?? dtypeLabel(id);
}

/** Format options for the given ids (unknown ids keep their id as label). */
export function buildFormatOptions(ids: readonly string[]): FormatOption[] {
  return ids.map((id) => ({ id, label: formatLabel(id) }));
}

/** Core estimate → banner/chart DTO with per-layer arrays aligned to `model.layers`. */
export function toTargetEstimate(model: Model, e: Estimate, source: TargetEstimate['assignmentSource']): TargetEstimate {
  const index = new Map(model.layers.map((l, i) => [l.name, i]));
  const layerFormats: string[] = model.layers.map((l) => l.dtype);
  const layerBytes: number[] = model.layers.map((l) => l.byteLength);
  const byFormat = new Map<string, { bytes: number; layers: number }>();
  for (const pl of e.perLayer) {
    const i = index.get(pl.layer);
    if (i !== undefined) {
      layerFormats[i] = pl.format;
      layerBytes[i] = pl.bytes;
    }
    const f = byFormat.get(pl.format) ?? { bytes: 0, layers: 0 };
    f.bytes += pl.bytes;
    f.layers++;
    byFormat.set(pl.format, f);
  }
  const bytesByFormat: FormatBytes[] = [...byFormat.entries()].map(([format, f]) => ({ format, label: formatLabel(format), bytes: f.bytes, layerCount: f.layers })).sort((a, b) => b.bytes - a.bytes);
  const notes = [...e.warnings];
  if (e.unsupportedFormats.length > 0) notes.unshift(`${e.unsupportedFormats.length} layer(s) use formats ${e.targetName} does not run natively.`);
  return {
    targetId: e.target,
    targetLabel: e.targetName,
    fits: e.fits,
    memory: {
      weightBytes: e.weightBytes,
      kvCacheBytes: e.kvCacheBytes,
      activationBytes: e.activationBytes,
      overheadBytes: e.overheadBytes,
      totalBytes: e.totalBytes,
      capacityBytes: e.capacityBytes,
      runtime: {
        id: e.runtime.runtime,
        measured: e.runtime.measured,
        attention: e.runtime.attention,
        cacheKind: e.attention,
        kvBytesPerToken: e.kvBytesPerToken,
        components: e.runtime.components.map((c) => ({ id: c.id, kind: c.kind, label: c.label, bytes: c.bytes })),
      },
    },
    devicesNeeded: e.devicesNeeded,
    decodeTokensPerSecond: Number.isFinite(e.decodeTokensPerSecond) && e.decodeTokensPerSecond > 0 ? e.decodeTokensPerSecond : null,
    generative: e.generative,
    inferenceSeconds: Number.isFinite(e.inferenceSeconds) && e.inferenceSeconds > 0 && e.unpublishedRates.length === 0 ? e.inferenceSeconds : null,
    unpublishedRates: e.unpublishedRates,
    bytesByFormat,
    layerFormats,
    layerBytes,
    assignmentSource: source,
    notes,
  };
}

/** A comparison row: the estimate without per-layer arrays. */
export function toComparison(e: TargetEstimate): TargetComparison {
  const { layerFormats: _f, layerBytes: _b, ...rest } = e;
  return rest;
}

/** Sensitivity report → compact batches of index-keyed rows for the webview. */
export function toSensitivityBatches(model: Model, report: SensitivityReport, method: SensitivityUpdate['method'], batchRows = SENSITIVITY_BATCH_ROWS): SensitivityBatch[] {
  const index = new Map(model.layers.map((l, i) => [l.name, i]));
  const formats = buildFormatOptions(report.formats);
  const rows: { index: number; facts: (SensitivityFact | undefined)[] }[] = [];
  for (const ls of report.layers) {
    const i = index.get(ls.layer);
    if (i === undefined) continue;
    const facts = report.formats.map((fid): SensitivityFact | undefined => {
      const s = ls.formats[fid];
      if (!s) return undefined;
      const outputDb = method === 'measured' && s.measuredOutputSqnrDb !== undefined ? s.measuredOutputSqnrDb : s.predictedOutputSqnrDb;
      return { outputDb, weightDb: s.sqnrDb, overflows: s.overflowCount, reason: s.reason };
    });
    rows.push({ index: i, facts });
  }
  const out: SensitivityBatch[] = [];
  for (let k = 0; k < rows.length; k += batchRows) out.push(encodeSensitivity(formats, method, rows.slice(k, k + batchRows)));
  if (out.length === 0) out.push(encodeSensitivity(formats, method, []));
  return out;
}

/** Solver result → frontier DTO; `current` marks the plan shown (a plan file's, else the solver's choice). */
/** What the frontier chart needs from the solver (core's `SolveModelResult` has it; so does the task process's answer). */
export type FrontierSolve = Pick<SolveModelResult, 'frontier' | 'weightBytes' | 'harm' | 'weightBudgetBytes'>;

export function toPlanFrontier(targetId: string, solved: FrontierSolve, current: { readonly bytes: number; readonly harm: number; readonly label: string } | undefined): PlanFrontier {
  return {
    targetId,
    harmUnit: 'predicted output noise/signal',
    points: solved.frontier.map((p) => ({ memoryBytes: p.bytes, harm: p.harm, label: `${(p.bytes / 2 ** 20).toFixed(1)} MiB` })),
    current: current ? { memoryBytes: current.bytes, harm: current.harm, label: current.label } : { memoryBytes: solved.weightBytes, harm: solved.harm, label: 'solver' },
    budgetBytes: solved.weightBudgetBytes,
  };
}
