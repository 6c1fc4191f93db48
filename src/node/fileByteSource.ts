/**
 * Node file-system implementations of core's ByteSource and SiblingResolver, used by the CLI, tests,
 * benchmarks, workers and the extension host (which runs in Node).
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, promises as fs, readSync } from 'node:fs';
import * as path from 'node:path';
import { MemoryByteSource, ModelFormatError, SNIFF_BYTES, checkRange, checkRelativePath, detectFormat, formatError, truncateForMessage, type ByteSource, type SiblingResolver } from '../core';
import { NodeError } from './errors';

/**
 * Most file handles kept open at once across all FileByteSources. A sharded model may name thousands of shards
 * (limits.maxFileCount); keeping each open would exhaust the process's descriptors (often 1024), so the least
 * recently used handle is closed and transparently reopened on its next read.
 */
const MAX_OPEN_HANDLES = 64;
const openHandles = new Set<FileByteSource>();

/** What a non-regular file is, for the refusal message. */
function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The error of a path that is not a regular file (`st`: its fstat), for {@link openRegularFile} and {@link BlockingFileByteSource}. */
function notRegularFile(name: string, st: import('node:fs').Stats): ModelFormatError {
  return new ModelFormatError('not-a-file', formatError(truncateForMessage(name), `is ${kindOf(st)}, not a regular file; refusing to read it`));
}

/** The error of a file shorter than its size said, at byte `at` (both file sources). */
function endedEarly(name: string, at: number): ModelFormatError {
  return new ModelFormatError('truncated', formatError(name, `the file ended early at offset ${at}`), at);
}

/** The error of a read after `close()` (both file sources). */
function closedFile(name: string): NodeError {
  return new NodeError('internal', `${name}: the file was closed.`);
}

/**
 * The one way files are opened for reading (models, external data, shards, plans, targets, calibration inputs):
 * regular files only, refused *before* reading. Threat: a FIFO blocks a reader forever (and `open` itself blocks
 * until a writer appears, so it is opened with O_NONBLOCK, which regular files ignore); `/dev/zero` or
 * `/dev/urandom` never end; a directory fails deep inside a parser. The check is on the opened handle (fstat), so
 * the file cannot be swapped between the check and the read. {@link BlockingFileByteSource.open} makes the same checks
 * with blocking calls.
 */
export async function openRegularFile(filePath: string, name = path.basename(filePath)): Promise<{ readonly handle: fs.FileHandle; readonly size: number }> {
  const handle = await fs.open(filePath, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw notRegularFile(name, st);
    return { handle, size: st.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Reads a whole regular file (see {@link openRegularFile}), refusing one larger than `maxBytes` before allocating
 * (code 'limit-exceeded', naming the limit).
 */
export async function readRegularFile(filePath: string, maxBytes: number, name = path.basename(filePath)): Promise<Uint8Array> {
  const { handle, size } = await openRegularFile(filePath, name);
  try {
    if (size > maxBytes) throw new ModelFormatError('limit-exceeded', formatError(truncateForMessage(name), `is ${size} bytes, over the limit of ${maxBytes} bytes for this kind of file`));
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(buf, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, done);
  } finally {
    await handle.close();
  }
}

/** {@link readRegularFile} decoded as UTF-8 text. */
export async function readRegularTextFile(filePath: string, maxBytes: number, name = path.basename(filePath)): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(filePath, maxBytes, name));
}

/** Reads a file through a FileHandle (reopened on demand); `close()` when done. Counts bytes read (benchmarks report it). */
export class FileByteSource implements ByteSource {
  /** Total bytes returned by `read`, for the "bytes read / file size" figure. */
  bytesRead = 0;
  private handle: Promise<fs.FileHandle> | undefined;
  private closed = false;
  /** Reads in flight on the current handle; an evicted handle is closed only once they finish. */
  private inflight = 0;
  private retiring: Promise<fs.FileHandle>[] = [];
  private constructor(readonly name: string, readonly size: number, handle: fs.FileHandle, readonly filePath: string) {
    this.handle = Promise.resolve(handle);
    FileByteSource.touch(this);
  }

  /** Opens `filePath` for reading. `name` defaults to the base name (used in error messages). */
  static async open(filePath: string, name = path.basename(filePath)): Promise<FileByteSource> {
    const { handle, size } = await openRegularFile(filePath, name);
    return new FileByteSource(name, size, handle, filePath);
  }

  private static touch(source: FileByteSource): void {
    openHandles.delete(source);
    openHandles.add(source);
    while (openHandles.size > MAX_OPEN_HANDLES) {
      const oldest = openHandles.values().next().value as FileByteSource;
      openHandles.delete(oldest);
      oldest.release();
    }
  }

  /** Closes the OS handle but keeps the source usable (reopened on the next read). */
  private release(): void {
    if (this.handle) this.retiring.push(this.handle);
    this.handle = undefined;
    this.closeRetired();
  }

  private closeRetired(): void {
    if (this.inflight > 0) return;
    for (const h of this.retiring.splice(0)) void h.then((fh) => fh.close()).catch(() => undefined);
  }

  private acquire(): Promise<fs.FileHandle> {
    if (this.closed) return Promise.reject(closedFile(this.name));
    if (!this.handle) this.handle = openRegularFile(this.filePath, this.name).then((r) => r.handle);
    FileByteSource.touch(this);
    return this.handle;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, this.size, offset, length);
    const buf = Buffer.allocUnsafe(length);
    await this.readAt(offset, buf, length);
    return new Uint8Array(buf.buffer, buf.byteOffset, length);
  }

  /** Reads `into.length` bytes at `offset` into `into` (no buffer of its own). */
  async readInto(offset: number, into: Uint8Array): Promise<void> {
    checkRange(this.name, this.size, offset, into.length);
    await this.readAt(offset, into, into.length);
  }

  /** Fills `buf[0, length)` from `offset` (checked by the caller). */
  private async readAt(offset: number, buf: Uint8Array, length: number): Promise<void> {
    this.inflight++;
    try {
      const handle = await this.acquire();
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) throw endedEarly(this.name, offset + done);
        done += bytesRead;
      }
    } finally {
      this.inflight--;
      this.closeRetired();
    }
    this.bytesRead += length;
  }

  async close(): Promise<void> {
    this.closed = true;
    openHandles.delete(this);
    if (this.handle) this.retiring.push(this.handle);
    this.handle = undefined;
    for (const h of this.retiring.splice(0)) await (await h.catch(() => undefined))?.close();
  }
}

/**
 * A regular file read with blocking reads on its descriptor, for a CLI command that reads one model and waits for
 * each read anyway (`inspect`): the same checks as {@link openRegularFile} (opened with O_NONBLOCK, refused unless its
 * fstat says regular file) and the same errors as {@link FileByteSource}, without a FileHandle, a thread-pool round
 * trip and a promise per call, nor Node's fs/promises module (~1 ms to load). Never for the extension host, whose
 * event loop must not wait on a disk.
 */
export class BlockingFileByteSource implements ByteSource {
  /** Total bytes returned by `read`, as {@link FileByteSource.bytesRead}. */
  bytesRead = 0;
  private fd: number | undefined;

  private constructor(readonly name: string, readonly size: number, fd: number) {
    this.fd = fd;
  }

  /** Opens `filePath` for reading. `name` defaults to the base name (used in error messages). */
  static open(filePath: string, name = path.basename(filePath)): BlockingFileByteSource {
    const fd = openSync(filePath, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw notRegularFile(name, st);
      return new BlockingFileByteSource(name, st.size, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.name, this.size, offset, length);
    const buf = Buffer.allocUnsafe(length);
    this.readAt(offset, buf, length);
    return new Uint8Array(buf.buffer, buf.byteOffset, length);
  }

  async readInto(offset: number, into: Uint8Array): Promise<void> {
    checkRange(this.name, this.size, offset, into.length);
    this.readAt(offset, into, into.length);
  }

  /** Fills `buf[0, length)` from `offset` (checked by the caller). */
  private readAt(offset: number, buf: Uint8Array, length: number): void {
    if (this.fd === undefined) throw closedFile(this.name);
    let done = 0;
    while (done < length) {
      const bytesRead = readSync(this.fd, buf, done, length - done, offset + done);
      if (bytesRead === 0) throw endedEarly(this.name, offset + done);
      done += bytesRead;
    }
    this.bytesRead += length;
  }

  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Resolves `relativePath` (from a file named `ownerName`: a model's external data, a plan's model) inside the folder
 * whose real path is `realRoot`: lexical checks (no absolute paths, no `..`) from core, then the real path must stay
 * inside, so a symlink pointing out of the folder is refused too (code 'path-escape'), and never read.
 */
export async function resolveInsideFolder(realRoot: string, relativePath: string, ownerName: string, what = 'external file'): Promise<string> {
  const rel = checkRelativePath(ownerName, relativePath);
  const joined = path.join(realRoot, ...rel.split('/'));
  let real: string;
  try {
    real = await fs.realpath(joined);
  } catch {
    throw new ModelFormatError('missing-file', formatError(ownerName, `${what} '${truncateForMessage(rel)}' does not exist`));
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new ModelFormatError('path-escape', formatError(ownerName, what === 'external file' ? `refusing external path '${truncateForMessage(rel)}': it resolves outside the model folder` : `refusing ${what} '${truncateForMessage(rel)}': it resolves outside the plan's folder`));
  }
  return real;
}

/**
 * Resolves files beside a model inside its folder only. Lexical checks (no absolute paths, no `..`) come from
 * core; then the real path is resolved so a symlink pointing out of the folder is refused too, and never read.
 * Opened sources are cached and closed together by `close()`.
 */
export class FolderSiblings implements SiblingResolver {
  private readonly opened = new Map<string, Promise<FileByteSource>>();
  /** The folder's real path, resolved when a sibling is first asked for (most models have none). */
  private realFolder: Promise<string> | undefined;
  constructor(readonly folder: string, private readonly modelName: string) {}

  /** Siblings for the model at `modelPath`. */
  static forModel(modelPath: string): FolderSiblings {
    return new FolderSiblings(path.dirname(path.resolve(modelPath)), path.basename(modelPath));
  }

  private async resolveInside(relativePath: string): Promise<string> {
    return resolveInsideFolder(await (this.realFolder ??= fs.realpath(this.folder)), relativePath, this.modelName);
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

/** {@link openModelFile} with a {@link BlockingFileByteSource} for the model (siblings are read as usual). */
export function openModelFileBlocking(modelPath: string): { source: BlockingFileByteSource; siblings: FolderSiblings; close(): Promise<void> } {
  const source = BlockingFileByteSource.open(modelPath);
  const siblings = FolderSiblings.forModel(modelPath);
  return { source, siblings, close: async () => { await siblings.close(); await source.close(); } };
}

/**
 * Opens a model like {@link openModelFile}, except that an ONNX file is read whole, once: `bytes` holds it and
 * `source` reads from it, so `apply`'s plan check, rewrite and reference run share one read (each needs the whole
 * protobuf message anyway). Other formats are read on demand as usual (`bytes` undefined).
 */
export async function openModelFileWhole(modelPath: string): Promise<{ source: ByteSource; siblings: FolderSiblings; bytes: Uint8Array | undefined; close(): Promise<void> }> {
  const opened = await openModelFile(modelPath);
  try {
    const file = opened.source;
    if (detectFormat(await file.read(0, Math.min(SNIFF_BYTES, file.size)), file.name) !== 'onnx') return { ...opened, bytes: undefined };
    const bytes = await file.read(0, file.size);
    await file.close();
    return { source: new MemoryByteSource(file.name, bytes), siblings: opened.siblings, bytes, close: () => opened.siblings.close() };
  } catch (e) {
    await opened.close();
    throw e;
  }
}
