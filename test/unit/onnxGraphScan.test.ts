/**
 * The WebAssembly scan of a graph's common fields (formats/onnx/graphScan.ts) reads exactly what the JavaScript walk
 * reads: the same report, nodes, value_info, tensors and layers — and on bad input the same error, message and
 * offset, since the scan stops before anything it does not read as the walk does. Compared on graph-heavy models
 * (plain, with attributes, non-ASCII, repeated and empty names, packed dims, unusual fields) and on seeded
 * mutations of them (truncations, byte flips) under default and tiny limits.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFAULT_LIMITS, inspectReport, MemoryByteSource, openModel, type Limits } from '../../src/core';
import { SCAN_MIN_GRAPH_BYTES, setGraphScan } from '../../src/core/formats/onnx/graphScan';
import { asciiHash, OnnxWireParser } from '../../src/core/formats/onnx/parse';
import { attr, encodeModel, graph, model, node, rawTensor, value } from '../fixtures/buildOnnx';

type Proto = Record<string, unknown>;

/** A chain of `n` nodes in the bench's shape (Mul/Add with a small weight, Relu, Identity), value_info for each. */
function build(n: number, variant: 'plain' | 'attributes' | 'unicode' | 'repeated' | 'unusual', attributeEvery = 8): Uint8Array {
  const nodes: Proto[] = [];
  const inits: Proto[] = [];
  const infos: Proto[] = [];
  let x = 'x';
  for (let i = 0; i < n; i++) {
    const op = ['Mul', 'Add', 'Relu', 'Identity'][i % 4]!;
    const inputs = [x];
    if (op === 'Mul' || op === 'Add') {
      const w = variant === 'unicode' && i % 7 === 0 ? `cé${i}` : `c${i}`;
      if (inits.length < n / 4) {
        const t = rawTensor(w, i % 3 === 0 ? [2, 4] : [8]);
        inits.push(variant === 'unusual' && i % 5 === 0 ? { ...t, doc_string: 'd', data_location: 0 } : t);
      }
      inputs.push(inits.length <= n / 4 ? w : `c${i % 10}`);
    }
    const out = `t${i}`;
    let name = `/block.${i >> 4}/${op}_${i}`;
    if (variant === 'unicode' && i % 3 === 0) name = `/blöck.${i >> 4}/${op}_${i}`;
    if (variant === 'repeated' && i % 5 === 0) name = i % 10 === 0 ? '' : `/block.${i >> 4}/Mul_1`;
    if (variant === 'unusual' && i % 6 === 0) name = `/block.${i >> 4}/`.padEnd(80, 'x') + i;
    const attributes = variant === 'attributes' && (attributeEvery === 8 ? op === 'Relu' && i % 8 === 2 : i % attributeEvery === 2) ? [attr('alpha', 'f', 0.5)] : [];
    const p = node(op, inputs, [out], { name, attributes });
    nodes.push(variant === 'unusual' && i % 4 === 1 ? { ...p, doc_string: 'why', domain: 'ai.onnx' } : p);
    const dims: (string | number | null)[] = variant === 'unusual' && i % 9 === 0 ? ['batch', -1, null] : ['batch', 8];
    infos.push(value(out, 'FLOAT', dims));
    x = out;
  }
  const g = graph(nodes, { name: 'graph-heavy', initializers: inits, inputs: [value('x', 'FLOAT', ['batch', 8])], outputs: [value(x, 'FLOAT', ['batch', 8])] });
  (g as Proto)['value_info'] = infos.slice(0, -1);
  return encodeModel(model(g, { opset: 17 }));
}

/** The model read by the JavaScript walk alone. */
async function openModelWalked(bytes: Uint8Array): Promise<Awaited<ReturnType<typeof openModel>>> {
  setGraphScan(false);
  try {
    return await openModel(new MemoryByteSource('g.onnx', bytes));
  } finally {
    setGraphScan(true);
  }
}

/** Everything a read gives (the report, the main graph's nodes and values, tensors), or its error. */
async function readAll(bytes: Uint8Array, limits: Limits | undefined, scan: boolean): Promise<string> {
  // Graphs of any size, scanned throughout (the defaults leave small ones to the JavaScript walk).
  setGraphScan(scan, 0, false);
  try {
    const m = await openModel(new MemoryByteSource('g.onnx', bytes), limits ? { limits } : {});
    const g = m.graphs[0]!;
    return JSON.stringify({ report: inspectReport(m), nodes: g.nodes, valueInfo: g.valueInfo, tensors: m.tensors, layers: m.layers });
  } catch (e) {
    return `error ${(e as Error).message} at ${String((e as { offset?: number }).offset)}`;
  } finally {
    setGraphScan(true);
  }
}

test('graph scan: graphs under SCAN_MIN_GRAPH_BYTES are left to the JavaScript walk by default', async () => {
  const bytes = build(40, 'plain');
  assert.ok(bytes.length < SCAN_MIN_GRAPH_BYTES);
  // Scanned rows cut their names and edges from one text per scan; walked rows keep a text per name and edge.
  const texts = async (): Promise<number> => (await new OnnxWireParser(new MemoryByteSource('g.onnx', bytes), DEFAULT_LIMITS, undefined).model()).graphs[0]!.nodes.texts.length;
  assert.ok((await texts()) > 80);
  setGraphScan(true, 0);
  try {
    assert.equal(await texts(), 1);
  } finally {
    setGraphScan(true);
  }
});

test('graph scan: a parser whose scans read little gives up scanning, with the same model', async () => {
  // Every fourth node has an attribute: each scan reads a few fields, the walk reads the node after it.
  const bytes = build(400, 'attributes', 4);
  const texts = async (): Promise<number> => (await new OnnxWireParser(new MemoryByteSource('g.onnx', bytes), DEFAULT_LIMITS, undefined).model()).graphs[0]!.nodes.texts.length;
  setGraphScan(true, 0, false);
  const throughout = await texts();
  setGraphScan(true, 0, true);
  const givingUp = await texts();
  setGraphScan(false);
  const walked = await texts();
  setGraphScan(true);
  assert.ok(throughout < givingUp && givingUp < walked, `${throughout} < ${givingUp} < ${walked}`);
  setGraphScan(true, 0, true);
  let scanned: string;
  try {
    scanned = JSON.stringify(inspectReport(await openModel(new MemoryByteSource('g.onnx', bytes))));
  } finally {
    setGraphScan(true);
  }
  assert.equal(scanned, JSON.stringify(inspectReport(await openModelWalked(bytes))));
});

test('graph scan: the same model as the JavaScript walk on graph-heavy models', async () => {
  for (const variant of ['plain', 'attributes', 'unicode', 'repeated', 'unusual'] as const) {
    const bytes = build(variant === 'plain' ? 3000 : 400, variant);
    const walked = await readAll(bytes, undefined, false);
    assert.ok(walked.startsWith('{'), `${variant}: ${walked.slice(0, 200)}`);
    assert.equal(await readAll(bytes, undefined, true), walked, variant);
  }
});

test('graph scan: the same model or error as the JavaScript walk on mutated models and tight limits', async () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const sources = (['plain', 'attributes', 'unicode', 'repeated', 'unusual'] as const).map((v) => build(120, v));
  let errors = 0;
  for (let i = 0; i < 600; i++) {
    const bytes = sources[i % sources.length]!.slice();
    const kind = rnd(4);
    let end = bytes.length;
    if (kind === 0) end = 1 + rnd(bytes.length - 1);
    else {
      for (let k = 1 + rnd(4); k > 0; k--) {
        const at = rnd(bytes.length);
        bytes[at] = kind === 1 ? rnd(256) : kind === 2 ? bytes[at]! ^ (1 << rnd(8)) : [0x80, 0xff, 0x00, 0x7f, 0x08, 0x0a, 0x12][rnd(7)]!;
      }
    }
    const limits: Limits | undefined = rnd(4) === 0
      ? { ...DEFAULT_LIMITS, maxNameBytes: 1 + rnd(24), maxRank: rnd(4), maxNodeCount: 1 + rnd(200), maxTensorCount: 1 + rnd(60), maxDisplayStringBytes: 1 + rnd(8) }
      : undefined;
    const input = bytes.subarray(0, end);
    const walked = await readAll(input, limits, false);
    if (walked.startsWith('error')) errors++;
    assert.equal(await readAll(input, limits, true), walked, `mutation ${i}`);
  }
  assert.ok(errors > 100 && errors < 600, `errors ${errors}: the mutations reach both good and bad input`);
});

test('graph scan: a scanned and a walked node of the same name are found alike (the scan hashes names as asciiHash does)', async () => {
  // Names of every length up to 24 (words and tail bytes); the scanned node has no attributes, the walked one has one.
  const chars = 'aZ09/._-:Mul_Add~';
  for (let length = 1; length <= 24; length++) {
    let name = '';
    for (let i = 0; i < length; i++) name += chars[(i * 7 + length) % chars.length]!;
    assert.equal(asciiHash(name), asciiHash(name.slice(0, length)));
    for (const same of [true, false]) {
      const nodes = [
        node('Relu', ['x'], ['a'], { name }),
        node('Relu', ['a'], ['b'], { name: 'other' }),
        node('LeakyRelu', ['b'], ['y'], { name: same ? name : `${name}!`, attributes: [attr('alpha', 'f', 0.5)] }),
      ];
      const bytes = encodeModel(model(graph(nodes, { inputs: [value('x', 'FLOAT', [1])], outputs: [value('y', 'FLOAT', [1])] }), { opset: 17 }));
      setGraphScan(true, 0, false);
      try {
        const table = (await new OnnxWireParser(new MemoryByteSource('g.onnx', bytes), DEFAULT_LIMITS, undefined).model()).graphs[0]!.nodes;
        assert.equal(table.texts.length, 4, 'two rows scanned (one text), one walked (its name, input and output)');
        assert.equal(table.distinctNames(), !same, `${name} (${length}), same ${same}`);
      } finally {
        setGraphScan(true);
      }
    }
  }
});

test('value_info: kept, decoded-when-read and empty entries come back in file order, walked or scanned', async () => {
  // A long dim_param makes an entry larger than the kept size (decoded when read); {} is an empty message.
  const long = 'd'.repeat(300);
  const infos: Proto[] = [value('a', 'FLOAT', ['batch', 8]), value('b', 'FLOAT', [long]), {}, value('c', 'INT64', [2]), {}, value('d', 'FLOAT', ['batch', 8])];
  const expected = [
    { name: 'a', dtype: 'float32', shape: ['batch', 8] },
    { name: 'b', dtype: 'float32', shape: [long] },
    { name: '', dtype: undefined, shape: undefined },
    { name: 'c', dtype: 'int64', shape: [2] },
    { name: '', dtype: undefined, shape: undefined },
    { name: 'd', dtype: 'float32', shape: ['batch', 8] },
  ];
  const g = graph([node('Relu', ['x'], ['y'], { name: 'r' })], { inputs: [value('x', 'FLOAT', [1])], outputs: [value('y', 'FLOAT', [1])] });
  const only = (v: Proto[]): Uint8Array => encodeModel(model({ ...g, value_info: v }, { opset: 17 }));
  for (const scan of [false, true]) {
    setGraphScan(scan, 0, false);
    try {
      for (const [list, want] of [[infos, expected], [[{}, {}], [expected[2], expected[2]]]] as const) {
        const m = await openModel(new MemoryByteSource('g.onnx', only([...list])));
        assert.deepEqual(m.graphs[0]!.valueInfo, want, `scan ${scan}, ${list.length} entries`);
      }
    } finally {
      setGraphScan(true);
    }
  }
});

test('value_info: 40,000 empty entries are kept alike, scanned or walked (a scan full of entries with no bytes, more after them)', async () => {
  // More entries than one scan keeps (graphScan.wat's VALUE_ENDS: 32,768), none with a byte: the room made for the rest
  // of the buffer is estimated from entries of size 0.
  const g = graph([node('Relu', ['x'], ['y'], { name: 'r' })], { inputs: [value('x', 'FLOAT', [1])], outputs: [value('y', 'FLOAT', [1])] });
  const bytes = encodeModel(model({ ...g, value_info: Array.from({ length: 40_000 }, () => ({})) }, { opset: 17 }));
  for (const scan of [false, true]) {
    setGraphScan(scan, 0, false);
    try {
      const values = (await openModel(new MemoryByteSource('g.onnx', bytes))).graphs[0]!.valueInfo;
      assert.equal(values.length, 40_000, `scan ${scan}`);
      assert.deepEqual(values[39_999], { name: '', dtype: undefined, shape: undefined });
    } finally {
      setGraphScan(true);
    }
  }
});
