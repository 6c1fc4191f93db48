/**
 * Names that are JavaScript object keys (issue 14): a tensor or layer called `constructor`, `__proto__`,
 * `toString`, `valueOf` (every Object.prototype member) must flow through inspect, estimate, sensitivity, plan and
 * export like any other name, in every format. Before model/dict.ts, estimate and plan died with internal errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { nameDict, own, setOwn } from '../../src/core';
import { buildGguf, kv } from '../fixtures/buildGguf';
import { encodeModel, f32Bytes, graph, model, node, rawTensor, value } from '../fixtures/buildOnnx';
import { buildSafetensors } from '../fixtures/buildSafetensors';
import { OP, TT, buildTflite, f32 } from '../fixtures/buildTflite';

const KEYS = Object.getOwnPropertyNames(Object.prototype);

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

const weights = (n: number): Uint8Array => f32Bytes(Array.from({ length: n }, (_, i) => Math.sin(i + 1)));

function files(): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  // ONNX: each key is a weight, a MatMul node and an intermediate value name.
  let x = 'X';
  const nodes = [];
  const inits = [];
  for (const k of KEYS) {
    inits.push(rawTensor(k, [8, 8], { raw: weights(64) }));
    nodes.push(node('MatMul', [x, k], [`${k}`], { name: k }));
    x = k;
  }
  nodes.push(node('Relu', [x], ['Y'], { name: 'relu' }));
  // Value names equal to initializer names are fine for the reader; give the MatMul outputs distinct names.
  const renamed = nodes.map((n, i) => (i < KEYS.length ? { ...n, output: [`${KEYS[i]}:out`], input: [i === 0 ? 'X' : `${KEYS[i - 1]}:out`, KEYS[i]] } : { ...n, input: [`${KEYS[KEYS.length - 1]}:out`] }));
  out['keys.onnx'] = encodeModel(model(graph(renamed, { initializers: inits, inputs: [value('X', 'FLOAT', [1, 8])], outputs: [value('Y', 'FLOAT', [1, 8])] }), { opset: 13 }));
  out['keys.safetensors'] = buildSafetensors(KEYS.flatMap((k) => [{ name: k, dtype: 'F32', shape: [8, 8] }, { name: `model.layers.0.${k}.weight`, dtype: 'F32', shape: [8, 8] }])).bytes;
  out['keys.gguf'] = buildGguf({ kvs: [kv.str('general.architecture', 'llama')], tensors: KEYS.flatMap((k) => [{ name: k, type: 0, dims: [8, 8] }, { name: `blk.0.${k}.weight`, type: 0, dims: [8, 8] }]) }).bytes;
  out['keys.tflite'] = buildTflite({
    opcodes: [{ builtin: OP.FULLY_CONNECTED }],
    subgraphs: [{
      name: 'constructor',
      tensors: [{ name: '__proto__', type: TT.FLOAT32, shape: [1, 4] }, ...KEYS.map((k) => ({ name: k, type: TT.FLOAT32, shape: [4, 4], data: f32(...Array.from({ length: 16 }, (_, i) => i / 7)) })), { name: 'valueOf:out', type: TT.FLOAT32, shape: [1, 4] }],
      inputs: [0],
      outputs: [KEYS.length + 1],
      operators: KEYS.map((_, i) => ({ opcode: 0, inputs: [0, i + 1], outputs: [KEYS.length + 1] })),
    }],
  }).bytes;
  return out;
}

test('safe dictionary accessors never return inherited members and store __proto__ as a key', () => {
  const plain: Record<string, string> = {};
  for (const k of KEYS) assert.equal(own(plain, k), undefined, k);
  setOwn(plain, '__proto__', 'int8');
  assert.equal(Object.getPrototypeOf(plain), Object.prototype);
  assert.equal(own(plain, '__proto__'), 'int8');
  assert.deepEqual(Object.keys(plain), ['__proto__']);
  const d = nameDict([['constructor', 1]]);
  assert.equal(d['toString'], undefined);
  assert.equal(own(d, 'constructor'), 1);
  // setOwn assigns every key but __proto__: each Object.prototype member name becomes an own, enumerable,
  // writable property of a plain and of a null-prototype dictionary, in insertion order, prototypes untouched.
  const names = [...KEYS, 'blk.0.attn_q.weight'];
  for (const dict of [{} as Record<string, string>, nameDict<string>()]) {
    const proto = Object.getPrototypeOf(dict) as unknown;
    names.forEach((k, i) => setOwn(dict, k, `f${i}`));
    setOwn(dict, names[0]!, 'again');
    assert.equal(Object.getPrototypeOf(dict), proto);
    assert.deepEqual(Object.keys(dict), names);
    names.forEach((k, i) => {
      assert.equal(own(dict, k), i === 0 ? 'again' : `f${i}`, k);
      assert.deepEqual(Object.getOwnPropertyDescriptor(dict, k), { value: i === 0 ? 'again' : `f${i}`, enumerable: true, writable: true, configurable: true }, k);
    });
  }
  assert.equal(typeof ({} as Record<string, unknown>)['toString'], 'function', 'Object.prototype is untouched');
});

test('tensor and layer names that are Object.prototype members work through inspect, estimate, sensitivity, plan and export in every format', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pl-keys-'));
  let plans = 0;
  try {
    for (const [name, bytes] of Object.entries(files())) {
      const f = path.join(dir, name);
      await fs.writeFile(f, bytes);
      const runs = [
        ['inspect', f, '--json'],
        ['estimate', f, '--target', 'rtx-4090', '--json'],
        ['sensitivity', f, '--json'],
        ['plan', f, '--target', 'rtx-4090', '--avg-bits', '12', '--no-verify', '-o', `${f}.plan.json`],
      ];
      for (const argv of runs) {
        const r = await cli(...argv);
        assert.ok(!/internal error|TypeError|RangeError/.test(r.err), `${argv.join(' ')}: ${r.err}`);
        assert.ok(r.code === 0 || (argv[0] === 'plan' && r.code === 2), `${argv.join(' ')}: exit ${r.code}: ${r.err}`);
      }
      const planned = await fs.readFile(`${f}.plan.json`, 'utf8').catch(() => undefined);
      if (planned === undefined) continue;
      plans++;
      for (const to of ['json', 'llama.cpp', 'ort']) {
        const r = await cli('export', `${f}.plan.json`, '--to', to);
        assert.ok(!/internal error|TypeError/.test(r.err), `export ${to} ${name}: ${r.err}`);
      }
      const est = await cli('estimate', f, '--target', 'rtx-4090', '--plan', `${f}.plan.json`, '--json');
      assert.equal(est.code, 0, `${name}: ${est.err}`);
    }
    assert.ok(plans >= 3, `only ${plans} plan(s) written`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
