import { ModelFormatError, formatError } from '../../errors';
import type { ByteSource } from '../../io/byteSource';
import type { Model } from '../../model/types';
import type { ReadContext } from '../context';

/** Placeholder until the onnx reader lands (issue 2). */
export async function readOnnx(source: ByteSource, _ctx: ReadContext): Promise<Model> {
  throw new ModelFormatError('unsupported', formatError(source.name, 'the onnx reader is not built yet'));
}
