/**
 * Facts from the TFLite FlatBuffers schema, as tables.
 * Source: https://github.com/tensorflow/tensorflow/blob/master/tensorflow/compiler/mlir/lite/schema/schema.fbs
 * (TensorType, BuiltinOperator, and the field order of Model, SubGraph, Tensor, QuantizationParameters,
 * OperatorCode, Operator, Buffer, Metadata, SignatureDef). Field indices are declaration order: field `i`
 * lives at vtable slot `4 + 2 * i`.
 */
import type { DType } from '../../model/dtypes';
import type { LayerRole } from '../../model/types';

/** FlatBuffers file identifier of TFLite schema v3 (bytes 4..8). */
export const TFLITE_IDENTIFIER = 'TFL3';

//#region field indices
/** `table Model` fields. */
export const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4, metadataBuffer: 5, metadata: 6, signatureDefs: 7 } as const;
/** `table SubGraph` fields. */
export const SUBGRAPH = { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4 } as const;
/** `table Tensor` fields. */
export const TENSOR = { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, isVariable: 5, sparsity: 6, shapeSignature: 7, hasRank: 8 } as const;
/** `table QuantizationParameters` fields. */
export const QUANT = { min: 0, max: 1, scale: 2, zeroPoint: 3, detailsType: 4, details: 5, quantizedDimension: 6 } as const;
/** `table OperatorCode` fields. `deprecated_builtin_code` is a byte; codes ≥ 127 live in `builtin_code`. */
export const OPCODE = { deprecatedBuiltinCode: 0, customCode: 1, version: 2, builtinCode: 3 } as const;
/** `table Operator` fields (a union takes two slots: type then value). */
export const OPERATOR = { opcodeIndex: 0, inputs: 1, outputs: 2, builtinOptionsType: 3, builtinOptions: 4, customOptions: 5, intermediates: 8 } as const;
/** `table Buffer` fields: inline `data`, or `offset`/`size` into the file for models over 2 GB (valid when offset > 1). */
export const BUFFER = { data: 0, offset: 1, size: 2 } as const;
/** `table Metadata` fields. */
export const METADATA = { name: 0, buffer: 1 } as const;
/** `table SignatureDef` fields. */
export const SIGNATURE = { inputs: 0, outputs: 1, signatureKey: 2, subgraphIndex: 4 } as const;
//#endregion

//#region TensorType → IR dtype
/**
 * `enum TensorType : byte`, indexed by value. `null` = a type without stored numeric elements (RESOURCE,
 * VARIANT). Values 19–22 were added after TF 2.16 (INT2, UINT4, FLOAT8_E4M3FN, FLOAT8_E5M2).
 */
export const TENSOR_TYPES: readonly { readonly name: string; readonly dtype: DType | null }[] = [
  { name: 'FLOAT32', dtype: 'float32' },
  { name: 'FLOAT16', dtype: 'float16' },
  { name: 'INT32', dtype: 'int32' },
  { name: 'UINT8', dtype: 'uint8' },
  { name: 'INT64', dtype: 'int64' },
  { name: 'STRING', dtype: 'string' },
  { name: 'BOOL', dtype: 'bool' },
  { name: 'INT16', dtype: 'int16' },
  { name: 'COMPLEX64', dtype: 'complex64' },
  { name: 'INT8', dtype: 'int8' },
  { name: 'FLOAT64', dtype: 'float64' },
  { name: 'COMPLEX128', dtype: 'complex128' },
  { name: 'UINT64', dtype: 'uint64' },
  { name: 'RESOURCE', dtype: null },
  { name: 'VARIANT', dtype: null },
  { name: 'UINT32', dtype: 'uint32' },
  { name: 'UINT16', dtype: 'uint16' },
  { name: 'INT4', dtype: 'int4' },
  { name: 'BFLOAT16', dtype: 'bfloat16' },
  { name: 'INT2', dtype: 'int2' },
  { name: 'UINT4', dtype: 'uint4' },
  { name: 'FLOAT8_E4M3FN', dtype: 'float8_e4m3fn' },
  { name: 'FLOAT8_E5M2', dtype: 'float8_e5m2' },
];
//#endregion

//#region BuiltinOperator names
/** `enum BuiltinOperator : int32`, indexed by value (0..207). Unknown newer codes display as `BUILTIN_<n>`. */
export const BUILTIN_OPERATORS: readonly string[] = [
  'ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEPTH_TO_SPACE', 'DEQUANTIZE', 'EMBEDDING_LOOKUP', // 0
  'FLOOR', 'FULLY_CONNECTED', 'HASHTABLE_LOOKUP', 'L2_NORMALIZATION', 'L2_POOL_2D', 'LOCAL_RESPONSE_NORMALIZATION', 'LOGISTIC', 'LSH_PROJECTION', // 8
  'LSTM', 'MAX_POOL_2D', 'MUL', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'RESHAPE', 'RESIZE_BILINEAR', // 16
  'RNN', 'SOFTMAX', 'SPACE_TO_DEPTH', 'SVDF', 'TANH', 'CONCAT_EMBEDDINGS', 'SKIP_GRAM', 'CALL', // 24
  'CUSTOM', 'EMBEDDING_LOOKUP_SPARSE', 'PAD', 'UNIDIRECTIONAL_SEQUENCE_RNN', 'GATHER', 'BATCH_TO_SPACE_ND', 'SPACE_TO_BATCH_ND', 'TRANSPOSE', // 32
  'MEAN', 'SUB', 'DIV', 'SQUEEZE', 'UNIDIRECTIONAL_SEQUENCE_LSTM', 'STRIDED_SLICE', 'BIDIRECTIONAL_SEQUENCE_RNN', 'EXP', // 40
  'TOPK_V2', 'SPLIT', 'LOG_SOFTMAX', 'DELEGATE', 'BIDIRECTIONAL_SEQUENCE_LSTM', 'CAST', 'PRELU', 'MAXIMUM', // 48
  'ARG_MAX', 'MINIMUM', 'LESS', 'NEG', 'PADV2', 'GREATER', 'GREATER_EQUAL', 'LESS_EQUAL', // 56
  'SELECT', 'SLICE', 'SIN', 'TRANSPOSE_CONV', 'SPARSE_TO_DENSE', 'TILE', 'EXPAND_DIMS', 'EQUAL', // 64
  'NOT_EQUAL', 'LOG', 'SUM', 'SQRT', 'RSQRT', 'SHAPE', 'POW', 'ARG_MIN', // 72
  'FAKE_QUANT', 'REDUCE_PROD', 'REDUCE_MAX', 'PACK', 'LOGICAL_OR', 'ONE_HOT', 'LOGICAL_AND', 'LOGICAL_NOT', // 80
  'UNPACK', 'REDUCE_MIN', 'FLOOR_DIV', 'REDUCE_ANY', 'SQUARE', 'ZEROS_LIKE', 'FILL', 'FLOOR_MOD', // 88
  'RANGE', 'RESIZE_NEAREST_NEIGHBOR', 'LEAKY_RELU', 'SQUARED_DIFFERENCE', 'MIRROR_PAD', 'ABS', 'SPLIT_V', 'UNIQUE', // 96
  'CEIL', 'REVERSE_V2', 'ADD_N', 'GATHER_ND', 'COS', 'WHERE', 'RANK', 'ELU', // 104
  'REVERSE_SEQUENCE', 'MATRIX_DIAG', 'QUANTIZE', 'MATRIX_SET_DIAG', 'ROUND', 'HARD_SWISH', 'IF', 'WHILE', // 112
  'NON_MAX_SUPPRESSION_V4', 'NON_MAX_SUPPRESSION_V5', 'SCATTER_ND', 'SELECT_V2', 'DENSIFY', 'SEGMENT_SUM', 'BATCH_MATMUL', 'PLACEHOLDER_FOR_GREATER_OP_CODES', // 120
  'CUMSUM', 'CALL_ONCE', 'BROADCAST_TO', 'RFFT2D', 'CONV_3D', 'IMAG', 'REAL', 'COMPLEX_ABS', // 128
  'HASHTABLE', 'HASHTABLE_FIND', 'HASHTABLE_IMPORT', 'HASHTABLE_SIZE', 'REDUCE_ALL', 'CONV_3D_TRANSPOSE', 'VAR_HANDLE', 'READ_VARIABLE', // 136
  'ASSIGN_VARIABLE', 'BROADCAST_ARGS', 'RANDOM_STANDARD_NORMAL', 'BUCKETIZE', 'RANDOM_UNIFORM', 'MULTINOMIAL', 'GELU', 'DYNAMIC_UPDATE_SLICE', // 144
  'RELU_0_TO_1', 'UNSORTED_SEGMENT_PROD', 'UNSORTED_SEGMENT_MAX', 'UNSORTED_SEGMENT_SUM', 'ATAN2', 'UNSORTED_SEGMENT_MIN', 'SIGN', 'BITCAST', // 152
  'BITWISE_XOR', 'RIGHT_SHIFT', 'STABLEHLO_LOGISTIC', 'STABLEHLO_ADD', 'STABLEHLO_DIVIDE', 'STABLEHLO_MULTIPLY', 'STABLEHLO_MAXIMUM', 'STABLEHLO_RESHAPE', // 160
  'STABLEHLO_CLAMP', 'STABLEHLO_CONCATENATE', 'STABLEHLO_BROADCAST_IN_DIM', 'STABLEHLO_CONVOLUTION', 'STABLEHLO_SLICE', 'STABLEHLO_CUSTOM_CALL', 'STABLEHLO_REDUCE', 'STABLEHLO_ABS', // 168
  'STABLEHLO_AND', 'STABLEHLO_COSINE', 'STABLEHLO_EXPONENTIAL', 'STABLEHLO_FLOOR', 'STABLEHLO_LOG', 'STABLEHLO_MINIMUM', 'STABLEHLO_NEGATE', 'STABLEHLO_OR', // 176
  'STABLEHLO_POWER', 'STABLEHLO_REMAINDER', 'STABLEHLO_RSQRT', 'STABLEHLO_SELECT', 'STABLEHLO_SUBTRACT', 'STABLEHLO_TANH', 'STABLEHLO_SCATTER', 'STABLEHLO_COMPARE', // 184
  'STABLEHLO_CONVERT', 'STABLEHLO_DYNAMIC_SLICE', 'STABLEHLO_DYNAMIC_UPDATE_SLICE', 'STABLEHLO_PAD', 'STABLEHLO_IOTA', 'STABLEHLO_DOT_GENERAL', 'STABLEHLO_REDUCE_WINDOW', 'STABLEHLO_SORT', // 192
  'STABLEHLO_WHILE', 'STABLEHLO_GATHER', 'STABLEHLO_TRANSPOSE', 'DILATE', 'STABLEHLO_RNG_BIT_GENERATOR', 'REDUCE_WINDOW', 'STABLEHLO_COMPOSITE', 'COMPLEX', // 200
];
//#endregion

/** Value of `BuiltinOperator.CUSTOM`: the op is named by `custom_code`. */
export const CUSTOM_OPERATOR = 32;
/** `PLACEHOLDER_FOR_GREATER_OP_CODES`: `deprecated_builtin_code` holds this when the real code is in `builtin_code`. */
export const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;

/** Display name of a builtin operator code. */
export function builtinOperatorName(code: number): string {
  return BUILTIN_OPERATORS[code] ?? `BUILTIN_${code}`;
}

/**
 * Weight-bearing operators and the role of their layer. Every constant input of these ops is a weight,
 * except that embedding lookups are layers only when their `table` input (by index) is constant. ADD/SUB
 * with a constant real-valued operand is a 'bias' layer; other ops with a real-valued constant are 'other'.
 */
export const WEIGHTED_OPS: Readonly<Record<string, { readonly role: LayerRole; readonly table?: number }>> = {
  CONV_2D: { role: 'conv' },
  DEPTHWISE_CONV_2D: { role: 'conv' },
  TRANSPOSE_CONV: { role: 'conv' },
  CONV_3D: { role: 'conv' },
  CONV_3D_TRANSPOSE: { role: 'conv' },
  FULLY_CONNECTED: { role: 'linear' },
  BATCH_MATMUL: { role: 'linear' },
  LSTM: { role: 'recurrent' },
  UNIDIRECTIONAL_SEQUENCE_LSTM: { role: 'recurrent' },
  BIDIRECTIONAL_SEQUENCE_LSTM: { role: 'recurrent' },
  RNN: { role: 'recurrent' },
  UNIDIRECTIONAL_SEQUENCE_RNN: { role: 'recurrent' },
  BIDIRECTIONAL_SEQUENCE_RNN: { role: 'recurrent' },
  SVDF: { role: 'recurrent' },
  // GATHER(params, indices); EMBEDDING_LOOKUP(lookup ids, values).
  GATHER: { role: 'embedding', table: 0 },
  EMBEDDING_LOOKUP: { role: 'embedding', table: 1 },
  ADD: { role: 'bias' },
  SUB: { role: 'bias' },
};
