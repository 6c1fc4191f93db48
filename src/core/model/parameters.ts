/**
 * Where a model's parameters sit, for active-parameter and per-token figures.
 *
 * Each stored tensor belongs to one part:
 * - `mtp`: multi-token-prediction layers (DeepSeek-V3's `model.layers.61`, i.e. blocks ≥ `blockCount` when the
 *   model declares `mtpLayerCount`; `mtp.*` / `*.nextn.*` names). They only serve speculative decoding.
 * - `vision` / `audio`: encoder towers and their projectors of multimodal checkpoints (`vision_model`,
 *   `vision_tower`, `visual`, `multi_modal_projector`, `audio_tower`, …). They run once per image or clip, not
 *   per generated token.
 * - `text`: everything else (embeddings, attention, dense FFN, shared experts, routers, routed experts, head).
 * Routed experts are text tensors of role `expert` (or under an `experts` module / GGUF `*_exps`), shared ones
 * excluded. Active text parameters = text − routed × (1 − experts used ÷ experts), i.e. all non-routed text
 * parameters plus experts-used × expert size per MoE layer (every expert of a layer the same size).
 */
import { layerWeights } from './tensorData';
import type { Layer, Model } from './types';

/** The part of the model a tensor belongs to. */
export type ParameterPart = 'text' | 'mtp' | 'vision' | 'audio';

/** Result of {@link parameterBreakdown}. */
export interface ParameterBreakdown {
  /** Every stored element (= Model.parameterCount). */
  readonly total: number;
  readonly text: number;
  readonly mtp: number;
  readonly vision: number;
  readonly audio: number;
  /** Routed expert parameters of the text part (all experts). */
  readonly routedExperts: number;
  /** Experts used ÷ experts (1 for dense models). */
  readonly expertShare: number;
  /** Text parameters one token runs through. */
  readonly activeText: number;
}

const VISION = /(^|\.)(vision_tower|vision_model|visual|vision_encoder|image_encoder|vision_embed|embed_vision|vision_proj|multi_modal_projector|mm_projector|mm_input_projection|vit)(\.|_|$)/;
const AUDIO = /(^|\.)(audio_tower|audio_model|audio_encoder|embed_audio|audio_projector|audio_proj)(\.|_|$)/;
const MTP_NAME = /(^|\.)(mtp|mtp_layers|nextn)(\.|$)/;
const ROUTED_NAME = /(^|\.)experts(\.|$)|_exps(\.|$)|(^|\.)block_sparse_moe\.(input|output)_linear(\.|$)/;
const SHARED_NAME = /shared|_shexp/;

/**
 * Every name VISION, AUDIO or MTP_NAME matches (after lower-casing) contains one of these (no token of theirs has a
 * letter that lower-casing makes from a non-ASCII one): names without them skip the lower-casing and the three tests.
 */
const MAYBE_NOT_TEXT = /vis|vit|image_encoder|multi_modal|mm_|audio|mtp|nextn/i;

/** Classifies a tensor by its name and (when known) its layer's block and role. */
export function parameterPart(name: string, block: number | undefined, mainBlocks: number | undefined, mtpLayers: number): ParameterPart {
  if (mtpLayers > 0 && mainBlocks !== undefined && block !== undefined && block >= mainBlocks) return namedPart(name) ?? 'mtp';
  return namedPart(name) ?? 'text';
}

/** The part a name alone says, or undefined. */
function namedPart(name: string): ParameterPart | undefined {
  if (!MAYBE_NOT_TEXT.test(name)) return undefined;
  const lower = name.toLowerCase();
  if (VISION.test(lower)) return 'vision';
  if (AUDIO.test(lower)) return 'audio';
  if (MTP_NAME.test(lower)) return 'mtp';
  return undefined;
}

/** True for a routed (not shared) expert tensor. */
export function isRoutedExpert(name: string, role: Layer['role'] | undefined): boolean {
  // Routed first: most names are neither, and are answered by that one test.
  if (role !== 'expert' && !ROUTED_NAME.test(name)) return false;
  return role !== 'shared_expert' && !SHARED_NAME.test(name);
}

/**
 * True when layer i is tensor i's one-weight layer (tensor-only formats: safetensors, GGUF). With distinct names
 * (which the parts map's size shows) tensor i's first layer is then layer i, without a name → layer map.
 */
function alignedLayers(model: Model): boolean {
  const { layers, tensors } = model;
  if (layers.length !== tensors.length) return false;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    if (l.moreWeights.length !== 0 || l.weight !== tensors[i]!.name) return false;
  }
  return true;
}

/** Part of every tensor, by name, for a model. */
export function tensorParts(model: Model): Map<string, ParameterPart> {
  const hp = model.hyperparameters;
  const mtpLayers = hp.mtpLayerCount ?? 0;
  let out = new Map<string, ParameterPart>();
  if (alignedLayers(model)) {
    const { layers, tensors } = model;
    for (let i = 0; i < tensors.length; i++) out.set(tensors[i]!.name, parameterPart(tensors[i]!.name, layers[i]!.block, hp.blockCount, mtpLayers));
  }
  if (out.size !== model.tensors.length) {
    // Any layout, and repeated names: each name's block is that of the first layer naming it.
    const blockOf = new Map<string, number | undefined>();
    for (const l of model.layers) for (const w of layerWeights(l)) if (!blockOf.has(w)) blockOf.set(w, l.block);
    out = new Map<string, ParameterPart>();
    for (const t of model.tensors) out.set(t.name, parameterPart(t.name, blockOf.get(t.name), hp.blockCount, mtpLayers));
  }
  return out;
}

/**
 * True when every tensor is of part 'text' by {@link parameterPart}: no name holds a token of another part
 * ({@link MAYBE_NOT_TEXT}) and no block can be an MTP one (no MTP layers or no block count declared).
 */
function allText(model: Model): boolean {
  const hp = model.hyperparameters;
  if ((hp.mtpLayerCount ?? 0) > 0 && hp.blockCount !== undefined) return false;
  const { tensors } = model;
  for (let i = 0; i < tensors.length; i++) if (MAYBE_NOT_TEXT.test(tensors[i]!.name)) return false;
  return true;
}

/**
 * {@link tensorParts} of a model, or 'text' when every tensor is of that part (then no map is made: a 12,500-tensor
 * ONNX graph spent ~5 ms on a name → block map and the parts map).
 */
export function tensorPartsOrText(model: Model): ReadonlyMap<string, ParameterPart> | 'text' {
  return allText(model) ? 'text' : tensorParts(model);
}

/** True when some layer's role is 'expert' or 'shared_expert' (an indexed loop: no callback per layer). */
function hasExpertRole(layers: readonly Layer[]): boolean {
  for (let i = 0; i < layers.length; i++) {
    const role = layers[i]!.role;
    if (role === 'expert' || role === 'shared_expert') return true;
  }
  return false;
}

/**
 * Splits a model's parameters into text / MTP / vision / audio and computes active text parameters. `parts` is
 * {@link tensorParts} of the model (or 'text' from {@link tensorPartsOrText}) when the caller has it already.
 */
export function parameterBreakdown(model: Model, parts: ReadonlyMap<string, ParameterPart> | 'text' = tensorPartsOrText(model)): ParameterBreakdown {
  const hp = model.hyperparameters;
  // Each tensor's role: its aligned layer's, or the first layer naming it. Only 'expert' and 'shared_expert' change
  // what isRoutedExpert answers, so without either no role is looked up.
  let roleAt: (i: number, name: string) => Layer['role'] | undefined;
  if (!hasExpertRole(model.layers)) roleAt = () => undefined;
  else if ((parts === 'text' || parts.size === model.tensors.length) && alignedLayers(model)) {
    const { layers } = model;
    roleAt = (i) => layers[i]!.role;
  } else {
    const roleOf = new Map<string, Layer['role']>();
    for (const l of model.layers) for (const w of layerWeights(l)) if (!roleOf.has(w)) roleOf.set(w, l.role);
    roleAt = (_i, name) => roleOf.get(name);
  }
  const sums = { text: 0, mtp: 0, vision: 0, audio: 0 };
  let routed = 0;
  const { tensors } = model;
  // tensorParts lists the tensors in model order: each entry is tried before a lookup by name (a 200,000-name Map
  // lookup per tensor cost ~0.1 s).
  const map = parts === 'text' ? undefined : parts;
  const entries = map?.entries();
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]!;
    let part: ParameterPart = 'text';
    if (map !== undefined) {
      const next = entries!.next();
      part = (!next.done && next.value[0] === t.name ? next.value[1] : map.get(t.name)) ?? 'text';
    }
    sums[part] += t.elementCount;
    if (part === 'text' && isRoutedExpert(t.name, roleAt(i, t.name))) routed += t.elementCount;
  }
  const used = hp.expertUsedCount;
  const count = hp.expertCount;
  const expertShare = count && used && count > 1 && used <= count ? used / count : 1;
  const activeText = Math.round(sums.text - routed * (1 - expertShare));
  return { total: model.parameterCount, ...sums, routedExperts: routed, expertShare, activeText };
}
