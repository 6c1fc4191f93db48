/**
 * `sensitivity`'s output written a layer at a time from a report whose layers are made on request (the runner's
 * `LayerRows`): a 200,000-layer report over 11 formats is 2.2 million layer × format records and 830 MB of JSON, which
 * the command used to hold whole (records, then the text's pieces) before and while printing it.
 *
 * - `--json`: {@link writeSensitivityRows}, a jsonOut.ts `RowsWriter`, writes each record as UTF-8 bytes into the
 *   output's blocks, and drops it. The bytes are those of `JSON.stringify(report, null, 2)` with `escapeTerminal`
 *   applied (test/unit/sensitivityOut.test.ts compares the two).
 * - the table: {@link writeSensitivityTable} makes each row's cells once, keeping them as UTF-8 bytes in blocks
 *   ({@link KeptRows}) while it sizes the columns, then writes the padded lines in blocks: the text `renderTable`
 *   makes, without its cell arrays and its one string of the whole table.
 */
import { formatDb, getNumberFormat, type LayerFormatSensitivity, type LayerSensitivity, type SensitivityLayerRows } from '../core';
import { LayerRows } from '../node/sensitivityRunner';
import { escapeTerminal, truncateMiddle, type CliOutput } from './io';
import type { JsonBytes, JsonRows } from './jsonOut';

/** The longest text of a number (`String(-1.2345678901234567e-300)`). */
const NUMBER_BYTES = 24;

/** Rows written per call of {@link writeRows} (its loop is compiled once, not on the stack of one long call). */
const ROWS_PER_CALL = 256;

/** ASCII text as bytes. */
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

const STATS_KEYS = ['count', 'maxAbs', 'mean', 'std', 'maxOverStd', 'kurtosis', 'beyondFp16', 'zeros', 'nonFinite'] as const;
const SCORE_KEYS = ['staticScore', 'predictedOutputSqnrDb', 'sqnrDb', 'relMse', 'maxAbsError', 'overflowCount'] as const;

/** The fixed pieces of a row nested at a given indentation, each from one value to the next. */
interface Glue {
  /** `{` and the name's key: first row, and rows after another. */
  readonly open: readonly [Uint8Array, Uint8Array];
  readonly role: Uint8Array;
  readonly op: Uint8Array;
  readonly block: Uint8Array;
  readonly parameterCount: Uint8Array;
  readonly dtype: Uint8Array;
  readonly tensorsEmpty: Uint8Array;
  readonly tensorsOpen: Uint8Array;
  /** Between two elements of `tensors` (and two format records). */
  readonly next: Uint8Array;
  readonly tensorsClose: Uint8Array;
  /** Before each statistic: the first after `tensors`. */
  readonly stats: readonly Uint8Array[];
  /** From the statistics' end to the first format's key, or to an empty `formats` and the row's end. */
  readonly formatsOpen: Uint8Array;
  readonly formatsEmpty: Uint8Array;
  /** Before each score field of a format record: the first after its key. */
  readonly scores: readonly Uint8Array[];
  readonly reason: Uint8Array;
  readonly stdErr: Uint8Array;
  readonly recordClose: Uint8Array;
  /** The formats' end and the row's. */
  readonly close: Uint8Array;
  /** The row's own indentation (for a row written by `JSON.stringify`). */
  readonly indent: string;
  /** Bytes of the fixed pieces of a row with no tensor and no format. */
  readonly fixedBytes: number;
  /** Bytes of the fixed pieces of one format record. */
  readonly recordBytes: number;
}

function glue(indent: string): Glue {
  const row = `${indent}  `;
  const m = `${row}  `;
  const e = `${m}  `;
  const f = `${e}  `;
  const texts = {
    open: [`${row}{\n${m}"layer": `, `,\n${row}{\n${m}"layer": `],
    role: `,\n${m}"role": `,
    op: `,\n${m}"op": `,
    block: `,\n${m}"block": `,
    parameterCount: `,\n${m}"parameterCount": `,
    dtype: `,\n${m}"dtype": `,
    tensorsEmpty: `,\n${m}"tensors": []`,
    tensorsOpen: `,\n${m}"tensors": [\n${e}`,
    next: `,\n${e}`,
    tensorsClose: `\n${m}]`,
    stats: STATS_KEYS.map((k, i) => `${i === 0 ? `,\n${m}"stats": {\n` : ',\n'}${e}"${k}": `),
    formatsOpen: `\n${m}},\n${m}"formats": {\n${e}`,
    formatsEmpty: `\n${m}},\n${m}"formats": {}\n${row}}`,
    scores: SCORE_KEYS.map((k, i) => `${i === 0 ? `: {\n` : ',\n'}${f}"${k}": `),
    reason: `,\n${f}"reason": `,
    stdErr: `,\n${f}"relMseStdErr": `,
    recordClose: `\n${e}}`,
    close: `\n${m}}\n${row}}`,
  };
  const bytes = (t: string | readonly string[]): number => (typeof t === 'string' ? t.length : t.reduce((a, s) => a + s.length, 0));
  return {
    open: [ascii(texts.open[0]!), ascii(texts.open[1]!)],
    role: ascii(texts.role),
    op: ascii(texts.op),
    block: ascii(texts.block),
    parameterCount: ascii(texts.parameterCount),
    dtype: ascii(texts.dtype),
    tensorsEmpty: ascii(texts.tensorsEmpty),
    tensorsOpen: ascii(texts.tensorsOpen),
    next: ascii(texts.next),
    tensorsClose: ascii(texts.tensorsClose),
    stats: texts.stats.map(ascii),
    formatsOpen: ascii(texts.formatsOpen),
    formatsEmpty: ascii(texts.formatsEmpty),
    scores: texts.scores.map(ascii),
    reason: ascii(texts.reason),
    stdErr: ascii(texts.stdErr),
    recordClose: ascii(texts.recordClose),
    close: ascii(texts.close),
    indent: row,
    fixedBytes: bytes(texts.open[1]!) + bytes([texts.role, texts.op, texts.block, texts.parameterCount, texts.dtype, texts.tensorsOpen, texts.tensorsClose, texts.formatsEmpty, texts.close]) + bytes(texts.stats) + texts.formatsOpen.length + NUMBER_BYTES * (2 + STATS_KEYS.length),
    recordBytes: texts.next.length + bytes(texts.scores) + texts.reason.length + texts.stdErr.length + texts.recordClose.length + NUMBER_BYTES * (SCORE_KEYS.length + 1),
  };
}

/** A row holds only what {@link writeRow} writes: the fields of a static record, of the types they have. */
function plainRow(l: LayerSensitivity): boolean {
  if (typeof l.layer !== 'string' || typeof l.role !== 'string' || typeof l.op !== 'string' || typeof l.dtype !== 'string' || typeof l.parameterCount !== 'number') return false;
  if (l.block !== null && typeof l.block !== 'number') return false;
  if (!Array.isArray(l.tensors) || l.tensors.some((t) => typeof t !== 'string')) return false;
  for (const k of STATS_KEYS) if (typeof l.stats[k] !== 'number') return false;
  if (Object.keys(l).length !== 9 || Object.keys(l.stats).length !== STATS_KEYS.length) return false;
  return true;
}

/** A format record holds the static fields and at most `relMseStdErr`, in the order a record has them. */
function plainRecord(r: LayerFormatSensitivity): boolean {
  const keys = Object.keys(r);
  if (keys.length !== 7 && !(keys.length === 8 && keys[7] === 'relMseStdErr' && typeof r.relMseStdErr === 'number')) return false;
  for (let i = 0; i < SCORE_KEYS.length; i++) if (keys[i] !== SCORE_KEYS[i] || typeof r[SCORE_KEYS[i]!] !== 'number') return false;
  return keys[6] === 'reason' && typeof r.reason === 'string';
}

/** Writes a string value: room for its longest escaped form first. */
function str(out: JsonBytes, s: string): void {
  out.room(6 * s.length + 2);
  out.str(s);
}

/** Keys of the format records already encoded (`"fp16"`), remembered by key. */
class KeyBytes {
  private keys: string[] = [];
  private bytes: Uint8Array[] = [];

  get(k: string, j: number): Uint8Array {
    if (this.keys[j] === k) return this.bytes[j]!;
    const b = Buffer.from(escapeTerminal(JSON.stringify(k), true), 'utf8');
    this.keys[j] = k;
    this.bytes[j] = b;
    return b;
  }
}

/**
 * Writes record `l` after `first`'s opening piece. A record that is not of the plain static shape (measured fields,
 * unexpected types) is written with `JSON.stringify` at the same indentation instead: the same text.
 */
function writeRow(l: LayerSensitivity, first: boolean, g: Glue, keys: KeyBytes, out: JsonBytes): void {
  const formats = l.formats;
  let plain = plainRow(l);
  let records = 0;
  if (plain) {
    for (const k in formats) {
      if (!Object.prototype.hasOwnProperty.call(formats, k)) continue;
      if (!plainRecord(formats[k]!)) {
        plain = false;
        break;
      }
      records++;
    }
  }
  if (!plain) {
    if (!first) out.ascii(',\n');
    out.text(`${g.indent}${JSON.stringify(l, null, 2).replace(/\n/g, `\n${g.indent}`)}`);
    return;
  }
  // Every number of the row in one JSON.stringify: `String(n)` of a fraction allocates its text in the old generation
  // (V8's number-to-string cache), 13 million numbers at 200,000 layers × 11 formats, ~300 MB of RSS between full
  // collections. The array's text holds each number as JSON writes it, `,`-separated.
  const nums = NUMS;
  nums.length = 0;
  if (l.block !== null) nums.push(l.block);
  nums.push(l.parameterCount);
  const stats = l.stats;
  for (let i = 0; i < STATS_KEYS.length; i++) nums.push(stats[STATS_KEYS[i]!]);
  for (const k in formats) {
    if (!Object.prototype.hasOwnProperty.call(formats, k)) continue;
    const r = formats[k]!;
    nums.push(r.staticScore, r.predictedOutputSqnrDb, r.sqnrDb, r.relMse, r.maxAbsError, r.overflowCount);
    if (r.relMseStdErr !== undefined) nums.push(r.relMseStdErr);
  }
  const t = new NumberText(JSON.stringify(nums));
  out.room(g.fixedBytes + records * g.recordBytes);
  out.bytes(g.open[first ? 0 : 1]);
  str(out, l.layer);
  out.room(g.role.length);
  out.bytes(g.role);
  str(out, l.role);
  out.room(g.op.length);
  out.bytes(g.op);
  str(out, l.op);
  out.room(g.block.length + g.parameterCount.length + 2 * NUMBER_BYTES + g.dtype.length);
  out.bytes(g.block);
  if (l.block === null) out.ascii('null');
  else t.next(out);
  out.bytes(g.parameterCount);
  t.next(out);
  out.bytes(g.dtype);
  str(out, l.dtype);
  const tensors = l.tensors;
  if (tensors.length === 0) {
    out.room(g.tensorsEmpty.length);
    out.bytes(g.tensorsEmpty);
  } else {
    out.room(g.tensorsOpen.length);
    out.bytes(g.tensorsOpen);
    for (let i = 0; i < tensors.length; i++) {
      if (i > 0) {
        out.room(g.next.length);
        out.bytes(g.next);
      }
      str(out, tensors[i]!);
    }
    out.room(g.tensorsClose.length);
    out.bytes(g.tensorsClose);
  }
  out.room(g.fixedBytes + records * g.recordBytes);
  for (let i = 0; i < STATS_KEYS.length; i++) {
    out.bytes(g.stats[i]!);
    t.next(out);
  }
  if (records === 0) {
    out.bytes(g.formatsEmpty);
    return;
  }
  out.bytes(g.formatsOpen);
  let j = 0;
  for (const k in formats) {
    if (!Object.prototype.hasOwnProperty.call(formats, k)) continue;
    const r = formats[k]!;
    const key = keys.get(k, j);
    out.room(key.length + g.recordBytes);
    if (j > 0) out.bytes(g.next);
    out.bytes(key);
    for (let i = 0; i < SCORE_KEYS.length; i++) {
      out.bytes(g.scores[i]!);
      t.next(out);
    }
    out.bytes(g.reason);
    str(out, r.reason);
    out.room(g.stdErr.length + NUMBER_BYTES + g.recordClose.length + g.close.length);
    if (r.relMseStdErr !== undefined) {
      out.bytes(g.stdErr);
      t.next(out);
    }
    out.bytes(g.recordClose);
    j++;
  }
  out.bytes(g.close);
}

/** The numbers of a row, filled again for each row. */
const NUMS: number[] = [];

/** The text of a JSON array of numbers, read one number at a time. */
class NumberText {
  /** Where the next number starts (after `[` or `,`). */
  private at = 1;

  constructor(private readonly text: string) {}

  /** Copies the next number's text (as JSON writes it: `null` when not finite); room made by the caller. */
  next(out: JsonBytes): void {
    const s = this.text;
    const buf = out.buf;
    let p = out.pos;
    let i = this.at;
    for (let c = s.charCodeAt(i); c !== 44 && c !== 93; c = s.charCodeAt(++i)) buf[p++] = c;
    this.at = i + 1;
    out.pos = p;
  }
}

/** Rows [from, to): a loop of a bounded length per call. */
function writeRows(rows: SensitivityLayerRows, from: number, to: number, g: Glue, keys: KeyBytes, out: JsonBytes): void {
  for (let i = from; i < to; i++) writeRow(rows.row(i), i === 0, g, keys, out);
}

/**
 * The jsonOut.ts `RowsWriter` of `sensitivity --json`: writes the runner's `LayerRows` (the report's `layers`) nested at
 * `indent` as `JSON.stringify(report, null, 2)` writes that array, terminal-escaped, one record made at a time; false
 * for any other rows.
 */
export function writeSensitivityRows(rows: JsonRows, indent: string, out: JsonBytes): boolean {
  if (!(rows instanceof LayerRows)) return false;
  const n = rows.length;
  if (n === 0) {
    out.ascii('[]');
    return true;
  }
  const g = glue(indent);
  const keys = new KeyBytes();
  out.ascii('[\n');
  for (let from = 0; from < n; from += ROWS_PER_CALL) writeRows(rows, from, Math.min(n, from + ROWS_PER_CALL), g, keys, out);
  out.ascii(`\n${indent}]`);
  return true;
}

/** Layers read one at a time: an array's, or {@link SensitivityLayerRows}. */
export interface LayerSource {
  readonly length: number;
  row(i: number): LayerSensitivity;
}

/** An array of records as a {@link LayerSource}. */
export const arrayLayers = (layers: readonly LayerSensitivity[]): LayerSource => ({ length: layers.length, row: (i) => layers[i]! });

/** Bytes of a block of {@link KeptRows}. */
const KEPT_BLOCK_BYTES = 1 << 20;

/**
 * The rows of a table between sizing its columns and writing it: each row's cells as one UTF-8 text in blocks of
 * bytes, no string a row (a row of 11 formats holds `∞`, which makes a string of it two bytes a character: ~100 MB of
 * strings at 200,000 rows against ~50 MB of bytes here).
 */
class KeptRows {
  private readonly blocks: Buffer[] = [];
  private block: Buffer = Buffer.allocUnsafe(0);
  private pos = 0;
  /** Row `k`'s block number and its start and end in that block. */
  private readonly blockOf: Int32Array;
  private readonly start: Int32Array;
  private readonly end: Int32Array;

  constructor(rows: number) {
    this.blockOf = new Int32Array(rows);
    this.start = new Int32Array(rows);
    this.end = new Int32Array(rows);
  }

  add(k: number, row: string): void {
    if (this.pos + 3 * row.length > this.block.length) {
      this.block = Buffer.allocUnsafe(Math.max(KEPT_BLOCK_BYTES, 3 * row.length));
      this.blocks.push(this.block);
      this.pos = 0;
    }
    this.blockOf[k] = this.blocks.length - 1;
    this.start[k] = this.pos;
    this.pos += this.block.write(row, this.pos, 'utf8');
    this.end[k] = this.pos;
  }

  get(k: number): string {
    return this.blocks[this.blockOf[k]!]!.toString('utf8', this.start[k]!, this.end[k]!);
  }
}

/** Characters of table text gathered before one `io.out`. */
const TABLE_BLOCK_CHARS = 1 << 20;

/** Separates the cells of a row kept by {@link writeSensitivityTable} (a cell is terminal-escaped: it holds none). */
const CELL_SEP = '\u0000';

/**
 * The table of `sensitivity` (after its heading): the text `io.out(renderTable(header, rows, formatColumns))` writes
 * for the rows the command makes from `layers`, written in blocks of whole lines. `klScale` and `measuredSqnr` as the
 * command computed them.
 */
export function writeSensitivityTable(io: CliOutput, formats: readonly string[], layers: LayerSource, klScale: number | undefined): void {
  const header = ['layer', 'role', 'params', ...formats.map((f) => getNumberFormat(f)?.label.split(' (')[0] ?? f), 'reason (worst format)'];
  const db = (v: number): string => formatDb(v).replace(/ dB$/, '');
  const cell = (s: LayerFormatSensitivity | undefined): string => {
    if (!s) return '-';
    const kl = klScale !== undefined ? ` ${(s.staticScore * klScale).toPrecision(2)} · ${s.klDivergence !== undefined ? s.klDivergence.toPrecision(2) : '-'}` : '';
    return `${db(s.predictedOutputSqnrDb)} [${db(s.sqnrDb)}]${s.measuredOutputSqnrDb !== undefined ? ` ${db(s.measuredOutputSqnrDb)}` : ''}${kl}`;
  };
  // renderTable's cells: strings escaped and shortened, numbers as they print.
  const text = (c: string): string => truncateMiddle(escapeTerminal(c));
  const columns = header.length;
  const widths = header.map((h) => text(h).length);
  // Right-aligned: the format columns, and `params` when a row holds a number there (every row does).
  const right = header.map((_, i) => i >= 3 && i < 3 + formats.length);
  const n = layers.length;
  const kept = new KeptRows(n);
  const cells: string[] = new Array<string>(columns);
  for (let k = 0; k < n; k++) {
    const l = layers.row(k);
    const values = Object.values(l.formats);
    const worst = values.reduce((a, b) => (b.staticScore > a.staticScore ? b : a), values[0]!);
    cells[0] = text(l.layer);
    cells[1] = text(l.role);
    right[2] = true;
    cells[2] = String(l.parameterCount);
    for (let f = 0; f < formats.length; f++) cells[3 + f] = text(cell(l.formats[formats[f]!]));
    cells[columns - 1] = text(worst?.reason ?? '');
    for (let i = 0; i < columns; i++) if (cells[i]!.length > widths[i]!) widths[i] = cells[i]!.length;
    kept.add(k, cells.join(CELL_SEP));
  }
  const line = (r: readonly string[]): string => {
    let t = '';
    for (let i = 0; i < columns; i++) {
      if (i > 0) t += '  ';
      t += right[i] ? r[i]!.padStart(widths[i]!) : r[i]!.padEnd(widths[i]!);
    }
    return t.trimEnd();
  };
  let block = `${line(header.map(text))}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`;
  for (let k = 0; k < n; k++) {
    const r = kept.get(k).split(CELL_SEP);
    if (block.length >= TABLE_BLOCK_CHARS) {
      io.out(block);
      block = line(r);
    } else block += `\n${line(r)}`;
  }
  io.out(block);
}
