/**
 * Short, one-line summaries of a model for lenses and the status bar ("25.6M params · 97.7 MiB FP32 · fits H100").
 * Pure: the caller supplies the fit verdict from the estimator.
 */
import type { Model } from '../model/types';
import { dtypeLabel, formatBytes, formatCount } from '../model/inspect';

/** A target fit verdict, as the estimator reports it, reduced to what a one-line summary shows. */
export interface FitSummary {
  readonly targetName: string;
  readonly fits: boolean;
  readonly totalBytes: number;
  readonly capacityBytes: number;
}

/** The dtype holding the most stored bytes ('float32' for an FP32 model); undefined for a model without tensors. */
export function dominantDtype(model: Pick<Model, 'tensors'>): string | undefined {
  const bytes = new Map<string, number>();
  for (const t of model.tensors) bytes.set(t.dtype, (bytes.get(t.dtype) ?? 0) + t.byteLength);
  let best: string | undefined;
  let bestBytes = -1;
  for (const [d, b] of bytes) if (b > bestBytes) [best, bestBytes] = [d, b];
  return best;
}

/** "25.6M params · 97.7 MiB FP32 · fits H100" (the fit part only when `fit` is given). */
export function modelOneLine(model: Pick<Model, 'tensors' | 'parameterCount' | 'weightBytes'>, fit?: FitSummary): string {
  const dtype = dominantDtype(model);
  const parts = [`${formatCount(model.parameterCount)} params`, `${formatBytes(model.weightBytes)}${dtype ? ` ${dtypeLabel(dtype)}` : ''}`];
  if (fit) parts.push(fitText(fit));
  return parts.join(' · ');
}

/** "fits H100" or "needs 97.7 GiB > 80 GiB on H100". */
export function fitText(fit: FitSummary): string {
  return fit.fits ? `fits ${fit.targetName}` : `needs ${formatBytes(fit.totalBytes)} > ${formatBytes(fit.capacityBytes)} on ${fit.targetName}`;
}
