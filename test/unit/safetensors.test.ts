import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, MemoryByteSource, MemorySiblings, ModelFormatError, openModel, type Model, type ModelFormatErrorCode } from '../../src/core';
import {
  SAFETENSORS_BITS, buildSafetensors, buildShardedModel, llamaTensors, rawSafetensors, stByteLength,
  type StTensorSpec,
} from '../fixtures/buildSafetensors';
import { tensorLocation } from '../../src/core';

function open(name: string, bytes: Uint8Array, files: Record<string, Uint8Array> = {}, limits = DEFAULT_LIMITS): Promise<Model> {
  return openModel(new MemoryByteSource(name, bytes), { siblings: new MemorySiblings(name, { [name]: bytes, ...files }), limits });
}

/** Asserts a one-sentence ModelFormatError naming the file, with the given code, raised quickly. */
async function rejects(p: () => Promise<unknown>, code: ModelFormatErrorCode, pattern: RegExp, file = 'm.safetensors'): Promise<void> {
  const t0 = performance.now();
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    assert.ok(e.message.startsWith(`${file}: `) && e.message.endsWith('.'), e.message);
    return true;
  });
  assert.ok(performance.now() - t0 < 500, 'error should be raised fast');
}

//#region hermetic builders
const IR_DTYPES: Readonly<Record<string, string>> = {
  BOOL: 'bool', F4: 'float4_e2m1', U8: 'uint8', I8: 'int8', F8_E5M2: 'float8_e5m2', F8_E4M3: 'float8_e4m3fn', F8_E8M0: 'float8_e8m0',
  I16: 'int16', U16: 'uint16', F16: 'float16', BF16: 'bfloat16', I32: 'int32', U32: 'uint32', F32: 'float32', C64: 'complex64',
  F64: 'float64', I64: 'int64', U64: 'uint64',
};

test('every safetensors dtype maps to its IR dtype with exact byte ranges', async () => {
  const specs: StTensorSpec[] = Object.keys(IR_DTYPES).map((d) => ({ name: `t_${d}`, dtype: d, shape: [3, 4] }));
  const built = buildSafetensors(specs, { metadata: { format: 'pt', note: 'x'.repeat(DEFAULT_LIMITS.maxDisplayStringBytes + 10) } });
  const model = await open('m.safetensors', built.bytes);
  assert.equal(model.tensorCount, specs.length);
  for (const s of specs) {
    const t = model.tensors.find((x) => x.name === s.name)!;
    const [begin, end] = built.offsets[s.name]!;
    assert.equal(t.dtype, IR_DTYPES[s.dtype], s.dtype);
    assert.equal(t.byteLength, (12 * SAFETENSORS_BITS[s.dtype]!) / 8, s.dtype);
    assert.deepEqual(tensorLocation(t), { file: '', byteOffset: 8 + built.headerLength + begin, byteLength: end - begin, encoding: 'raw' });
  }
  assert.equal(model.weightBytes, built.totalByteLength - 8 - built.headerLength);
  assert.equal(model.metadata['format'], 'pt');
  assert.equal((model.metadata['note'] as string).length, DEFAULT_LIMITS.maxDisplayStringBytes + 1, 'long metadata strings are truncated');
  assert.equal(model.formatVersion, 1);
});

test('scalars and empty tensors are valid; scalars and 1-D tensors are not quantizable', async () => {
  const built = buildSafetensors([
    { name: 'scale', dtype: 'F32', shape: [] },
    { name: 'empty', dtype: 'F16', shape: [0, 7] },
    { name: 'bias', dtype: 'F32', shape: [5] },
  ]);
  const model = await open('m.safetensors', built.bytes);
  const byName = Object.fromEntries(model.tensors.map((t) => [t.name, t]));
  assert.equal(byName['scale']!.elementCount, 1);
  assert.equal(byName['empty']!.elementCount, 0);
  assert.equal(tensorLocation(byName['empty']!), undefined);
  assert.equal(model.parameterCount, 6);
  const q = Object.fromEntries(model.layers.map((l) => [l.name, l.quantizable]));
  assert.deepEqual(q, { scale: false, empty: true, bias: false });
});

test('6-bit MX dtypes pack 4 elements into 3 bytes', async () => {
  const bytes = rawSafetensors(JSON.stringify({ w: { dtype: 'F6_E2M3', shape: [4], data_offsets: [0, 3] } }), 3);
  const model = await open('m.safetensors', bytes);
  assert.equal(model.tensors[0]!.dtype, 'float6_e2m3');
  assert.equal(model.tensors[0]!.byteLength, 3);
  const bad = rawSafetensors(JSON.stringify({ w: { dtype: 'F6_E3M2', shape: [4], data_offsets: [0, 4] } }), 4);
  await rejects(() => open('m.safetensors', bad), 'bad-offset', /tensor 'w' needs 3 bytes for shape \[4\] of F6_E3M2/);
});

test('sharded model: opening the index or any shard shows every tensor, all shard files, and config.json hyperparameters', async () => {
  const tensors = llamaTensors({ layers: 4, experts: 4 });
  const shards = [tensors.slice(0, 30), tensors.slice(30, 60), tensors.slice(60)];
  const config = {
    architectures: ['Qwen2MoeForCausalLM'], model_type: 'qwen2_moe', num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2,
    hidden_size: 16, intermediate_size: 32, max_position_embeddings: 4096, vocab_size: 64, num_experts: 4, num_experts_per_tok: 2,
  };
  const m = buildShardedModel(shards, { config, metadata: { format: 'pt' } });
  const expectParams = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  for (const entry of [m.indexName, m.shardNames[1]!, m.shardNames[0]!]) {
    const model = await openModel(new MemoryByteSource(entry, m.files[entry]!), { siblings: new MemorySiblings(entry, m.files) });
    assert.equal(model.fileName, entry);
    assert.equal(model.tensorCount, tensors.length, entry);
    assert.deepEqual(model.tensors.map((t) => t.name), m.tensorNames);
    assert.equal(model.parameterCount, expectParams);
    assert.deepEqual(model.files.map((f) => f.path), [m.indexName, ...m.shardNames]);
    assert.deepEqual(model.files.map((f) => f.byteLength), [m.indexName, ...m.shardNames].map((n) => m.files[n]!.length));
    assert.equal(model.totalFileBytes, Object.entries(m.files).filter(([n]) => n !== 'config.json').reduce((s, [, b]) => s + b.length, 0));
    const last = model.tensors[model.tensors.length - 1]!;
    assert.equal(last.file!, m.shardNames[2]);
    assert.deepEqual(model.hyperparameters, {
      architecture: 'Qwen2MoeForCausalLM', blockCount: 4, headCount: 4, kvHeadCount: 2, headDim: 4, embeddingLength: 16, feedForwardLength: 32,
      contextLength: 4096, vocabSize: 64, expertCount: 4, expertUsedCount: 2, source: 'config.json',
    });
    assert.equal(model.metadata['total_size'], model.weightBytes);
    assert.equal(model.metadata['format'], 'pt');
    assert.deepEqual(model.warnings, []);
    const experts = model.layers.filter((l) => l.role === 'expert');
    assert.equal(experts.length, 4 * 4 * 3);
    assert.deepEqual([...new Set(experts.map((l) => l.expert))].sort(), [0, 1, 2, 3]);
    assert.equal(model.layers.filter((l) => l.role === 'shared_expert').length, 4 * 3);
    assert.equal(model.layers.filter((l) => l.role === 'router').length, 4);
  }
});

test('a shard without an index, or beside an index that does not list it, shows only itself', async () => {
  const m = buildShardedModel([llamaTensors({ layers: 1 }).slice(0, 3), llamaTensors({ layers: 1 }).slice(3)]);
  const alone = await openModel(new MemoryByteSource(m.shardNames[0]!, m.files[m.shardNames[0]!]!));
  assert.equal(alone.tensorCount, 3);
  assert.equal(alone.tensors[0]!.file!, '');
  const otherIndex = new TextEncoder().encode(JSON.stringify({ weight_map: { x: 'other-00001-of-00002.safetensors' } }));
  const files = { ...m.files, [m.indexName]: otherIndex };
  const model = await openModel(new MemoryByteSource(m.shardNames[0]!, m.files[m.shardNames[0]!]!), { siblings: new MemorySiblings(m.shardNames[0]!, files) });
  assert.equal(model.tensorCount, 3);
  assert.match(model.warnings.join(' '), /does not list model-00001-of-00002\.safetensors/);
});

test('weight_map inconsistencies and a malformed config.json are warnings, not failures', async () => {
  const m = buildShardedModel([llamaTensors({ layers: 1 }).slice(0, 4), llamaTensors({ layers: 1 }).slice(4)]);
  const index = JSON.parse(new TextDecoder().decode(m.files[m.indexName]!)) as { weight_map: Record<string, string>; metadata: Record<string, number> };
  index.weight_map['ghost.weight'] = m.shardNames[0]!;
  index.weight_map['model.embed_tokens.weight'] = m.shardNames[1]!;
  index.metadata['total_size'] = 1;
  const files = { ...m.files, [m.indexName]: new TextEncoder().encode(JSON.stringify(index)), 'config.json': new TextEncoder().encode('{"num_hidden_layers": ') };
  const model = await openModel(new MemoryByteSource(m.indexName, files[m.indexName]!), { siblings: new MemorySiblings(m.indexName, files) });
  assert.equal(model.tensorCount, llamaTensors({ layers: 1 }).length);
  const w = model.warnings.join('\n');
  assert.match(w, /weight_map lists 1 tensors that no shard holds \('ghost\.weight'\)/);
  assert.match(w, /wrong shard/);
  assert.match(w, /total_size is 1/);
  assert.match(w, /config\.json: the config is not valid JSON/);
  assert.deepEqual(model.hyperparameters, { blockCount: 1, source: 'tensor names' });
});
//#endregion

//#region malformed and hostile input
const good = (): Uint8Array => buildSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 2] }]).bytes;

test('truncated files and header lengths beyond the file or limits fail fast', async () => {
  await rejects(() => open('m.safetensors', good().subarray(0, 9)), 'truncated', /fewer than the 10 of the smallest/);
  await rejects(() => open('m.safetensors', good().subarray(0, 20)), 'truncated', /header length \d+ exceeds the 12 bytes after the length field/);
  const huge = good();
  new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
  await rejects(() => open('m.safetensors', huge), 'limit-exceeded', /header length 1152921504606846976 is too large/);
  new DataView(huge.buffer).setBigUint64(0, BigInt(DEFAULT_LIMITS.maxHeaderBytes + 1), true);
  await rejects(() => open('m.safetensors', huge), 'limit-exceeded', /exceeds the limit of 536870912 bytes/);
  await rejects(() => open('m.safetensors', good().subarray(0, good().length - 1)), 'bad-offset', /tensor 'w' data_offsets \[0, 16\] run past the 15-byte data section/);
});

test('bad JSON, nesting bombs, non-objects and duplicate keys are refused', async () => {
  await rejects(() => open('m.safetensors', rawSafetensors('{"w": {"dtype": "F32",', 0)), 'bad-value', /header is not valid JSON/);
  const bomb = `{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
  await rejects(() => open('m.safetensors', rawSafetensors(bomb, 0)), 'limit-exceeded', /nests deeper than the limit of 64 levels/);
  await rejects(() => open('m.safetensors', rawSafetensors('[1, 2, 3, 4, 5]', 0)), 'bad-value', /is not a JSON object/);
  const dup = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  await rejects(() => open('m.safetensors', rawSafetensors(dup, 8)), 'bad-value', /duplicate keys \(2 entries but 1 distinct names\)/);
  const badUtf8 = rawSafetensors('{"w\u00ff":{}}', 0);
  badUtf8.set([0xff, 0xfe], 12);
  await rejects(() => open('m.safetensors', badUtf8), 'bad-value', /not valid UTF-8/);
});

test('invalid entries: dtype, shape, rank, element count, offsets, overlaps', async () => {
  const one = (entry: unknown, data = 16): Promise<Model> => open('m.safetensors', rawSafetensors(JSON.stringify({ w: entry }), data));
  await rejects(() => one({ dtype: 'F3', shape: [4], data_offsets: [0, 16] }), 'unsupported', /tensor 'w' has unknown dtype 'F3'/);
  await rejects(() => one({ dtype: 'F32', shape: [-4], data_offsets: [0, 16] }), 'bad-value', /invalid dimension '-4'/);
  await rejects(() => one({ dtype: 'F32', shape: [2.5], data_offsets: [0, 16] }), 'bad-value', /invalid dimension '2.5'/);
  await rejects(() => one({ dtype: 'F32', shape: new Array(17).fill(1), data_offsets: [0, 4] }), 'limit-exceeded', /rank 17, above the limit of 16/);
  await rejects(() => one({ dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 16] }), 'limit-exceeded', /more than 1125899906842624 elements/);
  await rejects(() => one({ dtype: 'F32', shape: [4], data_offsets: [0, 12] }), 'bad-offset', /needs 16 bytes for shape \[4\] of F32 but data_offsets \[0, 12\] span 12/);
  await rejects(() => one({ dtype: 'F32', shape: [4], data_offsets: [8, 4] }), 'bad-offset', /invalid data_offsets \[8, 4\]/);
  await rejects(() => one({ dtype: 'F32', shape: [4], data_offsets: [2 ** 60, 2 ** 60 + 16] }), 'bad-offset', /invalid data_offsets/);
  await rejects(() => one({ dtype: 'F4', shape: [3], data_offsets: [0, 2] }), 'bad-value', /3 elements of F4, which do not fill whole bytes/);
  await rejects(() => one({ dtype: 'F32', shape: [4] }), 'bad-value', /has no data_offsets pair/);
  const overlap = JSON.stringify({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } });
  await rejects(() => open('m.safetensors', rawSafetensors(overlap, 16)), 'bad-offset', /tensor 'b' data_offsets \[8, 16\] overlap tensor 'a' ending at 16/);
  const gap = JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } });
  const model = await open('m.safetensors', rawSafetensors(gap, 12));
  assert.match(model.warnings.join(), /8 bytes not covered by any tensor \(4 between tensors, 4 at the end\)/);
  await rejects(() => open('m.safetensors', rawSafetensors(JSON.stringify({ a: 1, b: 2, c: 3, d: 4 }), 0), {}, { ...DEFAULT_LIMITS, maxTensorCount: 2 }), 'limit-exceeded', /lists 4 entries, more than the limit of 2 tensors/);
});

test('shard indexes: path escapes, too many shards, duplicates across shards, missing shards', async () => {
  const idx = (weightMap: Record<string, string>): Uint8Array => new TextEncoder().encode(JSON.stringify({ weight_map: weightMap }));
  const name = 'model.safetensors.index.json';
  await rejects(() => open(name, idx({ w: '../x.safetensors' })), 'path-escape', /refusing external path '\.\.\/x\.safetensors': it leaves the model folder/, name);
  await rejects(() => open(name, idx({ w: '/etc/passwd' })), 'path-escape', /it is absolute/, name);
  await rejects(
    () => open(name, idx({ a: 'a.safetensors', b: 'b.safetensors', c: 'c.safetensors' }), {}, { ...DEFAULT_LIMITS, maxFileCount: 2 }),
    'limit-exceeded', /weight_map names more than 2 shard files/, name,
  );
  await rejects(() => open(name, new TextEncoder().encode('{"metadata": {}}')), 'bad-value', /has no weight_map object/, name);
  await rejects(() => open(name, idx({ w: 'missing.safetensors' })), 'missing-file', /external file 'missing\.safetensors' does not exist/, name);
  const shard = buildSafetensors([{ name: 'w', dtype: 'F32', shape: [1] }]).bytes;
  const shardFiles = { 'a.safetensors': shard, 'b.safetensors': shard };
  assert.equal((await open(name, idx({ w: 'a.safetensors' }), shardFiles)).tensorCount, 1);
  await rejects(() => open(name, idx({ w: 'a.safetensors', v: 'b.safetensors' }), shardFiles), 'bad-value', /tensor 'w' appears in both a\.safetensors and b\.safetensors/, name);
  // A name repeated inside one shard is that shard's error, as for a single file (the sharded reader's lookup in the
  // index is the check); listed in the index or not, and also when the name is in another shard too.
  const e = (o: number): string => `{"dtype":"F32","shape":[1],"data_offsets":[${o},${o + 4}]}`;
  const twice = rawSafetensors(`{"u":${e(0)},"w":${e(4)},"u":${e(8)}}`, 12);
  const other = buildSafetensors([{ name: 'u', dtype: 'F32', shape: [1] }, { name: 'x', dtype: 'F32', shape: [1] }]).bytes;
  for (const [weightMap, files] of [
    [{ u: 'a.safetensors', w: 'a.safetensors' }, { 'a.safetensors': twice }],
    [{ w: 'a.safetensors' }, { 'a.safetensors': twice }],
    [{ u: 'b.safetensors', w: 'a.safetensors', x: 'b.safetensors' }, { 'a.safetensors': twice, 'b.safetensors': other }],
    [{ w: 'a.safetensors', x: 'b.safetensors' }, { 'a.safetensors': twice, 'b.safetensors': other }],
  ] as const) {
    await rejects(() => open(name, idx(weightMap), files), 'bad-value', /^a\.safetensors: the safetensors header has duplicate keys \(3 entries but 2 distinct names\)\.$/, 'a.safetensors');
  }
  // A plain index (its names kept as bytes) with a shard the general path reads (a non-string metadata value): names
  // are found by string, and a listed name no shard holds is quoted from the index's bytes.
  const general = rawSafetensors(`{"__metadata__":{"n":3},"w":${e(0)},"v":${e(4)}}`, 8);
  const read = await open(name, idx({ w: 'a.safetensors', v: 'a.safetensors', 'ghost.0.weight': 'a.safetensors' }), { 'a.safetensors': general });
  assert.deepEqual(read.tensors.map((t) => t.name), ['w', 'v']);
  assert.deepEqual(read.warnings.filter((w) => w.includes('weight_map')), [`${name}: weight_map lists 1 tensors that no shard holds ('ghost.0.weight').`]);
  // Only across shards: the index's error, listed or not.
  await rejects(() => open(name, idx({ w: 'a.safetensors', u: 'b.safetensors' }), { 'a.safetensors': buildSafetensors([{ name: 'w', dtype: 'F32', shape: [1] }, { name: 'x', dtype: 'F32', shape: [1] }]).bytes, 'b.safetensors': other }), 'bad-value', /tensor 'x' appears in both a\.safetensors and b\.safetensors/, name);
});
//#endregion

test('stByteLength agrees with the reader for packed F4', async () => {
  const model = await open('m.safetensors', buildSafetensors([{ name: 'w', dtype: 'F4', shape: [8, 16] }]).bytes);
  assert.equal(model.tensors[0]!.byteLength, stByteLength('F4', [8, 16]));
  assert.equal(model.tensors[0]!.byteLength, 64);
});

test('hostile names such as __proto__ stay plain data', async () => {
  const json = '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"__proto__":"x","ok":"y"}}';
  const model = await open('m.safetensors', rawSafetensors(json, 4));
  assert.deepEqual(model.tensors.map((t) => t.name), ['__proto__']);
  assert.equal(Object.getPrototypeOf(model.metadata), Object.prototype);
  assert.deepEqual(Object.keys(model.metadata).sort(), ['__proto__', 'ok']);
  assert.equal(Object.getOwnPropertyDescriptor(model.metadata, '__proto__')?.value, 'x');
});

test('long safetensors metadata values are cut in the bytes before parsing (escapes and UTF-8 kept whole); keys never', async () => {
  const { parseJsonObject, TRUNCATION_MARK } = await import('../../src/core/formats/safetensors/json');
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
  const long = 'é\u{1F600}\\"\n'.repeat(5000);
  const { value } = parseJsonObject('m.safetensors', enc({ __metadata__: { a: long, b: 'short' }, ['k'.repeat(300)]: { x: long } }), 64, 'the header', 100);
  const meta = value['__metadata__'] as Record<string, string>;
  assert.ok(meta['a']!.endsWith(TRUNCATION_MARK) && long.startsWith(meta['a']!.slice(0, -1)) && meta['a']!.length < 100, meta['a']);
  assert.equal(meta['b'], 'short');
  assert.ok(Object.hasOwn(value, 'k'.repeat(300)), 'a long key stays whole');
  // Through the reader: a 1 MB metadata value is kept as a display string; a long tensor name is still refused.
  const m = await openModel(new MemoryByteSource('m.safetensors', buildSafetensors([{ name: 'w', dtype: 'F32', shape: [1] }], { metadata: { big: 'x'.repeat(1 << 20) } }).bytes));
  const big = Object.values(m.metadata).find((v) => typeof v === 'string' && v.startsWith('xxx')) as string | undefined;
  assert.ok(big !== undefined && big.length === DEFAULT_LIMITS.maxDisplayStringBytes + 1 && big.endsWith('…'), String(big?.length));
  await assert.rejects(openModel(new MemoryByteSource('n.safetensors', buildSafetensors([{ name: 'n'.repeat(DEFAULT_LIMITS.maxNameBytes + 1), dtype: 'F32', shape: [1] }]).bytes)), /maxNameBytes/);
});
