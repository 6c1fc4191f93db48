import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parameterBreakdown, tensorParts, type Model, type ParameterPart } from '../../src/core';
import { rng, tinyTransformer } from '../fixtures/planModel';

test('parameterBreakdown reads each tensor\'s part by name, whatever order the parts are listed in (model order is only a shortcut)', () => {
  const base = tinyTransformer(3, 64, 128, { experts: 4 });
  // A repeated tensor name and a tensor no part lists, too.
  const model: Model = { ...base, tensors: [...base.tensors, { ...base.tensors[2]!, elementCount: 777 }, { ...base.tensors[0]!, name: 'unlisted', elementCount: 55 }] };
  const r = rng(9);
  const kinds: ParameterPart[] = ['text', 'mtp', 'vision', 'audio'];
  const parts = new Map([...tensorParts(model)].filter(([name]) => name !== 'unlisted').map(([name]) => [name, kinds[Math.floor(r() * 4)]!] as const));
  const want = parameterBreakdown(model, parts);
  assert.ok(want.vision > 0 && want.mtp > 0 && want.text > 0, 'the parts differ between tensors');
  const entries = [...parts];
  const orders = [entries.slice().reverse(), entries.slice(1).concat(entries.slice(0, 1)), entries.slice().sort(() => r() - 0.5), entries.filter((_, i) => i % 3 !== 1)];
  for (const order of orders.slice(0, 3)) assert.deepEqual(parameterBreakdown(model, new Map(order)), want);
  // Missing names count as text, in any order.
  const fewer = new Map(orders[3]);
  const text = model.tensors.filter((t) => !fewer.has(t.name) || fewer.get(t.name) === 'text').reduce((a, t) => a + t.elementCount, 0);
  assert.equal(parameterBreakdown(model, fewer).text, text);
  assert.deepEqual(parameterBreakdown(model, new Map([...fewer].reverse())), parameterBreakdown(model, fewer));
  assert.deepEqual(parameterBreakdown(base), parameterBreakdown(base, new Map([...tensorParts(base)].reverse())));
});
