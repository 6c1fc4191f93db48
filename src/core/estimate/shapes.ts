/**
 * Shape inference and liveness for a model's main graph, for the activation-memory estimate.
 *
 * Shapes come from the graph's inputs, outputs and value_info first, then from per-op rules for the common
 * ops (Conv, MatMul, Gemm, broadcasting elementwise, activations, Reshape/Transpose/Concat/Split/Slice/Gather,
 * pooling, normalization, LSTM/GRU, Resize, the com.microsoft transformer ops …). Symbolic dimensions are
 * bound by name: batch-like names (`batch`, `batch_size`, `N`, …) to the batch size, sequence-like names
 * (`sequence_length`, `seq_len`, `past_sequence_length`, `total_sequence_length`, `context`, …) to the
 * context length; any other symbol binds to 1 and is reported. Small integer tensors (Reshape targets, Slice
 * bounds) are tracked by value through Shape/Gather/Concat/Unsqueeze/Cast/arithmetic so that exported
 * "Shape → Gather → Concat → Reshape" chains resolve; their stored values come in `constants`
 * (see {@link readShapeConstants} in memory.ts).
 *
 * Liveness: a value is live from the node that produces it (graph inputs: from the start) until the last node
 * that consumes it (graph outputs: until the end; a node with If/Loop/Scan bodies consumes every outer value
 * its bodies name). The peak is the largest sum of live bytes at any node. Initializers and Constant outputs
 * are weights, not activations. Values of unknown shape count 0 bytes and are reported.
 */
import { own } from '../model/dict';
import type { Dim, Graph, GraphNode, Model, TensorInfo } from '../model/types';
import { dtypeInfo } from '../model/dtypes';
import { appendAll, maxOf } from '../util/arrays';

/** What symbolic dimensions bind to. */
export interface ShapeBindings {
  readonly batch: number;
  readonly context: number;
}

/** A value's inferred type; `shape` undefined when unknown. */
export interface ValueShape {
  readonly dtype: string | undefined;
  readonly shape: readonly number[] | undefined;
}

/** Result of {@link inferGraphShapes}. */
export interface GraphShapes {
  readonly values: ReadonlyMap<string, ValueShape>;
  /** Symbolic dimension names that matched neither batch nor context (bound to 1). */
  readonly unboundSymbols: readonly string[];
}

/** Result of {@link peakActivationBytes}. */
export interface ActivationPeak {
  readonly peakBytes: number;
  /** Node at which the peak occurs (undefined for an empty graph). */
  readonly peakNode: string | undefined;
  /** Activation values whose shape could not be determined (counted as 0 bytes). */
  readonly unknownValues: readonly string[];
  readonly unboundSymbols: readonly string[];
  /** Activation values considered (graph inputs + node outputs, minus weights and excluded names). */
  readonly valueCount: number;
  /**
   * Bytes of values generated from constants alone (ConstantOfShape of a stored shape): weights not stored in
   * the file (e.g. ONNX test models with stripped weights). They are counted as activations, live from their
   * producer to their last consumer; runtimes usually fold them into initializers.
   */
  readonly generatedConstantBytes: number;
}

/** Upper bound on tracked integer values per tensor (shape vectors are tiny). Threat: huge constant tables. */
const MAX_TRACKED_VALUES = 64;

const BATCH_NAMES = /^(n|b|bs|batch|batch_?size|batches|num_?batch(es)?|unk__batch)$|batch/i;
const CONTEXT_NAMES = /seq|sequence|context|token|total_?length|past_?length|max_?length|^s$|^t$|^l$/i;

/** What a symbolic dimension means by its name: the batch, a sequence (bound to the context), or neither. */
export function dimKind(dim: string): 'batch' | 'sequence' | undefined {
  if (BATCH_NAMES.test(dim)) return 'batch';
  if (CONTEXT_NAMES.test(dim)) return 'sequence';
  return undefined;
}

/** Binds one dimension: numbers stay, batch/context symbols bind to the bindings, others to undefined. */
export function bindDim(dim: Dim, bindings: ShapeBindings): number | undefined {
  if (typeof dim === 'number') return dim >= 0 ? dim : undefined;
  if (typeof dim !== 'string') return undefined;
  const kind = dimKind(dim);
  return kind === 'batch' ? bindings.batch : kind === 'sequence' ? bindings.context : undefined;
}

/** Bytes of one element of `dtype` (fractional for sub-byte types); 0 for unknown/strings. */
export function dtypeElementBytes(dtype: string | undefined): number {
  const info = dtype ? dtypeInfo(dtype) : undefined;
  if (!info || info.bytesPerBlock === 0) return 0;
  return info.bytesPerBlock / info.blockSize;
}

/** Bytes of a value; 0 when the shape or dtype is unknown. */
export function valueBytes(v: ValueShape | undefined): number {
  if (!v?.shape) return 0;
  const n = v.shape.reduce((a, b) => a * b, 1);
  return Math.ceil(n * dtypeElementBytes(v.dtype));
}

/** ONNX TensorProto.DataType → IR dtype id (for Cast `to` and similar attributes). */
const ONNX_DTYPES: Readonly<Record<number, string>> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64',
  12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16', 17: 'float8_e4m3fn', 18: 'float8_e4m3fnuz', 19: 'float8_e5m2',
  20: 'float8_e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4_e2m1',
};

//#region op groups
const UNARY = new Set([
  'Relu', 'Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'Sigmoid', 'Tanh', 'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Softmax', 'LogSoftmax',
  'LayerNormalization', 'SimplifiedLayerNormalization', 'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'LpNormalization',
  'MeanVarianceNormalization', 'RMSNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization', 'Dropout', 'Identity', 'Clip', 'LeakyRelu', 'HardSigmoid',
  'HardSwish', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Not', 'Mish', 'Sin', 'Cos', 'Tan', 'Asin',
  'Acos', 'Atan', 'Sinh', 'Cosh', 'ThresholdedRelu', 'Shrink', 'Trilu', 'CumSum', 'RotaryEmbedding', 'BiasAdd', 'BiasSplitGelu', 'ReverseSequence',
  'LRN', 'Hardmax', 'DepthToSpaceSkip',
]);
const BOOL_UNARY = new Set(['IsNaN', 'IsInf']);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Mean', 'Sum', 'PRelu', 'Mod', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor']);
const COMPARE = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);
const POOL = new Set(['MaxPool', 'AveragePool', 'LpPool', 'QLinearAveragePool']);
const GLOBAL_POOL = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool', 'QLinearGlobalAveragePool']);
//#endregion

type Shape = readonly number[];

function broadcast(shapes: readonly (Shape | undefined)[]): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = maxOf(shapes.map((s) => s!.length), 0);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s![s!.length - rank + i];
      if (v === undefined || v === 1) continue;
      d = d === 1 ? v : Math.max(d, v);
    }
    out.push(d);
  }
  return out;
}

function matmulShape(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return undefined;
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

function ints(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Output spatial size of a conv/pool window (ONNX Conv/MaxPool semantics). */
function windowOut(inSize: number, k: number, stride: number, dil: number, padBegin: number, padEnd: number, autoPad: string, ceil: boolean): number {
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(inSize / stride);
  const eff = dil * (k - 1) + 1;
  if (autoPad === 'VALID') return Math.max(0, Math.floor((inSize - eff) / stride) + 1);
  const span = inSize + padBegin + padEnd - eff;
  return Math.max(0, (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1);
}

function windowShape(x: Shape | undefined, kernel: readonly number[] | undefined, node: GraphNode, outChannels: number | undefined): Shape | undefined {
  if (!x || !kernel || x.length < 3) return undefined;
  const sp = x.length - 2;
  const a = node.attributes;
  const strides = ints(a['strides']) ?? new Array<number>(sp).fill(1);
  const dil = ints(a['dilations']) ?? new Array<number>(sp).fill(1);
  const pads = ints(a['pads']) ?? new Array<number>(sp * 2).fill(0);
  const autoPad = typeof a['auto_pad'] === 'string' ? a['auto_pad'] : 'NOTSET';
  const ceil = a['ceil_mode'] === 1;
  const out = [x[0]!, outChannels ?? x[1]!];
  for (let i = 0; i < sp; i++) out.push(windowOut(x[2 + i]!, kernel[i] ?? 1, strides[i] ?? 1, dil[i] ?? 1, pads[i] ?? 0, pads[i + sp] ?? 0, autoPad, ceil));
  return out;
}

/** The values known so far in one graph walk: dtypes and shapes, small integer values (shape arithmetic), unbound symbols. */
class ShapeWalk {
  readonly values = new Map<string, ValueShape>();
  /** Small integer values (shapes, axes, Reshape targets) by value name. */
  readonly known = new Map<string, number[]>();
  readonly unbound = new Set<string>();
  readonly tensorsByName = new Map<string, TensorInfo>();

  constructor(model: Model, graph: Graph, private readonly bindings: ShapeBindings, readonly constants: Readonly<Record<string, readonly number[]>>) {
    for (const t of model.tensors) if (!this.tensorsByName.has(t.name) || t.graph === graph.name) this.tensorsByName.set(t.name, t);
  }

  bindShape(shape: readonly Dim[] | undefined): number[] | undefined {
    if (!shape) return undefined;
    const out: number[] = [];
    for (const d of shape) {
      const v = bindDim(d, this.bindings);
      if (v === undefined) {
        if (typeof d === 'string') this.unbound.add(d);
        out.push(1);
      } else out.push(v);
    }
    return out;
  }

  /** Sets a value's dtype and shape (declared value_info wins over inference; inference fills what is missing). Returns true: the node was handled. */
  set(name: string, dtype: string | undefined, shape: Shape | undefined): true {
    if (!name) return true;
    const prev = this.values.get(name);
    if (prev?.shape && prev.dtype) return true;
    this.values.set(name, { dtype: prev?.dtype ?? dtype, shape: prev?.shape ?? shape });
    return true;
  }

  remember(name: string, v: readonly number[] | undefined): void {
    if (name && v && v.length <= MAX_TRACKED_VALUES && v.every((x) => Number.isFinite(x))) this.known.set(name, [...v]);
  }

  readonly shapeOf = (n: string | undefined): Shape | undefined => (n ? this.values.get(n)?.shape : undefined);
  readonly dtypeOf = (n: string | undefined): string | undefined => (n ? this.values.get(n)?.dtype : undefined);
}

/** A node with what every rule reads first: attributes, inputs, first output, the first input's shape and dtype. */
interface NodeView {
  readonly node: GraphNode;
  readonly a: GraphNode['attributes'];
  readonly inp: readonly string[];
  readonly out0: string;
  readonly x: Shape | undefined;
  readonly xt: string | undefined;
  readonly op: string;
  /** The `axes` attribute, or the known value of input `inputIndex` (opset 13+ moved axes to an input). */
  readonly axesOf: (inputIndex: number) => number[] | undefined;
}

function nodeView(w: ShapeWalk, node: GraphNode): NodeView {
  const a = node.attributes;
  const inp = node.inputs;
  return {
    node, a, inp, out0: node.outputs[0] ?? '', x: w.shapeOf(inp[0]), xt: w.dtypeOf(inp[0]), op: node.op,
    axesOf: (inputIndex) => ints(a['axes']) ?? (inp[inputIndex] ? w.known.get(inp[inputIndex]!) : undefined),
  };
}

/**
 * Infers every value's dtype and shape in `graph`. `constants` maps tensor names (initializers, Constant
 * outputs) to their values for small integer tensors; without them Reshape targets stay unknown unless
 * value_info gives the output shape.
 */
export function inferGraphShapes(model: Model, graph: Graph, bindings: ShapeBindings, constants: Readonly<Record<string, readonly number[]>> = {}): GraphShapes {
  const w = new ShapeWalk(model, graph, bindings, constants);
  for (const name of graph.initializers) {
    const t = w.tensorsByName.get(name);
    if (t) w.set(name, t.dtype, t.shape);
    w.remember(name, own(constants, name));
  }
  for (const v of [...graph.inputs, ...graph.valueInfo, ...graph.outputs]) {
    const t = w.tensorsByName.get(v.name);
    if (t && graph.initializers.includes(v.name)) continue;
    w.values.set(v.name, { dtype: v.dtype, shape: w.bindShape(v.shape) });
  }
  for (const node of graph.nodes) {
    try {
      const n = nodeView(w, node);
      for (const rule of SHAPE_RULES) if (rule(w, n)) break;
    } catch {
      // A malformed attribute must not stop the walk: the value simply stays unknown.
    }
  }
  return { values: w.values, unboundSymbols: [...w.unbound] };
}

/** Shape rules in order; the first that handles a node decides its outputs. */
const SHAPE_RULES: readonly ((w: ShapeWalk, n: NodeView) => boolean)[] = [valueRules, arithmeticRules, windowRules, layoutRules, shapeRules, reductionRules, sequenceRules];

/** Constants, element-wise unary ops, casts and (de)quantization. */
function valueRules(sw: ShapeWalk, n: NodeView): boolean {
  const { node, a, inp, out0, x, xt, op } = n;
  if (op === 'Constant') {
    const v = a['value'];
    if (v && typeof v === 'object' && 'tensor' in v) {
      const t = sw.tensorsByName.get(v.tensor);
      if (t) sw.set(out0, t.dtype, t.shape);
      sw.remember(out0, own(sw.constants, v.tensor) ?? own(sw.constants, out0));
    } else if (typeof a['value_int'] === 'number') {
      sw.set(out0, 'int64', []);
      sw.remember(out0, [a['value_int']]);
    } else if (ints(a['value_ints'])) {
      sw.set(out0, 'int64', [ints(a['value_ints'])!.length]);
      sw.remember(out0, ints(a['value_ints']));
    } else if (typeof a['value_float'] === 'number') sw.set(out0, 'float32', []);
    else if (ints(a['value_floats'])) sw.set(out0, 'float32', [ints(a['value_floats'])!.length]);
    return true;
  }
  if (UNARY.has(op)) {
    sw.set(out0, xt, x);
    if (op === 'Identity') sw.remember(out0, sw.known.get(inp[0] ?? ''));
    if (op === 'SkipLayerNormalization' || op === 'SkipSimplifiedLayerNormalization') {
      if (node.outputs[3]) sw.set(node.outputs[3], xt, x);
    }
    return true;
  }
  if (BOOL_UNARY.has(op)) return sw.set(out0, 'bool', x);
  if (op === 'Cast' || op === 'CastLike') {
    const to = op === 'Cast' && typeof a['to'] === 'number' ? ONNX_DTYPES[a['to']] : sw.dtypeOf(inp[1]);
    sw.set(out0, to, x);
    sw.remember(out0, sw.known.get(inp[0] ?? ''));
    return true;
  }
  if (op === 'QuantizeLinear') return sw.set(out0, sw.dtypeOf(inp[2]) ?? 'uint8', x);
  if (op === 'DequantizeLinear') return sw.set(out0, sw.dtypeOf(inp[1]) ?? 'float32', x);
  if (op === 'DynamicQuantizeLinear') {
    sw.set(out0, 'uint8', x);
    sw.set(node.outputs[1] ?? '', 'float32', []);
    sw.set(node.outputs[2] ?? '', 'uint8', []);
    return true;
  }
  return false;
}

/** Broadcasting arithmetic and comparisons, matrix products. */
function arithmeticRules(sw: ShapeWalk, n: NodeView): boolean {
  const { a, inp, out0, x, xt, op } = n;
  if (BROADCAST.has(op) || COMPARE.has(op) || op === 'Where') {
    const ins = op === 'Where' ? inp.slice(0, 3) : inp;
    sw.set(out0, COMPARE.has(op) ? 'bool' : op === 'Where' ? sw.dtypeOf(inp[1]) : xt, broadcast(ins.filter((n) => n).map(sw.shapeOf)));
    const vals = ins.map((n) => sw.known.get(n));
    if (vals.every((v) => v !== undefined)) sw.remember(out0, elementwise(op, vals as number[][]));
    return true;
  }
  if (op === 'QLinearAdd' || op === 'QLinearMul') return sw.set(out0, xt, broadcast([x, sw.shapeOf(inp[3])]));
  if (op === 'MatMul' || op === 'FusedMatMul' || op === 'MatMulInteger' || op === 'DynamicQuantizeMatMul' || op === 'MatMulIntegerToFloat') {
    const dt = op === 'MatMulInteger' ? 'int32' : op === 'MatMul' || op === 'FusedMatMul' ? xt : 'float32';
    let b = sw.shapeOf(inp[1]);
    if (op === 'FusedMatMul' && a['transB'] === 1 && b && b.length >= 2) b = [...b.slice(0, -2), b[b.length - 1]!, b[b.length - 2]!];
    return sw.set(out0, dt, matmulShape(x, b));
  }
  if (op === 'QLinearMatMul') return sw.set(out0, sw.dtypeOf(inp[7]) ?? xt, matmulShape(x, sw.shapeOf(inp[3])));
  if (op === 'MatMulNBits' || op === 'MatMulBnb4') {
    const n = a['N'];
    return sw.set(out0, xt, x && typeof n === 'number' ? [...x.slice(0, -1), n] : undefined);
  }
  if (op === 'Gemm') {
    const b = sw.shapeOf(inp[1]);
    if (!x || !b || x.length !== 2 || b.length !== 2) return sw.set(out0, xt, undefined);
    const m = a['transA'] === 1 ? x[1]! : x[0]!;
    const n = a['transB'] === 1 ? b[0]! : b[1]!;
    return sw.set(out0, xt, [m, n]);
  }
  return false;
}

/** Convolutions and pooling (sliding windows). */
function windowRules(sw: ShapeWalk, n: NodeView): boolean {
  const { node, a, inp, out0, x, xt, op } = n;
  if (op === 'Conv' || op === 'ConvInteger' || op === 'QLinearConv' || op === 'FusedConv' || op === 'NhwcConv') {
    const w = sw.shapeOf(inp[op === 'QLinearConv' ? 3 : 1]);
    const kernel = ints(a['kernel_shape']) ?? w?.slice(2);
    const dt = op === 'ConvInteger' ? 'int32' : op === 'QLinearConv' ? (sw.dtypeOf(inp[7]) ?? xt) : xt;
    return sw.set(out0, dt, windowShape(x, kernel, node, w?.[0]));
  }
  if (op === 'ConvTranspose') {
    const w = sw.shapeOf(inp[1]);
    if (!x || !w || x.length < 3) return sw.set(out0, xt, undefined);
    const sp = x.length - 2;
    const group = typeof a['group'] === 'number' ? a['group'] : 1;
    const explicit = ints(a['output_shape']);
    const kernel = ints(a['kernel_shape']) ?? w.slice(2);
    const strides = ints(a['strides']) ?? new Array<number>(sp).fill(1);
    const dil = ints(a['dilations']) ?? new Array<number>(sp).fill(1);
    const pads = ints(a['pads']) ?? new Array<number>(sp * 2).fill(0);
    const opad = ints(a['output_padding']) ?? new Array<number>(sp).fill(0);
    const out = [x[0]!, w[1]! * group];
    for (let i = 0; i < sp; i++) {
      out.push(explicit?.[i] ?? strides[i]! * (x[2 + i]! - 1) + opad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + sp]!);
    }
    return sw.set(out0, xt, out);
  }
  if (POOL.has(op)) {
    sw.set(out0, xt, windowShape(x, ints(a['kernel_shape']), node, undefined));
    if (node.outputs[1]) sw.set(node.outputs[1], 'int64', sw.shapeOf(out0));
    return true;
  }
  if (GLOBAL_POOL.has(op)) return sw.set(out0, xt, x ? [x[0]!, x[1]!, ...x.slice(2).map(() => 1)] : undefined);
  return false;
}

/** Flatten, Reshape, Transpose, Concat, Split, Slice and Gather (values tracked for shape arithmetic). */
function layoutRules(sw: ShapeWalk, n: NodeView): boolean {
  const { node, a, inp, out0, x, xt, op } = n;
  if (op === 'Flatten') {
    if (!x) return sw.set(out0, xt, undefined);
    const axis = normAxis(typeof a['axis'] === 'number' ? a['axis'] : 1, x.length);
    return sw.set(out0, xt, [prod(x.slice(0, axis)), prod(x.slice(axis))]);
  }
  if (op === 'Reshape') {
    const target = sw.known.get(inp[1] ?? '') ?? ints(a['shape']);
    sw.set(out0, xt, x && target ? reshape(x, target, a['allowzero'] === 1) : undefined);
    const v = sw.known.get(inp[0] ?? '');
    if (v) sw.remember(out0, v);
    return true;
  }
  if (op === 'Transpose') {
    if (!x) return sw.set(out0, xt, undefined);
    const perm = ints(a['perm']) ?? x.map((_, i) => x.length - 1 - i);
    return sw.set(out0, xt, perm.map((p) => x[p]!));
  }
  if (op === 'Concat') {
    const shapes = inp.filter((n) => n).map(sw.shapeOf);
    if (shapes.some((s) => !s) || shapes.length === 0) return sw.set(out0, xt, undefined);
    const rank = shapes[0]!.length;
    const axis = normAxis(typeof a['axis'] === 'number' ? a['axis'] : 0, rank);
    const out = [...shapes[0]!];
    out[axis] = shapes.reduce((s, sh) => s + (sh![axis] ?? 0), 0);
    sw.set(out0, xt, out);
    const vals = inp.filter((n) => n).map((n) => sw.known.get(n));
    if (vals.every((v) => v)) sw.remember(out0, vals.flat() as number[]);
    return true;
  }
  if (op === 'Split') {
    if (!x) return true;
    const axis = normAxis(typeof a['axis'] === 'number' ? a['axis'] : 0, x.length);
    const parts = ints(a['split']) ?? sw.known.get(inp[1] ?? '');
    const n = node.outputs.length;
    node.outputs.forEach((o, i) => {
      const size = parts?.[i] ?? Math.ceil(x[axis]! / n) - (i === n - 1 ? Math.ceil(x[axis]! / n) * n - x[axis]! : 0);
      const s = [...x];
      s[axis] = size;
      sw.set(o, xt, s);
    });
    return true;
  }
  if (op === 'Slice') {
    if (!x) return sw.set(out0, xt, undefined);
    const starts = sw.known.get(inp[1] ?? '') ?? ints(a['starts']);
    const ends = sw.known.get(inp[2] ?? '') ?? ints(a['ends']);
    if (!starts || !ends) return sw.set(out0, xt, undefined);
    const axes = (sw.known.get(inp[3] ?? '') ?? ints(a['axes']) ?? starts.map((_, i) => i)).map((ax) => normAxis(ax, x.length));
    const steps = sw.known.get(inp[4] ?? '') ?? starts.map(() => 1);
    const out = [...x];
    axes.forEach((ax, i) => {
      out[ax] = sliceLength(x[ax]!, starts[i]!, ends[i]!, steps[i] ?? 1);
    });
    sw.set(out0, xt, out);
    const v = sw.known.get(inp[0] ?? '');
    if (v && x.length === 1) sw.remember(out0, sliceValues(v, starts[0]!, ends[0]!, steps[0] ?? 1));
    return true;
  }
  if (op === 'Gather') {
    const idx = sw.shapeOf(inp[1]);
    if (!x || !idx) return sw.set(out0, xt, undefined);
    const axis = normAxis(typeof a['axis'] === 'number' ? a['axis'] : 0, x.length);
    sw.set(out0, xt, [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)]);
    const data = sw.known.get(inp[0] ?? '');
    const iv = sw.known.get(inp[1] ?? '');
    if (data && iv && x.length === 1) sw.remember(out0, iv.map((i) => data[i < 0 ? i + data.length : i]!));
    return true;
  }
  if (op === 'GatherElements') return sw.set(out0, xt, sw.shapeOf(inp[1]));
  return false;
}

/** Unsqueeze, Squeeze, Shape, Size and the ops that build tensors from shapes. */
function shapeRules(sw: ShapeWalk, n: NodeView): boolean {
  const { a, inp, out0, x, xt, op, axesOf } = n;
  if (op === 'Unsqueeze') {
    const axes = axesOf(1);
    if (!x || !axes) return sw.set(out0, xt, undefined);
    const rank = x.length + axes.length;
    const norm = axes.map((ax) => normAxis(ax, rank)).sort((p, q) => p - q);
    const out = [...x];
    for (const ax of norm) out.splice(ax, 0, 1);
    sw.set(out0, xt, out);
    sw.remember(out0, sw.known.get(inp[0] ?? ''));
    return true;
  }
  if (op === 'Squeeze') {
    if (!x) return sw.set(out0, xt, undefined);
    const axes = axesOf(1)?.map((ax) => normAxis(ax, x.length));
    sw.set(out0, xt, x.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)));
    sw.remember(out0, sw.known.get(inp[0] ?? ''));
    return true;
  }
  if (op === 'Shape') {
    if (!x) return sw.set(out0, 'int64', undefined);
    const rank = x.length;
    const start = normAxis(typeof a['start'] === 'number' ? a['start'] : 0, rank);
    const end = typeof a['end'] === 'number' ? normAxis(a['end'], rank) : rank;
    const dims = x.slice(Math.max(0, start), Math.min(rank, end));
    sw.set(out0, 'int64', [dims.length]);
    sw.remember(out0, dims);
    return true;
  }
  if (op === 'Size') {
    sw.set(out0, 'int64', []);
    if (x) sw.remember(out0, [prod(x)]);
    return true;
  }
  if (op === 'ConstantOfShape') {
    const v = a['value'];
    const dt = v && typeof v === 'object' && 'tensor' in v ? sw.tensorsByName.get(v.tensor)?.dtype : undefined;
    return sw.set(out0, dt ?? 'float32', sw.known.get(inp[0] ?? ''));
  }
  if (op === 'Expand') {
    const target = sw.known.get(inp[1] ?? '');
    return sw.set(out0, xt, x && target ? broadcast([x, target]) : undefined);
  }
  if (op === 'Tile') {
    const reps = sw.known.get(inp[1] ?? '');
    return sw.set(out0, xt, x && reps ? x.map((d, i) => d * (reps[i] ?? 1)) : undefined);
  }
  if (op === 'Range') {
    const [s, l, d] = [sw.known.get(inp[0] ?? '')?.[0], sw.known.get(inp[1] ?? '')?.[0], sw.known.get(inp[2] ?? '')?.[0]];
    return sw.set(out0, xt, s !== undefined && l !== undefined && d ? [Math.max(0, Math.ceil((l - s) / d))] : undefined);
  }
  return false;
}

/** Reductions, Pad, Resize and TopK. */
function reductionRules(sw: ShapeWalk, n: NodeView): boolean {
  const { node, a, inp, out0, x, xt, op, axesOf } = n;
  if (REDUCE.has(op) || op === 'ArgMax' || op === 'ArgMin') {
    if (!x) return sw.set(out0, xt, undefined);
    const keep = a['keepdims'] !== 0;
    const single = typeof a['axis'] === 'number' ? [a['axis']] : undefined;
    const axes = (single ?? axesOf(1))?.map((ax) => normAxis(ax, x.length));
    const noop = a['noop_with_empty_axes'] === 1 && !axes;
    const red = noop ? [] : (axes ?? x.map((_, i) => i));
    const out = keep ? x.map((d, i) => (red.includes(i) ? 1 : d)) : x.filter((_, i) => !red.includes(i));
    sw.set(out0, op.startsWith('Arg') ? 'int64' : xt, out);
    const v = sw.known.get(inp[0] ?? '');
    if (op === 'ReduceProd' && v && x.length === 1) sw.remember(out0, [v.reduce((p, q) => p * q, 1)]);
    return true;
  }
  if (op === 'Pad') {
    const pads = sw.known.get(inp[1] ?? '') ?? ints(a['pads']);
    return sw.set(out0, xt, x && pads && pads.length === x.length * 2 ? x.map((d, i) => d + pads[i]! + pads[i + x.length]!) : undefined);
  }
  if (op === 'Resize' || op === 'Upsample') {
    const sizes = sw.known.get(inp[3] ?? '');
    const scales = ints(a['scales']) ?? (op === 'Upsample' ? undefined : undefined);
    if (x && sizes && sizes.length === x.length) return sw.set(out0, xt, sizes);
    return sw.set(out0, xt, x && scales && scales.length === x.length ? x.map((d, i) => Math.floor(d * scales[i]!)) : undefined);
  }
  if (op === 'TopK') {
    const k = sw.known.get(inp[1] ?? '')?.[0] ?? (typeof a['k'] === 'number' ? a['k'] : undefined);
    if (!x || k === undefined) return true;
    const axis = normAxis(typeof a['axis'] === 'number' ? a['axis'] : -1, x.length);
    const s = x.map((d, i) => (i === axis ? k : d));
    sw.set(out0, xt, s);
    sw.set(node.outputs[1] ?? '', 'int64', s);
    return true;
  }
  return false;
}

/** Recurrent layers and attention / embedding contrib ops; data-dependent ops stay unknown. */
function sequenceRules(sw: ShapeWalk, n: NodeView): boolean {
  const { node, a, inp, out0, x, xt, op } = n;
  if (op === 'LSTM' || op === 'GRU' || op === 'RNN') {
    const hidden = a['hidden_size'];
    if (!x || x.length !== 3 || typeof hidden !== 'number') return true;
    const dirs = a['direction'] === 'bidirectional' ? 2 : 1;
    const batchFirst = a['layout'] === 1;
    const [seq, bat] = batchFirst ? [x[1]!, x[0]!] : [x[0]!, x[1]!];
    sw.set(out0, xt, batchFirst ? [bat, seq, dirs, hidden] : [seq, dirs, bat, hidden]);
    for (const o of node.outputs.slice(1)) sw.set(o, xt, batchFirst ? [bat, dirs, hidden] : [dirs, bat, hidden]);
    return true;
  }
  if (op === 'EmbedLayerNormalization') {
    const word = sw.shapeOf(inp[2]);
    if (x && word) sw.set(out0, sw.dtypeOf(inp[2]), [...x, word[1]!]);
    if (x && node.outputs[1]) sw.set(node.outputs[1], 'int32', [x[0]!]);
    if (x && word && node.outputs[2]) sw.set(node.outputs[2], sw.dtypeOf(inp[2]), [...x, word[1]!]); // embedding_sum
    return true;
  }
  if (op === 'Attention') {
    const w = sw.shapeOf(inp[1]);
    const qkv = ints(a['qkv_hidden_sizes']);
    const vHidden = qkv?.[2] ?? (w ? w[1]! / 3 : undefined);
    return sw.set(out0, xt, x && vHidden ? [...x.slice(0, -1), vHidden] : undefined);
  }
  if (op === 'MultiHeadAttention' || op === 'PackedAttention' || op === 'DecoderMaskedMultiHeadAttention') {
    const v = sw.shapeOf(inp[2]);
    return sw.set(out0, xt, x && x.length === 3 && v && v.length === 3 ? [x[0]!, x[1]!, v[2]!] : x);
  }
  if (op === 'GroupQueryAttention') {
    const heads = a['num_heads'];
    const kvHeads = a['kv_num_heads'];
    if (!x || typeof heads !== 'number' || typeof kvHeads !== 'number') return sw.set(out0, xt, undefined);
    const packed = !inp[1];
    const headDim = packed ? x[x.length - 1]! / (heads + 2 * kvHeads) : x[x.length - 1]! / heads;
    return sw.set(out0, xt, [...x.slice(0, -1), heads * headDim]);
  }
  if (op === 'Einsum' || op === 'NonZero' || op === 'NonMaxSuppression' || op === 'Unique' || op === 'Compress') {
    return true; // data-dependent or not modeled: stays unknown unless value_info declares it
  }
  return false;
}

function prod(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

function reshape(x: Shape, target: readonly number[], allowZero: boolean): number[] | undefined {
  const out = target.map((d, i) => (d === 0 && !allowZero ? (x[i] ?? 0) : d));
  const minus = out.filter((d) => d === -1).length;
  if (minus > 1) return undefined;
  if (minus === 1) {
    const rest = prod(out.filter((d) => d !== -1));
    if (rest === 0) return undefined;
    out[out.indexOf(-1)] = Math.round(prod(x) / rest);
  }
  return out.some((d) => d < 0) ? undefined : out;
}

function clampIndex(i: number, n: number, step: number): number {
  if (i < 0) i += n;
  return step > 0 ? Math.min(Math.max(i, 0), n) : Math.min(Math.max(i, -1), n - 1);
}

function sliceLength(n: number, start: number, end: number, step: number): number {
  if (step === 0) return 0;
  const s = clampIndex(start, n, step);
  const e = clampIndex(end, n, step);
  return Math.max(0, Math.ceil((e - s) / step));
}

function sliceValues(v: readonly number[], start: number, end: number, step: number): number[] {
  const n = v.length;
  const out: number[] = [];
  const s = clampIndex(start, n, step);
  const e = clampIndex(end, n, step);
  if (step > 0) for (let i = s; i < e; i += step) out.push(v[i]!);
  else if (step < 0) for (let i = s; i > e; i += step) out.push(v[i]!);
  return out;
}

function elementwise(op: string, vals: readonly (readonly number[])[]): number[] | undefined {
  const len = maxOf(vals.map((v) => v.length));
  if (vals.some((v) => v.length !== len && v.length !== 1)) return undefined;
  const at = (v: readonly number[], i: number): number => (v.length === 1 ? v[0]! : v[i]!);
  const out: number[] = [];
  for (let i = 0; i < len; i++) {
    const [p, q, r] = [at(vals[0]!, i), vals[1] ? at(vals[1], i) : 0, vals[2] ? at(vals[2], i) : 0];
    switch (op) {
      case 'Add': out.push(p + q); break;
      case 'Sub': out.push(p - q); break;
      case 'Mul': out.push(p * q); break;
      case 'Div': out.push(q === 0 ? NaN : Math.trunc(p / q)); break;
      case 'Max': out.push(Math.max(p, q)); break;
      case 'Min': out.push(Math.min(p, q)); break;
      case 'Equal': out.push(p === q ? 1 : 0); break;
      case 'Less': out.push(p < q ? 1 : 0); break;
      case 'Greater': out.push(p > q ? 1 : 0); break;
      case 'Where': out.push(p ? q : r); break;
      default: return undefined;
    }
  }
  return out;
}

/** Every outer-scope value name that a node's nested graphs (recursively) read. */
function subgraphReads(model: Model, node: GraphNode, depth = 0): string[] {
  if (node.subgraphs.length === 0 || depth > 16) return [];
  const out: string[] = [];
  for (const gName of node.subgraphs) {
    const g = model.graphs.find((x) => x.name === gName);
    if (!g) continue;
    for (const n of g.nodes) {
      appendAll(out, n.inputs);
      appendAll(out, subgraphReads(model, n, depth + 1));
    }
  }
  return out;
}

/**
 * Peak live activation bytes of `graph` (default: the main graph), walking nodes in execution order.
 * `exclude(name)` drops values counted elsewhere (the estimator excludes past/present KV-cache values).
 */
export function peakActivationBytes(
  model: Model,
  bindings: ShapeBindings,
  options: { readonly graph?: Graph; readonly constants?: Readonly<Record<string, readonly number[]>>; readonly exclude?: (name: string) => boolean } = {},
): ActivationPeak {
  const graph = options.graph ?? model.graphs[0];
  if (!graph) return { peakBytes: 0, peakNode: undefined, unknownValues: [], unboundSymbols: [], valueCount: 0, generatedConstantBytes: 0 };
  const shapes = inferGraphShapes(model, graph, bindings, options.constants);
  const weights = new Set(graph.initializers);
  for (const n of graph.nodes) if (n.op === 'Constant') for (const o of n.outputs) weights.add(o);
  const exclude = options.exclude ?? (() => false);
  const n = graph.nodes.length;
  const start = new Map<string, number>();
  const end = new Map<string, number>();
  for (const v of graph.inputs) if (!weights.has(v.name)) start.set(v.name, 0);
  graph.nodes.forEach((node, i) => {
    for (const o of node.outputs) if (o && !weights.has(o) && !start.has(o)) start.set(o, i);
    for (const name of [...node.inputs, ...subgraphReads(model, node)]) if (name && start.has(name)) end.set(name, i);
  });
  for (const v of graph.outputs) if (start.has(v.name)) end.set(v.name, Math.max(n - 1, 0));
  const generated = new Set<string>();
  for (const nd of graph.nodes) if (nd.op === 'ConstantOfShape' && weights.has(nd.inputs[0] ?? '')) generated.add(nd.outputs[0] ?? '');
  let generatedConstantBytes = 0;
  const delta = new Array<number>(n + 1).fill(0);
  const unknown: string[] = [];
  let count = 0;
  for (const [name, s] of start) {
    if (exclude(name)) continue;
    count++;
    const shape = shapes.values.get(name);
    const bytes = valueBytes(shape);
    if (!shape?.shape) {
      unknown.push(name);
      continue;
    }
    const e = Math.max(end.get(name) ?? s, s);
    if (generated.has(name)) generatedConstantBytes += bytes;
    delta[s]! += bytes;
    delta[e + 1]! -= bytes;
  }
  let live = 0;
  let peak = 0;
  let at: number | undefined;
  for (let i = 0; i < n; i++) {
    live += delta[i]!;
    if (live > peak) {
      peak = live;
      at = i;
    }
  }
  if (n === 0) peak = delta[0] ?? 0;
  return { peakBytes: peak, peakNode: at !== undefined ? graph.nodes[at]!.name : undefined, unknownValues: unknown, unboundSymbols: shapes.unboundSymbols, valueCount: count, generatedConstantBytes };
}
