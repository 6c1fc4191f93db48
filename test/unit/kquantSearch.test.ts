/**
 * The WebAssembly K-quant scale searches (src/core/precision/kquantSearch.ts) give exactly the bytes of the float32
 * reference ports in ggmlQuants.ts — the ones test/unit/ggmlQuants.test.ts pins to libggml's output — for Q2_K, Q3_K, Q4_K,
 * Q5_K and Q6_K: random blocks at many scales and the awkward cases (all zeros, constants, huge and tiny values,
 * subnormals, ±Inf, one sided runs, exact rounding ties), byte for byte. NaN runs take the reference path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { activeKquantSearchBackend, decodeElements, fakeQuantize, getNumberFormat, KQUANT_MAX_VALUES, quantizeGgml, seededRandom, setKquantSearchBackend } from '../../src/core';
import { referenceQkx2Run, referenceSymmetricRun } from '../../src/core/precision/ggmlQuants';
import { searchQ3, searchQkx2, searchQx } from '../../src/core/precision/kquantSearch';

const TYPES = ['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k'] as const;
const wasm = activeKquantSearchBackend() === 'wasm';

function reference(dtype: string, x: Float32Array): Uint8Array {
  const prev = setKquantSearchBackend('js');
  try {
    return quantizeGgml(dtype, x);
  } finally {
    setKquantSearchBackend(prev);
  }
}

/** The first differing byte's block, for a readable failure. */
function assertSameBytes(dtype: string, x: Float32Array, label: string): void {
  const fast = quantizeGgml(dtype, x);
  const ref = reference(dtype, x);
  if (Buffer.compare(fast, ref) !== 0) {
    let i = 0;
    while (fast[i] === ref[i]) i++;
    const bpb = ref.length / (x.length / 256);
    const blk = Math.floor(i / bpb);
    assert.fail(`${dtype} ${label}: byte ${i} (block ${blk}) differs: fast ${fast[i]} vs reference ${ref[i]}; block values ${Array.from(x.subarray(blk * 256, blk * 256 + 8)).join(', ')}…`);
  }
}

/** Random super-blocks whose 16-value runs each draw a different kind of data. */
function mixedBlocks(blocks: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  const x = new Float32Array(blocks * 256);
  const gauss = (): number => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  for (let s = 0; s < x.length; s += 16) {
    const kind = Math.floor(r() * 14);
    const scale = 10 ** (r() * 12 - 8);
    for (let i = s; i < s + 16; i++) {
      let v: number;
      switch (kind) {
        case 0: v = 0; break;
        case 1: v = scale; break;
        case 2: v = -scale; break;
        case 3: v = -Math.abs(gauss()) * scale; break; // negatives only
        case 4: v = Math.abs(gauss()) * scale; break; // positives only
        case 5: v = Math.round(gauss() * 4) / 2; break; // exact halves: rounding ties
        case 6: v = gauss() * 3e38; break; // huge: max − min overflows
        case 7: v = gauss() * 1e-40; break; // subnormal
        case 8: v = gauss() * 1e-20; break; // tiny (amax < 1e-15)
        case 9: v = i === s + (s % 7) ? scale : 0; break; // one non-zero
        case 10: v = r() < 0.1 ? gauss() * 40 * scale : gauss() * scale; break; // outliers
        case 11: v = (i % 7) - 3; break; // small integers
        case 12: v = gauss() * 0.02; break;
        default: v = gauss() * scale;
      }
      x[i] = v;
    }
  }
  return x;
}

test('K-quant search: WebAssembly equals the reference bit for bit on random and awkward blocks', { skip: !wasm && 'no WebAssembly SIMD' }, () => {
  // More blocks than one search run takes, so runs are split and the last one is partial.
  const x = mixedBlocks(Math.ceil(KQUANT_MAX_VALUES / 256) * 2 + 5, 7);
  for (const dtype of TYPES) assertSameBytes(dtype, x, 'mixed runs');
  // Whole blocks of one kind (the block-level maxima then come from one kind too).
  const r = seededRandom(11);
  const cases: [string, (i: number) => number][] = [
    ['zeros', () => 0],
    ['negative zeros', () => -0],
    ['constant', () => 0.37],
    ['negative constant', () => -1.5],
    ['negatives only', () => -r() * 0.1],
    ['positives only', () => r() * 0.1],
    ['huge', () => (r() - 0.5) * 6e38],
    ['+Inf among values', (i) => (i === 17 ? Infinity : r() - 0.5)],
    ['-Inf among values', (i) => (i === 200 ? -Infinity : r() - 0.5)],
    ['tiny', () => (r() - 0.5) * 1e-30],
    ['subnormal', () => (r() - 0.5) * 1e-42],
    ['max float', (i) => (i % 2 ? 3.4028234663852886e38 : -3.4028234663852886e38)],
    ['uniform', () => r() * 2 - 1],
  ];
  for (const [label, f] of cases) {
    const y = new Float32Array(256 * 3);
    for (let i = 0; i < y.length; i++) y[i] = f(i % 256);
    for (const dtype of TYPES) assertSameBytes(dtype, y, label);
  }
  // Many small random blocks with many scales: a broad sample of trial winners and moving mins.
  for (let seed = 0; seed < 6; seed++) {
    const z = new Float32Array(256 * 40);
    const q = seededRandom(100 + seed);
    for (let i = 0; i < z.length; i++) z[i] = (q() + q() + q() - 1.5) * 10 ** (((i >> 5) % 9) - 6) + (seed % 2 ? 0.3 * 10 ** (((i >> 5) % 9) - 6) : 0);
    for (const dtype of TYPES) assertSameBytes(dtype, z, `seed ${seed}`);
  }
});

test('K-quant search: a run with NaN takes the reference path (the other runs stay fast), same bytes', { skip: !wasm && 'no WebAssembly SIMD' }, () => {
  const x = mixedBlocks(Math.ceil(KQUANT_MAX_VALUES / 256) + 3, 9);
  x[300] = NaN;
  x[KQUANT_MAX_VALUES + 5] = NaN;
  for (const dtype of TYPES) assertSameBytes(dtype, x, 'NaN');
});

test('K-quant and Q8_0 simulation (sensitivity): the path without bytes equals decode(quantize) of the reference, bit for bit', { skip: !wasm && 'no WebAssembly SIMD' }, () => {
  const x = mixedBlocks(Math.ceil(KQUANT_MAX_VALUES / 256) + 7, 13);
  x[KQUANT_MAX_VALUES + 40] = NaN; // one run through the bytes
  const zeroQ6 = new Float32Array(256 * 4).map((_, i) => (i < 256 ? 1e-20 * ((i % 5) - 2) : i < 512 ? 0 : (i % 9) - 4));
  const r = seededRandom(17);
  const smooth = new Float32Array(256 * 80).map(() => (r() + r() + r() - 1.5) * 0.05);
  const inf = smooth.slice(0, 256 * 3);
  inf[5] = Infinity;
  inf[300] = -Infinity;
  inf[600] = NaN;
  // Q8_0 blocks of 32 at its rounding's edges: exact ties ±(k + ½) under d = 1, small negatives whose code is 0 (+0,
  // not −0), subnormal maxima (1/d = ∞), a large value before a NaN (max|x| then below it: the int8 cast wraps), a NaN
  // last.
  const edges = smooth.slice(0, 256 * 2);
  for (let j = 0; j < 32; j++) {
    edges[j] = j === 0 ? 127 : (j % 2 ? -1 : 1) * (j / 2 + 0.5);
    edges[32 + j] = j === 0 ? 1 : -0.003 * j;
    edges[64 + j] = (j - 16) * 3e-39;
    edges[96 + j] = j === 0 ? 200 : j === 1 ? NaN : 0.1;
    edges[128 + j] = j === 31 ? NaN : 0.5 - j / 64;
    edges[160 + j] = j === 0 ? 1e30 : j === 1 ? NaN : -0.25;
  }
  for (const dtype of [...TYPES, 'q8_0']) {
    for (const [label, v] of [['mixed', x], ['zero and tiny blocks', zeroQ6], ['gaussian', smooth], ['±Inf and NaN', inf], ['rounding edges', edges]] as const) {
      const fast = fakeQuantize(v, [v.length / 256, 256], getNumberFormat(dtype)!);
      const prev = setKquantSearchBackend('js');
      let ref: Float32Array, viaBytes: Float32Array;
      try {
        ref = fakeQuantize(v, [v.length / 256, 256], getNumberFormat(dtype)!);
        viaBytes = decodeElements(dtype, quantizeGgml(dtype, v), v.length);
      } finally {
        setKquantSearchBackend(prev);
      }
      const a = new Uint32Array(fast.buffer, fast.byteOffset, fast.length), b = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
      for (let i = 0; i < a.length; i++) {
        // Bits equal (so −0 stays −0); a NaN only has to stay a NaN (its payload is not part of any figure).
        if (a[i] !== b[i] && !(Number.isNaN(fast[i]) && Number.isNaN(ref[i]))) assert.fail(`${dtype} ${label}: value ${i}: ${fast[i]} vs reference ${ref[i]}`);
      }
      assert.ok(ref.every((r, i) => Object.is(r, viaBytes[i]) || (Number.isNaN(r) && Number.isNaN(viaBytes[i]))), `${dtype} ${label}: reference path is decode(quantize)`);
    }
  }
});

test('K-quant search: make_qkx2 (Q2_K, Q4_K, Q5_K) gives the reference scale, −min and codes of every sub-block, bit for bit', { skip: !wasm && 'no WebAssembly SIMD' }, () => {
  // The search runs four sub-blocks side by side, one per lane: sub-blocks of different kinds share a call (flat beside
  // moving-min ones, huge beside tiny), and counts that are not a multiple of four sub-blocks leave lanes unused.
  const r = seededRandom(23);
  const gauss = (): number => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  const kinds: ((i: number) => number)[] = [
    () => 0, () => -0, () => 0.37, () => -1.5, () => gauss() * 0.02, () => gauss() * 0.02 + 0.01, () => -Math.abs(gauss()),
    () => Math.abs(gauss()), () => gauss() * 3e38, () => gauss() * 1e-40, (i) => (i === 3 ? Infinity : gauss()), (i) => (i === 0 ? -Infinity : gauss()),
    (i) => (i % 2 ? 3.4028234663852886e38 : -3.4028234663852886e38), () => Math.round(gauss() * 4) / 2, (i) => (i === 5 ? 1 : 0), () => (r() < 0.1 ? 40 : 1) * gauss(),
    // +0 before −0 (min stays +0, as `x < min` decides) in an exact fit that no trial beats: −min is −0
    (i) => (i === 0 ? 0 : i === 1 ? -0 : 1),
  ];
  const shown = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));
  const configs = [
    ['q2_k', 16, 3, -0.5, 15, true, 'abs'],
    ['q4_k', 32, 15, -1, 20, false, 'avx'],
    ['q5_k', 32, 31, -0.5, 15, false, 'avx'],
  ] as const;
  for (const [label, n, nmax, rmin, nstep, mad, weights] of configs) {
    for (let nsub = 1; nsub <= 40; nsub += nsub < 9 ? 1 : 31) {
      for (let rep = 0; rep < 8; rep++) {
        const x = new Float32Array(nsub * n + 8);
        const xo = 4; // an offset into the array, as the callers pass
        for (let j = 0; j < nsub; j++) {
          const kind = kinds[Math.floor(r() * kinds.length)]!;
          const scale = j % 2 ? 1 : 10 ** (r() * 8 - 4); // odd sub-blocks keep the kinds' own extremes
          for (let i = 0; i < n; i++) x[xo + j * n + i] = kind(i) * scale;
        }
        const ref = referenceQkx2Run(x, xo, nsub * n, n, nmax, rmin, Math.fround(0.1), nstep, mad, weights);
        const fast = searchQkx2(x, xo, nsub * n, n, nmax, rmin, Math.fround(0.1), nstep, mad, weights)!;
        assert.ok(fast, `${label}: the WebAssembly search ran`);
        for (let j = 0; j < nsub; j++) {
          const at = `${label} ${nsub} sub-blocks, rep ${rep}, sub-block ${j} (${Array.from(x.subarray(xo + j * n, xo + j * n + 4)).join(', ')}…)`;
          assert.ok(Object.is(fast.scales[j], ref.scales[j]), `${at}: scale ${shown(fast.scales[j]!)} vs reference ${shown(ref.scales[j]!)}`);
          assert.ok(Object.is(fast.mins[j], ref.mins[j]), `${at}: −min ${shown(fast.mins[j]!)} vs reference ${shown(ref.mins[j]!)}`);
          assert.deepEqual(Array.from(fast.codes.subarray(j * n, (j + 1) * n)), Array.from(ref.codes.subarray(j * n, (j + 1) * n)), `${at}: codes`);
        }
      }
    }
  }
});

test('K-quant search: make_qx (Q6_K) and make_q3 (Q3_K) give the reference scale and codes of every sub-block, bit for bit', { skip: !wasm && 'no WebAssembly SIMD' }, () => {
  const r = seededRandom(29);
  const gauss = (): number => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  // The all-zero test compares the float32 max |x| with the double 1e-15: the float32 nearest 1e-15 is above it (not
  // all-zero), the one below is below it (all-zero).
  const at1e15 = Math.fround(1e-15);
  const below1e15 = new Float32Array(new Uint32Array([new Uint32Array(new Float32Array([at1e15]).buffer)[0]! - 1]).buffer)[0]!;
  // make_q3 (nmax 4) changes a code in its fifth and last refinement pass of these (most runs change none in the first).
  const FIVE_PASSES = [-1.125, 1.375, 2.125, -1.75, -2.0625, -3.4375, 0.5625, -4.5, 1.6875, 1.25, 3.9375, 4.3125, -0.9375, -2.375, 3.0625, -1.75];
  const kinds: ((i: number) => number)[] = [
    () => 0, () => gauss() * 0.02, () => -Math.abs(gauss()), () => gauss() * 3e38, () => gauss() * 1e-40, (i) => (i === 3 ? Infinity : gauss()),
    (i) => (i === 0 ? -Infinity : gauss()), () => Math.round(gauss() * 4) / 2, (i) => (i === 5 ? 1 : 0), () => (r() < 0.1 ? 40 : 1) * gauss(),
    (i) => (i === 2 ? at1e15 : i === 7 ? -at1e15 / 3 : 0), (i) => (i === 2 ? -below1e15 : i === 7 ? below1e15 / 3 : 0),
    (i) => (i % 4 === 1 ? -2 : i % 4 === 3 ? 2 : 0.5), // equal magnitudes of both signs: the first is the max
    (i) => FIVE_PASSES[i]!,
  ];
  for (const [search, nmax] of [['qx', 32], ['qx', 4], ['q3', 4], ['q3', 32]] as const) {
    for (let nsub = 1; nsub <= 40; nsub += nsub < 9 ? 1 : 31) {
      for (let rep = 0; rep < 8; rep++) {
        const x = new Float32Array(nsub * 16 + 8);
        const xo = 4;
        for (let j = 0; j < nsub; j++) {
          const kind = kinds[Math.floor(r() * kinds.length)]!;
          const scale = j % 2 ? 1 : 10 ** (r() * 8 - 4);
          for (let i = 0; i < 16; i++) x[xo + j * 16 + i] = kind(i) * scale;
        }
        const ref = referenceSymmetricRun(search, x, xo, nsub * 16, 16, nmax);
        const fast = (search === 'qx' ? searchQx : searchQ3)(x, xo, nsub * 16, 16, nmax)!;
        assert.ok(fast, 'the WebAssembly search ran');
        for (let j = 0; j < nsub; j++) {
          const at = `${search} nmax ${nmax}, ${nsub} sub-blocks, rep ${rep}, sub-block ${j} (${Array.from(x.subarray(xo + j * 16, xo + j * 16 + 4)).join(', ')}…)`;
          assert.ok(Object.is(fast.scales[j], ref.scales[j]), `${at}: scale ${fast.scales[j]} vs reference ${ref.scales[j]}`);
          assert.deepEqual(Array.from(fast.codes.subarray(j * 16, (j + 1) * 16)), Array.from(ref.codes.subarray(j * 16, (j + 1) * 16)), `${at}: codes`);
        }
      }
    }
  }
});

test('the embedded WebAssembly matches kquantSearch.wat (run npm run build:kernels after editing it)', async () => {
  const root = path.resolve(__dirname, '../..');
  const { generate, MODULES } = (await import(path.join(root, 'scripts/buildKernels.mjs'))) as { generate: (wat: string, mod: unknown) => Promise<string>; MODULES: { wat: string; out: string }[] };
  const mod = MODULES.find((m) => m.wat.endsWith('kquantSearch.wat'))!;
  assert.equal(await generate(readFileSync(path.join(root, mod.wat), 'utf8'), mod), readFileSync(path.join(root, mod.out), 'utf8'));
});
