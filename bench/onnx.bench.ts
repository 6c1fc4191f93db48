/**
 * ONNX structure parse on a ~1 GB model: our wire walker vs `onnx.load` (Debian python3-onnx), in one run.
 *
 * Generates, by streaming (never one big buffer), a stack of 64 MatMul layers with 2048×2048 FP32 raw_data
 * initializers (1 GiB of weights) in os.tmpdir(), plus the same model with its weights in an external data file.
 * Reports: our parse time, python's `onnx.load` time of the same file (timed inside python), the ratio
 * (target ≥ 20×), bytes we read / file size (FileByteSource.bytesRead), and our peak RSS (target < 200 MB).
 * Temporary files are deleted at the end. Run: `npm run bench -- onnx`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openModel } from '../src/core';
import { FileByteSource, FolderSiblings } from '../src/node/fileByteSource';
import { ProtoWriter, dataType } from '../test/fixtures/buildOnnx';

const LAYERS = 64;
const DIM = 2048;
const WEIGHT_BYTES = DIM * DIM * 4;
const CHUNK_BYTES = 4 * 1024 * 1024;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** TensorProto fields before the payload (dims, data_type, name). */
function tensorHead(name: string): ProtoWriter {
  return new ProtoWriter().key(1, 0).varint(DIM).key(1, 0).varint(DIM).key(2, 0).varint(dataType('FLOAT')).message(8, text(name));
}

function varintLength(n: number): number {
  return new ProtoWriter().varint(n).finish().length;
}

/** Writes the model; with `externalFile`, weights go to that file (external_data) instead of raw_data. */
function writeModel(modelPath: string, externalFile?: string): void {
  const nodes = new ProtoWriter();
  for (let i = 0; i < LAYERS; i++) {
    const n = new ProtoWriter().message(1, text(i === 0 ? 'x' : `h${i - 1}`)).message(1, text(`layers.${i}.weight`)).message(2, text(`h${i}`))
      .message(3, text(`/layers.${i}/MatMul`)).message(4, text('MatMul'));
    nodes.message(1, n);
  }
  const valueInfo = (name: string): ProtoWriter => {
    const shape = new ProtoWriter().message(1, new ProtoWriter().message(2, text('batch'))).message(1, new ProtoWriter().key(1, 0).varint(DIM));
    return new ProtoWriter().message(1, text(name)).message(2, new ProtoWriter().message(1, new ProtoWriter().key(1, 0).varint(1).message(2, shape)));
  };
  const tail = new ProtoWriter().message(2, text('bench')).message(11, valueInfo('x')).message(12, valueInfo(`h${LAYERS - 1}`)).finish();
  const nodeBytes = nodes.finish();

  // Sizes first: the graph is one length-delimited field, so its length is written before its body.
  const heads: Uint8Array[] = [];
  let graphLength = nodeBytes.length + tail.length;
  for (let i = 0; i < LAYERS; i++) {
    const head = tensorHead(`layers.${i}.weight`);
    if (externalFile) {
      head.message(13, new ProtoWriter().message(1, text('location')).message(2, text(externalFile)));
      head.message(13, new ProtoWriter().message(1, text('offset')).message(2, text(String(i * WEIGHT_BYTES))));
      head.message(13, new ProtoWriter().message(1, text('length')).message(2, text(String(WEIGHT_BYTES))));
      head.key(14, 0).varint(1);
    } else head.key(9, 2).varint(WEIGHT_BYTES);
    const h = head.finish();
    heads.push(h);
    const tensorLength = h.length + (externalFile ? 0 : WEIGHT_BYTES);
    graphLength += 1 + varintLength(tensorLength) + tensorLength;
  }
  const modelHead = new ProtoWriter().key(1, 0).varint(10).message(2, text('onnx.bench')).message(8, new ProtoWriter().message(1, text('')).key(2, 0).varint(21))
    .key(7, 2).varint(graphLength).finish();

  const chunk = new Uint8Array(CHUNK_BYTES);
  const view = new Float32Array(chunk.buffer);
  for (let i = 0; i < view.length; i++) view[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const fd = openSync(modelPath, 'w');
  const dataFd = externalFile ? openSync(path.join(path.dirname(modelPath), externalFile), 'w') : undefined;
  try {
    writeSync(fd, modelHead);
    writeSync(fd, nodeBytes);
    for (let i = 0; i < LAYERS; i++) {
      const h = heads[i]!;
      const tensorLength = h.length + (externalFile ? 0 : WEIGHT_BYTES);
      writeSync(fd, new ProtoWriter().key(5, 2).varint(tensorLength).bytes(h).finish());
      for (let done = 0; done < WEIGHT_BYTES; done += CHUNK_BYTES) writeSync(dataFd ?? fd, chunk, 0, Math.min(CHUNK_BYTES, WEIGHT_BYTES - done));
    }
    writeSync(fd, tail);
  } finally {
    closeSync(fd);
    if (dataFd !== undefined) closeSync(dataFd);
  }
}

async function ours(modelPath: string): Promise<{ ms: number; bytesRead: number; size: number; params: number; layers: number }> {
  const source = await FileByteSource.open(modelPath);
  const siblings = FolderSiblings.forModel(modelPath);
  try {
    const started = performance.now();
    const m = await openModel(source, { siblings });
    const ms = performance.now() - started;
    return { ms, bytesRead: source.bytesRead + (await siblings.bytesRead()), size: m.totalFileBytes, params: m.parameterCount, layers: m.layers.length };
  } finally {
    await siblings.close();
    await source.close();
  }
}

function pythonLoad(modelPath: string, externalData: boolean): number | undefined {
  const code = 'import sys, time, onnx\nt = time.perf_counter()\nm = onnx.load(sys.argv[1], load_external_data=sys.argv[2] == "1")\nprint(time.perf_counter() - t)';
  const r = spawnSync('/usr/bin/python3', ['-c', code, modelPath, externalData ? '1' : '0'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`python3-onnx unavailable or failed: ${r.stderr.trim().split('\n').pop() ?? r.error?.message}`);
    return undefined;
  }
  return Number(r.stdout.trim()) * 1000;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onnx-bench-'));
  let ok = true;
  try {
    const embedded = path.join(dir, 'embedded.onnx');
    const external = path.join(dir, 'external.onnx');
    let t = performance.now();
    writeModel(embedded);
    writeModel(external, 'external.onnx.data');
    console.log(`generated 2 models of ${LAYERS} × ${DIM}×${DIM} FP32 in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    await ours(embedded); // warm-up (JIT), same process
    const a = await ours(embedded);
    const rssMb = process.resourceUsage().maxRSS / 1024;
    const b = await ours(external);
    t = performance.now();
    const pyEmbedded = pythonLoad(embedded, true);
    const pyExternal = pythonLoad(external, true);
    const ratio = pyEmbedded !== undefined ? pyEmbedded / a.ms : undefined;
    const rows: [string, string][] = [
      ['file size (embedded)', `${(a.size / 2 ** 20).toFixed(0)} MiB, ${a.params} params, ${a.layers} layers`],
      ['our parse (embedded)', `${a.ms.toFixed(1)} ms`],
      ['onnx.load (embedded)', pyEmbedded !== undefined ? `${pyEmbedded.toFixed(0)} ms` : 'n/a'],
      ['speed-up', ratio !== undefined ? `${ratio.toFixed(0)}× (target ≥ 20×)` : 'n/a'],
      ['bytes read / file size', `${a.bytesRead} / ${a.size} = ${((100 * a.bytesRead) / a.size).toFixed(3)} %`],
      ['our peak RSS', `${rssMb.toFixed(0)} MB (target < 200 MB)`],
      ['our parse (external data)', `${b.ms.toFixed(1)} ms, read ${b.bytesRead} of ${b.size} bytes`],
      ['onnx.load (external data)', pyExternal !== undefined ? `${pyExternal.toFixed(0)} ms (${pyExternal !== undefined ? (pyExternal / b.ms).toFixed(0) : '?'}×)` : 'n/a'],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    if (ratio === undefined || ratio < 20) ok = false;
    if (rssMb >= 200) ok = false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!ok) {
    console.error('onnx bench: a target was missed.');
    process.exitCode = 1;
  }
}

void main();
