/**
 * vLLM's GPU memory, from its documented behaviour (docs.vllm.ai: "Engine arguments", "Optimization and
 * tuning", "Paged attention"; not measured in this repository):
 *
 * - vLLM takes `gpu_memory_utilization` (default 0.9) of each GPU's memory. From that budget it subtracts the
 *   weights, the peak activations of a profiling forward pass at `max_num_batched_tokens`, and the memory CUDA
 *   graph capture keeps; the rest becomes the KV-cache pool.
 * - The KV cache is paged: blocks of `block_size` tokens (default 16 on CUDA), each holding K and V for every
 *   layer. A sequence of C tokens needs ceil(C / block_size) blocks, so the estimator's KV figure (per-layer
 *   kinds and windows applied) grows by ceil(C / block_size) × block_size ÷ C; recurrent state is not paged.
 * - Activations are modeled like the tensor-only estimate: tokens × (2 × embedding + 2 × FFN width) × 2 B for
 *   the residual stream and FFN, plus FP32 logits for up to `max_num_seqs` rows.
 *
 * It fits when the KV the requested batch × context needs is no larger than the pool.
 */
import type { Model } from '../../model/types';
import { RuntimeError, type RuntimeComponent, type RuntimeMemory } from './types';

/** vLLM defaults (EngineArgs). */
export const VLLM_DEFAULTS = { gpuMemoryUtilization: 0.9, blockSize: 16, maxNumBatchedTokens: 8192, maxNumSeqs: 256, cudaGraphBytes: 2 ** 30 } as const;

/** Options of {@link vllmMemory}. */
export interface VllmOptions {
  readonly context: number;
  /** Concurrent sequences. */
  readonly sequences: number;
  /** KV-cache bytes per token of context (all layers, K + V, in the KV format, before windows; 0 = no KV cache). */
  readonly kvBytesPerToken: number;
  /** The estimator's KV bytes at `context` for all sequences (windows applied, recurrent state included). */
  readonly kvCacheBytes: number;
  /** Recurrent state bytes inside `kvCacheBytes` (not paged). */
  readonly recurrentStateBytes: number;
  readonly weightBytes: number;
  readonly capacityBytes: number;
  readonly gpuMemoryUtilization?: number;
  readonly blockSize?: number;
  readonly cudaGraphBytes?: number;
  readonly maxNumBatchedTokens?: number;
}

/** vLLM's budget, pool and needs for `model`. */
export function vllmMemory(model: Model, o: VllmOptions): RuntimeMemory {
  const hp = model.hyperparameters;
  const util = o.gpuMemoryUtilization ?? VLLM_DEFAULTS.gpuMemoryUtilization;
  if (!(util > 0 && util <= 1)) throw new RuntimeError('bad-option', `gpu-memory-utilization must be in (0, 1], got '${String(util)}'.`);
  const blockSize = o.blockSize ?? VLLM_DEFAULTS.blockSize;
  const graphs = o.cudaGraphBytes ?? VLLM_DEFAULTS.cudaGraphBytes;
  const batched = o.maxNumBatchedTokens ?? VLLM_DEFAULTS.maxNumBatchedTokens;
  const warnings: string[] = [];
  const perToken = o.kvBytesPerToken;
  if (perToken === 0) warnings.push('No KV cache found (decoder hyperparameters): the paged KV cache is not estimated.');
  const blocksPerSeq = Math.ceil(o.context / blockSize);
  // Paging rounds each sequence up to whole blocks: the paged part grows by the padded ÷ actual token ratio.
  const paged = o.kvCacheBytes - o.recurrentStateBytes;
  const kvNeeded = Math.ceil((paged * blocksPerSeq * blockSize) / o.context) + o.recurrentStateBytes;
  const d = hp.embeddingLength ?? 0;
  const f = hp.feedForwardLength ?? 4 * d;
  const activations = batched * (2 * d + 2 * f) * 2 + Math.min(o.sequences, VLLM_DEFAULTS.maxNumSeqs) * (hp.vocabSize ?? 0) * 4;
  const budget = Math.floor(util * o.capacityBytes);
  const pool = Math.max(0, budget - o.weightBytes - activations - graphs);
  const components: RuntimeComponent[] = [
    { id: 'weights', kind: 'weights', label: 'weights', bytes: o.weightBytes },
    { id: 'compute', kind: 'compute', label: `activation peak (${batched} batched tokens)`, bytes: activations },
    { id: 'cuda-graphs', kind: 'overhead', label: 'CUDA graph capture', bytes: graphs },
    { id: 'kv', kind: 'kv', label: `paged KV (${o.sequences} × ${blocksPerSeq} blocks of ${blockSize})`, bytes: kvNeeded },
  ];
  return {
    runtime: 'vllm',
    measured: false,
    attention: `paged KV, block ${blockSize}`,
    kvBytesPerToken: perToken,
    components,
    totalBytes: components.reduce((s, c) => s + c.bytes, 0),
    settings: { context: o.context, sequences: o.sequences, gpuMemoryUtilization: util, blockSize, maxNumBatchedTokens: batched, budgetBytes: budget, kvPoolBytes: pool },
    warnings,
    assumptions: [
      `vLLM (not measured here; from vLLM's documented behaviour): it takes ${util} of device memory (${budget} B); weights, the activation peak and ${graphs} B of CUDA graphs come first, the remaining ${pool} B is the paged KV pool.`,
    ],
  };
}
