/**
 * Next-token metrics of a language model against a reference (the original model), computed the way llama.cpp's
 * `llama-perplexity --kl-divergence` does (tools/perplexity/perplexity.cpp), from probability vectors instead of
 * logits:
 *
 * - perplexity = exp(−mean ln q(t)) over the scored positions, where t is the text's actual next token;
 * - KL divergence = mean over positions of KL(P ‖ Q) = Σᵢ pᵢ (ln pᵢ − ln qᵢ) in nats, P the reference's next-token
 *   distribution, Q the candidate's; also its maximum and the 99th percentile;
 * - top-1 agreement = share of positions where argmax P = argmax Q (llama.cpp's "Same top p").
 *
 * Full distributions give the exact KL. When only the reference's `k` most likely tokens are kept (large
 * vocabularies × many positions exceed the memory bound), the remaining mass of each side is merged into one
 * "other" bucket: by the data-processing inequality that coarse-grained KL is a **lower bound** of the exact one,
 * and it is exact when the tail carries no mass. The result says which (`klBound`).
 *
 * Probabilities arrive as float32 softmax outputs, so a token with pᵢ > 0 may have qᵢ = 0 after underflow; such
 * qᵢ are clamped to {@link MIN_PROBABILITY} (ln ≈ −87), which caps that term instead of making KL infinite.
 * Non-finite probabilities are counted (`nonFinitePositions`) and those positions are left out of every mean.
 */

/** Smallest probability used inside a logarithm (float32's smallest normal number). */
export const MIN_PROBABILITY = 1.1754943508222875e-38;

/** A reference next-token distribution: the full vector, or its top-k tokens and the mass outside them. */
export type ReferenceDistribution =
  | { readonly kind: 'full'; readonly probs: Float32Array }
  | { readonly kind: 'topk'; readonly tokens: Int32Array; readonly probs: Float32Array; readonly tailMass: number };

/** Mean next-token metrics of a candidate against a reference. */
export interface NextTokenComparison {
  /** Positions scored (finite on both sides). */
  readonly positions: number;
  /** Perplexity of the candidate on the text. */
  readonly perplexity: number;
  /** Perplexity of the reference on the same positions. */
  readonly referencePerplexity: number;
  /** Mean KL(reference ‖ candidate), nats. */
  readonly klDivergence: number;
  /** Standard error of the mean KL over positions (σ/√n, positions treated as independent), nats. */
  readonly klStdErr: number;
  /** Largest per-position KL, nats. */
  readonly klMax: number;
  /** 99th percentile of the per-position KL, nats. */
  readonly klP99: number;
  /** Share of positions whose most likely token is the same. */
  readonly top1Agreement: number;
  /** 'exact' from full distributions; 'lower-bound' from the reference's top-k tokens (see module comment). */
  readonly klBound: 'exact' | 'lower-bound';
  /** Tokens of the reference kept per position when `klBound` is 'lower-bound'. */
  readonly topK?: number;
  /** Positions left out because a probability was NaN or infinite. */
  readonly nonFinitePositions: number;
}

/** True when every value is finite. */
export function allFinite(probs: Float32Array): boolean {
  for (let i = 0; i < probs.length; i++) if (!Number.isFinite(probs[i]!)) return false;
  return true;
}

/** Index of the largest value (first on ties; −1 when empty). */
export function argmax(probs: ArrayLike<number>): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! > bestValue) {
      bestValue = probs[i]!;
      best = i;
    }
  }
  return best;
}

/** Exact KL(p ‖ q) in nats over two probability vectors of one vocabulary. */
export function klDivergenceFull(p: Float32Array, q: Float32Array): number {
  let kl = 0;
  const n = Math.min(p.length, q.length);
  for (let i = 0; i < n; i++) {
    const pi = p[i]!;
    if (pi <= 0) continue;
    kl += pi * (Math.log(pi) - Math.log(Math.max(q[i]!, MIN_PROBABILITY)));
  }
  return Math.max(0, kl);
}

/** The reference's `k` most likely tokens and the mass outside them. */
export function topKDistribution(probs: Float32Array, k: number): ReferenceDistribution {
  const n = Math.min(k, probs.length);
  const order = Array.from({ length: probs.length }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b).slice(0, n);
  const tokens = Int32Array.from(order);
  const kept = Float32Array.from(order, (i) => probs[i]!);
  let mass = 0;
  for (const v of kept) mass += v;
  return { kind: 'topk', tokens, probs: kept, tailMass: Math.max(0, 1 - mass) };
}

/** KL of the coarse-grained distributions (top-k tokens + one bucket for the rest): a lower bound of the exact KL. */
export function klDivergenceTopK(ref: Extract<ReferenceDistribution, { kind: 'topk' }>, q: Float32Array): number {
  let kl = 0;
  let qKept = 0;
  for (let j = 0; j < ref.tokens.length; j++) {
    const pi = ref.probs[j]!;
    const qi = q[ref.tokens[j]!] ?? 0;
    qKept += qi;
    if (pi > 0) kl += pi * (Math.log(pi) - Math.log(Math.max(qi, MIN_PROBABILITY)));
  }
  const pTail = ref.tailMass;
  if (pTail > 0) kl += pTail * (Math.log(pTail) - Math.log(Math.max(1 - qKept, MIN_PROBABILITY)));
  return Math.max(0, kl);
}

/** Accumulates per-position comparisons; {@link NextTokenAccumulator.result} gives the means. */
export class NextTokenAccumulator {
  private readonly kls: number[] = [];
  private logQ = 0;
  private logP = 0;
  private same = 0;
  private nonFinite = 0;
  private topK: number | undefined;

  /**
   * Adds one position: the reference distribution, its argmax and the probability it gave the actual next
   * token, and the candidate's full distribution.
   */
  add(ref: ReferenceDistribution, refTop1: number, refActualProb: number, candidate: Float32Array, actualNext: number): void {
    if (!allFinite(candidate) || !Number.isFinite(refActualProb)) {
      this.nonFinite++;
      return;
    }
    const kl = ref.kind === 'full' ? klDivergenceFull(ref.probs, candidate) : klDivergenceTopK(ref, candidate);
    if (ref.kind === 'topk') this.topK = ref.tokens.length;
    this.kls.push(kl);
    this.logQ += Math.log(Math.max(candidate[actualNext] ?? 0, MIN_PROBABILITY));
    this.logP += Math.log(Math.max(refActualProb, MIN_PROBABILITY));
    if (argmax(candidate) === refTop1) this.same++;
  }

  /** Positions counted so far (finite). */
  get positions(): number {
    return this.kls.length;
  }

  /** Means over the positions added (NaN metrics when none were finite). */
  result(): NextTokenComparison {
    const n = this.kls.length;
    const sorted = [...this.kls].sort((a, b) => a - b);
    const mean = n ? this.kls.reduce((a, b) => a + b, 0) / n : NaN;
    const variance = n > 1 ? this.kls.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
    return {
      positions: n,
      perplexity: n ? Math.exp(-this.logQ / n) : NaN,
      referencePerplexity: n ? Math.exp(-this.logP / n) : NaN,
      klDivergence: mean,
      klStdErr: n ? Math.sqrt(variance / n) : NaN,
      klMax: n ? sorted[n - 1]! : NaN,
      klP99: n ? sorted[Math.min(n - 1, Math.floor(0.99 * n))]! : NaN,
      top1Agreement: n ? this.same / n : NaN,
      klBound: this.topK === undefined ? 'exact' : 'lower-bound',
      ...(this.topK !== undefined ? { topK: this.topK } : {}),
      nonFinitePositions: this.nonFinite,
    };
  }
}
