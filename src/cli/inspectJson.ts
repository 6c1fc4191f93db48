/**
 * `inspect --json`'s layer rows written as bytes straight from the model's layers (a jsonOut.ts `RowsWriter`): no
 * object and no string per row. The bytes are those of `JSON.stringify(inspectReport(model), null, 2)` with
 * `escapeTerminal` applied (io.ts): test/unit/inspectJson.test.ts compares the two over names of every escaping class.
 */
import { InspectLayerRows } from '../core';
import type { JsonBytes, JsonRows } from './jsonOut';

/** Rows written per call of {@link writeRows} (its loop is compiled once, not on the stack of one long call). */
const ROWS_PER_CALL = 512;

/** The fixed text of a row nested at a given indentation: each member's separator, indentation and key. */
interface RowText {
  readonly name: Uint8Array;
  readonly op: Uint8Array;
  readonly role: Uint8Array;
  readonly block: Uint8Array;
  readonly parameterCount: Uint8Array;
  readonly bytes: Uint8Array;
  readonly dtype: Uint8Array;
  readonly shape: Uint8Array;
  readonly quantizable: Uint8Array;
  readonly weights: Uint8Array;
  readonly cache: Uint8Array;
  readonly part: Uint8Array;
  /** The row's closing line. */
  readonly close: Uint8Array;
  /** An array element's line start, and an array's closing line. */
  readonly element: Uint8Array;
  readonly nextElement: Uint8Array;
  readonly arrayClose: Uint8Array;
  /** The row's own indentation (for a row written by `JSON.stringify`). */
  readonly indent: string;
  /** Bytes of all of the above a row writes once. */
  readonly fixedBytes: number;
}

function rowText(indent: string): RowText {
  const row = `${indent}  `;
  const member = `${row}  `;
  const key = (k: string): string => `,\n${member}"${k}": `;
  const t = {
    name: `${row}{\n${member}"name": `,
    op: key('op'),
    role: key('role'),
    block: key('block'),
    parameterCount: key('parameterCount'),
    bytes: key('bytes'),
    dtype: key('dtype'),
    shape: key('shape'),
    quantizable: key('quantizable'),
    weights: key('weights'),
    cache: key('cache'),
    part: key('part'),
    close: `\n${row}}`,
    element: `[\n${member}  `,
    nextElement: `,\n${member}  `,
    arrayClose: `\n${member}]`,
    indent: row,
  };
  const fixedBytes = Object.values(t).reduce((n, s) => n + s.length, 0);
  const b = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
  return {
    name: b(t.name), op: b(t.op), role: b(t.role), block: b(t.block), parameterCount: b(t.parameterCount), bytes: b(t.bytes), dtype: b(t.dtype), shape: b(t.shape),
    quantizable: b(t.quantizable), weights: b(t.weights), cache: b(t.cache), part: b(t.part), close: b(t.close), element: b(t.element), nextElement: b(t.nextElement),
    arrayClose: b(t.arrayClose), indent: row, fixedBytes,
  };
}

/** The longest text of a number (`String(-1.2345678901234567e-300)`), and of `true`/`false`/`null`. */
const NUMBER_BYTES = 24;

/**
 * Writes row `i` of `rows` (fields as `InspectLayerRows.rows` makes them); false, with nothing written, when a field is
 * not of the type the row's fast path writes (then the row is written by `JSON.stringify`).
 */
function writeRow(rows: InspectLayerRows, i: number, t: RowText, out: JsonBytes): boolean {
  const l = rows.layer(i);
  const { name, op, role, block, parameterCount, byteLength, dtype, shape, quantizable, weight, moreWeights } = l;
  const part = rows.part(i);
  const cache = rows.cache(i, part);
  if (typeof name !== 'string' || typeof op !== 'string' || typeof role !== 'string' || typeof dtype !== 'string' || typeof part !== 'string') return false;
  if ((block !== undefined && block !== null && typeof block !== 'number') || typeof parameterCount !== 'number' || typeof byteLength !== 'number') return false;
  if (typeof quantizable !== 'boolean' || !Array.isArray(shape) || (cache !== null && typeof cache !== 'string')) return false;
  // Room for the whole row, each string at 6 bytes a UTF-16 unit (`\uXXXX`), so that nothing is handed on mid-row.
  let size = t.fixedBytes + 6 * (name.length + op.length + role.length + dtype.length + part.length + (cache === null ? 0 : cache.length)) + 3 * NUMBER_BYTES + 64;
  size += shape.length * (t.nextElement.length + NUMBER_BYTES);
  if (weight !== undefined) {
    if (typeof weight !== 'string' || !Array.isArray(moreWeights)) return false;
    size += t.nextElement.length + 6 * weight.length + 2;
    for (let k = 0; k < moreWeights.length; k++) {
      const w = moreWeights[k] as unknown;
      if (typeof w !== 'string') return false;
      size += t.nextElement.length + 6 * w.length + 2;
    }
  }
  out.room(size);
  const start = out.pos;
  out.bytes(t.name);
  out.str(name);
  out.bytes(t.op);
  out.str(op);
  out.bytes(t.role);
  out.str(role);
  out.bytes(t.block);
  if (block === undefined || block === null) out.ascii('null');
  else out.num(block);
  out.bytes(t.parameterCount);
  out.num(parameterCount);
  out.bytes(t.bytes);
  out.num(byteLength);
  out.bytes(t.dtype);
  out.str(dtype);
  out.bytes(t.shape);
  if (shape.length === 0) out.ascii('[]');
  else {
    for (let k = 0; k < shape.length; k++) {
      const d = shape[k] as unknown;
      if (typeof d !== 'number') {
        out.pos = start;
        return false;
      }
      out.bytes(k === 0 ? t.element : t.nextElement);
      out.num(d);
    }
    out.bytes(t.arrayClose);
  }
  out.bytes(t.quantizable);
  out.ascii(quantizable ? 'true' : 'false');
  out.bytes(t.weights);
  if (weight === undefined) out.ascii('[]');
  else {
    out.bytes(t.element);
    out.str(weight);
    for (let k = 0; k < moreWeights.length; k++) {
      out.bytes(t.nextElement);
      out.str(moreWeights[k]!);
    }
    out.bytes(t.arrayClose);
  }
  out.bytes(t.cache);
  if (cache === null) out.ascii('null');
  else out.str(cache);
  out.bytes(t.part);
  out.str(part);
  out.bytes(t.close);
  return true;
}

/** Rows [from, to), each followed by its separator (`,` and a line end, or the last row's line end). */
function writeRows(rows: InspectLayerRows, from: number, to: number, t: RowText, out: JsonBytes): void {
  const last = rows.length - 1;
  for (let i = from; i < to; i++) {
    if (!writeRow(rows, i, t, out)) {
      const text = JSON.stringify(rows.rows(i, i + 1)[0], null, 2);
      out.text(`${t.indent}${text.replace(/\n/g, `\n${t.indent}`)}`);
    }
    out.ascii(i < last ? ',\n' : '\n');
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
  const t = rowText(indent);
  out.ascii('[\n');
  for (let from = 0; from < n; from += ROWS_PER_CALL) writeRows(rows, from, Math.min(n, from + ROWS_PER_CALL), t, out);
  out.ascii(`${indent}]`);
  return true;
}
