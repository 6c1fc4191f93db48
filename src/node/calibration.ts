/**
 * Calibration inputs for measured sensitivity: loaded from a file (.npy, .npz, ONNX TensorProto .pb, JSON) or
 * generated from the model's input specs with documented distributions.
 *
 * Generated inputs (seeded, so reruns are identical), per input by name and dtype:
 * - token ids (`input_ids`, `*ids*` integer inputs consumed by a Gather/embedding): uniform in [0, vocab), vocab =
 *   the first dimension of the embedding table the input indexes (else hyperparameters.vocabSize, else 100);
 * - `attention_mask`: ones; `position_ids`: past .. past+seq−1; `token_type_ids` and other integer ids: zeros;
 * - sample-rate scalars (`sr`, `sample_rate`, `sampling_rate`): 16000; other integer scalars: 1; bool: true;
 * - KV-cache inputs (`past*`, `*cache*`): N(0, 1) with a past length of 4; recurrent state inputs (`state`,
 *   `h0`, `c0`, `hidden`): zeros;
 * - 4-D float inputs (images): uniform [0, 1]; other float inputs: uniform [−1, 1].
 * Symbolic dimensions: batch-like names and an unnamed first dimension → 1; `past*` → 4; `total*` → past + seq;
 * sequence-like names → 8; spatial names/unnamed dims of 4-D inputs → 224; other unnamed dims → 512 (audio frames).
 * When the model rejects these sizes, or its outputs do not vary with these inputs (e.g. a model expecting pixels
 * in [0, 255]), {@link CALIBRATION_VARIANTS} lists the alternatives tried in order.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type * as NodeZlib from 'node:zlib';
import { onnxTypes } from './onnxProto';
import { dtypeInfo, floatToHalfBits, floatToBf16Bits, type Dim, type GraphValue, type Model } from '../core';
import { seededRandom } from '../core';
import { readRegularFile } from './fileByteSource';
import { CalibrationError } from './errors';

/** A plain input tensor (converted to onnxruntime tensors by ortRunner.ts). */
export interface InputTensor {
  readonly name: string;
  /** IR dtype id (float32, float16, int64, …). */
  readonly dtype: string;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | BigUint64Array | Uint32Array;
}

/** One model invocation's inputs. */
export type CalibrationSample = Readonly<Record<string, InputTensor>>;

/** Inputs and how they were obtained. */
export interface CalibrationSet {
  readonly samples: readonly CalibrationSample[];
  readonly description: string;
}

/** Sizes tried for free dimensions, in order, when the model rejects the previous ones. */
export const CALIBRATION_VARIANTS: readonly { readonly seq: number; readonly past: number; readonly spatial: number; readonly free: number; readonly imageScale: number }[] = [
  { seq: 8, past: 4, spatial: 224, free: 512, imageScale: 1 },
  // Images in [0, 255] for models trained on raw pixels (MNIST-12 and its quantized variants).
  { seq: 8, past: 4, spatial: 224, free: 512, imageScale: 255 },
  { seq: 8, past: 0, spatial: 256, free: 576, imageScale: 1 },
  { seq: 16, past: 4, spatial: 320, free: 256, imageScale: 1 },
  { seq: 4, past: 1, spatial: 32, free: 16, imageScale: 1 },
  { seq: 1, past: 1, spatial: 64, free: 1, imageScale: 1 },
];


/** Inputs the caller must feed: main-graph inputs that are not initializers. */
export function modelInputs(model: Model): GraphValue[] {
  const g = model.graphs[0];
  if (!g) return [];
  const inits = new Set(g.initializers);
  return g.inputs.filter((i) => !inits.has(i.name));
}

/** First dimension of the embedding table that `input` indexes (Gather data, EmbedLayerNormalization word embedding). */
function vocabFor(model: Model, input: string): number | undefined {
  const byName = new Map(model.tensors.map((t) => [t.name, t]));
  for (const g of model.graphs) {
    for (const n of g.nodes) {
      const idx = n.inputs.indexOf(input);
      if (idx < 0) continue;
      if (n.op === 'Gather' && idx === 1) {
        const t = byName.get(n.inputs[0] ?? '');
        if (t && t.shape.length >= 1) return t.shape[0];
      }
      // Any other consumer: the largest-first-dim rank-2 initializer among its inputs (fused embedding ops).
      let best: number | undefined;
      for (const name of n.inputs) {
        const t = byName.get(name);
        if (t && t.shape.length === 2 && (best === undefined || t.shape[0]! > best)) best = t.shape[0];
      }
      if (best !== undefined) return best;
    }
  }
  return model.hyperparameters.vocabSize;
}

const isName = (name: string, re: RegExp): boolean => re.test(name.toLowerCase());

function resolveDims(value: GraphValue, variant: (typeof CALIBRATION_VARIANTS)[number]): number[] {
  const shape = value.shape ?? [];
  const rank = shape.length;
  const isPast = isName(value.name, /past|cache/);
  return shape.map((d: Dim, i) => {
    if (typeof d === 'number' && d > 0) return d;
    const n = typeof d === 'string' ? d.toLowerCase() : '';
    if (n === '') {
      if (i === 0 && !(isPast && rank >= 5)) return 1;
      if (isName(value.name, /state|h0|c0|hidden/)) return 1;
      return rank === 4 ? variant.spatial : variant.free;
    }
    if (/batch|^n$|^b$/.test(n)) return 1;
    if (/past/.test(n)) return variant.past;
    if (/total|all_seq|kv_seq/.test(n)) return variant.seq + variant.past;
    if (/seq|len|token|time|step|^s\d+$/.test(n)) return variant.seq;
    if (/height|width|^h$|^w$|size/.test(n)) return variant.spatial;
    return rank === 4 ? variant.spatial : variant.seq;
  });
}

function typedFor(dtype: string, n: number): InputTensor['data'] {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'float16':
    case 'bfloat16': return new Uint16Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'uint64': return new BigUint64Array(n);
    case 'int32': return new Int32Array(n);
    case 'uint32': return new Uint32Array(n);
    case 'int16': return new Int16Array(n);
    case 'uint16': return new Uint16Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8':
    case 'bool': return new Uint8Array(n);
    default: throw new CalibrationError(`input dtype '${dtype}' is not supported for calibration`);
  }
}

/** Writes number `v` into element i of a typed array of `dtype`. */
export function setElement(data: InputTensor['data'], dtype: string, i: number, v: number): void {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = BigInt(Math.round(v));
  else if (dtype === 'float16') (data as Uint16Array)[i] = floatToHalfBits(v);
  else if (dtype === 'bfloat16') (data as Uint16Array)[i] = floatToBf16Bits(v);
  else (data as Float32Array)[i] = v;
}

/**
 * Generates `count` calibration samples for `model` (variant = index into {@link CALIBRATION_VARIANTS}).
 * Throws when an input has a dtype that cannot be generated (strings, sequences, maps).
 */
export function generateCalibrationInputs(model: Model, count = 4, seed = 1, variantIndex = 0): CalibrationSet {
  const variant = CALIBRATION_VARIANTS[Math.min(variantIndex, CALIBRATION_VARIANTS.length - 1)]!;
  const rand = seededRandom(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const inputs = modelInputs(model);
  const notes: string[] = [];
  const samples: CalibrationSample[] = [];
  for (let s = 0; s < count; s++) {
    const sample: Record<string, InputTensor> = {};
    for (const inp of inputs) {
      const dtype = inp.dtype ?? 'float32';
      const dims = resolveDims(inp, variant);
      const n = dims.reduce((a, b) => a * b, 1);
      const data = typedFor(dtype, n);
      const kind = dtypeInfo(dtype)?.kind;
      const name = inp.name.toLowerCase();
      let how: string;
      if (kind === 'bool') {
        data.fill(1 as never);
        how = 'true';
      } else if (kind === 'int' || kind === 'uint') {
        if (/attention_mask|mask/.test(name)) {
          for (let i = 0; i < n; i++) setElement(data, dtype, i, 1);
          how = 'ones';
        } else if (/position/.test(name)) {
          const last = dims[dims.length - 1] ?? 1;
          for (let i = 0; i < n; i++) setElement(data, dtype, i, variant.past + (i % last));
          how = `positions ${variant.past}..`;
        } else if (/^(sr|sample_rate|sampling_rate)$/.test(name)) {
          for (let i = 0; i < n; i++) setElement(data, dtype, i, 16000);
          how = '16000';
        } else if (/ids|input|token/.test(name) && !/type|segment/.test(name)) {
          const vocab = Math.max(1, vocabFor(model, inp.name) ?? 100);
          for (let i = 0; i < n; i++) setElement(data, dtype, i, Math.floor(rand() * vocab));
          how = `uniform token ids in [0, ${vocab})`;
        } else if (dims.length === 0 || n === 1) {
          setElement(data, dtype, 0, 1);
          how = '1';
        } else how = 'zeros';
      } else if (/past|cache/.test(name)) {
        for (let i = 0; i < n; i++) setElement(data, dtype, i, gauss());
        how = `N(0,1), past length ${variant.past}`;
      } else if (/state|h0|c0|hidden/.test(name)) {
        how = 'zeros';
      } else if (dims.length === 4) {
        for (let i = 0; i < n; i++) setElement(data, dtype, i, rand() * variant.imageScale);
        how = `uniform [0,${variant.imageScale}]`;
      } else {
        for (let i = 0; i < n; i++) setElement(data, dtype, i, rand() * 2 - 1);
        how = 'uniform [-1,1]';
      }
      sample[inp.name] = { name: inp.name, dtype, dims, data };
      if (s === 0) notes.push(`${inp.name}[${dims.join('×')}] ${how}`);
    }
    samples.push(sample);
  }
  return { samples, description: `generated (${count} samples, seed ${seed}): ${notes.join('; ')}` };
}

//#region files

const NPY_DTYPES: Readonly<Record<string, string>> = {
  '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '<i8': 'int64', '<i4': 'int32', '<i2': 'int16', '|i1': 'int8', '<u8': 'uint64',
  '<u4': 'uint32', '<u2': 'uint16', '|u1': 'uint8', '|b1': 'bool',
};
/** Largest calibration file accepted (threat: a multi-GB file loaded into memory). */
export const MAX_CALIBRATION_BYTES = 512 * 1024 * 1024;

/** Parses a .npy file (format 1.0–3.0, little-endian, C order). */
export function parseNpy(bytes: Uint8Array, name: string): InputTensor {
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== '\x93NUMPY') throw new CalibrationError(`${name}: not a .npy file`);
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw new CalibrationError(`${name}: truncated .npy header`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!descr || !NPY_DTYPES[descr] || fortran || dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new CalibrationError(`${name}: unsupported .npy array (${descr ?? '?'}${fortran ? ', Fortran order' : ''})`);
  const dtype = NPY_DTYPES[descr]!;
  const n = dims.reduce((a, b) => a * b, 1);
  const size = dtypeInfo(dtype)!.bytesPerBlock;
  const off = start + headerLen;
  if (off + n * size > bytes.length) throw new CalibrationError(`${name}: .npy data is truncated`);
  const raw = bytes.slice(off, off + n * size);
  return { name, dtype, dims, data: viewAs(dtype, raw.buffer, n) };
}

function viewAs(dtype: string, buf: ArrayBuffer, n: number): InputTensor['data'] {
  switch (dtype) {
    case 'float32': return new Float32Array(buf, 0, n);
    case 'float64': return new Float64Array(buf, 0, n);
    case 'float16':
    case 'bfloat16':
    case 'uint16': return new Uint16Array(buf, 0, n);
    case 'int64': return new BigInt64Array(buf, 0, n);
    case 'uint64': return new BigUint64Array(buf, 0, n);
    case 'int32': return new Int32Array(buf, 0, n);
    case 'uint32': return new Uint32Array(buf, 0, n);
    case 'int16': return new Int16Array(buf, 0, n);
    case 'int8': return new Int8Array(buf, 0, n);
    default: return new Uint8Array(buf, 0, n);
  }
}

/** Entries of a .npz (ZIP, stored or deflated), parsed from the central directory with bounds checks. */
export function parseNpz(bytes: Uint8Array, fileName: string): InputTensor[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65557); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new CalibrationError(`${fileName}: not a .npz (ZIP) file`);
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const out: InputTensor[] = [];
  // Threat (issue 14): entries pointing at one shared compressed stream each inflated to the per-entry cap (2 GB in
  // all). Each entry must have its own data, and the decompressed total shares one budget.
  const seenLocal = new Set<number>();
  let budget = MAX_CALIBRATION_BYTES;
  for (let k = 0; k < count; k++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== 0x02014b50) throw new CalibrationError(`${fileName}: bad ZIP central directory`);
    const method = dv.getUint16(p + 10, true);
    const compSize = dv.getUint32(p + 20, true);
    const nameLen = dv.getUint16(p + 28, true), extraLen = dv.getUint16(p + 30, true), commentLen = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true);
    const entryName = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length) throw new CalibrationError(`${fileName}: bad ZIP entry offset`);
    if (seenLocal.has(local)) throw new CalibrationError(`${fileName}: ZIP entries share one data stream (entry '${entryName.slice(0, 80)}'); refusing a decompression bomb`);
    seenLocal.add(local);
    const dataStart = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (dataStart + compSize > bytes.length) throw new CalibrationError(`${fileName}: ZIP entry '${entryName}' is truncated`);
    const comp = bytes.subarray(dataStart, dataStart + compSize);
    let raw: Uint8Array | undefined;
    try {
      // node:zlib is loaded on first use: the CLI bundles every command, and `inspect` never inflates.
      raw = method === 0 ? comp : method === 8 ? new Uint8Array((require('node:zlib') as typeof NodeZlib).inflateRawSync(comp, { maxOutputLength: Math.max(1, budget) })) : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new CalibrationError(`${fileName}: the entries decompress to more than the limit of ${MAX_CALIBRATION_BYTES} bytes in all`);
      throw new CalibrationError(`${fileName}: ZIP entry '${entryName.slice(0, 80)}' does not decompress (${(e as Error).message.split('\n')[0]})`);
    }
    if (!raw) throw new CalibrationError(`${fileName}: ZIP compression method ${method} is not supported`);
    budget -= raw.length;
    if (budget < 0) throw new CalibrationError(`${fileName}: the entries decompress to more than the limit of ${MAX_CALIBRATION_BYTES} bytes in all`);
    out.push(parseNpy(raw, entryName.replace(/\.npy$/, '')));
  }
  return out;
}

/** Decodes an ONNX TensorProto (.pb) into an input tensor (raw_data or typed fields). */
export function parseTensorProto(bytes: Uint8Array, fileName: string): InputTensor {
  // Generated descriptor (snake_case fields); longs may arrive as Long objects, hence Number(String(v)).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const t = onnxTypes().Tensor.decode(bytes) as any;
  const dtypeNames: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16' };
  const dtype = dtypeNames[Number(t.data_type ?? 0)];
  if (!dtype) throw new CalibrationError(`${fileName}: TensorProto data_type ${t.data_type} is not supported`);
  const dims = ((t.dims ?? []) as unknown[]).map((d) => Number(String(d)));
  if (dims.length > 16 || dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new CalibrationError(`${fileName}: TensorProto dims [${dims.slice(0, 16).join(', ')}] are invalid`);
  const n = dims.reduce((a, b) => a * b, 1);
  const name = t.name || path.basename(fileName, '.pb');
  const raw: Uint8Array | undefined = t.raw_data && t.raw_data.length ? t.raw_data : undefined;
  const src: ArrayLike<number | { toString(): string }> = dtype === 'float32' ? (t.float_data ?? []) : dtype === 'float64' ? (t.double_data ?? []) : dtype === 'int64' ? (t.int64_data ?? []) : dtype === 'uint64' || dtype === 'uint32' ? (t.uint64_data ?? []) : (t.int32_data ?? []);
  // Untrusted: the element count must be backed by stored values before anything is allocated for it.
  const stored = raw ? raw.length / Math.max(1, bytesPerElement(dtype)) : src.length;
  if (!Number.isSafeInteger(n) || n !== stored) throw new CalibrationError(`${fileName}: TensorProto dims [${dims.join(', ')}] need ${n} values but ${stored} are stored`);
  if (raw) return { name, dtype, dims, data: viewAs(dtype, raw.slice().buffer, n) };
  const data = typedFor(dtype, n);
  for (let i = 0; i < n; i++) {
    const v = Number(String(src[i] ?? 0));
    if (dtype === 'float16' || dtype === 'bfloat16') (data as Uint16Array)[i] = v;
    else setElement(data, dtype, i, v);
  }
  return { name, dtype, dims, data };
}

function bytesPerElement(dtype: string): number {
  return { float32: 4, uint8: 1, int8: 1, uint16: 2, int16: 2, int32: 4, int64: 8, bool: 1, float16: 2, float64: 8, uint32: 4, uint64: 8, bfloat16: 2 }[dtype] ?? 1;
}

function fromJson(value: unknown, name: string, dtypeHint: string | undefined): InputTensor {
  let dims: number[] = [];
  let flat: number[];
  let dtype = dtypeHint ?? 'float32';
  if (value && typeof value === 'object' && !Array.isArray(value) && 'data' in value) {
    const v = value as { data: unknown; dims?: number[]; shape?: number[]; dtype?: string };
    dtype = v.dtype ?? dtype;
    flat = (v.data as unknown[]).flat(Infinity as 1) as number[];
    dims = v.dims ?? v.shape ?? [flat.length];
  } else {
    let cur: unknown = value;
    while (Array.isArray(cur)) {
      dims.push(cur.length);
      cur = cur[0];
    }
    flat = Array.isArray(value) ? ((value as unknown[]).flat(Infinity as 1) as number[]) : [Number(value)];
  }
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== flat.length) throw new CalibrationError(`input '${name}': dims ${dims.join('×')} do not match ${flat.length} values`);
  const data = typedFor(dtype, n);
  for (let i = 0; i < n; i++) setElement(data, dtype, i, Number(flat[i]));
  return { name, dtype, dims, data };
}

/**
 * Loads calibration inputs from `file` and completes every sample with generated values for inputs the file does
 * not give. A single unnamed array (.npy, or a .pb without a name) feeds the model's first input.
 * JSON: `{ "input": [[…]] }` or `[{…}, {…}]` (several samples); a value may be `{ "data", "dims", "dtype" }`.
 */
export async function loadCalibrationInputs(file: string, model: Model, seed = 1): Promise<CalibrationSet> {
  const st = await fs.stat(file);
  if (st.size > MAX_CALIBRATION_BYTES) throw new CalibrationError(`${path.basename(file)}: calibration file of ${st.size} bytes exceeds the limit of ${MAX_CALIBRATION_BYTES}`);
  const bytes = await readRegularFile(file, MAX_CALIBRATION_BYTES);
  const base = path.basename(file);
  const inputs = modelInputs(model);
  const dtypeOf = new Map(inputs.map((i) => [i.name, i.dtype]));
  const first = inputs[0]?.name ?? 'input';
  let given: Record<string, InputTensor>[];
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') given = [{ [first]: { ...parseNpy(bytes, first), name: first } }];
  else if (ext === '.npz') given = [Object.fromEntries(parseNpz(bytes, base).map((t) => [t.name, t]))];
  else if (ext === '.pb') {
    const t = parseTensorProto(bytes, base);
    const name = dtypeOf.has(t.name) ? t.name : first;
    given = [{ [name]: { ...t, name } }];
  } else if (ext === '.json') {
    const json: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const list = Array.isArray(json) && json.length && typeof json[0] === 'object' && !Array.isArray(json[0]) ? (json as Record<string, unknown>[]) : [json as Record<string, unknown>];
    given = list.map((obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fromJson(v, k, dtypeOf.get(k))])));
  } else throw new CalibrationError(`${base}: calibration inputs must be .npy, .npz, .pb (TensorProto) or .json`);
  const generated = generateCalibrationInputs(model, given.length, seed);
  const samples = given.map((g, i) => ({ ...generated.samples[i]!, ...Object.fromEntries(Object.entries(g).filter(([k]) => dtypeOf.has(k))) }));
  const unknown = Object.keys(given[0] ?? {}).filter((k) => !dtypeOf.has(k));
  const filled = inputs.filter((i) => !(i.name in (given[0] ?? {}))).map((i) => i.name);
  return {
    samples,
    description: `${base} (${samples.length} sample${samples.length === 1 ? '' : 's'})${filled.length ? `; generated: ${filled.join(', ')}` : ''}${unknown.length ? `; ignored unknown inputs: ${unknown.join(', ')}` : ''}`,
  };
}

//#endregion
