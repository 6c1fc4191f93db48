/**
 * Memory and speed estimator: does this model, at these precisions, fit and run on a target?
 *
 * Figures (all bytes exact integers where the inputs are, all numbers finite):
 * - **weights**: as stored = the sum of stored tensor bytes (`Model.tensors`); with an assignment, a layer's
 *   main weight and its other matrix weights (rank ≥ 2, real-valued) take `formatByteLength(format, shape)`
 *   (block scales and per-tensor/per-channel scales included); biases, norms and unassigned tensors stay as
 *   stored. A tensor shared by several layers (tied embeddings) is counted once.
 * - **KV cache**: per layer, as model/attention.ts describes it (MHA/GQA/MQA: KV heads × (K + V head dim);
 *   MLA: kv_lora_rank + RoPE dim; sliding/chunked layers hold at most their window; recurrent layers hold a
 *   constant FP32 state instead) × tokens held × batch × bytes per element of the KV format, from
 *   `Model.hyperparameters` (GGUF metadata or config.json). Without those hyperparameters, an ONNX graph's
 *   past-key-value inputs are summed directly (batch and sequence dims bound). Block formats round up to whole
 *   blocks. The description's warnings (unknown architecture or layer kind) become estimate warnings.
 * - **activations**: graphs (ONNX/TFLite): peak live-tensor bytes of the main graph (see shapes.ts), with
 *   KV-cache inputs/outputs excluded (they are the KV cache). Tensor-only formats (safetensors, GGUF) with
 *   transformer hyperparameters: a prefill of the whole context in one pass with fused attention (no T×T
 *   score matrix): batch × context × (2 × embedding + 2 × FFN width) × activation bytes (the residual stream
 *   and its normalized copy, plus the FFN gate and up projections), plus last-token logits batch × vocab × 4 B.
 *   Activation bytes are 4 when most stored weight bytes are FP32, else 2.
 * - **overhead**: per target (`Target.overhead`, overridable): bytes + fraction × (weights + activations + KV).
 * - **fit**: total ≤ capacity. Devices needed = ceil(payload × (1 + fraction) ÷ (capacity − overhead bytes)):
 *   weights, activations and KV split evenly, the fixed overhead paid on every device. On SRAM-only machines
 *   (Groq, Cerebras) this is the chip count.
 * - **speed** (roofline at dense peak, an upper bound: real kernels reach roughly 30–80 % of it):
 *   decode step time = max(bytes read ÷ bandwidth, FLOPs ÷ rate) where bytes read = active weight bytes + the
 *   whole KV cache at the full context, FLOPs = Σ per-layer FLOPs at each layer's run-as rate + attention
 *   (4 × context × heads × head dim per block per token); decode tokens/s = batch ÷ step time. Prefill time =
 *   max(FLOPs for batch × context tokens (attention 2 × context² × heads × head dim per block) ÷ rates,
 *   weight bytes ÷ bandwidth); prefill tokens/s = batch × context ÷ time. Split across N devices, bandwidth and
 *   compute scale by N (ideal tensor parallelism; the interconnect is reported, not modeled). For models
 *   without a KV cache a "token" is one inference of one sample.
 * - **runtime** (src/core/runtime/): every estimate names the runtime whose memory it reports — `llama.cpp`
 *   (GGUF default: its model, KV, compute and output buffers, checked against llama.cpp in
 *   test/integration/llamaMemory.test.ts), `ort` (ONNX/TFLite default: the figures above, checked in
 *   test/integration/ortMemory.ts) or `vllm` (safetensors default: paged KV inside gpu-memory-utilization, from
 *   vLLM's documentation, not measured). With llama.cpp or vLLM the memory figures are the runtime's components
 *   (weights = its weight buffers, activations = compute + output buffers) plus the target's fixed overhead (none
 *   for llama.cpp on a CPU host); speeds still use the stored weight bytes.
 * - **MoE**: all experts are stored; active parameters/bytes/FLOPs per token scale routed experts by
 *   expertUsedCount ÷ expertCount (shared experts, dense layers and routers count whole).
 * - **Not per token** (model/parameters.ts): multi-token-prediction layers and vision/audio encoder towers are
 *   stored (weights) but excluded from active parameters, bytes read per decode step and per-token FLOPs; their
 *   parameter counts are reported on their own.
 */
import { ModelFormatError, type CancellationToken } from '../errors';
import type { ByteSource, SiblingResolver } from '../io/byteSource';
import { readVarint, varintInt64, VARINT_OK, type VarintParts } from '../io/varint';
import { dtypeInfo } from '../model/dtypes';
import { setOwn } from '../model/dict';
import { RECURRENT_STATE_BYTES, attentionDecodeFlops, attentionPrefillFlops, describeCache, kvCacheElements, type CacheDescription } from '../model/attention';
import { isRoutedExpert, parameterBreakdown, tensorParts } from '../model/parameters';
import type { Layer, Model, TensorInfo } from '../model/types';
import { layerWeights, tensorLocation, weightAt, weightCount } from '../model/tensorData';
import { tensorIndex } from '../model/tensorIndex';
import { formatByteLength, formatForStoredDType, getNumberFormat, KEEP_FORMAT, type ComputeType, type NumberFormat } from '../precision/numberFormats';
import type { Interconnect, Target } from './hardware/catalog';
import { EstimateError } from './hardware/errors';
import { computeRate, formatSupport } from './hardware/support';
import { formatBytes } from '../format/numbers';
import { bindDim, dimKind, inferGraphShapes, peakActivationBytes, type ShapeBindings } from './shapes';
import type { RuntimeMemory } from './runtime/types';
import { runtimeMemory, type RuntimeOptions } from './runtime/select';

//#region options and result
/** Default context when the model declares none, and the cap applied to a declared one (documented in README). */
export const DEFAULT_CONTEXT = 4096;
/** Largest accepted batch. Threat/typo guard: absurd values make every figure meaningless. */
export const MAX_BATCH = 1 << 20;
/** Largest accepted context length (2^27 ≈ 134M tokens, above any published model). */
export const MAX_CONTEXT = 1 << 27;

/** Options of {@link estimate}; the runtime options choose and configure the runtime memory model (runtime/select.ts). */
export interface EstimateOptions extends RuntimeOptions {
  /** Sequences processed together (default 1). */
  readonly batch?: number;
  /** Context length in tokens (default: the model's contextLength capped at 4096, else 4096). */
  readonly context?: number;
  /** Format id of the KV cache (default 'fp16'). */
  readonly kvFormat?: string;
  /** Layer name → format id ('keep' = as stored). Unlisted layers: `defaultFormat` when quantizable, else as stored. */
  readonly assignment?: Readonly<Record<string, string>>;
  /** Format for quantizable layers not in `assignment` (a plan's `defaultFormat`); undefined = as stored. */
  readonly defaultFormat?: string;
  /** Overrides of the target's runtime overhead. */
  readonly overhead?: { readonly bytes?: number; readonly fraction?: number };
  /** Small integer tensor values by name (from {@link readShapeConstants}) for Reshape/Slice shape inference. */
  readonly constants?: Readonly<Record<string, readonly number[]>>;
}

/** A layer whose compute format the target cannot run natively. */
export interface UnsupportedFormat {
  readonly layer: string;
  readonly format: string;
  /** The compute type it is converted to and runs at. */
  readonly runsAs: ComputeType;
}

/** One layer's share of the estimate. */
export interface LayerEstimate {
  readonly layer: string;
  /** Format id (as stored or assigned); a dtype id for non-real-valued tables (int64 shapes etc.). */
  readonly format: string;
  /** Weight bytes of the layer at that format. */
  readonly bytes: number;
  /** FLOPs for one token (one sample for non-transformer models), excluding attention scores. */
  readonly flopsPerToken: number;
  /** False when the target lacks the format's compute type (the layer is also in `unsupportedFormats`). */
  readonly native: boolean;
  readonly runsAs: ComputeType;
}

/** Result of {@link estimate}: plain JSON-safe data. */
export interface Estimate {
  readonly target: string;
  readonly targetName: string;
  readonly batch: number;
  readonly context: number;
  readonly kvFormat: string;
  readonly weightBytes: number;
  readonly activationBytes: number;
  /** KV cache bytes (K and V at the KV format, plus any constant recurrent state). */
  readonly kvCacheBytes: number;
  /** The runtime's compute buffer (llama.cpp: the reserved graph; ort/vllm: the activation peak). Part of `activationBytes`. */
  readonly computeBytes: number;
  /** The runtime's output buffer (llama.cpp logits); part of `activationBytes`. */
  readonly outputBytes: number;
  /** K + V bytes one token adds over all layers at the KV format (before windows cap them). */
  readonly kvBytesPerToken: number;
  /** Attention/cache kind summary (e.g. 'MLA full', '36× GQA chunked 8192, 12× GQA full'); null without a KV cache or for ONNX inputs. */
  readonly attention: string | null;
  /** Constant recurrent state bytes inside `kvCacheBytes` (FP32, all sequences). */
  readonly recurrentStateBytes: number;
  readonly overheadBytes: number;
  readonly totalBytes: number;
  readonly capacityBytes: number;
  readonly fits: boolean;
  readonly devicesNeeded: number;
  readonly interconnect: Interconnect | null;
  /** The runtime memory model behind the memory figures (llama.cpp buffers, ort session, vLLM budget). */
  readonly runtime: RuntimeMemory;
  readonly decodeTokensPerSecond: number;
  readonly prefillTokensPerSecond: number;
  /** What bounds decode: 'bandwidth' or 'compute'. */
  readonly decodeBound: 'bandwidth' | 'compute';
  readonly parameterCount: number;
  /** Text parameters one token runs through: routed experts scaled by used ÷ count; MTP layers and encoder towers excluded. */
  readonly activeParameterCount: number;
  /** Parameters of multi-token-prediction layers (stored, not active). */
  readonly mtpParameterCount: number;
  /** Parameters of vision / audio encoder towers and projectors (reported on their own line, not active per token). */
  readonly visionParameterCount: number;
  readonly audioParameterCount: number;
  /** Weight bytes read per decode step (active experts only). */
  readonly activeWeightBytes: number;
  readonly unsupportedFormats: readonly UnsupportedFormat[];
  readonly perLayer: readonly LayerEstimate[];
  readonly warnings: readonly string[];
  readonly assumptions: readonly string[];
  /**
   * A generative decoder (a KV cache was found): context, KV cache and tokens/s describe it. Otherwise the model
   * runs one inference per batch (CNN, detector, VAD, encoder): {@link inferenceSeconds} and samples per second
   * (`prefillTokensPerSecond`, where a "token" is one sample) describe it.
   */
  readonly generative: boolean;
  /** Roofline seconds for one inference of `batch` samples (non-generative) or one prefill of the context (generative). */
  readonly inferenceSeconds: number;
  /** Memory parts that could not be estimated (their bytes count as 0 in `totalBytes`), e.g. 'activations'. */
  readonly unknownParts: readonly string[];
  /** `totalBytes` is a lower bound: an unknown part, or activations with values of unknown shape left out. */
  readonly totalIsLowerBound: boolean;
  /** Compute types layers run as whose rate the target does not publish: the speeds leave that compute out (upper bounds). */
  readonly unpublishedRates: readonly ComputeType[];
}
//#endregion

const ENCODER_ARCHITECTURES = /^(bert|roberta|xlm-roberta|nomic-bert|jina-bert(-v2)?|t5encoder|clip|vit|deberta|distilbert|electra|albert|whisper-encoder)$/i;
const KV_VALUE_NAMES = /past|present|cache/i;
const INTEGER_OPS = /^QLinear|Integer$|^ConvInteger$|^DynamicQuantize/;

function fail(problem: string): never {
  throw new EstimateError('bad-option', problem.endsWith('.') ? problem : `${problem}.`);
}

function checkCount(name: string, v: number | undefined, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(`${name} must be a positive whole number, got '${String(v)}'`);
  if (v > max) fail(`${name} ${v} is larger than the limit of ${max}`);
  return v;
}

/** Bytes of `elements` values of `format` (whole blocks; scales per block included). */
function kvBytes(elements: number, format: NumberFormat): number {
  return Math.ceil(elements / format.blockSize) * format.bytesPerBlock;
}

interface KvPlan {
  /** K + V elements for batch × context. */
  readonly elements: number;
  /** Constant recurrent state elements for the batch (FP32). */
  readonly stateElements: number;
  /** K + V elements of one token over all layers (windowed layers included). */
  readonly elementsPerToken: number;
  readonly blocks: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Per-layer description when built from hyperparameters (undefined for ONNX past-key-value inputs). */
  readonly cache: CacheDescription | undefined;
  readonly source: string;
}

/** KV-cache element count (both K and V) for batch × context, or undefined for models without one. */
function kvPlan(model: Model, batch: number, context: number): KvPlan | undefined {
  const hp = model.hyperparameters;
  if (hp.architecture && ENCODER_ARCHITECTURES.test(hp.architecture)) return undefined;
  const cache = describeCache(hp);
  if (cache) {
    const kvHeads = hp.kvHeadCount ?? hp.headCount ?? 0;
    const headDim = hp.headDim ?? 0;
    return {
      elements: kvCacheElements(cache, context, batch),
      stateElements: cache.stateElements * batch,
      elementsPerToken: cache.elementsPerToken,
      blocks: cache.layers.length,
      heads: hp.headCount ?? 0,
      kvHeads,
      headDim,
      cache,
      source: `hyperparameters (${hp.source ?? model.format}): ${cache.layers.length} blocks, ${cache.summary} (${cache.source})`,
    };
  }
  // ONNX decoders exported with past-key-value inputs: sum those inputs' bound shapes (K and V, all blocks).
  const main = model.graphs[0];
  if (!main) return undefined;
  const past = main.inputs.filter((v) => KV_VALUE_NAMES.test(v.name) && v.shape && (v.shape.length === 4 || v.shape.length === 5));
  if (past.length === 0) return undefined;
  const bindings: ShapeBindings = { batch, context };
  let elements = 0;
  let headDimSeen = 0;
  let headsSeen = 0;
  for (const v of past) {
    const dims = v.shape!.map((d) => bindDim(d, bindings) ?? 1);
    elements += dims.reduce((p, q) => p * q, 1);
    headDimSeen = dims[dims.length - 1]!;
    headsSeen = dims[dims.length - 3]!;
  }
  return { elements, stateElements: 0, elementsPerToken: elements / (batch * context), blocks: past.length, heads: headsSeen, kvHeads: headsSeen, headDim: headDimSeen, cache: undefined, source: `ONNX past-key-value inputs (${past.length}: ${past.slice(0, 3).map((v) => v.name).join(', ')}${past.length > 3 ? ', …' : ''})` };
}

/** A token-id input of a decoder export: `input_ids`, `tokens`, `token_ids`. */
const TOKEN_INPUT_NAMES = /^(input_ids|tokens?|token_ids|input_tokens)$/i;
/** Inputs that mark a BERT-style encoder (token types, masked-LM) rather than a causal decoder. */
const ENCODER_INPUT_NAMES = /token_type_ids|segment_ids/i;

/**
 * A decoder-only ONNX export without past-key-value inputs (each new token reruns the whole sequence): the main
 * graph takes integer token ids of rank 2 (`input_ids`, `tokens`) and returns `logits` of rank 3 whose last
 * dimension is the vocabulary (the declared vocabulary size or the rows of an embedding table). A BERT-style
 * encoder (an encoder architecture, or `token_type_ids` among the inputs) is not one, even with a vocabulary head.
 */
export function isCachelessDecoder(model: Model): boolean {
  const main = model.graphs[0];
  if (!main) return false;
  const hp = model.hyperparameters;
  if (hp.architecture && ENCODER_ARCHITECTURES.test(hp.architecture)) return false;
  if (main.inputs.some((v) => ENCODER_INPUT_NAMES.test(v.name))) return false;
  const tokens = main.inputs.some((v) => TOKEN_INPUT_NAMES.test(v.name) && (v.dtype === 'int64' || v.dtype === 'int32') && v.shape?.length === 2);
  if (!tokens) return false;
  const vocabularies = new Set<number>();
  if (hp.vocabSize) vocabularies.add(hp.vocabSize);
  for (const l of model.layers) if (l.role === 'embedding' && l.shape.length === 2) for (const d of l.shape) vocabularies.add(d);
  return main.outputs.some((v) => /logits/i.test(v.name) && v.shape?.length === 3 && typeof v.shape[2] === 'number' && vocabularies.has(v.shape[2]));
}

/**
 * The main graph's symbolic input dimensions with what each is set to, in the model's own names:
 * `batch_size = 1 (batch)`, `seq_len = 4096 (sequence)`, `N = 1 (no batch or sequence meaning)`. Unnamed ones are
 * counted per input. Empty when every input dimension is fixed.
 */
export function symbolicInputDims(model: Model, bindings: ShapeBindings): { named: { name: string; value: number; kind: 'batch' | 'sequence' | 'other' }[]; unnamed: string[] } {
  const named = new Map<string, { name: string; value: number; kind: 'batch' | 'sequence' | 'other' }>();
  const unnamed = new Set<string>();
  for (const v of model.graphs[0]?.inputs ?? []) {
    if (model.graphs[0]!.initializers.includes(v.name)) continue;
    for (const d of v.shape ?? []) {
      if (typeof d === 'number' && d >= 0) continue;
      if (typeof d !== 'string' || d === '') {
        unnamed.add(v.name);
        continue;
      }
      if (named.has(d) || named.size >= 16) continue;
      const kind = dimKind(d) ?? 'other';
      named.set(d, { name: d, value: kind === 'batch' ? bindings.batch : kind === 'sequence' ? bindings.context : 1, kind });
    }
  }
  return { named: [...named.values()], unnamed: [...unnamed] };
}

/**
 * `; symbolic input dims: batch_size = 1 (batch), seq_len = 4096 (context)` in the model's own names, or '' when the
 * inputs have none. A non-generative model's sequence dims say where their value came from (there is no context).
 * Named dims with no batch or sequence meaning are listed by the "bound to 1" assumption.
 */
function symbolicDimsText(dims: ReturnType<typeof symbolicInputDims>, generative: boolean, sequenceSource: string): string {
  const parts = dims.named.filter((d) => d.kind !== 'other').map((d) => `${d.name} = ${d.value} (${d.kind === 'batch' ? 'batch' : generative ? 'context' : `sequence length, ${sequenceSource}`})`);
  if (dims.unnamed.length > 0) parts.push(`unnamed dims of ${dims.unnamed.slice(0, 4).map((n) => `'${n}'`).join(', ')}${dims.unnamed.length > 4 ? ', …' : ''} = 1`);
  return parts.length > 0 ? `; symbolic input dims: ${parts.join(', ')}` : '';
}

/** True when the layer's weights are consumed by an integer kernel (W8A8 as stored). */
function integerLayer(model: Model, layer: Layer): boolean {
  if (model.format === 'tflite') return true;
  return INTEGER_OPS.test(layer.op);
}

/** Stored format of a layer, or undefined for non-real-valued tables. */
function storedFormat(model: Model, layer: Layer): NumberFormat | undefined {
  return formatForStoredDType(layer.dtype, integerLayer(model, layer));
}

const NO_FLOP_ROLES = new Set<Layer['role']>(['embedding', 'position_embedding', 'norm', 'bias']);
const CONV_OPS = /Conv/;

/**
 * Estimates weights, activations, KV cache, overhead, fit, devices and roofline speed of `model` on `target`.
 * Throws {@link EstimateError} ('bad-option') for impossible batch/context, an unknown KV format, or an
 * assignment naming an unknown layer or format. The same as {@link estimateWith} over {@link prepareEstimate}.
 */
export function estimate(model: Model, target: Target, options: EstimateOptions = {}): Estimate {
  return estimateWith(prepareEstimate(model, target, options), options);
}

/** Which assignment an estimate is for: the only options {@link estimateWith} takes per call. */
export type EstimateChoice = Pick<EstimateOptions, 'assignment' | 'defaultFormat'> & {
  /**
   * False: the estimate's `perLayer` is left empty; every other figure is the same (a caller that never shows the
   * list, such as `plan` without --json, skips an object per layer: 200,000 at 200,000 layers).
   */
  readonly perLayer?: boolean;
};

/**
 * The part of an estimate that does not depend on the layers' formats: the checked batch, context and KV format,
 * MoE and encoder-tower facts, the KV cache, activations (shape inference over the graph, the costly part) and
 * each layer's FLOPs. Made once by {@link prepareEstimate}; {@link estimateWith} turns it into an estimate per
 * assignment (the planner estimates the stored model and its chosen assignment from one preparation).
 */
export interface PreparedEstimate {
  readonly model: Model;
  readonly target: Target;
  /** The options it was prepared with (an assignment in them is ignored: pass it to {@link estimateWith}). */
  readonly options: EstimateOptions;
  readonly batch: number;
  readonly context: number;
  readonly kvFormat: NumberFormat;
  readonly layerByName: ReadonlyMap<string, Layer>;
  /** First tensor of each name. */
  readonly tensorByName: ReadonlyMap<string, TensorInfo>;
  readonly storedWeightBytes: number;
  readonly breakdown: ReturnType<typeof parameterBreakdown>;
  /** Tensors of the text model (not a vision/audio tower). */
  readonly isText: (tensorName: string) => boolean;
  readonly expertTensorNames: ReadonlySet<string>;
  readonly kv: KvPlan | undefined;
  readonly cacheless: boolean;
  readonly generative: boolean;
  readonly stateBytes: number;
  readonly kvCacheBytes: number;
  readonly kvBytesPerToken: number;
  readonly activationBytes: number;
  readonly activationsPartial: boolean;
  readonly unknownParts: readonly string[];
  /** FLOPs per token of `model.layers[i]`. */
  readonly layerFlops: readonly number[];
  readonly warnings: readonly string[];
  readonly assumptions: readonly string[];
}

/** How many preparations ran in this process (tests check that the planner prepares once). */
export const estimatePreparations = { count: 0 };

/** The assignment-independent half of {@link estimate}; throws {@link EstimateError} for a bad batch, context or KV format. */
export function prepareEstimate(model: Model, target: Target, options: EstimateOptions = {}): PreparedEstimate {
  estimatePreparations.count++;
  const hp = model.hyperparameters;
  const warnings: string[] = [];
  const assumptions: string[] = [];
  const batch = checkCount('batch', options.batch, 1, MAX_BATCH);
  const declaredContext = hp.contextLength && hp.contextLength > 0 ? Math.min(hp.contextLength, DEFAULT_CONTEXT) : DEFAULT_CONTEXT;
  const context = checkCount('context', options.context, declaredContext, MAX_CONTEXT);
  const kvFormatId = options.kvFormat ?? 'fp16';
  const kvFormat = getNumberFormat(kvFormatId) ?? fail(`unknown KV-cache format '${kvFormatId.slice(0, 40)}'`);
  const tensorByName = tensorIndex(model);
  const text = textAndExperts(model, assumptions, warnings);
  const cache = cacheFacts(model, options, batch, context, kvFormat, assumptions, warnings);
  const storedWeightBytes = model.tensors.reduce((s, t) => s + t.byteLength, 0);
  const act = activationFacts(model, options, batch, context, cache, storedWeightBytes, assumptions, warnings);
  return {
    model, target, options, batch, context, kvFormat,
    layerByName: new Map(model.layers.map((l) => [l.name, l])),
    tensorByName, storedWeightBytes, ...text, ...cache, ...act,
    warnings, assumptions,
  };
}

/** MoE, multi-token-prediction and encoder-tower facts (which tensors are text, which are routed experts). */
function textAndExperts(model: Model, assumptions: string[], warnings: string[]): Pick<PreparedEstimate, 'breakdown' | 'isText' | 'expertTensorNames'> {
  const hp = model.hyperparameters;
  const parts = tensorParts(model);
  const breakdown = parameterBreakdown(model, parts);
  // A model whose every tensor is text (every decoder-only LLM) answers without a lookup: the estimate asks per
  // tensor and per layer, twice per plan (200,000 name lookups each at 200,000 layers).
  let allText = true;
  for (const part of parts.values()) {
    if (part !== 'text') {
      allText = false;
      break;
    }
  }
  const isText = allText ? (): boolean => true : (name: string): boolean => (parts.get(name) ?? 'text') === 'text';
  const expertTensorNames = new Set<string>();
  for (const l of model.layers) for (const w of layerWeights(l)) if (isText(w) && isRoutedExpert(w, l.role)) expertTensorNames.add(w);
  if (breakdown.expertShare < 1) {
    assumptions.push(`MoE: ${hp.expertUsedCount} of ${hp.expertCount} experts active per token; all ${hp.expertCount} stored.`);
    if (breakdown.routedExperts === 0) warnings.push('The model declares experts but no expert tensors were recognized; active parameters equal all parameters.');
  }
  if (breakdown.mtp > 0) assumptions.push(`${breakdown.mtp} parameters of multi-token-prediction layers are stored but not active: excluded from active parameters, bytes read and FLOPs per token.`);
  const towers = [breakdown.vision > 0 ? `vision ${breakdown.vision}` : '', breakdown.audio > 0 ? `audio ${breakdown.audio}` : ''].filter(Boolean).join(', ');
  if (towers) assumptions.push(`Encoder towers (${towers} parameters) run once per input, not per token: excluded from active parameters, bytes read and FLOPs per token.`);
  return { breakdown, isText, expertTensorNames };
}

/** The KV cache (or recurrent state) at batch × context, and whether the model is a generative decoder. */
function cacheFacts(model: Model, options: EstimateOptions, batch: number, context: number, kvFormat: NumberFormat, assumptions: string[], warnings: string[]): Pick<PreparedEstimate, 'kv' | 'cacheless' | 'generative' | 'stateBytes' | 'kvCacheBytes' | 'kvBytesPerToken'> {
  const hp = model.hyperparameters;
  const contextSource = options.context !== undefined ? 'set with --context' : hp.contextLength ? `the model's ${hp.contextLength} capped at ${DEFAULT_CONTEXT}` : 'default; the model declares none';
  const kv = kvPlan(model, batch, context);
  // The model kind decides which figures describe it: a decoder (with or without a cache) runs over a context of
  // tokens; any other model runs one inference per batch and has no context, only its own symbolic dims.
  const cacheless = kv === undefined && isCachelessDecoder(model);
  const generative = kv !== undefined || cacheless;
  if (generative && options.context === undefined) assumptions.push(`Context ${context} tokens (${contextSource}).`);
  if (cacheless) assumptions.push(`Decoder exported without past-key-value inputs (token ids → logits over the vocabulary): no KV cache; each generated token reruns the whole ${context}-token context, so decode speed is one full pass per token.`);
  const stateBytes = kv ? kv.stateElements * RECURRENT_STATE_BYTES : 0;
  const kvCacheBytes = kv ? kvBytes(kv.elements, kvFormat) + stateBytes : 0;
  const kvBytesPerToken = kv ? (kv.elementsPerToken * kvFormat.bytesPerBlock) / kvFormat.blockSize : 0;
  if (kv) {
    assumptions.push(`KV cache from ${kv.source}, ${kvFormat.id}, at the full context for every sequence.`);
    if (stateBytes > 0) assumptions.push(`Recurrent layers hold a constant FP32 state of ${stateBytes} B for ${batch} sequence(s), included in the KV cache.`);
    if (kv.cache) warnings.push(...kv.cache.warnings);
  }
  return { kv, cacheless, generative, stateBytes, kvCacheBytes, kvBytesPerToken };
}

/** Peak activation memory (graph walk, or a transformer formula without a graph) and each layer's FLOPs. */
function activationFacts(model: Model, options: EstimateOptions, batch: number, context: number, cache: Pick<PreparedEstimate, 'kv' | 'generative'>, storedWeightBytes: number, assumptions: string[], warnings: string[]): Pick<PreparedEstimate, 'activationBytes' | 'activationsPartial' | 'unknownParts' | 'layerFlops'> {
  const hp = model.hyperparameters;
  const { kv } = cache;
  let activationBytes = 0;
  const unknownParts: string[] = [];
  let activationsPartial = false;
  const bindings: ShapeBindings = { batch, context };
  const main = model.graphs[0];
  const graphShapes = main ? inferGraphShapes(model, main, bindings, options.constants) : undefined;
  if (main) {
    const peak = peakActivationBytes(model, bindings, { graph: main, exclude: (n) => kv !== undefined && KV_VALUE_NAMES.test(n), ...(options.constants ? { constants: options.constants } : {}) });
    activationBytes = peak.peakBytes;
    assumptions.push(`Activations: peak of live tensors walking the main graph in order${peak.peakNode ? ` (at '${peak.peakNode}')` : ''}${symbolicDimsText(symbolicInputDims(model, bindings), cache.generative, options.context !== undefined ? 'set with --context' : 'default; --context sets it')}.`);
    if (peak.unboundSymbols.length) assumptions.push(`Symbolic dims bound to 1: ${peak.unboundSymbols.slice(0, 8).join(', ')}${peak.unboundSymbols.length > 8 ? ', …' : ''}.`);
    if (peak.generatedConstantBytes > 0) {
      warnings.push(`${peak.generatedConstantBytes} bytes of tensors are generated at run time from stored shapes (ConstantOfShape: weights not stored in the file); they are counted as activations, not weights, and the compute of the layers that use them is not in the speed (which is then a looser bound).`);
    }
    if (peak.unknownValues.length) {
      activationsPartial = true;
      warnings.push(`${peak.unknownValues.length} of ${peak.valueCount} activation values have unknown shapes and are not counted (e.g. '${peak.unknownValues[0]}').`);
    }
  } else if (hp.embeddingLength && hp.blockCount) {
    const d = hp.embeddingLength;
    const f = hp.feedForwardLength ?? 4 * d;
    const fp32Bytes = model.tensors.filter((t) => t.dtype === 'float32').reduce((s, t) => s + t.byteLength, 0);
    const actBytes = fp32Bytes * 2 > storedWeightBytes ? 4 : 2;
    activationBytes = batch * context * (2 * d + 2 * f) * actBytes + batch * (hp.vocabSize ?? 0) * 4;
    assumptions.push(`Activations (no graph): batch × context × (2 × ${d} + 2 × ${f}) × ${actBytes} B + last-token logits batch × ${hp.vocabSize ?? 0} × 4 B (one-pass prefill, fused attention).`);
  } else {
    warnings.push('Activation memory not estimated: the model has no graph and no transformer hyperparameters.');
    unknownParts.push('activations');
  }
  return { activationBytes, activationsPartial, unknownParts, layerFlops: model.layers.map((l) => layerFlops(l, graphShapes?.values)) };
}

/** Layer → assigned format, and tensor → bytes at that format. */
interface AssignedWeights {
  /** In the order an object of the same entries lists its keys (see {@link inKeyOrder}). */
  readonly assignment: ReadonlyMap<string, NumberFormat>;
  /** Tensor name → bytes at its assigned format (replacing its stored bytes). */
  readonly converted: ReadonlyMap<string, number>;
  /** Stored bytes with the converted tensors at their new size. */
  readonly weightBytes: number;
  readonly tensorBytes: (name: string) => number;
}

/** Checks the assignment (unknown layers and formats throw) and sizes every converted tensor. */
function assignedWeights(p: PreparedEstimate, choice: EstimateChoice, warnings: string[]): AssignedWeights {
  const { model, layerByName, tensorByName } = p;
  // A Map, not a record of 200,000 names (and no [name, id] pair per entry): the same entries in the same order.
  let assignment = new Map<string, NumberFormat>();
  // An assignment repeats a few format ids over every layer: each id is resolved once ('keep' → null).
  const formatOf = new Map<unknown, NumberFormat | null | undefined>();
  const given = choice.assignment ?? {};
  for (const name of Object.keys(given)) {
    // A key of Object.keys is own: indexing reads that property (`__proto__` included) without a second lookup.
    const fid = given[name];
    if (!layerByName.has(name)) fail(`the assignment names the unknown layer '${name.slice(0, 80)}'`);
    let format = formatOf.get(fid);
    if (format === undefined && !formatOf.has(fid)) formatOf.set(fid, (format = typeof fid === 'string' && fid.trim().toLowerCase() === KEEP_FORMAT ? null : getNumberFormat(fid as string)));
    if (format === null) continue; // as stored
    assignment.set(name, format ?? fail(`unknown format '${String(fid).slice(0, 40)}' for layer '${name.slice(0, 80)}'`));
  }
  const defaultFormat = choice.defaultFormat !== undefined && choice.defaultFormat.trim().toLowerCase() !== KEEP_FORMAT ? (getNumberFormat(choice.defaultFormat) ?? fail(`unknown default format '${choice.defaultFormat.slice(0, 40)}'`)) : undefined;
  if (defaultFormat) {
    for (const l of model.layers) if (!assignment.get(l.name) && l.quantizable) assignment.set(l.name, defaultFormat);
    assignment = inKeyOrder(assignment);
  }
  const converted = new Map<string, number>();
  const convertible = (t: TensorInfo | undefined, isMain: boolean): t is TensorInfo => {
    const info = t ? dtypeInfo(t.dtype) : undefined;
    return !!t && !!info && (info.kind === 'float' || info.kind === 'quantized' || info.kind === 'int' || info.kind === 'uint') && (isMain || t.shape.length >= 2) && t.elementCount > 0;
  };
  for (const [name, format] of assignment) {
    const layer = layerByName.get(name)!;
    const main = tensorByName.get(layer.weight ?? '');
    if (!main || !(dtypeInfo(main.dtype)?.kind === 'float' || dtypeInfo(main.dtype)?.kind === 'quantized' || (storedFormat(model, layer) !== undefined))) {
      warnings.push(`Layer '${name}' has no real-valued weight to convert to ${format.id}; kept as stored.`);
      assignment.delete(name);
      continue;
    }
    const count = weightCount(layer);
    for (let i = 0; i < count; i++) {
      const w = weightAt(layer, i)!;
      const t = tensorByName.get(w);
      if (convertible(t, i === 0)) converted.set(w, formatByteLength(format, t.shape, t.elementCount));
    }
  }
  let weightBytes = p.storedWeightBytes;
  for (const [name, bytes] of converted) weightBytes += bytes - tensorByName.get(name)!.byteLength;
  return { assignment, converted, weightBytes, tensorBytes: (name) => converted.get(name) ?? tensorByName.get(name)?.byteLength ?? 0 };
}

/**
 * `map` in the order an object with the same keys lists them: array indices ("0" … "4294967294") first, ascending,
 * then the other keys in insertion order (the order the assignment had when it was a record). `map` itself when it
 * has no array index.
 */
function inKeyOrder<T>(map: Map<string, T>): Map<string, T> {
  const indices: string[] = [];
  for (const k of map.keys()) if (isArrayIndex(k)) indices.push(k);
  if (indices.length === 0) return map;
  indices.sort((a, b) => Number(a) - Number(b));
  const out = new Map<string, T>();
  for (const k of indices) out.set(k, map.get(k)!);
  for (const [k, v] of map) if (!out.has(k)) out.set(k, v);
  return out;
}

function isArrayIndex(key: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < 4294967295;
}

/** Weight bytes read per token: text weights, routed experts at their active share. */
function activeWeightBytesOf(p: PreparedEstimate, w: AssignedWeights): number {
  let expertBytes = 0;
  for (const n of p.expertTensorNames) expertBytes += w.tensorBytes(n);
  let offTextBytes = 0;
  for (const t of p.tensorByName.values()) if (!p.isText(t.name)) offTextBytes += w.tensorBytes(t.name);
  return Math.round(w.weightBytes - offTextBytes - expertBytes * (1 - p.breakdown.expertShare));
}

/** Compute rates of the target as used, remembering derived and unpublished ones (for the assumptions). */
class RateBook {
  readonly derived = new Map<ComputeType, ComputeType>();
  readonly unpublished = new Set<ComputeType>();
  constructor(private readonly target: Target) {}

  rate(t: ComputeType): number {
    const r = computeRate(this.target, t);
    if (r.derivedFrom) this.derived.set(t, r.derivedFrom);
    if (r.opsPerSecond === 0) this.unpublished.add(t);
    return r.opsPerSecond;
  }
}

/** Each layer's format, bytes, FLOPs and whether it runs natively; active FLOPs and seconds per token. */
function layerEstimates(p: PreparedEstimate, w: AssignedWeights, rates: RateBook, listLayers: boolean): { perLayer: LayerEstimate[]; unsupportedFormats: UnsupportedFormat[]; tokenFlops: number; tokenSeconds: number } {
  const { model, target } = p;
  const perLayer: LayerEstimate[] = [];
  const unsupportedFormats: UnsupportedFormat[] = [];
  let tokenFlops = 0; // active FLOPs per token
  let tokenSeconds = 0; // seconds per token at each layer's rate (active)
  // The support of each format on the target, once (it depends on the two alone).
  const supportOf = new Map<NumberFormat, ReturnType<typeof formatSupport>>();
  model.layers.forEach((layer, i) => {
    const format = w.assignment.get(layer.name) ?? storedFormat(model, layer);
    const isExpert = p.expertTensorNames.has(layer.weight ?? '');
    let bytes = layer.weight === undefined ? 0 : w.tensorBytes(layer.weight);
    for (const n of layer.moreWeights) bytes += w.tensorBytes(n);
    const flops = p.layerFlops[i]!;
    if (!format) {
      if (listLayers) perLayer.push({ layer: layer.name, format: layer.dtype, bytes, flopsPerToken: flops, native: true, runsAs: 'fp32' });
      return;
    }
    let support = supportOf.get(format);
    if (!support) supportOf.set(format, (support = formatSupport(format, target)));
    // Only layers that do matrix math need the matrix units (an embedding lookup or a norm scale does not).
    const flagged = support.flagged && flops > 0;
    if (listLayers) perLayer.push({ layer: layer.name, format: format.id, bytes, flopsPerToken: flops, native: !flagged, runsAs: support.runsAs });
    if (flagged) unsupportedFormats.push({ layer: layer.name, format: format.id, runsAs: support.runsAs });
    const active = !p.isText(layer.weight ?? '') ? 0 : isExpert ? p.breakdown.expertShare : 1;
    const r = flops > 0 && active > 0 ? rates.rate(support.runsAs) : 0;
    tokenFlops += flops * active;
    if (r > 0) tokenSeconds += (flops * active) / r;
  });
  return { perLayer, unsupportedFormats, tokenFlops, tokenSeconds };
}

/** Memory on the target: the runtime's buffers (or the generic terms), overhead, fit and devices needed. */
function memoryFit(p: PreparedEstimate, w: AssignedWeights, warnings: string[], assumptions: string[]) {
  const { model, target, options } = p;
  const ov = {
    bytes: options.overhead?.bytes ?? target.overhead.bytes,
    fraction: options.overhead?.fraction ?? target.overhead.fraction,
  };
  if (!Number.isFinite(ov.bytes) || ov.bytes < 0) fail(`overhead bytes must be a non-negative number, got '${String(ov.bytes)}'`);
  if (!Number.isFinite(ov.fraction) || ov.fraction < 0 || ov.fraction > 1) fail(`overhead fraction must be between 0 and 1, got '${String(ov.fraction)}'`);
  if (ov.bytes >= target.memoryBytes) fail(`the overhead of ${ov.bytes} bytes leaves no memory on target '${target.id}'`);
  const { weightBytes } = w;
  const { activationBytes, kvCacheBytes } = p;
  const genericPayload = weightBytes + activationBytes + kvCacheBytes;
  const runtime = runtimeMemory(model, target, { ...options, context: p.context, sequences: p.batch, kvFormat: p.kvFormat.id, ...(w.converted.size > 0 ? { plannedWeightBytes: weightBytes } : {}) }, {
    weightBytes, activationBytes, kvCacheBytes, overheadBytes: Math.ceil(ov.bytes + ov.fraction * genericPayload), kvBytesPerToken: p.kvBytesPerToken, recurrentStateBytes: p.stateBytes,
  });
  const part = (kind: string, id?: string): number => runtime.components.filter((c) => c.kind === kind && (id === undefined || c.id === id)).reduce((s, c) => s + c.bytes, 0);
  // llama.cpp and vLLM list their buffers explicitly: the target's fixed overhead is added, its fraction is not.
  const explicit = runtime.runtime !== 'ort';
  const fraction = explicit ? 0 : ov.fraction;
  const memWeightBytes = explicit ? part('weights') : weightBytes;
  const computeBytes = part('compute');
  const outputBytes = part('output');
  const memActivationBytes = explicit ? computeBytes + outputBytes : activationBytes;
  const memKvBytes = explicit ? part('kv') : kvCacheBytes;
  const payload = memWeightBytes + memActivationBytes + memKvBytes + (explicit ? part('overhead') : 0);
  // llama.cpp's buffers are the whole of its allocations on a CPU host (the ORT-session overhead of the 'cpu' target does not apply).
  const fixedBytes = runtime.runtime === 'llama.cpp' && target.kind === 'cpu' && options.overhead?.bytes === undefined ? 0 : ov.bytes;
  const overheadBytes = Math.ceil(fixedBytes + fraction * payload) + (explicit ? part('overhead') : 0);
  const totalBytes = payload - (explicit ? part('overhead') : 0) + overheadBytes;
  const capacityBytes = target.memoryBytes;
  const budgetBytes = runtime.runtime === 'vllm' ? Number(runtime.settings['budgetBytes']) : capacityBytes;
  const fits = totalBytes <= budgetBytes;
  const devicesNeeded = fits ? 1 : Math.max(1, Math.ceil((payload * (1 + fraction)) / (budgetBytes - fixedBytes)));
  warnings.push(...runtime.warnings);
  if (explicit) {
    // The runtime's own components replace the generic activation term; its assumption would mislead.
    const generic = assumptions.findIndex((a) => a.startsWith('Activations (no graph)'));
    if (generic >= 0) assumptions.splice(generic, 1);
  }
  assumptions.push(...runtime.assumptions);
  assumptions.push(
    !explicit ? `Runtime overhead ${formatBytes(ov.bytes)} + ${ov.fraction * 100}% of the payload per device: ${target.overhead.note}`
    : fixedBytes === 0 ? `No overhead beyond the ${runtime.runtime} buffers (the process and the library's own pages are not counted).`
    : `Runtime overhead ${formatBytes(fixedBytes)} per device on top of the ${runtime.runtime} buffers: ${target.overhead.note}`,
  );
  if (devicesNeeded > 1) {
    assumptions.push(
      target.sramOnly
        ? `Split across ${devicesNeeded} chips (weights must stay in on-chip SRAM); ${target.interconnect ? `${target.interconnect.name}` : 'no interconnect data'} links them.`
        : `Split across ${devicesNeeded} devices with ideal tensor parallelism over ${target.interconnect ? `${target.interconnect.name}${target.interconnect.bytesPerSecond ? ` (${target.interconnect.bytesPerSecond / 1e9} GB/s)` : ''}` : 'no scale-up interconnect (PCIe/network only)'}; communication time not modeled.`,
    );
  }
  return { runtime, memWeightBytes, memActivationBytes, memKvBytes, computeBytes, outputBytes, overheadBytes, totalBytes, capacityBytes, fits, devicesNeeded };
}

/** Roofline prefill and decode speed over `devices` (attention from the cache description). */
function speedOf(p: PreparedEstimate, w: AssignedWeights, activeWeightBytes: number, layers: { tokenFlops: number; tokenSeconds: number }, devices: number, rates: RateBook, warnings: string[], assumptions: string[]) {
  const { target, kv, context, batch, generative, cacheless } = p;
  const { tokenFlops, tokenSeconds } = layers;
  const bw = target.memoryBandwidthBytesPerSecond * devices;
  const attnType = (['fp16', 'bf16', 'fp32'] as const).find((t) => target.native.includes(t)) ?? 'fp32';
  const attnRate = kv ? rates.rate(attnType) : 0;
  const attnPerTokenFlops = kv ? (kv.cache ? attentionDecodeFlops(kv.cache, context) : 4 * context * kv.heads * kv.headDim * kv.blocks) : 0;
  const attnPrefillFlops = kv ? (kv.cache ? attentionPrefillFlops(kv.cache, context) : 2 * context * context * kv.heads * kv.headDim * kv.blocks) : 0;
  const attnSeconds = (f: number): number => (attnRate > 0 ? f / attnRate : 0);
  const prefillTokens = generative ? context : 1;
  const prefillComputeSeconds = (tokenSeconds * batch * prefillTokens + attnSeconds(attnPrefillFlops * batch)) / devices;
  const decodeBytes = activeWeightBytes + p.kvCacheBytes;
  const decodeMemorySeconds = decodeBytes / bw;
  // Without a cache every new token is a full pass over the context.
  const decodeComputeSeconds = cacheless ? prefillComputeSeconds : (tokenSeconds * batch + attnSeconds(attnPerTokenFlops * batch)) / devices;
  const decodeSeconds = Math.max(decodeMemorySeconds, decodeComputeSeconds);
  const decodeTokensPerSecond = decodeSeconds > 0 ? batch / decodeSeconds : 0;
  const prefillSeconds = Math.max(prefillComputeSeconds, w.weightBytes / bw);
  const prefillTokensPerSecond = prefillSeconds > 0 ? (batch * prefillTokens) / prefillSeconds : 0;
  const { derived, unpublished } = rates;
  if (decodeSeconds === 0) warnings.push('The model has no weights to read and no FLOPs to run; speed is reported as 0.');
  if (tokenFlops > 0 && tokenSeconds === 0 && unpublished.size === 0) warnings.push(`Target '${target.id}' publishes no compute rate; prefill speed is bandwidth-only.`);
  for (const [t, from] of derived) assumptions.push(`${target.id} publishes no ${t} rate: taken as its ${from} rate (never guessed higher than a published one).`);
  if (unpublished.size > 0) warnings.push(`${target.id} publishes no ${[...unpublished].join(' or ')} rate, and none can be derived without guessing higher than a published one: speeds that need it are not published (a roofline without it would be an upper bound).`);
  assumptions.push('Speeds are rooflines at dense peak (upper bounds; real kernels reach roughly 30–80% of them).');
  if (!generative) assumptions.push('Not a generative decoder (no KV cache): one inference per batch; in --json, a "token" is one sample.');
  return { decodeTokensPerSecond, prefillTokensPerSecond, prefillSeconds, decodeBound: decodeMemorySeconds >= decodeComputeSeconds ? ('bandwidth' as const) : ('compute' as const) };
}

/**
 * The estimate of one assignment over a preparation (see {@link PreparedEstimate}); the same result as
 * `estimate(model, target, { ...options, assignment, defaultFormat })`. Throws {@link EstimateError} for an
 * assignment naming an unknown layer or format, or an impossible overhead.
 */
export function estimateWith(p: PreparedEstimate, choice: EstimateChoice = {}): Estimate {
  const { model, target, kv } = p;
  const warnings: string[] = [];
  const w = assignedWeights(p, choice, warnings);
  warnings.push(...p.warnings);
  const assumptions = [...p.assumptions];
  const activeWeightBytes = activeWeightBytesOf(p, w);
  const rates = new RateBook(target);
  const layers = layerEstimates(p, w, rates, choice.perLayer !== false);
  const memory = memoryFit(p, w, warnings, assumptions);
  const speed = speedOf(p, w, activeWeightBytes, layers, memory.devicesNeeded, rates, warnings, assumptions);
  const finite = (n: number): number => (Number.isFinite(n) ? n : 0);
  return {
    target: target.id,
    targetName: target.name,
    batch: p.batch,
    context: p.context,
    kvFormat: p.kvFormat.id,
    weightBytes: memory.memWeightBytes,
    activationBytes: memory.memActivationBytes,
    kvCacheBytes: memory.memKvBytes,
    computeBytes: memory.computeBytes,
    outputBytes: memory.outputBytes,
    kvBytesPerToken: p.kvBytesPerToken,
    attention: kv?.cache?.summary ?? null,
    recurrentStateBytes: p.stateBytes,
    overheadBytes: memory.overheadBytes,
    totalBytes: memory.totalBytes,
    capacityBytes: memory.capacityBytes,
    fits: memory.fits,
    devicesNeeded: memory.devicesNeeded,
    interconnect: target.interconnect ?? null,
    runtime: memory.runtime,
    decodeTokensPerSecond: finite(speed.decodeTokensPerSecond),
    prefillTokensPerSecond: finite(speed.prefillTokensPerSecond),
    decodeBound: speed.decodeBound,
    parameterCount: model.parameterCount,
    activeParameterCount: p.breakdown.activeText,
    mtpParameterCount: p.breakdown.mtp,
    visionParameterCount: p.breakdown.vision,
    audioParameterCount: p.breakdown.audio,
    activeWeightBytes,
    unsupportedFormats: layers.unsupportedFormats,
    perLayer: layers.perLayer,
    warnings,
    assumptions,
    generative: p.generative,
    inferenceSeconds: finite(speed.prefillSeconds),
    unknownParts: [...p.unknownParts],
    totalIsLowerBound: p.unknownParts.length > 0 || p.activationsPartial,
    unpublishedRates: [...rates.unpublished],
  };
}

/**
 * FLOPs of one layer for one token (one sample for convolutions: every output position counts).
 * Matrix weights: 2 × elements of the main weight. Convolutions: 2 × weight elements × output positions when
 * the output shape is known. Embeddings, norms and biases: 0.
 */
function layerFlops(layer: Layer, values: ReadonlyMap<string, { readonly shape: readonly number[] | undefined }> | undefined): number {
  if (NO_FLOP_ROLES.has(layer.role)) return 0;
  const shape = layer.shape;
  const elements = shape.reduce((a, b) => a * b, 1);
  if (shape.length < 2) return 0;
  if (CONV_OPS.test(layer.op) && values) {
    const out = values.get(layer.outputs[0] ?? '')?.shape;
    if (out && out.length >= 3) return 2 * elements * out.slice(2).reduce((a, b) => a * b, 1);
  }
  return 2 * elements;
}

//#region shape constants
/** Most elements of one integer tensor read as a shape constant. Threat: reading big tables to decode them. */
const MAX_CONSTANT_ELEMENTS = 64;

/**
 * Reads the values of small INT64/INT32 tensors (≤ 64 elements: Reshape targets, Slice bounds, axes) so shape
 * inference can resolve them. Reads only those tensors' byte ranges. Tensors in missing or escaping external
 * files are skipped (the estimate then reports unknown shapes).
 */
export async function readShapeConstants(model: Model, source: ByteSource, siblings: SiblingResolver, token?: CancellationToken): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const t of model.tensors) {
    if (token?.isCancellationRequested) break;
    if ((t.dtype !== 'int64' && t.dtype !== 'int32') || t.elementCount > MAX_CONSTANT_ELEMENTS) continue;
    const loc = tensorLocation(t);
    if (!loc) continue;
    if (loc.byteLength > MAX_CONSTANT_ELEMENTS * 10) continue;
    let src = source;
    try {
      if (loc.file !== '' && loc.file !== model.fileName) src = await siblings.open(loc.file);
      const bytes = await src.read(loc.byteOffset, loc.byteLength);
      const values = decodeInts(bytes, t.dtype, loc.encoding, t.elementCount);
      if (values) setOwn(out, t.name, values);
    } catch (e) {
      if (!(e instanceof ModelFormatError)) throw e;
    }
  }
  return out;
}

function decodeInts(bytes: Uint8Array, dtype: string, encoding: string, count: number): number[] | undefined {
  const out: number[] = [];
  if (encoding === 'raw') {
    const size = dtype === 'int64' ? 8 : 4;
    if (bytes.length < count * size) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) out.push(size === 8 ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true));
    return out;
  }
  // Protobuf varints (int64_data / int32_data): negative values are 10-byte two's complement.
  const parts: VarintParts = { lo: 0, hi: 0, next: 0 };
  let pos = 0;
  while (pos < bytes.length && out.length < count) {
    if (readVarint(bytes, pos, bytes.length, parts) !== VARINT_OK) return undefined;
    pos = parts.next;
    out.push(varintInt64(parts));
  }
  return out.length === count ? out : undefined;
}
//#endregion
