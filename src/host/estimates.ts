/** Settings → estimator options, and the estimator's verdict reduced to what lenses and the status bar show. */
import { estimate, type Estimate, type EstimateOptions, type FitSummary, type Model, type Target } from '../core';
import type { HostSettings } from './config';

/** "NVIDIA H100 SXM5 80GB" → "H100 SXM5 80GB" (the vendor is implied by the model name). */
export function shortTargetName(target: Pick<Target, 'name' | 'vendor'>): string {
  return target.name.startsWith(`${target.vendor} `) ? target.name.slice(target.vendor.length + 1) : target.name;
}

/** Estimator options from the settings (context left to the estimator when unset). */
export function estimateOptions(settings: HostSettings, extra: Partial<EstimateOptions> = {}): EstimateOptions {
  return {
    batch: settings.batch,
    ...(settings.contextTokens !== undefined ? { context: settings.contextTokens } : {}),
    kvFormat: settings.kvFormat,
    ...extra,
  };
}

/** The estimate of `model` as stored on `target`; undefined when the estimator refuses the options. */
export function storedEstimate(model: Model, target: Target, settings: HostSettings, constants?: Readonly<Record<string, readonly number[]>>): Estimate | undefined {
  try {
    return estimate(model, target, estimateOptions(settings, constants ? { constants } : {}));
  } catch {
    return undefined;
  }
}

/** Fit of `model` (as stored) on `target` with the batch/context/KV settings. */
export function estimateFit(model: Model, target: Target, settings: HostSettings, constants?: Readonly<Record<string, readonly number[]>>): FitSummary | undefined {
  const e = storedEstimate(model, target, settings, constants);
  return e && { targetName: shortTargetName(target), fits: e.fits, totalBytes: e.totalBytes, capacityBytes: e.capacityBytes };
}
