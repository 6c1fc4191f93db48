/**
 * Sharded safetensors: `<prefix>.safetensors.index.json` = `{ "metadata": {...}, "weight_map": { tensor: shard } }`
 * (transformers `SAFE_WEIGHTS_INDEX_NAME`, shards named `<prefix>-00001-of-00008.safetensors`).
 * Shard paths are untrusted: each is checked lexically here and resolved only through the SiblingResolver.
 */
import { ModelFormatError, formatError } from '../../errors';
import { checkRelativePath, truncateForMessage, type ByteSource } from '../../io/byteSource';
import type { Limits } from '../../io/limits';
import type { MetadataValue } from '../../model/types';
import { isJsonObject, parseJsonObject, setOwn } from './json';

/** A parsed shard index. */
export interface ShardIndex {
  /** Tensor name → normalized shard path. */
  readonly weightMap: ReadonlyMap<string, string>;
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
export async function readShardIndex(source: ByteSource, limits: Limits): Promise<ShardIndex> {
  const name = source.name;
  if (source.size > limits.maxHeaderBytes) {
    throw new ModelFormatError('limit-exceeded', formatError(name, `the index is ${source.size} bytes, above the limit of ${limits.maxHeaderBytes}`));
  }
  const bytes = await source.read(0, source.size);
  const { value } = parseJsonObject(name, bytes, limits.maxNestingDepth, 'the shard index');
  const wm = value['weight_map'];
  if (!isJsonObject(wm)) throw new ModelFormatError('bad-value', formatError(name, 'the shard index has no weight_map object'));
  const names = Object.keys(wm);
  if (names.length > limits.maxTensorCount) {
    throw new ModelFormatError('limit-exceeded', formatError(name, `weight_map lists ${names.length} tensors, more than the limit of ${limits.maxTensorCount}`));
  }
  const weightMap = new Map<string, string>();
  const normalized = new Map<string, string>();
  for (const tensor of names) {
    const raw = wm[tensor];
    if (typeof raw !== 'string') throw new ModelFormatError('bad-value', formatError(name, `weight_map entry '${truncateForMessage(tensor)}' is not a file name`));
    let shard = normalized.get(raw);
    if (shard === undefined) {
      shard = checkRelativePath(name, raw);
      normalized.set(raw, shard);
      if (normalized.size > limits.maxFileCount) {
        throw new ModelFormatError('limit-exceeded', formatError(name, `weight_map names more than ${limits.maxFileCount} shard files`));
      }
    }
    weightMap.set(tensor, shard);
  }
  const shards = [...new Set(normalized.values())].sort();
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
  return { weightMap, shards, metadata, totalSize };
}
