/**
 * llama-quantize's shape fallbacks, for the planner: a GGUF row whose length is not a multiple of a type's block
 * cannot hold that type, and llama-quantize (`tensor_type_fallback`, llama-quant.cpp) then stores another type
 * (256-blocks: Q2_K/Q3_K/TQ1_0/TQ2_0/Q2_0 → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0; still incompatible, or
 * no upstream rule → F16). `apply` (ggufApply.ts) writes exactly that; the solver and the baselines use
 * {@link ggufWrittenFormat} so a plan names, sizes and predicts the type that is written (stories260K's 64- and
 * 172-wide rows: a planned Q4_K layer is a Q5_0 layer, or F16 where 32 does not divide the rows either).
 */
import { weightAt, weightCount } from '../model/tensorData';
import { dtypeInfo } from '../model/dtypes';
import type { Model } from '../model/types';
import { repeatedNameOwners } from '../model/layerPositions';
import { tensorIndex } from '../model/tensorIndex';
import { getNumberFormat, KEEP_FORMAT } from '../precision/numberFormats';

/** llama-quantize `tensor_type_fallback`: the type used when rows are not a multiple of the planned type's block. */
export const GGUF_SHAPE_FALLBACK: ReadonlyMap<string, string> = new Map([
  ['q2_k', 'q4_0'], ['q3_k', 'q4_0'], ['tq1_0', 'q4_0'], ['tq2_0', 'q4_0'], ['q2_0', 'q4_0'],
  ['q4_k', 'q5_0'], ['q5_k', 'q5_1'], ['q6_k', 'q8_0'],
]);

/** The ggml dtype a tensor with rows of `rowLength` can be stored in when `dtype` is wanted (llama-quantize's rule). */
export function ggufCompatibleDtype(dtype: string, rowLength: number): string {
  const block = dtypeInfo(dtype)?.blockSize ?? 1;
  if (rowLength % block === 0) return dtype;
  const fb = GGUF_SHAPE_FALLBACK.get(dtype);
  return fb && rowLength % (dtypeInfo(fb)?.blockSize ?? 1) === 0 ? fb : 'float16';
}

/**
 * The plan format `apply` writes for a GGUF matrix with rows of `rowLength` when `formatId` is planned: the format
 * itself, or its fallback's format id ('fp16' for F16). Formats without a block constraint are returned unchanged.
 */
export function ggufWrittenFormat(formatId: string, rowLength: number): string {
  const f = getNumberFormat(formatId);
  if (!f || f.element !== 'ggml' || !f.ggmlType || rowLength % f.blockSize === 0) return formatId;
  const to = ggufCompatibleDtype(f.ggmlType, rowLength);
  return to === 'float16' ? 'fp16' : to;
}

/**
 * Row lengths of the matrices (rank ≥ 2) of each layer of a model, by position in `model.layers`: GGUF's ne[0], the
 * last dimension here. Read only: the lists of layers with one matrix are shared by row length (a 200,000-layer GGUF
 * has a handful of them), so this is one array of references (a map of 200,000 names was ~10 MB more).
 */
function rowsByPosition(model: Model): readonly (readonly number[])[] {
  const known = rowsMemo.get(model);
  if (known) return known;
  // The last tensor of each name: the model's shared name index (first of each name) when no name repeats, as in
  // every GGUF read from a file (its reader refuses a repeated name); else a map of its own.
  const index = tensorIndex(model);
  const tensors = index.size === model.tensors.length ? index : new Map(model.tensors.map((t) => [t.name, t]));
  const single = new Map<number, readonly number[]>();
  const layers = model.layers;
  const a = new Array<readonly number[]>(layers.length);
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    let rows: number[] | undefined;
    let only = -1;
    const count = weightCount(l);
    for (let k = 0; k < count; k++) {
      const t = tensors.get(weightAt(l, k)!);
      if (!t || t.shape.length < 2) continue;
      const r = t.shape[t.shape.length - 1]!;
      if (rows) rows.push(r);
      else if (only < 0) only = r;
      else rows = [only, r];
    }
    if (rows) a[i] = rows;
    else if (only < 0) a[i] = NO_ROWS;
    else {
      let shared = single.get(only);
      if (!shared) single.set(only, (shared = [only]));
      a[i] = shared;
    }
  }
  rowsMemo.set(model, a);
  return a;
}
const rowsMemo = new WeakMap<Model, readonly (readonly number[])[]>();
const NO_ROWS: readonly number[] = [];

/**
 * The rows of each layer name (the last layer of a repeated name), in the order names first appear: for lookups by
 * name, made on first use.
 */
function rowsByName(model: Model): ReadonlyMap<string, readonly number[]> {
  const m = namedRowsMemo.get(model);
  if (m) return m;
  const rows = rowsByPosition(model);
  const named = new Map<string, readonly number[]>();
  model.layers.forEach((l, i) => named.set(l.name, rows[i]!));
  namedRowsMemo.set(model, named);
  return named;
}
const namedRowsMemo = new WeakMap<Model, ReadonlyMap<string, readonly number[]>>();

/**
 * The format `apply` writes for layer `layerName` of a GGUF model planned in `formatId`: one format when every
 * matrix of the layer falls back the same way (the usual case: one matrix per layer); undefined when its matrices
 * would end up in different types. Non-GGUF models: `formatId`.
 */
export function ggufWrittenLayerFormat(model: Model, layerName: string, formatId: string): string | undefined {
  if (model.format !== 'gguf') return formatId;
  return writtenFor(rowsByName(model).get(layerName), formatId);
}

/**
 * {@link ggufWrittenLayerFormat} of the layer at `index` in `model.layers` (the same answer: the rows of the layer
 * its name names), without looking the name up: for loops over every layer.
 */
export function ggufWrittenLayerFormatAt(model: Model, index: number, formatId: string): string | undefined {
  if (model.format !== 'gguf') return formatId;
  const owners = repeatedNameOwners(model);
  return writtenFor(rowsByPosition(model)[owners ? owners[index]! : index], formatId);
}

function writtenFor(rows: readonly number[] | undefined, formatId: string): string | undefined {
  if (!rows || rows.length === 0) return formatId;
  // One format for all matrices, or undefined (no Set per call: the planner asks per layer × format).
  const first = ggufWrittenFormat(formatId, rows[0]!);
  for (let i = 1; i < rows.length; i++) if (ggufWrittenFormat(formatId, rows[i]!) !== first) return undefined;
  return first;
}

/** The fallback formats a GGUF model needs scored when `formats` are candidates (empty when every row fits). */
export function ggufFallbackFormats(model: Model, formats: readonly string[]): string[] {
  if (model.format !== 'gguf') return [];
  const out = new Set<string>();
  // One entry per layer name, as the rows by name list them.
  for (const rows of repeatedNameOwners(model) ? rowsByName(model).values() : rowsByPosition(model))
    for (const r of rows)
      for (const id of formats) {
        const w = ggufWrittenFormat(id, r);
        if (w !== id) out.add(w);
      }
  return [...out];
}

/**
 * True when every planned layer of a GGUF assignment names the type `apply` writes for it (no fallback left to
 * happen), so writing the plan with `apply` stores exactly the planned formats.
 */
export function ggufAssignmentWritten(model: Model, assignment: Readonly<Record<string, string>>): boolean {
  for (const l of model.layers) {
    const id = Object.prototype.hasOwnProperty.call(assignment, l.name) ? assignment[l.name] : undefined;
    if (id === undefined || id === KEEP_FORMAT) continue;
    if (ggufWrittenLayerFormat(model, l.name, id) !== id) return false;
  }
  return true;
}
