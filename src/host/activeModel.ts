/** Which model the user is looking at: the active Model Inspector tab, or a model file open as text. */
import * as vscode from 'vscode';
import { isModelFileName } from '../core';

/** The inspector's view type (contributed by the custom editor provider). */
export const INSPECTOR_VIEW_TYPE = 'precisionLens.modelInspector';

/** Resolves the model the plan in `uri` refers to; set by the plan features when they register. */
let planModelResolver: ((uri: vscode.Uri) => Promise<vscode.Uri | undefined>) | undefined;

/** Lets the plan features tell the status bar which model an open plan file names. */
export function setPlanModelResolver(resolver: (uri: vscode.Uri) => Promise<vscode.Uri | undefined>): void {
  planModelResolver = resolver;
}

/** The model behind the active tab, if any. */
export async function activeModelUri(): Promise<vscode.Uri | undefined> {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && input.viewType === INSPECTOR_VIEW_TYPE && input.uri.scheme === 'file') return input.uri;
  if (input instanceof vscode.TabInputText && input.uri.scheme === 'file') {
    if (isModelFileName(input.uri.path)) return input.uri;
    if (input.uri.path.endsWith('.precision.json') && planModelResolver) return planModelResolver(input.uri);
  }
  return undefined;
}
