/**
 * `apply` reads an ONNX model once (issue 12): the plan check (open + fingerprint), the rewrite and the reference
 * run share the bytes read by the check. Counted here: opens of the model file and protobuf decodes of the model
 * during `precision-lens apply` (the reference run, which needs ONNX Runtime, is skipped with --no-measure; it
 * gets the same bytes, see cli/commands/apply.ts). Also the progress callback of the rewrite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { MemoryByteSource, openModel } from '../../src/core';
import { applyPlanToOnnx, type ApplyPhase } from '../../src/node/applyOnnx';
import { onnxTypes } from '../../src/node/onnxProto';
import { buildMatMulModel } from '../fixtures/planOnnx';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

/** Counts `fs.promises.open` of `file` and protobuf ModelProto decodes while `fn` runs. */
async function counting<T>(file: string, fn: () => Promise<T>): Promise<{ result: T; opens: number; decodes: number }> {
  const open = fs.open;
  const Model = onnxTypes().Model;
  const decode = Model.decode;
  let opens = 0;
  let decodes = 0;
  fs.open = ((p: Parameters<typeof fs.open>[0], ...rest: unknown[]) => {
    if (path.resolve(String(p)) === path.resolve(file)) opens++;
    return (open as (...a: unknown[]) => ReturnType<typeof fs.open>)(p, ...rest);
  }) as typeof fs.open;
  Model.decode = ((...a: Parameters<typeof decode>) => {
    decodes++;
    return decode.apply(Model, a);
  }) as typeof decode;
  try {
    return { result: await fn(), opens, decodes };
  } finally {
    fs.open = open;
    Model.decode = decode;
  }
}

test('apply opens and decodes an ONNX model once (plan check, rewrite and reference run share the bytes)', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-apply-once-'));
  try {
    const file = path.join(dir, 'm.onnx');
    await fs.writeFile(file, buildMatMulModel({ k: 64, n: 32, gemmOut: 16 }));
    const planned = await cli('plan', file, '--target', 'h100', '--avg-bits', '6', '--formats', 'fp16,int8,int4_g32', '--no-verify');
    assert.equal(planned.code, 0, planned.err);
    const out = path.join(dir, 'out.onnx');
    const { result, opens, decodes } = await counting(file, () => cli('apply', file, `${file}.precision.json`, '-o', out, '--no-measure', '--json'));
    assert.equal(result.code, 0, result.err);
    assert.ok(JSON.parse(result.out).layers.length > 0, 'some layer was rewritten');
    assert.equal(opens, 1, 'the model file is opened once');
    assert.equal(decodes, 1, 'the protobuf is decoded once');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('applyPlanToOnnx reports rewrite progress per tensor and the write', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-apply-progress-'));
  try {
    const bytes = buildMatMulModel({ k: 64, n: 32, gemmOut: 16 });
    const file = path.join(dir, 'm.onnx');
    await fs.writeFile(file, bytes);
    const model = await openModel(new MemoryByteSource('m.onnx', bytes));
    const assignment = Object.fromEntries(model.layers.map((l) => [l.name, 'int8']));
    const seen: [number, number, ApplyPhase][] = [];
    const { opens } = await counting(file, () => applyPlanToOnnx(file, model, assignment, path.join(dir, 'o.onnx'), { bytes, onProgress: (d, t, p) => seen.push([d, t, p]) }));
    assert.equal(opens, 0, 'given the bytes, apply does not read the file');
    const rewrites = seen.filter((s) => s[2] === 'rewrite');
    assert.equal(rewrites.length, model.layers.length + 1);
    assert.deepEqual(rewrites.map((s) => s[0]), [...Array(model.layers.length + 1).keys()]);
    assert.deepEqual(seen.filter((s) => s[2] === 'write'), [[0, 1, 'write'], [1, 1, 'write']]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
