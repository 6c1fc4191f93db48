import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeElements, decodeTensor, decodeUnsupportedReason, encodeElements, floatToBf16Bits, floatToHalfBits, halfBitsToFloat, halfToFloatTable,
  miniFloatToNumber, MINI_FLOATS, type TensorInfo,
} from '../../src/core';

const h = (v: number): [number, number] => {
  const b = floatToHalfBits(v);
  return [b & 0xff, b >> 8];
};

test('FP16 conversions: exact values, round-to-nearest-even and overflow to Inf', () => {
  assert.equal(floatToHalfBits(1), 0x3c00);
  assert.equal(floatToHalfBits(65504), 0x7bff);
  assert.equal(floatToHalfBits(65519), 0x7bff); // below the halfway point to 65536
  assert.equal(floatToHalfBits(65520), 0x7c00); // halfway rounds to even → Inf
  assert.equal(floatToHalfBits(-1e6), 0xfc00);
  assert.equal(floatToHalfBits(2 ** -24), 0x0001);
  assert.equal(floatToHalfBits(2 ** -26), 0x0000); // below half the smallest subnormal
  assert.equal(floatToHalfBits(1 + 2 ** -11), 0x3c00); // tie → even mantissa
  assert.equal(floatToHalfBits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(halfBitsToFloat(0x0001), 2 ** -24);
  assert.ok(Number.isNaN(halfBitsToFloat(0x7e00)));
  assert.equal(floatToBf16Bits(1), 0x3f80);
  assert.equal(floatToBf16Bits(1 + 2 ** -8), 0x3f80); // tie → even
});

test('halfToFloatTable (built from bits) holds halfBitsToFloat of every code, NaN codes as the quiet NaN', () => {
  const t = halfToFloatTable();
  const u = new Uint32Array(t.buffer, t.byteOffset, 65536);
  for (let h = 0; h < 65536; h++) {
    const v = halfBitsToFloat(h);
    if (Number.isNaN(v)) assert.equal(u[h], 0x7fc00000, `code ${h}`);
    else assert.ok(Object.is(t[h], v), `code ${h}: ${t[h]} vs ${v}`);
  }
});

test('FP8 layouts: E4M3FN, E5M2 and the FNUZ variants', () => {
  assert.equal(miniFloatToNumber(MINI_FLOATS.fp8_e4m3, 0x7e), 448);
  assert.ok(Number.isNaN(miniFloatToNumber(MINI_FLOATS.fp8_e4m3, 0x7f)));
  assert.equal(miniFloatToNumber(MINI_FLOATS.fp8_e4m3, 0x01), 2 ** -9);
  assert.equal(miniFloatToNumber(MINI_FLOATS.fp8_e4m3, 0xb8), -1);
  assert.equal(miniFloatToNumber(MINI_FLOATS.fp8_e5m2, 0x7b), 57344);
  assert.equal(miniFloatToNumber(MINI_FLOATS.fp8_e5m2, 0x7c), Infinity);
  assert.equal(miniFloatToNumber(MINI_FLOATS.fp8_e4m3fnuz, 0x7f), 240);
  assert.ok(Number.isNaN(miniFloatToNumber(MINI_FLOATS.fp8_e4m3fnuz, 0x80)));
  assert.equal(miniFloatToNumber(MINI_FLOATS.fp8_e5m2fnuz, 0x7f), 57344);
  const v = decodeElements('float8_e4m3fn', new Uint8Array([0x38, 0xb8, 0x7e]), 3);
  assert.deepEqual([...v], [1, -1, 448]);
  assert.deepEqual([...decodeElements('float4_e2m1', new Uint8Array([0x71, 0x0f]), 4)], [0.5, 6, -6, 0]);
});

test('plain dtypes: packing, sign extension and 64-bit integers', () => {
  assert.deepEqual([...decodeElements('int4', new Uint8Array([0xf1, 0x87]), 4)], [1, -1, 7, -8]);
  assert.deepEqual([...decodeElements('uint4', new Uint8Array([0xf1]), 2)], [1, 15]);
  assert.deepEqual([...decodeElements('int8', new Uint8Array([0x80, 0x7f, 0xff]), 3)], [-128, 127, -1]);
  const i64 = new Uint8Array(new BigInt64Array([-5n, 1n << 40n]).buffer);
  assert.deepEqual([...decodeElements('int64', i64, 2)], [-5, 2 ** 40]);
  const f64 = new Uint8Array(new Float64Array([0.25, -3]).buffer);
  assert.deepEqual([...decodeElements('float64', f64, 2)], [0.25, -3]);
  assert.deepEqual([...decodeElements('bfloat16', new Uint8Array([0x80, 0x3f, 0x00, 0xc0]), 2)], [1, -2]);
  assert.deepEqual([...decodeElements('float16', new Uint8Array([...h(0.5), ...h(-2)]), 2)], [0.5, -2]);
  // Unaligned float32 bytes decode through a DataView.
  const f32 = new Uint8Array(9);
  new DataView(f32.buffer).setFloat32(1, 1.5, true);
  new DataView(f32.buffer).setFloat32(5, -7, true);
  assert.deepEqual([...decodeElements('float32', f32.subarray(1), 2)], [1.5, -7]);
  assert.throws(() => decodeElements('float32', new Uint8Array(4), 2), /need 8 bytes/);
});

test('ONNX typed-data varints: int32_data holding FP16 bits, negative int32 and int64', () => {
  // 0x3c00 (FP16 1.0) = varint 0x80 0x78; 0xc000 (−2.0) = 0x80 0x80 0x03.
  assert.deepEqual([...decodeElements('float16', new Uint8Array([0x80, 0x78, 0x80, 0x80, 0x03]), 2, 'onnx-varint-int32')], [1, -2]);
  const minus1 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  assert.deepEqual([...decodeElements('int32', new Uint8Array([...minus1, 0x05]), 2, 'onnx-varint-int32')], [-1, 5]);
  assert.deepEqual([...decodeElements('int64', new Uint8Array([...minus1, 0x80, 0x01]), 2, 'onnx-varint-int64')], [-1, 128]);
  assert.throws(() => decodeElements('int32', new Uint8Array([0x80]), 1, 'onnx-varint-int32'), /ends after 0 of 1/);
});

/** A block with an FP16 scale at `at`. */
function withHalf(bytes: number[], at: number, v: number): Uint8Array {
  const b = new Uint8Array(bytes);
  b.set(h(v), at);
  return b;
}

test('ggml q8_0 / q4_0 / q4_1 / q5_0: block layouts and element order', () => {
  const q8 = withHalf([0, 0, ...Array.from({ length: 32 }, (_, i) => (i - 16) & 0xff)], 0, 0.5);
  assert.deepEqual([...decodeElements('q8_0', q8, 32)], Array.from({ length: 32 }, (_, i) => (i - 16) * 0.5));
  // q4_0: byte j holds element j (low nibble) and j+16 (high nibble), value (q − 8)·d.
  const q4 = withHalf([0, 0, ...Array.from({ length: 16 }, (_, j) => (j & 0xf) | (0xf << 4))], 0, 2);
  const v4 = decodeElements('q4_0', q4, 32);
  assert.equal(v4[0], -16);
  assert.equal(v4[15], 14);
  assert.equal(v4[16], 14);
  // q4_1: value q·d + m.
  const q41 = withHalf(withHalf([0, 0, 0, 0, ...Array(16).fill(0x21)], 0, 1) as unknown as number[], 2, -3);
  const v41 = decodeElements('q4_1', q41, 32);
  assert.equal(v41[0], -2);
  assert.equal(v41[16], -1);
  // q5_0: the 5th bit of element j comes from bit j of qh.
  const q5 = withHalf([0, 0, 0x01, 0, 0, 0x80, ...Array(16).fill(0)], 0, 1);
  const v5 = decodeElements('q5_0', q5, 32);
  assert.equal(v5[0], 0); // 16 − 16
  assert.equal(v5[1], -16);
  assert.equal(v5[31], 0); // bit 31 set → element 31 = 16 − 16
});

test('ggml K-quants: q3_k, q4_k, q6_k and q2_k blocks decode to the expected constants', () => {
  // q6_k: every 6-bit code 33 (ql nibble 1, qh bits 2) and scale 1, d = 1 → every weight +1.
  const q6 = new Uint8Array(210);
  q6.fill(0x11, 0, 128);
  q6.fill(0xaa, 128, 192);
  q6.fill(1, 192, 208);
  q6.set(h(1), 208);
  assert.ok(decodeElements('q6_k', q6, 256).every((v) => v === 1));
  // q3_k: hmask all set (no −4), 2-bit codes 1, every 6-bit scale 33 (→ 1), d = 0.5 → every weight 0.5.
  const q3 = new Uint8Array(110);
  q3.fill(0xff, 0, 32);
  q3.fill(0x55, 32, 96);
  q3.fill(0x11, 96, 104);
  q3.fill(0xaa, 104, 108);
  q3.set(h(0.5), 108);
  assert.ok(decodeElements('q3_k', q3, 256).every((v) => v === 0.5));
  // q4_k: d = 1, dmin = 0.5; sub-block scales 2, mins 4 (j < 4 and packed j ≥ 4); codes 3 → 2·3 − 0.5·4 = 4.
  const q4 = new Uint8Array(144);
  q4.set(h(1), 0);
  q4.set(h(0.5), 2);
  q4.fill(2, 4, 8);
  q4.fill(4, 8, 12);
  q4.fill(0x42, 12, 16);
  q4.fill(0x33, 16, 144);
  assert.ok(decodeElements('q4_k', q4, 256).every((v) => v === 4));
  // q2_k: scales byte 0x21 (scale 1, min 2), codes 3, d = 1, dmin = 0.25 → 3 − 0.5.
  const q2 = new Uint8Array(84);
  q2.fill(0x21, 0, 16);
  q2.fill(0xff, 16, 80);
  q2.set(h(1), 80);
  q2.set(h(0.25), 82);
  assert.ok(decodeElements('q2_k', q2, 256).every((v) => v === 2.5));
});

test('ggml ternary and FP4 blocks: tq2_0, tq1_0, mxfp4, q1_0', () => {
  const tq2 = new Uint8Array(66);
  tq2.fill(0b10_01_00_10, 0, 64); // trits per 2 bits: +1, −1, 0, +1 (l = 0..3)
  tq2.set(h(2), 64);
  const v = decodeElements('tq2_0', tq2, 256);
  assert.deepEqual([v[0], v[32], v[64], v[96]], [2, -2, 0, 2]);
  // tq1_0: byte 0 packs 5 trits; ceil(t·256/243) of the base-3 number — all trits 2 (+1) is 242 → 255.
  const tq1 = new Uint8Array(54);
  tq1.fill(255, 0, 52);
  tq1.set(h(1), 52);
  const v1 = decodeElements('tq1_0', tq1, 256);
  assert.ok(v1.every((x) => x === 1), `${[...v1.slice(0, 8)]}`);
  // mxfp4: e = 128 → d = 2^0 (the "half" convention: kvalues are doubled), codes 0x5 → 6·1 = 6? kvalues[5] = 6 → 6·2^0.
  const mx = new Uint8Array(17);
  mx[0] = 128;
  mx.fill(0x95, 1); // low nibble 5 (+6), high nibble 9 (−1)
  const vm = decodeElements('mxfp4', mx, 32);
  assert.equal(vm[0], 6);
  assert.equal(vm[16], -1);
  const q1 = new Uint8Array(18);
  q1.set(h(0.25), 0);
  q1[2] = 0b00000001;
  const vq1 = decodeElements('q1_0', q1, 128);
  assert.deepEqual([vq1[0], vq1[1]], [0.25, -0.25]);
  assert.match(decodeUnsupportedReason('iq2_xxs') ?? '', /not decoded/);
  assert.equal(decodeUnsupportedReason('q5_k'), undefined);
});

test('decodeTensor applies quantization parameters; encodeElements round-trips', () => {
  const t: TensorInfo = {
    name: 'w', dtype: 'int8', shape: [2, 2], elementCount: 4, byteLength: 4, origin: 'initializer',
    file: '', byteOffset: 0, encoding: 'raw',
    quant: { scales: [0.5, 2], zeroPoints: [0, 1], scaleCount: 2, axis: 0 },
  };
  const values = decodeTensor(t, new Uint8Array([2, 0xfe, 3, 1]));
  assert.deepEqual([...values], [1, -1, 4, 0]);
  assert.deepEqual([...encodeElements('int8', values, t.quant, t.shape)!], [2, 0xfe, 3, 1]);
  const f = new Float32Array([1.5, -0.1, 70000]);
  assert.deepEqual([...decodeElements('float16', encodeElements('float16', f)!, 3)], [1.5, Math.fround(halfBitsToFloat(floatToHalfBits(-0.1))), Infinity]);
  assert.deepEqual([...decodeElements('bfloat16', encodeElements('bfloat16', new Float32Array([1, -2]))!, 2)], [1, -2]);
  assert.equal(encodeElements('q4_0', f), undefined);
});
