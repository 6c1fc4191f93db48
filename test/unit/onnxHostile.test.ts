/**
 * Hostile ONNX input: every malformed file is refused with a ModelFormatError whose message is one sentence
 * naming the file, quickly, without reading past the file or allocating what a length claims.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_LIMITS, MemoryByteSource, MemorySiblings, ModelFormatError, openModel, type Limits, type ModelFormatErrorCode, type SiblingResolver } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { ProtoWriter, dataType, encodeModel, externalTensor, graph, model, node, rawTensor, tinyMlp } from '../fixtures/buildOnnx';

const ONE_SENTENCE = /^h\.onnx: [^\n]+\.$/;

async function refuse(bytes: Uint8Array, code: ModelFormatErrorCode | undefined, pattern: RegExp, opts: { siblings?: SiblingResolver; limits?: Limits } = {}): Promise<void> {
  const started = performance.now();
  await assert.rejects(openModel(new MemoryByteSource('h.onnx', bytes), opts), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${String(e)}`);
    assert.match(e.message, ONE_SENTENCE);
    assert.match(e.message, pattern);
    if (code) assert.equal(e.code, code);
    return true;
  });
  assert.ok(performance.now() - started < 3000, 'refused quickly');
}

/** ModelProto { graph { initializer { <tensor fields> } } } written byte by byte. */
function modelWithTensor(tensor: ProtoWriter): Uint8Array {
  return new ProtoWriter().key(1, 0).varint(10).message(7, new ProtoWriter().message(5, tensor)).finish();
}

test('every truncation of a valid model inside its graph is refused; none crashes', async () => {
  const full = tinyMlp();
  const reference = await openModel(new MemoryByteSource('h.onnx', full));
  assert.equal(reference.parameterCount, 40);
  // protobufjs writes fields by number: ir_version(1), producer_name(2), graph(7), opset_import(8).
  const graphKey = full.indexOf(0x3a);
  let refused = 0;
  for (let n = 1; n < full.length; n++) {
    try {
      await openModel(new MemoryByteSource('h.onnx', full.subarray(0, n)));
    } catch (e) {
      assert.ok(e instanceof ModelFormatError, `prefix ${n}: ${String(e)}`);
      assert.match(e.message, ONE_SENTENCE);
      refused++;
      continue;
    }
    assert.ok(n > graphKey + 100, `prefix of ${n} bytes (graph at ${graphKey}) must not parse`);
  }
  assert.ok(refused > full.length * 0.8);
});

test('a varint longer than 10 bytes is refused', async () => {
  await refuse(new ProtoWriter().key(1, 0).bytes(new Array(11).fill(0xff)).bytes([0x01]).finish(), 'bad-value', /varint at offset 1 is longer than 10 bytes/);
});

test('a varint cut off by the end of the file is refused', async () => {
  await refuse(new ProtoWriter().key(1, 0).bytes([0xff, 0xff]).finish(), 'truncated', /varint at offset 1 runs past the end/);
});

test('a graph declaring 2^40 bytes in a 9-byte file is refused without allocating', async () => {
  await refuse(new ProtoWriter().key(1, 0).varint(7).lying(7, 2n ** 40n, new Uint8Array(3)).finish(), 'truncated', /graph at offset 2 declares 1099511627776 bytes but only 3 remain/);
});

test('a length of 2^63 is refused as too large', async () => {
  await refuse(new ProtoWriter().lying(7, 2n ** 63n).finish(), 'limit-exceeded', /too large/);
});

test('raw_data claiming more bytes than its tensor message holds is refused', async () => {
  const t = new ProtoWriter().key(1, 0).varint(4).key(2, 0).varint(1).lying(9, 2n ** 50n, new Uint8Array(16));
  await refuse(modelWithTensor(t), 'truncated', /raw_data at offset \d+ declares 1125899906842624 bytes/);
});

test('raw_data shorter than shape × dtype is refused', async () => {
  await refuse(encodeModel(model(graph([], { initializers: [rawTensor('w', [4, 4], { raw: new Uint8Array(60) })] }))), 'bad-value', /tensor 'w' has 60 bytes of raw_data but shape \[4, 4\] of float32 needs 64/);
});

test('absurd dims: element count past the limit, a negative dim, an int64 beyond 2^53, and rank 17', async () => {
  await refuse(encodeModel(model(graph([], { initializers: [{ name: 'big', dims: [2 ** 30, 2 ** 30, 2 ** 30], data_type: dataType('FLOAT'), raw_data: new Uint8Array(4) }] }))), 'limit-exceeded', /tensor 'big' has shape \[1073741824, 1073741824, 1073741824\], more than \d+ elements/);
  await refuse(encodeModel(model(graph([], { initializers: [{ name: 'neg', dims: [-1, 4], data_type: dataType('FLOAT'), raw_data: new Uint8Array(4) }] }))), 'bad-value', /tensor 'neg' has invalid dimension -1/);
  const huge = new ProtoWriter().key(1, 0).varint(2n ** 62n).key(2, 0).varint(1).key(8, 2).varint(1).bytes([0x78]);
  await refuse(modelWithTensor(huge), 'bad-value', /tensor 'x' has invalid dimension 4611686018427387904/);
  await refuse(encodeModel(model(graph([], { initializers: [{ name: 'r', dims: new Array(17).fill(1), data_type: dataType('FLOAT'), raw_data: new Uint8Array(4) }] }))), 'limit-exceeded', /more than 16 dimensions/);
});

test('a packed float_data whose value count disagrees with the shape is refused', async () => {
  await refuse(encodeModel(model(graph([], { initializers: [{ name: 'f', dims: [3], data_type: dataType('FLOAT'), float_data: [1, 2] }] }))), 'bad-value', /tensor 'f' has 8 bytes of float_data, which does not hold the 3 values/);
});

test('an unknown data_type is refused as unsupported', async () => {
  await refuse(encodeModel(model(graph([], { initializers: [{ name: 'u', dims: [1], data_type: 99, raw_data: new Uint8Array(1) }] }))), 'unsupported', /tensor 'u' has unsupported data_type 99/);
});

test('wire types 3, 4, 6, 7 and field number 0 are refused', async () => {
  for (const wire of [3, 4, 6, 7]) await refuse(new ProtoWriter().key(5, wire).varint(0).finish(), 'bad-value', new RegExp(`wire type ${wire} of field 5`));
  await refuse(new ProtoWriter().key(0, 0).varint(0).finish(), 'bad-value', /field number 0/);
});

test('a known field with the wrong wire type is refused', async () => {
  await refuse(new ProtoWriter().key(7, 0).varint(1).finish(), 'bad-value', /graph at offset 0 has wire type 0, expected 2/);
});

test('text that is not a protobuf is refused', async () => {
  await refuse(new TextEncoder().encode('hello, this is not an onnx model\n'), undefined, /./);
});

test('a valid protobuf without a graph is refused', async () => {
  await refuse(new ProtoWriter().key(1, 0).varint(10).finish(), 'bad-value', /has no graph/);
});

test('subgraphs nested 100 deep are refused at the nesting limit', async () => {
  // Written by hand: protobufjs itself refuses to encode messages nested this deep.
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  let g = new ProtoWriter().message(2, text('leaf')).finish();
  for (let i = 0; i < 100; i++) {
    const a = new ProtoWriter().message(1, text('then_branch')).message(6, g);
    g = new ProtoWriter().message(1, new ProtoWriter().message(4, text('If')).message(5, a)).finish();
  }
  await refuse(new ProtoWriter().key(1, 0).varint(10).message(7, g).finish(), 'limit-exceeded', /subgraphs nest deeper than 64 levels/);
});

test('node and tensor counts are bounded by the limits', async () => {
  const limits: Limits = { ...DEFAULT_LIMITS, maxNodeCount: 10, maxTensorCount: 3 };
  const many = encodeModel(model(graph(Array.from({ length: 11 }, () => node('Relu', ['x'], ['x'])))));
  await refuse(many, 'limit-exceeded', /more than 10 nodes/, { limits });
  const inits = encodeModel(model(graph([], { initializers: Array.from({ length: 4 }, (_, i) => rawTensor(`t${i}`, [1])) })));
  await refuse(inits, 'limit-exceeded', /more than 3 tensors/, { limits });
});

test('external data paths leaving the folder are refused: ../x, /etc/passwd, a NUL byte', async () => {
  const files = new MemorySiblings('h.onnx', { 'w.bin': new Uint8Array(64) });
  for (const [location, why] of [['../x', /leaves the model folder/], ['/etc/passwd', /it is absolute/], ['a\0b', /NUL/], ['C:/w.bin', /drive/]] as const) {
    await refuse(encodeModel(model(graph([], { initializers: [externalTensor('w', [4], location)] }))), 'path-escape', why, { siblings: files });
  }
});

test('an external data symlink pointing out of the folder is refused (FolderSiblings)', async () => {
  const outside = mkdtempSync(path.join(os.tmpdir(), 'onnx-outside-'));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onnx-model-'));
  try {
    writeFileSync(path.join(outside, 'secret.bin'), new Uint8Array(16));
    symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'w.bin'));
    writeFileSync(path.join(dir, 'h.onnx'), encodeModel(model(graph([], { initializers: [externalTensor('w', [4], 'w.bin')] }))));
    const o = await openModelFile(path.join(dir, 'h.onnx'));
    try {
      await assert.rejects(openModel(o.source, { siblings: o.siblings }), (e: unknown) => e instanceof ModelFormatError && e.code === 'path-escape' && /^h\.onnx: refusing external path 'w\.bin': it resolves outside the model folder\.$/.test(e.message));
    } finally {
      await o.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('external data: missing location, a non-numeric offset, and no sibling resolver', async () => {
  const noLocation = encodeModel(model(graph([], { initializers: [{ name: 'w', dims: [1], data_type: 1, data_location: 1, external_data: [{ key: 'offset', value: '0' }] }] })));
  await refuse(noLocation, 'bad-value', /data_location EXTERNAL but no external_data location/);
  const badOffset = encodeModel(model(graph([], { initializers: [externalTensor('w', [1], 'w.bin'), { name: 'v', dims: [1], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: 'w.bin' }, { key: 'offset', value: '-4' }] }] })));
  await refuse(badOffset, 'bad-value', /invalid external_data offset '-4'/, { siblings: new MemorySiblings('h.onnx', { 'w.bin': new Uint8Array(8) }) });
  await refuse(encodeModel(model(graph([], { initializers: [externalTensor('w', [1], 'w.bin')] }))), 'missing-file', /external data file 'w\.bin' of tensor 'w' is missing/);
});

test('a megabyte of repeated unknown fields parses in linear time', async () => {
  const w = new ProtoWriter();
  for (let i = 0; i < 200_000; i++) w.key(100, 0).varint(1);
  const bytes = new ProtoWriter().key(1, 0).varint(7).message(7, new ProtoWriter().message(2, new TextEncoder().encode('g'))).bytes(w.finish()).finish();
  const started = performance.now();
  const m = await openModel(new MemoryByteSource('h.onnx', bytes));
  assert.equal(m.formatVersion, 7);
  // ~30 ms when the machine is idle; the bound only catches super-linear behaviour on a busy CI machine.
  assert.ok(performance.now() - started < 5000);
});
