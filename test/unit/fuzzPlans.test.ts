/**
 * Seeded, structure-aware mutation of plan and target files (issue 14). A valid plan and a valid targets file are
 * parsed to a value tree, then mutated where structure lives: values swapped for huge, negative, fractional, wrong
 * typed or very long ones; keys renamed to JavaScript object keys (`__proto__`, `constructor`, …) or duplicated;
 * layer names replaced by object keys; nesting inflated; the text truncated or padded with brackets. Every case
 * goes through the whole plan workflow — parsePlan → checkPlan → resolvePlanAssignment → estimate — and targets
 * through parseUserTargets → estimate. Each must succeed or fail with a coded error, quickly.
 *
 * Env: FUZZ_PLAN_ITERATIONS (default 1500 plans + 1500 target files), FUZZ_SEED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EstimateError, ModelFormatError, buildPlan, checkPlan, estimate, getTarget, parsePlan, parseUserTargets, resolvePlanAssignment,
  seededRandom, serializePlan, type Model,
} from '../../src/core';
import { tinyTransformer } from '../fixtures/planModel';

const ITERATIONS = Number(process.env.FUZZ_PLAN_ITERATIONS ?? 1500);
const SEED = Number(process.env.FUZZ_SEED ?? 20240601);
const MAX_CASE_MS = 1000;
const KEYS = [...Object.getOwnPropertyNames(Object.prototype), 'prototype', 'then'];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A structure-aware mutation of `doc` (returns the new text and what was done). */
function mutate(doc: Json, seed: number, layerNames: readonly string[]): { text: string; what: string } {
  const rnd = seededRandom(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  // Every container and its keys/indices, found iteratively.
  const slots: { parent: Json[] | Record<string, Json>; key: string | number }[] = [];
  const stack: Json[] = [copy];
  while (stack.length) {
    const v = stack.pop()!;
    if (Array.isArray(v)) v.forEach((c, i) => { slots.push({ parent: v, key: i }); stack.push(c); });
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) { slots.push({ parent: v, key: k }); stack.push(v[k]!); }
  }
  const values: Json[] = [2 ** 53, -1, 1e308, -0, 0.5, Number.MAX_SAFE_INTEGER + 2, '', 'x'.repeat(200_000), 'a\u0000b', '\u001b[2J', true, null, [], {}, pick(KEYS), pick(layerNames), 'int4', 'fp8_e4m3', 'keep', '24GB', '1e400'];
  const ops = int(8);
  let what = '';
  let text: string | undefined;
  const slot = slots.length ? pick(slots) : undefined;
  const set = (v: Json): void => {
    if (slot) (slot.parent as Record<string | number, Json>)[slot.key] = v;
  };
  switch (ops) {
    case 0: { const v = pick(values); set(v); what = `value ${String(slot?.key)} := ${JSON.stringify(v)?.slice(0, 30)}`; break; }
    case 1: {
      // Rename a key to an object key (defined as an own property, as a hostile JSON text would).
      if (slot && !Array.isArray(slot.parent)) {
        const obj = slot.parent;
        const k = pick(KEYS);
        Object.defineProperty(obj, k, { value: obj[slot.key as string]!, enumerable: true, writable: true, configurable: true });
        delete obj[slot.key as string];
        what = `key ${String(slot.key)} → ${k}`;
      }
      break;
    }
    case 2: {
      // Layer names that are object keys, or repeated entries.
      const layers = (copy as { layers?: Json[] }).layers;
      if (Array.isArray(layers)) {
        const n = 1 + int(4);
        for (let i = 0; i < n; i++) layers.push({ layer: rnd() < 0.5 ? pick(KEYS) : pick(layerNames), format: pick(['int8', 'int4', 'fp16', 'keep', pick(KEYS)]), ...(rnd() < 0.3 ? { pinned: true } : {}) });
        what = `${n} layer entries with object-key names`;
      } else { set(pick(KEYS)); what = 'object-key value'; }
      break;
    }
    case 3: { const depth = 1 + int(200); let v: Json = 1; for (let i = 0; i < depth; i++) v = rnd() < 0.5 ? [v] : { [pick(KEYS)]: v }; set(v); what = `nest ${depth} deep`; break; }
    case 4: { const n = int(5000); set(Array.from({ length: n }, () => pick([...values.slice(0, 7), ...values.slice(8, 12)]))); what = `array of ${n}`; break; }
    case 5: { const t = JSON.stringify(copy); text = t.slice(0, int(t.length)); what = 'truncated'; break; }
    case 6: { const t = JSON.stringify(copy); const at = int(t.length); const n = int(3) === 0 ? 100_000 : int(50); text = t.slice(0, at) + '['.repeat(n) + t.slice(at); what = `${n} brackets at ${at}`; break; }
    default: { const t = JSON.stringify(copy); const at = int(t.length); text = `${t.slice(0, at)}"__proto__":{"version":2},${t.slice(at)}`; what = `raw __proto__ key at ${at}`; }
  }
  return { text: text ?? JSON.stringify(copy, null, 1), what };
}

const expected = (e: unknown): boolean => e instanceof ModelFormatError || e instanceof EstimateError;

function validPlan(model: Model): string {
  const assignment: Record<string, string> = {};
  model.layers.forEach((l, i) => { if (l.quantizable) assignment[l.name] = i % 2 ? 'int4' : 'int8'; });
  return serializePlan(buildPlan({ model, fingerprint: `pl1:${'0'.repeat(64)}`, target: 'rtx-4090', budget: { avgBits: 6 }, context: 512, batch: 1, kvFormat: 'fp16', assignment }));
}

test('mutated plan files go through parse, check, resolve and estimate without crashing', () => {
  const model = tinyTransformer(2, 32, 64);
  const target = getTarget('rtx-4090')!;
  const base = JSON.parse(validPlan(model)) as Json;
  const names = model.layers.map((l) => l.name);
  const failures: string[] = [];
  let accepted = 0;
  const t0 = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const { text, what } = mutate(base, SEED + i, names);
    const start = performance.now();
    try {
      const parsed = parsePlan(text, 'p.json');
      const diags = checkPlan(parsed, { model, targetKnown: true });
      if (parsed.plan && !diags.some((d) => d.severity === 'error')) {
        const assignment = resolvePlanAssignment(parsed.plan, model);
        estimate(model, target, { assignment, context: 512 });
        accepted++;
      }
    } catch (e) {
      if (!expected(e)) failures.push(`seed ${SEED + i} (${what}): ${e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 200) : String(e)}`);
    }
    const ms = performance.now() - start;
    if (ms > MAX_CASE_MS) failures.push(`seed ${SEED + i} (${what}): ${ms.toFixed(0)} ms`);
  }
  console.log(`plan fuzz: ${ITERATIONS} cases, ${accepted} accepted and estimated, ${failures.length} failures in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.deepEqual(failures.slice(0, 20), []);
  assert.ok(accepted > 0, 'some mutations must stay valid plans');
});

test('mutated target files go through parseUserTargets and estimate without crashing', () => {
  const model = tinyTransformer(2, 32, 64);
  const base: Json = { targets: [{ id: 'my-gpu', name: 'My GPU', extends: 'rtx-4090', memoryGiB: 20, memoryBandwidthGBps: 900, throughputTFLOPS: { fp16: 150, int8: 300 }, native: ['fp16', 'int8'] }, { id: 'edge', name: 'Edge box', kind: 'edge', memoryGiB: 8, memoryBandwidthGBps: 60, throughputTFLOPS: { fp16: 10 }, native: ['fp16'] }] };
  const failures: string[] = [];
  let accepted = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const { text, what } = mutate(base, SEED + 1_000_000 + i, KEYS);
    const start = performance.now();
    try {
      for (const t of parseUserTargets(text, 't.json')) {
        estimate(model, t, { context: 512 });
        assert.equal(Object.getPrototypeOf(t), Object.prototype, `seed ${SEED + 1_000_000 + i}: a target's prototype was replaced`);
      }
      accepted++;
    } catch (e) {
      if (!expected(e)) failures.push(`seed ${SEED + 1_000_000 + i} (${what}): ${e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 200) : String(e)}`);
    }
    const ms = performance.now() - start;
    if (ms > MAX_CASE_MS) failures.push(`seed ${SEED + 1_000_000 + i} (${what}): ${ms.toFixed(0)} ms`);
  }
  console.log(`target fuzz: ${ITERATIONS} cases, ${accepted} accepted and estimated, ${failures.length} failures`);
  assert.deepEqual(failures.slice(0, 20), []);
  assert.ok(accepted > 0);
});
