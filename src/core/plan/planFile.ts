/**
 * Precision plan files: `<model file name>.precision.json` beside the model. Human-editable JSON, published as
 * schemas/precision-plan.schema.json. This module holds the types, the parser (positions for every entry, from
 * `jsonc-parser`'s syntax tree, so the CLI and the editor's diagnostics point at the entry), the checks
 * against a model and a target, the writer and budget/size parsing.
 *
 * Semantics:
 * - `layers[]` assigns formats to layers named exactly as `inspect` names them. Unlisted layers get
 *   `defaultFormat` when quantizable, else stay as stored ('keep').
 * - `keep` means "leave as stored" and is valid for every layer.
 * - `pinned: true` tells the solver not to change that entry.
 * - `budget`: "capacity" (the target's memory × devices minus KV cache, activations and overhead),
 *   `{ "bytes": N | "24GB" }` (total memory in place of the capacity), `{ "weightBytes": N | "512MiB" }`
 *   (layer weights only) or `{ "avgBits": 4.5 }` (average stored bits per layer weight element).
 */
import { type Node as JsonNode, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import { jsonDepthError } from '../io/jsonc';
import { DEFAULT_LIMITS } from '../io/limits';
import { own, setOwn } from '../model/dict';
import type { Layer, Model } from '../model/types';
import { getNumberFormat, KEEP_FORMAT, type ComputeType, type NumberFormat } from '../precision/numberFormats';

/**
 * The schema's `$id`. Generated plans do NOT carry a `$schema` property: VS Code would try to download that URL
 * (and ignore the schema the extension contributes for `*.precision.json`, which validates them offline); a
 * user-written `$schema` is kept as is.
 */
export const PLAN_SCHEMA_URL = 'https://precision-lens.dev/schemas/precision-plan.schema.json';
/** Current plan file version. */
export const PLAN_VERSION = 1;
export { KEEP_FORMAT };
/** Largest plan text we parse. Threat: a multi-gigabyte plan file exhausting memory in the editor host. */
export const MAX_PLAN_TEXT_BYTES = 64 * 1024 * 1024;
/** Most `layers[]` entries. Threat: a generated plan with millions of entries making validation quadratic or slow. */
export const MAX_PLAN_ENTRIES = 1_000_000;
/** Largest `measurement` record parsed (its JSON text). Threat: a plan whose measurement record is hundreds of MB, decoded in full. */
export const MAX_MEASUREMENT_TEXT_BYTES = 16 * 1024 * 1024;
/** Most diagnostics reported for one plan (the rest are summarized). Threat: megabytes of messages for a broken file. */
export const MAX_PLAN_DIAGNOSTICS = 1000;

//#region types
/** Memory budget of a plan. */
export type PlanBudget =
  | 'capacity'
  | { readonly bytes: number }
  | { readonly weightBytes: number }
  | { readonly avgBits: number };

/** One per-layer entry. */
export interface PlanLayerEntry {
  readonly layer: string;
  /** Format id from the number-format table, or 'keep'. */
  readonly format: string;
  readonly pinned?: boolean;
  readonly note?: string;
}

/** The model a plan belongs to. */
export interface PlanModelRef {
  /** Base name of the main model file. */
  readonly file: string;
  /** See fingerprint.ts (`pl1:` + SHA-256 of sizes, head and tail). */
  readonly fingerprint: string;
  /** Size of the main file in bytes. */
  readonly byteLength?: number;
}

/** Measured figures of one plan (GGUF: llama.cpp on a calibration text; KL in nats against the original). */
export interface PlanMeasuredFigures {
  /** Σ per-layer KL measured alone (the additive prediction); absent when the plan was solved on static scores. */
  readonly predictedKl?: number;
  readonly klDivergence: number;
  readonly klStdErr: number;
  readonly perplexity: number;
  readonly referencePerplexity: number;
  readonly top1Agreement: number;
}

/**
 * What a measurement record's figures are: 'kl' = KL divergence of the next-token distributions against the original
 * (nats; GGUF in llama.cpp); 'output-sqnr-db' = signal-to-noise ratio of the model's compared outputs against the
 * original on the same inputs (dB, higher is better; ONNX in onnxruntime-node). A record without `metric` is 'kl'.
 */
export type PlanMeasurementMetric = 'kl' | 'output-sqnr-db';

/** Which runtime ran the model, on what, when, and which candidate was delivered. */
interface PlanMeasurementSource {
  /** e.g. 'llama.cpp (node-llama-cpp 3.21.1, CPU)', 'onnxruntime-node 1.30.0 (CPU)'. */
  readonly runtime: string;
  /** The calibration text (file, origin, tokens, positions, context) or, for ONNX, the inputs and compared outputs. */
  readonly text: string;
  /** ISO 8601 time of the measurement. */
  readonly measuredAt: string;
  /** Which candidate was delivered ('solver', a baseline id, 'solver@<baseline>' or 'local:<n>'). */
  readonly delivered: string;
}

/**
 * What `plan --verify` / `--measure` measured in llama.cpp, stored in the plan so that reopening it shows the
 * figures without running anything: which runtime and text, the delivered plan's figures, per layer (with
 * `--measure`) the KL the layer adds alone in its planned format, and the baselines of equal size.
 */
export interface PlanKlMeasurement extends PlanMeasurementSource {
  readonly metric?: 'kl';
  readonly plan: PlanMeasuredFigures;
  readonly layers?: readonly { readonly layer: string; readonly format: string; readonly predictedKl?: number; readonly measuredKl?: number }[];
  readonly baselines?: readonly { readonly id: string; readonly label: string; readonly weightBytes: number; readonly klDivergence: number; readonly perplexity: number; readonly solverKlDivergence?: number; readonly solverWeightBytes?: number }[];
}

/** The delivered ONNX plan's output SQNR: predicted from the static scores, measured in onnxruntime-node (dB). */
export interface PlanSqnrFigures {
  /** Output SQNR predicted for the plan by adding per-layer noise-to-signal ratios (see `predictor`). */
  readonly predictedSqnrDb?: number;
  /** What was added up: 'static' = the static sensitivity scores; 'measured-layers' = each layer measured alone. */
  readonly predictor?: 'static' | 'measured-layers';
  readonly measuredSqnrDb: number;
}

/**
 * What `plan --verify` / `--measure` measured in onnxruntime-node (ONNX): the delivered plan's output SQNR
 * (verification), per layer (with `--measure`) the output SQNR with only that layer in its planned format beside the
 * static prediction, and the baselines measured in the same run. `plan` is absent when only layers were measured.
 */
export interface PlanSqnrMeasurement extends PlanMeasurementSource {
  readonly metric: 'output-sqnr-db';
  readonly plan?: PlanSqnrFigures;
  readonly layers?: readonly { readonly layer: string; readonly format: string; readonly predictedSqnrDb?: number; readonly measuredSqnrDb: number }[];
  readonly baselines?: readonly { readonly id: string; readonly label: string; readonly weightBytes: number; readonly measuredSqnrDb: number }[];
}

/** What was measured for a plan, stored in it (see {@link PlanKlMeasurement}, {@link PlanSqnrMeasurement}). */
export type PlanMeasurement = PlanKlMeasurement | PlanSqnrMeasurement;

/** The metric of a record ('kl' when it names none). */
export function measurementMetric(m: PlanMeasurement): PlanMeasurementMetric {
  return m.metric ?? 'kl';
}

/** A precision plan as stored in `*.precision.json`. */
export interface PrecisionPlan {
  readonly $schema?: string;
  readonly version: number;
  readonly model: PlanModelRef;
  /** Hardware target id (`getTarget`). */
  readonly target: string;
  /** Devices of the target the model is spread over (default 1). */
  readonly devices?: number;
  readonly budget: PlanBudget;
  readonly context: number;
  readonly batch: number;
  /** KV-cache format id (e.g. 'fp16', 'fp8_e4m3', 'int8'). */
  readonly kvFormat: string;
  /** Format for quantizable layers not listed in `layers` ('keep' when absent). */
  readonly defaultFormat: string;
  /** Allow compute formats the target emulates (runs at the fallback rate). */
  readonly allowEmulated?: boolean;
  /** What was measured for this plan (see {@link PlanMeasurement}). */
  readonly measurement?: PlanMeasurement;
  readonly layers: readonly PlanLayerEntry[];
}

/** A position in the plan text (offset 0-based; line and column 1-based). */
export interface PlanPosition {
  readonly offset: number;
  readonly length: number;
  readonly line: number;
  readonly column: number;
}

/** Machine-readable diagnostic codes (shared with the editor's quick fixes). */
export type PlanDiagnosticCode =
  | 'syntax'
  | 'schema'
  | 'too-large'
  | 'unknown-layer'
  | 'duplicate-layer'
  | 'unknown-format'
  | 'unknown-target'
  | 'not-native'
  | 'emulated'
  | 'not-quantizable'
  | 'stale-fingerprint'
  | 'other-model'
  | 'fused-mismatch';

/** One problem found in a plan, with the position of the offending value. */
export interface PlanDiagnostic extends PlanPosition {
  readonly code: PlanDiagnosticCode;
  readonly severity: 'error' | 'warning';
  /** One sentence ending with a period. */
  readonly message: string;
  /** Index into `layers` when the problem is in an entry. */
  readonly entry?: number;
}

/** Positions of a parsed plan's parts. */
export interface PlanPositions {
  /** Whole entry object, per `layers` index. */
  readonly entries: readonly PlanPosition[];
  /** The `layer` value, per index. */
  readonly entryLayers: readonly PlanPosition[];
  /** The `format` value, per index. */
  readonly entryFormats: readonly PlanPosition[];
  /** Top-level values by property name (`target`, `model.fingerprint` as 'fingerprint', …). */
  readonly fields: Readonly<Record<string, PlanPosition>>;
}

/** Result of {@link parsePlan}. `plan` is undefined when the text is not a structurally valid plan. */
export interface ParsedPlan {
  readonly plan: PrecisionPlan | undefined;
  readonly diagnostics: readonly PlanDiagnostic[];
  readonly positions: PlanPositions;
  readonly text: string;
}

/** The facts about a target that plan checks need (structural, so core needs no hardware import here). */
export interface PlanTargetFacts {
  readonly id: string;
  /** Compute types the target's matrix units run natively. */
  readonly native: readonly ComputeType[];
}
//#endregion

//#region positions
/** Converts offsets to 1-based line/column. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  /** Position of [offset, offset+length). */
  at(offset: number, length = 0): PlanPosition {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset, length, line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
}
//#endregion

//#region parse
function nodeType(n: JsonNode | undefined): string {
  if (!n) return 'nothing';
  if (n.type === 'number' && Number.isInteger(n.value)) return 'an integer';
  return { object: 'an object', array: 'an array', property: 'a property', string: 'a string', number: 'a number', boolean: 'a boolean', null: 'null' }[n.type];
}

function prop(obj: JsonNode, key: string): JsonNode | undefined {
  for (const p of obj.children ?? []) if (p.type === 'property' && p.children?.[0]?.value === key) return p.children[1];
  return undefined;
}

/**
 * Parses plan text (comments and trailing commas tolerated, reported as nothing) and checks its structure
 * against the schema. Never throws. Diagnostics carry the position of the offending value.
 */
export function parsePlan(text: string, fileName = 'plan'): ParsedPlan {
  const diags: PlanDiagnostic[] = [];
  const empty: PlanPositions = { entries: [], entryLayers: [], entryFormats: [], fields: {} };
  const add = (code: PlanDiagnosticCode, pos: PlanPosition, message: string, entry?: number, severity: 'error' | 'warning' = 'error'): void => {
    diags.push({ ...pos, code, severity, message, ...(entry !== undefined ? { entry } : {}) });
  };
  // Before any pass over the text (the line index scans it all).
  if (text.length > MAX_PLAN_TEXT_BYTES) {
    add('too-large', { offset: 0, length: 0, line: 1, column: 1 }, `${fileName}: the plan is ${text.length} characters, more than the limit of ${MAX_PLAN_TEXT_BYTES}.`);
    return { plan: undefined, diagnostics: diags, positions: empty, text };
  }
  const index = new LineIndex(text);
  // jsonc-parser recurses: refuse nesting bombs first with an iterative scan (io/jsonc.ts).
  const deep = jsonDepthError(text, DEFAULT_LIMITS.maxNestingDepth);
  if (deep) {
    add('too-large', index.at(deep.offset, 1), `${fileName}: the plan ${deep.message}.`);
    return { plan: undefined, diagnostics: diags, positions: empty, text };
  }
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  for (const e of errors.slice(0, 20)) add('syntax', index.at(e.offset, e.length), `${fileName}: JSON syntax error (${printParseErrorCode(e.error)}).`);
  if (errors.length > 0 || !root) return { plan: undefined, diagnostics: diags, positions: empty, text };
  const at = (n: JsonNode): PlanPosition => index.at(n.offset, n.length);
  if (root.type !== 'object') {
    add('schema', at(root), `${fileName}: a plan must be a JSON object, found ${nodeType(root)}.`);
    return { plan: undefined, diagnostics: diags, positions: empty, text };
  }
  const fields: Record<string, PlanPosition> = {};
  let ok = true;
  const bad = (n: JsonNode, message: string, entry?: number): void => {
    ok = false;
    add('schema', at(n), `${fileName}: ${message}`, entry);
  };
  const known = new Set(['$schema', 'version', 'model', 'target', 'devices', 'budget', 'context', 'batch', 'kvFormat', 'defaultFormat', 'allowEmulated', 'measurement', 'layers']);
  for (const p of root.children ?? []) {
    const key = p.children?.[0];
    if (key && !known.has(String(key.value))) add('schema', at(key), `${fileName}: unknown property '${truncate(String(key.value))}' (ignored).`, undefined, 'warning');
  }
  const need = (key: string, type: 'string' | 'integer' | 'object' | 'array', min = 0): JsonNode | undefined => {
    const n = prop(root, key);
    if (!n) {
      ok = false;
      add('schema', index.at(root.offset, 1), `${fileName}: the required property '${key}' is missing.`);
      return undefined;
    }
    fields[key] = at(n);
    const good =
      type === 'string' ? n.type === 'string' && String(n.value).length > 0
      : type === 'integer' ? n.type === 'number' && Number.isSafeInteger(n.value) && n.value >= min
      : n.type === type;
    if (!good) {
      bad(n, `'${key}' must be ${type === 'integer' ? `an integer ≥ ${min}` : type === 'string' ? 'a non-empty string' : `an ${type}`}, found ${nodeType(n)}.`);
      return undefined;
    }
    return n;
  };
  const optional = (key: string, type: 'string' | 'integer' | 'boolean', min = 0): JsonNode | undefined => {
    const n = prop(root, key);
    if (!n) return undefined;
    fields[key] = at(n);
    const good = type === 'string' ? n.type === 'string' : type === 'boolean' ? n.type === 'boolean' : n.type === 'number' && Number.isSafeInteger(n.value) && n.value >= min;
    if (!good) {
      bad(n, `'${key}' must be ${type === 'integer' ? `an integer ≥ ${min}` : `a ${type}`}, found ${nodeType(n)}.`);
      return undefined;
    }
    return n;
  };

  const versionNode = need('version', 'integer', 1);
  if (versionNode && versionNode.value !== PLAN_VERSION) bad(versionNode, `plan version ${versionNode.value} is not supported (this tool reads version ${PLAN_VERSION}).`);
  const schemaNode = optional('$schema', 'string');
  const modelNode = need('model', 'object');
  let modelRef: PlanModelRef | undefined;
  if (modelNode) {
    const file = prop(modelNode, 'file');
    const fp = prop(modelNode, 'fingerprint');
    const size = prop(modelNode, 'byteLength');
    if (fp) fields['fingerprint'] = at(fp);
    if (file) fields['file'] = at(file);
    if (!file || file.type !== 'string' || !file.value) bad(file ?? modelNode, `'model.file' must be the model's file name.`);
    if (!fp || fp.type !== 'string' || !/^pl1:[0-9a-f]{64}$/.test(String(fp.value))) bad(fp ?? modelNode, `'model.fingerprint' must be 'pl1:' followed by 64 hex digits.`);
    if (size && !(size.type === 'number' && Number.isSafeInteger(size.value) && size.value >= 0)) bad(size, `'model.byteLength' must be a non-negative integer.`);
    if (ok && file && fp) modelRef = { file: String(file.value), fingerprint: String(fp.value), ...(size ? { byteLength: Number(size.value) } : {}) };
  }
  const targetNode = need('target', 'string');
  const devicesNode = optional('devices', 'integer', 1);
  const contextNode = need('context', 'integer', 1);
  const batchNode = need('batch', 'integer', 1);
  const kvNode = need('kvFormat', 'string');
  const defaultNode = need('defaultFormat', 'string');
  const emulatedNode = optional('allowEmulated', 'boolean');
  const measurementNode = prop(root, 'measurement');
  let measurement: PlanMeasurement | undefined;
  if (measurementNode) {
    fields['measurement'] = at(measurementNode);
    measurement = parseMeasurement(measurementNode);
    // Informational: a malformed record is ignored with a warning, never an error that blocks the plan.
    if (!measurement) add('schema', at(measurementNode), `${fileName}: 'measurement' is not a valid measurement record (ignored).`, undefined, 'warning');
  }
  let budget: PlanBudget | undefined;
  const budgetNode = prop(root, 'budget');
  if (!budgetNode) {
    ok = false;
    add('schema', index.at(root.offset, 1), `${fileName}: the required property 'budget' is missing.`);
  } else {
    fields['budget'] = at(budgetNode);
    budget = parseBudgetNode(budgetNode, (n, m) => bad(n, m));
  }
  const layersNode = need('layers', 'array');
  const entries: PlanPosition[] = [];
  const entryLayers: PlanPosition[] = [];
  const entryFormats: PlanPosition[] = [];
  const layerEntries: PlanLayerEntry[] = [];
  if (layersNode) {
    const items = layersNode.children ?? [];
    if (items.length > MAX_PLAN_ENTRIES) bad(layersNode, `'layers' has ${items.length} entries, more than the limit of ${MAX_PLAN_ENTRIES}.`);
    else
      items.forEach((item, i) => {
        entries.push(at(item));
        const ln = item.type === 'object' ? prop(item, 'layer') : undefined;
        const fn = item.type === 'object' ? prop(item, 'format') : undefined;
        entryLayers.push(at(ln ?? item));
        entryFormats.push(at(fn ?? item));
        if (item.type !== 'object') return bad(item, `layers[${i}] must be an object with 'layer' and 'format', found ${nodeType(item)}.`, i);
        for (const p of item.children ?? []) {
          const key = String(p.children?.[0]?.value);
          if (!['layer', 'format', 'pinned', 'note'].includes(key)) add('schema', at(p.children![0]!), `${fileName}: unknown property '${truncate(key)}' in layers[${i}] (ignored).`, i, 'warning');
        }
        if (!ln || ln.type !== 'string' || !ln.value) return bad(ln ?? item, `layers[${i}] needs a 'layer' name (a non-empty string).`, i);
        if (!fn || fn.type !== 'string' || !fn.value) return bad(fn ?? item, `layers[${i}] needs a 'format' id (a non-empty string).`, i);
        const pn = prop(item, 'pinned');
        const nn = prop(item, 'note');
        if (pn && pn.type !== 'boolean') return bad(pn, `layers[${i}].pinned must be true or false.`, i);
        if (nn && nn.type !== 'string') return bad(nn, `layers[${i}].note must be a string.`, i);
        layerEntries.push({ layer: String(ln.value), format: String(fn.value), ...(pn?.value === true ? { pinned: true } : {}), ...(nn ? { note: String(nn.value) } : {}) });
        return undefined;
      });
  }
  const positions: PlanPositions = { entries, entryLayers, entryFormats, fields };
  const required = [versionNode, modelRef, targetNode, contextNode, batchNode, kvNode, defaultNode, budget, layersNode];
  if (!ok || required.some((x) => x === undefined)) return { plan: undefined, diagnostics: diags, positions, text };
  const plan: PrecisionPlan = {
    ...(schemaNode ? { $schema: String(schemaNode.value) } : {}),
    version: PLAN_VERSION,
    model: modelRef!,
    target: String(targetNode!.value),
    ...(devicesNode ? { devices: Number(devicesNode.value) } : {}),
    budget: budget!,
    context: Number(contextNode!.value),
    batch: Number(batchNode!.value),
    kvFormat: String(kvNode!.value),
    defaultFormat: String(defaultNode!.value),
    ...(emulatedNode ? { allowEmulated: emulatedNode.value === true } : {}),
    ...(measurement ? { measurement } : {}),
    layers: layerEntries,
  };
  return { plan, diagnostics: diags, positions, text };
}

/** Most baselines kept from a measurement record. */
const MAX_MEASURED_BASELINES = 64;
/** Longest string kept from a measurement record. */
const MAX_MEASUREMENT_STRING = 4096;

/**
 * A measurement record, checked field by field (bounded like `layers`: entries, string lengths, finite numbers);
 * undefined when malformed. Read from the syntax tree by property name, never through a plain object built from the
 * file's keys.
 */
function parseMeasurement(n: JsonNode): PlanMeasurement | undefined {
  if (n.type !== 'object' || n.length > MAX_MEASUREMENT_TEXT_BYTES) return undefined;
  const num = (o: JsonNode | undefined, key: string): number | undefined => {
    const x = o?.type === 'object' ? prop(o, key) : undefined;
    return x?.type === 'number' && Number.isFinite(x.value) ? Number(x.value) : undefined;
  };
  const str = (o: JsonNode | undefined, key: string): string | undefined => {
    const x = o?.type === 'object' ? prop(o, key) : undefined;
    return x?.type === 'string' && String(x.value).length <= MAX_MEASUREMENT_STRING ? String(x.value) : undefined;
  };
  const items = (key: string, max: number): JsonNode[] => {
    const a = prop(n, key);
    return a?.type === 'array' ? (a.children ?? []).slice(0, max) : [];
  };
  const opt = <K extends string>(key: K, v: number | undefined): { [P in K]?: number } => (v === undefined ? {} : ({ [key]: v } as { [P in K]: number }));
  const runtime = str(n, 'runtime');
  const text = str(n, 'text');
  const measuredAt = str(n, 'measuredAt');
  const delivered = str(n, 'delivered');
  if (runtime === undefined || text === undefined || measuredAt === undefined || delivered === undefined) return undefined;
  const source = { runtime, text, measuredAt, delivered };
  const metricNode = prop(n, 'metric');
  const metric = metricNode === undefined ? 'kl' : metricNode.type === 'string' ? String(metricNode.value) : undefined;
  const planNode = prop(n, 'plan');
  if (metric === 'output-sqnr-db') {
    let plan: PlanSqnrFigures | undefined;
    if (planNode !== undefined) {
      const measured = num(planNode, 'measuredSqnrDb');
      if (measured === undefined) return undefined;
      const predictor = str(planNode, 'predictor');
      plan = { ...opt('predictedSqnrDb', num(planNode, 'predictedSqnrDb')), ...(predictor === 'static' || predictor === 'measured-layers' ? { predictor } : {}), measuredSqnrDb: measured };
    }
    const layers = items('layers', MAX_PLAN_ENTRIES).flatMap((l) => {
      const layer = str(l, 'layer');
      const format = str(l, 'format');
      const measured = num(l, 'measuredSqnrDb');
      return layer === undefined || format === undefined || measured === undefined ? [] : [{ layer, format, ...opt('predictedSqnrDb', num(l, 'predictedSqnrDb')), measuredSqnrDb: measured }];
    });
    const baselines = items('baselines', MAX_MEASURED_BASELINES).flatMap((b) => {
      const id = str(b, 'id');
      const label = str(b, 'label');
      const weightBytes = num(b, 'weightBytes');
      const measured = num(b, 'measuredSqnrDb');
      return id === undefined || label === undefined || weightBytes === undefined || measured === undefined ? [] : [{ id, label, weightBytes, measuredSqnrDb: measured }];
    });
    if (!plan && !layers.length) return undefined;
    return { metric, ...source, ...(plan ? { plan } : {}), ...(layers.length ? { layers } : {}), ...(baselines.length ? { baselines } : {}) };
  }
  if (metric !== 'kl') return undefined;
  const kl = num(planNode, 'klDivergence');
  const klStdErr = num(planNode, 'klStdErr');
  const perplexity = num(planNode, 'perplexity');
  const referencePerplexity = num(planNode, 'referencePerplexity');
  const top1Agreement = num(planNode, 'top1Agreement');
  if (kl === undefined || klStdErr === undefined || perplexity === undefined || referencePerplexity === undefined || top1Agreement === undefined) return undefined;
  const plan: PlanMeasuredFigures = { ...opt('predictedKl', num(planNode, 'predictedKl')), klDivergence: kl, klStdErr, perplexity, referencePerplexity, top1Agreement };
  const layers = items('layers', MAX_PLAN_ENTRIES).flatMap((l) => {
    const layer = str(l, 'layer');
    const format = str(l, 'format');
    return layer === undefined || format === undefined ? [] : [{ layer, format, ...opt('predictedKl', num(l, 'predictedKl')), ...opt('measuredKl', num(l, 'measuredKl')) }];
  });
  const baselines = items('baselines', MAX_MEASURED_BASELINES).flatMap((b) => {
    const id = str(b, 'id');
    const label = str(b, 'label');
    const weightBytes = num(b, 'weightBytes');
    const klDivergence = num(b, 'klDivergence');
    const bPerplexity = num(b, 'perplexity');
    if (id === undefined || label === undefined || weightBytes === undefined || klDivergence === undefined || bPerplexity === undefined) return [];
    return [{ id, label, weightBytes, klDivergence, perplexity: bPerplexity, ...opt('solverKlDivergence', num(b, 'solverKlDivergence')), ...opt('solverWeightBytes', num(b, 'solverWeightBytes')) }];
  });
  return { ...(metricNode !== undefined ? { metric: 'kl' as const } : {}), ...source, plan, ...(layers.length ? { layers } : {}), ...(baselines.length ? { baselines } : {}) };
}

function parseBudgetNode(n: JsonNode, bad: (n: JsonNode, message: string) => void): PlanBudget | undefined {
  const help = `'budget' must be "capacity", {"bytes": N or "24GB"}, {"weightBytes": N or "512MiB"} or {"avgBits": 4.5}`;
  if (n.type === 'string') {
    if (n.value === 'capacity') return 'capacity';
    bad(n, `${help}, found '${truncate(String(n.value))}'.`);
    return undefined;
  }
  if (n.type !== 'object' || (n.children ?? []).length !== 1) {
    bad(n, `${help}.`);
    return undefined;
  }
  const p = n.children![0]!;
  const key = String(p.children?.[0]?.value);
  const v = p.children?.[1];
  if (!v) return undefined;
  if (key === 'avgBits') {
    if (v.type !== 'number' || !(v.value > 0 && v.value <= 64)) {
      bad(v, `'budget.avgBits' must be a number above 0 and at most 64.`);
      return undefined;
    }
    return { avgBits: Number(v.value) };
  }
  if (key === 'bytes' || key === 'weightBytes') {
    const bytes = v.type === 'number' ? (Number.isSafeInteger(v.value) && v.value > 0 ? Number(v.value) : undefined) : v.type === 'string' ? tryParseByteSize(String(v.value)) : undefined;
    if (bytes === undefined || bytes <= 0) {
      bad(v, `'budget.${key}' must be a positive byte count or a size such as "24GB" or "512MiB".`);
      return undefined;
    }
    return key === 'bytes' ? { bytes } : { weightBytes: bytes };
  }
  bad(p, `${help}.`);
  return undefined;
}

function truncate(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
//#endregion

//#region checks against a model and target
/** What {@link checkPlan} compares the plan with. Every part is optional; missing parts skip their checks. */
export interface PlanCheckContext {
  readonly model?: Model;
  /** The model's current fingerprint (`modelFingerprint`). */
  readonly fingerprint?: string;
  /** The plan's target, resolved by the caller; undefined with `targetKnown: false` reports an unknown target. */
  readonly target?: PlanTargetFacts;
  readonly targetKnown?: boolean;
  /** Target ids to suggest when the target is unknown. */
  readonly targetIds?: readonly string[];
  /** Layer-name → fused-group key (from the solver's grouping) to warn about split groups. */
  readonly groups?: ReadonlyMap<string, string>;
  readonly fileName?: string;
}

/**
 * Checks a parsed plan against the model, its fingerprint and the target: unknown layers, duplicate
 * entries, unknown formats, compute formats the target cannot run natively, formats on non-quantizable
 * layers, stale fingerprints and fused groups with mixed formats. Returns the parse diagnostics plus these.
 */
export function checkPlan(parsed: ParsedPlan, ctx: PlanCheckContext = {}): PlanDiagnostic[] {
  const out = [...parsed.diagnostics];
  const plan = parsed.plan;
  if (!plan) return out;
  const file = ctx.fileName ?? 'plan';
  const { positions } = parsed;
  const fieldAt = (k: string): PlanPosition => positions.fields[k] ?? { offset: 0, length: 0, line: 1, column: 1 };
  const add = (d: Omit<PlanDiagnostic, 'severity'> & { severity?: 'error' | 'warning' }): void => {
    if (out.length < MAX_PLAN_DIAGNOSTICS) out.push({ severity: 'error', ...d });
  };
  const checkFormat = (id: string, pos: PlanPosition, what: string, entry?: number): NumberFormat | 'keep' | undefined => {
    if (id.toLowerCase() === KEEP_FORMAT) return 'keep';
    const f = getNumberFormat(id);
    const e = entry !== undefined ? { entry } : {};
    if (!f) {
      add({ ...pos, ...e, code: 'unknown-format', message: `${file}: ${what} uses the unknown format '${truncate(id)}'.` });
      return undefined;
    }
    if (ctx.target && f.mode === 'compute' && !ctx.target.native.includes(f.computeAs)) {
      if (plan.allowEmulated)
        add({ ...pos, ...e, code: 'emulated', severity: 'warning', message: `${file}: ${what} uses ${f.label}, which ${ctx.target.id} does not run natively; it runs emulated as ${f.fallbackCompute.toUpperCase()}.` });
      else add({ ...pos, ...e, code: 'not-native', message: `${file}: ${what} uses ${f.label}, a compute format ${ctx.target.id} cannot run natively (set "allowEmulated": true to allow it).` });
    }
    return f;
  };

  if (ctx.targetKnown === false) {
    const hint = ctx.targetIds?.length ? `; known targets include ${ctx.targetIds.slice(0, 8).join(', ')}` : '';
    add({ ...fieldAt('target'), code: 'unknown-target', message: `${file}: unknown target '${truncate(plan.target)}'${hint}.` });
  }
  if (ctx.fingerprint && ctx.fingerprint !== plan.model.fingerprint) {
    add({ ...fieldAt('fingerprint'), code: 'stale-fingerprint', message: `${file}: the plan was made for a different version of '${truncate(plan.model.file)}' (fingerprint mismatch); re-run the planner or update the fingerprint.` });
  }
  if (ctx.model && plan.model.file !== ctx.model.fileName) {
    add({ ...fieldAt('file'), code: 'other-model', severity: 'warning', message: `${file}: the plan names model '${truncate(plan.model.file)}' but is checked against '${truncate(ctx.model.fileName)}'.` });
  }
  checkFormat(plan.defaultFormat, fieldAt('defaultFormat'), "'defaultFormat'");
  const kv = getNumberFormat(plan.kvFormat);
  if (!kv) add({ ...fieldAt('kvFormat'), code: 'unknown-format', message: `${file}: 'kvFormat' uses the unknown format '${truncate(plan.kvFormat)}'.` });

  const layers = ctx.model ? new Map(ctx.model.layers.map((l) => [l.name, l])) : undefined;
  const seen = new Map<string, number>();
  const groupFormats = new Map<string, { format: string; entry: number }>();
  plan.layers.forEach((e, i) => {
    const lpos = positions.entryLayers[i]!;
    const fpos = positions.entryFormats[i]!;
    const prev = seen.get(e.layer);
    if (prev !== undefined) add({ ...lpos, entry: i, code: 'duplicate-layer', message: `${file}: layer '${truncate(e.layer)}' is listed again (first at layers[${prev}]); the last entry wins.`, severity: 'warning' });
    seen.set(e.layer, i);
    let layer: Layer | undefined;
    if (layers) {
      layer = layers.get(e.layer);
      if (!layer) {
        add({ ...lpos, entry: i, code: 'unknown-layer', message: `${file}: the model has no layer named '${truncate(e.layer)}'${suggest(e.layer, layers)}.` });
      }
    }
    const f = checkFormat(e.format, fpos, `layer '${truncate(e.layer)}'`, i);
    if (layer && f && f !== 'keep' && !layer.quantizable)
      add({ ...fpos, entry: i, code: 'not-quantizable', severity: 'warning', message: `${file}: layer '${truncate(e.layer)}' (${layer.role}) is not quantizable by default; assigning ${f.label} may hurt accuracy.` });
    const g = ctx.groups?.get(e.layer);
    if (g && f) {
      const first = groupFormats.get(g);
      const norm = f === 'keep' ? 'keep' : f.id;
      if (!first) groupFormats.set(g, { format: norm, entry: i });
      else if (first.format !== norm)
        add({ ...fpos, entry: i, code: 'fused-mismatch', severity: 'warning', message: `${file}: layer '${truncate(e.layer)}' is fused with layers[${first.entry}] (${first.format}) but uses ${norm}; fused layers must share one format.` });
    }
  });
  return out;
}

function suggest(name: string, layers: ReadonlyMap<string, Layer>): string {
  // Cheap suggestion: a layer whose name ends with or contains the given name (e.g. a missing prefix).
  if (name.length < 3) return '';
  for (const k of layers.keys()) if (k.endsWith(name) || name.endsWith(k)) return ` (did you mean '${truncate(k)}'?)`;
  return '';
}

/** True when any diagnostic is an error. */
export function hasPlanErrors(diagnostics: readonly PlanDiagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** `file:line:column: severity: message` lines for a terminal. */
export function formatPlanDiagnostics(fileName: string, diagnostics: readonly PlanDiagnostic[]): string[] {
  return diagnostics.map((d) => `${fileName}:${d.line}:${d.column}: ${d.severity}: ${d.message.startsWith(`${fileName}: `) ? d.message.slice(fileName.length + 2) : d.message}`);
}
//#endregion

//#region resolve + write
/**
 * The format of every layer with weights under the plan: listed entries (last wins), then `defaultFormat`
 * for quantizable layers, 'keep' for the rest. Format ids are canonical (aliases resolved); unknown ids are
 * kept as written (validation reports them).
 */
export function resolvePlanAssignment(plan: PrecisionPlan, model: Model): Record<string, string> {
  const canon = (id: string): string => (id.toLowerCase() === KEEP_FORMAT ? KEEP_FORMAT : (getNumberFormat(id)?.id ?? id));
  const listed = new Map<string, string>();
  for (const e of plan.layers) listed.set(e.layer, canon(e.format));
  const def = canon(plan.defaultFormat);
  const out: Record<string, string> = {};
  for (const l of model.layers) {
    if (l.byteLength === 0 && l.weight === undefined) continue;
    setOwn(out, l.name, listed.get(l.name) ?? (l.quantizable ? def : KEEP_FORMAT));
  }
  return out;
}

/** `model.onnx` → `model.onnx.precision.json`. */
export function planFileNameFor(modelFileName: string): string {
  return `${modelFileName}.precision.json`;
}

/** Serializes a plan for humans: two-space indent, one layer entry per line (easy to diff and edit). */
export function serializePlan(plan: PrecisionPlan): string {
  return [...serializePlanChunks(plan)].join('');
}

/** Entries of `layers` per chunk of {@link serializePlanChunks} (~0.3 MB of text). */
const PLAN_CHUNK_ENTRIES = 4096;

/**
 * {@link serializePlan}'s text in pieces whose concatenation is that text: the head, then the layer entries a few
 * thousand at a time, so a writer never holds the whole text, nor a string per entry, of a 200,000-layer plan (that
 * cost ~95 MB of peak memory).
 */
export function* serializePlanChunks(plan: PrecisionPlan): Generator<string> {
  const { layers, ...rest } = plan;
  const head = JSON.stringify(rest, null, 2);
  yield `${head.slice(0, -2)},\n  "layers": [`;
  for (let s = 0; s < layers.length; s += PLAN_CHUNK_ENTRIES) {
    let text = '';
    for (let i = s, end = Math.min(layers.length, s + PLAN_CHUNK_ENTRIES); i < end; i++) {
      const e = layers[i]!;
      text += `${i === 0 ? '\n' : ',\n'}    {"layer": ${JSON.stringify(e.layer)}, "format": ${JSON.stringify(e.format)}${e.pinned ? ', "pinned": true' : ''}${e.note !== undefined ? `, "note": ${JSON.stringify(e.note)}` : ''}}`;
    }
    yield text;
  }
  yield `${layers.length ? '\n  ' : ''}]\n}\n`;
}
//#endregion

//#region sizes and budgets
const UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

/** Parses '24GB', '512MiB', '1.5 TB', '1000000' into bytes (decimal units ×1000, binary units ×1024); undefined when malformed. */
export function tryParseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const v = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/** Like {@link tryParseByteSize} but throws a one-sentence Error naming the accepted forms. */
export function parseByteSize(text: string): number {
  const v = tryParseByteSize(text);
  if (v === undefined) throw new Error(`'${truncate(text)}' is not a size: use a byte count or a number with a unit such as 24GB, 512MiB or 1.5TB.`);
  return v;
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
//#endregion

//#region build
/** Inputs of {@link buildPlan}. */
export interface BuildPlanInput {
  readonly model: Model;
  readonly fingerprint: string;
  readonly target: string;
  readonly devices?: number;
  readonly budget: PlanBudget;
  readonly context: number;
  readonly batch: number;
  readonly kvFormat: string;
  readonly allowEmulated?: boolean;
  /** Layer → format id ('keep' allowed). */
  readonly assignment: Readonly<Record<string, string>>;
  /** Layers to mark pinned. */
  readonly pinned?: ReadonlySet<string>;
  /** Notes to keep, by layer. */
  readonly notes?: ReadonlyMap<string, string>;
}

/**
 * A plan document for an assignment: one entry per quantizable layer with weights (and any pinned layer), in
 * model order; `defaultFormat` 'keep'. Non-quantizable layers are left out (they stay as stored).
 */
export function buildPlan(input: BuildPlanInput): PrecisionPlan {
  const { model } = input;
  const layers: PlanLayerEntry[] = [];
  for (const l of model.layers) {
    if (l.weight === undefined || l.byteLength === 0) continue;
    const pinned = input.pinned?.has(l.name) ?? false;
    if (!l.quantizable && !pinned && (own(input.assignment, l.name) ?? KEEP_FORMAT) === KEEP_FORMAT) continue;
    const note = input.notes?.get(l.name);
    layers.push({ layer: l.name, format: own(input.assignment, l.name) ?? KEEP_FORMAT, ...(pinned ? { pinned: true } : {}), ...(note !== undefined ? { note } : {}) });
  }
  return {
    version: PLAN_VERSION,
    model: { file: model.fileName, fingerprint: input.fingerprint, byteLength: model.files.find((f) => f.path === model.fileName)?.byteLength ?? model.totalFileBytes },
    target: input.target,
    ...(input.devices !== undefined && input.devices !== 1 ? { devices: input.devices } : {}),
    budget: input.budget,
    context: input.context,
    batch: input.batch,
    kvFormat: input.kvFormat,
    defaultFormat: KEEP_FORMAT,
    ...(input.allowEmulated ? { allowEmulated: true } : {}),
    layers,
  };
}
//#endregion
