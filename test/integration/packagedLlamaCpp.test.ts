/**
 * The packaged extension runs GGUF models in llama.cpp (issue 10): `npm run package` builds the linux-x64 .vsix, the
 * test unpacks it into a temporary folder (as VS Code installs it: the zip's extension/ folder) and starts the task
 * process from there, with nothing of the repository's node_modules on its resolution path. From that layout
 * llamaCppAvailable() must be true, a per-layer KL measurement and a plan verification must run in llama.cpp, and
 * the evaluation process must have loaded llama.cpp's binaries from the unpacked package (read from its
 * /proc/<pid>/maps), not from a checkout. Also: the package carries only the CPU binaries (no CUDA, Vulkan or Metal)
 * and no node-llama-cpp JavaScript outside the bundles. Linux x64 only (the platform whose package CI builds).
 * Needs python3 (unzips the .vsix) and ../shared/models/gguf/stories260K.gguf.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assignmentWeightBytes, harmFromSensitivity, solveModel, uniformBaseline } from '../../src/core';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { TaskClient, llamaCppResolvable } from '../../src/node/taskClient';
import { loadModel } from './helpers/run';
import { SHARED_MODELS } from './sharedModels';

const REPO = path.resolve(__dirname, '../..');
const STORIES = path.join(SHARED_MODELS, 'gguf/stories260K.gguf');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

const load = loadModel;

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out.sort();
}

/**
 * Watches for a process running `script` and records the llama.cpp libraries it maps (llama-addon.node, libllama*,
 * libggml*), until stopped.
 */
function watchMappedLibraries(script: string): { stop(): Promise<{ seen: boolean; libraries: Set<string> }> } {
  const libraries = new Set<string>();
  let seen = false;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of await fs.readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (!cmdline.split('\0').includes(script)) continue;
        seen = true;
        const maps = await fs.readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
        for (const line of maps.split('\n')) {
          const file = line.slice(line.indexOf('/'));
          if (line.includes('/') && /(?:llama-addon\.node|libllama[^/]*\.so|libggml[^/]*\.so)$/.test(file)) libraries.add(file);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { seen, libraries };
    },
  };
}

test('the linux-x64 .vsix, unpacked: llama.cpp is available and measures and verifies a GGUF from the package alone', { skip: !linuxX64 && 'llama.cpp is packaged and checked for linux-x64', timeout: 600_000 }, async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-vsix-llama-'));
  const client: { current?: TaskClient } = {};
  try {
    const vsix = path.join(dir, 'precision-lens.vsix');
    execFileSync(process.execPath, [path.join(REPO, 'scripts/package.mjs'), '--target', 'linux-x64', '--out', vsix], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('python3', ['-m', 'zipfile', '-e', vsix, path.join(dir, 'unpacked')]);
    const ext = path.join(dir, 'unpacked', 'extension');
    // Nothing above the unpacked folder may provide packages (the test would then not prove the package suffices).
    for (let d = path.dirname(ext); d !== path.dirname(d); d = path.dirname(d)) assert.ok(!existsSync(path.join(d, 'node_modules')), `${d}/node_modules exists`);

    const files = await filesUnder(ext);
    const llamaFiles = files.filter((f) => /node-llama-cpp/.test(f));
    assert.ok(files.includes('node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node'), 'the CPU binding is shipped');
    assert.deepEqual(llamaFiles.filter((f) => !f.startsWith('node_modules/@node-llama-cpp/linux-x64/') && !f.startsWith('node_modules/node-llama-cpp/')), []);
    assert.deepEqual(files.filter((f) => /cuda|vulkan|metal|node_modules\/@node-llama-cpp\/(?!linux-x64\/)/i.test(f)), [], 'no GPU or other-platform binaries');
    assert.deepEqual(files.filter((f) => f.startsWith('node_modules/node-llama-cpp/')), ['node_modules/node-llama-cpp/LICENSE', 'node_modules/node-llama-cpp/llama/binariesGithubRelease.json', 'node_modules/node-llama-cpp/llama/llama.cpp.info.json', 'node_modules/node-llama-cpp/package.json'], 'only its data: its JavaScript is in dist/llama-cpp/');
    assert.ok(files.includes('dist/llama-cpp/index.mjs') && files.includes('dist/llama-cpp/testBindingBinary.mjs') && files.includes('dist/llamaEval.js'));
    const notices = await fs.readFile(path.join(ext, 'ThirdPartyNotices.txt'), 'utf8');
    for (const name of ['node-llama-cpp', '@node-llama-cpp/linux-x64']) assert.match(notices, new RegExp(`^${name.replace(/[./]/g, '\\$&')} 3\\.21\\.1\\nLicense: MIT`, 'm'));
    assert.match(notices, /^--- llama\.cpp and ggml LICENSE ---\nMIT License\n\nCopyright \(c\) 2023-\d{4} The ggml authors/m);

    const entry = path.join(ext, 'dist', 'hostTasks.js');
    assert.equal(llamaCppResolvable(entry), true);
    client.current = new TaskClient({ entry: { file: entry, execArgv: [] } });
    assert.equal(client.current.llamaCppAvailable(), true, 'the editor offers the GGUF lenses and commands');

    const watch = watchMappedLibraries(path.join(ext, 'dist', 'llamaEval.js'));
    const measured = await client.current.measureGgufSensitivity({ modelPath: STORIES, formats: ['q8_0'], layerBudget: 2, cacheDir: false, contextSize: 64 });
    const { seen, libraries } = await watch.stop();
    const kl = measured.layers.flatMap((l) => Object.values(l.formats).map((f) => f.klDivergence).filter((v): v is number => v !== undefined));
    assert.equal(kl.length, 2, 'two sampled layers measured in q8_0');
    for (const v of kl) assert.ok(v > 0 && v < 0.1, `q8_0 KL ${v}`);
    assert.ok(seen, 'the evaluation process ran the packaged dist/llamaEval.js');
    assert.ok([...libraries].some((l) => l.endsWith('/llama-addon.node')), `llama.cpp was loaded: ${[...libraries].join(', ')}`);
    const binaries = path.join(ext, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
    assert.deepEqual([...libraries].filter((l) => !l.startsWith(`${binaries}/`)), [], 'every llama.cpp library mapped comes from the unpacked package');

    const model = await load(STORIES);
    const formats = ['fp16', 'q8_0', 'q4_k', 'q5_0', 'q4_0'];
    const report = await analyzeModelSensitivity(STORIES, { formats, workers: 0 });
    const budget = assignmentWeightBytes(model, uniformBaseline(model, 'q4_k')!.assignment);
    const solver = solveModel(model, { formats, harm: harmFromSensitivity(report), weightBudgetBytes: budget }).assignment;
    const r = await client.current.verifyGgufPlan({ modelPath: STORIES, report, weightBudgetBytes: budget, formats, native: [], allowEmulated: true, pinned: {}, solverAssignment: solver, maxCandidates: 3 });
    assert.match(r.measurement.runtime, /llama\.cpp/);
    assert.ok(r.best.klDivergence !== undefined && r.best.klDivergence >= 0 && r.best.klDivergence < 1, `delivered KL ${r.best.klDivergence}`);
    assert.ok(r.best.weightBytes <= budget);
  } finally {
    client.current?.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
