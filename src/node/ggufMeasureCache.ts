/**
 * Result cache of GGUF measured sensitivity (`sensitivity model.gguf --measure`, `plan --measure`): each layer
 * group × format KL measured in llama.cpp is kept so a second run (the editor reopening, a plan after a sensitivity
 * run) does not evaluate it again. Same per-user private folder and rules as ONNX's measured sensitivity
 * (userCache.ts: 0700 folder of this user, entries opened with O_NOFOLLOW — never followed through symlinks —,
 * owned by this user, bounded, written 0600 atomically).
 *
 * Key (all must match, checked inside the entry, not only by its name): SHA-256 of the model file, SHA-256 of the
 * calibration text, evaluation context, token cap, how candidates are stored (ggml / simulated), the runtime
 * (node-llama-cpp version) and this file's version. Entries are verified field by field before use (finite numbers,
 * bounded strings and counts); anything else is ignored and measured again.
 */
import { isJsonObject, sha256Hex, type NextTokenComparison } from '../core';
import { defaultCacheDir, preparePrivateDir, readCacheEntry, writeCacheEntry } from './userCache';
import type { LlamaCompareResult } from './llamaEval';

/** Version of the entry format (and of what a measurement means: change it when the method changes). */
export const GGUF_MEASURE_CACHE_VERSION = 1;
/** Most entries kept in one cache file. Threat: a planted or runaway file; the measurement budget is far below. */
export const MAX_GGUF_CACHE_ENTRIES = 20_000;
/** Longest layer-group key or description kept. */
const MAX_CACHE_STRING = 16_384;

/** What a cached measurement depends on. */
export interface GgufMeasureCacheKey {
  readonly modelSha256: string;
  readonly textSha256: string;
  readonly contextSize: number;
  readonly maxTokens: number;
  readonly storage: string;
  readonly runtime: string;
}

interface CachedPair {
  readonly group: string;
  readonly format: string;
  readonly result: LlamaCompareResult;
}

interface CacheFile {
  readonly version: number;
  readonly key: GgufMeasureCacheKey;
  /** The session description (text, tokens, positions, original perplexity) the pairs were measured with. */
  readonly description: string;
  readonly entries: readonly CachedPair[];
}

const NUMBER_FIELDS = ['positions', 'perplexity', 'referencePerplexity', 'klDivergence', 'klStdErr', 'klMax', 'klP99', 'top1Agreement', 'nonFinitePositions', 'loadMs', 'evalMs'] as const satisfies readonly (keyof LlamaCompareResult)[];

const boundedString = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_CACHE_STRING;

function validResult(v: unknown): v is LlamaCompareResult {
  if (!isJsonObject(v)) return false;
  for (const k of NUMBER_FIELDS) if (typeof v[k] !== 'number' || !Number.isFinite(v[k])) return false;
  if (v['klBound'] !== 'exact' && v['klBound'] !== 'lower-bound') return false;
  if (v['topK'] !== undefined && (typeof v['topK'] !== 'number' || !Number.isInteger(v['topK']))) return false;
  return true;
}

function sameKey(a: unknown, b: GgufMeasureCacheKey): boolean {
  if (!isJsonObject(a)) return false;
  return a['modelSha256'] === b.modelSha256 && a['textSha256'] === b.textSha256 && a['contextSize'] === b.contextSize && a['maxTokens'] === b.maxTokens && a['storage'] === b.storage && a['runtime'] === b.runtime;
}

/** Parses a cache file's text; undefined unless it is well formed and has exactly `key`. */
export function parseGgufMeasureCache(text: string, key: GgufMeasureCacheKey): { description: string; pairs: Map<string, LlamaCompareResult> } | undefined {
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isJsonObject(c) || c['version'] !== GGUF_MEASURE_CACHE_VERSION || !sameKey(c['key'], key) || !boundedString(c['description'])) return undefined;
  const entries = c['entries'];
  if (!Array.isArray(entries) || entries.length > MAX_GGUF_CACHE_ENTRIES) return undefined;
  const pairs = new Map<string, LlamaCompareResult>();
  for (const e of entries as unknown[]) {
    if (!isJsonObject(e) || !boundedString(e['group']) || !boundedString(e['format']) || !validResult(e['result'])) return undefined;
    const r = e['result'];
    const clean: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const k of NUMBER_FIELDS) clean[k] = r[k];
    clean['klBound'] = r.klBound;
    if (r.topK !== undefined) clean['topK'] = r.topK;
    pairs.set(pairKey(e['group'], e['format']), { ...(clean as unknown as NextTokenComparison), loadMs: r.loadMs, evalMs: r.evalMs });
  }
  return { description: c['description'], pairs };
}

const pairKey = (group: string, format: string): string => `${group}\u0000${format}`;

/** A cache of one model × text × settings, loaded from (and saved to) the per-user private folder. */
export class GgufMeasureCache {
  private readonly pairs: Map<string, LlamaCompareResult>;
  private dirty = false;

  private constructor(
    private readonly dir: string | undefined,
    private readonly key: GgufMeasureCacheKey,
    loaded: { description: string; pairs: Map<string, LlamaCompareResult> } | undefined,
    /** Why the cache is not used, when it is not (a note for the report). */
    readonly unusable: string | undefined,
  ) {
    this.pairs = loaded?.pairs ?? new Map();
    this.description = loaded?.description;
  }

  /** The description stored with the entries (the session they were measured in). */
  description: string | undefined;

  /** File name of the entry for `key` (a hash of the whole key; the key is checked again inside). */
  static fileName(key: GgufMeasureCacheKey): string {
    return `gguf-measure-v${GGUF_MEASURE_CACHE_VERSION}-${sha256Hex(JSON.stringify(key)).slice(0, 40)}.json`;
  }

  /** Opens the cache in `dir` (default: the per-user folder; `false`: no cache, everything is measured). */
  static async open(dir: string | false | undefined, key: GgufMeasureCacheKey): Promise<GgufMeasureCache> {
    let folder = dir === false ? undefined : (dir ?? defaultCacheDir());
    let unusable: string | undefined;
    if (folder) {
      unusable = await preparePrivateDir(folder);
      if (unusable) folder = undefined;
    }
    const text = folder ? await readCacheEntry(folder, GgufMeasureCache.fileName(key)) : undefined;
    return new GgufMeasureCache(folder, key, text !== undefined ? parseGgufMeasureCache(text, key) : undefined, unusable);
  }

  /** Number of pairs held. */
  get size(): number {
    return this.pairs.size;
  }

  get(group: string, format: string): LlamaCompareResult | undefined {
    return this.pairs.get(pairKey(group, format));
  }

  set(group: string, format: string, result: LlamaCompareResult, description: string): void {
    if (this.pairs.size >= MAX_GGUF_CACHE_ENTRIES || group.length > MAX_CACHE_STRING || description.length > MAX_CACHE_STRING) return;
    // The key fixes model, text and settings; the first run's description (original perplexity to 3 decimals,
    // which can move in the last digit between processes) is kept.
    this.description ??= description;
    this.pairs.set(pairKey(group, format), result);
    this.dirty = true;
  }

  /** Writes the entry when something was added (no-op without a usable folder). */
  async save(): Promise<void> {
    if (!this.dir || !this.dirty || this.description === undefined) return;
    const entries: CachedPair[] = [...this.pairs].map(([k, result]) => {
      const i = k.indexOf('\u0000');
      return { group: k.slice(0, i), format: k.slice(i + 1), result };
    });
    const file: CacheFile = { version: GGUF_MEASURE_CACHE_VERSION, key: this.key, description: this.description, entries };
    await writeCacheEntry(this.dir, GgufMeasureCache.fileName(this.key), JSON.stringify(file));
    this.dirty = false;
  }
}
