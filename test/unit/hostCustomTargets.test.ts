import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addCustomTargetText } from '../../src/core/editor/customTargets';
import { parseUserTargets } from '../../src/core/estimate/hardware/userTargets';

const lab = { id: 'lab-gpu', name: 'Lab GPU', memoryGiB: 48, memoryBandwidthGBps: 960, throughputTFLOPS: { bf16: 181, fp16: 181 }, native: ['fp32', 'bf16', 'fp16', 'int8'] };

test('a new targets file holds the target and parses as a user target', () => {
  const text = addCustomTargetText(undefined, lab);
  const [t] = parseUserTargets(text, 'targets.json');
  assert.equal(t!.id, 'lab-gpu');
  assert.equal(t!.memoryBytes, 48 * 2 ** 30);
  assert.equal(t!.memoryBandwidthBytesPerSecond, 960e9);
  assert.equal(t!.throughput.bf16, 181e12);
  assert.deepEqual(t!.native, ['fp32', 'bf16', 'fp16', 'int8']);
});

test('adding keeps comments and other entries; the same id replaces its entry; extends needs no rates', () => {
  const existing = '// my machines\n{ "targets": [ { "id": "old", "memoryGiB": 8, "memoryBandwidthGBps": 100, "throughputTFLOPS": { "fp32": 1 } } ] }\n';
  const added = addCustomTargetText(existing, { id: 'h100-lab', name: 'H100 (lab)', extends: 'h100', memoryGiB: 80, memoryBandwidthGBps: 3000, throughputTFLOPS: {}, native: [] });
  assert.ok(added.startsWith('// my machines'));
  const targets = parseUserTargets(added.replace(/^\/\/.*\n/, ''), 't.json');
  assert.deepEqual(targets.map((t) => t.id), ['old', 'h100-lab']);
  assert.equal(targets[1]!.memoryBandwidthBytesPerSecond, 3000e9);
  assert.ok(targets[1]!.native.includes('fp8'), 'native types come from the extended H100');
  const replaced = addCustomTargetText(added, { ...lab, id: 'old', memoryGiB: 16 });
  const again = parseUserTargets(replaced.replace(/^\/\/.*\n/, ''), 't.json');
  assert.deepEqual(again.map((t) => [t.id, t.memoryBytes]), [['old', 16 * 2 ** 30], ['h100-lab', 80 * 2 ** 30]]);
});

test('a bare array stays an array; a file of another shape is refused', () => {
  const text = addCustomTargetText('[]', lab);
  assert.ok(Array.isArray(JSON.parse(text)));
  assert.throws(() => addCustomTargetText('{"devices": 3}', lab), /must hold an array of targets/);
});
