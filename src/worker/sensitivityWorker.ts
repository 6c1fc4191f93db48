/**
 * Worker-side handler for static sensitivity chunks: decodes, fake-quantizes and accumulates error sums with
 * core's `analyzeSensitivityChunk`. Kept free of `worker_threads` so the Node runner can also call it inline.
 */
import { analyzeSensitivityChunk, type SensitivityChunkResult, type SensitivityChunkTask } from '../core';

/** Request sent to a worker. */
export interface SensitivityWorkerRequest {
  readonly kind: 'sensitivity/chunk';
  readonly task: SensitivityChunkTask;
}

/** Reply from a worker. */
export type SensitivityWorkerReply =
  | { readonly kind: 'sensitivity/result'; readonly result: SensitivityChunkResult }
  | { readonly kind: 'sensitivity/error'; readonly id: number; readonly message: string };

/** True when `msg` is a request this handler understands. */
export function isSensitivityRequest(msg: unknown): msg is SensitivityWorkerRequest {
  return typeof msg === 'object' && msg !== null && (msg as { kind?: unknown }).kind === 'sensitivity/chunk';
}

/** Runs one request; returns the reply and the buffers to transfer back. Never throws. */
export function handleSensitivityRequest(msg: SensitivityWorkerRequest): { reply: SensitivityWorkerReply; transfer: ArrayBuffer[] } {
  try {
    const result = analyzeSensitivityChunk(msg.task);
    const transfer: ArrayBuffer[] = [];
    if (result.columnAbsMax) transfer.push(result.columnAbsMax.buffer as ArrayBuffer);
    if (result.histogram) transfer.push(result.histogram.buffer as ArrayBuffer);
    return { reply: { kind: 'sensitivity/result', result }, transfer };
  } catch (e) {
    return { reply: { kind: 'sensitivity/error', id: msg.task.id, message: e instanceof Error ? e.message : String(e) }, transfer: [] };
  }
}
