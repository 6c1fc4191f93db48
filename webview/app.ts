/**
 * The inspector application: builds the page, runs the handshake with the host and keeps the views in step
 * with the {@link Store}. DOM only through ./views/dom (text, never HTML).
 *
 * Order of events: `webview/ready` → first paint (summary + layer table, structure only) → estimate for the
 * selected target (banner, memory and format charts, assigned column) → frontier and comparison → optional
 * sensitivity stream (heat cells, sensitivity chart) with progress and cancel.
 */
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
  type LayerRow,
  type ReadyResult,
  type TargetOption,
} from '../src/protocol/messages';
import { decodeLayers, decodeSensitivity } from '../src/protocol/codec';
import type { RpcEndpoint } from '../src/protocol/rpc';
import type { VsCodeApi } from './rpc';
import { DEFAULT_VIEW, Store, initialState, mergeSensitivity, restoreView, type AppState, type SortKey } from './state';
import { Charts } from './views/charts';
import { formatBytes, formatCount, h, replaceChildren, setAttr, setStrings, setText, t } from './views/dom';
import { buildRows } from './views/layerRows';
import { LayerTable } from './views/layerTable';
import { measuredColumn } from './views/measuredLabels';
import { renderBanner, renderSummary } from './views/summary';

/** Default number of targets in the side-by-side comparison. */
const DEFAULT_COMPARE_COUNT = 4;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const TASK_LABEL: Record<AnalysisTask, () => string> = {
  estimate: () => t('taskEstimate'),
  sensitivity: () => t('taskSensitivity'),
  plan: () => t('taskPlan'),
  compare: () => t('taskCompare'),
};

/** The running application (exposed on `window` by main.ts for the harness). */
export class InspectorApp {
  readonly store: Store;
  readonly root: HTMLElement;
  /** The layer table (public for the harness's performance probe). */
  table: LayerTable | undefined;
  private charts: Charts | undefined;
  private targetSelect: ValueElement | undefined;
  private banner: HTMLElement | undefined;
  private progressLine: HTMLElement | undefined;
  private layerCount: HTMLElement | undefined;
  private shownCount: HTMLElement | undefined;
  private roleSelect: ValueElement | undefined;
  private actionButtons = new Map<InspectorAction, HTMLElement>();
  private sensitivityButton: HTMLButtonElement | undefined;
  private rowsKey: unknown[] = [];
  /** ms from app start to the first paint of the structure (summary + table). */
  firstPaintMs: number | undefined;
  private readonly started = performance.now();

  constructor(private readonly rpc: RpcEndpoint, private readonly api: VsCodeApi, root: HTMLElement) {
    this.root = root;
    this.store = new Store(initialState(restoreView(api.getState())));
    this.store.subscribe((s, prev) => {
      if (s.view !== prev.view) this.api.setState(s.view);
      this.render(s, prev);
    });
    replaceChildren(root, h('p', { class: 'loading', 'data-testid': 'loading' }, t('loading')));
  }

  /** Registers notification handlers and performs the handshake. */
  async start(): Promise<void> {
    this.rpc.onNotification(AnalysisProgress, (p) => this.store.update({ progress: { ...this.store.state.progress, [p.task]: p } }));
    this.rpc.onNotification(AnalysisState, (p) => {
      const progress = { ...this.store.state.progress };
      if (p.state !== 'running') delete progress[p.task];
      this.store.update({ taskState: { ...this.store.state.taskState, [p.task]: p }, progress });
      // The planner's frontier needs sensitivity scores: fetch it again once they exist.
      if (p.task === 'sensitivity' && p.state === 'done') {
        void this.loadFrontier();
        void this.loadMeasured();
      }
    });
    this.rpc.onNotification(SensitivityUpdateNotification, (batch) => {
      if (!this.store.state.init) return;
      this.store.update({ sensitivity: mergeSensitivity(this.store.state.sensitivity, decodeSensitivity(batch), this.store.state.layers.length) });
    });
    this.rpc.onNotification(SettingsChanged, (settings) => {
      const init = this.store.state.init;
      if (!init) return;
      this.store.update({ init: { ...init, settings } });
      void this.refreshAnalyses();
    });
    this.rpc.onNotification(TargetsChanged, (targets) => {
      const init = this.store.state.init;
      if (!init) return;
      this.store.update({ init: { ...init, targets } });
      this.fillTargets(targets);
      void this.refreshAnalyses();
    });
    let init: ReadyResult;
    try {
      init = await this.rpc.sendRequest(Ready, { protocolVersion: PROTOCOL_VERSION });
    } catch (e) {
      this.store.update({ fatal: errorText(e) });
      replaceChildren(this.root, h('p', { class: 'fatal', role: 'alert', 'data-testid': 'fatal' }, t('errorPrefix', errorText(e))));
      return;
    }
    const tReady = performance.now();
    setStrings(init.strings);
    let layers;
    try {
      layers = decodeLayers(init.layers);
    } catch (e) {
      this.store.update({ fatal: errorText(e) });
      replaceChildren(this.root, h('p', { class: 'fatal', role: 'alert', 'data-testid': 'fatal' }, t('errorPrefix', errorText(e))));
      return;
    }
    const view = this.store.state.view;
    const targetId = view.targetId && init.targets.some((x) => x.id === view.targetId) ? view.targetId : init.settings.targetId;
    const compareIds = view.compareIds.filter((id) => init.targets.some((x) => x.id === id));
    this.buildPage(init, layers);
    const tBuilt = performance.now();
    this.store.update({
      init,
      layers,
      view: { ...view, targetId, compareIds: compareIds.length > 0 ? compareIds : defaultCompare(init.targets, targetId) },
    });
    this.firstPaintMs = performance.now() - this.started;
    if ((window as { precisionLensDebug?: boolean }).precisionLensDebug) console.log(`[pl-timing] ready reply at ${Math.round(tReady - this.started)} ms, page built +${Math.round(tBuilt - tReady)} ms, first render +${Math.round(performance.now() - tBuilt)} ms`);
    setAttr(this.root, 'data-first-paint-ms', Math.round(this.firstPaintMs));
    setAttr(this.root, 'data-first-paint-at', Math.round(performance.now()));
    setAttr(this.root, 'data-script-start-at', Math.round(this.started));
    await this.refreshAnalyses();
    if (init.settings.autoSensitivity) void this.startSensitivity('weights');
  }

  /** Re-requests everything that depends on the target and settings. */
  async refreshAnalyses(): Promise<void> {
    await Promise.all([this.loadEstimate(), this.loadFrontier(), this.loadComparison(), this.loadMeasured()]);
  }

  /** Predicted vs measured from the plan file (null when it records no measurement; older hosts: null). */
  private async loadMeasured(): Promise<void> {
    try {
      this.store.update({ measured: await this.rpc.sendRequest(GetMeasured, {}) });
    } catch {
      this.store.update({ measured: null });
    }
  }

  private currentTarget(): string {
    return this.store.state.view.targetId ?? this.store.state.init?.settings.targetId ?? '';
  }

  private async loadEstimate(): Promise<void> {
    const targetId = this.currentTarget();
    this.store.update({ estimate: undefined, estimateError: undefined });
    try {
      const estimate = await this.rpc.sendRequest(GetEstimate, { targetId });
      if (this.currentTarget() === targetId) this.store.update({ estimate });
    } catch (e) {
      if (this.currentTarget() === targetId) this.store.update({ estimateError: errorText(e) });
    }
  }

  private async loadFrontier(): Promise<void> {
    const targetId = this.currentTarget();
    try {
      const frontier = await this.rpc.sendRequest(GetFrontier, { targetId });
      if (this.currentTarget() === targetId) this.store.update({ frontier, frontierError: undefined });
    } catch (e) {
      if (this.currentTarget() === targetId) this.store.update({ frontier: undefined, frontierError: errorText(e) });
    }
  }

  private async loadComparison(): Promise<void> {
    const ids = this.store.state.view.compareIds;
    if (ids.length === 0) return this.store.update({ comparison: [] });
    try {
      const comparison = await this.rpc.sendRequest(CompareTargets, { targetIds: ids });
      if (this.store.state.view.compareIds === ids) this.store.update({ comparison });
    } catch {
      this.store.update({ comparison: [] });
    }
  }

  private async startSensitivity(method: 'weights' | 'measured'): Promise<void> {
    try {
      await this.rpc.sendRequest(StartSensitivity, { method });
    } catch (e) {
      this.store.update({ taskState: { ...this.store.state.taskState, sensitivity: { task: 'sensitivity', state: 'error', message: errorText(e) } } });
    }
  }

  private async runAction(action: InspectorAction): Promise<void> {
    try {
      const r = await this.rpc.sendRequest(RunAction, { action, targetId: this.currentTarget() });
      if (!r.ok && r.message) this.flash(r.message);
    } catch (e) {
      this.flash(errorText(e));
    }
  }

  private flash(message: string): void {
    if (this.progressLine) setText(this.progressLine.querySelector('.status-text') ?? this.progressLine, message);
  }

  //#region page

  private buildPage(init: ReadyResult, layerRows: readonly LayerRow[]): void {
    const s = init.summary;
    // Toolbar: target picker, banner, actions.
    this.targetSelect = h('vscode-single-select', { id: 'target-select', 'aria-label': t('target'), 'data-testid': 'target-select' }) as ValueElement;
    this.fillTargets(init.targets);
    this.targetSelect.addEventListener('change', () => {
      const id = this.targetSelect!.value;
      this.store.updateView({ targetId: id });
      void this.loadEstimate();
      void this.loadFrontier();
    });
    this.banner = h('div', { class: 'banner pending', role: 'status', 'aria-live': 'polite', 'data-testid': 'target-banner' }, t('estimating'));
    const actions: [InspectorAction, string][] = [
      ['generatePlan', t('actionGeneratePlan')],
      ['openPlan', t('actionOpenPlan')],
      ['measureSensitivity', t('actionMeasure')],
      ['exportPlan', t('actionExport')],
      ['applyPlan', t('actionApply')],
    ];
    const toolbar = h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Actions' });
    for (const [action, label] of actions) {
      const b = h('vscode-button', { secondary: action !== 'generatePlan', 'data-action': action, 'data-testid': `action-${action}` }, label);
      if (action === 'measureSensitivity' && !init.canMeasure) setAttr(b, 'disabled', true);
      b.addEventListener('click', () => {
        if (!b.hasAttribute('disabled')) void this.runAction(action);
      });
      this.actionButtons.set(action, b);
      toolbar.appendChild(b);
    }
    const header = h(
      'header',
      { class: 'topbar' },
      h('div', { class: 'target-picker' }, h('label', { for: 'target-select' }, t('target')), this.targetSelect),
      this.banner,
      toolbar,
    );
    // Progress line with cancel.
    this.sensitivityButton = h('button', { type: 'button', class: 'link-button', 'data-testid': 'sensitivity-button' }, t('actionAnalyse'));
    this.sensitivityButton.addEventListener('click', () => {
      const running = this.store.state.taskState.sensitivity?.state === 'running';
      if (running) this.rpc.sendNotification(CancelAnalysis, { task: 'sensitivity' });
      else void this.startSensitivity('weights');
    });
    this.progressLine = h(
      'div',
      { class: 'progress-line', role: 'status', 'aria-live': 'polite', 'data-testid': 'progress' },
      h('span', { class: 'status-text' }),
      h('progress', { class: 'progress', max: 1, value: 0, hidden: true }),
      this.sensitivityButton,
    );
    // Layer section.
    this.layerCount = h('span', { 'data-testid': 'layer-count', 'data-count': s.layerCount }, String(s.layerCount));
    this.shownCount = h('span', { class: 'shown-count', 'data-testid': 'shown-count' });
    const search = h('vscode-textfield', { type: 'search', placeholder: t('search'), 'aria-label': t('search'), 'data-testid': 'layer-search' }) as ValueElement;
    search.value = this.store.state.view.search;
    let searchTimer: ReturnType<typeof setTimeout> | undefined;
    search.addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => this.store.updateView({ search: search.value }), 80);
    });
    const roles = [...new Set(layerRows.map((l) => l.role))].sort();
    this.roleSelect = h('vscode-single-select', { 'aria-label': t('role'), 'data-testid': 'role-filter' }, h('vscode-option', { value: '' }, t('allRoles')), ...roles.map((r) => h('vscode-option', { value: r }, r))) as ValueElement;
    this.roleSelect.value = roles.includes(this.store.state.view.role as never) ? this.store.state.view.role : '';
    this.roleSelect.addEventListener('change', () => this.store.updateView({ role: this.roleSelect!.value }));
    const quant = checkbox(t('quantizableOnly'), this.store.state.view.quantizableOnly, (v) => this.store.updateView({ quantizableOnly: v }), 'filter-quantizable');
    const grouped = checkbox(t('groupByBlock'), this.store.state.view.grouped, (v) => this.store.updateView({ grouped: v }), 'group-by-block');
    this.table = new LayerTable({
      onSort: (key) => this.sortBy(key),
      onToggleGroup: (block) => {
        const c = new Set(this.store.state.view.collapsed);
        if (c.has(block)) c.delete(block);
        else c.add(block);
        this.store.updateView({ collapsed: [...c] });
      },
    });
    const layers = h(
      'section',
      { class: 'layers card', 'aria-label': t('layers') },
      h('div', { class: 'section-head' }, h('h2', {}, t('layers'), ' ', h('span', { class: 'badge' }, this.layerCount)), this.shownCount),
      h('div', { class: 'filters' }, search, this.roleSelect, quant, grouped),
      this.table.element,
    );
    this.charts = new Charts((id) => this.store.updateView({ sensitivityFormat: id }));
    this.buildComparePicker(init.targets);
    replaceChildren(
      this.root,
      header,
      this.progressLine,
      h('main', { class: 'content' }, h('div', { class: 'top-row' }, renderSummary(s)), layers, h('section', { class: 'charts-section', 'aria-label': t('charts') }, h('h2', {}, t('charts')), this.charts.element)),
    );
  }

  private fillTargets(targets: readonly TargetOption[]): void {
    const sel = this.targetSelect;
    if (!sel) return;
    const catalog = targets.filter((x) => !x.userDefined);
    const user = targets.filter((x) => x.userDefined);
    const opt = (x: TargetOption) => h('vscode-option', { value: x.id, description: `${x.vendor} · ${formatBytes(x.memoryBytes)}${x.userDefined ? ` · ${t('userTarget')}` : ''}` }, x.label);
    replaceChildren(sel, ...catalog.map(opt), ...user.map(opt));
    sel.value = this.currentTarget();
  }

  private buildComparePicker(targets: readonly TargetOption[]): void {
    const area = this.charts?.compareArea;
    if (!area) return;
    const selected = new Set(this.store.state.view.compareIds);
    const details = h('details', { class: 'compare-details' }, h('summary', {}, t('compareWith')));
    const list = h('div', { class: 'compare-list' });
    for (const x of targets) {
      list.appendChild(
        checkbox(x.label, selected.has(x.id), (on) => {
          const ids = new Set(this.store.state.view.compareIds);
          if (on) ids.add(x.id);
          else ids.delete(x.id);
          this.store.updateView({ compareIds: [...ids].slice(0, 16) });
          void this.loadComparison();
        }),
      );
    }
    details.appendChild(list);
    replaceChildren(area, details);
  }

  private sortBy(key: SortKey): void {
    const v = this.store.state.view;
    this.store.updateView(v.sortKey === key ? { sortDescending: !v.sortDescending } : { sortKey: key, sortDescending: key === 'params' || key === 'bytes' || key.startsWith('sens:') });
  }

  //#endregion

  //#region render

  private render(s: AppState, prev: AppState): void {
    if (!s.init || !this.table) return;
    if (s.estimate !== prev.estimate || s.estimateError !== prev.estimateError || !prev.init) renderBanner(this.banner!, s.estimate, s.estimateError);
    if (this.targetSelect && this.targetSelect.value !== this.currentTarget()) this.targetSelect.value = this.currentTarget();
    this.renderTable(s);
    this.renderProgress(s);
    this.charts?.update({
      estimate: s.estimate,
      sensitivity: s.sensitivity,
      sensitivityFormat: s.view.sensitivityFormat,
      frontier: s.frontier,
      frontierError: s.frontierError,
      measured: s.measured,
      layerNames: s.layers,
      comparison: s.comparison,
      layerCount: s.layers.length,
    });
  }

  private renderTable(s: AppState): void {
    const v = s.view;
    const key = [s.layers, s.estimate, s.sensitivity, s.measured, v.search, v.role, v.quantizableOnly, v.grouped, v.collapsed, v.sortKey, v.sortDescending];
    if (key.every((k, i) => k === this.rowsKey[i])) return;
    this.rowsKey = key;
    const layers = s.layers;
    const model = buildRows(layers, {
      search: v.search,
      role: v.role,
      quantizableOnly: v.quantizableOnly,
      grouped: v.grouped,
      collapsed: new Set(v.collapsed),
      sortKey: v.sortKey,
      sortDescending: v.sortDescending,
      estimate: s.estimate,
      sensitivity: s.sensitivity,
    });
    setText(this.shownCount!, model.matched === layers.length ? '' : t('shownOf', formatCount(model.matched)));
    const formatLabels = new Map([...(s.init!.formats.map((f) => [f.id, f.label] as const)), ...(s.estimate?.bytesByFormat.map((f) => [f.format, f.label] as const) ?? [])]);
    const measured = s.measured ? new Map(s.measured.points.map((p) => [p.index, p])) : undefined;
    this.table!.setData({ layers, rows: model.rows, estimate: s.estimate, sensitivity: s.sensitivity, sortKey: v.sortKey, sortDescending: v.sortDescending, formatLabels, blockAttention: s.init!.summary.blockAttention, ...(measured ? { measured } : {}), measuredColumn: measuredColumn(s.measured) }, true);
  }

  private renderProgress(s: AppState): void {
    const line = this.progressLine!;
    const text = line.querySelector('.status-text')!;
    const bar = line.querySelector('progress')!;
    const running = (Object.keys(s.progress) as AnalysisTask[])[0];
    const p = running ? s.progress[running] : undefined;
    const sensState = s.taskState.sensitivity;
    if (p) {
      setText(text, `${t('progress', TASK_LABEL[p.task](), p.done, p.total)}${p.message ? ` — ${p.message}` : ''}`);
      bar.hidden = false;
      bar.max = Math.max(1, p.total);
      bar.value = Math.min(p.done, p.total);
    } else {
      bar.hidden = true;
      const last = Object.values(s.taskState).find((x) => x && x.state !== 'running');
      if (last) setText(text, last.state === 'done' ? t('analysisDone', TASK_LABEL[last.task]()) : last.state === 'cancelled' ? t('analysisCancelled', TASK_LABEL[last.task]()) : t('analysisFailed', TASK_LABEL[last.task](), last.message));
    }
    setText(this.sensitivityButton!, sensState?.state === 'running' ? t('cancel') : t('actionAnalyse'));
    setAttr(line, 'data-state', sensState?.state ?? 'idle');
  }

  //#endregion
}

/** A `vscode-*` form element with a value (single-select, textfield). */
interface ValueElement extends HTMLElement {
  value: string;
}

function checkbox(label: string, checked: boolean, onChange: (v: boolean) => void, testId?: string): HTMLElement {
  const box = h('vscode-checkbox', { checked, ...(testId ? { 'data-testid': testId } : {}) }, label) as HTMLElement & { checked: boolean };
  box.checked = checked;
  box.addEventListener('change', () => onChange(box.checked));
  return box;
}

function defaultCompare(targets: readonly TargetOption[], selected: string): string[] {
  const ids = [selected];
  for (const x of targets) {
    if (ids.length >= DEFAULT_COMPARE_COUNT) break;
    if (!ids.includes(x.id) && !x.userDefined) ids.push(x.id);
  }
  return ids.filter((id) => targets.some((x) => x.id === id));
}

export { DEFAULT_VIEW };
