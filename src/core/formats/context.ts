import type { CancellationToken } from '../errors';
import type { SiblingResolver } from '../io/byteSource';
import type { Limits } from '../io/limits';

/** What every reader receives besides the main file's ByteSource. */
export interface ReadContext {
  readonly limits: Limits;
  readonly token: CancellationToken | undefined;
  /** Opens files beside the model (external data, shards, config.json), refusing escapes. */
  readonly siblings: SiblingResolver;
}
