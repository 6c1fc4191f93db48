/**
 * Hugging Face `config.json` beside the weights → {@link Hyperparameters}. Reads only well-known keys
 * (with GPT-2/T5-style aliases and the nested `text_config` of multimodal models). Bounded in size and depth;
 * a malformed file becomes a warning, never a failure of the model open.
 */
import { ModelFormatError, formatError } from '../../errors';
import type { SiblingResolver } from '../../io/byteSource';
import type { Limits } from '../../io/limits';
import type { Hyperparameters } from '../../model/types';
import { attentionFromHfConfig } from './hfAttention';
import { isJsonObject, parseJsonObject } from './json';

/** Largest config.json read. Threat: a multi-gigabyte "config" file forcing a huge read and parse. Real ones are a few KB. */
export const MAX_CONFIG_JSON_BYTES = 16 * 1024 * 1024;

//#region key aliases, first match wins
const KEYS = {
  blockCount: ['num_hidden_layers', 'n_layer', 'n_layers', 'num_layers'],
  headCount: ['num_attention_heads', 'n_head', 'n_heads', 'num_heads'],
  kvHeadCount: ['num_key_value_heads', 'n_head_kv', 'num_kv_heads', 'multi_query_group_num'],
  headDim: ['head_dim', 'kv_channels'],
  embeddingLength: ['hidden_size', 'n_embd', 'd_model', 'dim'],
  feedForwardLength: ['intermediate_size', 'n_inner', 'ffn_dim', 'd_ff', 'ffn_hidden_size'],
  contextLength: ['max_position_embeddings', 'n_positions', 'seq_length', 'max_seq_len', 'n_ctx'],
  vocabSize: ['vocab_size', 'padded_vocab_size'],
  expertCount: ['num_local_experts', 'n_routed_experts', 'num_experts', 'moe_num_experts'],
  expertUsedCount: ['num_experts_per_tok', 'num_experts_per_token', 'moe_top_k', 'top_k_experts'],
} as const;
//#endregion

/** Maps a parsed config object to hyperparameters (source 'config.json'). Ignores values that are not positive safe integers. */
export function hyperparametersFromHfConfig(config: Record<string, unknown>): Hyperparameters {
  // Multimodal wrappers keep the language model's numbers in text_config / llm_config.
  const nested = [config, config['text_config'], config['llm_config'], config['language_config']].filter(isJsonObject);
  const int = (keys: readonly string[]): number | undefined => {
    for (const obj of nested) {
      for (const k of keys) {
        const v = obj[k];
        if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
      }
    }
    return undefined;
  };
  const out: { -readonly [K in keyof Hyperparameters]: Hyperparameters[K] } = {};
  const archs = config['architectures'];
  if (Array.isArray(archs) && typeof archs[0] === 'string') out.architecture = archs[0].slice(0, 200);
  else if (typeof config['model_type'] === 'string') out.architecture = config['model_type'].slice(0, 200);
  for (const [field, keys] of Object.entries(KEYS) as [keyof typeof KEYS, readonly string[]][]) {
    const v = int(keys);
    if (v !== undefined) out[field] = v;
  }
  const attention = attentionFromHfConfig(nested, out.embeddingLength, out.blockCount);
  if (attention.headDim !== undefined && out.headDim === undefined) out.headDim = attention.headDim;
  if (attention.mtpLayerCount !== undefined) out.mtpLayerCount = attention.mtpLayerCount;
  if (Object.keys(attention.attention).length > 0) out.attention = attention.attention;
  // HF semantics: absent num_key_value_heads means multi-head attention (as many KV heads as heads).
  if (out.kvHeadCount === undefined && out.headCount !== undefined) out.kvHeadCount = out.headCount;
  if (out.headDim === undefined && out.embeddingLength !== undefined && out.headCount !== undefined && out.embeddingLength % out.headCount === 0) {
    out.headDim = out.embeddingLength / out.headCount;
  }
  out.source = 'config.json';
  return out;
}

/** `quantization_config.quant_method` (top level or in `text_config`), lower-cased; undefined when absent. */
export function quantMethodOf(config: Record<string, unknown>): string | undefined {
  for (const obj of [config, config['text_config']].filter(isJsonObject)) {
    const q = obj['quantization_config'];
    if (isJsonObject(q) && typeof q['quant_method'] === 'string') return q['quant_method'].slice(0, 40).toLowerCase();
  }
  return undefined;
}

/**
 * Reads `config.json` beside the model when present. Returns undefined when absent; a warning (and undefined)
 * when it is too large or malformed. Path-escape and I/O errors from the resolver also become warnings.
 */
export async function readHfConfig(siblings: SiblingResolver, limits: Limits): Promise<{ hyperparameters: Hyperparameters | undefined; warning: string | undefined; quantMethod?: string }> {
  const file = 'config.json';
  try {
    if (!(await siblings.exists(file))) return { hyperparameters: undefined, warning: undefined };
    const src = await siblings.open(file);
    if (src.size > MAX_CONFIG_JSON_BYTES) {
      return { hyperparameters: undefined, warning: formatError(file, `is ${src.size} bytes, above the ${MAX_CONFIG_JSON_BYTES}-byte limit, so hyperparameters were not read`) };
    }
    const bytes = await src.read(0, src.size);
    const { value } = parseJsonObject(file, bytes, limits.maxNestingDepth, 'the config');
    const method = quantMethodOf(value);
    return { hyperparameters: hyperparametersFromHfConfig(value), warning: undefined, ...(method !== undefined ? { quantMethod: method } : {}) };
  } catch (e) {
    if (e instanceof ModelFormatError) return { hyperparameters: undefined, warning: `${e.message.replace(/\.$/, '')}; hyperparameters were not read.` };
    throw e;
  }
}
