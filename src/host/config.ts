/**
 * Settings → plain options. The only place that reads `precisionLens.*` settings; everything else receives
 * a {@link HostSettings} value (core never reads settings).
 */
import * as vscode from 'vscode';

/** Every `precisionLens.*` setting, typed. */
export interface HostSettings {
  readonly targetId: string;
  /** As written in settings (absolute or workspace-relative); '' when unset. */
  readonly customTargetsFile: string;
  readonly batch: number;
  /** Undefined when unset: the estimator uses the model's context length (at most 4096). */
  readonly contextTokens: number | undefined;
  readonly kvFormat: string;
  /** Plan entries predicted below this model-output SQNR (dB) get a warning. */
  readonly minOutputSqnrDb: number;
  readonly sourceLensesEnabled: boolean;
  readonly measurement: { readonly maxSamples: number; readonly timeoutSeconds: number; readonly maxModelBytes: number; readonly evalContext: number };
}

/** Reads the settings for `scope` (a document or folder), with the manifest defaults as fallbacks. */
export function readSettings(scope?: vscode.ConfigurationScope): HostSettings {
  const c = vscode.workspace.getConfiguration('precisionLens', scope);
  const int = (key: string, dflt: number, min: number, max: number): number => {
    const v = c.get<number>(key, dflt);
    return Number.isFinite(v) ? Math.min(max, Math.max(min, Math.round(v))) : dflt;
  };
  return {
    targetId: c.get<string>('target', 'h100') || 'h100',
    customTargetsFile: c.get<string>('customTargetsFile', ''),
    batch: int('batch', 1, 1, 4096),
    contextTokens: c.get<number | null>('context', null) === null ? undefined : int('context', 4096, 1, 2 ** 27),
    kvFormat: c.get<string>('kvFormat', 'fp16'),
    minOutputSqnrDb: Math.min(200, Math.max(0, c.get<number>('thresholds.minOutputSqnrDb', 20))),
    sourceLensesEnabled: c.get<boolean>('sourceLenses.enabled', true),
    measurement: {
      maxSamples: int('measurement.maxSamples', 8, 1, 1024),
      timeoutSeconds: int('measurement.timeoutSeconds', 120, 5, 3600),
      maxModelBytes: int('measurement.maxModelBytes', 2 ** 31, 2 ** 20, Number.MAX_SAFE_INTEGER),
      evalContext: int('measurement.evalContext', 128, 16, 8192),
    },
  };
}

/** Stores the chosen target in the workspace settings (user settings when no folder is open). */
export async function setTargetId(targetId: string): Promise<void> {
  const where = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('precisionLens').update('target', targetId, where);
}

/** Fires `listener` when any `precisionLens.*` setting changes. */
export function onSettingsChanged(listener: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('precisionLens')) listener();
  });
}
