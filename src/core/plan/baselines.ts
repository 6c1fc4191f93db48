/**
 * Baseline precision plans the solver is compared with: uniform plans (every quantizable layer in one format)
 * and llama.cpp-style fixed rules (Q4_K_M-like). Baselines respect the same structural constraints as the
 * solver: non-quantizable layers stay as stored, fused groups share one format, and a format is never used
 * where it would take more bytes than the stored tensor.
 */
import { setOwn } from '../model/dict';
import type { Layer, Model } from '../model/types';
import { getNumberFormat, type ComputeType } from '../precision/numberFormats';
import { KEEP_FORMAT } from './planFile';
import { ggufWrittenLayerFormatAt } from './ggufFallback';
import { assignmentHarm, assignmentWeightBytes, formatAllowed, layerColumnHarm, layerColumnWeightBytes, layerGroupColumns, layerTensorColumns, tensorBytesIn, type FuseOptions, type HarmFunction } from './solver';

/** A named assignment (layer → format id, 'keep' = as stored). */
export interface Baseline {
  readonly id: string;
  readonly label: string;
  readonly assignment: Readonly<Record<string, string>>;
  /**
   * The distinct values of `assignment` in the order `Object.values` gives them, when the builder knows them
   * without enumerating the record (a 200,000-key record costs tens of milliseconds to enumerate); else undefined.
   */
  readonly formats?: readonly string[];
  /**
   * The same assignment as a format id per layer of the model's `layers` (undefined = no entry), when the builder
   * has it (layer names unique): {@link baselineWeightBytes} and {@link baselineHarm} read it, and `assignment` is
   * then made only when something asks for it (a 200,000-key record is ~13 MB and ~0.15 s to build).
   */
  readonly layerFormats?: readonly (string | undefined)[];
}

/** Options shared by the baseline builders. */
export interface BaselineOptions {
  /** Target natively executed types: compute formats outside it make the baseline unavailable. */
  readonly native?: readonly ComputeType[];
  readonly allowEmulated?: boolean;
  readonly fuse?: FuseOptions;
}

/**
 * Makes an assignment consistent: keep where a format would not shrink the layer, one format per fused group.
 * `raw` holds a format id per layer of `model.layers` (undefined = keep). Columns and one record at the end: at
 * 200,000 layers a record per step (and a closure per layer) cost seconds per baseline.
 */
function finish(model: Model, raw: readonly (string | undefined)[], fuse: FuseOptions | undefined): Pick<Baseline, 'assignment' | 'formats' | 'layerFormats'> {
  const cols = layerTensorColumns(model);
  const { start, tensor, isMain } = cols;
  const owners = cols.listOf;
  const layers = model.layers;
  const ids: (string | undefined)[] = new Array<string | undefined>(layers.length).fill(undefined);
  // The raw ids are a handful repeated over every layer: each looked up once.
  const formatOf = new Map<string, ReturnType<typeof getNumberFormat>>();
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    // The tensors listed under the layer's name.
    const p = owners ? owners[i]! : i;
    if (start[p] === start[p + 1]) continue;
    let id = l.quantizable ? (raw[i] ?? KEEP_FORMAT) : KEEP_FORMAT;
    let f = formatOf.get(id);
    if (f === undefined && !formatOf.has(id)) formatOf.set(id, (f = id === KEEP_FORMAT ? undefined : getNumberFormat(id)));
    if (!f) id = KEEP_FORMAT;
    else {
      let keep = 0;
      let now = 0;
      for (let e = start[p]!; e < start[p + 1]!; e++) {
        keep += tensor[e]!.byteLength;
        now += tensorBytesIn(tensor[e]!, f, isMain[e] === 1);
      }
      if (now > keep) id = KEEP_FORMAT;
      // GGUF: the type apply writes (llama-quantize's fallback where the rows do not hold the block).
      else id = ggufWrittenLayerFormatAt(model, i, f.id) ?? f.id;
    }
    ids[i] = id;
  }
  // Fused groups take the format of their most precise member (what a runtime storing them fused must do). Members
  // without an entry yet are added after the others, in group order.
  const added: number[] = [];
  const groups = layerGroupColumns(model, fuse);
  const { member } = groups;
  const present: string[] = [];
  for (let g = 0; g < groups.count; g++) {
    const m0 = groups.start[g]!;
    const m1 = groups.start[g + 1]!;
    if (m1 - m0 < 2) continue;
    const bytesOf = (id: string): number => {
      const f = id === KEEP_FORMAT ? 'keep' : getNumberFormat(id)!;
      let total = 0;
      for (let m = m0; m < m1; m++) {
        const p = owners ? owners[member[m]!]! : member[m]!;
        for (let e = start[p]!; e < start[p + 1]!; e++) total += tensorBytesIn(tensor[e]!, f, isMain[e] === 1);
      }
      return total;
    };
    present.length = 0;
    for (let m = m0; m < m1; m++) {
      const id = ids[member[m]!];
      if (id !== undefined && !present.includes(id)) present.push(id);
    }
    // One format present (the usual case: a uniform baseline) is the pick; bytes decide between several.
    const pick = present.length === 1 ? present[0]! : present.map((id) => ({ id, bytes: bytesOf(id) })).sort((a, b) => b.bytes - a.bytes)[0]?.id ?? KEEP_FORMAT;
    for (let m = m0; m < m1; m++) {
      const i = member[m]!;
      if (ids[i] === undefined) added.push(i);
      ids[i] = pick;
    }
  }
  const isAdded = new Uint8Array(layers.length);
  for (const i of added) isAdded[i] = 1;
  // The record: the entries in layer order, then those the fused groups added, in group order.
  const record = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (let i = 0; i < layers.length; i++) if (ids[i] !== undefined && isAdded[i] === 0) putOwn(out, layers[i]!.name, ids[i]!);
    for (const i of added) putOwn(out, layers[i]!.name, ids[i]!);
    return out;
  };
  // A repeated layer name (a later entry replaces the value in place) keeps the record only.
  if (owners) return { assignment: record() };
  // The distinct formats in the record's key order: insertion order, unless a name is an array index (those come
  // first): then unknown.
  let formats: string[] | undefined = [];
  const see = (i: number): void => {
    if (!formats) return;
    const name = layers[i]!.name;
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57 && isArrayIndex(name)) formats = undefined;
    else if (!formats.includes(ids[i]!)) formats.push(ids[i]!);
  };
  for (let i = 0; i < layers.length; i++) if (ids[i] !== undefined && isAdded[i] === 0) see(i);
  for (const i of added) see(i);
  let made: Record<string, string> | undefined;
  return {
    get assignment(): Record<string, string> {
      return (made ??= record());
    },
    ...(formats ? { formats } : {}),
    layerFormats: ids,
  };
}

/** True for a property key that is an array index ("0" … "4294967294"): objects list those keys first. */
function isArrayIndex(key: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < 4294967295;
}

/** A baseline of {@link finish}'s assignment (its record made on first use when the per-layer column is kept). */
function finished(id: string, label: string, model: Model, raw: readonly (string | undefined)[], fuse: FuseOptions | undefined): Baseline {
  return withName(finish(model, raw, fuse), id, label);
}

/** `b` under another id and label, keeping its per-layer column and a record not yet made unmade. */
export function withName(b: Pick<Baseline, 'assignment' | 'formats' | 'layerFormats'>, id: string, label: string): Baseline {
  const named = { id, label, ...(b.formats ? { formats: b.formats } : {}), ...(b.layerFormats ? { layerFormats: b.layerFormats } : {}) };
  return Object.defineProperty(named, 'assignment', { get: () => b.assignment, enumerable: true }) as typeof named & Pick<Baseline, 'assignment'>;
}

/**
 * The distinct formats a baseline assigns, 'keep' left out, in the order `Object.values(b.assignment)` first gives
 * them (from `formats` when the builder knew them, without enumerating the record).
 */
export function baselineFormats(b: Baseline): string[] {
  return [...(b.formats ?? new Set(Object.values(b.assignment)))].filter((f) => f !== KEEP_FORMAT);
}

/** `assignmentWeightBytes(model, b.assignment)`, from the per-layer column when the baseline has it. */
export function baselineWeightBytes(model: Model, b: Baseline): number {
  return b.layerFormats ? layerColumnWeightBytes(model, b.layerFormats) : assignmentWeightBytes(model, b.assignment);
}

/** `assignmentHarm(model, b.assignment, harm)`, from the per-layer column when the baseline has it. */
export function baselineHarm(model: Model, b: Baseline, harm: HarmFunction): number | undefined {
  return b.layerFormats ? layerColumnHarm(model, b.layerFormats, harm) : assignmentHarm(model, b.assignment, harm);
}

/**
 * {@link setOwn} for a record made here with `{}`: on a plain object only `__proto__` is an accessor, every other
 * key assigned is an own data property, so plain assignment does (about 5× faster than defineProperty per key).
 */
function putOwn(dict: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') setOwn(dict, key, value);
  else dict[key] = value;
}

/** Every quantizable layer in `formatId` (undefined when the target cannot run the format). */
export function uniformBaseline(model: Model, formatId: string, options: BaselineOptions = {}): Baseline | undefined {
  const f = getNumberFormat(formatId);
  if (!f || !formatAllowed(f, options.native, options.allowEmulated)) return undefined;
  const raw = new Array<string | undefined>(model.layers.length).fill(f.id);
  return finished(`uniform-${f.id}`, `all ${f.label}`, model, raw, options.fuse);
}

/**
 * llama.cpp's `use_more_bits(i, n)` (src/llama-quant.cpp): the first and last eighth of the layers and every
 * third layer in between get more bits. C integer division and remainder are reproduced exactly.
 */
export function useMoreBits(i: number, n: number): boolean {
  const eighth = Math.trunc(n / 8);
  return i < eighth || i >= Math.trunc((7 * n) / 8) || (i - eighth) % 3 === 2;
}

/** Formats of a rule-based baseline. */
export interface RuleFormats {
  /** Default for quantizable layers. */
  readonly low: string;
  /** For attention v / ffn down layers selected by {@link useMoreBits}. */
  readonly high: string;
  /** For the output head. */
  readonly head: string;
}

/** Q4_K_M's types for GGUF models, and the ONNX-appliable equivalents (INT4 g32 = 4.5 bpw like Q4_K; INT8 for Q6_K). */
export function q4kmFormats(model: Model): RuleFormats {
  return model.format === 'gguf' ? { low: 'q4_k', high: 'q6_k', head: 'q6_k' } : { low: 'int4_g32', high: 'int8', head: 'int8' };
}

/**
 * llama.cpp Q4_K_M-like rules: `low` everywhere, `high` for attention v and ffn down in layers chosen by
 * {@link useMoreBits} (counted separately per role, as llama.cpp counts `attn_v` and `ffn_down` tensors),
 * `head` for the output head. Models without attention v / ffn down layers (CNNs) apply `useMoreBits` to
 * the quantizable layers in order instead.
 */
export function llamaCppRulesBaseline(model: Model, formats: RuleFormats = q4kmFormats(model), options: BaselineOptions = {}): Baseline | undefined {
  for (const id of [formats.low, formats.high, formats.head]) {
    const f = getNumberFormat(id);
    if (!f || !formatAllowed(f, options.native, options.allowEmulated)) return undefined;
  }
  const raw = new Array<string | undefined>(model.layers.length).fill(undefined);
  const weighted: Layer[] = [];
  const weightedAt: number[] = [];
  model.layers.forEach((l, i) => {
    if (!(l.quantizable && l.byteLength > 0)) return;
    weighted.push(l);
    weightedAt.push(i);
  });
  const ordinal = (list: readonly Layer[]): Map<string, number> => new Map(list.map((l, i) => [l.name, i]));
  const byBlock = (a: Layer, b: Layer): number => (a.block ?? 0) - (b.block ?? 0);
  const v = weighted.filter((l) => l.role === 'attention_v').sort(byBlock);
  const down = weighted.filter((l) => l.role === 'ffn_down' || (l.role === 'expert' && /down|w2/.test(l.name))).sort(byBlock);
  const vIdx = ordinal(v);
  // llama.cpp counts ffn_down by layer (block); with experts, all experts of a block share the block's index.
  const blocks = [...new Set(down.map((l) => l.block ?? -1))].sort((a, b) => a - b);
  const nBlocks = blocks.length;
  // Sets and maps, not includes/indexOf: those made this quadratic (11 s at 200,000 layers).
  const isDown = new Set(down);
  const blockIdx = new Map(blocks.map((b, i) => [b, i]));
  const generic = v.length === 0 && down.length === 0;
  // Only the generic rule counts every weighted layer (a map of 200,000 names otherwise made for nothing).
  const gIdx = generic ? ordinal(weighted) : undefined;
  for (let w = 0; w < weighted.length; w++) {
    const l = weighted[w]!;
    let id = formats.low;
    if (l.role === 'output_head') id = formats.head;
    else if (gIdx) id = useMoreBits(gIdx.get(l.name)!, weighted.length) ? formats.high : formats.low;
    else if (vIdx.has(l.name)) id = useMoreBits(vIdx.get(l.name)!, v.length) ? formats.high : formats.low;
    else if (isDown.has(l)) id = useMoreBits(blockIdx.get(l.block ?? -1)!, nBlocks) ? formats.high : formats.low;
    raw[weightedAt[w]!] = id;
  }
  return finished(model.format === 'gguf' ? 'q4_k_m' : 'q4_k_m-like', `Q4_K_M-like (${formats.low}; ${formats.high} for attn v/ffn down, ${formats.head} head)`, model, raw, options.fuse);
}

/**
 * The standard comparison set: uniform FP16, FP8 E4M3, INT8, INT4 (those the target can run), and for transformer
 * language models the Q4_K_M-like rules. Those rules are llama.cpp's for attention v / ffn down tensors: a CNN,
 * detector or VAD has neither, so a "Q4_K_M-like" figure for it would compare against a recipe nobody uses.
 */
export function standardBaselines(model: Model, options: BaselineOptions = {}): Baseline[] {
  const languageModel = model.format === 'gguf' || model.layers.some((l) => l.role === 'attention_v' || l.role === 'attention_qkv' || l.role === 'ffn_down');
  const list = [
    uniformBaseline(model, 'fp16', options),
    uniformBaseline(model, 'fp8_e4m3', options),
    uniformBaseline(model, 'int8', options),
    uniformBaseline(model, 'int4', options),
    languageModel ? llamaCppRulesBaseline(model, q4kmFormats(model), options) : undefined,
  ];
  return list.filter((b): b is Baseline => b !== undefined);
}
