/**
 * The CLI bundle of `precision-lens estimate` alone (dist/cliEstimate.js): the launcher (./launcher.ts) runs it for
 * that command instead of the whole CLI (./main.ts), so `estimate` loads and compiles only the readers, the estimate
 * and the catalog, half of the code. Same parsing, help, output and exit statuses as `runCli(['estimate', …])` of
 * ./main.ts: both go through ./shell.ts's `runCommand` with the same option table.
 */
import { estimateCommand, estimateSpec } from './commands/estimate';
import type { CliOutput } from './io';
import { consoleOutput, runCommand, startCli } from './shell';

/** Runs `argv` (without node and script), whose first word is `estimate`, and returns the exit status. */
export function runCli(argv: readonly string[], io: CliOutput = consoleOutput): Promise<number> {
  return runCommand({ spec: estimateSpec, run: estimateCommand }, argv.slice(1), io);
}

if (require.main === module) startCli(runCli, { exitWhenWritten: true });
