/**
 * The target catalog as the host sees it: core's built-in targets merged with the user's targets file
 * (`precisionLens.customTargetsFile`, re-read when it changes), and the fit verdict of a model on a target.
 * In an untrusted workspace VS Code hides workspace values of the (restricted) file setting, so only a file
 * named in user settings is read there.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { type FitSummary, getTarget, MAX_TARGET_FILE_BYTES, mergeTargets, type Model, parseUserTargets, type Target, TARGETS } from '../core';
import { readSettings } from './config';
import { estimateFit } from './estimates';
import { readRegularTextFile } from '../node/fileByteSource';

/** Built-in and custom targets. */
export class TargetCatalog {
  private cached: { key: string; targets: Target[] } | undefined;
  private lastError = '';

  constructor(private readonly output: vscode.LogOutputChannel) {}

  /** Absolute path of the custom targets file for `scope`, or undefined when the setting is empty. */
  customTargetsPath(scope?: vscode.Uri): string | undefined {
    const raw = readSettings(scope).customTargetsFile.trim();
    if (!raw) return undefined;
    if (path.isAbsolute(raw)) return raw;
    const folder = (scope && vscode.workspace.getWorkspaceFolder(scope)) ?? vscode.workspace.workspaceFolders?.[0];
    return folder ? path.join(folder.uri.fsPath, raw) : undefined;
  }

  /** Forgets the parsed custom targets file. */
  invalidate(): void {
    this.cached = undefined;
  }

  /** The user's targets (empty when no file is set; a broken file is reported once and ignored). */
  async userTargets(scope?: vscode.Uri): Promise<Target[]> {
    const file = this.customTargetsPath(scope);
    if (!file) return [];
    try {
      const st = await fs.stat(file);
      const key = `${file}:${st.size}:${st.mtimeMs}`;
      if (this.cached?.key === key) return this.cached.targets;
      if (st.size > MAX_TARGET_FILE_BYTES) throw new Error(`${path.basename(file)}: the targets file is larger than ${MAX_TARGET_FILE_BYTES} bytes.`);
      const targets = parseUserTargets(await readRegularTextFile(file, MAX_TARGET_FILE_BYTES), path.basename(file));
      this.cached = { key, targets };
      return targets;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (message !== this.lastError) {
        this.lastError = message;
        this.output.warn(message);
        void vscode.window.showWarningMessage(vscode.l10n.t('Precision Lens: custom targets ignored: {0}', message));
      }
      return [];
    }
  }

  /** Catalog plus user targets (a user target with a catalog id replaces it). */
  async list(scope?: vscode.Uri): Promise<Target[]> {
    return mergeTargets(TARGETS, await this.userTargets(scope));
  }

  /** The target with `id`, built-in or custom. */
  async get(id: string, scope?: vscode.Uri): Promise<Target | undefined> {
    return getTarget(id, await this.userTargets(scope));
  }

  /** Fit of `model` as stored on the configured target, or undefined when the target is unknown. */
  async fit(model: Model, scope?: vscode.Uri): Promise<FitSummary | undefined> {
    const settings = readSettings(scope);
    const target = await this.get(settings.targetId, scope);
    return target ? estimateFit(model, target, settings) : undefined;
  }
}
