import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as os from 'node:os';
import { promises as fs } from 'node:fs';
import { runCli } from '../../src/cli/main';
import { TARGETS, buildPlan, serializePlan } from '../../src/core';
import { loadModel } from '../../src/host/modelCache';
import { SHARED_MODELS } from './sharedModels';

const MODELS = SHARED_MODELS;
const STORIES = path.join(MODELS, 'gguf/stories260K.gguf');
const MNIST = path.join(MODELS, 'onnx/mnist-12.onnx');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

/** A plan for stories260K (its real fingerprint) with `assignment`; emulated formats allowed. */
async function storiesPlan(assignment: Record<string, string>): Promise<string> {
  const { model, fingerprint } = await loadModel(STORIES);
  return serializePlan(buildPlan({ model, fingerprint, target: 'h100', budget: 'capacity', context: 2048, batch: 1, kvFormat: 'fp16', allowEmulated: true, assignment }));
}

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-estimate-'));
  const p = path.join(dir, name);
  await fs.writeFile(p, text);
  return p;
}

test('estimate --json prints the documented fields per target', async () => {
  const r = await cli('estimate', STORIES, '--target', 'h100,b200,cpu', '--context', '1024', '--kv-format', 'fp8', '--json');
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { file: string; estimates: Record<string, unknown>[] };
  assert.equal(doc.file, 'stories260K.gguf');
  assert.deepEqual(doc.estimates.map((e) => e['target']), ['h100', 'b200', 'cpu']);
  for (const e of doc.estimates) {
    for (const k of ['target', 'weightBytes', 'activationBytes', 'kvCacheBytes', 'overheadBytes', 'totalBytes', 'capacityBytes', 'fits', 'devicesNeeded', 'decodeTokensPerSecond', 'unsupportedFormats']) {
      assert.ok(k in e, k);
    }
    assert.equal(e['kvCacheBytes'], 2 * 5 * 4 * 8 * 1024 * 1); // FP8 KV: 1 byte per value
    assert.equal(e['weightBytes'], 1171200);
  }
});

test('estimate prints a side-by-side table and applies a plan file', async () => {
  const plan = await tempFile('stories260K.gguf.precision.json', await storiesPlan({ 'output.weight': 'nvfp4' }));
  const r = await cli('estimate', STORIES, '--target', 'h100,b200', '--plan', plan);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^\s+h100\s+b200$/m);
  assert.match(r.out, /^weights\s/m);
  assert.match(r.out, /^decode tok\/s\s/m);
  assert.match(r.out, /^unsupported layers\s+1\s+0$/m);
  assert.match(r.out, /h100: not native, converted: nvfp4 → fp16 \(1 layer\)\./);
});

test('unknown targets, bad values and bad files exit 2 with one line', async () => {
  let r = await cli('estimate', STORIES, '--target', 'h1000');
  assert.equal(r.code, 2);
  assert.match(r.err, /^precision-lens: unknown target 'h1000'; nearest: h100, h200, h800; valid: h100, .*, cpu \(details: precision-lens targets\)\.\n$/);
  r = await cli('estimate', STORIES, '--target', 'h100', '--batch', '0');
  assert.equal(r.code, 2);
  assert.equal(r.err, "precision-lens: --batch must be a positive whole number, got '0'.\n");
  r = await cli('estimate', STORIES, '--target', 'h100', '--context', '1e3');
  assert.equal(r.code, 2);
  r = await cli('estimate', STORIES, '--target', 'h100', '--context', '999999999999');
  assert.equal(r.code, 2);
  assert.equal(r.err, 'precision-lens: context 999999999999 is larger than the limit of 134217728.\n');
  r = await cli('estimate', STORIES, '--target', 'h100', '--kv-format', 'fp7');
  assert.match(r.err, /^precision-lens: --kv-format: unknown value 'fp7'; valid: fp32, .*\.\n$/);
  assert.equal(r.code, 2);
  const badTargets = await tempFile('targets.json', '[{ "id": "x", "memoryGiB": 0 }]');
  r = await cli('estimate', STORIES, '--target', 'x', '--targets-file', badTargets);
  assert.equal(r.code, 2);
  assert.equal(r.err, 'precision-lens: targets.json: target \'x\': "memoryGiB" must be a positive number.\n');
  r = await cli('estimate', STORIES, '--target', 'h100', '--targets-file', path.join(os.tmpdir(), 'does-not-exist-pl.json'));
  assert.equal(r.code, 2);
  // --plan is checked as apply checks it: a layer the model lacks (or a stale fingerprint) is an error.
  const badPlan = await tempFile('p.precision.json', (await storiesPlan({})).replace('"layer": "output.weight"', '"layer": "nope"'));
  r = await cli('estimate', STORIES, '--target', 'h100', '--plan', badPlan);
  assert.equal(r.code, 2);
  assert.match(r.err, /^p\.precision\.json:\d+:\d+: error: the model has no layer named 'nope'/m);
  assert.match(r.err, /precision-lens: p\.precision\.json: the plan has 1 error\(s\); fix them or re-run precision-lens plan\.\n$/);
  const stale = await tempFile('p.precision.json', (await storiesPlan({})).replace(/"fingerprint": "pl1:[0-9a-f]+"/, `"fingerprint": "pl1:${'0'.repeat(64)}"`));
  r = await cli('estimate', STORIES, '--target', 'h100', '--plan', stale);
  assert.equal(r.code, 2);
  assert.match(r.err, /fingerprint mismatch/);
  r = await cli('estimate', STORIES);
  assert.equal(r.code, 2);
});

test('user targets from a file are usable by id', async () => {
  const file = await tempFile('targets.json', JSON.stringify({ targets: [{ id: 'lab', memoryGiB: 1, memoryBandwidthGBps: 100, throughputTFLOPS: { fp32: 1 } }] }));
  const r = await cli('estimate', MNIST, '--target', 'lab', '--targets-file', file, '--json');
  assert.equal(r.code, 0, r.err);
  const e = (JSON.parse(r.out) as { estimates: { capacityBytes: number; weightBytes: number; activationBytes: number }[] }).estimates[0]!;
  assert.equal(e.capacityBytes, 2 ** 30);
  assert.equal(e.weightBytes, 23982);
  assert.equal(e.activationBytes, 50176); // Conv output 8×28×28 FP32 + Plus output, batch 1
});

test('targets lists the catalog as a table and as JSON', async () => {
  let r = await cli('targets');
  assert.equal(r.code, 0);
  for (const t of TARGETS) assert.match(r.out, new RegExp(`^${t.id.replace(/[.-]/g, '\\$&')}\\s`, 'm'));
  r = await cli('targets', '--json');
  const doc = JSON.parse(r.out) as { targets: { id: string }[] };
  assert.equal(doc.targets.length, TARGETS.length);
  const file = await tempFile('targets.json', '{ "targets": [ { "id": "h100", "memoryGiB": 94 }, { "id": "lab", "extends": "a100" } ] }');
  r = await cli('targets', '--json', '--targets-file', file);
  const merged = JSON.parse(r.out) as { targets: { id: string; memoryBytes: number }[] };
  assert.equal(merged.targets.length, TARGETS.length + 1);
  assert.equal(merged.targets.find((t) => t.id === 'h100')!.memoryBytes, 94 * 2 ** 30);
  r = await cli('targets', 'extra');
  assert.equal(r.code, 2);
});

test('estimate names the runtime and shows the compute buffer; runtime flags are validated', async () => {
  const r = await cli('estimate', STORIES, '--target', 'cpu', '--context', '512', '--flash-attn', 'off', '--ubatch', '256');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^attention: GQA full · 640 B KV per token \(fp16\)$/m);
  assert.match(r.out, /^runtime: llama\.cpp · flash attention off · micro-batch 256 · 512 cells × 1 · CPU x86-avx2$/m);
  assert.match(r.out, /^ {2}compute buffer\s/m);
  const j = JSON.parse((await cli('estimate', STORIES, '--target', 'cpu', '--json')).out) as { estimates: { runtime: { runtime: string; components: { id: string }[] }; computeBytes: number; kvBytesPerToken: number }[] };
  assert.equal(j.estimates[0]!.runtime.runtime, 'llama.cpp');
  assert.deepEqual(j.estimates[0]!.runtime.components.map((c) => c.id), ['model:CPU_Mapped', 'kv', 'compute', 'output']);
  const ort = JSON.parse((await cli('estimate', MNIST, '--target', 'cpu', '--json')).out) as { estimates: { runtime: { runtime: string } }[] };
  assert.equal(ort.estimates[0]!.runtime.runtime, 'ort');
  for (const [args, message] of [
    [['--flash-attn', 'maybe'], "--flash-attn: unknown value 'maybe'; valid: on, off."],
    [['--runtime', 'tgi'], "--runtime: unknown value 'tgi'; valid: llama.cpp, ort, vllm."],
    [['--ubatch', '0'], "--ubatch must be a positive whole number, got '0'."],
    [['--runtime', 'llama.cpp', '--kv-format', 'fp8'], "The llama.cpp memory model does not apply: llama.cpp has no 'fp8_e4m3' cache type (f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1)."],
  ] as const) {
    const bad = await cli('estimate', STORIES, '--target', 'cpu', ...args);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim(), `precision-lens: ${message}`);
  }
});
