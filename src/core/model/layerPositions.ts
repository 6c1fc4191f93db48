import type { Model } from './types';

const owners = new WeakMap<Model, Int32Array | null>();

/**
 * For a model whose layer names repeat: per position in `model.layers`, the position of the last layer with the
 * same name (the entry a name-keyed map filled in layer order keeps). Undefined when every name is unique, which is
 * the usual case: then a layer's name-keyed entry is its own position's, and per-layer columns by position answer
 * what name-keyed maps of 200,000 names did. Made once per model.
 */
export function repeatedNameOwners(model: Model): Int32Array | undefined {
  let o = owners.get(model);
  if (o === undefined) {
    const layers = model.layers;
    const last = new Map<string, number>();
    for (let i = 0; i < layers.length; i++) last.set(layers[i]!.name, i);
    if (last.size === layers.length) o = null;
    else {
      o = new Int32Array(layers.length);
      for (let i = 0; i < layers.length; i++) o[i] = last.get(layers[i]!.name)!;
    }
    owners.set(model, o);
  }
  return o ?? undefined;
}
