/**
 * The first arguments that ask the CLI for help, its version or a completion script rather than a command. The one
 * list of them: the launcher (./launcher.ts) sends these to the bundle of ./general.ts, and general.ts's
 * `runGeneral` answers them. Kept free of imports: the launcher bundles this module and must stay small.
 */

/** First arguments that print the help (`help COMMAND`: that command's). */
export const HELP_ARGUMENTS: readonly string[] = ['--help', '-h', 'help'];
/** First arguments that print the version. */
export const VERSION_ARGUMENTS: readonly string[] = ['--version', '-V', 'version'];
/** The first argument that prints a shell's completion script. */
export const COMPLETION_ARGUMENT = 'completion';

/** Every first argument answered without running a command (besides none at all and unknown command names). */
export const GENERAL_ARGUMENTS: ReadonlySet<string> = new Set([...HELP_ARGUMENTS, ...VERSION_ARGUMENTS, COMPLETION_ARGUMENT]);
