/**
 * safetensors reader: single files, and sharded models through `*.safetensors.index.json`. Opening the index or
 * any shard (`model-00001-of-00008.safetensors`, when the index sits beside it) shows the whole model. Only JSON
 * headers are read; every tensor becomes a byte range in its shard. `config.json` beside the weights supplies
 * hyperparameters when present.
 */
import { ModelFormatError, formatError, throwIfCancelled } from '../../errors';
import { truncateForMessage, type ByteSource } from '../../io/byteSource';
import { blockCountFromLayers, expertCountFromLayers, layersFromTensors } from '../../model/roles';
import type { Hyperparameters, MetadataValue, Model, ModelFile, TensorInfo } from '../../model/types';
import type { ReadContext } from '../context';
import { readSafetensorsHeader, type SafetensorsHeader } from './header';
import { readHfConfig } from './hfConfig';
import { setOwn } from './json';
import { ByteNameTable, hashName, type NameSet } from './nameTable';
import { baseName, indexNameForShard, readShardIndex, type ShardIndex } from './shards';

/** Shards read concurrently (each read is one header). */
const SHARD_CONCURRENCY = 8;
/** Examples quoted in one consistency warning. */
const MAX_EXAMPLES = 3;

/**
 * Reads a `.safetensors` file. When it is shard-named and `<prefix>.safetensors.index.json` exists beside it (and
 * lists it), the whole sharded model is read instead; an unusable index becomes a warning and only this file is shown.
 */
export async function readSafetensors(source: ByteSource, ctx: ReadContext): Promise<Model> {
  const warnings: string[] = [];
  const indexName = indexNameForShard(source.name);
  if (indexName !== undefined && (await ctx.siblings.exists(indexName))) {
    const self = baseName(source.name);
    try {
      const indexSource = await ctx.siblings.open(indexName);
      const index = await readShardIndex(indexSource, ctx.limits);
      if (index.shards.includes(self)) return await readSharded(source.name, indexSource, index, ctx, new Map([[self, source]]));
      warnings.push(formatError(indexName, `does not list ${truncateForMessage(self)}, so only this shard is shown`));
    } catch (e) {
      if (!(e instanceof ModelFormatError) || e.code === 'cancelled') throw e;
      warnings.push(`${e.message.replace(/\.$/, '')}; only this shard is shown.`);
    }
  }
  const header = await readSafetensorsHeader(source, '', ctx);
  warnings.push(...header.warnings);
  const metadata: Record<string, MetadataValue> = { ...header.metadata };
  return assemble(source.name, [{ path: baseName(source.name), byteLength: source.size }], header.tensors, metadata, warnings, ctx);
}

/** Reads a sharded model from its `*.safetensors.index.json`. */
export async function readSafetensorsIndex(source: ByteSource, ctx: ReadContext): Promise<Model> {
  const index = await readShardIndex(source, ctx.limits);
  return readSharded(source.name, source, index, ctx, new Map());
}

async function readSharded(fileName: string, indexSource: ByteSource, index: ShardIndex, ctx: ReadContext, opened: ReadonlyMap<string, ByteSource>): Promise<Model> {
  const indexName = indexSource.name;
  const { names, shardOf } = index;
  // Each shard's names are looked up in the index's name table as the shard is read (by the hash its header parse
  // computed), and that lookup is also the header's own check for a repeated name: `seenIn` holds the last shard
  // (position + 1) that listed each indexed name, `unlistedIn` the same for names the index does not list. A shard
  // whose name repeats is read again by the general path, which gives its error, as it does for a single file.
  const seenIn = new Int32Array(names.size);
  const unlistedIn = new Map<string, number>();
  const idsOf = (header: SafetensorsHeader, position: number): Int32Array | undefined => {
    const { tensors: list, hashes } = header;
    if (hashes === undefined) return undefined;
    // Looked up as the header was scanned when the index's names are still bytes (parseHeaderFast), else here.
    const ids = header.ids ?? new Int32Array(list.length);
    for (let k = 0; k < list.length; k++) {
      const id = header.ids !== undefined ? ids[k]! : (ids[k] = names.find(list[k]!.name, hashes[k]!));
      if (id >= 0) {
        if (seenIn[id] === position + 1) return undefined;
        seenIn[id] = position + 1;
      } else {
        const name = list[k]!.name;
        if (unlistedIn.get(name) === position) return undefined;
        unlistedIn.set(name, position);
      }
    }
    return ids;
  };
  const byteNames = names instanceof ByteNameTable ? names : undefined;
  const headers: { shard: string; size: number; header: SafetensorsHeader; ids: Int32Array | undefined }[] = [];
  for (let i = 0; i < index.shards.length; i += SHARD_CONCURRENCY) {
    throwIfCancelled(ctx.token);
    const batch = index.shards.slice(i, i + SHARD_CONCURRENCY);
    headers.push(
      ...(await Promise.all(
        batch.map(async (shard, j) => {
          const src = opened.get(shard) ?? (await ctx.siblings.open(shard));
          let header = await readSafetensorsHeader(src, shard, ctx, true, false, byteNames);
          const ids = idsOf(header, i + j);
          if (ids === undefined && header.duplicatesUnchecked === true) header = await readSafetensorsHeader(src, shard, ctx);
          return { shard, size: src.size, header, ids };
        }),
      )),
    );
  }

  const warnings: string[] = [];
  const placed = new Placement(indexName, names, shardOf, index.shards);
  for (const { shard, header, ids } of headers) {
    warnings.push(...header.warnings);
    if (placed.tensors.length + header.tensors.length > ctx.limits.maxTensorCount) {
      throw new ModelFormatError('limit-exceeded', formatError(indexName, `the shards hold more than ${ctx.limits.maxTensorCount} tensors`));
    }
    placed.add(shard, index.shards.indexOf(shard), header, ids);
  }
  const { tensors, holder, notInMap, notInMapCount, wrongShard, wrongShardCount } = placed;
  const missing: string[] = [];
  const missingCount = zeros(holder);
  for (let id = 0; missing.length < Math.min(missingCount, MAX_EXAMPLES); id++) if (holder[id] === 0) missing.push(names.nameAt(id));
  const quote = (names: readonly string[], count: number): string => `${names.map((n) => `'${truncateForMessage(n, 80)}'`).join(', ')}${count > names.length ? ` and ${count - names.length} more` : ''}`;
  if (missingCount > 0) warnings.push(formatError(indexName, `weight_map lists ${missingCount} tensors that no shard holds (${quote(missing, missingCount)})`));
  if (notInMapCount > 0) warnings.push(formatError(indexName, `${notInMapCount} tensors in the shards are missing from weight_map (${quote(notInMap, notInMapCount)})`));
  if (wrongShardCount > 0) warnings.push(formatError(indexName, `weight_map places ${wrongShardCount} tensors in the wrong shard (${quote(wrongShard, wrongShardCount)})`));
  const weightBytes = byteSum(tensors);
  if (index.totalSize !== undefined && index.totalSize !== weightBytes) {
    warnings.push(formatError(indexName, `metadata.total_size is ${index.totalSize} but the shards hold ${weightBytes} tensor bytes`));
  }

  const metadata: Record<string, MetadataValue> = {};
  for (const [k, v] of Object.entries(headers[0]?.header.metadata ?? {})) setOwn(metadata, k, v);
  for (const [k, v] of Object.entries(index.metadata)) setOwn(metadata, k, v);
  const files: ModelFile[] = [{ path: baseName(indexName), byteLength: indexSource.size }, ...headers.map((h) => ({ path: h.shard, byteLength: h.size }))];
  return assemble(fileName, files, tensors, metadata, warnings, ctx);
}

/**
 * The shards' tensors in order, each checked against the index as its shard is added: `holder` marks which shard
 * (position + 1) holds each listed name; names the index does not list are tracked in `unlisted`. One call per shard
 * (each tensor's id in the index's name table was looked up as the header was read, or is looked up here for a header
 * the general path read), so the per-tensor loop is compiled once, early, not in the middle of one long call.
 */
class Placement {
  readonly tensors: TensorInfo[] = [];
  readonly holder: Int32Array;
  private readonly unlisted = new Map<string, string>();
  readonly notInMap: string[] = [];
  readonly wrongShard: string[] = [];
  notInMapCount = 0;
  wrongShardCount = 0;

  constructor(
    private readonly indexName: string,
    private readonly names: NameSet,
    private readonly shardOf: Int32Array,
    private readonly shards: readonly string[],
  ) {
    this.holder = new Int32Array(names.size);
  }

  add(shard: string, position: number, header: SafetensorsHeader, ids: Int32Array | undefined): void {
    const { tensors, holder, unlisted, names, shardOf } = this;
    const hashes = header.hashes;
    const list = header.tensors;
    for (let k = 0; k < list.length; k++) {
      const t = list[k]!;
      const id = ids !== undefined ? ids[k]! : names.find(t.name, hashes !== undefined ? hashes[k]! : hashName(t.name));
      const other = id >= 0 ? (holder[id] !== 0 ? this.shards[holder[id]! - 1] : undefined) : unlisted.get(t.name);
      if (other !== undefined) {
        throw new ModelFormatError('bad-value', formatError(this.indexName, `tensor '${truncateForMessage(t.name)}' appears in both ${truncateForMessage(other)} and ${truncateForMessage(shard)}`));
      }
      tensors.push(t);
      if (id < 0) {
        unlisted.set(t.name, shard);
        if (this.notInMapCount++ < MAX_EXAMPLES) this.notInMap.push(t.name);
      } else {
        holder[id] = position + 1;
        if (shardOf[id] !== position && this.wrongShardCount++ < MAX_EXAMPLES) this.wrongShard.push(t.name);
      }
    }
  }
}

/**
 * The loops over every tensor or name of a model that run once per model are each alone in a function (nothing before
 * or after the loop that compiled code would need to have seen run): such a loop is compiled in the middle of its
 * first call, before code after it has run, and that code would send the compiled loop back to the interpreter.
 */
function zeros(a: Int32Array): number {
  let count = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) count++;
  return count;
}

function byteSum(tensors: readonly TensorInfo[]): number {
  let sum = 0;
  for (let i = 0; i < tensors.length; i++) sum += tensors[i]!.byteLength;
  return sum;
}

function parameterSum(tensors: readonly TensorInfo[]): number {
  let sum = 0;
  for (let i = 0; i < tensors.length; i++) sum += tensors[i]!.elementCount;
  return sum;
}

function hasMxfp4Blocks(tensors: readonly TensorInfo[]): boolean {
  for (let i = 0; i < tensors.length; i++) if (tensors[i]!.dtype === 'uint8' && tensors[i]!.name.endsWith('_blocks')) return true;
  return false;
}

/**
 * BitNet b1.58 checkpoints (`quantization_config.quant_method` "bitnet", transformers `BitLinear`) store each
 * ternary weight matrix as uint8 `[out / 4, in]`: 4 two-bit codes per byte along the output dimension, with the
 * scale in a sibling `<module>.weight_scale` tensor. Those tensors become `ternary_u8x4` with the unpacked shape
 * `[out, in]`: parameters counted unpacked, bytes as stored.
 */
function unpackTernary(tensors: TensorInfo[]): TensorInfo[] {
  const names = new Set(tensors.map((t) => t.name));
  return tensors.map((t) => {
    if (t.dtype !== 'uint8' || t.shape.length !== 2 || !t.name.endsWith('.weight') || !names.has(`${t.name}_scale`)) return t;
    return { ...t, dtype: 'ternary_u8x4', shape: [t.shape[0]! * 4, t.shape[1]!], elementCount: t.elementCount * 4 };
  });
}

/**
 * gpt-oss MXFP4 checkpoints (`quantization_config.quant_method` "mxfp4"; OpenAI's gpt-oss reference and
 * transformers `integrations/mxfp4.py`) store each expert matrix `<name>` of shape [..., rows, cols] as
 * `<name>_blocks` U8 [..., rows, cols / 32, 16] (32 E2M1 codes in 16 bytes) and `<name>_scales` U8
 * [..., rows, cols / 32] (one E8M0 exponent per 32 weights). Each such pair becomes one `mxfp4_split` tensor
 * `<name>` [..., rows, cols]: parameters unpacked (32 per 17 bytes), bytes as stored (blocks + scales), located at
 * the blocks tensor.
 */
function joinMxfp4(tensors: TensorInfo[]): TensorInfo[] {
  // Most models have no `_blocks` tensor: skip the name index then (100,000 names: ~50 ms of Map and Set).
  if (!hasMxfp4Blocks(tensors)) return tensors;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const joined = new Set<string>();
  const out: TensorInfo[] = [];
  for (const t of tensors) {
    if (joined.has(t.name)) continue;
    const base = t.name.endsWith('_blocks') ? t.name.slice(0, -'_blocks'.length) : undefined;
    const scales = base !== undefined ? byName.get(`${base}_scales`) : undefined;
    const n = t.shape.length;
    if (
      base === undefined || !scales || t.dtype !== 'uint8' || scales.dtype !== 'uint8' || n < 2 || t.shape[n - 1] !== 16 ||
      scales.shape.length !== n - 1 || scales.shape.some((d, i) => d !== t.shape[i])
    ) {
      out.push(t);
      continue;
    }
    joined.add(scales.name);
    out.push({ ...t, name: base, dtype: 'mxfp4_split', shape: [...t.shape.slice(0, n - 2), t.shape[n - 2]! * 32], elementCount: t.elementCount * 2, byteLength: t.byteLength + scales.byteLength });
  }
  return joined.size > 0 ? out.filter((t) => !joined.has(t.name)) : tensors;
}

async function assemble(fileName: string, files: ModelFile[], tensors: TensorInfo[], metadata: Record<string, MetadataValue>, warnings: string[], ctx: ReadContext): Promise<Model> {
  throwIfCancelled(ctx.token);
  const config = await readHfConfig(ctx.siblings, ctx.limits);
  if (config.warning) warnings.push(config.warning);
  if (config.quantMethod === 'bitnet') tensors = unpackTernary(tensors);
  tensors = joinMxfp4(tensors);
  const layers = layersFromTensors(tensors);
  let hyperparameters: Hyperparameters = config.hyperparameters ?? {};
  if (!config.hyperparameters) {
    const blockCount = blockCountFromLayers(layers);
    const expertCount = expertCountFromLayers(layers);
    if (blockCount !== undefined || expertCount !== undefined) {
      hyperparameters = {
        ...(blockCount !== undefined ? { blockCount } : {}),
        ...(expertCount !== undefined ? { expertCount } : {}),
        source: 'tensor names',
      };
    }
  }
  const parameterCount = parameterSum(tensors);
  const weightBytes = byteSum(tensors);
  return {
    format: 'safetensors',
    fileName,
    files,
    totalFileBytes: files.reduce((s, f) => s + f.byteLength, 0),
    formatVersion: 1,
    producer: undefined,
    hyperparameters,
    metadata,
    tensors,
    layers,
    graphs: [],
    parameterCount,
    tensorCount: tensors.length,
    nodeCount: 0,
    weightBytes,
    warnings,
  };
}
