import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignmentWeightBytes, getNumberFormat, ggufWrittenLayerFormat, groupLayers, layerTensors, type FuseOptions, type Layer, type LayerGroup, type LayerRole, type Model, type TensorInfo } from '../../src/core';
import { rng } from '../fixtures/planModel';
import { layerWeights, weightFields } from '../../src/core';
import { repeatedNameOwners } from '../../src/core/model/layerPositions';
import { ggufWrittenLayerFormatAt } from '../../src/core/plan/ggufFallback';
import { tensorBytesIn } from '../../src/core/plan/solver';

/**
 * The grouping as it was computed before it ran on layer numbers: union-find over Maps keyed by layer name. The
 * typed-array version must give the same groups (keys, members, order, reasons) on any model, including layer names
 * listed twice, a layer named '', tensors shared by layers and tensor names listed twice with different ranks.
 */
function referenceGroups(model: Model, fuse: FuseOptions): { key: string; layers: string[]; reason: LayerGroup['reason'] }[] {
  const layers = model.layers.filter((l) => layerWeights(l).length > 0 && l.byteLength > 0);
  const parent = new Map<string, string>(layers.map((l) => [l.name, l.name]));
  const reason = new Map<string, LayerGroup['reason']>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const union = (a: string, b: string, why: LayerGroup['reason']): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return;
    parent.set(rb, ra);
    reason.set(ra, reason.get(ra) ?? why);
  };
  const byKey = (key: (l: Layer) => string | undefined, why: LayerGroup['reason']): void => {
    const first = new Map<string, string>();
    for (const l of layers) {
      const k = key(l);
      if (k === undefined) continue;
      const f = first.get(k);
      if (f) union(f, l.name, why);
      else first.set(k, l.name);
    }
  };
  const tensorOwner = new Map<string, string>();
  const rank = new Map(model.tensors.map((t) => [t.name, t.shape.length]));
  for (const l of layers)
    layerWeights(l).forEach((w, i) => {
      if (i > 0 && (rank.get(w) ?? 0) < 2) return;
      const o = tensorOwner.get(w);
      if (o) union(o, l.name, 'shared-tensor');
      else tensorOwner.set(w, l.name);
    });
  const scope = (l: Layer): string => `${l.block}|${l.expert ?? ''}`;
  if (fuse.qkv === true) byKey((l) => (l.block !== undefined && ['attention_q', 'attention_k', 'attention_v'].includes(l.role) ? `qkv|${scope(l)}` : undefined), 'qkv');
  if (fuse.gateUp !== false) byKey((l) => (l.block !== undefined && ['ffn_gate', 'ffn_up'].includes(l.role) ? `gu|${scope(l)}` : undefined), 'gate-up');
  if (fuse.experts !== false)
    byKey((l) => (l.role === 'expert' || l.expert !== undefined ? `ex|${l.block}|${l.name.replace(/(^|[._])(experts?)([._])\d+(?=[._]|$)/g, '$1$2$3*')}` : undefined), 'experts');
  const groups = new Map<string, string[]>();
  for (const l of layers) {
    const r = find(l.name);
    const g = groups.get(r);
    if (g) g.push(l.name);
    else groups.set(r, [l.name]);
  }
  return [...groups.entries()].map(([key, ls]) => ({ key, layers: ls, reason: ls.length > 1 ? (reason.get(key) ?? 'shared-tensor') : 'single' }));
}

const ROLES: LayerRole[] = ['attention_q', 'attention_k', 'attention_v', 'attention_o', 'ffn_gate', 'ffn_up', 'ffn_down', 'expert', 'norm', 'linear'];

/** A random model: blocks of roles, experts, shared tensors, repeated and empty layer names, repeated tensor names. */
function randomModel(seed: number): Model {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const tensors: TensorInfo[] = [];
  const tensor = (name: string, shape: number[]): string => {
    tensors.push({ name, dtype: 'float32', shape, elementCount: shape.reduce((a, b) => a * b, 1), byteLength: 4 * shape.reduce((a, b) => a * b, 1), file: undefined, byteOffset: 0, encoding: 'raw', origin: 'initializer' });
    return name;
  };
  const layers: Layer[] = [];
  const n = 20 + Math.floor(r() * 60);
  for (let i = 0; i < n; i++) {
    const block = r() < 0.8 ? Math.floor(r() * 4) : undefined;
    const role = pick(ROLES);
    const expert = role === 'expert' || r() < 0.1 ? Math.floor(r() * 3) : undefined;
    let name = role === 'expert' ? `blk.${block}.experts.${expert}.w${i % 3}` : `blk.${block}.${role}.${i}`;
    if (r() < 0.08 && layers.length) name = pick(layers).name; // a name listed twice
    if (r() < 0.03) name = '';
    const weights: string[] = [];
    if (r() < 0.15 && tensors.length) weights.push(pick(tensors).name); // tied to another layer's tensor
    else weights.push(tensor(`${name}#${i}.weight`, [8, 4]));
    if (r() < 0.4) weights.push(r() < 0.2 && tensors.length ? pick(tensors).name : tensor(`${name}#${i}.bias`, r() < 0.3 ? [8, 2] : [8]));
    if (r() < 0.05) tensor(`${name}#${i}.weight`, [8]); // the same tensor name again, another rank
    const bytes = r() < 0.05 ? 0 : 128;
    layers.push({ name, op: 'MatMul', role, block, expert, ...weightFields(r() < 0.03 ? [] : weights), parameterCount: 32, byteLength: bytes, dtype: 'float32', shape: [8, 4], quantizable: true, inputs: [], outputs: [] });
  }
  return {
    format: 'onnx', fileName: 'random.onnx', files: [{ path: 'random.onnx', byteLength: 1 }], totalFileBytes: 1, formatVersion: 8, producer: 'test', hyperparameters: {}, metadata: {},
    tensors, layers, graphs: [], parameterCount: 0, tensorCount: tensors.length, nodeCount: layers.length, weightBytes: 0, warnings: [],
  };
}

test('groupLayers on layer numbers equals the former name-keyed grouping on random models', () => {
  let fused = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const model = randomModel(seed);
    for (const fuse of [{}, { qkv: true }, { gateUp: false, experts: false }] as FuseOptions[]) {
      const got = groupLayers(model, fuse).map((g) => ({ key: g.key, layers: g.layers.map((l) => l.name), reason: g.reason }));
      assert.deepEqual(got, referenceGroups(model, fuse), `seed ${seed} ${JSON.stringify(fuse)}`);
      fused += got.filter((g) => g.layers.length > 1).length;
    }
  }
  assert.ok(fused > 500, `${fused} fused groups`);
});

test('layerTensors: each tensor under its first layer, main weight first, and the bytes of tensors outside layers', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const model = randomModel(seed);
    const { byLayer, outsideBytes } = layerTensors(model);
    const first = new Map<string, TensorInfo>();
    for (const t of model.tensors) if (!first.has(t.name)) first.set(t.name, t);
    const owned = new Set<string>();
    const expected = new Map<string, { tensor: TensorInfo; isMain: boolean }[]>();
    for (const l of model.layers) {
      const list: { tensor: TensorInfo; isMain: boolean }[] = [];
      layerWeights(l).forEach((w, i) => {
        const t = first.get(w);
        if (!t || owned.has(w)) return;
        owned.add(w);
        list.push({ tensor: t, isMain: i === 0 });
      });
      expected.set(l.name, list);
    }
    assert.deepEqual(byLayer, expected, `seed ${seed}`);
    assert.equal(outsideBytes, [...first.values()].filter((t) => !owned.has(t.name)).reduce((a, t) => a + t.byteLength, 0));
  }
});

test('by layer position: the planner\'s columns answer what the name-keyed views answer, with and without repeated names', () => {
  const ids = ['keep', 'fp16', 'int8', 'int4', 'q4_k', 'q8_0', 'nope'];
  let repeated = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const drawn = randomModel(seed);
    // The drawn model (some names repeat) and the same layers under unique names, each as ONNX and as GGUF.
    const unique: Model = { ...drawn, layers: drawn.layers.map((l, i) => ({ ...l, name: `${l.name}~${i}` })) };
    for (const base of [drawn, unique]) {
      for (const format of ['onnx', 'gguf'] as const) {
        const model: Model = { ...base, format };
        const owners = repeatedNameOwners(model);
        const last = new Map(model.layers.map((l, i) => [l.name, i]));
        if (last.size === model.layers.length) assert.equal(owners, undefined, `seed ${seed}: unique names`);
        else {
          repeated++;
          assert.deepEqual([...owners!], model.layers.map((l) => last.get(l.name)), `seed ${seed}: owners`);
        }
        // Weight bytes of an assignment, summed over the name-keyed lists (one per name) as before the columns.
        const r = rng(seed);
        const assignment: Record<string, string> = {};
        for (const l of model.layers) if (r() < 0.9) assignment[l.name] = ids[Math.floor(r() * ids.length)]!;
        let want = 0;
        for (const [name, list] of layerTensors(model).byLayer) {
          const id = Object.prototype.hasOwnProperty.call(assignment, name) ? assignment[name] : undefined;
          const f = id === undefined || id === 'keep' ? 'keep' : (getNumberFormat(id) ?? 'keep');
          for (const t of list) want += tensorBytesIn(t.tensor, f, t.isMain);
        }
        assert.equal(assignmentWeightBytes(model, assignment), want, `seed ${seed} ${format}: weight bytes`);
        for (const id of ids) model.layers.forEach((l, i) => assert.equal(ggufWrittenLayerFormatAt(model, i, id), ggufWrittenLayerFormat(model, l.name, id), `seed ${seed} ${format} ${l.name} ${id}`));
      }
    }
  }
  assert.ok(repeated > 20, `${repeated} models with repeated names`);
});
