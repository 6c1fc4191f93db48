/**
 * Quick fixes for plan diagnostics (planLenses.ts), as text edits on the plan file so the editor applies them as
 * one undoable WorkspaceEdit. Each fix is tied to its diagnostic by `code`:
 * - not-native / emulated → the nearest format the target runs natively;
 * - low-sqnr → raise to the safest format that still fits the budget;
 * - any entry problem → the solver's assignment for that layer (needs sensitivity);
 * - over-budget → lower the N least sensitive layers until the plan fits;
 * - unknown-layer → the closest layer name, or remove the entry; duplicate-layer → remove;
 * - stale-fingerprint → update the fingerprint; unknown-target → a close target id;
 * and "fix all" of one code in the file. Pure; unit-tested in test/unit/hostPlanFixes.test.ts.
 */
import { own, setOwn } from '../model/dict';
import type { Layer, Model } from '../model/types';
import { nearestTargetIds } from '../estimate/hardware/catalog';
import { formatBytes } from '../model/inspect';
import { formatBitsPerWeight, formatForStoredDType, getNumberFormat, type NumberFormat } from '../precision/numberFormats';
import { KEEP_FORMAT, type ParsedPlan, type PlanPosition } from '../plan/planFile';
import { shortFormatLabel, type PlanContext, type PlanEditorCode, type PlanEditorDiagnostic, type PlanView } from './planLenses';
import { assignmentWeightBytes, defaultCandidateFormats, formatAllowed, layerTensors, solveModel, tensorBytesIn, type LayerTensor } from '../plan/solver';
import { editDistance } from '../util/text';

/** Replace `length` characters at `offset` with `newText`. */
export interface TextEditData {
  readonly offset: number;
  readonly length: number;
  readonly newText: string;
}

/** One quick fix. */
export interface PlanFix {
  readonly title: string;
  readonly code: PlanEditorCode;
  readonly edits: readonly TextEditData[];
  readonly preferred: boolean;
}

/** Changes to `layers`: new formats by entry index, removed entries, appended entries. */
interface LayerChanges {
  readonly formats?: ReadonlyMap<number, string>;
  readonly remove?: ReadonlySet<number>;
  readonly add?: readonly { readonly layer: string; readonly format: string }[];
}

/** Most layers "lower until it fits" may change. Threat: a fix rewriting a 100k-entry plan in one step by surprise. */
export const MAX_LOWERED_LAYERS = 10_000;

/** Codes "fix all" handles (each diagnostic has one preferred, independent fix). */
export const FIX_ALL_CODES: readonly PlanEditorCode[] = ['not-native', 'emulated', 'low-sqnr', 'unknown-layer', 'duplicate-layer'];

//#region edits
/** Edits for `changes`: small replacements of format values when possible, else one rewrite of the `layers` array. */
export function layerChangeEdits(parsed: ParsedPlan, changes: LayerChanges): TextEditData[] {
  const { positions, text, plan } = parsed;
  if (!plan) return [];
  const formats = changes.formats ?? new Map<number, string>();
  if (!changes.remove?.size && !changes.add?.length) {
    return [...formats].map(([i, f]) => ({ offset: positions.entryFormats[i]!.offset, length: positions.entryFormats[i]!.length, newText: JSON.stringify(f) }));
  }
  const arr = positions.fields['layers'];
  if (!arr) return [];
  const items: string[] = [];
  plan.layers.forEach((_, i) => {
    if (changes.remove?.has(i)) return;
    const pos = positions.entries[i]!;
    const f = positions.entryFormats[i]!;
    let entryText = text.slice(pos.offset, pos.offset + pos.length);
    const nf = formats.get(i);
    if (nf !== undefined) entryText = entryText.slice(0, f.offset - pos.offset) + JSON.stringify(nf) + entryText.slice(f.offset - pos.offset + f.length);
    items.push(entryText);
  });
  for (const a of changes.add ?? []) items.push(`{"layer": ${JSON.stringify(a.layer)}, "format": ${JSON.stringify(a.format)}}`);
  const newText = items.length ? `[\n${items.map((s) => `    ${s}`).join(',\n')}\n  ]` : '[]';
  return [{ offset: arr.offset, length: arr.length, newText }];
}

const replaceAt = (pos: PlanPosition, value: string): TextEditData => ({ offset: pos.offset, length: pos.length, newText: JSON.stringify(value) });
//#endregion

//#region helpers
interface FixEnv {
  readonly model: Model;
  readonly byLayer: ReadonlyMap<string, readonly LayerTensor[]>;
  readonly layers: ReadonlyMap<string, Layer>;
  readonly candidates: readonly NumberFormat[];
  readonly budget: number | undefined;
}

function env(ctx: PlanContext, view: PlanView): FixEnv | undefined {
  const { model } = ctx;
  const plan = view.plan;
  if (!model || !plan) return undefined;
  const native = view.target?.native;
  const ids = [...defaultCandidateFormats(model), 'fp32', 'fp16', 'bf16', 'int8', 'q8_0'];
  const candidates = [...new Map(ids.map((id) => getNumberFormat(id)).filter((f): f is NumberFormat => !!f).map((f) => [f.id, f])).values()].filter((f) => formatAllowed(f, native, false));
  const budget = view.budget?.weightBudgetBytes;
  return { model, byLayer: layerTensors(model).byLayer, layers: new Map(model.layers.map((l) => [l.name, l])), candidates, budget };
}

function layerBytesIn(fx: FixEnv, layer: Layer, formatId: string): number {
  const f = formatId === KEEP_FORMAT ? 'keep' : (getNumberFormat(formatId) ?? 'keep');
  let n = 0;
  for (const t of fx.byLayer.get(layer.name) ?? []) n += tensorBytesIn(t.tensor, f, t.isMain);
  return n;
}

/** The format `target` runs natively closest in bits per weight to `format` (ties: more bits, then compute formats). */
export function nearestNativeFormat(format: NumberFormat, candidates: readonly NumberFormat[]): NumberFormat | undefined {
  const bpw = formatBitsPerWeight(format);
  return [...candidates]
    .filter((f) => f.id !== format.id)
    .sort((a, b) => Math.abs(formatBitsPerWeight(a) - bpw) - Math.abs(formatBitsPerWeight(b) - bpw) || formatBitsPerWeight(b) - formatBitsPerWeight(a) || (a.mode === 'compute' ? -1 : 1))[0];
}


/** The layer name closest to `name` (edit distance ≤ a third of its length), for "did you mean". */
export function closestLayerName(name: string, layers: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const l of layers) {
    if (Math.abs(l.length - name.length) >= bestD || l.length > 256) continue;
    const d = editDistance(name, l);
    if (d < bestD) [best, bestD] = [l, d];
  }
  return best;
}
//#endregion

//#region fixes
/** The fixes for one diagnostic (first = preferred). */
export function planFixes(ctx: PlanContext, view: PlanView, d: PlanEditorDiagnostic): PlanFix[] {
  const fx = env(ctx, view);
  const plan = view.plan;
  const out: PlanFix[] = [];
  const push = (title: string, edits: TextEditData[]): void => {
    if (edits.length) out.push({ title, code: d.code, edits, preferred: out.length === 0 });
  };
  const entry = d.entry !== undefined ? plan?.layers[d.entry] : undefined;
  const layer = entry && fx ? fx.layers.get(entry.layer) : undefined;
  switch (d.code) {
    case 'not-native':
    case 'emulated': {
      const current = getNumberFormat(ctx.parsed.text.slice(d.offset + 1, d.offset + d.length - 1));
      const next = current && fx ? nearestNativeFormat(current, fx.candidates) : undefined;
      if (next) push(`Use ${shortFormatLabel(next.id)} (nearest format ${view.target?.name ?? 'the target'} runs natively)`, [replaceAt(d, next.id)]);
      break;
    }
    case 'low-sqnr': {
      if (fx && layer && d.entry !== undefined) {
        const raised = safestFittingFormat(ctx, view, fx, layer);
        if (raised) push(`Raise to ${shortFormatLabel(raised)} (safest format that fits)`, layerChangeEdits(ctx.parsed, { formats: new Map([[d.entry, raised]]) }));
      }
      break;
    }
    case 'over-budget': {
      if (fx) {
        const lowered = lowerUntilFits(ctx, view, fx);
        if (lowered) push(`Lower the ${lowered.count} least sensitive layer${lowered.count === 1 ? '' : 's'} until it fits (saves ${formatBytes(lowered.savedBytes)})`, lowered.edits);
      }
      break;
    }
    case 'unknown-layer': {
      const name = entry?.layer ?? '';
      const close = fx ? closestLayerName(name, fx.layers.keys()) : undefined;
      if (close) push(`Replace with '${close}'`, [replaceAt(ctx.parsed.positions.entryLayers[d.entry!]!, close)]);
      push('Remove this entry', layerChangeEdits(ctx.parsed, { remove: new Set([d.entry!]) }));
      break;
    }
    case 'duplicate-layer':
      push('Remove this duplicate entry', layerChangeEdits(ctx.parsed, { remove: new Set([d.entry!]) }));
      break;
    case 'stale-fingerprint':
      if (ctx.fingerprint) push('Update the fingerprint to the current model file', [replaceAt(d, ctx.fingerprint)]);
      break;
    case 'unknown-target':
      for (const id of plan ? nearestTargetIds(plan.target, ctx.targets, 3) : []) push(`Use target '${id}'`, [replaceAt(d, id)]);
      break;
    default:
      break;
  }
  if (fx && layer && d.entry !== undefined && ['not-native', 'emulated', 'low-sqnr', 'not-quantizable', 'fused-mismatch'].includes(d.code)) {
    const solved = solverChoice(ctx, view, fx, layer.name);
    if (solved && solved !== entry?.format) push(`Accept the solver's choice for this layer: ${shortFormatLabel(solved)}`, layerChangeEdits(ctx.parsed, { formats: new Map([[d.entry, solved]]) }));
  }
  return out;
}

/** Preferred fixes of every diagnostic with `code`, merged into one edit set (later fixes see earlier ones). */
export function fixAllEdits(ctx: PlanContext, view: PlanView, code: PlanEditorCode): { count: number; edits: TextEditData[] } {
  const fx = env(ctx, view);
  const ds = view.diagnostics.filter((d) => d.code === code && d.entry !== undefined);
  const formats = new Map<number, string>();
  const remove = new Set<number>();
  const assignment = { ...view.assignment };
  for (const d of ds) {
    const entry = view.plan?.layers[d.entry!];
    if (!entry) continue;
    if (code === 'unknown-layer' || code === 'duplicate-layer') {
      remove.add(d.entry!);
      continue;
    }
    const layer = fx?.layers.get(entry.layer);
    let next: string | undefined;
    if (code === 'low-sqnr' && fx && layer) next = safestFittingFormat(ctx, { ...view, assignment }, fx, layer);
    else if (code === 'not-native' || code === 'emulated') {
      const current = getNumberFormat(entry.format);
      next = current && fx ? nearestNativeFormat(current, fx.candidates)?.id : undefined;
    }
    if (next) {
      formats.set(d.entry!, next);
      setOwn(assignment, entry.layer, next);
    }
  }
  return { count: formats.size + remove.size, edits: layerChangeEdits(ctx.parsed, { formats, remove }) };
}

/** Among allowed formats predicted safer than the current one, the safest whose plan still fits. */
function safestFittingFormat(ctx: PlanContext, view: PlanView, fx: FixEnv, layer: Layer): string | undefined {
  const current = own(view.assignment, layer.name) ?? KEEP_FORMAT;
  const currentDb = ctx.sensitivity?.(layer.name, current)?.predictedOutputSqnrDb ?? -Infinity;
  const stored = formatForStoredDType(layer.dtype)?.id;
  const options = fx.candidates
    .map((f) => ({ id: f.id, db: f.id === stored ? Infinity : (ctx.sensitivity?.(layer.name, f.id)?.predictedOutputSqnrDb ?? (formatBitsPerWeight(f) > bitsOf(current, layer) ? 0 : -Infinity)) }))
    .filter((o) => o.db > currentDb)
    .sort((a, b) => b.db - a.db || layerBytesIn(fx, layer, a.id) - layerBytesIn(fx, layer, b.id));
  for (const o of options) {
    if (fx.budget === undefined || assignmentWeightBytes(fx.model, { ...view.assignment, [layer.name]: o.id }) <= fx.budget) return o.id;
  }
  return undefined;
}

function bitsOf(formatId: string, layer: Layer): number {
  const f = formatId === KEEP_FORMAT ? formatForStoredDType(layer.dtype) : getNumberFormat(formatId);
  return f ? formatBitsPerWeight(f) : 32;
}

function solverChoice(ctx: PlanContext, view: PlanView, fx: FixEnv, layerName: string): string | undefined {
  const plan = view.plan;
  if (!ctx.sensitivity || fx.budget === undefined || !plan) return undefined;
  const pinned: Record<string, string> = {};
  for (const e of plan.layers) if (e.pinned && e.layer !== layerName) setOwn(pinned, e.layer, e.format);
  const r = solveModel(fx.model, {
    weightBudgetBytes: fx.budget,
    formats: fx.candidates.map((f) => f.id),
    ...(view.target ? { native: view.target.native } : {}),
    allowEmulated: plan.allowEmulated ?? false,
    pinned,
    harm: (l, f) => ctx.sensitivity!(l.name, f.id)?.staticScore,
    frontierPoints: 2,
  });
  return r.status === 'infeasible' ? undefined : own(r.assignment, layerName);
}

interface Move {
  readonly layer: Layer;
  readonly format: string;
  readonly saved: number;
  readonly score: number;
}

/** Binary min-heap of moves by score (ties: more bytes saved first). */
class MoveHeap {
  private readonly a: Move[] = [];
  private less(x: Move, y: Move): boolean {
    return x.score < y.score || (x.score === y.score && x.saved > y.saved);
  }
  push(m: Move): void {
    const a = this.a;
    a.push(m);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Move | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Greedy: repeatedly lower the (layer, next smaller format) with the least predicted harm added per byte saved
 * (without sensitivity: the most bytes saved) until the layer weights fit the budget.
 */
function lowerUntilFits(ctx: PlanContext, view: PlanView, fx: FixEnv): { count: number; savedBytes: number; edits: TextEditData[] } | undefined {
  const plan = view.plan;
  if (!plan || fx.budget === undefined) return undefined;
  const pinned = new Set(plan.layers.filter((e) => e.pinned).map((e) => e.layer));
  const assignment = { ...view.assignment };
  let used = assignmentWeightBytes(fx.model, assignment);
  const start = used;
  const changed = new Set<string>();
  const harm = (l: Layer, id: string): number => {
    if (id === KEEP_FORMAT) return 0;
    const s = ctx.sensitivity?.(l.name, id);
    return s ? s.staticScore : 0;
  };
  const movable = fx.model.layers.filter((l) => l.quantizable && l.byteLength > 0 && !pinned.has(l.name) && own(assignment, l.name) !== undefined);
  // Each layer's best next step, in a heap by score; after a layer moves, only its own next step is recomputed.
  const nextMove = (l: Layer): Move | undefined => {
    const cur = own(assignment, l.name)!;
    const curBytes = layerBytesIn(fx, l, cur);
    let best: Move | undefined;
    for (const f of fx.candidates) {
      const bytes = layerBytesIn(fx, l, f.id);
      if (bytes >= curBytes) continue;
      if (ctx.sensitivity && !ctx.sensitivity(l.name, f.id) && formatForStoredDType(l.dtype)?.id !== f.id) continue;
      const saved = curBytes - bytes;
      const score = ctx.sensitivity ? (harm(l, f.id) - harm(l, cur)) / saved : -saved;
      if (!best || score < best.score || (score === best.score && saved > best.saved)) best = { layer: l, format: f.id, saved, score };
    }
    return best;
  };
  const heap = new MoveHeap();
  for (const l of movable) {
    const m = nextMove(l);
    if (m) heap.push(m);
  }
  while (used > fx.budget && changed.size < MAX_LOWERED_LAYERS) {
    const best = heap.pop();
    if (!best) break;
    assignment[best.layer.name] = best.format;
    changed.add(best.layer.name);
    used -= best.saved;
    const again = nextMove(best.layer);
    if (again) heap.push(again);
  }
  if (used > fx.budget || changed.size === 0) return undefined;
  const formats = new Map<number, string>();
  const add: { layer: string; format: string }[] = [];
  for (const name of changed) {
    let idx = -1;
    plan.layers.forEach((e, i) => {
      if (e.layer === name) idx = i; // the last entry for a layer is the one that counts
    });
    if (idx >= 0) formats.set(idx, own(assignment, name)!);
    else add.push({ layer: name, format: own(assignment, name)! });
  }
  return { count: changed.size, savedBytes: start - used, edits: layerChangeEdits(ctx.parsed, { formats, add }) };
}
//#endregion
