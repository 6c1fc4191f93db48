/**
 * Static sensitivity benchmark (issue 4): on a ≥ 1 GiB synthetic safetensors model (F16, or PL_BENCH_DTYPE=BF16|F32;
 * written to os.tmpdir() and deleted afterwards), in one run:
 *  1. time to merely read every weight byte (FileByteSource, 64 MiB reads, like the analysis);
 *  2. time of the full static analysis (default formats, worker threads = available cores);
 *     report analysis ÷ read (target ≤ 2×);
 *  3. our time ÷ numpy (Debian python3-numpy, /usr/bin/python3) for the same per-tensor INT8 and INT4-group-128
 *     error math (relative MSE per tensor) on the same file.
 * The machine may be shared: read and analysis alternate over PL_BENCH_REPEAT trials (default 3) and the best of
 * each is compared; CPU seconds (all threads) are reported too, as they do not depend on other processes.
 * Options: PL_BENCH_GIB (default 1), PL_BENCH_WORKERS, PL_BENCH_REPEAT, PL_BENCH_DTYPE (F16, BF16 or F32).
 */
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { floatToBf16Bits, floatToHalfBits } from '../src/core';
import { FileByteSource, openModelFile } from '../src/node/fileByteSource';
import { analyzeModelSensitivity } from '../src/node/sensitivityRunner';
import { buildSafetensors } from '../test/fixtures/buildSafetensors';

const GIB = Number(process.env['PL_BENCH_GIB'] ?? 1);
const ST_DTYPE = (process.env['PL_BENCH_DTYPE'] ?? 'F16').toUpperCase() as 'F16' | 'BF16' | 'F32';
const DTYPE = ({ F16: 'float16', BF16: 'bfloat16', F32: 'float32' } as const)[ST_DTYPE];
if (!DTYPE) throw new Error(`PL_BENCH_DTYPE must be F16, BF16 or F32, not '${ST_DTYPE}'.`);
const BYTES_PER_ELEMENT = ST_DTYPE === 'F32' ? 4 : 2;
const ROWS = 4096, COLS = 4096; // 32 MiB per F16 tensor
const TENSORS = Math.ceil((GIB * 1024 ** 3) / (ROWS * COLS * BYTES_PER_ELEMENT));
const REPEAT = Math.max(1, Number(process.env['PL_BENCH_REPEAT'] ?? 3));

async function writeModel(file: string): Promise<number> {
  const specs = Array.from({ length: TENSORS }, (_, i) => ({ name: `model.layers.${i}.mlp.down_proj.weight`, dtype: ST_DTYPE, shape: [ROWS, COLS] }));
  const built = buildSafetensors(specs, { omitData: true });
  const fh = await fs.open(file, 'w');
  try {
    await fh.write(built.bytes, 0, built.bytes.length, 0);
    // One block of Gaussian weights (σ 0.02, a few outliers), varied per tensor by a cheap XOR of the low bits.
    const n = ROWS * COLS;
    const encode = (v: number): number => (ST_DTYPE === 'F16' ? floatToHalfBits(v) : ST_DTYPE === 'BF16' ? floatToBf16Bits(v) : new Uint32Array(Float32Array.of(v).buffer)[0]!);
    const base = ST_DTYPE === 'F32' ? new Uint32Array(n) : new Uint16Array(n);
    let s = 12345;
    for (let i = 0; i < n; i += 2) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const u1 = (s >>> 8) / 2 ** 24 + 1e-9;
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const u2 = (s >>> 8) / 2 ** 24;
      const r = Math.sqrt(-2 * Math.log(u1)) * 0.02;
      base[i] = encode(r * Math.cos(2 * Math.PI * u2));
      base[i + 1] = encode(r * Math.sin(2 * Math.PI * u2));
    }
    const buf = ST_DTYPE === 'F32' ? new Uint32Array(n) : new Uint16Array(n);
    const tensorBytes = n * BYTES_PER_ELEMENT;
    for (let t = 0; t < TENSORS; t++) {
      for (let i = 0; i < n; i++) buf[i] = base[i]! ^ (t & 7);
      buf[t * 977] = encode(1.5); // an outlier per tensor
      await fh.write(new Uint8Array(buf.buffer), 0, tensorBytes, built.bytes.length + t * tensorBytes);
    }
    return built.bytes.length;
  } finally {
    await fh.close();
  }
}

async function readAll(file: string, dataStart: number): Promise<number> {
  const src = await FileByteSource.open(file);
  const t = performance.now();
  const chunk = 64 * 1024 * 1024;
  for (let off = dataStart; off < src.size; off += chunk) await src.read(off, Math.min(chunk, src.size - off));
  const ms = performance.now() - t;
  await src.close();
  return ms;
}

const NUMPY = String.raw`
import sys, time, numpy as np
path, start, tensors, rows, cols, dt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
mm = np.memmap(path, dtype={'F16': np.float16, 'BF16': np.uint16, 'F32': np.float32}[dt], mode='r', offset=start)
t = time.perf_counter()
out = []
for k in range(tensors):
    raw = mm[k*rows*cols:(k+1)*rows*cols]
    w = (raw.astype(np.uint32) << 16).view(np.float32) if dt == 'BF16' else np.asarray(raw, dtype=np.float32)
    sig = float(np.add.reduce(w * w, dtype=np.float64))
    s = np.float32(np.abs(w).max() / 127)
    q = np.clip(np.rint(w / s), -127, 127) * s
    d = w - q
    e8 = float(np.add.reduce(d * d, dtype=np.float64)) / sig
    g = w.reshape(-1, 128)
    s4 = (np.abs(g).max(axis=1, keepdims=True) / 7).astype(np.float16).astype(np.float32)
    s4[s4 == 0] = 1
    q4 = np.clip(np.rint(g / s4), -8, 7) * s4
    d4 = (g - q4).ravel()
    e4 = float(np.add.reduce(d4 * d4, dtype=np.float64)) / sig
    out.append((e8, e4))
print(time.perf_counter() - t, out[0][0], out[0][1])
`;

/** CPU seconds of this process (all threads) since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1e6;
}

/** Single-thread ns/element of analyzeSensitivityChunk on one tensor, per format set and kernel backend. */
async function perFormatCost(file: string, dataStart: number): Promise<{ lines: string[]; int8int4NsPerElement: number }> {
  const { analyzeSensitivityChunk, setErrorKernelBackend } = await import('../src/core/precision');
  const src = await FileByteSource.open(file);
  const bytes = (await src.read(dataStart, ROWS * COLS * BYTES_PER_ELEMENT)).slice();
  await src.close();
  const n = ROWS * COLS;
  const run = (formats: string[]): number => {
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const t = performance.now();
      analyzeSensitivityChunk({ id: 0, dtype: DTYPE, encoding: 'raw', elementCount: n, bytes, shape: [ROWS, COLS], rowOffset: 0, quant: undefined, transpose: false, formats, wantColumnAbsMax: false });
      best = Math.min(best, performance.now() - t);
    }
    return (best * 1e6) / n;
  };
  const lines: string[] = [];
  let int8int4NsPerElement = 0;
  for (const backend of ['wasm', 'js'] as const) {
    setErrorKernelBackend(backend);
    const base = run([]);
    const parts = ['fp16', 'bf16', 'fp8_e4m3', 'int8_tensor', 'int8', 'int4'].map((f) => `${f} +${Math.max(0, run([f]) - base).toFixed(2)}`);
    const pair = run(['int8_tensor', 'int4']);
    if (backend === 'wasm') int8int4NsPerElement = pair;
    const how = DTYPE === 'float32' ? 'statistics' : 'statistics (code histogram)';
    lines.push(`  ${backend.padEnd(4)}: ${how} ${base.toFixed(2)} ns/element; added per format (incl. decoding into blocks where needed): ${parts.join(', ')}; all 5 defaults ${run(['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4']).toFixed(2)}; int8_tensor + int4 ${pair.toFixed(2)} ns/element`);
  }
  setErrorKernelBackend('auto');
  return { lines, int8int4NsPerElement };
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-sens-bench-'));
  const file = path.join(dir, 'model.safetensors');
  const workers = Number(process.env['PL_BENCH_WORKERS'] ?? (os.availableParallelism?.() ?? os.cpus().length));
  try {
    // The shipped worker is a plain JS bundle (dist/worker.js); bundle it fresh so the figures are the product's,
    // not tsx compiling TypeScript inside every worker.
    const workerFile = path.join(dir, 'worker.js');
    await esbuild.build({ entryPoints: [path.join(__dirname, '../src/worker/analysis.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: workerFile, logLevel: 'warning', external: ['vscode', 'onnxruntime-node'], mainFields: ['module', 'main'] });
    const dataStart = await writeModel(file);
    const size = (await fs.stat(file)).size;
    console.log(`synthetic model: ${TENSORS} × ${ST_DTYPE} [${ROWS}, ${COLS}] = ${(size / 1024 ** 3).toFixed(2)} GiB; ${workers} workers; ${os.cpus().length} cores; load avg ${os.loadavg()[0]!.toFixed(1)}`);
    await readAll(file, dataStart); // warm the page cache once, so both sides read from memory
    const f = await openModelFile(file);
    // Trials alternate read-only and analysis so both see the same machine load; the best of each is reported.
    const trials: { readMs: number; readCpu: number; analysisMs: number; analysisCpu: number }[] = [];
    let int8int4Ms: number;
    let ours: { e8: number; e4: number };
    try {
      const { openModel } = await import('../src/core');
      const model = await openModel(f.source, { siblings: f.siblings });
      const opened = { model, source: f.source, siblings: f.siblings };
      for (let k = 0; k < REPEAT; k++) {
        let c0 = process.cpuUsage();
        const readMs = await readAll(file, dataStart);
        const readCpu = cpuSeconds(c0);
        const t = performance.now();
        c0 = process.cpuUsage();
        const r = await analyzeModelSensitivity(opened, { workers, workerFile });
        trials.push({ readMs, readCpu, analysisMs: performance.now() - t, analysisCpu: cpuSeconds(c0) });
        if (r.layers.length !== TENSORS) throw new Error(`analyzed ${r.layers.length} of ${TENSORS} tensors`);
      }
      const t = performance.now();
      const r2 = await analyzeModelSensitivity(opened, { workers, workerFile, formats: ['int8_tensor', 'int4'] });
      int8int4Ms = performance.now() - t;
      ours = { e8: r2.layers[0]!.formats['int8_tensor']!.relMse, e4: r2.layers[0]!.formats['int4']!.relMse };
    } finally {
      await f.close();
    }
    const readMs = Math.min(...trials.map((x) => x.readMs)), analysisMs = Math.min(...trials.map((x) => x.analysisMs));
    const readCpu = Math.min(...trials.map((x) => x.readCpu)), analysisCpu = Math.min(...trials.map((x) => x.analysisCpu));
    const costs = await perFormatCost(file, dataStart);
    const py = spawnSync('/usr/bin/python3', ['-c', NUMPY, file, String(dataStart), String(TENSORS), String(ROWS), String(COLS), ST_DTYPE], { encoding: 'utf8' });
    const [npSec, npE8, npE4] = (py.stdout.trim().split(/\s+/) ?? []).map(Number);
    const mib = size / 1024 ** 2;
    console.log(`trials (read s / analysis s): ${trials.map((x) => `${(x.readMs / 1000).toFixed(2)}/${(x.analysisMs / 1000).toFixed(2)}`).join(', ')}`);
    console.log(`read only (best):          ${(readMs / 1000).toFixed(2)} s (${(mib / (readMs / 1000)).toFixed(0)} MiB/s; CPU ${readCpu.toFixed(2)} s)`);
    console.log(`static analysis (best, 5 fmts): ${(analysisMs / 1000).toFixed(2)} s (${(mib / (analysisMs / 1000)).toFixed(0)} MiB/s; CPU ${analysisCpu.toFixed(2)} s over all threads, incl. reading and worker start)  → analysis ÷ read = ${(analysisMs / readMs).toFixed(2)}× (target ≤ 2×)`);
    console.log(`single-thread cost per element (one [${ROWS}, ${COLS}] ${ST_DTYPE} tensor, analyzeSensitivityChunk):`);
    for (const l of costs.lines) console.log(l);
    if (py.status === 0 && npSec) {
      console.log(`INT8-tensor + INT4-g128:   ours ${(int8int4Ms / 1000).toFixed(2)} s (read, decode, stats, both errors; ${workers} workers) vs numpy ${npSec.toFixed(2)} s (1 thread, memory-mapped) → ours ÷ numpy = ${(int8int4Ms / 1000 / npSec).toFixed(2)}×`);
      console.log(`  per thread: ours ${costs.int8int4NsPerElement.toFixed(2)} ns/element (in memory, one thread) vs numpy ${((npSec * 1e9) / (TENSORS * ROWS * COLS)).toFixed(2)} ns/element → ${(costs.int8int4NsPerElement / ((npSec * 1e9) / (TENSORS * ROWS * COLS))).toFixed(3)}×`);
      console.log(`  relMse check (tensor 0): ours int8 ${ours.e8.toExponential(4)} int4 ${ours.e4.toExponential(4)} | numpy int8 ${npE8!.toExponential(4)} int4 ${npE4!.toExponential(4)}`);
    } else console.log(`numpy comparison skipped: ${py.stderr || py.error?.message || 'python3-numpy missing'}`);
    console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; load avg after ${os.loadavg()[0]!.toFixed(1)}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
