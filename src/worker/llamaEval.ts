/**
 * Evaluation-process entry (bundled to dist/llamaEval.js by esbuild.mjs; forked by src/node/llamaEval.ts): runs GGUF
 * models in llama.cpp through node-llama-cpp (CPU prebuilt, never built from source) on a calibration text.
 *
 * Why a child process: llama.cpp aborts the whole process on some malformed or unsupported files (GGML_ASSERT), and
 * a model's weights and contexts live in native memory; a child isolates both from the CLI or extension host, and
 * everything is returned when it exits. The reference distributions stay here between requests so that only a
 * handful of numbers per candidate cross the channel. Wire contract: src/node/llamaEvalProtocol.ts.
 *
 * Method (llama.cpp tools/perplexity, `--kl-divergence`): the tokens are cut into chunks of `contextSize − 1`,
 * each evaluated from an empty context after BOS; only the second half of each chunk is scored (every position
 * there has at least half a context of history), each scored position's full next-token distribution is read
 * with `controlledEvaluate(..., { generateNext: { probabilities: true } })` (a softmax over the whole vocabulary
 * with no sampler options applied). The process exits when its parent's IPC channel closes.
 */
import type { Llama, LlamaModel, Token } from 'node-llama-cpp';
import { NextTokenAccumulator, argmax, topKDistribution, type ReferenceDistribution } from '../core';
import { RpcEndpoint, RpcError, type WireMessage } from '../protocol/rpc';
import {
  LlamaCompareRequest,
  LlamaReferenceRequest,
  type LlamaCompareParams,
  type LlamaCompareResult,
  type LlamaReferenceParams,
  type LlamaReferenceResult,
} from '../node/llamaEvalProtocol';
import { NodeError } from '../node/errors';

function send(message: WireMessage): void {
  if (!process.send || !process.connected) throw new NodeError('worker-failed', 'The evaluation process has no parent channel.');
  process.send(message);
}

const endpoint = new RpcEndpoint(send, { onInvalid: (reason) => process.stderr.write(`llamaEval: ${reason}\n`) });

let llamaPromise: Promise<Llama> | undefined;

/** The llama.cpp binding, loaded once (CPU only, prebuilt binaries only, errors logged to stderr only). */
function binding(): Promise<Llama> {
  llamaPromise ??= (async () => {
    try {
      const mod = await import('node-llama-cpp');
      return await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error, logger: (_level, message) => process.stderr.write(message) });
    } catch (e) {
      llamaPromise = undefined;
      throw new RpcError('binding-unavailable', `node-llama-cpp cannot start llama.cpp: ${firstLine(e)}.`);
    }
  })();
  return llamaPromise;
}

interface Reference {
  readonly params: LlamaReferenceParams;
  readonly tokens: readonly Token[];
  readonly bos: Token | undefined;
  readonly vocabularySize: number;
  /** Per scored position: the reference distribution, its argmax, the probability of the actual next token. */
  readonly positions: { readonly dist: ReferenceDistribution; readonly top1: number; readonly actualProb: number; readonly next: number }[];
}

let reference: Reference | undefined;

/** One scored position of a chunk: its next-token distribution and the actual next token. */
interface ScoredPosition {
  readonly probs: Float32Array;
  readonly next: number;
}

/** Chunk boundaries over `n` tokens (each chunk holds at most `contextSize − 1` text tokens after BOS). */
function chunksOf(n: number, contextSize: number): { start: number; end: number }[] {
  const size = Math.max(2, contextSize - 1);
  const out: { start: number; end: number }[] = [];
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    if (end - start >= 2) out.push({ start, end });
  }
  return out;
}

async function loadModel(llama: Llama, modelPath: string): Promise<LlamaModel> {
  try {
    return await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: true });
  } catch (e) {
    throw new RpcError('load-failed', `llama.cpp cannot load the model: ${firstLine(e)}.`);
  }
}

/**
 * Evaluates `tokens` chunk by chunk and calls `onPosition` for every scored position (second half of each chunk,
 * llama-perplexity's `first = n_ctx / 2`).
 */
async function evaluate(model: LlamaModel, tokens: readonly Token[], bos: Token | undefined, params: Pick<LlamaReferenceParams, 'contextSize' | 'threads'>, onPosition: (p: ScoredPosition) => void): Promise<void> {
  const vocab = vocabularySize(model);
  const context = await model.createContext({ contextSize: params.contextSize, threads: params.threads, batchSize: params.contextSize });
  try {
    const sequence = context.getSequence();
    for (const { start, end } of chunksOf(tokens.length, params.contextSize)) {
      await sequence.clearHistory();
      const chunk = [...(bos !== undefined ? [bos] : []), ...tokens.slice(start, end)];
      const first = Math.floor(chunk.length / 2);
      const input = chunk.map((t, i) => (i >= first && i < chunk.length - 1 ? ([t, { generateNext: { probabilities: true } }] as [Token, { generateNext: { probabilities: true } }]) : t));
      const results = await sequence.controlledEvaluate(input);
      for (let i = first; i < chunk.length - 1; i++) {
        const map = results[i]?.next.probabilities;
        const probs = new Float32Array(vocab);
        if (!map) probs.fill(NaN);
        else for (const [token, p] of map) if (token >= 0 && token < vocab) probs[token] = p;
        onPosition({ probs, next: chunk[i + 1]! });
      }
    }
  } finally {
    await context.dispose();
  }
}

/** Vocabulary size from the model's `tokenizer.ggml.tokens` array (llama.cpp's n_vocab); 0 when absent. */
function vocabularySize(model: LlamaModel): number {
  const n = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length;
  return typeof n === 'number' && n > 0 ? n : 0;
}

async function runReference(p: LlamaReferenceParams): Promise<LlamaReferenceResult> {
  const llama = await binding();
  reference = undefined;
  const t0 = performance.now();
  const model = await loadModel(llama, p.modelPath);
  const loadMs = performance.now() - t0;
  try {
    const all = model.tokenize(p.text);
    const tokens = all.slice(0, p.maxTokens);
    const bos = model.tokens.bos ?? undefined;
    const vocab = vocabularySize(model);
    if (!vocab) throw new RpcError('load-failed', 'the model has no tokenizer.ggml.tokens vocabulary.');
    const chunks = chunksOf(tokens.length, p.contextSize);
    const scored = chunks.reduce((a, c) => a + (c.end - c.start + (bos !== undefined ? 1 : 0)) - 1 - Math.floor((c.end - c.start + (bos !== undefined ? 1 : 0)) / 2), 0);
    if (scored < 8) throw new RpcError('text-too-short', `the calibration text gives ${tokens.length} tokens, too few to score (at least 16 are needed).`);
    const full = scored * vocab * 4 <= p.maxReferenceBytes;
    const positions: Reference['positions'][number][] = [];
    let logP = 0;
    let nonFinite = 0;
    const t1 = performance.now();
    await evaluate(model, tokens, bos, p, ({ probs, next }) => {
      let finite = true;
      for (const v of probs) if (!Number.isFinite(v)) finite = false;
      if (!finite) nonFinite++;
      positions.push({ dist: full ? { kind: 'full', probs } : topKDistribution(probs, p.topK), top1: argmax(probs), actualProb: probs[next] ?? 0, next });
      logP += Math.log(Math.max(probs[next] ?? 0, 1e-38));
    });
    if (nonFinite) throw new RpcError('non-finite', `the reference model produced non-finite probabilities at ${nonFinite} of ${positions.length} positions.`);
    reference = { params: p, tokens, bos, vocabularySize: vocab, positions };
    return {
      tokens: tokens.length,
      textTokens: all.length,
      vocabularySize: vocab,
      chunks: chunks.length,
      positions: positions.length,
      perplexity: Math.exp(-logP / positions.length),
      stored: full ? 'full' : 'topk',
      loadMs: Math.round(loadMs),
      evalMs: Math.round(performance.now() - t1),
    };
  } finally {
    await model.dispose();
  }
}

async function runCompare(p: LlamaCompareParams): Promise<LlamaCompareResult> {
  const ref = reference;
  if (!ref) throw new RpcError('no-reference', 'no reference model has been evaluated yet.');
  const llama = await binding();
  const t0 = performance.now();
  const model = await loadModel(llama, p.modelPath);
  const loadMs = performance.now() - t0;
  try {
    const vocab = vocabularySize(model);
    if (vocab !== ref.vocabularySize) throw new RpcError('vocab-mismatch', `the model has ${vocab} tokens in its vocabulary, the reference ${ref.vocabularySize}.`);
    const acc = new NextTokenAccumulator();
    let i = 0;
    const t1 = performance.now();
    await evaluate(model, ref.tokens, ref.bos, ref.params, ({ probs }) => {
      const r = ref.positions[i++];
      if (r) acc.add(r.dist, r.top1, r.actualProb, probs, r.next);
    });
    return { ...acc.result(), loadMs: Math.round(loadMs), evalMs: Math.round(performance.now() - t1) };
  } finally {
    await model.dispose();
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/\.$/, '').slice(0, 300);
}

endpoint.onRequest(LlamaReferenceRequest, runReference);
endpoint.onRequest(LlamaCompareRequest, runCompare);
process.on('message', (m) => endpoint.handleMessage(m));
process.on('disconnect', () => process.exit(0));
