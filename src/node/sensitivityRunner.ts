/**
 * Static sensitivity over a whole model in Node: reads each layer's weights from their byte ranges (never the
 * whole file), fans the work out over worker_threads (one per core by default), reports throttled progress
 * (~1/s), honours a cancellation token, and can sample a fraction of every tensor for very large models.
 *
 * Work units: small tensors (≤ {@link BATCH_MAX_TENSOR_BYTES}) go in batches of up to {@link BATCH_BYTES}: one read
 * and one worker message per batch (a 200,000-tensor GGUF otherwise spends most of its time in per-tensor reads
 * and messages). Any other tensor of ≤ {@link WHOLE_TENSOR_ELEMENTS} elements is one task. Larger tensors are split into
 * row ranges of ~{@link CHUNK_ELEMENTS} elements. FP16/BF16 chunks take one pass (core `canAnalyzeInOnePass`:
 * they return code histograms, and the element-wise formats with per-tensor scales come from their sum); other
 * chunks take two passes: statistics first (max |w|, mean |w|, and per-column max for transposed weights), then
 * the error pass with those whole-tensor facts, so per-tensor and per-channel scales are the same as for the
 * whole tensor.
 *
 * I/O: with workers, ranges of local files (FileByteSource, ≥ {@link RECYCLE_MIN_BYTES}) are read by the worker
 * itself (`task.file`): FP16/BF16 and FP32 stream in 512 KiB reads straight into the kernels' memory while
 * earlier reads are analyzed (FP32 formats with a per-tensor scale read the pieces a second time, once the
 * chunk's max is known), so bytes never cross threads and the main thread only schedules. Other reads happen here, into
 * buffers the workers hand back ({@link BufferRecycler}). Costs per element: see core errorKernels.ts and
 * bench/sensitivity.bench.ts.
 *
 * Sampling (`sample` < 1): every tensor is cut into blocks of rows (~64 Ki elements, whole 256-row K-groups for
 * transposed weights); a seeded random subset of about `sample` of the blocks (at least one per tensor) is read.
 * Whole-tensor scales (per-tensor max) then come from the sample, i.e. are lower bounds; the reported relative
 * standard error of relMse is the ratio estimator's from the per-block sums (with the finite population
 * correction).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import type * as WorkerThreads from 'node:worker_threads';
import type { Worker } from 'node:worker_threads';
import {
  CancelledError,
  ModelFormatError,
  checkRange,
  formatError,
  DEFAULT_SENSITIVITY_FORMATS,
  ErrorAccumulator,
  WeightStatsAccumulator,
  analyzeSensitivityChunk,
  canAnalyzeInOnePass,
  histogramSensitivity,
  decodeUnsupportedReason,
  dtypeInfo,
  getNumberFormat,
  openModel,
  quantizationLayout,
  rowLayout,
  scoreLayer,
  layerContexts,
  layerGain,
  staticScoreOf,
  storedMatrixShape,
  throwIfCancelled,
  type ByteSource,
  type CancellationToken,
  type ErrorPartial,
  type Layer,
  type LayerSensitivity,
  type Model,
  type SensitivityChunkResult,
  type SensitivityChunkTask,
  type LayerPosition,
  type SensitivityLayerRows,
  type SensitivityReport,
  type SensitivityRowsReport,
  type SensitivityScores,
  type SensitivityScoresReport,
  type SiblingResolver,
  type WeightStatsPartial,
  type TensorInfo,
} from '../core';
import { FileByteSource, openModelFile, openRegularFile } from './fileByteSource';
import { BATCH_ERROR_FIELDS, BATCH_STATS_FIELDS, batchStats, handleSensitivityRequest, runSensitivityBatch, type SensitivityBatchRequest, type SensitivityBatchResults, type SensitivityWorkerReply, type SensitivityWorkerRequest } from '../worker/sensitivityWorker';
import { loadQuantParams, seededRandom, tensorLocation } from '../core';
import { NodeError } from './errors';
import { INLINE_BELOW_BYTES, discardPrestartedWorkers, sharedDefaultWorkers, takePrestartedWorkers } from './prestartedWorkers';

/** node:worker_threads, loaded when the first worker starts: the CLI bundles every command, and `inspect` starts none. */
function workerThreads(): typeof WorkerThreads {
  return require('node:worker_threads') as typeof WorkerThreads;
}

/** Tensors up to this many elements are analyzed in one task (64 MiB of float32). */
export const WHOLE_TENSOR_ELEMENTS = 16 * 1024 * 1024;
/** Target elements per chunk of a larger tensor. */
export const CHUNK_ELEMENTS = 4 * 1024 * 1024;
/** Target elements per sampling block. */
export const SAMPLE_BLOCK_ELEMENTS = 64 * 1024;
/** Reads at least this large go into recycled buffers ({@link BufferRecycler}). */
export const RECYCLE_MIN_BYTES = 1024 * 1024;
/** Below this many weight bytes the analysis runs inline (defined beside the launcher's early start of workers). */
export { INLINE_BELOW_BYTES };

/** Progress of a running analysis. */
export interface SensitivityProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly tensorsDone: number;
  readonly tensorsTotal: number;
  readonly message: string;
}

/** Options of {@link analyzeModelSensitivity}. */
export interface SensitivityOptions {
  /** Format ids or aliases (default {@link DEFAULT_SENSITIVITY_FORMATS}). */
  readonly formats?: readonly string[];
  /** Worker threads (default: available parallelism; 0 = inline on this thread). */
  readonly workers?: number;
  /**
   * With the default worker count (no `workers`) on two or more cores: one worker fewer, and this thread analyzes
   * chunks too, one at a time (it is busy for ~25 ms per 16M values). For the CLI, whose main thread only waits;
   * never the extension host's. Same results.
   */
  readonly mainThreadShare?: boolean;
  /** Fraction of each tensor to read, in (0, 1]; 1 or undefined = full pass. */
  readonly sample?: number;
  /** Seed of the sampling PRNG (default 1), so reruns read the same blocks. */
  readonly seed?: number;
  readonly token?: CancellationToken;
  /** Called at most about once per second, and once at the end. */
  readonly onProgress?: (p: SensitivityProgress) => void;
  /** Tensors above this many elements are chunked (default {@link WHOLE_TENSOR_ELEMENTS}; tests and benchmarks lower it). */
  readonly wholeTensorElements?: number;
  /** Elements per chunk (default {@link CHUNK_ELEMENTS}). */
  readonly chunkElements?: number;
  /** Run inline below this many weight bytes (default {@link INLINE_BELOW_BYTES}). */
  readonly inlineBelowBytes?: number;
  /** Bytes of one batch of small tensors (default {@link BATCH_BYTES}; 0 = one task per tensor, as tests compare). */
  readonly batchBytes?: number;
  /** Worker script (default: dist/worker.js beside the bundle, else src/worker/analysis.ts through tsx); benchmarks pass a fresh bundle. */
  readonly workerFile?: string;
}

/** A model already opened by the caller. */
export interface OpenedModel {
  readonly model: Model;
  readonly source: ByteSource;
  readonly siblings: SiblingResolver;
}

/** Resolves user format ids/aliases to canonical ids; throws on unknown ones. */
export function resolveFormats(ids: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const id of ids ?? DEFAULT_SENSITIVITY_FORMATS) {
    const f = getNumberFormat(id);
    if (!f) throw new NodeError('unknown-format', `Unknown number format '${id}'.`);
    if (!out.includes(f.id)) out.push(f.id);
  }
  return out;
}

/** Ops whose small (≤ 64 values) constant inputs are shapes, scales or thresholds rather than learned weights. */
const NON_WEIGHT_OPS: ReadonlySet<string> = new Set(['Resize', 'Upsample', 'Reshape', 'Expand', 'Tile', 'Slice', 'Pad', 'Clip', 'Range', 'ConstantOfShape', 'Shape', 'Where', 'Equal', 'Less', 'Greater', 'Pow', 'TopK', 'NonMaxSuppression', 'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear']);

interface LayerPlan {
  readonly layer: Layer;
  readonly tensors: readonly TensorInfo[];
}

/** Layers worth analyzing and the tensors of each that get lowered; plus skip reasons. */
export function planSensitivityLayers(model: Model): { plans: LayerPlan[]; skipped: Map<string, string[]> } {
  const byName = new Map(model.tensors.map((t) => [t.name, t]));
  const plans: LayerPlan[] = [];
  const skipped = new Map<string, string[]>();
  const skip = (why: string, layer: string): void => {
    const l = skipped.get(why) ?? [];
    l.push(layer);
    skipped.set(why, l);
  };
  for (const layer of model.layers) {
    const main = byName.get(layer.weight ?? '');
    if (!main) continue;
    const kind = dtypeInfo(main.dtype)?.kind;
    if (kind !== 'float' && kind !== 'quantized' && !(kind === 'int' || kind === 'uint')) continue;
    if ((kind === 'int' || kind === 'uint') && !['int8', 'uint8', 'int4', 'uint4', 'int16', 'uint16'].includes(main.dtype)) {
      skip(`integer ${main.dtype} tensors are indices or shapes, not weights`, layer.name);
      continue;
    }
    if (main.file === undefined || main.elementCount === 0) {
      skip('weights are not stored in the file', layer.name);
      continue;
    }
    if (main.elementCount <= 64 && (NON_WEIGHT_OPS.has(layer.op) || layer.role === 'other')) {
      skip('constants of arithmetic/shape ops, not weights', layer.name);
      continue;
    }
    const why = decodeUnsupportedReason(main.dtype);
    if (why) {
      skip(why, layer.name);
      continue;
    }
    const tensors = [main];
    for (const name of layer.moreWeights) {
      const t = byName.get(name);
      if (t && t.file !== undefined && t.shape.length >= 2 && t.elementCount > 0 && !decodeUnsupportedReason(t.dtype) && dtypeInfo(t.dtype)?.kind !== 'int') tensors.push(t);
    }
    plans.push({ layer, tensors });
  }
  return { plans, skipped };
}

/** One read+analyze unit. */
interface ChunkSpec {
  readonly tensor: TensorInfo;
  readonly rowStart: number;
  readonly rowCount: number;
  readonly elementStart: number;
  readonly elementCount: number;
  readonly byteStart: number;
  readonly byteLength: number;
}

function chunkSpecs(tensor: TensorInfo, transpose: boolean, targetElements: number): ChunkSpec[] | undefined {
  const loc = tensorLocation(tensor)!;
  const info = dtypeInfo(tensor.dtype)!;
  const { rows, rowLength } = rowLayout(storedMatrixShape(tensor.shape, transpose), tensor.elementCount);
  if (loc.encoding !== 'raw' || rows <= 1) return undefined;
  // Row boundaries must fall on whole bytes/blocks; transposed weights also need whole 256-row K-groups.
  if ((rowLength % info.blockSize) !== 0) return undefined;
  const rowBytes = (rowLength / info.blockSize) * info.bytesPerBlock;
  const align = transpose ? 256 : 1;
  let rowsPer = Math.max(1, Math.floor(targetElements / rowLength));
  rowsPer = Math.max(align, Math.floor(rowsPer / align) * align);
  const out: ChunkSpec[] = [];
  for (let r = 0; r < rows; r += rowsPer) {
    const rc = Math.min(rowsPer, rows - r);
    out.push({ tensor, rowStart: r, rowCount: rc, elementStart: r * rowLength, elementCount: rc * rowLength, byteStart: loc.byteOffset + r * rowBytes, byteLength: rc * rowBytes });
  }
  return out;
}


//#region buffer recycling

/**
 * Reads large ranges of local files into recycled ArrayBuffers (workers transfer them back with their result).
 * A fresh 32 MiB buffer per tensor costs page faults and, worse, pushes V8 into full garbage collections as
 * external memory grows (measured: ~0.6 s of main-thread GC per GiB, on a 2-core machine that is CPU the
 * workers lack). Other sources (virtual file systems, in-memory models) and small reads use `ByteSource.read`.
 */
class BufferRecycler {
  private readonly free: ArrayBuffer[] = [];
  /** Buffers this recycler allocated, for the inline path; a buffer a worker sends back was transferred (detached from whoever had it) and is ours. */
  private readonly owned = new WeakSet<ArrayBuffer>();
  constructor(private readonly keep: number) {}

  /** An owned buffer of at least `length` bytes (a recycled one when one fits without wasting more than half). */
  private take(length: number): ArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!.byteLength;
      if (b >= length && b <= 2 * length && (best < 0 || b < this.free[best]!.byteLength)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0]!;
    const fresh = new ArrayBuffer(length);
    this.owned.add(fresh);
    return fresh;
  }

  /** Returns a buffer for reuse: one this recycler allocated, or one a worker transferred back (`transferred`). */
  give(buffer: ArrayBuffer, transferred = false): void {
    if ((transferred || this.owned.has(buffer)) && buffer.byteLength >= RECYCLE_MIN_BYTES && this.free.length < this.keep) this.free.push(buffer);
  }

  /** Exactly `length` bytes at `offset`, in a buffer the caller owns (transferable; byteOffset 0). */
  async read(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
    if (!(source instanceof FileByteSource) || length < RECYCLE_MIN_BYTES) {
      const b = await source.read(offset, length);
      // Own the buffer so it can be transferred to a worker (FileByteSource may return pooled slabs).
      return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
    }
    checkRange(source.name, source.size, offset, length);
    const out = new Uint8Array(this.take(length), 0, length);
    const { handle: fh } = await openRegularFile(source.filePath, source.name);
    try {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new ModelFormatError('truncated', formatError(source.name, `the file ended early at offset ${offset + done}`), offset + done);
        done += bytesRead;
      }
    } catch (e) {
      this.give(out.buffer);
      throw e;
    } finally {
      await fh.close();
    }
    source.bytesRead += length;
    return out;
  }
}

//#endregion

//#region worker pool

/** A counting semaphore (FIFO). */
class Limiter {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** The loader flags (`--import tsx`, `--require …`) a TypeScript worker needs from this process's flags. */
export function loaderArgs(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (/^--(import|require|loader|experimental-loader)$/.test(a) && i + 1 < execArgv.length) out.push(a, execArgv[++i]!);
    else if (/^--(import|require|loader|experimental-loader)=/.test(a)) out.push(a);
  }
  return out;
}

/** The analysis worker script: dist/worker.js beside the bundle, else the TypeScript entry (tests, tsx). */
export function workerEntry(): string | undefined {
  const candidates = [path.join(__dirname, 'worker.js'), path.join(__dirname, '..', 'worker', 'analysis.ts'), path.join(__dirname, '..', 'worker', 'analysis.js')];
  return candidates.find((c) => existsSync(c));
}

/** A reply a worker owes. */
interface PendingReply {
  readonly resolve: (r: SensitivityWorkerReply) => void;
  readonly reject: (e: Error) => void;
}

/**
 * A fixed set of worker threads running sensitivity chunks, and optionally this thread as one more lane
 * (`local`, the CLI's {@link SensitivityOptions.mainThreadShare}): a worker costs ~30 ms of CPU to boot, and the
 * CLI's main thread only waits while the workers analyze. This thread runs one chunk at a time, synchronously,
 * when every worker holds {@link ChunkPool.depth} messages (three with a local lane: a worker then has its next
 * chunks queued and never waits for the busy main thread to hand it one). Two were too few: between two of its own
 * chunks this thread also merges every reply and reads the next batch, and on the 200,000-layer GGUF plan of the bench
 * the one worker sat idle ~0.6 s of the ~3.7 s analysis; with three, ~0, and the plan took 0.967× the wall time (7
 * same-run pairs). The 10,002-layer safetensors plan and the 1 GiB static analysis did not change (one run each).
 */
class ChunkPool {
  private readonly all: Worker[] = [];
  private readonly waiting: (() => void)[] = [];
  /** Per worker, the replies it owes in the order its messages were posted (a worker answers in order). */
  private readonly pending = new Map<Worker, PendingReply[]>();
  /** Messages a worker may hold at once. */
  readonly depth: number;
  private localBusy = false;
  private closed = false;
  private alive: number;
  private lastError: Error | undefined;

  constructor(file: string, size: number, private readonly recycle: (buffer: ArrayBuffer) => void, private readonly local = false) {
    this.alive = size;
    this.depth = local ? 3 : 1;
    // Workers the CLI launcher started early for this script (prestartedWorkers.ts), then fresh ones.
    const started = takePrestartedWorkers(file, size);
    for (let i = 0; i < size; i++) {
      // From sources (tests, `tsx`): load the TypeScript entry through tsx's CommonJS hook inside the worker.
      const w = started[i] ?? (file.endsWith('.ts')
        ? new (workerThreads().Worker)(`require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`, { eval: true, execArgv: loaderArgs(process.execArgv) })
        : new (workerThreads().Worker)(file));
      const owed: PendingReply[] = [];
      this.pending.set(w, owed);
      w.on('message', (msg: SensitivityWorkerReply) => {
        const p = owed.shift();
        if (!p) return;
        this.waiting.shift()?.();
        this.settle(msg, p);
      });
      const fail = (e: Error): void => {
        // A dead worker fails its tasks and leaves the pool; when none is left, waiting tasks fail too.
        if (!this.pending.delete(w)) return;
        this.alive--;
        this.lastError = e;
        for (const p of owed.splice(0)) p.reject(e);
        if (this.alive <= 0) for (const r of this.waiting.splice(0)) r();
      };
      w.on('error', (e) => fail(e instanceof Error ? e : new NodeError('worker-failed', String(e))));
      w.on('exit', (code) => {
        if (!this.closed) fail(new NodeError('worker-failed', `analysis worker exited with code ${code}`));
      });
      this.all.push(w);
    }
  }

  /** Messages the pool takes before a sender waits: each live worker's depth, plus this thread's lane. */
  get capacity(): number {
    return this.all.length * this.depth + (this.local ? 1 : 0);
  }

  private settle(msg: SensitivityWorkerReply, p: PendingReply): void {
    if (msg.kind === 'sensitivity/error') p.reject(new NodeError('worker-failed', msg.message));
    else {
      if (msg.buffer) this.recycle(msg.buffer);
      p.resolve(msg);
    }
  }

  async run(task: SensitivityChunkTask): Promise<SensitivityChunkResult> {
    const reply = await this.send({ kind: 'sensitivity/chunk', task }, task.bytes.byteLength ? [task.bytes.buffer as ArrayBuffer] : []);
    if (reply.kind !== 'sensitivity/result') throw new NodeError('worker-failed', `analysis worker answered ${reply.kind} to a chunk`);
    return reply.result;
  }

  /** Runs a batch of small whole-tensor tasks (their bytes view `buffer`) in one message. */
  async runBatch(tasks: readonly SensitivityChunkTask[], buffer: ArrayBuffer, formats: readonly string[]): Promise<SensitivityBatchResults> {
    const request: SensitivityBatchRequest = { kind: 'sensitivity/batch', id: tasks[0]?.id ?? 0, tasks, buffer, formats };
    const reply = await this.send(request, [buffer]);
    if (reply.kind !== 'sensitivity/batch-result' || reply.results.errors.length !== tasks.length || reply.results.sums.length !== tasks.length * (BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * formats.length)) {
      throw new NodeError('worker-failed', `analysis worker answered ${reply.kind} to a batch`);
    }
    return reply.results;
  }

  private async send(message: SensitivityWorkerRequest | SensitivityBatchRequest, transfer: ArrayBuffer[]): Promise<SensitivityWorkerReply> {
    for (;;) {
      if (this.closed) throw new CancelledError();
      if (this.alive <= 0) throw this.lastError ?? new NodeError('worker-failed', 'no analysis worker is running');
      // The live worker owing the fewest replies, if it can take one more; else this thread's lane when it is free.
      let best: Worker | undefined;
      let owed = this.depth;
      for (const [w, p] of this.pending) {
        if (p.length < owed) {
          best = w;
          owed = p.length;
        }
      }
      if (best) {
        const w = best;
        return new Promise((resolve, reject) => {
          this.pending.get(w)!.push({ resolve, reject });
          w.postMessage(message, transfer);
        });
      }
      if (this.local && !this.localBusy) return this.runHere(message);
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  /** One message analyzed on this thread (after the replies and progress already due), as a worker would. */
  private async runHere(message: SensitivityWorkerRequest | SensitivityBatchRequest): Promise<SensitivityWorkerReply> {
    this.localBusy = true;
    try {
      await new Promise((r) => setImmediate(r));
      if (this.closed) throw new CancelledError();
      const { reply } = handleSensitivityRequest(message);
      return await new Promise<SensitivityWorkerReply>((resolve, reject) => this.settle(reply, { resolve, reject }));
    } finally {
      this.localBusy = false;
      this.waiting.shift()?.();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.waiting.splice(0)) r();
    for (const [, owed] of this.pending) for (const p of owed.splice(0)) p.reject(new CancelledError());
    this.pending.clear();
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

//#endregion

/**
 * Static sensitivity of every weight layer × format. `input` is a model path or an already opened model (the
 * caller keeps ownership of its sources). Throws CancelledError when the token fires, ModelFormatError for
 * malformed files; analysis gaps (unsupported dtypes, missing data) become `warnings`.
 */
export async function analyzeModelSensitivity(input: string | OpenedModel, options: SensitivityOptions = {}): Promise<SensitivityReport> {
  const started = performance.now();
  const formats = resolveFormats(options.formats);
  return withOpenedModel(input, options, (opened) => runAnalysis(opened, formats, options, started));
}

/**
 * {@link analyzeModelSensitivity} whose report's layers are made on request ({@link LayerRows}): the same records, in
 * the same order, made when read, so a writer that reads them in turn holds one at a time. The analysis is done when
 * the promise settles (and the model's files closed); `elapsedMs` is its time (the full report's also counts the
 * records' making).
 */
export async function analyzeModelSensitivityRows(input: string | OpenedModel, options: SensitivityOptions = {}): Promise<SensitivityRowsReport> {
  const started = performance.now();
  const formats = resolveFormats(options.formats);
  return withOpenedModel(input, options, async (opened) => {
    const run = new SensitivityRun(opened, formats, options);
    await run.loadFullQuantParams();
    await run.analyzeAllTensors();
    const layers = run.layerRows();
    const sampled = run.samplingNote(layers.finiteStdErrs());
    run.progress(true, 'done');
    return { model: opened.model.fileName, formats, layers, sampled, warnings: run.warnings, elapsedMs: Math.round(performance.now() - started) };
  });
}

/** Runs `fn` on `input` opened (a path: opened here and closed after; an opened model: as it is). */
async function withOpenedModel<T>(input: string | OpenedModel, options: SensitivityOptions, fn: (opened: OpenedModel) => Promise<T>): Promise<T> {
  let opened: OpenedModel;
  let closeOpened: (() => Promise<void>) | undefined;
  if (typeof input === 'string') {
    const f = await openModelFile(input);
    try {
      const model = await openModel(f.source, { siblings: f.siblings, ...(options.token ? { token: options.token } : {}) });
      opened = { model, source: f.source, siblings: f.siblings };
      closeOpened = f.close;
    } catch (e) {
      await f.close();
      throw e;
    }
  } else opened = input;
  try {
    return await fn(opened);
  } finally {
    await closeOpened?.();
  }
}

/** Fields of a {@link WeightStatsPartial}, in the order {@link TensorPartials} stores them. */
const STATS_FIELDS = 10;

/**
 * The analysis results of every unique tensor, columnar: statistics and per-format error sums in Float64Arrays
 * indexed by tensor number (and format), filled as chunks come back. A 200,000-tensor GGUF used to hold a record
 * per tensor with a Map of 11 accumulators (~3 KB of heap per tensor, most of a plan's garbage collection).
 * Merging adds exactly as {@link WeightStatsAccumulator.merge} and {@link ErrorAccumulator.merge} do, in the same
 * order, so the figures are the same bit for bit. `withStats` false (plans' scores) keeps only the error sums.
 */
class TensorPartials {
  /** 1 when the tensor has a result (set when its analysis starts; cleared when it fails). */
  readonly analyzed: Uint8Array;
  readonly sampledBlocks: Float64Array;
  readonly totalBlocks: Float64Array;
  /** STATS_FIELDS per tensor (empty without stats). */
  private readonly stats: Float64Array;
  // Per tensor × format (index t * formats + f).
  private readonly signal: Float64Array;
  private readonly noise: Float64Array;
  private readonly maxAbsError: Float64Array;
  private readonly overflow: Float64Array;
  private readonly count: Float64Array;
  /** Per-block (noise, signal) pairs per tensor and format, for the sampling standard error (sampling only). */
  private readonly blocks: Map<number, [number, number][][]> | undefined;

  constructor(readonly tensors: number, private readonly formats: readonly string[], readonly withStats: boolean, keepBlocks: boolean) {
    const cells = tensors * formats.length;
    this.analyzed = new Uint8Array(tensors);
    this.sampledBlocks = new Float64Array(tensors);
    this.totalBlocks = new Float64Array(tensors);
    this.stats = new Float64Array(withStats ? tensors * STATS_FIELDS : 0);
    this.signal = new Float64Array(cells);
    this.noise = new Float64Array(cells);
    this.maxAbsError = new Float64Array(withStats ? cells : 0);
    this.overflow = new Float64Array(cells);
    this.count = new Float64Array(cells);
    this.blocks = keepBlocks ? new Map() : undefined;
  }

  /**
   * Frees the columns at once, when the run is over. An unreachable buffer waits for a full collection; a detached
   * one is freed by the next young-generation collection. At 200,000 tensors × 11 formats the error sums are 70 MB,
   * which a plan's solve used to allocate its own arrays beside: the run's peak memory. The sums read as empty after.
   */
  release(): void {
    const buffers = [this.analyzed, this.sampledBlocks, this.totalBlocks, this.stats, this.signal, this.noise, this.maxAbsError, this.overflow, this.count]
      .map((a) => a.buffer)
      .filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0);
    structuredClone(buffers, { transfer: buffers });
    this.blocks?.clear();
  }

  /** Starts tensor `t` afresh (zero sums). */
  reset(t: number, sampledBlocks: number, totalBlocks: number): void {
    this.analyzed[t] = 1;
    this.sampledBlocks[t] = sampledBlocks;
    this.totalBlocks[t] = totalBlocks;
    if (this.withStats) this.stats.fill(0, t * STATS_FIELDS, (t + 1) * STATS_FIELDS);
    const n = this.formats.length;
    for (const col of [this.signal, this.noise, this.maxAbsError, this.overflow, this.count]) if (col.length) col.fill(0, t * n, (t + 1) * n);
    this.blocks?.delete(t);
  }

  /** Tensor `t` failed: it has no result. */
  drop(t: number): void {
    this.reset(t, 0, 0);
    this.analyzed[t] = 0;
  }

  /** Adds a chunk's statistics (as WeightStatsAccumulator.merge). */
  mergeStats(t: number, o: WeightStatsPartial): void {
    if (!this.withStats) return;
    const s = this.stats;
    const b = t * STATS_FIELDS;
    s[b] = s[b]! + o.count;
    s[b + 1] = Math.max(s[b + 1]!, o.maxAbs);
    s[b + 2] = s[b + 2]! + o.s1;
    s[b + 3] = s[b + 3]! + o.s2;
    s[b + 4] = s[b + 4]! + o.s3;
    s[b + 5] = s[b + 5]! + o.s4;
    s[b + 6] = s[b + 6]! + o.sAbs;
    s[b + 7] = s[b + 7]! + o.beyondFp16;
    s[b + 8] = s[b + 8]! + o.zeros;
    s[b + 9] = s[b + 9]! + o.nonFinite;
  }

  /** Adds a chunk's error sums for the formats it has (as ErrorAccumulator.merge). */
  mergeErrors(t: number, errors: Readonly<Record<string, ErrorPartial>>): void {
    const n = this.formats.length;
    for (let f = 0; f < n; f++) {
      const e = errors[this.formats[f]!];
      if (e) this.mergeError(t * n + f, e);
    }
  }

  /** Adds task `k`'s error sums of a batch's columnar results (the formats it returned), as {@link mergeErrors}. */
  mergeBatchErrors(t: number, r: SensitivityBatchResults, k: number): void {
    const n = this.formats.length;
    const nr = r.formats.length;
    const base = k * (BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * nr) + BATCH_STATS_FIELDS;
    for (let f = 0; f < n; f++) {
      const j = nr === n && r.formats[f] === this.formats[f] ? f : r.formats.indexOf(this.formats[f]!);
      if (j < 0 || r.has[k * nr + j] !== 1) continue;
      const at = base + BATCH_ERROR_FIELDS * j;
      const s = r.sums;
      this.mergeSums(t * n + f, s[at]!, s[at + 1]!, s[at + 2]!, s[at + 3]!, s[at + 4]!);
    }
  }

  private mergeError(i: number, e: ErrorPartial): void {
    this.mergeSums(i, e.signal, e.noise, e.maxAbsError, e.overflow, e.count);
  }

  private mergeSums(i: number, signal: number, noise: number, maxAbsError: number, overflow: number, count: number): void {
    this.signal[i] = this.signal[i]! + signal;
    this.noise[i] = this.noise[i]! + noise;
    if (this.withStats) this.maxAbsError[i] = Math.max(this.maxAbsError[i]!, maxAbsError);
    this.overflow[i] = this.overflow[i]! + overflow;
    this.count[i] = this.count[i]! + count;
  }

  /** Records a sampling block's (noise, signal) for format number `f`. */
  addBlock(t: number, f: number, noise: number, signal: number): void {
    if (!this.blocks) return;
    let list = this.blocks.get(t);
    if (!list) this.blocks.set(t, (list = this.formats.map(() => [])));
    list[f]!.push([noise, signal]);
  }

  blocksOf(t: number, f: number): readonly [number, number][] {
    return this.blocks?.get(t)?.[f] ?? [];
  }

  statsPartial(t: number): WeightStatsPartial {
    const s = this.stats;
    const b = t * STATS_FIELDS;
    return { count: s[b]!, maxAbs: s[b + 1]!, s1: s[b + 2]!, s2: s[b + 3]!, s3: s[b + 4]!, s4: s[b + 5]!, sAbs: s[b + 6]!, beyondFp16: s[b + 7]!, zeros: s[b + 8]!, nonFinite: s[b + 9]! };
  }

  errorPartial(t: number, f: number): ErrorPartial {
    const i = t * this.formats.length + f;
    return { signal: this.signal[i]!, noise: this.noise[i]!, maxAbsError: this.withStats ? this.maxAbsError[i]! : 0, overflow: this.overflow[i]!, count: this.count[i]! };
  }

  /**
   * The static score of a layer made of tensors `ts` in format number `f`: their error sums added from zero in
   * order (as a fresh ErrorAccumulator merging each, then `result()`), scored by core's `staticScoreOf`.
   */
  layerScore(ts: readonly number[], f: number, gain: number): number {
    let signal = 0, noise = 0, overflow = 0, count = 0;
    const n = this.formats.length;
    for (const t of ts) {
      const i = t * n + f;
      signal += this.signal[i]!;
      noise += this.noise[i]!;
      overflow += this.overflow[i]!;
      count += this.count[i]!;
    }
    const relMse = signal > 0 ? noise / signal : noise > 0 ? 1 : 0;
    return staticScoreOf(relMse, overflow, count, gain);
  }
}

/** A unique tensor to analyze, its number (its slot in {@link TensorPartials}) and its layout. */
interface TensorItem {
  readonly tensor: TensorInfo;
  readonly transpose: boolean;
  readonly index: number;
}

/** A tensor of at most this many bytes may join a batch of small tensors ({@link SensitivityRun.smallTensorBatches}). */
export const BATCH_MAX_TENSOR_BYTES = 256 * 1024;
/** Bytes of one batch of small tensors (one read, one worker message). */
export const BATCH_BYTES = 1024 * 1024;
/** Tensors in one batch at most (bounds the reply's size). */
export const BATCH_TENSORS = 1024;

/** A chunk's bytes as a task carries them: read by this thread, or a file range a worker reads itself. */
type ChunkData = { bytes: Uint8Array; file?: SensitivityChunkTask['file'] };

/**
 * One static sensitivity analysis of a model, in named steps (see {@link runAnalysis}): the unique tensors and
 * the worker pool are set up on construction; then full quantization parameters are loaded, every tensor is
 * analyzed (whole, in one histogram pass, or in two passes: facts then errors), and the layers are scored.
 */
class SensitivityRun {
  readonly warnings: string[] = [];
  private readonly model: Model;
  private readonly token: CancellationToken | undefined;
  private readonly plans: LayerPlan[];
  private readonly sample: number | undefined;
  private readonly rand: () => number;
  /** Unique tensors (a tensor shared by two layers is analyzed once), with their layout. */
  private readonly tensorLayout = new Map<string, TensorItem>();
  /**
   * Plan i's tensors' numbers in {@link tensorLayout} (`index`): entries planTensorStart[i] … planTensorStart[i + 1] − 1
   * of planTensorIndex, in the plan's order (no name lookup per layer when scoring: ~0.1 s at 200,000 layers).
   */
  private readonly planTensorStart: Int32Array;
  private readonly planTensorIndex: Int32Array;
  readonly totalWeightBytes: number;
  private readonly wanted: number;
  /** Chunks the pool takes at once (1 inline). */
  private readonly lanes: number;
  private readonly recycler: BufferRecycler;
  private readonly pool: ChunkPool | undefined;
  /**
   * At most this many chunks are read and not yet analyzed (a big tensor's chunks would otherwise all be read at
   * once: unbounded memory for sources this thread reads).
   */
  private readonly inFlight: Limiter;
  /** Per-channel scales a reader kept only as a summary (TFLite beyond limits.maxQuantValuesTotal), loaded in full. */
  private readonly fullQuant = new Map<string, TensorInfo['quant']>();
  private readonly partials: TensorPartials;
  private nextId = 0;
  // Progress, throttled to ~1/s.
  private bytesDone = 0;
  private tensorsDone = 0;
  private lastReport = 0;
  private bytesPlanned = 0;

  /** `scoresOnly`: keep only what the static scores need (no statistics, no max errors, no reason strings). */
  constructor(private readonly opened: OpenedModel, private readonly formats: string[], private readonly options: SensitivityOptions, scoresOnly = false) {
    this.model = opened.model;
    this.token = options.token;
    const { plans, skipped } = planSensitivityLayers(this.model);
    this.plans = plans;
    for (const [why, layers] of skipped) this.warnings.push(`${layers.length} layer${layers.length === 1 ? '' : 's'} skipped (${why}): ${layers.slice(0, 3).join(', ')}${layers.length > 3 ? ', …' : ''}.`);
    this.sample = options.sample !== undefined && options.sample > 0 && options.sample < 1 ? options.sample : undefined;
    this.rand = seededRandom(options.seed ?? 1);
    let listed = 0;
    for (const p of plans) listed += p.tensors.length;
    this.planTensorStart = new Int32Array(plans.length + 1);
    this.planTensorIndex = new Int32Array(listed);
    let e = 0;
    plans.forEach((p, i) => {
      this.planTensorStart[i] = e;
      for (const t of p.tensors) {
        let item = this.tensorLayout.get(t.name);
        if (!item) this.tensorLayout.set(t.name, (item = { tensor: t, transpose: quantizationLayout(p.layer, this.model, t.name, t.shape.length).transpose, index: this.tensorLayout.size }));
        this.planTensorIndex[e++] = item.index;
      }
    });
    this.planTensorStart[plans.length] = e;
    this.partials = new TensorPartials(this.tensorLayout.size, formats, !scoresOnly, this.sample !== undefined);
    this.totalWeightBytes = [...this.tensorLayout.values()].reduce((a, t) => a + t.tensor.byteLength, 0);
    // Worker pool (or inline).
    const parallelism = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    const share = options.workers === undefined && options.mainThreadShare === true && parallelism >= 2;
    this.wanted = options.workers ?? (share ? sharedDefaultWorkers(parallelism) : parallelism);
    const inlineBelow = options.inlineBelowBytes ?? INLINE_BELOW_BYTES;
    const entry = this.wanted > 0 && this.totalWeightBytes >= inlineBelow ? (options.workerFile ?? workerEntry()) : undefined;
    if (this.wanted > 0 && this.totalWeightBytes >= inlineBelow && !entry) this.warnings.push('The analysis worker (dist/worker.js) was not found; ran on one thread.');
    this.pool = entry ? new ChunkPool(entry, Math.max(1, this.wanted), (b) => this.recycler.give(b, true), share) : undefined;
    if (!this.pool) discardPrestartedWorkers();
    // Chunks outstanding at once: what the pool takes (or one, inline).
    this.lanes = this.pool ? this.pool.capacity : 1;
    this.recycler = new BufferRecycler(this.lanes + 3);
    this.inFlight = new Limiter(this.lanes + 2);
  }

  /** Reports progress (at most about once a second unless `force`). */
  progress(force: boolean, message: string): void {
    if (!this.options.onProgress) return;
    const now = performance.now();
    if (!force && now - this.lastReport < 1000) return;
    this.lastReport = now;
    this.options.onProgress({ bytesDone: this.bytesDone, bytesTotal: this.bytesPlanned, tensorsDone: this.tensorsDone, tensorsTotal: this.tensorLayout.size, message });
  }

  /** Step 1: full per-channel quantization parameters for tensors whose reader kept a summary. */
  async loadFullQuantParams(): Promise<void> {
    for (const { tensor: t } of this.tensorLayout.values()) {
      if (t.quant && t.file !== undefined && (t.quant.storedScales !== undefined || t.quant.storedZeroPoints !== undefined)) {
        this.fullQuant.set(t.name, await loadQuantParams(await this.sourceFor(t), t.quant));
      }
    }
  }

  /** Step 2: every unique tensor, a few at a time; an unreadable tensor is dropped with a warning. Closes the pool. */
  async analyzeAllTensors(): Promise<void> {
    // Bytes actually planned (for progress): full pass = all weight bytes; sampling ≈ fraction.
    this.bytesPlanned = this.sample ? Math.round(this.totalWeightBytes * this.sample) : this.totalWeightBytes;
    const { batches, rest } = this.smallTensorBatches();
    const queue: (TensorItem | TensorItem[])[] = [...batches, ...rest];
    const concurrency = this.lanes + 1;
    let failed: unknown;
    try {
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (queue.length && failed === undefined) {
          const item = queue.shift()!;
          if (Array.isArray(item)) {
            try {
              await this.analyzeBatch(item);
            } catch (e) {
              if (e instanceof CancelledError || (this.token?.isCancellationRequested ?? false)) {
                failed ??= new CancelledError();
                return;
              }
              // An unreadable range or a dead worker: each tensor of the batch alone, so the warning names the culprit.
              queue.unshift(...item);
            }
            continue;
          }
          const { tensor, transpose, index } = item;
          try {
            await this.analyzeTensor(tensor, transpose, index);
          } catch (e) {
            if (e instanceof CancelledError || (this.token?.isCancellationRequested ?? false)) {
              failed ??= new CancelledError();
              return;
            }
            // Undecodable or unreadable tensor: warn and drop it.
            this.warnings.push(`${tensor.name}: not analyzed (${e instanceof Error ? e.message : String(e)}).`);
            this.partials.drop(index);
          }
          this.tensorsDone++;
          this.progress(false, `analyzed ${tensor.name}`);
        }
      }));
    } finally {
      await this.pool?.close();
    }
    if (failed) throw failed;
    throwIfCancelled(this.token);
  }

  /** Step 3: per layer, merge the layer's analyzed tensors and score them; the standard errors when sampling. */
  scoreLayers(): { layers: LayerSensitivity[]; stdErrs: number[] } {
    const rows = this.layerRows();
    return { layers: rows.rows(0, rows.length), stdErrs: rows.finiteStdErrs() };
  }

  /**
   * Step 3 on request: the layers' records made one at a time when read ({@link LayerRows}), from the per-tensor
   * sums, which stay until the rows are dropped. The standard errors (sampling) are taken here, in one pass.
   */
  layerRows(): LayerRows {
    const numbers = Int32Array.from(this.analyzedPlanNumbers());
    const contexts = layerContexts(Array.from(numbers, (n) => this.plans[n]!.layer));
    let stdErrs: Float64Array | undefined;
    if (this.sample) {
      const nf = this.formats.length;
      stdErrs = new Float64Array(numbers.length * nf);
      for (let i = 0; i < numbers.length; i++) {
        const merged = this.mergeLayerTensors(numbers[i]!, true);
        for (let f = 0; f < nf; f++) stdErrs[i * nf + f] = ratioStdErr(merged.blocks![f]!, merged.sampledBlocks / Math.max(1, merged.totalBlocks));
      }
    }
    return new LayerRows(this, numbers, contexts, stdErrs);
  }

  /**
   * The record of plan number `n` (the `i`-th analyzed layer): its analyzed tensors merged and scored, with the
   * sampling standard errors `stdErrs[i × formats + f]` when sampling.
   */
  layerRecord(n: number, position: LayerPosition | undefined, stdErrs: Float64Array | undefined, i: number): LayerSensitivity {
    const p = this.plans[n]!;
    const merged = this.mergeLayerTensors(n, false);
    const errResults: Record<string, ReturnType<ErrorAccumulator['result']>> = {};
    for (let j = 0; j < this.formats.length; j++) errResults[this.formats[j]!] = merged.errors[j]!.result();
    const stats = merged.stats.result();
    const scored = scoreLayer(p.layer, this.model, { stats, errors: errResults, ...(position ? { position } : {}) });
    if (stdErrs) {
      const nf = this.formats.length;
      this.formats.forEach((f, j) => {
        scored[f] = { ...scored[f]!, relMseStdErr: stdErrs[i * nf + j]! };
      });
    }
    return {
      layer: p.layer.name,
      role: p.layer.role,
      op: p.layer.op,
      block: p.layer.block ?? null,
      parameterCount: p.layer.parameterCount,
      dtype: p.layer.dtype,
      tensors: merged.tensors,
      stats,
      formats: scored,
    };
  }

  /** The name of plan number `n`'s layer. */
  layerName(n: number): string {
    return this.plans[n]!.layer.name;
  }

  get formatCount(): number {
    return this.formats.length;
  }

  /** Tensors plan number `n` lists (analyzed or not). */
  planTensorCount(n: number): number {
    return this.planTensorStart[n + 1]! - this.planTensorStart[n]!;
  }

  /** The run is over: its per-tensor sums are freed now (see {@link TensorPartials.release}). */
  release(): void {
    this.partials.release();
  }

  /** The numbers of the plans whose main tensor was analyzed (the layers a report lists). */
  private analyzedPlanNumbers(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.plans.length; i++) if (this.partials.analyzed[this.planTensorIndex[this.planTensorStart[i]!]!] === 1) out.push(i);
    return out;
  }

  /**
   * Step 3 for plans: the static scores alone, columnar (one Float64Array per format by layer number), the same
   * numbers {@link scoreLayers} puts in the report's records, with no record per layer and format.
   */
  scoreColumns(): { scores: SensitivityScores; stdErrs: number[] } {
    const numbers = this.analyzedPlanNumbers();
    const analyzed = numbers.map((n) => this.plans[n]!);
    const contexts = layerContexts(analyzed.map((p) => p.layer));
    const columns = this.formats.map(() => new Float64Array(analyzed.length));
    const stdErrs: number[] = [];
    const ts: number[] = [];
    analyzed.forEach((p, i) => {
      ts.length = 0;
      let sampled = 0, total = 0;
      const n = numbers[i]!;
      for (let e = this.planTensorStart[n]!; e < this.planTensorStart[n + 1]!; e++) {
        const k = this.planTensorIndex[e]!;
        if (this.partials.analyzed[k] !== 1) continue;
        ts.push(k);
        sampled += this.partials.sampledBlocks[k]!;
        total += this.partials.totalBlocks[k]!;
      }
      const gain = layerGain(p.layer, this.model, contexts.get(p.layer.name));
      for (let f = 0; f < columns.length; f++) {
        columns[f]![i] = this.partials.layerScore(ts, f, gain);
        if (this.sample) {
          const se = ratioStdErr(ts.flatMap((k) => this.partials.blocksOf(k, f)), sampled / Math.max(1, total));
          if (Number.isFinite(se)) stdErrs.push(se);
        }
      }
    });
    return { scores: { layers: analyzed.map((p) => p.layer.name), formats: this.formats, staticScores: columns }, stdErrs };
  }

  /** Step 4 (sampling only): what fraction was read and how uncertain the relMse figures are. */
  samplingNote(stdErrs: number[]): SensitivityReport['sampled'] {
    if (!this.sample) return undefined;
    const fraction = this.totalWeightBytes > 0 ? this.bytesDone / this.totalWeightBytes : 0;
    stdErrs.sort((a, b) => a - b);
    const med = stdErrs[Math.floor(stdErrs.length / 2)] ?? 0;
    const max = stdErrs[stdErrs.length - 1] ?? 0;
    return {
      fraction,
      note: `Sampled ${(fraction * 100).toFixed(1)}% of the weight bytes (random row blocks of ~${SAMPLE_BLOCK_ELEMENTS / 1024} Ki elements, seed ${this.options.seed ?? 1}). ` +
        `relMse relative standard error: median ${(med * 100).toFixed(1)}%, max ${(max * 100).toFixed(1)}% (≈ ±${(10 * Math.log10(1 + med)).toFixed(2)} dB median). ` +
        'max|w|, outlier and overflow counts are lower bounds; per-tensor scales come from the sample.',
    };
  }

  //#region batches of small tensors
  /**
   * Small tensors analyzed whole (no sampling) are grouped by file and offset into batches of up to
   * {@link BATCH_BYTES} and {@link BATCH_TENSORS}: one read and one worker message per batch. Per-tensor reads and
   * messages cost more than the analysis of a tensor of a few thousand values (a 200,000-tensor GGUF spent most of
   * its time in them). Everything else is analyzed tensor by tensor.
   */
  private smallTensorBatches(): { batches: TensorItem[][]; rest: TensorItem[] } {
    const whole = this.options.wholeTensorElements ?? WHOLE_TENSOR_ELEMENTS;
    const batchBytes = this.options.batchBytes ?? BATCH_BYTES;
    const small: TensorItem[] = [];
    const rest: TensorItem[] = [];
    for (const item of this.tensorLayout.values()) {
      const t = item.tensor;
      if (!this.sample && t.elementCount <= whole && t.file !== undefined && t.byteLength <= Math.min(BATCH_MAX_TENSOR_BYTES, batchBytes)) small.push(item);
      else rest.push(item);
    }
    small.sort((a, b) => (a.tensor.file! < b.tensor.file! ? -1 : a.tensor.file! > b.tensor.file! ? 1 : a.tensor.byteOffset - b.tensor.byteOffset));
    const batches: TensorItem[][] = [];
    let cur: TensorItem[] = [];
    let bytes = 0;
    for (const item of small) {
      const loc = tensorLocation(item.tensor)!;
      if (cur.length && (cur.length >= BATCH_TENSORS || bytes + loc.byteLength > batchBytes || cur[0]!.tensor.file! !== loc.file)) {
        batches.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(item);
      bytes += loc.byteLength;
    }
    if (cur.length) batches.push(cur);
    return { batches, rest };
  }

  /**
   * A batch: its tensors' bytes in one buffer (one read of the covering range when the tensors lie close together,
   * else one read each), then one task list for a worker (or inline). A tensor whose task fails is dropped with a
   * warning, like a single tensor; a failed read throws (the caller retries the tensors one by one).
   */
  private async analyzeBatch(items: readonly TensorItem[]): Promise<void> {
    const src = await this.sourceFor(items[0]!.tensor);
    const first = items[0]!.tensor.byteOffset;
    let end = first;
    let sum = 0;
    for (const { tensor } of items) {
      const loc = tensorLocation(tensor)!;
      if (loc.byteOffset < first) throw new RangeError('batch tensors out of order');
      end = Math.max(end, loc.byteOffset + loc.byteLength);
      sum += loc.byteLength;
    }
    await this.inFlight.acquire();
    let tasks: SensitivityChunkTask[];
    let buffer: ArrayBuffer;
    try {
      // Contiguous (or nearly): one read of the span; scattered: one read each, packed.
      const offsets: number[] = [];
      let bytes: Uint8Array;
      if (end - first <= 2 * sum) {
        bytes = await this.recycler.read(src, first, end - first);
        for (const { tensor } of items) offsets.push(tensor.byteOffset - first);
      } else {
        bytes = new Uint8Array(sum);
        let at = 0;
        for (const { tensor } of items) {
          const loc = tensorLocation(tensor)!;
          bytes.set(await src.read(loc.byteOffset, loc.byteLength), at);
          offsets.push(at);
          at += loc.byteLength;
        }
      }
      buffer = bytes.buffer as ArrayBuffer;
      tasks = items.map(({ tensor, transpose }, k) => this.makeTask(tensor, transpose, undefined, { bytes: bytes.subarray(offsets[k]!, offsets[k]! + tensor.byteLength) }, this.formats, undefined, false));
      throwIfCancelled(this.token);
      let results: SensitivityBatchResults;
      if (this.pool) results = await this.pool.runBatch(tasks, buffer, this.formats);
      else {
        await new Promise((r) => setImmediate(r));
        throwIfCancelled(this.token);
        results = runSensitivityBatch(tasks, this.formats);
        this.recycler.give(buffer);
      }
      items.forEach(({ tensor, index }, k) => {
        const error = results.errors[k];
        if (error !== null) {
          this.warnings.push(`${tensor.name}: not analyzed (${error}).`);
          return;
        }
        this.partials.reset(index, 1, 1);
        this.partials.mergeStats(index, batchStats(results, k));
        this.partials.mergeBatchErrors(index, results, k);
        this.bytesDone += tensor.byteLength;
      });
    } finally {
      this.inFlight.release();
    }
    this.tensorsDone += items.length;
    this.progress(false, `analyzed ${items[items.length - 1]!.tensor.name}`);
  }
  //#endregion

  //#region one tensor
  /** A tensor: whole (small), in one histogram pass (FP16/BF16), or in two passes (facts, then errors). */
  private async analyzeTensor(t: TensorInfo, transpose: boolean, acc: number): Promise<void> {
    this.partials.reset(acc, 0, 0);
    const sample = this.sample;
    let chunks = sample ? chunkSpecs(t, transpose, SAMPLE_BLOCK_ELEMENTS) : t.elementCount > (this.options.wholeTensorElements ?? WHOLE_TENSOR_ELEMENTS) ? chunkSpecs(t, transpose, this.options.chunkElements ?? CHUNK_ELEMENTS) : undefined;
    if (!chunks) return this.analyzeWhole(t, transpose, acc);
    this.partials.totalBlocks[acc] = chunks.length;
    if (sample) {
      const chosen = chunks.filter(() => this.rand() < sample);
      chunks = chosen.length ? chosen : [chunks[Math.floor(this.rand() * chunks.length)]!];
    }
    this.partials.sampledBlocks[acc] = chunks.length;
    if (!sample && canAnalyzeInOnePass(t, transpose, this.formats)) return this.analyzeInOnePass(t, transpose, chunks, acc);
    return this.analyzeInTwoPasses(t, transpose, chunks, acc);
  }

  /** One task for the whole tensor. */
  private async analyzeWhole(t: TensorInfo, transpose: boolean, acc: number): Promise<void> {
    const loc = tensorLocation(t)!;
    const r = await this.readAndRun(t, loc.byteOffset, loc.byteLength, (bytes) => this.makeTask(t, transpose, undefined, bytes, this.formats, undefined, false));
    this.partials.mergeStats(acc, r.stats);
    this.partials.mergeErrors(acc, r.errors);
    this.partials.sampledBlocks[acc] = this.partials.totalBlocks[acc] = 1;
    this.bytesDone += loc.byteLength;
  }

  /** FP16/BF16: one pass. Chunks return code histograms; element-wise formats come from their sum. */
  private async analyzeInOnePass(t: TensorInfo, transpose: boolean, chunks: readonly ChunkSpec[], acc: number): Promise<void> {
    const histogram = new Uint32Array(65536);
    const results = new Array<Pick<SensitivityChunkResult, 'stats' | 'errors'>>(chunks.length);
    await Promise.all(chunks.map(async (c, k) => {
      const r = await this.readAndRun(t, c.byteStart, c.byteLength, (bytes) => ({ ...this.makeTask(t, transpose, c, bytes, this.formats, undefined, false), histogramOnly: true }));
      results[k] = { stats: r.stats, errors: r.errors };
      // Counts add exactly in any order; the floating-point sums are merged in chunk order below.
      if (r.histogram) for (let i = 0; i < 65536; i++) histogram[i]! += r.histogram[i]!;
      this.bytesDone += c.byteLength;
      this.progress(false, `analyzing ${t.name}`);
    }));
    for (const r of results) {
      this.partials.mergeStats(acc, r.stats);
      this.partials.mergeErrors(acc, r.errors);
    }
    const elementwise = histogramSensitivity(t.dtype as 'float16' | 'bfloat16', histogram, this.formats);
    this.partials.mergeErrors(acc, elementwise);
  }

  /** Pass 1: whole-tensor facts (max|w|, mean|w|, per-column max when transposed); pass 2: errors per chunk. */
  private async analyzeInTwoPasses(t: TensorInfo, transpose: boolean, chunks: readonly ChunkSpec[], acc: number): Promise<void> {
    const colMax = transpose ? new Float32Array(t.shape[t.shape.length - 1] ?? 0) : undefined;
    const pass1 = new WeightStatsAccumulator();
    const stats = new Array<WeightStatsPartial>(chunks.length);
    await Promise.all(chunks.map(async (c, k) => {
      const r = await this.readAndRun(t, c.byteStart, c.byteLength, (bytes) => this.makeTask(t, transpose, c, bytes, [], undefined, transpose));
      stats[k] = r.stats;
      if (colMax && r.columnAbsMax) for (let i = 0; i < colMax.length; i++) if (r.columnAbsMax[i]! > colMax[i]!) colMax[i] = r.columnAbsMax[i]!;
    }));
    for (const st of stats) pass1.merge(st);
    const p1 = pass1.partial();
    const globals = { tensorAbsMax: p1.maxAbs, tensorAbsMean: p1.count ? p1.sAbs / p1.count : 0, ...(colMax ? { channelAbsMax: colMax } : {}) };
    this.partials.mergeStats(acc, p1);
    const errors = new Array<SensitivityChunkResult['errors']>(chunks.length);
    await Promise.all(chunks.map(async (c, k) => {
      const g = colMax ? { ...globals, channelAbsMax: colMax.slice() } : globals;
      const r = await this.readAndRun(t, c.byteStart, c.byteLength, (bytes) => this.makeTask(t, transpose, c, bytes, this.formats, g, false));
      errors[k] = r.errors;
      this.bytesDone += c.byteLength;
      this.progress(false, `analyzing ${t.name}`);
    }));
    for (const e of errors) {
      this.partials.mergeErrors(acc, e);
      this.formats.forEach((f, k) => {
        const fe = e[f];
        if (fe) this.partials.addBlock(acc, k, fe.noise, fe.signal);
      });
    }
  }
  //#endregion

  //#region reading and tasks
  private async sourceFor(t: TensorInfo): Promise<ByteSource> {
    return t.file! === '' ? this.opened.source : this.opened.siblings.open(t.file!);
  }

  /** A chunk's bytes: workers read local files themselves (`task.file`); otherwise this thread reads them. */
  private async chunkBytes(t: TensorInfo, offset: number, length: number): Promise<ChunkData> {
    const src = await this.sourceFor(t);
    if (this.pool && src instanceof FileByteSource && length >= RECYCLE_MIN_BYTES) {
      checkRange(src.name, src.size, offset, length);
      src.bytesRead += length;
      return { bytes: new Uint8Array(0), file: { path: src.filePath, byteOffset: offset, byteLength: length } };
    }
    return { bytes: await this.recycler.read(src, offset, length) };
  }

  private makeTask(t: TensorInfo, transpose: boolean, c: ChunkSpec | undefined, data: ChunkData, fmts: readonly string[], globals: SensitivityChunkTask['globals'], wantColumnAbsMax: boolean): SensitivityChunkTask {
    const full = storedMatrixShape(t.shape, transpose);
    const flatShape = c ? [c.rowCount, c.elementCount / c.rowCount] : full;
    return {
      id: this.nextId++,
      dtype: t.dtype,
      encoding: t.encoding,
      elementCount: c ? c.elementCount : t.elementCount,
      bytes: data.bytes,
      ...(data.file ? { file: data.file } : {}),
      shape: flatShape,
      rowOffset: c ? c.rowStart : 0,
      quant: this.fullQuant.get(t.name) ?? t.quant,
      transpose,
      formats: fmts,
      ...(globals ? { globals } : {}),
      wantColumnAbsMax,
    };
  }

  /** Runs a task in the pool, or inline (yielding first so progress and cancellation get a turn). */
  private async runTask(task: SensitivityChunkTask): Promise<SensitivityChunkResult> {
    throwIfCancelled(this.token);
    if (this.pool) return this.pool.run(task);
    await new Promise((r) => setImmediate(r));
    throwIfCancelled(this.token);
    const r = analyzeSensitivityChunk(task);
    this.recycler.give(task.bytes.buffer as ArrayBuffer);
    return r;
  }

  /** Reads one chunk and analyzes it, holding an in-flight slot meanwhile. */
  private async readAndRun(t: TensorInfo, offset: number, length: number, task: (data: ChunkData) => SensitivityChunkTask): Promise<SensitivityChunkResult> {
    await this.inFlight.acquire();
    try {
      return await this.runTask(task(await this.chunkBytes(t, offset, length)));
    } finally {
      this.inFlight.release();
    }
  }
  //#endregion

  /** The analyzed tensors of one layer merged: statistics, errors and sampling blocks. */
  private mergeLayerTensors(n: number, withBlocks: boolean): { stats: WeightStatsAccumulator; errors: ErrorAccumulator[]; blocks: [number, number][][] | undefined; sampledBlocks: number; totalBlocks: number; tensors: string[] } {
    const p = this.plans[n]!;
    const start = this.planTensorStart[n]!;
    const nf = this.formats.length;
    const stats = new WeightStatsAccumulator();
    const errors: ErrorAccumulator[] = [];
    for (let j = 0; j < nf; j++) errors.push(new ErrorAccumulator());
    // The sampling blocks only for the standard errors (a list per format and layer that scoring does not read).
    const blocks: [number, number][][] | undefined = withBlocks ? this.formats.map(() => []) : undefined;
    let sampledBlocks = 0, totalBlocks = 0;
    const tensors: string[] = [];
    const a = this.partials;
    for (let e = 0; e < p.tensors.length; e++) {
      const t = p.tensors[e]!;
      const k = this.planTensorIndex[start + e]!;
      if (a.analyzed[k] !== 1) continue;
      tensors.push(t.name);
      stats.merge(a.statsPartial(k));
      for (let j = 0; j < nf; j++) {
        errors[j]!.merge(a.errorPartial(k, j));
        if (blocks) blocks[j]!.push(...a.blocksOf(k, j));
      }
      sampledBlocks += a.sampledBlocks[k]!;
      totalBlocks += a.totalBlocks[k]!;
    }
    return { stats, errors, blocks, sampledBlocks, totalBlocks, tensors };
  }
}

/**
 * The layers of a report made on request from a finished {@link SensitivityRun} (core's {@link SensitivityLayerRows}):
 * row `i` is the record {@link SensitivityRun.scoreLayers} lists `i`-th, made when read. The rows hold the run (its
 * per-tensor sums, about 90 MB at 200,000 tensors × 11 formats), not 200,000 records.
 */
export class LayerRows implements SensitivityLayerRows {
  readonly length: number;

  constructor(private readonly run: SensitivityRun, private readonly numbers: Int32Array, private readonly contexts: Map<string, LayerPosition>, private readonly stdErrs: Float64Array | undefined) {
    this.length = numbers.length;
  }

  row(i: number): LayerSensitivity {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`layer row ${i} of ${this.length}`);
    const n = this.numbers[i]!;
    return this.run.layerRecord(n, this.contexts.get(this.run.layerName(n)), this.stdErrs, i);
  }

  rows(from: number, to: number): LayerSensitivity[] {
    const out: LayerSensitivity[] = [];
    for (let i = Math.max(0, from); i < Math.min(to, this.length); i++) out.push(this.row(i));
    return out;
  }

  valuesAt(i: number): number {
    // The row, its 6 plain fields, `tensors` and its names, `stats` and its 9 fields, `formats` and a record of 7
    // fields (8 when sampled) per format.
    const formats = this.run.formatCount;
    return 1 + 6 + 1 + this.run.planTensorCount(this.numbers[i]!) + 10 + 1 + formats * (this.stdErrs ? 9 : 8);
  }

  toJSON(): LayerSensitivity[] {
    return this.rows(0, this.length);
  }

  /** The finite sampling standard errors, layer by layer (for the sampling note). */
  finiteStdErrs(): number[] {
    const out: number[] = [];
    if (this.stdErrs) for (const se of this.stdErrs) if (Number.isFinite(se)) out.push(se);
    return out;
  }
}

/** Static sensitivity of an opened model: the steps of {@link SensitivityRun}. */
async function runAnalysis(opened: OpenedModel, formats: string[], options: SensitivityOptions, started: number): Promise<SensitivityReport> {
  const run = new SensitivityRun(opened, formats, options);
  await run.loadFullQuantParams();
  await run.analyzeAllTensors();
  const { layers, stdErrs } = run.scoreLayers();
  const sampled = run.samplingNote(stdErrs);
  run.progress(true, 'done');
  run.release();
  return { model: opened.model.fileName, formats, layers, sampled, warnings: run.warnings, elapsedMs: Math.round(performance.now() - started) };
}

/**
 * Static sensitivity for a plan: the same analysis as {@link analyzeModelSensitivity}, but the result keeps only
 * the static scores, columnar ({@link SensitivityScores}: one Float64Array per format by layer number), instead of
 * a record per layer and format with statistics and a reason string. The scores are the numbers the full report
 * holds; the harm is core's `harmFromScores`. A 200,000-layer model's report took ~3 KB of heap per layer.
 */
export async function analyzeModelScores(opened: OpenedModel, options: SensitivityOptions = {}): Promise<SensitivityScoresReport> {
  const started = performance.now();
  const formats = resolveFormats(options.formats);
  const run = new SensitivityRun(opened, formats, options, true);
  await run.loadFullQuantParams();
  await run.analyzeAllTensors();
  const { scores, stdErrs } = run.scoreColumns();
  const sampled = run.samplingNote(stdErrs);
  run.progress(true, 'done');
  run.release();
  return { model: opened.model.fileName, formats, scores, sampled, warnings: run.warnings, elapsedMs: Math.round(performance.now() - started) };
}

/**
 * Relative standard error of the ratio estimator R = Σnoise / Σsignal from per-block pairs, with the finite
 * population correction (1 − sampledFraction). 0 for a single block covering everything.
 */
export function ratioStdErr(pairs: readonly (readonly [number, number])[], sampledFraction: number): number {
  const n = pairs.length;
  if (n < 2) return sampledFraction >= 1 ? 0 : 1;
  let sn = 0, ss = 0;
  for (const [a, b] of pairs) {
    sn += a;
    ss += b;
  }
  if (!(ss > 0) || !(sn > 0)) return 0;
  const r = sn / ss;
  const meanS = ss / n;
  let v = 0;
  for (const [a, b] of pairs) v += (a - r * b) ** 2;
  v /= n - 1;
  const se = Math.sqrt((Math.max(0, 1 - sampledFraction) * v) / n) / meanS;
  return se / r;
}

/** Error partial type re-export for callers that merge results themselves. */
export type { ErrorPartial };
