/**
 * TFLite benchmark: a large-graph model (8192 FULLY_CONNECTED layers → 24577 tensors, 16385 buffers, int8
 * kernels with 512 per-channel scales and zero points each) whose weights use the >2 GB layout
 * (Buffer.offset/size after the FlatBuffer), written sparsely to a 6 GiB file in a temp folder.
 *
 * The parent builds the file, then measures in fresh child processes so that each peak RSS belongs to the
 * work measured, not to the builder:
 * - `timing` (under tsx, like every benchmark): our open and the baseline, alternating, RUNS each (same
 *   process and JIT state) → medians and ratio;
 * - `ours` / `ours1` / `baseline` / `idle`: RUNS opens, 1 open, RUNS baseline walks, nothing → peak RSS each.
 *   These run this file bundled by esbuild under plain `node`, as the CLI and extension ship (dist/*.js):
 *   tsx's loader thread alone adds ~80 MiB of RSS that is not ours. The `idle` figure is that runtime's floor.
 * The baseline reads the whole FlatBuffer region into memory and walks it with the `flatbuffers` npm
 * ByteBuffer (unchecked, no IR). Set PL_BENCH_BEFORE=<another checkout of this repo> to also time that
 * checkout's reader in the same alternation (before/after figures from one run).
 */
import { spawnSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { openModel } from '../src/core';
import { openModelFile } from '../src/node/fileByteSource';
import { OP, TT, buildTflite, type TensorSpec } from '../test/fixtures/buildTflite';

const RUNS = 7;
const LAYERS = 8192;
const HIDDEN = 512;
const FILE_BYTES = 6 * 1024 ** 3;
const EXPECT_PARAMS = LAYERS * (HIDDEN * HIDDEN + HIDDEN);

type Open = typeof openModel;
type OpenFile = typeof openModelFile;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * This process's peak RSS. On Linux from /proc/self/status VmHWM (the high-water mark of this process's own
 * address space): getrusage's ru_maxrss survives fork+exec, so a child would inherit the parent's peak.
 */
function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
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

/** One open through a reader; returns the bytes it read. */
async function ours(open: Open, openFile: OpenFile, file: string): Promise<number> {
  const f = await openFile(file);
  try {
    const m = await open(f.source, { siblings: f.siblings });
    if (m.parameterCount !== EXPECT_PARAMS) throw new Error(`parameterCount ${m.parameterCount}, expected ${EXPECT_PARAMS}`);
    return f.source.bytesRead;
  } finally {
    await f.close();
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const a = performance.now();
  await fn();
  return performance.now() - a;
}

/** Child process: one measurement mode; prints one JSON line. */
async function child(mode: string, file: string, flatbufferBytes: number): Promise<void> {
  const result: Record<string, number> = {};
  if (mode === 'timing') {
    const before = process.env.PL_BENCH_BEFORE;
    const old = before
      ? { open: (await import(path.join(before, 'src/core'))).openModel as Open, openFile: (await import(path.join(before, 'src/node/fileByteSource'))).openModelFile as OpenFile }
      : undefined;
    const a: number[] = [];
    const b: number[] = [];
    const c: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      a.push(await timed(async () => (result.bytesRead = await ours(openModel, openModelFile, file))));
      b.push(await timed(() => baseline(file, flatbufferBytes)));
      if (old) c.push(await timed(() => ours(old.open, old.openFile, file)));
    }
    result.ours = median(a);
    result.baseline = median(b);
    if (old) result.before = median(c);
  } else if (mode === 'ours' || mode === 'ours1') {
    const times: number[] = [];
    for (let r = 0; r < (mode === 'ours1' ? 1 : RUNS); r++) times.push(await timed(() => ours(openModel, openModelFile, file)));
    result.ms = median(times);
  } else if (mode === 'baseline') {
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) times.push(await timed(() => baseline(file, flatbufferBytes)));
    result.ms = median(times);
  }
  result.peakRssMiB = peakRssMiB();
  console.log(JSON.stringify(result));
}

/** Runs a child mode: under tsx (this file), or from `bundle` under plain node. */
function spawnChild(mode: string, file: string, flatbufferBytes: number, bundle?: string): Record<string, number> {
  const argv = bundle ? [bundle] : [...process.execArgv, __filename];
  const r = spawnSync(process.execPath, [...argv, '--child', mode, file, String(flatbufferBytes)], { encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

async function main(): Promise<void> {
  const tensors: TensorSpec[] = [{ name: 'input', type: TT.FLOAT32, shape: [1, HIDDEN] }];
  const operators: { opcode: number; inputs: number[]; outputs: number[] }[] = [];
  let prev = 0;
  for (let l = 0; l < LAYERS; l++) {
    const w = tensors.push({ name: `dense_${l}/kernel`, type: TT.INT8, shape: [HIDDEN, HIDDEN], data: new Uint8Array(1), external: true, quant: { scales: new Array(HIDDEN).fill(0.01), zeroPoints: new Array(HIDDEN).fill(0), axis: 0 } }) - 1;
    const b = tensors.push({ name: `dense_${l}/bias`, type: TT.INT32, shape: [HIDDEN], data: new Uint8Array(1), external: true }) - 1;
    const out = tensors.push({ name: `dense_${l}/out`, type: TT.FLOAT32, shape: [1, HIDDEN] }) - 1;
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
    const size = i % 2 === 1 ? HIDDEN * HIDDEN : HIDDEN * 4; // buffer 2l+1 = kernel, 2l+2 = bias
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
    const bundle = path.join(dir, 'tflite.bench.cjs');
    buildSync({ entryPoints: [__filename], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: bundle, mainFields: ['module', 'main'], logLevel: 'error' });
    const timing = spawnChild('timing', file, flatbufferBytes);
    const own = spawnChild('ours', file, flatbufferBytes, bundle);
    const own1 = spawnChild('ours1', file, flatbufferBytes, bundle);
    const base = spawnChild('baseline', file, flatbufferBytes, bundle);
    const idle = spawnChild('idle', file, flatbufferBytes, bundle);
    const bytesRead = timing.bytesRead!;
    console.log(`open (ours, checked, full IR): median ${timing.ours!.toFixed(1)} ms over ${RUNS} runs`);
    console.log(`baseline (read FlatBuffer region + flatbuffers ByteBuffer walk, no checks/IR): median ${timing.baseline!.toFixed(1)} ms`);
    console.log(`ratio ours/baseline: ${(timing.ours! / timing.baseline!).toFixed(2)}`);
    if (timing.before !== undefined) {
      console.log(`before (${process.env.PL_BENCH_BEFORE}): median ${timing.before.toFixed(1)} ms, ratio before/baseline ${(timing.before / timing.baseline!).toFixed(2)}, speed-up ${(timing.before / timing.ours!).toFixed(2)}×`);
    }
    console.log(`bytes read: ${bytesRead} of ${FILE_BYTES} (${((bytesRead / FILE_BYTES) * 100).toFixed(4)} %; FlatBuffer region ${flatbufferBytes})`);
    console.log(`peak RSS (bundled, plain node): ours ${own.peakRssMiB!.toFixed(0)} MiB over ${RUNS} opens (${own1.peakRssMiB!.toFixed(0)} MiB for 1 open), baseline ${base.peakRssMiB!.toFixed(0)} MiB, runtime floor ${idle.peakRssMiB!.toFixed(0)} MiB`);
    console.log(`peak RSS of the tsx timing process (ours + baseline${timing.before !== undefined ? ' + before' : ''}, ${RUNS} runs each): ${timing.peakRssMiB!.toFixed(0)} MiB`);
    console.log(`open in the bundled processes: ours median ${own.ms!.toFixed(1)} ms, baseline median ${base.ms!.toFixed(1)} ms (ratio ${(own.ms! / base.ms!).toFixed(2)})`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
const run = args[0] === '--child' ? child(args[1]!, args[2]!, Number(args[3])) : main();
void run.catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
