/**
 * ONNX reader on the real corpus (../shared/models/onnx, counts from SOURCES.md): node, initializer and parameter
 * counts, subgraphs, external data, KV-cache hyperparameters, roles, ConstantOfShape warnings.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { test } from 'node:test';
import { openModel, type Model } from '../../src/core';
import { FolderSiblings, openModelFile } from '../../src/node/fileByteSource';
import { layerWeights, tensorLocation } from '../../src/core';
import { SHARED_MODELS } from './sharedModels';

const MODELS = path.join(SHARED_MODELS, 'onnx');

async function readFile(rel: string): Promise<Model> {
  const o = await openModelFile(path.join(MODELS, rel));
  try {
    return await openModel(o.source, { siblings: o.siblings });
  } finally {
    await o.close();
  }
}

function constElements(m: Model): number {
  return m.tensors.filter((t) => t.origin === 'constant').reduce((s, t) => s + t.elementCount, 0);
}

// Reference counts from /work/shared/models/SOURCES.md (python3-onnx 1.12).
const CORPUS: readonly { file: string; nodes: number; inits: number; params: number; constant: number; graphs: number }[] = [
  { file: 'mnist-12.onnx', nodes: 12, inits: 8, params: 5998, constant: 0, graphs: 1 },
  { file: 'mnist-12-float16.onnx', nodes: 14, inits: 8, params: 5998, constant: 0, graphs: 1 },
  { file: 'mnist-12-int8.onnx', nodes: 11, inits: 29, params: 6080, constant: 0, graphs: 1 },
  { file: 'mnist-12-uint8.onnx', nodes: 25, inits: 15, params: 6010, constant: 0, graphs: 1 },
  { file: 'tiny-random-gpt2-fp32.onnx', nodes: 39, inits: 27, params: 142112, constant: 0, graphs: 1 },
  { file: 'tiny-random-gpt2-fp16.onnx', nodes: 37, inits: 27, params: 142112, constant: 0, graphs: 1 },
  { file: 'tiny-qwen35-decoder-fp16.onnx', nodes: 29, inits: 27, params: 185987, constant: 0, graphs: 1 },
  { file: 'silero_vad.onnx', nodes: 5, inits: 0, params: 545597, constant: 545597, graphs: 51 },
  { file: 'FastestDet.onnx', nodes: 218, inits: 157, params: 241309, constant: 0, graphs: 1 },
  { file: 'scx_pardus_model.onnx', nodes: 113, inits: 52, params: 9589, constant: 0, graphs: 4 },
  { file: 'scx_pardus_xgboost.onnx', nodes: 1, inits: 0, params: 0, constant: 0, graphs: 1 },
  { file: 'light_resnet50.onnx', nodes: 415, inits: 269, params: 2194, constant: 0, graphs: 1 },
  { file: 'cartpole_dqn_external_data/model.onnx', nodes: 5, inits: 6, params: 67586, constant: 0, graphs: 1 },
];

for (const c of CORPUS) {
  test(`corpus ${c.file}: nodes ${c.nodes}, inits ${c.inits}, params ${c.params}, const ${c.constant}`, async () => {
    const m = await readFile(c.file);
    assert.equal(m.format, 'onnx');
    assert.equal(m.nodeCount, c.nodes);
    assert.equal(m.tensorCount, c.inits);
    assert.equal(m.parameterCount, c.params);
    assert.equal(constElements(m), c.constant);
    assert.equal(m.graphs.length, c.graphs);
    assert.equal(new Set(m.layers.map((l) => l.name)).size, m.layers.length, 'layer names are unique');
    assert.equal(new Set(m.tensors.map((t) => t.name)).size, m.tensors.length, 'tensor names are unique');
    assert.doesNotThrow(() => JSON.stringify(m));
  });
}

test('corpus: silero_vad has 25 If nodes, 50 branch subgraphs with 684 nested nodes', async () => {
  const m = await readFile('silero_vad.onnx');
  const ifs = m.graphs.flatMap((g) => g.nodes).filter((n) => n.op === 'If');
  assert.equal(ifs.length, 25);
  const sub = m.graphs.slice(1);
  assert.equal(sub.length, 50);
  assert.equal(sub.reduce((s, g) => s + g.nodes.length, 0), 684);
  assert.ok(sub.every((g) => g.name.startsWith('main/')), 'subgraph names are paths under main');
  assert.ok(sub.some((g) => /^main\/[^/]+\/then_branch$/.test(g.name)));
  // Weights live in Constant nodes of the branches and feed Conv layers.
  assert.ok(m.layers.some((l) => l.role === 'conv' && l.dtype === 'float32'));
  assert.ok(m.tensors.every((t) => t.origin === 'constant'));
  assert.ok(m.tensors.filter((t) => t.graph !== 'main').length > 100, 'most weights live in branch subgraphs');
});

test('corpus: cartpole external data resolves (5 tensors in model.onnx.data at the listed offsets)', async () => {
  const m = await readFile('cartpole_dqn_external_data/model.onnx');
  const ext = m.tensors.filter((t) => tensorLocation(t)?.file === 'model.onnx.data');
  assert.equal(ext.length, 5);
  assert.deepEqual(ext.map((t) => t.byteOffset).sort((a, b) => a - b), [0, 1024, 2048, 4096, 8192]);
  assert.ok(ext.some((t) => t.byteLength === 262144 && t.shape.join('x') === '256x256'));
  const inline = m.tensors.find((t) => t.name === 'q_net.4.bias');
  assert.equal(inline?.file, '');
  assert.deepEqual(m.files.map((f) => f.path), ['model.onnx', 'model.onnx.data']);
  assert.equal(m.totalFileBytes, 8502 + 270336);
});

test('corpus: decoders get KV-cache hyperparameters from past_key_values inputs', async () => {
  const qwen = await readFile('tiny-qwen35-decoder-fp16.onnx');
  assert.deepEqual(
    { b: qwen.hyperparameters.blockCount, kv: qwen.hyperparameters.kvHeadCount, d: qwen.hyperparameters.headDim, h: qwen.hyperparameters.headCount, src: qwen.hyperparameters.source },
    { b: 2, kv: 2, d: 16, h: 4, src: 'onnx past_key_values inputs' },
  );
  const gpt2 = await readFile('tiny-random-gpt2-fp32.onnx');
  assert.equal(gpt2.hyperparameters.blockCount, 5);
  assert.equal(gpt2.hyperparameters.kvHeadCount, 4);
  assert.equal(gpt2.hyperparameters.headDim, 8);
  assert.equal(gpt2.hyperparameters.vocabSize, 1000);
  assert.equal(gpt2.hyperparameters.embeddingLength, 32);
  const mnist = await readFile('mnist-12.onnx');
  assert.deepEqual(mnist.hyperparameters, {});
});

test('corpus: layer roles for GPT-2 (fused com.microsoft ops) and Qwen-style names', async () => {
  const gpt2 = await readFile('tiny-random-gpt2-fp32.onnx');
  const role = (name: string): string | undefined => gpt2.layers.find((l) => l.name === name)?.role;
  assert.equal(role('EmbedLayerNormalization_0'), 'embedding');
  assert.equal(role('GptAttention_0'), 'attention_qkv');
  assert.equal(role('GptAttention_0_matmul'), 'attention_o');
  assert.equal(role('FullyConnect_MatMul_0'), 'ffn_up');
  assert.equal(role('FullyConnect_MatMul_1'), 'ffn_down');
  assert.equal(role('/lm_head/MatMul'), 'output_head');
  assert.equal(gpt2.layers.find((l) => l.name === 'GptAttention_3')?.block, 3);
  const norm = gpt2.layers.find((l) => l.role === 'norm')!;
  assert.equal(norm.quantizable, false);
  const qwen = await readFile('tiny-qwen35-decoder-fp16.onnx');
  const byWeight = (w: string) => qwen.layers.find((l) => layerWeights(l)[0] === w);
  assert.equal(byWeight('l1.q.w')?.role, 'attention_q');
  assert.equal(byWeight('l1.q.w')?.block, 1);
  assert.equal(byWeight('l0.k.w')?.role, 'attention_k');
  assert.equal(byWeight('l0.dn.w')?.role, 'ffn_down');
  assert.equal(byWeight('embed_tokens.weight')?.role, 'embedding');
  assert.equal(byWeight('lm_head.w')?.role, 'output_head');
  assert.equal(byWeight('lm_head.w')?.name, 'MatMul_28', 'unnamed nodes become <op>_<index>');
  const int8 = await readFile('mnist-12-int8.onnx');
  const qconv = int8.layers.find((l) => l.op === 'QLinearConv')!;
  assert.equal(qconv.role, 'conv');
  assert.equal(qconv.dtype, 'int8');
  assert.deepEqual(layerWeights(qconv).slice(0, 3), ['Parameter5_quantized', 'Parameter5_scale', 'Parameter5_zero_point']);
});

test('corpus: light_resnet50 warns that 239 ConstantOfShape weights are not stored', async () => {
  const m = await readFile('light_resnet50.onnx');
  const w = m.warnings.find((x) => x.includes('ConstantOfShape'));
  assert.ok(w, 'warning present');
  assert.match(w!, /239 ConstantOfShape nodes/);
  const silero = await readFile('silero_vad.onnx');
  assert.ok(!silero.warnings.some((x) => x.includes('ConstantOfShape')), 'padding/state ConstantOfShape nodes are not weights');
});

test('symlinked sibling inside the folder is fine (FolderSiblings)', async () => {
  const sib = FolderSiblings.forModel(path.join(MODELS, 'cartpole_dqn_external_data/model.onnx'));
  assert.equal(await sib.exists('model.onnx.data'), true);
  await sib.close();
});
