/**
 * `precision-lens` command line: a thin shell over src/core. Exit status 0 on success, 2 with a one-line
 * message on bad input or arguments, 1 on an internal error (a bug; `--debug` prints its stack trace).
 * Each subcommand's option table (./options.ts) drives its parsing, its `--help` and the README synopsis.
 */
import { inspectCommand } from './commands/inspect';
import { estimateCommand } from './commands/estimate';
import { targetsCommand } from './commands/targets';
import { planCommand } from './commands/plan';
import { exportCommand } from './commands/export';
import { applyCommand } from './commands/apply';
import { sensitivityCommand } from './commands/sensitivity';
import { CLI_VERSION, COMMAND_SPECS, runGeneral } from './general';
import type { CliOutput } from './io';
import type { CommandSpec } from './options';
import { consoleOutput, reportError, runCommand, startCli, type Command } from './shell';

export { CLI_VERSION, COMMAND_SPECS, reportError };

/** Each command's code by its name. */
const RUNS: Readonly<Record<string, Command>> = {
  inspect: inspectCommand,
  targets: targetsCommand,
  estimate: estimateCommand,
  sensitivity: sensitivityCommand,
  plan: planCommand,
  export: exportCommand,
  apply: applyCommand,
};

/** Subcommands in help order ({@link COMMAND_SPECS}); each lives in ./commands/<name>.ts with its option table. */
export const COMMANDS: readonly { readonly spec: CommandSpec; readonly run: Command }[] = COMMAND_SPECS.map((spec) => ({ spec, run: RUNS[spec.name]! }));

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliOutput = consoleOutput): Promise<number> {
  const general = runGeneral(argv, io);
  if (general !== undefined) return general;
  const cmd = COMMANDS.find((c) => c.spec.name === argv[0])!;
  return runCommand(cmd, argv.slice(1), io);
}

if (require.main === module) startCli(runCli);
