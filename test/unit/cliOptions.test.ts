/**
 * The CLI explains itself and fails in one line: option tables → help, synopsis (README), completion; unknown
 * values list the valid ones; errors exit 2 (bad input) or 1 (bug); the table printer is linear and escapes
 * terminal control characters; closed pipes end quietly. Hermetic: committed fixtures and builders only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ModelFormatError } from '../../src/core';
import { CLI_VERSION, COMMAND_SPECS, reportError, runCli } from '../../src/cli/main';
import { CliError, escapeTerminal, renderTable, MAX_CELL_CHARS } from '../../src/cli/io';
import { COMMON_OPTIONS, COMPLETION_SHELLS, bashCompletion, commandHelp, completionScript, parseCommand, synopsis } from '../../src/cli/options';
import { createProgress } from '../../src/cli/progress';
import { llamaGguf } from '../fixtures/buildGguf';
import { buildSafetensors } from '../fixtures/buildSafetensors';

const ROOT = path.resolve(__dirname, '../..');
const MNIST = path.join(ROOT, 'test/fixtures/models/mnist-12.onnx');
const GPT2 = path.join(ROOT, 'test/fixtures/models/tiny-random-gpt2-fp32.onnx');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'pl-cli-options-'));
}

test("the README's synopsis is the one generated from the option tables", () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- cli-synopsis:[^\n]*-->\n```sh\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(m, 'README.md has the cli-synopsis block');
  assert.equal(m[1], synopsis(COMMAND_SPECS), `README.md's synopsis is stale; replace the block with:\n${synopsis(COMMAND_SPECS)}`);
});

test('every option of every command has a sentence, shows in --help, and every command answers --help with 0', async () => {
  for (const spec of COMMAND_SPECS) {
    const help = commandHelp(spec);
    for (const o of [...spec.options, ...COMMON_OPTIONS]) {
      assert.match(o.description, /^[A-Z].*\.$/, `${spec.name} --${o.name}: one sentence`);
      assert.ok(help.includes(`--${o.name}`), `${spec.name} --help lists --${o.name}`);
      assert.ok(help.includes(o.description), `${spec.name} --help explains --${o.name}`);
    }
    const r = await cli(spec.name, '--help');
    assert.equal(r.code, 0, `${spec.name} --help: ${r.err}`);
    assert.equal(r.out, `${help}\n`);
    assert.equal((await cli(spec.name, '-h')).code, 0);
  }
  const plan = await cli('plan', '--help');
  assert.match(plan.out, /^Usage: precision-lens plan FILE --target ID /);
  assert.match(plan.out, /--no-verify\s+Deliver the solver's plan without running it\./);
  // --help wins over other errors on the line (a user asking for help gets it).
  assert.equal((await cli('plan', 'x.onnx', '--bogus', '--help')).code, 0);
});

test('top-level help describes each command; --version prints the package version; completion is generated', async () => {
  const r = await cli('--help');
  assert.equal(r.code, 0);
  for (const spec of COMMAND_SPECS) assert.match(r.out, new RegExp(`^  ${spec.name}\\s+${spec.summary.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
  assert.equal((await cli()).code, 2, 'no command is a usage error');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const v = await cli(flag);
    assert.equal(v.code, 0);
    assert.equal(v.out, `${pkg.version}\n`);
  }
  assert.equal(CLI_VERSION, pkg.version);
  const c = await cli('completion', 'bash');
  assert.equal(c.code, 0);
  assert.equal(c.out, `${bashCompletion(COMMAND_SPECS)}\n`);
  assert.match(c.out, /--kv-format\) COMPREPLY=\(\$\(compgen -W "fp32 tf32 bf16 fp16 /);
  assert.equal((await cli('completion', 'tcsh')).code, 2);
  assert.match((await cli('completion', 'tcsh')).err, /valid: bash, zsh, fish/);
});

/** Escapes a string for a RegExp. */
const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const shell of COMPLETION_SHELLS) {
  test(`completion ${shell}: every subcommand, every option of it (and its short alias) and every choice appears, from the option tables`, async () => {
    const r = await cli('completion', shell);
    assert.equal(r.code, 0);
    assert.equal(r.out, `${completionScript(shell, COMMAND_SPECS)}\n`);
    const script = r.out;
    for (const spec of COMMAND_SPECS) {
      // The command is offered at the top level, and its own section lists its options.
      const section = shell === 'bash' ? new RegExp(`^    ${re(spec.name)}\\)\\n[\\s\\S]*?fi;;$`, 'm')
        : shell === 'zsh' ? new RegExp(`^    ${re(spec.name)}\\)\\n[\\s\\S]*?;;$`, 'm')
        : new RegExp(`(^complete -c precision-lens -n '__fish_seen_subcommand_from ${re(spec.name)}' .*\\n?)+`, 'm');
      assert.match(script, shell === 'fish' ? new RegExp(`-a ${re(spec.name)} -d '`) : shell === 'zsh' ? new RegExp(`^    '${re(spec.name)}:`, 'm') : new RegExp(`compgen -W "[^"]*\\b${re(spec.name)}\\b`), `${shell}: command ${spec.name}`);
      const body = section.exec(script)?.[0] ?? '';
      assert.ok(body.length > 0, `${shell}: no section for ${spec.name}`);
      for (const o of [...spec.options, ...COMMON_OPTIONS]) {
        const long = shell === 'fish' ? new RegExp(`-l ${re(o.name)}( |$)`, 'm') : new RegExp(`--${re(o.name)}[\\[ )"]`);
        assert.match(body, long, `${shell} ${spec.name}: --${o.name}`);
        if (o.short && shell !== 'bash') assert.match(body, shell === 'fish' ? new RegExp(`-l ${re(o.name)} -s ${o.short} `) : new RegExp(`'-${o.short}\\[`), `${shell} ${spec.name}: -${o.short}`);
        if (o.choices && (shell !== 'bash' || !o.list)) for (const c of o.choices()) assert.ok(body.includes(c), `${shell} ${spec.name} --${o.name}: choice ${c}`);
      }
    }
    assert.match(script, shell === 'fish' ? /-a 'bash zsh fish'/ : shell === 'zsh' ? /completion\) _values 'shell' bash zsh fish/ : /\bcompletion\b/);
  });
}

test('unknown options, commands and values list what is valid, in one line, exit 2', async () => {
  let r = await cli('estimate', MNIST, '--target', 'h100', '--kv-format', 'fp7');
  assert.equal(r.code, 2);
  assert.match(r.err, /^precision-lens: --kv-format: unknown value 'fp7'; valid: fp32, tf32, bf16, fp16, .*, int8, .*q4_k.*\.\n$/);
  r = await cli('plan', MNIST, '--target', 'h100', '--formats', 'int8,int3x');
  assert.equal(r.code, 2);
  assert.match(r.err, /^precision-lens: --formats: unknown value 'int3x'; valid: fp32, .*\.\n$/);
  r = await cli('export', 'p.json', '--to', 'tensorrt');
  assert.equal(r.err, "precision-lens: --to: unknown value 'tensorrt'; valid: ort, llama.cpp, gptqmodel, llm-compressor, json.\n");
  r = await cli('estimate', MNIST, '--target', 'h1000');
  assert.equal(r.code, 2);
  assert.match(r.err, /^precision-lens: unknown target 'h1000'; nearest: h100, h200, h800; valid: h100, h100-pcie, .*, cpu \(details: precision-lens targets\)\.\n$/);
  r = await cli('estimate', MNIST, '--target', 'h100', '--kv-fromat', 'fp8');
  assert.equal(r.code, 2);
  assert.equal(r.err, "precision-lens: estimate: unknown option '--kv-fromat'; did you mean --kv-format? See precision-lens estimate --help.\n");
  r = await cli('inspekt', MNIST);
  assert.equal(r.err, "precision-lens: unknown command 'inspekt'; valid: inspect, targets, estimate, sensitivity, plan, export, apply (precision-lens --help).\n");
  r = await cli('estimate', MNIST);
  assert.equal(r.code, 2);
  assert.match(r.err, /^precision-lens: estimate: --target is required\. Usage: precision-lens estimate FILE --target/);
  r = await cli('plan', MNIST, '--target', 'h100', '--verify', '--no-verify');
  assert.equal(r.err, 'precision-lens: plan: give at most one of --verify, --no-verify.\n');
  r = await cli('inspect');
  assert.match(r.err, /^precision-lens: inspect: missing FILE\./);
});

test('plan refuses several targets and budgets beyond the target, with the reason', async () => {
  let r = await cli('plan', MNIST, '--target', 'h100,h800', '--no-verify', '--dry-run');
  assert.equal(r.code, 2);
  assert.match(r.err, /^precision-lens: plan: --target 'h100,h800' names several targets, but a plan is for one target .*run plan once per target/);
  assert.equal(r.out, '');
  r = await cli('plan', MNIST, '--target', 'a18-pro', '--budget', '24GB', '--no-verify', '--dry-run');
  assert.equal(r.code, 2);
  assert.equal(r.err, "precision-lens: --budget '24GB' (22.4 GiB) is more than a18-pro has: 8.00 GiB; give a budget up to that, or more --devices.\n");
  r = await cli('plan', MNIST, '--target', 'a18-pro', '--budget', '6GB', '--no-verify', '--dry-run');
  assert.equal(r.code, 0, r.err);
});

test('a plan for another model says which model it is for; export --to ort of a GGUF plan is refused', async () => {
  const dir = await tempDir();
  try {
    const mnist = path.join(dir, 'mnist-12.onnx');
    const gpt2 = path.join(dir, 'tiny-random-gpt2-fp32.onnx');
    await fs.copyFile(MNIST, mnist);
    await fs.copyFile(GPT2, gpt2);
    const planFile = path.join(dir, 'mnist.precision.json');
    let r = await cli('plan', mnist, '--target', 'h100', '--no-verify', '--avg-bits', '6', '-o', planFile);
    assert.equal(r.code, 0, r.err);
    const expected = "precision-lens: mnist.precision.json: this plan is for 'mnist-12.onnx', not 'tiny-random-gpt2-fp32.onnx': none of its 3 layers (e.g. 'Convolution28') is in the model; make one for it with precision-lens plan tiny-random-gpt2-fp32.onnx --target ID.\n";
    r = await cli('estimate', gpt2, '--target', 'h100', '--plan', planFile);
    assert.equal(r.code, 2);
    assert.equal(r.err, expected);
    r = await cli('export', planFile, '--to', 'json', '--model', gpt2);
    assert.equal(r.code, 2);
    assert.equal(r.err, expected);

    const gguf = path.join(dir, 'llama.gguf');
    await fs.writeFile(gguf, llamaGguf().bytes);
    const ggufPlan = path.join(dir, 'llama.gguf.precision.json');
    r = await cli('plan', gguf, '--target', 'h100', '--avg-bits', '6');
    assert.equal(r.code, 0, r.err);
    r = await cli('export', ggufPlan, '--to', 'ort');
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.equal(r.err, 'precision-lens: llama.gguf: --to ort writes ONNX Runtime quantization settings, which need an ONNX model; this plan is for a gguf model: use --to llama.cpp or --to json.\n');
    r = await cli('export', ggufPlan, '--to', 'llama.cpp');
    assert.equal(r.code, 0, r.err);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('errors print one line and exit 2 for bad input, 1 for a bug; --debug adds the stack', async () => {
  const lines: string[] = [];
  const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t) };
  assert.equal(reportError(new CliError('bad argument.'), io, false), 2);
  assert.equal(reportError(new ModelFormatError('truncated', 'm.gguf: truncated.'), io, false), 2);
  assert.equal(reportError(Object.assign(new Error('x'), { code: 'ENOENT', path: '/nope/m.onnx' }), io, false), 2);
  assert.equal(reportError(Object.assign(new Error('x'), { code: 'ENOSPC', path: '/full/plan.json' }), io, false), 2);
  assert.deepEqual(lines, ['precision-lens: bad argument.', 'precision-lens: m.gguf: truncated.', 'precision-lens: /nope/m.onnx: no such file (ENOENT).', 'precision-lens: /full/plan.json: no space left on the device (ENOSPC).']);
  lines.length = 0;
  assert.equal(reportError(new TypeError("Cannot read properties of undefined (reading 'filter')"), io, false), 1);
  assert.equal(lines.length, 1);
  assert.equal(lines[0], "precision-lens: internal error (a bug; please report it, with the stack trace from --debug): TypeError: Cannot read properties of undefined (reading 'filter')");
  lines.length = 0;
  assert.equal(reportError(new RangeError('Maximum call stack size exceeded'), io, true), 1);
  assert.match(lines[0]!, /^precision-lens: internal error \(a bug; please report it\): RangeError: Maximum call stack size exceeded\nRangeError: Maximum call stack size exceeded\n\s+at /);
  // Messages carrying model strings are escaped.
  lines.length = 0;
  reportError(new ModelFormatError('bad-value', "m.gguf: tensor 'a\u001b[2Jb' is bad."), io, false);
  assert.equal(lines[0], "precision-lens: m.gguf: tensor 'a\\u001b[2Jb' is bad.");

  const dir = await tempDir();
  try {
    const r = await cli('inspect', dir);
    assert.equal(r.code, 2);
    assert.equal(r.err, `precision-lens: ${path.basename(dir)}: is a directory, not a regular file; refusing to read it.\n`);
    const d = await cli('inspect', dir, '--debug');
    assert.equal(d.code, 2);
    assert.match(d.err, /^precision-lens: .*: is a directory, not a regular file; refusing to read it\.\nModelFormatError: .*\n\s+at /);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the text table is linear, bounded in width, and escapes terminal control characters', () => {
  const rows: (string | number)[][] = [];
  for (let i = 0; i < 200_000; i++) rows.push([`model.layers.${i}.mlp.down_proj.weight`, 'linear', i]);
  rows.push(['x'.repeat(5_000_000), 'linear', 1]);
  rows.push(['evil\u001b[2J\u001b[31mRED\u0007\u009b\u202e.weight', 'linear\ttab', 2]);
  const t0 = performance.now();
  const text = renderTable(['layer', 'role', 'params'], rows);
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `200k rows in ${ms.toFixed(0)} ms`);
  const lines = text.split('\n');
  assert.equal(lines.length, rows.length + 2);
  const widest = lines.reduce((m, l) => Math.max(m, l.length), 0);
  assert.ok(widest <= MAX_CELL_CHARS + 2 + 16 + 2 + 6, `widest line ${widest}`);
  const long = lines[lines.length - 2]!;
  assert.match(long, /^x+…x+ /);
  const evil = lines[lines.length - 1]!;
  assert.ok(evil.startsWith('evil\\u001b[2J\\u001b[31mRED\\u0007\\u009b\\u202e.weight'), evil);
  assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202e]/.test(text.replace(/\n/g, '')), 'no raw control characters');
  assert.match(lines[2]!, /^model\.layers\.0\.mlp\.down_proj\.weight\s+linear\s+0$/);
  // Number columns are right-aligned.
  assert.match(lines[3]!, / {5}1$/);
  assert.equal(escapeTerminal('a\nb\tc\u001b', true), 'a\nb\tc\\u001b');
});

test('progress is silent for 2 s, then prints elapsed time and what remains, at most once a second', () => {
  let now = 0;
  const lines: string[] = [];
  const p = createProgress({ out: () => undefined, err: (t) => lines.push(t) }, true, () => now);
  p.update('analyzing', 0, 100, '0%');
  now = 1500;
  p.update('analyzing', 30, 100, '30%');
  assert.deepEqual([...lines], []);
  now = 2500;
  p.update('analyzing', 50, 100, '50%');
  now = 2900;
  p.update('analyzing', 60, 100, '60%');
  now = 4000;
  p.update('analyzing', 80, 100, '80%');
  assert.deepEqual([...lines], ['analyzing: 50% · 2.5 s elapsed · ~2.5 s left', 'analyzing: 80% · 4.0 s elapsed · ~1.0 s left']);
  const off = createProgress({ out: () => undefined, err: (t) => lines.push(t) }, false, () => now);
  now = 100_000;
  off.update('x', 1, 2, 'x');
  assert.equal(lines.length, 2);
});

test('progress: a step without counts (begin … end, around) prints elapsed time each second after 2 s, and stops at its end', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let now = 0;
  const lines: string[] = [];
  const p = createProgress({ out: () => undefined, err: (x) => lines.push(x) }, true, () => now);
  p.begin('writing', 'model.int8.onnx');
  now = 1000;
  t.mock.timers.tick(1000);
  assert.deepEqual(lines, [], 'quiet for the first 2 s');
  now = 2000;
  t.mock.timers.tick(1000);
  now = 3000;
  t.mock.timers.tick(1000);
  p.end('writing');
  now = 9000;
  t.mock.timers.tick(5000);
  assert.deepEqual(lines, ['writing: model.int8.onnx · 2.0 s elapsed', 'writing: model.int8.onnx · 3.0 s elapsed']);
  const done = p.around('reference run', async () => {
    now = 12_000;
    t.mock.timers.tick(1000);
    return 7;
  });
  assert.equal(await done, 7);
  now = 20_000;
  t.mock.timers.tick(3000);
  assert.equal(lines.at(-1), 'reference run: 3.0 s elapsed');
  assert.equal(lines.length, 3);
});

test('output to a closed pipe ends quietly (no EPIPE trace)', async () => {
  // 20k layers print ~2 MB, far more than a pipe buffers, so the writer meets the closed pipe.
  const dir = await tempDir();
  const file = path.join(dir, 'many.safetensors');
  await fs.writeFile(file, buildSafetensors(Array.from({ length: 20_000 }, (_, i) => ({ name: `model.layers.${i}.mlp.weight`, dtype: 'F16', shape: [2, 2] }))).bytes);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'inspect', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // Read the first chunk, then close our end like `head -1` does.
  await new Promise<void>((resolve) => child.stdout.once('data', () => { child.stdout.destroy(); resolve(); }));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  await fs.rm(dir, { recursive: true, force: true });
  assert.equal(err, '', 'nothing on stderr');
  assert.equal(code, 0);
});

test('plan --eval-context is bounded and needs a GGUF model run in llama.cpp', async () => {
  const low = await cli('plan', MNIST, '--target', 'cpu', '--eval-context', '8', '--dry-run');
  assert.equal(low.code, 2);
  assert.match(low.err, /--eval-context must be a whole number from 16 to 8192, got 8\./);
  const onnx = await cli('plan', MNIST, '--target', 'cpu', '--eval-context', '64', '--no-verify', '--dry-run');
  assert.equal(onnx.code, 2);
  assert.match(onnx.err, /--eval-context needs a GGUF model and --measure or --verify/);
});

test('parseCommand gives what node:util parseArgs gives, for command lines of flags and positionals and for any other', () => {
  // Lines of long boolean flags and plain positionals are parsed without parseArgs (options.ts flagsAndPositionals):
  // each must give parseArgs's values and positionals, and every other line (short flags, values, `--`, `-`, `=`,
  // unknown options) the same as well, or the same one-line error.
  const words = ['m.onnx', '', 'x y', '--json', '--debug', '--help', '-h', '--', '-', '--json=1', '--nope', '--target', 'h100', '--progress', '-x', '--__proto__', '--constructor'];
  for (const spec of COMMAND_SPECS) {
    const options = Object.fromEntries([...spec.options, ...COMMON_OPTIONS].map((o) => [o.name, { type: o.type, ...(o.short !== undefined ? { short: o.short } : {}) }]));
    const lines: string[][] = [[]];
    for (const a of words) {
      lines.push([a]);
      for (const b of words) lines.push([a, b], [b, 'm.onnx', a]);
    }
    for (const argv of lines) {
      let want: unknown;
      try {
        const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
        want = { values: { ...r.values }, positionals: r.positionals };
      } catch {
        want = 'error';
      }
      let got: unknown;
      try {
        const r = parseCommand(spec, argv);
        got = r.help ? (want === 'error' ? 'error' : want) : { values: { ...r.values }, positionals: r.positionals };
        if (!r.help && Object.getPrototypeOf(r.values) !== null) assert.fail(`${spec.name} ${JSON.stringify(argv)}: values with a prototype`);
      } catch (e) {
        assert.ok(e instanceof CliError, `${spec.name} ${JSON.stringify(argv)}: ${String(e)}`);
        // parseCommand's own checks (positional count, required options, choices) fail lines parseArgs takes.
        got = want === 'error' || /missing|too many|required|unknown value|at most one|needs at least/.test(e.message) ? want : e.message;
      }
      assert.deepEqual(got, want, `${spec.name} ${JSON.stringify(argv)}`);
    }
  }
});
