/**
 * Per-layer attention/cache description (src/core/model/attention.ts) from published config.json keys and GGUF
 * metadata, and the KV figures the estimator derives from it. Expected values are derived by hand from the
 * published configs (publishedConfigs.ts), not from the code under test.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryByteSource, describeCache, estimate, getTarget, hyperparametersFromHfConfig, kvCacheElements, openModel, type Hyperparameters, type Model } from '../../src/core';
import { GGUF, buildGguf, kv, type GgufKv } from '../fixtures/buildGguf';
import { DEEPSEEK_V3, GEMMA3_27B, GPT_OSS_120B, JAMBA_V01, KIMI_K2, LLAMA4_MAVERICK, MISTRAL_7B_V01, QWEN3_NEXT_80B } from '../fixtures/publishedConfigs';
import { model as irModel } from '../fixtures/estimateModels';

const hf = (config: object): Hyperparameters => hyperparametersFromHfConfig(config as Record<string, unknown>);
/** Bytes per token at BF16/FP16 over all layers, and the cache at `context` tokens for one sequence. */
const bf16 = (hp: Hyperparameters, context: number): { perToken: number; atContext: number; state: number } => {
  const d = describeCache(hp)!;
  return { perToken: d.elementsPerToken * 2, atContext: kvCacheElements(d, context, 1) * 2, state: d.stateElements * 4 };
};

test('MLA: DeepSeek-V3 and Kimi K2 keep (kv_lora_rank + qk_rope_head_dim) per layer: (512 + 64) × 61 × 2 B = 70,272 B per token', () => {
  for (const config of [DEEPSEEK_V3, KIMI_K2]) {
    const hp = hf(config);
    const d = describeCache(hp)!;
    assert.equal(d.layers.length, 61);
    assert.ok(d.layers.every((l) => l.attention === 'mla' && l.kind === 'full' && l.latentDim === 512 && l.ropeDim === 64));
    assert.equal(bf16(hp, 1).perToken, 70_272);
    assert.deepEqual(d.warnings, []);
  }
  assert.equal(hf(DEEPSEEK_V3).mtpLayerCount, 1);
  assert.equal(hf(KIMI_K2).mtpLayerCount, undefined);
});

test('chunked: Llama 4 Maverick keeps 8,192 tokens on 3 of every 4 layers: 7.65 GB at 128K instead of 25.8 GB', () => {
  const hp = hf(LLAMA4_MAVERICK);
  const d = describeCache(hp)!;
  assert.deepEqual(d.layers.slice(0, 4).map((l) => [l.kind, l.window]), [['chunked', 8192], ['chunked', 8192], ['chunked', 8192], ['full', null]]);
  assert.equal(d.layers.filter((l) => l.kind === 'full').length, 12);
  const { perToken, atContext } = bf16(hp, 131072);
  assert.equal(perToken, 48 * 2 * 8 * 128 * 2); // 196,608 B before windows
  assert.equal(atContext, 12 * 131072 * 4096 + 36 * 8192 * 4096); // 7,650,410,496 B
  assert.equal(perToken * 131072, 25_769_803_776); // the old figure
});

test('sliding: Gemma 3 (5 of 6 layers, 1,024 tokens), GPT-OSS (every other layer, 128), Mistral 7B v0.1 (every layer, 4,096)', () => {
  const gemma = describeCache(hf(GEMMA3_27B))!;
  assert.equal(gemma.layers.filter((l) => l.kind === 'full').length, 10);
  assert.deepEqual(gemma.layers.filter((l) => l.kind === 'full').map((l) => l.block).slice(0, 3), [5, 11, 17]);
  assert.equal(bf16(hf(GEMMA3_27B), 131072).atContext, 10 * 8192 * 131072 + 52 * 8192 * 1024);
  const oss = describeCache(hf(GPT_OSS_120B))!;
  assert.deepEqual(oss.layers.slice(0, 2).map((l) => [l.kind, l.window, l.attention]), [['sliding', 128, 'gqa'], ['full', null, 'gqa']]);
  assert.equal(bf16(hf(GPT_OSS_120B), 131072).atContext, 18 * 2048 * 131072 + 18 * 2048 * 128);
  const mistral = hf(MISTRAL_7B_V01);
  assert.equal(bf16(mistral, 1).perToken, 131_072);
  assert.equal(bf16(mistral, 32768).atContext, 131_072 * 4096);
  assert.equal(bf16({ ...mistral, attention: {} }, 32768).atContext, 131_072 * 32768); // Mistral v0.3: sliding_window null
});

test('hybrids: Qwen3-Next (12 attention + 36 Gated DeltaNet layers) and Jamba (4 attention + 28 Mamba layers) hold a constant state', () => {
  const q = describeCache(hf(QWEN3_NEXT_80B))!;
  assert.equal(q.layers.filter((l) => l.kind === 'recurrent').length, 36);
  assert.deepEqual(q.layers.slice(0, 4).map((l) => l.kind), ['recurrent', 'recurrent', 'recurrent', 'full']);
  assert.equal(bf16(hf(QWEN3_NEXT_80B), 1).perToken, 12 * 2 * 2 * 256 * 2); // 24,576 B
  // Per recurrent layer: conv 3 × (4096 + 2 × 16 × 128) + state 128 × 4096 elements, FP32.
  assert.equal(q.stateElements, 36 * (3 * 8192 + 128 * 4096));
  const j = describeCache(hf(JAMBA_V01))!;
  assert.deepEqual(j.layers.filter((l) => l.kind === 'full').map((l) => l.block), [4, 12, 20, 28]);
  assert.equal(bf16(hf(JAMBA_V01), 1).perToken, 4 * 2 * 8 * 128 * 2); // 16,384 B
  assert.equal(j.stateElements, 28 * (3 * 8192 + 16 * 8192));
  assert.deepEqual([q.warnings, j.warnings], [[], []]);
});

test('an unknown architecture, layer kind or hybrid without a pattern is named in a warning', () => {
  const unknown = describeCache({ architecture: 'FancyNewForCausalLM', blockCount: 2, headCount: 4, kvHeadCount: 2, headDim: 8 })!;
  assert.match(unknown.warnings.join(' '), /'FancyNewForCausalLM' is not in the attention table/);
  const kind = hf({ architectures: ['GptOssForCausalLM'], num_hidden_layers: 2, num_attention_heads: 4, hidden_size: 32, layer_types: ['sliding_attention', 'hyper_attention'], sliding_window: 16 });
  assert.match(describeCache(kind)!.warnings.join(' '), /Layer kind 'hyper_attention' is not known/);
  const windowNoPattern = describeCache({ architecture: 'olmo3', blockCount: 4, headCount: 4, headDim: 8, attention: { slidingWindow: 4096 } })!;
  assert.match(windowNoPattern.warnings.join(' '), /'olmo3' declares a 4096-token sliding window but no layer pattern/);
  const hybrid = describeCache({ architecture: 'jamba', blockCount: 4, headCount: 4, headDim: 8 })!;
  assert.match(hybrid.warnings.join(' '), /Hybrid architecture 'jamba' states no per-layer pattern/);
});

/** A GGUF with only metadata (no tensors), opened through the reader. */
async function ggufHp(kvs: readonly GgufKv[]): Promise<Hyperparameters> {
  const built = buildGguf({ kvs });
  const m = await openModel(new MemoryByteSource('m.gguf', built.bytes));
  return m.hyperparameters;
}

test('GGUF keys: deepseek2 MLA (old and new conversions), llama4 chunking, gemma3 period, jamba/granite KV-head arrays, qwen3next interval, nextn layers', async () => {
  const ds = (extra: GgufKv[]): GgufKv[] => [
    kv.str('general.architecture', 'deepseek2'), kv.u32('deepseek2.block_count', 61), kv.u32('deepseek2.embedding_length', 7168),
    kv.u32('deepseek2.attention.head_count', 128), kv.u32('deepseek2.attention.kv_lora_rank', 512), kv.u32('deepseek2.rope.dimension_count', 64), ...extra,
  ];
  const oldConv = await ggufHp(ds([kv.u32('deepseek2.attention.head_count_kv', 128), kv.u32('deepseek2.attention.key_length', 192), kv.u32('deepseek2.attention.value_length', 128)]));
  const newConv = await ggufHp(ds([kv.u32('deepseek2.attention.head_count_kv', 1), kv.u32('deepseek2.attention.key_length', 576), kv.u32('deepseek2.attention.value_length', 512), kv.u32('deepseek2.attention.key_length_mla', 192), kv.u32('deepseek2.attention.value_length_mla', 128)]));
  for (const hp of [oldConv, newConv]) {
    assert.equal(bf16(hp, 1).perToken, 70_272);
    assert.equal(describeCache(hp)!.layers[0]!.scoreKeyDim, 192);
  }
  const llama4 = await ggufHp([kv.str('general.architecture', 'llama4'), kv.u32('llama4.block_count', 48), kv.u32('llama4.attention.head_count', 40), kv.u32('llama4.attention.head_count_kv', 8), kv.u32('llama4.attention.key_length', 128)]);
  assert.equal(bf16(llama4, 131072).atContext, 7_650_410_496);
  const noChunk = await ggufHp([kv.str('general.architecture', 'llama4'), kv.u32('llama4.block_count', 4), kv.u32('llama4.attention.head_count', 4), kv.u32('llama4.attention.key_length', 8), kv.u32('llama4.attention.sliding_window', 0)]);
  assert.ok(describeCache(noChunk)!.layers.every((l) => l.kind === 'full'));
  const gemma3 = await ggufHp([kv.str('general.architecture', 'gemma3'), kv.u32('gemma3.block_count', 62), kv.u32('gemma3.attention.head_count', 32), kv.u32('gemma3.attention.head_count_kv', 16), kv.u32('gemma3.attention.key_length', 128), kv.u32('gemma3.attention.sliding_window', 1024)]);
  assert.equal(bf16(gemma3, 131072).atContext, 10 * 8192 * 131072 + 52 * 8192 * 1024);
  const boolPattern = await ggufHp([kv.str('general.architecture', 'gemma3'), kv.u32('gemma3.block_count', 3), kv.u32('gemma3.attention.head_count', 2), kv.u32('gemma3.attention.key_length', 4), kv.u32('gemma3.attention.sliding_window', 16), kv.arr('gemma3.attention.sliding_window_pattern', GGUF.BOOL, [false, true, true])]);
  assert.deepEqual(describeCache(boolPattern)!.layers.map((l) => l.kind), ['full', 'sliding', 'sliding']);
  const jamba = await ggufHp([
    kv.str('general.architecture', 'jamba'), kv.u32('jamba.block_count', 8), kv.u32('jamba.embedding_length', 4096), kv.u32('jamba.attention.head_count', 32),
    kv.arr('jamba.attention.head_count_kv', GGUF.UINT32, [0, 0, 0, 0, 8, 0, 0, 0]), kv.u32('jamba.ssm.conv_kernel', 4), kv.u32('jamba.ssm.inner_size', 8192), kv.u32('jamba.ssm.state_size', 16),
  ]);
  const jd = describeCache(jamba)!;
  assert.deepEqual(jd.layers.map((l) => l.kind), ['recurrent', 'recurrent', 'recurrent', 'recurrent', 'full', 'recurrent', 'recurrent', 'recurrent']);
  assert.equal(jd.elementsPerToken, 2 * 8 * 128);
  assert.equal(jd.stateElements, 7 * (3 * 8192 + 16 * 8192));
  const qn = await ggufHp([
    kv.str('general.architecture', 'qwen3next'), kv.u32('qwen3next.block_count', 48), kv.u32('qwen3next.attention.head_count', 16), kv.u32('qwen3next.attention.head_count_kv', 2),
    kv.u32('qwen3next.attention.key_length', 256), kv.u32('qwen3next.full_attention_interval', 4), kv.u32('qwen3next.ssm.conv_kernel', 4), kv.u32('qwen3next.ssm.inner_size', 4096),
    kv.u32('qwen3next.ssm.state_size', 128), kv.u32('qwen3next.ssm.group_count', 16),
  ]);
  assert.equal(describeCache(qn)!.stateElements, describeCache(hf(QWEN3_NEXT_80B))!.stateElements);
  assert.equal(bf16(qn, 1).perToken, 24_576);
  const glm = await ggufHp([kv.str('general.architecture', 'glm4moe'), kv.u32('glm4moe.block_count', 47), kv.u32('glm4moe.attention.head_count', 96), kv.u32('glm4moe.attention.head_count_kv', 8), kv.u32('glm4moe.attention.key_length', 128), kv.u32('glm4moe.nextn_predict_layers', 1)]);
  assert.deepEqual([glm.blockCount, glm.mtpLayerCount], [46, 1]);
});

test('the estimator uses the description: DeepSeek-V3 KV per token 70,272 B (was 1,748,992), Maverick 7.65 GB at 128K; recurrent state is counted once per sequence', () => {
  const target = getTarget('h200')!;
  const bare = (hp: Hyperparameters): Model => irModel({ tensors: [], layers: [], hyperparameters: hp });
  const ds = estimate(bare(hf(DEEPSEEK_V3)), target, { context: 131072, kvFormat: 'bf16' });
  assert.equal(ds.kvBytesPerToken, 70_272);
  assert.equal(ds.kvCacheBytes, 70_272 * 131072);
  assert.equal(ds.attention, 'MLA full');
  const mav = estimate(bare(hf(LLAMA4_MAVERICK)), target, { context: 131072 });
  assert.equal(mav.kvCacheBytes, 7_650_410_496);
  assert.equal(mav.attention, '36× GQA chunked 8192, 12× GQA full');
  const q = estimate(bare(hf(QWEN3_NEXT_80B)), target, { context: 4096, batch: 2 });
  assert.equal(q.recurrentStateBytes, 2 * 36 * (3 * 8192 + 128 * 4096) * 4);
  assert.equal(q.kvCacheBytes, 2 * 4096 * 24_576 + q.recurrentStateBytes);
  const unknown = estimate(bare({ architecture: 'mystery', blockCount: 2, headCount: 4, headDim: 8 }), target, {});
  assert.match(unknown.warnings.join(' '), /'mystery' is not in the attention table/);
});

test('more hybrids from config.json: Granite 4 (layer_types), Falcon-H1 (attention and SSM in every layer), Mamba (all recurrent)', () => {
  const granite = describeCache(hf({
    architectures: ['GraniteMoeHybridForCausalLM'], model_type: 'granitemoehybrid', hidden_size: 1536, num_hidden_layers: 4, num_attention_heads: 12,
    num_key_value_heads: 4, layer_types: ['mamba', 'mamba', 'mamba', 'attention'], mamba_n_heads: 48, mamba_d_head: 64, mamba_d_state: 128,
    mamba_n_groups: 1, mamba_d_conv: 4, mamba_expand: 2,
  }))!;
  assert.deepEqual(granite.layers.map((l) => l.kind), ['recurrent', 'recurrent', 'recurrent', 'full']);
  // Mamba-2 state per layer: conv (4 − 1) × (3072 + 2 × 1 × 128) + SSM 128 × 3072 elements.
  assert.equal(granite.stateElements, 3 * (3 * (3072 + 256) + 128 * 3072));
  assert.equal(granite.elementsPerToken, 4 * 2 * 128);
  const falcon = describeCache(hf({
    architectures: ['FalconH1ForCausalLM'], model_type: 'falcon_h1', hidden_size: 1024, num_hidden_layers: 3, num_attention_heads: 8, num_key_value_heads: 2,
    head_dim: 64, mamba_d_ssm: 1536, mamba_n_heads: 24, mamba_d_head: 64, mamba_d_state: 128, mamba_n_groups: 1, mamba_d_conv: 4,
  }))!;
  assert.ok(falcon.layers.every((l) => l.kind === 'full' && l.stateElements === 3 * (1536 + 256) + 128 * 1536));
  assert.equal(falcon.summary, 'GQA full + SSM');
  const mamba = describeCache(hf({ architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: 2560, num_hidden_layers: 64, state_size: 16, conv_kernel: 4, expand: 2, intermediate_size: 5120 }))!;
  assert.equal(mamba.elementsPerToken, 0);
  assert.equal(mamba.stateElements, 64 * (3 * 5120 + 16 * 5120));
  assert.deepEqual(mamba.warnings, []);
});

test('Nemotron-H: hybrid_override_pattern (M = Mamba-2, * = attention, - = MLP) from config.json and per-layer KV/FFN arrays from GGUF', async () => {
  // nvidia/Nemotron-H-8B-Base-8K config.json: 52 layers, 24 Mamba-2 + 4 attention + 24 FFN (model card / arXiv 2504.03624).
  const pattern = 'M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-';
  const d = describeCache(hf({
    architectures: ['NemotronHForCausalLM'], model_type: 'nemotron_h', hidden_size: 4096, num_hidden_layers: 52, num_attention_heads: 32, num_key_value_heads: 8,
    head_dim: 128, hybrid_override_pattern: pattern, mamba_num_heads: 128, mamba_head_dim: 64, ssm_state_size: 128, n_groups: 8, conv_kernel: 4, expand: 2,
  }))!;
  const count = (k: string): number => d.layers.filter((l) => l.kind === k).length;
  assert.deepEqual([count('recurrent'), count('full'), count('none')], [24, 4, 24]);
  assert.deepEqual(d.layers.slice(6, 10).map((l) => l.kind), ['recurrent', 'full', 'none', 'recurrent']);
  assert.equal(d.elementsPerToken, 4 * 8 * 256); // 8,192 elements: 16 KiB per token at BF16
  // Mamba-2 state per layer: conv 3 × (8192 + 2 × 8 × 128) + SSM 128 × 8192.
  assert.equal(d.stateElements, 24 * (3 * (8192 + 2048) + 128 * 8192));
  assert.ok(d.layers.filter((l) => l.kind === 'none').every((l) => l.stateElements === 0 && l.elementsPerToken === 0 && l.attention === null));
  assert.deepEqual(d.warnings, []);
  const odd = describeCache(hf({ model_type: 'nemotron_h', hidden_size: 64, num_hidden_layers: 3, num_attention_heads: 4, head_dim: 16, hybrid_override_pattern: 'M*Q' }))!;
  assert.match(odd.warnings.join(' '), /hybrid_override_pattern 'Q'/);

  const gguf = await ggufHp([
    kv.str('general.architecture', 'nemotron_h'), kv.u32('nemotron_h.block_count', 4), kv.u32('nemotron_h.embedding_length', 4096), kv.u32('nemotron_h.attention.head_count', 32),
    kv.u32('nemotron_h.attention.key_length', 128), kv.arr('nemotron_h.attention.head_count_kv', GGUF.UINT32, [0, 0, 8, 0]), kv.arr('nemotron_h.feed_forward_length', GGUF.UINT32, [0, 21504, 0, 21504]),
    kv.u32('nemotron_h.ssm.conv_kernel', 4), kv.u32('nemotron_h.ssm.inner_size', 8192), kv.u32('nemotron_h.ssm.state_size', 128), kv.u32('nemotron_h.ssm.group_count', 8),
  ]);
  const g = describeCache(gguf)!;
  assert.deepEqual(g.layers.map((l) => l.kind), ['recurrent', 'none', 'full', 'none']);
  assert.equal(g.stateElements, 3 * (8192 + 2048) + 128 * 8192);
});

test('DeepSeek V3.2 sparse attention: the indexer key cache is named in a warning with its size, from config.json and GGUF', async () => {
  // deepseek-ai/DeepSeek-V3.2-Exp config.json: index_head_dim 128, index_n_heads 64, index_topk 2048.
  const d = describeCache(hf({ ...DEEPSEEK_V3, architectures: ['DeepseekV32ForCausalLM'], model_type: 'deepseek_v32', index_head_dim: 128, index_n_heads: 64, index_topk: 2048 }))!;
  assert.equal(d.elementsPerToken, 61 * 576);
  assert.match(d.warnings.join(' '), /indexer keeps a 128-element key per token per layer \(7808 elements per token over 61 layers, top-2048/);
  const g = await ggufHp([
    kv.str('general.architecture', 'deepseek2'), kv.u32('deepseek2.block_count', 2), kv.u32('deepseek2.embedding_length', 7168), kv.u32('deepseek2.attention.head_count', 128),
    kv.u32('deepseek2.attention.kv_lora_rank', 512), kv.u32('deepseek2.rope.dimension_count', 64), kv.u32('deepseek2.attention.key_length_mla', 192),
    kv.u32('deepseek2.attention.indexer.key_length', 128), kv.u32('deepseek2.attention.indexer.head_count', 64), kv.u32('deepseek2.attention.indexer.top_k', 2048),
  ]);
  assert.match(describeCache(g)!.warnings.join(' '), /sparse attention: its indexer keeps a 128-element key per token per layer \(256 elements/);
  assert.deepEqual(describeCache(hf(DEEPSEEK_V3))!.warnings, []);
});
