/**
 * `inspect --json` writes its layer rows as bytes straight from the layers (src/cli/inspectJson.ts) and the rest of
 * the document through jsonOut.ts's pieces: the bytes must be those of `JSON.stringify(inspectReport(model), null, 2)`
 * with `escapeTerminal(…, true)` applied and a line end, as the CLI wrote them before (one native stringify, then
 * `io.outJson`). Compared over models of every format and over layer names holding every character class that
 * JSON.stringify or the terminal escaping treats specially.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectDocument, inspectReport, MemoryByteSource, openModel, type Layer, type Model } from '../../src/core';
import { writeInspectRows } from '../../src/cli/inspectJson';
import { escapeTerminal } from '../../src/cli/io';
import { writeJson } from '../../src/cli/jsonOut';
import { llamaGguf } from '../fixtures/buildGguf';
import { encodeModel, graph, model as onnxModel, node, rawTensor } from '../fixtures/buildOnnx';
import { buildSafetensors } from '../fixtures/buildSafetensors';
import { gemma3Tensors, openInventory } from '../fixtures/publishedModels';
import { GEMMA3_27B } from '../fixtures/publishedConfigs';

const MODELS = path.join(__dirname, '..', 'fixtures', 'models');

/** The bytes the CLI wrote before: one native stringify, terminal-escaped, and the line end. */
function expected(m: Model): Buffer {
  return Buffer.from(`${escapeTerminal(JSON.stringify(inspectReport(m), null, 2), true)}\n`, 'utf8');
}

/** The bytes `inspect --json` writes now, and the blocks they came in. */
function written(m: Model): { bytes: Buffer; blocks: number[] } {
  const chunks: Uint8Array[] = [];
  writeJson({ out: () => assert.fail('io.out beside io.outBytes'), err: () => undefined, outBytes: (b) => chunks.push(Buffer.from(b)) }, inspectDocument(m), writeInspectRows);
  return { bytes: Buffer.concat(chunks), blocks: chunks.map((c) => c.length) };
}

/** Names holding every character class: JSON escapes, C0/C1/DEL, bidi, non-ASCII of 2 and 3 UTF-8 bytes, astral pairs, lone surrogates. */
const HOSTILE: readonly string[] = [
  'plain.weight', 'quote"d', 'back\\slash', 'tab\there', 'nl\nline', 'cr\r', 'bs\b', 'ff\f', 'nul\u0000x', 'esc\u001b[31m', 'us\u001f',
  'del\u007f', 'c1\u0080\u0085\u009b\u009f', 'nbsp\u00a0é', 'alm\u061c', 'lrm\u200e\u200f', 'bidi\u202a\u202b\u202c\u202d\u202e', 'iso\u2066\u2067\u2068\u2069',
  'ls\u2028ps\u2029', 'cjk层名', 'astral😀𝔸', 'hi\ud800', '\udc00lo', 'lows\udc00\udc01', 'highs\ud800\udbff', 'hipua\ud800\ue000', 'rev\udc00\ud800', 'end\ud83d', 'bom\ufeff', 'zwj\u200d', 'fffe\uffff', '',
  // Every UTF-16 unit up to U+2100 once.
  Array.from({ length: 0x2100 }, (_, i) => String.fromCharCode(i)).join(''),
];

/** `m` with synthetic layers named from {@link HOSTILE} (and weights, ops, dtypes and roles too). */
function hostile(m: Model): Model {
  const layers: Layer[] = HOSTILE.map((name, i) => ({
    ...m.layers[i % m.layers.length]!,
    name,
    op: i % 3 === 0 ? name : 'MatMul',
    weight: i % 4 === 1 ? undefined : `w${name}`,
    moreWeights: i % 2 === 0 ? [`b${name}`, HOSTILE[(i + 5) % HOSTILE.length]!] : [],
    shape: i % 5 === 0 ? [] : [i, 3, 0, 2 ** 40],
    block: i % 3 === 0 ? undefined : i,
  }));
  return { ...m, layers };
}

async function onnxHostile(): Promise<Model> {
  const names = HOSTILE.filter((n) => !/[\ud800-\udfff]/.test(n.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')));
  const nodes = names.map((n, i) => node(i % 2 ? 'MatMul' : 'Add', [i === 0 ? 'x' : `t${i - 1}`, `c${i}`], [`t${i}`], { name: n }));
  const inits = names.map((n, i) => rawTensor(`c${i}`, [2, i + 1]));
  return openModel(new MemoryByteSource('hostile.onnx', encodeModel(onnxModel(graph(nodes, { initializers: inits }), { producer: 'pro"d\u202e' }))));
}

let made: Promise<Array<[string, Model]>> | undefined;

/** The models compared (made once). */
function models(): Promise<Array<[string, Model]>> {
  return (made ??= makeModels());
}

async function makeModels(): Promise<Array<[string, Model]>> {
  const out: Array<[string, Model]> = [];
  for (const f of ['mnist-12.onnx', 'tiny-random-gpt2-fp32.onnx']) {
    out.push([f, await openModel(new MemoryByteSource(f, new Uint8Array(fs.readFileSync(path.join(MODELS, f)))))]);
  }
  out.push(['hostile.onnx', await onnxHostile()]);
  out.push(['moe.gguf', await openModel(new MemoryByteSource('moe.gguf', llamaGguf({ blocks: 3, experts: 4 }).bytes))]);
  const st = buildSafetensors(HOSTILE.filter((n) => n !== '' && !/[\ud800-\udfff]/.test(n)).map((name, i) => ({ name: `${name}.${i}`, dtype: i % 2 ? 'F16' : 'BF16', shape: [4, i + 1] })));
  out.push(['hostile.safetensors', await openModel(new MemoryByteSource('hostile.safetensors', st.bytes))]);
  // Parts (vision tower beside text) and per-block cache labels (sliding and full attention).
  out.push(['gemma3', await openInventory(gemma3Tensors(), GEMMA3_27B)]);
  out.push(['synthetic', hostile(out[0]![1])]);
  out.push(['synthetic gguf', hostile(out[3]![1])]);
  out.push(['no layers', { ...out[0]![1], layers: [] }]);
  // More distinct op + role pairs and dtypes than the writer remembers (then written piece by piece).
  const few = out[0]![1];
  out.push(['many ops', { ...few, layers: Array.from({ length: 80 }, (_, i) => ({ ...few.layers[i % few.layers.length]!, name: `n${i}`, op: `Op${i % 40}\u202e`, dtype: `d${i % 25}"`, parameterCount: i * 7, byteLength: i * 2 ** 33 } as Layer)) }]);
  return out;
}

test('inspect --json bytes equal escapeTerminal(JSON.stringify(inspectReport(model), null, 2)) + line end, for models of every format and hostile names', async () => {
  const all = await models();
  // The rows the comparison covers: cache labels, parts other than text, layers without a block.
  const rows = all.flatMap(([, m]) => inspectReport(m).layers);
  assert.ok(rows.some((r) => r.cache !== null) && rows.some((r) => r.part === 'vision') && rows.some((r) => r.block === null));
  for (const [name, m] of all) {
    const want = expected(m);
    const got = written(m).bytes;
    if (!got.equals(want)) {
      let at = 0;
      while (at < got.length && got[at] === want[at]) at++;
      assert.fail(`${name}: bytes differ at ${at}: got ${JSON.stringify(got.subarray(at - 40, at + 40).toString('latin1'))}, want ${JSON.stringify(want.subarray(at - 40, at + 40).toString('latin1'))}`);
    }
  }
});

test('inspect --json: a row whose fields are not of the usual types is written by JSON.stringify, same bytes (undefined role skipped, null block, odd shape)', async () => {
  const base = (await models())[0]![1];
  const odd = (l: Layer, i: number): Layer => {
    const o = { ...l } as Record<string, unknown>;
    if (i === 0) o['role'] = undefined;
    if (i === 1) o['block'] = null;
    if (i === 2) o['shape'] = [1, undefined, 'x', NaN, -0, 1.5e-300, -7];
    if (i === 3) o['parameterCount'] = Infinity;
    if (i === 4) o['quantizable'] = 1;
    if (i === 5) o['moreWeights'] = ['a', 3];
    if (i === 6) o['name'] = { toJSON: () => 'named by toJSON' };
    return o as unknown as Layer;
  };
  const m: Model = { ...base, layers: base.layers.map(odd) };
  assert.ok(written(m).bytes.equals(expected(m)));
});

test('inspect --json: written in blocks of about 1 MiB (no one string or buffer for the whole document)', async () => {
  const base = (await models())[0]![1];
  const layers: Layer[] = Array.from({ length: 12_000 }, (_, i) => ({ ...base.layers[i % base.layers.length]!, name: `/block.${i >> 4}/MatMul_${i}` }));
  const m: Model = { ...base, layers };
  const { bytes, blocks } = written(m);
  assert.ok(bytes.equals(expected(m)));
  assert.ok(blocks.length >= 3, `${blocks.length} blocks`);
  for (const b of blocks) assert.ok(b <= (1 << 20), `block of ${b} bytes`);
});

test('inspect --json: a row larger than a block (a 400,000-character name) is written whole, between rows of the usual size', async () => {
  const base = (await models())[0]![1];
  const long = `/block.0/${'n'.repeat(400_000)}`;
  const layers: Layer[] = Array.from({ length: 6000 }, (_, i) => ({ ...base.layers[i % base.layers.length]!, name: i === 3500 ? long : `/block.${i >> 4}/MatMul_${i}`, weight: i === 3501 ? long : `w${i}` }));
  const m: Model = { ...base, layers };
  const { bytes, blocks } = written(m);
  assert.ok(bytes.equals(expected(m)));
  assert.ok(blocks.some((b) => b > 400_000 && b < (1 << 20)), `blocks ${blocks.join(' ')}`);
});

test('inspect --json through a sink without outBytes: the same text, rows written a run at a time', async () => {
  for (const [, m] of (await models()).slice(0, 3)) {
    const calls: string[] = [];
    writeJson({ out: (t) => calls.push(t), err: () => undefined }, inspectDocument(m), writeInspectRows);
    assert.equal(`${calls.join('\n')}`, JSON.stringify(inspectReport(m), null, 2));
    assert.equal(JSON.stringify(inspectDocument(m), null, 2), JSON.stringify(inspectReport(m), null, 2));
  }
});
