import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BATCH_ERROR_FIELDS, BATCH_STATS_FIELDS, analyzeSensitivityBatch, analyzeSensitivityChunk, floatToBf16Bits, floatToHalfBits, seededRandom,
  type SensitivityChunkTask,
} from '../../src/core';

/** Values with the awkward cases: zeros, subnormals, outliers, and (when asked) NaN and ±Inf. */
function values(n: number, seed: number, special: boolean): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * 0.02 * (i % 97 === 0 ? 30 : 1);
    if (i % 61 === 0) out[i] = 0;
    if (i % 83 === 0) out[i] = 3e-8 * (r() - 0.5);
  }
  if (special && n > 40) {
    out[7] = NaN;
    out[19] = Infinity;
    out[n - 3] = -Infinity;
  }
  return out;
}

function encode(dtype: string, v: Float32Array): Uint8Array {
  if (dtype === 'float32') return new Uint8Array(v.slice().buffer);
  const h = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) h[i] = dtype === 'float16' ? floatToHalfBits(v[i]!) : floatToBf16Bits(v[i]!);
  return new Uint8Array(h.buffer);
}

/** The columnar row of task k as one call of the chunk analysis gives it. */
function expected(task: SensitivityChunkTask, formats: readonly string[]): { row: Float64Array; has: Uint8Array; error: string | null } {
  const row = new Float64Array(BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * formats.length);
  const has = new Uint8Array(formats.length);
  let r;
  try {
    r = analyzeSensitivityChunk(task);
  } catch (e) {
    return { row, has, error: (e as Error).message };
  }
  const s = r.stats;
  row.set([s.count, s.maxAbs, s.s1, s.s2, s.s3, s.s4, s.sAbs, s.beyondFp16, s.zeros, s.nonFinite]);
  formats.forEach((id, f) => {
    const e = r.errors[id];
    if (!e) return;
    has[f] = 1;
    row.set([e.signal, e.noise, e.maxAbsError, e.overflow, e.count], BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * f);
  });
  return { row, has, error: null };
}

const FORMAT_SETS: readonly (readonly string[])[] = [
  // The plan's formats for a GGUF model (K-quants, Q8_0 and the element-wise and integer formats).
  ['fp16', 'bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k', 'fp8_e4m3', 'int8', 'int4'],
  // Blocks of 32 … 256 together, an alias, NF4 and the per-tensor formats of a second pass.
  ['q4_0', 'iq4_nl', 'tq1_0', 'q1_0', 'q2_0', 'Q4_K', 'q4_k', 'nf4', 'int8_tensor', 'fp8_e5m2'],
  // NVFP4 (whole-tensor scale: every other format waits for the second pass) beside Q8_0.
  ['nvfp4', 'q8_0', 'int4_g32'],
  // Nothing the batch quantizes together.
  ['fp16', 'int8', 'int4'],
  // The GGUF plan's default candidates: FP16 and BF16 only beside the ggml types (the batch's round-only path).
  ['fp16', 'bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k'],
  // The round-only path with an alias, a lossless format, an unknown id and one rounding only.
  ['q4_k', 'BF16', 'fp32', 'no_such_format', 'bf16'],
  // INT8 with INT4 groups of g, 2g and 4g, per-tensor INT8 and FP8 (second pass), TF32, beside Q8_0.
  ['q8_0', 'int8', 'int4_g32', 'int4_g64', 'int4', 'int8_tensor', 'fp8_e5m2', 'fp16', 'bf16', 'tf32'],
  // INT4 groups alone (one kernel each) and per-tensor FP8 beside Q4_K.
  ['int4_g32', 'q4_k', 'fp8_e4m3', 'int4'],
  // INT8 per channel alone beside Q6_K.
  ['q6_k', 'int8'],
];

test('a batch\'s columnar results equal one chunk analysis per task, bit for bit (ggml types quantized over the batch)', () => {
  const shapes: readonly (readonly number[])[] = [[1, 256], [2, 256], [256], [4, 512], [160, 256], [1, 128], [3, 96], [2, 64], [0, 256]];
  let joinedTasks = 0;
  for (const [fi, formats] of FORMAT_SETS.entries()) {
    const tasks: SensitivityChunkTask[] = [];
    let seed = 1 + fi * 1000;
    for (const dtype of ['float16', 'bfloat16', 'float32']) {
      for (const shape of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        const bytes = encode(dtype, values(n, seed++, seed % 3 === 0));
        tasks.push({ id: tasks.length, dtype, encoding: 'raw', elementCount: n, bytes, shape, rowOffset: 0, quant: undefined, transpose: false, formats, wantColumnAbsMax: false });
      }
    }
    const base = tasks[0]!;
    // Tasks the batch leaves to the chunk analysis: transposed, other formats (same contents, another array), short bytes.
    tasks.push({ ...base, id: tasks.length, shape: [16, 16], transpose: true });
    tasks.push({ ...base, id: tasks.length, formats: [...formats] });
    tasks.push({ ...base, id: tasks.length, formats: formats.slice(1) });
    tasks.push({ ...base, id: tasks.length, bytes: base.bytes.subarray(0, 100) });
    tasks.push({ ...base, id: tasks.length, dtype: 'float64' as string });
    const got = analyzeSensitivityBatch(tasks, formats);
    const stride = BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * formats.length;
    assert.equal(got.sums.length, tasks.length * stride);
    tasks.forEach((t, k) => {
      const want = expected(t, formats);
      const label = `${formats.join(',')} task ${k} ${t.dtype} [${t.shape.join(',')}]`;
      assert.equal(got.errors[k], want.error, label);
      assert.deepEqual([...got.has.subarray(k * formats.length, (k + 1) * formats.length)], [...want.has], label);
      const row = got.sums.subarray(k * stride, (k + 1) * stride);
      for (let i = 0; i < stride; i++) assert.ok(Object.is(row[i], want.row[i]), `${label} field ${i}: ${row[i]} ≠ ${want.row[i]}`);
      if (want.error === null && t.shape[t.shape.length - 1]! % 256 === 0 && t.elementCount > 0 && k < tasks.length - 5) joinedTasks++;
    });
  }
  assert.ok(joinedTasks > 30, `tasks with whole K-quant rows: ${joinedTasks}`);
});
