/**
 * TFLite benchmark: a large-graph model (8192 FULLY_CONNECTED layers → 24577 tensors, 16385 buffers) whose
 * weights use the >2 GB layout (Buffer.offset/size after the FlatBuffer), written sparsely to a 6 GB file in a
 * temp folder. Reports our open time (median of alternating runs) against a baseline that reads the whole
 * FlatBuffer region into memory and walks it with the `flatbuffers` npm ByteBuffer (unchecked, no IR), the
 * bytes read / file size, and peak RSS.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { openModel } from '../src/core';
import { openModelFile } from '../src/node/fileByteSource';
import { OP, TT, buildTflite, type TensorSpec } from '../test/fixtures/buildTflite';

const RUNS = 7;
const LAYERS = 8192;
const FILE_BYTES = 6 * 1024 ** 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Baseline: whole FlatBuffer region in memory, generic accessors, no bounds checks, no IR. */
async function baseline(file: string, flatbufferBytes: number): Promise<number> {
  const handle = await fs.open(file);
  const buf = Buffer.alloc(flatbufferBytes);
  await handle.read(buf, 0, flatbufferBytes, 0);
  await handle.close();
  const bb = new ByteBuffer(new Uint8Array(buf.buffer, buf.byteOffset, flatbufferBytes));
  const root = bb.readInt32(0);
  const field = (table: number, slot: number): number => bb.__offset(table, 4 + 2 * slot);
  let checksum = 0;
  const sgVec = root + field(root, 2);
  const sg = bb.__indirect(bb.__vector(sgVec));
  const tVec = sg + field(sg, 0);
  const nT = bb.__vector_len(tVec);
  for (let i = 0; i < nT; i++) {
    const t = bb.__indirect(bb.__vector(tVec) + i * 4);
    const shape = t + field(t, 0);
    for (let d = 0; d < bb.__vector_len(shape); d++) checksum += bb.readInt32(bb.__vector(shape) + d * 4);
    checksum += bb.readInt8(t + field(t, 1)) + bb.readUint32(t + field(t, 2));
    checksum += (bb.__string(t + field(t, 3)) as string).length;
  }
  const oVec = sg + field(sg, 3);
  for (let i = 0; i < bb.__vector_len(oVec); i++) {
    const o = bb.__indirect(bb.__vector(oVec) + i * 4);
    const ins = o + field(o, 1);
    for (let k = 0; k < bb.__vector_len(ins); k++) checksum += bb.readInt32(bb.__vector(ins) + k * 4);
  }
  const bVec = root + field(root, 4);
  for (let i = 0; i < bb.__vector_len(bVec); i++) {
    const b = bb.__indirect(bb.__vector(bVec) + i * 4);
    const off = field(b, 1);
    if (off) checksum += Number(bb.readUint64(b + off) & 0xffffn);
  }
  return checksum;
}

async function main(): Promise<void> {
  const hidden = 512;
  const tensors: TensorSpec[] = [{ name: 'input', type: TT.FLOAT32, shape: [1, hidden] }];
  const operators: { opcode: number; inputs: number[]; outputs: number[] }[] = [];
  let prev = 0;
  for (let l = 0; l < LAYERS; l++) {
    const w = tensors.push({ name: `dense_${l}/kernel`, type: TT.INT8, shape: [hidden, hidden], data: new Uint8Array(1), external: true, quant: { scales: new Array(hidden).fill(0.01), zeroPoints: new Array(hidden).fill(0), axis: 0 } }) - 1;
    const b = tensors.push({ name: `dense_${l}/bias`, type: TT.INT32, shape: [hidden], data: new Uint8Array(1), external: true }) - 1;
    const out = tensors.push({ name: `dense_${l}/out`, type: TT.FLOAT32, shape: [1, hidden] }) - 1;
    operators.push({ opcode: 0, inputs: [prev, w, b], outputs: [out] });
    prev = out;
  }
  const t0 = performance.now();
  const { bytes, layout } = buildTflite({ opcodes: [{ builtin: OP.FULLY_CONNECTED }], subgraphs: [{ tensors, inputs: [0], outputs: [prev], operators }] });
  // Point every external buffer at its real size inside a sparse 6 GB file.
  const fbEnd = Math.ceil(bytes.length / 4096) * 4096;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let cursor = fbEnd;
  for (let i = 1; i < layout.bufferTables.length; i++) {
    const t = layout.bufferTables[i]!;
    const vt = t - view.getInt32(t, true);
    const size = i % 2 === 1 ? hidden * hidden : hidden * 4; // buffer 2l+1 = kernel, 2l+2 = bias
    view.setBigUint64(t + view.getUint16(vt + 6, true), BigInt(cursor), true);
    view.setBigUint64(t + view.getUint16(vt + 8, true), BigInt(size), true);
    cursor += Math.ceil(size / 64) * 64;
  }
  const flatbufferBytes = bytes.length;
  if (cursor > FILE_BYTES) throw new Error('payloads do not fit');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-tflite-bench-'));
  const file = path.join(dir, 'large.tflite');
  try {
    await fs.writeFile(file, bytes.subarray(0, bytes.length));
    await fs.truncate(file, FILE_BYTES);
    console.log(`built ${LAYERS} layers, ${tensors.length} tensors, FlatBuffer ${(bytes.length / 1048576).toFixed(1)} MiB, file ${(FILE_BYTES / 1024 ** 3).toFixed(0)} GiB (sparse) in ${(performance.now() - t0).toFixed(0)} ms`);
    const ours: number[] = [];
    const base: number[] = [];
    let bytesRead = 0;
    let params = 0;
    for (let r = 0; r < RUNS; r++) {
      const a = performance.now();
      const f = await openModelFile(file);
      const m = await openModel(f.source, { siblings: f.siblings });
      bytesRead = f.source.bytesRead;
      params = m.parameterCount;
      await f.close();
      ours.push(performance.now() - a);
      const b = performance.now();
      await baseline(file, flatbufferBytes);
      base.push(performance.now() - b);
    }
    const expectParams = LAYERS * (hidden * hidden + hidden);
    if (params !== expectParams) throw new Error(`parameterCount ${params}, expected ${expectParams}`);
    const o = median(ours);
    const b = median(base);
    console.log(`open (ours, checked, full IR): median ${o.toFixed(1)} ms over ${RUNS} runs`);
    console.log(`baseline (read FlatBuffer region + flatbuffers ByteBuffer walk, no checks/IR): median ${b.toFixed(1)} ms`);
    console.log(`ratio ours/baseline: ${(o / b).toFixed(2)}`);
    console.log(`bytes read: ${bytesRead} of ${FILE_BYTES} (${((bytesRead / FILE_BYTES) * 100).toFixed(4)} %; FlatBuffer region ${bytes.length})`);
    console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
