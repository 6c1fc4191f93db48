/**
 * Long unpacked attribute lists (proto2's encoding of repeated numbers, as tree-ensemble exporters write them: one
 * field per value) are read in runs (formats/onnx/parse.ts `attribute`, WireCursor.sameKey) across the reader's page
 * boundaries: the same counts and kept values as protobufjs decodes, and the list limit met at the value past it.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import * as protobuf from 'protobufjs';
import { DEFAULT_LIMITS, MemoryByteSource, type Limits } from '../../src/core';
import { setGraphScan } from '../../src/core/formats/onnx/graphScan';
import { ATTRIBUTE_VALUES_KEPT, OnnxWireParser, type RawAttribute } from '../../src/core/formats/onnx/parse';
import schema from '../../src/core/formats/onnx/gen/onnx.schema.json';
import { attr, encodeModel, graph, model, node, ProtoWriter, value, type Proto } from '../fixtures/buildOnnx';

const N = 6000;
const LISTS = {
  ints: attr('nodes_featureids', 'ints', Array.from({ length: N }, (_, k) => (k % 3 === 0 ? k * 1_000_003 : k % 3 === 1 ? -k : k))),
  floats: attr('nodes_values', 'floats', Array.from({ length: N }, (_, k) => k / 7)),
  strings: attr('nodes_modes', 'strings', Array.from({ length: N }, (_, k) => `s${k}`)),
};

function treeModel(attributes: Proto[]): Uint8Array {
  return encodeModel(model(graph([node('TreeEnsembleRegressor', ['x'], ['y'], { domain: 'ai.onnx.ml', attributes })], { inputs: [value('x', 'FLOAT', [1, 4])], outputs: [value('y', 'FLOAT', [1, 1])] }), { opset: 17 }));
}

/** The node's attributes as the JavaScript walk reads them (a node of more than a few KiB is walked in pages: runs meet page ends). */
async function attributes(bytes: Uint8Array, limits: Limits): Promise<RawAttribute[]> {
  setGraphScan(false);
  try {
    return (await new OnnxWireParser(new MemoryByteSource('t.onnx', bytes), limits, undefined).model()).graphs[0]!.nodeAttributes.get(0)!;
  } finally {
    setGraphScan(true);
  }
}

test('attribute lists: unpacked runs of ints, floats and strings read as protobufjs decodes them', async () => {
  const bytes = treeModel([LISTS.ints, LISTS.floats, LISTS.strings]);
  assert.ok(bytes.length > 64 * 1024, `${bytes.length} bytes: more than the reader's first pages`);
  const type = protobuf.Root.fromJSON((schema as unknown as { descriptor: protobuf.INamespace }).descriptor).lookupType('onnx.ModelProto');
  const decoded = type.toObject(type.decode(bytes), { longs: Number }) as { graph: { node: { attribute: { ints?: number[]; floats?: number[]; strings?: Uint8Array[] }[] }[] } };
  const [i, f, s] = decoded.graph.node[0]!.attribute;
  const [ai, af, as] = await attributes(bytes, DEFAULT_LIMITS);
  assert.equal(ai!.ints!.count, N);
  assert.deepEqual(ai!.ints!.values, i!.ints!.slice(0, ATTRIBUTE_VALUES_KEPT));
  assert.equal(af!.floats!.count, N);
  assert.deepEqual(af!.floats!.values, f!.floats!.slice(0, ATTRIBUTE_VALUES_KEPT));
  assert.equal(as!.strings!.count, N);
  assert.deepEqual(as!.strings!.values, s!.strings!.slice(0, ATTRIBUTE_VALUES_KEPT).map((b) => Buffer.from(b).toString()));
});

test('attribute lists: a list one longer than maxArrayLength fails at the key of its last value', async () => {
  for (const [kind, what, key] of [['ints', 'integers', 0x40], ['floats', 'floats', 0x3d], ['strings', 'strings', 0x4a]] as const) {
    const bytes = treeModel([LISTS[kind]]);
    const error = await attributes(bytes, { ...DEFAULT_LIMITS, maxArrayLength: N - 1 }).then(() => undefined, (e: Error & { offset?: number }) => e);
    assert.ok(error, kind);
    assert.match(error.message, new RegExp(`more than ${N - 1} ${what}`));
    const at = error.offset!;
    assert.equal(bytes[at], key, `${kind}: the error's offset ${at} is a key of the list`);
    // It is the N-th key of the list: count the keys before it (each a key byte, then the value).
    let p = bytes.indexOf(key);
    let n = 0;
    while (p < at) {
      n++;
      p++;
      if (kind === 'floats') p += 4;
      else if (kind === 'strings') p += 1 + bytes[p]!;
      else {
        while (bytes[p]! & 0x80) p++;
        p++;
      }
    }
    assert.equal(p, at, kind);
    assert.equal(n, N - 1, `${kind}: values before the failing one`);
  }
});

test('attribute lists: a bad value past the values kept is refused where it lies (a varint of 11 bytes, one cut short)', async () => {
  // AttributeProto: name 1, ints 8 (unpacked: key 0x40, a varint each), strings 9. Node: input 1, output 2, op_type 4,
  // attribute 5. Model: ir_version 1, graph 7 (node 1), opset_import 8.
  const text = (v: string): Uint8Array => new TextEncoder().encode(v);
  const w = (): ProtoWriter => new ProtoWriter();
  const modelWith = (attribute: ProtoWriter): Uint8Array => {
    const n = w().message(1, text('x')).message(2, text('y')).message(4, text('TreeEnsembleRegressor')).message(5, attribute);
    return w().key(1, 0).varint(8).message(7, w().message(1, n)).message(8, w().key(2, 0).varint(17)).finish();
  };
  const ints = (): ProtoWriter => {
    const a = w().message(1, text('nodes_featureids'));
    for (let k = 0; k < 100; k++) a.key(8, 0).varint(k * 300);
    return a;
  };
  const long = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
  for (const [what, attribute, message] of [
    ['a varint of 11 bytes', ints().key(8, 0).bytes(long).key(8, 0).varint(1), /longer than 10 bytes/],
    ['a varint cut short at the end of the attribute', ints().key(8, 0).bytes([0x80, 0x80]), /runs past the end of its message/],
    ['a string past the end of the attribute', (() => {
      const a = w().message(1, text('nodes_modes'));
      for (let k = 0; k < 100; k++) a.message(9, text(`m${k}`));
      return a.key(9, 2).varint(9).bytes(text('ab'));
    })(), /declares 9 bytes but only 2 remain/],
  ] as const) {
    const bytes = modelWith(attribute);
    const error = await attributes(bytes, DEFAULT_LIMITS).then(() => undefined, (e: Error) => e);
    assert.ok(error, what);
    assert.match(error.message, message, what);
  }
});
