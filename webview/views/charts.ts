/**
 * The inspector's charts (chart.js, tree-shaken: only the controllers used are registered; no eval, so the
 * strict CSP holds). Colours come from VS Code theme variables and are re-read when the theme changes.
 * Each chart lives in a `[data-testid="chart-…"]` section with a `canvas`; the canvas has `role="img"` and an
 * `aria-label` summarising the numbers for screen readers.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Decimation,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import type { LayerRow, MeasuredComparison, MeasuredPoint, PlanFrontier, TargetComparison, TargetEstimate } from '../../src/protocol/messages';
import type { SensitivityState } from '../state';
import { byteUnit, formatBytes, formatDb, h, replaceChildren, setAttr, setText, t } from './dom';
import { formatMeasured, measuredAxes, metricName } from './measuredLabels';
import { speedText } from './summary';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, ScatterController, Tooltip, Legend, Decimation);

/** Theme colours read from VS Code's CSS variables (with fallbacks for the static harness). */
export interface ThemeColors {
  readonly foreground: string;
  readonly muted: string;
  readonly grid: string;
  readonly series: readonly string[];
  readonly red: string;
  readonly green: string;
  readonly font: string;
}

/** Reads the current theme colours. */
export function readTheme(): ThemeColors {
  const cs = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => cs.getPropertyValue(name).trim() || fallback;
  const fg = v('--vscode-foreground', '#cccccc');
  return {
    foreground: fg,
    muted: v('--vscode-descriptionForeground', fg),
    grid: v('--vscode-editorWidget-border', v('--vscode-panel-border', 'rgba(128,128,128,0.35)')),
    series: [
      v('--vscode-charts-blue', '#3794ff'),
      v('--vscode-charts-orange', '#d18616'),
      v('--vscode-charts-purple', '#b180d7'),
      v('--vscode-charts-green', '#89d185'),
      v('--vscode-charts-yellow', '#cca700'),
      v('--vscode-charts-red', '#f14c4c'),
      v('--vscode-charts-foreground', fg),
    ],
    red: v('--vscode-charts-red', '#f14c4c'),
    green: v('--vscode-charts-green', '#89d185'),
    font: v('--vscode-font-family', 'sans-serif'),
  };
}


/** One chart section: heading, canvas box, and an empty-state line. */
class ChartPanel {
  readonly element: HTMLElement;
  private readonly box: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly extra: HTMLElement;
  private canvas: HTMLCanvasElement | undefined;
  private chart: Chart | undefined;

  constructor(readonly testId: string, title: string, controls?: HTMLElement) {
    this.box = h('div', { class: 'chart-box' });
    this.empty = h('p', { class: 'chart-empty' });
    this.extra = h('div', { class: 'chart-extra' });
    this.element = h('section', { class: 'chart-panel', 'data-testid': testId, 'aria-label': title }, h('div', { class: 'chart-head' }, h('h3', {}, title), controls), this.box, this.empty, this.extra);
  }

  /** Replaces the panel's title (and its accessible name). */
  setTitle(title: string): void {
    const head = this.element.querySelector('h3');
    if (head) setText(head, title);
    setAttr(this.element, 'aria-label', title);
  }

  /** Shows `message` instead of a chart. */
  showEmpty(message: string): void {
    this.destroy();
    this.box.hidden = true;
    this.empty.hidden = false;
    setText(this.empty, message);
  }

  /** Draws (or redraws) the chart. */
  show(config: ChartConfiguration, ariaLabel: string): void {
    this.box.hidden = false;
    this.empty.hidden = true;
    if (!this.canvas) {
      this.canvas = h('canvas', { role: 'img' });
      this.box.appendChild(this.canvas);
    }
    setAttr(this.canvas, 'aria-label', ariaLabel);
    this.destroy(false);
    this.chart = new Chart(this.canvas, config);
  }

  /** Area under the chart for a small table or legend. */
  get extraArea(): HTMLElement {
    return this.extra;
  }

  destroy(removeCanvas = true): void {
    this.chart?.destroy();
    this.chart = undefined;
    if (removeCanvas && this.canvas) {
      this.canvas.remove();
      this.canvas = undefined;
    }
  }
}

function baseOptions(theme: ThemeColors, indexAxis: 'x' | 'y' = 'x') {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false as const,
    indexAxis,
    color: theme.foreground,
    font: { family: theme.font },
    plugins: { legend: { labels: { color: theme.foreground, boxWidth: 12 } }, tooltip: { enabled: true } },
  };
}

function axis(theme: ThemeColors, title: string, extra: Record<string, unknown> = {}) {
  return { ticks: { color: theme.muted }, grid: { color: theme.grid }, title: { display: title !== '', text: title, color: theme.muted }, ...extra };
}

/** Data the charts render. */
export interface ChartsInput {
  readonly estimate: TargetEstimate | undefined;
  readonly sensitivity: SensitivityState | undefined;
  readonly sensitivityFormat: string | undefined;
  readonly frontier: PlanFrontier | undefined;
  /** Why there is no frontier (e.g. sensitivity not analysed yet). */
  readonly frontierError: string | undefined;
  /** Predicted vs measured per layer (plan file record); null: nothing measured; undefined: not loaded yet. */
  readonly measured?: MeasuredComparison | null | undefined;
  /** Rows, for the layer names in the measured scatter's tooltips. */
  readonly layerNames?: readonly LayerRow[];
  readonly comparison: readonly TargetComparison[] | undefined;
  readonly layerCount: number;
}

/** The five chart panels. */
export class Charts {
  readonly element: HTMLElement;
  readonly sensitivitySelect: HTMLElement & { value: string };
  readonly compareArea: HTMLElement;
  private readonly memory = new ChartPanel('chart-memory', t('chartMemory'));
  private readonly formats = new ChartPanel('chart-formats', t('chartFormats'));
  private readonly sensitivity: ChartPanel;
  private readonly frontier = new ChartPanel('chart-frontier', t('chartFrontier'));
  private readonly measured = new ChartPanel('chart-measured', t('chartMeasured'));
  private readonly compare: ChartPanel;
  private theme = readTheme();
  private last: ChartsInput | undefined;
  private drawn = new Map<string, unknown>();

  constructor(onSensitivityFormat: (id: string) => void) {
    this.sensitivitySelect = h('vscode-single-select', { 'aria-label': t('sensitivityFormat'), 'data-testid': 'sensitivity-format' }) as HTMLElement & { value: string };
    this.sensitivitySelect.addEventListener('change', () => onSensitivityFormat(this.sensitivitySelect.value));
    this.sensitivity = new ChartPanel('chart-sensitivity', t('chartSensitivity'), this.sensitivitySelect);
    this.compareArea = h('div', { class: 'compare-picker' });
    this.compare = new ChartPanel('chart-compare', t('chartCompare'), this.compareArea);
    this.element = h('div', { class: 'charts', 'data-testid': 'charts' }, this.memory.element, this.formats.element, this.sensitivity.element, this.frontier.element, this.measured.element, this.compare.element);
  }

  /** Re-reads theme colours and redraws everything. */
  retheme(): void {
    this.theme = readTheme();
    this.drawn.clear();
    if (this.last) this.update(this.last);
  }

  /** Redraws the panels whose inputs changed. */
  update(input: ChartsInput): void {
    this.last = input;
    const changed = (key: string, value: unknown) => {
      if (this.drawn.get(key) === value) return false;
      this.drawn.set(key, value);
      return true;
    };
    if (changed('estimate', input.estimate)) {
      this.drawMemory(input.estimate);
      this.drawFormats(input.estimate);
    }
    if (changed('sens', input.sensitivity) || changed('sensFormat', input.sensitivityFormat)) this.drawSensitivity(input);
    if (changed('frontier', input.frontier) || changed('frontierError', input.frontierError)) this.drawFrontier(input.frontier, input.frontierError);
    if (changed('measured', input.measured)) this.drawMeasured(input.measured, input.layerNames ?? []);
    if (changed('compare', input.comparison)) this.drawCompare(input.comparison);
  }

  /**
   * Scatter of predicted (x) against measured (y) per layer in the record's metric (KL from llama.cpp, output SQNR
   * in dB from onnxruntime-node), with the predicted = measured line; under it the source (plan file, runtime, text
   * or inputs), how the prediction was made, the whole plan's figures and Spearman ρ. The panel carries
   * `data-unit` and `data-points` (points drawn) for tests. Layer names reach the canvas tooltip and text nodes
   * only (never HTML).
   */
  private drawMeasured(m: MeasuredComparison | null | undefined, layers: readonly LayerRow[]): void {
    const extra = this.measured.extraArea;
    const paired = (m?.points ?? []).filter((p): p is MeasuredPoint & { predicted: number } => p.predicted !== null);
    const lines: string[] = [];
    this.measured.setTitle(m ? t('chartMeasuredOf', metricName(m)) : t('chartMeasured'));
    setAttr(this.measured.element, 'data-unit', m?.unit ?? '');
    setAttr(this.measured.element, 'data-points', m ? paired.length : 0);
    if (m) {
      lines.push(t('measuredSource', m.source));
      lines.push(t('measuredPredictedFrom', m.predictedFrom));
      if (m.plan) {
        const p = m.plan;
        const how = p.predictedFrom === null ? '' : ` (${p.predictedFrom})`;
        if (m.unit === 'kl') lines.push(t('measuredPlan', p.predicted === null ? '–' : p.predicted.toPrecision(3), p.measured.toPrecision(3), p.stdErr === null ? '–' : p.stdErr.toPrecision(2), p.perplexity === null ? '–' : p.perplexity.toFixed(3), p.referencePerplexity === null ? '–' : p.referencePerplexity.toFixed(3), how));
        else lines.push(t('measuredPlanSqnr', p.predicted === null ? '–' : formatDb(p.predicted), formatDb(p.measured), how));
      }
      if (m.spearman !== null) lines.push(t('measuredSpearman', m.spearman.toFixed(2), paired.length));
    }
    replaceChildren(extra, ...lines.map((l) => h('p', { class: 'chart-note' }, l)));
    if (!m || paired.length === 0) return this.measured.showEmpty(!m ? t('noMeasured') : m.points.length > 0 ? t('needsStaticScores') : t('noMeasuredLayers'));
    const th = this.theme;
    const values = paired.flatMap((p) => [p.predicted, p.measured]);
    // KL starts at 0; SQNR in dB has no natural origin: the line spans the points.
    const lo = m.unit === 'kl' ? 0 : Math.min(...values);
    const hi = Math.max(...values);
    const axes = measuredAxes(m);
    const fmt = (v: number): string => formatMeasured(m, v);
    this.measured.show(
      {
        type: 'scatter',
        data: {
          datasets: [
            { label: axes.legend, data: paired.map((p) => ({ x: p.predicted, y: p.measured })), backgroundColor: th.series[0]!, borderColor: th.series[0]!, pointRadius: 4 },
            { label: t('equalLine'), data: [{ x: lo, y: lo }, { x: hi, y: hi }], showLine: true, pointRadius: 0, borderColor: th.muted, borderDash: [4, 4] },
          ],
        },
        options: {
          ...baseOptions(th),
          plugins: {
            legend: { labels: { color: th.foreground, boxWidth: 12 } },
            tooltip: { callbacks: { label: (c) => { if (c.datasetIndex !== 0) return ''; const p = paired[c.dataIndex]!; return `${layers[p.index]?.name ?? p.index} (${p.format}): ${t('predictedAxis', metricName(m), m.predictedFrom)} ${fmt(p.predicted)}, ${t('measuredAxis', metricName(m), m.runtime)} ${fmt(p.measured)}`; } } },
          },
          scales: { x: axis(th, axes.x, m.unit === 'kl' ? { min: 0 } : {}), y: axis(th, axes.y, m.unit === 'kl' ? { min: 0 } : {}) },
        },
      },
      `${t('chartMeasuredOf', metricName(m))}: ${paired.length} layers${m.spearman !== null ? `, Spearman ${m.spearman.toFixed(2)}` : ''}`,
    );
  }

  private drawMemory(e: TargetEstimate | undefined): void {
    if (!e) return this.memory.showEmpty(t('estimating'));
    const th = this.theme;
    const m = e.memory;
    // The runtime's own components (llama.cpp buffers, vLLM budget parts), then overhead they do not already hold.
    const listed = m.runtime.components.filter((c) => c.kind === 'overhead').reduce((a, c) => a + c.bytes, 0);
    const parts: [string, number][] = m.runtime.components.length > 0
      ? [...m.runtime.components.filter((c) => c.bytes > 0).map((c): [string, number] => [`${m.runtime.id}: ${c.label}`, c.bytes]), ...(m.overheadBytes > listed ? [[t('overhead'), m.overheadBytes - listed] as [string, number]] : [])]
      : [
        [t('weights'), m.weightBytes],
        // A model without a KV cache (CNN, detector, VAD, encoder) shows no KV part, not a zero one.
        ...(e.generative === false ? [] : [[t('kvCache'), m.kvCacheBytes] as [string, number]]),
        [t('activations'), m.activationBytes],
        [t('overhead'), m.overheadBytes],
      ];
    const labels = [t('needed'), t('capacity')];
    const u = byteUnit(Math.max(m.totalBytes, m.capacityBytes));
    const datasets = parts.map(([label, bytes], i) => ({ label, data: [bytes / u.divisor, 0], backgroundColor: th.series[i % th.series.length]!, stack: 'm' }));
    datasets.push({ label: `${t('capacity')} (${e.targetLabel})`, data: [0, m.capacityBytes / u.divisor], backgroundColor: e.fits ? th.green : th.red, stack: 'm' });
    this.memory.show(
      {
        type: 'bar',
        data: { labels, datasets },
        options: {
          ...baseOptions(th, 'y'),
          scales: { x: axis(th, u.label, { stacked: true, beginAtZero: true }), y: axis(th, '', { stacked: true }) },
          plugins: {
            legend: { labels: { color: th.foreground, boxWidth: 12 } },
            tooltip: { callbacks: { label: (c) => `${c.dataset.label ?? ''}: ${formatBytes(Number(c.raw) * u.divisor)}` } },
          },
        },
      },
      `${t('chartMemory')}: ${parts.map(([l, b]) => `${l} ${formatBytes(b)}`).join(', ')}; ${t('capacity')} ${formatBytes(m.capacityBytes)}`,
    );
  }

  private drawFormats(e: TargetEstimate | undefined): void {
    if (!e || e.bytesByFormat.length === 0) return this.formats.showEmpty(t('estimating'));
    const th = this.theme;
    const rows = [...e.bytesByFormat].sort((a, b) => b.bytes - a.bytes);
    const u = byteUnit(rows[0]?.bytes ?? 0);
    this.formats.show(
      {
        type: 'bar',
        data: {
          labels: rows.map((r) => r.label),
          datasets: [{ label: t('chartFormats'), data: rows.map((r) => r.bytes / u.divisor), backgroundColor: rows.map((_, i) => th.series[i % th.series.length]!) }],
        },
        options: {
          ...baseOptions(th, 'y'),
          plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${formatBytes(Number(c.raw) * u.divisor)} · ${rows[c.dataIndex]?.layerCount ?? 0} ${t('layers').toLowerCase()}` } } },
          scales: { x: axis(th, u.label, { beginAtZero: true }), y: axis(th, '') },
        },
      },
      `${t('chartFormats')}: ${rows.map((r) => `${r.label} ${formatBytes(r.bytes)}`).join(', ')}`,
    );
  }

  private drawSensitivity(input: ChartsInput): void {
    const s = input.sensitivity;
    const select = this.sensitivitySelect;
    const ids = s?.formats.map((f) => f.id) ?? [];
    if (select.getAttribute('data-formats') !== ids.join()) {
      replaceChildren(select, ...(s?.formats ?? []).map((f) => h('vscode-option', { value: f.id }, f.label)));
      setAttr(select, 'data-formats', ids.join());
    }
    select.hidden = ids.length === 0;
    if (!s || ids.length === 0) return this.sensitivity.showEmpty(t('sensitivityPending'));
    // Default: the last (most aggressive) candidate, where layers differ most.
    const chosen = input.sensitivityFormat ? ids.indexOf(input.sensitivityFormat) : -1;
    const col = chosen >= 0 ? chosen : ids.length - 1;
    select.value = ids[col]!;
    const points: { x: number; y: number }[] = [];
    for (let i = 0; i < s.cells.length; i++) {
      const c = s.cells[i]?.[col];
      if (c) points.push({ x: i, y: c.heat });
    }
    const th = this.theme;
    this.sensitivity.show(
      {
        type: 'line',
        data: { datasets: [{ label: s.formats[col]!.label, data: points, borderColor: th.series[1]!, backgroundColor: th.series[1]!, pointRadius: points.length > 200 ? 0 : 2, borderWidth: 1 }] },
        options: {
          ...baseOptions(th),
          parsing: false,
          normalized: true,
          plugins: { legend: { display: false }, decimation: { enabled: true, algorithm: 'lttb', samples: 500 } },
          scales: { x: axis(th, t('layers'), { type: 'linear', min: 0, max: Math.max(1, input.layerCount - 1) }), y: axis(th, 'harm (0–1)', { min: 0, max: 1 }) },
        },
      },
      `${t('chartSensitivity')} (${s.formats[col]!.label}): ${points.length} layers`,
    );
  }

  private drawFrontier(f: PlanFrontier | undefined, error: string | undefined): void {
    if (!f || f.points.length === 0) return this.frontier.showEmpty(error ?? t('noFrontier'));
    const th = this.theme;
    const u = byteUnit(Math.max(...f.points.map((p) => p.memoryBytes), f.current?.memoryBytes ?? 0));
    const pts = f.points.map((p) => ({ x: p.memoryBytes / u.divisor, y: p.harm }));
    const datasets: ChartConfiguration<'scatter'>['data']['datasets'] = [
      { label: t('frontier'), data: pts, showLine: true, borderColor: th.series[0]!, backgroundColor: th.series[0]!, pointRadius: 3 },
    ];
    if (f.current) datasets.push({ label: t('currentPlan'), data: [{ x: f.current.memoryBytes / u.divisor, y: f.current.harm }], backgroundColor: th.red, borderColor: th.foreground, pointRadius: 7, pointStyle: 'rectRot' });
    this.frontier.show(
      {
        type: 'scatter',
        data: { datasets },
        options: {
          ...baseOptions(th),
          plugins: {
            legend: { labels: { color: th.foreground, boxWidth: 12 } },
            tooltip: { callbacks: { label: (c) => { const p = c.datasetIndex === 0 ? f.points[c.dataIndex] : f.current; return p ? `${p.label}: ${formatBytes(p.memoryBytes)}, ${p.harm.toFixed(3)} ${f.harmUnit}` : ''; } } },
          },
          scales: { x: axis(th, `${t('weights')} (${u.label})`), y: axis(th, f.harmUnit, { min: 0 }) },
        },
      },
      `${t('chartFrontier')}: ${f.points.length} points${f.current ? `; ${t('currentPlan')} ${formatBytes(f.current.memoryBytes)}` : ''}`,
    );
  }

  private drawCompare(rows: readonly TargetComparison[] | undefined): void {
    const extra = this.compare.extraArea;
    if (!rows || rows.length === 0) {
      replaceChildren(extra);
      return this.compare.showEmpty(t('estimating'));
    }
    const th = this.theme;
    const u = byteUnit(Math.max(...rows.map((r) => Math.max(r.memory.totalBytes, r.memory.capacityBytes * r.devicesNeeded))));
    this.compare.show(
      {
        type: 'bar',
        data: {
          labels: rows.map((r) => r.targetLabel),
          datasets: [
            { label: t('needed'), data: rows.map((r) => r.memory.totalBytes / u.divisor), backgroundColor: rows.map((r) => (r.fits ? th.series[0]! : th.red)) },
            { label: t('capacity'), data: rows.map((r) => (r.memory.capacityBytes * r.devicesNeeded) / u.divisor), backgroundColor: th.series[6]! },
          ],
        },
        options: { ...baseOptions(th), scales: { x: axis(th, ''), y: axis(th, u.label, { beginAtZero: true }) } },
      },
      `${t('chartCompare')}: ${rows.map((r) => `${r.targetLabel} ${r.fits ? t('fits') : t('doesNotFit')}`).join(', ')}`,
    );
    const table = h(
      'table',
      { class: 'compare-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('target')), h('th', { scope: 'col' }, t('needed')), h('th', { scope: 'col' }, t('capacity')), h('th', { scope: 'col' }, 'Devices'), h('th', { scope: 'col' }, 'Speed'))),
      h(
        'tbody',
        {},
        ...rows.map((r) =>
          h(
            'tr',
            { class: r.fits ? 'fits' : 'nofit' },
            h('td', {}, r.targetLabel),
            h('td', { class: 'num' }, formatBytes(r.memory.totalBytes)),
            h('td', { class: 'num' }, formatBytes(r.memory.capacityBytes)),
            h('td', { class: 'num' }, r.devicesNeeded),
            h('td', { class: 'num' }, speedText(r) ?? '–'),
          ),
        ),
      ),
    );
    replaceChildren(extra, table);
  }
}
