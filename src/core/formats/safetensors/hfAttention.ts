/**
 * Hugging Face `config.json` attention and cache keys → {@link AttentionHyperparameters}. Names as in the
 * transformers configuration classes (`models/<name>/configuration_<name>.py`):
 * - MLA (DeepSeek-V2/V3, Kimi K2): `kv_lora_rank`, `qk_rope_head_dim`, `qk_nope_head_dim`, `v_head_dim`;
 * - windows: `sliding_window` (null = none; Qwen2's `use_sliding_window: false` disables it, and with it on only
 *   layers ≥ `max_window_layers` are windowed), `sliding_window_pattern` (Gemma 3: 6), `attention_chunk_size`
 *   (Llama 4), `layer_types` (one string per layer: `full_attention`, `sliding_attention`, `chunked_attention`,
 *   `linear_attention`, `mamba`, `attention`, `conv`);
 * - hybrids: Jamba `attn_layer_period`/`attn_layer_offset` and `mamba_d_state`/`mamba_d_conv`/`mamba_expand`;
 *   Falcon-H1 / Granite 4 `mamba_d_ssm`, `mamba_n_groups`, `mamba_n_heads`, `mamba_d_head`; Qwen3-Next
 *   `full_attention_interval`, `linear_conv_kernel_dim`, `linear_key_head_dim`, `linear_value_head_dim`,
 *   `linear_num_key_heads`, `linear_num_value_heads`; Mamba/Mamba-2 `state_size`, `conv_kernel`, `expand`,
 *   `n_groups`; Nemotron-H `hybrid_override_pattern` (M/* /-/E per layer), `mamba_num_heads` × `mamba_head_dim`,
 *   `ssm_state_size`;
 * - DeepSeek V3.2 sparse attention indexer: `index_n_heads`, `index_head_dim`, `index_topk`;
 * - `num_nextn_predict_layers`: DeepSeek-V3's multi-token-prediction layers, stored after the main blocks.
 */
import type { AttentionHyperparameters, CacheKind, SsmHyperparameters } from '../../model/attention';

/** Result of {@link attentionFromHfConfig}. */
export interface HfAttention {
  readonly attention: AttentionHyperparameters;
  /** Per-head Q·K dim when the config gives it only as parts (MLA: nope + rope). */
  readonly headDim?: number;
  readonly mtpLayerCount?: number;
}

/** Largest plausible dim/window/layer count (2^30). */
const MAX_DIM = 1 << 30;
/** Longest `layer_types` list read. Threat: a config with millions of entries. */
const MAX_LAYER_TYPES = 1 << 16;

const LAYER_TYPES: ReadonlyMap<string, CacheKind> = new Map<string, CacheKind>([
  ['full_attention', 'full'],
  ['attention', 'full'],
  ['global', 'full'],
  ['sliding_attention', 'sliding'],
  ['local', 'sliding'],
  ['chunked_attention', 'chunked'],
  ['linear_attention', 'recurrent'],
  ['mamba', 'recurrent'],
  ['mamba2', 'recurrent'],
  ['conv', 'recurrent'],
]);

/** Nemotron-H `hybrid_override_pattern` characters: Mamba-2, attention, MLP, MoE. */
const HYBRID_PATTERN: ReadonlyMap<string, CacheKind> = new Map<string, CacheKind>([
  ['M', 'recurrent'],
  ['*', 'full'],
  ['-', 'none'],
  ['E', 'none'],
]);

/** Reads attention keys from the config objects (top level first, then `text_config` and friends). */
export function attentionFromHfConfig(objects: readonly Record<string, unknown>[], embeddingLength: number | undefined, blockCount: number | undefined): HfAttention {
  const raw = (key: string): unknown => {
    for (const o of objects) if (Object.prototype.hasOwnProperty.call(o, key) && o[key] !== undefined) return o[key];
    return undefined;
  };
  const int = (key: string): number | undefined => {
    const v = raw(key);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_DIM ? v : undefined;
  };
  const num = (key: string): number | undefined => {
    const v = raw(key);
    return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_DIM ? v : undefined;
  };
  const out: { -readonly [K in keyof AttentionHyperparameters]: AttentionHyperparameters[K] } = {};
  let headDim: number | undefined;

  const kvLoraRank = int('kv_lora_rank');
  if (kvLoraRank !== undefined && kvLoraRank > 0) {
    out.kvLoraRank = kvLoraRank;
    const rope = int('qk_rope_head_dim');
    const nope = int('qk_nope_head_dim');
    if (rope !== undefined) out.ropeDim = rope;
    if (rope !== undefined && nope !== undefined) headDim = rope + nope;
  }
  const v = int('v_head_dim');
  if (v !== undefined && v > 0) out.valueDim = v;

  //#region windows and per-layer kinds
  const window = int('sliding_window');
  const windowOff = raw('use_sliding_window') === false;
  if (window !== undefined && window > 0 && !windowOff) out.slidingWindow = window;
  const period = int('sliding_window_pattern');
  if (period !== undefined && period > 0) out.slidingWindowPeriod = period;
  const chunk = int('attention_chunk_size');
  if (chunk !== undefined && chunk > 0) out.chunkSize = chunk;

  const types = raw('layer_types');
  if (Array.isArray(types) && types.length > 0 && types.length <= MAX_LAYER_TYPES && types.every((t) => typeof t === 'string')) {
    const unknown = new Set<string>();
    out.layerKinds = (types as string[]).map((t) => {
      const k = LAYER_TYPES.get(t);
      if (k === undefined) unknown.add(t);
      return k ?? 'full';
    });
    if (unknown.size) out.unknownLayerKinds = [...unknown].slice(0, 8).map((t) => t.slice(0, 60));
  } else if (out.slidingWindow !== undefined && raw('use_sliding_window') === true && blockCount !== undefined) {
    // Qwen2-family: windowed layers are those at or after max_window_layers.
    const from = int('max_window_layers') ?? 0;
    out.layerKinds = Array.from({ length: Math.min(blockCount, MAX_LAYER_TYPES) }, (_, il) => (il >= from ? 'sliding' : 'full'));
  } else if (typeof raw('hybrid_override_pattern') === 'string' && (raw('hybrid_override_pattern') as string).length > 0 && (raw('hybrid_override_pattern') as string).length <= MAX_LAYER_TYPES) {
    // Nemotron-H: one character per layer.
    const unknown = new Set<string>();
    out.layerKinds = [...(raw('hybrid_override_pattern') as string)].map((c) => {
      const k = HYBRID_PATTERN.get(c);
      if (k === undefined) unknown.add(c);
      return k ?? 'full';
    });
    if (unknown.size) out.unknownLayerKinds = [...unknown].slice(0, 8).map((t) => `hybrid_override_pattern '${t}'`);
  } else if (blockCount !== undefined && blockCount <= MAX_LAYER_TYPES && int('attn_layer_period') !== undefined) {
    // Jamba: attention where il mod period = offset, Mamba elsewhere.
    const p = Math.max(1, int('attn_layer_period')!);
    const offset = int('attn_layer_offset') ?? 0;
    out.layerKinds = Array.from({ length: blockCount }, (_, il) => (il % p === offset ? 'full' : 'recurrent'));
  }
  const interval = int('full_attention_interval');
  if (interval !== undefined && interval > 0) out.fullAttentionInterval = interval;
  //#endregion

  //#region recurrent state
  const ssm = ssmFromConfig(int, num, embeddingLength);
  if (ssm) out.ssm = ssm;
  //#endregion

  // DeepSeek V3.2 sparse attention indexer.
  const idxDim = int('index_head_dim');
  if (idxDim !== undefined && idxDim > 0) out.indexer = { heads: int('index_n_heads') ?? 0, headDim: idxDim, topK: int('index_topk') ?? 0 };

  const mtp = int('num_nextn_predict_layers');
  return { attention: out, ...(headDim !== undefined ? { headDim } : {}), ...(mtp !== undefined && mtp > 0 ? { mtpLayerCount: mtp } : {}) };
}

function ssmFromConfig(int: (k: string) => number | undefined, num: (k: string) => number | undefined, embedding: number | undefined): SsmHyperparameters | undefined {
  // Qwen3-Next Gated DeltaNet: value heads × value dim wide, key-dim state per value channel, key heads as groups.
  const vHeads = int('linear_num_value_heads');
  const vDim = int('linear_value_head_dim');
  const kHeads = int('linear_num_key_heads');
  const kDim = int('linear_key_head_dim');
  if (vHeads && vDim && kHeads && kDim) return { convKernel: int('linear_conv_kernel_dim') ?? 4, innerSize: vHeads * vDim, stateSize: kDim, groupCount: kHeads };
  // Jamba / Falcon-H1 / Granite 4 (`mamba_*`) and Mamba / Mamba-2 (`state_size`, `conv_kernel`).
  const dState = int('mamba_d_state') ?? int('state_size') ?? int('ssm_state_size');
  const dConv = int('mamba_d_conv') ?? int('conv_kernel');
  if (!dState || !dConv) return undefined;
  const heads = int('mamba_n_heads') ?? int('num_heads');
  const headDim = int('mamba_d_head') ?? int('head_dim');
  const expand = num('mamba_expand') ?? num('expand');
  const inner =
    int('mamba_d_ssm') ??
    (int('mamba_n_heads') && int('mamba_d_head') ? int('mamba_n_heads')! * int('mamba_d_head')! : undefined) ??
    (int('mamba_num_heads') && int('mamba_head_dim') ? int('mamba_num_heads')! * int('mamba_head_dim')! : undefined) ??
    (expand && embedding ? Math.round(expand * embedding) : undefined) ??
    (heads && headDim && int('state_size') ? heads * headDim : undefined) ??
    int('intermediate_size');
  if (!inner) return undefined;
  return { convKernel: dConv, innerSize: inner, stateSize: dState, groupCount: int('mamba_n_groups') ?? int('n_groups') ?? 0 };
}
