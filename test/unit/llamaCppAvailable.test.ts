import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LLAMA_CPP_PACKAGE, llamaCppResolvable, TaskClient } from '../../src/node/taskClient';

// The editor offers GGUF runs (lenses, buttons, commands) only where the task process can load the llama.cpp binding:
// a packaged extension does not ship it, and must say so instead of failing with a load error.
test('the llama.cpp binding is found only where the task script would resolve it', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-llama-avail-'));
  try {
    const packaged = path.join(dir, 'ext', 'dist');
    await fs.mkdir(packaged, { recursive: true });
    const entry = path.join(packaged, 'hostTasks.js');
    await fs.writeFile(entry, '');
    assert.equal(llamaCppResolvable(entry), false);
    assert.equal(new TaskClient({ entry: { file: entry, execArgv: [] } }).llamaCppAvailable(), false);
    const pkg = path.join(dir, 'ext', 'node_modules', LLAMA_CPP_PACKAGE);
    await fs.mkdir(pkg, { recursive: true });
    await fs.writeFile(path.join(pkg, 'package.json'), JSON.stringify({ name: LLAMA_CPP_PACKAGE, main: 'index.js' }));
    await fs.writeFile(path.join(pkg, 'index.js'), '');
    assert.equal(llamaCppResolvable(entry), true);
    assert.equal(new TaskClient({ entry: { file: entry, execArgv: [] } }).llamaCppAvailable(), true);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
