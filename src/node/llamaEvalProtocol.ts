/**
 * The contract between {@link LlamaEvaluator} (src/node/llamaEval.ts) and its evaluation process
 * (src/worker/llamaEval.ts, bundled to dist/llamaEval.js): GGUF language models run with node-llama-cpp (llama.cpp,
 * CPU) on a calibration text. Carried by the project's RPC helper over a forked child's IPC channel.
 *
 * - `llama/reference`: loads the original model, tokenizes the text with it, evaluates it and keeps each scored
 *   position's next-token distribution in the process (full, or top-k when too large; see nextTokenMetrics.ts).
 * - `llama/compare`: loads another model with the same vocabulary (an applied plan, a perturbed copy), evaluates
 *   the same tokens and returns perplexity, KL divergence and top-1 agreement against the reference.
 * Error replies carry a {@link LlamaEvalErrorCode}; the client turns them into LlamaEvalError.
 */
import type { NextTokenComparison } from '../core';
import type { RequestType } from '../protocol/rpc';

/** Why an evaluation failed. */
export type LlamaEvalErrorCode =
  /** node-llama-cpp (or its prebuilt llama.cpp) is not installed or cannot start. */
  | 'binding-unavailable'
  /** llama.cpp refused the model file (unsupported tensor type, bad shapes, corrupt data). */
  | 'load-failed'
  /** The model produced NaN or infinite probabilities. */
  | 'non-finite'
  /** The compared model's vocabulary differs from the reference's. */
  | 'vocab-mismatch'
  /** `llama/compare` before `llama/reference`. */
  | 'no-reference'
  /** The calibration text gives too few tokens to score. */
  | 'text-too-short'
  /** The evaluation process ended before answering (native crash, out of memory, killed). */
  | 'process-exit';

/** Params of {@link LlamaReferenceRequest}. */
export interface LlamaReferenceParams {
  readonly modelPath: string;
  /** Calibration text (tokenized with the reference model). */
  readonly text: string;
  /** Context window per chunk (tokens, BOS included). */
  readonly contextSize: number;
  /** CPU threads llama.cpp uses. */
  readonly threads: number;
  /** Most tokens of the text used. */
  readonly maxTokens: number;
  /** Most bytes of reference distributions kept in full (else top-k). */
  readonly maxReferenceBytes: number;
  /** Tokens kept per position when the full distributions do not fit. */
  readonly topK: number;
}

/** What the reference run found. */
export interface LlamaReferenceResult {
  /** Tokens of the text used (after truncation to `maxTokens`). */
  readonly tokens: number;
  /** Tokens the text had before truncation. */
  readonly textTokens: number;
  readonly vocabularySize: number;
  /** Chunks evaluated (each starts with BOS and scores its second half, as llama-perplexity). */
  readonly chunks: number;
  /** Next-token positions scored. */
  readonly positions: number;
  /** Perplexity of the original model on those positions. */
  readonly perplexity: number;
  /** 'full' or 'topk' reference distributions. */
  readonly stored: 'full' | 'topk';
  readonly loadMs: number;
  readonly evalMs: number;
}

/** Params of {@link LlamaCompareRequest}. */
export interface LlamaCompareParams {
  readonly modelPath: string;
}

/** A candidate's metrics against the reference, with its timings. */
export interface LlamaCompareResult extends NextTokenComparison {
  readonly loadMs: number;
  readonly evalMs: number;
}

/** Evaluates the original model and keeps its distributions. */
export const LlamaReferenceRequest: RequestType<LlamaReferenceParams, LlamaReferenceResult> = { method: 'llama/reference' };
/** Evaluates a model against the kept reference. */
export const LlamaCompareRequest: RequestType<LlamaCompareParams, LlamaCompareResult> = { method: 'llama/compare' };
