/**
 * Loads quantization parameters that a reader kept only as a summary. The TFLite reader copies at most
 * `limits.maxQuantValues` scales/zero points per tensor and `limits.maxQuantValuesTotal` per model into the
 * IR; beyond that, QuantParams carries `storedScales` / `storedZeroPoints` (file ranges). An analysis that
 * needs every channel (dequantizing per-channel weights) calls {@link loadQuantParams} with the model's
 * ByteSource first, the same way it reads the tensor's bytes.
 */
import { ModelFormatError, formatError } from '../../errors';
import type { ByteSource } from '../../io/byteSource';
import { DEFAULT_LIMITS } from '../../io/limits';
import type { QuantParams, StoredVector } from '../../model/types';

/** Elements decoded per read (4–8 MiB): bounded memory per call besides the result arrays. */
const CHUNK_ELEMENTS = 1024 * 1024;

/**
 * Full scales and zero points for `quant`: returns `quant` itself when nothing was truncated, else a copy
 * whose arrays hold every stored value (the `stored*` fields dropped). `maxCount` bounds each vector
 * (default limits.maxArrayLength). Throws ModelFormatError for ranges outside `source` or int64 zero points
 * outside the safe integer range.
 */
export async function loadQuantParams(source: ByteSource, quant: QuantParams, maxCount = DEFAULT_LIMITS.maxArrayLength): Promise<QuantParams> {
  if (quant.storedScales === undefined && quant.storedZeroPoints === undefined) return quant;
  const scales = quant.storedScales ? await readStoredVector(source, quant.storedScales, maxCount, 'scales') : quant.scales;
  const zeroPoints = quant.storedZeroPoints ? await readStoredVector(source, quant.storedZeroPoints, maxCount, 'zero points') : quant.zeroPoints;
  return { scales, zeroPoints, scaleCount: quant.scaleCount, axis: quant.axis };
}

/** Reads one stored vector (little-endian float32 or int64), checked against `maxCount` and the source size. */
export async function readStoredVector(source: ByteSource, vector: StoredVector, maxCount: number, what: string): Promise<number[]> {
  const width = vector.dtype === 'float32' ? 4 : 8;
  const fail = (problem: string): never => {
    throw new ModelFormatError('bad-offset', formatError(source.name, problem), vector.byteOffset);
  };
  if (!Number.isSafeInteger(vector.count) || vector.count < 0 || vector.count > maxCount) fail(`stored ${what} count ${vector.count} is outside 0..${maxCount}`);
  if (!Number.isSafeInteger(vector.byteOffset) || vector.byteOffset < 0 || vector.byteOffset + vector.count * width > source.size) {
    fail(`stored ${what} at offset ${vector.byteOffset} (${vector.count} × ${width} bytes) run past the end of the file (${source.size} bytes)`);
  }
  const out = new Array<number>(vector.count);
  for (let i = 0; i < vector.count; i += CHUNK_ELEMENTS) {
    const n = Math.min(CHUNK_ELEMENTS, vector.count - i);
    const bytes = await source.read(vector.byteOffset + i * width, n * width);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (width === 4) {
      for (let j = 0; j < n; j++) out[i + j] = view.getFloat32(4 * j, true);
    } else {
      for (let j = 0; j < n; j++) {
        const value = view.getUint32(8 * j, true) + view.getInt32(8 * j + 4, true) * 0x1_0000_0000;
        if (!Number.isSafeInteger(value)) fail(`stored ${what} element ${i + j} is outside the safe integer range`);
        out[i + j] = value;
      }
    }
  }
  return out;
}
