/**
 * The analysed state of an open plan document: parse → model beside it (cached by mtime) → targets →
 * static sensitivity (computed in the background in worker threads, then the views refresh) → core's
 * analyzePlan. One cached view per document version; everything else is core.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { analyzePlan, parsePlan, type PlanContext, type PlanView, sensitivityLookup } from '../core';
import { readSettings } from './config';
import { sensitivityFormats } from './editorPlan';
import type { Services } from './services';

/** A plan document's context and view. */
export interface PlanState {
  readonly ctx: PlanContext;
  readonly view: PlanView;
  /** The model file the plan names (beside the plan), when it exists. */
  readonly modelUri: vscode.Uri | undefined;
}

/** `*.precision.json` (case-insensitive). */
export function isPlanDocument(doc: { readonly uri: vscode.Uri }): boolean {
  return doc.uri.scheme === 'file' && doc.uri.path.toLowerCase().endsWith('.precision.json');
}

/** Computes and caches plan states; fires `onDidChange` when a background sensitivity run finishes. */
export class PlanStates implements vscode.Disposable {
  private readonly cache = new Map<string, { key: string; state: Promise<PlanState> }>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private generation = 0;
  private readonly attempted = new Set<string>();

  constructor(private readonly services: Services) {}

  /** Forget every cached view (settings, targets or models changed). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
    this.changed.fire();
  }

  /** The state of `doc` (cached per version). */
  get(doc: vscode.TextDocument): Promise<PlanState> {
    const key = `${doc.version}:${this.generation}`;
    const hit = this.cache.get(doc.uri.toString());
    if (hit?.key === key) return hit.state;
    const state = this.compute(doc);
    this.cache.set(doc.uri.toString(), { key, state });
    return state;
  }

  /** Drops a closed document. */
  forget(uri: vscode.Uri): void {
    this.cache.delete(uri.toString());
  }

  private async compute(doc: vscode.TextDocument): Promise<PlanState> {
    const fileName = path.basename(doc.uri.fsPath);
    const parsed = parsePlan(doc.getText(), fileName);
    const settings = readSettings(doc.uri);
    const targets = await this.services.targets.list(doc.uri);
    const base: PlanContext = { parsed, fileName, targets, minOutputSqnrDb: settings.minOutputSqnrDb };
    const plan = parsed.plan;
    if (!plan) return { ctx: base, view: analyzePlan(base), modelUri: undefined };
    // The plan names its model by base name; it lives beside the plan (a path is never followed out of the folder).
    const modelPath = path.join(path.dirname(doc.uri.fsPath), path.basename(plan.model.file));
    let ctx: PlanContext = base;
    let modelUri: vscode.Uri | undefined;
    try {
      const loaded = await this.services.models.load(modelPath);
      modelUri = vscode.Uri.file(modelPath);
      const report = this.services.sensitivity.peek(modelPath);
      const formats = sensitivityFormats(loaded.model, [...plan.layers.map((e) => e.format), plan.defaultFormat]);
      if (!report || !formats.every((f) => report.formats.includes(f))) this.startSensitivity(modelPath, loaded.fingerprint, formats);
      ctx = { ...base, model: loaded.model, fingerprint: loaded.fingerprint, constants: loaded.constants, ...(report ? { sensitivity: sensitivityLookup(report) } : {}) };
    } catch (e) {
      this.services.output.info(`${fileName}: model not loaded: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { ctx, view: analyzePlan(ctx), modelUri };
  }

  /** Static sensitivity in the background (worker threads), with window progress; views refresh when done. */
  private startSensitivity(modelPath: string, fingerprint: string, formats: readonly string[]): void {
    // Tried once per model version and format set (a format the analyser skips must not restart it forever).
    const key = `${modelPath}|${fingerprint}|${formats.join(',')}`;
    if (this.attempted.has(key)) return;
    this.attempted.add(key);
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Precision Lens: sensitivity of {0}', path.basename(modelPath)) },
      async (progress) => {
        try {
          await this.services.sensitivity.get(modelPath, formats, undefined, (p) => progress.report({ message: `${Math.round((100 * p.bytesDone) / Math.max(1, p.bytesTotal))}%` }));
          this.invalidate();
        } catch (e) {
          this.services.output.warn(`sensitivity of ${path.basename(modelPath)} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
    );
  }

  dispose(): void {
    this.changed.dispose();
    this.cache.clear();
  }
}
