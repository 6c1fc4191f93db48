import { dtypeInfo } from './dtypes';
import type { Layer, Model } from './types';

/** One row of `inspect --json` `layers`. */
export interface InspectLayer {
  readonly name: string;
  readonly op: string;
  readonly role: Layer['role'];
  readonly block: number | null;
  readonly parameterCount: number;
  readonly bytes: number;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly quantizable: boolean;
  readonly weights: readonly string[];
}

/** The `inspect --json` document (documented in the README). */
export interface InspectReport {
  readonly file: string;
  readonly format: Model['format'];
  readonly formatVersion: number | null;
  readonly producer: string | null;
  readonly files: Model['files'];
  readonly totalFileBytes: number;
  readonly parameterCount: number;
  readonly tensorCount: number;
  readonly nodeCount: number;
  readonly weightBytes: number;
  /** Stored bytes per dtype (dtype mix). */
  readonly dtypeBytes: Readonly<Record<string, number>>;
  readonly hyperparameters: Model['hyperparameters'];
  readonly layerCount: number;
  readonly layers: readonly InspectLayer[];
  readonly warnings: readonly string[];
}

/** Builds the JSON document printed by `precision-lens inspect --json`. */
export function inspectReport(model: Model): InspectReport {
  const dtypeBytes: Record<string, number> = {};
  for (const t of model.tensors) dtypeBytes[t.dtype] = (dtypeBytes[t.dtype] ?? 0) + t.byteLength;
  return {
    file: model.fileName,
    format: model.format,
    formatVersion: model.formatVersion ?? null,
    producer: model.producer ?? null,
    files: model.files,
    totalFileBytes: model.totalFileBytes,
    parameterCount: model.parameterCount,
    tensorCount: model.tensorCount,
    nodeCount: model.nodeCount,
    weightBytes: model.weightBytes,
    dtypeBytes,
    hyperparameters: model.hyperparameters,
    layerCount: model.layers.length,
    layers: model.layers.map((l) => ({
      name: l.name,
      op: l.op,
      role: l.role,
      block: l.block ?? null,
      parameterCount: l.parameterCount,
      bytes: l.byteLength,
      dtype: l.dtype,
      shape: l.shape,
      quantizable: l.quantizable,
      weights: l.weights,
    })),
    warnings: model.warnings,
  };
}

/** Human-readable size: 1536 → '1.5 KiB'. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** Compact count: 25_600_000 → '25.6M'. */
export function formatCount(n: number): string {
  if (n >= 1e12) return `${(n / 1e12).toFixed(2)}T`;
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Display label for a dtype id. */
export function dtypeLabel(dtype: string): string {
  return dtypeInfo(dtype)?.label ?? dtype.toUpperCase();
}
