/**
 * Paths that are not regular files (issue 14): a FIFO used to hang forever, a directory or /dev/zero gave a stack
 * trace. Every file the CLI reads — model, external data, plan, targets, calibration inputs — goes through
 * openRegularFile and is refused in one line before any read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { ModelFormatError } from '../../src/core';
import { openRegularFile } from '../../src/node/fileByteSource';
import { encodeModel, externalTensor, graph, model, node, value } from '../fixtures/buildOnnx';
import { buildMatMulModel } from '../fixtures/planOnnx';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

/** Fails the test instead of hanging when a FIFO is opened for blocking reads. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms (hang)`)), ms); })]).finally(() => clearTimeout(timer));
}

test('models, external data, plans, targets and calibration inputs that are FIFOs, folders or devices are refused in one line', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-regular-'));
  try {
    execFileSync('mkfifo', [path.join(dir, 'fifo.onnx')]);
    execFileSync('mkfifo', [path.join(dir, 'w.bin')]);
    execFileSync('mkfifo', [path.join(dir, 'fifo.json')]);
    await fs.mkdir(path.join(dir, 'dir.onnx'));
    await fs.symlink('/dev/zero', path.join(dir, 'zero.gguf'));
    await fs.symlink('/dev/zero', path.join(dir, 'zero.json'));
    const g = graph([node('MatMul', ['X', 'W'], ['Y'])], { initializers: [externalTensor('W', [4, 4], 'w.bin', 0, 64)], inputs: [value('X', 'FLOAT', [1, 4])], outputs: [value('Y', 'FLOAT', [1, 4])] });
    await fs.writeFile(path.join(dir, 'ext.onnx'), encodeModel(model(g, { opset: 13 })));
    const good = path.join(dir, 'm.onnx');
    await fs.writeFile(good, buildMatMulModel({ k: 16, n: 8, opset: 13, seed: 1 }));
    const runs: [string[], RegExp][] = [
      [['inspect', path.join(dir, 'fifo.onnx')], /fifo\.onnx: is a FIFO \(named pipe\), not a regular file; refusing to read it\./],
      [['inspect', path.join(dir, 'dir.onnx')], /dir\.onnx: is a directory/],
      [['inspect', path.join(dir, 'zero.gguf')], /zero\.gguf: is a character device/],
      [['estimate', path.join(dir, 'ext.onnx'), '--target', 'rtx-4090'], /w\.bin: is a FIFO/],
      [['estimate', good, '--target', 'rtx-4090', '--plan', path.join(dir, 'fifo.json')], /fifo\.json: is a FIFO/],
      [['export', path.join(dir, 'zero.json'), '--to', 'json', '--model', good], /zero\.json: is a character device/],
      [['targets', '--targets-file', path.join(dir, 'fifo.json')], /fifo\.json: is a FIFO/],
      [['sensitivity', good, '--measure', '--inputs', path.join(dir, 'fifo.json')], /fifo\.json: is a FIFO/],
    ];
    for (const [argv, expected] of runs) {
      const r = await within(20_000, cli(...argv), argv.join(' '));
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.err, expected, argv.join(' '));
      assert.equal(r.err.trim().split('\n').length, 1, `${argv.join(' ')}: one line, got ${r.err}`);
    }
    await assert.rejects(openRegularFile(path.join(dir, 'fifo.onnx')), (e: unknown) => e instanceof ModelFormatError && e.code === 'not-a-file');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
