/**
 * `precision-lens` command line: a thin shell over src/core. Exit status 0 on success, 2 with a one-line
 * message on bad input or arguments, 1 on an internal error (a bug; `--debug` prints its stack trace).
 * Each subcommand's option table (./options.ts) drives its parsing, its `--help` and the README synopsis.
 */
import { version } from '../../package.json';
import { inspectCommand, inspectSpec } from './commands/inspect';
import { estimateCommand, estimateSpec } from './commands/estimate';
import { targetsCommand, targetsSpec } from './commands/targets';
import { planCommand, planSpec } from './commands/plan';
import { exportCommand, exportSpec } from './commands/export';
import { applyCommand, applySpec } from './commands/apply';
import { sensitivityCommand, sensitivitySpec } from './commands/sensitivity';
import { escapeTerminal, type CliOutput } from './io';
import { COMPLETION_SHELLS, commandHelp, completionScript, quoteArg, topLevelHelp, type CommandSpec } from './options';
import { consoleOutput, reportError, runCommand, startCli, type Command } from './shell';

export { reportError };

/** Subcommands in help order; each lives in ./commands/<name>.ts with its option table. */
export const COMMANDS: readonly { readonly spec: CommandSpec; readonly run: Command }[] = [
  { spec: inspectSpec, run: inspectCommand },
  { spec: targetsSpec, run: targetsCommand },
  { spec: estimateSpec, run: estimateCommand },
  { spec: sensitivitySpec, run: sensitivityCommand },
  { spec: planSpec, run: planCommand },
  { spec: exportSpec, run: exportCommand },
  { spec: applySpec, run: applyCommand },
];

/** The option tables, in help order (for the README synopsis check and completion). */
export const COMMAND_SPECS: readonly CommandSpec[] = COMMANDS.map((c) => c.spec);

/** The CLI's version (package.json). */
export const CLI_VERSION: string = version;

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliOutput = consoleOutput): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const sub = name === 'help' ? COMMANDS.find((c) => c.spec.name === rest[0]) : undefined;
    io.out(sub ? commandHelp(sub.spec) : topLevelHelp(COMMAND_SPECS, CLI_VERSION));
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(CLI_VERSION);
    return 0;
  }
  if (name === 'completion') {
    const shell = COMPLETION_SHELLS.find((x) => x === rest[0]);
    if (!shell) {
      io.err(`precision-lens: completion ${rest[0] === undefined ? 'needs a shell' : `for ${quoteArg(escapeTerminal(rest[0]))} is not available`}; valid: ${COMPLETION_SHELLS.join(', ')} (bash: eval "$(precision-lens completion bash)"; zsh: source <(precision-lens completion zsh); fish: precision-lens completion fish | source).`);
      return 2;
    }
    io.out(completionScript(shell, COMMAND_SPECS));
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.spec.name === name);
  if (!cmd) {
    io.err(`precision-lens: unknown command ${quoteArg(escapeTerminal(name))}; valid: ${COMMAND_SPECS.map((s) => s.name).join(', ')} (precision-lens --help).`);
    return 2;
  }
  return runCommand(cmd, rest, io);
}

if (require.main === module) startCli(runCli);
