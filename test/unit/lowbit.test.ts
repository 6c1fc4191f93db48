/**
 * 1-bit and ternary storage (issue #9 item 5): bitnet.cpp's I2_S (ggml type 36 in its files), PrismML's Q2_0
 * (type 42 with a 128-weight 34-byte block), packed BitNet safetensors (4 ternary weights per uint8), and the error
 * when no layout of a type id fits a tensor's byte range. Built with the hermetic writers; sizes are computed here
 * from the layouts' definitions (bitnet.cpp `ggml_nbytes` = n/4 + 32; PrismML 128 → 34 B; upstream Q2_0 64 → 18 B).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { MemoryByteSource, ModelFormatError, decodeElements, decodeTensor, decodeUnsupportedReason, openModel, type Model } from '../../src/core';
import { buildGguf, kv, type GgufTensorSpec } from '../fixtures/buildGguf';
import { openInventory } from '../fixtures/publishedModels';
import type { StTensorSpec } from '../fixtures/buildSafetensors';
import { tensorLocation } from '../../src/core';

const open = (bytes: Uint8Array): Promise<Model> => openModel(new MemoryByteSource('m.gguf', bytes));
const i2s = (n: number): number => n / 4 + 32;
const meta = [kv.str('general.architecture', 'bitnet-b1.58')];

test('bitnet.cpp I2_S (type 36): read as 2 bits per weight plus a 32-byte scale trailer, with a note naming the runtime', async () => {
  const tensors: GgufTensorSpec[] = [
    { name: 'token_embd.weight', dims: [256, 64], type: 1 },
    { name: 'blk.0.attn_q.weight', dims: [256, 256], type: 36, byteLength: i2s(256 * 256) },
    { name: 'blk.0.ffn_up.weight', dims: [256, 512], type: 36, byteLength: i2s(256 * 512) },
  ];
  const m = await open(buildGguf({ kvs: meta, tensors }).bytes);
  const q = m.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
  assert.deepEqual([q.dtype, q.elementCount, q.byteLength], ['i2_s', 65536, 16416]);
  assert.equal(m.parameterCount, 256 * 64 + 65536 + 131072);
  assert.equal(m.weightBytes, 256 * 64 * 2 + 16416 + 32800);
  assert.match(m.warnings.join(' '), /ggml type 36 is read as I2_S of bitnet\.cpp \(4 weights in 1 bytes \+ 32 bytes per tensor; removed upstream \(IQ4_NL_4_4\)\)/);
});

test('type 42: upstream Q2_0 (64 weights, 18 B) when it fits, PrismML Q2_0 (128 weights, 34 B) when that is what the byte ranges hold', async () => {
  const dims = [512, 128];
  const n = 512 * 128;
  const build = (bytes: number): Uint8Array => buildGguf({ kvs: meta, tensors: [{ name: 'a.weight', dims, type: 42, byteLength: bytes }, { name: 'b.weight', dims, type: 42, byteLength: bytes }] }).bytes;
  const upstream = await open(build((n / 64) * 18));
  assert.deepEqual(upstream.tensors.map((t) => [t.dtype, t.byteLength]), [['q2_0', 18432], ['q2_0', 18432]]);
  assert.deepEqual(upstream.warnings, []);
  const prism = await open(build((n / 128) * 34));
  assert.deepEqual(prism.tensors.map((t) => [t.dtype, t.byteLength]), [['q2_0_g128', 17408], ['q2_0_g128', 17408]]);
  assert.equal(prism.parameterCount, 2 * n);
  assert.match(prism.warnings.join(' '), /ggml type 42 is read as Q2_0 of PrismML llama\.cpp fork \(128 weights in 34 bytes; upstream Q2_0\)/);
});

test('a type id whose layouts fit no byte range fails naming every candidate layout (was: an unexplained overlap)', async () => {
  const n = 512 * 128;
  const bad = buildGguf({ kvs: meta, tensors: [{ name: 'a.weight', dims: [512, 128], type: 42, byteLength: 16384 }, { name: 'b.weight', dims: [512, 128], type: 42, byteLength: 16384 }] }).bytes;
  await assert.rejects(open(bad), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError);
    assert.equal(e.code, 'bad-offset');
    assert.match(e.message, /tensor 'b\.weight' data at offset 16384 overlaps tensor 'a\.weight' ending at 18432; as Q2_0 'a\.weight' takes 18432 bytes: that layout does not fit its byte range \(known layouts of ggml type 42: Q2_0 \(llama\.cpp: 64 weights in 18 bytes, 18432 bytes\), Q2_0 \(PrismML llama\.cpp fork: 128 weights in 34 bytes, 17408 bytes\)\)\.$/);
    return true;
  });
  const lastOnly = buildGguf({ kvs: meta, tensors: [{ name: 'w', dims: [256, 256], type: 36, byteLength: n / 4 }] }).bytes;
  await assert.rejects(open(lastOnly), /runs past the end of the 16384-byte data section; as I2_S of bitnet\.cpp that layout does not fit its byte range \(known layouts of ggml type 36: I2_S \(bitnet\.cpp: 4 weights in 1 bytes \+ 32 per tensor, 16416 bytes\); upstream removed IQ4_NL_4_4\)/);
});

/** BitNet b1.58 2B4T (microsoft/bitnet-b1.58-2B-4T config.json): packed uint8 [out/4, in] + BF16 weight_scale per linear. */
const BITNET = {
  architectures: ['BitNetForCausalLM'], model_type: 'bitnet', hidden_size: 2560, intermediate_size: 6912, num_hidden_layers: 30,
  num_attention_heads: 20, num_key_value_heads: 5, vocab_size: 128256, tie_word_embeddings: true, max_position_embeddings: 4096,
  quantization_config: { quant_method: 'bitnet', linear_class: 'autobitlinear', quantization_mode: 'offline' },
};
function bitnetTensors(): StTensorSpec[] {
  const h = BITNET.hidden_size;
  const f = BITNET.intermediate_size;
  const kvd = (h / BITNET.num_attention_heads) * BITNET.num_key_value_heads;
  const out: StTensorSpec[] = [{ name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [BITNET.vocab_size, h] }];
  const linear = (name: string, o: number, i: number): void => {
    out.push({ name: `${name}.weight`, dtype: 'U8', shape: [o / 4, i] }, { name: `${name}.weight_scale`, dtype: 'BF16', shape: [1] });
  };
  for (let l = 0; l < BITNET.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    linear(`${p}.self_attn.q_proj`, h, h); linear(`${p}.self_attn.k_proj`, kvd, h); linear(`${p}.self_attn.v_proj`, kvd, h); linear(`${p}.self_attn.o_proj`, h, h);
    linear(`${p}.mlp.gate_proj`, f, h); linear(`${p}.mlp.up_proj`, f, h); linear(`${p}.mlp.down_proj`, h, f);
    out.push(
      { name: `${p}.input_layernorm.weight`, dtype: 'BF16', shape: [h] }, { name: `${p}.post_attention_layernorm.weight`, dtype: 'BF16', shape: [h] },
      { name: `${p}.self_attn.attn_sub_norm.weight`, dtype: 'BF16', shape: [h] }, { name: `${p}.mlp.ffn_sub_norm.weight`, dtype: 'BF16', shape: [f] },
    );
  }
  out.push({ name: 'model.norm.weight', dtype: 'BF16', shape: [h] });
  return out;
}

test('packed BitNet safetensors: parameters unpacked (2.41B, was 0.35× that), bytes as stored', async () => {
  const m = await openInventory(bitnetTensors(), BITNET);
  const h = 2560;
  const f = 6912;
  const linear = 2 * h * h + 2 * 640 * h + 3 * h * f;
  const other = 128256 * h + 30 * (3 * h + f) + h;
  const scales = 30 * 7;
  assert.equal(m.parameterCount, other + 30 * linear + scales);
  assert.ok(m.parameterCount > 2.40e9 && m.parameterCount < 2.42e9);
  assert.equal(m.weightBytes, 2 * (other + scales) + (30 * linear) / 4);
  const q = m.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!;
  assert.deepEqual([q.dtype, q.shape, q.elementCount, q.byteLength], ['ternary_u8x4', [h, h], h * h, (h * h) / 4]);
  // Without quant_method "bitnet" the same bytes are plain uint8 tables (the old reading: 0.35× the parameters).
  const plain = await openInventory(bitnetTensors(), { ...BITNET, quantization_config: undefined });
  assert.equal(plain.parameterCount, other + (30 * linear) / 4 + scales);
  assert.ok(Math.abs(plain.parameterCount / m.parameterCount - 0.35) < 0.01);
});

test('bitnet.cpp TL1 (type 38) and TL2 (type 39, shared with upstream MXFP4) are told apart by their byte ranges', async () => {
  // Layouts from microsoft/BitNet utils/convert-hf-to-gguf-bitnet.py: TL1 = two weights per 4-bit index, two
  // indices per byte (n/4); TL2 = three weights per 4-bit magnitude + 1 sign bit, last 256 columns as TL1, padded
  // to M × (K − 256) × 5/24 + 64 × M bytes. Each has an F32 `<name>_scale` tensor.
  const k = 2560;
  const m1 = 640;
  const tl2 = (rows: number, cols: number): number => Math.floor((Math.floor(((cols - 256) * rows) / 3) * 5) / 8) + (256 * rows) / 4;
  assert.equal(tl2(m1, k), 348_160);
  const tl1File = buildGguf({ kvs: meta, tensors: [
    { name: 'blk.0.attn_k.weight', dims: [k, m1], type: 38, byteLength: (k * m1) / 4 }, { name: 'blk.0.attn_k.weight_scale', dims: [1], type: 0 },
  ] }).bytes;
  const a = await open(tl1File);
  assert.deepEqual(a.tensors.map((t) => [t.dtype, t.elementCount, t.byteLength]), [['tl1', k * m1, 409_600], ['float32', 1, 4]]);
  assert.match(a.warnings.join(' '), /ggml type 38 is read as TL1 of bitnet\.cpp .*removed upstream \(IQ4_NL_8_8\)/);

  const tl2File = buildGguf({ kvs: meta, tensors: [
    { name: 'blk.0.attn_k.weight', dims: [k, m1], type: 39, byteLength: tl2(m1, k) }, { name: 'blk.0.attn_k.weight_scale', dims: [1], type: 0 },
    { name: 'blk.0.ffn_down.weight', dims: [6912, 2560], type: 39, byteLength: tl2(2560, 6912) }, { name: 'blk.0.ffn_down.weight_scale', dims: [1], type: 0 },
  ] }).bytes;
  const b = await open(tl2File);
  assert.deepEqual(b.tensors.filter((t) => t.dtype === 'tl2').map((t) => [t.name, t.byteLength]), [['blk.0.attn_k.weight', 348_160], ['blk.0.ffn_down.weight', 3_713_706]]);
  assert.equal(b.parameterCount, k * m1 + 6912 * 2560 + 2);
  assert.match(b.warnings.join(' '), /ggml type 39 is read as TL2 of bitnet\.cpp .*upstream MXFP4/);

  // The same id with MXFP4-sized ranges stays upstream MXFP4, silently.
  const mx = await open(buildGguf({ kvs: meta, tensors: [{ name: 'w', dims: [k, m1], type: 39, byteLength: (k * m1 * 17) / 32 }] }).bytes);
  assert.deepEqual([mx.tensors[0]!.dtype, mx.warnings], ['mxfp4', []]);
  // Neither fits: the error names both candidates.
  await assert.rejects(open(buildGguf({ kvs: meta, tensors: [{ name: 'w', dims: [k, m1], type: 39, byteLength: 1024 }] }).bytes), /known layouts of ggml type 39: MXFP4 \(llama\.cpp: 32 weights in 17 bytes, 870400 bytes\), TL2 \(bitnet\.cpp: rows × \(row − 256\) × 5\/24 \+ 64 bytes per row\)/);
});

test('a type id whose layouts both fit tightly is read upstream-first with a note naming the candidates', async () => {
  // 128 weights: upstream Q2_0 takes 36 B, PrismML's Q2_0 34 B; in 64-byte ranges (alignment 32) both fit with less than one alignment of slack.
  const m = await open(buildGguf({ kvs: meta, tensors: [{ name: 'a', dims: [128], type: 42, byteLength: 36 }, { name: 'b', dims: [128], type: 42, byteLength: 36 }] }).bytes);
  assert.deepEqual(m.tensors.map((t) => [t.dtype, t.byteLength]), [['q2_0', 36], ['q2_0', 36]]);
  assert.match(m.warnings.join(' '), /ggml type 42 is ambiguous in this file: its tensors fit Q2_0 \(llama\.cpp\) and Q2_0 \(PrismML llama\.cpp fork\); read as Q2_0 of llama\.cpp\./);
});

test('decoders: PrismML Q2_0/128, bitnet.cpp I2_S and packed BitNet uint8 decode hand-built blocks to their known values', async () => {
  // Q2_0/128: { half d = 0.5 (0x3800); u8 qs[32] }, weight j = ((qs[j / 4] >> 2 (j mod 4)) & 3) − 1) × d.
  const codes = Array.from({ length: 128 }, (_, j) => j % 3); // 0, 1, 2 → −1, 0, +1
  const q2 = new Uint8Array(34);
  q2[0] = 0x00; q2[1] = 0x38;
  codes.forEach((c, j) => { q2[2 + (j >> 2)]! |= c << ((j & 3) * 2); });
  assert.deepEqual([...decodeElements('q2_0_g128', q2, 128)], codes.map((c) => (c - 1) * 0.5));

  // I2_S (x86 layout): 256 weights = 2 blocks of 128 in 32 bytes each, weight j of a block in byte j mod 32 at bits
  // 6 − 2⌊j / 32⌋; FP32 scale 0.25 at byte n/4, then padding to 32 bytes.
  const n = 256;
  const want = Array.from({ length: n }, (_, e) => ((e * 7) % 3) - 1);
  const i2 = new Uint8Array(n / 4 + 32);
  want.forEach((v, e) => { const k = e >> 7, j = e & 127; i2[k * 32 + (j & 31)]! |= (v + 1) << (6 - 2 * (j >> 5)); });
  new DataView(i2.buffer).setFloat32(n / 4, 0.25, true);
  assert.deepEqual([...decodeElements('i2_s', i2, n)], want.map((v) => v * 0.25));

  // Packed BitNet uint8 [P = 2, 3] → [8, 3]: bits 2i of packed row r are unpacked row 2i + r; value code − 1.
  const rows = [[-1, 0, 1], [1, 1, 0], [0, -1, -1], [1, 0, -1], [0, 0, 1], [-1, 1, 0], [1, -1, 1], [0, 0, 0]];
  const packed = new Uint8Array(6);
  rows.forEach((row, u) => { const i = Math.floor(u / 2), r = u % 2; row.forEach((v, c) => { packed[r * 3 + c]! |= (v + 1) << (2 * i); }); });
  assert.deepEqual([...decodeElements('ternary_u8x4', packed, 24)], rows.flat());

  for (const d of ['i2_s', 'q2_0_g128', 'ternary_u8x4']) assert.equal(decodeUnsupportedReason(d), undefined, d);
  assert.match(decodeUnsupportedReason('tl2') ?? '', /tiled for its lookup-table kernels/);
  assert.match(decodeUnsupportedReason('mxfp4_split') ?? '', /separate _blocks and _scales/);

  // Through the GGUF reader: an I2_S tensor's stored bytes (blocks + trailer) decode as a whole.
  const file = buildGguf({ kvs: meta, tensors: [{ name: 'blk.0.attn_q.weight', dims: [128, 2], type: 36, byteLength: i2.length }] });
  file.bytes.set(i2, file.dataOffset + file.tensors[0]!.offset);
  const m = await open(file.bytes);
  const t = m.tensors[0]!;
  assert.equal(t.dtype, 'i2_s');
  const loc = tensorLocation(t)!;
  assert.deepEqual([...decodeTensor(t, file.bytes.subarray(loc.byteOffset, loc.byteOffset + loc.byteLength))], want.map((v) => v * 0.25));
});
