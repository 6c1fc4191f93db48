/**
 * What the CLI does without running a command: the help (`--help`, `-h`, `help [COMMAND]`, no arguments), the version,
 * shell completion scripts and the message for an unknown command. It needs only the option tables, so the bundle of
 * these alone (./generalMain.ts) holds none of the commands' code: the build keeps just the `…Spec` tables it imports.
 */
import { version } from '../../package.json';
import { inspectSpec } from './commands/inspect';
import { estimateSpec } from './commands/estimate';
import { targetsSpec } from './commands/targets';
import { planSpec } from './commands/plan';
import { exportSpec } from './commands/export';
import { applySpec } from './commands/apply';
import { sensitivitySpec } from './commands/sensitivity';
import { escapeTerminal, type CliOutput } from './io';
import { COMPLETION_ARGUMENT, HELP_ARGUMENTS, VERSION_ARGUMENTS } from './generalArguments';
import { COMPLETION_SHELLS, commandHelp, completionScript, quoteArg, topLevelHelp, type CommandSpec } from './options';

/** The option tables in help order; each lives in ./commands/<name>.ts with its command. */
export const COMMAND_SPECS: readonly CommandSpec[] = [inspectSpec, targetsSpec, estimateSpec, sensitivitySpec, planSpec, exportSpec, applySpec];

/** The CLI's version (package.json). */
export const CLI_VERSION: string = version;

/**
 * Answers `argv` (without node and script) when its first word names no command: help, version, completion (the first
 * words of ./generalArguments.ts, which the launcher sends here), or an unknown command (exit 2). Returns the exit status, or undefined when `argv[0]` is a command's name.
 */
export function runGeneral(argv: readonly string[], io: CliOutput): number | undefined {
  const [name, ...rest] = argv;
  if (!name || HELP_ARGUMENTS.includes(name)) {
    const sub = name === 'help' ? COMMAND_SPECS.find((s) => s.name === rest[0]) : undefined;
    io.out(sub ? commandHelp(sub) : topLevelHelp(COMMAND_SPECS, CLI_VERSION));
    return name ? 0 : 2;
  }
  if (VERSION_ARGUMENTS.includes(name)) {
    io.out(CLI_VERSION);
    return 0;
  }
  if (name === COMPLETION_ARGUMENT) {
    const shell = COMPLETION_SHELLS.find((x) => x === rest[0]);
    if (!shell) {
      io.err(`precision-lens: completion ${rest[0] === undefined ? 'needs a shell' : `for ${quoteArg(escapeTerminal(rest[0]))} is not available`}; valid: ${COMPLETION_SHELLS.join(', ')} (bash: eval "$(precision-lens completion bash)"; zsh: source <(precision-lens completion zsh); fish: precision-lens completion fish | source).`);
      return 2;
    }
    io.out(completionScript(shell, COMMAND_SPECS));
    return 0;
  }
  if (COMMAND_SPECS.some((s) => s.name === name)) return undefined;
  io.err(`precision-lens: unknown command ${quoteArg(escapeTerminal(name))}; valid: ${COMMAND_SPECS.map((s) => s.name).join(', ')} (precision-lens --help).`);
  return 2;
}
