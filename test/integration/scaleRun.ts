/**
 * Child-process runner for the scale suite: runs one CLI command and prints a last stderr line
 * `SCALE {"code":…,"ms":…,"maxRssKB":…}` so the parent can bound time and peak memory of exactly that command.
 */
import { runCli } from '../../src/cli/main';

const t0 = performance.now();
let errLines = 0;
void runCli(process.argv.slice(2), {
  out: () => undefined,
  err: (t) => {
    if (errLines++ < 3) process.stderr.write(`${t.slice(0, 300)}\n`);
  },
}).then((code) => {
  process.stderr.write(`SCALE ${JSON.stringify({ code, ms: Math.round(performance.now() - t0), maxRssKB: process.resourceUsage().maxRSS })}\n`);
  process.exitCode = code;
});
