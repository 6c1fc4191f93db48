import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inferRole, isQuantizableWeight, layersFromTensors, blockCountFromLayers, expertCountFromLayers, type TensorInfo } from '../../src/core';
import { inferRoleOfSegments, RoleMemo } from '../../src/core/model/roles';

/** [name, rank, role, block, expert] */
const CASES: readonly [string, number, string, number | undefined, number | undefined][] = [
  // Hugging Face llama / qwen / mistral
  ['model.embed_tokens.weight', 2, 'embedding', undefined, undefined],
  ['model.layers.0.self_attn.q_proj.weight', 2, 'attention_q', 0, undefined],
  ['model.layers.11.self_attn.k_proj.weight', 2, 'attention_k', 11, undefined],
  ['model.layers.3.self_attn.v_proj.weight', 2, 'attention_v', 3, undefined],
  ['model.layers.3.self_attn.o_proj.weight', 2, 'attention_o', 3, undefined],
  ['model.layers.3.self_attn.q_proj.bias', 1, 'bias', 3, undefined],
  ['model.layers.3.self_attn.q_norm.weight', 1, 'norm', 3, undefined],
  ['model.layers.3.mlp.gate_proj.weight', 2, 'ffn_gate', 3, undefined],
  ['model.layers.3.mlp.up_proj.weight', 2, 'ffn_up', 3, undefined],
  ['model.layers.3.mlp.down_proj.weight', 2, 'ffn_down', 3, undefined],
  ['model.layers.3.input_layernorm.weight', 1, 'norm', 3, undefined],
  ['model.layers.3.post_attention_layernorm.weight', 1, 'norm', 3, undefined],
  ['model.norm.weight', 1, 'norm', undefined, undefined],
  ['lm_head.weight', 2, 'output_head', undefined, undefined],
  // MoE: Qwen/DeepSeek style, Mixtral, gpt-oss fused experts
  ['model.layers.5.mlp.experts.17.down_proj.weight', 2, 'expert', 5, 17],
  ['model.layers.5.mlp.experts.0.gate_proj.weight', 2, 'expert', 5, 0],
  ['model.layers.5.mlp.shared_expert.up_proj.weight', 2, 'shared_expert', 5, undefined],
  ['model.layers.5.mlp.shared_experts.down_proj.weight', 2, 'shared_expert', 5, undefined],
  ['model.layers.5.mlp.shared_expert_gate.weight', 2, 'router', 5, undefined],
  ['model.layers.5.mlp.gate.weight', 2, 'router', 5, undefined],
  ['model.layers.5.mlp.gate.e_score_correction_bias', 1, 'router', 5, undefined],
  ['model.layers.1.block_sparse_moe.experts.7.w1.weight', 2, 'expert', 1, 7],
  ['model.layers.1.block_sparse_moe.gate.weight', 2, 'router', 1, undefined],
  ['model.layers.1.mlp.router.weight', 2, 'router', 1, undefined],
  ['model.layers.1.mlp.experts.gate_up_proj_blocks', 4, 'expert', 1, undefined],
  // GPT-2, GPT-NeoX, BERT, T5, llama-original
  ['transformer.wte.weight', 2, 'embedding', undefined, undefined],
  ['transformer.wpe.weight', 2, 'position_embedding', undefined, undefined],
  ['transformer.h.4.attn.c_attn.weight', 2, 'attention_qkv', 4, undefined],
  ['transformer.h.4.attn.c_proj.weight', 2, 'attention_o', 4, undefined],
  ['transformer.h.4.mlp.c_fc.weight', 2, 'ffn_up', 4, undefined],
  ['transformer.h.4.mlp.c_proj.weight', 2, 'ffn_down', 4, undefined],
  ['transformer.h.4.ln_1.weight', 1, 'norm', 4, undefined],
  ['transformer.ln_f.bias', 1, 'norm', undefined, undefined],
  ['gpt_neox.layers.2.attention.query_key_value.weight', 2, 'attention_qkv', 2, undefined],
  ['gpt_neox.layers.2.attention.dense.weight', 2, 'attention_o', 2, undefined],
  ['gpt_neox.layers.2.mlp.dense_h_to_4h.weight', 2, 'ffn_up', 2, undefined],
  ['gpt_neox.layers.2.mlp.dense_4h_to_h.weight', 2, 'ffn_down', 2, undefined],
  ['bert.encoder.layer.1.attention.self.query.weight', 2, 'attention_q', 1, undefined],
  ['bert.encoder.layer.1.attention.output.dense.weight', 2, 'attention_o', 1, undefined],
  ['bert.encoder.layer.1.intermediate.dense.weight', 2, 'ffn_up', 1, undefined],
  ['bert.encoder.layer.1.output.dense.weight', 2, 'ffn_down', 1, undefined],
  ['bert.encoder.layer.1.output.LayerNorm.weight', 1, 'norm', 1, undefined],
  ['bert.embeddings.word_embeddings.weight', 2, 'embedding', undefined, undefined],
  ['encoder.block.0.layer.0.SelfAttention.o.weight', 2, 'attention_o', 0, undefined],
  ['encoder.block.0.layer.1.DenseReluDense.wo.weight', 2, 'ffn_down', 0, undefined],
  ['encoder.block.0.layer.1.DenseReluDense.wi_0.weight', 2, 'ffn_gate', 0, undefined],
  ['layers.7.attention.wq.weight', 2, 'attention_q', 7, undefined],
  ['layers.7.attention.wo.weight', 2, 'attention_o', 7, undefined],
  ['layers.7.feed_forward.w2.weight', 2, 'ffn_down', 7, undefined],
  ['model.layers.0.self_attn.in_proj_weight', 2, 'attention_qkv', 0, undefined],
  // PEFT LoRA
  ['base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight', 2, 'attention_q', 9, undefined],
  // GGUF
  ['token_embd.weight', 2, 'embedding', undefined, undefined],
  ['blk.0.attn_q.weight', 2, 'attention_q', 0, undefined],
  ['blk.0.attn_k.weight', 2, 'attention_k', 0, undefined],
  ['blk.0.attn_v.weight', 2, 'attention_v', 0, undefined],
  ['blk.12.attn_qkv.weight', 2, 'attention_qkv', 12, undefined],
  ['blk.12.attn_output.weight', 2, 'attention_o', 12, undefined],
  ['blk.12.attn_norm.weight', 1, 'norm', 12, undefined],
  ['blk.12.ffn_up.weight', 2, 'ffn_up', 12, undefined],
  ['blk.12.ffn_gate.weight', 2, 'ffn_gate', 12, undefined],
  ['blk.12.ffn_down.weight', 2, 'ffn_down', 12, undefined],
  ['blk.12.ffn_norm.weight', 1, 'norm', 12, undefined],
  ['blk.3.ffn_gate_exps.weight', 3, 'expert', 3, undefined],
  ['blk.3.ffn_down_exps.weight', 3, 'expert', 3, undefined],
  ['blk.3.ffn_up_shexp.weight', 2, 'shared_expert', 3, undefined],
  ['blk.3.ffn_gate_inp.weight', 2, 'router', 3, undefined],
  ['blk.3.ffn_gate_inp_shexp.weight', 1, 'router', 3, undefined],
  ['output_norm.weight', 1, 'norm', undefined, undefined],
  ['output.weight', 2, 'output_head', undefined, undefined],
  // Non-transformer fallbacks
  ['conv1.weight', 4, 'conv', undefined, undefined],
  ['lstm_cell.weight_ih', 2, 'recurrent', undefined, undefined],
  ['classifier.fc.weight', 2, 'linear', undefined, undefined],
  ['some.scalar', 0, 'other', undefined, undefined],
];

test('inferRole maps Hugging Face and GGUF names to role, block and expert', () => {
  for (const [name, rank, role, block, expert] of CASES) {
    assert.deepEqual(inferRole(name, rank), { role, block, expert }, name);
  }
});

test('quantizable excludes 1-D tensors, norms, biases, routers and integer tables', () => {
  assert.equal(isQuantizableWeight('attention_q', [16, 16], 'bfloat16'), true);
  assert.equal(isQuantizableWeight('expert', [8, 16, 16], 'q4_k'), true);
  assert.equal(isQuantizableWeight('norm', [16], 'float32'), false);
  assert.equal(isQuantizableWeight('linear', [16], 'float32'), false);
  assert.equal(isQuantizableWeight('router', [8, 16], 'float32'), false);
  assert.equal(isQuantizableWeight('linear', [16, 16], 'int32'), false);
});

test('layersFromTensors builds one tensor layer per weight and counts blocks and experts', () => {
  const t = (name: string, shape: number[]): TensorInfo => ({
    name, dtype: 'float16', shape, elementCount: shape.reduce((a, b) => a * b, 1), byteLength: 2 * shape.reduce((a, b) => a * b, 1), file: undefined, byteOffset: 0, encoding: 'raw', origin: 'entry',
  });
  const layers = layersFromTensors([t('model.layers.0.mlp.experts.3.up_proj.weight', [4, 2]), t('model.layers.6.input_layernorm.weight', [2])]);
  assert.equal(layers.length, 2);
  assert.deepEqual(
    { ...layers[0], shape: [...layers[0]!.shape], moreWeights: [...layers[0]!.moreWeights] },
    { name: 'model.layers.0.mlp.experts.3.up_proj.weight', op: 'tensor', role: 'expert', block: 0, expert: 3, weight: 'model.layers.0.mlp.experts.3.up_proj.weight', moreWeights: [], parameterCount: 8, byteLength: 16, dtype: 'float16', shape: [4, 2], quantizable: true, inputs: [], outputs: [] },
  );
  assert.equal(layers[1]!.quantizable, false);
  assert.equal(blockCountFromLayers(layers), 7);
  assert.equal(expertCountFromLayers(layers), 4);
  assert.equal(blockCountFromLayers([]), undefined);
});

test('layersFromTensors remembers roles per name pattern and gives the same answers as inferRole', () => {
  const t = (name: string, rank: number): TensorInfo => ({ name, dtype: 'float16', shape: new Array<number>(rank).fill(2), elementCount: 2 ** rank, byteLength: 2 ** (rank + 1), file: undefined, byteOffset: 0, encoding: 'raw', origin: 'entry' });
  // Every corpus name, renumbered (other values, leading zeros, 9 digits), at every rank; then names whose digits are
  // not index segments, more than 9 digits, empty segments, upper case and more segments than the memo keeps.
  const renumber = (name: string, k: number): string => name.replace(/(^|\.)(\d+)(?=\.|$)/g, (_m, dot: string, d: string) => `${dot}${[String(Number(d) + k), `00${d}`, '123456789', d][k % 4]}`);
  const names: string[] = [];
  for (const [name] of CASES) for (let k = 0; k < 6; k++) names.push(renumber(name, k));
  names.push(
    'model.layers.1234567890.mlp.down_proj.weight', 'model.layers.1234567891.mlp.down_proj.weight', 'model.layers.12345.mlp.down_proj.weight',
    'model.layers..3.mlp.fc1.weight', 'model.layers.3..mlp.fc2.weight', 'model.layers.3.mlp.fc1.weight', 'model.layers.3.mlp.fc2.weight',
    'blk.1.ffn_w1.weight', 'blk.1.ffn_w3.weight', 'Model.Layers.4.MLP.Experts.2.W1.weight', 'model.layers.4.mlp.experts.2.w1.weight',
    'h.7.0.weight', 'h.7.1.weight', '3.weight', '4.weight', '5', '6', '.', '', 'experts.1.layers.2.x', 'layers.1.experts.2.layers.3.experts.4.x',
    `${'a.'.repeat(40)}layers.3.q_proj.weight`, `${'a.'.repeat(40)}layers.4.q_proj.weight`, `${'a.'.repeat(29)}layers.5.q_proj.weight`, `${'a.'.repeat(29)}layers.6.q_proj.weight`,
  );
  const tensors: TensorInfo[] = [];
  for (const rank of [0, 1, 2, 3]) for (const name of names) tensors.push(t(name, rank));
  // Twice, the second time backwards, so each pattern is met both first and from the memo.
  const all = [...tensors, ...tensors.slice().reverse()];
  const layers = layersFromTensors(all);
  let hits = 0;
  for (let i = 0; i < all.length; i++) {
    const want = inferRole(all[i]!.name, all[i]!.shape.length);
    const got = layers[i]!;
    assert.deepEqual({ role: got.role, block: got.block, expert: got.expert }, want, `${all[i]!.name} rank ${all[i]!.shape.length}`);
    if (want.block !== undefined || want.expert !== undefined) hits++;
  }
  assert.ok(hits > 1000, `${hits} names with a block or expert`);
  // With no hash bits every lookup collides: the answers must still be inferRole's.
  const memo = new RoleMemo(0);
  for (const x of all) {
    memo.infer(x.name, x.shape.length);
    assert.deepEqual({ role: memo.role, block: memo.block, expert: memo.expert }, inferRole(x.name, x.shape.length), `${x.name} rank ${x.shape.length} (colliding hashes)`);
  }
});

test('tensorParts: tensor-only layers (layer i = tensor i) give the parts and active parameters a name → first layer map gives', async () => {
  const { parameterBreakdown, tensorParts } = await import('../../src/core');
  const t = (name: string): TensorInfo => ({ name, dtype: 'float16', shape: [2, 2], elementCount: 4, byteLength: 8, file: undefined, byteOffset: 0, encoding: 'raw', origin: 'entry' });
  const names = ['model.layers.0.mlp.experts.0.up_proj.weight', 'model.layers.2.mlp.experts.1.up_proj.weight', 'model.layers.2.mlp.shared_experts.up_proj.weight', 'visual.blocks.0.attn.qkv.weight', 'mtp.0.weight', 'lm_head.weight'];
  const tensors = names.map(t);
  const layers = layersFromTensors(tensors);
  const hp = { blockCount: 2, mtpLayerCount: 1, expertCount: 2, expertUsedCount: 1, source: 'test' };
  const model = { tensors, layers, hyperparameters: hp, parameterCount: 24 } as unknown as Parameters<typeof tensorParts>[0];
  assert.deepEqual([...tensorParts(model)], [[names[0], 'text'], [names[1], 'mtp'], [names[2], 'mtp'], [names[3], 'vision'], [names[4], 'mtp'], [names[5], 'text']]);
  assert.deepEqual(parameterBreakdown(model), { total: 24, text: 8, mtp: 12, vision: 4, audio: 0, routedExperts: 4, expertShare: 0.5, activeText: 6 });
  // A repeated name takes the first layer's block (block 0 → text), as for any layer layout.
  const dup = [...tensors, t(names[1]!)];
  const dupLayers = [...layers, { ...layers[1]!, block: 0 }];
  const twice = { ...model, tensors: dup, layers: dupLayers } as typeof model;
  assert.equal(tensorParts(twice).get(names[1]!), 'mtp');
  const first = { ...model, tensors: [t(names[1]!), ...tensors], layers: [{ ...layers[1]!, block: 0 }, ...layers] } as typeof model;
  assert.equal(tensorParts(first).get(names[1]!), 'text');
});

test('inferRoleOfSegments gives inferRole of the name those lower-cased segments make', () => {
  const names = [...CASES.map((c) => c[0]), '', '.weight', 'a..b.bias', 'Model.Layers.3.MLP.Down_Proj.weight', 'x.in_proj_weight'];
  for (const name of names) {
    for (const rank of [0, 1, 2, 3]) assert.deepEqual(inferRoleOfSegments(name.toLowerCase().split('.'), rank), inferRole(name, rank), `${name} rank ${rank}`);
  }
});

test('SegmentRoleMemo: names of one digit shape get inferRoleOfSegments answers, digits a rule reads by value are not shared', async () => {
  const { SegmentRoleMemo, rolePatterns } = await import('../../src/core/model/roles');
  // Every alternative of every rule pattern that names a digit is refused as a shared shape: a new rule that reads a
  // particular digit must be added to DIGIT_READING_SHAPES (else names differing in that digit would share a role).
  const words: string[] = [];
  for (const re of rolePatterns()) {
    const source = re.source.replace(/\\d/g, '').replace(/\{\d+(,\d*)?\}/g, '');
    for (const w of source.split(/[^a-z0-9_]+/i)) if (/[0-9]/.test(w)) words.push(w.toLowerCase());
  }
  assert.ok(words.includes('w1') && words.includes('dense_4h_to_h') && words.includes('wi_0'), words.join(' '));
  // Tokens of the layers.ts kind: lower-cased segments, digits inside tokens, rule words with other digits.
  const base = [
    'c123.weight', 'c7.weight', 'c1234567890.weight', 'x.c12.bias', '.weight', 'w1.weight', 'w2.weight', 'w3.weight', 'w13.weight', 'w4.weight',
    'fc1.weight', 'fc2.weight', 'fc3.weight', 'mlp.fc1.weight', 'wi_0.weight', 'wi_1.weight', 'wi_2.weight', 'lin1.weight', 'lin2.weight', 'lin3.weight',
    'dense_h_to_4h.weight', 'dense_4h_to_h.weight', 'dense_h_to_5h.weight', 'ln1.weight', 'ln_2.weight', 'ln12x.weight', 'layers.3.w1.weight',
    'experts.4.c5.weight', 'decoder_stack.2.q.weight', 'h.1.attn.c_proj.weight', 'model.layers.12.mlp.down_proj.weight', 'a1b2.c3d4.bias',
    'weight_ih_l0.weight', 'weight_ih_l12', 'blk.1.ffn_w1.weight', 'x.quant_state.bitsandbytes__nf4', 'lora_a.weight', 'e0.gate.weight', 'l0.up.weight', 'to_out.0.weight',
    ...words.map((w) => `${w}.weight`), ...words.map((w) => `mlp.${w}.bias`), ...words.map((w) => `${w}_weight`),
  ];
  let seed = 7;
  const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const names: string[] = [];
  for (const n of base) for (let k = 0; k < 12; k++) names.push(k === 0 ? n : n.replace(/[0-9]/g, () => String(rnd(10))));
  for (const w of words) for (let d = 0; d < 10; d++) names.push(`${w.replace(/[0-9]/g, String(d))}.weight`, w.replace(/[0-9]/g, String(d)));
  for (const rank of [0, 2, 3]) {
    const memo = new SegmentRoleMemo(rank);
    for (const order of [names, names.slice().reverse()]) {
      for (const name of order) {
        const segs = name.split('.');
        const got = memo.infer(segs, name);
        assert.deepEqual({ role: got.role, block: got.block, expert: got.expert }, inferRoleOfSegments(segs, rank), `${name} rank ${rank}`);
      }
    }
  }
});
