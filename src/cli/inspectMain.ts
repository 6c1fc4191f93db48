/**
 * The CLI bundle of `precision-lens inspect` alone (dist/cliInspect.js): the launcher (./launcher.ts) runs it for that
 * command instead of the whole CLI (./main.ts), so `inspect` loads and compiles only the readers and the report, a
 * third of the code. Same parsing, help, output and exit statuses as `runCli(['inspect', …])` of ./main.ts: both go
 * through ./shell.ts's `runCommand` with the same option table.
 */
import { inspectCommand, inspectSpec } from './commands/inspect';
import type { CliOutput } from './io';
import { consoleOutput, runCommand, startCli } from './shell';

/** Runs `argv` (without node and script), whose first word is `inspect`, and returns the exit status. */
export function runCli(argv: readonly string[], io: CliOutput = consoleOutput): Promise<number> {
  return runCommand({ spec: inspectSpec, run: inspectCommand }, argv.slice(1), io);
}

if (require.main === module) startCli(runCli, { exitWhenWritten: true });
