/**
 * Compact wire forms of the two big payloads (layer rows and sensitivity results), shared by host (encode)
 * and webview (decode). Columnar arrays plus a string table: a 20,000-layer model's rows shrink from ~4.7 MB
 * of repeated JSON keys to ~1.5 MB, and its sensitivity from ~12 MB to ~2 MB, which is what the first paint
 * and the postMessage hop cost. Plain JSON-safe data only.
 */
import type { LayerRole } from '../core';
import type { FormatOption, LayerRow, SensitivityCell, SensitivityUpdate } from './messages';

/** Layer rows, column by column. String columns index `strings`. */
export interface LayerColumns {
  readonly count: number;
  readonly strings: readonly string[];
  readonly names: readonly string[];
  readonly ops: readonly number[];
  readonly roles: readonly number[];
  readonly dtypes: readonly number[];
  readonly dtypeLabels: readonly number[];
  readonly blocks: readonly (number | null)[];
  readonly experts: readonly (number | null)[];
  readonly shapes: readonly (readonly number[])[];
  readonly parameterCounts: readonly number[];
  readonly byteLengths: readonly number[];
  /** 1 = quantizable. */
  readonly quantizable: readonly number[];
}

/** Sensitivity results for some layers; per-format columns are indexed like `rows`. */
export interface SensitivityBatch {
  readonly formats: readonly FormatOption[];
  readonly method: SensitivityUpdate['method'];
  /** Layer index of each row. */
  readonly rows: readonly number[];
  /** `[format][row]` predicted (or measured) model-output SQNR in dB, 0.1 dB resolution; null = not analysed. */
  readonly outputDb: readonly (readonly (number | null)[])[];
  /** `[format][row]` weight SQNR in dB. */
  readonly weightDb: readonly (readonly (number | null)[])[];
  /** `[format][row]` overflow counts. */
  readonly overflows: readonly (readonly number[])[];
  readonly reasonTable: readonly string[];
  /** `[format][row]` index into `reasonTable`, -1 = no reason. */
  readonly reasons: readonly (readonly number[])[];
}

class StringTable {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();
  add(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.values.push(s) - 1;
      this.index.set(s, i);
    }
    return i;
  }
}

/** Rows → columns. */
export function encodeLayers(rows: readonly LayerRow[]): LayerColumns {
  const t = new StringTable();
  return {
    count: rows.length,
    names: rows.map((r) => r.name),
    ops: rows.map((r) => t.add(r.op)),
    roles: rows.map((r) => t.add(r.role)),
    dtypes: rows.map((r) => t.add(r.dtype)),
    dtypeLabels: rows.map((r) => t.add(r.dtypeLabel)),
    blocks: rows.map((r) => r.block),
    experts: rows.map((r) => r.expert),
    shapes: rows.map((r) => r.shape),
    parameterCounts: rows.map((r) => r.parameterCount),
    byteLengths: rows.map((r) => r.byteLength),
    quantizable: rows.map((r) => (r.quantizable ? 1 : 0)),
    strings: t.values,
  };
}

/** Columns → rows. Throws on inconsistent columns (a message from a stale or broken host). */
export function decodeLayers(c: LayerColumns): LayerRow[] {
  const n = c.count;
  const cols = [c.names, c.ops, c.roles, c.dtypes, c.dtypeLabels, c.blocks, c.experts, c.shapes, c.parameterCounts, c.byteLengths, c.quantizable];
  if (!Number.isSafeInteger(n) || n < 0 || cols.some((col) => !Array.isArray(col) || col.length !== n)) throw new Error('Inconsistent layer columns.');
  const str = (i: number): string => c.strings[i] ?? '';
  const rows: LayerRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    rows[i] = {
      index: i,
      name: String(c.names[i]),
      op: str(c.ops[i]!),
      role: str(c.roles[i]!) as LayerRole,
      block: c.blocks[i] ?? null,
      expert: c.experts[i] ?? null,
      shape: c.shapes[i]!,
      parameterCount: c.parameterCounts[i]!,
      byteLength: c.byteLengths[i]!,
      dtype: str(c.dtypes[i]!),
      dtypeLabel: str(c.dtypeLabels[i]!),
      quantizable: c.quantizable[i] === 1,
    };
  }
  return rows;
}

/** One analysed (layer, format) pair as the host has it. */
export interface SensitivityFact {
  readonly outputDb: number;
  readonly weightDb: number;
  readonly overflows: number;
  readonly reason: string;
}

/** Encodes `rows` (layer index + one fact or undefined per format). */
export function encodeSensitivity(
  formats: readonly FormatOption[],
  method: SensitivityUpdate['method'],
  rows: readonly { readonly index: number; readonly facts: readonly (SensitivityFact | undefined)[] }[],
): SensitivityBatch {
  const t = new StringTable();
  const round = (v: number) => (Number.isFinite(v) ? Math.round(v * 10) / 10 : v > 0 ? 999 : -999);
  return {
    formats,
    method,
    rows: rows.map((r) => r.index),
    outputDb: formats.map((_, f) => rows.map((r) => (r.facts[f] ? round(r.facts[f]!.outputDb) : null))),
    weightDb: formats.map((_, f) => rows.map((r) => (r.facts[f] ? round(r.facts[f]!.weightDb) : null))),
    overflows: formats.map((_, f) => rows.map((r) => r.facts[f]?.overflows ?? 0)),
    reasonTable: t.values,
    reasons: formats.map((_, f) => rows.map((r) => (r.facts[f]?.reason ? t.add(r.facts[f]!.reason) : -1))),
  };
}

/**
 * Heat of a model-output SQNR: ≥ 50 dB is harmless (0), ≤ 10 dB is severe (1), linear between.
 * 10 dB ≈ output noise at a tenth of the signal power; 50 dB is below what FP16 rounding of activations adds.
 */
export function heatFromSqnrDb(db: number): number {
  if (!Number.isFinite(db)) return db > 0 ? 0 : 1;
  return Math.max(0, Math.min(1, (50 - db) / 40));
}

/** Batch → per-row cells with heat, label and hover reason. */
export function decodeSensitivity(b: SensitivityBatch): SensitivityUpdate {
  const rows = b.rows.map((index, r) => ({
    index,
    cells: b.formats.map((_, f): SensitivityCell | null => {
      const db = b.outputDb[f]?.[r];
      if (db === null || db === undefined) return null;
      const w = b.weightDb[f]?.[r];
      const o = b.overflows[f]?.[r] ?? 0;
      const reason = b.reasonTable[b.reasons[f]?.[r] ?? -1] ?? 'no notable issue';
      return {
        heat: heatFromSqnrDb(db),
        label: db >= 100 ? '≥100' : db.toFixed(1),
        reason: `predicted output SQNR ${db.toFixed(1)} dB · ${reason}${w !== null && w !== undefined ? ` · weight SQNR ${w.toFixed(1)} dB` : ''}${o > 0 ? ` · ${o} overflow(s)` : ''}`,
      };
    }),
  }));
  return { formats: b.formats, rows, method: b.method };
}
