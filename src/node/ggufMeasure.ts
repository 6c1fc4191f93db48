/**
 * Measured sensitivity (GGUF): the KL divergence each layer adds, in each format, when only that layer is lowered
 * and the model is run in llama.cpp on a calibration text (src/node/llamaEval.ts: next-token distributions of the
 * whole vocabulary against the original's, perplexity, top-1 agreement).
 *
 * How a layer is lowered ({@link GgufCandidateRunner}): when every matrix row is a multiple of each format's block,
 * `apply` (applyGguf.ts) writes the model with that layer in the real ggml type and llama.cpp runs it with its own
 * kernels. Otherwise (stories260K's 64-wide rows cannot hold 256-blocks; apply would store llama-quantize's fallback
 * type instead) the layer's tensors are fake-quantized exactly as the static analysis simulates the format (measure.ts
 * `lowerTensorBytes`) and written back over their own bytes in the stored dtype in a temporary copy, which is
 * evaluated and restored (one tensor write per pair). Tensors stored in a ggml block type cannot be simulated in
 * place; such pairs are reported as not measured.
 *
 * Fused groups (gate/up of a block, experts of an MoE layer) are lowered together, as the solver assigns them one
 * format. Sampling: with more pairs than `layerBudget`, a seeded random sample of whole groups is measured in every
 * format; the summary states the sample, and each measured KL carries its standard error over the text's positions.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  LOSSLESS_FORMATS,
  MAX_EVAL_TOKENS,
  sha256Hex,
  defaultCandidateFormats,
  KEEP_FORMAT,
  getNumberFormat,
  groupLayers,
  openModel,
  seededRandom,
  throwIfCancelled,
  type CancellationToken,
  type HarmFunction,
  type LayerFormatSensitivity,
  type Model,
  type SensitivityReport,
  type TensorInfo,
} from '../core';
import { openModelFile } from './fileByteSource';
import { DEFAULT_EVAL_CONTEXT, LLAMA_EVAL_RUNTIME, LlamaEvaluator, loadCalibrationText, type CalibrationText, type LlamaCompareResult, type LlamaReferenceOptions, type LlamaReferenceResult } from './llamaEval';
import { applyPlanToGguf } from './applyGguf';
import { hashFiles, lowerTensorBytes } from './measure';
import { GgufMeasureCache } from './ggufMeasureCache';
import { NodeError } from './errors';
import { analyzeModelSensitivity, resolveFormats } from './sensitivityRunner';

/** Largest GGUF measured or verified. Threat: copying and evaluating a multi-GB model once per pair. */
export const MAX_GGUF_MEASURE_MODEL_BYTES = 4 * 1024 * 1024 * 1024;
/** Default most layer × format pairs evaluated (each one llama.cpp run over the calibration text). */
export const DEFAULT_GGUF_LAYER_BUDGET = 400;

/** A running evaluation: the process, the reference run and the text it used. */
export interface GgufEvalSession {
  readonly evaluator: LlamaEvaluator;
  readonly reference: LlamaReferenceResult;
  readonly text: CalibrationText;
  readonly contextSize: number;
  /** Token cap the reference run was given. */
  readonly maxTokens: number;
  /** One line for reports and plan files: which text, how many tokens and positions. */
  readonly description: string;
}

/** Options of {@link startGgufEvaluation}. */
export interface GgufEvalOptions extends LlamaReferenceOptions {
  /** Calibration text file (`--text`); default: the bundled text. */
  readonly textFile?: string;
}

/** Starts an evaluation process and runs the original model on the calibration text. Dispose `evaluator` when done. */
export async function startGgufEvaluation(modelPath: string, options: GgufEvalOptions = {}): Promise<GgufEvalSession> {
  const text = await loadCalibrationText(options.textFile);
  const evaluator = LlamaEvaluator.start();
  try {
    const { textFile: _textFile, ...refOptions } = options;
    const reference = await evaluator.reference(modelPath, text, refOptions);
    const contextSize = options.contextSize ?? DEFAULT_EVAL_CONTEXT;
    const description = `${text.name} (${text.origin}; ${reference.tokens}${reference.tokens < reference.textTokens ? ` of ${reference.textTokens}` : ''} tokens, ${reference.positions} scored positions, context ${contextSize}; original perplexity ${reference.perplexity.toFixed(3)})`;
    return { evaluator, reference, text, contextSize, maxTokens: Math.min(options.maxTokens ?? MAX_EVAL_TOKENS, MAX_EVAL_TOKENS), description };
  } catch (e) {
    evaluator.dispose();
    throw e;
  }
}

/** Progress of {@link measureGgufSensitivity}. */
export interface GgufMeasureProgress {
  readonly pairsDone: number;
  readonly pairsTotal: number;
  readonly message: string;
}

/** Options of {@link measureGgufSensitivity}. */
export interface GgufMeasureOptions extends GgufEvalOptions {
  readonly formats?: readonly string[];
  /** Most pairs measured (default {@link DEFAULT_GGUF_LAYER_BUDGET}); beyond it, a seeded sample of groups. */
  readonly layerBudget?: number;
  /** Seed of the group sample (default 1). */
  readonly seed?: number;
  /** Static report to extend (else computed here with `formats`). */
  readonly staticReport?: SensitivityReport;
  /** An evaluation already running on this model (else started here and disposed at the end). */
  readonly session?: GgufEvalSession;
  /** How lowered layers are stored (default {@link ggufStorageFor} the formats). */
  readonly storage?: GgufStorage;
  readonly token?: CancellationToken;
  readonly onProgress?: (p: GgufMeasureProgress) => void;
  /** Result cache folder (default: the per-user private folder, ggufMeasureCache.ts); `false`: measure everything. */
  readonly cacheDir?: string | false;
}

/** Static sensitivity plus the measured KL (and perplexity, top-1 agreement) of every layer × format pair measured. */
export async function measureGgufSensitivity(modelPath: string, options: GgufMeasureOptions = {}): Promise<SensitivityReport> {
  const started = performance.now();
  const token = options.token;
  const opened = await openModelFile(modelPath);
  let model: Model;
  try {
    model = await openModel(opened.source, { siblings: opened.siblings });
  } catch (e) {
    await opened.close();
    throw e;
  }
  let session = options.session;
  let runner: GgufCandidateRunner | undefined;
  try {
    if (model.format !== 'gguf') throw new NodeError('not-gguf', `${model.fileName}: llama.cpp measurement needs a GGUF model (this is ${model.format}).`);
    if (model.totalFileBytes > MAX_GGUF_MEASURE_MODEL_BYTES) throw new NodeError('too-large', `${model.fileName}: ${model.totalFileBytes} bytes exceed the measurement limit of ${MAX_GGUF_MEASURE_MODEL_BYTES}.`);
    const formats = resolveFormats(options.formats ?? defaultCandidateFormats(model));
    const staticReport = options.staticReport ?? (await analyzeModelSensitivity({ model, source: opened.source, siblings: opened.siblings }, { formats, ...(token ? { token } : {}) }));
    throwIfCancelled(token);

    // Units: fused groups of quantizable layers (a lone layer is a group of one), in model order.
    const byLayer = new Map(staticReport.layers.map((l) => [l.layer, l]));
    const groups = groupLayers(model).map((g) => g.layers.filter((l) => l.quantizable && byLayer.has(l.name))).filter((g) => g.length > 0);
    const budget = Math.max(0, Math.floor(options.layerBudget ?? DEFAULT_GGUF_LAYER_BUDGET));
    const perGroup = formats.length;
    let chosen = groups;
    const notes: string[] = [];
    if (groups.length * perGroup > budget) {
      const rand = seededRandom(options.seed ?? 1);
      const order = groups.map((g, i) => ({ g, i, r: rand() })).sort((a, b) => a.r - b.r).slice(0, Math.floor(budget / Math.max(1, perGroup)));
      chosen = order.sort((a, b) => a.i - b.i).map((o) => o.g);
      notes.push(`sample: ${chosen.length} of ${groups.length} layer groups (seeded random, seed ${options.seed ?? 1}) measured in all ${perGroup} formats; the others keep their static score only.`);
    }

    // Result cache: model bytes, text, context, token cap, storage and runtime fix what a pair measures.
    const storage = options.storage ?? ggufStorageFor(model, formats);
    const text = session?.text ?? (await loadCalibrationText(options.textFile));
    const cache = await GgufMeasureCache.open(options.cacheDir, {
      modelSha256: await hashFiles([path.resolve(modelPath)]),
      textSha256: sha256Hex(text.text),
      contextSize: session?.contextSize ?? options.contextSize ?? DEFAULT_EVAL_CONTEXT,
      maxTokens: session?.maxTokens ?? Math.min(options.maxTokens ?? MAX_EVAL_TOKENS, MAX_EVAL_TOKENS),
      storage,
      runtime: LLAMA_EVAL_RUNTIME,
    });
    if (cache.unusable) notes.push(`measurement cache not used: ${cache.unusable}.`);
    const tensorsByName = new Map(model.tensors.map((t) => [t.name, t]));
    const results = new Map<string, LlamaCompareResult | string>();
    const total = chosen.length * perGroup;
    let done = 0;
    let fromCache = 0;
    let ran = 0;
    let lastReport = 0;
    let sinceSave = 0;
    try {
      for (const group of chosen) {
        const groupKey = group.map((l) => l.name).join('\n');
        for (const formatId of formats) {
          throwIfCancelled(token);
          const label = group.map((l) => l.name).join(' + ');
          const now = performance.now();
          if (options.onProgress && now - lastReport >= 1000) {
            lastReport = now;
            options.onProgress({ pairsDone: done, pairsTotal: total, message: `measuring ${label} in ${formatId}` });
          }
          done++;
          const lossless = group.every((l) => (byLayer.get(l.name)?.tensors ?? []).every((n) => (LOSSLESS_FORMATS[tensorsByName.get(n)?.dtype ?? ''] ?? []).includes(formatId)));
          let r: LlamaCompareResult | string;
          const hit = lossless ? undefined : cache.get(groupKey, formatId);
          if (lossless) r = 'lossless: the stored dtype already is this format';
          else if (hit) {
            r = hit;
            fromCache++;
          } else {
            session ??= await startGgufEvaluation(modelPath, options);
            runner ??= await GgufCandidateRunner.open(modelPath, model, session, staticReport, formats, storage);
            ran++;
            r = await runner.run(Object.fromEntries(group.map((l) => [l.name, formatId]))).catch((e: Error) => `run failed: ${e.message.split('\n')[0]}`);
            if (typeof r === 'object') {
              cache.set(groupKey, formatId, r, session.description);
              if (++sinceSave >= 20) {
                sinceSave = 0;
                await cache.save().catch(() => undefined);
              }
            }
          }
          for (const l of group) results.set(`${l.name}|${formatId}`, r);
        }
      }
    } finally {
      await cache.save().catch((e: Error) => notes.push(`measurement cache not written: ${e.message}`));
    }
    options.onProgress?.({ pairsDone: done, pairsTotal: total, message: 'done' });
    if (fromCache > 0) notes.push(`${fromCache} of ${total} pairs from the measurement cache (same model bytes, text, context and runtime).`);
    const inputs = session?.description ?? cache.description ?? text.name;
    const usedStorage = runner?.storage ?? storage;

    let measuredCount = 0;
    const skipped: string[] = [];
    const layers = staticReport.layers.map((l) => {
      const fm: Record<string, LayerFormatSensitivity> = Object.create(null) as Record<string, LayerFormatSensitivity>;
      for (const [f, s] of Object.entries(l.formats)) {
        const r = results.get(`${l.layer}|${f}`);
        if (r && typeof r === 'object') {
          fm[f] = { ...s, klDivergence: r.klDivergence, klStdErr: r.klStdErr, top1Agreement: r.top1Agreement, measuredPerplexity: r.perplexity };
          measuredCount++;
        } else {
          fm[f] = s;
          if (typeof r === 'string' && !r.startsWith('lossless')) skipped.push(`${l.layer}/${f}: ${r}`);
        }
      }
      return { ...l, formats: fm };
    });
    if (skipped.length) notes.push(`${skipped.length} pair${skipped.length === 1 ? '' : 's'} not measured: ${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; …' : ''}`);
    notes.push(usedStorage === 'ggml'
      ? 'each pair written in its real ggml type by apply (applyGguf.ts) and run by llama.cpp\'s own kernels.'
      : 'lowering simulated in the stored dtype (fake-quantized F32/F16/BF16 values, as the static analysis models each format): some rows are not a multiple of a format\'s block, where apply would store llama-quantize\'s fallback type instead.');
    return {
      ...staticReport,
      layers,
      elapsedMs: Math.round(performance.now() - started),
      measured: {
        inputs,
        outputs: ['next-token distribution (KL vs the original, nats)'],
        runs: ran,
        layersMeasured: measuredCount,
        cached: fromCache > 0 && ran === 0,
        elapsedMs: Math.round(performance.now() - started),
        notes,
      },
    };
  } finally {
    if (session && !options.session) session.evaluator.dispose();
    await runner?.close();
    await opened.close();
  }
}

/** One tensor's lowered and original bytes at its offset in the file. */
interface Patch {
  readonly offset: number;
  readonly lowered: Uint8Array;
  readonly original: Uint8Array;
}

/** Lowered bytes of every tensor the assignment changes, or why one cannot be written in place. */
export async function lowerAssignment(model: Model, assignment: Readonly<Record<string, string>>, layerTensors: ReadonlyMap<string, readonly string[]>, layerOps: ReadonlyMap<string, string>, tensorsByName: ReadonlyMap<string, TensorInfo>, fh: fs.FileHandle): Promise<Patch[] | string> {
  const patches: Patch[] = [];
  for (const [layer, id] of Object.entries(assignment)) {
    if (id === KEEP_FORMAT) continue;
    const format = getNumberFormat(id);
    if (!format) return `unknown format ${id}`;
    for (const name of layerTensors.get(layer) ?? []) {
      const t = tensorsByName.get(name);
      if (!t || t.file === undefined) return `${name} has no stored bytes`;
      if ((LOSSLESS_FORMATS[t.dtype] ?? []).includes(format.id)) continue;
      if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') return `${name} is stored as ${t.dtype}, which cannot be rewritten in place`;
      const original = new Uint8Array(t.byteLength);
      await fh.read(original, 0, original.length, t.byteOffset);
      const lowered = lowerTensorBytes(model, layerOps.get(layer) ?? '', t, original, format.id);
      if (typeof lowered === 'string') return lowered;
      if (lowered.length !== original.length) return `${name}: lowered bytes do not fit the stored range`;
      patches.push({ offset: t.byteOffset, lowered, original });
    }
  }
  return patches;
}

/**
 * Harm in KL units for the solver: a layer's measured KL where it was measured; elsewhere its static score
 * scaled by the median KL-per-static-score ratio of the measured pairs (the static score is a noise-to-signal
 * ratio, proportional to KL for small noise). Undefined when the report has no measured pair.
 */
export function harmFromMeasuredKl(report: SensitivityReport): HarmFunction | undefined {
  const scale = klPerStaticScore(report);
  if (scale === undefined) return undefined;
  const byLayer = new Map(report.layers.map((l) => [l.layer, l]));
  return (layer, format) => {
    const s = byLayer.get(layer.name)?.formats[format.id];
    if (!s) return undefined;
    return s.klDivergence ?? s.staticScore * scale;
  };
}

/** Scale turning static scores into predicted KL (median KL/static over measured pairs), or undefined. */
export function klPerStaticScore(report: SensitivityReport): number | undefined {
  const ratios: number[] = [];
  for (const l of report.layers)
    for (const s of Object.values(l.formats))
      if (s.klDivergence !== undefined && s.staticScore > 0) ratios.push(s.klDivergence / s.staticScore);
  if (!ratios.length) return undefined;
  ratios.sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)]!;
}

/**
 * How candidates are stored for evaluation. 'ggml': written by `apply` (applyGguf.ts) in the real ggml types, so
 * llama.cpp runs its own kernels on them (quantized dot products included). 'simulated': fake-quantized values
 * written back in the stored dtype ({@link lowerAssignment}), used when some row length is not a multiple of a
 * candidate format's block (e.g. stories260K's 64-wide rows and the 256-blocks of k-quants): the writer would then
 * store llama-quantize's fallback type, a different format than the plan names and the solver sized.
 */
export type GgufStorage = 'ggml' | 'simulated';

/** 'ggml' when every matrix of the model can hold every format in `formats` exactly (see {@link GgufStorage}). */
export function ggufStorageFor(model: Model, formats: readonly string[]): GgufStorage {
  const blocks = formats.map((id) => getNumberFormat(id)?.blockSize ?? 1);
  for (const t of model.tensors) {
    if (t.shape.length < 2 || (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16')) continue;
    const row = t.shape[t.shape.length - 1]!;
    if (blocks.some((b) => row % b !== 0)) return 'simulated';
  }
  return 'ggml';
}

/**
 * Evaluates assignments of one model against a session's reference, stored as {@link GgufStorage} says, in a
 * temporary folder it owns (call `close()`).
 */
export class GgufCandidateRunner {
  private constructor(
    private readonly modelPath: string,
    private readonly model: Model,
    private readonly session: GgufEvalSession,
    readonly storage: GgufStorage,
    private readonly dir: string,
    private readonly simulatedCopy: fs.FileHandle | undefined,
    private readonly layerTensors: ReadonlyMap<string, readonly string[]>,
  ) {}

  /** Opens a runner; `report` gives each layer's tensors (simulation), `formats` decide the storage. */
  static async open(modelPath: string, model: Model, session: GgufEvalSession, report: SensitivityReport, formats: readonly string[], storage: GgufStorage = ggufStorageFor(model, formats)): Promise<GgufCandidateRunner> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'precision-lens-gguf-candidates-'));
    let fh: fs.FileHandle | undefined;
    if (storage === 'simulated') {
      await fs.copyFile(path.resolve(modelPath), path.join(dir, 'simulated.gguf'));
      fh = await fs.open(path.join(dir, 'simulated.gguf'), 'r+');
    }
    return new GgufCandidateRunner(path.resolve(modelPath), model, session, storage, dir, fh, new Map(report.layers.map((l) => [l.layer, l.tensors])));
  }

  /** Applies `assignment` and evaluates it; throws with the reason when it cannot be stored or run. */
  async run(assignment: Readonly<Record<string, string>>): Promise<LlamaCompareResult> {
    if (this.storage === 'ggml') {
      const out = path.join(this.dir, 'candidate.gguf');
      await applyPlanToGguf(this.modelPath, assignment, out);
      try {
        return await this.session.evaluator.compare(out);
      } finally {
        await fs.rm(out, { force: true });
      }
    }
    const fh = this.simulatedCopy!;
    const patches = await lowerAssignment(this.model, assignment, this.layerTensors, new Map(this.model.layers.map((l) => [l.name, l.op])), new Map(this.model.tensors.map((t) => [t.name, t])), fh);
    if (typeof patches === 'string') throw new NodeError('cannot-convert', `${patches}.`);
    try {
      for (const p of patches) await fh.write(p.lowered, 0, p.lowered.length, p.offset);
      await fh.sync();
      return await this.session.evaluator.compare(path.join(this.dir, 'simulated.gguf'));
    } finally {
      for (const p of patches) await fh.write(p.original, 0, p.original.length, p.offset);
      await fh.sync();
    }
  }

  /** Removes the temporary folder. */
  async close(): Promise<void> {
    await this.simulatedCopy?.close();
    await fs.rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
