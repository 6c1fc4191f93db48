import type { FormatId } from '../model/types';

/** What the sniff decided: a format, or a safetensors shard index (JSON). */
export type Detected = FormatId | 'safetensors-index';

/** Bytes of the file head that {@link detectFormat} wants. */
export const SNIFF_BYTES = 16;

/**
 * Magic-byte sniff, with the file name as a tie-breaker for formats without magic. Never throws;
 * returns undefined when nothing matches.
 * - GGUF: ASCII 'GGUF' at 0.
 * - TFLite: flatbuffer file identifier 'TFL3' at bytes 4..8.
 * - safetensors: u64 LE header length then '{' at byte 8.
 * - ONNX: protobuf with no magic; a ModelProto starts with field 1 (ir_version, varint: 0x08) in practice,
 *   otherwise accepted by the `.onnx` extension.
 * - `*.safetensors.index.json`: by name.
 */
export function detectFormat(head: Uint8Array, fileName: string): Detected | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.index.json')) return 'safetensors-index';
  if (head.length >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46) return 'gguf';
  if (head.length >= 8 && head[4] === 0x54 && head[5] === 0x46 && head[6] === 0x4c && head[7] === 0x33) return 'tflite';
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return 'safetensors';
  // No magic left to match: trust a known extension before the weak ONNX heuristic (a malformed safetensors
  // header length whose low byte is 8 must still reach the safetensors reader and its error message).
  if (lower.endsWith('.onnx')) return 'onnx';
  if (lower.endsWith('.safetensors')) return 'safetensors';
  if (lower.endsWith('.gguf')) return 'gguf';
  if (lower.endsWith('.tflite')) return 'tflite';
  if (head.length > 0 && head[0] === 0x08) return 'onnx';
  return undefined;
}
