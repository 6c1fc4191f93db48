/**
 * The WebAssembly scan of a graph's common fields (formats/onnx/graphScan.ts) reads exactly what the JavaScript walk
 * reads: the same report, nodes, value_info, tensors and layers — and on bad input the same error, message and
 * offset, since the scan stops before anything it does not read as the walk does. Compared on graph-heavy models
 * (plain, with attributes of every kind — packed and not, kept by the scan or left to the walk, Constant nodes —,
 * non-ASCII, repeated and empty names, packed dims, unusual fields) and on seeded mutations of them (truncations,
 * byte flips) under default and tiny limits.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DEFAULT_LIMITS, inspectReport, MemoryByteSource, openModel, type Limits } from '../../src/core';
import { SCAN_MIN_GRAPH_BYTES, setGraphScan } from '../../src/core/formats/onnx/graphScan';
import { asciiHash, decodeDeferredAttributes, OnnxWireParser, type RawAttribute, type RawGraph } from '../../src/core/formats/onnx/parse';
import { attr, encodeModel, graph, model, node, ProtoWriter, rawTensor, value } from '../fixtures/buildOnnx';

type Proto = Record<string, unknown>;

type Variant = 'plain' | 'attributes' | 'attributes-packed' | 'walked-attributes' | 'unicode' | 'repeated' | 'unusual';

/**
 * The attributes of node `i` in the 'attributes' variants: every plain kind the scan keeps (declared or not, big and
 * negative ints, NaN and infinite floats, lists longer than the walk keeps, empty lists, an unknown field) and some it
 * leaves to the walk (a tensor, a long name).
 */
function attributesOf(i: number): Proto[] {
  switch ((i >> 2) % 13) {
    case 0: return [attr('alpha', 'f', 0.5)];
    case 1: return [attr('axis', 'i', -1), attr('keepdims', 'i', 2 ** 40)];
    case 2: return [attr('mode', 's', 'constant-or-reflect'), attr('ratio', 'f', NaN)];
    case 3: return [attr('perm', 'ints', [0, 2, 1, 3])];
    case 4: return [attr('scales', 'floats', [1, 2.5, Infinity])];
    case 5: return [attr('names', 'strings', ['a', 'bé', '', 'a string of 21 bytes'])];
    case 6: return [attr('big', 'ints', Array.from({ length: 70 }, (_, k) => k * 1000))];
    case 11: return [attr('many', 'floats', Array.from({ length: 70 }, (_, k) => k / 8))];
    case 12: return [attr('labels', 'strings', Array.from({ length: 70 }, (_, k) => `l${k}`))];
    case 7: return [{ name: 'untyped', f: 0.25 }, attr('empty', 'ints', [])];
    case 8: return [attr('w', 't', rawTensor(`w${i}`, [2]))];
    case 9: return [attr('x'.repeat(70), 'i', 3)];
    default: return [attr('alpha', 'f', 0.5), { name: 'doc', i: 1, doc_string: 'why' }];
  }
}

/** A chain of `n` nodes in the bench's shape (Mul/Add with a small weight, Relu, Identity), value_info for each. */
function build(n: number, variant: Variant, attributeEvery = 8): Uint8Array {
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
    const withAttributes = variant === 'attributes' || variant === 'attributes-packed' || variant === 'walked-attributes';
    const attributes = withAttributes && (attributeEvery === 8 ? op === 'Relu' && i % 8 === 2 : i % attributeEvery === 2)
      ? variant === 'walked-attributes' ? [attr('w', 't', rawTensor(`w${i}`, [2]))] : attributesOf(i)
      : [];
    const p = node(op, inputs, [out], { name, attributes });
    nodes.push(variant === 'unusual' && i % 4 === 1 ? { ...p, doc_string: 'why', domain: 'ai.onnx' } : p);
    // Constant nodes hold their value in an attribute (a tensor of the model): the scan reads a `value` tensor, the
    // walk the others (value_float…, a value in the ai.onnx domain).
    if (withAttributes && i % 25 === 3) {
      const k = (i - 3) / 25;
      const constant = [
        attr('value_float', 'f', 1.5), attr('value_ints', 'ints', [1, 2]), attr('value', 't', rawTensor('', [2], { type: 'INT64', raw: new Uint8Array(16) })),
        attr('value', 't', rawTensor(`kt${i}`, [3])),
      ][k % 4]!;
      nodes.push(node('Constant', [], [k % 8 === 7 ? '' : `k${i}`], { attributes: [constant], ...(k % 8 === 6 ? { domain: 'ai.onnx' } : {}) }));
    }
    const dims: (string | number | null)[] = variant === 'unusual' && i % 9 === 0 ? ['batch', -1, null] : ['batch', 8];
    infos.push(value(out, 'FLOAT', dims));
    x = out;
  }
  const g = graph(nodes, { name: 'graph-heavy', initializers: inits, inputs: [value('x', 'FLOAT', ['batch', 8])], outputs: [value(x, 'FLOAT', ['batch', 8])] });
  (g as Proto)['value_info'] = infos.slice(0, -1);
  return encodeModel(model(g, { opset: 17 }), { packed: variant === 'attributes-packed' });
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

/** The parse's node count, ops and every node's attributes (decoded, their stored values' offsets left out), or its error. */
async function attributesRead(bytes: Uint8Array, limits: Limits, scan: boolean): Promise<string> {
  setGraphScan(scan, 0, false);
  try {
    const g = (await new OnnxWireParser(new MemoryByteSource('g.onnx', bytes), limits, undefined).model()).graphs[0];
    if (!g) return 'no graph';
    const rows: (readonly RawAttribute[] | undefined)[] = [];
    for (const [row, a] of g.nodeAttributes) rows[row] = a;
    decodeDeferredAttributes(g, 'g.onnx', limits).forEach((a, k) => (rows[g.deferredAttributes.row(k)] = a));
    const ops = Array.from({ length: g.nodes.length }, (_, i) => g.nodes.op(i));
    return JSON.stringify({ nodes: g.nodes.length, ops, rows }, (k, v: unknown) => (k === 'fOffset' || k === 'iChunk' || k === 'chunk' ? undefined : v));
  } catch (e) {
    return `error ${(e as Error).message} at ${String((e as { offset?: number }).offset)}`;
  } finally {
    setGraphScan(true);
  }
}

/** The main graph as parsed with the scan throughout, or undefined when the parse fails. */
async function scannedGraph(bytes: Uint8Array, limits: Limits): Promise<RawGraph | undefined> {
  setGraphScan(true, 0, false);
  try {
    return (await new OnnxWireParser(new MemoryByteSource('g.onnx', bytes), limits, undefined).model().catch(() => undefined))?.graphs[0];
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
  // Every fourth node has an attribute the scan leaves to the walk (a tensor): each scan reads a few fields, the walk
  // reads the node after it.
  const bytes = build(400, 'walked-attributes', 4);
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
  for (const variant of ['plain', 'attributes', 'attributes-packed', 'walked-attributes', 'unicode', 'repeated', 'unusual'] as const) {
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
    return (seed >>> 8) % n; // the high bits: the low ones of this generator repeat with short periods
  };
  const sources = (['plain', 'attributes', 'attributes-packed', 'unicode', 'repeated', 'unusual'] as const).map((v) => build(120, v, v === 'plain' ? 8 : 4));
  let errors = 0;
  for (let i = 0; i < 900; i++) {
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
    // Tiny limits everywhere, or limits that only attribute values reach (op types and names stay within them).
    const mode = rnd(8);
    const limits: Limits | undefined = mode < 2
      ? { ...DEFAULT_LIMITS, maxNameBytes: 1 + rnd(24), maxRank: rnd(4), maxNodeCount: 1 + rnd(200), maxTensorCount: 1 + rnd(60), maxDisplayStringBytes: 1 + rnd(8) }
      : mode < 4 ? { ...DEFAULT_LIMITS, maxStringBytes: 8 + rnd(16), maxArrayLength: rnd(80) }
      : undefined;
    const input = bytes.subarray(0, end);
    const walked = await readAll(input, limits, false);
    if (walked.startsWith('error')) errors++;
    assert.equal(await readAll(input, limits, true), walked, `mutation ${i}`);
  }
  assert.ok(errors > 150 && errors < 900, `errors ${errors}: the mutations reach both good and bad input`);
});

test('graph scan: the same model or error as the JavaScript walk with any byte of attribute-heavy nodes set to an edge value', async () => {
  // Every byte of two nodes holding each plain kind (packed lists and not) set to each of a few edge values.
  const attributes = [attr('alpha', 'f', 0.5), attr('axis', 'i', -1), attr('mode', 's', 'edge'), attr('perm', 'ints', [0, 300, 1]), attr('scales', 'floats', [1, 2.5]), attr('names', 'strings', ['a', 'bc'])];
  const limits = { ...DEFAULT_LIMITS, maxArrayLength: 3, maxStringBytes: 16 };
  for (const packed of [false, true]) {
    const nodes = [node('Relu', ['x'], ['a'], { name: 'r', attributes }), node('Relu', ['a'], ['y'], { name: 's', attributes: attributes.slice(3) })];
    const good = encodeModel(model(graph(nodes, { inputs: [value('x', 'FLOAT', [1])], outputs: [value('y', 'FLOAT', [1])] }), { opset: 17 }), { packed });
    assert.ok((await attributesRead(good, limits, true)).startsWith('{"nodes":2,'));
    // The first node's message (key and length, then its input 'x': 0a 01 78), every byte of it.
    let body = 0;
    while (!(good[body] === 0x0a && good[body + 1] === 0x01 && good[body + 2] === 0x78)) body++;
    // Its length: one byte, or two (low 7 bits first).
    const twoBytes = good[body - 2]! >= 0x80;
    const first = body - (twoBytes ? 3 : 2);
    const last = body + (twoBytes ? (good[body - 2]! & 0x7f) + (good[body - 1]! << 7) : good[body - 1]!);
    assert.ok(good[first] === 0x0a && last - first > 80 && last < good.length, `node at ${first}…${last}`);
    let errors = 0;
    for (let at = first; at < last; at++) {
      for (const v of [0x00, 0x05, 0x42, 0x80, 0xff]) {
        if (good[at] === v) continue;
        const bytes = good.slice();
        bytes[at] = v;
        const walked = await attributesRead(bytes, limits, false);
        if (walked.startsWith('error')) errors++;
        assert.equal(await attributesRead(bytes, limits, true), walked, `byte ${at} = ${v}, packed ${packed}`);
      }
    }
    assert.ok(errors > 100, `errors ${errors}`);
  }
});

test('graph scan: hand-written attributes at and past every check the walk makes are read alike, scanned or walked', async () => {
  const w = (): ProtoWriter => new ProtoWriter();
  const text = (v: string): Uint8Array => new TextEncoder().encode(v);
  const f32 = (n: number): Uint8Array => new Uint8Array(new Float32Array(n).fill(1.5).buffer);
  // AttributeProto fields: name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9, doc_string 13, type 20, ref_attr_name 21.
  const named = (): ProtoWriter => w().message(1, text('a'));
  const cases: [string, Uint8Array][] = [
    ['f', named().key(2, 5).bytes(f32(1)).finish()],
    ['f as a varint', named().key(2, 0).varint(1).finish()],
    // Read as 4 bytes of a float, the varint and the next field would leave a valid field after them.
    ['f as a varint, fields after it', named().key(2, 0).varint(1).key(3, 0).varint(130).key(3, 0).varint(5).finish()],
    ['f cut short', named().key(2, 5).bytes([0, 0]).finish()],
    ['i', named().key(3, 0).varint(2n ** 63n + 5n).finish()],
    ['i of 11 bytes', named().key(3, 0).bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).finish()],
    ['i length-delimited', named().message(3, text('x')).finish()],
    ['type large', named().key(20, 0).varint(2 ** 40).finish()],
    ['type negative', named().key(20, 0).varint(2n ** 64n - 3n).finish()],
    ['name as a varint', w().key(1, 0).varint(3).finish()],
    ['name of 64 bytes', w().message(1, text('n'.repeat(64))).finish()],
    ['name of 65 bytes', w().message(1, text('n'.repeat(65))).finish()],
    ['s', named().message(4, text('abcd')).finish()],
    ['s of 5 bytes', named().message(4, text('abcde')).finish()],
    ['s as a fixed32', named().key(4, 5).bytes([1, 2, 3, 4]).finish()],
    ['floats packed, 5 bytes', named().message(7, new Uint8Array(5)).finish()],
    ['floats packed, 3', named().message(7, f32(3)).finish()],
    ['floats packed, 2', named().message(7, f32(2)).finish()],
    ['floats, 3 fields', named().key(7, 5).bytes(f32(1)).key(7, 5).bytes(f32(1)).key(7, 5).bytes(f32(1)).finish()],
    ['floats as varints', named().key(7, 0).varint(1).finish()],
    ['ints packed, 3', named().message(8, Uint8Array.of(1, 0x80, 0x01, 2)).finish()],
    ['ints packed, ending inside a varint', named().message(8, Uint8Array.of(1, 0x80)).finish()],
    ['ints packed, a varint of 11 bytes', named().message(8, Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).finish()],
    ['ints, 3 fields', named().key(8, 0).varint(1).key(8, 0).varint(2).key(8, 0).varint(3).finish()],
    ['ints as a fixed32', named().key(8, 5).bytes([1, 2, 3, 4]).finish()],
    ['strings, 2', named().message(9, text('a')).message(9, text('b')).finish()],
    ['strings, 3', named().message(9, text('a')).message(9, text('b')).message(9, text('c')).finish()],
    ['strings of 5 bytes', named().message(9, text('abcde')).finish()],
    ['strings as a varint', named().key(9, 0).varint(1).finish()],
    ['doc_string as a varint', named().key(13, 0).varint(1).finish()],
    ['ref_attr_name', named().message(21, text('r')).finish()],
    ['ref_attr_name of 5 bytes', named().message(21, text('abcde')).finish()],
    ['an unknown fixed64 cut short', named().key(99, 1).bytes([1, 2, 3]).finish()],
    ['field 0', named().key(0, 0).varint(1).finish()],
    ['wire type 3', named().key(5, 3).finish()],
    ['a length past the attribute', named().lying(4, 9, text('ab')).finish()],
  ];
  // ModelProto: ir_version 1, graph 7 (node 1: input 1, output 2, name 3, op_type 4, attribute 5, domain 7; name 2), opset_import 8.
  const modelOf = (attribute: Uint8Array, op: string, domain: string): Uint8Array => {
    const n = w().message(1, text('x')).message(2, text('y')).message(3, text('n')).message(4, text(op)).message(5, attribute).message(5, named().key(2, 5).bytes(f32(1)).finish());
    if (domain) n.message(7, text(domain));
    return w().key(1, 0).varint(8).message(7, w().message(1, n).message(2, text('g'))).message(8, w().key(2, 0).varint(17)).finish();
  };
  // Each node has two attributes: maxNodeCount 1 also bounds a node's attributes to 1.
  const limits = [DEFAULT_LIMITS, { ...DEFAULT_LIMITS, maxArrayLength: 2, maxStringBytes: 4 }, { ...DEFAULT_LIMITS, maxNameBytes: 10 }, { ...DEFAULT_LIMITS, maxNodeCount: 1 }];
  let scannedCases = 0;
  let errors = 0;
  for (const [what, attribute] of cases) {
    for (const [op, domain] of [['Relu', ''], ['Constant', ''], ['Constant', 'custom']] as const) {
      for (const l of limits) {
        const bytes = modelOf(attribute, op, domain);
        const walked = await attributesRead(bytes, l, false);
        if (walked.startsWith('error')) errors++;
        assert.equal(await attributesRead(bytes, l, true), walked, `${what}, ${op} ${domain}, limits ${limits.indexOf(l)}`);
        if (((await scannedGraph(bytes, l))?.deferredAttributes.nodeCount ?? 0) > 0) scannedCases++;
      }
    }
  }
  // Cases both read, and ones the walk refuses; of those read, the scan kept plain ones of nodes that are no Constant.
  assert.ok(errors > 40 && scannedCases > 20, `errors ${errors}, scanned ${scannedCases}`);

  // A Constant node's one attribute holding a tensor (TensorProto: dims 1, data_type 2, float_data 4, name 8, raw_data
  // 9, external_data 13, data_location 14): the scan reads a plain `value` one as an initializer; the report, nodes and
  // tensors are the walk's.
  const tensor = (n: number, more?: (t: ProtoWriter) => ProtoWriter): Uint8Array => {
    const t = w().key(1, 0).varint(n).key(2, 0).varint(1).message(9, f32(n));
    return (more ? more(t) : t).finish();
  };
  const valueOf = (t: Uint8Array, name = 'value'): ProtoWriter => w().message(1, text(name)).message(5, t);
  const constantCases: [string, Uint8Array][] = [
    ['value', valueOf(tensor(2)).key(20, 0).varint(4).finish()],
    ['value, no type', valueOf(tensor(3)).finish()],
    ['value, type 0', valueOf(tensor(3)).key(20, 0).varint(0).finish()],
    ['value, type FLOAT', valueOf(tensor(3)).key(20, 0).varint(1).finish()],
    ['value named', valueOf(tensor(2, (t) => t.message(8, text('held')))).finish()],
    ['value with a doc_string', valueOf(tensor(2)).message(13, text('why')).finish()],
    ['value of the wrong size', valueOf(w().key(1, 0).varint(3).key(2, 0).varint(1).message(9, f32(2)).finish()).finish()],
    ['value with float_data', valueOf(w().key(1, 0).varint(1).key(2, 0).varint(1).key(4, 5).bytes(f32(1)).finish()).finish()],
    ['value external', valueOf(tensor(2, (t) => t.key(14, 0).varint(1))).finish()],
    ['value of an unknown type', valueOf(w().key(1, 0).varint(1).key(2, 0).varint(999).finish()).finish()],
    ['value twice', valueOf(tensor(2)).message(5, tensor(2)).finish()],
    ['value and f', valueOf(tensor(2)).key(2, 5).bytes(f32(1)).finish()],
    ['valuf', valueOf(tensor(2), 'valuf').finish()],
    ['value as a varint', w().message(1, text('value')).key(5, 0).varint(1).finish()],
    ['value cut short', w().message(1, text('value')).lying(5, 40, tensor(1)).finish()],
  ];
  const constantModel = (attribute: Uint8Array, domain: string, output: string, extra: boolean): Uint8Array => {
    const n = w().message(2, text(output)).message(3, text('k')).message(4, text('Constant')).message(5, attribute);
    if (extra) n.message(5, w().message(1, text('extra')).key(2, 5).bytes(f32(1)).finish());
    if (domain) n.message(7, text(domain));
    const relu = w().message(1, text('x')).message(2, text('y')).message(3, text('r')).message(4, text('Relu'));
    return w().key(1, 0).varint(8).message(7, w().message(1, relu).message(1, n).message(2, text('g'))).message(8, w().key(2, 0).varint(17)).finish();
  };
  let scannedConstants = 0;
  errors = 0;
  for (const [what, attribute] of constantCases) {
    for (const [domain, output, extra] of [['', 'k0', false], ['ai.onnx', 'k0', false], ['custom', 'k0', false], ['', '', false], ['', 'k0', true]] as const) {
      for (const l of [DEFAULT_LIMITS, { ...DEFAULT_LIMITS, maxTensorCount: 0 }]) {
        const bytes = constantModel(attribute, domain, output, extra);
        const walked = await readAll(bytes, l, false);
        if (walked.startsWith('error')) errors++;
        assert.equal(await readAll(bytes, l, true), walked, `${what}, domain '${domain}', output '${output}', extra ${extra}, limits ${l.maxTensorCount}`);
        if (((await scannedGraph(bytes, l))?.constants.size ?? 0) > 0) scannedConstants++;
      }
    }
  }
  assert.ok(errors > 10 && scannedConstants > 10, `errors ${errors}, scanned ${scannedConstants}`);
});

test('graph scan: a decoder\'s head counts come from its attention nodes\' attributes alike, kept by the scan or walked', async () => {
  // past_key_values inputs make the reader look for num_heads / kv_num_heads in the node attributes, in node order:
  // the first node holding them is walked (a tensor attribute) in one model and kept by the scan in the other.
  for (const firstWalked of [false, true]) {
    const heads = [attr('num_heads', 'i', 4), attr('kv_num_heads', 'i', 2)];
    const nodes = [
      node('Relu', ['x'], ['a'], { name: 'r', attributes: [attr('alpha', 'f', 0.5)] }),
      node('GroupQueryAttention', ['a', 'past_key_values.0.key'], ['b'], { domain: 'com.microsoft', attributes: firstWalked ? [...heads, attr('w', 't', rawTensor('w', [1]))] : heads }),
      node('GroupQueryAttention', ['b'], ['y'], { domain: 'com.microsoft', attributes: [attr('num_heads', 'i', 8), attr('kv_num_heads', 'i', 8)] }),
    ];
    const inputs = [value('x', 'FLOAT', [1, 8]), value('past_key_values.0.key', 'FLOAT', [1, 2, 'past', 16]), value('past_key_values.0.value', 'FLOAT', [1, 2, 'past', 16])];
    const bytes = encodeModel(model(graph(nodes, { inputs, outputs: [value('y', 'FLOAT', [1, 8])] }), { opset: 17 }));
    const read = async (scan: boolean): Promise<unknown> => {
      setGraphScan(scan, 0, false);
      try {
        return (await openModel(new MemoryByteSource('g.onnx', bytes))).hyperparameters;
      } finally {
        setGraphScan(true);
      }
    };
    const walked = await read(false);
    assert.deepEqual(walked, { blockCount: 1, source: 'onnx past_key_values inputs', headCount: 4, kvHeadCount: 2, headDim: 16 });
    assert.deepEqual(await read(true), walked, `first walked ${firstWalked}`);
  }
});

test('graph scan: a scanned and a walked node of the same name are found alike (the scan hashes names as asciiHash does)', async () => {
  // Names of every length up to 24 (words and tail bytes); the scanned node has no attributes, the walked one has one
  // the scan leaves to the walk (a tensor).
  const chars = 'aZ09/._-:Mul_Add~';
  for (let length = 1; length <= 24; length++) {
    let name = '';
    for (let i = 0; i < length; i++) name += chars[(i * 7 + length) % chars.length]!;
    assert.equal(asciiHash(name), asciiHash(name.slice(0, length)));
    for (const same of [true, false]) {
      const nodes = [
        node('Relu', ['x'], ['a'], { name }),
        node('Relu', ['a'], ['b'], { name: 'other' }),
        node('LeakyRelu', ['b'], ['y'], { name: same ? name : `${name}!`, attributes: [attr('w', 't', rawTensor('w', [1]))] }),
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

test('graph scan: plain attributes are kept as their bytes, decoded when the nodes are read; others and Constant nodes are walked', async () => {
  for (const packed of [false, true]) {
    const bytes = build(400, packed ? 'attributes-packed' : 'attributes', 4);
    const parse = async (): Promise<RawGraph> => (await new OnnxWireParser(new MemoryByteSource('g.onnx', bytes), DEFAULT_LIMITS, undefined).model()).graphs[0]!;
    setGraphScan(true, 0, false);
    let scanned: RawGraph;
    try {
      scanned = await parse();
    } finally {
      setGraphScan(false);
    }
    let walked: RawGraph;
    try {
      walked = await parse();
    } finally {
      setGraphScan(true);
    }
    assert.equal(walked.deferredAttributes.nodeCount, 0);
    // Of the 100 nodes with attributes, the 15 with a tensor or a long name are walked; of the 16 Constant nodes, the
    // 6 holding a `value` tensor in the default domain are read by the scan, the 10 others walked.
    assert.equal(scanned.deferredAttributes.nodeCount, 85, `packed ${packed}`);
    assert.equal(scanned.nodeAttributes.size, 25);
    assert.equal(walked.nodeAttributes.size, 116);
    const constants = [...scanned.nodeAttributes.keys()].filter((k) => scanned.nodes.op(k) === 'Constant');
    assert.equal(constants.length, 10);
    assert.equal(scanned.constants.size, 6);
    assert.equal(walked.constants.size, 0);
    for (const [row, t] of scanned.constants) {
      const w = walked.nodeAttributes.get(row)![0]!.t!;
      const raw = w.data.raw_data!;
      assert.deepEqual([t.offset, t.name, t.dims, t.dataType, t.dataLocation, t.rawOffset, t.rawLength], [w.offset, w.name, w.dims, w.dataType, w.dataLocation, raw.chunks[0]!.offset, raw.byteLength], `constant at ${row}`);
    }
    // The same attributes; their stored values' offsets are in the kept bytes, not the file (only a Constant's are read).
    const values = (list: readonly RawAttribute[] | undefined): unknown => JSON.parse(JSON.stringify(list, (k, v: unknown) => (k === 'fOffset' || k === 'iChunk' || k === 'chunk' ? undefined : v)));
    const decoded = decodeDeferredAttributes(scanned, 'g.onnx', DEFAULT_LIMITS);
    assert.equal(decoded.length, 85);
    for (let k = 0; k < decoded.length; k++) assert.deepEqual(values(decoded[k]), values(walked.nodeAttributes.get(scanned.deferredAttributes.row(k))), `row ${scanned.deferredAttributes.row(k)}`);
  }
});

test('graph scan: node names sharing a hash are compared, not taken for the same name', async () => {
  // Two names with one asciiHash / $nameHash (found by search), among others; then one of them repeated.
  const [a, b] = ['/block.841/Mul_13456', '/block.1911/Mul_30590'];
  assert.equal(asciiHash(a), asciiHash(b));
  for (const [second, distinct] of [[b, true], [a, false]] as const) {
    const nodes = [node('Relu', ['x'], ['p'], { name: a }), node('Relu', ['p'], ['q'], { name: 'other' }), node('Relu', ['q'], ['y'], { name: second })];
    const bytes = encodeModel(model(graph(nodes, { inputs: [value('x', 'FLOAT', [1])], outputs: [value('y', 'FLOAT', [1])] }), { opset: 17 }));
    setGraphScan(true, 0, false);
    try {
      const table = (await new OnnxWireParser(new MemoryByteSource('g.onnx', bytes), DEFAULT_LIMITS, undefined).model()).graphs[0]!.nodes;
      assert.equal(table.distinctNames(), distinct, second);
    } finally {
      setGraphScan(true);
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
