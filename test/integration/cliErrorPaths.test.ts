/**
 * Every CLI subcommand against crafted hostile inputs (issue 14, "every internal error path prints one line"):
 * models with hostile names (`__proto__`, `constructor`, ESC sequences, names over maxNameBytes), truncated and
 * random files, empty files, a directory, a FIFO, /dev/zero, a missing file; plans nested 10^5 deep, with
 * `__proto__` keys, naming a model outside their folder, not JSON, or for another model; a FIFO as a plan.
 * Each run must exit 0 (worked) or 2 (bad input) — never 1 (a bug) — with at most one `precision-lens:` error
 * line, no stack trace (only `--debug` prints one), and no raw ESC byte in stdout or stderr.
 * Run: node --import tsx --test test/integration/cliErrorPaths.test.ts   (CLI_CASES_REPORT=file writes the table)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { escapeTerminal } from '../../src/cli/io';
import { runCli } from '../../src/cli/main';
import { buildGguf, kv } from '../fixtures/buildGguf';
import { encodeModel, f32Bytes, graph, model, node, rawTensor, value } from '../fixtures/buildOnnx';
import { buildSafetensors } from '../fixtures/buildSafetensors';
import { SHARED_MODELS } from './sharedModels';

const MNIST = path.join(SHARED_MODELS, 'onnx/mnist-12.onnx');
const NAMES = ['__proto__', 'constructor', '\x1b[31mred\x1b[0m\x07', '\x1b]0;pwned\x07', 'n'.repeat(70_000), 'a\u202Egnp.exe'];

/** Runs the CLI in-process, writing as the real console output does (src/cli/main.ts: escapeTerminal at the stream). */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += `${escapeTerminal(t, true)}\n`), err: (t) => (err += `${escapeTerminal(t, true)}\n`) });
  return { code, out, err };
}

function onnxWithNames(names: readonly string[]): Uint8Array {
  const [w, n, v] = [names[0]!, names[1] ?? names[0]!, names[2] ?? 'h'];
  return encodeModel(model(graph([node('MatMul', ['X', w], [v], { name: n }), node('Relu', [v], ['Y'], { name: `${n}_relu` })], {
    initializers: [rawTensor(w, [4, 4], { raw: f32Bytes(Array.from({ length: 16 }, (_, i) => Math.sin(i))) })],
    inputs: [value('X', 'FLOAT', [1, 4])], outputs: [value('Y', 'FLOAT', [1, 4])],
  }), { opset: 13 }));
}

test('every subcommand on crafted hostile inputs: exit 0 or 2, one error line, no stack, no raw ESC', { timeout: 15 * 60 * 1000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-cli-hostile-'));
  const rows: string[] = [];
  const failures: string[] = [];
  try {
    const f = (name: string): string => path.join(dir, name);
    const models: string[] = [];
    for (let i = 0; i < NAMES.length; i++) {
      const names = [NAMES[i]!, NAMES[(i + 1) % NAMES.length]!, NAMES[(i + 2) % NAMES.length]!];
      await fs.writeFile(f(`names${i}.onnx`), onnxWithNames(names));
      await fs.writeFile(f(`names${i}.safetensors`), buildSafetensors(names.map((name, j) => ({ name: j === 0 ? name : `${name}.${j}`, dtype: 'F32', shape: [4, 4] }))).bytes);
      await fs.writeFile(f(`names${i}.gguf`), buildGguf({ kvs: [kv.str('general.architecture', 'llama'), kv.str(names[1]!, names[2]!)], tensors: names.map((name, j) => ({ name: j === 0 ? name : `${name}.${j}`, type: 0, dims: [4, 4] })) }).bytes);
      models.push(`names${i}.onnx`, `names${i}.safetensors`, `names${i}.gguf`);
    }
    const mnist = await fs.readFile(MNIST);
    await fs.writeFile(f('m.onnx'), mnist);
    await fs.writeFile(f('truncated.onnx'), mnist.subarray(0, 1000));
    await fs.writeFile(f('random.gguf'), Buffer.concat([Buffer.from('GGUF'), Buffer.from(Uint32Array.of(3).buffer), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) & 0xff))]));
    await fs.writeFile(f('empty.safetensors'), '');
    await fs.writeFile(f('huge-header.safetensors'), Buffer.concat([Buffer.from(BigUint64Array.of(2n ** 62n).buffer), Buffer.from('{}')]));
    await fs.mkdir(f('dir.onnx'));
    execFileSync('mkfifo', [f('fifo.onnx')]);
    await fs.symlink('/dev/zero', f('zero.gguf'));
    models.push('truncated.onnx', 'random.gguf', 'empty.safetensors', 'huge-header.safetensors', 'dir.onnx', 'fifo.onnx', 'zero.gguf', 'missing.onnx');

    const runs: string[][] = [];
    for (const m of models) {
      runs.push(['inspect', f(m)], ['inspect', f(m), '--json'], ['estimate', f(m), '--target', 'h100'], ['sensitivity', f(m), '--formats', 'int8,fp16'], ['plan', f(m), '--target', 'h100', '--no-verify', '--dry-run']);
    }
    // Plans.
    assert.equal((await cli(['plan', f('m.onnx'), '--target', 'h100', '--avg-bits', '8', '--no-verify', '--output', f('good.json')])).code, 0);
    const good = await fs.readFile(f('good.json'), 'utf8');
    await fs.writeFile(f('deep.json'), '['.repeat(100_000) + ']'.repeat(100_000));
    await fs.writeFile(f('proto.json'), good.replace('{', '{"__proto__": {"polluted": true}, "constructor": 1,'));
    await fs.mkdir(f('plans'));
    await fs.writeFile(f('plans/outside.json'), good.replace(/"file": *"[^"]*"/, '"file": "../../etc/passwd"'));
    await fs.writeFile(f('notjson.json'), '\x1b[31mnot json');
    await fs.writeFile(f('other.json'), good.replace(/"fingerprint": *"[^"]*"/, '"fingerprint": "sha256:00"'));
    await fs.writeFile(f('esc-layer.json'), good.replace(/"layer": *"([^"]*)"/, '"layer": "\\u001b[31m$1"'));
    execFileSync('mkfifo', [f('fifo.json')]);
    for (const p of ['deep.json', 'proto.json', 'plans/outside.json', 'notjson.json', 'other.json', 'esc-layer.json', 'fifo.json', 'missing.json']) {
      runs.push(['export', f(p), '--to', 'json', '--model', f('m.onnx')], ['estimate', f('m.onnx'), '--target', 'h100', '--plan', f(p)], ['apply', f('m.onnx'), f(p), '--output', f('out.onnx'), '--no-measure']);
    }
    runs.push(['targets', '--targets-file', f('deep.json')], ['targets', '--targets-file', f('proto.json')], ['targets', '--targets-file', f('fifo.json')], ['estimate', f('m.onnx'), '--target', '\x1b[31mh100']);
    for (const args of runs) {
      const r = await cli(args);
      const shown = args.map((a) => path.relative(dir, a).startsWith('..') || !a.startsWith(dir) ? a : path.relative(dir, a)).join(' ');
      const errors = r.err.split('\n').filter((l) => l.startsWith('precision-lens:'));
      const problems: string[] = [];
      if (r.code !== 0 && r.code !== 2) problems.push(`exit ${r.code}`);
      if (errors.length > 1) problems.push(`${errors.length} error lines`);
      if (/^\s+at /m.test(r.err) || /internal error/.test(r.err)) problems.push('stack trace or internal error');
      if (r.out.includes('\x1b') || r.err.includes('\x1b')) problems.push('raw ESC in output');
      if (r.code === 2 && errors.length === 0) problems.push('exit 2 without an error line');
      const first = (errors[0] ?? '').slice(0, 140);
      rows.push(`${JSON.stringify(shown.slice(0, 90))}\texit ${r.code}\t${problems.join('; ') || 'ok'}\t${first}`);
      if (problems.length) failures.push(`${shown.slice(0, 120)}: ${problems.join('; ')} — ${r.err.slice(0, 300)}`);
    }
    // The real process: model and plan strings with ESC reach the terminal escaped (two runs in a child process).
    for (const args of [['estimate', f('names1.onnx'), '--target', 'h100'], ['export', f('esc-layer.json'), '--to', 'json', '--model', f('m.onnx')]]) {
      let out = '';
      let err = '';
      let status = 0;
      try {
        out = execFileSync(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../../src/cli/main.ts'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        const x = e as { status: number; stdout: string; stderr: string };
        status = x.status;
        out = x.stdout;
        err = x.stderr;
      }
      rows.push(`child: ${args[0]} ${path.basename(args[1]!)}\texit ${status}\t${out.includes('\x1b') || err.includes('\x1b') ? 'raw ESC in output' : 'ok'}\t${err.split('\n')[0]!.slice(0, 140)}`);
      if (status !== 0 && status !== 2) failures.push(`child ${args.join(' ')}: exit ${status}`);
      if (out.includes('\x1b') || err.includes('\x1b')) failures.push(`child ${args.join(' ')}: raw ESC reached the terminal`);
      if (!out.includes('\\u001b') && !err.includes('\\u001b')) failures.push(`child ${args.join(' ')}: the hostile name was not shown escaped`);
    }
    const exit2 = rows.filter((r) => r.includes('\texit 2\t')).length;
    console.log(`cli error paths: ${rows.length} runs, ${rows.length - exit2} exit 0, ${exit2} exit 2, ${failures.length} failures`);
  } finally {
    if (process.env['CLI_CASES_REPORT']) await fs.writeFile(process.env['CLI_CASES_REPORT'], `${rows.join('\n')}\n`);
    await fs.rm(dir, { recursive: true, force: true });
  }
  assert.deepEqual(failures, []);
});
