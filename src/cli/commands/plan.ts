import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import {
  setOwn, EstimateError,
  KEEP_FORMAT, ggufFallbackFormats,
  MAX_PLAN_TEXT_BYTES,
  TARGETS,
  allowedFormats,
  assignmentHarm,
  assignmentWeightBytes,
  baselineFormats,
  checkedAssignment,
  defaultCandidateFormats,
  formatBytes,
  formatDb,
  formatPlanDiagnostics,
  harmFromSensitivity,
  harmFromScores,
  harmToSqnrDb,
  mergeTargets,
  modelFingerprint,
  openModel,
  parseByteSize,
  parsePlan,
  planFileNameFor,
  readShapeConstants,
  replacePlanAssignment,
  serializePlanChunks,
  solvePlan,
  spearman,
  standardBaselines,
  type Baseline,
  type ByteSource,
  type HarmFunction,
  type Model,
  type ParsedPlan,
  type PlanLayerEntry,
  type SensitivityReport,
  type SensitivityScoresReport,
  type SiblingResolver,
  type PlanBudget,
  type PlanDiagnostic,
  type PrecisionPlan,
  type PlanSqnrMeasurement,
  type SolvedPlan,
  type SolvePlanInput,
  type Target,
} from '../../core';
import { openModelFile, openModelFileWhole, readRegularTextFile, resolveInsideFolder } from '../../node/fileByteSource';
import { NodeError } from '../../node/errors';
import { measureSensitivity } from '../../node/measure';
import { MAX_EVAL_CONTEXT } from '../../node/llamaEval';
import { DEFAULT_VERIFY_CANDIDATES, MAX_VERIFY_CANDIDATES, onnxPlanRecord, planReference, verifyPlan, type PlanReference, type VerifyPlanResult } from '../../node/planVerify';
import { analyzeModelScores, analyzeModelSensitivity, type SensitivityProgress } from '../../node/sensitivityRunner';
import { modelDataFiles, writeOutputFiles } from '../../node/safeOutput';
import { formatIds, isFormat } from '../choices';
import { CliError, renderTable, type CliOutput } from '../io';
import { JSON_OPTION, PROGRESS_OPTION, flag, positiveInt, quoteArg, str, type CommandSpec, type OptionValues } from '../options';
import { createProgress } from '../progress';
import { figureNotes, runDescription, speedSummary, totalCell } from '../figures';
import { ggufMeasurementRecord, ggufVerificationJson, ggufVerificationLines, measureGgufForPlan, verifyGgufForPlan, type GgufPlanMeasurement } from './planGguf';
import type { GgufVerifyResult } from '../../node/ggufVerify';
import { resolveTargets } from './estimate';
import { loadTargetsFile } from './targets';
import { writeJson } from '../jsonOut';

/** ONNX models up to this size are verified with onnxruntime-node by default (`--no-verify` skips it). */
export const AUTO_VERIFY_MAX_BYTES = 256 * 1024 * 1024;

/** Option table of `plan`. */
export const planSpec: CommandSpec = {
  name: 'plan',
  summary: 'Choose a number format per layer that fits a target and loses the least, and write the plan file (*.precision.json).',
  positionals: [{ name: 'FILE', description: 'The model: .onnx, .safetensors (or its .index.json), .gguf or .tflite.' }],
  options: [
    { name: 'target', short: 't', type: 'string', value: 'ID', description: 'The one hardware target the plan is for (an id from precision-lens targets); a plan names one target, so run plan once per target.' },
    { name: 'budget', type: 'string', value: 'SIZE', description: "Total memory to fit (e.g. 24GB, 900MiB) instead of the target's capacity; at most the target's memory.", exclusive: 'budget' },
    { name: 'avg-bits', type: 'string', value: 'B', description: 'Budget the layer weights at this many bits per weight on average (above 0, at most 64).', exclusive: 'budget' },
    { name: 'weight-budget', type: 'string', value: 'SIZE', description: 'Budget the layer weights alone at this size.', exclusive: 'budget' },
    { name: 'devices', type: 'string', value: 'N', description: 'Split across N devices of the target (tensor parallel); default 1.' },
    { name: 'context', type: 'string', value: 'N', description: "Context length in tokens for a generative model's KV cache; default the model's, capped at 4096." },
    { name: 'batch', type: 'string', value: 'N', description: 'Sequences (or samples) processed at once; default 1.' },
    { name: 'kv-format', type: 'string', value: 'F', description: 'Number format of the KV cache; default fp16.', choices: formatIds, accepts: isFormat },
    { name: 'formats', type: 'string', value: 'F[,F...]', description: "Candidate formats per layer; default the model's usual set (FP16, FP8, INT8, INT4 and GGUF types for GGUF).", choices: formatIds, accepts: isFormat, list: true },
    { name: 'allow-emulated', type: 'boolean', description: 'Also allow compute formats the target lacks (they run converted, with no speed gain).' },
    { name: 'fuse-qkv', type: 'boolean', description: 'Give the Q, K and V projections of a block one format (runtimes that fuse them need it).' },
    { name: 'sample', type: 'string', value: 'F', description: 'Read only this fraction (in (0, 1]) of each tensor for the sensitivity scores; faster, approximate.' },
    { name: 'measure', type: 'boolean', description: 'Measure per-layer sensitivity with onnxruntime-node instead of predicting it (ONNX models).' },
    { name: 'verify', type: 'boolean', description: "Apply and run candidate plans with onnxruntime-node and deliver the best measured one (default for ONNX models up to 256 MiB).", exclusive: 'verify' },
    { name: 'no-verify', type: 'boolean', description: "Deliver the solver's plan without running it.", exclusive: 'verify' },
    { name: 'text', type: 'string', value: 'FILE', description: 'Calibration text for --measure / --verify of a GGUF model in llama.cpp; default the bundled one.' },
    { name: 'eval-context', type: 'string', value: 'N', description: 'Evaluation chunk length in tokens for --measure / --verify of a GGUF model in llama.cpp (16 to 8192); default 128.' },
    { name: 'max-candidates', type: 'string', value: 'N', description: `Run at most N candidate plans when verifying; default ${DEFAULT_VERIFY_CANDIDATES}, at most ${MAX_VERIFY_CANDIDATES}.` },
    { name: 'targets-file', type: 'string', value: 'FILE', description: 'A JSON file of extra or overriding targets (see README, "Estimate memory and speed").' },
    { name: 'output', short: 'o', type: 'string', value: 'PLAN', description: 'Where to write the plan; default FILE.precision.json beside the model (pins in an existing plan are kept).', exclusive: 'output' },
    { name: 'dry-run', type: 'boolean', description: 'Print the plan summary without writing a file.', exclusive: 'output' },
    PROGRESS_OPTION,
    JSON_OPTION,
  ],
  required: ['target'],
  examples: ['precision-lens plan model.gguf --target rtx-4090 --context 8192', 'precision-lens plan model.onnx --target a18-pro --avg-bits 6 --dry-run --json'],
};

function size(flag: string, text: string): number {
  try {
    return parseByteSize(text);
  } catch (e) {
    throw new CliError(`--${flag}: ${(e as Error).message}`);
  }
}

/** Reads and parses a plan file (size-bounded). */
export async function readPlanFile(file: string): Promise<ParsedPlan> {
  return parsePlan(await readPlanText(file), path.basename(file));
}

/** A plan file's text (size-bounded). */
async function readPlanText(file: string): Promise<string> {
  const name = path.basename(file);
  const st = await fs.stat(file).catch(() => undefined);
  if (!st) throw new CliError(`${name}: the plan file does not exist.`);
  if (st.size > MAX_PLAN_TEXT_BYTES) throw new CliError(`${name}: the plan is ${st.size} bytes, more than the limit of ${MAX_PLAN_TEXT_BYTES}.`);
  return readRegularTextFile(file, MAX_PLAN_TEXT_BYTES);
}

/**
 * The entries of the plan at `file` that a new plan keeps: the pinned and the annotated ones (all that solvePlan
 * reads of a previous plan), as strings of their own. A text in which neither key can occur (no `"pinned"`, no
 * `"note"`, and no \u escape that could spell one) has none, and is not parsed: a 200,000-layer plan's parse
 * allocated ~300 MB and kept its 12 MB text alive through the names' slices.
 */
async function keptPlanEntries(file: string): Promise<PlanLayerEntry[]> {
  const text = await readPlanText(file);
  if (!text.includes('"pinned"') && !text.includes('"note"') && !text.includes('\\u')) return [];
  return (parsePlan(text, path.basename(file)).plan?.layers ?? [])
    .filter((e) => e.pinned === true || e.note !== undefined)
    .map((e) => ({ ...e, layer: flatString(e.layer), format: flatString(e.format), ...(e.note !== undefined ? { note: flatString(e.note) } : {}) }));
}

/**
 * A plan none of whose layers are in the model was made for another model: one line saying which, instead of one
 * "no layer named" error per entry.
 */
export function refusePlanForOtherModel(planName: string, planModelFile: string | undefined, layerNames: readonly string[], model: Model): void {
  // A loose plan naming no model (estimate --plan accepts those) keeps the per-layer errors.
  if (layerNames.length === 0 || planModelFile === undefined) return;
  const known = new Set(model.layers.map((l) => l.name));
  if (layerNames.some((n) => known.has(n))) return;
  const forWhat = planModelFile !== model.fileName ? `is for ${quoteArg(planModelFile)}, not '${model.fileName}'` : `is for another model than '${model.fileName}'`;
  throw new CliError(`${planName}: this plan ${forWhat}: none of its ${layerNames.length} layer${layerNames.length === 1 ? '' : 's'} (e.g. ${quoteArg(layerNames[0]!)}) is in the model; make one for it with precision-lens plan ${model.fileName} --target ID.`);
}

/** A plan checked against its model: the model is opened (from `--model` or beside the plan) and fingerprinted. */
export interface CheckedPlan {
  readonly parsed: ParsedPlan;
  readonly diagnostics: readonly PlanDiagnostic[];
  readonly model: Model;
  readonly modelPath: string;
  readonly target: Target | undefined;
  /** Layer → canonical format id for every layer with weights (core's `checkedAssignment`). */
  readonly assignment: Readonly<Record<string, string>>;
}

/** The plan of `parsed`; prints the parse diagnostics and throws CliError (exit 2) when it is not a valid plan. */
function requirePlan(name: string, parsed: ParsedPlan, io: CliOutput): PrecisionPlan {
  if (parsed.plan) return parsed.plan;
  for (const line of formatPlanDiagnostics(name, parsed.diagnostics)) io.err(line);
  throw new CliError(`${name}: the plan is not valid (${parsed.diagnostics.filter((d) => d.severity === 'error').length} error(s)).`);
}

/** Checks a parsed plan with core's `checkedAssignment`; prints its diagnostics and throws CliError (exit 2) on errors. */
function checkParsedPlan(name: string, parsed: ParsedPlan, model: Model, fingerprint: string, io: CliOutput, user: readonly Target[]): Omit<CheckedPlan, 'modelPath'> {
  const plan = requirePlan(name, parsed, io);
  refusePlanForOtherModel(name, plan.model.file, plan.layers.map((e) => e.layer), model);
  const checked = checkedAssignment({ parsed, fileName: name, model, fingerprint, targets: mergeTargets(TARGETS, user) });
  for (const line of formatPlanDiagnostics(name, checked.diagnostics)) io.err(line);
  if (checked.hasErrors) throw new CliError(`${name}: the plan has ${checked.diagnostics.filter((d) => d.severity === 'error').length} error(s); fix them or re-run precision-lens plan.`);
  return { parsed, diagnostics: checked.diagnostics, model, target: checked.target, assignment: checked.assignment };
}

/** Reads the plan at `planPath` and checks it against an open model (fingerprint, layers, formats, target). */
export async function checkPlanFile(planPath: string, model: Model, fingerprint: string, io: CliOutput, user: readonly Target[]): Promise<Omit<CheckedPlan, 'modelPath'>> {
  return checkParsedPlan(path.basename(planPath), await readPlanFile(planPath), model, fingerprint, io, user);
}

/**
 * Opens the plan's model (`modelPath` or beside the plan), checks the plan and throws CliError (exit 2) on errors.
 * With `wholeOnnx` an ONNX model is read whole, once, and its bytes returned (`apply` rewrites and runs them).
 */
export async function loadCheckedPlan(planPath: string, modelPath: string | undefined, io: CliOutput, targetsFile?: string, options: { readonly wholeOnnx?: boolean } = {}): Promise<CheckedPlan & { readonly bytes?: Uint8Array }> {
  const name = path.basename(planPath);
  const parsed = await readPlanFile(planPath);
  const plan = requirePlan(name, parsed, io);
  // A plan names its model relative to its own folder; like external data it may not leave that folder (issue 14:
  // `"file": "../outside/x.onnx"` was opened and parsed). An explicit --model is the user's own choice.
  const mp = modelPath ?? (await resolveInsideFolder(await fs.realpath(path.dirname(path.resolve(planPath))), plan.model.file, name, 'model file'));
  const opened = options.wholeOnnx ? await openModelFileWhole(mp) : { ...(await openModelFile(mp)), bytes: undefined };
  let model: Model;
  let fingerprint: string;
  try {
    model = await openModel(opened.source, { siblings: opened.siblings });
    fingerprint = await modelFingerprint(opened.source, model.files);
  } finally {
    await opened.close();
  }
  const user = await loadTargetsFile(targetsFile);
  return { ...checkParsedPlan(name, parsed, model, fingerprint, io, user), modelPath: mp, ...(opened.bytes ? { bytes: opened.bytes } : {}) };
}

type PlanStringOption = 'budget' | 'avg-bits' | 'weight-budget' | 'kv-format' | 'formats' | 'sample' | 'text' | 'targets-file' | 'output';
type PlanFlag = 'allow-emulated' | 'fuse-qkv' | 'measure' | 'verify' | 'no-verify' | 'dry-run' | 'json';
/** `plan`'s parsed options, typed (the table in {@link planSpec} is what parses them). */
type PlanValues = { readonly target: string } & { readonly [K in PlanStringOption]: string | undefined } & { readonly [K in PlanFlag]: boolean };

function planOptions(v: OptionValues): PlanValues {
  const strings: PlanStringOption[] = ['budget', 'avg-bits', 'weight-budget', 'kv-format', 'formats', 'sample', 'text', 'targets-file', 'output'];
  const flags: PlanFlag[] = ['allow-emulated', 'fuse-qkv', 'measure', 'verify', 'no-verify', 'dry-run', 'json'];
  return Object.fromEntries([['target', str(v, 'target')!], ...strings.map((k) => [k, str(v, k)]), ...flags.map((k) => [k, flag(v, k)])]) as PlanValues;
}

/**
 * A `--budget` above what the target has cannot be met: refused with the reason rather than planned against
 * memory that does not exist (`--budget 24GB` on an 8 GB phone).
 */
function refuseBudgetBeyondTarget(budget: PlanBudget, text: string | undefined, target: Target, devices: number): void {
  if (typeof budget !== 'object' || !('bytes' in budget)) return;
  const capacity = target.memoryBytes * devices;
  if (budget.bytes > capacity) {
    throw new CliError(`--budget ${quoteArg(text ?? '')} (${formatBytes(budget.bytes)}) is more than ${target.id} has: ${formatBytes(target.memoryBytes)}${devices > 1 ? ` × ${devices} devices = ${formatBytes(capacity)}` : ''}; give a budget up to that, or more --devices.`);
  }
}

/** `plan`'s run settings from its options, each checked (CliError, exit 2, naming the option). */
interface PlanSettings {
  readonly budget: PlanBudget;
  readonly devices: number;
  readonly context: number | undefined;
  readonly evalContext: number | undefined;
  readonly batch: number;
  readonly kvFormat: string;
  readonly sample: number | undefined;
  readonly target: Target;
  readonly allowEmulated: boolean;
  readonly maxCandidates: number;
}

async function planSettings(values: PlanValues, optionValues: OptionValues): Promise<PlanSettings> {
  const targetSpec = values.target;
  if (targetSpec.split(',').filter((s) => s.trim().length > 0).length > 1) {
    throw new CliError(`plan: --target ${quoteArg(targetSpec)} names several targets, but a plan is for one target (its formats, budget and speed depend on it); run plan once per target with its own -o, or compare targets with precision-lens estimate --target ${quoteArg(targetSpec)}.`);
  }
  let budget: PlanBudget = 'capacity';
  if (values.budget !== undefined) budget = { bytes: size('budget', values.budget) };
  if (values['weight-budget'] !== undefined) budget = { weightBytes: size('weight-budget', values['weight-budget']) };
  if (values['avg-bits'] !== undefined) {
    const b = Number(values['avg-bits']);
    if (!(b > 0 && b <= 64)) throw new CliError(`--avg-bits must be a number above 0 and at most 64, got ${quoteArg(values['avg-bits'])}.`);
    budget = { avgBits: b };
  }
  const devices = positiveInt(optionValues, 'devices') ?? 1;
  const context = positiveInt(optionValues, 'context');
  const evalContext = positiveInt(optionValues, 'eval-context');
  if (evalContext !== undefined && (evalContext < 16 || evalContext > MAX_EVAL_CONTEXT)) throw new CliError(`--eval-context must be a whole number from 16 to ${MAX_EVAL_CONTEXT}, got ${evalContext}.`);
  const batch = positiveInt(optionValues, 'batch') ?? 1;
  const kvFormat = values['kv-format'] ?? 'fp16';
  const sample = values.sample !== undefined ? Number(values.sample) : undefined;
  if (sample !== undefined && !(sample > 0 && sample <= 1)) throw new CliError(`--sample must be in (0, 1], got ${quoteArg(values.sample!)}.`);
  const user = await loadTargetsFile(values['targets-file']);
  const target = resolveTargets(targetSpec, user)[0]!;
  refuseBudgetBeyondTarget(budget, values.budget, target, devices);
  const allowEmulated = values['allow-emulated'] === true;
  const maxCandidates = positiveInt(optionValues, 'max-candidates') ?? DEFAULT_VERIFY_CANDIDATES;
  if (maxCandidates > MAX_VERIFY_CANDIDATES) throw new CliError(`--max-candidates must be at most ${MAX_VERIFY_CANDIDATES}, got ${maxCandidates}.`);
  return { budget, devices, context, evalContext, batch, kvFormat, sample, target, allowEmulated, maxCandidates };
}

/** The opened model and what the plan is built from: candidate formats, the previous plan's entries, baselines. */
interface PlanModel {
  readonly model: Model;
  readonly fingerprint: string;
  readonly constants: Readonly<Record<string, readonly number[]>>;
  readonly formats: string[];
  readonly outPath: string;
  readonly previous: readonly PlanLayerEntry[];
  readonly pinned: Record<string, string>;
  readonly baselineList: readonly Baseline[];
  /** Formats to score: the candidates, the baselines' and (GGUF) llama-quantize's fallback types. */
  readonly scored: string[];
}

async function planModel(opened: { source: ByteSource; siblings: SiblingResolver }, modelPath: string, values: PlanValues, s: PlanSettings): Promise<PlanModel> {
  const model = await openModel(opened.source, { siblings: opened.siblings });
  const fingerprint = await modelFingerprint(opened.source, model.files);
  const constants = model.graphs.length > 0 ? await readShapeConstants(model, opened.source, opened.siblings) : {};
  let formats = values.formats ? values.formats.split(',').map((f) => f.trim()).filter(Boolean) : defaultCandidateFormats(model);
  formats = allowedFormats(formats, s.target, s.allowEmulated);
  if (formats.length === 0) throw new CliError(`none of the candidate formats runs on ${s.target.id}; add weight-only formats to --formats or pass --allow-emulated.`);
  // Pins and notes from an existing plan at the output path are kept.
  const outPath = values.output ?? path.join(path.dirname(path.resolve(modelPath)), planFileNameFor(model.fileName));
  const existing = await fs.stat(outPath).then((st) => st.isFile(), () => false);
  const previous = existing ? await keptPlanEntries(outPath) : [];
  const pinned: Record<string, string> = {};
  for (const e of previous) if (e.pinned) setOwn(pinned, e.layer, e.format);
  // Score the baselines' formats too, so the comparison table has their predicted harm.
  const baselineList = standardBaselines(model, { native: s.target.native, allowEmulated: s.allowEmulated });
  // Set by set, baseline by baseline: one array of every baseline's entries is a million strings at 200,000 layers.
  const listedSet = new Set(formats);
  for (const b of baselineList) for (const f of baselineFormats(b)) listedSet.add(f);
  const listed = [...listedSet];
  // GGUF: llama-quantize's fallback types for rows a format's block does not divide are what the solver offers there.
  const scored = [...new Set([...listed, ...ggufFallbackFormats(model, listed)])];
  return { model, fingerprint, constants, formats, outPath, previous, pinned, baselineList, scored };
}

/** `s` as a string of its own (not a slice of the text it was parsed from, which it would keep alive). */
function flatString(s: string): string {
  return s.length > 0 ? (' ' + s).slice(1) : s;
}

/** A plan's static sensitivity: the full report when it measures or verifies, else the columnar scores. */
type PlanSensitivity = SensitivityReport | SensitivityScoresReport;

/** The full report of a plan that measures or verifies (planCommand analyzes those with per-layer records). */
function fullReport(r: PlanSensitivity): SensitivityReport {
  if (!('layers' in r)) throw new NodeError('internal', 'A plan that measures or verifies needs the full sensitivity report.');
  return r;
}

/** The harm the solver plans with: static, measured in onnxruntime (--measure) or in llama.cpp (GGUF), and what verifies it. */
interface PlanHarm {
  readonly harm: HarmFunction;
  readonly staticHarm: HarmFunction;
  readonly measured: SensitivityReport | undefined;
  readonly gguf: GgufPlanMeasurement | undefined;
  readonly reference: PlanReference | undefined;
  readonly wantVerify: boolean;
}

async function planHarm(modelPath: string, m: PlanModel, analysis: PlanSensitivity, staticHarm: HarmFunction, values: PlanValues, s: PlanSettings, io: CliOutput, progress: ReturnType<typeof createProgress>, disposers: (() => void)[]): Promise<PlanHarm> {
  const { model, scored } = m;
  // --verify (and --measure unless --no-verify), ONNX: candidate plans are applied and run with onnxruntime-node.
  // The reference run fixes the calibration samples (more for tiny outputs) that --measure then uses too.
  // Small ONNX models are verified by default (a few seconds of CPU): the delivered plan is then never worse, measured,
  // than a baseline that fits the same budget. --no-verify skips it; larger models verify on request only.
  const autoVerify = model.format === 'onnx' && values.verify !== true && values.measure !== true && values['no-verify'] !== true && model.totalFileBytes <= AUTO_VERIFY_MAX_BYTES;
  const wantVerify = values.verify === true || autoVerify || (values.measure === true && values['no-verify'] !== true);
  if ((values.measure || values.verify) && model.format !== 'onnx' && model.format !== 'gguf') io.err(`warning: --measure and --verify need an ONNX or GGUF model; using static sensitivity for ${model.format}.`);
  if (values.text !== undefined && model.format !== 'gguf') throw new CliError('--text needs a GGUF model (the calibration text for llama.cpp).');
  if (s.evalContext !== undefined && !(model.format === 'gguf' && (values.measure || values.verify))) throw new CliError('--eval-context needs a GGUF model and --measure or --verify (it is the llama.cpp evaluation chunk length).');
  // GGUF (--measure / --verify): llama.cpp on a calibration text; KL of the next-token distributions.
  let gguf: GgufPlanMeasurement | undefined;
  if (model.format === 'gguf' && (values.measure || values.verify)) {
    try {
      gguf = await measureGgufForPlan(path.resolve(modelPath), fullReport(analysis), { measure: values.measure === true, formats: scored, ...(values.text !== undefined ? { textFile: values.text } : {}), ...(s.evalContext !== undefined ? { contextSize: s.evalContext } : {}), progress });
    } catch (e) {
      if (e instanceof NodeError) throw new CliError(e.message);
      throw e;
    }
    const evaluator = gguf.session.evaluator;
    disposers.push(() => evaluator.dispose());
  }
  let reference: PlanReference | undefined;
  if (model.format === 'onnx' && (values.measure || wantVerify)) {
    try {
      reference = await planReference(path.resolve(modelPath), model, { onProgress: (done, total) => progress.update('reference run', done, total, `${done}/${total} samples`) });
    } catch (e) {
      if (values.verify === true && !values.measure) throw e instanceof NodeError ? new CliError(e.message) : e;
      io.err(`warning: ${autoVerify ? 'the plan was not verified: ' : ''}${(e as Error).message.split('\n')[0]}`);
    }
  }
  // --measure (ONNX): per-layer output SQNR measured with onnxruntime-node replaces the static prediction.
  const measured = values.measure && model.format === 'onnx'
    ? await measureSensitivity(path.resolve(modelPath), {
      formats: scored, staticReport: fullReport(analysis), ...(reference ? { samples: reference.samples.length } : {}),
      onProgress: (p) => progress.update('measuring', p.pairsDone, p.pairsTotal, `${p.pairsDone}/${p.pairsTotal} layer × format pairs`),
    })
    : undefined;
  const harm = gguf ? gguf.harm : measured ? harmFromSensitivity(measured, { prefer: 'measured' }) : staticHarm;
  return { harm, staticHarm, measured, gguf, reference, wantVerify };
}

/** True when even the smallest allowed formats miss the budget (the solve's feasibility, which no harm changes). */
function nothingFits(model: PlanModel['model'], input: SolvePlanInput): boolean {
  try {
    return solvePlan(model, input).result.status === 'infeasible';
  } catch (e) {
    if (e instanceof EstimateError) return false; // the real solve reports it
    throw e;
  }
}

/** The solved plan, with the assignment a verification measured best (ONNX in onnxruntime, GGUF in llama.cpp). */
async function solveAndVerify(modelPath: string, m: PlanModel, analysis: PlanSensitivity, h: PlanHarm, input: SolvePlanInput, values: PlanValues, s: PlanSettings, io: CliOutput, progress: ReturnType<typeof createProgress>): Promise<{ solved: SolvedPlan; verification: VerifyPlanResult | undefined; ggufVerification: GgufVerifyResult | undefined }> {
  const { model, formats, pinned, baselineList } = m;
  const { target, allowEmulated, maxCandidates } = s;
  let solved: SolvedPlan;
  try {
    solved = solvePlan(model, input);
  } catch (e) {
    if (e instanceof EstimateError) throw new CliError(e.message);
    throw e;
  }
  const result = solved.result;
  // Verification: measure the solver's plan against the baselines that fit and local-search steps; deliver the best.
  let verification: VerifyPlanResult | undefined;
  if (h.wantVerify && h.reference && result.status !== 'infeasible') {
    verification = await verifyPlan(path.resolve(modelPath), model, {
      weightBudgetBytes: result.budget.weightBudgetBytes, harm: h.harm, ...(h.measured ? { alternativeHarms: [{ id: 'static', harm: h.staticHarm }] } : {}),
      formats, native: target.native, allowEmulated, pinned, ...(values['fuse-qkv'] ? { fuse: { qkv: true } } : {}),
      solverAssignment: result.assignment, baselines: baselineList, reference: h.reference, maxCandidates,
      onProgress: (p) => progress.update('verifying', p.done, p.total, `${p.done}/${p.total} candidate plans, ${p.message}`),
    }).catch((e: Error) => {
      io.err(`warning: the plan was not verified: ${e.message.split('\n')[0]}`);
      return undefined;
    });
    if (verification) solved = replacePlanAssignment(model, input, solved, verification.best.assignment);
  }
  // GGUF: the solver's plan, the uniform ggml types and llama.cpp's mixes at equal size, measured in llama.cpp.
  let ggufVerification: GgufVerifyResult | undefined;
  if (h.gguf && values['no-verify'] !== true && result.status !== 'infeasible') {
    ggufVerification = await verifyGgufForPlan(path.resolve(modelPath), model, h.gguf, fullReport(analysis), {
      weightBudgetBytes: result.budget.weightBudgetBytes, formats, pinned, native: target.native, allowEmulated, solverAssignment: result.assignment, maxCandidates: Math.max(maxCandidates, 24), progress,
    });
    solved = replacePlanAssignment(model, input, solved, ggufVerification.best.assignment);
  }
  return { solved, verification, ggufVerification };
}

/** What `plan` prints: the solved plan, its verification and the plan written (or not). */
interface PlanOutcome {
  readonly m: PlanModel;
  readonly report: PlanSensitivity;
  readonly h: PlanHarm;
  readonly solved: SolvedPlan;
  readonly verification: VerifyPlanResult | undefined;
  readonly ggufVerification: GgufVerifyResult | undefined;
  readonly plan: PrecisionPlan | undefined;
}

function printPlanJson(o: PlanOutcome, values: PlanValues, io: CliOutput): number {
  const { m, report, solved, verification, ggufVerification, plan } = o;
  const result = solved.result;
  const feasible = result.status !== 'infeasible';
  const finalBytes = assignmentWeightBytes(m.model, solved.assignment);
  const finalHarm = assignmentHarm(m.model, solved.assignment, o.h.harm) ?? result.harm;
  writeJson(io, {
    file: m.model.fileName,
    planFile: feasible && !values['dry-run'] ? m.outPath : null,
    plan: plan ?? null,
    solver: { status: result.status, harm: result.harm, predictedOutputSqnrDb: harmToSqnrDb(result.harm), lowerBound: result.lowerBound, gap: result.gap, weightBytes: result.weightBytes, groups: result.groupCount, fusedGroups: result.fusedGroupCount, freeGroups: result.freeGroups, states: result.states, formats: result.formats, notes: result.notes },
    verification: verification ? verificationJson(verification) : ggufVerification ? ggufVerificationJson(ggufVerification) : null,
    delivered: { weightBytes: finalBytes, harm: finalHarm, predictedOutputSqnrDb: harmToSqnrDb(finalHarm), measuredOutputSqnrDb: verification?.best.measuredSqnrDb ?? null, ...(ggufVerification?.best.measured ? { measuredKl: ggufVerification.best.measured.klDivergence, measuredPerplexity: ggufVerification.best.measured.perplexity, top1Agreement: ggufVerification.best.measured.top1Agreement } : {}), source: verification?.best.id ?? ggufVerification?.best.id ?? 'solver' },
    budget: result.budget,
    estimate: solved.estimate,
    frontier: result.frontier,
    baselines: solved.baselines,
    suggestions: result.suggestions,
    sensitivity: { formats: report.formats, sampled: report.sampled ?? null, warnings: report.warnings },
  });
  return feasible ? 0 : 2;
}

function printPlanText(o: PlanOutcome, values: PlanValues, s: PlanSettings, io: CliOutput): number {
  const { m, report, solved, verification, ggufVerification } = o;
  const { devices, target, budget } = s;
  const result = solved.result;
  const finalEstimate = solved.estimate;
  const b = result.budget;
  io.out(`${m.model.fileName} on ${devices > 1 ? `${devices} × ` : ''}${target.id} · ${runDescription(result.estimate)}`);
  io.out(`budget for layer weights: ${formatBytes(b.weightBudgetBytes)} (${b.kind === 'capacity' || b.kind === 'bytes' ? `memory ${formatBytes(b.memoryBytes ?? 0)}${result.estimate.generative ? ` − KV ${formatBytes(b.kvCacheBytes)}` : ''} − activations ${result.estimate.unknownParts.includes('activations') ? 'unknown' : formatBytes(b.activationBytes)} − overhead ${formatBytes(b.overheadBytes)} − other tensors ${formatBytes(b.outsideBytes)}` : b.kind === 'avgBits' ? `${(budget as { avgBits: number }).avgBits} bits per weight` : 'explicit weight budget'})`);
  if (result.status === 'infeasible') {
    io.err(`precision-lens: nothing fits: the smallest allowed layer weights take ${formatBytes(result.minWeightBytes)}, ${formatBytes(result.shortfallBytes)} more than the budget.`);
    for (const sg of result.suggestions) io.err(`  - ${sg.message}`);
    return 2;
  }
  const counts = new Map<string, number>();
  // Object.values' order, by key: for 200,000 keys Object.values took ~2.5× as long as the keys and a lookup each (a
  // key from Object.keys is own, so indexing reads that property, `__proto__` included).
  const assignment = solved.assignment;
  for (const name of Object.keys(assignment)) {
    const id = assignment[name]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  io.out(`solution: ${formatBytes(result.weightBytes)} of layer weights, predicted output SQNR ${formatDb(harmToSqnrDb(result.harm))} (harm ${result.harm.toPrecision(4)}), ${result.status === 'optimal' ? 'proven optimal' : `within ${result.gap.toPrecision(3)} of optimal`}${verification ? '' : ` · ${formatCounts(counts)}`}`);
  if (verification) for (const line of verificationLines(verification, counts)) io.out(line);
  if (ggufVerification) for (const line of ggufVerificationLines(ggufVerification, o.h.gguf!.harmUnit, counts)) io.out(line);
  io.out(`estimate: total ${totalCell(finalEstimate)} of ${formatBytes(finalEstimate.capacityBytes * devices)} · fits ${finalEstimate.fits || finalEstimate.devicesNeeded <= devices ? 'yes' : 'no'} · ${speedSummary(finalEstimate)}`);
  for (const n of figureNotes(finalEstimate, target)) io.out(`note: ${n}`);
  io.out('');
  // ONNX verified: each baseline's output SQNR measured in the same run, beside its prediction ('–': not run, it does not fit).
  const measuredBaseline = new Map((verification?.candidates ?? []).filter((c) => c.origin === 'baseline').map((c) => [c.id, c.measuredSqnrDb]));
  io.out(renderTable(
    ['baseline', 'weights', 'pred. SQNR', ...(verification ? ['meas. SQNR'] : []), 'solver at same memory'],
    solved.baselines.map((x) => [x.label, formatBytes(x.weightBytes), x.harm === null ? 'n/a' : formatDb(harmToSqnrDb(x.harm)), ...(verification ? [measuredBaseline.has(x.id) ? db(measuredBaseline.get(x.id)) : '–'] : []), x.solverHarmAtSameBytes === null ? 'n/a' : `${formatDb(harmToSqnrDb(x.solverHarmAtSameBytes))} in ${formatBytes(x.solverWeightBytes)}`]),
    verification ? [1, 2, 3, 4] : [1, 2, 3],
  ));
  if (o.plan?.measurement?.metric === 'output-sqnr-db' && o.plan.measurement.layers?.length) for (const line of measuredLayerLines(o.plan.measurement)) io.out(line);
  for (const n of result.notes) io.out(`note: ${n}`);
  for (const w of report.warnings.slice(0, 5)) io.out(`warning: ${w}`);
  io.out(values['dry-run'] ? 'dry run: no plan written.' : `wrote ${m.outPath}`);
  return 0;
}

/**
 * `precision-lens plan`: settings → model and candidates → static sensitivity → harm (static or measured) →
 * solve and verify → write the plan → print it. Each step is a function above.
 */
export async function planCommand(optionValues: OptionValues, positionals: readonly string[], io: CliOutput): Promise<number> {
  const values = planOptions(optionValues);
  const s = await planSettings(values, optionValues);
  const progress = createProgress(io, flag(optionValues, 'progress') || io.errIsTTY === true);
  const modelPath = positionals[0]!;
  const opened = await openModelFile(modelPath);
  const disposers: (() => void)[] = [];
  try {
    const m = await planModel(opened, modelPath, values, s);
    const { model } = m;
    // Measuring or verifying compares per-layer records of the full report; otherwise the plan needs only the
    // static scores, kept columnar (a record per layer and format cost ~3 KB of heap per layer at 200,000 layers).
    const needsReport = values.measure === true || values.verify === true || (model.format === 'onnx' && values['no-verify'] !== true);
    // This thread only waits for the analysis: it takes a share of the chunks, with one worker fewer (as
    // `sensitivity`; the launcher starts that many early, prestartedWorkers.ts).
    const sensitivityOptions = {
      formats: m.scored, mainThreadShare: true, ...(s.sample !== undefined ? { sample: s.sample } : {}),
      onProgress: (p: SensitivityProgress) => progress.update('sensitivity', p.bytesDone, Math.max(1, p.bytesTotal), `${Math.round((100 * p.bytesDone) / Math.max(1, p.bytesTotal))}% of the weights (${p.tensorsDone}/${p.tensorsTotal} tensors)`),
    };
    const openedModel = { model, source: opened.source, siblings: opened.siblings };
    const report: PlanSensitivity = needsReport ? await analyzeModelSensitivity(openedModel, sensitivityOptions) : await analyzeModelScores(openedModel, sensitivityOptions);
    const staticHarm = 'layers' in report ? harmFromSensitivity(report) : harmFromScores(report.scores);
    const staticInput: SolvePlanInput = {
      target: s.target, devices: s.devices, budget: s.budget, batch: s.batch, kvFormat: s.kvFormat, harm: staticHarm, formats: m.formats, allowEmulated: s.allowEmulated,
      constants: m.constants, fingerprint: m.fingerprint, previous: m.previous, baselines: m.baselineList,
      ...(s.context !== undefined ? { context: s.context } : {}),
      ...(values['fuse-qkv'] ? { fuse: { qkv: true } } : {}),
      // Only --json prints the estimate's per-layer list.
      ...(values.json ? {} : { perLayer: false }),
    };
    // Whether anything fits does not depend on the harm: an impossible budget is reported before minutes of
    // measurement in llama.cpp or onnxruntime are spent on it.
    const impossible = (values.measure === true || values.verify === true) && nothingFits(model, staticInput);
    if (impossible) io.err(`note: nothing was measured: no plan fits this budget, whatever the measurement.`);
    const h: PlanHarm = impossible
      ? { harm: staticInput.harm, staticHarm: staticInput.harm, measured: undefined, gguf: undefined, reference: undefined, wantVerify: false }
      : await planHarm(modelPath, m, report, staticHarm, values, s, io, progress, disposers);
    const input: SolvePlanInput = { ...staticInput, harm: h.harm };
    const { solved, verification, ggufVerification } = await solveAndVerify(modelPath, m, report, h, input, values, s, io, progress);
    // The plan file records what was measured (GGUF in llama.cpp: KL; ONNX in onnxruntime-node: output SQNR), so
    // reopening it shows predicted beside measured without rerunning.
    const onnxRecord = solved.plan && model.format === 'onnx' && (verification || h.measured)
      ? onnxPlanRecord({ model, assignment: solved.assignment, staticReport: fullReport(report), ...(verification ? { verification } : {}), ...(h.measured ? { measured: h.measured } : {}) })
      : undefined;
    const plan = solved.plan && ggufVerification ? { ...solved.plan, measurement: ggufMeasurementRecord(ggufVerification, h.gguf!) }
      : solved.plan && onnxRecord ? { ...solved.plan, measurement: onnxRecord }
      : solved.plan;
    // Written in pieces (serializePlanChunks): the whole text of a 200,000-layer plan is never held at once.
    const planFile = plan && { path: m.outPath, write: async (handle: FileHandle): Promise<void> => {
      // writeFile writes each piece whole, from where the previous one ended.
      for (const chunk of serializePlanChunks(plan)) await handle.writeFile(chunk);
    } };
    if (planFile && !values['dry-run']) await writeOutputFiles([planFile], { inputs: [modelPath, ...modelDataFiles(modelPath, model), ...(values['targets-file'] ? [values['targets-file']] : [])] });
    const outcome: PlanOutcome = { m, report, h, solved, verification, ggufVerification, plan };
    return values.json ? printPlanJson(outcome, values, io) : printPlanText(outcome, values, s, io);
  } finally {
    for (const d of disposers) d();
    await opened.close();
  }
}

function formatCounts(counts: ReadonlyMap<string, number>): string {
  return [...counts].sort((a, c) => c[1] - a[1]).map(([id, n]) => `${id === KEEP_FORMAT ? 'as stored' : id} ×${n}`).join(', ');
}

const db = (x: number | undefined): string => (x === undefined ? 'n/a' : formatDb(x));

/** Text report of a verification: what was delivered, what it beat. */
function verificationLines(v: VerifyPlanResult, counts: ReadonlyMap<string, number>): string[] {
  const baselines = v.candidates.filter((c) => c.origin === 'baseline' && c.measuredSqnrDb !== undefined);
  const lines = [
    `verified with onnxruntime-node (${v.candidates.length} candidate plan${v.candidates.length === 1 ? '' : 's'}, ${v.samples} samples, ${(v.elapsedMs / 1000).toFixed(1)} s${v.stopped === 'cap' ? ', stopped at --max-candidates' : ''}): output SQNR predicted ${db(v.best.predictedHarm === undefined ? undefined : harmToSqnrDb(v.best.predictedHarm))} · measured ${db(v.best.measuredSqnrDb)}${v.best.id === 'solver' ? ' (the solver\'s plan)' : ` with ${v.best.label}, the solver's plan measured ${db(v.solver.measuredSqnrDb)}`}`,
    `delivered: ${formatBytes(v.best.weightBytes)} of layer weights · ${formatCounts(counts)}`,
  ];
  if (baselines.length) lines.push(`measured baselines that fit: ${baselines.map((c) => `${c.id} ${db(c.measuredSqnrDb)}${v.beats.includes(c.id) ? '' : ' (better)'}`).join(', ')}`);
  const failed = v.candidates.filter((c) => c.error !== undefined);
  if (failed.length) lines.push(`note: ${failed.length} candidate(s) could not be applied or run: ${failed[0]!.id}: ${failed[0]!.error}`);
  return lines;
}

/**
 * ONNX `--measure`: each layer alone in its planned format, output SQNR predicted (static score) beside measured
 * (onnxruntime-node), the 10 most harmed first, and Spearman ρ over all of them (from the plan file's record).
 */
function measuredLayerLines(m: PlanSqnrMeasurement): string[] {
  const layers = m.layers ?? [];
  const paired = layers.filter((l) => l.predictedSqnrDb !== undefined);
  const rho = paired.length >= 3 ? spearman(paired.map((l) => l.predictedSqnrDb!), paired.map((l) => l.measuredSqnrDb)) : undefined;
  const worst = [...layers].sort((a, b) => a.measuredSqnrDb - b.measuredSqnrDb).slice(0, 10);
  return [
    '',
    `layers alone in their planned format, output SQNR measured with ${m.runtime} (${layers.length} layer${layers.length === 1 ? '' : 's'}${rho !== undefined ? `; Spearman ρ predicted vs measured ${rho.toFixed(2)}` : ''}):`,
    renderTable(['layer', 'format', 'predicted', 'measured'], worst.map((l) => [l.layer, l.format, db(l.predictedSqnrDb), db(l.measuredSqnrDb)]), [2, 3]),
  ];
}

/** JSON view of a verification (assignments of the delivered plan only; it is also the plan). */
function verificationJson(v: VerifyPlanResult): unknown {
  return {
    delivered: v.best.id,
    measuredOutputSqnrDb: v.best.measuredSqnrDb ?? null,
    solverMeasuredOutputSqnrDb: v.solver.measuredSqnrDb ?? null,
    gainOverSolverDb: v.gainOverSolverDb,
    beats: v.beats,
    candidates: v.candidates.map((c) => ({ id: c.id, label: c.label, origin: c.origin, weightBytes: c.weightBytes, predictedHarm: c.predictedHarm ?? null, measuredOutputSqnrDb: c.measuredSqnrDb ?? null, ...(c.error !== undefined ? { error: c.error } : {}) })),
    inputs: v.inputs,
    outputs: v.outputs,
    samples: v.samples,
    rounds: v.rounds,
    stopped: v.stopped,
    elapsedMs: v.elapsedMs,
  };
}
