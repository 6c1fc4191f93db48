/**
 * One sensitivity run per open model (issue 12): the inspector document analyzes through the host's
 * SensitivityCache, over the model the ModelCache parsed, so the plan lenses, plan generation and the sensitivity
 * view reuse the document's run. Counted: parses and sensitivity runs.
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

test('the inspector, the lenses and plan generation share one parse and one sensitivity run', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-onerun-'));
  try {
    const file = path.join(dir, 'tiny.gguf');
    await fs.writeFile(file, llamaGguf({ blocks: 1 }).bytes);
    const models = new ModelCache(loadModel);
    let runs = 0;
    const analyze: typeof analyzeModelSensitivity = (input, options) => {
      runs++;
      return analyzeModelSensitivity(input, { ...options, workers: 0 });
    };
    const cache = new SensitivityCache(analyze, models);
    const model = await models.get(file);
    const doc = await ModelDocument.open({} as never, await openModelFile(file), undefined, sharedSensitivityAnalyzer(file, model, (p, f, t, cb) => cache.get(p, f, t, cb)), model);
    try {
      const shown = await doc.sensitivity({ isCancellationRequested: false }, () => undefined);
      const lenses = await cache.get(file, sensitivityFormats(model, []));
      const plan = await cache.get(file, requestFormats(model, { target: getTarget('h100')!, budget: { avgBits: 6 }, batch: 1, kvFormat: 'fp16', allowEmulated: false, previous: [] }));
      assert.equal(runs, 1, 'one sensitivity run');
      assert.equal(models.parseCount, 1, 'one parse');
      assert.equal(lenses, shown);
      assert.equal(plan, shown);
      assert.equal(cache.peek(file), shown);
    } finally {
      doc.dispose();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
