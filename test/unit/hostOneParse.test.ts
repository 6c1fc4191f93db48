/**
 * One parse per open model in the host: the sensitivity cache analyzes the model the ModelCache parsed (it opens
 * the files only for the weights' bytes), so lenses, plans, plan generation and sensitivity share one parse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelCache, loadModel } from '../../src/host/modelCache';
import { SensitivityCache } from '../../src/host/sensitivityCache';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { llamaGguf } from '../fixtures/buildGguf';

test('the sensitivity cache reuses the ModelCache parse instead of parsing the file again', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-oneparse-'));
  try {
    const file = path.join(dir, 'tiny.gguf');
    await fs.writeFile(file, llamaGguf({ blocks: 1 }).bytes);
    const models = new ModelCache(loadModel);
    const inputs: string[] = [];
    const analyze: typeof analyzeModelSensitivity = (input, options) => {
      inputs.push(typeof input === 'string' ? 'path' : 'parsed model');
      return analyzeModelSensitivity(input, { ...options, workers: 0 });
    };
    const cache = new SensitivityCache(analyze, models);
    const model = await models.get(file);
    const report = await cache.get(file, ['int8']);
    assert.equal(models.parseCount, 1, 'one parse for the model and its sensitivity');
    assert.deepEqual(inputs, ['parsed model']);
    const names = new Set(model.layers.map((l) => l.name));
    assert.ok(report.layers.length > 0 && report.layers.every((l) => names.has(l.layer)));
    // Without a ModelCache the analyzer is given the path (and parses the file itself).
    await new SensitivityCache(analyze).get(file, ['int8']);
    assert.deepEqual(inputs, ['parsed model', 'path']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
