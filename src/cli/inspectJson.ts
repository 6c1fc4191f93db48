/**
 * `inspect --json`'s layer rows written as bytes straight from the model's layers (a jsonOut.ts `RowsWriter`): no
 * object and no string per row. The bytes are those of `JSON.stringify(inspectReport(model), null, 2)` with
 * `escapeTerminal` applied (io.ts): test/unit/inspectJson.test.ts compares the two over names of every escaping class.
 *
 * Most of a row's bytes are fixed (indentation, keys, separators): they are copied as a few pre-encoded pieces, each
 * running from one value to the next (`",\n      "op": "`), and the pieces that hold values repeated from row to row
 * are remembered with them: op and role; and counts, dtype, shape and quantizable together. A common row is then
 * four copies and its name, block and weight, written in one function ({@link writeRows}). A copy is a call, and
 * calls dominate a cold run: 16 separate fixed pieces a row cost ~10 ms of CPU on 12,500 rows; a call per piece and
 * per value (a row function and byte-writer methods, 9 functions for TurboFan to compile) took 1.45x this writer's
 * CPU for the rows of the bench's 45,000-node ONNX (20.2 vs 13.9 ms, in-process, median of 21 runs, load ~6).
 *
 * The row's fields, their order and the rules for their values (`block` null, `bytes` from `byteLength`, `weights`
 * from `weight` and `moreWeights`) are stated twice on purpose: here as pieces and memos, and in core's
 * `InspectLayerRows.rows`, the definition (model/inspect.ts). One table of fields that both read (key, kind, getter)
 * makes this writer a loop with a call and a branch per field and no piece spanning fields: such a writer took 1.14×
 * this one's CPU for the rows of the bench's 45,000-node ONNX (median of 9 cold runs each under the one-pass flags,
 * load ~7.5; ~7 ms, ~2.5 % of the command); keeping pieces that span fields would again need the writer to know which
 * fields they join and in what order.
 * test/unit/inspectJson.test.ts fails when a field differs between the two on any model or name: change both.
 */
import { escapeTerminal } from './io';
import { InspectLayerRows, type Layer, type ParameterPart } from '../core';
import type { JsonBytes, JsonRows } from './jsonOut';

/** Rows written per call of {@link writeRows} (its loop is compiled once, not on the stack of one long call). */
const ROWS_PER_CALL = 128;

/** Pieces remembered per kind ({@link OpRoleMemo}, {@link MiddleMemo}); values past these are written piece by piece. */
const MEMO_ENTRIES = 16;

/** The longest text of a number (`String(-1.2345678901234567e-300)`). */
const NUMBER_BYTES = 24;

/** ASCII text as bytes. */
const ascii = (text: string): Uint8Array => Buffer.from(text, 'latin1');

/** A value written as `JSON.stringify` writes it in the document, terminal-escaped, as UTF-8 bytes. */
const jsonBytes = (v: string): Buffer => Buffer.from(escapeTerminal(JSON.stringify(v), true), 'utf8');

/** The fixed pieces of a row nested at a given indentation. */
interface Glue {
  /** `{` and the name's key: first row, and rows after another (`,` and a line end before). */
  readonly open: readonly [Uint8Array, Uint8Array];
  readonly parameterCount: Uint8Array;
  readonly bytes: Uint8Array;
  /** `shape` empty, or opened up to its first element. */
  readonly shapeEmpty: Uint8Array;
  readonly shapeOpen: Uint8Array;
  /** Between two array elements. */
  readonly next: Uint8Array;
  /** From the shape's end to the weights' first element: [shape empty][quantizable][weights empty]. */
  readonly quantizable: readonly (readonly (readonly Uint8Array[])[])[];
  /** From the weights' end through `"cache": null, "part": "text"` and the row's end: [weights empty]. */
  readonly textTail: readonly Uint8Array[];
  /** From the weights' end to the cache's value: [weights empty]. */
  readonly cache: readonly Uint8Array[];
  readonly part: Uint8Array;
  readonly close: Uint8Array;
  readonly nullValue: Uint8Array;
  /** The row's own indentation (for a row written by `JSON.stringify`). */
  readonly indent: string;
  /** Member indentation, for the remembered pieces. */
  readonly member: string;
  /** Bytes of all fixed pieces of one row at most. */
  readonly fixedBytes: number;
}

function glue(indent: string): Glue {
  const row = `${indent}  `;
  const m = `${row}  `;
  const e = `${m}  `;
  const texts = {
    open: [`${row}{\n${m}"name": `, `,\n${row}{\n${m}"name": `],
    parameterCount: `,\n${m}"parameterCount": `,
    bytes: `,\n${m}"bytes": `,
    shapeEmpty: `,\n${m}"shape": []`,
    shapeOpen: `,\n${m}"shape": [\n${e}`,
    next: `,\n${e}`,
    quantizable: [true, false].map((shapeEmpty) => [false, true].map((q) => [false, true].map((wEmpty) => `${shapeEmpty ? '' : `\n${m}]`},\n${m}"quantizable": ${q},\n${m}"weights": ${wEmpty ? '[]' : `[\n${e}`}`))),
    textTail: [false, true].map((wEmpty) => `${wEmpty ? '' : `\n${m}]`},\n${m}"cache": null,\n${m}"part": "text"\n${row}}`),
    cache: [false, true].map((wEmpty) => `${wEmpty ? '' : `\n${m}]`},\n${m}"cache": `),
    part: `,\n${m}"part": `,
    close: `\n${row}}`,
  };
  const fixedBytes = JSON.stringify(texts).length;
  return {
    open: [ascii(texts.open[0]!), ascii(texts.open[1]!)],
    parameterCount: ascii(texts.parameterCount),
    bytes: ascii(texts.bytes),
    shapeEmpty: ascii(texts.shapeEmpty),
    shapeOpen: ascii(texts.shapeOpen),
    next: ascii(texts.next),
    quantizable: texts.quantizable.map((a) => a.map((b) => b.map(ascii))),
    textTail: texts.textTail.map(ascii),
    cache: texts.cache.map(ascii),
    part: ascii(texts.part),
    close: ascii(texts.close),
    nullValue: ascii('null'),
    indent: row,
    member: m,
    fixedBytes,
  };
}

/**
 * The piece `,\n "op": OP, "role": ROLE, "block": ` of up to {@link MEMO_ENTRIES} (op, role) pairs. `get` gives null
 * when op or role is not a string (the row is then written by `JSON.stringify`), undefined once full without them.
 */
class OpRoleMemo {
  private readonly ops: unknown[] = [];
  private readonly roles: unknown[] = [];
  private readonly pieces: Uint8Array[] = [];

  constructor(private readonly member: string) {}

  get(op: unknown, role: unknown): Uint8Array | null | undefined {
    // Each entry in turn (at most MEMO_ENTRIES, two comparisons each): rows of a graph alternate between a few pairs
    // (Mul/other, Add/bias…), so the last pair found would miss every other row.
    const { ops, roles } = this;
    for (let k = 0; k < ops.length; k++) if (ops[k] === op && roles[k] === role) return this.pieces[k];
    return this.add(op, role);
  }

  private add(op: unknown, role: unknown): Uint8Array | null | undefined {
    const n = this.pieces.length;
    if (typeof op !== 'string' || typeof role !== 'string') return null;
    if (n >= MEMO_ENTRIES) return undefined;
    const m = this.member;
    const piece = Buffer.concat([ascii(`,\n${m}"op": `), jsonBytes(op), ascii(`,\n${m}"role": `), jsonBytes(role), ascii(`,\n${m}"block": `)]);
    this.ops.push(op);
    this.roles.push(role);
    this.pieces.push(piece);
    return piece;
  }
}

/**
 * The piece from the block's value to the weights' first element (`, "parameterCount": N, "bytes": N, "dtype": D,
 * "shape": […], "quantizable": Q, "weights": [` or through `[]` when the layer has no weight) of up to
 * {@link MEMO_ENTRIES} such runs of values: one lookup and one copy where there were three of each (count pair,
 * dtype and shape, quantizable). `get` gives null when a value is not of the type the fast path writes, undefined
 * once full without them. Keys are compared with `===` (dimensions one by one), so a hit holds values of the checked
 * types.
 */
class MiddleMemo {
  private readonly counts: number[] = [];
  private readonly bytes: number[] = [];
  private readonly dtypes: string[] = [];
  private readonly shapes: (readonly number[])[] = [];
  private readonly flags: number[] = [];
  private readonly pieces: Uint8Array[] = [];
  private last = 0;

  constructor(private readonly g: Glue) {}

  get(count: unknown, bytes: unknown, dtype: unknown, shape: unknown, flags: number): Uint8Array | null | undefined {
    const k = this.last;
    if (k < this.pieces.length && this.counts[k] === count && this.bytes[k] === bytes && this.dtypes[k] === dtype && this.flags[k] === flags && Array.isArray(shape)) {
      const dims = this.shapes[k]!;
      const n = dims.length;
      if (shape.length === n) {
        let d = 0;
        while (d < n && shape[d] === dims[d]) d++;
        if (d === n) return this.pieces[k];
      }
    }
    return this.find(count, bytes, dtype, shape, flags);
  }

  private find(count: unknown, bytes: unknown, dtype: unknown, shape: unknown, flags: number): Uint8Array | null | undefined {
    if (typeof count !== 'number' || typeof bytes !== 'number' || typeof dtype !== 'string' || !Array.isArray(shape)) return null;
    for (let d = 0; d < shape.length; d++) if (typeof shape[d] !== 'number') return null;
    const dims = shape as readonly number[];
    const n = this.pieces.length;
    for (let k = 0; k < n; k++) {
      if (this.counts[k] === count && this.bytes[k] === bytes && this.dtypes[k] === dtype && this.flags[k] === flags && sameDims(this.shapes[k]!, dims)) {
        this.last = k;
        return this.pieces[k];
      }
    }
    if (n >= MEMO_ENTRIES) return undefined;
    const g = this.g;
    const m = g.member;
    const e = `${m}  `;
    const q = flags >> 1;
    const wEmpty = flags & 1;
    const piece = Buffer.concat([
      ascii(`,\n${m}"parameterCount": ${JSON.stringify(count)},\n${m}"bytes": ${JSON.stringify(bytes)},\n${m}"dtype": `),
      jsonBytes(dtype),
      ascii(dims.length === 0 ? `,\n${m}"shape": []` : `,\n${m}"shape": [\n${e}${dims.map((d) => JSON.stringify(d)).join(`,\n${e}`)}`),
      g.quantizable[dims.length === 0 ? 0 : 1]![q]![wEmpty]!,
    ]);
    this.counts.push(count);
    this.bytes.push(bytes);
    this.dtypes.push(dtype);
    this.shapes.push(dims.slice());
    this.flags.push(flags);
    this.pieces.push(piece);
    this.last = n;
    return piece;
  }
}

/** Equal dimension lists (numbers compared with `===`, as the writer's pieces would be the same text). */
function sameDims(x: readonly number[], y: readonly number[]): boolean {
  if (x.length !== y.length) return false;
  for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
  return true;
}

/** What a row writer keeps: the fixed pieces and the memos. */
interface RowWriter {
  readonly glue: Glue;
  readonly opRole: OpRoleMemo;
  readonly middle: MiddleMemo;
}

function rowWriter(indent: string): RowWriter {
  const g = glue(indent);
  return { glue: g, opRole: new OpRoleMemo(g.member), middle: new MiddleMemo(g) };
}

/**
 * Writes row `i` of `rows` (fields as `InspectLayerRows.rows` makes them), after a `,` and a line end unless it is the
 * first; false, with nothing written, when a field is not of the type the fast path writes (then the row is written by
 * `JSON.stringify`). A row is four remembered or fixed pieces and its own values (name, block, weights): the
 * values between them are checked when a memo first takes them.
 */
function writeRow(rows: InspectLayerRows, l: Layer, i: number, w: RowWriter, out: JsonBytes): boolean {
  const g = w.glue;
  const { name, block, weight, moreWeights } = l;
  if (typeof name !== 'string' || (block !== undefined && block !== null && typeof block !== 'number')) return false;
  let size = g.fixedBytes + 6 * name.length + 64 + 3 * NUMBER_BYTES;
  let wEmpty = 1;
  if (weight !== undefined) {
    if (typeof weight !== 'string' || !Array.isArray(moreWeights)) return false;
    wEmpty = 0;
    size += g.next.length + 6 * weight.length + 2;
    for (let k = 0; k < moreWeights.length; k++) {
      const mw = moreWeights[k] as unknown;
      if (typeof mw !== 'string') return false;
      size += g.next.length + 6 * mw.length + 2;
    }
  }
  let part: unknown = 'text';
  let cache: unknown = null;
  if (!rows.plain) {
    part = rows.part(i);
    cache = rows.cache(i, part as ParameterPart);
    if (typeof part !== 'string' || (cache !== null && typeof cache !== 'string')) return false;
    size += 6 * (part.length + (cache === null ? 0 : cache.length));
  }
  const opRole = w.opRole.get(l.op, l.role);
  if (opRole === null) return false;
  const quantizable = l.quantizable;
  if (typeof quantizable !== 'boolean') return false;
  const middle = w.middle.get(l.parameterCount, l.byteLength, l.dtype, l.shape, ((quantizable ? 1 : 0) << 1) | wEmpty);
  if (middle === null) return false;
  if (opRole === undefined || middle === undefined) return writeRowPieces(l, i, g, part as string, cache as string | null, out);
  // Room for the whole row, each string at 6 bytes a UTF-16 unit (`\uXXXX`), so that nothing is handed on mid-row.
  out.room(size + opRole.length + middle.length);
  out.bytes(g.open[i === 0 ? 0 : 1]!);
  out.str(name);
  out.bytes(opRole);
  if (block === undefined || block === null) out.bytes(g.nullValue);
  else out.num(block);
  out.bytes(middle);
  if (weight !== undefined) {
    out.str(weight);
    for (let k = 0; k < moreWeights.length; k++) {
      out.bytes(g.next);
      out.str(moreWeights[k]!);
    }
  }
  writeTail(g, wEmpty, part as string, cache as string | null, out);
  return true;
}

/** A row's end: from the weights' end through `cache`, `part` and the closing brace. */
function writeTail(g: Glue, wEmpty: number, part: string, cache: string | null, out: JsonBytes): void {
  if (cache === null && part === 'text') return out.bytes(g.textTail[wEmpty]!);
  out.bytes(g.cache[wEmpty]!);
  if (cache === null) out.bytes(g.nullValue);
  else out.str(cache);
  out.bytes(g.part);
  out.str(part);
  out.bytes(g.close);
}

/**
 * {@link writeRow} piece by piece, for a row whose op and role or whose counts, dtype and shape the full memos do not
 * hold (the caller checked name, block, weights, part and cache).
 */
function writeRowPieces(l: Layer, i: number, g: Glue, part: string, cache: string | null, out: JsonBytes): boolean {
  const { name, op, role, block, parameterCount, byteLength, dtype, shape, quantizable, weight, moreWeights } = l;
  if (typeof op !== 'string' || typeof role !== 'string' || typeof dtype !== 'string' || typeof parameterCount !== 'number' || typeof byteLength !== 'number') return false;
  if (typeof quantizable !== 'boolean' || !Array.isArray(shape)) return false;
  for (let k = 0; k < shape.length; k++) if (typeof shape[k] !== 'number') return false;
  let size = g.fixedBytes + 6 * (name.length + op.length + role.length + dtype.length + part.length + (cache === null ? 0 : cache.length)) + 64 + 3 * NUMBER_BYTES;
  size += shape.length * (g.next.length + NUMBER_BYTES);
  if (weight !== undefined) {
    size += g.next.length + 6 * weight.length + 2;
    for (let k = 0; k < moreWeights.length; k++) size += g.next.length + 6 * moreWeights[k]!.length + 2;
  }
  out.room(size);
  out.bytes(g.open[i === 0 ? 0 : 1]!);
  out.str(name);
  out.ascii(`,\n${g.member}"op": `);
  out.str(op);
  out.ascii(`,\n${g.member}"role": `);
  out.str(role);
  out.ascii(`,\n${g.member}"block": `);
  if (block === undefined || block === null) out.bytes(g.nullValue);
  else out.num(block);
  out.bytes(g.parameterCount);
  out.num(parameterCount);
  out.bytes(g.bytes);
  out.num(byteLength);
  out.ascii(`,\n${g.member}"dtype": `);
  out.str(dtype);
  if (shape.length === 0) out.bytes(g.shapeEmpty);
  else {
    for (let k = 0; k < shape.length; k++) {
      out.bytes(k === 0 ? g.shapeOpen : g.next);
      out.num(shape[k]!);
    }
  }
  const wEmpty = weight === undefined ? 1 : 0;
  out.bytes(g.quantizable[shape.length === 0 ? 0 : 1]![quantizable ? 1 : 0]![wEmpty]!);
  if (weight !== undefined) {
    out.str(weight);
    for (let k = 0; k < moreWeights.length; k++) {
      out.bytes(g.next);
      out.str(moreWeights[k]!);
    }
  }
  writeTail(g, wEmpty, part, cache, out);
  return true;
}

/**
 * Rows [from, to), each after a `,` and a line end unless it is the first, as many as fit in what is left of `out`'s
 * block: returns the index of the first row not written. The common row (every part 'text' and no cache label, one
 * weight, a name of printable ASCII, op/role and counts/dtype/shape in the memos) is written here, in this one
 * function: its pieces copied, its name, block and weight written byte by byte, no call but the two memo lookups and
 * the copies. Any other row goes through {@link writeAnyRow}. The block is never handed on in here: a branch first
 * taken after TurboFan compiled this function (the first full block comes after ~3,000 rows) made it deoptimize and
 * compile a second time.
 */
function writeRows(rows: InspectLayerRows, from: number, to: number, w: RowWriter, out: JsonBytes): number {
  const g = w.glue;
  const { layers, plain } = rows;
  const { opRole: opRoles, middle: middles } = w;
  const fixed = g.fixedBytes + 64 + NUMBER_BYTES;
  const tail = g.textTail[0]!;
  const nullValue = g.nullValue;
  let buf = out.buf;
  let p = out.pos;
  let i = from;
  for (; i < to; i++) {
    const l = layers[i]!;
    const { name, block, weight, moreWeights } = l;
    const quantizable = l.quantizable;
    let opRole: Uint8Array | null | undefined;
    let middle: Uint8Array | null | undefined;
    if (
      !plain ||
      typeof name !== 'string' ||
      typeof weight !== 'string' ||
      !Array.isArray(moreWeights) ||
      moreWeights.length !== 0 ||
      (block !== undefined && block >>> 0 !== block) ||
      typeof quantizable !== 'boolean' ||
      !(opRole = opRoles.get(l.op, l.role)) ||
      !(middle = middles.get(l.parameterCount, l.byteLength, l.dtype, l.shape, quantizable ? 2 : 0))
    ) {
      out.pos = p;
      writeAnyRow(rows, l, i, w, out);
      buf = out.buf;
      p = out.pos;
      continue;
    }
    // Room for the whole row, each string at 6 bytes a UTF-16 unit (`\uXXXX`), so that nothing is handed on mid-row.
    if (p + fixed + 6 * (name.length + weight.length) + opRole.length + middle.length > buf.length) break;
    const open = g.open[i === 0 ? 0 : 1]!;
    buf.set(open, p);
    p += open.length;
    p = asciiString(buf, p, name, out);
    buf.set(opRole, p);
    p += opRole.length;
    if (block === undefined) {
      buf.set(nullValue, p);
      p += 4;
    } else {
      // The digits of JsonBytes.num (jsonOut.ts), written here rather than called: the call cost the rows' writer
      // 13.5 -> 14.5 ms CPU on the bench's 45,000-node ONNX (write12, median of 15-21).
      let digits = 1;
      for (let m = block; m >= 10; m = Math.floor(m / 10)) digits++;
      p += digits;
      let at = p;
      let m = block;
      do {
        const q = Math.floor(m / 10);
        buf[--at] = 48 + m - q * 10;
        m = q;
      } while (m > 0);
    }
    buf.set(middle, p);
    p += middle.length;
    p = asciiString(buf, p, weight, out);
    buf.set(tail, p);
    p += tail.length;
  }
  out.pos = p;
  return i;
}

/**
 * Writes `s` quoted at `p` in `buf` (the block of `out`) and returns the position after it: byte by byte while it is
 * printable ASCII other than `"` and `\\`, else from its start through `out.str` (escapes, UTF-8).
 */
function asciiString(buf: Buffer, p: number, s: string, out: JsonBytes): number {
  const start = p;
  buf[p++] = 34;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x20 || c >= 0x7f || c === 34 || c === 92) {
      out.pos = start;
      out.str(s);
      return out.pos;
    }
    buf[p++] = c;
  }
  buf[p++] = 34;
  return p;
}

/** Row `i` through {@link writeRow}, or when it cannot write it, through `JSON.stringify`. */
function writeAnyRow(rows: InspectLayerRows, l: Layer, i: number, w: RowWriter, out: JsonBytes): void {
  if (writeRow(rows, l, i, w, out)) return;
  const text = JSON.stringify(rows.rows(i, i + 1)[0], null, 2);
  out.text(`${i === 0 ? '' : ',\n'}${w.glue.indent}${text.replace(/\n/g, `\n${w.glue.indent}`)}`);
}

/**
 * The jsonOut.ts `RowsWriter` of `inspect --json`: writes an `InspectLayerRows` (the report's `layers`) nested at
 * `indent` as `JSON.stringify(report, null, 2)` writes that array, terminal-escaped; false for any other rows.
 */
export function writeInspectRows(rows: JsonRows, indent: string, out: JsonBytes): boolean {
  if (!(rows instanceof InspectLayerRows)) return false;
  const n = rows.length;
  if (n === 0) {
    out.ascii('[]');
    return true;
  }
  const w = rowWriter(indent);
  out.ascii('[\n');
  for (let i = 0; i < n; ) {
    const next = writeRows(rows, i, Math.min(n, i + ROWS_PER_CALL), w, out);
    if (next > i) i = next;
    // Row i does not fit in what is left of the block: the block is handed on, or when it is empty (a row larger than
    // a block), the row is written by writeRow, which makes room for it.
    else if (out.pos > 0) out.flush();
    else writeAnyRow(rows, rows.layers[i]!, i++, w, out);
  }
  out.ascii(`\n${indent}]`);
  return true;
}
