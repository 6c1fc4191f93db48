/** Small helpers shared by CLI commands: errors with exit codes, and table printing. */

/** A user-facing CLI failure: printed as one line, exits with `exitCode` (2 for bad input/arguments). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CliError';
  }
}

/** Output sink, so commands can be tested without a process. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
  /**
   * Writes a block of JSON text as `JSON.stringify` writes it (every control character inside a string escaped, so
   * the only one left is the line end), exactly as {@link out} would; a sink may skip work that such text cannot need.
   * Without it, {@link out} is used.
   */
  outJson?(text: string): void;
  /**
   * Writes bytes as they are: UTF-8 text whose terminal control characters the caller escaped, with its line ends (none
   * is added). A JSON writer with a writer for rows (jsonOut.ts `RowsWriter`) uses it when the sink has it. The caller
   * may fill `bytes` again once this returns: a sink that keeps them (a stream's queue) keeps a copy.
   */
  outBytes?(bytes: Uint8Array): void;
  /** stderr is a terminal: progress lines are shown without `--progress`. */
  readonly errIsTTY?: boolean;
}

/**
 * Characters that a terminal interprets rather than shows: C0 controls (ESC starts cursor and colour sequences),
 * DEL, C1 controls (U+009B is a one-byte CSI), and the bidirectional overrides/isolates that reorder what is shown
 * ("Trojan Source", CVE-2021-42574). Model and plan strings are attacker-controlled, so human-readable output
 * escapes them; newline and tab are kept only where the CLI itself lays out text (see {@link escapeTerminal}).
 */
const TERMINAL_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const TERMINAL_CONTROL_KEEP_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** {@link TERMINAL_CONTROL} and {@link TERMINAL_CONTROL_KEEP_LAYOUT} for `test` (not global: no `lastIndex` state). */
const ANY_TERMINAL_CONTROL = new RegExp(TERMINAL_CONTROL.source);
const ANY_TERMINAL_CONTROL_KEEP_LAYOUT = new RegExp(TERMINAL_CONTROL_KEEP_LAYOUT.source);

const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * The characters of {@link TERMINAL_CONTROL} that `JSON.stringify` leaves as they are: it escapes every C0 control
 * character (U+0000–U+001F) inside strings, and writes no other outside them than the line end.
 */
const TERMINAL_CONTROL_AFTER_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** True for a UTF-16 unit of {@link TERMINAL_CONTROL_AFTER_JSON} (one JSON text may hold raw). */
export function isTerminalControl(c: number): boolean {
  return (c >= 0x7f && c <= 0x9f) || c === 0x61c || c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/**
 * Escapes terminal control characters as `\uXXXX` (also valid inside JSON strings, where they can only occur).
 * `keepLayout` keeps newline and tab, for whole blocks of output the CLI composed itself.
 */
export function escapeTerminal(text: string, keepLayout = false): string {
  // A test first: most texts hold none, and a replace that finds nothing costs more than the search alone.
  return (keepLayout ? ANY_TERMINAL_CONTROL_KEEP_LAYOUT : ANY_TERMINAL_CONTROL).test(text) ? text.replace(keepLayout ? TERMINAL_CONTROL_KEEP_LAYOUT : TERMINAL_CONTROL, escapeChar) : text;
}

/**
 * `escapeTerminal(text, true)` of JSON text as `JSON.stringify` writes it ({@link CliOutput.outJson}): such text is
 * first searched for the few characters JSON leaves raw, which a text without any (the common case) is returned
 * unchanged after: one search for a class of characters from U+007F up, instead of the replace's search for all
 * (`inspect --json` of 45,000 ONNX nodes, 4 MB: ~2 ms instead of ~5 ms).
 */
export function escapeTerminalJson(text: string): string {
  return TERMINAL_CONTROL_AFTER_JSON.test(text) ? escapeTerminal(text, true) : text;
}

/** Widest cell of a text table; longer cells (a hostile 60 MB layer name) are shown shortened in the middle. */
export const MAX_CELL_CHARS = 64;

/** Shortens `text` to at most `max` characters, keeping its start and end (names differ at both). */
export function truncateMiddle(text: string, max = MAX_CELL_CHARS): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (max - 1 - head))}`;
}

/**
 * Renders rows as an aligned text table. Numbers (and cells listed in `rightAlign`) are right-aligned. Linear in the
 * number of cells: one pass sizes the columns, one pass writes the lines. Cells are escaped ({@link escapeTerminal})
 * and shortened to {@link MAX_CELL_CHARS}, so one long name does not widen every row.
 */
export function renderTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], rightAlign: readonly number[] = []): string {
  const columns = header.length;
  const right: boolean[] = header.map((_, i) => rightAlign.includes(i));
  const cell = (c: string | number | undefined): string => (c === undefined ? '' : typeof c === 'number' ? String(c) : truncateMiddle(escapeTerminal(c)));
  const cells: string[][] = [header.map(cell)];
  for (const r of rows) {
    const line: string[] = new Array<string>(columns);
    for (let i = 0; i < columns; i++) {
      if (typeof r[i] === 'number') right[i] = true;
      line[i] = cell(r[i]);
    }
    cells.push(line);
  }
  const widths: number[] = new Array<number>(columns).fill(0);
  for (const r of cells) for (let i = 0; i < columns; i++) if (r[i]!.length > widths[i]!) widths[i] = r[i]!.length;
  const format = (r: readonly string[]): string => {
    let text = '';
    for (let i = 0; i < columns; i++) {
      if (i > 0) text += '  ';
      text += right[i] ? r[i]!.padStart(widths[i]!) : r[i]!.padEnd(widths[i]!);
    }
    return text.trimEnd();
  };
  const lines: string[] = [format(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (let k = 1; k < cells.length; k++) lines.push(format(cells[k]!));
  return lines.join('\n');
}
