/**
 * A memory budget for a model's parsed tables (issue 14). Counts and lengths each have their own limit in
 * limits.ts, but they multiply: 10^6 tensors (maxTensorCount) × 64 KiB names (maxNameBytes) is 64 GB, and a sparse
 * file can declare that without holding it. Each reader charges what it is about to keep — entries × the measured
 * cost of one entry, plus the bytes of every name and header it keeps — and the first charge past
 * `maxMetadataMemoryBytes` stops the read in one sentence naming the limit and the figure.
 */
import { ModelFormatError, formatError } from '../errors';
import type { Limits } from './limits';

/**
 * Memory one tensor entry costs once opened (TensorInfo, location, shape, its layer in the IR), measured as heap
 * retained after GC / count with openModel on 10^6-tensor files: 493 B (safetensors; 429 B since tensor-only layers share one empty edge list), 573 B (GGUF).
 */
export const TENSOR_ENTRY_BYTES = 600;
/** Memory one graph node costs once parsed (raw node, inputs/outputs arrays): measured on 2·10^6 empty ONNX nodes, 241 B (178 B since empty nodes share one empty list); real nodes own their lists. */
export const NODE_ENTRY_BYTES = 250;

const MiB = 1024 * 1024;

/** Running total of one model's parsed-table memory (shards and subgraphs add to the same total). */
export class MemoryBudget {
  private used = 0;
  constructor(private readonly limits: Limits, private readonly fileName: string) {}

  /** Bytes charged so far. */
  get bytes(): number {
    return this.used;
  }

  /** Adds `bytes` for `what` (e.g. "1000000 tensor entries"; a function is only called on refusal); throws 'limit-exceeded' past the budget. */
  charge(bytes: number, what: string | (() => string)): void {
    this.used += bytes;
    if (this.used > this.limits.maxMetadataMemoryBytes) {
      if (typeof what === 'function') what = what();
      throw new ModelFormatError('limit-exceeded', formatError(this.fileName, `its tables would need about ${Math.ceil(this.used / MiB)} MiB of memory (${what}), more than the limit of ${Math.floor(this.limits.maxMetadataMemoryBytes / MiB)} MiB (maxMetadataMemoryBytes)`));
    }
  }
}
