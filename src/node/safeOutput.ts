/**
 * Safe output files: the one way the CLI, the worker and the writers (ONNX apply, GGUF apply, plan, export) put
 * a file on disk.
 *
 * Two threats, two mechanisms:
 * - **Destroying an input.** A destination is compared with every input by *identity* — device and inode,
 *   following symlinks — never by path text. A hard link to the input model, a symlink to its external data, or a
 *   path through a symlinked folder all resolve to the input's inode and are refused before anything is written
 *   (issue 14: `apply -o hard-link-to-input.onnx` used to rewrite the user's model).
 * - **Half-written files.** Each output is written to a fresh temporary file in the destination's own folder
 *   (created with O_EXCL, so a planted file or symlink is never opened), flushed, and only then renamed into
 *   place; on any failure — a full disk (ENOSPC), a quota, a cancelled task — the temporaries are removed and the
 *   destination is untouched. Renaming replaces the directory entry: even a destination that is a link to some
 *   other file never has that file's bytes rewritten.
 *
 * The identity check runs twice: before the (possibly long) write, and again just before the renames.
 */
import type * as NodeCrypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { NodeError } from './errors';

/** Why an output could not be written. */
export type OutputErrorCode = 'output-is-input' | 'disk-full' | 'output-exists' | 'output-failed';

/** An output file was refused or could not be written; `message` is one sentence naming the file. */
export class OutputError extends Error {
  readonly code: OutputErrorCode;
  /** The destination concerned. */
  readonly path: string;
  constructor(code: OutputErrorCode, message: string, filePath: string) {
    super(message);
    this.name = 'OutputError';
    this.code = code;
    this.path = filePath;
  }
}

/** One file to write: its destination and either its bytes or a writer that fills the open handle. */
export type OutputFile =
  | { readonly path: string; readonly data: string | Uint8Array }
  | { readonly path: string; readonly write: (handle: fs.FileHandle) => Promise<void> };

/** Options for {@link writeOutputFiles}. */
export interface WriteOutputOptions {
  /** Files that must never be replaced or written through: the model, its external data/shards, plans, targets. */
  readonly inputs: readonly string[];
  /** Replace existing destinations (default true); false refuses an existing one with code 'output-exists'. */
  readonly overwrite?: boolean;
  /** Called after every file is written and before any rename; throwing here (e.g. cancellation) leaves nothing behind. */
  readonly beforeCommit?: () => void;
  /** Permission bits of new files (default 0o666, less the umask); 0o600 for private files such as cache entries. */
  readonly mode?: number;
}

/** Absolute paths of a model's external data files and shards (relative to the model's folder). */
export function modelDataFiles(modelPath: string, model: { readonly files: readonly { readonly path: string }[] }): string[] {
  const dir = path.dirname(path.resolve(modelPath));
  return model.files.map((f) => path.resolve(dir, f.path));
}

/** `dev:ino` of what `p` resolves to (symlinks followed), or undefined when it does not exist. */
async function identity(p: string): Promise<string | undefined> {
  try {
    const st = await fs.stat(p, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Refuses (code 'output-is-input') any destination that resolves — by device and inode, through hard links,
 * symlinks and symlinked folders — to one of `inputs`. Missing paths are fine.
 */
export async function refuseInputAliases(destinations: readonly string[], inputs: readonly string[]): Promise<void> {
  const protectedIds = new Set<string>();
  for (const p of inputs) {
    const id = await identity(path.resolve(p));
    if (id) protectedIds.add(id);
  }
  for (const d of destinations) {
    const abs = path.resolve(d);
    const id = await identity(abs);
    if (id && protectedIds.has(id)) {
      throw new OutputError('output-is-input', `${path.basename(abs)}: refusing to overwrite the input model or its data (the same file on disk); choose a new output file.`, abs);
    }
  }
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

function describeFailure(e: unknown, dest: string): Error {
  if (e instanceof OutputError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && DISK_FULL.has(code)) {
    return new OutputError('disk-full', `${path.basename(dest)}: no space left for the output (${code}); nothing was written.`, dest);
  }
  if (typeof code === 'string' && code.startsWith('E')) {
    return new OutputError('output-failed', `${path.basename(dest)}: cannot write the output (${code}); nothing was written.`, dest);
  }
  return e instanceof Error ? e : new NodeError('internal', String(e));
}

/** A fresh, exclusively created temporary file beside `dest`. */
async function createTemp(dest: string, mode: number): Promise<{ tempPath: string; handle: fs.FileHandle }> {
  for (let attempt = 0; ; attempt++) {
    // node:crypto (with the streams it pulls in) is loaded on first use: every CLI command bundles this module, and
    // `inspect`, which writes nothing, should not pay for loading it.
    const tempPath = path.join(path.dirname(dest), `.${path.basename(dest).slice(0, 64)}.${process.pid}.${(require('node:crypto') as typeof NodeCrypto).randomBytes(6).toString('hex')}.tmp`);
    try {
      // 'wx' = O_CREAT | O_EXCL | O_WRONLY: never opens an existing file or follows a planted symlink.
      return { tempPath, handle: await fs.open(tempPath, 'wx', mode) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 8) throw e;
    }
  }
}

/**
 * Writes every file in `files` atomically as a set: all are written to temporaries first, then renamed into place
 * in the order given (put a model's external data before the model). Refuses destinations that are inputs.
 */
export async function writeOutputFiles(files: readonly OutputFile[], options: WriteOutputOptions): Promise<void> {
  const dests = files.map((f) => path.resolve(f.path));
  await refuseInputAliases(dests, options.inputs);
  if (options.overwrite === false) {
    for (const d of dests) {
      if (await fs.lstat(d).then(() => true, () => false)) throw new OutputError('output-exists', `${path.basename(d)}: the output file exists.`, d);
    }
  }
  const temps: string[] = [];
  let current = dests[0] ?? '';
  try {
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      current = dests[i]!;
      await fs.mkdir(path.dirname(current), { recursive: true });
      const { tempPath, handle } = await createTemp(current, options.mode ?? 0o666);
      temps.push(tempPath);
      try {
        if ('data' in f) await handle.writeFile(f.data);
        else await f.write(handle);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
    options.beforeCommit?.();
    // Between the first check and now the destinations may have changed (a link created meanwhile): check again.
    await refuseInputAliases(dests, options.inputs);
    for (let i = 0; i < temps.length; i++) {
      current = dests[i]!;
      await fs.rename(temps[i]!, current);
      temps[i] = '';
    }
  } catch (e) {
    for (const t of temps) if (t) await fs.unlink(t).catch(() => undefined);
    throw describeFailure(e, current);
  }
}

/** Writes one file safely (see {@link writeOutputFiles}). */
export function writeOutputFile(filePath: string, data: string | Uint8Array, options: WriteOutputOptions): Promise<void> {
  return writeOutputFiles([{ path: filePath, data }], options);
}
