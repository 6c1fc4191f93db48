import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  setOwn, EstimateError,
  KEEP_FORMAT,
  MAX_PLAN_TEXT_BYTES,
  TARGETS,
  allowedFormats,
  assignmentHarm,
  assignmentWeightBytes,
  checkedAssignment,
  defaultCandidateFormats,
  formatBytes,
  formatPlanDiagnostics,
  getNumberFormat,
  harmFromSensitivity,
  harmToSqnrDb,
  mergeTargets,
  modelFingerprint,
  openModel,
  parseByteSize,
  parsePlan,
  planFileNameFor,
  readShapeConstants,
  replacePlanAssignment,
  serializePlan,
  solvePlan,
  standardBaselines,
  type Model,
  type ParsedPlan,
  type PlanBudget,
  type PlanDiagnostic,
  type PrecisionPlan,
  type SolvedPlan,
  type SolvePlanInput,
  type Target,
} from '../../core';
import { openModelFile, readRegularTextFile } from '../../node/fileByteSource';
import { measureSensitivity } from '../../node/measure';
import { DEFAULT_VERIFY_CANDIDATES, MAX_VERIFY_CANDIDATES, planReference, verifyPlan, type PlanReference, type VerifyPlanResult } from '../../node/planVerify';
import { analyzeModelSensitivity } from '../../node/sensitivityRunner';
import { modelDataFiles, writeOutputFile } from '../../node/safeOutput';
import { CliError, renderTable, type CliOutput } from '../io';
import { ggufMeasurementRecord, ggufVerificationJson, ggufVerificationLines, measureGgufForPlan, verifyGgufForPlan, type GgufPlanMeasurement } from './planGguf';
import type { GgufVerifyResult } from '../../node/ggufVerify';
import { resolveTargets } from './estimate';
import { loadTargetsFile } from './targets';

/** ONNX models up to this size are verified with onnxruntime-node by default (`--no-verify` skips it). */
export const AUTO_VERIFY_MAX_BYTES = 256 * 1024 * 1024;

export const planUsage =
  'precision-lens plan FILE --target ID [--budget SIZE | --avg-bits B | --weight-budget SIZE] [--devices N] [--context N] [--batch N] [--kv-format F] [--formats a,b] [--allow-emulated] [--fuse-qkv] [--sample F] [--measure] [--verify | --no-verify] [--text FILE] [--max-candidates N] [--targets-file FILE] [-o PLAN | --dry-run] [--json]';

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) throw new CliError(`--${flag} must be a positive whole number, got '${text.slice(0, 40)}'.`);
  return Number(text);
}

function size(flag: string, text: string): number {
  try {
    return parseByteSize(text);
  } catch (e) {
    throw new CliError(`--${flag}: ${(e as Error).message}`);
  }
}

/** Reads and parses a plan file (size-bounded). */
export async function readPlanFile(file: string): Promise<ParsedPlan> {
  const name = path.basename(file);
  const st = await fs.stat(file).catch(() => undefined);
  if (!st) throw new CliError(`${name}: the plan file does not exist.`);
  if (st.size > MAX_PLAN_TEXT_BYTES) throw new CliError(`${name}: the plan is ${st.size} bytes, more than the limit of ${MAX_PLAN_TEXT_BYTES}.`);
  return parsePlan(await readRegularTextFile(file, MAX_PLAN_TEXT_BYTES), name);
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
  requirePlan(name, parsed, io);
  const checked = checkedAssignment({ parsed, fileName: name, model, fingerprint, targets: mergeTargets(TARGETS, user) });
  for (const line of formatPlanDiagnostics(name, checked.diagnostics)) io.err(line);
  if (checked.hasErrors) throw new CliError(`${name}: the plan has ${checked.diagnostics.filter((d) => d.severity === 'error').length} error(s); fix them or re-run precision-lens plan.`);
  return { parsed, diagnostics: checked.diagnostics, model, target: checked.target, assignment: checked.assignment };
}

/** Reads the plan at `planPath` and checks it against an open model (fingerprint, layers, formats, target). */
export async function checkPlanFile(planPath: string, model: Model, fingerprint: string, io: CliOutput, user: readonly Target[]): Promise<Omit<CheckedPlan, 'modelPath'>> {
  return checkParsedPlan(path.basename(planPath), await readPlanFile(planPath), model, fingerprint, io, user);
}

/** Opens the plan's model (`modelPath` or beside the plan), checks the plan and throws CliError (exit 2) on errors. */
export async function loadCheckedPlan(planPath: string, modelPath: string | undefined, io: CliOutput, targetsFile?: string): Promise<CheckedPlan> {
  const name = path.basename(planPath);
  const parsed = await readPlanFile(planPath);
  const plan = requirePlan(name, parsed, io);
  const mp = modelPath ?? path.join(path.dirname(path.resolve(planPath)), plan.model.file);
  const opened = await openModelFile(mp);
  let model: Model;
  let fingerprint: string;
  try {
    model = await openModel(opened.source, { siblings: opened.siblings });
    fingerprint = await modelFingerprint(opened.source, model.files);
  } finally {
    await opened.close();
  }
  const user = await loadTargetsFile(targetsFile);
  return { ...checkParsedPlan(name, parsed, model, fingerprint, io, user), modelPath: mp };
}

/** `precision-lens plan`: choose a format per layer for a target and write the plan file. */
export async function planCommand(argv: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      target: { type: 'string', short: 't' },
      budget: { type: 'string' },
      'avg-bits': { type: 'string' },
      'weight-budget': { type: 'string' },
      devices: { type: 'string' },
      context: { type: 'string' },
      batch: { type: 'string' },
      'kv-format': { type: 'string' },
      formats: { type: 'string' },
      'allow-emulated': { type: 'boolean' },
      'fuse-qkv': { type: 'boolean' },
      sample: { type: 'string' },
      measure: { type: 'boolean' },
      verify: { type: 'boolean' },
      'no-verify': { type: 'boolean' },
      'max-candidates': { type: 'string' },
      text: { type: 'string' },
      'targets-file': { type: 'string' },
      output: { type: 'string', short: 'o' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1 || !values.target) throw new CliError(`Usage: ${planUsage}`);
  const budgetFlags = [values.budget, values['avg-bits'], values['weight-budget']].filter((v) => v !== undefined);
  if (budgetFlags.length > 1) throw new CliError('Give at most one of --budget, --avg-bits and --weight-budget.');
  let budget: PlanBudget = 'capacity';
  if (values.budget !== undefined) budget = { bytes: size('budget', values.budget) };
  if (values['weight-budget'] !== undefined) budget = { weightBytes: size('weight-budget', values['weight-budget']) };
  if (values['avg-bits'] !== undefined) {
    const b = Number(values['avg-bits']);
    if (!(b > 0 && b <= 64)) throw new CliError(`--avg-bits must be a number above 0 and at most 64, got '${values['avg-bits'].slice(0, 40)}'.`);
    budget = { avgBits: b };
  }
  const devices = positiveInt('devices', values.devices) ?? 1;
  const context = positiveInt('context', values.context);
  const batch = positiveInt('batch', values.batch) ?? 1;
  const kvFormat = values['kv-format'] ?? 'fp16';
  if (!getNumberFormat(kvFormat)) throw new CliError(`--kv-format: unknown format '${kvFormat.slice(0, 40)}'.`);
  const sample = values.sample !== undefined ? Number(values.sample) : undefined;
  if (sample !== undefined && !(sample > 0 && sample <= 1)) throw new CliError(`--sample must be in (0, 1], got '${values.sample}'.`);
  const user = await loadTargetsFile(values['targets-file']);
  const target = resolveTargets(values.target, user)[0]!;
  const allowEmulated = values['allow-emulated'] === true;
  if (values.verify && values['no-verify']) throw new CliError('Give at most one of --verify and --no-verify.');
  const maxCandidates = values['max-candidates'] === undefined ? DEFAULT_VERIFY_CANDIDATES : positiveInt('max-candidates', values['max-candidates'])!;
  if (maxCandidates > MAX_VERIFY_CANDIDATES) throw new CliError(`--max-candidates must be at most ${MAX_VERIFY_CANDIDATES}, got ${maxCandidates}.`);
  const modelPath = positionals[0]!;

  const opened = await openModelFile(modelPath);
  const disposers: (() => void)[] = [];
  try {
    const model = await openModel(opened.source, { siblings: opened.siblings });
    const fingerprint = await modelFingerprint(opened.source, model.files);
    const constants = model.graphs.length > 0 ? await readShapeConstants(model, opened.source, opened.siblings) : {};
    let formats = values.formats ? values.formats.split(',').map((s) => s.trim()).filter(Boolean) : defaultCandidateFormats(model);
    for (const f of formats) if (!getNumberFormat(f)) throw new CliError(`--formats: unknown format '${f.slice(0, 40)}'.`);
    formats = allowedFormats(formats, target, allowEmulated);
    if (formats.length === 0) throw new CliError(`none of the candidate formats runs on ${target.id}; add weight-only formats to --formats or pass --allow-emulated.`);

    // Pins and notes from an existing plan at the output path are kept.
    const outPath = values.output ?? path.join(path.dirname(path.resolve(modelPath)), planFileNameFor(model.fileName));
    const existing = await fs.stat(outPath).then((s) => s.isFile(), () => false);
    const previous = existing ? ((await readPlanFile(outPath)).plan?.layers ?? []) : [];
    const pinned: Record<string, string> = {};
    for (const e of previous) if (e.pinned) setOwn(pinned, e.layer, e.format);

    // Score the baselines' formats too, so the comparison table has their predicted harm.
    const baselineList = standardBaselines(model, { native: target.native, allowEmulated });
    const scored = [...new Set([...formats, ...baselineList.flatMap((b) => Object.values(b.assignment)).filter((f) => f !== KEEP_FORMAT)])];
    const report = await analyzeModelSensitivity({ model, source: opened.source, siblings: opened.siblings }, { formats: scored, ...(sample !== undefined ? { sample } : {}) });
    // --verify (and --measure unless --no-verify), ONNX: candidate plans are applied and run with onnxruntime-node.
    // The reference run fixes the calibration samples (more for tiny outputs) that --measure then uses too.
    // Small ONNX models are verified by default (a few seconds of CPU): the delivered plan is then never worse, measured,
    // than a baseline that fits the same budget. --no-verify skips it; larger models verify on request only.
    const autoVerify = model.format === 'onnx' && values.verify !== true && values.measure !== true && values['no-verify'] !== true && model.totalFileBytes <= AUTO_VERIFY_MAX_BYTES;
    const wantVerify = values.verify === true || autoVerify || (values.measure === true && values['no-verify'] !== true);
    if ((values.measure || values.verify) && model.format !== 'onnx' && model.format !== 'gguf') io.err(`warning: --measure and --verify need an ONNX or GGUF model; using static sensitivity for ${model.format}.`);
    if (values.text !== undefined && model.format !== 'gguf') throw new CliError('--text needs a GGUF model (the calibration text for llama.cpp).');
    // GGUF (--measure / --verify): llama.cpp on a calibration text; KL of the next-token distributions.
    let gguf: GgufPlanMeasurement | undefined;
    if (model.format === 'gguf' && (values.measure || values.verify)) {
      try {
        gguf = await measureGgufForPlan(path.resolve(modelPath), report, { measure: values.measure === true, formats: scored, ...(values.text !== undefined ? { textFile: values.text } : {}), io, quiet: values.json === true });
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      const evaluator = gguf.session.evaluator;
      disposers.push(() => evaluator.dispose());
    }
    let reference: PlanReference | undefined;
    if (model.format === 'onnx' && (values.measure || wantVerify)) {
      try {
        reference = await planReference(path.resolve(modelPath), model);
      } catch (e) {
        if (values.verify === true && !values.measure) throw new CliError((e as Error).message);
        io.err(`warning: ${autoVerify ? 'the plan was not verified: ' : ''}${(e as Error).message.split('\n')[0]}`);
      }
    }
    // --measure (ONNX): per-layer output SQNR measured with onnxruntime-node replaces the static prediction.
    const measured = values.measure && model.format === 'onnx'
      ? await measureSensitivity(path.resolve(modelPath), { formats: scored, staticReport: report, ...(reference ? { samples: reference.samples.length } : {}) })
      : undefined;
    const staticHarm = harmFromSensitivity(report);
    const harm = gguf ? gguf.harm : measured ? harmFromSensitivity(measured, { prefer: 'measured' }) : staticHarm;
    const input: SolvePlanInput = {
      target, devices, budget, batch, kvFormat, harm, formats, allowEmulated, constants, fingerprint, previous, baselines: baselineList,
      ...(context !== undefined ? { context } : {}),
      ...(values['fuse-qkv'] ? { fuse: { qkv: true } } : {}),
    };
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
    if (wantVerify && reference && result.status !== 'infeasible') {
      let last = 0;
      verification = await verifyPlan(path.resolve(modelPath), model, {
        weightBudgetBytes: result.budget.weightBudgetBytes, harm, ...(measured ? { alternativeHarms: [{ id: 'static', harm: staticHarm }] } : {}),
        formats, native: target.native, allowEmulated, pinned, ...(values['fuse-qkv'] ? { fuse: { qkv: true } } : {}),
        solverAssignment: result.assignment, baselines: baselineList, reference, maxCandidates,
        onProgress: (p) => {
          const now = performance.now();
          if (values.json || now - last < 1000) return;
          last = now;
          io.err(`verifying: ${p.done}/${p.total} · ${p.message}`);
        },
      }).catch((e: Error) => {
        io.err(`warning: the plan was not verified: ${e.message.split('\n')[0]}`);
        return undefined;
      });
      if (verification) solved = replacePlanAssignment(model, input, solved, verification.best.assignment);
    }
    // GGUF: the solver's plan, the uniform ggml types and llama.cpp's mixes at equal size, measured in llama.cpp.
    let ggufVerification: GgufVerifyResult | undefined;
    if (gguf && values['no-verify'] !== true && result.status !== 'infeasible') {
      ggufVerification = await verifyGgufForPlan(path.resolve(modelPath), model, gguf, report, {
        weightBudgetBytes: result.budget.weightBudgetBytes, formats, pinned, native: target.native, allowEmulated, solverAssignment: result.assignment, maxCandidates: Math.max(maxCandidates, 24), io, quiet: values.json === true,
      });
      solved = replacePlanAssignment(model, input, solved, ggufVerification.best.assignment);
    }
    const { assignment, baselines, estimate: finalEstimate } = solved;
    // The plan file records what was measured (GGUF), so reopening it shows the figures without rerunning.
    const plan = solved.plan && ggufVerification ? { ...solved.plan, measurement: ggufMeasurementRecord(ggufVerification, gguf!) } : solved.plan;
    const finalBytes = assignmentWeightBytes(model, assignment);
    const finalHarm = assignmentHarm(model, assignment, harm) ?? result.harm;
    const feasible = result.status !== 'infeasible';
    if (plan && !values['dry-run']) await writeOutputFile(outPath, serializePlan(plan), { inputs: [modelPath, ...modelDataFiles(modelPath, model), ...(values['targets-file'] ? [values['targets-file']] : [])] });

    if (values.json) {
      io.out(JSON.stringify({
        file: model.fileName,
        planFile: feasible && !values['dry-run'] ? outPath : null,
        plan: plan ?? null,
        solver: { status: result.status, harm: result.harm, predictedOutputSqnrDb: harmToSqnrDb(result.harm), lowerBound: result.lowerBound, gap: result.gap, weightBytes: result.weightBytes, groups: result.groupCount, fusedGroups: result.fusedGroupCount, freeGroups: result.freeGroups, states: result.states, formats: result.formats, notes: result.notes },
        verification: verification ? verificationJson(verification) : ggufVerification ? ggufVerificationJson(ggufVerification) : null,
        delivered: { weightBytes: finalBytes, harm: finalHarm, predictedOutputSqnrDb: harmToSqnrDb(finalHarm), measuredOutputSqnrDb: verification?.best.measuredSqnrDb ?? null, ...(ggufVerification?.best.measured ? { measuredKl: ggufVerification.best.measured.klDivergence, measuredPerplexity: ggufVerification.best.measured.perplexity, top1Agreement: ggufVerification.best.measured.top1Agreement } : {}), source: verification?.best.id ?? ggufVerification?.best.id ?? 'solver' },
        budget: result.budget,
        estimate: finalEstimate,
        frontier: result.frontier,
        baselines,
        suggestions: result.suggestions,
        sensitivity: { formats: report.formats, sampled: report.sampled ?? null, warnings: report.warnings },
      }, (_k, v: unknown) => (v === Infinity ? null : v), 2));
      return feasible ? 0 : 2;
    }

    const b = result.budget;
    io.out(`${model.fileName} on ${devices > 1 ? `${devices} × ` : ''}${target.id} · context ${result.estimate.context} · batch ${batch} · KV ${kvFormat}`);
    io.out(`budget for layer weights: ${formatBytes(b.weightBudgetBytes)} (${b.kind === 'capacity' || b.kind === 'bytes' ? `memory ${formatBytes(b.memoryBytes ?? 0)} − KV ${formatBytes(b.kvCacheBytes)} − activations ${formatBytes(b.activationBytes)} − overhead ${formatBytes(b.overheadBytes)} − other tensors ${formatBytes(b.outsideBytes)}` : b.kind === 'avgBits' ? `${(budget as { avgBits: number }).avgBits} bits per weight` : 'explicit weight budget'})`);
    if (!feasible) {
      io.err(`precision-lens: nothing fits: the smallest allowed layer weights take ${formatBytes(result.minWeightBytes)}, ${formatBytes(result.shortfallBytes)} more than the budget.`);
      for (const s of result.suggestions) io.err(`  - ${s.message}`);
      return 2;
    }
    const counts = new Map<string, number>();
    for (const id of Object.values(assignment)) counts.set(id, (counts.get(id) ?? 0) + 1);
    io.out(`solution: ${formatBytes(result.weightBytes)} of layer weights, predicted output SQNR ${harmToSqnrDb(result.harm).toFixed(1)} dB (harm ${result.harm.toPrecision(4)}), ${result.status === 'optimal' ? 'proven optimal' : `within ${result.gap.toPrecision(3)} of optimal`}${verification ? '' : ` · ${formatCounts(counts)}`}`);
    if (verification) for (const line of verificationLines(verification, counts)) io.out(line);
    if (ggufVerification) for (const line of ggufVerificationLines(ggufVerification, gguf!.harmUnit, counts)) io.out(line);
    io.out(`estimate: total ${formatBytes(finalEstimate.totalBytes)} of ${formatBytes(finalEstimate.capacityBytes * devices)} · fits ${finalEstimate.fits || finalEstimate.devicesNeeded <= devices ? 'yes' : 'no'} · decode ${finalEstimate.decodeTokensPerSecond.toFixed(1)} tok/s`);
    io.out('');
    io.out(renderTable(
      ['baseline', 'weights', 'pred. SQNR', 'solver at same memory'],
      baselines.map((x) => [x.label, formatBytes(x.weightBytes), x.harm === null ? 'n/a' : `${harmToSqnrDb(x.harm).toFixed(1)} dB`, x.solverHarmAtSameBytes === null ? 'n/a' : `${harmToSqnrDb(x.solverHarmAtSameBytes).toFixed(1)} dB in ${formatBytes(x.solverWeightBytes)}`]),
      [1, 2, 3],
    ));
    for (const n of result.notes) io.out(`note: ${n}`);
    for (const w of report.warnings.slice(0, 5)) io.out(`warning: ${w}`);
    io.out(values['dry-run'] ? 'dry run: no plan written.' : `wrote ${outPath}`);
    return 0;
  } finally {
    for (const d of disposers) d();
    await opened.close();
  }
}

function formatCounts(counts: ReadonlyMap<string, number>): string {
  return [...counts].sort((a, c) => c[1] - a[1]).map(([id, n]) => `${id === KEEP_FORMAT ? 'as stored' : id} ×${n}`).join(', ');
}

const db = (x: number | undefined): string => (x === undefined ? 'n/a' : Number.isFinite(x) ? `${x.toFixed(1)} dB` : 'lossless');

/** Text report of a verification: what was delivered, what it beat. */
function verificationLines(v: VerifyPlanResult, counts: ReadonlyMap<string, number>): string[] {
  const baselines = v.candidates.filter((c) => c.origin === 'baseline' && c.measuredSqnrDb !== undefined);
  const lines = [
    `verified with onnxruntime-node (${v.candidates.length} candidate plan${v.candidates.length === 1 ? '' : 's'}, ${v.samples} samples, ${(v.elapsedMs / 1000).toFixed(1)} s${v.stopped === 'cap' ? ', stopped at --max-candidates' : ''}): measured output SQNR ${db(v.best.measuredSqnrDb)}${v.best.id === 'solver' ? ' (the solver\'s plan)' : ` with ${v.best.label}, the solver's plan measured ${db(v.solver.measuredSqnrDb)}`}`,
    `delivered: ${formatBytes(v.best.weightBytes)} of layer weights · ${formatCounts(counts)}`,
  ];
  if (baselines.length) lines.push(`measured baselines that fit: ${baselines.map((c) => `${c.id} ${db(c.measuredSqnrDb)}${v.beats.includes(c.id) ? '' : ' (better)'}`).join(', ')}`);
  const failed = v.candidates.filter((c) => c.error !== undefined);
  if (failed.length) lines.push(`note: ${failed.length} candidate(s) could not be applied or run: ${failed[0]!.id}: ${failed[0]!.error}`);
  return lines;
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
