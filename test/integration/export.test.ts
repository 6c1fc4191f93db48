/** Exports on real inputs: the ORT snippet parses in python3, the llama.cpp command for ../shared's stories260K.gguf. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { MemoryByteSource, exportLlamaCpp, exportOrt, openModel, q4kmFormats, llamaCppRulesBaseline } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { buildMatMulModel } from '../fixtures/planOnnx';
import { SHARED_MODELS } from './sharedModels';

const SHARED = SHARED_MODELS;

test('ORT export: nodes_to_exclude for float layers, TensorQuantOverrides with per-channel axes, valid Python', async () => {
  const bytes = buildMatMulModel({ k: 32, n: 64, gemmOut: 16 });
  const model = await openModel(new MemoryByteSource('m.onnx', bytes));
  const names = model.layers.map((l) => l.name);
  assert.deepEqual(names, ['matmul', 'gemm']);
  const a = exportOrt(model, { matmul: 'int8', gemm: 'fp16' });
  assert.deepEqual(a.nodes_to_exclude, ['gemm']);
  assert.deepEqual(a.op_types_to_quantize, ['MatMul']);
  assert.deepEqual(a.TensorQuantOverrides, { W: [{ quant_type: 'QInt8', axis: 1, symmetric: true }] });
  assert.ok(a.warnings.some((w) => /fp16; quantize_static does not convert floats/.test(w)));
  const b = exportOrt(model, { matmul: 'keep', gemm: 'int4_g32' });
  assert.deepEqual(b.nodes_to_exclude, ['matmul']);
  assert.deepEqual(b.TensorQuantOverrides, { W2: [{ quant_type: 'QInt4', axis: 0, symmetric: true }] }, 'Gemm with transB=1 has output channels on axis 0');
  assert.ok(b.warnings.some((w) => /blocked/.test(w)));
  const c = exportOrt(model, { matmul: 'fp8_e4m3', gemm: 'int8_tensor' });
  assert.deepEqual(c.TensorQuantOverrides, { W: [{ quant_type: 'QFLOAT8E4M3FN', symmetric: true }], W2: [{ quant_type: 'QInt8', symmetric: true }] });
  for (const e of [a, b, c]) {
    assert.match(e.python, /quantize_static\(\n {4}"m\.onnx",\n {4}"m\.quant\.onnx",/);
    assert.match(e.python, /extra_options=\{"TensorQuantOverrides": overrides\}/);
    assert.match(e.python, /nodes_to_exclude=plan\["nodes_to_exclude"\]/);
    // The snippet is valid Python, and its embedded JSON is the exported settings.
    const parsed = execFileSync('python3', ['-c', 'import ast,sys,json; src=sys.stdin.read(); ast.parse(src); start=src.index("json.loads(\'\'\'")+14; print(json.dumps(json.loads(src[start:src.index("\'\'\')", start)])))'], { input: e.python }).toString();
    assert.deepEqual(JSON.parse(parsed), { nodes_to_exclude: e.nodes_to_exclude, op_types_to_quantize: e.op_types_to_quantize, TensorQuantOverrides: e.TensorQuantOverrides });
  }
});

test('llama.cpp export: one anchored --tensor-type override per planned GGUF tensor and the base type', async () => {
  const opened = await openModelFile(path.join(SHARED, 'gguf/stories260K.gguf'));
  const model = await openModel(opened.source, { siblings: opened.siblings });
  await opened.close();
  const base = llamaCppRulesBaseline(model, q4kmFormats(model))!;
  const e = exportLlamaCpp(model, base.assignment);
  assert.equal(e.argv[0], 'llama-quantize');
  // stories260K's rows are 64 wide (172 for ffn_down), not multiples of the K-quants' 256: the Q4_K_M rule's types
  // become llama-quantize's shape fallbacks (Q4_K → Q5_0, Q6_K → Q8_0; a 172-wide row holds no 32-block → F16), and
  // the most common of them is the base type.
  assert.deepEqual(e.argv.slice(-3), ['stories260K.gguf', 'stories260K-plan.gguf', 'Q5_0']);
  assert.equal(e.baseType, 'Q5_0');
  const overrides = e.argv.filter((_, i) => e.argv[i - 1] === '--tensor-type');
  // 5 blocks: use_more_bits(i, 5) is true for i = 2 ((i − 0) % 3 == 2) and i = 4 (i ≥ 35/8).
  for (let i = 0; i < 5; i++) {
    const t = i === 2 || i === 4 ? 'Q8_0' : 'Q5_0';
    assert.ok(overrides.includes(`^blk\\.${i}\\.attn_v\\.weight$=${t}`), overrides.join(' '));
    assert.ok(overrides.includes(`^blk\\.${i}\\.ffn_down\\.weight$=F16`));
  }
  assert.ok(overrides.includes('^output\\.weight$=Q8_0'));
  assert.ok(!overrides.some((o) => o.includes('norm')), 'norms stay as stored');
  assert.equal(overrides.length, model.layers.filter((l) => l.quantizable).length);
  assert.ok(e.command.includes(`--tensor-type '^blk\\.0\\.attn_q\\.weight$=Q5_0'`));
  assert.deepEqual(e.warnings, []);
});
