/**
 * llama.cpp's memory on the CPU backend, buffer by buffer, as its loader and context allocate them
 * (ggml-org/llama.cpp: src/llama-model.cpp `load_tensors`, src/llama-kv-cache.cpp, src/llama-context.cpp
 * `output_reserve` / `sched_reserve`, ggml/src/ggml-cpu/{amx,repack.cpp}):
 *
 * - **model buffers**: each weight goes to the first buffer type that supports its op: the CPU "extra" buffer
 *   types (AMX on Sapphire Rapids-class x86, then CPU_REPACK) for matrix weights of the types and shapes they
 *   accept, else the plain CPU buffer. With mmap (the default) the plain CPU buffer is the file range spanning
 *   the tensors left in it (`CPU_Mapped`: first tensor's offset to the last one's end, so a weight moved to an
 *   extra buffer in the middle of the file is counted twice). Extra buffers are real allocations:
 *   AMX packs Q8_0 with +4 B per block (compensation) and Q4_K/Q5_K with +4 B, IQ4_XS with +2 B; CPU_REPACK
 *   interleaves rows without changing size (Q4_0 / Q4_K / IQ4_NL with rows % 8 on AVX2, Q2_K on AVX-512;
 *   on ARM Q4_0 / IQ4_NL with rows % 4, Q4_K with rows % 8). Token embeddings (GET_ROWS) stay in CPU.
 * - **KV buffer**: per attention layer, K = cells × row size of `n_embd_head_k × n_head_kv` in the K type,
 *   V likewise (block types need whole blocks per row); MLA layers keep K rows only (kv_lora_rank + RoPE dim). Cells = the context padded to 256, per sequence
 *   (one stream each: the non-unified cache); sliding-window layers keep min(cells, pad(window + ubatch, 256)).
 * - **compute buffer**: the worst-case micro-batch graph placed by ggml-alloc ({@link buildDecoderGraph}).
 * - **output buffer**: logits for one row per sequence, vocab × 4 B each (`output_reserve(n_seq_max)`).
 *
 * Not modeled: GPU offload, recurrent/linear-attention state (reported as a warning), encoder-decoder and
 * vision graphs, LoRA adapters, and the work buffer the CPU backend allocates per graph evaluation.
 */
import type { Model, TensorInfo } from '../../model/types';
import { dtypeInfo } from '../../model/dtypes';
import { tensorIndex } from '../../model/tensorIndex';
import { GGML_TYPES } from '../../formats/gguf/ggmlTypes';
import { describeCache } from '../../model/attention';
import { buildDecoderGraph, buildMambaGraph, type GraphDims, type GraphLayer } from './llamaCppGraph';
import type { RuntimeComponent, RuntimeMemory } from './types';
import { RuntimeError } from './types';

/** CPU instruction-set classes that decide llama.cpp's extra weight buffers. */
export type LlamaCpuKind = 'x86-amx' | 'x86-avx512' | 'x86-avx2' | 'arm-i8mm' | 'arm-dotprod' | 'generic';
/** Accepted CPU kinds, for option validation. */
export const LLAMA_CPU_KINDS: readonly LlamaCpuKind[] = ['x86-amx', 'x86-avx512', 'x86-avx2', 'arm-i8mm', 'arm-dotprod', 'generic'];

/** K/V cache types llama.cpp accepts (`--cache-type-k/v`). */
export const LLAMA_KV_TYPES: readonly string[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'iq4_nl', 'q5_0', 'q5_1'];

/** llama.cpp's defaults (common/common.h, llama_context_default_params). */
export const LLAMA_DEFAULTS = { batch: 2048, ubatch: 512, sequences: 1, kvType: 'f16', cpu: 'x86-avx2' as LlamaCpuKind, contextPad: 256 } as const;

/** Options of {@link llamaCppMemory}. */
export interface LlamaCppOptions {
  /** Context per sequence in tokens. */
  readonly context: number;
  /** Logical batch (n_batch). */
  readonly batch?: number;
  /** Micro-batch (n_ubatch). */
  readonly ubatch?: number;
  /** Parallel sequences (n_seq_max); each gets its own KV stream. */
  readonly sequences?: number;
  readonly flashAttention?: boolean;
  /** K and V cache types (default f16). */
  readonly kvTypeK?: string;
  readonly kvTypeV?: string;
  readonly cpu?: LlamaCpuKind;
  /** Weights at a plan's formats: replaces the model buffers (llama.cpp's buffers are for the stored types). */
  readonly plannedWeightBytes?: number;
}

/** Per-layer cache of one block, as llama.cpp sizes it. */
export interface LlamaLayerCache {
  readonly kind: 'full' | 'swa' | 'recurrent';
  /** Query heads (for the graph). */
  readonly heads: number;
  /** KV heads of the cache rows (MLA: 1 latent "head"). */
  readonly kvHeads: number;
  /** Elements per K row per head and per V row per head (MLA: kv_lora_rank + RoPE dim, and kv_lora_rank). */
  readonly headDimK: number;
  readonly headDimV: number;
  /** Sliding or chunked window in tokens (kind 'swa'). */
  readonly window?: number;
  /** Constant recurrent state per sequence, FP32 elements (llama.cpp's r/s tensors); 0 for attention-only layers. */
  readonly stateElements: number;
  readonly mla: boolean;
}

/** Where one weight lives. */
export type LlamaBufferType = 'CPU_Mapped' | 'AMX' | 'CPU_REPACK';

const KQ_ROWS_AMX_ALIGN = 32; // TILE_N * 2: output rows of the matmul
/** AMX (ggml-cpu/amx): accepted types → [row alignment of ne0, extra bytes per block]. */
const AMX_TYPES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['Q4_0', [32, 0]], ['Q4_1', [32, 0]], ['Q8_0', [32, 4]], ['Q4_K', [256, 4]], ['Q5_K', [256, 4]], ['Q6_K', [256, 0]], ['IQ4_XS', [256, 2]], ['F16', [16, 0]],
]);

/** CPU_REPACK (ggml-cpu/repack.cpp `ggml_repack_get_optimal_repack_type`): type → rows multiple, per CPU kind. */
const REPACK: Readonly<Record<LlamaCpuKind, ReadonlyMap<string, number>>> = {
  'x86-amx': new Map([['Q4_0', 8], ['Q4_K', 8], ['IQ4_NL', 8], ['Q2_K', 8]]),
  'x86-avx512': new Map([['Q4_0', 8], ['Q4_K', 8], ['IQ4_NL', 8], ['Q2_K', 8]]),
  'x86-avx2': new Map([['Q4_0', 8], ['Q4_K', 8], ['IQ4_NL', 8]]),
  'arm-i8mm': new Map([['Q4_0', 4], ['Q4_K', 8], ['IQ4_NL', 4]]),
  'arm-dotprod': new Map([['Q4_0', 4], ['Q4_K', 8], ['IQ4_NL', 4]]),
  generic: new Map(),
};

const GGML_NAME_BY_DTYPE = new Map(GGML_TYPES.map((t) => [t.dtype, t.name]));

/** ggml dims (ne[0] first) of an IR tensor. */
function ne(t: TensorInfo): number[] {
  return [...t.shape].reverse();
}

/** Bytes of `elements` of a ggml type (whole blocks). Throws for a type whose block does not divide the row. */
function rowBytes(dtype: string, elements: number): number {
  const info = dtypeInfo(dtype);
  if (!info) throw new RuntimeError('bad-option', `Unknown cache type '${dtype}'.`);
  if (elements % info.blockSize !== 0) throw new RuntimeError('bad-option', `A cache row of ${elements} elements is not a whole number of ${info.label} blocks of ${info.blockSize}.`);
  return (elements / info.blockSize) * info.bytesPerBlock;
}

const MATMUL_EXCLUDED = /^(token_embd|token_types|position_embd|rope_freqs|per_layer_token_embd)\.|(norm|_b|bias|scale)(\.weight)?$/;

/** The op consuming a weight: 2-D matrices are MUL_MAT, 3-D expert stacks MUL_MAT_ID, the rest elementwise or GET_ROWS. */
function weightOp(t: TensorInfo): 'mul_mat' | 'mul_mat_id' | 'other' {
  if (MATMUL_EXCLUDED.test(t.name) || !t.name.endsWith('.weight')) return 'other';
  if (t.shape.length === 2) return 'mul_mat';
  if (t.shape.length === 3 && /_exps\./.test(t.name)) return 'mul_mat_id';
  return 'other';
}

/** The buffer type and allocated bytes llama.cpp gives one weight on this CPU. */
export function llamaWeightBuffer(t: TensorInfo, cpu: LlamaCpuKind): { readonly buffer: LlamaBufferType; readonly bytes: number } {
  const type = GGML_NAME_BY_DTYPE.get(t.dtype) ?? '';
  const op = weightOp(t);
  const [k, rows] = [ne(t)[0] ?? 1, ne(t)[1] ?? 1];
  if (op === 'mul_mat' && cpu === 'x86-amx') {
    const amx = AMX_TYPES.get(type);
    if (amx && rows % KQ_ROWS_AMX_ALIGN === 0 && k % amx[0] === 0) {
      const info = dtypeInfo(t.dtype)!;
      const bytes = type === 'F16' ? t.byteLength : rows * (k / info.blockSize) * (info.bytesPerBlock + amx[1]);
      return { buffer: 'AMX', bytes };
    }
  }
  if (op !== 'other') {
    const multiple = REPACK[cpu].get(type);
    if (multiple !== undefined && rows % multiple === 0) return { buffer: 'CPU_REPACK', bytes: t.byteLength };
  }
  return { buffer: 'CPU_Mapped', bytes: t.byteLength };
}

const pad = (x: number, m: number): number => Math.ceil(x / m) * m;
const align32 = (x: number): number => pad(x, 32);

interface ModelBuffers {
  readonly byBuffer: ReadonlyMap<LlamaBufferType, number>;
  readonly movedTensors: number;
}

/** Model buffers: the mapped span of CPU-resident weights plus the extra buffers' allocations. */
function modelBuffers(model: Model, cpu: LlamaCpuKind, tiedOutput: TensorInfo | undefined): ModelBuffers {
  const sums = new Map<LlamaBufferType, number>();
  let first = Number.POSITIVE_INFINITY;
  let end = 0;
  let moved = 0;
  let unlocated = 0;
  let mappedSum = 0;
  const place = (t: TensorInfo, mapped: boolean): void => {
    const { buffer, bytes } = llamaWeightBuffer(t, cpu);
    if (buffer === 'CPU_Mapped') {
      if (mapped) mappedSum += t.byteLength;
      if (mapped && t.file !== undefined) {
        first = Math.min(first, t.byteOffset);
        end = Math.max(end, t.byteOffset + t.byteLength);
      } else if (mapped) {
        unlocated += t.byteLength; // no file position known (built in memory): count its bytes
      }
      return;
    }
    moved++;
    sums.set(buffer, (sums.get(buffer) ?? 0) + align32(bytes));
  };
  for (const t of model.tensors) place(t, true);
  // Tied embeddings: llama.cpp creates `output` as a duplicate of token_embd for the output layer's buffer list.
  if (tiedOutput) place({ ...tiedOutput, name: 'output.weight' }, false);
  // The span covers every mapped tensor, so it is never below their sum (in-memory models may lack real offsets).
  sums.set('CPU_Mapped', Math.max((end > first ? end - first : 0) + unlocated, mappedSum));
  return { byBuffer: sums, movedTensors: moved };
}

/** Reads a per-layer value that GGUF may store as a scalar or an array. */
function perLayer(model: Model, key: string, layer: number): number | undefined {
  const v = model.metadata[key];
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) {
    const x = v[layer];
    return typeof x === 'number' ? x : undefined;
  }
  return undefined;
}

/**
 * Per-layer caches llama.cpp keeps, from the model's cache description (model/attention.ts: GQA/MQA/MHA, MLA,
 * sliding and chunked windows, recurrent state). llama.cpp stores MLA as one latent row per token in K
 * (kv_lora_rank + RoPE dim) and reads V (kv_lora_rank) as a view of it, so the V buffer is empty (measured:
 * "K (f16): 9.00 MiB, V (f16): 0.00 MiB"); legacy conversions with one `attn_kv_b` run as multi-head attention.
 * Sliding and chunked layers both live in its SWA cache (`llama_kv_cache_iswa`).
 */
export function llamaLayerCaches(model: Model): LlamaLayerCache[] {
  const desc = describeCache(model.hyperparameters);
  if (!desc) return [];
  // Legacy MLA conversions (one `attn_kv_b` instead of `attn_k_b` + `attn_v_b`) run as plain multi-head attention.
  const legacyMla = model.tensors.some((t) => /^blk\.\d+\.attn_kv_b\.weight$/.test(t.name)) && !model.tensors.some((t) => /^blk\.\d+\.attn_k_b\.weight$/.test(t.name));
  return desc.layers.map((l) => {
    if (legacyMla && l.attention === 'mla') {
      const dims = { kvHeads: model.hyperparameters.kvHeadCount ?? l.queryHeads, headDimK: l.scoreKeyDim, headDimV: l.scoreValueDim };
      const c = { heads: l.queryHeads, stateElements: l.stateElements, mla: false };
      return l.kind === 'full' || l.window === null ? { ...c, kind: 'full' as const, ...dims } : { ...c, kind: 'swa' as const, window: l.window, ...dims };
    }
    const mla = l.attention === 'mla';
    const common = { heads: l.queryHeads, stateElements: l.stateElements, mla };
    if (l.kind === 'recurrent' || l.attention === null) return { ...common, kind: 'recurrent' as const, kvHeads: 0, headDimK: 0, headDimV: 0 };
    const dims = mla ? { kvHeads: 1, headDimK: l.latentDim + l.ropeDim, headDimV: l.latentDim } : { kvHeads: l.kvHeads, headDimK: l.keyDim, headDimV: l.valueDim };
    return l.kind === 'full' || l.window === null ? { ...common, kind: 'full' as const, ...dims } : { ...common, kind: 'swa' as const, window: l.window, ...dims };
  });
}

function tensorNamed(model: Model, name: string): TensorInfo | undefined {
  return tensorIndex(model).get(name);
}

/** Graph-relevant FFN facts of one layer. */
function ffnOf(model: Model, il: number): { ffn: number; experts: number; used: number; shared: number } {
  const hp = model.hyperparameters;
  const arch = hp.architecture ?? '';
  const experts = hp.expertCount ?? 0;
  const has = (suffix: string): TensorInfo | undefined => tensorNamed(model, `blk.${il}.${suffix}`);
  const exps = has('ffn_up_exps.weight') ?? has('ffn_gate_exps.weight');
  if (experts > 0 && exps) {
    const shexp = has('ffn_up_shexp.weight');
    return {
      ffn: perLayer(model, `${arch}.expert_feed_forward_length`, il) ?? ne(exps)[1]!,
      experts,
      used: hp.expertUsedCount ?? 1,
      shared: shexp ? ne(shexp)[1]! : 0,
    };
  }
  const up = has('ffn_up.weight') ?? has('ffn_gate.weight');
  return { ffn: perLayer(model, `${arch}.feed_forward_length`, il) ?? (up ? ne(up)[1]! : 4 * (hp.embeddingLength ?? 0)), experts: 0, used: 0, shared: 0 };
}

/**
 * llama.cpp's buffers for `model` (a GGUF) on the CPU backend. Throws {@link RuntimeError} ('bad-option') for
 * impossible options and ('unsupported') when the model lacks the transformer hyperparameters it needs.
 */
export function llamaCppMemory(model: Model, options: LlamaCppOptions): RuntimeMemory {
  const hp = model.hyperparameters;
  const warnings: string[] = [];
  const assumptions: string[] = [];
  const cpu = options.cpu ?? LLAMA_DEFAULTS.cpu;
  const sequences = options.sequences ?? LLAMA_DEFAULTS.sequences;
  const batch = options.batch ?? LLAMA_DEFAULTS.batch;
  const flash = options.flashAttention ?? true;
  const typeK = (options.kvTypeK ?? LLAMA_DEFAULTS.kvType).toLowerCase();
  const typeV = (options.kvTypeV ?? typeK).toLowerCase();
  for (const t of [typeK, typeV]) if (!LLAMA_KV_TYPES.includes(t)) throw new RuntimeError('bad-option', `llama.cpp has no cache type '${t.slice(0, 20)}' (one of ${LLAMA_KV_TYPES.join(', ')}).`);
  if (!flash && typeV !== 'f16' && typeV !== 'f32' && typeV !== 'bf16') throw new RuntimeError('bad-option', `llama.cpp needs flash attention for a quantized V cache ('${typeV}').`);
  const embd = hp.embeddingLength;
  const vocab = hp.vocabSize;
  if (!embd || !vocab || !hp.blockCount) throw new RuntimeError('unsupported', `llama.cpp memory needs embedding length, vocabulary and block count; '${model.fileName}' lacks them.`);
  const cellsPerSeq = pad(options.context, LLAMA_DEFAULTS.contextPad);
  const nCtx = cellsPerSeq * sequences;
  const ubatch = Math.min(options.ubatch ?? LLAMA_DEFAULTS.ubatch, batch, nCtx);
  const dtK = typeK === 'f32' ? 'float32' : typeK === 'f16' ? 'float16' : typeK === 'bf16' ? 'bfloat16' : typeK;
  const dtV = typeV === 'f32' ? 'float32' : typeV === 'f16' ? 'float16' : typeV === 'bf16' ? 'bfloat16' : typeV;

  // Model buffers.
  const tokenEmbd = tensorNamed(model, 'token_embd.weight');
  const tied = !tensorNamed(model, 'output.weight') ? tokenEmbd : undefined;
  const mb = modelBuffers(model, cpu, tied);
  const components: RuntimeComponent[] = [];
  if (options.plannedWeightBytes !== undefined) {
    components.push({ id: 'weights', kind: 'weights', label: 'weights at the planned formats', bytes: options.plannedWeightBytes });
    assumptions.push('Weights at the planned formats replace llama.cpp\'s model buffers (those are computed for the stored types).');
  } else {
    for (const [buffer, bytes] of mb.byBuffer) if (bytes > 0 || buffer === 'CPU_Mapped') components.push({ id: `model:${buffer}`, kind: 'weights', label: `model buffer ${buffer}`, bytes });
  }

  // KV cache, per layer.
  const caches = llamaLayerCaches(model);
  let kvBytes = 0;
  const swaCells = (window: number): number => Math.min(cellsPerSeq, pad(window + ubatch, LLAMA_DEFAULTS.contextPad));
  const layers: GraphLayer[] = [];
  let kvPerToken = 0;
  let stateBytes = 0;
  caches.forEach((c, il) => {
    const f = ffnOf(model, il);
    stateBytes += c.stateElements * 4 * sequences;
    if (c.kind === 'recurrent') return;
    const cells = c.kind === 'swa' ? swaCells(c.window!) : cellsPerSeq;
    const rowK = rowBytes(dtK, c.headDimK * c.kvHeads);
    // MLA: llama.cpp keeps only K rows (latent + RoPE key); V is a view of the latent part (`build_attn_inp_k`).
    const rowV = c.mla ? 0 : rowBytes(dtV, c.headDimV * c.kvHeads);
    kvBytes += cells * sequences * (rowK + rowV);
    kvPerToken += rowK + rowV;
    layers.push({
      heads: c.heads,
      kvHeads: c.kvHeads,
      headDimK: c.headDimK,
      headDimV: c.headDimV,
      kvCells: cells,
      ffn: f.ffn,
      experts: f.experts,
      expertsUsed: f.used,
      sharedFfn: f.shared,
      qkvBias: tensorNamed(model, `blk.${il}.attn_q.bias`) !== undefined,
      qkNorm: tensorNamed(model, `blk.${il}.attn_q_norm.weight`) !== undefined,
      fusedQkv: tensorNamed(model, `blk.${il}.attn_qkv.weight`) !== undefined,
    });
  });
  if (caches.length === 0) warnings.push(`No per-layer cache description for '${hp.architecture ?? 'unknown'}': llama.cpp's KV and compute buffers are not estimated.`);
  if (caches.some((c) => c.mla)) assumptions.push('MLA layers: llama.cpp caches one latent K row (kv_lora_rank + RoPE dim) per token and views V inside it; the compute buffer uses the attention graph at the latent dims (the absorbed q·wk_b and kqv·wv_b matmuls are not modeled separately; measured within 11 % / 8 MiB on a generated deepseek2 GGUF).');
  const ssm = hp.attention?.ssm;
  const dtRank = perLayer(model, `${hp.architecture ?? ''}.ssm.time_step_rank`, 0);
  const mamba1 = hp.architecture === 'mamba' && caches.length > 0 && caches.every((c) => c.kind === 'recurrent') && ssm !== undefined && dtRank !== undefined;
  if (stateBytes > 0 && !mamba1) warnings.push('Recurrent layers: their FP32 state is counted (llama.cpp\'s RS buffer); the compute buffer models attention layers only.');
  if (caches.some((c) => c.kind === 'swa')) assumptions.push(`Sliding-window layers keep min(context, window + ubatch) cells, padded to ${LLAMA_DEFAULTS.contextPad} (llama_kv_cache_iswa, swa_full off).`);
  components.push({ id: 'kv', kind: 'kv', label: `KV cache (K ${typeK}, V ${typeV})`, bytes: kvBytes });
  if (stateBytes > 0) components.push({ id: 'recurrent', kind: 'kv', label: 'recurrent state (RS buffer, F32)', bytes: stateBytes });

  // Compute buffer: the reserve graph at the micro-batch.
  const dims: GraphDims = { embd, vocab, layers, tokens: ubatch, outputs: ubatch, streams: sequences, flashAttention: flash, normTopK: true };
  let computeBytes = layers.length > 0 ? Math.max(buildDecoderGraph(dims).reserveBytes(), buildDecoderGraph({ ...dims, tokens: sequences, outputs: sequences }).reserveBytes()) : 0;
  if (mamba1) {
    // Recurrent models reserve with one sequence per state row: n_tokens = micro-batch, n_seqs = sequences.
    const tokens = Math.max(sequences, Math.floor(ubatch / sequences) * sequences);
    const md = { embd, vocab, layers: caches.length, dInner: ssm.innerSize, dState: ssm.stateSize, dConv: ssm.convKernel, dtRank, tokens, outputs: tokens, seqs: sequences };
    computeBytes = Math.max(buildMambaGraph(md).reserveBytes(), buildMambaGraph({ ...md, tokens: sequences, outputs: sequences }).reserveBytes());
  }
  components.push({ id: 'compute', kind: 'compute', label: 'compute buffer', bytes: computeBytes });

  // Output buffer.
  components.push({ id: 'output', kind: 'output', label: 'output buffer (logits)', bytes: vocab * 4 * sequences });

  assumptions.push(
    `llama.cpp on CPU (${cpu}): context ${options.context} → ${cellsPerSeq} cells × ${sequences} sequence${sequences === 1 ? '' : 's'}, batch ${batch}, micro-batch ${ubatch}, flash attention ${flash ? 'on' : 'off'}, mmap on.`,
  );
  if (mb.movedTensors > 0) assumptions.push(`${mb.movedTensors} weight matrices are copied out of the mapped file into ${[...mb.byBuffer.keys()].filter((b) => b !== 'CPU_Mapped').join(' and ')} buffers (resident, not paged from the file).`);
  const totalBytes = components.reduce((s, c) => s + c.bytes, 0);
  return {
    runtime: 'llama.cpp',
    measured: true,
    attention: flash ? 'flash attention' : 'KQ materialised (no flash attention)',
    kvBytesPerToken: kvPerToken,
    components,
    totalBytes,
    settings: { context: options.context, cells: cellsPerSeq, sequences, batch, ubatch, flashAttention: flash, kvTypeK: typeK, kvTypeV: typeV, cpu },
    warnings,
    assumptions,
  };
}
