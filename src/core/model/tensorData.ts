/**
 * Helpers over the slim IR fields: a tensor's flat location (`file`, `byteOffset`, `encoding`) and a layer's weights
 * (`weight` + `moreWeights`). The IR keeps no object per tensor location and no array per single-tensor layer, which
 * is most of what a 10^5–10^6-tensor model would otherwise keep alive (see ARCHITECTURE.md "Model IR").
 */
import type { Layer, TensorInfo, TensorLocation } from './types';

/** The `moreWeights` of every layer with a single weight tensor (frozen: shared by all of them). */
export const NO_MORE_WEIGHTS: readonly string[] = Object.freeze([]);

/** `weight` + `moreWeights` for a layer whose weight tensors are `names` (main first); shares NO_MORE_WEIGHTS. */
export function weightFields(names: readonly string[]): { readonly weight: string | undefined; readonly moreWeights: readonly string[] } {
  return { weight: names[0], moreWeights: names.length > 1 ? names.slice(1) : NO_MORE_WEIGHTS };
}

/** Names of the tensors holding the layer's weights, main weight first (a new array). */
export function layerWeights(layer: Layer): string[] {
  if (layer.weight === undefined) return [];
  const out = [layer.weight];
  for (const w of layer.moreWeights) out.push(w);
  return out;
}

/** Number of weight tensors of the layer. */
export function weightCount(layer: Layer): number {
  return layer.weight === undefined ? 0 : 1 + layer.moreWeights.length;
}

/** The tensor's stored range as one object (for code that reads the bytes), or undefined when nothing is stored. */
export function tensorLocation(t: TensorInfo): TensorLocation | undefined {
  return t.file === undefined ? undefined : { file: t.file, byteOffset: t.byteOffset, byteLength: t.byteLength, encoding: t.encoding };
}

/** The layer's k-th weight tensor name (0 = `weight`), or undefined past the last; walks weights without an array. */
export function weightAt(layer: Layer, k: number): string | undefined {
  return k === 0 ? layer.weight : layer.moreWeights[k - 1];
}
