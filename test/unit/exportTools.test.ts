/**
 * Exports to the tools people run, each checked against the format its project documents:
 * - llama.cpp: Hugging Face names of every family we recognise map to the GGUF names llama.cpp's converter writes
 *   (gguf-py/gguf/tensor_mapping.py + constants.py; DeepSeek's kv_b split and GPT-OSS's gate_up split from
 *   conversion/deepseek.py and conversion/gpt_oss.py, tag v0.4.0).
 * - GPTQModel: `dynamic` keys are Python regexes with "+:"/"-:" prefixes, tried in order with re.match on the module
 *   name (GPTQModel README; vLLM gptq_utils.get_dynamic_override implements the same): we evaluate the config that way
 *   and get back every module's planned bits/group size or its exclusion.
 * - llm-compressor: the YAML parses to `quant_stage.quant_modifiers.QuantizationModifier{ignore, config_groups}` with
 *   compressed-tensors QuantizationArgs (num_bits, type, symmetric, strategy, group_size); "re:" targets are matched
 *   against module names as compressed-tensors does, and each module lands in the group with its planned scheme.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportGptqModel, exportLlamaCpp, exportLlmCompressor, ggufTensorNames, type Model } from '../../src/core';
import { buildIrModel, tinyTransformer, type LayerSpec } from '../fixtures/planModel';

/** js-yaml ships with the dev toolchain (ESLint); a test-only parser for the recipe. */
const yaml = require('js-yaml') as { load(text: string): unknown };

const ST = (m: Model): Model => ({ ...m, format: 'safetensors', fileName: 'model.safetensors' });

test('llama.cpp export: HF names of Llama, Qwen, Qwen3-MoE, DeepSeek, Mixtral, Gemma, Phi and GPT-OSS map to GGUF names', () => {
  const cases: [string, string[]][] = [
    // Llama / Mistral / Qwen2 / Qwen3 / Gemma (same module names)
    ['model.embed_tokens.weight', ['token_embd.weight']],
    ['lm_head.weight', ['output.weight']],
    ['model.layers.3.self_attn.q_proj.weight', ['blk.3.attn_q.weight']],
    ['model.layers.3.self_attn.k_proj.weight', ['blk.3.attn_k.weight']],
    ['model.layers.3.self_attn.v_proj.weight', ['blk.3.attn_v.weight']],
    ['model.layers.3.self_attn.o_proj.weight', ['blk.3.attn_output.weight']],
    ['model.layers.3.mlp.gate_proj.weight', ['blk.3.ffn_gate.weight']],
    ['model.layers.3.mlp.up_proj.weight', ['blk.3.ffn_up.weight']],
    ['model.layers.3.mlp.down_proj.weight', ['blk.3.ffn_down.weight']],
    // Qwen3-MoE / Qwen2-MoE / DeepSeek experts, router, shared expert(s)
    ['model.layers.5.mlp.experts.17.gate_proj.weight', ['blk.5.ffn_gate_exps.weight']],
    ['model.layers.5.mlp.experts.17.up_proj.weight', ['blk.5.ffn_up_exps.weight']],
    ['model.layers.5.mlp.experts.17.down_proj.weight', ['blk.5.ffn_down_exps.weight']],
    ['model.layers.5.mlp.gate.weight', ['blk.5.ffn_gate_inp.weight']],
    ['model.layers.5.mlp.shared_expert.up_proj.weight', ['blk.5.ffn_up_shexp.weight']],
    ['model.layers.5.mlp.shared_experts.down_proj.weight', ['blk.5.ffn_down_shexp.weight']],
    // DeepSeek V2/V3 multi-head latent attention
    ['model.layers.2.self_attn.q_a_proj.weight', ['blk.2.attn_q_a.weight']],
    ['model.layers.2.self_attn.q_b_proj.weight', ['blk.2.attn_q_b.weight']],
    ['model.layers.2.self_attn.kv_a_proj_with_mqa.weight', ['blk.2.attn_kv_a_mqa.weight']],
    ['model.layers.2.self_attn.kv_b_proj.weight', ['blk.2.attn_k_b.weight', 'blk.2.attn_v_b.weight']],
    // Mixtral
    ['model.layers.1.block_sparse_moe.experts.7.w1.weight', ['blk.1.ffn_gate_exps.weight']],
    ['model.layers.1.block_sparse_moe.experts.7.w2.weight', ['blk.1.ffn_down_exps.weight']],
    ['model.layers.1.block_sparse_moe.experts.7.w3.weight', ['blk.1.ffn_up_exps.weight']],
    ['model.layers.1.block_sparse_moe.gate.weight', ['blk.1.ffn_gate_inp.weight']],
    // Phi-3 (fused) and Phi-2
    ['model.layers.4.self_attn.qkv_proj.weight', ['blk.4.attn_qkv.weight']],
    ['model.layers.4.mlp.gate_up_proj.weight', ['blk.4.ffn_up.weight']],
    ['model.layers.4.self_attn.dense.weight', ['blk.4.attn_output.weight']],
    ['model.layers.4.mlp.fc1.weight', ['blk.4.ffn_up.weight']],
    ['model.layers.4.mlp.fc2.weight', ['blk.4.ffn_down.weight']],
    // GPT-OSS
    ['model.layers.9.mlp.router.weight', ['blk.9.ffn_gate_inp.weight']],
    ['model.layers.9.mlp.experts.gate_up_proj', ['blk.9.ffn_gate_exps.weight', 'blk.9.ffn_up_exps.weight']],
    ['model.layers.9.mlp.experts.down_proj_blocks', ['blk.9.ffn_down_exps.weight']],
  ];
  for (const [hf, gguf] of cases) assert.deepEqual(ggufTensorNames(hf, { format: 'safetensors' }), gguf, hf);
  assert.deepEqual(ggufTensorNames('model.layers.0.mystery.weight', { format: 'safetensors' }), []);
  assert.deepEqual(ggufTensorNames('blk.0.attn_q.weight', { format: 'gguf' }), ['blk.0.attn_q.weight']);
});

test('llama.cpp export: a MoE model’s experts collapse to one override per projection; mixed types keep the widest', () => {
  const specs: LayerSpec[] = [];
  for (let e = 0; e < 4; e++) {
    for (const [w, role] of [['w1', 'expert'], ['w2', 'expert'], ['w3', 'expert']] as const) {
      specs.push({ name: `model.layers.0.block_sparse_moe.experts.${e}.${w}`, role, shape: [128, 64], block: 0, expert: e });
    }
  }
  specs.push({ name: 'model.layers.0.self_attn.kv_b_proj', role: 'attention_k', shape: [64, 64], block: 0 });
  const model = ST(buildIrModel(specs));
  const assignment: Record<string, string> = {};
  for (const s of specs) assignment[s.name] = 'q4_k';
  assignment['model.layers.0.block_sparse_moe.experts.2.w2'] = 'q6_k';
  const e = exportLlamaCpp(model, assignment);
  const overrides = e.argv.filter((_, i) => e.argv[i - 1] === '--tensor-type').sort();
  assert.deepEqual(overrides, [
    '^blk\\.0\\.attn_k_b\\.weight$=Q4_K', '^blk\\.0\\.attn_v_b\\.weight$=Q4_K',
    '^blk\\.0\\.ffn_down_exps\\.weight$=Q6_K', '^blk\\.0\\.ffn_gate_exps\\.weight$=Q4_K', '^blk\\.0\\.ffn_up_exps\\.weight$=Q4_K',
  ]);
  assert.ok(e.warnings.some((w) => /ffn_down_exps\.weight' holds several planned tensors \(experts\) with types Q4_K, Q6_K; .* gets Q6_K/.test(w)));
  assert.equal(e.baseType, 'Q4_K');
});

/** GPTQModel's rule: first "-:" match excludes, first positive match overrides, else the base config. */
function gptqEffective(cfg: ReturnType<typeof exportGptqModel>['quantize_config'], module: string): { bits: number; group_size: number } | 'excluded' {
  for (const [key, v] of Object.entries(cfg.dynamic)) {
    if (key.startsWith('-:')) {
      if (new RegExp(key.slice(2)).test(module) && module.match(new RegExp(key.slice(2)))!.index === 0) return 'excluded';
    } else {
      const re = new RegExp(key.replace(/^\+:/, ''));
      const m = module.match(re);
      if (m && m.index === 0) return { bits: v.bits ?? cfg.bits, group_size: v.group_size ?? cfg.group_size };
    }
  }
  return { bits: cfg.bits, group_size: cfg.group_size };
}

test('GPTQModel export: dynamic rules give every module its planned bits and group size, 16-bit and unsupported modules are excluded', () => {
  const model = ST(tinyTransformer(2));
  const assignment: Record<string, string> = {};
  for (const l of model.layers) if (l.quantizable) assignment[l.name] = 'int4';
  assignment['layers.0.self_attn.q_proj'] = 'int8';
  assignment['layers.1.mlp.down_proj'] = 'int4_g32';
  assignment['layers.0.self_attn.v_proj'] = 'fp16';
  assignment['layers.1.self_attn.k_proj'] = 'nvfp4';
  assignment.lm_head = 'int8';
  const e = exportGptqModel(model, assignment, { input: 'models/tiny', output: 'models/tiny-gptq' });
  const cfg = e.quantize_config;
  assert.equal(cfg.bits, 4);
  assert.equal(cfg.group_size, 128);
  assert.equal(cfg.lm_head, true);
  for (const [key, v] of Object.entries(cfg.dynamic)) {
    assert.match(key, /^[+-]:\^.*\$$/);
    assert.doesNotThrow(() => new RegExp(key.slice(2)));
    for (const k of Object.keys(v)) assert.ok(['bits', 'group_size'].includes(k), k);
    if (v.bits !== undefined) assert.ok([2, 3, 4, 8].includes(v.bits));
    if (v.group_size !== undefined) assert.ok(v.group_size === -1 || [16, 32, 64, 128, 256].includes(v.group_size));
  }
  const expected: Record<string, { bits: number; group_size: number } | 'excluded'> = {
    'layers.0.self_attn.q_proj': { bits: 8, group_size: -1 },
    'layers.0.self_attn.k_proj': { bits: 4, group_size: 128 },
    'layers.0.self_attn.v_proj': 'excluded',
    'layers.1.mlp.down_proj': { bits: 4, group_size: 32 },
    'layers.1.self_attn.k_proj': 'excluded',
    'layers.1.mlp.up_proj': { bits: 4, group_size: 128 },
    lm_head: { bits: 8, group_size: -1 },
  };
  for (const [module, want] of Object.entries(expected)) assert.deepEqual(gptqEffective(cfg, module), want, module);
  // A rule for one module never matches another (layers.1 vs layers.10, q_proj vs q_proj_x).
  assert.deepEqual(gptqEffective(cfg, 'layers.0.self_attn.q_proj_extra'), { bits: 4, group_size: 128 });
  assert.ok(e.warnings.some((w) => /nvfp4, which GPTQ cannot store/.test(w)));
  assert.match(e.python, /QuantizeConfig\(\n {4}bits=4,\n {4}group_size=128,/);
  assert.match(e.python, /GPTQModel\.load\("models\/tiny", config\)/);
  // The dynamic dict in the snippet is the JSON above (a valid Python dict literal: only strings and ints).
  const dict = e.python.slice(e.python.indexOf('dynamic=') + 8, e.python.indexOf('\n)'));
  assert.deepEqual(JSON.parse(dict.replace(/,\s*$/, '')), JSON.parse(JSON.stringify(cfg.dynamic)));
});

const STRATEGIES = new Set(['tensor', 'channel', 'group', 'block', 'token', 'tensor_group', 'attn_head']);

test('llm-compressor export: the YAML recipe parses, uses compressed-tensors args, and routes every module to its planned scheme', () => {
  const model = ST(tinyTransformer(2));
  const assignment: Record<string, string> = {};
  for (const l of model.layers) if (l.quantizable) assignment[l.name] = 'int4';
  assignment['layers.0.self_attn.q_proj'] = 'int8';
  assignment['layers.1.self_attn.q_proj'] = 'w8a8';
  assignment['layers.1.mlp.down_proj'] = 'int4_g32';
  assignment['layers.0.mlp.up_proj'] = 'fp8_e4m3';
  assignment['layers.1.mlp.up_proj'] = 'nvfp4';
  assignment['layers.0.self_attn.v_proj'] = 'bf16';
  assignment['layers.0.mlp.gate_proj'] = 'mxfp6';
  const e = exportLlmCompressor(model, assignment);
  const parsed = yaml.load(e.yaml) as typeof e.recipe;
  assert.deepEqual(JSON.parse(JSON.stringify(parsed)), JSON.parse(JSON.stringify(e.recipe)));
  const mod = parsed.quant_stage.quant_modifiers.QuantizationModifier;
  for (const g of Object.values(mod.config_groups)) {
    for (const a of [g.weights, g.input_activations].filter((x) => x !== undefined)) {
      assert.ok(Number.isInteger(a.num_bits) && ['int', 'float'].includes(a.type) && a.symmetric === true && STRATEGIES.has(a.strategy), JSON.stringify(a));
      assert.equal(a.group_size !== undefined, a.strategy === 'group' || a.strategy === 'tensor_group', JSON.stringify(a));
    }
    for (const t of g.targets) assert.ok(t.startsWith('re:'));
  }
  /** compressed-tensors: a "re:" target is a regex matched against the module name. */
  const routed = (module: string): unknown => {
    if (mod.ignore.includes(module)) return 'ignored';
    const hits = Object.values(mod.config_groups).filter((g) => g.targets.some((t) => new RegExp(t.slice(3)).test(module)));
    assert.ok(hits.length <= 1, `${module} matches ${hits.length} groups`);
    return hits[0] ? { w: hits[0].weights, a: hits[0].input_activations } : 'untouched';
  };
  assert.deepEqual(routed('layers.0.self_attn.k_proj'), { w: { num_bits: 4, type: 'int', symmetric: true, strategy: 'group', group_size: 128 }, a: undefined });
  assert.deepEqual(routed('layers.1.mlp.down_proj'), { w: { num_bits: 4, type: 'int', symmetric: true, strategy: 'group', group_size: 32 }, a: undefined });
  assert.deepEqual(routed('layers.0.self_attn.q_proj'), { w: { num_bits: 8, type: 'int', symmetric: true, strategy: 'channel' }, a: undefined });
  assert.deepEqual(routed('layers.1.self_attn.q_proj'), {
    w: { num_bits: 8, type: 'int', symmetric: true, strategy: 'channel' },
    a: { num_bits: 8, type: 'int', symmetric: true, strategy: 'token', dynamic: true },
  });
  assert.deepEqual(routed('layers.0.mlp.up_proj'), { w: { num_bits: 8, type: 'float', symmetric: true, strategy: 'tensor' }, a: undefined });
  assert.deepEqual(routed('layers.1.mlp.up_proj'), { w: { num_bits: 4, type: 'float', symmetric: true, strategy: 'tensor_group', group_size: 16 }, a: undefined });
  assert.equal(routed('layers.0.self_attn.v_proj'), 'ignored');
  assert.equal(routed('layers.0.mlp.gate_proj'), 'ignored');
  assert.equal(routed('layers.0.self_attn.q_proj_extra'), 'untouched');
  assert.ok(e.warnings.some((w) => /mxfp6, which compressed-tensors cannot express/.test(w)));
  assert.match(e.python, /oneshot\(model=".", recipe="recipe\.yaml"/);
});
