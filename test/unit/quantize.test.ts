import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeQuantize, getNumberFormat, NF4_CODEBOOK, NUMBER_FORMATS, roundMiniFloat, weightErrorStats, type NumberFormat } from '../../src/core/precision';
import { gaussian } from '../fixtures/gaussian';

const F = (id: string): NumberFormat => getNumberFormat(id)!;

/** Deterministic Gaussian weights. */

const sqnr = (v: Float32Array, shape: number[], id: string): number => weightErrorStats(v, fakeQuantize(v, shape, F(id))).sqnrDb;

test('FP16 overflows to Inf beyond 65504 and keeps representable values', () => {
  const q = fakeQuantize(new Float32Array([65504, 65519, 65520, -70000, 1e-8, 0.1]), [6], F('fp16'));
  assert.deepEqual([...q.slice(0, 4)], [65504, 65504, Infinity, -Infinity]);
  assert.equal(q[4], 0);
  assert.equal(q[5], Math.fround(0.0999755859375));
  const e = weightErrorStats(new Float32Array([1, 70000]), fakeQuantize(new Float32Array([1, 70000]), [2], F('fp16')));
  assert.equal(e.overflowCount, 1);
  // BF16 keeps the range; TF32 keeps 10 mantissa bits.
  assert.equal(fakeQuantize(new Float32Array([70000]), [1], F('bf16'))[0], 70144);
  assert.equal(fakeQuantize(new Float32Array([1 + 2 ** -12]), [1], F('tf32'))[0], 1);
});

test('FP8 per-tensor scaling: max maps to the largest finite value, RNE, saturation, FNUZ range', () => {
  // amax 448 → scale 1, so the E4M3 grid itself is visible.
  const q = fakeQuantize(new Float32Array([448, 0.296875, -0.00146484375, 17]), [4], F('fp8_e4m3'));
  assert.deepEqual([...q], [448, 0.3125, -0.001953125, 16]); // tie → even mantissa; subnormal step 2^-9; 17 → 16 (step 2 at 2^4)
  assert.equal(roundMiniFloat(500, 3, -6, 448), 448);
  assert.equal(roundMiniFloat(-1e9, 2, -14, 57344), -57344);
  const fnuz = fakeQuantize(new Float32Array([240, 1]), [2], F('fp8_e4m3fnuz'));
  assert.deepEqual([...fnuz], [240, 1]);
  // Chunks quantize with the whole tensor's max when given.
  assert.deepEqual([...fakeQuantize(new Float32Array([1]), [1], F('fp8_e4m3'), { tensorAbsMax: 448 })], [1]);
});

test('INT8 per channel and INT4 symmetric groups', () => {
  const rows = new Float32Array([127, -64, 3, 1, /* row 2 */ 0.5, -0.25, 0.125, 0]);
  const q = fakeQuantize(rows, [2, 4], F('int8'));
  assert.deepEqual([...q.slice(0, 4)], [127, -64, 3, 1]); // scale 1 for row 0
  const s = Math.fround(0.5 / 127);
  assert.deepEqual([...q.slice(4)], [127 * s, -64 * s, 32 * s, 0].map(Math.fround)); // −63.5 is a tie → even (−64)
  // INT4 g32: scale = fp16(max/7); codes clamp to [−8, 7].
  const g = new Float32Array(64);
  g[0] = 7;
  g[1] = 3.4;
  g[2] = -2.5; // tie → even (−2)
  g[32] = 0.7;
  const q4 = fakeQuantize(g, [1, 64], F('int4_g32'));
  assert.deepEqual([q4[0], q4[1], q4[2], q4[32]], [7, 3, -2, Math.fround(0.7)].map((v, i) => (i === 3 ? q4[32]! : v)));
  assert.ok(Math.abs(q4[32]! - 0.7) < 1e-3);
  // Per-tensor INT8 uses one scale for everything.
  const t = fakeQuantize(new Float32Array([127, 0.4]), [2, 1], F('int8_tensor'));
  assert.deepEqual([...t], [127, 0]);
});

test('NF4, ternary, binary and MX / NVFP4 grids', () => {
  const cb = new Float32Array(NF4_CODEBOOK.map((v) => v * 3));
  const padded = new Float32Array(64);
  padded.set(cb);
  assert.deepEqual([...fakeQuantize(padded, [64], F('nf4')).slice(0, 16)], [...cb]);
  const tern = fakeQuantize(new Float32Array([1, -1, 0.2, 1]), [4], F('ternary')); // γ = mean|w| = 0.8
  assert.deepEqual([...tern], [0.7998046875, -0.7998046875, 0, 0.7998046875]);
  // Binary is stored as ggml Q1_0: d = mean|x| over 128 (a short row is padded with zeros, as in the file).
  const bin = fakeQuantize(new Float32Array(128).map((_, i) => [0.5, -1.5, 0, 1][i % 4]!), [128], F('binary'));
  assert.deepEqual([...bin.slice(0, 4)], [0.75, -0.75, 0.75, 0.75]);
  assert.deepEqual([...fakeQuantize(new Float32Array([0.5, -1.5, 0, 1]), [4], F('binary'))], [3 / 128, -3 / 128, 3 / 128, 3 / 128]);
  // MXFP4: amax 6 → shared exponent 2^(2−2) = 1, E2M1 grid {0, 0.5, 1, 1.5, 2, 3, 4, 6}.
  const mx = new Float32Array(32);
  mx.set([6, 2.6, 0.74, -5]);
  assert.deepEqual([...fakeQuantize(mx, [32], F('mxfp4')).slice(0, 4)], [6, 3, 0.5, -4]);
  // NVFP4: every block's values come out as an E2M1 code × an E4M3 block scale × the FP32 tensor scale.
  const v = gaussian(256);
  const q = fakeQuantize(v, [256], F('nvfp4'));
  assert.ok(weightErrorStats(v, q).sqnrDb > 17 && weightErrorStats(v, q).sqnrDb < 23);
});

test('SQNR on Gaussian weights matches the formats’ known resolution and ranks ggml types by bits', () => {
  const v = gaussian(64 * 1024);
  const shape = [64, 1024];
  const within = (id: string, lo: number, hi: number): void => {
    const s = sqnr(v, shape, id);
    assert.ok(s >= lo && s <= hi, `${id}: ${s.toFixed(2)} dB not in [${lo}, ${hi}]`);
  };
  within('fp16', 70, 80);
  within('bf16', 52, 60);
  within('fp8_e4m3', 30, 33);
  within('fp8_e5m2', 24, 27);
  within('int8', 38, 44);
  within('int4', 17, 21);
  within('q8_0', 43, 48);
  within('q4_0', 19, 23);
  within('q4_k', 21, 25);
  const ladder = ['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'q8_0'].map((id) => sqnr(v, shape, id));
  for (let i = 1; i < ladder.length; i++) assert.ok(ladder[i]! > ladder[i - 1]!, `ggml ladder not increasing: ${ladder.map((x) => x.toFixed(1))}`);
  // Every format runs and returns finite values on ordinary weights.
  for (const f of NUMBER_FORMATS) {
    const q = fakeQuantize(v.subarray(0, 4096), [4, 1024], f);
    assert.equal(q.length, 4096);
    assert.ok(q.every(Number.isFinite), f.id);
  }
});

test('q8_0 reproduces ggml: d = fp16(amax/127), codes roundf(x/d)', () => {
  const x = new Float32Array(32).map((_, i) => (i - 15.5) / 10);
  const q = fakeQuantize(x, [32], F('q8_0'));
  const d = 1.55 / 127;
  const dh = 0.01220703125; // fp16(0.012204…)
  assert.ok(Math.abs(dh - d) < 1e-5);
  for (let i = 0; i < 32; i++) assert.equal(q[i], Math.fround(Math.sign(x[i]!) * Math.round(Math.abs(x[i]!) / Math.fround(d)) * dh));
});

test('nf4Error adds exactly what ErrorAccumulator.add(values, fakeQuantize(values, nf4)) adds (midpoint ties, zeros, NaN, ±Inf)', async () => {
  const { ErrorAccumulator, nf4Error } = await import('../../src/core/precision');
  const nf4 = getNumberFormat('nf4')!;
  const mids = NF4_CODEBOOK.slice(1).map((v, i) => (v + NF4_CODEBOOK[i]!) / 2);
  let s = 7;
  const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const cases: [Float32Array, number][] = [];
  const a = new Float32Array(3 * 200);
  for (let i = 0; i < a.length; i++) a[i] = (rnd() - 0.5) * (i % 17 === 0 ? 3 : 0.1);
  // Values on (float32-rounded) midpoints and one ulp either side, with the group max 1.
  for (let k = 0; k < mids.length; k++) a.set([1, Math.fround(mids[k]!), Math.fround(mids[k]!) * (1 + 2 ** -23), Math.fround(mids[k]!) * (1 - 2 ** -23)], 64 * (k % 9) + 4 * Math.floor(k / 9));
  cases.push([a, 200]);
  const b = a.slice();
  b.fill(0, 0, 64); // an all-zero group
  b.set([NaN, Infinity], 70); // ±Inf in a group: every quantized value is NaN (overflow)
  b[300] = -Infinity;
  cases.push([b, 200], [a.subarray(0, 150), 150]);
  for (const [v, rowLength] of cases) {
    const want = new ErrorAccumulator().add(v, fakeQuantize(v, [v.length / rowLength, rowLength], nf4));
    const got = new ErrorAccumulator();
    nf4Error(v, rowLength, 64, got);
    assert.deepEqual({ ...got }, { ...want });
  }
});

test('errorKey: formats that round alike share a key (evaluated once), the others do not', async () => {
  const { errorKey } = await import('../../src/core/precision');
  const key = (id: string): string => errorKey(getNumberFormat(id)!);
  assert.equal(key('w8a8'), key('int8'));
  assert.equal(key('w4a4'), key('int4'));
  const ids = ['fp16', 'bf16', 'fp8_e4m3', 'fp8_e5m2', 'int8', 'int8_tensor', 'int4', 'int4_g64', 'int4_g32', 'nf4', 'mxfp4', 'nvfp4', 'q4_k', 'q4_0', 'ternary'];
  assert.equal(new Set(ids.map(key)).size, ids.length);
});
