import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  FORMAT_ALIASES, MemoryByteSource, NUMBER_FORMATS, buildPlan, checkPlan, getTarget, modelFingerprint, parsePlan, resolvePlanAssignment, serializePlan,
  sha256Hex, tryParseByteSize, type PrecisionPlan,
} from '../../src/core';
import { Sha256 } from '../../src/core/plan/fingerprint';
import { tinyTransformer } from '../fixtures/planModel';

const FP = `pl1:${'a'.repeat(64)}`;

function planText(layers: string, extra = ''): string {
  return `{
  "version": 1,
  "model": { "file": "tiny.safetensors", "fingerprint": "${FP}" },
  "target": "h100",
  "budget": "capacity",
  "context": 4096,
  "batch": 1,
  "kvFormat": "fp16",
  "defaultFormat": "keep",${extra}
  "layers": [
${layers}
  ]
}`;
}

test('parsePlan reads a valid plan and records each entry position', () => {
  const text = planText(`    {"layer": "layers.0.self_attn.q_proj", "format": "int4"},\n    {"layer": "lm_head", "format": "fp8", "pinned": true, "note": "keep it"}`);
  const p = parsePlan(text, 'tiny.precision.json');
  assert.deepEqual(p.diagnostics, []);
  assert.equal(p.plan!.layers.length, 2);
  assert.deepEqual(p.plan!.layers[1], { layer: 'lm_head', format: 'fp8', pinned: true, note: 'keep it' });
  assert.equal(p.positions.entryLayers[0]!.line, 11);
  assert.equal(p.positions.entryLayers[0]!.column, text.split('\n')[10]!.indexOf('"layers.0') + 1);
  assert.equal(text.slice(p.positions.entryFormats[1]!.offset, p.positions.entryFormats[1]!.offset + p.positions.entryFormats[1]!.length), '"fp8"');
});

test('parsePlan reports syntax and schema errors with positions and one-sentence messages', () => {
  const syntax = parsePlan('{ "version": 1, ', 'p.json');
  assert.equal(syntax.plan, undefined);
  assert.equal(syntax.diagnostics[0]!.code, 'syntax');
  assert.match(syntax.diagnostics[0]!.message, /^p\.json: JSON syntax error \(\w+\)\.$/);

  const bad = parsePlan(planText(`    {"layer": "", "format": "int4"},\n    {"layer": "x", "format": 4}`, '\n  "budget": {"avgBits": 0},').replace('"budget": "capacity",\n', ''), 'p.json');
  assert.equal(bad.plan, undefined);
  const msgs = bad.diagnostics.map((d) => `${d.line}:${d.code}:${d.message}`);
  assert.ok(msgs.some((m) => /^9:schema:p\.json: 'budget\.avgBits' must be a number above 0/.test(m)), msgs.join('\n'));
  assert.ok(bad.diagnostics.some((d) => d.entry === 0 && /needs a 'layer' name/.test(d.message)));
  assert.ok(bad.diagnostics.some((d) => d.entry === 1 && /needs a 'format' id/.test(d.message) && d.line === 12));
  for (const d of bad.diagnostics) assert.match(d.message, /\.$/);

  const missing = parsePlan('{"version": 1}', 'p.json');
  assert.ok(missing.diagnostics.some((d) => d.message === "p.json: the required property 'model' is missing."));
});

test('checkPlan flags unknown layers/formats, non-native compute formats, stale fingerprints, duplicates and split fused groups at their positions', () => {
  const model = tinyTransformer(2);
  const text = planText([
    '    {"layer": "layers.0.self_attn.q_prj", "format": "int4"}',
    '    {"layer": "layers.0.self_attn.k_proj", "format": "int5"}',
    '    {"layer": "layers.0.self_attn.v_proj", "format": "fp8_e4m3"}',
    '    {"layer": "layers.0.self_attn.v_proj", "format": "int8"}',
    '    {"layer": "layers.0.input_layernorm", "format": "int8"}',
    '    {"layer": "layers.0.mlp.gate_proj", "format": "int4"}',
    '    {"layer": "layers.0.mlp.up_proj", "format": "int8"}',
  ].join(',\n'));
  const parsed = parsePlan(text, 'p.json');
  assert.ok(parsed.plan);
  const groups = new Map([['layers.0.mlp.gate_proj', 'g0'], ['layers.0.mlp.up_proj', 'g0']]);
  const a100 = getTarget('a100')!; // no FP8
  const d = checkPlan(parsed, { model, fingerprint: `pl1:${'b'.repeat(64)}`, target: a100, targetKnown: true, groups, fileName: 'p.json' });
  const by = (code: string) => d.filter((x) => x.code === code);
  assert.equal(by('unknown-layer').length, 1);
  assert.equal(by('unknown-layer')[0]!.line, 11);
  assert.match(by('unknown-layer')[0]!.message, /no layer named 'layers\.0\.self_attn\.q_prj'/);
  assert.equal(by('unknown-format')[0]!.line, 12);
  assert.equal(text.slice(by('unknown-format')[0]!.offset, by('unknown-format')[0]!.offset + by('unknown-format')[0]!.length), '"int5"');
  assert.equal(by('not-native')[0]!.line, 13);
  assert.match(by('not-native')[0]!.message, /FP8 E4M3, a compute format a100 cannot run natively/);
  assert.equal(by('duplicate-layer')[0]!.line, 14);
  assert.equal(by('not-quantizable')[0]!.severity, 'warning');
  assert.equal(by('fused-mismatch')[0]!.line, 17);
  assert.equal(by('stale-fingerprint').length, 1);
  assert.equal(by('stale-fingerprint')[0]!.line, 3);
  // Emulated compute formats are warnings when the plan allows them.
  const allowed = parsePlan(planText('    {"layer": "layers.0.self_attn.v_proj", "format": "fp8_e4m3"}', '\n  "allowEmulated": true,'), 'p.json');
  const d2 = checkPlan(allowed, { model, target: a100, targetKnown: true, fileName: 'p.json' });
  assert.deepEqual(d2.map((x) => `${x.code}/${x.severity}`), ['emulated/warning']);
  const unknownTarget = checkPlan(allowed, { model, targetKnown: false, targetIds: ['h100', 'h200'], fileName: 'p.json' });
  assert.equal(unknownTarget[0]!.message, "p.json: unknown target 'h100'; known targets include h100, h200.");
});

test('serializePlan round-trips and writes one entry per line', () => {
  const model = tinyTransformer(2);
  const assignment = Object.fromEntries(model.layers.map((l) => [l.name, l.quantizable ? 'int4' : 'keep']));
  const plan: PrecisionPlan = buildPlan({ model, fingerprint: FP, target: 'h100', budget: { avgBits: 4.5 }, context: 2048, batch: 1, kvFormat: 'fp16', assignment, pinned: new Set(['lm_head']), notes: new Map([['lm_head', 'sensitive']]) });
  const text = serializePlan(plan);
  const back = parsePlan(text);
  assert.deepEqual(back.diagnostics, []);
  assert.deepEqual(back.plan, plan);
  assert.equal(text.split('\n').filter((l) => l.includes('"layer"')).length, plan.layers.length);
  assert.ok(text.includes('{"layer": "lm_head", "format": "int4", "pinned": true, "note": "sensitive"}'));
  assert.equal(plan.layers.some((e) => e.layer.endsWith('layernorm')), false, 'norms are left out');
  const resolved = resolvePlanAssignment(plan, model);
  assert.equal(resolved['layers.0.input_layernorm'], 'keep');
  assert.equal(resolved['layers.1.mlp.down_proj'], 'int4');
});

test('budget sizes parse with decimal and binary units', () => {
  assert.equal(tryParseByteSize('24GB'), 24e9);
  assert.equal(tryParseByteSize('512MiB'), 512 * 2 ** 20);
  assert.equal(tryParseByteSize('1.5 TB'), 1.5e12);
  assert.equal(tryParseByteSize('1000'), 1000);
  assert.equal(tryParseByteSize('2k'), 2000);
  assert.equal(tryParseByteSize('3gib'), 3 * 2 ** 30);
  for (const bad of ['', 'GB', '-1GB', '12XB', '1e9', '0', '9'.repeat(30) + 'TB']) assert.equal(tryParseByteSize(bad), undefined, bad);
  const p = parsePlan(planText('', '\n  "budget": {"bytes": "24GB"},').replace('"budget": "capacity",\n', ''));
  assert.deepEqual(p.plan?.budget, { bytes: 24e9 });
});

test('sha256 and the model fingerprint follow their definitions', async () => {
  for (const s of ['', 'abc', 'x'.repeat(1000), 'é'.repeat(77)]) assert.equal(sha256Hex(s), createHash('sha256').update(s).digest('hex'));
  const big = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 255);
  const files = [{ path: 'b.bin', byteLength: 5 }, { path: 'a.onnx', byteLength: big.length }];
  const fp = await modelFingerprint(new MemoryByteSource('a.onnx', big), files);
  const mib = 1024 * 1024;
  const want = createHash('sha256').update(`precision-lens fingerprint v1\nsize=${big.length}\nfiles=a.onnx:${big.length},b.bin:5\n`).update(big.subarray(0, mib)).update(big.subarray(big.length - mib)).digest('hex');
  assert.equal(fp, `pl1:${want}`);
  const changed = big.slice();
  changed[big.length - 1]! ^= 1;
  assert.notEqual(await modelFingerprint(new MemoryByteSource('a.onnx', changed), files), fp);
});

test('Sha256: bytes added in pieces of any size (partial blocks, whole blocks straight from the input, empty pieces) hash as node:crypto does', () => {
  let seed = 5;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let c = 0; c < 400; c++) {
    const n = Math.floor(rnd() * (c < 200 ? 300 : 5000));
    const bytes = new Uint8Array(n).map(() => rnd() * 256);
    const h = new Sha256();
    for (let i = 0; i < n;) {
      const k = Math.min(n - i, Math.floor(rnd() * (c % 3 === 0 ? 8 : 200)));
      h.update(bytes.subarray(i, i + k));
      i += k;
    }
    assert.equal(h.hex(), createHash('sha256').update(bytes).digest('hex'), `case ${c}: ${n} bytes`);
  }
});

test('the published JSON schema lists exactly the known format ids and the plan fields', () => {
  const schema = JSON.parse(readFileSync(path.resolve(__dirname, '../../schemas/precision-plan.schema.json'), 'utf8'));
  assert.deepEqual(new Set(schema.definitions.format.enum), new Set([...NUMBER_FORMATS.map((f) => f.id), 'keep', ...Object.keys(FORMAT_ALIASES)]));
  assert.deepEqual(schema.required, ['version', 'model', 'target', 'budget', 'context', 'batch', 'kvFormat', 'defaultFormat', 'layers']);
  assert.deepEqual(Object.keys(schema.properties).sort(), ['$schema', 'allowEmulated', 'batch', 'budget', 'context', 'defaultFormat', 'devices', 'kvFormat', 'layers', 'measurement', 'model', 'target', 'version'].sort());
  assert.deepEqual(Object.keys(schema.properties.layers.items.properties), ['layer', 'format', 'pinned', 'note']);
});
