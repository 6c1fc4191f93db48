/**
 * Runtime memory models: what a given inference runtime allocates for a model, component by component.
 * `estimate()` attaches one to every estimate (`Estimate.runtime`), chosen by `--runtime` or by format
 * (GGUF → llama.cpp, ONNX → ort, safetensors → vllm).
 */
import { EstimateError } from '../hardware/errors';

/** Runtimes with a memory model. */
export type RuntimeId = 'llama.cpp' | 'ort' | 'vllm';
/** All runtime ids, for option validation and help text. */
export const RUNTIME_IDS: readonly RuntimeId[] = ['llama.cpp', 'ort', 'vllm'];

/** One allocation of the runtime (a buffer or a reserved pool). */
export interface RuntimeComponent {
  /** Stable id: 'model:CPU_Mapped', 'model:AMX', 'kv', 'compute', 'output', 'weights', 'activations', 'overhead', 'cuda-graphs' … */
  readonly id: string;
  readonly kind: 'weights' | 'kv' | 'compute' | 'output' | 'overhead';
  readonly label: string;
  readonly bytes: number;
}

/** A runtime's memory for one model and one set of runtime settings. Plain JSON-safe data. */
export interface RuntimeMemory {
  readonly runtime: RuntimeId;
  /** True when this model is checked against the real runtime in this repository's tests (llama.cpp, ort). */
  readonly measured: boolean;
  /** How attention is computed / cached, in words ('flash attention', 'paged KV, block 16' …). */
  readonly attention: string;
  /** KV-cache bytes per token of context (all layers, K + V; 0 without a KV cache). */
  readonly kvBytesPerToken: number;
  readonly components: readonly RuntimeComponent[];
  readonly totalBytes: number;
  /** The runtime settings used (context, batch, micro-batch, flash attention …), echoed for display. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly warnings: readonly string[];
  readonly assumptions: readonly string[];
}

/** Bad runtime options are estimator option errors (code 'bad-option'; the CLI exits 2). */
export class RuntimeError extends EstimateError {
  constructor(code: 'bad-option' | 'unsupported', message: string) {
    super('bad-option', message);
    this.name = 'RuntimeError';
    this.reason = code;
  }
  readonly reason: 'bad-option' | 'unsupported';
}
