/**
 * The GGUF measurement cache trusts an entry only when it is well formed and names exactly this model, text and
 * settings (the file name is a hash of the key; the key is checked again inside). Hermetic: strings only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GGUF_MEASURE_CACHE_VERSION, MAX_GGUF_CACHE_ENTRIES, GgufMeasureCache, parseGgufMeasureCache, type GgufMeasureCacheKey } from '../../src/node/ggufMeasureCache';

const KEY: GgufMeasureCacheKey = { modelSha256: 'a'.repeat(64), textSha256: 'b'.repeat(64), contextSize: 128, maxTokens: 16384, storage: 'ggml', runtime: 'llama.cpp (a test runtime)' };
const RESULT = { positions: 700, perplexity: 6.1, referencePerplexity: 6.0, klDivergence: 0.012, klStdErr: 0.001, klMax: 0.4, klP99: 0.1, top1Agreement: 0.95, klBound: 'exact', nonFinitePositions: 0, loadMs: 10, evalMs: 100 };
const file = (over: Record<string, unknown> = {}, entries: unknown[] = [{ group: '__proto__', format: 'q4_k', result: RESULT }]): string =>
  JSON.stringify({ version: GGUF_MEASURE_CACHE_VERSION, key: KEY, description: 'tinyTales.txt (bundled; …)', entries, ...over });

test('a well-formed entry for this key is read back, model-provided names as Map keys', () => {
  const r = parseGgufMeasureCache(file(), KEY);
  assert.ok(r);
  assert.equal(r.pairs.size, 1);
  assert.equal([...r.pairs.values()][0]!.klDivergence, 0.012);
  assert.equal(({} as Record<string, unknown>)['q4_k'], undefined, 'no prototype pollution');
});

test('any other key, version, shape or value is not trusted', () => {
  for (const k of Object.keys(KEY) as (keyof GgufMeasureCacheKey)[]) {
    const other = { ...KEY, [k]: typeof KEY[k] === 'number' ? (KEY[k] as number) + 1 : `${KEY[k]}x` };
    assert.equal(parseGgufMeasureCache(file(), other), undefined, `key field ${k}`);
  }
  assert.equal(parseGgufMeasureCache(file({ version: GGUF_MEASURE_CACHE_VERSION + 1 }), KEY), undefined);
  assert.equal(parseGgufMeasureCache('{"version":', KEY), undefined);
  assert.equal(parseGgufMeasureCache(file({ description: 'x'.repeat(20_000) }), KEY), undefined);
  for (const bad of [{ ...RESULT, klDivergence: 'NaN' }, { ...RESULT, klDivergence: null }, { ...RESULT, klBound: 'guess' }, { ...RESULT, perplexity: undefined }, { ...RESULT, topK: 1.5 }]) {
    assert.equal(parseGgufMeasureCache(file({}, [{ group: 'blk.0.attn_q.weight', format: 'q4_k', result: bad }]), KEY), undefined, JSON.stringify(bad));
  }
  assert.equal(parseGgufMeasureCache(file({}, [{ group: 7, format: 'q4_k', result: RESULT }]), KEY), undefined);
  const many = Array.from({ length: MAX_GGUF_CACHE_ENTRIES + 1 }, (_, i) => ({ group: `l${i}`, format: 'q8_0', result: RESULT }));
  assert.equal(parseGgufMeasureCache(file({}, many), KEY), undefined, 'too many entries');
});

test('the file name is a hash of the whole key', () => {
  assert.notEqual(GgufMeasureCache.fileName(KEY), GgufMeasureCache.fileName({ ...KEY, contextSize: 64 }));
  assert.match(GgufMeasureCache.fileName(KEY), /^gguf-measure-v\d+-[0-9a-f]{40}\.json$/);
});
