/**
 * Sharded safetensors: `<prefix>.safetensors.index.json` = `{ "metadata": {...}, "weight_map": { tensor: shard } }`
 * (transformers `SAFE_WEIGHTS_INDEX_NAME`, shards named `<prefix>-00001-of-00008.safetensors`).
 * Shard paths are untrusted: each is checked lexically here and resolved only through the SiblingResolver.
 */
import { ModelFormatError, formatError } from '../../errors';
import { checkRelativePath, truncateForMessage, type ByteSource } from '../../io/byteSource';
import type { Limits } from '../../io/limits';
import type { MetadataValue } from '../../model/types';
import { parseIndexFast } from './fastParse';
import { isJsonObject, parseJsonObject, setOwn } from './json';
import { NameTable, hashName, type NameSet } from './nameTable';

/** A parsed shard index. */
export interface ShardIndex {
  /** weight_map's tensor names in its order, hashed (id = position). */
  readonly names: NameSet;
  /** Per name id, the position of its (normalized) shard in `shards`. */
  readonly shardOf: Int32Array;
  /** Distinct shard paths, sorted. */
  readonly shards: readonly string[];
  /** Scalar entries of the index's `metadata` (e.g. `total_size`). */
  readonly metadata: Record<string, MetadataValue>;
  /** `metadata.total_size` when it is a safe integer. */
  readonly totalSize: number | undefined;
}

/** `model-00001-of-00008.safetensors` → prefix `model`. */
const SHARD_NAME = /^(.+)-\d{1,6}-of-\d{1,6}\.safetensors$/i;

/** The index file name to look for beside a shard, or undefined when `fileName` is not shard-named. */
export function indexNameForShard(fileName: string): string | undefined {
  const m = SHARD_NAME.exec(baseName(fileName));
  return m ? `${m[1]}.safetensors.index.json` : undefined;
}

/** Last path segment of a display name (which may be workspace-relative). */
export function baseName(fileName: string): string {
  const parts = fileName.split(/[\\/]/);
  return parts[parts.length - 1] ?? fileName;
}

/** Reads and validates an index file: bounded size, depth, entry and shard counts; every shard path checked. */
export async function readShardIndex(source: ByteSource, limits: Limits, fast = true): Promise<ShardIndex> {
  const name = source.name;
  if (source.size > limits.maxHeaderBytes) {
    throw new ModelFormatError('limit-exceeded', formatError(name, `the index is ${source.size} bytes, above the limit of ${limits.maxHeaderBytes}`));
  }
  const bytes = await source.read(0, source.size);
  // The plain common form in one pass (fastParse.ts); anything else, including every error, takes the general path.
  // (`fast` false: the general path only, for tests comparing the two.)
  const one = fast ? parseIndexFast(bytes, limits) : undefined;
  if (one !== undefined) {
    const metadata: Record<string, MetadataValue> = {};
    let totalSize: number | undefined;
    for (const [k, v] of one.metadata ?? []) {
      setOwn(metadata, k, v);
      if (k === 'total_size' && typeof v === 'number') totalSize = v;
    }
    return withShards(name, one.names, one.rawShardOf, one.rawShards, metadata, totalSize, limits);
  }
  const { value } = parseJsonObject(name, bytes, limits.maxNestingDepth, 'the shard index');
  const wm = value['weight_map'];
  if (!isJsonObject(wm)) throw new ModelFormatError('bad-value', formatError(name, 'the shard index has no weight_map object'));
  const keys = Object.keys(wm);
  if (keys.length > limits.maxTensorCount) {
    throw new ModelFormatError('limit-exceeded', formatError(name, `weight_map lists ${keys.length} tensors, more than the limit of ${limits.maxTensorCount}`));
  }
  const names = new NameTable(keys.length);
  const rawShardOf = new Int32Array(keys.length);
  const rawShards: string[] = [];
  const rawIds = new Map<string, number>();
  for (const tensor of keys) {
    const raw = wm[tensor];
    if (typeof raw !== 'string') throw new ModelFormatError('bad-value', formatError(name, `weight_map entry '${truncateForMessage(tensor)}' is not a file name`));
    let id = rawIds.get(raw);
    if (id === undefined) {
      id = rawShards.length;
      rawShards.push(raw);
      rawIds.set(raw, id);
      // Checked as each shard string first appears, so the first bad one is the one named.
      checkShard(name, raw, rawShards.length, limits);
    }
    rawShardOf[names.add(tensor, hashName(tensor))] = id;
  }
  const metadata: Record<string, MetadataValue> = {};
  let totalSize: number | undefined;
  const md = value['metadata'];
  if (isJsonObject(md)) {
    for (const [k, v] of Object.entries(md)) {
      if (typeof v === 'string') setOwn(metadata, k, v.length > limits.maxDisplayStringBytes ? `${v.slice(0, limits.maxDisplayStringBytes)}…` : v);
      else if (typeof v === 'number' || typeof v === 'boolean' || v === null) setOwn(metadata, k, v);
    }
    const ts = md['total_size'];
    if (typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0) totalSize = ts;
  }
  return withShards(name, names, rawShardOf, rawShards, metadata, totalSize, limits);
}

/** Checks one shard string as written (the lexical path check and the shard-count bound). */
function checkShard(name: string, raw: string, count: number, limits: Limits): string {
  const shard = checkRelativePath(name, raw);
  if (count > limits.maxFileCount) {
    throw new ModelFormatError('limit-exceeded', formatError(name, `weight_map names more than ${limits.maxFileCount} shard files`));
  }
  return shard;
}

/** Normalizes and checks the shard strings in order of first use, sorts the distinct paths, maps each name to one. */
function withShards(name: string, names: NameSet, rawShardOf: Int32Array, rawShards: readonly string[], metadata: Record<string, MetadataValue>, totalSize: number | undefined, limits: Limits): ShardIndex {
  const normalized = rawShards.map((raw, i) => checkShard(name, raw, i + 1, limits));
  const shards = [...new Set(normalized)].sort();
  const position = new Map(shards.map((s, i) => [s, i]));
  const rawPosition = Int32Array.from(normalized, (s) => position.get(s)!);
  const shardOf = new Int32Array(rawShardOf.length);
  mapInto(shardOf, rawShardOf, rawPosition);
  return { names, shardOf, shards, metadata, totalSize };
}

/**
 * `out[id] = rawPosition[rawShardOf[id]]`. Only the loop (nothing before or after it that compiled code would need to
 * have seen run): called once per index, it is compiled in the middle of its first call.
 */
function mapInto(out: Int32Array, rawShardOf: Int32Array, rawPosition: Int32Array): void {
  for (let id = 0; id < out.length; id++) out[id] = rawPosition[rawShardOf[id]!]!;
}
