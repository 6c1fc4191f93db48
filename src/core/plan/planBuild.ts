/**
 * Makes a plan from a solved assignment (Generate Mixed-Precision Plan, Re-solve) and parses the budget users
 * type ("capacity", "24GB", "4.5 bits", "weights 512MiB"). Pure.
 */
import type { Model } from '../model/types';
import { getNumberFormat } from '../precision/numberFormats';
import { KEEP_FORMAT, PLAN_VERSION, tryParseByteSize, type PlanBudget, type PlanLayerEntry, type PrecisionPlan } from './planFile';

/** Settings of a new plan (everything but its layers). */
export type PlanHead = Omit<PrecisionPlan, 'layers' | '$schema' | 'version'>;

/**
 * A plan holding `assignment`: one entry per layer whose format differs from what `defaultFormat` gives it
 * (quantizable layers: the default; others: as stored), in model order; pinned entries are kept with their pin.
 */
export function planFromAssignment(head: PlanHead, model: Model, assignment: Readonly<Record<string, string>>, pinned: readonly PlanLayerEntry[] = []): PrecisionPlan {
  const pins = new Map(pinned.filter((e) => e.pinned).map((e) => [e.layer, e]));
  const def = head.defaultFormat.toLowerCase() === KEEP_FORMAT ? KEEP_FORMAT : (getNumberFormat(head.defaultFormat)?.id ?? head.defaultFormat);
  const layers: PlanLayerEntry[] = [];
  for (const l of model.layers) {
    const pin = pins.get(l.name);
    if (pin) {
      layers.push(pin);
      continue;
    }
    const f = assignment[l.name];
    if (f === undefined) continue;
    if (f !== (l.quantizable ? def : KEEP_FORMAT)) layers.push({ layer: l.name, format: f });
  }
  return { version: PLAN_VERSION, ...head, layers };
}

/**
 * Parses a budget as typed: 'capacity' (or empty), a memory size ('24GB', '512MiB' → total memory),
 * 'weights <size>' (layer weights only) or '<n> bits' / '<n>bpw' (average bits per weight). Undefined when malformed.
 */
export function parseBudgetInput(text: string): PlanBudget | undefined {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'capacity') return 'capacity';
  const bits = /^(\d+(?:\.\d+)?)\s*(bits?|bpw)$/.exec(t);
  if (bits) {
    const v = Number(bits[1]);
    return v > 0 && v <= 64 ? { avgBits: v } : undefined;
  }
  const weights = /^weights?\s+(.+)$/.exec(t);
  if (weights) {
    const v = tryParseByteSize(weights[1]!);
    return v ? { weightBytes: v } : undefined;
  }
  const bytes = tryParseByteSize(t);
  return bytes ? { bytes } : undefined;
}
