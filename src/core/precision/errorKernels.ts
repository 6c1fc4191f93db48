/**
 * Fast error kernels of static sensitivity (sensitivity.ts `analyzeSensitivityChunk` drives them).
 *
 * Where the time goes and how it is cut (single thread, one FP16 [4096, 4096] tensor, bench/sensitivity.bench.ts;
 * the element-by-element JS analysis before these kernels took ~125 ns/element for the five default formats):
 * - 16-bit weights (FP16, BF16) have only 65 536 distinct values, so every **element-wise** quantity — the weight
 *   statistics and the error of FP32/TF32/BF16/FP16, per-tensor FP8/FP6/FP4, INT8 per tensor and ternary — is a
 *   function of the code alone. One pass counts the codes (`histogram16`, ~0.4 ns/element); the errors are then
 *   summed over the distinct codes with exactly the scalar rounding of quantize.ts ({@link histogramErrors}), so
 *   BF16/FP8/INT8-per-tensor cost ~0 per element. The statistics and the BF16/FP16/TF32/minifloat-grid errors of a
 *   histogram run in WebAssembly (`histStats`, `histErrors`: the JS loops' float64 operations in the same order, bit
 *   for bit): ~1 ms per 16M-value tensor instead of ~3 in a fresh worker, where the JS loops ran cold and boxed a
 *   number per code (~4 MB of garbage per tensor).
 * - Group and channel **integer** formats (INT8 per channel, INT4 g128/g64/g32, W8A8, W4A4) need every element:
 *   WebAssembly SIMD kernels (errorKernels.wat, float64 lanes, RNE by `f64x2.nearest`, ~1 ns/element per
 *   format; INT8-per-channel + INT4-groups share one pass, `intErrorPair`, and with INT4 groups of g, 2g and 4g
 *   (a plan's g32/g64/g128) `intErrorGroups`, whose group maxima are computed once: ~35 % less than the pair plus
 *   two `intError` passes) on row blocks that stay in cache, after an in-wasm FP16/BF16 → float32 decode
 *   (~0.2–0.4 ns/element). These loops are bound by float64 lane throughput (7 operations per value and format);
 *   decoding FP16 in registers instead of a decoded block was measured at the same speed, so the block stays.
 * - FP16/BF16 weights with INT8 per channel + INT4 groups as the only block formats (the default five):
 *   `intErrorPairF16` runs on the 16-bit codes — group maxima as integer maxima of the codes, |x| decoded in
 *   registers, the errors in float32 lanes (4 per step) in the scaled domain (e = x/s − q, Σe² per group in float32,
 *   times s² in float64; a row whose errors are too small for the bound reruns with d = x − q·scale exact; bound
 *   and proof at {@link F16_PAIR_TOLERANCE}) — and counts the histogram in the same loop, where its scalar loads
 *   and stores overlap the SIMD arithmetic: 0.82 ns/value for count + pair (0.93 with d exact, 1.83 for count,
 *   decode and float64 pair) on one thread. Session 6, the same sums bit for bit in less time (1.02 → 0.86
 *   ns/value measured in one run on a loaded machine, INT4 g128): an INT4 group's scale, 1/scale and safety test
 *   are functions of its max code, looked up in a 32 768-entry table made once per thread (`groupScaleTable`,
 *   1 MiB at address 0; was ~20 ns of float64 divisions and FP16 rounding per group), and the max |d| is tracked
 *   (four f32x4.pmax per 8 values, the loop's heaviest port) only where it can matter: until a row's maxima pass
 *   the scaled pass's tests, and in groups whose ¼·scale² exceeds the max so far (|e| ≤ ½); elsewhere a loop
 *   without it runs. The statistics and element-wise errors of the count run in place ({@link
 *   workspaceHistogramStats}: the two halves merged in WebAssembly, the code table made there by `codeTable16`, no
 *   JavaScript table or 512 KiB copies per tensor).
 * - Float32 weights: statistics (`stats32`, ~1.1 ns/element), FP16/BF16 errors by float32 bit rounding
 *   (`roundError16`, ~1 ns/element; with the statistics in one pass, `statsRound16`) and TF32/per-tensor-minifloat
 *   errors (`elementError`, the same Veltkamp/RNE arithmetic as quantize.ts, ~1.3 ns/element) in WebAssembly too.
 *   A worker reading its own file reads float32 straight into the kernels' memory in cache-sized pieces; formats
 *   with a per-tensor scale (FP8, INT8 per tensor) need the chunk's max first and run in a second pass that reads
 *   the pieces again (~0.2 ns/element from the page cache). All five defaults: ~6 ns/element (was ~70).
 * - NF4: `nf4Error`, the sums of quantize.ts {@link nf4Error} up to summation order. Per group, the 15 codebook
 *   midpoints × max become exact float32 thresholds (x / max rounded to float64 exceeds a midpoint exactly when x
 *   exceeds midpoint × max), so four values per step are compared in float32 and the quantized codebook is looked
 *   up by i8x16.swizzle: ~2.7 ns/element (float64 division and compares: ~6; JavaScript: ~25–55).
 * - Everything else (MX, NVFP4, binary, ggml types, ternary on float32) goes through quantize.ts
 *   `fakeQuantize` per row block.
 * The code histograms are zeroed only after a task counted into them (most small tensors never do; zeroing
 * 512 KiB per task cost more than analysing a 16 KiB tensor).
 * Results equal the element-by-element `quantizationError` up to float64 summation order, except that an INT4
 * group whose FP16 scale overflows (max |x| / 7 ≥ 65520) now counts as overflowed with error x instead of making
 * the sum NaN. When WebAssembly is unavailable (or {@link setErrorKernelBackend}('js')), JS kernels with the same
 * arithmetic run instead (tests compare both).
 *
 * Pure: no I/O; the WebAssembly module is compiled synchronously from bytes embedded in gen/errorKernelsWasm.ts
 * (`npm run build:kernels` regenerates them from errorKernels.wat with wabt).
 */
import type { NumberFormat } from './numberFormats';
import type { ErrorPartial, WeightStatsPartial } from './sensitivity';
import { halfToFloatTable } from './decode';
import { GRIDS, SPLIT, nf4Error, roundBf16, roundFp16, roundMiniFast, roundSignificant, toHalf } from './quantize';
import { ERROR_KERNELS_WASM_BASE64 } from './gen/errorKernelsWasm';
import { compileWasm, instantiateWasm } from '../util/wasm';

//#region backend selection

/** Which kernel implementation runs: 'auto' = WebAssembly when available, else JS. */
export type ErrorKernelBackend = 'auto' | 'wasm' | 'js';

let requested: ErrorKernelBackend = 'auto';

/** Chooses the kernel implementation (tests and benchmarks compare them); returns the previous choice. */
export function setErrorKernelBackend(backend: ErrorKernelBackend): ErrorKernelBackend {
  const prev = requested;
  requested = backend;
  return prev;
}

/** The implementation that {@link errorWorkspace} returns now: 'wasm' or 'js'. */
export function activeErrorKernelBackend(): 'wasm' | 'js' {
  return requested !== 'js' && wasmExports() ? 'wasm' : 'js';
}

//#endregion

//#region WebAssembly module

interface WasmExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  decodeF16(src: number, n: number, dst: number): void;
  decodeBf16(src: number, n: number, dst: number): void;
  histogram16(src: number, n: number, hist: number): void;
  intError(x: number, n: number, rowLen: number, group: number, qmax: number, qmin: number, fp16Scale: number, mode: number, amaxConst: number, amaxPtr: number, acc: number): void;
  intErrorPair(x: number, n: number, rowLen: number, group: number, qmaxA: number, qminA: number, modeA: number, amaxPtr: number, qmaxB: number, qminB: number, scratch: number, accA: number, accB: number): void;
  intErrorPairF16(src: number, n: number, rowLen: number, group: number, qmaxA: number, qminA: number, modeA: number, amaxPtr: number, qmaxB: number, qminB: number, scratch: number, dst: number, accA: number, accB: number, count: number, hist: number, bf16: number, lut: number): void;
  groupScaleTable(lut: number, qmaxB: number, qminB: number, bf16: number): void;
  histMerge(hist: number): void;
  codeTable16(dst: number, bf16: number): void;
  intErrorGroups(x: number, n: number, rowLen: number, g1: number, qmaxA: number, qminA: number, modeA: number, amaxPtr: number, qmaxB: number, qminB: number, scratch: number, accA: number, acc1: number): void;
  stats32(x: number, n: number, acc: number): void;
  statsRound16(x: number, n: number, acc: number, acc16: number, accB: number): void;
  elementError(x: number, n: number, kind: number, c: number, lo: number, loInv: number, hi: number, inv: number, scale: number, acc: number): void;
  roundError16(x: number, n: number, bf16: number, acc: number): void;
  nf4Error(x: number, n: number, rowLen: number, group: number, acc: number, tbl: number): void;
  histStats(hist: number, tbl: number, out: number): void;
  histErrors(hist: number, tbl: number, kind: number, c: number, minNormal: number, subInv: number, maxFinite: number, inv: number, scale: number, out: number): void;
}

let wasmState: WasmExports | null | undefined;

/** The instantiated kernels, or undefined when this runtime has no WebAssembly (SIMD). Compiled once per thread. */
function wasmExports(): WasmExports | undefined {
  if (wasmState === undefined) {
    // Without WebAssembly SIMD (or with wasm disabled by policy) the JS kernels run instead.
    const module = compileWasm(ERROR_KERNELS_WASM_BASE64);
    wasmState = ((module && instantiateWasm(module)) as WasmExports | undefined) ?? null;
  }
  return wasmState ?? undefined;
}

//#endregion

//#region workspace

/** Source encodings a block can be loaded from. */
export type BlockSource = 'float16' | 'bfloat16' | 'float32';

/** Per-row max |x| source of {@link ErrorWorkspace.intError}: computed (0), a constant (1), or per row (2). */
export const AMAX_COMPUTED = 0, AMAX_CONSTANT = 1, AMAX_PER_ROW = 2;

/**
 * How far {@link ErrorWorkspace.intErrorPairStaged} (FP16 or BF16 codes, float32 arithmetic) may be from
 * {@link ErrorWorkspace.intErrorPair} (float64), relative, for INT8 per channel (qmax 127) + INT4 groups of ≤ 256
 * (qmax 7). Rows with NaN/±Inf, a possible clamp or an FP16 scale overflow take the float64 path, so overflow
 * counts and those rows are identical; so do rows whose A scale is below 2^-40 and BF16 rows holding a nonzero
 * |x| < 2^-60. The other rows first run the **scaled pass**: per value y = |x| × float32(1/s), e = y − nearest(y)
 * (exact: Sterbenz, or e = y when q = 0), e² in float32 summed per lane over one group, then Σe² × s² in float64
 * (s² exact). With t = |x|/s and r = t − q_ref the reference's scaled error (d = s·r):
 * - |y − t| ≤ |t|·2^-23 ≤ δ := (qmax + ½)·2^-23 (+ the reference's own 2^-52: δ' = 1.53e-5 for A, 9e-7 for B).
 * - Same q as the reference: |e − r| ≤ δ'. Different q (t within δ' of a half-integer): |e|, |r| ∈ ½ ± δ'. Either
 *   way |e² − r²| ≤ δ'(2|r| + 2δ') and ||e| − |r|| ≤ 2δ'.
 * - Summed with weights w = s² (one s per row for A, per group for B) and Cauchy–Schwarz (Σw|r| ≤ √(Σw·Σwr²)):
 *   |Σwe² − Σwr²| / Σwr² ≤ 2δ'/κ + 2δ'²/κ², κ² = Σwr²/Σw, and κ ≥ κ_e − 2δ' (κ_e from e, triangle inequality).
 * - So the row keeps its scaled sums only when mean e² ≥ 1/16 (A: κ ≥ 0.2499, bound 1.23e-4) and Σs²e² ≥
 *   0.02²·Σs² (B: bound 9.0e-5), and, for max |d| (off by ≤ 2δ'·s), max e² ≥ 0.16 (A: 7.7e-5 relative) and
 *   max s·|e| ≥ 0.02·max s (B: 9.0e-5). Rows of a row scale 0 (all zeros) are exact. Real weights pass easily
 *   (e is close to uniform: mean e² ≈ 1/12); rows that do not (weights already on the grid, constant rows) run the
 *   **exact pass**: d = |x| − q·scale exact in float32 (B: q ≤ 7 times an FP16 scale has ≤ 14 significant bits and
 *   |x| − q·s spans ≤ 22 bits; A: s = hi + lo with hi its top 12 bits, q·hi and q·lo exact, |x| − q·hi spans ≤ 20
 *   bits, d a multiple of lo's last bit 2^e with |d| < 2^(e+24)); q can differ from the reference only within δ of
 *   a half-integer, where the two d² differ by ≤ 8δ/(1 − 2δ)² relative (1.22e-4 for A).
 * - Both passes: d² (or e²) rounds to float32 (2^-24 relative, all terms positive) and is summed per lane in float32
 *   over one group (≤ group/8 + 1 additions: ≤ 33 · 2^-24 = 2e-6 for groups ≤ 256) before float64 totals.
 * So Σd² is within 1.25e-4 relative (SQNR within 5.5e-4 dB: a 1-decimal figure moves only when the float64 value
 * lies within that of a rounding boundary); max |d| within 1e-4. The row tests are what keep the bound: without
 * them the unit test fails (values already on the grid). Worst seen there (values chosen at the ties):
 * quantizeKernels.test.ts prints it (session 5: 2.0e-6 FP16, 3.8e-6 BF16 relative Σd²).
 */
export const F16_PAIR_TOLERANCE = { noise: 1.3e-4, maxAbsError: 1e-4, maxGroup: 256 } as const;

/** Fills `dst` with the chunk's bytes starting `byteOffset` bytes into the chunk (a worker reading its file). */
export type ChunkByteReader = (dst: Uint8Array, byteOffset: number) => void;

/**
 * Scratch state of the kernels for one thread: a staging area of 16-bit codes, a block of decoded float32 values,
 * a code histogram and error accumulators (noise Σd², max |d|, overflowed elements) in numbered slots.
 */
export interface ErrorWorkspace {
  readonly backend: 'wasm' | 'js';
  /**
   * Prepares for blocks of up to `blockElements` values, a staging area of `stageElements` (≥ blockElements)
   * 16-bit codes, `slots` accumulators and `rowAmaxCount` per-row maxima; zeroes the histogram and slots.
   */
  reset(blockElements: number, slots: number, rowAmaxCount: number, stageElements?: number): void;
  /** Loads `n` values starting at `start`: 16-bit codes (decoded; counted into the histogram when `count`) or float32 values. */
  load(source: BlockSource, data: Uint16Array | Float32Array, start: number, n: number, count: boolean): void;
  /** Counts 16-bit codes into the histogram without loading them as a block. */
  count(codes: Uint16Array, start: number, n: number): void;
  /** Reads `n` 16-bit codes into the staging area with `read` (from `byteOffset` of the chunk). */
  stage(read: ChunkByteReader, byteOffset: number, n: number): void;
  /** Decodes staged codes [k, k + n) as the block (counting them when `count`). */
  loadStaged(source: 'float16' | 'bfloat16', k: number, n: number, count: boolean): void;
  /** Counts staged codes [k, k + n). */
  countStaged(k: number, n: number): void;
  /**
   * Reserves a region of `n` float32 values in the kernels' own memory that stays put until the next
   * {@link reset}: values read there ({@link readValues}) are analyzed in place, without a copy. False when the
   * memory cannot grow that far.
   */
  reserveValues(n: number): boolean;
  /** Reads `n` float32 values with `read` (from `byteOffset` of the chunk) into the region at value `at`. */
  readValues(read: ChunkByteReader, byteOffset: number, at: number, n: number): void;
  /** Copies `data[start, start + n)` into the region at value `at`. */
  putValues(data: Float32Array, start: number, at: number, n: number): void;
  /** Makes region values [at, at + n) the loaded block, in place (no copy). */
  selectValues(at: number, n: number): void;
  /** The loaded block's values (valid until the next call). */
  block(n: number): Float32Array;
  /** Sets the per-row maxima for {@link AMAX_PER_ROW}. */
  setRowAmax(values: Float32Array): void;
  /**
   * Adds the symmetric integer quantization error of the loaded block (`n` values in rows of `rowLength`, groups
   * of `group`) to `slot`. See errorKernels.wat `intError` for the exact arithmetic.
   */
  intError(n: number, rowLength: number, group: number, qmax: number, qmin: number, fp16Scale: boolean, amaxMode: number, amaxConst: number, firstRow: number, slot: number): void;
  /**
   * Two formats in one pass: A with one float32 scale per row (amax computed or {@link AMAX_PER_ROW}) into `slotA`,
   * B with an FP16 scale per `group` (≥ 32) into `slotB`; the same sums as two {@link intError} calls.
   */
  intErrorPair(n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slotB: number): void;
  /**
   * {@link intErrorPair} of `n` staged FP16 codes [k, k + n) without loading them as a block: decoded in registers
   * and computed in float32 (errorKernels.wat `intErrorPairF16`; the sums agree with {@link intErrorPair} within
   * {@link F16_PAIR_TOLERANCE}). The loaded block is overwritten. The JS backend decodes and runs intErrorPair.
   * (FP16 or BF16 codes, as `source`.)
   */
  intErrorPairStaged(source: 'float16' | 'bfloat16', k: number, n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slotB: number, count: boolean): void;
  /** Copies 16-bit codes `data[start, start + n)` into the staging area (at 0), as {@link stage} reads them. */
  putCodes(data: Uint16Array, start: number, n: number): void;
  /**
   * Four formats in one pass: A as in {@link intErrorPair} into `slotA`, and FP16-scaled groups of `group`,
   * 2·`group` and 4·`group` (a multiple of 4, ≥ 32) into `slot1`, `slot1 + 1` and `slot1 + 2`, the group maxima
   * computed once; the same sums as four {@link intError} calls.
   */
  intErrorGroups(n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slot1: number): void;
  /** Adds the loaded block's weight statistics (float32 blocks; 16-bit blocks use the histogram). */
  stats(n: number): void;
  /** The statistics added by {@link stats}, plus the whole-chunk facts fakeQuantize would derive. */
  statsResult(): WeightStatsPartial & HistogramFacts;
  /**
   * Adds the element-wise rounding error of the loaded block to `slot` for parameters from
   * {@link elementwiseKernelParams} (see errorKernels.wat `elementError`).
   */
  elementError(n: number, p: ElementwiseKernelParams, slot: number): void;
  /** FP16 or BF16 rounding error of the loaded block (the same sums as {@link elementError} with their parameters, by float32 bit rounding). */
  roundError16(n: number, format: 'fp16' | 'bf16', slot: number): void;
  /** {@link stats} and {@link roundError16} for FP16 (into `slotFp16`) and BF16 (into `slotBf16`) in one pass over the block. */
  statsRound16(n: number, slotFp16: number, slotBf16: number): void;
  /**
   * Adds the NF4 error of the loaded block (rows of `rowLength`, absmax groups of `group`) to slots `slot` and
   * `slot + 1` (noise, max |d|, overflowed; signal, count): the sums quantize.ts {@link nf4Error} adds, read
   * back with {@link partial}. See errorKernels.wat `nf4Error`.
   */
  nf4Error(n: number, rowLength: number, group: number, slot: number): void;
  /** [noise, max |d|, overflowed] of a slot. */
  slot(slot: number): [number, number, number];
  /** The five sums a two-slot kernel ({@link nf4Error}) added to `slot` and `slot + 1`. */
  partial(slot: number): ErrorPartial;
  /** The code histogram (65 536 counts). */
  histogram(): Uint32Array;
}

const HIST_BYTES = 65536 * 4;
/** intErrorPairF16's table of B's per-group constants by max code (errorKernels.wat `groupScaleTable`): 32 bytes × 32 768 codes, at address 0. */
const GROUP_TABLE_BYTES = 32 * 32768;
/** Where the float32 value of every 16-bit code lies (errorKernels.wat `codeTable16`), after the group table. */
const CODE_TABLE_AT = GROUP_TABLE_BYTES;
/**
 * The two code histograms (the kernels alternate between them), after the code table. errorKernels.wat
 * `intErrorPairF16` counts at this fixed address (immediate offsets: one addition fewer per counted value).
 */
const HIST_AT = CODE_TABLE_AT + HIST_BYTES;

class WasmWorkspace implements ErrorWorkspace {
  readonly backend = 'wasm';
  private src = 0;
  private stageElements = 0;
  private dst = 0;
  private hist = 0;
  private acc = 0;
  private amax = 0;
  private scratch = 0;
  private statsAcc = 0;
  /** The loaded block: `dst` after load(), or inside the value region after selectValues(). */
  private cur = 0;
  private region = 0;
  private regionEnd = 0;
  /** The histograms hold counts (zeroed at the next reset; most small tensors never count, and zeroing 512 KiB per task cost more than their analysis). */
  private histUsed = true;
  /** The (qmaxB, qminB, bf16) the group table at 0 was made for ('' = not made yet). */
  private groupTableKey = '';
  /** The dtype whose code table is at {@link CODE_TABLE_AT} ('' = none yet). */
  private codeTableOf: '' | 'float16' | 'bfloat16' = '';
  constructor(private readonly k: WasmExports) {}

  reset(blockElements: number, slots: number, rowAmaxCount: number, stageElements = blockElements): void {
    const align = (x: number): number => (x + 63) & ~63;
    this.stageElements = Math.max(blockElements, stageElements);
    this.hist = HIST_AT;
    this.acc = this.hist + 2 * HIST_BYTES;
    this.statsAcc = align(this.acc + slots * 24);
    this.amax = align(this.statsAcc + 12 * 8);
    this.src = align(this.amax + rowAmaxCount * 4);
    this.dst = align(this.src + this.stageElements * 2);
    this.scratch = align(this.dst + blockElements * 4);
    // intErrorPair: 16 bytes per group of ≥ 32 in a row; intErrorGroups: per group of three sizes (≤ 1.75× that + 2);
    // nf4Error: its 384-byte tables (codebook, midpoints, a group's thresholds and quantized codebook).
    const need = this.scratch + Math.max(384, 16 * (2 * Math.ceil(blockElements / 32) + 4) + 64);
    this.region = this.regionEnd = align(need);
    this.cur = this.dst;
    const have = this.k.memory.buffer.byteLength;
    if (need > have) this.k.memory.grow(Math.ceil((need - have) / 65536));
    new Uint8Array(this.k.memory.buffer, this.histUsed ? this.hist : this.acc, this.histUsed ? this.amax - this.hist : this.amax - this.acc).fill(0);
    this.histUsed = false;
  }

  reserveValues(n: number): boolean {
    const need = this.region + n * 4;
    // wasm32 memory ends at 4 GiB; stay well below (a chunk is at most a few hundred MiB).
    if (need > 2 ** 31) return false;
    const have = this.k.memory.buffer.byteLength;
    if (need > have) {
      try {
        this.k.memory.grow(Math.ceil((need - have) / 65536));
      } catch {
        return false;
      }
    }
    this.regionEnd = need;
    return true;
  }

  readValues(read: ChunkByteReader, byteOffset: number, at: number, n: number): void {
    if (this.region + (at + n) * 4 > this.regionEnd) throw new RangeError('values outside the reserved region');
    read(new Uint8Array(this.k.memory.buffer, this.region + at * 4, n * 4), byteOffset);
  }

  putValues(data: Float32Array, start: number, at: number, n: number): void {
    if (this.region + (at + n) * 4 > this.regionEnd) throw new RangeError('values outside the reserved region');
    new Float32Array(this.k.memory.buffer, this.region + at * 4, n).set(data.subarray(start, start + n));
  }

  selectValues(at: number, n: number): void {
    if (this.region + (at + n) * 4 > this.regionEnd) throw new RangeError('values outside the reserved region');
    this.cur = this.region + at * 4;
  }

  load(source: BlockSource, data: Uint16Array | Float32Array, start: number, n: number, count: boolean): void {
    const buf = this.k.memory.buffer;
    this.cur = this.dst;
    if (source === 'float32') {
      new Float32Array(buf, this.dst, n).set((data as Float32Array).subarray(start, start + n));
      return;
    }
    new Uint16Array(buf, this.src, n).set((data as Uint16Array).subarray(start, start + n));
    this.loadStaged(source, 0, n, count);
  }

  count(codes: Uint16Array, start: number, n: number): void {
    for (let s = 0; s < n; s += this.stageElements) {
      const m = Math.min(this.stageElements, n - s);
      new Uint16Array(this.k.memory.buffer, this.src, m).set(codes.subarray(start + s, start + s + m));
      this.histUsed = true;
      this.k.histogram16(this.src, m, this.hist);
    }
  }

  stage(read: ChunkByteReader, byteOffset: number, n: number): void {
    read(new Uint8Array(this.k.memory.buffer, this.src, n * 2), byteOffset);
  }

  loadStaged(source: 'float16' | 'bfloat16', k: number, n: number, count: boolean): void {
    const at = this.src + 2 * k;
    this.cur = this.dst;
    if (count) {
      this.histUsed = true;
      this.k.histogram16(at, n, this.hist);
    }
    if (source === 'float16') this.k.decodeF16(at, n, this.dst);
    else this.k.decodeBf16(at, n, this.dst);
  }

  countStaged(k: number, n: number): void {
    this.histUsed = true;
    this.k.histogram16(this.src + 2 * k, n, this.hist);
  }

  block(n: number): Float32Array {
    return new Float32Array(this.k.memory.buffer, this.cur, n);
  }

  setRowAmax(values: Float32Array): void {
    new Float32Array(this.k.memory.buffer, this.amax, values.length).set(values);
  }

  intError(n: number, rowLength: number, group: number, qmax: number, qmin: number, fp16Scale: boolean, amaxMode: number, amaxConst: number, firstRow: number, slot: number): void {
    this.k.intError(this.cur, n, rowLength, group, qmax, qmin, fp16Scale ? 1 : 0, amaxMode, amaxConst, this.amax + firstRow * 4, this.acc + slot * 24);
  }

  stats(n: number): void {
    this.k.stats32(this.cur, n, this.statsAcc);
  }

  statsResult(): WeightStatsPartial & HistogramFacts {
    return statsFromSums(new Float64Array(this.k.memory.buffer, this.statsAcc, 12));
  }

  statsRound16(n: number, slotFp16: number, slotBf16: number): void {
    this.k.statsRound16(this.cur, n, this.statsAcc, this.acc + slotFp16 * 24, this.acc + slotBf16 * 24);
  }

  roundError16(n: number, format: 'fp16' | 'bf16', slot: number): void {
    this.k.roundError16(this.cur, n, format === 'bf16' ? 1 : 0, this.acc + slot * 24);
  }

  elementError(n: number, p: ElementwiseKernelParams, slot: number): void {
    this.k.elementError(this.cur, n, p.kind, p.c, p.lo, p.loInv, p.hi, p.inv, p.scale, this.acc + slot * 24);
  }

  intErrorPair(n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slotB: number): void {
    this.k.intErrorPair(this.cur, n, rowLength, group, qmaxA, qminA, amaxModeA, this.amax + firstRow * 4, qmaxB, qminB, this.scratch, this.acc + slotA * 24, this.acc + slotB * 24);
  }

  intErrorPairStaged(source: 'float16' | 'bfloat16', k: number, n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slotB: number, count: boolean): void {
    this.cur = this.dst;
    const bf16 = source === 'bfloat16' ? 1 : 0;
    const key = `${qmaxB} ${qminB} ${bf16}`;
    if (this.groupTableKey !== key) {
      this.k.groupScaleTable(0, qmaxB, qminB, bf16);
      this.groupTableKey = key;
    }
    this.k.intErrorPairF16(this.src + 2 * k, n, rowLength, group, qmaxA, qminA, amaxModeA, this.amax + firstRow * 4, qmaxB, qminB, this.scratch, this.dst, this.acc + slotA * 24, this.acc + slotB * 24, count ? 1 : 0, this.hist, bf16, 0);
    if (count) this.histUsed = true;
  }

  putCodes(data: Uint16Array, start: number, n: number): void {
    new Uint16Array(this.k.memory.buffer, this.src, n).set(data.subarray(start, start + n));
  }

  intErrorGroups(n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slot1: number): void {
    this.k.intErrorGroups(this.cur, n, rowLength, group, qmaxA, qminA, amaxModeA, this.amax + firstRow * 4, qmaxB, qminB, this.scratch, this.acc + slotA * 24, this.acc + slot1 * 24);
  }

  nf4Error(n: number, rowLength: number, group: number, slot: number): void {
    this.k.nf4Error(this.cur, n, rowLength, group, this.acc + slot * 24, this.scratch);
  }

  slot(slot: number): [number, number, number] {
    const f = new Float64Array(this.k.memory.buffer, this.acc + slot * 24, 3);
    return [f[0]!, f[1]!, f[2]!];
  }

  partial(slot: number): ErrorPartial {
    const f = new Float64Array(this.k.memory.buffer, this.acc + slot * 24, 5);
    return { noise: f[0]!, maxAbsError: f[1]!, overflow: f[2]!, signal: f[3]!, count: f[4]! };
  }

  histogram(): Uint32Array {
    const both = new Uint32Array(this.k.memory.buffer, this.hist, 2 * 65536);
    const out = new Uint32Array(65536);
    for (let i = 0; i < 65536; i++) out[i] = both[i]! + both[i + 65536]!;
    return out;
  }

  /** An address above everything a task uses (tables, histograms, slots, blocks) with `bytes` free after it. */
  private above(bytes: number): number {
    const base = (Math.max(this.regionEnd, this.hist + 4 * HIST_BYTES) + 63) & ~63;
    const need = base + bytes;
    const have = this.k.memory.buffer.byteLength;
    if (need > have) this.k.memory.grow(Math.ceil((need - have) / 65536));
    return base;
  }

  /** The counts of the code histogram, merged into its first half in place; returns its address. */
  private mergedHistogram(): number {
    this.k.histMerge(this.hist);
    return this.hist;
  }

  /** The address of the code table of `dtype` (made in place the first time it is asked for). */
  private codeTableAt(dtype: 'float16' | 'bfloat16'): number {
    if (this.codeTableOf !== dtype) {
      this.k.codeTable16(CODE_TABLE_AT, dtype === 'bfloat16' ? 1 : 0);
      this.codeTableOf = dtype;
    }
    return CODE_TABLE_AT;
  }

  /** {@link histStats} of this workspace's own histogram and code table, in place (no copies). */
  residentHistStats(dtype: 'float16' | 'bfloat16'): Float64Array {
    const hist = this.mergedHistogram();
    const table = this.codeTableAt(dtype);
    const out = this.above(128);
    this.k.histStats(hist, table, out);
    return new Float64Array(this.k.memory.buffer, out, 13).slice();
  }

  /** {@link histErrors} of this workspace's own histogram and code table, in place (no copies). */
  residentHistErrors(dtype: 'float16' | 'bfloat16', p: HistKernelParams): ErrorPartial {
    const hist = this.mergedHistogram();
    const table = this.codeTableAt(dtype);
    const out = this.above(128);
    this.k.histErrors(hist, table, p.kind, p.c, p.minNormal, p.subInv, p.maxFinite, p.inv, p.scale, out);
    const f = new Float64Array(this.k.memory.buffer, out, 5);
    return { signal: f[0]!, noise: f[1]!, maxAbsError: f[2]!, overflow: f[3]!, count: f[4]! };
  }

  /** Copies `hist` and `table` above everything a task uses (histograms, slots, blocks); returns where (then 104 free bytes). */
  private histInputs(hist: Uint32Array, table: Float32Array): number {
    const base = this.above(2 * HIST_BYTES + 128);
    const mem = this.k.memory.buffer;
    new Uint32Array(mem, base, 65536).set(hist.subarray(0, 65536));
    new Float32Array(mem, base + HIST_BYTES, 65536).set(table.subarray(0, 65536));
    return base;
  }

  /** errorKernels.wat `histStats`: the sums of {@link histogramStats}, bit for bit. */
  histStats(hist: Uint32Array, table: Float32Array): Float64Array {
    const base = this.histInputs(hist, table);
    this.k.histStats(base, base + HIST_BYTES, base + 2 * HIST_BYTES);
    return new Float64Array(this.k.memory.buffer, base + 2 * HIST_BYTES, 13).slice();
  }

  /**
   * errorKernels.wat `histErrors` on a copy of `hist` and `table` placed above everything a task uses (the code
   * histograms, slots and blocks stay as they are).
   */
  histErrors(hist: Uint32Array, table: Float32Array, p: HistKernelParams): ErrorPartial {
    const base = this.histInputs(hist, table);
    const out = base + 2 * HIST_BYTES;
    this.k.histErrors(base, base + HIST_BYTES, p.kind, p.c, p.minNormal, p.subInv, p.maxFinite, p.inv, p.scale, out);
    const f = new Float64Array(this.k.memory.buffer, out, 5);
    return { signal: f[0]!, noise: f[1]!, maxAbsError: f[2]!, overflow: f[3]!, count: f[4]! };
  }
}

/** float64 round-half-to-even for |y| < 2^51 (adding 1.5 · 2^52 leaves no fraction bits). */
const RNE_MAGIC = 6755399441055744;

class JsWorkspace implements ErrorWorkspace {
  readonly backend = 'js';
  private values = new Float32Array(0);
  /** The loaded block: `values` after load(), or a view of `region` after selectValues(). */
  private cur = new Float32Array(0);
  private region = new Float32Array(0);
  private regionLength = 0;
  private staged = new Uint16Array(0);
  private hist = new Uint32Array(65536);
  private acc = new Float64Array(0);
  private rowAmax = new Float32Array(0);
  private sums = new Float64Array(12);
  /** The histogram holds counts (zeroed at the next reset only then). */
  private histUsed = false;

  reset(blockElements: number, slots: number, rowAmaxCount: number, stageElements = blockElements): void {
    if (this.values.length < blockElements) this.values = new Float32Array(blockElements);
    this.cur = this.values;
    this.regionLength = 0;
    this.sums.fill(0);
    if (this.staged.length < stageElements) this.staged = new Uint16Array(stageElements);
    this.acc = new Float64Array(slots * 3);
    if (this.rowAmax.length < rowAmaxCount) this.rowAmax = new Float32Array(rowAmaxCount);
    if (this.histUsed) this.hist.fill(0);
    this.histUsed = false;
  }

  load(source: BlockSource, data: Uint16Array | Float32Array, start: number, n: number, count: boolean): void {
    const out = this.values;
    this.cur = out;
    if (source === 'float32') {
      out.set((data as Float32Array).subarray(start, start + n));
      return;
    }
    const codes = data as Uint16Array;
    if (count) this.count(codes, start, n);
    if (source === 'float16') {
      const t = halfToFloatTable();
      for (let i = 0; i < n; i++) out[i] = t[codes[start + i]!]!;
    } else {
      const u = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) u[i] = codes[start + i]! << 16;
    }
  }

  count(codes: Uint16Array, start: number, n: number): void {
    const h = this.hist;
    this.histUsed = true;
    for (let i = start, e = start + n; i < e; i++) h[codes[i]!]!++;
  }

  stage(read: ChunkByteReader, byteOffset: number, n: number): void {
    if (this.staged.length < n) this.staged = new Uint16Array(n);
    read(new Uint8Array(this.staged.buffer, 0, n * 2), byteOffset);
  }

  loadStaged(source: 'float16' | 'bfloat16', k: number, n: number, count: boolean): void {
    this.load(source, this.staged, k, n, count);
  }

  countStaged(k: number, n: number): void {
    this.count(this.staged, k, n);
  }

  reserveValues(n: number): boolean {
    if (this.region.length < n) {
      try {
        this.region = new Float32Array(n);
      } catch {
        return false;
      }
    }
    this.regionLength = n;
    return true;
  }

  readValues(read: ChunkByteReader, byteOffset: number, at: number, n: number): void {
    if (at + n > this.regionLength) throw new RangeError('values outside the reserved region');
    read(new Uint8Array(this.region.buffer, at * 4, n * 4), byteOffset);
  }

  putValues(data: Float32Array, start: number, at: number, n: number): void {
    if (at + n > this.regionLength) throw new RangeError('values outside the reserved region');
    this.region.set(data.subarray(start, start + n), at);
  }

  selectValues(at: number, n: number): void {
    if (at + n > this.regionLength) throw new RangeError('values outside the reserved region');
    this.cur = this.region.subarray(at, at + n);
  }

  block(n: number): Float32Array {
    return this.cur.subarray(0, n);
  }

  setRowAmax(values: Float32Array): void {
    if (this.rowAmax.length < values.length) this.rowAmax = new Float32Array(values.length);
    this.rowAmax.set(values);
  }

  intError(n: number, rowLength: number, group: number, qmax: number, qmin: number, fp16Scale: boolean, amaxMode: number, amaxConst: number, firstRow: number, slot: number): void {
    const x = this.cur;
    let noise = 0, maxErr = 0, ovf = 0, rowIndex = firstRow;
    for (let row = 0; row < n; row += rowLength, rowIndex++) {
      const rowEnd = Math.min(n, row + rowLength);
      for (let s = row; s < rowEnd; s += group) {
        const e = Math.min(rowEnd, s + group);
        let amax = 0;
        if (amaxMode === AMAX_COMPUTED) {
          for (let i = s; i < e; i++) {
            const a = Math.abs(x[i]!);
            if (a > amax) amax = a;
          }
        } else amax = amaxMode === AMAX_CONSTANT ? amaxConst : this.rowAmax[rowIndex]!;
        let sc = amax > 0 && amax < Infinity ? (fp16Scale ? toHalf(amax / qmax) : Math.fround(amax / qmax)) : 0;
        let overflowGroup = false;
        if (sc === Infinity) {
          sc = 0;
          overflowGroup = true;
        }
        const iv = sc > 0 ? 1 / sc : 0;
        let gn = 0, gm = 0, cnt = 0;
        for (let i = s; i < e; i++) {
          const v = x[i]!;
          if (v - v !== 0) continue;
          let q = (v * iv + RNE_MAGIC) - RNE_MAGIC;
          if (q > qmax) q = qmax;
          if (q < qmin) q = qmin;
          const d = v - q * sc;
          gn += d * d;
          const a = Math.abs(d);
          if (a > gm) gm = a;
          cnt++;
        }
        noise += gn;
        if (gm > maxErr) maxErr = gm;
        if (overflowGroup) ovf += cnt;
      }
    }
    const acc = this.acc;
    acc[slot * 3]! += noise;
    if (maxErr > acc[slot * 3 + 1]!) acc[slot * 3 + 1] = maxErr;
    acc[slot * 3 + 2]! += ovf;
  }

  stats(n: number): void {
    const x = this.cur, t = this.sums;
    let count = 0, maxAbs = t[1]!, s1 = 0, s2 = 0, s3 = 0, s4 = 0, sAbs = 0, beyond = 0, zeros = 0, nans = 0, maxAll = t[11]!;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const a = Math.abs(v);
      if (a > maxAll) maxAll = a;
      if (v !== v) nans++;
      if (v - v !== 0) continue;
      count++;
      if (a > maxAbs) maxAbs = a;
      if (a > 65504) beyond++;
      if (v === 0) zeros++;
      const v2 = v * v;
      s1 += v;
      s2 += v2;
      s3 += v2 * v;
      s4 += v2 * v2;
      sAbs += a;
    }
    t[0]! += count;
    t[1] = maxAbs;
    t[2]! += s1;
    t[3]! += s2;
    t[4]! += s3;
    t[5]! += s4;
    t[6]! += sAbs;
    t[7]! += beyond;
    t[8]! += zeros;
    t[9]! += n;
    t[10]! += nans;
    t[11] = maxAll;
  }

  statsResult(): WeightStatsPartial & HistogramFacts {
    return statsFromSums(this.sums);
  }

  statsRound16(n: number, slotFp16: number, slotBf16: number): void {
    this.stats(n);
    this.roundError16(n, 'fp16', slotFp16);
    this.roundError16(n, 'bf16', slotBf16);
  }

  roundError16(n: number, format: 'fp16' | 'bf16', slot: number): void {
    this.elementError(n, elementwiseKernelParams(format === 'fp16' ? FP16_FORMAT : BF16_FORMAT, 0) as ElementwiseKernelParams, slot);
  }

  elementError(n: number, p: ElementwiseKernelParams, slot: number): void {
    const x = this.cur;
    const sat = p.kind === 1 ? p.hi : Infinity;
    let noise = 0, maxErr = 0, ovf = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      if (v - v !== 0) continue;
      const y = v * p.inv;
      const a = Math.abs(y);
      let r: number;
      if (a >= p.hi) r = y < 0 ? -sat : sat;
      else if (a < p.lo) r = ((y * p.loInv + RNE_MAGIC) - RNE_MAGIC) / p.loInv;
      else {
        const t = p.c * y;
        r = t - (t - y);
        if (p.kind === 1) r = r > p.hi ? p.hi : r < -p.hi ? -p.hi : r;
      }
      let d = v - r * p.scale;
      if (p.kind === 0 && a >= p.hi) {
        d = v;
        ovf++;
      }
      noise += d * d;
      const e = Math.abs(d);
      if (e > maxErr) maxErr = e;
    }
    const acc = this.acc;
    acc[slot * 3]! += noise;
    if (maxErr > acc[slot * 3 + 1]!) acc[slot * 3 + 1] = maxErr;
    acc[slot * 3 + 2]! += ovf;
  }

  intErrorPair(n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slotB: number): void {
    this.intError(n, rowLength, rowLength, qmaxA, qminA, false, amaxModeA, 0, firstRow, slotA);
    this.intError(n, rowLength, group, qmaxB, qminB, true, AMAX_COMPUTED, 0, firstRow, slotB);
  }

  intErrorPairStaged(source: 'float16' | 'bfloat16', k: number, n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slotB: number, count: boolean): void {
    this.load(source, this.staged, k, n, count);
    this.intErrorPair(n, rowLength, group, qmaxA, qminA, amaxModeA, firstRow, qmaxB, qminB, slotA, slotB);
  }

  putCodes(data: Uint16Array, start: number, n: number): void {
    if (this.staged.length < n) this.staged = new Uint16Array(n);
    this.staged.set(data.subarray(start, start + n));
  }

  intErrorGroups(n: number, rowLength: number, group: number, qmaxA: number, qminA: number, amaxModeA: number, firstRow: number, qmaxB: number, qminB: number, slotA: number, slot1: number): void {
    this.intError(n, rowLength, rowLength, qmaxA, qminA, false, amaxModeA, 0, firstRow, slotA);
    for (let l = 0; l < 3; l++) this.intError(n, rowLength, group << l, qmaxB, qminB, true, AMAX_COMPUTED, 0, firstRow, slot1 + l);
  }

  nf4Error(n: number, rowLength: number, group: number, slot: number): void {
    const a = this.acc, o = slot * 3;
    const acc = { noise: a[o]!, maxAbsError: a[o + 1]!, overflow: a[o + 2]!, signal: a[o + 3]!, count: a[o + 4]! };
    nf4Error(this.cur.subarray(0, n), rowLength, group, acc);
    a.set([acc.noise, acc.maxAbsError, acc.overflow, acc.signal, acc.count], o);
  }

  partial(slot: number): ErrorPartial {
    const a = this.acc, o = slot * 3;
    return { noise: a[o]!, maxAbsError: a[o + 1]!, overflow: a[o + 2]!, signal: a[o + 3]!, count: a[o + 4]! };
  }

  slot(slot: number): [number, number, number] {
    return [this.acc[slot * 3]!, this.acc[slot * 3 + 1]!, this.acc[slot * 3 + 2]!];
  }

  histogram(): Uint32Array {
    return this.hist.slice();
  }
}

/** Weight statistics and facts from the 12 sums of errorKernels.wat `stats32`. */
function statsFromSums(t: Float64Array): WeightStatsPartial & HistogramFacts {
  const count = t[0]!, total = t[9]!, nans = t[10]!;
  const nonFinite = total - count;
  // fakeQuantize's absMean sums |x| over every element: NaN if any is NaN, +Inf if any is ±Inf.
  const absMean = nans > 0 ? NaN : nonFinite > 0 ? Infinity : total > 0 ? t[6]! / total : 0;
  return { count, maxAbs: t[1]!, s1: t[2]!, s2: t[3]!, s3: t[4]!, s4: t[5]!, sAbs: t[6]!, beyondFp16: t[7]!, zeros: t[8]!, nonFinite, absMax: t[11]!, absMean };
}

/** Parameters of the element-wise error kernel for one format (see errorKernels.wat `elementError`). */
export interface ElementwiseKernelParams {
  /** 0: overflow to ±Inf counts as overflowed; 1: saturate at ±hi. */
  readonly kind: 0 | 1;
  /** Veltkamp constant 2^(53 − significant bits) + 1. */
  readonly c: number;
  /** Below this magnitude values round to a fixed step 1 / loInv (subnormals). */
  readonly lo: number;
  readonly loInv: number;
  /** Overflow (kind 0) or saturation (kind 1) threshold. */
  readonly hi: number;
  /** y = x × inv before rounding; q = r × scale after. */
  readonly inv: number;
  readonly scale: number;
}

const FP16_FORMAT = { element: 'fp16', scaling: 'none' } as NumberFormat;
const BF16_FORMAT = { element: 'bf16', scaling: 'none' } as NumberFormat;

/** BF16 overflow threshold: the midpoint between its largest finite value (2 − 2^-7)·2^127 and 2^128 (a tie rounds to the even 2^128). */
const BF16_OVERFLOW = (2 - 2 ** -8) * 2 ** 127;

/**
 * Kernel parameters reproducing {@link elementwiseQuantizer} for FP16, BF16, TF32 and the per-tensor minifloats
 * (FP8/FP6/FP4 with one FP32 scale); undefined for other formats, and for a per-tensor scale that does not exist
 * (max |x| is 0, ±Inf or NaN: the error is then 0, as fakeQuantize leaves the values alone).
 */
export function elementwiseKernelParams(format: NumberFormat, tensorAbsMax: number): ElementwiseKernelParams | 'lossless' | undefined {
  const el = format.element;
  if (el === 'fp16') return { kind: 0, c: SPLIT(11), lo: 2 ** -14, loInv: 2 ** 24, hi: 65520, inv: 1, scale: 1 };
  if (el === 'bf16') return { kind: 0, c: SPLIT(8), lo: 2 ** -126, loInv: 2 ** 133, hi: BF16_OVERFLOW, inv: 1, scale: 1 };
  if (el === 'tf32') return { kind: 0, c: SPLIT(11), lo: 0, loInv: 1, hi: Infinity, inv: 1, scale: 1 };
  if (el === 'fp32') return 'lossless';
  const g = GRIDS[el];
  if (!g || format.scaling !== 'tensor') return undefined;
  if (!(tensorAbsMax > 0) || !Number.isFinite(tensorAbsMax)) return 'lossless';
  const scale = Math.fround(tensorAbsMax / g.maxFinite);
  return { kind: 1, c: SPLIT(g.manBits + 1), lo: 2 ** g.minExp, loInv: 2 ** (g.manBits - g.minExp), hi: g.maxFinite, inv: 1 / scale, scale };
}

let wasmWorkspace: WasmWorkspace | undefined;
let jsWorkspace: JsWorkspace | undefined;

/** This thread's workspace for the selected backend (one per thread; not re-entrant). */
export function errorWorkspace(): ErrorWorkspace {
  const k = requested !== 'js' ? wasmExports() : undefined;
  if (requested === 'wasm' && !k) throw new Error('WebAssembly SIMD is not available in this runtime.');
  if (k) return (wasmWorkspace ??= new WasmWorkspace(k));
  return (jsWorkspace ??= new JsWorkspace());
}

//#endregion

//#region histogram evaluation

let bf16Table: Float32Array | undefined;
/** 65 536-entry BF16 → float table. */
export function bf16ToFloatTable(): Float32Array {
  if (!bf16Table) {
    bf16Table = new Float32Array(65536);
    const u = new Uint32Array(bf16Table.buffer);
    for (let h = 0; h < 65536; h++) u[h] = h << 16;
  }
  return bf16Table;
}

/** Decode table of a 16-bit float dtype. */
export function codeTable(dtype: 'float16' | 'bfloat16'): Float32Array {
  return dtype === 'float16' ? halfToFloatTable() : bf16ToFloatTable();
}

/** Whole-tensor facts a histogram gives in exactly fakeQuantize's terms (non-finite values included, as absMax/absMean do). */
export interface HistogramFacts {
  /** max |x| including ±Inf (NaN ignored), as quantize.ts `absMax`. */
  readonly absMax: number;
  /** Σ|x| / n over every element, NaN/Inf included, as quantize.ts `absMean`. */
  readonly absMean: number;
}

/** Weight statistics of the values counted in `hist` (decoded by `table`), as WeightStatsAccumulator.add computes them. */
export function histogramStats(hist: Uint32Array, table: Float32Array): WeightStatsPartial & HistogramFacts {
  if (hist.length === 65536 && table.length === 65536 && requested !== 'js' && wasmExports()) {
    const t = (errorWorkspace() as WasmWorkspace).histStats(hist, table);
    const total = t[12]!;
    return { count: t[0]!, maxAbs: t[1]!, s1: t[2]!, s2: t[3]!, s3: t[4]!, s4: t[5]!, sAbs: t[6]!, beyondFp16: t[7]!, zeros: t[8]!, nonFinite: t[9]!, absMax: t[10]!, absMean: total > 0 ? t[11]! / total : 0 };
  }
  return histogramStatsJs(hist, table);
}

/**
 * {@link histogramStats} of the codes `ws` counted since its reset (FP16 or BF16 codes): on the WebAssembly
 * workspace in place, on its own histogram and a code table made in its memory (the same sums bit for bit, without
 * building {@link halfToFloatTable} in JavaScript or copying 512 KiB per call); otherwise as histogramStats.
 */
export function workspaceHistogramStats(ws: ErrorWorkspace, dtype: 'float16' | 'bfloat16'): WeightStatsPartial & HistogramFacts {
  if (ws instanceof WasmWorkspace) {
    const t = ws.residentHistStats(dtype);
    const total = t[12]!;
    return { count: t[0]!, maxAbs: t[1]!, s1: t[2]!, s2: t[3]!, s3: t[4]!, s4: t[5]!, sAbs: t[6]!, beyondFp16: t[7]!, zeros: t[8]!, nonFinite: t[9]!, absMax: t[10]!, absMean: total > 0 ? t[11]! / total : 0 };
  }
  return histogramStats(ws.histogram(), codeTable(dtype));
}

/**
 * {@link histogramErrors} of `format` over the codes `ws` counted since its reset, in place on the WebAssembly
 * workspace when the kernel covers the format (as {@link workspaceHistogramStats}); otherwise as histogramErrors.
 */
export function workspaceHistogramErrors(ws: ErrorWorkspace, dtype: 'float16' | 'bfloat16', format: NumberFormat, tensorAbsMax: number, tensorAbsMean: number): ErrorPartial {
  const p = ws instanceof WasmWorkspace ? histKernelParamsOf(format, dtype === 'float16', tensorAbsMax) : undefined;
  if (p) return (ws as WasmWorkspace).residentHistErrors(dtype, p);
  return histogramErrors(ws.histogram(), codeTable(dtype), format, tensorAbsMax, tensorAbsMean);
}

/** {@link histogramStats} in JavaScript (the reference of the WebAssembly loop). */
export function histogramStatsJs(hist: Uint32Array, table: Float32Array): WeightStatsPartial & HistogramFacts {
  let count = 0, maxAbs = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, sAbs = 0, beyond = 0, zeros = 0, bad = 0, absMaxAll = 0, sAbsAll = 0, total = 0;
  for (let c = 0; c < 65536; c++) {
    const k = hist[c]!;
    if (k === 0) continue;
    const v = table[c]!;
    total += k;
    const a = v < 0 ? -v : v;
    sAbsAll += k * a;
    if (a > absMaxAll) absMaxAll = a;
    if (v - v !== 0) {
      bad += k;
      continue;
    }
    count += k;
    if (a > maxAbs) maxAbs = a;
    if (a > 65504) beyond += k;
    if (v === 0) zeros += k;
    const v2 = v * v;
    s1 += k * v;
    s2 += k * v2;
    s3 += k * v2 * v;
    s4 += k * v2 * v2;
    sAbs += k * a;
  }
  return { count, maxAbs, s1, s2, s3, s4, sAbs, beyondFp16: beyond, zeros, nonFinite: bad, absMax: absMaxAll, absMean: total > 0 ? sAbsAll / total : 0 };
}

/**
 * True when the error of `format` on a value depends only on the value and whole-tensor constants (max |x|, mean
 * |x|), so a code histogram gives it exactly.
 */
export function isElementwiseFormat(format: NumberFormat): boolean {
  const el = format.element;
  if (el === 'fp32' || el === 'tf32' || el === 'bf16' || el === 'fp16' || el === 'ternary') return true;
  if (GRIDS[el] && format.scaling === 'tensor') return true;
  return el === 'int8' && format.scaling === 'tensor';
}

/** True for the integer formats {@link ErrorWorkspace.intError} evaluates (per channel or per group). */
export function isIntKernelFormat(format: NumberFormat): boolean {
  return (format.element === 'int8' && format.scaling === 'channel') || (format.element === 'int4' && format.scaling === 'group');
}

/**
 * A scalar quantizer for an element-wise format given whole-tensor facts: the same rounding as quantize.ts
 * `fakeQuantize` / sensitivity.ts `quantizationError` per element.
 */
export function elementwiseQuantizer(format: NumberFormat, tensorAbsMax: number, tensorAbsMean: number): (x: number) => number {
  const el = format.element;
  if (el === 'fp32') return (x) => x;
  if (el === 'tf32') {
    const c = SPLIT(11);
    return (x) => roundSignificant(x, c);
  }
  if (el === 'bf16') return roundBf16;
  if (el === 'fp16') return roundFp16;
  if (el === 'ternary') {
    const gamma = toHalf(tensorAbsMean);
    if (!(gamma > 0)) return () => 0;
    return (x) => Math.max(-1, Math.min(1, rneScalar(x / gamma))) * gamma;
  }
  if (el === 'int8') {
    const amax = tensorAbsMax;
    if (!(amax > 0) || !Number.isFinite(amax)) return () => 0;
    const sc = Math.fround(amax / 127), iv = 1 / sc;
    return (x) => {
      const q = rneScalar(x * iv);
      return (q > 127 ? 127 : q < -127 ? -127 : q) * sc;
    };
  }
  const g = GRIDS[el]!;
  const amax = tensorAbsMax;
  if (!(amax > 0) || !Number.isFinite(amax)) return (x) => x;
  const scale = Math.fround(amax / g.maxFinite);
  const c = SPLIT(g.manBits + 1), minNormal = 2 ** g.minExp, sub = 2 ** (g.manBits - g.minExp), inv = 1 / scale;
  return (x) => roundMiniFast(x * inv, c, minNormal, sub, g.maxFinite) * scale;
}

function rneScalar(y: number): number {
  return Math.abs(y) < 2 ** 51 ? (y + RNE_MAGIC) - RNE_MAGIC : y;
}

/**
 * Error sums of an element-wise format over the values counted in `hist`: Σ count·x², Σ count·d², max |d|;
 * values that quantize to ±Inf/NaN count as overflowed with error x (ErrorAccumulator's convention).
 */
export function histogramErrors(hist: Uint32Array, table: Float32Array, format: NumberFormat, tensorAbsMax: number, tensorAbsMean: number): ErrorPartial {
  const p = hist.length === 65536 && table.length === 65536 && requested !== 'js' && wasmExports() ? histKernelParams(format, table, tensorAbsMax) : undefined;
  if (p) return (errorWorkspace() as WasmWorkspace).histErrors(hist, table, p);
  return histogramErrorsJs(hist, table, format, tensorAbsMax, tensorAbsMean);
}

/** Parameters of errorKernels.wat `histErrors` (see there). */
interface HistKernelParams { readonly kind: 0 | 1 | 2; readonly c: number; readonly minNormal: number; readonly subInv: number; readonly maxFinite: number; readonly inv: number; readonly scale: number }

/**
 * The `histErrors` parameters that round exactly as {@link elementwiseQuantizer} does, or undefined (the JS loop
 * then runs): BF16 of FP16 values (Veltkamp to 8 bits; no FP16 value is below BF16's normal range or near its
 * overflow), TF32, FP16 (roundFp16) and minifloat grids with a finite nonzero tensor max.
 */
function histKernelParams(format: NumberFormat, table: Float32Array, tensorAbsMax: number): HistKernelParams | undefined {
  return histKernelParamsOf(format, format.element === 'bf16' && table === halfToFloatTable(), tensorAbsMax);
}

/** {@link histKernelParams} given whether the table is FP16's (`half`; only BF16 needs to know). */
function histKernelParamsOf(format: NumberFormat, half: boolean, tensorAbsMax: number): HistKernelParams | undefined {
  const el = format.element;
  const none = { minNormal: 0, subInv: 0, maxFinite: 0, inv: 0, scale: 0 };
  if (el === 'bf16') return half ? { kind: 0, c: SPLIT(8), ...none } : undefined;
  if (el === 'tf32') return { kind: 0, c: SPLIT(11), ...none };
  if (el === 'fp16') return { kind: 1, c: SPLIT(11), ...none };
  if (el === 'fp32' || el === 'ternary' || el === 'int8') return undefined;
  const g = GRIDS[el];
  if (!g || format.scaling !== 'tensor' || !(tensorAbsMax > 0) || !Number.isFinite(tensorAbsMax)) return undefined;
  const scale = Math.fround(tensorAbsMax / g.maxFinite);
  return { kind: 2, c: SPLIT(g.manBits + 1), minNormal: 2 ** g.minExp, subInv: 2 ** (g.manBits - g.minExp), maxFinite: g.maxFinite, inv: 1 / scale, scale };
}

/** {@link histogramErrors} in JavaScript (every element-wise format; the reference of the WebAssembly loop). */
export function histogramErrorsJs(hist: Uint32Array, table: Float32Array, format: NumberFormat, tensorAbsMax: number, tensorAbsMean: number): ErrorPartial {
  const quant = elementwiseQuantizer(format, tensorAbsMax, tensorAbsMean);
  let signal = 0, noise = 0, maxErr = 0, overflow = 0, count = 0;
  for (let c = 0; c < 65536; c++) {
    const k = hist[c]!;
    if (k === 0) continue;
    const x = table[c]!;
    if (x - x !== 0) continue;
    count += k;
    signal += k * x * x;
    let d = x - quant(x);
    if (d - d !== 0) {
      overflow += k;
      d = x;
    }
    noise += k * d * d;
    const a = d < 0 ? -d : d;
    if (a > maxErr) maxErr = a;
  }
  return { signal, noise, maxAbsError: maxErr, overflow, count };
}

//#endregion
