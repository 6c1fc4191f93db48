import type { Model } from './types';

const memos = new WeakMap<object, WeakMap<Model, readonly unknown[]>>();

/**
 * `byName(model)`'s entry for each layer of `model.layers`, by position (undefined where it has none), made once per
 * model and `byName`: for loops over every layer that would otherwise look each name up in a map of 200,000 names.
 * `byName` must be one function for the life of the program (a module-level one), since it keys the memo.
 */
export function byLayerPosition<T>(model: Model, byName: (model: Model) => ReadonlyMap<string, T>): readonly (T | undefined)[] {
  let perModel = memos.get(byName);
  if (!perModel) memos.set(byName, (perModel = new WeakMap()));
  let a = perModel.get(model) as readonly (T | undefined)[] | undefined;
  if (!a) {
    const m = byName(model);
    a = model.layers.map((l) => m.get(l.name));
    perModel.set(model, a);
  }
  return a;
}
