/**
 * The one protobuf base-128 varint reader of core (https://protobuf.dev/programming-guides/encoding/#varints).
 * A varint is at most 10 bytes, low group first; it is returned as two unsigned 32-bit halves so that no
 * `bigint` is needed and the caller chooses the reading: a length or tag (unsigned, must be a safe integer), an
 * int64 (two's complement: negative values always take 10 bytes) or an int32 (the low half, sign-extended).
 * Used by the ONNX wire walker (`formats/onnx/wire.ts`), the reader's small shape constants
 * (`formats/onnx/reader.ts`), typed-data decoding (`precision/decode.ts`) and the estimator's shape inputs
 * (`estimate/memory.ts`).
 */

/** Where {@link readVarint} leaves its result; one object is reused so the wire walker allocates nothing per varint. */
export interface VarintParts {
  /** Bits 0–31, unsigned. */
  lo: number;
  /** Bits 32–63, unsigned. */
  hi: number;
  /** The position after the varint (after its 10th byte when it was too long). */
  next: number;
}

/** {@link readVarint}: the varint was read. */
export const VARINT_OK = 0;
/** {@link readVarint}: the bytes ended (at `end`) inside the varint; `parts` is unchanged. */
export const VARINT_TRUNCATED = 1;
/** {@link readVarint}: the 10th byte still had its continuation bit; `parts` holds the 64 bits read. */
export const VARINT_TOO_LONG = 2;

/** The outcome of {@link readVarint}. */
export type VarintStatus = typeof VARINT_OK | typeof VARINT_TRUNCATED | typeof VARINT_TOO_LONG;

const TWO_32 = 4294967296;

/** Reads one varint from `bytes[pos..end)` into `parts`. Never reads at or past `end` (nor past the array). */
export function readVarint(bytes: Uint8Array, pos: number, end: number, parts: VarintParts): VarintStatus {
  const stop = Math.min(end, bytes.length);
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= stop) return VARINT_TRUNCATED;
    const b = bytes[pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (7 * i - 32);
    if ((b & 0x80) === 0) {
      parts.lo = lo >>> 0;
      parts.hi = hi >>> 0;
      parts.next = pos;
      return VARINT_OK;
    }
  }
  parts.lo = lo >>> 0;
  parts.hi = hi >>> 0;
  parts.next = pos;
  return VARINT_TOO_LONG;
}

/** The halves read as an unsigned 64-bit integer (exact below 2^53, the nearest double above). */
export function varintUnsigned(parts: Readonly<VarintParts>): number {
  return parts.hi * TWO_32 + parts.lo;
}

/** The halves read as a two's-complement int64 (exact when |value| < 2^53, else the nearest double). */
export function varintInt64(parts: Readonly<VarintParts>): number {
  return (parts.hi | 0) * TWO_32 + parts.lo;
}

/** The low half read as an int32 (protobuf writes a negative int32 sign-extended to 10 bytes). */
export function varintInt32(parts: Readonly<VarintParts>): number {
  return parts.lo | 0;
}
