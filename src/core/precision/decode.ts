/**
 * Tensor bytes → Float32Array for every stored dtype the IR knows, and back (for writing fake-quantized
 * weights into a model copy). Pure: no I/O, bounded by the caller's byte range.
 *
 * Sources:
 * - IEEE 754 half/single/double; bfloat16 = the top 16 bits of a float32.
 * - FP8: OCP OFP8 v1.0 (E4M3FN: bias 7, no Inf, NaN = S.1111.111; E5M2: IEEE-like, bias 15) and the FNUZ
 *   variants (bias 8 / 16, NaN = 0x80 only, no −0) — ../shared/reference/hardware-and-formats.md §5.1.
 * - ONNX packing (https://github.com/onnx/onnx/blob/main/docs/IR.md): INT4/UINT4/FLOAT4E2M1 two per byte, low
 *   nibble first; typed-data fields (`int32_data` holds FP16/BF16/FP8 bit patterns and small ints) as varints.
 * - ggml blocks: `dequantize_row_*` in ggml/src/ggml-quants.c and the block structs in ggml-common.h
 *   (ggml-org/llama.cpp @01243c58). Field order per struct is noted at each decoder.
 */
import { readVarint, varintInt32, varintInt64, varintUnsigned, VARINT_TRUNCATED, type VarintParts } from '../io/varint';
import { dtypeInfo, type DType } from '../model/dtypes';
import type { TensorInfo, TensorLocation } from '../model/types';

//#region scalar conversions

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

let halfTable: Float32Array | undefined;
/**
 * 65536-entry FP16 → float table (built once per thread; 256 KiB), the values of {@link halfBitsToFloat} (NaN codes
 * as the one quiet NaN it returns). Written as float32 bit patterns (a normal half's exponent rebiased by 112 and
 * its mantissa shifted by 13; subnormals m·2^-24, exact in float32): ~4 ms in a fresh thread instead of 8–14 ms.
 */
export function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    const t = new Float32Array(65536);
    const u = new Uint32Array(t.buffer);
    for (let h = 0; h < 65536; h++) {
      const sign = (h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      if (e === 0) t[h] = (sign ? -m : m) * 2 ** -24;
      else if (e === 31) u[h] = m ? 0x7fc00000 : (sign | 0x7f800000) >>> 0;
      else u[h] = (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
    }
    halfTable = t;
  }
  return halfTable;
}

/** Exact IEEE half → number. */
export function halfBitsToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** number → IEEE half bits, round-to-nearest-even, overflow to ±Inf (values ≥ 65520 round to Inf). */
export function floatToHalfBits(v: number): number {
  F32[0] = v;
  const x = U32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  const rest = mant & 0x1fff;
  let r = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) r++; // may carry into the exponent → Inf, which is correct
  return sign | r;
}

/** number → bfloat16 bits, round-to-nearest-even (NaN stays NaN). */
export function floatToBf16Bits(v: number): number {
  F32[0] = v;
  const x = U32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Layout of a small float (FP8/FP6/FP4 element or scale). */
export interface MiniFloatSpec {
  readonly expBits: number;
  readonly manBits: number;
  readonly bias: number;
  /** 'ieee': top exponent is Inf/NaN; 'fn': only all-ones is NaN (E4M3FN); 'fnuz': 0x80 is NaN, no −0; 'none': every code finite (FP6/FP4). */
  readonly special: 'ieee' | 'fn' | 'fnuz' | 'none';
  readonly signed: boolean;
}

/** Minifloat layouts by dtype/element id (OCP OFP8 v1.0, OCP MX v1.0, ROCm FNUZ docs). */
export const MINI_FLOATS = {
  fp8_e4m3: { expBits: 4, manBits: 3, bias: 7, special: 'fn', signed: true },
  fp8_e5m2: { expBits: 5, manBits: 2, bias: 15, special: 'ieee', signed: true },
  fp8_e4m3fnuz: { expBits: 4, manBits: 3, bias: 8, special: 'fnuz', signed: true },
  fp8_e5m2fnuz: { expBits: 5, manBits: 2, bias: 16, special: 'fnuz', signed: true },
  fp6_e2m3: { expBits: 2, manBits: 3, bias: 1, special: 'none', signed: true },
  fp6_e3m2: { expBits: 3, manBits: 2, bias: 3, special: 'none', signed: true },
  fp4_e2m1: { expBits: 2, manBits: 1, bias: 1, special: 'none', signed: true },
} as const satisfies Record<string, MiniFloatSpec>;

/** Decodes one code of a minifloat. */
export function miniFloatToNumber(spec: MiniFloatSpec, code: number): number {
  const bits = 1 + spec.expBits + spec.manBits;
  const signBit = 1 << (bits - 1);
  const neg = spec.signed && (code & signBit) !== 0;
  const mag = code & (signBit - 1);
  const e = mag >> spec.manBits;
  const m = mag & ((1 << spec.manBits) - 1);
  const maxE = (1 << spec.expBits) - 1;
  if (spec.special === 'fnuz' && code === signBit) return NaN;
  if (spec.special === 'fn' && mag === (1 << (bits - 1)) - 1) return NaN;
  if (spec.special === 'ieee' && e === maxE) return m ? NaN : neg ? -Infinity : Infinity;
  const v = e === 0 ? m * 2 ** (1 - spec.bias - spec.manBits) : (1 + m / (1 << spec.manBits)) * 2 ** (e - spec.bias);
  return neg ? -v : v;
}

function miniTable(spec: MiniFloatSpec): Float32Array {
  const n = 1 << (1 + spec.expBits + spec.manBits);
  const t = new Float32Array(n);
  for (let c = 0; c < n; c++) t[c] = miniFloatToNumber(spec, c);
  return t;
}

const tableCache = new Map<string, Float32Array>();
function cachedTable(key: string, build: () => Float32Array): Float32Array {
  let t = tableCache.get(key);
  if (!t) tableCache.set(key, (t = build()));
  return t;
}

/** E8M0 (MX shared scale): 2^(code−127); 0xFF is NaN. */
export function e8m0ToNumber(code: number): number {
  return code === 0xff ? NaN : 2 ** (code - 127);
}

//#endregion

//#region varints (ONNX typed data)

/** Reads packed little-endian base-128 varints into numbers. `kind` says how to interpret 64-bit values. */
function readVarints(bytes: Uint8Array, count: number, kind: 'int32' | 'int64' | 'uint64'): Float64Array {
  const out = new Float64Array(count);
  const parts: VarintParts = { lo: 0, hi: 0, next: 0 };
  let p = 0;
  for (let i = 0; i < count; i++) {
    // A varint longer than 10 bytes is read as its first 10 (the next value starts after them).
    if (readVarint(bytes, p, bytes.length, parts) === VARINT_TRUNCATED) throw new RangeError(`packed varint data ends after ${i} of ${count} values`);
    p = parts.next;
    out[i] = kind === 'uint64' ? varintUnsigned(parts) : kind === 'int32' ? varintInt32(parts) : varintInt64(parts);
  }
  return out;
}

//#endregion

//#region ggml block decoders

const QK_K = 256;
/** kvalues_mxfp4 (ggml-common.h): E2M1 values doubled; the 0.5 lives in the scale decoders. */
const KVALUES_MXFP4 = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12] as const;
/** kvalues_iq4nl (ggml-common.h). */
const KVALUES_IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] as const;

/** ggml_e8m0_to_fp32_half: 2^(x−128). */
function e8m0Half(x: number): number {
  return 2 ** (x - 128);
}

/** ggml_ue4m3_to_fp32: 0.5 × UE4M3(x); 0 and 0x7F decode to 0. */
export function ue4m3Half(x: number): number {
  if (x === 0 || x === 0x7f) return 0;
  const exp = (x >> 3) & 0xf;
  const man = x & 7;
  const raw = exp === 0 ? man * 2 ** -9 : (1 + man / 8) * 2 ** (exp - 7);
  return raw * 0.5;
}

type BlockDecoder = (b: Uint8Array, o: number, y: Float32Array, yo: number, h: Float32Array) => void;

function f16(b: Uint8Array, o: number, h: Float32Array): number {
  return h[b[o]! | (b[o + 1]! << 8)]!;
}

/** get_scale_min_k4 (ggml-quants.c) for Q4_K/Q5_K 12-byte packed 6-bit scales and mins: the scale (no tuple per call). */
function scaleK4(j: number, q: Uint8Array, o: number): number {
  return j < 4 ? q[o + j]! & 63 : (q[o + j + 4]! & 0xf) | ((q[o + j - 4]! >> 6) << 4);
}

/** get_scale_min_k4: the min. */
function minK4(j: number, q: Uint8Array, o: number): number {
  return j < 4 ? q[o + j + 4]! & 63 : (q[o + j + 4]! >> 4) | ((q[o + j]! >> 6) << 4);
}

/** Q3_K's 16 signed sub-block scales, reused by every block (decoders are synchronous). */
const Q3K_SCALES = new Int8Array(16);

/** Block decoders, keyed by ggml dtype id. Each writes blockSize floats at y[yo..]. */
const GGML_DECODERS: Readonly<Record<string, BlockDecoder>> = {
  // block_q4_0 { half d; u8 qs[16] }
  q4_0: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j]!;
      y[yo + j] = ((q & 0xf) - 8) * d;
      y[yo + j + 16] = ((q >> 4) - 8) * d;
    }
  },
  // block_q4_1 { half d; half m; u8 qs[16] }
  q4_1: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    const m = f16(b, o + 2, h);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 4 + j]!;
      y[yo + j] = (q & 0xf) * d + m;
      y[yo + j + 16] = (q >> 4) * d + m;
    }
  },
  // block_q5_0 { half d; u8 qh[4]; u8 qs[16] }
  q5_0: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    const qh = (b[o + 2]! | (b[o + 3]! << 8) | (b[o + 4]! << 16) | (b[o + 5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      y[yo + j] = (((q & 0xf) | h0) - 16) * d;
      y[yo + j + 16] = (((q >> 4) | h1) - 16) * d;
    }
  },
  // block_q5_1 { half d; half m; u8 qh[4]; u8 qs[16] }
  q5_1: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    const m = f16(b, o + 2, h);
    const qh = (b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = b[o + 8 + j]!;
      const h0 = ((qh >>> j) << 4) & 0x10;
      const h1 = (qh >>> (j + 12)) & 0x10;
      y[yo + j] = ((q & 0xf) | h0) * d + m;
      y[yo + j + 16] = ((q >> 4) | h1) * d + m;
    }
  },
  // block_q8_0 { half d; i8 qs[32] }
  q8_0: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    for (let j = 0; j < 32; j++) y[yo + j] = ((b[o + 2 + j]! << 24) >> 24) * d;
  },
  // block_q8_1 { half d; half s; i8 qs[32] }
  q8_1: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    for (let j = 0; j < 32; j++) y[yo + j] = ((b[o + 4 + j]! << 24) >> 24) * d;
  },
  // block_q2_K { u8 scales[16]; u8 qs[64]; half d; half dmin }
  q2_k: (b, o, y, yo, h) => {
    const d = f16(b, o + 80, h);
    const min = f16(b, o + 82, h);
    let q = o + 16;
    let is = 0;
    let p = yo;
    for (let n = 0; n < QK_K; n += 128) {
      for (let shift = 0; shift < 8; shift += 2) {
        let sc = b[o + is++]!;
        let dl = d * (sc & 0xf);
        let ml = min * (sc >> 4);
        for (let l = 0; l < 16; l++) y[p++] = dl * ((b[q + l]! >> shift) & 3) - ml;
        sc = b[o + is++]!;
        dl = d * (sc & 0xf);
        ml = min * (sc >> 4);
        for (let l = 0; l < 16; l++) y[p++] = dl * ((b[q + l + 16]! >> shift) & 3) - ml;
      }
      q += 32;
    }
  },
  // block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d }
  q3_k: (b, o, y, yo, h) => {
    const dAll = f16(b, o + 108, h);
    const sc = o + 96;
    const scales = Q3K_SCALES;
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? b[sc + j]! & 0xf : b[sc + j - 8]! >> 4;
      const high = (b[sc + 8 + (j % 4)]! >> (2 * (j >> 2))) & 3;
      scales[j] = (low | (high << 4)) - 32;
    }
    let q = o + 32;
    let m = 1;
    let is = 0;
    let p = yo;
    for (let n = 0; n < QK_K; n += 128) {
      for (let shift = 0; shift < 8; shift += 2) {
        let dl = dAll * scales[is++]!;
        for (let l = 0; l < 16; l++) y[p++] = dl * (((b[q + l]! >> shift) & 3) - (b[o + l]! & m ? 0 : 4));
        dl = dAll * scales[is++]!;
        for (let l = 0; l < 16; l++) y[p++] = dl * (((b[q + l + 16]! >> shift) & 3) - (b[o + l + 16]! & m ? 0 : 4));
        m <<= 1;
      }
      q += 32;
    }
  },
  // block_q4_K { half d; half dmin; u8 scales[12]; u8 qs[128] }
  q4_k: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    const min = f16(b, o + 2, h);
    let q = o + 16;
    let p = yo;
    for (let is = 0; is < 8; is += 2) {
      const d1 = d * scaleK4(is, b, o + 4), mm1 = min * minK4(is, b, o + 4), d2 = d * scaleK4(is + 1, b, o + 4), mm2 = min * minK4(is + 1, b, o + 4);
      for (let l = 0; l < 32; l++) y[p++] = d1 * (b[q + l]! & 0xf) - mm1;
      for (let l = 0; l < 32; l++) y[p++] = d2 * (b[q + l]! >> 4) - mm2;
      q += 32;
    }
  },
  // block_q5_K { half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }
  q5_k: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    const min = f16(b, o + 2, h);
    const qh = o + 16;
    let ql = o + 48;
    let p = yo;
    let u1 = 1, u2 = 2;
    for (let is = 0; is < 8; is += 2) {
      const d1 = d * scaleK4(is, b, o + 4), mm1 = min * minK4(is, b, o + 4), d2 = d * scaleK4(is + 1, b, o + 4), mm2 = min * minK4(is + 1, b, o + 4);
      for (let l = 0; l < 32; l++) y[p++] = d1 * ((b[ql + l]! & 0xf) + (b[qh + l]! & u1 ? 16 : 0)) - mm1;
      for (let l = 0; l < 32; l++) y[p++] = d2 * ((b[ql + l]! >> 4) + (b[qh + l]! & u2 ? 16 : 0)) - mm2;
      ql += 32;
      u1 <<= 2;
      u2 <<= 2;
    }
  },
  // block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d }
  q6_k: (b, o, y, yo, h) => {
    const d = f16(b, o + 208, h);
    let ql = o, qh = o + 128, sc = o + 192, p = yo;
    for (let n = 0; n < QK_K; n += 128) {
      for (let l = 0; l < 32; l++) {
        const is = sc + (l >> 4);
        const q1 = ((b[ql + l]! & 0xf) | (((b[qh + l]! >> 0) & 3) << 4)) - 32;
        const q2 = ((b[ql + l + 32]! & 0xf) | (((b[qh + l]! >> 2) & 3) << 4)) - 32;
        const q3 = ((b[ql + l]! >> 4) | (((b[qh + l]! >> 4) & 3) << 4)) - 32;
        const q4 = ((b[ql + l + 32]! >> 4) | (((b[qh + l]! >> 6) & 3) << 4)) - 32;
        y[p + l] = d * ((b[is]! << 24) >> 24) * q1;
        y[p + l + 32] = d * ((b[is + 2]! << 24) >> 24) * q2;
        y[p + l + 64] = d * ((b[is + 4]! << 24) >> 24) * q3;
        y[p + l + 96] = d * ((b[is + 6]! << 24) >> 24) * q4;
      }
      p += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  },
  // block_q8_K { float d; i8 qs[256]; i16 bsums[16] }
  q8_k: (b, o, y, yo) => {
    const d = new DataView(b.buffer, b.byteOffset + o, 4).getFloat32(0, true);
    for (let j = 0; j < QK_K; j++) y[yo + j] = ((b[o + 4 + j]! << 24) >> 24) * d;
  },
  // block_tq1_0 { u8 qs[48]; u8 qh[4]; half d } — base-3 digits extracted by multiply-and-shift
  tq1_0: (b, o, y, yo, h) => {
    const d = f16(b, o + 52, h);
    const pow3 = [1, 3, 9, 27, 81, 243];
    let p = yo;
    const trit = (byte: number, n: number): number => ((((byte * pow3[n]!) & 0xff) * 3) >> 8) - 1;
    for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) y[p++] = trit(b[o + m]!, n) * d;
    for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) y[p++] = trit(b[o + 32 + m]!, n) * d;
    for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) y[p++] = trit(b[o + 48 + j]!, n) * d;
  },
  // block_tq2_0 { u8 qs[64]; half d }
  tq2_0: (b, o, y, yo, h) => {
    const d = f16(b, o + 64, h);
    let p = yo;
    for (let j = 0; j < 64; j += 32) for (let l = 0; l < 4; l++) for (let m = 0; m < 32; m++) y[p++] = (((b[o + j + m]! >> (l * 2)) & 3) - 1) * d;
  },
  // block_mxfp4 { u8 e; u8 qs[16] }
  mxfp4: (b, o, y, yo) => {
    const d = e8m0Half(b[o]!);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 1 + j]!;
      y[yo + j] = KVALUES_MXFP4[q & 0xf]! * d;
      y[yo + j + 16] = KVALUES_MXFP4[q >> 4]! * d;
    }
  },
  // block_nvfp4 { u8 d[4] (UE4M3, one per 16); u8 qs[32] } — the per-tensor FP32 scale is not in the block
  nvfp4: (b, o, y, yo) => {
    for (let s = 0; s < 4; s++) {
      const d = ue4m3Half(b[o + s]!);
      for (let j = 0; j < 8; j++) {
        const q = b[o + 4 + s * 8 + j]!;
        y[yo + s * 16 + j] = KVALUES_MXFP4[q & 0xf]! * d;
        y[yo + s * 16 + j + 8] = KVALUES_MXFP4[q >> 4]! * d;
      }
    }
  },
  // block_q1_0 { half d; u8 qs[16] } — one sign bit per weight: bit set → +d, clear → −d
  q1_0: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    for (let j = 0; j < 128; j++) y[yo + j] = (b[o + 2 + (j >> 3)]! >> (j & 7)) & 1 ? d : -d;
  },
  // block_q2_0 { half d; u8 qs[16] } — 2-bit codes 0..3 → (q − 1)·d
  q2_0: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    for (let j = 0; j < 64; j++) y[yo + j] = (((b[o + 2 + (j >> 2)]! >> ((j & 3) * 2)) & 3) - 1) * d;
  },
  // PrismML's fork: block_q2_0 { half d; u8 qs[32] } with QK2_0 = 128 (its ggml-common.h), same code order as upstream
  q2_0_g128: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    for (let j = 0; j < 128; j++) y[yo + j] = (((b[o + 2 + (j >> 2)]! >> ((j & 3) * 2)) & 3) - 1) * d;
  },
  // block_iq4_nl { half d; u8 qs[16] }
  iq4_nl: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j]!;
      y[yo + j] = d * KVALUES_IQ4NL[q & 0xf]!;
      y[yo + j + 16] = d * KVALUES_IQ4NL[q >> 4]!;
    }
  },
  // block_iq4_xs { half d; u16 scales_h; u8 scales_l[4]; u8 qs[128] }
  iq4_xs: (b, o, y, yo, h) => {
    const d = f16(b, o, h);
    const scalesH = b[o + 2]! | (b[o + 3]! << 8);
    let p = yo;
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((b[o + 4 + (ib >> 1)]! >> (4 * (ib % 2))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4);
      const dl = d * (ls - 32);
      const qs = o + 8 + ib * 16;
      for (let j = 0; j < 16; j++) {
        y[p + j] = dl * KVALUES_IQ4NL[b[qs + j]! & 0xf]!;
        y[p + j + 16] = dl * KVALUES_IQ4NL[b[qs + j]! >> 4]!;
      }
      p += 32;
    }
  },
};

//#endregion

/**
 * Layouts decoded over the whole tensor rather than block by block:
 * - `i2_s` (bitnet.cpp `quantize_i2_s`, x86 build as in the published BitNet b1.58 GGUFs): blocks of 128 weights in
 *   32 bytes, weight j of a block in byte j mod 32 at bits 6 − 2 × ⌊j / 32⌋; code 0/1/2 = −1/0/+1; then one FP32
 *   scale (the tensor's max |w|) at byte n/4, padded to 32 bytes. bitnet.cpp's ARM build writes 64-weight blocks
 *   (16 bytes); such a file decodes to the same values permuted within each block of 128.
 * - `ternary_u8x4` (transformers `integrations/bitnet.py` `unpack_weights`): uint8 [P, …]; bits 2i..2i+1 of packed
 *   row r hold unpacked row i × P + r, value code − 1. The per-tensor `weight_scale` (a sibling tensor; the layer
 *   computes y / weight_scale) is not applied: decoded weights are the ternary codes, one factor off the real ones.
 */
const WHOLE_TENSOR_DECODERS: ReadonlySet<string> = new Set(['i2_s', 'ternary_u8x4']);

/** Why a dtype cannot be decoded, or undefined when it can. */
export function decodeUnsupportedReason(dtype: DType): string | undefined {
  const info = dtypeInfo(dtype);
  if (!info) return `unknown dtype '${dtype}'`;
  if (info.kind === 'string') return 'string tensors hold no numeric weights';
  if (info.kind === 'complex') return 'complex tensors are not analyzed';
  if (dtype === 'mxfp4_split') return 'MXFP4 stored as separate _blocks and _scales tensors (gpt-oss safetensors) is not decoded yet';
  if (dtype === 'tl1' || dtype === 'tl2') return `bitnet.cpp ${info.label} is tiled for its lookup-table kernels (tile sizes are not in the file) and is not decoded`;
  if (info.kind === 'quantized' && !GGML_DECODERS[dtype] && !WHOLE_TENSOR_DECODERS.has(dtype)) return `ggml type ${info.label}${dtype.startsWith('iq') ? ' (lattice codebook)' : ''} is not decoded yet`;
  return undefined;
}

/** True when {@link decodeElements} handles `dtype`. */
export function isDecodable(dtype: DType): boolean {
  return decodeUnsupportedReason(dtype) === undefined;
}

/**
 * Decodes `elementCount` elements of `dtype` stored with `encoding` from `bytes` (which must start at an element
 * or block boundary). Throws RangeError when the bytes are too short or the dtype is unsupported.
 */
/**
 * Raw little-endian FLOAT32, FLOAT16 or BFLOAT16 `bytes` (at least `elementCount` elements: the caller checks) decoded
 * into `out[at..at + elementCount)`, as {@link decodeElements} decodes them (it calls this), without an array of
 * their own.
 */
export function decodeFloatsInto(dtype: 'float32' | 'float16' | 'bfloat16', bytes: Uint8Array, elementCount: number, out: Float32Array, at: number): void {
  switch (dtype) {
    case 'float32':
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, elementCount), at);
      else {
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < elementCount; i++) out[at + i] = dv.getFloat32(i * 4, true);
      }
      return;
    case 'float16': {
      const t = halfToFloatTable();
      for (let i = 0, p = 0; i < elementCount; i++, p += 2) out[at + i] = t[bytes[p]! | (bytes[p + 1]! << 8)]!;
      return;
    }
    case 'bfloat16': {
      const u = new Uint32Array(out.buffer, out.byteOffset + 4 * at, elementCount);
      for (let i = 0, p = 0; i < elementCount; i++, p += 2) u[i] = ((bytes[p]! | (bytes[p + 1]! << 8)) << 16) >>> 0;
      return;
    }
  }
}

export function decodeElements(dtype: DType, bytes: Uint8Array, elementCount: number, encoding: TensorLocation['encoding'] = 'raw'): Float32Array {
  const why = decodeUnsupportedReason(dtype);
  if (why) throw new RangeError(`cannot decode: ${why}`);
  const out = new Float32Array(elementCount);
  if (encoding !== 'raw') {
    const kind = encoding === 'onnx-varint-int32' ? 'int32' : encoding === 'onnx-varint-int64' ? 'int64' : 'uint64';
    const ints = readVarints(bytes, elementCount, kind);
    // int32_data holds FP16/BF16/FP8 as bit patterns; everything else holds the value itself.
    const bitsTable = bitPatternTable(dtype);
    if (bitsTable) for (let i = 0; i < elementCount; i++) out[i] = bitsTable[ints[i]! & (bitsTable.length - 1)]!;
    else if (dtype === 'bfloat16') for (let i = 0; i < elementCount; i++) out[i] = bf16(ints[i]! & 0xffff);
    else for (let i = 0; i < elementCount; i++) out[i] = ints[i]!;
    return out;
  }
  const info = dtypeInfo(dtype)!;
  const need = info.blockSize === 1 ? elementCount * info.bytesPerBlock : Math.ceil(elementCount / info.blockSize) * info.bytesPerBlock;
  if (bytes.length < need) throw new RangeError(`cannot decode: ${elementCount} ${info.label} elements need ${need} bytes, got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'float32':
    case 'float16':
    case 'bfloat16':
      decodeFloatsInto(dtype, bytes, elementCount, out, 0);
      return out;
    case 'float64':
      for (let i = 0; i < elementCount; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'int8':
      for (let i = 0; i < elementCount; i++) out[i] = (bytes[i]! << 24) >> 24;
      return out;
    case 'uint8':
    case 'bool':
      for (let i = 0; i < elementCount; i++) out[i] = bytes[i]!;
      return out;
    case 'int16':
      for (let i = 0; i < elementCount; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    case 'uint16':
      for (let i = 0; i < elementCount; i++) out[i] = dv.getUint16(i * 2, true);
      return out;
    case 'int32':
      for (let i = 0; i < elementCount; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    case 'uint32':
      for (let i = 0; i < elementCount; i++) out[i] = dv.getUint32(i * 4, true);
      return out;
    case 'int64':
      for (let i = 0; i < elementCount; i++) out[i] = dv.getInt32(i * 8 + 4, true) * 4294967296 + dv.getUint32(i * 8, true);
      return out;
    case 'uint64':
      for (let i = 0; i < elementCount; i++) out[i] = dv.getUint32(i * 8 + 4, true) * 4294967296 + dv.getUint32(i * 8, true);
      return out;
    case 'int4':
      for (let i = 0; i < elementCount; i++) out[i] = ((((bytes[i >> 1]! >> ((i & 1) * 4)) & 0xf) << 28) >> 28);
      return out;
    case 'uint4':
      for (let i = 0; i < elementCount; i++) out[i] = (bytes[i >> 1]! >> ((i & 1) * 4)) & 0xf;
      return out;
    case 'int2':
      for (let i = 0; i < elementCount; i++) out[i] = (((bytes[i >> 2]! >> ((i & 3) * 2)) & 3) << 30) >> 30;
      return out;
    case 'uint2':
      for (let i = 0; i < elementCount; i++) out[i] = (bytes[i >> 2]! >> ((i & 3) * 2)) & 3;
      return out;
    case 'i2_s': {
      if (elementCount % 128 !== 0) throw new RangeError(`cannot decode: I2_S needs a multiple of 128 elements, got ${elementCount}`);
      if (bytes.length < elementCount / 4 + 4) throw new RangeError(`cannot decode: ${elementCount} I2_S elements need ${elementCount / 4 + 4} bytes, got ${bytes.length}`);
      const scale = dv.getFloat32(elementCount / 4, true);
      for (let k = 0; k < elementCount / 128; k++) {
        for (let j = 0; j < 128; j++) out[k * 128 + j] = (((bytes[k * 32 + (j & 31)]! >> (6 - 2 * (j >> 5))) & 3) - 1) * scale;
      }
      return out;
    }
    case 'ternary_u8x4': {
      const plane = elementCount / 4;
      for (let i = 0; i < 4; i++) for (let j = 0; j < plane; j++) out[i * plane + j] = ((bytes[j]! >> (2 * i)) & 3) - 1;
      return out;
    }
    case 'float4_e2m1': {
      const t = cachedTable('fp4_e2m1', () => miniTable(MINI_FLOATS.fp4_e2m1));
      for (let i = 0; i < elementCount; i++) out[i] = t[(bytes[i >> 1]! >> ((i & 1) * 4)) & 0xf]!;
      return out;
    }
    default: {
      const t = bitPatternTable(dtype);
      if (t) {
        for (let i = 0; i < elementCount; i++) out[i] = t[bytes[i]!]!;
        return out;
      }
      const dec = GGML_DECODERS[dtype]!;
      const h = halfToFloatTable();
      const blocks = Math.ceil(elementCount / info.blockSize);
      // Full blocks decode in place; a partial last block (never valid for ggml, tolerated) goes through a scratch buffer.
      const full = Math.floor(elementCount / info.blockSize);
      for (let k = 0; k < full; k++) dec(bytes, k * info.bytesPerBlock, out, k * info.blockSize, h);
      if (blocks > full) {
        const tmp = new Float32Array(info.blockSize);
        dec(bytes, full * info.bytesPerBlock, tmp, 0, h);
        out.set(tmp.subarray(0, elementCount - full * info.blockSize), full * info.blockSize);
      }
      return out;
    }
  }
}

function bf16(bits: number): number {
  U32[0] = (bits << 16) >>> 0;
  return F32[0]!;
}

/** Lookup table for dtypes stored as a bit pattern of ≤ 16 bits (FP16 and the 8-bit floats). */
function bitPatternTable(dtype: DType): Float32Array | undefined {
  switch (dtype) {
    case 'float16':
      return halfToFloatTable();
    case 'float8_e4m3fn':
      return cachedTable(dtype, () => miniTable(MINI_FLOATS.fp8_e4m3));
    case 'float8_e4m3fnuz':
      return cachedTable(dtype, () => miniTable(MINI_FLOATS.fp8_e4m3fnuz));
    case 'float8_e5m2':
      return cachedTable(dtype, () => miniTable(MINI_FLOATS.fp8_e5m2));
    case 'float8_e5m2fnuz':
      return cachedTable(dtype, () => miniTable(MINI_FLOATS.fp8_e5m2fnuz));
    case 'float8_e8m0':
      return cachedTable(dtype, () => Float32Array.from({ length: 256 }, (_, c) => e8m0ToNumber(c)));
    default:
      return undefined;
  }
}

/**
 * Applies stored quantization parameters (TFLite / ONNX QDQ): real = (q − zeroPoint) × scale, per tensor or per
 * channel along `axis`. Returns undefined when the parameters are truncated (too many channels to keep) or do
 * not match the shape, so the caller can warn and use the raw integers.
 */
export function applyQuantParams(values: Float32Array, tensor: Pick<TensorInfo, 'shape' | 'quant'>): Float32Array | undefined {
  const q = tensor.quant;
  if (!q || q.scales.length === 0) return values;
  if (q.scales.length < q.scaleCount) return undefined;
  const out = new Float32Array(values.length);
  if (q.scales.length === 1 || q.axis === undefined) {
    const s = q.scales[0]!, z = q.zeroPoints[0] ?? 0;
    for (let i = 0; i < values.length; i++) out[i] = (values[i]! - z) * s;
    return out;
  }
  const axis = q.axis < 0 ? q.axis + tensor.shape.length : q.axis;
  const channels = tensor.shape[axis];
  if (channels !== q.scales.length) return undefined;
  let inner = 1;
  for (let i = axis + 1; i < tensor.shape.length; i++) inner *= tensor.shape[i]!;
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    out[i] = (values[i]! - (q.zeroPoints[c] ?? q.zeroPoints[0] ?? 0)) * q.scales[c]!;
  }
  return out;
}

/**
 * Decodes a whole tensor's stored bytes (exactly `tensor.byteLength`) to floats.
 * Integer tensors with quantization parameters are dequantized; without them the integers are returned as-is.
 * Throws RangeError for unsupported dtypes (callers turn that into a warning and skip the layer).
 */
export function decodeTensor(tensor: TensorInfo, bytes: Uint8Array): Float32Array {
  const raw = decodeElements(tensor.dtype, bytes, tensor.elementCount, tensor.encoding);
  return tensor.quant ? (applyQuantParams(raw, tensor) ?? raw) : raw;
}

/**
 * Encodes floats back into `dtype`'s raw little-endian bytes (for writing fake-quantized weights into a model
 * copy). Floats round to nearest even; integer types round and clamp to their range (after undoing `quant`
 * scales when given). Returns undefined for dtypes it cannot write (block-quantized, sub-byte, strings).
 */
export function encodeElements(dtype: DType, values: Float32Array, quant?: TensorInfo['quant'], shape?: readonly number[]): Uint8Array | undefined {
  const n = values.length;
  const info = dtypeInfo(dtype);
  if (!info || info.blockSize !== 1 || info.kind === 'quantized' || info.kind === 'string' || info.kind === 'complex') return undefined;
  const out = new Uint8Array(n * info.bytesPerBlock);
  const dv = new DataView(out.buffer);
  let v = values;
  if (quant && quant.scales.length && (info.kind === 'int' || info.kind === 'uint')) {
    if (quant.scales.length < quant.scaleCount) return undefined;
    v = new Float32Array(n);
    const perChannel = quant.scales.length > 1 && quant.axis !== undefined && shape;
    let inner = 1, channels = 1;
    if (perChannel) {
      const axis = quant.axis! < 0 ? quant.axis! + shape.length : quant.axis!;
      channels = shape[axis]!;
      for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
    }
    for (let i = 0; i < n; i++) {
      const c = perChannel ? Math.floor(i / inner) % channels : 0;
      v[i] = values[i]! / quant.scales[c]! + (quant.zeroPoints[c] ?? quant.zeroPoints[0] ?? 0);
    }
  }
  const clampRound = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.round(x)));
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    switch (dtype) {
      case 'float32': dv.setFloat32(i * 4, x, true); break;
      case 'float64': dv.setFloat64(i * 8, x, true); break;
      case 'float16': dv.setUint16(i * 2, floatToHalfBits(x), true); break;
      case 'bfloat16': dv.setUint16(i * 2, floatToBf16Bits(x), true); break;
      case 'int8': dv.setInt8(i, clampRound(x, -128, 127)); break;
      case 'uint8': dv.setUint8(i, clampRound(x, 0, 255)); break;
      case 'int16': dv.setInt16(i * 2, clampRound(x, -32768, 32767), true); break;
      case 'uint16': dv.setUint16(i * 2, clampRound(x, 0, 65535), true); break;
      case 'int32': dv.setInt32(i * 4, clampRound(x, -2147483648, 2147483647), true); break;
      default: return undefined;
    }
  }
  return out;
}
