import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameRoleMemo, roleFromName, type RoleResult } from '../../src/core/formats/onnx/layers';
import { SegmentRoleMemo } from '../../src/core/model/roles';

// Node and weight names as ONNX exporters write them, with digits in every kind of place: block numbers (`layers.3`,
// `h.0`, `blk5`, `layer_12`, `l0`), experts, op counters (`MatMul_123`), digits inside tokens (`c123`, `fc1`, `w13`),
// digits a role rule reads by value (`w1`/`w2`, `fc1`/`fc2`, `dense_4h_to_h`), upper case and non-ASCII names.
const NAMES = [
  '/block.7/Mul_123', 'c123', 'c7', '/model/layers.3/self_attn/q_proj/MatMul', '/model/layers.12/mlp/down_proj/MatMul_1', 'model.layers.3.mlp.experts.5.w1.weight',
  'model.layers.3.mlp.experts.5.w2.weight', '/h.0/attn/c_attn/Gemm', 'transformer.h.11.mlp.c_fc.weight', 'blk5.ffn_up', 'blk.5.attn_q.weight', 'layer_12/fc1/MatMul',
  'layer_12/fc2/MatMul', 'l0.up.w', 'l0.dn.w', 'l12.o.w', '/encoder/layer.1/attention/output/dense/MatMul', 'dense_4h_to_h.weight', 'dense_h_to_4h.weight',
  'mlp.w13.weight', 'wi_0', 'wi_1', 'lin1', 'lin2', 'ln1.weight', 'onnx::MatMul_1234', 'onnx::Add_12', 'Layers.3.Q_Proj.weight', 'H.2.W1', 'layers.1234567.q',
  'layers.123456.q', 'decoder_stack.2.q.bias', 'experts.1.layers.2.x', 'layer.3.4.5', '/layers.0/GemmFloat8_3', '/layers.0/gemmfloat8', 'lm_head', 'logits_3',
  'output_7', 'x.weight_ih_l0', 'x.weight_ih_l12', 'b1.w', 'h1', 'h1234567', '', '.', '7', '/3/4', 'ꙮ.layers.3.q_proj', 'İ1.w1', 'model.layers.3.ffn_w1', '/mlp/up/Foo9', '/attn/o/GemmFloat8', 'model.layers.3.mlp.experts.15.w1.weight', 'experts.123.x',
];
const OPS = ['MatMul', 'Gemm', 'Add', 'Mul', 'Conv', 'GemmFloat8', 'Gather', 'LayerNormalization', 'Foo9'];

test('NameRoleMemo gives roleFromName answers for names met in every digit variant, order and op', () => {
  let seed = 11;
  const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const names: string[] = [];
  for (const n of NAMES) {
    names.push(n);
    for (let k = 0; k < 8; k++) names.push(n.replace(/[0-9]/g, () => String(rnd(10))));
    for (let d = 0; d < 10; d++) names.push(n.replace(/[0-9]/g, String(d)));
  }
  const want: RoleResult = { role: 'other', block: undefined, expert: undefined };
  const got: RoleResult = { role: 'other', block: undefined, expert: undefined };
  let hits = 0;
  // Forwards and backwards (each shape met first in another name), and with every shape hash colliding.
  for (const [order, mask] of [[names, -1], [names.slice().reverse(), -1], [names, 0]] as const) {
    const memo = new NameRoleMemo(new SegmentRoleMemo(0), mask);
    for (let round = 0; round < 2; round++) {
      for (const name of order) {
        for (const op of OPS) {
          roleFromName(name, op, new SegmentRoleMemo(0), want);
          memo.infer(name, op, got);
          assert.deepEqual(got, want, `${name} ${op}`);
          if (want.block !== undefined || want.expert !== undefined) hits++;
        }
      }
    }
  }
  assert.ok(hits > 2000, `${hits} answers with a block or expert`);
});
