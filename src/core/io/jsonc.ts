/**
 * Bounded JSON-with-comments for user files (plans, target files, calibration JSON, the editor's custom targets).
 *
 * Threats (issue 14):
 * - **Nesting bombs.** `jsonc-parser` descends recursively; 10^5 brackets overflowed the stack. {@link jsonDepthError}
 *   walks the text once, iteratively (strings and comments skipped), and refuses anything nested deeper than
 *   `maxNestingDepth` before any recursive parser runs; after that gate, recursion is bounded by the limit.
 * - **`__proto__` keys.** `JSON.parse`-style builders assign `obj[key] = value`, so a key `__proto__` replaced the
 *   object's prototype and the unknown-field check never saw it. {@link parseJsoncValue} builds values from the
 *   syntax tree with an explicit stack (no recursion) and stores every key as an own property (model/dict.ts), so
 *   `__proto__` is an ordinary, reportable key.
 */
import { type Node as JsonNode, type ParseError, parseTree, printParseErrorCode } from 'jsonc-parser';
import { setOwn } from '../model/dict';

/** Offset and message when `text` nests deeper than `maxDepth` (JSONC: strings and comments skipped), else undefined. */
export function jsonDepthError(text: string, maxDepth: number): { readonly offset: number; readonly message: string } | undefined {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: a backslash escapes the next character.
      for (i++; i < n; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2f) {
      while (i < n && text.charCodeAt(i) !== 0x0a) i++;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 1;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return { offset: i, message: `nests deeper than the limit of ${maxDepth} levels (at offset ${i})` };
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return undefined;
}

/** Result of {@link parseJsoncValue}: the value, or the first problem as one phrase (no file name, no period). */
export type JsoncResult = { readonly value: unknown; readonly error?: undefined } | { readonly value?: undefined; readonly error: string; readonly offset: number };

/**
 * Parses JSON with comments and trailing commas into plain values: depth-gated, built without recursion, every
 * object key an own property (so `__proto__` never touches a prototype).
 */
export function parseJsoncValue(text: string, maxDepth: number): JsoncResult {
  const deep = jsonDepthError(text, maxDepth);
  if (deep) return { error: deep.message, offset: deep.offset };
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  const e = errors[0];
  if (e) return { error: `is not valid JSON (${printParseErrorCode(e.error)} at offset ${e.offset})`, offset: e.offset };
  if (!root) return { error: 'is empty', offset: 0 };
  return { value: treeToValue(root) };
}

/** Converts a jsonc-parser syntax tree to plain values with an explicit work stack. */
export function treeToValue(root: JsonNode): unknown {
  const leaf = (n: JsonNode): unknown => (n.type === 'object' ? {} : n.type === 'array' ? [] : n.value);
  const top = leaf(root);
  const stack: { node: JsonNode; value: unknown }[] = [{ node: root, value: top }];
  while (stack.length) {
    const { node, value } = stack.pop()!;
    if (node.type === 'array') {
      const arr = value as unknown[];
      for (const child of node.children ?? []) {
        const v = leaf(child);
        arr.push(v);
        if (child.type === 'object' || child.type === 'array') stack.push({ node: child, value: v });
      }
    } else if (node.type === 'object') {
      const obj = value as Record<string, unknown>;
      for (const p of node.children ?? []) {
        const [k, child] = p.children ?? [];
        if (!k || !child) continue;
        const v = leaf(child);
        setOwn(obj, String(k.value), v);
        if (child.type === 'object' || child.type === 'array') stack.push({ node: child, value: v });
      }
    }
  }
  return top;
}
