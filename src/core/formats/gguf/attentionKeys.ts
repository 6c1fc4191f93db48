/**
 * GGUF attention and cache keys → {@link AttentionHyperparameters}. Key names are llama.cpp's `LLM_KV_*`
 * (`src/llama-arch.cpp`), all prefixed by `general.architecture`:
 * - MLA: `attention.kv_lora_rank`, `rope.dimension_count` (the decoupled RoPE key), `attention.key_length_mla` /
 *   `attention.value_length_mla` (per-head Q·K and V dims; newer DeepSeek conversions store the latent
 *   576/512 in `key_length`/`value_length` and the head dims in the `_mla` keys);
 * - windows: `attention.sliding_window` (0 disables Llama 4's chunking), `attention.sliding_window_pattern`
 *   (a period, or one bool per layer: true = windowed);
 * - hybrids: `attention.head_count_kv` as a per-layer array (0 = recurrent layer: Jamba, Granite 4, LFM2),
 *   `full_attention_interval` (Qwen3-Next), `ssm.conv_kernel` / `ssm.inner_size` / `ssm.state_size` /
 *   `ssm.group_count`, RWKV `wkv.head_size` / `token_shift_count`, LFM2 `shortconv.l_cache`;
 * - Nemotron-H: per-layer `head_count_kv` and `feed_forward_length` (both 0: Mamba-2; only KV 0: MLP/MoE block);
 * - DeepSeek sparse attention: `attention.indexer.head_count` / `key_length` / `top_k` (named in a warning);
 * - `nextn_predict_layers`: multi-token-prediction layers counted in `block_count` (GLM-4.5, …).
 */
import type { AttentionHyperparameters, CacheKind, SsmHyperparameters } from '../../model/attention';

/** A metadata value as numbers: a scalar, or the items of a short numeric/bool array. */
export interface GgufNumbers {
  readonly scalar?: number;
  readonly numbers?: readonly number[];
}

/** Result of {@link attentionFromKvs}. */
export interface GgufAttention {
  readonly attention: AttentionHyperparameters;
  /** Per-head Q·K dim for MLA files whose `key_length` holds the latent. */
  readonly headDim?: number;
  readonly mtpLayerCount?: number;
}

/** Largest plausible dim/window (2^30). Values above are ignored as corrupt rather than trusted. */
const MAX_DIM = 1 << 30;

/** Reads the attention keys of `arch` through `get` (undefined for absent keys). */
export function attentionFromKvs(arch: string, get: (key: string) => GgufNumbers | undefined): GgufAttention {
  const scalar = (suffix: string): number | undefined => {
    const v = get(`${arch}.${suffix}`)?.scalar;
    return v !== undefined && Number.isSafeInteger(v) && v >= 0 && v <= MAX_DIM ? v : undefined;
  };
  const array = (suffix: string): readonly number[] | undefined => {
    const v = get(`${arch}.${suffix}`)?.numbers;
    return v && v.length > 0 && v.every((x) => Number.isSafeInteger(x) && x >= 0 && x <= MAX_DIM) ? v : undefined;
  };
  const out: { -readonly [K in keyof AttentionHyperparameters]: AttentionHyperparameters[K] } = {};
  let headDim: number | undefined;

  const kvLoraRank = scalar('attention.kv_lora_rank');
  if (kvLoraRank !== undefined && kvLoraRank > 0) {
    out.kvLoraRank = kvLoraRank;
    const rope = scalar('rope.dimension_count');
    if (rope !== undefined) out.ropeDim = rope;
    headDim = scalar('attention.key_length_mla');
    const v = scalar('attention.value_length_mla') ?? scalar('attention.value_length');
    if (v !== undefined) out.valueDim = v;
  } else {
    const v = scalar('attention.value_length');
    if (v !== undefined) out.valueDim = v;
  }

  const window = scalar('attention.sliding_window');
  if (window !== undefined) out.slidingWindow = window;
  const pattern = get(`${arch}.attention.sliding_window_pattern`);
  if (pattern?.scalar !== undefined && Number.isSafeInteger(pattern.scalar) && pattern.scalar >= 0) out.slidingWindowPeriod = pattern.scalar;
  else if (pattern?.numbers && pattern.numbers.length > 0) {
    const kind: CacheKind = arch === 'llama4' ? 'chunked' : 'sliding';
    out.layerKinds = pattern.numbers.map((x) => (x ? kind : 'full'));
  }

  const kvHeads = array('attention.head_count_kv');
  if (kvHeads && new Set(kvHeads).size > 1) out.kvHeadsPerLayer = kvHeads;
  // Nemotron-H: a layer with neither KV heads nor an FFN is Mamba-2; no KV heads but an FFN is an MLP/MoE block
  // (llama.cpp `recurrent_layer_arr[i] = n_head_kv(i) == 0 && n_ff(i) == 0`).
  const ff = array('feed_forward_length');
  if (arch.startsWith('nemotron_h') && kvHeads && ff && ff.length === kvHeads.length && kvHeads.includes(0)) {
    out.layerKinds = kvHeads.map((h, il): CacheKind => (h > 0 ? 'full' : ff[il]! > 0 ? 'none' : 'recurrent'));
  }
  const idxDim = scalar('attention.indexer.key_length');
  if (idxDim !== undefined && idxDim > 0) out.indexer = { heads: scalar('attention.indexer.head_count') ?? 0, headDim: idxDim, topK: scalar('attention.indexer.top_k') ?? 0 };
  const interval = scalar('full_attention_interval');
  if (interval !== undefined && interval > 0) out.fullAttentionInterval = interval;

  const convKernel = scalar('ssm.conv_kernel');
  const innerSize = scalar('ssm.inner_size');
  const stateSize = scalar('ssm.state_size');
  if (convKernel !== undefined && innerSize !== undefined && stateSize !== undefined) {
    const ssm: SsmHyperparameters = { convKernel, innerSize, stateSize, groupCount: scalar('ssm.group_count') ?? 0 };
    out.ssm = ssm;
  }
  const embedding = scalar('embedding_length');
  const wkvHeadSize = scalar('wkv.head_size');
  if (wkvHeadSize !== undefined && embedding !== undefined) {
    // RWKV: WKV state n_embd × head_size plus token-shift rows (llama.cpp n_embd_s / n_embd_r).
    out.stateElementsPerLayer = embedding * wkvHeadSize + (scalar('token_shift_count') ?? 2) * embedding;
  }
  const shortConv = scalar('shortconv.l_cache');
  if (shortConv !== undefined && embedding !== undefined) out.stateElementsPerLayer = Math.max(0, shortConv - 1) * embedding;

  const mtp = scalar('nextn_predict_layers');
  return { attention: out, ...(headDim !== undefined ? { headDim } : {}), ...(mtp !== undefined && mtp > 0 ? { mtpLayerCount: mtp } : {}) };
}
