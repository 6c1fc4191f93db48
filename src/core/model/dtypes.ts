/**
 * Stored data types of tensors, as one table of facts (not `if` chains). Sub-byte and block-quantized types
 * are described by a block: `bytes = elementCount / blockSize * bytesPerBlock` (exact; the element count
 * must be a multiple of the block size for block types).
 *
 * Sources: ONNX TensorProto.DataType (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto),
 * safetensors dtypes (https://github.com/huggingface/safetensors), ggml types and block sizes
 * (https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml.c `type_traits`, ggml-common.h block structs),
 * TFLite TensorType (https://github.com/tensorflow/tensorflow/blob/master/tensorflow/compiler/mlir/lite/schema/schema.fbs).
 */

/** Kind of stored value. */
export type DTypeKind = 'float' | 'int' | 'uint' | 'bool' | 'complex' | 'string' | 'quantized';

/** Facts about one stored dtype. */
export interface DTypeInfo {
  /** Canonical id used in the IR and JSON output. */
  readonly id: string;
  readonly kind: DTypeKind;
  /** Elements per block (1 for plain types, 2 for 4-bit packed pairs, 32/256 for ggml blocks). */
  readonly blockSize: number;
  /** Bytes per block, scales included. */
  readonly bytesPerBlock: number;
  /** Short display label (e.g. 'FP16', 'Q4_K'). */
  readonly label: string;
  /** Bytes stored once per tensor after the blocks (bitnet.cpp I2_S keeps its scale in a 32-byte trailer). */
  readonly tensorTrailerBytes?: number;
}

//#region dtype table
const TABLE: readonly DTypeInfo[] = [
  { id: 'float64', kind: 'float', blockSize: 1, bytesPerBlock: 8, label: 'FP64' },
  { id: 'float32', kind: 'float', blockSize: 1, bytesPerBlock: 4, label: 'FP32' },
  { id: 'float16', kind: 'float', blockSize: 1, bytesPerBlock: 2, label: 'FP16' },
  { id: 'bfloat16', kind: 'float', blockSize: 1, bytesPerBlock: 2, label: 'BF16' },
  { id: 'float8_e4m3fn', kind: 'float', blockSize: 1, bytesPerBlock: 1, label: 'FP8 E4M3' },
  { id: 'float8_e4m3fnuz', kind: 'float', blockSize: 1, bytesPerBlock: 1, label: 'FP8 E4M3FNUZ' },
  { id: 'float8_e5m2', kind: 'float', blockSize: 1, bytesPerBlock: 1, label: 'FP8 E5M2' },
  { id: 'float8_e5m2fnuz', kind: 'float', blockSize: 1, bytesPerBlock: 1, label: 'FP8 E5M2FNUZ' },
  { id: 'float8_e8m0', kind: 'float', blockSize: 1, bytesPerBlock: 1, label: 'E8M0' },
  { id: 'float4_e2m1', kind: 'float', blockSize: 2, bytesPerBlock: 1, label: 'FP4 E2M1' },
  { id: 'float6_e2m3', kind: 'float', blockSize: 4, bytesPerBlock: 3, label: 'FP6 E2M3' },
  { id: 'float6_e3m2', kind: 'float', blockSize: 4, bytesPerBlock: 3, label: 'FP6 E3M2' },
  { id: 'int64', kind: 'int', blockSize: 1, bytesPerBlock: 8, label: 'INT64' },
  { id: 'int32', kind: 'int', blockSize: 1, bytesPerBlock: 4, label: 'INT32' },
  { id: 'int16', kind: 'int', blockSize: 1, bytesPerBlock: 2, label: 'INT16' },
  { id: 'int8', kind: 'int', blockSize: 1, bytesPerBlock: 1, label: 'INT8' },
  { id: 'int4', kind: 'int', blockSize: 2, bytesPerBlock: 1, label: 'INT4' },
  { id: 'int2', kind: 'int', blockSize: 4, bytesPerBlock: 1, label: 'INT2' },
  { id: 'uint64', kind: 'uint', blockSize: 1, bytesPerBlock: 8, label: 'UINT64' },
  { id: 'uint32', kind: 'uint', blockSize: 1, bytesPerBlock: 4, label: 'UINT32' },
  { id: 'uint16', kind: 'uint', blockSize: 1, bytesPerBlock: 2, label: 'UINT16' },
  { id: 'uint8', kind: 'uint', blockSize: 1, bytesPerBlock: 1, label: 'UINT8' },
  { id: 'uint4', kind: 'uint', blockSize: 2, bytesPerBlock: 1, label: 'UINT4' },
  { id: 'uint2', kind: 'uint', blockSize: 4, bytesPerBlock: 1, label: 'UINT2' },
  { id: 'bool', kind: 'bool', blockSize: 1, bytesPerBlock: 1, label: 'BOOL' },
  { id: 'complex64', kind: 'complex', blockSize: 1, bytesPerBlock: 8, label: 'COMPLEX64' },
  { id: 'complex128', kind: 'complex', blockSize: 1, bytesPerBlock: 16, label: 'COMPLEX128' },
  /** Variable-length strings: byte length is whatever is stored. */
  { id: 'string', kind: 'string', blockSize: 1, bytesPerBlock: 0, label: 'STRING' },
  // ggml block-quantized types (ggml.c type_traits: blck_size, type_size). Verified against upstream by the GGUF reader's tests.
  { id: 'q4_0', kind: 'quantized', blockSize: 32, bytesPerBlock: 18, label: 'Q4_0' },
  { id: 'q4_1', kind: 'quantized', blockSize: 32, bytesPerBlock: 20, label: 'Q4_1' },
  { id: 'q5_0', kind: 'quantized', blockSize: 32, bytesPerBlock: 22, label: 'Q5_0' },
  { id: 'q5_1', kind: 'quantized', blockSize: 32, bytesPerBlock: 24, label: 'Q5_1' },
  { id: 'q8_0', kind: 'quantized', blockSize: 32, bytesPerBlock: 34, label: 'Q8_0' },
  { id: 'q8_1', kind: 'quantized', blockSize: 32, bytesPerBlock: 36, label: 'Q8_1' },
  { id: 'q2_k', kind: 'quantized', blockSize: 256, bytesPerBlock: 84, label: 'Q2_K' },
  { id: 'q3_k', kind: 'quantized', blockSize: 256, bytesPerBlock: 110, label: 'Q3_K' },
  { id: 'q4_k', kind: 'quantized', blockSize: 256, bytesPerBlock: 144, label: 'Q4_K' },
  { id: 'q5_k', kind: 'quantized', blockSize: 256, bytesPerBlock: 176, label: 'Q5_K' },
  { id: 'q6_k', kind: 'quantized', blockSize: 256, bytesPerBlock: 210, label: 'Q6_K' },
  { id: 'q8_k', kind: 'quantized', blockSize: 256, bytesPerBlock: 292, label: 'Q8_K' },
  { id: 'iq2_xxs', kind: 'quantized', blockSize: 256, bytesPerBlock: 66, label: 'IQ2_XXS' },
  { id: 'iq2_xs', kind: 'quantized', blockSize: 256, bytesPerBlock: 74, label: 'IQ2_XS' },
  { id: 'iq3_xxs', kind: 'quantized', blockSize: 256, bytesPerBlock: 98, label: 'IQ3_XXS' },
  { id: 'iq1_s', kind: 'quantized', blockSize: 256, bytesPerBlock: 50, label: 'IQ1_S' },
  { id: 'iq4_nl', kind: 'quantized', blockSize: 32, bytesPerBlock: 18, label: 'IQ4_NL' },
  { id: 'iq3_s', kind: 'quantized', blockSize: 256, bytesPerBlock: 110, label: 'IQ3_S' },
  { id: 'iq2_s', kind: 'quantized', blockSize: 256, bytesPerBlock: 82, label: 'IQ2_S' },
  { id: 'iq4_xs', kind: 'quantized', blockSize: 256, bytesPerBlock: 136, label: 'IQ4_XS' },
  { id: 'iq1_m', kind: 'quantized', blockSize: 256, bytesPerBlock: 56, label: 'IQ1_M' },
  { id: 'tq1_0', kind: 'quantized', blockSize: 256, bytesPerBlock: 54, label: 'TQ1_0' },
  { id: 'tq2_0', kind: 'quantized', blockSize: 256, bytesPerBlock: 66, label: 'TQ2_0' },
  { id: 'mxfp4', kind: 'quantized', blockSize: 32, bytesPerBlock: 17, label: 'MXFP4' },
  { id: 'nvfp4', kind: 'quantized', blockSize: 64, bytesPerBlock: 36, label: 'NVFP4' },
  { id: 'q1_0', kind: 'quantized', blockSize: 128, bytesPerBlock: 18, label: 'Q1_0' },
  { id: 'q2_0', kind: 'quantized', blockSize: 64, bytesPerBlock: 18, label: 'Q2_0' },
  // Layouts of forks that reuse upstream ggml type ids (see formats/gguf/ggmlTypes.ts FORK_LAYOUTS).
  // bitnet.cpp I2_S (id 36 in its files): 2-bit ternary codes, 4 per byte, then one 32-byte trailer holding the
  // tensor's scale (its ggml.c: `ggml_nbytes` = elements / 4 + 32).
  { id: 'i2_s', kind: 'quantized', blockSize: 4, bytesPerBlock: 1, tensorTrailerBytes: 32, label: 'I2_S' },
  // PrismML's llama.cpp fork (ternary Bonsai GGUFs): type id 42 with 128-weight blocks of 32 B codes + FP16 scale.
  { id: 'q2_0_g128', kind: 'quantized', blockSize: 128, bytesPerBlock: 34, label: 'Q2_0/128' },
  // bitnet.cpp lookup-table layouts (ids 38 / 39 in its files; its utils/convert-hf-to-gguf-bitnet.py): TL1 packs two
  // ternary weights into a 4-bit index, two indices per byte (n/4 bytes, tiled for its ARM kernels); TL2 packs three
  // weights into a 4-bit magnitude plus a sign bit (5 bytes per 24 weights) and the last 256 columns of each row as
  // TL1 (64 bytes per row): M × (K − 256) × 5/24 + 64 × M bytes. The per-tensor FP32 scale is a `<name>_scale` tensor.
  { id: 'tl1', kind: 'quantized', blockSize: 4, bytesPerBlock: 1, label: 'TL1' },
  { id: 'tl2', kind: 'quantized', blockSize: 24, bytesPerBlock: 5, label: 'TL2' },
  // MXFP4 as gpt-oss stores it in safetensors: `<name>_blocks` U8 [..., n/32, 16] (two E2M1 codes per byte) and
  // `<name>_scales` U8 [..., n/32] (one E8M0 exponent per 32 weights), read as one tensor `<name>` of n weights in
  // 17 bytes per 32 (the pair's bytes as stored); its location is the blocks tensor's range.
  { id: 'mxfp4_split', kind: 'quantized', blockSize: 32, bytesPerBlock: 17, label: 'MXFP4' },
  // BitNet b1.58 safetensors (transformers `BitLinear`, quant_method "bitnet"): 4 ternary weights per uint8 along
  // the output dimension, scale in a separate `weight_scale` tensor.
  { id: 'ternary_u8x4', kind: 'quantized', blockSize: 4, bytesPerBlock: 1, label: 'Ternary (4 per byte)' },
];
//#endregion

const BY_ID = new Map(TABLE.map((d) => [d.id, d]));

/** Canonical dtype id (one of the table's ids). Kept as a string so the IR stays plain JSON. */
export type DType = string;

/** All known dtypes. */
export const DTYPES: readonly DTypeInfo[] = TABLE;

/** Facts for a dtype id, or undefined for an unknown id. */
export function dtypeInfo(id: DType): DTypeInfo | undefined {
  // Asked per tensor, mostly for one or two ids in a row (~2 million times in a 200,000-layer plan).
  if (id === lastId) return lastInfo;
  lastInfo = BY_ID.get(id);
  lastId = id;
  return lastInfo;
}
let lastId: DType | undefined;
let lastInfo: DTypeInfo | undefined;

/**
 * Bytes of one element of a type stored an element at a time (then {@link storedByteLength} is the count times this);
 * 0 for strings, sub-byte packed and block types.
 */
export function elementBytes(dtype: DType): number {
  const info = BY_ID.get(dtype);
  return info !== undefined && info.kind !== 'string' && info.blockSize === 1 ? info.bytesPerBlock : 0;
}

/**
 * Exact stored bytes of `elementCount` elements of `dtype`; undefined for strings/unknown types or when the
 * count is not a whole number of blocks (callers report that as malformed).
 */
export function storedByteLength(dtype: DType, elementCount: number): number | undefined {
  const info = BY_ID.get(dtype);
  if (!info || info.kind === 'string') return undefined;
  if (info.blockSize === 1) return elementCount * info.bytesPerBlock;
  // Sub-byte packed types (int4 etc.) round up to whole bytes; ggml blocks must divide exactly.
  if (info.kind === 'quantized') {
    if (elementCount % info.blockSize !== 0) return undefined;
    return (elementCount / info.blockSize) * info.bytesPerBlock + (elementCount > 0 ? (info.tensorTrailerBytes ?? 0) : 0);
  }
  return Math.ceil(elementCount / info.blockSize) * info.bytesPerBlock;
}

/** Bits per element including scales (e.g. q4_k → 4.5). */
export function bitsPerElement(dtype: DType): number | undefined {
  const info = BY_ID.get(dtype);
  if (!info || info.kind === 'string') return undefined;
  return (info.bytesPerBlock * 8) / info.blockSize;
}

/** True for floating-point and block-quantized weight types that hold real-valued weights. */
export function isRealValued(dtype: DType): boolean {
  const k = BY_ID.get(dtype)?.kind;
  return k === 'float' || k === 'quantized';
}
