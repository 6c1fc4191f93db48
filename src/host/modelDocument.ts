/**
 * The inspector's document: owns the model's ByteSource and sibling files, the parsed structure (headers
 * only) and the cached sensitivity report; closes the files on dispose. Read-only (a viewer), so there is no
 * edit/save state. No runtime `vscode` import: tested in plain Node.
 */
import type * as vscode from 'vscode';
import { CancelledError, openModel, type ByteSource, type CancellationToken, type Model, type SensitivityReport, type SiblingResolver } from '../core';
import { analyzeModelSensitivity, resolveFormats, type SensitivityOptions, type SensitivityProgress } from '../node/sensitivityRunner';
import { sensitivityFormats } from './editorPlan';
import type { SensitivityRunProgress } from './inspectorSession';

/** An opened model file with its folder; `close` releases both. */
export interface OpenedModelFile {
  readonly source: ByteSource;
  readonly siblings: SiblingResolver;
  close(): Promise<void>;
}

/** The sensitivity runner (injected in tests). */
export type SensitivityAnalyzer = (input: { model: Model; source: ByteSource; siblings: SiblingResolver }, options: SensitivityOptions) => Promise<SensitivityReport>;

/** The host's shared static sensitivity (`SensitivityCache.get`): one run per file version, reused for a subset of its formats. */
export type SharedSensitivity = (fsPath: string, formats: readonly string[], token?: CancellationToken, onProgress?: (p: SensitivityProgress) => void) => Promise<SensitivityReport>;

/**
 * The inspector's analyzer over the host's shared sensitivity: the document's run is the one the plan lenses, the
 * sensitivity view and plan generation reuse. It covers the inspector's formats and the plan candidates'
 * (`sensitivityFormats`), so a later lens or plan request finds it instead of starting a second run.
 */
export function sharedSensitivityAnalyzer(fsPath: string, model: Model, shared: SharedSensitivity): SensitivityAnalyzer {
  const formats = [...new Set([...resolveFormats(undefined), ...sensitivityFormats(model, [])])];
  return (_input, options) => shared(fsPath, formats, options.token, options.onProgress);
}

/** A model opened in the inspector. */
export class ModelDocument implements vscode.CustomDocument {
  private report: SensitivityReport | undefined;
  private running: { promise: Promise<SensitivityReport>; cancelled: boolean } | undefined;
  private disposed = false;
  private readonly disposeListeners: (() => void)[] = [];

  private constructor(
    readonly uri: vscode.Uri,
    readonly model: Model,
    private readonly file: OpenedModelFile,
    private readonly analyze: SensitivityAnalyzer,
  ) {}

  /**
   * Parses the structure, or takes `parsed` (the host's ModelCache already parsed this file version for lenses and
   * plans: one parse per model); closes `file` when parsing fails.
   */
  static async open(uri: vscode.Uri, file: OpenedModelFile, token?: CancellationToken, analyze: SensitivityAnalyzer = analyzeModelSensitivity, parsed?: Model): Promise<ModelDocument> {
    try {
      const model = parsed ?? (await openModel(file.source, { siblings: file.siblings, ...(token ? { token } : {}) }));
      return new ModelDocument(uri, model, file, analyze);
    } catch (e) {
      await file.close().catch(() => undefined);
      throw e;
    }
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** The finished static sensitivity report, if any. */
  cachedSensitivity(): SensitivityReport | undefined {
    return this.report;
  }

  /**
   * Static sensitivity of the whole model, computed once per document (worker threads for large models).
   * A second caller while it runs joins the same run. Cancelling (token or dispose) rejects with
   * CancelledError and nothing is cached.
   */
  sensitivity(token: CancellationToken, onProgress: (p: SensitivityRunProgress) => void): Promise<SensitivityReport> {
    if (this.disposed) return Promise.reject(new CancelledError());
    if (this.report) return Promise.resolve(this.report);
    if (this.running) return this.running.promise;
    const run = { promise: undefined as unknown as Promise<SensitivityReport>, cancelled: false };
    const disposed = () => this.disposed;
    const composite: CancellationToken = {
      get isCancellationRequested() {
        return disposed() || token.isCancellationRequested;
      },
    };
    run.promise = this.analyze(
      { model: this.model, source: this.file.source, siblings: this.file.siblings },
      { token: composite, onProgress: (p) => onProgress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, message: p.message }) },
    ).then(
      (report) => {
        if (composite.isCancellationRequested) throw new CancelledError();
        if (this.running === run) this.report = report;
        return report;
      },
    ).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run.promise;
  }

  /** Called once when VS Code disposes the document. */
  onDidDispose(listener: () => void): void {
    this.disposeListeners.push(listener);
  }

  /** Closes the files; running analyses see the cancellation. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.disposeListeners.splice(0)) l();
    void this.file.close().catch(() => undefined);
  }
}
