/**
 * GGUF writer, in the reader's layers: wire (values → little-endian bytes) → layout (tensor infos, offsets,
 * alignment) → header bytes. Tensor data is not held here: the caller streams each tensor to
 * `dataOffset + tensorOffsets[i]` and pads with zeros to the next multiple of the alignment.
 *
 * Rules, as llama.cpp's own writer (ggml/src/gguf.cpp `gguf_writer`, `gguf_set_tensor_data` / `gguf_add_tensor`)
 * and the spec https://github.com/ggml-org/ggml/blob/master/docs/gguf.md state them:
 *   'GGUF', u32 version, u64 n_tensors, u64 n_kv, the KV pairs (string key, u32 type, value), the tensor infos
 *   (string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset), zero padding to `general.alignment`
 *   (default 32), then each tensor's bytes at its offset; offset[i] = offset[i−1] + GGML_PAD(nbytes[i−1], alignment).
 * Metadata values are copied verbatim (their encoded bytes); only the entries the caller replaces are re-encoded.
 */
import { dtypeInfo } from '../../model/dtypes';
import { ggmlType, GGML_TYPES } from './ggmlTypes';

//#region wire

/** GGUF value types used by the writer when it encodes a value itself (gguf.h `enum gguf_type`). */
export const GGUF_VALUE_TYPE = { UINT32: 4, STRING: 8 } as const;

const TEXT = new TextEncoder();

/** Growable little-endian byte sink for the header. */
class Sink {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`GGUF u64 field ${v} is not a non-negative safe integer`);
    this.reserve(8);
    this.view.setUint32(this.length, v % 0x1_0000_0000, true);
    this.view.setUint32(this.length + 4, Math.floor(v / 0x1_0000_0000), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const b = TEXT.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Encodes a u32 metadata value (e.g. `general.file_type`, `general.quantization_version`). */
export function encodeGgufU32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}
//#endregion

//#region layout

/** A metadata entry to write: key, GGUF value type and the value's encoded bytes. */
export interface GgufKvOut {
  readonly key: string;
  readonly valueType: number;
  readonly value: Uint8Array;
}

/** A tensor info to write. */
export interface GgufTensorOut {
  readonly name: string;
  /** `ne[]`, innermost (row) first, as stored. */
  readonly ne: readonly number[];
  /** IR dtype id of the stored type (must be a ggml type). */
  readonly dtype: string;
}

/** The header bytes and where each tensor's data goes. */
export interface GgufLayout {
  readonly header: Uint8Array;
  /** Absolute offset of the data section (= header.length, already padded). */
  readonly dataOffset: number;
  /** Per tensor (input order): offset inside the data section. */
  readonly tensorOffsets: readonly number[];
  /** Per tensor: stored bytes (without padding). */
  readonly tensorBytes: readonly number[];
  /** Total file size. */
  readonly fileBytes: number;
  readonly alignment: number;
}

const ID_BY_DTYPE: ReadonlyMap<string, number> = new Map(GGML_TYPES.map((t) => [t.dtype, t.id]));

/** Rounds `n` up to a multiple of `alignment` (GGML_PAD). */
export function padTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Bytes of a tensor of `dtype` with `ne` (rows must be whole blocks). Throws RangeError otherwise. */
export function ggufTensorBytes(name: string, ne: readonly number[], dtype: string): number {
  const info = dtypeInfo(dtype);
  if (!info) throw new RangeError(`tensor '${name}': unknown dtype '${dtype}'`);
  const row = ne.length > 0 ? ne[0]! : 1;
  if (row % info.blockSize !== 0) throw new RangeError(`tensor '${name}': rows of ${row} elements are not a multiple of the ${info.label} block size ${info.blockSize}`);
  let n = 1;
  for (const d of ne) n *= d;
  return (n / info.blockSize) * info.bytesPerBlock;
}

/**
 * Lays out a GGUF file: header bytes (version, counts, metadata, tensor infos, padding) and each tensor's offset.
 * `alignment` must equal the `general.alignment` value among `kvs` (or 32 when absent), as readers derive it.
 */
export function layoutGguf(version: number, kvs: readonly GgufKvOut[], tensors: readonly GgufTensorOut[], alignment: number): GgufLayout {
  if (!(alignment > 0 && (alignment & (alignment - 1)) === 0)) throw new RangeError(`GGUF alignment ${alignment} is not a power of two`);
  const keys = new Set<string>();
  for (const kv of kvs) {
    if (keys.has(kv.key)) throw new RangeError(`metadata key '${kv.key}' appears twice`);
    keys.add(kv.key);
  }
  const tensorBytes = tensors.map((t) => ggufTensorBytes(t.name, t.ne, t.dtype));
  const tensorOffsets: number[] = [];
  let offset = 0;
  for (const bytes of tensorBytes) {
    tensorOffsets.push(offset);
    offset += padTo(bytes, alignment);
  }
  const s = new Sink();
  s.u32(0x46554747);
  s.u32(version);
  s.u64(tensors.length);
  s.u64(kvs.length);
  for (const kv of kvs) {
    s.string(kv.key);
    s.u32(kv.valueType);
    s.bytes(kv.value);
  }
  tensors.forEach((t, i) => {
    const id = ID_BY_DTYPE.get(t.dtype);
    if (id === undefined || !ggmlType(id)) throw new RangeError(`tensor '${t.name}': '${t.dtype}' is not a ggml type`);
    s.string(t.name);
    s.u32(t.ne.length);
    for (const d of t.ne) s.u64(d);
    s.u32(id);
    s.u64(tensorOffsets[i]!);
  });
  s.zeros(padTo(s.length, alignment) - s.length);
  const header = s.result();
  const last = tensorBytes.length - 1;
  // The file ends right after the last tensor (llama.cpp pads it too; either reads back the same).
  const fileBytes = header.length + (last >= 0 ? tensorOffsets[last]! + padTo(tensorBytes[last]!, alignment) : 0);
  return { header, dataOffset: header.length, tensorOffsets, tensorBytes, fileBytes, alignment };
}
//#endregion
