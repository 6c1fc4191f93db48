import type { Model, TensorInfo } from './types';

/** First tensor of each name, built once per model and shared by every consumer (memory estimate, runtime models):
 * lookups stay O(1) instead of a scan of every tensor per layer and suffix (quadratic on a hostile or huge file).
 * A model's tensor list does not change after reading, so the index is cached per model object. */
const indexes = new WeakMap<Model, ReadonlyMap<string, TensorInfo>>();

export function tensorIndex(model: Model): ReadonlyMap<string, TensorInfo> {
  let index = indexes.get(model);
  if (!index) {
    const built = new Map<string, TensorInfo>();
    for (const t of model.tensors) if (!built.has(t.name)) built.set(t.name, t);
    indexes.set(model, built);
    index = built;
  }
  return index;
}
