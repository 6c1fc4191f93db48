/**
 * `precision-lens` command line: a thin shell over src/core. Exit status 0 on success, 2 with a one-line
 * message on bad input or arguments, 1 on unexpected internal errors.
 */
import { ModelFormatError } from '../core';
import { inspectCommand, inspectUsage } from './commands/inspect';
import { estimateCommand, estimateUsage } from './commands/estimate';
import { targetsCommand, targetsUsage } from './commands/targets';
import { planCommand, planUsage } from './commands/plan';
import { exportCommand, exportUsage } from './commands/export';
import { applyCommand, applyUsage } from './commands/apply';
import { sensitivityCommand, sensitivityUsage } from './commands/sensitivity';
import { OutputError } from '../node/safeOutput';
import { CliError, type CliOutput } from './io';

type Command = (argv: readonly string[], io: CliOutput) => Promise<number>;

/** Subcommands; each lives in ./commands/<name>.ts. */
const COMMANDS: Record<string, { run: Command; usage: string }> = {
  inspect: { run: inspectCommand, usage: inspectUsage },
  estimate: { run: estimateCommand, usage: estimateUsage },
  targets: { run: targetsCommand, usage: targetsUsage },
  plan: { run: planCommand, usage: planUsage },
  export: { run: exportCommand, usage: exportUsage },
  apply: { run: applyCommand, usage: applyUsage },
  sensitivity: { run: sensitivityCommand, usage: sensitivityUsage },
};

const consoleOutput: CliOutput = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

/** Runs the CLI with `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliOutput = consoleOutput): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(['Usage:', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join('\n'));
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`precision-lens: unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(', ')}.`);
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof OutputError) {
      io.err(`precision-lens: ${e.message}`);
      return 2;
    }
    if (e instanceof ModelFormatError || e instanceof CliError) {
      io.err(`precision-lens: ${e.message}`);
      return e instanceof CliError ? e.exitCode : 2;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && ['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'].includes(err.code)) {
      io.err(`precision-lens: ${err.path ?? 'file'}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : 'cannot be read'} (${err.code}).`);
      return 2;
    }
    if (err && err.name === 'TypeError' && String(err.message).includes('parseArgs')) {
      io.err(`precision-lens: ${err.message}`);
      return 2;
    }
    if (err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) {
      // node:util parseArgs explains over several lines; the CLI promises one.
      io.err(`precision-lens: ${err.message.replace(/\s*\n\s*/g, ' ')}`);
      return 2;
    }
    io.err(`precision-lens: internal error: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`precision-lens: internal error: ${String(e)}\n`); process.exitCode = 1; },
  );
}
