/**
 * One-pass parsers for the plain, common form of the two large JSON documents of a sharded safetensors model: a
 * shard's header and the `*.safetensors.index.json`. Each scans the decoded text once, straight into the IR (tensor
 * entries, hashed names, interned dtype and shard strings), instead of the general path's byte pre-scan, `JSON.parse`
 * into an object per entry, and a validation pass over those objects.
 *
 * They accept a strict subset of what the general path accepts and return `undefined` for anything else: escapes in
 * strings, numbers that are not plain non-negative integers of at most 15 digits, keys that are array indices (they
 * would change `Object.keys` order), duplicate keys, unknown fields, values the general path would warn about, cut or
 * reject. The caller then runs the general path on the same bytes, which gives the result or the error it always
 * gave. So on every input the output is the general path's, byte for byte (test/unit/safetensorsFast.test.ts
 * compares the two on valid and hostile headers and indexes). Bounds are the general path's own: a name longer than
 * `maxNameBytes`, rank above `maxRank`, more entries than `maxTensorCount`, more elements than `maxElementCount`,
 * offsets past the data section or overlapping are all left to it.
 */
import type { Limits } from '../../io/limits';
import type { TensorInfo } from '../../model/types';
import { ByteNameTable, NameTable, asciiText, hashName, type NameSet } from './nameTable';

// nameTable.ts's FNV-1a constants, as local constants: the scan loops use them per byte, and an imported binding is a
// getter call per use when modules are loaded one by one (tsx, the benchmarks' runner) rather than bundled.
// test/unit/safetensorsFast.test.ts checks that every hash equals nameTable's hashName.
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** Safetensors dtype → IR dtype and bits per element, as header.ts defines them. */
export interface DtypeEntry {
  readonly dtype: string;
  readonly bits: number;
}

/** A header read by {@link parseHeaderFast}. */
export interface FastHeader {
  readonly tensors: TensorInfo[];
  /**
   * Per tensor, the {@link hashName} of its name; with an `index` given to {@link parseHeaderFast}, only for the
   * tensors whose `ids` entry is -1 (0 for the others).
   */
  readonly hashes: Int32Array;
  /** With an `index`: per tensor, the id of its name in the index's table, or -1 when the index does not list it. */
  readonly ids: Int32Array | undefined;
  /** `__metadata__` string pairs in order (undefined: no `__metadata__`, or null). */
  readonly metadata: readonly (readonly [string, string])[] | undefined;
  /** Top-level keys (tensors + `__metadata__`). */
  readonly keyCount: number;
  /** Bytes of the data section no tensor covers. */
  readonly uncoveredBytes: number;
  readonly gapBytes: number;
}

/**
 * Scanner over the document's bytes. Plain functions over module state rather than a class: the loops stay small
 * enough to inline. A string is accepted only when it is printable ASCII without escapes, so byte offsets are
 * character offsets in the decoded text (everything before any accepted string is ASCII too, or the scan would
 * have stopped) and a name is one `text.slice`.
 */
let b: Uint8Array = new Uint8Array(0);
/** `b` as a DataView, for comparisons four bytes at a time. */
let v: DataView = new DataView(b.buffer);
let n = 0;
/** Position. */
let p = 0;
/** Hash (FNV-1a) and end of the content of the last string read by {@link str}. */
let sHash = 0;
let sEnd = 0;

function start(bytes: Uint8Array): void {
  b = bytes;
  v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  n = bytes.length;
  p = 0;
}

/** Skips whitespace; returns the next byte or -1 at the end. */
function ws(): number {
  while (p < n) {
    const c = b[p]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c;
    p++;
  }
  return -1;
}

/** Reads a string of printable ASCII without escapes (after whitespace); returns its content start or -1. */
function str(): number {
  if (ws() !== 0x22) return -1;
  const s = p + 1;
  let h = FNV_OFFSET;
  let i = s;
  for (;;) {
    if (i >= n) return -1;
    const c = b[i]!;
    if (c === 0x22) break;
    if (c === 0x5c || c < 0x20 || c > 0x7e) return -1;
    h = Math.imul(h ^ c, FNV_PRIME);
    i++;
  }
  sHash = h;
  sEnd = i;
  p = i + 1;
  return s;
}

const FIELD_DTYPE = 0;
const FIELD_SHAPE = 1;
const FIELD_OFFSETS = 2;

/**
 * Reads a header entry's field name (after whitespace) when it is exactly "dtype", "shape" or "data_offsets" and
 * returns which; else -1 (the same strings {@link str} would read and compare, without hashing them).
 */
function fieldName(): number {
  if (ws() !== 0x22) return -1;
  const s = p + 1;
  let field = -1;
  let len = 0;
  const c = b[s];
  if (c === 0x64) {
    if (b[s + 1] === 0x74) {
      field = FIELD_DTYPE;
      len = 5;
    } else {
      field = FIELD_OFFSETS;
      len = 12;
    }
  } else if (c === 0x73) {
    field = FIELD_SHAPE;
    len = 5;
  } else return -1;
  if (s + len >= n || b[s + len] !== 0x22) return -1;
  const word = FIELD_BYTES[field]!;
  for (let i = 1; i < len; i++) if (b[s + i] !== word[i]) return -1;
  p = s + len + 1;
  return field;
}

/** The three field names' bytes (compared with bytes, not a string's characters). */
const FIELD_BYTES = ['dtype', 'shape', 'data_offsets'].map((w) => Uint8Array.from(w, (c) => c.charCodeAt(0)));

/** Consumes byte `c` after whitespace. */
function take(c: number): boolean {
  if (ws() !== c) return false;
  p++;
  return true;
}

/** A non-negative integer of 1–15 digits without leading zeros, not followed by a fraction or exponent (after whitespace); else -1. */
function int(): number {
  let c = ws();
  if (c < 0x30 || c > 0x39) return -1;
  const s = p;
  let v = 0;
  let i = p;
  while (c >= 0x30 && c <= 0x39) {
    v = v * 10 + (c - 0x30);
    c = ++i < n ? b[i]! : -1;
  }
  if (i - s > 15 || (b[s] === 0x30 && i - s > 1) || c === 0x2e || c === 0x65 || c === 0x45) return -1;
  p = i;
  return v;
}

/**
 * `,` → 1, `close` → 0 (both consumed); anything else → -1. Both comparisons are made every time: the close comes
 * once per object, and compiled code that had not seen that comparison run would be sent back to the interpreter there.
 */
function next(close: number): number {
  const c = ws();
  const comma = c === 0x2c;
  const closed = c === close;
  if (comma || closed) p++;
  return comma ? 1 : closed ? 0 : -1;
}

/** True when bytes [s, e) equal the ASCII `word`. */
function isWord(s: number, e: number, word: string): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[s + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Consumes the literal `word` (after whitespace). */
function literal(word: string): boolean {
  ws();
  if (!isWord(p, Math.min(n, p + word.length), word)) return false;
  p += word.length;
  return true;
}

/** Releases the document. */
function done<T>(result: T): T {
  b = new Uint8Array(0);
  v = new DataView(b.buffer);
  n = 0;
  return result;
}

/** True when bytes [s, e) are all ASCII digits (such a key is an array index for `Object.keys`, or close to one). */
function allDigits(s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** True when bytes [s1, e1) equal bytes [s2, e2) (both within the document). */
function sameBytes(s1: number, e1: number, s2: number, e2: number): boolean {
  const len = e1 - s1;
  if (len !== e2 - s2) return false;
  let i = 0;
  for (; i + 4 <= len; i += 4) if (v.getInt32(s1 + i, true) !== v.getInt32(s2 + i, true)) return false;
  for (; i < len; i++) if (b[s1 + i] !== b[s2 + i]) return false;
  return true;
}

/**
 * Reads `{ "k": "v", … }` (plain strings of at most `maxValue` characters, distinct non-index keys) or `null`, as
 * offsets [key start, key end, value start, value end, …] (sliced from the text once it is decoded).
 */
function stringPairs(maxValue: number): number[] | null | undefined {
  if (ws() === 0x6e) return literal('null') ? null : undefined;
  if (!take(0x7b)) return undefined;
  const offs: number[] = [];
  if (ws() === 0x7d) {
    p++;
    return offs;
  }
  for (;;) {
    const ks = str();
    const ke = sEnd;
    if (ks < 0 || allDigits(ks, ke) || !take(0x3a)) return undefined;
    const vs = str();
    if (vs < 0 || sEnd - vs > maxValue) return undefined;
    for (let i = 0; i < offs.length; i += 4) if (sameBytes(offs[i]!, offs[i + 1]!, ks, ke)) return undefined;
    offs.push(ks, ke, vs, sEnd);
    if (offs.length > 4 * 256) return undefined;
    const more = next(0x7d);
    if (more < 0) return undefined;
    if (more === 0) return offs;
  }
}

/** Pairs of {@link stringPairs} as strings (`slice` gives the text between two offsets). */
function pairsOf(slice: (start: number, end: number) => string, offs: readonly number[] | null | undefined): [string, string][] | undefined {
  if (!offs) return undefined;
  const out: [string, string][] = [];
  for (let i = 0; i < offs.length; i += 4) out.push([slice(offs[i]!, offs[i + 1]!), slice(offs[i + 2]!, offs[i + 3]!)]);
  return out;
}

/** A dtype name of a dtypes table, with its bytes (compared in place) and its entry. */
interface DtypeKey {
  readonly bytes: Uint8Array;
  readonly entry: DtypeEntry;
}

/** Per dtypes table: its names by hash, to look a dtype up from its bytes. */
const dtypeIndexes = new WeakMap<ReadonlyMap<string, DtypeEntry>, Map<number, readonly DtypeKey[]>>();

function dtypeIndex(dtypes: ReadonlyMap<string, DtypeEntry>): Map<number, readonly DtypeKey[]> {
  let index = dtypeIndexes.get(dtypes);
  if (index === undefined) {
    index = new Map();
    for (const [k, v] of dtypes) {
      const h = hashName(k);
      index.set(h, [...(index.get(h) ?? []), { bytes: Uint8Array.from(k, (c) => c.charCodeAt(0)), entry: v }]);
    }
    dtypeIndexes.set(dtypes, index);
  }
  return index;
}

/**
 * One shard header in one pass, or undefined when it is not in the plain form (see the file comment). `bytes` is the
 * JSON; `dataOffset` is 8 + N, `dataByteLength` the bytes after the header; `fileKey` becomes each location's file.
 * The bytes are decoded only once the scan has accepted them (a header of huge metadata strings is left to the general
 * path, which cuts them before decoding, without a decoded copy made here first).
 * `checkDuplicates` false: a name may repeat in the result (the caller looks every name up anyway and must send a
 * header with a repeated name to the general path itself, as the sharded reader does; reader.ts).
 * `index` (a sharded model's index names; only with `checkDuplicates` false): each name is looked up in it as it is
 * scanned (`ids`). The index usually lists a shard's names in the shard's order, so the name is first compared byte
 * to byte with the index entry after the previous name's; when equal, that comparison is also the name's scan (the
 * index's bytes were checked as printable ASCII without escapes) and the name is not hashed.
 */
export function parseHeaderFast(bytes: Uint8Array, fileKey: string, dataOffset: number, dataByteLength: number, limits: Limits, dtypes: ReadonlyMap<string, DtypeEntry>, checkDuplicates = true, index?: ByteNameTable): FastHeader | undefined {
  if (limits.maxNestingDepth < 3) return undefined;
  start(bytes);
  const scanned = done(headerScan(fileKey, dataOffset, dataByteLength, limits, dtypeIndex(dtypes), checkDuplicates ? undefined : index));
  if (scanned === undefined) return undefined;
  const { tensors, nameOffsets, hashes } = scanned;
  const ids = scanned.header.ids;
  if (ids !== undefined && index !== undefined) {
    // Names the index lists are its own strings (one decoded text for all of its names, see ByteNameTable.name): the
    // header is not decoded; the few other strings are decoded where they are (all printable ASCII).
    for (let i = 0; i < tensors.length; i++) {
      const id = ids[i]!;
      (tensors[i] as { name: string }).name = id >= 0 ? index.name(id) : asciiText(bytes, nameOffsets[2 * i]!, nameOffsets[2 * i + 1]!);
    }
    return { ...scanned.header, metadata: pairsOf((i, j) => asciiText(bytes, i, j), scanned.metadata) };
  }
  // Every byte was ASCII (strings are printable ASCII, the rest JSON punctuation, digits and literals), so byte
  // offsets are character offsets, and decoding needs no validation.
  const text = asciiText(bytes, 0, bytes.length);
  if (text.length !== bytes.length) return undefined;
  const seen = checkDuplicates ? new NameTable(tensors.length) : undefined;
  for (let i = 0; i < tensors.length; i++) {
    const name = text.slice(nameOffsets[2 * i], nameOffsets[2 * i + 1]);
    if (seen !== undefined && seen.add(name, hashes[i]!) < 0) return undefined;
    (tensors[i] as { name: string }).name = name;
  }
  return { ...scanned.header, metadata: pairsOf((i, j) => text.slice(i, j), scanned.metadata) };
}

function sameShape(shape: readonly number[], dims: readonly number[], rank: number): boolean {
  if (shape.length !== rank) return false;
  for (let k = 0; k < rank; k++) if (shape[k] !== dims[k]) return false;
  return true;
}

interface HeaderScan {
  /** Tensors with their names still empty. */
  readonly tensors: TensorInfo[];
  /** Per tensor, start and end of its name. */
  readonly nameOffsets: Uint32Array;
  readonly hashes: Int32Array;
  readonly metadata: readonly number[] | null | undefined;
  readonly header: Omit<FastHeader, 'metadata'>;
}

/** `a` grown to twice its length (typed arrays filled as a scan goes). */
function grown<T extends Int32Array | Uint32Array | Float64Array>(a: T): T {
  const out = new (a.constructor as new (n: number) => T)(a.length * 2);
  out.set(a);
  return out;
}

/**
 * The header scan's per-tensor columns, reused from one header to the next (a sharded model's 80 headers then make no
 * new buffers but the results); kept only while they hold at most {@link SCRATCH_MAX} tensors.
 */
const SCRATCH_MAX = 1 << 14;
const scratch = { nameOffsets: new Uint32Array(2048), begins: new Float64Array(1024), hashes: new Int32Array(1024), ids: new Int32Array(1024) };

/** The entry read by {@link entry}: its dtype, rank (the dimensions in `dims`) and data_offsets. */
let eDt: DtypeEntry = { dtype: '', bits: 0 };
let eRank = 0;
let eBegin = 0;
let eEnd = 0;
const dims: number[] = [];
/**
 * The last dtype {@link entry} read and its table: entries mostly repeat the previous entry's dtype, in one header and
 * from one header to the next, so its bytes are compared first.
 */
let lastDt: DtypeKey | undefined;
let lastDtTable: Map<number, readonly DtypeKey[]> | undefined;

/** True when the document holds `key` at `at`, followed by a closing quote. */
function keyAt(key: Uint8Array, at: number): boolean {
  const len = key.length;
  if (at + len >= n || b[at + len] !== 0x22) return false;
  for (let i = 0; i < len; i++) if (b[at + i] !== key[i]) return false;
  return true;
}

/**
 * Reads a header entry `{ "dtype": …, "shape": […], "data_offsets": [b, e] }` (exactly those three fields, in any
 * order) into eDt, eRank/dims, eBegin and eEnd; false when it is not in the plain form. A function of its own, called
 * once per tensor: it is compiled once, early, as a whole, rather than as part of the header loop's on-stack
 * replacement.
 */
function entry(dtypes: Map<number, readonly DtypeKey[]>, maxRank: number): boolean {
  if (!take(0x7b)) return false;
  let dt: DtypeEntry | undefined;
  let rank = -1;
  let begin = -1;
  let end = -1;
  for (;;) {
    // The field name, compared in place ("dtype", "shape" or "data_offsets"; any other string → not plain).
    const field = fieldName();
    if (field < 0 || !take(0x3a)) return false;
    if (field === FIELD_DTYPE) {
      if (dt !== undefined) return false;
      if (ws() !== 0x22) return false;
      if (lastDt !== undefined && keyAt(lastDt.bytes, p + 1)) {
        dt = lastDt.entry;
        p += lastDt.bytes.length + 2;
      } else {
        const vs = str();
        if (vs < 0) return false;
        for (const k of dtypes.get(sHash) ?? []) {
          if (sEnd - vs === k.bytes.length && keyAt(k.bytes, vs)) {
            dt = k.entry;
            lastDt = k;
          }
        }
        if (dt === undefined) return false;
      }
    } else if (field === FIELD_SHAPE) {
      if (rank >= 0 || !take(0x5b)) return false;
      rank = 0;
      if (ws() === 0x5d) p++;
      else {
        for (;;) {
          const d = int();
          if (d < 0 || rank >= maxRank) return false;
          dims[rank++] = d;
          const more = next(0x5d);
          if (more < 0) return false;
          if (more === 0) break;
        }
      }
    } else {
      if (begin >= 0 || !take(0x5b)) return false;
      begin = int();
      if (begin < 0 || !take(0x2c)) return false;
      end = int();
      if (end < 0 || !take(0x5d)) return false;
    }
    const more = next(0x7d);
    if (more < 0) return false;
    if (more === 0) break;
  }
  if (dt === undefined || rank < 0 || begin < 0 || end < begin) return false;
  eDt = dt;
  eRank = rank;
  eBegin = begin;
  eEnd = end;
  return true;
}

/** Top-level keys {@link headerKeys} reads per call. */
const KEYS_PER_CALL = 32;

// The header being scanned by headerScan, as module state that headerKeys carries on: the tensors and their columns,
// the index id of the previous name (its successor is tried first), `__metadata__`, the walk over the data ranges,
// and the entry fields headerScan takes from its caller.
let hTensors: TensorInfo[] = [];
let hNameOffsets = scratch.nameOffsets;
let hHashes = scratch.hashes;
let hBegins = scratch.begins;
let hIds = scratch.ids;
let hIndex: ByteNameTable | undefined;
let hLastId = -1;
let hMetadata: number[] | null | undefined;
let hSawMetadata = false;
let hCovered = 0;
let hGapBytes = 0;
let hInOrder = true;
let hLastShape: number[] = [];
let hFileKey = '';
let hDataOffset = 0;
let hDataByteLength = 0;
let hLimits: Limits | undefined;
let hDtypes: Map<number, readonly DtypeKey[]> = new Map();

function headerScan(fileKey: string, dataOffset: number, dataByteLength: number, limits: Limits, dtypes: Map<number, readonly DtypeKey[]>, index: ByteNameTable | undefined): HeaderScan | undefined {
  if (!take(0x7b)) return undefined;
  hTensors = [];
  hNameOffsets = scratch.nameOffsets;
  hHashes = scratch.hashes;
  hBegins = scratch.begins;
  hIds = scratch.ids;
  hIndex = index;
  hLastId = -1;
  hMetadata = undefined;
  hSawMetadata = false;
  hCovered = 0;
  hGapBytes = 0;
  hInOrder = true;
  // Consecutive tensors often have one shape (experts, layers): they share one array (shapes are readonly in the IR).
  hLastShape = [];
  hFileKey = fileKey;
  hDataOffset = dataOffset;
  hDataByteLength = dataByteLength;
  hLimits = limits;
  hDtypes = dtypes;
  if (lastDtTable !== dtypes) {
    lastDt = undefined;
    lastDtTable = dtypes;
  }
  // The keys, a bounded number per call: the per-key work is a function called many times, compiled once as a whole,
  // not a long loop compiled again on the stack (on-stack replacement) in the middle of the first header.
  let more = 1;
  while (more > 0) more = headerKeys(KEYS_PER_CALL);
  const tensors = hTensors;
  const begins = hBegins;
  const hashes = hHashes;
  const nameOffsets = hNameOffsets;
  const ids = index !== undefined ? hIds : undefined;
  const metadata = hMetadata;
  hTensors = [];
  hIndex = undefined;
  hLimits = undefined;
  hLastShape = [];
  if (more < 0 || ws() !== -1) return undefined;
  let covered = hCovered;
  let gapBytes = hGapBytes;
  if (!hInOrder) {
    // Writers that list names alphabetically and lay data out in another order: the general path's walk over the
    // ranges sorted by (begin, end), on indices. An overlap → the general path, which names the two tensors.
    const order = new Uint32Array(tensors.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((x, y) => begins[x]! - begins[y]! || tensors[x]!.byteLength - tensors[y]!.byteLength);
    covered = 0;
    gapBytes = 0;
    for (const i of order) {
      const begin = begins[i]!;
      if (begin < covered) return undefined;
      gapBytes += begin - covered;
      covered = Math.max(covered, begin + tensors[i]!.byteLength);
    }
  }
  // The results are copies (the scratch columns serve the next header); the name offsets are read before that.
  const h = hashes.slice(0, tensors.length);
  return {
    tensors,
    nameOffsets,
    hashes: h,
    metadata,
    header: { tensors, hashes: h, ids: ids?.slice(0, tensors.length), keyCount: tensors.length + (hSawMetadata ? 1 : 0), uncoveredBytes: gapBytes + (dataByteLength - covered), gapBytes },
  };
}

/**
 * Reads up to `max` top-level keys of the header headerScan started, each with its `,` or the closing `}`: 1 when
 * there are more, 0 after the closing brace, -1 when the header is not in the plain form.
 */
function headerKeys(max: number): number {
  const limits = hLimits!;
  const index = hIndex;
  const tensors = hTensors;
  let lastId = hLastId;
  let covered = hCovered;
  let gapBytes = hGapBytes;
  let inOrder = hInOrder;
  let more = 1;
  for (let key = 0; key < max && more > 0; key++) {
    // The name: the index entry after the previous name's when the bytes are the same, else scanned and hashed.
    let ks: number;
    let hash = 0;
    let id = -1;
    if (index !== undefined && ws() === 0x22 && (ks = index.matchAt(lastId + 1, b, v, p + 1)) >= 0) {
      id = lastId + 1;
      sEnd = ks;
      ks = p + 1;
      p = sEnd + 1;
    } else {
      ks = str();
      if (ks < 0) return -1;
      hash = sHash;
      if (index !== undefined) id = index.findBytes(b, ks, sEnd, hash);
    }
    const ke = sEnd;
    if (!take(0x3a)) return -1;
    if (ke - ks === 12 && isWord(ks, ke, '__metadata__')) {
      if (hSawMetadata) return -1;
      hSawMetadata = true;
      hMetadata = stringPairs(limits.maxDisplayStringBytes);
      if (hMetadata === undefined) return -1;
    } else {
      if (ke - ks > limits.maxNameBytes || allDigits(ks, ke) || tensors.length >= limits.maxTensorCount) return -1;
      if (!entry(hDtypes, limits.maxRank)) return -1;
      const dt = eDt;
      const rank = eRank;
      const begin = eBegin;
      const end = eEnd;
      // The general path's arithmetic (header.ts readEntry), in the same order.
      let elementCount = 1;
      for (let k = 0; k < rank; k++) {
        elementCount *= dims[k]!;
        if (elementCount > limits.maxElementCount) return -1;
      }
      if (dt.bits % 8 !== 0 && (elementCount * dt.bits) % 8 !== 0) return -1;
      const byteLength = dt.bits % 8 === 0 ? elementCount * (dt.bits / 8) : (elementCount * dt.bits) / 8;
      if (!Number.isSafeInteger(byteLength) || end - begin !== byteLength || begin + byteLength > hDataByteLength) return -1;
      // While each range starts at or after the end of all before it, they come in (begin, end) order: the general
      // path's sort is the identity and its overlap and gap walk is this one. Else the ranges are sorted at the end.
      if (inOrder && begin < covered) inOrder = false;
      if (inOrder) {
        gapBytes += begin - covered;
        covered = Math.max(covered, end);
      }
      const k = tensors.length;
      if (k === hHashes.length) growColumns();
      hBegins[k] = begin;
      hHashes[k] = hash;
      hNameOffsets[2 * k] = ks;
      hNameOffsets[2 * k + 1] = ke;
      hIds[k] = id;
      if (id >= 0) lastId = id;
      const lastShape = hLastShape;
      tensors.push({
        name: '',
        dtype: dt.dtype,
        shape: sameShape(lastShape, dims, rank) ? lastShape : (hLastShape = dims.slice(0, rank)),
        elementCount,
        byteLength,
        file: byteLength > 0 ? hFileKey : undefined,
        byteOffset: byteLength > 0 ? hDataOffset + begin : 0,
        encoding: 'raw',
        origin: 'entry',
      });
    }
    more = next(0x7d);
  }
  hLastId = lastId;
  hCovered = covered;
  hGapBytes = gapBytes;
  hInOrder = inOrder;
  return more;
}

/** The header scan's columns grown to twice their length (kept as the scratch columns up to SCRATCH_MAX). */
function growColumns(): void {
  hHashes = grown(hHashes);
  hBegins = grown(hBegins);
  hNameOffsets = grown(hNameOffsets);
  hIds = grown(hIds);
  if (hHashes.length <= SCRATCH_MAX) {
    scratch.hashes = hHashes;
    scratch.begins = hBegins;
    scratch.nameOffsets = hNameOffsets;
    scratch.ids = hIds;
  }
}

/** An index read by {@link parseIndexFast}: names and raw shard strings, before any path check. */
export interface FastIndex {
  /** weight_map's names, in order, hashed (kept in the document's bytes). */
  readonly names: NameSet;
  /** Per name, its position in `rawShards`. */
  readonly rawShardOf: Int32Array;
  /** Distinct shard strings as written, in order of first use. */
  readonly rawShards: readonly string[];
  /** The index's `metadata` entries in order, values as the general path keeps them; undefined when absent. */
  readonly metadata: readonly (readonly [string, string | number | boolean | null])[] | undefined;
}

/**
 * `{"metadata": {…}, "weight_map": {"name": "shard", …}}` in one pass, or undefined when it is not in the plain form.
 * Metadata values: plain strings (longer than `maxDisplayStringBytes` are cut as the general path cuts them), integers,
 * `true`, `false`, `null`. Shard strings are interned (compared as bytes with the previous one). Decoded only once
 * the scan has accepted the bytes.
 */
export function parseIndexFast(bytes: Uint8Array, limits: Limits): FastIndex | undefined {
  start(bytes);
  const scanned = done(indexScan(limits));
  if (scanned === undefined) return undefined;
  // Every accepted byte is ASCII (strings are printable ASCII, the rest JSON punctuation, digits and literals): the
  // names stay in the bytes, and the few other strings are decoded where they are.
  const { nameOffsets, hashes, count } = scanned;
  const names = new ByteNameTable(bytes, count);
  for (let i = 0; i < count; i += KEYS_PER_CALL) if (!addNames(names, nameOffsets, hashes, i, Math.min(count, i + KEYS_PER_CALL))) return undefined;
  names.decode();
  const rawShards: string[] = [];
  for (let i = 0; i < scanned.rawOffsets.length; i += 2) rawShards.push(asciiText(bytes, scanned.rawOffsets[i]!, scanned.rawOffsets[i + 1]!));
  const metadata = scanned.metadata?.map(([k, v]): [string, string | number | boolean | null] => {
    const key = asciiText(bytes, k[0], k[1]);
    if (typeof v !== 'object' || v === null) return [key, v];
    const max = limits.maxDisplayStringBytes;
    return [key, v[1] - v[0] > max ? `${asciiText(bytes, v[0], v[0] + max)}…` : asciiText(bytes, v[0], v[1])];
  });
  return { names, rawShardOf: scanned.rawShardOf, rawShards, metadata };
}

/**
 * Adds scanned names [from, to) to `names`; false when one repeats. Called for a bounded number of names at a time (as
 * headerKeys reads keys): a 32-bit hash that two names share is in most large indexes, and its comparison would
 * otherwise send a loop compiled on the stack back to the interpreter in every read.
 */
function addNames(names: ByteNameTable, nameOffsets: Uint32Array, hashes: Int32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (names.add(nameOffsets[2 * i]!, nameOffsets[2 * i + 1]!, hashes[i]!) < 0) return false;
  return true;
}

interface IndexScan {
  readonly count: number;
  readonly nameOffsets: Uint32Array;
  readonly hashes: Int32Array;
  readonly rawShardOf: Int32Array;
  /** Per distinct shard string: start and end of its first occurrence. */
  readonly rawOffsets: readonly number[];
  /** Metadata: key offsets, and the value or its string's offsets. */
  readonly metadata: readonly (readonly [readonly [number, number], number | boolean | null | readonly [number, number]])[] | undefined;
}

type IndexMetadata = (readonly [readonly [number, number], number | boolean | null | readonly [number, number]])[];

// The weight_map being scanned by indexScan, as module state that weightMapEntries carries on.
let wCount = 0;
let wNameOffsets = new Uint32Array(0);
let wHashes = new Int32Array(0);
let wRawShardOf = new Int32Array(0);
/** Per distinct shard string: start and end of its first occurrence. */
let wRawOffsets: number[] = [];
let wRawByHash = new Map<number, number[]>();
let wLastRaw = -1;
let wMaxTensorCount = 0;
let wMaxFileCount = 0;

function indexScan(limits: Limits): IndexScan | undefined {
  if (!take(0x7b)) return undefined;
  let sawWeightMap = false;
  let metadata: IndexMetadata | undefined;
  if (ws() === 0x7d) return undefined;
  wCount = 0;
  wNameOffsets = new Uint32Array(2048);
  wHashes = new Int32Array(1024);
  wRawShardOf = new Int32Array(1024);
  wRawOffsets = [];
  wRawByHash = new Map();
  wLastRaw = -1;
  wMaxTensorCount = limits.maxTensorCount;
  wMaxFileCount = limits.maxFileCount;
  for (;;) {
    const ks = str();
    if (ks < 0) return undefined;
    const ke = sEnd;
    if (!take(0x3a)) return undefined;
    if (isWord(ks, ke, 'weight_map')) {
      if (sawWeightMap || !take(0x7b)) return undefined;
      sawWeightMap = true;
      if (ws() === 0x7d) p++;
      else {
        // The entries, a bounded number per call (as headerScan reads its keys).
        let more = 1;
        while (more > 0) more = weightMapEntries(KEYS_PER_CALL);
        if (more < 0) return undefined;
      }
    } else if (isWord(ks, ke, 'metadata')) {
      if (metadata !== undefined) return undefined;
      metadata = indexMetadata();
      if (metadata === undefined) return undefined;
    } else return undefined;
    const more = next(0x7d);
    if (more < 0) return undefined;
    if (more === 0) break;
  }
  const count = wCount;
  const scanned = { count, nameOffsets: wNameOffsets, hashes: wHashes.subarray(0, count), rawShardOf: wRawShardOf.subarray(0, count), rawOffsets: wRawOffsets, metadata };
  wNameOffsets = new Uint32Array(0);
  wHashes = new Int32Array(0);
  wRawShardOf = new Int32Array(0);
  wRawOffsets = [];
  wRawByHash = new Map();
  if (!sawWeightMap || ws() !== -1) return undefined;
  return scanned;
}

/**
 * Reads up to `max` weight_map entries (`"name": "shard"`), each with its `,` or the closing `}`: 1 when there are
 * more, 0 after the closing brace, -1 when the index is not in the plain form.
 */
function weightMapEntries(max: number): number {
  let count = wCount;
  let lastRaw = wLastRaw;
  let more = 1;
  for (let k = 0; k < max && more > 0; k++) {
    const ns = str();
    if (ns < 0) return -1;
    const ne = sEnd;
    const hash = sHash;
    if (count >= wMaxTensorCount || allDigits(ns, ne) || !take(0x3a)) return -1;
    // Consecutive names mostly share a shard: compare the value in place with that shard's first occurrence.
    let raw = lastRaw;
    const rs = raw >= 0 ? wRawOffsets[2 * raw]! : 0;
    const rl = raw >= 0 ? wRawOffsets[2 * raw + 1]! - rs : 0;
    if (raw >= 0 && ws() === 0x22 && b[p + rl + 1] === 0x22 && sameBytes(rs, rs + rl, p + 1, p + 1 + rl)) {
      p += rl + 2;
    } else {
      raw = shardString();
      if (raw < 0) return -1;
      lastRaw = raw;
    }
    if (count === wHashes.length) {
      wHashes = grown(wHashes);
      wRawShardOf = grown(wRawShardOf);
      wNameOffsets = grown(wNameOffsets);
    }
    wHashes[count] = hash;
    wRawShardOf[count] = raw;
    wNameOffsets[2 * count] = ns;
    wNameOffsets[2 * count + 1] = ne;
    count++;
    more = next(0x7d);
  }
  wCount = count;
  wLastRaw = lastRaw;
  return more;
}

/** Reads a weight_map value and returns its position among the distinct shard strings (new ones added); -1: not plain. */
function shardString(): number {
  const vs = str();
  if (vs < 0) return -1;
  const ve = sEnd;
  const candidates = wRawByHash.get(sHash);
  for (const r of candidates ?? []) if (sameBytes(wRawOffsets[2 * r]!, wRawOffsets[2 * r + 1]!, vs, ve)) return r;
  const raw = wRawOffsets.length / 2;
  if (raw > wMaxFileCount) return -1;
  wRawOffsets.push(vs, ve);
  if (candidates) candidates.push(raw);
  else wRawByHash.set(sHash, [raw]);
  return raw;
}

/** Reads the index's `metadata` object: key offsets, and each value or its string's offsets; undefined: not plain. */
function indexMetadata(): IndexMetadata | undefined {
  if (!take(0x7b)) return undefined;
  const metadata: IndexMetadata = [];
  if (ws() === 0x7d) {
    p++;
    return metadata;
  }
  for (;;) {
    const ms = str();
    const me = sEnd;
    if (ms < 0 || allDigits(ms, me) || !take(0x3a)) return undefined;
    const c = ws();
    let v: number | boolean | null | readonly [number, number];
    if (c === 0x22) {
      const vs = str();
      if (vs < 0) return undefined;
      v = [vs, sEnd];
    } else if (c === 0x74) {
      if (!literal('true')) return undefined;
      v = true;
    } else if (c === 0x66) {
      if (!literal('false')) return undefined;
      v = false;
    } else if (c === 0x6e) {
      if (!literal('null')) return undefined;
      v = null;
    } else {
      v = int();
      if (v < 0) return undefined;
    }
    for (const [[s0, e0]] of metadata) if (sameBytes(s0, e0, ms, me)) return undefined;
    metadata.push([[ms, me], v]);
    if (metadata.length > 256) return undefined;
    const more = next(0x7d);
    if (more < 0) return undefined;
    if (more === 0) return metadata;
  }
}
