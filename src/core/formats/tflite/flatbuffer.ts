/**
 * A bounds-checked, lazily paged FlatBuffers table walker over a {@link ByteSource}.
 *
 * Why hand-written rather than the `flatbuffers` npm ByteBuffer: that class needs the whole file in one
 * Uint8Array and trusts every offset (an out-of-range offset reads `undefined` or throws a RangeError). Here
 * every offset, vtable, vector length and string length is untrusted and checked against the file size
 * before anything is read or allocated, and only the pages that hold tables are read — constant buffer
 * payloads are never touched.
 *
 * Wire format (https://flatbuffers.dev/internals/): little-endian; a `uoffset` is a u32 added to its own
 * position (so it always points forward); a table starts with an `soffset` (i32) that is *subtracted* from
 * the table position to find its vtable; a vtable is `u16 vtableBytes, u16 tableBytes, u16 fieldOffset[]`
 * (0 = field absent); vectors and strings are `u32 count` followed by the elements.
 *
 * Threats handled: offsets past EOF, negative or past-EOF vtables, vtable/table sizes outside the table,
 * self-referential offsets (a uoffset of 0 and a table naming itself as its vtable), vector counts whose
 * payload passes EOF, and aliasing (many tables pointing at one big vector/string) through a decode budget
 * proportional to the file size. Recursion cannot happen: callers walk a fixed-depth schema.
 */
import { ModelFormatError, formatError, type ModelFormatErrorCode } from '../../errors';
import type { ByteSource } from '../../io/byteSource';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Page size of the cache. Tables of a TFLite model sit close together; payloads are skipped. */
const PAGE_BYTES = 64 * 1024;
/** Pages kept (8 MiB). Evicted pages are re-read on demand, so memory stays flat for any file size. */
const MAX_CACHED_PAGES = 128;
/** Largest single read: vectors are decoded in chunks of at most this many bytes. */
const MAX_CHUNK_BYTES = 1024 * 1024;

/** A table whose vtable has been read and checked; field reads are synchronous over `inline`. */
export interface FbTable {
  /** Absolute file offset of the table (where its soffset lives). */
  readonly position: number;
  /** Field offsets relative to the table start, by field index (0 = absent). */
  readonly fieldOffsets: Uint16Array;
  /** The table's inline bytes (copy or page view): `inline[0]` is the soffset's first byte. */
  readonly inline: DataView;
}

/** Reads a FlatBuffer lazily through a small LRU page cache; every access is checked against the file size. */
export class FlatBufferReader {
  private readonly pages = new Map<number, Uint8Array>();
  private readonly vtables = new Map<number, { readonly fields: Uint16Array; readonly tableBytes: number; readonly end: number }>();
  private lastPage = -1;
  /** Remaining decode work (bytes/elements). Legitimate files need about their size; aliasing needs more. */
  private budget: number;
  /** Pages read from the source, for tests and benchmarks. */
  pagesRead = 0;
  /** Distinct vtables parsed and validated (each once, however many tables share it). */
  vtablesParsed = 0;

  constructor(readonly source: ByteSource, budget = source.size * 4 + 1_000_000) {
    this.budget = budget;
  }

  /** Total file size. */
  get size(): number {
    return this.source.size;
  }

  /** Throws a ModelFormatError naming the file. */
  fail(code: ModelFormatErrorCode, problem: string, offset?: number): never {
    throw new ModelFormatError(code, formatError(this.source.name, problem), offset);
  }

  /** Charges `units` of decode work; refuses files whose tables alias one another beyond any real model. */
  charge(units: number, offset: number): void {
    this.budget -= units;
    if (this.budget < 0) {
      this.fail('limit-exceeded', `the flatbuffer needs more decoding work than its ${this.size} bytes allow (offsets alias the same data many times)`, offset);
    }
  }

  /** Cached page or undefined; refreshes its LRU position (Map keeps insertion order). */
  private cachedPage(index: number): Uint8Array | undefined {
    const hit = this.pages.get(index);
    if (hit && index !== this.lastPage) {
      this.pages.delete(index);
      this.pages.set(index, hit);
      this.lastPage = index;
    }
    return hit;
  }

  private async loadPage(index: number): Promise<Uint8Array> {
    const start = index * PAGE_BYTES;
    const length = Math.min(PAGE_BYTES, this.size - start);
    // Copy: a ByteSource may return a view into a buffer it reuses.
    const bytes = (await this.source.read(start, length)).slice();
    this.pagesRead++;
    this.pages.set(index, bytes);
    this.lastPage = index;
    if (this.pages.size > MAX_CACHED_PAGES) {
      const oldest = this.pages.keys().next().value as number;
      this.pages.delete(oldest);
    }
    return bytes;
  }

  /** Checks that [offset, offset+length) lies inside the file, else throws 'truncated' describing `what`. */
  checkRange(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      this.fail('truncated', `${what} at offset ${offset} needs ${length} bytes but the file has ${this.size} bytes`, offset);
    }
  }

  /** Reads `length` (≤ 1 MiB) checked bytes as a DataView (a page view when possible, else a fresh copy). */
  async bytes(offset: number, length: number, what: string): Promise<DataView> {
    this.checkRange(offset, length, what);
    if (length > MAX_CHUNK_BYTES) throw new Error(`FlatBufferReader: read of ${length} bytes exceeds the chunk size.`);
    const first = Math.floor(offset / PAGE_BYTES);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / PAGE_BYTES);
    if (first === last) {
      const p = this.cachedPage(first) ?? (await this.loadPage(first));
      const rel = offset - first * PAGE_BYTES;
      return new DataView(p.buffer, p.byteOffset + rel, length);
    }
    const out = new Uint8Array(length);
    let done = 0;
    for (let i = first; i <= last; i++) {
      const p = this.cachedPage(i) ?? (await this.loadPage(i));
      const rel = offset + done - i * PAGE_BYTES;
      const n = Math.min(length - done, p.length - rel);
      out.set(p.subarray(rel, rel + n), done);
      done += n;
    }
    return new DataView(out.buffer);
  }

  /** Checked little-endian u32 at an absolute offset. */
  async u32(offset: number, what: string): Promise<number> {
    return (await this.bytes(offset, 4, what)).getUint32(0, true);
  }

  /** Follows the uoffset stored at `fieldPosition`; the target must lie inside the file and not be the field itself. */
  async deref(fieldPosition: number, what: string): Promise<number> {
    const rel = await this.u32(fieldPosition, what);
    return this.target(fieldPosition, rel, what);
  }

  private target(fieldPosition: number, rel: number, what: string): number {
    if (rel === 0) this.fail('cycle', `${what} at offset ${fieldPosition} points to itself`, fieldPosition);
    const to = fieldPosition + rel;
    if (to + 4 > this.size) this.fail('bad-offset', `${what} at offset ${fieldPosition} points to offset ${to}, past the end of the file (${this.size} bytes)`, fieldPosition);
    return to;
  }

  /** Reads and checks the table at `position` (its vtable and inline fields). */
  async table(position: number, what: string): Promise<FbTable> {
    this.charge(8, position);
    const soffset = (await this.bytes(position, 4, what)).getInt32(0, true);
    if (soffset === 0) this.fail('cycle', `${what} at offset ${position} names itself as its vtable`, position);
    const vtablePos = position - soffset;
    if (vtablePos < 0 || vtablePos + 4 > this.size) {
      this.fail('bad-offset', `${what} at offset ${position} has its vtable at offset ${vtablePos}, outside the file (${this.size} bytes)`, position);
    }
    // Vtables are shared by many tables: parse and validate each once. Its checks depend only on the vtable
    // (field offsets against the inline size it declares), so a million tables aliasing one huge vtable
    // cost O(1) each.
    let vtable = this.vtables.get(vtablePos);
    if (vtable === undefined) {
      const head = await this.bytes(vtablePos, 4, `vtable of ${what}`);
      const vtableBytes = head.getUint16(0, true);
      const tableBytes = head.getUint16(2, true);
      if (vtableBytes < 4 || vtableBytes % 2 !== 0) this.fail('bad-value', `${what} at offset ${position} has a malformed vtable (size ${vtableBytes})`, vtablePos);
      if (tableBytes < 4) this.fail('bad-value', `${what} at offset ${position} declares an inline size of ${tableBytes} bytes`, vtablePos);
      const vt = await this.bytes(vtablePos, vtableBytes, `vtable of ${what}`);
      this.charge(vtableBytes, vtablePos);
      const fields = new Uint16Array(vtableBytes / 2 - 2);
      // Only read as far as the furthest field actually present (+8 for the widest scalar).
      let end = 4;
      for (let i = 0; i < fields.length; i++) {
        const f = vt.getUint16(4 + 2 * i, true);
        fields[i] = f;
        if (f === 0) continue;
        if (f < 4 || f >= tableBytes) this.fail('bad-offset', `${what} at offset ${position} has field ${i} at ${f}, outside its ${tableBytes}-byte table`, position);
        end = Math.max(end, Math.min(f + 8, tableBytes));
      }
      vtable = { fields, tableBytes, end };
      this.vtablesParsed++;
      this.vtables.set(vtablePos, vtable);
    }
    this.checkRange(position, vtable.tableBytes, what);
    this.charge(vtable.end, position);
    const inline = await this.bytes(position, vtable.end, what);
    return { position, fieldOffsets: vtable.fields, inline };
  }

  private field(t: FbTable, index: number, width: number, what: string): number | undefined {
    const f = index < t.fieldOffsets.length ? t.fieldOffsets[index]! : 0;
    if (f === 0) return undefined;
    if (f + width > t.inline.byteLength) this.fail('bad-offset', `${what} of the table at offset ${t.position} runs past the table`, t.position + f);
    return f;
  }

  /** True when field `index` is present. */
  has(t: FbTable, index: number): boolean {
    return index < t.fieldOffsets.length && t.fieldOffsets[index] !== 0;
  }

  /** Unsigned byte field, or `fallback` when absent. */
  u8Field(t: FbTable, index: number, fallback: number, what = 'field'): number {
    const f = this.field(t, index, 1, what);
    return f === undefined ? fallback : t.inline.getUint8(f);
  }
  /** Signed byte field (enums such as TensorType), or `fallback` when absent. */
  i8Field(t: FbTable, index: number, fallback: number, what = 'field'): number {
    const f = this.field(t, index, 1, what);
    return f === undefined ? fallback : t.inline.getInt8(f);
  }
  /** Signed 32-bit field, or `fallback` when absent. */
  i32Field(t: FbTable, index: number, fallback: number, what = 'field'): number {
    const f = this.field(t, index, 4, what);
    return f === undefined ? fallback : t.inline.getInt32(f, true);
  }
  /** Unsigned 32-bit field (indices), or `fallback` when absent. */
  u32Field(t: FbTable, index: number, fallback: number, what = 'field'): number {
    const f = this.field(t, index, 4, what);
    return f === undefined ? fallback : t.inline.getUint32(f, true);
  }
  /** Unsigned 64-bit field as a safe number; values above 2^53 throw 'limit-exceeded'. */
  u64Field(t: FbTable, index: number, fallback: number, what = 'field'): number {
    const f = this.field(t, index, 8, what);
    if (f === undefined) return fallback;
    const low = t.inline.getUint32(f, true);
    const high = t.inline.getUint32(f + 4, true);
    const value = high * 0x1_0000_0000 + low;
    if (high >= 0x20_0000) this.fail('limit-exceeded', `${what} ${BigInt(high) * 0x1_0000_0000n + BigInt(low)} is too large`, t.position + f);
    return value;
  }

  /** Absolute position of the object an offset field points to, or undefined when the field is absent. */
  async refField(t: FbTable, index: number, what: string): Promise<number | undefined> {
    const f = this.field(t, index, 4, what);
    if (f === undefined) return undefined;
    return this.target(t.position + f, t.inline.getUint32(f, true), what);
  }

  /** Sub-table at field `index`, or undefined when absent. */
  async tableField(t: FbTable, index: number, what: string): Promise<FbTable | undefined> {
    const pos = await this.refField(t, index, what);
    return pos === undefined ? undefined : this.table(pos, what);
  }

  /**
   * Reads a vector header at `position`: its element count, checked against `maxCount` (limit) and against
   * the bytes left in the file. Returns the count and the absolute offset of element 0.
   */
  async vectorHeader(position: number, elementBytes: number, maxCount: number, what: string): Promise<{ count: number; start: number }> {
    const count = await this.u32(position, `length of ${what}`);
    if (count > maxCount) this.fail('limit-exceeded', `${what} at offset ${position} has ${count} elements, more than the limit of ${maxCount}`, position);
    const start = position + 4;
    if (start + count * elementBytes > this.size) {
      this.fail('truncated', `${what} at offset ${position} declares ${count} elements of ${elementBytes} bytes but only ${this.size - start} bytes remain`, position);
    }
    return { count, start };
  }

  /**
   * Decodes up to `keep` elements of a scalar vector, in chunks; returns the true count too.
   * `decode(view, byteOffset)` reads one element.
   */
  async scalarVector(
    position: number,
    elementBytes: number,
    maxCount: number,
    what: string,
    decode: (view: DataView, byteOffset: number) => number,
    keep = maxCount,
  ): Promise<{ count: number; values: number[] }> {
    const { count, start } = await this.vectorHeader(position, elementBytes, maxCount, what);
    const n = Math.min(count, keep);
    this.charge(n * elementBytes + 4, position);
    const values: number[] = new Array<number>(n);
    const perChunk = Math.max(1, Math.floor(MAX_CHUNK_BYTES / elementBytes));
    for (let i = 0; i < n; i += perChunk) {
      const m = Math.min(perChunk, n - i);
      const view = await this.bytes(start + i * elementBytes, m * elementBytes, what);
      for (let j = 0; j < m; j++) values[i + j] = decode(view, j * elementBytes);
    }
    return { count, values };
  }

  /** Absolute positions of the tables in a vector of tables. */
  async tableVector(position: number, maxCount: number, what: string): Promise<number[]> {
    const { count, start } = await this.vectorHeader(position, 4, maxCount, what);
    this.charge(count * 4 + 4, position);
    const out: number[] = new Array<number>(count);
    const perChunk = MAX_CHUNK_BYTES / 4;
    for (let i = 0; i < count; i += perChunk) {
      const m = Math.min(perChunk, count - i);
      const view = await this.bytes(start + i * 4, m * 4, what);
      for (let j = 0; j < m; j++) out[i + j] = this.target(start + (i + j) * 4, view.getUint32(j * 4, true), `element ${i + j} of ${what}`);
    }
    return out;
  }

  /**
   * Reads a string at `position`: its length is checked against `maxBytes` (limit) and the file; at most
   * `keepBytes` are decoded, longer strings end with '…'.
   */
  async string(position: number, maxBytes: number, keepBytes: number, what: string): Promise<string> {
    const { count, start } = await this.vectorHeader(position, 1, maxBytes, what);
    const n = Math.min(count, keepBytes, MAX_CHUNK_BYTES);
    this.charge(n + 4, position);
    const view = await this.bytes(start, n, what);
    const text = utf8.decode(new Uint8Array(view.buffer, view.byteOffset, n));
    return n < count ? `${text}…` : text;
  }

  /** String at field `index`, or undefined when absent. */
  async stringField(t: FbTable, index: number, maxBytes: number, keepBytes: number, what: string): Promise<string | undefined> {
    const pos = await this.refField(t, index, what);
    return pos === undefined ? undefined : this.string(pos, maxBytes, keepBytes, what);
  }
}

/* Decoders for FlatBufferReader.scalarVector. */
/** int32 element. */
export const decodeI32 = (v: DataView, o: number): number => v.getInt32(o, true);
/** float32 element. */
export const decodeF32 = (v: DataView, o: number): number => v.getFloat32(o, true);
/** int64 as a number (exact up to 2^53; zero points and similar are small). */
export const decodeI64 = (v: DataView, o: number): number => v.getUint32(o, true) + v.getInt32(o + 4, true) * 0x1_0000_0000;
