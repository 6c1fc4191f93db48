/**
 * Typed failures of the Node adapters (apply, measurement, verification, calibration inputs, the analysis
 * workers and the task process). Each carries a `code`; adapters decide from it, never from the message text:
 * the CLI's exit status ({@link isInputError}: 2 for a problem with the user's model, plan or files, 1 for the
 * rest), the editor's messages. Messages stay one sentence for people.
 */

import type { LlamaEvalErrorCode } from './llamaEvalProtocol';

/** Why a Node adapter refused or failed. */
export type NodeErrorCode =
  //#region the user's input (CLI exit status 2)
  /** The operation needs an ONNX model (apply, measured sensitivity, verification). */
  | 'not-onnx'
  /** The model is larger than the operation's limit. */
  | 'too-large'
  /** Apply cannot rewrite this model (opset conversion impossible, no graph, external data without a location). */
  | 'cannot-convert'
  /** A calibration input file is malformed or of an unsupported kind. */
  | 'bad-calibration'
  /** An unknown number-format id. */
  | 'unknown-format'
  /** The operation needs a GGUF model (llama.cpp measurement). */
  | 'not-gguf'
  //#endregion
  //#region the environment or the program (CLI exit status 1)
  /** onnxruntime-node is not installed or cannot load. */
  | 'runtime-unavailable'
  /** onnxruntime-node cannot load or run the model, or the model has no numeric output to compare. */
  | 'runtime-failed'
  /** A bundled script or data file is missing (a broken install). */
  | 'missing-file'
  /** An analysis worker or the task process failed. */
  | 'worker-failed'
  /** A broken invariant of this program. */
  | 'internal'
  /** A llama.cpp evaluation failure ({@link LlamaEvalErrorCode}; the user's model or text → 2, the rest → 1). */
  | LlamaEvalErrorCode;
//#endregion

const INPUT_CODES: ReadonlySet<NodeErrorCode> = new Set<NodeErrorCode>(['not-onnx', 'not-gguf', 'too-large', 'cannot-convert', 'bad-calibration', 'unknown-format', 'load-failed', 'non-finite', 'vocab-mismatch', 'text-too-short']);

/** A failure of a Node adapter with a machine-readable `code`. */
export class NodeError extends Error {
  constructor(readonly code: NodeErrorCode, message: string) {
    super(message);
    this.name = 'NodeError';
  }
}

/** Apply Plan cannot write the model ('not-onnx', 'cannot-convert', 'internal'). */
export class ApplyError extends NodeError {
  constructor(code: 'not-onnx' | 'cannot-convert' | 'internal', message: string) {
    super(code, message);
    this.name = 'ApplyError';
  }
}

/** onnxruntime-node is missing, or cannot load or run the model ('runtime-unavailable', 'runtime-failed'). */
export class RuntimeError extends NodeError {
  constructor(code: 'runtime-unavailable' | 'runtime-failed', message: string) {
    super(code, message);
    this.name = 'RuntimeError';
  }
}

/** A calibration input that cannot be read ('bad-calibration'). */
export class CalibrationError extends NodeError {
  constructor(message: string) {
    super('bad-calibration', message);
    this.name = 'CalibrationError';
  }
}

/** True when the failure is a problem with the user's input (model, plan, calibration files, format ids). */
export function isInputError(e: unknown): e is NodeError {
  return e instanceof NodeError && INPUT_CODES.has(e.code);
}
