/**
 * Field numbers and enum values of the ONNX protobuf schema, taken from the generated descriptor
 * `gen/onnx.schema.json` (protobufjs JSON made by test/conformance/genOnnxSchema.ts from onnx.proto, IR 13).
 * The wire walker in `parse.ts` switches on these, so no field number is typed in by hand.
 */
import schema from './gen/onnx.schema.json';

interface DescriptorNode {
  readonly fields?: Readonly<Record<string, { readonly id: number; readonly type: string; readonly rule?: string }>>;
  readonly values?: Readonly<Record<string, number>>;
  readonly nested?: Readonly<Record<string, DescriptorNode>>;
}

/**
 * The protobufjs JSON descriptor itself (`onnx` namespace and its messages), for src/node's whole-model
 * rewriters that build protobufjs types from it: one generated schema for the reader and the writers.
 */
export const ONNX_SCHEMA_DESCRIPTOR: unknown = (schema as unknown as { descriptor: unknown }).descriptor;

const ROOT = ONNX_SCHEMA_DESCRIPTOR as DescriptorNode;

function lookup(path: string): DescriptorNode {
  let node: DescriptorNode | undefined = ROOT.nested?.['onnx'];
  for (const part of path.split('.')) node = node?.nested?.[part];
  if (!node) throw new Error(`onnx.schema.json has no '${path}' (regenerate it).`);
  return node;
}

function fields<const N extends string>(message: string, names: readonly N[]): Readonly<Record<N, number>> {
  const node = lookup(message);
  const out = {} as Record<N, number>;
  for (const n of names) {
    const f = node.fields?.[n];
    if (!f) throw new Error(`onnx.schema.json: ${message} has no field '${n}' (regenerate it).`);
    out[n] = f.id;
  }
  return Object.freeze(out);
}

/** Field numbers used by the reader, by message. */
export const F = Object.freeze({
  Model: fields('ModelProto', ['ir_version', 'opset_import', 'producer_name', 'producer_version', 'domain', 'model_version', 'doc_string', 'graph', 'metadata_props', 'training_info', 'functions']),
  Graph: fields('GraphProto', ['node', 'name', 'initializer', 'sparse_initializer', 'doc_string', 'input', 'output', 'value_info']),
  Node: fields('NodeProto', ['input', 'output', 'name', 'op_type', 'domain', 'attribute', 'overload']),
  Attribute: fields('AttributeProto', ['name', 'ref_attr_name', 'type', 'f', 'i', 's', 't', 'g', 'sparse_tensor', 'floats', 'ints', 'strings', 'tensors', 'graphs', 'sparse_tensors']),
  Tensor: fields('TensorProto', ['dims', 'data_type', 'segment', 'float_data', 'int32_data', 'string_data', 'int64_data', 'name', 'raw_data', 'double_data', 'uint64_data', 'external_data', 'data_location']),
  SparseTensor: fields('SparseTensorProto', ['values', 'indices', 'dims']),
  ValueInfo: fields('ValueInfoProto', ['name', 'type']),
  Type: fields('TypeProto', ['tensor_type', 'sparse_tensor_type', 'sequence_type', 'map_type', 'optional_type']),
  TypeTensor: fields('TypeProto.Tensor', ['elem_type', 'shape']),
  Shape: fields('TensorShapeProto', ['dim']),
  Dimension: fields('TensorShapeProto.Dimension', ['dim_value', 'dim_param']),
  StringString: fields('StringStringEntryProto', ['key', 'value']),
  OperatorSetId: fields('OperatorSetIdProto', ['domain', 'version']),
  Function: fields('FunctionProto', ['name', 'domain', 'node', 'overload']),
});

/** TensorProto.DataType: enum name → value (FLOAT = 1 … INT2 = 26). */
export const DATA_TYPE: Readonly<Record<string, number>> = Object.freeze({ ...lookup('TensorProto.DataType').values });
/** TensorProto.DataLocation.EXTERNAL. */
export const DATA_LOCATION_EXTERNAL: number = lookup('TensorProto.DataLocation').values!['EXTERNAL']!;
/** AttributeProto.AttributeType: enum name → value. */
export const ATTRIBUTE_TYPE: Readonly<Record<string, number>> = Object.freeze({ ...lookup('AttributeProto.AttributeType').values });
/** Newest IR version the schema describes. */
export const SCHEMA_IR_VERSION: number = lookup('Version').values!['IR_VERSION']!;

/**
 * ONNX DataType enum name → IR dtype id (src/core/model/dtypes.ts). Keyed by name so the numbers come from
 * the schema; a data_type missing here is reported as unsupported.
 */
const DTYPE_BY_NAME: Readonly<Record<string, string>> = {
  FLOAT: 'float32', UINT8: 'uint8', INT8: 'int8', UINT16: 'uint16', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  STRING: 'string', BOOL: 'bool', FLOAT16: 'float16', DOUBLE: 'float64', UINT32: 'uint32', UINT64: 'uint64',
  COMPLEX64: 'complex64', COMPLEX128: 'complex128', BFLOAT16: 'bfloat16',
  FLOAT8E4M3FN: 'float8_e4m3fn', FLOAT8E4M3FNUZ: 'float8_e4m3fnuz', FLOAT8E5M2: 'float8_e5m2', FLOAT8E5M2FNUZ: 'float8_e5m2fnuz',
  UINT4: 'uint4', INT4: 'int4', FLOAT4E2M1: 'float4_e2m1', FLOAT8E8M0: 'float8_e8m0', UINT2: 'uint2', INT2: 'int2',
};

const DTYPE_BY_VALUE: ReadonlyMap<number, string> = new Map(
  Object.entries(DATA_TYPE).flatMap(([name, value]) => (DTYPE_BY_NAME[name] ? [[value, DTYPE_BY_NAME[name]!] as const] : [])),
);

/** IR dtype id for an ONNX data_type value, or undefined (UNDEFINED / unknown). */
export function dtypeOfOnnx(dataType: number): string | undefined {
  return DTYPE_BY_VALUE.get(dataType);
}
