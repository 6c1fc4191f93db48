/**
 * Huge counts and strings, decompression and declared shapes (issue 14): memory-bounded limits that name
 * themselves, a TFLite shape larger than its buffer refused, .npz entries sharing one stream refused, and no
 * argument spreads over model-sized arrays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { DEFAULT_LIMITS, MemoryByteSource, ModelFormatError, maxOf, openModel } from '../../src/core';
import { parseNpz } from '../../src/node/calibration';
import { buildGguf, kv } from '../fixtures/buildGguf';
import { encodeModel, graph, model, node, value } from '../fixtures/buildOnnx';
import { buildSafetensors } from '../fixtures/buildSafetensors';
import { OP, TT, buildTflite, f32 } from '../fixtures/buildTflite';

const limited = (code: string, re: RegExp) => (e: unknown): boolean => e instanceof ModelFormatError && e.code === code && re.test(e.message);

test('a name longer than maxNameBytes is refused in every reader, and the error names the limit', async () => {
  const long = 'n'.repeat(DEFAULT_LIMITS.maxNameBytes + 1);
  const st = buildSafetensors([{ name: long, dtype: 'F32', shape: [1] }]).bytes;
  const gg = buildGguf({ kvs: [kv.str('general.architecture', 'llama')], tensors: [{ name: long, type: 0, dims: [1] }] }).bytes;
  const ox = encodeModel(model(graph([node('Relu', ['X'], ['Y'], { name: long })], { inputs: [value('X', 'FLOAT', [1])], outputs: [value('Y', 'FLOAT', [1])] })));
  for (const [name, bytes] of [['a.safetensors', st], ['a.gguf', gg], ['a.onnx', ox]] as const) {
    await assert.rejects(openModel(new MemoryByteSource(name, bytes)), limited('limit-exceeded', /maxNameBytes/), name);
  }
  // At the limit it is accepted.
  const ok = buildSafetensors([{ name: 'n'.repeat(DEFAULT_LIMITS.maxNameBytes), dtype: 'F32', shape: [1] }]).bytes;
  assert.equal((await openModel(new MemoryByteSource('b.safetensors', ok))).tensors.length, 1);
});

test('a TFLite tensor whose declared shape needs more bytes than its buffer holds is refused', async () => {
  const { bytes } = buildTflite({
    opcodes: [{ builtin: OP.FULLY_CONNECTED }],
    subgraphs: [{
      tensors: [{ name: 'x', type: TT.FLOAT32, shape: [1, 4] }, { name: 'w', type: TT.FLOAT32, shape: [4096, 4096], data: f32(1, 2, 3) }, { name: 'y', type: TT.FLOAT32, shape: [1, 4096] }],
      inputs: [0], outputs: [2], operators: [{ opcode: 0, inputs: [0, 1], outputs: [2] }],
    }],
  });
  await assert.rejects(openModel(new MemoryByteSource('m.tflite', bytes)), limited('bad-value', /tensor 'w' stores 12 bytes but its shape \[4096, 4096\] of float32 needs 67108864/));
});

/** A .npz whose central directory lists `copies` entries all pointing at one deflated .npy. */
function sharedStreamNpz(copies: number): Uint8Array {
  const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  const npy = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.from(Uint16Array.of(header.length + pad + 1).buffer), Buffer.from(header + ' '.repeat(pad) + '\n'), Buffer.from(new Float32Array(4).buffer)]);
  const comp = deflateRawSync(npy);
  const name = Buffer.from('x.npy');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(comp.length, 18);
  local.writeUInt32LE(npy.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central: Buffer[] = [];
  for (let i = 0; i < copies; i++) {
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(8, 10);
    c.writeUInt32LE(comp.length, 20);
    c.writeUInt32LE(npy.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(0, 42);
    central.push(c, name);
  }
  const cd = Buffer.concat(central);
  const body = Buffer.concat([local, name, comp]);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(copies, 8);
  eocd.writeUInt16LE(copies, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(body.length, 16);
  return new Uint8Array(Buffer.concat([body, cd, eocd]));
}

test('.npz entries that share one compressed stream are refused; one entry still loads', () => {
  assert.equal(parseNpz(sharedStreamNpz(1), 'one.npz').length, 1);
  assert.throws(() => parseNpz(sharedStreamNpz(1000), 'bomb.npz'), /bomb\.npz: ZIP entries share one data stream/);
});

test('maxOf handles model-sized arrays without a stack overflow', () => {
  const big = Array.from({ length: 1_000_000 }, (_, i) => i % 1000);
  assert.equal(maxOf(big), 999);
  assert.equal(maxOf([], 0), 0);
  assert.ok(Number.isNaN(maxOf([1, NaN])));
});

test('the parsed-table memory budget (maxMetadataMemoryBytes) stops counts × name lengths in every reader, naming the limit and the figure', async () => {
  const MiB = 1024 * 1024;
  const small = { ...DEFAULT_LIMITS, maxMetadataMemoryBytes: 4 * MiB };
  // Each within its own limits: 96 names of 60 KiB (5.6 MiB of names), or 8,000 tensors / 20,000 nodes.
  const longName = (i: number): string => `${i}`.padEnd(60 * 1024, 'n');
  const gg = buildGguf({ kvs: [kv.str('general.architecture', 'llama')], tensors: Array.from({ length: 96 }, (_, i) => ({ name: longName(i), type: 0, dims: [1] })) }).bytes;
  const st = buildSafetensors(Array.from({ length: 8000 }, (_, i) => ({ name: `t${i}`, dtype: 'F32', shape: [1] }))).bytes;
  const ox = encodeModel(model(graph(Array.from({ length: 20_000 }, (_, i) => node('Relu', [i === 0 ? 'X' : `y${i - 1}`], [`y${i}`])), { inputs: [value('X', 'FLOAT', [1])], outputs: [value('y19999', 'FLOAT', [1])] })));
  const oxNames = encodeModel(model(graph(Array.from({ length: 96 }, (_, i) => node('Relu', ['X'], [`y${i}`], { name: longName(i) })), { inputs: [value('X', 'FLOAT', [1])], outputs: [value('y0', 'FLOAT', [1])] })));
  const tf = buildTflite({
    opcodes: [{ builtin: OP.FULLY_CONNECTED }],
    subgraphs: [{ tensors: Array.from({ length: 8000 }, (_, i) => ({ name: `t${i}`, type: TT.FLOAT32, shape: [1] })), inputs: [0], outputs: [1], operators: [] }],
  }).bytes;
  for (const [name, bytes] of [['a.gguf', gg], ['a.safetensors', st], ['a.onnx', ox], ['n.onnx', oxNames], ['a.tflite', tf]] as const) {
    await assert.rejects(
      openModel(new MemoryByteSource(name, bytes), { limits: small }),
      limited('limit-exceeded', new RegExp(`^${name.replace('.', '\\.')}: its tables would need about \\d+ MiB of memory \\(.+\\), more than the limit of 4 MiB \\(maxMetadataMemoryBytes\\)\\.?$`)),
      name,
    );
    // Under the default budget (1.5 GiB) the same files open.
    assert.ok((await openModel(new MemoryByteSource(name, bytes))).format, name);
  }
});
