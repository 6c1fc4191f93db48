/**
 * One safetensors file: `u64 LE N`, N bytes of UTF-8 JSON, then the byte buffer.
 * Header: `{ "<name>": { "dtype": "F16", "shape": [..], "data_offsets": [begin, end] }, "__metadata__": {str: str} }`,
 * offsets relative to the start of the buffer (spec: https://github.com/huggingface/safetensors README "Format";
 * validation as in `safetensors/src/tensor.rs` `Metadata::validate`). Only the header is read; tensors become
 * byte ranges.
 */
import { ModelFormatError, formatError, throwIfCancelled } from '../../errors';
import { toSafeNumber } from '../../io/binaryReader';
import { truncateForMessage, type ByteSource } from '../../io/byteSource';
import type { TensorInfo } from '../../model/types';
import type { ReadContext } from '../context';
import { MemoryBudget, TENSOR_ENTRY_BYTES } from '../../io/memoryBudget';
import { parseHeaderFast, type DtypeEntry } from './fastParse';
import type { ByteNameTable } from './nameTable';
import { isJsonObject, parseJsonObject, setOwn, truncatedCopy } from './json';

/** Safetensors dtype → IR dtype and bits per element (`Dtype::bitsize` upstream). */
interface SafetensorsDtype {
  readonly dtype: string;
  readonly bits: number;
}

//#region safetensors dtypes (safetensors/src/tensor.rs `enum Dtype`, v0.6)
const DTYPES: Readonly<Record<string, SafetensorsDtype>> = Object.freeze({
  BOOL: { dtype: 'bool', bits: 8 },
  F4: { dtype: 'float4_e2m1', bits: 4 },
  F6_E2M3: { dtype: 'float6_e2m3', bits: 6 },
  F6_E3M2: { dtype: 'float6_e3m2', bits: 6 },
  U8: { dtype: 'uint8', bits: 8 },
  I8: { dtype: 'int8', bits: 8 },
  F8_E5M2: { dtype: 'float8_e5m2', bits: 8 },
  F8_E4M3: { dtype: 'float8_e4m3fn', bits: 8 },
  F8_E8M0: { dtype: 'float8_e8m0', bits: 8 },
  I16: { dtype: 'int16', bits: 16 },
  U16: { dtype: 'uint16', bits: 16 },
  F16: { dtype: 'float16', bits: 16 },
  BF16: { dtype: 'bfloat16', bits: 16 },
  I32: { dtype: 'int32', bits: 32 },
  U32: { dtype: 'uint32', bits: 32 },
  F32: { dtype: 'float32', bits: 32 },
  C64: { dtype: 'complex64', bits: 64 },
  F64: { dtype: 'float64', bits: 64 },
  I64: { dtype: 'int64', bits: 64 },
  U64: { dtype: 'uint64', bits: 64 },
});
//#endregion

/** {@link DTYPES} as a Map, for the fast path. */
const DTYPE_MAP: ReadonlyMap<string, DtypeEntry> = new Map(Object.entries(DTYPES));

/** Upstream dtypes with no IR dtype yet (6-bit MX element types): refused with a clear message. */
const UNMAPPED_DTYPES: ReadonlySet<string> = new Set<string>([]);

/** Safetensors dtype names this reader accepts (for tests and docs). */
export const SAFETENSORS_DTYPES: readonly string[] = Object.keys(DTYPES);

/** IR dtype for a safetensors dtype name, or undefined. */
export function safetensorsDtype(name: string): string | undefined {
  return Object.hasOwn(DTYPES, name) ? DTYPES[name]!.dtype : undefined;
}

/** What one file's header holds. */
export interface SafetensorsHeader {
  /** Tensors in header (JSON) order. */
  readonly tensors: TensorInfo[];
  /** `__metadata__` (string map; strings truncated for display). */
  readonly metadata: Record<string, string>;
  /** N, the JSON header's byte length. */
  readonly headerByteLength: number;
  /** Absolute offset of the byte buffer (8 + N). */
  readonly dataOffset: number;
  readonly warnings: string[];
  /** Per tensor, the hashName of its name, when the fast path read the header (nameTable.ts). */
  readonly hashes?: Int32Array;
  /** True when the fast path read the header without checking for repeated names (`checkDuplicates` false). */
  readonly duplicatesUnchecked?: boolean;
  /** Per tensor, the id of its name in the `index` given to the fast path (-1: not listed there); see parseHeaderFast. */
  readonly ids?: Int32Array;
}

/** Smallest valid file: 8-byte length + `{}`. */
const MIN_FILE_BYTES = 10;

/**
 * Reads and validates the header of one safetensors file. `fileKey` becomes `TensorLocation.file`
 * ('' for the model file itself, the shard's relative path otherwise). `checkDuplicates` false: when the fast path
 * reads the header (`hashes` set), a repeated name is not checked and the caller must (see parseHeaderFast), and
 * `index` (a sharded model's index names) gives each name's id in it (`ids`).
 */
export async function readSafetensorsHeader(source: ByteSource, fileKey: string, ctx: ReadContext, fast = true, checkDuplicates = true, index?: ByteNameTable): Promise<SafetensorsHeader> {
  const name = source.name;
  const { limits } = ctx;
  if (source.size < MIN_FILE_BYTES) {
    throw new ModelFormatError('truncated', formatError(name, `the file has ${source.size} bytes, fewer than the ${MIN_FILE_BYTES} of the smallest safetensors file`), 0);
  }
  const prefix = await source.read(0, 8);
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const headerLength = toSafeNumber(name, dv.getUint32(0, true), dv.getUint32(4, true), 'header length', 0);
  if (headerLength > limits.maxHeaderBytes) {
    throw new ModelFormatError('limit-exceeded', formatError(name, `header length ${headerLength} exceeds the limit of ${limits.maxHeaderBytes} bytes`), 0);
  }
  if (headerLength > source.size - 8) {
    throw new ModelFormatError('truncated', formatError(name, `header length ${headerLength} exceeds the ${source.size - 8} bytes after the length field`), 0);
  }
  if (headerLength < 2) throw new ModelFormatError('bad-value', formatError(name, `header length ${headerLength} is too small for a JSON object`), 0);
  throwIfCancelled(ctx.token);
  const bytes = await source.read(8, headerLength);
  const dataOffset = 8 + headerLength;
  const dataByteLength = source.size - dataOffset;
  // The plain common form in one pass (fastParse.ts); anything else, including every error, takes the general path.
  // (`fast` false: the general path only, for tests comparing the two.)
  const one = fast ? parseHeaderFast(bytes, fileKey, dataOffset, dataByteLength, limits, DTYPE_MAP, checkDuplicates, index) : undefined;
  if (one !== undefined) {
    throwIfCancelled(ctx.token);
    const { keyCount } = one;
    (ctx.budget ?? new MemoryBudget(limits, name)).charge(keyCount * TENSOR_ENTRY_BYTES + headerLength, `${keyCount} tensor entries from a ${headerLength}-byte header`);
    const metadata: Record<string, string> = {};
    for (const [k, v] of one.metadata ?? []) setOwn(metadata, k, v);
    const warnings = one.uncoveredBytes > 0 ? [uncoveredWarning(name, one.gapBytes, one.uncoveredBytes - one.gapBytes)] : [];
    return { tensors: one.tensors, metadata, headerByteLength: headerLength, dataOffset, warnings, hashes: one.hashes, ...(checkDuplicates ? {} : { duplicatesUnchecked: true }), ...(one.ids !== undefined ? { ids: one.ids } : {}) };
  }
  // String values (not keys: tensor names are checked against maxNameBytes below) longer than a display string
  // can hold (6 bytes per character at most, as \uXXXX) are cut before parsing; only metadata values are that long.
  const { value: header, keyCount } = parseJsonObject(name, bytes, limits.maxNestingDepth, 'the safetensors header', limits.maxDisplayStringBytes * 6);
  if (keyCount > limits.maxTensorCount + 1) {
    throw new ModelFormatError('limit-exceeded', formatError(name, `header lists ${keyCount} entries, more than the limit of ${limits.maxTensorCount} tensors`));
  }
  (ctx.budget ?? new MemoryBudget(limits, name)).charge(keyCount * TENSOR_ENTRY_BYTES + headerLength, `${keyCount} tensor entries from a ${headerLength}-byte header`);

  const warnings: string[] = [];
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  const ranges: { begin: number; end: number; name: string }[] = [];

  for (const key of Object.keys(header)) {
    const entry = header[key];
    if (key === '__metadata__') {
      readMetadata(name, entry, metadata, warnings, limits.maxDisplayStringBytes);
      continue;
    }
    if ((tensors.length & 0xfff) === 0xfff) throwIfCancelled(ctx.token);
    if (key.length > limits.maxNameBytes) throw new ModelFormatError('limit-exceeded', formatError(name, `tensor name '${truncateForMessage(key)}' is ${key.length} characters, more than the limit of ${limits.maxNameBytes} (maxNameBytes)`));
    const t = readEntry(name, key, entry, ctx);
    const end = t.begin + t.byteLength;
    if (end > dataByteLength) {
      throw new ModelFormatError('bad-offset', formatError(name, `tensor '${truncateForMessage(key)}' data_offsets [${t.begin}, ${end}] run past the ${dataByteLength}-byte data section`), dataOffset + t.begin);
    }
    ranges.push({ begin: t.begin, end, name: key });
    tensors.push({
      name: key,
      dtype: t.dtype,
      shape: t.shape,
      elementCount: t.elementCount,
      byteLength: t.byteLength,
      file: t.byteLength > 0 ? fileKey : undefined,
      byteOffset: t.byteLength > 0 ? dataOffset + t.begin : 0,
      encoding: 'raw',
      origin: 'entry',
    });
  }

  // The spec forbids overlapping ranges (each byte belongs to at most one tensor). The reference implementation
  // also wants them to tile the buffer exactly; gaps and trailing bytes are harmless for inspection, so they warn.
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let gapBytes = 0;
  let previous: string | undefined;
  for (const r of ranges) {
    if (r.begin < covered) {
      throw new ModelFormatError(
        'bad-offset',
        formatError(name, `tensor '${truncateForMessage(r.name)}' data_offsets [${r.begin}, ${r.end}] overlap tensor '${truncateForMessage(previous ?? '')}' ending at ${covered}`),
        dataOffset + r.begin,
      );
    }
    gapBytes += r.begin - covered;
    if (r.end > r.begin || previous === undefined) previous = r.name;
    covered = Math.max(covered, r.end);
  }
  const trailing = dataByteLength - covered;
  if (gapBytes > 0 || trailing > 0) warnings.push(uncoveredWarning(name, gapBytes, trailing));
  return { tensors, metadata, headerByteLength: headerLength, dataOffset, warnings };
}

function uncoveredWarning(name: string, gapBytes: number, trailing: number): string {
  return formatError(name, `the data section has ${gapBytes + trailing} bytes not covered by any tensor (${gapBytes} between tensors, ${trailing} at the end)`);
}

function readMetadata(name: string, entry: unknown, out: Record<string, string>, warnings: string[], maxChars: number): void {
  if (entry === null) return; // upstream deserializes `__metadata__` as Option<HashMap>: null means none.
  if (!isJsonObject(entry)) {
    warnings.push(formatError(name, '__metadata__ is not a JSON object and was ignored'));
    return;
  }
  let skipped = 0;
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') {
      skipped++;
      continue;
    }
    setOwn(out, k, v.length > maxChars ? truncatedCopy(v, maxChars) : v);
  }
  if (skipped > 0) warnings.push(formatError(name, `__metadata__ has ${skipped} non-string values, which were ignored (the spec allows only strings)`));
}

interface Entry {
  readonly dtype: string;
  readonly shape: number[];
  readonly elementCount: number;
  readonly byteLength: number;
  readonly begin: number;
}

function readEntry(name: string, key: string, entry: unknown, ctx: ReadContext): Entry {
  const { limits } = ctx;
  const fail = (problem: string, code: 'bad-value' | 'unsupported' | 'limit-exceeded' | 'bad-offset' = 'bad-value'): never => {
    throw new ModelFormatError(code, formatError(name, `tensor '${truncateForMessage(key)}' ${problem}`));
  };
  if (!isJsonObject(entry)) return fail('is not a JSON object');
  const dtypeName = entry['dtype'];
  if (typeof dtypeName !== 'string') return fail('has no dtype string');
  if (UNMAPPED_DTYPES.has(dtypeName)) return fail(`has dtype '${dtypeName}', which this version cannot represent yet`, 'unsupported');
  if (!Object.hasOwn(DTYPES, dtypeName)) return fail(`has unknown dtype '${truncateForMessage(dtypeName, 40)}'`, 'unsupported');
  const dt = DTYPES[dtypeName]!;

  const shape = entry['shape'];
  if (!Array.isArray(shape)) return fail('has no shape array');
  if (shape.length > limits.maxRank) return fail(`has rank ${shape.length}, above the limit of ${limits.maxRank}`, 'limit-exceeded');
  let elementCount = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return fail(`has an invalid dimension '${truncateForMessage(String(d), 40)}' in its shape`);
    elementCount *= d;
    if (elementCount > limits.maxElementCount) return fail(`has more than ${limits.maxElementCount} elements`, 'limit-exceeded');
  }

  const offsets = entry['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2) return fail('has no data_offsets pair');
  const [begin, end] = offsets as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
    return fail(`has invalid data_offsets [${truncateForMessage(String(begin), 30)}, ${truncateForMessage(String(end), 30)}]`, 'bad-offset');
  }
  // Sub-byte dtypes (F4) must fill whole bytes (upstream `MisalignedSlice`). elementCount ≤ maxElementCount (2^50),
  // so elementCount × 4 bits and elementCount × 8 bytes are exact doubles; the safe-integer check catches the rest.
  if (dt.bits % 8 !== 0 && (elementCount * dt.bits) % 8 !== 0) return fail(`has ${elementCount} elements of ${dtypeName}, which do not fill whole bytes`);
  const byteLength = dt.bits % 8 === 0 ? elementCount * (dt.bits / 8) : (elementCount * dt.bits) / 8;
  if (!Number.isSafeInteger(byteLength)) return fail(`has a byte length that overflows a safe integer`, 'limit-exceeded');
  if (end - begin !== byteLength) {
    return fail(`needs ${byteLength} bytes for shape [${shape.join(', ')}] of ${dtypeName} but data_offsets [${begin}, ${end}] span ${end - begin}`, 'bad-offset');
  }
  return { dtype: dt.dtype, shape: shape as number[], elementCount, byteLength, begin };
}
