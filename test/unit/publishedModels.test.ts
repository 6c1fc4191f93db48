/**
 * Active parameters, MTP layers, encoder towers and KV per token of eight published models, read through the
 * safetensors reader from header-only inventories (test/fixtures/publishedModels.ts) with their config.json.
 * Every expected figure is closed-form arithmetic on the published config (written out below, independent of
 * the inventory builder), and sits next to the publisher's own rounded figure.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { estimate, getTarget, inspectReport, parameterBreakdown, type Estimate, type Model } from '../../src/core';
import { DEEPSEEK_V3 as DS, GEMMA3_27B, GPT_OSS_120B as OSS, GPT_OSS_20B as OSS20, JAMBA_V01 as J, KIMI_K2 as K2, LLAMA4_MAVERICK, MISTRAL_7B_V01 as M, QWEN3_NEXT_80B as Q } from '../fixtures/publishedConfigs';
import { PUBLISHED_MODELS, openInventory } from '../fixtures/publishedModels';

const models = new Map<string, Model>();
async function load(name: string): Promise<Model> {
  let m = models.get(name);
  if (!m) {
    const entry = PUBLISHED_MODELS.find((p) => p.name === name)!;
    m = await openInventory(entry.tensors(), entry.config);
    models.set(name, m);
  }
  return m;
}
const h200 = getTarget('h200')!;
const at = (m: Model, context: number): Estimate => estimate(m, h200, { context, kvFormat: 'bf16' });
/** Published figures are rounded: within `pct` percent. */
const near = (actual: number, published: number, pct: number): void => assert.ok(Math.abs(actual / published - 1) <= pct / 100, `${actual} vs published ${published}`);

/** DeepSeek-V3-style MLA layer (attention + two norms) and MoE layer from a config. */
function mlaLayer(c: typeof DS | typeof K2): { attention: number; expert: number; moeRest: number; dense: number } {
  const h = c.hidden_size;
  const n = c.num_attention_heads;
  const attention =
    c.q_lora_rank * h + c.q_lora_rank + n * (c.qk_nope_head_dim + c.qk_rope_head_dim) * c.q_lora_rank +
    (c.kv_lora_rank + c.qk_rope_head_dim) * h + c.kv_lora_rank + n * (c.qk_nope_head_dim + c.v_head_dim) * c.kv_lora_rank + h * n * c.v_head_dim + 2 * h;
  const expert = 3 * h * c.moe_intermediate_size;
  return { attention, expert, moeRest: c.n_routed_experts * h + c.n_routed_experts + c.n_shared_experts * expert, dense: 3 * h * c.intermediate_size };
}

test('DeepSeek-V3: 671.0B main + 13.5B MTP stored; 37.6B active (published 671B + 14B, 37B); KV 70,272 B per token at BF16', async () => {
  const m = await load('DeepSeek-V3');
  const l = mlaLayer(DS);
  const moeLayers = DS.num_hidden_layers - DS.first_k_dense_replace;
  const embed = DS.vocab_size * DS.hidden_size;
  const main = 2 * embed + DS.hidden_size + DS.first_k_dense_replace * (l.attention + l.dense) + moeLayers * (l.attention + l.moeRest + DS.n_routed_experts * l.expert);
  const mtp = l.attention + l.moeRest + DS.n_routed_experts * l.expert + 3 * DS.hidden_size + 2 * DS.hidden_size * DS.hidden_size + 2 * embed;
  const active = main - moeLayers * (DS.n_routed_experts - DS.num_experts_per_tok) * l.expert;
  const b = parameterBreakdown(m);
  assert.deepEqual([b.text, b.mtp, b.vision, b.total], [main, mtp, 0, main + mtp]);
  assert.equal(main, 671_026_419_200);
  near(main + mtp, 685e9, 0.5);
  const e = at(m, 1);
  assert.equal(e.activeParameterCount, active);
  assert.equal(active, 37_552_297_472);
  near(active, 37e9, 2);
  assert.equal(e.mtpParameterCount, mtp);
  assert.equal(e.kvBytesPerToken, 70_272);
  assert.deepEqual(e.warnings, []);
});

test('Kimi K2: 1.026T total, 32.9B active (published 1T / 32B); same 70,272 B KV per token (64 heads, MLA)', async () => {
  const m = await load('Kimi K2');
  const l = mlaLayer(K2);
  const moeLayers = K2.num_hidden_layers - K2.first_k_dense_replace;
  const total = 2 * K2.vocab_size * K2.hidden_size + K2.hidden_size + (l.attention + l.dense) + moeLayers * (l.attention + l.moeRest + K2.n_routed_experts * l.expert);
  const active = total - moeLayers * (K2.n_routed_experts - K2.num_experts_per_tok) * l.expert;
  const e = at(m, 1);
  assert.deepEqual([m.parameterCount, e.activeParameterCount, e.mtpParameterCount], [total, active, 0]);
  assert.deepEqual([total, active], [1_026_408_232_448, 32_861_500_928]);
  near(active, 32e9, 3);
  assert.equal(e.kvBytesPerToken, 70_272);
});

test('Llama 4 Maverick: 400.7B text, vision tower on its own line, 17.2B active (published 400B / 17B); 7.65 GB KV at 128K', async () => {
  const m = await load('Llama 4 Maverick');
  const t = LLAMA4_MAVERICK.text_config;
  const h = t.hidden_size;
  const attention = 2 * h * t.num_attention_heads * t.head_dim + 2 * h * t.num_key_value_heads * t.head_dim + 2 * h;
  const routed = t.num_local_experts * 3 * h * t.intermediate_size;
  const moe = attention + t.num_local_experts * h + routed + 3 * h * t.intermediate_size;
  const dense = attention + 3 * h * t.intermediate_size_mlp;
  const text = 2 * t.vocab_size * h + h + 24 * (moe + dense);
  const active = text - 24 * routed * (1 - 1 / 128);
  const e = at(m, 131072);
  assert.equal(parameterBreakdown(m).text, text);
  assert.equal(e.activeParameterCount, active);
  assert.equal(active, 17_184_691_200);
  near(text, 400e9, 0.5);
  assert.equal(e.visionParameterCount, m.parameterCount - text);
  assert.ok(e.visionParameterCount > 0.7e9 && e.visionParameterCount < 1e9);
  assert.equal(e.kvCacheBytes, 7_650_410_496);
  assert.equal(e.kvBytesPerToken, 196_608);
});

test('Gemma 3 27B: 27.0B text active (vision tower 0.42B on its own line); KV 507,904 B per token, 11.2 GB at 128K (5 of 6 layers windowed)', async () => {
  const m = await load('Gemma 3 27B');
  const t = GEMMA3_27B.text_config;
  const h = t.hidden_size;
  const layer = 2 * h * t.num_attention_heads * t.head_dim + 2 * h * t.num_key_value_heads * t.head_dim + 2 * t.head_dim + 3 * h * t.intermediate_size + 4 * h;
  const text = t.vocab_size * h + h + t.num_hidden_layers * layer;
  const e = at(m, 131072);
  assert.equal(e.activeParameterCount, text);
  assert.equal(text, 27_009_346_304);
  assert.equal(e.visionParameterCount, m.parameterCount - text);
  near(e.visionParameterCount, 0.4e9, 10);
  assert.equal(e.kvBytesPerToken, 507_904);
  assert.equal(e.kvCacheBytes, 10 * 8192 * 131072 + 52 * 8192 * 1024);
});

test('Mistral 7B v0.1: 7.24B (published 7.24B); KV 128 KiB per token, capped at the 4,096-token window', async () => {
  const m = await load('Mistral 7B v0.1');
  const h = M.hidden_size;
  const kvd = M.num_key_value_heads * (h / M.num_attention_heads);
  const total = 2 * M.vocab_size * h + h + M.num_hidden_layers * (2 * h * h + 2 * kvd * h + 3 * h * M.intermediate_size + 2 * h);
  const e = at(m, 32768);
  assert.deepEqual([m.parameterCount, e.activeParameterCount], [total, total]);
  near(total, 7.24e9, 0.1);
  assert.equal(e.kvBytesPerToken, 131_072);
  assert.equal(e.kvCacheBytes, 131_072 * 4096);
});

test('gpt-oss-120b: 116.83B total (published 116.83B), 5.71B active with embeddings (published 5.13B without the 0.58B input embedding)', async () => {
  const m = await load('gpt-oss-120b');
  const h = OSS.hidden_size;
  const q = OSS.num_attention_heads * OSS.head_dim;
  const kvd = OSS.num_key_value_heads * OSS.head_dim;
  const expertTensors = OSS.num_local_experts * (3 * h * OSS.intermediate_size + 2 * OSS.intermediate_size + h);
  const layer = 2 * q * h + q + h + 2 * (kvd * h + kvd) + OSS.num_attention_heads + OSS.num_local_experts * (h + 1) + expertTensors + 2 * h;
  const total = 2 * OSS.vocab_size * h + h + OSS.num_hidden_layers * layer;
  const active = total - OSS.num_hidden_layers * expertTensors * (1 - 4 / 128);
  const e = at(m, 131072);
  assert.equal(m.parameterCount, total);
  near(total, 116.83e9, 0.01);
  assert.equal(e.activeParameterCount, Math.round(active));
  near(active - OSS.vocab_size * h, 5.13e9, 0.5);
  assert.equal(e.kvBytesPerToken, 36 * 2 * 8 * 64 * 2);
  assert.equal(e.kvCacheBytes, 18 * 2048 * 131072 + 18 * 2048 * 128);
});

test('gpt-oss-20b as published (MXFP4 _blocks/_scales pairs): 20.91B parameters unpacked, 3.61B active without embeddings, 13.76 GB as stored', async () => {
  // Published: OpenAI gpt-oss model card, table 1 (20.91B total, 3.61B active); openai/gpt-oss-20b shards 4.79 + 4.80 + 4.17 GB.
  const m = await load('gpt-oss-20b (MXFP4)');
  const c = OSS20;
  const h = c.hidden_size;
  const q = c.num_attention_heads * c.head_dim;
  const kvd = c.num_key_value_heads * c.head_dim;
  const expertWeights = c.num_local_experts * 3 * h * c.intermediate_size; // MXFP4: 32 weights in 16 + 1 bytes
  const expertBiases = c.num_local_experts * (2 * c.intermediate_size + h);
  const bf16Layer = 2 * q * h + q + h + 2 * (kvd * h + kvd) + c.num_attention_heads + c.num_local_experts * (h + 1) + expertBiases + 2 * h;
  const total = 2 * c.vocab_size * h + h + c.num_hidden_layers * (bf16Layer + expertWeights);
  assert.equal(m.parameterCount, total);
  near(total, 20.91e9, 0.05);
  const bytes = 2 * (total - c.num_hidden_layers * expertWeights) + (c.num_hidden_layers * expertWeights * 17) / 32;
  assert.equal(m.weightBytes, bytes);
  near(bytes, 13.76e9, 0.5);
  const gateUp = m.tensors.find((t) => t.name === 'model.layers.0.mlp.experts.gate_up_proj')!;
  assert.deepEqual([gateUp.dtype, gateUp.shape, gateUp.byteLength], ['mxfp4_split', [32, 5760, 2880], (32 * 5760 * 2880 * 17) / 32]);
  assert.equal(m.tensors.some((t) => t.name.endsWith('_scales') || t.name.endsWith('_blocks')), false);
  const r = inspectReport(m);
  assert.equal(r.dtypeBytes['mxfp4_split'], (c.num_hidden_layers * expertWeights * 17) / 32);
  const e = at(m, 131072);
  const active = total - c.num_hidden_layers * (expertWeights + expertBiases) * (1 - 4 / 32);
  assert.equal(e.activeParameterCount, Math.round(active));
  near(active - c.vocab_size * h, 3.61e9, 0.5);
  assert.equal(e.kvCacheBytes, 12 * 2048 * 131072 + 12 * 2048 * 128);
});

test('Qwen3-Next-80B-A3B: MTP layer excluded; 3.87B active with embeddings (published "A3B"); 24,576 B KV per token plus a constant 79 MB state', async () => {
  const m = await load('Qwen3-Next-80B-A3B');
  const h = Q.hidden_size;
  const expert = 3 * h * Q.moe_intermediate_size;
  const moe = Q.num_experts * h + Q.num_experts * expert + 3 * h * Q.shared_expert_intermediate_size + h;
  const fullAttention = 2 * Q.num_attention_heads * Q.head_dim * h + 2 * Q.num_key_value_heads * Q.head_dim * h + h * Q.num_attention_heads * Q.head_dim + 2 * Q.head_dim;
  const kd = Q.linear_num_key_heads * Q.linear_key_head_dim;
  const vd = Q.linear_num_value_heads * Q.linear_value_head_dim;
  const linear = (2 * kd + 2 * vd) * h + 2 * Q.linear_num_value_heads * h + (2 * kd + vd) * Q.linear_conv_kernel_dim + 2 * Q.linear_num_value_heads + Q.linear_value_head_dim + h * vd;
  const text = 2 * Q.vocab_size * h + h + 12 * fullAttention + 36 * linear + 48 * (moe + 2 * h);
  const active = text - 48 * (Q.num_experts - Q.num_experts_per_tok) * expert;
  const e = at(m, 4096);
  const b = parameterBreakdown(m);
  assert.equal(b.text, text);
  assert.equal(b.mtp, fullAttention + moe + 2 * h + 2 * h * h + 3 * h);
  assert.equal(e.activeParameterCount, active);
  assert.equal(active, 3_874_929_408);
  near(text, 80e9, 1);
  assert.equal(e.kvBytesPerToken, 24_576);
  assert.equal(e.recurrentStateBytes, 36 * (3 * (2 * kd + vd) + Q.linear_key_head_dim * vd) * 4);
  assert.equal(e.kvCacheBytes, 4096 * 24_576 + e.recurrentStateBytes);
});

test('Jamba v0.1: 51.6B total, 12.1B active (published 52B / 12B); 16,384 B KV per token (4 attention layers) plus Mamba state', async () => {
  const m = await load('Jamba v0.1');
  const h = J.hidden_size;
  const inner = J.mamba_expand * h;
  const expert = 3 * h * J.intermediate_size;
  const mamba = 2 * inner * h + inner * J.mamba_d_conv + inner + (J.mamba_dt_rank + 2 * J.mamba_d_state) * inner + inner * J.mamba_dt_rank + inner + inner * J.mamba_d_state + inner + h * inner + J.mamba_dt_rank + 2 * J.mamba_d_state;
  const attention = 2 * h * h + 2 * (h / 4) * h;
  const total = 2 * J.vocab_size * h + h + 4 * attention + 28 * mamba + 16 * (J.num_experts * expert + J.num_experts * h) + 16 * expert + 32 * 2 * h;
  const active = total - 16 * (J.num_experts - J.num_experts_per_tok) * expert;
  const e = at(m, 262144);
  assert.deepEqual([m.parameterCount, e.activeParameterCount], [total, active]);
  near(total, 52e9, 1);
  near(active, 12e9, 1);
  assert.equal(e.kvBytesPerToken, 16_384);
  assert.equal(e.recurrentStateBytes, 28 * ((J.mamba_d_conv - 1) * inner + J.mamba_d_state * inner) * 4);
  assert.equal(e.attention, '28× recurrent, 4× GQA full');
});

test('inspect --json shows each layer its block cache and part, the per-block description, and the parameter split', async () => {
  const m = await load('Llama 4 Maverick');
  const r = inspectReport(m);
  const byName = new Map(r.layers.map((l) => [l.name, l]));
  assert.equal(byName.get('language_model.model.layers.0.self_attn.k_proj.weight')!.cache, 'GQA chunked 8192');
  assert.equal(byName.get('language_model.model.layers.3.self_attn.k_proj.weight')!.cache, 'GQA full');
  const vision = byName.get('vision_model.model.layers.0.self_attn.q_proj.weight')!;
  assert.deepEqual([vision.part, vision.cache], ['vision', null]);
  assert.equal(r.attention!.layers.length, 48);
  assert.equal(r.attention!.kvBytesPerTokenFp16, 196_608);
  assert.deepEqual(r.parameters, { total: m.parameterCount, text: 400_711_848_960, activeText: 17_184_691_200, mtp: 0, vision: m.parameterCount - 400_711_848_960, audio: 0 });
  const ds = inspectReport(await load('DeepSeek-V3'));
  assert.equal(ds.layers.find((l) => l.name === 'model.layers.61.eh_proj.weight')!.part, 'mtp');
  assert.equal(ds.layers.find((l) => l.name === 'model.layers.60.self_attn.kv_a_proj_with_mqa.weight')!.cache, 'MLA full');
});
