/**
 * Language features of `*.precision.json`: code lenses (header + one per layer entry), diagnostics, hovers and
 * quick fixes. All content comes from core (planLenses.ts, planFixes.ts); this file maps positions and edits.
 * Diagnostics and quick fixes share `Diagnostic.code` (STYLE.md §8.12).
 */
import * as vscode from 'vscode';
import { FIX_ALL_CODES, fixAllEdits, type PlanEditorDiagnostic, planFixes, type PlanPosition, type TextEditData } from '../core';
import { setPlanModelResolver } from './activeModel';
import { isPlanDocument, PlanStates, type PlanState } from './planState';
import type { Services } from './services';

const SELECTOR: vscode.DocumentSelector = [{ scheme: 'file', pattern: '**/*.precision.json' }];
const SOURCE = 'Precision Lens';
/** Debounce of re-analysis while typing. */
const TYPING_DELAY_MS = 300;

const range = (doc: vscode.TextDocument, p: Pick<PlanPosition, 'offset' | 'length'>): vscode.Range => new vscode.Range(doc.positionAt(p.offset), doc.positionAt(p.offset + p.length));

function toEdit(doc: vscode.TextDocument, edits: readonly TextEditData[]): vscode.WorkspaceEdit {
  const we = new vscode.WorkspaceEdit();
  for (const e of edits) we.replace(doc.uri, range(doc, e), e.newText);
  return we;
}

function toDiagnostic(doc: vscode.TextDocument, d: PlanEditorDiagnostic): vscode.Diagnostic {
  const diag = new vscode.Diagnostic(range(doc, d), d.message.replace(/^[^:]+\.precision\.json: /i, ''), d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  diag.code = d.code;
  diag.source = SOURCE;
  return diag;
}

class PlanLenses implements vscode.CodeLensProvider {
  readonly onDidChangeCodeLenses: vscode.Event<void>;
  constructor(private readonly states: PlanStates, private readonly canRunLlamaCpp: () => boolean) {
    this.onDidChangeCodeLenses = states.onDidChange;
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const { view, modelUri } = await this.states.get(doc);
    const lenses: vscode.CodeLens[] = [];
    const top = new vscode.Range(0, 0, 0, 0);
    const inspect = modelUri ? { command: 'precisionLens.openInspector', arguments: [modelUri] } : { command: '' };
    if (view.header) lenses.push(new vscode.CodeLens(top, { title: view.header.title, tooltip: view.header.tooltip, ...inspect }));
    else if (view.plan && !modelUri) lenses.push(new vscode.CodeLens(top, { title: vscode.l10n.t('Precision Lens: model {0} not found beside the plan', view.plan.model.file), command: '' }));
    if (view.plan) lenses.push(new vscode.CodeLens(top, { title: vscode.l10n.t('Re-solve'), tooltip: vscode.l10n.t('Solve the plan again for its target and budget'), command: 'precisionLens.resolvePlan', arguments: [doc.uri] }));
    // Running the model needs a trusted workspace; GGUF runs in llama.cpp, ONNX in ONNX Runtime (task process).
    const ext = modelUri ? modelUri.path.toLowerCase().slice(modelUri.path.lastIndexOf('.')) : '';
    // GGUF runs need the llama.cpp binding beside the extension (a development checkout has it; the .vsix does not).
    if (view.plan && vscode.workspace.isTrusted && ext === '.gguf' && this.canRunLlamaCpp()) {
      lenses.push(new vscode.CodeLens(top, { title: vscode.l10n.t('Verify in llama.cpp'), tooltip: vscode.l10n.t('Run this plan, the uniform ggml types and the Q4_K_M/Q3_K_M/Q2_K-like mixes at equal size in llama.cpp; keep the best measured plan and record the measurement'), command: 'precisionLens.verifyPlan', arguments: [doc.uri] }));
      lenses.push(new vscode.CodeLens(top, { title: vscode.l10n.t('Measure layers and verify'), tooltip: vscode.l10n.t("Measure each layer's KL in llama.cpp, plan with it, then verify"), command: 'precisionLens.verifyPlan', arguments: [doc.uri, { measure: true }] }));
    } else if (view.plan && vscode.workspace.isTrusted && ext === '.onnx') {
      lenses.push(new vscode.CodeLens(top, { title: vscode.l10n.t('Verify with ONNX Runtime'), tooltip: vscode.l10n.t('Run this plan and its candidates in ONNX Runtime; keep the best measured plan'), command: 'precisionLens.verifyPlan', arguments: [doc.uri] }));
    }
    for (const e of view.entries) lenses.push(new vscode.CodeLens(range(doc, { ...e.position, length: 0 }), { title: e.title, tooltip: e.tooltip, ...inspect }));
    return lenses;
  }
}

class PlanHovers implements vscode.HoverProvider {
  constructor(private readonly states: PlanStates) {}

  async provideHover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    const { ctx, view } = await this.states.get(doc);
    const offset = doc.offsetAt(pos);
    const i = ctx.parsed.positions.entries.findIndex((p) => offset >= p.offset && offset <= p.offset + p.length);
    const hover = view.entries.find((e) => e.entry === i)?.hover;
    if (i < 0 || !hover) return undefined;
    const md = new vscode.MarkdownString(hover);
    md.isTrusted = false; // layer names come from the model file
    md.supportHtml = false;
    return new vscode.Hover(md, range(doc, ctx.parsed.positions.entries[i]!));
  }
}

class PlanActions implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix, vscode.CodeActionKind.RefactorRewrite];
  constructor(private readonly states: PlanStates) {}

  async provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): Promise<vscode.CodeAction[]> {
    const state = await this.states.get(doc);
    const actions: vscode.CodeAction[] = [];
    const seenCodes = new Set<string>();
    for (const diag of context.diagnostics) {
      if (diag.source !== SOURCE) continue;
      const d = this.match(doc, state, diag);
      if (!d) continue;
      for (const fix of planFixes(state.ctx, state.view, d)) {
        const a = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        a.diagnostics = [diag];
        a.isPreferred = fix.preferred;
        a.edit = toEdit(doc, fix.edits);
        actions.push(a);
      }
      if (FIX_ALL_CODES.includes(d.code) && !seenCodes.has(d.code)) {
        seenCodes.add(d.code);
        const all = fixAllEdits(state.ctx, state.view, d.code);
        if (all.count > 1) {
          const a = new vscode.CodeAction(vscode.l10n.t("Fix all {0} '{1}' problems in this file", all.count, d.code), vscode.CodeActionKind.QuickFix);
          a.diagnostics = [diag];
          a.edit = toEdit(doc, all.edits);
          actions.push(a);
        }
      }
    }
    if (state.view.plan) {
      const re = new vscode.CodeAction(vscode.l10n.t('Re-solve the plan for another target…'), context.only?.contains(vscode.CodeActionKind.QuickFix) ? vscode.CodeActionKind.QuickFix : vscode.CodeActionKind.RefactorRewrite);
      re.command = { title: re.title, command: 'precisionLens.resolvePlan', arguments: [doc.uri, { pickTarget: true }] };
      if (context.diagnostics.some((d) => d.source === SOURCE && ['over-budget', 'not-native', 'unknown-target', 'stale-fingerprint'].includes(String(d.code)))) actions.push(re);
      else if (!context.only || context.only.contains(vscode.CodeActionKind.RefactorRewrite)) actions.push(re);
    }
    return actions;
  }

  /** The core diagnostic behind a VS Code diagnostic (same code and start). */
  private match(doc: vscode.TextDocument, state: PlanState, diag: vscode.Diagnostic): PlanEditorDiagnostic | undefined {
    const start = doc.offsetAt(diag.range.start);
    return state.view.diagnostics.find((d) => d.code === diag.code && d.offset === start);
  }
}

/** Registers the plan-file features; returns the disposable and the state store (plan commands use it). */
export function registerPlanLanguage(services: Services): { disposable: vscode.Disposable; states: PlanStates } {
  const states = new PlanStates(services);
  const collection = vscode.languages.createDiagnosticCollection('precisionLens');
  const timers = new Map<string, NodeJS.Timeout>();
  const refresh = async (doc: vscode.TextDocument): Promise<void> => {
    if (!isPlanDocument(doc) || doc.isClosed) return;
    const version = doc.version;
    const { view } = await states.get(doc);
    if (doc.isClosed || doc.version !== version) return;
    collection.set(doc.uri, view.diagnostics.map((d) => toDiagnostic(doc, d)));
  };
  const later = (doc: vscode.TextDocument): void => {
    if (!isPlanDocument(doc)) return;
    clearTimeout(timers.get(doc.uri.toString()));
    timers.set(doc.uri.toString(), setTimeout(() => void refresh(doc), TYPING_DELAY_MS));
  };
  const refreshAll = (): void => vscode.workspace.textDocuments.forEach((d) => void refresh(d));
  setPlanModelResolver(async (uri) => (await states.get(await vscode.workspace.openTextDocument(uri))).modelUri);
  refreshAll();
  const disposable = vscode.Disposable.from(
    states,
    collection,
    vscode.languages.registerCodeLensProvider(SELECTOR, new PlanLenses(states, () => services.tasks.llamaCppAvailable())),
    vscode.languages.registerHoverProvider(SELECTOR, new PlanHovers(states)),
    vscode.languages.registerCodeActionsProvider(SELECTOR, new PlanActions(states), { providedCodeActionKinds: PlanActions.kinds }),
    vscode.workspace.onDidOpenTextDocument((d) => void refresh(d)),
    vscode.workspace.onDidChangeTextDocument((e) => later(e.document)),
    vscode.workspace.onDidCloseTextDocument((d) => {
      collection.delete(d.uri);
      states.forget(d.uri);
    }),
    states.onDidChange(refreshAll),
    services.onDidChange(() => states.invalidate()),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  );
  return { disposable, states };
}
