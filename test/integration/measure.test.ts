import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { MemoryByteSource, openModel, spearman, type Model } from '../../src/core';
import { generateCalibrationInputs, loadCalibrationInputs, parseNpy, parseNpz } from '../../src/node/calibration';
import { openModelFile } from '../../src/node/fileByteSource';
import { lowerTensorBytes, measureSensitivity } from '../../src/node/measure';
import { SHARED_MODELS } from './sharedModels';

const MODELS = path.join(SHARED_MODELS, 'onnx');

function npy(dtype: string, shape: number[], data: ArrayBufferView): Uint8Array {
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Minimal ZIP (one deflated entry) as numpy's savez_compressed writes. */
function zip(name: string, content: Uint8Array): Uint8Array {
  const comp = deflateRawSync(content);
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(comp.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(comp.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(n.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = 30 + n.length + comp.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(46 + n.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return new Uint8Array(Buffer.concat([local, n, comp, central, n, eocd]));
}

async function open(file: string): Promise<Model> {
  const f = await openModelFile(file);
  try {
    return await openModel(f.source, { siblings: f.siblings });
  } finally {
    await f.close();
  }
}

test('calibration files: .npy, .npz and JSON are parsed and fill the model inputs', async () => {
  const a = parseNpy(npy('<f4', [1, 3], new Float32Array([1, 2, 3])), 'x');
  assert.deepEqual([a.dtype, a.dims, [...(a.data as Float32Array)]], ['float32', [1, 3], [1, 2, 3]]);
  const z = parseNpz(zip('ids.npy', npy('<i8', [2], new BigInt64Array([5n, 7n]))), 'in.npz');
  assert.deepEqual([z[0]!.name, [...(z[0]!.data as BigInt64Array)]], ['ids', [5n, 7n]]);
  assert.throws(() => parseNpy(new Uint8Array(12), 'bad'), /not a .npy file/);
  const model = await open(path.join(MODELS, 'mnist-12.onnx'));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-cal-'));
  try {
    const img = Array.from({ length: 28 }, () => Array(28).fill(0.5));
    await fs.writeFile(path.join(dir, 'in.json'), JSON.stringify([{ Input3: [[img]] }, { Input3: [[img]], unknown: [1] }]));
    const set = await loadCalibrationInputs(path.join(dir, 'in.json'), model);
    assert.equal(set.samples.length, 2);
    assert.deepEqual(set.samples[0]!['Input3']!.dims, [1, 1, 28, 28]);
    assert.equal(set.samples[1]!['unknown'], undefined);
    await fs.writeFile(path.join(dir, 'in.npy'), npy('<f4', [1, 1, 28, 28], new Float32Array(784).fill(0.25)));
    assert.equal((await loadCalibrationInputs(path.join(dir, 'in.npy'), model)).samples[0]!['Input3']!.data[0], 0.25);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('generated inputs follow the documented distributions (token ids within vocab, masks, past length)', async () => {
  const model = await open(path.join(MODELS, 'tiny-random-gpt2-fp32.onnx'));
  const s = generateCalibrationInputs(model, 2).samples[0]!;
  const ids = s['input_ids']!;
  assert.deepEqual(ids.dims, [1, 8]);
  assert.equal(ids.dtype, 'int32'); // ONNX elem_type 6
  assert.ok([...(ids.data as Int32Array)].every((v) => v >= 0 && v < 1000));
  assert.ok([...(s['attention_mask']!.data as Int32Array)].every((v) => v === 1));
  assert.deepEqual(s['attention_mask']!.dims, [1, 12]);
  assert.deepEqual(s['past_0']!.dims, [2, 1, 4, 4, 8]);
  assert.deepEqual([...(s['position_ids']!.data as Int32Array)].slice(0, 3), [4, 5, 6]);
});

test('lowering a tensor rewrites its bytes in the stored dtype only when the format changes it', async () => {
  const file = path.join(MODELS, 'mnist-12.onnx');
  const bytes = new Uint8Array(await fs.readFile(file));
  const model = await openModel(new MemoryByteSource('mnist-12.onnx', bytes));
  const t = model.tensors.find((x) => x.dtype === 'float32' && x.elementCount === 3200)!;
  const orig = bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength);
  const same = lowerTensorBytes(model, 'Conv', t, orig, 'fp32') as Uint8Array;
  assert.deepEqual(same, orig);
  const low = lowerTensorBytes(model, 'Conv', t, orig, 'int4') as Uint8Array;
  assert.equal(low.length, orig.length);
  assert.notDeepEqual(low, orig);
});

test('measured sensitivity of mnist-12: runs, correlates with the static score, and is cached', async () => {
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-measure-'));
  try {
    const file = path.join(MODELS, 'mnist-12.onnx');
    const r = await measureSensitivity(file, { cacheDir, formats: ['fp8_e4m3', 'int4'], workers: 0 });
    assert.equal(r.measured?.cached, false);
    const conv = r.layers.find((l) => l.op === 'Conv')!;
    const m = conv.formats['int4']!;
    assert.ok(m.measuredOutputSqnrDb! > 0 && m.measuredOutputSqnrDb! < 40, String(m.measuredOutputSqnrDb));
    assert.ok(m.cosine! > 0.9 && m.cosine! <= 1);
    assert.ok(m.top1Agreement! >= 0 && m.top1Agreement! <= 1 && m.klDivergence! >= 0);
    const rows = r.layers.filter((l) => l.formats['int4']!.measuredOutputSqnrDb! < 300);
    const rho = spearman(rows.map((l) => l.formats['int4']!.staticScore), rows.map((l) => -l.formats['int4']!.measuredOutputSqnrDb!));
    assert.ok(rho !== undefined && rho > 0.5, `ρ = ${rho}`);
    const again = await measureSensitivity(file, { cacheDir, formats: ['fp8_e4m3', 'int4'], workers: 0 });
    assert.equal(again.measured?.cached, true);
    assert.equal(again.layers[0]!.formats['int4']!.measuredOutputSqnrDb, r.layers[0]!.formats['int4']!.measuredOutputSqnrDb);
    assert.ok((await fs.readdir(cacheDir)).some((f) => f.startsWith('measure-')));
    await assert.rejects(measureSensitivity(path.join(SHARED_MODELS, 'safetensors/cellogpt_weights_s2s.safetensors'), { cacheDir }), /needs an ONNX model/);
  } finally {
    await fs.rm(cacheDir, { recursive: true, force: true });
  }
});

test('FP16 weights stored as ONNX int32_data are lowered by re-encoding the protobuf', async () => {
  const r = await measureSensitivity(path.join(MODELS, 'mnist-12-float16.onnx'), { cacheDir: false, formats: ['int4'], workers: 0 });
  const measured = r.layers.filter((l) => (l.formats['int4']!.measuredOutputSqnrDb ?? 300) < 300);
  assert.ok(measured.length >= 3, JSON.stringify(r.measured));
});
