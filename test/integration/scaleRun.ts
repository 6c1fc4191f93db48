/**
 * Child-process runner for the scale suite: runs one CLI command and prints a last stderr line
 * `SCALE {"code":…,"ms":…,"maxRssKB":…}` so the parent can bound time and peak memory of exactly that command.
 */
import { readFileSync } from 'node:fs';
import { runCli } from '../../src/cli/main';

/**
 * Peak RSS of this process in KiB: Linux's VmHWM (the high-water mark of this program's own memory). getrusage's
 * maxRSS also counts the parent's pages at fork (Linux keeps the pre-exec high-water mark), so for a small command
 * it reported the test runner's size (a 100 MB-name refusal: 261 MB, of which ~100 MB its own).
 */
function peakRssKB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // Not Linux: getrusage's figure.
  }
  return process.resourceUsage().maxRSS;
}

const t0 = performance.now();
let errLines = 0;
void runCli(process.argv.slice(2), {
  out: () => undefined,
  // Output is dropped, as bytes where a command writes bytes (the CLI's stdout takes both).
  outBytes: () => undefined,
  err: (t) => {
    if (errLines++ < 3) process.stderr.write(`${t.slice(0, 300)}\n`);
  },
}).then((code) => {
  process.stderr.write(`SCALE ${JSON.stringify({ code, ms: Math.round(performance.now() - t0), maxRssKB: peakRssKB() })}\n`);
  process.exitCode = code;
});
