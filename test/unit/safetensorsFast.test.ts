/**
 * The one-pass safetensors header and index parsers (src/core/formats/safetensors/fastParse.ts) must give exactly the
 * general path's result or its error. Each case is read twice, with and without the fast path, and compared; the
 * plain cases must actually take the fast path (else a regression to the slow path would go unnoticed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, MemoryByteSource, MemorySiblings, openModel, type Limits } from '../../src/core';
import { parseHeaderFast, parseIndexFast } from '../../src/core/formats/safetensors/fastParse';
import { readSafetensorsHeader } from '../../src/core/formats/safetensors/header';
import { hashName, type ByteNameTable } from '../../src/core/formats/safetensors/nameTable';
import { readShardIndex } from '../../src/core/formats/safetensors/shards';
import { rawSafetensors } from '../fixtures/buildSafetensors';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const entry = (dtype: string, shape: number[], b: number, e: number): string => `{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${b},${e}]}`;

type Outcome = { ok: true; value: unknown; fast: boolean } | { ok: false; error: string };

async function header(json: string | Uint8Array, dataBytes: number, limits: Limits = DEFAULT_LIMITS): Promise<[Outcome, Outcome]> {
  const bytes = typeof json === 'string' ? rawSafetensors(json, dataBytes) : json;
  const run = async (fast: boolean): Promise<Outcome> => {
    const source = new MemoryByteSource('m.safetensors', bytes);
    const ctx = { limits, token: undefined, siblings: new MemorySiblings('m.safetensors', {}) };
    try {
      const h = await readSafetensorsHeader(source, 'shard.safetensors', ctx, fast);
      if (h.hashes) h.tensors.forEach((t, i) => assert.equal(h.hashes![i], hashName(t.name), 'hash of a name as the index hashes it'));
      return { ok: true, value: { ...h, hashes: undefined }, fast: h.hashes !== undefined };
    } catch (e) {
      return { ok: false, error: `${(e as { code?: string }).code}: ${(e as Error).message}` };
    }
  };
  return [await run(true), await run(false)];
}

async function index(json: string, limits: Limits = DEFAULT_LIMITS): Promise<[Outcome, Outcome]> {
  const run = async (fast: boolean): Promise<Outcome> => {
    try {
      const ix = await readShardIndex(new MemoryByteSource('model.safetensors.index.json', enc(json)), limits, fast);
      return { ok: true, value: { names: Array.from({ length: ix.names.size }, (_, id) => ix.names.nameAt(id)), shardOf: [...ix.shardOf], shards: ix.shards, metadata: ix.metadata, totalSize: ix.totalSize }, fast };
    } catch (e) {
      return { ok: false, error: `${(e as { code?: string }).code}: ${(e as Error).message}` };
    }
  };
  return [await run(true), await run(false)];
}

function same([fast, general]: [Outcome, Outcome], label: string): void {
  if (fast.ok && general.ok) assert.deepEqual(fast.value, general.value, label);
  else assert.deepEqual(fast, general, label);
}

test('plain headers take the one-pass path and read exactly as the general path', async () => {
  const cases: [string, number][] = [
    [`{"__metadata__":{"format":"pt"},"a.weight":${entry('F16', [2, 3], 0, 12)},"b.bias":${entry('BF16', [3], 12, 18)}}`, 18],
    // Whitespace everywhere, fields in another order, metadata last, scalars and empty tensors, every rank up to 4.
    [`  { "x" : { "shape" : [ ] , "data_offsets" : [ 0 , 4 ] , "dtype" : "F32" } ,\n\t"y":${entry('I64', [0, 5], 4, 4)},\r\n "z":${entry('U8', [1, 2, 3, 4], 4, 28)}, "__metadata__" : { } }   `, 28],
    [`{"__metadata__":null,"__proto__":${entry('F32', [2], 0, 8)},"constructor":${entry('F4', [2, 4], 8, 12)},"toString":${entry('F8_E4M3', [1], 12, 13)}}`, 13],
    // Gaps between tensors and trailing bytes: one warning, same numbers.
    [`{"a":${entry('F16', [2], 8, 12)},"b":${entry('F16', [2], 20, 24)}}`, 40],
    [`{"a":${entry('F16', [2], 0, 4)}}`, 4],
    // Names in one order, data in another (sorted as the general path sorts them), with gaps and empty tensors.
    [`{"b":${entry('F16', [2], 4, 8)},"a":${entry('F16', [2], 0, 4)}}`, 8], [`{"a":${entry('F16', [0], 4, 4)},"b":${entry('F16', [2], 0, 4)}}`, 8],
    [`{"c":${entry('F32', [2], 16, 24)},"a":${entry('F16', [0], 16, 16)},"b":${entry('F16', [2], 2, 6)},"d":${entry('U8', [0], 0, 0)}}`, 30],
  ];
  for (const [json, data] of cases) {
    const r = await header(json, data);
    assert.ok(r[0].ok && r[0].fast, `fast path taken: ${json}`);
    same(r, json);
  }
  // 3,000 tensors: the hash tables grow.
  const many = Array.from({ length: 3000 }, (_, i) => `"model.layers.${i >> 3}.mlp.experts.${i & 7}.w1.weight":${entry('F16', [4], i * 8, i * 8 + 8)}`);
  const r = await header(`{"__metadata__":{"format":"pt"},${many.join(',')}}`, 24000);
  assert.ok(r[0].ok && r[0].fast);
  same(r, 'many');
});

test('headers outside the plain form give the general path result or error, byte for byte', async () => {
  const a = entry('F16', [2], 0, 4);
  const cases: [string, number][] = [
    // Left to the general path (same result): escapes, non-ASCII, array-index names, numbers as
    // 4.0 or 1e1, extra fields, non-string or long metadata, metadata not an object.
    [`{"a\\u0062":${a}}`, 4], [`{"é":${a}}`, 4], [`{"0":${a},"b":${entry('F16', [2], 4, 8)}}`, 8], [`{"12":${a}}`, 4],
    [`{"a":{"dtype":"F16","shape":[2.0],"data_offsets":[0,4]}}`, 4], [`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4e0]}}`, 4],
    [`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"extra":1}}`, 4],
    [`{"__metadata__":{"n":3,"s":"x"},"a":${a}}`, 4], [`{"__metadata__":{"s":"${'x'.repeat(DEFAULT_LIMITS.maxDisplayStringBytes + 1)}"},"a":${a}}`, 4],
    [`{"__metadata__":[1],"a":${a}}`, 4], [`{"__metadata__":{"k":"1","k":"2"},"a":${a}}`, 4], [`{"__metadata__":{"7":"x"},"a":${a}}`, 4],
    [`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4],"dtype":"F16"}}`, 4],
    // Errors: duplicates, overlaps, past the end, wrong sizes, bad dtype, negative, leading zeros, trailing garbage.
    [`{"b":${entry('F16', [2], 4, 8)},"a":${entry('F16', [3], 0, 6)}}`, 8], [`{"b":${entry('F16', [2], 4, 8)},"c":${entry('F16', [0], 9, 9)},"a":${entry('F16', [2], 5, 9)}}`, 10],
    [`{"a":${a},"a":${a}}`, 4], [`{"a":${a},"b":${entry('F16', [2], 4, 8)},"a":${entry('F16', [2], 8, 12)}}`, 12], [`{"a":${a},"b":${entry('F16', [2], 2, 6)}}`, 8], [`{"a":${entry('F16', [2], 0, 4)}}`, 2],
    [`{"a":${entry('F16', [3], 0, 4)}}`, 4], [`{"a":${entry('Q4', [2], 0, 4)}}`, 4], [`{"a":{"dtype":"F16","shape":[-2],"data_offsets":[0,4]}}`, 4],
    [`{"a":{"dtype":"F16","shape":[02],"data_offsets":[0,4]}}`, 4], [`{"a":${a}} x`, 4], [`{"a":${a}`, 4], [`{"a":${a},}`, 4], [`{}`, 0],
    [`{"a":{"dtype":"F16","shape":[2],"data_offsets":[4,0]}}`, 4], [`{"a":{"dtype":"F16","shape":[2]}}`, 4], [`{"a":5}`, 4], [`[1]`, 0],
    [`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2], [`{"a":{"dtype":"F16","shape":[1234567890123456],"data_offsets":[0,4]}}`, 4],
    [`{"a":{"dtype":"F16","shape":[${new Array<number>(DEFAULT_LIMITS.maxRank + 1).fill(1).join(',')}],"data_offsets":[0,2]}}`, 2],
    [`{"__metadata__":{"f":"pt"},"__metadata__":{"f":"pt"},"a":${a}}`, 4],
  ];
  for (const [json, data] of cases) {
    const r = await header(json, data);
    assert.ok(!(r[0].ok && r[0].fast), `left to the general path: ${json}`);
    same(r, json);
  }
  // A BOM, invalid UTF-8 and a nesting bomb.
  for (const body of [new Uint8Array([0xef, 0xbb, 0xbf, ...enc(`{"a":${a}}`)]), new Uint8Array([...enc('{"a'), 0xff, ...enc(`":${a}}`)]), enc(`{"a":${'['.repeat(100)}${']'.repeat(100)}}`)]) {
    const padded = new Uint8Array(Math.ceil(body.length / 8) * 8).fill(0x20);
    padded.set(body);
    const file = new Uint8Array(8 + padded.length + 4);
    new DataView(file.buffer).setBigUint64(0, BigInt(padded.length), true);
    file.set(padded, 8);
    same(await header(file, 4), String(body.slice(0, 10)));
  }
  // Limits the fast path leaves to the general path: names, tensor count, nesting depth, elements, metadata budget.
  const big = `{"${'n'.repeat(40)}":${a}}`;
  same(await header(big, 4, { ...DEFAULT_LIMITS, maxNameBytes: 10 }), 'maxNameBytes');
  same(await header(`{"a":${a},"b":${entry('F16', [2], 4, 8)}}`, 8, { ...DEFAULT_LIMITS, maxTensorCount: 1 }), 'maxTensorCount');
  same(await header(big, 4, { ...DEFAULT_LIMITS, maxNestingDepth: 2 }), 'maxNestingDepth');
  same(await header(`{"a":${entry('F16', [4, 4], 0, 32)}}`, 32, { ...DEFAULT_LIMITS, maxElementCount: 10 }), 'maxElementCount');
  same(await header(big, 4, { ...DEFAULT_LIMITS, maxMetadataMemoryBytes: 10 }), 'budget');
});

test('shard indexes: the one-pass path reads plain indexes as the general path, and leaves the rest to it', async () => {
  const wm = (pairs: [string, string][]): string => `{${pairs.map(([k, v]) => `"${k}":"${v}"`).join(',')}}`;
  const plain = [
    `{"metadata":{"total_size":1234},"weight_map":${wm([['a', 'm-00002-of-00002.safetensors'], ['b', 'm-00001-of-00002.safetensors'], ['c', 'm-00002-of-00002.safetensors']])}}`,
    `{ "weight_map" : { } , "metadata" : { "total_size" : 0 , "format" : "pt", "ok": true, "no": false, "none": null, "long": "${'y'.repeat(5000)}" } }`,
    `{"weight_map":${wm([['__proto__', './x.safetensors'], ['constructor', 'x.safetensors'], ['toString', 'sub/y.safetensors']])}}`,
  ];
  for (const json of plain) {
    assert.ok(parseIndexFast(enc(json), DEFAULT_LIMITS), `fast path taken: ${json.slice(0, 60)}`);
    same(await index(json), json);
  }
  const general = [
    `{"weight_map":${wm([['a', 'x.safetensors'], ['a', 'y.safetensors'], ['b', 'x.safetensors']])}}`, // duplicate: last value wins
    `{"weight_map":${wm([['1', 'x.safetensors'], ['a', 'y.safetensors']])}}`, `{"weight_map":{"a\\u0062":"x.safetensors"}}`,
    `{"metadata":{"total_size":1.5e3,"k":[1]},"weight_map":${wm([['a', 'x.safetensors']])}}`, `{"metadata":{"total_size":-1},"weight_map":{}}`,
    `{"weight_map":{"a":5}}`, `{"metadata":{}}`, `{"weight_map":[]}`, `{"weight_map":{},"other":{"x":1}}`, `{"weight_map":{},"weight_map":{}}`,
    `{"weight_map":{}} x`, `{"weight_map":{}`, `{"metadata":{"a":"1","b":2,"a":"3"},"weight_map":{}}`,
  ];
  for (const json of general) {
    assert.equal(parseIndexFast(enc(json), DEFAULT_LIMITS), undefined, `left to the general path: ${json}`);
    same(await index(json), json);
  }
  // Shard paths are checked after either parse, by the same code: the same error.
  for (const json of [`{"weight_map":${wm([['a', '../escape.safetensors']])}}`, `{"weight_map":${wm([['a', 'x.safetensors'], ['b', '/abs.safetensors']])}}`]) {
    const r = await index(json);
    assert.ok(!r[0].ok && /outside|absolute|escape/i.test(r[0].error), r[0].ok ? 'accepted' : r[0].error);
    same(r, json);
  }
  const many = wm(Array.from({ length: 40 }, (_, i): [string, string] => [`t${i}.weight`, `s${i % 7}.safetensors`]));
  same(await index(`{"weight_map":${many}}`, { ...DEFAULT_LIMITS, maxFileCount: 3 }), 'maxFileCount');
  same(await index(`{"weight_map":${many}}`, { ...DEFAULT_LIMITS, maxTensorCount: 39 }), 'maxTensorCount');
  same(await index(`{"weight_map":${many}}`), 'many');
});

test('sharded reads: names looked up in the index while each shard is scanned give the same model or error as the general index path', async () => {
  const hdr = (names: string[], extra = ''): Uint8Array => rawSafetensors(`{"__metadata__":{"format":"pt"},${extra}${names.map((n, i) => `"${n}":${entry('F16', [2], 4 * i, 4 * i + 4)}`).join(',')}}`, 4 * names.length);
  const shardA = ['model.layers.0.q.weight', 'model.layers.0.k.weight', 'p.weight', 'p.weight2', 'model.layers.1.q.weight'];
  const shardB = ['model.layers.1.k.weight', 'model.layers.10.q.weight', 'model.layers.2.q.weight', 'z'];
  const A = 'model-00001-of-00002.safetensors';
  const B = 'model-00002-of-00002.safetensors';
  const inOrder: [string, string][] = [...shardA.map((n): [string, string] => [n, A]), ...shardB.map((n): [string, string] => [n, B])];
  // Read once through an index the fast path takes (names kept as bytes, looked up during each shard's scan) and once
  // through the same index with one escape in a metadata value (the general path: a name table of strings).
  const read = async (pairs: [string, string][], shards: Record<string, Uint8Array>): Promise<[Outcome, Outcome]> => {
    const wm = pairs.map(([k, v]) => `"${k}":"${v}"`).join(',');
    const run = async (fast: boolean): Promise<Outcome> => {
      const json = `{"metadata":{"total_size":36,"note":"${fast ? 'ab' : 'a\\u0062'}"},"weight_map":{${wm}}}`;
      const files = { ...shards, 'model.safetensors.index.json': enc(json) };
      assert.equal(parseIndexFast(enc(json), DEFAULT_LIMITS) !== undefined, fast);
      try {
        const m = await openModel(new MemoryByteSource('model.safetensors.index.json', files['model.safetensors.index.json']), { siblings: new MemorySiblings('model.safetensors.index.json', files) });
        // The two indexes differ by 5 bytes; everything else must be equal.
        return { ok: true, value: { ...m, files: m.files.slice(1), totalFileBytes: undefined }, fast };
      } catch (e) {
        return { ok: false, error: `${(e as { code?: string }).code}: ${(e as Error).message}` };
      }
    };
    return [await run(true), await run(false)];
  };
  const plain = { [A]: hdr(shardA), [B]: hdr(shardB) };
  const cases: [string, [string, string][], Record<string, Uint8Array>][] = [
    ['index in shard order', inOrder, plain],
    ['index sorted by name', [...inOrder].sort((x, y) => (x[0] < y[0] ? -1 : 1)), plain],
    ['index reversed', [...inOrder].reverse(), plain],
    ['missing, unlisted and misplaced names', [...inOrder.filter(([n]) => n !== 'p.weight2' && n !== 'z' && n !== 'model.layers.10.q.weight'), ['ghost.weight', B], ['model.layers.10.q.weight', A]], plain],
    ['an index name that extends a shard name, and one named __metadata__', [['p.weight22', A], ['__metadata__', A], ...inOrder], plain],
    ['a shard name repeated in another shard', inOrder, { [A]: hdr(shardA), [B]: hdr([...shardB.slice(0, 3), 'p.weight']) }],
    ['a shard name repeated in its shard', inOrder, { [A]: hdr([...shardA.slice(0, 4), 'p.weight']), [B]: hdr(shardB) }],
    ['a shard header outside the plain form', inOrder, { [A]: hdr(shardA, `"esc\\u0061ped":${entry('F16', [0], 0, 0)},`), [B]: hdr(shardB) }],
    // Not JSON: the key is `p.weight_:{`. The index's next name `p.weight` is a prefix of it, which is no match (the
    // name must end where the index's does).
    ['a key that the index’s next name only starts', [['p.weight', A], ...inOrder.filter(([n]) => n !== 'p.weight')], { [A]: rawSafetensors(`{"p.weight_:{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4), [B]: hdr(shardB) }],
  ];
  for (const [label, pairs, shards] of cases) same(await read(pairs, shards), label);
});

test('parseHeaderFast with the index: each name’s id, compared in place when the index lists it next', () => {
  const ix = parseIndexFast(enc('{"weight_map":{"a.weight":"s.safetensors","b.weight":"s.safetensors","bb":"s.safetensors","c.weight":"s.safetensors"}}'), DEFAULT_LIMITS)!;
  const names = ix.names as ByteNameTable;
  const json = `{"a.weight":${entry('F16', [1], 0, 2)},"b":${entry('F16', [1], 2, 4)},"c.weight":${entry('F16', [1], 4, 6)},"b.weight":${entry('F16', [1], 6, 8)},"bb":${entry('F16', [1], 8, 10)},"x":${entry('F16', [1], 10, 12)}}`;
  const bytes = enc(json);
  const h = parseHeaderFast(bytes, 's.safetensors', 8 + bytes.length, 12, DEFAULT_LIMITS, new Map([['F16', { dtype: 'float16', bits: 16 }]]), false, names)!;
  assert.deepEqual([...h.ids!], [0, -1, 3, 1, 2, -1]);
  assert.deepEqual(h.tensors.map((t) => t.name), ['a.weight', 'b', 'c.weight', 'b.weight', 'bb', 'x']);
  // Hashes are computed for the names found by hash (not listed next), as the index hashes them.
  for (const k of [1, 2, 3, 5]) assert.equal(h.hashes[k], hashName(h.tensors[k]!.name));
});
