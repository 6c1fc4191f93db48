import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryReader, MemoryByteSource, MemorySiblings, ModelFormatError, checkRelativePath, safeMultiply, toSafeNumber, storedByteLength, bitsPerElement } from '../../src/core';

test('checkRelativePath refuses paths that leave the folder', () => {
  for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'C:\\x', 'file:///etc/passwd', 'a\0b', '', '.', 'a/..']) {
    assert.throws(() => checkRelativePath('m.onnx', bad), (e: unknown) => e instanceof ModelFormatError && e.code === 'path-escape', bad);
  }
  assert.equal(checkRelativePath('m.onnx', './data/w.bin'), 'data/w.bin');
});

test('BinaryReader reads little-endian values and reports truncation with the file name', async () => {
  const bytes = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9]);
  const r = new BinaryReader(new MemoryByteSource('t.bin', bytes), 0, 4);
  assert.equal(await r.u32(), 1);
  assert.equal(await r.u64(), 2);
  assert.equal(await r.u8(), 9);
  await assert.rejects(r.u32('tensor count'), /t\.bin: tensor count at offset 13 needs 4 bytes but only 0 remain\./);
});

test('u64 above 2^53 and overflowing products are refused', () => {
  assert.throws(() => toSafeNumber('f', 0, 0x200000, 'length'), /f: length 9007199254740992 is too large\./);
  assert.throws(() => safeMultiply('f', 'tensor w', 2 ** 30, 2 ** 30, 2 ** 30), /overflows/);
  assert.equal(safeMultiply('f', 'x', 3, 4), 12);
});

test('stored sizes are exact per block', () => {
  assert.equal(storedByteLength('q4_k', 4096 * 4096), (4096 * 4096 / 256) * 144);
  assert.equal(storedByteLength('q4_k', 100), undefined);
  assert.equal(storedByteLength('int4', 5), 3);
  assert.equal(bitsPerElement('q8_0'), 8.5);
});

test('MemorySiblings applies the same escape checks', async () => {
  const s = new MemorySiblings('m.onnx', { 'w.bin': new Uint8Array(4) });
  assert.equal((await s.open('w.bin')).size, 4);
  await assert.rejects(s.open('../w.bin'), /leaves the model folder/);
  assert.equal(await s.exists('../w.bin'), false);
});
