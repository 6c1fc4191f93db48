import { ModelFormatError, formatError } from '../errors';

/**
 * Random access to the bytes of one file. Core never touches the file system: the CLI, the tests and the
 * extension host pass one of these in (Node file handle, in-memory buffer, `workspace.fs`).
 */
export interface ByteSource {
  /** Display name used in error messages (usually the file's base name or workspace-relative path). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `offset`. Rejects with a {@link ModelFormatError} ('truncated') when the
   * range is outside the file. The returned array may be a view into a shared buffer; copy it to keep it.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads exactly `into.length` bytes at `offset` into `into` (the same checks and errors as {@link read}),
   * for a reader that has the memory the bytes should land in (the ONNX graph scan's WebAssembly memory).
   */
  readInto?(offset: number, into: Uint8Array): Promise<void>;
}

/**
 * Opens files next to the model (ONNX external data, safetensors shards, `config.json`). Implementations
 * must refuse paths that leave the model's folder (absolute, `..`, symlinks pointing out) by throwing a
 * {@link ModelFormatError} with code 'path-escape', and must never open such a file.
 */
export interface SiblingResolver {
  /** Opens `relativePath` (POSIX separators) resolved against the model's folder. */
  open(relativePath: string): Promise<ByteSource>;
  /** True when `relativePath` names a readable regular file inside the folder. Never throws for escapes; returns false. */
  exists(relativePath: string): Promise<boolean>;
}

/**
 * Lexical check of a relative path taken from a model file: rejects absolute paths, drive letters, URLs,
 * NUL bytes, backslashes used as separators, and any `..` segment. Returns the normalized POSIX path.
 * Symlink escapes are checked by the platform resolver after this.
 */
export function checkRelativePath(fileName: string, relativePath: string): string {
  const fail = (why: string): never => {
    throw new ModelFormatError('path-escape', formatError(fileName, `refusing external path '${truncateForMessage(relativePath)}': ${why}`));
  };
  if (relativePath.length === 0) fail('it is empty');
  if (relativePath.includes('\0')) fail('it contains a NUL byte');
  if (relativePath.startsWith('/') || relativePath.startsWith('\\')) fail('it is absolute');
  if (/^[a-zA-Z]:/.test(relativePath)) fail('it names a drive');
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(relativePath)) fail('it is a URL');
  const parts = relativePath.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) fail('it leaves the model folder');
  if (parts.length === 0) fail('it names the folder itself');
  return parts.join('/');
}

/** Shortens untrusted text for inclusion in an error message. */
export function truncateForMessage(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A ByteSource over bytes already in memory (tests, fixtures, webview-provided buffers). */
export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(readonly name: string, private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return Promise.resolve(readCheckedSync(this.name, this.bytes, offset, length));
  }
  readInto(offset: number, into: Uint8Array): Promise<void> {
    into.set(readCheckedSync(this.name, this.bytes, offset, into.length));
    return Promise.resolve();
  }
}

function readCheckedSync(name: string, bytes: Uint8Array, offset: number, length: number): Uint8Array {
  checkRange(name, bytes.length, offset, length);
  return bytes.subarray(offset, offset + length);
}

/** Throws 'truncated' when [offset, offset+length) is not inside a file of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new ModelFormatError(
      'truncated',
      formatError(name, `needs bytes ${offset}..${offset + length} but the file has ${size} bytes`),
      offset,
    );
  }
}

/** Resolver for a model with no folder (in-memory tests): every sibling is missing. */
export const NO_SIBLINGS: SiblingResolver = {
  open(relativePath: string): Promise<ByteSource> {
    return Promise.reject(new ModelFormatError('missing-file', `External file '${truncateForMessage(relativePath)}' is not available.`));
  },
  exists(): Promise<boolean> {
    return Promise.resolve(false);
  },
};

/** In-memory folder of files, for tests: name → bytes. Applies the same lexical path checks as real resolvers. */
export class MemorySiblings implements SiblingResolver {
  constructor(private readonly modelName: string, private readonly files: Readonly<Record<string, Uint8Array>>) {}
  open(relativePath: string): Promise<ByteSource> {
    try {
      const p = checkRelativePath(this.modelName, relativePath);
      const bytes = this.files[p];
      if (!bytes) throw new ModelFormatError('missing-file', formatError(this.modelName, `external file '${truncateForMessage(p)}' does not exist`));
      return Promise.resolve(new MemoryByteSource(p, bytes));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  exists(relativePath: string): Promise<boolean> {
    try {
      return Promise.resolve(this.files[checkRelativePath(this.modelName, relativePath)] !== undefined);
    } catch {
      return Promise.resolve(false);
    }
  }
}
