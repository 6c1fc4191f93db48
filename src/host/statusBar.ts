/**
 * Status bar item: the selected target and whether the model in the active inspector (or named by the active
 * plan) fits. Click → Select Target Hardware.
 */
import * as vscode from 'vscode';
import { fitText } from '../core';
import { readSettings } from './config';
import { activeModelUri } from './activeModel';
import type { Services } from './services';

/** Registers the status bar item and keeps it current. */
export function registerStatusBar(services: Services): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('precisionLens.target', vscode.StatusBarAlignment.Right, 100);
  item.name = vscode.l10n.t('Precision Lens Target');
  item.command = 'precisionLens.selectTarget';
  let generation = 0;
  const update = async (): Promise<void> => {
    const mine = ++generation;
    const settings = readSettings();
    const target = await services.targets.get(settings.targetId).catch(() => undefined);
    const name = target?.name ?? settings.targetId;
    const modelUri = await activeModelUri();
    let text = `$(server-process) ${name}`;
    let tooltip = vscode.l10n.t('Precision Lens target: {0}. Click to change.', name);
    if (modelUri) {
      try {
        const model = await services.models.get(modelUri.fsPath);
        const fit = await services.fit(model, modelUri);
        if (fit) {
          text = `${fit.fits ? '$(check)' : '$(warning)'} ${name} · ${fit.fits ? vscode.l10n.t('fits') : vscode.l10n.t('does not fit')}`;
          tooltip = `${model.fileName}: ${fitText(fit)}`;
        }
      } catch (e) {
        tooltip = e instanceof Error ? e.message : String(e);
      }
    }
    if (mine !== generation) return; // a newer update started while this one awaited
    item.text = text;
    item.tooltip = tooltip;
    item.show();
  };
  const schedule = (): void => void update();
  schedule();
  return vscode.Disposable.from(
    item,
    services.onDidChange(schedule),
    vscode.window.tabGroups.onDidChangeTabs(schedule),
    vscode.window.onDidChangeActiveTextEditor(schedule),
  );
}
