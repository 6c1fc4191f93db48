import type { CancellationToken } from '../errors';
import type { SiblingResolver } from '../io/byteSource';
import type { Limits } from '../io/limits';
import type { MemoryBudget } from '../io/memoryBudget';

/** What every reader receives besides the main file's ByteSource. */
export interface ReadContext {
  readonly limits: Limits;
  readonly token: CancellationToken | undefined;
  /** Opens files beside the model (external data, shards, config.json), refusing escapes. */
  readonly siblings: SiblingResolver;
  /** The model's parsed-table memory budget (limits.maxMetadataMemoryBytes), shared by its shards; openModel always sets it, a reader called directly makes its own. */
  readonly budget?: MemoryBudget;
}
