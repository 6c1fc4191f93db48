/**
 * The webview's state: data from the host plus the user's view choices. A tiny store (no framework): views
 * subscribe and re-render the parts whose inputs changed (compared by reference). The view choices persist
 * through `vscode.setState` so a hidden/restored editor comes back as it was.
 */
import type {
  AnalysisProgressParams,
  AnalysisStateParams,
  AnalysisTask,
  FormatOption,
  LayerRow,
  PlanFrontier,
  ReadyResult,
  SensitivityCell,
  SensitivityUpdate,
  TargetComparison,
  TargetEstimate, MeasuredComparison } from '../src/protocol/messages';

/** Sortable layer-table columns. */
export type SortKey = 'index' | 'name' | 'op' | 'params' | 'stored' | 'assigned' | 'bytes' | `sens:${string}`;

/** User choices that survive reloads. */
export interface ViewState {
  readonly targetId: string | undefined;
  readonly sortKey: SortKey;
  readonly sortDescending: boolean;
  readonly search: string;
  readonly role: string;
  readonly quantizableOnly: boolean;
  readonly grouped: boolean;
  /** Collapsed block numbers (-1 = layers without a block). */
  readonly collapsed: readonly number[];
  /** Format shown in the sensitivity-per-layer chart. */
  readonly sensitivityFormat: string | undefined;
  readonly compareIds: readonly string[];
}

/** Sensitivity gathered so far: `cells[layerIndex][formatIndex]`. */
export interface SensitivityState {
  readonly formats: readonly FormatOption[];
  readonly cells: readonly (readonly (SensitivityCell | null)[] | undefined)[];
  readonly method: SensitivityUpdate['method'];
  /** Bumped on every merged update (cheap change detection for the table). */
  readonly version: number;
}

/** Everything the views render. */
export interface AppState {
  readonly init: ReadyResult | undefined;
  /** `init.layers` decoded into rows (index = position). */
  readonly layers: readonly LayerRow[];
  readonly fatal: string | undefined;
  readonly estimate: TargetEstimate | undefined;
  readonly estimateError: string | undefined;
  readonly sensitivity: SensitivityState | undefined;
  readonly frontier: PlanFrontier | undefined;
  readonly frontierError: string | undefined;
  /** Predicted vs measured per layer (plan file record); null when nothing was measured. */
  readonly measured: MeasuredComparison | null | undefined;
  readonly comparison: readonly TargetComparison[] | undefined;
  readonly progress: Readonly<Partial<Record<AnalysisTask, AnalysisProgressParams>>>;
  readonly taskState: Readonly<Partial<Record<AnalysisTask, AnalysisStateParams>>>;
  readonly view: ViewState;
}

/** Defaults for a first open. */
export const DEFAULT_VIEW: ViewState = {
  targetId: undefined,
  sortKey: 'index',
  sortDescending: false,
  search: '',
  role: '',
  quantizableOnly: false,
  grouped: true,
  collapsed: [],
  sensitivityFormat: undefined,
  compareIds: [],
};

/** Restores a persisted view state defensively (it came from storage; fields may be stale). */
export function restoreView(saved: unknown): ViewState {
  if (typeof saved !== 'object' || saved === null) return DEFAULT_VIEW;
  const s = saved as Partial<Record<keyof ViewState, unknown>>;
  const str = (v: unknown, max = 200): string | undefined => (typeof v === 'string' && v.length <= max ? v : undefined);
  const sortKey = str(s.sortKey);
  return {
    targetId: str(s.targetId),
    sortKey: sortKey && /^(index|name|op|params|stored|assigned|bytes|sens:[a-z0-9_]+)$/.test(sortKey) ? (sortKey as SortKey) : 'index',
    sortDescending: s.sortDescending === true,
    search: str(s.search) ?? '',
    role: str(s.role) ?? '',
    quantizableOnly: s.quantizableOnly === true,
    grouped: s.grouped !== false,
    collapsed: Array.isArray(s.collapsed) ? s.collapsed.filter((n): n is number => Number.isSafeInteger(n)).slice(0, 100_000) : [],
    sensitivityFormat: str(s.sensitivityFormat),
    compareIds: Array.isArray(s.compareIds) ? s.compareIds.filter((x): x is string => typeof x === 'string' && x.length <= 100).slice(0, 16) : [],
  };
}

/** Merges a streamed sensitivity batch into the state (formats may grow between batches). */
export function mergeSensitivity(prev: SensitivityState | undefined, update: SensitivityUpdate, layerCount: number): SensitivityState {
  const sameMethod = prev?.method === update.method;
  const formats: FormatOption[] = sameMethod && prev ? [...prev.formats] : [];
  const column = update.formats.map((f) => {
    let i = formats.findIndex((g) => g.id === f.id);
    if (i < 0) i = formats.push(f) - 1;
    return i;
  });
  const cells: ((SensitivityCell | null)[] | undefined)[] = sameMethod && prev ? prev.cells.map((r) => (r ? [...r] : undefined)) : [];
  cells.length = layerCount;
  for (const row of update.rows) {
    if (!Number.isSafeInteger(row.index) || row.index < 0 || row.index >= layerCount) continue;
    const r = cells[row.index] ?? [];
    row.cells.forEach((c, j) => {
      const col = column[j];
      if (col !== undefined) r[col] = c;
    });
    cells[row.index] = r;
  }
  return { formats, cells, method: update.method, version: (prev?.version ?? 0) + 1 };
}

type Listener = (state: AppState, prev: AppState) => void;

/** Holds {@link AppState}; `update` notifies subscribers synchronously. */
export class Store {
  private listeners: Listener[] = [];
  constructor(private current: AppState) {}

  get state(): AppState {
    return this.current;
  }

  update(patch: Partial<AppState>): void {
    const prev = this.current;
    this.current = { ...prev, ...patch };
    for (const l of this.listeners) l(this.current, prev);
  }

  updateView(patch: Partial<ViewState>): void {
    this.update({ view: { ...this.current.view, ...patch } });
  }

  subscribe(l: Listener): () => void {
    this.listeners.push(l);
    return () => (this.listeners = this.listeners.filter((x) => x !== l));
  }
}

/** Initial state before the host answered. */
export function initialState(view: ViewState): AppState {
  return {
    init: undefined,
    layers: [],
    fatal: undefined,
    estimate: undefined,
    estimateError: undefined,
    sensitivity: undefined,
    frontier: undefined,
    frontierError: undefined,
    measured: undefined,
    comparison: undefined,
    progress: {},
    taskState: {},
    view,
  };
}
