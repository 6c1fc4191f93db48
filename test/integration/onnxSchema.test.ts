/**
 * The generated ONNX descriptor (src/core/formats/onnx/gen/onnx.schema.json) is up to date with its generator and
 * covers IR 9–13 (FLOAT8 variants, INT4/UINT4, FLOAT4E2M1, FLOAT8E8M0, INT2/UINT2, metadata_props, overloads),
 * which the npm `onnx-proto` package (onnx 1.10.2) lacks.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { onnx as onnxProto } from 'onnx-proto';
import { BASE_PROTO, OUTPUT, generateSchema } from '../conformance/genOnnxSchema';
import { DATA_TYPE, F, SCHEMA_IR_VERSION, dtypeOfOnnx } from '../../src/core/formats/onnx/schema';

test('onnx.schema.json is what test/conformance/genOnnxSchema.ts generates (never hand-edited)', () => {
  assert.ok(existsSync(BASE_PROTO), `${BASE_PROTO} is missing: apt-get install python3-onnx`);
  const expected = generateSchema(readFileSync(BASE_PROTO, 'utf8'), `python3-onnx ${path.basename(BASE_PROTO)} (onnx 1.12)`);
  assert.equal(readFileSync(OUTPUT, 'utf8'), expected, 'rerun: node --import tsx test/conformance/genOnnxSchema.ts');
});

test('the schema covers IR 13 data types and newer fields; onnx-proto does not', () => {
  const names = ['FLOAT8E4M3FN', 'FLOAT8E4M3FNUZ', 'FLOAT8E5M2', 'FLOAT8E5M2FNUZ', 'UINT4', 'INT4', 'FLOAT4E2M1', 'FLOAT8E8M0', 'UINT2', 'INT2'];
  assert.deepEqual(names.map((n) => DATA_TYPE[n]), [17, 18, 19, 20, 21, 22, 23, 24, 25, 26]);
  assert.deepEqual(names.map((n) => dtypeOfOnnx(DATA_TYPE[n]!)), ['float8_e4m3fn', 'float8_e4m3fnuz', 'float8_e5m2', 'float8_e5m2fnuz', 'uint4', 'int4', 'float4_e2m1', 'float8_e8m0', 'uint2', 'int2']);
  assert.equal(SCHEMA_IR_VERSION, 13);
  assert.equal(F.Tensor.raw_data, 9);
  assert.equal(F.Node.overload, 8);
  const dt = onnxProto.TensorProto.DataType as unknown as Record<string, number | undefined>;
  assert.equal(dt['BFLOAT16'], 16);
  assert.equal(dt['FLOAT8E4M3FN'], undefined, 'onnx-proto 8.0.1 stops at onnx 1.10.2 (IR 8)');
});

test('every ONNX data type value maps to a dtype in the IR table', () => {
  for (const [name, value] of Object.entries(DATA_TYPE)) {
    if (name === 'UNDEFINED') assert.equal(dtypeOfOnnx(value), undefined);
    else assert.ok(dtypeOfOnnx(value), `${name} has no IR dtype`);
  }
});
