/**
 * Mixed-precision solver: per layer (or fused group of layers) choose one number format, minimising the
 * total predicted harm (sensitivity scores) subject to a memory budget. This is a multiple-choice knapsack.
 *
 * Method (exact, with a proof):
 * 1. Per group drop dominated options (more bytes and no less harm) and take the lower convex hull.
 * 2. LP relaxation by the greedy on hull edges sorted by harm saved per byte (Sinha–Zoltners). Its value is a
 *    lower bound LB, its multiplier λ* the efficiency of the split edge. The edges before the split give an
 *    integral solution; a repair pass spends the leftover bytes (upper bound UB).
 * 3. Reduction: with λ*, option j of group g can only be in a solution better than UB if
 *    LB + (h_j + λ* w_j − min_k(h_k + λ* w_k)) < UB. Almost every group is then fixed.
 * 4. Exact dynamic programming over the remaining groups with Pareto lists of (bytes, harm) states (exact byte
 *    counts, no discretisation), pruned by the same Lagrangian bound. If the state count stays under
 *    `maxStates` the result is proven optimal (gap 0); otherwise the result reports the proven gap UB − LB.
 *
 * Every prefix of the sorted hull edges is an integral LP optimum, so those points form the Pareto frontier
 * (best predicted harm at each of their memory levels), returned as chart data.
 */
import { formatByteLength, formatForStoredDType, getNumberFormat, KEEP_FORMAT, type ComputeType, type NumberFormat } from '../precision/numberFormats';
import { dtypeInfo } from '../model/dtypes';
import { own, setOwn } from '../model/dict';
import type { Layer, Model, TensorInfo } from '../model/types';
import { tensorIndex } from '../model/tensorIndex';
import type { SensitivityReport, SensitivityScores } from '../precision/sensitivity';
import { ggufFallbackFormats, ggufWrittenLayerFormat } from './ggufFallback';

//#region generic multiple-choice knapsack
/** One choice of a group: stored bytes and predicted harm. */
export interface KnapsackOption {
  readonly bytes: number;
  readonly harm: number;
}

/** Result of {@link solveMultipleChoiceKnapsack}. */
export interface KnapsackResult {
  /** 'optimal' (proven), 'gap' (best found; `gap` bounds the distance to optimal), 'infeasible' (nothing fits). */
  readonly status: 'optimal' | 'gap' | 'infeasible';
  /** Chosen option index per group (for 'infeasible': the smallest option of each group). */
  readonly choice: readonly number[];
  readonly bytes: number;
  readonly harm: number;
  /** LP-relaxation lower bound on the harm of any feasible choice. */
  readonly lowerBound: number;
  /** harm − proven lower bound (0 when optimal). */
  readonly gap: number;
  /** Fewest bytes any choice can take. */
  readonly minBytes: number;
  /** Groups left free after the reduction step, and DP states explored (for reports and benchmarks). */
  readonly freeGroups: number;
  readonly states: number;
}

/** Options for {@link solveMultipleChoiceKnapsack}. */
export interface KnapsackOptions {
  /** Stop the exact DP beyond this many live states and report the gap instead. */
  readonly maxStates?: number;
  /**
   * Stop the exact DP once this many states have been created over all stages (time and memory: every stage's
   * back-pointers are kept; a 50,000-group problem once took 80 s and 3.6 GB), and report the gap instead.
   */
  readonly maxTotalStates?: number;
}

/** Default {@link KnapsackOptions.maxTotalStates}: ~0.2 GB of back-pointers, a few seconds of DP. */
export const DEFAULT_MAX_TOTAL_STATES = 20_000_000;

interface Efficient {
  /** Original option indices, bytes ascending, harm strictly descending. */
  readonly idx: number[];
  readonly bytes: number[];
  readonly harm: number[];
}

function efficientOptions(options: readonly KnapsackOption[]): Efficient {
  const order = options.map((_, i) => i).sort((a, b) => options[a]!.bytes - options[b]!.bytes || options[a]!.harm - options[b]!.harm || a - b);
  const e: Efficient = { idx: [], bytes: [], harm: [] };
  let best = Infinity;
  for (const i of order) {
    const o = options[i]!;
    if (o.harm < best) {
      e.idx.push(i);
      e.bytes.push(o.bytes);
      e.harm.push(o.harm);
      best = o.harm;
    }
  }
  return e;
}

/** Indices (into an Efficient list) of its lower convex hull, from the fewest bytes to the least harm. */
function lowerHull(e: Efficient): number[] {
  const h: number[] = [];
  for (let i = 0; i < e.idx.length; i++) {
    while (h.length >= 2) {
      const a = h[h.length - 2]!;
      const b = h[h.length - 1]!;
      // Remove b when it lies on or above the segment a→i (cross product ≥ 0 in (bytes, harm)); keep
      // collinear points out: they are reachable by the DP and would only add equal-rate edges.
      const cross = (e.bytes[b]! - e.bytes[a]!) * (e.harm[i]! - e.harm[a]!) - (e.harm[b]! - e.harm[a]!) * (e.bytes[i]! - e.bytes[a]!);
      if (cross <= 0) h.pop();
      else break;
    }
    h.push(i);
  }
  return h;
}

/** A hull edge: moving group `g` from hull point `k` to `k + 1`. */
interface Edge {
  readonly g: number;
  readonly k: number;
  readonly dBytes: number;
  readonly dHarm: number;
  readonly rate: number;
}

function sortedEdges(hulls: readonly number[][], eff: readonly Efficient[]): Edge[] {
  const edges: Edge[] = [];
  hulls.forEach((h, g) => {
    const e = eff[g]!;
    for (let k = 0; k + 1 < h.length; k++) {
      const dBytes = e.bytes[h[k + 1]!]! - e.bytes[h[k]!]!;
      const dHarm = e.harm[h[k]!]! - e.harm[h[k + 1]!]!;
      edges.push({ g, k, dBytes, dHarm, rate: dHarm / dBytes });
    }
  });
  // Rates fall strictly along one group's hull, so this order keeps each group's edges in sequence.
  edges.sort((a, b) => b.rate - a.rate || a.g - b.g || a.k - b.k);
  return edges;
}

/**
 * Solves min Σ harm subject to Σ bytes ≤ budget, one option per group. Exact unless the DP exceeds
 * `maxStates`, in which case the result carries the proven gap. Groups must have at least one option.
 */
export function solveMultipleChoiceKnapsack(groups: readonly (readonly KnapsackOption[])[], budgetBytes: number, options: KnapsackOptions = {}): KnapsackResult {
  return solvePreparedKnapsack(prepareKnapsack(groups), budgetBytes, options);
}

/**
 * The budget-independent part of a multiple-choice knapsack (efficient options, lower hulls, hull edges sorted by
 * rate): computed once, then solved at any number of budgets and turned into the frontier without redoing it.
 */
export interface PreparedKnapsack {
  readonly eff: readonly Efficient[];
  readonly hulls: readonly number[][];
  readonly edges: readonly Edge[];
  readonly minBytes: number;
  readonly minHarmAtMin: number;
}

/** Prepares `groups` for {@link solvePreparedKnapsack} and {@link preparedFrontier}. Groups need ≥ 1 option. */
export function prepareKnapsack(groups: readonly (readonly KnapsackOption[])[]): PreparedKnapsack {
  const eff = groups.map((g) => {
    if (g.length === 0) throw new Error('Every knapsack group needs at least one option.');
    return efficientOptions(g);
  });
  let minBytes = 0;
  let minHarmAtMin = 0;
  for (const e of eff) {
    minBytes += e.bytes[0]!;
    minHarmAtMin += e.harm[0]!;
  }
  const hulls = eff.map(lowerHull);
  return { eff, hulls, edges: sortedEdges(hulls, eff), minBytes, minHarmAtMin };
}

/** {@link solveMultipleChoiceKnapsack} on a prepared problem. */
export function solvePreparedKnapsack(prepared: PreparedKnapsack, budgetBytes: number, options: KnapsackOptions = {}): KnapsackResult {
  const maxStates = options.maxStates ?? 2_000_000;
  const maxTotalStates = options.maxTotalStates ?? DEFAULT_MAX_TOTAL_STATES;
  const { eff, hulls, edges, minBytes, minHarmAtMin } = prepared;
  const n = eff.length;
  const pos = new Array<number>(n).fill(0); // position in Efficient list
  const pack = (status: KnapsackResult['status'], lowerBound: number, freeGroups = 0, states = 0): KnapsackResult => {
    let bytes = 0;
    let harm = 0;
    const choice = pos.map((p, g) => {
      bytes += eff[g]!.bytes[p]!;
      harm += eff[g]!.harm[p]!;
      return eff[g]!.idx[p]!;
    });
    const gap = status === 'optimal' ? 0 : Math.max(0, harm - lowerBound);
    return { status, choice, bytes, harm, lowerBound, gap, minBytes, freeGroups, states };
  };
  if (minBytes > budgetBytes) return pack('infeasible', minHarmAtMin);

  // 2. LP relaxation by the hull greedy.
  const hullPos = new Array<number>(n).fill(0);
  let used = minBytes;
  let harm = minHarmAtMin;
  let split = -1;
  for (let i = 0; i < edges.length; i++) {
    const ed = edges[i]!;
    if (used + ed.dBytes > budgetBytes) {
      split = i;
      break;
    }
    used += ed.dBytes;
    harm -= ed.dHarm;
    hullPos[ed.g] = ed.k + 1;
  }
  for (let g = 0; g < n; g++) pos[g] = hulls[g]![hullPos[g]!]!;
  if (split < 0) return pack('optimal', harm); // every group at its least harm: trivially optimal
  const lambda = edges[split]!.rate;
  const lowerBound = harm - lambda * (budgetBytes - used);

  // Repair: spend the leftover bytes, best absolute harm saving first, until nothing fits.
  let left = budgetBytes - used;
  for (let round = 0; round < 64 && left > 0; round++) {
    let bestG = -1;
    let bestP = -1;
    let bestSave = 0;
    for (let g = 0; g < n; g++) {
      const e = eff[g]!;
      const p = pos[g]!;
      for (let q = p + 1; q < e.idx.length && e.bytes[q]! - e.bytes[p]! <= left; q++) {
        const save = e.harm[p]! - e.harm[q]!;
        if (save > bestSave) {
          bestSave = save;
          bestG = g;
          bestP = q;
        }
      }
    }
    if (bestG < 0) break;
    left -= eff[bestG]!.bytes[bestP]! - eff[bestG]!.bytes[pos[bestG]!]!;
    pos[bestG] = bestP;
  }
  let ub = 0;
  for (let g = 0; g < n; g++) ub += eff[g]!.harm[pos[g]!]!;
  const tol = 1e-9 * Math.max(1, Math.abs(ub));
  if (ub - lowerBound <= tol) return pack('optimal', lowerBound);

  // 3. Reduction by reduced costs at λ*.
  const cMin = new Float64Array(n);
  let lagrange = -lambda * budgetBytes;
  for (let g = 0; g < n; g++) {
    const e = eff[g]!;
    let c = Infinity;
    for (let q = 0; q < e.idx.length; q++) c = Math.min(c, e.harm[q]! + lambda * e.bytes[q]!);
    cMin[g] = c;
    lagrange += c;
  }
  const free: { g: number; opts: number[] }[] = [];
  let fixedBytes = 0;
  let fixedHarm = 0;
  const fixedPos = new Array<number>(n).fill(-1);
  for (let g = 0; g < n; g++) {
    const e = eff[g]!;
    const keep: number[] = [];
    for (let q = 0; q < e.idx.length; q++) if (lagrange + (e.harm[q]! + lambda * e.bytes[q]! - cMin[g]!) < ub - tol) keep.push(q);
    if (keep.length === 1) {
      fixedPos[g] = keep[0]!;
      fixedBytes += e.bytes[keep[0]!]!;
      fixedHarm += e.harm[keep[0]!]!;
    } else if (keep.length > 1) free.push({ g, opts: keep });
    else {
      // No option of this group can beat the incumbent: any improving solution is impossible; incumbent is optimal.
      return pack('optimal', lowerBound);
    }
  }
  const cap = budgetBytes - fixedBytes;
  if (cap < 0) return pack('optimal', lowerBound); // the reduced problem has no solution better than UB

  // 4. Exact DP with Pareto lists over the free groups.
  // Bound for a partial state (w, h) after stage s: fixedHarm + λ·fixedBytes + h + λ·w + Σ_{rest} cMin − λ·budget.
  const restC = new Float64Array(free.length + 1);
  const restMinBytes = new Float64Array(free.length + 1);
  for (let s = free.length - 1; s >= 0; s--) {
    const f = free[s]!;
    restC[s] = restC[s + 1]! + cMin[f.g]!;
    let mb = Infinity;
    for (const q of f.opts) mb = Math.min(mb, eff[f.g]!.bytes[q]!);
    restMinBytes[s] = restMinBytes[s + 1]! + mb;
  }
  const base = fixedHarm + lambda * fixedBytes - lambda * budgetBytes;
  // Scratch lists reused from stage to stage (grown as needed): only each stage's back-pointers are kept.
  let w: Float64Array = new Float64Array(1024);
  let h: Float64Array = new Float64Array(1024);
  let len = 1; // live states in w/h (the empty start state: 0 bytes, 0 harm)
  let nw: Float64Array = new Float64Array(1024);
  let nh: Float64Array = new Float64Array(1024);
  let np: Int32Array = new Int32Array(1024);
  let nq: Int32Array = new Int32Array(1024);
  const parents: Int32Array[] = [];
  const picks: Int32Array[] = [];
  let states = 1;
  for (let s = 0; s < free.length; s++) {
    const f = free[s]!;
    const e = eff[f.g]!;
    const k = f.opts.length;
    const m = len * k;
    if (m > maxStates * 4 || states + m > maxTotalStates * 4) return pack('gap', lowerBound, free.length, states);
    // The previous states are a Pareto list (bytes ascending, harm descending), so each option's successors are
    // already sorted by bytes: a k-way merge (k ≤ formats + 1) replaces a general sort of all m candidates. Ties
    // break as a stable sort of the candidates in (state, option) order would, so results do not change.
    // At most `len` successors survive the dominance test (one per distinct harm level below the last), but a
    // stage can have up to m candidates before it; the output lists hold at most m.
    if (nw.length < m) {
      nw = new Float64Array(Math.max(m, 2 * nw.length));
      nh = new Float64Array(nw.length);
    }
    if (np.length < m) {
      np = new Int32Array(Math.max(m, 2 * np.length));
      nq = new Int32Array(np.length);
    }
    const head = new Int32Array(k);
    const optBytes = new Float64Array(k);
    const optHarm = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      optBytes[j] = e.bytes[f.opts[j]!]!;
      optHarm[j] = e.harm[f.opts[j]!]!;
    }
    const capHere = cap - restMinBytes[s + 1]!;
    const restCNext = restC[s + 1]!;
    let c = 0;
    let best = Infinity;
    for (;;) {
      let bj = -1;
      let bw = 0;
      let bh = 0;
      for (let j = 0; j < k; j++) {
        const i = head[j]!;
        if (i >= len) continue;
        const cwj = w[i]! + optBytes[j]!;
        if (cwj > capHere) {
          head[j] = len; // bytes only grow along this option's list
          continue;
        }
        const chj = h[i]! + optHarm[j]!;
        if (bj < 0 || cwj < bw || (cwj === bw && (chj < bh || (chj === bh && i < head[bj]!)))) {
          bj = j;
          bw = cwj;
          bh = chj;
        }
      }
      if (bj < 0) break;
      const i = head[bj]!;
      head[bj] = i + 1;
      if (base + bh + lambda * bw + restCNext >= ub - tol) continue; // cannot beat the incumbent
      if (bh < best) {
        best = bh;
        nw[c] = bw;
        nh[c] = bh;
        np[c] = i;
        nq[c] = f.opts[bj]!;
        c++;
      }
    }
    if (c === 0) return pack('optimal', lowerBound, free.length, states); // nothing beats the incumbent
    states += c;
    if (c > maxStates || states > maxTotalStates) return pack('gap', lowerBound, free.length, states);
    // The new states become the current ones (swap the scratch pairs); back-pointers are kept, sized to fit.
    [w, nw] = [nw, w];
    [h, nh] = [nh, h];
    len = c;
    parents.push(np.slice(0, c));
    picks.push(nq.slice(0, c));
  }
  // Best final state = least harm (Pareto list: the last one).
  let bi = len - 1;
  if (fixedHarm + h[bi]! < ub - tol) {
    for (let g = 0; g < n; g++) if (fixedPos[g]! >= 0) pos[g] = fixedPos[g]!;
    for (let s = free.length - 1; s >= 0; s--) {
      pos[free[s]!.g] = picks[s]![bi]!;
      bi = parents[s]![bi]!;
    }
  }
  return pack('optimal', lowerBound, free.length, states);
}

/** One point of a Pareto frontier: the least predicted harm achievable with `bytes`. */
export interface FrontierPoint {
  readonly bytes: number;
  readonly harm: number;
}

/**
 * The Pareto frontier (harm vs bytes) of a multiple-choice knapsack: every point is the exact optimum at its
 * own byte count (an integral LP optimum), bytes strictly increasing and harm strictly decreasing. At most
 * `maxPoints` points, spread evenly over the byte range, always including both ends.
 */
export function knapsackFrontier(groups: readonly (readonly KnapsackOption[])[], maxPoints = 200): FrontierPoint[] {
  return preparedFrontier(prepareKnapsack(groups), maxPoints);
}

/** {@link knapsackFrontier} of a prepared problem. */
export function preparedFrontier(prepared: PreparedKnapsack, maxPoints = 200): FrontierPoint[] {
  let bytes = prepared.minBytes;
  let harm = prepared.minHarmAtMin;
  const all: FrontierPoint[] = [{ bytes, harm }];
  for (const ed of prepared.edges) {
    bytes += ed.dBytes;
    harm -= ed.dHarm;
    all.push({ bytes, harm });
  }
  if (all.length <= maxPoints) return all;
  const out: FrontierPoint[] = [];
  const lo = all[0]!.bytes;
  const span = all[all.length - 1]!.bytes - lo;
  let j = 0;
  for (let k = 0; k < maxPoints; k++) {
    const level = lo + (span * k) / (maxPoints - 1);
    while (j + 1 < all.length && all[j + 1]!.bytes <= level) j++;
    if (out[out.length - 1] !== all[j]) out.push(all[j]!);
  }
  if (out[out.length - 1] !== all[all.length - 1]) out.push(all[all.length - 1]!);
  return out;
}
//#endregion

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
  const id = own(assignment, layer.name);
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

/** The layers' weight tensors (each tensor under its first layer only), and bytes outside any layer. */
export function layerTensors(model: Model): LayerTensors {
  let r = layerTensorsMemo.get(model);
  if (!r) {
    r = computeLayerTensors(model);
    layerTensorsMemo.set(model, r);
  }
  return r;
}

/** Weight tensors per layer and the bytes outside any layer (shared per model: never mutate). */
export interface LayerTensors {
  readonly byLayer: Map<string, LayerTensor[]>;
  readonly outsideBytes: number;
}

// Models are immutable IR, and the solver, the baselines, the budget and the editor ask for the same views of one
// model many times per plan (a 10,000-layer model: ~50 ms each): computed once per model object.
const layerTensorsMemo = new WeakMap<Model, LayerTensors>();
const groupLayersMemo = new WeakMap<Model, Map<string, LayerGroup[]>>();

function computeLayerTensors(model: Model): LayerTensors {
  // The model's shared name index (first tensor of each name), not a Map of its own: 200,000 entries per copy.
  const tensors = tensorIndex(model);
  const byLayer = new Map<string, LayerTensor[]>();
  const owned = new Set<string>();
  for (const l of model.layers) {
    const list: LayerTensor[] = [];
    const ws = l.weights;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!;
      const t = tensors.get(w);
      if (!t || owned.has(w)) continue;
      owned.add(w);
      list.push({ tensor: t, isMain: i === 0 });
    }
    byLayer.set(l.name, list);
  }
  let outsideBytes = 0;
  for (const t of tensors.values()) if (!owned.has(t.name)) outsideBytes += t.byteLength;
  return { byLayer, outsideBytes };
}

/** Layer-weight bytes of an assignment (layer → format id; missing or 'keep' = as stored). */
export function assignmentWeightBytes(model: Model, assignment: Readonly<Record<string, string>>): number {
  const { byLayer } = layerTensors(model);
  const formatOf = formatLookup();
  let total = 0;
  for (const [name, tensors] of byLayer) {
    const id = own(assignment, name);
    const f = !id || id === KEEP_FORMAT ? 'keep' : (formatOf(id) ?? 'keep');
    for (const t of tensors) total += tensorBytesIn(t.tensor, f, t.isMain);
  }
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

/** Groups layers that must share a format (see {@link FuseOptions}); layers sharing a tensor are always grouped. */
export function groupLayers(model: Model, fuse: FuseOptions = {}): LayerGroup[] {
  const key = `${fuse.qkv ?? false}|${fuse.gateUp ?? true}|${fuse.experts ?? true}`;
  let byFuse = groupLayersMemo.get(model);
  if (!byFuse) {
    byFuse = new Map();
    groupLayersMemo.set(model, byFuse);
  }
  let groups = byFuse.get(key);
  if (!groups) {
    groups = computeGroupLayers(model, fuse);
    byFuse.set(key, groups);
  }
  return groups;
}

/**
 * Union-find over layer numbers (typed arrays, no Map per layer name). A layer listed twice under one name is one
 * layer, as it was when the sets were keyed by name: every occurrence maps to the first one's number.
 */
function computeGroupLayers(model: Model, fuse: FuseOptions): LayerGroup[] {
  const layers = model.layers.filter((l) => l.weights.length > 0 && l.byteLength > 0);
  const n = layers.length;
  const numberOf = new Map<string, number>();
  const id = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const name = layers[i]!.name;
    const known = numberOf.get(name);
    if (known === undefined) numberOf.set(name, i);
    id[i] = known ?? i;
  }
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const reason: (LayerGroup['reason'] | undefined)[] = new Array<LayerGroup['reason'] | undefined>(n);
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
  const union = (a: number, b: number, why: LayerGroup['reason']): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return;
    parent[rb] = ra;
    reason[ra] ??= why;
  };
  const byKey = (key: (l: Layer) => string | undefined, why: LayerGroup['reason']): void => {
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
  const tensorOwner = new Map<string, number>();
  const tensors = tensorIndex(model);
  const laterRank = new Map<string, number>();
  for (const t of model.tensors) if (tensors.get(t.name) !== t) laterRank.set(t.name, t.shape.length);
  for (let i = 0; i < n; i++) {
    const ws = layers[i]!.weights;
    for (let k = 0; k < ws.length; k++) {
      const w = ws[k]!;
      if (k > 0 && (laterRank.get(w) ?? tensors.get(w)?.shape.length ?? 0) < 2) continue; // biases stay as stored: sharing them does not tie formats
      const o = tensorOwner.get(w);
      if (o !== undefined && layers[o]!.name !== '') union(o, id[i]!, 'shared-tensor');
      else tensorOwner.set(w, id[i]!);
    }
  }
  const scope = (l: Layer): string => `${l.block}|${l.expert ?? ''}`;
  if (fuse.qkv === true) byKey((l) => (l.block !== undefined && ['attention_q', 'attention_k', 'attention_v'].includes(l.role) ? `qkv|${scope(l)}` : undefined), 'qkv');
  if (fuse.gateUp !== false) byKey((l) => (l.block !== undefined && ['ffn_gate', 'ffn_up'].includes(l.role) ? `gu|${scope(l)}` : undefined), 'gate-up');
  if (fuse.experts !== false)
    byKey((l) => (l.role === 'expert' || l.expert !== undefined ? `ex|${l.block}|${l.name.replace(/(^|[._])(experts?)([._])\d+(?=[._]|$)/g, '$1$2$3*')}` : undefined), 'experts');
  // Groups in the order of their first layer, each layer in model order.
  const slot = new Int32Array(n).fill(-1);
  const groups: { root: number; layers: Layer[] }[] = [];
  for (let i = 0; i < n; i++) {
    const r = find(id[i]!);
    const g = slot[r]!;
    if (g >= 0) groups[g]!.layers.push(layers[i]!);
    else {
      slot[r] = groups.length;
      groups.push({ root: r, layers: [layers[i]!] });
    }
  }
  return groups.map(({ root, layers: ls }) => ({ key: layers[root]!.name, layers: ls, reason: ls.length > 1 ? (reason[root] ?? 'shared-tensor') : 'single' }));
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
  const { byLayer } = layerTensors(model);
  const groups = groupLayers(model, options.fuse);
  const pinned = options.pinned ?? {};
  const groupOptions: GroupOption[][] = [];
  let unscored = 0;
  // A layer the sensitivity analysis skipped (e.g. a Slice sharing an LSTM weight) gets, per format, the worst
  // score any layer of the model has for that format: pessimistic, so unknown layers are not favoured, but the
  // format stays available. Formats no layer has a score for are not considered.
  const worst = new Map<string, number>();
  for (const l of model.layers) {
    if (!l.quantizable || l.weights.length === 0) continue;
    for (const f of uniq) {
      const h = options.harm(l, f);
      if (h !== undefined && Number.isFinite(h)) worst.set(f.id, Math.max(worst.get(f.id) ?? 0, h));
    }
  }
  const scoreOf = (l: Layer, f: NumberFormat): number | undefined => {
    const h = options.harm(l, f);
    if (h !== undefined && Number.isFinite(h)) return h;
    const w = worst.get(f.id);
    if (w !== undefined) unscored++;
    return w;
  };
  for (const g of groups) {
    const keepBytes = g.layers.reduce((s, l) => s + (byLayer.get(l.name) ?? []).reduce((a, t) => a + t.tensor.byteLength, 0), 0);
    const opts: GroupOption[] = [{ format: KEEP_FORMAT, bytes: keepBytes, harm: 0 }];
    const pins = [...new Set(g.layers.map((l) => own(pinned, l.name)).filter((p): p is string => p !== undefined))];
    if (pins.length > 1) notes.push(`Layers ${g.layers.map((l) => `'${l.name}'`).join(', ')} must share one format but are pinned to ${pins.join(' and ')}; using ${pins[0]}.`);
    const pin = pins[0];
    const quantizable = g.layers.every((l) => l.quantizable);
    const pool = pin !== undefined ? (pin === KEEP_FORMAT ? [] : [getNumberFormat(pin)].filter((f): f is NumberFormat => f !== undefined)) : quantizable ? uniq : [];
    if (pin && pin !== KEEP_FORMAT && pool.length === 0) notes.push(`Layer '${g.layers[0]!.name}' is pinned to the unknown format '${pin}'; keeping it as stored.`);
    if (pin && pool[0] && !formatAllowed(pool[0], options.native, options.allowEmulated)) notes.push(`Layer '${g.layers[0]!.name}' is pinned to ${pool[0].label}, which the target does not run natively.`);
    // GGUF: a format whose block does not divide a layer's rows is written as llama-quantize's fallback type
    // (ggufFallback.ts), so the option is that type, sized and scored as such; a group whose layers would fall
    // back to different types is not offered the format.
    const offered = pin !== undefined || model.format !== 'gguf' ? pool : [...new Map(pool.flatMap((f) => {
      const written = new Set(g.layers.map((l) => ggufWrittenLayerFormat(model, l.name, f.id)));
      const id = written.size === 1 ? [...written][0] : undefined;
      const w = id === undefined ? undefined : getNumberFormat(id);
      return w ? [[w.id, w] as const] : [];
    })).values()];
    for (const f of offered) {
      let bytes = 0;
      let harm = 0;
      let ok = true;
      for (const l of g.layers) {
        const stored = formatForStoredDType(l.dtype);
        const h = stored && stored.id === f.id ? 0 : scoreOf(l, f);
        if (h === undefined || !Number.isFinite(h)) {
          ok = false;
          break;
        }
        harm += Math.max(0, h);
        for (const t of byLayer.get(l.name) ?? []) bytes += tensorBytesIn(t.tensor, f, t.isMain);
      }
      if (!ok) {
        if (pin) notes.push(`Layer '${g.layers[0]!.name}' is pinned to ${f.id} but has no score for it; treating its harm as 0.`);
        else continue;
      }
      if (pin) {
        // A pin replaces the options entirely.
        opts.length = 0;
        opts.push({ format: f.id, bytes, harm: ok ? harm : 0 });
      } else if (bytes <= keepBytes) opts.push({ format: f.id, bytes, harm });
    }
    groupOptions.push(opts);
  }
  if (unscored > 0) notes.push(`${unscored} layer/format pairs had no sensitivity score; they were given the model's worst score for the format.`);
  const ks = groupOptions.map((o) => o.map(({ bytes, harm }) => ({ bytes, harm })));
  const anchor = options.anchor;
  const penalized = anchor && anchor.penalty > 0
    ? groupOptions.map((o, i) => {
      const want = anchoredFormat(groups[i]!.layers[0]!, anchor.assignment);
      return o.map(({ format, bytes, harm }) => ({ bytes, harm: harm + (anchoredFormat(groups[i]!.layers[0]!, { [groups[i]!.layers[0]!.name]: format }) === want ? 0 : anchor.penalty) }));
    })
    : ks;
  const knapsackOptions = options.maxStates !== undefined ? { maxStates: options.maxStates } : {};
  const prepared = prepareKnapsack(ks);
  const r = solvePreparedKnapsack(penalized === ks ? prepared : prepareKnapsack(penalized), options.weightBudgetBytes, knapsackOptions);
  // Comparison points get a smaller DP allowance than the plan itself: beyond it they report the LP-repaired
  // solution with its proven gap (status 'gap'), which for large models is within a fraction of a percent.
  const atOptions = { maxStates: Math.min(options.maxStates ?? 2_000_000, COMPARISON_MAX_STATES), maxTotalStates: COMPARISON_MAX_STATES * 10 };
  const atBytes = (options.alsoAtBytes ?? []).map((budget): SolveAtBytes => {
    const at = solvePreparedKnapsack(prepared, budget, atOptions);
    return { weightBudgetBytes: budget, status: at.status, harm: at.harm, weightBytes: at.bytes, gap: at.gap };
  });
  const assignment: Record<string, string> = {};
  let trueHarm = 0;
  groups.forEach((g, i) => {
    const o = groupOptions[i]![r.choice[i]!]!;
    trueHarm += o.harm;
    for (const l of g.layers) setOwn(assignment, l.name, o.format);
  });
  let maxUseful = 0;
  for (const o of groupOptions) maxUseful += [...o].sort((a, b) => a.harm - b.harm || a.bytes - b.bytes)[0]!.bytes;
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
    groupCount: groups.length,
    fusedGroupCount: groups.filter((g) => g.layers.length > 1).length,
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
  return (layer, format) => {
    const i = index.get(layer.name);
    const column = columns.get(format.id);
    return i === undefined || column === undefined ? undefined : column[i];
  };
}
//#endregion

//#region comparisons
/** Predicted harm of an assignment (Σ per-layer scores; 'keep' and the stored format score 0); undefined when a layer has no score. */
export function assignmentHarm(model: Model, assignment: Readonly<Record<string, string>>, harm: HarmFunction): number | undefined {
  let total = 0;
  const formatOf = formatLookup();
  const storedIds = new Map<string, string | undefined>();
  for (const l of model.layers) {
    const id = own(assignment, l.name);
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
