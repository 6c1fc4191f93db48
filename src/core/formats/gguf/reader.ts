/**
 * GGUF reader (versions 2 and 3; little-endian). Layout, as in llama.cpp `ggml/src/gguf.cpp` `gguf_init_from_reader`
 * and the spec https://github.com/ggml-org/ggml/blob/master/docs/gguf.md:
 *   'GGUF' u32 version, u64 tensor_count, u64 kv_count,
 *   kv_count × { string key, u32 value_type, value },
 *   tensor_count × { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
 *   padding to `general.alignment` (u32, power of two, default 32), then the data section.
 * Strings are u64 length + UTF-8 bytes; arrays are u32 item type + u64 count + items (arrays may nest).
 * Only the header is read; long arrays (token vocabularies) are walked without being decoded; tensors become byte ranges.
 */
import { ModelFormatError, formatError, throwIfCancelled } from '../../errors';
import { BinaryReader, decodeUtf8, toSafeNumber } from '../../io/binaryReader';
import { truncateForMessage, type ByteSource } from '../../io/byteSource';
import { storedByteLength, dtypeInfo } from '../../model/dtypes';
import { layersFromTensors } from '../../model/roles';
import type { Hyperparameters, MetadataValue, Model, TensorInfo } from '../../model/types';
import type { ReadContext } from '../context';
import { MemoryBudget, TENSOR_ENTRY_BYTES } from '../../io/memoryBudget';
import { attentionFromKvs } from './attentionKeys';
import { REMOVED_GGML_TYPES, ggmlLayouts, layoutByteLength, type GgmlLayout } from './ggmlTypes';
import { maxOf } from '../../util/arrays';

//#region GGUF value types (gguf.h `enum gguf_type`)
const T_UINT8 = 0;
const T_INT8 = 1;
const T_UINT16 = 2;
const T_INT16 = 3;
const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_BOOL = 7;
const T_STRING = 8;
const T_ARRAY = 9;
const T_UINT64 = 10;
const T_INT64 = 11;
const T_FLOAT64 = 12;
const TYPE_NAMES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64'] as const;
/** Fixed byte size per scalar type (0 for string/array). */
const TYPE_SIZES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8] as const;
//#endregion

const GGUF_MAGIC = 0x46554747; // 'GGUF' read as u32 LE
const DEFAULT_ALIGNMENT = 32;
/** Bytes buffered per refill while walking the header. */
const WINDOW_BYTES = 256 * 1024;
/** Arrays up to this length are decoded completely (hyperparameter arrays, small lists); longer ones are summarized. */
const FULL_ARRAY_ITEMS = 1024;
/** Arrays longer than this are shown as `{ type: 'array', itemType, length, items: first N }` in Model.metadata. */
const DISPLAY_ARRAY_ITEMS = 16;
/** Items kept in a summarized array. */
const SUMMARY_ITEMS = 8;
/** Smallest encoding of one KV pair (u64 key length + u32 type) and of one tensor info (u64 name length + u32 n_dims + u32 type + u64 offset). */
const MIN_KV_BYTES = 12;
const MIN_TENSOR_INFO_BYTES = 24;

/** A decoded value: what Model.metadata shows, plus the full numeric items of short arrays (for hyperparameters). */
interface GgufValue {
  readonly display: MetadataValue;
  readonly type: number;
  /** For arrays: element count. */
  readonly length?: number;
  /** For arrays of ≤ FULL_ARRAY_ITEMS numbers: all items. */
  readonly numbers?: readonly number[];
}

/**
 * Sequential header cursor over a BinaryReader: `need(n)` guarantees n buffered bytes so that the sync getters can
 * run in tight loops (one await per megabyte rather than per field).
 */
class Cursor {
  private windowEnd = 0;
  constructor(readonly r: BinaryReader) {}
  get position(): number {
    return this.r.position;
  }
  /** True when n more bytes are already buffered. */
  has(n: number): boolean {
    return this.r.position + n <= this.windowEnd;
  }
  /** Buffers at least n bytes (throws 'truncated' past the end of the file). */
  async need(n: number, what: string): Promise<void> {
    if (this.r.position + n <= this.windowEnd) return;
    const want = Math.max(n, Math.min(WINDOW_BYTES, this.r.remaining));
    await this.r.ensure(want, what);
    this.windowEnd = this.r.position + want;
  }
}

/** Where one metadata entry's value lies in the file (for copying it verbatim). */
export interface GgufKvSpan {
  readonly key: string;
  /** GGUF value type (gguf.h `enum gguf_type`). */
  readonly valueType: number;
  /** Byte range of the encoded value (after the key and the u32 type). */
  readonly valueOffset: number;
  readonly valueEnd: number;
}

/** One tensor info as stored (upstream order and names). */
export interface GgufTensorEntry {
  readonly name: string;
  /** `ne[]`, innermost (row) first. */
  readonly ne: readonly number[];
  readonly ggmlType: number;
  /** Offset from the start of the data section. */
  readonly offset: number;
}

/** A GGUF header as stored, with the IR model built from it. */
export interface GgufHeader {
  readonly model: Model;
  readonly version: number;
  readonly alignment: number;
  /** Absolute file offset of the data section. */
  readonly dataOffset: number;
  readonly kvs: readonly GgufKvSpan[];
  readonly tensors: readonly GgufTensorEntry[];
}

/**
 * Reads a GGUF file's header into the IR. Throws {@link ModelFormatError} for malformed or hostile input
 * (bad magic, version 1 or big-endian files, counts/lengths beyond limits or the file, bad alignment, offsets).
 */
export async function readGguf(source: ByteSource, ctx: ReadContext): Promise<Model> {
  return (await readHeader(source, ctx, false)).model;
}

/** {@link readGguf}, also returning the stored layout: metadata value spans and tensor infos (for the writer). */
export function readGgufHeader(source: ByteSource, ctx: ReadContext): Promise<GgufHeader> {
  return readHeader(source, ctx, true);
}

/** The header; the stored tensor entries only when `keepEntries` (the writer's; the model alone does not hold them). */
async function readHeader(source: ByteSource, ctx: ReadContext, keepEntries: boolean): Promise<GgufHeader> {
  const h = new HeaderReader(source, ctx);
  const { version, tensorCount, kvCount } = await readPreamble(h, source.size);
  const meta = await readMetadataEntries(h, kvCount);
  const infos = await readTensorInfos(h, tensorCount, meta.alignment, keepEntries);
  const { dataOffset, forkNotes } = placeTensorData(h, infos, tensorCount, meta.alignment, source.size);
  const { tensors } = infos;
  const layers = layersFromTensors(tensors);
  let parameterCount = 0;
  let weightBytes = 0;
  for (const t of tensors) {
    parameterCount += t.elementCount;
    weightBytes += t.byteLength;
  }
  const model: Model = {
    format: 'gguf',
    fileName: source.name,
    files: [{ path: baseNameOf(source.name), byteLength: source.size }],
    totalFileBytes: source.size,
    formatVersion: version,
    producer: undefined,
    hyperparameters: hyperparametersFromKvs(meta.kvs),
    metadata: meta.metadata,
    tensors,
    layers,
    graphs: [],
    parameterCount,
    tensorCount: tensors.length,
    nodeCount: 0,
    weightBytes,
    warnings: forkNotes,
  };
  return { model, version, alignment: meta.alignment, dataOffset, kvs: meta.spans, tensors: infos.entries };
}

type GgufFailure = 'bad-value' | 'unsupported' | 'limit-exceeded' | 'bad-offset' | 'truncated' | 'bad-magic';

/** The header's windowed cursor with the reads every step shares: lengths, strings, scalars and (nested) values. */
class HeaderReader {
  readonly c: Cursor;
  readonly r: BinaryReader;
  readonly limits: ReadContext['limits'];
  readonly name: string;
  readonly budget: MemoryBudget;
  /** Set by {@link readPreamble}; named in the memory budget's message. */
  tensorCount = 0;
  private nameBytes = 0;

  constructor(source: ByteSource, readonly ctx: ReadContext) {
    this.name = source.name;
    this.limits = ctx.limits;
    this.budget = ctx.budget ?? new MemoryBudget(ctx.limits, source.name);
    this.c = new Cursor(new BinaryReader(source, 0, WINDOW_BYTES));
    this.r = this.c.r;
  }

  fail(code: GgufFailure, problem: string, offset?: number): never {
    throw new ModelFormatError(code, formatError(this.name, problem), offset);
  }

  /** The u64 length at the cursor (buffered), checked against the name or string limit and the file's end. */
  private lengthSync(what: string, isName: boolean): number {
    const { r, limits } = this;
    const max = isName ? limits.maxNameBytes : limits.maxStringBytes;
    const at = r.position;
    const len = toSafeNumber(this.name, r.u32Sync(), r.u32Sync(), what, at);
    if (len > max) this.fail('limit-exceeded', `${what} ${len} exceeds the limit of ${max} bytes (${isName ? 'maxNameBytes' : 'maxStringBytes'})`, at);
    if (len > r.remaining) this.fail('truncated', `${what} ${len} at offset ${at} runs past the end of the file`, at);
    return len;
  }

  /** Reads a string; returns at most `maxBytes` of it (cut at a character boundary, marked with '…'). */
  async readString(what: string, maxBytes: number, isName = false): Promise<string> {
    if (!this.c.has(8)) await this.c.need(8, what);
    const len = this.lengthSync(what, isName);
    const keep = Math.min(len, maxBytes);
    if (!this.c.has(keep)) await this.c.need(keep, what);
    return this.stringSync(what, len, keep, isName);
  }

  /**
   * {@link readString} without a promise when the string's length and its kept bytes are already in the window (a
   * promise and a suspended call per string were ~110 MB of garbage over 200,000 tensor names); undefined, with
   * nothing read, when they are not.
   */
  bufferedString(what: string, maxBytes: number, isName = false): string | undefined {
    const { c, r } = this;
    if (!c.has(8)) return undefined;
    const at = r.position;
    // The low word is enough to ask whether the bytes are buffered: a length with a high word fails in lengthSync,
    // with the error readString gives it.
    const low = r.u32Sync();
    r.seek(at);
    if (!c.has(8 + Math.min(low, maxBytes))) return undefined;
    const len = this.lengthSync(what, isName);
    return this.stringSync(what, len, Math.min(len, maxBytes), isName);
  }

  /** The string's first `keep` of `len` bytes (buffered), the rest skipped; long names charged to the budget. */
  private stringSync(what: string, len: number, keep: number, isName: boolean): string {
    const { r } = this;
    if (isName && len > 64) {
      // Longer names are charged (shorter ones are within the per-entry cost).
      this.nameBytes += len;
      this.budget.charge(len, () => `${this.tensorCount} tensor entries and ${this.nameBytes} bytes of long names`);
    }
    const bytes = r.bytesSync(keep);
    if (keep < len) {
      r.skip(len - keep, what);
      return `${decodeUtf8(bytes.subarray(0, utf8Boundary(bytes)))}…`;
    }
    return decodeUtf8(bytes);
  }

  scalar(type: number): number | boolean | string {
    const { r } = this;
    switch (type) {
      case T_UINT8: return r.u8Sync();
      case T_INT8: return r.i8Sync();
      case T_UINT16: return r.u16Sync();
      case T_INT16: return r.i16Sync();
      case T_UINT32: return r.u32Sync();
      case T_INT32: return r.i32Sync();
      case T_FLOAT32: return finite(r.f32Sync());
      case T_BOOL: return r.u8Sync() !== 0;
      case T_UINT64: {
        const lo = r.u32Sync();
        const hi = r.u32Sync();
        // Values above 2^53 stay exact as decimal strings.
        return hi < 0x20_0000 ? hi * 0x1_0000_0000 + lo : (BigInt(hi) * 0x1_0000_0000n + BigInt(lo)).toString();
      }
      case T_INT64: {
        const lo = r.u32Sync();
        const hi = r.i32Sync();
        const v = hi * 0x1_0000_0000 + lo;
        return Number.isSafeInteger(v) ? v : (BigInt(hi) * 0x1_0000_0000n + BigInt(lo)).toString();
      }
      default: return finite(r.f64Sync());
    }
  }

  checkType(type: number, at: number, what: string): void {
    if (!(type >= 0 && type <= T_FLOAT64)) this.fail('unsupported', `${what} has unknown GGUF value type '${type}'`, at);
  }

  async readValue(type: number, depth: number, what: string): Promise<GgufValue> {
    const { c, r, limits } = this;
    if (type === T_STRING) return { display: await this.readString(`${what} length`, limits.maxDisplayStringBytes), type };
    if (type !== T_ARRAY) {
      const size = TYPE_SIZES[type]!;
      if (!c.has(size)) await c.need(size, what);
      return { display: this.scalar(type), type };
    }
    if (depth >= limits.maxNestingDepth) this.fail('limit-exceeded', `${what} nests arrays deeper than the limit of ${limits.maxNestingDepth}`, r.position);
    if (!c.has(12)) await c.need(12, what);
    const typeAt = r.position;
    const itemType = r.u32Sync();
    this.checkType(itemType, typeAt, what);
    const count = r.u64Sync(`${what} array length`);
    if (count > limits.maxArrayLength) this.fail('limit-exceeded', `${what} array length ${count} exceeds the limit of ${limits.maxArrayLength}`, typeAt + 4);
    const minItem = itemType === T_STRING ? 8 : itemType === T_ARRAY ? 12 : TYPE_SIZES[itemType]!;
    if (count * minItem > r.remaining) this.fail('truncated', `${what} array of ${count} items runs past the end of the file`, typeAt + 4);
    const full = count <= FULL_ARRAY_ITEMS;
    const keep = full ? count : SUMMARY_ITEMS;
    const items: MetadataValue[] = [];
    let numbers: number[] | undefined;
    if (itemType === T_STRING) await this.readStringItems(count, keep, what, items);
    else if (itemType === T_ARRAY) {
      for (let i = 0; i < count; i++) {
        const v = await this.readValue(T_ARRAY, depth + 1, what);
        if (i < keep) items.push(v.display);
        if ((i & 0xffff) === 0) throwIfCancelled(this.ctx.token);
      }
    } else {
      const size = TYPE_SIZES[itemType]!;
      if (!c.has(keep * size)) await c.need(keep * size, what);
      for (let i = 0; i < keep; i++) items.push(this.scalar(itemType));
      if (count > keep) r.skip((count - keep) * size, what);
      // Bool arrays (per-layer flags such as `attention.sliding_window_pattern`) become 1/0.
      if (full) numbers = items.map((x) => (typeof x === 'boolean' ? Number(x) : x)).filter((x): x is number => typeof x === 'number');
    }
    const display: MetadataValue =
      count > DISPLAY_ARRAY_ITEMS ? { type: 'array', itemType: TYPE_NAMES[itemType]!, length: count, items: items.slice(0, SUMMARY_ITEMS) } : items;
    return numbers ? { display, type, length: count, numbers } : { display, type, length: count };
  }

  /** The first `keep` strings of an array into `items`; the rest are skipped (vocabularies). */
  private async readStringItems(count: number, keep: number, what: string, items: MetadataValue[]): Promise<void> {
    const { c, r, limits } = this;
    for (let i = 0; i < count; i++) {
      if (i < keep) {
        items.push(this.bufferedString(`${what} item length`, limits.maxDisplayStringBytes) ?? (await this.readString(`${what} item length`, limits.maxDisplayStringBytes)));
        continue;
      }
      // Hot path for vocabularies: length, then skip the bytes; awaits only when the window runs out.
      if (!c.has(8)) await c.need(8, what);
      const at = r.position;
      const len = toSafeNumber(this.name, r.u32Sync(), r.u32Sync(), `${what} item length`, at);
      if (len > limits.maxStringBytes) this.fail('limit-exceeded', `${what} item length ${len} exceeds the limit of ${limits.maxStringBytes} bytes`, at);
      r.skip(len, what);
      if ((i & 0xffff) === 0) throwIfCancelled(this.ctx.token);
    }
  }
}

/** Magic, version (2 and 3, little-endian) and the two counts, bounded by the limits and the file size. */
async function readPreamble(h: HeaderReader, size: number): Promise<{ version: number; tensorCount: number; kvCount: number }> {
  const { c, r, limits } = h;
  await c.need(24, 'the GGUF header');
  if (r.u32Sync() !== GGUF_MAGIC) h.fail('bad-magic', "does not start with the GGUF magic 'GGUF'", 0);
  const version = r.u32Sync();
  if (version === 0) h.fail('bad-value', 'has GGUF version 0', 4);
  // A big-endian v3 file reads as 0x03000000 here (llama.cpp checks the low 16 bits the same way).
  if ((version & 0xffff) === 0) h.fail('unsupported', `is a big-endian GGUF file (version field ${version}), which is not supported`, 4);
  if (version === 1) h.fail('unsupported', 'is GGUF version 1, which is not supported (versions 2 and 3 are)', 4);
  if (version > 3) h.fail('unsupported', `has GGUF version ${version}, newer than the supported versions 2 and 3`, 4);
  const tensorCount = r.u64Sync('tensor count');
  const kvCount = r.u64Sync('metadata entry count');
  if (tensorCount > limits.maxTensorCount) h.fail('limit-exceeded', `tensor count ${tensorCount} exceeds the limit of ${limits.maxTensorCount}`, 8);
  if (kvCount > limits.maxMetadataEntries) h.fail('limit-exceeded', `metadata entry count ${kvCount} exceeds the limit of ${limits.maxMetadataEntries}`, 16);
  h.tensorCount = tensorCount;
  h.budget.charge(tensorCount * TENSOR_ENTRY_BYTES, `${tensorCount} tensor entries`);
  if (kvCount * MIN_KV_BYTES + tensorCount * MIN_TENSOR_INFO_BYTES > r.remaining) {
    h.fail('truncated', `declares ${kvCount} metadata entries and ${tensorCount} tensors, more than its ${size} bytes can hold`, 8);
  }
  return { version, tensorCount, kvCount };
}

/** The metadata entries (values, their spans in the file, display values) and the checked `general.alignment`. */
async function readMetadataEntries(h: HeaderReader, kvCount: number): Promise<{ kvs: Map<string, GgufValue>; spans: GgufKvSpan[]; metadata: Record<string, MetadataValue>; alignment: number }> {
  const { c, r, limits } = h;
  const kvs = new Map<string, GgufValue>();
  const spans: GgufKvSpan[] = [];
  const metadata: Record<string, MetadataValue> = {};
  for (let i = 0; i < kvCount; i++) {
    if ((i & 0x3ff) === 0) throwIfCancelled(h.ctx.token);
    const keyAt = r.position;
    const key = h.bufferedString('metadata key length', limits.maxStringBytes, true) ?? (await h.readString('metadata key length', limits.maxStringBytes, true));
    if (key.length === 0) h.fail('bad-value', `metadata entry ${i} has an empty key`, keyAt);
    if (kvs.has(key)) h.fail('bad-value', `metadata key '${truncateForMessage(key)}' appears twice`, keyAt);
    if (!c.has(4)) await c.need(4, 'metadata value type');
    const typeAt = r.position;
    const type = r.u32Sync();
    const what = `metadata '${truncateForMessage(key, 60)}'`;
    h.checkType(type, typeAt, what);
    const valueOffset = r.position;
    const value = await h.readValue(type, 0, what);
    kvs.set(key, value);
    spans.push({ key, valueType: type, valueOffset, valueEnd: r.position });
    Object.defineProperty(metadata, key, { value: value.display, enumerable: true, writable: true, configurable: true });
  }
  let alignment = DEFAULT_ALIGNMENT;
  const alignmentKv = kvs.get('general.alignment');
  if (alignmentKv) {
    // llama.cpp requires a u32 power of two.
    const a = alignmentKv.display;
    if (alignmentKv.type !== T_UINT32) h.fail('bad-value', `general.alignment has type ${TYPE_NAMES[alignmentKv.type] ?? alignmentKv.type} but must be uint32`);
    if (typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) h.fail('bad-value', `general.alignment ${String(a)} is not a power of two`);
    alignment = a as number;
  }
  return { kvs, spans, metadata, alignment };
}

/** The tensor infos as read, before their data is placed. */
interface TensorInfos {
  readonly tensors: TensorInfo[];
  /** Empty unless the caller keeps them ({@link readGgufHeader}): 10^6 entries with their `ne` are ~125 MB. */
  readonly entries: GgufTensorEntry[];
  readonly offsets: number[];
  /** Per tensor: its ggml type id and the layouts of that id its shape allows (upstream first). */
  readonly typeIds: number[];
  /**
   * Only for a tensor whose id has several layouts that fit its shape, or a fork's: the others have one, upstream's
   * (see {@link layoutsOf}), and 10^6 of them held ~100 MB.
   */
  readonly candidates: (TensorLayout[] | undefined)[];
}

/** Every tensor info: unique name, bounded rank and element count, a known ggml type whose blocks fit its rows, aligned offset. */
async function readTensorInfos(h: HeaderReader, tensorCount: number, alignment: number, keepEntries: boolean): Promise<TensorInfos> {
  const { c, r, limits } = h;
  const infos: TensorInfos = { tensors: [], entries: [], offsets: [], typeIds: [], candidates: [] };
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    if ((i & 0x3ff) === 0) throwIfCancelled(h.ctx.token);
    const infoAt = r.position;
    const tname = h.bufferedString('tensor name length', limits.maxStringBytes, true) ?? (await h.readString('tensor name length', limits.maxStringBytes, true));
    // The tensor as error messages name it, built only for a message (a string per tensor and field otherwise).
    const quoted = (): string => `tensor '${truncateForMessage(tname)}'`;
    if (names.has(tname)) h.fail('bad-value', `${quoted()} appears twice`, infoAt);
    names.add(tname);
    if (!c.has(4)) await c.need(4, 'tensor dimension count');
    const nDims = r.u32Sync();
    if (nDims > limits.maxRank) h.fail('limit-exceeded', `${quoted()} has ${nDims} dimensions, above the limit of ${limits.maxRank}`, r.position - 4);
    if (!c.has(nDims * 8 + 12)) await c.need(nDims * 8 + 12, 'tensor info');
    const ne: number[] = new Array<number>(nDims);
    let elementCount = 1;
    for (let d = 0; d < nDims; d++) {
      const dim = u64At(r, h.name, () => `${quoted()} dimension`);
      ne[d] = dim;
      elementCount *= dim;
      if (elementCount > limits.maxElementCount) h.fail('limit-exceeded', `${quoted()} has more than ${limits.maxElementCount} elements`, infoAt);
    }
    const typeAt = r.position;
    const typeId = r.u32Sync();
    const viable = viableLayouts(h, quoted, typeId, typeAt, ne, elementCount);
    const offsetAt = r.position;
    const offset = u64At(r, h.name, () => `${quoted()} data offset`);
    if (offset % alignment !== 0) h.fail('bad-offset', `${quoted()} data offset ${offset} is not a multiple of the alignment ${alignment}`, offsetAt);
    infos.offsets.push(offset);
    if (keepEntries) infos.entries.push({ name: tname, ne: [...ne], ggmlType: typeId, offset });
    infos.typeIds.push(typeId);
    infos.candidates.push(viable.length > 1 || viable[0]!.layout.origin !== 'llama.cpp' ? viable : undefined);
    infos.tensors.push({
      name: tname,
      dtype: viable[0]!.layout.dtype,
      // GGUF lists ne[0] (the contiguous row) first; the IR uses row-major order, outermost first, like numpy and safetensors.
      shape: ne.reverse(),
      elementCount,
      byteLength: viable[0]!.byteLength,
      file: undefined,
      byteOffset: 0,
      encoding: 'raw',
      origin: 'entry',
    });
  }
  return infos;
}

/** The layouts of ggml type `typeId` whose blocks divide a row (llama.cpp: each row is a whole number of blocks). */
/** `r.u64Sync(what())`, building the label only when the value is too large (as `toSafeNumber` words it). */
function u64At(r: BinaryReader, fileName: string, what: () => string): number {
  const start = r.position;
  const low = r.u32Sync();
  const high = r.u32Sync();
  // `low` alone when it is all: `0 * 2^32 + low` is a double even when integral, and V8 then keeps a 16-byte heap
  // number (not a small integer) for each count, byte length and offset computed from it (5 per tensor).
  if (high === 0) return low;
  const value = high * 0x1_0000_0000 + low;
  return high < 0x20_0000 && Number.isSafeInteger(value) ? value : toSafeNumber(fileName, low, high, what(), start);
}

function viableLayouts(h: HeaderReader, quoted: () => string, typeId: number, typeAt: number, ne: readonly number[], elementCount: number): TensorLayout[] {
  const rowLength = ne.length > 0 ? ne[0]! : 1;
  const layouts = ggmlLayouts(typeId);
  if (layouts.length === 0) {
    const removed = REMOVED_GGML_TYPES[typeId];
    if (removed) h.fail('unsupported', `${quoted()} uses ggml type ${typeId} (${removed}), which upstream removed from GGUF files`, typeAt);
    h.fail('unsupported', `${quoted()} has unknown ggml type '${typeId}'`, typeAt);
  }
  const viable: TensorLayout[] = [];
  for (const layout of layouts) {
    const byteLength = elementCount === 0 ? 0 : layoutByteLength(layout.dtype, ne, elementCount, storedByteLength);
    const rowsFit = layout.dtype === 'tl2' || rowLength % dtypeInfo(layout.dtype)!.blockSize === 0;
    if (rowsFit && byteLength !== undefined) viable.push({ layout, byteLength });
  }
  if (viable.length === 0) {
    const first = layouts[0]!;
    h.fail('bad-value', `${quoted()} of type ${first.name} has rows of ${rowLength} elements, not a multiple of its block size ${dtypeInfo(first.dtype)!.blockSize}`, typeAt);
  }
  return viable;
}

/**
 * The data section: where it starts, each tensor's layout (forks of a type id decided by the offsets) and byte
 * range, refusing overlaps and data past the end of the file. Sets each tensor's location in `infos.tensors`.
 */
function placeTensorData(h: HeaderReader, infos: TensorInfos, tensorCount: number, alignment: number, size: number): { dataOffset: number; forkNotes: string[] } {
  const { tensors, offsets, typeIds } = infos;
  const infoEnd = h.r.position;
  const dataOffset = tensorCount > 0 ? Math.ceil(infoEnd / alignment) * alignment : infoEnd;
  if (tensorCount > 0 && dataOffset > size) h.fail('truncated', `the data section would start at offset ${dataOffset}, past the end of the ${size}-byte file`, infoEnd);
  const dataByteLength = size - dataOffset;
  const forkNotes = chooseLayouts(infos, dataByteLength, alignment);
  const order = tensors.map((_, i) => i).sort((a, b) => offsets[a]! - offsets[b]! || tensors[a]!.byteLength - tensors[b]!.byteLength);
  let covered = 0;
  let previous = -1;
  for (const i of order) {
    const t = tensors[i]!;
    const begin = offsets[i]!;
    const end = begin + t.byteLength;
    if (begin < covered) {
      const p = tensors[previous]!;
      h.fail('bad-offset', `tensor '${truncateForMessage(t.name)}' data at offset ${begin} overlaps tensor '${truncateForMessage(p.name)}' ending at ${covered}; as ${layoutName(layoutsOf(infos, previous)[0]!.layout)} '${truncateForMessage(p.name)}' takes ${p.byteLength} bytes: ${layoutsText(typeIds[previous]!, p.elementCount)}`, dataOffset + begin);
    }
    if (end > dataByteLength) {
      h.fail('bad-offset', `tensor '${truncateForMessage(t.name)}' data (offset ${begin}, ${t.byteLength} bytes) runs past the end of the ${dataByteLength}-byte data section; as ${layoutName(layoutsOf(infos, i)[0]!.layout)} ${layoutsText(typeIds[i]!, t.elementCount)}`, dataOffset + begin);
    }
    if (t.byteLength > 0) {
      covered = end;
      previous = i;
    }
    // Set on the entry readTensorInfos made (with `file: undefined` in its place), not on a copy of it.
    if (t.byteLength > 0) {
      const w = t as { file: string | undefined; byteOffset: number };
      w.file = '';
      w.byteOffset = dataOffset + begin;
    }
  }
  return { dataOffset, forkNotes };
}

/** One layout a tensor may be stored in, with the bytes it takes in it. */
interface TensorLayout {
  readonly layout: GgmlLayout;
  readonly byteLength: number;
}

/** Tensor `i`'s viable layouts, chosen first: its stored candidates, or else its id's upstream layout alone. */
function layoutsOf(infos: TensorInfos, i: number): readonly TensorLayout[] {
  return infos.candidates[i] ?? [{ layout: ggmlLayouts(infos.typeIds[i]!)[0]!, byteLength: infos.tensors[i]!.byteLength }];
}

function layoutName(l: GgmlLayout): string {
  return l.origin === 'llama.cpp' ? l.name : `${l.name} of ${l.origin}`;
}

/** "no layout of ggml type 42 fits: Q2_0 (llama.cpp: 64 weights in 18 bytes, 1152 bytes), Q2_0 (PrismML …: 128 weights in 34 bytes, 1088 bytes)". */
function layoutsText(typeId: number, elementCount: number): string {
  const all = ggmlLayouts(typeId).map((l) => {
    const info = dtypeInfo(l.dtype)!;
    if (l.dtype === 'tl2') return `${l.name} (${l.origin}: rows × (row − 256) × 5/24 + 64 bytes per row)`;
    const bytes = storedByteLength(l.dtype, elementCount);
    const trailer = info.tensorTrailerBytes ? ` + ${info.tensorTrailerBytes} per tensor` : '';
    return `${l.name} (${l.origin}: ${info.blockSize} weights in ${info.bytesPerBlock} bytes${trailer}${bytes !== undefined ? `, ${bytes} bytes` : ''})`;
  });
  const removed = REMOVED_GGML_TYPES[typeId];
  return `that layout does not fit its byte range (known layouts of ggml type ${typeId}: ${all.join(', ')}${removed ? `; upstream removed ${removed}` : ''})`;
}

/**
 * Picks one layout per ambiguous ggml type id (an id that forks define differently, e.g. 42 = upstream Q2_0 or
 * PrismML's 128-weight Q2_0): the first layout, upstream first, under which every tensor of that id fits its byte
 * range (from its offset to the next tensor's, or to the end of the data section) with less than one alignment of
 * padding; else the first that fits at all. Tensors are updated in place. Returns one note per id read with a
 * fork's layout. When no layout fits, the tensors keep the first one and the caller's range checks fail, naming
 * every candidate.
 */
function chooseLayouts(infos: TensorInfos, dataByteLength: number, alignment: number): string[] {
  const { tensors, offsets, typeIds, candidates } = infos;
  const ids = new Set<number>();
  for (let i = 0; i < tensors.length; i++) if (candidates[i] !== undefined) ids.add(typeIds[i]!);
  if (ids.size === 0) return [];
  // Byte range of every tensor: up to the next larger offset, or the end of the data section.
  const byOffset = tensors.map((_, i) => i).sort((a, b) => offsets[a]! - offsets[b]!);
  const range = new Array<number>(tensors.length);
  let nextStart = dataByteLength;
  for (let k = byOffset.length - 1; k >= 0; k--) {
    const i = byOffset[k]!;
    const after = byOffset[k + 1];
    if (after !== undefined && offsets[after]! > offsets[i]!) nextStart = offsets[after]!;
    range[i] = Math.max(0, nextStart - offsets[i]!);
  }
  const notes: string[] = [];
  for (const id of ids) {
    const members: number[] = [];
    for (let i = 0; i < tensors.length; i++) if (typeIds[i] === id) members.push(i);
    const fits = (layout: GgmlLayout, tight: boolean): boolean =>
      members.every((i) => {
        const c = layoutsOf(infos, i).find((x) => x.layout === layout || (x.layout.dtype === layout.dtype && x.layout.origin === layout.origin));
        return c !== undefined && c.byteLength <= range[i]! && (!tight || c.byteLength === 0 || range[i]! - c.byteLength < alignment);
      });
    const layouts = ggmlLayouts(id);
    const tight = layouts.filter((l) => fits(l, true));
    const pick = tight[0] ?? layouts.find((l) => fits(l, false));
    if (!pick) continue;
    if (tight.length > 1) {
      notes.push(`ggml type ${id} is ambiguous in this file: its tensors fit ${tight.map((l) => `${l.name} (${l.origin})`).join(' and ')}; read as ${pick.name} of ${pick.origin}.`);
    }
    for (const i of members) {
      const own = layoutsOf(infos, i);
      const c = own.find((x) => x.layout.dtype === pick.dtype && x.layout.origin === pick.origin)!;
      candidates[i] = [c, ...own.filter((x) => x !== c)];
      tensors[i] = { ...tensors[i]!, dtype: pick.dtype, byteLength: c.byteLength };
    }
    if (pick.origin !== 'llama.cpp') {
      const info = dtypeInfo(pick.dtype)!;
      const upstream = layouts[0]!.origin === 'llama.cpp' ? `upstream ${layouts[0]!.name}` : REMOVED_GGML_TYPES[id] ? `removed upstream (${REMOVED_GGML_TYPES[id]})` : 'unknown upstream';
      notes.push(`ggml type ${id} is read as ${pick.name} of ${pick.origin} (${info.blockSize} weights in ${info.bytesPerBlock} bytes${info.tensorTrailerBytes ? ` + ${info.tensorTrailerBytes} bytes per tensor` : ''}; ${upstream}): the file needs that runtime, stock llama.cpp cannot load it.`);
    }
  }
  return notes;
}

/** Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence. */
function utf8Boundary(bytes: Uint8Array): number {
  let start = bytes.length;
  while (start > 0 && (bytes[start - 1]! & 0xc0) === 0x80) start--;
  if (start === 0) return bytes.length;
  const lead = bytes[start - 1]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - (start - 1) >= need ? bytes.length : start - 1;
}

/** Non-finite floats are not JSON; keep them readable as strings. */
function finite(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function baseNameOf(fileName: string): string {
  const parts = fileName.split(/[\\/]/);
  return parts[parts.length - 1] ?? fileName;
}

/** `<arch>.*` keys (llama.cpp `LLM_KV_*` names) → Hyperparameters. Per-layer arrays (e.g. head counts) give their maximum. */
function hyperparametersFromKvs(kvs: ReadonlyMap<string, GgufValue>): Hyperparameters {
  const archValue = kvs.get('general.architecture')?.display;
  const arch = typeof archValue === 'string' ? archValue : undefined;
  const num = (key: string): number | undefined => {
    const v = kvs.get(key);
    if (!v) return undefined;
    if (typeof v.display === 'number' && Number.isSafeInteger(v.display) && v.display >= 0) return v.display;
    if (v.numbers && v.numbers.length > 0) {
      const m = maxOf(v.numbers);
      return Number.isSafeInteger(m) && m >= 0 ? m : undefined;
    }
    return undefined;
  };
  const out: { -readonly [K in keyof Hyperparameters]: Hyperparameters[K] } = {};
  if (arch !== undefined) {
    out.architecture = arch;
    const fields: readonly [keyof Hyperparameters, string][] = [
      ['blockCount', 'block_count'],
      ['embeddingLength', 'embedding_length'],
      ['feedForwardLength', 'feed_forward_length'],
      ['headCount', 'attention.head_count'],
      ['kvHeadCount', 'attention.head_count_kv'],
      ['headDim', 'attention.key_length'],
      ['contextLength', 'context_length'],
      ['expertCount', 'expert_count'],
      ['expertUsedCount', 'expert_used_count'],
      ['vocabSize', 'vocab_size'],
    ];
    for (const [field, suffix] of fields) {
      const v = num(`${arch}.${suffix}`);
      if (v !== undefined) (out as Record<string, unknown>)[field] = v;
    }
    // llama.cpp defaults: head_count_kv = head_count; key_length = embedding_length / head_count.
    if (out.kvHeadCount === undefined && out.headCount !== undefined) out.kvHeadCount = out.headCount;
    if (out.headDim === undefined && out.embeddingLength !== undefined && out.headCount && out.embeddingLength % out.headCount === 0) {
      out.headDim = out.embeddingLength / out.headCount;
    }
    const attention = attentionFromKvs(arch, (key) => {
      const v = kvs.get(key);
      if (!v) return undefined;
      if (typeof v.display === 'number' || typeof v.display === 'boolean') return { scalar: Number(v.display) };
      return v.numbers ? { numbers: v.numbers } : undefined;
    });
    if (attention.headDim !== undefined) out.headDim = attention.headDim;
    if (attention.mtpLayerCount !== undefined && out.blockCount !== undefined && attention.mtpLayerCount < out.blockCount) {
      // llama.cpp counts nextn (MTP) layers in block_count and keeps no KV cache for them; the IR's blockCount is the main blocks.
      out.blockCount -= attention.mtpLayerCount;
      out.mtpLayerCount = attention.mtpLayerCount;
    }
    if (Object.keys(attention.attention).length > 0) out.attention = attention.attention;
  }
  const tokens = kvs.get('tokenizer.ggml.tokens');
  if (tokens?.length !== undefined && tokens.length > 0) out.vocabSize = tokens.length;
  if (Object.keys(out).length > 0) out.source = 'gguf';
  return out;
}
