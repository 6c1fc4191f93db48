import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readVarint, varintInt32, varintInt64, varintUnsigned, VARINT_OK, VARINT_TOO_LONG, VARINT_TRUNCATED, type VarintParts } from '../../src/core/io/varint';

/** Protobuf encoding of a uint64 given as a bigint (two's complement for negatives), the reference writer. */
function encode(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return out;
}

const parts = (): VarintParts => ({ lo: 0, hi: 0, next: 0 });

test('readVarint reads unsigned, int64 and int32 values as protobuf writes them', () => {
  const cases: [bigint, number][] = [[0n, 1], [1n, 1], [127n, 1], [128n, 2], [300n, 2], [2n ** 32n + 5n, 5], [2n ** 53n - 1n, 8], [-1n, 10], [-(2n ** 31n), 10], [-(2n ** 53n) + 1n, 10]];
  for (const [value, length] of cases) {
    const bytes = Uint8Array.from(encode(value));
    assert.equal(bytes.length, length, `length of ${value}`);
    const p = parts();
    assert.equal(readVarint(bytes, 0, bytes.length, p), VARINT_OK);
    assert.equal(p.next, length);
    assert.equal(varintInt64(p), Number(value), `int64 ${value}`);
    assert.equal(varintUnsigned(p), Number(BigInt.asUintN(64, value)), `uint64 ${value}`);
    if (value >= -(2n ** 31n) && value < 2n ** 31n) assert.equal(varintInt32(p), Number(value), `int32 ${value}`);
  }
});

test('readVarint stops at end: truncated and over-long varints are told apart', () => {
  const p = parts();
  const bytes = Uint8Array.from([0x96, 0x01, 0x80, 0x80]);
  assert.equal(readVarint(bytes, 0, 1, p), VARINT_TRUNCATED, 'end inside the varint');
  assert.equal(readVarint(bytes, 2, 4, p), VARINT_TRUNCATED, 'bytes end inside the varint');
  assert.equal(readVarint(bytes, 0, 99, p), VARINT_OK, 'end past the array is clamped');
  assert.equal(varintUnsigned(p), 150);
  const long = new Uint8Array(11).fill(0x80);
  long[10] = 0;
  assert.equal(readVarint(long, 0, long.length, p), VARINT_TOO_LONG);
  assert.equal(p.next, 10);
});
