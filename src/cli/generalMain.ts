/**
 * The CLI bundle of help, version and completion alone (dist/cliGeneral.js, ./general.ts): the launcher
 * (./launcher.ts) runs it when the first argument is none or one of ./generalArguments.ts's GENERAL_ARGUMENTS, so these load the
 * option tables and not the commands (~160 KB instead of 1.36 MB). Same output as ./main.ts, which answers them with
 * the same function.
 */
import { runGeneral } from './general';
import type { CliOutput } from './io';
import { consoleOutput, startCli } from './shell';

/** Runs `argv` (without node and script), whose first word names no command, and returns the exit status. */
export function runCli(argv: readonly string[], io: CliOutput = consoleOutput): Promise<number> {
  // A command's name has no code here: the launcher never sends one (2, as for an unknown command, if it did).
  return Promise.resolve(runGeneral(argv, io) ?? 2);
}

if (require.main === module) startCli(runCli);
