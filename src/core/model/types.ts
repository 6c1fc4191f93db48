/**
 * The format-neutral model IR. Plain JSON-safe data only (no classes, Maps or bigint) so it can cross a
 * postMessage and be printed by `inspect --json`. Every number is a safe integer checked when parsed.
 */
import type { AttentionHyperparameters } from './attention';
import type { DType } from './dtypes';

/** Which reader produced the model. */
export type FormatId = 'onnx' | 'safetensors' | 'gguf' | 'tflite';

/**
 * Where a tensor's bytes live, as one object: built on demand by `tensorLocation(tensor)` (model/tensorData.ts) for
 * readers of the bytes; the tensor itself carries these fields flat (`file`, `byteOffset`, `encoding`, `byteLength`).
 */
export interface TensorLocation {
  /** See `TensorInfo.file`. */
  readonly file: string;
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly encoding: TensorEncoding;
}

/**
 * How a tensor's bytes encode the elements. 'raw': little-endian packed values of `dtype` (ONNX raw_data,
 * safetensors, GGUF, TFLite buffers; ONNX packed float_data/double_data too). Other values name an ONNX typed-data
 * encoding that must be decoded (e.g. 'onnx-varint-int32' for int32_data holding FP16 bits, 'onnx-varint-int64',
 * 'onnx-varint-uint64').
 */
export type TensorEncoding = 'raw' | 'onnx-varint-int32' | 'onnx-varint-int64' | 'onnx-varint-uint64';

/** Per-tensor quantization parameters when the format stores them (TFLite, ONNX QDQ pairs). */
export interface QuantParams {
  /** Scales (bounded; long per-channel arrays are truncated, with `scaleCount` the true count). */
  readonly scales: readonly number[];
  readonly zeroPoints: readonly number[];
  readonly scaleCount: number;
  /** Channel axis for per-channel quantization; undefined when per-tensor. */
  readonly axis: number | undefined;
  /** Smallest and largest of all `scaleCount` scales (NaN skipped); set when `scales` is truncated. */
  readonly scaleRange?: readonly [number, number];
  /** Where all `scaleCount` scales are stored in the model file; set when `scales` is truncated (see `loadQuantParams`). */
  readonly storedScales?: StoredVector;
  /** Where all zero points are stored in the model file; set when `zeroPoints` is truncated (see `loadQuantParams`). */
  readonly storedZeroPoints?: StoredVector;
}

/** A numeric vector stored in the model file (little-endian), read only when an analysis needs every element. */
export interface StoredVector {
  readonly byteOffset: number;
  readonly count: number;
  readonly dtype: 'float32' | 'int64';
}

/** One stored tensor (weight, bias, constant). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly elementCount: number;
  /** Exact stored bytes (also the length of the stored range at `byteOffset`). */
  readonly byteLength: number;
  /**
   * File holding the bytes, relative to the model's folder (POSIX separators): '' means the model file itself, for
   * sharded safetensors the shard's path. Undefined when the tensor has no stored bytes (e.g. zero elements, or values
   * not stored in the file). The location is kept flat on the tensor (no object per tensor: 10^5–10^6-tensor models).
   */
  readonly file: string | undefined;
  /** Offset of the stored bytes in `file`; 0 (and meaningless) when `file` is undefined. */
  readonly byteOffset: number;
  /** How the stored bytes encode the elements ('raw' when `file` is undefined). */
  readonly encoding: TensorEncoding;
  /** Where the tensor comes from: an initializer, a Constant node's value, a TFLite buffer, a GGUF/safetensors entry. */
  readonly origin: 'initializer' | 'constant' | 'buffer' | 'entry';
  /** Graph (ONNX: main graph name or subgraph path) that declares it. */
  readonly graph?: string;
  readonly quant?: QuantParams;
}

/** A role for a unit of precision assignment, inferred from names and graph position. */
export type LayerRole =
  | 'embedding'
  | 'position_embedding'
  | 'attention_q'
  | 'attention_k'
  | 'attention_v'
  | 'attention_qkv'
  | 'attention_o'
  | 'ffn_up'
  | 'ffn_gate'
  | 'ffn_gate_up'
  | 'ffn_down'
  | 'expert'
  | 'shared_expert'
  | 'router'
  | 'norm'
  | 'output_head'
  | 'conv'
  | 'linear'
  | 'recurrent'
  | 'bias'
  | 'other';

/** The unit a user assigns a precision to: an ONNX/TFLite node with its weight inputs, or a weight tensor. */
export interface Layer {
  /** Unique, stable name (ONNX node name or a synthesized `op_index`; tensor name for safetensors/GGUF). Plans refer to layers by this. */
  readonly name: string;
  /** ONNX op type / TFLite builtin op / 'tensor' for tensor-only formats. */
  readonly op: string;
  readonly role: LayerRole;
  /** Transformer block (or stage) index when known. */
  readonly block: number | undefined;
  /** MoE expert index for routed experts. */
  readonly expert: number | undefined;
  /**
   * Name of the tensor holding the layer's main weight; undefined only for a layer without weights (readers never
   * make one). All weights, main first, are `layerWeights(layer)` (model/tensorData.ts).
   */
  readonly weight: string | undefined;
  /**
   * Names of the further tensors holding this layer's weights (biases, scales…), after `weight`. Single-tensor layers
   * (every safetensors/GGUF layer) share one empty array (`NO_MORE_WEIGHTS`), so a layer costs no array of its own.
   */
  readonly moreWeights: readonly string[];
  /** Sum of element counts of the layer's weights. */
  readonly parameterCount: number;
  /** Sum of stored bytes of the layer's weights. */
  readonly byteLength: number;
  /** Stored dtype of the main weight. */
  readonly dtype: DType;
  /** Shape of the main weight. */
  readonly shape: readonly number[];
  /** False for layers that should not be lowered by default (norms, tiny biases, integer tables). */
  readonly quantizable: boolean;
  /** Graph edges: value names consumed/produced (ONNX/TFLite). Empty for tensor-only formats. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** A symbolic or fixed dimension: number when fixed, string for a symbolic name, null when unknown. */
export type Dim = number | string | null;

/** A typed value of a graph (input, output, intermediate). */
export interface GraphValue {
  readonly name: string;
  readonly dtype: DType | undefined;
  /** Undefined when the rank is unknown. */
  readonly shape: readonly Dim[] | undefined;
}

/** JSON-safe attribute value (large tensors are summarized, not copied). */
export type AttributeValue =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | { readonly tensor: string }
  | { readonly graph: string };

/** One operator of a graph. */
export interface GraphNode {
  readonly name: string;
  readonly op: string;
  /** Operator domain ('' = ai.onnx). */
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** Names of nested graphs (If/Loop/Scan bodies), in `Model.graphs`. */
  readonly subgraphs: readonly string[];
}

/** A computation graph (ONNX main graph and subgraphs, TFLite subgraphs). Nodes are in execution order. */
export interface Graph {
  /** Unique name; subgraphs get a path like `main/If_3/then_branch`. */
  readonly name: string;
  readonly nodes: readonly GraphNode[];
  readonly inputs: readonly GraphValue[];
  readonly outputs: readonly GraphValue[];
  readonly valueInfo: readonly GraphValue[];
  /** Names of tensors (in `Model.tensors`) that this graph declares as initializers/constants. */
  readonly initializers: readonly string[];
}

/** Architecture hyperparameters, from GGUF metadata, config.json, or inferred. All optional. */
export interface Hyperparameters {
  readonly architecture?: string;
  readonly blockCount?: number;
  readonly embeddingLength?: number;
  readonly feedForwardLength?: number;
  readonly headCount?: number;
  readonly kvHeadCount?: number;
  readonly headDim?: number;
  readonly contextLength?: number;
  readonly vocabSize?: number;
  readonly expertCount?: number;
  readonly expertUsedCount?: number;
  /**
   * Multi-token-prediction layers stored after the `blockCount` main blocks (DeepSeek-V3 `num_nextn_predict_layers`,
   * GGUF `nextn_predict_layers`): blocks numbered ≥ blockCount. Not part of a normal forward pass.
   */
  readonly mtpLayerCount?: number;
  /** Attention and cache facts beyond heads × head dim (MLA, windows, per-layer patterns, recurrent state); see model/attention.ts. */
  readonly attention?: AttentionHyperparameters;
  /** Where these came from, e.g. 'gguf', 'config.json', 'onnx past_key_values inputs'. */
  readonly source?: string;
}

/** A file that is part of the model. */
export interface ModelFile {
  /** Relative to the model's folder ('' style never used here: the main file is its base name). */
  readonly path: string;
  readonly byteLength: number;
}

/** JSON-safe metadata value. */
export type MetadataValue = string | number | boolean | null | readonly MetadataValue[] | { readonly [key: string]: MetadataValue };

/** The whole model, as every reader maps it. */
export interface Model {
  readonly format: FormatId;
  /** Display name of the main file. */
  readonly fileName: string;
  /** All files (main + shards + external data), with sizes. */
  readonly files: readonly ModelFile[];
  /** Sum of `files` sizes. */
  readonly totalFileBytes: number;
  /** Format version (ONNX IR version, GGUF version, safetensors: 1, TFLite schema version). */
  readonly formatVersion: number | undefined;
  readonly producer: string | undefined;
  readonly hyperparameters: Hyperparameters;
  /** Format metadata (ONNX metadata_props + opsets, GGUF KVs with long arrays summarized, safetensors __metadata__, TFLite metadata). */
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly tensors: readonly TensorInfo[];
  readonly layers: readonly Layer[];
  /** Graphs in order; the first is the main graph. Empty for tensor-only formats. */
  readonly graphs: readonly Graph[];
  /** Every stored weight element (see README for per-format definitions). */
  readonly parameterCount: number;
  /** ONNX: initializers of the main graph; TFLite: tensors of the first subgraph; others: all tensors. */
  readonly tensorCount: number;
  /** ONNX: nodes of the main graph; TFLite: operators of the first subgraph; others: 0. */
  readonly nodeCount: number;
  /** Sum of stored tensor bytes. */
  readonly weightBytes: number;
  /** Non-fatal observations (e.g. 'weights are not stored: 239 ConstantOfShape nodes'). */
  readonly warnings: readonly string[];
}
