/**
 * Worker-side handler for GGUF apply chunks: decodes whole rows of one tensor and quantizes them with core's
 * `convertGgufRows` (ggml's reference rounding, bit-exact whatever thread runs it). Kept free of `worker_threads`.
 */
import { convertGgufRows } from '../core';

/** Request: convert `elementCount` elements stored as `sourceDtype` in `bytes` (transferred) to `targetDtype`. */
export interface GgufConvertRequest {
  readonly kind: 'gguf/convert';
  readonly id: number;
  readonly sourceDtype: string;
  readonly targetDtype: string;
  readonly elementCount: number;
  readonly bytes: Uint8Array;
}

/** Reply: the converted bytes (transferred back), or the error. */
export type GgufConvertReply =
  | { readonly kind: 'gguf/converted'; readonly id: number; readonly bytes: Uint8Array }
  | { readonly kind: 'gguf/error'; readonly id: number; readonly message: string };

/** True when `msg` is a request this handler understands. */
export function isGgufConvertRequest(msg: unknown): msg is GgufConvertRequest {
  return typeof msg === 'object' && msg !== null && (msg as { kind?: unknown }).kind === 'gguf/convert';
}

/** Runs one request; returns the reply and the buffers to transfer back. Never throws. */
export function handleGgufConvertRequest(msg: GgufConvertRequest): { reply: GgufConvertReply; transfer: ArrayBuffer[] } {
  try {
    const out = convertGgufRows(msg.sourceDtype, msg.bytes, msg.elementCount, msg.targetDtype);
    return { reply: { kind: 'gguf/converted', id: msg.id, bytes: out }, transfer: [out.buffer as ArrayBuffer] };
  } catch (e) {
    return { reply: { kind: 'gguf/error', id: msg.id, message: e instanceof Error ? e.message : String(e) }, transfer: [] };
  }
}
