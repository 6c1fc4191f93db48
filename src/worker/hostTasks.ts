/**
 * Task-process entry (bundled to dist/hostTasks.js by esbuild.mjs; forked by src/node/taskClient.ts): runs Apply
 * Plan, Measure Sensitivity and plan verification off the extension host's main thread, in a child process so a
 * native crash or out-of-memory in ONNX Runtime or protobuf decoding ends this process, not the extension host.
 * GGUF Apply runs here too (src/node/applyGguf.ts streams tensor by tensor). Wire contract: src/node/hostTaskProtocol.ts. The process exits when its parent's IPC channel closes.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CancelledError, harmFromSensitivity, openModel, replacePlanAssignment, serializePlan, solveModel, solvePlan, standardBaselines, type CancellationToken, type Model, type SensitivityReport } from '../core';
import { RpcEndpoint, RpcError, type WireMessage } from '../protocol/rpc';
import { applyPlanToOnnx, type ApplyOnnxResult } from '../node/applyOnnx';
import { applyPlanToGguf } from '../node/applyGguf';
import { openModelFile, openModelFileWhole } from '../node/fileByteSource';
import { refuseInputAliases } from '../node/safeOutput';
import {
  ApplyGgufPlanTask,
  ApplyPlanTask,
  MeasureSensitivityTask,
  PlanFrontierTask,
  SolvePlanTask,
  TASK_CANCELLED,
  TaskCancelNotification,
  TaskProgressNotification,
  VerifyPlanTask,
  MeasureGgufTask,
  VerifyGgufTask,
  progressThrottle,
  type GgufCandidateSummary,
  type MeasureGgufParams,
  type VerifyGgufParams,
  type VerifyGgufResult,
  type ApplyPlanParams,
  type PlanFrontierParams,
  type PlanFrontierTaskResult,
  type SolvePlanParams,
  type SolvePlanTaskResult,
  type TaskProgress,
  type VerifyPlanParams,
  type VerifyOnnxResult,
} from '../node/hostTaskProtocol';
import { measureSensitivity } from '../node/measure';
import { onnxPlanRecord, planReference, verifyPlan } from '../node/planVerify';
import { NodeError } from '../node/errors';
import { harmFromMeasuredKl, measureGgufSensitivity, startGgufEvaluation } from '../node/ggufMeasure';
import { ggufBaselines, ggufPlanRecord, verifyGgufPlan, type GgufCandidate } from '../node/ggufVerify';

/** Cancellation flags of the running tasks, by task id. */
const running = new Map<number, { cancelled: boolean }>();

function send(message: WireMessage): void {
  if (!process.send || !process.connected) throw new NodeError('worker-failed', 'The task process has no parent channel.');
  process.send(message);
}

const endpoint = new RpcEndpoint(send, { onInvalid: (reason) => process.stderr.write(`hostTasks: ${reason}\n`) });

/** Runs `work` as task `taskId` with a token the host can fire; a fired token becomes a 'cancelled' error reply. */
async function asTask<T>(taskId: number, work: (token: CancellationToken, progress: (p: Omit<TaskProgress, 'taskId'>) => void) => Promise<T>): Promise<T> {
  if (!Number.isSafeInteger(taskId)) throw new RpcError('invalid-params', 'A task needs an integer taskId.');
  const state = { cancelled: false };
  running.set(taskId, state);
  const token: CancellationToken = { get isCancellationRequested() { return state.cancelled; } };
  const throttle = progressThrottle<TaskProgress>((p) => endpoint.sendNotification(TaskProgressNotification, p));
  try {
    // A task that finished despite a late cancel reports its result: its effects (a written file) happened.
    return await work(token, (p) => throttle.report({ taskId, ...p }));
  } catch (e) {
    if (e instanceof CancelledError || state.cancelled) throw new RpcError(TASK_CANCELLED, 'The operation was cancelled.');
    throw e;
  } finally {
    running.delete(taskId);
  }
}

async function readModel(modelPath: string): Promise<Model> {
  const opened = await openModelFile(modelPath);
  try {
    return await openModel(opened.source, { siblings: opened.siblings });
  } finally {
    await opened.close();
  }
}

/**
 * applyOnnx refuses to write over its input, but here it writes into the staging folder: the final paths are
 * checked the same way (by device and inode, see safeOutput.ts) before anything is moved.
 */
function refuseInputPaths(modelPath: string, model: Model, targets: readonly string[]): Promise<void> {
  const inAbs = path.resolve(modelPath);
  return refuseInputAliases(targets, [inAbs, ...model.files.map((f) => path.resolve(path.dirname(inAbs), f.path))]);
}

/** The model's IR and, for ONNX, its bytes: read once, shared by the parse and the rewrite. */
async function readModelWhole(modelPath: string): Promise<{ model: Model; bytes: Uint8Array | undefined }> {
  const opened = await openModelFileWhole(modelPath);
  try {
    return { model: await openModel(opened.source, { siblings: opened.siblings }), bytes: opened.bytes };
  } finally {
    await opened.close();
  }
}

async function applyPlan(p: ApplyPlanParams, token: CancellationToken, progress: (p: Omit<TaskProgress, 'taskId'>) => void): Promise<ApplyOnnxResult> {
  progress({ done: 0, total: 3, message: 'reading the model' });
  const { model, bytes } = await readModelWhole(p.modelPath);
  progress({ done: 1, total: 3, message: 'writing the model' });
  const finalPath = path.resolve(p.outputPath);
  await refuseInputPaths(p.modelPath, model, [finalPath, `${finalPath}.data`]);
  const staged = path.join(p.stagingDir, path.basename(finalPath));
  const r = await applyPlanToOnnx(p.modelPath, model, p.assignment, staged, { ...(p.externalDataThresholdBytes !== undefined ? { externalDataThresholdBytes: p.externalDataThresholdBytes } : {}), ...(bytes ? { bytes } : {}) });
  // applyOnnx has no cancellation points: a cancel that arrived meanwhile is honoured here, before the move.
  if (token.isCancellationRequested) throw new CancelledError();
  progress({ done: 2, total: 3, message: 'moving into place' });
  // The external data file keeps its name (`<output>.data`), so the model's location entries stay valid.
  const finalData = r.externalDataPath ? `${finalPath}.data` : undefined;
  await refuseInputPaths(p.modelPath, model, [finalPath, `${finalPath}.data`]);
  if (r.externalDataPath && finalData) await fs.rename(r.externalDataPath, finalData);
  await fs.rename(r.outputPath, finalPath);
  return { ...r, outputPath: finalPath, externalDataPath: finalData };
}

/** Verifies an ONNX plan and returns, with the result, the plan file's record of it (output SQNR, dB). */
async function verify(p: VerifyPlanParams, token: CancellationToken, progress: (p: Omit<TaskProgress, 'taskId'>) => void): Promise<VerifyOnnxResult> {
  const model = await readModel(p.modelPath);
  progress({ done: 0, total: 1, message: 'reference run' });
  const reference = await planReference(path.resolve(p.modelPath), model, p.samples !== undefined ? { samples: p.samples } : {});
  const result = await verifyPlan(path.resolve(p.modelPath), model, {
    weightBudgetBytes: p.weightBudgetBytes,
    harm: harmFromSensitivity(p.report),
    formats: p.formats,
    native: p.native,
    allowEmulated: p.allowEmulated,
    pinned: p.pinned,
    solverAssignment: p.solverAssignment,
    baselines: standardBaselines(model, { native: p.native, allowEmulated: p.allowEmulated }),
    reference,
    ...(p.maxCandidates !== undefined ? { maxCandidates: p.maxCandidates } : {}),
    token,
    onProgress: (v) => progress({ done: v.done, total: v.total, message: v.message }),
  });
  const measurement = onnxPlanRecord({ model, assignment: result.best.assignment, staticReport: p.report, verification: result });
  return { ...result, ...(measurement ? { measurement } : {}) };
}

const evalOptions = (p: { readonly textFile?: string; readonly contextSize?: number }): { textFile?: string; contextSize?: number } => ({
  ...(p.textFile !== undefined ? { textFile: p.textFile } : {}),
  ...(p.contextSize !== undefined ? { contextSize: p.contextSize } : {}),
});

function measureGguf(p: MeasureGgufParams, token: CancellationToken, progress: (p: Omit<TaskProgress, 'taskId'>) => void): Promise<SensitivityReport> {
  return measureGgufSensitivity(path.resolve(p.modelPath), {
    ...evalOptions(p),
    ...(p.formats ? { formats: p.formats } : {}),
    ...(p.layerBudget !== undefined ? { layerBudget: p.layerBudget } : {}),
    ...(p.cacheDir !== undefined ? { cacheDir: p.cacheDir } : {}),
    token,
    onProgress: (m) => progress({ done: m.pairsDone, total: m.pairsTotal, message: m.message }),
  });
}

async function verifyGguf(p: VerifyGgufParams, token: CancellationToken, progress: (p: Omit<TaskProgress, 'taskId'>) => void): Promise<VerifyGgufResult> {
  const modelPath = path.resolve(p.modelPath);
  const model = await readModel(modelPath);
  progress({ done: 0, total: 1, message: 'running the original model in llama.cpp' });
  const session = await startGgufEvaluation(modelPath, evalOptions(p));
  try {
    const measured = p.measure
      ? await measureGgufSensitivity(modelPath, { session, staticReport: p.report, formats: p.formats, token, onProgress: (m) => progress({ done: m.pairsDone, total: m.pairsTotal, message: `measuring ${m.message}` }) })
      : undefined;
    const kl = measured ? harmFromMeasuredKl(measured) : undefined;
    const v = await verifyGgufPlan(modelPath, model, {
      session,
      report: measured ?? p.report,
      weightBudgetBytes: p.weightBudgetBytes,
      harm: kl ?? harmFromSensitivity(p.report),
      formats: p.formats,
      pinned: p.pinned,
      native: p.native,
      allowEmulated: p.allowEmulated,
      // Planned on measured KL: the solver's plan is solved again with it.
      ...(kl ? {} : { solverAssignment: p.solverAssignment }),
      baselines: ggufBaselines(model, { native: p.native, allowEmulated: p.allowEmulated }),
      ...(p.maxCandidates !== undefined ? { maxCandidates: p.maxCandidates } : {}),
      token,
      onProgress: (x) => progress({ done: x.done, total: x.total, message: x.message }),
    });
    if (!v.best.measured) throw new NodeError('worker-failed', `no plan could be run in llama.cpp: ${v.solver.error ?? 'unknown error'}`);
    const summary = (c: GgufCandidate): GgufCandidateSummary => ({
      id: c.id,
      label: c.label,
      weightBytes: c.weightBytes,
      ...(c.measured ? { klDivergence: c.measured.klDivergence, perplexity: c.measured.perplexity } : {}),
      ...(c.error !== undefined ? { error: c.error } : {}),
    });
    return {
      best: { ...summary(v.best), assignment: v.best.assignment },
      solver: summary(v.solver),
      candidates: v.candidates.map(summary),
      measurement: ggufPlanRecord(v, measured, kl ? 'kl' : 'static'),
      inputs: v.inputs,
      storage: v.storage,
      elapsedMs: v.elapsedMs,
    };
  } finally {
    session.evaluator.dispose();
  }
}

endpoint.onRequest(MeasureGgufTask, (p) => asTask(p.taskId, (token, progress) => measureGguf(p, token, progress)));
endpoint.onRequest(VerifyGgufTask, (p) => asTask(p.taskId, (token, progress) => verifyGguf(p, token, progress)));
/** Core's plan workflow for the editor: the model read here, the harm from the report; the plan and its text. */
async function solve(p: SolvePlanParams, token: CancellationToken, progress: (p: Omit<TaskProgress, 'taskId'>) => void): Promise<SolvePlanTaskResult> {
  progress({ done: 0, total: 2, message: 'reading the model' });
  const model = await readModel(p.modelPath);
  if (token.isCancellationRequested) throw new CancelledError();
  progress({ done: 1, total: 2, message: 'solving' });
  const input = { ...p.input, harm: harmFromSensitivity(p.report) };
  let solved = solvePlan(model, input);
  if (p.assignment) solved = replacePlanAssignment(model, input, solved, p.assignment);
  const r = solved.result;
  const plan = solved.plan && p.measurement ? { ...solved.plan, measurement: p.measurement } : solved.plan;
  return {
    plan,
    text: plan ? serializePlan(plan) : undefined,
    assignment: solved.assignment,
    status: r.status,
    gap: r.gap,
    weightBytes: r.weightBytes,
    weightBudgetBytes: solved.budget.weightBudgetBytes,
    shortfallBytes: r.shortfallBytes,
  };
}

/** The inspector's frontier: core's solver at the budget, with the report's harm. */
async function frontier(p: PlanFrontierParams): Promise<PlanFrontierTaskResult> {
  const model = await readModel(p.modelPath);
  const solved = solveModel(model, { weightBudgetBytes: p.weightBudgetBytes, formats: p.formats, native: p.native, harm: harmFromSensitivity(p.report), frontierPoints: p.frontierPoints });
  return { frontier: solved.frontier, weightBytes: solved.weightBytes, harm: solved.harm, weightBudgetBytes: solved.weightBudgetBytes };
}

endpoint.onRequest(PlanFrontierTask, (p) => asTask(p.taskId, () => frontier(p)));
endpoint.onRequest(SolvePlanTask, (p) => asTask(p.taskId, (token, progress) => solve(p, token, progress)));
endpoint.onRequest(ApplyPlanTask, (p) => asTask(p.taskId, (token, progress) => applyPlan(p, token, progress)));
endpoint.onRequest(ApplyGgufPlanTask, (p) =>
  asTask(p.taskId, (token, progress) =>
    applyPlanToGguf(p.modelPath, p.assignment, p.outputPath, {
      token,
      force: p.force === true,
      onProgress: (done, total) => progress({ done, total, message: 'writing tensors' }),
    }),
  ),
);
endpoint.onRequest(MeasureSensitivityTask, (p) =>
  asTask(p.taskId, (token, progress) =>
    measureSensitivity(p.modelPath, {
      token,
      onProgress: (m) => progress({ done: m.pairsDone, total: m.pairsTotal, message: m.message }),
      ...(p.samples !== undefined ? { samples: p.samples } : {}),
      ...(p.formats ? { formats: p.formats } : {}),
      ...(p.layerBudget !== undefined ? { layerBudget: p.layerBudget } : {}),
      ...(p.cacheDir !== undefined ? { cacheDir: p.cacheDir } : {}),
    }),
  ),
);
endpoint.onRequest(VerifyPlanTask, (p) => asTask(p.taskId, (token, progress) => verify(p, token, progress)));
endpoint.onNotification(TaskCancelNotification, (p) => {
  const state = running.get(p.taskId);
  if (state) state.cancelled = true;
});

process.on('message', (m) => endpoint.handleMessage(m));
// The host closed the channel (deactivate, crash or kill): nothing can receive results any more.
process.on('disconnect', () => process.exit(0));
