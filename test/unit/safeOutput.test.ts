/**
 * Safe outputs (issue 14, "apply can destroy the input"): destinations are compared with inputs by device and
 * inode, outputs go through a temporary file renamed into place, and a failed write leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryByteSource, openModel } from '../../src/core';
import { applyPlanToOnnx } from '../../src/node/applyOnnx';
import { openModelFile } from '../../src/node/fileByteSource';
import { OutputError, refuseInputAliases, writeOutputFile, writeOutputFiles } from '../../src/node/safeOutput';
import { encodeModel, externalTensor, graph, model as onnxModel, node, value } from '../fixtures/buildOnnx';
import { buildMatMulModel } from '../fixtures/planOnnx';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-safe-out-'));
  try {
    await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const isOutputError = (code: string) => (e: unknown): boolean => e instanceof OutputError && e.code === code && !e.message.includes('\n');

test('a destination that is the input by hard link, symlink or symlinked folder is refused; other paths are not', async () => {
  await withDir(async (dir) => {
    const input = path.join(dir, 'in', 'm.onnx');
    await fs.mkdir(path.dirname(input));
    await fs.writeFile(input, 'model');
    await fs.link(input, path.join(dir, 'hard.onnx'));
    await fs.symlink(input, path.join(dir, 'soft.onnx'));
    await fs.symlink(path.join(dir, 'in'), path.join(dir, 'folder'));
    for (const d of ['hard.onnx', 'soft.onnx', 'folder/m.onnx', 'in/../in/m.onnx']) {
      await assert.rejects(refuseInputAliases([path.join(dir, d)], [input]), isOutputError('output-is-input'), d);
      await assert.rejects(writeOutputFile(path.join(dir, d), 'x', { inputs: [input] }), isOutputError('output-is-input'), d);
    }
    assert.equal(await fs.readFile(input, 'utf8'), 'model');
    await refuseInputAliases([path.join(dir, 'new.onnx'), path.join(dir, 'folder', 'other.onnx')], [input]);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['folder', 'hard.onnx', 'in', 'soft.onnx']);
  });
});

test('a successful write replaces the destination entry, never the file a link points at', async () => {
  await withDir(async (dir) => {
    const other = path.join(dir, 'other.txt');
    await fs.writeFile(other, 'keep me');
    const dest = path.join(dir, 'out.txt');
    await fs.symlink(other, dest);
    await writeOutputFile(dest, 'new', { inputs: [] });
    assert.equal(await fs.readFile(dest, 'utf8'), 'new');
    assert.equal(await fs.readFile(other, 'utf8'), 'keep me');
    assert.equal((await fs.lstat(dest)).isSymbolicLink(), false);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['other.txt', 'out.txt'], 'no temporary left');
  });
});

test('a full disk (ENOSPC) or a cancelled commit gives one line and leaves no partial file', async () => {
  await withDir(async (dir) => {
    const dest = path.join(dir, 'out.onnx');
    await fs.writeFile(dest, 'previous');
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    await assert.rejects(
      writeOutputFiles([{ path: `${dest}.data`, write: async (h) => { await h.write(new Uint8Array(4096)); throw enospc; } }, { path: dest, data: 'm' }], { inputs: [] }),
      (e: unknown) => isOutputError('disk-full')(e) && /out\.onnx\.data: no space left .*ENOSPC.*nothing was written\.$/.test((e as Error).message),
    );
    await assert.rejects(writeOutputFiles([{ path: dest, data: 'new' }], { inputs: [], beforeCommit: () => { throw new Error('cancelled'); } }), /cancelled/);
    assert.equal(await fs.readFile(dest, 'utf8'), 'previous');
    assert.deepEqual(await fs.readdir(dir), ['out.onnx']);
    await assert.rejects(writeOutputFile(dest, 'x', { inputs: [], overwrite: false }), isOutputError('output-exists'));
  });
});

test('apply refuses an output that is a hard link to the input, or whose .data companion links to the input data', async () => {
  await withDir(async (dir) => {
    const bytes = buildMatMulModel({ k: 64, n: 16, opset: 13, seed: 1 });
    const input = path.join(dir, 'm.onnx');
    await fs.writeFile(input, bytes);
    const model = await openModel(new MemoryByteSource('m.onnx', bytes));
    await fs.link(input, path.join(dir, 'hard.onnx'));
    const assignment = Object.fromEntries(model.layers.map((l) => [l.name, 'int8']));
    await assert.rejects(applyPlanToOnnx(input, model, assignment, path.join(dir, 'hard.onnx')), isOutputError('output-is-input'));
    assert.deepEqual(await fs.readFile(input), Buffer.from(bytes));

    // External data: the input's weights live in w.bin; `out.onnx.data` is reached through a symlinked folder.
    const ext = path.join(dir, 'ext');
    await fs.mkdir(ext);
    const weights = new Float32Array(64 * 16).map((_, i) => Math.sin(i));
    await fs.writeFile(path.join(ext, 'w.bin'), new Uint8Array(weights.buffer));
    const g = graph([node('MatMul', ['X', 'W'], ['Y'], { name: 'mm' })], { initializers: [externalTensor('W', [64, 16], 'w.bin', 0, weights.byteLength)], inputs: [value('X', 'FLOAT', [1, 64])], outputs: [value('Y', 'FLOAT', [1, 16])] });
    const extBytes = encodeModel(onnxModel(g, { opset: 13 }));
    const extInput = path.join(ext, 'e.onnx');
    await fs.writeFile(extInput, extBytes);
    const opened = await openModelFile(extInput);
    const extModel = await openModel(opened.source, { siblings: opened.siblings });
    await opened.close();
    await fs.symlink(path.join(ext, 'w.bin'), path.join(dir, 'o.onnx.data'));
    const before = await fs.readFile(path.join(ext, 'w.bin'));
    await assert.rejects(applyPlanToOnnx(extInput, extModel, { mm: 'int8' }, path.join(dir, 'o.onnx'), { externalDataThresholdBytes: 1 }), isOutputError('output-is-input'));
    assert.deepEqual(await fs.readFile(path.join(ext, 'w.bin')), before);
    // A legitimate output next to it works and leaves no temporaries.
    const r = await applyPlanToOnnx(extInput, extModel, { mm: 'int8' }, path.join(dir, 'ok.onnx'), { externalDataThresholdBytes: 1 });
    assert.ok(r.externalDataPath && r.externalDataBytes > 0);
    assert.deepEqual((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
  });
});
