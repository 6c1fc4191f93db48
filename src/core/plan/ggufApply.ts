/**
 * Applying a precision plan to a GGUF model: which ggml type each tensor gets, what the new header says, and how
 * one chunk of rows is converted. Pure: the caller streams bytes (src/node/applyGguf.ts) and writes the file.
 *
 * Per tensor:
 * - A tensor of a planned layer with rank ≥ 2 gets the plan format's ggml type (fp32/fp16/bf16 → F32/F16/BF16,
 *   a ggml format → its type, `binary` → Q1_0, whose simulation is the same). Other plan formats (int8, NVFP4, …)
 *   have no ggml encoding here and are refused with that reason.
 * - A row length that is not a multiple of the type's block falls back the way llama-quantize's
 *   `tensor_type_fallback` does (256-blocks: Q2_K/Q3_K/TQ1_0/TQ2_0/Q2_0 → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1,
 *   Q6_K → Q8_0; still incompatible, or no upstream rule (Q1_0) → F16), with a note.
 * - Sources F32/F16/BF16/Q8_0 are decoded exactly and quantized by ggml's reference rounding (ggmlQuants.ts).
 *   Any other source type would compound two quantization errors: refused with the reason unless `force`.
 *   A tensor whose type does not change is copied byte for byte (never re-quantized).
 * - Everything else (1-D norms, unplanned tensors, `keep`) is copied byte for byte.
 * Header: every metadata entry is copied verbatim, `general.file_type` is set to the llama_ftype of the most
 * common type among the written matrices (llama.h LLAMA_FTYPE_*; K-quants as their _M mix, the name llama.cpp
 * prints), `general.quantization_version` = 2 (GGML_QNT_VERSION) is added when a quantized type is written and it
 * is missing; `general.alignment` is kept, so the data section keeps the input's alignment.
 */
import { layerWeights } from '../model/tensorData';
import { decodeElements } from '../precision/decode';
import { getNumberFormat } from '../precision/numberFormats';
import { isGgmlWritable, quantizeGgml } from '../precision/ggmlQuants';
import { KEEP_FORMAT } from './planFile';
import { ggufCompatibleDtype } from './ggufFallback';
import { dtypeInfo, storedByteLength } from '../model/dtypes';
import type { GgufHeader } from '../formats/gguf/reader';
import { encodeGgufU32, GGUF_VALUE_TYPE, layoutGguf, type GgufKvOut, type GgufLayout, type GgufTensorOut } from '../formats/gguf/writer';
import { ggmlType } from '../formats/gguf/ggmlTypes';

/** Why a GGUF apply was refused (adapters map codes to exit status and UI). */
export type GgufApplyErrorCode = 'requantize' | 'unsupported-format' | 'no-encoder';

/** A plan cannot be applied as asked. */
export class GgufApplyError extends Error {
  readonly code: GgufApplyErrorCode;
  constructor(code: GgufApplyErrorCode, message: string) {
    super(message);
    this.name = 'GgufApplyError';
    this.code = code;
  }
}

/** What happens to one tensor. */
export interface GgufApplyTensor {
  readonly name: string;
  /** `ne[]`, row first. */
  readonly ne: readonly number[];
  readonly sourceDtype: string;
  readonly targetDtype: string;
  /** 'copy': bytes verbatim; 'convert': decoded and re-encoded. */
  readonly action: 'copy' | 'convert';
  /** Plan format id that asked for this tensor's type, when planned. */
  readonly format?: string;
  readonly note?: string;
  /** Absolute offset of the source data in the input file. */
  readonly sourceOffset: number;
  readonly sourceBytes: number;
}

/** Everything the writer needs. */
export interface GgufApplyPlan {
  readonly tensors: readonly GgufApplyTensor[];
  readonly layout: GgufLayout;
  /** llama_ftype written to general.file_type. */
  readonly fileType: number;
  readonly fileTypeName: string;
  readonly warnings: readonly string[];
}

/** Options for {@link planGgufApply}. */
export interface GgufApplyOptions {
  /** Re-quantize tensors already stored in a low type (Q4_K → Q4_0 …). Default false: refused with the reason. */
  readonly force?: boolean;
}

/** Source types that are exact enough to quantize from (F32/F16/BF16 are the originals; Q8_0 is near-lossless). */
const CLEAN_SOURCES: ReadonlySet<string> = new Set(['float32', 'float16', 'bfloat16', 'q8_0']);

/** llama.h `enum llama_ftype` for a model that is "mostly" this type (K-quants: the _M mixes). */
const LLAMA_FTYPE: ReadonlyMap<string, readonly [number, string]> = new Map([
  ['float32', [0, 'ALL_F32']],
  ['float16', [1, 'MOSTLY_F16']],
  ['q4_0', [2, 'MOSTLY_Q4_0']],
  ['q4_1', [3, 'MOSTLY_Q4_1']],
  ['q8_0', [7, 'MOSTLY_Q8_0']],
  ['q5_0', [8, 'MOSTLY_Q5_0']],
  ['q5_1', [9, 'MOSTLY_Q5_1']],
  ['q2_k', [10, 'MOSTLY_Q2_K']],
  ['q3_k', [12, 'MOSTLY_Q3_K_M']],
  ['q4_k', [15, 'MOSTLY_Q4_K_M']],
  ['q5_k', [17, 'MOSTLY_Q5_K_M']],
  ['q6_k', [18, 'MOSTLY_Q6_K']],
  ['iq4_nl', [25, 'MOSTLY_IQ4_NL']],
  ['bfloat16', [32, 'MOSTLY_BF16']],
  ['tq1_0', [36, 'MOSTLY_TQ1_0']],
  ['tq2_0', [37, 'MOSTLY_TQ2_0']],
  ['q1_0', [40, 'MOSTLY_Q1_0']],
  ['q2_0', [41, 'MOSTLY_Q2_0']],
] as const);

/** ggml dtype that stores a plan format, or undefined when it has none here. */
export function ggmlDtypeForFormat(formatId: string): string | undefined {
  const f = getNumberFormat(formatId);
  if (!f) return undefined;
  if (f.id === 'fp32') return 'float32';
  if (f.id === 'fp16') return 'float16';
  if (f.id === 'bf16') return 'bfloat16';
  if (f.id === 'binary') return 'q1_0';
  if (f.element === 'ggml' && f.ggmlType && isGgmlWritable(f.ggmlType)) return f.ggmlType;
  return undefined;
}

function label(dtype: string): string {
  return dtypeInfo(dtype)?.label ?? dtype;
}

/** The type a tensor with rows of `rowLength` can actually be stored in, and why when it differs. */
function compatibleType(dtype: string, rowLength: number): { dtype: string; note?: string } {
  const to = ggufCompatibleDtype(dtype, rowLength);
  if (to === dtype) return { dtype };
  return { dtype: to, note: `rows of ${rowLength} are not a multiple of ${label(dtype)}'s block of ${dtypeInfo(dtype)!.blockSize}; stored as ${label(to)} (llama-quantize's fallback)` };
}

/**
 * Decides every tensor's stored type and builds the new header. Throws {@link GgufApplyError} when a planned
 * format has no ggml encoding, or a low-precision source would be re-quantized without `force`.
 */
export function planGgufApply(
  header: GgufHeader,
  assignment: Readonly<Record<string, string>>,
  copiedValues: ReadonlyMap<string, Uint8Array>,
  options: GgufApplyOptions = {},
): GgufApplyPlan {
  const { model } = header;
  const warnings: string[] = [];
  const planned = new Map<string, string>();
  for (const layer of model.layers) {
    const id = assignment[layer.name];
    if (id === undefined || id === KEEP_FORMAT) continue;
    for (const w of layerWeights(layer)) planned.set(w, id);
  }
  const byName = new Map(model.tensors.map((t) => [t.name, t]));
  const unsupported = new Map<string, number>();
  const requantized: string[] = [];
  const fallbacks = new Map<string, { note: string; names: string[] }>();
  const tensors: GgufApplyTensor[] = header.tensors.map((entry) => {
    const t = byName.get(entry.name)!;
    const sourceDtype = ggmlType(entry.ggmlType)!.dtype;
    const base = { name: entry.name, ne: entry.ne, sourceDtype, sourceOffset: t.file !== undefined ? t.byteOffset : header.dataOffset + entry.offset, sourceBytes: t.byteLength };
    const formatId = planned.get(entry.name);
    if (formatId === undefined || entry.ne.length < 2) return { ...base, targetDtype: sourceDtype, action: 'copy' as const };
    const wanted = ggmlDtypeForFormat(formatId);
    if (!wanted) {
      unsupported.set(formatId, (unsupported.get(formatId) ?? 0) + 1);
      return { ...base, targetDtype: sourceDtype, action: 'copy' as const, format: formatId };
    }
    const fit = compatibleType(wanted, entry.ne[0]!);
    if (fit.dtype === sourceDtype) return { ...base, targetDtype: sourceDtype, action: 'copy' as const, format: formatId, ...(fit.note ? { note: fit.note } : {}) };
    if (!CLEAN_SOURCES.has(sourceDtype)) {
      if (!options.force) requantized.push(`${entry.name} (${label(sourceDtype)} → ${label(fit.dtype)})`);
      else warnings.push(`Tensor '${entry.name}' was ${label(sourceDtype)} and is re-quantized to ${label(fit.dtype)} (--force): its error adds to the original's.`);
    }
    if (fit.note) {
      const key = `${wanted}|${fit.dtype}|${entry.ne[0]}`;
      const g = fallbacks.get(key) ?? { note: fit.note, names: [] };
      g.names.push(entry.name);
      fallbacks.set(key, g);
    }
    return { ...base, targetDtype: fit.dtype, action: 'convert' as const, format: formatId, ...(fit.note ? { note: fit.note } : {}) };
  });
  for (const { note, names } of fallbacks.values()) {
    warnings.push(`${names.length === 1 ? `Tensor '${names[0]}'` : `${names.length} tensors (e.g. '${names[0]}')`}: ${note}.`);
  }
  if (unsupported.size > 0) {
    const list = [...unsupported].map(([id, n]) => `'${id}' (${n} tensor${n === 1 ? '' : 's'})`).join(', ');
    throw new GgufApplyError('unsupported-format', `${model.fileName}: the plan uses ${list}, which GGUF cannot store; use a ggml type (q8_0, q6_k, q5_k, q4_k, q4_0, …), fp16, bf16 or fp32.`);
  }
  if (requantized.length > 0) {
    const shown = requantized.slice(0, 3).join(', ') + (requantized.length > 3 ? ` and ${requantized.length - 3} more` : '');
    throw new GgufApplyError('requantize', `${model.fileName}: ${shown} ${requantized.length === 1 ? 'is' : 'are'} already stored in a low-precision type; quantizing again compounds both errors (quantize from the F32/F16/BF16/Q8_0 original, or pass --force).`);
  }
  const { fileType, fileTypeName } = chooseFileType(tensors);
  const kvs = headerEntries(header, fileType, tensors.some((t) => dtypeInfo(t.targetDtype)?.kind === 'quantized'), copiedValues);
  const outTensors: GgufTensorOut[] = tensors.map((t) => ({ name: t.name, ne: t.ne, dtype: t.targetDtype }));
  const layout = layoutGguf(header.version, kvs, outTensors, header.alignment);
  return { tensors, layout, fileType, fileTypeName, warnings };
}

/** The llama_ftype of the most common stored type among matrices (ties: more bytes wins). */
function chooseFileType(tensors: readonly GgufApplyTensor[]): { fileType: number; fileTypeName: string } {
  const count = new Map<string, { n: number; bytes: number }>();
  for (const t of tensors) {
    if (t.ne.length < 2) continue;
    const c = count.get(t.targetDtype) ?? { n: 0, bytes: 0 };
    let elements = 1;
    for (const d of t.ne) elements *= d;
    count.set(t.targetDtype, { n: c.n + 1, bytes: c.bytes + (storedByteLength(t.targetDtype, elements) ?? 0) });
  }
  const best = [...count].filter(([d]) => LLAMA_FTYPE.has(d)).sort((a, b) => b[1].n - a[1].n || b[1].bytes - a[1].bytes)[0];
  const [fileType, name] = LLAMA_FTYPE.get(best?.[0] ?? 'float32')!;
  return { fileType, fileTypeName: `LLAMA_FTYPE_${name}` };
}

/** Source metadata, verbatim, with general.file_type replaced (or added) and general.quantization_version added. */
function headerEntries(header: GgufHeader, fileType: number, quantized: boolean, copied: ReadonlyMap<string, Uint8Array>): GgufKvOut[] {
  const out: GgufKvOut[] = [];
  let sawFileType = false, sawQuantVersion = false;
  for (const kv of header.kvs) {
    if (kv.key === 'general.file_type') {
      sawFileType = true;
      out.push({ key: kv.key, valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(fileType) });
      continue;
    }
    if (kv.key === 'general.quantization_version') sawQuantVersion = true;
    const value = copied.get(kv.key);
    if (!value || value.length !== kv.valueEnd - kv.valueOffset) throw new RangeError(`metadata '${kv.key}' was not read from the input`);
    out.push({ key: kv.key, valueType: kv.valueType, value });
  }
  if (!sawFileType) out.push({ key: 'general.file_type', valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(fileType) });
  if (quantized && !sawQuantVersion) out.push({ key: 'general.quantization_version', valueType: GGUF_VALUE_TYPE.UINT32, value: encodeGgufU32(2) });
  return out;
}

/** Metadata value spans the caller reads from the input (verbatim copies) before {@link planGgufApply}. */
export function copiedKvSpans(header: GgufHeader): readonly { key: string; offset: number; end: number }[] {
  return header.kvs.filter((kv) => kv.key !== 'general.file_type').map((kv) => ({ key: kv.key, offset: kv.valueOffset, end: kv.valueEnd }));
}

/** Elements per row and rows of a tensor (`ne[0]` is the row). */
export function ggufRows(ne: readonly number[]): { rowLength: number; rows: number } {
  const rowLength = ne.length > 0 ? ne[0]! : 1;
  let rows = 1;
  for (let i = 1; i < ne.length; i++) rows *= ne[i]!;
  return { rowLength, rows };
}

/** Converts whole rows stored as `sourceDtype` into `targetDtype` bytes (exact decode, ggml reference quantizer). */
export function convertGgufRows(sourceDtype: string, bytes: Uint8Array, elementCount: number, targetDtype: string): Uint8Array {
  const values = decodeElements(sourceDtype, bytes, elementCount);
  return quantizeGgml(targetDtype, values);
}
