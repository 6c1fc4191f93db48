/**
 * One parse and one sensitivity run per open model in the host: the sensitivity cache analyzes the model the
 * ModelCache parsed (it opens the files only for the weights' bytes), and the inspector document analyzes through
 * that cache, so the inspector, lenses, plans, plan generation and sensitivity share one parse and one run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getTarget } from '../../src/core';
import { requestFormats, sensitivityFormats } from '../../src/host/editorPlan';
import { ModelCache, loadModel } from '../../src/host/modelCache';
import { ModelDocument, sharedSensitivityAnalyzer } from '../../src/host/modelDocument';
import { SensitivityCache } from '../../src/host/sensitivityCache';
import { openModelFile } from '../../src/node/fileByteSource';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { llamaGguf } from '../fixtures/buildGguf';

/** A tiny GGUF in a temp folder, a ModelCache and an analyzer that records each run's input ('path' or 'parsed model'). */
async function withTinyModel(fn: (file: string, models: ModelCache, analyze: typeof analyzeModelSensitivity, runs: string[]) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-oneparse-'));
  try {
    const file = path.join(dir, 'tiny.gguf');
    await fs.writeFile(file, llamaGguf({ blocks: 1 }).bytes);
    const runs: string[] = [];
    const analyze: typeof analyzeModelSensitivity = (input, options) => {
      runs.push(typeof input === 'string' ? 'path' : 'parsed model');
      return analyzeModelSensitivity(input, { ...options, workers: 0 });
    };
    await fn(file, new ModelCache(loadModel), analyze, runs);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('the sensitivity cache reuses the ModelCache parse instead of parsing the file again', () =>
  withTinyModel(async (file, models, analyze, runs) => {
    const cache = new SensitivityCache(analyze, models);
    const model = await models.get(file);
    const report = await cache.get(file, ['int8']);
    assert.equal(models.parseCount, 1, 'one parse for the model and its sensitivity');
    assert.deepEqual(runs, ['parsed model']);
    const names = new Set(model.layers.map((l) => l.name));
    assert.ok(report.layers.length > 0 && report.layers.every((l) => names.has(l.layer)));
    // Without a ModelCache the analyzer is given the path (and parses the file itself).
    await new SensitivityCache(analyze).get(file, ['int8']);
    assert.deepEqual(runs, ['parsed model', 'path']);
  }));

test('the inspector, the lenses and plan generation share one parse and one sensitivity run', () =>
  withTinyModel(async (file, models, analyze, runs) => {
    const cache = new SensitivityCache(analyze, models);
    const model = await models.get(file);
    const doc = await ModelDocument.open({} as never, await openModelFile(file), undefined, sharedSensitivityAnalyzer(file, model, (p, f, t, cb) => cache.get(p, f, t, cb)), model);
    try {
      const shown = await doc.sensitivity({ isCancellationRequested: false }, () => undefined);
      const lenses = await cache.get(file, sensitivityFormats(model, []));
      const plan = await cache.get(file, requestFormats(model, { target: getTarget('h100')!, budget: { avgBits: 6 }, batch: 1, kvFormat: 'fp16', allowEmulated: false, previous: [] }));
      assert.deepEqual(runs, ['parsed model'], 'one sensitivity run');
      assert.equal(models.parseCount, 1, 'one parse');
      assert.equal(lenses, shown);
      assert.equal(plan, shown);
      assert.equal(cache.peek(file), shown);
    } finally {
      doc.dispose();
    }
  }));
