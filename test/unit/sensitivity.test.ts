import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MemoryByteSource, NO_SIBLINGS, compareOutputs, floatToHalfBits, layerContexts, openModel, scoreLayer, spearman,
  weightErrorStats, weightStats, getNumberFormat, harmFromScores, harmFromSensitivity, type SensitivityReport,
} from '../../src/core';
import { analyzeModelScores, analyzeModelSensitivity, ratioStdErr } from '../../src/node/sensitivityRunner';
import { buildSafetensors } from '../fixtures/buildSafetensors';
import { gaussian } from '../fixtures/gaussian';


/** A llama-like safetensors model: F32 and F16 tensors with real Gaussian values; one has outliers, one overflows FP16. */
function hermeticModel(rows = 64, cols = 256): { bytes: Uint8Array; values: Record<string, Float32Array> } {
  const specs = [
    { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [rows, cols] },
    { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F32', shape: [cols, cols] },
    { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'F16', shape: [cols, cols] },
    { name: 'model.layers.0.input_layernorm.weight', dtype: 'F32', shape: [cols] },
    { name: 'lm_head.weight', dtype: 'F32', shape: [rows, cols] },
  ];
  const built = buildSafetensors(specs);
  const values: Record<string, Float32Array> = {};
  specs.forEach((s, k) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = gaussian(n, 0.02, k + 1);
    if (s.name.includes('q_proj')) v[5] = 3; // outlier: max/σ ≈ 150
    if (s.name.includes('layernorm')) v.fill(1).set([70000], 3); // overflows FP16
    values[s.name] = v;
    const off = 8 + built.headerLength + built.offsets[s.name]![0];
    if (s.dtype === 'F32') built.bytes.set(new Uint8Array(v.buffer), off);
    else {
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = floatToHalfBits(v[i]!);
      built.bytes.set(new Uint8Array(h.buffer), off);
    }
  });
  return { bytes: built.bytes, values };
}

async function analyze(bytes: Uint8Array, options: Parameters<typeof analyzeModelSensitivity>[1] = {}): Promise<SensitivityReport> {
  const source = new MemoryByteSource('model.safetensors', bytes);
  const model = await openModel(source);
  return analyzeModelSensitivity({ model, source, siblings: NO_SIBLINGS }, options);
}

/**
 * The columnar scores of a plan (`analyzeModelScores`) are the full report's `staticScore`s, number for number, in
 * the report's layer order, with the same formats, sampling note and warnings; their harm lookup answers as the
 * report's does for every layer of the model and every format (undefined where the report has none).
 */
async function assertScoresMatchReport(bytes: Uint8Array, options: Parameters<typeof analyzeModelSensitivity>[1]): Promise<void> {
  const source = new MemoryByteSource('model.safetensors', bytes);
  const model = await openModel(source);
  const full = await analyzeModelSensitivity({ model, source, siblings: NO_SIBLINGS }, options);
  const cols = await analyzeModelScores({ model, source, siblings: NO_SIBLINGS }, options);
  assert.deepEqual(cols.scores.layers, full.layers.map((l) => l.layer));
  assert.deepEqual([cols.formats, cols.scores.formats], [full.formats, full.formats]);
  assert.deepEqual([cols.sampled, cols.warnings, cols.model], [full.sampled, full.warnings, full.model]);
  // Exact even where one tensor's chunks run in several workers: their sums are added in chunk order.
  const same = (x: number | undefined, y: number | undefined, what: string): void => assert.equal(x, y, what);
  cols.scores.formats.forEach((f, k) => {
    const column = cols.scores.staticScores[k]!;
    assert.equal(column.length, full.layers.length);
    full.layers.forEach((l, i) => same(column[i], l.formats[f]!.staticScore, `${l.layer} ${f}`));
  });
  const a = harmFromSensitivity(full);
  const b = harmFromScores(cols.scores);
  let answered = 0;
  for (const l of model.layers) {
    for (const id of [...full.formats, 'q4_k', 'nf4']) {
      const f = getNumberFormat(id)!;
      same(b(l, f), a(l, f), `${l.name} ${id}`);
      if (a(l, f) !== undefined) answered++;
    }
  }
  assert.ok(answered >= full.layers.length * full.formats.length && answered > 0);
}

/**
 * A tensor in many chunks whose magnitudes differ by orders of magnitude from chunk to chunk, so that adding the
 * chunks' floating-point sums in another order changes their last bits.
 */
function chunkOrderModel(): Uint8Array {
  const rows = 96;
  const cols = 1024;
  const v = gaussian(rows * cols, 1, 5);
  for (let r = 0; r < rows; r++) {
    const scale = 10 ** ((r * 7) % 13 - 6);
    for (let c = 0; c < cols; c++) v[r * cols + c]! *= scale;
  }
  const name = 'model.layers.0.mlp.down_proj.weight';
  const built = buildSafetensors([{ name, dtype: 'F32', shape: [rows, cols] }]);
  built.bytes.set(new Uint8Array(v.buffer), 8 + built.headerLength + built.offsets[name]![0]);
  return built.bytes;
}

test('one tensor\'s chunks are merged in chunk order: the report is the same bit for bit inline and in workers, full and sampled', async () => {
  const bytes = chunkOrderModel();
  const formats = ['fp16', 'fp8_e4m3', 'int8', 'int4', 'nf4', 'q4_k'];
  const chunked = { wholeTensorElements: 1000, chunkElements: 1024, formats };
  const strip = (r: SensitivityReport): unknown => ({ ...r, elapsedMs: 0 });
  const inline = strip(await analyze(bytes, { ...chunked, workers: 0 }));
  for (let run = 0; run < 3; run++) assert.deepEqual(strip(await analyze(bytes, { ...chunked, workers: 3, inlineBelowBytes: 0 })), inline, `workers, run ${run}`);
  const sampledInline = strip(await analyze(bytes, { ...chunked, workers: 0, sample: 0.5 }));
  for (let run = 0; run < 3; run++) assert.deepEqual(strip(await analyze(bytes, { ...chunked, workers: 3, inlineBelowBytes: 0, sample: 0.5 })), sampledInline, `sampled in workers, run ${run}`);
});

test('a plan\'s columnar scores equal the full report\'s static scores: inline, in workers, batched, chunked and sampled', async () => {
  const { bytes } = hermeticModel();
  const formats = ['fp16', 'fp8_e4m3', 'int8', 'int4', 'int4_g32', 'nvfp4', 'q4_k'];
  await assertScoresMatchReport(bytes, { workers: 0, formats });
  await assertScoresMatchReport(bytes, { workers: 2, inlineBelowBytes: 0, batchBytes: 4096, formats });
  await assertScoresMatchReport(bytes, { workers: 0, wholeTensorElements: 1000, chunkElements: 4096, formats });
  await assertScoresMatchReport(bytes, { workers: 2, inlineBelowBytes: 0, wholeTensorElements: 1000, chunkElements: 4096, formats });
  await assertScoresMatchReport(hermeticModel(512, 512).bytes, { workers: 0, sample: 0.25, formats: ['int8', 'int4'] });
});

test('weightStats and weightErrorStats', () => {
  const v = gaussian(100_000, 1, 3);
  const s = weightStats(v);
  assert.ok(Math.abs(s.kurtosis) < 0.1 && Math.abs(s.std - 1) < 0.02 && s.maxOverStd > 3 && s.maxOverStd < 6, JSON.stringify(s));
  const w = weightStats(new Float32Array([0, 70000, -1, NaN]));
  assert.deepEqual([w.count, w.zeros, w.beyondFp16, w.nonFinite, w.maxAbs], [3, 1, 1, 1, 70000]);
  const e = weightErrorStats(new Float32Array([1, 2, 70000]), new Float32Array([1, 2.5, Infinity]));
  assert.equal(e.overflowCount, 1);
  assert.ok(Math.abs(e.relMse - (0.25 + 70000 ** 2) / (5 + 70000 ** 2)) < 1e-9);
  assert.equal(weightErrorStats(new Float32Array([1, 2]), new Float32Array([1, 2])).sqnrDb, 300);
});

test('scoreLayer: overflow dominates, transformer roles order the score, reasons explain', () => {
  const stats = weightStats(gaussian(1000, 1, 1));
  const err = (relMse: number, overflowCount = 0) => ({ relMse, sqnrDb: -10 * Math.log10(relMse), maxAbsError: 0, overflowCount, count: 1000 });
  const ctx = layerContexts([
    { name: 'emb', role: 'embedding' }, { name: 'q', role: 'attention_q' }, { name: 'o', role: 'attention_o' },
    { name: 'down', role: 'ffn_down' }, { name: 'final', role: 'norm' }, { name: 'head', role: 'output_head' },
  ]);
  const score = (name: string, role: Parameters<typeof scoreLayer>[0]['role'], relMse: number, overflow = 0) =>
    scoreLayer({ name, role, block: undefined }, undefined, { stats, errors: { fp16: err(relMse, overflow) }, position: ctx.get(name)! }).fp16!;
  assert.ok(score('head', 'output_head', 1e-3).staticScore > score('o', 'attention_o', 1e-3).staticScore);
  assert.ok(score('o', 'attention_o', 1e-3).staticScore > score('down', 'ffn_down', 1e-3).staticScore);
  assert.ok(score('down', 'ffn_down', 1e-3).staticScore > score('q', 'attention_q', 1e-3).staticScore);
  assert.equal(ctx.get('final')!.finalNorm, true);
  const over = score('down', 'ffn_down', 1e-6, 1);
  assert.ok(over.staticScore > score('head', 'output_head', 0.5).staticScore);
  assert.match(over.reason, /overflows FP16/);
  assert.match(score('head', 'output_head', 1e-3).reason, /output head/);
  // Sequential networks: the first and last weight layers weigh double; biases little.
  const seq = layerContexts([{ name: 'c1', role: 'conv' }, { name: 'b1', role: 'bias' }, { name: 'c2', role: 'conv' }, { name: 'fc', role: 'linear' }]);
  const s1 = scoreLayer({ name: 'c1', role: 'conv', block: undefined }, undefined, { stats, errors: { int8: err(1e-3) }, position: seq.get('c1')! }).int8!;
  const s2 = scoreLayer({ name: 'c2', role: 'conv', block: undefined }, undefined, { stats, errors: { int8: err(1e-3) }, position: seq.get('c2')! }).int8!;
  assert.ok(s1.staticScore > s2.staticScore);
  assert.match(s1.reason, /first layer/);
});

test('spearman, compareOutputs and the sampling standard error', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), undefined);
  assert.ok(Math.abs(spearman([1, 2, 2, 3], [1, 3, 2, 4])! - 0.9486832980505138) < 1e-12);
  const base = [{ dims: [2, 3], data: new Float32Array([1, 2, 3, 3, 2, 1]) }];
  assert.deepEqual(compareOutputs(base, base), { sqnrDb: 300, cosine: 1, klDivergence: 0, top1Agreement: 1 });
  const c = compareOutputs(base, [{ data: new Float32Array([1, 2, 3, 3, 2, 4]) }]);
  assert.equal(c.top1Agreement, 0.5);
  assert.ok(c.klDivergence! > 0 && c.sqnrDb < 10);
  assert.equal(compareOutputs(base, [{ data: new Float32Array([1, 2, NaN, 3, 2, 1]) }]).sqnrDb, -300);
  assert.equal(ratioStdErr([[1, 10], [1, 10]], 1), 0);
  assert.ok(ratioStdErr([[1, 10], [3, 10], [2, 10]], 0.1) > 0.1);
});

test('static analysis of a hermetic model: per-layer formats, reasons, overflow and lossless F16', async () => {
  const { bytes } = hermeticModel();
  const r = await analyze(bytes, { workers: 0 });
  assert.deepEqual(r.formats, ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4']);
  const byName = Object.fromEntries(r.layers.map((l) => [l.layer, l]));
  const q = byName['model.layers.0.self_attn.q_proj.weight']!;
  assert.ok(q.stats.maxOverStd > 100);
  assert.match(q.formats['int4']!.reason, /outliers: max\/σ = \d+/);
  const norm = byName['model.layers.0.input_layernorm.weight']!;
  assert.equal(norm.formats['fp16']!.overflowCount, 1);
  assert.match(norm.formats['fp16']!.reason, /overflows FP16/);
  const down = byName['model.layers.0.mlp.down_proj.weight']!;
  assert.equal(down.formats['fp16']!.relMse, 0); // stored F16 → lossless
  assert.equal(down.formats['fp16']!.sqnrDb, 300);
  assert.ok(down.formats['int8']!.sqnrDb > 35);
  assert.ok(byName['lm_head.weight']!.formats['int4']!.staticScore > down.formats['int4']!.staticScore);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(r)));
  assert.equal(r.sampled, undefined);
});

test('workers, chunked two-pass analysis and inline analysis agree', async () => {
  const { bytes } = hermeticModel();
  const inline = await analyze(bytes, { workers: 0, formats: ['fp8_e4m3', 'int8', 'int4', 'nvfp4', 'ternary'] });
  const chunked = await analyze(bytes, { workers: 2, inlineBelowBytes: 0, wholeTensorElements: 1000, chunkElements: 4096, formats: ['fp8_e4m3', 'int8', 'int4', 'nvfp4', 'ternary'] });
  for (const l of inline.layers) {
    const c = chunked.layers.find((x) => x.layer === l.layer)!;
    for (const [f, s] of Object.entries(l.formats)) assert.ok(Math.abs(s.sqnrDb - c.formats[f]!.sqnrDb) < 1e-6, `${l.layer} ${f}: ${s.sqnrDb} vs ${c.formats[f]!.sqnrDb}`);
    assert.equal(c.stats.count, l.stats.count);
  }
});

test('sampling states the fraction and uncertainty; progress and cancellation work', async () => {
  const { bytes } = hermeticModel(512, 512);
  const seen: number[] = [];
  const r = await analyze(bytes, { workers: 0, sample: 0.25, onProgress: (p) => seen.push(p.bytesDone) });
  assert.ok(r.sampled && r.sampled.fraction > 0.1 && r.sampled.fraction < 0.45, JSON.stringify(r.sampled));
  assert.match(r.sampled!.note, /Sampled \d+\.\d% of the weight bytes/);
  assert.match(r.sampled!.note, /relative standard error/);
  assert.ok(r.layers.every((l) => l.formats['int8']!.relMseStdErr !== undefined));
  assert.ok(seen.length >= 1);
  const full = await analyze(bytes, { workers: 0 });
  const sq = (rep: SensitivityReport) => rep.layers.find((l) => l.layer === 'lm_head.weight')!.formats['int8']!.sqnrDb;
  assert.ok(Math.abs(sq(r) - sq(full)) < 1, `${sq(r)} vs ${sq(full)}`);
  const token = { isCancellationRequested: true };
  await assert.rejects(analyze(bytes, { workers: 0, token }), /cancelled/);
});

test('unknown formats are refused', async () => {
  await assert.rejects(analyze(hermeticModel().bytes, { formats: ['fp7'] }), /Unknown number format 'fp7'/);
});

test('batches of small tensors (one read and one worker message each) give the results of one task per tensor', async () => {
  // 300 small tensors (F16 and F32, shapes of a few hundred values) around one large F32 tensor, so one batch spans it
  // and is read tensor by tensor (the scattered path); the rest are contiguous (one read per batch).
  const specs: { name: string; dtype: string; shape: number[] }[] = [];
  for (let i = 0; i < 300; i++) {
    specs.push({ name: `model.layers.${i}.mlp.up_proj.weight`, dtype: i % 3 === 0 ? 'F32' : 'F16', shape: [8 + (i % 5), 32] });
    if (i === 150) specs.push({ name: 'model.layers.150.mlp.down_proj.weight', dtype: 'F32', shape: [512, 512] });
  }
  const built = buildSafetensors(specs);
  specs.forEach((s, k) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = gaussian(n, 0.01 + (k % 7) * 0.01, k + 11);
    if (k % 13 === 0) v[k % n] = 0.9;
    const off = 8 + built.headerLength + built.offsets[s.name]![0];
    if (s.dtype === 'F32') built.bytes.set(new Uint8Array(v.buffer), off);
    else {
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = floatToHalfBits(v[i]!);
      built.bytes.set(new Uint8Array(h.buffer), off);
    }
  });
  const formats = ['fp8_e4m3', 'int8', 'int4', 'int4_g32', 'nf4', 'q4_k', 'q8_0'];
  const single = await analyze(built.bytes, { workers: 0, batchBytes: 0, formats });
  const inlineBatched = await analyze(built.bytes, { workers: 0, batchBytes: 4096, formats });
  const pooled = await analyze(built.bytes, { workers: 2, inlineBelowBytes: 0, batchBytes: 4096, formats });
  assert.equal(single.layers.length, 301);
  const strip = (r: SensitivityReport): unknown => r.layers.map((l) => ({ layer: l.layer, stats: l.stats, formats: l.formats }));
  assert.deepEqual(strip(inlineBatched), strip(single));
  assert.deepEqual(strip(pooled), strip(single));
  assert.deepEqual([inlineBatched.warnings, pooled.warnings], [single.warnings, single.warnings]);
});

test('a batch\'s columnar results hold each task\'s statistics and error sums; a failing task is reported alone', async () => {
  const { runSensitivityBatch, batchStats, BATCH_STATS_FIELDS, BATCH_ERROR_FIELDS } = await import('../../src/worker/sensitivityWorker');
  const { analyzeSensitivityChunk } = await import('../../src/core');
  const values = gaussian(512, 0.02, 3);
  const f32 = new Uint8Array(values.buffer.slice(0));
  const task = (id: number, bytes: Uint8Array, elementCount: number, dtype = 'float32') => ({ id, dtype, encoding: 'raw' as const, elementCount, bytes, shape: [elementCount / 64, 64], rowOffset: 0, quant: undefined, transpose: false, formats: ['int8', 'fp16', 'q4_k'], wantColumnAbsMax: false });
  const tasks = [task(0, f32, 512), task(1, f32.subarray(0, 100), 512), task(2, f32.subarray(0, 1024), 256)];
  const formats = ['int8', 'fp16', 'fp8_e4m3', 'q4_k'];
  const r = runSensitivityBatch(tasks, formats);
  assert.equal(r.errors[0], null);
  assert.equal(typeof r.errors[1], 'string');
  assert.equal(r.errors[2], null);
  for (const k of [0, 2]) {
    const want = analyzeSensitivityChunk(tasks[k]!);
    assert.deepEqual(batchStats(r, k), want.stats);
    formats.forEach((f, j) => {
      const e = want.errors[f];
      assert.equal(r.has[k * formats.length + j], e ? 1 : 0, `${k} ${f}`);
      const at = k * (BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * formats.length) + BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * j;
      if (e) assert.deepEqual([...r.sums.subarray(at, at + BATCH_ERROR_FIELDS)], [e.signal, e.noise, e.maxAbsError, e.overflow, e.count], `${k} ${f}`);
    });
  }
  assert.ok(r.has.some((x) => x === 1) && r.has.some((x) => x === 0));
});
