import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EstimateError, TARGETS, estimate, formatByteLength, getNumberFormat, getTarget, isCachelessDecoder,
  peakActivationBytes,
  type Estimate, type Model, type Target,
} from '../../src/core';
import { layer, llamaLike, model, node, tensor, value } from '../fixtures/estimateModels';

const GiB = 2 ** 30;
const target = (id: string): Target => getTarget(id)!;

/** Tiny hyperparameter-only decoders (a few tensors) stand in for the big published models. */
function decoderHp(blocks: number, heads: number, kvHeads: number | undefined, d: number): Model {
  const t = tensor('w', 'float16', [64, 64]);
  return model({ tensors: [t], layers: [layer('w', 'linear', [t])], hyperparameters: { architecture: 'llama', blockCount: blocks, headCount: heads, ...(kvHeads ? { kvHeadCount: kvHeads } : {}), embeddingLength: d } });
}

test('KV cache matches published figures: Llama-3-8B at 8192 FP16 = 1 GiB, Llama-2-7B at 4096 = 2 GiB, FP8 halves', () => {
  const llama3 = decoderHp(32, 32, 8, 4096);
  assert.equal(estimate(llama3, target('h100'), { context: 8192 }).kvCacheBytes, 1 * GiB);
  assert.equal(estimate(llama3, target('h100'), { context: 8192, kvFormat: 'fp8_e4m3' }).kvCacheBytes, 0.5 * GiB);
  assert.equal(estimate(llama3, target('h100'), { context: 8192, batch: 4 }).kvCacheBytes, 4 * GiB);
  // INT4 KV with FP16 scale per 128 values: whole blocks of 66 bytes.
  assert.equal(estimate(llama3, target('h100'), { context: 8192, kvFormat: 'int4' }).kvCacheBytes, (GiB / 2 / 128) * 66);
  const llama2 = decoderHp(32, 32, undefined, 4096);
  assert.equal(estimate(llama2, target('h100'), { context: 4096 }).kvCacheBytes, 2 * GiB);
  // Encoders have no KV cache.
  const bert = model({ tensors: [tensor('w', 'float32', [4, 4])], layers: [], hyperparameters: { architecture: 'bert', blockCount: 12, headCount: 12, embeddingLength: 768 } });
  assert.equal(estimate(bert, target('h100')).kvCacheBytes, 0);
});

function assertFinite(e: Estimate, what: string): void {
  for (const [k, v] of Object.entries(e)) if (typeof v === 'number') assert.ok(Number.isFinite(v) && v >= 0, `${what}: ${k} = ${v}`);
  for (const l of e.perLayer) assert.ok(Number.isFinite(l.bytes) && Number.isFinite(l.flopsPerToken), what);
}

test('an assignment converts assigned layers exactly (scales included) and keeps the rest as stored', () => {
  const m = llamaLike({ blocks: 2, d: 256, heads: 4, kvHeads: 2, ffn: 512, vocab: 1000 });
  const asStored = estimate(m, target('h100'));
  assert.equal(asStored.weightBytes, m.weightBytes);
  const q = m.layers.find((l) => l.name === 'blk.0.attn_q.weight')!;
  const e = estimate(m, target('h100'), { assignment: { [q.name]: 'int4', 'blk.1.ffn_up.weight': 'keep' } });
  assert.equal(e.weightBytes, m.weightBytes - q.byteLength + formatByteLength(getNumberFormat('int4')!, q.shape));
  assert.equal(e.perLayer.find((l) => l.layer === q.name)!.bytes, (256 * 256 / 128) * 66);
  // defaultFormat applies to quantizable layers only (norms stay FP32).
  const all = estimate(m, target('h100'), { defaultFormat: 'q4_k' });
  const norms = m.layers.filter((l) => l.role === 'norm').reduce((s, l) => s + l.byteLength, 0);
  const quantizable = m.layers.filter((l) => l.quantizable).reduce((s, l) => s + (l.parameterCount / 256) * 144, 0);
  assert.equal(all.weightBytes, norms + quantizable);
  assert.equal(estimate(m, target('h100'), { defaultFormat: 'keep' }).weightBytes, m.weightBytes);
});

test('unsupported compute formats are listed with what they run as; weight-only formats never are', () => {
  const m = llamaLike({ blocks: 1, d: 128, heads: 4, kvHeads: 4, ffn: 256, vocab: 100 });
  const compute = m.layers.filter((l) => l.quantizable && l.role !== 'embedding').length;
  assert.equal(estimate(m, target('h100'), { defaultFormat: 'nvfp4' }).unsupportedFormats.length, compute);
  assert.deepEqual(estimate(m, target('h100'), { defaultFormat: 'nvfp4' }).unsupportedFormats[0], { layer: 'blk.0.attn_q.weight', format: 'nvfp4', runsAs: 'fp16' });
  assert.equal(estimate(m, target('b200'), { defaultFormat: 'nvfp4' }).unsupportedFormats.length, 0);
  assert.equal(estimate(m, target('a100'), { defaultFormat: 'fp8_e4m3' }).unsupportedFormats.length, compute);
  assert.equal(estimate(m, target('mi300x'), { defaultFormat: 'fp8_e4m3' }).unsupportedFormats[0]!.runsAs, 'fp8_fnuz');
  assert.equal(estimate(m, target('mi300x'), { defaultFormat: 'fp8_e4m3fnuz' }).unsupportedFormats.length, 0);
  assert.equal(estimate(m, target('tpu-v5e'), { defaultFormat: 'q4_k' }).unsupportedFormats.length, 0);
  const layerRow = estimate(m, target('a100'), { defaultFormat: 'fp8_e4m3' }).perLayer.find((l) => l.layer === 'blk.0.attn_q.weight')!;
  assert.deepEqual(layerRow, { layer: 'blk.0.attn_q.weight', format: 'fp8_e4m3', bytes: 128 * 128 + 4, flopsPerToken: 2 * 128 * 128, native: false, runsAs: 'fp16' });
});

test('MoE: all experts are stored, active parameters scale routed experts by used ÷ count', () => {
  const m = llamaLike({ blocks: 2, d: 64, heads: 4, kvHeads: 4, ffn: 128, vocab: 100, experts: 8, expertsUsed: 2 });
  const expertParams = 2 * 8 * 3 * 64 * 128;
  const e = estimate(m, target('h100'));
  assert.equal(e.parameterCount, m.parameterCount);
  assert.equal(e.activeParameterCount, m.parameterCount - expertParams * (6 / 8));
  assert.equal(e.activeWeightBytes, m.weightBytes - expertParams * 2 * (6 / 8));
  assert.ok(e.assumptions.some((a) => a.startsWith('MoE: 2 of 8 experts')));
  const dense = llamaLike({ blocks: 2, d: 64, heads: 4, kvHeads: 4, ffn: 128, vocab: 100 });
  assert.equal(estimate(dense, target('h100')).activeParameterCount, dense.parameterCount);
});

test('decode speed is bandwidth ÷ bytes read per token when bandwidth-bound; devices split large models', () => {
  const m = llamaLike({ blocks: 4, d: 512, heads: 8, kvHeads: 8, ffn: 1024, vocab: 1000 });
  const h100 = target('h100');
  const e = estimate(m, h100, { context: 1024, runtime: 'ort' });
  assert.equal(e.decodeBound, 'bandwidth');
  const expected = h100.memoryBandwidthBytesPerSecond / (e.weightBytes + e.kvCacheBytes);
  assert.ok(Math.abs(e.decodeTokensPerSecond - expected) / expected < 1e-12, `${e.decodeTokensPerSecond} vs ${expected}`);
  assert.equal(e.totalBytes, e.weightBytes + e.activationBytes + e.kvCacheBytes + e.overheadBytes);
  assert.equal(e.overheadBytes, Math.ceil(h100.overhead.bytes + h100.overhead.fraction * (e.weightBytes + e.activationBytes + e.kvCacheBytes)));
  assert.ok(e.fits && e.devicesNeeded === 1);
  // Prefill is compute-bound: FLOPs of batch × context tokens at the FP16 rate plus attention.
  assert.ok(e.prefillTokensPerSecond > e.decodeTokensPerSecond);
  // A 70B-parameter FP16 model on Groq: weights alone need ~609 chips of 230 MB (decimal, as Groq states it) SRAM.
  const big = decoderHp(80, 64, 8, 8192);
  const groq = target('groq-lpu');
  const w = tensor('w', 'float16', [70e9 / 8192, 8192]);
  const e70 = estimate({ ...big, tensors: [w], layers: [layer('w', 'linear', [w])], weightBytes: w.byteLength }, groq, { context: 1, runtime: 'ort' });
  assert.equal(e70.fits, false);
  assert.equal(e70.devicesNeeded, Math.ceil((e70.weightBytes + e70.activationBytes + e70.kvCacheBytes) / groq.memoryBytes));
  assert.ok(e70.devicesNeeded >= 600 && e70.devicesNeeded <= 620, String(e70.devicesNeeded));
  // Overhead options override the target's.
  assert.equal(estimate(m, h100, { overhead: { bytes: 0, fraction: 0 } }).overheadBytes, 0);
});

test('impossible options fail with one sentence', () => {
  const m = decoderHp(2, 2, 2, 64);
  const bad = (o: Parameters<typeof estimate>[2], message: string): void => {
    assert.throws(() => estimate(m, target('h100'), o), (e: unknown) => e instanceof EstimateError && e.code === 'bad-option' && e.message === message);
  };
  bad({ batch: 0 }, "batch must be a positive whole number, got '0'.");
  bad({ batch: -1 }, "batch must be a positive whole number, got '-1'.");
  bad({ batch: 1.5 }, "batch must be a positive whole number, got '1.5'.");
  bad({ context: Number.NaN }, "context must be a positive whole number, got 'NaN'.");
  bad({ context: 2 ** 40 }, 'context 1099511627776 is larger than the limit of 134217728.');
  bad({ kvFormat: 'fp7' }, "unknown KV-cache format 'fp7'.");
  bad({ assignment: { nope: 'int4' } }, "the assignment names the unknown layer 'nope'.");
  bad({ assignment: { w: 'int3' } }, "unknown format 'int3' for layer 'w'.");
  bad({ defaultFormat: 'int3' }, "unknown default format 'int3'.");
  bad({ overhead: { fraction: 2 } }, "overhead fraction must be between 0 and 1, got '2'.");
  bad({ overhead: { bytes: 1e15 } }, "the overhead of 1000000000000000 bytes leaves no memory on target 'h100'.");
});

test('every catalog target gives finite figures for decoders, CNNs and empty models', () => {
  const models = [llamaLike({ blocks: 2, d: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 100, experts: 4, expertsUsed: 1 }), model({ tensors: [], layers: [] })];
  for (const t of TARGETS) for (const m of models) for (const f of [undefined, 'nvfp4', 'q4_k', 'w8a8']) assertFinite(estimate(m, t, f ? { defaultFormat: f } : {}), `${t.id} ${f}`);
});

test('activation peak follows liveness in execution order, with symbolic dims bound to batch and context', () => {
  const w1 = tensor('W1', 'float32', [4, 8], 'initializer');
  const w2 = tensor('W2', 'float32', [8, 2], 'initializer');
  const g = {
    name: 'main',
    nodes: [node('mm1', 'MatMul', ['X', 'W1'], ['A']), node('relu', 'Relu', ['A'], ['B']), node('mm2', 'MatMul', ['B', 'W2'], ['Y'])],
    inputs: [value('X', 'float32', ['batch_size', 4])],
    outputs: [value('Y', 'float32', ['batch_size', 2])],
    valueInfo: [],
    initializers: ['W1', 'W2'],
  };
  const m = model({ tensors: [w1, w2], layers: [], graphs: [g], format: 'onnx' });
  // batch 3: X 48 B, A 96, B 96, Y 24. At relu A and B are live (X freed after mm1): 192.
  const p = peakActivationBytes(m, { batch: 3, context: 7 });
  assert.equal(p.peakBytes, 192);
  assert.equal(p.peakNode, 'relu');
  assert.equal(estimate(m, target('cpu'), { batch: 3 }).activationBytes, 192);
  // A value consumed late stays live: add a residual Add(A, …) at the end.
  const g2 = { ...g, nodes: [...g.nodes, node('mm3', 'MatMul', ['Y', 'W3'], ['Z']), node('add', 'Add', ['Z', 'A'], ['OUT'])], outputs: [value('OUT', 'float32', undefined)], initializers: ['W1', 'W2', 'W3'] };
  const m2 = model({ tensors: [w1, w2, tensor('W3', 'float32', [2, 8], 'initializer')], layers: [], graphs: [g2], format: 'onnx' });
  // At relu: A 96 + B 96 = 192; at mm2: A + B + Y = 216; at mm3: A + Y + Z(96) = 216; at add: A + Z + OUT(96) = 288.
  assert.equal(peakActivationBytes(m2, { batch: 3, context: 1 }).peakBytes, 288);
  // Sequence dims bind to the context; unknown symbols to 1 and are reported.
  const g3 = { ...g, nodes: [node('r', 'Relu', ['S'], ['T'])], inputs: [value('S', 'float16', ['batch', 'sequence_length', 'unk__9', 16])], outputs: [value('T', 'float16', undefined)], initializers: [] };
  const p3 = peakActivationBytes(model({ tensors: [], layers: [], graphs: [g3] }), { batch: 2, context: 5 });
  assert.equal(p3.peakBytes, 2 * (2 * 5 * 16 * 2));
  assert.deepEqual(p3.unboundSymbols, ['unk__9']);
});

test('shape inference resolves Conv, pooling, Gemm, Reshape with constant shapes and Shape→Gather→Concat chains', () => {
  const w = tensor('W', 'float32', [8, 1, 5, 5], 'initializer');
  const shapeC = tensor('shape', 'int64', [2], 'initializer');
  const idx = tensor('idx', 'int64', [], 'initializer');
  const minus1 = tensor('m1', 'int64', [1], 'initializer');
  const fc = tensor('FC', 'float32', [1568, 10], 'initializer');
  const g = {
    name: 'main',
    nodes: [
      node('conv', 'Conv', ['X', 'W'], ['C'], { pads: [2, 2, 2, 2], strides: [1, 1] }),
      node('pool', 'MaxPool', ['C'], ['P'], { kernel_shape: [2, 2], strides: [2, 2] }),
      node('shp', 'Shape', ['P'], ['PS']),
      node('g0', 'Gather', ['PS', 'idx'], ['N']),
      node('uq', 'Unsqueeze', ['N'], ['N1'], { axes: [0] }),
      node('cat', 'Concat', ['N1', 'm1'], ['NS'], { axis: 0 }),
      node('flat', 'Reshape', ['P', 'NS'], ['F']),
      node('flat2', 'Reshape', ['P', 'shape'], ['F2']),
      node('gemm', 'Gemm', ['F', 'FC'], ['Y']),
    ],
    inputs: [value('X', 'float32', ['N', 1, 28, 28])],
    outputs: [value('Y', 'float32', undefined), value('F2', 'float32', undefined)],
    valueInfo: [],
    initializers: ['W', 'shape', 'idx', 'm1', 'FC'],
  };
  const m = model({ tensors: [w, shapeC, idx, minus1, fc], layers: [layer('conv', 'conv', [w], { op: 'Conv', outputs: ['C'] })], graphs: [g], format: 'onnx' });
  const constants = { shape: [2, -1], idx: [0], m1: [-1] };
  const p = peakActivationBytes(m, { batch: 2, context: 1 }, { constants });
  // X 2×1×28×28×4 = 6272, C 2×8×28×28×4 = 50176, P 2×8×14×14×4 = 12544; at conv X + C = 56448, at pool C + P = 62720 (the peak).
  assert.equal(p.peakBytes, 62720);
  assert.equal(p.peakNode, 'pool');
  assert.deepEqual(p.unknownValues, []);
  // Without the constants the Reshape targets stay unknown and are reported.
  assert.ok(peakActivationBytes(m, { batch: 2, context: 1 }).unknownValues.includes('F2'));
  // Conv FLOPs per sample: 2 × weight elements × output positions.
  assert.equal(estimate(m, target('cpu'), { constants }).perLayer[0]!.flopsPerToken, 2 * 200 * 28 * 28);
});

/** A decoder-only ONNX export: token ids → Gather(embedding) → MatMul(head) → logits over `vocab`, optional extra inputs. */
function tokenModel(vocab: number, extraInputs: ReturnType<typeof value>[] = [], logitsVocab = vocab): Model {
  const embed = tensor('embed', 'float32', [vocab, 32], 'initializer');
  const head = tensor('head', 'float32', [32, logitsVocab], 'initializer');
  const g = {
    name: 'main',
    nodes: [node('gather', 'Gather', ['embed', 'input_ids'], ['h']), node('lm_head', 'MatMul', ['h', 'head'], ['logits'])],
    inputs: [value('input_ids', 'int64', ['batch_size', 'sequence_length']), ...extraInputs],
    outputs: [value('logits', 'float32', ['batch_size', 'sequence_length', logitsVocab])],
    valueInfo: [],
    initializers: ['embed', 'head'],
  };
  return model({
    tensors: [embed, head],
    layers: [layer('embed', 'embedding', [embed], { op: 'Gather' }), layer('lm_head', 'linear', [head], { op: 'MatMul' })],
    graphs: [g],
    format: 'onnx',
    fileName: 'decoder.onnx',
  });
}

test('model kind: a decoder-only ONNX export without past-key-value inputs (input_ids → logits over the vocabulary) is generative', () => {
  const m = tokenModel(1000);
  assert.equal(isCachelessDecoder(m), true);
  const e = estimate(m, target('h100'), { context: 256 });
  assert.equal(e.generative, true);
  assert.equal(e.kvCacheBytes, 0);
  // Without a cache each token reruns the whole context: decode is one full pass, prefill is context × one token.
  assert.ok(e.decodeTokensPerSecond > 0 && e.prefillTokensPerSecond > 0);
  assert.ok(Math.abs(e.decodeTokensPerSecond * 256 - e.prefillTokensPerSecond) / e.prefillTokensPerSecond < 1e-9 || e.decodeBound === 'bandwidth', `${e.decodeTokensPerSecond} × 256 vs ${e.prefillTokensPerSecond}`);
  assert.ok(e.assumptions.some((a) => /without past-key-value inputs/.test(a)), e.assumptions.join('\n'));
  assert.ok(e.assumptions.some((a) => /symbolic input dims: batch_size = 1 \(batch\), sequence_length = 256 \(context\)/.test(a)), e.assumptions.join('\n'));
  // Not a decoder: BERT-style inputs, logits not over the vocabulary, or no token input.
  assert.equal(isCachelessDecoder(tokenModel(1000, [value('token_type_ids', 'int64', ['batch_size', 'sequence_length'])])), false);
  assert.equal(isCachelessDecoder(tokenModel(1000, [], 2)), false);
  assert.equal(estimate(tokenModel(1000, [], 2), target('h100')).generative, false);
});

test('model kind: a CNN gets no context assumption; its symbolic dims are named as the model names them, only if it has any', () => {
  const w = tensor('W', 'float32', [8, 3, 3, 3], 'initializer');
  const cnn = (inputShape: (string | number)[]): Model => model({
    tensors: [w],
    layers: [layer('conv', 'conv', [w], { op: 'Conv', outputs: ['Y'] })],
    graphs: [{ name: 'main', nodes: [node('conv', 'Conv', ['X', 'W'], ['Y'])], inputs: [value('X', 'float32', inputShape)], outputs: [value('Y', 'float32', undefined)], valueInfo: [], initializers: ['W'] }],
    format: 'onnx',
  });
  const fixed = estimate(cnn([1, 3, 32, 32]), target('h100'));
  assert.equal(fixed.generative, false);
  assert.ok(!fixed.assumptions.some((a) => /Context|symbolic input dims|sequence dims/.test(a)), fixed.assumptions.join('\n'));
  const symbolic = estimate(cnn(['N', 3, 32, 32]), target('h100'), { batch: 4 });
  assert.ok(!symbolic.assumptions.some((a) => /^Context/.test(a)), symbolic.assumptions.join('\n'));
  assert.ok(symbolic.assumptions.some((a) => /symbolic input dims: N = 4 \(batch\)\./.test(a)), symbolic.assumptions.join('\n'));
  const audio = estimate(cnn(['batch', 'seq', 32, 32]), target('h100'));
  assert.ok(audio.assumptions.some((a) => /seq = 4096 \(sequence length, default; --context sets it\)/.test(a)), audio.assumptions.join('\n'));
});

test('an assignment is read in the key order of its record: array-index names first, default-format entries in their place', () => {
  // Layers without a real-valued weight warn in that order; a tensor two layers share takes the later one's format.
  const ints = ['b', '10', '2', '1'].map((n) => tensor(`${n}.t`, 'int64', [8, 8]));
  const shared = tensor('s', 'float32', [64, 64]);
  const m = model({
    tensors: [...ints, shared],
    layers: [...ints.map((t) => layer(t.name.slice(0, -2), 'linear', [t])), layer('a', 'linear', [shared]), layer('3', 'linear', [shared])],
  });
  const e = estimate(m, target('h100'), { assignment: { b: 'int8', a: 'int4', '10': 'int8', '3': 'int8' }, defaultFormat: 'fp8_e4m3' });
  const noted = e.warnings.filter((w) => w.includes('no real-valued weight')).map((w) => /Layer '([^']*)'/.exec(w)![1]);
  assert.deepEqual(noted, ['1', '2', '10', 'b']);
  // Key order: '3' (int8) before 'a' (int4), so the shared tensor is stored as INT4.
  const int4 = formatByteLength(getNumberFormat('int4')!, [64, 64]);
  assert.equal(e.weightBytes, ints.reduce((s, t) => s + t.byteLength, 0) + int4);
});
