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
const OVERSCAN_ROWS = 4;
/**
 * Column widths: `min` px each, `grow` shares the space left over when the table is wider than the sum. The widths
 * are computed here (from the table's width, on resize only) and given to the cells as CSS variables
 * (`--lt-w<column>`), so a row is a flex line of fixed-width cells: laying out a recycled row measures no content.
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
/** Horizontal padding of a cell (CSS `.lt-cell`), px. */
const CELL_PADDING_PX = 16;
/** Columns whose text is clipped with an ellipsis whatever its length (name, op/role, shape). */
const ALWAYS_CLIPPED = 3;
/** Class of a body cell (before heat and clipping), per column. */
const cellClass = (c: number): string => (c >= FIXED_COLUMNS.length || FIXED_COLUMNS[c]!.numeric ? 'lt-cell num' : 'lt-cell');

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

/**
 * A recycled cell and what it shows. Refilling compares with these strings and touches the DOM only where they
 * differ (no DOM reads while filling, and no attribute writes that would not change anything).
 */
interface Cell {
  readonly el: HTMLElement;
  text: string;
  cls: string;
  title: string;
  label: string;
}

interface Slot {
  readonly el: HTMLElement;
  readonly cells: Cell[];
  /** Display row shown, -1 when free. */
  row: number;
  /** Data version the slot was filled with. */
  version: number;
  /** What the row element is set up as: kind (and block for a group), active state. */
  kind: 'layer' | 'group' | '';
  block: number;
  expanded: boolean;
  active: boolean;
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
  private headerHeight = ROW_HEIGHT_PX;
  /** True once the ResizeObserver has reported the sizes (else render reads them). */
  private observed = false;
  /** The body cell carrying a lazy tooltip (the last one hovered), if any. */
  private tipped: Cell | undefined;
  /** Width of each column, px (see {@link FIXED_COLUMNS}). */
  private widths: number[] = [];
  /** Width the columns were last laid out for (the scroller's content box), px; 0 before it is known. */
  private tableWidth = 0;
  /** Font size of the table, px: no glyph of its text is wider than this (used to skip clipping short text). */
  private emPx = 13;
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
    this.body.addEventListener('mouseover', (e) => this.onHover(e));
    if (typeof ResizeObserver !== 'undefined') {
      const ro = new ResizeObserver((entries) => {
        // Called after layout, so these reads cost nothing; render() uses them instead of reading layout.
        const clientHeight = this.element.clientHeight;
        this.observed = clientHeight > 0; // 0 while hidden
        if (this.observed) this.viewportHeight = clientHeight;
        this.headerHeight = this.header.offsetHeight;
        const width = entries.find((e) => e.target === this.element)?.contentRect.width ?? 0;
        const em = parseFloat(getComputedStyle(this.element).fontSize);
        if (em > 0 && em !== this.emPx) {
          this.emPx = em;
          this.version++; // the clip decision of every filled cell depends on it
        }
        if (width > 0 && width !== this.tableWidth) {
          this.tableWidth = width;
          this.layoutColumns();
        }
        this.schedule();
      });
      ro.observe(this.element);
      ro.observe(this.header);
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
      this.tipped = undefined;
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
    // Sizes come from the ResizeObserver: the only layout read of a frame is scrollTop, before any write.
    const height = this.observed ? this.viewportHeight : this.element.clientHeight || this.viewportHeight;
    const top = Math.max(0, this.element.scrollTop - (this.observed ? this.headerHeight : this.header.offsetHeight));
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
        s.kind = ''; // set the row element up again when it is reused
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
    this.layoutColumns();
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

  /**
   * Column widths for the current table width: each column its minimum, and the growing columns share what is
   * left (in proportion to `grow`). Written as CSS variables on the table, so a resize restyles the rows without
   * touching them; the rows and the header are as wide as the columns together.
   */
  private layoutColumns(): void {
    const mins = [...FIXED_COLUMNS.map((c) => c.min), ...this.sensFormats.map(() => SENS_COLUMN_PX)];
    const total = mins.reduce((a, b) => a + b, 0);
    const grow = FIXED_COLUMNS.reduce((a, c) => a + c.grow, 0);
    const free = Math.max(0, this.tableWidth - total);
    this.widths = mins.map((m, i) => Math.floor(m + (free * (FIXED_COLUMNS[i]?.grow ?? 0)) / grow));
    this.widths.forEach((w, i) => this.element.style.setProperty(`--lt-w${i}`, `${w}px`));
    this.element.style.setProperty('--lt-row-width', `${this.widths.reduce((a, b) => a + b, 0)}px`);
  }

  /**
   * True when `text` may not fit column `c`: such cells clip with an ellipsis (CSS `.clip`). Every clipping cell is
   * a clip node in the page's paint and compositing trees, which cost more per scroll frame than its text, so short
   * text (no glyph is wider than 1 em) is not clipped.
   */
  private clips(c: number, text: string): boolean {
    return c < ALWAYS_CLIPPED || text.length * this.emPx > (this.widths[c] ?? 0) - CELL_PADDING_PX;
  }

  /**
   * Sets a body cell's text, class (with its clipping), tooltip and accessible label, each only if it changed.
   * `title` undefined: the cell's tooltip is set lazily, on hover ({@link onHover}) — writing `title` restyles the
   * element (the UA stylesheet's `abbr[title]` rule makes every title change a style invalidation), which for a
   * screen of refilled rows cost more than their text.
   */
  private setCell(cell: Cell, c: number, text: string, base: string = cellClass(c), title: string | undefined = '', label = ''): void {
    if (cell.text !== text) {
      setText(cell.el, text);
      cell.text = text;
    }
    const cls = this.clips(c, text) ? `${base} clip` : base;
    if (cell.cls !== cls) {
      cell.el.className = cls;
      cell.cls = cls;
    }
    if (title !== undefined) this.setTitle(cell, title);
    if (cell.label !== label) {
      setAttr(cell.el, 'aria-label', label === '' ? undefined : label);
      cell.label = label;
    }
  }

  private setTitle(cell: Cell, title: string): void {
    if (cell.title === title) return;
    if (title === '') cell.el.removeAttribute('title');
    else cell.el.title = title;
    cell.title = title;
  }

  /** Lazy tooltip of body cell `c` of display row `i` (the layer name, a heat cell's format, score and reason). */
  private lazyTip(i: number, c: number): string | undefined {
    const row = this.data?.rows[i];
    if (row?.kind !== 'layer') return undefined;
    const layer = this.data!.layers[row.index]!;
    if (c === 0) return layer.name;
    const j = c - FIXED_COLUMNS.length;
    const format = this.sensFormats[j];
    const s = format ? this.data!.sensitivity?.cells[layer.index]?.[j] : undefined;
    return format && s ? `${format.label}: ${s.label} — ${s.reason}` : undefined;
  }

  /** One delegated listener: the hovered cell gets its lazy tooltip, and the cell hovered before loses it. */
  private onHover(e: MouseEvent): void {
    const el = (e.target as Element | null)?.closest('.lt-cell');
    const slot = el ? this.slots.find((s) => s.el === el.parentElement) : undefined;
    const c = slot ? slot.cells.findIndex((x) => x.el === el) : -1;
    const cell = slot?.cells[c];
    if (!slot || !cell || cell === this.tipped || slot.row < 0) return;
    const tip = this.lazyTip(slot.row, c);
    if (tip === undefined) return;
    if (this.tipped) this.setTitle(this.tipped, '');
    this.setTitle(cell, tip);
    this.tipped = cell;
  }

  private headerCell(key: SortKey | null, label: string, col: number, numeric: boolean, tooltip = label): HTMLElement {
    // Shape has no natural order, so its header is plain text.
    const cell =
      key === null
        ? h('div', { role: 'columnheader', class: 'lt-cell lt-plain clip' }, label)
        : h('div', { role: 'columnheader', class: numeric ? 'lt-cell num' : 'lt-cell', 'aria-colindex': col + 1, 'aria-sort': 'none' }, h('button', { type: 'button', class: 'lt-sort', 'data-sort': key, title: tooltip }, label, h('span', { class: 'lt-sort-indicator', 'aria-hidden': 'true' })));
    cell.style.width = `var(--lt-w${col})`;
    return cell;
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
    const cells: Cell[] = [];
    const el = h('div', { class: 'lt-row', role: 'row' });
    for (let c = 0; c < this.columnCount(); c++) {
      const cls = cellClass(c);
      const cell = h('div', { class: cls, role: 'gridcell', 'aria-colindex': c + 1 });
      cell.style.width = `var(--lt-w${c})`;
      cells.push({ el: cell, text: '', cls, title: '', label: '' });
      el.appendChild(cell);
    }
    el.hidden = true;
    this.body.appendChild(el);
    return { el, cells, row: -1, version: -1, kind: '', block: 0, expanded: false, active: false };
  }

  private fill(slot: Slot, i: number, data: LayerTableData): void {
    const row = data.rows[i]!;
    slot.row = i;
    slot.version = this.version;
    const el = slot.el;
    // Row element: position and index always change; the rest only when the slot's kind or state does.
    el.style.transform = `translateY(${i * ROW_HEIGHT_PX}px)`;
    setAttr(el, 'aria-rowindex', i + 2);
    const isActive = i === this.active;
    if (row.kind !== slot.kind || isActive !== slot.active) {
      el.className = `lt-row ${row.kind === 'group' ? 'lt-group' : 'lt-layer'}${isActive ? ' active' : ''}`;
      setAttr(el, 'aria-selected', isActive ? 'true' : 'false');
      setAttr(el, 'data-testid', row.kind === 'group' ? 'layer-group' : 'layer-row');
      if (isActive) el.id = 'lt-active-row';
      else el.removeAttribute('id');
      if (row.kind !== 'group') {
        el.removeAttribute('aria-expanded');
        el.removeAttribute('data-block');
      }
      slot.kind = row.kind;
      slot.active = isActive;
      slot.block = Number.NaN;
    }
    if (isActive) setAttr(this.element, 'aria-activedescendant', 'lt-active-row');
    const c = slot.cells;
    if (row.kind === 'group') {
      if (slot.block !== row.block || slot.expanded === row.collapsed) {
        setAttr(el, 'aria-expanded', row.collapsed ? 'false' : 'true');
        setAttr(el, 'data-block', row.block);
        slot.block = row.block;
        slot.expanded = !row.collapsed;
      }
      const name = row.block === NO_BLOCK ? t('noBlock') : t('block', row.block);
      const cache = row.block === NO_BLOCK ? undefined : data.blockAttention?.[row.block];
      this.setCell(c[0]!, 0, `${row.collapsed ? '▸' : '▾'} ${name} — ${t('groupSummary', row.layerCount, formatCount(row.parameterCount), formatBytes(row.bytes))}${cache ? ` · ${cache}` : ''}`);
      // The other cells are hidden (CSS `visibility`, so also from assistive technology) and keep their text:
      // emptying and refilling it would take their text out of layout and back in.
      this.retip(slot);
      return;
    }
    const layer = data.layers[row.index]!;
    this.setCell(c[0]!, 0, layer.name, undefined, undefined);
    this.setCell(c[1]!, 1, layer.role === 'other' ? layer.op : `${layer.op} · ${layer.role}`);
    this.setCell(c[2]!, 2, formatShape(layer.shape));
    this.setCell(c[3]!, 3, formatCount(layer.parameterCount));
    this.setCell(c[4]!, 4, layer.dtypeLabel);
    const assigned = data.estimate?.layerFormats[layer.index];
    this.setCell(c[5]!, 5, assigned === undefined ? '' : (data.formatLabels?.get(assigned) ?? assigned));
    this.setCell(c[6]!, 6, formatBytes(data.estimate?.layerBytes[layer.index] ?? layer.byteLength));
    const m = data.measured?.get(layer.index);
    const shown = m && data.measuredColumn ? data.measuredColumn.cell(m) : undefined;
    this.setCell(c[MEASURED_COLUMN]!, MEASURED_COLUMN, shown?.text ?? '', undefined, shown?.title ?? '');
    const sens = data.sensitivity?.cells[layer.index];
    for (let j = 0; j < this.sensFormats.length; j++) {
      const cell = c[FIXED_COLUMNS.length + j];
      if (cell) this.fillHeat(cell, FIXED_COLUMNS.length + j, this.sensFormats[j]!, sens?.[j] ?? null);
    }
    this.retip(slot);
  }

  /** The hovered cell keeps a true tooltip when its slot is refilled (rows scrolling under the pointer). */
  private retip(slot: Slot): void {
    const tipped = this.tipped;
    if (!tipped) return;
    const c = slot.cells.indexOf(tipped);
    if (c >= 0) this.setTitle(tipped, this.lazyTip(slot.row, c) ?? '');
  }

  private fillHeat(cell: Cell, col: number, format: FormatOption, s: SensitivityCell | null): void {
    if (!s) return this.setCell(cell, col, '', 'lt-cell num heat heat-none', undefined);
    const tip = `${format.label}: ${s.label} — ${s.reason}`;
    this.setCell(cell, col, s.label, `lt-cell num heat heat-${heatBucket(s.heat)}`, undefined, tip);
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
