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
 * Speed: every accessor is synchronous over a page cache. When a byte is not cached the accessor throws a
 * {@link PageMiss}; the async drivers {@link FlatBufferReader.run} and {@link FlatBufferReader.each} catch it,
 * load the page (with an adaptive read-ahead window, forwards or backwards, in one read), roll the step's
 * decode budget back and re-run that step. So a walk costs one `await` per page miss, not one per field.
 * Steps must therefore be transactional: read first, then produce their result (retries re-run them).
 *
 * Threats handled: offsets past EOF, negative or past-EOF vtables, vtable/table sizes outside the table,
 * self-referential offsets (a uoffset of 0 and a table naming itself as its vtable), vector counts whose
 * payload passes EOF, and aliasing (many tables pointing at one big vector/string) through a decode budget
 * proportional to the file size. Recursion cannot happen: callers walk a fixed-depth schema. A step cannot
 * livelock on retries: pages it touched stay pinned in the cache until it completes.
 */
import { ModelFormatError, formatError, throwIfCancelled, type CancellationToken, type ModelFormatErrorCode } from '../../errors';
import type { ByteSource } from '../../io/byteSource';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Page size of the cache. Tables of a TFLite model sit close together; payloads are skipped. */
const PAGE_BYTES = 64 * 1024;
/** Pages kept (8 MiB) beyond those pinned by the running step. Evicted pages are re-read on demand. */
const MAX_CACHED_PAGES = 128;
/** Largest read-ahead window (1 MiB): reached after a few adjacent misses (a sequential walk), else 1 page. */
const MAX_READ_AHEAD_PAGES = 16;
/** Largest single decode: strings are cut to this many bytes at most. */
const MAX_CHUNK_BYTES = 1024 * 1024;
/**
 * Page misses one step may take before we call it a bug. Steps read a bounded number of pages (a table, its
 * vtable, a few short vectors and strings), so this only guards against a logic error looping forever.
 */
const MAX_MISSES_PER_STEP = 4096;

/**
 * Signal thrown by synchronous accessors when a page is not cached. Not an Error: no stack is captured, so a
 * miss costs little. Caught only by the async drivers of {@link FlatBufferReader}.
 */
export class PageMiss {
  constructor(readonly page: number) {}
}

/**
 * What is being read, for error messages: a string, or an object whose `toString()` builds the text only when
 * a check fails (walks of 10^5 tables would otherwise build 10^6 message strings that are never shown).
 */
export type What = string | { toString(): string };

/** A table whose vtable has been read and checked. */
export interface FbTable {
  /** Absolute file offset of the table (where its soffset lives). */
  readonly position: number;
  /** Field offsets relative to the table start, by field index (0 = absent). */
  readonly fieldOffsets: Uint16Array;
  /** Bytes of the table that fields may occupy (furthest present field + 8, at most the declared size). */
  readonly end: number;
}

interface Page {
  /** The page's bytes (PAGE_BYTES, or fewer for the file's last page); recycled after eviction. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Step generation that last touched the page; pages of the running step are never evicted. */
  gen: number;
  /** Touched since eviction last passed it (second-chance / CLOCK replacement, no reordering per access). */
  used: boolean;
}

interface Vtable {
  readonly fields: Uint16Array;
  readonly tableBytes: number;
  readonly end: number;
}

/** Element kinds of {@link FlatBufferReader.scalarVector}. */
export type ScalarKind = 'i32' | 'f32' | 'i64';
const KIND_BYTES: Readonly<Record<ScalarKind, number>> = { i32: 4, f32: 4, i64: 8 };

/** Reads a FlatBuffer lazily through a small page cache (second-chance replacement); every access is checked against the file size. */
export class FlatBufferReader {
  private readonly pages = new Map<number, Page>();
  /** Evicted full-size pages, reused by the next loads (no allocation per page once the cache is warm). */
  private readonly spare: Page[] = [];
  private readonly vtables = new Map<number, Vtable>();
  private lastIndex = -1;
  private lastPage: Page | undefined;
  private gen = 0;
  /** Adaptive read-ahead state: the last window loaded and how many adjacent misses led to it. */
  private windowFirst = -2;
  private windowLast = -2;
  private streak = 0;
  /** Remaining decode work (bytes/elements), rolled back when a step is retried. */
  private budget: number;
  /** Decode work charged for cached vtables (never rolled back: a vtable is parsed once). */
  private vtableUnits = 0;
  /** Pages read from the source, for tests and benchmarks. */
  pagesRead = 0;
  /** Read calls made on the source (each loads one read-ahead window). */
  readsIssued = 0;
  /** Distinct vtables parsed and validated (each once, however many tables share it). */
  vtablesParsed = 0;

  /** `budget` defaults to about 4 units of decode work per file byte: legitimate files need about 1. */
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
    if (this.budget < this.vtableUnits) {
      this.fail('limit-exceeded', `the flatbuffer needs more decoding work than its ${this.size} bytes allow (offsets alias the same data many times)`, offset);
    }
  }

  /** Like {@link charge}, for work whose result is cached (vtables): not rolled back when a step is retried. */
  private chargeOnce(units: number, offset: number): void {
    this.vtableUnits += units;
    this.charge(0, offset);
  }

  //#region async drivers
  /** Runs one synchronous step, loading pages and re-running it until it completes. */
  async run<T>(step: () => T): Promise<T> {
    for (let misses = 0; ; misses++) {
      const saved = this.budget;
      this.beginStep();
      try {
        return step();
      } catch (e) {
        if (!(e instanceof PageMiss)) throw e;
        this.budget = saved;
        this.checkMisses(misses);
        await this.load(e.page);
      }
    }
  }

  /**
   * Runs `step(i)` for i = 0..count-1 in order, synchronously while pages are cached; on a miss it loads the
   * page and re-runs step i. Checks `token` every 1024 steps.
   */
  async each(count: number, step: (i: number) => void, token?: CancellationToken): Promise<void> {
    let i = 0;
    let misses = 0;
    while (i < count) {
      let saved = this.budget;
      try {
        for (; i < count; i++) {
          if ((i & 1023) === 0) throwIfCancelled(token);
          saved = this.budget;
          this.beginStep();
          step(i);
          misses = 0;
        }
      } catch (e) {
        if (!(e instanceof PageMiss)) throw e;
        this.budget = saved;
        this.checkMisses(misses++);
        await this.load(e.page);
      }
    }
  }

  /** {@link each} collecting the results. */
  async map<T>(count: number, step: (i: number) => T, token?: CancellationToken): Promise<T[]> {
    const out = new Array<T>(count);
    await this.each(count, (i) => {
      out[i] = step(i);
    }, token);
    return out;
  }

  private beginStep(): void {
    this.gen++;
    this.lastIndex = -1;
  }

  private checkMisses(misses: number): void {
    if (misses >= MAX_MISSES_PER_STEP) throw new Error(`FlatBufferReader: one step missed ${misses} pages.`);
  }

  /** Loads page `index` and, after adjacent misses, a growing window beyond it in the walk's direction. */
  private async load(index: number): Promise<void> {
    const maxPage = Math.ceil(this.size / PAGE_BYTES) - 1;
    if (index < 0 || index > maxPage) throw new Error(`FlatBufferReader: page ${index} is outside the file.`);
    let forward = true;
    if (index === this.windowLast + 1) this.streak++;
    else if (index === this.windowFirst - 1) {
      this.streak++;
      forward = false;
    } else this.streak = 0;
    // 1, 1, 2, 4, ... pages: a lone miss reads one page; a sequential walk reads up to 1 MiB at a time.
    const want = Math.min(MAX_READ_AHEAD_PAGES, this.streak === 0 ? 1 : 2 ** (this.streak - 1));
    let first = index;
    let last = index;
    if (forward) {
      while (last - first + 1 < want && last < maxPage && !this.pages.has(last + 1)) last++;
    } else {
      while (last - first + 1 < want && first > 0 && !this.pages.has(first - 1)) first--;
    }
    const start = first * PAGE_BYTES;
    const length = Math.min((last + 1) * PAGE_BYTES, this.size) - start;
    const bytes = await this.source.read(start, length);
    this.readsIssued++;
    this.windowFirst = first;
    this.windowLast = last;
    for (let p = first; p <= last; p++) {
      if (this.pages.has(p)) continue;
      // Copy each page: a ByteSource may return a view into a buffer it reuses, and pages are evicted alone.
      const rel = (p - first) * PAGE_BYTES;
      const end = Math.min(rel + PAGE_BYTES, length);
      let page: Page;
      if (end - rel === PAGE_BYTES && this.spare.length > 0) {
        page = this.spare.pop()!;
        page.bytes.set(bytes.subarray(rel, end));
        page.gen = -1;
        page.used = false;
      } else {
        const copy = bytes.slice(rel, end);
        page = { bytes: copy, view: new DataView(copy.buffer), gen: -1, used: false };
      }
      this.pages.set(p, page);
      this.pagesRead++;
    }
    this.evict();
  }

  /**
   * Drops pages beyond the cap in insertion order, giving pages touched since the last pass a second chance
   * (moved to the back, flag cleared) and never dropping those of the running step.
   */
  private evict(): void {
    let excess = this.pages.size - MAX_CACHED_PAGES;
    if (excess <= 0) return;
    const again: [number, Page][] = [];
    for (const [index, page] of this.pages) {
      if (excess <= 0) break;
      if (page.gen === this.gen) continue;
      this.pages.delete(index);
      if (page.used) {
        page.used = false;
        again.push([index, page]);
        continue;
      }
      if (index === this.lastIndex) this.lastIndex = -1;
      if (page.bytes.length === PAGE_BYTES && this.spare.length < MAX_READ_AHEAD_PAGES) this.spare.push(page);
      excess--;
    }
    for (const [index, page] of again) this.pages.set(index, page);
    if (excess > 0 && again.length > 0) this.evict(); // every page had its second chance; now drop the oldest
  }
  //#endregion

  //#region synchronous byte access
  /** Cached page `index` (pinned for the running step), or a {@link PageMiss}. */
  private page(index: number): Page {
    if (index === this.lastIndex) return this.lastPage!;
    const p = this.pages.get(index);
    if (p === undefined) throw new PageMiss(index);
    p.gen = this.gen; // pinned for this step
    p.used = true;
    this.lastIndex = index;
    this.lastPage = p;
    return p;
  }

  /** Copies `length` bytes at `offset` (already range-checked) into `out` from as many pages as they span. */
  private copyOut(offset: number, length: number, out: Uint8Array): void {
    let done = 0;
    while (done < length) {
      const index = Math.floor((offset + done) / PAGE_BYTES);
      const p = this.page(index);
      const rel = offset + done - index * PAGE_BYTES;
      const n = Math.min(length - done, p.bytes.length - rel);
      out.set(p.bytes.subarray(rel, rel + n), done);
      done += n;
    }
  }

  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);

  /** The `width` (≤ 8) bytes at `offset`, which straddle two pages, copied into a scratch view. */
  private straddle(offset: number, width: number): DataView {
    this.copyOut(offset, width, this.scratch);
    return this.scratchView;
  }

  // Raw little-endian reads at range-checked offsets (callers check against the file size first).
  private rawU8(offset: number): number {
    const index = Math.floor(offset / PAGE_BYTES);
    return this.page(index).view.getUint8(offset - index * PAGE_BYTES);
  }
  private rawI8(offset: number): number {
    const index = Math.floor(offset / PAGE_BYTES);
    return this.page(index).view.getInt8(offset - index * PAGE_BYTES);
  }
  private rawU16(offset: number): number {
    const index = Math.floor(offset / PAGE_BYTES);
    const rel = offset - index * PAGE_BYTES;
    return rel <= PAGE_BYTES - 2 ? this.page(index).view.getUint16(rel, true) : this.straddle(offset, 2).getUint16(0, true);
  }
  private rawI32(offset: number): number {
    const index = Math.floor(offset / PAGE_BYTES);
    const rel = offset - index * PAGE_BYTES;
    return rel <= PAGE_BYTES - 4 ? this.page(index).view.getInt32(rel, true) : this.straddle(offset, 4).getInt32(0, true);
  }
  private rawU32(offset: number): number {
    const index = Math.floor(offset / PAGE_BYTES);
    const rel = offset - index * PAGE_BYTES;
    return rel <= PAGE_BYTES - 4 ? this.page(index).view.getUint32(rel, true) : this.straddle(offset, 4).getUint32(0, true);
  }
  private rawF32(offset: number): number {
    const index = Math.floor(offset / PAGE_BYTES);
    const rel = offset - index * PAGE_BYTES;
    return rel <= PAGE_BYTES - 4 ? this.page(index).view.getFloat32(rel, true) : this.straddle(offset, 4).getFloat32(0, true);
  }

  /** Checks that [offset, offset+length) lies inside the file, else throws 'truncated' describing `what`. */
  checkRange(offset: number, length: number, what: What): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      this.fail('truncated', `${what} at offset ${offset} needs ${length} bytes but the file has ${this.size} bytes`, offset);
    }
  }

  /** Copies `length` (≤ 1 MiB) checked bytes. */
  bytes(offset: number, length: number, what: What): Uint8Array {
    this.checkRange(offset, length, what);
    if (length > MAX_CHUNK_BYTES) throw new Error(`FlatBufferReader: read of ${length} bytes exceeds the chunk size.`);
    const out = new Uint8Array(length);
    this.copyOut(offset, length, out);
    return out;
  }

  /** Checked little-endian u32 at an absolute offset. */
  u32(offset: number, what: What): number {
    if (!(offset >= 0 && offset + 4 <= this.size)) this.checkRange(offset, 4, what);
    return this.rawU32(offset);
  }

  /** Follows the uoffset stored at `fieldPosition`; the target must lie inside the file and not be the field itself. */
  deref(fieldPosition: number, what: What): number {
    return this.target(fieldPosition, this.u32(fieldPosition, what), what);
  }

  private target(fieldPosition: number, rel: number, what: What): number {
    if (rel === 0) this.fail('cycle', `${what} at offset ${fieldPosition} points to itself`, fieldPosition);
    const to = fieldPosition + rel;
    if (to + 4 > this.size) this.fail('bad-offset', `${what} at offset ${fieldPosition} points to offset ${to}, past the end of the file (${this.size} bytes)`, fieldPosition);
    return to;
  }
  //#endregion

  //#region tables
  /** Reads and checks the table at `position` (its vtable and inline size). */
  table(position: number, what: What): FbTable {
    this.charge(8, position);
    if (!(position >= 0 && position + 4 <= this.size)) this.checkRange(position, 4, what);
    const soffset = this.rawI32(position);
    if (soffset === 0) this.fail('cycle', `${what} at offset ${position} names itself as its vtable`, position);
    const vtablePos = position - soffset;
    if (vtablePos < 0 || vtablePos + 4 > this.size) {
      this.fail('bad-offset', `${what} at offset ${position} has its vtable at offset ${vtablePos}, outside the file (${this.size} bytes)`, position);
    }
    // Vtables are shared by many tables: parse and validate each once. Its checks depend only on the vtable
    // (field offsets against the inline size it declares), so a million tables aliasing one huge vtable
    // cost O(1) each.
    let vtable = this.vtables.get(vtablePos);
    if (vtable === undefined) vtable = this.parseVtable(vtablePos, position, what);
    const tableBytes = vtable.tableBytes;
    if (position + tableBytes > this.size) this.checkRange(position, tableBytes, what);
    this.charge(vtable.end, position);
    return { position, fieldOffsets: vtable.fields, end: vtable.end };
  }

  private parseVtable(vtablePos: number, position: number, what: What): Vtable {
    const vtableBytes = this.rawU16(vtablePos);
    const tableBytes = this.rawU16(vtablePos + 2);
    if (vtableBytes < 4 || vtableBytes % 2 !== 0) this.fail('bad-value', `${what} at offset ${position} has a malformed vtable (size ${vtableBytes})`, vtablePos);
    if (tableBytes < 4) this.fail('bad-value', `${what} at offset ${position} declares an inline size of ${tableBytes} bytes`, vtablePos);
    this.checkRange(vtablePos, vtableBytes, `vtable of ${what}`);
    // Charged once, whatever step retries follow (the parsed vtable stays cached).
    this.chargeOnce(vtableBytes, vtablePos);
    const fields = new Uint16Array(vtableBytes / 2 - 2);
    // Only read as far as the furthest field actually present (+8 for the widest scalar).
    let end = 4;
    for (let i = 0; i < fields.length; i++) {
      const f = this.rawU16(vtablePos + 4 + 2 * i);
      fields[i] = f;
      if (f === 0) continue;
      if (f < 4 || f >= tableBytes) this.fail('bad-offset', `${what} at offset ${position} has field ${i} at ${f}, outside its ${tableBytes}-byte table`, position);
      end = Math.max(end, Math.min(f + 8, tableBytes));
    }
    const vtable = { fields, tableBytes, end };
    this.vtablesParsed++;
    this.vtables.set(vtablePos, vtable);
    return vtable;
  }

  /** Offset of field `index` inside `t`, checked to hold `width` bytes; undefined when absent. */
  private field(t: FbTable, index: number, width: number, what: What): number | undefined {
    const f = index < t.fieldOffsets.length ? t.fieldOffsets[index]! : 0;
    if (f === 0) return undefined;
    if (f + width > t.end) this.fail('bad-offset', `${what} of the table at offset ${t.position} runs past the table`, t.position + f);
    return f;
  }

  /** True when field `index` is present. */
  has(t: FbTable, index: number): boolean {
    return index < t.fieldOffsets.length && t.fieldOffsets[index] !== 0;
  }

  /** Unsigned byte field, or `fallback` when absent. */
  u8Field(t: FbTable, index: number, fallback: number, what: What = 'field'): number {
    const f = this.field(t, index, 1, what);
    return f === undefined ? fallback : this.rawU8(t.position + f);
  }
  /** Signed byte field (enums such as TensorType), or `fallback` when absent. */
  i8Field(t: FbTable, index: number, fallback: number, what: What = 'field'): number {
    const f = this.field(t, index, 1, what);
    return f === undefined ? fallback : this.rawI8(t.position + f);
  }
  /** Signed 32-bit field, or `fallback` when absent. */
  i32Field(t: FbTable, index: number, fallback: number, what: What = 'field'): number {
    const f = this.field(t, index, 4, what);
    return f === undefined ? fallback : this.rawI32(t.position + f);
  }
  /** Unsigned 32-bit field (indices), or `fallback` when absent. */
  u32Field(t: FbTable, index: number, fallback: number, what: What = 'field'): number {
    const f = this.field(t, index, 4, what);
    return f === undefined ? fallback : this.rawU32(t.position + f);
  }
  /** Unsigned 64-bit field as a safe number; values above 2^53 throw 'limit-exceeded'. */
  u64Field(t: FbTable, index: number, fallback: number, what: What = 'field'): number {
    const f = this.field(t, index, 8, what);
    if (f === undefined) return fallback;
    const low = this.rawU32(t.position + f);
    const high = this.rawU32(t.position + f + 4);
    const value = high * 0x1_0000_0000 + low;
    if (high >= 0x20_0000) this.fail('limit-exceeded', `${what} ${BigInt(high) * 0x1_0000_0000n + BigInt(low)} is too large`, t.position + f);
    return value;
  }

  /** Absolute position of the object an offset field points to, or undefined when the field is absent. */
  refField(t: FbTable, index: number, what: What): number | undefined {
    const f = this.field(t, index, 4, what);
    if (f === undefined) return undefined;
    return this.target(t.position + f, this.rawU32(t.position + f), what);
  }

  /** Sub-table at field `index`, or undefined when absent. */
  tableField(t: FbTable, index: number, what: What): FbTable | undefined {
    const pos = this.refField(t, index, what);
    return pos === undefined ? undefined : this.table(pos, what);
  }
  //#endregion

  //#region vectors and strings
  /**
   * Reads a vector header at `position`: its element count, checked against `maxCount` (limit) and against
   * the bytes left in the file. Returns the count; element 0 is at `position + 4`.
   */
  vectorCount(position: number, elementBytes: number, maxCount: number, what: What): number {
    if (!(position >= 0 && position + 4 <= this.size)) this.checkRange(position, 4, `length of ${what}`);
    const count = this.rawU32(position);
    if (count > maxCount) this.fail('limit-exceeded', `${what} at offset ${position} has ${count} elements, more than the limit of ${maxCount}`, position);
    const start = position + 4;
    if (start + count * elementBytes > this.size) {
      this.fail('truncated', `${what} at offset ${position} declares ${count} elements of ${elementBytes} bytes but only ${this.size - start} bytes remain`, position);
    }
    return count;
  }

  /**
   * Decodes up to `keep` elements of a scalar vector (int32, float32, or int64 as a safe number); returns
   * the true count too. Runs of elements inside one page are read straight from that page's view. When
   * `zeros` is given and the kept int64 elements are all zero, its array is returned instead of a new one
   * (symmetric per-channel quantization stores thousands of zero points that are all 0).
   */
  scalarVector(position: number, kind: ScalarKind, maxCount: number, what: What, keep = maxCount, zeros?: (count: number) => number[]): { count: number; values: number[] } {
    const elementBytes = KIND_BYTES[kind];
    const count = this.vectorCount(position, elementBytes, maxCount, what);
    const n = Math.min(count, keep);
    this.charge(n * elementBytes + 4, position);
    const start = position + 4;
    if (zeros !== undefined && kind === 'i64' && this.allZero(start, n * 2)) return { count, values: zeros(n) };
    const values = new Array<number>(n);
    let i = 0;
    while (i < n) {
      const offset = start + i * elementBytes;
      const index = Math.floor(offset / PAGE_BYTES);
      const rel = offset - index * PAGE_BYTES;
      const p = this.page(index);
      const inPage = Math.min(n - i, Math.floor((p.bytes.length - rel) / elementBytes));
      if (inPage === 0) {
        values[i++] = this.element(kind, offset, what); // straddles two pages
        continue;
      }
      const v = p.view;
      if (kind === 'i32') for (let j = 0; j < inPage; j++) values[i + j] = v.getInt32(rel + 4 * j, true);
      else if (kind === 'f32') for (let j = 0; j < inPage; j++) values[i + j] = v.getFloat32(rel + 4 * j, true);
      else for (let j = 0; j < inPage; j++) values[i + j] = this.int64(v.getUint32(rel + 8 * j, true), v.getInt32(rel + 8 * j + 4, true), offset + 8 * j, what);
      i += inPage;
    }
    return { count, values };
  }

  /**
   * Smallest and largest of the `count` float32 elements at `start` (a counted, range-checked vector
   * payload), NaN skipped; undefined when none is a number. Charges the bytes scanned.
   */
  f32Range(start: number, count: number): [number, number] | undefined {
    this.charge(count * 4, start);
    let min = Infinity;
    let max = -Infinity;
    let i = 0;
    while (i < count) {
      const offset = start + 4 * i;
      const index = Math.floor(offset / PAGE_BYTES);
      const rel = offset - index * PAGE_BYTES;
      const p = this.page(index);
      const inPage = Math.min(count - i, Math.floor((p.bytes.length - rel) / 4));
      if (inPage === 0) {
        const x = this.rawF32(offset);
        if (x < min) min = x;
        if (x > max) max = x;
        i++;
        continue;
      }
      const v = p.view;
      for (let j = 0; j < inPage; j++) {
        const x = v.getFloat32(rel + 4 * j, true);
        if (x < min) min = x;
        if (x > max) max = x;
      }
      i += inPage;
    }
    return min <= max ? [min, max] : undefined;
  }

  /** True when the `words` u32 words at `start` (range-checked) are all zero. */
  private allZero(start: number, words: number): boolean {
    let w = 0;
    while (w < words) {
      const offset = start + 4 * w;
      const index = Math.floor(offset / PAGE_BYTES);
      const rel = offset - index * PAGE_BYTES;
      const p = this.page(index);
      const inPage = Math.min(words - w, Math.floor((p.bytes.length - rel) / 4));
      if (inPage === 0) {
        if (this.rawU32(offset) !== 0) return false;
        w++;
        continue;
      }
      const v = p.view;
      for (let j = 0; j < inPage; j++) if (v.getUint32(rel + 4 * j, true) !== 0) return false;
      w += inPage;
    }
    return true;
  }

  private element(kind: ScalarKind, offset: number, what: What): number {
    if (kind === 'i32') return this.rawI32(offset);
    if (kind === 'f32') return this.rawF32(offset);
    return this.int64(this.rawU32(offset), this.rawI32(offset + 4), offset, what);
  }

  /** An int64 from its words; values outside ±2^53 (no real zero point) are refused. */
  private int64(low: number, high: number, offset: number, what: What): number {
    const value = low + high * 0x1_0000_0000;
    if (!Number.isSafeInteger(value)) {
      this.fail('limit-exceeded', `${what} at offset ${offset} holds ${BigInt(high) * 0x1_0000_0000n + BigInt(low)}, outside the safe integer range`, offset);
    }
    return value;
  }

  /** Absolute positions of the tables in a vector of tables (each target checked inside the file). */
  async tableVector(position: number, maxCount: number, what: What, token?: CancellationToken): Promise<Float64Array> {
    const count = await this.run(() => {
      const c = this.vectorCount(position, 4, maxCount, what);
      this.charge(c * 4 + 4, position);
      return c;
    });
    const out = new Float64Array(count);
    const start = position + 4;
    await this.each(count, (i) => {
      const at = start + 4 * i;
      const rel = this.rawU32(at);
      const to = at + rel;
      if (rel === 0 || to + 4 > this.size) this.target(at, rel, `element ${i} of ${what}`);
      out[i] = to;
    }, token);
    return out;
  }

  /**
   * Reads a string at `position`: its length is checked against `maxBytes` (limit) and the file; at most
   * `keepBytes` are decoded, longer strings end with '…'.
   */
  string(position: number, maxBytes: number, keepBytes: number, what: What): string {
    const count = this.vectorCount(position, 1, maxBytes, what);
    const n = Math.min(count, keepBytes, MAX_CHUNK_BYTES);
    this.charge(n + 4, position);
    const start = position + 4;
    const index = Math.floor(start / PAGE_BYTES);
    const rel = start - index * PAGE_BYTES;
    let text: string;
    if (rel + n <= PAGE_BYTES) {
      const bytes = this.page(index).bytes;
      text = n <= 64 ? ascii(bytes, rel, n) : utf8.decode(bytes.subarray(rel, rel + n));
    } else {
      text = utf8.decode(this.bytes(start, n, what));
    }
    return n < count ? `${text}…` : text;
  }

  /** String at field `index`, or undefined when absent. */
  stringField(t: FbTable, index: number, maxBytes: number, keepBytes: number, what: What): string | undefined {
    const pos = this.refField(t, index, what);
    return pos === undefined ? undefined : this.string(pos, maxBytes, keepBytes, what);
  }
  //#endregion
}

/** Short strings that are pure ASCII decode without TextDecoder (tensor names); others go through UTF-8. */
function ascii(bytes: Uint8Array, start: number, n: number): string {
  for (let i = 0; i < n; i++) if (bytes[start + i]! >= 0x80) return utf8.decode(bytes.subarray(start, start + n));
  return String.fromCharCode.apply(null, bytes.subarray(start, start + n) as unknown as number[]);
}
