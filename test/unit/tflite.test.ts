import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError, DEFAULT_LIMITS, MemoryByteSource, ModelFormatError, openModel, type ByteSource, type Model } from '../../src/core';
import { FlatBufferReader } from '../../src/core/formats/tflite/flatbuffer';
import { loadQuantParams } from '../../src/core';
import { OP, TT, buildTflite, fieldPosition, f32, malformedTflites, smallTfliteSpec, type TensorSpec } from '../fixtures/buildTflite';
import { layerWeights, tensorLocation } from '../../src/core';

async function open(bytes: Uint8Array, name = 'small.tflite', options: Parameters<typeof openModel>[1] = {}): Promise<Model> {
  return openModel(new MemoryByteSource(name, bytes), options);
}

/** Bytes a TensorInfo's location points at. */
function payload(bytes: Uint8Array, model: Model, tensor: string): Uint8Array {
  const t = model.tensors.find((x) => x.name === tensor);
  assert.ok(t?.file !== undefined, `tensor ${tensor} has a location`);
  assert.equal(t.file, '');
  return bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength);
}

test('small built model: structure, constants as byte ranges, quantization, op codes', async () => {
  const { bytes } = buildTflite();
  const m = await open(bytes);
  assert.equal(m.format, 'tflite');
  assert.equal(m.formatVersion, 3);
  assert.equal(m.producer, 'Precision Lens test builder.');
  assert.equal(m.tensorCount, 9);
  assert.equal(m.nodeCount, 5);
  assert.deepEqual(m.tensors.map((t) => [t.name, t.dtype, t.shape, t.byteLength]), [
    ['fc/weights', 'int8', [3, 4], 12],
    ['fc/bias', 'int32', [3], 12],
    ['w16', 'float16', [3, 3], 18],
  ]);
  assert.equal(m.parameterCount, 24);
  assert.equal(m.weightBytes, 42);
  assert.deepEqual([...payload(bytes, m, 'fc/bias')], [...new Uint8Array(new Int32Array([1, -2, 3]).buffer)]);
  assert.deepEqual([...payload(bytes, m, 'fc/weights')], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const w = m.tensors[0]!;
  assert.equal(w.origin, 'buffer');
  assert.deepEqual(w.quant, { scales: [0.5, 0.25, 0.125], zeroPoints: [0, 0, 0], scaleCount: 3, axis: 0 });
  // Buffer payloads are 16-byte aligned (schema force_align: 16).
  assert.equal(w.byteOffset % 16, 0);

  const g = m.graphs[0]!;
  assert.equal(g.name, 'main');
  assert.deepEqual(g.nodes.map((n) => [n.name, n.op, n.domain]), [
    ['FULLY_CONNECTED_0', 'FULLY_CONNECTED', ''],
    ['GELU_1', 'GELU', ''], // builtin 150: only in the new builtin_code field
    ['DEQUANTIZE_2', 'DEQUANTIZE', ''],
    ['BATCH_MATMUL_3', 'BATCH_MATMUL', ''],
    ['MyOp_4', 'MyOp', 'custom'],
  ]);
  assert.deepEqual(g.nodes[4]!.inputs, ['matmul/out', ''], 'optional input -1 is an empty name');
  assert.deepEqual(g.nodes[0]!.attributes, { version: 9 });
  assert.deepEqual(g.inputs, [{ name: 'input', dtype: 'float32', shape: [null, 4] }]);
  assert.deepEqual(g.outputs.map((o) => o.name), ['output']);
  assert.deepEqual(g.initializers, ['fc/weights', 'fc/bias', 'w16']);
  assert.deepEqual(g.valueInfo.map((v) => v.name), ['fc/out', 'gelu/out', 'w16/dequantized', 'matmul/out']);

  assert.deepEqual(m.layers.map((l) => [l.name, l.role, layerWeights(l), l.parameterCount, l.byteLength, l.dtype, l.quantizable]), [
    ['FULLY_CONNECTED_0', 'linear', ['fc/weights', 'fc/bias'], 15, 24, 'int8', true],
    // The fp16 constant reaches BATCH_MATMUL through DEQUANTIZE: it is that layer's weight.
    ['BATCH_MATMUL_3', 'linear', ['w16'], 9, 18, 'float16', true],
  ]);
  assert.deepEqual(m.metadata, { description: 'Precision Lens test builder.', min_runtime_version: '2.3.0' });
  assert.deepEqual(m.warnings, []);
});

test('buffers stored after the FlatBuffer (Buffer.offset/size, the >2 GB layout) become byte ranges', async () => {
  const { bytes, layout } = buildTflite(smallTfliteSpec({ externalWeights: true }));
  const m = await open(bytes);
  const w = m.tensors.find((t) => t.name === 'fc/weights')!;
  const bufferTable = layout.bufferTables[layout.tensorBuffers[0]![1]!]!;
  assert.ok(w.byteOffset > bufferTable, 'payload sits after the tables');
  assert.deepEqual([...payload(bytes, m, 'fc/weights')], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(m.parameterCount, 24);
});

test('a 3 GB model with external buffers is read through a handful of pages, never whole', async () => {
  const { bytes, layout } = buildTflite(smallTfliteSpec({ externalWeights: true }));
  const bigWeight = 3 * 1024 ** 3;
  const patched = bytes.slice();
  const buf = layout.bufferTables[layout.tensorBuffers[0]![1]!]!;
  const view = new DataView(patched.buffer);
  view.setBigUint64(fieldPosition(patched, buf, 1), 4096n, true);
  view.setBigUint64(fieldPosition(patched, buf, 2), BigInt(bigWeight), true);
  // A virtual 3 GB file: the small model's bytes, then zeros; counts what the reader asks for.
  let requested = 0;
  const source: ByteSource = {
    name: 'huge.tflite',
    size: 4096 + bigWeight,
    read(offset, length) {
      requested += length;
      const out = new Uint8Array(length);
      if (offset < patched.length) out.set(patched.subarray(offset, Math.min(patched.length, offset + length)));
      return Promise.resolve(out);
    },
  };
  const m = await openModel(source);
  const w = m.tensors.find((t) => t.name === 'fc/weights')!;
  assert.deepEqual(tensorLocation(w), { file: '', byteOffset: 4096, byteLength: bigWeight, encoding: 'raw' });
  assert.ok(requested <= 128 * 1024, `read ${requested} bytes of a ${source.size}-byte file`);
  assert.match(m.warnings.join('\n'), /fc\/weights' stores 3221225472 bytes but its shape \[3, 4\] of int8 needs 12\./);
});

test('malformed files fail with one clear ModelFormatError each, fast', async () => {
  const cases = malformedTflites();
  assert.ok(cases.length >= 9);
  for (const c of cases) {
    const t0 = performance.now();
    await assert.rejects(open(c.bytes, c.fileName), (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, `${c.label}: ${String(e)}`);
      assert.equal(e.message, c.error, c.label);
      return true;
    });
    assert.ok(performance.now() - t0 < 200, `${c.label} took too long`);
  }
});

test('indices out of range are refused: operator tensor index, opcode index, tensor buffer index', async () => {
  const spec = smallTfliteSpec();
  const sg = spec.subgraphs[0]!;
  const withOps = (operators: typeof sg.operators) => ({ ...spec, subgraphs: [{ ...sg, operators }] });
  await assert.rejects(open(buildTflite(withOps([{ opcode: 0, inputs: [0, 99], outputs: [3] }])).bytes),
    { message: 'small.tflite: operator 0 of subgraph 0 refers to tensor 99 but the subgraph has 9 tensors.' });
  await assert.rejects(open(buildTflite(withOps([{ opcode: 7, inputs: [0], outputs: [3] }])).bytes),
    { message: 'small.tflite: operator 0 of subgraph 0 uses opcode 7 but the model has 5 operator codes.' });
  await assert.rejects(open(buildTflite({ ...spec, subgraphs: [{ ...sg, inputs: [-3] }] }).bytes),
    { message: 'small.tflite: inputs of subgraph 0 refers to tensor -3 but the subgraph has 9 tensors.' });
  const { bytes, layout } = buildTflite();
  const tensorsVec = layout.tensorVectors[0]!;
  const dv = new DataView(bytes.buffer);
  const tensor1 = tensorsVec + 8 + dv.getUint32(tensorsVec + 8, true);
  dv.setUint32(fieldPosition(bytes, tensor1, 2), 77, true);
  await assert.rejects(open(bytes), { message: "small.tflite: tensor 'fc/weights' refers to buffer 77 but the model has 5 buffers." });
});

test('constant tensors: negative dims and unknown types are refused; RESOURCE constants are skipped with a warning', async () => {
  const mk = (type: number, shape: number[]) =>
    buildTflite({ opcodes: [{ builtin: OP.ADD }], subgraphs: [{ tensors: [{ name: 'c', type, shape, data: f32(1, 2) }], inputs: [], outputs: [], operators: [] }] }).bytes;
  await assert.rejects(open(mk(TT.FLOAT32, [2, -1])), { message: "small.tflite: constant tensor 'c' has a negative dimension '-1'." });
  await assert.rejects(open(mk(99, [2])), { message: "small.tflite: constant tensor 'c' has unsupported TFLite type '99'." });
  const m = await open(mk(TT.RESOURCE, [2]));
  assert.equal(m.tensors.length, 0);
  assert.deepEqual(m.warnings, ["Constant tensor 'c' of type RESOURCE is not a weight and was skipped."]);
  assert.equal(m.graphs[0]!.name, 'main', 'unnamed subgraph 0 is main');
});

test('limits: tensor count, per-channel values kept, cancellation', async () => {
  const { bytes } = buildTflite();
  await assert.rejects(open(bytes, 'small.tflite', { limits: { ...DEFAULT_LIMITS, maxTensorCount: 4 } }), /tensors of subgraph 0 at offset \d+ has 9 elements, more than the limit of 4\./);
  const m = await open(bytes, 'small.tflite', { limits: { ...DEFAULT_LIMITS, maxQuantValues: 2 } });
  const q = m.tensors[0]!.quant!;
  assert.deepEqual({ ...q, storedScales: undefined, storedZeroPoints: undefined }, {
    scales: [0.5, 0.25], zeroPoints: [0, 0], scaleCount: 3, axis: 0, scaleRange: [0.125, 0.5], storedScales: undefined, storedZeroPoints: undefined,
  });
  // The summary says where every value is; loadQuantParams reads them back exactly.
  assert.deepEqual(q.storedScales && { count: q.storedScales.count, dtype: q.storedScales.dtype }, { count: 3, dtype: 'float32' });
  assert.deepEqual(q.storedZeroPoints && { count: q.storedZeroPoints.count, dtype: q.storedZeroPoints.dtype }, { count: 3, dtype: 'int64' });
  assert.deepEqual(await loadQuantParams(new MemoryByteSource('small.tflite', bytes), q), { scales: [0.5, 0.25, 0.125], zeroPoints: [0, 0, 0], scaleCount: 3, axis: 0 });
  const full = (await open(bytes)).tensors[0]!.quant!;
  assert.equal(await loadQuantParams(new MemoryByteSource('small.tflite', bytes), full), full, 'untruncated params are returned as they are');
  await assert.rejects(loadQuantParams(new MemoryByteSource('cut.tflite', bytes.subarray(0, q.storedScales!.byteOffset + 4)), q), {
    message: `cut.tflite: stored scales at offset ${q.storedScales!.byteOffset} (3 × 4 bytes) run past the end of the file (${q.storedScales!.byteOffset + 4} bytes).`,
  });
  await assert.rejects(open(bytes, 'small.tflite', { token: { isCancellationRequested: true } }), CancelledError);
});

test('model-wide quantization budget: later tensors keep a summary; all-zero zero points share one array', async () => {
  const channels = 12;
  const layers = 4;
  const scalesOf = (l: number): number[] => Array.from({ length: channels }, (_, c) => (l + 1) * 0.5 + c * 0.25);
  const tensors: TensorSpec[] = [{ name: 'input', type: TT.FLOAT32, shape: [1, channels] }];
  const operators: { opcode: number; inputs: number[]; outputs: number[] }[] = [];
  for (let l = 0; l < layers; l++) {
    const zeroPoints = l === 3 ? scalesOf(0).map((_, c) => c - 5) : new Array<number>(channels).fill(0);
    const w = tensors.push({ name: `w${l}`, type: TT.INT8, shape: [channels, channels], data: new Uint8Array(channels * channels), quant: { scales: scalesOf(l), zeroPoints, axis: 0 } }) - 1;
    const out = tensors.push({ name: `out${l}`, type: TT.FLOAT32, shape: [1, channels] }) - 1;
    operators.push({ opcode: 0, inputs: [l === 0 ? 0 : out - 2, w], outputs: [out] });
  }
  const { bytes } = buildTflite({ opcodes: [{ builtin: OP.FULLY_CONNECTED }], subgraphs: [{ tensors, inputs: [0], outputs: [tensors.length - 1], operators }] });
  const src = new MemoryByteSource('budget.tflite', bytes);
  // Budget 24 values: w0 and w1 keep their 12 scales (interned zero points are free); w2 and w3 a summary of 8.
  const m = await open(bytes, 'budget.tflite', { limits: { ...DEFAULT_LIMITS, maxQuantValuesTotal: 24 } });
  const q = m.tensors.map((t) => t.quant!);
  assert.deepEqual(q.map((x) => [x.scales.length, x.zeroPoints.length, x.scaleCount]), [[12, 12, 12], [12, 12, 12], [8, 8, 12], [8, 8, 12]]);
  assert.deepEqual(q.map((x) => x.scaleRange), [undefined, undefined, [1.5, 4.25], [2, 4.75]]);
  assert.deepEqual(q.map((x) => x.storedScales !== undefined), [false, false, true, true]);
  assert.deepEqual(q[2]!.scales, scalesOf(2).slice(0, 8));
  assert.equal(q[0]!.zeroPoints, q[1]!.zeroPoints, 'all-zero zero points are one shared array');
  assert.ok(Object.isFrozen(q[0]!.zeroPoints));
  for (let l = 0; l < layers; l++) {
    const full = await loadQuantParams(src, q[l]!);
    assert.deepEqual(full.scales, scalesOf(l));
    assert.equal(full.scaleCount, channels);
  }
  assert.deepEqual((await loadQuantParams(src, q[3]!)).zeroPoints, scalesOf(0).map((_, c) => c - 5));
  // The per-tensor cap still applies inside the budget, and bounds the summary too.
  const tight = await open(bytes, 'budget.tflite', { limits: { ...DEFAULT_LIMITS, maxQuantValuesTotal: 0, maxQuantValues: 2 } });
  assert.deepEqual(tight.tensors.map((t) => t.quant!.scales.length), [2, 2, 2, 2]);
});

test('page cache: one read per miss window, steps re-run after a miss, nothing read twice in a sequential walk', async () => {
  // 300 KB of tables-like data: a vector of 70000 u32 offsets, each pointing at one shared 8-byte table.
  const n = 70_000;
  const vec = 16;
  const vt = vec + 4 + 4 * n;
  const table = vt + 8;
  const out = new Uint8Array(table + 8);
  const dv = new DataView(out.buffer);
  dv.setUint32(vec, n, true);
  for (let i = 0; i < n; i++) dv.setUint32(vec + 4 + 4 * i, table - (vec + 4 + 4 * i), true);
  [8, 8, 4, 0].forEach((v, i) => dv.setUint16(vt + 2 * i, v, true));
  dv.setInt32(table, table - vt, true);
  dv.setInt32(table + 4, 42, true);
  const reads: number[] = [];
  const source: ByteSource = { name: 'pages.bin', size: out.length, read: (o, l) => { reads.push(l); return Promise.resolve(out.subarray(o, o + l)); } };
  const fb = new FlatBufferReader(source);
  const positions = await fb.tableVector(vec, n, 'tables');
  assert.equal(positions.length, n);
  let runs = 0;
  const values = await fb.map(n, (i) => {
    runs++;
    return fb.i32Field(fb.table(positions[i]!, 'table'), 0, -1);
  });
  assert.ok(values.every((v) => v === 42));
  assert.equal(fb.readsIssued, reads.length);
  assert.ok(runs - n <= fb.readsIssued, `${runs - n} re-runs for ${fb.readsIssued} reads: a step re-runs only after a miss`);
  assert.equal(reads.reduce((a, b) => a + b, 0), out.length, 'every byte read exactly once');
  assert.ok(reads.length < 6, `${reads.length} reads for ${Math.ceil(out.length / 65536)} pages (windows grow on sequential misses)`);
});

test('aliased tables (200k tensors sharing one table with a 60 KB name) hit the decode budget, not the CPU', async () => {
  const { bytes, layout } = buildTflite();
  const n = 200_000;
  const nameBytes = 60_000;
  const vec = Math.ceil(bytes.length / 4) * 4;
  const vt = vec + 4 + 4 * n;
  const table = vt + 12;
  const str = table + 8;
  const out = new Uint8Array(str + 4 + nameBytes);
  out.set(bytes);
  const dv = new DataView(out.buffer);
  dv.setUint32(vec, n, true);
  for (let i = 0; i < n; i++) dv.setUint32(vec + 4 + 4 * i, table - (vec + 4 + 4 * i), true);
  [12, 8, 0, 0, 0, 4].forEach((v, i) => dv.setUint16(vt + 2 * i, v, true)); // vtable: name at +4
  dv.setInt32(table, table - vt, true);
  dv.setUint32(table + 4, str - (table + 4), true);
  dv.setUint32(str, nameBytes, true);
  out.fill(0x61, str + 4);
  const field = fieldPosition(out, layout.subgraphTables[0]!, 0);
  dv.setUint32(field, vec - field, true);
  const t0 = performance.now();
  await assert.rejects(open(out), {
    message: `small.tflite: the flatbuffer needs more decoding work than its ${out.length} bytes allow (offsets alias the same data many times).`,
  });
  assert.ok(performance.now() - t0 < 2000);
});

test('tables sharing one 64 KB vtable (32765 field slots) cost O(1) each, not a rescan per table', async () => {
  const { bytes, layout } = buildTflite();
  const n = 20_000;
  const vtableBytes = 65534;
  const vec = Math.ceil(bytes.length / 4) * 4;
  const vt = vec + 4 + 4 * n;
  const table = vt + vtableBytes;
  const out = new Uint8Array(table + 8);
  out.set(bytes);
  const dv = new DataView(out.buffer);
  dv.setUint32(vec, n, true);
  for (let i = 0; i < n; i++) dv.setUint32(vec + 4 + 4 * i, table - (vec + 4 + 4 * i), true);
  dv.setUint16(vt, vtableBytes, true);
  dv.setUint16(vt + 2, 8, true);
  dv.setUint16(vt + 4 + 2 * 1, 4, true); // field 1 (type) at +4; every other slot absent
  dv.setInt32(table, table - vt, true);
  const field = fieldPosition(out, layout.subgraphTables[0]!, 0);
  dv.setUint32(field, vec - field, true);
  // Each of the n tables costs O(1): the shared vtable is parsed and validated once.
  const fb = new FlatBufferReader(new MemoryByteSource('x.tflite', out));
  const positions = await fb.tableVector(vec, n, 'tensors');
  for (const p of positions) assert.equal(await fb.run(() => fb.i8Field(fb.table(p, 'tensor'), 1, -1)), 0);
  assert.equal(fb.vtablesParsed, 1);
  const m = await open(out);
  assert.equal(m.tensorCount, n);
  assert.equal(m.graphs[0]!.valueInfo.length, n - 2);
});

