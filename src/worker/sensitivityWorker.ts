/**
 * Worker-side handler for static sensitivity chunks: decodes, fake-quantizes and accumulates error sums with
 * core's `analyzeSensitivityChunk`. Kept free of `worker_threads` so the Node runner can also call it inline.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { BATCH_ERROR_FIELDS, BATCH_STATS_FIELDS, ModelFormatError, analyzeSensitivityBatch, analyzeSensitivityChunk, type ChunkByteReader, type SensitivityBatchResults, type SensitivityChunkResult, type SensitivityChunkTask, type WeightStatsPartial } from '../core';

/** Request sent to a worker. */
export interface SensitivityWorkerRequest {
  readonly kind: 'sensitivity/chunk';
  readonly task: SensitivityChunkTask;
}

/**
 * Many small whole tensors in one message (the runner's batches): their bytes are views of one buffer, so a
 * model of 200,000 tiny tensors costs a few hundred messages and reads, not 200,000 of each.
 */
export interface SensitivityBatchRequest {
  readonly kind: 'sensitivity/batch';
  readonly id: number;
  readonly tasks: readonly SensitivityChunkTask[];
  /** The buffer every task's `bytes` views (sent back for reuse). */
  readonly buffer: ArrayBuffer;
  /** The format ids whose error sums the reply carries (the tasks' formats). */
  readonly formats: readonly string[];
}

/** The columnar layout of a batch's results (defined in core, where the batch is analyzed). */
export { BATCH_ERROR_FIELDS, BATCH_STATS_FIELDS, type SensitivityBatchResults };

/** The statistics of task `k` of a batch. */
export function batchStats(r: SensitivityBatchResults, k: number): WeightStatsPartial {
  const s = r.sums;
  const b = k * (BATCH_STATS_FIELDS + BATCH_ERROR_FIELDS * r.formats.length);
  return { count: s[b]!, maxAbs: s[b + 1]!, s1: s[b + 2]!, s2: s[b + 3]!, s3: s[b + 4]!, s4: s[b + 5]!, sAbs: s[b + 6]!, beyondFp16: s[b + 7]!, zeros: s[b + 8]!, nonFinite: s[b + 9]! };
}

/** Reply from a worker. */
export type SensitivityWorkerReply =
  | { readonly kind: 'sensitivity/result'; readonly result: SensitivityChunkResult; readonly buffer?: ArrayBuffer }
  | { readonly kind: 'sensitivity/batch-result'; readonly id: number; readonly results: SensitivityBatchResults; readonly buffer: ArrayBuffer }
  | { readonly kind: 'sensitivity/error'; readonly id: number; readonly message: string };

/** True when `msg` is a request this handler understands. */
export function isSensitivityRequest(msg: unknown): msg is SensitivityWorkerRequest | SensitivityBatchRequest {
  const kind = typeof msg === 'object' && msg !== null ? (msg as { kind?: unknown }).kind : undefined;
  return kind === 'sensitivity/chunk' || kind === 'sensitivity/batch';
}

/**
 * Runs the tasks of a batch into columnar results (core's `analyzeSensitivityBatch`: one Float64Array per batch
 * crosses threads instead of a result object with a record per format for each task); a failing task gets an
 * error. Never throws.
 */
export function runSensitivityBatch(tasks: readonly SensitivityChunkTask[], formats: readonly string[]): SensitivityBatchResults {
  return analyzeSensitivityBatch(tasks, formats);
}

/** Runs one request; returns the reply and the buffers to transfer back. Never throws. */
export function handleSensitivityRequest(msg: SensitivityWorkerRequest | SensitivityBatchRequest): { reply: SensitivityWorkerReply; transfer: ArrayBuffer[] } {
  if (msg.kind === 'sensitivity/batch') {
    const results = runSensitivityBatch(msg.tasks, msg.formats);
    return { reply: { kind: 'sensitivity/batch-result', id: msg.id, results, buffer: msg.buffer }, transfer: [msg.buffer, results.sums.buffer as ArrayBuffer, results.has.buffer as ArrayBuffer] };
  }
  try {
    const result = msg.task.file ? analyzeFileChunk(msg.task, msg.task.file) : analyzeSensitivityChunk(msg.task);
    const transfer: ArrayBuffer[] = [];
    if (result.columnAbsMax) transfer.push(result.columnAbsMax.buffer as ArrayBuffer);
    if (result.histogram) transfer.push(result.histogram.buffer as ArrayBuffer);
    // The chunk's bytes go back too, so the runner reads the next chunk into them (no fresh allocation, no GC).
    const buffer = msg.task.bytes.buffer as ArrayBuffer;
    transfer.push(buffer);
    return { reply: { kind: 'sensitivity/result', result, buffer }, transfer };
  } catch (e) {
    return { reply: { kind: 'sensitivity/error', id: msg.task.id, message: e instanceof Error ? e.message : String(e) }, transfer: [] };
  }
}

/**
 * A chunk whose bytes this thread reads from the file itself (`task.file`, a path the runner took from a
 * FileByteSource opened inside the model's folder), so the bytes never cross threads and arrive in cache-sized
 * reads while they are analyzed. Reads are bounded to the chunk's range; a short file is an error.
 */
function analyzeFileChunk(task: SensitivityChunkTask, file: NonNullable<SensitivityChunkTask['file']>): SensitivityChunkResult {
  // Non-blocking open + fstat: the path was a regular file when the runner opened it; never block on a swapped-in FIFO.
  const fd = openSync(file.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new ModelFormatError('not-a-file', `${file.path}: is not a regular file.`);
  }
  try {
    const read: ChunkByteReader = (dst, byteOffset) => {
      if (byteOffset < 0 || byteOffset + dst.length > file.byteLength) throw new RangeError(`read outside the chunk (${byteOffset}+${dst.length} of ${file.byteLength} bytes)`);
      let done = 0;
      while (done < dst.length) {
        const n = readSync(fd, dst, done, dst.length - done, file.byteOffset + byteOffset + done);
        if (n === 0) throw new RangeError(`the file ended early at offset ${file.byteOffset + byteOffset + done}`);
        done += n;
      }
    };
    return analyzeSensitivityChunk(task, read);
  } finally {
    closeSync(fd);
  }
}
