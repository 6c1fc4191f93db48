/**
 * Errors raised by core. Malformed model input throws {@link ModelFormatError}; I/O failures stay I/O errors;
 * analysis gaps become `warnings[]` rather than exceptions.
 */

/** Stable machine-readable codes for malformed input. */
export type ModelFormatErrorCode =
  | 'bad-magic'
  | 'truncated'
  | 'limit-exceeded'
  | 'bad-offset'
  | 'bad-value'
  | 'unsupported'
  | 'path-escape'
  | 'cycle'
  | 'missing-file'
  | 'not-a-file'
  | 'cancelled';

/**
 * A model file is malformed or hostile. `message` is one sentence that names the file and the problem
 * and ends with a period, e.g. `model.gguf: tensor count 4294967295 exceeds the limit of 1000000.`
 */
export class ModelFormatError extends Error {
  /** Machine-readable reason. */
  readonly code: ModelFormatErrorCode;
  /** Byte offset in the file where the problem was found, when known. */
  readonly offset: number | undefined;
  constructor(code: ModelFormatErrorCode, message: string, offset?: number) {
    super(message);
    this.name = 'ModelFormatError';
    this.code = code;
    this.offset = offset;
  }
}

/** Thrown when a structural cancellation token fires. */
export class CancelledError extends Error {
  constructor() {
    super('The operation was cancelled.');
    this.name = 'CancelledError';
  }
}

/** Structural cancellation token: core never imports `vscode`, so anything with this shape works. */
export interface CancellationToken {
  readonly isCancellationRequested: boolean;
}

/** Throws {@link CancelledError} if the token has fired. */
export function throwIfCancelled(token: CancellationToken | undefined): void {
  if (token?.isCancellationRequested) throw new CancelledError();
}

/** Builds the one-sentence message convention: `<file>: <problem>.` */
export function formatError(fileName: string, problem: string): string {
  const p = problem.endsWith('.') ? problem : `${problem}.`;
  return `${fileName}: ${p}`;
}
