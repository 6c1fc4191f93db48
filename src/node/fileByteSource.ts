/**
 * Node file-system implementations of core's ByteSource and SiblingResolver, used by the CLI, tests,
 * benchmarks, workers and the extension host (which runs in Node).
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import * as path from 'node:path';
import { ModelFormatError, checkRange, checkRelativePath, formatError, truncateForMessage, type ByteSource, type SiblingResolver } from '../core';

/** Reads a file through one FileHandle; `close()` when done. Counts bytes read (benchmarks report it). */
export class FileByteSource implements ByteSource {
  /** Total bytes returned by `read`, for the "bytes read / file size" figure. */
  bytesRead = 0;
  private constructor(readonly name: string, readonly size: number, private readonly handle: fs.FileHandle, readonly filePath: string) {}

  /** Opens `filePath` for reading. `name` defaults to the base name (used in error messages). */
  static async open(filePath: string, name = path.basename(filePath)): Promise<FileByteSource> {
    const handle = await fs.open(filePath, fsConstants.O_RDONLY);
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new Error(`${name}: is not a regular file.`);
      return new FileByteSource(name, st.size, handle, filePath);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, this.size, offset, length);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new ModelFormatError('truncated', formatError(this.name, `the file ended early at offset ${offset + done}`), offset + done);
      done += bytesRead;
    }
    this.bytesRead += length;
    return new Uint8Array(buf.buffer, buf.byteOffset, length);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/**
 * Resolves files beside a model inside its folder only. Lexical checks (no absolute paths, no `..`) come from
 * core; then the real path is resolved so a symlink pointing out of the folder is refused too, and never read.
 * Opened sources are cached and closed together by `close()`.
 */
export class FolderSiblings implements SiblingResolver {
  private readonly opened = new Map<string, Promise<FileByteSource>>();
  private realFolder: Promise<string>;
  constructor(readonly folder: string, private readonly modelName: string) {
    this.realFolder = fs.realpath(folder);
  }

  /** Siblings for the model at `modelPath`. */
  static forModel(modelPath: string): FolderSiblings {
    return new FolderSiblings(path.dirname(path.resolve(modelPath)), path.basename(modelPath));
  }

  private async resolveInside(relativePath: string): Promise<string> {
    const rel = checkRelativePath(this.modelName, relativePath);
    const root = await this.realFolder;
    const joined = path.join(root, ...rel.split('/'));
    let real: string;
    try {
      real = await fs.realpath(joined);
    } catch {
      throw new ModelFormatError('missing-file', formatError(this.modelName, `external file '${truncateForMessage(rel)}' does not exist`));
    }
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new ModelFormatError('path-escape', formatError(this.modelName, `refusing external path '${truncateForMessage(rel)}': it resolves outside the model folder`));
    }
    return real;
  }

  open(relativePath: string): Promise<ByteSource> {
    const key = relativePath;
    let p = this.opened.get(key);
    if (!p) {
      p = this.resolveInside(relativePath).then((real) => FileByteSource.open(real, checkRelativePath(this.modelName, relativePath)));
      this.opened.set(key, p);
      p.catch(() => this.opened.delete(key));
    }
    return p;
  }

  async exists(relativePath: string): Promise<boolean> {
    try {
      const real = await this.resolveInside(relativePath);
      return (await fs.stat(real)).isFile();
    } catch {
      return false;
    }
  }

  /** Total bytes read through opened siblings. */
  async bytesRead(): Promise<number> {
    let n = 0;
    for (const p of this.opened.values()) n += (await p.catch(() => undefined))?.bytesRead ?? 0;
    return n;
  }

  async close(): Promise<void> {
    for (const p of this.opened.values()) await (await p.catch(() => undefined))?.close();
    this.opened.clear();
  }
}

/** Opens a model file from disk with its folder as sibling resolver; the caller closes both. */
export async function openModelFile(modelPath: string): Promise<{ source: FileByteSource; siblings: FolderSiblings; close(): Promise<void> }> {
  const source = await FileByteSource.open(modelPath);
  const siblings = FolderSiblings.forModel(modelPath);
  return { source, siblings, close: async () => { await siblings.close(); await source.close(); } };
}
