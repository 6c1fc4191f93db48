import { ModelFormatError, formatError, type CancellationToken } from './errors';
import { NO_SIBLINGS, type ByteSource, type SiblingResolver } from './io/byteSource';
import { DEFAULT_LIMITS, type Limits } from './io/limits';
import { MemoryBudget } from './io/memoryBudget';
import type { ReadContext } from './formats/context';
import { detectFormat, SNIFF_BYTES } from './formats/detect';
import { readOnnx } from './formats/onnx/reader';
import { readSafetensors, readSafetensorsIndex } from './formats/safetensors/reader';
import { readGguf } from './formats/gguf/reader';
import { readTflite } from './formats/tflite/reader';
import type { Model } from './model/types';

/** Options for {@link openModel}. */
export interface OpenModelOptions {
  readonly limits?: Limits;
  readonly token?: CancellationToken;
  /** Files beside the model; without it external data and shards are reported missing. */
  readonly siblings?: SiblingResolver;
}

/**
 * Sniffs the format and reads the model's structure (headers only; weights stay byte ranges).
 * Throws {@link ModelFormatError} with a one-sentence message for malformed input.
 */
export async function openModel(source: ByteSource, options: OpenModelOptions = {}): Promise<Model> {
  const ctx: ReadContext = {
    limits: options.limits ?? DEFAULT_LIMITS,
    token: options.token,
    siblings: options.siblings ?? NO_SIBLINGS,
    budget: new MemoryBudget(options.limits ?? DEFAULT_LIMITS, source.name),
  };
  if (source.size === 0) throw new ModelFormatError('truncated', formatError(source.name, 'the file is empty'), 0);
  const head = await source.read(0, Math.min(SNIFF_BYTES, source.size));
  const format = detectFormat(head, source.name);
  switch (format) {
    case 'onnx':
      return readOnnx(source, ctx);
    case 'safetensors':
      return readSafetensors(source, ctx);
    case 'safetensors-index':
      return readSafetensorsIndex(source, ctx);
    case 'gguf':
      return readGguf(source, ctx);
    case 'tflite':
      return readTflite(source, ctx);
    case undefined:
      throw new ModelFormatError('bad-magic', formatError(source.name, 'is not an ONNX, safetensors, GGUF or TFLite model (unrecognized header)'), 0);
  }
}
