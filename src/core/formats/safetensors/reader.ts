import { ModelFormatError, formatError } from '../../errors';
import type { ByteSource } from '../../io/byteSource';
import type { Model } from '../../model/types';
import type { ReadContext } from '../context';

/** Placeholder until the safetensors reader lands (issue 2). */
export async function readSafetensors(source: ByteSource, _ctx: ReadContext): Promise<Model> {
  throw new ModelFormatError('unsupported', formatError(source.name, 'the safetensors reader is not built yet'));
}
/** Placeholder until the safetensors reader lands (issue 2). */
export async function readSafetensorsIndex(source: ByteSource, _ctx: ReadContext): Promise<Model> {
  throw new ModelFormatError('unsupported', formatError(source.name, 'the safetensors reader is not built yet'));
}
