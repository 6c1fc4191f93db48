import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMPUTE_TYPE_BITS,
  COMPUTE_TYPES,
  EstimateError,
  MAX_USER_TARGETS,
  TARGETS,
  computeRate,
  formatSupport,
  getNumberFormat,
  getTarget,
  mergeTargets,
  nativeTargetIds,
  nearestTargetIds,
  parseUserTargets,
  type Target,
} from '../../src/core';

const t = (id: string): Target => {
  const x = getTarget(id);
  assert.ok(x, id);
  return x;
};
const fmt = (id: string) => getNumberFormat(id)!;

const REQUIRED = [
  'h100', 'h100-pcie', 'h800', 'h20', 'h200', 'b200', 'gb200', 'a100', 'a800', 'l40s', 'rtx-4090', 'rtx-5090', 'jetson-agx-orin',
  'mi300x', 'mi325x', 'gaudi3', 'tpu-v5e', 'tpu-v5p', 'tpu-v6e', 'ascend-910b', 'ascend-910c', 'mlu370', 'm4-pro', 'm4-max',
  'a18-pro', 'a19-pro', 'snapdragon-8-elite', 'groq-lpu', 'cerebras-wse3', 'cpu', 'h20-141g', 'ascend-950pr', 'ascend-950dt', 'mlu590',
];

test('the catalog has every device of the reference, with unique lowercase ids and sane figures', () => {
  const ids = TARGETS.map((x) => x.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of REQUIRED) assert.ok(ids.includes(id), id);
  for (const x of TARGETS) {
    assert.match(x.id, /^[a-z0-9][a-z0-9.-]*$/);
    assert.ok(x.name && x.vendor && x.source && x.overhead.note, x.id);
    assert.ok(Number.isSafeInteger(x.memoryBytes) && x.memoryBytes > 0, x.id);
    assert.ok(x.memoryBandwidthBytesPerSecond > 1e9, x.id);
    assert.ok(['H', 'M', 'L'].includes(x.confidence), x.id);
    assert.ok(x.native.length > 0 && x.native.every((n) => COMPUTE_TYPES.includes(n)), x.id);
    const rates = Object.entries(x.throughput);
    assert.ok(rates.length > 0, x.id);
    for (const [k, v] of rates) assert.ok(COMPUTE_TYPES.includes(k as never) && Number.isFinite(v) && v! > 1e11, `${x.id} ${k}`);
    // Every native type has a published or derivable rate, unless it is wider than every published type ("not published").
    for (const n of x.native) {
      const wider = COMPUTE_TYPES.some((s) => COMPUTE_TYPE_BITS[s] >= COMPUTE_TYPE_BITS[n] && (x.throughput[s] ?? 0) > 0);
      assert.equal(computeRate(x, n).opsPerSecond > 0, wider, `${x.id} ${n}`);
    }
    assert.ok(x.overhead.bytes >= 0 && x.overhead.bytes < x.memoryBytes && x.overhead.fraction >= 0 && x.overhead.fraction < 1, x.id);
  }
});

test('catalog figures match the reference for key devices (dense, not sparse)', () => {
  assert.equal(t('h100').throughput.fp8, 1978.9e12);
  assert.equal(t('h100').memoryBandwidthBytesPerSecond, 3.35e12);
  assert.equal(t('h800').interconnect?.bytesPerSecond, 400e9);
  assert.equal(t('h100').interconnect?.bytesPerSecond, 900e9);
  assert.equal(t('h20').throughput.bf16, 148e12);
  assert.equal(t('b200').throughput.nvfp4, 9000e12);
  assert.equal(t('mi300x').throughput.fp16, 1307.4e12);
  assert.equal(t('mi300x').memoryBytes, 192 * 2 ** 30);
  assert.equal(t('groq-lpu').memoryBytes, 230e6);
  assert.ok(t('groq-lpu').sramOnly && t('cerebras-wse3').sramOnly && !t('h100').sramOnly);
  assert.equal(t('tpu-v5e').throughput.fp16, undefined);
});

test('compute formats without native support are flagged and run at their fallback', () => {
  assert.deepEqual(formatSupport(fmt('nvfp4'), t('h100')), { native: false, runsAs: 'fp16', flagged: true });
  assert.deepEqual(formatSupport(fmt('nvfp4'), t('b200')), { native: true, runsAs: 'nvfp4', flagged: false });
  assert.deepEqual(formatSupport(fmt('mxfp4'), t('rtx-5090')), { native: true, runsAs: 'mxfp4', flagged: false });
  assert.deepEqual(formatSupport(fmt('fp8_e4m3'), t('a100')), { native: false, runsAs: 'fp16', flagged: true });
  assert.deepEqual(formatSupport(fmt('fp8_e4m3'), t('h100')), { native: true, runsAs: 'fp8', flagged: false });
  // MI300X runs FP8 only in the FNUZ encoding: OCP E4M3 is flagged and converted (same width, same rate).
  assert.deepEqual(formatSupport(fmt('fp8_e4m3'), t('mi300x')), { native: false, runsAs: 'fp8_fnuz', flagged: true });
  assert.deepEqual(formatSupport(fmt('fp8_e4m3fnuz'), t('mi300x')), { native: true, runsAs: 'fp8_fnuz', flagged: false });
  assert.deepEqual(formatSupport(fmt('fp8_e4m3fnuz'), t('h100')), { native: false, runsAs: 'fp8', flagged: true });
  assert.equal(formatSupport(fmt('fp8_e4m3'), t('tpu-v5e')).runsAs, 'bf16');
  assert.equal(formatSupport(fmt('fp16'), t('tpu-v5e')).runsAs, 'fp32');
  assert.equal(formatSupport(fmt('w8a8'), t('gaudi3')).flagged, true);
  assert.equal(formatSupport(fmt('w4a4'), t('a100')).flagged, false);
  assert.equal(formatSupport(fmt('w4a4'), t('h100')).runsAs, 'int8');
});

test('weight-only formats run anywhere at the dequantized compute type and are never flagged', () => {
  assert.deepEqual(formatSupport(fmt('int4'), t('h100')), { native: true, runsAs: 'fp16', flagged: false });
  assert.deepEqual(formatSupport(fmt('q4_k'), t('tpu-v5e')), { native: true, runsAs: 'bf16', flagged: false });
  assert.deepEqual(formatSupport(fmt('nf4'), t('m4-pro')), { native: true, runsAs: 'bf16', flagged: false });
  assert.equal(formatSupport(fmt('ternary'), t('cpu')).runsAs, 'int8');
  assert.ok(nativeTargetIds(fmt('nvfp4'), TARGETS).includes('b200'));
  assert.ok(!nativeTargetIds(fmt('nvfp4'), TARGETS).includes('h100'));
  assert.equal(nativeTargetIds(fmt('q4_k'), TARGETS).length, TARGETS.length);
});

test('unpublished rates are taken from a related published one, never higher; wider types are not guessed', () => {
  assert.deepEqual(computeRate(t('h100'), 'bf16'), { opsPerSecond: 989.4e12, derivedFrom: undefined });
  assert.deepEqual(computeRate(t('gaudi3'), 'fp16'), { opsPerSecond: 1835e12, derivedFrom: 'bf16' });
  // INT4 on a phone NPU: at most its published INT8 rate (not 2× it).
  assert.deepEqual(computeRate(t('a19-pro'), 'int4'), { opsPerSecond: 35e12, derivedFrom: 'int8' });
  // FP32 from BF16 (TPU, Ascend) is not published: scaling BF16 by width made Ascend 910C's "FP32" 6× an H100's.
  assert.deepEqual(computeRate(t('tpu-v5e'), 'fp32'), { opsPerSecond: 0, derivedFrom: undefined });
  assert.deepEqual(computeRate(t('ascend-910c'), 'fp32'), { opsPerSecond: 0, derivedFrom: undefined });
  for (const x of TARGETS) {
    for (const type of COMPUTE_TYPES) {
      const r = computeRate(x, type);
      if (r.derivedFrom) assert.ok(r.opsPerSecond <= x.throughput[r.derivedFrom]!, `${x.id} ${type} from ${r.derivedFrom}`);
    }
  }
});

test('target lookup is case-insensitive, user targets win, and unknown ids get near matches', () => {
  assert.equal(getTarget(' H100 ')?.id, 'h100');
  assert.equal(getTarget('nope'), undefined);
  const mine = { ...t('h100'), name: 'Mine' };
  assert.equal(getTarget('h100', [mine])?.name, 'Mine');
  assert.deepEqual(nearestTargetIds('h10').slice(0, 1), ['h100']);
  assert.ok(nearestTargetIds('rtx4090').includes('rtx-4090'));
  assert.ok(nearestTargetIds('ascend910c').includes('ascend-910c'));
  const merged = mergeTargets(TARGETS, [mine, { ...mine, id: 'lab' }]);
  assert.equal(merged.length, TARGETS.length + 1);
  assert.equal(merged.find((x) => x.id === 'h100')?.name, 'Mine');
  assert.equal(merged[merged.length - 1]!.id, 'lab');
});

test('a user targets file adds devices, overrides catalog entries field by field, and extends', () => {
  const text = `{
    // comments are allowed, like VS Code settings
    "targets": [
      { "id": "lab-gpu", "name": "Lab GPU", "memoryGiB": 40, "memoryBandwidthGBps": 1500, "throughputTFLOPS": { "bf16": 300, "int8": 600 } },
      { "id": "h100", "memoryGiB": 94 },
      { "id": "h100-nvl", "extends": "h100", "memoryGiB": 94, "memoryBandwidthGBps": 3900, "interconnect": { "name": "NVLink bridge", "GBps": 600 },
        "overhead": { "GiB": 1, "fraction": 0.1, "note": "measured" } },
    ]
  }`;
  const [lab, h100, nvl] = parseUserTargets(text, 'targets.json');
  assert.equal(lab!.memoryBytes, 40 * 2 ** 30);
  assert.equal(lab!.memoryBandwidthBytesPerSecond, 1500e9);
  assert.equal(lab!.throughput.bf16, 300e12);
  assert.deepEqual(lab!.native, ['fp32', 'bf16', 'int8']);
  assert.equal(lab!.confidence, 'L');
  assert.equal(h100!.memoryBytes, 94 * 2 ** 30);
  assert.equal(h100!.throughput.fp8, 1978.9e12); // untouched fields come from the catalog
  assert.equal(nvl!.throughput.fp8, 1978.9e12);
  assert.deepEqual(nvl!.interconnect, { name: 'NVLink bridge', bytesPerSecond: 600e9 });
  assert.deepEqual(nvl!.overhead, { bytes: 2 ** 30, fraction: 0.1, note: 'measured' });
  assert.deepEqual(parseUserTargets('[]', 't.json'), []);
});

test('bad targets files fail with one clear sentence', () => {
  const bad = (text: string, message: string | RegExp): void => {
    assert.throws(() => parseUserTargets(text, 't.json'), (e: unknown) => {
      assert.ok(e instanceof EstimateError && e.code === 'bad-target-file');
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    });
  };
  bad('{ "targets": [ }', /^t\.json: is not valid JSON \(ValueExpected at offset \d+\)\.$/);
  bad('', 't.json: is not valid JSON (ValueExpected at offset 0).');
  bad('{ "devices": [] }', 't.json: expected an array of targets or an object with a "targets" array.');
  bad('[1]', 't.json: target 1 is not an object.');
  bad('[{ "id": "Big GPU" }]', "t.json: target 1 needs an \"id\" of lowercase letters, digits, '-', '_' or '.' (at most 64 characters).");
  bad('[{ "id": "x", "memoryGiB": 8, "memoryBandwidthGBps": 100 }]', /^t\.json: target 'x': needs at least one "throughputTFLOPS" entry/);
  bad('[{ "id": "x", "memoryBandwidthGBps": 100, "throughputTFLOPS": { "fp16": 1 } }]', 't.json: target \'x\': needs "memoryGiB" or "memoryBytes".');
  bad('[{ "id": "x", "memoryGiB": -8, "memoryBandwidthGBps": 100, "throughputTFLOPS": { "fp16": 1 } }]', 't.json: target \'x\': "memoryGiB" must be a positive number.');
  bad('[{ "id": "x", "memoryGiB": "8", "memoryBandwidthGBps": 100, "throughputTFLOPS": { "fp16": 1 } }]', 't.json: target \'x\': "memoryGiB" must be a positive number.');
  bad('[{ "id": "x", "memoryGiB": 8, "memoryBandwidthGBps": 100, "throughputTFLOPS": { "fp12": 1 } }]', /^t\.json: target 'x': unknown compute type 'fp12' \(known: fp64, fp32/);
  bad('[{ "id": "h100", "memorry": 8 }]', 't.json: target \'h100\': unknown field "memorry".');
  bad('[{ "id": "h100", "memoryGiB": 8, "memoryBytes": 8 }]', 't.json: target \'h100\': give either "memoryBytes" or "memoryGiB", not both.');
  bad('[{ "id": "x", "extends": "h1000" }]', "t.json: target 'x': \"extends\" names the unknown target 'h1000'.");
  bad('[{ "id": "h100" }, { "id": "h100" }]', "t.json: target 2 repeats the id 'h100'.");
  bad('[{ "id": "h100", "overhead": { "GiB": 100 } }]', 't.json: target \'h100\': "overhead" leaves no memory for the model.');
  bad('[{ "id": "h100", "overhead": { "fraction": 2 } }]', 't.json: target \'h100\': "overhead.fraction" must be between 0 and 1.');
  bad('[{ "id": "h100", "memoryGiB": 1e300 }]', 't.json: target \'h100\': "memoryGiB" must be a positive number.');
  bad(JSON.stringify(Array.from({ length: MAX_USER_TARGETS + 1 }, (_, i) => ({ id: `t${i}` }))), `t.json: has ${MAX_USER_TARGETS + 1} targets, more than the limit of ${MAX_USER_TARGETS}.`);
  bad(' '.repeat(2 * 1024 * 1024), 't.json: the targets file is larger than 1048576 bytes.');
});
