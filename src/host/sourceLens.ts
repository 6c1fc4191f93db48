/**
 * Lenses above lines of Python / TypeScript / JavaScript that name a model file in the workspace:
 * "Precision Lens: 25.6M params · 97.7 MiB FP32 · fits H100 — Inspect". Headers are parsed lazily in
 * `resolveCodeLens` (only for visible lenses) and cached by mtime in the {@link ModelCache}.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { findModelReferences, modelOneLine, type SourceSyntax } from '../core';
import { readSettings } from './config';
import { resolveModelReference } from './modelPaths';
import type { Services } from './services';

const LANGUAGES: ReadonlyArray<[string, SourceSyntax]> = [
  ['python', 'python'],
  ['javascript', 'javascript'],
  ['typescript', 'javascript'],
  ['javascriptreact', 'javascript'],
  ['typescriptreact', 'javascript'],
];

class ModelLens extends vscode.CodeLens {
  constructor(range: vscode.Range, readonly modelPath: string) {
    super(range);
  }
}

class SourceModelLensProvider implements vscode.CodeLensProvider<ModelLens> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  constructor(private readonly services: Services) {}

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<ModelLens[]> {
    if (!readSettings(doc).sourceLensesEnabled) return [];
    const syntax = LANGUAGES.find(([id]) => id === doc.languageId)?.[1] ?? 'python';
    const roots = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    if (roots.length === 0) return [];
    const lenses: ModelLens[] = [];
    const seenLines = new Set<number>();
    for (const ref of findModelReferences(doc.getText(), syntax)) {
      if (token.isCancellationRequested || seenLines.has(ref.line)) continue;
      const modelPath = await resolveModelReference(ref, path.dirname(doc.uri.fsPath), roots);
      if (!modelPath) continue;
      seenLines.add(ref.line);
      lenses.push(new ModelLens(new vscode.Range(ref.line, ref.startColumn, ref.line, ref.endColumn), modelPath));
    }
    return lenses;
  }

  async resolveCodeLens(lens: ModelLens): Promise<ModelLens> {
    const uri = vscode.Uri.file(lens.modelPath);
    try {
      const model = await this.services.models.get(lens.modelPath);
      const fit = await this.services.fit(model, uri);
      lens.command = {
        title: vscode.l10n.t('Precision Lens: {0} — Inspect', modelOneLine(model, fit)),
        command: 'precisionLens.openInspector',
        arguments: [uri],
        tooltip: vscode.l10n.t('Open {0} in the Model Inspector', path.basename(lens.modelPath)),
      };
    } catch (e) {
      lens.command = { title: vscode.l10n.t('Precision Lens: {0}', errorText(e)), command: '' };
    }
    return lens;
  }
}

/** One sentence for a lens or message: the reader's message for malformed models, the errno text for I/O. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Registers the source-code lenses. */
export function registerSourceLenses(services: Services): vscode.Disposable {
  const provider = new SourceModelLensProvider(services);
  const selector = LANGUAGES.map(([language]) => ({ language, scheme: 'file' }));
  return vscode.Disposable.from(
    vscode.languages.registerCodeLensProvider(selector, provider),
    services.onDidChange(() => provider.refresh()),
  );
}
