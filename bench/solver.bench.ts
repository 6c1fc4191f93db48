/**
 * Solver scale: a synthetic 10,000-layer model (2,500 blocks × q/k/v/o… trimmed to 10k weight layers) with 8
 * candidate formats and harm ∝ params · 2^(−bits) · random sensitivity; solves at several budgets and reports time,
 * status (proven optimal or gap), DP work, and the Pareto frontier computation.
 */
import { solveModel, type HarmFunction } from '../src/core';
import { buildIrModel, rng, type LayerSpec } from '../test/fixtures/planModel';

const r = rng(17);
const specs: LayerSpec[] = [];
const roles = ['attention_q', 'attention_k', 'attention_v', 'attention_o', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
for (let i = 0; specs.length < 10_000; i++) {
  const block = Math.floor(i / roles.length);
  const role = roles[i % roles.length]!;
  const hidden = 256 * (1 + Math.floor(r() * 4));
  specs.push({ name: `layers.${block}.${role}`, role, shape: [hidden, 256], block });
}
const model = buildIrModel(specs, 'big.safetensors');
const sens = new Map(model.layers.map((l) => [l.name, 0.1 + 3 * r()]));
const harm: HarmFunction = (l, f) => sens.get(l.name)! * 2 ** ((-2 * f.bytesPerBlock * 8) / f.blockSize);
const formats = ['bf16', 'fp8_e4m3', 'int8', 'mxfp6', 'int4_g32', 'int4_g64', 'int4', 'nf4'];
const total = model.layers.reduce((a, l) => a + l.byteLength, 0);
console.log(`model: ${model.layers.length} layers, ${(total / 2 ** 20).toFixed(0)} MiB FP32, ${formats.length} formats (+ keep)`);
for (const frac of [0.12, 0.14, 0.17, 0.2, 0.3]) {
  const t0 = performance.now();
  const res = solveModel(model, { weightBudgetBytes: Math.floor(total * frac), formats, harm, frontierPoints: 200 });
  const ms = performance.now() - t0;
  console.log(`budget ${(frac * 100).toFixed(0)}% of FP32: ${ms.toFixed(0)} ms · ${res.status}${res.status === 'gap' ? ` (gap ${res.gap.toExponential(2)} = ${((res.gap / res.harm) * 100).toExponential(2)} %)` : ''} · groups ${res.groupCount} (${res.fusedGroupCount} fused) · DP over ${res.freeGroups} free groups, ${res.states} states · frontier ${res.frontier.length} points`);
}
