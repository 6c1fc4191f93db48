import { describeCache, layerCacheLabel, type LayerCache } from './attention';
import { dtypeInfo } from './dtypes';
import { parameterBreakdown, tensorPartsOrText, type ParameterPart } from './parameters';
import { layerWeights, weightCount } from './tensorData';
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

/**
 * The rows of {@link InspectReport.layers} made on request: {@link rows}`(from, to)` are those of layers [from, to),
 * and `toJSON()` all of them, so `JSON.stringify` of an {@link InspectDocument} is the text of {@link inspectReport}'s
 * report. The CLI writes the rows a block at a time (cli/jsonOut.ts `JsonRows`): no object per layer is kept for the
 * whole document, nor the whole text as one string.
 */
export class InspectLayerRows {
  /** The number of rows (= layers). */
  readonly length: number;
  /** The model's layers (row `i` is made from layer `i`). */
  readonly layers: readonly Layer[];
  /** True when every row's `part` is 'text' and its `cache` null (no part map, no cache labels). */
  readonly plain: boolean;

  constructor(
    private readonly model: Model,
    private readonly parts: ReadonlyMap<string, ParameterPart> | 'text',
    private readonly labels: readonly string[],
  ) {
    this.length = model.layers.length;
    this.layers = model.layers;
    this.plain = parts === 'text' && labels.length === 0;
  }

  /** Layer `i` of the model (row `i` is made from it). */
  layer(i: number): Layer {
    return this.model.layers[i]!;
  }

  /** Row `i`'s `part`. */
  part(i: number): ParameterPart {
    return this.parts === 'text' ? 'text' : (this.parts.get(this.model.layers[i]!.weight ?? '') ?? 'text');
  }

  /** Row `i`'s `cache`, given its {@link part}. */
  cache(i: number, part: ParameterPart): string | null {
    const { block } = this.model.layers[i]!;
    return block !== undefined && part === 'text' ? (this.labels[block] ?? null) : null;
  }

  /**
   * The rows of layers [from, to): the definition of a row. The CLI's `inspect --json` writes rows as bytes straight
   * from the layers (cli/inspectJson.ts), restating these fields, their order and their values for speed (its header
   * says why a shared table of fields was not the better trade); test/unit/inspectJson.test.ts fails when the two
   * differ, so a change here is made there too.
   */
  rows(from: number, to: number): InspectLayer[] {
    const { layers } = this.model;
    const out = new Array<InspectLayer>(to - from);
    for (let i = from; i < to; i++) {
      const l = layers[i]!;
      const part = this.part(i);
      out[i - from] = {
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
        cache: this.cache(i, part),
        part,
      };
    }
    return out;
  }

  /** How many JSON values (objects, arrays, primitives) row `i` holds: the object, its 10 primitives, 2 arrays and their elements. */
  valuesAt(i: number): number {
    const l = this.model.layers[i]!;
    return 13 + l.shape.length + weightCount(l);
  }

  /** Every row (what `JSON.stringify` writes for it). */
  toJSON(): InspectLayer[] {
    return this.rows(0, this.length);
  }
}

/** {@link InspectReport} with its layer rows made on request. */
export type InspectDocument = Omit<InspectReport, 'layers'> & { readonly layers: InspectLayerRows };

/** Builds the JSON document printed by `precision-lens inspect --json`. */
export function inspectReport(model: Model): InspectReport {
  const doc = inspectDocument(model);
  return { ...doc, layers: doc.layers.rows(0, doc.layers.length) };
}

/**
 * {@link inspectReport} with the layer rows made on request ({@link InspectLayerRows}): the same members in the same
 * order, the same JSON text.
 */
export function inspectDocument(model: Model): InspectDocument {
  const dtypeBytes: Record<string, number> = {};
  // Indexed: a for-of runs cold here and makes an iterator result per tensor.
  const { tensors } = model;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]!;
    dtypeBytes[t.dtype] = (dtypeBytes[t.dtype] ?? 0) + t.byteLength;
  }
  const cache = describeCache(model.hyperparameters);
  const labels = cache ? cache.layers.map(layerCacheLabel) : [];
  const parts = tensorPartsOrText(model);
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
    layers: new InspectLayerRows(model, parts, labels),
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
