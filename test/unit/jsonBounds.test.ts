/**
 * Parsers that recursed (issue 14): 10^5 nested brackets in a plan or targets file overflowed the stack, and a
 * `"__proto__"` key inside a target replaced the entry's prototype so the unknown-field check never saw it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { DEFAULT_LIMITS, addCustomTargetText, jsonDepthError, parseJsoncValue, parsePlan, parseUserTargets } from '../../src/core';
import { buildMatMulModel } from '../fixtures/planOnnx';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

const bomb = (n: number, open = '[', close = ']'): string => open.repeat(n) + close.repeat(n);

test('the depth scan is iterative and skips strings and comments', () => {
  assert.equal(jsonDepthError(bomb(64), 64), undefined);
  assert.match(jsonDepthError(bomb(65), 64)!.message, /deeper than the limit of 64 levels/);
  assert.equal(jsonDepthError(`{"a": "${'['.repeat(1000)}", /* ${'{'.repeat(1000)} */ // ${'['.repeat(1000)}\n "b": 1}`, 4), undefined);
  assert.ok(jsonDepthError(bomb(1_000_000), 64));
  const v = parseJsoncValue('{"a": [1, {"__proto__": {"x": 1}, "b": [true, null]}], // c\n}', 64);
  assert.equal(v.error, undefined);
  const inner = (v.value as { a: [number, Record<string, unknown>] }).a[1];
  assert.equal(Object.getPrototypeOf(inner), Object.prototype);
  assert.deepEqual(Object.keys(inner), ['__proto__', 'b']);
});

test('plans and target files nested 10^5 deep are refused in one line; __proto__ in a target is an unknown field', async () => {
  const plan = parsePlan(bomb(100_000, '{"a":', '}'), 'deep.json');
  assert.equal(plan.plan, undefined);
  assert.match(plan.diagnostics[0]!.message, /deep\.json: the plan nests deeper than the limit of 64 levels/);
  assert.throws(() => parseUserTargets(bomb(100_000), 't.json'), /t\.json: nests deeper than the limit/);
  assert.throws(() => addCustomTargetText(bomb(100_000), { id: 'x', name: 'x', memoryGiB: 1, memoryBandwidthGBps: 1, throughputTFLOPS: { fp16: 1 }, native: ['fp16'] }), /nests deeper/);
  assert.throws(() => parseUserTargets('{"targets":[{"extends":"rtx-4090","id":"evil","__proto__":{"bogus":1}}]}', 't.json'), /__proto__/);
  assert.ok(DEFAULT_LIMITS.maxNestingDepth <= 1000);

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-json-'));
  try {
    const model = path.join(dir, 'm.onnx');
    await fs.writeFile(model, buildMatMulModel({ k: 16, n: 8, opset: 13, seed: 1 }));
    await fs.writeFile(path.join(dir, 'deep.json'), bomb(100_000));
    for (const argv of [['export', path.join(dir, 'deep.json'), '--to', 'json', '--model', model], ['targets', '--targets-file', path.join(dir, 'deep.json')], ['estimate', model, '--target', 'rtx-4090', '--plan', path.join(dir, 'deep.json')]]) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, `${argv[0]}: ${r.err}`);
      assert.match(r.err, /nests deeper than the limit of 64 levels/, argv[0]);
      assert.ok(!/RangeError|internal error/.test(r.err), r.err);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
