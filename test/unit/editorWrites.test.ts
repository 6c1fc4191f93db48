/**
 * The extension's own writes (issue 14): plan files and the custom targets file go through the CLI's safe output
 * path (src/node/editorWrites.ts → safeOutput), and src/host has no other way to put bytes on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryByteSource, openModel, planFileNameFor } from '../../src/core';
import { modelInputFiles, writeEditorTextFile } from '../../src/node/editorWrites';
import { openModelFile } from '../../src/node/fileByteSource';
import { OutputError } from '../../src/node/safeOutput';
import { encodeModel, externalTensor, graph, model as onnxModel, node, value } from '../fixtures/buildOnnx';
import { buildMatMulModel } from '../fixtures/planOnnx';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-editor-writes-'));
  try {
    await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const refused = (e: unknown): boolean => e instanceof OutputError && e.code === 'output-is-input' && !e.message.includes('\n');

test('a plan file that is a hard link or symlink to the model, or to its external data, is refused and the model kept', async () => {
  await withDir(async (dir) => {
    const bytes = buildMatMulModel({ k: 16, n: 4, opset: 13, seed: 2 });
    const modelPath = path.join(dir, 'm.onnx');
    await fs.writeFile(modelPath, bytes);
    const model = await openModel(new MemoryByteSource('m.onnx', bytes));
    const planPath = path.join(dir, planFileNameFor('m.onnx'));
    await fs.link(modelPath, planPath);
    await assert.rejects(writeEditorTextFile(planPath, '{"version":1}', modelInputFiles(modelPath, model)), refused);
    await fs.unlink(planPath);
    await fs.symlink(modelPath, planPath);
    await assert.rejects(writeEditorTextFile(planPath, '{"version":1}', modelInputFiles(modelPath, model)), refused);
    assert.deepEqual(await fs.readFile(modelPath), Buffer.from(bytes));

    // External data: the plan path links to the weights file, which only modelInputFiles knows about.
    const weights = new Float32Array(8 * 4).map((_, i) => i / 7);
    await fs.writeFile(path.join(dir, 'w.bin'), new Uint8Array(weights.buffer));
    const g = graph([node('MatMul', ['X', 'W'], ['Y'], { name: 'mm' })], { initializers: [externalTensor('W', [8, 4], 'w.bin', 0, weights.byteLength)], inputs: [value('X', 'FLOAT', [1, 8])], outputs: [value('Y', 'FLOAT', [1, 4])] });
    const extPath = path.join(dir, 'e.onnx');
    await fs.writeFile(extPath, encodeModel(onnxModel(g, { opset: 13 })));
    const opened = await openModelFile(extPath);
    const extModel = await openModel(opened.source, { siblings: opened.siblings });
    await opened.close();
    const inputs = modelInputFiles(extPath, extModel);
    assert.deepEqual(inputs, [extPath, path.join(dir, 'w.bin')]);
    const extPlan = path.join(dir, planFileNameFor('e.onnx'));
    await fs.link(path.join(dir, 'w.bin'), extPlan);
    await assert.rejects(writeEditorTextFile(extPlan, 'plan', inputs), refused);
    assert.deepEqual(new Uint8Array(await fs.readFile(path.join(dir, 'w.bin'))), new Uint8Array(weights.buffer));
  });
});

test('an editor write replaces the entry (temp file renamed), creates missing folders and leaves no temporary', async () => {
  await withDir(async (dir) => {
    const other = path.join(dir, 'elsewhere.json');
    await fs.writeFile(other, 'keep');
    const targets = path.join(dir, '.vscode', 'precision-targets.json');
    await writeEditorTextFile(targets, '{"targets":[]}\n', []);
    assert.equal(await fs.readFile(targets, 'utf8'), '{"targets":[]}\n');
    await fs.rm(targets);
    await fs.symlink(other, targets);
    await writeEditorTextFile(targets, 'new', []);
    assert.equal(await fs.readFile(other, 'utf8'), 'keep', 'the file the link pointed at is not written through');
    assert.equal((await fs.lstat(targets)).isSymbolicLink(), false);
    assert.deepEqual(await fs.readdir(path.join(dir, '.vscode')), ['precision-targets.json']);
  });
});

test('src/host writes files only through src/node/editorWrites (no save(), createFile, workspace.fs or fs writes; reads only)', () => {
  const dir = path.resolve(__dirname, '../../src/host');
  const forbidden = /\.save\(\)|\.createFile\(|workspace\.fs\.(writeFile|rename|copy|delete|createDirectory)|\bfs\.(writeFile|appendFile|rename|copyFile|open|createWriteStream|truncate|mkdir)\b|require\('fs'\)/;
  const offenders: string[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    readFileSync(path.join(dir, f), 'utf8').split('\n').forEach((line, i) => {
      if (forbidden.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
  const plan = readFileSync(path.join(dir, 'planCommands.ts'), 'utf8');
  const targets = readFileSync(path.join(dir, 'targetCommands.ts'), 'utf8');
  assert.match(plan, /writeEditorTextFile\(uri\.fsPath, text, inputs\)/);
  assert.match(targets, /writeEditorTextFile\(file, text,/);
});
