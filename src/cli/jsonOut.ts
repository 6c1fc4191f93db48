/**
 * JSON output in pieces: the same text as `JSON.stringify(value, null, 2)`, written a block of whole lines at a time.
 * One string for a 200,000-layer sensitivity report would pass V8's string limit ("Invalid string length"); here no
 * piece is larger than one element of a long array or one object member below {@link SPLIT_DEPTH}, and blocks are
 * ~1 MiB.
 */
import type { CliOutput } from './io';

/** Containers shallower than this are written member by member; deeper ones with one `JSON.stringify`, except long arrays. */
const SPLIT_DEPTH = 3;
/** Arrays longer than this are written element by element at any depth. */
const SPLIT_ARRAY = 64;
/** Lines are gathered into blocks of about this many characters before they are written. */
const BLOCK_CHARS = 1 << 20;

const skipped = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

function toJsonValue(v: unknown, key: string): unknown {
  return v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(k: string): unknown }).toJSON(key) : v;
}

function* pieces(value: unknown, indent: string, depth: number): Generator<string> {
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
    for (let i = 0; i < value.length; i++) {
      const el = toJsonValue(value[i], String(i));
      yield inner;
      if (skipped(el)) yield 'null';
      else yield* pieces(el, inner, depth + 1);
      yield i < value.length - 1 ? ',\n' : '\n';
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
    yield* pieces(v, inner, depth + 1);
    yield i < members.length - 1 ? ',\n' : '\n';
  }
  yield `${indent}}`;
}

/** `JSON.stringify(value, null, 2)` as a sequence of strings whose concatenation is that text. */
export function jsonPieces(value: unknown): Generator<string> {
  return pieces(toJsonValue(value, ''), '', 0);
}

/** Writes `value` as indented JSON through `io.out` in blocks of whole lines (the output equals one `io.out` of the text). */
export function writeJson(io: CliOutput, value: unknown): void {
  let block = '';
  for (const p of jsonPieces(value)) {
    block += p;
    if (block.length >= BLOCK_CHARS && block.endsWith('\n')) {
      io.out(block.slice(0, -1));
      block = '';
    }
  }
  io.out(block);
}
