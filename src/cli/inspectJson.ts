/**
 * `inspect --json`'s layer rows written as bytes straight from the model's layers (a jsonOut.ts `RowsWriter`): no
 * object and no string per row. The bytes are those of `JSON.stringify(inspectReport(model), null, 2)` with
 * `escapeTerminal` applied (io.ts): test/unit/inspectJson.test.ts compares the two over names of every escaping class.
 *
 * Most of a row's bytes are fixed (indentation, keys, separators): they are copied as a few pre-encoded pieces, each
 * running from one value to the next (`",\n      "op": "`), and the pieces that hold values repeated from row to row
 * (op and role, dtype) are remembered with them. A copy is a call, and calls dominate a cold run: 16 separate fixed
 * pieces a row cost ~10 ms of CPU on 12,500 rows.
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
import { InspectLayerRows } from '../core';
import type { JsonBytes, JsonRows } from './jsonOut';

/** Rows written per call of {@link writeRows} (its loop is compiled once, not on the stack of one long call). */
const ROWS_PER_CALL = 512;

/** Pieces remembered per kind ({@link Memo}); values past these are written piece by piece. */
const MEMO_ENTRIES = 16;

/** The longest text of a number (`String(-1.2345678901234567e-300)`). */
const NUMBER_BYTES = 24;

/** ASCII text as bytes. */
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

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
    indent: row,
    member: m,
    fixedBytes,
  };
}

/**
 * The pieces of up to {@link MEMO_ENTRIES} pairs of values with their fixed text, made on first use: a hit is one copy
 * instead of several pieces and a walk over each value. Keys are compared with `same` (`===` by default).
 */
class Memo<A, B> {
  private readonly a: A[] = [];
  private readonly b: B[] = [];
  private readonly pieces: Uint8Array[] = [];
  private last = 0;

  constructor(
    private readonly make: (a: A, b: B) => Uint8Array,
    private readonly same: (x: B, y: B) => boolean = (x, y) => x === y,
  ) {}

  /** The piece of (a, b), or undefined once the memo is full and (a, b) is not in it. */
  get(a: A, b: B): Uint8Array | undefined {
    const n = this.pieces.length;
    const last = this.last;
    if (last < n && this.a[last] === a && this.same(this.b[last]!, b)) return this.pieces[last];
    for (let k = 0; k < n; k++) {
      if (this.a[k] === a && this.same(this.b[k]!, b)) {
        this.last = k;
        return this.pieces[k];
      }
    }
    if (n >= MEMO_ENTRIES) return undefined;
    const piece = this.make(a, b);
    this.a.push(a);
    this.b.push(b);
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
  /** `, "op": OP, "role": ROLE, "block": ` (up to the block's value). */
  readonly opRole: Memo<string, string>;
  /** `, "parameterCount": N, "bytes": N`. */
  readonly counts: Memo<number, number>;
  /** `, "dtype": DTYPE, "shape": [` and the dimensions (up to the shape's closing line, or through `[]`). */
  readonly dtypeShape: Memo<string, readonly number[]>;
}

function rowWriter(indent: string): RowWriter {
  const g = glue(indent);
  const m = g.member;
  const e = `${m}  `;
  return {
    glue: g,
    opRole: new Memo((op, role) => Buffer.concat([ascii(`,\n${m}"op": `), jsonBytes(op), ascii(`,\n${m}"role": `), jsonBytes(role), ascii(`,\n${m}"block": `)])),
    counts: new Memo((count, bytes) => ascii(`,\n${m}"parameterCount": ${JSON.stringify(count)},\n${m}"bytes": ${JSON.stringify(bytes)}`)),
    dtypeShape: new Memo(
      (dtype, shape) => Buffer.concat([ascii(`,\n${m}"dtype": `), jsonBytes(dtype), ascii(shape.length === 0 ? `,\n${m}"shape": []` : `,\n${m}"shape": [\n${e}${shape.map((d) => JSON.stringify(d)).join(`,\n${e}`)}`)]),
      sameDims,
    ),
  };
}

/**
 * Writes row `i` of `rows` (fields as `InspectLayerRows.rows` makes them), after a `,` and a line end unless it is the
 * first; false, with nothing written, when a field is not of the type the fast path writes (then the row is written by
 * `JSON.stringify`).
 */
function writeRow(rows: InspectLayerRows, i: number, w: RowWriter, out: JsonBytes): boolean {
  const g = w.glue;
  const l = rows.layer(i);
  const { name, op, role, block, parameterCount, byteLength, dtype, shape, quantizable, weight, moreWeights } = l;
  const part = rows.part(i);
  const cache = rows.cache(i, part);
  if (typeof name !== 'string' || typeof op !== 'string' || typeof role !== 'string' || typeof dtype !== 'string' || typeof part !== 'string') return false;
  if ((block !== undefined && block !== null && typeof block !== 'number') || typeof parameterCount !== 'number' || typeof byteLength !== 'number') return false;
  if (typeof quantizable !== 'boolean' || !Array.isArray(shape) || (cache !== null && typeof cache !== 'string')) return false;
  // Room for the whole row, each string at 6 bytes a UTF-16 unit (`\uXXXX`), so that nothing is handed on mid-row.
  let size = g.fixedBytes + 6 * (name.length + op.length + role.length + dtype.length + part.length + (cache === null ? 0 : cache.length)) + 64 + 3 * NUMBER_BYTES;
  size += shape.length * (g.next.length + NUMBER_BYTES);
  for (let k = 0; k < shape.length; k++) if (typeof shape[k] !== 'number') return false;
  if (weight !== undefined) {
    if (typeof weight !== 'string' || !Array.isArray(moreWeights)) return false;
    size += g.next.length + 6 * weight.length + 2;
    for (let k = 0; k < moreWeights.length; k++) {
      const mw = moreWeights[k] as unknown;
      if (typeof mw !== 'string') return false;
      size += g.next.length + 6 * mw.length + 2;
    }
  }
  out.room(size);
  out.bytes(g.open[i === 0 ? 0 : 1]!);
  out.str(name);
  const opRole = w.opRole.get(op, role);
  if (opRole !== undefined) out.bytes(opRole);
  else {
    out.ascii(`,\n${g.member}"op": `);
    out.str(op);
    out.ascii(`,\n${g.member}"role": `);
    out.str(role);
    out.ascii(`,\n${g.member}"block": `);
  }
  if (block === undefined || block === null) out.ascii('null');
  else out.num(block);
  const counts = w.counts.get(parameterCount, byteLength);
  if (counts !== undefined) out.bytes(counts);
  else {
    out.bytes(g.parameterCount);
    out.num(parameterCount);
    out.bytes(g.bytes);
    out.num(byteLength);
  }
  const dtypeShape = w.dtypeShape.get(dtype, shape);
  if (dtypeShape !== undefined) out.bytes(dtypeShape);
  else {
    out.ascii(`,\n${g.member}"dtype": `);
    out.str(dtype);
    if (shape.length === 0) out.bytes(g.shapeEmpty);
    else {
      for (let k = 0; k < shape.length; k++) {
        out.bytes(k === 0 ? g.shapeOpen : g.next);
        out.num(shape[k]!);
      }
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
  if (cache === null && part === 'text') out.bytes(g.textTail[wEmpty]!);
  else {
    out.bytes(g.cache[wEmpty]!);
    if (cache === null) out.ascii('null');
    else out.str(cache);
    out.bytes(g.part);
    out.str(part);
    out.bytes(g.close);
  }
  return true;
}

/** Rows [from, to), each after a `,` and a line end unless it is the first. */
function writeRows(rows: InspectLayerRows, from: number, to: number, w: RowWriter, out: JsonBytes): void {
  for (let i = from; i < to; i++) {
    if (writeRow(rows, i, w, out)) continue;
    const text = JSON.stringify(rows.rows(i, i + 1)[0], null, 2);
    out.text(`${i === 0 ? '' : ',\n'}${w.glue.indent}${text.replace(/\n/g, `\n${w.glue.indent}`)}`);
  }
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
  for (let from = 0; from < n; from += ROWS_PER_CALL) writeRows(rows, from, Math.min(n, from + ROWS_PER_CALL), w, out);
  out.ascii(`\n${indent}]`);
  return true;
}
