/**
 * ONNX reader on hermetic models built in code: tensor byte ranges decode to the values written, Constant weights,
 * subgraph paths, external data, new dtypes, layer names/roles, KV-cache hyperparameters, and that weights are never
 * read. The real corpus is checked in test/integration/onnxCorpus.test.ts.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { MemoryByteSource, MemorySiblings, ModelFormatError, openModel, type ByteSource, type Model, type SiblingResolver } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { attr, dataType, encodeModel, externalTensor, f32Bytes, graph, model, node, rawTensor, tinyMlp, value } from '../fixtures/buildOnnx';
import { layerWeights, tensorLocation } from '../../src/core';

function read(bytes: Uint8Array, siblings?: SiblingResolver, name = 'm.onnx'): Promise<Model> {
  return openModel(new MemoryByteSource(name, bytes), siblings ? { siblings } : {});
}

test('synthetic: raw_data, float_data, int32_data and Constant values become byte ranges that decode to the values written', async () => {
  const wValues = [1.5, -2, 3.25, 4, 5, 6];
  const bytes = encodeModel(model(graph(
    [
      node('Constant', [], ['c_t'], { attributes: [attr('value', 't', { dims: [3], data_type: dataType('FLOAT'), float_data: [7, 8, 9] })] }),
      node('Constant', [], ['c_f'], { attributes: [attr('value_float', 'f', 0.25)] }),
      node('Constant', [], ['c_fs'], { attributes: [attr('value_floats', 'floats', [1, 2, 3, 4])] }),
      node('Constant', [], ['c_i'], { attributes: [attr('value_int', 'i', 300)] }),
      node('Constant', [], ['c_is'], { attributes: [attr('value_ints', 'ints', [1, 200, 70000])] }),
      node('Constant', [], ['c_s'], { attributes: [attr('value_strings', 'strings', ['a', 'bc'])] }),
      node('MatMul', ['x', 'w'], ['y'], { name: 'proj' }),
    ],
    {
      initializers: [
        rawTensor('w', [2, 3], { raw: f32Bytes(wValues) }),
        { name: 'h', dims: [2], data_type: dataType('FLOAT16'), int32_data: [0x3c00, 0xc000] },
        { name: 'd', dims: [2], data_type: dataType('DOUBLE'), double_data: [1.5, 2.5] },
      ],
    },
  )));
  const m = await read(bytes);
  const t = (name: string) => m.tensors.find((x) => x.name === name)!;
  const slice = (name: string) => { const l = tensorLocation(t(name))!; assert.equal(l.file, ''); return bytes.slice(l.byteOffset, l.byteOffset + l.byteLength); };
  assert.deepEqual(Array.from(new Float32Array(slice('w').buffer)), wValues);
  assert.equal(t('w').encoding, 'raw');
  assert.deepEqual(Array.from(new Float32Array(slice('c_t').buffer)), [7, 8, 9]);
  assert.deepEqual(Array.from(new Float32Array(slice('c_f').buffer)), [0.25]);
  // AttributeProto.floats/ints are not [packed=true] in onnx.proto: each value has its own key, so no single range.
  assert.equal(tensorLocation(t('c_fs')), undefined);
  assert.equal(t('c_fs').elementCount, 4);
  assert.deepEqual(Array.from(new Float64Array(slice('d').buffer)), [1.5, 2.5]);
  assert.equal(t('h').encoding, 'onnx-varint-int32');
  assert.deepEqual(Array.from(slice('h')), [0x80, 0x78, 0x80, 0x80, 0x03]);
  assert.equal(t('c_i').encoding, 'onnx-varint-int64');
  assert.deepEqual(Array.from(slice('c_i')), [0xac, 0x02]);
  assert.deepEqual([t('c_is').elementCount, t('c_i').elementCount, t('c_s').elementCount], [3, 1, 2]);
  assert.ok(['c_t', 'c_f', 'c_fs', 'c_i', 'c_is', 'c_s'].every((n) => t(n).origin === 'constant'));
  assert.equal(m.parameterCount, 6 + 2 + 2 + 3 + 1 + 4 + 1 + 3 + 2);
  assert.equal(m.tensorCount, 3);
  assert.equal(m.nodeCount, 7);
  assert.equal(m.layers.length, 1);
  assert.equal(m.layers[0]!.name, 'proj');
});

test('synthetic: IR 10+ dtypes (FLOAT8, INT4 packed pairs, FLOAT4E2M1, UINT2) map to IR dtypes with exact byte lengths', async () => {
  const bytes = encodeModel(model(graph([], {
    initializers: [
      rawTensor('f8', [4], { type: 'FLOAT8E4M3FN', raw: new Uint8Array(4) }),
      rawTensor('f8u', [4], { type: 'FLOAT8E5M2FNUZ', raw: new Uint8Array(4) }),
      rawTensor('i4', [5], { type: 'INT4', raw: new Uint8Array(3) }),
      rawTensor('u4', [4], { type: 'UINT4', raw: new Uint8Array(2) }),
      rawTensor('fp4', [3, 2], { type: 'FLOAT4E2M1', raw: new Uint8Array(3) }),
      rawTensor('u2', [5], { type: 'UINT2', raw: new Uint8Array(2) }),
      rawTensor('bf', [2], { type: 'BFLOAT16', raw: new Uint8Array(4) }),
    ],
  }), { irVersion: 13 }));
  const m = await read(bytes);
  assert.deepEqual(m.tensors.map((t) => [t.name, t.dtype, t.byteLength]), [
    ['f8', 'float8_e4m3fn', 4], ['f8u', 'float8_e5m2fnuz', 4], ['i4', 'int4', 3], ['u4', 'uint4', 2], ['fp4', 'float4_e2m1', 3], ['u2', 'uint2', 2], ['bf', 'bfloat16', 4],
  ]);
  assert.equal(m.formatVersion, 13);
});

test('synthetic: subgraphs are named by path, resolve outer-scope weights, and nest recursively', async () => {
  const inner = graph([node('MatMul', ['x', 'w_outer'], ['y'], { name: 'inner_mm' })], { name: 'inner' });
  const thenG = graph([node('If', ['cond'], ['y'], { name: 'nested_if', attributes: [attr('then_branch', 'g', inner), attr('else_branch', 'g', graph([], { name: 'e2' }))] })], { name: 't' });
  const elseG = graph([node('Conv', ['x', 'w_else'], ['y'])], { name: 'e', initializers: [rawTensor('w_else', [2, 1, 3, 3])] });
  const bytes = encodeModel(model(graph(
    [node('If', ['cond'], ['out'], { attributes: [attr('then_branch', 'g', thenG), attr('else_branch', 'g', elseG)] })],
    { initializers: [rawTensor('w_outer', [4, 4])] },
  )));
  const m = await read(bytes);
  assert.deepEqual(m.graphs.map((g) => g.name), ['main', 'main/If_0/then_branch', 'main/If_0/then_branch/nested_if/then_branch', 'main/If_0/then_branch/nested_if/else_branch', 'main/If_0/else_branch']);
  assert.deepEqual(m.graphs[0]!.nodes[0]!.subgraphs, ['main/If_0/then_branch', 'main/If_0/else_branch']);
  assert.deepEqual(m.graphs[0]!.nodes[0]!.attributes['then_branch'], { graph: 'main/If_0/then_branch' });
  const mm = m.layers.find((l) => l.name === 'inner_mm')!;
  assert.deepEqual(layerWeights(mm), ['w_outer']);
  const conv = m.layers.find((l) => l.op === 'Conv')!;
  assert.equal(conv.name, 'main/If_0/else_branch/Conv_0');
  assert.equal(conv.role, 'conv');
  assert.equal(m.tensors.find((t) => t.name === 'w_else')!.graph, 'main/If_0/else_branch');
  assert.equal(m.parameterCount, 16 + 18);
  assert.equal(m.tensorCount, 1);
});

test('synthetic: duplicate or empty node names give <op>_<index> layer names; DequantizeLinear-fed MatMul keeps the int8 weight', async () => {
  const bytes = encodeModel(model(graph(
    [
      node('DequantizeLinear', ['w8', 'w8_scale', 'w8_zp'], ['w_deq'], { name: 'dq' }),
      node('MatMul', ['x', 'w_deq'], ['h'], { name: 'same' }),
      node('Gemm', ['h', 'fcw', 'fcb'], ['y'], { name: 'same' }),
      node('LayerNormalization', ['y', 'g', 'beta'], ['z']),
    ],
    {
      initializers: [
        rawTensor('w8', [8, 8], { type: 'INT8' }), rawTensor('w8_scale', [], { raw: f32Bytes([0.1]) }), rawTensor('w8_zp', [], { type: 'INT8', raw: new Uint8Array(1) }),
        rawTensor('fcw', [8, 4]), rawTensor('fcb', [4]), rawTensor('g', [4]), rawTensor('beta', [4]),
      ],
    },
  )));
  const m = await read(bytes);
  assert.deepEqual(m.layers.map((l) => [l.name, l.op, l.role, l.dtype, layerWeights(l).join(',')]), [
    ['MatMul_1', 'MatMul', 'linear', 'int8', 'w8,w8_scale,w8_zp'],
    ['Gemm_2', 'Gemm', 'linear', 'float32', 'fcw,fcb'],
    ['LayerNormalization_3', 'LayerNormalization', 'norm', 'float32', 'g,beta'],
  ]);
  assert.equal(m.layers[0]!.quantizable, true);
  assert.equal(m.layers[2]!.quantizable, false);
});

test('synthetic: inputs keep symbolic dims; metadata_props, opsets and producer are reported', async () => {
  const bytes = encodeModel(model(graph([node('Relu', ['x'], ['y'])], {
    inputs: [value('x', 'FLOAT16', ['batch', 3, null, 'seq'])], outputs: [value('y', 'FLOAT16', ['batch', 3, null, 'seq'])],
  }), { producer: 'unit', metadata: { author: 'me', __proto__: 'x' } }));
  const m = await read(bytes);
  assert.deepEqual(m.graphs[0]!.inputs[0], { name: 'x', dtype: 'float16', shape: ['batch', 3, null, 'seq'] });
  assert.equal(m.producer, 'unit');
  assert.deepEqual(m.metadata['opset_import'], { 'ai.onnx': 21 });
  assert.equal((m.metadata['metadata_props'] as Record<string, string>)['author'], 'me');
});

test('synthetic: external data through siblings (offset/length), range checks and a missing file', async () => {
  const data = new Uint8Array(4096 + 64);
  data.set(f32Bytes([1, 2, 3, 4]), 4096);
  const ok = encodeModel(model(graph([], { initializers: [externalTensor('w', [4], 'weights.bin', 4096, 16), externalTensor('v', [16], 'weights.bin')] })));
  const m = await read(ok, new MemorySiblings('m.onnx', { 'weights.bin': data }));
  assert.deepEqual(m.tensors.map((t) => tensorLocation(t)), [
    { file: 'weights.bin', byteOffset: 4096, byteLength: 16, encoding: 'raw' },
    { file: 'weights.bin', byteOffset: 0, byteLength: 64, encoding: 'raw' },
  ]);
  assert.deepEqual(m.files, [{ path: 'm.onnx', byteLength: ok.length }, { path: 'weights.bin', byteLength: data.length }]);

  const past = encodeModel(model(graph([], { initializers: [externalTensor('w', [16], 'weights.bin', 4100)] })));
  await assert.rejects(read(past, new MemorySiblings('m.onnx', { 'weights.bin': data })), (e: unknown) => e instanceof ModelFormatError && e.code === 'truncated' && /^m\.onnx: external data of tensor 'w' \(offset 4100, length 64\) runs past the end of 'weights\.bin' \(4160 bytes\)\.$/.test(e.message));
  const wrongLength = encodeModel(model(graph([], { initializers: [externalTensor('w', [4], 'weights.bin', 0, 12)] })));
  await assert.rejects(read(wrongLength, new MemorySiblings('m.onnx', { 'weights.bin': data })), /declares 12 bytes of external data but its shape and data_type need 16/);
  await assert.rejects(read(ok, new MemorySiblings('m.onnx', {})), (e: unknown) => e instanceof ModelFormatError && e.code === 'missing-file' && /^m\.onnx: external data file 'weights\.bin' of tensor 'w' is missing\.$/.test(e.message));
});

test('synthetic: on disk, external data resolves through FolderSiblings', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onnx-ext-'));
  try {
    writeFileSync(path.join(dir, 'model.onnx'), encodeModel(model(graph([node('MatMul', ['x', 'w'], ['y'])], { initializers: [externalTensor('w', [2, 2], 'sub/w.bin')] }))));
    writeFileSync(path.join(dir, 'sub.bin'), new Uint8Array(1));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'sub', 'w.bin'), f32Bytes([1, 2, 3, 4]));
    const o = await openModelFile(path.join(dir, 'model.onnx'));
    try {
      const m = await openModel(o.source, { siblings: o.siblings });
      assert.deepEqual(tensorLocation(m.tensors[0]!), { file: 'sub/w.bin', byteOffset: 0, byteLength: 16, encoding: 'raw' });
    } finally {
      await o.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Counts bytes handed out, to prove payloads are skipped rather than read. */
class CountingSource implements ByteSource {
  bytesRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get name(): string { return this.inner.name; }
  get size(): number { return this.inner.size; }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}

test('synthetic: an 8 MiB model is parsed reading under 1% of its bytes (raw_data skipped)', async () => {
  const layers = 8;
  const inits = Array.from({ length: layers }, (_, i) => rawTensor(`layers.${i}.w`, [512, 512], { raw: new Uint8Array(512 * 512 * 4) }));
  const nodes = Array.from({ length: layers }, (_, i) => node('MatMul', [i === 0 ? 'x' : `h${i - 1}`, `layers.${i}.w`], [`h${i}`], { name: `layers.${i}/MatMul` }));
  const bytes = encodeModel(model(graph(nodes, { initializers: inits })));
  const src = new CountingSource(new MemoryByteSource('big.onnx', bytes));
  const m = await openModel(src);
  assert.equal(m.parameterCount, layers * 512 * 512);
  assert.deepEqual(m.layers.map((l) => l.block), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.ok(src.bytesRead < bytes.length * 0.01, `read ${src.bytesRead} of ${bytes.length} bytes`);
});

test('synthetic: the tiny MLP builder round-trips', async () => {
  const m = await read(tinyMlp());
  assert.deepEqual(m.layers.map((l) => [l.name, l.role]), [['fc1', 'ffn_up'], ['fc1_bias', 'bias']]);
  assert.equal(m.parameterCount, 40);
  assert.equal(m.weightBytes, 160);
});

test('synthetic: sparse initializers count their stored values; model-local functions are summarized, not counted', async () => {
  const g = graph([node('MatMul', ['x', 'sp'], ['y'])], { initializers: [rawTensor('dense', [2])] });
  g['sparse_initializer'] = [{ values: rawTensor('sp', [3]), indices: rawTensor('sp_idx', [3], { type: 'INT64', raw: new Uint8Array(24) }), dims: [4, 4] }];
  const m0 = model(g);
  m0['functions'] = [{ name: 'MyFn', domain: 'custom', input: ['a'], output: ['b'], node: [node('Constant', [], ['b'], { attributes: [attr('value_floats', 'floats', [1, 2])] })] }];
  m0['training_info'] = [{ algorithm: graph([], { initializers: [rawTensor('t', [5])] }) }];
  const m = await read(encodeModel(m0));
  assert.equal(m.parameterCount, 2 + 3);
  assert.equal(m.tensorCount, 1);
  assert.deepEqual(m.tensors.map((t) => [t.name, t.elementCount, t.origin]), [['dense', 2, 'initializer'], ['sp', 3, 'initializer']]);
  assert.deepEqual(m.metadata['functions'], ['custom.MyFn (1 nodes)']);
  assert.equal(m.metadata['training_info'], 1);
  assert.ok(m.warnings.some((w) => w.includes('1 model-local functions')));
});

test('synthetic: distinct node names name their layers; repeated name forms keep each block; weights found whatever their first character and length', async () => {
  const nodes = [];
  const inits = [];
  let x = 'x';
  for (let b = 0; b < 3; b++) {
    // Activations share first characters and lengths with weights (`wa0` beside `wq0`); one weight name is not ASCII.
    const wq = b === 1 ? `ẃq${b}` : `wq${b}`;
    inits.push(rawTensor(wq, [4, 4]), rawTensor(`wo${b}`, [4, 4]));
    nodes.push(node('MatMul', [x, wq], [`wa${b}`], { name: `/model/layers.${b}/attn/q_proj/MatMul` }));
    nodes.push(node('Relu', [`wa${b}`], [`wr${b}`], { name: `/model/layers.${b}/act/Relu` }));
    nodes.push(node('MatMul', [`wr${b}`, `wo${b}`], [`wb${b}`], { name: `/model/layers.${b}/attn/o_proj/MatMul` }));
    x = `wb${b}`;
  }
  const m = await read(encodeModel(model(graph(nodes, { initializers: inits }))));
  assert.deepEqual(m.layers.map((l) => [l.name, l.role, l.block, l.weight]), [0, 1, 2].flatMap((b) => [
    [`/model/layers.${b}/attn/q_proj/MatMul`, 'attention_q', b, b === 1 ? `ẃq${b}` : `wq${b}`],
    [`/model/layers.${b}/attn/o_proj/MatMul`, 'attention_o', b, `wo${b}`],
  ]));
  assert.deepEqual(m.layers.map((l) => l.inputs), [0, 1, 2].flatMap((b) => [[b === 0 ? 'x' : `wb${b - 1}`, b === 1 ? `ẃq${b}` : `wq${b}`], [`wr${b}`, `wo${b}`]]));
});

test('synthetic: value_info entries that repeat a checked type are still decoded exactly; a later entry with another, bad shape is still refused', async () => {
  const infos = (dims: number) => [
    value('a', 'FLOAT', ['batch', 8]), value('bb', 'FLOAT', ['batch', 8]), value('c'.repeat(70), 'FLOAT', ['batch', 8]),
    value('d', 'FLOAT16', ['batch', 8]), value('e', 'FLOAT', Array.from({ length: dims }, () => 2)),
  ];
  const build = (dims: number): Uint8Array => {
    const g = graph([node('Relu', ['x'], ['y'])], { inputs: [value('x', 'FLOAT', ['batch', 8])], outputs: [value('y', 'FLOAT', ['batch', 8])] });
    (g as Record<string, unknown>)['value_info'] = infos(dims);
    return encodeModel(model(g));
  };
  const m = await read(build(16));
  assert.deepEqual(m.graphs[0]!.valueInfo, [
    { name: 'a', dtype: 'float32', shape: ['batch', 8] }, { name: 'bb', dtype: 'float32', shape: ['batch', 8] }, { name: 'c'.repeat(70), dtype: 'float32', shape: ['batch', 8] },
    { name: 'd', dtype: 'float16', shape: ['batch', 8] }, { name: 'e', dtype: 'float32', shape: Array.from({ length: 16 }, () => 2) },
  ]);
  await assert.rejects(read(build(17)), (e: unknown) => e instanceof ModelFormatError && /more than 16 dimensions/.test(e.message));
});
