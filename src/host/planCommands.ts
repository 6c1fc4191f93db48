/**
 * Generate Mixed-Precision Plan, Re-solve Plan and Open Plan: sensitivity (worker threads, cancellable, with
 * progress) → core's plan workflow in the task process (src/node/taskClient.ts `solvePlan`: a 10,000-layer solve
 * and its plan text never run on the extension host's main thread) → `<model>.precision.json` beside the model. For an ONNX
 * model in a trusted workspace the result message offers "Verify with ONNX Runtime" (GGUF: "Verify in llama.cpp"):
 * the plan and its candidates are measured in a task process (src/node/taskClient.ts) and a better-measuring plan
 * replaces the file, with its `measurement` record (GGUF: KL in llama.cpp; ONNX: output SQNR in onnxruntime-node). Verify Plan does the same for an existing plan file.
 * Export / Apply / Measure live in planTools.ts.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, formatBytes, parseBudgetInput, parsePlan, planAssignment, setOwn, planFileNameFor, shortFormatLabel, type PlanMeasurement, type Target } from '../core';
import { modelInputFiles, writeEditorTextFile } from '../node/editorWrites';
import type { VerifyPlanParams } from '../node/hostTaskProtocol';
import { modelArgument } from './commands';
import { readSettings } from './config';
import { editorPlanInput, requestFormats, type PlanRequest } from './editorPlan';
import type { PlanStates } from './planState';
import type { Services } from './services';

/** Options the inspector and the plan lenses pass to the plan commands. */
export interface PlanCommandOptions {
  readonly targetId?: string;
  readonly budget?: string;
  readonly pickTarget?: boolean;
}

/**
 * Writes a plan file through the safe output path (src/node/editorWrites.ts: temp file renamed into place, never
 * over the model or its data by hard link or symlink) and shows it. An open copy with unsaved changes is not
 * overwritten: the command stops and says so. An open, saved copy is reloaded from disk.
 */
export async function writeDocument(uri: vscode.Uri, text: string, inputs: readonly string[]): Promise<void> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open?.isDirty) throw new Error(vscode.l10n.t('{0} has unsaved changes: save or revert it, then run the command again.', vscode.workspace.asRelativePath(uri)));
  await writeEditorTextFile(uri.fsPath, text, inputs);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc, { preview: false });
  if (doc.getText() !== text) await vscode.commands.executeCommand('workbench.action.files.revert');
}

/** A solved plan (its file text), what verification needs, and how to rebuild the plan text for another assignment. */
interface EditorPlan {
  readonly text: string;
  readonly summary: string;
  readonly verify: Omit<VerifyPlanParams, 'taskId' | 'modelPath'>;
  /** The plan file's text for another assignment (in the task process too). */
  readonly rebuild: (assignment: Readonly<Record<string, string>>, measurement?: PlanMeasurement) => Promise<string>;
  /** The model and its data files: the plan file must never be written over them. */
  readonly inputs: readonly string[];
}

/** Runs core's plan workflow (`solvePlan`) for the model at `modelPath` with the static sensitivity of the editor's cache. */
async function solveForEditor(services: Services, modelPath: string, request: PlanRequest, token: vscode.CancellationToken, progress: vscode.Progress<{ message?: string; increment?: number }>): Promise<EditorPlan> {
  const loaded = await services.models.load(modelPath);
  const { model } = loaded;
  const { target } = request;
  const formats = requestFormats(model, request);
  let last = 0;
  const report = await services.sensitivity.get(modelPath, formats, token, (p) => {
    const pct = Math.floor((100 * p.bytesDone) / Math.max(1, p.bytesTotal));
    progress.report({ message: vscode.l10n.t('sensitivity {0}%', pct), increment: pct - last });
    last = pct;
  });
  if (token.isCancellationRequested) throw new CancelledError();
  progress.report({ message: vscode.l10n.t('solving') });
  // The harm function is the report's; the task process rebuilds it (functions do not cross processes).
  const { harm: _harm, ...input } = editorPlanInput(loaded, request, report, formats);
  const r = await services.tasks.solvePlan({ modelPath, input, report }, { token });
  const solved = { plan: r.text, assignment: r.assignment, budget: { weightBudgetBytes: r.weightBudgetBytes } };
  if (!solved.plan) throw new Error(vscode.l10n.t('{0} does not fit {1} even at the smallest formats: it needs {2} more for its layer weights.', model.fileName, target.name, formatBytes(r.shortfallBytes)));
  const pins: Record<string, string> = {};
  for (const p of request.previous) if (p.pinned) setOwn(pins, p.layer, p.format);
  const verify = { report, weightBudgetBytes: solved.budget.weightBudgetBytes, formats, native: target.native, allowEmulated: request.allowEmulated, pinned: pins, solverAssignment: solved.assignment };
  const counts = new Map<string, number>();
  for (const f of Object.values(solved.assignment)) counts.set(f, (counts.get(f) ?? 0) + 1);
  const mix = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([f, n]) => `${n}× ${shortFormatLabel(f)}`).join(', ');
  return {
    text: solved.plan,
    verify,
    rebuild: async (a, measurement) => {
      const again = await services.tasks.solvePlan({ modelPath, input, report, assignment: a, ...(measurement ? { measurement } : {}) });
      if (again.text === undefined) throw new Error(vscode.l10n.t('{0}: the verified plan could not be written.', model.fileName));
      return again.text;
    },
    inputs: modelInputFiles(modelPath, model),
    summary: vscode.l10n.t('{0} on {1}: layer weights {2} of {3} allowed ({4}; {5}).', model.fileName, target.name, formatBytes(r.weightBytes), formatBytes(solved.budget.weightBudgetBytes), mix, r.status === 'optimal' ? vscode.l10n.t('proven optimal') : vscode.l10n.t('within {0} of optimal', r.gap.toPrecision(2))),
  };
}

async function pickTarget(services: Services, current: string): Promise<Target | undefined> {
  const items = (await services.targets.list()).map((t) => ({ label: t.name, description: `${t.id} · ${formatBytes(t.memoryBytes)}${t.id === current ? ' · current' : ''}`, target: t }));
  return (await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Re-solve for target'), matchOnDescription: true }))?.target;
}

/** Measures the plan and its candidates with ONNX Runtime in a task process; writes a better-measuring plan. */
async function verifyWithRuntime(services: Services, modelPath: string, planUri: vscode.Uri, solved: EditorPlan): Promise<void> {
  const timeoutSeconds = readSettings(planUri).measurement.timeoutSeconds;
  await runWithProgress(vscode.l10n.t('Precision Lens: verifying {0} with ONNX Runtime', path.basename(planUri.fsPath)), async (token, progress) => {
    const deadline = Date.now() + timeoutSeconds * 1000;
    const stop = { get isCancellationRequested() { return token.isCancellationRequested || Date.now() > deadline; } };
    const r = await services.tasks.verifyPlan({ modelPath, ...solved.verify }, { token: stop, onProgress: (p) => progress.report({ message: `${p.done}/${p.total} ${p.message}` }) });
    const db = (v: number | undefined): string => (v === undefined ? '?' : `${v.toFixed(1)} dB`);
    services.output.info(`verify ${path.basename(modelPath)}: ${r.candidates.map((c) => `${c.id} ${db(c.measuredSqnrDb)}`).join('; ')}`);
    // The plan file records the measurement (output SQNR, predicted beside measured), so reopening it shows the
    // figures in the lenses and the inspector without rerunning; a better-measuring candidate replaces the plan.
    if (r.best.id !== r.solver.id || r.measurement) await writeDocument(planUri, await solved.rebuild(r.best.assignment, r.measurement), solved.inputs);
    if (r.best.id !== r.solver.id) {
      void vscode.window.showInformationMessage(vscode.l10n.t("Verified with ONNX Runtime: {0} measured {1} output SQNR, better than the solver's plan ({2}); the plan file now uses it.", r.best.label, db(r.best.measuredSqnrDb), db(r.solver.measuredSqnrDb)));
    } else void vscode.window.showInformationMessage(vscode.l10n.t("Verified with ONNX Runtime: the plan measured {0} output SQNR, the best of {1} candidates (beats {2}).", db(r.solver.measuredSqnrDb), r.candidates.length, r.beats.join(', ') || '—'));
  });
}

/**
 * GGUF: runs the plan, the uniform ggml types and the llama.cpp-like mixes at equal size in llama.cpp (task process,
 * off this thread, with progress and cancel) and writes the best measured plan with its `measurement` record, which
 * the plan's lenses show ("predicted KL … · measured …"). With `measure`, each layer's KL is measured first and the
 * plan solved on it (`plan --measure`).
 */
async function verifyInLlamaCpp(services: Services, modelPath: string, planUri: vscode.Uri, solved: EditorPlan, measure: boolean): Promise<void> {
  const settings = readSettings(planUri);
  await runWithProgress(vscode.l10n.t('Precision Lens: verifying {0} in llama.cpp', path.basename(planUri.fsPath)), async (token, progress) => {
    const deadline = Date.now() + settings.measurement.timeoutSeconds * 1000;
    const stop = { get isCancellationRequested() { return token.isCancellationRequested || Date.now() > deadline; } };
    const { samples: _samples, ...verify } = solved.verify;
    try {
      const r = await services.tasks.verifyGgufPlan({ modelPath, ...verify, measure, contextSize: settings.measurement.evalContext }, { token: stop, onProgress: (p) => progress.report({ message: `${p.done}/${p.total} ${p.message}` }) });
      const kl = (v: number | undefined): string => (v === undefined ? '?' : v.toPrecision(3));
      services.output.info(`verify ${path.basename(modelPath)} in llama.cpp on ${r.inputs} (${r.storage === 'ggml' ? 'real ggml types' : 'simulated storage'}, ${(r.elapsedMs / 1000).toFixed(1)} s): ${r.candidates.map((c) => `${c.label} ${formatBytes(c.weightBytes)} KL ${kl(c.klDivergence)}${c.error !== undefined ? ` (${c.error})` : ''}`).join('; ')}`);
      await writeDocument(planUri, await solved.rebuild(r.best.assignment, r.measurement), solved.inputs);
      void vscode.window.showInformationMessage(r.best.id === r.solver.id
        ? vscode.l10n.t('Measured in llama.cpp: the plan has KL {0} (perplexity {1}), the best of {2} plans at or under its size; the plan file records it.', kl(r.best.klDivergence), r.best.perplexity?.toFixed(3) ?? '?', r.candidates.length)
        : vscode.l10n.t("Measured in llama.cpp: {0} has KL {1}, better than the solver's plan ({2}); the plan file now uses it and records the measurement.", r.best.label, kl(r.best.klDivergence), kl(r.solver.klDivergence)));
    } catch (e) {
      if (e instanceof CancelledError && !token.isCancellationRequested) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Verifying {0} stopped after {1} s (precisionLens.measurement.timeoutSeconds).', path.basename(planUri.fsPath), settings.measurement.timeoutSeconds));
        return;
      }
      throw e;
    }
  });
}

/**
 * Whether GGUF models can be run here; if not, says why and what to do. The platform .vsix ships llama.cpp
 * (node-llama-cpp bundled, its CPU binaries for that platform); the universal one and platforms without a CPU build
 * (macOS on arm64) do not.
 */
export function llamaCppReady(services: Services): boolean {
  if (services.tasks.llamaCppAvailable()) return true;
  void vscode.window.showErrorMessage(vscode.l10n.t('Running GGUF models needs llama.cpp (node-llama-cpp 3.21.1 with its CPU binaries for this platform), which this installation of Precision Lens does not include. Install the Precision Lens package built for this platform (e.g. linux-x64), or use the CLI from a checkout (precision-lens plan MODEL.gguf --verify).'));
  return false;
}

/** Shows `text`; for an ONNX or GGUF model in a trusted workspace, with a button that verifies the plan. Never blocks the command. */
function announcePlan(services: Services, modelPath: string, planUri: vscode.Uri, solved: EditorPlan, text: string): void {
  const ext = path.extname(modelPath).toLowerCase();
  const verify = ext === '.gguf' ? vscode.l10n.t('Verify in llama.cpp') : vscode.l10n.t('Verify with ONNX Runtime');
  const canVerify = vscode.workspace.isTrusted && (ext === '.onnx' || (ext === '.gguf' && services.tasks.llamaCppAvailable()));
  void vscode.window.showInformationMessage(text, ...(canVerify ? [verify] : [])).then((c) => (c !== verify ? undefined : ext === '.gguf' ? verifyInLlamaCpp(services, modelPath, planUri, solved, false) : verifyWithRuntime(services, modelPath, planUri, solved)));
}

/** Options of the Verify Plan command (the plan lens passes `measure`). */
export interface VerifyPlanOptions {
  /** GGUF: measure each layer's KL first and plan with it. */
  readonly measure?: boolean;
}

/**
 * Verify Plan (palette and the plan's lens): the plan file's own assignment is run with its candidates — in
 * llama.cpp for GGUF, ONNX Runtime for ONNX — and the best measured plan is written back.
 */
async function verifyPlanCommand(services: Services, states: PlanStates, arg: unknown, options: VerifyPlanOptions = {}): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Verifying a plan runs the model; trust this workspace to allow it.'));
    return;
  }
  const planUri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (!planUri || !planUri.path.endsWith('.precision.json')) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Open a plan file (*.precision.json) to verify it.'));
    return;
  }
  const doc = await vscode.workspace.openTextDocument(planUri);
  const { ctx, modelUri } = await states.get(doc);
  const plan = ctx.parsed.plan;
  if (!plan || !modelUri) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Fix the plan file first: it must be a valid plan next to its model.'));
    return;
  }
  const ext = path.extname(modelUri.fsPath).toLowerCase();
  if (ext !== '.gguf' && ext !== '.onnx') {
    void vscode.window.showErrorMessage(vscode.l10n.t('Verification runs ONNX models in ONNX Runtime and GGUF models in llama.cpp; {0} is neither.', path.basename(modelUri.fsPath)));
    return;
  }
  if (ext === '.gguf' && !llamaCppReady(services)) return;
  const target = await services.targets.get(plan.target, planUri);
  if (!target) {
    void vscode.window.showErrorMessage(vscode.l10n.t("Unknown target '{0}': pick one with Precision Lens: Select Target Hardware.", plan.target));
    return;
  }
  const request: PlanRequest = {
    target, budget: plan.budget, context: plan.context, batch: plan.batch, kvFormat: plan.kvFormat, allowEmulated: plan.allowEmulated ?? false, previous: plan.layers,
    ...(plan.devices !== undefined ? { devices: plan.devices } : {}),
  };
  const solved = await runWithProgress(vscode.l10n.t('Precision Lens: reading {0}', path.basename(modelUri.fsPath)), async (token, progress) => {
    const s = await solveForEditor(services, modelUri.fsPath, request, token, progress);
    // The file's own assignment is what is verified (it may have been edited since it was solved).
    const model = (await services.models.load(modelUri.fsPath)).model;
    return { ...s, verify: { ...s.verify, solverAssignment: planAssignment(plan, model) } };
  });
  if (!solved) return;
  if (ext === '.gguf') await verifyInLlamaCpp(services, modelUri.fsPath, planUri, solved, options.measure === true);
  else await verifyWithRuntime(services, modelUri.fsPath, planUri, solved);
}

function runWithProgress<T>(title: string, work: (token: vscode.CancellationToken, progress: vscode.Progress<{ message?: string; increment?: number }>) => Promise<T>): Thenable<T | undefined> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    try {
      return await work(token, progress);
    } catch (e) {
      if (e instanceof CancelledError || token.isCancellationRequested) return undefined;
      void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
      return undefined;
    }
  });
}

async function generatePlan(services: Services, arg: unknown, options: PlanCommandOptions = {}): Promise<vscode.Uri | undefined> {
  const uri = await modelArgument(arg);
  if (!uri) return undefined;
  const settings = readSettings(uri);
  const target = await services.targets.get(options.targetId ?? settings.targetId, uri);
  if (!target) {
    void vscode.window.showErrorMessage(vscode.l10n.t("Unknown target '{0}': pick one with Precision Lens: Select Target Hardware.", options.targetId ?? settings.targetId));
    return undefined;
  }
  const budgetText = options.budget ?? (await vscode.window.showInputBox({
    title: vscode.l10n.t('Generate Mixed-Precision Plan for {0}', target.name),
    prompt: vscode.l10n.t('Memory budget: "capacity" (the target\'s memory), a total size such as 24GB, "weights 512MiB", or average bits such as "4.5 bits"'),
    value: 'capacity',
    validateInput: (v) => (parseBudgetInput(v) ? undefined : vscode.l10n.t('Use capacity, a size like 24GB, weights 512MiB, or 4.5 bits.')),
  }));
  const budget = budgetText === undefined ? undefined : parseBudgetInput(budgetText);
  if (!budget) return undefined;
  const planUri = vscode.Uri.file(path.join(path.dirname(uri.fsPath), planFileNameFor(path.basename(uri.fsPath))));
  const existing = await vscode.workspace.openTextDocument(planUri).then((d) => parsePlan(d.getText()).plan, () => undefined);
  return runWithProgress(vscode.l10n.t('Precision Lens: planning {0} for {1}', path.basename(uri.fsPath), target.name), async (token, progress) => {
    const request: PlanRequest = {
      target, budget, batch: settings.batch, kvFormat: settings.kvFormat, allowEmulated: false, previous: existing?.layers ?? [],
      ...(settings.contextTokens !== undefined ? { context: settings.contextTokens } : {}),
    };
    const solved = await solveForEditor(services, uri.fsPath, request, token, progress);
    await writeDocument(planUri, solved.text, solved.inputs);
    announcePlan(services, uri.fsPath, planUri, solved, vscode.l10n.t('Plan written: {0}', solved.summary));
    return planUri;
  });
}

async function resolvePlan(services: Services, states: PlanStates, arg: unknown, options: PlanCommandOptions = {}): Promise<void> {
  const planUri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (!planUri || !planUri.path.endsWith('.precision.json')) return;
  const doc = await vscode.workspace.openTextDocument(planUri);
  const { ctx, modelUri } = await states.get(doc);
  const plan = ctx.parsed.plan;
  if (!plan || !modelUri) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Fix the plan file first: it must be a valid plan next to its model.'));
    return;
  }
  const target = options.pickTarget ? await pickTarget(services, plan.target) : await services.targets.get(options.targetId ?? plan.target, planUri);
  if (!target) return;
  const request: PlanRequest = {
    target, budget: plan.budget, context: plan.context, batch: plan.batch, kvFormat: plan.kvFormat, allowEmulated: plan.allowEmulated ?? false, previous: plan.layers,
    ...(plan.devices !== undefined ? { devices: plan.devices } : {}),
  };
  await runWithProgress(vscode.l10n.t('Precision Lens: re-solving for {0}', target.name), async (token, progress) => {
    const solved = await solveForEditor(services, modelUri.fsPath, request, token, progress);
    await writeDocument(planUri, solved.text, solved.inputs);
    announcePlan(services, modelUri.fsPath, planUri, solved, vscode.l10n.t('Plan re-solved: {0}', solved.summary));
  });
}

async function openPlan(services: Services, arg: unknown, options: PlanCommandOptions = {}): Promise<void> {
  const uri = await modelArgument(arg);
  if (!uri) return;
  const planUri = vscode.Uri.file(path.join(path.dirname(uri.fsPath), planFileNameFor(path.basename(uri.fsPath))));
  try {
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(planUri), { preview: false });
  } catch {
    const generate = vscode.l10n.t('Generate Plan');
    if ((await vscode.window.showInformationMessage(vscode.l10n.t('{0} has no plan yet.', path.basename(uri.fsPath)), generate)) === generate) await generatePlan(services, uri, options);
  }
}

/** Registers the plan commands. */
export function registerPlanCommands(services: Services, states: PlanStates): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('precisionLens.generatePlan', (arg: unknown, options?: PlanCommandOptions) => generatePlan(services, arg, options)),
    vscode.commands.registerCommand('precisionLens.resolvePlan', (arg: unknown, options?: PlanCommandOptions) => resolvePlan(services, states, arg, options)),
    vscode.commands.registerCommand('precisionLens.openPlan', (arg: unknown, options?: PlanCommandOptions) => openPlan(services, arg, options)),
    vscode.commands.registerCommand('precisionLens.verifyPlan', (arg: unknown, options?: VerifyPlanOptions) => verifyPlanCommand(services, states, arg, options)),
  );
}
