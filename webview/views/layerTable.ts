/**
 * The virtualised layer table. Only the rows in view (plus a small overscan) exist in the DOM: a pool of row
 * elements is recycled as the user scrolls, each slot showing display row `i` where `i % poolSize` is the
 * slot. Rows are absolutely positioned (via CSSOM `style.transform`, allowed by the CSP) inside a body whose
 * height is `rowCount × ROW_HEIGHT_PX`, so 20,000+ layers scroll as smoothly as 20.
 *
 * ARIA grid pattern: the scroll container is the focusable `role="grid"` with `aria-activedescendant`
 * pointing at the active row; arrows/PageUp/PageDown/Home/End move, Enter/Space/←/→ fold block groups;
 * headers are buttons that sort. All text goes through `setText` (textContent), never HTML.
 */
import type { FormatOption, LayerRow, MeasuredPoint, SensitivityCell, TargetEstimate } from '../../src/protocol/messages';
import type { SensitivityState, SortKey } from '../state';
import { formatBytes, formatCount, formatShape, h, setAttr, setText, t } from './dom';
import type { DisplayRow } from './layerRows';
import type { MeasuredColumn } from './measuredLabels';
import { NO_BLOCK } from './layerRows';

/** Fixed row height; CSS uses the same value (`--lt-row-height`). */
export const ROW_HEIGHT_PX = 24;
const OVERSCAN_ROWS = 8;
/**
 * Column widths: `min` px each, `grow` shares the space left over when the table is wider than the sum. Every
 * row is its own CSS grid, so the template must not depend on content (no `auto`/`max-content`), or columns
 * would not line up between rows.
 */
const FIXED_COLUMNS: readonly { readonly key: SortKey | null; readonly label: () => string; readonly min: number; readonly grow: number; readonly numeric: boolean }[] = [
  { key: 'name', label: () => t('colName'), min: 240, grow: 3, numeric: false },
  { key: 'op', label: () => t('colOp'), min: 200, grow: 1.5, numeric: false },
  { key: null, label: () => t('colShape'), min: 110, grow: 0.5, numeric: false },
  { key: 'params', label: () => t('colParams'), min: 72, grow: 0, numeric: true },
  { key: 'stored', label: () => t('colStored'), min: 72, grow: 0, numeric: false },
  { key: 'assigned', label: () => t('colAssigned'), min: 84, grow: 0, numeric: false },
  { key: 'bytes', label: () => t('colBytes'), min: 84, grow: 0, numeric: true },
  { key: null, label: () => t('colMeasured'), min: 96, grow: 0, numeric: true },
];
/** Index of the measured column in {@link FIXED_COLUMNS}. */
const MEASURED_COLUMN = 7;
const SENS_COLUMN_PX = 86;

/** Callbacks into the app. */
export interface LayerTableEvents {
  onSort(key: SortKey): void;
  onToggleGroup(block: number): void;
}

/** Data the table renders. */
export interface LayerTableData {
  readonly layers: readonly LayerRow[];
  readonly rows: readonly DisplayRow[];
  readonly estimate: TargetEstimate | undefined;
  readonly sensitivity: SensitivityState | undefined;
  readonly sortKey: SortKey;
  readonly sortDescending: boolean;
  /** Display labels of format ids (from the estimate). */
  readonly formatLabels?: ReadonlyMap<string, string>;
  /** Cache label per block index (summary `blockAttention`), shown on block group rows. */
  readonly blockAttention?: readonly string[];
  /** Measured figure of a layer alone in its plan format (plan file record), by `LayerRow.index`. */
  readonly measured?: ReadonlyMap<number, MeasuredPoint>;
  /** Header, tooltip and cells of the measured column, named by the record's metric (measuredLabels.ts). */
  readonly measuredColumn?: MeasuredColumn;
}

interface Slot {
  readonly el: HTMLElement;
  readonly cells: HTMLElement[];
  /** Display row shown, -1 when free. */
  row: number;
  /** Data version the slot was filled with. */
  version: number;
}

/** Column-header label of a format id: 'fp8_e4m3' → 'FP8 E4M3' (the full label is in the tooltip). */
export function shortFormatLabel(id: string): string {
  return id.toUpperCase().replace(/_/g, ' ');
}

/** Heat bucket 0..9 for a 0..1 value (CSS classes `heat-0` … `heat-9`). */
export function heatBucket(heat: number): number {
  if (!Number.isFinite(heat)) return 0;
  return Math.max(0, Math.min(9, Math.round(heat * 9)));
}

/** Virtual scroller for layer rows. */
export class LayerTable {
  /** The focusable grid (also the scroll container). */
  readonly element: HTMLElement;
  private readonly header: HTMLElement;
  private readonly body: HTMLElement;
  private slots: Slot[] = [];
  private data: LayerTableData | undefined;
  private measuredHeader: HTMLElement | undefined;
  private sensFormats: readonly FormatOption[] = [];
  private version = 0;
  private active = 0;
  private frame = 0;
  private viewportHeight = 400;
  /** Rows painted by the last render (tests and the performance probe read it). */
  renderedRowCount = 0;

  constructor(private readonly events: LayerTableEvents) {
    this.header = h('div', { class: 'lt-row lt-header', role: 'row', 'aria-rowindex': 1 });
    this.body = h('div', { class: 'lt-body', role: 'rowgroup' });
    this.element = h(
      'div',
      { class: 'layer-table', role: 'grid', tabindex: 0, 'aria-label': t('layers'), 'aria-rowcount': 1, 'data-testid': 'layer-table' },
      h('div', { role: 'rowgroup', class: 'lt-head' }, this.header),
      this.body,
    );
    this.element.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.element.addEventListener('click', (e) => this.onClick(e));
    if (typeof ResizeObserver !== 'undefined') {
      new ResizeObserver(() => {
        this.viewportHeight = this.element.clientHeight || this.viewportHeight;
        this.schedule();
      }).observe(this.element);
    }
    this.buildHeader();
  }

  /** Replaces the data; re-renders the visible rows on the next frame (or now with `sync`). */
  setData(data: LayerTableData, sync = false): void {
    const formats = data.sensitivity?.formats ?? [];
    if (formats.map((f) => f.id).join() !== this.sensFormats.map((f) => f.id).join()) {
      this.sensFormats = formats;
      this.buildHeader();
      for (const s of this.slots) s.el.remove();
      this.slots = [];
    }
    this.data = data;
    this.labelMeasuredHeader();
    this.version++;
    if (this.active >= data.rows.length) this.active = Math.max(0, data.rows.length - 1);
    this.body.style.height = `${data.rows.length * ROW_HEIGHT_PX}px`;
    setAttr(this.element, 'aria-rowcount', data.rows.length + 1);
    this.updateSortIndicators();
    if (sync) this.render();
    else this.schedule();
  }

  /** Renders now (used by the harness and tests; scrolling uses requestAnimationFrame). */
  render(): void {
    this.frame = 0;
    const data = this.data;
    if (!data) return;
    const n = data.rows.length;
    const height = this.element.clientHeight || this.viewportHeight;
    const top = Math.max(0, this.element.scrollTop - this.header.offsetHeight);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT_PX) - OVERSCAN_ROWS);
    const last = Math.min(n, Math.ceil((top + height) / ROW_HEIGHT_PX) + OVERSCAN_ROWS);
    const poolSize = Math.ceil(height / ROW_HEIGHT_PX) + 2 * OVERSCAN_ROWS + 1;
    while (this.slots.length < poolSize) this.slots.push(this.createSlot());
    let painted = 0;
    const used = new Set<Slot>();
    for (let i = first; i < last; i++) {
      const slot = this.slots[i % this.slots.length]!;
      used.add(slot);
      if (slot.row !== i || slot.version !== this.version) {
        this.fill(slot, i, data);
        painted++;
      }
      slot.el.hidden = false;
    }
    for (const s of this.slots) {
      if (!used.has(s) && s.row !== -1) {
        s.el.hidden = true;
        s.row = -1;
        s.el.removeAttribute('id');
      }
    }
    this.renderedRowCount = last - first;
    void painted;
  }

  /** Moves keyboard focus/active row to display row `i` and scrolls it into view. */
  setActive(i: number): void {
    const n = this.data?.rows.length ?? 0;
    if (n === 0) return;
    this.active = Math.max(0, Math.min(n - 1, i));
    const headerHeight = this.header.offsetHeight;
    const rowTop = this.active * ROW_HEIGHT_PX;
    const viewTop = this.element.scrollTop;
    const viewHeight = (this.element.clientHeight || this.viewportHeight) - headerHeight;
    if (rowTop < viewTop) this.element.scrollTop = rowTop;
    else if (rowTop + ROW_HEIGHT_PX > viewTop + viewHeight) this.element.scrollTop = rowTop + ROW_HEIGHT_PX - viewHeight;
    this.version++;
    this.render();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.render());
  }

  private columnCount(): number {
    return FIXED_COLUMNS.length + this.sensFormats.length;
  }

  private buildHeader(): void {
    while (this.header.firstChild) this.header.removeChild(this.header.firstChild);
    // minmax(min, Nfr) in a row whose width is fixed by CSS (max(100%, sum of mins)) gives every row the
    // same column positions.
    const columns = [...FIXED_COLUMNS.map((c) => (c.grow > 0 ? `minmax(${c.min}px, ${c.grow}fr)` : `${c.min}px`)), ...this.sensFormats.map(() => `${SENS_COLUMN_PX}px`)];
    const minWidth = FIXED_COLUMNS.reduce((a, c) => a + c.min, 0) + this.sensFormats.length * SENS_COLUMN_PX;
    this.element.style.setProperty('--lt-columns', columns.join(' '));
    this.element.style.setProperty('--lt-min-width', `${minWidth}px`);
    FIXED_COLUMNS.forEach((c, i) => {
      const cell = this.headerCell(c.key, c.label(), i, c.numeric);
      if (i === MEASURED_COLUMN) {
        this.measuredHeader = cell;
        setAttr(cell, 'data-testid', 'measured-header');
        this.labelMeasuredHeader();
      }
      this.header.appendChild(cell);
    });
    this.sensFormats.forEach((f, j) => this.header.appendChild(this.headerCell(`sens:${f.id}`, shortFormatLabel(f.id), FIXED_COLUMNS.length + j, true, `${f.label}: predicted model-output SQNR (dB) with only this layer in ${f.label}; redder = more harm`)));
    setAttr(this.element, 'aria-colcount', this.columnCount());
  }

  /** The measured column's header names the record's metric (KL or output SQNR). */
  private labelMeasuredHeader(): void {
    const cell = this.measuredHeader;
    const column = this.data?.measuredColumn;
    if (!cell) return;
    setText(cell, column?.header ?? t('colMeasured'));
    cell.title = column?.tip ?? t('colMeasuredTip');
  }

  private headerCell(key: SortKey | null, label: string, col: number, numeric: boolean, tooltip = label): HTMLElement {
    // Shape has no natural order, so its header is plain text.
    if (key === null) return h('div', { role: 'columnheader', class: 'lt-cell lt-plain' }, label);
    const button = h('button', { type: 'button', class: 'lt-sort', 'data-sort': key, title: tooltip }, label, h('span', { class: 'lt-sort-indicator', 'aria-hidden': 'true' }));
    return h('div', { role: 'columnheader', class: numeric ? 'lt-cell num' : 'lt-cell', 'aria-colindex': col + 1, 'aria-sort': 'none' }, button);
  }

  private updateSortIndicators(): void {
    const data = this.data;
    for (const cell of Array.from(this.header.children)) {
      const button = cell.querySelector('button');
      if (!button) continue;
      const key = button.getAttribute('data-sort');
      const on = data !== undefined && key === data.sortKey;
      setAttr(cell, 'aria-sort', on ? (data.sortDescending ? 'descending' : 'ascending') : 'none');
      const ind = cell.querySelector('.lt-sort-indicator');
      if (ind) setText(ind, on ? (data.sortDescending ? ' ▼' : ' ▲') : '');
    }
  }

  private createSlot(): Slot {
    const cells: HTMLElement[] = [];
    const el = h('div', { class: 'lt-row', role: 'row' });
    for (let c = 0; c < this.columnCount(); c++) {
      const numeric = c >= FIXED_COLUMNS.length || FIXED_COLUMNS[c]!.numeric;
      const cell = h('div', { class: numeric ? 'lt-cell num' : 'lt-cell', role: 'gridcell', 'aria-colindex': c + 1 });
      cells.push(cell);
      el.appendChild(cell);
    }
    el.hidden = true;
    this.body.appendChild(el);
    return { el, cells, row: -1, version: -1 };
  }

  private fill(slot: Slot, i: number, data: LayerTableData): void {
    const row = data.rows[i]!;
    slot.row = i;
    slot.version = this.version;
    const el = slot.el;
    el.style.transform = `translateY(${i * ROW_HEIGHT_PX}px)`;
    setAttr(el, 'aria-rowindex', i + 2);
    const isActive = i === this.active;
    el.classList.toggle('active', isActive);
    setAttr(el, 'aria-selected', isActive ? 'true' : 'false');
    if (isActive) el.id = 'lt-active-row';
    else if (el.id) el.removeAttribute('id');
    if (isActive) setAttr(this.element, 'aria-activedescendant', 'lt-active-row');
    if (row.kind === 'group') {
      el.className = `lt-row lt-group${isActive ? ' active' : ''}`;
      setAttr(el, 'aria-expanded', row.collapsed ? 'false' : 'true');
      setAttr(el, 'data-block', row.block);
      setAttr(el, 'data-testid', 'layer-group');
      const name = row.block === NO_BLOCK ? t('noBlock') : t('block', row.block);
      const cache = row.block === NO_BLOCK ? undefined : data.blockAttention?.[row.block];
      setText(slot.cells[0]!, `${row.collapsed ? '▸' : '▾'} ${name} — ${t('groupSummary', row.layerCount, formatCount(row.parameterCount), formatBytes(row.bytes))}${cache ? ` · ${cache}` : ''}`);
      slot.cells[0]!.title = '';
      for (let c = 1; c < slot.cells.length; c++) setText(slot.cells[c]!, '');
      return;
    }
    el.className = `lt-row lt-layer${isActive ? ' active' : ''}`;
    el.removeAttribute('aria-expanded');
    el.removeAttribute('data-block');
    setAttr(el, 'data-testid', 'layer-row');
    const layer = data.layers[row.index]!;
    const c = slot.cells;
    setText(c[0]!, layer.name);
    c[0]!.title = layer.name;
    setText(c[1]!, layer.role === 'other' ? layer.op : `${layer.op} · ${layer.role}`);
    setText(c[2]!, formatShape(layer.shape));
    setText(c[3]!, formatCount(layer.parameterCount));
    setText(c[4]!, layer.dtypeLabel);
    const assigned = data.estimate?.layerFormats[layer.index];
    setText(c[5]!, assigned === undefined ? '' : (data.formatLabels?.get(assigned) ?? assigned));
    setText(c[6]!, formatBytes(data.estimate?.layerBytes[layer.index] ?? layer.byteLength));
    const m = data.measured?.get(layer.index);
    const shown = m && data.measuredColumn ? data.measuredColumn.cell(m) : undefined;
    setText(c[MEASURED_COLUMN]!, shown?.text ?? '');
    c[MEASURED_COLUMN]!.title = shown?.title ?? '';
    const sens = data.sensitivity?.cells[layer.index];
    this.sensFormats.forEach((f, j) => {
      const cell = c[FIXED_COLUMNS.length + j];
      if (cell) this.fillHeat(cell, f, sens?.[j] ?? null);
    });
  }

  private fillHeat(cell: HTMLElement, format: FormatOption, s: SensitivityCell | null): void {
    const cls = s ? `lt-cell num heat heat-${heatBucket(s.heat)}` : 'lt-cell num heat heat-none';
    if (cell.className !== cls) cell.className = cls;
    setText(cell, s ? s.label : '');
    const tip = s ? `${format.label}: ${s.label} — ${s.reason}` : '';
    if (cell.title !== tip) cell.title = tip;
    setAttr(cell, 'aria-label', s ? tip : undefined);
  }

  private currentRow(): DisplayRow | undefined {
    return this.data?.rows[this.active];
  }

  private onKey(e: KeyboardEvent): void {
    if (e.target !== this.element) return; // header buttons handle their own keys
    const page = Math.max(1, Math.floor(((this.element.clientHeight || this.viewportHeight) - this.header.offsetHeight) / ROW_HEIGHT_PX) - 1);
    const row = this.currentRow();
    let handled = true;
    switch (e.key) {
      case 'ArrowDown':
        this.setActive(this.active + 1);
        break;
      case 'ArrowUp':
        this.setActive(this.active - 1);
        break;
      case 'PageDown':
        this.setActive(this.active + page);
        break;
      case 'PageUp':
        this.setActive(this.active - page);
        break;
      case 'Home':
        this.setActive(0);
        break;
      case 'End':
        this.setActive(Number.MAX_SAFE_INTEGER);
        break;
      case 'Enter':
      case ' ':
        if (row?.kind === 'group') this.events.onToggleGroup(row.block);
        else handled = false;
        break;
      case 'ArrowLeft':
      case 'ArrowRight':
        if (row?.kind === 'group' && row.collapsed === (e.key === 'ArrowRight')) this.events.onToggleGroup(row.block);
        else handled = false;
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  }

  private onClick(e: MouseEvent): void {
    const target = e.target as Element | null;
    const sort = target?.closest('button.lt-sort');
    if (sort) {
      const key = sort.getAttribute('data-sort');
      if (key) this.events.onSort(key as SortKey);
      return;
    }
    const rowEl = target?.closest('.lt-row');
    const slot = this.slots.find((s) => s.el === rowEl);
    if (!slot || slot.row < 0) return;
    this.active = slot.row;
    const row = this.data?.rows[slot.row];
    if (row?.kind === 'group') this.events.onToggleGroup(row.block);
    else {
      this.version++;
      this.render();
    }
  }
}
