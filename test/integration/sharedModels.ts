/**
 * The real model corpus the integration tier reads (see its SOURCES.md): `../shared/models` beside the repository,
 * as CI has it, or the folder named by PL_SHARED_MODELS — a checkout with no `../shared` beside it (a git worktree
 * elsewhere) runs the tier with `PL_SHARED_MODELS=/path/to/shared/models`.
 */
import * as path from 'node:path';

export const SHARED_MODELS = process.env['PL_SHARED_MODELS'] ?? path.resolve(__dirname, '../../../shared/models');
