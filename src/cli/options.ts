/**
 * One option table per subcommand: the single source for argument parsing, `--help`, the top-level help, shell
 * completion and the README synopsis (test/unit/cliOptions.test.ts fails when the README's block differs from
 * {@link synopsis}). Adding an option is one entry in the command's table; its sentence shows in `--help` at once.
 *
 * Parsing is node:util `parseArgs` built from the table, plus what parseArgs does not do: options listed as
 * `required`, values with a fixed set of choices (an unknown value lists the valid ones) and mutually exclusive
 * groups. Every failure is a {@link CliError} (one line, exit 2).
 */
import { parseArgs } from 'node:util';
import { CliError } from './io';

/** One command-line option. */
export interface OptionSpec {
  /** Long name without the dashes: `kv-format` for `--kv-format`. */
  readonly name: string;
  /** One-letter alias without the dash. */
  readonly short?: string;
  /** `string` options take a value, `boolean` options are flags. */
  readonly type: 'string' | 'boolean';
  /** Placeholder of the value in help and synopsis (`N`, `SIZE`, `FILE`). */
  readonly value?: string;
  /** One sentence shown by `--help`. */
  readonly description: string;
  /** Valid values (for help, completion and the error of an unknown value); `list` options take several, comma-separated. */
  readonly choices?: () => readonly string[];
  /** Accepts a value the choices do not spell out (aliases); defaults to membership in `choices()`, case-insensitive. */
  readonly accepts?: (value: string) => boolean;
  /** The value is a comma-separated list, each item checked against `choices`. */
  readonly list?: boolean;
  /** Options sharing an `exclusive` key may not be given together; the synopsis shows them as `[--a | --b]`. */
  readonly exclusive?: string;
  /** Left out of the synopsis line (still in `--help`); for rarely used options of long commands. */
  readonly detail?: boolean;
}

/** A positional argument. */
export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
}

/** A subcommand's table. */
export interface CommandSpec {
  readonly name: string;
  /** One sentence for the top-level help. */
  readonly summary: string;
  readonly positionals: readonly PositionalSpec[];
  readonly options: readonly OptionSpec[];
  /** Names of options that must be given. */
  readonly required?: readonly string[];
  /** Example invocations shown at the end of `--help`. */
  readonly examples?: readonly string[];
}

/** Options every subcommand accepts; appended to each table. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: 'debug', type: 'boolean', description: 'On an error, print the stack trace as well as the one-line message.' },
  { name: 'help', short: 'h', type: 'boolean', description: 'Show this help and exit.' },
];

/** The option `--progress`, for commands with steps that can take seconds. */
export const PROGRESS_OPTION: OptionSpec = {
  name: 'progress',
  type: 'boolean',
  description: 'Report progress (elapsed time and an estimate of what remains) on stderr even when stderr is not a terminal.',
};

/** The option `--json`. */
export const JSON_OPTION: OptionSpec = { name: 'json', type: 'boolean', description: 'Print one JSON document on stdout instead of text.' };

/** Parsed values keyed by long option name (strings for value options, `true` for flags). */
export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

/** Result of {@link parseCommand}: `help` when `--help` was given (print {@link commandHelp} and exit 0). */
export type ParsedCommand =
  | { readonly help: true }
  | { readonly help: false; readonly values: OptionValues; readonly positionals: readonly string[]; readonly debug: boolean };

function allOptions(spec: CommandSpec): readonly OptionSpec[] {
  return [...spec.options, ...COMMON_OPTIONS];
}

/** Quotes a user-given value for an error message (bounded: a hostile argument cannot flood the terminal). */
export function quoteArg(value: string): string {
  return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
}

/** The command's table as parseArgs options. */
function parseArgsOptions(spec: CommandSpec): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = Object.create(null) as Record<string, { type: 'string' | 'boolean'; short?: string }>;
  for (const o of allOptions(spec)) options[o.name] = { type: o.type, ...(o.short !== undefined ? { short: o.short } : {}) };
  return options;
}

/**
 * What parseArgs gives for a command line made only of the table's boolean flags in their long form (`--json`) and
 * positionals that do not start with `-` (`inspect model.onnx --json`), or undefined for any other one (parsed by
 * parseArgs): `true` for each flag given, the positionals in order. Running Node's parseArgs cold on the CLI's first
 * call took ~0.5 ms of `inspect`'s start.
 */
function flagsAndPositionals(spec: CommandSpec, argv: readonly string[]): { values: Record<string, boolean>; positionals: string[] } | undefined {
  const values = Object.create(null) as Record<string, boolean>;
  const positionals: string[] = [];
  for (const arg of argv) {
    if (!arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    const o = allOptions(spec).find((x) => x.name === name);
    if (o === undefined || o.type !== 'boolean') return undefined;
    values[name] = true;
  }
  return { values, positionals };
}

/** Parses `argv` with the command's table. Throws {@link CliError} (exit 2) on any problem. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedCommand {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] } | undefined = flagsAndPositionals(spec, argv);
  try {
    parsed ??= parseArgs({ args: [...argv], options: parseArgsOptions(spec), allowPositionals: true, strict: true }) as NonNullable<typeof parsed>;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (argv.includes('--help') || argv.includes('-h')) return { help: true };
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const opt = /'([^']*)'/.exec(err.message ?? '')?.[1] ?? '';
      const near = nearestOption(spec, opt.replace(/^-+/, ''));
      throw new CliError(`${spec.name}: unknown option ${quoteArg(opt)}${near ? `; did you mean --${near}?` : '.'} See precision-lens ${spec.name} --help.`);
    }
    // parseArgs explains over several lines; the CLI promises one.
    throw new CliError(`${spec.name}: ${String(err.message ?? e).replace(/\s*\n\s*/g, ' ')}`);
  }
  const values = parsed.values;
  if (values['help'] === true) return { help: true };
  const usage = `Usage: ${usageLine(spec)} (precision-lens ${spec.name} --help explains each option).`;
  if (parsed.positionals.length !== spec.positionals.length) {
    const missing = spec.positionals.slice(parsed.positionals.length).map((p) => p.name);
    throw new CliError(missing.length > 0 ? `${spec.name}: missing ${missing.join(' and ')}. ${usage}` : `${spec.name}: too many arguments. ${usage}`);
  }
  for (const r of spec.required ?? []) {
    if (values[r] === undefined) throw new CliError(`${spec.name}: --${r} is required. ${usage}`);
  }
  const groups = new Map<string, string[]>();
  for (const o of spec.options) {
    const v = values[o.name];
    if (v === undefined) continue;
    if (o.exclusive !== undefined) groups.set(o.exclusive, [...(groups.get(o.exclusive) ?? []), `--${o.name}`]);
    if (typeof v === 'string' && o.choices) checkChoice(o, v);
  }
  for (const names of groups.values()) {
    if (names.length > 1) throw new CliError(`${spec.name}: give at most one of ${names.join(', ')}.`);
  }
  return { help: false, values, positionals: parsed.positionals, debug: values['debug'] === true };
}

function checkChoice(o: OptionSpec, value: string): void {
  const valid = o.choices!();
  const lower = new Set(valid.map((v) => v.toLowerCase()));
  const ok = (v: string): boolean => (o.accepts ? o.accepts(v) : lower.has(v.toLowerCase()));
  const items = o.list ? value.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : [value];
  if (items.length === 0) throw new CliError(`--${o.name} needs at least one value; valid: ${valid.join(', ')}.`);
  for (const item of items) {
    if (!ok(item)) throw new CliError(`--${o.name}: unknown value ${quoteArg(item)}; valid: ${valid.join(', ')}.`);
  }
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function nearestOption(spec: CommandSpec, name: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of allOptions(spec)) {
    const d = distance(name.slice(0, 40), o.name);
    if (d < bestD) [best, bestD] = [o.name, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function optionSyntax(o: OptionSpec): string {
  return `--${o.name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
}

/** `precision-lens NAME POSITIONALS --required X [--opt Y] ...` generated from the table. */
export function usageLine(spec: CommandSpec): string {
  const parts = [`precision-lens ${spec.name}`, ...spec.positionals.map((p) => p.name)];
  const required = new Set(spec.required ?? []);
  for (const o of spec.options) if (required.has(o.name)) parts.push(optionSyntax(o));
  const done = new Set<string>();
  for (const o of spec.options) {
    if (required.has(o.name) || o.detail || done.has(o.name)) continue;
    if (o.exclusive !== undefined) {
      const group = spec.options.filter((x) => x.exclusive === o.exclusive && !x.detail);
      for (const g of group) done.add(g.name);
      parts.push(`[${group.map(optionSyntax).join(' | ')}]`);
    } else {
      done.add(o.name);
      parts.push(`[${optionSyntax(o)}]`);
    }
  }
  if (spec.options.some((o) => o.detail)) parts.push('[...]');
  return parts.join(' ');
}

/** The full `--help` text of a command: usage, arguments, every option with its sentence, examples. */
export function commandHelp(spec: CommandSpec): string {
  const required = new Set(spec.required ?? []);
  const rows: [string, string][] = [];
  for (const o of allOptions(spec)) {
    const left = `${o.short ? `-${o.short}, ` : '    '}${optionSyntax(o)}`;
    const choices = o.choices ? ` Valid: ${o.choices().join(', ')}.` : '';
    rows.push([left, `${o.description}${required.has(o.name) ? ' Required.' : ''}${choices}`]);
  }
  const width = Math.min(32, Math.max(...rows.map((r) => r[0].length), ...spec.positionals.map((p) => p.name.length + 4)));
  const fmt = (l: string, r: string): string => (l.length > width ? `  ${l}\n  ${' '.repeat(width)}  ${r}` : `  ${l.padEnd(width)}  ${r}`);
  const lines = [`Usage: ${usageLine(spec)}`, '', spec.summary, ''];
  if (spec.positionals.length > 0) {
    lines.push('Arguments:', ...spec.positionals.map((p) => fmt(p.name, p.description)), '');
  }
  lines.push('Options:', ...rows.map(([l, r]) => fmt(l, r)));
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** The top-level help: every command with its summary, and the global options. */
export function topLevelHelp(specs: readonly CommandSpec[], version: string): string {
  const width = Math.max(...specs.map((s) => s.name.length));
  return [
    `precision-lens ${version}: precision-aware inspection of ML models (ONNX, safetensors, GGUF, TFLite).`,
    '',
    'Usage: precision-lens COMMAND [ARGUMENTS] [OPTIONS]',
    '',
    'Commands:',
    ...specs.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    '',
    `Shell completion: precision-lens completion ${COMPLETION_SHELLS.join('|')} (bash: eval "$(precision-lens completion bash)";`,
    '  zsh: source <(precision-lens completion zsh); fish: precision-lens completion fish | source).',
    '',
    'Options:',
    '  -h, --help     Show this help; precision-lens COMMAND --help shows every option of a command.',
    '  -V, --version  Print the version and exit.',
    '',
    'Exit status: 0 on success, 2 with a one-line message on bad input, arguments or plans, 1 on an internal error',
    '(a bug: --debug prints its stack trace).',
  ].join('\n');
}

/** The README's synopsis block: one usage line per command. */
export function synopsis(specs: readonly CommandSpec[]): string {
  return specs.map(usageLine).join('\n');
}

/** A bash completion script (`eval "$(precision-lens completion bash)"`): commands, options and option choices. */
export function bashCompletion(specs: readonly CommandSpec[]): string {
  const cases = specs.map((s) => {
    const opts = allOptions(s).map((o) => `--${o.name}`).join(' ');
    const choiceCases = allOptions(s)
      .filter((o) => o.choices && !o.list)
      .map((o) => `        --${o.name}) COMPREPLY=($(compgen -W "${o.choices!().join(' ')}" -- "$cur")); return;;`);
    return [
      `    ${s.name})`,
      '      case "$prev" in',
      ...choiceCases,
      '      esac',
      `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${opts}" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi;;`,
    ].join('\n');
  });
  return [
    '# bash completion for precision-lens; generated from the CLI option tables.',
    '_precision_lens() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    COMPREPLY=($(compgen -W "${specs.map((s) => s.name).join(' ')} completion --help --version" -- "$cur")); return`,
    '  fi',
    '  case "${COMP_WORDS[1]}" in',
    ...cases,
    '  esac',
    '}',
    'complete -o default -F _precision_lens precision-lens',
  ].join('\n');
}

/** The shells `precision-lens completion SHELL` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** The completion script for `shell`, generated from the option tables. */
export function completionScript(shell: CompletionShell, specs: readonly CommandSpec[]): string {
  return shell === 'bash' ? bashCompletion(specs) : shell === 'zsh' ? zshCompletion(specs) : fishCompletion(specs);
}

/** Option values that name a file or folder (the shell then completes paths). */
const PATH_VALUES = new Set(['FILE', 'OUT', 'PLAN', 'DIR', 'PATH']);

/** The first sentence of a description, for the one-line hints zsh and fish show. */
function hint(text: string): string {
  const first = /^(.*?[.!?])(\s|$)/.exec(text)?.[1] ?? text;
  return first.replace(/\.$/, '');
}

/** Text inside a single-quoted POSIX/zsh string. */
function zshQuote(text: string): string {
  return text.replace(/'/g, "'\\''");
}

/**
 * A zsh completion script (`source <(precision-lens completion zsh)`, or save it as `_precision-lens` on `$fpath`):
 * commands with their summaries, each command's options with their sentence, choices and file values.
 */
export function zshCompletion(specs: readonly CommandSpec[]): string {
  // In an `_arguments` spec, `[`, `]` and `:` end parts of the spec: escape them in descriptions.
  const desc = (text: string): string => zshQuote(hint(text).replace(/([[\]:\\])/g, '\\$1'));
  const optionSpec = (o: OptionSpec): string[] => {
    const names = [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])];
    const action = o.type === 'boolean' ? '' : o.choices ? `:${o.value ?? 'VALUE'}:(${o.choices().join(' ')})` : PATH_VALUES.has(o.value ?? '') ? `:${o.value}:_files` : `:${o.value ?? 'VALUE'}: `;
    return names.map((n) => `'${n}[${desc(o.description)}]${zshQuote(action)}'`);
  };
  const cases = specs.map((s) => [
    `    ${s.name})`,
    '      _arguments -s \\',
    ...allOptions(s).flatMap(optionSpec).map((line) => `        ${line} \\`),
    `        '*:${s.positionals[0]?.name ?? 'file'}:_files' ;;`,
  ].join('\n'));
  return [
    '#compdef precision-lens',
    '# zsh completion for precision-lens; generated from the CLI option tables.',
    '_precision_lens() {',
    '  local -a commands',
    '  commands=(',
    ...specs.map((s) => `    '${s.name}:${zshQuote(hint(s.summary).replace(/:/g, '\\:'))}'`),
    "    'completion:Print a shell completion script (bash, zsh or fish)'",
    '  )',
    '  if (( CURRENT == 2 )); then',
    "    _describe -t commands 'precision-lens command' commands",
    "    _arguments '--help[Show the commands and exit]' '--version[Print the version and exit]'",
    '    return',
    '  fi',
    '  shift words; (( CURRENT-- ))',
    '  case $words[1] in',
    ...cases,
    `    completion) _values 'shell' ${COMPLETION_SHELLS.join(' ')} ;;`,
    '  esac',
    '}',
    'compdef _precision_lens precision-lens',
  ].join('\n');
}

/** Text inside a single-quoted fish string. */
function fishQuote(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

/**
 * A fish completion script (`precision-lens completion fish | source`, or save it in
 * ~/.config/fish/completions/precision-lens.fish): commands, options with their sentence, choices and file values.
 */
export function fishCompletion(specs: readonly CommandSpec[]): string {
  const names = [...specs.map((s) => s.name), 'completion'].join(' ');
  const lines = [
    '# fish completion for precision-lens; generated from the CLI option tables.',
    'complete -c precision-lens -f',
    ...specs.map((s) => `complete -c precision-lens -n 'not __fish_seen_subcommand_from ${names}' -a ${s.name} -d '${fishQuote(hint(s.summary))}'`),
    `complete -c precision-lens -n 'not __fish_seen_subcommand_from ${names}' -a completion -d 'Print a shell completion script (bash, zsh or fish)'`,
    `complete -c precision-lens -n 'not __fish_seen_subcommand_from ${names}' -l help -s h -d 'Show the commands and exit'`,
    `complete -c precision-lens -n 'not __fish_seen_subcommand_from ${names}' -l version -s V -d 'Print the version and exit'`,
    `complete -c precision-lens -n '__fish_seen_subcommand_from completion' -a '${COMPLETION_SHELLS.join(' ')}'`,
  ];
  for (const s of specs) {
    const when = `-n '__fish_seen_subcommand_from ${s.name}'`;
    lines.push(`complete -c precision-lens ${when} -F`);
    for (const o of allOptions(s)) {
      const value = o.type === 'boolean' ? '' : o.choices ? ` -x -a '${fishQuote(o.choices().join(' '))}'` : PATH_VALUES.has(o.value ?? '') ? ' -r -F' : ' -x';
      lines.push(`complete -c precision-lens ${when} -l ${o.name}${o.short ? ` -s ${o.short}` : ''}${value} -d '${fishQuote(hint(o.description))}'`);
    }
  }
  return lines.join('\n');
}

/** Typed accessors over parsed values. */
export function str(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** True when the flag was given. */
export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** A positive whole number option. */
export function positiveInt(values: OptionValues, name: string): number | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new CliError(`--${name} must be a positive whole number, got ${quoteArg(text)}.`);
  }
  return Number(text);
}
