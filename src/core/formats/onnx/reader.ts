/**
 * ONNX reader: ModelProto → IR `Model`, without reading weights. parse.ts walks the protobuf wire format and
 * records every tensor payload as a byte range; this file validates those ranges (shape × data_type against
 * the stored bytes, external data inside its sibling file), names graphs and tensors uniquely, and maps
 * nodes to layers (layers.ts).
 *
 * Counts (documented for `inspect --json`):
 * - parameterCount: elements of every stored tensor — dense and sparse (stored values) initializers of all
 *   graphs, plus values held in `Constant` nodes of all graphs (value / sparse_value / value_float(s) /
 *   value_int(s) / value_string(s)).
 * - tensorCount: dense initializers of the main graph; nodeCount: nodes of the main graph.
 *
 * External data (https://github.com/onnx/onnx/blob/main/docs/ExternalData.md): `location` is resolved through
 * `ctx.siblings`, which refuses absolute paths, `..` and symlinks leaving the model's folder.
 */
import { ModelFormatError, formatError, throwIfCancelled } from '../../errors';
import { checkRelativePath, truncateForMessage, type ByteSource } from '../../io/byteSource';
import { readVarint, varintUnsigned, VARINT_TOO_LONG, VARINT_TRUNCATED, type VarintParts } from '../../io/varint';
import { dtypeInfo, elementBytes, storedByteLength } from '../../model/dtypes';
import type { AttributeValue, Graph, GraphNode, Hyperparameters, MetadataValue, Model, ModelFile, TensorInfo, TensorLocation } from '../../model/types';
import type { ReadContext } from '../context';
import { setOwn } from '../../model/dict';
import { tensorLocation } from '../../model/tensorData';
import { UniqueNames } from '../../model/uniqueNames';
import { buildLayers, isWeightInput, Scope } from './layers';
import { ATTRIBUTE_VALUES_KEPT, decodeDeferredAttributes, decodeValueInfo, OnnxWireParser, ScannedTensor, type DataField, type DataFieldName, type RawAttribute, type RawGraph, type RawModel, type RawNode, type RawSparseTensor, type RawTensor } from './parse';
import { ATTRIBUTE_TYPE, DATA_LOCATION_EXTERNAL, dtypeOfOnnx } from './schema';
import { int64Text, type BigValue } from './wire';
import { appendAll, maxOf } from '../../util/arrays';

/** A plain object keyed by untrusted names: own data properties only, written with setOwn (model/dict.ts). */
function record<T>(): Record<string, T> {
  return {};
}

/** A stored range as the tensor's flat location fields (`byteLength` is the tensor's own, equal to the range's). */
function stored(loc: TensorLocation | undefined): Pick<TensorInfo, 'file' | 'byteOffset' | 'encoding'> {
  return loc ? { file: loc.file, byteOffset: loc.byteOffset, encoding: loc.encoding } : { file: undefined, byteOffset: 0, encoding: 'raw' };
}

/**
 * Defines `key` of `target` as a value made on first read, then kept as a plain data property in the same
 * (enumerable) slot: JSON, spreads and structured clones see data.
 */
function lazyProperty<T extends object, K extends keyof T>(target: T, key: K, make: () => T[K]): void {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get(): T[K] {
      const value = make();
      Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
      return value;
    },
  });
}

/** Whether attribute `a` is of kind `name` (ATTRIBUTE_TYPE): its declared type, else whether that kind's field is `present`. */
function attributeIs(a: RawAttribute, name: string, present: unknown): boolean {
  return a.type !== undefined && a.type !== 0 ? a.type === ATTRIBUTE_TYPE[name] : present !== undefined;
}

/**
 * The JSON-safe value of an attribute of plain values (f, i, s, floats, ints, strings, a reference, an empty list):
 * reader.ts's read of every attribute past its tensors and graphs, and the whole read of those the scan kept
 * (parse.ts DeferredAttributes). `keep` registers the tensor a Constant node's value_* attribute holds.
 */
function plainAttributeValue(a: RawAttribute, keep?: (info: Omit<TensorInfo, 'name' | 'graph'>) => string): AttributeValue | undefined {
  const is = (name: string, present: unknown): boolean => attributeIs(a, name, present);
  const type = a.type;
  if (a.f !== undefined && is('FLOAT', a.f)) {
    if (keep && a.name === 'value_float') keep({ dtype: 'float32', shape: [], elementCount: 1, byteLength: 4, ...stored({ file: '', byteOffset: a.fOffset, byteLength: 4, encoding: 'raw' }), origin: 'constant' });
    return Number.isFinite(a.f) ? a.f : String(a.f);
  }
  if (a.i !== undefined && is('INT', a.i)) {
    if (keep && a.name === 'value_int' && a.iChunk) {
      keep({ dtype: 'int64', shape: [], elementCount: 1, byteLength: a.iChunk.byteLength, ...stored({ file: '', byteOffset: a.iChunk.offset, byteLength: a.iChunk.byteLength, encoding: 'onnx-varint-int64' }), origin: 'constant' });
    }
    return typeof a.i === 'number' ? a.i : a.i.big;
  }
  if (a.s !== undefined && is('STRING', a.s)) {
    if (keep && a.name === 'value_string') keep({ dtype: 'string', shape: [], elementCount: 1, byteLength: a.s.length, ...stored(undefined), origin: 'constant' });
    return a.s;
  }
  if (a.floats && is('FLOATS', a.floats)) {
    const l = a.floats;
    if (keep && a.name === 'value_floats') {
      keep({ dtype: 'float32', shape: [l.count], elementCount: l.count, byteLength: l.count * 4, ...stored(l.chunk ? { file: '', byteOffset: l.chunk.offset, byteLength: l.chunk.byteLength, encoding: 'raw' } : undefined), origin: 'constant' });
    }
    if (l.count > ATTRIBUTE_VALUES_KEPT) return `floats[${l.count}]`;
    return l.values.every(Number.isFinite) ? l.values : l.values.map(String);
  }
  if (a.ints && is('INTS', a.ints)) {
    const l = a.ints;
    if (keep && a.name === 'value_ints') {
      const byteLength = l.chunk?.byteLength ?? l.count;
      keep({ dtype: 'int64', shape: [l.count], elementCount: l.count, byteLength, ...stored(l.chunk ? { file: '', byteOffset: l.chunk.offset, byteLength: l.chunk.byteLength, encoding: 'onnx-varint-int64' } : undefined), origin: 'constant' });
    }
    if (l.count > ATTRIBUTE_VALUES_KEPT) return `ints[${l.count}]`;
    return l.values.every((v) => typeof v === 'number') ? (l.values as number[]) : l.values.map(int64Text);
  }
  if (a.strings && is('STRINGS', a.strings)) {
    const l = a.strings;
    if (keep && a.name === 'value_strings') keep({ dtype: 'string', shape: [l.count], elementCount: l.count, byteLength: l.values.reduce((s, v) => s + v.length, 0), ...stored(undefined), origin: 'constant' });
    return l.count > ATTRIBUTE_VALUES_KEPT ? `strings[${l.count}]` : l.values;
  }
  if (a.refAttrName !== undefined) return `@${a.refAttrName}`;
  // Empty lists (`ints: []`) and attributes whose declared type has no value.
  if (type === ATTRIBUTE_TYPE['FLOATS'] || type === ATTRIBUTE_TYPE['INTS'] || type === ATTRIBUTE_TYPE['STRINGS']) {
    if (keep && (a.name === 'value_floats' || a.name === 'value_ints' || a.name === 'value_strings')) {
      keep({ dtype: a.name === 'value_floats' ? 'float32' : a.name === 'value_ints' ? 'int64' : 'string', shape: [0], elementCount: 0, byteLength: 0, ...stored(undefined), origin: 'constant' });
    }
    return [];
  }
  return undefined;
}

/** The name a Constant node's value tensor is registered under: its first output's, else `<node>.value` (reader.ts `attribute`). */
function constantName(table: RawGraph['nodes'], row: number): string {
  const output = table.outputEnd(row) > table.outputStart(row) ? table.outputEdges.get(table.outputStart(row)) : '';
  return output || `${table.names.get(row) || `${table.op(row) || 'node'}_${row}`}.value`;
}

/** The IR's node of a Constant row whose value the scan read (registered as tensor `value`). */
function constantNode(n: RawNode, value: string): GraphNode {
  const attributes = record<AttributeValue>();
  setOwn(attributes, 'value', { tensor: value });
  return { name: n.name, op: n.op, domain: n.domain, inputs: n.inputs, outputs: n.outputs, attributes, subgraphs: [] };
}

/** The IR's node of a row whose attributes are all plain (see {@link plainAttributeValue}): no tensor, no subgraph. */
function plainNode(n: RawNode, raw: readonly RawAttribute[]): GraphNode {
  const attributes = record<AttributeValue>();
  for (const a of raw) {
    const value = plainAttributeValue(a);
    if (value !== undefined) setOwn(attributes, a.name, value);
  }
  return { name: n.name, op: n.op, domain: n.domain, inputs: n.inputs, outputs: n.outputs, attributes, subgraphs: [] };
}

/** Reads an ONNX model's structure. Throws {@link ModelFormatError} for malformed or hostile input. */
export async function readOnnx(source: ByteSource, ctx: ReadContext): Promise<Model> {
  const raw = await new OnnxWireParser(source, ctx.limits, ctx.token, ctx.budget).model();
  if (!raw.graph) {
    throw new ModelFormatError('bad-value', formatError(source.name, 'has no graph (ModelProto field 7), so it is not an ONNX model'), 0);
  }
  throwIfCancelled(ctx.token);
  return new ModelBuilder(source, ctx, raw, raw.graph).build();
}

/** How each TensorProto payload field stores elements: IR encoding, bytes per value (0 = varint), dtypes allowed. */
const PAYLOAD: Readonly<Record<Exclude<DataFieldName, 'raw_data' | 'string_data'>, { encoding: TensorLocation['encoding']; width: number; dtypes: readonly string[] }>> = {
  float_data: { encoding: 'raw', width: 4, dtypes: ['float32', 'complex64'] },
  double_data: { encoding: 'raw', width: 8, dtypes: ['float64', 'complex128'] },
  int32_data: {
    encoding: 'onnx-varint-int32', width: 0,
    dtypes: ['int32', 'int16', 'int8', 'uint16', 'uint8', 'bool', 'float16', 'bfloat16', 'float8_e4m3fn', 'float8_e4m3fnuz', 'float8_e5m2', 'float8_e5m2fnuz', 'float8_e8m0', 'int4', 'uint4', 'float4_e2m1', 'int2', 'uint2'],
  },
  int64_data: { encoding: 'onnx-varint-int64', width: 0, dtypes: ['int64'] },
  uint64_data: { encoding: 'onnx-varint-uint64', width: 0, dtypes: ['uint32', 'uint64'] },
};

/** Values a typed field holds for `n` elements: complex types store 2 per element; int32_data packs 4-bit pairs and 2-bit quads. */
function valuesFor(field: keyof typeof PAYLOAD, dtype: string, n: number): number {
  if (dtype === 'complex64' || dtype === 'complex128') return 2 * n;
  if (field === 'int32_data') {
    const block = dtypeInfo(dtype)?.blockSize ?? 1;
    return Math.ceil(n / block);
  }
  return n;
}

class ModelBuilder {
  private readonly name: string;
  private readonly tensors: TensorInfo[] = [];
  private readonly tensorNames = new UniqueNames();
  /** Per graph, its stored tensors by the names its nodes use. */
  private readonly scopes = new Map<RawGraph, Scope>();
  private readonly externals = new Map<string, Promise<ByteSource>>();
  private readonly externalSizes = new Map<string, number>();
  private readonly warnings: string[] = [];
  private tensorsWithoutData = 0;
  private unaddressable = 0;
  private segmented = 0;

  constructor(private readonly source: ByteSource, private readonly ctx: ReadContext, private readonly raw: RawModel, private readonly main: RawGraph) {
    this.name = source.name;
  }

  private fail(code: ConstructorParameters<typeof ModelFormatError>[0], problem: string, offset?: number): never {
    throw new ModelFormatError(code, formatError(this.name, problem), offset);
  }

  async build(): Promise<Model> {
    const graphs: Graph[] = [];
    for (const g of this.raw.graphs) graphs.push(await this.graph(g));
    const tensors = this.tensors;
    let hasExperts: boolean | undefined;
    const layers = buildLayers({
      graphs: this.raw.graphs,
      scopes: (g) => {
        const chain: Scope[] = [];
        for (let at: RawGraph | undefined = g; at; at = at.parent) {
          const scope = this.scopes.get(at);
          if (scope) chain.push(scope);
        }
        return chain;
      },
      // Asked only when a layer's weight name reads as a router: most models never ask, so their tensor names are never scanned.
      get hasExperts(): boolean {
        return (hasExperts ??= tensors.some((t) => /(^|[./])experts?[./_]\d/.test(t.name)));
      },
    });
    this.noteWarnings();
    await this.noteConstantOfShape();
    let parameterCount = 0;
    let weightBytes = 0;
    // Indexed: a for-of runs cold here and makes an iterator result per tensor.
    const list = this.tensors;
    for (let i = 0; i < list.length; i++) {
      parameterCount += list[i]!.elementCount;
      weightBytes += list[i]!.byteLength;
    }
    if (!Number.isSafeInteger(parameterCount) || !Number.isSafeInteger(weightBytes)) this.fail('limit-exceeded', 'the total parameter count overflows a safe integer');
    const files: ModelFile[] = [{ path: this.name, byteLength: this.source.size }];
    for (const [path, size] of this.externalSizes) files.push({ path, byteLength: size });
    return {
      format: 'onnx',
      fileName: this.name,
      files,
      totalFileBytes: files.reduce((s, f) => s + f.byteLength, 0),
      formatVersion: this.raw.irVersion,
      producer: this.raw.producerName ? `${this.raw.producerName}${this.raw.producerVersion ? ` ${this.raw.producerVersion}` : ''}` : undefined,
      hyperparameters: this.hyperparameters(layers),
      metadata: this.metadata(),
      tensors: this.tensors,
      layers,
      graphs,
      parameterCount,
      tensorCount: this.main.initializers.length,
      nodeCount: this.main.nodes.length,
      weightBytes,
      warnings: this.warnings,
    };
  }

  //#region tensors
  private register(graph: RawGraph, localName: string, info: Omit<TensorInfo, 'name' | 'graph'>): string {
    const unique = this.claimName(graph, localName);
    // Field by field, in the order a spread of `info` gave (no spread: a copy through the runtime per tensor).
    this.keep(graph, localName, { name: unique, dtype: info.dtype, shape: info.shape, elementCount: info.elementCount, byteLength: info.byteLength, file: info.file, byteOffset: info.byteOffset, encoding: info.encoding, origin: info.origin, graph: graph.path });
    return unique;
  }

  /**
   * True while every tensor registered is the main graph's and kept its own name: the names taken are then exactly the
   * main scope's keys, so its map answers {@link claimName}, and {@link tensorNames} is filled only when that ends
   * ({@link leaveMainNames}).
   */
  private mainNamesOnly = true;
  /** The last graph {@link keep} kept a tensor in, and its scope. */
  private keptGraph: RawGraph | undefined;
  private keptScope: Scope | undefined;

  /** The unique name of a tensor named `localName` in `graph`. */
  private claimName(graph: RawGraph, localName: string): string {
    if (this.mainNamesOnly) {
      // A free name is taken by the keep() that follows (every claim is kept: register, registerScanned).
      if (graph === this.main) {
        const scope = this.scopeOf(graph);
        if (scope === undefined || !scope.tensors.has(localName)) return localName;
      }
      this.leaveMainNames();
    }
    // A repeated name becomes `<graph path>/<name>`, then `…#2`, `…#3` (linear: model/uniqueNames.ts).
    // claim() of a free name takes it (one Set lookup and insert); only a taken one is tried under the graph's path.
    return this.tensorNames.has(localName) ? this.tensorNames.claim(`${graph.path}/${localName}`) : this.tensorNames.take(localName);
  }

  /** Ends {@link mainNamesOnly}: the names taken so far (every tensor's, none renamed) go into {@link tensorNames}. */
  private leaveMainNames(): void {
    this.mainNamesOnly = false;
    const list = this.tensors;
    for (let i = 0; i < list.length; i++) this.tensorNames.add(list[i]!.name);
  }

  /** `graph`'s scope, if it has one yet (the last one {@link keep} used, without a map lookup). */
  private scopeOf(graph: RawGraph): Scope | undefined {
    return this.keptGraph === graph ? this.keptScope : this.scopes.get(graph);
  }

  /** Adds `t` to the model's tensors and to `graph`'s scope under `localName`. */
  private keep(graph: RawGraph, localName: string, t: TensorInfo): void {
    this.tensors.push(t);
    let scope = this.scopeOf(graph);
    if (!scope) this.scopes.set(graph, (scope = new Scope()));
    this.keptGraph = graph;
    this.keptScope = scope;
    scope.set(localName, t);
  }

  private resolve(graph: RawGraph, value: string): TensorInfo | undefined {
    for (let g: RawGraph | undefined = graph; g; g = g.parent) {
      const hit = this.scopes.get(g)?.tensors.get(value);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  private label(t: RawTensor): string {
    return t.name ? `tensor '${truncateForMessage(t.name)}'` : `the tensor at offset ${t.offset}`;
  }

  private dims(dims: readonly (number | BigValue)[], what: string, offset: number): number[] {
    return dims.map((d) => {
      if (typeof d !== 'number' || d < 0) this.fail('bad-value', `${what} has invalid dimension ${int64Text(d)}`, offset);
      return d;
    });
  }

  private elementCount(shape: readonly number[], what: string, offset: number): number {
    let n = 1;
    for (const d of shape) {
      n *= d;
      if (n > this.ctx.limits.maxElementCount) this.fail('limit-exceeded', `${what} has shape [${shape.join(', ')}], more than ${this.ctx.limits.maxElementCount} elements`, offset);
    }
    return n;
  }

  /** Validates a TensorProto and maps it to TensorInfo fields (without name/graph). */
  private async tensorInfo(t: RawTensor, origin: TensorInfo['origin']): Promise<Omit<TensorInfo, 'name' | 'graph'>> {
    if (t.dataLocation !== DATA_LOCATION_EXTERNAL) return this.storedTensorInfo(t, origin);
    const what = this.label(t);
    const dtype = dtypeOfOnnx(t.dataType);
    if (!dtype) this.fail('unsupported', `${what} has unsupported data_type ${t.dataType}`, t.offset);
    const shape = this.dims(t.dims, what, t.offset);
    const elementCount = this.elementCount(shape, what, t.offset);
    if (t.hasSegment) this.segmented++;
    const location = await this.external(t, what, storedByteLength(dtype, elementCount));
    return { dtype, shape, elementCount, byteLength: location.byteLength, ...stored(location), origin };
  }

  /** The data_type of the last initializer {@link registerScanned} registered, its dtype and bytes per element (0: see storedByteLength). */
  private scannedType = -1;
  private scannedDtype: string | undefined;
  private scannedWidth = 0;

  /**
   * Registers a tensor the WebAssembly scan read — an initializer, or a Constant node's value (`localName` its node's,
   * `origin` 'constant') — whose dims are sizes, with at most one raw_data stretch and no other payload, not external,
   * as {@link storedTensorInfo} and {@link register} would: the same checks,
   * results and messages, made straight into its TensorInfo (no payload records, no intermediate object, no label
   * made before a check fails). Its dims list becomes the shape (the scan made it for this tensor alone).
   */
  private registerScanned(graph: RawGraph, t: ScannedTensor, localName = t.name, origin: TensorInfo['origin'] = 'initializer'): string {
    // Most initializers share a data_type or two: its dtype and bytes per element are looked up once per run of it.
    if (t.dataType !== this.scannedType) {
      this.scannedType = t.dataType;
      this.scannedDtype = dtypeOfOnnx(t.dataType);
      this.scannedWidth = this.scannedDtype === undefined ? 0 : elementBytes(this.scannedDtype);
    }
    const dtype = this.scannedDtype;
    if (!dtype) this.fail('unsupported', `${this.label(t)} has unsupported data_type ${t.dataType}`, t.offset);
    const shape = t.dims;
    const max = this.ctx.limits.maxElementCount;
    let elementCount = 1;
    for (let i = 0; i < shape.length; i++) {
      elementCount *= shape[i]!;
      if (elementCount > max) this.fail('limit-exceeded', `${this.label(t)} has shape [${shape.join(', ')}], more than ${max} elements`, t.offset);
    }
    const rawLength = t.rawLength;
    let byteLength = 0;
    let file: string | undefined;
    let byteOffset = 0;
    if (t.rawOffset >= 0 && rawLength > 0) {
      const expectedBytes = this.scannedWidth > 0 ? elementCount * this.scannedWidth : storedByteLength(dtype, elementCount);
      if (expectedBytes !== undefined && rawLength !== expectedBytes) {
        this.fail('bad-value', `${this.label(t)} has ${rawLength} bytes of raw_data but shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes}`, t.offset);
      }
      byteLength = rawLength;
      file = '';
      byteOffset = t.rawOffset;
    } else if (elementCount > 0) this.tensorsWithoutData++;
    const unique = this.claimName(graph, localName);
    this.keep(graph, localName, { name: unique, dtype, shape, elementCount, byteLength, file, byteOffset, encoding: 'raw', origin, graph: graph.path });
    return unique;
  }

  /**
   * Registers the initializers of `g` from index `from` on, into `initializers`, while they are stored in the model
   * file (synchronous: nothing to open); returns the index it stopped at (an external one, or the end). A loop of its
   * own: in the async {@link graph} it would run cold for all of a large graph's initializers.
   */
  private registerStored(g: RawGraph, initializers: string[], from: number): number {
    const list = g.initializers;
    let i = from;
    for (; i < list.length; i++) {
      const t = list[i]!;
      if (t.dataLocation === DATA_LOCATION_EXTERNAL) break;
      initializers.push(t instanceof ScannedTensor ? this.registerScanned(g, t) : this.register(g, t.name, this.storedTensorInfo(t, 'initializer')));
    }
    return i;
  }

  /** {@link tensorInfo} of a tensor stored in the model file (synchronous: nothing to open). */
  private storedTensorInfo(t: RawTensor, origin: TensorInfo['origin']): Omit<TensorInfo, 'name' | 'graph'> {
    const what = this.label(t);
    const dtype = dtypeOfOnnx(t.dataType);
    if (!dtype) this.fail('unsupported', `${what} has unsupported data_type ${t.dataType}`, t.offset);
    const shape = this.dims(t.dims, what, t.offset);
    const elementCount = this.elementCount(shape, what, t.offset);
    if (t.hasSegment) this.segmented++;
    const expectedBytes = storedByteLength(dtype, elementCount);
    const raw = t.data.raw_data;
    if (raw && raw.byteLength > 0) {
      if (expectedBytes !== undefined && raw.byteLength !== expectedBytes) {
        this.fail('bad-value', `${what} has ${raw.byteLength} bytes of raw_data but shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes}`, t.offset);
      }
      // chunkLocation + stored without their two objects (most tensors: one raw_data range).
      if (raw.chunks.length === 1 && raw.unpackedValues === 0) return { dtype, shape, elementCount, byteLength: raw.byteLength, file: '', byteOffset: raw.chunks[0]!.offset, encoding: 'raw', origin };
      this.unaddressable++;
      return { dtype, shape, elementCount, byteLength: raw.byteLength, file: undefined, byteOffset: 0, encoding: 'raw', origin };
    }
    const strings = t.data.string_data;
    if (strings && strings.stringValues > 0) {
      if (dtype !== 'string' || strings.stringValues !== elementCount) {
        this.fail('bad-value', `${what} stores ${strings.stringValues} strings but is ${dtype} with ${elementCount} elements`, t.offset);
      }
      return { dtype, shape, elementCount, byteLength: strings.byteLength, ...stored(undefined), origin };
    }
    for (const field of Object.keys(PAYLOAD) as (keyof typeof PAYLOAD)[]) {
      const d = t.data[field];
      if (!d || d.byteLength === 0) continue;
      const spec = PAYLOAD[field];
      if (!spec.dtypes.includes(dtype)) this.fail('bad-value', `${what} is ${dtype} but stores its values in ${field}`, t.offset);
      const values = valuesFor(field, dtype, elementCount);
      const ok = spec.width > 0 ? d.byteLength === values * spec.width : d.byteLength >= values && d.byteLength <= values * 10;
      if (!ok) this.fail('bad-value', `${what} has ${d.byteLength} bytes of ${field}, which does not hold the ${values} values of shape [${shape.join(', ')}]`, t.offset);
      return { dtype, shape, elementCount, byteLength: d.byteLength, ...stored(this.chunkLocation(d, spec.encoding)), origin };
    }
    if (elementCount > 0) this.tensorsWithoutData++;
    return { dtype, shape, elementCount, byteLength: 0, ...stored(undefined), origin };
  }

  private chunkLocation(d: DataField, encoding: TensorLocation['encoding']): TensorLocation | undefined {
    if (d.chunks.length === 1 && d.unpackedValues === 0) return { file: '', byteOffset: d.chunks[0]!.offset, byteLength: d.chunks[0]!.byteLength, encoding };
    this.unaddressable++;
    return undefined;
  }

  private async external(t: RawTensor, what: string, expectedBytes: number | undefined): Promise<TensorLocation> {
    const entries = new Map(t.externalData);
    const locationText = entries.get('location');
    if (locationText === undefined || locationText === '') this.fail('bad-value', `${what} has data_location EXTERNAL but no external_data location`, t.offset);
    const number = (key: string): number | undefined => {
      const v = entries.get(key);
      if (v === undefined || v === '') return undefined;
      if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) this.fail('bad-value', `${what} has invalid external_data ${key} '${truncateForMessage(v)}'`, t.offset);
      return Number(v);
    };
    const offset = number('offset') ?? 0;
    const declared = number('length');
    const file = checkRelativePath(this.name, locationText);
    const src = await this.openExternal(file, what);
    const length = declared ?? expectedBytes ?? Math.max(0, src.size - offset);
    if (expectedBytes !== undefined && length !== expectedBytes) {
      this.fail('bad-value', `${what} declares ${length} bytes of external data but its shape and data_type need ${expectedBytes}`, t.offset);
    }
    if (offset + length > src.size) {
      this.fail('truncated', `external data of ${what} (offset ${offset}, length ${length}) runs past the end of '${truncateForMessage(file)}' (${src.size} bytes)`, t.offset);
    }
    return { file, byteOffset: offset, byteLength: length, encoding: 'raw' };
  }

  private openExternal(file: string, what: string): Promise<ByteSource> {
    let p = this.externals.get(file);
    if (!p) {
      if (this.externals.size >= this.ctx.limits.maxFileCount) this.fail('limit-exceeded', `the model references more than ${this.ctx.limits.maxFileCount} external data files`);
      p = this.ctx.siblings.open(file).then(
        (s) => {
          this.externalSizes.set(file, s.size);
          return s;
        },
        (e: unknown) => {
          if (e instanceof ModelFormatError && (e.code === 'path-escape' || e.code === 'not-a-file' || e.code === 'limit-exceeded')) throw e;
          if (e instanceof ModelFormatError || (e as { code?: string })?.code === 'ENOENT') {
            throw new ModelFormatError('missing-file', formatError(this.name, `external data file '${truncateForMessage(file)}' of ${what} is missing`));
          }
          throw e;
        },
      );
      this.externals.set(file, p);
    }
    return p;
  }

  private async sparseInfo(s: RawSparseTensor, origin: TensorInfo['origin']): Promise<{ localName: string; info: Omit<TensorInfo, 'name' | 'graph'> } | undefined> {
    if (!s.values) this.fail('bad-value', `the sparse tensor at offset ${s.offset} has no values`, s.offset);
    const info = await this.tensorInfo(s.values, origin);
    if (s.indices) await this.tensorInfo(s.indices, origin);
    this.dims(s.dims, `the sparse tensor at offset ${s.offset}`, s.offset);
    return { localName: s.values.name, info };
  }
  //#endregion

  //#region graphs
  private async graph(g: RawGraph): Promise<Graph> {
    const initializers: string[] = [];
    for (let i = this.registerStored(g, initializers, 0); i < g.initializers.length; i = this.registerStored(g, initializers, i + 1)) {
      const t = g.initializers[i]!;
      initializers.push(this.register(g, t.name, await this.tensorInfo(t, 'initializer')));
    }
    for (const s of g.sparseInitializers) {
      const r = await this.sparseInfo(s, 'initializer');
      if (r) initializers.push(this.register(g, r.localName, r.info));
    }
    // Nodes whose attributes the walk read are completed now, in node order: a Constant's tensor is registered when
    // its node is met, and so is that of a Constant whose value the scan read (parse.ts RawGraph.constants). The others
    // stay rows of the parser's node table until `nodes` is read, those whose plain attributes the scan kept
    // (parse.ts DeferredAttributes) with them decoded then.
    const table = g.nodes;
    const completed = new Map<number, GraphNode>();
    const constantNames = new Map<number, string>();
    const walked = g.nodeAttributes.entries();
    const constants = g.constants.entries();
    for (let w = walked.next(), k = constants.next(); !w.done || !k.done;) {
      if (!k.done && (w.done || k.value[0] < w.value[0])) {
        const [row, t] = k.value;
        // No await per constant (a graph may hold thousands): only an external one waits for its file.
        const unique = this.scannedConstant(g, row, t, initializers);
        constantNames.set(row, typeof unique === 'string' ? unique : await unique);
        k = constants.next();
      } else {
        const [index, raw] = w.value!;
        completed.set(index, await this.node(g, table.node(index), index, raw, initializers));
        w = walked.next();
      }
    }
    const graph: Graph = { name: g.path, nodes: [], inputs: g.inputs, outputs: g.outputs, valueInfo: g.valueInfo.deferred ? [] : g.valueInfo.decodedValues, initializers };
    // Both lists are made when first read (estimate, export, apply and the editor's graph views read them;
    // `inspect` never does), then stay plain data properties. Their bytes were checked when read: making them
    // cannot fail on the input.
    const { name: fileName, ctx } = this;
    lazyProperty(graph, 'nodes', () => {
      const nodes: GraphNode[] = [];
      const kept = g.deferredAttributes;
      const decoded = decodeDeferredAttributes(g, fileName, ctx.limits);
      for (let i = 0, k = 0; i < table.length; i++) {
        if (k < kept.nodeCount && kept.row(k) === i) nodes.push(plainNode(table.node(i), decoded[k++]!));
        else {
          const value = constantNames.get(i);
          nodes.push(value !== undefined ? constantNode(table.node(i), value) : completed.get(i) ?? table.node(i));
        }
      }
      return nodes;
    });
    if (g.valueInfo.deferred) {
      const values = g.valueInfo;
      lazyProperty(graph, 'valueInfo', () => decodeValueInfo(values, fileName, ctx.limits));
    }
    return graph;
  }

  /**
   * Registers the value tensor the scan read of the Constant node at `row` (its only attribute, `value`) as
   * {@link attribute} registers a Constant's: the same name (its first output's, else `<node>.value`), checks and
   * entry. Synchronous when it is stored in the model file; an external one is read as {@link tensorInfo} reads it.
   */
  private scannedConstant(g: RawGraph, row: number, t: ScannedTensor, initializers: string[]): string | Promise<string> {
    const name = constantName(g.nodes, row);
    if (t.dataLocation === DATA_LOCATION_EXTERNAL) {
      return this.tensorInfo(t, 'constant').then((info) => {
        const unique = this.register(g, name, info);
        initializers.push(unique);
        return unique;
      });
    }
    const unique = this.registerScanned(g, t, name, 'constant');
    initializers.push(unique);
    return unique;
  }

  private async node(g: RawGraph, n: RawNode, index: number, raw: readonly RawAttribute[], initializers: string[]): Promise<GraphNode> {
    const isConstant = n.op === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx');
    const label = n.name || `${n.op || 'node'}_${index}`;
    const attributes = record<AttributeValue>();
    const subgraphs: string[] = [];
    for (const a of raw) {
      const value = await this.attribute(g, n, a, isConstant, label, initializers);
      if (value !== undefined) setOwn(attributes, a.name, value);
      if (a.g) subgraphs.push(a.g.path);
      if (a.graphs) appendAll(subgraphs, a.graphs.map((s) => s.path));
    }
    return { name: n.name, op: n.op, domain: n.domain, inputs: n.inputs, outputs: n.outputs, attributes, subgraphs };
  }

  /** Maps one attribute to a JSON-safe value; for `Constant` nodes registers the held tensor. */
  private async attribute(g: RawGraph, n: RawNode, a: RawAttribute, isConstant: boolean, label: string, initializers: string[]): Promise<AttributeValue | undefined> {
    const constName = n.outputs[0] || `${label}.${a.name}`;
    const keep = (info: Omit<TensorInfo, 'name' | 'graph'>): string => {
      const unique = this.register(g, constName, info);
      initializers.push(unique);
      return unique;
    };
    const is = (name: string, present: unknown): boolean => attributeIs(a, name, present);
    if (a.t && is('TENSOR', a.t)) {
      const info = await this.tensorInfo(a.t, 'constant');
      if (isConstant && a.name === 'value') return { tensor: keep(info) };
      return { tensor: a.t.name || `${label}.${a.name}` };
    }
    if (a.sparse && is('SPARSE_TENSOR', a.sparse)) {
      const r = await this.sparseInfo(a.sparse, 'constant');
      if (isConstant && a.name === 'sparse_value' && r) return { tensor: keep(r.info) };
      return { tensor: a.sparse.values?.name || `${label}.${a.name}` };
    }
    if (a.g && is('GRAPH', a.g)) return { graph: a.g.path };
    if (a.graphs && is('GRAPHS', a.graphs)) return a.graphs.map((s) => s.path);
    if (a.tensors && is('TENSORS', a.tensors)) {
      for (const t of a.tensors) await this.tensorInfo(t, 'constant');
      return `tensors[${a.tensors.length}]`;
    }
    return plainAttributeValue(a, isConstant ? keep : undefined);
  }
  //#endregion

  /** The attributes of the main graph's nodes that have any, in node order: those the walk read and those the scan kept (decoded now). */
  private *mainNodeAttributes(): Generator<readonly RawAttribute[]> {
    const g = this.main;
    const kept = g.deferredAttributes;
    const decoded = decodeDeferredAttributes(g, this.name, this.ctx.limits);
    let k = 0;
    for (const [row, attributes] of g.nodeAttributes) {
      for (; k < decoded.length && kept.row(k) < row; k++) yield decoded[k]!;
      yield attributes;
    }
    for (; k < decoded.length; k++) yield decoded[k]!;
  }

  //#region model-level facts
  private metadata(): Record<string, MetadataValue> {
    const r = this.raw;
    const md = record<MetadataValue>();
    if (r.irVersion !== undefined) md['ir_version'] = r.irVersion;
    const opsets = record<MetadataValue>();
    for (const [domain, version] of r.opsetImports) setOwn(opsets, domain === '' ? 'ai.onnx' : domain, version);
    md['opset_import'] = opsets;
    if (r.producerName !== undefined) md['producer_name'] = r.producerName;
    if (r.producerVersion !== undefined) md['producer_version'] = r.producerVersion;
    if (r.domain !== undefined) md['domain'] = r.domain;
    if (r.modelVersion !== undefined) md['model_version'] = r.modelVersion;
    if (r.docString) md['doc_string'] = r.docString;
    if (this.main.name) md['graph_name'] = this.main.name;
    if (r.metadataProps.length) {
      const props = record<MetadataValue>();
      for (const [k, v] of r.metadataProps) setOwn(props, k, v);
      md['metadata_props'] = props;
    }
    if (r.functions.length) md['functions'] = r.functions.map((f) => `${f.domain ? `${f.domain}.` : ''}${f.name} (${f.nodeCount} nodes)`);
    if (r.trainingInfoCount) md['training_info'] = r.trainingInfoCount;
    if (this.raw.graphs.length > 1) md['subgraphs'] = this.raw.graphs.length - 1;
    return md;
  }

  private noteWarnings(): void {
    if (this.tensorsWithoutData) this.warnings.push(`${this.tensorsWithoutData} tensors declare elements but store no data.`);
    if (this.unaddressable) this.warnings.push(`${this.unaddressable} tensors store their values in several pieces, so their bytes are counted but not addressable.`);
    if (this.segmented) this.warnings.push(`${this.segmented} tensors are segments of larger tensors (TensorProto.segment); they are counted as stored.`);
    if (this.raw.functions.length) this.warnings.push(`${this.raw.functions.length} model-local functions are listed in metadata; weights inside them are not counted.`);
  }

  /**
   * ConstantOfShape with a stored shape feeding a weight input materializes a weight at run time
   * (light_resnet50 replaced its weights with them to stay small): those weights are not in the file. Counts
   * the nodes and, where the shape is a small stored int64 tensor, the elements they would hold.
   */
  private async noteConstantOfShape(): Promise<void> {
    let nodes = 0;
    let elements = 0;
    let known = true;
    for (const g of this.raw.graphs) {
      // Most graphs have no ConstantOfShape at all: then there is nothing to trace.
      if (!g.nodes.hasOp('ConstantOfShape')) continue;
      const graphNodes = Array.from({ length: g.nodes.length }, (_, i) => g.nodes.node(i));
      const weightValues = new Set<string>();
      for (const n of graphNodes) n.inputs.forEach((v, i) => { if (v !== '' && isWeightInput(n.op, i)) weightValues.add(v); });
      for (const n of graphNodes) {
        if (n.op !== 'ConstantOfShape' || !n.inputs[0] || !n.outputs.some((o) => weightValues.has(o))) continue;
        const stored = this.resolve(g, n.inputs[0]);
        if (stored === undefined) continue;
        nodes++;
        const shape = await this.readSmallInt64s(stored);
        if (!shape) known = false;
        else elements += shape.reduce((p, d) => p * Math.max(0, d), 1);
      }
    }
    if (nodes === 0) return;
    const total = known && Number.isSafeInteger(elements) ? ` (${elements} elements)` : '';
    this.warnings.push(`Weights are not stored: ${nodes} ConstantOfShape nodes build constant tensors at run time${total} that the file does not hold; they are not counted.`);
  }

  /** Reads a stored int64 tensor of at most 16 elements from the model file (raw or varint-packed). */
  private async readSmallInt64s(t: TensorInfo): Promise<number[] | undefined> {
    const loc = tensorLocation(t);
    if (t.dtype !== 'int64' || t.elementCount > this.ctx.limits.maxRank || !loc || loc.file !== '' || loc.byteLength > 16 * 10) return undefined;
    const bytes = await this.source.read(loc.byteOffset, loc.byteLength);
    const out: number[] = [];
    if (loc.encoding === 'raw') {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i + 8 <= bytes.length; i += 8) out.push(Number(view.getBigInt64(i, true)));
    } else {
      // Read unsigned: a negative int64 (10 bytes, two's complement) is not a safe integer and fails the check below.
      const parts: VarintParts = { lo: 0, hi: 0, next: 0 };
      for (let pos = 0; ; pos = parts.next) {
        const status = readVarint(bytes, pos, bytes.length, parts);
        if (status === VARINT_TRUNCATED) break;
        if (status === VARINT_TOO_LONG) return undefined;
        out.push(varintUnsigned(parts));
      }
    }
    return out.every(Number.isSafeInteger) ? out : undefined;
  }

  /**
   * Decoder hyperparameters from KV-cache inputs: `past_key_values.N.key|value` [batch, kv_heads, past_seq,
   * head_dim] (Optimum, onnxruntime-genai) or GPT-2 style `past_N` [2, batch, heads, past_seq, head_dim]
   * (onnxruntime.transformers). Head count from attention nodes' `num_heads`; vocabulary and width from the
   * embedding table.
   */
  private hyperparameters(layers: readonly { role: string; shape: readonly number[] }[]): Hyperparameters {
    const blocks = new Set<number>();
    let kvHeadCount: number | undefined;
    let headDim: number | undefined;
    for (const input of this.main.inputs) {
      const kv = /^past_key_values[._](\d+)[._](key|value)$|^past[._](key|value)[._](\d+)$|^past[._](\d+)[._](key|value)$/.exec(input.name);
      const packed = /^past_(\d+)$/.exec(input.name);
      const shape = input.shape;
      if (kv && shape?.length === 4) {
        blocks.add(Number(kv[1] ?? kv[4] ?? kv[5]));
        if (typeof shape[1] === 'number') kvHeadCount ??= shape[1];
        if (typeof shape[3] === 'number') headDim ??= shape[3];
      } else if (packed && shape?.length === 5) {
        blocks.add(Number(packed[1]));
        if (typeof shape[2] === 'number') kvHeadCount ??= shape[2];
        if (typeof shape[4] === 'number') headDim ??= shape[4];
      }
    }
    if (blocks.size === 0) return {};
    let headCount: number | undefined;
    for (const attributes of this.mainNodeAttributes()) {
      const heads = attributes.find((a) => a.name === 'num_heads')?.i;
      if (typeof heads === 'number' && heads > 0) {
        headCount = heads;
        const kvHeads = attributes.find((a) => a.name === 'kv_num_heads')?.i;
        if (typeof kvHeads === 'number' && kvHeads > 0) kvHeadCount ??= kvHeads;
        break;
      }
    }
    const embedding = layers.find((l) => l.role === 'embedding' && l.shape.length === 2);
    const hp: { -readonly [K in keyof Hyperparameters]: Hyperparameters[K] } = { blockCount: maxOf(blocks) + 1, source: 'onnx past_key_values inputs' };
    if (headCount !== undefined) hp.headCount = headCount;
    if (kvHeadCount !== undefined) hp.kvHeadCount = kvHeadCount;
    if (headDim !== undefined) hp.headDim = headDim;
    if (embedding) {
      hp.vocabSize = embedding.shape[0]!;
      hp.embeddingLength = embedding.shape[1]!;
    }
    return hp;
  }
  //#endregion
}
