/**
 * The only way the webview builds DOM. Every string goes in as text (`textContent` / attribute values set
 * through `setAttribute` on a fixed allow-list), never as HTML: model-provided names such as
 * `<img src=x onerror=alert(1)>` are shown literally. There is deliberately no `innerHTML` anywhere in the
 * webview (a unit test greps for it).
 */
import { DEFAULT_STRINGS, type StringKey } from '../../src/protocol/strings';

/** Attributes {@link h} may set. Event-handler (`on*`), `style`, `src`, `href` and `srcdoc` are never allowed. */
const ALLOWED_ATTRIBUTES = new Set([
  'id', 'class', 'title', 'role', 'tabindex', 'type', 'value', 'name', 'placeholder', 'for', 'hidden', 'disabled', 'checked', 'selected',
  'colspan', 'scope', 'max', 'min', 'slot', 'label', 'description', 'open', 'heading', 'appearance', 'secondary', 'icon',
]);

/** Attribute value map for {@link h}; false/undefined omit the attribute. */
export type Attrs = Readonly<Record<string, string | number | boolean | undefined>>;

/** A child: a node, or text (numbers are formatted as text). */
export type Child = Node | string | number | null | undefined | false;

/** True for attribute names {@link h} accepts (allow-list, `aria-*` and `data-*`). */
export function isAllowedAttribute(name: string): boolean {
  return ALLOWED_ATTRIBUTES.has(name) || /^aria-[a-z]+$/.test(name) || /^data-[a-z][a-z0-9-]*$/.test(name);
}

/** Creates an element with text-only children. Throws on attributes outside the allow-list. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Attrs, ...children: Child[]): HTMLElement;
export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) setAttr(el, name, value);
  append(el, ...children);
  return el;
}

/** Sets (or removes, for false/undefined) one allow-listed attribute. */
export function setAttr(el: Element, name: string, value: string | number | boolean | undefined): void {
  if (!isAllowedAttribute(name)) throw new Error(`Attribute '${name}' is not allowed in the webview.`);
  if (value === undefined || value === false) el.removeAttribute(name);
  else el.setAttribute(name, value === true ? '' : String(value));
}

/** Appends children as nodes or text nodes. */
export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces all children. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, ...children);
}

/**
 * Sets text only when it changed (cheap for the virtual table's recycled cells). A lone text child is updated in
 * place (`Text.data`): assigning `textContent` replaces the child node, and every such childList mutation is
 * delivered to each document-wide MutationObserver (chart.js keeps one per responsive chart), which cost more than
 * the rest of a scroll frame's script.
 */
export function setText(el: Node, text: string): void {
  const only = el.firstChild;
  if (only !== null && only === el.lastChild && only.nodeType === 3) {
    const node = only as Text;
    if (node.data !== text) node.data = text;
    return;
  }
  if (el.textContent !== text) el.textContent = text;
}

let strings: Readonly<Record<string, string>> = DEFAULT_STRINGS;

/** Installs the host's localized strings (unknown keys fall back to English). */
export function setStrings(s: Readonly<Record<string, string>>): void {
  strings = { ...DEFAULT_STRINGS, ...s };
}

/** Localized string with `{0}` placeholders filled. */
export function t(key: StringKey, ...args: (string | number)[]): string {
  const s = strings[key] ?? DEFAULT_STRINGS[key];
  return s.replace(/\{(\d+)\}/g, (m, i: string) => (args[Number(i)] !== undefined ? String(args[Number(i)]) : m));
}

// One formatter for the CLI, the code lenses and the webview: a pure leaf module of core that eslint.config.mjs lets
// the webview import (see the module's header). Re-exported so the views keep importing from './dom'.
export { formatBytes, formatCount, formatDb, formatLatencyBound, formatRate, formatRateBound, formatSeconds } from '../../src/core/format/numbers';

/** '[768, 3072]' style shape text. */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 0 ? 'scalar' : `[${shape.join(', ')}]`;
}

/** Binary unit that keeps the largest value of a chart between 1 and 1024: `{ divisor, label }`. */
export function byteUnit(maxBytes: number): { readonly divisor: number; readonly label: string } {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (i < units.length - 1 && maxBytes >= 1024 ** (i + 1)) i++;
  return { divisor: 1024 ** i, label: units[i]! };
}
