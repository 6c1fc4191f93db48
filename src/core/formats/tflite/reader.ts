/**
 * TFLite reader: walks the `.tflite` FlatBuffer (schema v3, file identifier 'TFL3') lazily through the
 * ByteSource and maps it to the IR. Constant buffers become byte ranges (never read or copied): inline
 * `Buffer.data` vectors, or `Buffer.offset/size` ranges appended after the FlatBuffer in models over 2 GB.
 *
 * IR mapping: one graph per subgraph (nodes = operators, in execution order); tensors = tensors backed by a
 * non-empty buffer (origin 'buffer'); layers = operators with constant weight inputs (see WEIGHTED_OPS);
 * parameterCount = element count of all constant tensors; tensorCount / nodeCount = tensors / operators of
 * subgraph 0 (the main graph).
 * Schema: https://github.com/tensorflow/tensorflow/blob/master/tensorflow/compiler/mlir/lite/schema/schema.fbs
 */
import { ModelFormatError, formatError, throwIfCancelled } from '../../errors';
import type { ByteSource } from '../../io/byteSource';
import type { Limits } from '../../io/limits';
import { MemoryBudget, NODE_ENTRY_BYTES, TENSOR_ENTRY_BYTES } from '../../io/memoryBudget';
import { truncateForMessage } from '../../io/byteSource';
import { dtypeInfo, isRealValued, storedByteLength, type DType } from '../../model/dtypes';
import type { Dim, Graph, GraphNode, GraphValue, Layer, LayerRole, MetadataValue, Model, QuantParams, StoredVector, TensorInfo } from '../../model/types';
import { NO_MORE_WEIGHTS } from '../../model/tensorData';
import type { ReadContext } from '../context';
import { FlatBufferReader, type FbTable, type What } from './flatbuffer';
import {
  BUFFER, CUSTOM_OPERATOR, METADATA, MODEL, OPCODE, OPERATOR, QUANT, SIGNATURE, SUBGRAPH, TENSOR, TENSOR_TYPES,
  TFLITE_IDENTIFIER, WEIGHTED_OPS, builtinOperatorName,
} from './schema';

/** Warnings kept verbatim; the rest are counted in one closing line. Threat: one warning per tensor of a hostile file. */
const MAX_WARNINGS = 100;
/** Scales and zero points kept per tensor once the model's quantization budget is spent (a summary). */
const QUANT_SUMMARY_VALUES = 8;
/** Metadata buffers up to this size are shown as text when printable (e.g. `min_runtime_version` = "1.5.0"). */
const MAX_METADATA_TEXT_BYTES = 256;

/** Where a buffer's bytes are, or undefined for an empty buffer. */
interface BufferRange {
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** One tensor as stored in a subgraph. */
interface RawTensor {
  readonly name: string;
  readonly type: number;
  readonly shape: readonly number[] | undefined;
  readonly shapeSignature: readonly number[] | undefined;
  readonly buffer: number;
  readonly quant: QuantParams | undefined;
  readonly sparse: boolean;
  /** Quantization values this tensor copied into the IR (charged to limits.maxQuantValuesTotal). */
  readonly quantValuesKept: number;
}

/** One operator as stored in a subgraph. */
interface RawOperator {
  readonly opcodeIndex: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly subgraphIndices: readonly number[];
}

/** Options-table field holding a subgraph index, per control-flow op (IfOptions, WhileOptions, CallOnceOptions, CallOptions). */
const SUBGRAPH_OPTION_FIELDS: Readonly<Record<string, readonly number[]>> = {
  IF: [0, 1],
  WHILE: [0, 1],
  CALL_ONCE: [0],
  CALL: [0],
};

/** Inputs of weighted ops that are never weights (TRANSPOSE_CONV / CONV_3D_TRANSPOSE input 0 = output shape). */
const NON_WEIGHT_INPUTS: Readonly<Record<string, readonly number[]>> = {
  TRANSPOSE_CONV: [0],
  CONV_3D_TRANSPOSE: [0],
};

/**
 * One read of a TFLite file: the page-fault-tolerant FlatBuffer walker and what the steps share (limits, token,
 * warnings, the model's budget of quantization values). Every walk is a synchronous step re-run after a page
 * miss (see FlatBufferReader): steps read first and only then touch shared state, with idempotent writes.
 */
class TfliteRead {
  readonly fb: FlatBufferReader;
  readonly limits: Limits;
  readonly warnings: string[] = [];
  private droppedWarnings = 0;
  readonly zeros = zeroArrays();
  readonly budget: MemoryBudget;
  quantValuesLeft: number;

  constructor(readonly source: ByteSource, readonly ctx: ReadContext) {
    this.fb = new FlatBufferReader(source);
    this.limits = ctx.limits;
    this.quantValuesLeft = ctx.limits.maxQuantValuesTotal;
    this.budget = ctx.budget ?? new MemoryBudget(ctx.limits, source.name);
  }

  get token(): ReadContext['token'] {
    return this.ctx.token;
  }

  readonly warn = (text: string): void => {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(text);
    else this.droppedWarnings++;
  };

  str(t: FbTable, index: number, what: string): string | undefined {
    return this.fb.stringField(t, index, this.limits.maxStringBytes, this.limits.maxDisplayStringBytes, what);
  }

  /** The warnings, with one closing line for those not kept. */
  finalWarnings(): string[] {
    if (this.droppedWarnings > 0) this.warnings.push(`${this.droppedWarnings} more warnings were not shown.`);
    return this.warnings;
  }
}

/** A subgraph as stored: its tensors, inputs, outputs and operators. */
interface RawGraph {
  readonly name: string;
  readonly tensors: RawTensor[];
  readonly inputs: number[];
  readonly outputs: number[];
  readonly operators: RawOperator[];
}

/** An operator code: its name (a builtin's, or the custom code), whether custom, and its version. */
interface OperatorCode {
  readonly name: string;
  readonly custom: boolean;
  readonly version: number;
}

/** The buffer table and the byte range of a buffer (synchronous: may throw PageMiss; no side effects). */
interface Buffers {
  readonly count: number;
  readonly range: (index: number) => BufferRange | undefined;
}

/** Reads a TFLite model's structure. Throws {@link ModelFormatError} for malformed input. */
export async function readTflite(source: ByteSource, ctx: ReadContext): Promise<Model> {
  const r = new TfliteRead(source, ctx);
  if (source.size < 8) r.fb.fail('truncated', `is too small to be a TFLite model (${source.size} bytes)`, 0);
  const { model, version, description } = await readRoot(r);
  const opcodes = await readOperatorCodes(r, model);
  const buffers = await readBuffers(r, model);
  const rawGraphs = await readSubgraphs(r, model, opcodes.map((o) => o.name));
  const ir = await buildIr(r, rawGraphs, opcodes, buffers);
  const metadata = await readMetadata(r, model, description, buffers, rawGraphs.map((g) => g.name));
  const warnings = r.finalWarnings();
  let parameterCount = 0;
  let weightBytes = 0;
  for (const t of ir.tensors) {
    parameterCount += t.elementCount;
    weightBytes += t.byteLength;
  }
  const main = rawGraphs[0]!;
  return {
    format: 'tflite',
    fileName: source.name,
    files: [{ path: source.name, byteLength: source.size }],
    totalFileBytes: source.size,
    formatVersion: version,
    producer: description || undefined,
    hyperparameters: {},
    metadata,
    tensors: ir.tensors,
    layers: ir.layers,
    graphs: ir.graphs,
    parameterCount,
    tensorCount: main.tensors.length,
    nodeCount: main.operators.length,
    weightBytes,
    warnings,
  };
}

/** The file identifier check and the root Model table with its version and description. */
function readRoot(r: TfliteRead): Promise<{ model: FbTable; version: number; description: string | undefined }> {
  const { fb } = r;
  return fb.run(() => {
    const head = fb.bytes(0, 8, 'file header');
    const ident = String.fromCharCode(head[4]!, head[5]!, head[6]!, head[7]!);
    if (ident !== TFLITE_IDENTIFIER) {
      fb.fail('bad-magic', `is not a TFLite model (file identifier ${JSON.stringify(ident)}, expected '${TFLITE_IDENTIFIER}')`, 4);
    }
    const model = fb.table(fb.deref(0, 'root table offset'), 'Model table');
    return { model, version: fb.u32Field(model, MODEL.version, 0, 'Model.version'), description: r.str(model, MODEL.description, 'Model.description') };
  });
}

async function readOperatorCodes(r: TfliteRead, model: FbTable): Promise<OperatorCode[]> {
  const { fb } = r;
  const opcodesPos = await fb.run(() => fb.refField(model, MODEL.operatorCodes, 'Model.operator_codes'));
  const opcodeTables = opcodesPos === undefined ? [] : await fb.tableVector(opcodesPos, r.limits.maxNodeCount, 'Model.operator_codes', r.token);
  return fb.map(opcodeTables.length, (i) => {
    const t = fb.table(opcodeTables[i]!, `operator code ${i}`);
    // TFLite's GetBuiltinCode: the larger of the two fields (old files set only the byte, new ones both).
    const code = Math.max(fb.i8Field(t, OPCODE.deprecatedBuiltinCode, 0), fb.i32Field(t, OPCODE.builtinCode, 0));
    let name = builtinOperatorName(code);
    if (code === CUSTOM_OPERATOR) name = r.str(t, OPCODE.customCode, `custom code of operator code ${i}`) || 'CUSTOM';
    return { name, custom: code === CUSTOM_OPERATOR, version: fb.i32Field(t, OPCODE.version, 1) };
  }, r.token);
}

/** The buffer table (buffers are read on demand: only constant tensors and metadata need them). */
async function readBuffers(r: TfliteRead, model: FbTable): Promise<Buffers> {
  const { fb, source } = r;
  const buffersPos = await fb.run(() => fb.refField(model, MODEL.buffers, 'Model.buffers'));
  const bufferTables = buffersPos === undefined ? new Float64Array(0) : await fb.tableVector(buffersPos, r.limits.maxTensorCount + 1, 'Model.buffers', r.token);
  // Not cached: a tensor names its buffer once (shared buffers are re-read, each charged to the budget).
  const bufferWhat = new Label('buffer');
  const bufferDataWhat = new FieldLabel('data of ', bufferWhat);
  const bufferOffsetWhat = new FieldLabel('offset of ', bufferWhat);
  const bufferSizeWhat = new FieldLabel('size of ', bufferWhat);
  const range = (index: number): BufferRange | undefined => {
    bufferWhat.index = index;
    const t = fb.table(bufferTables[index]!, bufferWhat);
    const dataPos = fb.refField(t, BUFFER.data, bufferDataWhat);
    if (dataPos !== undefined) {
      const count = fb.vectorCount(dataPos, 1, Number.MAX_SAFE_INTEGER, bufferDataWhat);
      if (count > 0) return { byteOffset: dataPos + 4, byteLength: count };
    }
    // Models over 2 GB keep payloads after the FlatBuffer: offset is from the file start, valid when > 1.
    const offset = fb.u64Field(t, BUFFER.offset, 0, bufferOffsetWhat);
    if (offset > 1) {
      const size = fb.u64Field(t, BUFFER.size, 0, bufferSizeWhat);
      if (offset + size > source.size) {
        fb.fail('bad-offset', `buffer ${index} stores ${size} bytes at offset ${offset}, past the end of the file (${source.size} bytes)`, t.position);
      }
      if (size > 0) return { byteOffset: offset, byteLength: size };
    }
    return undefined;
  };
  return { count: bufferTables.length, range };
}

/** Every subgraph's tensors, inputs, outputs and operators, with indices checked and counts bounded model-wide. */
async function readSubgraphs(r: TfliteRead, model: FbTable, opNames: readonly string[]): Promise<RawGraph[]> {
  const { fb, limits, token } = r;
  const subgraphsPos = await fb.run(() => fb.refField(model, MODEL.subgraphs, 'Model.subgraphs'));
  const subgraphTables = subgraphsPos === undefined ? new Float64Array(0) : await fb.tableVector(subgraphsPos, limits.maxNodeCount, 'Model.subgraphs', token);
  if (subgraphTables.length === 0) fb.fail('bad-value', 'the model has no subgraphs', model.position);
  const totals = { tensors: 0, operators: 0 };
  const rawGraphs: RawGraph[] = [];
  const usedGraphNames = new Set<string>();
  for (let s = 0; s < subgraphTables.length; s++) {
    throwIfCancelled(token);
    const head = await fb.run(() => {
      const sg = fb.table(subgraphTables[s]!, `subgraph ${s}`);
      return { sg, name: r.str(sg, SUBGRAPH.name, `name of subgraph ${s}`), tensorsPos: fb.refField(sg, SUBGRAPH.tensors, `tensors of subgraph ${s}`) };
    });
    let name = head.name || (s === 0 ? 'main' : `subgraph_${s}`);
    if (usedGraphNames.has(name)) name = `${name}#${s}`;
    usedGraphNames.add(name);
    const tensors = await readSubgraphTensors(r, head.tensorsPos, s, totals);
    const sg = head.sg;
    const { inputs, outputs, operatorsPos } = await fb.run(() => {
      const inputs = int32Vector(fb, sg, SUBGRAPH.inputs, limits.maxTensorCount, `inputs of subgraph ${s}`) ?? [];
      checkTensorIndices(fb, inputs, tensors.length, false, `inputs of subgraph ${s}`, sg.position);
      const outputs = int32Vector(fb, sg, SUBGRAPH.outputs, limits.maxTensorCount, `outputs of subgraph ${s}`) ?? [];
      checkTensorIndices(fb, outputs, tensors.length, false, `outputs of subgraph ${s}`, sg.position);
      return { inputs, outputs, operatorsPos: fb.refField(sg, SUBGRAPH.operators, `operators of subgraph ${s}`) };
    });
    const operators = await readSubgraphOperators(r, operatorsPos, s, totals, opNames, tensors.length, subgraphTables.length);
    rawGraphs.push({ name, tensors, inputs, outputs, operators });
  }
  return rawGraphs;
}

async function readSubgraphTensors(r: TfliteRead, tensorsPos: number | undefined, s: number, totals: { tensors: number; operators: number }): Promise<RawTensor[]> {
  const { fb, limits } = r;
  const tensorTables = tensorsPos === undefined ? [] : await fb.tableVector(tensorsPos, limits.maxTensorCount - totals.tensors, `tensors of subgraph ${s}`, r.token);
  totals.tensors += tensorTables.length;
  r.budget.charge(tensorTables.length * TENSOR_ENTRY_BYTES, `${totals.tensors} tensor entries and ${totals.operators} operators`);
  const labels = new TensorLabels();
  labels.tensor.subgraph = s;
  return fb.map(tensorTables.length, (i) => {
    labels.tensor.index = i;
    const t = readTensor(fb, tensorTables[i]!, labels, limits, r.zeros, r.quantValuesLeft);
    r.quantValuesLeft -= t.quantValuesKept; // after the step's reads: runs once per tensor
    return t;
  }, r.token);
}

async function readSubgraphOperators(r: TfliteRead, operatorsPos: number | undefined, s: number, totals: { tensors: number; operators: number }, opNames: readonly string[], tensorCount: number, subgraphCount: number): Promise<RawOperator[]> {
  const { fb, limits } = r;
  const operatorTables = operatorsPos === undefined ? [] : await fb.tableVector(operatorsPos, limits.maxNodeCount - totals.operators, `operators of subgraph ${s}`, r.token);
  totals.operators += operatorTables.length;
  r.budget.charge(operatorTables.length * NODE_ENTRY_BYTES, `${totals.tensors} tensor entries and ${totals.operators} operators`);
  const ol = new OperatorLabels();
  ol.operator.subgraph = s;
  return fb.map(operatorTables.length, (i): RawOperator => {
    const what = ol.operator;
    what.index = i;
    const t = fb.table(operatorTables[i]!, what);
    const opcodeIndex = fb.u32Field(t, OPERATOR.opcodeIndex, 0, ol.opcodeIndex);
    if (opcodeIndex >= opNames.length) fb.fail('bad-value', `${what} uses opcode ${opcodeIndex} but the model has ${opNames.length} operator codes`, t.position);
    // -1 marks an omitted optional input.
    const opInputs = int32Vector(fb, t, OPERATOR.inputs, limits.maxTensorCount, ol.inputs) ?? [];
    checkTensorIndices(fb, opInputs, tensorCount, true, what, t.position);
    const opOutputs = int32Vector(fb, t, OPERATOR.outputs, limits.maxTensorCount, ol.outputs) ?? [];
    checkTensorIndices(fb, opOutputs, tensorCount, true, what, t.position);
    const subgraphIndices: number[] = [];
    const optionFields = SUBGRAPH_OPTION_FIELDS[opNames[opcodeIndex]!];
    if (optionFields) {
      const options = fb.tableField(t, OPERATOR.builtinOptions, ol.options);
      if (options) {
        for (const f of optionFields) {
          const idx = fb.i32Field(options, f, -1, ol.subgraphIndex);
          if (idx >= 0 && idx < subgraphCount) subgraphIndices.push(idx);
        }
      }
    }
    return { opcodeIndex, inputs: opInputs, outputs: opOutputs, subgraphIndices };
  }, r.token);
}

/** The IR: constant tensors, one graph per subgraph and the layers (operators with constant weights). */
async function buildIr(r: TfliteRead, rawGraphs: readonly RawGraph[], opcodes: readonly OperatorCode[], buffers: Buffers): Promise<{ tensors: TensorInfo[]; graphs: Graph[]; layers: Layer[] }> {
  const tensors: TensorInfo[] = [];
  const graphs: Graph[] = [];
  const layers: Layer[] = [];
  const usedNames = new Set<string>();
  const graphNames = rawGraphs.map((g) => g.name);
  for (let s = 0; s < rawGraphs.length; s++) {
    throwIfCancelled(r.token);
    const g = rawGraphs[s]!;
    const prefix = s === 0 ? '' : `${g.name}/`;
    // Value names unique across the model: later subgraphs prefix theirs when they clash.
    const valueNames = g.tensors.map((t, i) => {
      let n = t.name || `tensor_${i}`;
      if (usedNames.has(n)) n = `${prefix}${n}`;
      if (usedNames.has(n)) n = `${n}#${i}`;
      usedNames.add(n);
      return n;
    });
    const constIndex = await constantTensors(r, g, valueNames, buffers, tensors);
    const { graph, graphLayers } = graphOf(g, prefix, valueNames, constIndex, opcodes, graphNames);
    graphs.push(graph);
    for (const l of graphLayers) layers.push(l);
  }
  return { tensors, graphs, layers };
}

/** Constant tensors of a subgraph, by tensor index (also appended to `out`, the model's tensors). */
async function constantTensors(r: TfliteRead, g: RawGraph, valueNames: readonly string[], buffers: Buffers, out: TensorInfo[]): Promise<Map<number, TensorInfo>> {
  const constIndex = new Map<number, TensorInfo>();
  await r.fb.each(g.tensors.length, (i) => {
    const t = g.tensors[i]!;
    if (t.buffer === 0) return;
    if (t.buffer >= buffers.count) {
      r.fb.fail('bad-value', `tensor '${truncateForMessage(valueNames[i]!)}' refers to buffer ${t.buffer} but the model has ${buffers.count} buffers`);
    }
    const range = buffers.range(t.buffer);
    // No page reads past this point: the step's side effects happen once.
    if (range === undefined) return;
    const info = constantTensor(r.source.name, t, valueNames[i]!, range, g.name, r.ctx, r.warn);
    if (info) {
      constIndex.set(i, info);
      out.push(info);
    }
  }, r.token);
  return constIndex;
}

/** A subgraph as an IR graph (nodes = operators in order) and its layers. */
function graphOf(g: RawGraph, prefix: string, valueNames: readonly string[], constIndex: ReadonlyMap<number, TensorInfo>, opcodes: readonly OperatorCode[], graphNames: readonly string[]): { graph: Graph; graphLayers: Layer[] } {
  const value = (i: number): GraphValue => {
    const t = g.tensors[i]!;
    const dims = t.shapeSignature ?? t.shape;
    // Shapes without unknown (-1) dims are shared with the raw tensor (IR arrays are read-only).
    const shape: readonly Dim[] | undefined = dims === undefined || dims.every((d) => d >= 0) ? dims : dims.map((d) => (d < 0 ? null : d));
    return { name: valueNames[i]!, dtype: TENSOR_TYPES[t.type]?.dtype ?? undefined, shape };
  };
  const edgeName = (i: number): string => (i < 0 ? '' : valueNames[i]!);
  const io = new Set<number>([...g.inputs, ...g.outputs]);
  const valueInfo: GraphValue[] = [];
  for (let i = 0; i < g.tensors.length; i++) if (!io.has(i) && !constIndex.has(i)) valueInfo.push(value(i));

  // A constant fed through DEQUANTIZE/DENSIFY (fp16 or sparse weights) is the consumer's weight.
  const weightOf = new Map<number, TensorInfo>(constIndex);
  for (const op of g.operators) {
    const n = opcodes[op.opcodeIndex]!.name;
    if ((n === 'DEQUANTIZE' || n === 'DENSIFY') && op.inputs.length > 0 && op.outputs.length > 0) {
      const c = constIndex.get(op.inputs[0]!);
      if (c && op.outputs[0]! >= 0) weightOf.set(op.outputs[0]!, c);
    }
  }

  const nodes: GraphNode[] = [];
  const graphLayers: Layer[] = [];
  for (let k = 0; k < g.operators.length; k++) {
    const op = g.operators[k]!;
    const opName = opcodes[op.opcodeIndex]!.name;
    const nodeName = `${prefix}${opName}_${k}`;
    const inputs = op.inputs.map(edgeName);
    const outputs = op.outputs.map(edgeName);
    nodes.push({
      name: nodeName,
      op: opName,
      // '' for builtin operators (like ONNX's default domain), 'custom' for custom ones.
      domain: opcodes[op.opcodeIndex]!.custom ? 'custom' : '',
      inputs,
      outputs,
      attributes: { version: opcodes[op.opcodeIndex]!.version },
      subgraphs: op.subgraphIndices.map((i) => graphNames[i]!),
    });
    const layer = layerFor(opName, nodeName, op, weightOf, inputs, outputs);
    if (layer) graphLayers.push(layer);
  }
  const graph: Graph = {
    name: g.name,
    nodes,
    inputs: g.inputs.map(value),
    outputs: g.outputs.map(value),
    valueInfo,
    initializers: [...constIndex.values()].map((t) => t.name),
  };
  return { graph, graphLayers };
}

/** Metadata entries (small printable buffers as text) and signature definitions. */
async function readMetadata(r: TfliteRead, model: FbTable, description: string | undefined, buffers: Buffers, graphNames: readonly string[]): Promise<Record<string, MetadataValue>> {
  const { fb, limits, token } = r;
  const metadata: Record<string, MetadataValue> = {};
  if (description) metadata.description = description;
  const metadataPos = await fb.run(() => fb.refField(model, MODEL.metadata, 'Model.metadata'));
  if (metadataPos !== undefined) {
    const entries = await fb.tableVector(metadataPos, limits.maxMetadataEntries, 'Model.metadata', token);
    const values = await fb.map(entries.length, (i) => {
      const t = fb.table(entries[i]!, `metadata entry ${i}`);
      const key = r.str(t, METADATA.name, `name of metadata entry ${i}`) || `metadata_${i}`;
      const buffer = fb.u32Field(t, METADATA.buffer, 0, `buffer of metadata entry ${i}`);
      if (buffer >= buffers.count) {
        fb.fail('bad-value', `metadata entry '${truncateForMessage(key)}' refers to buffer ${buffer} but the model has ${buffers.count} buffers`, t.position);
      }
      return { key, value: metadataValue(fb, buffers.range(buffer), buffer) };
    }, token);
    for (const { key, value } of values) metadata[key] = value;
  }
  const signaturesPos = await fb.run(() => fb.refField(model, MODEL.signatureDefs, 'Model.signature_defs'));
  if (signaturesPos !== undefined) {
    const defs = await fb.tableVector(signaturesPos, limits.maxMetadataEntries, 'Model.signature_defs', token);
    const list: MetadataValue[] = await fb.map(defs.length, (i) => {
      const t = fb.table(defs[i]!, `signature ${i}`);
      const key = r.str(t, SIGNATURE.signatureKey, `key of signature ${i}`) ?? '';
      const subgraph = fb.u32Field(t, SIGNATURE.subgraphIndex, 0, `subgraph of signature ${i}`);
      return { key, subgraph: graphNames[subgraph] ?? subgraph };
    }, token);
    if (list.length > 0) metadata.signatures = list;
  }
  return metadata;
}

/** The int32 vector at field `index` of `t` (shapes, tensor index lists), or undefined when absent. */
function int32Vector(fb: FlatBufferReader, t: FbTable, index: number, maxCount: number, what: What): number[] | undefined {
  const pos = fb.refField(t, index, what);
  if (pos === undefined) return undefined;
  return fb.scalarVector(pos, 'i32', maxCount, what).values;
}

/** An error-message label `<kind> <index>[ of subgraph <s>]`, formatted only when a check fails. */
class Label {
  index = 0;
  subgraph = -1;
  constructor(readonly kind: string) {}
  toString(): string {
    return this.subgraph < 0 ? `${this.kind} ${this.index}` : `${this.kind} ${this.index} of subgraph ${this.subgraph}`;
  }
}

/** `<prefix><owner>` (e.g. 'shape of tensor 3 of subgraph 0'), formatted only when a check fails. */
class FieldLabel {
  constructor(readonly prefix: string, readonly owner: What) {}
  toString(): string {
    return `${this.prefix}${String(this.owner)}`;
  }
}

/** Labels for the fields of one tensor (a walk reuses them, updating the tensor's index). */
class TensorLabels {
  readonly tensor = new Label('tensor');
  readonly shape = new FieldLabel('shape of ', this.tensor);
  readonly shapeSignature = new FieldLabel('shape signature of ', this.tensor);
  readonly type = new FieldLabel('type of ', this.tensor);
  readonly buffer = new FieldLabel('buffer of ', this.tensor);
  readonly name = new FieldLabel('name of ', this.tensor);
  readonly quantization = new FieldLabel('quantization of ', this.tensor);
  readonly scales = new FieldLabel('scales of ', this.tensor);
  readonly zeroPoints = new FieldLabel('zero points of ', this.tensor);
  readonly quantizedDimension = new FieldLabel('quantized dimension of ', this.tensor);
}

/** Labels for the fields of one operator. */
class OperatorLabels {
  readonly operator = new Label('operator');
  readonly opcodeIndex = new FieldLabel('opcode index of ', this.operator);
  readonly inputs = new FieldLabel('inputs of ', this.operator);
  readonly outputs = new FieldLabel('outputs of ', this.operator);
  readonly options = new FieldLabel('options of ', this.operator);
  readonly subgraphIndex = new FieldLabel('subgraph index of ', this.operator);
}

/** Checks tensor indices of a subgraph or operator edge list (-1 = omitted optional input, when allowed). */
function checkTensorIndices(fb: FlatBufferReader, values: readonly number[], tensorCount: number, allowOmitted: boolean, what: What, offset: number): void {
  const min = allowOmitted ? -1 : 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min || v >= tensorCount) fb.fail('bad-value', `${what} refers to tensor ${v} but the subgraph has ${tensorCount} tensors`, offset);
  }
}

/**
 * Interned all-zero arrays by length, shared by every tensor whose zero points are all 0 (symmetric int8
 * quantization, the TFLite default for weights): the IR is read-only, so one frozen array serves them all.
 */
function zeroArrays(): (count: number) => number[] {
  const cache = new Map<number, number[]>();
  return (count) => {
    let z = cache.get(count);
    if (z === undefined) {
      z = Object.freeze(new Array<number>(count).fill(0)) as number[];
      cache.set(count, z);
    }
    return z;
  };
}

/**
 * One tensor table of subgraph `s` (a synchronous step). `quantValuesLeft` is the model's remaining budget
 * of quantization values (limits.maxQuantValuesTotal): while it lasts, scales and zero points are kept up to
 * limits.maxQuantValues per tensor; after it, only the first {@link QUANT_SUMMARY_VALUES} are. Truncated
 * vectors also record their scale range and file location. The caller subtracts `quantValuesKept`.
 */
function readTensor(fb: FlatBufferReader, position: number, w: TensorLabels, limits: Limits, zeros: (count: number) => number[], quantValuesLeft: number): RawTensor {
  const t = fb.table(position, w.tensor);
  const shape = int32Vector(fb, t, TENSOR.shape, limits.maxRank, w.shape);
  const shapeSignature = int32Vector(fb, t, TENSOR.shapeSignature, limits.maxRank, w.shapeSignature);
  const type = fb.i8Field(t, TENSOR.type, 0, w.type);
  const buffer = fb.u32Field(t, TENSOR.buffer, 0, w.buffer);
  const name = fb.stringField(t, TENSOR.name, limits.maxNameBytes, limits.maxDisplayStringBytes, w.name) ?? '';
  let quant: QuantParams | undefined;
  let quantValuesKept = 0;
  const q = fb.tableField(t, TENSOR.quantization, w.quantization);
  if (q) {
    const scalePos = fb.refField(q, QUANT.scale, w.scales);
    const zeroPos = fb.refField(q, QUANT.zeroPoint, w.zeroPoints);
    const scaleCount = scalePos === undefined ? 0 : fb.vectorCount(scalePos, 4, limits.maxArrayLength, w.scales);
    const keep = Math.min(scaleCount, limits.maxQuantValues) <= quantValuesLeft ? limits.maxQuantValues : Math.min(QUANT_SUMMARY_VALUES, limits.maxQuantValues);
    const scales = scalePos === undefined ? NO_VALUES : fb.scalarVector(scalePos, 'f32', limits.maxArrayLength, w.scales, keep);
    const zeroPoints = zeroPos === undefined ? NO_VALUES : fb.scalarVector(zeroPos, 'i64', limits.maxArrayLength, w.zeroPoints, keep, zeros);
    if (scales.count > 0) {
      const dim = fb.i32Field(q, QUANT.quantizedDimension, 0, w.quantizedDimension);
      const axis = scales.count > 1 ? dim : undefined;
      if (scales.values.length === scales.count && zeroPoints.values.length === zeroPoints.count) {
        quant = { scales: scales.values, zeroPoints: zeroPoints.values, scaleCount: scales.count, axis };
      } else {
        // Truncated (per-tensor cap, or the model's budget is spent): keep a summary and where the rest is.
        const scaleRange = fb.f32Range(scalePos! + 4, scales.count);
        const storedScales: StoredVector = { byteOffset: scalePos! + 4, count: scales.count, dtype: 'float32' };
        const storedZeroPoints: StoredVector | undefined = zeroPoints.values.length < zeroPoints.count ? { byteOffset: zeroPos! + 4, count: zeroPoints.count, dtype: 'int64' } : undefined;
        quant = {
          scales: scales.values,
          zeroPoints: zeroPoints.values,
          scaleCount: scales.count,
          axis,
          ...(scaleRange ? { scaleRange } : {}),
          ...(scales.values.length < scales.count ? { storedScales } : {}),
          ...(storedZeroPoints ? { storedZeroPoints } : {}),
        };
      }
      // Interned all-zero arrays (frozen) cost nothing per tensor.
      quantValuesKept = scales.values.length + (Object.isFrozen(zeroPoints.values) ? 0 : zeroPoints.values.length);
    }
  }
  return { name, type, shape, shapeSignature, buffer, quant, sparse: fb.has(t, TENSOR.sparsity), quantValuesKept };
}

/** Shape of a tensor without one (a scalar). */
const NO_DIMS: readonly number[] = Object.freeze([]);

const NO_VALUES: { readonly count: number; readonly values: number[] } = Object.freeze({ count: 0, values: Object.freeze([]) as unknown as number[] });

/** Maps a tensor backed by a non-empty buffer to a TensorInfo, or undefined (with a warning) for RESOURCE/VARIANT data. */
function constantTensor(
  fileName: string,
  t: RawTensor,
  name: string,
  range: BufferRange,
  graph: string,
  ctx: ReadContext,
  warn: (text: string) => void,
): TensorInfo | undefined {
  const quoted = (): string => `'${truncateForMessage(name)}'`;
  const typeInfo = TENSOR_TYPES[t.type];
  if (typeInfo === undefined) {
    throw new ModelFormatError('unsupported', formatError(fileName, `constant tensor ${quoted()} has unsupported TFLite type '${t.type}'`));
  }
  if (typeInfo.dtype === null) {
    warn(`Constant tensor ${quoted()} of type ${typeInfo.name} is not a weight and was skipped.`);
    return undefined;
  }
  const dtype: DType = typeInfo.dtype;
  const shape = t.shape ?? NO_DIMS;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d < 0) throw new ModelFormatError('bad-value', formatError(fileName, `constant tensor ${quoted()} has a negative dimension '${d}'`));
  }
  let elementCount = 1;
  for (let i = 0; i < shape.length; i++) {
    elementCount *= shape[i]!; // int32 dims: the product stays exact until it passes 2^53, checked here
    if (!Number.isSafeInteger(elementCount)) throw new ModelFormatError('limit-exceeded', formatError(fileName, `shape of tensor ${quoted()} overflows a safe integer`));
  }
  if (elementCount > ctx.limits.maxElementCount) {
    throw new ModelFormatError('limit-exceeded', formatError(fileName, `tensor ${quoted()} has ${elementCount} elements, more than the limit of ${ctx.limits.maxElementCount}`));
  }
  const expected = storedByteLength(dtype, elementCount);
  if (t.sparse) {
    warn(`Tensor ${quoted()} is stored sparse: ${range.byteLength} bytes hold its ${elementCount} elements.`);
  } else if (expected !== undefined && expected > range.byteLength) {
    // Threat (issue 14): a shape far larger than its buffer made `sensitivity` work in proportion to the declared
    // elements (48 s on a 12-byte buffer); like ONNX raw_data and safetensors data_offsets, it is malformed.
    throw new ModelFormatError('bad-value', formatError(fileName, `tensor ${quoted()} stores ${range.byteLength} bytes but its shape [${shape.slice(0, 16).join(', ')}] of ${dtype} needs ${expected}`));
  } else if (expected !== undefined && expected !== range.byteLength) {
    warn(`Tensor ${quoted()} stores ${range.byteLength} bytes but its shape [${shape.join(', ')}] of ${dtype} needs ${expected}.`);
  }
  const info: TensorInfo = t.quant
    ? { name, dtype, shape, elementCount, byteLength: range.byteLength, file: '', byteOffset: range.byteOffset, encoding: 'raw', origin: 'buffer', graph, quant: t.quant }
    : { name, dtype, shape, elementCount, byteLength: range.byteLength, file: '', byteOffset: range.byteOffset, encoding: 'raw', origin: 'buffer', graph };
  return info;
}

/** Weight-like constants for ops outside WEIGHTED_OPS: real values or small quantized integers, not shapes/indices. */
function isWeightLike(dtype: DType): boolean {
  return isRealValued(dtype) || dtype === 'int8' || dtype === 'uint8' || dtype === 'int16' || dtype === 'int4' || dtype === 'uint4' || dtype === 'int2';
}

/** Roles whose weights are lowered by default. */
const QUANTIZABLE_ROLES: ReadonlySet<LayerRole> = new Set<LayerRole>(['conv', 'linear', 'recurrent', 'embedding']);

/** The layer for one operator, or undefined when it has no constant weight inputs. */
function layerFor(
  opName: string,
  nodeName: string,
  op: RawOperator,
  weightOf: ReadonlyMap<number, TensorInfo>,
  inputs: readonly string[],
  outputs: readonly string[],
): Layer | undefined {
  if (opName === 'DEQUANTIZE' || opName === 'DENSIFY') return undefined; // their constant belongs to the consumer
  const spec = WEIGHTED_OPS[opName];
  const skip = NON_WEIGHT_INPUTS[opName] ?? [];
  let weights: TensorInfo[] = [];
  let role: LayerRole = 'other';
  if (spec && spec.table !== undefined) {
    const table = weightOf.get(op.inputs[spec.table] ?? -1);
    if (!table) return undefined;
    weights = [table];
    role = spec.role;
  } else {
    const seen = new Set<string>();
    for (let i = 0; i < op.inputs.length; i++) {
      const w = weightOf.get(op.inputs[i]!);
      if (!w || skip.includes(i) || seen.has(w.name)) continue;
      if ((!spec || spec.role === 'bias') && !isWeightLike(w.dtype)) continue;
      seen.add(w.name);
      weights.push(w);
    }
    if (weights.length === 0) return undefined;
    role = spec ? spec.role : 'other';
  }
  const main = weights[0]!;
  let parameterCount = 0;
  let byteLength = 0;
  for (const w of weights) {
    parameterCount += w.elementCount;
    byteLength += w.byteLength;
  }
  const mainKind = dtypeInfo(main.dtype)?.kind;
  return {
    name: nodeName,
    op: opName,
    role,
    block: undefined,
    expert: undefined,
    weight: main.name,
    moreWeights: weights.length > 1 ? weights.slice(1).map((w) => w.name) : NO_MORE_WEIGHTS,
    parameterCount,
    byteLength,
    dtype: main.dtype,
    shape: main.shape,
    // Integer weights with quantization scales are real weights stored quantized (int8 conv kernels).
    quantizable: QUANTIZABLE_ROLES.has(role) && main.shape.length >= 2 && (isRealValued(main.dtype) || (mainKind !== 'bool' && main.quant !== undefined)),
    inputs,
    outputs,
  };
}

/** A metadata buffer as IR metadata: short printable text as a string, else its location. */
function metadataValue(fb: FlatBufferReader, range: BufferRange | undefined, buffer: number): MetadataValue {
  if (range === undefined) return '';
  if (range.byteLength <= MAX_METADATA_TEXT_BYTES) {
    const bytes = fb.bytes(range.byteOffset, range.byteLength, `metadata buffer ${buffer}`);
    let text = '';
    let printable = true;
    let ended = false; // C strings end with NUL, often padded with more NULs (min_runtime_version)
    for (let i = 0; i < bytes.length && printable; i++) {
      const c = bytes[i]!;
      if (c === 0) ended = true;
      else if (ended || c < 0x20 || c > 0x7e) printable = false;
      else text += String.fromCharCode(c);
    }
    if (printable) return text;
  }
  return { buffer, byteOffset: range.byteOffset, byteLength: range.byteLength };
}
