/**
 * A lens at the top of `*.safetensors.index.json`: "Precision Lens: sharded model · 2 shards · 1.2M params ·
 * 4.7 MiB FP32 — Open in Model Inspector" (the index stays a JSON file; the inspector opens on request).
 */
import * as vscode from 'vscode';
import { modelOneLine } from '../core';
import { errorText } from './sourceLens';
import type { Services } from './services';

class ShardLensProvider implements vscode.CodeLensProvider {
  readonly onDidChangeCodeLenses: vscode.Event<void>;
  constructor(private readonly services: Services) {
    this.onDidChangeCodeLenses = services.onDidChange;
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const top = new vscode.Range(0, 0, 0, 0);
    try {
      const model = await this.services.models.get(doc.uri.fsPath);
      const fit = await this.services.fit(model, doc.uri);
      return [
        new vscode.CodeLens(top, {
          title: vscode.l10n.t('Precision Lens: sharded model · {0} shards · {1} — Open in Model Inspector', model.files.length - 1, modelOneLine(model, fit)),
          command: 'precisionLens.openShardedModel',
          arguments: [doc.uri],
        }),
      ];
    } catch (e) {
      return [new vscode.CodeLens(top, { title: vscode.l10n.t('Precision Lens: {0}', errorText(e)), command: '' })];
    }
  }
}

/** Registers the lens on sharded-model index files. */
export function registerShardLenses(services: Services): vscode.Disposable {
  return vscode.languages.registerCodeLensProvider([{ scheme: 'file', pattern: '**/*.safetensors.index.json' }], new ShardLensProvider(services));
}
