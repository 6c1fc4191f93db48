/**
 * Static precision sensitivity: weight statistics, the weight error each number format causes, and one score per
 * layer × format that predicts how much the model's output degrades when only that layer is lowered.
 *
 * ## Score (documented; the planner consumes `staticScore` as predicted harm)
 *
 *   staticScore = relMse × roleGain(role, context) × positionGain(position)
 *                 + 1000 × (overflowed elements / elements)            (FP16/BF16 overflow to Inf)
 *
 * - `relMse` = Σ(w − Q(w))² / Σw² over the layer's quantized tensors: for a linear map y = Wx with roughly
 *   white inputs it is the layer output's noise-to-signal power ratio (NSR).
 * - The gains turn that into the model output's NSR to first order, so `staticScore` is additive across layers
 *   (noise powers of independent layers add) and comparable between layers and formats.
 *   `predictedOutputSqnrDb` = −10·log10(staticScore) is the same number in dB.
 * - roleGain: in transformers ({@link TRANSFORMER_ROLE_GAIN}) the output head and the final norm pass their
 *   error to the logits 1:1, attention-output and embedding errors are diluted by the residual stream, FFN and
 *   q/k/v errors more so. In sequential networks ({@link SEQUENTIAL_ROLE_GAIN}) every weight layer passes its
 *   error on ~1:1 and biases add a small share. The values are round numbers fitted against measured output
 *   SQNR on the ONNX corpus (test/integration/validateSensitivity.ts, `npm run validate:sensitivity`). GGUF
 *   transformers use {@link LLAMA_CPP_ROLE_GAIN}, fitted to the KL llama.cpp measures (`validate:gguf-sensitivity`).
 * - The role is the *effective* role ({@link effectiveRole}): a layer whose lowered weight is a vector added to a
 *   signal (a bias, an LSTM bias slice, a constant offset; graphInfluence.ts `isOffsetVector`) scores as a bias
 *   whatever its name says, because its error adds to an activation much larger than the vector itself. This is
 *   structural (weight shape + op), not fitted: it reuses the existing bias gain.
 * - positionGain (sequential networks only): first and last weight layers ×2, then 1.5 → 0.75 with depth
 *   (offset vectors are not counted as weight layers).
 * - Overflow (FP16/BF16 values that become ±Inf) adds a catastrophic term so such a layer ranks above any
 *   finite-error choice.
 */
import type { Layer, LayerRole, Model, TensorInfo, TensorLocation } from '../model/types';
import { applyQuantParams, decodeElements, decodeFloatsInto } from './decode';
import { dtypeInfo } from '../model/dtypes';
import { isGgmlWritable, simulateGgml } from './ggmlQuants';
import { isOffsetVector } from './graphInfluence';
import { getNumberFormat, type NumberFormat } from './numberFormats';
import { SPLIT, GRIDS, absMax, fakeQuantize, roundBf16, roundFp16, roundMiniFast, roundSignificant, rowLayout, toHalf, type FakeQuantizeOptions } from './quantize';
import { AMAX_COMPUTED, AMAX_CONSTANT, AMAX_PER_ROW, F16_PAIR_TOLERANCE, codeTable, elementwiseKernelParams, type ChunkByteReader, type ElementwiseKernelParams, type ErrorWorkspace, errorWorkspace, histogramErrors, histogramStats, isElementwiseFormat, isIntKernelFormat, workspaceHistogramErrors, workspaceHistogramStats } from './errorKernels';

//#region statistics

/** Distribution statistics of a weight tensor (or of all quantized tensors of a layer). */
export interface WeightStats {
  readonly count: number;
  readonly maxAbs: number;
  readonly mean: number;
  readonly std: number;
  /** max |w| / σ: how far the largest weight sits outside the bulk (Gaussian weights of 1M elements: ≈ 5). */
  readonly maxOverStd: number;
  /** Excess kurtosis (0 for a Gaussian; heavy tails are positive). */
  readonly kurtosis: number;
  /** Elements with |w| > 65504 (they overflow FP16). */
  readonly beyondFp16: number;
  /** Elements that are exactly zero. */
  readonly zeros: number;
  /** NaN or ±Inf elements (ignored by the other statistics). */
  readonly nonFinite: number;
}

/** Streaming accumulator for {@link WeightStats}; merge partial results from chunks or workers. */
export class WeightStatsAccumulator {
  count = 0;
  maxAbs = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  s4 = 0;
  beyondFp16 = 0;
  zeros = 0;
  nonFinite = 0;
  /** Sum of |w| (ternary absmean, chunk globals). */
  sAbs = 0;

  add(values: Float32Array): this {
    let n = 0, maxAbs = this.maxAbs, s1 = 0, s2 = 0, s3 = 0, s4 = 0, sAbs = 0, beyond = 0, zeros = 0, bad = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v - v !== 0) {
        bad++;
        continue;
      }
      n++;
      const a = v < 0 ? -v : v;
      if (a > maxAbs) maxAbs = a;
      if (a > 65504) beyond++;
      if (v === 0) zeros++;
      const v2 = v * v;
      s1 += v;
      s2 += v2;
      s3 += v2 * v;
      s4 += v2 * v2;
      sAbs += a;
    }
    this.count += n;
    this.maxAbs = maxAbs;
    this.s1 += s1;
    this.s2 += s2;
    this.s3 += s3;
    this.s4 += s4;
    this.sAbs += sAbs;
    this.beyondFp16 += beyond;
    this.zeros += zeros;
    this.nonFinite += bad;
    return this;
  }

  merge(o: WeightStatsPartial): this {
    this.count += o.count;
    this.maxAbs = Math.max(this.maxAbs, o.maxAbs);
    this.s1 += o.s1;
    this.s2 += o.s2;
    this.s3 += o.s3;
    this.s4 += o.s4;
    this.sAbs += o.sAbs;
    this.beyondFp16 += o.beyondFp16;
    this.zeros += o.zeros;
    this.nonFinite += o.nonFinite;
    return this;
  }

  /** Plain partial sums (structured-clone / JSON safe). */
  partial(): WeightStatsPartial {
    const { count, maxAbs, s1, s2, s3, s4, sAbs, beyondFp16, zeros, nonFinite } = this;
    return { count, maxAbs, s1, s2, s3, s4, sAbs, beyondFp16, zeros, nonFinite };
  }

  result(): WeightStats {
    const n = this.count;
    if (n === 0) return { count: 0, maxAbs: 0, mean: 0, std: 0, maxOverStd: 0, kurtosis: 0, beyondFp16: this.beyondFp16, zeros: this.zeros, nonFinite: this.nonFinite };
    const mu = this.s1 / n;
    const e2 = this.s2 / n, e3 = this.s3 / n, e4 = this.s4 / n;
    const m2 = Math.max(0, e2 - mu * mu);
    const m4 = e4 - 4 * mu * e3 + 6 * mu * mu * e2 - 3 * mu ** 4;
    const std = Math.sqrt(m2);
    return {
      count: n,
      maxAbs: this.maxAbs,
      mean: mu,
      std,
      maxOverStd: std > 0 ? this.maxAbs / std : 0,
      kurtosis: m2 > 0 ? m4 / (m2 * m2) - 3 : 0,
      beyondFp16: this.beyondFp16,
      zeros: this.zeros,
      nonFinite: this.nonFinite,
    };
  }
}

/** Partial sums of {@link WeightStatsAccumulator}. */
export interface WeightStatsPartial {
  readonly count: number;
  readonly maxAbs: number;
  readonly s1: number;
  readonly s2: number;
  readonly s3: number;
  readonly s4: number;
  readonly sAbs: number;
  readonly beyondFp16: number;
  readonly zeros: number;
  readonly nonFinite: number;
}

/** Statistics of one array of weights. */
export function weightStats(values: Float32Array): WeightStats {
  return new WeightStatsAccumulator().add(values).result();
}

/** The error one format causes on a tensor. */
export interface WeightErrorStats {
  /** Σ(w − q)² / Σw² (0 = lossless). Overflowed elements count as error |w|² (as if lost). */
  readonly relMse: number;
  /** −10·log10(relMse), capped to ±{@link SQNR_CAP_DB} so it stays JSON-safe (lossless → +300). */
  readonly sqnrDb: number;
  readonly maxAbsError: number;
  /** Elements that became ±Inf/NaN (FP16/BF16 overflow). */
  readonly overflowCount: number;
  readonly count: number;
}

/** SQNR values are clamped to ±300 dB (float64 resolution), so reports never hold Infinity. */
export const SQNR_CAP_DB = 300;

/** Streaming accumulator for {@link WeightErrorStats}. */
export class ErrorAccumulator {
  signal = 0;
  noise = 0;
  maxAbsError = 0;
  overflow = 0;
  count = 0;

  add(original: Float32Array, quantized: Float32Array): this {
    // Fast path: with every x and x − q finite the skips below never fire, and the sums come out the same in the
    // same order; a NaN or infinity anywhere leaves a sum non-finite, and then the exact loop runs instead.
    let signal = 0, noise = 0, maxErr = this.maxAbsError;
    const n = original.length;
    for (let i = 0; i < n; i++) {
      const x = original[i]!;
      const d = x - quantized[i]!;
      signal += x * x;
      noise += d * d;
      const a = Math.abs(d);
      if (a > maxErr) maxErr = a;
    }
    if (signal - signal === 0 && noise - noise === 0) {
      this.signal += signal;
      this.noise += noise;
      this.maxAbsError = maxErr;
      this.count += n;
      return this;
    }
    return this.addExact(original, quantized);
  }

  /** {@link add} element by element: NaN inputs skipped, a non-finite error counted as overflow (and taken as x). */
  private addExact(original: Float32Array, quantized: Float32Array): this {
    let signal = 0, noise = 0, maxErr = this.maxAbsError, overflow = 0, count = 0;
    for (let i = 0; i < original.length; i++) {
      const x = original[i]!;
      if (x - x !== 0) continue;
      count++;
      const q = quantized[i]!;
      signal += x * x;
      let d = x - q;
      if (d - d !== 0) {
        overflow++;
        d = x;
      }
      noise += d * d;
      const a = d < 0 ? -d : d;
      if (a > maxErr) maxErr = a;
    }
    this.signal += signal;
    this.noise += noise;
    this.maxAbsError = maxErr;
    this.overflow += overflow;
    this.count += count;
    return this;
  }

  merge(o: ErrorPartial): this {
    this.signal += o.signal;
    this.noise += o.noise;
    this.maxAbsError = Math.max(this.maxAbsError, o.maxAbsError);
    this.overflow += o.overflow;
    this.count += o.count;
    return this;
  }

  partial(): ErrorPartial {
    return { signal: this.signal, noise: this.noise, maxAbsError: this.maxAbsError, overflow: this.overflow, count: this.count };
  }

  result(): WeightErrorStats {
    const relMse = this.signal > 0 ? this.noise / this.signal : this.noise > 0 ? 1 : 0;
    return { relMse, sqnrDb: relMseToDb(relMse), maxAbsError: this.maxAbsError, overflowCount: this.overflow, count: this.count };
  }
}

/** Partial sums of {@link ErrorAccumulator}. */
export interface ErrorPartial {
  readonly signal: number;
  readonly noise: number;
  readonly maxAbsError: number;
  readonly overflow: number;
  readonly count: number;
}

/** −10·log10(ratio) clamped to ±SQNR_CAP_DB. */
export function relMseToDb(ratio: number): number {
  if (!(ratio > 0)) return SQNR_CAP_DB;
  return Math.max(-SQNR_CAP_DB, Math.min(SQNR_CAP_DB, -10 * Math.log10(ratio)));
}

/** Error statistics of `quantized` against `original`. */
export function weightErrorStats(original: Float32Array, quantized: Float32Array): WeightErrorStats {
  return new ErrorAccumulator().add(original, quantized).result();
}

//#endregion

//#region report types

/** Sensitivity of one layer to one format. */
export interface LayerFormatSensitivity {
  /** Predicted model-output noise-to-signal ratio from lowering only this layer (higher = more sensitive; additive across layers). */
  readonly staticScore: number;
  /** −10·log10(staticScore), capped. */
  readonly predictedOutputSqnrDb: number;
  /** Weight SQNR of the layer in this format. */
  readonly sqnrDb: number;
  readonly relMse: number;
  readonly maxAbsError: number;
  readonly overflowCount: number;
  /** Short human-readable reason: "outliers: max/σ = 41", "overflows FP16", "output head". */
  readonly reason: string;
  /** Sampling mode: relative standard error of relMse from the blocks sampled (0 in a full pass). */
  readonly relMseStdErr?: number;
  // Measured (ONNX, `--measure`): model output when only this layer is in this format.
  readonly measuredOutputSqnrDb?: number;
  readonly cosine?: number;
  /** Mean KL(baseline ‖ quantized) of softmax over the last axis of logits-like outputs (nats). */
  readonly klDivergence?: number;
  /** Share of positions whose argmax over the last axis is unchanged. */
  readonly top1Agreement?: number;
  // Measured (GGUF, `--measure`): llama.cpp on a calibration text, only this layer in this format.
  /** Standard error of `klDivergence` over the text's positions. */
  readonly klStdErr?: number;
  /** Perplexity of the model with only this layer in this format. */
  readonly measuredPerplexity?: number;
}

/** One analyzed layer. */
export interface LayerSensitivity {
  readonly layer: string;
  readonly role: LayerRole;
  readonly op: string;
  readonly block: number | null;
  readonly parameterCount: number;
  readonly dtype: string;
  /** Tensors that were quantized (the main weight and other rank ≥ 2 weights; biases stay). */
  readonly tensors: readonly string[];
  readonly stats: WeightStats;
  readonly formats: Readonly<Record<string, LayerFormatSensitivity>>;
}

/** Whole-model sensitivity report (plain JSON). */
export interface SensitivityReport {
  readonly model: string;
  readonly formats: readonly string[];
  readonly layers: readonly LayerSensitivity[];
  readonly sampled: { readonly fraction: number; readonly note: string } | undefined;
  readonly warnings: readonly string[];
  readonly elapsedMs: number;
  /** Present with `--measure`: how measured metrics were obtained. */
  readonly measured?: MeasuredSummary;
}

/**
 * The static scores of a sensitivity analysis, columnar: what a plan needs from it, without a record per layer and
 * format (a 200,000-layer model has 2.2 million of those). `staticScores[f][i]` is `staticScore` of layer
 * `layers[i]` in format `formats[f]`, the same number {@link LayerSensitivity}'s `formats[id].staticScore` holds in the
 * full report. Every analyzed layer has a score in every format; a layer not analyzed is not listed.
 */
export interface SensitivityScores {
  /** Analyzed layers, in the order a full report lists them. */
  readonly layers: readonly string[];
  readonly formats: readonly string[];
  /** One column per format (same order as `formats`), indexed like `layers`. */
  readonly staticScores: readonly Float64Array[];
}

/** A sensitivity report whose per-layer part is {@link SensitivityScores} (plans: `analyzeModelScores`). */
export interface SensitivityScoresReport extends Omit<SensitivityReport, 'layers' | 'measured'> {
  readonly scores: SensitivityScores;
}

/**
 * A report's layers made on request, one {@link LayerSensitivity} at a time, from the analysis's columns: what a
 * 200,000-layer report is written from without holding its 2.2 million layer × format records (~3 KB of heap a
 * layer). `row(i)` is the record the full report lists `i`-th, made afresh on each call; `toJSON()` gives them all
 * (so `JSON.stringify` of a report holding rows writes the full report's text). The CLI's JSON writer reads it as
 * rows (`cli/jsonOut.ts` `JsonRows`).
 */
export interface SensitivityLayerRows {
  readonly length: number;
  row(i: number): LayerSensitivity;
  /** Records [from, to). */
  rows(from: number, to: number): LayerSensitivity[];
  /** How many JSON values (objects, arrays and primitives, the row itself included) row `i` holds, at most. */
  valuesAt(i: number): number;
  toJSON(): LayerSensitivity[];
}

/** A static sensitivity report whose layers are {@link SensitivityLayerRows} (the CLI's `sensitivity`). */
export interface SensitivityRowsReport extends Omit<SensitivityReport, 'layers' | 'measured'> {
  readonly layers: SensitivityLayerRows;
}

/** How the measured metrics were produced. */
export interface MeasuredSummary {
  readonly inputs: string;
  readonly outputs: readonly string[];
  readonly runs: number;
  readonly layersMeasured: number;
  readonly cached: boolean;
  readonly elapsedMs: number;
  readonly notes: readonly string[];
}

//#endregion

//#region score

/** Default candidate formats for `sensitivity` (CLI and API): the common deployment choices. */
export const DEFAULT_SENSITIVITY_FORMATS: readonly string[] = ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4'];

/**
 * Role gains inside transformers: how much of a layer's relative weight error reaches the logits. Fitted (as
 * round numbers) to measured output SQNR of the ONNX corpus transformers: the output head and the final norm act
 * on the logits directly (1); attention output and embeddings write the residual stream (~−7 dB); FFN and
 * q/k/v projections sit behind a norm and a nonlinearity (−15 to −20 dB); pre-norm gains inside blocks ~−20 dB.
 */
export const TRANSFORMER_ROLE_GAIN: Readonly<Record<LayerRole, number>> = {
  embedding: 0.2,
  position_embedding: 0.1,
  attention_q: 0.01,
  attention_k: 0.01,
  attention_v: 0.02,
  attention_qkv: 0.01,
  attention_o: 0.2,
  ffn_up: 0.03,
  ffn_gate: 0.03,
  ffn_gate_up: 0.03,
  ffn_down: 0.03,
  expert: 0.01,
  shared_expert: 0.03,
  router: 0.5,
  norm: 0.01,
  output_head: 1,
  conv: 0.03,
  linear: 0.03,
  recurrent: 0.03,
  bias: 0.01,
  other: 0.03,
};

/**
 * Role gains of transformers stored as GGUF (run by llama.cpp), fitted against the KL divergence each layer adds to
 * the next-token distribution when lowered alone (src/node/ggufMeasure.ts; `npm run validate:gguf-sensitivity`:
 * stories260K, Spearman ρ per format 0.08–0.14 with {@link TRANSFORMER_ROLE_GAIN} → 0.74–0.80). KL weighs the
 * output distribution, not the logits' SQNR the ONNX gains were fitted to: attention-output errors are diluted
 * like FFN errors (0.01 instead of 0.2), k projections pass more (their error moves every attention score), and
 * the head and embedding count ~3× and ~2× an FFN projection instead of ~33× and ~7×.
 */
export const LLAMA_CPP_ROLE_GAIN: Readonly<Record<LayerRole, number>> = {
  ...TRANSFORMER_ROLE_GAIN,
  embedding: 0.06,
  attention_q: 0.015,
  attention_k: 0.03,
  attention_v: 0.02,
  attention_o: 0.01,
  output_head: 0.1,
};

/** Role gains in other (sequential: CNN, MLP, RNN) networks: every weight layer passes its error on ~1:1; biases add a small share. */
export const SEQUENTIAL_ROLE_GAIN: Readonly<Record<LayerRole, number>> = {
  ...Object.fromEntries(Object.keys(TRANSFORMER_ROLE_GAIN).map((k) => [k, 1])) as Record<LayerRole, number>,
  bias: 0.1,
  position_embedding: 0.5,
};

/** Where a layer sits in the model, as {@link layerContexts} computes it. */
export interface LayerPosition {
  /** Index among the analyzed non-bias layers (biases: their own index, unused). */
  readonly index: number;
  readonly count: number;
  /** The model has attention/FFN layers (transformer gains apply). */
  readonly transformer?: boolean;
  /** A norm after the last block, feeding the output head. */
  readonly finalNorm?: boolean;
}

/** Which role-gain table scores a model: GGUF transformers run in llama.cpp use {@link LLAMA_CPP_ROLE_GAIN}. */
export function roleGainTable(model: { readonly format?: string } | undefined): 'llama.cpp' | 'default' {
  return model?.format === 'gguf' ? 'llama.cpp' : 'default';
}

/** Positions of `layers` (in execution order) for scoring. */
export function layerContexts(layers: readonly (Pick<Layer, 'name' | 'role'> & Partial<Pick<Layer, 'shape' | 'op'>>)[]): Map<string, LayerPosition> {
  const transformer = layers.some((l) => l.role.startsWith('attention_') || l.role.startsWith('ffn_') || l.role === 'expert');
  // Offset vectors (bias-like, see effectiveRole) do not count as weight layers for first/last/depth.
  const weightLayers = layers.filter((l) => effectiveRole(l) !== 'bias');
  let lastCore = -1;
  weightLayers.forEach((l, i) => {
    if (l.role !== 'norm' && l.role !== 'output_head') lastCore = i;
  });
  const out = new Map<string, LayerPosition>();
  weightLayers.forEach((l, i) => out.set(l.name, { index: i, count: weightLayers.length, transformer, finalNorm: transformer && l.role === 'norm' && i > lastCore }));
  layers.forEach((l, i) => {
    if (!out.has(l.name)) out.set(l.name, { index: i, count: layers.length, transformer });
  });
  return out;
}

/** Inputs of {@link scoreLayer}. */
export interface ScoreInput {
  readonly stats: WeightStats;
  readonly errors: Readonly<Record<string, WeightErrorStats>>;
  readonly position?: LayerPosition;
}

/**
 * Position gain of sequential networks: the first and last weight layers ×2 (no later layer averages their
 * noise out; the first also sees un-normalized inputs), then 1.5 → 0.75 with depth. Transformers: 1.
 */
export function positionGain(position: LayerPosition | undefined, role?: LayerRole): number {
  if (!position || position.transformer || role === 'bias' || position.count < 3) return 1;
  if (position.index === 0 || position.index === position.count - 1) return 2;
  return 1.5 - (0.75 * position.index) / (position.count - 1);
}

/**
 * The role that decides the gain: a layer whose lowered weight is a vector (see {@link isOffsetVector}) scores as
 * a bias whatever its name says (LSTM bias slices, constants added to activations); norms keep their role.
 */
export function effectiveRole(layer: Pick<Layer, 'role'> & Partial<Pick<Layer, 'shape' | 'op'>>): LayerRole {
  if (layer.role === 'norm' || layer.role === 'bias' || !layer.shape || !layer.op) return layer.role;
  return isOffsetVector({ shape: layer.shape, op: layer.op }) ? 'bias' : layer.role;
}

/** Role gain for a layer in its context. */
export function roleGain(role: LayerRole, position: LayerPosition | undefined, table: 'llama.cpp' | 'default' = 'default'): number {
  if (!position?.transformer) return SEQUENTIAL_ROLE_GAIN[role];
  return position.finalNorm ? 1 : (table === 'llama.cpp' ? LLAMA_CPP_ROLE_GAIN : TRANSFORMER_ROLE_GAIN)[role];
}

/**
 * Scores one layer for every format in `input.errors` (ids from numberFormats.ts). See the module comment for
 * the formula. `model` is used for context (block count) and may be omitted by tests.
 */
export function scoreLayer(layer: Pick<Layer, 'name' | 'role' | 'block'> & Partial<Pick<Layer, 'shape' | 'op'>>, model: Pick<Model, 'hyperparameters'> & Partial<Pick<Model, 'format'>> | undefined, input: ScoreInput): Record<string, LayerFormatSensitivity> {
  const out: Record<string, LayerFormatSensitivity> = {};
  const gain = layerGain(layer, model, input.position);
  for (const [formatId, err] of Object.entries(input.errors)) {
    const format = getNumberFormat(formatId);
    const score = staticScoreOf(err.relMse, err.overflowCount, err.count, gain);
    out[formatId] = {
      staticScore: score,
      predictedOutputSqnrDb: relMseToDb(score),
      sqnrDb: err.sqnrDb,
      relMse: err.relMse,
      maxAbsError: err.maxAbsError,
      overflowCount: err.overflowCount,
      reason: scoreReason(layer, model, input, err, format),
    };
  }
  return out;
}

/** The factor a layer's relMse is multiplied by in its static score: role gain × position gain ({@link scoreLayer}). */
export function layerGain(layer: Pick<Layer, 'role'> & Partial<Pick<Layer, 'shape' | 'op'>>, model: Partial<Pick<Model, 'format'>> | undefined, position: LayerPosition | undefined): number {
  const role = effectiveRole(layer);
  return roleGain(role, position, roleGainTable(model)) * positionGain(position, role);
}

/** A layer's static score for one format from its error sums: relMse × gain, plus 1000 × the share of overflowed values. */
export function staticScoreOf(relMse: number, overflowCount: number, count: number, gain: number): number {
  const overflowShare = count > 0 ? overflowCount / count : 0;
  return relMse * gain + 1000 * overflowShare;
}

/** The most telling facts behind a score, most important first, joined by '; '. */
function scoreReason(layer: Pick<Layer, 'role' | 'block'> & Partial<Pick<Layer, 'shape' | 'op'>>, model: Pick<Model, 'hyperparameters'> | undefined, input: ScoreInput, err: WeightErrorStats, format: NumberFormat | undefined): string {
  const parts: string[] = [];
  const label = format?.label.split(' (')[0] ?? 'format';
  if (err.overflowCount > 0) parts.push(`overflows ${label} (${err.overflowCount} values)`);
  if (err.relMse === 0) parts.push('lossless');
  const s = input.stats;
  if (s.maxOverStd >= 12 && err.relMse > 0) parts.push(`outliers: max/σ = ${Math.round(s.maxOverStd)}`);
  if (s.kurtosis >= 10 && err.relMse > 0 && s.maxOverStd < 12) parts.push(`heavy tails: kurtosis ${Math.round(s.kurtosis)}`);
  if (layer.role === 'output_head') parts.push('output head');
  else if (layer.role === 'embedding') parts.push('embedding');
  else if (layer.role === 'norm') parts.push('norm');
  else if (layer.role === 'router') parts.push('MoE router');
  else if (layer.role !== 'bias' && effectiveRole(layer) === 'bias') parts.push('offset vector (bias-like: its error adds to a larger signal)');
  const pos = input.position;
  if (pos && !pos.transformer && effectiveRole(layer) !== 'bias' && pos.count >= 3 && (pos.index === 0 || pos.index === pos.count - 1)) parts.push(pos.index === 0 ? 'first layer' : 'last layer');
  if (pos?.finalNorm) parts.push('final norm');
  const blocks = model?.hyperparameters.blockCount;
  if (blocks && layer.block !== undefined && layer.block !== null && (layer.block === 0 || layer.block === blocks - 1) && !parts.includes('first layer')) parts.push(layer.block === 0 ? 'first block' : 'last block');
  if (err.relMse > 0 && parts.length === 0) parts.push(`weight SQNR ${err.sqnrDb.toFixed(1)} dB`);
  return parts.join('; ');
}

//#endregion

//#region quantization layout

/** Which tensors of a layer are lowered, and how their axes map to the quantizer's [out, …] layout. */
export interface QuantizationLayout {
  /** Transpose a 2-D weight before quantizing (ONNX MatMul / Gemm without transB store [in, out]). */
  readonly transpose: boolean;
}

/**
 * ONNX MatMul's B and Gemm's B without transB=1 are stored [K, N] (input × output; higher ranks flatten to
 * [K, N] with N the last axis, see {@link storedMatrixShape}); quantizers group along K and scale per output
 * column N, so those weights are transposed first. Everything else is already [out, …].
 */
export function quantizationLayout(layer: Pick<Layer, 'op'>, model: Pick<Model, 'format' | 'graphs'> | undefined, tensorName: string, rank: number): QuantizationLayout {
  if (rank < 2 || model?.format !== 'onnx') return { transpose: false };
  const op = layer.op;
  if (op === 'MatMul' || op === 'MatMulInteger' || op === 'QLinearMatMul' || op === 'FusedMatMul') return { transpose: true };
  if (op === 'Gemm') {
    for (const g of model.graphs) {
      for (const n of g.nodes) {
        if (n.op !== 'Gemm' || n.inputs[1] !== tensorName) continue;
        return { transpose: n.attributes.transB !== 1 };
      }
    }
    return { transpose: true };
  }
  return { transpose: false };
}

/**
 * Shape the quantizer sees before any transpose: transposed weights are flattened to [K, N] with N the last axis
 * (a MatMul weight stored [16, 4, 4, 10] and reshaped to [256, 10] by the graph → [256, 10]).
 */
export function storedMatrixShape(shape: readonly number[], transpose: boolean): readonly number[] {
  if (!transpose || shape.length < 2) return shape;
  const n = shape[shape.length - 1]!;
  return [shape.reduce((a, b) => a * b, 1) / n, n];
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[base + c]!;
  }
  return out;
}

//#endregion

//#region fused quantization error

/**
 * Error sums of quantizing `values` in `format`, element by element in JS, without materializing the quantized
 * tensor: the common formats (FP16/BF16/TF32, per-tensor FP8, INT8 per channel/tensor, INT4 groups) use fused
 * loops with the rounding of {@link fakeQuantize} but keep the dequantized value in float64 (fakeQuantize stores
 * float32, which can move the sums in the last digits); every other format goes through fakeQuantize. The
 * reference for {@link analyzeSensitivityChunk}'s kernels (errorKernels.ts), which compute the same sums faster.
 */
export function quantizationError(values: Float32Array, shape: readonly number[], format: NumberFormat, options: FakeQuantizeOptions = {}): ErrorPartial {
  const n = values.length;
  const el = format.element;
  const g = GRIDS[el];
  // Per-element rounding (no scale or one tensor scale): one fused loop. Accumulators stay local (no closures)
  // so V8 keeps them in registers.
  let kind = -1, inv = 1, scale = 1, c = 0, minNormal = 0, sub = 0, maxFinite = 0;
  if (el === 'fp16') kind = 0;
  else if (el === 'bf16') kind = 1;
  else if (el === 'tf32') {
    kind = 2;
    c = SPLIT(11);
  } else if (g && format.scaling === 'tensor') {
    const amax = options.tensorAbsMax ?? absMax(values);
    if (amax > 0 && Number.isFinite(amax)) {
      kind = 3;
      scale = Math.fround(amax / g.maxFinite);
      inv = 1 / scale;
      c = SPLIT(g.manBits + 1);
      minNormal = 2 ** g.minExp;
      sub = 2 ** (g.manBits - g.minExp);
      maxFinite = g.maxFinite;
    }
  }
  let signal = 0, noise = 0, maxErr = 0, overflow = 0, count = 0;
  if (kind >= 0) {
    for (let i = 0; i < n; i++) {
      const x = values[i]!;
      if (x - x !== 0) continue;
      const q = kind === 0 ? roundFp16(x) : kind === 1 ? roundBf16(x) : kind === 2 ? roundSignificant(x, c) : roundMiniFast(x * inv, c, minNormal, sub, maxFinite) * scale;
      count++;
      signal += x * x;
      let d = x - q;
      if (d - d !== 0) {
        overflow++;
        d = x;
      }
      noise += d * d;
      if (d < 0) d = -d;
      if (d > maxErr) maxErr = d;
    }
    return { signal, noise, maxAbsError: maxErr, overflow, count };
  }
  if ((el === 'int8' || el === 'int4') && format.scaling !== 'none') {
    const { rowLength } = rowLayout(shape, n);
    const qmax = el === 'int8' ? 127 : 7, qmin = el === 'int8' ? -127 : -8;
    const tensorWide = format.scaling === 'tensor';
    const rowStep = tensorWide ? n : rowLength;
    const group = format.scaling === 'group' ? format.blockSize : rowStep;
    const tensorMax = tensorWide ? (options.tensorAbsMax ?? absMax(values)) : 0;
    const cam = format.scaling === 'channel' ? options.channelAbsMax : undefined;
    for (let r = 0; r < n; r += rowStep) {
      const rowEnd = Math.min(n, r + rowStep);
      for (let s0 = r; s0 < rowEnd; s0 += group) {
        const e = Math.min(rowEnd, s0 + group);
        const amax = tensorWide ? tensorMax : cam ? cam[r / rowLength]! : absMax(values, s0, e);
        const ok = amax > 0 && Number.isFinite(amax);
        const sc = ok ? (el === 'int4' ? toHalf(amax / qmax) : Math.fround(amax / qmax)) : 0;
        const iv = sc > 0 ? 1 / sc : 0;
        for (let i = s0; i < e; i++) {
          const x = values[i]!;
          if (x - x !== 0) continue;
          const y = x * iv;
          let q = Math.round(y);
          if (q - y === 0.5 && q % 2 !== 0) q -= 1;
          const d = x - (q > qmax ? qmax : q < qmin ? qmin : q) * sc;
          count++;
          signal += x * x;
          noise += d * d;
          const a = d < 0 ? -d : d;
          if (a > maxErr) maxErr = a;
        }
      }
    }
    return { signal, noise, maxAbsError: maxErr, overflow, count };
  }
  return new ErrorAccumulator().add(values, fakeQuantize(values, shape, format, options)).partial();
}

//#endregion

//#region chunk analysis (runs in workers or inline)

/** One unit of static-analysis work: a whole tensor or a row range of one, already read from its byte range. */
export interface SensitivityChunkTask {
  readonly id: number;
  readonly dtype: string;
  readonly encoding: TensorLocation['encoding'];
  /** Elements in this chunk. */
  readonly elementCount: number;
  readonly bytes: Uint8Array;
  /** Chunk shape in stored order (first axis = the rows this chunk covers). */
  readonly shape: readonly number[];
  /** First stored row of this chunk within the tensor (per-channel quant params along axis 0). */
  readonly rowOffset: number;
  readonly quant: TensorInfo['quant'];
  /** Transpose the 2-D chunk before quantizing (ONNX MatMul [K, N]). */
  readonly transpose: boolean;
  /** Format ids to evaluate; empty for a statistics-only pass. */
  readonly formats: readonly string[];
  /** Whole-tensor facts when this chunk is part of a larger tensor. */
  readonly globals?: { readonly tensorAbsMax: number; readonly tensorAbsMean: number; readonly channelAbsMax?: Float32Array };
  /** Return max |x| per column (the output channels of a transposed weight) for the globals pass. */
  readonly wantColumnAbsMax: boolean;
  /**
   * FP16/BF16 chunks of a larger tensor analyzed in one pass: return the code histogram instead of statistics and
   * element-wise errors (those need whole-tensor facts); the caller adds the histograms of all chunks and calls
   * {@link histogramSensitivity}. Only valid when {@link canAnalyzeInOnePass} holds.
   */
  readonly histogramOnly?: boolean;
  /**
   * The chunk's bytes are not in `bytes` (empty) but in this local file range; the worker reads them itself
   * (`analyzeSensitivityChunk`'s `read`), so they never cross threads. Set by the Node runner for FileByteSources.
   */
  readonly file?: { readonly path: string; readonly byteOffset: number; readonly byteLength: number };
}

/** Partial sums for one chunk. */
export interface SensitivityChunkResult {
  readonly id: number;
  readonly stats: WeightStatsPartial;
  readonly errors: Readonly<Record<string, ErrorPartial>>;
  readonly columnAbsMax?: Float32Array;
  /** With `histogramOnly`: counts of the 65 536 codes (stats are then empty and element-wise formats absent). */
  readonly histogram?: Uint32Array;
}

/** Formats that represent every value of a stored dtype exactly (stored dtype → format ids), so no work is needed. */
export const LOSSLESS_FORMATS: Readonly<Record<string, readonly string[]>> = {
  float32: ['fp32'],
  float16: ['fp16', 'fp32', 'tf32'],
  bfloat16: ['bf16', 'fp32'],
  float8_e4m3fn: ['fp16', 'bf16', 'fp32', 'tf32'],
  float8_e5m2: ['fp16', 'bf16', 'fp32', 'tf32'],
};

/** The formats a chunk evaluates and, per format id, the one evaluated for it (see {@link evaluatedFormats}). */
interface EvaluatedFormats {
  readonly formats: readonly NumberFormat[];
  readonly evaluatedAs: ReadonlyMap<string, NumberFormat>;
}

// A batch's tasks share one `formats` array (structured clone keeps the identity within a message), so a batch of
// 1,024 tiny tensors resolves its 11 formats once instead of 1,024 times (errorKey builds strings, pairwise).
const evaluatedByList = new WeakMap<readonly string[], EvaluatedFormats>();

/** Formats with the same arithmetic (INT8 weight-only and W8A8, INT4 g128 and W4A4) are evaluated once. */
function evaluatedFormats(ids: readonly string[]): EvaluatedFormats {
  const known = evaluatedByList.get(ids);
  if (known) return known;
  const formats: NumberFormat[] = [];
  const evaluatedAs = new Map<string, NumberFormat>();
  for (const id of ids) {
    const f = getNumberFormat(id);
    if (!f || evaluatedAs.has(f.id)) continue;
    const same = formats.find((e) => errorKey(e) === errorKey(f));
    evaluatedAs.set(f.id, same ?? f);
    if (!same) formats.push(f);
  }
  const out = { formats, evaluatedAs };
  evaluatedByList.set(ids, out);
  return out;
}

/** An element-wise format's block kernel: its slot, and what it computes (neither: nothing, its error is 0 here). */
interface BlockKernel {
  readonly format: NumberFormat;
  readonly slot: number;
  readonly params?: ElementwiseKernelParams;
  readonly int8TensorMax?: number;
}

/** How a chunk's values reach the kernels: histogrammed 16-bit codes or not, transposed, whole-tensor max given. */
interface KernelPlanMode {
  /** Statistics and element-wise errors come from the code histogram (16-bit codes). */
  readonly histogrammed: boolean;
  /** The task asks only for the histogram (no element-wise errors). */
  readonly histogramOnly: boolean;
  readonly transposed: boolean;
  /** The whole tensor's max |x| (task.globals); undefined: per-tensor formats wait for the chunk's (pass 2). */
  readonly givenTensorMax: number | undefined;
}

/**
 * Which block kernel evaluates each of a chunk's formats, in which slot and pass: the one dispatch of formats to the
 * workspace's kernels. {@link analyzeChunk} makes one per task; a batch makes one per dtype for its joined tasks
 * ({@link kernelPlanTask}); both run it with {@link blockPass1} and {@link blockPass2}.
 */
interface KernelPlan {
  readonly dtype: string;
  readonly histogrammed: boolean;
  /** The formats evaluated and, per format id, the one evaluated for it ({@link evaluatedFormats}). */
  readonly formats: readonly NumberFormat[];
  readonly evaluatedAs: ReadonlyMap<string, NumberFormat>;
  /** Format ids the dtype holds exactly: error 0, no work. */
  readonly lossless: readonly string[];
  /** Element-wise formats: from the histogram, a block kernel or {@link quantizationError} (none with histogramOnly). */
  readonly elementwise: readonly NumberFormat[];
  /** Integer kernel formats in slot order: INT8 first, then INT4 by group size (g, 2g, 4g in consecutive slots). */
  readonly ints: readonly NumberFormat[];
  /** Element-wise formats run in block kernels (slot `ints.length + k`; values not histogrammed). */
  readonly kernelElementwise: readonly NumberFormat[];
  /** The remaining formats, run on each block by the caller: NF4 in its kernel (slots in `nf4Slot`), the rest by fakeQuantize. */
  readonly others: readonly NumberFormat[];
  readonly nf4Slot: ReadonlyMap<NumberFormat, number>;
  /** Workspace slots the plan uses. */
  readonly slots: number;
  /** Per-tensor formats wait for the chunk's max |x| (fakeQuantize's absMax, ±Inf included): pass 2. */
  readonly needsTensorMax: boolean;
  /** The other formats wait for pass 2 too (NVFP4's tensor scale). */
  readonly othersDeferred: boolean;
  /** The element-wise kernels of pass 1, and of those the ones not fused with the statistics. */
  readonly pass1: readonly BlockKernel[];
  readonly pass1Unfused: readonly BlockKernel[];
  /** The element-wise formats of pass 2 (their parameters come from the chunk's max: {@link deferredKernels}). */
  readonly deferred: readonly NumberFormat[];
  /** Statistics, FP16 and BF16 in one pass over each block (the float32 defaults). */
  readonly fused16: readonly [BlockKernel, BlockKernel] | undefined;
  /** INT8 per channel with one INT4 group size in one pass (-1: not), or with INT4 groups g, 2g, 4g (quadB: g's slot). */
  readonly pairA: number;
  readonly pairB: number;
  readonly quadA: number;
  readonly quadB: number;
  /** FP16/BF16 codes whose only block work is the pair: it runs on the codes (intErrorPairStaged). */
  readonly codesPair: boolean;
  /** Any block pass at all (else the histogram answers everything). */
  readonly blockPass: boolean;
  /** The block pass counts the code histogram (no counting pass before it). */
  readonly countInBlocks: boolean;
}

/** The {@link KernelPlan} of the format ids `requested` for a chunk of `dtype`. */
function kernelPlan(requested: readonly string[], dtype: string, mode: KernelPlanMode): KernelPlan {
  const { histogrammed, transposed, givenTensorMax } = mode;
  const { formats, evaluatedAs } = evaluatedFormats(requested);
  const lossless = LOSSLESS_FORMATS[dtype] ?? [];
  const todo = formats.filter((f) => !lossless.includes(f.id));
  const allElementwise = todo.filter((f) => isElementwiseFormat(f));
  const ints = todo.filter((f) => !allElementwise.includes(f) && isIntKernelFormat(f)).sort((x, y) => (x.element === y.element ? x.blockSize - y.blockSize : x.element === 'int8' ? -1 : 1));
  const others = todo.filter((f) => !allElementwise.includes(f) && !ints.includes(f));
  const elementwise = mode.histogramOnly ? [] : allElementwise;
  // Float32 values: element-wise formats with a kernel run on the blocks too (ternary stays element by element).
  const kernelElementwise = histogrammed ? [] : elementwise.filter((f) => f.element === 'int8' || elementwiseKernelParams(f, 1) !== undefined);
  // NF4 has a kernel with two slots each (after the integer and element-wise kernels' slots).
  const nf4Slot = new Map<NumberFormat, number>();
  for (const f of others) if (f.element === 'nf4') nf4Slot.set(f, ints.length + kernelElementwise.length + 2 * nf4Slot.size);
  const hasNvfp4 = others.some((f) => f.id === 'nvfp4');
  const needsTensorMax = !histogrammed && givenTensorMax === undefined && (elementwise.some((f) => f.scaling === 'tensor') || hasNvfp4);
  const isDeferred = (f: NumberFormat): boolean => needsTensorMax && f.scaling === 'tensor';
  const pass1 = kernelElementwise.filter((f) => !isDeferred(f)).map((f) => blockKernel(f, ints.length + kernelElementwise.indexOf(f), givenTensorMax ?? 0));
  const fp16 = pass1.find((b) => b.params && b.format.element === 'fp16');
  const bf16 = pass1.find((b) => b.params && b.format.element === 'bf16');
  const fused16 = !histogrammed && fp16 && bf16 ? [fp16, bf16] as const : undefined;
  const intA = ints.findIndex((f) => f.element === 'int8');
  const groupsAt = ints.findIndex((f, i) => f.element === 'int4' && f.blockSize >= 32 && f.blockSize % 4 === 0 && ints[i + 1]?.element === 'int4' && ints[i + 1]!.blockSize === 2 * f.blockSize && ints[i + 2]?.element === 'int4' && ints[i + 2]!.blockSize === 4 * f.blockSize);
  const quad = intA >= 0 && groupsAt >= 0;
  const pairAt = ints.findIndex((f) => f.element === 'int4' && f.blockSize >= 32);
  const pair = !quad && intA >= 0 && pairAt >= 0;
  const blockPass = ints.length > 0 || others.length > 0 || !histogrammed;
  return {
    dtype, histogrammed, formats, evaluatedAs, lossless, elementwise, ints, kernelElementwise, others, nf4Slot,
    slots: ints.length + kernelElementwise.length + 2 * nf4Slot.size,
    needsTensorMax, othersDeferred: needsTensorMax && hasNvfp4,
    pass1, pass1Unfused: fused16 ? pass1.filter((b) => !fused16.includes(b)) : pass1, deferred: kernelElementwise.filter(isDeferred), fused16,
    pairA: pair ? intA : -1, pairB: pair ? pairAt : -1, quadA: quad ? intA : -1, quadB: quad ? groupsAt : -1,
    // The pair on FP16/BF16 codes in float32 (errorKernels.ts F16_PAIR_TOLERANCE), counting them in the same loop.
    codesPair: histogrammed && !transposed && pair && ints.length === 2 && ints[pairAt]!.blockSize <= F16_PAIR_TOLERANCE.maxGroup && pass1.length === 0 && others.length === 0,
    blockPass, countInBlocks: histogrammed && !transposed && blockPass && !hasNvfp4,
  };
}

// A plan made without a given tensor max depends only on the ids, the dtype and the mode, and a batch's tasks share
// their ids' array (see evaluatedByList): their plans are made once per batch, dtype and mode, not once per task.
const plansByList = new WeakMap<readonly string[], { readonly dtype: string; readonly mode: KernelPlanMode; readonly plan: KernelPlan }[]>();

/** {@link kernelPlan}, the same plan again for the same `requested` array, dtype and mode when no tensor max is given. */
function sharedKernelPlan(requested: readonly string[], dtype: string, mode: KernelPlanMode): KernelPlan {
  if (mode.givenTensorMax !== undefined) return kernelPlan(requested, dtype, mode);
  let made = plansByList.get(requested);
  if (!made) plansByList.set(requested, (made = []));
  for (const m of made) {
    if (m.dtype === dtype && m.mode.histogrammed === mode.histogrammed && m.mode.histogramOnly === mode.histogramOnly && m.mode.transposed === mode.transposed) return m.plan;
  }
  const plan = kernelPlan(requested, dtype, mode);
  made.push({ dtype, mode, plan });
  return plan;
}

/** The block kernel of an element-wise format in `slot` with the tensor max `tensorMax`. */
function blockKernel(format: NumberFormat, slot: number, tensorMax: number): BlockKernel {
  if (format.element === 'int8') return { format, slot, int8TensorMax: tensorMax };
  const params = elementwiseKernelParams(format, tensorMax);
  return params && params !== 'lossless' ? { format, slot, params } : { format, slot };
}

/** The plan's pass-2 kernels, their parameters from the chunk's max |x|. */
function deferredKernels(plan: KernelPlan, chunkAbsMax: number): BlockKernel[] {
  return plan.deferred.map((f) => blockKernel(f, plan.ints.length + plan.kernelElementwise.indexOf(f), chunkAbsMax));
}

/** Runs element-wise kernels on the loaded block of `m` values. */
function runKernels(ws: ErrorWorkspace, kernels: readonly BlockKernel[], m: number): void {
  for (const b of kernels) {
    if (b.params && (b.format.element === 'fp16' || b.format.element === 'bf16')) ws.roundError16(m, b.format.element, b.slot);
    else if (b.params) ws.elementError(m, b.params, b.slot);
    else if (b.int8TensorMax !== undefined) ws.intError(m, m, m, 127, -127, false, AMAX_CONSTANT, b.int8TensorMax, 0, b.slot);
  }
}

/** Makes chunk values [s, s + m) the kernels' block (`pass2`: the second time). */
type BlockLoader = (s: number, m: number, pass2: boolean) => void;

/**
 * Pass 1 of a plan over a chunk's `n` values in row blocks of `blockElements`: statistics (values not histogrammed),
 * the element-wise kernels that need no chunk max, the integer kernels (per row: `rowMode`), then `others` (the
 * caller's formats outside the kernels). codesPair plans take their codes from `codes` (their offset in the staging
 * area) instead of `load`.
 */
function blockPass1(ws: ErrorWorkspace, plan: KernelPlan, n: number, blockElements: number, rowLength: number, rowMode: number, load: BlockLoader, codes?: (s: number, m: number) => number, others?: (m: number) => void): void {
  const { ints, fused16, pairA, pairB, quadA, quadB } = plan;
  for (let s = 0; s < n; s += blockElements) {
    const m = Math.min(blockElements, n - s);
    const firstRow = Math.floor(s / rowLength);
    if (plan.codesPair) {
      ws.intErrorPairStaged(plan.dtype as 'float16' | 'bfloat16', codes!(s, m), m, rowLength, ints[pairB]!.blockSize, 127, -127, rowMode, firstRow, 7, -8, pairA, pairB, plan.countInBlocks);
      continue;
    }
    load(s, m, false);
    if (fused16) ws.statsRound16(m, fused16[0].slot, fused16[1].slot);
    else if (!plan.histogrammed) ws.stats(m);
    runKernels(ws, plan.pass1Unfused, m);
    if (pairA >= 0) ws.intErrorPair(m, rowLength, ints[pairB]!.blockSize, 127, -127, rowMode, firstRow, 7, -8, pairA, pairB);
    if (quadA >= 0) ws.intErrorGroups(m, rowLength, ints[quadB]!.blockSize, 127, -127, rowMode, firstRow, 7, -8, quadA, quadB);
    for (let slot = 0; slot < ints.length; slot++) {
      if (slot === pairA || slot === pairB || slot === quadA || (quadB >= 0 && slot >= quadB && slot <= quadB + 2)) continue;
      const f = ints[slot]!;
      if (f.element === 'int8') ws.intError(m, rowLength, rowLength, 127, -127, false, rowMode, 0, firstRow, slot);
      else ws.intError(m, rowLength, f.blockSize, 7, -8, true, AMAX_COMPUTED, 0, firstRow, slot);
    }
    others?.(m);
  }
}

/** The shape a block of `m` values of rows of `rowLength` has for the formats outside the integer and element-wise kernels. */
function otherBlockShape(m: number, rowLength: number): number[] {
  return [Math.max(1, Math.round(m / rowLength)), Math.min(m, rowLength)];
}

/** A plan's NF4 kernels on the loaded block of `m` values of shape `shape` ({@link otherBlockShape}): add(fakeQuantize(…)) without a copy. */
function runNf4Kernels(ws: ErrorWorkspace, plan: KernelPlan, m: number, shape: readonly number[]): void {
  if (plan.nf4Slot.size === 0) return;
  const rowLength = rowLayout(shape, m).rowLength;
  for (const [f, slot] of plan.nf4Slot) ws.nf4Error(m, rowLength, f.blockSize, slot);
}

/** Pass 2 over the chunk's blocks: the kernels that needed the chunk's max |x| (from {@link deferredKernels}), then `others`. */
function blockPass2(ws: ErrorWorkspace, kernels: readonly BlockKernel[], n: number, blockElements: number, load: BlockLoader, others?: (m: number) => void): void {
  for (let s = 0; s < n; s += blockElements) {
    const m = Math.min(blockElements, n - s);
    load(s, m, true);
    runKernels(ws, kernels, m);
    others?.(m);
  }
}

/**
 * After the passes: the workspace slot holding format `f`'s error sums; -1 when its error is 0 (lossless in the dtype,
 * or a kernel with nothing to compute: FP8 of an all-zero chunk); undefined when no kernel evaluates it.
 */
function resultSlot(plan: KernelPlan, pass2: readonly BlockKernel[], f: NumberFormat): number | undefined {
  if (plan.lossless.includes(f.id)) return -1;
  const i = plan.ints.indexOf(f);
  if (i >= 0) return i;
  const b = plan.pass1.find((x) => x.format === f) ?? pass2.find((x) => x.format === f);
  return b ? (b.params || b.int8TensorMax !== undefined ? b.slot : -1) : undefined;
}

/** The chunk analysis's row blocks: whole rows of about {@link CHUNK_BLOCK_ELEMENTS} values. */
function chunkBlockElements(n: number, rowLength: number): number {
  return Math.min(n, Math.max(1, Math.floor(CHUNK_BLOCK_ELEMENTS / Math.max(1, rowLength))) * rowLength) || 1;
}

/**
 * Decodes a chunk and accumulates statistics and per-format errors. Pure and synchronous; the Node runner
 * calls it in worker threads (or inline for small models). With `read` (a worker reading `task.file` itself)
 * the bytes come from `read` instead of `task.bytes`. Results equal the element-by-element
 * {@link quantizationError} on the decoded chunk up to float64 summation order (errorKernels.ts explains the
 * kernels). Throws RangeError for undecodable data.
 */
export function analyzeSensitivityChunk(chunk: SensitivityChunkTask, read?: ChunkByteReader): SensitivityChunkResult {
  return analyzeChunk(chunk, read, chunk.formats);
}

/** {@link analyzeSensitivityChunk} over the format ids `requested` instead of the task's own. */
function analyzeChunk(chunk: SensitivityChunkTask, read: ChunkByteReader | undefined, requested: readonly string[]): SensitivityChunkResult {
  let task = chunk;
  const n = task.elementCount;
  const transposed = task.transpose && task.shape.length === 2;
  // 16-bit floats stay as codes: a histogram gives statistics and element-wise errors (errorKernels.ts). A worker
  // that reads its own file streams them in staging-sized reads (no chunk-sized buffer, data hot in cache);
  // everything else is read whole first.
  const sixteen = task.encoding === 'raw' && !task.quant && (task.dtype === 'float16' || task.dtype === 'bfloat16') && LITTLE_ENDIAN;
  // Scanning 65 536 codes costs ~0.7 ms per chunk: small chunks are cheaper element by element (decoded in blocks).
  const histogrammed = sixteen && (n >= HISTOGRAM_MIN_ELEMENTS || task.histogramOnly === true);
  const histogramOnly = task.histogramOnly === true && histogrammed;
  const g = task.globals;
  const plan = sharedKernelPlan(requested, task.dtype, { histogrammed, histogramOnly, transposed, givenTensorMax: g?.tensorAbsMax });
  const { formats, evaluatedAs, lossless, elementwise, ints, kernelElementwise, others, nf4Slot } = plan;
  const streaming = read !== undefined && histogrammed && !transposed && !formats.some((f) => f.id === 'nvfp4');
  // Raw little-endian float32 (not transposed, no quantization parameters) goes into the kernels' memory as is:
  // a worker reading its own file reads it there directly in cache-sized pieces (no chunk-sized buffer; a second
  // pass reads them again, which costs less than keeping the chunk: ~0.2 ns/value from the page cache against
  // ~1 ns/value to write the chunk to memory and read it back), unless a format needs the values as a whole.
  const direct32 = task.dtype === 'float32' && task.encoding === 'raw' && !task.quant && !transposed && LITTLE_ENDIAN;
  const streaming32 = read !== undefined && direct32 && elementwise.every((f) => kernelElementwise.includes(f));
  if (read && !streaming && !streaming32) {
    const bytes = new Uint8Array(task.file?.byteLength ?? task.bytes.length);
    read(bytes, 0);
    task = { ...task, bytes };
  }
  const codes = sixteen && !streaming ? codeView(task.bytes, n) : undefined;
  let values: Float32Array | undefined;
  const decodeValues = (): Float32Array => {
    // Aligned little-endian float32 is used in place (the kernels copy blocks into their own memory).
    const inPlace = task.dtype === 'float32' && task.encoding === 'raw' && LITTLE_ENDIAN && task.bytes.byteOffset % 4 === 0 && task.bytes.length >= n * 4;
    let v = inPlace ? new Float32Array(task.bytes.buffer, task.bytes.byteOffset, n) : decodeElements(task.dtype, task.bytes, n, task.encoding);
    if (task.quant) {
      const q = task.quant;
      const sliced = q.axis === 0 && q.scales.length > 1 ? { ...q, scales: q.scales.slice(task.rowOffset, task.rowOffset + (task.shape[0] ?? 1)), zeroPoints: q.zeroPoints.length > 1 ? q.zeroPoints.slice(task.rowOffset, task.rowOffset + (task.shape[0] ?? 1)) : q.zeroPoints, scaleCount: task.shape[0] ?? 1 } : q;
      v = applyQuantParams(v, { shape: task.shape, quant: sliced }) ?? v;
    }
    return v;
  };
  if ((!sixteen || transposed) && !streaming32) values = decodeValues();
  let columnAbsMax: Float32Array | undefined;
  let shape = task.shape;
  if (transposed && values) {
    const [rows, cols] = [shape[0]!, shape[1]!];
    if (task.wantColumnAbsMax) {
      columnAbsMax = new Float32Array(cols);
      for (let r = 0; r < rows; r++) {
        const base = r * cols;
        for (let c = 0; c < cols; c++) {
          const a = Math.abs(values[base + c]!);
          if (a > columnAbsMax[c]!) columnAbsMax[c] = a;
        }
      }
    }
    if (formats.length) {
      values = transpose2d(values, rows, cols);
      shape = [cols, rows];
    }
  }
  const globalOptions: FakeQuantizeOptions | undefined = g ? { tensorAbsMax: g.tensorAbsMax, tensorAbsMean: g.tensorAbsMean, ...(g.channelAbsMax ? { channelAbsMax: g.channelAbsMax } : {}) } : undefined;
  const ws = errorWorkspace();
  const { rowLength } = rowLayout(shape, n);
  const blockElements = chunkBlockElements(n, rowLength);
  const stageElements = streaming ? Math.max(1, Math.floor(STREAM_READ_ELEMENTS / blockElements)) * blockElements
    : streaming32 ? Math.max(1, Math.floor(STREAM_READ_ELEMENTS / 2 / blockElements)) * blockElements : blockElements;
  ws.reset(blockElements, plan.slots, g?.channelAbsMax?.length ?? 0, streaming ? stageElements : blockElements);
  if (g?.channelAbsMax) ws.setRowAmax(g.channelAbsMax);
  if (streaming32 && !ws.reserveValues(stageElements)) throw new RangeError(`cannot reserve ${stageElements} float32 values`);

  // Statistics and whole-tensor facts: 16-bit codes from the histogram (counted up front unless the block pass
  // counts it); float32 values in the block pass.
  let stats: WeightStatsPartial | undefined;
  let facts: { absMax: number; absMean: number } | undefined;
  // The two halves of the code histogram added once, after the last count (statistics, element-wise errors and a
  // histogramOnly result share it: one 256 KiB array per task).
  let histCache: Uint32Array | undefined;
  const histogram = (): Uint32Array => (histCache ??= ws.histogram());
  const histStats = (): void => {
    const h = workspaceHistogramStats(ws, task.dtype as 'float16' | 'bfloat16');
    facts = { absMax: h.absMax, absMean: h.absMean };
    stats = { count: h.count, maxAbs: h.maxAbs, s1: h.s1, s2: h.s2, s3: h.s3, s4: h.s4, sAbs: h.sAbs, beyondFp16: h.beyondFp16, zeros: h.zeros, nonFinite: h.nonFinite };
  };
  if (histogrammed && !plan.countInBlocks) {
    if (codes) ws.count(codes, 0, n);
    else {
      for (let s = 0; s < n; s += stageElements) {
        const m = Math.min(stageElements, n - s);
        ws.stage(read!, 2 * s, m);
        ws.countStaged(0, m);
      }
    }
    histStats();
  }
  // NVFP4's tensor scale is the only whole-tensor fact the block formats use.
  let blockOptions: FakeQuantizeOptions = globalOptions ?? (facts ? { tensorAbsMax: facts.absMax } : {});

  const source = values ? 'float32' : (task.dtype as 'float16' | 'bfloat16');
  const data = values ?? codes ?? new Uint16Array(0);
  const loadBlock: BlockLoader = (s, m, pass2) => {
    if (streaming32) {
      const k = s % stageElements;
      if (k === 0) ws.readValues(read!, 4 * s, 0, Math.min(stageElements, n - s));
      ws.selectValues(k, m);
    } else if (streaming) {
      const k = s % stageElements;
      if (k === 0) ws.stage(read!, 2 * s, Math.min(stageElements, n - s));
      ws.loadStaged(task.dtype as 'float16' | 'bfloat16', k, m, plan.countInBlocks);
    } else ws.load(source, data, s, m, plan.countInBlocks && !pass2);
  };
  /** Puts codes [s, s + m) where the pair on codes reads them; returns their offset there. */
  const stageCodes = (s: number, m: number): number => {
    if (!streaming) {
      ws.putCodes(data as Uint16Array, s, m);
      return 0;
    }
    const k = s % stageElements;
    if (k === 0) ws.stage(read!, 2 * s, Math.min(stageElements, n - s));
    return k;
  };
  const otherAcc = others.map(() => new ErrorAccumulator());
  const runOthers = (m: number): void => {
    const shape = otherBlockShape(m, rowLength);
    const block = others.length > nf4Slot.size ? ws.block(m) : undefined;
    runNf4Kernels(ws, plan, m, shape);
    others.forEach((f, k) => {
      if (!nf4Slot.has(f)) otherAcc[k]!.add(block!, fakeQuantize(block!, shape, f, blockOptions));
    });
  };

  // Pass 1: statistics (float32), integer kernels, the element-wise kernels and the remaining formats that need no
  // chunk max, on cache-sized row blocks.
  if (plan.blockPass) {
    blockPass1(ws, plan, n, blockElements, rowLength, g?.channelAbsMax ? AMAX_PER_ROW : AMAX_COMPUTED, loadBlock, stageCodes, others.length && !plan.othersDeferred ? runOthers : undefined);
    if (plan.countInBlocks) histStats();
  }
  if (histogrammed && !stats) histStats();
  let valuesAbsMax: number | undefined;
  if (!histogrammed) {
    const r = ws.statsResult();
    stats = { count: r.count, maxAbs: r.maxAbs, s1: r.s1, s2: r.s2, s3: r.s3, s4: r.s4, sAbs: r.sAbs, beyondFp16: r.beyondFp16, zeros: r.zeros, nonFinite: r.nonFinite };
    if (plan.needsTensorMax) valuesAbsMax = r.absMax;
  }
  // Pass 2: the formats that needed the chunk's max |x|.
  const pass2 = deferredKernels(plan, valuesAbsMax ?? 0);
  if (valuesAbsMax !== undefined) blockOptions = { tensorAbsMax: valuesAbsMax };
  if (pass2.length || (others.length && plan.othersDeferred)) blockPass2(ws, pass2, n, blockElements, loadBlock, others.length && plan.othersDeferred ? runOthers : undefined);
  const st = stats!;
  // Element-wise formats: whole-chunk facts exactly as fakeQuantize derives them (quantizationError computes its own).
  const elementOptions: FakeQuantizeOptions = globalOptions ?? (facts ? { tensorAbsMax: facts.absMax, tensorAbsMean: facts.absMean } : valuesAbsMax !== undefined ? { tensorAbsMax: valuesAbsMax } : {});

  const errors: Record<string, ErrorPartial> = {};
  const fromSlot = (slot: number): ErrorPartial => {
    if (slot < 0) return { signal: st.s2, noise: 0, maxAbsError: 0, overflow: 0, count: st.count };
    const [noise, maxAbsError, overflow] = ws.slot(slot);
    return { signal: st.s2, noise, maxAbsError, overflow, count: st.count };
  };
  for (const f of formats) if (lossless.includes(f.id)) errors[f.id] = fromSlot(-1);
  for (const f of elementwise) {
    const slot = histogrammed ? undefined : resultSlot(plan, pass2, f);
    errors[f.id] = histogrammed
      ? workspaceHistogramErrors(ws, task.dtype as 'float16' | 'bfloat16', f, elementOptions.tensorAbsMax ?? 0, elementOptions.tensorAbsMean ?? 0)
      : slot !== undefined ? fromSlot(slot)
      : quantizationError((values ??= decodeElements(task.dtype, task.bytes, n, task.encoding)), shape, f, elementOptions);
  }
  ints.forEach((f, slot) => (errors[f.id] = fromSlot(slot)));
  others.forEach((f, k) => {
    const slot = nf4Slot.get(f);
    errors[f.id] = slot !== undefined ? ws.partial(slot) : otherAcc[k]!.partial();
  });
  // Callers index errors by the ids they asked for (aliases included).
  const byRequest: Record<string, ErrorPartial> = {};
  for (const id of requested) {
    const f = getNumberFormat(id);
    const e = f ? errors[evaluatedAs.get(f.id)!.id] : undefined;
    if (e) byRequest[id] = e;
  }
  return { id: task.id, stats: st, errors: byRequest, ...(columnAbsMax ? { columnAbsMax } : {}), ...(histogramOnly ? { histogram: histogram() } : {}) };
}

/** Statistics fields per task in {@link SensitivityBatchResults.sums}, in `WeightStatsPartial` order. */
export const BATCH_STATS_FIELDS = 10;
/** Error sums per task and format in {@link SensitivityBatchResults.sums}: signal, noise, maxAbsError, overflow, count. */
export const BATCH_ERROR_FIELDS = 5;

/** Writes a task's statistics into a batch's `sums` at `at`, in {@link BATCH_STATS_FIELDS} order. */
function putBatchStats(sums: Float64Array, at: number, st: WeightStatsPartial): void {
  sums[at] = st.count;
  sums[at + 1] = st.maxAbs;
  sums[at + 2] = st.s1;
  sums[at + 3] = st.s2;
  sums[at + 4] = st.s3;
  sums[at + 5] = st.s4;
  sums[at + 6] = st.sAbs;
  sums[at + 7] = st.beyondFp16;
  sums[at + 8] = st.zeros;
  sums[at + 9] = st.nonFinite;
}

/**
 * The results of a batch of tasks, columnar: per task {@link BATCH_STATS_FIELDS} statistics, then
 * {@link BATCH_ERROR_FIELDS} sums per format of `formats`; `has[task × formats + f]` is 1 when the task returned that
 * format's sums; `errors` says why a task failed (null when it did not; the other tasks are unaffected).
 */
export interface SensitivityBatchResults {
  readonly formats: readonly string[];
  readonly sums: Float64Array;
  readonly has: Uint8Array;
  readonly errors: readonly (string | null)[];
}

/** The ggml block size of a format whose simulation is dequantize(quantize) block by block (0 for any other format). */
function independentGgmlBlock(f: NumberFormat): number {
  if (f.element !== 'ggml') return 0;
  const info = dtypeInfo(f.ggmlType ?? f.id);
  return info && info.kind === 'quantized' && isGgmlWritable(info.id) ? info.blockSize : 0;
}

/**
 * Adds the noise of elements [start, end) to `acc` ([noise, maxAbsError, overflow]) as {@link ErrorAccumulator.add}
 * adds it: the block's sum in its own order, then added to the total (NaN inputs skipped, overflow counted).
 */
function addNoise(original: Float32Array, quantized: Float32Array, start: number, end: number, acc: Float64Array): void {
  // Fast path (about 5× faster than the loop with its skips): finite x and x − q make the skips no-ops and the sums
  // the same, in the same order; any NaN or infinity leaves `noise` non-finite, and the exact loop runs instead.
  let sum = 0, max = acc[1]!;
  for (let i = start; i < end; i++) {
    const d = original[i]! - quantized[i]!;
    sum += d * d;
    const a = Math.abs(d);
    if (a > max) max = a;
  }
  if (sum - sum === 0) {
    acc[0] = acc[0]! + sum;
    acc[1] = max;
    return;
  }
  addNoiseExact(original, quantized, start, end, acc);
}

/** {@link addNoise} element by element: NaN inputs skipped, a non-finite error counted as overflow (and taken as x). */
function addNoiseExact(original: Float32Array, quantized: Float32Array, start: number, end: number, acc: Float64Array): void {
  let noise = 0, maxErr = acc[1]!, overflow = 0;
  for (let i = start; i < end; i++) {
    const x = original[i]!;
    if (x - x !== 0) continue;
    let d = x - quantized[i]!;
    if (d - d !== 0) {
      overflow++;
      d = x;
    }
    noise += d * d;
    const a = d < 0 ? -d : d;
    if (a > maxErr) maxErr = a;
  }
  acc[0] = acc[0]! + noise;
  acc[1] = maxErr;
  acc[2] = acc[2]! + overflow;
}

/** A {@link KernelPlan} for a batch's joined tasks, and per column of the batch's formats the format it evaluates there. */
interface BatchKernelPlan {
  readonly plan: KernelPlan;
  readonly columns: readonly (NumberFormat | undefined)[];
}

/**
 * The {@link KernelPlan} of a batch's joined tasks of one dtype (raw FP16/BF16/FP32, whole, not transposed, below the
 * histogram size, no whole-tensor facts given) for `rest`, the ids left to the chunk analysis, and per column of the
 * batch's formats the format evaluated for it (undefined: none, or quantized over the batch); undefined when a format
 * of `rest` runs outside the block kernels and NF4's (NVFP4, ternary, …: those tasks go through {@link analyzeChunk}).
 */
function batchKernelPlan(dtype: string, rest: readonly string[], formats: readonly string[], batchedColumn: readonly (NumberFormat | undefined)[]): BatchKernelPlan | undefined {
  const plan = kernelPlan(rest, dtype, { histogrammed: false, histogramOnly: false, transposed: false, givenTensorMax: undefined });
  if (plan.others.length !== plan.nf4Slot.size || plan.kernelElementwise.length !== plan.elementwise.length) return undefined;
  const columns = formats.map((id, c) => {
    const f = batchedColumn[c] ? undefined : getNumberFormat(id);
    return f ? plan.evaluatedAs.get(f.id) : undefined;
  });
  return { plan, columns };
}

/**
 * The statistics and errors of one joined task under its batch's plan ({@link batchKernelPlan}) into `sums` at `at`:
 * the chunk analysis's block passes on the same blocks (so the same sums) without its per-task set-up and records.
 */
function kernelPlanTask(t: SensitivityChunkTask, rowLength: number, batchPlan: BatchKernelPlan, sums: Float64Array, has: Uint8Array, at: number, hasAt: number): void {
  const n = t.elementCount;
  const source = t.dtype as 'float32' | 'float16' | 'bfloat16';
  const data: Uint16Array | Float32Array = source !== 'float32' ? codeView(t.bytes, n)
    : t.bytes.byteOffset % 4 === 0 ? new Float32Array(t.bytes.buffer, t.bytes.byteOffset, n) : decodeElements('float32', t.bytes, n, 'raw');
  const { plan, columns } = batchPlan;
  const ws = errorWorkspace();
  const blockElements = chunkBlockElements(n, rowLength);
  ws.reset(blockElements, plan.slots, 0, blockElements);
  const load: BlockLoader = (s, m) => ws.load(source, data, s, m, false);
  blockPass1(ws, plan, n, blockElements, rowLength, AMAX_COMPUTED, load, undefined, plan.nf4Slot.size ? (m) => runNf4Kernels(ws, plan, m, otherBlockShape(m, rowLength)) : undefined);
  const st = ws.statsResult();
  const pass2 = deferredKernels(plan, st.absMax);
  if (pass2.length) blockPass2(ws, pass2, n, blockElements, load);
  putBatchStats(sums, at, st);
  for (let c = 0; c < columns.length; c++) {
    const f = columns[c];
    if (!f) continue;
    has[hasAt + c] = 1;
    const e = at + BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * c;
    const nf4 = plan.nf4Slot.get(f);
    if (nf4 !== undefined) {
      // The NF4 kernel sums its own signal and count, as the chunk analysis reports them.
      const p = ws.partial(nf4);
      sums[e] = p.signal;
      sums[e + 1] = p.noise;
      sums[e + 2] = p.maxAbsError;
      sums[e + 3] = p.overflow;
      sums[e + 4] = p.count;
      continue;
    }
    const slot = resultSlot(plan, pass2, f)!;
    sums[e] = st.s2;
    if (slot >= 0) {
      const [noise, maxAbsError, overflow] = ws.slot(slot);
      sums[e + 1] = noise;
      sums[e + 2] = maxAbsError;
      sums[e + 3] = overflow;
    }
    sums[e + 4] = st.count;
  }
}

/** Bytes per element of the dtypes a batch quantizes together. */
const BATCH_DTYPE_BYTES: ReadonlyMap<string, number> = new Map([['float16', 2], ['bfloat16', 2], ['float32', 4]]);

/**
 * {@link analyzeSensitivityChunk} of every task of a batch, into columnar results over `formats`. The same sums, bit
 * for bit, as one call per task (test/unit/sensitivityBatch.test.ts); faster for many small tensors: the ggml block
 * types (K-quants, Q8_0, …) quantize each block on its own, so the values of every task that asks for exactly
 * `formats` and whose rows are whole blocks (raw FP16/BF16/FP32, whole, not transposed, no quantization parameters)
 * are quantized in one call per format over their concatenation (the K-quant search takes 64 blocks a call instead of
 * one), and each task's error sums are taken over its own range, block by block as the chunk analysis adds them.
 * Their other formats, when each runs in a block kernel (the plan's FP16, BF16, FP8, INT8, INT4 and NF4), run with one
 * set-up per batch and dtype ({@link KernelPlan}); every other format, and every other task, goes through the chunk
 * analysis. A failing task gets an error; never throws.
 */
export function analyzeSensitivityBatch(tasks: readonly SensitivityChunkTask[], formats: readonly string[]): SensitivityBatchResults {
  const nf = formats.length;
  const stride = BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * nf;
  const sums = new Float64Array(tasks.length * stride);
  const has = new Uint8Array(tasks.length * nf);
  const errors: (string | null)[] = new Array<string | null>(tasks.length).fill(null);
  // The formats quantized over the batch (per column of `formats`) and the ids left to the chunk analysis.
  const columnFormat: (NumberFormat | undefined)[] = [];
  const batched: NumberFormat[] = [];
  // Rows must be whole blocks of every batched format: a multiple of their block sizes' least common multiple.
  let blockLcm = 1;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const rest: string[] = [];
  for (const id of formats) {
    const f = getNumberFormat(id);
    const bs = f ? independentGgmlBlock(f) : 0;
    columnFormat.push(bs > 0 ? f : undefined);
    if (bs > 0) {
      if (!batched.includes(f!)) batched.push(f!);
      blockLcm = (blockLcm / gcd(blockLcm, bs)) * bs;
    } else rest.push(id);
  }
  // Per dtype of the joined tasks: the remaining formats' kernel plan (undefined: the chunk analysis).
  const kernelPlans = new Map<string, BatchKernelPlan | undefined>();
  const sameFormats = (t: SensitivityChunkTask): boolean => t.formats === formats || (t.formats.length === nf && t.formats.every((id, i) => id === formats[i]));
  // Tasks whose batched formats are quantized together: index, first value in `values`, elements, row length.
  const joined: number[] = [];
  let total = 0;
  const rowLengths: number[] = [];
  const starts: number[] = [];
  tasks.forEach((t, k) => {
    const n = t.elementCount;
    const width = BATCH_DTYPE_BYTES.get(t.dtype);
    const rowLength = rowLayout(t.shape, n).rowLength;
    const join = batched.length > 0 && width !== undefined && LITTLE_ENDIAN && sameFormats(t) && t.encoding === 'raw' && !t.quant && !t.globals && !t.file && t.histogramOnly !== true &&
      !(t.transpose && t.shape.length === 2) && n > 0 && n < HISTOGRAM_MIN_ELEMENTS && t.bytes.length >= n * width && rowLength % blockLcm === 0;
    let r: SensitivityChunkResult;
    try {
      let plan: BatchKernelPlan | undefined;
      if (join) {
        if (!kernelPlans.has(t.dtype)) kernelPlans.set(t.dtype, batchKernelPlan(t.dtype, rest, formats, columnFormat));
        plan = kernelPlans.get(t.dtype);
      }
      if (plan) {
        kernelPlanTask(t, rowLength, plan, sums, has, k * stride, k * nf);
        joined.push(k);
        starts.push(total);
        rowLengths.push(rowLength);
        total += n;
        return;
      }
      r = analyzeChunk(t, undefined, join ? rest : t.formats);
    } catch (e) {
      errors[k] = e instanceof Error ? e.message : String(e);
      return;
    }
    const b = k * stride;
    const st = r.stats;
    putBatchStats(sums, b, st);
    for (let f = 0; f < nf; f++) {
      const e = r.errors[formats[f]!];
      if (!e || (join && columnFormat[f])) continue;
      has[k * nf + f] = 1;
      const at = b + BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * f;
      sums[at] = e.signal;
      sums[at + 1] = e.noise;
      sums[at + 2] = e.maxAbsError;
      sums[at + 3] = e.overflow;
      sums[at + 4] = e.count;
    }
    if (join) {
      joined.push(k);
      starts.push(total);
      rowLengths.push(rowLength);
      total += n;
    }
  });
  if (!joined.length) return { formats, sums, has, errors };
  const values = new Float32Array(total);
  joined.forEach((k, j) => {
    const t = tasks[k]!;
    decodeFloatsInto(t.dtype as 'float32' | 'float16' | 'bfloat16', t.bytes, t.elementCount, values, starts[j]!);
  });
  // Σx² and the count are the same for every format: added once per task, block by block (as each format's
  // ErrorAccumulator would: per-block sums added to the total), then each format's noise, max error and overflow.
  const signals = new Float64Array(joined.length);
  const counts = new Float64Array(joined.length);
  const blockSizes = joined.map((k, j) => {
    const n = tasks[k]!.elementCount;
    const rowLength = rowLengths[j]!;
    // The chunk analysis's row blocks (each added on its own: the same float64 additions in the same order).
    const blockElements = chunkBlockElements(n, rowLength);
    let signal = 0, count = 0;
    for (let s = 0; s < n; s += blockElements) {
      let bs = 0, bc = 0;
      for (let i = starts[j]! + s, e = starts[j]! + Math.min(n, s + blockElements); i < e; i++) {
        const x = values[i]!;
        if (x - x !== 0) continue;
        bc++;
        bs += x * x;
      }
      signal += bs;
      count += bc;
    }
    signals[j] = signal;
    counts[j] = count;
    return blockElements;
  });
  const noise = new Float64Array(3);
  // The formats' simulated values, one buffer for all: simulateGgml writes every value, as fakeQuantize would call it.
  let simulated: Float32Array | undefined;
  for (const f of batched) {
    // One row of whole blocks: each block quantizes as it would in its own tensor.
    simulated ??= new Float32Array(total);
    const q = simulateGgml(f.ggmlType ?? f.id, values, simulated) ? simulated : fakeQuantize(values, [1, total], f);
    joined.forEach((k, j) => {
      const n = tasks[k]!.elementCount;
      const start = starts[j]!;
      const blockElements = blockSizes[j]!;
      noise[0] = noise[1] = noise[2] = 0;
      for (let s = 0; s < n; s += blockElements) addNoise(values, q, start + s, start + Math.min(n, s + blockElements), noise);
      for (let c = 0; c < nf; c++) {
        if (columnFormat[c] !== f) continue;
        has[k * nf + c] = 1;
        const at = k * stride + BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * c;
        sums[at] = signals[j]!;
        sums[at + 1] = noise[0]!;
        sums[at + 2] = noise[1]!;
        sums[at + 3] = noise[2]!;
        sums[at + 4] = counts[j]!;
      }
    });
  }
  return { formats, sums, has, errors };
}

/**
 * What a format's quantization error depends on: formats with equal keys round every value the same way (they differ
 * only in how a runtime computes with them), so a chunk evaluates one of them. Formats special-cased by id (NVFP4,
 * ggml types) are their own key.
 */
export function errorKey(f: NumberFormat): string {
  if (f.element === 'ggml' || f.element === 'binary' || f.element === 'ternary' || f.id === 'nvfp4') return `id:${f.id}`;
  return `${f.element}|${f.scaling}|${f.blockSize}|${f.ggmlType ?? ''}`;
}

/**
 * True when a tensor's chunks can be analyzed in one pass with `histogramOnly` (no statistics pass first):
 * FP16/BF16 stored raw without quantization parameters, not transposed, and no format that needs a whole-tensor
 * fact inside its groups (NVFP4's tensor scale).
 */
export function canAnalyzeInOnePass(tensor: Pick<TensorInfo, 'dtype' | 'quant' | 'encoding'>, transpose: boolean, formats: readonly string[]): boolean {
  if (tensor.dtype !== 'float16' && tensor.dtype !== 'bfloat16') return false;
  if (tensor.encoding !== 'raw' || tensor.quant || transpose || !LITTLE_ENDIAN) return false;
  return formats.every((id) => getNumberFormat(id)?.id !== 'nvfp4');
}

/**
 * Errors of the element-wise formats among `formats` from the summed code histogram of a whole FP16/BF16 tensor
 * (the `histogramOnly` chunks' histograms added up); keys are the requested ids.
 */
export function histogramSensitivity(dtype: 'float16' | 'bfloat16', histogram: Uint32Array, formats: readonly string[]): Record<string, ErrorPartial> {
  const table = codeTable(dtype);
  const facts = histogramStats(histogram, table);
  const lossless = LOSSLESS_FORMATS[dtype] ?? [];
  const out: Record<string, ErrorPartial> = {};
  for (const id of formats) {
    const f = getNumberFormat(id);
    if (!f || lossless.includes(f.id) || !isElementwiseFormat(f)) continue;
    out[id] = histogramErrors(histogram, table, f, facts.absMax, facts.absMean);
  }
  return out;
}

/** Row blocks of about this many elements are decoded and evaluated at a time (fits in L2 with the histogram). */
export const CHUNK_BLOCK_ELEMENTS = 32 * 1024;
/** 16-bit chunks from this many elements on use the code histogram (below, the per-chunk scan costs more). */
export const HISTOGRAM_MIN_ELEMENTS = 256 * 1024;
/** A worker streaming its own file reads about this many 16-bit codes (512 KiB) per read call. */
export const STREAM_READ_ELEMENTS = 256 * 1024;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes as little-endian 16-bit codes (a view when aligned, else a copy). */
function codeView(bytes: Uint8Array, n: number): Uint16Array {
  if (bytes.length < n * 2) throw new RangeError(`cannot decode: ${n} 16-bit elements need ${n * 2} bytes, got ${bytes.length}`);
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  return new Uint16Array(bytes.slice(0, n * 2).buffer);
}

//#endregion

//#region measured comparison

/** How a model's output changed against the baseline. */
export interface OutputComparison {
  /** 10·log10(Σ base² / Σ (base − test)²), capped to ±SQNR_CAP_DB; non-finite test values give −SQNR_CAP_DB. */
  readonly sqnrDb: number;
  readonly cosine: number;
  /** Mean KL(softmax(base) ‖ softmax(test)) over rows of the last axis (nats); undefined when the last axis is < 2. */
  readonly klDivergence: number | undefined;
  /** Share of rows whose argmax over the last axis is unchanged; undefined when the last axis is < 2. */
  readonly top1Agreement: number | undefined;
}

/** Compares several runs' outputs (same shapes) with their baselines. */
export function compareOutputs(base: readonly { readonly dims: readonly number[]; readonly data: Float32Array }[], test: readonly { readonly data: Float32Array }[]): OutputComparison {
  let sig = 0, noise = 0, dot = 0, nb = 0, nt = 0, bad = false;
  let klSum = 0, rows = 0, agree = 0;
  let lastDim = 0;
  for (let k = 0; k < base.length; k++) {
    const b = base[k]!.data, t = test[k]?.data;
    if (!t || t.length !== b.length) {
      bad = true;
      continue;
    }
    for (let i = 0; i < b.length; i++) {
      const x = b[i]!, y = t[i]!;
      if (y - y !== 0) {
        if (x - x === 0) bad = true;
        continue;
      }
      sig += x * x;
      noise += (x - y) ** 2;
      dot += x * y;
      nb += x * x;
      nt += y * y;
    }
    const dims = base[k]!.dims;
    const last = dims.length ? dims[dims.length - 1]! : 0;
    if (last >= 2 && b.length % last === 0) {
      lastDim = last;
      for (let r = 0; r < b.length; r += last) {
        let mb = -Infinity, mt = -Infinity, ib = 0, it = 0;
        for (let j = 0; j < last; j++) {
          if (b[r + j]! > mb) { mb = b[r + j]!; ib = j; }
          if (t[r + j]! > mt) { mt = t[r + j]!; it = j; }
        }
        rows++;
        if (ib === it && Number.isFinite(mt)) agree++;
        let zb = 0, zt = 0;
        for (let j = 0; j < last; j++) {
          zb += Math.exp(b[r + j]! - mb);
          zt += Math.exp(t[r + j]! - mt);
        }
        let kl = 0;
        for (let j = 0; j < last; j++) {
          const lp = b[r + j]! - mb - Math.log(zb);
          const lq = t[r + j]! - mt - Math.log(zt);
          kl += Math.exp(lp) * (lp - lq);
        }
        klSum += Number.isFinite(kl) ? Math.max(0, kl) : 1e3;
      }
    }
  }
  const sqnrDb = bad ? -SQNR_CAP_DB : sig > 0 ? relMseToDb(noise / sig) : noise > 0 ? -SQNR_CAP_DB : SQNR_CAP_DB;
  const cosine = bad ? 0 : nb > 0 && nt > 0 ? dot / Math.sqrt(nb * nt) : nb === nt ? 1 : 0;
  return {
    sqnrDb,
    cosine,
    klDivergence: lastDim >= 2 && rows ? klSum / rows : undefined,
    top1Agreement: lastDim >= 2 && rows ? (bad ? 0 : agree / rows) : undefined,
  };
}

/** Spearman rank correlation (average ranks for ties); undefined for fewer than 3 pairs or a constant side. */
export function spearman(a: readonly number[], b: readonly number[]): number | undefined {
  const n = Math.min(a.length, b.length);
  if (n < 3) return undefined;
  const rank = (v: readonly number[]): number[] => {
    const idx = v.slice(0, n).map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(n);
    for (let i = 0; i < n; ) {
      let j = i;
      while (j + 1 < n && idx[j + 1]![0] === idx[i]![0]) j++;
      for (let k = i; k <= j; k++) r[idx[k]![1]] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const ra = rank(a), rb = rank(b);
  const mean = (n + 1) / 2;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : undefined;
}

//#endregion
