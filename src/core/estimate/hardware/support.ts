/**
 * Which number formats a target runs natively, what it runs the rest as, and at what rate. Pure functions of
 * the format table (../numberFormats.ts) and the catalog (./catalog.ts).
 */
import { COMPUTE_FALLBACKS, COMPUTE_TYPE_BITS, COMPUTE_TYPES, type ComputeType, type NumberFormat } from '../../precision/numberFormats';
import type { Target } from './catalog';

/** How a target handles one format. */
export interface FormatSupport {
  /** True when the format runs as itself: a compute format the matrix units have, or any weight-only format. */
  readonly native: boolean;
  /** The compute type the layer's math actually runs at on this target. */
  readonly runsAs: ComputeType;
  /** True for a compute format the target lacks (the layer is listed in `unsupportedFormats`). */
  readonly flagged: boolean;
}

/**
 * Weight-only formats are dequantized by kernels to a 16-bit type: the one the format names if the target has it,
 * else the other 16-bit type, else FP32 (e.g. on a TPU, FP16-dequantized formats run as BF16).
 */
const DEQUANT_TARGETS: readonly ComputeType[] = ['bf16', 'fp16', 'fp32'];

/** How `target` runs `format` (see {@link FormatSupport}). */
export function formatSupport(format: NumberFormat, target: Target): FormatSupport {
  const has = (t: ComputeType): boolean => target.native.includes(t);
  if (format.mode === 'weight-only') {
    const runsAs = [format.computeAs, ...DEQUANT_TARGETS].find(has) ?? 'fp32';
    return { native: true, runsAs, flagged: false };
  }
  if (has(format.computeAs)) return { native: true, runsAs: format.computeAs, flagged: false };
  // Same-width re-encodings first (OCP FP8 → FNUZ on MI300X, as vLLM does), then the format's own fallback
  // (usually dequantizing to FP16), then the general chain.
  const chain = COMPUTE_FALLBACKS[format.computeAs];
  const sameWidth = chain.filter((t) => COMPUTE_TYPE_BITS[t] === COMPUTE_TYPE_BITS[format.computeAs]);
  const candidates = [...sameWidth, format.fallbackCompute, ...chain, ...COMPUTE_FALLBACKS[format.fallbackCompute]];
  return { native: false, runsAs: candidates.find(has) ?? 'fp32', flagged: true };
}

/** Ids of the targets that run `format` natively (for the formats table). */
export function nativeTargetIds(format: NumberFormat, targets: readonly Target[]): string[] {
  return targets.filter((t) => format.mode === 'weight-only' || t.native.includes(format.computeAs)).map((t) => t.id);
}

/** A dense peak rate, and the published type it was derived from when the target publishes none for this type. */
export interface ComputeRate {
  readonly opsPerSecond: number;
  readonly derivedFrom: ComputeType | undefined;
}

/** Types whose rate equals another's on every catalog device when only one is published. */
const SAME_RATE: Readonly<Partial<Record<ComputeType, readonly ComputeType[]>>> = {
  fp16: ['bf16'],
  bf16: ['fp16'],
  tf32: ['fp32'],
  fp8: ['fp8_fnuz', 'int8'],
  fp8_fnuz: ['fp8', 'int8'],
  mxfp8: ['fp8', 'fp8_fnuz'],
  fp6: ['mxfp6', 'fp8'],
  mxfp6: ['fp6', 'fp8'],
  mxfp4: ['nvfp4'],
  nvfp4: ['mxfp4'],
};

/**
 * Dense peak rate of `type` on `target`. When the target publishes no figure for it, the rate is taken from a
 * same-rate sibling (FP16↔BF16, TF32←FP32, FP8 encodings), else from a published rate of a *wider* type at that
 * same rate (INT4 from INT8 on a phone NPU): a guess never higher than the related published figure.
 * A rate of a wider type than any published one is not guessed: it returns 0 ("not published"). Scaling a
 * narrower rate down by operand width made FP32 on Ascend 910C (BF16 800 TFLOPS → "400") 6× faster than the
 * published FP32 of an H100 (67), while FP32 on matrix units is typically 1/8–1/16 of BF16 when it exists at all.
 * Callers report `derivedFrom` as an assumption and a 0 rate as "not published".
 */
export function computeRate(target: Target, type: ComputeType): ComputeRate {
  const tp = target.throughput;
  const own = tp[type];
  if (own !== undefined && own > 0) return { opsPerSecond: own, derivedFrom: undefined };
  for (const s of SAME_RATE[type] ?? []) {
    const r = tp[s];
    if (r !== undefined && r > 0) return { opsPerSecond: r, derivedFrom: s };
  }
  // The narrowest published type at least as wide as `type`: the closest related figure, taken at its own rate.
  const wider = COMPUTE_TYPES.filter((s) => COMPUTE_TYPE_BITS[s] >= COMPUTE_TYPE_BITS[type] && (tp[s] ?? 0) > 0)
    .sort((a, b) => COMPUTE_TYPE_BITS[a] - COMPUTE_TYPE_BITS[b]);
  if (wider.length > 0) return { opsPerSecond: tp[wider[0]!]!, derivedFrom: wider[0] };
  return { opsPerSecond: 0, derivedFrom: undefined };
}
