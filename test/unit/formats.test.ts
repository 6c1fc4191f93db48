import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMPUTE_FALLBACKS,
  COMPUTE_TYPES,
  FORMAT_ALIASES,
  DTYPES,
  NUMBER_FORMATS,
  bitsPerElement,
  formatBitsPerWeight,
  formatByteLength,
  formatForStoredDType,
  getNumberFormat,
  type NumberFormat,
} from '../../src/core';

const f = (id: string): NumberFormat => {
  const x = getNumberFormat(id);
  assert.ok(x, `format ${id}`);
  return x;
};
const N = 4096 * 4096;

test('block formats have exact byte sizes: elements ÷ block × bytes per block (+ per-tensor / per-channel scales)', () => {
  assert.equal(formatByteLength(f('q4_k'), [4096, 4096]), (N / 256) * 144); // 9,437,184 B = 4.5 bpw
  assert.equal(formatByteLength(f('q4_k'), [4096, 4096]), 9_437_184);
  assert.equal(formatByteLength(f('nvfp4'), [4096, 4096]), (N / 16) * 9 + 4); // E4M3 scale per 16 + FP32 per tensor
  assert.equal(formatByteLength(f('mxfp4'), [4096, 4096]), (N / 32) * 17);
  assert.equal(formatByteLength(f('mxfp8'), [4096, 4096]), (N / 32) * 33);
  assert.equal(formatByteLength(f('int4'), [4096, 4096]), (N / 128) * 66); // 8,650,752 B
  assert.equal(formatByteLength(f('int8'), [4096, 4096]), N + 4096 * 4); // FP32 scale per output channel
  assert.equal(formatByteLength(f('fp8_e4m3'), [4096, 4096]), N + 4);
  assert.equal(formatByteLength(f('binary'), [4096, 4096]), (N / 128) * 18);
  assert.equal(formatByteLength(f('q8_0'), [4096, 4096]), (N / 32) * 34);
  assert.equal(formatByteLength(f('q6_k'), [4096, 4096]), (N / 256) * 210);
  // A partial last block still costs a whole block.
  assert.equal(formatByteLength(f('int4'), [129]), 2 * 66);
});

test('bits per weight include block scales', () => {
  assert.equal(formatBitsPerWeight(f('int4')), 4.125);
  assert.equal(formatBitsPerWeight(f('int4_g64')), 4.25);
  assert.equal(formatBitsPerWeight(f('int4_g32')), 4.5);
  assert.equal(formatBitsPerWeight(f('nvfp4')), 4.5);
  assert.equal(formatBitsPerWeight(f('mxfp4')), 4.25);
  assert.equal(formatBitsPerWeight(f('mxfp6')), 6.25);
  assert.equal(formatBitsPerWeight(f('mxfp8')), 8.25);
  assert.equal(formatBitsPerWeight(f('q4_k')), 4.5);
  assert.equal(formatBitsPerWeight(f('q2_k')), 2.625);
  assert.equal(formatBitsPerWeight(f('q3_k')), 3.4375);
  assert.equal(formatBitsPerWeight(f('tq1_0')), 1.6875);
  assert.equal(formatBitsPerWeight(f('binary')), 1.125);
  assert.equal(formatBitsPerWeight(f('nf4')), 4.5);
});

test('every GGUF quantization type is an assignable weight-only format with the ggml block layout', () => {
  // Forks' storage layouts (bitnet.cpp I2_S, PrismML's 128-weight Q2_0, packed BitNet uint8) are read, not assignable: they run as ternary.
  const forkStorage = ['i2_s', 'q2_0_g128', 'ternary_u8x4', 'tl1', 'tl2'];
  for (const d of DTYPES.filter((x) => x.kind === 'quantized' && !['q8_1', 'q8_k', 'mxfp4_split', ...forkStorage].includes(x.id))) {
    const fmt = NUMBER_FORMATS.find((x) => x.ggmlType === d.id);
    assert.ok(fmt, d.id);
    assert.equal(formatBitsPerWeight(fmt), bitsPerElement(d.id), d.id);
  }
  for (const id of forkStorage) {
    assert.equal(NUMBER_FORMATS.find((x) => x.id === id), undefined, id);
    assert.equal(formatForStoredDType(id)?.id, 'ternary', id);
  }
  // gpt-oss's split MXFP4 safetensors layout runs as MXFP4 (32 weights in 17 bytes).
  assert.equal(NUMBER_FORMATS.find((x) => x.id === 'mxfp4_split'), undefined);
  assert.equal(formatForStoredDType('mxfp4_split')?.id, 'mxfp4');
  assert.equal(f('q4_k').mode, 'weight-only');
  assert.equal(f('nvfp4').mode, 'compute');
  assert.equal(f('gguf_nvfp4').mode, 'weight-only');
});

test('representable ranges follow IEEE 754, OCP OFP8/MX and AMD FNUZ', () => {
  assert.equal(f('fp16').maxFinite, 65504);
  assert.equal(f('fp16').minNormal, 2 ** -14);
  assert.equal(f('fp16').minSubnormal, 2 ** -24);
  assert.equal(f('fp8_e4m3').maxFinite, 448);
  assert.equal(f('fp8_e4m3').minNormal, 2 ** -6);
  assert.equal(f('fp8_e4m3').minSubnormal, 2 ** -9);
  assert.equal(f('fp8_e5m2').maxFinite, 57344);
  assert.equal(f('fp8_e4m3fnuz').maxFinite, 240);
  assert.equal(f('fp8_e4m3fnuz').minNormal, 2 ** -7);
  assert.equal(f('fp8_e5m2fnuz').minSubnormal, 2 ** -17);
  assert.equal(f('nvfp4').maxFinite, 6);
  assert.equal(f('mxfp6').maxFinite, 7.5);
  assert.equal(f('bf16').maxFinite, 3.3895313892515355e38);
  assert.equal(f('fp32').maxFinite, 3.4028234663852886e38);
  assert.equal(f('tf32').minSubnormal, undefined);
  assert.equal(f('int8').maxFinite, 127);
  assert.equal(f('int4').maxFinite, 7);
  assert.equal(f('q4_k').maxFinite, undefined);
  for (const x of NUMBER_FORMATS) {
    assert.ok(x.blockSize >= 1 && x.bytesPerBlock > 0, x.id);
    if (x.minNormal !== undefined) assert.ok(x.maxFinite! > x.minNormal && x.minNormal >= (x.minSubnormal ?? 0), x.id);
  }
});

test('stored dtypes map to their "as stored" format', () => {
  assert.equal(formatForStoredDType('float32')?.id, 'fp32');
  assert.equal(formatForStoredDType('float16')?.id, 'fp16');
  assert.equal(formatForStoredDType('bfloat16')?.id, 'bf16');
  assert.equal(formatForStoredDType('float8_e4m3fn')?.id, 'fp8_e4m3');
  assert.equal(formatForStoredDType('int8')?.id, 'int8');
  assert.equal(formatForStoredDType('int8', true)?.id, 'w8a8');
  assert.equal(formatForStoredDType('q4_k')?.id, 'q4_k');
  assert.equal(formatForStoredDType('nvfp4')?.id, 'gguf_nvfp4');
  assert.equal(formatForStoredDType('mxfp4')?.id, 'mxfp4');
  assert.equal(formatForStoredDType('int64'), undefined);
});

test('fallback chains end in types every chain can reach and never narrow FP16/BF16 into each other', () => {
  for (const t of COMPUTE_TYPES) {
    const chain = COMPUTE_FALLBACKS[t];
    assert.ok(t === 'fp32' || chain[chain.length - 1] === 'fp32', t);
  }
  assert.deepEqual(COMPUTE_FALLBACKS.fp16, ['fp32']);
  assert.deepEqual(COMPUTE_FALLBACKS.bf16, ['fp32']);
});

test('format lookup: ids are trimmed lower case and no alias is an id (getNumberFormat finds an id as it is first)', () => {
  for (const f of NUMBER_FORMATS) {
    assert.equal(f.id, f.id.trim().toLowerCase(), f.id);
    assert.equal(Object.prototype.hasOwnProperty.call(FORMAT_ALIASES, f.id), false, `${f.id} is also an alias`);
    assert.equal(getNumberFormat(f.id), f);
    assert.equal(getNumberFormat(` ${f.id.toUpperCase()} `), f);
  }
  for (const [alias, id] of Object.entries(FORMAT_ALIASES)) assert.equal(getNumberFormat(alias), getNumberFormat(id), alias);
  assert.equal(getNumberFormat('no-such-format'), undefined);
});
