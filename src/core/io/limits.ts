/**
 * Every bound applied to untrusted model input, in one place, each with the threat it stops.
 * Readers check counts, lengths, dimensions and offsets against these *before* allocating.
 * Readers may add entries here; keep the "threat" comment on each.
 */
export interface Limits {
  /** Largest header/metadata region we will buffer (safetensors JSON header, GGUF KV section, ONNX non-tensor protobuf). Threat: a declared header length of 2^63 forcing a huge allocation. */
  readonly maxHeaderBytes: number;
  /** Most tensors in one model. Threat: a tensor count field of 2^32 making us loop/allocate forever. */
  readonly maxTensorCount: number;
  /** Most metadata key/value pairs (GGUF) or metadata props. Threat: count fields far beyond file size. */
  readonly maxMetadataEntries: number;
  /** Most elements in one metadata array (e.g. a tokenizer vocab). Threat: a 2^60-element array. */
  readonly maxArrayLength: number;
  /** Deepest nesting of arrays/subgraphs/protobuf messages. Threat: stack exhaustion by recursive structures. */
  readonly maxNestingDepth: number;
  /** Longest single string (names, keys, metadata values). Threat: one 4 GB string. */
  readonly maxStringBytes: number;
  /** Most dimensions of one tensor. Threat: rank fields of 2^32. */
  readonly maxRank: number;
  /** Largest element count of one tensor (must stay a safe integer when multiplied by bytes per element). Threat: dims whose product overflows 2^53. */
  readonly maxElementCount: number;
  /** Most graph nodes across all graphs. Threat: quadratic work over absurd node counts. */
  readonly maxNodeCount: number;
  /** Most shard/external-data files one model may reference. Threat: an index naming millions of files. */
  readonly maxFileCount: number;
  /** Longest metadata string copied into the IR for display; longer values are truncated with a note. Threat: megabyte strings in UI and JSON output. */
  readonly maxDisplayStringBytes: number;
  /** Most per-channel quantization values (scales, zero points) copied into the IR per tensor; the rest are counted, not kept. Threat: a 16M-entry scale vector bloating the IR, JSON output and postMessage. */
  readonly maxQuantValues: number;
  /** Most quantization values (scales, zero points) copied into the IR per model; later tensors keep a summary (first values, true count, scale range, file location). Threat: thousands of tensors each with thousands of scales (8192 × 512 = 4M values, ~70 MB of JS numbers) bloating memory, JSON and postMessage. */
  readonly maxQuantValuesTotal: number;
  /** Longest tensor, node, value, attribute or metadata-key name (bytes). Threat: a 60 MB name is copied into layers, shape maps, JSON output and table rows (RSS 2-4 GB); real names are under a few hundred bytes. */
  readonly maxNameBytes: number;
  /** Most memory a model's parsed tables may take, estimated before they are built (entries × measured cost per entry + the names and header text kept; see io/memoryBudget.ts). Threat: counts and lengths each within their limit but multiplying — 10^6 tensors × 64 KiB names = 64 GB from a sparse file. */
  readonly maxMetadataMemoryBytes: number;
}

/** Defaults, generous for real models (a 1T-parameter model has ~10^5 tensors) and far below what hurts. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxHeaderBytes: 512 * 1024 * 1024,
  maxTensorCount: 1_000_000,
  maxMetadataEntries: 100_000,
  maxArrayLength: 16 * 1024 * 1024,
  maxNestingDepth: 64,
  maxStringBytes: 64 * 1024 * 1024,
  maxRank: 16,
  maxElementCount: 2 ** 50,
  maxNodeCount: 2_000_000,
  maxFileCount: 10_000,
  maxDisplayStringBytes: 4096,
  maxQuantValues: 4096,
  maxQuantValuesTotal: 1024 * 1024,
  maxNameBytes: 64 * 1024,
  maxMetadataMemoryBytes: 1536 * 1024 * 1024,
});

/**
 * Most elements converted at once when `apply` rewrites a GGUF tensor (whole rows; one row at least). Threat: a
 * multi-GiB tensor decoded to float32 in one piece would hold source bytes + 4 B/element + output bytes in memory;
 * in chunks of 2^22 elements the peak stays near 16 MiB of floats whatever the model's size.
 */
export const MAX_APPLY_CHUNK_ELEMENTS = 1 << 22;

/** Largest calibration text read for language-model evaluation (`--text FILE`). Threat: a multi-GB file read into memory and tokenized. */
export const MAX_CALIBRATION_TEXT_BYTES = 4 * 1024 * 1024;
/** Most tokens of calibration text evaluated (the rest is not used). Threat: hours of evaluation per candidate on a long text. */
export const MAX_EVAL_TOKENS = 16_384;
/**
 * Most bytes of reference next-token distributions kept in memory (positions × vocabulary × 4); beyond it only
 * the reference's top-k tokens per position are kept and KL becomes a lower bound. Threat: 4096 positions × a
 * 256K vocabulary = 4 GiB of float32.
 */
export const MAX_EVAL_REFERENCE_BYTES = 512 * 1024 * 1024;
