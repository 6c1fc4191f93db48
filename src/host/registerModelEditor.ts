/**
 * Registers the Model Inspector custom editor (`precisionLens.modelInspector`), like media-preview's
 * `registerImagePreviewSupport`: one call from activate(), one Disposable back.
 */
import * as vscode from 'vscode';
import { MODEL_INSPECTOR_VIEW_TYPE, ModelEditorProvider, type ModelEditorOptions } from './modelEditor';

/** Registers the provider; dispose the result on deactivate (push it to `context.subscriptions`). */
export function registerModelEditor(context: vscode.ExtensionContext, options: ModelEditorOptions = {}): vscode.Disposable {
  const provider = new ModelEditorProvider(context.extensionUri, options);
  return vscode.window.registerCustomEditorProvider(MODEL_INSPECTOR_VIEW_TYPE, provider, {
    // Keep the webview alive in background tabs: re-running the handshake and charts on every switch costs
    // more than the memory of one hidden page.
    webviewOptions: { retainContextWhenHidden: true },
    supportsMultipleEditorsPerDocument: true,
  });
}
