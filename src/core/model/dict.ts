/**
 * The one safe way to use plain objects keyed by model-provided strings (layer, tensor, input and value names).
 *
 * Threat: `constructor`, `toString`, `valueOf`, `hasOwnProperty` and `__proto__` are valid tensor and layer names.
 * `dict[name]` on an ordinary object returns the inherited `Object.prototype` member for them (a function where a
 * format or a shape was expected), and `dict['__proto__'] = value` silently changes the prototype instead of
 * storing an entry (issue 14: estimate and plan crashed for ONNX, GGUF and safetensors models with such names).
 *
 * Assignments, pins, shape constants and samples stay plain JSON-safe objects (they cross postMessage and are
 * written to plan files), so safety lives in the accessors, which work on any object, whatever its prototype:
 * read with {@link own}, write with {@link setOwn}, create with {@link nameDict}.
 */

/** A fresh dictionary with no prototype: nothing is inherited, and `__proto__` is an ordinary key. */
export function nameDict<T>(entries?: Iterable<readonly [string, T]>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  if (entries) for (const [k, v] of entries) out[k] = v;
  return out;
}

/** `dict[key]` if `key` is the object's own property, else undefined (never an inherited `Object.prototype` member). */
export function own<T>(dict: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return dict !== undefined && Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : undefined;
}

/**
 * Stores `value` under `key` as an own, enumerable data property (a key `__proto__` does not touch the prototype).
 * Only `__proto__` needs `defineProperty`: it is the one accessor `Object.prototype` has, and every other inherited
 * member is a writable data property, which an assignment shadows with an own one. An assignment is what V8's
 * inline caches make fast (defineProperty per key cost ~1 s over the 200,000 layers of one plan).
 */
export function setOwn<T>(dict: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
  else dict[key] = value;
}

/** True for a JSON object (not null, not an array): the one shape check for parsed untrusted JSON (plan, target,
 * cache and header files). Read its fields with {@link own}. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
