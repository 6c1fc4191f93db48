/**
 * The Model Inspector: a read-only custom editor (media-preview style: a trivial document, a check that the
 * panel is still alive after every await). The provider maps `vscode.Uri` → ByteSource, settings →
 * {@link InspectorSettings}, and wires one {@link InspectorSession} per webview panel. All analysis is core's.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkedAssignment, MemoryByteSource, NO_SIBLINGS, TARGETS, mergeTargets, parsePlan, parseUserTargets, planFileNameFor, type Model, type Target } from '../core';
import { openModelFile } from '../node/fileByteSource';
import type { TaskClient } from '../node/taskClient';
import type { InspectorAction, InspectorSettings, RunActionResult } from '../protocol/messages';
import { DEFAULT_STRINGS } from '../protocol/strings';
import { readSettings } from './config';
import { inspectorHtml, makeNonce } from './inspectorHtml';
import { InspectorSession, type PlanAssignmentInfo } from './inspectorSession';
import { ModelDocument, sharedSensitivityAnalyzer, type OpenedModelFile, type SharedSensitivity } from './modelDocument';

/** View type contributed in package.json `customEditors`. */
export const MODEL_INSPECTOR_VIEW_TYPE = 'precisionLens.modelInspector';

/** Models read into memory when not on the local file system (virtual schemes) must stay below this. Threat: a remote 100 GB file filling the host's memory. */
export const MAX_IN_MEMORY_MODEL_BYTES = 2 * 1024 ** 3;

/** Sensitivity starts automatically after the first paint for models with at most this many weight bytes. */
export const AUTO_SENSITIVITY_MAX_BYTES = 256 * 1024 ** 2;

/** Command run for each webview action (arguments: the model's Uri, then `{ targetId }`). */
export const ACTION_COMMANDS: Readonly<Record<Exclude<InspectorAction, 'openPlan'>, string>> = {
  generatePlan: 'precisionLens.generatePlan',
  measureSensitivity: 'precisionLens.measureSensitivity',
  exportPlan: 'precisionLens.exportPlan',
  applyPlan: 'precisionLens.applyPlan',
  selectTarget: 'precisionLens.selectTarget',
  compareTargets: 'precisionLens.compareTargets',
  addCustomTarget: 'precisionLens.addCustomTarget',
};

/** Where the catalog comes from; part A may pass its shared catalog. */
export interface ModelEditorOptions {
  /** Built-in + custom targets for a document. Default: core's catalog merged with `precisionLens.customTargetsFile`. */
  readonly targets?: (scope: vscode.Uri) => Promise<{ readonly targets: readonly Target[]; readonly userIds: ReadonlySet<string> }>;
  readonly log?: (message: string) => void;
  /** The parsed model of a local file, shared with the lenses and plan features (the host's ModelCache). */
  readonly models?: (fsPath: string) => Promise<Model>;
  /** The host's task process: the frontier chart's solve runs there for local files, not on the main thread. */
  readonly tasks?: Pick<TaskClient, 'planFrontier'>;
  /** Static sensitivity of a local file, shared with the lenses and plan features (the host's SensitivityCache). */
  readonly sensitivity?: SharedSensitivity;
}

async function openFileForUri(uri: vscode.Uri): Promise<OpenedModelFile> {
  if (uri.scheme === 'file') return openModelFile(uri.fsPath);
  const stat = await vscode.workspace.fs.stat(uri);
  if (stat.size > MAX_IN_MEMORY_MODEL_BYTES) throw new Error(vscode.l10n.t('{0}: the file is too large to open from a virtual file system ({1} bytes).', path.posix.basename(uri.path), stat.size));
  const bytes = await vscode.workspace.fs.readFile(uri);
  return { source: new MemoryByteSource(path.posix.basename(uri.path), bytes), siblings: NO_SIBLINGS, close: async () => undefined };
}

/** Default target source: catalog + the custom targets file named in settings (errors are logged, not fatal). */
async function defaultTargets(scope: vscode.Uri, log: (m: string) => void): Promise<{ targets: readonly Target[]; userIds: ReadonlySet<string> }> {
  const file = readSettings(scope).customTargetsFile;
  if (!file) return { targets: TARGETS, userIds: new Set() };
  try {
    const folder = vscode.workspace.getWorkspaceFolder(scope)?.uri ?? vscode.Uri.joinPath(scope, '..');
    const uri = path.isAbsolute(file) ? vscode.Uri.file(file) : vscode.Uri.joinPath(folder, file);
    const user = parseUserTargets(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)), path.basename(file));
    return { targets: mergeTargets(TARGETS, user), userIds: new Set(user.map((t) => t.id)) };
  } catch (e) {
    log(`inspector: custom targets ignored: ${e instanceof Error ? e.message : String(e)}`);
    return { targets: TARGETS, userIds: new Set() };
  }
}

function localizedStrings(): Record<string, string> {
  // Only look strings up when a translation bundle is loaded; `l10n.t` would also format `{0}` placeholders.
  const bundle = vscode.l10n.bundle;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(DEFAULT_STRINGS)) out[key] = bundle?.[value] ?? value;
  return out;
}

/** Provider of the read-only Model Inspector. */
export class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  private readonly log: (message: string) => void;

  constructor(private readonly extensionUri: vscode.Uri, private readonly options: ModelEditorOptions = {}) {
    this.log = options.log ?? (() => undefined);
  }

  async openCustomDocument(uri: vscode.Uri, _context: vscode.CustomDocumentOpenContext, token: vscode.CancellationToken): Promise<ModelDocument> {
    const file = await openFileForUri(uri);
    const parsed = uri.scheme === 'file' && this.options.models ? await this.options.models(uri.fsPath).catch(() => undefined) : undefined;
    // One parse and one sensitivity run per local model: both come from the host's caches (shared with lenses and plans).
    const analyze = parsed && this.options.sensitivity ? sharedSensitivityAnalyzer(uri.fsPath, parsed, this.options.sensitivity) : undefined;
    return ModelDocument.open(uri, file, token, analyze, parsed);
  }

  async resolveCustomEditor(document: ModelDocument, panel: vscode.WebviewPanel, _token: vscode.CancellationToken): Promise<void> {
    const webview = panel.webview;
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: [dist, media] };
    webview.html = inspectorHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
      styleUris: [webview.asWebviewUri(vscode.Uri.joinPath(media, 'inspector.css')).toString()],
      lang: vscode.env.language,
      title: vscode.l10n.t('Model Inspector: {0}', document.model.fileName),
    });
    const uri = document.uri;
    const planUri = uri.scheme === 'file' ? vscode.Uri.file(path.join(path.dirname(uri.fsPath), planFileNameFor(path.basename(uri.fsPath)))) : undefined;
    const targets = (scope: vscode.Uri) => this.targetsFor(scope);
    const session = new InspectorSession(
      {
        model: document.model,
        settings: () => this.settingsFor(document),
        strings: localizedStrings,
        targets: () => targets(uri),
        canMeasure: () => vscode.workspace.isTrusted && document.model.format === 'onnx',
        planAssignment: () => this.readPlan(document, planUri),
        sensitivity: (token, onProgress) => document.sensitivity(token, onProgress),
        cachedSensitivity: () => document.cachedSensitivity(),
        ...(this.options.tasks && uri.scheme === 'file' ? { solveFrontier: (p) => this.options.tasks!.planFrontier({ modelPath: uri.fsPath, ...p }) } : {}),
        runAction: (action, targetId) => this.runAction(action, targetId, uri, planUri),
        log: this.log,
      },
      (message) => void webview.postMessage(message),
    );
    const subscriptions: vscode.Disposable[] = [
      webview.onDidReceiveMessage((m: unknown) => session.handleMessage(m)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('precisionLens.customTargetsFile', uri)) void session.targetsChanged();
        if (e.affectsConfiguration('precisionLens', uri)) session.settingsChanged();
      }),
    ];
    if (planUri) {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(planUri.fsPath)), path.basename(planUri.fsPath)));
      const changed = () => session.settingsChanged();
      subscriptions.push(watcher, watcher.onDidChange(changed), watcher.onDidCreate(changed), watcher.onDidDelete(changed));
    }
    const cleanup = () => {
      session.dispose();
      for (const d of subscriptions.splice(0)) d.dispose();
    };
    panel.onDidDispose(cleanup);
    document.onDidDispose(cleanup);
  }

  private settingsFor(document: ModelDocument): InspectorSettings {
    const s = readSettings(document.uri);
    return { targetId: s.targetId, batch: s.batch, contextTokens: s.contextTokens ?? null, kvFormat: s.kvFormat, autoSensitivity: document.model.weightBytes <= AUTO_SENSITIVITY_MAX_BYTES };
  }

  /** Built-in + custom targets for a document. */
  private targetsFor(scope: vscode.Uri): Promise<{ readonly targets: readonly Target[]; readonly userIds: ReadonlySet<string> }> {
    return (this.options.targets ?? ((s: vscode.Uri) => defaultTargets(s, this.log)))(scope);
  }

  private async readPlan(document: ModelDocument, planUri: vscode.Uri | undefined): Promise<PlanAssignmentInfo | undefined> {
    if (!planUri) return undefined;
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(planUri));
    } catch {
      return undefined; // no plan yet
    }
    const fileName = path.basename(planUri.fsPath);
    // The same check as apply and estimate --plan (core's checkedAssignment): a plan with errors is not shown as the model's.
    const checked = checkedAssignment({ parsed: parsePlan(text, fileName), fileName, model: document.model, targets: (await this.targetsFor(document.uri)).targets });
    if (!checked.plan || checked.hasErrors) {
      if (checked.plan) this.log(`inspector: ${fileName} has errors; the estimate ignores it: ${checked.diagnostics.find((d) => d.severity === 'error')?.message ?? ''}`);
      return undefined;
    }
    const assignment = Object.fromEntries(Object.entries(checked.assignment).filter(([, f]) => f !== 'keep'));
    return { assignment, defaultFormat: undefined, fileName, ...(checked.plan.measurement ? { measurement: checked.plan.measurement } : {}) };
  }

  private async runAction(action: InspectorAction, targetId: string, uri: vscode.Uri, planUri: vscode.Uri | undefined): Promise<RunActionResult> {
    if (action === 'openPlan') {
      if (!planUri) return { ok: false, message: vscode.l10n.t('Plans are stored beside models on the local file system.') };
      try {
        await vscode.workspace.fs.stat(planUri);
      } catch {
        return { ok: false, message: vscode.l10n.t('No plan yet: generate one first ({0}).', path.basename(planUri.fsPath)) };
      }
      await vscode.window.showTextDocument(planUri, { viewColumn: vscode.ViewColumn.Beside });
      return { ok: true, message: '' };
    }
    const command = ACTION_COMMANDS[action];
    const available = await vscode.commands.getCommands(true);
    if (!available.includes(command)) return { ok: false, message: vscode.l10n.t('The command {0} is not available.', command) };
    await vscode.commands.executeCommand(command, uri, { targetId });
    return { ok: true, message: '' };
  }
}
