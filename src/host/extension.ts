/**
 * Extension entry point: one register*() per feature (STYLE.md §8.1). The host is glue: models are parsed by
 * core, estimated by core, and shown here as lenses, diagnostics, quick fixes, commands and a status bar item.
 */
import * as vscode from 'vscode';
import { mergeTargets, TARGETS } from '../core';
import { registerCommands } from './commands';
import { registerPlanCommands } from './planCommands';
import { registerPlanLanguage } from './planLanguage';
import { registerPlanTools } from './planTools';
import { registerModelEditor } from './registerModelEditor';
import { createServices } from './services';
import { registerShardLenses } from './shardLens';
import { registerSourceLenses } from './sourceLens';
import { registerStatusBar } from './statusBar';
import { registerTargetCommands } from './targetCommands';

/** Called by VS Code on the first activation event. */
export function activate(context: vscode.ExtensionContext): void {
  const { services, disposable } = createServices();
  const plans = registerPlanLanguage(services);
  context.subscriptions.push(
    disposable,
    registerModelEditor(context, {
      targets: async (scope) => {
        const user = await services.targets.userTargets(scope);
        return { targets: mergeTargets(TARGETS, user), userIds: new Set(user.map((t) => t.id)) };
      },
      log: (m) => services.output.info(m),
      models: (fsPath) => services.models.get(fsPath),
      tasks: services.tasks,
      sensitivity: (fsPath, formats, token, onProgress) => services.sensitivity.get(fsPath, formats, token, onProgress),
    }),
    plans.disposable,
    registerPlanCommands(services, plans.states),
    registerPlanTools(services),
    registerCommands(services),
    registerTargetCommands(services),
    registerSourceLenses(services),
    registerShardLenses(services),
    registerStatusBar(services),
  );
}

/** Nothing to do: every resource is owned by `context.subscriptions`. */
export function deactivate(): void {}
