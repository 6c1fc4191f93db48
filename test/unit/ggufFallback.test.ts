/**
 * llama-quantize's shape fallbacks in the planner: on a GGUF whose rows are not block multiples (64-wide like
 * stories260K, 172-wide FFN rows), the solver and the baselines name the type `apply` writes, and the weight
 * bytes they predict are the bytes apply writes. Hermetic: a generated model's header only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_LIMITS, KEEP_FORMAT, MemoryByteSource, NO_SIBLINGS, assignmentWeightBytes, copiedKvSpans, defaultCandidateFormats, dtypeInfo,
  formatBitsPerWeight, ggufAssignmentWritten, ggufFallbackFormats, ggufWrittenFormat, ggufWrittenLayerFormat, llamaCppRulesBaseline,
  planGgufApply, readGgufHeader, solveModel, uniformBaseline, type GgufHeader, type HarmFunction,
} from '../../src/core';
import { llamaGguf } from '../fixtures/buildGguf';
import { layerWeights } from '../../src/core';

async function narrowModel(): Promise<{ h: GgufHeader; copied: Map<string, Uint8Array> }> {
  const built = llamaGguf({ embd: 64, ffn: 172, vocab: 32, blocks: 2 });
  const h = await readGgufHeader(new MemoryByteSource('narrow.gguf', built.bytes), { limits: DEFAULT_LIMITS, token: undefined, siblings: NO_SIBLINGS });
  const copied = new Map(copiedKvSpans(h).map((s) => [s.key, built.bytes.slice(s.offset, s.end)]));
  return { h, copied };
}

/** Bytes apply writes for the layers' tensors (what the plan's weight bytes must equal). */
function writtenLayerBytes(h: GgufHeader, copied: Map<string, Uint8Array>, assignment: Readonly<Record<string, string>>): number {
  const plan = planGgufApply(h, assignment, copied);
  const inLayer = new Set(h.model.layers.flatMap((l) => layerWeights(l)));
  let total = 0;
  for (const t of plan.tensors) {
    if (!inLayer.has(t.name)) continue;
    const info = dtypeInfo(t.targetDtype)!;
    total += (t.ne.reduce((a, b) => a * b, 1) / info.blockSize) * info.bytesPerBlock;
  }
  return total;
}

test('ggufWrittenFormat follows llama-quantize: K-quants fall back on 64-wide rows, and to F16 where 32 does not divide', () => {
  assert.equal(ggufWrittenFormat('q4_k', 256), 'q4_k');
  assert.equal(ggufWrittenFormat('q4_k', 64), 'q5_0');
  assert.equal(ggufWrittenFormat('q5_k', 64), 'q5_1');
  assert.equal(ggufWrittenFormat('q6_k', 64), 'q8_0');
  assert.equal(ggufWrittenFormat('q2_k', 64), 'q4_0');
  assert.equal(ggufWrittenFormat('q3_k', 64), 'q4_0');
  assert.equal(ggufWrittenFormat('q4_k', 172), 'fp16');
  assert.equal(ggufWrittenFormat('q8_0', 172), 'fp16');
  assert.equal(ggufWrittenFormat('fp16', 172), 'fp16');
});

test('narrow rows: the solver plans the type apply writes, sized as apply writes it, at every budget', async () => {
  const { h, copied } = await narrowModel();
  const model = h.model;
  const formats = defaultCandidateFormats(model);
  for (const id of ['q5_0', 'q5_1', 'q4_0', 'q8_0']) assert.ok(formats.includes(id), `${id} is a candidate: ${formats.join(',')}`);
  assert.deepEqual(ggufFallbackFormats(model, ['q4_k']).sort(), ['fp16', 'q5_0']);
  const down = model.layers.find((l) => l.name.includes('ffn_down'))!;
  assert.equal(ggufWrittenLayerFormat(model, down.name, 'q4_k'), 'fp16');
  // Harm falls with bits: the solver takes the lowest bits the budget allows.
  const harm: HarmFunction = (_l, f) => 2 ** -formatBitsPerWeight(f);
  const full = assignmentWeightBytes(model, {});
  const seen = new Set<string>();
  for (const fraction of [0.15, 0.17, 0.19, 0.22, 0.26, 0.3, 0.45, 0.6]) {
    const r = solveModel(model, { formats: ['fp16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k'], harm, weightBudgetBytes: Math.floor(full * fraction) });
    if (r.status === 'infeasible') continue;
    assert.ok(ggufAssignmentWritten(model, r.assignment), `every layer names the type apply writes (budget ${fraction})`);
    for (const id of Object.values(r.assignment)) seen.add(id);
    for (const [layer, id] of Object.entries(r.assignment)) {
      if (id === KEEP_FORMAT) continue;
      assert.ok(!/_k$/.test(id), `${layer}: ${id} cannot be stored in 64- or 172-wide rows`);
    }
    assert.equal(r.weightBytes, writtenLayerBytes(h, copied, r.assignment), `predicted bytes == written bytes (budget ${fraction})`);
    assert.equal(planGgufApply(h, r.assignment, copied).warnings.filter((w) => /fallback/.test(w)).length, 0, 'apply has no fallback left to make');
  }
  assert.ok(seen.has('q4_0') || seen.has('q5_0'), `low budgets reach the 32-block fallbacks: ${[...seen].join(',')}`);
});

test('narrow rows: uniform and llama.cpp-like baselines name and size the fallback types', async () => {
  const { h, copied } = await narrowModel();
  const model = h.model;
  const b = [uniformBaseline(model, 'q4_k')!, uniformBaseline(model, 'q2_k')!, llamaCppRulesBaseline(model, { low: 'q4_k', high: 'q6_k', head: 'q6_k' })!];
  for (const x of b) {
    assert.ok(ggufAssignmentWritten(model, x.assignment), x.id);
    assert.equal(assignmentWeightBytes(model, x.assignment), writtenLayerBytes(h, copied, x.assignment), `${x.id}: predicted bytes == written bytes`);
  }
  const q4 = b[0]!.assignment;
  assert.equal(q4[model.layers.find((l) => l.name.includes('attn_q'))!.name], 'q5_0');
  assert.equal(q4[model.layers.find((l) => l.name.includes('ffn_down'))!.name], 'fp16');
});
