/**
 * Generates src/core/formats/onnx/gen/onnx.schema.json, the ONNX protobuf descriptor (protobufjs JSON) that the
 * ONNX reader takes its field numbers and enum values from. Never edit the JSON by hand: rerun
 *
 *   node --import tsx test/conformance/genOnnxSchema.ts          # write
 *   node --import tsx test/conformance/genOnnxSchema.ts --check  # exit 1 when the checked-in file differs
 *
 * Base: Debian python3-onnx's `onnx-ml.proto` (onnx 1.12, IR 8; a superset of the npm `onnx-proto` 8.0.1 schema,
 * which is onnx 1.10.2 and lacks FLOAT8/INT4/FLOAT4 and every IR 9+ field). The IR 9–13 additions below are the
 * upstream schema's fields and values (https://github.com/onnx/onnx/blob/main/onnx/onnx.in.proto), applied only
 * where the base lacks them; a conflicting id in the base is an error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

/** Default location of the base schema (package python3-onnx). */
export const BASE_PROTO = '/usr/lib/python3/dist-packages/onnx/onnx-ml.proto';
/** The generated file. */
export const OUTPUT = path.resolve(__dirname, '../../src/core/formats/onnx/gen/onnx.schema.json');

interface FieldAddition { readonly message: string; readonly name: string; readonly id: number; readonly type: string; readonly rule?: 'repeated'; readonly ir: number }
interface EnumAddition { readonly enum: string; readonly name: string; readonly value: number; readonly ir: number }
interface MessageAddition { readonly name: string; readonly fields: readonly Omit<FieldAddition, 'message' | 'ir'>[]; readonly ir: number }

//#region upstream additions after onnx 1.12 (IR 8)
const ENUM_ADDITIONS: readonly EnumAddition[] = [
  { enum: 'Version', name: 'IR_VERSION_2021_7_30', value: 8, ir: 8 },
  { enum: 'Version', name: 'IR_VERSION_2023_5_5', value: 9, ir: 9 },
  { enum: 'Version', name: 'IR_VERSION_2024_3_25', value: 10, ir: 10 },
  { enum: 'Version', name: 'IR_VERSION_2025_05_12', value: 11, ir: 11 },
  { enum: 'Version', name: 'IR_VERSION_2025_08_26', value: 12, ir: 12 },
  { enum: 'TensorProto.DataType', name: 'FLOAT8E4M3FN', value: 17, ir: 9 },
  { enum: 'TensorProto.DataType', name: 'FLOAT8E4M3FNUZ', value: 18, ir: 9 },
  { enum: 'TensorProto.DataType', name: 'FLOAT8E5M2', value: 19, ir: 9 },
  { enum: 'TensorProto.DataType', name: 'FLOAT8E5M2FNUZ', value: 20, ir: 9 },
  { enum: 'TensorProto.DataType', name: 'UINT4', value: 21, ir: 10 },
  { enum: 'TensorProto.DataType', name: 'INT4', value: 22, ir: 10 },
  { enum: 'TensorProto.DataType', name: 'FLOAT4E2M1', value: 23, ir: 11 },
  { enum: 'TensorProto.DataType', name: 'FLOAT8E8M0', value: 24, ir: 12 },
  { enum: 'TensorProto.DataType', name: 'UINT2', value: 25, ir: 13 },
  { enum: 'TensorProto.DataType', name: 'INT2', value: 26, ir: 13 },
];

const MESSAGE_ADDITIONS: readonly MessageAddition[] = [
  { name: 'IntIntListEntryProto', ir: 11, fields: [{ name: 'key', id: 1, type: 'int64' }, { name: 'value', id: 2, type: 'int64', rule: 'repeated' }] },
  { name: 'SimpleShardedDimProto', ir: 11, fields: [{ name: 'dim_value', id: 1, type: 'int64' }, { name: 'dim_param', id: 2, type: 'string' }, { name: 'num_shards', id: 3, type: 'int64' }] },
  { name: 'ShardedDimProto', ir: 11, fields: [{ name: 'axis', id: 1, type: 'int64' }, { name: 'simple_sharding', id: 2, type: 'SimpleShardedDimProto', rule: 'repeated' }] },
  {
    name: 'ShardingSpecProto', ir: 11, fields: [
      { name: 'tensor_name', id: 1, type: 'string' }, { name: 'device', id: 2, type: 'int64', rule: 'repeated' },
      { name: 'index_to_device_group_map', id: 3, type: 'IntIntListEntryProto', rule: 'repeated' }, { name: 'sharded_dim', id: 4, type: 'ShardedDimProto', rule: 'repeated' },
    ],
  },
  { name: 'NodeDeviceConfigurationProto', ir: 11, fields: [{ name: 'configuration_id', id: 1, type: 'string' }, { name: 'sharding_spec', id: 2, type: 'ShardingSpecProto', rule: 'repeated' }, { name: 'pipeline_stage', id: 3, type: 'int32' }] },
  { name: 'DeviceConfigurationProto', ir: 11, fields: [{ name: 'name', id: 1, type: 'string' }, { name: 'num_devices', id: 2, type: 'int32' }, { name: 'device', id: 3, type: 'string', rule: 'repeated' }] },
];

const FIELD_ADDITIONS: readonly FieldAddition[] = [
  { message: 'FunctionProto', name: 'attribute_proto', id: 11, type: 'AttributeProto', rule: 'repeated', ir: 9 },
  { message: 'FunctionProto', name: 'value_info', id: 12, type: 'ValueInfoProto', rule: 'repeated', ir: 10 },
  { message: 'FunctionProto', name: 'overload', id: 13, type: 'string', ir: 10 },
  { message: 'FunctionProto', name: 'metadata_props', id: 14, type: 'StringStringEntryProto', rule: 'repeated', ir: 10 },
  { message: 'NodeProto', name: 'overload', id: 8, type: 'string', ir: 10 },
  { message: 'NodeProto', name: 'metadata_props', id: 9, type: 'StringStringEntryProto', rule: 'repeated', ir: 10 },
  { message: 'NodeProto', name: 'device_configurations', id: 10, type: 'NodeDeviceConfigurationProto', rule: 'repeated', ir: 11 },
  { message: 'ValueInfoProto', name: 'metadata_props', id: 4, type: 'StringStringEntryProto', rule: 'repeated', ir: 10 },
  { message: 'GraphProto', name: 'metadata_props', id: 16, type: 'StringStringEntryProto', rule: 'repeated', ir: 10 },
  { message: 'TensorProto', name: 'metadata_props', id: 16, type: 'StringStringEntryProto', rule: 'repeated', ir: 10 },
  { message: 'ModelProto', name: 'configuration', id: 26, type: 'DeviceConfigurationProto', rule: 'repeated', ir: 11 },
];
//#endregion

/** Builds the descriptor JSON text from the base .proto text. Deterministic. */
export function generateSchema(baseProtoText: string, baseName: string): string {
  const root = protobuf.parse(baseProtoText, { keepCase: true }).root;
  const ns = root.lookup('onnx') as protobuf.Namespace;
  const applied: string[] = [];
  for (const m of MESSAGE_ADDITIONS) {
    if (ns.get(m.name)) continue;
    const type = new protobuf.Type(m.name);
    for (const f of m.fields) type.add(new protobuf.Field(f.name, f.id, f.type, f.rule));
    ns.add(type);
    applied.push(`message ${m.name} (IR ${m.ir})`);
  }
  for (const e of ENUM_ADDITIONS) {
    const en = ns.lookupEnum(e.enum);
    const existing = en.values[e.name];
    if (existing !== undefined) {
      if (existing !== e.value) throw new Error(`${e.enum}.${e.name} is ${existing} in the base, upstream says ${e.value}`);
      continue;
    }
    if (e.enum === 'Version' && en.valuesById[e.value] !== undefined) {
      // The base's newest value is the alias `IR_VERSION`; upstream renamed it to its dated name and moved the alias on.
      const old = en.valuesById[e.value]!;
      en.remove(old);
      applied.push(`Version.${old} → ${e.name}`);
    } else if (en.valuesById[e.value] !== undefined) {
      throw new Error(`${e.enum} value ${e.value} is '${en.valuesById[e.value]}' in the base, upstream says '${e.name}'`);
    }
    en.add(e.name, e.value);
    applied.push(`${e.enum}.${e.name} = ${e.value} (IR ${e.ir})`);
  }
  const version = ns.lookupEnum('Version');
  const newest = Math.max(...Object.values(version.values));
  if (version.values.IR_VERSION === undefined || version.values.IR_VERSION < newest + 1) {
    if (version.values.IR_VERSION !== undefined) version.remove('IR_VERSION');
    version.add('IR_VERSION', 13);
  }
  for (const f of FIELD_ADDITIONS) {
    const type = ns.lookupType(f.message);
    const existing = type.fields[f.name];
    if (existing) {
      if (existing.id !== f.id) throw new Error(`${f.message}.${f.name} has id ${existing.id} in the base, upstream says ${f.id}`);
      continue;
    }
    if (type.fieldsById[f.id]) throw new Error(`${f.message} field id ${f.id} is '${type.fieldsById[f.id]!.name}' in the base, upstream says '${f.name}'`);
    type.add(new protobuf.Field(f.name, f.id, f.type, f.rule));
    applied.push(`${f.message}.${f.name} = ${f.id} (IR ${f.ir})`);
  }
  root.resolveAll();
  const doc = {
    '//': 'GENERATED by test/conformance/genOnnxSchema.ts; do not edit.',
    base: baseName,
    additions: applied,
    descriptor: root.toJSON(),
  };
  return `${JSON.stringify(doc, null, 1)}\n`;
}

function main(): void {
  const check = process.argv.includes('--check');
  const base = process.argv.find((a, i) => i >= 2 && !a.startsWith('--')) ?? BASE_PROTO;
  const text = generateSchema(readFileSync(base, 'utf8'), `python3-onnx ${path.basename(base)} (onnx 1.12)`);
  if (check) {
    const current = readFileSync(OUTPUT, 'utf8');
    if (current !== text) {
      console.error(`${path.relative(process.cwd(), OUTPUT)} is out of date; rerun test/conformance/genOnnxSchema.ts.`);
      process.exitCode = 1;
    } else console.log('onnx.schema.json is up to date.');
    return;
  }
  writeFileSync(OUTPUT, text);
  console.log(`wrote ${OUTPUT} (${text.length} bytes)`);
}

if (require.main === module) main();
