/**
 * JSON output in pieces: the same text as `JSON.stringify(value, null, 2)`, written a block of whole lines at a time.
 * One string for a 200,000-layer sensitivity report would pass V8's string limit ("Invalid string length"); here no
 * piece is larger than one element of a long array or one object member below {@link SPLIT_DEPTH}, and blocks are
 * ~1 MiB.
 */
import { escapeTerminalJson, isTerminalControl, type CliOutput } from './io';

/** Containers shallower than this are written member by member; deeper ones with one `JSON.stringify`, except long arrays. */
const SPLIT_DEPTH = 3;
/** Arrays longer than this are written element by element at any depth. */
const SPLIT_ARRAY = 64;
/** Lines are gathered into blocks of about this many characters before they are written. */
const BLOCK_CHARS = 1 << 20;
/**
 * Consecutive small elements of an array are written with one `JSON.stringify` of the run (a 12,500-layer
 * `inspect --json` spent ~120 ms in one call and one indent-replace per member): at most this many values (objects,
 * arrays and primitives, counted through the whole run) go into one run, so a piece stays a few KiB.
 */
const RUN_VALUES = 1024;

/**
 * An array whose elements are made on request (core's `InspectLayerRows`): {@link pieces} writes it a run of elements at
 * a time, so its elements are never all made at once; `JSON.stringify` reads it through its `toJSON`, which must give
 * `rows(0, length)`. Its elements must hold no `toJSON` (inside a run one would be called with another key).
 */
export interface JsonRows {
  readonly length: number;
  /** Elements [from, to). */
  rows(from: number, to: number): readonly unknown[];
  /** How many values (objects, arrays and primitives, itself included) element `i` holds. */
  valuesAt(i: number): number;
  toJSON(): unknown;
}

const isJsonRows = (v: unknown): v is JsonRows =>
  v !== null && typeof v === 'object' && typeof (v as Partial<JsonRows>).rows === 'function' && typeof (v as Partial<JsonRows>).valuesAt === 'function';

const skipped = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

function toJsonValue(v: unknown, key: string): unknown {
  if (isJsonRows(v)) return v;
  return v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(k: string): unknown }).toJSON(key) : v;
}

const hasToJson = (v: unknown): boolean => v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function';

/**
 * How many values `v` holds (itself included) when it is small enough to be written inside a run: no array longer
 * than {@link SPLIT_ARRAY}, no `toJSON` below it (its key would differ inside a run), at most `budget` values;
 * otherwise -1. A `toJSON` on `v` itself is applied by the caller before.
 */
function smallValues(v: unknown, budget: number): number {
  if (isJsonRows(v)) return -1;
  if (v === null || typeof v !== 'object') return budget >= 1 ? 1 : -1;
  let count = 1;
  // A primitive member counts 1 here, without a call (`inspect` runs without TurboFan's inlining, so a call per
  // member of 12,500 layers stayed a call): the same count as smallValues(el, budget - count) gives it.
  if (Array.isArray(v)) {
    if (v.length > SPLIT_ARRAY) return -1;
    for (let i = 0; i < v.length; i++) {
      const el = v[i] as unknown;
      if (el === null || typeof el !== 'object') {
        if (budget - count < 1) return -1;
        count++;
        continue;
      }
      const n = hasToJson(el) ? -1 : smallValues(el, budget - count);
      if (n < 0) return -1;
      count += n;
    }
  } else {
    for (const k in v) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      const el = (v as Record<string, unknown>)[k];
      if (el === null || typeof el !== 'object') {
        if (budget - count < 1) return -1;
        count++;
        continue;
      }
      const n = hasToJson(el) ? -1 : smallValues(el, budget - count);
      if (n < 0) return -1;
      count += n;
    }
  }
  return count <= budget ? count : -1;
}

/**
 * The elements of `run` as they appear inside an array whose elements are indented by `inner` (2 spaces a level):
 * `inner` + element, joined by `,\n` + `inner`, each element's own lines indented below it, as `JSON.stringify`
 * writes them when the run sits `inner.length / 2` levels deep.
 */
function runText(run: readonly unknown[], inner: string): string {
  const levels = inner.length / 2;
  let wrapped: unknown = run;
  for (let l = 1; l < levels; l++) wrapped = [wrapped];
  const text = JSON.stringify(wrapped, null, 2);
  // Level j opens with `  `×j + `[\n` and closes with `\n` + `  `×j + `]`: 2j + 2 characters each side.
  const edge = levels * (levels + 1);
  return text.slice(edge, text.length - edge);
}

/**
 * Writes a {@link JsonRows} array nested at `indent` (its elements at `indent` + 4 spaces) as bytes, straight into the
 * output: false when it does not know these rows (they are then written as text).
 */
export type RowsWriter = (rows: JsonRows, indent: string, out: JsonBytes) => boolean;

/** Where {@link pieces} hands a {@link JsonRows} first: true when the rows were written there. */
type RowsHook = (rows: JsonRows, indent: string) => boolean;

function* pieces(value: unknown, indent: string, depth: number, hook?: RowsHook): Generator<string> {
  if (isJsonRows(value)) {
    if (hook?.(value, indent)) return;
    return yield* rowPieces(value, indent, depth);
  }
  // Arrays are split at any depth (a per-layer list can sit deep in a report); objects down to SPLIT_DEPTH.
  if (value === null || typeof value !== 'object' || (depth >= SPLIT_DEPTH && !(Array.isArray(value) && value.length > SPLIT_ARRAY))) {
    const text = JSON.stringify(value, null, 2);
    yield indent === '' ? text : text.replace(/\n/g, `\n${indent}`);
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return void (yield '[]');
    yield '[\n';
    for (let i = 0; i < value.length; ) {
      const el = toJsonValue(value[i], String(i));
      // -1 (not small) must not become a budget: the whole element (a report with a 10^6-entry list) would then be one
      // stringify, 180 MB of text and ~800 MB more peak RSS on `estimate --json` of 10^6 tensors.
      const first = smallValues(el, RUN_VALUES);
      if (first >= 0) {
        let budget = RUN_VALUES - first;
        // A run of small elements: one stringify, indented by nesting it as deep as `inner` (no re-indenting).
        const run = [el];
        for (i++; i < value.length; i++) {
          const next = value[i];
          const n = smallValues(next, budget);
          if (n < 0 || hasToJson(next)) break;
          run.push(next);
          budget -= n;
        }
        yield runText(run, inner);
      } else {
        yield inner;
        if (skipped(el)) yield 'null';
        else yield* pieces(el, inner, depth + 1, hook);
        i++;
      }
      yield i < value.length ? ',\n' : '\n';
    }
    yield `${indent}]`;
    return;
  }
  const members: [string, unknown][] = [];
  for (const k of Object.keys(value)) {
    const v = toJsonValue((value as Record<string, unknown>)[k], k);
    if (!skipped(v)) members.push([k, v]);
  }
  if (members.length === 0) return void (yield '{}');
  yield '{\n';
  for (let i = 0; i < members.length; i++) {
    const [k, v] = members[i]!;
    yield `${inner}${JSON.stringify(k)}: `;
    yield* pieces(v, inner, depth + 1, hook);
    yield i < members.length - 1 ? ',\n' : '\n';
  }
  yield `${indent}}`;
}

/**
 * The pieces of a {@link JsonRows} array: runs of elements holding at most {@link RUN_VALUES} values together, each run
 * made, written with one `JSON.stringify` and dropped; an element holding more is written alone through {@link pieces}.
 */
function* rowPieces(value: JsonRows, indent: string, depth: number): Generator<string> {
  const n = value.length;
  if (n === 0) return void (yield '[]');
  const inner = `${indent}  `;
  yield '[\n';
  for (let from = 0; from < n; ) {
    let to = from;
    for (let budget = RUN_VALUES; to < n; to++) {
      const v = value.valuesAt(to);
      if (v > budget) break;
      budget -= v;
    }
    if (to === from) {
      const el = value.rows(from, ++to)[0];
      yield inner;
      if (skipped(el)) yield 'null';
      else yield* pieces(el, inner, depth + 1);
    } else {
      yield runText(value.rows(from, to), inner);
    }
    from = to;
    yield from < n ? ',\n' : '\n';
  }
  yield `${indent}]`;
}

/** `JSON.stringify(value, null, 2)` as a sequence of strings whose concatenation is that text. */
export function jsonPieces(value: unknown): Generator<string> {
  return pieces(toJsonValue(value, ''), '', 0);
}

/** Bytes of a block of {@link JsonBytes}. */
const BLOCK_BYTES = 1 << 20;

const HEX = '0123456789abcdef';

/**
 * JSON text written as UTF-8 bytes into blocks of {@link BLOCK_BYTES} (a block holding one long value is larger), each
 * handed to `write` when full, for {@link CliOutput.outBytes}. What it writes is the text `JSON.stringify` writes with
 * {@link escapeTerminal} applied: every string's terminal control characters (io.ts) escaped as `\uXXXX` too.
 */
export class JsonBytes {
  /** The block being filled (filled again once `write` has taken its bytes). */
  buf: Buffer = Buffer.allocUnsafe(BLOCK_BYTES);
  /** Bytes of {@link buf} filled. */
  pos = 0;

  constructor(private readonly write: (bytes: Uint8Array) => void) {}

  /** Makes room for `n` more bytes in {@link buf}: hands the filled bytes on first when they do not fit. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /**
   * Hands the filled bytes to `write` and starts the block again: `write` has taken them when it returns
   * ({@link CliOutput.outBytes}), so the one block is filled again. A new block per write left each to the garbage
   * collector: filled while a few MB of rows were made, a block outlived two young collections, and 830 MB of
   * `sensitivity --json` left ~500 MB of written blocks waiting for a full collection.
   */
  flush(): void {
    if (this.pos === 0) return;
    this.write(this.buf.subarray(0, this.pos));
    if (this.buf.length > BLOCK_BYTES) this.buf = Buffer.allocUnsafe(BLOCK_BYTES);
    this.pos = 0;
  }

  /** JSON text as `JSON.stringify` writes it (nothing raw but line ends), terminal-escaped here. */
  text(t: string): void {
    const s = escapeTerminalJson(t);
    this.room(3 * s.length);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** ASCII text that needs no escaping (keys, indentation, numbers). */
  ascii(t: string): void {
    this.room(t.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < t.length; i++) buf[p++] = t.charCodeAt(i);
    this.pos = p;
  }

  /** Bytes, as they are (room made by the caller). */
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A number as `JSON.stringify` writes it (room for 24 bytes made by the caller). */
  num(n: number): void {
    if (n >>> 0 !== n) return this.ascii(Number.isFinite(n) ? String(n) : 'null');
    const buf = this.buf;
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    let m = n;
    do {
      const q = Math.floor(m / 10);
      buf[--p] = 48 + m - q * 10;
      m = q;
    } while (m > 0);
  }

  /** A string, quoted, as `JSON.stringify` writes it and then terminal-escaped (room for 6 bytes a UTF-16 unit + 2 made by the caller). */
  str(s: string): void {
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 34;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x7f && c !== 34 && c !== 92) buf[p++] = c;
      else {
        this.pos = p;
        return this.strFrom(s, i);
      }
    }
    buf[p++] = 34;
    this.pos = p;
  }

  /** The rest of {@link str} from `s[from]` on: escapes, UTF-8 and surrogates. */
  private strFrom(s: string, from: number): void {
    const buf = this.buf;
    let p = this.pos;
    const escape = (c: number): void => {
      buf[p++] = 92;
      buf[p++] = 117;
      buf[p++] = HEX.charCodeAt(c >> 12);
      buf[p++] = HEX.charCodeAt((c >> 8) & 15);
      buf[p++] = HEX.charCodeAt((c >> 4) & 15);
      buf[p++] = HEX.charCodeAt(c & 15);
    };
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 34 || c === 92) {
        buf[p++] = 92;
        buf[p++] = c;
      } else if (c < 0x20) {
        const short = c === 8 ? 98 : c === 9 ? 116 : c === 10 ? 110 : c === 12 ? 102 : c === 13 ? 114 : 0;
        if (short !== 0) {
          buf[p++] = 92;
          buf[p++] = short;
        } else escape(c);
      } else if (c < 0x7f) buf[p++] = c;
      else if (isTerminalControl(c)) escape(c);
      else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (cp >> 18);
          buf[p++] = 0x80 | ((cp >> 12) & 63);
          buf[p++] = 0x80 | ((cp >> 6) & 63);
          buf[p++] = 0x80 | (cp & 63);
          i++;
        } else escape(c); // a lone surrogate: JSON.stringify writes \udXXX
      } else {
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 63);
        buf[p++] = 0x80 | (c & 63);
      }
    }
    buf[p++] = 34;
    this.pos = p;
  }
}

/**
 * Documents whose text is estimated at no more than this many characters ({@link estimatedChars}) are written from one
 * native `JSON.stringify(value, null, 2)`, cut into blocks of whole lines: the 12,500-layer `inspect --json` (4.2 M
 * characters, estimated 5.6 M) took ~3 ms that way against ~19 ms through {@link jsonPieces} (its per-member walk and
 * the stringify per run). Larger ones (a 10^6-tensor report is ~180 MB) go through the pieces, so the peak memory stays
 * bounded: the estimate counts strings unescaped, so even strings made of control characters (6 characters each when
 * escaped) keep one text under ~50 M characters.
 */
const NATIVE_MAX_CHARS = 8 * 1024 * 1024;

/**
 * About how many characters `JSON.stringify(v, null, 2)` writes for `v` nested `depth` levels deep (strings counted
 * unescaped), or -1 once that passes `budget` or when a `toJSON` is met (its value is not walked here).
 */
function estimatedChars(v: unknown, depth: number, budget: number): number {
  if (typeof v === 'string') return v.length + 2;
  if (v === null || typeof v !== 'object') return 24;
  if (hasToJson(v)) return -1;
  // Per member: a line's indentation, separators, and for objects the quoted key.
  const line = 2 * depth + 6;
  let total = 2 * depth + 4;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const el = v[i] as unknown;
      const n = typeof el === 'string' ? el.length + 2 : el === null || typeof el !== 'object' ? 24 : estimatedChars(el, depth + 1, budget - total);
      if (n < 0) return -1;
      total += line + n;
      if (total > budget) return -1;
    }
    return total;
  }
  // Object.keys: the own enumerable keys JSON.stringify writes, without a hasOwnProperty call per key.
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const el = (v as Record<string, unknown>)[k];
    const n = typeof el === 'string' ? el.length + 2 : el === null || typeof el !== 'object' ? 24 : estimatedChars(el, depth + 1, budget - total);
    if (n < 0) return -1;
    total += line + k.length + n;
    if (total > budget) return -1;
  }
  return total;
}

/**
 * Writes `value` as indented JSON through `io.outJson` (or `io.out`) in blocks of whole lines (the output equals one
 * `io.out` of the text).
 */
export function writeJson(io: CliOutput, value: unknown, rowsWriter?: RowsWriter): void {
  if (rowsWriter !== undefined && io.outBytes !== undefined) return writeJsonBytes(io.outBytes.bind(io), value, rowsWriter);
  const out = io.outJson ? (t: string): void => io.outJson!(t) : (t: string): void => io.out(t);
  if (estimatedChars(value, 0, NATIVE_MAX_CHARS) >= 0) {
    const text = JSON.stringify(value, null, 2) ?? 'undefined';
    // Blocks of whole lines: each ends at the first line end at or after BLOCK_CHARS (that newline is io.out's).
    let from = 0;
    while (text.length - from > BLOCK_CHARS) {
      const nl = text.indexOf('\n', from + BLOCK_CHARS - 1);
      if (nl < 0) break;
      out(text.slice(from, nl));
      from = nl + 1;
    }
    out(from === 0 ? text : text.slice(from));
    return;
  }
  let block = '';
  for (const p of jsonPieces(value)) {
    block += p;
    // The piece, not the block, is tested: endsWith on the growing block flattened it each time (6 MB of garbage on a 4 MB document).
    if (block.length >= BLOCK_CHARS && p.endsWith('\n')) {
      out(block.slice(0, -1));
      block = '';
    }
  }
  out(block);
}

/**
 * {@link writeJson} as bytes: the pieces of `value` and, through `rowsWriter`, the rows it knows, into blocks of
 * {@link JsonBytes}, then the line end.
 */
function writeJsonBytes(write: (bytes: Uint8Array) => void, value: unknown, rowsWriter: RowsWriter): void {
  const out = new JsonBytes(write);
  for (const p of pieces(toJsonValue(value, ''), '', 0, (rows, indent) => rowsWriter(rows, indent, out))) out.text(p);
  out.ascii('\n');
  out.flush();
}
