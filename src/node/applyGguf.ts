/**
 * Applies a precision plan to a GGUF model: a NEW .gguf (never the input) in which every planned tensor has the
 * plan's ggml type. Core decides the types and the header (src/core/plan/ggufApply.ts) and quantizes
 * (src/core/formats/gguf/ggmlQuants.ts); this file only moves bytes.
 *
 * Streaming: the header is written first, then each tensor in file order, in chunks of whole rows of at most
 * MAX_APPLY_CHUNK_ELEMENTS elements (copied tensors in chunks of the same byte size), so peak memory is a few
 * chunks plus the header, whatever the model's size. Output goes through safeOutput.ts (temp file in the
 * destination folder renamed into place; a destination that is the input by device + inode is refused). Progress is reported per chunk; the token cancels between chunks.
 * Large plans convert on worker threads (ggufConvertPool.ts; chunks of ~MAX_APPLY_CHUNK_ELEMENTS / workers, as many
 * in flight as workers), written in file order: the bytes are those of a single-threaded run.
 */
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import {
  CancelledError, DEFAULT_LIMITS, MAX_APPLY_CHUNK_ELEMENTS, NO_SIBLINGS, convertGgufRows, copiedKvSpans, dtypeInfo, ggufRows, planGgufApply, readGgufHeader,
  storedByteLength, type CancellationToken, type GgufApplyPlan,
} from '../core';
import * as os from 'node:os';
import { FileByteSource } from './fileByteSource';
import { GgufConvertPool } from './ggufConvertPool';
import { writeOutputFiles } from './safeOutput';
import { ApplyError } from './errors';

/** Options for {@link applyPlanToGguf}. */
export interface ApplyGgufOptions {
  /** Re-quantize tensors already in a low type (refused otherwise). */
  readonly force?: boolean;
  /** Replace an existing output file (never the input). Default true. */
  readonly overwrite?: boolean;
  readonly token?: CancellationToken;
  /** Called after each chunk with bytes of tensor data written so far and the total. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * Worker threads converting chunks (default: the machine's cores, at most {@link MAX_APPLY_WORKERS}, when the plan
   * converts at least {@link PARALLEL_APPLY_MIN_ELEMENTS} elements; 0 = on this thread). Output is bit-identical.
   */
  readonly workers?: number;
  /** Largest chunk in elements (default MAX_APPLY_CHUNK_ELEMENTS; tests use small chunks to cross many boundaries). */
  readonly maxChunkElements?: number;
}

/** Most worker threads one apply starts. */
export const MAX_APPLY_WORKERS = 8;
/** Converted elements below which apply stays on one thread (starting workers costs more than it saves). */
export const PARALLEL_APPLY_MIN_ELEMENTS = 2 * 1024 * 1024;
/** Smallest chunk handed to a worker (elements). */
const MIN_PARALLEL_CHUNK_ELEMENTS = 64 * 1024;

/** Worker count for a plan converting `elements` elements (see {@link ApplyGgufOptions.workers}). */
export function applyWorkerCount(elements: number, requested: number | undefined): number {
  if (requested !== undefined) return Math.max(0, Math.min(MAX_APPLY_WORKERS, Math.floor(requested)));
  if (elements < PARALLEL_APPLY_MIN_ELEMENTS) return 0;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(0, Math.min(MAX_APPLY_WORKERS, cores));
}

/** One tensor in the result. */
export interface AppliedGgufTensor {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly action: 'copy' | 'convert';
  readonly bytes: number;
  readonly note?: string;
}

/** Result of {@link applyPlanToGguf}. */
export interface ApplyGgufResult {
  readonly outputPath: string;
  readonly fileBytes: number;
  readonly inputBytes: number;
  readonly fileType: number;
  readonly fileTypeName: string;
  readonly tensors: readonly AppliedGgufTensor[];
  readonly warnings: readonly string[];
  readonly seconds: number;
  /** Worker threads that converted chunks (0: this thread). */
  readonly workers: number;
}

async function readExactly(source: FileByteSource, offset: number, length: number): Promise<Uint8Array> {
  return source.read(offset, length);
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

function checkCancel(token: CancellationToken | undefined): void {
  if (token?.isCancellationRequested) throw new CancelledError();
}

/** Writes `outputPath` from `modelPath` with `assignment` (layer → format id, as resolvePlanAssignment gives). */
export async function applyPlanToGguf(modelPath: string, assignment: Readonly<Record<string, string>>, outputPath: string, options: ApplyGgufOptions = {}): Promise<ApplyGgufResult> {
  const started = performance.now();
  const source = await FileByteSource.open(modelPath);
  try {
    const header = await readGgufHeader(source, { limits: DEFAULT_LIMITS, token: options.token, siblings: NO_SIBLINGS });
    const copied = new Map<string, Uint8Array>();
    for (const span of copiedKvSpans(header)) copied.set(span.key, (await readExactly(source, span.offset, span.end - span.offset)).slice());
    const plan = planGgufApply(header, assignment, copied, options.force ? { force: true } : {});
    const converted = plan.tensors.filter((t) => t.action === 'convert').reduce((a, t) => a + t.ne.reduce((x, y) => x * y, 1), 0);
    const workers = applyWorkerCount(converted, options.workers);
    const pool = workers > 0 ? GgufConvertPool.open(workers) : undefined;
    try {
      await writeOutputFiles([{ path: outputPath, write: (handle) => writeTensors(handle, source, plan, options, pool) }], {
        inputs: [modelPath],
        ...(options.overwrite === undefined ? {} : { overwrite: options.overwrite }),
        beforeCommit: () => checkCancel(options.token),
      });
    } finally {
      await pool?.close();
    }
    const fileBytes = plan.layout.fileBytes;
    return {
      outputPath: path.resolve(outputPath),
      fileBytes,
      inputBytes: source.size,
      fileType: plan.fileType,
      fileTypeName: plan.fileTypeName,
      tensors: plan.tensors.map((t, i) => ({ name: t.name, from: t.sourceDtype, to: t.targetDtype, action: t.action, bytes: plan.layout.tensorBytes[i]!, ...(t.note ? { note: t.note } : {}) })),
      warnings: plan.warnings,
      seconds: (performance.now() - started) / 1000,
      workers: pool?.size ?? 0,
    };
  } finally {
    await source.close();
  }
}

/** Header, then every tensor at its offset, zero padding included (the file ends where the layout says). */
async function writeTensors(handle: FileHandle, source: FileByteSource, plan: GgufApplyPlan, options: ApplyGgufOptions, pool: GgufConvertPool | undefined): Promise<void> {
  const { layout } = plan;
  await writeAll(handle, layout.header, 0);
  const total = layout.tensorBytes.reduce((a, b) => a + b, 0);
  let done = 0;
  const report = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };
  // Converted chunks are queued across tensors (small tensors keep every worker busy too); each is written at its
  // own offset when it is the oldest in flight, so at most `window` chunks are held at once.
  const window = pool ? pool.size + 1 : 1;
  const maxChunk = Math.max(256, Math.min(MAX_APPLY_CHUNK_ELEMENTS, Math.floor(options.maxChunkElements ?? MAX_APPLY_CHUNK_ELEMENTS)));
  // With workers: chunks of about maxChunk / workers (the chunks in flight together stay near one single-thread
  // chunk), at least MIN_PARALLEL_CHUNK_ELEMENTS.
  const chunkElements = pool ? Math.min(maxChunk, Math.max(MIN_PARALLEL_CHUNK_ELEMENTS, Math.floor(maxChunk / pool.size))) : maxChunk;
  const written = new Array<number>(plan.tensors.length).fill(0);
  const inflight: { job: Promise<Uint8Array>; at: number; i: number }[] = [];
  const writeNext = async (): Promise<void> => {
    const { job, at, i } = inflight.shift()!;
    const out = await job;
    await writeAll(handle, out, at);
    written[i]! += out.length;
    report(out.length);
  };
  try {
    for (let i = 0; i < plan.tensors.length; i++) {
      checkCancel(options.token);
      const t = plan.tensors[i]!;
      const at = layout.dataOffset + layout.tensorOffsets[i]!;
      if (t.action === 'copy') {
        const chunk = MAX_APPLY_CHUNK_ELEMENTS * 4;
        for (let o = 0; o < t.sourceBytes; o += chunk) {
          checkCancel(options.token);
          const n = Math.min(chunk, t.sourceBytes - o);
          await writeAll(handle, await source.read(t.sourceOffset + o, n), at + o);
          written[i]! += n;
          report(n);
        }
        continue;
      }
      const { rowLength, rows } = ggufRows(t.ne);
      const rowsPerChunk = Math.max(1, Math.floor(chunkElements / rowLength));
      const sourceRowBytes = storedByteLength(t.sourceDtype, rowLength)!;
      const outRowBytes = storedByteLength(t.targetDtype, rowLength)!;
      for (let r = 0; r < rows; r += rowsPerChunk) {
        checkCancel(options.token);
        const n = Math.min(rowsPerChunk, rows - r);
        const bytes = await source.read(t.sourceOffset + r * sourceRowBytes, n * sourceRowBytes);
        const job = pool ? pool.convert(t.sourceDtype, bytes, n * rowLength, t.targetDtype) : Promise.resolve(convertGgufRows(t.sourceDtype, bytes, n * rowLength, t.targetDtype));
        job.catch(() => undefined); // awaited in order by writeNext; this only marks an early failure as handled
        inflight.push({ job, at: at + r * outRowBytes, i });
        if (inflight.length >= window) await writeNext();
      }
    }
    while (inflight.length > 0) await writeNext();
  } finally {
    await Promise.allSettled(inflight.map((f) => f.job));
  }
  for (let i = 0; i < plan.tensors.length; i++) {
    const t = plan.tensors[i]!;
    if (written[i] !== layout.tensorBytes[i]) throw new ApplyError('internal', `internal: tensor '${t.name}' wrote ${written[i]} bytes, its ${dtypeInfo(t.targetDtype)?.label} layout needs ${layout.tensorBytes[i]}`);
    const pad = layout.tensorOffsets[i]! + written[i]!;
    const padded = Math.ceil(pad / layout.alignment) * layout.alignment;
    if (padded > pad) await writeAll(handle, new Uint8Array(padded - pad), layout.dataOffset + pad);
  }
}
