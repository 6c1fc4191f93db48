/**
 * The generic multiple-choice knapsack under the planner: per group choose one option (bytes, harm), minimising
 * the total harm subject to a byte budget. Exact, with a proof:
 * 1. Per group drop dominated options (more bytes and no less harm) and take the lower convex hull.
 * 2. LP relaxation by the greedy on hull edges sorted by harm saved per byte (Sinha–Zoltners). Its value is a
 *    lower bound LB, its multiplier λ* the efficiency of the split edge. The edges before the split give an
 *    integral solution; a repair pass spends the leftover bytes (upper bound UB).
 * 3. Reduction: with λ*, option j of group g can only be in a solution below a threshold T if
 *    LB + (h_j + λ* w_j − min_k(h_k + λ* w_k)) < T. Almost every group is then fixed.
 * 4. Exact dynamic programming over the remaining groups with Pareto lists of (bytes, harm) states (exact byte
 *    counts, no discretisation), pruned by the same Lagrangian bound against T. If the state count stays under
 *    `maxStates` the result is proven optimal (gap 0); otherwise the result reports the proven gap UB − LB.
 *    Steps 3 and 4 run against thresholds between LB and UB, lowest first (see {@link THRESHOLD_FRACTIONS}).
 *
 * Every prefix of the sorted hull edges is an integral LP optimum, so those points form the Pareto frontier
 * (best predicted harm at each of their memory levels), returned as chart data.
 *
 * Memory is linear in groups × options and nothing is allocated per group or per state: options, hulls and edges
 * live in flat typed arrays ({@link KnapsackColumns}, {@link PreparedKnapsack}), and the DP keeps its states and
 * back-pointers in typed arrays reused across stages.
 */

/** One choice of a group: stored bytes and predicted harm. */
export interface KnapsackOption {
  readonly bytes: number;
  readonly harm: number;
}

/**
 * Groups in columns: group g's options are entries `start[g]` … `start[g + 1] − 1` of `bytes` and `harm`; an
 * option's index within its group is its entry minus `start[g]`. The solver's input for large models (no object
 * per option).
 */
export interface KnapsackColumns {
  readonly start: Int32Array;
  readonly bytes: Float64Array;
  readonly harm: Float64Array;
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
   * back-pointers are kept; a 50,000-group problem once took 80 s and 3.6 GB), and report the gap instead. The limit
   * applies to each threshold attempt of the solve; the result's `states` counts all attempts.
   */
  readonly maxTotalStates?: number;
}

/** Default {@link KnapsackOptions.maxTotalStates}: ~0.2 GB of back-pointers, a few seconds of DP. */
export const DEFAULT_MAX_TOTAL_STATES = 20_000_000;

/**
 * The budget-independent part of a multiple-choice knapsack (efficient options, lower hulls, hull edges sorted by
 * rate): computed once, then solved at any number of budgets and turned into the frontier without redoing it.
 * All columns; group g's efficient options are entries `effStart[g]` … (bytes ascending, harm strictly descending),
 * its hull points entries `hullStart[g]` … of `hullPt` (positions within the group's efficient options).
 */
export interface PreparedKnapsack {
  readonly groups: number;
  readonly effStart: Int32Array;
  /** Original option index within the group. */
  readonly effIdx: Positions;
  readonly effBytes: Float64Array;
  readonly effHarm: Float64Array;
  readonly hullStart: Int32Array;
  readonly hullPt: Positions;
  /** Hull edges sorted by rate (harm saved per byte) descending, then group, then position: group, hull step k (k → k + 1). */
  readonly edgeG: Int32Array;
  readonly edgeK: Positions;
  readonly edgeBytes: Float64Array;
  readonly edgeHarm: Float64Array;
  readonly edgeRate: Float64Array;
  readonly minBytes: number;
  readonly minHarmAtMin: number;
}

/**
 * A column of positions within a group (an option's index, a hull step): one byte each when no group has more than
 * 256 options (every plan: a group has a few formats), else four. A 200,000-layer plan's ~2 million options and
 * 1.3 million hull edges held ~25 MB of these as Int32.
 */
export type Positions = Int32Array | Uint8Array;

function positions(narrow: boolean, length: number): Positions {
  return narrow ? new Uint8Array(length) : new Int32Array(length);
}

/** Columns of option lists. */
export function knapsackColumns(groups: readonly (readonly KnapsackOption[])[]): KnapsackColumns {
  const start = new Int32Array(groups.length + 1);
  for (let g = 0; g < groups.length; g++) start[g + 1] = start[g]! + groups[g]!.length;
  const bytes = new Float64Array(start[groups.length]!);
  const harm = new Float64Array(bytes.length);
  for (let g = 0; g < groups.length; g++) {
    const list = groups[g]!;
    for (let j = 0; j < list.length; j++) {
      bytes[start[g]! + j] = list[j]!.bytes;
      harm[start[g]! + j] = list[j]!.harm;
    }
  }
  return { start, bytes, harm };
}

/**
 * Solves min Σ harm subject to Σ bytes ≤ budget, one option per group. Exact unless the DP exceeds
 * `maxStates`, in which case the result carries the proven gap. Groups must have at least one option.
 */
export function solveMultipleChoiceKnapsack(groups: readonly (readonly KnapsackOption[])[] | KnapsackColumns, budgetBytes: number, options: KnapsackOptions = {}): KnapsackResult {
  return solvePreparedKnapsack(prepareKnapsack(groups), budgetBytes, options);
}

/** Prepares `groups` for {@link solvePreparedKnapsack} and {@link preparedFrontier}. Groups need ≥ 1 option. */
export function prepareKnapsack(groups: readonly (readonly KnapsackOption[])[] | KnapsackColumns): PreparedKnapsack {
  const cols = 'start' in groups ? groups : knapsackColumns(groups);
  const { start, bytes } = cols;
  const n = start.length - 1;
  const narrow = widestGroup(start) <= 256;
  const effStart = new Int32Array(n + 1);
  const effIdx = positions(narrow, bytes.length);
  const effBytes = new Float64Array(bytes.length);
  const effHarm = new Float64Array(bytes.length);
  const hullStart = new Int32Array(n + 1);
  const hullPt = positions(narrow, bytes.length);
  const h = efficientHulls(cols, { groups: n, effStart, effIdx, effBytes, effHarm, hullStart, hullPt });
  const { ne, nh, edgeCount } = h;
  // Hull edges in (group, step) order, then sorted by rate descending; ties keep that order, so each group's edges
  // stay in sequence (rates fall strictly along one group's hull). Only each edge's rate is kept in that order: the
  // sorted columns are written by walking the hulls again (the same subtractions) and storing each edge at its rank,
  // so no second copy of those columns is made (~20 MB at 200,000 layers) and the hulls are read in order (reading
  // them in rate order was a chain of cache misses per edge).
  const rawRate = new Float64Array(edgeCount);
  hullRates(n, effStart, effBytes, effHarm, hullStart, hullPt, rawRate);
  const rank = rankByRateDescending(rawRate);
  const edges: Edges = { edgeG: new Int32Array(edgeCount), edgeK: positions(narrow, edgeCount), edgeBytes: new Float64Array(edgeCount), edgeHarm: new Float64Array(edgeCount), edgeRate: new Float64Array(edgeCount) };
  sortedEdges(rank, rawRate, n, effStart, effBytes, effHarm, hullStart, hullPt, edges);
  // Views of the columns' used parts, not copies: a copy was ~48 MB more allocated at 200,000 layers, against the
  // unused tails (dominated options, points off the hull) that the views keep alive.
  return {
    groups: n, effStart, effIdx: effIdx.subarray(0, ne), effBytes: effBytes.subarray(0, ne), effHarm: effHarm.subarray(0, ne), hullStart, hullPt: hullPt.subarray(0, nh),
    ...edges, minBytes: h.minBytes, minHarmAtMin: h.minHarmAtMin,
  };
}

/** The most options of any group. */
function widestGroup(start: Int32Array): number {
  let widest = 0;
  for (let g = 0; g + 1 < start.length; g++) widest = Math.max(widest, start[g + 1]! - start[g]!);
  return widest;
}

type Edges = Pick<PreparedKnapsack, 'edgeG' | 'edgeK' | 'edgeBytes' | 'edgeHarm' | 'edgeRate'>;
type Hulls = Pick<PreparedKnapsack, 'groups' | 'effStart' | 'effIdx' | 'effBytes' | 'effHarm' | 'hullStart' | 'hullPt'>;

/**
 * Fills `out`'s efficient options and lower hulls of every group (full-length columns; the used lengths are
 * returned) and sums the fewest-bytes options.
 */
function efficientHulls(cols: KnapsackColumns, out: Hulls): { ne: number; nh: number; edgeCount: number; minBytes: number; minHarmAtMin: number } {
  const { start, bytes, harm } = cols;
  const { groups: n, effStart, effIdx, effBytes, effHarm, hullStart, hullPt } = out;
  let order = new Int32Array(16);
  let minBytes = 0;
  let minHarmAtMin = 0;
  let ne = 0;
  let nh = 0;
  let edgeCount = 0;
  for (let g = 0; g < n; g++) {
    const s0 = start[g]!;
    const k = start[g + 1]! - s0;
    if (k <= 0) throw new Error('Every knapsack group needs at least one option.');
    // Efficient options: sorted by (bytes, harm, index) — insertion sort, k is small — keeping strictly falling harm.
    if (order.length < k) order = new Int32Array(2 * k);
    for (let i = 0; i < k; i++) {
      let j = i;
      while (j > 0) {
        const a = order[j - 1]!;
        const d = bytes[s0 + a]! - bytes[s0 + i]! || harm[s0 + a]! - harm[s0 + i]!;
        if (d > 0) {
          order[j] = a;
          j--;
        } else break;
      }
      order[j] = i;
    }
    effStart[g] = ne;
    let best = Infinity;
    for (let i = 0; i < k; i++) {
      const o = order[i]!;
      if (harm[s0 + o]! < best) {
        effIdx[ne] = o;
        effBytes[ne] = bytes[s0 + o]!;
        effHarm[ne] = harm[s0 + o]!;
        best = harm[s0 + o]!;
        ne++;
      }
    }
    const e0 = effStart[g]!;
    minBytes += effBytes[e0]!;
    minHarmAtMin += effHarm[e0]!;
    // Lower convex hull of the efficient options, from the fewest bytes to the least harm.
    hullStart[g] = nh;
    for (let i = 0; i < ne - e0; i++) {
      while (nh - hullStart[g]! >= 2) {
        const a = e0 + hullPt[nh - 2]!;
        const b = e0 + hullPt[nh - 1]!;
        const c = e0 + i;
        // Remove b when it lies on or above the segment a→i (cross product ≥ 0 in (bytes, harm)); keep
        // collinear points out: they are reachable by the DP and would only add equal-rate edges.
        const cross = (effBytes[b]! - effBytes[a]!) * (effHarm[c]! - effHarm[a]!) - (effHarm[b]! - effHarm[a]!) * (effBytes[c]! - effBytes[a]!);
        if (cross <= 0) nh--;
        else break;
      }
      hullPt[nh++] = i;
    }
    edgeCount += nh - hullStart[g]! - 1;
  }
  effStart[n] = ne;
  hullStart[n] = nh;
  return { ne, nh, edgeCount, minBytes, minHarmAtMin };
}

/** Each hull edge's rate (harm saved per byte), in (group, step) order. */
function hullRates(n: number, effStart: Int32Array, effBytes: Float64Array, effHarm: Float64Array, hullStart: Int32Array, hullPt: Positions, rawRate: Float64Array): void {
  let m = 0;
  for (let g = 0; g < n; g++) {
    const e0 = effStart[g]!;
    for (let p = hullStart[g]!; p + 1 < hullStart[g + 1]!; p++) {
      const dBytes = effBytes[e0 + hullPt[p + 1]!]! - effBytes[e0 + hullPt[p]!]!;
      const dHarm = effHarm[e0 + hullPt[p]!]! - effHarm[e0 + hullPt[p + 1]!]!;
      rawRate[m++] = dHarm / dBytes;
    }
  }
}

/** The edge columns in rate order: raw edge r (hull order) is stored at `rank[r]`. */
function sortedEdges(rank: Int32Array, rawRate: Float64Array, n: number, effStart: Int32Array, effBytes: Float64Array, effHarm: Float64Array, hullStart: Int32Array, hullPt: Positions, out: Edges): void {
  const { edgeG, edgeK, edgeBytes, edgeHarm, edgeRate } = out;
  let r = 0;
  for (let g = 0; g < n; g++) {
    const e0 = effStart[g]!;
    for (let p = hullStart[g]!; p + 1 < hullStart[g + 1]!; p++) {
      const i = rank[r]!;
      edgeG[i] = g;
      edgeK[i] = p - hullStart[g]!;
      edgeBytes[i] = effBytes[e0 + hullPt[p + 1]!]! - effBytes[e0 + hullPt[p]!]!;
      edgeHarm[i] = effHarm[e0 + hullPt[p]!]! - effHarm[e0 + hullPt[p + 1]!]!;
      edgeRate[i] = rawRate[r]!;
      r++;
    }
  }
}

/**
 * Indices of `rates` ordered by rate descending, ties by index ascending. Hull edge rates are positive (harm falls
 * and bytes grow strictly along a hull), so their IEEE-754 bit patterns order like the numbers: a stable LSD radix
 * sort on the inverted bits (4 passes of 16 bits) gives that order without a comparator (1.3 million edges at
 * 200,000 layers: the comparator sort took ~0.6 s). Other values (zero, negative, NaN) take the comparator sort.
 */
export function sortByRateDescending(rates: Float64Array): Int32Array {
  return rateOrder(rates, false);
}

/** The inverse of {@link sortByRateDescending}: entry i is rate i's place in that order. */
export function rankByRateDescending(rates: Float64Array): Int32Array {
  return rateOrder(rates, true);
}

function rateOrder(rates: Float64Array, ranks: boolean): Int32Array {
  const n = rates.length;
  let perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let positive = true;
  for (let i = 0; i < n && positive; i++) positive = rates[i]! > 0;
  if (n < 2048 || !positive) {
    perm.sort((a, b) => rates[b]! - rates[a]! || a - b);
    if (!ranks) return perm;
    const rank = new Int32Array(n);
    for (let i = 0; i < n; i++) rank[perm[i]!] = i;
    return rank;
  }
  const words = new Uint32Array(rates.buffer, rates.byteOffset, 2 * n);
  // Little-endian: word 2i is the low half of rate i, 2i + 1 the high half (checked: 1.0 has bits only in the high word).
  const littleEndian = new Uint32Array(new Float64Array([1]).buffer)[1] === 0x3ff00000;
  const loOf = littleEndian ? 0 : 1;
  // The four passes' digit counts do not depend on the order: all are taken in one pass over the rates in place.
  const counts = digitCounts(words, loOf, n);
  let next = new Int32Array(n);
  for (let pass = 0; pass < 4; pass++) {
    const word = pass < 2 ? loOf : 1 - loOf;
    const shift = pass % 2 === 0 ? 0 : 16;
    const c = counts.subarray(pass * 65537, (pass + 1) * 65537);
    for (let d = 1; d <= 65536; d++) c[d]! += c[d - 1]!;
    // The last pass of a rank request stores each index's place instead of the index at its place.
    if (ranks && pass === 3) radixRanks(perm, next, words, word, shift, c);
    else radixPass(perm, next, words, word, shift, c);
    [perm, next] = [next, perm];
  }
  return perm;
}

/** Counts of each 16-bit digit of the inverted rate bits, for the four passes (65,537 entries each, shifted by one). */
function digitCounts(words: Uint32Array, loOf: number, n: number): Int32Array {
  const counts = new Int32Array(4 * 65537);
  const hiOf = 1 - loOf;
  for (let i = 0; i < n; i++) {
    const lo = ~words[2 * i + loOf]!;
    const hi = ~words[2 * i + hiOf]!;
    counts[(lo & 0xffff) + 1]!++;
    counts[65537 + ((lo >>> 16) & 0xffff) + 1]!++;
    counts[2 * 65537 + (hi & 0xffff) + 1]!++;
    counts[3 * 65537 + ((hi >>> 16) & 0xffff) + 1]!++;
  }
  return counts;
}

/** One stable pass: `perm`'s indices into `next` by the digit at `shift` of `word` (`counts`: bucket starts). */
function radixPass(perm: Int32Array, next: Int32Array, words: Uint32Array, word: number, shift: number, counts: Int32Array): void {
  for (let i = 0; i < perm.length; i++) {
    const r = perm[i]!;
    const d = ((~words[2 * r + word]!) >>> shift) & 0xffff;
    next[counts[d]!++] = r;
  }
}

/** {@link radixPass} storing each index's place: `ranks[r]` is where `r` goes. */
function radixRanks(perm: Int32Array, ranks: Int32Array, words: Uint32Array, word: number, shift: number, counts: Int32Array): void {
  for (let i = 0; i < perm.length; i++) {
    const r = perm[i]!;
    const d = ((~words[2 * r + word]!) >>> shift) & 0xffff;
    ranks[r] = counts[d]!++;
  }
}

/** {@link solveMultipleChoiceKnapsack} on a prepared problem. */
export function solvePreparedKnapsack(prepared: PreparedKnapsack, budgetBytes: number, options: KnapsackOptions = {}): KnapsackResult {
  const maxStates = options.maxStates ?? 2_000_000;
  const maxTotalStates = options.maxTotalStates ?? DEFAULT_MAX_TOTAL_STATES;
  const { groups: n, effStart, effIdx, effBytes, effHarm, minBytes, minHarmAtMin } = prepared;
  const pos = new Int32Array(n); // position within the group's efficient options
  const pack = (status: KnapsackResult['status'], lowerBound: number, freeGroups = 0, states = 0): KnapsackResult => {
    let bytes = 0;
    let harm = 0;
    const choice = new Array<number>(n);
    for (let g = 0; g < n; g++) {
      const e = effStart[g]! + pos[g]!;
      bytes += effBytes[e]!;
      harm += effHarm[e]!;
      choice[g] = effIdx[e]!;
    }
    const gap = status === 'optimal' ? 0 : Math.max(0, harm - lowerBound);
    return { status, choice, bytes, harm, lowerBound, gap, minBytes, freeGroups, states };
  };
  if (minBytes > budgetBytes) return pack('infeasible', minHarmAtMin);

  // 2. LP relaxation by the hull greedy. Each loop of the solve sits alone in a function of its own (here and in
  // belowThreshold): the function is then compiled once as a whole, instead of on the stack in its first call and
  // again each time the code after the loop first runs (a solve's first call took ~3× its later ones).
  const lp = lpRelaxation(prepared, budgetBytes, pos);
  if (lp.split < 0) return pack('optimal', lp.harm); // every group at its least harm: trivially optimal
  const lambda = prepared.edgeRate[lp.split]!;
  const lowerBound = lp.harm - lambda * (budgetBytes - lp.used);

  // Repair: spend the leftover bytes, best absolute harm saving first, until nothing fits.
  let left = budgetBytes - lp.used;
  for (let round = 0; round < 64 && left > 0; round++) {
    const best = bestRepair(prepared, pos, left);
    if (best < 0) break;
    const bestG = Math.floor(best / REPAIR_POSITIONS);
    const bestP = best - bestG * REPAIR_POSITIONS;
    left -= effBytes[effStart[bestG]! + bestP]! - effBytes[effStart[bestG]! + pos[bestG]!]!;
    pos[bestG] = bestP;
  }
  const ub = harmAt(prepared, pos);
  const tol = 1e-9 * Math.max(1, Math.abs(ub));
  if (ub - lowerBound <= tol) return pack('optimal', lowerBound);

  // 3–4. Reduction by reduced costs at λ*, then an exact DP over the groups left free, both against a threshold T:
  // they find the best solution with harm below T, or prove there is none. T = UB − tol is the classic method; the
  // repair's UB is often several times farther from LB than the optimum is (10,002-layer plan: UB − LB = 5.4e-5,
  // optimum − LB = 1.0e-5), and the free groups and DP states grow fast with T − LB. So smaller thresholds are tried
  // first (LB + 10 %, 20 %, 40 %, 70 % of UB − tol − LB, then all of it): the first that holds a solution gives the
  // optimum (every solution below T survives the reduction and the DP's bound, so the DP's least harm is the least
  // harm overall). That plan's DP went from 6,915,893 states to 1,138,889 over its attempts, and the comparison
  // solves at the baselines' sizes became proven optima within their state allowance.
  const cMin = new Float64Array(n);
  const lagrange = reducedCostMinima(prepared, lambda, cMin, -lambda * budgetBytes);
  // Each option's bound LB + reduced cost, once per solve; per group its two least (an attempt then only compares
  // them with its threshold: one option below it fixes the group, two or more leave it free, none ends the attempt).
  const scratch = dpScratch(prepared);
  optionBounds(prepared, lambda, lagrange, cMin, scratch);
  const full = ub - tol;
  let states = 0;
  let freeGroups = 0;
  let capped = false;
  for (const fraction of THRESHOLD_FRACTIONS) {
    // After a capped attempt only the last (the classic solve against the incumbent) is tried: never worse than it.
    if (capped && fraction < 1) continue;
    const threshold = fraction >= 1 ? full : lowerBound + (full - lowerBound) * fraction;
    const r = belowThreshold(prepared, lambda, budgetBytes, cMin, threshold, { maxStates, maxTotalStates }, states, scratch);
    states = r.states;
    freeGroups = r.freeGroups;
    if (r.kind === 'capped') {
      if (fraction >= 1) return pack('gap', lowerBound, freeGroups, states);
      capped = true;
      continue;
    }
    if (r.kind === 'found') {
      pos.set(scratch.pos);
      return pack('optimal', lowerBound, freeGroups, states);
    }
  }
  // Nothing beats the incumbent: it is optimal.
  return pack('optimal', lowerBound, freeGroups, states);
}

/**
 * The hull greedy: the sorted hull edges taken in order while they fit `budgetBytes`; `pos` gets each group's hull
 * point there. `split` is the first edge that does not fit (−1: all fit), `used` and `harm` those of the edges taken.
 */
function lpRelaxation(p: PreparedKnapsack, budgetBytes: number, pos: Int32Array): { used: number; harm: number; split: number } {
  const { groups: n, hullStart, hullPt, edgeG, edgeK, edgeBytes, edgeHarm } = p;
  const hullPos = new Int32Array(n);
  let used = p.minBytes;
  let harm = p.minHarmAtMin;
  let split = -1;
  for (let i = 0; i < edgeG.length; i++) {
    if (used + edgeBytes[i]! > budgetBytes) {
      split = i;
      break;
    }
    used += edgeBytes[i]!;
    harm -= edgeHarm[i]!;
    hullPos[edgeG[i]!] = edgeK[i]! + 1;
  }
  hullPositions(n, hullStart, hullPt, hullPos, pos);
  return { used, harm, split };
}

/** Each group's position of its hull point `hullPos[g]`. */
function hullPositions(n: number, hullStart: Int32Array, hullPt: Positions, hullPos: Int32Array, pos: Int32Array): void {
  for (let g = 0; g < n; g++) pos[g] = hullPt[hullStart[g]! + hullPos[g]!]!;
}

/** {@link bestRepair} packs a group and a position as group × this + position (positions are below it: Int32 or bytes). */
const REPAIR_POSITIONS = 2 ** 31;

/**
 * The repair's best step from `pos` within `left` bytes: the first group and position (in group, then position
 * order) with the largest harm saving, as group × {@link REPAIR_POSITIONS} + position; −1 when no step saves harm.
 */
function bestRepair(p: PreparedKnapsack, pos: Int32Array, left: number): number {
  const { groups: n, effStart, effBytes, effHarm } = p;
  let bestG = -1;
  let bestP = -1;
  let bestSave = 0;
  for (let g = 0; g < n; g++) {
    const e0 = effStart[g]!;
    const end = effStart[g + 1]! - e0;
    const q0 = pos[g]!;
    const pb = effBytes[e0 + q0]!;
    const ph = effHarm[e0 + q0]!;
    for (let q = q0 + 1; q < end && effBytes[e0 + q]! - pb <= left; q++) {
      const save = ph - effHarm[e0 + q]!;
      if (save > bestSave) {
        bestSave = save;
        bestG = g;
        bestP = q;
      }
    }
  }
  return bestG < 0 ? -1 : bestG * REPAIR_POSITIONS + bestP;
}

/** The harm of the solution `pos`, summed in group order. */
function harmAt(p: PreparedKnapsack, pos: Int32Array): number {
  const { groups: n, effStart, effHarm } = p;
  let harm = 0;
  for (let g = 0; g < n; g++) harm += effHarm[effStart[g]! + pos[g]!]!;
  return harm;
}

/** Per group min over its options of harm + λ·bytes into `cMin`; returns `start` plus their sum, added in group order. */
function reducedCostMinima(p: PreparedKnapsack, lambda: number, cMin: Float64Array, start: number): number {
  const { groups: n, effStart, effBytes, effHarm } = p;
  let sum = start;
  for (let g = 0; g < n; g++) {
    let c = Infinity;
    for (let e = effStart[g]!; e < effStart[g + 1]!; e++) c = Math.min(c, effHarm[e]! + lambda * effBytes[e]!);
    cMin[g] = c;
    sum += c;
  }
  return sum;
}

/** Each option's bound `lagrange` + its reduced cost into `scratch.optBound`, and per group the two least of them. */
function optionBounds(p: PreparedKnapsack, lambda: number, lagrange: number, cMin: Float64Array, scratch: DpScratch): void {
  const { groups: n, effStart, effBytes, effHarm } = p;
  const { optBound, least, second } = scratch;
  for (let g = 0; g < n; g++) {
    let m1 = Infinity;
    let m2 = Infinity;
    for (let e = effStart[g]!; e < effStart[g + 1]!; e++) {
      const b = lagrange + (effHarm[e]! + lambda * effBytes[e]! - cMin[g]!);
      optBound[e] = b;
      if (b < m1) {
        m2 = m1;
        m1 = b;
      } else if (b < m2) m2 = b;
    }
    least[g] = m1;
    second[g] = m2;
  }
}

/**
 * Fractions of UB − tol − LB tried as thresholds in turn (see {@link solvePreparedKnapsack}, steps 3–4); the last is
 * the incumbent itself, so the sequence always ends with a proof.
 */
const THRESHOLD_FRACTIONS = [0.1, 0.2, 0.4, 0.7, 1] as const;

/** Typed arrays of the DP, allocated once per prepared problem and reused by its solves, their attempts and stages. */
class DpScratch {
  /** Result positions (fixed groups' and the DP's picks). */
  readonly pos: Int32Array;
  /** Free groups and their kept options (positions within the group's efficient options), in columns. */
  readonly freeG: Int32Array;
  readonly freeStart: Int32Array;
  readonly freeOpt: Positions;
  /** Per option: LB + its reduced cost at λ*; per group: the least and second least of those. */
  readonly optBound: Float64Array;
  readonly least: Float64Array;
  readonly second: Float64Array;
  w = new Float64Array(1024);
  h = new Float64Array(1024);
  nw = new Float64Array(1024);
  nh = new Float64Array(1024);
  np = new Int32Array(1024);
  nq = new Int32Array(1024);
  /** Back-pointers of all stages: stage s's states are entries stageStart[s] … of parents/picks. */
  parents = new Int32Array(1 << 16);
  picks: Positions;
  head = new Int32Array(16);
  optBytes = new Float64Array(16);
  optHarm = new Float64Array(16);
  constructor(groups: number, options: number, narrow: boolean) {
    this.pos = new Int32Array(groups);
    this.freeG = new Int32Array(groups);
    this.freeStart = new Int32Array(groups + 1);
    this.freeOpt = positions(narrow, options);
    this.picks = positions(narrow, 1 << 16);
    this.optBound = new Float64Array(options);
    this.least = new Float64Array(groups);
    this.second = new Float64Array(groups);
  }
}

/**
 * The scratch of a prepared problem, shared by its solves (the plan's and those at the baselines' sizes): every
 * column is written before it is read, so a solve finds nothing of the previous one, and the back-pointer columns
 * grown by one solve serve the next. A scratch per solve was ~25 MB of new typed arrays each at 200,000 layers, and
 * each ~64 MB of them cost a full garbage collection of the whole heap.
 */
function dpScratch(prepared: PreparedKnapsack): DpScratch {
  let s = scratchMemo.get(prepared);
  if (!s) {
    s = new DpScratch(prepared.groups, prepared.effBytes.length, prepared.effIdx instanceof Uint8Array);
    scratchMemo.set(prepared, s);
  }
  return s;
}
const scratchMemo = new WeakMap<PreparedKnapsack, DpScratch>();

type BelowThreshold = { readonly kind: 'found' | 'none' | 'capped'; readonly states: number; readonly freeGroups: number };

/**
 * The least-harm solution with harm below `threshold` (kind 'found', positions in `scratch.pos`), or proof that
 * there is none ('none'), or 'capped' when the DP outgrew `limits` (each attempt has the whole allowance, so the
 * last attempt does what a single solve against the incumbent would). `states` adds to `statesBefore`.
 */
function belowThreshold(p: PreparedKnapsack, lambda: number, budgetBytes: number, cMin: Float64Array, threshold: number, limits: { maxStates: number; maxTotalStates: number }, statesBefore: number, scratch: DpScratch): BelowThreshold {
  // An option can be in a solution below the threshold only if its bound is below it.
  const fixed = fixGroups(p, threshold, scratch);
  if (!fixed) return { kind: 'none', states: statesBefore, freeGroups: 0 }; // a group has no option that can be
  const freeGroups = fixed.free;
  const cap = budgetBytes - fixed.bytes;
  if (cap < 0) return { kind: 'none', states: statesBefore, freeGroups };

  // Exact DP with Pareto lists over the free groups.
  // Bound for a partial state (w, h) after stage s: fixedHarm + λ·fixedBytes + h + λ·w + Σ_{rest} cMin − λ·budget.
  const restC = new Float64Array(freeGroups + 1);
  const restMinBytes = new Float64Array(freeGroups + 1);
  restBounds(p, cMin, scratch, freeGroups, restC, restMinBytes);
  const base = fixed.harm + lambda * fixed.bytes - lambda * budgetBytes;
  const stageStart = new Int32Array(freeGroups + 1);
  const dp = dpStages({ p, scratch, free: freeGroups, cap, base, lambda, threshold, restC, restMinBytes, stageStart, limits, states: statesBefore + 1 });
  if (dp.kind !== 'done') return { kind: dp.kind, states: dp.states, freeGroups };
  // Best final state = least harm (Pareto list: the last one).
  const bi = dp.len - 1;
  if (!(fixed.harm + scratch.h[bi]! < threshold)) return { kind: 'none', states: dp.states, freeGroups };
  backtrack(scratch, freeGroups, stageStart, bi);
  return { kind: 'found', states: dp.states, freeGroups };
}

/**
 * The reduction against `threshold`: a group with one option whose bound is below it is fixed to that option
 * (`scratch.pos`); a group with two or more is free (`scratch.freeG`, its options in `freeStart`/`freeOpt`).
 * Undefined when a group has none. Returns the free groups' count and the fixed groups' bytes and harm.
 */
function fixGroups(p: PreparedKnapsack, threshold: number, scratch: DpScratch): { free: number; bytes: number; harm: number } | undefined {
  const { groups: n, effStart, effBytes, effHarm } = p;
  const { pos, freeG, freeStart, freeOpt, optBound, least, second } = scratch;
  let nFree = 0;
  let nOpt = 0;
  let fixedBytes = 0;
  let fixedHarm = 0;
  for (let g = 0; g < n; g++) {
    if (!(least[g]! < threshold)) return undefined;
    const e0 = effStart[g]!;
    if (!(second[g]! < threshold)) {
      let e = e0;
      while (!(optBound[e]! < threshold)) e++;
      pos[g] = e - e0;
      fixedBytes += effBytes[e]!;
      fixedHarm += effHarm[e]!;
      continue;
    }
    freeG[nFree] = g;
    freeStart[nFree] = nOpt;
    nFree++;
    for (let e = e0; e < effStart[g + 1]!; e++) if (optBound[e]! < threshold) freeOpt[nOpt++] = e - e0;
  }
  freeStart[nFree] = nOpt;
  return { free: nFree, bytes: fixedBytes, harm: fixedHarm };
}

/** For the DP after stage s: Σ cMin and Σ of the fewest bytes of the free groups after s (`restC[s + 1]`, `restMinBytes[s + 1]`). */
function restBounds(p: PreparedKnapsack, cMin: Float64Array, scratch: DpScratch, nFree: number, restC: Float64Array, restMinBytes: Float64Array): void {
  const { effStart, effBytes } = p;
  const { freeG, freeStart, freeOpt } = scratch;
  for (let s = nFree - 1; s >= 0; s--) {
    const g = freeG[s]!;
    restC[s] = restC[s + 1]! + cMin[g]!;
    let mb = Infinity;
    for (let o = freeStart[s]!; o < freeStart[s + 1]!; o++) mb = Math.min(mb, effBytes[effStart[g]! + freeOpt[o]!]!);
    restMinBytes[s] = restMinBytes[s + 1]! + mb;
  }
}

/** What {@link dpStages} works on: the reduction's free groups in `scratch`, the bounds, the limits and the states so far. */
interface DpInput {
  readonly p: PreparedKnapsack;
  readonly scratch: DpScratch;
  readonly free: number;
  readonly cap: number;
  readonly base: number;
  readonly lambda: number;
  readonly threshold: number;
  readonly restC: Float64Array;
  readonly restMinBytes: Float64Array;
  readonly stageStart: Int32Array;
  readonly limits: { readonly maxStates: number; readonly maxTotalStates: number };
  /** States counted before the stages (the attempts before, and this attempt's empty start state). */
  readonly states: number;
}

/**
 * The DP's stages, one per free group: each turns the Pareto list of states (bytes, harm) into the next
 * ({@link dpStage}) and appends its back-pointers (stage s's at `stageStart[s]` of `scratch.parents`/`picks`).
 * 'done' leaves the final list in `scratch.w`/`scratch.h` (`len` states); 'none' when a stage keeps no state,
 * 'capped' when the states outgrow the limits. A call per stage: a call is optimized after a few stages, where one
 * loop over the stages ran in the interpreter until on-stack replacement.
 */
function dpStages(input: DpInput): { kind: 'done' | 'none' | 'capped'; states: number; len: number } {
  const { scratch } = input;
  const run: DpRun = {
    w: scratch.w, h: scratch.h, nw: scratch.nw, nh: scratch.nh, np: scratch.np, nq: scratch.nq, parents: scratch.parents, picks: scratch.picks,
    head: scratch.head, optBytes: scratch.optBytes, optHarm: scratch.optHarm, len: 1, kept: 0, states: input.states,
  };
  // The empty start state: 0 bytes, 0 harm.
  run.w[0] = 0;
  run.h[0] = 0;
  let kind: 'done' | 'none' | 'capped' = 'done';
  for (let s = 0; s < input.free && kind === 'done'; s++) kind = dpStage(input, run, s);
  const { w, h, nw, nh, np, nq, parents, picks, head, optBytes, optHarm } = run;
  Object.assign(scratch, { w, h, nw, nh, np, nq, parents, picks, head, optBytes, optHarm });
  return { kind, states: run.states, len: run.len };
}

/** The DP's lists (the scratch's, swapped and grown by the stages), live states, back-pointers used and states made. */
interface DpRun {
  w: Float64Array;
  h: Float64Array;
  nw: Float64Array;
  nh: Float64Array;
  np: Int32Array;
  nq: Int32Array;
  parents: Int32Array;
  picks: Positions;
  head: Int32Array;
  optBytes: Float64Array;
  optHarm: Float64Array;
  len: number;
  kept: number;
  states: number;
}

/** Stage `s` of {@link dpStages}: 'done' when it kept states (now the current list), else 'none' or 'capped'. */
function dpStage(input: DpInput, run: DpRun, s: number): 'done' | 'none' | 'capped' {
  const { p, scratch, cap, base, lambda, threshold, restC, restMinBytes, stageStart } = input;
  const { maxStates, maxTotalStates } = input.limits;
  const { freeG, freeStart, freeOpt } = scratch;
  const statesBefore = input.states - 1;
  const e0 = p.effStart[freeG[s]!]!;
  const o0 = freeStart[s]!;
  const k = freeStart[s + 1]! - o0;
  const len = run.len;
  const m = len * k;
  if (m > maxStates * 4 || run.states - statesBefore + m > maxTotalStates * 4) return 'capped';
  // At most `len` successors survive the dominance test (one per distinct harm level below the last), but a
  // stage can have up to m candidates before it; the output lists hold at most m.
  if (run.nw.length < m) {
    run.nw = new Float64Array(Math.max(m, 2 * run.nw.length));
    run.nh = new Float64Array(run.nw.length);
  }
  if (run.np.length < m) {
    run.np = new Int32Array(Math.max(m, 2 * run.np.length));
    run.nq = new Int32Array(run.np.length);
  }
  if (run.head.length < k) {
    run.head = new Int32Array(2 * k);
    run.optBytes = new Float64Array(2 * k);
    run.optHarm = new Float64Array(2 * k);
  }
  const { w, h, nw, nh, np, nq, head, optBytes, optHarm } = run;
  const { effBytes, effHarm } = p;
  for (let j = 0; j < k; j++) {
    head[j] = 0;
    optBytes[j] = effBytes[e0 + freeOpt[o0 + j]!]!;
    optHarm[j] = effHarm[e0 + freeOpt[o0 + j]!]!;
  }
  const c = k === 2
    ? mergeTwo(w, h, len, optBytes[0]!, optHarm[0]!, optBytes[1]!, optHarm[1]!, cap - restMinBytes[s + 1]!, base, lambda, restC[s + 1]!, threshold, nw, nh, np, nq, freeOpt[o0]!, freeOpt[o0 + 1]!)
    : mergeStage(w, h, len, k, optBytes, optHarm, head, cap - restMinBytes[s + 1]!, base, lambda, restC[s + 1]!, threshold, nw, nh, np, nq, freeOpt, o0);
  if (c === 0) return 'none'; // nothing gets below the threshold
  run.states += c;
  if (c > maxStates || run.states - statesBefore > maxTotalStates) return 'capped';
  // The new states become the current ones (swap the scratch pairs); back-pointers are appended.
  run.w = nw;
  run.nw = w;
  run.h = nh;
  run.nh = h;
  run.len = c;
  const kept = run.kept;
  if (run.parents.length < kept + c) {
    const size = Math.max(kept + c, 2 * run.parents.length);
    const grownParents = new Int32Array(size);
    grownParents.set(run.parents.subarray(0, kept));
    run.parents = grownParents;
    const grownPicks = positions(run.picks instanceof Uint8Array, size);
    grownPicks.set(run.picks.subarray(0, kept));
    run.picks = grownPicks;
  }
  run.parents.set(np.subarray(0, c), kept);
  run.picks.set(nq.subarray(0, c), kept);
  stageStart[s] = kept;
  run.kept = kept + c;
  return 'done';
}

/**
 * One DP stage: the successors of the `len` states (w, h) — a Pareto list, bytes ascending and harm descending —
 * by the stage's `k` options, that fit `capHere` and whose bound can get below `threshold`, as the next Pareto
 * list in (nw, nh) with their parent state (np) and option (nq). Returns their count.
 * The previous states are a Pareto list, so each option's successors are already sorted by bytes: a k-way merge
 * (k ≤ formats + 1) replaces a general sort of all m candidates. Ties break as a stable sort of the candidates in
 * (state, option) order would, so results do not change. Exported for its test only (test/unit/knapsackMerge.test.ts).
 */
export function mergeStage(w: Float64Array, h: Float64Array, len: number, k: number, optBytes: Float64Array, optHarm: Float64Array, head: Int32Array, capHere: number, base: number, lambda: number, restCNext: number, threshold: number,
  nw: Float64Array, nh: Float64Array, np: Int32Array, nq: Int32Array, freeOpt: Positions, o0: number): number {
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
    if (base + bh + lambda * bw + restCNext >= threshold) continue; // cannot get below the threshold
    if (bh < best) {
      best = bh;
      nw[c] = bw;
      nh[c] = bh;
      np[c] = i;
      nq[c] = freeOpt[o0 + bj]!;
      c++;
    }
  }
  return c;
}

/**
 * {@link mergeStage} of a stage with two options (most stages: the reduction leaves a free group two options), as
 * a merge of two lists: option 0's successor (b0, h0) and option 1's (b1, h1) of the states at i0 and i1. The same
 * successors in the same order (bytes, then harm, then state, then option), so the same states. Exported for its
 * test only.
 */
export function mergeTwo(w: Float64Array, h: Float64Array, len: number, b0: number, h0: number, b1: number, h1: number, capHere: number, base: number, lambda: number, restCNext: number, threshold: number,
  nw: Float64Array, nh: Float64Array, np: Int32Array, nq: Int32Array, q0: number, q1: number): number {
  // A list ends at its first successor over capHere (bytes only grow along it).
  let end0 = len;
  let end1 = len;
  let i0 = 0;
  let i1 = 0;
  let c = 0;
  let best = Infinity;
  for (;;) {
    let cw0 = 0;
    let ch0 = 0;
    if (i0 < end0) {
      cw0 = w[i0]! + b0;
      if (cw0 > capHere) end0 = i0;
      else ch0 = h[i0]! + h0;
    }
    let cw1 = 0;
    let ch1 = 0;
    if (i1 < end1) {
      cw1 = w[i1]! + b1;
      if (cw1 > capHere) end1 = i1;
      else ch1 = h[i1]! + h1;
    }
    const has0 = i0 < end0;
    const has1 = i1 < end1;
    let bw: number;
    let bh: number;
    let i: number;
    let q: number;
    if (has0 && !(has1 && (cw1 < cw0 || (cw1 === cw0 && (ch1 < ch0 || (ch1 === ch0 && i1 < i0)))))) {
      bw = cw0;
      bh = ch0;
      i = i0++;
      q = q0;
    } else if (has1) {
      bw = cw1;
      bh = ch1;
      i = i1++;
      q = q1;
    } else break;
    if (base + bh + lambda * bw + restCNext >= threshold) continue; // cannot get below the threshold
    if (bh < best) {
      best = bh;
      nw[c] = bw;
      nh[c] = bh;
      np[c] = i;
      nq[c] = q;
      c++;
    }
  }
  return c;
}

/** The DP's picks into `scratch.pos`, from final state `last` back through the stages' back-pointers. */
function backtrack(scratch: DpScratch, nFree: number, stageStart: Int32Array, last: number): void {
  const { pos, freeG, parents, picks } = scratch;
  let bi = last;
  for (let s = nFree - 1; s >= 0; s--) {
    pos[freeG[s]!] = picks[stageStart[s]! + bi]!;
    bi = parents[stageStart[s]! + bi]!;
  }
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
export function knapsackFrontier(groups: readonly (readonly KnapsackOption[])[] | KnapsackColumns, maxPoints = 200): FrontierPoint[] {
  return preparedFrontier(prepareKnapsack(groups), maxPoints);
}

/** {@link knapsackFrontier} of a prepared problem. */
export function preparedFrontier(prepared: PreparedKnapsack, maxPoints = 200): FrontierPoint[] {
  // Point i is the minimum plus the first i edges, summed in edge order. The points are walked twice (the last one's
  // bytes set the levels) instead of kept: 1.3 million points of a 200,000-layer plan were 21 MB of columns.
  const { edgeBytes, edgeHarm } = prepared;
  const count = edgeBytes.length + 1;
  const points: FrontierPoint[] = [];
  let bytes = prepared.minBytes;
  let harm = prepared.minHarmAtMin;
  if (count <= maxPoints) {
    points.push({ bytes, harm });
    for (let i = 1; i < count; i++) {
      bytes += edgeBytes[i - 1]!;
      harm -= edgeHarm[i - 1]!;
      points.push({ bytes, harm });
    }
    return points;
  }
  let last = bytes;
  for (let i = 1; i < count; i++) last += edgeBytes[i - 1]!;
  const lo = bytes;
  const span = last - lo;
  // Walk: j is the current point; next is point j + 1's bytes (computed as the sum goes).
  let j = 0;
  let pickedLast = -1;
  for (let k = 0; k < maxPoints; k++) {
    const level = lo + (span * k) / (maxPoints - 1);
    while (j + 1 < count && bytes + edgeBytes[j]! <= level) {
      bytes += edgeBytes[j]!;
      harm -= edgeHarm[j]!;
      j++;
    }
    if (pickedLast !== j) {
      points.push({ bytes, harm });
      pickedLast = j;
    }
  }
  if (pickedLast !== count - 1) {
    while (j + 1 < count) {
      bytes += edgeBytes[j]!;
      harm -= edgeHarm[j]!;
      j++;
    }
    points.push({ bytes, harm });
  }
  return points;
}
