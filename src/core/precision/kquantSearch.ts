/**
 * The K-quant scale searches (ggml's make_qkx2_quants for Q2_K / Q4_K / Q5_K, make_qx_quants for Q6_K, make_q3_quants
 * for Q3_K) and the final codes in WebAssembly SIMD (kquantSearch.wat): the hot part of writing and of simulating those
 * types; also the block maxima and decoded values of Q8_0's simulation ({@link q8AbsMaxRun}, {@link q8DequantRun}).
 * Results are bit-for-bit those of the float32 reference ports in ggmlQuants.ts (test/unit/kquantSearch.test.ts checks
 * random blocks and edge cases): WebAssembly's f32 arithmetic is IEEE single precision without contraction, the same
 * operations in the same order; the sub-blocks of a search run one per SIMD lane, eight at a time, each lane taking its
 * trials (or refinement passes) and sums in the reference's order.
 *
 * A run is searched in one call over up to {@link KQUANT_MAX_VALUES} values; the caller then packs each block from
 * the returned views (valid until the next call). Runs containing NaN return undefined, as does a runtime without
 * WebAssembly SIMD or {@link setKquantSearchBackend}('js'): the caller then takes the reference path.
 * Pure: no I/O; the module is compiled synchronously from bytes embedded in gen/kquantSearchWasm.ts.
 */
import { KQUANT_SEARCH_WASM_BASE64 } from './gen/kquantSearchWasm';
import { compileWasm, instantiateWasm } from '../util/wasm';

/** Most values one search call takes (64 super-blocks of 256). */
export const KQUANT_MAX_VALUES = 16384;

/** Memory layout (bytes) below the module's own scratch at 0x1f000. */
const X_OFF = 0, L_OFF = 0x10000, S_OFF = 0x14000, M_OFF = 0x15000, NUMS_OFF = 0x16000, DD_OFF = 0x17000, DM_OFF = 0x18000;

/**
 * Results of one search call: a scale (and −min for make_qkx2) per sub-block and a code per value; `dd`/`dm` are
 * where the caller puts each sub-block's final step and offset before {@link affineCodesRun} / {@link symCodesRun}.
 */
export interface KquantSearchViews {
  readonly scales: Float32Array;
  readonly mins: Float32Array;
  readonly codes: Uint8Array;
  readonly dd: Float32Array;
  readonly dm: Float32Array;
}

interface KquantExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  hasNaN(x: number, n: number): number;
  qkx2(x: number, nsub: number, n: number, nmax: number, rmin: number, rdelta: number, nstep: number, mad: number, wmode: number, outS: number, outM: number, outL: number): void;
  qx(x: number, nsub: number, n: number, nmax: number, nums: number, outS: number, outL: number): void;
  q3(x: number, nsub: number, n: number, nmax: number, outS: number, outL: number): void;
  codesAffine(x: number, nsub: number, n: number, nmax: number, dd: number, dm: number, outL: number): void;
  codesSym(x: number, nsub: number, n: number, lo: number, hi: number, dd: number, outL: number): void;
  dequantAffine(nsub: number, n: number, dd: number, dm: number, codes: number, out: number): void;
  dequantSym(nsub: number, n: number, bias: number, dd: number, codes: number, out: number): void;
  q8AbsMax(x: number, nblk: number, out: number): void;
  q8Dequant(x: number, nblk: number, ids: number, dhs: number): void;
}

interface KquantState {
  readonly ex: KquantExports;
  readonly x: Float32Array;
  readonly views: KquantSearchViews;
  /** For which nmax the make_qx trial numerators are loaded (0 = none). */
  numsFor: number;
}

let state: KquantState | null | undefined;
let backend: 'auto' | 'js' = 'auto';

function load(): KquantState | undefined {
  if (state === undefined) {
    state = null;
    // Without WebAssembly SIMD (or with it disabled by policy) the reference path runs instead.
    const module = compileWasm(KQUANT_SEARCH_WASM_BASE64);
    const ex = (module && instantiateWasm(module)) as KquantExports | undefined;
    if (ex) {
      const buf = ex.memory.buffer;
      state = {
        ex,
        x: new Float32Array(buf, X_OFF, KQUANT_MAX_VALUES),
        views: {
          scales: new Float32Array(buf, S_OFF, 1024), mins: new Float32Array(buf, M_OFF, 1024), codes: new Uint8Array(buf, L_OFF, KQUANT_MAX_VALUES),
          dd: new Float32Array(buf, DD_OFF, 1024), dm: new Float32Array(buf, DM_OFF, 1024),
        },
        numsFor: 0,
      };
    }
  }
  return backend === 'js' ? undefined : (state ?? undefined);
}

/** Chooses the implementation: 'auto' = WebAssembly when available, 'js' = always the reference (tests). */
export function setKquantSearchBackend(b: 'auto' | 'js'): 'auto' | 'js' {
  const prev = backend;
  backend = b;
  return prev;
}

/** 'wasm' when the WebAssembly searches run, else 'js'. */
export function activeKquantSearchBackend(): 'wasm' | 'js' {
  return load() ? 'wasm' : 'js';
}

/** Copies `count` values of `x` from `xo` into the module; false when unavailable or a value is NaN. */
function stage(s: KquantState, x: Float32Array, xo: number, count: number): boolean {
  if (count > KQUANT_MAX_VALUES || count % 4 !== 0) throw new RangeError(`K-quant search runs take whole sub-blocks, at most ${KQUANT_MAX_VALUES} values (got ${count})`);
  s.x.set(x.subarray(xo, xo + count));
  return s.ex.hasNaN(X_OFF, count) === 0;
}

/**
 * make_qkx2_quants over `count` values from `xo`, in runs of `n` (16 or 32): weights |x| (`weights` 'abs', Q2_K) or
 * av_x + |x| ('avx', Q4_K/Q5_K). Undefined when the reference path must run (no WebAssembly, or NaN in the run).
 */
export function searchQkx2(x: Float32Array, xo: number, count: number, n: number, nmax: number, rmin: number, rdelta: number, nstep: number, useMad: boolean, weights: 'avx' | 'abs'): KquantSearchViews | undefined {
  const s = load();
  if (!s || !stage(s, x, xo, count)) return undefined;
  s.ex.qkx2(X_OFF, count / n, n, nmax, rmin, rdelta, nstep, useMad ? 1 : 0, weights === 'avx' ? 0 : 1, S_OFF, M_OFF, L_OFF);
  return s.views;
}

/**
 * make_qx_quants(n, nmax, rmse_type = 1, no weights) over `count` values from `xo` in runs of `n`; codes are l + nmax.
 * Undefined when the reference path must run.
 */
export function searchQx(x: Float32Array, xo: number, count: number, n: number, nmax: number): KquantSearchViews | undefined {
  const s = load();
  if (!s || !stage(s, x, xo, count)) return undefined;
  if (s.numsFor !== nmax) {
    // The trial numerators exactly as the reference computes them: −fround(nmax + fround(0.1·is)).
    const nums = new Float32Array(s.ex.memory.buffer, NUMS_OFF, 20);
    let k = 0;
    for (let is = -9; is <= 9; is++) if (is !== 0) nums[k++] = -Math.fround(nmax + Math.fround(0.1 * is));
    nums[18] = nums[19] = 0;
    s.numsFor = nmax;
  }
  s.ex.qx(X_OFF, count / n, n, nmax, NUMS_OFF, S_OFF, L_OFF);
  return s.views;
}

/** make_q3_quants(n, nmax, do_rmse) over `count` values from `xo` in runs of `n`; codes are l + nmax. */
export function searchQ3(x: Float32Array, xo: number, count: number, n: number, nmax: number): KquantSearchViews | undefined {
  const s = load();
  if (!s || !stage(s, x, xo, count)) return undefined;
  s.ex.q3(X_OFF, count / n, n, nmax, S_OFF, L_OFF);
  return s.views;
}

/**
 * After a search of `count` values and the caller's `dd`/`dm` per run of `n`: the final codes
 * clamp(nearest_int((x + dm) / dd), 0, nmax) replace the search's where dd ≠ 0 (in the views' `codes`).
 */
export function affineCodesRun(count: number, n: number, nmax: number): void {
  state!.ex.codesAffine(X_OFF, count / n, n, nmax, DD_OFF, DM_OFF, L_OFF);
}

/** As {@link affineCodesRun} for the symmetric types: clamp(nearest_int(x / dd), lo, hi) − lo where dd ≠ 0. */
export function symCodesRun(count: number, n: number, lo: number, hi: number): void {
  state!.ex.codesSym(X_OFF, count / n, n, lo, hi, DD_OFF, L_OFF);
}

/**
 * After the final codes of a run of `count` values: the dequantized values y = dd·code − dm (affine types) as the
 * block decoders compute them (float64 products, stored as float32). They overwrite the staged input; the returned
 * view is valid until the next call.
 */
export function dequantAffineRun(count: number, n: number): Float32Array {
  state!.ex.dequantAffine(count / n, n, DD_OFF, DM_OFF, L_OFF, X_OFF);
  return state!.x.subarray(0, count);
}

/** As {@link dequantAffineRun} for the symmetric types: y = dd·(code − bias). */
export function dequantSymRun(count: number, n: number, bias: number): Float32Array {
  state!.ex.dequantSym(count / n, n, bias, DD_OFF, L_OFF, X_OFF);
  return state!.x.subarray(0, count);
}

/**
 * Q8_0 simulation, first pass over `count` values of `x` from `xo` (whole blocks of 32, at most
 * {@link KQUANT_MAX_VALUES}): stages them and returns each block's max |x| in the views' `dd` (NaN or ∞ when the block
 * holds one). The caller then puts each block's 1/d in `dd` and its decoder step in `dm` for {@link q8DequantRun}.
 * Undefined when the WebAssembly module is unavailable.
 */
export function q8AbsMaxRun(x: Float32Array, xo: number, count: number): KquantSearchViews | undefined {
  const s = load();
  if (!s) return undefined;
  if (count > KQUANT_MAX_VALUES || count % 32 !== 0) throw new RangeError(`Q8_0 runs take whole blocks of 32, at most ${KQUANT_MAX_VALUES} values (got ${count})`);
  s.x.set(x.subarray(xo, xo + count));
  s.ex.q8AbsMax(X_OFF, count / 32, DD_OFF);
  return s.views;
}

/**
 * Q8_0 simulation, second pass after {@link q8AbsMaxRun}: each value's decoded c·dh from its block's 1/d (`dd`) and
 * step (`dm`), for blocks of finite values with a finite 1/d (the caller redoes any other block). The returned view
 * is valid until the next call.
 */
export function q8DequantRun(count: number): Float32Array {
  state!.ex.q8Dequant(X_OFF, count / 32, DD_OFF, DM_OFF);
  return state!.x.subarray(0, count);
}
