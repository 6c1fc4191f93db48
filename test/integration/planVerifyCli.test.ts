import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers/run';
import { SHARED_MODELS } from './sharedModels';

const MNIST = path.join(SHARED_MODELS, 'onnx/mnist-12.onnx');

test('plan --verify: the written plan is the best measured candidate and fits the budget', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-verify-'));
  try {
    const model = path.join(dir, 'mnist-12.onnx');
    await fs.copyFile(MNIST, model);
    const r = await cli('plan', model, '--target', 'h100', '--avg-bits', '6', '--verify', '--json');
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    const v = doc.verification;
    assert.ok(v, 'verification reported');
    assert.equal(v.candidates[0].id, 'solver');
    assert.ok(v.candidates.length >= 2 && v.candidates.length <= 16);
    for (const c of v.candidates) {
      assert.ok(c.weightBytes <= doc.budget.weightBudgetBytes, `${c.id} fits`);
      if (c.measuredOutputSqnrDb !== null) assert.ok(v.measuredOutputSqnrDb >= c.measuredOutputSqnrDb, `${c.id}`);
    }
    assert.equal(doc.delivered.source, v.delivered);
    assert.ok(doc.delivered.weightBytes <= doc.budget.weightBudgetBytes);
    const written = JSON.parse(await fs.readFile(doc.planFile, 'utf8'));
    assert.deepEqual(written.layers, doc.plan.layers);

    const text = await cli('plan', model, '--target', 'h100', '--avg-bits', '6', '--verify', '--dry-run');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /verified with onnxruntime-node \(\d+ candidate plans?, \d+ samples, [\d.]+ s\): output SQNR predicted [\d.]+ dB · measured [\d.]+ dB/);
    assert.match(text.out, /delivered: .* of layer weights/);

    assert.equal((await cli('plan', model, '--target', 'h100', '--verify', '--no-verify')).code, 2);
    assert.equal((await cli('plan', model, '--target', 'h100', '--verify', '--max-candidates', '0')).code, 2);
    assert.equal((await cli('plan', model, '--target', 'h100', '--verify', '--max-candidates', '100000')).code, 2);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('plan verifies small ONNX models by default; --no-verify and non-ONNX models skip it', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-autoverify-'));
  try {
    const model = path.join(dir, 'mnist-12.onnx');
    await fs.copyFile(MNIST, model);
    const auto = await cli('plan', model, '--target', 'h100', '--avg-bits', '6', '--dry-run', '--json');
    assert.equal(auto.code, 0, auto.err);
    assert.ok(JSON.parse(auto.out).verification, 'verified by default');
    const skipped = await cli('plan', model, '--target', 'h100', '--avg-bits', '6', '--dry-run', '--json', '--no-verify');
    assert.equal(skipped.code, 0, skipped.err);
    assert.equal(JSON.parse(skipped.out).verification ?? null, null);
    const gguf = await cli('plan', path.join(SHARED_MODELS, 'gguf/stories260K.gguf'), '--target', 'h100', '--avg-bits', '8', '--dry-run', '--json');
    assert.equal(gguf.code, 0, gguf.err);
    assert.equal(JSON.parse(gguf.out).verification ?? null, null);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
