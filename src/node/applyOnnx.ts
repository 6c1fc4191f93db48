/**
 * Applies a precision plan to an ONNX model: writes a NEW .onnx file (never the input) whose weights follow the
 * plan, loadable by ONNX Runtime. Full decode/encode with protobufjs and the project's ONNX descriptor
 * (src/core/formats/onnx/gen/onnx.schema.json), which is fine for apply: the whole model is held in memory.
 *
 * Per assigned layer, the main weight and its other matrix weights (rank ≥ 2; biases stay) are rewritten:
 * - fp16 / bf16: stored as FLOAT16 / BFLOAT16 under a new name, and a Cast back to the original type produces
 *   the original value name, so every consumer still type-checks.
 * - int8 / int8_tensor / w8a8 (weight-only here): INT8 codes + FP32 scales per output channel (or one per
 *   tensor) → DequantizeLinear (opset ≥ 13 for the axis).
 * - int4 / int4_g64 / int4_g32 / w4a4: INT4 codes, FP16 scale per block along the input axis → Cast(scale) →
 *   DequantizeLinear with `block_size` (opset 21, IR 10). FP16 scales keep the file at the format's size; the
 *   Cast makes the arithmetic FP32, bit-identical to core's fakeQuantize.
 * - fp8_e4m3: FLOAT8E4M3FN codes + FP32 per-tensor scale → DequantizeLinear (opset 19).
 * - any other format (MX, NVFP4, NF4, ggml types, FP8 variants ORT lacks): *simulated*, i.e. the fake-quantized
 *   values are stored in the original dtype, so measured accuracy is the format's but the file is not smaller.
 * Codes follow quantize.ts exactly (output channel = shape[0], MatMul/Gemm [K, N] weights transposed first,
 * blocks along each row, symmetric, RNE), so the stored numbers equal `fakeQuantize`'s.
 *
 * Opset: when a rewrite needs a newer default-domain opset the model is converted: ops whose signature changed
 * (Squeeze/Unsqueeze/Reduce*\/Split axes attributes → inputs, Clip/Pad/Slice/TopK attributes → inputs, Dropout →
 * Identity, Softmax family on the last axis, GridSample mode names) are rewritten in every graph; a model
 * with an op that cannot be converted is refused with the op's name.
 *
 * External data: when the tensors exceed `externalDataThresholdBytes` (default 2 GiB − 16 MiB, under
 * protobuf's 2 GiB message limit) every tensor of ≥ 1 KiB goes to `<output>.data` (4 KiB aligned) with
 * location/offset/length entries. External data of the input is read from inside the model's folder only.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { onnxTypes } from './onnxProto';
import {
  own, KEEP_FORMAT, layerWeights, UniqueNames, appendAll, maxOf, MINI_FLOATS, compareOutputs, fakeQuantize, floatToBf16Bits, floatToHalfBits, getNumberFormat, halfToFloatTable, miniFloatToNumber,
  quantizationLayout, roundMiniFloat, toHalf, transpose2d, type Model, type NumberFormat, type TensorInfo,
} from '../core';
import { CALIBRATION_VARIANTS, generateCalibrationInputs, type CalibrationSample } from './calibration';
import { FolderSiblings, readRegularFile } from './fileByteSource';
import { OutputError, refuseInputAliases, writeOutputFiles, type OutputFile } from './safeOutput';
import { createSession, releaseSession, runSamples, type RunOutputs } from './ortRunner';
import { ApplyError, RuntimeError } from './errors';

//#region protobuf
/* eslint-disable @typescript-eslint/no-explicit-any */
type Msg = any;
const types = onnxTypes;

/** TensorProto.DataType values used here. */
const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT64: 7, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16, FLOAT8E4M3FN: 17, INT4: 22 } as const;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, GRAPHS: 10 } as const;

const num = (v: unknown): number => (v === undefined || v === null ? 0 : typeof v === 'number' ? v : Number((v as { toString(): string }).toString()));
//#endregion

/** Options for {@link applyPlanToOnnx}. */
export interface ApplyOnnxOptions {
  /** Tensor bytes above which weights go to an external data file (default 2 GiB − 16 MiB). */
  readonly externalDataThresholdBytes?: number;
  /** Replace an existing output file (never the input). Default true. */
  readonly overwrite?: boolean;
  /** The input file's bytes when the caller has read them already (to open and check the model): not read again. */
  readonly bytes?: Uint8Array;
  /** Called as tensors are rewritten (`done` of `total` tensors) and around writing the output. */
  readonly onProgress?: ApplyProgress;
}

/** What happened to one layer. */
export interface AppliedLayer {
  readonly layer: string;
  readonly format: string;
  /** How it is stored: a real low-precision encoding, 'simulated' (fake-quantized in the original dtype) or 'kept'. */
  readonly storage: 'fp16' | 'bf16' | 'int8' | 'int4' | 'fp8' | 'simulated' | 'kept';
  readonly tensors: readonly string[];
  /** Stored bytes of the rewritten tensors (codes + scales), or of the kept ones. */
  readonly bytes: number;
  readonly note?: string;
}

/** Result of {@link applyPlanToOnnx}. */
export interface ApplyOnnxResult {
  readonly outputPath: string;
  readonly externalDataPath: string | undefined;
  readonly fileBytes: number;
  readonly externalDataBytes: number;
  /** Sum of stored tensor bytes in the written model (initializers + Constant values, all graphs). */
  readonly tensorBytes: number;
  readonly opsetBefore: number;
  readonly opsetAfter: number;
  readonly irVersion: number;
  readonly layers: readonly AppliedLayer[];
  readonly warnings: readonly string[];
}

//#region graph walk (same graph paths and tensor names as the ONNX reader)
interface TensorSite {
  readonly graph: Msg;
  readonly graphPath: string;
  readonly tensor: Msg;
  /** 'initializer' or the Constant node holding it. */
  readonly node: Msg | undefined;
}

interface Walk {
  readonly graphs: { graph: Msg; path: string }[];
  /** `${graphPath}\u0000${localName}` → sites in order. */
  readonly sites: Map<string, TensorSite[]>;
}

function walkGraphs(main: Msg): Walk {
  const used = new UniqueNames();
  const unique = (p: string): string => used.claim(p);
  const w: Walk = { graphs: [], sites: new Map() };
  const add = (graphPath: string, local: string, site: TensorSite): void => {
    const k = `${graphPath}\u0000${local}`;
    const list = w.sites.get(k);
    if (list) list.push(site);
    else w.sites.set(k, [site]);
  };
  const visit = (g: Msg, p: string): void => {
    const gp = unique(p);
    w.graphs.push({ graph: g, path: gp });
    for (const t of g.initializer ?? []) add(gp, t.name, { graph: g, graphPath: gp, tensor: t, node: undefined });
    (g.node ?? []).forEach((n: Msg, index: number) => {
      const label = n.name || `${n.op_type || 'node'}_${index}`;
      for (const a of n.attribute ?? []) {
        const sub = (suffix: string): string => `${gp}/${label.replace(/\//g, '∕')}/${(a.name || 'attribute').replace(/\//g, '∕')}${suffix}`;
        if (a.g) visit(a.g, sub(''));
        (a.graphs ?? []).forEach((s: Msg, i: number) => visit(s, sub(`[${i}]`)));
        if (n.op_type === 'Constant' && (n.domain ?? '') === '' && a.name === 'value' && a.t) add(gp, n.output?.[0] || `${label}.${a.name}`, { graph: g, graphPath: gp, tensor: a.t, node: n });
      }
    });
  };
  visit(main, 'main');
  return w;
}

/** Finds the protobuf tensor behind a reader TensorInfo (unique name + graph path). */
function findSite(w: Walk, t: TensorInfo): TensorSite | undefined {
  const gp = t.graph ?? 'main';
  const direct = w.sites.get(`${gp}\u0000${t.name}`);
  if (direct?.length) return direct[0];
  if (t.name.startsWith(`${gp}/`)) {
    const rest = t.name.slice(gp.length + 1);
    const hit = w.sites.get(`${gp}\u0000${rest}`);
    if (hit?.length) return hit[0];
    const m = /^(.*)#(\d+)$/.exec(rest);
    if (m) {
      const list = w.sites.get(`${gp}\u0000${m[1]}`);
      // '#k' marks the k-th tensor of that local name in the graph (k ≥ 2).
      if (list && list.length >= Number(m[2])) return list[Number(m[2]) - 1];
    }
  }
  return undefined;
}
//#endregion

//#region tensor values
async function inlineExternalData(model: Msg, folder: FolderSiblings, walk: Walk): Promise<void> {
  const all: Msg[] = [];
  for (const list of walk.sites.values()) for (const s of list) all.push(s.tensor);
  for (const t of all) {
    if (num(t.data_location) !== 1) continue;
    const kv = new Map<string, string>((t.external_data ?? []).map((e: Msg) => [e.key, e.value]));
    const loc = kv.get('location');
    if (!loc) throw new ApplyError('cannot-convert', `Tensor '${t.name}' has external data without a location.`);
    const src = await folder.open(loc);
    const offset = Number(kv.get('offset') ?? 0);
    const length = kv.has('length') ? Number(kv.get('length')) : src.size - offset;
    t.raw_data = Buffer.from(await src.read(offset, length));
    t.external_data = [];
    t.data_location = 0;
  }
  void model;
}

function elementCount(t: Msg): number {
  return (t.dims ?? []).reduce((a: number, d: unknown) => a * num(d), 1);
}

/** Decodes FLOAT / FLOAT16 / BFLOAT16 / DOUBLE tensor data; undefined for other types. */
function readFloats(t: Msg): Float32Array | undefined {
  const n = elementCount(t);
  const raw: Uint8Array | undefined = t.raw_data && t.raw_data.length ? t.raw_data : undefined;
  const dt = num(t.data_type);
  const out = new Float32Array(n);
  if (dt === DT.FLOAT) {
    if (raw) {
      if (raw.length !== n * 4) return undefined;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    } else {
      if ((t.float_data ?? []).length !== n) return undefined;
      out.set(t.float_data);
    }
    return out;
  }
  if (dt === DT.FLOAT16 || dt === DT.BFLOAT16) {
    const bits = new Uint16Array(n);
    if (raw) {
      if (raw.length !== n * 2) return undefined;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(i * 2, true);
    } else {
      if ((t.int32_data ?? []).length !== n) return undefined;
      for (let i = 0; i < n; i++) bits[i] = t.int32_data[i] & 0xffff;
    }
    if (dt === DT.FLOAT16) {
      const tab = halfToFloatTable();
      for (let i = 0; i < n; i++) out[i] = tab[bits[i]!]!;
    } else {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = bits[i]! << 16;
    }
    return out;
  }
  if (dt === DT.DOUBLE) {
    if (raw) {
      if (raw.length !== n * 8) return undefined;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
    } else {
      if ((t.double_data ?? []).length !== n) return undefined;
      for (let i = 0; i < n; i++) out[i] = t.double_data[i];
    }
    return out;
  }
  return undefined;
}

function encodeAs(dt: number, values: Float32Array): Uint8Array {
  const n = values.length;
  if (dt === DT.FLOAT) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + n * 4));
  if (dt === DT.DOUBLE) {
    const out = new Uint8Array(n * 8);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) dv.setFloat64(i * 8, values[i]!, true);
    return out;
  }
  const out = new Uint8Array(n * 2);
  const dv = new DataView(out.buffer);
  const f = dt === DT.FLOAT16 ? floatToHalfBits : floatToBf16Bits;
  for (let i = 0; i < n; i++) dv.setUint16(i * 2, f(values[i]!), true);
  return out;
}

function makeTensor(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): Msg {
  return { name, data_type: dataType, dims: dims.map((d) => d), raw_data: raw };
}

function tensorBytes(t: Msg): number {
  if (t.raw_data?.length) return t.raw_data.length;
  if (num(t.data_location) === 1) {
    const len = (t.external_data ?? []).find((e: Msg) => e.key === 'length');
    return len ? Number(len.value) : 0;
  }
  const n = elementCount(t);
  const dt = num(t.data_type);
  const size = ({ 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1 } as Record<number, number>)[dt];
  if (size) return n * size;
  if (dt === 21 || dt === 22) return Math.ceil(n / 2);
  return 0;
}
//#endregion

//#region quantizers (codes identical to quantize.ts fakeQuantize)
let e4m3Codes: Map<number, number> | undefined;
function e4m3Code(v: number): number {
  if (!e4m3Codes) {
    e4m3Codes = new Map();
    for (let c = 0; c < 256; c++) {
      const x = miniFloatToNumber(MINI_FLOATS.fp8_e4m3, c);
      if (Number.isFinite(x) && !e4m3Codes.has(x)) e4m3Codes.set(x, c);
    }
    e4m3Codes.set(-0, 0x80);
  }
  const c = e4m3Codes.get(v);
  if (c === undefined) throw new ApplyError('internal', `Internal error: ${v} is not an E4M3 value.`);
  return c;
}

function rneClamp(y: number, qmin: number, qmax: number): number {
  let r = Math.round(y);
  if (r - y === 0.5 && r % 2 !== 0) r -= 1;
  return r > qmax ? qmax : r < qmin ? qmin : r;
}

/** Per-row (or per-tensor) symmetric INT8. `rows` × `rowLength` in row-major logical layout. */
function quantInt8(values: Float32Array, rows: number, rowLength: number, perTensor: boolean): { codes: Int8Array; scales: Float32Array } {
  const codes = new Int8Array(values.length);
  const nScales = perTensor ? 1 : rows;
  const scales = new Float32Array(nScales);
  for (let s = 0; s < nScales; s++) {
    const start = perTensor ? 0 : s * rowLength;
    const end = perTensor ? values.length : start + rowLength;
    let amax = 0;
    for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(values[i]!));
    if (!(amax > 0) || !Number.isFinite(amax)) continue; // scale 0 → zeros (quantize.ts does the same)
    const scale = Math.fround(amax / 127);
    scales[s] = scale;
    const inv = 1 / scale;
    for (let i = start; i < end; i++) codes[i] = rneClamp(values[i]! * inv, -127, 127);
  }
  return { codes, scales };
}

/** Symmetric INT4 blocks of `block` along each row; FP16 scale per block. Scales laid out [rows, blocksPerRow]. */
function quantInt4(values: Float32Array, rows: number, rowLength: number, block: number): { codes: Int8Array; scales: Float32Array; blocksPerRow: number } {
  const codes = new Int8Array(values.length);
  const blocksPerRow = Math.ceil(rowLength / block);
  const scales = new Float32Array(rows * blocksPerRow);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const start = r * rowLength + b * block;
      const end = Math.min(r * rowLength + rowLength, start + block);
      let amax = 0;
      for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(values[i]!));
      if (!(amax > 0) || !Number.isFinite(amax)) continue;
      const scale = toHalf(amax / 7);
      scales[r * blocksPerRow + b] = scale;
      if (scale === 0) continue;
      const inv = 1 / scale;
      for (let i = start; i < end; i++) codes[i] = rneClamp(values[i]! * inv, -8, 7);
    }
  }
  return { codes, scales, blocksPerRow };
}

function packInt4(codes: Int8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(codes.length / 2));
  for (let i = 0; i < codes.length; i++) out[i >> 1]! |= (codes[i]! & 0x0f) << ((i & 1) * 4);
  return out;
}
//#endregion

//#region opset conversion
const FIXED_SINCE: Readonly<Record<string, number>> = { Squeeze: 13, Unsqueeze: 13, ReduceSum: 13, Split: 13, Clip: 11, Pad: 11, Slice: 10, TopK: 10, Dropout: 12, Softmax: 13, LogSoftmax: 13, Hardmax: 13 };
const REDUCE_18 = new Set(['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);
const REMOVED = new Set(['Upsample', 'Scatter', 'ImageScaler', 'Crop', 'Affine', 'ThresholdedRelu_1', 'ScaledTanh', 'ParametricSoftplus', 'GivenTensorFill', 'DynamicSlice']);

function mainOpset(model: Msg): number {
  const e = (model.opset_import ?? []).find((o: Msg) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  return e ? num(e.version) : 0;
}

/** Declared dimensions of value `name` in `graph` (inputs, value_info, outputs, initializers); -1 for a symbolic one. */
function declaredDims(graph: Msg, name: string): number[] | undefined {
  for (const list of [graph.input, graph.value_info, graph.output]) {
    for (const v of list ?? []) {
      if (v.name !== name) continue;
      const dims: Msg[] | undefined = v.type?.tensor_type?.shape?.dim;
      if (!dims) return undefined;
      return dims.map((d) => (d.dim_value !== undefined && d.dim_value !== null && !d.dim_param ? num(d.dim_value) : -1));
    }
  }
  const t = (graph.initializer ?? []).find((x: Msg) => x.name === name);
  return t ? (t.dims ?? []).map(num) : undefined;
}

/**
 * Rewrites every graph so it means the same under default-domain opset `to` (from `from`). Throws a one-sentence
 * error naming the first op that cannot be converted.
 */
function convertOpset(model: Msg, walk: Walk, from: number, to: number, fileName: string): string[] {
  const notes: string[] = [];
  let counter = 0;
  const fresh = (base: string): string => `${base}__pl_opset${++counter}`;
  for (const { graph } of walk.graphs) {
    const nodes: Msg[] = graph.node ?? [];
    const out: Msg[] = [];
    for (const n of nodes) {
      if ((n.domain ?? '') !== '' && n.domain !== 'ai.onnx') {
        out.push(n);
        continue;
      }
      const op: string = n.op_type;
      const attrs: Msg[] = n.attribute ?? [];
      /** Nodes that must follow `n` (e.g. the Reshape back after a Softmax conversion). */
      const after: Msg[] = [];
      const take = (name: string): Msg | undefined => {
        const i = attrs.findIndex((a) => a.name === name);
        return i >= 0 ? attrs.splice(i, 1)[0] : undefined;
      };
      const constInput = (name: string, dataType: number, dims: number[], raw: Uint8Array): string => {
        const t = makeTensor(fresh(`${n.name || op}_${name}`), dataType, dims, raw);
        graph.initializer = [...(graph.initializer ?? []), t];
        return t.name;
      };
      const ints = (vals: number[]): Uint8Array => {
        const b = new Uint8Array(vals.length * 8);
        const dv = new DataView(b.buffer);
        vals.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
        return b;
      };
      const floats = (vals: number[]): Uint8Array => new Uint8Array(Float32Array.from(vals).buffer);
      // Ops removed from the default domain that have an exact successor (ONNX version converter adapters
      // Scatter_10_11 and Upsample_9_10 + Resize_10_11).
      if (op === 'Scatter' && from < 11 && to >= 11) {
        n.op_type = 'ScatterElements';
        out.push(n, ...after);
        continue;
      }
      if (op === 'Upsample' && to >= 11) {
        const mode = take('mode');
        const scalesAttr = take('scales');
        const scales = scalesAttr ? constInput('scales', DT.FLOAT, [scalesAttr.floats.length], floats(scalesAttr.floats.map(Number))) : n.input[1];
        if (!scales) throw new ApplyError('cannot-convert', `${fileName}: cannot convert the model to opset ${to}: Upsample '${n.name}' has no scales.`);
        const modeName = mode ? Buffer.from(mode.s ?? []).toString() : 'nearest';
        n.op_type = 'Resize';
        n.input = [n.input[0], '', scales];
        // Upsample samples at x_original = x_resized / scale (asymmetric) and, for 'nearest', floors it.
        n.attribute = [
          { name: 'mode', type: ATTR.STRING, s: Buffer.from(modeName === 'bilinear' ? 'linear' : modeName) },
          { name: 'coordinate_transformation_mode', type: ATTR.STRING, s: Buffer.from('asymmetric') },
          ...(modeName === 'nearest' ? [{ name: 'nearest_mode', type: ATTR.STRING, s: Buffer.from('floor') }] : []),
        ];
        counter++;
        out.push(n, ...after);
        continue;
      }
      if (op === 'Resize' && from === 10 && to >= 11) {
        // Resize-10 (X, scales) has Upsample's asymmetric sampling; Resize-11 takes (X, roi, scales[, sizes]).
        n.input = [n.input[0], '', n.input[1]];
        attrs.push({ name: 'coordinate_transformation_mode', type: ATTR.STRING, s: Buffer.from('asymmetric') });
        if (Buffer.from(attrs.find((a) => a.name === 'mode')?.s ?? []).toString() !== 'linear') attrs.push({ name: 'nearest_mode', type: ATTR.STRING, s: Buffer.from('floor') });
        n.attribute = attrs;
      }
      if (op === 'Scan' && from < 9 && to >= 9) {
        // Scan-8 carries a leading batch axis on every state and scan input/output and an optional sequence_lens
        // input; Scan-9 has neither. With batch size 1 (known from the graph's declared shapes) and no
        // sequence_lens the same computation is Squeeze(axis 0) on each input → Scan-9 (directions →
        // scan_input_directions; the body is unchanged) → Unsqueeze(axis 0) on each output. The ONNX version
        // converter's Scan_8_9 makes the same batch-1 assumption but only edits shapes; here the data is reshaped.
        const refuse = (why: string): never => { throw new ApplyError('cannot-convert', `${fileName}: cannot convert the model to opset ${to}: Scan '${n.name}' (opset 8) ${why}.`); };
        if (n.input[0]) refuse('uses sequence_lens, which opset 9 does not have');
        const base = n.name || op;
        const axes0 = (): { input: string[]; attribute: Msg[] } => (to >= 13 ? { input: [constInput('axes', DT.INT64, [1], ints([0]))], attribute: [] } : { input: [], attribute: [{ name: 'axes', type: ATTR.INTS, ints: [0] }] });
        const inputs: string[] = [];
        for (const name of n.input.slice(1)) {
          if (!name) refuse('has an empty input');
          const dims = declaredDims(graph, name);
          if (!dims || dims[0] !== 1) refuse(`input '${name}' does not declare batch size 1 (${dims ? `leading dimension ${dims[0] ?? 'unknown'}` : 'no shape'}); only batch size 1 has an opset-9 form`);
          const squeezed = fresh(`${name}_nobatch`);
          const a = axes0();
          out.push({ name: fresh(`${base}_Squeeze`), op_type: 'Squeeze', domain: '', input: [name, ...a.input], output: [squeezed], attribute: a.attribute });
          inputs.push(squeezed);
        }
        const outputs: string[] = [];
        for (const name of n.output) {
          if (!name) {
            outputs.push('');
            continue;
          }
          const inner = fresh(`${name}_nobatch`);
          const a = axes0();
          after.push({ name: fresh(`${base}_Unsqueeze`), op_type: 'Unsqueeze', domain: '', input: [inner, ...a.input], output: [name], attribute: a.attribute });
          outputs.push(inner);
        }
        const dirs = take('directions');
        n.input = inputs;
        n.output = outputs;
        n.attribute = [...attrs, ...(dirs ? [{ name: 'scan_input_directions', type: ATTR.INTS, ints: dirs.ints }] : [])];
        out.push(n, ...after);
        continue;
      }
      if (op === 'Split' && from < 18 && to >= 18 && from >= 13 && !(n.input[1] ?? '')) {
        // From 18 a Split without a 'split' input must say how many outputs it has.
        n.attribute = [...attrs.filter((a) => a.name !== 'num_outputs'), { name: 'num_outputs', type: ATTR.INT, i: n.output.length }];
      }
      if (op === 'DFT' && from < 20 && to >= 20) {
        // DFT-20 takes the axis as an input (default -2); DFT-17's attribute defaulted to 1.
        const a = take('axis');
        const inputs = [n.input[0], n.input[1] ?? '', constInput('axis', DT.INT64, [], ints([a ? num(a.i) : 1]))];
        n.input = inputs;
      }
      if (REMOVED.has(op)) throw new ApplyError('cannot-convert', `${fileName}: cannot convert the model to opset ${to}: op '${op}' no longer exists there.`);
      const since = FIXED_SINCE[op] ?? (REDUCE_18.has(op) ? 18 : undefined);
      if (since !== undefined && from < since && to >= since) {
        switch (op) {
          case 'Squeeze':
          case 'Unsqueeze':
          case 'ReduceSum':
          default: {
            if (op === 'Squeeze' || op === 'Unsqueeze' || op === 'ReduceSum' || REDUCE_18.has(op)) {
              const a = take('axes');
              if (a) {
                const inputs = [...n.input];
                if (inputs.length < 2) inputs.push(constInput('axes', DT.INT64, [a.ints.length], ints(a.ints.map(num))));
                n.input = inputs;
              }
              break;
            }
            if (op === 'Split') {
              const a = take('split');
              const inputs = [...n.input];
              if (a && a.ints?.length) inputs[1] = constInput('split', DT.INT64, [a.ints.length], ints(a.ints.map(num)));
              else if (to >= 18) n.attribute = [...attrs, { name: 'num_outputs', type: ATTR.INT, i: n.output.length }];
              n.input = inputs;
              break;
            }
            if (op === 'Clip') {
              const lo = take('min');
              const hi = take('max');
              n.input = [n.input[0], lo ? constInput('min', DT.FLOAT, [], floats([lo.f])) : '', hi ? constInput('max', DT.FLOAT, [], floats([hi.f])) : ''];
              while (n.input.length > 1 && n.input[n.input.length - 1] === '') n.input.pop();
              break;
            }
            if (op === 'Pad') {
              const pads = take('pads');
              const value = take('value');
              n.input = [n.input[0], constInput('pads', DT.INT64, [pads?.ints?.length ?? 0], ints((pads?.ints ?? []).map(num))), ...(value ? [constInput('value', DT.FLOAT, [], floats([value.f]))] : [])];
              break;
            }
            if (op === 'Slice') {
              const st = take('starts');
              const en = take('ends');
              const ax = take('axes');
              n.input = [n.input[0], constInput('starts', DT.INT64, [st?.ints?.length ?? 0], ints((st?.ints ?? []).map(num))), constInput('ends', DT.INT64, [en?.ints?.length ?? 0], ints((en?.ints ?? []).map(num))), ...(ax ? [constInput('axes', DT.INT64, [ax.ints.length], ints(ax.ints.map(num)))] : [])];
              break;
            }
            if (op === 'TopK') {
              const k = take('k');
              n.input = [n.input[0], constInput('k', DT.INT64, [1], ints([num(k?.i)]))];
              break;
            }
            if (op === 'Dropout') {
              if ((n.output ?? []).length > 1 && n.output[1]) throw new ApplyError('cannot-convert', `${fileName}: cannot convert the model to opset ${to}: Dropout '${n.name}' uses its mask output.`);
              n.op_type = 'Identity';
              n.attribute = [];
              n.output = [n.output[0]];
              break;
            }
            if (op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax') {
              // Before opset 13 these ops coerce the input to 2-D at `axis` ([d0…d(axis-1)] × [d(axis)…]) and
              // normalize each row; from 13 they work along the one axis. Same rewrite as the ONNX version converter
              // (softmax_12_13): Flatten(axis) → op(axis = -1) → Reshape back to Shape(input). Exact for any rank,
              // so it is applied whenever the axis is not already the last one.
              const a = take('axis');
              const axis = a ? num(a.i) : 1;
              if (axis === -1) {
                if (a) n.attribute = [...attrs, a];
                break;
              }
              const base = n.name || op;
              const shape = fresh(`${base}_shape`);
              const flat = fresh(`${base}_flat`);
              const normalized = fresh(`${base}_2d`);
              const output = n.output[0];
              out.push({ name: fresh(`${base}_Shape`), op_type: 'Shape', domain: '', input: [n.input[0]], output: [shape], attribute: [] });
              out.push({ name: fresh(`${base}_Flatten`), op_type: 'Flatten', domain: '', input: [n.input[0]], output: [flat], attribute: [{ name: 'axis', type: ATTR.INT, i: axis }] });
              n.input = [flat];
              n.output = [normalized];
              n.attribute = [...attrs, { name: 'axis', type: ATTR.INT, i: -1 }];
              after.push({ name: fresh(`${base}_Reshape`), op_type: 'Reshape', domain: '', input: [normalized, shape], output: [output], attribute: [] });
              break;
            }
          }
        }
      }
      if (op === 'GridSample' && from < 20 && to >= 20) {
        const m = attrs.find((a) => a.name === 'mode');
        if (m) {
          const v = Buffer.from(m.s ?? []).toString();
          if (v === 'bilinear') m.s = Buffer.from('linear');
          if (v === 'bicubic') m.s = Buffer.from('cubic');
        }
      }
      if (op === 'BatchNormalization' && from < 9 && to >= 9) {
        // As the ONNX version converter (BatchNormalization_5_6, _6_7, _8_9), only where the meaning is kept:
        // consumed_inputs (opset 1 bookkeeping) is dropped; is_test must not be 0 (training mode normalizes with
        // the batch's own statistics; absent = the converter's and onnxruntime's inference reading); spatial must
        // be 1 (0 = per-activation statistics, which opset 9's per-channel inputs cannot express); the training
        // outputs (running/saved mean and variance) must be unused.
        const refuse = (why: string): never => { throw new ApplyError('cannot-convert', `${fileName}: cannot convert the model to opset ${to}: BatchNormalization '${n.name}' ${why}.`); };
        take('consumed_inputs');
        const isTest = take('is_test');
        if (isTest && num(isTest.i) === 0) refuse('is in training mode (is_test = 0)');
        const spatial = take('spatial');
        if (spatial && num(spatial.i) !== 1) refuse(`uses spatial = ${num(spatial.i)} (per-activation statistics), which opset 9 cannot express`);
        if ((n.output ?? []).slice(1).some((o: string) => o)) refuse('uses its training outputs (mean, variance)');
        n.output = [n.output[0]];
        n.attribute = attrs;
        counter++;
      }
      out.push(n, ...after);
    }
    graph.node = out;
  }
  for (const o of model.opset_import ?? []) if ((o.domain ?? '') === '' || o.domain === 'ai.onnx') o.version = to;
  notes.push(`Default-domain opset raised from ${from} to ${to}${counter ? ` (${counter} constant input(s) or helper node(s) added)` : ''}.`);
  return notes;
}
//#endregion

/** IR version a default-domain opset needs (ONNX versioning table). */
const irFor = (op: number): number => (op >= 21 ? 10 : op >= 19 ? 9 : op >= 15 ? 8 : op >= 13 ? 7 : 4);

/**
 * Converts a whole ONNX model (bytes) to default-domain opset `to` exactly as `apply` does before it writes
 * low-precision weights; returns the new bytes and the conversion notes. Throws a one-sentence Error naming the
 * first operator that cannot be expressed at `to`. Used by the conversion proof in test/integration.
 */
export function convertOnnxOpset(bytes: Uint8Array, to: number, fileName = 'model.onnx'): { readonly bytes: Uint8Array; readonly from: number; readonly notes: readonly string[] } {
  const { Model: ModelType } = types();
  const proto: Msg = ModelType.decode(bytes);
  if (!proto.graph) throw new ApplyError('cannot-convert', `${fileName}: the model has no graph.`);
  const from = mainOpset(proto);
  if (from === 0 || from >= to) return { bytes, from, notes: [] };
  const notes = convertOpset(proto, walkGraphs(proto.graph), from, to, fileName);
  proto.ir_version = Math.max(num(proto.ir_version), irFor(to), 4);
  return { bytes: ModelType.encode(proto).finish(), from, notes };
}

/** Tensor-level work derived from the plan: which stored tensors get which format, with their layer. */
interface TensorJob {
  readonly layer: string;
  readonly format: NumberFormat;
  readonly tensor: TensorInfo;
  readonly site: TensorSite;
  readonly transpose: boolean;
}

/** Opset each real encoding needs. */
function opsetNeeded(storage: AppliedLayer['storage']): number {
  return storage === 'int4' ? 21 : storage === 'fp8' ? 19 : storage === 'int8' || storage === 'bf16' ? 13 : 0;
}

function storageFor(f: NumberFormat): AppliedLayer['storage'] {
  if (f.id === 'fp16') return 'fp16';
  if (f.id === 'bf16') return 'bf16';
  if (f.element === 'int8' && (f.scaling === 'channel' || f.scaling === 'tensor')) return 'int8';
  if (f.element === 'int4' && f.scaling === 'group') return 'int4';
  if (f.id === 'fp8_e4m3') return 'fp8';
  if (f.id === 'fp32' || f.id === 'tf32') return 'kept';
  return 'simulated';
}

/** What {@link applyPlanToOnnx} and the reference run report progress for. */
export type ApplyPhase = 'rewrite' | 'write' | 'reference' | 'compare';
/** Progress of an apply step: `done` of `total` units (tensors to rewrite, files to write, samples to run). */
export type ApplyProgress = (done: number, total: number, phase: ApplyPhase) => void;

/**
 * Writes a new ONNX model at `outputPath` with `assignment` (layer → format id; 'keep' or missing = as stored)
 * applied. `model` is the reader's IR of the same file (layer → tensors). Refuses to write over the input or
 * its external data files. With `options.bytes` (the input file, already read to open and check the model) the
 * file is not read again.
 */
export async function applyPlanToOnnx(inputPath: string, model: Model, assignment: Readonly<Record<string, string>>, outputPath: string, options: ApplyOnnxOptions = {}): Promise<ApplyOnnxResult> {
  const inAbs = path.resolve(inputPath);
  const outAbs = path.resolve(outputPath);
  const fileName = path.basename(inputPath);
  if (model.format !== 'onnx') throw new ApplyError('not-onnx', `${fileName}: apply writes ONNX models only; this model is ${model.format}.`);
  const inputs = await refuseUnsafeOutput(inAbs, outAbs, model, options.overwrite !== false);
  const { proto, walk } = await decodeWithExternalData(inAbs, options.bytes, fileName);
  const warnings: string[] = [];
  const { jobs, layers } = tensorJobs(model, assignment, walk, warnings);
  const opset = raiseOpsetFor(proto, walk, layers, fileName, warnings);
  const bytesByLayer = rewriteTensors(jobs, options.onProgress);
  const layerResults = appliedLayers(layers, bytesByLayer, warnings);
  options.onProgress?.(0, 1, 'write');
  const written = await writeModel(proto, outAbs, options.externalDataThresholdBytes ?? DEFAULT_EXTERNAL_DATA_THRESHOLD, inputs);
  options.onProgress?.(1, 1, 'write');
  return { outputPath: outAbs, ...written, ...opset, irVersion: num(proto.ir_version), layers: layerResults, warnings };
}

/** Protobuf's 2 GiB message limit less 16 MiB of headroom. */
const DEFAULT_EXTERNAL_DATA_THRESHOLD = 2 * 1024 ** 3 - 16 * 1024 ** 2;

/**
 * Every file the model is read from; the output (and its .data companion) must not be any of them (by inode),
 * and with `overwrite` false it must not exist.
 */
async function refuseUnsafeOutput(inAbs: string, outAbs: string, model: Model, overwrite: boolean): Promise<string[]> {
  const inputs = [inAbs, ...model.files.map((f) => path.resolve(path.dirname(inAbs), f.path))];
  await refuseInputAliases([outAbs, `${outAbs}.data`], inputs);
  if (!overwrite && (await fs.lstat(outAbs).catch(() => undefined))) throw new OutputError('output-exists', `${path.basename(outAbs)}: the output file exists.`, outAbs);
  return inputs;
}

/** The whole model as a protobuf message with external data read in (from inside the model's folder only). */
async function decodeWithExternalData(inAbs: string, bytes: Uint8Array | undefined, fileName: string): Promise<{ proto: Msg; walk: Walk }> {
  const { Model: ModelType } = types();
  const proto: Msg = ModelType.decode(bytes ?? (await readRegularFile(inAbs, Number.MAX_SAFE_INTEGER)));
  if (!proto.graph) throw new ApplyError('cannot-convert', `${fileName}: the model has no graph.`);
  const walk = walkGraphs(proto.graph);
  const folder = FolderSiblings.forModel(inAbs);
  try {
    await inlineExternalData(proto, folder, walk);
  } finally {
    await folder.close();
  }
  return { proto, walk };
}

/** The plan as tensor work: each assigned layer's main weight and other matrix weights, found in the protobuf. */
function tensorJobs(model: Model, assignment: Readonly<Record<string, string>>, walk: Walk, warnings: string[]): { jobs: TensorJob[]; layers: AppliedLayer[] } {
  const tensorByName = new Map(model.tensors.map((t) => [t.name, t]));
  const jobs: TensorJob[] = [];
  const layers: AppliedLayer[] = [];
  const claimed = new Set<string>();
  for (const l of model.layers) {
    const id = own(assignment, l.name);
    if (id === undefined || id === KEEP_FORMAT) continue;
    const f = getNumberFormat(id);
    if (!f) {
      warnings.push(`Layer '${l.name}': unknown format '${id}'; kept as stored.`);
      continue;
    }
    const names: string[] = [];
    layerWeights(l).forEach((w, i) => {
      const t = tensorByName.get(w);
      if (!t || claimed.has(w) || t.elementCount === 0 || (i > 0 && t.shape.length < 2)) return;
      const site = findSite(walk, t);
      if (!site) {
        warnings.push(`Layer '${l.name}': tensor '${w}' was not found in the protobuf; kept as stored.`);
        return;
      }
      if (!readFloats(site.tensor)) {
        warnings.push(`Layer '${l.name}': tensor '${w}' is not stored as FP32/FP16/BF16/FP64; kept as stored.`);
        return;
      }
      claimed.add(w);
      names.push(w);
      jobs.push({ layer: l.name, format: f, tensor: t, site, transpose: quantizationLayout(l, model, w, t.shape.length).transpose });
    });
    if (names.length) layers.push({ layer: l.name, format: f.id, storage: storageFor(f), tensors: names, bytes: 0 });
  }
  return { jobs, layers };
}

/** Raises the default-domain opset (converting the graphs) and the IR version to what the encodings used need. */
function raiseOpsetFor(proto: Msg, walk: Walk, layers: readonly AppliedLayer[], fileName: string, warnings: string[]): { opsetBefore: number; opsetAfter: number } {
  const opsetBefore = mainOpset(proto);
  const need = maxOf(layers.map((l) => opsetNeeded(l.storage)), 0);
  if (need > opsetBefore) {
    if (opsetBefore === 0) proto.opset_import = [...(proto.opset_import ?? []), { domain: '', version: need }];
    else warnings.push(...convertOpset(proto, walk, opsetBefore, need, fileName));
  }
  const opsetAfter = Math.max(opsetBefore, need);
  proto.ir_version = Math.max(num(proto.ir_version), irFor(opsetAfter), 4);
  return { opsetBefore, opsetAfter };
}

/** New nodes to splice into each graph: at its start (after initializers) or right after a Constant node. */
class GraphInsertions {
  private readonly byGraph = new Map<Msg, { atStart: Msg[]; after: Map<Msg, Msg[]> }>();

  add(site: TensorSite, nodes: Msg[]): void {
    let e = this.byGraph.get(site.graph);
    if (!e) this.byGraph.set(site.graph, (e = { atStart: [], after: new Map() }));
    if (site.node) e.after.set(site.node, [...(e.after.get(site.node) ?? []), ...nodes]);
    else appendAll(e.atStart, nodes);
  }

  /** Puts the replacement tensors where the original lived and drops the original. */
  replace(site: TensorSite, tensors: Msg[], nodes: Msg[]): void {
    if (site.node) {
      // A Constant-held weight: the Constant node now holds the first replacement; the others become Constant
      // nodes right after it, followed by the dequantize/cast nodes (so topological order holds in subgraphs).
      const [first, ...rest] = tensors;
      site.node.output = [first.name];
      site.node.attribute = [{ name: 'value', type: ATTR.TENSOR, t: first }];
      this.add(site, [...rest.map((t) => ({ name: `${t.name}__const`, op_type: 'Constant', domain: '', input: [], output: [t.name], attribute: [{ name: 'value', type: ATTR.TENSOR, t }] })), ...nodes]);
    } else {
      site.graph.initializer = [...site.graph.initializer.filter((t: Msg) => t !== site.tensor), ...tensors];
      this.add(site, nodes);
    }
    // IR < 4 lists initializers among graph inputs; the value is now computed.
    site.graph.input = (site.graph.input ?? []).filter((v: Msg) => v.name !== site.tensor.name);
  }

  /** Writes the new nodes into the graphs. */
  splice(): void {
    for (const [graph, e] of this.byGraph) {
      const list: Msg[] = [];
      // New nodes for initializers go first (they only read initializers); Constant replacements follow their node.
      appendAll(list, e.atStart);
      for (const n of graph.node) {
        list.push(n);
        const after = e.after.get(n);
        if (after) appendAll(list, after);
      }
      graph.node = list;
    }
  }
}

/** How one tensor was rewritten: replacement tensors and nodes, or changed in place (`stored` bytes either way). */
type Rewrite = { readonly kind: 'replace'; readonly tensors: Msg[]; readonly nodes: Msg[]; readonly stored: number } | { readonly kind: 'in-place'; readonly stored: number };

/** Rewrites every job's tensor; returns the stored bytes per layer. */
function rewriteTensors(jobs: readonly TensorJob[], onProgress: ApplyProgress | undefined): Map<string, number> {
  const bytesByLayer = new Map<string, number>();
  const insertions = new GraphInsertions();
  onProgress?.(0, jobs.length, 'rewrite');
  jobs.forEach((job, i) => {
    const r = rewriteTensor(job);
    if (r.kind === 'replace') insertions.replace(job.site, r.tensors, r.nodes);
    bytesByLayer.set(job.layer, (bytesByLayer.get(job.layer) ?? 0) + r.stored);
    onProgress?.(i + 1, jobs.length, 'rewrite');
  });
  insertions.splice();
  return bytesByLayer;
}

const castNode = (input: string, output: string, to: number): Msg => ({ name: `${output}__cast`, op_type: 'Cast', domain: '', input: [input], output: [output], attribute: [{ name: 'to', type: ATTR.INT, i: to }] });

/** One tensor in its format's storage: FP16/BF16 + Cast, codes + DequantizeLinear, fake-quantized, or kept. */
function rewriteTensor(job: TensorJob): Rewrite {
  const t = job.site.tensor;
  const storage = storageFor(job.format);
  if (storage === 'fp16' || storage === 'bf16') return rewriteAsHalf(job, storage === 'fp16' ? DT.FLOAT16 : DT.BFLOAT16);
  if (storage === 'int8' || storage === 'int4' || storage === 'fp8') return rewriteAsCodes(job, storage);
  if (storage === 'simulated') {
    const dims: number[] = (t.dims ?? []).map(num);
    const layout = logicalLayout(job, dims);
    const values = readFloats(t)!;
    const logical = layout.transpose ? transpose2d(values, layout.rowLength, layout.rows) : values;
    const fq = fakeQuantize(logical, [layout.rows, layout.rowLength], job.format);
    const back = layout.transpose ? transpose2d(fq, layout.rows, layout.rowLength) : fq;
    // Replace the values in place (same name, same type): no graph change.
    for (const k of ['float_data', 'int32_data', 'double_data']) t[k] = [];
    t.raw_data = encodeAs(num(t.data_type), back);
    return { kind: 'in-place', stored: t.raw_data.length };
  }
  return { kind: 'in-place', stored: tensorBytes(t) };
}

/** The name consumers read the tensor by (a Constant's output, or the initializer's name). */
const valueName = (site: TensorSite): string => (site.node ? site.node.output[0] : site.tensor.name);

function rewriteAsHalf(job: TensorJob, dt: number): Rewrite {
  const t = job.site.tensor;
  const origType = num(t.data_type);
  if (origType === dt) return { kind: 'in-place', stored: tensorBytes(t) };
  const name = valueName(job.site);
  const q = makeTensor(`${name}__${dt === DT.FLOAT16 ? 'fp16' : 'bf16'}`, dt, (t.dims ?? []).map(num), encodeAs(dt, readFloats(t)!));
  return { kind: 'replace', tensors: [q], nodes: [castNode(q.name, name, origType)], stored: q.raw_data.length };
}

/** INT8 / INT4 / FP8 codes with their scales → DequantizeLinear (→ Reshape) (→ Cast back to the original type). */
function rewriteAsCodes(job: TensorJob, storage: 'int8' | 'int4' | 'fp8'): Rewrite {
  const t = job.site.tensor;
  const name = valueName(job.site);
  const dims: number[] = (t.dims ?? []).map(num);
  const origType = num(t.data_type);
  const values = readFloats(t)!;
  const layout = logicalLayout(job, dims);
  // Logical layout [rows, rowLength] = quantize.ts's (MatMul/Gemm weights viewed as [K, N] and transposed).
  const logical = layout.transpose ? transpose2d(values, layout.rowLength, layout.rows) : values;
  const outName = origType === DT.FLOAT ? name : `${name}__f32`;
  const out: Msg[] = [];
  const nodes: Msg[] = [];
  let dq: Msg;
  if (storage === 'int8') {
    const perTensor = job.format.scaling === 'tensor' || dims.length < 2;
    const { codes, scales } = quantInt8(logical, layout.rows, layout.rowLength, perTensor);
    const storedCodes = layout.transpose ? transposeInt8(codes, layout.rows, layout.rowLength) : codes;
    const q = makeTensor(`${name}__q`, DT.INT8, dims, new Uint8Array(storedCodes.buffer));
    const s = makeTensor(`${name}__scale`, DT.FLOAT, perTensor ? [] : [scales.length], new Uint8Array(scales.buffer));
    out.push(q, s);
    dq = { name: `${name}__dq`, op_type: 'DequantizeLinear', domain: '', input: [q.name, s.name], output: [outName], attribute: perTensor ? [] : [{ name: 'axis', type: ATTR.INT, i: layout.transpose ? dims.length - 1 : 0 }] };
  } else if (storage === 'int4') {
    const matrixDims = layout.transpose ? [layout.rowLength, layout.rows] : [layout.rows, layout.rowLength];
    const needsReshape = dims.length !== 2 || dims[0] !== matrixDims[0];
    const dqOut = needsReshape ? `${name}__dq2d` : outName;
    const { codes, scales, blocksPerRow } = quantInt4(logical, layout.rows, layout.rowLength, job.format.blockSize);
    // Stored as the 2-D matrix: [rows, rowLength] blocked along axis 1, or [K, N] blocked along axis 0.
    const storedCodes = layout.transpose ? transposeInt8(codes, layout.rows, layout.rowLength) : codes;
    const sDims = layout.transpose ? [blocksPerRow, layout.rows] : [layout.rows, blocksPerRow];
    const storedScales = layout.transpose ? transpose2d(scales, layout.rows, blocksPerRow) : scales;
    const q = makeTensor(`${name}__q4`, DT.INT4, matrixDims, packInt4(storedCodes));
    const s = makeTensor(`${name}__scale16`, DT.FLOAT16, sDims, encodeAs(DT.FLOAT16, storedScales));
    out.push(q, s);
    nodes.push(castNode(s.name, `${name}__scale`, DT.FLOAT));
    dq = { name: `${name}__dq`, op_type: 'DequantizeLinear', domain: '', input: [q.name, `${name}__scale`], output: [dqOut], attribute: [{ name: 'axis', type: ATTR.INT, i: layout.transpose ? 0 : 1 }, { name: 'block_size', type: ATTR.INT, i: job.format.blockSize }] };
    if (needsReshape) {
      const shapeT = makeTensor(`${name}__shape`, DT.INT64, [dims.length], int64Bytes(dims));
      out.push(shapeT);
      nodes.push(dq);
      dq = { name: `${name}__reshape`, op_type: 'Reshape', domain: '', input: [dqOut, shapeT.name], output: [outName], attribute: [] };
    }
  } else {
    let amax = 0;
    for (let i = 0; i < values.length; i++) amax = Math.max(amax, Math.abs(values[i]!));
    const scale = amax > 0 && Number.isFinite(amax) ? Math.fround(amax / 448) : 1;
    const codes = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) codes[i] = e4m3Code(roundMiniFloat(values[i]! / scale, 3, -6, 448));
    const q = makeTensor(`${name}__fp8`, DT.FLOAT8E4M3FN, dims, codes);
    const s = makeTensor(`${name}__scale`, DT.FLOAT, [], new Uint8Array(Float32Array.of(scale).buffer));
    out.push(q, s);
    dq = { name: `${name}__dq`, op_type: 'DequantizeLinear', domain: '', input: [q.name, s.name], output: [outName], attribute: [] };
  }
  nodes.push(dq);
  if (origType !== DT.FLOAT) nodes.push(castNode(`${name}__f32`, name, origType));
  // Stored bytes: the codes and their scales (not the Reshape's shape constant).
  const stored = out[0].raw_data.length + out[1].raw_data.length;
  return { kind: 'replace', tensors: out, nodes, stored };
}

/** Per-layer results with their stored bytes; a warning when some layers could only be simulated. */
function appliedLayers(layers: readonly AppliedLayer[], bytesByLayer: ReadonlyMap<string, number>, warnings: string[]): AppliedLayer[] {
  const results = layers.map((l) => ({ ...l, bytes: bytesByLayer.get(l.layer) ?? 0, ...(l.storage === 'simulated' ? { note: `${l.format} has no ONNX storage type ORT runs; values are fake-quantized in the original dtype (accuracy as ${l.format}, size unchanged).` } : {}) }));
  const simulated = results.filter((l) => l.storage === 'simulated');
  if (simulated.length) warnings.push(`${simulated.length} layer(s) are simulated (${[...new Set(simulated.map((l) => l.format))].join(', ')}): the file keeps their original size.`);
  return results;
}

/** Writes the model: inline, or with every tensor of ≥ 1 KiB in `<output>.data` when the tensors exceed `threshold`. */
async function writeModel(proto: Msg, outAbs: string, threshold: number, inputs: readonly string[]): Promise<Pick<ApplyOnnxResult, 'externalDataPath' | 'fileBytes' | 'externalDataBytes' | 'tensorBytes'>> {
  const allTensors: Msg[] = [];
  for (const { graph } of walkGraphs(proto.graph).graphs) {
    appendAll(allTensors, graph.initializer ?? []);
    for (const n of graph.node ?? []) for (const a of n.attribute ?? []) if (a.t) allTensors.push(a.t);
  }
  const total = allTensors.reduce((a, t) => a + tensorBytes(t), 0);
  const outputs: OutputFile[] = [];
  const external = total > threshold ? moveToExternalData(allTensors, `${outAbs}.data`) : undefined;
  if (external) outputs.push(external.file);
  const bytes = types().Model.encode(proto).finish();
  outputs.push({ path: outAbs, data: bytes });
  await writeOutputFiles(outputs, { inputs });
  return { externalDataPath: external?.file.path, fileBytes: bytes.length, externalDataBytes: external?.bytes ?? 0, tensorBytes: total };
}

/** Lays the tensors of ≥ 1 KiB out in `dataPath` (4 KiB aligned) and points the protobuf at them. */
function moveToExternalData(allTensors: readonly Msg[], dataPath: string): { file: OutputFile; bytes: number } {
  const location = path.basename(dataPath);
  const placed: { raw: Uint8Array; offset: number }[] = [];
  let offset = 0;
  for (const t of allTensors) {
    const raw: Uint8Array | undefined = t.raw_data?.length ? t.raw_data : undefined;
    if (!raw || raw.length < 1024) continue;
    offset = Math.ceil(offset / 4096) * 4096;
    placed.push({ raw, offset });
    t.external_data = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) }];
    t.data_location = 1;
    t.raw_data = new Uint8Array(0);
    offset += raw.length;
  }
  return {
    bytes: offset,
    file: {
      path: dataPath,
      write: async (handle) => {
        for (const p of placed) await handle.write(p.raw, 0, p.raw.length, p.offset);
      },
    },
  };
}

/**
 * quantize.ts's logical layout of a weight: [rows, rowLength] with rows = output channels. MatMul/Gemm weights are
 * viewed as [K, N] (N = last axis, see `storedMatrixShape`) and transposed, so rows = N and rowLength = K.
 */
function logicalLayout(job: TensorJob, dims: number[]): { transpose: boolean; rows: number; rowLength: number } {
  const n = dims.reduce((a, b) => a * b, 1);
  if (job.transpose && dims.length >= 2 && dims[dims.length - 1]! > 0) {
    const cols = dims[dims.length - 1]!;
    return { transpose: true, rows: cols, rowLength: n / cols };
  }
  const rows = dims.length >= 2 && dims[0]! > 0 ? dims[0]! : 1;
  const rowLength = Math.floor(n / rows);
  return rowLength * rows === n ? { transpose: false, rows, rowLength } : { transpose: false, rows: 1, rowLength: n };
}

function transposeInt8(v: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return out;
}

function int64Bytes(vals: readonly number[]): Uint8Array {
  const b = new Uint8Array(vals.length * 8);
  const dv = new DataView(b.buffer);
  vals.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
  return b;
}

//#region measurement
/** Output comparison of a rewritten model against the original. */
export interface OutputSqnr {
  /** First numeric output's SQNR (dB) over all samples. */
  readonly sqnrDb: number;
  readonly cosine: number;
  readonly output: string;
  readonly samples: number;
  readonly inputs: string;
}

/** A reusable reference run of the original model (calibration inputs + outputs). */
export interface ReferenceRun {
  readonly samples: readonly CalibrationSample[];
  readonly outputs: readonly RunOutputs[];
  readonly output: string;
  readonly inputs: string;
}

/** Where the reference run reads the original model: its path, or the bytes already in memory (no second read). */
export interface ReferenceModel {
  readonly path: string;
  /** The file's bytes; used only when the model has no external data (onnxruntime then needs the path). */
  readonly bytes?: Uint8Array;
}

/**
 * Runs the original model once on generated calibration inputs (trying each input-size variant until one runs)
 * and keeps the outputs, so candidates can be compared with {@link compareWithReference}. `onProgress` counts the
 * samples run (phase 'reference'; a variant that fails starts the count again).
 */
export async function referenceRun(modelFile: string | ReferenceModel, model: Model, samples = 4, onProgress?: ApplyProgress): Promise<ReferenceRun> {
  const file = typeof modelFile === 'string' ? { path: modelFile } : modelFile;
  let lastError: unknown;
  const session = await createSession(file.bytes && model.files.length === 0 ? file.bytes : path.resolve(file.path));
  try {
    for (let v = 0; v < CALIBRATION_VARIANTS.length; v++) {
      try {
        const set = generateCalibrationInputs(model, samples, 1, v);
        const outputs = await runSamples(session, set.samples, onProgress && ((done, total) => onProgress(done, total, 'reference')));
        const output = Object.keys(outputs[0] ?? {})[0];
        if (!output) throw new RuntimeError('runtime-failed', 'the model has no numeric output');
        return { samples: set.samples, outputs, output, inputs: set.description };
      } catch (e) {
        lastError = e;
      }
    }
  } finally {
    await releaseSession(session);
  }
  throw new RuntimeError('runtime-failed', `${path.basename(file.path)}: onnxruntime-node cannot run the model on generated inputs (${lastError instanceof Error ? lastError.message.split('\n')[0] : String(lastError)}).`);
}

/**
 * Runs `candidatePath` on the reference inputs and compares its first numeric output with the original's;
 * `onProgress` counts the samples run (phase 'compare').
 */
export async function compareWithReference(ref: ReferenceRun, candidatePath: string, onProgress?: ApplyProgress): Promise<OutputSqnr> {
  const session = await createSession(path.resolve(candidatePath));
  try {
    const got = await runSamples(session, ref.samples, onProgress && ((done, total) => onProgress(done, total, 'compare')));
    const c = compareOutputs(ref.outputs.map((o) => o[ref.output]!), got.map((o) => o[ref.output] ?? { dims: [], data: new Float32Array(0) }));
    return { sqnrDb: c.sqnrDb, cosine: c.cosine, output: ref.output, samples: ref.samples.length, inputs: ref.inputs };
  } finally {
    await releaseSession(session);
  }
}
//#endregion
