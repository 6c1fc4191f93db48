/**
 * The host side of one inspector webview: answers the webview's requests (validated: the webview renders
 * model-provided strings and is untrusted), runs estimates, streams sensitivity with throttled progress and
 * cancel, and forwards actions to commands. No `vscode` import: everything VS Code-specific comes in through
 * {@link InspectorHost}, so the whole contract is tested in plain Node with a fake webview.
 */
import {
  budgetFor,
  CancelledError,
  estimate,
  harmFromSensitivity,
  getNumberFormat,
  solveModel,
  spearman,
  measurementMetric,
  type ComputeType,
  type LayerFormatSensitivity,
  type Estimate,
  type Model,
  type PlanMeasurement,
  type SensitivityReport,
  type Target,
} from '../core';
import {
  AnalysisProgress,
  AnalysisState,
  CancelAnalysis,
  CompareTargets,
  GetEstimate,
  GetFrontier,
  GetMeasured,
  PROTOCOL_VERSION,
  Ready,
  RunAction,
  SensitivityUpdateNotification,
  SettingsChanged,
  StartSensitivity,
  TargetsChanged,
  type AnalysisTask,
  type InspectorAction,
  type InspectorSettings,
  type MeasuredComparison,
  type MeasuredPoint,
  type PlanFrontier,
  type ReadyResult,
  type RunActionResult,
  type TargetEstimate,
} from '../protocol/messages';
import { encodeLayers } from '../protocol/codec';
import { RpcEndpoint, RpcError, type RpcPost } from '../protocol/rpc';
import {
  parseCancelAnalysis,
  parseCompareTargets,
  parseGetEstimate,
  parseGetFrontier,
  parseGetMeasured,
  parseReady,
  parseRunAction,
  parseStartSensitivity,
} from '../protocol/validate';
import {
  buildFormatOptions,
  buildLayerRows,
  buildSummary,
  buildTargetOptions,
  toComparison,
  toPlanFrontier,
  toSensitivityBatches,
  toTargetEstimate,
  type FrontierSolve,
} from './inspectorData';

/** Minimum interval between progress notifications (STYLE.md §3: about one per second). */
export const PROGRESS_INTERVAL_MS = 1000;

/** Progress of a sensitivity run as the runner reports it. */
export interface SensitivityRunProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly message: string;
}

/** A plan's assignment (from the `<model>.precision.json` beside the model). */
export interface PlanAssignmentInfo {
  readonly assignment: Readonly<Record<string, string>>;
  readonly defaultFormat: string | undefined;
  readonly fileName: string;
  /** What the plan file records as measured (GGUF `plan --verify`, Verify Plan). */
  readonly measurement?: PlanMeasurement;
}

/** What a session needs from VS Code and the document (injected; fakes in tests). */
export interface InspectorHost {
  readonly model: Model;
  settings(): InspectorSettings;
  strings(): Readonly<Record<string, string>>;
  targets(): Promise<{ readonly targets: readonly Target[]; readonly userIds: ReadonlySet<string> }>;
  /** True when running the model is allowed (trusted workspace, ONNX, runner available). */
  canMeasure(): boolean;
  planAssignment(): Promise<PlanAssignmentInfo | undefined>;
  /** Static sensitivity (cached per document). Rejects with CancelledError when `token` fires. */
  sensitivity(token: { readonly isCancellationRequested: boolean }, onProgress: (p: SensitivityRunProgress) => void): Promise<SensitivityReport>;
  cachedSensitivity(): SensitivityReport | undefined;
  /**
   * The solver's frontier and optimum at a budget, off the extension host's main thread (the task process); without
   * it (tests, virtual files) the session solves in-process.
   */
  solveFrontier?(params: { readonly report: SensitivityReport; readonly weightBudgetBytes: number; readonly formats: readonly string[]; readonly native: readonly ComputeType[]; readonly frontierPoints: number }): Promise<FrontierSolve>;
  runAction(action: InspectorAction, targetId: string): Promise<RunActionResult>;
  log(message: string): void;
  /** Clock for throttling (tests pass a fake). */
  now?(): number;
}

/** One webview's message handling. */
export class InspectorSession {
  readonly rpc: RpcEndpoint;
  private readonly estimates = new Map<string, Promise<TargetEstimate>>();
  private sensitivityRun: { cancelled: boolean; get isCancellationRequested(): boolean } | undefined;
  private disposed = false;

  constructor(private readonly host: InspectorHost, post: RpcPost) {
    this.rpc = new RpcEndpoint(post, { requireParsers: true, onInvalid: (r) => host.log(`inspector: ignored webview message: ${r}`) });
    this.rpc.onRequest(Ready, (p) => this.ready(p.protocolVersion), parseReady);
    this.rpc.onRequest(GetEstimate, (p) => this.estimateFor(p.targetId), parseGetEstimate);
    this.rpc.onRequest(CompareTargets, async (p) => (await Promise.all(p.targetIds.map((id) => this.estimateFor(id)))).map(toComparison), parseCompareTargets);
    this.rpc.onRequest(GetFrontier, (p) => this.frontier(p.targetId), parseGetFrontier);
    this.rpc.onRequest(GetMeasured, () => this.measured(), parseGetMeasured);
    this.rpc.onRequest(StartSensitivity, (p) => this.startSensitivity(p.method), parseStartSensitivity);
    this.rpc.onRequest(RunAction, (p) => this.host.runAction(p.action, p.targetId), parseRunAction);
    this.rpc.onNotification(CancelAnalysis, (p) => this.cancel(p.task), parseCancelAnalysis);
  }

  /** Feeds one message from `webview.onDidReceiveMessage`. */
  handleMessage(raw: unknown): void {
    this.rpc.handleMessage(raw);
  }

  /** Settings changed: forget estimates and tell the webview (it re-requests). */
  settingsChanged(): void {
    this.estimates.clear();
    this.rpc.sendNotification(SettingsChanged, this.host.settings());
  }

  /** Custom targets changed. */
  async targetsChanged(): Promise<void> {
    this.estimates.clear();
    const { targets, userIds } = await this.host.targets();
    this.rpc.sendNotification(TargetsChanged, buildTargetOptions(targets, userIds));
  }

  /** Stops running work and settles every pending request. */
  dispose(): void {
    this.disposed = true;
    if (this.sensitivityRun) this.sensitivityRun.cancelled = true;
    this.rpc.dispose();
  }

  private async ready(protocolVersion: number): Promise<ReadyResult> {
    if (protocolVersion !== PROTOCOL_VERSION) throw new RpcError('protocol-mismatch', `The inspector page speaks protocol ${protocolVersion}, the extension ${PROTOCOL_VERSION}; reopen the editor.`);
    const model = this.host.model;
    const { targets, userIds } = await this.host.targets();
    const formats = [...new Set(['fp32', 'bf16', 'fp16', 'fp8_e4m3', 'int8', 'int4'])];
    return {
      settings: this.host.settings(),
      strings: this.host.strings(),
      summary: buildSummary(model),
      layers: encodeLayers(buildLayerRows(model)),
      targets: buildTargetOptions(targets, userIds),
      formats: buildFormatOptions(formats),
      canMeasure: this.host.canMeasure(),
    };
  }

  private async target(id: string): Promise<Target> {
    const { targets } = await this.host.targets();
    const t = targets.find((x) => x.id === id);
    if (!t) throw new RpcError('unknown-target', `Unknown target '${id.slice(0, 100)}'.`);
    return t;
  }

  private async runEstimate(targetId: string, assignment?: Readonly<Record<string, string>>, defaultFormat?: string): Promise<Estimate> {
    const s = this.host.settings();
    const target = await this.target(targetId);
    return estimate(this.host.model, target, {
      batch: s.batch,
      ...(s.contextTokens !== null ? { context: s.contextTokens } : {}),
      kvFormat: s.kvFormat,
      ...(assignment ? { assignment } : {}),
      ...(defaultFormat !== undefined ? { defaultFormat } : {}),
    });
  }

  /** Estimate with the plan file's assignment when there is a valid one, else as stored. */
  private estimateFor(targetId: string): Promise<TargetEstimate> {
    const s = this.host.settings();
    const key = `${targetId}|${s.batch}|${s.contextTokens}|${s.kvFormat}`;
    let p = this.estimates.get(key);
    if (!p) {
      p = (async () => {
        const plan = await this.host.planAssignment().catch(() => undefined);
        if (plan) {
          try {
            return toTargetEstimate(this.host.model, await this.runEstimate(targetId, plan.assignment, plan.defaultFormat === 'keep' ? undefined : plan.defaultFormat), 'plan');
          } catch (e) {
            this.host.log(`inspector: plan ${plan.fileName} ignored for the estimate: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
        return toTargetEstimate(this.host.model, await this.runEstimate(targetId), 'stored');
      })();
      this.estimates.set(key, p);
      p.catch(() => this.estimates.delete(key));
    }
    return p;
  }

  /**
   * Predicted vs measured per layer from the plan file's `measurement` record, in the record's own metric:
   * - 'kl' (llama.cpp): measured KL of each layer alone in its format; predicted = the static score × the median
   *   measured/static ratio over those layers (the CLI's "predicted KL"), null until static sensitivity is available;
   * - 'output-sqnr-db' (onnxruntime-node): measured output SQNR with only that layer in its format; predicted = the
   *   static score's output SQNR as recorded beside it (else from the static sensitivity, when available).
   * Layer names are matched to rows by a Map; names the model lacks are dropped.
   */
  private async measured(): Promise<MeasuredComparison | null> {
    const plan = await this.host.planAssignment().catch(() => undefined);
    const m = plan?.measurement;
    if (!plan || !m) return null;
    const index = new Map(this.host.model.layers.map((l, i) => [l.name, i]));
    const report = this.host.cachedSensitivity();
    const scores = new Map((report?.layers ?? []).map((l) => [l.layer, l]));
    const staticOf = (layer: string, format: string): LayerFormatSensitivity | undefined => {
      const f = scores.get(layer)?.formats;
      return f && Object.prototype.hasOwnProperty.call(f, format) ? f[format] : undefined;
    };
    const when = m.measuredAt.slice(0, 16).replace('T', ' ');
    const source = `${plan.fileName} · ${m.runtime} · ${m.text} · ${when}`;
    let points: MeasuredPoint[];
    let planFigures: MeasuredComparison['plan'];
    let predictedFrom: string;
    if (m.metric === 'output-sqnr-db') {
      points = (m.layers ?? []).flatMap((e) => {
        const i = index.get(e.layer);
        if (i === undefined || !Number.isFinite(e.measuredSqnrDb)) return [];
        const fromStatic = staticOf(e.layer, e.format)?.predictedOutputSqnrDb;
        const predicted = e.predictedSqnrDb ?? (fromStatic !== undefined && Number.isFinite(fromStatic) ? fromStatic : undefined);
        return [{ index: i, format: e.format, predicted: predicted ?? null, measured: e.measuredSqnrDb }];
      });
      planFigures = m.plan ? { predicted: m.plan.predictedSqnrDb ?? null, predictedFrom: m.plan.predictedSqnrDb === undefined ? null : m.plan.predictor === 'measured-layers' ? 'layers measured alone, added' : 'static scores, added', measured: m.plan.measuredSqnrDb, stdErr: null, perplexity: null, referencePerplexity: null } : null;
      predictedFrom = 'static score (additive output noise-to-signal ratio)';
    } else {
      const raw = (m.layers ?? []).flatMap((e) => {
        const i = index.get(e.layer);
        if (i === undefined || e.measuredKl === undefined || !Number.isFinite(e.measuredKl)) return [];
        const score = staticOf(e.layer, e.format)?.staticScore;
        return [{ index: i, format: e.format, score: score !== undefined && Number.isFinite(score) ? score : undefined, measured: e.measuredKl }];
      });
      const ratios = raw.filter((p) => p.score !== undefined && p.score > 0).map((p) => p.measured / p.score!).sort((a, b) => a - b);
      const scale = ratios.length ? ratios[Math.floor(ratios.length / 2)]! : undefined;
      points = raw.map((p) => ({ index: p.index, format: p.format, predicted: scale !== undefined && p.score !== undefined ? p.score * scale : null, measured: p.measured }));
      planFigures = { predicted: m.plan.predictedKl ?? null, predictedFrom: m.plan.predictedKl === undefined ? null : 'layers measured alone, added', measured: m.plan.klDivergence, stdErr: m.plan.klStdErr, perplexity: m.plan.perplexity, referencePerplexity: m.plan.referencePerplexity };
      predictedFrom = `static score × median measured/static over ${ratios.length} layer(s)`;
    }
    const paired = points.filter((p): p is MeasuredPoint & { predicted: number } => p.predicted !== null);
    return {
      unit: measurementMetric(m),
      source,
      runtime: m.runtime,
      predictedFrom,
      points,
      plan: planFigures,
      spearman: spearman(paired.map((p) => p.predicted), paired.map((p) => p.measured)) ?? null,
    };
  }

  private async frontier(targetId: string): Promise<PlanFrontier> {
    const report = this.host.cachedSensitivity();
    if (!report) throw new RpcError('needs-sensitivity', 'The plan frontier needs sensitivity scores: analyse sensitivity first.');
    const model = this.host.model;
    const target = await this.target(targetId);
    const stored = await this.runEstimate(targetId);
    const budget = budgetFor(model, target, 'capacity', 1, stored).weightBudgetBytes;
    const harmOf = harmFromSensitivity(report);
    const params = { report, weightBudgetBytes: budget, formats: report.formats, native: target.native, frontierPoints: 120 };
    const solved: FrontierSolve = this.host.solveFrontier ? await this.host.solveFrontier(params) : solveModel(model, { ...params, harm: harmOf });
    const plan = await this.host.planAssignment().catch(() => undefined);
    let current: { bytes: number; harm: number; label: string } | undefined;
    if (plan) {
      try {
        const e = await this.runEstimate(targetId, plan.assignment, plan.defaultFormat === 'keep' ? undefined : plan.defaultFormat);
        const layers = new Map(model.layers.map((l) => [l.name, l]));
        let harm = 0;
        for (const pl of e.perLayer) {
          const format = getNumberFormat(pl.format);
          const layer = layers.get(pl.layer);
          if (format && layer) harm += harmOf(layer, format) ?? 0;
        }
        current = { bytes: e.weightBytes, harm, label: plan.fileName };
      } catch {
        current = undefined;
      }
    }
    return toPlanFrontier(targetId, solved, current);
  }

  private async startSensitivity(method: 'weights' | 'measured'): Promise<{ started: boolean }> {
    if (method === 'measured') throw new RpcError('unsupported', 'Measured sensitivity runs the model: use the "Measure sensitivity" action.');
    if (this.sensitivityRun) return { started: false };
    const cached = this.host.cachedSensitivity();
    if (cached) {
      this.sendSensitivity(cached);
      this.state('sensitivity', 'done', '');
      return { started: false };
    }
    const run = {
      cancelled: false,
      get isCancellationRequested() {
        return this.cancelled;
      },
    };
    this.sensitivityRun = run;
    this.state('sensitivity', 'running', '');
    const now = this.host.now ?? (() => Date.now());
    let lastProgress = -Infinity;
    void this.host
      .sensitivity(run, (p) => {
        const t = now();
        if (t - lastProgress < PROGRESS_INTERVAL_MS || this.disposed) return;
        lastProgress = t;
        this.rpc.sendNotification(AnalysisProgress, { task: 'sensitivity', done: p.bytesDone, total: p.bytesTotal, message: p.message.slice(0, 200) });
      })
      .then(
        (report) => {
          if (run.cancelled) return this.state('sensitivity', 'cancelled', '');
          this.sendSensitivity(report);
          this.state('sensitivity', 'done', '');
        },
        (e: unknown) => {
          if (run.cancelled || e instanceof CancelledError) return this.state('sensitivity', 'cancelled', '');
          this.state('sensitivity', 'error', e instanceof Error ? e.message : String(e));
        },
      )
      .finally(() => {
        if (this.sensitivityRun === run) this.sensitivityRun = undefined;
      });
    return { started: true };
  }

  private sendSensitivity(report: SensitivityReport): void {
    for (const b of toSensitivityBatches(this.host.model, report, 'weights')) this.rpc.sendNotification(SensitivityUpdateNotification, b);
  }

  private cancel(task: AnalysisTask): void {
    if (task === 'sensitivity' && this.sensitivityRun) this.sensitivityRun.cancelled = true;
  }

  private state(task: AnalysisTask, state: 'running' | 'done' | 'cancelled' | 'error', message: string): void {
    this.rpc.sendNotification(AnalysisState, { task, state, message: message.slice(0, 500) });
  }
}
