/**
 * Fake quantization: quantize then dequantize a tensor's values exactly as each number format of
 * numberFormats.ts would store them, so the difference to the original is the format's real weight error.
 *
 * Layout convention: `shape[0]` is the output-channel axis and groups/blocks run along the flattened remaining
 * axes of each channel row (PyTorch/safetensors/GGUF `[out, in]`, ONNX Conv `[out, in, kh, kw]`). Callers
 * transpose ONNX MatMul `[K, N]` weights first (see sensitivity.ts `quantizationLayout`). A row whose length is
 * not a multiple of the block size ends in a shorter block (ggml types: padded with zeros, as if the row were
 * padded to a whole block).
 *
 * Per format (documented choices):
 * - fp32: identity. tf32: mantissa rounded to 10 bits (RNE). bf16 / fp16: round-to-nearest-even; FP16 values
 *   beyond 65504 (after rounding) overflow to ±Inf, exactly like a cast.
 * - fp8_e4m3 / fp8_e5m2 / fp8_e4m3fnuz / fp8_e5m2fnuz: per-tensor FP32 scale = max|x| / maxFinite (448, 57344,
 *   240, 57344), element RNE with subnormals, saturating at ±maxFinite (no Inf/NaN produced).
 * - mxfp8 / mxfp6 / mxfp4 (OCP MX v1.0): blocks of 32 share an E8M0 scale 2^(⌊log2 max|x|⌋ − emax_elem)
 *   (emax 8 for E4M3, 2 for E2M3 and E2M1), elements RNE and saturating.
 * - nvfp4: FP32 tensor scale s = max|x| / (448·6); per 16 an E4M3 scale RNE(max|x_b| / 6 / s); E2M1 elements.
 * - int8 / w8a8: symmetric per output channel, FP32 scale max|row| / 127, q = clamp(RNE(x/scale), −127, 127).
 *   int8_tensor: the same with one scale per tensor.
 * - int4 / int4_g64 / int4_g32 / w4a4: **symmetric** groups (no zero point, matching the format's bytes: FP16
 *   scale per group), scale = fp16(max|x_g| / 7), q = clamp(RNE(x/scale), −8, 7).
 * - nf4 (bitsandbytes): FP32 absmax per 64, nearest value of the 16-entry NormalFloat codebook.
 * - ternary (BitNet b1.58): γ = mean|W| over the tensor (FP16), q = clamp(RNE(W/γ), −1, 1).
 * - binary: stored as ggml Q1_0 (per 128, d = fp16(mean|x|), x ≥ 0 → +d else −d), simulated by the Q1_0 path below.
 * - ggml types: the reference quantizers of ggml-quants.c (no importance matrix), i.e. what `llama-quantize`
 *   does without `--imatrix`: q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, tq1_0, tq2_0, q1_0,
 *   q2_0, iq4_nl, gguf_nvfp4 (ggml NVFP4, no tensor scale). Approximations (documented, lattice codebooks not
 *   modelled): iq4_xs → iq4_nl per 32; iq3_xxs / iq3_s → q3_k; iq2_xxs / iq2_xs / iq2_s → q2_k;
 *   iq1_s / iq1_m → ternary with an absmean scale per 32.
 *
 * The types GGUF apply writes (q8_0, q4_0, q4_1, q5_0, q5_1, q2_k … q6_k, iq4_nl, tq1_0, tq2_0, q1_0, q2_0) are simulated
 * as dequantize(quantizeGgml(…)) — ggmlQuants.ts, bit-identical to libggml — so a prediction and the applied file
 * agree exactly; the float64 quantizers below remain for the approximated lattice types. Elsewhere arithmetic is
 * float64 with float32 stores.
 */
import type { NumberFormat } from './numberFormats';
import { decodeElements, floatToBf16Bits, floatToHalfBits, halfToFloatTable, MINI_FLOATS, type MiniFloatSpec } from './decode';
import { isGgmlWritable, quantizeGgml, simulateGgml } from './ggmlQuants';
import { dtypeInfo } from '../model/dtypes';

/** Extra whole-tensor facts for quantizing one chunk of a larger tensor consistently with the whole. */
export interface FakeQuantizeOptions {
  /** max |x| over the whole tensor (per-tensor scales: FP8, int8_tensor, NVFP4's FP32 scale). */
  readonly tensorAbsMax?: number;
  /** mean |x| over the whole tensor (ternary absmean). */
  readonly tensorAbsMean?: number;
  /** max |x| per output channel (row) over the whole tensor, when this chunk holds only part of each row. */
  readonly channelAbsMax?: Float32Array;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Round half to even. */
export function rne(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** C `roundf`: half away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** ggml nearest_int: round half to even (float magic-number trick under the default rounding mode). */
const nearestInt = rne;

let halfTab: Float32Array | undefined;
/** Rounds to the nearest FP16 value (RNE), overflowing to ±Inf. */
export function toHalf(x: number): number {
  halfTab ??= halfToFloatTable();
  return halfTab[floatToHalfBits(x)]!;
}

function toBf16(x: number): number {
  U32[0] = (floatToBf16Bits(x) << 16) >>> 0;
  return F32[0]!;
}

/** Exponent of |a| as an integer (floor(log2 a)), a > 0. */
function exponentOf(a: number): number {
  if (a >= 1.1754943508222875e-38) {
    F32[0] = a;
    const e = ((U32[0]! >>> 23) & 0xff) - 127;
    // float32 rounding may have carried a value just below 2^k up to 2^k; the step chosen is still exact for the result.
    return e;
  }
  return Math.floor(Math.log2(a));
}

/**
 * Rounds `x` to `bits` significant bits by Veltkamp splitting in float64 (3 flops, no table or bit casts):
 * nearest, with exact ties resolved by float64 rounding (not always to even — such ties are vanishingly rare in
 * real weights). Used by the FP16/BF16/FP8 quantizers for speed; the exponent range is handled by the caller.
 */
export function roundSignificant(x: number, c: number): number {
  const t = c * x;
  return t - (t - x);
}

/** Veltkamp constants 2^(53 − bits) + 1. */
/** Veltkamp constant 2^(53 − bits) + 1 for rounding to `bits` significant bits. */
export const SPLIT = (bits: number): number => 2 ** (53 - bits) + 1;
const SPLIT_FP16 = SPLIT(11);
const SPLIT_BF16 = SPLIT(8);
const SPLIT_TF32 = SPLIT(11);

/** FP16 rounding: 11 significant bits, subnormal step 2^-24, ≥ 65520 → ±Inf. */
export function roundFp16(x: number): number {
  const a = x < 0 ? -x : x;
  if (a >= 65520) return x < 0 ? -Infinity : x > 0 ? Infinity : x;
  if (a < 6.103515625e-5) return rne(x * 16777216) / 16777216;
  return roundSignificant(x, SPLIT_FP16);
}

/** BF16 rounding: 8 significant bits (float32 range; overflow beyond 3.3961e38 → ±Inf). */
export function roundBf16(x: number): number {
  const a = x < 0 ? -x : x;
  if (a < 1.1754943508222875e-38) return toBf16(x);
  const r = roundSignificant(x, SPLIT_BF16);
  return Math.abs(r) > 3.3895313892515355e38 ? (x < 0 ? -Infinity : Infinity) : r;
}

/** Rounds `x` to the minifloat grid (RNE, subnormals), saturating at ±maxFinite. NaN stays NaN. */
export function roundMiniFloat(x: number, manBits: number, minExp: number, maxFinite: number): number {
  const a = Math.abs(x);
  if (a === 0 || a !== a) return x;
  if (a >= maxFinite) return x < 0 ? -maxFinite : maxFinite;
  let e = exponentOf(a);
  if (e < minExp) e = minExp;
  const step = 2 ** (e - manBits);
  const q = a / step;
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 !== 0) r -= 1;
  let v = r * step;
  if (v > maxFinite) v = maxFinite;
  return x < 0 ? -v : v;
}

/** Minifloat rounding by Veltkamp splitting: normal range to manBits+1 bits, subnormals to a fixed step, saturating. */
export function roundMiniFast(y: number, c: number, minNormal: number, subnormalInv: number, maxFinite: number): number {
  const a = y < 0 ? -y : y;
  if (a >= maxFinite) return a === a ? (y < 0 ? -maxFinite : maxFinite) : y;
  if (a < minNormal) return rne(y * subnormalInv) / subnormalInv;
  const r = roundSignificant(y, c);
  return r > maxFinite ? maxFinite : r < -maxFinite ? -maxFinite : r;
}

/** A minifloat element grid. */
export interface MiniGrid {
  readonly manBits: number;
  readonly minExp: number;
  readonly maxFinite: number;
  /** Exponent of the largest finite value (OCP MX emax_elem). */
  readonly emax: number;
}

function grid(spec: MiniFloatSpec, maxFinite: number): MiniGrid {
  return { manBits: spec.manBits, minExp: 1 - spec.bias, maxFinite, emax: Math.floor(Math.log2(maxFinite)) };
}

/** Element grids of the minifloat formats (manBits, minExp, maxFinite, emax). */
export const GRIDS: Readonly<Record<string, MiniGrid>> = {
  fp8_e4m3: grid(MINI_FLOATS.fp8_e4m3, 448),
  fp8_e5m2: grid(MINI_FLOATS.fp8_e5m2, 57344),
  fp8_e4m3fnuz: grid(MINI_FLOATS.fp8_e4m3fnuz, 240),
  fp8_e5m2fnuz: grid(MINI_FLOATS.fp8_e5m2fnuz, 57344),
  fp6_e2m3: grid(MINI_FLOATS.fp6_e2m3, 7.5),
  fp6_e3m2: grid(MINI_FLOATS.fp6_e3m2, 28),
  fp4_e2m1: grid(MINI_FLOATS.fp4_e2m1, 6),
};

/** NormalFloat-4 codebook (QLoRA, bitsandbytes `functional.py`). */
export const NF4_CODEBOOK: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];
const NF4_MIDS = NF4_CODEBOOK.slice(1).map((v, i) => (v + NF4_CODEBOOK[i]!) / 2);

/** Max |x| over a range. */
export function absMax(values: Float32Array, start = 0, end = values.length): number {
  let m = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(values[i]!);
    if (a > m) m = a;
  }
  return m;
}

function absMean(values: Float32Array, start = 0, end = values.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += Math.abs(values[i]!);
  return end > start ? s / (end - start) : 0;
}

/** Rows (output channels) and row length of a tensor for the layout convention above. */
export function rowLayout(shape: readonly number[], elementCount: number): { rows: number; rowLength: number } {
  const rows = shape.length >= 2 && shape[0]! > 0 ? shape[0]! : 1;
  const rowLength = rows > 0 ? Math.floor(elementCount / rows) : elementCount;
  return rowLength * rows === elementCount ? { rows, rowLength } : { rows: 1, rowLength: elementCount };
}

/** Calls fn(start, end) for each group of `size` along every row. */
function forGroups(n: number, rowLength: number, size: number, fn: (start: number, end: number) => void): void {
  for (let r = 0; r < n; r += rowLength) {
    const rowEnd = Math.min(n, r + rowLength);
    for (let s = r; s < rowEnd; s += size) fn(s, Math.min(rowEnd, s + size));
  }
}

/**
 * Quantizes then dequantizes `values` (row-major, `shape`) as `format` would. Returns a new array of the same
 * length. Unknown element encodings return a copy (no error) — callers only pass formats from NUMBER_FORMATS.
 */
export function fakeQuantize(values: Float32Array, shape: readonly number[], format: NumberFormat, options: FakeQuantizeOptions = {}): Float32Array {
  const n = values.length;
  const out = new Float32Array(n);
  const { rowLength } = rowLayout(shape, n);
  switch (format.element) {
    case 'fp32':
      out.set(values);
      return out;
    case 'tf32':
      for (let i = 0; i < n; i++) out[i] = roundSignificant(values[i]!, SPLIT_TF32);
      return out;
    case 'bf16':
      for (let i = 0; i < n; i++) out[i] = roundBf16(values[i]!);
      return out;
    case 'fp16':
      for (let i = 0; i < n; i++) out[i] = roundFp16(values[i]!);
      return out;
    case 'fp8_e4m3':
    case 'fp8_e5m2':
    case 'fp8_e4m3fnuz':
    case 'fp8_e5m2fnuz':
    case 'fp6_e2m3':
    case 'fp6_e3m2':
    case 'fp4_e2m1': {
      const g = GRIDS[format.element]!;
      if (format.scaling === 'group') return mxQuantize(values, rowLength, format, g, out, options);
      // Per-tensor FP32 scale (Transformer Engine / ORT FP8 QDQ style): max|x| maps to the largest finite value.
      const amax = options.tensorAbsMax ?? absMax(values);
      if (!(amax > 0) || !Number.isFinite(amax)) {
        out.set(values);
        return out;
      }
      const scale = Math.fround(amax / g.maxFinite);
      const c = SPLIT(g.manBits + 1), minNormal = 2 ** g.minExp, sub = 2 ** (g.manBits - g.minExp), inv = 1 / scale;
      for (let i = 0; i < n; i++) out[i] = roundMiniFast(values[i]! * inv, c, minNormal, sub, g.maxFinite) * scale;
      return out;
    }
    case 'int8': {
      if (format.scaling === 'tensor') {
        symmetricInt(values, 0, n, options.tensorAbsMax ?? absMax(values), 127, -127, out, false);
        return out;
      }
      const cam = options.channelAbsMax;
      forGroups(n, rowLength, rowLength, (s, e) => symmetricInt(values, s, e, cam ? cam[s / rowLength]! : absMax(values, s, e), 127, -127, out, false));
      return out;
    }
    case 'int4':
      forGroups(n, rowLength, format.blockSize, (s, e) => symmetricInt(values, s, e, absMax(values, s, e), 7, -8, out, true));
      return out;
    case 'nf4':
      forGroups(n, rowLength, format.blockSize, (s, e) => {
        const m = Math.fround(absMax(values, s, e));
        if (m === 0) return;
        for (let i = s; i < e; i++) out[i] = NF4_CODEBOOK[nearestSorted(NF4_MIDS, values[i]! / m)]! * m;
      });
      return out;
    case 'ternary': {
      const gamma = toHalf(options.tensorAbsMean ?? absMean(values));
      if (gamma > 0) for (let i = 0; i < n; i++) out[i] = Math.max(-1, Math.min(1, rne(values[i]! / gamma))) * gamma;
      return out;
    }
    case 'binary':
      // Stored as ggml Q1_0 (d = mean|x| per 128 in float32, sign bits): the same bytes `apply` writes.
      return ggmlExact(values, rowLength, 'q1_0', out);
    case 'ggml':
      return ggmlFakeQuantize(values, rowLength, format.ggmlType ?? format.id, out);
  }
}

/** Symmetric integer quantization of values[s..e) with max|x| = amax onto [qmin, qmax]. */
function symmetricInt(values: Float32Array, s: number, e: number, amax: number, qmax: number, qmin: number, out: Float32Array, fp16Scale: boolean): void {
  if (!(amax > 0) || !Number.isFinite(amax)) {
    for (let i = s; i < e; i++) out[i] = Number.isFinite(values[i]!) ? 0 : values[i]!;
    return;
  }
  const scale = fp16Scale ? toHalf(amax / qmax) : Math.fround(amax / qmax);
  if (scale === 0) return;
  const inv = 1 / scale;
  for (let i = s; i < e; i++) {
    const y = values[i]! * inv;
    let r = Math.round(y);
    if (r - y === 0.5 && r % 2 !== 0) r -= 1;
    out[i] = (r > qmax ? qmax : r < qmin ? qmin : r) * scale;
  }
}

/** Buckets of {@link nf4Error}'s lookup over [-1, 1]. */
const NF4_BUCKETS = 4096;
/**
 * Per bucket of [-1, 1]: the codebook index of the bucket's lower edge (the search continues from there). Made on
 * first use, not when the module loads: every CLI command loaded it (4,097 searches and their compile at start-up).
 */
let nf4Start: Uint8Array | undefined;
function nf4StartTable(): Uint8Array {
  if (!nf4Start) {
    const t = new Uint8Array(NF4_BUCKETS + 1);
    for (let b = 0; b <= NF4_BUCKETS; b++) t[b] = nearestSorted(NF4_MIDS, -1 + (2 * b) / NF4_BUCKETS);
    nf4Start = t;
  }
  return nf4Start;
}
const NF4_VALUES = Float64Array.from(NF4_CODEBOOK);
const NF4_MIDS_F64 = Float64Array.from(NF4_MIDS);

/**
 * NF4 error sums of `values` (rows of `rowLength`, absmax groups of `group`) added to `acc`: exactly what
 * `acc.add(values, fakeQuantize(values, …, nf4))` adds (same values, same order), without the quantized copy and
 * with the codebook search started from a bucket table (the comparisons against the midpoints decide, as before).
 */
export function nf4Error(values: Float32Array, rowLength: number, group: number, acc: { signal: number; noise: number; maxAbsError: number; overflow: number; count: number }): void {
  const n = values.length;
  const start = nf4StartTable();
  let signal = 0, noise = 0, maxErr = acc.maxAbsError, overflow = 0, count = 0;
  for (let r = 0; r < n; r += rowLength) {
    const rowEnd = Math.min(n, r + rowLength);
    for (let s = r; s < rowEnd; s += group) {
      const e = Math.min(rowEnd, s + group);
      const m = Math.fround(absMax(values, s, e));
      for (let i = s; i < e; i++) {
        const x = values[i]!;
        if (x - x !== 0) continue;
        count++;
        signal += x * x;
        let q = 0;
        if (m !== 0) {
          const y = x / m;
          // y is in [-1, 1] unless m is not finite. The bucket below y's (whose lower edge is surely ≤ y) starts the count of
          // midpoints below y; outside [-1, 1] the plain search, as fakeQuantize does.
          let k: number;
          if (y >= -1 && y <= 1) {
            const b = ((y + 1) * (NF4_BUCKETS / 2)) | 0;
            k = start[b > 0 ? b - 1 : 0]!;
          } else k = nearestSorted(NF4_MIDS, y);
          while (k < 15 && y > NF4_MIDS_F64[k]!) k++;
          q = Math.fround(NF4_VALUES[k]! * m);
        }
        let d = x - q;
        if (d - d !== 0) {
          overflow++;
          d = x;
        }
        noise += d * d;
        const a = d < 0 ? -d : d;
        if (a > maxErr) maxErr = a;
      }
    }
  }
  acc.signal += signal;
  acc.noise += noise;
  acc.maxAbsError = maxErr;
  acc.overflow += overflow;
  acc.count += count;
}

/** Index of the codebook entry nearest to x, given sorted midpoints between entries. */
function nearestSorted(mids: readonly number[], x: number): number {
  let lo = 0, hi = mids.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x > mids[m]!) lo = m + 1;
    else hi = m;
  }
  return lo;
}

function mxQuantize(values: Float32Array, rowLength: number, format: NumberFormat, g: MiniGrid, out: Float32Array, options: FakeQuantizeOptions): Float32Array {
  const n = values.length;
  if (format.id === 'nvfp4') {
    const e4 = GRIDS.fp8_e4m3!;
    const amaxT = options.tensorAbsMax ?? absMax(values);
    if (!(amaxT > 0) || !Number.isFinite(amaxT)) return out;
    const sT = Math.fround(amaxT / (448 * 6));
    forGroups(n, rowLength, format.blockSize, (s, e) => {
      const blockScale = roundMiniFloat(absMax(values, s, e) / 6 / sT, e4.manBits, e4.minExp, e4.maxFinite);
      const eff = blockScale * sT;
      if (eff === 0) return;
      for (let i = s; i < e; i++) out[i] = roundMiniFloat(values[i]! / eff, g.manBits, g.minExp, g.maxFinite) * eff;
    });
    return out;
  }
  forGroups(n, rowLength, format.blockSize, (s, e) => {
    const amax = absMax(values, s, e);
    if (!(amax > 0) || !Number.isFinite(amax)) return;
    // OCP MX v1.0 §6.3: shared exponent = floor(log2(amax)) − emax_elem, clamped to E8M0's range.
    const x = Math.max(-127, Math.min(127, exponentOf(amax) - g.emax));
    const scale = 2 ** x;
    for (let i = s; i < e; i++) out[i] = roundMiniFloat(values[i]! / scale, g.manBits, g.minExp, g.maxFinite) * scale;
  });
  return out;
}

//#region ggml reference quantizers (ggml-quants.c quantize_row_*_ref, dequantized in place)

const KVALUES_MXFP4 = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];
const KVALUES_IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

type GgmlBlockQuantizer = (x: Float32Array, y: Float32Array) => void;

function ggmlFakeQuantize(values: Float32Array, rowLength: number, type: string, out: Float32Array): Float32Array {
  if (isGgmlWritable(type) && dtypeInfo(type)?.kind === 'quantized') return ggmlExact(values, rowLength, type, out);
  const q = GGML_QUANTIZERS[type];
  const bs = GGML_BLOCK[type];
  if (!q || !bs) {
    out.set(values);
    return out;
  }
  const x = new Float32Array(bs);
  const y = new Float32Array(bs);
  forGroups(values.length, rowLength, bs, (s, e) => {
    x.fill(0);
    x.set(values.subarray(s, e));
    y.fill(0);
    q(x, y);
    out.set(y.subarray(0, e - s), s);
  });
  return out;
}

/**
 * The types `apply` writes: simulation IS dequantize(quantize_ref) — the same bytes the GGUF writer stores,
 * decoded by the same decoder as stored tensors (one implementation; test/unit/ggmlQuants.test.ts checks it).
 * A row that is not a whole number of blocks is padded with zeros to one (as if the row were padded).
 */
function ggmlExact(values: Float32Array, rowLength: number, type: string, out: Float32Array): Float32Array {
  const bs = dtypeInfo(type)!.blockSize;
  const n = values.length;
  if (rowLength % bs === 0 && n % bs === 0) {
    // K-quants: the same values without packing and unpacking the bytes (simulateGgml), else decode(quantize).
    if (!simulateGgml(type, values, out)) out.set(decodeElements(type, quantizeGgml(type, values), n));
    return out;
  }
  const padded = new Float32Array(Math.ceil(rowLength / bs) * bs);
  for (let r = 0; r < n; r += rowLength) {
    const len = Math.min(rowLength, n - r);
    padded.fill(0);
    padded.set(values.subarray(r, r + len));
    out.set(decodeElements(type, quantizeGgml(type, padded), padded.length).subarray(0, len), r);
  }
  return out;
}

/** Block sizes of the ggml quantizers (elements). */
const GGML_BLOCK: Readonly<Record<string, number>> = {
  q4_0: 32, q4_1: 32, q5_0: 32, q5_1: 32, q8_0: 32, q8_1: 32, q2_k: 256, q3_k: 256, q4_k: 256, q5_k: 256, q6_k: 256, q8_k: 256,
  tq1_0: 256, tq2_0: 256, q1_0: 128, q2_0: 64, iq4_nl: 32, iq4_xs: 256, nvfp4: 64, gguf_nvfp4: 64, mxfp4: 32,
  iq3_xxs: 256, iq3_s: 256, iq2_xxs: 256, iq2_xs: 256, iq2_s: 256, iq1_s: 256, iq1_m: 256,
};

function amaxSigned(x: Float32Array, s = 0, e = x.length): { amax: number; max: number } {
  let amax = 0, max = 0;
  for (let i = s; i < e; i++) {
    const a = Math.abs(x[i]!);
    if (a > amax) {
      amax = a;
      max = x[i]!;
    }
  }
  return { amax, max };
}

/** q4_0 / q5_0: d = max / −(2^(b−1)), codes trunc(x/d + 2^(b−1) + 0.5) clamped. */
function qx0(bitsHalf: number): GgmlBlockQuantizer {
  return (x, y) => {
    const { max } = amaxSigned(x);
    const d = Math.fround(max / -bitsHalf);
    const id = d ? 1 / d : 0;
    const dh = toHalf(d);
    for (let j = 0; j < x.length; j++) {
      const xi = Math.min(2 * bitsHalf - 1, Math.trunc(x[j]! * id + bitsHalf + 0.5));
      y[j] = (xi - bitsHalf) * dh;
    }
  };
}

/** q4_1 / q5_1: min/max affine, d = (max − min) / (2^b − 1). */
function qx1(levels: number): GgmlBlockQuantizer {
  return (x, y) => {
    let min = Infinity, max = -Infinity;
    for (const v of x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = Math.fround((max - min) / levels);
    const id = d ? 1 / d : 0;
    const dh = toHalf(d), mh = toHalf(min);
    for (let j = 0; j < x.length; j++) {
      const xi = Math.min(levels, Math.trunc((x[j]! - min) * id + 0.5));
      y[j] = xi * dh + mh;
    }
  };
}

const q8_0: GgmlBlockQuantizer = (x, y) => {
  const { amax } = amaxSigned(x);
  const d = Math.fround(amax / 127);
  const id = d ? 1 / d : 0;
  const dh = toHalf(d);
  for (let j = 0; j < x.length; j++) y[j] = roundAway(x[j]! * id) * dh;
};

/** make_qkx2_quants: affine (scale, min) fit of n values onto 0..nmax, minimizing weighted error. */
function makeQkx2(x: Float32Array, o: number, n: number, nmax: number, w: Float64Array, L: Uint8Array, rmin: number, rdelta: number, nstep: number, useMad: boolean): { scale: number; min: number } {
  let min = x[o]!, max = x[o]!, sumW = w[0]!, sumX = sumW * x[o]!;
  for (let i = 1; i < n; i++) {
    const v = x[o + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW += w[i]!;
    sumX += w[i]! * v;
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    return { scale: 0, min: -min };
  }
  let iscale = nmax / (max - min);
  let scale = 1 / iscale;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[o + i]! - min))));
    L[i] = l;
    const diff = scale * l + min - x[o + i]!;
    best += w[i]! * (useMad ? Math.abs(diff) : diff * diff);
  }
  const Laux = new Uint8Array(n);
  for (let is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[o + i]! - min))));
      Laux[i] = l;
      sumL += w[i]! * l;
      sumL2 += w[i]! * l * l;
      sumXL += w[i]! * l * x[o + i]!;
    }
    const D = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      let thisScale = (sumW * sumXL - sumX * sumL) / D;
      let thisMin = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      let cur = 0;
      for (let i = 0; i < n; i++) {
        const diff = thisScale * Laux[i]! + thisMin - x[o + i]!;
        cur += w[i]! * (useMad ? Math.abs(diff) : diff * diff);
      }
      if (cur < best) {
        L.set(Laux.subarray(0, n));
        best = cur;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return { scale, min: -min };
}

/** make_qx_quants with rmse_type 1 and no importance weights (q6_k). Returns the scale; fills L with l + nmax. */
function makeQx(x: Float32Array, o: number, n: number, nmax: number, L: Int8Array): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[o + i]!);
    if (a > amax) {
      amax = a;
      max = x[o + i]!;
    }
  }
  if (amax < 1e-15) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = -nmax / max;
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[o + i]!;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
    L[i] = l + nmax;
    const w = v * v;
    sumlx += w * v * l;
    suml2 += w * l * l;
  }
  let scale = suml2 ? sumlx / suml2 : 0;
  let best = scale * sumlx;
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = -(nmax + 0.1 * is) / max;
    sumlx = suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[o + i]!;
      const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
      const w = v * v;
      sumlx += w * v * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (let i = 0; i < n; i++) L[i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[o + i]!)));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/** make_q3_quants with do_rmse (q3_k). Returns the scale. */
function makeQ3(x: Float32Array, o: number, n: number, nmax: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(x[o + i]!);
    if (a > amax) {
      amax = a;
      max = x[o + i]!;
    }
  }
  if (amax < 1e-15) return 0;
  const iscale = -nmax / max;
  const L = new Int32Array(n);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[o + i]!;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
    L[i] = l;
    const w = v * v;
    sumlx += w * v * l;
    suml2 += w * l * l;
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const v = x[o + i]!;
      const w = v * v;
      let slx = sumlx - w * v * L[i]!;
      if (slx > 0) {
        let sl2 = suml2 - w * L[i]! * L[i]!;
        const nl = Math.max(-nmax, Math.min(nmax - 1, nearestInt((v * sl2) / slx)));
        if (nl !== L[i]) {
          slx += w * v * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  return suml2 > 0 ? sumlx / suml2 : 0;
}

/** q4_k / q5_k reference: 8 sub-blocks of 32 with 6-bit scales and mins under FP16 super-scales. */
function qk45(nmax: number, rmin: number, rdelta: number, nstep: number): GgmlBlockQuantizer {
  return (x, y) => {
    const scales = new Float64Array(8), mins = new Float64Array(8);
    const w = new Float64Array(32);
    const L = new Uint8Array(32);
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 += x[32 * j + l]! ** 2;
      const avX = Math.sqrt(sumX2 / 32);
      for (let l = 0; l < 32; l++) w[l] = avX + Math.abs(x[32 * j + l]!);
      const r = makeQkx2(x, 32 * j, 32, nmax, w, L, rmin, rdelta, nstep, false);
      scales[j] = r.scale;
      mins[j] = r.min;
      if (r.scale > maxScale) maxScale = r.scale;
      if (r.min > maxMin) maxMin = r.min;
    }
    const invScale = maxScale > 0 ? 63 / maxScale : 0;
    const invMin = maxMin > 0 ? 63 / maxMin : 0;
    const d = toHalf(maxScale / 63), dmin = toHalf(maxMin / 63);
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(invScale * scales[j]!) & 0xff);
      const lm = Math.min(63, nearestInt(invMin * mins[j]!) & 0xff);
      const dd = d * ls;
      const dm = dmin * lm;
      for (let ii = 0; ii < 32; ii++) {
        const l = dd ? Math.max(0, Math.min(nmax, nearestInt((x[32 * j + ii]! + dm) / dd))) : 0;
        y[32 * j + ii] = dd * l - dm;
      }
    }
  };
}

const q2_k: GgmlBlockQuantizer = (x, y) => {
  const scales = new Float64Array(16), mins = new Float64Array(16);
  const w = new Float64Array(16);
  const L = new Uint8Array(16);
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 16; j++) {
    for (let l = 0; l < 16; l++) w[l] = Math.abs(x[16 * j + l]!);
    const r = makeQkx2(x, 16 * j, 16, 3, w, L, -0.5, 0.1, 15, true);
    scales[j] = r.scale;
    mins[j] = r.min;
    if (r.scale > maxScale) maxScale = r.scale;
    if (r.min > maxMin) maxMin = r.min;
  }
  const ls = new Uint8Array(16), lm = new Uint8Array(16);
  let d = 0, dmin = 0;
  if (maxScale > 0) {
    const iscale = 15 / maxScale;
    for (let j = 0; j < 16; j++) ls[j] = nearestInt(iscale * scales[j]!) & 0xf;
    d = toHalf(maxScale / 15);
  }
  if (maxMin > 0) {
    const iscale = 15 / maxMin;
    for (let j = 0; j < 16; j++) lm[j] = nearestInt(iscale * mins[j]!) & 0xf;
    dmin = toHalf(maxMin / 15);
  }
  for (let j = 0; j < 16; j++) {
    const dd = d * ls[j]!;
    const dm = dmin * lm[j]!;
    for (let ii = 0; ii < 16; ii++) {
      // A zero sub-scale keeps L = the initial fit's code, but dequantizes as −dm regardless.
      const l = dd ? Math.max(0, Math.min(3, nearestInt((x[16 * j + ii]! + dm) / dd))) : 0;
      y[16 * j + ii] = dd * l - dm;
    }
  }
};

const q3_k: GgmlBlockQuantizer = (x, y) => {
  const scales = new Float64Array(16);
  let maxScale = 0, amax = 0;
  for (let j = 0; j < 16; j++) {
    scales[j] = makeQ3(x, 16 * j, 16, 4);
    const a = Math.abs(scales[j]!);
    if (a > amax) {
      amax = a;
      maxScale = scales[j]!;
    }
  }
  if (!maxScale) return;
  const iscale = -32 / maxScale;
  const d = toHalf(1 / iscale);
  for (let j = 0; j < 16; j++) {
    const sc = Math.max(-32, Math.min(31, nearestInt(iscale * scales[j]!)));
    const dd = d * sc;
    for (let ii = 0; ii < 16; ii++) {
      const l = dd ? Math.max(-4, Math.min(3, nearestInt(x[16 * j + ii]! / dd))) : 0;
      y[16 * j + ii] = dd * l;
    }
  }
};

const q6_k: GgmlBlockQuantizer = (x, y) => {
  const scales = new Float64Array(16);
  const L = new Int8Array(16);
  let maxScale = 0, maxAbsScale = 0;
  for (let ib = 0; ib < 16; ib++) {
    const s = makeQx(x, 16 * ib, 16, 32, L);
    scales[ib] = s;
    if (Math.abs(s) > maxAbsScale) {
      maxAbsScale = Math.abs(s);
      maxScale = s;
    }
  }
  if (maxAbsScale < 1e-15) return;
  const iscale = -128 / maxScale;
  const d = toHalf(1 / iscale);
  for (let j = 0; j < 16; j++) {
    const sc = Math.min(127, nearestInt(iscale * scales[j]!));
    const s8 = (sc << 24) >> 24;
    const dd = d * s8;
    for (let ii = 0; ii < 16; ii++) {
      const l = dd ? Math.max(-32, Math.min(31, nearestInt(x[16 * j + ii]! / dd))) : 0;
      y[16 * j + ii] = dd * l;
    }
  }
};

/** tq1_0 / tq2_0: d = max|x| per 256, trits lround(x/d). */
const tq: GgmlBlockQuantizer = (x, y) => {
  const { amax } = amaxSigned(x);
  const id = amax ? 1 / amax : 0;
  const d = toHalf(amax);
  for (let j = 0; j < x.length; j++) y[j] = roundAway(x[j]! * id) * d;
};

const q1_0: GgmlBlockQuantizer = (x, y) => {
  let s = 0;
  for (const v of x) s += Math.abs(v);
  const d = toHalf(s / x.length);
  for (let j = 0; j < x.length; j++) y[j] = x[j]! >= 0 ? d : -d;
};

const q2_0: GgmlBlockQuantizer = (x, y) => {
  const { amax } = amaxSigned(x);
  const id = amax > 0 ? 1 / amax : 0;
  const d = toHalf(amax);
  for (let j = 0; j < x.length; j++) y[j] = (Math.max(0, Math.min(3, roundAway(x[j]! * id) + 1)) - 1) * d;
};

function bestIndex(values: readonly number[], x: number, e: number): number {
  let best = 0, err = Math.abs(values[0]! * e - x);
  for (let i = 1; i < values.length; i++) {
    const er = Math.abs(values[i]! * e - x);
    if (er < err) {
      best = i;
      err = er;
    }
  }
  return best;
}

const mxfp4Ggml: GgmlBlockQuantizer = (x, y) => {
  const { amax } = amaxSigned(x);
  const e = amax > 0 ? Math.floor(Math.log2(amax)) - 2 + 127 : 0;
  const d = 2 ** (Math.max(0, Math.min(255, e)) - 128);
  for (let j = 0; j < x.length; j++) y[j] = KVALUES_MXFP4[bestIndex(KVALUES_MXFP4, x[j]!, d)]! * d;
};

/** ggml_fp32_to_ue4m3 then ggml_ue4m3_to_fp32 (the 0.5 convention), approximated by the E4M3 grid with saturation. */
function ue4m3HalfRound(v: number): number {
  if (!(v > 0)) return 0;
  const r = roundMiniFloat(Math.min(v, 448), 3, -6, 448);
  return r * 0.5;
}

const nvfp4Ggml: GgmlBlockQuantizer = (x, y) => {
  for (let s = 0; s < 4; s++) {
    const { amax } = amaxSigned(x, s * 16, s * 16 + 16);
    const d = ue4m3HalfRound(amax / 6);
    for (let j = s * 16; j < s * 16 + 16; j++) y[j] = d ? KVALUES_MXFP4[bestIndex(KVALUES_MXFP4, x[j]!, d)]! * d : 0;
  }
};

/** iq4_nl: ggml quantize_row_iq4_nl_impl without importance weights (weights = x²), scale search ±7. */
function iq4nlBlocks(sub: number): GgmlBlockQuantizer {
  return (x, y) => {
    for (let o = 0; o < x.length; o += sub) {
      const { amax, max } = amaxSigned(x, o, o + sub);
      if (amax < 1e-15) continue;
      let d = max / KVALUES_IQ4NL[0]!;
      let id = 1 / d;
      let sumqx = 0, sumq2 = 0;
      for (let j = o; j < o + sub; j++) {
        const q = KVALUES_IQ4NL[bestIndex(KVALUES_IQ4NL, x[j]! * id, 1)]!;
        const w = x[j]! * x[j]!;
        sumqx += w * q * x[j]!;
        sumq2 += w * q * q;
      }
      d = sumq2 > 0 ? sumqx / sumq2 : d;
      let best = d * sumqx;
      for (let itry = -7; itry <= 7; itry++) {
        id = (itry + KVALUES_IQ4NL[0]!) / max;
        let sqx = 0, sq2 = 0;
        for (let j = o; j < o + sub; j++) {
          const q = KVALUES_IQ4NL[bestIndex(KVALUES_IQ4NL, x[j]! * id, 1)]!;
          const w = x[j]! * x[j]!;
          sqx += w * q * x[j]!;
          sq2 += w * q * q;
        }
        if (sq2 > 0 && sqx * sqx > best * sq2) {
          d = sqx / sq2;
          best = d * sqx;
        }
      }
      const dh = toHalf(d);
      if (!dh) continue;
      for (let j = o; j < o + sub; j++) y[j] = KVALUES_IQ4NL[bestIndex(KVALUES_IQ4NL, x[j]! / dh, 1)]! * dh;
    }
  };
}

/** Ternary with an absmean scale per 32 (approximation for IQ1_S / IQ1_M). */
const ternary32: GgmlBlockQuantizer = (x, y) => {
  for (let o = 0; o < x.length; o += 32) {
    const g = toHalf(absMean(x, o, o + 32));
    if (g > 0) for (let j = o; j < o + 32; j++) y[j] = Math.max(-1, Math.min(1, rne(x[j]! / g))) * g;
  }
};

const GGML_QUANTIZERS: Readonly<Record<string, GgmlBlockQuantizer>> = {
  q4_0: qx0(8),
  q5_0: qx0(16),
  q4_1: qx1(15),
  q5_1: qx1(31),
  q8_0,
  q8_1: q8_0,
  q8_k: q8_0,
  q2_k,
  q3_k,
  q4_k: qk45(15, -1, 0.1, 20),
  q5_k: qk45(31, -0.5, 0.1, 15),
  q6_k,
  tq1_0: tq,
  tq2_0: tq,
  q1_0,
  q2_0,
  mxfp4: mxfp4Ggml,
  nvfp4: nvfp4Ggml,
  gguf_nvfp4: nvfp4Ggml,
  iq4_nl: iq4nlBlocks(32),
  iq4_xs: iq4nlBlocks(32),
  iq3_xxs: q3_k,
  iq3_s: q3_k,
  iq2_xxs: q2_k,
  iq2_xs: q2_k,
  iq2_s: q2_k,
  iq1_s: ternary32,
  iq1_m: ternary32,
};

/** ggml types whose fake quantization is an approximation (documented above), for report notes. */
export const APPROXIMATE_GGML_TYPES: readonly string[] = ['iq4_xs', 'iq3_xxs', 'iq3_s', 'iq2_xxs', 'iq2_xs', 'iq2_s', 'iq1_s', 'iq1_m'];

//#endregion
