/** Errors of the hardware catalog and the estimator: bad user input, never malformed model files. */

/** Stable machine-readable reasons for {@link EstimateError}. */
export type EstimateErrorCode = 'bad-target-file' | 'unknown-target' | 'bad-option' | 'bad-plan';

/**
 * A user-supplied value the estimator cannot use (a targets file, a target id, batch/context, a format or
 * layer in an assignment). `message` is one sentence ending with a period; the CLI prints it and exits 2.
 */
export class EstimateError extends Error {
  readonly code: EstimateErrorCode;
  constructor(code: EstimateErrorCode, message: string) {
    super(message);
    this.name = 'EstimateError';
    this.code = code;
  }
}
