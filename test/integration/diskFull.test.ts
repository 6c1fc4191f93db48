/**
 * A real full disk (issue 14): a small tmpfs is mounted (only when the test runs as root and mounting works;
 * otherwise the test is skipped and the unit tier's simulated ENOSPC in test/unit/safeOutput.test.ts remains) and
 * plan / export / apply (ONNX and GGUF) write into it. Each must fail with one line on stderr, exit 2, and leave no
 * partial or temporary file in the folder; an existing output there is kept as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeEditorTextFile } from '../../src/node/editorWrites';
import { OutputError } from '../../src/node/safeOutput';
import { cli } from './helpers/run';
import { SHARED_MODELS } from './sharedModels';

const SHARED = SHARED_MODELS;
let dir = '';
let full = '';
let mounted = false;
let skip: string | false = false;

/** Fills the mounted folder: a filler file grows until the disk refuses it. */
async function fill(): Promise<void> {
  for (const f of await fs.readdir(full)) await fs.rm(path.join(full, f));
  const h = await fs.open(path.join(full, 'filler'), 'w');
  try {
    for (;;) await h.write(new Uint8Array(4096));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    await h.close();
  }
}

/** Fills the disk while keeping `keep`. */
async function fillAround(keep: string): Promise<void> {
  const h = await fs.open(path.join(full, 'filler'), 'w');
  try {
    for (;;) await h.write(new Uint8Array(512));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    await h.close();
  }
  assert.ok(await fs.stat(keep));
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-disk-full-'));
  full = path.join(dir, 'full');
  await fs.mkdir(full);
  if (process.getuid?.() !== 0) {
    skip = 'needs root to mount a tmpfs';
    return;
  }
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', full], { stdio: 'pipe' });
    mounted = true;
  } catch (e) {
    skip = `cannot mount a tmpfs here (${String((e as Error).message).split('\n')[0]})`;
  }
});

after(async () => {
  if (mounted) execFileSync('umount', [full]);
  await fs.rm(dir, { recursive: true, force: true });
});

function assertOneLineDiskFull(r: { code: number; err: string }, what: string): void {
  assert.equal(r.code, 2, `${what}: ${r.err}`);
  // Warnings about the plan may come first (e.g. "2 layer(s) use fp16"); the failure itself is one line, the last.
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.filter((l) => /no space|ENOSPC|internal error|^\s+at /.test(l)).length, 1, `${what}: one line, got ${r.err}`);
  assert.match(lines.at(-1)!, /^precision-lens: [^:]+: no space left for the output \(ENOSPC\); nothing was written\.$/, what);
}

test('ONNX and GGUF plan/export/apply on a really full disk: one line, exit 2, nothing partial left', async (t) => {
  if (skip) return t.skip(skip);
  for (const [src, name] of [[`${SHARED}/onnx/mnist-12.onnx`, 'mnist-12.onnx'], [`${SHARED}/gguf/stories260K.gguf`, 'stories260K.gguf']] as const) {
    const model = path.join(dir, name);
    await fs.copyFile(src, model);
    const planFile = path.join(dir, `${name}.precision.json`);
    const p = await cli('plan', model, '--target', 'h100', '--avg-bits', '16', '--no-verify', '--output', planFile);
    assert.equal(p.code, 0, p.err);
    const out = name.endsWith('.onnx') ? 'out.onnx' : 'out.gguf';

    // 1. The output is larger than the whole disk: the write itself hits ENOSPC part-way through.
    const big = await cli('apply', model, planFile, '--output', path.join(full, out), '--no-measure', '--force');
    assertOneLineDiskFull(big, `apply ${name} (larger than the disk)`);
    assert.deepEqual(await fs.readdir(full), [], `apply ${name}: no partial or temporary file`);

    // 2. The disk is already full: even a plan or an export script cannot be written.
    await fill();
    const before = (await fs.readdir(full)).sort();
    assertOneLineDiskFull(await cli('plan', model, '--target', 'h100', '--avg-bits', '16', '--no-verify', '--output', path.join(full, 'p.precision.json')), `plan ${name}`);
    assertOneLineDiskFull(await cli('export', planFile, '--to', name.endsWith('.onnx') ? 'ort' : 'llama.cpp', '--output', path.join(full, 'export.sh')), `export ${name}`);
    assertOneLineDiskFull(await cli('apply', model, planFile, '--output', path.join(full, out), '--no-measure', '--force'), `apply ${name} (full disk)`);
    assert.deepEqual((await fs.readdir(full)).sort(), before, `${name}: nothing left behind`);
    await fs.rm(path.join(full, 'filler'));
  }
});

test('an existing output on a full disk is kept intact when the new one cannot be written', async (t) => {
  if (skip) return t.skip(skip);
  const model = path.join(dir, 'mnist-12.onnx');
  await fs.copyFile(`${SHARED}/onnx/mnist-12.onnx`, model);
  const planFile = path.join(dir, 'keep.precision.json');
  assert.equal((await cli('plan', model, '--target', 'h100', '--avg-bits', '16', '--no-verify', '--output', planFile)).code, 0);
  for (const f of await fs.readdir(full)) await fs.rm(path.join(full, f));
  const existing = path.join(full, 'existing.precision.json');
  await fs.writeFile(existing, 'previous plan');
  await fillAround(existing);
  assertOneLineDiskFull(await cli('plan', model, '--target', 'h100', '--avg-bits', '16', '--no-verify', '--output', existing), 'plan over an existing file');
  assert.equal(await fs.readFile(existing, 'utf8'), 'previous plan');
  await fs.rm(path.join(full, 'filler'));
});

test("the extension's plan write (src/node/editorWrites) on a full disk: one-sentence error, previous file intact", async (t) => {
  if (skip) return t.skip(skip);
  for (const f of await fs.readdir(full)) await fs.rm(path.join(full, f));
  const plan = path.join(full, 'm.onnx.precision.json');
  await fs.writeFile(plan, 'previous');
  await fillAround(plan);
  await assert.rejects(writeEditorTextFile(plan, 'x'.repeat(8192), []), (e: unknown) => e instanceof OutputError && e.code === 'disk-full' && !e.message.includes('\n'));
  assert.equal(await fs.readFile(plan, 'utf8'), 'previous');
  assert.deepEqual((await fs.readdir(full)).sort(), ['filler', 'm.onnx.precision.json']);
});
