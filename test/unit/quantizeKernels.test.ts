import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { buildSafetensors } from '../fixtures/buildSafetensors';
import {
  AMAX_COMPUTED, AMAX_PER_ROW, ErrorAccumulator, F16_PAIR_TOLERANCE, HISTOGRAM_MIN_ELEMENTS, NUMBER_FORMATS, WeightStatsAccumulator, activeErrorKernelBackend, analyzeSensitivityChunk,
  codeTable, decodeElements, errorWorkspace, fakeQuantize, quantizationError, floatToBf16Bits, floatToHalfBits, getNumberFormat, halfToFloatTable,
  histogramErrors, histogramErrorsJs, histogramStats, histogramStatsJs, histogramSensitivity, isElementwiseFormat, NF4_CODEBOOK, nf4Error, setErrorKernelBackend, transpose2d, type ErrorPartial, type SensitivityChunkTask, type WeightStatsPartial,
  bf16ToFloatTable, workspaceHistogramErrors, workspaceHistogramStats,
} from '../../src/core/precision';

/** Seeded Gaussian weights with the awkward values real tensors hold: zeros, subnormals, outliers. */
function weights(n: number, seed: number, sigma = 0.02): Float32Array {
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd()) * sigma;
  for (let i = 0; i < n; i += 97) out[i] = 0;
  for (let i = 13; i < n; i += 389) out[i] = 3e-8 * (i % 2 ? 1 : -1); // FP16 subnormal range
  for (let i = 50; i < n; i += 1201) out[i] = 0.9; // outliers
  return out;
}

const near = (a: number, b: number, rel = 1e-11): boolean => a === b || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));

function assertSameError(got: ErrorPartial | undefined, want: ErrorPartial, what: string): void {
  assert.ok(got, `${what}: missing`);
  const ok = near(got.signal, want.signal) && near(got.noise, want.noise, 1e-10) && got.maxAbsError === want.maxAbsError && got.overflow === want.overflow && got.count === want.count;
  assert.ok(ok, `${what}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
}

function assertSameStats(got: WeightStatsPartial, want: WeightStatsPartial, what: string): void {
  const ok = got.count === want.count && got.maxAbs === want.maxAbs && near(got.s1, want.s1, 1e-9) && near(got.s2, want.s2) && near(got.s3, want.s3, 1e-9) && near(got.s4, want.s4) &&
    near(got.sAbs, want.sAbs) && got.beyondFp16 === want.beyondFp16 && got.zeros === want.zeros && got.nonFinite === want.nonFinite;
  assert.ok(ok, `${what}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
}

/**
 * The reference: the element-by-element `quantizationError` on the whole decoded tensor (the analysis before the
 * kernels; its fused loops keep dequantized values in float64, fakeQuantize's Float32Array output rounds them),
 * which falls back to fakeQuantize + ErrorAccumulator for the other formats.
 */
function reference(values: Float32Array, shape: readonly number[], id: string, options: Parameters<typeof fakeQuantize>[3] = {}): ErrorPartial {
  return quantizationError(values, shape, getNumberFormat(id)!, options);
}

function encode(values: Float32Array, dtype: 'float16' | 'bfloat16' | 'float32'): Uint8Array {
  if (dtype === 'float32') return new Uint8Array(values.slice().buffer);
  const h = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) h[i] = dtype === 'float16' ? floatToHalfBits(values[i]!) : floatToBf16Bits(values[i]!);
  return new Uint8Array(h.buffer);
}

function task(dtype: string, bytes: Uint8Array, shape: number[], formats: string[], extra: Partial<SensitivityChunkTask> = {}): SensitivityChunkTask {
  return { id: 1, dtype, encoding: 'raw', elementCount: shape.reduce((a, b) => a * b, 1), bytes, shape, rowOffset: 0, quant: undefined, transpose: false, formats, wantColumnAbsMax: false, ...extra };
}

// Every non-ggml format, plus a few ggml types (the ggml quantizers are slow; they go through fakeQuantize either way).
const FORMATS = NUMBER_FORMATS.filter((f) => f.element !== 'ggml').map((f) => f.id).concat(['q4_0', 'q8_0', 'q4_k']);

for (const backend of ['wasm', 'js'] as const) {
  test(`analyzeSensitivityChunk (${backend} kernels) equals the element-by-element quantizationError for FP16, BF16 and FP32, whole and transposed`, () => {
    const prev = setErrorKernelBackend(backend);
    try {
      assert.equal(activeErrorKernelBackend(), backend);
      // 41 rows × 302: rows are not a multiple of 128 (shorter last group) nor of 4, nor is the total (scalar tails).
      const shape = [41, 302];
      const raw = weights(41 * 302, 11);
      // FP32 extras: FP16 overflow and its boundary, a BF16 overflow, FP32 subnormals, exact FP16/BF16 ties; then NaN/±Inf.
      const extreme = raw.slice();
      extreme.set([70000, -65520, 65519.99, 3.39e38, 1e-40, -3e-39, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8], 7);
      const nonFinite = extreme.slice();
      nonFinite.set([NaN, Infinity, -Infinity], 300);
      for (const [dtype, source] of [['float16', raw], ['bfloat16', raw], ['float32', raw], ['float32', extreme], ['float32', nonFinite]] as const) {
        const bytes = encode(source, dtype);
        const values = decodeElements(dtype, bytes, raw.length);
        const r = analyzeSensitivityChunk(task(dtype, bytes, shape, FORMATS));
        assertSameStats(r.stats, new WeightStatsAccumulator().add(values).partial(), `${dtype} stats`);
        for (const id of FORMATS) {
          if (source !== raw && getNumberFormat(id)!.element === 'int4') {
            // Documented difference: a group whose FP16 scale (max/7) overflows counts as overflowed with error x
            // (quantizationError's 0 × Inf made the whole sum NaN). Here: the first group holds 3.39e38.
            const e = r.errors[id]!;
            const group = getNumberFormat(id)!.blockSize;
            assert.ok(e.overflow === group && Number.isFinite(e.noise) && e.noise >= 3.38e38 ** 2, `${dtype} ${id}: ${JSON.stringify(e)}`);
            continue;
          }
          const lossless = (dtype === 'float16' && ['fp16', 'fp32', 'tf32'].includes(id)) || (dtype === 'bfloat16' && ['bf16', 'fp32'].includes(id)) || (dtype === 'float32' && id === 'fp32');
          const want = lossless ? { ...reference(values, shape, id), noise: 0, maxAbsError: 0 } : reference(values, shape, id);
          assertSameError(r.errors[id], want, `${dtype} ${id}`);
        }
        if (dtype !== 'float32' && source === raw) {
          // ≥ HISTOGRAM_MIN_ELEMENTS: statistics and element-wise errors from the code histogram.
          const big = weights(514 * Math.ceil(HISTOGRAM_MIN_ELEMENTS / 514), 12);
          const bigShape = [big.length / 514, 514];
          const bigBytes = encode(big, dtype);
          const bigValues = decodeElements(dtype, bigBytes, big.length);
          const ids = ['fp16', 'bf16', 'tf32', 'fp8_e4m3', 'fp8_e5m2', 'fp8_e4m3fnuz', 'int8_tensor', 'ternary', 'int8', 'int4', 'int4_g32', 'w8a8', 'nvfp4', 'mxfp6'];
          const rb = analyzeSensitivityChunk(task(dtype, bigBytes, bigShape, ids));
          assertSameStats(rb.stats, new WeightStatsAccumulator().add(bigValues).partial(), `${dtype} histogram stats`);
          for (const id of ids) {
            const lossless = (dtype === 'float16' && ['fp16', 'tf32'].includes(id)) || (dtype === 'bfloat16' && id === 'bf16');
            const want = reference(bigValues, bigShape, id);
            assertSameError(rb.errors[id], lossless ? { ...want, noise: 0, maxAbsError: 0 } : want, `${dtype} histogram ${id}`);
          }
        }
        // ONNX MatMul layout: stored [K, N], quantized as [N, K].
        const rt = analyzeSensitivityChunk(task(dtype, bytes, shape, ['int8', 'int4', 'bf16', 'mxfp4'], { transpose: true }));
        const tv = transpose2d(values, 41, 302);
        for (const id of ['int8', 'int4', 'bf16', 'mxfp4']) if (!(dtype === 'bfloat16' && id === 'bf16') && !(source !== raw && id === 'int4')) assertSameError(rt.errors[id], reference(tv, [302, 41], id), `${dtype} transposed ${id}`);
      }
    } finally {
      setErrorKernelBackend(prev);
    }
  });
}

test('integer kernels: WebAssembly and JS agree on NaN, ±Inf, all-zero groups, FP16 scale overflow and per-row maxima', { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
  const rows = 12, cols = 262;
  const v = weights(rows * cols, 5);
  v.fill(0, 2 * cols, 3 * cols); // an all-zero row
  v[3 * cols + 7] = NaN;
  v[4 * cols + 130] = Infinity;
  v[5 * cols + 1] = -Infinity;
  v[6 * cols + 200] = 1e6; // FP16 scale max/7 overflows → the group counts as overflowed
  v[7 * cols + 3] = 1e-30; // a tiny group scale
  for (let i = 8 * cols; i < 9 * cols; i++) v[i] = 1e-9; // FP16 scales underflow to 0
  v[9 * cols + 5] = 65510 * 7; // max/7 rounds down to FP16's 65504: no overflow (the boundary is 65520)
  const rowAmax = new Float32Array(rows).map((_, r) => (r === 1 ? 0.001 : 0.05)); // row 1: amax below the values → clamps
  const results: Record<string, [number, number, number][]> = {};
  for (const backend of ['wasm', 'js'] as const) {
    setErrorKernelBackend(backend);
    const ws = errorWorkspace();
    ws.reset(v.length, 8, rows);
    ws.setRowAmax(rowAmax);
    ws.load('float32', v, 0, v.length, false);
    ws.intError(v.length, cols, cols, 127, -127, false, AMAX_COMPUTED, 0, 0, 0);
    ws.intError(v.length, cols, 128, 7, -8, true, AMAX_COMPUTED, 0, 0, 1);
    ws.intError(v.length, cols, cols, 127, -127, false, AMAX_PER_ROW, 0, 0, 2);
    ws.intErrorPair(v.length, cols, 128, 127, -127, AMAX_COMPUTED, 0, 7, -8, 3, 4);
    ws.intError(v.length, cols, cols, 127, -127, false, 1, 0.7, 0, 5);
    ws.intErrorPair(v.length, cols, 128, 127, -127, AMAX_PER_ROW, 0, 7, -8, 6, 7);
    results[backend] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => ws.slot(k));
  }
  setErrorKernelBackend('auto');
  for (let k = 0; k < 8; k++) {
    const [w, j] = [results['wasm']![k]!, results['js']![k]!];
    assert.ok(near(w[0], j[0], 1e-12) && w[1] === j[1] && w[2] === j[2], `slot ${k}: wasm ${w} js ${j}`);
  }
  const same = (x: [number, number, number], y: [number, number, number]): boolean => near(x[0], y[0], 1e-12) && x[1] === y[1] && x[2] === y[2];
  assert.ok(same(results['wasm']![3]!, results['wasm']![0]!), 'pair = separate (A)');
  assert.ok(near(results['wasm']![4]![0], results['wasm']![1]![0], 1e-12) && results['wasm']![4]![1] === results['wasm']![1]![1], 'pair = separate (B)');
  assert.ok(near(results['wasm']![6]![0], results['wasm']![2]![0], 1e-12) && results['wasm']![6]![1] === results['wasm']![2]![1], 'pair with per-row maxima = separate');
  assert.ok(results['wasm']![1]![2] >= 128 - 2, 'the overflowing FP16 group is counted');
});

test('intErrorGroups (INT8 per channel + INT4 g, 2g, 4g in one pass) adds what four intError calls add, rows safe and not (NaN, ±Inf, clamps, FP16 scale overflow)', { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
  // Each geometry twice: clean (every row takes the one-pass loop) and with awkward rows (handed to intError).
  for (const [rows, cols, g, awkward] of [[12, 262, 32, true], [12, 262, 32, false], [6, 64, 32, false], [5, 100, 32, false], [4, 4096, 32, true], [4, 4096, 32, false], [3, 300, 36, false]] as const) {
    const v = weights(rows * cols, 7 + cols);
    v.fill(0, 0, cols); // an all-zero row
    if (awkward) {
      v[cols + 7] = NaN;
      v[2 * cols + (cols >> 1)] = Infinity;
      v[3 * cols + 1] = 1e6; // FP16 scale max/7 overflows
    }
    const rowAmax = new Float32Array(rows).map((_, r) => (r === rows - 1 ? 0.001 : 0.05)); // last row: clamps
    for (const mode of [AMAX_COMPUTED, AMAX_PER_ROW]) {
      for (const backend of ['wasm', 'js'] as const) {
        setErrorKernelBackend(backend);
        const ws = errorWorkspace();
        ws.reset(v.length, 8, rows);
        ws.setRowAmax(rowAmax);
        ws.load('float32', v, 0, v.length, false);
        ws.intErrorGroups(v.length, cols, g, 127, -127, mode, 0, 7, -8, 0, 1);
        ws.intError(v.length, cols, cols, 127, -127, false, mode, 0, 0, 4);
        for (let l = 0; l < 3; l++) ws.intError(v.length, cols, g << l, 7, -8, true, AMAX_COMPUTED, 0, 0, 5 + l);
        for (let k = 0; k < 4; k++) {
          const [got, want] = [ws.slot(k), ws.slot(4 + k)];
          assert.ok(near(got[0], want[0], 1e-12) && got[1] === want[1] && got[2] === want[2], `${backend} ${rows}×${cols} g${g}${awkward ? ' awkward' : ''} mode ${mode} format ${k}: ${got} vs ${want}`);
        }
      }
    }
  }
  setErrorKernelBackend('auto');
});

/** 16-bit codes of rows whose values sit where a float32 quotient x × (1/s) can round to the other integer than float64's: the nearest codes to half-integers of s. */
function tieCodes(table: Float32Array, inf: number, amax: number, scale: number, count: number): number[] {
  const near: { c: number; t: number }[] = [];
  for (let c = 1; c < inf; c++) {
    const y = table[c]! / scale;
    if (table[c]! > amax || y < 0.4) continue;
    near.push({ c, t: Math.abs(y - Math.floor(y) - 0.5) });
  }
  near.sort((a, b) => a.t - b.t);
  return Array.from({ length: count }, (_, i) => near[i % Math.min(near.length, 64)]!.c ^ (i % 2 ? 0x8000 : 0));
}

for (const dtype of ['float16', 'bfloat16'] as const) {
  test(`${dtype} pair in float32 (intErrorPairStaged) stays within F16_PAIR_TOLERANCE of the float64 pair on ties, subnormals, huge ranges, zeros; NaN/±Inf rows exactly; counts the histogram`, { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
    const ws = errorWorkspace();
    const table = codeTable(dtype);
    const enc = (v: number): number => (dtype === 'float16' ? floatToHalfBits(v) : floatToBf16Bits(v));
    const inf = dtype === 'float16' ? 0x7c00 : 0x7f80;
    const round = (v: number): number => table[enc(v)]!;
    const halfScale = (v: number): number => halfToFloatTable()[floatToHalfBits(v)]!;
    let worstNoise = 0, worstMax = 0;
    const cases: { name: string; codes: Uint16Array; rowLen: number; group: number; rowAmax?: Float32Array; exact?: boolean }[] = [];
    const fromValues = (name: string, v: Float32Array, rowLen: number, group: number, extra: { rowAmax?: Float32Array; exact?: boolean } = {}): void => {
      cases.push({ name, codes: new Uint16Array(encode(v, dtype).buffer), rowLen, group, ...extra });
    };
    // Ties of A (INT8 per channel): every row holds its max and 4095 codes nearest to half-integers of s = amax/127.
    for (const amax of [1, 0.0371, 6.1e-5, 3000]) {
      const a = round(amax), s = Math.fround(a / 127);
      const row = [enc(a), ...tieCodes(table, inf, a, s, 4095)];
      cases.push({ name: `A ties amax ${amax}`, codes: Uint16Array.from([...row, ...row]), rowLen: 4096, group: 128 });
    }
    // Ties of B (INT4, FP16 scale per group of 128): each group holds its max and codes nearest to half-integers of its scale.
    for (const amax of [1, 0.02, 1.3e-5]) {
      const a = round(amax), s = halfScale(a / 7);
      const group = [enc(a), ...tieCodes(table, inf, a, s, 127)];
      cases.push({ name: `B ties amax ${amax}`, codes: Uint16Array.from(Array.from({ length: 32 }, () => group).flat()), rowLen: 4096, group: 128 });
    }
    // Random rows: row lengths and groups that leave scalar tails; scales from FP16 subnormals to near 65504.
    let seed = 5;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (const [rows, rowLen, group, sigma] of [[8, 4096, 128, 0.02], [5, 300, 32, 1], [3, 67, 64, 2e-6], [4, 1000, 40, 3000], [2, 4096, 256, 0.5]] as const) {
      fromValues(`gauss ${rows}×${rowLen} g${group} σ ${sigma}`, weights(rows * rowLen, 7 + rowLen, sigma), rowLen, group);
    }
    fromValues('huge ranges (2^-24 … 65504 in a row)', Float32Array.from({ length: 8 * 512 }, (_, i) => (i % 509 === 0 ? 65504 : (rnd() - 0.5) * 2 ** (Math.floor(rnd() * 40) - 24))), 512, 128);
    fromValues('FP16 subnormals only', Float32Array.from({ length: 4 * 512 }, () => (rnd() - 0.5) * 2 ** -14), 512, 128);
    fromValues('zeros and one value', Float32Array.from({ length: 4 * 512 }, (_, i) => (i === 700 ? -0.25 : 0)), 512, 128);
    fromValues('equal magnitudes (d = x − 127·s is tiny, not 0)', Float32Array.from({ length: 4 * 512 }, (_, i) => (i % 2 ? 0.3 : -0.3)), 512, 128);
    fromValues('exact grid multiples', Float32Array.from({ length: 4 * 512 }, (_, i) => ((i % 15) - 7) * 0.125), 512, 128);
    fromValues('per-row maxima given', weights(8 * 512, 3, 0.3), 512, 128, { rowAmax: Float32Array.from({ length: 8 }, (_, r) => [2, 0.5, 1.2, 0.9, 3, 4, 0.8, 1][r]!) });
    if (dtype === 'bfloat16') {
      // Beyond FP16: tiny values next to normal ones (below 2^-60: float64 path), rows of tiny values only, huge values (FP16 scale overflow).
      fromValues('BF16 tiny beside normal', Float32Array.from({ length: 4 * 512 }, (_, i) => (i % 100 === 3 ? 1e-25 * (i % 3) : (rnd() - 0.5) * 0.1)), 512, 128);
      fromValues('BF16 tiny rows', Float32Array.from({ length: 4 * 512 }, () => (rnd() - 0.5) * 1e-15), 512, 128);
      fromValues('BF16 huge', Float32Array.from({ length: 4 * 512 }, (_, i) => (i % 77 === 0 ? 1e30 : (rnd() - 0.5) * 1e5)), 512, 128, { exact: true });
      fromValues('BF16 2^-50 … 2^16', Float32Array.from({ length: 8 * 512 }, () => (rnd() - 0.5) * 2 ** (Math.floor(rnd() * 66) - 50)), 512, 128);
    }
    // NaN / ±Inf in every row: the float64 path (exactly intErrorPair, overflow counts included).
    fromValues('NaN and ±Inf rows', Float32Array.from({ length: 4 * 512 }, (_, i) => (i === 5 ? NaN : i === 600 ? Infinity : i === 1100 ? -Infinity : i === 1600 ? NaN : (rnd() - 0.5) * 3)), 512, 128, { exact: true });
    for (const c of cases) {
      const n = c.codes.length;
      ws.reset(n, 4, c.rowAmax?.length ?? 0, n);
      if (c.rowAmax) ws.setRowAmax(c.rowAmax);
      const mode = c.rowAmax ? AMAX_PER_ROW : AMAX_COMPUTED;
      ws.load(dtype, c.codes, 0, n, false);
      ws.intErrorPair(n, c.rowLen, c.group, 127, -127, mode, 0, 7, -8, 0, 1);
      ws.putCodes(c.codes, 0, n);
      ws.intErrorPairStaged(dtype, 0, n, c.rowLen, c.group, 127, -127, mode, 0, 7, -8, 2, 3, false);
      for (const [ref, got, what] of [[0, 2, 'A'], [1, 3, 'B']] as const) {
        const want = ws.slot(ref), have = ws.slot(got);
        const rn = want[0] === have[0] ? 0 : Math.abs(want[0] - have[0]) / Math.max(want[0], have[0]);
        const rm = want[1] === have[1] ? 0 : Math.abs(want[1] - have[1]) / Math.max(want[1], have[1]);
        worstNoise = Math.max(worstNoise, rn);
        worstMax = Math.max(worstMax, rm);
        const limit = c.exact ? 1e-12 : 1;
        assert.ok(rn <= F16_PAIR_TOLERANCE.noise * limit && rm <= F16_PAIR_TOLERANCE.maxAbsError * limit && want[2] === have[2], `${c.name} ${what}: float64 ${want} float32 ${have}`);
      }
    }
    // The ties are where float32 and float64 disagree: the test would not see a wrong tie bound without them.
    assert.ok(worstNoise > 1e-8, `worst relative Σd² difference ${worstNoise}`);
    console.log(`${dtype} pair float32 vs float64: worst relative Σd² ${worstNoise.toExponential(2)}, max |d| ${worstMax.toExponential(2)}`);
    // Counting into the histogram in the same loop (safe rows in the loop, the NaN row by histogram16, tails).
    const codes = cases[cases.length - 1]!.codes;
    const mixed = Uint16Array.from([...codes, ...cases[7]!.codes.subarray(0, 1013)]);
    ws.reset(mixed.length, 4, 0, mixed.length);
    ws.putCodes(mixed, 0, mixed.length);
    ws.countStaged(0, mixed.length);
    const want = ws.histogram();
    ws.reset(mixed.length, 4, 0, mixed.length);
    ws.putCodes(mixed, 0, mixed.length);
    ws.intErrorPairStaged(dtype, 0, mixed.length, 300, 32, 127, -127, AMAX_COMPUTED, 0, 7, -8, 0, 1, true);
    assert.deepEqual(ws.histogram(), want);
  });
}

test('histogram statistics and errors in WebAssembly (histStats, histErrors) equal the JavaScript loops bit for bit: every element-wise format, FP16 and BF16 codes, NaN/±Inf, overflow, large counts', { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
  let seed = 11;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const formats = NUMBER_FORMATS.filter((f) => isElementwiseFormat(f));
  let kernelRuns = 0;
  for (const dtype of ['float16', 'bfloat16'] as const) {
    const table = codeTable(dtype);
    // Dense (every code, NaN and ±Inf included) and sparse histograms; counts up to 2^32 − 1.
    for (const density of [1, 0.002]) {
      const hist = new Uint32Array(65536);
      for (let c = 0; c < 65536; c++) if (rnd() < density) hist[c] = rnd() < 0.01 ? 0xffffffff - Math.floor(rnd() * 1000) : 1 + Math.floor(rnd() * 5000);
      const stats = histogramStats(hist, table), statsJs = histogramStatsJs(hist, table);
      for (const k of Object.keys(statsJs) as (keyof typeof statsJs)[]) assert.ok(Object.is(stats[k], statsJs[k]), `${dtype} stats density ${density} ${k}: wasm ${stats[k]} js ${statsJs[k]}`);
      for (const f of formats) {
        for (const [amax, mean] of [[0.37, 0.02], [65504, 3], [1e-6, 1e-7], [0, 0], [Infinity, 1]] as const) {
          const js = histogramErrorsJs(hist, table, f, amax, mean);
          const wasm = histogramErrors(hist, table, f, amax, mean);
          for (const k of ['signal', 'noise', 'maxAbsError', 'overflow', 'count'] as const) {
            assert.ok(Object.is(wasm[k], js[k]), `${dtype} ${f.id} amax ${amax} density ${density} ${k}: wasm ${wasm[k]} js ${js[k]}`);
          }
          kernelRuns++;
        }
      }
    }
  }
  assert.ok(kernelRuns > 100);
});

test('the workspace histogram evaluated in place (code table made in WebAssembly, halves merged there) equals histogramStats / histogramErrors on the copied histogram bit for bit', { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
  const ws = errorWorkspace();
  let seed = 23;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const formats = NUMBER_FORMATS.filter((f) => isElementwiseFormat(f));
  for (const dtype of ['float16', 'bfloat16', 'float16'] as const) {
    // Every code at least once (NaN, ±Inf, ±0, subnormals), then a Gaussian-ish bulk; counted by the pair kernel
    // (both halves of the histogram) and by histogram16.
    const all = Uint16Array.from({ length: 65536 + 40000 }, (_, i) => (i < 65536 ? i : (dtype === 'float16' ? floatToHalfBits : floatToBf16Bits)((rnd() - 0.5) * 0.1)));
    ws.reset(all.length, 4, 0, all.length);
    ws.putCodes(all, 0, all.length);
    ws.countStaged(0, all.length);
    const copied = ws.histogram();
    const table = codeTable(dtype);
    const want = histogramStats(copied, table);
    for (let twice = 0; twice < 2; twice++) {
      const got = workspaceHistogramStats(ws, dtype);
      for (const k of Object.keys(want) as (keyof typeof want)[]) assert.ok(Object.is(got[k], want[k]), `${dtype} stats ${k}: in place ${got[k]} copied ${want[k]}`);
    }
    assert.deepEqual(ws.histogram(), copied, 'the merged histogram still holds every count');
    for (const f of formats) {
      for (const [amax, mean] of [[want.absMax, want.absMean], [0.37, 0.02], [0, 0]] as const) {
        const a = histogramErrors(copied, table, f, amax, mean), b = workspaceHistogramErrors(ws, dtype, f, amax, mean);
        for (const k of ['signal', 'noise', 'maxAbsError', 'overflow', 'count'] as const) assert.ok(Object.is(a[k], b[k]), `${dtype} ${f.id} amax ${amax} ${k}: in place ${b[k]} copied ${a[k]}`);
      }
    }
  }
  // The code tables the kernels make equal decode.ts / errorKernels.ts tables bit for bit (NaN as the canonical NaN).
  const wasmTable = (dtype: 'float16' | 'bfloat16'): Uint32Array => {
    ws.reset(1, 1, 0, 1);
    workspaceHistogramStats(ws, dtype);
    const mem = (ws as unknown as { k: { memory: { buffer: ArrayBuffer } } }).k.memory.buffer;
    return new Uint32Array(mem, 32 * 32768, 65536).slice();
  };
  assert.deepEqual(wasmTable('float16'), new Uint32Array(halfToFloatTable().buffer));
  assert.deepEqual(wasmTable('bfloat16'), new Uint32Array(bf16ToFloatTable().buffer));
});

for (const dtype of ['float16', 'bfloat16'] as const) {
  test(`${dtype} pair in float32: every max code of an INT4 group (the per-code scale table) stays within F16_PAIR_TOLERANCE of the float64 pair, overflow counts exactly`, { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
    const ws = errorWorkspace();
    let seed = 31;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    // Groups of 16 whose max code runs over all 32 768 magnitudes (NaN/±Inf codes included), the other values below it; rows of 16 groups.
    const rowLen = 256, group = 16;
    const codes = new Uint16Array(32768 * group);
    for (let mc = 0; mc < 32768; mc++) {
      for (let j = 0; j < group; j++) codes[mc * group + j] = (j === 5 ? mc : Math.floor(rnd() * (mc + 1))) | (rnd() < 0.5 ? 0x8000 : 0);
    }
    for (let start = 0; start < codes.length; start += 64 * rowLen) {
      const part = codes.subarray(start, start + 64 * rowLen);
      const n = part.length;
      ws.reset(n, 4, 0, n);
      ws.load(dtype, part, 0, n, false);
      ws.intErrorPair(n, rowLen, group, 127, -127, AMAX_COMPUTED, 0, 7, -8, 0, 1);
      ws.putCodes(part, 0, n);
      ws.intErrorPairStaged(dtype, 0, n, rowLen, group, 127, -127, AMAX_COMPUTED, 0, 7, -8, 2, 3, false);
      for (const [ref, got, what] of [[0, 2, 'A'], [1, 3, 'B']] as const) {
        const want = ws.slot(ref), have = ws.slot(got);
        const rn = want[0] === have[0] ? 0 : Math.abs(want[0] - have[0]) / Math.max(want[0], have[0]);
        const rm = want[1] === have[1] ? 0 : Math.abs(want[1] - have[1]) / Math.max(want[1], have[1]);
        assert.ok((rn <= F16_PAIR_TOLERANCE.noise || (Number.isNaN(want[0]) && Number.isNaN(have[0]))) && rm <= F16_PAIR_TOLERANCE.maxAbsError && want[2] === have[2], `codes from ${start / group}: ${what}: float64 ${want} float32 ${have}`);
      }
    }
  });
}

test('pair in float32: the largest INT8/INT4 error found in a late group of a later row (or a later call) counts, though the rows passed their tests earlier', { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
  const ws = errorWorkspace();
  let seed = 41;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const rowLen = 128, group = 32;
  // Row 1: its max (1.0) in group 1, whose values sit within 0.35 of INT4 grid points (B's max |e| ≈ 0.35); small
  // values elsewhere. Row 2: small values, then a group of max 0.9 with values anywhere (B's max |e| ≈ 0.5): the
  // tensor's INT4 max |d| is in row 2's third group (0.5 × 0.9/7 > 0.35 × 1/7), yet row 2 is no INT8 record (0.9 < 1)
  // and both rows pass the scaled pass's tests after their first group.
  const sB = halfToFloatTable()[floatToHalfBits(1 / 7)]!;
  const row1 = Float32Array.from({ length: rowLen }, (_, i) => (i === 0 ? 1 : i < group ? (Math.floor(rnd() * 7) + (rnd() - 0.5) * 0.7) * sB * (rnd() < 0.5 ? -1 : 1) : (rnd() - 0.5) * 0.2));
  const row2 = Float32Array.from({ length: rowLen }, (_, i) => (i === 2 * group + 3 ? 0.9 : i >= 2 * group && i < 3 * group ? (rnd() - 0.5) * 1.8 : (rnd() - 0.5) * 0.2));
  const codes = new Uint16Array(encode(Float32Array.from([...row1, ...row2]), 'float16').buffer);
  for (const split of [false, true]) {
    // Both rows in one call, or one call per row (the max of the first call then comes from the accumulator).
    ws.reset(2 * rowLen, 4, 0, 2 * rowLen);
    ws.load('float16', codes, 0, 2 * rowLen, false);
    ws.intErrorPair(2 * rowLen, rowLen, group, 127, -127, AMAX_COMPUTED, 0, 7, -8, 0, 1);
    for (const [at, n] of split ? [[0, rowLen], [rowLen, rowLen]] : [[0, 2 * rowLen]]) {
      ws.putCodes(codes, at!, n!);
      ws.intErrorPairStaged('float16', 0, n!, rowLen, group, 127, -127, AMAX_COMPUTED, at! / rowLen, 7, -8, 2, 3, false);
    }
    for (const [ref, got, what] of [[0, 2, 'A'], [1, 3, 'B']] as const) {
      const want = ws.slot(ref), have = ws.slot(got);
      assert.ok(Math.abs(want[0] - have[0]) <= F16_PAIR_TOLERANCE.noise * want[0] && Math.abs(want[1] - have[1]) <= F16_PAIR_TOLERANCE.maxAbsError * want[1], `${split ? 'split' : 'one call'} ${what}: float64 ${want} float32 ${have}`);
    }
    // The case is what it says (float64 reference of row 1 alone): INT8's max |d| is row 1's, INT4's is well above row 1's.
    const [maxA, maxB] = [ws.slot(0)[1], ws.slot(1)[1]];
    ws.reset(rowLen, 2, 0, rowLen);
    ws.load('float16', codes, 0, rowLen, false);
    ws.intErrorPair(rowLen, rowLen, group, 127, -127, AMAX_COMPUTED, 0, 7, -8, 0, 1);
    assert.equal(ws.slot(0)[1], maxA);
    assert.ok(ws.slot(1)[1] < 0.9 * maxB, `row 1's INT4 max |d| ${ws.slot(1)[1]}, both rows' ${maxB}`);
  }
});

test('the default formats on a large FP16 chunk (the float32 pair on codes) match quantizationError within F16_PAIR_TOLERANCE, and the JS backend exactly', () => {
  const big = weights(512 * Math.ceil(HISTOGRAM_MIN_ELEMENTS / 512), 31);
  const shape = [big.length / 512, 512];
  const bytes = encode(big, 'float16');
  const values = decodeElements('float16', bytes, big.length);
  const ids = ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4'];
  for (const backend of ['wasm', 'js'] as const) {
    const prev = setErrorKernelBackend(backend);
    try {
      const r = analyzeSensitivityChunk(task('float16', bytes, shape, ids));
      assertSameStats(r.stats, new WeightStatsAccumulator().add(values).partial(), `${backend} stats`);
      for (const id of ids) {
        const want = id === 'fp16' ? { ...reference(values, shape, id), noise: 0, maxAbsError: 0 } : reference(values, shape, id);
        const got = r.errors[id]!;
        if (backend === 'js' || !['int8', 'int4'].includes(id)) assertSameError(got, want, `${backend} ${id}`);
        else {
          assert.notEqual(got.noise, want.noise, `${id}: the float32 pair ran (its sums differ from float64 in the last bits)`);
          assert.ok(near(got.noise, want.noise, F16_PAIR_TOLERANCE.noise) && near(got.maxAbsError, want.maxAbsError, F16_PAIR_TOLERANCE.maxAbsError) && got.overflow === want.overflow && got.count === want.count && near(got.signal, want.signal), `${id}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
        }
      }
    } finally {
      setErrorKernelBackend(prev);
    }
  }
});

test('NF4 kernel: WebAssembly adds what quantize.ts nf4Error adds (midpoints and one ulp either side, zero groups, NaN, ±Inf, odd rows)', { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
  const mids = NF4_CODEBOOK.slice(1).map((v, i) => (v + NF4_CODEBOOK[i]!) / 2);
  const a = weights(3 * 200, 11, 0.05);
  // Group maxima 1 and 0.37: values on the float32-rounded midpoints × max and one ulp either side.
  for (let k = 0; k < mids.length; k++) {
    const at = 64 * (k % 9) + 4 * Math.floor(k / 9);
    const m = k % 2 ? 1 : 0.37;
    const x = Math.fround(mids[k]! * m);
    a.set([m, x, x * (1 + 2 ** -23), x * (1 - 2 ** -23)], at);
  }
  const b = a.slice();
  b.fill(0, 0, 64); // an all-zero group
  b.set([NaN, Infinity], 70); // ±Inf in a group: every other value's error is x, counted as overflowed
  b[300] = -Infinity;
  b[450] = NaN;
  const c = weights(9 * 67, 3); // rows of 67: groups of 64 and 3 (odd tails)
  c[5] = 1e-40; // float32 subnormals
  c[6] = -3e-39;
  // Exact ties x = midpoint × max whose two neighbours round differently to float32 (midpoints 2 and 9 have few
  // bits: × 31 and × 9 are exact): the tie goes to the lower entry, as the reference's 'y > midpoint' decides.
  const ties = weights(4 * 64, 5, 0.01);
  ties.set([31, mids[2]! * 31, -31 * 0.5], 0);
  ties.set([9, mids[9]! * 9], 64);
  ties.set([-31, mids[2]! * 31], 128);
  ties.set([-9, mids[9]! * 9, 9 * 0.25], 192);
  const cases: [Float32Array, number, number][] = [[a, 200, 64], [b, 200, 64], [b.subarray(0, 150), 150, 64], [c, 67, 64], [c, 67, 7], [weights(4096 * 4, 9), 4096, 64], [ties, 64, 64]];
  for (const [v, rowLength, group] of cases) {
    const want = { signal: 0, noise: 0, maxAbsError: 0, overflow: 0, count: 0 };
    nf4Error(v, rowLength, group, want);
    setErrorKernelBackend('wasm');
    const ws = errorWorkspace();
    ws.reset(v.length, 3, 0);
    ws.load('float32', v, 0, v.length, false);
    ws.nf4Error(v.length, rowLength, group, 1);
    const got = ws.partial(1);
    setErrorKernelBackend('auto');
    assert.ok(near(got.noise, want.noise, 1e-12) && near(got.signal, want.signal, 1e-12) && got.maxAbsError === want.maxAbsError && got.overflow === want.overflow && got.count === want.count,
      `rows of ${rowLength}, groups of ${group}: wasm ${JSON.stringify(got)} js ${JSON.stringify(want)}`);
    assert.deepEqual(ws.slot(0), [0, 0, 0], 'other slots untouched');
  }
  // The JS workspace runs nf4Error itself.
  setErrorKernelBackend('js');
  const ws = errorWorkspace();
  ws.reset(b.length, 2, 0);
  ws.load('float32', b, 0, b.length, false);
  ws.nf4Error(b.length, 200, 64, 0);
  const want = { signal: 0, noise: 0, maxAbsError: 0, overflow: 0, count: 0 };
  nf4Error(b, 200, 64, want);
  setErrorKernelBackend('auto');
  assert.deepEqual(ws.partial(0), want);
});

test('FP16 → float32 decoding in WebAssembly is exact for all 65 536 codes; BF16 too', { skip: activeErrorKernelBackend() !== 'wasm' && 'no WebAssembly SIMD' }, () => {
  const codes = new Uint16Array(65536 + 3).map((_, i) => i & 0xffff);
  const ws = errorWorkspace();
  ws.reset(codes.length, 0, 0);
  ws.load('float16', codes, 0, codes.length, true);
  const t = halfToFloatTable();
  const got = ws.block(codes.length);
  for (let c = 0; c < codes.length; c++) assert.ok(Object.is(got[c], t[codes[c]!]) || (Number.isNaN(got[c]) && Number.isNaN(t[codes[c]!])), `code ${codes[c]}`);
  // A block without ±Inf/NaN codes takes the kernel's fast path.
  const finite = codes.filter((c) => (c & 0x7fff) < 0x7c00);
  ws.load('float16', finite, 0, finite.length, false);
  const gf = ws.block(finite.length);
  for (let c = 0; c < finite.length; c++) assert.ok(Object.is(gf[c], t[finite[c]!]), `finite code ${finite[c]}`);
  const hist = ws.histogram();
  assert.equal(hist[0], 2);
  assert.equal(hist[5], 1);
  ws.load('bfloat16', codes, 0, codes.length, false);
  const bt = codeTable('bfloat16');
  const gb = ws.block(codes.length);
  for (let c = 0; c < codes.length; c++) assert.ok(Object.is(gb[c], bt[codes[c]!]) || Number.isNaN(gb[c]), `bf16 code ${codes[c]}`);
});

test('one-pass chunks (histogramOnly) add up to the whole tensor', () => {
  const shape = [64, 256];
  const raw = weights(64 * 256, 3);
  const bytes = encode(raw, 'float16');
  const fmts = ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4', 'int8_tensor', 'ternary', 'mxfp4'];
  const whole = analyzeSensitivityChunk(task('float16', bytes, shape, fmts));
  const stats = new WeightStatsAccumulator();
  const errors = new Map(fmts.map((f) => [f, new ErrorAccumulator()]));
  const hist = new Uint32Array(65536);
  for (let r = 0; r < 64; r += 16) {
    const part = bytes.slice(r * 256 * 2, (r + 16) * 256 * 2);
    const c = analyzeSensitivityChunk(task('float16', part, [16, 256], fmts, { histogramOnly: true, rowOffset: r }));
    assert.ok(c.histogram && !c.errors['bf16'] && c.errors['int4'], 'chunks return histograms and the row-local formats');
    stats.merge(c.stats);
    for (const f of fmts) if (c.errors[f]) errors.get(f)!.merge(c.errors[f]!);
    for (let i = 0; i < 65536; i++) hist[i]! += c.histogram[i]!;
  }
  for (const [f, e] of Object.entries(histogramSensitivity('float16', hist, fmts))) errors.get(f)!.merge(e);
  assertSameStats(stats.partial(), whole.stats, 'stats');
  for (const f of fmts) assertSameError(errors.get(f)!.partial(), whole.errors[f]!, f);
});

for (const backend of ['wasm', 'js'] as const) {
  test(`float32 chunks a worker reads itself (${backend} kernels: streamed into the kernels' memory, kept there for a second pass when a per-tensor scale needs the max) equal the in-memory analysis`, () => {
    const prev = setErrorKernelBackend(backend);
    try {
      // 300 × 1024 values: several read pieces (512 KiB each) and row blocks; a NaN, an Inf and an outlier.
      const shape = [300, 1024];
      const v = weights(300 * 1024, 31);
      v[5000] = NaN;
      v[200_000] = 1.75;
      const bytes = encode(v, 'float32');
      const inf = v.slice();
      inf[123_456] = -Infinity;
      for (const source of [bytes, encode(inf, 'float32')]) {
        let reads = 0, largest = 0;
        const read = (dst: Uint8Array, byteOffset: number): void => {
          assert.ok(byteOffset >= 0 && byteOffset + dst.length <= source.length, 'reads stay inside the chunk');
          reads++;
          largest = Math.max(largest, dst.length);
          dst.set(source.subarray(byteOffset, byteOffset + dst.length));
        };
        const file = { path: '/unused', byteOffset: 0, byteLength: source.length };
        // Per-tensor formats (second pass), no per-tensor format (one pass), NVFP4 (its tensor scale), ternary (read whole).
        for (const formats of [['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4', 'int8_tensor'], ['fp16', 'tf32', 'int8', 'int4_g32', 'mxfp4'], ['fp8_e5m2', 'nvfp4', 'w8a8'], ['bf16', 'ternary', 'int4']]) {
          reads = largest = 0;
          const want = analyzeSensitivityChunk(task('float32', source, shape, formats));
          const got = analyzeSensitivityChunk(task('float32', new Uint8Array(0), shape, formats, { file }), read);
          assert.deepEqual(got, want, formats.join(','));
          if (!formats.includes('ternary')) assert.ok(reads >= 3 && largest <= 512 * 1024, `${formats.join(',')}: ${reads} reads of ≤ ${largest} bytes`);
          else assert.equal(largest, source.length);
          // Whole-tensor facts given (the runner's second pass over a chunked tensor): one pass.
          const globals = { tensorAbsMax: 2, tensorAbsMean: 0.02 };
          assert.deepEqual(analyzeSensitivityChunk(task('float32', new Uint8Array(0), shape, formats, { file, globals }), read), analyzeSensitivityChunk(task('float32', source, shape, formats, { globals })), `${formats.join(',')} with globals`);
        }
        const values = decodeElements('float32', source, v.length);
        const r = analyzeSensitivityChunk(task('float32', new Uint8Array(0), shape, ['fp8_e4m3', 'int8_tensor'], { file }), read);
        for (const id of ['fp8_e4m3', 'int8_tensor']) assertSameError(r.errors[id], reference(values, shape, id), `read ${id}`);
      }
    } finally {
      setErrorKernelBackend(prev);
    }
  });
}

test('the embedded WebAssembly matches errorKernels.wat (run npm run build:kernels after editing it)', async () => {
  const root = path.resolve(__dirname, '../..');
  const { generate } = (await import(path.join(root, 'scripts/buildKernels.mjs'))) as { generate: (wat: string) => Promise<string> };
  const wat = readFileSync(path.join(root, 'src/core/precision/errorKernels.wat'), 'utf8');
  assert.equal(await generate(wat), readFileSync(path.join(root, 'src/core/precision/gen/errorKernelsWasm.ts'), 'utf8'));
});

test('a model file analyzed by workers reading it themselves (one-pass FP16/BF16 chunks) equals the inline analysis', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pl-kernels-'));
  try {
    // Chunks of ~600 000 elements: the full ones (≥ 1 MiB) are read by the workers themselves, the last (smaller)
    // ones by the runner and sent over; FP16/BF16 take one pass, FP32 two.
    const specs = [
      { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'F16', shape: [640, 1024] },
      { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'BF16', shape: [1024, 640] },
      { name: 'model.layers.0.self_attn.o_proj.weight', dtype: 'F32', shape: [600, 1024] },
    ];
    const built = buildSafetensors(specs);
    specs.forEach((t, k) => {
      const v = weights(t.shape[0]! * t.shape[1]!, 20 + k);
      v[k * 1000 + 3] = NaN;
      const dtype = t.dtype === 'F16' ? 'float16' : t.dtype === 'BF16' ? 'bfloat16' : 'float32';
      built.bytes.set(encode(v, dtype), 8 + built.headerLength + built.offsets[t.name]![0]);
    });
    const file = path.join(dir, 'model.safetensors');
    writeFileSync(file, built.bytes);
    // A bundled worker starts in ~50 ms (through tsx, each worker compiles the TypeScript sources first).
    const workerFile = path.join(dir, 'worker.js');
    await esbuild.build({ entryPoints: [path.resolve(__dirname, '../../src/worker/analysis.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: workerFile, logLevel: 'warning', external: ['vscode', 'onnxruntime-*'], mainFields: ['module', 'main'] });
    // NVFP4 needs the tensor's max before its groups: two passes; without it FP16/BF16 chunks take one pass.
    // (No ternary: with a NaN in the tensor, whole-tensor absMean is NaN but the chunked pass-1 mean skips it — a
    // runner convention older than these kernels.)
    // The default formats: FP16 chunks take the float32 pair on codes (staged reads in workers, copied codes inline).
    for (const formats of [['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4', 'int8_tensor', 'mxfp4'], ['fp8_e4m3', 'int8', 'int4', 'nvfp4'], ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4']]) {
      const inline = await analyzeModelSensitivity(file, { workers: 0, formats });
      const pooled = await analyzeModelSensitivity(file, { workers: 2, workerFile, inlineBelowBytes: 0, wholeTensorElements: 600_000, chunkElements: 600_000, formats });
      assert.deepEqual(pooled.warnings, inline.warnings);
      assert.equal(pooled.layers.length, 3);
      for (const l of inline.layers) {
        const p = pooled.layers.find((x) => x.layer === l.layer)!;
        assert.equal(p.stats.count, l.stats.count);
        assert.equal(p.stats.nonFinite, 1);
        for (const [f, s] of Object.entries(l.formats)) {
          const q = p.formats[f]!;
          assert.ok(Math.abs(s.sqnrDb - q.sqnrDb) < 1e-9 && s.maxAbsError === q.maxAbsError, `${l.layer} ${f}: ${s.sqnrDb} vs ${q.sqnrDb}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
