/**
 * What the editor shows for a precision plan (`*.precision.json`): the header lens ("H100 SXM5 80GB · 1.9 GiB /
 * 80 GiB · fits · 2.1k tok/s"), one lens and hover per layer entry ("INT4 · 3.1 MiB · sensitivity high
 * (outliers) · predicted 16.3 dB"), and the diagnostics: the plan checks of plan.ts plus the budget and the
 * predicted-harm threshold. Pure: the host passes the parsed plan, the model, its fingerprint, the targets and
 * the static sensitivity report, and turns the result into CodeLenses, Diagnostics and Hovers.
 * Quick fixes (text edits tied to these diagnostics by `code`) are in planFixes.ts.
 */
import { own } from '../model/dict';
import type { Model } from '../model/types';
import type { Target } from '../estimate/hardware/catalog';
import { dtypeLabel, formatBytes, formatCount } from '../model/inspect';
import { formatDb, formatLatencyBound, formatRate } from '../format/numbers';
import { estimate, type Estimate } from '../estimate/memory';
import { formatForStoredDType, getNumberFormat, type NumberFormat } from '../precision/numberFormats';
import { budgetFor } from '../plan/budget';
import { checkedAssignment } from '../plan/checked';
import { KEEP_FORMAT, type ParsedPlan, type PlanDiagnosticCode, type PlanMeasurement, type PlanPosition, type PrecisionPlan } from '../plan/planFile';
import type { LayerFormatSensitivity, SensitivityReport } from '../precision/sensitivity';
import { assignmentWeightBytes } from '../plan/solver';

//#region types
/** Diagnostic codes of the editor: plan.ts codes plus the budget and the harm threshold. */
export type PlanEditorCode = PlanDiagnosticCode | 'over-budget' | 'low-sqnr';

/** One diagnostic with its position in the plan text. */
export interface PlanEditorDiagnostic extends PlanPosition {
  readonly code: PlanEditorCode;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** Index into `layers` when the problem is in an entry. */
  readonly entry?: number;
}

/** Layer → format → static sensitivity. */
export type SensitivityLookup = (layer: string, format: string) => LayerFormatSensitivity | undefined;

/** What {@link analyzePlan} needs; missing parts skip the features that need them. */
export interface PlanContext {
  readonly parsed: ParsedPlan;
  readonly fileName: string;
  readonly model?: Model;
  readonly fingerprint?: string;
  /** Catalog plus user targets (the plan's `target` is looked up here). */
  readonly targets: readonly Target[];
  readonly sensitivity?: SensitivityLookup;
  /** Entries predicted below this model-output SQNR (dB) get a 'low-sqnr' warning. */
  readonly minOutputSqnrDb: number;
  /** Shape constants for the estimator (ONNX). */
  readonly constants?: Readonly<Record<string, readonly number[]>>;
}

/** The plan's budget against what its assignment needs, in layer-weight bytes (what fixes change). */
export interface BudgetCheck {
  readonly fits: boolean;
  /** Layer-weight bytes of the plan's assignment. */
  readonly weightBytes: number;
  /** Largest layer-weight bytes the budget allows. */
  readonly weightBudgetBytes: number;
  /** For display: "61.2 GiB / 80 GiB" or "4.6 / 4.5 bits". */
  readonly text: string;
}

/** A lens at a position. */
export interface PlanLens {
  readonly position: PlanPosition;
  readonly title: string;
  readonly tooltip: string;
}

/** Everything the editor shows for one plan. */
export interface PlanView {
  readonly plan: PrecisionPlan | undefined;
  readonly target: Target | undefined;
  /** Layer → canonical format id under the plan (every layer with weights). */
  readonly assignment: Readonly<Record<string, string>>;
  readonly estimate: Estimate | undefined;
  readonly budget: BudgetCheck | undefined;
  readonly diagnostics: readonly PlanEditorDiagnostic[];
  readonly header: PlanLens | undefined;
  /** One per `layers` entry, in order. */
  readonly entries: readonly (PlanLens & { readonly entry: number; readonly hover: string })[];
}
//#endregion

/** A lookup over a static sensitivity report. */
export function sensitivityLookup(report: Pick<SensitivityReport, 'layers'>): SensitivityLookup {
  const byLayer = new Map(report.layers.map((l) => [l.layer, l.formats]));
  return (layer, format) => byLayer.get(layer)?.[format];
}

/** 'INT4 (weight-only, g128)' → 'INT4'; 'keep' → 'as stored'. */
export function shortFormatLabel(id: string): string {
  if (id === KEEP_FORMAT) return 'as stored';
  return getNumberFormat(id)?.label.split(' (')[0] ?? id;
}

/** 'high' below the threshold, 'medium' within 10 dB above it, else 'low' ('none' when lossless). */
export function sensitivityLevel(s: LayerFormatSensitivity, minOutputSqnrDb: number): 'none' | 'low' | 'medium' | 'high' {
  if (s.reason.includes('lossless')) return 'none';
  if (s.predictedOutputSqnrDb < minOutputSqnrDb) return 'high';
  return s.predictedOutputSqnrDb < minOutputSqnrDb + 10 ? 'medium' : 'low';
}

function budgetCheck(plan: PrecisionPlan, model: Model, target: Target, e: Estimate, assignment: Readonly<Record<string, string>>): BudgetCheck {
  const weightBytes = assignmentWeightBytes(model, assignment);
  const budget = budgetFor(model, target, plan.budget, plan.devices ?? 1, e).weightBudgetBytes;
  const b = plan.budget;
  const fits = weightBytes <= budget;
  let text: string;
  if (b === 'capacity') text = `${formatBytes(e.totalBytes)} / ${formatBytes(e.capacityBytes * (plan.devices ?? 1))}`;
  else if ('bytes' in b) text = `${formatBytes(e.totalBytes)} / ${formatBytes(b.bytes)} budget`;
  else if ('weightBytes' in b) text = `weights ${formatBytes(weightBytes)} / ${formatBytes(b.weightBytes)}`;
  else text = `${((weightBytes * 8) / Math.max(1, (budget * 8) / b.avgBits)).toFixed(2)} / ${b.avgBits} bits`;
  return { fits, weightBytes, weightBudgetBytes: budget, text };
}

/** Builds the lenses, hovers and diagnostics of a plan. Never throws for malformed plans (they become diagnostics). */
export function analyzePlan(ctx: PlanContext): PlanView {
  const { parsed, model } = ctx;
  const plan = parsed.plan;
  const checked = checkedAssignment({ parsed, fileName: ctx.fileName, targets: ctx.targets, ...(model ? { model } : {}), ...(ctx.fingerprint ? { fingerprint: ctx.fingerprint } : {}) });
  const { target } = checked;
  const diagnostics: PlanEditorDiagnostic[] = [...checked.diagnostics];
  const empty: PlanView = { plan, target, assignment: {}, estimate: undefined, budget: undefined, diagnostics, header: undefined, entries: [] };
  if (!plan || !model) return empty;
  const { assignment } = checked;
  let e: Estimate | undefined;
  try {
    e = target ? estimate(model, target, { batch: plan.batch, context: plan.context, kvFormat: getNumberFormat(plan.kvFormat) ? plan.kvFormat : 'fp16', assignment, ...(ctx.constants ? { constants: ctx.constants } : {}) }) : undefined;
  } catch {
    e = undefined;
  }
  const budget = target && e ? budgetCheck(plan, model, target, e, assignment) : undefined;
  const budgetPos = parsed.positions.fields['budget'] ?? { offset: 0, length: 0, line: 1, column: 1 };
  if (budget && !budget.fits)
    diagnostics.push({ ...budgetPos, code: 'over-budget', severity: 'warning', message: `${ctx.fileName}: the plan needs ${formatBytes(budget.weightBytes)} of layer weights but the budget on ${target!.name} leaves ${formatBytes(budget.weightBudgetBytes)} (${budget.text}).` });

  const layers = new Map(model.layers.map((l) => [l.name, l]));
  const perLayerBytes = new Map(e?.perLayer.map((p) => [p.layer, p.bytes]) ?? []);
  const entries: PlanView['entries'][number][] = [];
  // Measured figures recorded in the plan (plan --verify / --measure): shown beside the predictions.
  const measuredAlone = new Map((plan.measurement?.layers ?? []).map((m) => [`${m.layer}|${m.format}`, m]));
  plan.layers.forEach((entry, i) => {
    const position = parsed.positions.entries[i]!;
    const layer = layers.get(entry.layer);
    const fid = entry.format.toLowerCase() === KEEP_FORMAT ? KEEP_FORMAT : getNumberFormat(entry.format)?.id;
    if (!layer) return entries.push({ entry: i, position, title: 'unknown layer', tooltip: `The model has no layer named '${entry.layer}'.`, hover: `**${escapeMd(entry.layer)}**: not a layer of ${escapeMd(model.fileName)}.` });
    if (!fid) return entries.push({ entry: i, position, title: `unknown format '${entry.format}'`, tooltip: '', hover: '' });
    const effective = own(assignment, entry.layer) ?? fid; // the last entry for a layer wins
    const bytes = perLayerBytes.get(entry.layer) ?? layer.byteLength;
    const stored = formatForStoredDType(layer.dtype);
    const sens = fid === KEEP_FORMAT || stored?.id === fid ? undefined : ctx.sensitivity?.(entry.layer, fid);
    const parts = [fid === KEEP_FORMAT ? `as stored (${dtypeLabel(layer.dtype)})` : shortFormatLabel(fid), formatBytes(effective === fid ? bytes : layer.byteLength)];
    if (sens) {
      const level = sensitivityLevel(sens, ctx.minOutputSqnrDb);
      parts.push(`sensitivity ${level}${sens.reason && level !== 'none' ? ` (${sens.reason})` : ''}`);
      if (level !== 'none') parts.push(`predicted ${formatDb(sens.predictedOutputSqnrDb)}`);
      if (level === 'high')
        diagnostics.push({ ...parsed.positions.entryFormats[i]!, entry: i, code: 'low-sqnr', severity: 'warning', message: `${ctx.fileName}: layer '${entry.layer}' in ${shortFormatLabel(fid)} is predicted to leave ${formatDb(sens.predictedOutputSqnrDb)} output SQNR, below the ${ctx.minOutputSqnrDb} dB threshold (${sens.reason || 'quantization noise'}).` });
    } else if (fid !== KEEP_FORMAT && ctx.sensitivity === undefined) parts.push('sensitivity pending');
    const alone = measuredAlone.get(`${entry.layer}|${fid}`);
    if (alone) {
      const shown = parts.some((p) => p.startsWith('predicted '));
      const text = measuredAloneText(alone, shown);
      if (text) parts.push(text);
    }
    if (effective !== fid) parts.push(`overridden by a later entry (${shortFormatLabel(effective)})`);
    return entries.push({ entry: i, position, title: parts.join(' · '), tooltip: `${layer.op} · ${layer.role} · ${layer.shape.join('×')}`, hover: layerHover(ctx, layer, fid, target) });
  });

  let header: PlanLens | undefined;
  if (target && e && budget) {
    // Model-kind-aware, as in the CLI: tokens/s for a decoder, latency per inference otherwise; never a guessed rate.
    const speed = e.unpublishedRates.length > 0 ? ` · speed not published (${e.unpublishedRates.join(', ')} rate)`
      : e.generative ? (e.decodeTokensPerSecond > 0 ? ` · ${formatRate(e.decodeTokensPerSecond, 'tok/s')}` : '')
      : e.inferenceSeconds > 0 ? ` · ${formatLatencyBound(e.inferenceSeconds)} per inference (roofline bound)` : '';
    header = {
      position: { offset: 0, length: 0, line: 1, column: 1 },
      title: headerTitle(target, budget, speed, e),
      ...(plan.measurement ? { title: `${headerTitle(target, budget, speed, e)} · ${measuredText(plan.measurement)}` } : {}),
      tooltip: `${runtimeText(e)}${e.unknownParts.includes('activations') ? ' · activations unknown (total is a lower bound)' : ''} · ${e.devicesNeeded} device(s) needed${e.generative ? ` · decode ${e.decodeBound}-bound` : ''}`,
    };
  }
  return { plan, target, assignment, estimate: e, budget, diagnostics, header, entries };
}

/** KL in nats, 2 significant digits ('0.021', '4.3e-5'). */
export function formatKl(kl: number): string {
  return kl !== 0 && Math.abs(kl) < 1e-3 ? kl.toExponential(1) : kl.toPrecision(2);
}

/**
 * A plan's recorded measurement, named by its metric: 'predicted KL 0.021 · measured 0.019 · perplexity 8.06
 * (original 7.81)' (llama.cpp), 'predicted output SQNR 31.2 dB · measured 30.8 dB' (onnxruntime-node).
 */
export function measuredText(m: PlanMeasurement): string {
  if (m.metric === 'output-sqnr-db') {
    const p = m.plan;
    if (!p) return `measured output SQNR of ${m.layers?.length ?? 0} layer(s) alone`;
    return p.predictedSqnrDb !== undefined ? `predicted output SQNR ${formatDb(p.predictedSqnrDb)}${p.predictor === 'measured-layers' ? ' (layers measured alone, added)' : ''} · measured ${formatDb(p.measuredSqnrDb)}` : `measured output SQNR ${formatDb(p.measuredSqnrDb)}`;
  }
  const p = m.plan;
  return `${p.predictedKl !== undefined ? `predicted KL ${formatKl(p.predictedKl)} · measured ${formatKl(p.klDivergence)}` : `measured KL ${formatKl(p.klDivergence)}`} · perplexity ${p.perplexity.toFixed(2)} (original ${p.referencePerplexity.toFixed(2)})`;
}

/**
 * One layer's recorded figure alone in its planned format, named by its metric ('measured KL alone 0.0005',
 * 'measured alone 41.0 dB'); the static prediction is added unless the lens already shows it.
 */
function measuredAloneText(alone: NonNullable<PlanMeasurement['layers']>[number], predictedShown: boolean): string | undefined {
  if ('measuredSqnrDb' in alone) return `${alone.predictedSqnrDb !== undefined && !predictedShown ? `predicted ${formatDb(alone.predictedSqnrDb)} · ` : ''}measured alone ${formatDb(alone.measuredSqnrDb)}`;
  if (alone.measuredKl === undefined) return undefined;
  return `${alone.predictedKl !== undefined ? `predicted KL ${formatKl(alone.predictedKl)} · ` : ''}measured KL alone ${formatKl(alone.measuredKl)}`;
}

/** 'llama.cpp: model buffer CPU_Mapped 4.1 GiB · KV cache (K f16, V f16) 512 MiB · compute buffer 300 MiB · … · overhead 0 B': the runtime's components. */
export function runtimeText(e: Estimate): string {
  const listed = e.runtime.components.filter((c) => c.kind === 'overhead').reduce((a, c) => a + c.bytes, 0);
  const parts = e.runtime.components.map((c) => `${c.label} ${formatBytes(c.bytes)}`);
  if (e.overheadBytes > listed) parts.push(`overhead ${formatBytes(e.overheadBytes - listed)}`);
  return `${e.runtime.runtime}${e.runtime.measured ? '' : ' (not measured here)'}: ${parts.join(' · ')}`;
}

function headerTitle(target: Target, budget: BudgetCheck, speed: string, e: Estimate): string {
  return `${target.name.replace(`${target.vendor} `, '')} · ${budget.text} · ${budget.fits ? 'fits' : `over by ${formatBytes(budget.weightBytes - budget.weightBudgetBytes)}`} · ${e.runtime.runtime}${speed}`;
}

function layerHover(ctx: PlanContext, layer: Model['layers'][number], formatId: string, target: Target | undefined): string {
  const lines = [
    `**${escapeMd(layer.name)}** — ${escapeMd(layer.op)} · ${layer.role}${layer.block !== undefined ? ` · block ${layer.block}` : ''}`,
    '',
    `shape ${layer.shape.join('×') || 'scalar'} · ${formatCount(layer.parameterCount)} params · stored ${dtypeLabel(layer.dtype)} (${formatBytes(layer.byteLength)})${layer.quantizable ? '' : ' · not quantizable by default'}`,
  ];
  const f: NumberFormat | undefined = getNumberFormat(formatId);
  if (f && target) lines.push('', `${f.label} on ${escapeMd(target.name)}: ${f.mode === 'weight-only' ? `weight-only, computes as ${f.computeAs.toUpperCase()}` : target.native.includes(f.computeAs) ? 'native' : `not native (runs as ${f.fallbackCompute.toUpperCase()})`}`);
  const rows: string[] = [];
  for (const id of ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4', 'q8_0', 'q4_k', 'nvfp4', 'mxfp4', formatId]) {
    const s = ctx.sensitivity?.(layer.name, id);
    if (s && !rows.some((r) => r.startsWith(`| ${shortFormatLabel(id)} |`))) rows.push(`| ${shortFormatLabel(id)} | ${formatDb(s.predictedOutputSqnrDb)} | ${formatDb(s.sqnrDb)} | ${escapeMd(s.reason)} |`);
  }
  if (rows.length) lines.push('', '| format | predicted output SQNR | weight SQNR | why |', '|---|---:|---:|---|', ...rows);
  return lines.join('\n');
}

/** Escapes Markdown control characters in model-provided text (hovers render Markdown). */
export function escapeMd(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}
