import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LLAMA_CPP_PACKAGE, llamaCppCpuPackage, llamaCppResolvable, TaskClient } from '../../src/node/taskClient';

async function writeFile(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text);
}

// The editor offers GGUF runs (lenses, buttons, commands) only where the task process can load llama.cpp; an
// installation without it (universal .vsix, a platform with no CPU build) must say so instead of failing to load.
test('from sources: the llama.cpp binding is found only where the task script would resolve its package', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-llama-avail-'));
  try {
    const entry = path.join(dir, 'ext', 'src', 'worker', 'hostTasks.ts');
    await writeFile(entry, '');
    assert.equal(llamaCppResolvable(entry), false);
    assert.equal(new TaskClient({ entry: { file: entry, execArgv: [] } }).llamaCppAvailable(), false);
    const pkg = path.join(dir, 'ext', 'node_modules', LLAMA_CPP_PACKAGE);
    await writeFile(path.join(pkg, 'package.json'), JSON.stringify({ name: LLAMA_CPP_PACKAGE, main: 'index.js' }));
    await writeFile(path.join(pkg, 'index.js'), '');
    assert.equal(llamaCppResolvable(entry), true);
    assert.equal(new TaskClient({ entry: { file: entry, execArgv: [] } }).llamaCppAvailable(), true);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('built (the .vsix layout): needs the llama-cpp bundle, the binding\'s package data and this platform\'s CPU binaries', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-llama-avail-'));
  try {
    const ext = path.join(dir, 'ext');
    const entry = path.join(ext, 'dist', 'hostTasks.js');
    await writeFile(entry, '');
    await writeFile(path.join(ext, 'dist', 'llamaEval.js'), '');
    await writeFile(path.join(ext, 'dist', 'llama-cpp', 'index.mjs'), '');
    assert.equal(llamaCppResolvable(entry, 'linux-x64'), false, 'no package data, no binaries');
    await writeFile(path.join(ext, 'node_modules', LLAMA_CPP_PACKAGE, 'package.json'), JSON.stringify({ name: LLAMA_CPP_PACKAGE, version: '3.21.1' }));
    assert.equal(llamaCppResolvable(entry, 'linux-x64'), false, 'no binaries');
    const cpu = llamaCppCpuPackage('linux-x64')!;
    assert.match(cpu, /^@[\w-]+\/linux-x64$/);
    const bins = path.join(ext, 'node_modules', ...cpu.split('/'));
    await writeFile(path.join(bins, 'package.json'), JSON.stringify({ name: cpu, main: 'dist/index.js' }));
    await writeFile(path.join(bins, 'dist', 'index.js'), '');
    assert.equal(llamaCppResolvable(entry, 'linux-x64'), true);
    assert.equal(llamaCppCpuPackage('darwin-arm64'), undefined);
    assert.equal(llamaCppResolvable(entry, 'darwin-arm64'), false, 'macOS arm64 has no CPU build');
    assert.equal(llamaCppResolvable(entry, 'win32-x64'), false, 'another platform\'s binaries are not shipped');
    // The bundle is what the evaluation process imports: without it, the binding's folder holding only data is not enough.
    await fs.rm(path.join(ext, 'dist', 'llama-cpp'), { recursive: true });
    assert.equal(llamaCppResolvable(entry, 'linux-x64'), false);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
