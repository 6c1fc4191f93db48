/**
 * ggml block quantizers: float32 values → the bytes of a ggml block type, exactly as llama.cpp writes them
 * without an importance matrix (what `llama-quantize` does without `--imatrix`, i.e. `ggml_quantize_chunk` with
 * `imatrix = NULL`). Upstream: ggml/src/ggml-quants.c in https://github.com/ggml-org/ggml (read at d99724f2):
 * - `quantize_row_{q8_0,q4_0,q4_1,q5_0,q5_1,q1_0,q2_0,q2_K,q3_K,q4_K,q5_K,q6_K,tq1_0,tq2_0}_ref`, which
 *   `quantize_<type>(…, quant_weights = NULL)` calls;
 * - IQ4_NL: `quantize_iq4_nl` → `quantize_row_iq4_nl_impl(32, 32, …, weight = x², ntry = 7)` — note this is NOT
 *   `quantize_row_iq4_nl_ref` (ntry = −1), because llama-quantize goes through `quantize_iq4_nl`.
 * - F16 / BF16: `ggml_fp32_to_fp16_row` / `ggml_fp32_to_bf16_row_ref` (round to nearest even; BF16 NaN → quiet).
 * Block layouts: ggml-common.h (`block_q4_K` { half d, dmin; u8 scales[12]; u8 qs[128] } and so on, noted at
 * each encoder). Q1_0 (`QK1_0 128`, { half d; u8 qs[16] }, LLAMA_FTYPE_MOSTLY_Q1_0 = 40) comes from PrismML's
 * 1-bit Bonsai models and is defined in upstream ggml itself.
 *
 * Bit-exactness: ggml computes in IEEE float32 without FMA contraction (ggml-base is built for baseline x86-64 /
 * arm64, where `a*b + c` stays two roundings). Every float32 intermediate here is `Math.fround` of one operation
 * on float32 operands, which equals the float32 result (double rounding through float64 is innocuous for
 * + − × ÷ √ because 53 ≥ 2·24 + 2). Integer conversions follow C: `(int8_t)` of a float truncates toward zero
 * (x86 cvttss2si, out of range → INT_MIN), `roundf`/`lroundf` round half away from zero, `nearest_int` is the
 * 1.5·2²³ magic-number trick (round half to even). Comparisons keep C's NaN behaviour (`d ? … : …` is true for NaN).
 * test/integration/ggufApply.test.ts compares these bytes with libggml's own output.
 */
import { decodeElements, floatToBf16Bits, floatToHalfBits, halfToFloatTable } from './decode';
import { dtypeInfo } from '../model/dtypes';
import { activeKquantSearchBackend, affineCodesRun, dequantAffineRun, dequantSymRun, KQUANT_MAX_VALUES, q8AbsMaxRun, q8DequantRun, searchQ3, searchQkx2, searchQx, symCodesRun, type KquantSearchViews } from './kquantSearch';

const QK_K = 256;

//#region C arithmetic helpers
const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** C float → int conversion as x86 cvttss2si does it: truncate; NaN and out-of-range → INT_MIN. */
function cvtt(v: number): number {
  return v > -2147483649 && v < 2147483648 ? Math.trunc(v) : -2147483648;
}

/** C `roundf` / `lroundf` then conversion to int: half away from zero. */
function roundAwayInt(v: number): number {
  if (!(v > -2147483649 && v < 2147483648)) return -2147483648;
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** ggml `nearest_int`: (float)(fval + 1.5·2²³) read as an int, low 23 bits − 2²². Round half to even in range. */
function nearestInt(fval: number): number {
  if (fval <= 4194303 && fval >= -4194303) {
    const r = Math.round(fval);
    return r - fval === 0.5 && (r & 1) !== 0 ? r - 1 : r;
  }
  F32[0] = fval + 12582912;
  return (I32[0]! & 0x007fffff) - 0x00400000;
}

/** The largest finite float32. */
const MAX_FLOAT32 = 3.4028234663852886e38;

/** Int → int8_t (wraps like a C cast). */
const toI8 = (v: number): number => (v << 24) >> 24;

let halfTable: Float32Array | undefined;
/** GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(v)) and the bits. */
function putHalf(b: Uint8Array, o: number, v: number): number {
  const h = floatToHalfBits(v);
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
  halfTable ??= halfToFloatTable();
  return halfTable[h]!;
}
//#endregion

/** Encodes `count` elements of `x` from `xo` (a whole number of blocks) into `b` at `bo`. */
type BlockEncoder = (x: Float32Array, xo: number, b: Uint8Array, bo: number) => void;

//#region simple blocks (32 / 128 / 256 elements, one scale)

/** block_q8_0 { half d; i8 qs[32] } — d = amax/127, q = roundf(x/d). */
const q8_0: BlockEncoder = (x, xo, b, bo) => {
  let amax = 0;
  for (let j = 0; j < 32; j++) {
    const a = Math.abs(x[xo + j]!);
    amax = amax > a ? amax : a;
  }
  const d = Math.fround(amax / 127);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  putHalf(b, bo, d);
  for (let j = 0; j < 32; j++) b[bo + 2 + j] = roundAwayInt(Math.fround(x[xo + j]! * id)) & 0xff;
};

/** Signed absolute maximum of a run: the value with the largest |x| (first one on ties). */
function signedMax(x: Float32Array, o: number, n: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j]!;
    const a = Math.abs(v);
    if (amax < a) {
      amax = a;
      max = v;
    }
  }
  return max;
}

/** block_q4_0 { half d; u8 qs[16] } — d = max/−8, q = min(15, (int8)(x/d + 8.5)), low nibbles = first 16. */
const q4_0: BlockEncoder = (x, xo, b, bo) => {
  const d = Math.fround(signedMax(x, xo, 32) / -8);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  putHalf(b, bo, d);
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(15, toI8(cvtt(Math.fround(Math.fround(x[xo + j]! * id) + 8.5))));
    const q1 = Math.min(15, toI8(cvtt(Math.fround(Math.fround(x[xo + 16 + j]! * id) + 8.5))));
    b[bo + 2 + j] = (q0 | (q1 << 4)) & 0xff;
  }
};

/** block_q5_0 { half d; u8 qh[4]; u8 qs[16] } — d = max/−16, q = min(31, (int8)(x/d + 16.5)), 5th bits in qh. */
const q5_0: BlockEncoder = (x, xo, b, bo) => {
  const d = Math.fround(signedMax(x, xo, 32) / -16);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  putHalf(b, bo, d);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(31, toI8(cvtt(Math.fround(Math.fround(x[xo + j]! * id) + 16.5)))) & 0xff;
    const q1 = Math.min(31, toI8(cvtt(Math.fround(Math.fround(x[xo + 16 + j]! * id) + 16.5)))) & 0xff;
    b[bo + 6 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
    qh |= ((q0 & 0x10) >>> 4) << j;
    qh |= ((q1 & 0x10) >>> 4) << (j + 16);
  }
  writeU32(b, bo + 2, qh);
};

/** q4_1 / q5_1: { half d; half m; [u8 qh[4];] u8 qs[16] } — affine min/max, q = (uint8)((x − min)/d + 0.5). */
function qx1(bits: 4 | 5): BlockEncoder {
  const levels = (1 << bits) - 1;
  return (x, xo, b, bo) => {
    let min = MAX_FLOAT32, max = -MAX_FLOAT32;
    for (let j = 0; j < 32; j++) {
      const v = x[xo + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = Math.fround(Math.fround(max - min) / levels);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    putHalf(b, bo, d);
    putHalf(b, bo + 2, min);
    const code = (v: number): number => {
      const c = cvtt(Math.fround(Math.fround(Math.fround(v - min) * id) + 0.5));
      return bits === 4 ? Math.min(15, toI8(c)) & 0xff : c & 0xff;
    };
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = code(x[xo + j]!), q1 = code(x[xo + 16 + j]!);
      if (bits === 4) {
        b[bo + 4 + j] = (q0 | (q1 << 4)) & 0xff;
      } else {
        b[bo + 8 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
        qh |= ((q0 & 0x10) >>> 4) << j;
        qh |= ((q1 & 0x10) >>> 4) << (j + 16);
      }
    }
    if (bits === 5) writeU32(b, bo + 4, qh);
  };
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** block_q1_0 { half d; u8 qs[16] } — d = mean|x| (float32 running sum), bit j set when x ≥ 0. */
const q1_0: BlockEncoder = (x, xo, b, bo) => {
  let sum = 0;
  for (let j = 0; j < 128; j++) sum = Math.fround(sum + Math.abs(x[xo + j]!));
  putHalf(b, bo, Math.fround(sum / 128));
  for (let j = 0; j < 16; j++) b[bo + 2 + j] = 0;
  for (let j = 0; j < 128; j++) if (x[xo + j]! >= 0) b[bo + 2 + (j >> 3)]! |= 1 << (j & 7);
};

/** block_q2_0 { half d; u8 qs[16] } — d = amax, q = clamp(roundf(x/d) + 1, 0, 3), 4 per byte from bit 0. */
const q2_0: BlockEncoder = (x, xo, b, bo) => {
  let amax = 0;
  for (let j = 0; j < 64; j++) {
    const a = Math.abs(x[xo + j]!);
    if (a > amax) amax = a;
  }
  const id = amax > 0 ? Math.fround(1 / amax) : 0;
  putHalf(b, bo, amax);
  for (let j = 0; j < 16; j++) b[bo + 2 + j] = 0;
  for (let j = 0; j < 64; j++) {
    const q = Math.max(0, Math.min(3, (roundAwayInt(Math.fround(x[xo + j]! * id)) + 1) | 0));
    b[bo + 2 + (j >> 2)]! |= q << ((j & 3) * 2);
  }
};

/** amax per 256 with C MAX() semantics, and 1/amax. */
function ternaryScale(x: Float32Array, xo: number): { d: number; id: number } {
  let amax = 0;
  for (let j = 0; j < QK_K; j++) {
    const a = Math.abs(x[xo + j]!);
    amax = amax > a ? amax : a;
  }
  return { d: amax, id: amax !== 0 ? Math.fround(1 / amax) : 0 };
}

/** block_tq2_0 { u8 qs[64]; half d } — trits lroundf(x/amax)+1, four per byte (2 bits each, element m + 32n). */
const tq2_0: BlockEncoder = (x, xo, b, bo) => {
  const { d, id } = ternaryScale(x, xo);
  putHalf(b, bo + 64, d);
  for (let j = 0; j < 64; j += 32) {
    const base = xo + j * 4;
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 4; n++) q += ((roundAwayInt(Math.fround(x[base + m + n * 32]! * id)) + 1) & 3) << (2 * n);
      b[bo + j + m] = q & 0xff;
    }
  }
};

/**
 * block_tq1_0 { u8 qs[48]; u8 qh[4]; half d } — five trits per byte in base 3 (first trit most significant),
 * stored as ceil(q·256/243) so that the decoder extracts digits by multiply-and-shift; qh holds the last 16
 * elements four per byte, shifted up one trit.
 */
const tq1_0: BlockEncoder = (x, xo, b, bo) => {
  const { d, id } = ternaryScale(x, xo);
  const trit = (i: number): number => roundAwayInt(Math.fround(x[i]! * id)) + 1;
  let p = xo;
  for (let m = 0; m < 32; m++) {
    let q = 0;
    for (let n = 0; n < 5; n++) q = (q * 3 + trit(p + m + n * 32)) & 0xff;
    b[bo + m] = Math.floor((q * 256 + 242) / 243) & 0xff;
  }
  p += 160;
  for (let m = 0; m < 16; m++) {
    let q = 0;
    for (let n = 0; n < 5; n++) q = (q * 3 + trit(p + m + n * 16)) & 0xff;
    b[bo + 32 + m] = Math.floor((q * 256 + 242) / 243) & 0xff;
  }
  p += 80;
  for (let j = 0; j < 4; j++) {
    let q = 0;
    for (let m = 0; m < 4; m++) q = (q * 3 + trit(p + j + m * 4)) & 0xff;
    q = (q * 3) & 0xff;
    b[bo + 48 + j] = Math.floor((q * 256 + 242) / 243) & 0xff;
  }
  putHalf(b, bo + 52, d);
};
//#endregion

//#region k-quant helpers (make_qx_quants, make_q3_quants, make_qkx2_quants)

/** Scratch buffers reused across blocks (encoders are synchronous, so sharing is safe). */
const L = new Uint8Array(QK_K);
const LS = new Int8Array(QK_K);
const LAUX = new Uint8Array(32);
const W = new Float32Array(32);
const SCALES = new Float32Array(16);
const MINS = new Float32Array(16);
/** make_qkx2_quants: x − min per element, recomputed when min moves. */
const XM = new Float32Array(32);
/** make_qkx2_quants: the dequantized value of each code 0..nmax for the trial scale and min. */
const QV = new Float64Array(32);

/** make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL): symmetric fit with weights x², scale search ±0.9. */
function makeQx(n: number, nmax: number, x: Float32Array, o: number, Lo: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[o + i]!;
    }
  }
  if (amax < 1e-15) {
    for (let i = 0; i < n; i++) LS[Lo + i] = 0;
    return 0;
  }
  let iscale = Math.fround(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[o + i]!;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(Math.fround(iscale * xi))));
    LS[Lo + i] = l + nmax;
    const w = Math.fround(xi * xi);
    sumlx = Math.fround(sumlx + Math.fround(Math.fround(w * xi) * l));
    suml2 = Math.fround(suml2 + Math.fround(Math.fround(w * l) * l));
  }
  let scale = suml2 !== 0 ? Math.fround(sumlx / suml2) : 0;
  let best = Math.fround(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = Math.fround(-Math.fround(nmax + Math.fround(0.1 * is)) / max);
    sumlx = suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[o + i]!;
      const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(Math.fround(iscale * xi))));
      const w = Math.fround(xi * xi);
      sumlx = Math.fround(sumlx + Math.fround(Math.fround(w * xi) * l));
      suml2 = Math.fround(suml2 + Math.fround(Math.fround(w * l) * l));
    }
    if (suml2 > 0 && Math.fround(sumlx * sumlx) > Math.fround(best * suml2)) {
      for (let i = 0; i < n; i++) LS[Lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(Math.fround(iscale * x[o + i]!))));
      scale = Math.fround(sumlx / suml2);
      best = Math.fround(scale * sumlx);
    }
  }
  return scale;
}

/** make_q3_quants(n, nmax, x, L, do_rmse = true): symmetric fit refined element by element (≤ 5 passes). */
function makeQ3(n: number, nmax: number, x: Float32Array, o: number, Lo: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[o + i]!;
    }
  }
  if (amax < 1e-15) {
    for (let i = 0; i < n; i++) LS[Lo + i] = 0;
    return 0;
  }
  const iscale = Math.fround(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[o + i]!;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(Math.fround(iscale * xi))));
    LS[Lo + i] = l;
    const w = Math.fround(xi * xi);
    sumlx = Math.fround(sumlx + Math.fround(Math.fround(w * xi) * l));
    suml2 = Math.fround(suml2 + Math.fround(Math.fround(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[o + i]!;
      const w = Math.fround(xi * xi);
      const li = LS[Lo + i]!;
      let slx = Math.fround(sumlx - Math.fround(Math.fround(w * xi) * li));
      if (slx > 0) {
        let sl2 = Math.fround(suml2 - Math.fround(Math.fround(w * li) * li));
        const nl = Math.max(-nmax, Math.min(nmax - 1, nearestInt(Math.fround(Math.fround(xi * sl2) / slx))));
        if (nl !== li) {
          slx = Math.fround(slx + Math.fround(Math.fround(w * xi) * nl));
          sl2 = Math.fround(sl2 + Math.fround(Math.fround(w * nl) * nl));
          if (sl2 > 0 && Math.fround(Math.fround(slx * slx) * suml2) > Math.fround(Math.fround(sumlx * sumlx) * sl2)) {
            LS[Lo + i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) LS[Lo + i] = LS[Lo + i]! + nmax;
  return suml2 > 0 ? Math.fround(sumlx / suml2) : 0;
}

/**
 * make_qkx2_quants: affine fit (scale, −min) of n values onto 0..nmax with weights W, trying nstep+1 scales.
 * Writes codes to L[Lo..] and the min (as a positive offset) to MINS[j]; returns the scale.
 */
function makeQkx2(n: number, nmax: number, x: Float32Array, o: number, Lo: number, j: number, rmin: number, rdelta: number, nstep: number, useMad: boolean): number {
  let min = x[o]!, max = x[o]!;
  let sumW = W[0]!;
  let sumX = Math.fround(sumW * x[o]!);
  for (let i = 1; i < n; i++) {
    const xi = x[o + i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = W[i]!;
    sumW = Math.fround(sumW + w);
    sumX = Math.fround(sumX + Math.fround(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) L[Lo + i] = 0;
    MINS[j] = -min;
    return 0;
  }
  let iscale = Math.fround(nmax / Math.fround(max - min));
  let scale = Math.fround(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) XM[i] = Math.fround(x[o + i]! - min);
  for (let i = 0; i < n; i++) {
    const xi = x[o + i]!;
    const l = Math.max(0, Math.min(nmax, nearestInt(Math.fround(iscale * XM[i]!))));
    L[Lo + i] = l;
    let diff = Math.fround(Math.fround(Math.fround(scale * l) + min) - xi);
    diff = useMad ? Math.abs(diff) : Math.fround(diff * diff);
    bestError = Math.fround(bestError + Math.fround(W[i]! * diff));
  }
  for (let is = 0; is <= nstep; is++) {
    // `min` moves to each better fit's offset, and later trials start from it (as upstream's loop does).
    iscale = Math.fround(Math.fround(Math.fround(rmin + Math.fround(rdelta * is)) + nmax) / Math.fround(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[o + i]!;
      // nearest_int of a value in [0, ~nmax] (x lies in [min, max]): plain round-half-even; NaN clamps to 0 like C.
      const v = Math.fround(iscale * XM[i]!);
      let l = Math.round(v);
      if (l - v === 0.5 && (l & 1) !== 0) l -= 1;
      l = l > 0 ? (l < nmax ? l : nmax) : 0;
      LAUX[i] = l;
      const w = W[i]!;
      const wl = Math.fround(w * l);
      sumL = Math.fround(sumL + wl);
      sumL2 = Math.fround(sumL2 + Math.fround(wl * l));
      sumXL = Math.fround(sumXL + Math.fround(wl * xi));
    }
    const D = Math.fround(Math.fround(sumW * sumL2) - Math.fround(sumL * sumL));
    if (D > 0) {
      let thisScale = Math.fround(Math.fround(Math.fround(sumW * sumXL) - Math.fround(sumX * sumL)) / D);
      let thisMin = Math.fround(Math.fround(Math.fround(sumL2 * sumX) - Math.fround(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = Math.fround(sumXL / sumL2);
      }
      // The dequantized value of each code, once per trial instead of once per element (the same float32 steps).
      for (let l = 0; l <= nmax; l++) QV[l] = Math.fround(Math.fround(thisScale * l) + thisMin);
      let cur = 0;
      for (let i = 0; i < n; i++) {
        let diff = Math.fround(QV[LAUX[i]!]! - x[o + i]!);
        diff = useMad ? Math.abs(diff) : Math.fround(diff * diff);
        cur = Math.fround(cur + Math.fround(W[i]! * diff));
        // Terms are ≥ 0, so the float32 sum never decreases: a trial already at the best error cannot win.
        if (cur >= bestError) break;
      }
      if (cur < bestError) {
        for (let i = 0; i < n; i++) L[Lo + i] = LAUX[i]!;
        bestError = cur;
        scale = thisScale;
        min = thisMin;
        for (let i = 0; i < n; i++) XM[i] = Math.fround(x[o + i]! - min);
      }
    }
  }
  MINS[j] = -min;
  return scale;
}

/** get_scale_min_k4: 6-bit scale j of the 12-byte packed Q4_K/Q5_K scales at b[o..] (no tuple: called per sub-block). */
function scaleK4(j: number, b: Uint8Array, o: number): number {
  return j < 4 ? b[o + j]! & 63 : (b[o + j + 4]! & 0xf) | ((b[o + j - 4]! >> 6) << 4);
}

/** get_scale_min_k4: 6-bit min j. */
function minK4(j: number, b: Uint8Array, o: number): number {
  return j < 4 ? b[o + j + 4]! & 63 : (b[o + j + 4]! >> 4) | ((b[o + j]! >> 6) << 4);
}
//#endregion

//#region k-quants
// Each K-quant encoder runs four steps: search (the scale fit per sub-block: SCALES, MINS and its codes), scales
// (the sub-block scales quantized into the block header, giving each sub-block's float32 step dd and offset dm),
// codes (each element's code recomputed from dd/dm where dd ≠ 0 — a zero step keeps the search's code, as upstream
// does) and pack. The reference runs them block by block here; the fast path (encodeFast) runs the search and the
// codes for a run of blocks in WebAssembly (kquantSearch.ts) and only scales and pack here.

/** The reference path's step and offset per sub-block. */
const DD = new Float32Array(16);
const DM = new Float32Array(16);

/** Codes of the affine types: clamp(nearest_int((x + dm) / dd), 0, nmax) for sub-blocks with dd ≠ 0. */
function affineCodes(x: Float32Array, xo: number, nsub: number, n: number, nmax: number, codes: Uint8Array): void {
  for (let j = 0; j < nsub; j++) {
    const dd = DD[j]!;
    if (dd === 0) continue;
    const dm = DM[j]!;
    for (let ii = 0; ii < n; ii++) codes[n * j + ii] = Math.max(0, Math.min(nmax, nearestInt(Math.fround(Math.fround(x[xo + n * j + ii]! + dm) / dd))));
  }
}

/** Codes of the symmetric types: clamp(nearest_int(x / dd), lo, hi) − lo for sub-blocks of 16 with dd ≠ 0. */
function symCodes(x: Float32Array, xo: number, lo: number, hi: number, codes: Int8Array): void {
  for (let j = 0; j < 16; j++) {
    const dd = DD[j]!;
    if (dd === 0) continue;
    for (let ii = 0; ii < 16; ii++) codes[16 * j + ii] = Math.max(lo, Math.min(hi, nearestInt(Math.fround(x[xo + 16 * j + ii]! / dd)))) - lo;
  }
}

/** make_qkx2_quants' weights of the n values at x[o..] into W: |x| (Q2_K), or av_x + |x| with av_x = sqrt(Σx²/n) (Q4_K, Q5_K). */
function qkx2Weights(x: Float32Array, o: number, n: number, weights: 'avx' | 'abs'): void {
  if (weights === 'abs') {
    for (let l = 0; l < n; l++) W[l] = Math.abs(x[o + l]!);
    return;
  }
  let sumX2 = 0;
  for (let l = 0; l < n; l++) sumX2 = Math.fround(sumX2 + Math.fround(x[o + l]! * x[o + l]!));
  const avX = Math.fround(Math.sqrt(Math.fround(sumX2 / n)));
  for (let l = 0; l < n; l++) W[l] = Math.fround(avX + Math.abs(x[o + l]!));
}

/** Q2_K's search: make_qkx2_quants over 16 sub-blocks of 16 with weights |x|. */
function q2kSearch(x: Float32Array, xo: number): void {
  for (let j = 0; j < 16; j++) {
    qkx2Weights(x, xo + 16 * j, 16, 'abs');
    SCALES[j] = makeQkx2(16, 3, x, xo + 16 * j, 16 * j, j, -0.5, Math.fround(0.1), 15, true);
  }
}

/** block_q2_K { u8 scales[16] (low nibble scale, high nibble min); u8 qs[64]; half d; half dmin }: header and dd/dm. */
function q2kScales(b: Uint8Array, bo: number, dd: Float32Array, dm: Float32Array, o: number): boolean {
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 16; j++) {
    const s = SCALES[j]!;
    if (s > maxScale) maxScale = s;
    if (MINS[j]! > maxMin) maxMin = MINS[j]!;
  }
  if (maxScale > 0) {
    const iscale = Math.fround(15 / maxScale);
    for (let j = 0; j < 16; j++) b[bo + j] = nearestInt(Math.fround(iscale * SCALES[j]!)) & 0xff;
  } else {
    for (let j = 0; j < 16; j++) b[bo + j] = 0;
  }
  const d = putHalf(b, bo + 80, maxScale > 0 ? Math.fround(maxScale / 15) : 0);
  if (maxMin > 0) {
    const iscale = Math.fround(15 / maxMin);
    for (let j = 0; j < 16; j++) b[bo + j] = (b[bo + j]! | (nearestInt(Math.fround(iscale * MINS[j]!)) << 4)) & 0xff;
  }
  const dmin = putHalf(b, bo + 82, maxMin > 0 ? Math.fround(maxMin / 15) : 0);
  for (let j = 0; j < 16; j++) {
    dd[o + j] = Math.fround(d * (b[bo + j]! & 0xf));
    dm[o + j] = Math.fround(dmin * (b[bo + j]! >> 4));
  }
  return true;
}

/** Q2_K qs: four 2-bit codes per byte, 32 bytes per 128 elements. */
function q2kPack(b: Uint8Array, bo: number, c: Uint8Array | Int8Array, co: number): void {
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) b[bo + 16 + j / 4 + l] = (c[co + j + l]! | (c[co + j + l + 32]! << 2) | (c[co + j + l + 64]! << 4) | (c[co + j + l + 96]! << 6)) & 0xff;
  }
}

const q2_K: BlockEncoder = (x, xo, b, bo) => {
  q2kSearch(x, xo);
  q2kScales(b, bo, DD, DM, 0);
  affineCodes(x, xo, 16, 16, 3, L);
  q2kPack(b, bo, L, 0);
};

/** Q3_K's search: make_q3_quants over 16 sub-blocks of 16 (codes + 4 in LS). */
function q3kSearch(x: Float32Array, xo: number): void {
  for (let j = 0; j < 16; j++) SCALES[j] = makeQ3(16, 4, x, xo + 16 * j, 16 * j);
}

/** block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12] (6-bit, biased by 32); half d }: header and dd. */
function q3kScales(b: Uint8Array, bo: number, dd: Float32Array, _dm: Float32Array, o: number): boolean {
  let maxScale = 0, amax = 0;
  for (let j = 0; j < 16; j++) {
    const s = SCALES[j]!;
    const a = Math.abs(s);
    if (a > amax) {
      amax = a;
      maxScale = s;
    }
  }
  const sc = bo + 96;
  for (let j = 0; j < 12; j++) b[sc + j] = 0;
  let d: number;
  if (maxScale !== 0) {
    const iscale = Math.fround(-32 / maxScale);
    for (let j = 0; j < 16; j++) {
      let l = toI8(nearestInt(Math.fround(iscale * SCALES[j]!)));
      l = Math.max(-32, Math.min(31, l)) + 32;
      if (j < 8) b[sc + j] = l & 0xf;
      else b[sc + j - 8] = (b[sc + j - 8]! | ((l & 0xf) << 4)) & 0xff;
      l >>= 4;
      b[sc + 8 + (j % 4)] = (b[sc + 8 + (j % 4)]! | (l << (2 * (j >> 2)))) & 0xff;
    }
    d = putHalf(b, bo + 108, Math.fround(1 / iscale));
  } else {
    d = putHalf(b, bo + 108, 0);
  }
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? b[sc + j]! & 0xf : b[sc + j - 8]! >> 4;
    const s = (low | (((b[sc + 8 + (j % 4)]! >> (2 * (j >> 2))) & 3) << 4)) - 32;
    dd[o + j] = Math.fround(d * s);
  }
  return true;
}

/** Q3_K hmask (the high bit of each code, 32 bytes) and qs (two low bits, 64 bytes); consumes the codes. */
function q3kPack(b: Uint8Array, bo: number, c: Uint8Array | Int8Array, co: number): void {
  for (let j = 0; j < 32; j++) b[bo + j] = 0;
  let m = 0, hm = 1;
  for (let j = 0; j < QK_K; j++) {
    if (c[co + j]! > 3) {
      b[bo + m] = (b[bo + m]! | hm) & 0xff;
      c[co + j] = c[co + j]! - 4;
    }
    if (++m === 32) {
      m = 0;
      hm <<= 1;
    }
  }
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) b[bo + 32 + j / 4 + l] = (c[co + j + l]! | (c[co + j + l + 32]! << 2) | (c[co + j + l + 64]! << 4) | (c[co + j + l + 96]! << 6)) & 0xff;
  }
}

const q3_K: BlockEncoder = (x, xo, b, bo) => {
  q3kSearch(x, xo);
  q3kScales(b, bo, DD, DM, 0);
  symCodes(x, xo, -4, 3, LS);
  q3kPack(b, bo, LS, 0);
};

/** Q4_K / Q5_K search: make_qkx2_quants over 8 sub-blocks of 32 with weights av_x + |x|. */
function qk45Search(nmax: number, rmin: number, rdelta: number, nstep: number, x: Float32Array, xo: number): void {
  for (let j = 0; j < 8; j++) {
    qkx2Weights(x, xo + 32 * j, 32, 'avx');
    SCALES[j] = makeQkx2(32, nmax, x, xo + 32 * j, 32 * j, j, rmin, rdelta, nstep, false);
  }
}

/**
 * make_qkx2_quants on the reference path over `count` values from `xo` in runs of `n` (≤ 32), with the arguments of
 * kquantSearch.ts `searchQkx2`: the scale, −min and codes of each run, which that search must give bit for bit
 * (test/unit/kquantSearch.test.ts). Not on any hot path.
 */
export function referenceQkx2Run(x: Float32Array, xo: number, count: number, n: number, nmax: number, rmin: number, rdelta: number, nstep: number, useMad: boolean, weights: 'avx' | 'abs'): { scales: Float32Array; mins: Float32Array; codes: Uint8Array } {
  if (n > 32 || count % n !== 0) throw new RangeError(`make_qkx2_quants runs take whole sub-blocks of at most 32 values (got ${count} in runs of ${n})`);
  const nsub = count / n;
  const scales = new Float32Array(nsub), mins = new Float32Array(nsub), codes = new Uint8Array(count);
  for (let j = 0; j < nsub; j++) {
    qkx2Weights(x, xo + n * j, n, weights);
    scales[j] = makeQkx2(n, nmax, x, xo + n * j, 0, 0, rmin, rdelta, nstep, useMad);
    mins[j] = MINS[0]!;
    codes.set(L.subarray(0, n), n * j);
  }
  return { scales, mins, codes };
}

/**
 * make_qx_quants(n, nmax, rmse_type = 1) (`search` 'qx', Q6_K) or make_q3_quants(n, nmax, do_rmse = true) ('q3', Q3_K)
 * on the reference path over `count` values from `xo` in runs of `n` (≤ 32): the scale and codes (l + nmax) of each
 * run, which kquantSearch.ts `searchQx` / `searchQ3` must give bit for bit (test/unit/kquantSearch.test.ts). Not on
 * any hot path.
 */
export function referenceSymmetricRun(search: 'qx' | 'q3', x: Float32Array, xo: number, count: number, n: number, nmax: number): { scales: Float32Array; codes: Uint8Array } {
  if (n > 32 || count % n !== 0) throw new RangeError(`K-quant searches take whole sub-blocks of at most 32 values (got ${count} in runs of ${n})`);
  const nsub = count / n;
  const scales = new Float32Array(nsub), codes = new Uint8Array(count);
  for (let j = 0; j < nsub; j++) {
    scales[j] = search === 'qx' ? makeQx(n, nmax, x, xo + n * j, 0) : makeQ3(n, nmax, x, xo + n * j, 0);
    codes.set(LS.subarray(0, n), n * j);
  }
  return { scales, codes };
}

/** Q4_K / Q5_K header: FP16 d and dmin at b[bo], b[bo+2], 6-bit scales and mins packed into 12 bytes; dd/dm. */
function qk45Scales(b: Uint8Array, bo: number, dd: Float32Array, dm: Float32Array, o: number): boolean {
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const s = SCALES[j]!;
    if (s > maxScale) maxScale = s;
    if (MINS[j]! > maxMin) maxMin = MINS[j]!;
  }
  const invScale = maxScale > 0 ? Math.fround(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? Math.fround(63 / maxMin) : 0;
  const sc = bo + 4;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(Math.fround(invScale * SCALES[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(Math.fround(invMin * MINS[j]!)) & 0xff);
    if (j < 4) {
      b[sc + j] = ls;
      b[sc + j + 4] = lm;
    } else {
      b[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      b[sc + j - 4] = (b[sc + j - 4]! | ((ls >> 4) << 6)) & 0xff;
      b[sc + j] = (b[sc + j]! | ((lm >> 4) << 6)) & 0xff;
    }
  }
  const d = putHalf(b, bo, Math.fround(maxScale / 63));
  const dmin = putHalf(b, bo + 2, Math.fround(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    dd[o + j] = Math.fround(d * scaleK4(j, b, sc));
    dm[o + j] = Math.fround(dmin * minK4(j, b, sc));
  }
  return true;
}

/** block_q4_K { half d; half dmin; u8 scales[12]; u8 qs[128] } — qs: 32 bytes per 64 elements, low nibble first half. */
function q4kPack(b: Uint8Array, bo: number, c: Uint8Array | Int8Array, co: number): void {
  let q = bo + 16;
  for (let j = 0; j < QK_K; j += 64) {
    for (let l = 0; l < 32; l++) b[q + l] = c[co + j + l]! | (c[co + j + l + 32]! << 4);
    q += 32;
  }
}

/** block_q5_K { half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] } — 5th bits in qh, two bit planes per 64. */
function q5kPack(b: Uint8Array, bo: number, c: Uint8Array | Int8Array, co: number): void {
  const qh = bo + 16;
  let ql = bo + 48;
  for (let j = 0; j < 32; j++) b[qh + j] = 0;
  let m1 = 1, m2 = 2;
  for (let n = 0; n < QK_K; n += 64) {
    for (let j = 0; j < 32; j++) {
      let l1 = c[co + n + j]!;
      if (l1 > 15) {
        l1 -= 16;
        b[qh + j]! |= m1;
      }
      let l2 = c[co + n + j + 32]!;
      if (l2 > 15) {
        l2 -= 16;
        b[qh + j]! |= m2;
      }
      b[ql + j] = l1 | (l2 << 4);
    }
    m1 <<= 2;
    m2 <<= 2;
    ql += 32;
  }
}

const q4_K: BlockEncoder = (x, xo, b, bo) => {
  qk45Search(15, -1, Math.fround(0.1), 20, x, xo);
  qk45Scales(b, bo, DD, DM, 0);
  affineCodes(x, xo, 8, 32, 15, L);
  q4kPack(b, bo, L, 0);
};

const q5_K: BlockEncoder = (x, xo, b, bo) => {
  qk45Search(31, -0.5, Math.fround(0.1), 15, x, xo);
  qk45Scales(b, bo, DD, DM, 0);
  affineCodes(x, xo, 8, 32, 31, L);
  q5kPack(b, bo, L, 0);
};

/** Q6_K's search: make_qx_quants over 16 sub-blocks of 16 (codes + 32 in LS). */
function q6kSearch(x: Float32Array, xo: number): void {
  for (let ib = 0; ib < 16; ib++) SCALES[ib] = makeQx(16, 32, x, xo + 16 * ib, 16 * ib);
}

/**
 * block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d } header and dd; false when the block is all zero
 * (written here: upstream stores an all-zero block when max |scale| < 1e-15).
 */
function q6kScales(b: Uint8Array, bo: number, dd: Float32Array, _dm: Float32Array, o: number): boolean {
  let maxScale = 0, maxAbs = 0;
  for (let ib = 0; ib < 16; ib++) {
    const s = SCALES[ib]!;
    const a = Math.abs(s);
    if (a > maxAbs) {
      maxAbs = a;
      maxScale = s;
    }
  }
  if (maxAbs < 1e-15) {
    b.fill(0, bo, bo + 210);
    dd.fill(0, o, o + 16);
    return false;
  }
  const iscale = Math.fround(-128 / maxScale);
  const d = putHalf(b, bo + 208, Math.fround(1 / iscale));
  for (let ib = 0; ib < 16; ib++) b[bo + 192 + ib] = Math.min(127, nearestInt(Math.fround(iscale * SCALES[ib]!))) & 0xff;
  for (let j = 0; j < 16; j++) dd[o + j] = Math.fround(d * toI8(b[bo + 192 + j]!));
  return true;
}

/** Q6_K ql (low 4 bits) and qh (high 2 bits) of the codes 0..63. */
function q6kPack(b: Uint8Array, bo: number, c: Uint8Array | Int8Array, co: number): void {
  let ql = bo, qh = bo + 128;
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      const a = c[co + j + l]! & 0xff, cc = c[co + j + l + 32]! & 0xff, e = c[co + j + l + 64]! & 0xff, g = c[co + j + l + 96]! & 0xff;
      b[ql + l] = (a & 0xf) | ((e & 0xf) << 4);
      b[ql + l + 32] = (cc & 0xf) | ((g & 0xf) << 4);
      b[qh + l] = ((a >> 4) | ((cc >> 4) << 2) | ((e >> 4) << 4) | ((g >> 4) << 6)) & 0xff;
    }
    ql += 64;
    qh += 32;
  }
}

const q6_K: BlockEncoder = (x, xo, b, bo) => {
  q6kSearch(x, xo);
  if (!q6kScales(b, bo, DD, DM, 0)) return;
  symCodes(x, xo, -32, 31, LS);
  q6kPack(b, bo, LS, 0);
};

/**
 * A K-quant on the fast path: the WebAssembly search and codes over a run of blocks (kquantSearch.ts), scales and
 * pack per block here, in the reference's order. `sub` = sub-blocks per block.
 */
interface FastKquant {
  readonly search: (x: Float32Array, xo: number, count: number) => KquantSearchViews | undefined;
  readonly sub: number;
  readonly scales: (b: Uint8Array, bo: number, dd: Float32Array, dm: Float32Array, o: number) => boolean;
  readonly codes: (count: number) => void;
  readonly pack: (b: Uint8Array, bo: number, c: Uint8Array, co: number) => void;
  /** The run's dequantized values from its final codes (what the block decoder gives for the packed bytes). */
  readonly dequant: (count: number) => Float32Array;
}

const FAST_KQUANTS: ReadonlyMap<string, FastKquant> = new Map<string, FastKquant>([
  ['q2_k', { search: (x, xo, c) => searchQkx2(x, xo, c, 16, 3, -0.5, Math.fround(0.1), 15, true, 'abs'), sub: 16, scales: q2kScales, codes: (c) => affineCodesRun(c, 16, 3), pack: q2kPack, dequant: (c) => dequantAffineRun(c, 16) }],
  ['q3_k', { search: (x, xo, c) => searchQ3(x, xo, c, 16, 4), sub: 16, scales: q3kScales, codes: (c) => symCodesRun(c, 16, -4, 3), pack: q3kPack, dequant: (c) => dequantSymRun(c, 16, 4) }],
  ['q4_k', { search: (x, xo, c) => searchQkx2(x, xo, c, 32, 15, -1, Math.fround(0.1), 20, false, 'avx'), sub: 8, scales: qk45Scales, codes: (c) => affineCodesRun(c, 32, 15), pack: q4kPack, dequant: (c) => dequantAffineRun(c, 32) }],
  ['q5_k', { search: (x, xo, c) => searchQkx2(x, xo, c, 32, 31, -0.5, Math.fround(0.1), 15, false, 'avx'), sub: 8, scales: qk45Scales, codes: (c) => affineCodesRun(c, 32, 31), pack: q5kPack, dequant: (c) => dequantAffineRun(c, 32) }],
  ['q6_k', { search: (x, xo, c) => searchQx(x, xo, c, 16, 32), sub: 16, scales: q6kScales, codes: (c) => symCodesRun(c, 16, -32, 31), pack: q6kPack, dequant: (c) => dequantSymRun(c, 16, 32) }],
]);

/**
 * Block `k`'s `sub` searched scales and mins into {@link SCALES} and {@link MINS}, element by element: a subarray of
 * each per block was ~90 MB of garbage over a 200,000-layer plan.
 */
function takeBlockScales(v: KquantSearchViews, sub: number, k: number): void {
  for (let j = 0, o = k * sub; j < sub; j++, o++) {
    SCALES[j] = v.scales[o]!;
    MINS[j] = v.mins[o]!;
  }
}

/** Encodes `blocks` super-blocks on the fast path; a run it declines (NaN) goes through the reference encoder. */
function encodeFast(fast: FastKquant, enc: BlockEncoder, values: Float32Array, blocks: number, b: Uint8Array, bytesPerBlock: number): void {
  const runBlocks = KQUANT_MAX_VALUES / QK_K;
  const done = new Uint8Array(runBlocks);
  for (let k0 = 0; k0 < blocks; k0 += runBlocks) {
    const nb = Math.min(runBlocks, blocks - k0);
    const v = fast.search(values, k0 * QK_K, nb * QK_K);
    if (!v) {
      for (let k = 0; k < nb; k++) enc(values, (k0 + k) * QK_K, b, (k0 + k) * bytesPerBlock);
      continue;
    }
    for (let k = 0; k < nb; k++) {
      takeBlockScales(v, fast.sub, k);
      done[k] = fast.scales(b, (k0 + k) * bytesPerBlock, v.dd, v.dm, k * fast.sub) ? 0 : 1;
    }
    fast.codes(nb * QK_K);
    for (let k = 0; k < nb; k++) if (!done[k]) fast.pack(b, (k0 + k) * bytesPerBlock, v.codes, k * QK_K);
  }
}

/**
 * Q8_0 without the bytes: {@link q8_0}'s scale and codes, then the decoder's y = int8(code)·half(d) per element (a
 * float64 product stored as float32). A NaN block's codes are 0 as the encoder writes them. The block maxima and the
 * values run in WebAssembly (kquantSearch.ts) for blocks of finite values whose 1/d is finite; the scale and step of
 * each block are made here, and any other block goes through {@link simulateQ8_0Block}.
 */
function simulateQ8_0(values: Float32Array, out: Float32Array): void {
  const half = (halfTable ??= halfToFloatTable());
  for (let o0 = 0; o0 < values.length; o0 += KQUANT_MAX_VALUES) {
    const count = Math.min(KQUANT_MAX_VALUES, values.length - o0);
    const v = q8AbsMaxRun(values, o0, count)!;
    const blocks = count / 32;
    let slow = 0;
    for (let k = 0; k < blocks; k++) {
      const amax = v.dd[k]!;
      const d = Math.fround(amax / 127);
      const id = d !== 0 ? Math.fround(1 / d) : 0;
      if (amax <= MAX_FLOAT32 && id <= MAX_FLOAT32) {
        v.dd[k] = id;
        v.dm[k] = half[floatToHalfBits(d)]!;
      } else {
        v.dd[k] = v.dm[k] = 0;
        Q8_SLOW[slow++] = k;
      }
    }
    out.set(q8DequantRun(count), o0);
    for (let j = 0; j < slow; j++) simulateQ8_0Block(values, o0 + 32 * Q8_SLOW[j]!, out, half);
  }
}

/** Blocks of one Q8_0 simulation run left to {@link simulateQ8_0Block}. */
const Q8_SLOW = new Uint16Array(KQUANT_MAX_VALUES / 32);

/** {@link simulateQ8_0} of the block of 32 values at `o`, in JavaScript. */
function simulateQ8_0Block(values: Float32Array, o: number, out: Float32Array, half: Float32Array): void {
  let amax = 0;
  let finite = true;
  for (let j = 0; j < 32; j++) {
    const a = Math.abs(values[o + j]!);
    amax = amax > a ? amax : a;
    if (!(a <= MAX_FLOAT32)) finite = false;
  }
  const d = Math.fround(amax / 127);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  const dh = half[floatToHalfBits(d)]!;
  if (finite) {
    // Every |x| ≤ amax, so |x·id| ≤ ~127: roundf is floor(|y| + 0.5) with y's sign (exact in float64 for a float32
    // y), and the int8 cast changes nothing. Without the sign branch of roundAwayInt (random signs mispredict): an
    // infinite or NaN y (id = ∞ when d is tiny) gives code 0 through `| 0` as INT_MIN & 0xff does; `0 - c` keeps a
    // zero code +0.
    for (let j = 0; j < 32; j++) {
      const y = Math.fround(values[o + j]! * id);
      const c = Math.floor(Math.abs(y) + 0.5) | 0;
      out[o + j] = (y < 0 ? 0 - c : c) * dh;
    }
  } else {
    for (let j = 0; j < 32; j++) out[o + j] = toI8(roundAwayInt(Math.fround(values[o + j]! * id)) & 0xff) * dh;
  }
}

/** One block's header bytes while simulating (the largest K block, Q6_K, is 210 bytes). */
const SIM_BLOCK = new Uint8Array(256);

/**
 * The values `decodeElements(dtype, quantizeGgml(dtype, values))` gives, for the K-quants on the fast path, without
 * packing and unpacking: the search and final codes in WebAssembly, then y = dd·code − dm per element exactly as the
 * block decoders compute it. Writes `out[0..values.length)` and returns true; false (nothing written) for other
 * dtypes, lengths that are not whole super-blocks, or without WebAssembly. Runs with NaN go through the bytes.
 */
export function simulateGgml(dtype: string, values: Float32Array, out: Float32Array): boolean {
  if (dtype === 'q8_0' && values.length % 32 === 0 && activeKquantSearchBackend() === 'wasm') {
    simulateQ8_0(values, out);
    return true;
  }
  const fast = FAST_KQUANTS.get(dtype);
  if (!fast || values.length % QK_K !== 0 || activeKquantSearchBackend() !== 'wasm') return false;
  const blocks = values.length / QK_K;
  const runBlocks = KQUANT_MAX_VALUES / QK_K;
  for (let k0 = 0; k0 < blocks; k0 += runBlocks) {
    const nb = Math.min(runBlocks, blocks - k0);
    const v = fast.search(values, k0 * QK_K, nb * QK_K);
    if (!v) {
      const run = values.subarray(k0 * QK_K, (k0 + nb) * QK_K);
      out.set(decodeElements(dtype, quantizeGgml(dtype, run), run.length), k0 * QK_K);
      continue;
    }
    for (let k = 0; k < nb; k++) {
      takeBlockScales(v, fast.sub, k);
      // An all-zero Q6_K block decodes from zero bytes: code 0 under a zero step.
      if (!fast.scales(SIM_BLOCK, 0, v.dd, v.dm, k * fast.sub)) v.codes.fill(0, k * QK_K, (k + 1) * QK_K);
    }
    fast.codes(nb * QK_K);
    out.set(fast.dequant(nb * QK_K), k0 * QK_K);
  }
  return true;
}
//#endregion

//#region IQ4_NL

/** kvalues_iq4nl (ggml-common.h): the 16 non-linear 4-bit levels. */
const KVALUES_IQ4NL = new Int8Array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

/** best_index_int8: index of the level nearest to x (binary search; ties toward the upper level). */
function bestIndexInt8(x: number): number {
  const v = KVALUES_IQ4NL;
  if (x <= v[0]!) return 0;
  if (x >= v[15]!) return 15;
  let ml = 0, mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < v[mav]!) mu = mav;
    else ml = mav;
  }
  return Math.fround(x - v[mu - 1]!) < Math.fround(v[mu]! - x) ? mu - 1 : mu;
}

/**
 * block_iq4_nl { half d; u8 qs[16] } — quantize_row_iq4_nl_impl(32, 32, weight = x², ntry = 7): least-squares
 * scale over the initial codes, then 15 trial scales (itry − 127)/max, codes recomputed with the float32 scale.
 */
const iq4_nl: BlockEncoder = (x, xo, b, bo) => {
  for (let j = 0; j < 16; j++) b[bo + 2 + j] = 0;
  let amax = 0, max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[xo + j]!;
    W[j] = Math.fround(v * v);
    const ax = Math.abs(v);
    if (ax > amax) {
      amax = ax;
      max = v;
    }
  }
  if (amax < 1e-15) {
    putHalf(b, bo, 0);
    // scales[0] = 0 → dh = 0 and codes from id = 0: best_index_int8(0) = index of level 1 (8).
    for (let j = 0; j < 32; j++) L[j] = bestIndexInt8(0);
  } else {
    let d = Math.fround(-max / -127);
    let id = Math.fround(1 / d);
    let sumqx = 0, sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const xj = x[xo + j]!;
      const q = KVALUES_IQ4NL[bestIndexInt8(Math.fround(id * xj))]!;
      const w = W[j]!;
      sumqx = Math.fround(sumqx + Math.fround(Math.fround(w * q) * xj));
      sumq2 = Math.fround(sumq2 + Math.fround(Math.fround(w * q) * q));
    }
    d = sumq2 > 0 ? Math.fround(sumqx / sumq2) : 0;
    let best = Math.fround(d * sumqx);
    for (let itry = -7; itry <= 7; itry++) {
      id = Math.fround((itry - 127) / max);
      sumqx = sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const xj = x[xo + j]!;
        const q = KVALUES_IQ4NL[bestIndexInt8(Math.fround(id * xj))]!;
        const w = W[j]!;
        sumqx = Math.fround(sumqx + Math.fround(Math.fround(w * q) * xj));
        sumq2 = Math.fround(sumq2 + Math.fround(Math.fround(w * q) * q));
      }
      if (sumq2 > 0 && Math.fround(sumqx * sumqx) > Math.fround(best * sumq2)) {
        d = Math.fround(sumqx / sumq2);
        best = Math.fround(d * sumqx);
      }
    }
    putHalf(b, bo, d);
    const inv = d !== 0 ? Math.fround(1 / d) : 0;
    for (let j = 0; j < 32; j++) L[j] = bestIndexInt8(Math.fround(inv * x[xo + j]!));
  }
  for (let j = 0; j < 16; j++) b[bo + 2 + j] = L[j]! | (L[16 + j]! << 4);
};
//#endregion

/** Encoders keyed by IR dtype id (src/core/model/dtypes.ts), with the block size they consume. */
const ENCODERS: ReadonlyMap<string, BlockEncoder> = new Map<string, BlockEncoder>([
  ['q8_0', q8_0],
  ['q4_0', q4_0],
  ['q4_1', qx1(4)],
  ['q5_0', q5_0],
  ['q5_1', qx1(5)],
  ['q1_0', q1_0],
  ['q2_0', q2_0],
  ['q2_k', q2_K],
  ['q3_k', q3_K],
  ['q4_k', q4_K],
  ['q5_k', q5_K],
  ['q6_k', q6_K],
  ['tq1_0', tq1_0],
  ['tq2_0', tq2_0],
  ['iq4_nl', iq4_nl],
]);

/** IR dtypes {@link quantizeGgml} can write: float32, float16, bfloat16 and the ggml block types above. */
export const GGML_WRITABLE_DTYPES: readonly string[] = ['float32', 'float16', 'bfloat16', ...ENCODERS.keys()];

/** True when {@link quantizeGgml} can write `dtype`. */
export function isGgmlWritable(dtype: string): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || ENCODERS.has(dtype);
}

/**
 * Encodes `values` as `dtype` the way ggml's reference quantizer does (no importance matrix). The length must be
 * a whole number of the dtype's blocks (rows are independent, so any run of whole rows may be passed). Writes
 * into `out` when given (it must hold exactly the encoded size). Throws RangeError for other dtypes or lengths.
 */
export function quantizeGgml(dtype: string, values: Float32Array, out?: Uint8Array): Uint8Array {
  const info = dtypeInfo(dtype);
  if (!info || !isGgmlWritable(dtype)) throw new RangeError(`cannot write '${dtype}' as a ggml tensor type`);
  if (values.length % info.blockSize !== 0) throw new RangeError(`${values.length} elements are not a whole number of ${info.label} blocks of ${info.blockSize}`);
  const blocks = values.length / info.blockSize;
  const bytes = blocks * info.bytesPerBlock;
  const b = out ?? new Uint8Array(bytes);
  if (b.length !== bytes) throw new RangeError(`output buffer holds ${b.length} bytes, ${info.label} needs ${bytes}`);
  const n = values.length;
  switch (dtype) {
    case 'float32': {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, values[i]!, true);
      return b;
    }
    case 'float16':
      for (let i = 0; i < n; i++) {
        const h = floatToHalfBits(values[i]!);
        b[2 * i] = h & 0xff;
        b[2 * i + 1] = h >>> 8;
      }
      return b;
    case 'bfloat16':
      for (let i = 0; i < n; i++) {
        const h = floatToBf16Bits(values[i]!);
        b[2 * i] = h & 0xff;
        b[2 * i + 1] = h >>> 8;
      }
      return b;
  }
  const enc = ENCODERS.get(dtype)!;
  const fast = FAST_KQUANTS.get(dtype);
  if (fast) encodeFast(fast, enc, values, blocks, b, info.bytesPerBlock);
  else for (let k = 0; k < blocks; k++) enc(values, k * info.blockSize, b, k * info.bytesPerBlock);
  return b;
}
