/**
 * Walks an ONNX ModelProto on the wire (see wire.ts) into plain "raw" records: graphs (main + every If/Loop/Scan
 * body, recursively), nodes with their attributes, initializers, value infos, opsets and metadata. Tensor
 * payloads are recorded as byte ranges and skipped; nothing proportional to the weights is read or kept.
 *
 * Field numbers come from the generated schema (schema.ts). Upstream field names are kept here
 * (`raw_data`, `external_data`, `dim_param`); reader.ts maps the records to the IR.
 * Spec: https://github.com/onnx/onnx/blob/main/onnx/onnx.in.proto and docs/IR.md.
 */
import { throwIfCancelled, type CancellationToken } from '../../errors';
import { MemoryByteSource, type ByteSource } from '../../io/byteSource';
import type { Limits } from '../../io/limits';
import { MemoryBudget, NODE_ENTRY_BYTES, TENSOR_ENTRY_BYTES } from '../../io/memoryBudget';
import type { AttributeValue, Dim, GraphNode, GraphValue } from '../../model/types';
import { F, dtypeOfOnnx } from './schema';
import { MAX_KEY_AND_LENGTH_BYTES as KEY, WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireCursor, drive, int64Text, need, needInto, type BigValue, type Wire } from './wire';
import { UniqueNames } from '../../model/uniqueNames';
import { appendAll } from '../../util/arrays';
import { GraphScanner, graphScanMayGiveUp, graphScanMinBytes, SCAN_CONSTANT, SCAN_GIVE_UP_CALLS, SCAN_GIVE_UP_FIELDS, SCAN_LABELS, SCAN_MAX_BYTES } from './graphScan';

const utf8 = new TextDecoder('utf-8', { fatal: false });
/** One char per byte (WHATWG maps 'latin1' to windows-1252: only its ASCII part, the same in every encoding, is used). */
const latin1 = new TextDecoder('latin1');

/** Attribute list values kept for display; longer lists are summarized by count. */
export const ATTRIBUTE_VALUES_KEPT = 64;

/** One stretch of tensor payload bytes inside the model file. */
export interface DataChunk {
  readonly offset: number;
  readonly byteLength: number;
}

/** Payload of one TensorProto data field (`raw_data`, `float_data`, …). */
export interface DataField {
  /** Packed (length-delimited) stretches, in file order. */
  chunks: DataChunk[];
  /** Total payload bytes (packed and unpacked). */
  byteLength: number;
  /** Values stored unpacked (one key per value); their bytes are not one range. */
  unpackedValues: number;
  /** Values stored inline as repeated `bytes` (string_data). */
  stringValues: number;
}

/** TensorProto payload fields by upstream name. */
export type DataFieldName = 'raw_data' | 'float_data' | 'int32_data' | 'string_data' | 'int64_data' | 'double_data' | 'uint64_data';

/** A TensorProto as found on the wire. */
export interface RawTensor {
  /** Offset of the TensorProto message, for error messages. */
  readonly offset: number;
  name: string;
  dims: (number | BigValue)[];
  dataType: number;
  dataLocation: number;
  hasSegment: boolean;
  readonly data: Partial<Record<DataFieldName, DataField>>;
  /** The shared frozen {@link NONE} until the first entry (most tensors have none). */
  externalData: [string, string][];
}

/**
 * An initializer read by the WebAssembly scan (graphScan.ts): name, dims, data_type, data_location and at most one
 * raw_data stretch, nothing else. Its fields are flat (reader.ts reads them so, see `scannedTensorInfo`); the
 * {@link RawTensor} view of its payload is made only if something asks for it.
 */
export class ScannedTensor implements RawTensor {
  // Fields assigned in the constructor only (no parameter properties, which ES2022 class fields define on every new
  // object before the constructor assigns them again: a cost per tensor).
  declare readonly offset: number;
  declare readonly name: string;
  declare readonly dims: number[];
  declare readonly dataType: number;
  declare readonly dataLocation: number;
  /** The raw_data stretch: its offset (-1: no raw_data field) and length. */
  declare readonly rawOffset: number;
  declare readonly rawLength: number;

  constructor(offset: number, name: string, dims: number[], dataType: number, dataLocation: number, rawOffset: number, rawLength: number) {
    // In the order the fields had as parameter properties.
    const self = this as { -readonly [K in keyof ScannedTensor]: ScannedTensor[K] };
    self.offset = offset;
    self.name = name;
    self.dims = dims;
    self.dataType = dataType;
    self.dataLocation = dataLocation;
    self.rawOffset = rawOffset;
    self.rawLength = rawLength;
  }

  get hasSegment(): boolean {
    return false;
  }

  get externalData(): [string, string][] {
    return NONE;
  }

  get data(): Partial<Record<DataFieldName, DataField>> {
    if (this.rawOffset < 0) return {};
    return { raw_data: { chunks: [{ offset: this.rawOffset, byteLength: this.rawLength }], byteLength: this.rawLength, unpackedValues: 0, stringValues: 0 } };
  }
}

/** A SparseTensorProto. */
export interface RawSparseTensor {
  readonly offset: number;
  values: RawTensor | undefined;
  indices: RawTensor | undefined;
  readonly dims: (number | BigValue)[];
}

/** A list attribute's stored values: count, the first few decoded, and where a packed list lies. */
export interface RawList<T> {
  count: number;
  readonly values: T[];
  /** The single packed stretch holding every value, when there is exactly one. */
  chunk: DataChunk | undefined;
  packedChunks: number;
}

/** An AttributeProto. */
export interface RawAttribute {
  name: string;
  type: number | undefined;
  refAttrName: string | undefined;
  f: number | undefined;
  /** Offset of the 4 bytes of `f`. */
  fOffset: number;
  i: number | BigValue | undefined;
  /** Offset and length of the varint `i`. */
  iChunk: DataChunk | undefined;
  s: string | undefined;
  t: RawTensor | undefined;
  g: RawGraph | undefined;
  sparse: RawSparseTensor | undefined;
  floats: RawList<number> | undefined;
  ints: RawList<number | BigValue> | undefined;
  strings: RawList<string> | undefined;
  tensors: RawTensor[] | undefined;
  graphs: RawGraph[] | undefined;
}

/** A NodeProto as the IR's node, made from a {@link NodeTable} row (see {@link NodeTable.node}). */
export type RawNode = GraphNode;

/** Shared by nodes without inputs, outputs or attributes (frozen: nothing writes a parsed node's lists). */
const NONE = Object.freeze([]) as unknown as never[];

/** The attributes of every node without any (frozen: a node's attributes are never written after reading). */
export const NO_ATTRIBUTES: Readonly<Record<string, AttributeValue>> = Object.freeze({});

/** A growable column of int32 values (`data` holds `length` of them, then room). */
export class IntColumn {
  data = new Int32Array(64);
  length = 0;

  room(n: number): void {
    if (this.length + n > this.data.length) {
      const grown = new Int32Array(Math.max(2 * this.data.length, this.length + n));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
  }

  push(v: number): void {
    if (this.length === this.data.length) this.room(1);
    this.data[this.length++] = v;
  }

  /** Appends three values (a text span). */
  push3(a: number, b: number, c: number): void {
    const at = this.length;
    if (at + 3 > this.data.length) this.room(3);
    const data = this.data;
    data[at] = a;
    data[at + 1] = b;
    data[at + 2] = c;
    this.length = at + 3;
  }

  /** Room for `total` values in all (one allocation; pages never written are never touched). */
  reserve(total: number): void {
    if (total > this.data.length) {
      const grown = new Int32Array(total);
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
  }

  /** Appends `values` (one native copy). */
  append(values: Int32Array): void {
    this.room(values.length);
    this.data.set(values, this.length);
    this.length += values.length;
  }
}

/**
 * One text column of a {@link NodeTable} (node names, input or output edges): a string per entry, made when read. An
 * entry read by the WebAssembly scan (graphScan.ts) is a span of its scan's one text of name bytes, so the names and
 * edges that layer building never reads (most nodes of a large graph are not layers) are never made; an entry the
 * JavaScript walk read is its own text. The first char and length answer without making the string.
 */
export class TextColumn {
  /** Per entry: the index of its text (in the table's texts), its start and end there. */
  private readonly spans = new IntColumn();

  /** `texts`: the texts of the table the column belongs to (shared by its columns). */
  constructor(private readonly texts: string[]) {}

  get length(): number {
    return this.spans.length / 3;
  }

  /** Room for `entries` entries in all. */
  reserve(entries: number): void {
    this.spans.reserve(3 * entries);
  }

  push(s: string): void {
    this.spans.push3(this.texts.push(s) - 1, 0, s.length);
  }

  /**
   * Appends scanned entries: (text, start, end) triples; a text of -1 marks an entry that is not ASCII, whose start
   * and end are offsets in `arena` (the scan's name bytes): it is decoded alone and becomes a text of its own.
   */
  appendSpans(spans: Int32Array, nonAscii: boolean, arena: Uint8Array): void {
    const from = this.spans.length;
    this.spans.append(spans);
    if (!nonAscii) return;
    const data = this.spans.data;
    for (let i = from; i < this.spans.length; i += 3) {
      if (data[i] !== -1) continue;
      this.texts.push(utf8.decode(arena.subarray(data[i + 1]!, data[i + 2]!)));
      data[i] = this.texts.length - 1;
      data[i + 2] = this.texts[this.texts.length - 1]!.length;
      data[i + 1] = 0;
    }
  }

  get(i: number): string {
    const data = this.spans.data;
    const text = this.texts[data[3 * i]!]!;
    const start = data[3 * i + 1]!;
    const end = data[3 * i + 2]!;
    return start === 0 && end === text.length ? text : text.substring(start, end);
  }

  /**
   * The spans, three values per entry (text index in the table's `texts`, start, end): for loops over many entries
   * that read their first char and length without a call per entry. Valid until the next append.
   */
  get spanData(): Int32Array {
    return this.spans.data;
  }

  /** `get(i).length`. */
  textLength(i: number): number {
    const data = this.spans.data;
    return data[3 * i + 2]! - data[3 * i + 1]!;
  }

  /** `get(i).charCodeAt(0)` (NaN for an empty entry). */
  firstCode(i: number): number {
    const data = this.spans.data;
    return data[3 * i + 2]! === data[3 * i + 1]! ? NaN : this.texts[data[3 * i]!]!.charCodeAt(data[3 * i + 1]!);
  }

  /** Entries `[a, b)` as a list of exactly their length (the shared frozen empty list when none). */
  slice(a: number, b: number): string[] {
    if (a === b) return NONE;
    const out = new Array<string>(b - a);
    for (let i = a; i < b; i++) out[i - a] = this.get(i);
    return out;
  }

  /** Every entry. */
  all(): string[] {
    return this.slice(0, this.length);
  }
}

/**
 * True when the rows 0 … n − 1 are all different, by their hashes `values`: rows of equal hashes are compared with
 * `same` (an open-addressing set of the rows, linear probing). 45,000 names have a 1 in 5 chance of two sharing a
 * 32-bit hash; only those two are then compared.
 */
function distinctRows(values: Int32Array, n: number, same: (a: number, b: number) => boolean): boolean {
  const bits = Math.max(4, 33 - Math.clz32(n));
  const size = 2 ** bits;
  const rows = new Int32Array(size);
  const taken = new Uint8Array(size);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    let at = Math.imul(v, 0x9e37_79b1) >>> (32 - bits);
    while (taken[at] !== 0) {
      const row = rows[at]!;
      if (values[row] === v && same(row, i)) return false;
      at = (at + 1) & (size - 1);
    }
    taken[at] = 1;
    rows[at] = i;
  }
  return true;
}

/**
 * The hash graphScan.wat's `$nameHash` makes of a node name's bytes, of an ASCII string (its chars are its UTF-8
 * bytes): four chars at a time as a little-endian word, each xor-multiplied as in FNV-1a and its high bits folded
 * down, then the last chars FNV-1a. Undefined when the string is not ASCII.
 */
export function asciiHash(s: string): number | undefined {
  let h = 0x811c9dc5;
  const n = s.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    const c = s.charCodeAt(i + 2);
    const d = s.charCodeAt(i + 3);
    if ((a | b | c | d) >= 0x80) return undefined;
    h = Math.imul(h ^ (a | (b << 8) | (c << 16) | (d << 24)), 0x01000193);
    h ^= h >>> 13;
  }
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return undefined;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h;
}

/**
 * The op types and domains of one parse's node tables, by id ({@link NodeTable.labelIds}): ids below
 * {@link SCAN_LABELS} are the scan's label ids (graphScan.ts; made into strings once each, after the scan that met
 * them), the others labels the JavaScript walk met. One label may have an id of each kind (the same string).
 */
export class NodeLabels {
  /** The scan's labels by its id. */
  readonly scanned: string[] = [];
  /** The walk's labels: id {@link SCAN_LABELS} + index. */
  private readonly walked: string[] = [];
  private readonly walkedIds = new Map<string, number>();

  /** The label of `id`. */
  get(id: number): string {
    return id < SCAN_LABELS ? this.scanned[id]! : this.walked[id - SCAN_LABELS]!;
  }

  /**
   * The id of a label the walk met: the same id for the same label, for the first {@link INTERNED_MAX} distinct ones
   * (then a new id each time: as many as nodes at most).
   */
  idOf(label: string): number {
    const seen = this.walkedIds.get(label);
    if (seen !== undefined) return seen;
    const id = SCAN_LABELS + this.walked.length;
    this.walked.push(label);
    if (this.walkedIds.size < INTERNED_MAX) this.walkedIds.set(label, id);
    return id;
  }

  /** The ids whose label is `label`. */
  idsOf(label: string): number[] {
    const ids: number[] = [];
    for (let i = 0; i < this.scanned.length; i++) if (this.scanned[i] === label) ids.push(i);
    for (let i = 0; i < this.walked.length; i++) if (this.walked[i] === label) ids.push(SCAN_LABELS + i);
    return ids;
  }
}

/**
 * A graph's nodes as columns: one row per node, no object and no edge lists per node. Layers are built from the
 * rows (layers.ts); the IR's `GraphNode` objects are made only when `Graph.nodes` is read (estimate, export and
 * apply read it; `inspect` never does). On a 45,000-node graph the per-node objects and lists were a third of the
 * heap the garbage collector copied. Names and edges are {@link TextColumn}s (strings made when read); op types and
 * domains are label ids ({@link labelIds}; the scan's are copied as it wrote them, no string per node).
 */
export class NodeTable {
  /** The texts the names and edges are cut from. */
  readonly texts: string[] = [];
  readonly names = new TextColumn(this.texts);
  /** Two per row: the ids of its op type and domain in {@link labels}. */
  readonly labelIds = new IntColumn();
  /** Inputs of row i: `inputEdges` entries from `inputStarts.data[i]` up to the next row's start (or the end). */
  readonly inputEdges = new TextColumn(this.texts);
  readonly inputStarts = new IntColumn();
  readonly outputEdges = new TextColumn(this.texts);
  readonly outputStarts = new IntColumn();
  /**
   * The hashes ({@link asciiHash}) of the names while they are all ASCII and non-empty (undefined once one is not): names whose
   * hashes differ differ ({@link distinctNames}). A walked row's entry is 0 until {@link distinctNames} hashes its
   * name ({@link walkedRows}); a table of walked rows alone keeps none (its names are strings already).
   */
  private nameHashes: IntColumn | undefined = new IntColumn();
  /** Rows the JavaScript walk read (their names' hashes are made when asked for). */
  private readonly walkedRows: number[] = [];
  /** {@link ops} and {@link domains}, once made (until a row is added). */
  private opList: string[] | undefined;
  private domainList: string[] | undefined;

  /** `labels`: the labels of the parse the table belongs to (shared by its tables). */
  constructor(readonly labels: NodeLabels = new NodeLabels()) {}

  /** Row i's op type. */
  op(i: number): string {
    return this.labels.get(this.labelIds.data[2 * i]!);
  }

  /** Row i's domain. */
  domain(i: number): string {
    return this.labels.get(this.labelIds.data[2 * i + 1]!);
  }

  /** Every row's op type (made on first read, then kept). */
  get ops(): string[] {
    return (this.opList ??= this.labelList(0));
  }

  /** Every row's domain (made on first read, then kept). */
  get domains(): string[] {
    return (this.domainList ??= this.labelList(1));
  }

  private labelList(at: number): string[] {
    const n = this.length;
    const ids = this.labelIds.data;
    const labels = this.labels;
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = labels.get(ids[2 * i + at]!);
    return out;
  }

  /** True when some row's op type is `op`. */
  hasOp(op: string): boolean {
    const wanted = this.labels.idsOf(op);
    if (wanted.length === 0) return false;
    const ids = this.labelIds.data;
    for (let i = 0; i < this.length; i++) if (wanted.includes(ids[2 * i]!)) return true;
    return false;
  }

  /** Rows completed. */
  get length(): number {
    return this.labelIds.length >> 1;
  }

  /** Opens row `length`: its edges follow ({@link addInput}, {@link addOutput}), then {@link end}. */
  begin(): void {
    this.inputStarts.push(this.inputEdges.length);
    this.outputStarts.push(this.outputEdges.length);
  }

  /** Inputs of the open row so far. */
  openInputs(): number {
    return this.inputEdges.length - this.inputStarts.data[this.inputStarts.length - 1]!;
  }

  /** Outputs of the open row so far. */
  openOutputs(): number {
    return this.outputEdges.length - this.outputStarts.data[this.outputStarts.length - 1]!;
  }

  end(name: string, op: string, domain: string): void {
    const hashes = this.nameHashes;
    if (hashes !== undefined) {
      if (name === '') this.nameHashes = undefined;
      else {
        this.walkedRows.push(this.names.length);
        hashes.push(0);
      }
    }
    this.names.push(name);
    this.labelIds.push(this.labels.idOf(op));
    this.labelIds.push(this.labels.idOf(domain));
    this.opList = this.domainList = undefined;
  }

  /**
   * Appends the rows of a scan (graphScan.ts): name and edge spans cut from `text` (whose index in {@link texts} the
   * scan was given), edge starts, name hashes (`unhashed`: names among them that are empty or not ASCII), the label
   * ids of op types and domains (their strings in {@link labels} already).
   */
  appendScanned(text: string, s: GraphScanner, rows: number): void {
    if (rows > this.labelIds.data.length >> 1) this.reserve(rows, s);
    this.texts.push(text);
    const nonAscii = s.nonAscii > 0;
    const arena = s.arena();
    this.names.appendSpans(s.nameSpans(), nonAscii, arena);
    this.inputEdges.appendSpans(s.inputSpans(), nonAscii, arena);
    this.outputEdges.appendSpans(s.outputSpans(), nonAscii, arena);
    this.inputStarts.append(s.inputStarts());
    this.outputStarts.append(s.outputStarts());
    if (s.unhashed > 0) this.nameHashes = undefined;
    else this.nameHashes?.append(s.nameHashes());
    this.labelIds.append(s.labelIds());
    this.opList = this.domainList = undefined;
  }

  /**
   * Room for `rows` rows in all, their edges in the proportion of scan `s`'s: each column allocated once instead of
   * doubling ~6 times on the bench's 45,000 nodes (every doubling copies the column into pages touched for the first
   * time; a page fault costs ~1.5 µs here).
   */
  private reserve(rows: number, s: GraphScanner): void {
    const per = (rows - this.length) / s.nodes;
    this.names.reserve(rows);
    this.labelIds.reserve(2 * rows);
    this.inputStarts.reserve(rows);
    this.outputStarts.reserve(rows);
    this.nameHashes?.reserve(rows);
    this.inputEdges.reserve(this.inputEdges.length + Math.ceil(per * s.edgesIn));
    this.outputEdges.reserve(this.outputEdges.length + Math.ceil(per * s.edgesOut));
  }

  /** True when no name is empty and no name is there twice. */
  distinctNames(): boolean {
    const hashes = this.nameHashes;
    // All ASCII and non-empty: distinct unless two of a hash are the same name; else the names are compared.
    if (hashes !== undefined && this.walkedRows.length < this.length && this.hashWalked(hashes)) {
      const names = this.names;
      return distinctRows(hashes.data, hashes.length, (a, b) => names.get(a) === names.get(b));
    }
    const names = this.names.all();
    const set = new Set(names);
    return set.size === names.length && !set.has('');
  }

  /** Fills in the hashes of the walked rows' names; false when one is not ASCII. */
  private hashWalked(hashes: IntColumn): boolean {
    for (const row of this.walkedRows) {
      const hash = asciiHash(this.names.get(row));
      if (hash === undefined) return false;
      hashes.data[row] = hash;
    }
    this.walkedRows.length = 0;
    return true;
  }

  /** A whole row at once. */
  add(name: string, op: string, domain: string, inputs: readonly string[], outputs: readonly string[]): void {
    this.begin();
    for (const v of inputs) this.inputEdges.push(v);
    for (const v of outputs) this.outputEdges.push(v);
    this.end(name, op, domain);
  }

  inputStart(i: number): number {
    return this.inputStarts.data[i]!;
  }

  inputEnd(i: number): number {
    return i + 1 < this.inputStarts.length ? this.inputStarts.data[i + 1]! : this.inputEdges.length;
  }

  outputStart(i: number): number {
    return this.outputStarts.data[i]!;
  }

  outputEnd(i: number): number {
    return i + 1 < this.outputStarts.length ? this.outputStarts.data[i + 1]! : this.outputEdges.length;
  }

  /** Row i's inputs as a list of exactly their length (the shared frozen empty list when none). */
  inputs(i: number): string[] {
    return this.inputEdges.slice(this.inputStart(i), this.inputEnd(i));
  }

  outputs(i: number): string[] {
    return this.outputEdges.slice(this.outputStart(i), this.outputEnd(i));
  }

  /** Row i's name. */
  name(i: number): string {
    return this.names.get(i);
  }

  /** Row i as the IR's node, without attributes (reader.ts completes the rows that have some). */
  node(i: number): GraphNode {
    return { name: this.names.get(i), op: this.op(i), domain: this.domain(i), inputs: this.inputs(i), outputs: this.outputs(i), attributes: NO_ATTRIBUTES, subgraphs: NONE };
  }
}

/** A GraphProto, main or nested. */
export interface RawGraph {
  /** Unique path: 'main', 'main/If_3/then_branch', … */
  readonly path: string;
  readonly depth: number;
  readonly parent: RawGraph | undefined;
  name: string;
  readonly nodes: NodeTable;
  /**
   * The attributes of the nodes that have any, by node index, in node order: those the JavaScript walk read. Those the
   * scan read are in {@link deferredAttributes}, undecoded; a node's are in one or the other.
   */
  readonly nodeAttributes: Map<number, RawAttribute[]>;
  readonly deferredAttributes: DeferredAttributes;
  /** The value tensors of Constant nodes the scan read (their only attribute), by row, in row order. */
  readonly constants: Map<number, ScannedTensor>;
  readonly initializers: RawTensor[];
  readonly sparseInitializers: RawSparseTensor[];
  readonly inputs: GraphValue[];
  readonly outputs: GraphValue[];
  readonly valueInfo: DeferredValues;
}

/** A model-local FunctionProto (only summarized). */
export interface RawFunction {
  name: string;
  domain: string;
  nodeCount: number;
}

/** A ModelProto. */
export interface RawModel {
  irVersion: number | undefined;
  producerName: string | undefined;
  producerVersion: string | undefined;
  domain: string | undefined;
  modelVersion: number | undefined;
  docString: string | undefined;
  graph: RawGraph | undefined;
  readonly opsetImports: [string, number][];
  readonly metadataProps: [string, string][];
  readonly functions: RawFunction[];
  trainingInfoCount: number;
  /** Every graph in walk order (main first, then nested graphs depth-first as met). */
  readonly graphs: RawGraph[];
}

/**
 * Nodes and value infos up to this size (nearly all: a name, a few edges, a shape) are read whole and walked
 * synchronously ({@link OnnxWireParser.nodeBuffered}, {@link OnnxWireParser.valueInfoBuffered}): no generator per
 * message, per type and per shape. Larger ones (a Constant holding a big tensor, an If with its bodies, a huge
 * doc_string) stream through the generator walk, so memory stays bounded by the page size.
 */
const BUFFERED_MESSAGE_BYTES = 64 * 1024;

/**
 * Initializers up to this size (small tensors, payload included) are read whole and walked synchronously
 * ({@link OnnxWireParser.tensorBuffered}); larger ones stream, their payload skipped unread. Small: such payloads
 * sit inside the pages read anyway, so the reads of a weight-heavy model do not change.
 */
const BUFFERED_TENSOR_BYTES = 4096;

/**
 * value_info messages up to this size are checked when read but decoded only when `Graph.valueInfo` is first read
 * (estimate's shape inference does; `inspect` never does): their bytes are kept, no more than the decoded entry
 * would take. Larger ones (long names, a doc_string) are decoded at once.
 */
const DEFERRED_VALUE_INFO_BYTES = 256;

/** Most bytes of value_info messages one graph keeps undecoded (their ends are int32); later ones are decoded when read. */
const DEFERRED_VALUE_INFO_STORE_BYTES = 0x4000_0000;

/**
 * A graph's value_info list: entries decoded when read and entries kept as their checked message bytes, in file
 * order, as a column (no object or number per kept entry). {@link OnnxWireParser.decodeDeferred} turns it into the
 * IR's list.
 */
export class DeferredValues {
  private store = new Uint8Array(0);
  private used = 0;
  /** Entries kept as bytes. */
  private kept = 0;
  /**
   * Per entry: ≥ 0, a kept message, ending there in the kept bytes (it starts where the previous kept one ends);
   * < 0, the decoded value `decoded[-1 - e]`.
   */
  private readonly ends = new IntColumn();
  /** The entries decoded when read, in file order. */
  private readonly decoded: GraphValue[] = [];

  get length(): number {
    return this.ends.length;
  }

  /** True when some entry waits to be decoded. */
  get deferred(): boolean {
    return this.kept > 0;
  }

  /** True when `n` more bytes of messages can be kept. */
  canKeep(n: number): boolean {
    return this.used + n <= DEFERRED_VALUE_INFO_STORE_BYTES;
  }

  /** Bytes kept so far (kept entries' ends count on from here). */
  get keptBytes(): number {
    return this.used;
  }

  push(v: GraphValue): void {
    this.ends.push(-1 - this.decoded.length);
    this.decoded.push(v);
  }

  /** Room for `n` more bytes. */
  private grow(n: number): void {
    if (this.used + n > this.store.length) {
      const grown = new Uint8Array(Math.max(4096, 2 * this.store.length, this.used + n));
      grown.set(this.store.subarray(0, this.used));
      this.store = grown;
    }
  }

  /**
   * Keeps a checked value_info message (at most {@link DEFERRED_VALUE_INFO_BYTES} bytes, {@link canKeep}), the
   * cursor's buffered bytes `[start, end)`, to decode later. Copied byte by byte: a view per message (45,000 on the
   * bench's graph) cost more than the copy.
   */
  defer(c: WireCursor, start: number, end: number): void {
    const n = end - start;
    this.grow(n);
    c.copyOut(start, end, this.store, this.used);
    this.used += n;
    this.kept++;
    this.ends.push(this.used);
  }

  /**
   * Keeps checked value_info messages lying back to back in `bytes`, whose ends are `ends` (counted on from
   * {@link keptBytes}, rising; see graphScan.ts `valueEnds`): one copy of each, no work per message.
   */
  keepScanned(bytes: Uint8Array, ends: Int32Array, more: number): void {
    // Room for the `more` bytes that may follow in the reader's buffer too, as the node columns (NodeTable.reserve),
    // and for as many entries as they could hold at these entries' size (at most one per 2 bytes, key and length: the
    // entries may all be empty messages).
    if (this.used + bytes.length > this.store.length) this.grow(bytes.length + more);
    if (this.ends.length + ends.length > this.ends.data.length) {
      const extra = Math.min(Math.ceil(more / 2), bytes.length > 0 ? Math.ceil((ends.length * more) / bytes.length) : ends.length);
      this.ends.reserve(this.ends.length + ends.length + extra);
    }
    this.store.set(bytes, this.used);
    this.used += bytes.length;
    this.kept += ends.length;
    this.ends.append(ends);
  }

  /** The kept bytes. */
  bytes(): Uint8Array {
    return this.store.subarray(0, this.used);
  }

  /** Entry k: the end of its kept bytes (≥ 0), or −1 − its index in {@link decodedValues}. */
  entry(k: number): number {
    return this.ends.data[k]!;
  }

  /** The entries decoded when read (all of them when none is {@link deferred}). */
  get decodedValues(): GraphValue[] {
    return this.decoded;
  }
}

/**
 * A graph's node attributes read by the WebAssembly scan (graphScan.ts) — plain values only: no tensor, graph, sparse
 * tensor or reference, and no Constant node's (reader.ts registers a tensor for those) — kept as their checked message
 * bytes, back to back, to decode when the graph's nodes are first read ({@link decodeDeferredAttributes}; `inspect`
 * never reads them). The bytes are the graph's own, so they are bounded by what the reader read. Per node with such
 * attributes, in row order: its row and its first attribute. Decoded, their stored values' offsets (`fOffset`,
 * `iChunk`, list chunks) are positions in the kept bytes, not the file: only a Constant node's are ever read.
 */
export class DeferredAttributes {
  private store = new Uint8Array(0);
  private used = 0;
  /** Per attribute: where its message ends in the kept bytes (it starts where the previous one ends). */
  private readonly ends = new IntColumn();
  /** Per node with kept attributes, rising: its row. */
  private readonly rows = new IntColumn();
  /** Per node with kept attributes: the index of its first attribute in {@link ends}. */
  private readonly firsts = new IntColumn();

  /** Attributes kept (the next one's index). */
  get count(): number {
    return this.ends.length;
  }

  /** Bytes kept (the next attribute's start). */
  get keptBytes(): number {
    return this.used;
  }

  /** Nodes with kept attributes. */
  get nodeCount(): number {
    return this.rows.length;
  }

  /** The row of node entry `k` (rising with `k`). */
  row(k: number): number {
    return this.rows.data[k]!;
  }

  /** The attributes of node entry `k`: indices [first, end) (see {@link start}, {@link end}). */
  first(k: number): number {
    return this.firsts.data[k]!;
  }

  last(k: number): number {
    return k + 1 < this.firsts.length ? this.firsts.data[k + 1]! : this.ends.length;
  }

  /** Where attribute `a`'s message starts and ends in {@link bytes}. */
  start(a: number): number {
    return a === 0 ? 0 : this.ends.data[a - 1]!;
  }

  end(a: number): number {
    return this.ends.data[a]!;
  }

  bytes(): Uint8Array {
    return this.store.subarray(0, this.used);
  }

  /**
   * Keeps the attributes of a scan: their messages back to back in `bytes`, their `ends` (counted on from
   * {@link keptBytes}), and per node with any (row in the scan, first attribute counted on from {@link count}) in
   * `nodes`; the scan's first row is `rowBase`. Room is made for `more` bytes that may follow at the same density,
   * as for the node columns (NodeTable.reserve).
   */
  keepScanned(bytes: Uint8Array, ends: Int32Array, nodes: Int32Array, rowBase: number, more: number): void {
    if (this.used + bytes.length > this.store.length) {
      const grown = new Uint8Array(Math.max(4096, 2 * this.store.length, this.used + bytes.length + more));
      grown.set(this.store.subarray(0, this.used));
      this.store = grown;
    }
    this.store.set(bytes, this.used);
    this.used += bytes.length;
    this.ends.append(ends);
    const n = nodes.length >> 1;
    this.rows.room(n);
    this.firsts.room(n);
    const rows = this.rows.data;
    const firsts = this.firsts.data;
    let at = this.rows.length;
    for (let i = 0; i < nodes.length; i += 2, at++) {
      rows[at] = rowBase + nodes[i]!;
      firsts[at] = nodes[i + 1]!;
    }
    this.rows.length = at;
    this.firsts.length = at;
  }
}

/** The attributes of `g`'s nodes that the scan kept ({@link DeferredAttributes}), decoded: per node entry, in row order. */
export function decodeDeferredAttributes(g: RawGraph, fileName: string, limits: Limits): RawAttribute[][] {
  const d = g.deferredAttributes;
  if (d.nodeCount === 0) return [];
  return new OnnxWireParser(new MemoryByteSource(fileName, d.bytes()), limits, undefined).decodeAttributes(g);
}

/** The IR's list of `values` (see {@link DeferredValues}): decodes the kept messages, if any. */
export function decodeValueInfo(values: DeferredValues, fileName: string, limits: Limits): GraphValue[] {
  if (!values.deferred) return values.decodedValues;
  return new OnnxWireParser(new MemoryByteSource(fileName, values.bytes()), limits, undefined).decodeDeferred(values);
}

/** The key byte of ValueInfoProto.name (field number × 8 + length-delimited). */
const VALUE_INFO_NAME_KEY = F.ValueInfo.name * 8 + WIRE_LEN;

/** Most distinct labels {@link OnnxWireParser} interns (op types, domains, symbolic dims). */
const INTERNED_MAX = 4096;

/**
 * `a` as an array of exactly its length. An array grown by `push` from `[]` reserves room for 16 or more
 * elements; the walk keeps several per node (inputs, outputs, a shape per value), and that slack was a third of
 * the heap the garbage collector copied on a 45,000-node graph. (An empty literal reserves nothing.)
 */
function exact<T>(a: T[]): T[] {
  return a.length === 0 ? [] : a.slice();
}

/** Walks a ModelProto. One instance per file. */
export class OnnxWireParser {
  private readonly c: WireCursor;
  private nodeCount = 0;
  private tensorCount = 0;
  private readonly usedPaths = new UniqueNames();
  private readonly graphs: RawGraph[] = [];
  private readonly interned = new Map<string, string>();
  /** The op types and domains of the parse's node tables. */
  private readonly labels = new NodeLabels();

  constructor(source: ByteSource, private readonly limits: Limits, private readonly token: CancellationToken | undefined, private readonly budget = new MemoryBudget(limits, source.name)) {
    this.c = new WireCursor(source);
  }

  private fail(problem: string, offset?: number, code: 'bad-value' | 'limit-exceeded' | 'truncated' | 'unsupported' = 'bad-value'): never {
    return this.c.fail(code, problem, offset);
  }

  /**
   * Reads a length-delimited string field, bounded by maxStringBytes; keeps at most `keep` bytes. Returns the
   * string itself when its bytes are buffered (the common case), so hot callers skip a generator:
   * `const s = this.str(…); x = typeof s === 'string' ? s : yield* s;`.
   */
  private str(end: number, what: string, keep = this.limits.maxStringBytes): string | Wire<string> {
    const c = this.c;
    const n = this.strLength(end, what);
    return n <= keep && c.has(n) ? c.stringSync(n) : c.string(n, end, keep);
  }

  /** The checks of {@link str}: returns the string's length, leaving the cursor on its first byte. */
  private strLength(end: number, what: string): number {
    const c = this.c;
    c.expectWire(WIRE_LEN, what);
    const at = c.keyOffset;
    const n = c.length(end, what);
    if (n > this.limits.maxStringBytes) this.fail(`${what} at offset ${at} is ${n} bytes, more than the limit of ${this.limits.maxStringBytes}`, at, 'limit-exceeded');
    return n;
  }

  /** A name field (node, tensor, value, attribute, input/output): bounded by maxNameBytes, kept whole. */
  private name(end: number, what: string): string | Wire<string> {
    const c = this.c;
    const n = this.nameLength(end, what);
    return c.has(n) ? c.stringSync(n) : c.string(n, end, n);
  }

  /** The checks (and memory charge) of {@link name}: returns the name's length, leaving the cursor on its first byte. */
  private nameLength(end: number, what: string): number {
    const c = this.c;
    c.expectWire(WIRE_LEN, what);
    const at = c.keyOffset;
    const n = c.length(end, what);
    if (n > this.limits.maxNameBytes) this.fail(`${what} at offset ${at} is ${n} bytes, more than the limit of ${this.limits.maxNameBytes} (maxNameBytes)`, at, 'limit-exceeded');
    if (n > 64) this.chargeNames(n);
    return n;
  }

  /** The value of {@link str}, {@link name} or {@link display}, reading on when it was not buffered. */
  private *text(v: string | Wire<string>): Wire<string> {
    return typeof v === 'string' ? v : yield* v;
  }

  private display(end: number, what: string): string | Wire<string> {
    return this.str(end, what, this.limits.maxDisplayStringBytes);
  }

  /**
   * Runs a parsing step whose bytes are all buffered (inside a message read whole): it never waits, so no
   * promise is needed. A step asking for bytes that are not buffered is a bug here, not bad input.
   */
  private now<T>(step: Wire<T>): T {
    const c = this.c;
    for (;;) {
      const r = step.next();
      if (r.done) return r.value;
      if (!c.has(Math.min(r.value.n, r.value.end - c.pos))) throw new Error(`internal: a buffered ONNX message at offset ${c.pos} asked for unbuffered bytes`);
    }
  }

  /** {@link text} inside a message read whole. */
  private textNow(v: string | Wire<string>): string {
    return typeof v === 'string' ? v : this.now(v);
  }

  /** Reads a varint field that must be a safe non-negative-or-negative integer. */
  private *int(end: number, what: string): Wire<number | BigValue> {
    const c = this.c;
    c.expectWire(WIRE_VARINT, what);
    if (!c.has(10)) yield need(10, end);
    return c.varint64(end);
  }

  private *smallInt(end: number, what: string): Wire<number> {
    const at = this.c.pos;
    return this.small(this.intNow(end, what) ?? (yield* this.int(end, what)), at, what);
  }

  /**
   * A varint field's value when its bytes are buffered, without a generator (the hot fields: dims, elem_type,
   * data_type, attribute types); undefined when a read is due: then use {@link int}.
   */
  private intNow(end: number, what: string): number | BigValue | undefined {
    const c = this.c;
    c.expectWire(WIRE_VARINT, what);
    return c.has(Math.min(10, end - c.pos)) ? c.varint64(end) : undefined;
  }

  /** Checks an enum-like value (data_type, elem_type, attribute type) read at `at`. */
  private small(v: number | BigValue, at: number, what: string): number {
    if (typeof v !== 'number' || v < -0x8000_0000 || v > 0xffff_ffff) this.fail(`${what} at offset ${at} is out of range (${int64Text(v)})`, at);
    return v;
  }

  /** Opens a length-delimited sub-message; returns its end offset. */
  private sub(end: number, what: string): number {
    const c = this.c;
    c.expectWire(WIRE_LEN, what);
    const n = c.length(end, what);
    return c.pos + n;
  }

  /** Parses the whole file as a ModelProto. */
  model(): Promise<RawModel> {
    return drive(this.c, this.modelStep());
  }

  private *modelStep(): Wire<RawModel> {
    const c = this.c;
    const end = c.source.size;
    const m: RawModel = {
      irVersion: undefined, producerName: undefined, producerVersion: undefined, domain: undefined, modelVersion: undefined,
      docString: undefined, graph: undefined, opsetImports: [], metadataProps: [], functions: [], trainingInfoCount: 0, graphs: this.graphs,
    };
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      switch (c.field) {
        case F.Model.ir_version: {
          const v = yield* this.int(end, 'ir_version');
          m.irVersion = typeof v === 'number' ? v : undefined;
          break;
        }
        case F.Model.producer_name: m.producerName = yield* this.text(this.display(end, 'producer_name')); break;
        case F.Model.producer_version: m.producerVersion = yield* this.text(this.display(end, 'producer_version')); break;
        case F.Model.domain: m.domain = yield* this.text(this.display(end, 'domain')); break;
        case F.Model.model_version: {
          const v = yield* this.int(end, 'model_version');
          m.modelVersion = typeof v === 'number' ? v : undefined;
          break;
        }
        case F.Model.doc_string: m.docString = yield* this.text(this.display(end, 'doc_string')); break;
        case F.Model.graph: {
          if (m.graph) this.fail(`the model has a second graph at offset ${c.keyOffset}`, c.keyOffset);
          const sub = this.sub(end, 'graph');
          // A graph the scan can take whole is read in one piece (not in pages of 4 KiB, 8 KiB …), straight into the
          // scan's memory when it will be scanned; larger graphs (most of their bytes weights) read on in pages,
          // skipping the weights.
          const n = sub - c.pos;
          if (n <= SCAN_MAX_BYTES && !c.has(n)) {
            const into = this.scanArea(n);
            yield into !== undefined ? needInto(sub, into) : need(n, sub);
          }
          m.graph = yield* this.graph(sub, 'main', 0, undefined);
          break;
        }
        case F.Model.opset_import: {
          if (m.opsetImports.length >= this.limits.maxMetadataEntries) this.fail(`more than ${this.limits.maxMetadataEntries} opset imports`, c.keyOffset, 'limit-exceeded');
          m.opsetImports.push(yield* this.opset(this.sub(end, 'opset_import')));
          break;
        }
        case F.Model.metadata_props: {
          if (m.metadataProps.length >= this.limits.maxMetadataEntries) this.fail(`more than ${this.limits.maxMetadataEntries} metadata_props entries`, c.keyOffset, 'limit-exceeded');
          m.metadataProps.push(yield* this.stringString(this.sub(end, 'metadata_props'), this.limits.maxDisplayStringBytes));
          break;
        }
        case F.Model.functions: {
          if (m.functions.length >= this.limits.maxMetadataEntries) this.fail(`more than ${this.limits.maxMetadataEntries} functions`, c.keyOffset, 'limit-exceeded');
          m.functions.push(yield* this.fn(this.sub(end, 'functions')));
          break;
        }
        case F.Model.training_info:
          m.trainingInfoCount++;
          c.skipValue(end, 'training_info');
          break;
        default:
          c.skipValue(end);
      }
    }
    return m;
  }

  private *opset(end: number): Wire<[string, number]> {
    const c = this.c;
    let domain = '';
    let version = 0;
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      if (c.field === F.OperatorSetId.domain) domain = yield* this.text(this.display(end, 'opset domain'));
      else if (c.field === F.OperatorSetId.version) {
        const v = yield* this.int(end, 'opset version');
        version = typeof v === 'number' ? v : -1;
      } else c.skipValue(end);
    }
    return [domain, version];
  }

  private *stringString(end: number, keep: number): Wire<[string, string]> {
    const c = this.c;
    let key = '';
    let value = '';
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      if (c.field === F.StringString.key) key = yield* this.text(this.str(end, 'key', keep));
      else if (c.field === F.StringString.value) value = yield* this.text(this.str(end, 'value', keep));
      else c.skipValue(end);
    }
    return [key, value];
  }

  private *fn(end: number): Wire<RawFunction> {
    const c = this.c;
    const f: RawFunction = { name: '', domain: '', nodeCount: 0 };
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      if (c.field === F.Function.name) f.name = yield* this.text(this.display(end, 'function name'));
      else if (c.field === F.Function.domain) f.domain = yield* this.text(this.display(end, 'function domain'));
      else {
        if (c.field === F.Function.node) f.nodeCount++;
        c.skipValue(end);
      }
    }
    return f;
  }

  private uniquePath(path: string): string {
    return this.usedPaths.claim(path);
  }

  /** Parses a GraphProto ending at `end`. */
  *graph(end: number, path: string, depth: number, parent: RawGraph | undefined): Wire<RawGraph> {
    if (depth > this.limits.maxNestingDepth) this.fail(`subgraphs nest deeper than ${this.limits.maxNestingDepth} levels at offset ${this.c.pos}`, this.c.pos, 'limit-exceeded');
    const c = this.c;
    const g: RawGraph = {
      path: this.uniquePath(path), depth, parent, name: '', nodes: new NodeTable(this.labels), nodeAttributes: new Map(), deferredAttributes: new DeferredAttributes(), constants: new Map(), initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: new DeferredValues(),
    };
    this.graphs.push(g);
    let valueInfoCount = 0;
    while (c.pos < end) {
      if (this.scanner !== null) {
        valueInfoCount = this.scanGraph(g, end, valueInfoCount);
        if (c.pos >= end) break;
      }
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      switch (c.field) {
        case F.Graph.node: {
          if (++this.nodeCount > this.limits.maxNodeCount) this.fail(`the model has more than ${this.limits.maxNodeCount} nodes`, c.keyOffset, 'limit-exceeded');
          if ((this.nodeCount & 1023) === 0) {
            throwIfCancelled(this.token);
            this.budget.charge(1024 * NODE_ENTRY_BYTES, () => this.budgetWhat());
          }
          const at = c.keyOffset;
          const nEnd = this.sub(end, 'node');
          if (nEnd - c.pos <= BUFFERED_MESSAGE_BYTES) {
            if (!c.has(nEnd - c.pos)) yield need(nEnd - c.pos, nEnd);
            this.nodeBuffered(nEnd, g, g.nodes.length, at);
          } else yield* this.node(nEnd, g, g.nodes.length, at);
          break;
        }
        case F.Graph.name: g.name = yield* this.text(this.display(end, 'graph name')); break;
        case F.Graph.initializer:
          this.countTensor(c.keyOffset);
          const tEnd = this.sub(end, 'initializer');
          if (tEnd - c.pos <= BUFFERED_TENSOR_BYTES) {
            if (!c.has(tEnd - c.pos)) yield need(tEnd - c.pos, tEnd);
            g.initializers.push(this.tensorBuffered(tEnd));
          } else g.initializers.push(yield* this.tensor(tEnd));
          break;
        case F.Graph.sparse_initializer:
          this.countTensor(c.keyOffset);
          g.sparseInitializers.push(yield* this.sparseTensor(this.sub(end, 'sparse_initializer')));
          break;
        case F.Graph.input:
        case F.Graph.output:
        case F.Graph.value_info: {
          if (++valueInfoCount > this.limits.maxNodeCount) this.fail(`a graph declares more than ${this.limits.maxNodeCount} values`, c.keyOffset, 'limit-exceeded');
          const field = c.field;
          const vEnd = this.sub(end, 'value_info');
          const n = vEnd - c.pos;
          if (n > BUFFERED_MESSAGE_BYTES) {
            const v = yield* this.valueInfo(vEnd);
            if (field === F.Graph.value_info) g.valueInfo.push(v);
            else (field === F.Graph.input ? g.inputs : g.outputs).push(v);
            break;
          }
          if (!c.has(n)) yield need(n, vEnd);
          if (field === F.Graph.value_info && n <= DEFERRED_VALUE_INFO_BYTES && g.valueInfo.canKeep(n)) {
            // Checked now (same checks and messages), decoded when Graph.valueInfo is first read.
            const start = c.pos;
            if (this.checkedBefore(start, vEnd)) c.pos = vEnd;
            else {
              this.valueInfoBuffered(vEnd, false);
              this.rememberChecked(start, vEnd);
            }
            g.valueInfo.defer(c, start, vEnd);
          } else if (field === F.Graph.value_info) g.valueInfo.push(this.valueInfoBuffered(vEnd, true));
          else (field === F.Graph.input ? g.inputs : g.outputs).push(this.valueInfoBuffered(vEnd, true));
          break;
        }
        default:
          c.skipValue(end);
      }
    }
    return g;
  }

  /** The WebAssembly walk of a graph's common fields (graphScan.ts): undefined until first needed, null without WebAssembly. */
  private scanner: GraphScanner | null | undefined;

  /**
   * Reads the graph fields from the cursor on that {@link GraphScanner} reads (as many as are buffered, up to the next
   * field it leaves to this walk), exactly as the walk below would: the same rows, tensors and deferred value_info
   * entries, the same counts. It stops before a node or tensor whose count is a multiple of 1024 (the walk below
   * checks for cancellation and charges the memory budget there) and before the one that exceeds its limit, so
   * every check and message stays the walk's. Returns the graph's value count.
   */
  private scanGraph(g: RawGraph, end: number, valueInfoCount: number): number {
    let s = this.scanner;
    const c = this.c;
    if (s === undefined) {
      if (end - c.pos < graphScanMinBytes()) return valueInfoCount;
      s = this.scanner = GraphScanner.create(this.limits) ?? null;
    }
    const buf = c.buffer;
    const base = c.bufferStart;
    const limit = Math.min(end - base, buf.length);
    if (s === null || c.pos - base < 0 || limit - (c.pos - base) < 2 || !s.load(buf)) return valueInfoCount;
    const limits = this.limits;
    for (;;) {
      const pos = c.pos - base;
      const nodesLeft = Math.min(limits.maxNodeCount - this.nodeCount, 1023 - (this.nodeCount & 1023));
      const tensorsLeft = Math.min(limits.maxTensorCount - this.tensorCount, 1023 - (this.tensorCount & 1023));
      // A scan keeps at most 1 MiB of value_info bytes (graphScan.wat's VALUES).
      const valuesLeft = g.valueInfo.canKeep(1 << 20) ? Math.min(limits.maxNodeCount - valueInfoCount, 0x7fff_ffff) : 0;
      const table = g.nodes;
      const attributes = g.deferredAttributes;
      const next = s.scan(pos, limit, nodesLeft, tensorsLeft, valuesLeft, table.texts.length, table.inputEdges.length, table.outputEdges.length, g.valueInfo.keptBytes, attributes.count, attributes.keptBytes);
      this.scanCalls++;
      if (next === pos) {
        this.giveUpScanning();
        return valueInfoCount;
      }
      this.scanFields += s.nodes + s.tensors + s.values;
      this.takeScan(s, g, base, next - pos, limit - next);
      this.nodeCount += s.nodes;
      this.tensorCount += s.tensors;
      valueInfoCount += s.values;
      c.pos = base + next;
      if (!s.full) {
        this.giveUpScanning();
        return valueInfoCount;
      }
    }
  }

  /** The scanner's memory for a main graph of `n` bytes to be read into, when it will be scanned (see {@link scanGraph}). */
  private scanArea(n: number): Uint8Array | undefined {
    if (this.scanner === undefined) {
      if (n < graphScanMinBytes()) return undefined;
      this.scanner = GraphScanner.create(this.limits) ?? null;
    }
    return this.scanner?.inputArea(n);
  }

  /** Scans so far, and the fields they read (see {@link giveUpScanning}). */
  private scanCalls = 0;
  private scanFields = 0;

  /** Stops scanning when the scans so far read little each (graphScan.ts SCAN_GIVE_UP_CALLS): the walk reads on alone. */
  private giveUpScanning(): void {
    if (this.scanCalls >= SCAN_GIVE_UP_CALLS && this.scanFields < SCAN_GIVE_UP_FIELDS * this.scanCalls && graphScanMayGiveUp()) this.scanner = null;
  }

  /**
   * Adds what the last scan read to `g` (offsets in its records relative to the buffer starting at file offset `base`).
   * Nodes and initializers are taken by functions of their own: each is compiled for its own work once hot (scans of
   * a graph's nodes come before those of its initializers, so one function for both would be compiled without
   * feedback for the later kind and fall back to the interpreter when it met it). value_info messages are kept in
   * bulk: their bytes and ends as the scan wrote them (a call and two pushes per message cost ~0.4 µs each while cold).
   */
  private takeScan(s: GraphScanner, g: RawGraph, base: number, read: number, rest: number): void {
    const arena = s.arena();
    // ASCII names are cut from one text of the call's name bytes (one char per byte); others are decoded alone. When
    // every byte is ASCII (nearly always) the UTF-8 decoder makes the same text, faster: Node's decodes ASCII in bulk,
    // its 'latin1' (windows-1252) one byte by byte (44 texts of ~37 KB, the bench's node names: 1.6-2.3 vs 3.2-3.6 ms).
    const text = s.nonAscii === 0 ? utf8.decode(arena) : latin1.decode(arena);
    // The columns are made room for as many more as the rest of the buffer could hold at this scan's density (an
    // overestimate when other fields follow: pages never written cost nothing), at most 64 times the rows so far.
    const rowBase = g.nodes.length;
    if (s.nodes > 0) {
      const rows = rowBase + s.nodes;
      this.takeNodes(s, g, text, Math.min(this.limits.maxNodeCount, 64 * rows, rows + Math.ceil((s.nodes * rest) / read)));
      if (s.attributeNodeCount > 0) {
        const bytes = s.attributeBytes();
        g.deferredAttributes.keepScanned(bytes, s.attributeEnds(), s.attributeNodes(), rowBase, Math.ceil((bytes.length * rest) / read));
      }
    }
    if (s.tensors > 0) this.takeTensors(s, g, base, text, arena, rowBase);
    if (s.values > 0) g.valueInfo.keepScanned(s.valueBytes(), s.valueEnds(), rest);
  }

  /** The scan's node rows into `g.nodes` (the strings of labels it met first made, once each). */
  private takeNodes(s: GraphScanner, g: RawGraph, text: string, rows: number): void {
    const scanned = this.labels.scanned;
    for (let id = scanned.length; id < s.labelCount; id++) scanned.push(this.intern(utf8.decode(s.label(id))));
    g.nodes.appendScanned(text, s, rows);
  }

  /** The scan's initializers into `g.initializers`, its Constant nodes' tensors into `g.constants` (one loop, no call per record). */
  private takeTensors(s: GraphScanner, g: RawGraph, base: number, text: string, arena: Uint8Array, rowBase: number): void {
    const w = s.records;
    const words = s.recordWords;
    const list = g.initializers;
    const constantRows = s.constantRows();
    let constant = 0;
    // Offsets in the records are memory addresses: `s.offset(a)` is `a` + a constant.
    const shift = base + s.offset(0);
    for (let i = 0; i < words;) {
      const rawAt = w[i + 7]!;
      const rank = w[i + 9]!;
      const dims: number[] = rank === 0 ? [] : new Array<number>(rank);
      for (let k = 0; k < rank; k++) dims[k] = w[i + 10 + k]!;
      const name = w[i + 2]! >= 0 ? text.substring(w[i + 3]!, w[i + 4]!) : utf8.decode(arena.subarray(w[i + 3]!, w[i + 4]!));
      const t = new ScannedTensor(shift + w[i + 1]!, name, dims, w[i + 5]!, w[i + 6]!, rawAt < 0 ? -1 : shift + rawAt, w[i + 8]!);
      if (w[i]! === SCAN_CONSTANT) g.constants.set(rowBase + constantRows[constant++]!, t);
      else list.push(t);
      i += 10 + rank;
    }
  }

  /**
   * The bytes after the name of the last deferred value_info that passed its check, when that message began with
   * its name (a short one, see {@link simpleNameLength}); -1: none. A graph's value_info entries mostly differ only
   * in their names (`t123: float32 [batch, 8]`), and the checks read a message's bytes alone, relative to its end.
   */
  private checkedTypeLength = -1;
  private readonly checkedType = new Uint8Array(DEFERRED_VALUE_INFO_BYTES);

  /**
   * Length of the name field that value_info `[start, end)` begins with when it is short and plain: the key of
   * `name` (length-delimited), a one-byte length inside the message, at most 64 bytes (no memory charge) and within
   * maxNameBytes, so its check passes. -1 otherwise.
   */
  private simpleNameLength(start: number, end: number): number {
    const c = this.c;
    if (end - start < 2 || c.byteAt(start) !== VALUE_INFO_NAME_KEY) return -1;
    const n = c.byteAt(start + 1);
    return n <= 64 && n <= this.limits.maxNameBytes && start + 2 + n <= end ? n : -1;
  }

  /**
   * True when value_info `[start, end)` is a short plain name followed by the same bytes as the last one that passed
   * its check ({@link rememberChecked}): it passes the same checks, so they are not run again.
   */
  private checkedBefore(start: number, end: number): boolean {
    if (this.checkedTypeLength < 0) return false;
    const n = this.simpleNameLength(start, end);
    if (n < 0) return false;
    const from = start + 2 + n;
    return end - from === this.checkedTypeLength && this.c.sameAt(from, this.checkedType, this.checkedTypeLength);
  }

  /** After value_info `[start, end)` passed its check: keeps the bytes after its name for {@link checkedBefore}. */
  private rememberChecked(start: number, end: number): void {
    const n = this.simpleNameLength(start, end);
    if (n < 0) return;
    const from = start + 2 + n;
    this.c.copyOut(from, end, this.checkedType, 0);
    this.checkedTypeLength = end - from;
  }

  private countTensor(offset: number): void {
    if (++this.tensorCount > this.limits.maxTensorCount) this.fail(`the model has more than ${this.limits.maxTensorCount} tensors`, offset, 'limit-exceeded');
    if ((this.tensorCount & 1023) === 0) {
      throwIfCancelled(this.token);
      this.budget.charge(1024 * TENSOR_ENTRY_BYTES, () => this.budgetWhat());
    }
  }

  /** Names longer than 64 bytes are charged to the memory budget (shorter ones are within the per-entry costs). */
  private longNameBytes = 0;
  private chargeNames(n: number): void {
    this.longNameBytes += n;
    this.budget.charge(n, () => this.budgetWhat());
  }

  private budgetWhat(): string {
    return `${this.nodeCount} nodes, ${this.tensorCount} tensors, ${this.longNameBytes} bytes of long names`;
  }

  /** Parses a NodeProto into row `index` of `graph.nodes` (its attributes into `graph.nodeAttributes`). */
  private *node(end: number, graph: RawGraph, index: number, offset: number): Wire<void> {
    const c = this.c;
    let name = '';
    let op = '';
    let domain = '';
    const inputs: string[] = [];
    const outputs: string[] = [];
    const attributes: RawAttribute[] = [];
    const arity = this.limits.maxNodeCount;
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      switch (c.field) {
        case F.Node.input: {
          if (inputs.length >= arity) this.fail(`node at offset ${offset} has more than ${arity} inputs`, offset, 'limit-exceeded');
          const v = this.name(end, 'node input');
          inputs.push(typeof v === 'string' ? v : yield* v);
          break;
        }
        case F.Node.output: {
          if (outputs.length >= arity) this.fail(`node at offset ${offset} has more than ${arity} outputs`, offset, 'limit-exceeded');
          const v = this.name(end, 'node output');
          outputs.push(typeof v === 'string' ? v : yield* v);
          break;
        }
        case F.Node.name: { const v = this.name(end, 'node name'); name = typeof v === 'string' ? v : yield* v; break; }
        case F.Node.op_type: { const v = this.display(end, 'op_type'); op = this.intern(typeof v === 'string' ? v : yield* v); break; }
        case F.Node.domain: { const v = this.display(end, 'node domain'); domain = this.intern(typeof v === 'string' ? v : yield* v); break; }
        case F.Node.attribute: {
          if (attributes.length >= arity) this.fail(`node at offset ${offset} has more than ${arity} attributes`, offset, 'limit-exceeded');
          const label = name !== '' ? name : `${op || 'node'}_${index}`;
          attributes.push(yield* this.attribute(this.sub(end, 'attribute'), graph, label));
          break;
        }
        default:
          c.skipValue(end);
      }
    }
    if (attributes.length) graph.nodeAttributes.set(index, exact(attributes));
    graph.nodes.add(name, op, domain, inputs, outputs);
  }

  /**
   * {@link node} for a node whose message is buffered whole: the same fields, checks and messages, walked
   * synchronously (attributes, rare, through {@link now}).
   */
  private nodeBuffered(end: number, graph: RawGraph, index: number, offset: number): void {
    const c = this.c;
    const table = graph.nodes;
    let name = '';
    let op = '';
    let domain = '';
    let attributes: RawAttribute[] | undefined;
    const arity = this.limits.maxNodeCount;
    table.begin();
    while (c.pos < end) {
      c.key(end);
      switch (c.field) {
        case F.Node.input:
          if (table.openInputs() >= arity) this.fail(`node at offset ${offset} has more than ${arity} inputs`, offset, 'limit-exceeded');
          table.inputEdges.push(this.textNow(this.name(end, 'node input')));
          break;
        case F.Node.output:
          if (table.openOutputs() >= arity) this.fail(`node at offset ${offset} has more than ${arity} outputs`, offset, 'limit-exceeded');
          table.outputEdges.push(this.textNow(this.name(end, 'node output')));
          break;
        case F.Node.name: name = this.textNow(this.name(end, 'node name')); break;
        case F.Node.op_type: op = this.labelNow(end, 'op_type'); break;
        case F.Node.domain: domain = this.labelNow(end, 'node domain'); break;
        case F.Node.attribute: {
          attributes ??= [];
          if (attributes.length >= arity) this.fail(`node at offset ${offset} has more than ${arity} attributes`, offset, 'limit-exceeded');
          const label = name !== '' ? name : `${op || 'node'}_${index}`;
          attributes.push(this.now(this.attribute(this.sub(end, 'attribute'), graph, label)));
          break;
        }
        default:
          c.skipValue(end);
      }
    }
    if (attributes) graph.nodeAttributes.set(index, exact(attributes));
    table.end(name, op, domain);
  }

  /**
   * One string object for each distinct short label (op types, domains, symbolic dims) instead of one per node:
   * 45,000 nodes name a handful of operators. Bounded: past {@link INTERNED_MAX} distinct labels new ones are
   * returned as they are.
   */
  private intern(s: string): string {
    if (s.length > 64) return s;
    const hit = this.interned.get(s);
    if (hit !== undefined) return hit;
    if (this.interned.size < INTERNED_MAX) this.interned.set(s, s);
    return s;
  }

  /** Short labels seen so far by a hash of their bytes (at most {@link INTERNED_MAX}); see {@link labelNow}. */
  private readonly labelsByHash = new Map<number, { readonly bytes: Uint8Array; readonly text: string }>();

  /**
   * `intern(textNow(display(end, what)))` for a label in a buffered message (op_type, node domain): a label met
   * before is found by its bytes, without decoding it or hashing a new string (45,000 nodes, a handful of ops).
   */
  private labelNow(end: number, what: string): string {
    const c = this.c;
    const n = this.strLength(end, what);
    const keep = this.limits.maxDisplayStringBytes;
    if (n > keep || !c.has(n)) return this.intern(this.now(c.string(n, end, keep)));
    if (n > 64) return c.stringSync(n);
    const h = c.hashAhead(n);
    const seen = this.labelsByHash.get(h);
    if (seen !== undefined && seen.bytes.length === n && c.sameAhead(seen.bytes)) {
      c.pos += n;
      return seen.text;
    }
    const bytes = c.view(c.pos, c.pos + n).slice();
    const text = this.intern(c.stringSync(n));
    if (seen === undefined && this.labelsByHash.size < INTERNED_MAX) this.labelsByHash.set(h, { bytes, text });
    return text;
  }

  private newList<T>(): RawList<T> {
    return { count: 0, values: [], chunk: undefined, packedChunks: 0 };
  }

  private *attribute(end: number, graph: RawGraph, nodeLabel: string): Wire<RawAttribute> {
    const c = this.c;
    const a: RawAttribute = {
      name: '', type: undefined, refAttrName: undefined, f: undefined, fOffset: 0, i: undefined, iChunk: undefined, s: undefined,
      t: undefined, g: undefined, sparse: undefined, floats: undefined, ints: undefined, strings: undefined, tensors: undefined, graphs: undefined,
    };
    const subPath = (suffix: string): string => `${graph.path}/${nodeLabel}/${a.name || 'attribute'}${suffix}`;
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      switch (c.field) {
        case F.Attribute.name: { const v = this.name(end, 'attribute name'); a.name = typeof v === 'string' ? v : yield* v; break; }
        case F.Attribute.ref_attr_name: a.refAttrName = yield* this.text(this.display(end, 'ref_attr_name')); break;
        case F.Attribute.type: { const at = c.pos; a.type = this.small(this.intNow(end, 'attribute type') ?? (yield* this.int(end, 'attribute type')), at, 'attribute type'); break; }
        case F.Attribute.f:
          c.expectWire(WIRE_FIXED32, 'attribute f');
          if (end - c.pos < 4) this.fail(`attribute f at offset ${c.pos} runs past the end of its message`, c.pos, 'truncated');
          if (!c.has(4)) yield need(4, end);
          a.fOffset = c.pos;
          a.f = c.fixed32Float();
          break;
        case F.Attribute.i: {
          const at = c.pos;
          a.i = yield* this.int(end, 'attribute i');
          a.iChunk = { offset: at, byteLength: c.pos - at };
          break;
        }
        case F.Attribute.s: a.s = yield* this.text(this.display(end, 'attribute s')); break;
        case F.Attribute.t:
          this.countTensor(c.keyOffset);
          a.t = yield* this.tensor(this.sub(end, 'attribute t'));
          break;
        case F.Attribute.g:
          a.g = yield* this.graph(this.sub(end, 'attribute g'), subPath(''), graph.depth + 1, graph);
          break;
        case F.Attribute.sparse_tensor:
          this.countTensor(c.keyOffset);
          a.sparse = yield* this.sparseTensor(this.sub(end, 'attribute sparse_tensor'));
          break;
        // One value per field (proto2's unpacked lists: a tree ensemble's 20,000-value lists) is read without a
        // generator when buffered (one per value cost 38 MB of garbage on a 756 KB model), and the fields of the same
        // key that follow in one loop while buffered (as many turns of this one, their checks and messages the same);
        // past the values kept, a run is only counted (WireCursor.skipRun), up to the limit: the value past it, and
        // anything unusual, is read by this loop again.
        case F.Attribute.floats: {
          const list = (a.floats ??= this.newList<number>());
          if (c.wireType === WIRE_FIXED32 && c.has(Math.min(4, end - c.pos))) this.unpackedRun(end, list, 4, this.floatValue);
          else yield* this.floatList(end, list);
          break;
        }
        case F.Attribute.ints: {
          const list = (a.ints ??= this.newList<number | BigValue>());
          if (c.wireType === WIRE_VARINT && c.has(Math.min(10, end - c.pos))) this.unpackedRun(end, list, 10, this.intValue);
          else yield* this.intList(end, list);
          break;
        }
        case F.Attribute.strings:
          a.strings ??= this.newList<string>();
          if (a.strings.count >= this.limits.maxArrayLength) this.fail(`attribute list at offset ${c.keyOffset} has more than ${this.limits.maxArrayLength} strings`, c.keyOffset, 'limit-exceeded');
          a.strings.count++;
          if (a.strings.values.length < ATTRIBUTE_VALUES_KEPT) a.strings.values.push(yield* this.text(this.display(end, 'attribute string')));
          else {
            // The strings past those kept are only counted and skipped: the run of them in one loop (see floats).
            c.skipValue(end, 'attribute string');
            const key = c.field * 8 + c.wireType;
            if (key < 0x80) a.strings.count += c.skipRun(key, end, this.limits.maxArrayLength - a.strings.count);
          }
          break;
        case F.Attribute.tensors:
          this.countTensor(c.keyOffset);
          (a.tensors ??= []).push(yield* this.tensor(this.sub(end, 'attribute tensor')));
          break;
        case F.Attribute.graphs: {
          a.graphs ??= [];
          const sub = this.sub(end, 'attribute graph');
          a.graphs.push(yield* this.graph(sub, subPath(`[${a.graphs.length}]`), graph.depth + 1, graph));
          break;
        }
        default:
          c.skipValue(end);
      }
    }
    return a;
  }

  /**
   * The value of an unpacked list whose key was just read (`value` reads it, its `width` bytes at most buffered), then
   * those of the fields of the same one-byte key that follow while buffered, as many turns of the attribute loop
   * would; past the values kept, they are only counted (WireCursor.skipRun), up to maxArrayLength.
   */
  private unpackedRun<T>(end: number, list: RawList<T>, width: number, value: (this: OnnxWireParser, end: number, list: RawList<T>) => void): void {
    const c = this.c;
    const key = c.field * 8 + c.wireType;
    do value.call(this, end, list);
    while (key < 0x80 && list.values.length < ATTRIBUTE_VALUES_KEPT && c.has(width + 1) && c.sameKey(key, end));
    if (key < 0x80 && list.values.length >= ATTRIBUTE_VALUES_KEPT) list.count += c.skipRun(key, end, this.limits.maxArrayLength - list.count);
  }

  /** One fixed32 value of a float list, buffered (see {@link floatList}); the values past those kept are only counted. */
  private floatValue(end: number, list: RawList<number>): void {
    const c = this.c;
    if (end - c.pos < 4) this.fail(`a float at offset ${c.pos} runs past the end of its message`, c.pos, 'truncated');
    if (list.values.length < ATTRIBUTE_VALUES_KEPT) list.values.push(c.fixed32Float());
    else c.pos += 4;
    list.count++;
    if (list.count > this.limits.maxArrayLength) this.fail(`an attribute list has more than ${this.limits.maxArrayLength} floats`, c.keyOffset, 'limit-exceeded');
  }

  /** One varint value of an int list, buffered (see {@link intList}). */
  private intValue(end: number, list: RawList<number | BigValue>): void {
    const c = this.c;
    const v = c.varint64(end);
    list.count++;
    if (list.values.length < ATTRIBUTE_VALUES_KEPT) list.values.push(v);
    if (list.count > this.limits.maxArrayLength) this.fail(`an attribute list has more than ${this.limits.maxArrayLength} integers`, c.keyOffset, 'limit-exceeded');
  }

  private *floatList(end: number, list: RawList<number>): Wire<void> {
    const c = this.c;
    if (c.wireType === WIRE_FIXED32) {
      // Checked before the read too: a message that claims bytes past the file fails here, not in the read.
      if (end - c.pos < 4) this.fail(`a float at offset ${c.pos} runs past the end of its message`, c.pos, 'truncated');
      if (!c.has(4)) yield need(4, end);
      this.floatValue(end, list);
      return;
    }
    c.expectWire(WIRE_LEN, 'floats');
    const at = c.pos;
    const n = c.length(end, 'floats');
    if (n % 4 !== 0) this.fail(`a packed float list at offset ${at} is ${n} bytes, not a multiple of 4`, at);
    const chunk = { offset: c.pos, byteLength: n };
    const keep = Math.min(n / 4, ATTRIBUTE_VALUES_KEPT - list.values.length);
    if (keep > 0) {
      const bytes = yield* c.bytes(keep * 4, end);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < keep; i++) list.values.push(view.getFloat32(i * 4, true));
    }
    c.pos = chunk.offset + n;
    list.count += n / 4;
    list.packedChunks++;
    list.chunk = list.packedChunks === 1 && list.count === n / 4 ? chunk : undefined;
    if (list.count > this.limits.maxArrayLength) this.fail(`an attribute list has more than ${this.limits.maxArrayLength} floats`, c.keyOffset, 'limit-exceeded');
  }

  private *intList(end: number, list: RawList<number | BigValue>): Wire<void> {
    const c = this.c;
    if (c.wireType === WIRE_VARINT) {
      if (!c.has(10)) yield need(10, end);
      this.intValue(end, list);
      return;
    }
    c.expectWire(WIRE_LEN, 'ints');
    const n = c.length(end, 'ints');
    const chunk = { offset: c.pos, byteLength: n };
    const r = yield* c.packedVarints(n, ATTRIBUTE_VALUES_KEPT - list.values.length);
    appendAll(list.values, r.values);
    list.count += r.count;
    list.packedChunks++;
    list.chunk = list.packedChunks === 1 && list.count === r.count ? chunk : undefined;
    if (list.count > this.limits.maxArrayLength) this.fail(`an attribute list has more than ${this.limits.maxArrayLength} integers`, c.keyOffset, 'limit-exceeded');
  }

  private *sparseTensor(end: number): Wire<RawSparseTensor> {
    const c = this.c;
    const s: RawSparseTensor = { offset: c.pos, values: undefined, indices: undefined, dims: [] };
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      if (c.field === F.SparseTensor.values) s.values = yield* this.tensor(this.sub(end, 'sparse values'));
      else if (c.field === F.SparseTensor.indices) s.indices = yield* this.tensor(this.sub(end, 'sparse indices'));
      else if (c.field === F.SparseTensor.dims) yield* this.dimsField(end, s.dims, s.offset);
      else c.skipValue(end);
    }
    return s;
  }

  /** Appends `dims` values (packed or not), bounded by maxRank. */
  private *dimsField(end: number, dims: (number | BigValue)[], offset: number): Wire<void> {
    const c = this.c;
    if (c.wireType === WIRE_VARINT) {
      if (!c.has(10)) yield need(10, end);
      this.pushDim(dims, c.varint64(end), offset);
      return;
    }
    c.expectWire(WIRE_LEN, 'dims');
    const n = c.length(end, 'dims');
    const stop = c.pos + n;
    while (c.pos < stop) {
      if (!c.has(10)) yield need(10, stop);
      this.pushDim(dims, c.varint64(stop), offset);
    }
  }

  /**
   * {@link dimsField} for a message buffered whole: the same checks and messages, without a generator (and its
   * result objects) per tensor — 12,500 small initializers made a fifth of the walk's garbage through it.
   */
  private dimsNow(end: number, dims: (number | BigValue)[], offset: number): void {
    const c = this.c;
    if (c.wireType === WIRE_VARINT) {
      this.pushDim(dims, c.varint64(end), offset);
      return;
    }
    c.expectWire(WIRE_LEN, 'dims');
    const n = c.length(end, 'dims');
    const stop = c.pos + n;
    while (c.pos < stop) this.pushDim(dims, c.varint64(stop), offset);
  }

  private pushDim(dims: (number | BigValue)[], v: number | BigValue, offset: number): void {
    if (dims.length >= this.limits.maxRank) this.fail(`a tensor at offset ${offset} has more than ${this.limits.maxRank} dimensions`, offset, 'limit-exceeded');
    dims.push(v);
  }

  private addData(t: RawTensor, field: DataFieldName): DataField {
    return (t.data[field] ??= { chunks: [], byteLength: 0, unpackedValues: 0, stringValues: 0 });
  }

  /** {@link tensor} for a message buffered whole: the same fields, checks and messages, walked synchronously. */
  private tensorBuffered(end: number): RawTensor {
    const c = this.c;
    const t: RawTensor = { offset: c.pos, name: '', dims: [], dataType: 0, dataLocation: 0, hasSegment: false, data: {}, externalData: NONE };
    while (c.pos < end) {
      c.key(end);
      switch (c.field) {
        case F.Tensor.dims: this.dimsNow(end, t.dims, t.offset); break;
        case F.Tensor.data_type: { const at = c.pos; t.dataType = this.small(this.intNow(end, 'data_type')!, at, 'data_type'); break; }
        case F.Tensor.segment: t.hasSegment = true; c.skipValue(end); break;
        case F.Tensor.name: t.name = this.textNow(this.name(end, 'tensor name')); break;
        case F.Tensor.data_location: { const at = c.pos; t.dataLocation = this.small(this.intNow(end, 'data_location')!, at, 'data_location'); break; }
        case F.Tensor.external_data:
          if (t.externalData.length >= 64) this.fail(`tensor at offset ${t.offset} has more than 64 external_data entries`, t.offset, 'limit-exceeded');
          if (t.externalData === NONE) t.externalData = [];
          t.externalData.push(this.now(this.stringString(this.sub(end, 'external_data'), this.limits.maxDisplayStringBytes)));
          break;
        default:
          if (!this.tensorPayload(c.field, end, t)) c.skipValue(end);
      }
    }
    return this.finishTensor(t);
  }

  /** A TensorProto payload field (counted and skipped, both for whole and streamed messages); false for other fields. */
  private tensorPayload(field: number, end: number, t: RawTensor): boolean {
    switch (field) {
      case F.Tensor.raw_data: this.payload(end, t, 'raw_data', -1); return true;
      case F.Tensor.float_data: this.payload(end, t, 'float_data', WIRE_FIXED32); return true;
      case F.Tensor.int32_data: this.payload(end, t, 'int32_data', WIRE_VARINT); return true;
      case F.Tensor.int64_data: this.payload(end, t, 'int64_data', WIRE_VARINT); return true;
      case F.Tensor.double_data: this.payload(end, t, 'double_data', WIRE_FIXED64); return true;
      case F.Tensor.uint64_data: this.payload(end, t, 'uint64_data', WIRE_VARINT); return true;
      case F.Tensor.string_data: this.stringData(end, t); return true;
      default: return false;
    }
  }

  /** One `string_data` value: counted and skipped. */
  private stringData(end: number, t: RawTensor): void {
    const c = this.c;
    c.expectWire(WIRE_LEN, 'string_data');
    const n = c.length(end, 'string_data');
    const d = this.addData(t, 'string_data');
    d.stringValues++;
    d.byteLength += n;
    c.pos += n;
  }

  /** Trims a parsed tensor's lists to their length (see {@link exact}). */
  private finishTensor(t: RawTensor): RawTensor {
    t.dims = exact(t.dims);
    // Only a list grown by push has slack (see payload); no array of the fields per tensor.
    for (const k in t.data) {
      const d = t.data[k as DataFieldName]!;
      if (d.chunks.length > 1) d.chunks = exact(d.chunks);
    }
    return t;
  }

  /** Parses a TensorProto, skipping its payload. */
  *tensor(end: number): Wire<RawTensor> {
    const c = this.c;
    const t: RawTensor = { offset: c.pos, name: '', dims: [], dataType: 0, dataLocation: 0, hasSegment: false, data: {}, externalData: NONE };
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      switch (c.field) {
        case F.Tensor.dims: yield* this.dimsField(end, t.dims, t.offset); break;
        case F.Tensor.data_type: { const at = c.pos; t.dataType = this.small(this.intNow(end, 'data_type') ?? (yield* this.int(end, 'data_type')), at, 'data_type'); break; }
        case F.Tensor.segment: t.hasSegment = true; c.skipValue(end); break;
        case F.Tensor.name: { const v = this.name(end, 'tensor name'); t.name = typeof v === 'string' ? v : yield* v; break; }
        case F.Tensor.data_location: t.dataLocation = yield* this.smallInt(end, 'data_location'); break;
        case F.Tensor.external_data:
          if (t.externalData.length >= 64) this.fail(`tensor at offset ${t.offset} has more than 64 external_data entries`, t.offset, 'limit-exceeded');
          if (t.externalData === NONE) t.externalData = [];
          t.externalData.push(yield* this.stringString(this.sub(end, 'external_data'), this.limits.maxDisplayStringBytes));
          break;
        default:
          if (!this.tensorPayload(c.field, end, t)) c.skipValue(end);
      }
    }
    return this.finishTensor(t);
  }

  /**
   * Records a payload field: a packed (length-delimited) stretch becomes a chunk and is skipped; an unpacked
   * value (wire type `unpackedWire`) is counted and skipped. raw_data is always length-delimited.
   */
  private payload(end: number, t: RawTensor, field: DataFieldName, unpackedWire: number): void {
    const c = this.c;
    if (c.wireType === WIRE_LEN) {
      const n = c.length(end, field);
      const chunk = { offset: c.pos, byteLength: n };
      const seen = t.data[field];
      // The first stretch makes the field with a list of exactly one (no slack to trim in finishTensor).
      if (seen === undefined) t.data[field] = { chunks: [chunk], byteLength: n, unpackedValues: 0, stringValues: 0 };
      else {
        seen.chunks.push(chunk);
        seen.byteLength += n;
      }
      c.pos += n;
      return;
    }
    const d = this.addData(t, field);
    if (unpackedWire < 0 || c.wireType !== unpackedWire) c.expectWire(WIRE_LEN, field);
    const before = c.pos;
    c.skipValue(end, field);
    d.byteLength += c.pos - before;
    d.unpackedValues++;
  }

  /**
   * {@link valueInfo} for a message buffered whole (walked synchronously; same checks and messages). With `keep`
   * false it only checks: nothing is decoded or kept (a deferred value_info, see {@link DeferredValues}).
   */
  private valueInfoBuffered(end: number, keep: true): GraphValue;
  private valueInfoBuffered(end: number, keep: false): undefined;
  private valueInfoBuffered(end: number, keep: boolean): GraphValue | undefined {
    const c = this.c;
    let name = '';
    let dtype: string | undefined;
    let shape: Dim[] | undefined;
    while (c.pos < end) {
      c.key(end);
      if (c.field === F.ValueInfo.name) {
        const n = this.nameLength(end, 'value name');
        if (keep) name = c.stringSync(n);
        else c.pos += n;
      } else if (c.field === F.ValueInfo.type) {
        const tEnd = this.sub(end, 'value type');
        while (c.pos < tEnd) {
          c.key(tEnd);
          if (c.field === F.Type.tensor_type || c.field === F.Type.sparse_tensor_type) {
            const ttEnd = this.sub(tEnd, 'tensor_type');
            while (c.pos < ttEnd) {
              c.key(ttEnd);
              if (c.field === F.TypeTensor.elem_type) {
                const at = c.pos;
                dtype = dtypeOfOnnx(this.small(this.intNow(ttEnd, 'elem_type')!, at, 'elem_type'));
              } else if (c.field === F.TypeTensor.shape) shape = this.shapeBuffered(this.sub(ttEnd, 'shape'), keep);
              else c.skipValue(ttEnd);
            }
          } else c.skipValue(tEnd);
        }
      } else c.skipValue(end);
    }
    return keep ? { name, dtype, shape } : undefined;
  }

  /** {@link shape} for a message buffered whole (only checked when not `keep`: then the result is empty). */
  private shapeBuffered(end: number, keep: boolean): Dim[] {
    const c = this.c;
    const dims: Dim[] = [];
    let rank = 0;
    while (c.pos < end) {
      c.key(end);
      if (c.field !== F.Shape.dim) {
        c.skipValue(end);
        continue;
      }
      if (rank++ >= this.limits.maxRank) this.fail(`a value's shape at offset ${c.keyOffset} has more than ${this.limits.maxRank} dimensions`, c.keyOffset, 'limit-exceeded');
      const dEnd = this.sub(end, 'dim');
      let dim: Dim = null;
      while (c.pos < dEnd) {
        c.key(dEnd);
        if (c.field === F.Dimension.dim_value) {
          const v = this.intNow(dEnd, 'dim_value')!;
          // Exporters write -1 for "dynamic"; only non-negative safe values are sizes.
          dim = typeof v === 'number' && v >= 0 ? v : null;
        } else if (c.field === F.Dimension.dim_param) {
          if (keep) dim = this.intern(this.textNow(this.display(dEnd, 'dim_param')));
          else {
            const n = this.strLength(dEnd, 'dim_param');
            c.pos += n;
          }
        } else c.skipValue(dEnd);
      }
      if (keep) dims.push(dim);
    }
    return keep ? exact(dims) : dims;
  }

  /**
   * Decodes the attributes the scan kept for `g`'s nodes (checked as the walk checks them when read, so nothing here
   * can fail on the input): per node entry, the walk's own attribute read over each kept message. See
   * {@link decodeDeferredAttributes}.
   */
  decodeAttributes(g: RawGraph): RawAttribute[][] {
    const c = this.c;
    const d = g.deferredAttributes;
    c.hold(d.bytes());
    const out: RawAttribute[][] = [];
    for (let k = 0; k < d.nodeCount; k++) {
      const attributes: RawAttribute[] = [];
      for (let a = d.first(k); a < d.last(k); a++) {
        c.pos = d.start(a);
        // The label names subgraphs only: the kept attributes have none.
        attributes.push(this.now(this.attribute(d.end(a), g, '')));
      }
      out.push(attributes);
    }
    return out;
  }

  /** Decodes the deferred entries of `values` (bytes checked when read, so nothing here can fail on the input): {@link decodeValueInfo}. */
  decodeDeferred(values: DeferredValues): GraphValue[] {
    const c = this.c;
    const bytes = values.bytes();
    c.hold(bytes);
    const decoded = values.decodedValues;
    const out: GraphValue[] = [];
    let start = 0;
    for (let k = 0; k < values.length; k++) {
      const e = values.entry(k);
      if (e < 0) {
        out.push(decoded[-1 - e]!);
        continue;
      }
      c.pos = start;
      out.push(this.valueInfoBuffered(e, true));
      start = e;
    }
    return out;
  }

  private *valueInfo(end: number): Wire<GraphValue> {
    const c = this.c;
    let name = '';
    let dtype: string | undefined;
    let shape: Dim[] | undefined;
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      if (c.field === F.ValueInfo.name) {
        const v = this.name(end, 'value name');
        name = typeof v === 'string' ? v : yield* v;
      }
      else if (c.field === F.ValueInfo.type) {
        const r = yield* this.typeProto(this.sub(end, 'value type'));
        dtype = r.dtype;
        shape = r.shape;
      } else c.skipValue(end);
    }
    return { name, dtype, shape };
  }

  /** TypeProto: only tensor and sparse tensor types carry a dtype and shape; sequences/maps/optionals are skipped. */
  private *typeProto(end: number): Wire<{ dtype: string | undefined; shape: Dim[] | undefined }> {
    const c = this.c;
    let dtype: string | undefined;
    let shape: Dim[] | undefined;
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      if (c.field === F.Type.tensor_type || c.field === F.Type.sparse_tensor_type) {
        const tEnd = this.sub(end, 'tensor_type');
        while (c.pos < tEnd) {
          if (!c.has(KEY)) yield need(KEY, tEnd);
          c.key(tEnd);
          if (c.field === F.TypeTensor.elem_type) {
            const at = c.pos;
            dtype = dtypeOfOnnx(this.small(this.intNow(tEnd, 'elem_type') ?? (yield* this.int(tEnd, 'elem_type')), at, 'elem_type'));
          }
          else if (c.field === F.TypeTensor.shape) shape = yield* this.shape(this.sub(tEnd, 'shape'));
          else c.skipValue(tEnd);
        }
      } else c.skipValue(end);
    }
    return { dtype, shape };
  }

  private *shape(end: number): Wire<Dim[]> {
    const c = this.c;
    const dims: Dim[] = [];
    while (c.pos < end) {
      if (!c.has(KEY)) yield need(KEY, end);
      c.key(end);
      if (c.field !== F.Shape.dim) {
        c.skipValue(end);
        continue;
      }
      if (dims.length >= this.limits.maxRank) this.fail(`a value's shape at offset ${c.keyOffset} has more than ${this.limits.maxRank} dimensions`, c.keyOffset, 'limit-exceeded');
      const dEnd = this.sub(end, 'dim');
      let dim: Dim = null;
      while (c.pos < dEnd) {
        if (!c.has(KEY)) yield need(KEY, dEnd);
        c.key(dEnd);
        if (c.field === F.Dimension.dim_value) {
          const v = this.intNow(dEnd, 'dim_value') ?? (yield* this.int(dEnd, 'dim_value'));
          // Exporters write -1 for "dynamic"; only non-negative safe values are sizes.
          dim = typeof v === 'number' && v >= 0 ? v : null;
        } else if (c.field === F.Dimension.dim_param) {
          const v = this.display(dEnd, 'dim_param');
          dim = this.intern(typeof v === 'string' ? v : yield* v);
        }
        else c.skipValue(dEnd);
      }
      dims.push(dim);
    }
    return exact(dims);
  }
}
