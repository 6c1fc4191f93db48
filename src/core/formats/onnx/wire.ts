/**
 * A streaming protobuf wire-format cursor over a {@link ByteSource}. The ONNX reader walks ModelProto with it
 * field by field so that tensor payloads (`raw_data`, packed `float_data`…) become byte ranges that are skipped
 * with a seek, never read: a 1 GB model costs a few pages of reads.
 *
 * Wire format: https://protobuf.dev/programming-guides/encoding/ — every field is a varint key
 * `(field_number << 3) | wire_type`, then a varint (0), 8 bytes (1), a varint length and that many bytes (2),
 * or 4 bytes (5). Groups (3, 4) are long deprecated and ONNX never uses them; 6 and 7 do not exist.
 *
 * Every length is checked against the end of its enclosing message and the file before anything is read or
 * allocated; a varint longer than 10 bytes, a length past the end or an unknown wire type throw
 * {@link ModelFormatError} with a one-sentence message naming the file.
 */
import { ModelFormatError, formatError } from '../../errors';
import type { ByteSource } from '../../io/byteSource';
import { readVarint, VARINT_TOO_LONG, VARINT_TRUNCATED, type VarintParts } from '../../io/varint';

/** Protobuf wire types. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** Bytes a key plus a length varint can take at most (two 10-byte varints). */
export const MAX_KEY_AND_LENGTH_BYTES = 20;

const utf8 = new TextDecoder('utf-8', { fatal: false });
/**
 * Strings shorter than this are cut from a text window when they are ASCII ({@link WireCursor.shortAscii}): V8 copies
 * substrings under 13 characters (longer ones share the parent string's memory).
 */
const SHORT_TEXT_CHARS = 13;
/** Bytes of buffer one text window covers. */
const TEXT_WINDOW_BYTES = 16 * 1024;
/**
 * Bytes of buffer a text window covers after one that served few names ({@link WireCursor.shortAscii}): where the
 * WebAssembly scan reads a graph, the walk reads a node of its own only every 1,024 nodes, two short names each.
 */
const SMALL_TEXT_WINDOW_BYTES = 512;
/** One char per byte (WHATWG maps 'latin1' to windows-1252: only its ASCII part, the same in every encoding, is used). */
const latin1 = new TextDecoder('latin1');
const TWO_32 = 0x1_0000_0000;
/** Scratch for {@link readVarint}: one per module, the walker is synchronous between awaits. */
const VARINT: VarintParts = { lo: 0, hi: 0, next: 0 };

/** A signed 64-bit value that does not fit a safe JS number (kept exact as decimal text). */
export interface BigValue {
  readonly big: string;
}

/** What a parsing step waits for: `n` bytes from the cursor's position, bounded by `end` (see {@link WireCursor.fill}). */
export interface Need {
  readonly n: number;
  readonly end: number;
  /** Where the bytes should land when read (exactly `n` of them, see {@link needInto}); a page of its own when undefined. */
  readonly into?: Uint8Array;
}

/**
 * A parsing step as a generator: it runs synchronously while its bytes are buffered and yields a {@link Need}
 * only when a page must be read, so walking 45,000 small nodes costs no promise or microtask each (an `async`
 * function per message did, and its garbage was a fifth of the walk). {@link drive} runs one to completion.
 */
export type Wire<T> = Generator<Need, T, void>;

/** A {@link Need} (allocated only when a read is due). */
export function need(n: number, end: number): Need {
  return { n, end };
}

/** A {@link Need} of exactly `into.length` bytes, read into `into` when the source can ({@link ByteSource.readInto}). */
export function needInto(end: number, into: Uint8Array): Need {
  return { n: into.length, end, into };
}

/** Runs a parsing step, reading pages through `cursor.fill` whenever it asks. */
export async function drive<T>(cursor: WireCursor, step: Wire<T>): Promise<T> {
  for (;;) {
    const r = step.next();
    if (r.done) return r.value;
    await cursor.fill(r.value.n, r.value.end, r.value.into);
  }
}

/** Forward-only (plus seek) cursor with a page buffer. Sync getters need `ensure()` first. */
export class WireCursor {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  /** Absolute offset of the next byte. */
  pos = 0;
  /** Field number and wire type of the last key read by {@link key}. */
  field = 0;
  wireType = 0;
  /** Offset of the last key, for error messages. */
  keyOffset = 0;

  /** Size of the next read: small after a seek past the buffer (a tensor header follows a skipped payload), doubling while reading on sequentially. */
  private pageBytes: number;

  constructor(
    readonly source: ByteSource,
    private readonly minPageBytes = 4 * 1024,
    private readonly maxPageBytes = 1024 * 1024,
  ) {
    this.pageBytes = minPageBytes;
  }

  get fileName(): string {
    return this.source.name;
  }

  /** Error helper: `<file>: <problem>.` */
  fail(code: ConstructorParameters<typeof ModelFormatError>[0], problem: string, offset = this.pos): never {
    throw new ModelFormatError(code, formatError(this.source.name, problem), offset);
  }

  /** Bytes buffered from `pos` on. */
  private buffered(): number {
    const rel = this.pos - this.bufStart;
    return rel >= 0 && rel <= this.buf.length ? this.buf.length - rel : 0;
  }

  /** True when the next `n` bytes are in the buffer. */
  has(n: number): boolean {
    return this.buffered() >= n;
  }

  /**
   * Makes `min(n, end - pos)` bytes available for sync reads, reading one page (or more) when needed.
   * Parsing steps ask for it as `if (!c.has(n)) yield need(n, end)`, staying synchronous while the bytes are buffered.
   */
  async fill(n: number, end: number, into?: Uint8Array): Promise<void> {
    const want = Math.min(n, end - this.pos);
    if (want <= 0 || this.buffered() >= want) return;
    if (end > this.source.size) this.fail('truncated', `a message at offset ${this.pos} runs to offset ${end} but the file has ${this.source.size} bytes`);
    const sequential = this.buf.length > 0 && this.pos >= this.bufStart && this.pos <= this.bufStart + this.buf.length;
    this.pageBytes = sequential ? Math.min(this.pageBytes * 2, this.maxPageBytes) : this.minPageBytes;
    if (into !== undefined && into.length === want && this.source.readInto !== undefined) {
      await this.source.readInto(this.pos, into);
      this.buf = into;
      this.bufStart = this.pos;
      return;
    }
    const length = Math.min(Math.max(want, this.pageBytes), this.source.size - this.pos);
    const page = await this.source.read(this.pos, length);
    // A plain Uint8Array view: Node Buffers (FileByteSource) have a much slower subarray().
    this.buf = new Uint8Array(page.buffer, page.byteOffset, page.byteLength);
    this.bufStart = this.pos;
  }

  /** The buffered bytes `[start, end)` (absolute offsets; they must be buffered): a view, valid until the next read. */
  view(start: number, end: number): Uint8Array {
    return this.buf.subarray(start - this.bufStart, end - this.bufStart);
  }

  /** Copies the buffered bytes `[start, end)` (absolute offsets; they must be buffered) into `into` at `at`. */
  copyOut(start: number, end: number, into: Uint8Array, at: number): void {
    const buf = this.buf;
    const from = start - this.bufStart;
    const n = end - start;
    for (let i = 0; i < n; i++) into[at + i] = buf[from + i]!;
  }

  /** The buffered byte at absolute offset `pos` (it must be buffered). */
  byteAt(pos: number): number {
    return this.buf[pos - this.bufStart]!;
  }

  /** True when the buffered bytes from absolute offset `pos` are the first `n` of `bytes` (they must be buffered). */
  sameAt(pos: number, bytes: Uint8Array, n: number): boolean {
    const buf = this.buf;
    const from = pos - this.bufStart;
    for (let i = 0; i < n; i++) if (buf[from + i] !== bytes[i]) return false;
    return true;
  }

  /** The page buffer (valid until the next read) and the absolute offset of its first byte: for a scan of the buffered bytes. */
  get buffer(): Uint8Array {
    return this.buf;
  }

  get bufferStart(): number {
    return this.bufStart;
  }

  /** Makes `bytes` the whole buffer, as offsets 0… (to walk bytes kept in memory; no read follows). */
  hold(bytes: Uint8Array): void {
    this.buf = bytes;
    this.bufStart = 0;
    this.pos = 0;
  }

  /** Reads a varint into {@link VARINT}'s lo/hi 32-bit halves (sync; bytes must be buffered). */
  private varintParts(end: number): void {
    const start = this.pos;
    const status = readVarint(this.buf, this.pos - this.bufStart, end - this.bufStart, VARINT);
    if (status === VARINT_TRUNCATED) this.fail('truncated', `a varint at offset ${start} runs past the end of its message`, start);
    if (status === VARINT_TOO_LONG) this.fail('bad-value', `a varint at offset ${start} is longer than 10 bytes`, start);
    this.pos = this.bufStart + VARINT.next;
  }

  /** Unsigned varint that must be a safe integer (lengths, tags, counts, enum values). */
  uvarint(end: number, what: string): number {
    const start = this.pos;
    // One byte (nearly every key and short length): no call, no halves.
    const rel = start - this.bufStart;
    if (start < end && rel >= 0 && rel < this.buf.length) {
      const b = this.buf[rel]!;
      if (b < 0x80) {
        this.pos = start + 1;
        return b;
      }
    }
    this.varintParts(end);
    const lo = VARINT.lo;
    const hi = VARINT.hi;
    if (hi >= 0x20_0000) this.fail('limit-exceeded', `${what} at offset ${start} is too large`, start);
    return hi * TWO_32 + lo;
  }

  /** int64/int32 varint: a number when it is a safe integer, else the exact value as decimal text. */
  varint64(end: number): number | BigValue {
    const rel = this.pos - this.bufStart;
    if (this.pos < end && rel >= 0 && rel < this.buf.length && this.buf[rel]! < 0x80) {
      this.pos++;
      return this.buf[rel]!;
    }
    this.varintParts(end);
    const lo = VARINT.lo;
    const hi = VARINT.hi;
    if (hi < 0x20_0000) return hi * TWO_32 + lo;
    if (hi >= 0xffe0_0000 && !(hi === 0xffe0_0000 && lo === 0)) {
      // Negative with magnitude below 2^53: two's complement.
      return -((0xffff_ffff - hi) * TWO_32 + (TWO_32 - lo));
    }
    const v = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
    return { big: v.toString() };
  }

  /**
   * When the next byte, before `end` and buffered, is the one-byte key `key` — that of the current {@link field} and
   * {@link wireType} — takes it as {@link key} would and returns true: a run of one repeated field read in one loop.
   */
  sameKey(key: number, end: number): boolean {
    const rel = this.pos - this.bufStart;
    if (this.pos >= end || rel < 0 || rel >= this.buf.length || this.buf[rel] !== key) return false;
    this.keyOffset = this.pos++;
    return true;
  }

  /**
   * Skips a run of fields of the one-byte key `key` (the current {@link field} and {@link wireType}: varint, fixed32 or
   * length-delimited) from {@link pos} on, at most `max` of them, each whole in the buffer and before `end` and one
   * the walk reads without complaint (a varint of at most 10 bytes; a length of at most 2 bytes that stays inside);
   * returns how many. It stops before anything else, which the walk then reads with its own checks and messages:
   * for the values of a list past those kept, only counted.
   */
  skipRun(key: number, end: number, max: number): number {
    const buf = this.buf;
    const base = this.bufStart;
    const stop = Math.min(end, base + buf.length);
    const wireType = key & 7;
    if (wireType !== WIRE_VARINT && wireType !== WIRE_LEN && wireType !== WIRE_FIXED32) return 0;
    let p = this.pos;
    let n = 0;
    while (n < max && p < stop && p >= base && buf[p - base] === key) {
      let q = p + 1;
      if (wireType === WIRE_FIXED32) q += 4;
      else {
        // A varint: the value (WIRE_VARINT) or the length (WIRE_LEN, at most 2 bytes here).
        const most = wireType === WIRE_VARINT ? 10 : 2;
        let length = 0;
        let ended = false;
        for (let i = 0; i < most && q < stop; i++) {
          const b = buf[q++ - base]!;
          length |= (b & 0x7f) << (7 * i);
          if ((b & 0x80) === 0) {
            ended = true;
            break;
          }
        }
        if (!ended) break;
        if (wireType === WIRE_LEN) q += length;
      }
      if (q > stop) break;
      p = q;
      n++;
    }
    this.pos = p;
    return n;
  }

  /** Reads a key and sets `field` and `wireType`; validates both. Bytes must be buffered. */
  key(end: number): void {
    this.keyOffset = this.pos;
    const k = this.uvarint(end, 'a field key');
    this.field = Math.floor(k / 8);
    this.wireType = k & 7;
    if (this.field === 0) this.fail('bad-value', `field number 0 at offset ${this.keyOffset} is invalid (not a protobuf message)`, this.keyOffset);
    if (this.wireType !== 0 && this.wireType !== 1 && this.wireType !== 2 && this.wireType !== 5) {
      this.fail('bad-value', `wire type ${this.wireType} of field ${this.field} at offset ${this.keyOffset} is not supported (not an ONNX protobuf)`, this.keyOffset);
    }
  }

  /** Reads a length prefix (right after a key) and checks that `pos + length` stays inside `end` (the enclosing message). */
  length(end: number, what: string): number {
    const at = this.keyOffset;
    // One byte (short strings and messages) without building the description used only in an error.
    const rel = this.pos - this.bufStart;
    const b = this.pos < end && rel >= 0 && rel < this.buf.length ? this.buf[rel]! : 0x80;
    let n: number;
    if (b < 0x80) {
      this.pos++;
      n = b;
    } else n = this.uvarint(end, `the length of ${what}`);
    if (n > end - this.pos) {
      this.fail('truncated', `${what} at offset ${at} declares ${n} bytes but only ${Math.max(0, end - this.pos)} remain in its message`, at);
    }
    return n;
  }

  fixed32Float(): number {
    const rel = this.pos - this.bufStart;
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + rel, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** Skips the value of the last key (any wire type), bounded by `end`. */
  skipValue(end: number, what = `field ${this.field}`): void {
    switch (this.wireType) {
      case WIRE_VARINT:
        this.varintParts(end);
        return;
      case WIRE_FIXED64:
        this.skip(8, end, what);
        return;
      case WIRE_FIXED32:
        this.skip(4, end, what);
        return;
      case WIRE_LEN: {
        const n = this.length(end, what);
        this.pos += n;
        return;
      }
      default:
        this.fail('bad-value', `wire type ${this.wireType} at offset ${this.keyOffset} is not supported`, this.keyOffset);
    }
  }

  /** Moves forward `n` bytes without reading them. */
  skip(n: number, end: number, what: string): void {
    if (n > end - this.pos) this.fail('truncated', `${what} at offset ${this.pos} needs ${n} bytes but only ${Math.max(0, end - this.pos)} remain in its message`);
    this.pos += n;
  }

  /** Throws unless the last key has wire type `expected`. */
  expectWire(expected: number, what: string): void {
    if (this.wireType !== expected) {
      this.fail('bad-value', `${what} at offset ${this.keyOffset} has wire type ${this.wireType}, expected ${expected}`, this.keyOffset);
    }
  }

  /** Reads `n` bytes (n already bounded by the caller) as a view; stays valid after later reads. */
  *bytes(n: number, end: number): Wire<Uint8Array> {
    if (!this.has(n)) yield need(n, end);
    const rel = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(rel, rel + n);
  }

  /** FNV-1a hash of the `n` buffered bytes at `pos` (not consumed; check `has(n)` first). */
  hashAhead(n: number): number {
    const buf = this.buf;
    const start = this.pos - this.bufStart;
    let h = 0x811c9dc5;
    for (let i = start; i < start + n; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    return h;
  }

  /** True when the buffered bytes at `pos` are `bytes` (not consumed; check `has(bytes.length)` first). */
  sameAhead(bytes: Uint8Array): boolean {
    const buf = this.buf;
    const start = this.pos - this.bufStart;
    for (let i = 0; i < bytes.length; i++) if (buf[start + i] !== bytes[i]) return false;
    return true;
  }

  /** Decodes `n` buffered bytes as UTF-8 without awaiting (check `has(n)` first). */
  stringSync(n: number): string {
    const rel = this.pos - this.bufStart;
    this.pos += n;
    if (n < SHORT_TEXT_CHARS && n > 0) {
      const s = this.shortAscii(rel, n);
      if (s !== undefined) return s;
    }
    return utf8.decode(this.buf.subarray(rel, rel + n));
  }

  /** The buffer {@link windowText} was made from, and where in it that text starts. */
  private windowOf: Uint8Array | undefined;
  private windowStart = 0;
  /** Up to {@link TEXT_WINDOW_BYTES} of the buffer as one char per byte (made when a short name needs it). */
  private windowText = '';
  /** Names cut from {@link windowText} so far. */
  private windowNames = 0;

  /**
   * A short all-ASCII string `buf[rel, rel + n)` cut from a one-char-per-byte text of the buffer around it, or
   * undefined when a byte is not ASCII. Most edge and tensor names are short (`t123`, `onnx::MatMul_9`): one
   * decode per window instead of a `subarray` view and a TextDecoder call per name (those views were a fifth of
   * the walk's garbage on a 45,000-node graph). ASCII bytes are their own UTF-8 decoding, and V8 copies a
   * substring this short (a longer one would be a slice keeping the window alive), so nothing holds the window.
   */
  private shortAscii(rel: number, n: number): string | undefined {
    const buf = this.buf;
    for (let i = rel; i < rel + n; i++) if (buf[i]! >= 0x80) return undefined;
    let at = rel - this.windowStart;
    if (this.windowOf !== buf || at < 0 || at + n > this.windowText.length) {
      // A window that served a name per 64 bytes or more is followed by a full one, else by a small one (a window
      // decoded for two names is garbage of its size).
      const size = this.windowNames * 64 >= this.windowText.length ? TEXT_WINDOW_BYTES : SMALL_TEXT_WINDOW_BYTES;
      const end = Math.min(buf.length, rel + Math.max(size, n));
      this.windowText = latin1.decode(buf.subarray(rel, end));
      this.windowOf = buf;
      this.windowStart = rel;
      this.windowNames = 0;
      at = 0;
    }
    this.windowNames++;
    return this.windowText.substring(at, at + n);
  }

  /** Reads a string of `n` bytes, keeping at most `maxBytes` of it (the rest is skipped). */
  *string(n: number, end: number, maxBytes: number): Wire<string> {
    if (n <= maxBytes) return utf8.decode(yield* this.bytes(n, end));
    const head = yield* this.bytes(maxBytes, end);
    this.pos += n - maxBytes;
    return `${utf8.decode(head)}…`;
  }

  /**
   * Counts the varints in `[pos, pos + n)` without keeping them (the last byte must end a varint) and decodes
   * the first `keep` of them. Streams through pages, so a 100 MB packed field never sits in memory.
   */
  *packedVarints(n: number, keep: number): Wire<{ count: number; values: (number | BigValue)[] }> {
    const stop = this.pos + n;
    const values: (number | BigValue)[] = [];
    let count = 0;
    while (this.pos < stop && values.length < keep) {
      if (!this.has(10)) yield need(10, stop);
      values.push(this.varint64(stop));
      count++;
    }
    let last = 0;
    while (this.pos < stop) {
      const chunk = Math.min(stop - this.pos, 1 << 20);
      if (!this.has(chunk)) yield need(chunk, stop);
      const rel = this.pos - this.bufStart;
      const buf = this.buf;
      for (let i = rel; i < rel + chunk; i++) if ((buf[i]! & 0x80) === 0) count++;
      last = buf[rel + chunk - 1]!;
      this.pos += chunk;
    }
    if ((last & 0x80) !== 0) this.fail('truncated', `a packed varint field ending at offset ${stop} ends inside a varint`, stop);
    return { count, values };
  }
}

/** Formats a decoded int64 value for messages. */
export function int64Text(v: number | BigValue): string {
  return typeof v === 'number' ? String(v) : v.big;
}
