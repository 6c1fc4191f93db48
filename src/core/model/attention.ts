/**
 * Per-layer attention and cache description: what each transformer block keeps between decode steps.
 *
 * Input: {@link Hyperparameters} as the readers fill them (GGUF `<arch>.attention.*` / `<arch>.ssm.*` keys,
 * config.json). Output: one {@link LayerCache} per main block (multi-token-prediction layers excluded), saying
 * - the **attention kind**: MHA (KV heads = heads), GQA (1 < KV heads < heads), MQA (1 KV head), MLA
 *   (DeepSeek-V2/V3/R1, Kimi K2, MiniCPM3: a compressed latent of `kv_lora_rank` plus a shared RoPE key of
 *   `qk_rope_head_dim` per token, no per-head K/V), or none (recurrent layers);
 * - the **cache kind**: `full` (every past token), `sliding` (the last `window` tokens: Mistral v0.1 on every
 *   layer, Gemma 2 every other layer, Gemma 3 five of six, GPT-OSS every other layer), `chunked` (tokens of the
 *   current `window`-token chunk: Llama 4, three of every four layers, 8,192 tokens), or `recurrent` (a
 *   constant state, whatever the context: Mamba/Mamba-2 SSM layers, Gated DeltaNet linear attention);
 * - K and V elements per token and the constant state elements per sequence.
 *
 * KV per token of a layer = KV heads × (K head dim + V head dim) elements, or for MLA kv_lora_rank +
 * qk_rope_head_dim elements (DeepSeek-V3: (512 + 64) × 61 layers × 2 B = 70,272 B at BF16). A sliding or
 * chunked layer holds at most `window` tokens; a full layer holds the whole context. Recurrent state per layer
 * (Mamba-2 / llama.cpp `n_embd_r` + `n_embd_s`): conv (d_conv − 1) × (d_inner + 2 × groups × d_state) plus
 * SSM d_state × d_inner elements, stored in FP32 (llama.cpp and vLLM keep SSM state in FP32 by default).
 *
 * Patterns come from the file when it states them per layer (config.json `layer_types`, GGUF per-layer
 * `head_count_kv` arrays with 0 for recurrent layers, `sliding_window_pattern` arrays), else from the
 * architecture table below, which mirrors llama.cpp's `set_swa_pattern(n)` calls in `src/llama-model.cpp`
 * (layer il is windowed when il mod n < n − 1) and the Hugging Face config classes. An architecture or a layer
 * kind not in the table yields a warning naming it, never a silent figure.
 *
 * Hybrids without attention or state in some blocks (Nemotron-H `hybrid_override_pattern`: 'M' Mamba-2, '*'
 * attention, '-' MLP, 'E' MoE; its GGUF: per-layer `head_count_kv` and `feed_forward_length`, both 0 for Mamba
 * layers) get kind `none` for the MLP/MoE blocks.
 *
 * Not modeled: runtime padding of windowed caches (llama.cpp keeps window × sequences + micro-batch cells;
 * that belongs to the runtime model), DeepSeek sparse attention indexer caches (read and named in a warning),
 * cross-attention caches of encoder-decoder models.
 */
import type { Hyperparameters } from './types';

/** What a layer keeps between decode steps ('none': an MLP/MoE-only block of a hybrid, e.g. Nemotron-H '-' / 'E'). */
export type CacheKind = 'full' | 'sliding' | 'chunked' | 'recurrent' | 'none';

/** How a layer's attention heads share keys and values. */
export type AttentionKind = 'mha' | 'gqa' | 'mqa' | 'mla';

/** Recurrent (state-space / linear-attention) layer dimensions, llama.cpp `ssm.*` names in camelCase. */
export interface SsmHyperparameters {
  /** Convolution kernel width (`ssm.conv_kernel`, `mamba_d_conv`, `linear_conv_kernel_dim`). */
  readonly convKernel: number;
  /** Inner width (`ssm.inner_size`: Mamba d_inner; Gated DeltaNet value heads × value head dim). */
  readonly innerSize: number;
  /** State size per channel (`ssm.state_size`: Mamba d_state; Gated DeltaNet key head dim). */
  readonly stateSize: number;
  /** B/C groups (`ssm.group_count`: Mamba-2 n_groups; Gated DeltaNet key heads); 0 for Mamba-1. */
  readonly groupCount: number;
}

/**
 * Attention facts beyond heads × head dim, as the readers find them (all optional). JSON-safe.
 * Per-layer arrays have one entry per main block.
 */
export interface AttentionHyperparameters {
  /** V head dim when it differs from K (GGUF `attention.value_length`, config `v_head_dim`). */
  readonly valueDim?: number;
  /** MLA latent rank (`kv_lora_rank`). */
  readonly kvLoraRank?: number;
  /** MLA decoupled RoPE key dim (`qk_rope_head_dim`; GGUF `rope.dimension_count` of MLA architectures). */
  readonly ropeDim?: number;
  /** Sliding-window length in tokens. */
  readonly slidingWindow?: number;
  /** Every n-th layer is full, the others windowed (GGUF `attention.sliding_window_pattern` as a number, config `sliding_window_pattern`). */
  readonly slidingWindowPeriod?: number;
  /** Chunk length of chunked attention (config `attention_chunk_size`). */
  readonly chunkSize?: number;
  /** Every n-th layer is full attention, the others recurrent (`full_attention_interval`). */
  readonly fullAttentionInterval?: number;
  /** Cache kind per layer when the file states it. */
  readonly layerKinds?: readonly CacheKind[];
  /** KV heads per layer when the file states them (GGUF arrays; 0 = no attention in that layer). */
  readonly kvHeadsPerLayer?: readonly number[];
  /** Recurrent layer dimensions. */
  readonly ssm?: SsmHyperparameters;
  /** Constant state elements of one recurrent layer when not given by `ssm` (RWKV WKV state, LFM2 short-conv cache). */
  readonly stateElementsPerLayer?: number;
  /** Every layer runs attention and an SSM side by side (Falcon-H1). */
  readonly parallelSsm?: boolean;
  /** Layer kinds named by the file that this module does not know (e.g. a config `layer_types` value). */
  readonly unknownLayerKinds?: readonly string[];
  /**
   * DeepSeek sparse attention (V3.2) lightning indexer: its own key cache of `headDim` elements per token per
   * layer (config `index_head_dim`, GGUF `attention.indexer.key_length`), read to name it, not counted.
   */
  readonly indexer?: { readonly heads: number; readonly headDim: number; readonly topK: number };
}

/** One main block's cache. */
export interface LayerCache {
  readonly block: number;
  readonly kind: CacheKind;
  /** Null for recurrent layers without attention. */
  readonly attention: AttentionKind | null;
  readonly kvHeads: number;
  /** K and V head dims (0 for MLA and recurrent layers: see latent dims). */
  readonly keyDim: number;
  readonly valueDim: number;
  /** MLA latent rank and RoPE key dim (0 otherwise). */
  readonly latentDim: number;
  readonly ropeDim: number;
  /** Tokens held at most (window or chunk length); null = the whole context. */
  readonly window: number | null;
  /** K + V cache elements per token. */
  readonly elementsPerToken: number;
  /** Constant recurrent state elements per sequence (FP32). */
  readonly stateElements: number;
  /** Query heads and the per-head dims attention scores use (for FLOPs): MLA uses nope + rope for K. */
  readonly queryHeads: number;
  readonly scoreKeyDim: number;
  readonly scoreValueDim: number;
}

/** The whole model's cache description. */
export interface CacheDescription {
  readonly architecture: string | undefined;
  readonly layers: readonly LayerCache[];
  /** Short label, e.g. 'MLA', 'GQA; 3 of 4 layers chunked (8192)', 'hybrid: 12 GQA + 36 recurrent'. */
  readonly summary: string;
  /** K + V elements per token over all layers at full context (windowed layers counted once per token). */
  readonly elementsPerToken: number;
  /** Recurrent state elements per sequence. */
  readonly stateElements: number;
  /** Where the pattern came from. */
  readonly source: string;
  readonly warnings: readonly string[];
}

/** Bytes of one recurrent state element: FP32 (llama.cpp `type_r`/`type_s` default; vLLM's default Mamba SSM dtype). */
export const RECURRENT_STATE_BYTES = 4;

//#region architecture table
/** What an architecture does when the file states no per-layer pattern. */
interface ArchitectureRule {
  /** Windowed layers: il mod period < period − 1 (llama.cpp `set_swa_pattern(period)`). */
  readonly windowPeriod?: number;
  /** Windowed layers are chunked (Llama 4) with this default chunk length. */
  readonly chunked?: number;
  /** A stated sliding window applies to every layer (Mistral v0.1, Mixtral, Phi-3, Starcoder2). */
  readonly windowAllLayers?: boolean;
  readonly mla?: boolean;
  /** Layers are recurrent unless stated otherwise (Mamba). */
  readonly recurrent?: boolean;
  /** Hybrid: needs a stated per-layer pattern (Jamba, Granite 4, Qwen3-Next, Nemotron-H). */
  readonly hybrid?: boolean;
  /** Every layer holds both a KV cache and an SSM state (Falcon-H1). */
  readonly parallelSsm?: boolean;
}

const FULL: ArchitectureRule = {};
/**
 * Keys: GGUF `general.architecture` values and Hugging Face `model_type` / `architectures[0]` (class suffix
 * dropped), lower-cased with non-alphanumerics removed. Sources: llama.cpp `src/llama-model.cpp`
 * `load_hparams` (`set_swa_pattern`, `LLAMA_SWA_TYPE_CHUNKED`), transformers `models/<name>/configuration_*.py`.
 */
const ARCHITECTURES: ReadonlyMap<string, ArchitectureRule> = new Map<string, ArchitectureRule>([
  // Full attention on every layer (MHA/GQA/MQA from the head counts).
  ...[
    'llama', 'llama2', 'llama3', 'qwen', 'qwen2', 'qwen2moe', 'qwen3', 'qwen3moe', 'qwen2vl', 'qwen25vl', 'qwen2audio', 'qwen3vl', 'qwen3vlmoe',
    'phi', 'phi2', 'phimoe', 'gpt2', 'gptneox', 'gptj', 'gptbigcode', 'falcon', 'mpt', 'starcoder', 'stablelm', 'internlm2', 'baichuan', 'bloom',
    'commandr', 'cohere', 'olmo', 'olmo2', 'olmoe', 'granite', 'granitemoe', 'chatglm', 'glm', 'glm4', 'glm4moe', 'minicpm', 'deepseek', 'gemma',
    'smollm3', 'ernie45', 'ernie45moe', 'hunyuanmoe', 'hunyuandense', 'dots1', 'arcee', 'bailingmoe', 'bailingmoe2', 'seedoss', 'apertus', 'exaone',
    'mistral3', 'dbrx', 'grok', 'arctic', 'nemotron', 'opt', 'codegen', 'persimmon', 'orion', 'xverse', 'plamo', 'jais', 'nomicbert', 'llava',
    'mllama', 'deci', 'refact',
  ].map((k): [string, ArchitectureRule] => [k, FULL]),
  ['mistral', { windowAllLayers: true }],
  ['mixtral', { windowAllLayers: true }],
  ['phi3', { windowAllLayers: true }],
  ['starcoder2', { windowAllLayers: true }],
  ['gemma2', { windowPeriod: 2 }],
  ['gemma3', { windowPeriod: 6 }],
  ['gemma3text', { windowPeriod: 6 }],
  ['cohere2', { windowPeriod: 4 }],
  ['exaone4', { windowPeriod: 4 }],
  ['gptoss', { windowPeriod: 2 }],
  ['llama4', { windowPeriod: 4, chunked: 8192 }],
  ['llama4text', { windowPeriod: 4, chunked: 8192 }],
  ['deepseek2', { mla: true }],
  ['deepseekv2', { mla: true }],
  ['deepseekv3', { mla: true }],
  ['kimik2', { mla: true }],
  ['minicpm3', { mla: true }],
  ['mamba', { recurrent: true }],
  ['mamba2', { recurrent: true }],
  ['rwkv6', { recurrent: true }],
  ['rwkv6qwen2', { recurrent: true }],
  ['rwkv7', { recurrent: true }],
  ['arwkv7', { recurrent: true }],
  ['lfm2', { hybrid: true }],
  ['jamba', { hybrid: true }],
  ['granitehybrid', { hybrid: true }],
  ['granitemoehybrid', { hybrid: true }],
  ['qwen3next', { hybrid: true }],
  ['nemotronh', { hybrid: true }],
  ['nemotronhmoe', { hybrid: true }],
  ['deepseekv32', { mla: true }],
  ['falconh1', { parallelSsm: true }],
]);
//#endregion

const CLASS_SUFFIX = /(forcausallm|forconditionalgeneration|lmheadmodel|model)$/;

/** Table key of an architecture name: lower-case, alphanumerics only, class suffix dropped. */
export function architectureKey(name: string): string {
  const k = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  const stripped = k.replace(CLASS_SUFFIX, '');
  return stripped.length > 0 ? stripped : k;
}

function ruleFor(architecture: string | undefined): ArchitectureRule | undefined {
  if (!architecture) return undefined;
  return ARCHITECTURES.get(architectureKey(architecture));
}

function attentionKind(heads: number, kvHeads: number, mla: boolean): AttentionKind {
  if (mla) return 'mla';
  if (kvHeads === 1 && heads > 1) return 'mqa';
  return kvHeads < heads ? 'gqa' : 'mha';
}

/** Elements of one recurrent layer's state (conv + SSM), as llama.cpp `n_embd_r()` + `n_embd_s()`. */
export function recurrentStateElements(ssm: SsmHyperparameters): number {
  const conv = Math.max(0, ssm.convKernel - 1) * (ssm.innerSize + 2 * ssm.groupCount * ssm.stateSize);
  return conv + ssm.stateSize * ssm.innerSize;
}

/** True when the cache description's attention layers are windowed for `kind` at layer `il` of a period. */
function windowedAt(il: number, period: number): boolean {
  return period === 0 || il % period < period - 1;
}

/**
 * Describes the cache of every main block of a model from its hyperparameters, or undefined when they lack the
 * block count, head count or head dim (encoders and graphs without them are handled by the caller).
 */
export function describeCache(hp: Hyperparameters): CacheDescription | undefined {
  const blocks = hp.blockCount;
  const att = hp.attention ?? {};
  const rule = ruleFor(hp.architecture);
  const arch = hp.architecture;
  const heads = hp.headCount ?? 0;
  const headDim = hp.headDim ?? (hp.embeddingLength && heads && hp.embeddingLength % heads === 0 ? hp.embeddingLength / heads : undefined);
  const recurrentOnly = rule?.recurrent === true || ((att.ssm !== undefined || att.stateElementsPerLayer !== undefined) && heads === 0);
  if (!blocks || (!recurrentOnly && (!heads || !headDim))) return undefined;
  const warnings: string[] = [];
  const sources: string[] = [];
  const archName = arch ?? 'unknown';

  if (arch && !rule) warnings.push(`Architecture '${arch.slice(0, 80)}' is not in the attention table; its KV cache assumes full attention on every layer from its head counts.`);
  for (const k of att.unknownLayerKinds ?? []) warnings.push(`Layer kind '${k.slice(0, 60)}' is not known; those layers are counted as full attention.`);

  //#region per-layer kinds
  let kinds: CacheKind[] | undefined;
  if (att.layerKinds && att.layerKinds.length >= blocks) {
    kinds = att.layerKinds.slice(0, blocks);
    sources.push('per-layer kinds stated by the file');
  } else if (att.kvHeadsPerLayer && att.kvHeadsPerLayer.length >= blocks && att.kvHeadsPerLayer.some((h) => h === 0)) {
    kinds = att.kvHeadsPerLayer.slice(0, blocks).map((h) => (h === 0 ? 'recurrent' : 'full'));
    sources.push('per-layer KV head counts (0 = recurrent)');
  } else if (att.fullAttentionInterval && att.fullAttentionInterval > 0) {
    const n = att.fullAttentionInterval;
    kinds = Array.from({ length: blocks }, (_, il) => ((il + 1) % n === 0 ? 'full' : 'recurrent'));
    sources.push(`every ${n}th layer full attention, the others recurrent`);
  } else if (recurrentOnly) {
    kinds = new Array<CacheKind>(blocks).fill('recurrent');
    sources.push('state-space model: every layer recurrent');
  } else if (rule?.chunked !== undefined && att.slidingWindow !== 0) {
    const period = att.slidingWindowPeriod ?? rule.windowPeriod ?? 4;
    kinds = Array.from({ length: blocks }, (_, il) => (windowedAt(il, period) ? 'chunked' : 'full'));
    sources.push(`${period - 1} of every ${period} layers chunked`);
  } else if (att.slidingWindow && att.slidingWindow > 0) {
    const period = att.slidingWindowPeriod ?? rule?.windowPeriod;
    if (period !== undefined) {
      kinds = Array.from({ length: blocks }, (_, il) => (windowedAt(il, period) ? 'sliding' : 'full'));
      sources.push(period === 1 ? 'no windowed layers' : `${period - 1} of every ${period} layers sliding`);
    } else if (rule?.windowAllLayers) {
      kinds = new Array<CacheKind>(blocks).fill('sliding');
      sources.push('sliding window on every layer');
    } else {
      warnings.push(`'${archName.slice(0, 80)}' declares a ${att.slidingWindow}-token sliding window but no layer pattern is known; every layer is counted as full attention.`);
    }
  } else if (rule?.hybrid) {
    warnings.push(`Hybrid architecture '${archName.slice(0, 80)}' states no per-layer pattern; every layer is counted as full attention.`);
  }
  if (!kinds) kinds = new Array<CacheKind>(blocks).fill('full');
  //#endregion

  const mla = (rule?.mla === true || att.kvLoraRank !== undefined) && (att.kvLoraRank ?? 0) > 0;
  if (rule?.mla && !mla) warnings.push(`'${archName.slice(0, 80)}' uses multi-head latent attention but declares no kv_lora_rank; its KV cache is counted as per-head K and V.`);
  const ssm = att.ssm;
  const stateElements = ssm ? recurrentStateElements(ssm) : (att.stateElementsPerLayer ?? 0);
  if (att.indexer) {
    const attnLayers = kinds.filter((k) => k !== 'recurrent' && k !== 'none').length;
    warnings.push(
      `'${archName.slice(0, 80)}' uses DeepSeek sparse attention: its indexer keeps a ${att.indexer.headDim}-element key per token per layer (${att.indexer.headDim * attnLayers} elements per token over ${attnLayers} layers, top-${att.indexer.topK} selection) that is not counted in the KV figure; its storage type depends on the runtime.`,
    );
  }
  if (stateElements === 0 && (kinds.includes('recurrent') || rule?.parallelSsm)) warnings.push(`'${archName.slice(0, 80)}' has recurrent layers but declares no state dimensions; their constant state is not counted.`);
  const valueDim = att.valueDim ?? headDim ?? 0;
  const keyDim = headDim ?? 0;
  const window = (kind: CacheKind): number | null => {
    if (kind === 'sliding') return att.slidingWindow && att.slidingWindow > 0 ? att.slidingWindow : null;
    if (kind === 'chunked') return att.chunkSize ?? rule?.chunked ?? att.slidingWindow ?? null;
    return null;
  };
  for (const kind of new Set(kinds)) {
    if ((kind === 'sliding' || kind === 'chunked') && window(kind) === null) warnings.push(`${kind === 'sliding' ? 'Sliding-window' : 'Chunked'} layers of '${archName.slice(0, 80)}' declare no window length; they are counted as full attention.`);
  }

  const layers: LayerCache[] = kinds.map((kind, block) => {
    const parallel = rule?.parallelSsm === true || att.parallelSsm === true;
    const state = kind === 'recurrent' || (parallel && kind !== 'none') ? stateElements : 0;
    if (kind === 'recurrent' || kind === 'none') {
      return { block, kind, attention: null, kvHeads: 0, keyDim: 0, valueDim: 0, latentDim: 0, ropeDim: 0, window: null, elementsPerToken: 0, stateElements: state, queryHeads: 0, scoreKeyDim: 0, scoreValueDim: 0 };
    }
    const kvHeads = att.kvHeadsPerLayer?.[block] || hp.kvHeadCount || heads;
    const w = window(kind);
    const effectiveKind: CacheKind = w === null ? 'full' : kind;
    if (mla) {
      const latent = att.kvLoraRank!;
      const rope = att.ropeDim ?? 0;
      return { block, kind: effectiveKind, attention: 'mla', kvHeads: 1, keyDim: 0, valueDim: 0, latentDim: latent, ropeDim: rope, window: w, elementsPerToken: latent + rope, stateElements: state, queryHeads: heads, scoreKeyDim: keyDim, scoreValueDim: valueDim };
    }
    return {
      block, kind: effectiveKind, attention: attentionKind(heads, kvHeads, false), kvHeads, keyDim, valueDim, latentDim: 0, ropeDim: 0, window: w,
      elementsPerToken: kvHeads * (keyDim + valueDim), stateElements: state, queryHeads: heads, scoreKeyDim: keyDim, scoreValueDim: valueDim,
    };
  });

  return {
    architecture: arch,
    layers,
    summary: summarize(layers),
    elementsPerToken: layers.reduce((s, l) => s + l.elementsPerToken, 0),
    stateElements: layers.reduce((s, l) => s + l.stateElements, 0),
    source: sources.length ? sources.join('; ') : rule ? 'architecture table' : 'head counts',
    warnings,
  };
}

/** Short label of a layer's cache, e.g. 'GQA sliding 1024', 'MLA full', 'recurrent', 'GQA full + SSM'. */
export function layerCacheLabel(l: LayerCache): string {
  if (l.kind === 'recurrent') return 'recurrent';
  if (l.kind === 'none') return 'no cache (MLP)';
  const base = `${(l.attention ?? 'mha').toUpperCase()} ${l.kind}${l.window !== null ? ` ${l.window}` : ''}`;
  return l.stateElements > 0 ? `${base} + SSM` : base;
}

function summarize(layers: readonly LayerCache[]): string {
  const counts = new Map<string, number>();
  for (const l of layers) counts.set(layerCacheLabel(l), (counts.get(layerCacheLabel(l)) ?? 0) + 1);
  if (counts.size === 1) return [...counts.keys()][0]!;
  return [...counts].map(([label, n]) => `${n}× ${label}`).join(', ');
}

/** Tokens a layer holds at context `context`. */
export function tokensHeld(layer: LayerCache, context: number): number {
  return layer.window === null ? context : Math.min(context, layer.window);
}

/** K + V cache elements of all layers for `batch` sequences of `context` tokens (state excluded). */
export function kvCacheElements(desc: CacheDescription, context: number, batch: number): number {
  let perSequence = 0;
  for (const l of desc.layers) perSequence += l.elementsPerToken * tokensHeld(l, context);
  return perSequence * batch;
}

/**
 * Score FLOPs of one decode step at position `context` (QKᵀ and softmax·V over the tokens each layer attends to):
 * 2 × query heads × (K dim + V dim) × tokens per layer.
 */
export function attentionDecodeFlops(desc: CacheDescription, context: number): number {
  let f = 0;
  for (const l of desc.layers) f += 2 * l.queryHeads * (l.scoreKeyDim + l.scoreValueDim) * tokensHeld(l, context);
  return f;
}

/**
 * Score FLOPs of a causal prefill of `context` tokens (half the square for full layers; windowed layers attend
 * at most `window` tokens, chunked layers only within their chunk).
 */
export function attentionPrefillFlops(desc: CacheDescription, context: number): number {
  let f = 0;
  for (const l of desc.layers) {
    const perToken = 2 * l.queryHeads * (l.scoreKeyDim + l.scoreValueDim);
    let pairs: number;
    if (l.window === null || context <= l.window) pairs = (context * context) / 2;
    else if (l.kind === 'chunked') pairs = (Math.floor(context / l.window) * l.window * l.window + (context % l.window) ** 2) / 2;
    else pairs = l.window * context - (l.window * l.window) / 2;
    f += perToken * pairs;
  }
  return f;
}
