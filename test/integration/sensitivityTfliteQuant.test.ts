import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { DEFAULT_LIMITS, openModel } from '../../src/core';
import { openModelFile } from '../../src/node/fileByteSource';
import { analyzeModelSensitivity } from '../../src/node/sensitivityRunner';
import { SHARED_MODELS } from './sharedModels';

const MODEL = path.join(SHARED_MODELS, 'tflite/person_detect.tflite');

test('per-channel scales kept only as a summary are loaded in full before dequantizing (same sensitivity)', async () => {
  const f = await openModelFile(MODEL);
  try {
    const full = await openModel(f.source, { siblings: f.siblings });
    // A model-wide budget of 8 values: every per-channel tensor after the first keeps a summary plus file ranges.
    const summarized = await openModel(f.source, { siblings: f.siblings, limits: { ...DEFAULT_LIMITS, maxQuantValuesTotal: 8 } });
    const truncated = summarized.tensors.filter((t) => t.quant && t.quant.scales.length < t.quant.scaleCount);
    assert.ok(truncated.length > 10, `expected summarized tensors, got ${truncated.length}`);
    const opts = { formats: ['int8', 'int4'], workers: 0 } as const;
    const a = await analyzeModelSensitivity({ model: full, source: f.source, siblings: f.siblings }, opts);
    const b = await analyzeModelSensitivity({ model: summarized, source: f.source, siblings: f.siblings }, opts);
    assert.equal(b.layers.length, a.layers.length);
    for (let i = 0; i < a.layers.length; i++) {
      for (const fmt of ['int8', 'int4']) {
        assert.equal(b.layers[i]!.formats[fmt]?.sqnrDb, a.layers[i]!.formats[fmt]?.sqnrDb, `${a.layers[i]!.layer} ${fmt}`);
      }
    }
    assert.ok(!b.warnings.some((w) => /scale/i.test(w)), b.warnings.join('\n'));
  } finally {
    await f.close();
  }
});
