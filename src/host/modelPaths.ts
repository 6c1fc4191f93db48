/**
 * Turns a path named in source code into a model file inside the workspace. Plain Node (no `vscode`):
 * unit-tested in test/unit/hostModelPaths.test.ts.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type ModelReference, pickModelInFolder } from '../core';

/** Most folder entries listed when looking for a model inside a referenced folder. Threat: a path naming a huge directory. */
export const MAX_FOLDER_ENTRIES = 5000;

/** Where a relative reference may point: beside the source file first, then at each workspace root. */
export function candidatePaths(value: string, documentFolder: string, workspaceRoots: readonly string[]): string[] {
  const normalized = value.replace(/\\/g, '/');
  if (path.isAbsolute(normalized)) return [path.normalize(normalized)];
  const out = [documentFolder, ...workspaceRoots].map((base) => path.resolve(base, normalized));
  return [...new Set(out)];
}

/** True when `p` is `root` or inside it (lexically, after resolving `..`). */
export function isInside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The model file a reference names, when it exists inside one of `workspaceRoots` (real paths, so a symlink
 * leading out of the workspace is not followed); for a folder reference, the model file inside the folder.
 */
export async function resolveModelReference(ref: Pick<ModelReference, 'value' | 'kind'>, documentFolder: string, workspaceRoots: readonly string[]): Promise<string | undefined> {
  const realRoots = await Promise.all(workspaceRoots.map((r) => fs.realpath(r).catch(() => r)));
  for (const candidate of candidatePaths(ref.value, documentFolder, workspaceRoots)) {
    let real: string;
    try {
      real = await fs.realpath(candidate);
    } catch {
      continue;
    }
    if (!realRoots.some((root) => isInside(real, root))) continue;
    const st = await fs.stat(real).catch(() => undefined);
    if (st?.isFile()) return real;
    if (st?.isDirectory()) {
      const names: string[] = [];
      const dir = await fs.opendir(real);
      for await (const e of dir) {
        if (e.isFile() || e.isSymbolicLink()) names.push(e.name);
        if (names.length >= MAX_FOLDER_ENTRIES) break;
      }
      const pick = pickModelInFolder(names);
      if (pick) return path.join(real, pick);
    }
  }
  return undefined;
}
