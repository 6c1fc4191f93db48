/**
 * Array helpers safe for model-sized inputs. Threat (issue 14): `Math.max(...list)` and `a.push(...list)` pass every
 * element as a call argument, and past ~120k elements (300,000 KV-cache inputs, a million initializers, a 16M-entry
 * metadata array) the call overflows the stack with a RangeError instead of a result.
 */

/** `Math.max(initial, ...values)` without the spread: the largest of `initial` and `values` (NaN if any is NaN). */
export function maxOf(values: Iterable<number>, initial = -Infinity): number {
  let m = initial;
  for (const v of values) {
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

/** Appends `source` to `target` one element at a time (no argument spread); returns `target`. */
export function appendAll<T>(target: T[], source: Iterable<T>): T[] {
  for (const v of source) target.push(v);
  return target;
}
