/**
 * Bounded JSON for untrusted headers (safetensors header, `*.safetensors.index.json`, `config.json`).
 * `JSON.parse` is fast but trusts its input: a pre-scan over the bytes bounds the nesting depth (threat: nesting
 * bombs like `[[[[…` exhausting the stack) and counts the top-level keys, which exposes duplicate keys that
 * `JSON.parse` would silently collapse (the safetensors spec disallows them; a duplicate can alias two tensors).
 */
import { ModelFormatError, formatError } from '../../errors';
import { isJsonObject } from '../../model/dict';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `bytes` as text when they are valid UTF-8 (a leading BOM dropped, as {@link parseJsonObject} decodes), else undefined. */
export function decodeStrictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Result of {@link scanJson}. */
export interface JsonScan {
  /** Key/value pairs directly inside the top-level object (0 when the top level is not an object). */
  readonly topLevelKeyCount: number;
  /** Deepest nesting seen. */
  readonly maxDepth: number;
  /** First non-whitespace byte (0x7b for '{'), or -1 for blank input. */
  readonly firstByte: number;
  /** String *values* (never keys) longer than the `cutValuesOver` bytes asked for: [content start, cut, closing quote]. */
  readonly longValues: readonly (readonly [number, number, number])[];
}

/** Where to cut a string's content starting at `from` after about `max` bytes, never inside an escape or a UTF-8 sequence. */
function cutPoint(bytes: Uint8Array, from: number, end: number, max: number): number {
  let i = from;
  while (i < end && i - from < max) {
    const c = bytes[i]!;
    const step = c === 0x5c ? (bytes[i + 1] === 0x75 ? 6 : 2) : c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (i + step > end || i + step - from > max) break;
    i += step;
  }
  return i;
}

/**
 * One pass over JSON bytes outside of strings: tracks depth (throwing past `maxDepth`) and counts `:` at depth 1.
 * Does not validate the JSON; `JSON.parse` does that afterwards.
 */
export function scanJson(fileName: string, bytes: Uint8Array, maxDepth: number, what: string, cutValuesOver = Infinity): JsonScan {
  const longValues: [number, number, number][] = [];
  let depth = 0;
  let deepest = 0;
  let keys = 0;
  let firstByte = -1;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === 0x22) {
      // Skip a string: backslash escapes the next byte, so `\"` does not end it.
      const start = ++i;
      while (i < n) {
        const s = bytes[i]!;
        if (s === 0x5c) i += 2;
        else if (s === 0x22) break;
        else i++;
      }
      if (i - start > cutValuesOver && i < n) {
        let j = i + 1;
        while (j < n && (bytes[j] === 0x20 || bytes[j] === 0x0a || bytes[j] === 0x0d || bytes[j] === 0x09)) j++;
        if (bytes[j] !== 0x3a) longValues.push([start, cutPoint(bytes, start, i, cutValuesOver), i]);
      }
      if (firstByte < 0) firstByte = 0x22;
      continue;
    }
    if (firstByte < 0 && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) firstByte = c;
    if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (depth > maxDepth) {
          throw new ModelFormatError('limit-exceeded', formatError(fileName, `${what} nests deeper than the limit of ${maxDepth} levels`), i);
        }
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x3a && depth === 1) {
      keys++;
    }
  }
  return { topLevelKeyCount: firstByte === 0x7b ? keys : 0, maxDepth: deepest, firstByte, longValues };
}

/**
 * Decodes strict UTF-8 and parses a JSON object after {@link scanJson}. Throws a one-sentence
 * {@link ModelFormatError} for invalid UTF-8, invalid JSON, a non-object top level, or duplicate top-level keys.
 */
export function parseJsonObject(fileName: string, bytes: Uint8Array, maxDepth: number, what: string, cutValuesOver?: number): { readonly value: Record<string, unknown>; readonly keyCount: number } {
  const scan = scanJson(fileName, bytes, maxDepth, what, cutValuesOver);
  // String values longer than `cutValuesOver` bytes are cut in the bytes, before decoding, and end in
  // TRUNCATION_MARK: a header of huge metadata strings then costs its bytes plus a small text, not bytes + text +
  // every parsed string (a 200 MB header peaked at 682 MB RSS; see test/integration/scale.test.ts for the after).
  if (scan.longValues.length > 0) bytes = cutLongValues(bytes, scan.longValues);
  if (scan.firstByte !== 0x7b) throw new ModelFormatError('bad-value', formatError(fileName, `${what} is not a JSON object`), 0);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new ModelFormatError('bad-value', formatError(fileName, `${what} is not valid UTF-8`));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const detail = e instanceof Error ? e.message.replace(/\.$/, '') : 'syntax error';
    throw new ModelFormatError('bad-value', formatError(fileName, `${what} is not valid JSON (${detail.slice(0, 120)})`));
  }
  if (!isJsonObject(value)) throw new ModelFormatError('bad-value', formatError(fileName, `${what} is not a JSON object`));
  const keyCount = Object.keys(value).length;
  if (keyCount !== scan.topLevelKeyCount) {
    throw new ModelFormatError('bad-value', formatError(fileName, `${what} has duplicate keys (${scan.topLevelKeyCount} entries but ${keyCount} distinct names)`));
  }
  return { value, keyCount };
}

/** Appended to a string value cut by {@link parseJsonObject}. */
export const TRUNCATION_MARK = '…';
const MARK_BYTES = new TextEncoder().encode(TRUNCATION_MARK);

function cutLongValues(bytes: Uint8Array, ranges: readonly (readonly [number, number, number])[]): Uint8Array {
  let size = bytes.length;
  for (const [, cut, end] of ranges) size -= end - cut - MARK_BYTES.length;
  const out = new Uint8Array(size);
  let from = 0;
  let at = 0;
  for (const [, cut, end] of ranges) {
    out.set(bytes.subarray(from, cut), at);
    at += cut - from;
    out.set(MARK_BYTES, at);
    at += MARK_BYTES.length;
    from = end;
  }
  out.set(bytes.subarray(from), at);
  return out;
}

/**
 * The first `max` characters of `s` plus {@link TRUNCATION_MARK}, as a fresh flat string: `s.slice()` alone is a V8
 * sliced string that keeps all of `s` alive (2,000 metadata values of 100 KB cut to 4 KB kept 195 MB).
 */
export function truncatedCopy(s: string, max: number): string {
  return JSON.parse(JSON.stringify(s.slice(0, max) + TRUNCATION_MARK)) as string;
}

/** The JSON-object check and the `__proto__`-safe setter, from model/dict.ts. */
export { isJsonObject, setOwn } from '../../model/dict';
