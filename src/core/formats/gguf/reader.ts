import { ModelFormatError, formatError } from '../../errors';
import type { ByteSource } from '../../io/byteSource';
import type { Model } from '../../model/types';
import type { ReadContext } from '../context';

/** Placeholder until the gguf reader lands (issue 2). */
export async function readGguf(source: ByteSource, _ctx: ReadContext): Promise<Model> {
  throw new ModelFormatError('unsupported', formatError(source.name, 'the gguf reader is not built yet'));
}
