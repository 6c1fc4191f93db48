/**
 * Extension entry point: one register*() per feature (STYLE.md §8.1). The host is glue: models are parsed by
 * core, estimated by core, and shown here as lenses, diagnostics, quick fixes, commands and a status bar item.
 */
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { createServices } from './services';
import { registerSourceLenses } from './sourceLens';
import { registerStatusBar } from './statusBar';
import { registerTargetCommands } from './targetCommands';

/** Called by VS Code on the first activation event. */
export function activate(context: vscode.ExtensionContext): void {
  const { services, disposable } = createServices();
  context.subscriptions.push(
    disposable,
    registerCommands(services),
    registerSourceLenses(services),
    registerStatusBar(services),
    registerTargetCommands(services),
  );
}

/** Nothing to do: every resource is owned by `context.subscriptions`. */
export function deactivate(): void {}
