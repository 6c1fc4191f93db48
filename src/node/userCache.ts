/**
 * The per-user cache folder for measured sensitivity (and anything else worth keeping between runs).
 *
 * Threat (issue 14): the cache used to fall back to a shared folder under the system temp directory, where another
 * local user could plant entries that the CLI then reported as *measured* figures ("from cache"), and temporary
 * files were written through planted symlinks. Now:
 * - the folder is `$XDG_CACHE_HOME/precision-lens` or `~/.cache/precision-lens`, never a shared temp folder
 *   (no home → no cache);
 * - it is created 0700 and, before every use, must be a real directory (not a symlink) owned by this user with no
 *   group/other permissions (a folder of ours that is too open is tightened; anything else disables the cache);
 * - entries are opened with O_NOFOLLOW and must be regular files owned by this user, not writable by others,
 *   within a size bound; the caller then checks their content (version, model hash) before trusting them;
 * - entries are written 0600 through safeOutput (O_EXCL temporary + rename: never through a symlink).
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeOutputFile } from './safeOutput';

/** Largest cache entry read back. Threat: a huge planted file read into memory. */
export const MAX_CACHE_ENTRY_BYTES = 64 * 1024 * 1024;

/** The default per-user cache folder, or undefined when the user has no home folder (then nothing is cached). */
export function defaultCacheDir(): string | undefined {
  const xdg = process.env['XDG_CACHE_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'precision-lens');
  let home: string;
  try {
    home = os.homedir();
  } catch {
    return undefined;
  }
  return home && path.isAbsolute(home) ? path.join(home, '.cache', 'precision-lens') : undefined;
}

const uid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/**
 * Creates `dir` (0700) if needed and checks it is a private folder of this user. Returns the reason it cannot be
 * used, or undefined when it is fine.
 */
export async function preparePrivateDir(dir: string): Promise<string | undefined> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await fs.lstat(dir);
    if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
    if (!st.isDirectory()) return `${dir} is not a folder`;
    const me = uid();
    if (me !== undefined && st.uid !== me) return `${dir} belongs to another user`;
    if ((st.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
    return undefined;
  } catch (e) {
    return `${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
}

/** Reads cache entry `name` from the private folder `dir`; undefined if absent or not trustworthy (see above). */
export async function readCacheEntry(dir: string, name: string): Promise<string | undefined> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path.join(dir, name), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    const st = await handle.stat();
    const me = uid();
    if (!st.isFile() || (me !== undefined && st.uid !== me) || (st.mode & 0o022) !== 0 || st.size > MAX_CACHE_ENTRY_BYTES) return undefined;
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** Writes cache entry `name` (0600) atomically into the private folder `dir`. */
export async function writeCacheEntry(dir: string, name: string, text: string): Promise<void> {
  await writeOutputFile(path.join(dir, name), text, { inputs: [], mode: 0o600 });
}
