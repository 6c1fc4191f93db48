/**
 * The process side of the CLI, shared by its bundles (./main.ts, every command; ./inspectMain.ts, `inspect` alone):
 * writing to stdout/stderr, running one command from its option table, and the one-line report of a failure with its
 * exit status.
 */
import { CancelledError, EstimateError, ModelFormatError } from '../core';
import { isInputError, NodeError } from '../node/errors';
import { OutputError } from '../node/safeOutput';
import { CliError, escapeTerminal, escapeTerminalJson, type CliOutput } from './io';
import { commandHelp, parseCommand, type CommandSpec, type OptionValues } from './options';

/** A subcommand's code: parsed options and positionals in, exit status out. */
export type Command = (values: OptionValues, positionals: readonly string[], io: CliOutput) => Promise<number>;

/** Node I/O error codes that mean "this path cannot be used", with how they read in a one-line message. */
const IO_ERRORS: ReadonlyMap<string, string> = new Map([
  ['ENOENT', 'no such file'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EISDIR', 'is a directory'],
  ['ENOTDIR', 'a part of the path is not a folder'],
  ['ELOOP', 'too many symbolic links'],
  ['ENAMETOOLONG', 'the path is too long'],
  ['ENXIO', 'not a regular file'],
  ['EINVAL', 'cannot be read as a file'],
  ['ENOSPC', 'no space left on the device'],
  ['EDQUOT', 'disk quota exceeded'],
  ['EROFS', 'read-only file system'],
  ['EFBIG', 'file too large'],
  ['EEXIST', 'already exists'],
  ['EMFILE', 'too many open files'],
]);

/** The process's stdout and stderr. */
export const consoleOutput: CliOutput = {
  out: (t) => writeQuietly(process.stdout, escapeTerminal(t, true)),
  outJson: (t) => writeQuietly(process.stdout, escapeTerminalJson(t)),
  outBytes: (b) => {
    if (!closedStreams.has(process.stdout)) process.stdout.write(b);
  },
  err: (t) => writeQuietly(process.stderr, escapeTerminal(t, true)),
  errIsTTY: process.stderr.isTTY === true,
};

/** Streams whose reader has gone (EPIPE): further output is dropped instead of raising. */
const closedStreams = new WeakSet<NodeJS.WriteStream>();

/** Writes one block of output, whose terminal control characters from model or plan strings the caller escaped. */
function writeQuietly(stream: NodeJS.WriteStream, text: string): void {
  if (closedStreams.has(stream)) return;
  // Two writes, not `${text}\n`: a 41 MB `inspect --json` document is then encoded without first being copied into a
  // flat concatenation (~25 ms).
  stream.write(text);
  stream.write('\n');
}

/**
 * Output to a closed pipe (`precision-lens inspect … | head -1`) ends quietly: the EPIPE error is swallowed,
 * later output is dropped, and the process exits at once with status 0 (like other filters whose reader left).
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closedStreams.add(stream);
    process.exit(process.exitCode ?? 0);
  });
}

/** Runs `cmd` with its arguments `rest` (after the command's name): its `--help`, its parse errors, its failures. */
export async function runCommand(cmd: { readonly spec: CommandSpec; readonly run: Command }, rest: readonly string[], io: CliOutput): Promise<number> {
  const debug = rest.includes('--debug');
  try {
    const parsed = parseCommand(cmd.spec, rest);
    if (parsed.help) {
      io.out(commandHelp(cmd.spec));
      return 0;
    }
    return await cmd.run(parsed.values, parsed.positionals, io);
  } catch (e) {
    return reportError(e, io, debug);
  }
}

/**
 * One line per failure. Bad input (CLI arguments, malformed or hostile models, plans and target files, paths that
 * cannot be used) exits 2; anything else is a bug and exits 1. Classified by error class and `code`, never by text.
 */
export function reportError(e: unknown, io: CliOutput, debug: boolean): number {
  const stack = debug && e instanceof Error && e.stack ? `\n${e.stack}` : '';
  const line = (text: string): string => `precision-lens: ${escapeTerminal(text.replace(/\s*\n\s*/g, ' '))}${stack}`;
  if (e instanceof CliError) {
    io.err(line(e.message));
    return e.exitCode;
  }
  if (e instanceof ModelFormatError || e instanceof EstimateError || e instanceof CancelledError || e instanceof OutputError) {
    io.err(line(e.message));
    return 2;
  }
  if (e instanceof NodeError) {
    // The code decides: the user's model, plan or files → 2; the environment (no onnxruntime-node, a dead worker) → 1.
    io.err(line(e.message));
    return isInputError(e) ? 2 : 1;
  }
  const err = e as NodeJS.ErrnoException | undefined;
  const ioText = err && typeof err.code === 'string' ? IO_ERRORS.get(err.code) : undefined;
  if (ioText !== undefined) {
    io.err(line(`${err!.path ?? err!.syscall ?? 'file'}: ${ioText} (${err!.code}).`));
    return 2;
  }
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  io.err(line(`internal error (a bug; please report it${debug ? '' : ', with the stack trace from --debug'}): ${message}`));
  return 1;
}

/** A bundle's entry: runs `runCli` on the process's arguments and sets the exit status. */
export function startCli(runCli: (argv: readonly string[]) => Promise<number>): void {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  runCli(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => { process.exitCode = reportError(e, consoleOutput, process.argv.includes('--debug')); },
  );
}
