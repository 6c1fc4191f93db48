/**
 * Runs GGUF language models in llama.cpp (node-llama-cpp 3.21.1, CPU prebuilt) on a calibration text and compares
 * them with the original: perplexity, KL divergence of the next-token distributions (full distributions: the
 * binding returns the whole softmax) and top-1 agreement. Method and process isolation: src/worker/llamaEval.ts.
 *
 * Usage: `const ev = await LlamaEvaluator.start(); await ev.reference(original, text); await ev.compare(applied);
 * ev.dispose()`. One evaluator holds one reference; compare as many candidates against it as needed.
 *
 * Errors are {@link LlamaEvalError} with a code (llamaEvalProtocol.ts); a model that llama.cpp cannot load or that
 * produces NaN/infinite probabilities is named with its tensor types (`F32 ×11, Q4_K ×24`), read by our own GGUF
 * reader, because the type is nearly always the cause (a ggml type the prebuilt llama.cpp lacks, or a quantizer bug).
 */
import type * as NodeChildProcess from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GGML_TYPES, MAX_CALIBRATION_TEXT_BYTES, MAX_EVAL_REFERENCE_BYTES, MAX_EVAL_TOKENS, openModel } from '../core';
import { RpcEndpoint, RpcError } from '../protocol/rpc';
import { openModelFile } from './fileByteSource';
import {
  LlamaCompareRequest,
  LlamaReferenceRequest,
  type LlamaCompareResult,
  type LlamaEvalErrorCode,
  type LlamaReferenceResult,
} from './llamaEvalProtocol';
import { NodeError } from './errors';

export type { LlamaCompareResult, LlamaEvalErrorCode, LlamaReferenceResult } from './llamaEvalProtocol';

/** Default context per chunk (tokens): 128 scores ~700 positions of the bundled text with at least 64 tokens of history each; on stories260K a 256-token context costs 4× the time for the same positions. */
export const DEFAULT_EVAL_CONTEXT = 128;
/** The runtime measurements come from (recorded in plan files, part of the measurement cache's key). */
export const LLAMA_EVAL_RUNTIME = 'llama.cpp (node-llama-cpp 3.21.1, CPU)';
/** Largest evaluation context the CLI and the editor accept (`--context` / `--eval-context`). */
export const MAX_EVAL_CONTEXT = 8192;
/** Default top-k kept per position when the full reference distributions exceed {@link MAX_EVAL_REFERENCE_BYTES}. */
export const DEFAULT_EVAL_TOP_K = 256;
/** Bundled calibration text (see media/calibration/ATTRIBUTION.md). */
export const DEFAULT_CALIBRATION_TEXT = 'tinyTales.txt';

/**
 * Default llama.cpp threads: one fewer than the cores, at most 4, at least 1. llama.cpp's workers spin while they
 * wait; with every core busy (a loaded CI machine, the extension host), 2 threads on 2 cores measured 5–9× slower
 * than 1 on stories260K.
 */
export function defaultEvalThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism() - 1));
}

/** A failed evaluation; `code` says why (see {@link LlamaEvalErrorCode}). */
export class LlamaEvalError extends NodeError {
  constructor(override readonly code: LlamaEvalErrorCode, message: string) {
    super(code, message);
    this.name = 'LlamaEvalError';
  }
}

/** A calibration text and where it came from. */
export interface CalibrationText {
  readonly text: string;
  /** File name shown in reports and recorded in plan files. */
  readonly name: string;
  /** 'bundled' (media/calibration) or 'user' (`--text FILE`). */
  readonly origin: 'bundled' | 'user';
}

/** Path of the bundled calibration text: media/calibration beside dist/ (bundles) or the repository root (sources). */
export function bundledCalibrationPath(dir = __dirname): string {
  for (const up of ['..', path.join('..', '..')]) {
    const p = path.join(dir, up, 'media', 'calibration', DEFAULT_CALIBRATION_TEXT);
    if (existsSync(p)) return p;
  }
  throw new NodeError('missing-file', `The bundled calibration text is missing (looked for media/calibration/${DEFAULT_CALIBRATION_TEXT}).`);
}

/** Reads `--text FILE` (size-bounded, UTF-8), or the bundled text when `file` is undefined. */
export async function loadCalibrationText(file?: string): Promise<CalibrationText> {
  const p = file ?? bundledCalibrationPath();
  const st = await fs.stat(p).catch(() => undefined);
  if (!st?.isFile()) throw new LlamaEvalError('text-too-short', `${path.basename(p)}: the calibration text file does not exist.`);
  if (st.size > MAX_CALIBRATION_TEXT_BYTES) throw new LlamaEvalError('text-too-short', `${path.basename(p)}: the calibration text is ${st.size} bytes, more than the limit of ${MAX_CALIBRATION_TEXT_BYTES}.`);
  const text = await fs.readFile(p, 'utf8');
  if (!text.trim()) throw new LlamaEvalError('text-too-short', `${path.basename(p)}: the calibration text is empty.`);
  return { text, name: path.basename(p), origin: file === undefined ? 'bundled' : 'user' };
}

/** Tensor types of a GGUF file as `F32 ×11, Q4_K ×24` (most common first), for error messages. */
export async function ggufTensorTypes(modelPath: string): Promise<string> {
  try {
    const opened = await openModelFile(modelPath);
    try {
      const model = await openModel(opened.source, { siblings: opened.siblings });
      const names = new Map(GGML_TYPES.map((g) => [g.dtype, g.name]));
      const counts = new Map<string, number>();
      for (const t of model.tensors) {
        const name = names.get(t.dtype) ?? t.dtype;
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      return [...counts].sort((a, b) => b[1] - a[1]).map(([d, n]) => `${d} ×${n}`).join(', ');
    } finally {
      await opened.close();
    }
  } catch (e) {
    return `unreadable (${(e as Error).message.split('\n')[0]})`;
  }
}

/** The process script for this build: the bundle beside this file, else the TypeScript source through tsx. */
export function defaultLlamaEvalEntry(dir = __dirname): { readonly file: string; readonly execArgv: readonly string[] } {
  const bundled = path.join(dir, 'llamaEval.js');
  if (existsSync(bundled)) return { file: bundled, execArgv: [] };
  const source = path.join(dir, '..', 'worker', 'llamaEval.ts');
  if (existsSync(source)) return { file: source, execArgv: ['--import', 'tsx'] };
  throw new NodeError('missing-file', `The Precision Lens evaluation script is missing (looked for ${bundled}).`);
}

/** Options of {@link LlamaEvaluator.reference}. */
export interface LlamaReferenceOptions {
  /** Context per chunk (default {@link DEFAULT_EVAL_CONTEXT}). */
  readonly contextSize?: number;
  /** CPU threads (default {@link defaultEvalThreads}). */
  readonly threads?: number;
  /** Most tokens used (default and cap {@link MAX_EVAL_TOKENS}). */
  readonly maxTokens?: number;
  /** Reference memory bound (default {@link MAX_EVAL_REFERENCE_BYTES}). */
  readonly maxReferenceBytes?: number;
  readonly topK?: number;
}

/** A long-lived llama.cpp evaluation process holding one reference model's distributions. */
export class LlamaEvaluator {
  private stderr = '';
  private exited: LlamaEvalError | undefined;
  private referencePath: string | undefined;

  private constructor(private readonly child: ChildProcess, private readonly endpoint: RpcEndpoint) {}

  /** Starts the evaluation process. */
  static start(entry = defaultLlamaEvalEntry()): LlamaEvaluator {
    // node:child_process (with net and dgram) is loaded on first use: the CLI bundles every command, and `inspect` forks nothing.
    const child = (require('node:child_process') as typeof NodeChildProcess).fork(entry.file, [], { execArgv: [...entry.execArgv], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const endpoint = new RpcEndpoint((msg) => child.connected && child.send(msg));
    const ev = new LlamaEvaluator(child, endpoint);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (ev.stderr = (ev.stderr + d).slice(-4096)));
    child.on('message', (m) => endpoint.handleMessage(m));
    child.on('exit', (code, signal) => {
      const tail = ev.stderr.trim().split('\n').slice(-3).join(' ').slice(-400);
      ev.exited = new LlamaEvalError('process-exit', `The llama.cpp evaluation process stopped (${signal ? `signal ${signal}` : `exit code ${code}`})${tail ? `: ${tail}` : ''}.`);
      endpoint.dispose();
    });
    return ev;
  }

  /** Process id (tests check that it ends). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Evaluates the original model on `text` and keeps its distributions for {@link compare}. */
  async reference(modelPath: string, text: CalibrationText | string, options: LlamaReferenceOptions = {}): Promise<LlamaReferenceResult> {
    const t = typeof text === 'string' ? text : text.text;
    const r = await this.call(modelPath, () =>
      this.endpoint.sendRequest(LlamaReferenceRequest, {
        modelPath: path.resolve(modelPath),
        text: t,
        contextSize: options.contextSize ?? DEFAULT_EVAL_CONTEXT,
        threads: options.threads ?? defaultEvalThreads(),
        maxTokens: Math.min(options.maxTokens ?? MAX_EVAL_TOKENS, MAX_EVAL_TOKENS),
        maxReferenceBytes: options.maxReferenceBytes ?? MAX_EVAL_REFERENCE_BYTES,
        topK: options.topK ?? DEFAULT_EVAL_TOP_K,
      }),
    );
    this.referencePath = path.resolve(modelPath);
    return r;
  }

  /** Evaluates `modelPath` on the reference's tokens; throws 'non-finite' when any probability is NaN or infinite. */
  async compare(modelPath: string): Promise<LlamaCompareResult> {
    const r = await this.call(modelPath, () => this.endpoint.sendRequest(LlamaCompareRequest, { modelPath: path.resolve(modelPath) }));
    if (r.nonFinitePositions > 0) {
      throw new LlamaEvalError('non-finite', `${path.basename(modelPath)}: llama.cpp produced NaN or infinite probabilities at ${r.nonFinitePositions} of ${r.nonFinitePositions + r.positions} positions; tensor types: ${await ggufTensorTypes(modelPath)}.`);
    }
    return r;
  }

  /** Peak resident memory of the evaluation process (Linux /proc VmHWM), bytes; undefined elsewhere or after exit. */
  async peakRssBytes(): Promise<number | undefined> {
    if (this.child.pid === undefined || this.exited) return undefined;
    const status = await fs.readFile(`/proc/${this.child.pid}/status`, 'utf8').catch(() => '');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  }

  /** The model whose distributions are kept. */
  get referenceModel(): string | undefined {
    return this.referencePath;
  }

  /** Ends the process; pending calls reject. Idempotent. */
  dispose(): void {
    this.endpoint.dispose();
    if (this.child.connected) this.child.disconnect();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }

  /** Set once the process has exited (read after an await, where TypeScript's narrowing does not hold). */
  private exitError(): LlamaEvalError | undefined {
    return this.exited;
  }

  private async call<R>(modelPath: string, request: () => Promise<R>): Promise<R> {
    if (this.exited) throw this.exited;
    try {
      return await request();
    } catch (e) {
      const exited = this.exitError();
      if (exited) throw new LlamaEvalError('process-exit', `${path.basename(modelPath)}: ${exited.message} Tensor types: ${await ggufTensorTypes(modelPath)}.`);
      if (e instanceof RpcError) {
        const code = e.code as LlamaEvalErrorCode;
        const withTypes = code === 'load-failed' || code === 'non-finite' ? ` Tensor types: ${await ggufTensorTypes(modelPath)}.` : '';
        throw new LlamaEvalError(code, `${path.basename(modelPath)}: ${e.message}${withTypes}`);
      }
      throw e;
    }
  }
}
