/**
 * The process side of the CLI, shared by its bundles (./main.ts, every command; ./inspectMain.ts, `inspect` alone):
 * writing to stdout/stderr, running one command from its option table, and the one-line report of a failure with its
 * exit status.
 */
import { writeSync } from 'node:fs';
import { sep } from 'node:path';
import { CancelledError, EstimateError, ModelFormatError } from '../core';
import { isInputError, NodeError } from '../node/errors';
import { OutputError } from '../node/safeOutput';
import { installedStack } from './cachedScriptName';
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

/**
 * One of the process's output streams, written by its file descriptor (1 or 2) with `fs.writeSync`, not through
 * `process.stdout` / `process.stderr`: making those streams loads Node's stream modules, and for a pipe its socket
 * modules too (~3 ms of the ~30 ms that `inspect --json` of a tiny model took over an empty Node start). The bytes are
 * the same (those streams write a pipe, file or terminal the same way on POSIX systems). The stream is still used
 * where a synchronous write does not do: on Windows (its console stream writes UTF-16 to the console), and from a
 * write that finds the descriptor non-blocking and full (EAGAIN) on, for that write's rest and everything after it.
 * Output to a closed pipe (`precision-lens inspect … | head -1`) ends quietly: the EPIPE error is swallowed, and the
 * process exits at once with status 0 (like other filters whose reader left); a descriptor that is not open drops
 * its output, like Node's own stdio streams. Any other write error (a full disk) is the command's failure.
 */
class ProcessOutput {
  private stream: NodeJS.WriteStream | undefined;
  private closed = false;

  constructor(private readonly fd: 1 | 2, private readonly openStream: () => NodeJS.WriteStream) {
    if (process.platform === 'win32') this.stream = this.streamOf();
  }

  /** True when every byte given so far was written by `writeSync` (no stream took any: none can still be queued). */
  get allWritten(): boolean {
    return this.stream === undefined;
  }

  /** Writes one block of output and a line end; the caller escaped its terminal control characters. */
  line(text: string): void {
    if (this.closed) return;
    // Two writes, not `${text}\n`: a 41 MB `inspect --json` document is then encoded without first being copied into
    // a flat concatenation (~25 ms).
    this.write(text);
    this.write('\n');
  }

  /** Writes text (as UTF-8) or bytes as they are. */
  write(data: string | Uint8Array): void {
    if (this.closed) return;
    // A stream may keep the bytes queued after this returns: it gets a copy (the caller fills its block again).
    if (this.stream !== undefined) {
      this.stream.write(typeof data === 'string' ? data : Buffer.from(data));
      return;
    }
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let at = 0;
    try {
      while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        this.stream = this.streamOf();
        this.stream.write(Buffer.from(bytes.subarray(at)));
      } else if (code === 'EPIPE') {
        this.closed = true;
        process.exit(process.exitCode ?? 0);
      } else if (code === 'EBADF') {
        this.closed = true;
      } else {
        // Reported as one line naming the stream (`stdout: no space left on the device (ENOSPC).`, exit 2).
        throw Object.assign(e as NodeJS.ErrnoException, { path: this.fd === 1 ? 'stdout' : 'stderr' });
      }
    }
  }

  private streamOf(): NodeJS.WriteStream {
    const stream = this.openStream();
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      this.closed = true;
      process.exit(process.exitCode ?? 0);
    });
    return stream;
  }
}

const stdout = new ProcessOutput(1, () => process.stdout);
const stderr = new ProcessOutput(2, () => process.stderr);
let stderrIsTTY: boolean | undefined;

/** The process's stdout and stderr. */
export const consoleOutput: CliOutput = {
  out: (t) => stdout.line(escapeTerminal(t, true)),
  outJson: (t) => stdout.line(escapeTerminalJson(t)),
  outBytes: (b) => stdout.write(b),
  err: (t) => stderr.line(escapeTerminal(t, true)),
  // Asked only by commands that may show progress; node:tty loads the socket modules.
  get errIsTTY(): boolean {
    return (stderrIsTTY ??= (require('node:tty') as typeof import('node:tty')).isatty(2));
  },
};

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
  // A bundle's frames name the folder it runs from (__dirname: the launcher hands the bundle its own), not the name
  // its code cache records.
  const stack = debug && e instanceof Error && e.stack ? `\n${installedStack(e.stack, `${__dirname}${sep}`)}` : '';
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

/**
 * A bundle's entry: runs `runCli` on the process's arguments and sets the exit status. With `exitWhenWritten` (the
 * bundles of one read-only command: `inspect`, `estimate`, whose command leaves nothing running when it returns), the
 * process then exits at once when all its output was written synchronously, instead of returning to Node's event
 * loop and tearing down the heap: `inspect --json` of the bench's exported-style 45,000-node ONNX, 202 → 193 ms wall
 * (same-run pairs, n 21). Output a stream still holds (a full non-blocking pipe, Windows' console) waits for the natural exit.
 */
export function startCli(runCli: (argv: readonly string[]) => Promise<number>, options: { readonly exitWhenWritten?: boolean } = {}): void {
  const end = (code: number): void => {
    process.exitCode = code;
    if (options.exitWhenWritten === true && stdout.allWritten && stderr.allWritten) process.exit(code);
  };
  runCli(process.argv.slice(2)).then(end, (e: unknown) => end(reportError(e, consoleOutput, process.argv.includes('--debug'))));
}
