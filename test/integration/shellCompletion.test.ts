/**
 * The generated completion scripts work in the real shells: bash completes option values through its function,
 * zsh parses and loads the script under compinit, fish completes commands and option values (`complete -C`).
 * Needs bash, zsh and fish (Debian packages; .ci/run installs them): a missing shell fails, it does not skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMMAND_SPECS } from '../../src/cli/main';
import { completionScript } from '../../src/cli/options';

function run(shell: string, args: string[]): string {
  try {
    return execFileSync(shell, args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOME: os.tmpdir() } });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') assert.fail(`${shell} is not installed (apt-get install bash zsh fish)`);
    throw new Error(`${shell} ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

async function scriptFile(shell: 'bash' | 'zsh' | 'fish'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-completion-'));
  const file = path.join(dir, `precision-lens.${shell}`);
  await fs.writeFile(file, completionScript(shell, COMMAND_SPECS));
  return file;
}

test('bash: the completion function offers commands, options and an option\'s values', async () => {
  const file = await scriptFile('bash');
  run('bash', ['-n', file]);
  const complete = (words: string[]): string[] =>
    run('bash', ['-c', `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _precision_lens; printf '%s\\n' "\${COMPREPLY[@]}"`, 'x', file]).split('\n').filter(Boolean);
  assert.ok(complete(['precision-lens', 'est']).includes('estimate'));
  assert.ok(complete(['precision-lens', 'estimate', '--kv-f']).includes('--kv-format'));
  const kv = complete(['precision-lens', 'estimate', '--kv-format', '']);
  assert.ok(kv.includes('fp16') && kv.includes('fp8_e4m3'), kv.join(' '));
  assert.deepEqual(complete(['precision-lens', 'export', 'p.json', '--to', 'll']), ['llama.cpp', 'llm-compressor']);
});

test('zsh: the script parses and defines its completion function under compinit', async () => {
  const file = await scriptFile('zsh');
  run('zsh', ['-n', file]);
  const out = run('zsh', ['-fc', `autoload -U compinit; compinit -u -D; source "$1"; whence -w _precision_lens; print -r -- $_comps[precision-lens]`, 'x', file]);
  assert.match(out, /^_precision_lens: function$/m);
  assert.match(out, /^_precision_lens$/m);
});

test('fish: `complete -C` offers commands, options with their sentence and an option\'s values', async () => {
  const file = await scriptFile('fish');
  run('fish', ['-n', file]);
  const complete = (line: string): string[] => run('fish', ['-c', `source $argv[1]; complete -C "${line}"`, file]).split('\n').filter(Boolean);
  assert.ok(complete('precision-lens est').some((l) => /^estimate\tEstimate memory/.test(l)));
  assert.ok(complete('precision-lens estimate --kv-f').some((l) => /^--kv-format\tNumber format of the KV cache/.test(l)));
  const kv = complete('precision-lens estimate --kv-format ').map((l) => l.split('\t')[0]);
  assert.ok(kv.includes('fp16') && kv.includes('int8'), kv.join(' '));
  assert.deepEqual(complete('precision-lens completion ').map((l) => l.split('\t')[0]).sort(), ['bash', 'fish', 'zsh']);
});
