/**
 * Corpus test (STYLE.md §6): every file of the real-model corpus is opened through the public path
 * (openModel + FileByteSource/FolderSiblings) and checked against test/fixtures/corpus.json, whose figures
 * come from /work/shared/models/SOURCES.md (see its `_about`). Error entries mutate a real file in memory and
 * require the exact one-sentence error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { MemoryByteSource, MemorySiblings, ModelFormatError, SNIFF_BYTES, detectFormat, openModel, type Model } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { layerWeights, tensorLocation } from '../../src/core';
import { SHARED_MODELS } from './sharedModels';

const MODELS = SHARED_MODELS;

interface CorpusAssert {
  readonly parameterCount: number;
  readonly tensorCount: number;
  readonly nodeCount: number;
  readonly weightBytes: number;
  readonly layerCount?: number;
}
interface CorpusEntry {
  readonly file: string;
  readonly format: string | null;
  readonly assert?: CorpusAssert;
  readonly error?: string;
  readonly mutate?: { readonly truncate?: number; readonly write?: readonly { offset: number; hex: string }[]; readonly rename?: string };
}

const corpus = JSON.parse(readFileSync(path.resolve(__dirname, '../fixtures/corpus.json'), 'utf8')) as { entries: CorpusEntry[] };

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(path.join(dir, name)).isDirectory()) out.push(...listFiles(path.join(dir, name), rel));
    else if (name !== 'SOURCES.md') out.push(rel);
  }
  return out;
}

/** Applies an entry's in-memory mutation. */
function mutate(bytes: Uint8Array, m: NonNullable<CorpusEntry['mutate']>): Uint8Array {
  const out = bytes.slice(0, m.truncate ?? bytes.length);
  for (const w of m.write ?? []) out.set(Buffer.from(w.hex, 'hex'), w.offset);
  return out;
}

/** IR invariants every reader must keep, whatever the format. */
function checkInvariants(file: string, m: Model): void {
  let bytes = 0;
  for (const t of m.tensors) bytes += t.byteLength;
  assert.equal(m.weightBytes, bytes, `${file}: weightBytes is the sum of tensor byteLength`);
  assert.equal(m.totalFileBytes, m.files.reduce((s, f) => s + f.byteLength, 0), `${file}: totalFileBytes is the sum of files`);
  const names = new Set(m.tensors.map((t) => t.name));
  assert.equal(names.size, m.tensors.length, `${file}: tensor names are unique`);
  const layerNames = new Set(m.layers.map((l) => l.name));
  assert.equal(layerNames.size, m.layers.length, `${file}: layer names are unique`);
  for (const l of m.layers) for (const w of layerWeights(l)) assert.ok(names.has(w), `${file}: layer ${l.name} weight ${w} is a tensor`);
  for (const t of m.tensors) {
    if (!tensorLocation(t)) continue;
    const f = t.file === '' ? m.files[0]! : m.files.find((x) => x.path === t.file!);
    assert.ok(f, `${file}: tensor ${t.name} lives in a listed file`);
    assert.ok(t.byteOffset >= 0 && t.byteOffset + t.byteLength <= f.byteLength, `${file}: tensor ${t.name} range is inside its file`);
  }
  assert.doesNotThrow(() => JSON.stringify(m), `${file}: the IR is JSON-safe`);
}

test('corpus.json covers every file of the shared corpus', () => {
  const files = listFiles(MODELS);
  assert.equal(files.length, 22, 'SOURCES.md lists 22 files');
  const covered = new Set(corpus.entries.filter((e) => !e.mutate).map((e) => e.file));
  assert.deepEqual(files.filter((f) => !covered.has(f)), []);
});

for (const entry of corpus.entries) {
  const label = `${entry.file}${entry.mutate ? ` (mutated: ${JSON.stringify(entry.mutate)})` : ''}`;
  test(`corpus: ${label}`, async () => {
    assert.ok((entry.assert === undefined) !== (entry.error === undefined), 'an entry has assert or error');
    const full = path.join(MODELS, entry.file);
    let model: Model | undefined;
    let failure: unknown;
    let head: Uint8Array;
    let name = path.basename(full);
    if (entry.mutate) {
      const bytes = mutate(new Uint8Array(readFileSync(full)), entry.mutate);
      name = entry.mutate.rename ?? name;
      head = bytes.subarray(0, SNIFF_BYTES);
      try {
        model = await openModel(new MemoryByteSource(name, bytes), { siblings: new MemorySiblings(name, {}) });
      } catch (e) {
        failure = e;
      }
    } else {
      const opened = await openModelFile(full);
      try {
        head = await opened.source.read(0, Math.min(SNIFF_BYTES, opened.source.size));
        model = await openModel(opened.source, { siblings: opened.siblings });
      } catch (e) {
        failure = e;
        head = new Uint8Array(0);
      } finally {
        await opened.close();
      }
    }
    if (entry.error !== undefined) {
      assert.equal(detectFormat(head, name) ?? null, entry.format, 'sniffed format');
      assert.ok(failure instanceof ModelFormatError, `expected ModelFormatError, got ${failure instanceof Error ? failure.stack : String(failure)}`);
      assert.equal(failure.message, entry.error);
      return;
    }
    if (failure) throw failure;
    assert.ok(model);
    const a = entry.assert!;
    assert.equal(model.format, entry.format);
    assert.deepEqual(
      { parameterCount: model.parameterCount, tensorCount: model.tensorCount, nodeCount: model.nodeCount, weightBytes: model.weightBytes },
      { parameterCount: a.parameterCount, tensorCount: a.tensorCount, nodeCount: a.nodeCount, weightBytes: a.weightBytes },
    );
    if (a.layerCount !== undefined) assert.equal(model.layers.length, a.layerCount, 'layer count');
    checkInvariants(entry.file, model);
  });
}
