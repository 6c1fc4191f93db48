/**
 * Conformance: every `.onnx` in Debian's libonnx-testdata (~1072 files from onnx's backend test suite) and in the
 * shared corpus parses, and node count, initializer count, parameter count, Constant-held elements and subgraph
 * count equal what Debian's python3-onnx reports. One python process computes all reference counts
 * (test/conformance/onnxReference.py, well under a second); the reader then runs in-process.
 * Requires python3-onnx and libonnx-testdata (installed by .ci/run); fails with a clear message without them.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openModel, type Model } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { SHARED_MODELS } from './sharedModels';

const PYTHON = '/usr/bin/python3';
const REFERENCE_SCRIPT = path.resolve(__dirname, '../conformance/onnxReference.py');
const CORPUS = path.join(SHARED_MODELS, 'onnx');

interface Reference {
  readonly nodes?: number;
  readonly inits?: number;
  readonly params?: number;
  readonly const?: number;
  readonly subgraphs?: number;
  readonly error?: string;
}

function testdataFiles(): string[] {
  let listing: string;
  try {
    listing = execFileSync('dpkg', ['-L', 'libonnx-testdata'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    throw new Error('The Debian package libonnx-testdata is required for the ONNX conformance test: apt-get install libonnx-testdata.');
  }
  return listing.split('\n').filter((f) => f.endsWith('.onnx') && existsSync(f));
}

function corpusFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (e.name.endsWith('.onnx')) out.push(path.join(dir, e.name));
    }
  };
  if (existsSync(CORPUS)) walk(CORPUS);
  return out;
}

function referenceCounts(files: readonly string[]): Record<string, Reference> {
  const r = spawnSync(PYTHON, [REFERENCE_SCRIPT], { input: files.join('\n'), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    throw new Error(`python3-onnx is required for the ONNX conformance test (apt-get install python3-onnx): ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`);
  }
  return JSON.parse(r.stdout) as Record<string, Reference>;
}

function constElements(m: Model): number {
  return m.tensors.filter((t) => t.origin === 'constant').reduce((s, t) => s + t.elementCount, 0);
}

test('libonnx-testdata and the corpus: counts equal python3-onnx for every file', async () => {
  const testdata = testdataFiles();
  assert.ok(testdata.length >= 1000, `expected ~1072 testdata models, found ${testdata.length}`);
  const files = [...testdata, ...corpusFiles()];
  const reference = referenceCounts(files);
  const problems: string[] = [];
  let compared = 0;
  for (const file of files) {
    const ref = reference[file];
    if (!ref || ref.error) {
      problems.push(`${file}: python3-onnx could not load it (${ref?.error ?? 'no result'})`);
      continue;
    }
    const opened = await openModelFile(file);
    try {
      const m = await openModel(opened.source, { siblings: opened.siblings });
      const got = { nodes: m.nodeCount, inits: m.tensorCount, params: m.parameterCount, const: constElements(m), subgraphs: m.graphs.length - 1 };
      const want = { nodes: ref.nodes, inits: ref.inits, params: ref.params, const: ref.const, subgraphs: ref.subgraphs };
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${file}: got ${JSON.stringify(got)}, python3-onnx ${JSON.stringify(want)}`);
      if (new Set(m.layers.map((l) => l.name)).size !== m.layers.length) problems.push(`${file}: duplicate layer names`);
      JSON.stringify(m);
      compared++;
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
    } finally {
      await opened.close();
    }
  }
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
  assert.equal(compared, files.length);
});
