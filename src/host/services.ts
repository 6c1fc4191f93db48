/**
 * What the features share: the model header cache, the target catalog (built-in + the user's file), the fit
 * verdict for the current settings and the task client that runs apply, measure and verify in child processes.
 * One instance per activation, passed to each register*().
 */
import * as vscode from 'vscode';
import type { FitSummary, Model } from '../core';
import { TaskClient } from '../node/taskClient';
import { onSettingsChanged } from './config';
import { ModelCache } from './modelCache';
import { SensitivityCache } from './sensitivityCache';
import { TargetCatalog } from './targets';

/** Shared state of the extension. */
export interface Services {
  readonly models: ModelCache;
  /** Static sensitivity per model file (worker threads), shared by plans, plan generation and the inspector. */
  readonly sensitivity: SensitivityCache;
  readonly targets: TargetCatalog;
  /** Apply Plan, Measure Sensitivity and plan verification, each in its own child process (killed on deactivate). */
  readonly tasks: TaskClient;
  /** Fit of `model` (unquantized, as stored) on the configured target for `scope`; undefined when it cannot be estimated. */
  fit(model: Model, scope?: vscode.Uri): Promise<FitSummary | undefined>;
  /** Fires when settings, custom targets or model files change (lenses and the status bar refresh). */
  readonly onDidChange: vscode.Event<void>;
  readonly output: vscode.LogOutputChannel;
}

/** Creates the shared services; dispose the returned disposable on deactivate. */
export function createServices(): { services: Services; disposable: vscode.Disposable } {
  const changed = new vscode.EventEmitter<void>();
  const output = vscode.window.createOutputChannel('Precision Lens', { log: true });
  const models = new ModelCache();
  const targets = new TargetCatalog(output);
  const tasks = new TaskClient({ log: (m) => output.warn(m) });
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.{onnx,safetensors,gguf,tflite,index.json}');
  const onModelFile = (uri: vscode.Uri): void => {
    models.invalidate(uri.fsPath);
    changed.fire();
  };
  const services: Services = {
    models,
    sensitivity: new SensitivityCache(undefined, models),
    targets,
    tasks,
    fit: (model, scope) => targets.fit(model, scope),
    onDidChange: changed.event,
    output,
  };
  const disposable = vscode.Disposable.from(
    { dispose: () => tasks.dispose() },
    changed,
    output,
    watcher,
    watcher.onDidCreate(onModelFile),
    watcher.onDidChange(onModelFile),
    watcher.onDidDelete(onModelFile),
    onSettingsChanged(() => {
      targets.invalidate();
      changed.fire();
    }),
  );
  return { services, disposable };
}
