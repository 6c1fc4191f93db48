/**
 * `sensitivity` writes its report from layers made on request (the runner's `LayerRows`, src/cli/sensitivityOut.ts):
 * `--json` as bytes a record at a time, the table from rows kept as bytes. Both must be what the command wrote from
 * the full report before: `JSON.stringify(report, null, 2)` terminal-escaped with a line end, and `renderTable` of the
 * rows it made. Compared over models of three formats, sampled and not, with layer names of every escaping class.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MemoryByteSource, NO_SIBLINGS, floatToHalfBits, formatDb, getNumberFormat, openModel, type LayerSensitivity, type SensitivityReport, type SensitivityRowsReport } from '../../src/core';
import { analyzeModelSensitivity, analyzeModelSensitivityRows, type OpenedModel } from '../../src/node/sensitivityRunner';
import { escapeTerminal, renderTable, type CliOutput } from '../../src/cli/io';
import { writeJson } from '../../src/cli/jsonOut';
import { arrayLayers, writeSensitivityRows, writeSensitivityTable } from '../../src/cli/sensitivityOut';
import { buildGguf, kv, type GgufTensorSpec } from '../fixtures/buildGguf';
import { buildSafetensors } from '../fixtures/buildSafetensors';
import { gaussian } from '../fixtures/gaussian';

const MODELS = path.join(__dirname, '..', 'fixtures', 'models');


/** Names holding the characters JSON.stringify and the terminal escaping treat specially, and one past the table's cell width. */
const HOSTILE: readonly string[] = [
  'model.layers.0.self_attn.q_proj.weight', 'quote"d.weight', 'back\\slash', 'tab\there', 'nl\nline', 'nul\u0000x', 'esc\u001b[31m',
  'del\u007f', 'c1\u0080\u009b', 'nbsp\u00a0é', 'alm\u061c', 'bidi\u202a\u202e', 'iso\u2066\u2069', 'ls\u2028ps\u2029', 'cjk层名', 'astral😀𝔸',
  'hi\ud800', '\udc00lo', 'rev\udc00\ud800', 'bom\ufeff', `model.layers.1.${'long_name_'.repeat(12)}.weight`, 'lm_head.weight',
];

/** A safetensors model of F32 and F16 matrices named {@link HOSTILE}; one with an outlier, one overflowing FP16, one all zero. */
function hostileSafetensors(): Uint8Array {
  const specs = HOSTILE.map((name, k) => ({ name, dtype: k % 3 === 0 ? 'F16' : 'F32', shape: k === HOSTILE.length - 1 ? [64, 256] : [16, 32] }));
  const built = buildSafetensors(specs);
  specs.forEach((s, k) => {
    const n = s.shape[0]! * s.shape[1]!;
    const v = gaussian(n, 0.02, k + 1);
    if (k === 1) v[5] = 3;
    if (k === 2) v[7] = 70000;
    if (k === 4) v.fill(0);
    const off = 8 + built.headerLength + built.offsets[s.name]![0];
    if (s.dtype === 'F32') built.bytes.set(new Uint8Array(v.buffer), off);
    else built.bytes.set(new Uint8Array(Uint16Array.from(v, (x) => floatToHalfBits(x)).buffer), off);
  });
  return built.bytes;
}

/** A llama GGUF of F16 256 × 1 matrices in 3 blocks (first/last block reasons, k-quants apply). */
function llamaF16Gguf(): Uint8Array {
  const roles = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];
  const tensors: GgufTensorSpec[] = [];
  for (let i = 0; i < 21; i++) tensors.push({ name: `blk.${Math.floor(i / 7)}.${roles[i % 7]}.weight`, dims: [256, 2], type: 1 });
  const kvs = [kv.str('general.architecture', 'llama'), kv.u32('llama.block_count', 3), kv.u32('llama.embedding_length', 32), kv.u32('llama.attention.head_count', 4), kv.u32('llama.attention.head_count_kv', 4), kv.u32('llama.context_length', 2048)];
  const built = buildGguf({ kvs, tensors });
  const v = gaussian((built.totalByteLength - built.dataOffset) / 2, 0.02, 9);
  built.bytes.set(new Uint8Array(Uint16Array.from(v, (x) => floatToHalfBits(x)).buffer), built.dataOffset);
  return built.bytes;
}

async function opened(name: string, bytes: Uint8Array): Promise<OpenedModel> {
  const source = new MemoryByteSource(name, bytes);
  return { model: await openModel(source), source, siblings: NO_SIBLINGS };
}

/** What the command wrote before for `--json`: one native stringify of the full report, terminal-escaped, and the line end. */
function expectedJson(full: SensitivityReport, elapsedMs: number): string {
  return `${escapeTerminal(JSON.stringify({ ...full, elapsedMs }, null, 2), true)}\n`;
}

/** Bytes written through a sink with `outBytes` (copied: the writer fills its block again). */
function writtenBytes(report: unknown): string {
  const chunks: Buffer[] = [];
  writeJson({ out: () => assert.fail('io.out beside io.outBytes'), err: () => undefined, outBytes: (b) => chunks.push(Buffer.from(b)) }, report, writeSensitivityRows);
  return Buffer.concat(chunks).toString('utf8');
}

/** Text written through a sink without `outBytes` (the pieces path), as the console writes it. */
function writtenText(report: unknown): string {
  let text = '';
  const io: CliOutput = { out: (t) => (text += `${escapeTerminal(t, true)}\n`), outJson: (t) => (text += `${escapeTerminal(t, true)}\n`), err: () => undefined };
  writeJson(io, report, writeSensitivityRows);
  return text;
}

/** The table as the command made it before: every row's cells, then `renderTable` of them all. */
function expectedTable(report: SensitivityReport): string {
  const header = ['layer', 'role', 'params', ...report.formats.map((f) => getNumberFormat(f)?.label.split(' (')[0] ?? f), 'reason (worst format)'];
  const cell = (s: LayerSensitivity['formats'][string] | undefined): string => {
    if (!s) return '-';
    const db = (v: number): string => formatDb(v).replace(/ dB$/, '');
    return `${db(s.predictedOutputSqnrDb)} [${db(s.sqnrDb)}]${s.measuredOutputSqnrDb !== undefined ? ` ${db(s.measuredOutputSqnrDb)}` : ''}`;
  };
  const rows = report.layers.map((l) => {
    const worst = Object.values(l.formats).reduce((a, b) => (b.staticScore > a.staticScore ? b : a), Object.values(l.formats)[0]!);
    return [l.layer, l.role, l.parameterCount, ...report.formats.map((f) => cell(l.formats[f])), worst?.reason ?? ''];
  });
  return `${escapeTerminal(renderTable(header, rows, report.formats.map((_, i) => i + 3)), true)}\n`;
}

function writtenTable(formats: readonly string[], layers: Parameters<typeof writeSensitivityTable>[2]): { text: string; blocks: number } {
  let text = '';
  let blocks = 0;
  writeSensitivityTable({ out: (t) => { text += `${escapeTerminal(t, true)}\n`; blocks++; }, err: () => undefined }, formats, layers, undefined);
  return { text, blocks };
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

async function assertSameOutput(name: string, bytes: Uint8Array, options: Parameters<typeof analyzeModelSensitivity>[1]): Promise<SensitivityRowsReport> {
  const full = await analyzeModelSensitivity(await opened(name, bytes), options);
  const rows = await analyzeModelSensitivityRows(await opened(name, bytes), options);
  assert.ok(full.layers.length > 0, name);
  assert.equal(rows.layers.length, full.layers.length);
  const want = expectedJson(full, rows.elapsedMs);
  assert.equal(writtenBytes(rows), want, `${name}: --json bytes`);
  assert.equal(writtenText(rows), want, `${name}: --json through the pieces`);
  assert.equal(JSON.stringify(rows, null, 2), JSON.stringify({ ...full, elapsedMs: rows.elapsedMs }, null, 2), `${name}: toJSON`);
  assert.deepEqual(rows.layers.rows(1, 3), full.layers.slice(1, 3));
  // Compared as the UTF-8 the process writes: a lone surrogate is written as U+FFFD either way (the kept rows are
  // UTF-8 already; a string of the table is encoded on its way out).
  const table = utf8(expectedTable(full));
  assert.deepEqual(utf8(writtenTable(full.formats, rows.layers).text), table, `${name}: table from rows`);
  assert.deepEqual(utf8(writtenTable(full.formats, arrayLayers(full.layers)).text), table, `${name}: table from an array`);
  return rows;
}

test('sensitivity output from rows made on request equals the full report\'s: JSON bytes, JSON pieces and the table', async () => {
  const formats = ['fp16', 'bf16', 'fp8_e4m3', 'int8', 'int4', 'q4_k', 'nf4'];
  const st = hostileSafetensors();
  await assertSameOutput('hostile.safetensors', st, { workers: 0, formats });
  await assertSameOutput('hostile.safetensors', st, { workers: 0 });
  // Sampled: every record also has relMseStdErr, and the report a sampling note.
  const sampled = await assertSameOutput('hostile.safetensors', st, { workers: 0, sample: 0.3, formats: ['int8', 'int4'], wholeTensorElements: 256 });
  assert.ok(sampled.sampled && sampled.layers.row(0).formats['int8']!.relMseStdErr !== undefined);
  await assertSameOutput('llama.gguf', llamaF16Gguf(), { workers: 0, formats: ['fp16', 'bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q3_k', 'q2_k', 'fp8_e4m3', 'int8', 'int4'] });
  for (const f of ['mnist-12.onnx', 'tiny-random-gpt2-fp32.onnx']) await assertSameOutput(f, new Uint8Array(fs.readFileSync(path.join(MODELS, f))), { workers: 0 });
});

test('sensitivity --json: a record of another shape is written by JSON.stringify, the same text; rows past the end throw', async () => {
  const rows = await analyzeModelSensitivityRows(await opened('hostile.safetensors', hostileSafetensors()), { workers: 0, formats: ['int8', 'int4'] });
  const made = rows.layers.row.bind(rows.layers);
  const odd = (i: number): LayerSensitivity => {
    const l = made(i);
    if (i === 1) return { ...l, formats: { ...l.formats, int8: { ...l.formats['int8']!, measuredOutputSqnrDb: 12.5, klDivergence: Number.NaN } } };
    if (i === 2) return { ...l, block: 7, parameterCount: Number.POSITIVE_INFINITY, tensors: [] };
    if (i === 3) return { ...l, formats: {} };
    return l;
  };
  Object.defineProperty(rows.layers, 'row', { value: odd });
  const want = `${escapeTerminal(JSON.stringify(rows, null, 2), true)}\n`;
  assert.match(want, /"measuredOutputSqnrDb": 12.5/);
  assert.equal(writtenBytes(rows), want);
  assert.equal(writtenText(rows), want);
  assert.throws(() => made(rows.layers.length), RangeError);
});

test('the table of many rows is written in blocks of whole lines', async () => {
  const rows = await analyzeModelSensitivityRows(await opened('llama.gguf', llamaF16Gguf()), { workers: 0 });
  const many = { length: 20_000, row: (i: number) => rows.layers.row(i % rows.layers.length) };
  const all = Array.from({ length: many.length }, (_, i) => many.row(i));
  const { text, blocks } = writtenTable(rows.formats, many);
  assert.ok(blocks >= 2, `${blocks} blocks`);
  assert.deepEqual(utf8(text), utf8(expectedTable({ ...rows, layers: all })));
});
