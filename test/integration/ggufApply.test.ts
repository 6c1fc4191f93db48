/**
 * GGUF apply against llama.cpp itself (node-llama-cpp 3.21.1's prebuilt libraries, CPU):
 * 1. Our quantizers vs libggml's `ggml_quantize_chunk` (what llama-quantize calls per tensor, no imatrix) and its
 *    dequantizers, for all 17 written types: bytes and dequantized floats identical (also re-derives the golden
 *    hashes test/unit/ggmlQuants.test.ts pins).
 * 2. Whole files vs `llama_model_quantize` (= `llama-quantize --pure`) for uniform plans: every tensor's type and
 *    bytes equal llama.cpp's output, on stories260K (Q8_0, Q4_0, Q4_K with its fallbacks) and on a generated
 *    llama-shaped model with rows of 256 (every K-quant, IQ4_NL, TQ1_0, TQ2_0, Q1_0, F16, BF16).
 * 3. Applied files load in llama.cpp and generate text; on stories260K the measured KL against the original is
 *    finite and ordered (Q8_0 < Q4_0).
 * 4. The editor's path: Apply Plan for GGUF in the task process (progress, the 'requantize' refusal code, cancel).
 * Needs python3 (ctypes) for 1–2. Run: node --import tsx --test test/integration/ggufApply.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_LIMITS, GGML_TYPES, MemoryByteSource, NO_SIBLINGS, decodeElements, encodeGgufU32, layoutGguf, quantizeGgml, readGgufHeader, seededRandom,
  type GgufHeader, type GgufKvOut, type GgufTensorOut,
} from '../../src/core';
import { applyPlanToGguf } from '../../src/node/applyGguf';
import { LlamaEvaluator, loadCalibrationText } from '../../src/node/llamaEval';
import { RpcError } from '../../src/protocol/rpc';
import { TaskClient } from '../../src/node/taskClient';
import { GGML_TEST_ROW, LIBGGML_SHA256, ggmlTestInput } from '../fixtures/ggmlInput';
import { SHARED_MODELS } from './sharedModels';

const STORIES = path.join(SHARED_MODELS, 'gguf/stories260K.gguf');
const HELPER = path.join(__dirname, 'helpers', 'libggml.py');

/** node-llama-cpp's prebuilt binaries folder for this platform (holds libggml-base.so and libllama). */
function llamaLibDir(): string | undefined {
  const platform = `${process.platform}-${process.arch}`;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const bins = path.join(dir, 'node_modules', '@node-llama-cpp', platform, 'bins', platform);
    if (existsSync(path.join(bins, 'libggml-base.so'))) return bins;
    if (path.dirname(dir) === dir) return undefined;
  }
}
const LIBDIR = llamaLibDir();
const PYTHON = (() => {
  try {
    execFileSync('python3', ['-c', 'import ctypes'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const NO_LIB = !LIBDIR ? 'node-llama-cpp has no prebuilt libggml for this platform' : !PYTHON ? 'python3 (ctypes) is not available' : false;

const typeId = (dtype: string): number => GGML_TYPES.find((t) => t.dtype === dtype)!.id;

async function readHeader(file: string): Promise<{ h: GgufHeader; bytes: Uint8Array }> {
  const bytes = new Uint8Array(await fs.readFile(file));
  const h = await readGgufHeader(new MemoryByteSource(path.basename(file), bytes), { limits: DEFAULT_LIMITS, token: undefined, siblings: NO_SIBLINGS });
  return { h, bytes };
}

//#region generated llama-shaped model

/**
 * A llama model llama.cpp loads, with rows of 256 so every block type applies: stories260K's tokenizer (vocab 512),
 * 2 blocks, embedding 256, FFN 512, 8 heads / 4 KV heads. Random weights (σ 0.02, norms 1) stored in a mix of source
 * types — F32, F16 (token_embd), BF16 (blk.1.attn_q) and Q8_0 (blk.1.attn_output) — so each source path is exercised.
 */
async function generateLlama(out: string): Promise<void> {
  const stories = await readHeader(STORIES);
  const embd = 256, ffn = 512, vocab = 512, blocks = 2;
  const override = new Map<string, number>([
    ['llama.embedding_length', embd], ['llama.feed_forward_length', ffn], ['llama.block_count', blocks],
    ['llama.attention.head_count', 8], ['llama.attention.head_count_kv', 4], ['llama.rope.dimension_count', 32], ['llama.context_length', 512],
  ]);
  const kvs: GgufKvOut[] = stories.h.kvs.map((kv) => ({
    key: kv.key,
    valueType: kv.valueType,
    value: override.has(kv.key) ? encodeGgufU32(override.get(kv.key)!) : stories.bytes.slice(kv.valueOffset, kv.valueEnd),
  }));
  const specs: { name: string; ne: number[]; dtype: string }[] = [{ name: 'token_embd.weight', ne: [embd, vocab], dtype: 'float16' }];
  for (let b = 0; b < blocks; b++) {
    specs.push(
      { name: `blk.${b}.attn_norm.weight`, ne: [embd], dtype: 'float32' },
      { name: `blk.${b}.attn_q.weight`, ne: [embd, embd], dtype: b === 1 ? 'bfloat16' : 'float32' },
      { name: `blk.${b}.attn_k.weight`, ne: [embd, 128], dtype: 'float32' },
      { name: `blk.${b}.attn_v.weight`, ne: [embd, 128], dtype: 'float32' },
      { name: `blk.${b}.attn_output.weight`, ne: [embd, embd], dtype: b === 1 ? 'q8_0' : 'float32' },
      { name: `blk.${b}.ffn_norm.weight`, ne: [embd], dtype: 'float32' },
      { name: `blk.${b}.ffn_gate.weight`, ne: [embd, ffn], dtype: 'float32' },
      { name: `blk.${b}.ffn_up.weight`, ne: [embd, ffn], dtype: 'float32' },
      { name: `blk.${b}.ffn_down.weight`, ne: [ffn, embd], dtype: 'float32' },
    );
  }
  specs.push({ name: 'output_norm.weight', ne: [embd], dtype: 'float32' }, { name: 'output.weight', ne: [embd, vocab], dtype: 'float32' });
  const layout = layoutGguf(3, kvs, specs as GgufTensorOut[], 32);
  const file = new Uint8Array(layout.fileBytes);
  file.set(layout.header);
  const rnd = seededRandom(11);
  specs.forEach((s, i) => {
    const n = s.ne.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const u = Math.max(rnd(), 1e-12);
      v[k] = s.ne.length === 1 ? 1 : 0.02 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
    }
    file.set(quantizeGgml(s.dtype, v), layout.dataOffset + layout.tensorOffsets[i]!);
  });
  await fs.writeFile(out, file);
}
//#endregion

/** Every quantizable layer → `format` (a uniform plan, what llama-quantize --pure does with one type). */
async function uniform(file: string, format: string): Promise<Record<string, string>> {
  const { h } = await readHeader(file);
  const out: Record<string, string> = {};
  for (const l of h.model.layers) if (l.quantizable) out[l.name] = format;
  return out;
}

/** Tensors whose type or bytes differ between two GGUF files (same tensor names required). */
async function tensorDiffs(a: string, b: string): Promise<string[]> {
  const A = await readHeader(a), B = await readHeader(b);
  const bt = new Map(B.h.model.tensors.map((t) => [t.name, t]));
  assert.equal(A.h.model.tensors.length, B.h.model.tensors.length);
  const diffs: string[] = [];
  for (const t of A.h.model.tensors) {
    const u = bt.get(t.name)!;
    if (t.dtype !== u.dtype) {
      diffs.push(`${t.name}: ${t.dtype} vs ${u.dtype}`);
      continue;
    }
    const x = A.bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength);
    const y = B.bytes.subarray(u.byteOffset, u.byteOffset + u.byteLength);
    let first = -1;
    for (let i = 0; i < x.length && first < 0; i++) if (x[i] !== y[i]) first = i;
    if (first >= 0) diffs.push(`${t.name} (${t.dtype}): bytes differ from offset ${first}`);
  }
  return diffs;
}

test('our quantizers write libggml’s bytes and dequantize to libggml’s floats (17 types)', { skip: NO_LIB }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-ggml-chunk-'));
  try {
    const x = ggmlTestInput();
    await fs.writeFile(path.join(dir, 'in.f32'), new Uint8Array(x.buffer));
    const dtypes = Object.keys(LIBGGML_SHA256);
    execFileSync('python3', [HELPER, 'chunk', LIBDIR as string, path.join(dir, 'in.f32'), dir, String(GGML_TEST_ROW), ...dtypes.map((d) => String(typeId(d)))]);
    for (const d of dtypes) {
      const ref = new Uint8Array(await fs.readFile(path.join(dir, `${typeId(d)}.bin`)));
      const ours = quantizeGgml(d, x);
      assert.deepEqual(ours, ref, `${d}: bytes`);
      assert.equal(createHash('sha256').update(ref).digest('hex'), LIBGGML_SHA256[d], `${d}: the unit test's golden hash is stale`);
      const deqRef = new Float32Array((await fs.readFile(path.join(dir, `${typeId(d)}.deq.f32`))).buffer.slice(0));
      const deq = decodeElements(d, ours, x.length);
      for (let i = 0; i < x.length; i++) if (!Object.is(deq[i], deqRef[i])) assert.fail(`${d}: element ${i} dequantizes to ${deq[i]}, libggml ${deqRef[i]}`);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

/** llama_ftype for `llama-quantize --pure` per plan format id. */
const PURE_FTYPES: readonly [string, number][] = [
  ['q8_0', 7], ['q4_0', 2], ['q4_k', 15], ['q6_k', 18], ['q5_k', 17], ['q5_0', 8], ['q3_k', 12], ['q2_k', 10],
  ['iq4_nl', 25], ['tq2_0', 37], ['tq1_0', 36], ['q1_0', 40], ['bf16', 32], ['fp16', 1],
];

test('uniform plans give the same tensors as llama.cpp’s own llama_model_quantize (--pure)', { skip: NO_LIB, timeout: 600_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-ggml-model-'));
  try {
    const generated = path.join(dir, 'gen.gguf');
    await generateLlama(generated);
    const cases: [string, string, number][] = [
      [STORIES, 'q8_0', 7], [STORIES, 'q4_0', 2], [STORIES, 'q4_k', 15],
      ...PURE_FTYPES.map(([f, t]) => [generated, f, t] as [string, string, number]),
    ];
    for (const [input, format, ftype] of cases) {
      const tag = `${path.basename(input)} ${format}`;
      const theirs = path.join(dir, `llama-${format}-${path.basename(input)}`);
      const ours = path.join(dir, `ours-${format}-${path.basename(input)}`);
      execFileSync('python3', [HELPER, 'model', LIBDIR as string, input, theirs, String(ftype)], { stdio: 'ignore' });
      const r = await applyPlanToGguf(input, await uniform(input, format), ours, format === 'q8_0' || format === 'fp16' || format === 'bf16' ? {} : { force: true });
      assert.deepEqual(await tensorDiffs(ours, theirs), [], tag);
      // llama.cpp writes the requested ftype even when shapes forced fallbacks; we write the type most matrices got.
      const { h } = await readHeader(ours);
      if (r.warnings.length === 0) assert.equal(h.model.metadata['general.file_type'], (await readHeader(theirs)).h.model.metadata['general.file_type'], `${tag}: general.file_type`);
      assert.ok(r.fileBytes > 0);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('applied GGUFs load in llama.cpp and generate; measured KL on stories260K is finite and ordered', { timeout: 900_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-gguf-load-'));
  const { getLlama, LlamaCompletion } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never' });
  const generate = async (file: string): Promise<string> => {
    const model = await llama.loadModel({ modelPath: file });
    try {
      const ctx = await model.createContext({ contextSize: 128 });
      try {
        const completion = new LlamaCompletion({ contextSequence: ctx.getSequence() });
        return await completion.generateCompletion('Once upon a time', { maxTokens: 12, temperature: 0 });
      } finally {
        await ctx.dispose();
      }
    } finally {
      await model.dispose();
    }
  };
  const ev = LlamaEvaluator.start();
  try {
    // stories260K: uniform Q8_0 and Q4_0, and a mixed plan using every type its 64-wide rows allow.
    const mixed: Record<string, string> = {};
    const types = ['q8_0', 'q4_0', 'q5_0', 'iq4_nl', 'q4_1', 'q5_1', 'fp16', 'bf16', 'q6_k'];
    (await readHeader(STORIES)).h.model.layers.filter((l) => l.quantizable).forEach((l, i) => (mixed[l.name] = types[i % types.length]!));
    const original = await generate(STORIES);
    assert.ok(original.length > 10, `original: ${JSON.stringify(original)}`);
    const ref = await ev.reference(STORIES, await loadCalibrationText());
    const results = new Map<string, { text: string; kl: number; top1: number; perplexity: number }>();
    for (const [name, assignment] of [['q8_0', await uniform(STORIES, 'q8_0')], ['q4_0', await uniform(STORIES, 'q4_0')], ['mixed', mixed]] as const) {
      const out = path.join(dir, `stories-${name}.gguf`);
      await applyPlanToGguf(STORIES, assignment, out);
      const text = await generate(out);
      const m = await ev.compare(out);
      results.set(name, { text, kl: m.klDivergence, top1: m.top1Agreement, perplexity: m.perplexity });
      assert.ok(text.length > 0, `${name} generated nothing`);
      assert.ok(Number.isFinite(m.klDivergence) && m.klDivergence >= 0, `${name}: KL ${m.klDivergence}`);
    }
    assert.ok(results.get('q8_0')!.kl < results.get('q4_0')!.kl, JSON.stringify([...results]));
    assert.ok(results.get('q8_0')!.top1 > 0.95);
    console.log(`stories260K reference perplexity ${ref.perplexity.toFixed(3)}; original: ${JSON.stringify(original)}`);
    for (const [name, r] of results) console.log(`  ${name}: KL ${r.kl.toExponential(3)}, top-1 ${(100 * r.top1).toFixed(1)}%, perplexity ${r.perplexity.toFixed(3)}, text ${JSON.stringify(r.text)}`);

    // Generated llama-shaped model: one plan with every required type at once (from F32, F16, BF16 and Q8_0 sources).
    const generated = path.join(dir, 'gen.gguf');
    await generateLlama(generated);
    const every: Record<string, string> = {
      'token_embd.weight': 'q4_k', 'output.weight': 'q6_k',
      'blk.0.attn_q.weight': 'q6_k', 'blk.0.attn_k.weight': 'q5_k', 'blk.0.attn_v.weight': 'q4_k', 'blk.0.attn_output.weight': 'q3_k',
      'blk.0.ffn_gate.weight': 'q2_k', 'blk.0.ffn_up.weight': 'iq4_nl', 'blk.0.ffn_down.weight': 'tq2_0',
      'blk.1.attn_q.weight': 'tq1_0', 'blk.1.attn_k.weight': 'q1_0', 'blk.1.attn_v.weight': 'q5_0', 'blk.1.attn_output.weight': 'q4_0',
      'blk.1.ffn_gate.weight': 'bf16', 'blk.1.ffn_up.weight': 'fp16', 'blk.1.ffn_down.weight': 'q8_0',
    };
    const outEvery = path.join(dir, 'gen-every.gguf');
    const r = await applyPlanToGguf(generated, every, outEvery);
    const written = new Set(r.tensors.filter((t) => t.action === 'convert').map((t) => t.to));
    for (const d of ['q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k', 'iq4_nl', 'tq2_0', 'tq1_0', 'q1_0', 'q5_0', 'q4_0', 'bfloat16', 'float16']) assert.ok(written.has(d), d);
    const genText = await generate(outEvery);
    console.log(`generated model, every type: ${r.tensors.filter((t) => t.action === 'convert').length} tensors converted, text ${JSON.stringify(genText)}`);
    await ev.reference(generated, await loadCalibrationText());
    const m = await ev.compare(outEvery);
    assert.ok(Number.isFinite(m.klDivergence), `KL ${m.klDivergence}`);
    console.log(`  KL against the generated original ${m.klDivergence.toExponential(3)}, top-1 ${(100 * m.top1Agreement).toFixed(1)}%`);
  } finally {
    ev.dispose();
    await llama.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the editor’s task process applies GGUF plans: progress, requantize refusal by code, cancel leaves nothing', { timeout: 240_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-gguf-task-'));
  const client = new TaskClient();
  try {
    const progress: number[] = [];
    const out = path.join(dir, 'q4.gguf');
    const r = await client.applyGgufPlan({ modelPath: STORIES, assignment: await uniform(STORIES, 'q4_0'), outputPath: out }, { onProgress: (p) => progress.push(p.done) });
    assert.equal(r.outputPath, out);
    assert.equal((await fs.stat(out)).size, r.fileBytes);
    assert.ok(progress.length > 0);
    // The Q4_0 file as input: a Q8_0 plan would re-quantize; refused with code 'requantize' unless forced.
    await assert.rejects(client.applyGgufPlan({ modelPath: out, assignment: await uniform(out, 'q8_0'), outputPath: path.join(dir, 'again.gguf') }), (e: unknown) => e instanceof RpcError && e.code === 'requantize');
    const forced = await client.applyGgufPlan({ modelPath: out, assignment: await uniform(out, 'q8_0'), outputPath: path.join(dir, 'again.gguf'), force: true });
    assert.ok(forced.warnings.some((w) => /re-quantized/.test(w)));
    const cancelled = { isCancellationRequested: true, onCancellationRequested: () => ({ dispose() {} }) };
    await assert.rejects(client.applyGgufPlan({ modelPath: STORIES, assignment: await uniform(STORIES, 'q8_0'), outputPath: path.join(dir, 'c.gguf') }, { token: cancelled }));
    assert.deepEqual((await fs.readdir(dir)).sort(), ['again.gguf', 'q4.gguf']);
  } finally {
    client.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
