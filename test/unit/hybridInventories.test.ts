/**
 * Full tensor inventories of three state-space / hybrid checkpoints (issue #9): Mamba (state-spaces/mamba-130m-hf),
 * Granite 4.0-H-Tiny (ibm-granite/granite-4.0-h-tiny: Mamba-2 + attention + fine-grained MoE) and Falcon-H1-0.5B
 * (tiiuae/Falcon-H1-0.5B-Instruct: attention and Mamba-2 side by side in every layer). Each is written from its
 * published config.json and the module layout of its transformers modeling file (`modeling_mamba.py`,
 * `modeling_granitemoehybrid.py`, `modeling_falcon_h1.py`) as a header-only safetensors file and opened through the
 * real reader. Expected parameters, KV per token and constant state are closed-form arithmetic on the config
 * (written out here, independent of the builders), next to the publisher's rounded figure.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { estimate, getTarget, type Model } from '../../src/core';
import { openInventory } from '../fixtures/publishedModels';
import type { StTensorSpec } from '../fixtures/buildSafetensors';

const w = (name: string, shape: readonly number[], dtype = 'BF16'): StTensorSpec => ({ name, dtype, shape });
const near = (actual: number, published: number, pct: number): void => assert.ok(Math.abs(actual / published - 1) <= pct / 100, `${actual} vs published ${published}`);
const h200 = getTarget('h200')!;

//#region Mamba
/** state-spaces/mamba-130m-hf config.json. */
const MAMBA_130M = {
  architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: 768, num_hidden_layers: 24, state_size: 16, conv_kernel: 4, expand: 2,
  intermediate_size: 1536, time_step_rank: 48, vocab_size: 50280, tie_word_embeddings: true, use_bias: false, use_conv_bias: true,
} as const;

function mambaTensors(): StTensorSpec[] {
  const c = MAMBA_130M;
  const d = c.intermediate_size;
  const out = [w('backbone.embeddings.weight', [c.vocab_size, c.hidden_size], 'F32')];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `backbone.layers.${l}`;
    out.push(
      w(`${p}.norm.weight`, [c.hidden_size], 'F32'), w(`${p}.mixer.A_log`, [d, c.state_size], 'F32'), w(`${p}.mixer.D`, [d], 'F32'),
      w(`${p}.mixer.conv1d.weight`, [d, 1, c.conv_kernel], 'F32'), w(`${p}.mixer.conv1d.bias`, [d], 'F32'),
      w(`${p}.mixer.in_proj.weight`, [2 * d, c.hidden_size], 'F32'), w(`${p}.mixer.x_proj.weight`, [c.time_step_rank + 2 * c.state_size, d], 'F32'),
      w(`${p}.mixer.dt_proj.weight`, [d, c.time_step_rank], 'F32'), w(`${p}.mixer.dt_proj.bias`, [d], 'F32'), w(`${p}.mixer.out_proj.weight`, [c.hidden_size, d], 'F32'),
    );
  }
  out.push(w('backbone.norm_f.weight', [c.hidden_size], 'F32'));
  return out;
}

test('Mamba-130m: 129.1M parameters (published "130m"), no KV cache, constant state 24 × (3 × 1536 + 16 × 1536) FP32 elements', async () => {
  const m: Model = await openInventory(mambaTensors(), MAMBA_130M);
  const c = MAMBA_130M;
  const d = c.intermediate_size;
  const h = c.hidden_size;
  const layer = h + d * c.state_size + d + d * c.conv_kernel + d + 2 * d * h + (c.time_step_rank + 2 * c.state_size) * d + d * c.time_step_rank + d + h * d;
  const total = c.vocab_size * h + c.num_hidden_layers * layer + h;
  assert.equal(m.parameterCount, total);
  near(total, 130e6, 1);
  const e = estimate(m, h200, { context: 8192, batch: 2 });
  assert.equal(e.kvBytesPerToken, 0);
  const state = c.num_hidden_layers * ((c.conv_kernel - 1) * d + c.state_size * d);
  assert.equal(state, 700_416);
  assert.equal(e.recurrentStateBytes, 2 * state * 4); // two sequences, FP32, whatever the context
  assert.equal(e.kvCacheBytes, e.recurrentStateBytes);
  assert.equal(e.activeParameterCount, total);
  assert.deepEqual(e.warnings.filter((x) => /attention|recurrent|state/i.test(x)), []);
});
//#endregion

//#region Granite 4.0-H-Tiny
/** ibm-granite/granite-4.0-h-tiny config.json (Mamba-2 everywhere but 4 attention layers; 64 experts, 6 used, one shared MLP). */
const GRANITE_H_TINY = {
  architectures: ['GraniteMoeHybridForCausalLM'], model_type: 'granitemoehybrid', hidden_size: 1536, num_hidden_layers: 40,
  num_attention_heads: 12, num_key_value_heads: 4, intermediate_size: 512, shared_intermediate_size: 1024, num_local_experts: 64, num_experts_per_tok: 6,
  mamba_n_heads: 48, mamba_d_head: 64, mamba_d_state: 128, mamba_n_groups: 1, mamba_d_conv: 4, mamba_expand: 2, mamba_conv_bias: true, mamba_proj_bias: false,
  vocab_size: 100352, tie_word_embeddings: true, position_embedding_type: 'nope',
  layer_types: Array.from({ length: 40 }, (_, i) => ([5, 15, 25, 35].includes(i) ? 'attention' : 'mamba')),
} as const;

function graniteTensors(): StTensorSpec[] {
  const c = GRANITE_H_TINY;
  const h = c.hidden_size;
  const inner = c.mamba_n_heads * c.mamba_d_head;
  const conv = inner + 2 * c.mamba_n_groups * c.mamba_d_state;
  const headDim = h / c.num_attention_heads;
  const out = [w('model.embed_tokens.weight', [c.vocab_size, h])];
  c.layer_types.forEach((kind, l) => {
    const p = `model.layers.${l}`;
    out.push(w(`${p}.input_layernorm.weight`, [h]), w(`${p}.post_attention_layernorm.weight`, [h]));
    if (kind === 'mamba') {
      out.push(
        w(`${p}.mamba.in_proj.weight`, [2 * inner + 2 * c.mamba_n_groups * c.mamba_d_state + c.mamba_n_heads, h]), w(`${p}.mamba.conv1d.weight`, [conv, 1, c.mamba_d_conv]),
        w(`${p}.mamba.conv1d.bias`, [conv]), w(`${p}.mamba.dt_bias`, [c.mamba_n_heads]), w(`${p}.mamba.A_log`, [c.mamba_n_heads]), w(`${p}.mamba.D`, [c.mamba_n_heads]),
        w(`${p}.mamba.norm.weight`, [inner]), w(`${p}.mamba.out_proj.weight`, [h, inner]),
      );
    } else {
      out.push(
        w(`${p}.self_attn.q_proj.weight`, [c.num_attention_heads * headDim, h]), w(`${p}.self_attn.k_proj.weight`, [c.num_key_value_heads * headDim, h]),
        w(`${p}.self_attn.v_proj.weight`, [c.num_key_value_heads * headDim, h]), w(`${p}.self_attn.o_proj.weight`, [h, c.num_attention_heads * headDim]),
      );
    }
    out.push(
      w(`${p}.block_sparse_moe.router.layer.weight`, [c.num_local_experts, h]),
      w(`${p}.block_sparse_moe.input_linear.weight`, [c.num_local_experts, 2 * c.intermediate_size, h]),
      w(`${p}.block_sparse_moe.output_linear.weight`, [c.num_local_experts, h, c.intermediate_size]),
      w(`${p}.shared_mlp.input_linear.weight`, [2 * c.shared_intermediate_size, h]), w(`${p}.shared_mlp.output_linear.weight`, [h, c.shared_intermediate_size]),
    );
  });
  out.push(w('model.norm.weight', [h]));
  return out;
}

test('Granite 4.0-H-Tiny: 6.94B parameters (published 7B), routed experts at 6 of 64, 4 GQA layers of KV, 36 Mamba-2 states', async () => {
  const m = await openInventory(graniteTensors(), GRANITE_H_TINY);
  const c = GRANITE_H_TINY;
  const h = c.hidden_size;
  const inner = 3072;
  const conv = inner + 256;
  const mamba = (2 * inner + 256 + 48) * h + conv * 4 + conv + 3 * 48 + inner + h * inner;
  const attention = 2 * h * h + 2 * 512 * h;
  const experts = 64 * (2 * 512 * h + h * 512);
  const perLayer = 2 * h + 64 * h + experts + 3 * 1024 * h;
  const total = c.vocab_size * h + 36 * mamba + 4 * attention + 40 * perLayer + h;
  assert.equal(m.parameterCount, total);
  near(total, 7e9, 1);
  const e = estimate(m, h200, { context: 131072, kvFormat: 'bf16' });
  // Active: everything but routed experts, plus 6/64 of them. The model card's "1B active" counts neither the 154M
  // embedding nor (we read) the shared MLP; ours is 1.47B with both.
  const active = total - 40 * experts * (1 - 6 / 64);
  assert.equal(e.activeParameterCount, Math.round(active));
  assert.ok(active < 1.5e9 && active > 1.4e9);
  assert.equal(e.kvBytesPerToken, 4 * 2 * 4 * 128 * 2); // 4 layers × K+V × 4 heads × 128 × BF16 = 8,192 B
  assert.equal(e.kvCacheBytes, 8192 * 131072 + 36 * (3 * conv + 128 * inner) * 4);
  assert.equal(e.recurrentStateBytes, 36 * (3 * conv + 128 * inner) * 4);
});
//#endregion

//#region Falcon-H1
/** tiiuae/Falcon-H1-0.5B-Instruct config.json: every layer runs attention and a Mamba-2 mixer in parallel, then an MLP. */
const FALCON_H1_05B = {
  architectures: ['FalconH1ForCausalLM'], model_type: 'falcon_h1', hidden_size: 1024, intermediate_size: 2048, num_hidden_layers: 36,
  num_attention_heads: 8, num_key_value_heads: 2, head_dim: 64, mamba_d_ssm: 1536, mamba_n_heads: 24, mamba_d_head: 64, mamba_d_state: 128,
  mamba_n_groups: 1, mamba_d_conv: 4, mamba_expand: 2, mamba_conv_bias: true, mamba_proj_bias: false, mamba_rms_norm: false,
  vocab_size: 32784, tie_word_embeddings: false,
} as const;

function falconH1Tensors(): StTensorSpec[] {
  const c = FALCON_H1_05B;
  const h = c.hidden_size;
  const ssm = c.mamba_d_ssm;
  const conv = ssm + 2 * c.mamba_n_groups * c.mamba_d_state;
  const out = [w('model.embed_tokens.weight', [c.vocab_size, h])];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      w(`${p}.input_layernorm.weight`, [h]), w(`${p}.pre_ff_layernorm.weight`, [h]),
      w(`${p}.self_attn.q_proj.weight`, [c.num_attention_heads * c.head_dim, h]), w(`${p}.self_attn.k_proj.weight`, [c.num_key_value_heads * c.head_dim, h]),
      w(`${p}.self_attn.v_proj.weight`, [c.num_key_value_heads * c.head_dim, h]), w(`${p}.self_attn.o_proj.weight`, [h, c.num_attention_heads * c.head_dim]),
      w(`${p}.mamba.in_proj.weight`, [2 * ssm + 2 * c.mamba_n_groups * c.mamba_d_state + c.mamba_n_heads, h]), w(`${p}.mamba.conv1d.weight`, [conv, 1, c.mamba_d_conv]),
      w(`${p}.mamba.conv1d.bias`, [conv]), w(`${p}.mamba.dt_bias`, [c.mamba_n_heads]), w(`${p}.mamba.A_log`, [c.mamba_n_heads]), w(`${p}.mamba.D`, [c.mamba_n_heads]),
      w(`${p}.mamba.out_proj.weight`, [h, ssm]),
      w(`${p}.feed_forward.gate_proj.weight`, [c.intermediate_size, h]), w(`${p}.feed_forward.up_proj.weight`, [c.intermediate_size, h]),
      w(`${p}.feed_forward.down_proj.weight`, [h, c.intermediate_size]),
    );
  }
  out.push(w('model.final_layernorm.weight', [h]), w('lm_head.weight', [c.vocab_size, h]));
  return out;
}

test('Falcon-H1-0.5B: 0.52B parameters (published 0.5B); every layer holds both a GQA KV cache and a Mamba-2 state', async () => {
  const m = await openInventory(falconH1Tensors(), FALCON_H1_05B);
  const h = 1024;
  const conv = 1536 + 256;
  const layer = 2 * h + 512 * h + 2 * 128 * h + h * 512 + (2 * 1536 + 256 + 24) * h + conv * 4 + conv + 3 * 24 + h * 1536 + 3 * 2048 * h;
  const total = 2 * 32784 * h + 36 * layer + h;
  assert.equal(m.parameterCount, total);
  near(total, 0.5e9, 5);
  const e = estimate(m, h200, { context: 32768, kvFormat: 'bf16' });
  assert.equal(e.kvBytesPerToken, 36 * 2 * 2 * 64 * 2); // 18,432 B
  const state = 36 * (3 * conv + 128 * 1536) * 4;
  assert.equal(e.recurrentStateBytes, state);
  assert.equal(e.kvCacheBytes, 18_432 * 32768 + state);
  assert.equal(e.activeParameterCount, total);
  assert.equal(e.attention, 'GQA full + SSM');
});
//#endregion
