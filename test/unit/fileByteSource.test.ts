import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, symlinkSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FileByteSource, FolderSiblings } from '../../src/node/fileByteSource';

test('FileByteSource keeps at most 64 handles open and reopens evicted ones transparently', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pl-fbs-'));
  try {
    const sources: FileByteSource[] = [];
    for (let i = 0; i < 200; i++) {
      const f = path.join(dir, `s${i}.bin`);
      writeFileSync(f, Buffer.from([i & 255, 1, 2, 3]));
      sources.push(await FileByteSource.open(f));
    }
    // Interleaved concurrent reads across all 200 sources.
    const firsts = await Promise.all(sources.map(async (s) => (await s.read(0, 1))[0]));
    assert.deepEqual(firsts, sources.map((_, i) => i & 255));
    assert.equal((await sources[0]!.read(1, 3)).join(','), '1,2,3');
    await Promise.all(sources.map((s) => s.close()));
    await assert.rejects(sources[0]!.read(0, 1), /was closed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FolderSiblings refuses a symlink that leaves the folder, and never reads it', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'pl-sib-'));
  try {
    mkdirSync(path.join(root, 'model'));
    writeFileSync(path.join(root, 'secret.bin'), 'secret');
    writeFileSync(path.join(root, 'model', 'ok.bin'), 'ok');
    symlinkSync(path.join(root, 'secret.bin'), path.join(root, 'model', 'link.bin'));
    const s = FolderSiblings.forModel(path.join(root, 'model', 'm.onnx'));
    assert.equal((await s.open('ok.bin')).size, 2);
    await assert.rejects(s.open('link.bin'), /m\.onnx: refusing external path 'link\.bin': it resolves outside the model folder\./);
    await assert.rejects(s.open('../secret.bin'), /leaves the model folder/);
    await assert.rejects(s.open('missing.bin'), /external file 'missing\.bin' does not exist/);
    assert.equal(await s.exists('link.bin'), false);
    await s.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
