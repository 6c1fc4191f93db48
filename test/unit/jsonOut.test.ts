import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeTerminal, escapeTerminalJson } from '../../src/cli/io';
import { jsonPieces, writeJson } from '../../src/cli/jsonOut';

const samples: unknown[] = [
  { a: 1, b: [1, 2, { c: 'x\ny', d: undefined, e: () => 1 }], f: {}, g: [], h: null, i: Infinity, j: NaN, k: -0 },
  [undefined, () => 0, Symbol('s'), { toJSON: () => 'via toJSON' }, new Date(0), [[[[1, [2]]]]]],
  { deep: { deeper: { deepest: { leaf: [1, { x: [2, 3] }] } } }, layers: Array.from({ length: 50 }, (_, i) => ({ name: `blk.${i}`, formats: { q4_k: { mse: i / 7, max: i } } })) },
  { nested: { toJSON: (k: string) => ({ key: k }) }, str: '"quoted" \\ \u2028 \u0007', big: 1e300, neg: -1.5e-300 },
  'just a string', 42, null, [], {},
  Object.assign(Object.create(null) as object, { __proto__: 'own', constructor: 1 }),
  // Runs of small elements broken by long arrays, toJSON (on an element or below it), skipped values and big elements.
  {
    rows: Array.from({ length: 300 }, (_, i) =>
      i % 50 === 7 ? Array.from({ length: 100 }, (_, j) => ({ j, k: [j] }))
        : i % 30 === 3 ? { t: new Date(i), u: undefined, v: [() => 1, undefined] }
          : i % 11 === 0 ? undefined
            : i % 13 === 0 ? { toJSON: (k: string) => ({ key: k }) }
              : i % 17 === 0 ? { many: Array.from({ length: 60 }, () => Array.from({ length: 60 }, (_, j) => j)) }
                : { a: i, b: [i, { c: 'x\ny' }], d: {}, e: [] },
    ),
  },
  [[[[Array.from({ length: 70 }, (_, i) => ({ i, s: [i, [i]] }))]]]],
  Array.from({ length: 2000 }, (_, i) => i),
];

test('jsonPieces joined equals JSON.stringify(value, null, 2), for nested, skipped, toJSON and empty members', () => {
  for (const v of samples) assert.equal([...jsonPieces(v)].join(''), JSON.stringify(v, null, 2));
});

test('writeJson: one io.out per block of whole lines, joined with newlines the text of JSON.stringify; pieces bounded by a run of small elements', () => {
  const big = { file: 'big.gguf', layers: Array.from({ length: 40_000 }, (_, i) => ({ name: `blk.${i}.ffn_down.weight`, formats: { q4_k: { mse: i * 1e-7, sqnrDb: 30 + (i % 7) } } })) };
  const calls: string[] = [];
  writeJson({ out: (t) => calls.push(t), err: () => undefined }, big);
  assert.ok(calls.length > 1, `written in ${calls.length} blocks`);
  assert.equal(calls.join('\n'), JSON.stringify(big, null, 2));
  let longest = 0;
  for (const p of jsonPieces(big)) longest = Math.max(longest, p.length);
  // A run holds at most 1,024 values: here 170 elements of 6 values, ~165 characters each.
  assert.ok(longest < 65_536, `longest piece ${longest} characters`);
  for (const c of calls.slice(0, -1)) assert.ok(c.length < (1 << 20) + longest + 2, `block of ${c.length} characters`);
});

test('jsonPieces: an array element holding a long list is split too (estimate --json: estimates[i].perLayer), not one stringify', () => {
  const report = { file: 'st.safetensors', estimates: [{ target: 'rtx-4090', perLayer: Array.from({ length: 20_000 }, (_, i) => ({ layer: `t${i}`, format: 'fp32', bytes: 4, native: true })) }] };
  let longest = 0;
  const parts: string[] = [];
  for (const p of jsonPieces(report)) {
    longest = Math.max(longest, p.length);
    parts.push(p);
  }
  assert.equal(parts.join(''), JSON.stringify(report, null, 2));
  // 20,000 entries are ~2 MB of text; a run of small entries stays a few KiB.
  assert.ok(longest < 65_536, `longest piece ${longest} characters`);
});

test('writeJson: the same text as JSON.stringify(value, null, 2) for every sample (one native stringify below the size bound)', () => {
  for (const v of samples) {
    const calls: string[] = [];
    writeJson({ out: (t) => calls.push(t), err: () => undefined }, v);
    assert.equal(calls.join('\n'), JSON.stringify(v, null, 2) ?? 'undefined');
  }
});

test('writeJson: a document past the native bound (~9 M characters) is written through the pieces, same text', () => {
  const big = { layers: Array.from({ length: 100_000 }, (_, i) => ({ name: `model.layers.${i}.mlp.down_proj.weight`, shape: [i, 8], quantizable: i % 2 === 0 })) };
  const calls: string[] = [];
  writeJson({ out: (t) => calls.push(t), err: () => undefined }, big);
  const text = JSON.stringify(big, null, 2);
  assert.ok(text.length > 8 * 1024 * 1024, `${text.length} characters`);
  assert.ok(calls.length > 8, `written in ${calls.length} blocks`);
  assert.equal(calls.join('\n'), text);
});

test('JSON text escaped for a terminal by escapeTerminalJson equals escapeTerminal(text, true), for every character class', () => {
  // Every character up to U+2100 (C0, DEL, C1, the Arabic letter mark, the bidi marks), the bidi overrides and
  // isolates, and a lone surrogate, in strings and keys, as JSON.stringify writes them (nothing raw but line ends).
  const chars = Array.from({ length: 0x2100 }, (_, i) => String.fromCharCode(i)).concat(['\u202e', '\u2066', '\u2069', '\ud800', 'a']);
  const docs: unknown[] = [
    chars.map((c) => `name${c}x`),
    Object.fromEntries(chars.map((c, i) => [`k${c}`, i])),
    { plain: 'ascii only', n: [1, 2.5, null, true], nested: { s: 'layer.0.weight' } },
    { del: 'a\u007fb' }, { c1: 'a\u009bb' }, { bidi: 'a\u202eb' }, { lrm: '\u200e' }, { alm: '\u061c' },
  ];
  for (const doc of docs) {
    const text = JSON.stringify(doc, null, 2);
    assert.equal(escapeTerminalJson(text), escapeTerminal(text, true));
  }
  // A text without any of those characters is returned as it is.
  const plain = JSON.stringify(docs[2], null, 2);
  assert.equal(escapeTerminalJson(plain), plain);
});

test('writeJson writes through io.outJson when the sink has it, the same blocks io.out gets', () => {
  const doc = { file: 'm.onnx', layers: Array.from({ length: 30_000 }, (_, i) => ({ name: `blk.${i}\u202e`, op: 'MatMul', shape: [i, 4] })) };
  const viaOut: string[] = [];
  writeJson({ out: (t) => viaOut.push(t), err: () => undefined }, doc);
  const viaJson: string[] = [];
  writeJson({ out: () => assert.fail('io.out used beside io.outJson'), outJson: (t) => viaJson.push(t), err: () => undefined }, doc);
  assert.ok(viaJson.length > 1);
  assert.deepEqual(viaJson, viaOut);
});

test('jsonPieces of rows made on request (JsonRows): the text of JSON.stringify through its toJSON, pieces bounded by a run of values', () => {
  const make = (i: number): unknown => (i % 97 === 5 ? { big: Array.from({ length: 3000 }, (_, j) => j), i } : { i, name: `r${i}`, s: [i, i + 1] });
  const rows = {
    length: 5000,
    rows: (from: number, to: number): unknown[] => Array.from({ length: to - from }, (_, k) => make(from + k)),
    valuesAt: (i: number): number => (i % 97 === 5 ? 3003 : 6),
    toJSON(): unknown[] {
      return this.rows(0, this.length);
    },
  };
  for (const doc of [{ file: 'f', rows, after: [1] }, [[rows]], { empty: { ...rows, length: 0 } }]) {
    let longest = 0;
    const parts: string[] = [];
    for (const p of jsonPieces(doc)) {
      longest = Math.max(longest, p.length);
      parts.push(p);
    }
    assert.equal(parts.join(''), JSON.stringify(doc, null, 2));
    assert.ok(longest < 65_536, `longest piece ${longest} characters`);
    const calls: string[] = [];
    writeJson({ out: (t) => calls.push(t), err: () => undefined }, doc);
    assert.equal(calls.join('\n'), JSON.stringify(doc, null, 2));
  }
});
