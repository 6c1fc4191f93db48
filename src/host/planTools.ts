/**
 * Export Plan (ONNX Runtime quantize_static / llama.cpp llama-quantize), Apply Plan (write a new ONNX or GGUF file) and
 * Measure Sensitivity (runs the model with onnxruntime-node: trusted workspaces only). Apply and Measure run in
 * a child process through `services.tasks` (src/node/taskClient.ts): cancellable, with progress, and a crash of
 * ONNX Runtime cannot take the extension host down. A package without ONNX Runtime reports that clearly.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CancelledError, checkedAssignment, exportLlamaCpp, exportOrt, formatBytes, type Model, parsePlan, planFileNameFor, type PrecisionPlan, shortFormatLabel } from '../core';
import { modelArgument, pickWorkspaceFile } from './commands';
import { readSettings } from './config';
import type { Services } from './services';
import { llamaCppReady } from './planCommands';
import { RpcError } from '../protocol/rpc';
import type { ApplyGgufResult } from '../node/applyGguf';

interface PlanAndModel {
  readonly planUri: vscode.Uri;
  readonly plan: PrecisionPlan;
  readonly modelPath: string;
  readonly model: Model;
  /** Layer → format id, checked by core's `checkedAssignment` (fingerprint, layers, formats, target). */
  readonly assignment: Readonly<Record<string, string>>;
}

/**
 * The plan a command acts on: its argument (a plan or a model beside its plan), the active plan editor, or a pick.
 * The plan is checked against the model as the CLI checks it: a stale fingerprint (the plan was made for another
 * version of the model), unknown layers or formats, or formats the target cannot run stop the command.
 */
async function planArgument(services: Services, arg: unknown): Promise<PlanAndModel | undefined> {
  let uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (uri && !uri.path.endsWith('.precision.json')) uri = vscode.Uri.file(path.join(path.dirname(uri.fsPath), planFileNameFor(path.basename(uri.fsPath))));
  uri = uri ?? (await pickWorkspaceFile('**/*.precision.json', vscode.l10n.t('Plan to use')));
  if (!uri) return undefined;
  let text: string;
  try {
    text = (await vscode.workspace.openTextDocument(uri)).getText();
  } catch {
    void vscode.window.showErrorMessage(vscode.l10n.t('No plan at {0}: run Precision Lens: Generate Mixed-Precision Plan first.', vscode.workspace.asRelativePath(uri)));
    return undefined;
  }
  const parsed = parsePlan(text, path.basename(uri.fsPath));
  if (!parsed.plan) {
    void vscode.window.showErrorMessage(parsed.diagnostics[0]?.message ?? vscode.l10n.t('The plan is not valid.'));
    return undefined;
  }
  const fileName = path.basename(uri.fsPath);
  const modelPath = path.join(path.dirname(uri.fsPath), path.basename(parsed.plan.model.file));
  const loaded = await services.models.load(modelPath);
  const checked = checkedAssignment({ parsed, fileName, model: loaded.model, fingerprint: loaded.fingerprint, targets: await services.targets.list(uri) });
  const error = checked.diagnostics.find((d) => d.severity === 'error');
  if (error) {
    void vscode.window.showErrorMessage(vscode.l10n.t('{0} (line {1}); fix the plan or re-solve it.', error.message, error.line));
    return undefined;
  }
  return { planUri: uri, plan: parsed.plan, modelPath, model: loaded.model, assignment: checked.assignment };
}

async function exportPlan(services: Services, arg: unknown): Promise<void> {
  const p = await planArgument(services, arg);
  if (!p) return;
  const { assignment } = p;
  const ort = { label: 'ONNX Runtime', description: 'quantize_static (Python)', id: 'ort' as const };
  const llama = { label: 'llama.cpp', description: 'llama-quantize --tensor-type …', id: 'llama' as const };
  const picked = await vscode.window.showQuickPick(p.model.format === 'gguf' ? [llama, ort] : [ort, llama], { title: vscode.l10n.t('Export {0}', path.basename(p.planUri.fsPath)) });
  if (!picked) return;
  const base = path.basename(p.modelPath);
  let content: string;
  let language: string;
  if (picked.id === 'ort') {
    const x = exportOrt(p.model, assignment, { input: base, output: base.replace(/\.onnx$/i, '') + `.${p.plan.target}.onnx` });
    content = `${x.warnings.map((w) => `# warning: ${w}`).join('\n')}${x.warnings.length ? '\n' : ''}${x.python}`;
    language = 'python';
  } else {
    const x = exportLlamaCpp(p.model, assignment, { input: base, output: base.replace(/\.(gguf|safetensors)$/i, '') + `.${p.plan.target}.gguf` });
    content = `#!/bin/sh\n${x.warnings.map((w) => `# warning: ${w}`).join('\n')}${x.warnings.length ? '\n' : ''}${x.command}\n`;
    language = 'shellscript';
  }
  await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content, language }), { preview: false });
}

async function applyPlan(services: Services, arg: unknown): Promise<void> {
  const p = await planArgument(services, arg);
  if (!p) return;
  if (p.model.format === 'gguf') return applyGgufPlan(services, p.modelPath, p.plan.target, p.assignment);
  if (p.model.format !== 'onnx') {
    void vscode.window.showErrorMessage(vscode.l10n.t('Apply Plan writes ONNX and GGUF models; {0} is {1}. Use Export Plan for its own tools.', p.model.fileName, p.model.format));
    return;
  }
  const defaultOut = path.join(path.dirname(p.modelPath), `${path.basename(p.modelPath, path.extname(p.modelPath))}.${p.plan.target}.onnx`);
  const out = await vscode.window.showInputBox({ title: vscode.l10n.t('Apply Plan: output file'), value: defaultOut, validateInput: (v) => (path.resolve(v) === path.resolve(p.modelPath) ? vscode.l10n.t('Choose a new file: the input model is never overwritten.') : undefined) });
  if (!out) return;
  const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Precision Lens: writing {0}', path.basename(out)), cancellable: true }, async (progress, token) => {
    try {
      return await services.tasks.applyPlan({ modelPath: p.modelPath, assignment: p.assignment, outputPath: out }, { token, onProgress: (x) => progress.report({ message: x.message }) });
    } catch (e) {
      if (!(e instanceof CancelledError)) void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
      return undefined;
    }
  });
  if (!r) return;
  const stored = r.layers.filter((l) => l.storage !== 'kept' && l.storage !== 'simulated').length;
  services.output.info(`apply: ${r.outputPath}: ${r.layers.length} layers, ${r.warnings.join(' ')}`);
  const open = vscode.l10n.t('Open in Inspector');
  const choice = await vscode.window.showInformationMessage(vscode.l10n.t('Wrote {0} ({1}; {2} layers re-encoded, opset {3} → {4}).', path.basename(r.outputPath), formatBytes(r.fileBytes + r.externalDataBytes), stored, r.opsetBefore, r.opsetAfter), open);
  if (choice === open) await vscode.commands.executeCommand('precisionLens.openInspector', vscode.Uri.file(r.outputPath));
}

/** Apply Plan for GGUF: a new .gguf with the plan's ggml types; re-quantizing a low-precision source asks first. */
async function applyGgufPlan(services: Services, modelPath: string, target: string, assignment: Readonly<Record<string, string>>): Promise<void> {
  const defaultOut = path.join(path.dirname(modelPath), `${path.basename(modelPath, path.extname(modelPath))}.${target}.gguf`);
  const out = await vscode.window.showInputBox({ title: vscode.l10n.t('Apply Plan: output file'), value: defaultOut, validateInput: (v) => (path.resolve(v) === path.resolve(modelPath) ? vscode.l10n.t('Choose a new file: the input model is never overwritten.') : undefined) });
  if (!out) return;
  const run = (force: boolean): Thenable<ApplyGgufResult | RpcError | undefined> =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Precision Lens: writing {0}', path.basename(out)), cancellable: true }, async (progress, token) => {
      let shown = 0;
      try {
        return await services.tasks.applyGgufPlan({ modelPath, assignment, outputPath: out, force }, {
          token,
          onProgress: (x) => {
            const pct = Math.round((100 * x.done) / Math.max(1, x.total));
            progress.report({ message: `${pct}%`, increment: pct - shown });
            shown = pct;
          },
        });
      } catch (e) {
        if (e instanceof RpcError && e.code === 'requantize') return e;
        if (!(e instanceof CancelledError)) void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
        return undefined;
      }
    });
  let r = await run(false);
  if (r instanceof RpcError) {
    const anyway = vscode.l10n.t('Re-quantize anyway');
    if ((await vscode.window.showWarningMessage(r.message, { modal: true }, anyway)) !== anyway) return;
    r = await run(true);
  }
  if (!r || r instanceof RpcError) return;
  const converted = r.tensors.filter((t) => t.action === 'convert').length;
  services.output.info(`apply: ${r.outputPath}: ${converted} tensors converted, general.file_type ${r.fileType} (${r.fileTypeName}), ${r.seconds.toFixed(2)} s. ${r.warnings.join(' ')}`);
  const open = vscode.l10n.t('Open in Inspector');
  const choice = await vscode.window.showInformationMessage(vscode.l10n.t('Wrote {0} ({1}; {2} tensors converted).', path.basename(r.outputPath), formatBytes(r.fileBytes), converted), open);
  if (choice === open) await vscode.commands.executeCommand('precisionLens.openInspector', vscode.Uri.file(r.outputPath));
}

async function measure(services: Services, arg: unknown): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Measuring sensitivity runs the model; trust this workspace to allow it.'));
    return;
  }
  const uri = await modelArgument(arg);
  if (!uri) return;
  const settings = readSettings(uri);
  const model = await services.models.get(uri.fsPath);
  if (model.format === 'gguf') {
    if (llamaCppReady(services)) await measureGguf(services, uri, model.fileName, model.totalFileBytes);
    return;
  }
  if (model.format !== 'onnx') {
    void vscode.window.showErrorMessage(vscode.l10n.t('Measured sensitivity runs ONNX models with ONNX Runtime and GGUF models in llama.cpp; {0} is {1} (its static sensitivity is in the inspector).', model.fileName, model.format));
    return;
  }
  if (model.totalFileBytes > settings.measurement.maxModelBytes) {
    void vscode.window.showErrorMessage(vscode.l10n.t('{0} is {1}, above precisionLens.measurement.maxModelBytes.', model.fileName, formatBytes(model.totalFileBytes)));
    return;
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Precision Lens: measuring {0}', model.fileName), cancellable: true }, async (progress, token) => {
    const deadline = Date.now() + settings.measurement.timeoutSeconds * 1000;
    const stop = { get isCancellationRequested() { return token.isCancellationRequested || Date.now() > deadline; } };
    try {
      const report = await services.tasks.measureSensitivity({ modelPath: uri.fsPath, samples: settings.measurement.maxSamples }, { token: stop, onProgress: (m) => progress.report({ message: `${m.done}/${m.total} ${m.message}` }) });
      const rows = report.layers.flatMap((l) => Object.entries(l.formats).filter(([, s]) => s.measuredOutputSqnrDb !== undefined).map(([f, s]) => ({ layer: l.layer, f, db: s.measuredOutputSqnrDb! })));
      rows.sort((a, b) => a.db - b.db);
      services.output.info(`measured ${model.fileName}: ${rows.map((r) => `${r.layer} ${r.f} ${r.db.toFixed(1)} dB`).join('; ')}`);
      const worst = rows[0];
      void vscode.window.showInformationMessage(worst ? vscode.l10n.t('Measured {0} layer × format pairs of {1}; most sensitive: {2} in {3} ({4} dB output SQNR). Details in the Precision Lens output.', rows.length, model.fileName, worst.layer, shortFormatLabel(worst.f), worst.db.toFixed(1)) : vscode.l10n.t('No layer of {0} could be measured.', model.fileName));
    } catch (e) {
      if (!(e instanceof CancelledError)) void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
      else if (!token.isCancellationRequested) void vscode.window.showWarningMessage(vscode.l10n.t('Measuring {0} stopped after {1} s (precisionLens.measurement.timeoutSeconds).', model.fileName, settings.measurement.timeoutSeconds));
    }
  });
}

/**
 * GGUF: each layer (or fused group) lowered alone and run in llama.cpp in the task process (off this thread, with
 * progress and cancel); the KL it adds per format goes to the output channel, the most sensitive pair to a message.
 * Results are cached per user (ggufMeasureCache.ts), so Verify Plan's "Measure layers and verify" reuses them.
 */
async function measureGguf(services: Services, uri: vscode.Uri, fileName: string, bytes: number): Promise<void> {
  const settings = readSettings(uri);
  if (bytes > settings.measurement.maxModelBytes) {
    void vscode.window.showErrorMessage(vscode.l10n.t('{0} is {1}, above precisionLens.measurement.maxModelBytes.', fileName, formatBytes(bytes)));
    return;
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Precision Lens: measuring {0} in llama.cpp', fileName), cancellable: true }, async (progress, token) => {
    const deadline = Date.now() + settings.measurement.timeoutSeconds * 1000;
    const stop = { get isCancellationRequested() { return token.isCancellationRequested || Date.now() > deadline; } };
    try {
      const report = await services.tasks.measureGgufSensitivity({ modelPath: uri.fsPath, contextSize: settings.measurement.evalContext }, { token: stop, onProgress: (m) => progress.report({ message: `${m.done}/${m.total} ${m.message}` }) });
      const rows = report.layers.flatMap((l) => Object.entries(l.formats).filter(([, s]) => s.klDivergence !== undefined).map(([f, s]) => ({ layer: l.layer, f, kl: s.klDivergence!, se: s.klStdErr ?? 0 })));
      rows.sort((a, b) => b.kl - a.kl);
      services.output.info(`measured ${fileName} in llama.cpp on ${report.measured?.inputs ?? '?'}: ${rows.map((r) => `${r.layer} ${r.f} KL ${r.kl.toPrecision(3)} ± ${r.se.toPrecision(2)}`).join('; ')}. ${(report.measured?.notes ?? []).join(' ')}`);
      const worst = rows[0];
      void vscode.window.showInformationMessage(worst ? vscode.l10n.t('Measured {0} layer × format pairs of {1} in llama.cpp; most sensitive: {2} in {3} (KL {4}). Details in the Precision Lens output.', rows.length, fileName, worst.layer, shortFormatLabel(worst.f), worst.kl.toPrecision(3)) : vscode.l10n.t('No layer of {0} could be measured.', fileName));
    } catch (e) {
      if (!(e instanceof CancelledError)) void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
      else if (!token.isCancellationRequested) void vscode.window.showWarningMessage(vscode.l10n.t('Measuring {0} stopped after {1} s (precisionLens.measurement.timeoutSeconds).', fileName, settings.measurement.timeoutSeconds));
    }
  });
}

/** Registers Export Plan, Apply Plan and Measure Sensitivity. */
export function registerPlanTools(services: Services): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand('precisionLens.exportPlan', (arg: unknown) => exportPlan(services, arg)),
    vscode.commands.registerCommand('precisionLens.applyPlan', (arg: unknown) => applyPlan(services, arg)),
    vscode.commands.registerCommand('precisionLens.measureSensitivity', (arg: unknown) => measure(services, arg)),
  );
}
