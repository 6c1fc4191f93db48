/**
 * Model-kind-aware figures for `estimate` and `plan`: a generative decoder is described by context, KV cache and
 * tokens per second; every other model (CNN, detector, VAD, encoder) by latency and throughput per inference at
 * the chosen batch. Unknown parts print as "unknown" and make the total a lower bound ("≥"); speeds that need a
 * rate the target does not publish print "not published"; a fixed runtime overhead that dwarfs a
 * small model is explained. Numbers go through the shared formatter (core/format/numbers.ts).
 */
import { formatBytes, formatLatencyBound, formatRate, formatRateBound, type Estimate, type Target } from '../core';

/** A decoder exported without past-key-value inputs: generative, but with no cache to size. */
export function hasNoCache(e: Estimate): boolean {
  return e.generative && e.kvCacheBytes === 0 && e.kvBytesPerToken === 0;
}

/** `batch 1 · context 4096 · KV fp16` for a decoder, `batch 4 · one inference per batch` otherwise. */
export function runDescription(e: Estimate): string {
  if (!e.generative) return `batch ${e.batch} · one inference per batch (not a generative decoder: no context, KV cache or tokens)`;
  return `batch ${e.batch} · context ${e.context} · ${hasNoCache(e) ? 'no KV cache (the export has no past-key-value inputs)' : `KV ${e.kvFormat}`}`;
}

/** The KV cache cell of a decoder: its bytes, or "none" for an export without a cache. */
export function kvCacheCell(e: Estimate): string {
  return hasNoCache(e) ? 'none (no cache inputs)' : formatBytes(e.kvCacheBytes);
}

/** Activation bytes, or "unknown" when they were not estimated (and "≥" when some values were left out). */
export function activationsCell(e: Estimate): string {
  if (e.unknownParts.includes('activations')) return 'unknown';
  return `${e.totalIsLowerBound ? '≥ ' : ''}${formatBytes(e.activationBytes)}`;
}

/** The memory total, "≥" when it is a lower bound. */
export function totalCell(e: Estimate): string {
  return `${e.totalIsLowerBound ? '≥ ' : ''}${formatBytes(e.totalBytes)}`;
}

/**
 * A compute-bound figure needs the rate of every type the layers run as. When the target does not publish one, the
 * figure is "not published" rather than a guess (a roofline without that compute would read faster than a
 * device that does publish it). Decode of a decoder keeps its memory-bound cap, "≤ N (bandwidth)", which holds
 * whatever the compute rate is.
 */
function notPublished(e: Estimate): string | undefined {
  return e.unpublishedRates.length > 0 ? `not published (${e.unpublishedRates.join(', ')} rate)` : undefined;
}

/** Speed rows of the estimate table, by model kind. */
export function speedRows(e: Estimate): readonly (readonly [string, string])[] {
  const unknown = notPublished(e);
  if (e.generative) {
    return [
      ['decode tok/s', unknown ? `≤ ${formatRate(e.decodeTokensPerSecond)} (bandwidth)` : `${formatRate(e.decodeTokensPerSecond)} (${e.decodeBound})`],
      ['prefill tok/s', unknown ?? formatRate(e.prefillTokensPerSecond)],
    ];
  }
  // Rooflines bound the speed: latency from below, throughput from above.
  return [
    [`latency (batch ${e.batch}, roofline bound)`, unknown ?? formatLatencyBound(e.inferenceSeconds)],
    ['samples/s (roofline bound)', unknown ?? formatRateBound(e.prefillTokensPerSecond)],
  ];
}

/** One-line speed summary for `plan`: `decode 4.07M tok/s` or `latency ≥ 12.3 µs per inference (batch 1, roofline bound) · ≤ 81.3k samples/s`. */
export function speedSummary(e: Estimate): string {
  const unknown = notPublished(e);
  if (e.generative) return unknown ? `decode ≤ ${formatRate(e.decodeTokensPerSecond, 'tok/s')} (bandwidth; compute ${unknown})` : `decode ${formatRate(e.decodeTokensPerSecond, 'tok/s')}`;
  return unknown ? `speed ${unknown}` : `latency ${formatLatencyBound(e.inferenceSeconds)} per inference (batch ${e.batch}, roofline bound) · ${formatRateBound(e.prefillTokensPerSecond, 'samples/s')}`;
}

/** A fixed overhead this many times the model's own memory needs explaining. */
const OVERHEAD_EXPLAIN_RATIO = 4;

/**
 * Notes that make the figures of `e` make sense: what a dominant overhead is (and that it is fixed), and which
 * parts are unknown (rates that are not published come with core's warning).
 */
export function figureNotes(e: Estimate, target: Target | undefined): string[] {
  const notes: string[] = [];
  const payload = e.weightBytes + e.activationBytes + e.kvCacheBytes;
  if (target && e.overheadBytes > OVERHEAD_EXPLAIN_RATIO * payload && target.overhead.bytes > 0) {
    notes.push(`${e.target}: the ${formatBytes(e.overheadBytes)} overhead is a fixed reservation of the runtime and system, not part of the model (${target.overhead.note.replace(/\.$/, '')}); it is the same for any model, so it dwarfs one of ${formatBytes(payload)}.`);
  }
  if (e.unknownParts.length > 0) {
    notes.push(`${e.target}: ${e.unknownParts.join(' and ')} not estimated (shown as unknown), so the total is a lower bound.`);
  } else if (e.totalIsLowerBound) {
    notes.push(`${e.target}: some activation values have unknown shapes and are left out, so activations and the total are lower bounds.`);
  }
  return notes;
}
