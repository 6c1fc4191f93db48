import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parsePlan } from '../../src/core';
import { cli } from './helpers/run';
import { SHARED_MODELS } from './sharedModels';

const MNIST = path.join(SHARED_MODELS, 'onnx/mnist-12.onnx');

test('plan → export → apply on mnist-12 through the CLI', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-cli-'));
  try {
    const model = path.join(dir, 'mnist-12.onnx');
    await fs.copyFile(MNIST, model);
    const planFile = path.join(dir, 'mnist-12.onnx.precision.json');
    const p = await cli('plan', model, '--target', 'h100', '--avg-bits', '5.5', '--json');
    assert.equal(p.code, 0, p.err);
    const doc = JSON.parse(p.out);
    assert.equal(doc.planFile, planFile, 'written beside the model by default');
    assert.equal(doc.solver.status, 'optimal');
    assert.ok(doc.solver.weightBytes <= doc.budget.weightBudgetBytes);
    assert.ok(doc.frontier.length >= 3);
    // Uniform FP16/FP8/INT8/INT4; no Q4_K_M-like rules for a CNN (they are llama.cpp's for attention v / ffn down).
    assert.deepEqual(doc.baselines.map((b: { id: string }) => b.id), ['uniform-fp16', 'uniform-fp8_e4m3', 'uniform-int8', 'uniform-int4']);
    for (const b of doc.baselines) if (b.solverHarmAtSameBytes !== null && b.harm !== null) assert.ok(b.solverHarmAtSameBytes <= b.harm + 1e-12, b.id);
    const parsed = parsePlan(await fs.readFile(planFile, 'utf8'));
    assert.deepEqual(parsed.diagnostics, []);

    const ort = await cli('export', planFile, '--to', 'ort');
    assert.equal(ort.code, 0, ort.err);
    assert.match(ort.out, /quantize_static\(/);
    const json = await cli('export', planFile, '--to', 'json');
    assert.equal(json.code, 0);
    assert.deepEqual(parsePlan(json.out).plan, parsed.plan);

    const out = path.join(dir, 'mnist-planned.onnx');
    const a = await cli('apply', model, planFile, '-o', out);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /measured output SQNR vs the original: \d+\.\d+ dB/);
    assert.ok((await fs.stat(out)).size < (await fs.stat(model)).size);
    assert.equal((await cli('apply', model, planFile, '-o', model)).code, 2, 'never overwrites the input');

    // A hand-broken plan: errors with positions, exit 2.
    const text = (await fs.readFile(planFile, 'utf8')).replace('"Times212"', '"Times999"');
    await fs.writeFile(planFile, text);
    const bad = await cli('apply', model, planFile, '-o', out);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /mnist-12\.onnx\.precision\.json:\d+:\d+: error: the model has no layer named 'Times999'\./);
    // A stale plan (the model changed): exit 2 at the fingerprint.
    await fs.writeFile(planFile, text.replace('"Times999"', '"Times212"'));
    // Re-export stand-in: append ModelProto.doc_string (field 6, length-delimited), a valid protobuf field.
    await fs.appendFile(model, Buffer.from([0x32, 0x01, 0x41]));
    const stale = await cli('export', planFile, '--to', 'ort');
    assert.equal(stale.code, 2);
    assert.match(stale.err, /:5:20: error: .*fingerprint mismatch/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('plan: budgets parse (24GB, 512MiB), bad sizes and impossible budgets exit 2 with numbers', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-cli-'));
  try {
    const model = path.join(dir, 'mnist-12.onnx');
    await fs.copyFile(MNIST, model);
    const ok = await cli('plan', model, '--target', 'rtx-4090', '--budget', '24GB', '--dry-run', '--json');
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).budget.memoryBytes, 24e9);
    assert.equal((await cli('plan', model, '--target', 'h100', '--budget', '24XB')).code, 2);
    assert.equal((await cli('plan', model, '--target', 'h100', '--budget', '1GB', '--avg-bits', '4')).code, 2);
    assert.equal((await cli('plan', model, '--target', 'nope')).code, 2);
    const tight = await cli('plan', model, '--target', 'h100', '--weight-budget', '2KiB', '-o', path.join(dir, 'x.json'));
    assert.equal(tight.code, 2);
    assert.match(tight.err, /nothing fits: the smallest allowed layer weights take [\d.]+ KiB, [\d.]+ KiB more than the budget\./);
    await assert.rejects(fs.stat(path.join(dir, 'x.json')), 'no plan is written when nothing fits');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
