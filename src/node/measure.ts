/**
 * Measured sensitivity (ONNX): run the model with onnxruntime-node in its stored precision, then once per
 * layer × format with only that layer's weights fake-quantized, and compare the outputs.
 *
 * How a layer is lowered: its quantized tensors (those listed in the static report: the main weight and other
 * rank ≥ 2 weights; biases stay) are decoded from their byte ranges, fake-quantized exactly as in the static
 * analysis (same layout and quantizer), converted back to the stored dtype (float32/16, bf16, or the stored
 * integer grid with the tensor's own scales) and written over the same bytes of a copy of the file — protobuf is
 * never re-encoded, because the byte length does not change. Weights in external data files are patched in a
 * copy of the model folder under a temporary directory. Tensors stored as ONNX typed varints, or in dtypes that
 * cannot be written back (packed int4, ggml), are not lowered and the pair is reported as skipped.
 *
 * Metrics on the model's first numeric output (logits for language models; all numeric outputs, weighted equally,
 * when the first has < 16 values, e.g. a VAD probability plus its state), over all calibration samples: output
 * SQNR, cosine similarity, and for outputs whose last axis has ≥ 2 entries the mean KL divergence of the softmax
 * over that axis and the top-1 agreement. Layers whose lowering leaves every output bit-identical (not exercised
 * by the inputs, e.g. an If branch not taken) are reported in `measured.notes` and their finer formats not run.
 *
 * Cost: one session creation + `samples` runs per layer × format pair (the corpus: mnist-12 8 layers × 5 formats
 * ≈ 1.5 s; tiny GPT-2 ≈ 27 layers × 5 formats ≈ 10 s on one core). Pairs beyond `layerBudget` are not run.
 * Results are cached in `cacheDir` (default $XDG_CACHE_HOME/precision-lens or os.tmpdir()/precision-lens-cache,
 * never beside the model) keyed by the SHA-256 of the model's files, so reruns are instant.
 */
import type * as NodeCrypto from 'node:crypto';
import { onnxTypes } from './onnxProto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  own, setOwn, LOSSLESS_FORMATS,
  compareOutputs,
  decodeTensor,
  encodeElements,
  fakeQuantize,
  getNumberFormat,
  openModel,
  quantizationLayout,
  relMseToDb,
  storedMatrixShape,
  isJsonObject,
  throwIfCancelled,
  transpose2d,
  type CancellationToken,
  type LayerFormatSensitivity,
  type LayerSensitivity,
  type Model,
  type SensitivityReport,
  type TensorInfo,
} from '../core';
import { generateCalibrationInputs, loadCalibrationInputs, CALIBRATION_VARIANTS, type CalibrationSet } from './calibration';
import { openModelFile, openRegularFile, readRegularFile } from './fileByteSource';
import { defaultCacheDir, preparePrivateDir, readCacheEntry, writeCacheEntry } from './userCache';
import { createSession, releaseSession, runSamples, type RunOutputs } from './ortRunner';
import { analyzeModelSensitivity, resolveFormats } from './sensitivityRunner';
import { NodeError, RuntimeError } from './errors';

/** Largest model (all files) measured in memory. Threat: copying multi-GB files once per layer × format. */
export const MAX_MEASURE_MODEL_BYTES = 2 * 1024 * 1024 * 1024;
/** Default number of layer × format pairs measured. */
export const DEFAULT_LAYER_BUDGET = 1000;
/** Default calibration samples (runs per pair). */
export const DEFAULT_SAMPLES = 4;
const CACHE_VERSION = 3;

/** Measured metrics of one pair. */
export interface MeasuredMetrics {
  readonly measuredOutputSqnrDb: number;
  readonly cosine: number;
  readonly klDivergence?: number;
  readonly top1Agreement?: number;
}

/** Progress of a measurement. */
export interface MeasureProgress {
  readonly pairsDone: number;
  readonly pairsTotal: number;
  readonly message: string;
}

/** Options of {@link measureSensitivity}. */
export interface MeasureOptions {
  readonly formats?: readonly string[];
  /** Calibration inputs file (.npy, .npz, .pb, .json); default: generated. */
  readonly inputsFile?: string;
  /** Most layer × format pairs to run (default {@link DEFAULT_LAYER_BUDGET}). */
  readonly layerBudget?: number;
  /** Generated samples (default {@link DEFAULT_SAMPLES}). */
  readonly samples?: number;
  readonly token?: CancellationToken;
  readonly onProgress?: (p: MeasureProgress) => void;
  /** Cache folder (default: see module comment); `false` disables the cache. */
  readonly cacheDir?: string | false;
  /** Static report to extend (else computed here). */
  readonly staticReport?: SensitivityReport;
  /** Worker threads for the static part. */
  readonly workers?: number;
}

/** Default cache folder (per user, private; see userCache.ts). */
export { defaultCacheDir } from './userCache';

interface CacheFile {
  version: number;
  /** SHA-256 of the model files the entries were measured on (checked on read, not only by the file name). */
  modelHash: string;
  /** key `${inputsKey}|${layer}|${format}` → metrics, or a string = skip reason. */
  entries: Record<string, MeasuredMetrics | string>;
  /** inputsKey → calibration variant that ran. */
  variants: Record<string, number>;
  /** inputsKey → output compared. */
  outputs: Record<string, string>;
}

/** A cache file read back is used only if it has this version, names this model's hash and has the expected shape. */
function validCache(c: unknown, modelHash: string): c is CacheFile {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return false;
  const f = c as Partial<CacheFile>;
  if (f.version !== CACHE_VERSION || f.modelHash !== modelHash || !isJsonObject(f.entries) || !isJsonObject(f.variants) || !isJsonObject(f.outputs)) return false;
  return Object.values(f.entries!).every((e) => typeof e === 'string' || (isJsonObject(e) && Object.values(e as object).every((x) => typeof x === 'number' || x === null)));
}

/** Applies `format` to one tensor's stored bytes; returns the new bytes or a reason it cannot. */
export function lowerTensorBytes(model: Model, layerOp: string, tensor: TensorInfo, original: Uint8Array, formatId: string): Uint8Array | string {
  const format = getNumberFormat(formatId);
  if (!format) return `unknown format ${formatId}`;
  let values: Float32Array;
  try {
    values = decodeTensor(tensor, original);
  } catch (e) {
    return (e as Error).message;
  }
  const { transpose } = quantizationLayout({ op: layerOp }, model, tensor.name, tensor.shape.length);
  const [rows, cols] = storedMatrixShape(tensor.shape, transpose) as [number, number];
  const input = transpose ? transpose2d(values, rows, cols) : values;
  let q = fakeQuantize(input, transpose ? [cols, rows] : tensor.shape, format);
  if (transpose) q = transpose2d(q, cols, rows);
  const bytes = encodeElements(tensor.dtype, q, tensor.quant, tensor.shape);
  if (!bytes) return `${tensor.name}: stored dtype ${tensor.dtype} cannot be written back`;
  return bytes;
}

/** SHA-256 over the bytes of `files` in order (regular files only). */
export async function hashFiles(files: readonly string[]): Promise<string> {
  const h = (require('node:crypto') as typeof NodeCrypto).createHash('sha256'); // loaded on first use (see safeOutput.ts)
  for (const f of files) {
    const { handle: fh } = await openRegularFile(f);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (!bytesRead) break;
        h.update(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }
  return h.digest('hex');
}

function metricsOf(c: ReturnType<typeof compareOutputs>): MeasuredMetrics {
  return {
    measuredOutputSqnrDb: c.sqnrDb,
    cosine: c.cosine,
    ...(c.klDivergence !== undefined ? { klDivergence: c.klDivergence } : {}),
    ...(c.top1Agreement !== undefined ? { top1Agreement: c.top1Agreement } : {}),
  };
}

const PERFECT: MeasuredMetrics = { measuredOutputSqnrDb: 300, cosine: 1 };
/** Outputs bit-identical to the baseline although the weights changed: the layer is not exercised by the inputs. */
const NO_EFFECT: MeasuredMetrics & { noEffect: true } = { ...PERFECT, noEffect: true };

interface Patch {
  readonly tensor: TensorInfo;
  readonly bytes: Uint8Array;
}

/** True when every numeric output is constant over all samples (or non-finite): the inputs exercise nothing. */
function isDegenerate(outs: readonly RunOutputs[]): boolean {
  let first: number | undefined;
  for (const o of outs) {
    for (const t of Object.values(o)) {
      for (const v of t.data) {
        if (!Number.isFinite(v)) return true;
        if (first === undefined) first = v;
        else if (v !== first) return false;
      }
    }
  }
  return true;
}

/** Outputs compared: the first numeric output; all numeric outputs when the first has < 16 values per run. */
export function comparedOutputs(baseline: readonly RunOutputs[]): string[] {
  const names = Object.keys(baseline[0] ?? {});
  const first = names[0];
  if (!first) return [];
  return baseline[0]![first]!.data.length >= 16 ? [first] : names;
}

/**
 * Metrics of `outs` against `baseline`. With one compared output: that output's metrics. With several, each
 * output counts equally (a tiny probability output is not drowned by a large state): SQNR = −10·log10 of the
 * mean per-output noise-to-signal ratio, cosine = mean per-output cosine; KL and top-1 come from the first.
 */
function compareSets(baseline: readonly RunOutputs[], outs: readonly RunOutputs[], names: readonly string[]): { metrics: MeasuredMetrics; identical: boolean } {
  const empty = { dims: [0], data: new Float32Array(0) };
  let identical = true;
  const per = names.map((n) => {
    const b = baseline.map((o) => o[n] ?? empty), q = outs.map((o) => o[n] ?? empty);
    for (let i = 0; i < b.length && identical; i++) {
      const x = b[i]!.data, y = q[i]!.data;
      identical = x.length === y.length && buffersEqual(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
    }
    return compareOutputs(b, q);
  });
  const first = per[0]!;
  const nsr = per.reduce((a, c) => a + 10 ** (-c.sqnrDb / 10), 0) / per.length;
  const combined = per.length === 1 ? first : { ...first, sqnrDb: relMseToDb(nsr), cosine: per.reduce((a, c) => a + c.cosine, 0) / per.length };
  return { identical, metrics: metricsOf(combined) };
}

/** Rewrites typed-data tensors (initializers or Constant values, any graph) as raw_data via protobufjs. */
function patchModelProto(modelBytes: Uint8Array, patches: readonly Patch[]): Uint8Array {
  // Generated descriptor (IR 13; snake_case fields): decoding with an older schema would drop newer fields on re-encode.
  const { Model } = onnxTypes();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Msg = any;
  const m: Msg = Model.decode(modelBytes);
  const byName = new Map(patches.map((p) => [p.tensor.name, p.bytes]));
  const setRaw = (t: Msg, bytes: Uint8Array): void => {
    t.raw_data = bytes;
    t.float_data = [];
    t.int32_data = [];
    t.int64_data = [];
    t.double_data = [];
    t.uint64_data = [];
  };
  const visit = (g: Msg, depth: number): void => {
    if (!g || depth > 64) return;
    for (const t of g.initializer ?? []) if (t.name && byName.has(t.name)) setRaw(t, byName.get(t.name)!);
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        if (a.t && n.op_type === 'Constant' && (byName.has(a.t.name ?? '') || byName.has(n.output?.[0] ?? ''))) setRaw(a.t, byName.get(a.t.name ?? '') ?? byName.get(n.output![0]!)!);
        visit(a.g, depth + 1);
        for (const sg of a.graphs ?? []) visit(sg, depth + 1);
      }
    }
  };
  visit(m.graph, 0);
  return Model.encode(m).finish();
}

/**
 * Static sensitivity plus measured output degradation for an ONNX model. Throws for non-ONNX models and when
 * onnxruntime cannot run the model with any calibration inputs tried (the error says why).
 */
export async function measureSensitivity(modelPath: string, options: MeasureOptions = {}): Promise<SensitivityReport> {
  const started = performance.now();
  const token = options.token;
  const formats = resolveFormats(options.formats);
  const opened = await openModelFile(modelPath);
  let model: Model;
  try {
    model = await openModel(opened.source, { siblings: opened.siblings, ...(token ? { token } : {}) });
  } catch (e) {
    await opened.close();
    throw e;
  }
  try {
    if (model.format !== 'onnx') throw new NodeError('not-onnx', `${model.fileName}: measured sensitivity needs an ONNX model (this is ${model.format}).`);
    if (model.totalFileBytes > MAX_MEASURE_MODEL_BYTES) throw new NodeError('too-large', `${model.fileName}: ${model.totalFileBytes} bytes exceed the measurement limit of ${MAX_MEASURE_MODEL_BYTES}.`);
    const staticReport = options.staticReport ?? (await analyzeModelSensitivity({ model, source: opened.source, siblings: opened.siblings }, { formats, ...(options.workers !== undefined ? { workers: options.workers } : {}), ...(token ? { token } : {}) }));
    throwIfCancelled(token);
    const files = new ModelFiles(modelPath, model);
    const modelHash = await files.hash();
    const samples = options.samples ?? DEFAULT_SAMPLES;
    const inputsKey = options.inputsFile ? `file:${await hashFiles([options.inputsFile])}` : `gen:n${samples}:s1`;
    const store = await MeasureCache.open(options.cacheDir, modelHash);
    const key = (layer: string, format: string): string => `${inputsKey}|${layer}|${format}`;
    // Pairs to measure, in static order, within budget.
    const budget = options.layerBudget ?? DEFAULT_LAYER_BUDGET;
    const pairs: MeasurePair[] = [];
    for (const l of staticReport.layers) for (const f of formats) pairs.push({ layer: l, format: f });
    const selected = pairs.slice(0, Math.max(0, budget));
    const todo = selected.filter((p) => own(store.cache.entries, key(p.layer.layer, p.format)) === undefined);
    const notes: string[] = [...store.notes];
    await files.readMain();
    let run: MeasuredRun = { runs: 0, calibration: undefined, compared: [] };
    try {
      if (todo.length) run = await baselineRun(model, files, options, samples, inputsKey, store.cache, notes);
      run = { ...run, runs: run.runs + (await measurePairs(model, files, todo, run, key, store, options)) };
    } catch (e) {
      await store.save().catch(() => undefined);
      throw e;
    } finally {
      await files.removeTemp();
    }
    await store.save().catch((e: Error) => notes.push(`cache not written: ${e.message}`));
    if (pairs.length > selected.length) notes.push(`layer budget ${budget}: ${pairs.length - selected.length} of ${pairs.length} layer × format pairs not measured.`);
    return measuredReport(staticReport, store.cache, key, notes, { run, inputsKey, samples, cached: todo.length === 0, started, inputsFile: options.inputsFile });
  } finally {
    await opened.close();
  }
}

/** One layer × format pair to measure. */
interface MeasurePair {
  readonly layer: LayerSensitivity;
  readonly format: string;
}

/** The reference outputs and what was compared (empty when everything came from the cache). */
interface MeasuredRun {
  readonly runs: number;
  readonly calibration: CalibrationSet | undefined;
  readonly baseline?: RunOutputs[];
  readonly compared: string[];
}

/** The measurement cache: a private per-user folder (userCache.ts); an entry is used only if it is ours and names this model. */
class MeasureCache {
  private constructor(readonly cache: CacheFile, readonly notes: readonly string[], private readonly dir: string | undefined, private readonly name: string) {}

  static async open(cacheDirOption: string | false | undefined, modelHash: string): Promise<MeasureCache> {
    const notes: string[] = [];
    let cacheDir = cacheDirOption === false ? undefined : (cacheDirOption ?? defaultCacheDir());
    if (cacheDir) {
      const unusable = await preparePrivateDir(cacheDir);
      if (unusable) {
        notes.push(`Measurement cache not used: ${unusable}.`);
        cacheDir = undefined;
      }
    }
    const cacheName = `measure-v${CACHE_VERSION}-${modelHash.slice(0, 40)}.json`;
    let cache: CacheFile = { version: CACHE_VERSION, modelHash, entries: {}, variants: {}, outputs: {} };
    const text = cacheDir ? await readCacheEntry(cacheDir, cacheName) : undefined;
    if (text !== undefined) {
      try {
        const c = JSON.parse(text) as CacheFile;
        if (validCache(c, modelHash)) cache = c;
      } catch {
        /* unreadable: measured again */
      }
    }
    return new MeasureCache(cache, notes, cacheDir, cacheName);
  }

  async save(): Promise<void> {
    if (this.dir) await writeCacheEntry(this.dir, this.name, JSON.stringify(this.cache));
  }
}

/** The model's files as bytes: the main file, external data read on demand, patched copies for onnxruntime. */
class ModelFiles {
  readonly folder: string;
  readonly mainName: string;
  /** External data files (relative to the folder). */
  readonly otherFiles: string[];
  private main: Uint8Array | undefined;
  private readonly external = new Map<string, Uint8Array>();
  private tempDir: string | undefined;
  private readonly tensorsByName: Map<string, TensorInfo>;
  private readonly layerOps: Map<string, string>;

  constructor(private readonly modelPath: string, private readonly model: Model) {
    this.folder = path.dirname(path.resolve(modelPath));
    this.mainName = path.basename(modelPath);
    this.otherFiles = model.files.map((f) => f.path).filter((p) => p !== this.mainName && p !== model.fileName);
    this.tensorsByName = new Map(model.tensors.map((t) => [t.name, t]));
    this.layerOps = new Map(model.layers.map((l) => [l.name, l.op]));
  }

  hash(): Promise<string> {
    return hashFiles([path.resolve(this.modelPath), ...this.otherFiles.map((f) => path.join(this.folder, f))]);
  }

  async readMain(): Promise<void> {
    this.main = await readRegularFile(path.resolve(this.modelPath), Number.MAX_SAFE_INTEGER);
  }

  get mainBytes(): Uint8Array {
    return this.main!;
  }

  /** A session of the original model (from memory unless external data needs the folder). */
  baseSession(): Promise<Awaited<ReturnType<typeof createSession>>> {
    return createSession(this.otherFiles.length ? path.resolve(this.modelPath) : this.mainBytes);
  }

  /** Lowers every quantized tensor of a layer; returns the patches, or why it cannot. */
  async lowerLayer(layer: LayerSensitivity, formatId: string): Promise<{ patches: Patch[]; changed: boolean } | string> {
    const op = this.layerOps.get(layer.layer) ?? '';
    const patches: Patch[] = [];
    let changed = false;
    for (const name of layer.tensors) {
      const t = this.tensorsByName.get(name);
      if (!t || t.file === undefined) return `${name} has no stored bytes`;
      if ((LOSSLESS_FORMATS[t.dtype] ?? []).includes(formatId)) continue;
      const fileBytes = t.file === '' ? this.mainBytes : await externalBytes(this.folder, t.file, this.external);
      const orig = fileBytes.subarray(t.byteOffset, t.byteOffset + t.byteLength);
      const lowered = lowerTensorBytes(this.model, op, t, orig, formatId);
      if (typeof lowered === 'string') return lowered;
      const raw = t.encoding === 'raw';
      if (raw && lowered.length !== orig.length) return `${name}: lowered bytes do not fit the stored range`;
      if (!raw || !buffersEqual(lowered, orig)) changed = true;
      patches.push({ tensor: t, bytes: lowered });
    }
    return { patches, changed };
  }

  /** A session of the model with `patches` applied (in memory, or a patched copy of the folder's files). */
  async patchedSession(patches: readonly Patch[]): Promise<Awaited<ReturnType<typeof createSession>>> {
    const byFile = new Map<string, Patch[]>();
    for (const p of patches) {
      const f = p.tensor.file!;
      byFile.set(f, [...(byFile.get(f) ?? []), p]);
    }
    const patchCopy = (src: Uint8Array, list: readonly Patch[]): Uint8Array => {
      const typed = list.filter((p) => p.tensor.encoding !== 'raw');
      // Typed (varint) data changes length when rewritten: re-encode the model with protobufjs instead.
      const copy = typed.length ? patchModelProto(src, typed) : new Uint8Array(src);
      for (const p of list) if (p.tensor.encoding === 'raw') copy.set(p.bytes, p.tensor.byteOffset);
      return copy;
    };
    if (!this.otherFiles.length) return createSession(patchCopy(this.mainBytes, byFile.get('') ?? []));
    // External data: a patched copy of the folder's model files in a temporary directory.
    this.tempDir ??= await fs.mkdtemp(path.join(os.tmpdir(), 'precision-lens-measure-'));
    await fs.writeFile(path.join(this.tempDir, this.mainName), patchCopy(this.mainBytes, byFile.get('') ?? []));
    for (const f of this.otherFiles) {
      const dest = path.join(this.tempDir, ...f.split('/'));
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.writeFile(dest, patchCopy(await externalBytes(this.folder, f, this.external), byFile.get(f) ?? []));
    }
    return createSession(path.join(this.tempDir, this.mainName));
  }

  async removeTemp(): Promise<void> {
    if (this.tempDir) await fs.rm(this.tempDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Runs the original model with the first calibration variant it accepts and whose outputs vary with the inputs. */
async function baselineRun(model: Model, files: ModelFiles, options: MeasureOptions, samples: number, inputsKey: string, cache: CacheFile, notes: string[]): Promise<MeasuredRun> {
  const token = options.token;
  let runs = 0;
  let calibration: CalibrationSet | undefined;
  let baseline: RunOutputs[] | undefined;
  const errors: string[] = [];
  const variants = options.inputsFile ? [0] : CALIBRATION_VARIANTS.map((_, i) => i);
  const preferred = cache.variants[inputsKey];
  if (preferred !== undefined) variants.sort((a, b) => (a === preferred ? -1 : b === preferred ? 1 : 0));
  const baseSession = await files.baseSession().catch((e: Error) => {
    throw new RuntimeError('runtime-failed', `${model.fileName}: onnxruntime cannot load the model: ${firstLine(e.message)}.`);
  });
  let degenerate: { set: CalibrationSet; outs: RunOutputs[]; v: number } | undefined;
  try {
    for (const v of variants) {
      throwIfCancelled(token);
      const set = options.inputsFile ? await loadCalibrationInputs(options.inputsFile, model) : generateCalibrationInputs(model, samples, 1, v);
      let outs: RunOutputs[];
      try {
        outs = await runSamples(baseSession, set.samples);
        runs += set.samples.length;
      } catch (e) {
        errors.push(firstLine((e as Error).message));
        continue;
      }
      if (isDegenerate(outs) && variants.length > 1) {
        degenerate ??= { set, outs, v };
        continue;
      }
      baseline = outs;
      calibration = set;
      cache.variants[inputsKey] = v;
      break;
    }
  } finally {
    await releaseSession(baseSession);
  }
  if (!baseline && degenerate) {
    ({ outs: baseline, set: calibration } = degenerate);
    cache.variants[inputsKey] = degenerate.v;
    notes.push('the outputs do not vary with any generated inputs (constant or non-finite), so no layer can change them.');
  }
  if (!baseline || !calibration) throw new RuntimeError('runtime-failed', `${model.fileName}: onnxruntime cannot run the model with the calibration inputs tried: ${errors[0] ?? 'unknown error'}.`);
  const compared = comparedOutputs(baseline);
  if (!compared.length) throw new RuntimeError('runtime-failed', `${model.fileName}: the model has no numeric output to compare.`);
  cache.outputs[inputsKey] = compared.join(',');
  return { runs, calibration, baseline, compared };
}

/**
 * Measures each pair into the cache. Per layer, coarsest format first: when even that leaves the outputs
 * bit-identical, the layer has no effect with these inputs (e.g. an If branch not taken) and its finer formats
 * are not run. Returns the number of model runs.
 */
async function measurePairs(model: Model, files: ModelFiles, todo: readonly MeasurePair[], run: MeasuredRun, key: (layer: string, format: string) => string, store: MeasureCache, options: MeasureOptions): Promise<number> {
  const { cache } = store;
  let runs = 0;
  let lastReport = 0;
  const report = (done: number, message: string, force = false): void => {
    if (!options.onProgress) return;
    const now = performance.now();
    if (!force && now - lastReport < 1000) return;
    lastReport = now;
    options.onProgress({ pairsDone: done, pairsTotal: todo.length, message });
  };
  let done = 0;
  const byLayer = new Map<string, MeasurePair[]>();
  for (const p of todo) byLayer.set(p.layer.layer, [...(byLayer.get(p.layer.layer) ?? []), p]);
  for (const list of byLayer.values()) {
    list.sort((a, b) => (b.layer.formats[b.format]?.relMse ?? 0) - (a.layer.formats[a.format]?.relMse ?? 0));
    let noEffect = false;
    for (const p of list) {
      throwIfCancelled(options.token);
      report(done, `measuring ${p.layer.layer} in ${p.format}`);
      const k = key(p.layer.layer, p.format);
      done++;
      if (noEffect) {
        setOwn(cache.entries, k, NO_EFFECT);
        continue;
      }
      const lowered = await files.lowerLayer(p.layer, p.format);
      if (typeof lowered === 'string') {
        setOwn(cache.entries, k, lowered);
        continue;
      }
      if (!lowered.changed) {
        setOwn(cache.entries, k, PERFECT);
        continue;
      }
      let session: Awaited<ReturnType<typeof createSession>> | undefined;
      try {
        session = await files.patchedSession(lowered.patches);
        const outs = await runSamples(session, run.calibration!.samples);
        runs += run.calibration!.samples.length;
        const m = compareSets(run.baseline!, outs, run.compared);
        if (m.identical) {
          noEffect = true;
          setOwn(cache.entries, k, NO_EFFECT);
        } else setOwn(cache.entries, k, m.metrics);
      } catch (e) {
        setOwn(cache.entries, k, `run failed: ${firstLine((e as Error).message)}`);
      } finally {
        if (session) await releaseSession(session);
      }
    }
    if (done % 20 === 0) await store.save();
  }
  report(done, 'done', true);
  return runs;
}

/** The static report with each measured pair's metrics merged in, and what was measured. */
function measuredReport(staticReport: SensitivityReport, cache: CacheFile, key: (layer: string, format: string) => string, notes: string[], r: { run: MeasuredRun; inputsKey: string; samples: number; cached: boolean; started: number; inputsFile: string | undefined }): SensitivityReport {
  let measuredCount = 0;
  const skipped: string[] = [];
  const layers = staticReport.layers.map((l) => {
    const fm: Record<string, LayerFormatSensitivity> = {};
    for (const [f, s] of Object.entries(l.formats)) {
      const e = own(cache.entries, key(l.layer, f));
      if (e && typeof e === 'object') {
        fm[f] = { ...s, ...e };
        measuredCount++;
      } else {
        fm[f] = s;
        if (typeof e === 'string') skipped.push(`${l.layer}/${f}: ${e}`);
      }
    }
    return { ...l, formats: fm };
  });
  if (skipped.length) notes.push(`${skipped.length} pair${skipped.length === 1 ? '' : 's'} not measured: ${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; …' : ''}`);
  const variant = cache.variants[r.inputsKey];
  return {
    ...staticReport,
    layers,
    warnings: [...staticReport.warnings],
    elapsedMs: Math.round(performance.now() - r.started),
    measured: {
      inputs: r.run.calibration?.description ?? (r.inputsFile ? path.basename(r.inputsFile) : `generated (${r.samples} samples, variant ${variant ?? 0}; from cache)`),
      outputs: r.run.compared.length ? r.run.compared : (cache.outputs[r.inputsKey]?.split(',') ?? []),
      runs: r.run.runs,
      layersMeasured: measuredCount,
      cached: r.cached,
      elapsedMs: Math.round(performance.now() - r.started),
      notes,
    },
  };
}

async function externalBytes(folder: string, rel: string, cache: Map<string, Uint8Array>): Promise<Uint8Array> {
  let b = cache.get(rel);
  if (!b) {
    // `rel` comes from the reader, which already refused paths leaving the folder.
    b = await readRegularFile(path.join(folder, ...rel.split('/')), Number.MAX_SAFE_INTEGER, rel);
    cache.set(rel, b);
  }
  return b;
}

function buffersEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/\.$/, '').slice(0, 300);
}
