import { describeCache, layerCacheLabel, type LayerCache } from './attention';
import { dtypeInfo } from './dtypes';
import { parameterBreakdown, tensorParts, type ParameterPart } from './parameters';
import { layerWeights } from './tensorData';
import type { Layer, Model } from './types';

/** One row of `inspect --json` `layers`. */
export interface InspectLayer {
  readonly name: string;
  readonly op: string;
  readonly role: Layer['role'];
  readonly block: number | null;
  readonly parameterCount: number;
  readonly bytes: number;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly quantizable: boolean;
  readonly weights: readonly string[];
  /** Cache of the layer's block ('MLA full', 'GQA sliding 1024', 'recurrent'); null outside blocks or without a description. */
  readonly cache: string | null;
  /** 'text', or 'mtp' / 'vision' / 'audio' for parts that do not run per generated token. */
  readonly part: ParameterPart;
}

/** `inspect --json` `attention`: the per-block cache description (model/attention.ts). */
export interface InspectAttention {
  readonly summary: string;
  readonly source: string;
  /** K + V elements per token over all blocks, and the bytes at FP16. */
  readonly elementsPerToken: number;
  readonly kvBytesPerTokenFp16: number;
  /** Constant recurrent state elements per sequence (FP32). */
  readonly stateElements: number;
  readonly layers: readonly LayerCache[];
  readonly warnings: readonly string[];
}

/** `inspect --json` `parameters`: where the parameters sit. */
export interface InspectParameters {
  readonly total: number;
  readonly text: number;
  /** Text parameters one token runs through (routed experts at their used share). */
  readonly activeText: number;
  readonly mtp: number;
  readonly vision: number;
  readonly audio: number;
}

/** The `inspect --json` document (documented in the README). */
export interface InspectReport {
  readonly file: string;
  readonly format: Model['format'];
  readonly formatVersion: number | null;
  readonly producer: string | null;
  readonly files: Model['files'];
  readonly totalFileBytes: number;
  readonly parameterCount: number;
  readonly tensorCount: number;
  readonly nodeCount: number;
  readonly weightBytes: number;
  /** Stored bytes per dtype (dtype mix). */
  readonly dtypeBytes: Readonly<Record<string, number>>;
  readonly hyperparameters: Model['hyperparameters'];
  readonly layerCount: number;
  readonly layers: readonly InspectLayer[];
  readonly attention: InspectAttention | null;
  readonly parameters: InspectParameters;
  readonly warnings: readonly string[];
}

/** Builds the JSON document printed by `precision-lens inspect --json`. */
export function inspectReport(model: Model): InspectReport {
  const dtypeBytes: Record<string, number> = {};
  for (const t of model.tensors) dtypeBytes[t.dtype] = (dtypeBytes[t.dtype] ?? 0) + t.byteLength;
  const cache = describeCache(model.hyperparameters);
  const labels = cache ? cache.layers.map(layerCacheLabel) : [];
  const parts = tensorParts(model);
  const b = parameterBreakdown(model, parts);
  return {
    file: model.fileName,
    format: model.format,
    formatVersion: model.formatVersion ?? null,
    producer: model.producer ?? null,
    files: model.files,
    totalFileBytes: model.totalFileBytes,
    parameterCount: model.parameterCount,
    tensorCount: model.tensorCount,
    nodeCount: model.nodeCount,
    weightBytes: model.weightBytes,
    dtypeBytes,
    hyperparameters: model.hyperparameters,
    layerCount: model.layers.length,
    layers: model.layers.map((l) => {
      const part = parts.get(l.weight ?? '') ?? 'text';
      return {
        name: l.name,
        op: l.op,
        role: l.role,
        block: l.block ?? null,
        parameterCount: l.parameterCount,
        bytes: l.byteLength,
        dtype: l.dtype,
        shape: l.shape,
        quantizable: l.quantizable,
        weights: layerWeights(l),
        cache: l.block !== undefined && part === 'text' ? (labels[l.block] ?? null) : null,
        part,
      };
    }),
    attention: cache
      ? { summary: cache.summary, source: cache.source, elementsPerToken: cache.elementsPerToken, kvBytesPerTokenFp16: cache.elementsPerToken * 2, stateElements: cache.stateElements, layers: cache.layers, warnings: cache.warnings }
      : null,
    parameters: { total: b.total, text: b.text, activeText: b.activeText, mtp: b.mtp, vision: b.vision, audio: b.audio },
    warnings: model.warnings,
  };
}

// Sizes and counts are formatted by the one shared formatter (core/format/numbers.ts), re-exported here for callers.
export { formatBytes, formatCount } from '../format/numbers';

/** Display label for a dtype id. */
export function dtypeLabel(dtype: string): string {
  return dtypeInfo(dtype)?.label ?? dtype.toUpperCase();
}
