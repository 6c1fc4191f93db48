/**
 * Worker-side handler for static sensitivity chunks: decodes, fake-quantizes and accumulates error sums with
 * core's `analyzeSensitivityChunk`. Kept free of `worker_threads` so the Node runner can also call it inline.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { ModelFormatError, analyzeSensitivityChunk, type ChunkByteReader, type SensitivityChunkResult, type SensitivityChunkTask } from '../core';

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
}

/** One task of a batch: its result, or why it failed (the other tasks of the batch are unaffected). */
export type SensitivityBatchItem = { readonly result: SensitivityChunkResult } | { readonly error: string };

/** Reply from a worker. */
export type SensitivityWorkerReply =
  | { readonly kind: 'sensitivity/result'; readonly result: SensitivityChunkResult; readonly buffer?: ArrayBuffer }
  | { readonly kind: 'sensitivity/batch-result'; readonly id: number; readonly items: readonly SensitivityBatchItem[]; readonly buffer: ArrayBuffer }
  | { readonly kind: 'sensitivity/error'; readonly id: number; readonly message: string };

/** True when `msg` is a request this handler understands. */
export function isSensitivityRequest(msg: unknown): msg is SensitivityWorkerRequest | SensitivityBatchRequest {
  const kind = typeof msg === 'object' && msg !== null ? (msg as { kind?: unknown }).kind : undefined;
  return kind === 'sensitivity/chunk' || kind === 'sensitivity/batch';
}

/** Runs the tasks of a batch one after another; a failing task becomes an error item. Never throws. */
export function runSensitivityBatch(tasks: readonly SensitivityChunkTask[]): SensitivityBatchItem[] {
  return tasks.map((t) => {
    try {
      return { result: analyzeSensitivityChunk(t) };
    } catch (e) {
      return { error: e instanceof Error ? e.message : String(e) };
    }
  });
}

/** Runs one request; returns the reply and the buffers to transfer back. Never throws. */
export function handleSensitivityRequest(msg: SensitivityWorkerRequest | SensitivityBatchRequest): { reply: SensitivityWorkerReply; transfer: ArrayBuffer[] } {
  if (msg.kind === 'sensitivity/batch') {
    const items = runSensitivityBatch(msg.tasks);
    return { reply: { kind: 'sensitivity/batch-result', id: msg.id, items, buffer: msg.buffer }, transfer: [msg.buffer] };
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
