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
}

/** Renders rows as an aligned text table. Numbers (and cells listed in `rightAlign`) are right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly (string | number)[])[], rightAlign: readonly number[] = []): string {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c)));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const isRight = (i: number): boolean => rightAlign.includes(i) || rows.some((r) => typeof r[i] === 'number');
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (isRight(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
