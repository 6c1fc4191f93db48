import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BATCH_ERROR_FIELDS, BATCH_STATS_FIELDS, HISTOGRAM_MIN_ELEMENTS, LOSSLESS_FORMATS, WeightStatsAccumulator, activeErrorKernelBackend, analyzeSensitivityBatch, analyzeSensitivityChunk, decodeElements,
  floatToBf16Bits, floatToHalfBits, getNumberFormat, quantizationError, setErrorKernelBackend, type ErrorPartial, type FakeQuantizeOptions, type SensitivityChunkTask,
} from '../../src/core/precision';
import { seededRandom } from '../../src/core';

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
  // NF4 in the batch's kernel plan beside Q8_0: rows of 96 hold one and a half NF4 groups.
  ['q8_0', 'nf4', 'int8'],
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

/**
 * Format sets for the block-kernel dispatch (sensitivity.ts kernelPlan, blockPass1/blockPass2), each beside a ggml type
 * so the batch joins its tasks (their other formats then run in the batch's kernel plan, or in the chunk analysis when
 * one runs outside the kernels), covering every branch: FP16+BF16 fused with the statistics, each alone, TF32, the
 * FP8 grids per tensor (second pass), INT8 per channel with one INT4 group size (pair) or with g, 2g, 4g (quad), INT4
 * groups alone, INT8 per tensor (second pass), aliases, lossless formats; then the formats outside the kernels and the
 * ggml types the batch quantizes together.
 */
const DISPATCH_SETS: readonly (readonly string[])[] = [
  ['fp16', 'bf16', 'tf32', 'fp8_e4m3', 'int8', 'int4', 'q4_k'],
  ['fp16', 'fp8_e5m2', 'int8_tensor', 'int8', 'int4_g32', 'int4_g64', 'int4', 'tf32', 'fp32', 'q8_0'],
  ['bf16', 'int4_g32', 'int4_g64', 'fp8_e4m3fnuz', 'fp8_e5m2fnuz', 'q6_k'],
  ['w8a8', 'w4a4', 'int8', 'fp32', 'q2_k', 'q3_k', 'q5_k'],
  ['int8', 'fp8_e4m3', 'q8_0'],
  ['nf4', 'nvfp4', 'ternary', 'binary', 'mxfp8', 'mxfp6', 'mxfp4', 'fp16', 'int8', 'q4_0'],
  ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_nl', 'iq4_xs', 'tq1_0', 'tq2_0', 'q1_0', 'q2_0'],
];

const near = (a: number, b: number, rel: number): boolean => a === b || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));

/**
 * `got` is the element-by-element quantizationError of the decoded values (0 noise for a format the dtype holds
 * exactly) up to float64 summation order: the kernels add block by block, the reference in one loop.
 */
function assertReferenceError(got: ErrorPartial | undefined, v: Float32Array, shape: readonly number[], dtype: string, id: string, options: FakeQuantizeOptions, label: string): void {
  const format = getNumberFormat(id)!;
  const ref = quantizationError(v, shape, format, options);
  const want = LOSSLESS_FORMATS[dtype]?.includes(format.id) === true ? { ...ref, noise: 0, maxAbsError: 0 } : ref;
  const ok = got !== undefined && near(got.signal, want.signal, 1e-11) && near(got.noise, want.noise, 1e-10) && got.maxAbsError === want.maxAbsError && got.overflow === want.overflow && got.count === want.count;
  assert.ok(ok, `${label} ${id}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
}

for (const backend of ['wasm', 'js'] as const) {
  test(`every format family through the one block-kernel dispatch (${backend} kernels), batched and per task, equals the element-by-element quantizationError`, () => {
    const prev = setErrorKernelBackend(backend);
    try {
      assert.equal(activeErrorKernelBackend(), backend);
      // Rows of 256 and 512 (whole K-quant blocks), of 96 and 160 (whole Q8_0 blocks: INT4 g128's last group is short), and
      // 130 × 512 (three row blocks of the chunk analysis).
      const shapes: readonly (readonly number[])[] = [[1, 256], [4, 512], [5, 96], [3, 160], [130, 512]];
      let checked = 0;
      for (const [si, formats] of DISPATCH_SETS.entries()) {
        // The batch joins tasks whose rows are whole blocks of every ggml type (block sizes here: powers of two).
        const blockLcm = Math.max(...formats.map((id) => getNumberFormat(id)!).filter((f) => f.element === 'ggml').map((f) => f.blockSize));
        const tasks: SensitivityChunkTask[] = [];
        const decoded: Float32Array[] = [];
        for (const dtype of ['float16', 'bfloat16', 'float32']) {
          for (const [k, shape] of shapes.entries()) {
            if (shape[shape.length - 1]! % blockLcm !== 0) continue;
            const n = shape.reduce((a, b) => a * b, 1);
            const v = values(n, 7000 + si * 100 + k, false);
            // FP32 beyond FP16's range (overflow counted), and a NaN (skipped by every sum).
            if (dtype === 'float32') v.set([70000, -65520, NaN], 5);
            const bytes = encode(dtype, v);
            decoded.push(decodeElements(dtype, bytes, n));
            tasks.push({ id: tasks.length, dtype, encoding: 'raw', elementCount: n, bytes, shape, rowOffset: 0, quant: undefined, transpose: false, formats, wantColumnAbsMax: false });
          }
        }
        const got = analyzeSensitivityBatch(tasks, formats);
        const stride = BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * formats.length;
        tasks.forEach((t, k) => {
          const label = `${backend} ${formats.join(',')} ${t.dtype} [${t.shape.join(',')}]`;
          assert.equal(got.errors[k], null, label);
          const v = decoded[k]!;
          const st = new WeightStatsAccumulator().add(v).partial();
          const row = got.sums.subarray(k * stride, (k + 1) * stride);
          const wantStats = [st.count, st.maxAbs, st.s1, st.s2, st.s3, st.s4, st.sAbs, st.beyondFp16, st.zeros, st.nonFinite];
          wantStats.forEach((w, i) => assert.ok(near(row[i]!, w, 1e-9), `${label} statistic ${i}: ${row[i]} ≠ ${w}`));
          const chunk = analyzeSensitivityChunk(t);
          formats.forEach((id, f) => {
            const at = BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * f;
            assert.equal(got.has[k * formats.length + f], 1, `${label} ${id}: no result`);
            assertReferenceError({ signal: row[at]!, noise: row[at + 1]!, maxAbsError: row[at + 2]!, overflow: row[at + 3]!, count: row[at + 4]! }, v, t.shape, t.dtype, id, {}, `${label} (batch)`);
            assertReferenceError(chunk.errors[id], v, t.shape, t.dtype, id, {}, `${label} (chunk)`);
            checked++;
          });
        });
      }
      // A chunk of a larger tensor: the whole tensor's max |x| and per-row maxima given (pass 1 takes the per-tensor
      // formats' parameters from them, INT8 per channel its row scales), not the chunk's own.
      const shape = [6, 512];
      const ids = ['fp16', 'bf16', 'fp8_e4m3', 'fp8_e5m2', 'int8_tensor', 'int8', 'int4', 'int4_g32', 'ternary', 'q8_0'];
      for (const dtype of ['float16', 'bfloat16', 'float32']) {
        const v = values(6 * 512, 90, false);
        const bytes = encode(dtype, v);
        const decodedValues = decodeElements(dtype, bytes, v.length);
        const channelAbsMax = new Float32Array(6).map((_, r) => 0.5 + r * 0.25);
        const globals = { tensorAbsMax: 2.5, tensorAbsMean: 0.03, channelAbsMax };
        const r = analyzeSensitivityChunk({ id: 0, dtype, encoding: 'raw', elementCount: v.length, bytes, shape, rowOffset: 0, quant: undefined, transpose: false, formats: ids, globals, wantColumnAbsMax: false });
        for (const id of ids) {
          assertReferenceError(r.errors[id], decodedValues, shape, dtype, id, globals, `${backend} ${dtype} with whole-tensor facts`);
          checked++;
        }
      }
      assert.ok(checked > 500, `format × task results checked: ${checked}`);
    } finally {
      setErrorKernelBackend(prev);
    }
  });
}

test('tasks that share one formats array but differ in dtype, histogram, histogram-only, transposition or given maxima each get their own kernel plan: results equal those of a fresh array', () => {
  // The chunk analysis keeps the plans it made per formats array (sensitivity.ts sharedKernelPlan). Each task below
  // differs from an earlier one in one part of what a plan depends on; a plan shared across that part gives other sums.
  const formats = ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4'];
  const big = [512, HISTOGRAM_MIN_ELEMENTS / 512];
  const small = [64, 128];
  const task = (dtype: string, shape: readonly number[], seed: number, more: Partial<SensitivityChunkTask> = {}): SensitivityChunkTask => {
    const n = shape[0]! * shape[1]!;
    return { id: seed, dtype, encoding: 'raw', elementCount: n, bytes: encode(dtype, values(n, seed, false)), shape, rowOffset: 0, quant: undefined, transpose: false, formats, wantColumnAbsMax: false, ...more };
  };
  const histogrammed = task('float16', big, 1);
  const tasks: SensitivityChunkTask[] = [
    histogrammed,
    { ...histogrammed, transpose: true },
    { ...histogrammed, histogramOnly: true },
    task('float16', small, 2),
    task('bfloat16', small, 3),
    task('float32', small, 4),
    task('float32', small, 5, { globals: { tensorAbsMax: 3, tensorAbsMean: 0.02 } }),
    task('float32', small, 6),
  ];
  // All in a row with the shared array, then each with a copy of it (a plan made for that task alone).
  const shared = tasks.map((t) => analyzeSensitivityChunk(t));
  tasks.forEach((t, k) => {
    const alone = analyzeSensitivityChunk({ ...t, formats: [...formats] });
    assert.deepEqual(shared[k], alone, `task ${k} ${t.dtype} [${t.shape.join(',')}]${t.transpose ? ' transposed' : ''}${t.histogramOnly ? ' histogram only' : ''}${t.globals ? ' globals' : ''}`);
  });
});
