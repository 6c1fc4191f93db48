/**
 * WireCursor.stringSync cuts short ASCII strings from a one-char-per-byte text window instead of decoding each: the
 * result must be exactly TextDecoder's UTF-8 decoding for every byte string (ASCII, non-ASCII, invalid UTF-8, a
 * BOM), at every length around the short-string bound, across window ends and when the buffer changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryByteSource } from '../../src/core/io/byteSource';
import { seededRandom } from '../../src/core/util/random';
import { WireCursor } from '../../src/core/formats/onnx/wire';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Random byte strings: mostly ASCII names, some with bytes ≥ 0x80 (valid or not) or a leading BOM; lengths 0–40. */
function pieces(seed: number, count: number): Uint8Array[] {
  const rnd = seededRandom(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const n = Math.floor(rnd() * 41);
    const b = new Uint8Array(n);
    const kind = rnd();
    for (let k = 0; k < n; k++) b[k] = kind < 0.8 ? 0x20 + Math.floor(rnd() * 0x5f) : Math.floor(rnd() * 256);
    if (kind > 0.97 && n >= 3) b.set([0xef, 0xbb, 0xbf]);
    out.push(b);
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

test('stringSync decodes every byte string exactly as TextDecoder does, across text windows', () => {
  const parts = pieces(7, 6000); // ~120 KB: several 16 KiB windows
  const bytes = concat(parts);
  const c = new WireCursor(new MemoryByteSource('t.onnx', bytes));
  c.hold(bytes);
  let at = 0;
  for (const p of parts) {
    assert.equal(c.pos, at);
    const got = c.stringSync(p.length);
    assert.equal(got, utf8.decode(p), `bytes [${Array.from(p).join(',')}] at ${at}`);
    at += p.length;
  }
});

test('stringSync reads the new buffer after the cursor holds another one with other bytes at the same offsets', () => {
  const a = new TextEncoder().encode('abcdefgh');
  const b = new TextEncoder().encode('ABCDEFGH');
  const c = new WireCursor(new MemoryByteSource('t.onnx', a));
  c.hold(a);
  assert.equal(c.stringSync(4), 'abcd');
  c.hold(b);
  assert.equal(c.stringSync(4), 'ABCD');
  c.pos = 4;
  assert.equal(c.stringSync(4), 'EFGH');
  // Non-ASCII and 13+ byte strings take TextDecoder: the same text.
  const d = new TextEncoder().encode('é1234567890123456');
  c.hold(d);
  assert.equal(c.stringSync(d.length), 'é1234567890123456');
});
