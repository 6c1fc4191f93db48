/**
 * The layer table's row model, without DOM: filter (search, role, quantizable), sort (any column, including
 * a sensitivity column) and group by block into the flat list of display rows the virtual table renders.
 * Linear-ish in the layer count (one sort), so 20,000 layers take a few milliseconds.
 */
import type { LayerRow, TargetEstimate } from '../../src/protocol/messages';
import type { SensitivityState, SortKey } from '../state';

/** One rendered line: a block header or a layer (by `LayerRow.index`). */
export type DisplayRow =
  | { readonly kind: 'group'; readonly block: number; readonly layerCount: number; readonly parameterCount: number; readonly bytes: number; readonly collapsed: boolean }
  | { readonly kind: 'layer'; readonly index: number };

/** Inputs of {@link buildRows}. */
export interface RowOptions {
  readonly search: string;
  readonly role: string;
  readonly quantizableOnly: boolean;
  readonly grouped: boolean;
  readonly collapsed: ReadonlySet<number>;
  readonly sortKey: SortKey;
  readonly sortDescending: boolean;
  readonly estimate: TargetEstimate | undefined;
  readonly sensitivity: SensitivityState | undefined;
}

/** Block number used for layers without one. */
export const NO_BLOCK = -1;

/** Display rows plus how many layers matched the filters. */
export interface RowModel {
  readonly rows: readonly DisplayRow[];
  readonly matched: number;
}

function sortValue(layer: LayerRow, key: SortKey, o: RowOptions): number | string {
  switch (key) {
    case 'index':
      return layer.index;
    case 'name':
      return layer.name.toLowerCase();
    case 'op':
      return `${layer.op}\u0000${layer.role}`.toLowerCase();
    case 'params':
      return layer.parameterCount;
    case 'stored':
      return layer.dtype;
    case 'assigned':
      return o.estimate?.layerFormats[layer.index] ?? '';
    case 'bytes':
      return o.estimate?.layerBytes[layer.index] ?? layer.byteLength;
    default: {
      const s = o.sensitivity;
      const col = s ? s.formats.findIndex((f) => `sens:${f.id}` === key) : -1;
      const cell = col >= 0 ? s?.cells[layer.index]?.[col] : undefined;
      return cell ? cell.heat : -1;
    }
  }
}

/** True when the layer matches the search text (name, op or role; case-insensitive substring). */
export function matchesSearch(layer: LayerRow, needle: string): boolean {
  if (needle === '') return true;
  return layer.name.toLowerCase().includes(needle) || layer.op.toLowerCase().includes(needle) || layer.role.includes(needle);
}

/** Filters, sorts and groups the layers. */
export function buildRows(layers: readonly LayerRow[], o: RowOptions): RowModel {
  const needle = o.search.trim().toLowerCase();
  const kept = layers.filter((l) => (!o.role || l.role === o.role) && (!o.quantizableOnly || l.quantizable) && matchesSearch(l, needle));
  if (o.sortKey !== 'index' || o.sortDescending) {
    const keys = new Map<number, number | string>();
    for (const l of kept) keys.set(l.index, sortValue(l, o.sortKey, o));
    const dir = o.sortDescending ? -1 : 1;
    kept.sort((a, b) => {
      const x = keys.get(a.index)!;
      const y = keys.get(b.index)!;
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return c !== 0 ? c * dir : a.index - b.index;
    });
  }
  if (!o.grouped) return { rows: kept.map((l) => ({ kind: 'layer', index: l.index })), matched: kept.length };

  // Groups appear in block order (layers without a block last); rows keep the sort inside each group.
  const groups = new Map<number, LayerRow[]>();
  for (const l of kept) {
    const b = l.block ?? NO_BLOCK;
    let g = groups.get(b);
    if (!g) groups.set(b, (g = []));
    g.push(l);
  }
  const order = [...groups.keys()].sort((a, b) => (a === NO_BLOCK ? 1 : b === NO_BLOCK ? -1 : a - b));
  const rows: DisplayRow[] = [];
  for (const block of order) {
    const members = groups.get(block)!;
    let parameterCount = 0;
    let bytes = 0;
    for (const l of members) {
      parameterCount += l.parameterCount;
      bytes += o.estimate?.layerBytes[l.index] ?? l.byteLength;
    }
    const collapsed = o.collapsed.has(block);
    rows.push({ kind: 'group', block, layerCount: members.length, parameterCount, bytes, collapsed });
    if (!collapsed) for (const l of members) rows.push({ kind: 'layer', index: l.index });
  }
  return { rows, matched: kept.length };
}
