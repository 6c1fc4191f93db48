import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EstimateError, MemoryByteSource, estimate, getTarget, llamaCppMemory, llamaWeightBuffer, openModel, type Model, type TensorInfo } from '../../src/core';
import { llmGguf, type LlmGgufSpec } from '../fixtures/buildGguf';
import { layer, model, tensor } from '../fixtures/estimateModels';

function decoderHp(blocks: number, heads: number, kvHeads: number, d: number): Model {
  const t = tensor('w', 'float16', [64, 64]);
  return model({ tensors: [t], layers: [layer('w', 'linear', [t])], hyperparameters: { architecture: 'llama', blockCount: blocks, headCount: heads, kvHeadCount: kvHeads, embeddingLength: d } });
}

const MiB = 2 ** 20;

async function gguf(spec: LlmGgufSpec): Promise<Model> {
  const g = llmGguf(spec);
  const bytes = new Uint8Array(g.totalByteLength);
  bytes.set(g.bytes);
  return openModel(new MemoryByteSource('m.gguf', bytes));
}

const LLAMA: LlmGgufSpec = { architecture: 'llama', blocks: 2, embd: 256, heads: 4, kvHeads: 2, ffn: 512, vocab: 1000, type: 8 };

const weight = (name: string, dtype: string, shape: number[], byteLength: number): TensorInfo => ({
  name, dtype, shape, elementCount: shape.reduce((a, b) => a * b, 1), byteLength, file: undefined, byteOffset: 0, encoding: 'raw', origin: 'entry',
});

test('llama.cpp weight buffers: AMX packs Q8_0 with +4 B per block, repack keeps sizes, embeddings and odd shapes stay mapped', () => {
  // IR shapes are row-major ([ne1, ne0]); Q8_0: 32 elements in 34 bytes.
  const q8 = weight('blk.0.attn_q.weight', 'q8_0', [256, 256], (256 * 256 / 32) * 34);
  assert.deepEqual(llamaWeightBuffer(q8, 'x86-amx'), { buffer: 'AMX', bytes: (256 * 256 / 32) * 38 });
  assert.deepEqual(llamaWeightBuffer(q8, 'x86-avx2'), { buffer: 'CPU_Mapped', bytes: q8.byteLength });
  const q40 = weight('blk.0.ffn_up.weight', 'q4_0', [512, 256], (512 * 256 / 32) * 18);
  assert.deepEqual(llamaWeightBuffer(q40, 'x86-avx2'), { buffer: 'CPU_REPACK', bytes: q40.byteLength });
  // Rows not a multiple of 8: no repack.
  assert.equal(llamaWeightBuffer(weight('blk.0.ffn_up.weight', 'q4_0', [12, 256], 12 * 8 * 18), 'x86-avx2').buffer, 'CPU_Mapped');
  // GET_ROWS (token embeddings) never leaves the mapped buffer; 3-D expert stacks repack on AMX machines too.
  assert.equal(llamaWeightBuffer(weight('token_embd.weight', 'q4_0', [1000, 256], 1000 * 8 * 18), 'x86-avx2').buffer, 'CPU_Mapped');
  assert.equal(llamaWeightBuffer(weight('blk.0.ffn_up_exps.weight', 'q4_0', [8, 512, 256], 8 * 512 * 8 * 18), 'x86-amx').buffer, 'CPU_REPACK');
  assert.equal(llamaWeightBuffer(weight('blk.0.attn_q.weight', 'q4_k', [256, 256], 256 * 144), 'x86-amx').bytes, 256 * 148);
});

test('llama.cpp KV buffer: padded cells × rows per layer for any cache type; sequences multiply it', async () => {
  const m = await gguf(LLAMA);
  const kv = (o: Parameters<typeof llamaCppMemory>[1]): number => llamaCppMemory(m, o).components.find((c) => c.id === 'kv')!.bytes;
  // 2 layers × (K + V) × 2 KV heads × head dim 64 × 2 B per cell; context 300 pads to 512 cells.
  assert.equal(kv({ context: 300 }), 2 * 2 * 128 * 2 * 512);
  assert.equal(kv({ context: 512, sequences: 3 }), 3 * 2 * 2 * 128 * 2 * 512);
  // q8_0: 128 values = 4 blocks of 34 B; q4_0 V (needs flash attention): 4 blocks of 18 B.
  assert.equal(kv({ context: 512, kvTypeK: 'q8_0', kvTypeV: 'q4_0' }), 2 * 512 * (4 * 34 + 4 * 18));
  assert.throws(() => kv({ context: 512, kvTypeK: 'q8_0', flashAttention: false }), (e: unknown) => e instanceof EstimateError && /flash attention/.test(e.message));
  assert.throws(() => kv({ context: 512, kvTypeK: 'fp8' }), (e: unknown) => e instanceof EstimateError && e.code === 'bad-option');
});

test('llama.cpp compute buffer: KQ grows with the context without flash attention, only the mask with it; logits follow the micro-batch', async () => {
  const m = await gguf(LLAMA);
  const compute = (context: number, flashAttention: boolean, ubatch = 512): number => llamaCppMemory(m, { context, flashAttention, ubatch }).components.find((c) => c.id === 'compute')!.bytes;
  // Without flash attention the KQ matrix alone is cells × ubatch × heads × 4 B.
  assert.ok(compute(4096, false) >= 4096 * 512 * 4 * 4);
  assert.ok(compute(4096, false) - compute(2048, false) >= 2048 * 512 * 4 * 4);
  // With flash attention only the mask grows: F32 [cells, ubatch] plus its F16 copy.
  assert.equal(compute(4096, true) - compute(2048, true), 2048 * 512 * (4 + 2));
  // Logits: vocab × ubatch × 4 B, the largest tensor with flash attention here.
  assert.ok(compute(512, true) >= 1000 * 512 * 4 && compute(512, true) < 2 * 1000 * 512 * 4 + 8 * MiB);
  assert.ok(compute(2048, true, 128) < compute(2048, true, 512));
  const out = llamaCppMemory(m, { context: 512, sequences: 2 }).components.find((c) => c.id === 'output')!.bytes;
  assert.equal(out, 1000 * 4 * 2);
});

test('estimate names its runtime: GGUF → llama.cpp with buffers as components, safetensors → vllm (not measured), ONNX → ort', async () => {
  const m = await gguf(LLAMA);
  const e = estimate(m, getTarget('cpu')!, { context: 1024, flashAttention: false, ubatch: 256 });
  assert.equal(e.runtime.runtime, 'llama.cpp');
  assert.equal(e.runtime.measured, true);
  assert.equal(e.kvBytesPerToken, 2 * 2 * 128 * 2);
  assert.equal(e.computeBytes, e.runtime.components.find((c) => c.id === 'compute')!.bytes);
  assert.equal(e.totalBytes, e.runtime.totalBytes + e.overheadBytes);
  assert.match(e.runtime.attention, /no flash attention/);
  const v = estimate(decoderHp(32, 32, 8, 4096), getTarget('h100')!, { context: 8192 });
  assert.equal(v.runtime.runtime, 'vllm');
  assert.equal(v.runtime.measured, false);
  assert.match(v.assumptions.join(' '), /not measured here/);
  // Paged KV rounds each sequence up to whole 16-token blocks.
  assert.equal(estimate(decoderHp(32, 32, 8, 4096), getTarget('h100')!, { context: 8200 }).kvCacheBytes, Math.ceil(8200 / 16) * 16 * 2 * 32 * 8 * 128 * 2);
  assert.throws(() => estimate(decoderHp(2, 2, 2, 64), getTarget('h100')!, { runtime: 'llama.cpp' }), (e: unknown) => e instanceof EstimateError && /does not apply/.test(e.message));
  assert.throws(() => estimate(m, getTarget('cpu')!, { runtime: 'tgi' as never }), (e: unknown) => e instanceof EstimateError && /Unknown runtime 'tgi'/.test(e.message));
});

test('llama.cpp SWA, MLA and Mamba-1: iswa cells, K-only latent rows, RS state and an ssm_scan compute graph', async () => {
  const part = (m: Model, o: Parameters<typeof llamaCppMemory>[1], id: string): number => llamaCppMemory(m, o).components.filter((c) => c.id === id).reduce((s, c) => s + c.bytes, 0);
  // gemma3, 12 layers (every 6th full), window 512: full layers hold the padded context, SWA layers
  // pad(512 + ubatch, 256) cells per sequence (one stream each); K + V = 4 heads × 128 × 2 B each per cell and layer.
  const gemma = await gguf({ architecture: 'gemma3', blocks: 12, embd: 512, heads: 8, kvHeads: 4, headDim: 128, ffn: 1024, vocab: 1000, type: 8, tiedEmbeddings: true, slidingWindow: 512 });
  const row = 2 * 4 * 128 * 2;
  assert.equal(part(gemma, { context: 4096, ubatch: 513 }, 'kv'), 2 * 4096 * row + 10 * 1280 * row);
  assert.equal(part(gemma, { context: 4096, ubatch: 512, sequences: 2 }, 'kv'), 2 * (2 * 4096 * row) + 2 * 10 * 1024 * row);
  assert.equal(part(gemma, { context: 512, ubatch: 512 }, 'kv'), 12 * 512 * row);
  // deepseek2 (MLA): one K row of kv_lora_rank + RoPE dim per token and layer, no V buffer.
  const ds = await gguf({
    architecture: 'deepseek2', blocks: 3, embd: 256, heads: 4, kvHeads: 1, ffn: 128, vocab: 1000, type: 8, experts: 4, expertsUsed: 2,
    mla: { qLora: 128, kvLora: 256, rope: 32, nope: 64, v: 64, denseLead: 1, sharedExperts: 1, denseFfn: 512 },
  });
  assert.equal(part(ds, { context: 2048 }, 'kv'), 3 * 2048 * (256 + 32) * 2);
  assert.equal(llamaCppMemory(ds, { context: 2048 }).warnings.length, 0);
  // Mamba-1: state rows (d_conv − 1) × d_inner + d_state × d_inner FP32 per layer and sequence, whatever the context;
  // the compute buffer is the logits [vocab, ubatch] plus a few embedding-sized rows, not 0.
  const mamba = await gguf({ architecture: 'mamba', blocks: 4, embd: 256, heads: 0, kvHeads: 0, ffn: 0, vocab: 1000, type: 8, ssm: { state: 16, conv: 4, dtRank: 16 } });
  const state = 4 * (3 * 512 + 16 * 512) * 4;
  assert.equal(part(mamba, { context: 512 }, 'recurrent'), state);
  assert.equal(part(mamba, { context: 8192, sequences: 2 }, 'recurrent'), 2 * state);
  assert.equal(part(mamba, { context: 8192 }, 'kv'), 0);
  const compute = part(mamba, { context: 512, ubatch: 512 }, 'compute');
  assert.ok(compute >= 1000 * 512 * 4 && compute < 1000 * 512 * 4 + 12 * 512 * 512 * 4, String(compute));
  assert.ok(part(mamba, { context: 512, ubatch: 256 }, 'compute') < compute);
  assert.deepEqual(llamaCppMemory(mamba, { context: 512 }).warnings, []);
});
