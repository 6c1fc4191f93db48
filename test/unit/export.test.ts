import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportLlamaCpp } from '../../src/core';
import { tinyTransformer } from '../fixtures/planModel';

test('llama.cpp export maps Hugging Face names to GGUF names and flags approximations', () => {
  const model = tinyTransformer(2);
  const e = exportLlamaCpp(model, { 'layers.0.self_attn.q_proj': 'int4_g32', 'layers.1.mlp.down_proj': 'int8', lm_head: 'q6_k', 'layers.0.mlp.gate_proj': 'nvfp4' });
  const overrides = e.argv.filter((_, i) => e.argv[i - 1] === '--tensor-type');
  assert.deepEqual(overrides.sort(), ['^blk\\.0\\.attn_q\\.weight$=Q4_0', '^blk\\.1\\.ffn_down\\.weight$=Q8_0', '^output\\.weight$=Q6_K'].sort());
  assert.ok(e.warnings.some((w) => /int8 has no exact llama\.cpp type; exported as the nearest, Q8_0/.test(w)));
  assert.ok(e.warnings.some((w) => /NVFP4, which llama\.cpp has no type for/.test(w)));
  assert.ok(e.warnings.some((w) => /convert_hf_to_gguf/.test(w)));
});
