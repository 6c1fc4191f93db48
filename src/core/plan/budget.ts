/**
 * The layer-weight budget of a plan: how many bytes the layers' weights may take on a target. One formula,
 * used by the solver's workflow (`solvePlan`, `planForTarget`), the plan lenses and quick fixes, and the
 * inspector's frontier, so that none of them can call a plan "fits" that another calls "over budget".
 *
 * From the plan's `budget`:
 * - 'capacity' — the target's memory × devices; `{ bytes }` — that total memory instead. The payload P (weights +
 *   activations + KV cache) fits when P + ⌈fixed + fraction × P⌉ ≤ memory (the estimator's overhead rule,
 *   memory.ts; with N devices the fixed overhead is paid on each). The layers get P − KV − activations − the
 *   bytes of tensors outside any layer (they stay as stored).
 * - `{ weightBytes }` — that many bytes for all weights, minus the tensors outside any layer.
 * - `{ avgBits }` — average stored bits per layer weight element × the layers' elements / 8.
 * KV cache and activations come from an estimate at the plan's context, batch and KV format; they do not depend
 * on the layers' formats, so an estimate with or without an assignment gives the same budget.
 */
import type { Target } from '../estimate/hardware/catalog';
import type { Estimate } from '../estimate/memory';
import type { Model } from '../model/types';
import type { PlanBudget } from './planFile';
import { layerTensorColumns, layerTensors } from './solver';

/** Memory facts behind the weight budget. */
export interface BudgetBreakdown {
  readonly kind: 'capacity' | 'bytes' | 'weightBytes' | 'avgBits';
  /** Memory the whole payload may use (capacity × devices or the explicit bytes); undefined for weight-only budgets. */
  readonly memoryBytes: number | undefined;
  readonly devices: number;
  readonly kvCacheBytes: number;
  readonly activationBytes: number;
  /** Runtime overhead at the budget's limit (bytes + fraction × payload). */
  readonly overheadBytes: number;
  /** Stored bytes of tensors that belong to no layer (shape tables, buffers): they stay as stored. */
  readonly outsideBytes: number;
  /** What is left for the layers' weights (never negative). */
  readonly weightBudgetBytes: number;
  /** The same before clamping: negative when KV cache, activations and overhead alone exceed the memory. */
  readonly availableBytes: number;
}

/** What the budget needs of the model besides the estimate (computed once; budgets are tried in loops). */
export interface LayerBudgetFacts {
  /** Stored bytes of tensors outside any layer. */
  readonly outsideBytes: number;
  /** Elements of the layers' weight tensors (for `avgBits`). */
  readonly layerElements: number;
}

/** The facts {@link budgetFor} needs about `model`. */
export function layerBudgetFacts(model: Model): LayerBudgetFacts {
  const c = layerTensorColumns(model);
  let layerElements = 0;
  // Repeated layer names: the tensors of each name once, as the name-keyed view lists them.
  if (c.listOf) for (const tensors of layerTensors(model).byLayer.values()) for (const t of tensors) layerElements += t.tensor.elementCount;
  else for (const t of c.tensor) layerElements += t.elementCount;
  return { outsideBytes: c.outsideBytes, layerElements };
}

/** The kind of a plan budget. */
export function budgetKind(budget: PlanBudget): BudgetBreakdown['kind'] {
  return budget === 'capacity' ? 'capacity' : 'bytes' in budget ? 'bytes' : 'weightBytes' in budget ? 'weightBytes' : 'avgBits';
}

/** Largest payload (weights + activations + KV) that fits `memoryBytes` on `devices` with the target's overhead rule. */
function maxPayload(target: Target, devices: number, memoryBytes: number | undefined): number {
  const ob = target.overhead.bytes;
  const f = target.overhead.fraction;
  if (memoryBytes !== undefined) {
    // Explicit total memory: payload + ceil(ob + f·payload) ≤ memoryBytes.
    let p = Math.floor((memoryBytes - ob) / (1 + f));
    while (p > 0 && p + Math.ceil(ob + f * p) > memoryBytes) p--;
    return Math.max(0, p);
  }
  if (devices <= 1) return maxPayload(target, 1, target.memoryBytes);
  // Split evenly over N devices, the fixed overhead paid on each (memory.ts devicesNeeded).
  return Math.max(0, Math.floor((devices * (target.memoryBytes - ob)) / (1 + f)));
}

/**
 * The layer-weight budget of `budget` on `devices` × `target`, with the KV cache and activations of `e` (an
 * estimate at the plan's context, batch and KV format). `facts` defaults to {@link layerBudgetFacts}(model).
 */
export function budgetFor(model: Model, target: Target, budget: PlanBudget, devices: number, e: Pick<Estimate, 'kvCacheBytes' | 'activationBytes'>, facts: LayerBudgetFacts = layerBudgetFacts(model)): BudgetBreakdown {
  const { outsideBytes } = facts;
  let memoryBytes: number | undefined;
  let weightBudget: number;
  let overhead = 0;
  if (budget === 'capacity' || 'bytes' in budget) {
    memoryBytes = budget === 'capacity' ? target.memoryBytes * devices : budget.bytes;
    const payload = maxPayload(target, devices, budget === 'capacity' ? undefined : budget.bytes);
    overhead = Math.ceil(target.overhead.bytes * (budget === 'capacity' ? devices : 1) + target.overhead.fraction * payload);
    weightBudget = payload - e.kvCacheBytes - e.activationBytes - outsideBytes;
  } else if ('weightBytes' in budget) weightBudget = budget.weightBytes - outsideBytes;
  else weightBudget = Math.floor((budget.avgBits * facts.layerElements) / 8);
  return {
    kind: budgetKind(budget),
    memoryBytes,
    devices,
    kvCacheBytes: e.kvCacheBytes,
    activationBytes: e.activationBytes,
    overheadBytes: overhead,
    outsideBytes,
    weightBudgetBytes: Math.max(0, weightBudget),
    availableBytes: weightBudget,
  };
}
