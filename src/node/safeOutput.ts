/**
 * Writing a derived model without ever touching its input: the new file is written to a temporary file in the
 * destination folder (same file system, so the final rename is atomic) and renamed over the destination only when
 * complete. A destination that IS one of the inputs — same path, a symlink to it, or a hard link (same device and
 * inode) — is refused before anything is written, and checked again right before the rename. On error or cancel the
 * temporary file is removed and an existing destination is left as it was.
 *
 * Shared by every `apply` writer (GGUF here; ONNX can adopt it): one mechanism, one set of tests.
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import * as path from 'node:path';

/** Why an output was refused. */
export type OutputErrorCode = 'output-is-input' | 'output-exists' | 'output-not-file';

/** The destination cannot be written safely. */
export class OutputError extends Error {
  readonly code: OutputErrorCode;
  constructor(code: OutputErrorCode, message: string) {
    super(message);
    this.name = 'OutputError';
    this.code = code;
  }
}

async function identity(p: string): Promise<{ dev: number; ino: number } | undefined> {
  try {
    const st = await fs.stat(p);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/**
 * Throws {@link OutputError} when `outputPath` names one of `inputPaths` (by device + inode, so symlinks and hard
 * links count), is not a regular file, or exists while `overwrite` is false.
 */
export async function checkOutputPath(outputPath: string, inputPaths: readonly string[], overwrite = true): Promise<void> {
  const name = path.basename(outputPath);
  let st;
  try {
    st = await fs.stat(outputPath);
  } catch {
    return;
  }
  for (const input of inputPaths) {
    const id = await identity(input);
    if (id && id.dev === st.dev && id.ino === st.ino) throw new OutputError('output-is-input', `${name}: refusing to write over the input model; choose a new output file.`);
  }
  if (!st.isFile()) throw new OutputError('output-not-file', `${name}: the output path exists and is not a regular file.`);
  if (!overwrite) throw new OutputError('output-exists', `${name}: the output file exists.`);
}

/** Options for {@link writeFileSafely}. */
export interface SafeWriteOptions {
  /** Replace an existing destination (never an input). Default true. */
  readonly overwrite?: boolean;
}

/**
 * Creates a temporary file beside `outputPath`, lets `write` fill it through the handle, syncs, and renames it over
 * `outputPath`. Inputs are protected as {@link checkOutputPath} describes. Returns the final size in bytes.
 */
export async function writeFileSafely(
  outputPath: string,
  inputPaths: readonly string[],
  write: (handle: fs.FileHandle) => Promise<void>,
  options: SafeWriteOptions = {},
): Promise<number> {
  const outAbs = path.resolve(outputPath);
  await checkOutputPath(outAbs, inputPaths, options.overwrite ?? true);
  const dir = path.dirname(outAbs);
  const temp = path.join(dir, `.${path.basename(outAbs)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  // O_EXCL: never follow or reuse an existing file at the temporary name.
  const handle = await fs.open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
  let renamed = false;
  try {
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The destination may have changed while we wrote (a link to the input created meanwhile): check again.
    await checkOutputPath(outAbs, inputPaths, options.overwrite ?? true);
    const size = (await fs.stat(temp)).size;
    await fs.rename(temp, outAbs);
    renamed = true;
    return size;
  } finally {
    if (!renamed) await fs.rm(temp, { force: true });
  }
}
