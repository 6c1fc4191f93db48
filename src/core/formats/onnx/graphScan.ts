/**
 * The common fields of a GraphProto read in WebAssembly (graphScan.wat): nodes (with attributes of plain values: kept as
 * their bytes, decoded when the graph's nodes are read; a Constant node's value tensor: a record as an initializer's),
 * plain small initializers and small value_info messages, as
 * records and one arena of name bytes per call, so the walk in
 * parse.ts makes only the strings and objects the IR keeps — no key, length or name read per field in JavaScript.
 * The scan stops before any field it does not read exactly as parse.ts would (see the .wat): parse.ts reads that
 * one itself, with its checks and messages, then scans on. Without WebAssembly nothing changes (parse.ts reads all).
 */
import type { Limits } from '../../io/limits';
import { ATTRIBUTE_TYPE, F } from './schema';
import { GRAPH_SCAN_WASM_BASE64 } from './gen/graphScanWasm';
import { compileWasm, instantiateWasm } from '../../util/wasm';

/** Where graphScan.wat keeps its records, node columns, name bytes, labels and the scanned bytes (bytes; the .wat's layout). */
const OUT = 0;
const NAMES = 0x8_0000;
const IN_STARTS = 0x8_4000;
const OUT_STARTS = 0x8_5000;
const HASHES = 0x8_6000;
const LABEL_IDS = 0x8_7000;
const ATTR_NODES = 0x8_9000;
const CONST_ROWS = 0x8_b000;
const ATTR_ENDS = 0x8_c000;
const ATTRS = 0x9_0000;
const INS = 0x10_0000;
const OUTS = 0x18_0000;
const ARENA = 0x20_0000;
const LABEL_SLOT = 0x30_a000;
const VALUE_ENDS = 0x32_0000;
const VALUES = 0x34_0000;
const IN = 0x40_0000;
/** The memory's maximum, in 64 KiB pages. */
const MAX_PAGES = 192;
/** Bytes kept readable after the scanned ones (the .wat reads a one-byte length before checking its bound). */
const SLACK = 16;
/** Most bytes one scan covers: the memory's maximum above {@link IN}, less {@link SLACK}. */
export const SCAN_MAX_BYTES = MAX_PAGES * 0x1_0000 - IN - SLACK;
const PAGE = 0x1_0000;

/** Names and labels longer than this are read by parse.ts (longer names are charged to the memory budget there). */
const SHORT_NAME_BYTES = 64;

/** Most labels (op types, domains) one scanner enters (graphScan.wat's LABELS): its label ids are below this. */
export const SCAN_LABELS = 256;

/** Record tags (first word of each record in OUT; nodes and value_info go to columns of their own): an initializer, a Constant node's value. */
export const SCAN_TENSOR = 2;
export const SCAN_CONSTANT = 3;

interface ScanExports {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  setLimits(nameMax: number, labelMax: number, strMax: number, rankMax: number, arity: number, arrMax: number): void;
  scan(pos: number, limit: number, nodesLeft: number, tensorsLeft: number, valuesLeft: number, text: number, inBase: number, outBase: number, valueBase: number, attrBase: number, attrByteBase: number): number;
  readonly nodes: { readonly value: number };
  readonly edgesIn: { readonly value: number };
  readonly edgesOut: { readonly value: number };
  readonly unhashed: { readonly value: number };
  readonly nonAscii: { readonly value: number };
  readonly tensors: { readonly value: number };
  readonly values: { readonly value: number };
  readonly outUsed: { readonly value: number };
  readonly arenaUsed: { readonly value: number };
  readonly valueBytes: { readonly value: number };
  readonly attrs: { readonly value: number };
  readonly attrNodes: { readonly value: number };
  readonly attrBytes: { readonly value: number };
  readonly consts: { readonly value: number };
  readonly full: { readonly value: number };
  readonly labelCount: { readonly value: number };
}

let compiled: object | null | undefined;
let enabled = true;

/**
 * Graphs smaller than this are walked in JavaScript alone: compiling the module (once per thread, ~1 ms) and making
 * the instance cost more than the scan saves on them.
 */
export const SCAN_MIN_GRAPH_BYTES = 256 * 1024;
let minGraphBytes = SCAN_MIN_GRAPH_BYTES;
let mayGiveUp = true;

/**
 * After this many scans, a parser whose scans read fewer than {@link SCAN_GIVE_UP_FIELDS} fields each on average
 * stops scanning (a graph whose nodes often hold attributes the scan leaves to the walk — tensors, subgraphs — leaves
 * nearly every field to the JavaScript walk, and a call that reads little costs more than it saves).
 */
export const SCAN_GIVE_UP_CALLS = 16;
export const SCAN_GIVE_UP_FIELDS = 16;

/**
 * Turns the scan off or on again, sets the smallest graph it reads and whether it may give up (tests compare the walk
 * with and without it on small graphs, scanning throughout); by default on, from {@link SCAN_MIN_GRAPH_BYTES}, giving up.
 */
export function setGraphScan(on: boolean, minBytes = SCAN_MIN_GRAPH_BYTES, giveUp = true): void {
  enabled = on;
  minGraphBytes = minBytes;
  mayGiveUp = giveUp;
}

/** The smallest graph (bytes) the scan reads. */
export function graphScanMinBytes(): number {
  return minGraphBytes;
}

/** True when a parser may stop scanning after {@link SCAN_GIVE_UP_CALLS} scans that read little. */
export function graphScanMayGiveUp(): boolean {
  return mayGiveUp;
}

/** The compiled module (once per thread), or undefined without WebAssembly. */
function compiledModule(): object | undefined {
  if (compiled === undefined) {
    compiled = compileWasm(GRAPH_SCAN_WASM_BASE64) ?? null;
  }
  return compiled ?? undefined;
}

/** A limit as a non-negative int32 (larger limits are never reached by what one scan reads). */
function int32(v: number): number {
  return v >= 0x7fff_ffff ? 0x7fff_ffff : v > 0 ? Math.floor(v) : 0;
}

/** One instance (its memory freed with the parser that made it). */
export class GraphScanner {
  private readonly ex: ScanExports;
  /** The buffer whose bytes are at {@link IN}, and their count. */
  private loadedFrom: Uint8Array | undefined;
  private bytes = new Uint8Array(0);
  private words = new Int32Array(0);
  /** The whole memory as int32 words. */
  private all = new Int32Array(0);

  private constructor(ex: ScanExports, limits: Limits) {
    this.ex = ex;
    const nameMax = Math.min(SHORT_NAME_BYTES, int32(limits.maxNameBytes));
    const labelMax = Math.min(SHORT_NAME_BYTES, int32(limits.maxStringBytes), int32(limits.maxDisplayStringBytes));
    ex.setLimits(nameMax, labelMax, int32(limits.maxStringBytes), int32(limits.maxRank), int32(limits.maxNodeCount), int32(limits.maxArrayLength));
    this.views();
  }

  /** A scanner, or undefined when this runtime has no WebAssembly. */
  static create(limits: Limits): GraphScanner | undefined {
    const module = enabled ? compiledModule() : undefined;
    if (!module) return undefined;
    try {
      const f = F;
      const imports = {
        f: {
          graphNode: f.Graph.node, graphInitializer: f.Graph.initializer, graphValueInfo: f.Graph.value_info,
          nodeInput: f.Node.input, nodeOutput: f.Node.output, nodeName: f.Node.name, nodeOp: f.Node.op_type, nodeDomain: f.Node.domain, nodeAttribute: f.Node.attribute,
          tensorDims: f.Tensor.dims, tensorDataType: f.Tensor.data_type, tensorName: f.Tensor.name, tensorRaw: f.Tensor.raw_data, tensorLocation: f.Tensor.data_location,
          tensorSegment: f.Tensor.segment, tensorExternal: f.Tensor.external_data, tensorFloat: f.Tensor.float_data, tensorInt32: f.Tensor.int32_data,
          tensorString: f.Tensor.string_data, tensorInt64: f.Tensor.int64_data, tensorDouble: f.Tensor.double_data, tensorUint64: f.Tensor.uint64_data,
          valueName: f.ValueInfo.name, valueType: f.ValueInfo.type, typeTensor: f.Type.tensor_type, typeSparse: f.Type.sparse_tensor_type,
          tensorTypeElem: f.TypeTensor.elem_type, tensorTypeShape: f.TypeTensor.shape, shapeDim: f.Shape.dim, dimValue: f.Dimension.dim_value, dimParam: f.Dimension.dim_param,
          attrName: f.Attribute.name, attrRef: f.Attribute.ref_attr_name, attrType: f.Attribute.type, attrF: f.Attribute.f, attrI: f.Attribute.i, attrS: f.Attribute.s,
          attrT: f.Attribute.t, attrG: f.Attribute.g, attrSparse: f.Attribute.sparse_tensor, attrFloats: f.Attribute.floats, attrInts: f.Attribute.ints,
          attrStrings: f.Attribute.strings, attrTensors: f.Attribute.tensors, attrGraphs: f.Attribute.graphs, tensorType: ATTRIBUTE_TYPE['TENSOR'],
        },
      };
      const ex = instantiateWasm(module, imports) as ScanExports | undefined;
      return ex && new GraphScanner(ex, limits);
    } catch {
      return undefined;
    }
  }

  private views(): void {
    const buf = this.ex.memory.buffer;
    this.bytes = new Uint8Array(buf);
    this.words = new Int32Array(buf, OUT, (NAMES - OUT) >> 2);
    this.all = new Int32Array(buf);
  }

  /**
   * `n` bytes of the scanned area as a view for the reader to read into: {@link load} then takes them as they are, no
   * copy. Undefined when more than one scan covers or the memory cannot grow. The view stays valid until another
   * buffer is loaded (a larger one grows the memory: the old views are then detached).
   */
  inputArea(n: number): Uint8Array | undefined {
    if (n > SCAN_MAX_BYTES || !this.room(n)) return undefined;
    const area = new Uint8Array(this.ex.memory.buffer, IN, n);
    this.loadedFrom = area;
    return area;
  }

  /** Grows the memory to hold `n` scanned bytes (and the slack after them); false when it cannot. */
  private room(n: number): boolean {
    const have = this.ex.memory.buffer.byteLength;
    if (IN + n + SLACK <= have) return true;
    try {
      this.ex.memory.grow(Math.ceil((IN + n + SLACK - have) / PAGE));
    } catch {
      return false;
    }
    this.views();
    return true;
  }

  /**
   * Makes `buf` the scanned bytes (copied once per buffer: the reader's pages are read once and walked in order;
   * not at all when `buf` is the {@link inputArea}). False when it is larger than one scan covers.
   */
  load(buf: Uint8Array): boolean {
    if (buf === this.loadedFrom) return true;
    if (buf.length > SCAN_MAX_BYTES || !this.room(buf.length)) return false;
    this.bytes.set(buf, IN);
    this.loadedFrom = buf;
    return true;
  }

  /**
   * Scans from `pos` (an offset in the loaded buffer) up to `limit`; returns the offset of the first field left
   * to parse.ts. The records are {@link records}, the name bytes {@link arena}, the value_info messages
   * {@link valueBytes} with their ends {@link valueEnds} (counted on from `valueBase`), the plain attributes
   * {@link attributeBytes} with their ends {@link attributeEnds} (counted on from `attrByteBase`) and their nodes
   * {@link attributeNodes} (first attributes counted on from `attrBase`).
   */
  scan(pos: number, limit: number, nodesLeft: number, tensorsLeft: number, valuesLeft: number, text: number, inBase: number, outBase: number, valueBase: number, attrBase: number, attrByteBase: number): number {
    return this.ex.scan(IN + pos, IN + limit, nodesLeft, tensorsLeft, valuesLeft, text, inBase, outBase, valueBase, attrBase, attrByteBase) - IN;
  }

  /**
   * The node columns of the last scan (one entry per node read): names and edges as (text, start, end) triples
   * (text -1: not ASCII, start and end in the {@link arena}), input and output starts, name hashes, label ids
   * (op type, domain: two per node; see {@link label}).
   */
  nameSpans(): Int32Array {
    return this.all.subarray(NAMES >> 2, (NAMES >> 2) + 3 * this.nodes);
  }

  inputSpans(): Int32Array {
    return this.all.subarray(INS >> 2, (INS >> 2) + 3 * this.ex.edgesIn.value);
  }

  outputSpans(): Int32Array {
    return this.all.subarray(OUTS >> 2, (OUTS >> 2) + 3 * this.ex.edgesOut.value);
  }

  inputStarts(): Int32Array {
    return this.all.subarray(IN_STARTS >> 2, (IN_STARTS >> 2) + this.nodes);
  }

  outputStarts(): Int32Array {
    return this.all.subarray(OUT_STARTS >> 2, (OUT_STARTS >> 2) + this.nodes);
  }

  nameHashes(): Int32Array {
    return this.all.subarray(HASHES >> 2, (HASHES >> 2) + this.nodes);
  }

  /** The value_info messages the last scan read, back to back (valid until the next scan). */
  valueBytes(): Uint8Array {
    return this.bytes.subarray(VALUES, VALUES + this.ex.valueBytes.value);
  }

  /** Where each value_info message of the last scan ends: `valueBase` + its end in {@link valueBytes}. */
  valueEnds(): Int32Array {
    return this.all.subarray(VALUE_ENDS >> 2, (VALUE_ENDS >> 2) + this.ex.values.value);
  }

  /** The attribute messages of the last scan, back to back (valid until the next scan). */
  attributeBytes(): Uint8Array {
    return this.bytes.subarray(ATTRS, ATTRS + this.ex.attrBytes.value);
  }

  /** Where each attribute message of the last scan ends: `attrByteBase` + its end in {@link attributeBytes}. */
  attributeEnds(): Int32Array {
    return this.all.subarray(ATTR_ENDS >> 2, (ATTR_ENDS >> 2) + this.ex.attrs.value);
  }

  /** Per node of the last scan with attributes: (its row in the scan, its first attribute: `attrBase` + its index). */
  attributeNodes(): Int32Array {
    return this.all.subarray(ATTR_NODES >> 2, (ATTR_NODES >> 2) + 2 * this.ex.attrNodes.value);
  }

  /** Per record tagged {@link SCAN_CONSTANT} of the last scan, in order: its Constant node's row in the scan. */
  constantRows(): Int32Array {
    return this.all.subarray(CONST_ROWS >> 2, (CONST_ROWS >> 2) + this.ex.consts.value);
  }

  /** Nodes of the last scan with attributes. */
  get attributeNodeCount(): number {
    return this.ex.attrNodes.value;
  }

  labelIds(): Int32Array {
    return this.all.subarray(LABEL_IDS >> 2, (LABEL_IDS >> 2) + 2 * this.nodes);
  }

  /** The bytes of label `id` (valid while the instance lives). */
  label(id: number): Uint8Array {
    const slot = this.all[(LABEL_SLOT >> 2) + id]!;
    return this.bytes.subarray(slot + 8, slot + 8 + this.all[slot >> 2]! - 1);
  }

  /** Labels entered so far (ids 0 … count − 1, at most {@link SCAN_LABELS}). */
  get labelCount(): number {
    return this.ex.labelCount.value;
  }

  /** Names read by the last scan that are empty or not ASCII (their hashes say nothing). */
  get unhashed(): number {
    return this.ex.unhashed.value;
  }

  /** Entries of the last scan (names, edges, tensor names) that are not ASCII. */
  get nonAscii(): number {
    return this.ex.nonAscii.value;
  }

  /** The records of the last scan (words [0, {@link recordWords})); offsets in them are memory addresses: see {@link offset}. */
  get records(): Int32Array {
    return this.words;
  }

  get recordWords(): number {
    return this.ex.outUsed.value >> 2;
  }

  /** Name bytes of the last scan. */
  arena(): Uint8Array {
    return this.bytes.subarray(ARENA, ARENA + this.ex.arenaUsed.value);
  }

  /** A record's memory address as an offset in the loaded buffer. */
  offset(address: number): number {
    return address - IN;
  }

  get nodes(): number {
    return this.ex.nodes.value;
  }

  /** Input and output edges of the last scan's nodes. */
  get edgesIn(): number {
    return this.ex.edgesIn.value;
  }

  get edgesOut(): number {
    return this.ex.edgesOut.value;
  }

  get tensors(): number {
    return this.ex.tensors.value;
  }

  get values(): number {
    return this.ex.values.value;
  }

  /** True when the last scan stopped for lack of room (scan on after reading its records). */
  get full(): boolean {
    return this.ex.full.value !== 0;
  }

  /** The loaded bytes `[start, end)` (offsets in the loaded buffer). */
  view(start: number, end: number): Uint8Array {
    return this.bytes.subarray(IN + start, IN + end);
  }
}
