/**
 * Chooses the runtime memory model of an estimate and computes it: `--runtime` when given, else by format
 * (GGUF → llama.cpp, ONNX and TFLite → ort, safetensors → vllm).
 */
import type { Model } from '../../model/types';
import type { Target } from '../hardware/catalog';
import { LLAMA_CPU_KINDS, LLAMA_KV_TYPES, llamaCppMemory, type LlamaCpuKind } from './llamaCpp';
import { vllmMemory } from './vllm';
import { RUNTIME_IDS, RuntimeError, type RuntimeId, type RuntimeMemory } from './types';

/** Runtime options of an estimate (each applies to the runtimes that have the setting). */
export interface RuntimeOptions {
  readonly runtime?: RuntimeId;
  /** llama.cpp: flash attention (default on: llama.cpp's 'auto' enables it on the CPU backend). */
  readonly flashAttention?: boolean;
  /** llama.cpp: micro-batch n_ubatch (default 512). */
  readonly ubatch?: number;
  /** llama.cpp: logical batch n_batch (default 2048). */
  readonly batchTokens?: number;
  /** llama.cpp: CPU class deciding the repack/AMX weight buffers (default x86-avx2 on CPU targets, generic elsewhere). */
  readonly cpu?: LlamaCpuKind;
  /** vLLM: fraction of device memory it takes (default 0.9). */
  readonly gpuMemoryUtilization?: number;
}

/** The default runtime for a model format. */
export function defaultRuntime(model: Model): RuntimeId {
  if (model.format === 'gguf') return 'llama.cpp';
  if (model.format === 'safetensors') return 'vllm';
  return 'ort';
}

/** Generic estimator figures the ort model reports as they are. */
export interface GenericFigures {
  readonly weightBytes: number;
  readonly activationBytes: number;
  readonly kvCacheBytes: number;
  readonly overheadBytes: number;
  readonly kvBytesPerToken: number;
  readonly recurrentStateBytes: number;
}

/** Validates runtime option values (the CLI and the editor both pass user input). */
export function checkRuntimeOptions(o: RuntimeOptions): void {
  if (o.runtime !== undefined && !RUNTIME_IDS.includes(o.runtime)) throw new RuntimeError('bad-option', `Unknown runtime '${String(o.runtime).slice(0, 20)}' (one of ${RUNTIME_IDS.join(', ')}).`);
  if (o.cpu !== undefined && !LLAMA_CPU_KINDS.includes(o.cpu)) throw new RuntimeError('bad-option', `Unknown CPU kind '${String(o.cpu).slice(0, 20)}' (one of ${LLAMA_CPU_KINDS.join(', ')}).`);
  for (const [name, v] of [['ubatch', o.ubatch], ['batch-tokens', o.batchTokens]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v <= 0 || v > 1 << 20)) throw new RuntimeError('bad-option', `${name} must be a whole number from 1 to ${1 << 20}, got '${String(v)}'.`);
  }
}

/**
 * The runtime memory of `model` on `target`. llama.cpp needs GGUF-style hyperparameters (embedding, vocabulary,
 * blocks); without them, or for a non-GGUF file, it falls back to the ort model with a warning.
 */
export function runtimeMemory(
  model: Model,
  target: Target,
  o: RuntimeOptions & { readonly context: number; readonly sequences: number; readonly kvFormat: string; readonly plannedWeightBytes?: number },
  generic: GenericFigures,
): RuntimeMemory {
  checkRuntimeOptions(o);
  const runtime = o.runtime ?? defaultRuntime(model);
  const hp = model.hyperparameters;
  if (runtime === 'llama.cpp') {
    const cacheType = llamaCacheType(o.kvFormat);
    const reason =
      model.format !== 'gguf' ? `llama.cpp loads GGUF files, not ${model.format}`
      : !hp.embeddingLength || !hp.vocabSize || !hp.blockCount ? 'the GGUF lacks embedding length, vocabulary or block count'
      : !LLAMA_KV_TYPES.includes(cacheType) ? `llama.cpp has no '${o.kvFormat}' cache type (${LLAMA_KV_TYPES.join(', ')})`
      : undefined;
    // Asked for explicitly, llama.cpp must apply; chosen by format, it falls back to the generic figures.
    if (reason && o.runtime === 'llama.cpp') throw new RuntimeError('bad-option', `The llama.cpp memory model does not apply: ${reason}.`);
    if (!reason) {
      return llamaCppMemory(model, {
        ...(o.plannedWeightBytes !== undefined ? { plannedWeightBytes: o.plannedWeightBytes } : {}),
        context: o.context,
        sequences: o.sequences,
        ...(o.flashAttention !== undefined ? { flashAttention: o.flashAttention } : {}),
        ...(o.ubatch !== undefined ? { ubatch: o.ubatch } : {}),
        ...(o.batchTokens !== undefined ? { batch: o.batchTokens } : {}),
        kvTypeK: cacheType,
        cpu: o.cpu ?? (target.kind === 'cpu' ? 'x86-avx2' : 'generic'),
      });
    }
    return { ...ortMemory(generic), warnings: [`The llama.cpp memory model does not apply (${reason}); showing the generic graph-runtime figures.`] };
  }
  if (runtime === 'vllm') {
    return vllmMemory(model, {
      context: o.context,
      sequences: o.sequences,
      kvBytesPerToken: generic.kvBytesPerToken,
      kvCacheBytes: generic.kvCacheBytes,
      recurrentStateBytes: generic.recurrentStateBytes,
      weightBytes: generic.weightBytes,
      capacityBytes: target.memoryBytes,
      ...(o.gpuMemoryUtilization !== undefined ? { gpuMemoryUtilization: o.gpuMemoryUtilization } : {}),
    });
  }
  return ortMemory(generic);
}

/** Estimator KV format ids → llama.cpp cache type names. */
function llamaCacheType(format: string): string {
  const f = format.toLowerCase();
  if (f === 'fp16' || f === 'float16') return 'f16';
  if (f === 'fp32' || f === 'float32') return 'f32';
  if (f === 'bf16' || f === 'bfloat16') return 'bf16';
  return f;
}

/** ONNX Runtime (CPU): the generic estimate, validated by test/integration/ortMemory.ts. */
function ortMemory(g: GenericFigures): RuntimeMemory {
  return {
    runtime: 'ort',
    measured: true,
    attention: g.kvCacheBytes > 0 ? 'graph attention (past key/values as inputs)' : 'none (no KV cache)',
    kvBytesPerToken: g.kvBytesPerToken,
    components: [
      { id: 'weights', kind: 'weights', label: 'initializers', bytes: g.weightBytes },
      { id: 'compute', kind: 'compute', label: 'activation peak', bytes: g.activationBytes },
      { id: 'kv', kind: 'kv', label: 'KV cache', bytes: g.kvCacheBytes },
      { id: 'overhead', kind: 'overhead', label: 'session overhead', bytes: g.overheadBytes },
    ],
    totalBytes: g.weightBytes + g.activationBytes + g.kvCacheBytes + g.overheadBytes,
    settings: {},
    warnings: [],
    assumptions: ['ONNX Runtime (CPU): weights, peak live activations, KV inputs and the session overhead, as checked by test/integration/ortMemory.ts.'],
  };
}
