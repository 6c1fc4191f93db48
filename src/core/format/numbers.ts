/**
 * The one number formatter for every surface: CLI tables, code lenses and hovers (core), and the webview.
 *
 * Why here: the webview bundle may import only types from core, because core as a whole pulls in readers and
 * analysis code the browser bundle must not carry. This file is a leaf (it imports nothing, uses no platform API),
 * so eslint.config.mjs lets the webview import it as a value — the one exception — and core's lenses and the
 * CLI import it through core. A figure therefore reads the same everywhere: `4.07M tok/s`, never `4071848.2` in
 * one place and `2.7M` in another; `∞ dB`, never `Infinity dB`.
 *
 * Conventions: 3 significant digits with k/M/B/T suffixes for counts and rates (trailing zeros dropped), binary
 * units for bytes (the catalog reads marketed capacities as binary: an "80 GB" H100 is 80 GiB), `∞` for an
 * infinite value and `–` for a missing or NaN one (callers with a reason say "not published" or "unknown").
 */

/** Shown for a value that is missing or not a number. */
export const MISSING = '–';

/** `n` to 3 significant digits, trailing zeros dropped: 38.44 → '38.4', 2 → '2', 0.012345 → '0.0123'. */
function significant(n: number, digits = 3): string {
  if (n === 0) return '0';
  const s = Math.abs(n) >= 10 ** digits ? n.toFixed(0) : n.toPrecision(digits);
  return s.includes('e') ? String(Number(s)) : s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Compact count or rate: 25_600_000 → '25.6M', 4071848.2 → '4.07M', 6000 → '6k', 512 → '512', 38.44 → '38.4'. */
export function formatCount(n: number): string {
  if (Number.isNaN(n)) return MISSING;
  if (!Number.isFinite(n)) return n > 0 ? '∞' : '-∞';
  const a = Math.abs(n);
  const sign = n < 0 ? '-' : '';
  let i = COUNT_UNITS.length - 1;
  while (i > 0 && a < COUNT_UNITS[i]![0]) i--;
  if (i === 0 && Number.isInteger(n)) return String(n);
  let text = significant(a / COUNT_UNITS[i]![0]);
  // Rounding can carry into the next unit (999_960 → '1000k'): then show '1M'.
  if (Number(text) >= 1000 && i < COUNT_UNITS.length - 1) text = significant(a / COUNT_UNITS[++i]![0]);
  return `${sign}${text}${COUNT_UNITS[i]![1]}`;
}

const COUNT_UNITS: readonly (readonly [number, string])[] = [[1, ''], [1e3, 'k'], [1e6, 'M'], [1e9, 'B'], [1e12, 'T']];

/** A rate, with its unit when given: `formatRate(4071848.2, 'tok/s')` → '4.07M tok/s', `formatRate(38.44)` → '38.4'. */
export function formatRate(perSecond: number, unit = ''): string {
  const text = formatCount(perSecond);
  return unit ? `${text} ${unit}` : text;
}

/** Bytes in binary units: 1536 → '1.5 KiB', 80 GiB → '80 GiB'; 3 significant digits. */
export function formatBytes(bytes: number): string {
  if (Number.isNaN(bytes)) return MISSING;
  if (!Number.isFinite(bytes)) return bytes > 0 ? '∞' : '-∞';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${bytes < 0 ? '-' : ''}${i === 0 ? String(Math.round(v)) : v >= 1000 ? v.toFixed(0) : v.toPrecision(3)} ${units[i]}`;
}

/**
 * Decibels: 66.24 → '66.2 dB'. Infinite (lossless) and ≥ {@link LOSSLESS_DB} → '∞ dB'; missing → '–'.
 * SQNR of an exact format is infinite; `Infinity` must never reach a user as text.
 */
export function formatDb(db: number | null | undefined): string {
  if (db === null || db === undefined || Number.isNaN(db)) return MISSING;
  if (db >= LOSSLESS_DB) return '∞ dB';
  if (db <= -LOSSLESS_DB) return '-∞ dB';
  return `${db.toFixed(1)} dB`;
}

/** SQNR at or above this is shown as ∞: no format here gets near it unless it is exact (FP32 of FP32 weights). */
export const LOSSLESS_DB = 300;

/** A duration: 0.0000123 → '12.3 µs', 0.00456 → '4.56 ms', 1.234 → '1.23 s', 125 → '2 min 5 s'. */
export function formatSeconds(seconds: number): string {
  if (Number.isNaN(seconds)) return MISSING;
  if (!Number.isFinite(seconds)) return '∞';
  const a = Math.abs(seconds);
  if (a === 0) return '0 s';
  if (a < 1e-6) return `${significant(seconds * 1e9)} ns`;
  if (a < 1e-3) return `${significant(seconds * 1e6)} µs`;
  if (a < 1) return `${significant(seconds * 1e3)} ms`;
  if (a < 60) return `${significant(seconds)} s`;
  return `${Math.floor(a / 60)} min ${Math.round(a % 60)} s`;
}

/**
 * A roofline figure is a bound, and says so: a latency can only be longer (`≥ 23.5 ns`), a rate only lower
 * (`≤ 42.6M samples/s`), since real kernels reach a fraction of the dense peak.
 */
export function formatLatencyBound(seconds: number): string {
  return `≥ ${formatSeconds(seconds)}`;
}

/** See {@link formatLatencyBound}: `formatRateBound(42.6e6, 'samples/s')` → '≤ 42.6M samples/s'. */
export function formatRateBound(perSecond: number, unit = ''): string {
  return `≤ ${formatRate(perSecond, unit)}`;
}
