/**
 * The name each CLI bundle's script has in its V8 code cache, and the stack trace of an installed copy read back.
 *
 * V8 (Node 20's 11.3) takes a script's name from the code cache it is compiled with, not from the `filename` given
 * with the cache: a cache made under the build folder's path made every stack trace of a dist/ copied elsewhere
 * (npm pack, then install) name the build folder. So the build makes each cache under a name that is no path,
 * `<precision-lens>/<bundle>` ({@link cachedScriptName}), and the CLI's `--debug` report (./shell.ts) turns that
 * folder into the folder the bundle runs from ({@link installedStack}). Kept free of imports: the launcher bundles it.
 */

/** Stands for the folder of the bundles in the name a code cache records. No path holds it: `<` ends no folder name in practice. */
const CACHED_FOLDER = '<precision-lens>/';

/** The script name under which the build compiles the bundle `bundle` (a file name) to make its code cache. */
export function cachedScriptName(bundle: string): string {
  return `${CACHED_FOLDER}${bundle}`;
}

/** `stack` with the bundles' cached names ({@link cachedScriptName}) naming the files in `folder` (ending in a separator). */
export function installedStack(stack: string, folder: string): string {
  return stack.includes(CACHED_FOLDER) ? stack.split(CACHED_FOLDER).join(folder) : stack;
}
