/**
 * Plan verification (ONNX): the solver is exactly optimal on *predicted* harm, which assumes that per-layer damage
 * adds up. That breaks where quantization noise of several layers interacts (heavy quantization, recurrent state,
 * saturating outputs). When the model can be run, verification measures the solver's plan together with other plans
 * that fit the same budget, and delivers the best one measured:
 *
 * 1. the solver's optimum, and the optimum under each alternative predictor (e.g. static scores when the primary
 *    predictor is measured per-layer sensitivity);
 * 2. every standard baseline (uniform FP16/FP8/INT8/INT4, Q4_K_M-like rules) that fits the budget, the user's
 *    formats and pins;
 * 3. local search: anchored re-solves ({@link SolveAnchor}) around the best plan measured so far, with a ladder of
 *    penalties, i.e. trust-region steps from a measured plan towards each predictor's optimum; repeated while
 *    a round improves the best and the candidate cap allows.
 *
 * Each candidate is applied with {@link applyPlanToOnnx} to a temporary file (real FP16/INT8/INT4/FP8 storage) and
 * run with onnxruntime-node on the same calibration inputs as the original; the score is the output SQNR with the
 * same output selection as measured sensitivity (measure.ts `comparedOutputs`: the first numeric output, or all
 * numeric outputs weighted equally when the first has fewer than 16 values per run).
 *
 * Cost: one apply + one session + `samples` runs per candidate, at most `maxCandidates` candidates.
 * The delivered plan is never worse, on the calibration inputs, than any candidate measured — in particular not
 * than any baseline that fits the budget.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  own, setOwn, KEEP_FORMAT,
  assignmentHarm,
  assignmentWeightBytes,
  compareOutputs,
  formatForStoredDType,
  getNumberFormat,
  groupLayers,
  harmFromSensitivity,
  harmToSqnrDb,
  relMseToDb,
  solveModel,
  standardBaselines,
  throwIfCancelled,
  type Baseline,
  type CancellationToken,
  type ComputeType,
  type FuseOptions,
  type HarmFunction,
  type Model,
  type PlanSqnrMeasurement,
  type SensitivityReport,
} from '../core';
import { applyPlanToOnnx } from './applyOnnx';
import { CALIBRATION_VARIANTS, generateCalibrationInputs, type CalibrationSample } from './calibration';
import { comparedOutputs } from './measure';
import { createSession, ortRuntimeName, releaseSession, runSamples, type RunOutputs } from './ortRunner';
import { NodeError, RuntimeError } from './errors';

/** Values per compared output the reference aims for (see {@link PlanReferenceOptions.minOutputValues}). */
export const DEFAULT_MIN_OUTPUT_VALUES = 256;
/** Most calibration samples a reference generates. Threat: a scalar-output model asking for thousands of runs. */
export const MAX_REFERENCE_SAMPLES = 64;
/** Largest model (all files) verified. Threat: writing and loading a multi-GB copy once per candidate. */
export const MAX_VERIFY_MODEL_BYTES = 2 * 1024 * 1024 * 1024;
/** Default cap on measured candidates. */
export const DEFAULT_VERIFY_CANDIDATES = 16;
/** Largest cap accepted. Threat: a caller asking for thousands of apply + run cycles on a large model. */
export const MAX_VERIFY_CANDIDATES = 256;

//#region reference run and comparison
/** The original model's outputs on calibration inputs, and which outputs are compared. */
export interface PlanReference {
  readonly samples: readonly CalibrationSample[];
  readonly outputs: readonly RunOutputs[];
  /** Output names compared (see module comment). */
  readonly compared: readonly string[];
  /** How the inputs were made. */
  readonly inputs: string;
  /** Calibration variant used (index into CALIBRATION_VARIANTS). */
  readonly variant: number;
}

/** Options of {@link planReference}. */
export interface PlanReferenceOptions {
  /** Least generated samples (default 4); more are generated while a compared output has too few values. */
  readonly samples?: number;
  /**
   * Values each compared output should have over all samples (default {@link DEFAULT_MIN_OUTPUT_VALUES}): a
   * Q-value pair or a single probability per run over 4 runs is too few numbers for a stable SQNR, and plans
   * selected on it do not hold on other inputs.
   */
  readonly minOutputValues?: number;
  /** Most samples generated (default {@link MAX_REFERENCE_SAMPLES}). */
  readonly maxSamples?: number;
  /** Generator seed (default 1, the seed measured sensitivity uses). */
  readonly seed?: number;
  /** Try this calibration variant first (e.g. the one a selection reference used). */
  readonly variant?: number;
  /** Samples run of the current batch (a variant that fails, or more samples, starts a new count). */
  readonly onProgress?: (done: number, total: number) => void;
}

function isDegenerate(outs: readonly RunOutputs[]): boolean {
  let first: number | undefined;
  for (const o of outs)
    for (const t of Object.values(o))
      for (const v of t.data) {
        if (!Number.isFinite(v)) return true;
        if (first === undefined) first = v;
        else if (v !== first) return false;
      }
  return true;
}

/** Samples needed so every compared output has `minOutputValues` values (at least `samples`, at most `maxSamples`). */
export function referenceSampleCount(outputs: readonly RunOutputs[], compared: readonly string[], samples: number, options: Pick<PlanReferenceOptions, 'minOutputValues' | 'maxSamples'> = {}): number {
  const minValues = options.minOutputValues ?? DEFAULT_MIN_OUTPUT_VALUES;
  const cap = Math.max(samples, options.maxSamples ?? MAX_REFERENCE_SAMPLES);
  let perRun = Infinity;
  for (const n of compared) perRun = Math.min(perRun, Math.max(1, (outputs[0]?.[n]?.data.length ?? 1)));
  if (!Number.isFinite(perRun)) return samples;
  return Math.min(cap, Math.max(samples, Math.ceil(minValues / perRun)));
}

/**
 * Runs the original model on generated calibration inputs, trying each input-size variant until one runs and its
 * outputs vary (as measured sensitivity does), and keeps the outputs for {@link measureAssignment}.
 */
export async function planReference(modelPath: string, model: Model, options: PlanReferenceOptions = {}): Promise<PlanReference> {
  const samples = options.samples ?? 4;
  const seed = options.seed ?? 1;
  const order = CALIBRATION_VARIANTS.map((_, i) => i);
  if (options.variant !== undefined) order.sort((a, b) => (a === options.variant ? -1 : b === options.variant ? 1 : 0));
  const session = await createSession(path.resolve(modelPath));
  let fallback: PlanReference | undefined;
  let lastError: unknown;
  try {
    for (const v of order) {
      let outputs: RunOutputs[];
      const set = generateCalibrationInputs(model, samples, seed, v);
      try {
        outputs = await runSamples(session, set.samples, options.onProgress);
      } catch (e) {
        lastError = e;
        continue;
      }
      const compared = comparedOutputs(outputs);
      if (!compared.length) continue;
      let ref: PlanReference = { samples: set.samples, outputs, compared, inputs: set.description, variant: v };
      const want = referenceSampleCount(outputs, compared, samples, options);
      if (want > samples) {
        const more = generateCalibrationInputs(model, want, seed, v);
        ref = { ...ref, samples: more.samples, outputs: await runSamples(session, more.samples, options.onProgress), inputs: more.description };
      }
      if (!isDegenerate(outputs)) return ref;
      fallback ??= ref;
    }
  } finally {
    await releaseSession(session);
  }
  if (fallback) return fallback;
  throw new RuntimeError('runtime-failed', `${path.basename(modelPath)}: onnxruntime-node cannot run the model on generated inputs (${lastError instanceof Error ? lastError.message.split('\n')[0] : 'no numeric output'}).`);
}

/** Output SQNR of a run against the reference (mean noise-to-signal ratio over the compared outputs). */
export function compareWithPlanReference(ref: PlanReference, outs: readonly RunOutputs[]): { readonly sqnrDb: number; readonly cosine: number } {
  const empty = { dims: [0], data: new Float32Array(0) };
  const per = ref.compared.map((n) => compareOutputs(ref.outputs.map((o) => o[n] ?? empty), outs.map((o) => o[n] ?? empty)));
  if (per.length === 1) return { sqnrDb: per[0]!.sqnrDb, cosine: per[0]!.cosine };
  const nsr = per.reduce((a, c) => a + 10 ** (-c.sqnrDb / 10), 0) / per.length;
  return { sqnrDb: relMseToDb(nsr), cosine: per.reduce((a, c) => a + c.cosine, 0) / per.length };
}

/** What applying and running one assignment gave. */
export interface AssignmentMeasurement {
  readonly sqnrDb: number;
  readonly cosine: number;
  /** Layers stored in a lower precision (not kept). */
  readonly loweredLayers: number;
  /** Layers whose format ORT has no storage for (fake-quantized in the original dtype). */
  readonly simulatedLayers: number;
  /** Stored tensor bytes of the written model. */
  readonly tensorBytes: number;
}

/** Applies `assignment` to a temporary copy of the model in `tempDir`, runs it on the reference inputs and compares. */
export async function measureAssignment(modelPath: string, model: Model, ref: PlanReference, assignment: Readonly<Record<string, string>>, tempDir: string, name = 'candidate'): Promise<AssignmentMeasurement> {
  const out = path.join(tempDir, `${name.replace(/[^\w.-]+/g, '_').slice(0, 80)}.onnx`);
  try {
    const applied = await applyPlanToOnnx(modelPath, model, assignment, out);
    const session = await createSession(out);
    try {
      const m = compareWithPlanReference(ref, await runSamples(session, ref.samples));
      return {
        ...m,
        loweredLayers: applied.layers.filter((l) => l.storage !== 'kept').length,
        simulatedLayers: applied.layers.filter((l) => l.storage === 'simulated').length,
        tensorBytes: applied.tensorBytes,
      };
    } finally {
      await releaseSession(session);
    }
  } finally {
    await fs.rm(out, { force: true });
    await fs.rm(`${out}.data`, { force: true });
  }
}
//#endregion

//#region verification
/** A predictor the local search may also follow (harm per layer and format). */
export interface NamedHarm {
  readonly id: string;
  readonly harm: HarmFunction;
}

/** One plan measured during verification. */
export interface VerifiedCandidate {
  /** 'solver', 'solver:<predictor>', a baseline id, or 'local:<n>'. */
  readonly id: string;
  readonly label: string;
  readonly origin: 'solver' | 'predictor' | 'baseline' | 'local';
  readonly assignment: Readonly<Record<string, string>>;
  readonly weightBytes: number;
  /** Predicted harm under the primary predictor (undefined when a layer has no score). */
  readonly predictedHarm: number | undefined;
  /** Measured output SQNR in dB (undefined when applying or running failed: see `error`). */
  readonly measuredSqnrDb: number | undefined;
  readonly error?: string;
}

/** Progress of {@link verifyPlan}. */
export interface VerifyProgress {
  readonly done: number;
  readonly total: number;
  readonly message: string;
}

/** Options of {@link verifyPlan}. */
export interface VerifyPlanOptions {
  /** Layer-weight budget (bytes) every candidate must fit. */
  readonly weightBudgetBytes: number;
  /** The primary predictor (the one the plan was solved with). */
  readonly harm: HarmFunction;
  /** Other predictors whose optimum is a candidate and whose direction the local search also follows. */
  readonly alternativeHarms?: readonly NamedHarm[];
  /** Allowed formats (default: the solver's defaults). Candidates using others are not considered. */
  readonly formats?: readonly string[];
  readonly native?: readonly ComputeType[];
  readonly allowEmulated?: boolean;
  readonly pinned?: Readonly<Record<string, string>>;
  readonly fuse?: FuseOptions;
  /** The solver's plan when already computed (else solved here with `harm`). */
  readonly solverAssignment?: Readonly<Record<string, string>>;
  /** Baselines to try (default {@link standardBaselines} for the target). */
  readonly baselines?: readonly Baseline[];
  /** Most candidates measured (default {@link DEFAULT_VERIFY_CANDIDATES}, at most {@link MAX_VERIFY_CANDIDATES}). */
  readonly maxCandidates?: number;
  /** Calibration samples (default 4) and seed (default 1) of the reference run; ignored with `reference`. */
  readonly samples?: number;
  readonly seed?: number;
  /** A reference run to reuse. */
  readonly reference?: PlanReference;
  /**
   * Measurements to reuse across calls that share `reference` (key: the normalized assignment). Filled here; a
   * reused measurement still counts towards `maxCandidates`.
   */
  readonly cache?: Map<string, number | Error>;
  readonly token?: CancellationToken;
  readonly onProgress?: (p: VerifyProgress) => void;
}

/** Result of {@link verifyPlan}. */
export interface VerifyPlanResult {
  /** The best plan measured (the solver's plan unless another one measured better). */
  readonly best: VerifiedCandidate;
  /** The solver's own plan as measured. */
  readonly solver: VerifiedCandidate;
  /** Every candidate measured, in the order measured. */
  readonly candidates: readonly VerifiedCandidate[];
  /** Measured baselines the delivered plan beats or equals (ids). */
  readonly beats: readonly string[];
  /** best − solver, dB (0 when the solver's plan was best). */
  readonly gainOverSolverDb: number;
  readonly inputs: string;
  readonly outputs: readonly string[];
  readonly samples: number;
  /** Local-search rounds run and why the search stopped. */
  readonly rounds: number;
  readonly stopped: 'converged' | 'cap';
  readonly elapsedMs: number;
}

/**
 * Measures the solver's plan and candidate plans within the same budget and returns the best (see module
 * comment). Throws when the reference model cannot be run; a candidate that fails to apply or run is recorded
 * with its error and skipped. Cancellable between candidates.
 */
export async function verifyPlan(modelPath: string, model: Model, options: VerifyPlanOptions): Promise<VerifyPlanResult> {
  const started = performance.now();
  const token = options.token;
  if (model.format !== 'onnx') throw new NodeError('not-onnx', `${model.fileName}: plan verification needs an ONNX model (this is ${model.format}).`);
  if (model.totalFileBytes > MAX_VERIFY_MODEL_BYTES) throw new NodeError('too-large', `${model.fileName}: ${model.totalFileBytes} bytes exceed the verification limit of ${MAX_VERIFY_MODEL_BYTES}.`);
  const cap = Math.max(1, Math.min(MAX_VERIFY_CANDIDATES, Math.floor(options.maxCandidates ?? DEFAULT_VERIFY_CANDIDATES)));
  const budget = options.weightBudgetBytes;
  const solveBase = {
    weightBudgetBytes: budget,
    ...(options.formats ? { formats: options.formats } : {}),
    ...(options.native ? { native: options.native } : {}),
    ...(options.allowEmulated ? { allowEmulated: true } : {}),
    ...(options.pinned ? { pinned: options.pinned } : {}),
    ...(options.fuse ? { fuse: options.fuse } : {}),
    frontierPoints: 2,
  };
  const primary: NamedHarm = { id: 'primary', harm: options.harm };
  const predictors = [primary, ...(options.alternativeHarms ?? [])];
  const groups = groupLayers(model, options.fuse);
  const layerByName = new Map(model.layers.map((l) => [l.name, l]));

  // Admissibility: allowed formats, pins, budget.
  const allowed = new Set((options.formats ?? solveModel(model, { ...solveBase, harm: () => 0 }).formats).map((id) => getNumberFormat(id)?.id ?? id));
  const normalize = (assignment: Readonly<Record<string, string>>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const g of groups)
      for (const l of g.layers) {
        const id = own(assignment, l.name);
        // The stored format is not folded into 'keep': a layer may hold tensors of other dtypes that it converts.
        const f = id === undefined || id === KEEP_FORMAT ? undefined : getNumberFormat(id);
        setOwn(out, l.name, f ? f.id : KEEP_FORMAT);
      }
    return out;
  };
  const keyOf = (a: Readonly<Record<string, string>>): string => groups.map((g) => g.layers.map((l) => own(a, l.name) ?? KEEP_FORMAT).join(',')).join(';');
  const admissible = (a: Readonly<Record<string, string>>): string | undefined => {
    for (const [layer, id] of Object.entries(a)) {
      if (id === KEEP_FORMAT) continue;
      if (!allowed.has(id) && formatForStoredDType(layerByName.get(layer)?.dtype ?? '')?.id !== id) return `uses ${id}, which is not among the allowed formats`;
      if (!layerByName.get(layer)?.quantizable) return `changes the non-quantizable layer '${layer}'`;
    }
    for (const [layer, id] of Object.entries(options.pinned ?? {})) {
      const want = normalize({ [layer]: id })[layer];
      if (want !== undefined && a[layer] !== undefined && a[layer] !== want) return `changes the pinned layer '${layer}'`;
    }
    if (assignmentWeightBytes(model, a) > budget) return 'does not fit the budget';
    return undefined;
  };

  const reference = options.reference ?? (await planReference(modelPath, model, { ...(options.samples !== undefined ? { samples: options.samples } : {}), ...(options.seed !== undefined ? { seed: options.seed } : {}) }));
  const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'precision-lens-verify-'));
  const measured: VerifiedCandidate[] = [];
  const seen = new Set<string>();
  let localCount = 0;
  const report = (message: string): void => options.onProgress?.({ done: measured.length, total: cap, message });
  const measureOne = async (id: string, label: string, origin: VerifiedCandidate['origin'], raw: Readonly<Record<string, string>>): Promise<VerifiedCandidate | undefined> => {
    const assignment = normalize(raw);
    const key = keyOf(assignment);
    if (seen.has(key) || measured.length >= cap) return undefined;
    if (admissible(assignment) !== undefined) return undefined;
    throwIfCancelled(token);
    seen.add(key);
    report(`measuring ${label}`);
    const base = { id, label, origin, assignment, weightBytes: assignmentWeightBytes(model, assignment), predictedHarm: assignmentHarm(model, assignment, options.harm) };
    let r = options.cache?.get(key);
    if (r === undefined) {
      r = await measureAssignment(modelPath, model, reference, assignment, tempDir, `${measured.length}`).then((m) => m.sqnrDb, (e: Error) => e);
      options.cache?.set(key, r);
    }
    const c: VerifiedCandidate = typeof r === 'number' ? { ...base, measuredSqnrDb: r } : { ...base, measuredSqnrDb: undefined, error: r.message.split('\n')[0]! };
    measured.push(c);
    return c;
  };
  const better = (a: VerifiedCandidate, b: VerifiedCandidate | undefined): boolean =>
    a.measuredSqnrDb !== undefined && (b?.measuredSqnrDb === undefined || a.measuredSqnrDb > b.measuredSqnrDb || (a.measuredSqnrDb === b.measuredSqnrDb && a.weightBytes < b.weightBytes));

  let rounds = 0;
  let stopped: VerifyPlanResult['stopped'] = 'converged';
  try {
    // 1. The solver's plan (always first: on a tie it wins) and each predictor's optimum.
    const solverAssignment = normalize(options.solverAssignment ?? solveModel(model, { ...solveBase, harm: options.harm }).assignment);
    const solverKey = keyOf(solverAssignment);
    let solver = await measureOne('solver', 'solver plan', 'solver', solverAssignment);
    if (!solver) {
      // The given plan is not admissible (e.g. over budget): still measure it so the caller sees it, outside the cap.
      const m = await measureAssignment(modelPath, model, reference, solverAssignment, tempDir, 'solver').catch((e: Error) => e);
      solver = { id: 'solver', label: 'solver plan', origin: 'solver', assignment: solverAssignment, weightBytes: assignmentWeightBytes(model, solverAssignment), predictedHarm: assignmentHarm(model, solverAssignment, options.harm), measuredSqnrDb: m instanceof Error ? undefined : m.sqnrDb, ...(m instanceof Error ? { error: m.message } : {}) };
      seen.add(solverKey);
    }
    const optima = new Map<string, Record<string, string>>([['primary', solverAssignment]]);
    for (const p of predictors.slice(1)) {
      const a = normalize(solveModel(model, { ...solveBase, harm: p.harm }).assignment);
      optima.set(p.id, a);
      await measureOne(`solver:${p.id}`, `optimum of ${p.id} predictor`, 'predictor', a);
    }
    // 2. Baselines that fit.
    const baselines = options.baselines ?? standardBaselines(model, { ...(options.native ? { native: options.native } : {}), ...(options.allowEmulated ? { allowEmulated: true } : {}), ...(options.fuse ? { fuse: options.fuse } : {}) });
    for (const b of baselines) {
      const withPins = { ...b.assignment };
      for (const [layer, id] of Object.entries(options.pinned ?? {})) if (withPins[layer] !== undefined) withPins[layer] = id;
      await measureOne(b.id, b.label, 'baseline', withPins);
    }
    // 3. Local search: anchored re-solves around the best plan, towards each predictor's optimum.
    let best = [solver, ...measured].reduce<VerifiedCandidate | undefined>((acc, c) => (better(c, acc) ? c : acc), undefined) ?? solver;
    while (measured.length < cap) {
      rounds++;
      const before = best;
      let proposed = 0;
      for (const p of predictors) {
        const target = optima.get(p.id)!;
        const anchorHarm = assignmentHarm(model, best.assignment, p.harm);
        const optimumHarm = assignmentHarm(model, target, p.harm);
        const differing = groups.filter((g) => g.layers.some((l) => (own(best.assignment, l.name) ?? KEEP_FORMAT) !== (own(target, l.name) ?? KEEP_FORMAT))).length;
        if (differing === 0 || anchorHarm === undefined || optimumHarm === undefined) continue;
        // Penalty ladder around the mean predicted gain per changed group: large = a few changes, small = many.
        const unit = Math.max(Math.abs(anchorHarm - optimumHarm), 1e-12) / differing;
        for (const factor of [4, 2, 1, 0.5, 0.25]) {
          if (measured.length >= cap) break;
          const r = solveModel(model, { ...solveBase, harm: p.harm, anchor: { assignment: best.assignment, penalty: unit * factor } });
          if (r.status === 'infeasible') continue;
          const c = await measureOne(`local:${++localCount}`, `local step ${localCount} (${p.id} predictor, penalty ×${factor} from ${best.id})`, 'local', r.assignment);
          if (!c) {
            localCount--;
            continue;
          }
          proposed++;
          if (better(c, best)) best = c;
        }
      }
      if (best === before || proposed === 0) break;
    }
    if (measured.length >= cap) stopped = 'cap';
    best = measured.reduce((acc, c) => (better(c, acc) ? c : acc), solver);
    const beats = measured.filter((c) => c.origin === 'baseline' && c.measuredSqnrDb !== undefined && best.measuredSqnrDb !== undefined && best.measuredSqnrDb >= c.measuredSqnrDb).map((c) => c.id);
    return {
      best,
      solver,
      candidates: measured,
      beats,
      gainOverSolverDb: best.measuredSqnrDb !== undefined && solver.measuredSqnrDb !== undefined ? best.measuredSqnrDb - solver.measuredSqnrDb : 0,
      inputs: reference.inputs,
      outputs: reference.compared,
      samples: reference.samples.length,
      rounds,
      stopped,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await fs.rm(tempDir, { recursive: true, force: true });
  }
}
//#endregion

//#region plan file record
/** Longest `text` written into a measurement record (the parser keeps up to 4,096 characters). */
const MAX_RECORD_TEXT = 1000;

/** What {@link onnxPlanRecord} records. */
export interface OnnxRecordInput {
  readonly model: Model;
  /** The delivered plan's assignment (layer → format id or 'keep'). */
  readonly assignment: Readonly<Record<string, string>>;
  /** Static sensitivity: the predicted side, per layer and for the whole plan. */
  readonly staticReport: SensitivityReport;
  /** The verification that delivered the plan (whole-plan and baseline figures). */
  readonly verification?: VerifyPlanResult;
  /** Measured sensitivity (`--measure`): each layer alone in its planned format. */
  readonly measured?: SensitivityReport;
  readonly measuredAt?: Date;
}

/**
 * The plan file's record of what onnxruntime-node measured for an ONNX plan, in output SQNR (dB) — the metric
 * verification and measured sensitivity compare outputs with, never KL: the delivered plan measured beside the
 * prediction it was solved with (static scores, or with `measured` the layers measured alone, added up), each layer
 * alone in its planned format (measured beside the static prediction) and the measured baselines. Non-finite figures (a lossless layer, ∞ dB) are left out. Undefined when nothing was measured.
 */
export function onnxPlanRecord(r: OnnxRecordInput): PlanSqnrMeasurement | undefined {
  const { model, assignment, staticReport: st, verification: v, measured } = r;
  const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);
  const staticOf = new Map(st.layers.map((l) => [l.layer, l.formats]));
  const measuredOf = new Map((measured?.layers ?? []).map((l) => [l.layer, l.formats]));
  const entry = (m: ReadonlyMap<string, Readonly<Record<string, { readonly predictedOutputSqnrDb: number; readonly measuredOutputSqnrDb?: number }>>>, layer: string, format: string) => {
    const f = m.get(layer);
    return f ? own(f, format) : undefined;
  };
  const layers = model.layers.flatMap((l) => {
    const format = own(assignment, l.name);
    if (format === undefined || format === KEEP_FORMAT) return [];
    const m = entry(measuredOf, l.name, format) as { readonly measuredOutputSqnrDb?: number; readonly noEffect?: boolean } | undefined;
    if (!m || m.noEffect === true || !finite(m.measuredOutputSqnrDb)) return [];
    const predicted = entry(staticOf, l.name, format)?.predictedOutputSqnrDb;
    return [{ layer: l.name, format, ...(finite(predicted) ? { predictedSqnrDb: predicted } : {}), measuredSqnrDb: m.measuredOutputSqnrDb }];
  });
  const best = v?.best;
  // The whole plan's prediction is the one it was solved with: layers measured alone (`--measure`) or static scores.
  const predictor = measured ? 'measured-layers' as const : 'static' as const;
  const planHarm = assignmentHarm(model, assignment, measured ? harmFromSensitivity(measured, { prefer: 'measured' }) : harmFromSensitivity(st));
  const predicted = planHarm === undefined ? undefined : harmToSqnrDb(planHarm);
  const plan = best && finite(best.measuredSqnrDb) ? { ...(finite(predicted) ? { predictedSqnrDb: predicted, predictor } : {}), measuredSqnrDb: best.measuredSqnrDb } : undefined;
  if (!plan && !layers.length) return undefined;
  const inputs = v ? `${v.inputs} (${v.samples} sample${v.samples === 1 ? '' : 's'}); compared output${v.outputs.length === 1 ? '' : 's'} ${v.outputs.join(', ')}`
    : `${measured?.measured?.inputs ?? 'generated inputs'}; compared output${(measured?.measured?.outputs.length ?? 0) === 1 ? '' : 's'} ${(measured?.measured?.outputs ?? []).join(', ')}`;
  const text = `${inputs}${!v ? '; layers only (the plan was not verified)' : layers.length ? '; layers alone from measured sensitivity' : ''}`;
  const baselines = (v?.candidates ?? []).flatMap((c) => (c.origin === 'baseline' && finite(c.measuredSqnrDb) ? [{ id: c.id, label: c.label, weightBytes: c.weightBytes, measuredSqnrDb: c.measuredSqnrDb }] : []));
  return {
    metric: 'output-sqnr-db',
    runtime: ortRuntimeName(),
    text: text.length > MAX_RECORD_TEXT ? `${text.slice(0, MAX_RECORD_TEXT - 1)}…` : text,
    measuredAt: (r.measuredAt ?? new Date()).toISOString(),
    delivered: best?.id ?? 'solver',
    ...(plan ? { plan } : {}),
    ...(layers.length ? { layers } : {}),
    ...(baselines.length ? { baselines } : {}),
  };
}
//#endregion
