/**
 * Mixed-precision solver: per layer (or fused group of layers) choose one number format, minimising the
 * total predicted harm (sensitivity scores) subject to a memory budget. This is a multiple-choice knapsack, solved
 * exactly by knapsack.ts (LP bound, reduction, Pareto DP; see there); this file builds the groups and their options
 * from a model and turns the solution back into an assignment.
 */
import { weightAt, weightCount } from '../model/tensorData';
import { formatByteLength, formatForStoredDType, getNumberFormat, KEEP_FORMAT, type ComputeType, type NumberFormat } from '../precision/numberFormats';
import { dtypeInfo } from '../model/dtypes';
import { own, setOwn } from '../model/dict';
import type { Layer, Model, TensorInfo } from '../model/types';
import { tensorIndex } from '../model/tensorIndex';
import { repeatedNameOwners } from '../model/layerPositions';
import type { SensitivityReport, SensitivityScores } from '../precision/sensitivity';
import { ggufFallbackFormats, ggufWrittenLayerFormatAt } from './ggufFallback';
import { prepareKnapsack, preparedFrontier, solvePreparedKnapsack, type FrontierPoint, type KnapsackResult } from './knapsack';

export {
  DEFAULT_MAX_TOTAL_STATES, knapsackColumns, knapsackFrontier, prepareKnapsack, preparedFrontier, solveMultipleChoiceKnapsack, solvePreparedKnapsack,
  type FrontierPoint, type KnapsackColumns, type KnapsackOption, type KnapsackOptions, type KnapsackResult, type PreparedKnapsack,
} from './knapsack';

//#region model-level planning
/** Predicted harm of giving `layer` the format (higher = worse); undefined when not scored (the format is skipped). */
export type HarmFunction = (layer: Layer, format: NumberFormat) => number | undefined;

/** Which layers must share one format. */
export interface FuseOptions {
  /** Separate q/k/v projections of one block (runtimes that fuse them into one GEMM). Default false. */
  readonly qkv?: boolean;
  /** Gate and up projections of one block (merged gate_up GEMM). Default true. */
  readonly gateUp?: boolean;
  /** All routed experts of one MoE layer (same projection, same block). Default true. */
  readonly experts?: boolean;
}

/** Options for {@link solveModel}. */
export interface SolveModelOptions {
  /** Budget for the weights of the layers (bytes). Tensors outside any layer are not counted here. */
  readonly weightBudgetBytes: number;
  /** Candidate format ids (default {@link defaultCandidateFormats}). 'keep' is always a candidate. */
  readonly formats?: readonly string[];
  /** Target's natively executed compute types; undefined = no target restriction. */
  readonly native?: readonly ComputeType[];
  /** Allow compute formats the target does not run natively. */
  readonly allowEmulated?: boolean;
  /** Layer → format id the solver must keep (plan entries with `pinned: true`). */
  readonly pinned?: Readonly<Record<string, string>>;
  readonly harm: HarmFunction;
  readonly fuse?: FuseOptions;
  readonly frontierPoints?: number;
  readonly maxStates?: number;
  /**
   * Draws the solution towards an incumbent assignment (see {@link SolveAnchor}). The reported `harm` excludes the
   * penalty; `status`, `lowerBound` and `gap` then refer to the penalized objective.
   */
  readonly anchor?: SolveAnchor;
  /**
   * Further layer-weight budgets to solve at, on the same groups and scores (no anchor penalty): how the solver
   * does at a baseline's memory. One preparation serves the main solve, the frontier and all of these.
   */
  readonly alsoAtBytes?: readonly number[];
}

/** The solver at one of {@link SolveModelOptions.alsoAtBytes}. */
export interface SolveAtBytes {
  readonly weightBudgetBytes: number;
  readonly status: KnapsackResult['status'];
  /** Predicted harm and layer-weight bytes of the optimum at that budget. */
  readonly harm: number;
  readonly weightBytes: number;
  /** harm − proven lower bound at that budget (0 when optimal). */
  readonly gap: number;
}

/** DP states allowed when solving at {@link SolveModelOptions.alsoAtBytes} (the plan's own solve keeps `maxStates`). */
export const COMPARISON_MAX_STATES = 200_000;

/**
 * An incumbent assignment (e.g. the best plan measured so far) and a penalty added to the predicted harm of every
 * group whose format differs from it. Penalty 0 gives the plain optimum; a large penalty gives the incumbent
 * (when it fits). In between, the solver keeps the incumbent's choices except where the predicted gain of a change
 * exceeds the penalty: a trust-region step from a measured plan towards the predicted optimum.
 */
export interface SolveAnchor {
  readonly assignment: Readonly<Record<string, string>>;
  /** Harm added per group that leaves the anchor's format (≥ 0, same units as the harm function). */
  readonly penalty: number;
}

/** A set of layers sharing one format. */
export interface LayerGroup {
  readonly key: string;
  readonly layers: readonly Layer[];
  /** Why they are grouped. */
  readonly reason: 'single' | 'qkv' | 'gate-up' | 'experts' | 'shared-tensor';
}

/** A group's candidate: format id ('keep' = as stored), bytes and harm of all its layers. */
export interface GroupOption {
  readonly format: string;
  readonly bytes: number;
  readonly harm: number;
}

/** Result of {@link solveModel}. */
export interface SolveModelResult {
  readonly status: KnapsackResult['status'];
  /** Layer → format id ('keep' for layers left as stored) for every layer with weights. */
  readonly assignment: Readonly<Record<string, string>>;
  /** Bytes of all layer weights under the assignment. */
  readonly weightBytes: number;
  readonly harm: number;
  readonly lowerBound: number;
  readonly gap: number;
  readonly weightBudgetBytes: number;
  /** Fewest layer-weight bytes any allowed assignment takes (pins and non-quantizable layers included). */
  readonly minWeightBytes: number;
  /** Layer-weight bytes with every layer at its least-harm option. */
  readonly maxUsefulWeightBytes: number;
  /** Bytes missing when infeasible (minWeightBytes − budget), else 0. */
  readonly shortfallBytes: number;
  readonly frontier: readonly FrontierPoint[];
  readonly groupCount: number;
  readonly fusedGroupCount: number;
  readonly freeGroups: number;
  readonly states: number;
  readonly formats: readonly string[];
  /** Observations (pins on formats the target cannot run, layers without scores, …). */
  readonly notes: readonly string[];
  /** One entry per {@link SolveModelOptions.alsoAtBytes}, in order. */
  readonly atBytes: readonly SolveAtBytes[];
}

/** A layer's format id in `assignment` ('keep' for a missing entry). */
function anchoredFormat(layer: Layer, assignment: Readonly<Record<string, string>>): string {
  return canonicalFormat(own(assignment, layer.name));
}

/** A format id with aliases resolved ('keep' for undefined). */
function canonicalFormat(id: string | undefined): string {
  if (id === undefined || id === KEEP_FORMAT) return KEEP_FORMAT;
  return getNumberFormat(id)?.id ?? id;
}

/** Formats the solver considers by default for a model's layers (GGUF: ggml types; ONNX: what `apply` stores; others: common deployment formats). */
export function defaultCandidateFormats(model: Model): string[] {
  if (model.format === 'gguf') {
    const list = ['fp16', 'bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k'].filter((id) => getNumberFormat(id));
    // Narrow rows: llama-quantize's fallback types (e.g. Q5_0 for Q4_K on 64-wide rows) are what those layers get.
    return [...list, ...ggufFallbackFormats(model, list)];
  }
  // ONNX: the formats `apply` stores for real and ONNX Runtime runs (others via --formats: apply simulates them).
  if (model.format === 'onnx') return ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int8_tensor', 'int4_g32', 'int4_g64', 'int4'];
  return ['bf16', 'fp16', 'fp8_e4m3', 'fp8_e4m3fnuz', 'mxfp8', 'mxfp6', 'mxfp4', 'nvfp4', 'w8a8', 'int8', 'int4_g32', 'int4_g64', 'int4', 'nf4'];
}

/** True when `format` may be chosen on a target with `native` types. Weight-only formats run anywhere. */
export function formatAllowed(format: NumberFormat, native: readonly ComputeType[] | undefined, allowEmulated = false): boolean {
  return !native || allowEmulated || format.mode === 'weight-only' || native.includes(format.computeAs);
}

/**
 * Bytes of one tensor of a layer stored in `format` ('keep' = as stored), as the estimator counts them: the
 * layer's main weight and its other matrix weights (rank ≥ 2) convert; biases and other 1-D tensors stay.
 */
export function tensorBytesIn(tensor: TensorInfo, format: NumberFormat | 'keep', isMain = false): number {
  if (format === 'keep' || tensor.elementCount === 0 || (!isMain && tensor.shape.length < 2)) return tensor.byteLength;
  const kind = dtypeInfo(tensor.dtype)?.kind;
  if (kind !== 'float' && kind !== 'quantized' && kind !== 'int' && kind !== 'uint') return tensor.byteLength;
  return formatByteLength(format, tensor.shape, tensor.elementCount);
}

/** One layer tensor and whether it is the layer's main weight. */
export interface LayerTensor {
  readonly tensor: TensorInfo;
  readonly isMain: boolean;
}

/**
 * The layers' weight tensors (each tensor under its first layer only) by layer name, and bytes outside any layer.
 * A view of {@link layerTensorColumns} made on first use: the planner reads the columns.
 */
export function layerTensors(model: Model): LayerTensors {
  let r = layerTensorsMemo.get(model);
  if (!r) {
    r = layerTensorMap(model);
    layerTensorsMemo.set(model, r);
  }
  return r;
}

/** Weight tensors per layer and the bytes outside any layer (shared per model: never mutate). */
export interface LayerTensors {
  readonly byLayer: Map<string, LayerTensor[]>;
  readonly outsideBytes: number;
}

/**
 * The layers' weight tensors by position in `model.layers`, in columns: layer i's are entries `start[i]` …
 * `start[i + 1] − 1` of `tensor` and `isMain` (1 = the layer's main weight). Each tensor is listed under its first
 * layer only. A per-layer list of objects in a map of names was ~50 MB at 200,000 layers; these are ~3 MB.
 */
export interface LayerTensorColumns {
  readonly start: Int32Array;
  readonly tensor: readonly TensorInfo[];
  readonly isMain: Uint8Array;
  /** Bytes of the tensors outside any layer. */
  readonly outsideBytes: number;
  /**
   * When layer names repeat: per position, the position whose list the layer's name stands for (the last layer of
   * that name, as in {@link LayerTensors.byLayer}); undefined when every name is unique (each position its own).
   */
  readonly listOf: Int32Array | undefined;
  /** True when some weight name is listed by more than one layer (or twice by one): layers may share a tensor. */
  readonly weightsRepeat: boolean;
}

/** {@link LayerTensorColumns} of a model (made once per model: never mutate). */
export function layerTensorColumns(model: Model): LayerTensorColumns {
  let c = layerColumnsMemo.get(model);
  if (!c) {
    c = computeLayerTensorColumns(model);
    layerColumnsMemo.set(model, c);
  }
  return c;
}

// Models are immutable IR, and the solver, the baselines, the budget and the editor ask for the same views of one
// model many times per plan (a 10,000-layer model: ~50 ms each): computed once per model object.
const layerColumnsMemo = new WeakMap<Model, LayerTensorColumns>();
const layerTensorsMemo = new WeakMap<Model, LayerTensors>();
const groupColumnsMemo = new WeakMap<Model, Map<string, LayerGroupColumns>>();
const groupLayersMemo = new WeakMap<Model, Map<string, LayerGroup[]>>();

function computeLayerTensorColumns(model: Model): LayerTensorColumns {
  // The model's shared name index (first tensor of each name), not a Map of its own: 200,000 entries per copy.
  const tensors = tensorIndex(model);
  const layers = model.layers;
  const n = layers.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += weightCount(layers[i]!);
  const start = new Int32Array(n + 1);
  const tensor: TensorInfo[] = [];
  const isMain = new Uint8Array(total);
  // Every weight name listed so far (a name's tensor, when it has one, is the same at every listing).
  const seen = new Set<string>();
  let weightsRepeat = false;
  for (let i = 0; i < n; i++) {
    const l = layers[i]!;
    start[i] = tensor.length;
    const count = weightCount(l);
    for (let k = 0; k < count; k++) {
      const w = weightAt(l, k)!;
      if (seen.has(w)) {
        weightsRepeat = true;
        continue;
      }
      seen.add(w);
      const t = tensors.get(w);
      if (!t) continue;
      isMain[tensor.length] = k === 0 ? 1 : 0;
      tensor.push(t);
    }
  }
  start[n] = tensor.length;
  let outsideBytes = 0;
  for (const t of tensors.values()) if (!seen.has(t.name)) outsideBytes += t.byteLength;
  return { start, tensor, isMain: isMain.slice(0, tensor.length), outsideBytes, listOf: repeatedNameOwners(model), weightsRepeat };
}

/** The name-keyed view: each name's entry is the list of its last layer, in the order of first appearance. */
function layerTensorMap(model: Model): LayerTensors {
  const c = layerTensorColumns(model);
  const byLayer = new Map<string, LayerTensor[]>();
  const layers = model.layers;
  for (let i = 0; i < layers.length; i++) {
    const list: LayerTensor[] = [];
    for (let e = c.start[i]!; e < c.start[i + 1]!; e++) list.push({ tensor: c.tensor[e]!, isMain: c.isMain[e] === 1 });
    byLayer.set(layers[i]!.name, list);
  }
  return { byLayer, outsideBytes: c.outsideBytes };
}

/** Bytes of the weight tensors listed for the layer at position `at` with every tensor in `format` ('keep' = as stored). */
function listBytes(c: LayerTensorColumns, at: number, format: NumberFormat | 'keep'): number {
  const p = c.listOf ? c.listOf[at]! : at;
  let total = 0;
  for (let e = c.start[p]!; e < c.start[p + 1]!; e++) total += tensorBytesIn(c.tensor[e]!, format, c.isMain[e] === 1);
  return total;
}

/** Layer-weight bytes of an assignment (layer → format id; missing or 'keep' = as stored). */
export function assignmentWeightBytes(model: Model, assignment: Readonly<Record<string, string>>): number {
  return weightBytesBy(model, (name) => own(assignment, name));
}

/**
 * {@link assignmentWeightBytes} of an assignment given as a format id per layer of `model.layers` (undefined =
 * as stored), for a model whose layer names are unique.
 */
export function layerColumnWeightBytes(model: Model, ids: readonly (string | undefined)[]): number {
  return weightBytesBy(model, (_, i) => ids[i]);
}

function weightBytesBy(model: Model, idOf: (name: string, index: number) => string | undefined): number {
  const formatOf = formatLookup();
  const formatAt = (name: string, i: number): NumberFormat | 'keep' => {
    const id = idOf(name, i);
    return !id || id === KEEP_FORMAT ? 'keep' : (formatOf(id) ?? 'keep');
  };
  let total = 0;
  const c = layerTensorColumns(model);
  if (c.listOf) {
    // Repeated names: one entry per name, as the name-keyed view has them.
    let i = 0;
    for (const [name, tensors] of layerTensors(model).byLayer) {
      const f = formatAt(name, i++);
      for (const t of tensors) total += tensorBytesIn(t.tensor, f, t.isMain);
    }
    return total;
  }
  const layers = model.layers;
  for (let i = 0; i < layers.length; i++) total += listBytes(c, i, formatAt(layers[i]!.name, i));
  return total;
}

/** `getNumberFormat` remembered per id (an assignment repeats a handful of ids over every layer of the model). */
function formatLookup(): (id: string) => NumberFormat | undefined {
  const known = new Map<string, NumberFormat | undefined>();
  return (id) => {
    if (known.has(id)) return known.get(id);
    const f = getNumberFormat(id);
    known.set(id, f);
    return f;
  };
}

/** Why layers are grouped, by {@link LayerGroupColumns.reason} code. */
const GROUP_REASONS: readonly LayerGroup['reason'][] = ['single', 'qkv', 'gate-up', 'experts', 'shared-tensor'];

/**
 * {@link groupLayers} in columns: group g's layers are the positions in `model.layers` at entries `start[g]` …
 * `start[g + 1] − 1` of `member` (model order), its key the name of the layer at `keyAt[g]`, its reason
 * `GROUP_REASONS[reason[g]]`. ~171,000 groups of a 200,000-layer model were ~22 MB of objects; these are ~3 MB.
 */
export interface LayerGroupColumns {
  readonly count: number;
  readonly start: Int32Array;
  readonly member: Int32Array;
  readonly keyAt: Int32Array;
  readonly reason: Uint8Array;
}

/** Groups layers that must share a format (see {@link FuseOptions}); layers sharing a tensor are always grouped. */
export function groupLayers(model: Model, fuse: FuseOptions = {}): LayerGroup[] {
  const key = fuseKey(fuse);
  let byFuse = groupLayersMemo.get(model);
  if (!byFuse) {
    byFuse = new Map();
    groupLayersMemo.set(model, byFuse);
  }
  let groups = byFuse.get(key);
  if (!groups) {
    const c = layerGroupColumns(model, fuse);
    const layers = model.layers;
    groups = [];
    for (let g = 0; g < c.count; g++) {
      const members: Layer[] = [];
      for (let e = c.start[g]!; e < c.start[g + 1]!; e++) members.push(layers[c.member[e]!]!);
      groups.push({ key: layers[c.keyAt[g]!]!.name, layers: members, reason: GROUP_REASONS[c.reason[g]!]! });
    }
    byFuse.set(key, groups);
  }
  return groups;
}

function fuseKey(fuse: FuseOptions): string {
  return `${fuse.qkv ?? false}|${fuse.gateUp ?? true}|${fuse.experts ?? true}`;
}

/** {@link LayerGroupColumns} of a model (made once per model and fuse options: never mutate). */
export function layerGroupColumns(model: Model, fuse: FuseOptions = {}): LayerGroupColumns {
  const key = fuseKey(fuse);
  let byFuse = groupColumnsMemo.get(model);
  if (!byFuse) {
    byFuse = new Map();
    groupColumnsMemo.set(model, byFuse);
  }
  let groups = byFuse.get(key);
  if (!groups) {
    groups = computeGroupColumns(model, fuse);
    byFuse.set(key, groups);
  }
  return groups;
}

/**
 * Union-find over layer numbers (typed arrays, no Map per layer name). A layer listed twice under one name is one
 * layer, as it was when the sets were keyed by name: every occurrence maps to the first one's number.
 */
function computeGroupColumns(model: Model, fuse: FuseOptions): LayerGroupColumns {
  const all = model.layers;
  let n = 0;
  for (const l of all) if (l.weight !== undefined && l.byteLength > 0) n++;
  // The layers with weights, and their positions in model.layers.
  const layers: Layer[] = new Array<Layer>(n);
  const posOf = new Int32Array(n);
  for (let i = 0, j = 0; i < all.length; i++) {
    const l = all[i]!;
    if (l.weight === undefined || !(l.byteLength > 0)) continue;
    layers[j] = l;
    posOf[j++] = i;
  }
  const id = new Int32Array(n);
  if (repeatedNameOwners(model)) {
    const numberOf = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const name = layers[i]!.name;
      const known = numberOf.get(name);
      if (known === undefined) numberOf.set(name, i);
      id[i] = known ?? i;
    }
  } else for (let i = 0; i < n; i++) id[i] = i; // unique names: each layer its own number
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  // Reason code of a root (GROUP_REASONS index; 0 = none yet).
  const reason = new Uint8Array(n);
  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r]!;
    let c = x;
    while (parent[c] !== r) {
      const next = parent[c]!;
      parent[c] = r;
      c = next;
    }
    return r;
  };
  const union = (a: number, b: number, why: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return;
    parent[rb] = ra;
    if (reason[ra] === 0) reason[ra] = why;
  };
  const byKey = (key: (l: Layer) => string | undefined, why: number): void => {
    const first = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const k = key(layers[i]!);
      if (k === undefined) continue;
      const f = first.get(k);
      if (f !== undefined && layers[f]!.name !== '') union(f, id[i]!, why);
      else first.set(k, id[i]!);
    }
  };
  // Shared tensors (tied weights) can only be stored one way.
  // (As when these were Maps of names: a first member named '' does not count, and a tensor name listed twice has
  // the rank of its last tensor.)
  const SHARED = GROUP_REASONS.indexOf('shared-tensor');
  const tensorOwner = new Map<string, number>();
  const tensors = tensorIndex(model);
  const laterRank = new Map<string, number>();
  // No weight name listed twice: no layers share a tensor (the usual case; this pass is then skipped).
  const shared = layerTensorColumns(model).weightsRepeat;
  if (shared) for (const t of model.tensors) if (tensors.get(t.name) !== t) laterRank.set(t.name, t.shape.length);
  for (let i = 0; i < n && shared; i++) {
    const l = layers[i]!;
    const count = weightCount(l);
    for (let k = 0; k < count; k++) {
      const w = weightAt(l, k)!;
      if (k > 0 && (laterRank.get(w) ?? tensors.get(w)?.shape.length ?? 0) < 2) continue; // biases stay as stored: sharing them does not tie formats
      const o = tensorOwner.get(w);
      if (o !== undefined && layers[o]!.name !== '') union(o, id[i]!, SHARED);
      else tensorOwner.set(w, id[i]!);
    }
  }
  const scope = (l: Layer): string => `${l.block}|${l.expert ?? ''}`;
  if (fuse.qkv === true) byKey((l) => (l.block !== undefined && ['attention_q', 'attention_k', 'attention_v'].includes(l.role) ? `qkv|${scope(l)}` : undefined), GROUP_REASONS.indexOf('qkv'));
  if (fuse.gateUp !== false) byKey((l) => (l.block !== undefined && ['ffn_gate', 'ffn_up'].includes(l.role) ? `gu|${scope(l)}` : undefined), GROUP_REASONS.indexOf('gate-up'));
  if (fuse.experts !== false)
    byKey((l) => (l.role === 'expert' || l.expert !== undefined ? `ex|${l.block}|${l.name.replace(/(^|[._])(experts?)([._])\d+(?=[._]|$)/g, '$1$2$3*')}` : undefined), GROUP_REASONS.indexOf('experts'));
  // Groups in the order of their first layer, each layer in model order.
  const slot = new Int32Array(n).fill(-1);
  const groupOf = new Int32Array(n);
  const size: number[] = [];
  const rootOf: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = find(id[i]!);
    let g = slot[r]!;
    if (g < 0) {
      g = slot[r] = size.length;
      size.push(0);
      rootOf.push(r);
    }
    size[g]!++;
    groupOf[i] = g;
  }
  const count = size.length;
  const start = new Int32Array(count + 1);
  for (let g = 0; g < count; g++) start[g + 1] = start[g]! + size[g]!;
  const fill = start.slice(0, count);
  const member = new Int32Array(n);
  for (let i = 0; i < n; i++) member[fill[groupOf[i]!]!++] = posOf[i]!;
  const keyAt = new Int32Array(count);
  const why = new Uint8Array(count);
  for (let g = 0; g < count; g++) {
    const r = rootOf[g]!;
    keyAt[g] = posOf[r]!;
    why[g] = size[g]! > 1 ? (reason[r] === 0 ? SHARED : reason[r]!) : 0;
  }
  return { count, start, member, keyAt, reason: why };
}

/**
 * Chooses a format per layer for a model: builds groups and their options (allowed formats with scores,
 * 'keep' always), honours pins and non-quantizable layers, solves the knapsack and computes the frontier.
 */
export function solveModel(model: Model, options: SolveModelOptions): SolveModelResult {
  const notes: string[] = [];
  const candidates = (options.formats ?? defaultCandidateFormats(model))
    .map((id) => getNumberFormat(id))
    .filter((f): f is NumberFormat => f !== undefined)
    .filter((f) => formatAllowed(f, options.native, options.allowEmulated));
  const uniq = [...new Map(candidates.map((f) => [f.id, f])).values()];
  const cols = layerTensorColumns(model);
  const groups = layerGroupColumns(model, options.fuse);
  const { start: groupStart, member } = groups;
  const G = groups.count;
  const layers = model.layers;
  const pinned = options.pinned ?? {};
  const hasPins = Object.keys(pinned).length > 0;
  // Formats of the options: 0 = keep, then the candidates, then any other format a pin or a GGUF fallback brings.
  const formatIds: string[] = [KEEP_FORMAT, ...uniq.map((f) => f.id)];
  const formatIndex = new Map(formatIds.map((id, i) => [id, i]));
  const formatSlot = (id: string): number => {
    let i = formatIndex.get(id);
    if (i === undefined) {
      i = formatIds.length;
      formatIds.push(id);
      formatIndex.set(id, i);
    }
    return i;
  };
  // The candidates' scores, asked once per layer and format (the worst-score pass and the groups both need them).
  const F = uniq.length;
  // Released before the knapsack runs (8 bytes per layer and format: 17.6 MB at 200,000 layers × 11 formats).
  let scores: Float64Array | undefined = new Float64Array(model.layers.length * F).fill(NaN);
  let unscored = 0;
  // A layer the sensitivity analysis skipped (e.g. a Slice sharing an LSTM weight) gets, per format, the worst
  // score any layer of the model has for that format: pessimistic, so unknown layers are not favoured, but the
  // format stays available. Formats no layer has a score for are not considered.
  const worst = new Float64Array(F).fill(NaN);
  model.layers.forEach((l, li) => {
    if (!l.quantizable || l.weight === undefined) return;
    for (let fi = 0; fi < F; fi++) {
      const h = options.harm(l, uniq[fi]!);
      if (h !== undefined && Number.isFinite(h)) {
        scores![li * F + fi] = h;
        worst[fi] = Math.max(Number.isNaN(worst[fi]!) ? 0 : worst[fi]!, h);
      }
    }
  });
  const candidateSlot = new Map(uniq.map((f, i) => [f.id, i]));
  const scoreOf = (li: number, f: NumberFormat): number | undefined => {
    const l = layers[li]!;
    const fi = candidateSlot.get(f.id);
    let h: number | undefined;
    if (fi !== undefined && l.quantizable && l.weight !== undefined) {
      const v = scores![li * F + fi]!;
      h = Number.isNaN(v) ? undefined : v;
    } else h = options.harm(l, f);
    if (h !== undefined && Number.isFinite(h)) return h;
    if (fi === undefined) return undefined;
    const w = worst[fi]!;
    if (Number.isNaN(w)) return undefined;
    unscored++;
    return w;
  };
  // Options in columns: group i's are entries optStart[i] … optStart[i + 1] − 1 (keep first, or the pin alone).
  const maxPerGroup = 1 + Math.max(1, F);
  const optStart = new Int32Array(G + 1);
  let optFormat = new Int32Array(G * maxPerGroup);
  let optBytes = new Float64Array(optFormat.length);
  let optHarm = new Float64Array(optFormat.length);
  let no = 0;
  const push = (format: number, bytes: number, harm: number): void => {
    if (no === optFormat.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(2 * a.length + 16);
        b.set(a);
        return b;
      };
      optFormat = grow(optFormat, (n) => new Int32Array(n));
      optBytes = grow(optBytes, (n) => new Float64Array(n));
      optHarm = grow(optHarm, (n) => new Float64Array(n));
    }
    optFormat[no] = format;
    optBytes[no] = bytes;
    optHarm[no] = harm;
    no++;
  };
  const written = new Map<string, NumberFormat>();
  const storedFormatOf = new Map<string, NumberFormat | undefined>();
  const storedFormat = (dtype: string): NumberFormat | undefined => {
    if (storedFormatOf.has(dtype)) return storedFormatOf.get(dtype);
    const f = formatForStoredDType(dtype);
    storedFormatOf.set(dtype, f);
    return f;
  };
  const pins: string[] = [];
  for (let gi = 0; gi < G; gi++) {
    const m0 = groupStart[gi]!;
    const m1 = groupStart[gi + 1]!;
    const first = layers[member[m0]!]!;
    optStart[gi] = no;
    let keepBytes = 0;
    for (let m = m0; m < m1; m++) keepBytes += listBytes(cols, member[m]!, 'keep');
    push(0, keepBytes, 0);
    pins.length = 0;
    if (hasPins) {
      for (let m = m0; m < m1; m++) {
        const p = own(pinned, layers[member[m]!]!.name);
        if (p !== undefined && !pins.includes(p)) pins.push(p);
      }
    }
    if (pins.length > 1) notes.push(`Layers ${Array.from(member.subarray(m0, m1), (i) => `'${layers[i]!.name}'`).join(', ')} must share one format but are pinned to ${pins.join(' and ')}; using ${pins[0]}.`);
    const pin = pins[0];
    let quantizable = true;
    for (let m = m0; m < m1 && quantizable; m++) quantizable = layers[member[m]!]!.quantizable;
    const pool = pin !== undefined ? (pin === KEEP_FORMAT ? [] : [getNumberFormat(pin)].filter((f): f is NumberFormat => f !== undefined)) : quantizable ? uniq : [];
    if (pin && pin !== KEEP_FORMAT && pool.length === 0) notes.push(`Layer '${first.name}' is pinned to the unknown format '${pin}'; keeping it as stored.`);
    if (pin && pool[0] && !formatAllowed(pool[0], options.native, options.allowEmulated)) notes.push(`Layer '${first.name}' is pinned to ${pool[0].label}, which the target does not run natively.`);
    // GGUF: a format whose block does not divide a layer's rows is written as llama-quantize's fallback type
    // (ggufFallback.ts), so the option is that type, sized and scored as such; a group whose layers would fall
    // back to different types is not offered the format. Each written format is offered once, in first-seen order.
    let offered: readonly NumberFormat[] = pool;
    if (pin === undefined && model.format === 'gguf') {
      written.clear();
      for (const f of pool) {
        let id: string | undefined = ggufWrittenLayerFormatAt(model, member[m0]!, f.id);
        for (let m = m0 + 1; m < m1 && id !== undefined; m++) if (ggufWrittenLayerFormatAt(model, member[m]!, f.id) !== id) id = undefined;
        const w = id === undefined ? undefined : getNumberFormat(id);
        if (w && !written.has(w.id)) written.set(w.id, w);
      }
      offered = [...written.values()];
    }
    for (const f of offered) {
      let bytes = 0;
      let harm = 0;
      let ok = true;
      for (let m = m0; m < m1; m++) {
        const li = member[m]!;
        bytes += listBytes(cols, li, f);
        if (!ok) continue;
        const stored = storedFormat(layers[li]!.dtype);
        const h = stored && stored.id === f.id ? 0 : scoreOf(li, f);
        if (h === undefined || !Number.isFinite(h)) ok = false;
        else harm += Math.max(0, h);
      }
      if (!ok) {
        if (pin) notes.push(`Layer '${first.name}' is pinned to ${f.id} but has no score for it; treating its harm as 0.`);
        else continue;
      }
      if (pin) {
        // A pin replaces the options entirely.
        no = optStart[gi]!;
        push(formatSlot(f.id), bytes, ok ? harm : 0);
      } else if (bytes <= keepBytes) push(formatSlot(f.id), bytes, harm);
    }
  }
  optStart[G] = no;
  scores = undefined;
  if (unscored > 0) notes.push(`${unscored} layer/format pairs had no sensitivity score; they were given the model's worst score for the format.`);
  const ks = { start: optStart, bytes: optBytes.subarray(0, no), harm: optHarm.subarray(0, no) };
  const anchor = options.anchor;
  let penalized = ks;
  if (anchor && anchor.penalty > 0) {
    const harm = new Float64Array(no);
    for (let gi = 0; gi < G; gi++) {
      const want = anchoredFormat(layers[member[groupStart[gi]!]!]!, anchor.assignment);
      for (let o = optStart[gi]!; o < optStart[gi + 1]!; o++) harm[o] = optHarm[o]! + (canonicalFormat(formatIds[optFormat[o]!]!) === want ? 0 : anchor.penalty);
    }
    penalized = { start: optStart, bytes: ks.bytes, harm };
  }
  const knapsackOptions = options.maxStates !== undefined ? { maxStates: options.maxStates } : {};
  const prepared = prepareKnapsack(ks);
  const r = solvePreparedKnapsack(penalized === ks ? prepared : prepareKnapsack(penalized), options.weightBudgetBytes, knapsackOptions);
  // Comparison points get a smaller DP allowance than the plan itself: beyond it they report the LP-repaired
  // solution with its proven gap (status 'gap'), which for large models is within a fraction of a percent.
  const atOptions = { maxStates: Math.min(options.maxStates ?? 2_000_000, COMPARISON_MAX_STATES), maxTotalStates: COMPARISON_MAX_STATES * 10 };
  // Baselines of equal size (uniform FP8 and INT8 at one byte per weight) share one solve: a solve of a prepared
  // problem depends on the budget alone.
  const solvedAt = new Map<number, KnapsackResult>();
  const atBytes = (options.alsoAtBytes ?? []).map((budget): SolveAtBytes => {
    let at = solvedAt.get(budget);
    if (!at) solvedAt.set(budget, (at = solvePreparedKnapsack(prepared, budget, atOptions)));
    return { weightBudgetBytes: budget, status: at.status, harm: at.harm, weightBytes: at.bytes, gap: at.gap };
  });
  const assignment: Record<string, string> = {};
  let trueHarm = 0;
  let maxUseful = 0;
  for (let gi = 0; gi < G; gi++) {
    const o = optStart[gi]! + r.choice[gi]!;
    trueHarm += optHarm[o]!;
    const id = formatIds[optFormat[o]!]!;
    for (let m = groupStart[gi]!; m < groupStart[gi + 1]!; m++) setOwn(assignment, layers[member[m]!]!.name, id);
    // Bytes of the group's least-harm option (fewest bytes among equal harm).
    let best = optStart[gi]!;
    for (let q = best + 1; q < optStart[gi + 1]!; q++) if (optHarm[q]! < optHarm[best]! || (optHarm[q] === optHarm[best] && optBytes[q]! < optBytes[best]!)) best = q;
    maxUseful += optBytes[best]!;
  }
  let fused = 0;
  for (let gi = 0; gi < G; gi++) if (groupStart[gi + 1]! - groupStart[gi]! > 1) fused++;
  return {
    status: r.status,
    assignment,
    weightBytes: r.bytes,
    harm: trueHarm,
    lowerBound: r.lowerBound,
    gap: r.gap,
    weightBudgetBytes: options.weightBudgetBytes,
    minWeightBytes: r.minBytes,
    maxUsefulWeightBytes: maxUseful,
    shortfallBytes: Math.max(0, r.minBytes - options.weightBudgetBytes),
    frontier: preparedFrontier(prepared, options.frontierPoints ?? 200),
    groupCount: G,
    fusedGroupCount: fused,
    freeGroups: r.freeGroups,
    states: r.states,
    formats: uniq.map((f) => f.id),
    notes,
    atBytes,
  };
}
//#endregion

//#region harm
/**
 * Harm from a sensitivity report: the layer's `staticScore` for the format, or with `prefer: 'measured'` the
 * measured output noise-to-signal ratio 10^(−measuredOutputSqnrDb/10) where the report has one (static
 * otherwise). A measurement flagged `noEffect` (lowering the layer left every compared output bit-identical: an
 * If branch the calibration inputs do not take, or a projection that only feeds a KV-cache output) says nothing
 * about other inputs, so the static score is used there: otherwise the solver would treat such layers as free and
 * give them the fewest bits. Undefined when the pair was not analyzed.
 */
export function harmFromSensitivity(report: SensitivityReport, options: { readonly prefer?: 'static' | 'measured' } = {}): HarmFunction {
  const byLayer = new Map(report.layers.map((l) => [l.layer, l]));
  return (layer, format) => {
    const s = byLayer.get(layer.name)?.formats[format.id];
    if (!s) return undefined;
    const noEffect = (s as { readonly noEffect?: boolean }).noEffect === true;
    if (options.prefer === 'measured' && !noEffect && s.measuredOutputSqnrDb !== undefined && Number.isFinite(s.measuredOutputSqnrDb)) return 10 ** (-s.measuredOutputSqnrDb / 10);
    return s.staticScore;
  };
}

/**
 * Harm from columnar scores (`analyzeModelScores`): the same `staticScore` {@link harmFromSensitivity} reads from a
 * full report, looked up by layer number in one column per format instead of through a record per layer and format.
 */
export function harmFromScores(scores: SensitivityScores): HarmFunction {
  // A name listed twice resolves to its last entry, as harmFromSensitivity's Map of the report's layers does.
  const index = new Map<string, number>();
  scores.layers.forEach((name, i) => index.set(name, i));
  const columns = new Map<string, Float64Array>();
  scores.formats.forEach((id, f) => {
    if (!columns.has(id)) columns.set(id, scores.staticScores[f]!);
  });
  // The solver and the comparisons ask for every format of one layer in a row: its number is looked up once. They
  // also go through the layers in model order, which is the scores' order: when names are unique, the entry after the
  // last one found is tried first (a 200,000-name Map lookup per layer cost ~0.2 s at 200,000 layers).
  const unique = index.size === scores.layers.length;
  const names = scores.layers;
  let lastLayer: Layer | undefined;
  let lastIndex: number | undefined;
  return (layer, format) => {
    if (layer !== lastLayer) {
      lastLayer = layer;
      const next = lastIndex === undefined ? 0 : lastIndex + 1;
      lastIndex = unique && next < names.length && names[next] === layer.name ? next : index.get(layer.name);
    }
    const column = columns.get(format.id);
    return lastIndex === undefined || column === undefined ? undefined : column[lastIndex];
  };
}
//#endregion

//#region comparisons
/** Predicted harm of an assignment (Σ per-layer scores; 'keep' and the stored format score 0); undefined when a layer has no score. */
export function assignmentHarm(model: Model, assignment: Readonly<Record<string, string>>, harm: HarmFunction): number | undefined {
  return harmBy(model, (name) => own(assignment, name), harm);
}

/** {@link assignmentHarm} of an assignment given as a format id per layer of `model.layers` (undefined = as stored). */
export function layerColumnHarm(model: Model, ids: readonly (string | undefined)[], harm: HarmFunction): number | undefined {
  return harmBy(model, (_, i) => ids[i], harm);
}

function harmBy(model: Model, idOf: (name: string, index: number) => string | undefined, harm: HarmFunction): number | undefined {
  let total = 0;
  const formatOf = formatLookup();
  const storedIds = new Map<string, string | undefined>();
  const layers = model.layers;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    const id = idOf(l.name, i);
    if (!id || id === KEEP_FORMAT) continue;
    const f = formatOf(id);
    if (!f) return undefined;
    let stored = storedIds.get(l.dtype);
    if (stored === undefined && !storedIds.has(l.dtype)) storedIds.set(l.dtype, (stored = formatForStoredDType(l.dtype)?.id));
    if (stored === f.id) continue;
    const h = harm(l, f);
    if (h === undefined || !Number.isFinite(h)) return undefined;
    total += Math.max(0, h);
  }
  return total;
}

/** Predicted output SQNR in dB for a total harm (sensitivity.ts: harm is the output noise-to-signal ratio). */
export function harmToSqnrDb(harm: number): number {
  return harm > 0 ? -10 * Math.log10(harm) : Infinity;
}
//#endregion
