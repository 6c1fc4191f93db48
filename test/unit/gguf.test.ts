import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_LIMITS, GGML_TYPES, MemoryByteSource, ModelFormatError, REMOVED_GGML_TYPES, dtypeInfo, ggmlType, openModel,
  type ByteSource, type Limits, type Model, type ModelFormatErrorCode,
} from '../../src/core';
import { ggmlLayouts } from '../../src/core/formats/gguf/ggmlTypes';
import { ByteWriter, GGML_BLOCKS, GGUF, buildGguf, ggmlByteLength, kv, llamaGguf, writeValue } from '../fixtures/buildGguf';
import { tensorLocation } from '../../src/core';

/** Counts the bytes a reader asks for. */
class CountingSource implements ByteSource {
  bytesRead = 0;
  private readonly inner: MemoryByteSource;
  constructor(readonly name: string, bytes: Uint8Array) {
    this.inner = new MemoryByteSource(name, bytes);
  }
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}

function open(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): Promise<Model> {
  return openModel(new MemoryByteSource('m.gguf', bytes), { limits });
}

async function rejects(bytes: Uint8Array, code: ModelFormatErrorCode, pattern: RegExp, limits: Limits = DEFAULT_LIMITS): Promise<void> {
  const t0 = performance.now();
  await assert.rejects(open(bytes, limits), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    assert.ok(e.message.startsWith('m.gguf: ') && e.message.endsWith('.'), e.message);
    return true;
  });
  assert.ok(performance.now() - t0 < 500, 'error should be raised fast');
}

/** A header written by hand: magic, version, counts, then `body`. */
function raw(tensorCount: number | bigint, kvCount: number | bigint, body: (w: ByteWriter) => void, version = 3): Uint8Array {
  const w = new ByteWriter().u32(0x46554747).u32(version).u64(tensorCount).u64(kvCount);
  body(w);
  return w.finish();
}

//#region ggml type table
test('every ggml type id maps to an IR dtype whose block matches upstream ggml.c / ggml-common.h', () => {
  for (const [id, [name, block, bytes]] of Object.entries(GGML_BLOCKS)) {
    const t = ggmlType(Number(id));
    assert.ok(t, `ggml type ${id} (${name}) missing`);
    assert.equal(t.name, name);
    const info = dtypeInfo(t.dtype)!;
    assert.equal(info.blockSize, block, `${name} block size`);
    assert.equal(info.bytesPerBlock, bytes, `${name} bytes per block`);
  }
  assert.equal(GGML_TYPES.length, Object.keys(GGML_BLOCKS).length);
  for (let id = 0; id < 43; id++) assert.ok((ggmlType(id) !== undefined) !== (REMOVED_GGML_TYPES[id] !== undefined), `id ${id} is either registered or removed`);
  assert.equal(ggmlType(43), undefined);
});

test('a file with one tensor of every ggml type parses with exact byte lengths and offsets', async () => {
  const ids = Object.keys(GGML_BLOCKS).map(Number);
  const built = buildGguf({ alignment: 64, tensors: ids.map((id) => ({ name: `t${id}`, dims: [256, 3], type: id })) });
  const m = await open(built.bytes);
  assert.equal(m.tensorCount, ids.length);
  ids.forEach((id, i) => {
    const t = m.tensors[i]!;
    assert.equal(t.dtype, ggmlType(id)!.dtype);
    assert.deepEqual(t.shape, [3, 256]);
    assert.equal(t.byteLength, ggmlByteLength(id, [256, 3]), GGML_BLOCKS[id]![0]);
    assert.deepEqual(tensorLocation(t), { file: '', byteOffset: built.dataOffset + built.tensors[i]!.offset, byteLength: t.byteLength, encoding: 'raw' });
  });
  assert.equal(m.parameterCount, ids.length * 768);
  assert.equal(m.weightBytes, built.tensors.reduce((s, t) => s + t.byteLength, 0));
});
//#endregion

//#region metadata values and hyperparameters
test('all metadata value types, nested arrays, 64-bit values, summaries and truncation', async () => {
  const long = 'é'.repeat(DEFAULT_LIMITS.maxDisplayStringBytes); // 2 bytes per char
  const built = buildGguf({
    kvs: [
      { key: 'u8', type: GGUF.UINT8, value: 255 }, { key: 'i8', type: GGUF.INT8, value: -128 },
      { key: 'u16', type: GGUF.UINT16, value: 65535 }, { key: 'i16', type: GGUF.INT16, value: -32768 },
      kv.u32('u32', 4294967295), kv.i32('i32', -5), kv.f32('f32', 0.5), kv.bool('bool', true),
      kv.str('str', 'héllo'), kv.u64('u64.small', 2 ** 40), kv.u64('u64.big', 2n ** 64n - 1n),
      { key: 'i64', type: GGUF.INT64, value: -(2 ** 40) }, { key: 'f64', type: GGUF.FLOAT64, value: 1.25 },
      kv.f32('nan', Number.NaN), kv.str('long', long),
      kv.arr('nested', GGUF.ARRAY, [{ itemType: GGUF.INT32, items: [1, 2] }, { itemType: GGUF.STRING, items: ['a'] }]),
      kv.arr('short', GGUF.UINT16, [1, 2, 3]),
      kv.arr('longarr', GGUF.INT32, Array.from({ length: 5000 }, (_, i) => i)),
      kv.arr('longstr', GGUF.STRING, Array.from({ length: 100 }, (_, i) => `s${i}`)),
    ],
  });
  const md = (await open(built.bytes)).metadata;
  assert.deepEqual(
    { ...md, long: undefined },
    {
      u8: 255, i8: -128, u16: 65535, i16: -32768, u32: 4294967295, i32: -5, f32: 0.5, bool: true, str: 'héllo',
      'u64.small': 2 ** 40, 'u64.big': '18446744073709551615', i64: -(2 ** 40), f64: 1.25, nan: 'NaN', long: undefined,
      nested: [[1, 2], ['a']], short: [1, 2, 3],
      longarr: { type: 'array', itemType: 'int32', length: 5000, items: [0, 1, 2, 3, 4, 5, 6, 7] },
      longstr: { type: 'array', itemType: 'string', length: 100, items: ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'] },
    },
  );
  assert.equal(md['long'], `${'é'.repeat(DEFAULT_LIMITS.maxDisplayStringBytes / 2)}…`, 'cut at a character boundary');
});

test('hyperparameters: per-layer head-count arrays give their maximum; MoE names are detected', async () => {
  const built = buildGguf({
    kvs: [
      kv.str('general.architecture', 'qwen2moe'), kv.u32('qwen2moe.block_count', 2),
      kv.arr('qwen2moe.attention.head_count', GGUF.INT32, [4, 8]), kv.u32('qwen2moe.attention.key_length', 128),
      kv.u32('qwen2moe.expert_count', 8), kv.u32('qwen2moe.expert_used_count', 2), kv.u32('qwen2moe.vocab_size', 1000),
    ],
  });
  const m = await open(built.bytes);
  assert.deepEqual(m.hyperparameters, { architecture: 'qwen2moe', blockCount: 2, headCount: 8, kvHeadCount: 8, headDim: 128, expertCount: 8, expertUsedCount: 2, vocabSize: 1000, source: 'gguf' });
  const moe = await open(llamaGguf({ experts: 4, embd: 32, ffn: 64 }).bytes);
  const roles = (r: string): string[] => moe.layers.filter((l) => l.role === r).map((l) => l.name);
  assert.deepEqual(roles('expert'), ['blk.0.ffn_gate_exps.weight', 'blk.0.ffn_up_exps.weight', 'blk.0.ffn_down_exps.weight', 'blk.1.ffn_gate_exps.weight', 'blk.1.ffn_up_exps.weight', 'blk.1.ffn_down_exps.weight']);
  assert.deepEqual(roles('router'), ['blk.0.ffn_gate_inp.weight', 'blk.1.ffn_gate_inp.weight']);
  assert.deepEqual(roles('shared_expert'), ['blk.0.ffn_up_shexp.weight', 'blk.1.ffn_up_shexp.weight']);
  assert.deepEqual(moe.tensors.find((t) => t.name === 'blk.0.ffn_down_exps.weight')!.shape, [4, 32, 64]);
  assert.equal(moe.hyperparameters.expertCount, 4);
  assert.equal(moe.hyperparameters.vocabSize, 32);
});

test('reads only the header: a file with 16 MB of weights costs the header plus one window', async () => {
  const built = buildGguf({ kvs: [kv.str('general.architecture', 'llama')], tensors: [{ name: 'w', dims: [2048, 2048], type: 0 }] });
  const src = new CountingSource('m.gguf', built.bytes);
  const m = await openModel(src);
  assert.equal(m.weightBytes, 2048 * 2048 * 4);
  assert.ok(src.bytesRead <= 16 + built.dataOffset + 256 * 1024, `read ${src.bytesRead} bytes`);
});


test('tensor names across the 256 KiB read window: the boundary in the length, in the name, at either end', async () => {
  // Names of 80 bytes (charged as long names), a third with two-byte characters: every tensor info is 112 bytes
  // (length 8, name 80, rank 4, one dim 8, type 4, offset 8). The first window ends at byte 262,144; a padding
  // string shifts the infos so that it falls at each chosen byte of an info.
  const WINDOW = 256 * 1024;
  const INFO = 112;
  const count = Math.ceil(WINDOW / INFO) + 64;
  const names = Array.from({ length: count }, (_, i) => {
    const head = `blk.${String(i).padStart(6, '0')}.`;
    const fill = i % 3 === 1 ? 'é'.repeat((80 - head.length) >> 1) + 'x'.repeat((80 - head.length) & 1) : 'w'.repeat(80 - head.length);
    return head + fill;
  });
  assert.ok(names.every((n) => new TextEncoder().encode(n).length === 80));
  const build = (pad: number): Uint8Array => buildGguf({ kvs: [kv.str('general.architecture', 'llama'), kv.str('pad', 'p'.repeat(pad))], tensors: names.map((name) => ({ name, dims: [32], type: 0 })) }).bytes;
  const first = new TextEncoder().encode(names[0]!);
  const b0 = build(0);
  const start = b0.findIndex((_, i) => first.every((c, k) => b0[i + k] === c)) - 8;
  assert.ok(start > 0);
  // Offsets within an info: in the length (0, 4, 7), the name's first and second byte, inside a two-byte character
  // (infos i ≡ 1 mod 3 hold them), the name's last byte, just after it, the info's last byte.
  for (const at of [0, 4, 7, 8, 9, 31, 87, 88, 111]) {
    const pad = (((WINDOW - start - at) % INFO) + INFO) % INFO;
    const m = await open(build(pad));
    const seen = m.tensors.map((t) => t.name);
    assert.equal(seen.length, count, `boundary at byte ${at} of an info`);
    const wrong = seen.findIndex((n, i) => n !== names[i]);
    assert.equal(wrong, -1, `boundary at byte ${at} of an info: tensor ${wrong} is named '${seen[wrong]}'`);
  }
});
test('general.alignment: used for offsets; must be a uint32 power of two', async () => {
  const ok = buildGguf({ alignment: 128, tensors: [{ name: 'a', dims: [3], type: 0 }, { name: 'b', dims: [5], type: 0 }] });
  const m = await open(ok.bytes);
  assert.equal(m.tensors[1]!.byteOffset, ok.dataOffset + 128);
  assert.equal(ok.dataOffset % 128, 0);
  await rejects(buildGguf({ alignment: 48, tensors: [{ name: 'a', dims: [3], type: 0 }] }).bytes, 'bad-value', /general\.alignment 48 is not a power of two/);
  await rejects(buildGguf({ alignment: 0 }).bytes, 'bad-value', /general\.alignment 0 is not a power of two/);
  await rejects(buildGguf({ kvs: [kv.u64('general.alignment', 32)] }).bytes, 'bad-value', /general\.alignment has type uint64 but must be uint32/);
});
//#endregion

//#region malformed and hostile input
test('magic, version and endianness', async () => {
  const good = llamaGguf().bytes;
  const bad = good.slice();
  bad[0] = 0x47; bad[1] = 0x47; bad[2] = 0x4d; bad[3] = 0x4c; // 'GGML'
  await rejects(bad, 'bad-magic', /does not start with the GGUF magic/);
  await rejects(raw(0, 0, () => {}, 1), 'unsupported', /is GGUF version 1, which is not supported \(versions 2 and 3 are\)/);
  await rejects(raw(0, 0, () => {}, 4), 'unsupported', /GGUF version 4, newer than/);
  await rejects(raw(0, 0, () => {}, 0x03000000), 'unsupported', /big-endian/);
  await rejects(raw(0, 0, () => {}, 0), 'bad-value', /GGUF version 0/);
  const v2 = await open(raw(0, 1, (w) => w.str('general.architecture').u32(GGUF.STRING).str('llama'), 2));
  assert.equal(v2.formatVersion, 2);
  await rejects(good.subarray(0, 20), 'truncated', /the GGUF header at offset 0 needs 24 bytes but only 20 remain/);
  await rejects(good.subarray(0, 300), 'truncated', /declares 11 metadata entries and 21 tensors, more than its 300 bytes can hold/);
  const built = llamaGguf();
  await rejects(built.bytes.subarray(0, built.dataOffset - 40), 'truncated', /needs \d+ bytes but only \d+ remain|data section would start at offset \d+, past the end/);
  await rejects(built.bytes.subarray(0, built.dataOffset + 100), 'bad-offset', /tensor 'token_embd\.weight' data \(offset 0, 8192 bytes\) runs past the end of the 100-byte data section/);
});

test('hostile counts and lengths fail fast without allocating', async () => {
  await rejects(raw(2n ** 32n, 0, () => {}), 'limit-exceeded', /tensor count 4294967296 exceeds the limit of 1000000/);
  await rejects(raw(0, 2n ** 62n, () => {}), 'limit-exceeded', /metadata entry count 4611686018427387904 is too large/);
  await rejects(raw(1000, 1000, () => {}), 'truncated', /declares 1000 metadata entries and 1000 tensors, more than its 24 bytes can hold/);
  await rejects(raw(0, 1, (w) => w.u64(2n ** 60n).zeros(16)), 'limit-exceeded', /metadata key length 1152921504606846976 is too large/);
  await rejects(raw(0, 1, (w) => w.u64(2n ** 40n).zeros(16)), 'limit-exceeded', /metadata key length 1099511627776 exceeds the limit of 65536 bytes \(maxNameBytes\)/);
  await rejects(raw(0, 1, (w) => w.u64(1000).zeros(8)), 'truncated', /metadata key length 1000 at offset 24 runs past the end of the file/);
  await rejects(raw(0, 1, (w) => w.str('k').u32(GGUF.STRING).u64(2n ** 60n).zeros(16)), 'limit-exceeded', /metadata 'k' length 1152921504606846976 is too large/);
  await rejects(raw(0, 1, (w) => w.str('k').u32(GGUF.ARRAY).u32(GGUF.UINT8).u64(2n ** 40n)), 'limit-exceeded', /metadata 'k' array length 1099511627776 exceeds the limit of 16777216/);
  await rejects(raw(0, 1, (w) => w.str('k').u32(GGUF.ARRAY).u32(GGUF.STRING).u64(1_000_000).zeros(64)), 'truncated', /metadata 'k' array of 1000000 items runs past the end of the file/);
  await rejects(raw(0, 1, (w) => w.str('k').u32(GGUF.ARRAY).u32(GGUF.STRING).u64(3).str('a').u64(2n ** 50n).zeros(16)), 'limit-exceeded', /item length 1125899906842624 exceeds the limit/);
  // 1000 nested single-item arrays.
  await rejects(raw(0, 1, (w) => { w.str('k').u32(GGUF.ARRAY); for (let i = 0; i < 1000; i++) w.u32(GGUF.ARRAY).u64(1); w.u32(GGUF.UINT8).u64(0); }), 'limit-exceeded', /nests arrays deeper than the limit of 64/);
  await rejects(raw(0, 1, (w) => w.str('k').u32(13).zeros(8)), 'unsupported', /metadata 'k' has unknown GGUF value type '13'/);
  await rejects(raw(0, 1, (w) => w.str('k').u32(GGUF.ARRAY).u32(99).u64(0)), 'unsupported', /unknown GGUF value type '99'/);
  await rejects(raw(0, 2, (w) => w.str('k').u32(GGUF.UINT8).u8(1).str('k').u32(GGUF.UINT8).u8(2)), 'bad-value', /metadata key 'k' appears twice/);
  await rejects(raw(0, 1, (w) => w.str('').u32(GGUF.UINT8).u8(1)), 'bad-value', /metadata entry 0 has an empty key/);
  await rejects(raw(0, 4, () => {}), 'truncated', /more than its 24 bytes can hold/, { ...DEFAULT_LIMITS });
  await rejects(raw(0, 3, (w) => w.zeros(64)), 'limit-exceeded', /metadata entry count 3 exceeds the limit of 2/, { ...DEFAULT_LIMITS, maxMetadataEntries: 2 });
});

test('tensor infos: rank, dims, types, block multiples, offsets, alignment, overlap, duplicates', async () => {
  const tensor = (name: string, dims: (number | bigint)[], type: number, offset: number | bigint) => (w: ByteWriter): void => {
    w.str(name).u32(dims.length);
    for (const d of dims) w.u64(d);
    w.u32(type).u64(offset);
  };
  const file = (...tensors: ((w: ByteWriter) => void)[]) => raw(tensors.length, 0, (w) => { for (const t of tensors) t(w); w.pad(32).zeros(64); });
  await rejects(raw(1, 0, (w) => w.str('t').u32(2 ** 31).zeros(64)), 'limit-exceeded', /tensor 't' has 2147483648 dimensions, above the limit of 16/);
  await rejects(file(tensor('t', [2n ** 40n, 2n ** 40n], 0, 0)), 'limit-exceeded', /tensor 't' has more than 1125899906842624 elements/);
  await rejects(file(tensor('t', [2n ** 60n], 0, 0)), 'limit-exceeded', /tensor 't' dimension 1152921504606846976 is too large/);
  await rejects(file(tensor('t', [32], 99, 0)), 'unsupported', /tensor 't' has unknown ggml type '99'/);
  await rejects(file(tensor('t', [32], 31, 0)), 'unsupported', /tensor 't' uses ggml type 31 \(Q4_0_4_4\), which upstream removed from GGUF files/);
  await rejects(file(tensor('t', [100, 2], 12, 0)), 'bad-value', /tensor 't' of type Q4_K has rows of 100 elements, not a multiple of its block size 256/);
  await rejects(file(tensor('t', [8], 0, 4)), 'bad-offset', /tensor 't' data offset 4 is not a multiple of the alignment 32/);
  await rejects(file(tensor('t', [8], 0, 2n ** 60n)), 'limit-exceeded', /tensor 't' data offset 1152921504606846976 is too large/);
  await rejects(file(tensor('t', [8], 0, 64)), 'bad-offset', /tensor 't' data \(offset 64, 32 bytes\) runs past the end of the 64-byte data section/);
  await rejects(file(tensor('a', [8], 0, 0), tensor('b', [8], 0, 0)), 'bad-offset', /tensor 'b' data at offset 0 overlaps tensor 'a' ending at 32/);
  await rejects(file(tensor('a', [4], 0, 0), tensor('a', [4], 0, 32)), 'bad-value', /tensor 'a' appears twice/);
  await rejects(raw(1, 0, (w) => tensor('t', [8], 0, 0)(w)), 'truncated', /data section would start at offset 64, past the end of the 57-byte file/);
  const scalar = await open(file(tensor('s', [], 0, 0)));
  assert.deepEqual(scalar.tensors[0]!.shape, []);
  assert.equal(scalar.tensors[0]!.elementCount, 1);
});

test('writeValue round-trips through the reader for every scalar type', async () => {
  const w = new ByteWriter();
  writeValue(w, GGUF.UINT8, 7);
  assert.deepEqual([...w.finish()], [7]);
  const m = await open(buildGguf({ kvs: [kv.bool('b', false)] }).bytes);
  assert.equal(m.metadata['b'], false);
});
//#endregion

test('a __proto__ metadata key stays plain data', async () => {
  const m = await open(buildGguf({ kvs: [kv.str('__proto__', 'x')] }).bytes);
  assert.equal(Object.getPrototypeOf(m.metadata), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(m.metadata, '__proto__')?.value, 'x');
});

test('ggmlLayouts: one shared, frozen list per type id (a fresh layout object per tensor gave each its own V8 hidden class: ~280 bytes per tensor)', () => {
  for (const id of [0, 1, 2, 12, 36, 39, 42]) {
    const first = ggmlLayouts(id);
    assert.ok(first.length > 0, `type ${id} has layouts`);
    assert.equal(ggmlLayouts(id), first, `type ${id}: the same list on every call`);
    assert.ok(Object.isFrozen(first) && first.every((l) => Object.isFrozen(l) || l.origin !== 'llama.cpp'));
  }
  assert.equal(ggmlLayouts(39)[0]!.origin, 'llama.cpp');
  assert.deepEqual(ggmlLayouts(39).map((l) => l.origin), ['llama.cpp', 'bitnet.cpp']);
  assert.deepEqual(ggmlLayouts(36).map((l) => `${l.name}/${l.origin}`), ['I2_S/bitnet.cpp']);
  assert.deepEqual(ggmlLayouts(4), []);
  assert.deepEqual(ggmlLayouts(-1), []);
  assert.deepEqual(ggmlLayouts(1.5), []);
  assert.deepEqual(ggmlLayouts(1e9), []);
});
