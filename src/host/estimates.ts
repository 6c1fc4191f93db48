/** Settings → estimator options, and the estimator's verdict reduced to what lenses and the status bar show. */
import type { Model } from '../core';
import type { Target } from '../core/analysis/hardware/catalog';
import type { FitSummary } from '../core/analysis/modelSummary';
import type { HostSettings } from './config';

/** Fit of `model` (as stored) on `target` with the batch/context/KV settings. (Estimator not landed yet.) */
export function estimateFit(_model: Model, _target: Target, _settings: HostSettings): FitSummary | undefined {
  return undefined;
}
