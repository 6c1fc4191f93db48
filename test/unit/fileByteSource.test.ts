import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, symlinkSync, mkdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ModelFormatError } from '../../src/core';
import { BlockingFileByteSource, FileByteSource, FolderSiblings } from '../../src/node/fileByteSource';

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

test('BlockingFileByteSource reads, refuses and fails as FileByteSource does (inspect reads its model with it)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pl-bfbs-'));
  try {
    const f = path.join(dir, 'm.bin');
    writeFileSync(f, Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 255)));
    const a = await FileByteSource.open(f);
    const b = BlockingFileByteSource.open(f);
    assert.equal(b.name, 'm.bin');
    assert.equal(b.size, a.size);
    for (const [offset, length] of [[0, 16], [7, 200], [299, 1], [300, 0]] as const) {
      assert.deepEqual(await b.read(offset, length), await a.read(offset, length));
      const into = new Uint8Array(length);
      await b.readInto(offset, into);
      assert.deepEqual(into, await a.read(offset, length));
    }
    assert.equal(b.bytesRead, a.bytesRead);
    // Out of range: the same error (code and message) from both.
    for (const [offset, length] of [[290, 20], [-1, 2], [0, 0.5]] as const) {
      const want = await a.read(offset, length).then(() => assert.fail('read'), (e: unknown) => e);
      await assert.rejects(b.read(offset, length), (e: unknown) => e instanceof ModelFormatError && e.code === (want as ModelFormatError).code && e.message === (want as ModelFormatError).message);
    }
    // The file shrinks after the open: 'truncated', naming the offset where it ended, from both.
    truncateSync(f, 100);
    const want = await a.read(50, 100).then(() => assert.fail('read'), (e: unknown) => e as ModelFormatError);
    assert.equal(want.code, 'truncated');
    await assert.rejects(b.read(50, 100), (e: unknown) => e instanceof ModelFormatError && e.code === 'truncated' && e.message === want.message);
    await a.close();
    await b.close();
    await assert.rejects(b.read(0, 1), /was closed/);
    // Not a regular file: refused before any read (a FIFO without a writer does not block the open), as openRegularFile does.
    execFileSync('mkfifo', [path.join(dir, 'fifo.onnx')]);
    mkdirSync(path.join(dir, 'dir.onnx'));
    for (const [name, kind] of [['fifo.onnx', 'a FIFO \\(named pipe\\)'], ['dir.onnx', 'a directory']] as const) {
      assert.throws(() => BlockingFileByteSource.open(path.join(dir, name)), (e: unknown) => e instanceof ModelFormatError && e.code === 'not-a-file' && new RegExp(`^${name.replace('.', '\\.')}: is ${kind}, not a regular file; refusing to read it\\.$`).test(e.message));
    }
    assert.throws(() => BlockingFileByteSource.open(path.join(dir, 'missing.onnx')), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' && (e as NodeJS.ErrnoException).path === path.join(dir, 'missing.onnx'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
