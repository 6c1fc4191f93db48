import { ModelFormatError, formatError } from '../errors';
import type { ByteSource } from './byteSource';

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Converts an unsigned 64-bit value (given as two 32-bit halves) to a safe JS number, or throws.
 * Never patch prototypes or use bigint in the IR: every count, length and offset is a checked safe integer.
 */
export function toSafeNumber(fileName: string, low: number, high: number, what: string, offset?: number): number {
  const value = high * 0x1_0000_0000 + low;
  if (high >= 0x20_0000 || !Number.isSafeInteger(value)) {
    throw new ModelFormatError('limit-exceeded', formatError(fileName, `${what} ${BigInt(high) * 0x1_0000_0000n + BigInt(low)} is too large`), offset);
  }
  // `low` itself when it is the whole value: `0 * 2^32 + low` is a heap number in V8 even when small, and an offset
  // computed from it then gives every tensor of a reader a boxed double field (16 bytes and an allocation each).
  return high === 0 ? low : value;
}

/** Multiplies non-negative integers, throwing when the product is not a safe integer (element counts, byte sizes). */
export function safeMultiply(fileName: string, what: string, ...factors: readonly number[]): number {
  let product = 1;
  for (const f of factors) {
    if (!Number.isSafeInteger(f) || f < 0) throw new ModelFormatError('bad-value', formatError(fileName, `${what} has an invalid factor '${f}'`));
    product *= f;
    if (!Number.isSafeInteger(product)) throw new ModelFormatError('limit-exceeded', formatError(fileName, `${what} overflows a safe integer`));
  }
  return product;
}

/**
 * Little-endian cursor over a {@link ByteSource} with a page buffer, for sequential header parsing.
 * Async methods refill as needed; for hot loops call `await ensure(n)` once and then the `*Sync` getters.
 * Every read is bounds-checked against the source size: a truncated file raises 'truncated', never garbage.
 */
export class BinaryReader {
  private buffer: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buffer.buffer);
  /** File offset of buffer[0]. */
  private bufferStart = 0;
  private pos: number;

  constructor(readonly source: ByteSource, offset = 0, private readonly pageSize = 1 << 20) {
    this.pos = offset;
  }

  /** Current absolute file offset. */
  get position(): number {
    return this.pos;
  }
  /** Bytes remaining until the end of the source. */
  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Moves to an absolute offset (checked lazily on the next read). */
  seek(offset: number): void {
    this.pos = offset;
  }
  /** Skips `n` bytes, throwing if that passes the end of the file. */
  skip(n: number, what = 'data'): void {
    this.checkAvailable(n, what);
    this.pos += n;
  }

  private checkAvailable(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.source.size) {
      throw new ModelFormatError(
        'truncated',
        formatError(this.source.name, `${what} at offset ${this.pos} needs ${n} bytes but only ${Math.max(0, this.source.size - this.pos)} remain`),
        this.pos,
      );
    }
  }

  /** Ensures the next `n` bytes are buffered so that `*Sync` getters can read them. */
  async ensure(n: number, what = 'data'): Promise<void> {
    const rel = this.pos - this.bufferStart;
    if (rel >= 0 && rel + n <= this.buffer.length) return;
    this.checkAvailable(n, what);
    const want = Math.min(Math.max(n, this.pageSize), this.source.size - this.pos);
    const bytes = await this.source.read(this.pos, want);
    this.buffer = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bufferStart = this.pos;
  }

  private at(n: number): number {
    const rel = this.pos - this.bufferStart;
    if (rel < 0 || rel + n > this.buffer.length) throw new Error('BinaryReader: ensure() was not called before a sync read.');
    this.pos += n;
    return rel;
  }

  u8Sync(): number { return this.view.getUint8(this.at(1)); }
  i8Sync(): number { return this.view.getInt8(this.at(1)); }
  u16Sync(): number { return this.view.getUint16(this.at(2), true); }
  i16Sync(): number { return this.view.getInt16(this.at(2), true); }
  u32Sync(): number { return this.view.getUint32(this.at(4), true); }
  i32Sync(): number { return this.view.getInt32(this.at(4), true); }
  f32Sync(): number { return this.view.getFloat32(this.at(4), true); }
  f64Sync(): number { return this.view.getFloat64(this.at(8), true); }
  /** Unsigned 64-bit as a safe number; throws 'limit-exceeded' above 2^53. */
  u64Sync(what = 'value'): number {
    const start = this.pos;
    const r = this.at(8);
    return toSafeNumber(this.source.name, this.view.getUint32(r, true), this.view.getUint32(r + 4, true), what, start);
  }
  /** Signed 64-bit as a safe number; throws beyond ±2^53. */
  i64Sync(what = 'value'): number {
    const r = this.at(8);
    const v = this.view.getBigInt64(r, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ModelFormatError('limit-exceeded', formatError(this.source.name, `${what} ${v} is too large`), this.pos - 8);
    }
    return Number(v);
  }
  /** Copy-free view of the next n buffered bytes. */
  bytesSync(n: number): Uint8Array {
    const r = this.at(n);
    return this.buffer.subarray(r, r + n);
  }

  async u8(what?: string): Promise<number> { await this.ensure(1, what); return this.u8Sync(); }
  async u16(what?: string): Promise<number> { await this.ensure(2, what); return this.u16Sync(); }
  async u32(what?: string): Promise<number> { await this.ensure(4, what); return this.u32Sync(); }
  async i32(what?: string): Promise<number> { await this.ensure(4, what); return this.i32Sync(); }
  async u64(what?: string): Promise<number> { await this.ensure(8, what); return this.u64Sync(what); }
  async i64(what?: string): Promise<number> { await this.ensure(8, what); return this.i64Sync(what); }
  async f32(what?: string): Promise<number> { await this.ensure(4, what); return this.f32Sync(); }
  async f64(what?: string): Promise<number> { await this.ensure(8, what); return this.f64Sync(); }
  /** Reads n bytes (checked against the file size first). Large reads bypass the page buffer. */
  async bytes(n: number, what?: string): Promise<Uint8Array> {
    this.checkAvailable(n, what ?? 'bytes');
    if (n > this.pageSize) {
      const out = await this.source.read(this.pos, n);
      this.pos += n;
      return out;
    }
    await this.ensure(n, what);
    return this.bytesSync(n);
  }
  /** Reads n bytes as UTF-8 (invalid sequences become U+FFFD). Caller bounds n first. */
  async string(n: number, what?: string): Promise<string> {
    return decoder.decode(await this.bytes(n, what));
  }
}

/** Decodes UTF-8 bytes (lenient). */
export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
